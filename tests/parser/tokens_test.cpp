// torcon/tokens.hpp: one line per case, each against the spec's grammar.
#include "torcon/tokens.hpp"

#include <gtest/gtest.h>

#include <string>

namespace torcon {
namespace {

using namespace std::string_view_literals;

struct Case {
  std::string_view in;
  bool want;
};

TEST(Tokens, ControlId) {
  const Case cases[] = {
      {"1", true},
      {"abcDEF0123456789", true},
      {"abcDEF01234567890", false},
      {"", false},
      {"12 ", false},
      {"1-2", false},
      {"\xc3\xa9", false},
      {"1\0"sv, false},
      {"_", false},
  };
  for (const Case& c : cases) EXPECT_EQ(is_control_id(c.in), c.want) << c.in;
}

TEST(Tokens, Nickname) {
  const Case cases[] = {
      {"moria1", true},
      {std::string_view("abcdefghij123456789"), true},
      {"abcdefghij1234567890", false},
      {"", false},
      {"bad~name", false},
      {"$ABC", false},
  };
  for (const Case& c : cases) EXPECT_EQ(is_nickname(c.in), c.want) << c.in;
}

TEST(Tokens, HexIdentity) {
  const std::string upper(40, 'A'), lower(40, 'f');
  EXPECT_TRUE(is_hex_identity(upper));
  EXPECT_TRUE(is_hex_identity(lower));
  EXPECT_FALSE(is_hex_identity(upper.substr(1)));
  EXPECT_FALSE(is_hex_identity(upper + "0"));
  EXPECT_FALSE(is_hex_identity("$" + upper.substr(1)));
  EXPECT_FALSE(is_hex_identity(upper.substr(1) + "G"));
  EXPECT_EQ(hex_value('0'), 0);
  EXPECT_EQ(hex_value('F'), 15);
  EXPECT_EQ(hex_value('a'), 10);
  EXPECT_EQ(hex_value('g'), -1);
  EXPECT_EQ(hex_value('\0'), -1);
}

TEST(Tokens, EventName) {
  const Case cases[] = {
      {"CIRC", true}, {"circ_minor", true}, {"HS_DESC_CONTENT", true},
      {"", false},    {"CIRC ", false},     {"CIRC\r\n", false},
      {"BW1", false}, {"A\0B"sv, false},
  };
  for (const Case& c : cases) EXPECT_EQ(is_event_name(c.in), c.want) << c.in;
}

}  // namespace
}  // namespace torcon
