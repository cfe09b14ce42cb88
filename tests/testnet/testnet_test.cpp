// End-to-end tests of the private loopback network (torcon::testnet): it
// bootstraps, carries HTTP through the exit, notices a killed relay, a tor
// that refuses its torrc fails start() clearly, and stop() leaves no tor
// behind. The tests share one network and run in file order; the last one
// stops it.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/loopback_http.hpp"
#include "support/socks_http_get.hpp"
#include "testnet/testnet_environment.hpp"
#include "torcon/controller.hpp"
#include "torcon/events.hpp"
#include "torcon/reactor.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using torcon::Expected;
using torcon::KeyValues;
using torcon::test::FetchResult;
using torcon::test::LoopbackHttp;
using torcon::test::socks_http_get;
using torcon::testnet::Network;
using torcon::testnet::Node;

[[maybe_unused]] ::testing::Environment* const kTestnet =
    ::testing::AddGlobalTestEnvironment(new torcon::testnet::testing::TestnetEnvironment);

long long ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

// ---- the client's control port, synchronously -------------------------------

class ClientControl {
 public:
  explicit ClientControl(const Node& node) {
    auto r = torcon::Reactor::create();
    if (!r) {
      error_ = r.error().message;
      return;
    }
    reactor_ = std::move(*r);
    torcon::ControllerOptions o;
    o.cookie_file = node.cookie_file;
    ctl_ = std::make_unique<torcon::Controller>(*reactor_, o);
    std::optional<torcon::Status> st;
    ctl_->connect(node.control(), [&](const torcon::Status& s) { st = s; });
    if (!pump_until(10s, [&] { return st.has_value(); }))
      error_ = "connect timed out";
    else if (!*st)
      error_ = st->error().message;
  }
  ~ClientControl() {
    ctl_.reset();  // before the reactor it runs on
  }
  const std::string& error() const { return error_; }

  template <class Pred>
  bool pump_until(milliseconds limit, Pred pred) {
    auto deadline = Clock::now() + limit;
    while (!pred()) {
      if (Clock::now() >= deadline) return false;
      reactor_->run_once(20ms);
    }
    return true;
  }

  Expected<KeyValues> getinfo(std::string_view key) {
    std::optional<Expected<KeyValues>> res;
    ctl_->getinfo({key}, [&](const Expected<KeyValues>& kv) { res.emplace(kv); });
    if (!pump_until(10s, [&] { return res.has_value(); }))
      return torcon::Error(torcon::Errc::timeout, "GETINFO timed out");
    return std::move(*res);
  }

  // Keeps a copy of every `event` until cleared.
  torcon::Status subscribe(std::string_view event) {
    std::optional<torcon::Status> st;
    ctl_->subscribe(
        event, [this](const torcon::Reply& r) { events_.push_back(r.copy()); },
        [&](const torcon::Status& s) { st = s; });
    if (!pump_until(10s, [&] { return st.has_value(); }))
      return torcon::Error(torcon::Errc::timeout, "SETEVENTS timed out");
    return *st;
  }

  Expected<std::string> extend(std::vector<std::string> path) {
    std::vector<std::string_view> hops(path.begin(), path.end());
    std::optional<Expected<std::string>> res;
    ctl_->extendcircuit("0", hops, "", [&](const Expected<std::string>& id) { res.emplace(id); });
    if (!pump_until(10s, [&] { return res.has_value(); }))
      return torcon::Error(torcon::Errc::timeout, "EXTENDCIRCUIT timed out");
    return std::move(*res);
  }

  // Runs the loop until some kept event satisfies match(const Event&), or
  // the limit passes; the matching event's first line.
  template <class Match>
  std::optional<std::string> wait_event(milliseconds limit, Match match) {
    std::optional<std::string> found;
    std::size_t seen = 0;
    pump_until(limit, [&] {
      for (; seen < events_.size() && !found; ++seen) {
        torcon::Reply r = events_[seen].view();
        torcon::Event ev;
        if (torcon::parse_event(r, ev) && match(ev)) found = std::string(r.lines[0].text);
      }
      return found.has_value();
    });
    return found;
  }
  void clear_events() { events_.clear(); }

 private:
  std::unique_ptr<torcon::Reactor> reactor_;
  std::unique_ptr<torcon::Controller> ctl_;
  std::vector<torcon::OwnedReply> events_;
  std::string error_;
};

// The fingerprint of the last hop of circuit `id` in GETINFO circuit-status.
std::string last_hop(const std::string& circuit_status, std::string_view id) {
  std::size_t pos = 0;
  while (pos < circuit_status.size()) {
    std::size_t end = circuit_status.find('\n', pos);
    if (end == std::string::npos) end = circuit_status.size();
    std::string_view line(circuit_status.data() + pos, end - pos);
    pos = end + 1;
    if (line.substr(0, id.size() + 1) != std::string(id) + " ") continue;
    // "ID STATUS PATH ..."
    std::size_t s1 = line.find(' '), s2 = line.find(' ', s1 + 1);
    if (s2 == std::string_view::npos) return {};
    std::size_t s3 = line.find(' ', s2 + 1);
    std::string_view path = line.substr(s2 + 1, s3 == std::string_view::npos ? s3 : s3 - s2 - 1);
    torcon::LongNameReader hops(path);
    std::string last;
    for (torcon::LongName h; hops.next(h);) last = std::string(h.fingerprint);
    return last;
  }
  return {};
}

// ---- tests ------------------------------------------------------------------

TEST(Testnet, Bootstraps) {
  TORCON_REQUIRE_TESTNET(net);
  std::printf("network ready after %lld ms (%zu tors, ports from %u)\n",
              static_cast<long long>(net.ready_after.count()), net.nodes.size(),
              unsigned(net.base_port));
  RecordProperty("bootstrap_ms", std::to_string(net.ready_after.count()));
  EXPECT_EQ(net.with_role(torcon::testnet::Role::authority).size(), 3u);
  EXPECT_EQ(net.with_role(torcon::testnet::Role::relay).size(), 2u);
  EXPECT_EQ(net.with_role(torcon::testnet::Role::exit).size(), 1u);
  EXPECT_EQ(net.with_role(torcon::testnet::Role::client).size(), 1u);
  for (const Node& n : net.nodes) {
    EXPECT_GT(torcon::testnet::node_pid(net, n), 0) << n.name << " is not running";
    EXPECT_NE(n.control_port, 0) << n.name;
    if (n.role != torcon::testnet::Role::client) {
      EXPECT_EQ(n.fingerprint.size(), 40u) << n.name;
    }
  }

  ClientControl c(net.client());
  ASSERT_EQ(c.error(), "");
  auto phase = c.getinfo("status/bootstrap-phase");
  ASSERT_TRUE(phase) << phase.error().message;
  EXPECT_NE(phase->find("status/bootstrap-phase")->find("PROGRESS=100"), std::string::npos);
  auto circs = c.getinfo("circuit-status");
  ASSERT_TRUE(circs) << circs.error().message;
  EXPECT_NE(circs->find("circuit-status")->find(" BUILT "), std::string::npos);

  auto st = torcon::testnet::status(net.dir);
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(st->client_bootstrap, 100);
  EXPECT_TRUE(st->client_circuit);
}

TEST(Testnet, HttpFetchLeavesThroughTheExit) {
  TORCON_REQUIRE_TESTNET(net);
  const std::string body = "hello through the loopback testnet\n";
  LoopbackHttp http(body);
  ASSERT_NE(http.port(), 0);
  ClientControl c(net.client());
  ASSERT_EQ(c.error(), "");
  ASSERT_TRUE(c.subscribe("STREAM"));

  torcon::test::FetchResult f =
      torcon::test::socks_http_get(net.client().socks_port, http.port(), 30s);
  ASSERT_EQ(f.error, "") << "after " << f.ms << " ms";
  EXPECT_EQ(f.body, body);
  EXPECT_EQ(http.served(), 1);
  std::printf("HTTP fetch through the exit: %lld ms\n", f.ms);
  RecordProperty("fetch_ms", std::to_string(f.ms));

  const std::string port_suffix = ":" + std::to_string(http.port());
  std::string circ_id;
  auto ev = c.wait_event(10s, [&](const torcon::Event& e) {
    const auto* s = e.get<torcon::StreamEvent>();
    if (!s || s->status_enum != torcon::StreamStatus::succeeded ||
        !s->target.ends_with(port_suffix))
      return false;
    circ_id = std::string(s->circ_id);
    return true;
  });
  ASSERT_TRUE(ev) << "no STREAM SUCCEEDED event for 127.0.0.1" << port_suffix;
  std::printf("  %s\n", ev->c_str());
  auto circs = c.getinfo("circuit-status");
  ASSERT_TRUE(circs) << circs.error().message;
  EXPECT_EQ(last_hop(*circs->find("circuit-status"), circ_id), net.exit().fingerprint)
      << "circuit " << circ_id << " does not end at exit0:\n"
      << *circs->find("circuit-status");
}

TEST(Testnet, KilledRelayIsNoticedAndNetworkStillServes) {
  TORCON_REQUIRE_TESTNET(net);
  const Node& victim = *net.with_role(torcon::testnet::Role::relay).at(0);
  ClientControl c(net.client());
  ASSERT_EQ(c.error(), "");
  ASSERT_TRUE(c.subscribe("ORCONN"));
  ASSERT_TRUE(c.subscribe("CIRC"));

  // Make sure the client has a connection and a circuit through the victim
  // (it may not have picked it by itself), so its death has something to break.
  auto circ = c.extend({"$" + victim.fingerprint, "$" + net.exit().fingerprint});
  ASSERT_TRUE(circ) << circ.error().message;
  auto built = c.wait_event(20s, [&](const torcon::Event& e) {
    const auto* ce = e.get<torcon::CircEvent>();
    return ce && ce->id == *circ && ce->status_enum == torcon::CircStatus::built;
  });
  ASSERT_TRUE(built) << "circuit " << *circ << " through " << victim.name << " was not built";
  c.clear_events();

  pid_t pid = torcon::testnet::node_pid(net, victim);
  ASSERT_GT(pid, 0);
  auto t0 = Clock::now();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  auto noticed = c.wait_event(90s, [&](const torcon::Event& e) {
    if (const auto* o = e.get<torcon::OrConnEvent>()) {
      return (o->status_enum == torcon::OrConnStatus::closed ||
              o->status_enum == torcon::OrConnStatus::failed) &&
             o->target.find(victim.fingerprint) != std::string_view::npos;
    }
    if (const auto* ce = e.get<torcon::CircEvent>()) {
      return (ce->status_enum == torcon::CircStatus::closed ||
              ce->status_enum == torcon::CircStatus::failed) &&
             ce->path.find(victim.fingerprint) != std::string_view::npos;
    }
    return false;
  });
  long long detect_ms = ms_since(t0);
  ASSERT_TRUE(noticed) << "no ORCONN/CIRC event about " << victim.name << " within 90 s";
  std::printf("killed %s noticed after %lld ms: %s\n", victim.name.c_str(), detect_ms,
              noticed->c_str());
  RecordProperty("killed_relay_detect_ms", std::to_string(detect_ms));
  EXPECT_EQ(torcon::testnet::node_pid(net, victim), 0);

  // Streams already attached to a circuit through the victim fail when that
  // circuit's DESTROY arrives (tor does not retry them), so wait until the
  // client has dropped every such circuit before judging the network.
  auto t1 = Clock::now();
  bool clean = c.pump_until(30s, [&] {
    auto circs = c.getinfo("circuit-status");
    return circs && circs->find("circuit-status")->find(victim.fingerprint) == std::string::npos;
  });
  EXPECT_TRUE(clean) << "the client still has circuits through " << victim.name << " after 30 s";
  std::printf("circuits through %s gone after %lld ms more\n", victim.name.c_str(), ms_since(t1));

  ASSERT_TRUE(c.subscribe("STREAM"));
  const std::string body = "still serving\n";
  LoopbackHttp http(body);
  ASSERT_NE(http.port(), 0);
  FetchResult f;
  std::string failures;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    f = socks_http_get(net.client().socks_port, http.port(), 30s);
    if (f.error.empty()) break;
    failures += "attempt " + std::to_string(attempt) + ": " + f.error + " after " +
                std::to_string(f.ms) + " ms; ";
  }
  if (!failures.empty()) std::printf("fetch failures after the kill: %s\n", failures.c_str());
  ASSERT_EQ(f.error, "") << failures;
  EXPECT_EQ(f.body, body);
  std::printf("HTTP fetch after the kill: %lld ms\n", f.ms);
}

// Children of ours that exited and were never reaped.
std::vector<pid_t> zombie_children() {
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // "pid (comm) S ppid ...": comm may hold ')', so parse after the last one.
    std::size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    long ppid = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %ld", &state, &ppid) == 2 && state == 'Z' &&
        ppid == ::getpid())
      out.push_back(std::stoi(name));
  }
  return out;
}

// A network whose tors refuse their torrc: start() says which node failed,
// how, and in tor's own words, and leaves no tor and no zombie behind.
TEST(Testnet, TorRefusingItsTorrcFailsTheStartInItsOwnWords) {
  TORCON_REQUIRE_TESTNET(net);
  char tmpl[] = "/tmp/torcon-testnet-bad-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  torcon::testnet::Options o;
  o.dir = tmpl;
  o.authorities = 1;
  o.relays = 0;
  o.owner_pid = ::getpid();
  o.extra_torrc = {"NoSuchOption 1"};
  auto base = torcon::testnet::find_free_base_port(
      std::uint16_t(net.base_port + 2 * torcon::testnet::port_count({})), o);
  ASSERT_TRUE(base) << base.error().message;
  o.base_port = *base;
  auto r = torcon::testnet::start(o);
  ASSERT_FALSE(r);
  const std::string& m = r.error().message;
  std::printf("%s\n", m.c_str());
  EXPECT_NE(m.find("tor for auth0 failed to start (exit status 1)"), std::string::npos) << m;
  EXPECT_NE(m.find("NoSuchOption"), std::string::npos) << m;
  EXPECT_TRUE(torcon::testnet::processes_of(tmpl).empty());
  EXPECT_EQ(zombie_children(), std::vector<pid_t>{});
  std::filesystem::remove_all(tmpl);
}

// Exit policies go into torrcs: anything but comma-separated accept/reject
// rules is refused before a directory or torrc is written.
TEST(Testnet, RefusesExitPoliciesThatAreNotRules) {
  const std::string dir =
      ::testing::TempDir() + "torcon-testnet-policy-" + std::to_string(::getpid());
  const struct {
    std::vector<std::string> policies;
    const char* error;
  } cases[] = {
      {{"accept *:*\nControlPort 9999"}, "policy"},
      {{"accept *:*\r"}, "policy"},
      {{std::string("accept *:*\0x", 12)}, "policy"},
      {{"accept *:*", "permit *:*"}, "exit 1's policy"},
      {{"accept"}, "policy"},
      {{"accept *:*,"}, "policy"},
      {{"accept *:*;reject *:*"}, "policy"},
      {{"accept *:*  # comment"}, "policy"},
      {{}, "exits must be 1..10"},
      {std::vector<std::string>(11, "accept *:*"), "exits must be 1..10"},
  };
  for (const auto& c : cases) {
    torcon::testnet::Options o;
    o.dir = dir;
    o.exits.clear();
    for (const std::string& p : c.policies) o.exits.push_back({p});
    auto r = torcon::testnet::start(o);
    ASSERT_FALSE(r) << (c.policies.empty() ? "" : c.policies[0]);
    EXPECT_NE(r.error().message.find(c.error), std::string::npos) << r.error().message;
    EXPECT_FALSE(std::filesystem::exists(dir)) << "start() wrote " << dir;
  }
}

// Last: it stops the shared network.
TEST(Testnet, StopLeavesNoProcessBehind) {
  TORCON_REQUIRE_TESTNET(net);
  const std::string dir = net.dir;
  std::vector<std::string> torrcs;
  for (const Node& n : net.nodes) torrcs.push_back(n.torrc);
  auto* env = torcon::testnet::testing::TestnetEnvironment::instance();
  auto r = env->stop_now();
  ASSERT_TRUE(r) << r.error().message;
  std::printf("stop: %d tors exited on SIGTERM, %d needed SIGKILL, %lld ms\n", r->stopped,
              r->killed, static_cast<long long>(r->took.count()));
  RecordProperty("stop_ms", std::to_string(r->took.count()));
  EXPECT_TRUE(torcon::testnet::processes_of(dir).empty());
  // Independently of the library: no live process names one of our torrcs.
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const std::string& t : torrcs)
      EXPECT_EQ(cmdline.find(t), std::string::npos) << "pid " << name << " still runs " << t;
  }
  auto again = torcon::testnet::stop(dir);  // stopping a stopped network is fine
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->stopped + again->killed, 0);
}

}  // namespace
