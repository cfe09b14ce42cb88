// torcon-monitor's command line: bad options exit 2 before touching anything;
// --once --control against a real standalone tor (tests/support/tor_process)
// prints a snapshot of it; an unreachable tor exits 1.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/tor_process.hpp"
#include "tools/monitor_run.hpp"

namespace {

using std::chrono::seconds;
using torcon::test::MonitorRun;
using torcon::test::run_monitor;

struct BadUsage {
  std::vector<std::string> args;
  std::string message;  // what stderr must say
};

TEST(MonitorCli, BadOptionsExit2WithTheReason) {
  char path[] = "/tmp/torcon-monitor-not-mmdb-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "not a MaxMind database\n", 23), 23);
  ::close(fd);
  const std::string not_a_database = path;
  const std::vector<BadUsage> cases = {
      {{"--bogus"}, "unknown argument \"--bogus\""},
      {{"--control"}, "--control needs a value"},
      {{"--control", "localhost:9051"}, "is not a numeric IPv4 address"},
      {{"--control", "127.0.0.1:0"}, "--control: bad port \"0\""},
      {{"--control", "127.0.0.1:99999"}, "--control: bad port \"99999\""},
      {{"--control", "[::1]9051"}, "expected [IPv6]:PORT"},
      {{"--interval", "0"}, "--interval: expected seconds from 0.1 to 3600, got \"0\""},
      {{"--interval", "5s"}, "--interval: expected seconds from 0.1 to 3600, got \"5s\""},
      {{"--cookie", "/tmp/c"}, "--password and --cookie go with --control"},
      {{"--control", "127.0.0.1:9051", "--password", "p", "--cookie", "/tmp/c"},
       "--password and --cookie exclude each other"},
      {{"--control", "127.0.0.1:9051", "--cookie="}, "--cookie: empty file name"},
      {{"--geoip", "/nonexistent/db.mmdb"}, "--geoip: mmdb /nonexistent/db.mmdb: "},
      // Not a MaxMind database at all.
      {{"--geoip", not_a_database}, "--geoip: mmdb " + not_a_database + ": "},
      {{"--base-port", "80"}, "--base-port: expected a port from 1024 to 65535"},
      {{"--control=127.0.0.1:9051", "--base-port", "20000"},
       "--base-port is for the private network"},
  };
  for (const BadUsage& c : cases) {
    const MonitorRun r = run_monitor(c.args, seconds(20));
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 2) << c.args[0] << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args[0] << "\n" << r.output;
  }
  ::unlink(path);
}

TEST(MonitorCli, HelpAndVersion) {
  MonitorRun r = run_monitor({"--help"}, seconds(20));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("usage: torcon-monitor"), std::string::npos);
  r = run_monitor({"--version"}, seconds(20));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.output.starts_with("torcon-monitor ")) << r.output;
}

TEST(MonitorCli, UnreachableTorExits1) {
  // A port nobody listens on: bind one, close it.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), len), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ::close(fd);
  const MonitorRun r = run_monitor(
      {"--once", "--control", "127.0.0.1:" + std::to_string(ntohs(a.sin_port))}, seconds(30));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("cannot connect to tor"), std::string::npos) << r.output;
}

class MonitorStandaloneTor : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { tor_ = new torcon::testing::TorProcess(); }
  static void TearDownTestSuite() {
    delete tor_;
    tor_ = nullptr;
  }
  void SetUp() override {
    if (!tor_->ok()) GTEST_SKIP() << "no tor: " << tor_->error();
  }
  static torcon::testing::TorProcess* tor_;
};
torcon::testing::TorProcess* MonitorStandaloneTor::tor_ = nullptr;

// The snapshot names the tor it looked at: its version and its pid.
TEST_F(MonitorStandaloneTor, OnceOverTcpShowsVersionAndPid) {
  const MonitorRun r =
      run_monitor({"--once", "--control", "127.0.0.1:" + std::to_string(tor_->control_port()),
                   "--cookie", tor_->cookie_path()},
                  seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string pid = "   pid " + std::to_string(tor_->pid()) + "   ";
  EXPECT_TRUE(r.output.starts_with("tor 0.")) << r.output;
  EXPECT_NE(r.output.find(pid), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\n== circuits\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\n== entry guards\n"), std::string::npos) << r.output;
}

TEST_F(MonitorStandaloneTor, OnceOverUnixSocket) {
  const MonitorRun r = run_monitor({"--once", "--control", tor_->control_socket()}, seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("   pid " + std::to_string(tor_->pid()) + "   "), std::string::npos)
      << r.output;
}

// Without a terminal and without --once: a plain snapshot every --interval,
// until SIGTERM, which ends it normally.
TEST_F(MonitorStandaloneTor, PlainSnapshotsEveryInterval) {
  const MonitorRun r = run_monitor(
      {"--interval", "0.5", "--control", "127.0.0.1:" + std::to_string(tor_->control_port())},
      seconds(5));
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0) << r.output;  // SIGTERM is a normal end
  std::size_t snapshots = 0;
  for (std::size_t at = r.output.find("---- "); at != std::string::npos;
       at = r.output.find("---- ", at + 1))
    ++snapshots;
  EXPECT_GE(snapshots, 3u) << r.output;
  EXPECT_EQ(r.output.find("torcon-monitor: "), std::string::npos) << r.output;
}

// On a terminal (a pseudo-terminal here): it draws in the alternate screen,
// a key switches the view, and SIGINT/SIGTERM end it with the terminal as it
// was (main screen, cursor shown, echo and line mode back) and status 0.
TEST_F(MonitorStandaloneTor, TerminalKeysAndRestoreOnSignals) {
  for (int sig : {SIGINT, SIGTERM}) {
    int master = -1;
    winsize ws{};
    ws.ws_row = 30;
    ws.ws_col = 100;
    const std::string control = "127.0.0.1:" + std::to_string(tor_->control_port());
    const pid_t pid = ::forkpty(&master, nullptr, nullptr, &ws);
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::execl(TORCON_MONITOR, TORCON_MONITOR, "--control", control.c_str(), "--cookie",
              tor_->cookie_path().c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    std::string out;
    // Reads until `needle` shows up (or 20 s pass).
    auto read_until = [&](std::string_view needle) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (out.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        pollfd p{master, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        char buf[4096];
        const ssize_t n = ::read(master, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
      }
      return out.find(needle) != std::string::npos;
    };
    EXPECT_TRUE(read_until("[1 overview]")) << out;
    termios during{};
    ASSERT_EQ(::tcgetattr(master, &during), 0);
    EXPECT_FALSE(during.c_lflag & ECHO);
    ASSERT_EQ(::write(master, "2", 1), 1);
    EXPECT_TRUE(read_until("[2 circuits]")) << out;
    ::kill(pid, sig);
    EXPECT_TRUE(read_until("\x1b[?1049l")) << out;
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << sig << " " << status;
    termios after{};
    ASSERT_EQ(::tcgetattr(master, &after), 0);
    EXPECT_TRUE(after.c_lflag & ECHO);
    EXPECT_TRUE(after.c_lflag & ICANON);
    EXPECT_EQ(out.find("\x1b[2J"), std::string::npos);  // frames overwrite; never a full clear
    ::close(master);
  }
}

}  // namespace
