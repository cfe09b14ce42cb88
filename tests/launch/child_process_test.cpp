// ChildProcess (launch/child_process.hpp), the one primitive that starts
// programs, on /bin/sh scripts: exit status and signal death, output
// capture, stdin, descriptors the child gets, signal state it gets,
// SIGTERM-then-SIGKILL (blocking and on the loop), exit watching with a
// pidfd and with the SIGCHLD fallback, and that no zombie is left behind.
#include "child_process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace torcon {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using ChildPtr = std::unique_ptr<ChildProcess>;

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::set<int> fds_of(const std::string& proc_fd_dir) {
  std::set<int> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(proc_fd_dir, ec))
    out.insert(std::atoi(e.path().filename().c_str()));
  return out;
}

// Our own descriptors, without the one that lists them.
std::size_t open_fds() { return fds_of("/proc/self/fd").size(); }

// True once `pid` is blocked in its sleep (/proc/<pid>/syscall names the
// syscall it waits in): sleep(1) has finished starting up then, so the
// descriptors it has are the ones it keeps.
bool sleeping(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/syscall");
  long nr = -1;
  in >> nr;
  return in && (nr == SYS_clock_nanosleep || nr == SYS_nanosleep);
}

// Exited and reaped: no such process, and no zombie of ours either.
bool reaped(pid_t pid) {
  int ws = 0;
  return ::kill(pid, 0) != 0 && errno == ESRCH && ::waitpid(pid, &ws, WNOHANG) < 0 &&
         errno == ECHILD && !fs::exists("/proc/" + std::to_string(pid));
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

class ChildProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/torcon-child-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  SpawnOptions sh(const std::string& script) {
    SpawnOptions o;
    o.argv = {"/bin/sh", "-c", script};
    o.output_path = dir_ + "/out";
    return o;
  }
  // SpawnModeTest runs its cases both ways.
  virtual bool wait_for_exec() const { return true; }
  ChildPtr start(SpawnOptions o) {
    o.wait_for_exec = wait_for_exec();
    auto c = ChildProcess::spawn(std::move(o));
    EXPECT_TRUE(c) << c.error().message;
    return c ? std::move(*c) : nullptr;
  }
  // Waits (blocking) until the child has written `text`.
  bool await_output(const std::string& text, std::chrono::milliseconds limit = 5s) {
    const auto deadline = Clock::now() + limit;
    while (slurp(dir_ + "/out").find(text) == std::string::npos) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(2ms);
    }
    return true;
  }

  std::string dir_;
};

// The cases that hold whether spawn() waits for the exec (posix_spawn) or not
// (fork + exec in the child, as launch_tor does).
class SpawnModeTest : public ChildProcessTest, public ::testing::WithParamInterface<bool> {
 protected:
  bool wait_for_exec() const override { return GetParam(); }
};
INSTANTIATE_TEST_SUITE_P(Spawn, SpawnModeTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "waiting" : "forked"; });

// ---- status ------------------------------------------------------------------------

TEST_P(SpawnModeTest, ExitStatusAndSignalDeath) {
  const struct {
    const char* script;
    const char* described;
  } cases[] = {
      {"exit 0", "exit status 0"},
      {"exit 3", "exit status 3"},
      {"exit 255", "exit status 255"},
      {"kill -TERM $$", "killed by signal 15 (SIGTERM)"},
      {"kill -KILL $$", "killed by signal 9 (SIGKILL)"},
      {"kill -SEGV $$", "killed by signal 11 (SIGSEGV)"},
  };
  for (const auto& c : cases) {
    ChildPtr child = start(sh(c.script));
    ASSERT_TRUE(child);
    EXPECT_TRUE(child->running());
    const int ws = child->wait();
    EXPECT_EQ(describe_wait_status(ws), c.described) << c.script;
    EXPECT_FALSE(child->running());
    EXPECT_EQ(child->wait_status(), ws);
    EXPECT_EQ(child->poll_exit(), ws) << "later calls give the same status";
    EXPECT_TRUE(reaped(child->pid())) << c.script;
  }
}

TEST(DescribeWaitStatus, Words) {
  const struct {
    int ws;
    const char* text;
  } cases[] = {
      {W_EXITCODE(0, 0), "exit status 0"},
      {W_EXITCODE(1, 0), "exit status 1"},
      {W_EXITCODE(0, SIGKILL), "killed by signal 9 (SIGKILL)"},
      {W_EXITCODE(0, SIGABRT), "killed by signal 6 (SIGABRT)"},
      {-1, "exit status unknown (reaped elsewhere)"},
  };
  for (const auto& c : cases) EXPECT_EQ(describe_wait_status(c.ws), c.text) << c.ws;
}

TEST_F(ChildProcessTest, ReapedElsewhereIsSaid) {
  ChildPtr child = start(sh("exit 0"));
  ASSERT_TRUE(child);
  int ws = 0;
  ASSERT_EQ(::waitpid(child->pid(), &ws, 0), child->pid());
  EXPECT_EQ(child->poll_exit(), -1);
  EXPECT_FALSE(child->running());
}

TEST_F(ChildProcessTest, PollExitDoesNotBlock) {
  ChildPtr child = start(sh("exec sleep 30"));
  ASSERT_TRUE(child);
  const auto t0 = Clock::now();
  EXPECT_EQ(child->poll_exit(), std::nullopt);
  EXPECT_EQ(child->wait_for(50ms), std::nullopt);
  EXPECT_GE(Clock::now() - t0, 50ms);
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_TRUE(child->running());
}

// ---- stdin, stdout, stderr and nothing else ---------------------------------------------

TEST_P(SpawnModeTest, StdoutAndStderrGoToTheOutputFile) {
  ChildPtr child = start(sh("echo out; echo err >&2"));
  ASSERT_TRUE(child);
  EXPECT_EQ(child->wait(), 0);
  EXPECT_EQ(slurp(dir_ + "/out"), "out\nerr\n");
  EXPECT_EQ(child->output_tail(4), "err\n");
  EXPECT_EQ(child->output_tail(1000), "out\nerr\n");
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/out").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ChildProcessTest, OutputTruncatedOrAppended) {
  for (bool append : {false, true}) {
    { std::ofstream(dir_ + "/out") << "earlier\n"; }
    SpawnOptions o = sh("echo now");
    o.append_output = append;
    ChildPtr child = start(std::move(o));
    ASSERT_TRUE(child);
    EXPECT_EQ(child->wait(), 0);
    EXPECT_EQ(slurp(dir_ + "/out"), append ? "earlier\nnow\n" : "now\n");
    EXPECT_EQ(child->output_tail(1000), "now\n") << "only this child's output";
  }
}

TEST_P(SpawnModeTest, StdinTextThenEndOfFile) {
  const struct {
    std::string input;
    std::string output;
  } cases[] = {
      {"", ""},      // /dev/null: cat ends at once
      {"\n", "\n"},  // tor-gencert's empty passphrase
      {"line one\nline two", "line one\nline two"},
      {std::string(1 << 20, 'x'), std::string(1 << 20, 'x')},  // beyond any pipe buffer
  };
  for (const auto& c : cases) {
    SpawnOptions o = sh("cat");
    o.stdin_text = c.input;
    ChildPtr child = start(std::move(o));
    ASSERT_TRUE(child);
    ASSERT_EQ(child->wait_for(10s), 0) << "cat must see end of file";
    EXPECT_EQ(slurp(dir_ + "/out") == c.output, true) << c.input.size() << " bytes";
  }
}

TEST_P(SpawnModeTest, ChildGetsExactlyThreeDescriptors) {
  // Descriptors the child must not get: without O_CLOEXEC, and with it.
  const int plain = ::open("/dev/null", O_RDONLY);
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const int cloexec = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(plain, 0);
  ASSERT_GE(cloexec, 0);
  const struct {
    bool stdin_text, output_file;
  } cases[] = {{false, false}, {true, false}, {false, true}, {true, true}};
  for (const auto& c : cases) {
    SpawnOptions o;
    o.argv = {"/bin/sleep", "30"};
    if (c.output_file) o.output_path = dir_ + "/out";
    if (c.stdin_text) o.stdin_text = "text";
    ChildPtr child = start(std::move(o));
    ASSERT_TRUE(child);
    const std::string fd_dir = "/proc/" + std::to_string(child->pid()) + "/fd";
    // sleep briefly holds files while it starts (locale): look once it
    // sleeps. A leaked descriptor would still be there.
    const auto deadline = Clock::now() + 5s;
    while (!sleeping(child->pid()) && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(sleeping(child->pid())) << "sleep(1) never reached its sleep";
    EXPECT_EQ(fds_of(fd_dir), (std::set<int>{0, 1, 2}));
    const std::string out = c.output_file ? dir_ + "/out" : "/dev/null";
    EXPECT_EQ(fs::read_symlink(fd_dir + "/1"), out);
    EXPECT_EQ(fs::read_symlink(fd_dir + "/2"), out);
    const std::string in = fs::read_symlink(fd_dir + "/0");
    if (c.stdin_text)
      EXPECT_NE(in.find("memfd:"), std::string::npos) << in;
    else
      EXPECT_EQ(in, "/dev/null");
    EXPECT_EQ(child->output_tail(100), "");
    EXPECT_EQ(describe_wait_status(child->terminate_and_wait(5s)), "killed by signal 15 (SIGTERM)");
  }
  ::close(plain);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  ::close(cloexec);
}

TEST_P(SpawnModeTest, ParentKeepsNoDescriptor) {
  const std::size_t before = open_fds();
  auto reactor = Reactor::create();
  ASSERT_TRUE(reactor) << reactor.error().message;
  const std::size_t with_reactor = open_fds();
  for (bool pidfd : {true, false}) {
    SpawnOptions o = sh("cat >/dev/null; exit 0");
    o.stdin_text = "some input";
    o.use_pidfd = pidfd;
    ChildPtr child = start(std::move(o));
    ASSERT_TRUE(child);
    bool exited = false;
    ASSERT_TRUE(child->watch(**reactor, [&](int) { exited = true; }));
    const auto deadline = Clock::now() + 5s;
    while (!exited && Clock::now() < deadline) (*reactor)->run_once(10ms);
    ASSERT_TRUE(exited);
    EXPECT_EQ(open_fds(), with_reactor) << "pidfd=" << pidfd;
  }
  reactor->reset();
  EXPECT_EQ(open_fds(), before);
}

// A caller that blocks SIGTERM or ignores SIGHUP must not hand that to tor.
TEST_P(SpawnModeTest, SignalsBlockedOrIgnoredByTheCallerAreDefaultInTheChild) {
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGUSR1);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &block, &old_mask), 0);
  struct sigaction ign {
  }, old_hup{}, old_pipe{};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGHUP, &ign, &old_hup);
  ::sigaction(SIGPIPE, &ign, &old_pipe);

  Expected<std::string> grep = find_executable("grep");
  ASSERT_TRUE(grep) << grep.error().message;
  SpawnOptions o;
  o.argv = {*grep, "-E", "^Sig(Blk|Ign):", "/proc/self/status"};
  o.output_path = dir_ + "/out";
  ChildPtr child = start(std::move(o));
  ASSERT_TRUE(child);
  EXPECT_EQ(child->wait(), 0);
  // Masks of signals 1..64, bit n-1 for signal n. glibc itself ignores its
  // two internal signals (32, 33) in the child; the standard ones must be clear.
  std::istringstream lines(slurp(dir_ + "/out"));
  std::string blk_key, ign_key, hex;
  lines >> blk_key >> hex;
  const unsigned long long blocked = std::stoull(hex, nullptr, 16);
  lines >> ign_key >> hex;
  const unsigned long long ignored = std::stoull(hex, nullptr, 16);
  ASSERT_EQ(blk_key + ign_key, "SigBlk:SigIgn:");
  EXPECT_EQ(blocked, 0u) << std::hex << blocked;
  EXPECT_EQ(ignored & 0x7fffffffu, 0u) << std::hex << ignored;

  ::sigaction(SIGHUP, &old_hup, nullptr);
  ::sigaction(SIGPIPE, &old_pipe, nullptr);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
}

// ---- SIGTERM, then SIGKILL --------------------------------------------------------------

TEST_F(ChildProcessTest, TerminateAndWaitEscalatesToSigkill) {
  // An ignored signal stays ignored across exec: sleep ignores SIGTERM too.
  ChildPtr child = start(sh("trap '' TERM; echo ready; exec sleep 30"));
  ASSERT_TRUE(child);
  ASSERT_TRUE(await_output("ready"));
  const auto t0 = Clock::now();
  const int ws = child->terminate_and_wait(300ms);
  const double took = ms_since(t0);
  EXPECT_EQ(describe_wait_status(ws), "killed by signal 9 (SIGKILL)");
  EXPECT_GE(took, 300);
  EXPECT_LT(took, 3000);
  EXPECT_TRUE(reaped(child->pid()));
}

TEST_F(ChildProcessTest, TerminateAndWaitReturnsAsSoonAsTheChildExits) {
  ChildPtr child = start(sh("exec sleep 30"));
  ASSERT_TRUE(child);
  const auto t0 = Clock::now();
  EXPECT_EQ(describe_wait_status(child->terminate_and_wait(10s)), "killed by signal 15 (SIGTERM)");
  EXPECT_LT(ms_since(t0), 1000) << "must not sit out the grace period";
  EXPECT_TRUE(reaped(child->pid()));
}

TEST_P(SpawnModeTest, DestructorReapsARunningChild) {
  const struct {
    const char* script;
    double min_ms;  // SIGTERM ignored: the destructor's 200 ms grace, then SIGKILL
  } cases[] = {
      {"exec sleep 30", 0},
      {"trap '' TERM; echo ready; exec sleep 30", 200},
  };
  for (const auto& c : cases) {
    std::remove((dir_ + "/out").c_str());
    ChildPtr child = start(sh(c.script));
    ASSERT_TRUE(child);
    if (c.min_ms > 0) {
      ASSERT_TRUE(await_output("ready"));
    }
    const pid_t pid = child->pid();
    const auto t0 = Clock::now();
    child.reset();
    EXPECT_GE(ms_since(t0), c.min_ms) << c.script;
    EXPECT_LT(ms_since(t0), 3000) << c.script;
    EXPECT_TRUE(reaped(pid)) << c.script;
  }
}

TEST_F(ChildProcessTest, SendSignalAfterReapingIsANoOp) {
  ChildPtr child = start(sh("exit 0"));
  ASSERT_TRUE(child);
  EXPECT_EQ(child->wait(), 0);
  child->send_signal(SIGKILL);  // the pid may belong to someone else by now
  child->terminate(1ms);
  EXPECT_EQ(child->terminate_and_wait(1ms), 0);
}

// ---- on a loop: pidfd and the SIGCHLD fallback -----------------------------------------

class ChildWatchTest : public ChildProcessTest, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    ChildProcessTest::SetUp();
    auto r = Reactor::create();
    ASSERT_TRUE(r) << r.error().message;
    reactor_ = std::move(*r);
  }
  void TearDown() override {
    reactor_.reset();
    ChildProcessTest::TearDown();
  }
  SpawnOptions script(const std::string& s) {
    SpawnOptions o = sh(s);
    o.use_pidfd = GetParam();
    return o;
  }
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s) {
    const auto deadline = Clock::now() + limit;
    while (!pred()) {
      if (Clock::now() > deadline) return false;
      reactor_->run_once(10ms);
    }
    return true;
  }
  std::unique_ptr<Reactor> reactor_;
};

TEST_P(ChildWatchTest, ReportsTheExitOnceFromTheLoop) {
  ChildPtr child = start(script("exit 7"));
  ASSERT_TRUE(child);
  EXPECT_EQ(child->has_pidfd(), GetParam());
  std::vector<int> seen;
  ASSERT_TRUE(child->watch(*reactor_, [&](int ws) { seen.push_back(ws); }));
  EXPECT_TRUE(seen.empty()) << "never from inside watch()";
  const auto t0 = Clock::now();
  ASSERT_TRUE(run_until([&] { return !seen.empty(); }));
  std::printf("exit noticed after %.1f ms\n", ms_since(t0));
  // The fallback polls every 100 ms at worst; a pidfd is immediate.
  EXPECT_LT(ms_since(t0), GetParam() ? 1000 : 1500);
  EXPECT_EQ(describe_wait_status(seen.front()), "exit status 7");
  EXPECT_FALSE(child->running());
  EXPECT_TRUE(reaped(child->pid()));
  run_until([] { return false; }, 250ms);
  EXPECT_EQ(seen.size(), 1u);
  EXPECT_FALSE(child->watch(*reactor_, [](int) {})) << "one watch per child";
}

TEST_P(ChildWatchTest, TerminateOnTheLoopEscalatesToSigkill) {
  ChildPtr child = start(script("trap '' TERM; echo ready; exec sleep 30"));
  ASSERT_TRUE(child);
  ASSERT_TRUE(await_output("ready"));
  std::optional<int> status;
  ASSERT_TRUE(child->watch(*reactor_, [&](int ws) { status = ws; }));
  const auto t0 = Clock::now();
  child->terminate(300ms);
  EXPECT_LT(ms_since(t0), 50) << "terminate() must not block";
  ASSERT_TRUE(run_until([&] { return status.has_value(); }));
  EXPECT_GE(ms_since(t0), 300);
  EXPECT_EQ(describe_wait_status(*status), "killed by signal 9 (SIGKILL)");
  EXPECT_TRUE(reaped(child->pid()));
}

TEST_P(ChildWatchTest, TerminateOnTheLoopEndsAWellBehavedChildAtOnce) {
  ChildPtr child = start(script("exec sleep 30"));
  ASSERT_TRUE(child);
  std::optional<int> status;
  ASSERT_TRUE(child->watch(*reactor_, [&](int ws) { status = ws; }));
  const auto t0 = Clock::now();
  child->terminate(10s);
  ASSERT_TRUE(run_until([&] { return status.has_value(); }, 5s));
  EXPECT_LT(ms_since(t0), 1500);
  EXPECT_EQ(describe_wait_status(*status), "killed by signal 15 (SIGTERM)");
  // The pending SIGKILL timer went with the watch: nothing fires later.
  run_until([] { return false; }, 100ms);
}

TEST_P(ChildWatchTest, OnExitMayDestroyTheChild) {
  ChildPtr child = start(script("exit 0"));
  ASSERT_TRUE(child);
  const pid_t pid = child->pid();
  bool called = false;
  ASSERT_TRUE(child->watch(*reactor_, [&](int) {
    called = true;
    child.reset();
  }));
  ASSERT_TRUE(run_until([&] { return called; }));
  EXPECT_EQ(child, nullptr);
  EXPECT_TRUE(reaped(pid));
  run_until([] { return false; }, 150ms);  // no stale watch or timer fires
}

TEST_P(ChildWatchTest, ReapedByTheCallerMeansNoOnExit) {
  ChildPtr child = start(script("exit 4"));
  ASSERT_TRUE(child);
  int calls = 0;
  ASSERT_TRUE(child->watch(*reactor_, [&](int) { ++calls; }));
  EXPECT_EQ(describe_wait_status(child->wait()), "exit status 4");
  run_until([] { return false; }, 250ms);
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(reaped(child->pid()));
}

TEST_P(ChildWatchTest, DestroyingAWatchedChildUnwatches) {
  ChildPtr child = start(script("exec sleep 30"));
  ASSERT_TRUE(child);
  const pid_t pid = child->pid();
  int calls = 0;
  ASSERT_TRUE(child->watch(*reactor_, [&](int) { ++calls; }));
  child->terminate(5s);
  child.reset();  // blocking reap; the watch and the SIGKILL timer go too
  EXPECT_TRUE(reaped(pid));
  run_until([] { return false; }, 250ms);
  EXPECT_EQ(calls, 0);
}

INSTANTIATE_TEST_SUITE_P(ExitWatch, ChildWatchTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "pidfd" : "sigchld"; });

// ---- errors and helpers -----------------------------------------------------------------

TEST_F(ChildProcessTest, SpawnErrorsSayWhat) {
  const struct {
    std::vector<std::string> argv;
    std::string output;
    Errc code;
    std::vector<std::string> said;
  } cases[] = {
      {{}, "", Errc::bad_argument, {"empty argv"}},
      {{""}, "", Errc::bad_argument, {"empty argv"}},
      {{"/bin/sh", std::string("-c\0x", 4)}, "", Errc::bad_argument, {"argument 1", "NUL"}},
      {{"/nonexistent/prog"}, "", Errc::io, {"/nonexistent/prog", "No such file"}},
      {{"/etc/passwd"}, "", Errc::io, {"/etc/passwd", "Permission denied"}},
      {{"/bin/true"}, "/nonexistent-dir/out", Errc::io, {"/nonexistent-dir/out", "No such file"}},
  };
  for (const auto& c : cases) {
    SpawnOptions o;
    o.argv = c.argv;
    o.output_path = c.output;
    auto r = ChildProcess::spawn(std::move(o));
    ASSERT_FALSE(r) << (c.argv.empty() ? "" : c.argv[0]);
    EXPECT_EQ(r.error().code, c.code) << r.error().message;
    for (const std::string& s : c.said)
      EXPECT_NE(r.error().message.find(s), std::string::npos) << r.error().message;
  }
}

// Without waiting, spawn() cannot see a failed exec: the child exits with
// status 127 and exec_failure() names the program and the reason. An exec
// that works leaves exec_failure() empty.
TEST_F(ChildProcessTest, ExecFailureWithoutWaitingIsSaidOnceReaped) {
  const struct {
    std::string program;
    std::optional<std::string> failure;
  } cases[] = {
      {"/nonexistent/prog", "cannot start /nonexistent/prog: No such file or directory"},
      {"/etc/passwd", "cannot start /etc/passwd: Permission denied"},
      {"/bin/true", std::nullopt},
  };
  for (const auto& c : cases) {
    SpawnOptions o;
    o.argv = {c.program};
    o.wait_for_exec = false;
    auto r = ChildProcess::spawn(std::move(o));
    ASSERT_TRUE(r) << r.error().message;
    const int ws = (*r)->wait();
    EXPECT_EQ((*r)->exec_failure(), c.failure) << c.program;
    EXPECT_EQ(describe_wait_status(ws), c.failure ? "exit status 127" : "exit status 0");
  }
}

// A child held at a gate runs nothing until the gate opens (then it execs),
// and a signal still ends it while it waits.
TEST_F(ChildProcessTest, AChildAtTheGateWaitsUntilItOpens) {
  Expected<SpawnGate> gate = SpawnGate::create();
  ASSERT_TRUE(gate) << gate.error().message;
  std::vector<ChildPtr> held;
  for (int i = 0; i < 2; ++i) {
    SpawnOptions o = sh("echo ran");
    o.output_path = dir_ + "/out" + std::to_string(i);
    o.wait_for_exec = false;
    o.gate = &*gate;
    auto c = ChildProcess::spawn(std::move(o));
    ASSERT_TRUE(c) << c.error().message;
    held.push_back(std::move(*c));
  }
  std::this_thread::sleep_for(200ms);
  for (ChildPtr& c : held) EXPECT_EQ(c->poll_exit(), std::nullopt);
  EXPECT_EQ(slurp(dir_ + "/out0"), "");
  held[1]->send_signal(SIGTERM);
  EXPECT_EQ(describe_wait_status(*held[1]->wait_for(5s)), "killed by signal 15 (SIGTERM)");
  gate->open();
  EXPECT_EQ(held[0]->wait_for(5s), 0);
  EXPECT_EQ(slurp(dir_ + "/out0"), "ran\n");
  EXPECT_EQ(slurp(dir_ + "/out1"), "");
}

TEST_F(ChildProcessTest, FindExecutable) {
  const std::string bin = dir_ + "/bin";
  fs::create_directories(bin + "/subdir");
  { std::ofstream(bin + "/prog") << "#!/bin/sh\n"; }
  { std::ofstream(bin + "/data") << "not a program\n"; }
  fs::permissions(bin + "/prog", fs::perms::owner_all);
  fs::permissions(bin + "/data", fs::perms::owner_read | fs::perms::owner_write);

  const char* saved = std::getenv("PATH");
  const std::string old_path = saved ? saved : "";
  const struct {
    std::string path;  // $PATH for the case
    std::string name;
    std::string found;  // "" = an error containing `said`
    std::string said;
  } cases[] = {
      {bin, "prog", bin + "/prog", ""},
      {"/nonexistent:" + bin, "prog", bin + "/prog", ""},
      {bin, "data", "", "no executable \"data\" in $PATH (" + bin + ")"},
      {bin, "subdir", "", "no executable \"subdir\""},
      {"/nonexistent-a:/nonexistent-b", "prog", "", "(/nonexistent-a:/nonexistent-b)"},
      {"", bin + "/prog", bin + "/prog", ""},
      {"", bin + "/data", "", bin + "/data is not an executable file"},
      {"", bin + "/subdir", "", bin + "/subdir is not an executable file"},
      {"", "", "", "no program name"},
  };
  for (const auto& c : cases) {
    ::setenv("PATH", c.path.c_str(), 1);
    Expected<std::string> r = find_executable(c.name);
    ::setenv("PATH", old_path.c_str(), 1);
    if (!c.found.empty()) {
      ASSERT_TRUE(r) << c.name << ": " << r.error().message;
      EXPECT_EQ(*r, c.found);
    } else {
      ASSERT_FALSE(r) << c.name << " found as " << *r;
      EXPECT_NE(r.error().message.find(c.said), std::string::npos) << r.error().message;
    }
  }
  // Without $PATH: the system default, as execvp does.
  ::unsetenv("PATH");
  Expected<std::string> sh = find_executable("sh");
  ::setenv("PATH", old_path.c_str(), 1);
  ASSERT_TRUE(sh) << sh.error().message;
  EXPECT_TRUE(*sh == "/bin/sh" || *sh == "/usr/bin/sh") << *sh;
}

TEST_F(ChildProcessTest, FileTail) {
  const std::string f = dir_ + "/log";
  { std::ofstream(f) << "0123456789"; }
  const struct {
    std::uint64_t from;
    std::size_t bytes;
    const char* tail;
  } cases[] = {
      {0, 4, "6789"}, {8, 4, "89"}, {0, 100, "0123456789"}, {10, 4, ""}, {50, 4, ""}, {0, 0, ""},
  };
  for (const auto& c : cases) EXPECT_EQ(file_tail(f, c.from, c.bytes), c.tail) << c.from;
  EXPECT_EQ(file_tail(dir_ + "/missing", 0, 10), "");
}

}  // namespace
}  // namespace torcon
