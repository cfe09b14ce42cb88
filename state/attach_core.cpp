#include "attach_core.hpp"

#include <algorithm>
#include <charconv>
#include <exception>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "torcon/getinfo.hpp"
#include "torcon/stream.hpp"
#include "torcon/tokens.hpp"

namespace torcon::detail {

namespace {

constexpr std::string_view kOption = "__LeaveStreamsUnattached";

// Attachers installed in this process, by connection: a 1 found on a
// connection that has one is ours, not a leftover.
std::mutex registry_mutex;
std::unordered_map<const void*, int>& registry() {
  static std::unordered_map<const void*, int> r;
  return r;
}
void registry_add(const void* conn, int delta) {
  std::lock_guard<std::mutex> l(registry_mutex);
  auto& r = registry();
  if ((r[conn] += delta) <= 0) r.erase(conn);
}

void append_number(std::string& out, long v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

// The value of `key` in a GETCONF reply ("" when absent or bare).
std::string_view conf_value(const Reply& r, std::string_view key) {
  KeyValueReader rd(r);
  for (KeyValue kv; rd.next(kv);)
    if (kv.key == key) return kv.value;
  return {};
}

}  // namespace

int AttachCore::installed_on(const void* connection) {
  std::lock_guard<std::mutex> l(registry_mutex);
  auto it = registry().find(connection);
  return it == registry().end() ? 0 : it->second;
}

AttachCore::AttachCore(TorState& state, CommandSink& sink, AttacherOptions options)
    : state_(state), sink_(&sink), options_(options), anchor_(new Anchor{this, 0}) {
  listener_ = state_.on_stream([this](const Stream& s, StreamChanges what) { on_stream(s, what); });
  snapshot_listener_ = state_.on_snapshot([this](SnapshotOrigin o) { on_snapshot(o); });
  line_.reserve(64);
  in_flight_.reserve(16);
  free_slots_.reserve(16);
}

AttachCore::~AttachCore() {
  if (installed_) uninstall({});
  state_.remove_listener(listener_);
  state_.remove_listener(snapshot_listener_);
  // Replies still owed find no core; the last one frees the anchor.
  anchor_->core = nullptr;
  if (anchor_->outstanding == 0) delete anchor_;
}

// ---- the chain ---------------------------------------------------------------

StreamAttacher::Id AttachCore::add(AttachFunction decide, AttachReportFunction report) {
  const StreamAttacher::Id id = next_id_++;
  chain_.push_back(Entry{id, false, std::make_unique<AttachFunction>(std::move(decide)),
                         std::make_unique<AttachReportFunction>(std::move(report))});
  return id;
}

bool AttachCore::remove(StreamAttacher::Id id) {
  for (Entry& e : chain_) {
    if (e.id != id || e.removed) continue;
    e.removed = true;
    dirty_ = true;
    if (depth_ == 0) prune();
    return true;
  }
  return false;
}

void AttachCore::prune() {
  std::erase_if(chain_, [](const Entry& e) { return e.removed; });
  dirty_ = false;
}

void AttachCore::report(const AttachReport& r, StreamAttacher::Id decider) {
  auto guarded = [](const AttachReportFunction& fn, const AttachReport& rep) {
    if (!fn) return;
    try {
      fn(rep);
    } catch (...) {  // a report is advice: a throwing listener stops nothing
    }
  };
  // Counted as a walk of the chain: an attacher that removes itself from
  // its report is only marked until this returns.
  ++depth_;
  if (decider != 0)
    for (std::size_t i = 0; i < chain_.size(); ++i)
      if (chain_[i].id == decider && !chain_[i].removed && chain_[i].report)
        guarded(*chain_[i].report, r);
  --depth_;
  if (depth_ == 0 && dirty_) prune();
  guarded(on_report_, r);
}

// ---- install / uninstall -------------------------------------------------------

void AttachCore::install(std::function<void(const Status&)> done) {
  if (installed_) {
    if (done) done(Status{});
    return;
  }
  const void* conn = sink_->connection();
  const int others = installed_on(conn);
  installed_ = true;
  registry_add(conn, 1);
  std::weak_ptr<AttachCore> self = weak_from_this();
  held_before_us_.reset();
  line_.assign("GETCONF ").append(kOption);
  sink_->command(line_, [self, others](const Expected<Reply>& r) {
    auto core = self.lock();
    if (!core) return;
    if (!r) {
      if (r.error().code == Errc::tor_error)
        core->report({AttachReport::Kind::option_failed,
                      {},
                      {},
                      r.error().status,
                      r.error().message,
                      AttachDecision::leave()},
                     0);
      return;
    }
    const bool held = conf_value(*r, kOption) == "1";
    core->held_before_us_ = held;
    if (others == 0 && held)
      core->report({AttachReport::Kind::leftover_option,
                    {},
                    {},
                    0,
                    "tor already had __LeaveStreamsUnattached=1 and no attacher of this process "
                    "was installed: a controller that exited without resetting it left it set",
                    AttachDecision::leave()},
                   0);
    // Streams a snapshot showed NEW came before this GETCONF: tor held them
    // for a controller only if the option was set. (A snapshot still to
    // come is offered by on_snapshot().)
    core->snapshot_unoffered_ = false;
    if (held && core->installed_) core->offer_snapshot_new();
  });
  line_.assign("SETCONF ").append(kOption).append("=1");
  sink_->command(line_, [self, done = std::move(done)](const Expected<Reply>& r) {
    auto core = self.lock();
    if (core && !r && r.error().code == Errc::tor_error)
      core->report({AttachReport::Kind::option_failed,
                    {},
                    {},
                    r.error().status,
                    r.error().message,
                    AttachDecision::leave()},
                   0);
    if (done) done(r ? Status{} : Status(r.error()));
  });
  // Streams already waiting (left by an earlier controller, or by us before
  // a reconnect) are offered now.
  for (const Stream* s : state_.streams())
    if (installed_ && s->needs_decision()) offer(*s, 0);
}

void AttachCore::restore() {
  if (!installed_) return;
  std::weak_ptr<AttachCore> self = weak_from_this();
  // An attached TorState resynchronises on its own reconnect hook, holding
  // the new connection's events until its snapshot says which tor this is;
  // on_snapshot() offers then. The hooks run in any order, and the table
  // still holds the old connection's streams: which waited is noted here.
  if (state_.attached()) {
    reoffer_.clear();
    for (const Stream* s : state_.streams())
      if (s->needs_decision()) reoffer_.emplace_back(s->id());
    held_before_us_.reset();
    snapshot_unoffered_ = false;
    line_.assign("GETCONF ").append(kOption);
    sink_->command(line_, [self](const Expected<Reply>& r) {
      auto core = self.lock();
      if (!core) return;
      const bool held = r && conf_value(*r, kOption) == "1";
      core->held_before_us_ = held;
      // The resync's snapshot came first: the streams it shows NEW came
      // before this GETCONF, held for a controller only if the option was
      // set (a restarted tor has it off: they are tor's own).
      if (core->snapshot_unoffered_ && held && core->installed_) core->offer_snapshot_new();
      core->snapshot_unoffered_ = false;
    });
  }
  line_.assign("SETCONF ").append(kOption).append("=1");
  sink_->command(line_, [self](const Expected<Reply>& r) {
    auto core = self.lock();
    if (core && !r)
      core->report({AttachReport::Kind::option_failed,
                    {},
                    {},
                    r.error().status,
                    "setting it again after reconnecting: " + r.error().message,
                    AttachDecision::leave()},
                   0);
  });
  if (state_.attached()) return;
  for (const Stream* s : state_.streams())
    if (installed_ && s->needs_decision()) offer(*s, 0);
}

void AttachCore::on_snapshot(SnapshotOrigin origin) {
  snapshot_offered_.clear();
  if (!installed_) return;
  if (origin == SnapshotOrigin::same_tor) {
    // Still waiting after the gap: the answer sent before it may never have
    // reached tor (its reply was lost with the connection).
    std::vector<std::string> again = std::move(reoffer_);
    reoffer_.clear();
    for (const std::string& id : again) {
      const Stream* s = state_.stream(id);
      if (installed_ && s && s->needs_decision() && !owed_.contains(id)) offer(*s, 0);
    }
  }
  reoffer_.clear();
  if (!held_before_us_) {
    snapshot_unoffered_ = true;  // the GETCONF's answer decides
    return;
  }
  // attach()'s snapshot after our SETCONF: tor held every new stream for us
  // since. A resync's: held only if tor had the option before we set it.
  if (origin == SnapshotOrigin::attach || *held_before_us_) offer_snapshot_new();
}

void AttachCore::offer_snapshot_new() {
  std::vector<std::string> ids;
  for (const Stream* s : state_.streams())
    if (s->may_need_decision() && !owed_.contains(s->id()) && !snapshot_offered_.contains(s->id()))
      ids.emplace_back(s->id());
  std::sort(ids.begin(), ids.end());
  for (const std::string& id : ids) {
    const Stream* s = state_.stream(id);
    if (!installed_ || !s || !s->may_need_decision()) continue;
    snapshot_offered_.insert(id);
    offer(*s, 0);
  }
}

void AttachCore::uninstall(std::function<void(const Status&)> done) {
  if (!installed_) {
    if (done) done(Status{});
    return;
  }
  installed_ = false;
  registry_add(sink_->connection(), -1);
  // What was owed goes to tor: nobody will answer for it now.
  auto owed = std::move(owed_);
  owed_.clear();
  for (const auto& [id, o] : owed) {
    const Stream* s = state_.stream(id);
    if (s && awaits(*s) && s->detach_count() == o.offer)
      send(Sent::attach_zero, id, "0", 0, o.offer, o.decider);
  }
  std::weak_ptr<AttachCore> self = weak_from_this();
  line_.assign("SETCONF ").append(kOption).append("=0");
  sink_->command(line_, [self, done = std::move(done)](const Expected<Reply>& r) {
    auto core = self.lock();
    if (core && !r && r.error().code == Errc::tor_error)
      core->report({AttachReport::Kind::option_failed,
                    {},
                    {},
                    r.error().status,
                    r.error().message,
                    AttachDecision::leave()},
                   0);
    if (done) done(r ? Status{} : Status(r.error()));
  });
}

// ---- offers -----------------------------------------------------------------------

void AttachCore::on_stream(const Stream& s, StreamChanges what) {
  if (what & stream_removed) {
    if (!owed_.empty()) owed_.erase(s.id());
    if (!snapshot_offered_.empty()) snapshot_offered_.erase(s.id());
    return;
  }
  if (!installed_ || !(what & (stream_state | stream_created)) || !s.needs_decision()) return;
  // A new offer replaces one still owed from before a DETACHED, and one
  // due after a reconnection.
  if (!owed_.empty()) owed_.erase(s.id());
  if (!reoffer_.empty()) std::erase(reoffer_, s.id());
  offer(s, 0);
}

void AttachCore::offer(const Stream& s, std::size_t from) {
  // By index over the attachers present now: one added meanwhile waits for
  // the next offer; a removed one is only marked until the walk ends.
  const std::size_t n = chain_.size();
  ++depth_;
  for (std::size_t i = from; i < n; ++i) {
    if (chain_[i].removed) continue;
    const StreamAttacher::Id id = chain_[i].id;
    AttachRequest req(*this, s, i + 1);
    AttachDecision d = AttachDecision::pass();
    std::string_view problem;
    std::string what;
    try {
      d = (*chain_[i].decide)(req);
    } catch (const std::exception& e) {
      what = std::string("the attacher threw: ") + e.what();
      problem = what;
    } catch (...) {
      problem = "the attacher threw a non-standard exception";
    }
    if (req.deferred_ != 0) {
      auto it = owed_.find(s.id());
      const bool mine = it != owed_.end() && it->second.token == req.deferred_;
      if (problem.empty() && d.kind() == AttachDecision::Kind::later) {
        if (mine) it->second.decider = id;
        --depth_;
        if (depth_ == 0 && dirty_) prune();
        return;  // the PendingAttach carries the answer
      }
      if (mine) owed_.erase(it);  // answered now after all
    } else if (problem.empty() && d.kind() == AttachDecision::Kind::later) {
      problem = "later() without AttachRequest::defer(): nobody can answer";
    }
    if (!problem.empty()) {
      --depth_;
      if (depth_ == 0 && dirty_) prune();
      report(
          {AttachReport::Kind::invalid_decision,
           s.id(),
           {},
           0,
           problem,
           options_.fallback == AttacherOptions::Fallback::close ? AttachDecision::close()
                                                                 : AttachDecision::tor_chooses()},
          id);
      return fallback(s, id);
    }
    if (d.kind() == AttachDecision::Kind::pass) continue;
    --depth_;
    if (depth_ == 0 && dirty_) prune();
    return carry_out(s, d, id);
  }
  --depth_;
  if (depth_ == 0 && dirty_) prune();
  // Nobody claimed it: what tor would have done without an attacher.
  carry_out(s, AttachDecision::tor_chooses(), 0);
}

void AttachCore::carry_out(const Stream& s, const AttachDecision& d, StreamAttacher::Id decider) {
  const std::uint32_t offer = s.detach_count();
  switch (d.kind()) {
    case AttachDecision::Kind::circuit: {
      if (!d.valid()) {
        std::string why;
        if (d.exit_hop() == 1)
          why = "HOP=1: tor does not let a stream exit at the first hop";
        else if (d.exit_hop() < 0)
          why = "the exit hop must be 0 (the last hop) or at least 2";
        else
          why = "circuit ID \"" + std::string(d.circuit_id()) + "\" is not 1-16 letters or digits";
        report(
            {AttachReport::Kind::invalid_decision, s.id(), d.circuit_id(), 0, why,
             options_.fallback == AttacherOptions::Fallback::close ? AttachDecision::close()
                                                                   : AttachDecision::tor_chooses()},
            decider);
        return fallback(s, decider);
      }
      if (s.target_is_onion() && d.circuit_id() != "0") {
        report({AttachReport::Kind::onion_to_tor, s.id(), d.circuit_id(), 0,
                "a .onion stream goes to circuit 0: tor refuses (551) to attach it to a general "
                "circuit and then kills it",
                AttachDecision::tor_chooses()},
               decider);
        return send(Sent::attach_zero, s.id(), "0", 0, offer, decider);
      }
      if (d.circuit_id() == "0") return send(Sent::attach_zero, s.id(), "0", 0, offer, decider);
      return send(Sent::attach, s.id(), d.circuit_id(), d.exit_hop(), offer, decider);
    }
    case AttachDecision::Kind::tor_chooses:
      return send(Sent::attach_zero, s.id(), "0", 0, offer, decider);
    case AttachDecision::Kind::close:
      return send(Sent::close, s.id(), {}, int(d.close_reason()), offer, decider);
    case AttachDecision::Kind::leave:
    case AttachDecision::Kind::later:
    case AttachDecision::Kind::pass: return;
  }
}

void AttachCore::fallback(const Stream& s, StreamAttacher::Id decider) {
  if (options_.fallback == AttacherOptions::Fallback::close)
    return send(Sent::close, s.id(), {}, int(StreamCloseReason::misc), s.detach_count(), decider);
  send(Sent::attach_zero, s.id(), "0", 0, s.detach_count(), decider);
}

// ---- commands ------------------------------------------------------------------

void AttachCore::send(Sent what, std::string_view sid, std::string_view cid, int number,
                      std::uint32_t offer, StreamAttacher::Id decider) {
  if (!is_control_id(sid)) return;  // tor's IDs always are; nothing to send for another
  if (what == Sent::close) {
    line_.assign("CLOSESTREAM ").append(sid).append(" ");
    append_number(line_, number);
  } else {
    line_.assign("ATTACHSTREAM ").append(sid).append(" ").append(cid);
    if (number > 0) {
      line_.append(" HOP=");
      append_number(line_, number);
    }
  }
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = std::uint32_t(in_flight_.size());
    in_flight_.emplace_back();
    // Every slot can be free at once: room for all of them, reserved now.
    if (free_slots_.capacity() < in_flight_.capacity()) free_slots_.reserve(in_flight_.capacity());
  }
  InFlight& f = in_flight_[slot];
  f.used = true;
  f.what = what;
  f.offer = offer;
  f.decider = decider;
  f.sid_len = std::uint8_t(sid.size());
  sid.copy(f.sid, sid.size());
  f.cid_len = std::uint8_t(std::min<std::size_t>(cid.size(), sizeof f.cid));
  cid.copy(f.cid, f.cid_len);
  ++anchor_->outstanding;
  // A pointer and a slot: fits std::function's inline storage (no allocation).
  sink_->command(line_, [a = anchor_, slot](const Expected<Reply>& r) {
    --a->outstanding;
    if (!a->core) {
      if (a->outstanding == 0) delete a;
      return;
    }
    a->core->on_reply(slot, r);
  });
}

void AttachCore::on_reply(std::uint32_t slot, const Expected<Reply>& r) {
  const InFlight f = in_flight_[slot];
  in_flight_[slot].used = false;
  free_slots_.push_back(slot);
  if (r) return;
  // Not tor's refusal (the connection ended): nothing can be sent; the
  // streams still wait in tor and are offered again by the next install().
  if (r.error().code != Errc::tor_error) return;
  const std::string_view sid(f.sid, f.sid_len), cid(f.cid, f.cid_len);
  const Stream* s = state_.stream(sid);
  // 555 ("not managed by controller") for a stream only a snapshot showed
  // NEW: tor was finding a circuit for it itself, and still is.
  const bool waiting = s && s->detach_count() == f.offer &&
                       (s->needs_decision() || (s->may_need_decision() && r.error().status != 555));
  AttachDecision then = AttachDecision::leave();
  if (waiting) {
    if (f.what == Sent::attach && options_.fallback == AttacherOptions::Fallback::tor_chooses)
      then = AttachDecision::tor_chooses();
    else if (f.what != Sent::close)
      then = AttachDecision::close();
  }
  report({AttachReport::Kind::refused, sid, f.what == Sent::close ? std::string_view{} : cid,
          r.error().status, r.error().message, then},
         f.decider);
  // The report may not feed the state, so the stream is still there.
  if (then.kind() == AttachDecision::Kind::leave) return;
  s = state_.stream(sid);
  if (!s) return;
  if (then.kind() == AttachDecision::Kind::tor_chooses)
    send(Sent::attach_zero, sid, "0", 0, f.offer, f.decider);
  else
    send(Sent::close, sid, {}, int(StreamCloseReason::misc), f.offer, f.decider);
}

// ---- deferred answers --------------------------------------------------------

std::uint64_t AttachCore::defer(const Stream& s, std::size_t next) {
  const std::uint64_t token = next_token_++;
  owed_.insert_or_assign(std::string(s.id()), Owed{token, s.detach_count(), next, 0});
  return token;
}

bool AttachCore::still_owed(std::string_view stream_id, std::uint64_t token) const {
  auto it = owed_.find(stream_id);
  if (it == owed_.end() || it->second.token != token) return false;
  const Stream* s = state_.stream(stream_id);
  return s && awaits(*s) && s->detach_count() == it->second.offer;
}

bool AttachCore::decide_late(std::string_view stream_id, std::uint64_t token,
                             const AttachDecision& d) {
  if (d.kind() == AttachDecision::Kind::later) return false;
  auto it = owed_.find(stream_id);
  if (it == owed_.end() || it->second.token != token) return false;
  const Owed o = it->second;
  owed_.erase(it);
  const Stream* s = state_.stream(stream_id);
  if (!installed_ || !s || !awaits(*s) || s->detach_count() != o.offer) return false;
  if (d.kind() == AttachDecision::Kind::pass)
    offer(*s, o.next);
  else
    carry_out(*s, d, o.decider);
  return true;
}

void AttachCore::abandoned(std::string_view stream_id, std::uint64_t token) {
  if (!still_owed(stream_id, token)) return;
  auto it = owed_.find(stream_id);
  const Owed o = it->second;
  owed_.erase(it);
  const Stream* s = state_.stream(stream_id);
  if (!installed_) return;
  report({AttachReport::Kind::abandoned,
          stream_id,
          {},
          0,
          "a PendingAttach was dropped without a decision",
          options_.fallback == AttacherOptions::Fallback::close ? AttachDecision::close()
                                                                : AttachDecision::tor_chooses()},
         o.decider);
  s = state_.stream(stream_id);
  if (s) fallback(*s, o.decider);
}

}  // namespace torcon::detail
