// Acceptance test of examples/custom_stream_attacher on the private network:
// three exits, each on its own loopback address with an HTTP server there,
// and a .mmdb (built here) that puts each exit's address in its own country.
// A fetch to an exit's address leaves through a circuit ending at that very
// exit: built for the first stream, reused for the next; a destination in no
// country is left to tor. The program itself is run too.

#include <gtest/gtest.h>
#include <stdio.h>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "country_attacher.hpp"
#include "geoip/geoip_test_files.hpp"
#include "support/loopback_http.hpp"
#include "support/socks_http_get.hpp"
#include "testnet/testnet_environment.hpp"
#include "torcon/controller.hpp"
#include "torcon/geoip.hpp"
#include "torcon/reactor.hpp"
#include "torcon/tor_state.hpp"

namespace {

using namespace std::chrono_literals;
using torcon::testnet::Role;

constexpr std::string_view kCountries[] = {"SE", "NO", "FI"};

torcon::testnet::Options network_options() {
  torcon::testnet::Options o;
  o.exits = {{}, {}, {}};
  o.distinct_addresses = true;
  return o;
}

[[maybe_unused]] ::testing::Environment* const kTestnet = ::testing::AddGlobalTestEnvironment(
    new torcon::testnet::testing::TestnetEnvironment(network_options()));

std::uint32_t ipv4_of(const std::string& text) {
  in_addr a{};
  ::inet_pton(AF_INET, text.c_str(), &a);
  return ntohl(a.s_addr);
}

class CustomStreamAttacher : public ::testing::Test {
 protected:
  void SetUp() override {
    auto* env = torcon::testnet::testing::TestnetEnvironment::instance();
    if (env->skipped()) GTEST_SKIP() << env->error();
    net = env->network();
    ASSERT_NE(net, nullptr) << env->error();
    exits = net->with_role(Role::exit);
    ASSERT_EQ(exits.size(), 3u);
    std::string records;
    for (std::size_t i = 0; i < exits.size(); ++i) {
      records += exits[i]->address + "/32|" + std::string(kCountries[i]) + "||||||\n";
      servers.push_back(std::make_unique<torcon::test::LoopbackHttp>(
          "served at " + exits[i]->address + "\n", ipv4_of(exits[i]->address)));
      ASSERT_NE(servers.back()->port(), 0) << exits[i]->address;
    }
    mmdb = dir.mmdb("exits", records);
    ASSERT_FALSE(mmdb.empty());
  }

  torcon::test::ScratchDir dir;
  const torcon::testnet::Network* net = nullptr;
  std::vector<const torcon::testnet::Node*> exits;
  std::vector<std::unique_ptr<torcon::test::LoopbackHttp>> servers;
  std::string mmdb;
};

TEST_F(CustomStreamAttacher, EachStreamLeavesThroughTheExitInItsDestinationsCountry) {
  auto r = torcon::Reactor::create();
  ASSERT_TRUE(r) << r.error().message;
  torcon::Reactor& loop = **r;
  torcon::ControllerOptions copt;
  copt.parser.record_data_lines = true;
  torcon::Controller ctl(loop, copt);
  torcon::TorState state(loop);
  torcon::GeoIpOptions gopt;
  gopt.mmdb_files = {mmdb};
  gopt.use_tor_geoip_files = false;
  auto geo = torcon::GeoIpLocator::open(gopt);
  ASSERT_TRUE(geo) << geo.error().message;
  country_attacher::CountryAttacher attacher(loop, ctl, state, *geo);
  std::vector<country_attacher::Placement> placements;
  attacher.on_placement([&](const country_attacher::Placement& p) { placements.push_back(p); });

  auto run_until = [&](auto pred, std::chrono::seconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < end) loop.run_once(20ms);
    return pred();
  };
  std::optional<torcon::Status> connected, attached, installed;
  ctl.connect(net->client().control(), [&](const torcon::Status& s) { connected = s; });
  ASSERT_TRUE(run_until([&] { return connected.has_value(); }, 15s));
  ASSERT_TRUE(*connected) << connected->error().message;
  state.attach(ctl, [&](const torcon::Status& s) { attached = s; });
  ASSERT_TRUE(run_until([&] { return attached.has_value(); }, 15s));
  ASSERT_TRUE(*attached) << attached->error().message;
  attacher.install([&](const torcon::Status& s) { installed = s; });
  ASSERT_TRUE(run_until([&] { return installed.has_value(); }, 15s));
  ASSERT_TRUE(*installed) << installed->error().message;

  auto fetch = [&](std::uint32_t address, std::uint16_t port) {
    auto f = std::async(std::launch::async, [&, address, port] {
      return torcon::test::socks_http_get(net->client().socks_port, port, 60s, address);
    });
    run_until([&] { return f.wait_for(0ms) == std::future_status::ready; }, 70s);
    return f.get();
  };
  // Twice round the exits: the first stream to each builds its circuit, the
  // second reuses it.
  for (int round = 0; round < 2; ++round) {
    for (std::size_t i = 0; i < exits.size(); ++i) {
      SCOPED_TRACE(exits[i]->address + " round " + std::to_string(round));
      const std::size_t before = placements.size();
      auto got = fetch(ipv4_of(exits[i]->address), servers[i]->port());
      ASSERT_EQ(got.error, "");
      EXPECT_EQ(got.body, "served at " + exits[i]->address + "\n");
      ASSERT_EQ(placements.size(), before + 1);
      const auto& p = placements.back();
      EXPECT_EQ(p.country, kCountries[i]);
      EXPECT_EQ(p.failure, "");
      EXPECT_EQ(p.exit_fingerprint, exits[i]->fingerprint);
      EXPECT_EQ(p.built, round == 0) << country_attacher::format(p);
      const torcon::Circuit* c = state.circuit(p.circuit_id);
      ASSERT_NE(c, nullptr);
      ASSERT_FALSE(c->path().empty());
      EXPECT_EQ(c->path().back()->fingerprint(), exits[i]->fingerprint);
    }
  }
  // 127.0.0.1 is in no country: tor chooses. (No exit here reaches it: an
  // exit on 127.0.0.N carries streams to 127.0.0.N only, so the fetch itself
  // is not expected to succeed; the decision is what is checked.)
  torcon::test::LoopbackHttp plain("plain\n");
  const std::size_t before = placements.size();
  auto f = std::async(std::launch::async, [&] {
    return torcon::test::socks_http_get(net->client().socks_port, plain.port(), 5s);
  });
  run_until([&] { return placements.size() > before; }, 30s);
  run_until([&] { return f.wait_for(0ms) == std::future_status::ready; }, 30s);
  f.get();
  ASSERT_EQ(placements.size(), before + 1);
  EXPECT_EQ(placements.back().country, "");
  EXPECT_NE(placements.back().failure.find("tor chooses"), std::string::npos);
}

// The program: started against the client, it attaches a fetch to the exit
// of the destination's country and says so.
TEST_F(CustomStreamAttacher, TheProgramAttachesAndPrintsEachStream) {
  const std::string cmd = std::string(CUSTOM_STREAM_ATTACHER) +
                          " --control 127.0.0.1:" + std::to_string(net->client().control_port) +
                          " --cookie '" + net->client().cookie_file + "' --mmdb '" + mmdb +
                          "' --for 15 2>&1";
  FILE* out = ::popen(cmd.c_str(), "r");
  ASSERT_NE(out, nullptr);
  std::string all;
  char line[512];
  while (std::fgets(line, sizeof line, out)) {
    all += line;
    if (std::string_view(line).starts_with("attaching streams")) break;
  }
  ASSERT_NE(all.find("attaching streams (1 MaxMind databases"), std::string::npos) << all;
  auto got = torcon::test::socks_http_get(net->client().socks_port, servers[1]->port(), 60s,
                                          ipv4_of(exits[1]->address));
  EXPECT_EQ(got.error, "");
  while (std::fgets(line, sizeof line, out)) all += line;
  EXPECT_EQ(::pclose(out), 0) << all;
  EXPECT_NE(all.find("-> " + exits[1]->address + ":" + std::to_string(servers[1]->port()) +
                     " [NO] circuit "),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("via $" + exits[1]->fingerprint), std::string::npos) << all;
}

}  // namespace
