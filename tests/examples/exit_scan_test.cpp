// Acceptance test of examples/exit_scan on the private network: three exits
// on their own loopback addresses, one whose policy rejects the HTTP
// server's port. Every exit is listed; the two that allow the port fetch,
// and tor's own STREAM events (seen by a second, independent controller)
// show each stream leaving through the exit it was meant for; the rejecting
// exit fails with EXITPOLICY instead of hanging; the circuits are closed
// afterwards. The program itself is run too. Once per reactor backend.

#include "exit_scan.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "child_process.hpp"
#include "support/loopback_http.hpp"
#include "testnet/controller_loop.hpp"
#include "testnet/testnet_environment.hpp"
#include "torcon/circuit.hpp"
#include "torcon/controller.hpp"
#include "torcon/reactor.hpp"
#include "torcon/stream.hpp"
#include "torcon/tor_state.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using torcon::TorState;
using torcon::testnet::Network;
using torcon::testnet::Role;

const std::string kBody = "fetched through an exit\n";

// The HTTP server exists before the network, whose third exit rejects its port.
torcon::test::LoopbackHttp& http() {
  static torcon::test::LoopbackHttp server(kBody);
  return server;
}

torcon::testnet::Options network_options() {
  torcon::testnet::Options o;
  o.exits = {{"accept *:*"},
             {"reject *:" + std::to_string(http().port()) + ",accept *:*"},
             {"accept *:*"}};
  o.distinct_addresses = true;
  return o;
}

[[maybe_unused]] ::testing::Environment* const kTestnet = ::testing::AddGlobalTestEnvironment(
    new torcon::testnet::testing::TestnetEnvironment(network_options()));

struct Connection {
  std::unique_ptr<torcon::Controller> ctl;
  std::unique_ptr<TorState> state;
};

// The shared loop; open() gives a controller on the client with a TorState.
class Loop : public torcon::testing::ControllerLoop {
 public:
  std::string open(const Network& net, Connection& c) {
    torcon::ControllerOptions o;
    o.parser.record_data_lines = true;
    std::string error;
    c.ctl = connect(net.client(), error, o);
    if (!error.empty()) return error;
    c.state = std::make_unique<TorState>(reactor());
    const torcon::Status s = attach(*c.state, *c.ctl);
    return s ? std::string() : s.error().message;
  }
};

TEST(ExitScan, EveryExitOnceAndTheRejectingOneFailsWithItsReason) {
  TORCON_REQUIRE_TESTNET(net);
  Loop loop;
  TORCON_SKIP_IF_NO_REACTOR(loop);
  ASSERT_NE(http().port(), 0);
  Connection scanner, observer;
  ASSERT_EQ(loop.open(net, scanner), "");
  ASSERT_EQ(loop.open(net, observer), "");

  // Tor's own account, on an independent connection: the exit (last hop of
  // the circuit) of each stream that SUCCEEDED, by its source port.
  std::map<std::uint16_t, std::string> left_by_port;
  observer.state->on_stream([&](const torcon::Stream& s, torcon::StreamChanges) {
    if (s.state() == torcon::StreamStatus::succeeded && s.circuit() &&
        !s.circuit()->path().empty() && s.circuit()->path().back())
      left_by_port[s.source_port()] = s.circuit()->path().back()->fingerprint();
  });

  exit_scan::ScanOptions o;
  o.socks_port = net.client().socks_port;
  o.target_host = "127.0.0.1";
  o.target_port = http().port();
  o.timeout = 60s;
  std::optional<exit_scan::ScanReport> report;
  const auto t0 = Clock::now();
  exit_scan::scan(loop.reactor(), *scanner.ctl, *scanner.state, o,
                  [&](const exit_scan::ScanReport& r) { report = r; });
  ASSERT_TRUE(loop.pump_until(90s, [&] { return report.has_value(); })) << "the scan hung";
  const auto took = Clock::now() - t0;
  ASSERT_TRUE(report->status) << report->status.error().message;
  const std::string text = exit_scan::format_report(*report);
  std::printf(
      "%s(scan took %lld ms)\n", text.c_str(),
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  EXPECT_LT(took, 50s) << "the rejecting exit was waited on, not reported";

  ASSERT_EQ(report->exits.size(), 3u);
  std::set<std::string> exit_fps;
  for (const auto* n : net.with_role(Role::exit)) exit_fps.insert(n->fingerprint);
  const std::string rejecting = net.find("exit1")->fingerprint;
  for (const exit_scan::ExitResult& e : report->exits) {
    SCOPED_TRACE(e.nickname);
    EXPECT_TRUE(exit_fps.count(e.fingerprint)) << e.fingerprint;
    EXPECT_FALSE(e.circuit_id.empty());
    EXPECT_NE(e.source_port, 0);
    if (e.fingerprint == rejecting) {
      EXPECT_FALSE(e.policy_allows);
      EXPECT_FALSE(e.ok);
      EXPECT_NE(e.reason.find("EXITPOLICY"), std::string::npos) << e.reason;
      EXPECT_EQ(e.left_through, "");
      EXPECT_EQ(left_by_port.count(e.source_port), 0u) << "a rejected stream succeeded";
    } else {
      EXPECT_TRUE(e.policy_allows);
      EXPECT_TRUE(e.ok) << e.reason;
      EXPECT_EQ(e.left_through, e.fingerprint);
      EXPECT_EQ(left_by_port[e.source_port], e.fingerprint) << "tor says it left elsewhere";
    }
  }
  // The report's lines.
  const std::regex ok_line("[0-9A-F]{40} exit[02] ok [0-9]+"),
      failed_line("[0-9A-F]{40} exit1 failed .*EXITPOLICY.*");
  std::istringstream lines(text);
  int oks = 0, fails = 0;
  for (std::string line; std::getline(lines, line);) {
    oks += std::regex_match(line, ok_line);
    fails += std::regex_match(line, failed_line);
  }
  EXPECT_EQ(oks, 2) << text;
  EXPECT_EQ(fails, 1) << text;
  EXPECT_NE(text.find("3 exits: 2 ok, 1 failed"), std::string::npos) << text;

  // Afterwards: its circuits closed, streams left to tor again.
  std::string status;
  EXPECT_TRUE(loop.pump_until(10s, [&] {
    const auto r = loop.getinfo(*observer.ctl, "circuit-status");
    status = r ? *r : "<GETINFO failed>";
    for (const auto& e : report->exits)
      if (("\n" + status).find("\n" + e.circuit_id + " ") != std::string::npos) return false;
    return true;
  })) << status;
  std::optional<torcon::Expected<torcon::KeyValues>> leave;
  observer.ctl->getconf({"__LeaveStreamsUnattached"},
                        [&](const torcon::Expected<torcon::KeyValues>& kv) { leave = kv; });
  ASSERT_TRUE(loop.pump_until(10s, [&] { return leave.has_value(); }));
  ASSERT_TRUE(*leave);
  const std::string* v = (*leave)->find("__LeaveStreamsUnattached");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(*v, "0");
}

TEST(ExitScan, TheProgramPrintsOneLinePerExit) {
  TORCON_REQUIRE_TESTNET(net);
  const char* program = std::getenv("EXIT_SCAN_PROGRAM");
  ASSERT_NE(program, nullptr) << "EXIT_SCAN_PROGRAM is not set (ctest sets it)";
  const std::string out = ::testing::TempDir() + "exit_scan_out." + std::to_string(::getpid());
  torcon::SpawnOptions so;
  so.argv = {program,
             "--control",
             "127.0.0.1:" + std::to_string(net.client().control_port),
             "--cookie",
             net.client().cookie_file,
             "--socks",
             std::to_string(net.client().socks_port),
             "--target",
             "127.0.0.1:" + std::to_string(http().port()),
             "--timeout",
             "60"};
  so.output_path = out;
  auto child = torcon::ChildProcess::spawn(std::move(so));
  ASSERT_TRUE(child) << child.error().message;
  const std::optional<int> ws = (*child)->wait_for(std::chrono::milliseconds(90000));
  ASSERT_TRUE(ws.has_value()) << "exit_scan hung";
  std::ifstream in(out);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::printf("%s", text.c_str());
  EXPECT_TRUE(WIFEXITED(*ws) && WEXITSTATUS(*ws) == 1) << torcon::describe_wait_status(*ws);
  EXPECT_NE(text.find("3 exits: 2 ok, 1 failed"), std::string::npos) << text;
  EXPECT_NE(text.find(net.find("exit1")->fingerprint + " exit1 failed"), std::string::npos) << text;
  std::remove(out.c_str());
}

}  // namespace
