#include "torcon/events.hpp"

#include <array>
#include <charconv>
#include <cstring>
#include <utility>

#include "arg_scan.hpp"
#include "event_fields.hpp"
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

// ArgReader::next, inlined: the parsers below spend most of their time here.
[[gnu::always_inline]] inline bool next_arg(ArgReader& r, Arg& a) {
  return detail::ArgScan::next(r, a);
}

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

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

// ---- per-event parsers ------------------------------------------------------
//
// One parse_body() per struct of TORCON_EVENT_TYPES; parse_event() calls the
// one for the struct of the event's type, with `ev`'s type, name and lines
// set and `args` the first line's text after the keyword and its space.
// Events of positionals and KEY=VALUE pairs are read by one walker over their
// table (event_fields.hpp); the others, whose shape is their own, below it.

using detail::Field;
using detail::Need;

// The walker below is generated per event from its table at compile time:
// each positional index and each key's hash value becomes a constant case
// that compares the key with a constant and stores into a fixed member, as a
// hand-written parser would (a loop over the table at run time was 20-40 %
// slower on parser_bench's events).

// What a walk remembers besides the members: which fields were seen, and the
// first required number that did not parse (reported after the presence
// checks, so a missing field is named first).
struct WalkState {
  std::uint32_t seen = 0;
  std::string_view bad_name, bad_text;
};

// A table's field by position: keyword or positional, and its index.
template <class E, bool Keyword, std::size_t I>
constexpr const Field<E>& field() {
  if constexpr (Keyword)
    return detail::EventFields<E>::keyword[I];
  else
    return detail::EventFields<E>::positional[I];
}

template <class E, bool Keyword, std::size_t I>
[[gnu::always_inline]] inline void store(E& e, const Arg& a, WalkState& w) {
  constexpr const Field<E>& F = field<E, Keyword, I>();
  constexpr auto sink = F.sink;
  if constexpr (sink.index() == 0) {
    e.*std::get<0>(sink) = a.value;
  } else if constexpr (sink.index() == 1) {
    e.*std::get<1>(sink) = to_value(a);
  } else if constexpr (sink.index() == 2) {
    if (!parse_u64(a.value, e.*std::get<2>(sink)) && w.bad_name.empty()) {
      w.bad_name = F.label.empty() ? F.name : F.label;
      w.bad_text = a.value;
    }
  } else if constexpr (sink.index() == 3) {
    opt_u64(a.value, e.*std::get<3>(sink));
  } else {
    opt_double(a.value, e.*std::get<4>(sink));
  }
}

template <class E, std::size_t... I>
[[gnu::always_inline]] inline void store_positional(E& e, unsigned pos, const Arg& a, WalkState& w,
                                                    std::index_sequence<I...>) {
  // Positionals past the table's are newer than this parser: skipped.
  (void)((pos == I ? (store<E, false, I>(e, a, w), w.seen |= 1u << I, true) : false) || ...);
}

template <class E, std::size_t... I>
[[gnu::always_inline]] inline void store_keyword(E& e, const Arg& a, WalkState& w,
                                                 std::index_sequence<I...>) {
  constexpr auto& table = detail::EventFields<E>::keyword;
  constexpr std::size_t kFirstBit = detail::EventFields<E>::positional.size();
  if constexpr (sizeof...(I) > 0) {
    constexpr auto hash = detail::kKeywordHash<E>;
    static_assert(hash.by_size != 0,
                  "an event's keys: no two may share length, first and last byte");
    const std::size_t h = hash(a.key);  // ArgReader's keys are never empty
    // Unknown keys (newer than this parser) match no case and are skipped.
    (void)((h == hash(table[I].name)
                ? (a.key == table[I].name
                       ? (store<E, true, I>(e, a, w), w.seen |= 1u << (kFirstBit + I), true)
                       : true)
                : false) ||
           ...);
  }
}

[[gnu::cold, gnu::noinline]] Error fail_missing(std::string_view event, std::string_view label,
                                                bool keyword) {
  std::string what = "missing ";
  what.append(label);
  if (keyword) what += '=';
  return fail(event, what);
}

[[gnu::cold, gnu::noinline]] Error fail_not(std::string_view event, std::string_view label,
                                            std::string_view what, std::string_view value) {
  std::string msg(label);
  msg.append(what);
  return fail(event, msg, value, true);
}

// Checks one field against its Need: true, or false with `err` naming the
// field as control-spec does. Fields with nothing to check cost nothing.
template <class E, bool Keyword, std::size_t I>
[[gnu::always_inline]] inline bool check(std::string_view event, const E& e, bool seen,
                                         Error& err) {
  constexpr const Field<E>& F = field<E, Keyword, I>();
  if constexpr (F.need == Need::optional) {
    return true;
  } else {
    constexpr auto sink = F.sink;
    constexpr std::string_view label = F.label.empty() ? F.name : F.label;
    bool present = seen;
    if constexpr (sink.index() == 0) present = !(e.*std::get<0>(sink)).empty();
    if constexpr (sink.index() == 1) present = (e.*std::get<1>(sink)).present;
    if (!present) {
      if constexpr (F.need == Need::id_if_present) return true;
      err = fail_missing(event, label, Keyword);
      return false;
    }
    if constexpr (F.need == Need::id || F.need == Need::id_if_present) {
      static_assert(sink.index() == 0, "an ID is text");
      if (!is_control_id(e.*std::get<0>(sink))) {
        err = fail_not(event, label, " is not 1-16 letters/digits:", e.*std::get<0>(sink));
        return false;
      }
    }
    return true;
  }
}

template <class E, std::size_t... P, std::size_t... K>
[[gnu::always_inline]] inline bool check_all(std::string_view event, const E& e, std::uint32_t seen,
                                             Error& err, std::index_sequence<P...>,
                                             std::index_sequence<K...>) {
  constexpr std::size_t kFirstBit = sizeof...(P);
  return (check<E, false, P>(event, e, seen >> P & 1, err) && ...) &&
         (check<E, true, K>(event, e, seen >> (kFirstBit + K) & 1, err) && ...);
}

template <detail::TableDrivenEvent E>
Status parse_body(const Event& ev, std::string_view args, E& e) {
  using Table = detail::EventFields<E>;
  using Positionals = std::make_index_sequence<Table::positional.size()>;
  using Keywords = std::make_index_sequence<Table::keyword.size()>;
  static_assert(Table::positional.size() + Table::keyword.size() <= 32, "seen-bits are 32");
  e.raw_args = args;
  WalkState w;
  ArgReader r(args);
  Arg a;
  unsigned pos = 0;
  while (next_arg(r, a)) {
    if (a.positional())
      store_positional(e, pos++, a, w, Positionals{});
    else
      store_keyword(e, a, w, Keywords{});
  }
  if (r.error().code != Errc::ok) return fail_args(ev.name, r.error());
  if (Error err; !check_all(ev.name, e, w.seen, err, Positionals{}, Keywords{})) return err;
  if (!w.bad_name.empty()) return fail_not(ev.name, w.bad_name, " is not a number:", w.bad_text);
  Table::finish(e);
  return {};
}

Status parse_body(const Event& ev, std::string_view args, BwEvent& e) {
  e.raw_args = args;
  ArgReader r(args);
  Arg a;
  if (!next_arg(r, a) || !a.positional()) return fail(ev.name, "missing BytesRead");
  if (!parse_u64(a.value, e.read))
    return fail(ev.name, "BytesRead is not a number:", a.value, true);
  if (!next_arg(r, a) || !a.positional()) return fail(ev.name, "missing BytesWritten");
  if (!parse_u64(a.value, e.written))
    return fail(ev.name, "BytesWritten is not a number:", a.value, true);
  e.extra = trim_left(r.rest());
  return {};
}

Status parse_body(const Event& ev, std::string_view args, StreamBwEvent& e) {
  e.raw_args = args;
  ArgReader r(args);
  Arg a;
  if (!next_arg(r, a) || !a.positional()) return fail(ev.name, "missing StreamID");
  e.id = a.value;
  if (!is_control_id(e.id))
    return fail(ev.name, "StreamID is not 1-16 letters/digits:", e.id, true);
  if (!next_arg(r, a) || !a.positional()) return fail(ev.name, "missing BytesWritten");
  if (!parse_u64(a.value, e.written))
    return fail(ev.name, "BytesWritten is not a number:", a.value, true);
  if (!next_arg(r, a) || !a.positional()) return fail(ev.name, "missing BytesRead");
  if (!parse_u64(a.value, e.read))
    return fail(ev.name, "BytesRead is not a number:", a.value, true);
  if (next_arg(r, a) && a.positional()) e.time = a.value;
  return {};
}

Status parse_body(const Event& ev, std::string_view args, StatusEvent& e) {
  const std::string_view event = ev.name;
  e.raw_args = args;
  ArgReader r(args);
  Arg a;
  if (!next_arg(r, a) || !a.positional()) return fail(event, "missing StatusSeverity");
  e.severity = a.value;
  if (!next_arg(r, a) || !a.positional()) return fail(event, "missing StatusAction");
  e.action = a.value;
  e.arguments = trim_left(r.rest());
  e.severity_enum = detail::enum_of(e.severity, detail::kSeverityNames, Severity::other);
  return {};
}

Status parse_single(std::string_view event, std::string_view args, std::string_view what,
                    std::string_view& out) {
  ArgReader r(args);
  Arg a;
  if (!next_arg(r, a)) {
    if (r.error().code != Errc::ok) return fail_args(event, r.error());
    return fail(event, what);
  }
  out = a.value;
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
  e.status_enum = detail::enum_of(e.status, detail::kLivenessNames, Liveness::other);
  return {};
}

Status parse_body(const Event& ev, std::string_view args, SignalEvent& e) {
  e.raw_args = args;
  if (Status s = parse_single(ev.name, args, "missing Signal", e.signal); !s) return s;
  e.signal_enum = detail::enum_of(e.signal, detail::kSignalNames, Signal::other);
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
  while (next_arg(r, a)) {
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
  // The keyword's end: in the first 16 bytes (keywords are short), found
  // without a loop whose exit depends on the keyword's length.
  const std::size_t sp = detail::ArgScan::first_space(text);
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
