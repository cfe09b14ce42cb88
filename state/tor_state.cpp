#include "torcon/tor_state.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <utility>

#include "attach_core.hpp"
#include "state_core.hpp"
#include "torcon/controller.hpp"
#include "torcon/getinfo.hpp"

namespace torcon {

namespace detail {

// The events TorState applies; subscribed before the snapshot is asked for.
constexpr std::array<std::string_view, 8> kStateEvents = {
    "CIRC", "CIRC_MINOR", "STREAM", "NS", "NEWCONSENSUS", "CIRC_BW", "ADDRMAP", "GUARD"};
// Asked in one GETINFO: tor answers all keys at one instant. process/pid
// and uptime tell a resync whether it is the same tor.
constexpr std::string_view kSnapshot =
    "GETINFO ns/all circuit-status stream-status address-mappings/all entry-guards process/pid "
    "uptime";
// Events held while a resync waits for its snapshot, at most (then they are
// applied: see tor_state.hpp).
constexpr std::size_t kMaxHeldBytes = std::size_t(64) << 20;
// Two snapshots of one tor process put its start (arrival - uptime) this
// close: uptime is whole seconds, and the replies take their time to come.
constexpr auto kSameStart = std::chrono::seconds(5);

void StateCore::finish_attach(const Status& s, SnapshotOrigin origin) {
  snapshot_pending_ = false;
  ended_circuits_.clear();
  ended_streams_.clear();
  if (s && attach_done_) bootstrapped_ = true;
  if (s && !snapshot_listeners_.empty()) snapshot_listeners_.call(on_error_, origin);
  if (!attach_done_) {
    // A resync's snapshot: nobody waits for it, so a failure is reported.
    if (!s && on_error_) on_error_("after reconnecting: " + s.error().message);
    return;
  }
  auto done = std::move(attach_done_);
  attach_done_ = nullptr;
  if (s) check_leave_unattached();
  done(s);
}

void StateCore::on_event(const Reply& r) {
  if (resync_ == Resync::holding) {
    held_bytes_ += r.raw.size();
    held_events_.push_back(r.copy());
    if (held_bytes_ <= kMaxHeldBytes) return;
    // Too much to hold: decide now, as for another tor (the safe answer).
    resync_ = Resync::none;
    close_old();
    replay_held();
    return;
  }
  Event ev;
  if (Status s = parse_event(r, ev); !s) {
    if (on_error_)
      on_error_("event not applied (" + s.error().message +
                "): " + std::string(r.lines.empty() ? std::string_view{} : r.lines[0].text));
    return;
  }
  Status s = apply(ev);
  if (!s && on_error_) on_error_(std::string(ev.name) + ": " + s.error().message);
}

void StateCore::replay_held() {
  std::vector<OwnedReply> held = std::move(held_events_);
  held_events_.clear();
  held_bytes_ = 0;
  for (const OwnedReply& r : held) on_event(r.view());
}

// tor keeps __LeaveStreamsUnattached after the controller that set it is
// gone: then every new stream waits for an attacher that never answers.
// Reported (on_listener_error) when no StreamAttacher of this process is
// installed on the connection.
void StateCore::check_leave_unattached() {
  std::weak_ptr<StateCore*> self = self_;
  Controller* ctl = controller_;
  ctl->getconf({"__LeaveStreamsUnattached"}, [self, ctl](const Expected<KeyValues>& kv) {
    auto p = self.lock();
    if (!p || !kv || !(*p)->on_error_) return;
    const std::string* v = kv->find("__LeaveStreamsUnattached");
    if (v && *v == "1" && AttachCore::installed_on(ctl) == 0)
      (*p)->on_error_(
          "tor has __LeaveStreamsUnattached=1 and no StreamAttacher is installed: new streams "
          "wait for a controller to attach them (one that set it exited without resetting it?)");
  });
}

void StateCore::send_snapshot(bool resync) {
  std::weak_ptr<StateCore*> self = self_;
  controller_->command(kSnapshot, [self, resync](const Expected<Reply>& r) {
    auto p = self.lock();
    if (!p) return;
    detail::StateCore& c = **p;
    Status failed;
    if (!r) {
      Error e = r.error();
      e.message = "GETINFO (TorState snapshot): " + e.message;
      failed = e;
    } else if (!r->is_ok()) {
      failed = Error(Errc::tor_error,
                     "GETINFO (TorState snapshot): " + std::string(r->status_text()), 0, r->code);
    }
    if (!failed) {
      // Without the snapshot nothing says which tor this is: the held
      // events are applied as another tor's (the old entries closed).
      if (c.resync_ == Resync::holding) {
        c.resync_ = Resync::none;
        c.close_old();
        c.replay_held();
      }
      return c.finish_attach(failed, SnapshotOrigin::other_tor);
    }
    if (!resync) return c.finish_attach(c.apply_getinfo(*r), SnapshotOrigin::attach);
    // Applied even if a SETEVENTS failed (done has been told): the tables
    // are then a snapshot that some events no longer update.
    SnapshotOrigin origin = SnapshotOrigin::other_tor;
    Status s = c.apply_resync(*r, origin);
    c.finish_attach(s, origin);
  });
}

void StateCore::close_stream(const std::string& id, std::string_view reason) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  StreamEvent e;
  e.id = id;
  e.status = "CLOSED";
  e.status_enum = StreamStatus::closed;
  e.circ_id = it->second->circuit_id_;
  e.target = it->second->target_;
  e.reason = reason;
  (void)apply_stream(e, false);
}

void StateCore::close_circuit(const std::string& id, std::string_view reason) {
  if (!circuits_.contains(id)) return;
  CircEvent e;
  e.id = id;
  e.status = "CLOSED";
  e.status_enum = CircStatus::closed;
  e.reason = reason;
  (void)apply_circ(e, false);
}

// Streams first: a circuit's removal tells its streams their circuit went,
// which would be noise for streams about to close themselves.
void StateCore::close_all(std::string_view reason) {
  std::vector<std::string> ids;
  ids.reserve(streams_.size());
  for (const auto& [id, s] : streams_) ids.push_back(id);
  for (const std::string& id : ids) close_stream(id, reason);
  ids.clear();
  ids.reserve(circuits_.size());
  for (const auto& [id, c] : circuits_) ids.push_back(id);
  for (const std::string& id : ids) close_circuit(id, reason);
}

// Another tor: every old entry leaves. Not remembered as ended: the new
// tor's snapshot may name another circuit or stream with the same ID.
void StateCore::close_old() {
  close_all(kReconnectReason);
  ended_circuits_.clear();
  ended_streams_.clear();
}

// The Controller runs this once authenticated again, with the SETEVENTS of
// the subscriptions re-sent and before any event of the new connection is
// read. Whether the old entries still mean anything depends on which tor
// answers: circuit and stream IDs are a tor process's counters, and a
// restarted tor reuses them for others. So the new connection's events are
// held (not applied to entries that may be another tor's) until the
// snapshot's reply names the process; apply_resync() then decides.
void StateCore::resync() {
  if (!controller_) return;
  resync_ = Resync::holding;
  held_events_.clear();
  held_bytes_ = 0;
  snapshot_pending_ = true;
  ended_circuits_.clear();
  ended_streams_.clear();
  send_snapshot(true);
}

Status StateCore::apply_resync(const Reply& r, SnapshotOrigin& origin) {
  std::optional<std::uint64_t> pid;
  std::optional<std::chrono::steady_clock::time_point> started;
  bool lists_addresses = false, lists_guards = false;
  KeyValueReader kv(r);
  for (KeyValue v; kv.next(v);) {
    if (v.key == "process/pid") {
      pid = parse_count(v.value);
    } else if (v.key == "uptime") {
      if (const std::optional<std::uint64_t> secs = parse_count(v.value))
        started = std::chrono::steady_clock::now() - std::chrono::seconds(*secs);
    } else if (v.key == "address-mappings/all") {
      lists_addresses = true;
    } else if (v.key == "entry-guards") {
      lists_guards = true;
    }
  }
  // The same process: same pid (on the same control endpoint: the
  // Controller reconnects where it connected) and the same start, which a
  // restarted tor given the same pid (PID 1 in a container) does not have.
  const bool same = pid && tor_pid_ && *pid == *tor_pid_ && started && tor_started_ &&
                    *started - *tor_started_ <= kSameStart &&
                    *tor_started_ - *started <= kSameStart;
  origin = SnapshotOrigin::other_tor;
  if (resync_ == Resync::holding) {
    resync_ = Resync::none;
    if (same) {
      origin = SnapshotOrigin::same_tor;
      for (const auto& [id, c] : circuits_) unconfirmed_circuits_.insert(id);
      for (const auto& [id, st] : streams_) unconfirmed_streams_.insert(id);
    } else {
      close_old();
    }
    // Older than the snapshot: tor wrote them before its reply.
    replay_held();
  }
  if (lists_addresses)
    addrmap_.for_each([&](const AddressMapping& m) { unconfirmed_addresses_.insert(m.address); });
  if (lists_guards)
    for (const Guard& g : guards_) unconfirmed_guards_.insert(g.router->fingerprint());
  Status s = apply_getinfo(r);
  close_unconfirmed();
  return s;
}

// What the resync's snapshot did not name is gone: circuits and streams
// that ended while the connection was down, mappings and guards tor no
// longer has.
void StateCore::close_unconfirmed() {
  auto take = [](auto& set) {
    std::vector<std::string> out(set.begin(), set.end());
    set.clear();
    std::sort(out.begin(), out.end());  // a stable order for the listeners
    return out;
  };
  for (const std::string& id : take(unconfirmed_streams_)) close_stream(id, kReconnectReason);
  for (const std::string& id : take(unconfirmed_circuits_)) close_circuit(id, kReconnectReason);
  for (const std::string& a : take(unconfirmed_addresses_)) addrmap_.remove_address(a);
  rearm_expiry();
  for (const std::string& fp : take(unconfirmed_guards_)) {
    auto it = std::find_if(guards_.begin(), guards_.end(),
                           [&](const Guard& g) { return g.router->fingerprint() == fp; });
    if (it != guards_.end()) remove_guard(std::size_t(it - guards_.begin()));
  }
}

}  // namespace detail

TorState::TorState() : core_(std::make_unique<detail::StateCore>()) {}
TorState::TorState(Reactor& reactor) : TorState() { core_->reactor_ = &reactor; }
TorState::~TorState() { detach(); }

Status TorState::apply(const Event& event) { return core_->apply(event); }
Status TorState::apply_reply(const Reply& reply) { return core_->apply_reply(reply); }

void TorState::attach(Controller& controller, std::function<void(const Status&)> done) {
  detach();
  detail::StateCore& core = *core_;
  core.controller_ = &controller;
  core.attach_done_ = std::move(done);
  core.bootstrapped_ = false;
  core.snapshot_pending_ = true;
  core.ended_circuits_.clear();
  core.ended_streams_.clear();
  std::weak_ptr<detail::StateCore*> self = core.self_;
  // Subscriptions first: tor sends the events of every change after it
  // took the SETEVENTS, which it does before it answers the GETINFO below.
  for (std::string_view name : detail::kStateEvents) {
    core.subscriptions_.push_back(controller.subscribe(
        name,
        [self](const Reply& r) {
          if (auto p = self.lock()) (*p)->on_event(r);
        },
        [self, name](const Status& s) {
          auto p = self.lock();
          if (!p) return;
          detail::StateCore& c = **p;
          if (s || !c.attach_done_) return;
          c.finish_attach(
              Error(s.error().code, "SETEVENTS " + std::string(name) + ": " + s.error().message, 0,
                    s.error().status),
              SnapshotOrigin::attach);
        }));
  }
  // Right behind the SETEVENTS, in one pipelined round: the Controller
  // sends in issue order (also what it holds until authenticated), and tor
  // takes commands in order.
  core.send_snapshot(false);
  core.reconnect_hook_ = controller.add_reconnect_hook([self] {
    if (auto p = self.lock()) (*p)->resync();
  });
}

void TorState::detach() {
  detail::StateCore& core = *core_;
  if (!core.controller_) return;
  for (Controller::SubscriptionId id : core.subscriptions_) core.controller_->unsubscribe(id);
  core.subscriptions_.clear();
  core.controller_->remove_reconnect_hook(core.reconnect_hook_);
  core.reconnect_hook_ = 0;
  core.controller_ = nullptr;
  core.snapshot_pending_ = false;
  core.ended_circuits_.clear();
  core.ended_streams_.clear();
  core.attach_done_ = nullptr;
  // Events held for a resync that will not finish now: applied, as another
  // tor's (nothing says it is the same one).
  if (core.resync_ == detail::StateCore::Resync::holding) {
    core.resync_ = detail::StateCore::Resync::none;
    core.close_old();
    core.replay_held();
  }
  // Callbacks still queued in the Controller (the GETINFO) find no state.
  core.self_ = std::make_shared<detail::StateCore*>(&core);
}

void TorState::load_descriptors(std::function<void(const Status&)> done) {
  detail::StateCore& core = *core_;
  if (!core.controller_) {
    if (done) done(Error(Errc::bad_argument, "load_descriptors: TorState is not attached"));
    return;
  }
  std::weak_ptr<detail::StateCore*> self = core.self_;
  core.controller_->command(
      "GETINFO desc/all-recent", [self, done = std::move(done)](const Expected<Reply>& r) {
        auto p = self.lock();
        Status s;
        if (!r)
          s = r.error();
        else if (!r->is_ok())
          s = Error(Errc::tor_error, "GETINFO desc/all-recent: " + std::string(r->status_text()), 0,
                    r->code);
        else if (r->lines.empty() || r->lines[0].sep != Sep::data || r->lines[0].data.empty())
          // What tor 0.4.9 answers on microdescriptors (its default as a
          // client): "250-desc/all-recent=" with nothing after it.
          s = Error(Errc::tor_error,
                    "tor has no server descriptors (a client on microdescriptors, tor's default, "
                    "has none: set UseMicrodescriptors 0); exits_to() answers from the "
                    "consensus' summaries");
        else if (p)
          s = (*p)->apply_getinfo(*r);
        if (done) done(s);
      });
}

Controller::Awaiter<Status> TorState::co_load_descriptors() {
  return {[this](std::function<void(Status)> resume) {
            load_descriptors([resume = std::move(resume)](const Status& s) { resume(s); });
          },
          {}};
}

bool TorState::attached() const noexcept { return core_->controller_ != nullptr; }
bool TorState::bootstrapped() const noexcept { return core_->bootstrapped_; }

const Router* TorState::router(const RouterIdentity& id) const noexcept {
  return core_->routers_.find(id);
}
const Router* TorState::router(std::string_view name) const noexcept {
  return core_->routers_.find(name);
}
std::vector<const Router*> TorState::routers_named(std::string_view nickname) const {
  return core_->routers_.all_named(nickname);
}
std::vector<const Router*> TorState::routers() const {
  std::vector<const Router*> out;
  out.reserve(core_->routers_.size());
  core_->routers_.for_each([&](const Router& r) { out.push_back(&r); });
  return out;
}
std::size_t TorState::router_count() const noexcept { return core_->routers_.consensus_count(); }
void TorState::for_each_router(const std::function<void(const Router&)>& fn) const {
  core_->routers_.for_each(fn);
}

const Circuit* TorState::circuit(std::string_view id) const noexcept {
  auto it = core_->circuits_.find(id);
  return it == core_->circuits_.end() ? nullptr : it->second.get();
}
std::vector<const Circuit*> TorState::circuits() const {
  std::vector<const Circuit*> out;
  out.reserve(core_->circuits_.size());
  for (const auto& [id, c] : core_->circuits_) out.push_back(c.get());
  return out;
}
std::size_t TorState::circuit_count() const noexcept { return core_->circuits_.size(); }
const Stream* TorState::stream(std::string_view id) const noexcept {
  auto it = core_->streams_.find(id);
  return it == core_->streams_.end() ? nullptr : it->second.get();
}
std::vector<const Stream*> TorState::streams() const {
  std::vector<const Stream*> out;
  out.reserve(core_->streams_.size());
  for (const auto& [id, s] : core_->streams_) out.push_back(s.get());
  return out;
}
std::size_t TorState::stream_count() const noexcept { return core_->streams_.size(); }
std::optional<std::uint64_t> TorState::tor_pid() const noexcept { return core_->tor_pid_; }
std::optional<std::chrono::steady_clock::time_point> TorState::tor_started() const noexcept {
  return core_->tor_started_;
}

const AddressMapping* TorState::address_mapping(std::string_view address) const noexcept {
  return core_->addrmap_.find(address);
}
std::vector<const AddressMapping*> TorState::addresses_mapped_to(std::string_view target) const {
  return core_->addrmap_.mapped_to(target);
}
std::size_t TorState::address_mapping_count() const noexcept { return core_->addrmap_.size(); }
std::string_view TorState::hostname(const Stream& stream) const {
  const std::string_view host = stream.requested_host();
  std::string text(host);
  unsigned char buf[16];
  const bool is_ip =
      ::inet_pton(AF_INET, text.c_str(), buf) == 1 || ::inet_pton(AF_INET6, text.c_str(), buf) == 1;
  if (!is_ip) return host;
  for (const AddressMapping* m : core_->addrmap_.mapped_to(host)) return m->address;
  return host;
}

void TorState::expire_address_map(std::chrono::system_clock::time_point now) {
  core_->expire_addresses(now);
}
std::vector<Guard> TorState::guards() const { return core_->guards_; }

TorState::ListenerId TorState::on_circuit(CircuitListener listener) {
  const ListenerId id = core_->next_listener_++;
  core_->circuit_listeners_.add(id, std::move(listener));
  return id;
}
TorState::ListenerId TorState::on_stream(StreamListener listener) {
  const ListenerId id = core_->next_listener_++;
  core_->stream_listeners_.add(id, std::move(listener));
  return id;
}
TorState::ListenerId TorState::on_router(RouterListener listener) {
  const ListenerId id = core_->next_listener_++;
  core_->router_listeners_.add(id, std::move(listener));
  return id;
}
TorState::ListenerId TorState::on_address_map(AddressMapListener listener) {
  const ListenerId id = core_->next_listener_++;
  core_->addrmap_listeners_.add(id, std::move(listener));
  return id;
}
TorState::ListenerId TorState::on_guard(GuardListener listener) {
  const ListenerId id = core_->next_listener_++;
  core_->guard_listeners_.add(id, std::move(listener));
  return id;
}
TorState::ListenerId TorState::on_snapshot(SnapshotListener listener) {
  const ListenerId id = core_->next_listener_++;
  core_->snapshot_listeners_.add(id, std::move(listener));
  return id;
}
bool TorState::remove_listener(ListenerId id) {
  return core_->circuit_listeners_.remove(id) || core_->stream_listeners_.remove(id) ||
         core_->router_listeners_.remove(id) || core_->addrmap_listeners_.remove(id) ||
         core_->guard_listeners_.remove(id) || core_->snapshot_listeners_.remove(id);
}
void TorState::on_listener_error(std::function<void(std::string_view)> handler) {
  core_->on_error_ = std::move(handler);
}

}  // namespace torcon
