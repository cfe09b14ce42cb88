// torcon-onion end to end on the private network (the network of
// onion_testnet_test, registered there): it publishes a local HTTP server
// with client authorization, prints the address and the client's key, keeps
// the key file (0600) and reuses it, removes the service on SIGTERM and
// exits 0; tor's refusal exits 1, usage and connection errors 2.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "onion/onion_fetch.hpp"
#include "support/loopback_http.hpp"
#include "testnet/testnet_environment.hpp"
#include "torcon/controller.hpp"
#include "torcon/onion_keys.hpp"
#include "torcon/onion_service.hpp"
#include "torcon/reactor.hpp"

#ifndef TORCON_ONION
#error "TORCON_ONION must name the torcon-onion binary"
#endif

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// torcon-onion with its stdout+stderr in a file.
struct Tool {
  std::unique_ptr<torcon::ChildProcess> child;
  std::string out;

  Tool(const std::vector<std::string>& args, const std::string& out_path) : out(out_path) {
    torcon::SpawnOptions o;
    o.argv = {TORCON_ONION};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.output_path = out_path;
    auto c = torcon::ChildProcess::spawn(std::move(o));
    if (c) child = std::move(*c);
  }
  // Waits until the output holds `text` (true), or the tool exited / time ran out.
  bool wait_for_output(std::string_view text, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      if (slurp(out).find(text) != std::string::npos) return true;
      if (child->poll_exit()) return slurp(out).find(text) != std::string::npos;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  int exit_code(std::chrono::milliseconds limit = 30s) {
    auto ws = child->wait_for(limit);
    if (!ws) return -1;
    return WIFEXITED(*ws) ? WEXITSTATUS(*ws) : 128 + WTERMSIG(*ws);
  }
  std::vector<std::string> lines() const {
    std::vector<std::string> v;
    std::stringstream ss(slurp(out));
    for (std::string l; std::getline(ss, l);) v.push_back(l);
    return v;
  }
};

// The private key printed on "client NAME KEY".
std::string client_key(const std::vector<std::string>& lines, const std::string& name) {
  const std::string prefix = "client " + name + " ";
  for (const std::string& l : lines)
    if (l.starts_with(prefix)) return l.substr(prefix.size());
  return {};
}

// SIGNAL NEWNYM to `node`: clears its client-side onion-service state.
void newnym(const torcon::testnet::Node& node) {
  auto reactor = torcon::Reactor::create();
  if (!reactor) return;
  torcon::ControllerOptions co;
  co.cookie_file = node.cookie_file;
  torcon::Controller ctl(**reactor, co);
  bool answered = false;
  ctl.connect(node.control(), [&](const torcon::Status& s) {
    if (!s) {
      answered = true;
      return;
    }
    ctl.command("SIGNAL NEWNYM", [&](const torcon::Expected<torcon::Reply>&) { answered = true; });
  });
  for (const auto deadline = Clock::now() + 10s; !answered && Clock::now() < deadline;)
    (*reactor)->run_once(20ms);
}

// A fetch that must succeed, through `client`: attempts of at most 40 s
// within `total`, NEWNYM between them. Our network's HS time period is 24
// voting rounds (4 minutes); near its end the client and the service may
// disagree on the period, and the client keeps its failed lookup cached.
std::string fetch_until_ok(const torcon::testnet::Node& client, const std::string& address,
                           std::chrono::milliseconds total) {
  const auto deadline = Clock::now() + total;
  for (int attempt = 1;; ++attempt) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    std::string got = torcon::test::socks_fetch_host(
        client.socks_port, address, 80, std::min<std::chrono::milliseconds>(left, 40s));
    if (!got.starts_with("error: ") || Clock::now() + 5s >= deadline) return got;
    std::fprintf(stderr, "[onion] fetch attempt %d of %s: %s; NEWNYM and again\n", attempt,
                 address.c_str(), got.c_str());
    newnym(client);
    std::this_thread::sleep_for(2s);
  }
}

TEST(TorconOnionTool, PublishesReusesKeyAndRemovesOnSigterm) {
  TORCON_REQUIRE_TESTNET(net);
  const torcon::testnet::Node& client = net.client();
  const std::string dir = std::filesystem::path(net.dir) / "torcon-onion-tool";
  std::filesystem::create_directories(dir);
  const std::string key_file = dir + "/service.key";
  const std::string body = "tool-body-" + std::to_string(::getpid());
  torcon::test::LoopbackHttp http(body);
  const std::vector<std::string> args = {
      "--control",  "127.0.0.1:" + std::to_string(client.control_port),
      "--cookie",   client.cookie_file,
      "--port",     "80:127.0.0.1:" + std::to_string(http.port()),
      "--key-file", key_file,
      "--client",   "alice"};

  std::vector<std::string> with_wait = args;
  // Every HSDir: the client asks one at random, and one that has not got the
  // descriptor yet answers 404 (SOCKS reply 4).
  with_wait.insert(with_wait.end(), {"--wait-all-hsdirs", "--timeout", "240"});
  Tool first(with_wait, dir + "/first.out");
  ASSERT_TRUE(first.child);
  ASSERT_TRUE(first.wait_for_output("\nready\n", 250s)) << slurp(first.out);
  const std::vector<std::string> lines = first.lines();
  ASSERT_FALSE(lines.empty());
  const std::string address = lines[0];
  // The key file: 0600, and its key is the printed address's.
  struct stat st {};
  ASSERT_EQ(::stat(key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string key = slurp(key_file);
  while (!key.empty() && key.back() == '\n') key.pop_back();
  auto expected = torcon::onion_address_of_key(key);
  ASSERT_TRUE(expected) << expected.error().message;
  EXPECT_EQ(address, *expected);
  const std::string alice = client_key(lines, "alice");
  ASSERT_EQ(alice.size(), 52u) << slurp(first.out);

  // Alice's key, given to the client tor, lets it in.
  auto reactor = torcon::Reactor::create();
  ASSERT_TRUE(reactor);
  torcon::ControllerOptions co;
  co.cookie_file = client.cookie_file;
  torcon::Controller ctl(**reactor, co);
  std::optional<torcon::Status> s;
  ctl.connect(client.control(), [&](const torcon::Status& x) { s = x; });
  auto pump = [&](auto pred, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (!pred() && Clock::now() < deadline) (*reactor)->run_once(20ms);
    return pred();
  };
  ASSERT_TRUE(pump([&] { return s.has_value(); }, 10s));
  ASSERT_TRUE(*s) << s->error().message;
  s.reset();
  torcon::onion_client_auth_add(ctl, address, alice, "alice", false,
                                [&](const torcon::Status& x) { s = x; });
  ASSERT_TRUE(pump([&] { return s.has_value(); }, 10s));
  ASSERT_TRUE(*s) << s->error().message;
  EXPECT_EQ(fetch_until_ok(client, address, 150s), body);

  first.child->send_signal(SIGTERM);
  EXPECT_EQ(first.exit_code(), 0) << slurp(first.out);
  // Removed: tor lists no service of that address any more (the tool's
  // connection is gone, and it was not detached; DEL_ONION ran first).
  EXPECT_EQ(slurp(first.out).find("DEL_ONION"), std::string::npos) << slurp(first.out);

  // Again with the same key file: same address, same client key, key file
  // untouched; Ctrl-C stops it.
  Tool second(args, dir + "/second.out");
  ASSERT_TRUE(second.child);
  ASSERT_TRUE(second.wait_for_output("control port: ", 60s)) << slurp(second.out);
  EXPECT_EQ(second.lines()[0], address);
  EXPECT_EQ(client_key(second.lines(), "alice"), alice);
  std::string key_again = slurp(key_file);
  while (!key_again.empty() && key_again.back() == '\n') key_again.pop_back();
  EXPECT_EQ(key_again, key);

  // While it runs, a third instance with the same key collides on another
  // connection's service: tor refuses, exit 1.
  Tool third(args, dir + "/third.out");
  ASSERT_TRUE(third.child);
  EXPECT_EQ(third.exit_code(60s), 1) << slurp(third.out);
  EXPECT_NE(slurp(third.out).find("550"), std::string::npos) << slurp(third.out);

  second.child->send_signal(SIGINT);
  EXPECT_EQ(second.exit_code(), 0) << slurp(second.out);
}

TEST(TorconOnionTool, LaunchesItsOwnTor) {
  TORCON_REQUIRE_TESTNET(net);
  const std::string dir = std::filesystem::path(net.dir) / "torcon-onion-launch";
  std::filesystem::create_directories(dir);
  const std::string body = "launched-" + std::to_string(::getpid());
  torcon::test::LoopbackHttp http(body);
  Tool tool({"--launch", "--torrc", "%include " + net.client_torrc_include(), "--port",
             "80:" + std::to_string(http.port()), "--wait-all-hsdirs", "--timeout", "240"},
            dir + "/launch.out");
  ASSERT_TRUE(tool.child);
  ASSERT_TRUE(tool.wait_for_output("\nready\n", 250s)) << slurp(tool.out);
  const std::string address = tool.lines()[0];
  EXPECT_TRUE(torcon::is_onion_address(address)) << address;
  EXPECT_EQ(fetch_until_ok(net.client(), address, 150s), body);
  tool.child->send_signal(SIGTERM);
  EXPECT_EQ(tool.exit_code(), 0) << slurp(tool.out);
}

TEST(TorconOnionTool, UsageAndConnectionErrorsExit2) {
  TORCON_REQUIRE_TESTNET(net);
  const std::string dir = std::filesystem::path(net.dir) / "torcon-onion-usage";
  std::filesystem::create_directories(dir);
  const std::string bad_key = dir + "/bad.key";
  std::ofstream(bad_key) << "ED25519-V3:AAAA\n";
  const std::vector<std::vector<std::string>> cases = {
      {},                                        // no --port
      {"--port", "0"},                           // virtual port 0
      {"--port", "80:127.0.0.1:99999"},          // target port
      {"--port", "80", "--client", "bad name"},  // client name
      {"--port", "80", "--key-file", bad_key},   // malformed key
      {"--port", "80", "--bogus"},               // unknown option
      {"--port", "80", "--launch", "--control", "127.0.0.1:1"},
      {"--port", "80", "--control", "127.0.0.1:1"},  // nothing listens there
  };
  int i = 0;
  for (const auto& c : cases) {
    Tool t(c, dir + "/usage" + std::to_string(i++) + ".out");
    ASSERT_TRUE(t.child);
    EXPECT_EQ(t.exit_code(), 2) << ::testing::PrintToString(c) << "\n" << slurp(t.out);
  }
}

}  // namespace
