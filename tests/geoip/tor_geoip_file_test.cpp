// tor's geoip / geoip6 file format (geoip/tor_geoip_file.hpp): what parses,
// what is refused with which line named, and what the binary search finds.

#include "tor_geoip_file.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace {

using torcon::detail::AddressKey;
using torcon::detail::CountryRangeTable;
using Family = CountryRangeTable::Family;

AddressKey key(std::string_view text) {
  std::array<std::uint8_t, 16> b{};
  std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), b.data()) == 1) return AddressKey::from_bytes(b, false);
  EXPECT_EQ(inet_pton(AF_INET6, s.c_str(), b.data()), 1) << text;
  return AddressKey::from_bytes(b, true);
}

// 192.0.2.0 = 3221225984, 198.51.100.0 = 3325256704, 203.0.113.0 = 3405803776.
constexpr std::string_view kV4 =
    "# a comment\n"
    "\n"
    "3221225984,3221226111,se\n"  // 192.0.2.0 - 192.0.2.127
    "3221226112,3221226239,??\n"  // 192.0.2.128 - 192.0.2.255: tor does not know
    "\"3325256704\",\"3325256959\",\"NL\",\"NLD\",\"Netherlands\"\r\n"  // the old quoted form
    "3405803776,3405803776,US";  // one address, no final newline

constexpr std::string_view kV6 =
    "2001:db8::,2001:db8:0:ffff:ffff:ffff:ffff:ffff,JP\n"
    "2001:db8:1::,2001:db8:1::ff,BR\n";

struct FindCase {
  std::string_view address;
  std::string_view country;  // "" not found
};

TEST(TorGeoipFile, FindsTheRangeHoldingEachAddress) {
  auto v4 = CountryRangeTable::parse(kV4, Family::v4);
  ASSERT_TRUE(v4) << v4.error().message;
  EXPECT_EQ(v4->size(), 4u);
  auto v6 = CountryRangeTable::parse(kV6, Family::v6);
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_EQ(v6->size(), 2u);
  const FindCase cases[] = {
      {"192.0.2.0", "SE"},      {"192.0.2.77", "SE"},
      {"192.0.2.127", "SE"},    {"192.0.2.128", ""},
      {"192.0.2.255", ""},      {"192.0.1.255", ""},
      {"198.51.100.0", "NL"},   {"198.51.100.255", "NL"},
      {"198.51.101.0", ""},     {"203.0.113.0", "US"},
      {"203.0.113.1", ""},      {"0.0.0.0", ""},
      {"255.255.255.255", ""},  {"2001:db8::", "JP"},
      {"2001:db8::1", "JP"},    {"2001:db8:0:ffff::", "JP"},
      {"2001:db8:1::ff", "BR"}, {"2001:db8:1::100", ""},
      {"2001:db7:ffff::", ""},  {"::", ""},
      {"ffff::", ""},
  };
  for (const auto& c : cases) {
    const bool v6_address = c.address.find(':') != std::string_view::npos;
    EXPECT_EQ((v6_address ? *v6 : *v4).find(key(c.address)), c.country) << c.address;
  }
}

TEST(TorGeoipFile, SortsRangesGivenOutOfOrder) {
  auto t = CountryRangeTable::parse("20,29,BB\n0,9,AA\n10,19,??\n", Family::v4);
  ASSERT_TRUE(t) << t.error().message;
  AddressKey k;
  const std::pair<std::uint64_t, std::string_view> cases[] = {
      {0, "AA"}, {9, "AA"}, {10, ""}, {19, ""}, {20, "BB"}, {29, "BB"}, {30, ""}};
  for (auto [n, cc] : cases) {
    k.low = n;
    EXPECT_EQ(t->find(k), cc) << n;
  }
}

TEST(TorGeoipFile, AnEmptyFileIsAnEmptyTable) {
  for (std::string_view text : {"", "\n", "# only a comment\n"}) {
    auto t = CountryRangeTable::parse(text, Family::v4);
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(t->size(), 0u);
    EXPECT_EQ(t->find(key("192.0.2.1")), "");
  }
}

struct BadCase {
  Family family;
  std::string_view text;
  std::string_view message;  // a part of the error's message
};

TEST(TorGeoipFile, RefusesMalformedLinesNamingThem) {
  const BadCase cases[] = {
      {Family::v4, "1,2\n", "line 1: expected LOW,HIGH,CC"},
      {Family::v4, "1\n", "line 1: expected LOW,HIGH,CC"},
      {Family::v4, "#\n1,2,AA,extra\n", "line 2: expected LOW,HIGH,CC"},
      {Family::v4, "x,2,AA\n", "line 1: LOW and HIGH must be 32-bit"},
      {Family::v4, "1,4294967296,AA\n", "line 1: LOW and HIGH must be 32-bit"},
      {Family::v4, "-1,2,AA\n", "line 1: LOW and HIGH must be 32-bit"},
      {Family::v4, " 1,2,AA\n", "line 1: LOW and HIGH must be 32-bit"},
      {Family::v4, ",2,AA\n", "line 1: LOW and HIGH must be 32-bit"},
      {Family::v4, "5,4,AA\n", "line 1: HIGH is below LOW"},
      {Family::v4, "1,2,A\n", "line 1: country code"},
      {Family::v4, "1,2,ABC\n", "line 1: country code"},
      {Family::v4, "1,2,A1\n", "line 1: country code"},
      {Family::v4, "1,2,\n", "line 1: country code"},
      {Family::v4, "\"1\",\"2\",AA\n", "line 1: expected LOW,HIGH,CC"},
      {Family::v4, "1,5,AA\n\n5,9,BB\n", "line 3: range overlaps the one on line 1"},
      {Family::v4, "5,9,BB\n1,5,AA\n", "line 1: range overlaps the one on line 2"},
      {Family::v6, "1,2,AA\n", "line 1: LOW and HIGH must be IPv6"},
      {Family::v6, "192.0.2.1,192.0.2.2,AA\n", "line 1: LOW and HIGH must be IPv6"},
      {Family::v6, "2001:db8::2,2001:db8::1,AA\n", "line 1: HIGH is below LOW"},
      {Family::v6, "2001:db8::,2001:db8::ff,AA\n2001:db8::ff,2001:db8::1ff,BB\n",
       "line 2: range overlaps"},
      {Family::v6, "\"2001:db8::\",\"2001:db8::1\",\"AA\"\n", "line 1: LOW and HIGH must be IPv6"},
      {Family::v6, std::string_view("2001:db8::\0,2001:db8::1,AA\n", 27), "must be IPv6"},
  };
  for (const auto& c : cases) {
    auto t = CountryRangeTable::parse(c.text, c.family);
    ASSERT_FALSE(t) << c.text;
    EXPECT_EQ(t.error().code, torcon::Errc::bad_argument) << c.text;
    EXPECT_NE(t.error().message.find(c.message), std::string::npos)
        << c.text << " -> " << t.error().message;
  }
}

TEST(TorGeoipFile, ErrorOffsetIsTheBadLinesStart) {
  auto t = CountryRangeTable::parse("1,2,AA\n3,4,BB\nbad\n", Family::v4);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().offset, 14u);
}

}  // namespace
