// gen/random.hpp and gen/text.hpp: the generator's randomness and the text
// forms it writes. Expected values come from the algorithms' definitions
// (xoshiro256**, RFC 4648, the civil calendar), computed outside this code.

#include "gen/random.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gen/text.hpp"

namespace torcon::gen {
namespace {

// xoshiro256** seeded by four splitmix64 outputs: the first words, as a
// reference implementation gives them. Pinned because the generator promises
// the same bytes on every platform.
TEST(RngTest, FirstWordsMatchTheReferenceAlgorithm) {
  Rng one(1);
  EXPECT_EQ(one.next(), 0xB3F2AF6D0FC710C5ULL);
  EXPECT_EQ(one.next(), 0x853B559647364CEAULL);
  EXPECT_EQ(one.next(), 0x92F89756082A4514ULL);
  Rng zero(0);
  EXPECT_EQ(zero.next(), 0x99EC5F36CB75F2B4ULL);
  EXPECT_EQ(zero.next(), 0xBF6E1F784956452AULL);
}

TEST(RngTest, StreamsDependOnSeedSaltAndIndexOnly) {
  EXPECT_EQ(Rng(7, kRouterSalt, 3).next(), Rng(7, kRouterSalt, 3).next());
  std::set<std::uint64_t> firsts;
  for (std::uint64_t seed : {1u, 2u}) {
    for (std::uint64_t salt : {kRouterSalt, kAddressSalt, kEventSalt}) {
      for (std::uint64_t index : {0u, 1u, 2u}) firsts.insert(Rng(seed, salt, index).next());
    }
  }
  EXPECT_EQ(firsts.size(), 18u);
}

TEST(RngTest, BelowAndBetweenStayInRangeAndReachBothEnds) {
  Rng r(42);
  std::map<std::uint64_t, int> seen;
  for (int i = 0; i < 20000; ++i) {
    const std::uint64_t v = r.between(3, 9);
    ASSERT_GE(v, 3u);
    ASSERT_LE(v, 9u);
    ++seen[v];
  }
  ASSERT_EQ(seen.size(), 7u);
  for (const auto& [v, n] : seen) {
    EXPECT_GT(n, 20000 / 7 * 9 / 10) << v;  // uniform within 10 %
    EXPECT_LT(n, 20000 / 7 * 11 / 10) << v;
  }
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(r.below(1), 0u);
}

TEST(RngTest, WeightedFollowsTheWeights) {
  Rng r(5);
  std::array<int, 3> count{};
  for (int i = 0; i < 30000; ++i) ++count[r.weighted(std::array<std::uint16_t, 3>{1, 0, 3})];
  EXPECT_EQ(count[1], 0);  // weight 0: never
  EXPECT_GT(count[2], count[0] * 27 / 10);
  EXPECT_LT(count[2], count[0] * 33 / 10);
}

TEST(RngTest, ExponentialHasRoughlyTheRequestedMean) {
  Rng r(9);
  std::uint64_t sum = 0;
  for (int i = 0; i < 20000; ++i) sum += r.exponential(1000);
  EXPECT_GT(sum / 20000, 900u);
  EXPECT_LT(sum / 20000, 1100u);
}

TEST(PublicIpv4Test, ClassifiesReservedSpace) {
  struct Case {
    std::uint32_t ip;
    bool is_public;
  };
  constexpr auto ip = [](std::uint32_t a, std::uint32_t b, std::uint32_t c, std::uint32_t d) {
    return a << 24 | b << 16 | c << 8 | d;
  };
  const Case cases[] = {
      {ip(8, 8, 4, 4), true},       {ip(10, 1, 2, 3), false},       {ip(127, 0, 0, 1), false},
      {ip(172, 16, 0, 9), false},   {ip(172, 32, 0, 9), true},      {ip(192, 168, 1, 1), false},
      {ip(192, 0, 2, 7), false},    {ip(198, 51, 100, 7), false},   {ip(203, 0, 113, 7), false},
      {ip(100, 64, 0, 1), false},   {ip(100, 128, 0, 1), true},     {ip(169, 254, 3, 3), false},
      {ip(198, 18, 0, 1), false},   {ip(224, 0, 0, 1), false},      {ip(0, 1, 2, 3), false},
      {ip(93, 184, 216, 0), false}, {ip(93, 184, 216, 255), false}, {ip(93, 184, 216, 34), true},
  };
  for (const Case& c : cases) EXPECT_EQ(is_public_ipv4(c.ip), c.is_public) << std::hex << c.ip;
  Rng r(3);
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(is_public_ipv4(random_public_ipv4(r)));
}

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
