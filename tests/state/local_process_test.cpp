// process_from_address(): SOURCE_ADDR parsing, /proc/net/tcp lines, a
// made-up proc tree (vanished processes, unreadable descriptors, tor's own
// pid) and real sockets of this process on 127.0.0.1 and ::1.

#include "torcon/local_process.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "parser/test_printers.hpp"
#include "proc_net_tcp.hpp"

namespace {

namespace fs = std::filesystem;
using torcon::Errc;

// ---- parse_source_address ------------------------------------------------------

struct ParseCase {
  std::string text;
  bool ok;
  std::string ip;
  std::uint16_t port;
  bool internal;
};

class ParseSourceAddress : public ::testing::TestWithParam<ParseCase> {};

TEST_P(ParseSourceAddress, Case) {
  const ParseCase& c = GetParam();
  const auto r = torcon::parse_source_address(c.text);
  ASSERT_EQ(r.ok(), c.ok) << (r ? "parsed" : r.error().message);
  if (!c.ok) {
    EXPECT_EQ(r.error().code, Errc::bad_argument);
    EXPECT_NE(r.error().message.find("malformed source address"), std::string::npos);
    return;
  }
  EXPECT_EQ(r->ip, c.ip);
  EXPECT_EQ(r->port, c.port);
  EXPECT_EQ(r->internal, c.internal);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseSourceAddress,
    ::testing::Values(
        ParseCase{"127.0.0.1:4000", true, "127.0.0.1", 4000, false},
        ParseCase{"192.0.2.7:65535", true, "192.0.2.7", 65535, false},
        ParseCase{"[::1]:4000", true, "::1", 4000, false},
        ParseCase{"[2001:db8::5]:1", true, "2001:db8::5", 1, false},
        ParseCase{"[::ffff:127.0.0.1]:80", true, "::ffff:127.0.0.1", 80, false},
        ParseCase{"::1:4000", true, "::1", 4000, false},  // tor's bare form
        ParseCase{"(Tor_internal)", true, "", 0, true}, ParseCase{"", false, "", 0, false},
        ParseCase{"127.0.0.1", false, "", 0, false}, ParseCase{"127.0.0.1:", false, "", 0, false},
        ParseCase{"127.0.0.1:0", false, "", 0, false},
        ParseCase{"127.0.0.1:65536", false, "", 0, false},
        ParseCase{"127.0.0.1:+80", false, "", 0, false},
        ParseCase{"127.0.0.1:80x", false, "", 0, false},
        ParseCase{"127.0.0.1:-1", false, "", 0, false},
        ParseCase{"localhost:80", false, "", 0, false},
        ParseCase{"127.0.0.256:80", false, "", 0, false}, ParseCase{"[::1:80", false, "", 0, false},
        ParseCase{"[::1]80", false, "", 0, false}, ParseCase{"[127.0.0.1]:80", false, "", 0, false},
        ParseCase{"[fe80::1%lo]:80", false, "", 0, false},
        ParseCase{std::string("127.0.0.1\0:80", 13), false, "", 0, false},
        ParseCase{"127.0.0.1:80\r\n", false, "", 0, false},
        ParseCase{"(Tor_internal):1", false, "", 0, false}));

// ---- /proc/net/tcp lines ---------------------------------------------------------

struct LineCase {
  std::string line;
  bool ok;
  std::string ip;  // inet_ntop of the local address
  std::uint16_t port;
  unsigned state, uid;
  std::uint64_t inode;
};

std::string ntop(const torcon::detail::TcpSocketEntry& e) {
  char buf[INET6_ADDRSTRLEN];
  return inet_ntop(e.v6 ? AF_INET6 : AF_INET, e.local.data(), buf, sizeof buf);
}

class ProcNetTcpLine : public ::testing::TestWithParam<LineCase> {};

TEST_P(ProcNetTcpLine, Case) {
  const LineCase& c = GetParam();
  const auto e = torcon::detail::parse_tcp_socket_line(c.line);
  ASSERT_EQ(e.has_value(), c.ok);
  if (!e) return;
  EXPECT_EQ(ntop(*e), c.ip);
  EXPECT_EQ(e->local_port, c.port);
  EXPECT_EQ(e->state, c.state);
  EXPECT_EQ(e->uid, c.uid);
  EXPECT_EQ(e->inode, c.inode);
}

// The address words are written as the kernel writes them on this host: the
// in-memory bytes read as a native integer. On little-endian hosts
// (everything this runs on) 127.0.0.1 is 0100007F.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the table below is little-endian");

INSTANTIATE_TEST_SUITE_P(
    Table, ProcNetTcpLine,
    ::testing::Values(
        LineCase{"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   "
                 "uid  timeout inode",
                 false, "", 0, 0, 0, 0},
        LineCase{"   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   "
                 "109        0 23456 1 0000000000000000 100 0 0 10 0",
                 true, "127.0.0.1", 3306, 10, 109, 23456},
        LineCase{"  12: 0702000C:9C40 0100007F:2352 01 00000000:00000000 00:00000000 00000000     "
                 "0        0 99 1 0000000000000000 20 4 30 10 -1",
                 true, "12.0.2.7", 40000, 1, 0, 99},
        LineCase{"   1: 00000000000000000000000001000000:1F90 "
                 "00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 "
                 "00000000  1000        0 777 1 0000000000000000 100 0 0 10 0",
                 true, "::1", 8080, 10, 1000, 777},
        LineCase{"   2: 0000000000000000FFFF00000100007F:0050 "
                 "0000000000000000FFFF00000100007F:9C40 01 00000000:00000000 00:00000000 "
                 "00000000     0        0 4242 1 0000000000000000 20 4 30 10 -1",
                 true, "::ffff:127.0.0.1", 80, 1, 0, 4242},
        LineCase{"   3: 0100007F:0CEA 00000000:0000 06 00000000:00000000 03:00000F3C 00000000     "
                 "0        0 0 3 0000000000000000",
                 true, "127.0.0.1", 3306, 6, 0, 0},  // TIME_WAIT: no inode
        LineCase{"   0: 0100007G:0CEA 00000000:0000 0A 0:0 00:0 0 0 0 1", false, "", 0, 0, 0, 0},
        LineCase{"   0: 0100007F:CEA 00000000:0000 0A 0:0 00:0 0 0 0 1", false, "", 0, 0, 0, 0},
        LineCase{"   0: 0100007F0CEA 00000000:0000 0A 0:0 00:0 0 0 0 1", false, "", 0, 0, 0, 0},
        LineCase{"   0: 100007F:0CEA 00000000:0000 0A 0:0 00:0 0 0 0 1", false, "", 0, 0, 0, 0},
        LineCase{"   0: 0100007F:0CEA 00000000:0000 0A 0:0 00:0 0 x 0 1", false, "", 0, 0, 0, 0},
        LineCase{"   0: 0100007F:0CEA 00000000:0000 0A 0:0 00:0 0 0 0", false, "", 0, 0, 0, 0},
        LineCase{"   0: 0100007F:0CEA", false, "", 0, 0, 0, 0},
        LineCase{"", false, "", 0, 0, 0, 0}));

// ---- a made-up proc tree ---------------------------------------------------------

std::string v4_line(const char* hex_addr, unsigned port, unsigned state, unsigned uid,
                    unsigned long inode) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "   0: %s:%04X 0100007F:2352 %02X 00000000:00000000 00:00000000 00000000 %5u "
                "       0 %lu 1 0000000000000000 20 4 30 10 -1\n",
                hex_addr, port, state, uid, inode);
  return buf;
}

class FakeProc : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/torcon-fakeproc-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    fs::create_directories(root_ + "/net");
    std::ofstream tcp(root_ + "/net/tcp");
    tcp << "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
           "timeout inode\n"
        << v4_line("0100007F", 40000, 1, 1000, 555)   // 127.0.0.1:40000, held by 100
        << v4_line("0100007F", 40001, 1, 1000, 556)   // held by nobody any more
        << v4_line("0100007F", 40002, 1, 1000, 557)   // held by 102, which has no fd dir
        << v4_line("0100007F", 40003, 6, 1000, 0)     // TIME_WAIT
        << v4_line("0100007F", 40004, 10, 0, 600)     // a listener on the same address
        << v4_line("0100007F", 40004, 1, 1000, 601);  // and a connection: preferred
    std::ofstream tcp6(root_ + "/net/tcp6");
    tcp6 << "  sl  local_address                         remote_address                        "
            "st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
         << "   0: 00000000000000000000000001000000:9C50 00000000000000000000000001000000:2352 "
            "01 00000000:00000000 00:00000000 00000000  1000        0 700 1 0 20 4 30 10 -1\n"
         << "   1: 0000000000000000FFFF00000100007F:9C60 0000000000000000FFFF00000100007F:2352 "
            "01 00000000:00000000 00:00000000 00000000  1000        0 701 1 0 20 4 30 10 -1\n";
    process("100", "/usr/bin/fake-client", std::string("fake-client\0--flag\0x y\0", 23),
            {"socket:[555]", "socket:[700]", "socket:[701]", "/dev/null", "socket:[600]"});
    process("101", "/usr/bin/other", std::string("other\0", 6), {"socket:[1]", "socket:[601]"});
    fs::create_directories(root_ + "/102");  // exited: its fd directory is gone
    std::ofstream(root_ + "/102/cmdline");
    fs::create_directories(root_ + "/self");  // not a pid: ignored
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(root_ + "/101/fd", fs::perms::owner_all, ec);
    fs::remove_all(root_, ec);
  }
  void process(const std::string& pid, const std::string& exe, const std::string& cmdline,
               const std::vector<std::string>& fds) {
    const std::string dir = root_ + "/" + pid;
    fs::create_directories(dir + "/fd");
    fs::create_symlink(exe, dir + "/exe");
    std::ofstream(dir + "/cmdline", std::ios::binary) << cmdline;
    for (std::size_t i = 0; i < fds.size(); ++i)
      fs::create_symlink(fds[i], dir + "/fd/" + std::to_string(i + 3));
  }
  torcon::LocalProcessOptions options() const {
    torcon::LocalProcessOptions o;
    o.proc_root = root_;
    return o;
  }
  std::string root_;
};

TEST_F(FakeProc, FindsTheOwnerOfAnIPv4Socket) {
  const auto p = torcon::process_from_address("127.0.0.1:40000", options());
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->pid, 100u);
  EXPECT_EQ(p->executable, "/usr/bin/fake-client");
  EXPECT_EQ(p->command_line, (std::vector<std::string>{"fake-client", "--flag", "x y"}));
  EXPECT_EQ(p->socket_inode, 555u);
}

TEST_F(FakeProc, FindsAnIPv6SocketAndAnIPv4OneOpenedThroughIPv6) {
  const auto v6 = torcon::process_from_address("[::1]:40016", options());
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_EQ(v6->socket_inode, 700u);
  const auto mapped = torcon::process_from_address("127.0.0.1:40032", options());
  ASSERT_TRUE(mapped) << mapped.error().message;
  EXPECT_EQ(mapped->pid, 100u);
  EXPECT_EQ(mapped->socket_inode, 701u);
}

TEST_F(FakeProc, PrefersTheConnectionToAListenerOnTheSameAddress) {
  const auto p = torcon::process_from_address("127.0.0.1:40004", options());
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->pid, 101u);
  EXPECT_EQ(p->socket_inode, 601u);
}

struct NotFoundCase {
  std::string address, says;
};

TEST_F(FakeProc, SaysNotFoundAndWhy) {
  for (const NotFoundCase& c : {
           NotFoundCase{"127.0.0.1:40001", "no process holds"},  // socket without owner
           NotFoundCase{"127.0.0.1:40002", "no process holds"},  // owner exited mid-scan
           NotFoundCase{"127.0.0.1:40003", "no TCP socket"},     // TIME_WAIT
           NotFoundCase{"127.0.0.1:41000", "no TCP socket"},
           NotFoundCase{"127.0.0.2:40000", "no TCP socket"},
           NotFoundCase{"[::1]:40000", "no TCP socket"},  // IPv4's port, IPv6's table
           NotFoundCase{"(Tor_internal)", "tor's pid is not known"},
       }) {
    const auto p = torcon::process_from_address(c.address, options());
    ASSERT_FALSE(p) << c.address;
    EXPECT_EQ(p.error().code, Errc::not_found) << c.address;
    EXPECT_NE(p.error().message.find(c.says), std::string::npos)
        << c.address << ": " << p.error().message;
  }
}

TEST_F(FakeProc, TorInternalIsTorsOwnProcess) {
  auto o = options();
  o.tor_pid = 101;
  const auto p = torcon::process_from_address("(Tor_internal)", o);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->pid, 101u);
  EXPECT_EQ(p->executable, "/usr/bin/other");
  EXPECT_EQ(p->command_line, std::vector<std::string>{"other"});
  o.tor_pid = 4242;  // exited
  const auto gone = torcon::process_from_address("(Tor_internal)", o);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, Errc::not_found);
}

TEST_F(FakeProc, MalformedAddressAndMissingProcAreErrorsNotCrashes) {
  const auto bad = torcon::process_from_address("127.0.0.1:99999", options());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::bad_argument);
  auto o = options();
  o.proc_root = root_ + "/nonexistent";
  const auto none = torcon::process_from_address("127.0.0.1:40000", o);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, Errc::io);
  EXPECT_NE(none.error().message.find("nonexistent"), std::string::npos) << none.error().message;
}

// Runs `look` in a child that has given up root for nobody (65534); the
// child's exit code is the Errc it got (0: found). The child closes
// `inherited` first: a copy of the socket would make it the owner.
template <class Look>
int as_nobody(Look look, std::initializer_list<int> inherited = {}) {
  const pid_t pid = fork();
  if (pid == 0) {
    for (int fd : inherited) close(fd);
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(100);
    const auto p = look();
    _exit(p ? 0 : int(p.error().code));
  }
  int ws = 0;
  waitpid(pid, &ws, 0);
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : 200;
}

TEST_F(FakeProc, UnreadableDescriptorsAreNotPermittedNotNotFound) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to take on another user";
  // Only 101, unreadable now, could hold 127.0.0.1:40001's socket.
  fs::permissions(root_ + "/101/fd", fs::perms::none);
  fs::permissions(root_, fs::perms::all);
  const auto o = options();
  EXPECT_EQ(as_nobody([&] { return torcon::process_from_address("127.0.0.1:40001", o); }),
            int(Errc::not_permitted));
  // What nobody can read is still found.
  EXPECT_EQ(as_nobody([&] { return torcon::process_from_address("127.0.0.1:40000", o); }), 0);
}

// ---- real sockets of this process ---------------------------------------------

struct Connected {
  int listener = -1, client = -1, server = -1;
  std::string client_address;  // as tor would write SOURCE_ADDR
  ~Connected() {
    for (int fd : {listener, client, server})
      if (fd >= 0) close(fd);
  }
};

// A loopback connection within this process; client_address is the
// client's end.
void connect_loopback(int family, Connected& c) {
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    len = sizeof *a;
  }
  c.listener = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(c.listener, 0);
  ASSERT_EQ(bind(c.listener, reinterpret_cast<sockaddr*>(&ss), len), 0) << std::strerror(errno);
  ASSERT_EQ(listen(c.listener, 1), 0);
  ASSERT_EQ(getsockname(c.listener, reinterpret_cast<sockaddr*>(&ss), &len), 0);
  c.client = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(c.client, 0);
  ASSERT_EQ(connect(c.client, reinterpret_cast<sockaddr*>(&ss), len), 0) << std::strerror(errno);
  c.server = accept4(c.listener, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(c.server, 0);
  sockaddr_storage local{};
  socklen_t llen = sizeof local;
  ASSERT_EQ(getsockname(c.client, reinterpret_cast<sockaddr*>(&local), &llen), 0);
  char buf[INET6_ADDRSTRLEN];
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&local);
    c.client_address = std::string(inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf)) + ":" +
                       std::to_string(ntohs(a->sin_port));
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&local);
    c.client_address = "[" + std::string(inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf)) +
                       "]:" + std::to_string(ntohs(a->sin6_port));
  }
}

std::string self_exe() { return fs::read_symlink("/proc/self/exe").string(); }

class OwnSocket : public ::testing::TestWithParam<int> {};

TEST_P(OwnSocket, IsFoundWithThisProcessAndTheSocketsInode) {
  Connected c;
  connect_loopback(GetParam(), c);
  if (HasFatalFailure()) return;
  const auto p = torcon::process_from_address(c.client_address);
  ASSERT_TRUE(p) << c.client_address << ": " << p.error().message;
  EXPECT_EQ(p->pid, std::uint64_t(getpid()));
  EXPECT_EQ(p->executable, self_exe());
  ASSERT_FALSE(p->command_line.empty());
  EXPECT_NE(p->command_line[0].find("local_process_test"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(fstat(c.client, &st), 0);
  EXPECT_EQ(p->socket_inode, std::uint64_t(st.st_ino));
}

INSTANTIATE_TEST_SUITE_P(Families, OwnSocket, ::testing::Values(AF_INET, AF_INET6),
                         [](const auto& info) { return info.param == AF_INET ? "IPv4" : "IPv6"; });

TEST(OwnSocketGone, AClosedPortIsNotFound) {
  std::string address;
  {
    Connected c;
    connect_loopback(AF_INET, c);
    if (HasFatalFailure()) return;
    address = c.client_address;
    ASSERT_TRUE(torcon::process_from_address(address));
    // Closed with a reset: no TIME_WAIT entry lingers in the table.
    linger l{1, 0};
    setsockopt(c.client, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  const auto p = torcon::process_from_address(address);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, Errc::not_found) << p.error().message;
}

TEST(OwnSocketAsNobody, IsNotPermitted) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to take on another user";
  Connected c;
  connect_loopback(AF_INET, c);
  if (HasFatalFailure()) return;
  const std::string address = c.client_address;
  EXPECT_EQ(as_nobody([&] { return torcon::process_from_address(address); },
                      {c.client, c.server, c.listener}),
            int(Errc::not_permitted));
}

}  // namespace
