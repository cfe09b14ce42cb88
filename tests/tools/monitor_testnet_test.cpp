// torcon-monitor --once with no --control: it launches the private network
// itself, fetches through it, prints one snapshot and stops the network. The
// snapshot must show what the fetches did: tor's version, bootstrap 100%, a
// built three-hop circuit carrying a SUCCEEDED stream from 127.0.0.1 to the
// local web server. Afterwards no tor of that network is left.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>

#include "tools/monitor_run.hpp"
#include "torcon/testnet.hpp"

namespace {

using torcon::test::MonitorRun;
using torcon::test::run_monitor;

TEST(MonitorTestnet, OnceShowsTheFetchesAndCleansUp) {
  const MonitorRun r = run_monitor({"--once"}, std::chrono::seconds(300));
  ASSERT_FALSE(r.timed_out) << r.output;
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string& out = r.output;

  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, std::regex("private network up in (\\S+) "))) << out;
  const std::string dir = m[1];
  EXPECT_TRUE(torcon::testnet::processes_of(dir).empty());
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir;

  EXPECT_TRUE(std::regex_search(out, std::regex("(^|\n)tor 0\\.[0-9.]+\\S*   pid [0-9]+   up "
                                                "[0-9]+s   bootstrap 100% \\(Done\\)   routers 6")))
      << out;
  // A built circuit ending at the network's exit, carrying a SUCCEEDED stream
  // to the web server on 127.0.0.1 (tor 0.4.9 names such a target
  // "127.0.0.1.<exit fingerprint>.exit" in stream-status), from the monitor's
  // own fetcher, whose process is named; countries "??": 127.0.0.1 is in no
  // GeoIP database.
  EXPECT_TRUE(std::regex_search(
      out, std::regex(R"(\n[0-9]+ +BUILT +[0-9ms]+ +[A-Z_]+ +\w+ \(\?\?\) > \w+ \(\?\?\) > )"
                      R"(exit0 \(\?\?\)\n(    stream .*\n)*    stream [0-9]+ +SUCCEEDED +)"
                      R"(127\.0\.0\.1(\.[0-9A-F]{40}\.exit)?:[0-9]+ +)"
                      R"(from 127\.0\.0\.1:[0-9]+  [0-9]+ torcon-monitor\n)")))
      << out;
  // The long download keeps traffic flowing: the graph has a peak.
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\ndownload \(peak [1-9][0-9.]* (B|KiB)/s\))")))
      << out;
  EXPECT_NE(out.find("\n== entry guards\n"), std::string::npos);
  EXPECT_EQ(out.find("giving Tor only an IP address"), std::string::npos);  // names to SOCKS
}

}  // namespace
