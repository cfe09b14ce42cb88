// Ephemeral onion services that come back after the Controller reconnects.
//
// ADD_ONION services live as long as tor's process (and, without Detach,
// the control connection): a restarted tor has none of them. A keeper adds
// services for its caller, keeps each one's key (the one given, or the one
// tor made and returned), and after each reconnection (ControllerOptions::
// reconnect) re-creates every kept service with ensure_onion_service() — so
// a service tor still has (a Detach one on a tor that only lost the
// connection) is replaced, not refused with 550 — at the same address.
// A service added with discard_key and no key of its own cannot come back:
// tor never told its key; it is reported lost and forgotten.
//
//   torcon::OnionServiceKeeper onions(ctl);
//   onions.on_restore([](std::string_view address, const torcon::Status& s) { ... });
//   onions.add(spec, [](const torcon::Expected<torcon::OnionServiceInfo>& r) { ... });
//
// Loop thread only; the Controller must outlive the keeper. Destroying the
// keeper forgets the services (tor keeps running them until DEL_ONION or the
// connection ends); callbacks still pending then are still called.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/controller.hpp"
#include "torcon/expected.hpp"
#include "torcon/export.hpp"
#include "torcon/onion_service.hpp"

namespace torcon {

/// Told once per kept service after each reconnection: ok when it runs again
/// (at `address`), else why not (Errc::disconnected for a DiscardPK service
/// whose key nobody has; tor's refusal; the connection ending again).
using OnionRestoreListener = std::function<void(std::string_view address, const Status&)>;

/// Adds ephemeral onion services and re-creates them after reconnections
/// (see the file's comment).
class TORCON_API OnionServiceKeeper {
 public:
  /// Registers a reconnect hook on `controller`.
  explicit OnionServiceKeeper(Controller& controller);
  ~OnionServiceKeeper();  ///< removes the hook; services stay in tor
  OnionServiceKeeper(const OnionServiceKeeper&) = delete;
  OnionServiceKeeper& operator=(const OnionServiceKeeper&) = delete;

  /// add_onion_service(); on success the service is kept (with the key tor
  /// returned when spec.key was empty). `options`: the per-call deadline, as
  /// for every typed helper (see controller.hpp).
  void add(const OnionServiceSpec& spec, OnionServiceCallback cb,
           const CommandOptions& options = {});
  /// Coroutine form of add().
  Controller::Awaiter<Expected<OnionServiceInfo>> co_add(OnionServiceSpec spec,
                                                         CommandOptions options = {});
  /// Forgets the service and removes it from tor (DEL_ONION); Errc::bad_argument
  /// for an address it does not keep (nothing is sent).
  void remove(std::string_view address, StatusCallback cb, const CommandOptions& options = {});
  /// Sets the listener of restorations (see OnionRestoreListener).
  void on_restore(OnionRestoreListener listener);
  /// The addresses ("<id>.onion") of the services kept, in the order added.
  std::vector<std::string> addresses() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
  Controller* controller_;
  Controller::HookId hook_ = 0;
};

}  // namespace torcon
