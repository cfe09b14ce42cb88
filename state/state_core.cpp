#include "state_core.hpp"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <utility>

#include "target.hpp"
#include "torcon/getinfo.hpp"

namespace torcon::detail {

namespace {

// A circuit's lifecycle order; a state only moves to a higher rank. 0: a
// status newer than this library, which takes no part in the order.
std::uint8_t circ_rank(CircStatus s) {
  switch (s) {
    case CircStatus::launched: return 1;
    case CircStatus::extended: return 2;
    case CircStatus::guard_wait: return 3;
    case CircStatus::built: return 4;
    case CircStatus::failed:
    case CircStatus::closed: return 5;
    case CircStatus::other: return 0;
  }
  return 0;
}

// A stream's order within one attachment. DETACHED starts a new attachment
// (rank 1, below CONTROLLER_WAIT); the XON/XOFF flow-control statuses are
// notices that do not move the lifecycle (kNotice).
constexpr std::uint8_t kNotice = 0xff;
std::uint8_t stream_rank(StreamStatus s) {
  switch (s) {
    case StreamStatus::new_:
    case StreamStatus::new_resolve: return 1;
    case StreamStatus::detached: return 1;
    case StreamStatus::controller_wait: return 2;
    case StreamStatus::sent_connect:
    case StreamStatus::sent_resolve: return 3;
    case StreamStatus::remap: return 4;
    case StreamStatus::succeeded: return 5;
    case StreamStatus::failed:
    case StreamStatus::closed: return 6;
    case StreamStatus::xoff_sent:
    case StreamStatus::xoff_recv:
    case StreamStatus::xon_sent:
    case StreamStatus::xon_recv: return kNotice;
    case StreamStatus::other: return 0;
  }
  return 0;
}

bool is_final(CircStatus s) { return s == CircStatus::failed || s == CircStatus::closed; }
bool is_final(StreamStatus s) { return s == StreamStatus::failed || s == StreamStatus::closed; }

// field = text, as clear() and append(): std::string's assign() goes through
// _M_replace (overlap checks, a general splice), the larger cost of a field
// that changes on every event (the status text).
[[gnu::always_inline]] inline void set_text(std::string& field, std::string_view text) {
  field.clear();
  field.append(text.data(), text.size());
}

// a == b for the short texts events repeat (IDs, purposes, flags, hex
// nonces): eight bytes at a time, inline, rather than a memcmp call each.
[[gnu::always_inline]] inline bool same_text(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  if (n < 8) {
    for (std::size_t i = 0; i < n; ++i)
      if (a[i] != b[i]) return false;
    return true;
  }
  std::uint64_t x, y, diff = 0;
  for (std::size_t i = 0; i + 8 < n; i += 8) {
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    diff |= x ^ y;
  }
  std::memcpy(&x, a.data() + n - 8, 8);  // the last eight, overlapping
  std::memcpy(&y, b.data() + n - 8, 8);
  return (diff | (x ^ y)) == 0;
}

// Copies a field an event carries into the entry; absent fields keep what
// an earlier event said. Inlined: a STREAM event checks a dozen fields, most
// of them unchanged, and the calls cost more than the comparisons.
[[gnu::always_inline]] inline bool update(std::string& field, std::string_view value) {
  if (value.empty() || same_text(field, value)) return false;
  set_text(field, value);
  return true;
}
[[gnu::always_inline]] inline bool update(std::string& field, const Value& value,
                                          std::string& scratch) {
  if (!value.present) return false;
  const std::string_view v = value.escaped ? value.decoded(scratch) : value.text;
  if (same_text(field, v)) return false;
  set_text(field, v);
  return true;
}

// Whether `path` names more than `known` hops: a hop after the first
// `known` commas. Every CIRC event carries its path; a jump from comma to
// comma is a few steps where counting them all read every byte.
bool has_hops_beyond(std::string_view path, std::size_t known) {
  if (path.empty()) return false;
  const char* p = path.data();
  const char* const end = p + path.size();
  for (; known > 0; --known) {
    const void* comma = std::memchr(p, ',', std::size_t(end - p));
    if (!comma) return false;
    p = static_cast<const char*>(comma) + 1;
  }
  return true;
}

}  // namespace

// A decimal count (process/pid, uptime); nullopt if it is not one.
std::optional<std::uint64_t> parse_count(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t n = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9' || n > UINT64_MAX / 10 - 1) return std::nullopt;
    n = n * 10 + std::uint64_t(ch - '0');
  }
  return n;
}

Status StateCore::apply(const Event& ev) {
  switch (ev.type) {
    case EventType::circ: return apply_circ(*ev.get<CircEvent>(), false);
    case EventType::stream: return apply_stream(*ev.get<StreamEvent>(), false);
    case EventType::circ_minor: apply_circ_minor(*ev.get<CircMinorEvent>()); return {};
    case EventType::circ_bw: apply_circ_bw(*ev.get<CircBwEvent>()); return {};
    case EventType::ns:
    case EventType::newconsensus: {
      const NetworkStatusEvent* ns = ev.get<NetworkStatusEvent>();
      std::span<const std::uint32_t> ends;
      for (const ReplyLine& l : ev.lines)
        if (l.sep == Sep::data && l.data.data() == ns->data.data()) ends = l.data_line_ends;
      return routers_.apply_consensus(ns->data, ends, ev.type == EventType::newconsensus);
    }
    case EventType::addrmap: return apply_addrmap(*ev.get<AddrMapEvent>(), false);
    case EventType::guard: {
      const GuardEvent& g = *ev.get<GuardEvent>();
      if (g.type != "ENTRY") return {};  // the only type tor has; newer ones are not guards we know
      return apply_guard(g.name, g.status, false);
    }
    default: return {};
  }
}

// ---- address map -----------------------------------------------------------

Status StateCore::apply_addrmap(const AddrMapEvent& e, bool from_snapshot) {
  if (from_snapshot && !unconfirmed_addresses_.empty()) unconfirmed_addresses_.erase(e.address);
  Status s = addrmap_.apply(e, from_snapshot);
  rearm_expiry();
  return s;
}

void StateCore::expire_addresses(SystemTime now) {
  addrmap_.expire(now);
  rearm_expiry();
}

void StateCore::rearm_expiry() {
  if (!reactor_) return;
  const std::optional<SystemTime> next = addrmap_.next_expiry();
  if (next == timer_for_) return;
  reactor_->cancel_timer(expiry_timer_);
  timer_for_ = next;
  if (!next) return;
  const auto delay = std::max(*next - std::chrono::system_clock::now(),
                              std::chrono::system_clock::duration::zero());
  expiry_timer_ = reactor_->start_timer(
      std::chrono::duration_cast<Reactor::Duration>(delay) + std::chrono::milliseconds(1), [this] {
        timer_for_.reset();
        expire_addresses(std::chrono::system_clock::now());
      });
}

// ---- guards ------------------------------------------------------------------------

Status StateCore::apply_guard(std::string_view name, std::string_view status, bool from_snapshot) {
  // tor writes "$FP~" for a guard whose nickname it does not know (a bridge
  // before its descriptor arrived): the fingerprint alone names it.
  if (name.size() == 42 && (name.back() == '~' || name.back() == '=')) name.remove_suffix(1);
  LongName ln;
  if (!parse_long_name(name, ln) || !ln.has_fingerprint)
    return Error(Errc::bad_argument, "guard \"" + std::string(name) + "\" is not $fingerprint");
  if (from_snapshot && !unconfirmed_guards_.empty())
    unconfirmed_guards_.erase(fingerprint_hex(ln.identity));
  std::string lower(status);
  for (char& c : lower)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  auto it = std::find_if(guards_.begin(), guards_.end(),
                         [&](const Guard& g) { return g.router->identity() == ln.identity; });
  if (lower == "dropped") {
    if (it != guards_.end()) remove_guard(std::size_t(it - guards_.begin()));
    return {};
  }
  if (it == guards_.end()) {
    Router* r = routers_.resolve(ln);
    routers_.ref(r);
    guards_.push_back(Guard{r, std::move(lower)});
    if (!guard_listeners_.empty())
      guard_listeners_.call(on_error_, guards_.back(), GuardChange::added);
    return {};
  }
  // "new" from an event says no more than that it is a guard.
  if (it->status == lower || (lower == "new" && !from_snapshot)) return {};
  it->status = std::move(lower);
  if (!guard_listeners_.empty()) guard_listeners_.call(on_error_, *it, GuardChange::changed);
  return {};
}

void StateCore::remove_guard(std::size_t index) {
  Guard gone = std::move(guards_[index]);
  guards_.erase(guards_.begin() + std::ptrdiff_t(index));
  if (!guard_listeners_.empty()) guard_listeners_.call(on_error_, gone, GuardChange::removed);
  routers_.unref(const_cast<Router*>(gone.router));
}

Status StateCore::apply_reply(const Reply& r) {
  if (r.is_async()) {
    Event ev;
    if (Status s = parse_event(r, ev); !s) return s;
    return apply(ev);
  }
  if (!r.is_ok()) return Error(Errc::tor_error, std::string(r.status_text()), 0, r.code);
  return apply_getinfo(r);
}

// ---- circuits -----------------------------------------------------------------

Status StateCore::apply_circ(const CircEvent& e, bool from_snapshot) {
  // Named again after a reconnection: not one that ended in the gap. (A
  // circuit's state only moves forward, so the usual rules merge it.)
  if (!unconfirmed_circuits_.empty()) unconfirmed_circuits_.erase(e.id);
  auto it = circuits_.find(e.id);
  CircuitChanges what = 0;
  if (it == circuits_.end()) {
    if (is_final(e.status_enum)) {  // never seen alive: nothing to end
      if (snapshot_pending_ && !from_snapshot) ended_circuits_.emplace(e.id);
      return {};
    }
    if (from_snapshot && ended_circuits_.contains(e.id)) return {};
    std::unique_ptr<Circuit> c = new_circuit();
    set_text(c->id_, e.id);
    it = circuits_.emplace(c->id_, std::move(c)).first;
    what |= circuit_created;
  }
  Circuit& c = *it->second;
  const std::uint8_t rank = circ_rank(e.status_enum);
  if (rank != 0 && rank < c.rank_) return {};  // older news than what we know
  if (c.state_ != e.status_enum || !same_text(c.state_text_, e.status)) {
    c.state_ = e.status_enum;
    set_text(c.state_text_, e.status);
    what |= circuit_state;
  }
  if (rank != 0) c.rank_ = rank;
  if (has_hops_beyond(e.path, c.path_.size()) && set_path(c, e.path)) what |= circuit_path;
  if (update(c.purpose_, e.purpose)) what |= circuit_purpose;
  bool details = update(c.build_flags_, e.build_flags);
  details |= update(c.hs_state_, e.hs_state);
  details |= update(c.rend_query_, e.rend_query);
  details |= update(c.time_created_, e.time_created);
  details |= update(c.socks_username_, e.socks_username, scratch_);
  details |= update(c.socks_password_, e.socks_password, scratch_);
  details |= update(c.conflux_id_, e.conflux_id);
  details |= update(c.reason_, e.reason);
  details |= update(c.remote_reason_, e.remote_reason);
  if (details) what |= circuit_details;
  if (what & circuit_created) what &= circuit_created | circuit_removed;
  if (is_final(c.state_)) {
    notify(c, what | circuit_removed);
    remove_circuit(c);
    return {};
  }
  notify(c, what);
  return {};
}

// Appends the hops of `path` beyond those the circuit has: tor only ever
// extends a circuit's path, so the hops before are the ones already
// resolved. False if a new hop does not parse: the path then stays as it was.
bool StateCore::set_path(Circuit& c, std::string_view path) {
  std::string_view rest = path;
  for (std::size_t skip = c.path_.size(); skip > 0; --skip) {
    const std::size_t comma = rest.find(',');
    if (comma == std::string_view::npos) return false;
    rest.remove_prefix(comma + 1);
  }
  const std::size_t had = c.path_.size();
  LongNameReader reader(rest, ',');
  for (LongName h; reader.next(h);) {
    Router* r = routers_.resolve(h);
    if (r) routers_.ref(r);
    c.path_.push_back(r);
  }
  if (reader.error().code == Errc::ok) return true;
  if (on_error_) on_error_("circuit " + c.id_ + ": " + reader.error().message);
  for (std::size_t i = had; i < c.path_.size(); ++i)
    if (c.path_[i]) routers_.unref(const_cast<Router*>(c.path_[i]));
  c.path_.resize(had);
  return false;
}

void StateCore::remove_circuit(Circuit& c) {
  // Its streams outlive it until their own CLOSED; they are told the
  // circuit went.
  std::vector<const Stream*> streams = std::move(c.streams_);
  for (const Stream* s : streams) {
    Stream& st = const_cast<Stream&>(*s);
    st.circuit_ = nullptr;
    notify(st, stream_circuit);
  }
  for (const Router* r : c.path_)
    if (r) routers_.unref(const_cast<Router*>(r));
  c.path_.clear();
  if (snapshot_pending_) ended_circuits_.insert(c.id_);
  auto it = circuits_.find(c.id_);
  std::unique_ptr<Circuit> owned = std::move(it->second);
  circuits_.erase(it);
  recycle(std::move(owned));
}

void StateCore::apply_circ_minor(const CircMinorEvent& e) {
  auto it = circuits_.find(e.id);
  if (it == circuits_.end()) return;  // the snapshot or a CIRC event will bring it
  Circuit& c = *it->second;
  CircuitChanges what = 0;
  if (e.event_enum == CircMinorKind::cannibalized && !c.cannibalized_) {
    c.cannibalized_ = true;
    what |= circuit_purpose;
  }
  if (!e.old_purpose.empty() && e.purpose != c.purpose_) update(c.old_purpose_, e.old_purpose);
  if (update(c.purpose_, e.purpose)) what |= circuit_purpose;
  bool details = update(c.build_flags_, e.build_flags);
  details |= update(c.hs_state_, e.hs_state);
  details |= update(c.rend_query_, e.rend_query);
  if (details) what |= circuit_details;
  if (has_hops_beyond(e.path, c.path_.size()) && set_path(c, e.path)) what |= circuit_path;
  notify(c, what);
}

void StateCore::apply_circ_bw(const CircBwEvent& e) {
  auto it = circuits_.find(e.id);
  if (it == circuits_.end()) return;
  CircuitBandwidth& b = it->second->bandwidth_;
  b.read += e.read;
  b.written += e.written;
  b.delivered_read += e.delivered_read.value_or(0);
  b.delivered_written += e.delivered_written.value_or(0);
  b.overhead_read += e.overhead_read.value_or(0);
  b.overhead_written += e.overhead_written.value_or(0);
  notify(*it->second, circuit_bandwidth);
}

// ---- streams -------------------------------------------------------------------

Status StateCore::apply_stream(const StreamEvent& e, bool from_snapshot) {
  // A stream from before a reconnection that no event of the new connection
  // named: the snapshot's line is newer than anything known of it.
  const bool gap_line =
      !unconfirmed_streams_.empty() && unconfirmed_streams_.erase(e.id) > 0 && from_snapshot;
  auto it = streams_.find(e.id);
  StreamChanges what = 0;
  if (it == streams_.end()) {
    if (is_final(e.status_enum)) {
      if (snapshot_pending_ && !from_snapshot) ended_streams_.emplace(e.id);
      return {};
    }
    if (from_snapshot && ended_streams_.contains(e.id)) return {};
    std::unique_ptr<Stream> s = new_stream();
    set_text(s->id_, e.id);
    it = streams_.emplace(s->id_, std::move(s)).first;
    what |= stream_created;
  }
  Stream& s = *it->second;
  const std::uint8_t rank = stream_rank(e.status_enum);
  const bool created = what & stream_created;
  // NEW only ever starts a stream; an older status than the attachment has
  // reached is stale. DETACHED always applies: it starts a new attachment.
  bool stale =
      (!created && rank == 1 && e.status_enum != StreamStatus::detached) ||
      (rank != 0 && rank != kNotice && e.status_enum != StreamStatus::detached && rank < s.rank_);
  if (gap_line && rank != 0 && rank != kNotice && s.rank_ >= 3 && rank < s.rank_) {
    // It was attached and is further back now: tor detached it while the
    // connection was down (it waits again, or went to another circuit); the
    // DETACHED and its reasons were lost. (NEW for a stream known as
    // CONTROLLER_WAIT is the same wait: stream-status writes it so.)
    stale = false;
    ++s.detaches_;
    s.reason_.clear();
    s.remote_reason_.clear();
    s.rank_ = 0;
    if (s.circuit_) {
      attach_stream(s, nullptr);
      what |= stream_circuit;
    }
  }
  if (!stale && rank != kNotice) {
    if (s.state_ != e.status_enum || !same_text(s.state_text_, e.status)) {
      s.state_ = e.status_enum;
      set_text(s.state_text_, e.status);
      what |= stream_state;
    }
    if (rank != 0) s.rank_ = rank;
  }
  if (!stale) {
    if (update(s.circuit_id_, e.circ_id)) what |= stream_details;
    switch (e.status_enum) {
      case StreamStatus::sent_connect:
      case StreamStatus::sent_resolve:
      case StreamStatus::succeeded:
      case StreamStatus::remap:
        // Already on that circuit (the usual SUCCEEDED, REMAP): no lookup.
        if (e.circ_id != "0" && !(s.circuit_ && same_text(s.circuit_->id_, e.circ_id))) {
          auto c = circuits_.find(e.circ_id);
          Circuit* circ = c == circuits_.end() ? nullptr : c->second.get();
          if (circ != s.circuit_) {
            attach_stream(s, circ);
            what |= stream_circuit;
          }
        }
        break;
      case StreamStatus::detached:
        ++s.detaches_;
        // This DETACHED's reasons, not an earlier event's: an attacher
        // reads them at the re-offer that follows (stream_attacher.hpp).
        s.reason_.clear();
        s.remote_reason_.clear();
        if (s.circuit_) {
          attach_stream(s, nullptr);
          what |= stream_circuit;
        }
        break;
      default: break;
    }
  }
  if (!same_text(e.target, s.target_)) {
    set_text(s.target_, e.target);
    const HostPort hp = split_target(e.target);
    set_text(s.host_, hp.host);
    s.port_ = hp.port;
    if (created)
      s.requested_host_ = s.host_;
    else
      what |= stream_target;
  }
  // stream-status writes a stream held for a controller as NEW with circuit
  // 0, like one tor is finding a circuit for (Stream::may_need_decision()).
  // Only for a stream no event of this connection named: one that events
  // follow gets its CONTROLLER_WAIT as an event if tor holds it.
  if (!from_snapshot)
    s.snapshot_new_ = false;
  else if ((created || gap_line) &&
           (e.status_enum == StreamStatus::new_ || e.status_enum == StreamStatus::new_resolve) &&
           (e.circ_id.empty() || e.circ_id == "0") && s.rank_ <= 1)
    s.snapshot_new_ = true;
  bool details = false;
  if (!e.source_addr.empty()) {
    const HostPort src = split_target(e.source_addr);
    details |= update(s.source_address_, src.host);
    if (s.source_port_ != src.port) {
      s.source_port_ = src.port;
      details = true;
    }
  }
  details |= update(s.purpose_, e.purpose);
  details |= update(s.socks_username_, e.socks_username, scratch_);
  details |= update(s.socks_password_, e.socks_password, scratch_);
  details |= update(s.client_protocol_, e.client_protocol);
  details |= update(s.nym_epoch_, e.nym_epoch);
  details |= update(s.session_group_, e.session_group);
  details |= update(s.iso_fields_, e.iso_fields);
  details |= update(s.reason_, e.reason);
  details |= update(s.remote_reason_, e.remote_reason);
  if (details) what |= stream_details;
  if (created) what &= stream_created;
  if (is_final(s.state_)) {
    notify(s, what | stream_removed);
    if (s.circuit_) attach_stream(s, nullptr);  // the circuit's listeners hear it
    if (snapshot_pending_) ended_streams_.insert(s.id_);
    std::unique_ptr<Stream> owned = std::move(it->second);
    streams_.erase(it);
    recycle(std::move(owned));
    return {};
  }
  notify(s, what);
  return {};
}

void StateCore::attach_stream(Stream& s, Circuit* c) {
  if (s.circuit_) {
    Circuit& old = const_cast<Circuit&>(*s.circuit_);
    std::erase(old.streams_, &s);
    s.circuit_ = nullptr;
    notify(old, circuit_streams);
  }
  if (c) {
    c->streams_.push_back(&s);
    s.circuit_ = c;
    notify(*c, circuit_streams);
  }
}

// ---- reuse ---------------------------------------------------------------------

namespace {
constexpr std::size_t kSpares = 256;  // a busy client's streams in flight
}

std::unique_ptr<Circuit> StateCore::new_circuit() {
  if (spare_circuits_.empty()) return std::make_unique<Circuit>();
  std::unique_ptr<Circuit> c = std::move(spare_circuits_.back());
  spare_circuits_.pop_back();
  return c;
}

std::unique_ptr<Stream> StateCore::new_stream() {
  if (spare_streams_.empty()) return std::make_unique<Stream>();
  std::unique_ptr<Stream> s = std::move(spare_streams_.back());
  spare_streams_.pop_back();
  return s;
}

// Back to a default-constructed object's values, keeping the strings' and
// vectors' capacity. Every member is listed: one added to Circuit or Stream
// must be reset here too (the size checks below are a reminder).
void StateCore::recycle(std::unique_ptr<Circuit> c) {
  if (spare_circuits_.size() >= kSpares) return;
  static_assert(sizeof(Circuit) == 520 || sizeof(void*) != 8,
                "Circuit changed: reset the new member in StateCore::recycle");
  Circuit& x = *c;
  x.id_.clear();
  x.state_ = CircStatus::other;
  x.rank_ = 0;
  x.cannibalized_ = false;
  x.state_text_.clear();
  x.path_.clear();
  for (std::string* f : {&x.purpose_, &x.build_flags_, &x.hs_state_, &x.rend_query_,
                         &x.time_created_, &x.socks_username_, &x.socks_password_, &x.conflux_id_,
                         &x.reason_, &x.remote_reason_, &x.old_purpose_})
    f->clear();
  x.bandwidth_ = CircuitBandwidth{};
  x.streams_.clear();
  spare_circuits_.push_back(std::move(c));
}

void StateCore::recycle(std::unique_ptr<Stream> s) {
  if (spare_streams_.size() >= kSpares) return;
  static_assert(sizeof(Stream) == 536 || sizeof(void*) != 8,
                "Stream changed: reset the new member in StateCore::recycle");
  Stream& x = *s;
  x.id_.clear();
  x.state_ = StreamStatus::other;
  x.rank_ = 0;
  x.port_ = x.source_port_ = 0;
  x.detaches_ = 0;
  x.snapshot_new_ = false;
  x.circuit_ = nullptr;
  for (std::string* f : {&x.state_text_, &x.circuit_id_, &x.target_, &x.host_, &x.requested_host_,
                         &x.source_address_, &x.purpose_, &x.socks_username_, &x.socks_password_,
                         &x.client_protocol_, &x.nym_epoch_, &x.session_group_, &x.iso_fields_,
                         &x.reason_, &x.remote_reason_})
    f->clear();
  spare_streams_.push_back(std::move(s));
}

// ---- GETINFO replies --------------------------------------------------------------

Status StateCore::apply_getinfo(const Reply& r) {
  KeyValueReader kv(r);
  Status result;
  auto note = [&](Status s) {
    if (!s && result) result = std::move(s);
  };
  // Each circuit-status / stream-status line is a CIRC / STREAM event's
  // arguments; parse it as one.
  auto each_line = [&](const KeyValue& v, std::string_view event_name, auto&& apply_line) {
    auto one = [&](std::string_view line) {
      if (line.empty()) return;
      scratch_.assign(event_name);
      scratch_ += ' ';
      scratch_.append(line);
      const std::string text = scratch_;  // scratch_ is reused while applying
      ReplyLine rl{650, Sep::end, text, {}, {}};
      Reply fake{650, std::span<const ReplyLine>(&rl, 1), text, 0};
      Event ev;
      if (Status s = parse_event(fake, ev); !s) {
        note(Error(Errc::bad_argument, std::string(v.key) + " line \"" + std::string(line) +
                                           "\": " + s.error().message));
        return;
      }
      note(apply_line(ev));
    };
    if (!v.is_data) return one(v.value);
    DataLines lines(v.value);
    for (std::string_view line; lines.next(line);) one(line);
  };
  for (KeyValue v; kv.next(v);) {
    if (v.key == "ns/all") {
      std::span<const std::uint32_t> ends;
      for (const ReplyLine& l : r.lines)
        if (l.sep == Sep::data && l.data.data() == v.value.data()) ends = l.data_line_ends;
      note(routers_.apply_consensus(v.is_data ? v.value : std::string_view{}, ends, true));
    } else if (v.key == "circuit-status") {
      each_line(v, "CIRC", [&](const Event& ev) { return apply_circ(*ev.get<CircEvent>(), true); });
    } else if (v.key == "stream-status") {
      each_line(v, "STREAM",
                [&](const Event& ev) { return apply_stream(*ev.get<StreamEvent>(), true); });
      // An event before the reply may have attached a stream to a circuit
      // the state learnt of only now.
      for (auto& [id, s] : streams_) {
        if (s->circuit_ || s->circuit_id_.empty() || s->circuit_id_ == "0" || s->rank_ < 3 ||
            s->state_ == StreamStatus::detached)
          continue;
        auto c = circuits_.find(s->circuit_id_);
        if (c == circuits_.end()) continue;
        attach_stream(*s, c->second.get());
        notify(*s, stream_circuit);
      }
    } else if (v.key == "address-mappings/all") {
      each_line(v, "ADDRMAP",
                [&](const Event& ev) { return apply_addrmap(*ev.get<AddrMapEvent>(), true); });
    } else if (v.key == "entry-guards") {
      // "$FP~nick status [since]" per line.
      auto one = [&](std::string_view line) {
        const std::size_t sp = line.find(' ');
        if (line.empty()) return;
        if (sp == std::string_view::npos) {
          note(Error(Errc::bad_argument, "entry-guards line \"" + std::string(line) + "\""));
          return;
        }
        std::string_view status = line.substr(sp + 1);
        status = status.substr(0, status.find(' '));
        note(apply_guard(line.substr(0, sp), status, true));
      };
      if (!v.is_data) {
        one(v.value);
      } else {
        DataLines lines(v.value);
        for (std::string_view line; lines.next(line);) one(line);
      }
    } else if (v.key == "desc/all-recent" || v.key.starts_with("desc/id/")) {
      // Server descriptors: the routers' full exit policies.
      RouterIdentity key{};
      LongName ln;
      const bool keyed = v.key.starts_with("desc/id/") &&
                         parse_long_name("$" + std::string(v.key.substr(8)), ln) &&
                         ln.has_fingerprint;
      if (keyed) key = ln.identity;
      const std::string text = v.is_data ? join_data(v.value) : std::string(v.value);
      note(routers_.apply_descriptors(text, keyed ? &key : nullptr));
    } else if (v.key == "uptime") {
      if (const std::optional<std::uint64_t> secs = parse_count(v.value))
        tor_started_ = std::chrono::steady_clock::now() - std::chrono::seconds(*secs);
      else
        note(Error(Errc::bad_argument, "uptime is not a number: " + std::string(v.value)));
    } else if (v.key == "process/pid") {
      if (const std::optional<std::uint64_t> pid = parse_count(v.value))
        tor_pid_ = pid;
      else
        note(Error(Errc::bad_argument, "process/pid is not a number: " + std::string(v.value)));
    }
  }
  return result;
}

}  // namespace torcon::detail
