// Typed asynchronous events (control-spec 4.1): a 650 Reply turned into a
// struct of views, without allocation.
//
//   ReplyReader reader;  ...  Reply r;
//   while (reader.next(r) == ReplyReader::Next::reply) {
//     if (!r.is_async()) continue;
//     Expected<Event> ev = parse_event(r);
//     if (!ev) { log(ev.error().message); continue; }
//     if (const CircEvent* c = ev->get<CircEvent>()) {
//       LongNameReader hops = c->hops();
//       for (LongName h; hops.next(h);) use(h.fingerprint, h.nickname);
//     }
//   }
//
// Lifetime: every string_view (and span) in an Event points into the Reply's
// buffer, so it is valid exactly as long as the Reply's own views are (until
// the ReplyReader's next call to next(), prepare(), feed() or reset() — in
// practice, for the duration of the event callback). To keep an event longer,
// keep the reply and parse it again; OwnedReply's bytes never move:
//
//   OwnedReply kept = r.copy();          // copies the bytes once, owns them
//   Expected<Event> later = parse_event(kept.view());  // views into `kept`
//
// Tolerance (control-spec 1.1 and 4.1): unknown keywords, extra arguments and
// extra lines are ignored but kept (raw_args, Event::lines); values outside a
// known set map to the enum's `other` member with the text kept beside it.
// Only what an event cannot be read without (an ID, a status, a number that
// is not a number) is an error: Errc::bad_argument, naming event and field.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "torcon/event_types.hpp"
#include "torcon/expected.hpp"
#include "torcon/export.hpp"
#include "torcon/reply.hpp"

namespace torcon {

/// A value that tor may send as a QuotedString. `text` is as written, quotes
/// stripped; when `escaped`, it still holds backslash escapes and decoded()
/// copies into `scratch` (the only case that allocates).
struct TORCON_API Value {
  std::string_view text;  ///< as written, quotes stripped (escapes kept when `escaped`)
  bool present = false;   ///< the field was in the event ("KEY=" counts)
  bool quoted = false;    ///< it was a QuotedString
  bool escaped = false;   ///< `text` holds backslash escapes
  /// The value unescaped: `text` itself, or (when `escaped`) a copy in `scratch`.
  std::string_view decoded(std::string& scratch) const;
};

/// Finds keyword `key` among `args` (an event's raw_args): false if absent.
TORCON_API bool find_arg(std::string_view args, std::string_view key, Value& out);

/// A router as events name it (control-spec 2.4):
///   LongName = "$" 40*HEXDIG [ ("~" / "=") Nickname ], or a bare Nickname.
struct TORCON_API LongName {
  std::string_view text;                    ///< as written
  std::string_view fingerprint;             ///< the 40 hex digits, without '$'; may be empty
  std::string_view nickname;                ///< may be empty
  std::array<std::uint8_t, 20> identity{};  ///< fingerprint decoded
  bool has_fingerprint = false;             ///< a "$FP" form (identity is set)
  bool named = false;                       ///< old "$FP=nick" form (before tor 0.3.1.3-alpha)
};
/// False when `text` is neither form (bad hex, bad nickname, empty).
TORCON_API bool parse_long_name(std::string_view text, LongName& out) noexcept;

/// Walks a `sep`-separated list of LongNames (CIRC paths use ',', NEWDESC
/// uses ' '). No allocation.
class TORCON_API LongNameReader {
 public:
  /// Walks `list`, names separated by `sep`.
  explicit LongNameReader(std::string_view list, char sep = ',') : rest_(list), sep_(sep) {}
  /// The next router; false at the end or on a malformed name (see error()).
  bool next(LongName& out);
  /// Why next() stopped early (Errc::ok at a normal end).
  const Error& error() const noexcept { return error_; }

 private:
  std::string_view rest_;
  char sep_;
  Error error_;
};

// ---- enums: known values, plus `other` for those a newer tor adds ----------

/// CIRC's status (control-spec 4.1.1); `other`: a value newer than this list.
enum class CircStatus : std::uint8_t {
  launched,
  built,
  guard_wait,
  extended,
  failed,
  closed,
  other
};
/// CIRC_MINOR's event kind (4.1.19).
enum class CircMinorKind : std::uint8_t { purpose_changed, cannibalized, other };
/// STREAM's status (4.1.2); new_ is NEW (a C++ keyword otherwise).
enum class StreamStatus : std::uint8_t {
  new_,
  new_resolve,
  remap,
  sent_connect,
  sent_resolve,
  succeeded,
  failed,
  closed,
  detached,
  controller_wait,
  xoff_sent,
  xoff_recv,
  xon_sent,
  xon_recv,
  other
};
/// ORCONN's status (4.1.3).
enum class OrConnStatus : std::uint8_t { new_, launched, connected, failed, closed, other };
/// GUARD's status (4.1.21).
enum class GuardStatus : std::uint8_t { new_, up, down, bad, good, dropped, other };
/// HS_DESC's action (4.1.25).
enum class HsDescAction : std::uint8_t {
  requested,
  upload,
  received,
  uploaded,
  ignore,
  failed,
  created,
  other
};
/// A log or STATUS_* event's severity (4.1.5, 4.1.10).
enum class Severity : std::uint8_t { debug, info, notice, warn, err, other };
/// NETWORK_LIVENESS's status (4.1.27).
enum class Liveness : std::uint8_t { up, down, other };
/// SIGNAL's signal name (4.1.17).
enum class Signal : std::uint8_t {
  reload,
  dump,
  debug,
  newnym,
  cleardnscache,
  heartbeat,
  active,
  dormant,
  other
};
/// BUILDTIMEOUT_SET's type (4.1.16).
enum class BuildTimeoutKind : std::uint8_t { computed, reset, suspended, discard, resume, other };

// ---- one struct per event ---------------------------------------------------
// raw_args is always the first line's text after the event keyword and its
// space: everything, known or not (look up newer keywords with find_arg).

/// 650 CIRC CircuitID CircStatus [Path] [KEY=VALUE ...]  (control-spec 4.1.1)
struct TORCON_API CircEvent {
  /// @{
  /// The event's fields, named as in control-spec: views into the reply (valid as
  /// long as it is), empty or absent when tor did not send them; `_enum` fields map
  /// the text to the enum (`other` when unknown). raw_args: the whole first line
  /// after the keyword, for keywords newer than this struct (find_arg()).
  std::string_view id;  ///< 1-16 letters/digits, validated
  std::string_view status;
  CircStatus status_enum = CircStatus::other;
  std::string_view path;  ///< raw "$FP~nick,..." list; walk with hops()
  std::string_view build_flags, purpose, hs_state, rend_query, time_created, reason, remote_reason;
  Value socks_username, socks_password;
  std::string_view hs_pow;       ///< e.g. "v1,100" (tor 0.4.8+)
  std::string_view conflux_id;   ///< hex nonce (tor 0.4.8+)
  std::string_view conflux_rtt;  ///< microseconds, as text
  std::string_view raw_args;
  LongNameReader hops() const { return LongNameReader(path, ','); }
  /// @}
};

/// 650 CIRC_MINOR CircuitID CircEvent [Path] [KEY=VALUE ...]  (4.1.19)
struct TORCON_API CircMinorEvent {
  /// @{
  /// The event's fields, named as in control-spec: views into the reply (valid as
  /// long as it is), empty or absent when tor did not send them; `_enum` fields map
  /// the text to the enum (`other` when unknown). raw_args: the whole first line
  /// after the keyword, for keywords newer than this struct (find_arg()).
  std::string_view id;
  std::string_view event;  ///< PURPOSE_CHANGED CANNIBALIZED or newer
  CircMinorKind event_enum = CircMinorKind::other;
  std::string_view path;
  std::string_view build_flags, purpose, hs_state, rend_query, time_created, old_purpose,
      old_hs_state;
  std::string_view raw_args;
  LongNameReader hops() const { return LongNameReader(path, ','); }
  /// @}
};

/// 650 STREAM StreamID StreamStatus CircuitID Target [KEY=VALUE ...]  (4.1.2)
struct TORCON_API StreamEvent {
  /// @{
  /// The event's fields, named as in control-spec: views into the reply (valid as
  /// long as it is), empty or absent when tor did not send them; `_enum` fields map
  /// the text to the enum (`other` when unknown). raw_args: the whole first line
  /// after the keyword, for keywords newer than this struct (find_arg()).
  std::string_view id;
  std::string_view status;
  StreamStatus status_enum = StreamStatus::other;
  std::string_view circ_id;  ///< "0" when unattached
  std::string_view target;   ///< Address ":" Port, as written
  std::string_view reason, remote_reason, source, source_addr, purpose;
  Value socks_username, socks_password;
  std::string_view client_protocol, nym_epoch, session_group, iso_fields;
  std::string_view raw_args;
  /// @}
};

/// 650 ORCONN (LongName / Target) ORStatus [REASON=] [NCIRCS=] [ID=]  (4.1.3)
struct TORCON_API OrConnEvent {
  /// @{
  /// The event's fields, named as in control-spec: views into the reply (valid as
  /// long as it is), empty or absent when tor did not send them; `_enum` fields map
  /// the text to the enum (`other` when unknown). raw_args: the whole first line
  /// after the keyword, for keywords newer than this struct (find_arg()).
  std::string_view target;  ///< LongName, or Address:Port for NEW connections
  std::string_view status;
  OrConnStatus status_enum = OrConnStatus::other;
  std::string_view reason;
  std::optional<std::uint64_t> ncircs;
  std::string_view id;  ///< ConnID (tor 0.2.5.2+), validated when present
  std::string_view raw_args;
  /// @}
};

/// 650 BW BytesRead BytesWritten *(Type=Num)  (4.1.4)
struct TORCON_API BwEvent {
  /// @{
  /// The event's fields, named as in control-spec: views into the reply (valid as
  /// long as it is), empty or absent when tor did not send them; `_enum` fields map
  /// the text to the enum (`other` when unknown). raw_args: the whole first line
  /// after the keyword, for keywords newer than this struct (find_arg()).
  std::uint64_t read = 0;
  std::uint64_t written = 0;
  std::string_view extra;  ///< the Type=Num breakdown, if any, unparsed
  std::string_view raw_args;
  /// @}
};

/// 650 CIRC_BW ID= READ= WRITTEN= TIME= DELIVERED_READ= ... (4.1.22)
struct TORCON_API CircBwEvent {
  /// @{
  /// The event's fields, named as in control-spec: views into the reply (valid as
  /// long as it is), empty or absent when tor did not send them; `_enum` fields map
  /// the text to the enum (`other` when unknown). raw_args: the whole first line
  /// after the keyword, for keywords newer than this struct (find_arg()).
  std::string_view id;
  std::uint64_t read = 0;
  std::uint64_t written = 0;
  std::string_view time;
  std::optional<std::uint64_t> delivered_read, overhead_read, delivered_written, overhead_written;
  /// Congestion control (tor 0.4.7+): SS (slow start, 0/1), CWND, RTT and
  /// MIN_RTT (milliseconds).
  std::optional<std::uint64_t> ss, cwnd, rtt, min_rtt;
  std::string_view raw_args;
  /// @}
};

/// 650 STREAM_BW StreamID BytesWritten BytesRead [Time]  (4.1.13)
/// Note the order: from tor's side, what the application wrote comes first.
struct TORCON_API StreamBwEvent {
  /// @{
  /// The event's fields, named as in control-spec: views into the reply (valid as
  /// long as it is), empty or absent when tor did not send them; `_enum` fields map
  /// the text to the enum (`other` when unknown). raw_args: the whole first line
  /// after the keyword, for keywords newer than this struct (find_arg()).
  std::string_view id;
  std::uint64_t written = 0;
  std::uint64_t read = 0;
  std::string_view time;  ///< ISOTime2Frac (tor 0.3.2.1+)
  std::string_view raw_args;
  /// @}
};

/// 650 ADDRMAP Address NewAddress Expiry [error=] [EXPIRES=] [CACHED=]  (4.1.7)
struct TORCON_API AddrMapEvent {
  /// @{
  /// The event's fields, named as in control-spec: views into the reply (valid as
  /// long as it is), empty or absent when tor did not send them; `_enum` fields map
  /// the text to the enum (`other` when unknown). raw_args: the whole first line
  /// after the keyword, for keywords newer than this struct (find_arg()).
  std::string_view address;
  std::string_view new_address;  ///< "<error>" on failure, see is_error()
  Value expiry;                  ///< quoted local ISOTime, or bare "NEVER"
  Value error;                   ///< "error=" code
  Value expires;                 ///< quoted UTC ISOTime
  Value cached;                  ///< "YES" / "NO"
  std::string_view stream_id;    ///< STREAMID= (newer tor)
  std::string_view raw_args;
  bool is_error() const noexcept { return new_address == "<error>"; }
  bool never() const noexcept { return !expiry.quoted && expiry.text == "NEVER"; }
  /// @}
};

/// "650+NS" / "650+NEWCONSENSUS" + router status entries  (4.1.12, 4.1.15).
/// Event::type says which. Parse `data` with RouterStatusReader.
struct TORCON_API NetworkStatusEvent {
  /// @{
  /// The event's fields, named as in control-spec: views into the reply (valid as
  /// long as it is), empty or absent when tor did not send them; `_enum` fields map
  /// the text to the enum (`other` when unknown). raw_args: the whole first line
  /// after the keyword, for keywords newer than this struct (find_arg()).
  std::string_view data;  ///< raw data block (dot-stuffed, CRLF)
  /// @}
};

/// 650 NEWDESC 1*(SP LongName)  (4.1.6)
struct TORCON_API NewDescEvent {
  /// @{
  /// The event's fields, named as in control-spec: views into the reply (valid as
  /// long as it is), empty or absent when tor did not send them; `_enum` fields map
  /// the text to the enum (`other` when unknown). raw_args: the whole first line
  /// after the keyword, for keywords newer than this struct (find_arg()).
  std::string_view servers;  ///< space-separated LongNames
  std::string_view raw_args;
  LongNameReader routers() const { return LongNameReader(servers, ' '); }
  /// @}
};

/// 650 GUARD Type Name Status  (4.1.11)
struct TORCON_API GuardEvent {
  /// @{
  /// The event's fields, named as in control-spec: views into the reply (valid as
  /// long as it is), empty or absent when tor did not send them; `_enum` fields map
  /// the text to the enum (`other` when unknown). raw_args: the whole first line
  /// after the keyword, for keywords newer than this struct (find_arg()).
  std::string_view type;  ///< "ENTRY" or newer
  std::string_view name;  ///< ServerSpec; parse_long_name() it
  std::string_view status;
  GuardStatus status_enum = GuardStatus::other;
  std::string_view raw_args;
  /// @}
};

/// 650 STATUS_GENERAL|STATUS_CLIENT|STATUS_SERVER Severity Action [args]
/// (4.1.10). Event::type says which.
struct TORCON_API StatusEvent {
  /// @{
  /// The event's fields, named as in control-spec: views into the reply (valid as
  /// long as it is), empty or absent when tor did not send them; `_enum` fields map
  /// the text to the enum (`other` when unknown). raw_args: the whole first line
  /// after the keyword, for keywords newer than this struct (find_arg()).
  std::string_view severity;
  Severity severity_enum = Severity::other;
  std::string_view action;     ///< e.g. BOOTSTRAP, CIRCUIT_ESTABLISHED
  std::string_view arguments;  ///< KEY=VALUE list after the action
  std::string_view raw_args;
  bool find(std::string_view key, Value& out) const { return find_arg(arguments, key, out); }
  /// @}
};

/// 650 HS_DESC Action HSAddress AuthType HsDir [DescriptorID] [KEY=...] (4.1.25)
struct TORCON_API HsDescEvent {
  /// @{
  /// The event's fields, named as in control-spec: views into the reply (valid as
  /// long as it is), empty or absent when tor did not send them; `_enum` fields map
  /// the text to the enum (`other` when unknown). raw_args: the whole first line
  /// after the keyword, for keywords newer than this struct (find_arg()).
  std::string_view action;
  HsDescAction action_enum = HsDescAction::other;
  std::string_view address;  ///< onion address without ".onion", or "UNKNOWN"
  std::string_view auth_type;
  std::string_view hs_dir;         ///< LongName / Fingerprint / "UNKNOWN"
  std::string_view descriptor_id;  ///< optional positional
  Value reason;
  std::optional<std::uint64_t> replica;
  std::string_view hsdir_index;
  std::string_view raw_args;
  /// @}
};

/// One "Key=Value" (or bare "Key": option unset) line of CONF_CHANGED.
struct TORCON_API ConfChange {
  std::string_view key;  ///< the option's name
  Value value;           ///< value.present false for a bare key
};
/// Walks CONF_CHANGED's lines (ConfChangedEvent::reader()).
class TORCON_API ConfChangeReader {
 public:
  /// Walks `lines` (ConfChangedEvent::changes).
  explicit ConfChangeReader(std::span<const ReplyLine> lines) : lines_(lines) {}
  /// The next change; false at the end.
  bool next(ConfChange& out);

 private:
  std::span<const ReplyLine> lines_;
  std::size_t i_ = 0;
};

/// 650-CONF_CHANGED / 650-Key=Value ... / 650 OK  (4.1.18)
struct TORCON_API ConfChangedEvent {
  /// @{
  /// The event's fields, named as in control-spec: views into the reply (valid as
  /// long as it is), empty or absent when tor did not send them; `_enum` fields map
  /// the text to the enum (`other` when unknown). raw_args: the whole first line
  /// after the keyword, for keywords newer than this struct (find_arg()).
  std::span<const ReplyLine> changes;  ///< the Key=Value lines, "OK" excluded
  ConfChangeReader reader() const { return ConfChangeReader(changes); }
  /// @}
};

/// 650 NETWORK_LIVENESS Status  (4.1.27)
struct TORCON_API NetworkLivenessEvent {
  /// @{
  /// The event's fields, named as in control-spec: views into the reply (valid as
  /// long as it is), empty or absent when tor did not send them; `_enum` fields map
  /// the text to the enum (`other` when unknown). raw_args: the whole first line
  /// after the keyword, for keywords newer than this struct (find_arg()).
  std::string_view status;
  Liveness status_enum = Liveness::other;
  std::string_view raw_args;
  /// @}
};

/// 650 SIGNAL Signal  (4.1.17)
struct TORCON_API SignalEvent {
  /// @{
  /// The event's fields, named as in control-spec: views into the reply (valid as
  /// long as it is), empty or absent when tor did not send them; `_enum` fields map
  /// the text to the enum (`other` when unknown). raw_args: the whole first line
  /// after the keyword, for keywords newer than this struct (find_arg()).
  std::string_view signal;
  Signal signal_enum = Signal::other;
  std::string_view raw_args;
  /// @}
};

/// 650 BUILDTIMEOUT_SET Type TOTAL_TIMES= TIMEOUT_MS= XM= ALPHA=
///     CUTOFF_QUANTILE= TIMEOUT_RATE= CLOSE_MS= CLOSE_RATE=  (4.1.16)
/// Fields are optional: absent or unparsable ones stay empty.
struct TORCON_API BuildTimeoutSetEvent {
  /// @{
  /// The event's fields, named as in control-spec: views into the reply (valid as
  /// long as it is), empty or absent when tor did not send them; `_enum` fields map
  /// the text to the enum (`other` when unknown). raw_args: the whole first line
  /// after the keyword, for keywords newer than this struct (find_arg()).
  std::string_view type;
  BuildTimeoutKind type_enum = BuildTimeoutKind::other;
  std::optional<std::uint64_t> total_times, timeout_ms, xm, close_ms;
  std::optional<double> alpha, cutoff_quantile, timeout_rate, close_rate;
  std::string_view raw_args;
  /// @}
};

/// Log messages: "650 NOTICE text", or "650+WARN" + data block  (4.1.5).
/// Event::type says the severity.
struct TORCON_API LogEvent {
  /// @{
  /// The event's fields, named as in control-spec: views into the reply (valid as
  /// long as it is), empty or absent when tor did not send them; `_enum` fields map
  /// the text to the enum (`other` when unknown). raw_args: the whole first line
  /// after the keyword, for keywords newer than this struct (find_arg()).
  Severity severity = Severity::other;
  std::string_view message;  ///< single-line form: the text
  std::string_view data;     ///< data-block form: raw block (walk with DataLines)
  bool is_data = false;
  /// The message as one string: `message`, or the block's lines joined by "\n".
  std::string text() const { return is_data ? join_data(data) : std::string(message); }
  /// @}
};

/// Any event this version does not type.
struct TORCON_API UnknownEvent {
  /// @{
  /// The event's fields, named as in control-spec: views into the reply (valid as
  /// long as it is), empty or absent when tor did not send them; `_enum` fields map
  /// the text to the enum (`other` when unknown). raw_args: the whole first line
  /// after the keyword, for keywords newer than this struct (find_arg()).
  std::string_view name;
  std::string_view raw_args;
  Reply reply;  ///< the whole reply (views; same lifetime rule)
  /// @}
};

/// A parsed event: its type, name, lines, and the typed struct in `body`.
struct TORCON_API Event {
  EventType type = EventType::unknown;  ///< which event (unknown: not one of the typed ones)
  std::string_view name;                ///< the event keyword as sent
  std::span<const ReplyLine> lines;     ///< all of the reply's lines (extra ones too)
  std::variant<UnknownEvent, CircEvent, CircMinorEvent, StreamEvent, OrConnEvent, BwEvent,
               CircBwEvent, StreamBwEvent, AddrMapEvent, NetworkStatusEvent, NewDescEvent,
               GuardEvent, StatusEvent, HsDescEvent, ConfChangedEvent, NetworkLivenessEvent,
               SignalEvent, BuildTimeoutSetEvent, LogEvent>
      body;  ///< the typed struct (UnknownEvent for events without one)

  /// The body as a T, or nullptr if it is another type.
  template <class T>
  const T* get() const noexcept {
    return std::get_if<T>(&body);
  }
};

/// Parses an asynchronous (6xx) reply into `out`. Errc::bad_argument for a
/// reply that is not an event or an event missing a required field (`out` is
/// then unspecified). Nothing is allocated unless there is an error.
/// For hot loops prefer this form with one reused Event: the Expected form
/// below copies the Event (a few hundred bytes) once more.
TORCON_API Status parse_event(const Reply& reply, Event& out);
TORCON_API Expected<Event> parse_event(const Reply& reply);

}  // namespace torcon
