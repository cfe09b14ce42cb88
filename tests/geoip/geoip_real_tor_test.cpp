// The last source: GETINFO ip-to-country from a real standalone tor
// (Debian's, DisableNetwork 1) that loaded geoip files this test wrote, so
// it answers for loopback and documentation addresses.

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "geoip_test_files.hpp"
#include "state/state_fixture.hpp"
#include "support/tor_process.hpp"
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

// 127.0.0.0/8 (2130706432..), 192.0.2.0/25 (3221225984..).
constexpr std::string_view kTorGeoip =
    "2130706432,2147483647,IS\n"
    "3221225984,3221226111,CA\n";
constexpr std::string_view kTorGeoip6 = "2001:db8::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,NZ\n";

class GeoIpRealTor : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir.path().empty());
    torcon::testing::TorOptions o;
    o.extra = {"GeoIPFile " + dir.write("geoip", kTorGeoip),
               "GeoIPv6File " + dir.write("geoip6", kTorGeoip6)};
    tor.emplace(o);
    ASSERT_TRUE(tor->ok()) << tor->error();
    auto r = torcon::Reactor::create();
    ASSERT_TRUE(r) << r.error().message;
    reactor = std::move(*r);
    ctl.emplace(*reactor);
    std::optional<torcon::Status> connected;
    ctl->connect(torcon::Endpoint::tcp("127.0.0.1", std::uint16_t(tor->control_port())),
                 [&](const torcon::Status& s) { connected = s; });
    ASSERT_TRUE(run_until([&] { return connected.has_value(); }));
    ASSERT_TRUE(*connected) << connected->error().message;
  }
  template <class Pred>
  bool run_until(Pred pred) {
    const auto end = std::chrono::steady_clock::now() + 15s;
    while (!pred() && std::chrono::steady_clock::now() < end) reactor->run_once(20ms);
    return pred();
  }
  Expected<GeoLocation> locate(GeoIpLocator& geo, std::string_view address) {
    std::optional<Expected<GeoLocation>> got;
    geo.locate(address, [&](const Expected<GeoLocation>& g) { got = g; });
    EXPECT_TRUE(run_until([&] { return got.has_value(); })) << address;
    if (!got) return torcon::Error(torcon::Errc::timeout, "no answer");
    return *got;
  }

  torcon::test::ScratchDir dir;
  std::optional<torcon::testing::TorProcess> tor;
  std::unique_ptr<torcon::Reactor> reactor;
  std::optional<torcon::Controller> ctl;
};

TEST_F(GeoIpRealTor, TorAnswersWhatNoFileKnows) {
  GeoIpOptions o;
  o.use_tor_geoip_files = false;
  o.controller = &*ctl;
  auto geo = GeoIpLocator::open(o);
  ASSERT_TRUE(geo) << geo.error().message;
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"127.0.0.2", "IS"},       {"127.255.255.254", "IS"}, {"192.0.2.5", "CA"},
      {"192.0.2.200", ""},       {"198.51.100.1", ""},      {"2001:db8::7", "NZ"},
      {"[2001:db8:1::1]", "NZ"}, {"2001:db9::1", ""},
  };
  for (auto [address, cc] : cases) {
    auto g = locate(*geo, address);
    ASSERT_TRUE(g) << address << ": " << g.error().message;
    EXPECT_EQ(g->country_code, cc) << address;
    EXPECT_EQ(g->source, cc.empty() ? GeoSource::none : GeoSource::tor_getinfo) << address;
    EXPECT_EQ(g->city, "");
  }
}

TEST_F(GeoIpRealTor, ADatabaseThatKnowsAnswersBeforeTor) {
  const std::string mmdb = dir.mmdb("city", "127.0.0.2/32|DE|Germany|Berlin|52.52|13.405||\n");
  ASSERT_FALSE(mmdb.empty());
  GeoIpOptions o;
  o.mmdb_files = {mmdb};
  o.use_tor_geoip_files = false;
  o.controller = &*ctl;
  auto geo = GeoIpLocator::open(o);
  ASSERT_TRUE(geo) << geo.error().message;
  const std::tuple<std::string_view, std::string_view, GeoSource> cases[] = {
      {"127.0.0.2", "DE", GeoSource::mmdb},
      {"127.0.0.3", "IS", GeoSource::tor_getinfo},
  };
  for (auto [address, cc, source] : cases) {
    auto g = locate(*geo, address);
    ASSERT_TRUE(g) << address << ": " << g.error().message;
    EXPECT_EQ(g->country_code, cc) << address;
    EXPECT_EQ(g->source, source) << address;
  }
}

torcon::Task locate_in_coroutine(GeoIpLocator& geo, std::string address,
                                 std::optional<Expected<GeoLocation>>& out) {
  out = co_await geo.co_locate(std::move(address));
}

TEST_F(GeoIpRealTor, CoroutineForm) {
  GeoIpOptions o;
  o.use_tor_geoip_files = false;
  o.controller = &*ctl;
  auto geo = GeoIpLocator::open(o);
  ASSERT_TRUE(geo) << geo.error().message;
  std::optional<Expected<GeoLocation>> got;
  locate_in_coroutine(*geo, "192.0.2.9", got);
  ASSERT_TRUE(run_until([&] { return got.has_value(); }));
  ASSERT_TRUE(*got) << got->error().message;
  EXPECT_EQ((*got)->country_code, "CA");
  EXPECT_EQ((*got)->source, GeoSource::tor_getinfo);
}

TEST_F(GeoIpRealTor, RelayLocationsFromTorAreCached) {
  GeoIpOptions o;
  o.use_tor_geoip_files = false;
  o.controller = &*ctl;
  auto geo = GeoIpLocator::open(o);
  ASSERT_TRUE(geo) << geo.error().message;
  torcon::TorState st;  // fed by hand: the standalone tor has no consensus
  torcon::test::Feeder f(st);
  ASSERT_TRUE(f.feed(torcon::test::ns_all_reply(
      {torcon::test::entry(1, "loop", "127.0.0.5", 9001, {"s Running"}),
       torcon::test::entry(2, "doc", "198.51.100.1", 9001, {"s Running"})})));
  for (auto [n, cc] : {std::pair<int, std::string_view>{1, "IS"}, {2, ""}}) {
    const torcon::Router& r = *st.router(torcon::test::identity_of(n));
    EXPECT_EQ(geo->locate(r).source, GeoSource::none) << "the synchronous form never asks tor";
    std::optional<Expected<GeoLocation>> got;
    geo->locate(r, [&](const Expected<GeoLocation>& g) { got = g; });
    ASSERT_TRUE(run_until([&] { return got.has_value(); }));
    ASSERT_TRUE(*got) << got->error().message;
    EXPECT_EQ((*got)->country_code, cc);
    // Cached now, tor's "??" included: both forms answer at once.
    EXPECT_EQ(geo->locate(r).country_code, cc);
    std::optional<Expected<GeoLocation>> again;
    geo->locate(r, [&](const Expected<GeoLocation>& g) { again = g; });
    ASSERT_TRUE(again.has_value()) << n << ": asked tor again";
    EXPECT_EQ((*again)->country_code, cc);
  }
}

// A locator dropped while tor's answer is on its way: the answer still
// reaches the callback, and nothing touches the dead locator.
TEST_F(GeoIpRealTor, AnswerAfterTheLocatorIsGone) {
  torcon::TorState st;
  torcon::test::Feeder f(st);
  ASSERT_TRUE(f.feed(torcon::test::ns_all_reply(
      {torcon::test::entry(1, "loop", "127.0.0.5", 9001, {"s Running"})})));
  std::optional<Expected<GeoLocation>> got;
  {
    GeoIpOptions o;
    o.use_tor_geoip_files = false;
    o.controller = &*ctl;
    auto geo = GeoIpLocator::open(o);
    ASSERT_TRUE(geo) << geo.error().message;
    geo->locate(*st.router(torcon::test::identity_of(1)),
                [&](const Expected<GeoLocation>& g) { got = g; });
  }
  ASSERT_TRUE(run_until([&] { return got.has_value(); }));
  ASSERT_TRUE(*got);
  EXPECT_EQ((*got)->country_code, "IS");
}

}  // namespace
