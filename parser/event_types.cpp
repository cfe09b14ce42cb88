// event_type() and to_string(EventType), both made from TORCON_EVENT_TYPES.

#include "torcon/event_types.hpp"

#include <cstddef>

#include "event_keywords.hpp"

namespace torcon {
namespace {

// Indexed by EventType; "" for unknown.
#define TORCON_EVENT_NAME(member, keyword, type) keyword,
constexpr std::string_view kNames[] = {TORCON_EVENT_TYPES(TORCON_EVENT_NAME) ""};
#undef TORCON_EVENT_NAME
static_assert(std::size(kNames) == std::size_t(EventType::unknown) + 1);

}  // namespace

EventType event_type(std::string_view n) noexcept { return detail::find_event_type(n); }

std::string_view to_string(EventType t) noexcept {
  const auto i = std::size_t(t);
  return i < std::size(kNames) ? kNames[i] : std::string_view{};
}

}  // namespace torcon
