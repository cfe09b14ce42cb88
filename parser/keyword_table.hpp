// A fixed set of keywords and their values, found by a hash chosen at
// compile time (internal to the parser; event_keywords.hpp maps event
// keywords to EventType with it).
//
// The hash is of a keyword's length, first and last byte; its two
// multipliers are searched at compile time for a table without collisions,
// so a keyword added to a set can only fail the build, never a lookup. A
// lookup is one slot and one comparison of two words, for known and unknown
// strings alike.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace torcon::detail {

// `n` (8, 4 or fewer) bytes at `p` as a number: one load at run time, the
// same number at compile time.
constexpr std::uint64_t load_bytes(const char* p, std::size_t n) {
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
    const std::size_t shift = std::endian::native == std::endian::little ? 8 * i : 8 * (n - 1 - i);
    w |= std::uint64_t(std::uint8_t(p[i])) << shift;
  }
  return w;
}

inline constexpr std::size_t kLongestKeyword = 16;

// A string of 1-16 bytes as two words that, for strings of one length, are
// equal only when the strings are: its first and last 8 (or 4) bytes,
// overlapping when shorter. Reads only the string.
struct KeyWords {
  std::uint64_t head = 0, tail = 0;
  bool operator==(const KeyWords&) const = default;
};
constexpr KeyWords key_words(std::string_view s) {
  const char* p = s.data();
  const std::size_t n = s.size();
  if (n >= 8) return {load_bytes(p, 8), load_bytes(p + n - 8, 8)};
  if (n >= 4) return {load_bytes(p, 4), load_bytes(p + n - 4, 4)};
  return {load_bytes(p, n), 0};
}

// N keywords of 1-16 bytes, each with a value of type V; no two may share
// length, first and last byte. find() gives a keyword's value, `none` for
// anything else. Check ok() in a static_assert where a table is made.
template <class V, std::size_t N, std::size_t Slots = std::bit_ceil(2 * N < 8 ? 8 : 2 * N)>
class KeywordTable {
  static_assert(std::has_single_bit(Slots));

 public:
  struct Entry {
    std::string_view key;
    V value;
  };

  constexpr KeywordTable(const std::array<Entry, N>& entries, V none) : none_(none) {
    for (const Entry& e : entries)
      if (e.key.empty() || e.key.size() > kLongestKeyword) return;
    for (unsigned a = 1; a < 64 && !ok_; ++a) {
      for (unsigned b = 1; b < 64 && !ok_; ++b) {
        by_size_ = a;
        by_first_ = b;
        std::array<bool, Slots> used{};
        bool collision = false;
        for (const Entry& e : entries) {
          const std::size_t i = slot(e.key);
          collision = collision || used[i];
          used[i] = true;
        }
        ok_ = !collision;
      }
    }
    for (Slot& s : slots_) s.value = none;
    if (!ok_) return;
    for (const Entry& e : entries)
      slots_[slot(e.key)] = Slot{key_words(e.key), std::uint8_t(e.key.size()), e.value};
  }

  // False when the keywords are not 1-16 bytes, two share length, first and
  // last byte, or (rarely) no multipliers were found: give the table more
  // Slots.
  constexpr bool ok() const { return ok_; }

  constexpr V find(std::string_view s) const noexcept {
    if (s.empty()) return none_;
    const Slot& slot = slots_[this->slot(s)];
    // An empty slot's size is 0, so it matches nothing.
    if (s.size() != slot.size || key_words(s) != slot.words) return none_;
    return slot.value;
  }

 private:
  struct Slot {
    KeyWords words;
    std::uint8_t size = 0;
    V value{};
  };

  constexpr std::size_t slot(std::string_view s) const {  // s not empty
    return (by_size_ * unsigned(s.size()) + by_first_ * std::uint8_t(s.front()) +
            std::uint8_t(s.back())) &
           (Slots - 1);
  }

  unsigned by_size_ = 0, by_first_ = 0;
  bool ok_ = false;
  V none_;
  std::array<Slot, Slots> slots_{};
};

}  // namespace torcon::detail
