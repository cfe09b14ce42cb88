// Smoke tests of the single-file examples (examples/*.cpp) on one private
// network per binary: each program is run as a user would run it, against
// the network's client, and its output checked. Once per reactor backend
// (the programs' Reactor::create() follows TORCON_REACTOR).

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "onion/onion_fetch.hpp"
#include "support/loopback_http.hpp"
#include "support/socks_http_get.hpp"
#include "testnet/testnet_environment.hpp"

namespace {

using namespace std::chrono_literals;
using torcon::testnet::Network;

const std::string kBody = "served on loopback\n";

// Exists before the network (whose exit accepts 127.0.0.0/8).
torcon::test::LoopbackHttp& http() {
  static torcon::test::LoopbackHttp server(kBody);
  return server;
}

[[maybe_unused]] ::testing::Environment* const kTestnet =
    ::testing::AddGlobalTestEnvironment(new torcon::testnet::testing::TestnetEnvironment());

struct ExampleRun {
  int exit_code = -1;  // -1: killed or hung
  std::string output;  // stdout and stderr
};

// Runs examples/<name> with `args`; kills it after `limit`.
ExampleRun run_example(const std::string& name, std::vector<std::string> args,
                       std::chrono::milliseconds limit = 60s) {
  ExampleRun run;
  const char* dir = std::getenv("TORCON_EXAMPLES_DIR");
  if (!dir) {
    run.output = "TORCON_EXAMPLES_DIR is not set (ctest sets it)";
    return run;
  }
  const std::string out = ::testing::TempDir() + name + "_out." + std::to_string(::getpid());
  torcon::SpawnOptions so;
  so.argv = {std::string(dir) + "/" + name};
  so.argv.insert(so.argv.end(), args.begin(), args.end());
  so.output_path = out;
  auto child = torcon::ChildProcess::spawn(std::move(so));
  if (!child) {
    run.output = child.error().message;
    return run;
  }
  std::optional<int> ws = (*child)->wait_for(limit);
  if (!ws) (*child)->terminate_and_wait(1000ms);
  std::ifstream in(out);
  run.output.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  std::remove(out.c_str());
  if (ws && WIFEXITED(*ws)) run.exit_code = WEXITSTATUS(*ws);
  std::printf("--- %s (exit %d)\n%s", name.c_str(), run.exit_code, run.output.c_str());
  return run;
}

std::string control_of(const Network& net) {
  return "127.0.0.1:" + std::to_string(net.client().control_port);
}

int count_matches(const std::string& text, const std::regex& line_re) {
  std::istringstream lines(text);
  int n = 0;
  for (std::string line; std::getline(lines, line);) n += std::regex_match(line, line_re);
  return n;
}

TEST(EventsExample, PrintsTheChosenEventsAndStopsAfterCount) {
  TORCON_REQUIRE_TESTNET(net);
  // BW comes every second; CIRC only when circuits change.
  const ExampleRun r =
      run_example("events", {"--control", control_of(net), "--count", "3", "BW", "CIRC"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(count_matches(r.output, std::regex("BW [0-9]+ [0-9]+.*")) +
                count_matches(r.output, std::regex("CIRC [0-9]+ [A-Z]+.*")),
            3)
      << r.output;
}

TEST(EventsExample, SaysWhichEventTorRefuses) {
  TORCON_REQUIRE_TESTNET(net);
  const ExampleRun r = run_example("events", {"--control", control_of(net), "BW", "NOSUCHEVENT"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("cannot subscribe to NOSUCHEVENT"), std::string::npos) << r.output;
}

TEST(EventsExample, UsageErrors) {
  TORCON_REQUIRE_TESTNET(net);
  EXPECT_EQ(run_example("events", {"--control", control_of(net)}).exit_code, 2);
  EXPECT_EQ(run_example("events", {"--count", "0", "BW"}).exit_code, 2);
  EXPECT_EQ(run_example("events", {"--control", "nohost", "BW"}).exit_code, 2);
}

TEST(LaunchTorExample, BootstrapsOnThePrivateNetworkWithAProgressBar) {
  TORCON_REQUIRE_TESTNET(net);
  const ExampleRun r = run_example(
      "launch_tor", {"--torrc-line", "%include " + net.client_torrc_include(), "--timeout", "90"},
      120s);
  EXPECT_EQ(r.exit_code, 0);
  // Not a terminal: one line per step, the last one full.
  EXPECT_GE(count_matches(r.output, std::regex("\\[[#-]{30}\\] +[0-9]+% .*")), 2) << r.output;
  EXPECT_EQ(count_matches(r.output, std::regex("\\[#{30}\\] 100% Done")), 1) << r.output;
  EXPECT_EQ(count_matches(r.output, std::regex("tor [0-9][^ ]* bootstrapped: pid [0-9]+, control "
                                               "port .*, data directory .*")),
            1)
      << r.output;
}

TEST(LaunchTorExample, ABadTorrcLineIsReportedWithTorsLog) {
  TORCON_REQUIRE_TESTNET(net);  // not used: skips with the rest where tor is missing
  static_cast<void>(net);
  const ExampleRun r =
      run_example("launch_tor", {"--torrc-line", "NoSuchOption 1", "--timeout", "30"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("NoSuchOption"), std::string::npos) << r.output;
}

TEST(WaitForRelayExample, FindsARelayInTheConsensus) {
  TORCON_REQUIRE_TESTNET(net);
  const auto& exit = net.exit();
  const ExampleRun r =
      run_example("wait_for_relay", {"--control", control_of(net), "$" + exit.fingerprint});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("$" + exit.fingerprint + " " + exit.name + " at " + exit.address + ":" +
                          std::to_string(exit.or_port) + " is in the consensus"),
            std::string::npos)
      << r.output;
}

TEST(WaitForRelayExample, GivesUpOnAnUnknownRelayAfterTheTimeout) {
  TORCON_REQUIRE_TESTNET(net);
  const std::string unknown(40, 'A');
  const auto t0 = std::chrono::steady_clock::now();
  const ExampleRun r =
      run_example("wait_for_relay", {"--control", control_of(net), "--timeout", "2", unknown});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_NE(r.output.find("is not in the consensus after 2 s"), std::string::npos) << r.output;
}

TEST(WaitForRelayExample, RefusesWhatIsNotAFingerprint) {
  TORCON_REQUIRE_TESTNET(net);
  for (const char* bad : {"nothex", "$ABC", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r"}) {
    const ExampleRun r = run_example("wait_for_relay", {"--control", control_of(net), bad});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.output.find("not a fingerprint"), std::string::npos) << r.output;
  }
}

TEST(CircuitBuilderExample, FetchesOverThePathItWasGiven) {
  TORCON_REQUIRE_TESTNET(net);
  ASSERT_NE(http().port(), 0);
  const auto* relay = net.find("relay0");
  ASSERT_NE(relay, nullptr);
  const auto& exit = net.exit();
  const int served_before = http().served();
  const ExampleRun r =
      run_example("circuit_builder",
                  {"--control", control_of(net), "--socks", std::to_string(net.client().socks_port),
                   "--path", "$" + relay->fingerprint + ",$" + exit.fingerprint, "--fetch",
                   "127.0.0.1:" + std::to_string(http().port()) + "/page", "--timeout", "60"},
                  120s);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(count_matches(r.output, std::regex("circuit [0-9]+ built: \\$" + relay->fingerprint +
                                               "~relay0 -> \\$" + exit.fingerprint + "~exit0")),
            1)
      << r.output;
  EXPECT_EQ(count_matches(r.output, std::regex("stream [0-9]+ to 127\\.0\\.0\\.1:[0-9]+ attached "
                                               "to circuit [0-9]+")),
            1)
      << r.output;
  EXPECT_NE(r.output.find(kBody), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("left through $" + exit.fingerprint), std::string::npos) << r.output;
  EXPECT_EQ(http().served(), served_before + 1);
}

TEST(CircuitBuilderExample, SaysWhyTheCircuitCouldNotBeBuilt) {
  TORCON_REQUIRE_TESTNET(net);
  const ExampleRun r =
      run_example("circuit_builder",
                  {"--control", control_of(net), "--socks", std::to_string(net.client().socks_port),
                   "--path", "$" + std::string(40, 'B') + ",$" + net.exit().fingerprint, "--fetch",
                   "127.0.0.1:" + std::to_string(http().port())});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("building the circuit failed"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("fetching"), std::string::npos) << r.output;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(OnionServiceExample, PublishesServesAndStopsOnSigterm) {
  TORCON_REQUIRE_TESTNET(net);
  const char* dir = std::getenv("TORCON_EXAMPLES_DIR");
  ASSERT_NE(dir, nullptr) << "TORCON_EXAMPLES_DIR is not set (ctest sets it)";
  const std::string out = ::testing::TempDir() + "onion_service_out." + std::to_string(::getpid());
  torcon::SpawnOptions so;
  so.argv = {std::string(dir) + "/onion_service",
             "--control",
             control_of(net),
             "--text",
             "page of the onion_service example",
             "--timeout",
             "200"};
  so.output_path = out;
  auto child = torcon::ChildProcess::spawn(std::move(so));
  ASSERT_TRUE(child) << child.error().message;
  // Its address, once it says the descriptor is up.
  const std::regex ready_line("http://([a-z2-7]{56}\\.onion)/ is ready");
  std::smatch m;
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + 210s;
  while (std::chrono::steady_clock::now() < deadline && !(*child)->poll_exit()) {
    text = read_file(out);
    if (std::regex_search(text, m, ready_line)) break;
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(std::regex_search(text, m, ready_line)) << text;
  const std::string address = m[1];
  EXPECT_EQ(torcon::test::socks_fetch_host(net.client().socks_port, address, 80, 120s),
            "page of the onion_service example\n");
  (*child)->send_signal(SIGTERM);
  const std::optional<int> ws = (*child)->wait_for(10s);
  ASSERT_TRUE(ws.has_value()) << "it did not stop on SIGTERM";
  text = read_file(out);
  std::printf("--- onion_service\n%s", text.c_str());
  EXPECT_TRUE(WIFEXITED(*ws) && WEXITSTATUS(*ws) == 0) << torcon::describe_wait_status(*ws);
  EXPECT_NE(text.find("stopping after 1 request\n"), std::string::npos) << text;
  std::remove(out.c_str());
}

TEST(PerProcessAttacherExample, CurlTakesOneCircuitAndThisProcessTheOther) {
  TORCON_REQUIRE_TESTNET(net);
  const char* dir = std::getenv("TORCON_EXAMPLES_DIR");
  ASSERT_NE(dir, nullptr) << "TORCON_EXAMPLES_DIR is not set (ctest sets it)";
  if (!std::filesystem::exists("/usr/bin/curl")) GTEST_SKIP() << "/usr/bin/curl is not installed";
  ASSERT_NE(http().port(), 0);
  const auto* relay0 = net.find("relay0");
  const auto* relay1 = net.find("relay1");
  ASSERT_TRUE(relay0 && relay1);
  const std::string exit_hop = "$" + net.exit().fingerprint;
  const std::string out = ::testing::TempDir() + "per_process_out." + std::to_string(::getpid());
  torcon::SpawnOptions so;
  so.argv = {std::string(dir) + "/per_process_attacher",
             "--control",
             control_of(net),
             "--program",
             "curl",
             "--path",
             "$" + relay0->fingerprint + "," + exit_hop,
             "--others-path",
             "$" + relay1->fingerprint + "," + exit_hop,
             "--count",
             "2"};
  so.output_path = out;
  auto attacher = torcon::ChildProcess::spawn(std::move(so));
  ASSERT_TRUE(attacher) << attacher.error().message;
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + 90s;
  while (std::chrono::steady_clock::now() < deadline && !(*attacher)->poll_exit()) {
    text = read_file(out);
    if (text.find("attaching streams\n") != std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_NE(text.find("attaching streams\n"), std::string::npos) << text;

  const std::string url = "http://127.0.0.1:" + std::to_string(http().port()) + "/";
  const std::string curl_out = out + ".curl";
  torcon::SpawnOptions co;
  co.argv = {"/usr/bin/curl",
             "-s",
             "--max-time",
             "60",
             "-x",
             "socks5h://127.0.0.1:" + std::to_string(net.client().socks_port),
             url};
  co.output_path = curl_out;
  auto curl = torcon::ChildProcess::spawn(std::move(co));
  ASSERT_TRUE(curl) << curl.error().message;
  const pid_t curl_pid = (*curl)->pid();
  const std::optional<int> curl_ws = (*curl)->wait_for(90s);
  ASSERT_TRUE(curl_ws.has_value()) << "curl hung";
  EXPECT_EQ(read_file(curl_out), kBody);
  std::remove(curl_out.c_str());
  const torcon::test::FetchResult own =
      torcon::test::socks_http_get(net.client().socks_port, http().port(), 60s);
  EXPECT_EQ(own.error, "");
  EXPECT_EQ(own.body, kBody);

  const std::optional<int> ws = (*attacher)->wait_for(30s);
  ASSERT_TRUE(ws.has_value()) << "it did not stop after --count streams";
  text = read_file(out);
  std::printf("--- per_process_attacher\n%s", text.c_str());
  std::remove(out.c_str());
  EXPECT_TRUE(WIFEXITED(*ws) && WEXITSTATUS(*ws) == 0) << torcon::describe_wait_status(*ws);

  std::smatch m;
  ASSERT_TRUE(std::regex_search(text, m, std::regex("circuit ([0-9]+) for curl: relay0,exit0\n")))
      << text;
  const std::string curl_circuit = m[1];
  ASSERT_TRUE(std::regex_search(text, m, std::regex("circuit ([0-9]+) for others: relay1,exit0\n")))
      << text;
  const std::string others_circuit = m[1];
  EXPECT_NE(curl_circuit, others_circuit);
  const std::string target = "127.0.0.1:" + std::to_string(http().port());
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  EXPECT_NE(text.find(" to " + target + " from pid " + std::to_string(curl_pid) +
                      " (/usr/bin/curl) -> circuit " + curl_circuit + " (curl)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(" to " + target + " from pid " + std::to_string(::getpid()) + " (" + self +
                      ") -> circuit " + others_circuit + " (others)\n"),
            std::string::npos)
      << text;
}

}  // namespace
