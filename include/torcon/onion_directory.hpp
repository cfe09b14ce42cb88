// v3 onion services whose keys tor keeps in a directory (HiddenServiceDir),
// configured through TorConfig: unlike ephemeral services (ADD_ONION), they
// are part of tor's configuration, survive a restart when written to the
// torrc (TorConfig::write_torrc), and keep their address as long as the
// directory keeps its key.
//
//   torcon::OnionDirectorySpec web;
//   web.directory = "onion/web";                  // made absolute: $PWD/onion/web
//   web.ports = {{80, "127.0.0.1:8080"}};
//   torcon::OnionReadyWatch ready(ctl, reactor, {}, on_ready);   // optional
//   torcon::add_onion_directory(cfg, web, {}, [&](const torcon::Expected<std::string>& a) {
//     if (a) ready.set_address(*a);               // "<56 base32>.onion", from <dir>/hostname
//   });
//
// The directory. Tor resolves a relative HiddenServiceDir against its own
// working directory, which the caller neither knows nor controls (a tor
// started elsewhere, or by a service manager, runs in "/"). So relative
// directories are made absolute here against the *caller's* working
// directory, before anything is staged: what tor is told and where the
// hostname is read from are then the same place. Reading the hostname (and
// writing client entries) needs tor's filesystem to be this process's: tor on
// this host, as the same user or with access to the directory.
//
// Client authorization. A service with clients serves only them: tor reads
// one `<dir>/authorized_clients/<name>.auth` file per client
// (`descriptor:x25519:<base32 public key>`). add_onion_directory() writes
// those files before tor is told, creating the directories with mode 0700
// (tor refuses a HiddenServiceDir others may read); files of clients no longer
// listed are removed, so the roster is exactly the spec's.
//
// Atomic. add/remove stage one HiddenServiceOptions change (the whole list
// of services, as tor takes it) and save it with one SETCONF: tor applies
// all or none, and on tor's refusal TorConfig's cache is unchanged and the
// error carries tor's text. A service already in tor's configuration with
// the same directory is replaced, not doubled.
//
// Input is checked before anything is staged or sent (Errc::bad_argument):
// ports 1-65535 and targets as OnionPort describes, directories and client
// names without control bytes, quotes or backslashes (tor would read escapes
// in them), client keys of the right form.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/config_group.hpp"
#include "torcon/controller.hpp"
#include "torcon/expected.hpp"
#include "torcon/export.hpp"
#include "torcon/onion_service.hpp"
#include "torcon/reactor.hpp"
#include "torcon/tor_config.hpp"

namespace torcon {

/// One authorized client of a directory service.
struct TORCON_API OnionDirectoryClient {
  std::string name;  ///< the file's name: 1-64 letters, digits, '-' and '_'
  /// base32 x25519 public key (ClientAuthKeys::public_base32).
  std::string public_key;
};

/// A v3 onion service kept in a directory (one HiddenServiceOptions group).
struct TORCON_API OnionDirectorySpec {
  /// Where tor keeps the keys and writes `hostname`; relative: to the
  /// caller's working directory (see the top of onion_directory.hpp).
  std::string directory;
  std::vector<OnionPort> ports;  ///< at least one (HiddenServicePort lines)
  /// Non-empty: only these clients can reach the service.
  std::vector<OnionDirectoryClient> clients;
};

/// How add_onion_directory() waits for the address.
struct TORCON_API OnionDirectoryOptions {
  /// How long tor has to write `<dir>/hostname` after accepting the
  /// configuration; then Errc::timeout.
  std::chrono::milliseconds hostname_timeout = std::chrono::seconds(10);
  /// The per-call deadline of each command sent (the GETCONF that reads
  /// HiddenServiceOptions when it is not cached yet, and the SETCONF), as for
  /// every typed helper (see controller.hpp).
  CommandOptions command;
};

/// `directory` made absolute against the caller's working directory and
/// normalised ("a/./b/../c" -> "$PWD/a/c", no trailing '/'). Errc::bad_argument
/// for "", control bytes, quotes or backslashes.
TORCON_API Expected<std::string> absolute_onion_directory(std::string_view directory);

/// The group tor is told for `spec`: HiddenServiceDir (absolute),
/// HiddenServicePort per port ("VIRT [TARGET]"), HiddenServiceVersion 3.
/// Checks every field (including client names and keys).
TORCON_API Expected<ConfigGroup> onion_directory_group(const OnionDirectorySpec& spec);

/// Stages `spec`'s group in `cfg` (replacing a service with the same
/// directory, else appended): save() then sends it with any other staged
/// change, in one SETCONF. Writes no client files (see
/// write_onion_directory_clients()). Errc::bad_argument when `cfg` has not
/// read HiddenServiceOptions (load() or fetch() it) or has a change to it
/// staged already (save or discard that first).
TORCON_API Status stage_onion_directory(TorConfig& cfg, const OnionDirectorySpec& spec);

/// Stages the removal of the service in `directory` (made absolute as
/// above). Errc::bad_argument when tor has no service there, and as
/// stage_onion_directory(). The directory and its key stay on disk: adding it
/// again brings back the same address.
TORCON_API Status stage_onion_directory_removal(TorConfig& cfg, std::string_view directory);

/// Creates the directory (0700) and `authorized_clients/` (0700), writes one
/// `<name>.auth` file (0600) per client and removes other `.auth` files.
/// Nothing is done for a spec without clients. Errc::io with the path and
/// the system's reason.
TORCON_API Status write_onion_directory_clients(const OnionDirectorySpec& spec);

/// Reads the address tor wrote to `<directory>/hostname`, checking it is a
/// v3 address; waits for tor to write it, polling (every 20 ms, on
/// `reactor`'s loop) for at most `timeout`, then Errc::timeout naming the
/// file. `cb` runs once, from the loop, never inside this call.
TORCON_API void read_onion_hostname(Reactor& reactor, std::string_view directory,
                                    std::chrono::milliseconds timeout,
                                    std::function<void(const Expected<std::string>&)> cb);

/// The whole of adding a directory service: checks `spec`, writes its client
/// files, stages it and saves (one SETCONF), then reads the address tor
/// wrote (read_onion_hostname). `cfg` must be loaded (a lazy load is fine:
/// HiddenServiceOptions is fetched first when not read yet) and have nothing
/// else staged (Errc::bad_argument: this save would send it too). Tor's
/// refusal comes as Errc::tor_error with its text, the cache unchanged.
/// `cb` runs once, on the Controller's loop, never inside this call; `cfg`
/// must outlive it until then (destroyed earlier, `cb` may never run).
TORCON_API void add_onion_directory(TorConfig& cfg, const OnionDirectorySpec& spec,
                                    OnionDirectoryOptions options,
                                    std::function<void(const Expected<std::string>&)> cb);

/// Removes the service in `directory` from tor's configuration (one SETCONF),
/// with the same conditions as add_onion_directory(). Tor stops publishing
/// it; its files stay.
TORCON_API void remove_onion_directory(TorConfig& cfg, std::string_view directory,
                                       StatusCallback cb, const CommandOptions& options = {});

/// Coroutine form of add_onion_directory().
TORCON_API Controller::Awaiter<Expected<std::string>> co_add_onion_directory(
    TorConfig& cfg, OnionDirectorySpec spec, OnionDirectoryOptions options = {});
/// Coroutine form of remove_onion_directory().
TORCON_API Controller::Awaiter<Status> co_remove_onion_directory(TorConfig& cfg,
                                                                 std::string directory,
                                                                 CommandOptions options = {});

}  // namespace torcon
