// CircuitBuilder on the private network, with three exits on their own
// loopback addresses (one rejects port 80): the network as TorState sees
// it, circuits along explicit paths and along tor's, an unknown relay, a
// timeout, extending, repurposing, and closing with and without IfUnused.
// One network per binary; ctest runs it once per reactor backend.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "testnet/testnet_environment.hpp"
#include "torcon/circuit.hpp"
#include "torcon/circuit_builder.hpp"
#include "torcon/controller.hpp"
#include "torcon/reactor.hpp"
#include "torcon/stream.hpp"
#include "torcon/tor_state.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using torcon::CircuitBuilder;
using torcon::CircuitOutcome;
using torcon::CircuitPurpose;
using torcon::Errc;
using torcon::TorState;
using torcon::testnet::Network;
using torcon::testnet::Node;
using torcon::testnet::Role;

constexpr std::uint16_t kRejectedPort = 80;

torcon::testnet::Options network_options() {
  torcon::testnet::Options o;
  o.exits = {{"accept *:*"}, {"accept *:*"}, {"reject *:80,accept *:*"}};
  o.distinct_addresses = true;
  return o;
}

[[maybe_unused]] ::testing::Environment* const kTestnet = ::testing::AddGlobalTestEnvironment(
    new torcon::testnet::testing::TestnetEnvironment(network_options()));

// A reactor (the backend ctest names), a Controller on the network's client,
// an attached TorState and a CircuitBuilder.
class Rig {
 public:
  // Empty `skip` and `error` when usable.
  std::string skip, error;
  std::unique_ptr<torcon::Reactor> reactor;
  std::unique_ptr<torcon::Controller> ctl;
  std::unique_ptr<TorState> state;
  std::unique_ptr<CircuitBuilder> builder;

  explicit Rig(const Network& net) {
    auto r = torcon::Reactor::create();
    if (!r) {
      const char* want = std::getenv("TORCON_REACTOR");
      if (want && std::string(want) == "uring" && !torcon::Reactor::uring_available())
        skip = "io_uring unavailable: " + torcon::Reactor::uring_available().error().message;
      else
        error = r.error().message;
      return;
    }
    reactor = std::move(*r);
    torcon::ControllerOptions o;
    o.cookie_file = net.client().cookie_file;
    o.parser.record_data_lines = true;
    ctl = std::make_unique<torcon::Controller>(*reactor, o);
    state = std::make_unique<TorState>(*reactor);
    std::optional<torcon::Status> up, attached;
    ctl->connect(net.client().control(), [&](const torcon::Status& s) { up = s; });
    state->attach(*ctl, [&](const torcon::Status& s) { attached = s; });
    if (!pump_until(20s, [&] { return attached.has_value(); }))
      error = "TorState did not bootstrap";
    else if (!*attached)
      error = attached->error().message;
    builder = std::make_unique<CircuitBuilder>(*reactor, *ctl, *state);
  }
  ~Rig() {
    builder.reset();
    state.reset();
    ctl.reset();
  }

  template <class Pred>
  bool pump_until(std::chrono::milliseconds limit, Pred pred) {
    const auto deadline = Clock::now() + limit;
    while (!pred()) {
      if (Clock::now() >= deadline) return false;
      reactor->run_once(20ms);
    }
    return true;
  }
  std::optional<CircuitOutcome> build(std::vector<std::string> path,
                                      torcon::CircuitBuildOptions o = {}) {
    std::optional<CircuitOutcome> out;
    builder->build(std::span<const std::string>(path), o,
                   [&](const CircuitOutcome& r) { out = r; });
    pump_until(40s, [&] { return out.has_value(); });
    return out;
  }
  std::optional<CircuitOutcome> close(const std::string& id, bool if_unused) {
    std::optional<CircuitOutcome> out;
    torcon::CircuitCloseOptions o;
    o.if_unused = if_unused;
    builder->close(id, o, [&](const CircuitOutcome& r) { out = r; });
    pump_until(40s, [&] { return out.has_value(); });
    return out;
  }
  std::string circuit_status() {
    std::optional<torcon::Expected<torcon::KeyValues>> kv;
    ctl->getinfo({"circuit-status"}, [&](const torcon::Expected<torcon::KeyValues>& r) { kv = r; });
    pump_until(10s, [&] { return kv.has_value(); });
    if (!kv || !*kv) return "<GETINFO failed>";
    const std::string* v = (*kv)->find("circuit-status");
    return v ? *v : std::string();
  }
};

#define TORCON_RIG(rig, net)                       \
  Rig rig(net);                                    \
  if (!rig.skip.empty()) GTEST_SKIP() << rig.skip; \
  ASSERT_EQ(rig.error, "");                        \
  ASSERT_TRUE(rig.builder)

std::string dollar(const Node& n) { return "$" + n.fingerprint; }

std::vector<std::string> path_of(const torcon::Circuit& c) {
  std::vector<std::string> out;
  for (const torcon::Router* r : c.path()) out.push_back(r ? "$" + r->fingerprint() : "?");
  return out;
}

bool lists(const std::string& circuit_status, const std::string& id) {
  return ("\n" + circuit_status).find("\n" + id + " ") != std::string::npos;
}

TEST(CircuitBuilderTestnet, SeesThreeExitsWithTheirPolicies) {
  TORCON_REQUIRE_TESTNET(net);
  TORCON_RIG(rig, net);
  const auto exits = net.with_role(Role::exit);
  ASSERT_EQ(exits.size(), 3u);
  std::size_t with_flag = 0;
  rig.state->for_each_router(
      [&](const torcon::Router& r) { with_flag += r.flags().has(torcon::RouterFlag::Exit); });
  EXPECT_EQ(with_flag, 3u);
  // What each summary allows, for the rejected port and another one.
  const struct {
    const char* summary;
    bool port80, port443;
  } want[] = {
      {"accept 1-65535", true, true}, {"accept 1-65535", true, true}, {"reject 80", false, true}};
  std::set<std::uint32_t> addresses;
  for (std::size_t i = 0; i < exits.size(); ++i) {
    SCOPED_TRACE(exits[i]->name);
    const torcon::Router* r = rig.state->router(dollar(*exits[i]));
    ASSERT_NE(r, nullptr);
    ASSERT_NE(r->policy(), nullptr);
    EXPECT_EQ(r->policy()->text(), want[i].summary);
    EXPECT_EQ(r->exits_to(kRejectedPort).allowed, want[i].port80);
    EXPECT_EQ(r->exits_to(443).allowed, want[i].port443);
    EXPECT_EQ(r->exits_to(443).source, torcon::PolicySource::summary);
  }
  // Every relay on its own loopback address, as the consensus says.
  for (const Node& n : net.nodes) {
    if (n.role == Role::client) continue;
    SCOPED_TRACE(n.name);
    const torcon::Router* r = rig.state->router(dollar(n));
    ASSERT_NE(r, nullptr);
    in_addr a{};
    ASSERT_EQ(::inet_pton(AF_INET, n.address.c_str(), &a), 1);
    EXPECT_EQ(r->ipv4(), ntohl(a.s_addr));
    EXPECT_NE(n.address, "127.0.0.1");
    addresses.insert(r->ipv4());
  }
  EXPECT_EQ(addresses.size(), net.nodes.size() - net.with_role(Role::client).size());
  // The network's record keeps the addresses, and env() names them.
  auto loaded = torcon::testnet::load(net.dir);
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_EQ(loaded->nodes.size(), net.nodes.size());
  for (std::size_t i = 0; i < net.nodes.size(); ++i)
    EXPECT_EQ(loaded->nodes[i].address, net.nodes[i].address) << net.nodes[i].name;
  EXPECT_NE(net.env().find("EXIT2_ADDRESS=" + net.find("exit2")->address + "\n"),
            std::string::npos);
  // The relays are not told apart by nickname alone: the node names match.
  for (const Node* e : exits) EXPECT_EQ(rig.state->router(dollar(*e))->nickname(), e->name);
}

TEST(CircuitBuilderTestnet, BuildsExplicitPaths) {
  TORCON_REQUIRE_TESTNET(net);
  TORCON_RIG(rig, net);
  const Node& relay0 = *net.find("relay0");
  const Node& relay1 = *net.find("relay1");
  const std::vector<std::vector<std::string>> paths = {
      {dollar(relay0), dollar(*net.find("exit2"))},
      {dollar(relay1), dollar(relay0), dollar(*net.find("exit1"))},
      {dollar(relay0) + "~relay0", dollar(*net.find("exit0")) + "~exit0"},
  };
  for (const auto& path : paths) {
    SCOPED_TRACE(path.back());
    torcon::CircuitBuildOptions o;
    o.purpose = CircuitPurpose::controller;
    auto out = rig.build(path, o);
    ASSERT_TRUE(out.has_value()) << "never completed";
    ASSERT_TRUE(*out) << out->error.message;
    ASSERT_NE(out->circuit, nullptr);
    EXPECT_EQ(out->circuit, rig.state->circuit(out->id));
    EXPECT_EQ(out->circuit->state(), torcon::CircStatus::built);
    EXPECT_EQ(out->circuit->purpose(), "CONTROLLER");
    std::vector<std::string> want;
    for (const std::string& hop : path) want.push_back(hop.substr(0, 41));
    EXPECT_EQ(path_of(*out->circuit), want);
    auto closed = rig.close(out->id, false);
    ASSERT_TRUE(closed && *closed) << closed->error.message;
    EXPECT_EQ(closed->reason, "REQUESTED");
  }
  EXPECT_EQ(rig.builder->pending(), 0u);
}

torcon::Task build_with_tor_choosing(CircuitBuilder& b, std::optional<CircuitOutcome>* out) {
  *out = co_await b.co_build({});
}

TEST(CircuitBuilderTestnet, TorChoosesThePath) {
  TORCON_REQUIRE_TESTNET(net);
  TORCON_RIG(rig, net);
  std::optional<CircuitOutcome> out;
  build_with_tor_choosing(*rig.builder, &out);
  ASSERT_TRUE(rig.pump_until(40s, [&] { return out.has_value(); }));
  ASSERT_TRUE(*out) << out->error.message;
  ASSERT_NE(out->circuit, nullptr);
  EXPECT_GE(out->circuit->path().size(), 3u);
  EXPECT_EQ(out->circuit->purpose(), "GENERAL");
  for (const torcon::Router* r : out->circuit->path()) ASSERT_NE(r, nullptr);
  EXPECT_TRUE(lists(rig.circuit_status(), out->id));
  auto closed = rig.close(out->id, false);
  ASSERT_TRUE(closed && *closed) << closed->error.message;
}

TEST(CircuitBuilderTestnet, UnknownRelayFailsWithTorsReason) {
  TORCON_REQUIRE_TESTNET(net);
  TORCON_RIG(rig, net);
  const std::string nowhere = "$" + std::string(40, '0');
  auto out = rig.build({dollar(*net.find("relay0")), nowhere});
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->error.code, Errc::tor_error);
  EXPECT_EQ(out->error.status, 552);
  EXPECT_NE(out->error.message.find("No such router"), std::string::npos) << out->error.message;
  EXPECT_NE(out->error.message.find(nowhere), std::string::npos) << out->error.message;
  EXPECT_EQ(out->id, "");
  EXPECT_EQ(out->circuit, nullptr);
}

TEST(CircuitBuilderTestnet, TimeoutClosesTheCircuit) {
  TORCON_REQUIRE_TESTNET(net);
  TORCON_RIG(rig, net);
  // Tor's own circuits are never CONTROLLER circuits: these are ours.
  std::set<std::string> ours, ended;
  std::string reasons;
  rig.state->on_circuit([&](const torcon::Circuit& c, torcon::CircuitChanges what) {
    if (c.purpose() != "CONTROLLER") return;
    ours.insert(std::string(c.id()));
    if (what & torcon::circuit_removed) {
      ended.insert(std::string(c.id()));
      reasons += std::string(c.id()) + ":" + std::string(c.reason()) + " ";
    }
  });
  torcon::CircuitBuildOptions o;
  o.purpose = CircuitPurpose::controller;
  o.timeout = 1ms;
  auto out = rig.build(
      {dollar(*net.find("relay1")), dollar(*net.find("relay0")), dollar(*net.find("exit0"))}, o);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->error.code, Errc::timeout) << out->error.message;
  EXPECT_EQ(out->circuit, nullptr);
  // The builder closes the circuit whether tor had named it by the timeout or not.
  ASSERT_TRUE(rig.pump_until(20s, [&] { return !ours.empty() && ended == ours; }))
      << ours.size() << " circuits, " << ended.size() << " ended";
  EXPECT_EQ(ours.size(), 1u);
  EXPECT_NE(reasons.find("REQUESTED"), std::string::npos) << reasons;
  const std::string status = rig.circuit_status();
  for (const std::string& id : ours) EXPECT_FALSE(lists(status, id)) << id;
}

TEST(CircuitBuilderTestnet, ExtendsACircuit) {
  TORCON_REQUIRE_TESTNET(net);
  TORCON_RIG(rig, net);
  torcon::CircuitBuildOptions o;
  o.purpose = CircuitPurpose::controller;
  auto first = rig.build({dollar(*net.find("relay0"))}, o);
  ASSERT_TRUE(first && *first) << first->error.message;
  std::optional<CircuitOutcome> out;
  const std::vector<std::string> hops = {dollar(*net.find("exit1"))};
  rig.builder->extend(first->id, hops, {}, [&](const CircuitOutcome& r) { out = r; });
  ASSERT_TRUE(rig.pump_until(40s, [&] { return out.has_value(); }));
  ASSERT_TRUE(*out) << out->error.message;
  EXPECT_EQ(out->id, first->id);
  ASSERT_NE(out->circuit, nullptr);
  EXPECT_EQ(path_of(*out->circuit),
            (std::vector<std::string>{dollar(*net.find("relay0")), dollar(*net.find("exit1"))}));
  auto closed = rig.close(out->id, false);
  EXPECT_TRUE(closed && *closed);
}

TEST(CircuitBuilderTestnet, Repurposes) {
  TORCON_REQUIRE_TESTNET(net);
  TORCON_RIG(rig, net);
  torcon::CircuitBuildOptions o;
  o.purpose = CircuitPurpose::controller;
  auto built = rig.build({dollar(*net.find("relay1")), dollar(*net.find("exit0"))}, o);
  ASSERT_TRUE(built && *built) << built->error.message;
  const std::string id = built->id;
  std::optional<torcon::Status> done;
  rig.builder->set_purpose(id, CircuitPurpose::general, [&](const torcon::Status& s) { done = s; });
  ASSERT_TRUE(rig.pump_until(10s, [&] {
    const torcon::Circuit* c = rig.state->circuit(id);
    return done.has_value() && c && c->purpose() == "GENERAL";
  })) << "TorState never showed the new purpose";
  EXPECT_TRUE(*done) << done->error().message;
  EXPECT_EQ(rig.state->circuit(id)->old_purpose(), "CONTROLLER");
  std::optional<torcon::Status> unknown;
  rig.builder->set_purpose("999999", CircuitPurpose::controller,
                           [&](const torcon::Status& s) { unknown = s; });
  ASSERT_TRUE(rig.pump_until(10s, [&] { return unknown.has_value(); }));
  ASSERT_FALSE(*unknown);
  EXPECT_EQ(unknown->error().status, 552) << unknown->error().message;
  auto closed = rig.close(id, false);
  EXPECT_TRUE(closed && *closed);
}

// A TCP listener on `address` that accepts and holds connections.
class Holder {
 public:
  explicit Holder(const std::string& address) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1 ||
        ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 4) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return;
    port_ = ntohs(a.sin_port);
  }
  ~Holder() {
    if (fd_ >= 0) ::close(fd_);
  }
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// Starts a SOCKS5 CONNECT to address:port through tor and returns the
// socket without waiting for the answer (-1 on failure).
int socks_connect(std::uint16_t socks_port, const std::string& address, std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(socks_port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  in_addr target{};
  if (fd < 0 || ::inet_pton(AF_INET, address.c_str(), &target) != 1 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  std::string req("\x05\x01\x00\x05\x01\x00\x01", 7);  // greeting (no auth), then CONNECT IPv4
  req.append(reinterpret_cast<const char*>(&target), 4);
  req += char(port >> 8);
  req += char(port & 0xff);
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size())) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST(CircuitBuilderTestnet, CloseIfUnusedLeavesACircuitWithAStreamOpen) {
  TORCON_REQUIRE_TESTNET(net);
  TORCON_RIG(rig, net);
  // Unused: closes.
  torcon::CircuitBuildOptions o;
  o.purpose = CircuitPurpose::controller;
  auto idle = rig.build({dollar(*net.find("relay0")), dollar(*net.find("exit1"))}, o);
  ASSERT_TRUE(idle && *idle) << idle->error.message;
  auto closed = rig.close(idle->id, true);
  ASSERT_TRUE(closed && *closed) << closed->error.message;
  EXPECT_EQ(closed->reason, "REQUESTED");
  EXPECT_EQ(rig.state->circuit(idle->id), nullptr);

  // In use: a stream held open to a server on exit0's own address (tor
  // sends a loopback target to the exit on that address).
  const Node& exit0 = *net.find("exit0");
  Holder server(exit0.address);
  ASSERT_NE(server.port(), 0);
  const int fd = socks_connect(net.client().socks_port, exit0.address, server.port());
  ASSERT_GE(fd, 0);
  // Tor may REMAP the target to "ADDRESS.$FP.exit:PORT".
  const std::string port_suffix = ":" + std::to_string(server.port());
  std::string circ, seen;
  ASSERT_TRUE(rig.pump_until(30s,
                             [&] {
                               seen.clear();
                               for (const torcon::Stream* s : rig.state->streams()) {
                                 seen += std::string(s->id()) + " " + std::string(s->state_text()) +
                                         " " + std::string(s->target()) + "; ";
                                 if (s->target().starts_with(exit0.address) &&
                                     s->target().ends_with(port_suffix) &&
                                     s->state() == torcon::StreamStatus::succeeded && s->circuit())
                                   circ = std::string(s->circuit()->id());
                               }
                               return !circ.empty();
                             }))
      << "the stream never succeeded: " << seen;
  auto kept = rig.close(circ, true);
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->error.code, Errc::tor_error);
  EXPECT_NE(kept->error.message.find("in use"), std::string::npos) << kept->error.message;
  EXPECT_NE(rig.state->circuit(circ), nullptr);
  EXPECT_TRUE(lists(rig.circuit_status(), circ));
  // Without IfUnused it goes, stream and all.
  auto forced = rig.close(circ, false);
  ASSERT_TRUE(forced && *forced) << forced->error.message;
  EXPECT_EQ(rig.state->circuit(circ), nullptr);
  ::close(fd);
}

}  // namespace
