// Each event's vocabulary in one place (internal to the parser): for the
// events whose arguments are positionals then KEY=VALUE pairs, a table of
// where each argument goes and what it must be; for every event, the names
// of its enums. parse_event() in events.cpp walks the tables; adding a
// keyword tor started sending is one line here (and a member in events.hpp).
//
// A table's order is the order of its checks, so the first problem in an
// event is the one its error names, as control-spec lists the fields.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <variant>

#include "keyword_hash.hpp"
#include "torcon/events.hpp"

namespace torcon::detail {

// ---- the shape of a table -----------------------------------------------------

/// What a field requires once all the arguments are read.
enum class Need : std::uint8_t {
  optional,       ///< may be absent
  present,        ///< must be present (text: not empty)
  id,             ///< must be present and a control-spec ID (1-16 letters/digits)
  id_if_present,  ///< an ID when present
};

/// The member an argument is stored in. Numbers: `std::uint64_t` must parse
/// (the event fails otherwise); optional ones stay empty when they do not,
/// since raw_args still holds the text.
template <class E>
using FieldSink = std::variant<std::string_view E::*, Value E::*, std::uint64_t E::*,
                               std::optional<std::uint64_t> E::*, std::optional<double> E::*>;

/// One argument of an event: a positional (by its index in the table) or a
/// keyword (by its key).
template <class E>
struct Field {
  std::string_view name;  ///< the keyword, or control-spec's name of the positional
  FieldSink<E> sink;
  Need need = Need::optional;
  std::string_view label = {};  ///< what errors call it, when not `name`
};

/// Specialised below for each table-driven event: `positional` and `keyword`
/// (std::arrays of Field) and `finish(E&)`, which sets the `_enum` members.
template <class E>
struct EventFields;

template <class E>
concept TableDrivenEvent = requires {
  EventFields<E>::positional.size();
};

template <class E, std::size_t N>
E enum_of(std::string_view s, const std::pair<std::string_view, E> (&names)[N], E other) {
  for (const auto& [name, value] : names)
    if (name == s) return value;
  return other;
}

// ---- enum names (control-spec 4.1) ----------------------------------------------

inline constexpr std::pair<std::string_view, CircStatus> kCircStatusNames[] = {
    {"LAUNCHED", CircStatus::launched},     {"BUILT", CircStatus::built},
    {"GUARD_WAIT", CircStatus::guard_wait}, {"EXTENDED", CircStatus::extended},
    {"FAILED", CircStatus::failed},         {"CLOSED", CircStatus::closed}};
inline constexpr std::pair<std::string_view, CircMinorKind> kCircMinorNames[] = {
    {"PURPOSE_CHANGED", CircMinorKind::purpose_changed},
    {"CANNIBALIZED", CircMinorKind::cannibalized}};
inline constexpr std::pair<std::string_view, StreamStatus> kStreamStatusNames[] = {
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
inline constexpr std::pair<std::string_view, OrConnStatus> kOrConnStatusNames[] = {
    {"NEW", OrConnStatus::new_},
    {"LAUNCHED", OrConnStatus::launched},
    {"CONNECTED", OrConnStatus::connected},
    {"FAILED", OrConnStatus::failed},
    {"CLOSED", OrConnStatus::closed}};
inline constexpr std::pair<std::string_view, GuardStatus> kGuardStatusNames[] = {
    {"NEW", GuardStatus::new_}, {"UP", GuardStatus::up},     {"DOWN", GuardStatus::down},
    {"BAD", GuardStatus::bad},  {"GOOD", GuardStatus::good}, {"DROPPED", GuardStatus::dropped}};
inline constexpr std::pair<std::string_view, HsDescAction> kHsDescActionNames[] = {
    {"REQUESTED", HsDescAction::requested}, {"UPLOAD", HsDescAction::upload},
    {"RECEIVED", HsDescAction::received},   {"UPLOADED", HsDescAction::uploaded},
    {"IGNORE", HsDescAction::ignore},       {"FAILED", HsDescAction::failed},
    {"CREATED", HsDescAction::created}};
inline constexpr std::pair<std::string_view, Severity> kSeverityNames[] = {
    {"DEBUG", Severity::debug},
    {"INFO", Severity::info},
    {"NOTICE", Severity::notice},
    {"WARN", Severity::warn},
    {"ERR", Severity::err}};
inline constexpr std::pair<std::string_view, Liveness> kLivenessNames[] = {
    {"UP", Liveness::up}, {"DOWN", Liveness::down}};
inline constexpr std::pair<std::string_view, Signal> kSignalNames[] = {
    {"RELOAD", Signal::reload},
    {"DUMP", Signal::dump},
    {"DEBUG", Signal::debug},
    {"NEWNYM", Signal::newnym},
    {"CLEARDNSCACHE", Signal::cleardnscache},
    {"HEARTBEAT", Signal::heartbeat},
    {"ACTIVE", Signal::active},
    {"DORMANT", Signal::dormant}};
inline constexpr std::pair<std::string_view, BuildTimeoutKind> kBuildTimeoutNames[] = {
    {"COMPUTED", BuildTimeoutKind::computed},
    {"RESET", BuildTimeoutKind::reset},
    {"SUSPENDED", BuildTimeoutKind::suspended},
    {"DISCARD", BuildTimeoutKind::discard},
    {"RESUME", BuildTimeoutKind::resume}};

// ---- the tables -----------------------------------------------------------------

// 4.1.1: CIRC CircuitID CircStatus [Path] [KEY=VALUE ...]
template <>
struct EventFields<CircEvent> {
  using E = CircEvent;
  static constexpr std::array<Field<E>, 3> positional{{
      {"CircuitID", &E::id, Need::id},
      {"CircStatus", &E::status, Need::present},
      {"Path", &E::path},
  }};
  static constexpr std::array<Field<E>, 12> keyword{{
      {"BUILD_FLAGS", &E::build_flags},
      {"PURPOSE", &E::purpose},
      {"HS_STATE", &E::hs_state},
      {"REND_QUERY", &E::rend_query},
      {"TIME_CREATED", &E::time_created},
      {"REASON", &E::reason},
      {"REMOTE_REASON", &E::remote_reason},
      {"SOCKS_USERNAME", &E::socks_username},
      {"SOCKS_PASSWORD", &E::socks_password},
      {"HS_POW", &E::hs_pow},
      {"CONFLUX_ID", &E::conflux_id},
      {"CONFLUX_RTT", &E::conflux_rtt},
  }};
  static void finish(E& e) {
    e.status_enum = enum_of(e.status, kCircStatusNames, CircStatus::other);
  }
};

// 4.1.19: CIRC_MINOR CircuitID CircEvent [Path] [KEY=VALUE ...]
template <>
struct EventFields<CircMinorEvent> {
  using E = CircMinorEvent;
  static constexpr std::array<Field<E>, 3> positional{{
      {"CircuitID", &E::id, Need::id},
      {"CircEvent", &E::event, Need::present},
      {"Path", &E::path},
  }};
  static constexpr std::array<Field<E>, 7> keyword{{
      {"BUILD_FLAGS", &E::build_flags},
      {"PURPOSE", &E::purpose},
      {"HS_STATE", &E::hs_state},
      {"REND_QUERY", &E::rend_query},
      {"TIME_CREATED", &E::time_created},
      {"OLD_PURPOSE", &E::old_purpose},
      {"OLD_HS_STATE", &E::old_hs_state},
  }};
  static void finish(E& e) {
    e.event_enum = enum_of(e.event, kCircMinorNames, CircMinorKind::other);
  }
};

// 4.1.2: STREAM StreamID StreamStatus CircuitID Target [KEY=VALUE ...]
template <>
struct EventFields<StreamEvent> {
  using E = StreamEvent;
  static constexpr std::array<Field<E>, 4> positional{{
      {"StreamID", &E::id, Need::id},
      {"StreamStatus", &E::status, Need::present},
      {"CircuitID", &E::circ_id, Need::id},
      {"Target", &E::target, Need::present},
  }};
  static constexpr std::array<Field<E>, 11> keyword{{
      {"REASON", &E::reason},
      {"REMOTE_REASON", &E::remote_reason},
      {"SOURCE", &E::source},
      {"SOURCE_ADDR", &E::source_addr},
      {"PURPOSE", &E::purpose},
      {"SOCKS_USERNAME", &E::socks_username},
      {"SOCKS_PASSWORD", &E::socks_password},
      {"CLIENT_PROTOCOL", &E::client_protocol},
      {"NYM_EPOCH", &E::nym_epoch},
      {"SESSION_GROUP", &E::session_group},
      {"ISO_FIELDS", &E::iso_fields},
  }};
  static void finish(E& e) {
    e.status_enum = enum_of(e.status, kStreamStatusNames, StreamStatus::other);
  }
};

// 4.1.3: ORCONN (LongName / Target) ORStatus [REASON=] [NCIRCS=] [ID=]
template <>
struct EventFields<OrConnEvent> {
  using E = OrConnEvent;
  static constexpr std::array<Field<E>, 2> positional{{
      {"LongName/Target", &E::target, Need::present},
      {"ORStatus", &E::status, Need::present},
  }};
  static constexpr std::array<Field<E>, 3> keyword{{
      {"REASON", &E::reason},
      {"NCIRCS", &E::ncircs},
      {"ID", &E::id, Need::id_if_present, "ConnID"},
  }};
  static void finish(E& e) {
    e.status_enum = enum_of(e.status, kOrConnStatusNames, OrConnStatus::other);
  }
};

// 4.1.22: CIRC_BW ID= READ= WRITTEN= TIME= DELIVERED_READ= ... (keywords only)
template <>
struct EventFields<CircBwEvent> {
  using E = CircBwEvent;
  static constexpr std::array<Field<E>, 0> positional{};
  static constexpr std::array<Field<E>, 12> keyword{{
      {"ID", &E::id, Need::id},
      {"READ", &E::read, Need::present},
      {"WRITTEN", &E::written, Need::present},
      {"TIME", &E::time},
      {"DELIVERED_READ", &E::delivered_read},
      {"OVERHEAD_READ", &E::overhead_read},
      {"DELIVERED_WRITTEN", &E::delivered_written},
      {"OVERHEAD_WRITTEN", &E::overhead_written},
      {"SS", &E::ss},
      {"CWND", &E::cwnd},
      {"RTT", &E::rtt},
      {"MIN_RTT", &E::min_rtt},
  }};
  static void finish(E&) {}
};

// 4.1.7: ADDRMAP Address NewAddress Expiry [error=] [EXPIRES=] [CACHED=] [STREAMID=]
template <>
struct EventFields<AddrMapEvent> {
  using E = AddrMapEvent;
  static constexpr std::array<Field<E>, 3> positional{{
      {"Address", &E::address, Need::present},
      {"NewAddress", &E::new_address, Need::present},
      {"Expiry", &E::expiry, Need::present},
  }};
  static constexpr std::array<Field<E>, 4> keyword{{
      {"error", &E::error},
      {"EXPIRES", &E::expires},
      {"CACHED", &E::cached},
      {"STREAMID", &E::stream_id},
  }};
  static void finish(E&) {}
};

// 4.1.11: GUARD Type Name Status
template <>
struct EventFields<GuardEvent> {
  using E = GuardEvent;
  static constexpr std::array<Field<E>, 3> positional{{
      {"Type", &E::type, Need::present},
      {"Name", &E::name, Need::present},
      {"Status", &E::status, Need::present},
  }};
  static constexpr std::array<Field<E>, 0> keyword{};
  static void finish(E& e) {
    e.status_enum = enum_of(e.status, kGuardStatusNames, GuardStatus::other);
  }
};

// 4.1.25: HS_DESC Action HSAddress AuthType HsDir [DescriptorID] [KEY=VALUE ...]
template <>
struct EventFields<HsDescEvent> {
  using E = HsDescEvent;
  static constexpr std::array<Field<E>, 5> positional{{
      {"Action", &E::action, Need::present},
      {"HSAddress", &E::address, Need::present},
      {"AuthType", &E::auth_type, Need::present},
      {"HsDir", &E::hs_dir, Need::present},
      {"DescriptorID", &E::descriptor_id},
  }};
  static constexpr std::array<Field<E>, 3> keyword{{
      {"REASON", &E::reason},
      {"REPLICA", &E::replica},
      {"HSDIR_INDEX", &E::hsdir_index},
  }};
  static void finish(E& e) {
    e.action_enum = enum_of(e.action, kHsDescActionNames, HsDescAction::other);
  }
};

// 4.1.16: BUILDTIMEOUT_SET Type TOTAL_TIMES= TIMEOUT_MS= XM= ALPHA= ...
template <>
struct EventFields<BuildTimeoutSetEvent> {
  using E = BuildTimeoutSetEvent;
  static constexpr std::array<Field<E>, 1> positional{{
      {"Type", &E::type, Need::present},
  }};
  static constexpr std::array<Field<E>, 8> keyword{{
      {"TOTAL_TIMES", &E::total_times},
      {"TIMEOUT_MS", &E::timeout_ms},
      {"XM", &E::xm},
      {"ALPHA", &E::alpha},
      {"CUTOFF_QUANTILE", &E::cutoff_quantile},
      {"TIMEOUT_RATE", &E::timeout_rate},
      {"CLOSE_MS", &E::close_ms},
      {"CLOSE_RATE", &E::close_rate},
  }};
  static void finish(E& e) {
    e.type_enum = enum_of(e.type, kBuildTimeoutNames, BuildTimeoutKind::other);
  }
};

// ---- the hash of an event's keys -------------------------------------------------

/// A collision-free hash of an event's keys (keyword_hash.hpp): events.cpp
/// switches on it, so finding a key's field is a few instructions and one
/// comparison with a constant. A key added to a table that collides fails the
/// build.
template <class E>
constexpr KeywordHash<32> keyword_hash_of() {
  constexpr auto& keys = EventFields<E>::keyword;
  std::array<std::string_view, keys.size()> names{};
  for (std::size_t i = 0; i < keys.size(); ++i) names[i] = keys[i].name;
  return find_keyword_hash<32>(names);
}

template <class E>
inline constexpr KeywordHash<32> kKeywordHash = keyword_hash_of<E>();

}  // namespace torcon::detail
