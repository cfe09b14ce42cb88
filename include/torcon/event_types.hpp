// The asynchronous event types this version parses (control-spec 4.1), as
// one table.
#pragma once

#include <cstdint>
#include <string_view>

#include "torcon/export.hpp"

namespace torcon {

// One line per event type: its EventType member, the keyword tor sends, and
// the struct parse_event() (events.hpp) gives for it. EventType, event_type(),
// to_string() and parse_event()'s dispatch are all made from this list; to
// type a new event, add its line and its struct (with its parser in
// parser/events.cpp). X(member, keyword, struct).
#define TORCON_EVENT_TYPES(X)                                   \
  X(circ, "CIRC", CircEvent)                                    \
  X(circ_minor, "CIRC_MINOR", CircMinorEvent)                   \
  X(stream, "STREAM", StreamEvent)                              \
  X(orconn, "ORCONN", OrConnEvent)                              \
  X(bw, "BW", BwEvent)                                          \
  X(circ_bw, "CIRC_BW", CircBwEvent)                            \
  X(stream_bw, "STREAM_BW", StreamBwEvent)                      \
  X(addrmap, "ADDRMAP", AddrMapEvent)                           \
  X(ns, "NS", NetworkStatusEvent)                               \
  X(newconsensus, "NEWCONSENSUS", NetworkStatusEvent)           \
  X(newdesc, "NEWDESC", NewDescEvent)                           \
  X(guard, "GUARD", GuardEvent)                                 \
  X(status_general, "STATUS_GENERAL", StatusEvent)              \
  X(status_client, "STATUS_CLIENT", StatusEvent)                \
  X(status_server, "STATUS_SERVER", StatusEvent)                \
  X(hs_desc, "HS_DESC", HsDescEvent)                            \
  X(conf_changed, "CONF_CHANGED", ConfChangedEvent)             \
  X(network_liveness, "NETWORK_LIVENESS", NetworkLivenessEvent) \
  X(signal, "SIGNAL", SignalEvent)                              \
  X(buildtimeout_set, "BUILDTIMEOUT_SET", BuildTimeoutSetEvent) \
  /* log events, in Severity's order */                         \
  X(debug, "DEBUG", LogEvent)                                   \
  X(info, "INFO", LogEvent)                                     \
  X(notice, "NOTICE", LogEvent)                                 \
  X(warn, "WARN", LogEvent)                                     \
  X(err, "ERR", LogEvent)

/// clang-format off
enum class EventType : std::uint8_t {
#define TORCON_EVENT_TYPE_MEMBER(member, keyword, type) member,
  TORCON_EVENT_TYPES(TORCON_EVENT_TYPE_MEMBER)
#undef TORCON_EVENT_TYPE_MEMBER
      unknown  ///< any other event keyword (parse_event gives an UnknownEvent)
};
// clang-format on

/// The EventType for an event keyword as tor writes it (case-sensitive);
/// EventType::unknown for keywords this version does not type. Tor before
/// 0.2.0.22-rc misspelled STATUS_SERVER as "STATUS_SEVER" (control-spec
/// 4.1.10): that maps to status_server too.
TORCON_API EventType event_type(std::string_view name) noexcept;
/// The event keyword, e.g. "CIRC_MINOR"; "" for unknown.
TORCON_API std::string_view to_string(EventType t) noexcept;

}  // namespace torcon
