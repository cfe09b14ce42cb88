// Event keyword -> EventType, from TORCON_EVENT_TYPES (internal to the
// parser). Inline, because parse_event() looks up every event's keyword:
// event_type() is the same lookup, out of line.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "torcon/event_types.hpp"

namespace torcon::detail {

struct Keyword {
  std::string_view name;
  EventType type = EventType::unknown;
};

// Every keyword event_type() knows: the table's, and old spellings.
#define TORCON_EVENT_KEYWORD(member, keyword, type) {keyword, EventType::member},
inline constexpr Keyword kKeywords[] = {
    TORCON_EVENT_TYPES(TORCON_EVENT_KEYWORD)
    // Tor before 0.2.0.22-rc (control-spec 4.1.10).
    {"STATUS_SEVER", EventType::status_server},
};
#undef TORCON_EVENT_KEYWORD

// Keywords are found by a hash of their length, first and last byte: one
// slot, one comparison, for known and unknown keywords alike. The
// multipliers are searched at compile time for a table without collisions,
// so a keyword added to the table can only fail the build, not the lookup.
inline constexpr std::size_t kSlots = 64;

struct Hash {
  unsigned by_size = 0, by_first = 0;
  constexpr std::size_t operator()(std::string_view s) const {  // s not empty
    return (by_size * unsigned(s.size()) + by_first * std::uint8_t(s.front()) +
            std::uint8_t(s.back())) %
           kSlots;
  }
};

constexpr Hash find_hash() {
  for (unsigned a = 1; a < 64; ++a) {
    for (unsigned b = 1; b < 64; ++b) {
      const Hash h{a, b};
      std::array<bool, kSlots> used{};
      bool ok = true;
      for (const Keyword& k : kKeywords) {
        const std::size_t i = h(k.name);
        ok = ok && !used[i];
        used[i] = true;
      }
      if (ok) return h;
    }
  }
  return Hash{};
}

inline constexpr Hash kHash = find_hash();
static_assert(kHash.by_size != 0, "no collision-free hash of the event keywords: widen the search");

// `n` (8, 4 or less) bytes at `p` as a number: one load at run time, the
// same number at compile time for the table.
constexpr std::uint64_t load(const char* p, std::size_t n) {
  if (!std::is_constant_evaluated()) {
    if (n == 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      return w;
    }
    if (n == 4) {
      std::uint32_t w;
      std::memcpy(&w, p, 4);
      return w;
    }
  }
  std::uint64_t w = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned shift = std::endian::native == std::endian::little ? 8 * i : 8 * (n - 1 - i);
    w |= std::uint64_t(std::uint8_t(p[i])) << shift;
  }
  return w;
}

// A 1-16 byte string as two words that, for strings of one length, are
// equal only when the strings are: its first and last 8 (or 4) bytes,
// overlapping when shorter than 16 (or 8). Reads only the string's bytes.
struct Words {
  std::uint64_t head = 0, tail = 0;
  bool operator==(const Words&) const = default;
};
constexpr Words words(std::string_view s) {
  const std::size_t n = s.size();
  if (n >= 8) return {load(s.data(), 8), load(s.data() + n - 8, 8)};
  if (n >= 4) return {load(s.data(), 4), load(s.data() + n - 4, 4)};
  return {load(s.data(), n), 0};
}

inline constexpr std::size_t kLongest = 16;  // a longer keyword is unknown

struct Slot {
  Words words;
  std::uint8_t size = 0;  // 0: empty, matches nothing
  EventType type = EventType::unknown;
};

inline constexpr auto kTable = [] {
  std::array<Slot, kSlots> t{};
  for (const Keyword& k : kKeywords)
    t[kHash(k.name)] = Slot{words(k.name), std::uint8_t(k.name.size()), k.type};
  return t;
}();

constexpr bool all_fit() {
  for (const Keyword& k : kKeywords)
    if (k.name.empty() || k.name.size() > kLongest) return false;
  return true;
}
static_assert(all_fit(), "event keywords are 1-16 bytes: widen Words for a longer one");

// The EventType of keyword `n`, EventType::unknown if it is none of them.
inline EventType find_event_type(std::string_view n) noexcept {
  if (n.empty()) return EventType::unknown;
  const Slot& slot = kTable[kHash(n)];
  if (n.size() != slot.size || words(n) != slot.words) return EventType::unknown;
  return slot.type;
}

}  // namespace torcon::detail
