// GeoIP on the private network (torcon::testnet), its tors given geoip files
// of this test's (Options::geoip_file / geoip6_file instead of /dev/null):
// each relay on its own loopback address (distinct_addresses) has its own
// country, and GeoIpLocator finds it for every relay of the client's
// consensus, from tor (GETINFO ip-to-country) and from a .mmdb built here.
// One network per binary; ctest runs it whole.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include "geoip_test_files.hpp"
#include "testnet/testnet_environment.hpp"
#include "torcon/controller.hpp"
#include "torcon/geoip.hpp"
#include "torcon/reactor.hpp"
#include "torcon/tor_state.hpp"

namespace {

using namespace std::chrono_literals;
using torcon::Expected;
using torcon::GeoIpLocator;
using torcon::GeoIpOptions;
using torcon::GeoLocation;
using torcon::GeoSource;

// 127.0.0.N gets kCountries[N % size] (tor's file) and kOther[N % size] (the .mmdb).
constexpr std::string_view kCountries[] = {"SE", "NO", "FI", "DK", "IS", "EE", "LV"};
constexpr std::string_view kOther[] = {"PT", "ES", "FR", "IT", "GR", "MT", "CY"};
constexpr unsigned kLast = 40;  // 127.0.0.2 .. 127.0.0.40: more than any network here

std::string country_of(std::uint32_t ipv4, const std::string_view (&table)[7]) {
  const unsigned n = ipv4 & 0xff;
  if ((ipv4 >> 8) != 0x7f0000 || n < 2 || n > kLast) return "";
  return std::string(table[n % 7]);
}

std::string files_dir() {
  static const std::string dir =
      std::string(TORCON_GEOIP_TEST_DIR) + "/testnet-" + std::to_string(::getpid());
  return dir;
}

torcon::testnet::Options network_options() {
  std::filesystem::create_directories(files_dir());
  std::ofstream v4(files_dir() + "/geoip"), v6(files_dir() + "/geoip6");
  for (unsigned n = 2; n <= kLast; ++n) {
    const std::uint32_t a = 0x7f000000u | n;
    v4 << a << "," << a << "," << kCountries[n % 7] << "\n";
  }
  v6 << "2001:db8::,2001:db8::ffff,NZ\n";
  torcon::testnet::Options o;
  o.distinct_addresses = true;
  o.exits = {torcon::testnet::ExitOptions{}, torcon::testnet::ExitOptions{}};
  o.geoip_file = files_dir() + "/geoip";
  o.geoip6_file = files_dir() + "/geoip6";
  return o;
}

[[maybe_unused]] ::testing::Environment* const kTestnet = ::testing::AddGlobalTestEnvironment(
    new torcon::testnet::testing::TestnetEnvironment(network_options()));

class GeoIpTestnet : public ::testing::Test {
 protected:
  void SetUp() override {
    auto* env = torcon::testnet::testing::TestnetEnvironment::instance();
    if (env->skipped()) GTEST_SKIP() << env->error();
    net = env->network();
    ASSERT_NE(net, nullptr) << env->error();
    auto r = torcon::Reactor::create();
    ASSERT_TRUE(r) << r.error().message;
    reactor = std::move(*r);
    ctl.emplace(*reactor);
    std::optional<torcon::Status> connected, attached;
    ctl->connect(net->client().control(), [&](const torcon::Status& s) { connected = s; });
    ASSERT_TRUE(run_until([&] { return connected.has_value(); }));
    ASSERT_TRUE(*connected) << connected->error().message;
    state.attach(*ctl, [&](const torcon::Status& s) { attached = s; });
    ASSERT_TRUE(run_until([&] { return attached.has_value(); }));
    ASSERT_TRUE(*attached) << attached->error().message;
  }
  template <class Pred>
  bool run_until(Pred pred) {
    const auto end = std::chrono::steady_clock::now() + 30s;
    while (!pred() && std::chrono::steady_clock::now() < end) reactor->run_once(20ms);
    return pred();
  }

  const torcon::testnet::Network* net = nullptr;
  std::unique_ptr<torcon::Reactor> reactor;
  std::optional<torcon::Controller> ctl;
  torcon::TorState state;
};

TEST_F(GeoIpTestnet, TheNetworksTorsLoadedTheGivenFiles) {
  std::optional<Expected<torcon::KeyValues>> kv;
  ctl->getinfo({"ip-to-country/ipv4-available", "ip-to-country/ipv6-available"},
               [&](const Expected<torcon::KeyValues>& r) { kv = r; });
  ASSERT_TRUE(run_until([&] { return kv.has_value(); }));
  ASSERT_TRUE(*kv) << kv->error().message;
  EXPECT_EQ(*(*kv)->find("ip-to-country/ipv4-available"), "1");
  EXPECT_EQ(*(*kv)->find("ip-to-country/ipv6-available"), "1");
}

TEST_F(GeoIpTestnet, EveryRelayHasItsAddresssCountryFromTor) {
  GeoIpOptions o;
  o.use_tor_geoip_files = false;
  o.controller = &*ctl;
  auto geo = GeoIpLocator::open(o);
  ASSERT_TRUE(geo) << geo.error().message;
  const auto routers = state.routers();
  ASSERT_GE(routers.size(), 5u) << "3 authorities, 2 relays, 2 exits";
  std::map<std::string, int> countries;
  for (const torcon::Router* r : routers) {
    std::optional<Expected<GeoLocation>> got;
    geo->locate(*r, [&](const Expected<GeoLocation>& g) { got = g; });
    ASSERT_TRUE(run_until([&] { return got.has_value(); })) << r->nickname();
    ASSERT_TRUE(*got) << r->nickname() << ": " << got->error().message;
    EXPECT_EQ((*got)->country_code, country_of(r->ipv4(), kCountries)) << r->nickname();
    EXPECT_EQ((*got)->source, GeoSource::tor_getinfo) << r->nickname();
    ++countries[(*got)->country_code];
  }
  EXPECT_GE(countries.size(), 5u) << "distinct addresses give distinct countries";
  EXPECT_EQ(geo->cached(), routers.size());
  // The IPv6 file too: a documentation address.
  std::optional<Expected<GeoLocation>> v6;
  geo->locate("2001:db8::5", [&](const Expected<GeoLocation>& g) { v6 = g; });
  ASSERT_TRUE(run_until([&] { return v6.has_value(); }));
  ASSERT_TRUE(*v6) << v6->error().message;
  EXPECT_EQ((*v6)->country_code, "NZ");
}

TEST_F(GeoIpTestnet, ADatabaseAnswersBeforeTorForEveryRelay) {
  torcon::test::ScratchDir dir;
  std::string records;
  for (unsigned n = 2; n <= kLast; ++n)
    records += "127.0.0." + std::to_string(n) + "/32|" + std::string(kOther[n % 7]) + "|||||" +
               std::to_string(64500 + n) + "|relay AS\n";
  const std::string mmdb = dir.mmdb("relays", records);
  ASSERT_FALSE(mmdb.empty());
  GeoIpOptions o;
  o.mmdb_files = {mmdb};
  o.use_tor_geoip_files = false;
  o.controller = &*ctl;
  auto geo = GeoIpLocator::open(o);
  ASSERT_TRUE(geo) << geo.error().message;
  for (const torcon::Router* r : state.routers()) {
    const GeoLocation& g = geo->locate(*r);
    EXPECT_EQ(g.country_code, country_of(r->ipv4(), kOther)) << r->nickname();
    EXPECT_EQ(g.source, GeoSource::mmdb) << r->nickname();
    EXPECT_EQ(g.asn, 64500 + (r->ipv4() & 0xff)) << r->nickname();
  }
}

}  // namespace

namespace {

// Refused before anything starts: a file that is not there, or a name a
// torrc line cannot carry.
TEST(GeoIpTestnetOptions, BadGeoipFilesAreRefusedBeforeStarting) {
  torcon::test::ScratchDir dir;
  const std::string good = dir.write("geoip", "1,2,AA\n");
  const std::string nl = dir.write("geo\nip", "1,2,AA\n");
  const std::string hash = dir.write("geo#ip", "1,2,AA\n");
  struct Case {
    std::string v4, v6;
    std::string_view message;
  };
  const Case cases[] = {
      {dir.path() + "/missing", "", "geoip_file: "},
      {good, dir.path() + "/missing6", "geoip6_file: "},
      {dir.path(), "", "is not a file"},
      {nl, "", "torrc cannot carry"},
      {good, hash, "torrc cannot carry"},
  };
  for (const auto& c : cases) {
    torcon::testnet::Options o;
    o.dir = dir.path() + "/net";
    o.geoip_file = c.v4;
    o.geoip6_file = c.v6;
    auto net = torcon::testnet::start(o);
    ASSERT_FALSE(net) << c.v4 << " " << c.v6;
    EXPECT_NE(net.error().message.find(c.message), std::string::npos) << net.error().message;
    EXPECT_FALSE(std::filesystem::exists(o.dir)) << "nothing made before the options are checked";
  }
}

}  // namespace
