// GeoIpLocator without tor: a .mmdb built here by write_test_mmdb.pl, tor
// geoip files written here (and Debian's, when tor-geoipdb is installed),
// the order of the sources, the errors for missing and damaged files, and
// the per-relay cache.

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "geoip_test_files.hpp"
#include "state/state_fixture.hpp"
#include "torcon/geoip.hpp"
#include "torcon/tor_state.hpp"

namespace {

using torcon::Errc;
using torcon::GeoIpLocator;
using torcon::GeoIpOptions;
using torcon::GeoLocation;
using torcon::GeoSource;
using torcon::test::ScratchDir;

constexpr std::string_view kCityRecords =
    "127.0.0.2/32|DE|Germany|Berlin|52.52|13.405|64500|Test AS\n"
    "192.0.2.0/25|FR|France||||64501|\n"
    "2001:db8::/48|JP|Japan|Tokyo|35.68|139.69||\n"
    "2001:db8:2::/48|||||||\n";  // a record with nothing we read

// ASN only, as MaxMind's ASN databases are.
constexpr std::string_view kAsnRecords =
    "127.0.0.0/8||||||64499|Loopback AS\n"
    "2001:db8::/32||||||64510|Documentation AS\n";

// 192.0.2.128/25 and 198.51.100.0/24 (= 3221226112.. and 3325256704..).
constexpr std::string_view kTorGeoip =
    "# written by the test\n"
    "3221226112,3221226239,SE\n"
    "3325256704,3325256959,??\n";
constexpr std::string_view kTorGeoip6 = "2001:db8:1::,2001:db8:1:ffff:ffff:ffff:ffff:ffff,NL\n";

class GeoIpLocatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir.path().empty());
    city = dir.mmdb("city", kCityRecords);
    asn = dir.mmdb("asn", kAsnRecords);
    ASSERT_FALSE(city.empty());
    ASSERT_FALSE(asn.empty());
    geoip = dir.write("geoip", kTorGeoip);
    geoip6 = dir.write("geoip6", kTorGeoip6);
  }
  GeoIpOptions options(std::vector<std::string> mmdb) const {
    GeoIpOptions o;
    o.mmdb_files = std::move(mmdb);
    o.tor_geoip_file = geoip;
    o.tor_geoip6_file = geoip6;
    return o;
  }
  ScratchDir dir;
  std::string city, asn, geoip, geoip6;
};

struct LookupCase {
  std::string_view address;
  GeoSource source;
  std::string_view country_code, country_name, city;
  std::optional<double> latitude, longitude;
  std::optional<std::uint32_t> asn;
  std::string_view organization;
};

void expect_location(const GeoLocation& g, const LookupCase& c) {
  SCOPED_TRACE(std::string(c.address));
  EXPECT_EQ(g.source, c.source);
  EXPECT_EQ(g.found(), c.source != GeoSource::none);
  EXPECT_EQ(g.country_code, c.country_code);
  EXPECT_EQ(g.country_name, c.country_name);
  EXPECT_EQ(g.city, c.city);
  EXPECT_EQ(g.latitude, c.latitude);
  EXPECT_EQ(g.longitude, c.longitude);
  EXPECT_EQ(g.asn, c.asn);
  EXPECT_EQ(g.as_organization, c.organization);
}

constexpr GeoSource kMmdb = GeoSource::mmdb, kFile = GeoSource::tor_geoip_file,
                    kNone = GeoSource::none;

TEST_F(GeoIpLocatorTest, EachAddressFromTheFirstSourceThatKnowsIt) {
  auto geo = GeoIpLocator::open(options({city}));
  ASSERT_TRUE(geo) << geo.error().message;
  EXPECT_EQ(geo->mmdb_count(), 1u);
  EXPECT_EQ(geo->tor_geoip_ranges(), 2u);
  EXPECT_EQ(geo->tor_geoip6_ranges(), 1u);
  const LookupCase cases[] = {
      {"127.0.0.2", kMmdb, "DE", "Germany", "Berlin", 52.52, 13.405, 64500, "Test AS"},
      {"127.0.0.3", kNone, "", "", "", {}, {}, {}, ""},
      {"192.0.2.1", kMmdb, "FR", "France", "", {}, {}, 64501, ""},
      {"192.0.2.127", kMmdb, "FR", "France", "", {}, {}, 64501, ""},
      {"192.0.2.128", kFile, "SE", "", "", {}, {}, {}, ""},
      {"198.51.100.7", kNone, "", "", "", {}, {}, {}, ""},  // the file says "??"
      {"203.0.113.1", kNone, "", "", "", {}, {}, {}, ""},
      {"2001:db8::1", kMmdb, "JP", "Japan", "Tokyo", 35.68, 139.69, {}, ""},
      {"[2001:db8:0:ffff::1]", kMmdb, "JP", "Japan", "Tokyo", 35.68, 139.69, {}, ""},
      {"2001:db8:1::5", kFile, "NL", "", "", {}, {}, {}, ""},
      {"2001:db8:2::5", kNone, "", "", "", {}, {}, {}, ""},  // empty record, no file range
      {"2001:db9::1", kNone, "", "", "", {}, {}, {}, ""},
  };
  for (const auto& c : cases) {
    auto g = geo->lookup(c.address);
    ASSERT_TRUE(g) << c.address << ": " << g.error().message;
    expect_location(*g, c);
  }
}

TEST_F(GeoIpLocatorTest, FieldsComeFromTheFirstDatabaseThatHasThem) {
  auto geo = GeoIpLocator::open(options({city, asn}));
  ASSERT_TRUE(geo) << geo.error().message;
  const LookupCase cases[] = {
      // The city database's AS wins over the ASN database's.
      {"127.0.0.2", kMmdb, "DE", "Germany", "Berlin", 52.52, 13.405, 64500, "Test AS"},
      // Only the ASN database knows it: an answer from a MaxMind database.
      {"127.0.0.9", kMmdb, "", "", "", {}, {}, 64499, "Loopback AS"},
      {"192.0.2.1", kMmdb, "FR", "France", "", {}, {}, 64501, ""},
      {"2001:db8::1", kMmdb, "JP", "Japan", "Tokyo", 35.68, 139.69, 64510, "Documentation AS"},
      {"2001:db8:1::5", kMmdb, "", "", "", {}, {}, 64510, "Documentation AS"},
      {"192.0.2.200", kFile, "SE", "", "", {}, {}, {}, ""},
  };
  for (const auto& c : cases) {
    auto g = geo->lookup(c.address);
    ASSERT_TRUE(g) << c.address << ": " << g.error().message;
    expect_location(*g, c);
  }
}

TEST_F(GeoIpLocatorTest, NotAnAddressIsAnError) {
  auto geo = GeoIpLocator::open(options({city}));
  ASSERT_TRUE(geo) << geo.error().message;
  for (std::string_view bad : {"", "example.com", "192.0.2", "192.0.2.1:80", "2001:db8::1::2",
                               "192.0.2.1\r\nSIGNAL HALT", "[192.0.2.1]"}) {
    auto g = geo->lookup(bad);
    ASSERT_FALSE(g) << bad;
    EXPECT_EQ(g.error().code, Errc::bad_argument) << bad;
    std::optional<torcon::Expected<GeoLocation>> async;
    geo->locate(bad, [&](const torcon::Expected<GeoLocation>& r) { async = r; });
    ASSERT_TRUE(async.has_value()) << "no tor to ask: answered before return";
    EXPECT_FALSE(*async);
  }
}

TEST_F(GeoIpLocatorTest, WithoutTorTheAsyncFormsAnswerAtOnce) {
  auto geo = GeoIpLocator::open(options({city}));
  ASSERT_TRUE(geo) << geo.error().message;
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"127.0.0.2", "DE"}, {"192.0.2.200", "SE"}, {"203.0.113.1", ""}};
  for (auto [address, cc] : cases) {
    std::optional<torcon::Expected<GeoLocation>> got;
    geo->locate(address, [&](const torcon::Expected<GeoLocation>& r) { got = r; });
    ASSERT_TRUE(got.has_value()) << address;
    ASSERT_TRUE(*got) << got->error().message;
    EXPECT_EQ((*got)->country_code, cc) << address;
  }
}

// Every way a database can be wrong: a clear error naming the file.
TEST_F(GeoIpLocatorTest, MissingOrDamagedDatabasesAreClearErrors) {
  const std::string good = torcon::test::read_bytes(city);
  ASSERT_GT(good.size(), 100u);
  const std::string missing = dir.path() + "/no-such.mmdb";
  const std::pair<std::string, std::string_view> cases[] = {
      {missing, "no-such.mmdb"},
      {dir.write("empty.mmdb", ""), "empty.mmdb"},
      {dir.write("text.mmdb", "this is not a MaxMind database\n"), "text.mmdb"},
      {dir.write("half.mmdb", good.substr(0, good.size() / 2)), "half.mmdb"},
      {dir.write("cut.mmdb", good.substr(0, good.size() - 20)), "cut.mmdb"},
      {dir.path(), "geoip-"},  // a directory
  };
  for (const auto& [path, names] : cases) {
    auto geo = GeoIpLocator::open(options({city, path}));
    ASSERT_FALSE(geo) << path;
    EXPECT_EQ(geo.error().code, Errc::io) << path;
    EXPECT_NE(geo.error().message.find(names), std::string::npos) << geo.error().message;
  }
}

// A database whose metadata is intact but whose search tree or data are
// not: open() succeeds (the damage is deep inside), lookups say so.
TEST_F(GeoIpLocatorTest, ADatabaseDamagedInsideFailsLookupsNotTheProcess) {
  std::string bytes = torcon::test::read_bytes(city);
  const std::size_t marker = bytes.find("\xab\xcd\xefMaxMind.com");
  ASSERT_NE(marker, std::string::npos);
  // Every byte before the metadata (the tree and the data) set to 0xff: the
  // tree's records point past the end of the file.
  for (std::size_t i = 0; i < marker; ++i) bytes[i] = '\xff';
  auto geo = GeoIpLocator::open(options({dir.write("damaged.mmdb", bytes)}));
  if (!geo) {  // libmaxminddb may see it at once; either way it is an error, not a crash
    EXPECT_EQ(geo.error().code, Errc::io);
    return;
  }
  for (std::string_view address : {"127.0.0.2", "192.0.2.1", "2001:db8::1"}) {
    auto g = geo->lookup(address);
    ASSERT_FALSE(g) << address;
    EXPECT_EQ(g.error().code, Errc::io);
    EXPECT_NE(g.error().message.find("damaged.mmdb"), std::string::npos) << g.error().message;
  }
}

TEST_F(GeoIpLocatorTest, TorGeoipFilesGivenMustLoad) {
  struct Case {
    std::string v4, v6;
    std::string_view message;
  };
  const Case cases[] = {
      {dir.path() + "/missing", geoip6, "missing"},
      {geoip, dir.path() + "/missing6", "missing6"},
      {dir.write("bad", "1,2,AA\nnot a line\n"), geoip6, "line 2"},
      {geoip, dir.write("bad6", "2001:db8::,x,AA\n"), "line 1"},
      {geoip6, geoip6, "line 1"},  // the IPv6 file where the IPv4 one belongs
  };
  for (const auto& c : cases) {
    GeoIpOptions o;
    o.tor_geoip_file = c.v4;
    o.tor_geoip6_file = c.v6;
    auto geo = GeoIpLocator::open(o);
    ASSERT_FALSE(geo) << c.v4 << " " << c.v6;
    EXPECT_EQ(geo.error().code, Errc::io);
    EXPECT_NE(geo.error().message.find(c.message), std::string::npos) << geo.error().message;
  }
}

TEST_F(GeoIpLocatorTest, NoSourcesFindsNothing) {
  GeoIpOptions o;
  o.use_tor_geoip_files = false;
  auto geo = GeoIpLocator::open(o);
  ASSERT_TRUE(geo) << geo.error().message;
  EXPECT_EQ(geo->tor_geoip_ranges(), 0u);
  auto g = geo->lookup("192.0.2.1");
  ASSERT_TRUE(g);
  EXPECT_EQ(*g, GeoLocation{});
}

// Debian's tor-geoipdb, when installed: the default, and real enough to
// find a well-known address's country.
TEST(GeoIpDebianFiles, LoadedByDefaultWhenInstalled) {
  if (!std::filesystem::exists(std::string(torcon::kDebianTorGeoipFile)) ||
      !std::filesystem::exists(std::string(torcon::kDebianTorGeoip6File)))
    GTEST_SKIP() << "tor-geoipdb is not installed";
  auto geo = GeoIpLocator::open({});
  ASSERT_TRUE(geo) << geo.error().message;
  EXPECT_GT(geo->tor_geoip_ranges(), 100000u);
  EXPECT_GT(geo->tor_geoip6_ranges(), 50000u);
  // Public resolvers whose country is not in doubt: 8.8.8.8 (Google, US),
  // 1.1.1.1 (APNIC/Cloudflare, AU in registry data), and 2001:4860:4860::8888.
  // Only the lookup is done: nothing is sent anywhere.
  for (auto [address, cc] : {std::pair<std::string_view, std::string_view>{"8.8.8.8", "US"},
                             {"2001:4860:4860::8888", "US"}}) {
    auto g = geo->lookup(address);
    ASSERT_TRUE(g) << g.error().message;
    EXPECT_EQ(g->source, GeoSource::tor_geoip_file) << address;
    EXPECT_EQ(g->country_code, cc) << address;
  }
  // Documentation addresses are nobody's.
  auto doc = geo->lookup("192.0.2.1");
  ASSERT_TRUE(doc);
  EXPECT_FALSE(doc->found());
}

// The relay cache: a lookup on first use, then the cached answer until
// the relay's address changes; relays without an address are nowhere.
TEST_F(GeoIpLocatorTest, RelaysAreLocatedOnFirstUseAndCached) {
  auto geo = GeoIpLocator::open(options({city}));
  ASSERT_TRUE(geo) << geo.error().message;
  torcon::TorState st;
  torcon::test::Feeder f(st);
  using torcon::test::entry;
  ASSERT_TRUE(f.feed(torcon::test::ns_all_reply({
      entry(1, "berlin", "127.0.0.2", 9001, {"s Running"}),
      entry(2, "paris", "192.0.2.1", 9001, {"s Running"}),
      entry(3, "stockholm", "192.0.2.200", 9001, {"s Running"}),
      entry(4, "unknown", "203.0.113.1", 9001, {"s Running"}),
  })));
  EXPECT_EQ(geo->cached(), 0u) << "nothing is looked up before it is asked for";
  const std::pair<int, std::string_view> cases[] = {{1, "DE"}, {2, "FR"}, {3, "SE"}, {4, ""}};
  for (auto [n, cc] : cases) {
    const torcon::Router* r = st.router(torcon::test::identity_of(n));
    ASSERT_NE(r, nullptr);
    const GeoLocation& g = geo->locate(*r);
    EXPECT_EQ(g.country_code, cc) << n;
    EXPECT_EQ(&geo->locate(*r), &g) << "the second ask is the cached answer";
  }
  EXPECT_EQ(geo->cached(), 4u);

  // Relay 1 moves to Stockholm's range: looked up again.
  ASSERT_TRUE(
      f.feed(torcon::test::ns_event({entry(1, "berlin", "192.0.2.201", 9001, {"s Running"})})));
  EXPECT_EQ(geo->locate(*st.router(torcon::test::identity_of(1))).country_code, "SE");
  EXPECT_EQ(geo->cached(), 4u);

  // The async form answers from the same cache.
  std::optional<torcon::Expected<GeoLocation>> got;
  geo->locate(*st.router(torcon::test::identity_of(2)),
              [&](const torcon::Expected<GeoLocation>& g) { got = g; });
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(*got);
  EXPECT_EQ((*got)->country_code, "FR");

  geo->clear_cache();
  EXPECT_EQ(geo->cached(), 0u);
}

TEST(GeoSourceNames, AreStable) {
  EXPECT_EQ(torcon::to_string(GeoSource::none), "none");
  EXPECT_EQ(torcon::to_string(GeoSource::mmdb), "mmdb");
  EXPECT_EQ(torcon::to_string(GeoSource::tor_geoip_file), "tor-geoip-file");
  EXPECT_EQ(torcon::to_string(GeoSource::tor_getinfo), "tor-getinfo");
}

}  // namespace
