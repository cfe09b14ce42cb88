// detail::find_keyword_hash (parser/keyword_hash.hpp): a hash it finds gives
// every keyword of the set its own value; sets it cannot separate get none.

#include "keyword_hash.hpp"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string_view>

namespace torcon::detail {
namespace {

using namespace std::string_view_literals;

template <std::size_t Slots, std::size_t N>
bool separates(const KeywordHash<Slots>& h, const std::array<std::string_view, N>& keys) {
  std::set<std::size_t> values;
  for (std::string_view k : keys) {
    if (h(k) >= Slots) return false;
    values.insert(h(k));
  }
  return values.size() == N;
}

TEST(KeywordHash, SeparatesKeywordsThatDifferInLengthFirstOrLastByte) {
  constexpr std::array keys = {"A"sv,    "AB"sv,   "ABC"sv,      "XBC"sv,
                               "ABCD"sv, "ABCX"sv, "ABCDEFGH"sv, "XBCDEFGH"sv};
  constexpr auto h = find_keyword_hash<32>(keys);
  static_assert(h.by_size != 0);
  EXPECT_TRUE(separates(h, keys));
  // Twice as many values as keywords, as event_keywords.hpp has.
  constexpr auto twice = find_keyword_hash<16>(keys);
  static_assert(twice.by_size != 0);
  EXPECT_TRUE(separates(twice, keys));
}

TEST(KeywordHash, RefusesSetsItCannotSeparate) {
  static_assert(find_keyword_hash<16>(std::array{"AB"sv, "AB"sv}).by_size == 0);
  // Same length, first and last byte: only the middle differs.
  static_assert(find_keyword_hash<16>(std::array{"ABC"sv, "AXC"sv}).by_size == 0);
  static_assert(find_keyword_hash<16>(std::array{""sv}).by_size == 0);
  // More keywords than values.
  static_assert(find_keyword_hash<2>(std::array{"A"sv, "B"sv, "C"sv}).by_size == 0);
  SUCCEED();
}

}  // namespace
}  // namespace torcon::detail
