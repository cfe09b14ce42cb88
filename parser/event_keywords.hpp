// Event keyword -> EventType, from TORCON_EVENT_TYPES (internal to the
// parser). Inline, because parse_event() looks up every event's keyword:
// event_type() is the same lookup, out of line.
#pragma once

#include <array>
#include <string_view>

#include "keyword_table.hpp"
#include "torcon/event_types.hpp"

namespace torcon::detail {

using EventKeywordTable = KeywordTable<EventType, std::size_t(EventType::unknown) + 1>;

// Every keyword event_type() knows: the table's, and old spellings.
#define TORCON_EVENT_KEYWORD(member, keyword, type) {keyword, EventType::member},
inline constexpr EventKeywordTable kEventKeywords{
    {{
        TORCON_EVENT_TYPES(TORCON_EVENT_KEYWORD)
        // Tor before 0.2.0.22-rc (control-spec 4.1.10).
        {"STATUS_SEVER", EventType::status_server},
    }},
    EventType::unknown};
#undef TORCON_EVENT_KEYWORD
static_assert(kEventKeywords.ok(),
              "event keywords: 1-16 bytes, no two sharing length, first and last byte");

// The EventType of keyword `n`, EventType::unknown if it is none of them.
inline EventType find_event_type(std::string_view n) noexcept { return kEventKeywords.find(n); }

}  // namespace torcon::detail
