// Event keyword -> EventType, from TORCON_EVENT_TYPES (internal to the
// parser). Inline, because parse_event() looks up every event's keyword:
// event_type() is the same lookup, out of line.
#pragma once

#include <array>
#include <string_view>

#include "keyword_hash.hpp"
#include "torcon/event_types.hpp"

namespace torcon::detail {

// Old spellings tor may still send, besides the table's keywords.
// Tor before 0.2.0.22-rc wrote STATUS_SEVER (control-spec 4.1.10).
#define TORCON_EVENT_KEYWORD_ALIASES(X) X(status_server, "STATUS_SEVER", StatusEvent)

#define TORCON_EVENT_KEYWORD(member, keyword, type) std::string_view(keyword),
inline constexpr auto kEventKeywordHash = find_keyword_hash<64>(std::array{
    TORCON_EVENT_TYPES(TORCON_EVENT_KEYWORD) TORCON_EVENT_KEYWORD_ALIASES(TORCON_EVENT_KEYWORD)});
#undef TORCON_EVENT_KEYWORD
static_assert(kEventKeywordHash.by_size != 0,
              "event keywords: no two may share length, first and last byte");

// A switch on the hash: a jump table to the one keyword that can match, and
// a comparison with it as a constant. Always inlined: called, it cost
// parse_event 1% more instructions than the hand-written switch on length it
// replaced; inlined, slightly fewer.
[[gnu::always_inline]] inline EventType find_event_type(std::string_view n) noexcept {
  if (n.empty()) return EventType::unknown;
  switch (kEventKeywordHash(n)) {
#define TORCON_EVENT_CASE(member, keyword, type) \
  case kEventKeywordHash(keyword): return n == keyword ? EventType::member : EventType::unknown;
    TORCON_EVENT_TYPES(TORCON_EVENT_CASE)
    TORCON_EVENT_KEYWORD_ALIASES(TORCON_EVENT_CASE)
#undef TORCON_EVENT_CASE
    default: return EventType::unknown;
  }
}

}  // namespace torcon::detail
