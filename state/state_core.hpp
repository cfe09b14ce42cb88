// TorState's machinery: the tables, the rules that apply events to them,
// the listeners, and the attachment to a Controller (tor_state.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "address_map.hpp"
#include "control_id_hash.hpp"
#include "listener_list.hpp"
#include "router_table.hpp"
#include "string_key.hpp"
#include "torcon/circuit.hpp"
#include "torcon/controller.hpp"
#include "torcon/events.hpp"
#include "torcon/guard.hpp"
#include "torcon/reactor.hpp"
#include "torcon/stream.hpp"
#include "torcon/tor_state.hpp"

namespace torcon::detail {

// A decimal count (process/pid, uptime); nullopt if it is not one.
std::optional<std::uint64_t> parse_count(std::string_view text);

class StateCore {
 public:
  StateCore() : routers_(router_listeners_, on_error_), addrmap_(addrmap_listeners_, on_error_) {}
  ~StateCore() {
    if (reactor_) reactor_->cancel_timer(expiry_timer_);
  }

  Status apply(const Event& ev);
  Status apply_reply(const Reply& r);

  // Where a change came from: a snapshot line is older than every event
  // that arrives after its reply, so it must not revive an entry such an
  // event already ended.
  Status apply_circ(const CircEvent& e, bool from_snapshot);
  Status apply_stream(const StreamEvent& e, bool from_snapshot);
  void remove_guard(std::size_t index);  // listeners told
  void apply_circ_minor(const CircMinorEvent& e);
  void apply_circ_bw(const CircBwEvent& e);
  Status apply_addrmap(const AddrMapEvent& e, bool from_snapshot);
  Status apply_guard(std::string_view name, std::string_view status, bool from_snapshot);
  void expire_addresses(SystemTime now);
  Status apply_getinfo(const Reply& r);
  // An event from the Controller: applied, or held while a resync waits
  // for its snapshot (tor_state.cpp).
  void on_event(const Reply& r);

  // Listeners before the tables: the router table keeps references to them.
  ErrorSink on_error_;
  RouterListeners router_listeners_;
  ListenerList<const Circuit&, CircuitChanges> circuit_listeners_;
  ListenerList<const Stream&, StreamChanges> stream_listeners_;
  AddressMapListeners addrmap_listeners_;
  ListenerList<const Guard&, GuardChange> guard_listeners_;
  ListenerList<SnapshotOrigin> snapshot_listeners_;
  std::uint64_t next_listener_ = 1;

  RouterTable routers_;
  absl::flat_hash_map<std::string, std::unique_ptr<Circuit>, ControlIdHash, TextEq> circuits_;
  absl::flat_hash_map<std::string, std::unique_ptr<Stream>, ControlIdHash, TextEq> streams_;
  std::optional<std::uint64_t> tor_pid_;
  std::optional<std::chrono::steady_clock::time_point> tor_started_;  // arrival - uptime
  AddressMap addrmap_;
  std::vector<Guard> guards_;  // tor's order (entry-guards lists them by priority)

  // Address-map expiry: one timer, for the earliest expiry, moved whenever
  // that changes (no reactor: only expire_addresses() expires).
  Reactor* reactor_ = nullptr;
  TimerId expiry_timer_;
  std::optional<SystemTime> timer_for_;
  void rearm_expiry();

  // Between attach() and the snapshot: IDs that ended meanwhile.
  bool snapshot_pending_ = false;
  absl::flat_hash_set<std::string, ControlIdHash, TextEq> ended_circuits_, ended_streams_;

  // Attachment (tor_state.cpp).
  Controller* controller_ = nullptr;
  std::vector<Controller::SubscriptionId> subscriptions_;
  std::function<void(const Status&)> attach_done_;
  bool bootstrapped_ = false;
  std::shared_ptr<StateCore*> self_ = std::make_shared<StateCore*>(this);  // for callbacks
  Controller::HookId reconnect_hook_ = 0;
  void send_snapshot(bool resync);
  void finish_attach(const Status& s, SnapshotOrigin origin);
  // After a reconnection: the snapshot again, the new connection's events
  // held until its reply says whether this is the same tor (entries kept,
  // vanished ones closed) or another (all closed, then the snapshot's).
  void resync();
  Status apply_resync(const Reply& r, SnapshotOrigin& origin);
  void close_all(std::string_view reason);
  void close_old();  // close_all(kReconnectReason), not remembered as ended
  void close_stream(const std::string& id, std::string_view reason);
  void close_circuit(const std::string& id, std::string_view reason);
  void replay_held();
  void close_unconfirmed();
  enum class Resync : std::uint8_t { none, holding };
  Resync resync_ = Resync::none;
  std::vector<OwnedReply> held_events_;
  std::size_t held_bytes_ = 0;
  // Entries from before the reconnection that neither the snapshot nor an
  // event of the new connection named yet: at the end of a same-tor resync,
  // the ones left ended during the gap. Addresses and guards (by
  // fingerprint) the snapshot did not list are removed after any resync.
  absl::flat_hash_set<std::string, TextHash, TextEq> unconfirmed_circuits_, unconfirmed_streams_,
      unconfirmed_addresses_, unconfirmed_guards_;
  // After the snapshot: a leftover __LeaveStreamsUnattached=1 (stream_attacher.hpp).
  void check_leave_unattached();

 private:
  void notify(const Circuit& c, CircuitChanges what) {
    if (what && !circuit_listeners_.empty()) circuit_listeners_.call(on_error_, c, what);
  }
  void notify(const Stream& s, StreamChanges what) {
    if (what && !stream_listeners_.empty()) stream_listeners_.call(on_error_, s, what);
  }
  bool set_path(Circuit& c, std::string_view path);
  void remove_circuit(Circuit& c);
  // Ended circuits and streams are kept (a few hundred) and reused: their
  // strings keep their capacity, so a busy tor's short-lived streams cost
  // no allocation after the first few (see recycle() in state_core.cpp).
  std::unique_ptr<Circuit> new_circuit();
  std::unique_ptr<Stream> new_stream();
  void recycle(std::unique_ptr<Circuit> c);
  void recycle(std::unique_ptr<Stream> s);
  std::vector<std::unique_ptr<Circuit>> spare_circuits_;
  std::vector<std::unique_ptr<Stream>> spare_streams_;
  void attach_stream(Stream& s, Circuit* c);  // null: detach
  std::string scratch_;                       // decoded QuotedStrings, synthetic event lines
};

}  // namespace torcon::detail
