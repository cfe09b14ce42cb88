// torcon-ctl against a real tor (tests/support/tor_process.hpp), run as a
// child process: batch mode through pipes, interactive mode through a
// pseudo-terminal. Every case runs on both reactors. Network: 127.0.0.1 and
// Unix sockets only.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/reactor_backend.hpp"
#include "support/refuse_io_uring.hpp"
#include "support/tor_process.hpp"
#include "torcon/reactor.hpp"
#include "torcon/version.hpp"

#ifndef TORCON_CTL
#error "TORCON_CTL must name the torcon-ctl binary"
#endif

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using torcon::testing::TorOptions;
using torcon::testing::TorProcess;

// A child that exits early must not kill the test with SIGPIPE when we write
// its stdin.
[[maybe_unused]] const bool kIgnoreSigpipe = (::signal(SIGPIPE, SIG_IGN), true);

// One torcon-ctl process. Pipes: stdin gets `input` then EOF (so it is never
// a terminal), stdout and stderr are captured separately. Pty: all three are
// one pseudo-terminal, captured in `out`.
class Child {
 public:
  enum class Mode { pipes, pty };

  // `in_child` runs in the child just before exec (e.g. to set the environment).
  Child(const std::vector<std::string>& args, Mode mode, const std::string& input = {},
        const std::function<void()>& in_child = {}) {
    std::vector<std::string> full{TORCON_CTL};
    full.insert(full.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : full) argv.push_back(a.data());
    argv.push_back(nullptr);

    if (mode == Mode::pty) {
      int master = -1;
      pid_ = ::forkpty(&master, nullptr, nullptr, nullptr);
      if (pid_ == 0) {
        if (in_child) in_child();
        ::execv(argv[0], argv.data());
        ::_exit(127);
      }
      out_fd_ = master;
      pty_fd_ = ::dup(master);  // stays open after the output hits EOF, for tcgetattr
      return;
    }
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
      return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      if (in_child) in_child();
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    std::string_view rest = input;
    while (!rest.empty()) {
      const ssize_t n = ::write(in[1], rest.data(), rest.size());
      if (n <= 0) break;
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    ::close(in[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
  }

  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
    if (err_fd_ >= 0) ::close(err_fd_);
    if (pty_fd_ >= 0) ::close(pty_fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // Stops reading stdout, as `| head` does.
  void close_stdout() {
    ::close(out_fd_);
    out_fd_ = -1;
  }
  int pty() const { return pty_fd_; }

  // Reads until `needle` appears in out at or after `from`.
  bool read_until(std::string_view needle, std::chrono::milliseconds timeout = 20s,
                  std::size_t from = 0) {
    const auto deadline = Clock::now() + timeout;
    while (out.find(needle, from) == std::string::npos) {
      if (Clock::now() >= deadline || !pump(deadline))
        return out.find(needle, from) != std::string::npos;
    }
    return true;
  }

  void type(std::string_view keys) {
    while (!keys.empty()) {
      const ssize_t n = ::write(pty_fd_, keys.data(), keys.size());
      if (n <= 0) return;
      keys.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // Collects output to EOF and reaps: the exit code, or -1 (killed, timed out).
  int wait(std::chrono::milliseconds timeout = 30s) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline && pump(deadline)) {
    }
    int status = 0;
    while (Clock::now() < deadline) {
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(5ms);
    }
    return -1;  // the destructor kills it
  }

  std::string out, err;

 private:
  // One poll round; false once every stream is at EOF.
  bool pump(Clock::time_point deadline) {
    pollfd fds[2];
    int n = 0;
    if (out_fd_ >= 0) fds[n++] = {out_fd_, POLLIN, 0};
    if (err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
    if (n == 0) return false;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (::poll(fds, static_cast<nfds_t>(n), static_cast<int>(std::max<long long>(left, 0))) <= 0)
      return true;
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      char buf[4096];
      const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      int& fd = fds[i].fd == out_fd_ ? out_fd_ : err_fd_;
      std::string& dst = fds[i].fd == out_fd_ ? out : err;
      if (got > 0) {
        dst.append(buf, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {  // EOF; EIO on a pty whose slave closed
        ::close(fd);
        fd = -1;
      }
    }
    return true;
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  int pty_fd_ = -1;
};

struct Result {
  std::string out, err;
  int status = -1;
};

Result run_ctl(const std::vector<std::string>& args, const std::string& input = {}) {
  Child c(args, Child::Mode::pipes, input);
  Result r;
  r.status = c.wait();
  r.out = std::move(c.out);
  r.err = std::move(c.err);
  return r;
}

std::size_t count(const std::string& hay, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

bool tor_alive(pid_t pid) {
  // Reaped by TorProcess only, so a dead tor is a zombie: look at its state.
  if (::kill(pid, 0) != 0) return false;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  FILE* f = std::fopen(path, "r");
  if (!f) return false;
  char buf[512] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  const std::string_view s(buf, n);
  const std::size_t paren = s.rfind(')');
  return paren != std::string_view::npos && paren + 2 < s.size() && s[paren + 2] != 'Z';
}

// A 127.0.0.1 port nobody listens on.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// `--reactor uring` where this kernel refuses io_uring exits 2 (see
// CtlBackend): such cases are skipped, with the kernel's reason.
void skip_unavailable_backend(const std::string& reactor) {
  if (reactor != "uring") return;
  TORCON_SKIP_UNLESS_BACKEND_AVAILABLE(torcon::ReactorOptions::Choice::uring);
}

// A non-blocking listener on 127.0.0.1 standing in for tor, to see whether
// torcon-ctl connects at all.
struct FakeTor {
  FakeTor() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd, 8);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~FakeTor() { ::close(fd); }
  // Whether a connection arrives within `wait` and, if `say` is given, takes
  // all of it (a client that hung up first makes this false, not a SIGPIPE).
  bool connected_within(std::chrono::milliseconds wait, std::string_view say = {}) const {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
    const int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return false;
    if (!say.empty()) {
      // Answer the first command, then wait for the client to hang up: closing
      // with its bytes unread would send a RST that could overtake `say`.
      char buf[512];
      pollfd in{c, POLLIN, 0};
      if (::poll(&in, 1, 5000) > 0) (void)::recv(c, buf, sizeof buf, 0);
      const bool said =
          ::send(c, say.data(), say.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(say.size());
      ::shutdown(c, SHUT_WR);
      while (::poll(&in, 1, 5000) > 0 && ::recv(c, buf, sizeof buf, 0) > 0) {
      }
      ::close(c);
      return said;
    }
    ::close(c);
    return true;
  }
  int fd = -1;
  int port = 0;
};

// One tor for the whole suite (started with Tor::options()), shared by its
// tests on each reactor backend (the parameter, "epoll" or "uring").
template <class Tor>
class SharedTorTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { tor_ = new TorProcess(Tor::options()); }
  static void TearDownTestSuite() {
    delete tor_;
    tor_ = nullptr;
  }
  void SetUp() override {
    skip_unavailable_backend(GetParam());
    if (IsSkipped()) return;
    ASSERT_TRUE(tor_->ok()) << tor_->error();
  }

  // torcon-ctl's arguments for the TCP control port, then `commands`.
  std::vector<std::string> tcp(std::vector<std::string> commands) const {
    std::vector<std::string> a{"--reactor", GetParam(), "--control",
                               "127.0.0.1:" + std::to_string(tor_->control_port())};
    a.insert(a.end(), commands.begin(), commands.end());
    return a;
  }

  inline static TorProcess* tor_ = nullptr;
};

// ---- against a cookie-authenticated tor -----------------------------------

struct CookieTor {
  static TorOptions options() { return {}; }
};

class CtlTest : public SharedTorTest<CookieTor> {
 protected:
  std::vector<std::string> unix_socket(std::vector<std::string> commands) const {
    std::vector<std::string> a{"--reactor", GetParam(), "--control", tor_->control_socket()};
    a.insert(a.end(), commands.begin(), commands.end());
    return a;
  }
};

// A tiny pattern match (<regex> trips GCC 12's -Wmaybe-uninitialized under
// the sanitizers): '*' is any run of characters but '\n', '#' one or more
// digits, anything else itself.
bool like(std::string_view s, std::string_view p) {
  if (p.empty()) return s.empty();
  if (p[0] == '*') {
    for (std::size_t i = 0;; ++i) {
      if (like(s.substr(i), p.substr(1))) return true;
      if (i >= s.size() || s[i] == '\n') return false;
    }
  }
  if (p[0] == '#') {
    std::size_t i = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > 0 && like(s.substr(i), p.substr(1));
  }
  return !s.empty() && s[0] == p[0] && like(s.substr(1), p.substr(1));
}

constexpr std::string_view kVersionReply = "250-version=0.4*\n250 OK\n";

TEST_P(CtlTest, GetinfoVersionOverTcp) {
  const Result r = run_ctl(tcp({"GETINFO version"}));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(like(r.out, kVersionReply)) << r.out;
}

// --record: every byte tor sent, from PROTOCOLINFO on, CRLF and all.
TEST_P(CtlTest, RecordWritesEveryByteTorSent) {
  char path[] = "/tmp/torcon-ctl-record-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::vector<std::string> args = tcp({"GETINFO version", "GETINFO no-such-key"});
  args.insert(args.begin(), {"--record", path});
  const Result r = run_ctl(args);
  EXPECT_EQ(r.status, 1) << r.err;  // the unknown key
  std::ifstream in(path, std::ios::binary);
  const std::string rec((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ::unlink(path);
  EXPECT_TRUE(rec.starts_with("250-PROTOCOLINFO 1\r\n")) << rec;
  // Authentication's replies, then the two commands' in order, as tor wrote them.
  const std::size_t version = rec.find("250-version=0.4");
  ASSERT_NE(version, std::string::npos) << rec;
  EXPECT_NE(rec.find("\r\n250 OK\r\n552 Unrecognized key \"no-such-key\"\r\n", version),
            std::string::npos)
      << rec;
  EXPECT_TRUE(rec.ends_with("\r\n"));
  // A file that cannot be written is refused before anything connects.
  std::vector<std::string> bad = tcp({"GETINFO version"});
  bad.insert(bad.begin(), {"--record", "/nonexistent-dir/capture"});
  const Result b = run_ctl(bad);
  EXPECT_EQ(b.status, 2);
  EXPECT_NE(b.err.find("--record"), std::string::npos) << b.err;
}

TEST_P(CtlTest, GetinfoVersionOverUnixSocket) {
  ASSERT_FALSE(tor_->control_socket().empty());
  const Result r = run_ctl(unix_socket({"GETINFO version"}));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(like(r.out, kVersionReply)) << r.out;
}

TEST_P(CtlTest, UnixSocketWithUnixPrefixAndEqualsForm) {
  const Result r = run_ctl(
      {"--reactor=" + GetParam(), "--control=unix:" + tor_->control_socket(), "GETINFO version"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(like(r.out, kVersionReply)) << r.out;
}

TEST_P(CtlTest, PipelinedCommandsPrintInOrder) {
  const Result r =
      run_ctl(tcp({"GETINFO version", "GETCONF DisableNetwork", "GETINFO net/listeners/control"}));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(like(r.out,
                   "250-version=*\n250 OK\n"
                   "250 DisableNetwork=1\n"
                   "250-net/listeners/control=\"127.0.0.1:#\"*\n250 OK\n"))
      << r.out;
}

TEST_P(CtlTest, ManyPipelinedCommandsKeepTheirOrder) {
  std::vector<std::string> cmds;
  std::string want;
  for (int i = 0; i < 40; ++i) {
    if (i % 2) {
      cmds.push_back("GETCONF SocksPort");
      want += "250 SocksPort=0\n";
    } else {
      cmds.push_back("GETCONF DisableNetwork");
      want += "250 DisableNetwork=1\n";
    }
  }
  const Result r = run_ctl(tcp(cmds));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, want);
}

TEST_P(CtlTest, DataBlockPrintedWithDotLine) {
  const Result r = run_ctl(tcp({"GETINFO config-text"}));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("250+config-text=\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\nDisableNetwork 1\n"), std::string::npos) << r.out;
  EXPECT_TRUE(r.out.ends_with("\n.\n250 OK\n")) << r.out;
  EXPECT_EQ(r.out.find('\r'), std::string::npos);
}

TEST_P(CtlTest, UnknownKeyPrintsTorsErrorAndExits1) {
  const Result r = run_ctl(tcp({"GETINFO no-such-key"}));
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(r.out, "552 Unrecognized key \"no-such-key\"\n");
}

TEST_P(CtlTest, ErrorInTheMiddleStillPrintsEverythingInOrder) {
  const Result r = run_ctl(tcp({"GETCONF SocksPort", "GETINFO no-such-key", "GETCONF SocksPort"}));
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(r.out, "250 SocksPort=0\n552 Unrecognized key \"no-such-key\"\n250 SocksPort=0\n");
}

TEST_P(CtlTest, EmbeddedNewlineIsRefusedAndNothingIsSent) {
  const Result r = run_ctl(tcp({"GETINFO version\nSIGNAL HALT"}));
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("refused"), std::string::npos) << r.err;
  // The HALT never reached tor.
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(tor_alive(tor_->pid()));
  const Result after = run_ctl(tcp({"GETINFO version"}));
  EXPECT_EQ(after.status, 0) << after.err;
}

TEST_P(CtlTest, OneBadCommandMeansNoConnectionAtAll) {
  FakeTor fake;
  const std::string where = "127.0.0.1:" + std::to_string(fake.port);
  const Result r =
      run_ctl({"--reactor", GetParam(), "--control", where, "GETINFO version", "SIGNAL HALT\rX"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("command 2"), std::string::npos) << r.err;
  EXPECT_FALSE(fake.connected_within(0ms));

  // A NUL cannot travel through argv: that case goes in through stdin.
  const Result nul = run_ctl({"--reactor", GetParam(), "--control", where},
                             std::string("GETINFO version\nGETINFO\0x\n", 26));
  EXPECT_EQ(nul.status, 2);
  EXPECT_NE(nul.err.find("NUL"), std::string::npos) << nul.err;
  EXPECT_FALSE(fake.connected_within(0ms));

  // The check above can see a connection: a good command does connect.
  Child good({"--reactor", GetParam(), "--control", where, "GETINFO version"}, Child::Mode::pipes);
  EXPECT_TRUE(fake.connected_within(10s));
}

TEST_P(CtlTest, CookieFileOption) {
  const Result r = run_ctl(tcp({"--cookie", tor_->cookie_path(), "GETINFO version"}));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(like(r.out, kVersionReply)) << r.out;
}

TEST_P(CtlTest, MissingCookieFileIsAnAuthenticationError) {
  const Result r = run_ctl(tcp({"--cookie", tor_->data_dir() + "/nope", "GETINFO version"}));
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("torcon-ctl: authentication failed: ", 0), 0u) << r.err;
}

TEST_P(CtlTest, EventsWithCount) {
  const Result r = run_ctl(tcp({"--events", "BW", "--count", "2"}));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(like(r.out, "650 BW # #*\n650 BW # #*\n")) << r.out;
}

// Subscribed first, so an event may come before the command's reply: both
// are printed, and the run ends once both the reply and --count events came.
TEST_P(CtlTest, CommandsAndEvents) {
  const Result r = run_ctl(tcp({"--events", "BW,CIRC", "--count", "1", "GETINFO version"}));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(like(r.out, "250-version=*\n250 OK\n650 BW # #*\n") ||
              like(r.out, "650 BW # #*\n250-version=*\n250 OK\n"))
      << r.out;
}

// --events subscribes before any COMMAND goes out, so the events a command
// causes are printed (sent before SETEVENTS, they would be lost and
// --count 1 would never be reached).
TEST_P(CtlTest, EventsCausedByTheCommandsArePrinted) {
  // The tor is shared by the tests: a value no other run has set, so that
  // SETCONF really changes it (an unchanged option sends no CONF_CHANGED).
  static int dirtiness = 1000;
  const std::string value =
      std::to_string(++dirtiness) + (GetParam() == std::string("epoll") ? "0" : "1");
  struct Case {
    std::string events, command, event_text;
  };
  for (const Case& c : {
           Case{"CONF_CHANGED", "SETCONF MaxCircuitDirtiness=" + value,
                "650-CONF_CHANGED\n650-MaxCircuitDirtiness=" + value + "\n650 OK\n"},
           Case{"SIGNAL", "SIGNAL CLEARDNSCACHE", "650 SIGNAL CLEARDNSCACHE\n"},
           Case{"CIRC,SIGNAL", "SIGNAL CLEARDNSCACHE", "650 SIGNAL CLEARDNSCACHE\n"},
       }) {
    const Result r = run_ctl(tcp({"--events", c.events, "--count", "1", c.command}));
    EXPECT_EQ(r.status, 0) << c.command << ": " << r.err;
    EXPECT_EQ(count(r.out, "250 OK\n"), 1u) << c.command << ": " << r.out;
    EXPECT_NE(r.out.find(c.event_text), std::string::npos) << c.command << ": " << r.out;
  }
}

TEST_P(CtlTest, UnknownEventExits1) {
  const Result r = run_ctl(tcp({"--events", "NO_SUCH_EVENT", "--count", "1"}));
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("552"), std::string::npos) << r.err;
}

TEST_P(CtlTest, SigintWhileWaitingForEventsExitsCleanly) {
  Child c(tcp({"--events", "BW"}), Child::Mode::pipes);
  ASSERT_TRUE(c.read_until("650 BW ")) << c.out << c.err;
  ::kill(c.pid(), SIGINT);
  EXPECT_EQ(c.wait(), 0) << c.err;
  EXPECT_EQ(c.out.rfind("650 BW ", 0), 0u) << c.out;
}

TEST_P(CtlTest, ClosedStdoutEndsTheEventStream) {
  Child c(tcp({"--events", "BW"}), Child::Mode::pipes);
  ASSERT_TRUE(c.read_until("650 BW ")) << c.out << c.err;
  c.close_stdout();
  EXPECT_EQ(c.wait(), 0) << c.err;
}

TEST_P(CtlTest, CommandsFromStdin) {
  const Result r = run_ctl(tcp({}), "GETCONF SocksPort\n\n# a comment\r\nGETINFO no-such-key\r\n");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(r.out, "250 SocksPort=0\n552 Unrecognized key \"no-such-key\"\n");
}

TEST_P(CtlTest, ConnectionRefused) {
  const Result r = run_ctl({"--reactor", GetParam(), "--control",
                            "127.0.0.1:" + std::to_string(closed_port()), "GETINFO version"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("torcon-ctl: cannot connect to 127.0.0.1:", 0), 0u) << r.err;
  EXPECT_EQ(count(r.err, "\n"), 1u) << r.err;  // one line, not one per command
}

TEST_P(CtlTest, ProtocolErrorExits2) {
  FakeTor fake;
  Child c({"--reactor", GetParam(), "--control", "127.0.0.1:" + std::to_string(fake.port),
           "GETINFO version"},
          Child::Mode::pipes);
  ASSERT_TRUE(fake.connected_within(10s, "hello, I am not tor\r\n"));
  EXPECT_EQ(c.wait(), 2);
  EXPECT_EQ(c.out, "");
  EXPECT_EQ(c.err.rfind("torcon-ctl: protocol error from tor: ", 0), 0u) << c.err;
}

TEST_P(CtlTest, ConnectionRefusedOnIpv6Loopback) {
  const Result r = run_ctl({"--reactor", GetParam(), "--control",
                            "[::1]:" + std::to_string(closed_port()), "GETINFO version"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.rfind("torcon-ctl: cannot connect to [::1]:", 0), 0u) << r.err;
}

TEST_P(CtlTest, QuitThenMoreCommandsIsAConnectionError) {
  const Result r = run_ctl(tcp({"QUIT", "GETINFO version"}));
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "250 closing connection\n");
  EXPECT_EQ(count(r.err, "\n"), 1u) << r.err;
}

// ---- interactive mode, on a pseudo-terminal -------------------------------

TEST_P(CtlTest, InteractiveCommandThenCtrlD) {
  Child c(tcp({}), Child::Mode::pty);
  ASSERT_TRUE(c.read_until("torcon> ")) << c.out;
  termios t{};
  ASSERT_EQ(::tcgetattr(c.pty(), &t), 0);
  EXPECT_EQ(t.c_lflag & (ICANON | ECHO), 0u) << "raw mode while prompting";
  c.type("GETINFO version\r");
  ASSERT_TRUE(c.read_until("250 OK")) << c.out;
  // Output lines end in CRLF on the terminal (OPOST stays on).
  const std::size_t reply = c.out.find("\r\n250-version=0.4");
  ASSERT_NE(reply, std::string::npos) << c.out;
  EXPECT_EQ(c.out.substr(c.out.find("\r\n", reply + 2), 10), "\r\n250 OK\r\n") << c.out;
  ASSERT_TRUE(c.read_until("torcon> ", 20s, c.out.find("250 OK")));
  c.type("\x04");
  EXPECT_EQ(c.wait(), 0) << c.out;
  // The terminal is back as it was.
  ASSERT_EQ(::tcgetattr(c.pty(), &t), 0);
  EXPECT_EQ(t.c_lflag & (ICANON | ECHO), ICANON | ECHO);
}

TEST_P(CtlTest, InteractiveLineEditing) {
  Child c(tcp({}), Child::Mode::pty);
  ASSERT_TRUE(c.read_until("torcon> ")) << c.out;
  std::size_t seen = 0;
  // Types `keys`, waits for `what` in the reply and the next prompt after it.
  auto send = [&](std::string_view keys, std::string_view what) {
    const std::size_t at = c.out.size();
    c.type(keys);
    ASSERT_TRUE(c.read_until(what, 20s, at)) << what << "\n" << c.out;
    ASSERT_TRUE(c.read_until("torcon> ", 20s, c.out.find(what, at))) << c.out;
    ++seen;
  };
  // Backspace, Home (two encodings), End.
  send("INFO versx\x7fion\x1b[HGET\x1b[F\r", "250-version=");
  send("NFO version\x1bOHGETI\x1bOF\r", "250-version=");
  // Left/right arrows: insert in the middle.
  send("GETCONF SocksPrt\x1b[D\x1b[D\x1b[D\x1b[Co\x1b[C\x1b[C\r", "250 SocksPort=0");
  // History (repeats stored once): [GETINFO, GETCONF], then [.., GETINFO].
  send("\x1b[A\x1b[A\r", "250-version=");
  send("\x1b[A\x1b[A\x1b[A\x1b[B\r", "250 SocksPort=0");
  // Ctrl-U wipes, Delete removes under the cursor.
  send("junk\x15GETCONF SocksXPort\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[3~\r", "250 SocksPort=0");
  // tor's error shows, the session goes on.
  send("GETINFO no-such-key\r", "552 Unrecognized key");
  c.type("QUIT\r");
  ASSERT_TRUE(c.read_until("250 closing connection")) << c.out;
  EXPECT_EQ(c.wait(), 0) << c.out;
  EXPECT_EQ(seen, 7u);
}

TEST_P(CtlTest, InteractiveEventsArriveWhilePrompting) {
  Child c(tcp({"--events", "BW"}), Child::Mode::pty);
  ASSERT_TRUE(c.read_until("torcon> ")) << c.out;
  c.type("GETINFO");  // half a line: the event must not eat it
  ASSERT_TRUE(c.read_until("650 BW ", 20s)) << c.out;
  ASSERT_TRUE(c.read_until("torcon> GETINFO", 20s, c.out.find("650 BW "))) << c.out;
  c.type(" version\r");
  ASSERT_TRUE(c.read_until("250-version=")) << c.out;
  c.type("\x03");  // Ctrl-C exits too
  EXPECT_EQ(c.wait(), 0) << c.out;
}

TEST_P(CtlTest, InteractiveSigtermRestoresTheTerminal) {
  Child c(tcp({}), Child::Mode::pty);
  ASSERT_TRUE(c.read_until("torcon> ")) << c.out;
  c.type("GETINFO ver");
  ::kill(c.pid(), SIGTERM);
  EXPECT_EQ(c.wait(), 0) << c.out;
  termios t{};
  ASSERT_EQ(::tcgetattr(c.pty(), &t), 0);
  EXPECT_EQ(t.c_lflag & (ICANON | ECHO | ISIG), ICANON | ECHO | ISIG);
}

TEST_P(CtlTest, InteractiveTypeaheadWhileWaiting) {
  Child c(tcp({}), Child::Mode::pty);
  ASSERT_TRUE(c.read_until("torcon> ")) << c.out;
  // The second line arrives before the first reply: it waits its turn.
  c.type("GETCONF SocksPort\rGETINFO version\r");
  ASSERT_TRUE(c.read_until("250-version=")) << c.out;
  EXPECT_LT(c.out.find("250 SocksPort=0"), c.out.find("250-version=")) << c.out;
  c.type("\x04");
  EXPECT_EQ(c.wait(), 0) << c.out;
}

TEST_P(CtlTest, InteractiveConnectionErrorExits2) {
  Child c({"--reactor", GetParam(), "--control", "127.0.0.1:" + std::to_string(closed_port())},
          Child::Mode::pty);
  EXPECT_EQ(c.wait(), 2) << c.out;
  EXPECT_NE(c.out.find("torcon-ctl: cannot connect to"), std::string::npos) << c.out;
}

// ---- tor going away --------------------------------------------------------

class CtlTorDiesTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { skip_unavailable_backend(GetParam()); }
};

TEST_P(CtlTorDiesTest, WhileWaitingForEvents) {
  TorProcess tor;
  ASSERT_TRUE(tor.ok()) << tor.error();
  Child c({"--reactor", GetParam(), "--control", tor.control_socket(), "--events", "BW"},
          Child::Mode::pipes);
  ASSERT_TRUE(c.read_until("650 BW ")) << c.out << c.err;
  tor.kill_now(SIGKILL);
  EXPECT_EQ(c.wait(), 2);
  EXPECT_EQ(c.err.rfind("torcon-ctl: connection to tor lost: ", 0), 0u) << c.err;
}

TEST_P(CtlTorDiesTest, InteractiveRestoresTheTerminal) {
  TorProcess tor;
  ASSERT_TRUE(tor.ok()) << tor.error();
  Child c({"--reactor", GetParam(), "--control", tor.control_socket()}, Child::Mode::pty);
  ASSERT_TRUE(c.read_until("torcon> ")) << c.out;
  tor.kill_now(SIGKILL);
  EXPECT_EQ(c.wait(), 2) << c.out;
  EXPECT_NE(c.out.find("torcon-ctl: connection to tor lost: "), std::string::npos) << c.out;
  termios t{};
  ASSERT_EQ(::tcgetattr(c.pty(), &t), 0);
  EXPECT_EQ(t.c_lflag & (ICANON | ECHO), ICANON | ECHO);
}

TEST_P(CtlTorDiesTest, ReconnectKeepsPrintingEventsAcrossATorRestart) {
  auto tor = std::make_unique<TorProcess>();
  ASSERT_TRUE(tor->ok()) << tor->error();
  const int port = tor->control_port();
  Child c({"--reactor", GetParam(), "--control", "127.0.0.1:" + std::to_string(port), "--reconnect",
           "--events", "BW"},
          Child::Mode::pipes);
  ASSERT_TRUE(c.read_until("650 BW ")) << c.out << c.err;
  tor->kill_now(SIGKILL);
  tor.reset();
  TorOptions same_port;
  same_port.control_port = port;
  TorProcess restarted(same_port);
  ASSERT_TRUE(restarted.ok()) << restarted.error();
  const std::size_t before = c.out.size();
  ASSERT_TRUE(c.read_until("650 BW ", 30s, before)) << c.err;
  EXPECT_NE(c.err.find("torcon-ctl: connection to tor lost: "), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("torcon-ctl: reconnecting to 127.0.0.1:" + std::to_string(port) + " in "),
            std::string::npos)
      << c.err;
  EXPECT_NE(c.err.find("torcon-ctl: reconnected to 127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << c.err;
  ::kill(c.pid(), SIGTERM);
  EXPECT_EQ(c.wait(), 0) << c.err;
}

TEST_P(CtlTorDiesTest, TimeoutEndsAHandshakeNobodyAnswersWithStatus2) {
  FakeTor silent;  // accepts (the kernel does) and never says a word
  const auto t0 = std::chrono::steady_clock::now();
  const Result r = run_ctl({"--reactor", GetParam(), "--timeout", "0.3", "--control",
                            "127.0.0.1:" + std::to_string(silent.port), "GETINFO version"});
  EXPECT_EQ(r.status, 2);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(r.err.rfind("torcon-ctl: cannot connect to 127.0.0.1:", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("within 300 ms"), std::string::npos) << r.err;
}

TEST(CtlOptionsTest, BadTimeoutValuesAreUsageErrors) {
  for (const char* v : {"0", "-1", "abc", "1.", ".", "1.2345", "", "999999"}) {
    SCOPED_TRACE(v);
    const Result r = run_ctl({"--timeout", v, "GETINFO version"});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("--timeout"), std::string::npos) << r.err;
  }
}

// ---- against a password-protected tor --------------------------------------

struct PasswordTor {
  static TorOptions options() {
    TorOptions o;
    o.cookie_auth = false;
    o.unix_socket = false;
    o.hashed_password = TorProcess::hash_password("correct-horse");
    return o;
  }
};

class CtlPasswordTest : public SharedTorTest<PasswordTor> {};

TEST_P(CtlPasswordTest, RightPassword) {
  const Result r = run_ctl(tcp({"--password", "correct-horse", "GETINFO version"}));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(like(r.out, kVersionReply)) << r.out;
}

TEST_P(CtlPasswordTest, WrongPassword) {
  const Result r = run_ctl(tcp({"--password", "wrong", "GETINFO version"}));
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("torcon-ctl: authentication failed (tor replied 515): ", 0), 0u) << r.err;
  EXPECT_EQ(count(r.err, "\n"), 1u) << r.err;
}

TEST_P(CtlPasswordTest, NoPassword) {
  const Result r = run_ctl(tcp({"GETINFO version"}));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("password"), std::string::npos) << r.err;
}

// Named for the reactor (CtlTest.X/uring), so a skip says which.
const auto kReactorName = [](const auto& info) { return info.param; };
INSTANTIATE_TEST_SUITE_P(Reactors, CtlTest, ::testing::Values("epoll", "uring"), kReactorName);
INSTANTIATE_TEST_SUITE_P(Reactors, CtlPasswordTest, ::testing::Values("epoll", "uring"),
                         kReactorName);
INSTANTIATE_TEST_SUITE_P(Reactors, CtlTorDiesTest, ::testing::Values("epoll", "uring"),
                         kReactorName);

// ---- the event-loop backend where io_uring is refused ------------------------

// io_uring asked for by name (--reactor, or $TORCON_REACTOR without it) is an
// error when the kernel refuses it, never a quiet epoll; everything else
// still connects. The child runs under a seccomp filter that answers
// io_uring_setup with EPERM.
TEST(CtlBackend, RefusedIoUringIsAnErrorOnlyWhenAskedFor) {
  struct Case {
    std::vector<std::string> flags;
    const char* env;  // TORCON_REACTOR, nullptr: unset
    const char* err;  // expected start of stderr, nullptr: it connects
  };
  const std::string refused = "torcon-ctl: cannot start the event loop: io_uring requested (";
  const std::string why = ") but unavailable: io_uring_setup: Operation not permitted";
  const std::string by_flag = refused + "ReactorOptions::backend" + why;
  const std::string by_env = refused + "TORCON_REACTOR=uring" + why;
  for (const Case& c : std::vector<Case>{
           {{"--reactor", "uring"}, nullptr, by_flag.c_str()},
           {{"--reactor=uring"}, "epoll", by_flag.c_str()},
           {{}, "uring", by_env.c_str()},
           {{"--reactor", "epoll"}, "uring", nullptr},
           {{}, nullptr, nullptr},
           {{}, "epoll", nullptr},
       }) {
    const std::string label =
        ::testing::PrintToString(c.flags) + " TORCON_REACTOR=" + (c.env ? c.env : "(unset)");
    FakeTor fake;
    std::vector<std::string> args = c.flags;
    for (const std::string& a : {std::string("--control"), "127.0.0.1:" + std::to_string(fake.port),
                                 std::string("GETINFO version")})
      args.push_back(a);
    Child child(args, Child::Mode::pipes, {}, [env = c.env] {
      if (env)
        ::setenv("TORCON_REACTOR", env, 1);
      else
        ::unsetenv("TORCON_REACTOR");
      if (!torcon::testing::refuse_io_uring(EPERM)) ::_exit(125);
    });
    if (c.err) {
      EXPECT_EQ(child.wait(10s), 2) << label << "\n" << child.err;
      EXPECT_EQ(child.err.rfind(c.err, 0), 0u) << label << "\n" << child.err;
      EXPECT_EQ(count(child.err, "\n"), 1u) << label << "\n" << child.err;
      EXPECT_EQ(child.out, "") << label;
      EXPECT_FALSE(fake.connected_within(0ms)) << label;
    } else {
      EXPECT_TRUE(fake.connected_within(10s)) << label << "\n" << child.err;
    }
  }
}

// ---- usage (no tor needed) --------------------------------------------------

TEST(CtlUsage, HelpExits0) {
  const Result r = run_ctl({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out.rfind("usage: torcon-ctl", 0), 0u) << r.out;
}

TEST(CtlUsage, VersionIsTheProjectVersion) {
  const Result r = run_ctl({"--version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "torcon-ctl " TORCON_VERSION_STRING "\n");
}

TEST(CtlUsage, HelpSaysEventsComeFirst) {
  const Result r = run_ctl({"--help"});
  EXPECT_NE(r.out.find("sent only once tor has accepted the"), std::string::npos) << r.out;
}

TEST(CtlUsage, BadUsageExits2) {
  for (const std::vector<std::string>& a : std::vector<std::vector<std::string>>{
           {"--bogus"},
           {"--control"},
           {"--control", "localhost:9051"},
           {"--control", "::1:9051"},
           {"--control", "127.0.0.1:99999"},
           {"--reactor", "kqueue"},
           {"--count", "2", "GETINFO version"},
           {"--events", "BW,", "--count", "1"},
           {"--events", "BW", "--count", "0"},
           {"--password", "x", "--cookie", "/tmp/c"},
       }) {
    const Result r = run_ctl(a);
    EXPECT_EQ(r.status, 2) << a[0];
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.rfind("torcon-ctl: ", 0), 0u) << r.err;
  }
}

}  // namespace
