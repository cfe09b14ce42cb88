// CircuitBuilder: builds circuits along a path of your choosing (or tor's),
// extends, repurposes and closes them, and says when tor has done so — as a
// TorState attached to the same Controller sees it.
//
//   torcon::TorState state(reactor);
//   state.attach(ctl, ...);
//   torcon::CircuitBuilder builder(reactor, ctl, state);
//   const std::string path[] = {"$" + guard_fp, "$" + exit_fp};
//   builder.build(path, {}, [](const torcon::CircuitOutcome& r) {
//     if (!r) return fail(r.error.message, r.reason, r.remote_reason);
//     use(r.id, *r.circuit);  // BUILT; r.circuit->path() is the path asked for
//   });
//
// How a build completes. The builder's circuit listener on the TorState is
// installed before any EXTENDCIRCUIT is sent. Tor may send the new circuit's
// CIRC events (LAUNCHED, EXTENDED, even BUILT or FAILED) before its
// "250 EXTENDED <id>" reply: TorState keeps the circuit as those events
// describe it, and the builder keeps how circuits ended while a reply is
// outstanding, so at the reply the outcome may already be known. The build
// succeeds when TorState shows the circuit BUILT with all the hops asked for,
// fails with tor's REASON and REMOTE_REASON when it FAILED or CLOSED first,
// fails with tor's words when tor refuses the command (an unknown relay:
// 552 No such router), and fails with Errc::timeout when `timeout` passes
// first — then the builder closes the circuit (once tor has named it).
//
// Every callback runs exactly once, on the loop thread: from a Controller
// reply, a TorState listener (the state is then already updated; look, but
// do not feed the TorState), or a timer. Callbacks may start further
// operations; they must not destroy the builder. The TorState and the
// Controller must outlive the builder; destroying it completes what is still
// pending with Errc::disconnected. When the connection ends, every operation
// ends at once with Errc::disconnected: a command in flight by its reply, one
// that tor accepted by the Controller's disconnect hook (its events will not
// come, and with a reconnect policy the id may name another circuit of a
// restarted tor, so nothing keeps waiting). Operations started while the
// Controller waits for a reconnection (ControllerOptions::disconnected_wait)
// go out on the new connection.
//
// Caller input is checked before anything is sent: hops must be "$HEX",
// "$HEX~nick", "$HEX=nick" or a nickname, circuit IDs 1-16 letters or digits
// (Errc::bad_argument, nothing sent): nothing can inject a line.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/controller.hpp"
#include "torcon/expected.hpp"
#include "torcon/export.hpp"

namespace torcon {

class Circuit;
class Reactor;
class Router;
class TorState;

/// The purposes EXTENDCIRCUIT and SETCIRCUITPURPOSE accept (control-spec
/// 3.10, 3.11): a general circuit tor may also use for its own streams, or a
/// controller circuit tor leaves to the controller.
enum class CircuitPurpose : std::uint8_t {
  general,     ///< tor may use it for its own streams too
  controller,  ///< tor leaves it to the controller
};
TORCON_API const char* to_string(CircuitPurpose p) noexcept;  ///< "general", "controller"

/// How CircuitBuilder::build() and extend() ask and how long they wait.
struct TORCON_API CircuitBuildOptions {
  /// Sent as purpose=...; nullopt sends none (tor then builds a general one).
  std::optional<CircuitPurpose> purpose;
  /// From the command until BUILT; zero waits forever.
  std::chrono::milliseconds timeout{60000};
  /// On timeout, close the circuit (a half-built circuit is of no use).
  bool close_on_timeout = true;
};

/// How CircuitBuilder::close() asks and how long it waits.
struct TORCON_API CircuitCloseOptions {
  /// CLOSECIRCUIT IfUnused: tor closes only a circuit without streams. If it
  /// has some, tor still answers 250 and leaves it open; the builder asks tor
  /// whether the circuit survived and reports that as a failure.
  bool if_unused = false;
  /// From the command until the CLOSED event; zero waits forever.
  std::chrono::milliseconds timeout{30000};
};

/// How a build, extension or close ended.
struct TORCON_API CircuitOutcome {
  std::string id;  ///< the circuit; "" when tor refused to build one
  /// Built or extended: the circuit, valid until it leaves the TorState.
  /// Null on failure and after a close.
  const Circuit* circuit = nullptr;
  /// Errc::ok on success. Otherwise: Errc::bad_argument (refused input,
  /// nothing sent), Errc::tor_error (tor refused the command: status and
  /// tor's words; or the circuit FAILED/CLOSED: status 0, reasons below),
  /// Errc::timeout, Errc::disconnected.
  Error error;
  /// Tor's REASON= and REMOTE_REASON= of the FAILED/CLOSED event, as written
  /// ("" when tor gave none). Set by a close too (usually REQUESTED).
  std::string reason;
  std::string remote_reason;  ///< see reason

  /// The operation succeeded (error.code is Errc::ok).
  bool ok() const noexcept { return error.code == Errc::ok; }
  /// ok().
  explicit operator bool() const noexcept { return ok(); }
};
/// Gets how a build, extension or close ended.
using CircuitCallback = std::function<void(const CircuitOutcome&)>;

/// Builds, extends, repurposes and closes circuits and says when tor has done
/// so, as the TorState sees it (see the top of circuit_builder.hpp).
class TORCON_API CircuitBuilder {
 public:
  /// `state` must be attached (or about to be) to `controller`.
  CircuitBuilder(Reactor& reactor, Controller& controller, TorState& state);
  /// Completes what is still pending with Errc::disconnected.
  ~CircuitBuilder();
  CircuitBuilder(const CircuitBuilder&) = delete;
  CircuitBuilder& operator=(const CircuitBuilder&) = delete;

  /// A new circuit along `path` (first hop first), or along a path tor
  /// chooses when `path` is empty.
  void build(std::span<const std::string> path, const CircuitBuildOptions& options,
             CircuitCallback done);
  /// build() along routers of a TorState, sent by fingerprint ("$HEX"); a
  /// null router is refused like a bad hop (Errc::bad_argument, nothing sent).
  void build(std::span<const Router* const> path, const CircuitBuildOptions& options,
             CircuitCallback done);
  /// Adds `hops` to an existing (built) circuit; completes when TorState
  /// shows it BUILT again with the longer path.
  void extend(std::string_view circuit_id, std::span<const std::string> hops,
              const CircuitBuildOptions& options, CircuitCallback done);
  /// SETCIRCUITPURPOSE: completes on tor's answer (TorState shows the new
  /// purpose once tor's CIRC_MINOR PURPOSE_CHANGED arrives).
  void set_purpose(std::string_view circuit_id, CircuitPurpose purpose, StatusCallback done);
  /// CLOSECIRCUIT: completes when TorState sees the circuit end.
  void close(std::string_view circuit_id, const CircuitCloseOptions& options, CircuitCallback done);

  /// Operations started and not yet completed.
  std::size_t pending() const noexcept;

  /// Coroutine form of build() (see Controller::Awaiter).
  Controller::Awaiter<CircuitOutcome> co_build(std::vector<std::string> path,
                                               CircuitBuildOptions options = {});
  /// Coroutine form of extend().
  Controller::Awaiter<CircuitOutcome> co_extend(std::string circuit_id,
                                                std::vector<std::string> hops,
                                                CircuitBuildOptions options = {});
  /// Coroutine form of set_purpose().
  Controller::Awaiter<Status> co_set_purpose(std::string circuit_id, CircuitPurpose purpose);
  /// Coroutine form of close().
  Controller::Awaiter<CircuitOutcome> co_close(std::string circuit_id,
                                               CircuitCloseOptions options = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace torcon
