// launch_tor() against the real tor binary, on both reactor backends.
//
// Offline: every standalone tor here keeps DisableNetwork 1 (it has the
// default authorities), so nothing leaves the machine. Bootstrapping to 100%
// needs a network: launch_testnet_test.cpp does that on a private one.
#include "torcon/launch.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "support/reactor_backend.hpp"

namespace torcon {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using TorResult = Expected<std::unique_ptr<TorProcess>>;

std::size_t open_fds() {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    (void)e;
    ++n;
  }
  return n;
}

// Gone and reaped: no such process, and not our zombie either.
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) == 0 || errno != ESRCH) return false;
  int ws = 0;
  return ::waitpid(pid, &ws, WNOHANG) < 0 && errno == ECHILD &&
         !fs::exists("/proc/" + std::to_string(pid));
}

// On each backend (support/reactor_backend.hpp: io_uring skips where refused).
class LaunchTest : public testing::BackendTest {
 protected:
  void TearDown() override {
    tor_.reset();  // stopped and reaped before its reactor goes
    BackendTest::TearDown();
  }

  static LaunchOptions offline() {
    LaunchOptions o;
    o.torrc = {"DisableNetwork 1"};
    o.wait_for_bootstrap = false;
    o.timeout = 20s;
    return o;
  }

  TorResult launch(LaunchOptions o) {
    std::optional<TorResult> result;
    launch_tor(*reactor_, std::move(o), [&](TorResult r) { result.emplace(std::move(r)); });
    EXPECT_TRUE(run_until([&] { return result.has_value(); }, 40s));
    if (!result) return Error(Errc::timeout, "launch_tor never completed");
    return std::move(*result);
  }

  // Launches offline and keeps the process in tor_.
  void launch_ok(LaunchOptions o) {
    TorResult r = launch(std::move(o));
    ASSERT_TRUE(r) << r.error().message;
    tor_ = std::move(*r);
  }

  void stop_and_wait(std::chrono::milliseconds grace = 5000ms) {
    bool stopped = false;
    tor_->stop([&] { stopped = true; }, grace);
    ASSERT_TRUE(run_until([&] { return stopped; }));
  }

  Expected<KeyValues> getconf(std::initializer_list<std::string_view> keys) {
    std::optional<Expected<KeyValues>> out;
    tor_->controller().getconf(keys, [&](const Expected<KeyValues>& kv) { out.emplace(kv); });
    EXPECT_TRUE(run_until([&] { return out.has_value(); }));
    if (!out) return Error(Errc::timeout, "no GETCONF answer");
    return std::move(*out);
  }

  std::unique_ptr<TorProcess> tor_;
};

TEST_P(LaunchTest, LaunchesAuthenticatesAndOwns) {
  std::vector<Bootstrap> seen;
  LaunchOptions o = offline();
  o.on_progress = [&](const Bootstrap& b) { seen.push_back(b); };
  const auto t0 = Clock::now();
  launch_ok(std::move(o));
  const auto launched = Clock::now() - t0;
  std::printf("launch to authenticated: %.1f ms\n",
              std::chrono::duration<double, std::milli>(launched).count());

  EXPECT_GT(tor_->pid(), 0);
  EXPECT_EQ(::kill(tor_->pid(), 0), 0);
  EXPECT_EQ(tor_->control_endpoint().kind, Endpoint::Kind::tcp);
  EXPECT_EQ(tor_->control_endpoint().host, "127.0.0.1");
  EXPECT_TRUE(tor_->controller().ready());
  EXPECT_EQ(tor_->controller().auth_method(), AuthMethod::safecookie);
  struct stat st {};
  ASSERT_EQ(::stat(tor_->data_directory().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  // The initial state came from GETINFO status/bootstrap-phase.
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().percent, 0);
  EXPECT_EQ(seen.front().tag, "starting");
  EXPECT_EQ(tor_->bootstrap().tag, "starting");

  std::optional<Expected<KeyValues>> version;
  tor_->controller().getinfo({"version"},
                             [&](const Expected<KeyValues>& kv) { version.emplace(kv); });
  ASSERT_TRUE(run_until([&] { return version.has_value(); }));
  ASSERT_TRUE(*version) << version->error().message;
  ASSERT_NE((*version)->find("version"), nullptr);
  EXPECT_FALSE((*version)->find("version")->empty());

  auto owner = getconf({"__OwningControllerProcess"});
  ASSERT_TRUE(owner) << owner.error().message;
  ASSERT_NE(owner->find("__OwningControllerProcess"), nullptr);
  EXPECT_EQ(*owner->find("__OwningControllerProcess"), std::to_string(::getpid()));

  const pid_t pid = tor_->pid();
  const std::string dir = tor_->data_directory();
  const auto s0 = Clock::now();
  stop_and_wait();
  std::printf("stop: %.1f ms\n",
              std::chrono::duration<double, std::milli>(Clock::now() - s0).count());
  EXPECT_TRUE(process_gone(pid));
  EXPECT_FALSE(fs::exists(dir));
  // Idempotent: a second stop completes too.
  stop_and_wait();
}

TEST_P(LaunchTest, TorrcExtrasAndDefaultsApplied) {
  LaunchOptions o = offline();
  o.torrc.push_back("MaxCircuitDirtiness 1234");
  o.torrc.push_back("SocksPort 0");
  launch_ok(std::move(o));
  auto kv = getconf({"MaxCircuitDirtiness", "DisableNetwork", "GeoIPFile", "GeoIPv6File",
                     "SocksPort", "CookieAuthentication"});
  ASSERT_TRUE(kv) << kv.error().message;
  EXPECT_EQ(*kv->find("MaxCircuitDirtiness"), "1234");
  EXPECT_EQ(*kv->find("DisableNetwork"), "1");
  EXPECT_EQ(*kv->find("GeoIPFile"), "/dev/null");
  EXPECT_EQ(*kv->find("GeoIPv6File"), "/dev/null");
  EXPECT_EQ(*kv->find("SocksPort"), "0");  // ours, not the default "auto"
  EXPECT_EQ(*kv->find("CookieAuthentication"), "1");
  EXPECT_NE(tor_->log_tail().find("Bootstrapped 0%"), std::string::npos) << tor_->log_tail();
  stop_and_wait();
}

TEST_P(LaunchTest, ClosingTheOwningConnectionMakesTorExit) {
  launch_ok(offline());
  const pid_t pid = tor_->pid();
  std::optional<int> status;
  tor_->on_exit([&](int ws) { status = ws; });
  tor_->controller().close();
  // That it exits at all is the point; its status is not checked because
  // tor 0.4.9.11 sometimes aborts on "Error locking a mutex" while exiting.
  ASSERT_TRUE(run_until([&] { return status.has_value(); }, 10s));
  EXPECT_TRUE(process_gone(pid));  // reaped by the exit watch, before stop()
  const std::string dir = tor_->data_directory();
  EXPECT_TRUE(fs::exists(dir));  // kept until stop(), for log_tail()
  stop_and_wait();
  EXPECT_FALSE(fs::exists(dir));
}

TEST_P(LaunchTest, UnixControlSocket) {
  LaunchOptions o = offline();
  o.unix_control_socket = true;
  launch_ok(std::move(o));
  EXPECT_EQ(tor_->control_endpoint().kind, Endpoint::Kind::unix_socket);
  EXPECT_EQ(tor_->control_endpoint().host, tor_->data_directory() + "/control.sock");
  std::optional<Expected<KeyValues>> kv;
  tor_->controller().getinfo({"version", "net/listeners/control"},
                             [&](const Expected<KeyValues>& r) { kv.emplace(r); });
  ASSERT_TRUE(run_until([&] { return kv.has_value(); }));
  ASSERT_TRUE(*kv) << kv->error().message;
  // Only the socket: no TCP control listener.
  EXPECT_EQ((*kv)->find("net/listeners/control")->find("127.0.0.1"), std::string::npos)
      << *(*kv)->find("net/listeners/control");
  stop_and_wait();
}

TEST_P(LaunchTest, KeepDataDirectory) {
  LaunchOptions o = offline();
  o.keep_data_directory = true;
  launch_ok(std::move(o));
  const std::string dir = tor_->data_directory();
  stop_and_wait();
  EXPECT_TRUE(fs::exists(dir + "/notice.log"));
  fs::remove_all(dir);
}

TEST_P(LaunchTest, GivenDataDirectoryIsCreatedKeptAndReused) {
  char tmpl[] = "/tmp/torcon-launch-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = std::string(tmpl) + "/sub/data";
  for (int round = 0; round < 2; ++round) {
    LaunchOptions o = offline();
    o.data_directory = dir;
    launch_ok(std::move(o));
    EXPECT_EQ(tor_->data_directory(), dir);
    // Only this run's log: the previous run's exit notice is not in it.
    EXPECT_EQ(tor_->log_tail(100000).find("exiting cleanly"), std::string::npos);
    stop_and_wait();
    tor_.reset();
    EXPECT_TRUE(fs::exists(dir + "/torrc"));  // never removed: the caller's directory
  }
  fs::remove_all(tmpl);
}

TEST_P(LaunchTest, MissingBinaryGivenPath) {
  LaunchOptions o = offline();
  o.tor_binary = "/nonexistent/bin/tor";
  TorResult r = launch(std::move(o));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("/nonexistent/bin/tor"), std::string::npos) << r.error().message;
}

TEST_P(LaunchTest, MissingBinaryOnPath) {
  const char* old = std::getenv("PATH");
  const std::string saved = old ? old : "";
  ::setenv("PATH", "/nonexistent-a:/nonexistent-b", 1);
  TorResult r = launch(offline());
  ::setenv("PATH", saved.c_str(), 1);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("\"tor\""), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("/nonexistent-a:/nonexistent-b"), std::string::npos)
      << r.error().message;
}

TEST_P(LaunchTest, RefusesManagedOptionsAndInjection) {
  LaunchOptions o = offline();
  o.torrc.push_back("DataDirectory /tmp/elsewhere");
  TorResult r = launch(std::move(o));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::bad_argument);

  LaunchOptions o2 = offline();
  o2.torrc.push_back("SocksPort 0\nDisableNetwork 0");
  TorResult r2 = launch(std::move(o2));
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, Errc::injection);
}

TEST_P(LaunchTest, EarlyExitReportsStatusAndLog) {
  const std::size_t fds = open_fds();
  LaunchOptions o = offline();
  o.torrc.push_back("NoSuchOption 1");
  TorResult r = launch(std::move(o));
  ASSERT_FALSE(r);
  const std::string& m = r.error().message;
  EXPECT_NE(m.find("exit status 1"), std::string::npos) << m;
  if (std::getenv("TORCON_LAUNCH_SHOW")) std::printf("%s\n", m.c_str());
  EXPECT_NE(m.find("NoSuchOption"), std::string::npos) << m;
  EXPECT_EQ(open_fds(), fds);
}

TEST_P(LaunchTest, TimeoutCarriesLogTailAndInitialProgress) {
  std::vector<Bootstrap> seen;
  LaunchOptions o = offline();
  o.wait_for_bootstrap = true;  // never happens with DisableNetwork 1
  o.timeout = 1500ms;
  o.on_progress = [&](const Bootstrap& b) { seen.push_back(b); };
  const auto t0 = Clock::now();
  TorResult r = launch(std::move(o));
  const auto took = Clock::now() - t0;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::timeout);
  EXPECT_GE(took, 1500ms);
  EXPECT_LT(took, 8s);
  const std::string& m = r.error().message;
  EXPECT_NE(m.find("DisableNetwork is set"), std::string::npos) << m;
  if (std::getenv("TORCON_LAUNCH_SHOW")) std::printf("%s\n", m.c_str());
  EXPECT_NE(m.find("0%"), std::string::npos) << m;
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().percent, 0);
  EXPECT_EQ(seen.front().tag, "starting");
  EXPECT_EQ(seen.front().summary, "Starting");
}

TEST_P(LaunchTest, NoLeakedFdsOrProcessesOrDirectories) {
  const std::size_t fds = open_fds();
  launch_ok(offline());
  const pid_t pid = tor_->pid();
  const std::string dir = tor_->data_directory();
  stop_and_wait();
  tor_.reset();
  EXPECT_EQ(open_fds(), fds);
  EXPECT_TRUE(process_gone(pid));
  EXPECT_FALSE(fs::exists(dir));
}

TEST_P(LaunchTest, DestructorStopsAndReaps) {
  launch_ok(offline());
  const pid_t pid = tor_->pid();
  const std::string dir = tor_->data_directory();
  tor_.reset();
  EXPECT_TRUE(process_gone(pid));
  EXPECT_FALSE(fs::exists(dir));
}

TEST_P(LaunchTest, SigkillAfterGrace) {
  launch_ok(offline());
  const pid_t pid = tor_->pid();
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);  // SIGTERM now waits: only SIGKILL works
  const auto t0 = Clock::now();
  stop_and_wait(300ms);
  EXPECT_GE(Clock::now() - t0, 300ms);
  EXPECT_TRUE(process_gone(pid));
}

TEST_P(LaunchTest, SigchldFallback) {
  ::setenv("TORCON_LAUNCH_FORCE_SIGCHLD", "1", 1);
  const std::size_t fds = open_fds();
  launch_ok(offline());
  ::unsetenv("TORCON_LAUNCH_FORCE_SIGCHLD");
  const pid_t pid = tor_->pid();
  std::optional<int> status;
  tor_->on_exit([&](int ws) { status = ws; });
  tor_->controller().signal("SHUTDOWN", [](const Status&) {});
  ASSERT_TRUE(run_until([&] { return status.has_value(); }, 10s));
  EXPECT_TRUE(process_gone(pid));
  stop_and_wait();
  tor_.reset();
  EXPECT_EQ(open_fds(), fds);
}

INSTANTIATE_TEST_SUITE_P(Backends, LaunchTest, testing::kBothBackends, testing::backend_name);

}  // namespace
}  // namespace torcon
