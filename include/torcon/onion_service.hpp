// v3 onion services through a Controller: ephemeral services (ADD_ONION /
// DEL_ONION) with client authorization, "make sure this key's service
// exists" without `550 Onion address collision`, readiness (the descriptor
// reached an HSDir), the client side of authorization (ONION_CLIENT_AUTH_*),
// and descriptor fetch/post for load balancers (HSFETCH, HSPOST).
//
//   torcon::OnionServiceSpec spec;
//   spec.ports = {{80, "127.0.0.1:8080"}};
//   torcon::OnionReadyWatch ready(ctl, reactor, {}, [](const torcon::Status& s) { ... });
//   torcon::add_onion_service(ctl, spec, [&](const torcon::Expected<torcon::OnionServiceInfo>& r) {
//     if (r) ready.set_address(r->address);       // r->private_key: keep it to reuse the address
//   });
//
// Every function checks its input before anything is sent: a bad port, key,
// address or name completes the callback with Errc::bad_argument and the
// control stream never sees it. Callbacks run on the reactor's loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/command.hpp"
#include "torcon/controller.hpp"
#include "torcon/expected.hpp"
#include "torcon/export.hpp"
#include "torcon/reactor.hpp"

namespace torcon {

/// One virtual port and where tor connects for it. target: "" (the same port
/// on 127.0.0.1), "PORT", "HOST:PORT" ("[v6]:PORT" too) or "unix:/abs/path".
struct TORCON_API OnionPort {
  std::uint32_t virtual_port = 0;  ///< 1-65535
  std::string target;  ///< where tor connects (see above); "" for 127.0.0.1:virtual_port
};

/// What add_onion_service() and ensure_onion_service() ask tor for.
struct TORCON_API OnionServiceSpec {
  /// "" : tor makes a new key. Else tor's ED25519-V3 blob (new_onion_key(),
  /// or the private_key an earlier service returned), "ED25519-V3:" optional.
  std::string key;
  std::vector<OnionPort> ports;  ///< at least one
  /// Client authorization: base32 x25519 public keys (ClientAuthKeys::
  /// public_base32). Non-empty turns on Flags=V3Auth.
  std::vector<std::string> client_keys;
  bool discard_key = false;    ///< DiscardPK: tor does not return the new key
  bool detach = false;         ///< Detach: outlives this control connection
  bool non_anonymous = false;  ///< NonAnonymous: tor must run HiddenServiceSingleHopMode
  bool max_streams_close_circuit = false;    ///< MaxStreamsCloseCircuit
  std::optional<std::uint32_t> max_streams;  ///< MaxStreams (0-65535; 0 = unlimited)
};

/// The service tor runs (ADD_ONION's reply).
struct TORCON_API OnionServiceInfo {
  std::string service_id;  ///< 56 base32 characters
  std::string address;     ///< service_id + ".onion"
  /// `ED25519-V3:<base64>`: the key tor made, or the one given; "" with
  /// discard_key.
  std::string private_key;
};
/// Gets the service, or why there is none.
using OnionServiceCallback = std::function<void(const Expected<OnionServiceInfo>&)>;

/// The ADD_ONION command for `spec`, or why it is refused.
TORCON_API Expected<Command> add_onion_command(const OnionServiceSpec& spec);

/// ADD_ONION. Tor's refusals come as Errc::tor_error with its status and text
/// (550 collision: the key's service already exists — see
/// ensure_onion_service).
TORCON_API void add_onion_service(Controller& ctl, const OnionServiceSpec& spec,
                                  OnionServiceCallback cb, const CommandOptions& options = {});

/// Makes sure the service of spec.key (required) runs with exactly `spec`:
/// asks GETINFO onions/current and onions/detached, removes the key's
/// service if tor still has it (DEL_ONION), then ADD_ONION. Use it after a
/// reconnect or restart, and to change the client roster or ports.
TORCON_API void ensure_onion_service(Controller& ctl, const OnionServiceSpec& spec,
                                     OnionServiceCallback cb, const CommandOptions& options = {});

/// DEL_ONION (address with or without ".onion").
TORCON_API void remove_onion_service(Controller& ctl, std::string_view address, StatusCallback cb,
                                     const CommandOptions& options = {});

/// Services tor reports for this connection (onions/current) and detached
/// ones (onions/detached), as service IDs.
struct TORCON_API OnionServiceList {
  std::vector<std::string> current;   ///< onions/current: this connection's services
  std::vector<std::string> detached;  ///< onions/detached: services that outlive their connection
};
/// GETINFO onions/current and onions/detached.
TORCON_API void list_onion_services(Controller& ctl,
                                    std::function<void(const Expected<OnionServiceList>&)> cb,
                                    const CommandOptions& options = {});

/// Coroutine form of add_onion_service() (inside a torcon::Task), resumed
/// with the result. Bad input resumes at once with Errc::bad_argument.
TORCON_API Controller::Awaiter<Expected<OnionServiceInfo>> co_add_onion_service(
    Controller& ctl, OnionServiceSpec spec, CommandOptions options = {});
/// Coroutine form of ensure_onion_service(); bad input resumes at once with
/// Errc::bad_argument.
TORCON_API Controller::Awaiter<Expected<OnionServiceInfo>> co_ensure_onion_service(
    Controller& ctl, OnionServiceSpec spec, CommandOptions options = {});
/// Coroutine form of remove_onion_service(); bad input resumes at once with
/// Errc::bad_argument.
TORCON_API Controller::Awaiter<Status> co_remove_onion_service(Controller& ctl, std::string address,
                                                               CommandOptions options = {});

// ---- readiness ------------------------------------------------------------

/// HS_DESC events counted for one service's descriptor.
struct TORCON_API OnionUploadProgress {
  int attempted = 0;  ///< HS_DESC UPLOAD for this address
  int uploaded = 0;   ///< HS_DESC UPLOADED for this address
  int failed = 0;     ///< HS_DESC FAILED for this address
};

/// When an OnionReadyWatch calls the service ready, and how long it waits.
struct TORCON_API OnionReadyOptions {
  /// false: ready at the first HSDir that took the descriptor. true: ready
  /// once every attempted upload succeeded; any failure fails it.
  bool all_hsdirs = false;
  std::chrono::milliseconds timeout = std::chrono::minutes(3);  ///< then Errc::timeout
  std::function<void(const OnionUploadProgress&)> progress;     ///< after each counted event
};

/// Waits for the descriptor of one service to be uploaded. Create it before
/// ADD_ONION, on a controller whose connect() has completed (it subscribes to
/// HS_DESC at once, and SETEVENTS then goes out ahead of ADD_ONION, so no
/// event is missed; while authenticating, the Controller would send the
/// queued ADD_ONION first), and
/// give it the address with set_address() when known; events for addresses
/// seen before then are counted for when it arrives. `done` runs at most once:
/// ok when ready; Errc::timeout (always armed: a lost connection ends there
/// too); Errc::tor_error when every attempted upload failed (any mode, after
/// a second's grace for the rest of the round), when one failed
/// (all_hsdirs), or when tor refused SETEVENTS HS_DESC. It never
/// runs after destruction. Callers that don't wait simply don't create one:
/// nothing is subscribed for them. The Controller and Reactor must outlive it.
class TORCON_API OnionReadyWatch {
 public:
  /// Subscribes to HS_DESC and arms the timeout; `done` may be empty (use
  /// co_ready()).
  OnionReadyWatch(Controller& ctl, Reactor& reactor, OnionReadyOptions options,
                  StatusCallback done);
  ~OnionReadyWatch();
  OnionReadyWatch(const OnionReadyWatch&) = delete;
  OnionReadyWatch& operator=(const OnionReadyWatch&) = delete;

  /// With or without ".onion". An invalid address finishes with bad_argument.
  void set_address(std::string_view address);
  /// The coroutine form of `done` (construct with an empty one): resumes with
  /// the outcome, at once if it is already known. Destroying the watch while
  /// a coroutine waits leaves that coroutine suspended, as `done` never runs.
  ///
  ///     torcon::OnionReadyWatch w(ctl, reactor, {}, {});
  ///     auto info = co_await torcon::co_add_onion_service(ctl, spec);
  ///     if (info) { w.set_address(info->address); Status s = co_await w.co_ready(); }
  Controller::Awaiter<Status> co_ready();
  /// The uploads counted so far for the address (kept after the outcome).
  OnionUploadProgress progress() const;
  /// The outcome is known (`done` has run or is due).
  bool finished() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// ---- client side ----------------------------------------------------------

/// One client-side credential tor holds (ONION_CLIENT_AUTH_VIEW's CLIENT line).
struct TORCON_API OnionClientAuth {
  std::string service_id;          ///< without ".onion"
  std::string private_key;         ///< as tor shows it: base64 x25519 secret
  std::string key_type;            ///< "x25519"
  std::string client_name;         ///< "" when none
  std::vector<std::string> flags;  ///< e.g. "Permanent"
};

/// `ONION_CLIENT_AUTH_ADD address x25519:<key> [ClientName=] [Flags=Permanent]`.
/// private_key: base32 or base64, "x25519:" optional. client_name: "" or
/// 1-19 letters and digits. Tor's 251 (replaced) and 252 are successes.
TORCON_API void onion_client_auth_add(Controller& ctl, std::string_view address,
                                      std::string_view private_key, std::string_view client_name,
                                      bool permanent, StatusCallback cb,
                                      const CommandOptions& options = {});
/// ONION_CLIENT_AUTH_REMOVE: forgets the credential for `address` (with or
/// without ".onion").
TORCON_API void onion_client_auth_remove(Controller& ctl, std::string_view address,
                                         StatusCallback cb, const CommandOptions& options = {});
/// ONION_CLIENT_AUTH_VIEW: the credentials tor holds for `address`; address
/// "" : every credential.
TORCON_API void onion_client_auth_view(
    Controller& ctl, std::string_view address,
    std::function<void(const Expected<std::vector<OnionClientAuth>>&)> cb,
    const CommandOptions& options = {});
/// Coroutine form of onion_client_auth_add().
TORCON_API Controller::Awaiter<Status> co_onion_client_auth_add(
    Controller& ctl, std::string address, std::string private_key, std::string client_name,
    bool permanent, CommandOptions options = {});
/// Coroutine form of onion_client_auth_remove().
TORCON_API Controller::Awaiter<Status> co_onion_client_auth_remove(Controller& ctl,
                                                                   std::string address,
                                                                   CommandOptions options = {});
/// The CLIENT lines of an ONION_CLIENT_AUTH_VIEW reply (for tests and tools).
TORCON_API Expected<std::vector<OnionClientAuth>> parse_client_auth_view(const Reply& reply);

// ---- descriptors (load balancers) -----------------------------------------

/// A service's descriptor as an HSDir served it (OnionDescriptorFetch).
struct TORCON_API OnionDescriptor {
  std::string service_id;  ///< 56 base32 characters, without ".onion"
  std::string hs_dir;      ///< as tor named it in HS_DESC_CONTENT
  std::string descriptor;  ///< the text, LF line ends
};

/// HSFETCH address [SERVER=...]: `cb` gets the first descriptor tor receives
/// for it (HS_DESC RECEIVED + HS_DESC_CONTENT), Errc::tor_error when every
/// fetch failed (HS_DESC FAILED, with tor's REASON), Errc::timeout, or
/// Errc::disconnected at once when the connection ends first (the fetch's
/// events would not come, even after a reconnection).
/// servers: HSDir fingerprints ("$" optional) or LongNames; empty lets tor
/// choose. Destroying it cancels (cb never runs then). The Controller and
/// Reactor must outlive it.
class TORCON_API OnionDescriptorFetch {
 public:
  /// Subscribes to HS_DESC and HS_DESC_CONTENT, then sends HSFETCH for
  /// `address` (with or without ".onion"); `timeout` bounds the whole fetch.
  /// A bad address or server completes `cb` with Errc::bad_argument from
  /// inside the constructor, and nothing is sent.
  OnionDescriptorFetch(Controller& ctl, Reactor& reactor, std::string_view address,
                       std::vector<std::string> servers, std::chrono::milliseconds timeout,
                       std::function<void(const Expected<OnionDescriptor>&)> cb);
  ~OnionDescriptorFetch();
  OnionDescriptorFetch(const OnionDescriptorFetch&) = delete;
  OnionDescriptorFetch& operator=(const OnionDescriptorFetch&) = delete;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

/// +HSPOST [SERVER=...] HSADDRESS=address, the descriptor as the data block.
/// The address is required: tor 0.4.9 sends no reply to an HSPOST without
/// one, which would shift every later reply on the connection. Tor's 250
/// means "queued"; whether the HSDir took it comes as HS_DESC UPLOADED or
/// FAILED (UPLOAD_REJECTED for one it already has).
TORCON_API Expected<Command> hspost_command(std::string_view descriptor, std::string_view address,
                                            const std::vector<std::string>& servers);
/// Sends hspost_command(); `cb` gets tor's answer (ok: queued), or
/// Errc::bad_argument before anything is sent.
TORCON_API void hspost(Controller& ctl, std::string_view descriptor, std::string_view address,
                       const std::vector<std::string>& servers, StatusCallback cb,
                       const CommandOptions& options = {});

}  // namespace torcon
