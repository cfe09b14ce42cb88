// A hash of a fixed set of keywords without collisions, found at compile time
// (internal to the parser; event_keywords.hpp switches on it).
//
// The hash is of a keyword's length, first and last byte, so it costs a few
// instructions; its two multipliers are searched at compile time for a set,
// so a keyword added to the set can only fail the build (no multipliers, or
// a duplicate case label where the set is switched on), never a lookup.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace torcon::detail {

// Values 0 to Slots - 1 (a power of two).
template <std::size_t Slots>
struct KeywordHash {
  static_assert(std::has_single_bit(Slots));
  unsigned by_size = 0, by_first = 0;  // 0: no hash was found

  constexpr std::size_t operator()(std::string_view s) const noexcept {  // s not empty
    return (by_size * unsigned(s.size()) + by_first * std::uint8_t(s.front()) +
            std::uint8_t(s.back())) &
           (Slots - 1);
  }
};

// The first multipliers (1-63 each) that give each of `keys` its own value,
// or a hash with by_size 0 when there are none: when keys are empty or two
// share length, first and last byte (or, rarely, Slots is too small).
template <std::size_t Slots, std::size_t N>
constexpr KeywordHash<Slots> find_keyword_hash(const std::array<std::string_view, N>& keys) {
  for (const std::string_view k : keys)
    if (k.empty()) return {};
  for (unsigned a = 1; a < 64; ++a) {
    for (unsigned b = 1; b < 64; ++b) {
      const KeywordHash<Slots> h{a, b};
      std::array<bool, Slots> used{};
      bool collision = false;
      for (const std::string_view k : keys) {
        collision = collision || used[h(k)];
        used[h(k)] = true;
      }
      if (!collision) return h;
    }
  }
  return {};
}

}  // namespace torcon::detail
