#include "torcon/events.hpp"

#include <array>
#include <charconv>
#include <cstring>
#include <utility>

#include "event_keywords.hpp"
#include "keyword_hash.hpp"
#include "torcon/keyword_args.hpp"
#include "torcon/quoted.hpp"
#include "torcon/tokens.hpp"

namespace torcon {

namespace {

// parse_body(LogEvent) maps log event types to Severity by offset.
static_assert(unsigned(EventType::err) - unsigned(EventType::debug) == unsigned(Severity::err));

// 1*DIGIT, no sign, no overflow.
bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const std::uint64_t d = std::uint64_t(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

// Optional numeric fields are tolerant: text that is not a number leaves them
// empty rather than failing the event (raw_args still has it).
void opt_u64(std::string_view s, std::optional<std::uint64_t>& out) {
  std::uint64_t v;
  if (parse_u64(s, v)) out = v;
}

void opt_double(std::string_view s, std::optional<double>& out) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc() && p == s.data() + s.size() && !s.empty()) out = v;
}

template <class E, std::size_t N>
E lookup(std::string_view s, const std::pair<std::string_view, E> (&table)[N], E other) {
  for (const auto& [name, value] : table)
    if (name == s) return value;
  return other;
}

constexpr std::pair<std::string_view, CircStatus> kCircStatus[] = {
    {"LAUNCHED", CircStatus::launched},     {"BUILT", CircStatus::built},
    {"GUARD_WAIT", CircStatus::guard_wait}, {"EXTENDED", CircStatus::extended},
    {"FAILED", CircStatus::failed},         {"CLOSED", CircStatus::closed}};
constexpr std::pair<std::string_view, CircMinorKind> kCircMinor[] = {
    {"PURPOSE_CHANGED", CircMinorKind::purpose_changed},
    {"CANNIBALIZED", CircMinorKind::cannibalized}};
constexpr std::pair<std::string_view, StreamStatus> kStreamStatus[] = {
    {"NEW", StreamStatus::new_},
    {"NEWRESOLVE", StreamStatus::new_resolve},
    {"REMAP", StreamStatus::remap},
    {"SENTCONNECT", StreamStatus::sent_connect},
    {"SENTRESOLVE", StreamStatus::sent_resolve},
    {"SUCCEEDED", StreamStatus::succeeded},
    {"FAILED", StreamStatus::failed},
    {"CLOSED", StreamStatus::closed},
    {"DETACHED", StreamStatus::detached},
    {"CONTROLLER_WAIT", StreamStatus::controller_wait},
    {"XOFF_SENT", StreamStatus::xoff_sent},
    {"XOFF_RECV", StreamStatus::xoff_recv},
    {"XON_SENT", StreamStatus::xon_sent},
    {"XON_RECV", StreamStatus::xon_recv}};
constexpr std::pair<std::string_view, OrConnStatus> kOrConnStatus[] = {
    {"NEW", OrConnStatus::new_},
    {"LAUNCHED", OrConnStatus::launched},
    {"CONNECTED", OrConnStatus::connected},
    {"FAILED", OrConnStatus::failed},
    {"CLOSED", OrConnStatus::closed}};
constexpr std::pair<std::string_view, GuardStatus> kGuardStatus[] = {
    {"NEW", GuardStatus::new_}, {"UP", GuardStatus::up},     {"DOWN", GuardStatus::down},
    {"BAD", GuardStatus::bad},  {"GOOD", GuardStatus::good}, {"DROPPED", GuardStatus::dropped}};
constexpr std::pair<std::string_view, HsDescAction> kHsDescAction[] = {
    {"REQUESTED", HsDescAction::requested}, {"UPLOAD", HsDescAction::upload},
    {"RECEIVED", HsDescAction::received},   {"UPLOADED", HsDescAction::uploaded},
    {"IGNORE", HsDescAction::ignore},       {"FAILED", HsDescAction::failed},
    {"CREATED", HsDescAction::created}};
constexpr std::pair<std::string_view, Severity> kSeverity[] = {{"DEBUG", Severity::debug},
                                                               {"INFO", Severity::info},
                                                               {"NOTICE", Severity::notice},
                                                               {"WARN", Severity::warn},
                                                               {"ERR", Severity::err}};
constexpr std::pair<std::string_view, Liveness> kLiveness[] = {{"UP", Liveness::up},
                                                               {"DOWN", Liveness::down}};
constexpr std::pair<std::string_view, Signal> kSignal[] = {{"RELOAD", Signal::reload},
                                                           {"DUMP", Signal::dump},
                                                           {"DEBUG", Signal::debug},
                                                           {"NEWNYM", Signal::newnym},
                                                           {"CLEARDNSCACHE", Signal::cleardnscache},
                                                           {"HEARTBEAT", Signal::heartbeat},
                                                           {"ACTIVE", Signal::active},
                                                           {"DORMANT", Signal::dormant}};
constexpr std::pair<std::string_view, BuildTimeoutKind> kBuildTimeout[] = {
    {"COMPUTED", BuildTimeoutKind::computed},
    {"RESET", BuildTimeoutKind::reset},
    {"SUSPENDED", BuildTimeoutKind::suspended},
    {"DISCARD", BuildTimeoutKind::discard},
    {"RESUME", BuildTimeoutKind::resume}};

Value to_value(const Arg& a) { return Value{a.value, true, a.quoted, a.escaped}; }

// Error construction is the only allocating path; keep it out of line.
[[gnu::cold, gnu::noinline]] Error fail(std::string_view event, std::string_view what,
                                        std::string_view value = {}, bool show_value = false) {
  std::string msg;
  msg.append(event).append(" event: ").append(what);
  if (show_value) msg.append(" '").append(value).append("'");
  return Error(Errc::bad_argument, std::move(msg));
}

[[gnu::cold, gnu::noinline]] Error fail_args(std::string_view event, const Error& e) {
  return Error(Errc::bad_argument,
               std::string(event) + " event: " + e.message + " (at byte " +
                   std::to_string(e.offset) + " of the arguments)",
               e.offset);
}

// Walks an event's arguments: positionals by index, keywords to `on_key`.
// Returns false (with `err` set) when the arguments are malformed.
template <class OnPos, class OnKey>
bool walk(std::string_view event, std::string_view args, Error& err, OnPos&& on_pos,
          OnKey&& on_key) {
  ArgReader r(args);
  Arg a;
  unsigned pos = 0;
  while (r.next(a)) {
    if (a.positional())
      on_pos(pos++, a);
    else
      on_key(a);
  }
  if (r.error().code != Errc::ok) {
    err = fail_args(event, r.error());
    return false;
  }
  return true;
}

// CIRC's and STREAM's keyword arguments (the busiest events): a switch on a
// collision-free hash of the key (keyword_hash.hpp) and one comparison with a
// constant, rather than a chain of comparisons (a memcmp call wherever the
// lengths match). A key added to a set that collides fails the build.
inline constexpr auto kCircKeyHash = detail::find_keyword_hash<32>(std::array{
    std::string_view("BUILD_FLAGS"), std::string_view("PURPOSE"), std::string_view("HS_STATE"),
    std::string_view("REND_QUERY"), std::string_view("TIME_CREATED"), std::string_view("REASON"),
    std::string_view("REMOTE_REASON"), std::string_view("SOCKS_USERNAME"),
    std::string_view("SOCKS_PASSWORD"), std::string_view("HS_POW"), std::string_view("CONFLUX_ID"),
    std::string_view("CONFLUX_RTT")});
static_assert(kCircKeyHash.by_size != 0, "CIRC keys: no two may share length, first and last byte");
inline constexpr auto kStreamKeyHash = detail::find_keyword_hash<32>(std::array{
    std::string_view("REASON"), std::string_view("REMOTE_REASON"), std::string_view("SOURCE"),
    std::string_view("SOURCE_ADDR"), std::string_view("PURPOSE"),
    std::string_view("SOCKS_USERNAME"), std::string_view("SOCKS_PASSWORD"),
    std::string_view("CLIENT_PROTOCOL"), std::string_view("NYM_EPOCH"),
    std::string_view("SESSION_GROUP"), std::string_view("ISO_FIELDS")});
static_assert(kStreamKeyHash.by_size != 0,
              "STREAM keys: no two may share length, first and last byte");

// One case of such a switch: `key` (non-empty, as ArgReader gives keys) is
// `name` -> `action`.
#define TORCON_KEY_CASE(hash, key, name, action) \
  case hash(name):                               \
    if ((key) == (name)) action;                 \
    break;

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

// ---- per-event parsers ------------------------------------------------------
//
// One parse_body() per struct of TORCON_EVENT_TYPES; parse_event() calls the
// one for the struct of the event's type, with `ev`'s type, name and lines
// set and `args` the first line's text after the keyword and its space.

Status parse_body(const Event& ev, std::string_view args, CircEvent& e) {
  e.raw_args = args;
  Error err;
  bool ok = walk(
      ev.name, args, err,
      [&](unsigned pos, const Arg& a) {
        if (pos == 0)
          e.id = a.value;
        else if (pos == 1)
          e.status = a.value;
        else if (pos == 2)
          e.path = a.value;
      },
      [&](const Arg& a) {
        const std::string_view k = a.key;
        switch (kCircKeyHash(k)) {
          TORCON_KEY_CASE(kCircKeyHash, k, "BUILD_FLAGS", e.build_flags = a.value)
          TORCON_KEY_CASE(kCircKeyHash, k, "PURPOSE", e.purpose = a.value)
          TORCON_KEY_CASE(kCircKeyHash, k, "HS_STATE", e.hs_state = a.value)
          TORCON_KEY_CASE(kCircKeyHash, k, "REND_QUERY", e.rend_query = a.value)
          TORCON_KEY_CASE(kCircKeyHash, k, "TIME_CREATED", e.time_created = a.value)
          TORCON_KEY_CASE(kCircKeyHash, k, "REASON", e.reason = a.value)
          TORCON_KEY_CASE(kCircKeyHash, k, "REMOTE_REASON", e.remote_reason = a.value)
          TORCON_KEY_CASE(kCircKeyHash, k, "SOCKS_USERNAME", e.socks_username = to_value(a))
          TORCON_KEY_CASE(kCircKeyHash, k, "SOCKS_PASSWORD", e.socks_password = to_value(a))
          TORCON_KEY_CASE(kCircKeyHash, k, "HS_POW", e.hs_pow = a.value)
          TORCON_KEY_CASE(kCircKeyHash, k, "CONFLUX_ID", e.conflux_id = a.value)
          TORCON_KEY_CASE(kCircKeyHash, k, "CONFLUX_RTT", e.conflux_rtt = a.value)
          default: break;
        }
      });
  if (!ok) return err;
  if (e.id.empty()) return fail(ev.name, "missing CircuitID");
  if (!is_control_id(e.id))
    return fail(ev.name, "CircuitID is not 1-16 letters/digits:", e.id, true);
  if (e.status.empty()) return fail(ev.name, "missing CircStatus");
  e.status_enum = lookup(e.status, kCircStatus, CircStatus::other);
  return {};
}

Status parse_body(const Event& ev, std::string_view args, CircMinorEvent& e) {
  e.raw_args = args;
  Error err;
  bool ok = walk(
      ev.name, args, err,
      [&](unsigned pos, const Arg& a) {
        if (pos == 0)
          e.id = a.value;
        else if (pos == 1)
          e.event = a.value;
        else if (pos == 2)
          e.path = a.value;
      },
      [&](const Arg& a) {
        const std::string_view k = a.key;
        if (k == "BUILD_FLAGS")
          e.build_flags = a.value;
        else if (k == "PURPOSE")
          e.purpose = a.value;
        else if (k == "HS_STATE")
          e.hs_state = a.value;
        else if (k == "REND_QUERY")
          e.rend_query = a.value;
        else if (k == "TIME_CREATED")
          e.time_created = a.value;
        else if (k == "OLD_PURPOSE")
          e.old_purpose = a.value;
        else if (k == "OLD_HS_STATE")
          e.old_hs_state = a.value;
      });
  if (!ok) return err;
  if (e.id.empty()) return fail(ev.name, "missing CircuitID");
  if (!is_control_id(e.id))
    return fail(ev.name, "CircuitID is not 1-16 letters/digits:", e.id, true);
  if (e.event.empty()) return fail(ev.name, "missing CircEvent");
  e.event_enum = lookup(e.event, kCircMinor, CircMinorKind::other);
  return {};
}

Status parse_body(const Event& ev, std::string_view args, StreamEvent& e) {
  e.raw_args = args;
  Error err;
  bool ok = walk(
      ev.name, args, err,
      [&](unsigned pos, const Arg& a) {
        switch (pos) {
          case 0: e.id = a.value; break;
          case 1: e.status = a.value; break;
          case 2: e.circ_id = a.value; break;
          case 3: e.target = a.value; break;
          default: break;
        }
      },
      [&](const Arg& a) {
        const std::string_view k = a.key;
        switch (kStreamKeyHash(k)) {
          TORCON_KEY_CASE(kStreamKeyHash, k, "REASON", e.reason = a.value)
          TORCON_KEY_CASE(kStreamKeyHash, k, "REMOTE_REASON", e.remote_reason = a.value)
          TORCON_KEY_CASE(kStreamKeyHash, k, "SOURCE", e.source = a.value)
          TORCON_KEY_CASE(kStreamKeyHash, k, "SOURCE_ADDR", e.source_addr = a.value)
          TORCON_KEY_CASE(kStreamKeyHash, k, "PURPOSE", e.purpose = a.value)
          TORCON_KEY_CASE(kStreamKeyHash, k, "SOCKS_USERNAME", e.socks_username = to_value(a))
          TORCON_KEY_CASE(kStreamKeyHash, k, "SOCKS_PASSWORD", e.socks_password = to_value(a))
          TORCON_KEY_CASE(kStreamKeyHash, k, "CLIENT_PROTOCOL", e.client_protocol = a.value)
          TORCON_KEY_CASE(kStreamKeyHash, k, "NYM_EPOCH", e.nym_epoch = a.value)
          TORCON_KEY_CASE(kStreamKeyHash, k, "SESSION_GROUP", e.session_group = a.value)
          TORCON_KEY_CASE(kStreamKeyHash, k, "ISO_FIELDS", e.iso_fields = a.value)
          default: break;
        }
      });
  if (!ok) return err;
  if (e.id.empty()) return fail(ev.name, "missing StreamID");
  if (!is_control_id(e.id))
    return fail(ev.name, "StreamID is not 1-16 letters/digits:", e.id, true);
  if (e.status.empty()) return fail(ev.name, "missing StreamStatus");
  if (e.circ_id.empty()) return fail(ev.name, "missing CircuitID");
  if (!is_control_id(e.circ_id))
    return fail(ev.name, "CircuitID is not 1-16 letters/digits:", e.circ_id, true);
  if (e.target.empty()) return fail(ev.name, "missing Target");
  e.status_enum = lookup(e.status, kStreamStatus, StreamStatus::other);
  return {};
}

#undef TORCON_KEY_CASE

Status parse_body(const Event& ev, std::string_view args, OrConnEvent& e) {
  e.raw_args = args;
  Error err;
  bool ok = walk(
      ev.name, args, err,
      [&](unsigned pos, const Arg& a) {
        if (pos == 0)
          e.target = a.value;
        else if (pos == 1)
          e.status = a.value;
      },
      [&](const Arg& a) {
        if (a.key == "REASON")
          e.reason = a.value;
        else if (a.key == "NCIRCS")
          opt_u64(a.value, e.ncircs);
        else if (a.key == "ID")
          e.id = a.value;
      });
  if (!ok) return err;
  if (e.target.empty()) return fail(ev.name, "missing LongName/Target");
  if (e.status.empty()) return fail(ev.name, "missing ORStatus");
  if (!e.id.empty() && !is_control_id(e.id))
    return fail(ev.name, "ConnID is not 1-16 letters/digits:", e.id, true);
  e.status_enum = lookup(e.status, kOrConnStatus, OrConnStatus::other);
  return {};
}

Status parse_body(const Event& ev, std::string_view args, BwEvent& e) {
  e.raw_args = args;
  ArgReader r(args);
  Arg a;
  if (!r.next(a) || !a.positional()) return fail(ev.name, "missing BytesRead");
  if (!parse_u64(a.value, e.read))
    return fail(ev.name, "BytesRead is not a number:", a.value, true);
  if (!r.next(a) || !a.positional()) return fail(ev.name, "missing BytesWritten");
  if (!parse_u64(a.value, e.written))
    return fail(ev.name, "BytesWritten is not a number:", a.value, true);
  e.extra = trim_left(r.rest());
  return {};
}

Status parse_body(const Event& ev, std::string_view args, CircBwEvent& e) {
  e.raw_args = args;
  Error err;
  bool have_read = false, have_written = false, bad = false;
  std::string_view bad_key, bad_value;
  auto num = [&](const Arg& a, std::uint64_t& out) {
    if (!parse_u64(a.value, out) && !bad) {
      bad = true;
      bad_key = a.key;
      bad_value = a.value;
    }
  };
  bool ok = walk(
      ev.name, args, err, [](unsigned, const Arg&) {},
      [&](const Arg& a) {
        const std::string_view k = a.key;
        if (k == "ID")
          e.id = a.value;
        else if (k == "READ") {
          num(a, e.read);
          have_read = true;
        } else if (k == "WRITTEN") {
          num(a, e.written);
          have_written = true;
        } else if (k == "TIME")
          e.time = a.value;
        else if (k == "DELIVERED_READ")
          opt_u64(a.value, e.delivered_read);
        else if (k == "OVERHEAD_READ")
          opt_u64(a.value, e.overhead_read);
        else if (k == "DELIVERED_WRITTEN")
          opt_u64(a.value, e.delivered_written);
        else if (k == "OVERHEAD_WRITTEN")
          opt_u64(a.value, e.overhead_written);
        else if (k == "SS")
          opt_u64(a.value, e.ss);
        else if (k == "CWND")
          opt_u64(a.value, e.cwnd);
        else if (k == "RTT")
          opt_u64(a.value, e.rtt);
        else if (k == "MIN_RTT")
          opt_u64(a.value, e.min_rtt);
      });
  if (!ok) return err;
  if (e.id.empty()) return fail(ev.name, "missing ID=");
  if (!is_control_id(e.id)) return fail(ev.name, "ID is not 1-16 letters/digits:", e.id, true);
  if (!have_read) return fail(ev.name, "missing READ=");
  if (!have_written) return fail(ev.name, "missing WRITTEN=");
  if (bad) {
    std::string what(bad_key);
    what += " is not a number:";
    return fail(ev.name, what, bad_value, true);
  }
  return {};
}

Status parse_body(const Event& ev, std::string_view args, StreamBwEvent& e) {
  e.raw_args = args;
  ArgReader r(args);
  Arg a;
  if (!r.next(a) || !a.positional()) return fail(ev.name, "missing StreamID");
  e.id = a.value;
  if (!is_control_id(e.id))
    return fail(ev.name, "StreamID is not 1-16 letters/digits:", e.id, true);
  if (!r.next(a) || !a.positional()) return fail(ev.name, "missing BytesWritten");
  if (!parse_u64(a.value, e.written))
    return fail(ev.name, "BytesWritten is not a number:", a.value, true);
  if (!r.next(a) || !a.positional()) return fail(ev.name, "missing BytesRead");
  if (!parse_u64(a.value, e.read))
    return fail(ev.name, "BytesRead is not a number:", a.value, true);
  if (r.next(a) && a.positional()) e.time = a.value;
  return {};
}

Status parse_body(const Event& ev, std::string_view args, AddrMapEvent& e) {
  e.raw_args = args;
  Error err;
  bool ok = walk(
      ev.name, args, err,
      [&](unsigned pos, const Arg& a) {
        if (pos == 0)
          e.address = a.value;
        else if (pos == 1)
          e.new_address = a.value;
        else if (pos == 2)
          e.expiry = to_value(a);
      },
      [&](const Arg& a) {
        if (a.key == "error")
          e.error = to_value(a);
        else if (a.key == "EXPIRES")
          e.expires = to_value(a);
        else if (a.key == "CACHED")
          e.cached = to_value(a);
        else if (a.key == "STREAMID")
          e.stream_id = a.value;
      });
  if (!ok) return err;
  if (e.address.empty()) return fail(ev.name, "missing Address");
  if (e.new_address.empty()) return fail(ev.name, "missing NewAddress");
  if (!e.expiry.present) return fail(ev.name, "missing Expiry");
  return {};
}

Status parse_body(const Event& ev, std::string_view args, GuardEvent& e) {
  e.raw_args = args;
  Error err;
  bool ok = walk(
      ev.name, args, err,
      [&](unsigned pos, const Arg& a) {
        if (pos == 0)
          e.type = a.value;
        else if (pos == 1)
          e.name = a.value;
        else if (pos == 2)
          e.status = a.value;
      },
      [](const Arg&) {});
  if (!ok) return err;
  if (e.type.empty()) return fail(ev.name, "missing Type");
  if (e.name.empty()) return fail(ev.name, "missing Name");
  if (e.status.empty()) return fail(ev.name, "missing Status");
  e.status_enum = lookup(e.status, kGuardStatus, GuardStatus::other);
  return {};
}

Status parse_body(const Event& ev, std::string_view args, StatusEvent& e) {
  const std::string_view event = ev.name;
  e.raw_args = args;
  ArgReader r(args);
  Arg a;
  if (!r.next(a) || !a.positional()) return fail(event, "missing StatusSeverity");
  e.severity = a.value;
  if (!r.next(a) || !a.positional()) return fail(event, "missing StatusAction");
  e.action = a.value;
  e.arguments = trim_left(r.rest());
  e.severity_enum = lookup(e.severity, kSeverity, Severity::other);
  return {};
}

Status parse_body(const Event& ev, std::string_view args, HsDescEvent& e) {
  e.raw_args = args;
  Error err;
  bool ok = walk(
      ev.name, args, err,
      [&](unsigned pos, const Arg& a) {
        switch (pos) {
          case 0: e.action = a.value; break;
          case 1: e.address = a.value; break;
          case 2: e.auth_type = a.value; break;
          case 3: e.hs_dir = a.value; break;
          case 4: e.descriptor_id = a.value; break;
          default: break;
        }
      },
      [&](const Arg& a) {
        if (a.key == "REASON")
          e.reason = to_value(a);
        else if (a.key == "REPLICA")
          opt_u64(a.value, e.replica);
        else if (a.key == "HSDIR_INDEX")
          e.hsdir_index = a.value;
      });
  if (!ok) return err;
  if (e.action.empty()) return fail(ev.name, "missing Action");
  if (e.address.empty()) return fail(ev.name, "missing HSAddress");
  if (e.auth_type.empty()) return fail(ev.name, "missing AuthType");
  if (e.hs_dir.empty()) return fail(ev.name, "missing HsDir");
  e.action_enum = lookup(e.action, kHsDescAction, HsDescAction::other);
  return {};
}

Status parse_single(std::string_view event, std::string_view args, std::string_view what,
                    std::string_view& out) {
  ArgReader r(args);
  Arg a;
  if (!r.next(a)) {
    if (r.error().code != Errc::ok) return fail_args(event, r.error());
    return fail(event, what);
  }
  out = a.value;
  return {};
}

Status parse_body(const Event& ev, std::string_view args, BuildTimeoutSetEvent& e) {
  e.raw_args = args;
  Error err;
  bool ok = walk(
      ev.name, args, err,
      [&](unsigned pos, const Arg& a) {
        if (pos == 0) e.type = a.value;
      },
      [&](const Arg& a) {
        const std::string_view k = a.key;
        if (k == "TOTAL_TIMES")
          opt_u64(a.value, e.total_times);
        else if (k == "TIMEOUT_MS")
          opt_u64(a.value, e.timeout_ms);
        else if (k == "XM")
          opt_u64(a.value, e.xm);
        else if (k == "ALPHA")
          opt_double(a.value, e.alpha);
        else if (k == "CUTOFF_QUANTILE")
          opt_double(a.value, e.cutoff_quantile);
        else if (k == "TIMEOUT_RATE")
          opt_double(a.value, e.timeout_rate);
        else if (k == "CLOSE_MS")
          opt_u64(a.value, e.close_ms);
        else if (k == "CLOSE_RATE")
          opt_double(a.value, e.close_rate);
      });
  if (!ok) return err;
  if (e.type.empty()) return fail(ev.name, "missing Type");
  e.type_enum = lookup(e.type, kBuildTimeout, BuildTimeoutKind::other);
  return {};
}

// "650+NS" / "650+NEWCONSENSUS" with the entries in a data block.
Status parse_body(const Event& ev, std::string_view, NetworkStatusEvent& e) {
  const ReplyLine& first = ev.lines[0];
  if (first.sep != Sep::data) return fail(ev.name, "no data block (expected \"650+\")");
  e.data = first.data;
  return {};
}

Status parse_body(const Event& ev, std::string_view args, NewDescEvent& e) {
  e.raw_args = args;
  e.servers = trim_left(args);
  if (e.servers.empty()) return fail(ev.name, "missing LongName");
  return {};
}

Status parse_body(const Event& ev, std::string_view, ConfChangedEvent& e) {
  std::span<const ReplyLine> rest = ev.lines.subspan(1);
  // "650 OK" ends the event; it is not a change.
  if (!rest.empty() && rest.back().sep == Sep::end && rest.back().text == "OK")
    rest = rest.first(rest.size() - 1);
  e.changes = rest;
  return {};
}

Status parse_body(const Event& ev, std::string_view args, NetworkLivenessEvent& e) {
  e.raw_args = args;
  if (Status s = parse_single(ev.name, args, "missing Status", e.status); !s) return s;
  e.status_enum = lookup(e.status, kLiveness, Liveness::other);
  return {};
}

Status parse_body(const Event& ev, std::string_view args, SignalEvent& e) {
  e.raw_args = args;
  if (Status s = parse_single(ev.name, args, "missing Signal", e.signal); !s) return s;
  e.signal_enum = lookup(e.signal, kSignal, Signal::other);
  return {};
}

// "650 NOTICE text", or "650+WARN" and the message in a data block.
Status parse_body(const Event& ev, std::string_view args, LogEvent& e) {
  e.severity = Severity(unsigned(ev.type) - unsigned(EventType::debug));
  e.message = args;
  const ReplyLine& first = ev.lines[0];
  if (first.sep == Sep::data) {
    e.is_data = true;
    e.data = first.data;
  }
  return {};
}

}  // namespace

// ---- public helpers -----------------------------------------------------------

std::string_view Value::decoded(std::string& scratch) const {
  if (!escaped) return text;
  scratch.clear();
  unescape(text, scratch);
  return scratch;
}

bool find_arg(std::string_view args, std::string_view key, Value& out) {
  ArgReader r(args);
  Arg a;
  while (r.next(a)) {
    if (a.key == key) {
      out = to_value(a);
      return true;
    }
  }
  out = Value{};
  return false;
}

namespace {
// hex_value() of every byte, 0x10 for a byte that is no hex digit.
struct HexDigits {
  std::uint8_t v[256] = {};
  constexpr HexDigits() {
    for (int c = 0; c < 256; ++c) {
      const int h = hex_value(char(c));
      v[c] = h < 0 ? 0x10 : std::uint8_t(h);
    }
  }
};
constexpr HexDigits kHexDigit{};
}  // namespace

bool parse_long_name(std::string_view s, LongName& out) noexcept {
  out = LongName{};
  out.text = s;
  if (s.empty()) return false;
  if (s[0] != '$') {
    // An old-style bare Nickname (ServerID).
    if (!is_nickname(s)) return false;
    out.nickname = s;
    return true;
  }
  if (s.size() < 41) return false;
  // By table, without a branch per digit: fingerprints are random hex, so
  // hex_value()'s digit-or-letter branches were mispredicted about every
  // third byte, and this was the costliest part of applying a circuit hop.
  unsigned bad = 0;
  for (std::size_t i = 0; i < 20; ++i) {
    const std::uint8_t hi = kHexDigit.v[static_cast<unsigned char>(s[1 + 2 * i])];
    const std::uint8_t lo = kHexDigit.v[static_cast<unsigned char>(s[2 + 2 * i])];
    bad |= unsigned(hi | lo);
    out.identity[i] = std::uint8_t(hi << 4 | (lo & 0x0f));
  }
  if (bad & 0x10) return false;
  out.fingerprint = s.substr(1, 40);
  out.has_fingerprint = true;
  if (s.size() == 41) return true;
  if (s[41] != '~' && s[41] != '=') return false;
  out.named = s[41] == '=';
  out.nickname = s.substr(42);
  return is_nickname(out.nickname);
}

bool LongNameReader::next(LongName& out) {
  if (error_.code != Errc::ok) return false;
  while (!rest_.empty() && rest_.front() == sep_) rest_.remove_prefix(1);
  if (rest_.empty()) return false;
  const std::size_t end = rest_.find(sep_);
  const std::string_view item = rest_.substr(0, end);
  rest_ = end == std::string_view::npos ? std::string_view{} : rest_.substr(end);
  if (!parse_long_name(item, out)) {
    error_ = Error(Errc::bad_argument, "malformed LongName '" + std::string(item) +
                                           "' (want $<40 hex>[~nickname] or a nickname)");
    return false;
  }
  return true;
}

bool ConfChangeReader::next(ConfChange& out) {
  if (i_ >= lines_.size()) return false;
  const std::string_view t = lines_[i_++].text;
  out = ConfChange{};
  const std::size_t eq = t.find('=');
  out.key = t.substr(0, eq);
  if (eq == std::string_view::npos) return true;
  const std::string_view v = t.substr(eq + 1);
  out.value.text = v;
  out.value.present = true;
  // Tor writes values raw; treat one only as a QuotedString when a single
  // quoted string spans all of it.
  if (!v.empty() && v.front() == '"') {
    bool esc = false;
    Expected<std::size_t> n = scan_quoted(v, &esc);
    if (n && *n == v.size()) {
      out.value.text = v.substr(1, v.size() - 2);
      out.value.quoted = true;
      out.value.escaped = esc;
    }
  }
  return true;
}

// ---- entry point ----------------------------------------------------------------

Status parse_event(const Reply& reply, Event& out) {
  if (!reply.is_async() || reply.lines.empty())
    return Error(Errc::bad_argument,
                 "not an asynchronous event (status " + std::to_string(reply.code) + ")");
  const ReplyLine& first = reply.lines[0];
  const std::string_view text = first.text;
  // Event keywords are short: a plain loop beats a memchr call here.
  std::size_t sp = 0;
  while (sp < text.size() && text[sp] != ' ') ++sp;
  const std::string_view name = text.substr(0, sp);
  const std::string_view args = sp < text.size() ? text.substr(sp + 1) : std::string_view{};
  if (name.empty()) return Error(Errc::bad_argument, "event without a keyword");

  out.type = detail::find_event_type(name);
  out.name = name;
  out.lines = reply.lines;
  switch (out.type) {
#define TORCON_EVENT_PARSE(member, keyword, type) \
  case EventType::member: return parse_body(out, args, out.body.emplace<type>());
    TORCON_EVENT_TYPES(TORCON_EVENT_PARSE)
#undef TORCON_EVENT_PARSE
    case EventType::unknown: break;
  }
  UnknownEvent& e = out.body.emplace<UnknownEvent>();
  e.name = name;
  e.raw_args = args;
  e.reply = reply;
  return {};
}

Expected<Event> parse_event(const Reply& reply) {
  // One named result for every path lets the compiler construct it in the
  // caller's storage (an Event is a few hundred bytes).
  Expected<Event> result{Event{}};
  Status s = parse_event(reply, *result);
  if (!s) result = Expected<Event>(s.error());
  return result;
}

}  // namespace torcon
