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

TEST(Tokens, CommandKeyword) {
  const Case cases[] = {
      {"GETINFO", true}, {"ADD_ONION", true},  {"getconf", true},
      {"", false},       {"GET INFO", false},  {"GETINFO\r\n", false},
      {"HS2", false},    {"+POSTDESC", false}, {"A\0B"sv, false},
  };
  for (const Case& c : cases) EXPECT_EQ(is_command_keyword(c.in), c.want) << c.in;
}

TEST(Tokens, CommandKey) {
  const Case cases[] = {
      {"ORPort", true},
      {"HiddenServiceDir", true},
      {"ns/id/0123456789ABCDEF0123456789ABCDEF01234567", true},
      {"status/bootstrap-phase", true},
      {"Log.notice", true},
      {"a:b", true},
      {"", false},
      {"Key Value", false},
      {"Key=Value", false},
      {"\"quoted\"", false},
      {"Key\n", false},
      {"K\0"sv, false},
  };
  for (const Case& c : cases) EXPECT_EQ(is_command_key(c.in), c.want) << c.in;
}

// Byte classes: every byte against the grammar's ranges, not a few samples.
TEST(Tokens, ByteClasses) {
  for (int i = 0; i < 256; ++i) {
    const char c = char(i);
    const bool digit = i >= '0' && i <= '9';
    const bool alpha = (i >= 'A' && i <= 'Z') || (i >= 'a' && i <= 'z');
    const bool hex = digit || (i >= 'A' && i <= 'F') || (i >= 'a' && i <= 'f');
    EXPECT_EQ(is_ascii_alpha(c), alpha) << i;
    EXPECT_EQ(is_ascii_alnum(c), alpha || digit) << i;
    EXPECT_EQ(is_arg_key_char(c), alpha || digit || i == '_') << i;
    const int value = digit ? i - '0' : (i | 0x20) - 'a' + 10;
    EXPECT_EQ(hex_value(c), hex ? value : -1) << i;
  }
}

TEST(Tokens, HexOfAnyLength) {
  EXPECT_TRUE(is_hex("", 0));
  EXPECT_TRUE(is_hex("0aF9", 4));
  EXPECT_FALSE(is_hex("0aF9", 3));
  EXPECT_FALSE(is_hex("0aG9", 4));
  EXPECT_FALSE(is_hex("0x12", 4));
}

}  // namespace
}  // namespace torcon
