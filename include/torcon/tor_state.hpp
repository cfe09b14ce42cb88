// TorState: a live picture of one tor — its routers, circuits and streams —
// kept current from the control port's events.
//
// Without I/O (tests, replays of captures): feed it replies.
//
//   torcon::TorState state;
//   state.apply_reply(getinfo_reply);   // GETINFO ns/all circuit-status ...
//   state.apply_reply(event);           // 650 CIRC / STREAM / NS ...
//   for (const torcon::Circuit* c : state.circuits()) ...
//
// On a Controller:
//
//   state.attach(ctl, [&](const torcon::Status& s) { if (!s) fail(s.error()); });
//   state.on_circuit([](const torcon::Circuit& c, torcon::CircuitChanges what) { ... });
//
// How attach() closes the lost-event window. It subscribes first (CIRC,
// CIRC_MINOR, STREAM, NS, NEWCONSENSUS, CIRC_BW, ADDRMAP, GUARD), then sends one GETINFO
// for ns/all, circuit-status, stream-status, address-mappings/all,
// entry-guards, process/pid and uptime: tor answers those keys at one instant, after
// the SETEVENTS took effect, so every change after that instant arrives as
// an event (the GETINFO is pipelined right behind the SETEVENTS: the
// Controller sends commands in the order they were issued, also those it
// holds until authenticated). Changes from before it may
// arrive too — as events before the reply, or (tor queues events, but writes replies at once) after
// it — and are merged by rules that make applying an event twice, or late, harmless:
//   - a circuit's state only moves forward (LAUNCHED < EXTENDED <
//     GUARD_WAIT < BUILT < FAILED/CLOSED), and its path never shrinks;
//   - a stream's state only moves forward within one attachment (NEW <
//     CONTROLLER_WAIT < SENTCONNECT/SENTRESOLVE < REMAP < SUCCEEDED), a
//     DETACHED starts a new attachment, FAILED and CLOSED end it;
//   - an event for an unknown ID in a final state (CLOSED, FAILED) never
//     creates an entry, and neither do CIRC_MINOR and CIRC_BW;
//   - an ID seen to end while the reply was on its way is not revived by the
//     reply's (older) line for it.
// The reply never deletes: an entry an early event created and the reply
// lacks ended before the snapshot, and its end event is on its way.
//
// Listeners see the state already updated, once per event that changed
// something, with what changed. A closed circuit or stream is shown to the
// listeners (state CLOSED/FAILED, `removed` set) and then leaves the tables.
// Listeners may look anything up and add and remove listeners (the new ones
// see the next event); they must not feed the state (apply, apply_reply,
// expire_address_map) from inside the call. An exception from one is
// caught, reported to on_listener_error(), and the others still run.
//
// After a reconnection (ControllerOptions::reconnect) the attached state
// resynchronises: it takes the same snapshot as attach() (the SETEVENTS
// are re-sent first), holding the new connection's events until the
// snapshot's reply says which tor it is talking to — the same process
// (process/pid and the start time tor's `uptime` gives, on the same control
// endpoint) or another one:
//   - the same tor (only the connection was lost): circuits and streams the
//     snapshot still has are kept and updated in place (listeners see what
//     changed, e.g. a stream detached and waiting again, not a close and a
//     new entry); those that ended while the connection was down are shown
//     closed (state CLOSED, `removed` set, reason() kReconnectReason: tor's
//     own reason was lost with the connection);
//   - another tor (a restart; pid or start time differ, or either is
//     unknown): tor numbers circuits and streams from 1 again, so no old ID
//     can be trusted to name the same one. Every circuit and stream is shown
//     closed (reason() kReconnectReason) and leaves, and then the snapshot
//     brings what tor has now, each as created.
// Then the held events are applied (they are older than the snapshot), then
// the snapshot, as for attach(). In both cases routers are replaced by the
// snapshot's consensus (listeners see them added, removed, changed, as on
// NEWCONSENSUS); address mappings and guards the snapshot lists are kept
// and updated, the others removed (listeners see GuardChange::removed /
// AddressMapChange::removed; their expiry timers stop); tor_pid() is the
// new tor's. on_snapshot() listeners hear which case it was. A failed
// resync snapshot goes to on_listener_error(). (Should more than 64 MiB of
// events arrive before the reply, they are no longer held: the old
// entries are closed as for another tor and the events applied.)
//
// Threading: none of its own; use it on the Controller's loop thread.
// Nothing throws (apart from std::bad_alloc).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "torcon/address_map.hpp"
#include "torcon/circuit.hpp"
#include "torcon/controller.hpp"
#include "torcon/events.hpp"
#include "torcon/expected.hpp"
#include "torcon/export.hpp"
#include "torcon/guard.hpp"
#include "torcon/reactor.hpp"
#include "torcon/reply.hpp"
#include "torcon/router.hpp"
#include "torcon/stream.hpp"

namespace torcon {

class Controller;
namespace detail {
class StateCore;
}

/// What an event changed (bits).
enum CircuitChange : std::uint32_t {
  circuit_created = 1u << 0,
  circuit_state = 1u << 1,  ///< state() moved
  circuit_path = 1u << 2,   ///< path() grew
  circuit_purpose = 1u << 3,
  circuit_details = 1u << 4,  ///< other fields (flags, HS state, isolation, ...)
  circuit_bandwidth = 1u << 5,
  circuit_streams = 1u << 6,  ///< a stream was attached or left
  circuit_removed = 1u << 7,  ///< closed or failed: it leaves the table after this call
};
using CircuitChanges = std::uint32_t;

enum StreamChange : std::uint32_t {
  stream_created = 1u << 0,
  stream_state = 1u << 1,
  stream_circuit = 1u << 2,  ///< attached, detached, or its circuit went away
  stream_target = 1u << 3,   ///< REMAP
  stream_details = 1u << 4,
  stream_removed = 1u << 5,
};
using StreamChanges = std::uint32_t;

/// The reason() of circuits and streams closed because the connection to
/// tor was lost and made again: a restarted tor no longer has them, or the
/// same tor ended them while the connection was down (its reason was lost).
inline constexpr std::string_view kReconnectReason = "TORCON_RECONNECTED";

using CircuitListener = std::function<void(const Circuit&, CircuitChanges)>;
using StreamListener = std::function<void(const Stream&, StreamChanges)>;
using RouterListener = std::function<void(const Router&, RouterChange)>;
using AddressMapListener = std::function<void(const AddressMapping&, AddressMapChange)>;
using GuardListener = std::function<void(const Guard&, GuardChange)>;

/// Which snapshot was applied (TorState::on_snapshot()).
enum class SnapshotOrigin : std::uint8_t {
  attach,     ///< attach()'s first snapshot
  same_tor,   ///< after a reconnection to the same tor process: entries kept
  other_tor,  ///< after a reconnection to another tor (a restart): entries replaced
};
/// Told once a snapshot has been applied (SnapshotOrigin).
using SnapshotListener = std::function<void(SnapshotOrigin)>;

/// A live picture of one tor: routers, circuits, streams, address map and
/// guards, kept current from events (see the file's comment). Loop thread only.
class TORCON_API TorState {
 public:
  /// Without a reactor, address mappings expire only when
  /// expire_address_map() is called; with one, on a timer of that reactor
  /// (which must outlive the TorState), set for the earliest expiry.
  TorState();
  /// With a reactor: address mappings expire on its timer.
  explicit TorState(Reactor& reactor);
  ~TorState();  ///< detaches from the Controller, if attached
  TorState(const TorState&) = delete;
  TorState& operator=(const TorState&) = delete;

  // ---- feeding ------------------------------------------------------------
  /// One event (a parsed 650 reply). Events TorState does not track are
  /// ignored (ok). Errc::bad_argument / bad_router_status for content it
  /// cannot apply (a malformed consensus in NEWCONSENSUS: the routers read up
  /// to the error are applied, none is removed).
  Status apply(const Event& event);
  /// A whole reply: a 650 event, or a 250 GETINFO reply whose keys among
  /// ns/all, circuit-status, stream-status, address-mappings/all,
  /// entry-guards, process/pid, uptime are applied (others ignored). A 4xx/5xx reply
  /// is an error (Errc::tor_error).
  Status apply_reply(const Reply& reply);

  // ---- on a Controller -----------------------------------------------------
  /// Subscribes and takes the snapshot (see the top of this file). `done`
  /// runs once: ok when the snapshot is applied, or the first failure
  /// (a refused SETEVENTS or GETINFO, with tor's words; a snapshot that does
  /// not parse; the connection closing). The Controller must outlive the
  /// attachment (detach() or ~TorState). Attaching again detaches first.
  void attach(Controller& controller, std::function<void(const Status&)> done);
  /// Unsubscribes; the tables stay as they are.
  void detach();
  /// Asks the attached tor for its server descriptors (GETINFO
  /// desc/all-recent) and gives each known router its full exit policy
  /// (Router::exits_to(address, port) then answers from it). `done`: ok;
  /// Errc::tor_error when tor refuses or has none — a client on
  /// microdescriptors (tor's default) answers desc/all-recent with nothing
  /// (tor 0.4.9; desc/id/ says "We fetch microdescriptors, not router
  /// descriptors"), so only the summaries answer there; Errc::bad_argument
  /// when not attached. Descriptors of routers that arrive later are not
  /// fetched by themselves: call it again. The same keys in apply_reply()
  /// (`desc/id/<HEX>` too) do the same for a capture.
  void load_descriptors(std::function<void(const Status&)> done);
  /// Coroutine form of load_descriptors() (see Controller::Awaiter):
  /// `Status s = co_await state.co_load_descriptors();` resumes on the loop
  /// thread with the same outcome `done` would get.
  Controller::Awaiter<Status> co_load_descriptors();
  /// True between attach() and detach(): it then resynchronises after each
  /// reconnection of the Controller (see the file's comment).
  bool attached() const noexcept;
  /// True once attach()'s snapshot has been applied.
  bool bootstrapped() const noexcept;

  // ---- lookups ---------------------------------------------------------------
  /// The router with this identity, or null.
  const Router* router(const RouterIdentity& id) const noexcept;
  /// "$HEX", "$HEX~nick", "$HEX=nick" (the identity decides) or a bare
  /// nickname when exactly one router has it; null otherwise.
  const Router* router(std::string_view name) const noexcept;
  /// Every router with this nickname (nicknames are not unique).
  std::vector<const Router*> routers_named(std::string_view nickname) const;
  std::vector<const Router*> routers() const;  ///< consensus and placeholders
  std::size_t router_count() const noexcept;   ///< in the consensus
  /// Calls `fn` for every router (no vector built); `fn` must not feed the state.
  void for_each_router(const std::function<void(const Router&)>& fn) const;

  /// The circuit with this ID, or null.
  const Circuit* circuit(std::string_view id) const noexcept;
  /// Every circuit tor has now (closed ones have left).
  std::vector<const Circuit*> circuits() const;
  /// How many circuits().
  std::size_t circuit_count() const noexcept;
  /// The stream with this ID, or null.
  const Stream* stream(std::string_view id) const noexcept;
  /// Every stream tor has now.
  std::vector<const Stream*> streams() const;
  /// How many streams().
  std::size_t stream_count() const noexcept;

  /// process/pid from the snapshot.
  std::optional<std::uint64_t> tor_pid() const noexcept;
  /// When the tor process started, by this process's steady clock: the
  /// snapshot's arrival minus tor's `uptime` (whole seconds). How a resync
  /// tells a restarted tor from the same one with the same pid (PID 1 in a
  /// container, say).
  std::optional<std::chrono::steady_clock::time_point> tor_started() const noexcept;

  /// The address map. An "<error>" mapping is never added (and ends an older
  /// mapping of the address); an update moves the expiry; at expiry the
  /// mapping leaves every index.
  const AddressMapping* address_mapping(std::string_view address) const noexcept;
  /// The mappings whose target is `target`: the names behind an IP target.
  std::vector<const AddressMapping*> addresses_mapped_to(std::string_view target) const;
  /// How many mappings the address map holds.
  std::size_t address_mapping_count() const noexcept;
  /// The name behind a stream's target: the host the application asked for,
  /// or, when that is an IP address, a name the address map maps to it (a
  /// MAPADDRESS or a cached resolve); else the address. Valid while the
  /// stream and the mapping are.
  std::string_view hostname(const Stream& stream) const;
  /// Removes the mappings due at or before `now` (what the timer does).
  void expire_address_map(std::chrono::system_clock::time_point now);

  /// Entry guards in tor's order; GUARD ... DROPPED removes one.
  std::vector<Guard> guards() const;

  // ---- listeners -------------------------------------------------------------
  /// Names a listener, for remove_listener().
  using ListenerId = std::uint64_t;
  /// @{
  /// Adds a listener, told after each change with what changed (see the
  /// file's comment for what listeners may do); returns its id.
  ListenerId on_circuit(CircuitListener listener);
  ListenerId on_stream(StreamListener listener);
  ListenerId on_router(RouterListener listener);
  ListenerId on_address_map(AddressMapListener listener);
  ListenerId on_guard(GuardListener listener);
  /// @}
  /// Adds a listener told each time a snapshot has been applied (the other
  /// listeners have seen its changes): attach()'s, just before its `done`,
  /// and each resync's (see the file's comment). It may issue commands.
  ListenerId on_snapshot(SnapshotListener listener);
  /// False if no such listener. Safe from inside a listener.
  bool remove_listener(ListenerId id);
  /// Called with a description when a listener throws (its what()) or an
  /// event from the Controller cannot be applied (it is then skipped), and
  /// when attach() finds tor holding streams for a controller that is not
  /// there: __LeaveStreamsUnattached=1 with no StreamAttacher installed on
  /// the connection (stream_attacher.hpp).
  void on_listener_error(std::function<void(std::string_view)> handler);

 private:
  std::unique_ptr<detail::StateCore> core_;
};

}  // namespace torcon
