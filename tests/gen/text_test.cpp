// gen/text.hpp: the text forms the generator writes. Expected values come
// from the definitions (RFC 4648, the civil calendar, tor's QuotedString),
// computed outside this code.

#include "gen/text.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace torcon::gen {
namespace {

std::string base64(std::string_view raw, bool pad) {
  std::string out;
  put_base64(out, std::span(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()), pad);
  return out;
}

TEST(TextTest, Base64IsRfc4648WithOptionalPadding) {
  struct Case {
    std::string_view raw, unpadded, padded;
  };
  const Case cases[] = {
      {"", "", ""},
      {"f", "Zg", "Zg=="},
      {"fo", "Zm8", "Zm8="},
      {"foo", "Zm9v", "Zm9v"},
      {"foob", "Zm9vYg", "Zm9vYg=="},
      {"fooba", "Zm9vYmE", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
      {"\xff\xef\xbe", "/+++", "/+++"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(base64(c.raw, false), c.unpadded) << c.raw;
    EXPECT_EQ(base64(c.raw, true), c.padded) << c.raw;
  }
  // Digests as directory documents write them: 20 bytes -> 27, 32 -> 43.
  EXPECT_EQ(base64(std::string(20, 'x'), false).size(), 27u);
  EXPECT_EQ(base64(std::string(32, 'x'), false).size(), 43u);
  EXPECT_EQ(base64(std::string(256, 'x'), true).size(), 344u);
}

TEST(TextTest, NumbersAddressesHexAndQuoting) {
  std::string s;
  put_uint(s, 0);
  s += ' ';
  put_uint(s, 18446744073709551615ULL);
  s += ' ';
  put_int(s, -7200);
  s += ' ';
  put_ipv4(s, 0x5DB8D822);
  s += ' ';
  put_hex_group(s, 0x0DB8);
  s += ' ';
  put_hex(s, std::array<std::uint8_t, 3>{0x00, 0xAB, 0x7F});
  EXPECT_EQ(s, "0 18446744073709551615 -7200 93.184.216.34 db8 00AB7F");

  EXPECT_EQ(quote("plain"), "\"plain\"");
  EXPECT_EQ(quote("profile \"work\""), "\"profile \\\"work\\\"\"");
  EXPECT_EQ(quote("C:\\Users"), "\"C:\\\\Users\"");
  EXPECT_EQ(quote(""), "\"\"");
}

TEST(TextTest, UtcTimes) {
  EXPECT_EQ(unix_seconds(1970, 1, 1, 0), 0);
  EXPECT_EQ(unix_seconds(2024, 2, 29, 0), 1709164800);
  EXPECT_EQ(unix_seconds(2025, 11, 1, 12), 1761998400);
  struct Case {
    std::int64_t t;
    char sep;
    std::string_view want;
  };
  const Case cases[] = {
      {0, ' ', "1970-01-01 00:00:00"},
      {1709164800 + 86399, 'T', "2024-02-29T23:59:59"},
      {1709164800 + 86400, 'T', "2024-03-01T00:00:00"},
      {1735689599, ' ', "2024-12-31 23:59:59"},
      {1761998400 + 3723, ' ', "2025-11-01 13:02:03"},
  };
  TimeFormatter tf;  // one formatter: its cached date must follow the day
  for (const Case& c : cases) {
    std::string out;
    tf.put_seconds(out, c.t, c.sep);
    EXPECT_EQ(out, c.want) << c.t;
  }
  std::string out;
  tf.put_micros(out, 1761998400LL * 1000000 + 7);
  EXPECT_EQ(out, "2025-11-01T12:00:00.000007");
  out.clear();
  tf.put_micros(out, 1761998400LL * 1000000 + 999999);
  EXPECT_EQ(out, "2025-11-01T12:00:00.999999");
}

}  // namespace
}  // namespace torcon::gen
