// detail::KeywordTable (parser/keyword_table.hpp): every keyword is found,
// nothing else is, whatever bytes it shares with a keyword; sets it cannot
// hold are refused at compile time (ok() false).

#include "keyword_table.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>

namespace torcon::detail {
namespace {

// Keywords of every length class key_words() reads differently (1-3, 4-7,
// 8-16 bytes); they differ in length, first or last byte, as a table's must.
constexpr std::array<KeywordTable<int, 12>::Entry, 12> kEntries = {{
    {"A", 1},
    {"AB", 2},
    {"ABC", 3},
    {"XBC", 4},
    {"ABCD", 5},
    {"ABCX", 6},
    {"ABCDEFG", 7},
    {"ABCDEFGH", 8},
    {"XBCDEFGH", 9},
    {"ABCDEFGHIJKLMNOP", 10},
    {"XBCDEFGHIJKLMNOP", 11},
    {"ABCDEFGHIJKLMNOQ", 12},
}};
constexpr KeywordTable<int, 12> kTable{kEntries, 0};
static_assert(kTable.ok());
static_assert(kTable.find("ABCX") == 6);  // usable at compile time too

TEST(KeywordTable, FindsEveryKeyword) {
  for (const auto& e : kEntries) EXPECT_EQ(kTable.find(e.key), e.value) << e.key;
}

TEST(KeywordTable, FindsNothingElse) {
  // Same length, first and last byte as a keyword (so the same slot), or not.
  for (std::string_view s :
       {"", "B", "a", "AXC", "ABXD", "ABCDXFGH", "ABCDEFGHXJKLMNOP", "ABD", "AC", "ABCE",
        "ABCDEFGX", "ABCDEFGHI", "ABCDEFGHIJKLMNOPQ", "ABCDEFGHIJKLMNO"})
    EXPECT_EQ(kTable.find(s), 0) << s;
  // Every one-byte change of every keyword.
  for (const auto& e : kEntries) {
    for (std::size_t i = 0; i < e.key.size(); ++i) {
      std::string s(e.key);
      s[i] = char(s[i] ^ 0x20);
      EXPECT_EQ(kTable.find(s), 0) << s;
    }
  }
}

TEST(KeywordTable, ReadsOnlyTheString) {
  // A keyword's prefix inside a longer buffer is not the keyword.
  const std::string buf = "ABCDEFGHIJKLMNOP";
  for (std::size_t n = 1; n < buf.size(); ++n) {
    const int want = n == 1   ? 1
                     : n == 2 ? 2
                     : n == 3 ? 3
                     : n == 4 ? 5
                     : n == 7 ? 7
                     : n == 8 ? 8
                              : 0;
    EXPECT_EQ(kTable.find(std::string_view(buf.data(), n)), want) << n;
  }
}

TEST(KeywordTable, RefusesWhatItCannotHold) {
  constexpr KeywordTable<int, 2> duplicate{{{{"AB", 1}, {"AB", 2}}}, 0};
  static_assert(!duplicate.ok());
  constexpr KeywordTable<int, 2> same_slot{{{{"ABC", 1}, {"AXC", 2}}}, 0};
  static_assert(!same_slot.ok());
  constexpr KeywordTable<int, 1> too_long{{{{"ABCDEFGHIJKLMNOPQ", 1}}}, 0};
  static_assert(!too_long.ok());
  constexpr KeywordTable<int, 1> empty{{{{"", 1}}}, 0};
  static_assert(!empty.ok());
  EXPECT_EQ(too_long.find("ABCDEFGHIJKLMNOPQ"), 0);
}

}  // namespace
}  // namespace torcon::detail
