// Sockets on both backends, against peers the tests create themselves on
// 127.0.0.1, ::1 and Unix sockets only.
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/reactor_backend.hpp"
#include "torcon/reactor.hpp"

namespace torcon {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int count_open_fds() {
  int n = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  while (dirent* e = ::readdir(dir)) n += e->d_name[0] != '.';
  ::closedir(dir);
  return n - 1;  // the DIR's own fd
}

// A listening socket owned by the test (the peer side, blocking I/O).
class Listener {
 public:
  static std::optional<Listener> tcp(const char* address, int backlog = 16) {
    Listener l;
    bool v6 = std::strchr(address, ':') != nullptr;
    l.fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss{};
    socklen_t len;
    if (v6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      ::inet_pton(AF_INET6, address, &a->sin6_addr);
      len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      ::inet_pton(AF_INET, address, &a->sin_addr);
      len = sizeof *a;
    }
    if (::bind(l.fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) return std::nullopt;
    if (backlog >= 0 && ::listen(l.fd_, backlog) != 0) return std::nullopt;
    ::getsockname(l.fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    l.endpoint_ = Endpoint::tcp(address, ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                                  : reinterpret_cast<sockaddr_in*>(&ss)->sin_port));
    return l;
  }

  static std::optional<Listener> unix_socket() {
    Listener l;
    char dir[] = "/tmp/torcon-reactor-test-XXXXXX";
    if (!::mkdtemp(dir)) return std::nullopt;
    l.dir_ = dir;
    std::string path = l.dir_ + "/control";
    l.fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strcpy(a.sun_path, path.c_str());
    if (::bind(l.fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l.fd_, 16) != 0) {
      return std::nullopt;
    }
    l.endpoint_ = Endpoint::unix_socket(path);
    return l;
  }

  Listener() = default;
  Listener(Listener&& o) noexcept
      : fd_(std::exchange(o.fd_, -1)), endpoint_(o.endpoint_), dir_(std::exchange(o.dir_, "")) {}
  ~Listener() {
    if (fd_ >= 0) ::close(fd_);
    if (!dir_.empty()) {
      ::unlink((dir_ + "/control").c_str());
      ::rmdir(dir_.c_str());
    }
  }

  // Blocks up to 5 s; -1 if nobody came.
  int accept() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return -1;
    return ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  }
  const Endpoint& endpoint() const { return endpoint_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  Endpoint endpoint_;
  std::string dir_;
};

// Records everything a socket reports.
struct Recorder : SocketHandler {
  std::vector<char> buffer = std::vector<char>(64 * 1024);
  std::string received;
  int closes = 0;
  Error close_reason;
  int writables = 0;
  std::function<void()> after_read;
  std::function<void()> after_close;
  std::function<void()> when_writable;

  std::span<char> read_space() override { return buffer; }
  void on_read(std::size_t n) override {
    received.append(buffer.data(), n);
    if (after_read) after_read();
  }
  void on_close(const Error& why) override {
    ++closes;
    close_reason = why;
    if (after_close) after_close();
  }
  void on_writable() override {
    ++writables;
    if (when_writable) when_writable();
  }
};

// Writes as the test's peer. MSG_NOSIGNAL: if the reactor's side is already
// closed, the write fails (and the assertion on it with it) instead of
// SIGPIPE killing the whole test binary.
ssize_t peer_send(int fd, std::string_view bytes) {
  return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
}

std::string read_exactly(int fd, std::size_t n) {
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) break;
    ssize_t r = ::read(fd, out.data() + got, n - got);
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  out.resize(got);
  return out;
}

// On each backend (support/reactor_backend.hpp: io_uring skips where refused).
class SocketTest : public testing::BackendTest {
 public:
  // Connects and runs until the outcome; returns it.
  Status connect(Socket& socket, const Endpoint& where, SocketHandler& handler,
                 ConnectOptions options = {}) {
    std::optional<Status> outcome;
    socket = reactor_->connect(
        where, handler, [&](const Status& st) { outcome = st; }, options);
    EXPECT_FALSE(outcome.has_value()) << "connect must report from the loop, not inline";
    if (!run_until([&] { return outcome.has_value(); }, 10s)) {
      return Error(Errc::timeout, "test: no connect outcome");
    }
    return *outcome;
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, SocketTest, testing::kBothBackends, testing::backend_name);

void round_trip(SocketTest& t, Socket& socket, Recorder& rec, int peer) {
  ASSERT_EQ(peer_send(peer, "hello"), 5);
  ASSERT_TRUE(t.run_until([&] { return rec.received.size() == 5; }));
  EXPECT_EQ(rec.received, "hello");
  ASSERT_TRUE(socket.write("ping\r\n"));
  EXPECT_EQ(socket.queued_bytes(), 6u);  // queued, leaves at the end of the iteration
  t.reactor_->run_once(0ms);
  EXPECT_EQ(read_exactly(peer, 6), "ping\r\n");
  EXPECT_EQ(socket.queued_bytes(), 0u);
}

TEST_P(SocketTest, TcpConnectIPv4SetsNoDelayAndRoundTrips) {
  auto listener = Listener::tcp("127.0.0.1");
  ASSERT_TRUE(listener);
  Recorder rec;
  Socket socket;
  Status st = connect(socket, listener->endpoint(), rec);
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_TRUE(socket.is_connected());
  int nodelay = 0;
  socklen_t len = sizeof nodelay;
  ASSERT_EQ(::getsockopt(socket.fd(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
  EXPECT_NE(nodelay, 0);
  int peer = listener->accept();
  ASSERT_GE(peer, 0);
  round_trip(*this, socket, rec, peer);
  ::close(peer);
  ASSERT_TRUE(run_until([&] { return rec.closes == 1; }));
  EXPECT_EQ(rec.close_reason.code, Errc::disconnected);
}

// Connects to `listener`, then bytes both ways.
void connect_and_round_trip(SocketTest& t, Listener& listener) {
  Recorder rec;
  Socket socket;
  Status st = t.connect(socket, listener.endpoint(), rec);
  ASSERT_TRUE(st) << st.error().message;
  int peer = listener.accept();
  ASSERT_GE(peer, 0);
  round_trip(t, socket, rec, peer);
  ::close(peer);
}

TEST_P(SocketTest, TcpConnectIPv6) {
  auto listener = Listener::tcp("::1");
  if (!listener) GTEST_SKIP() << "no IPv6 loopback here";
  connect_and_round_trip(*this, *listener);
}

TEST_P(SocketTest, UnixSocketConnect) {
  auto listener = Listener::unix_socket();
  ASSERT_TRUE(listener);
  connect_and_round_trip(*this, *listener);
}

TEST_P(SocketTest, ConnectRefusedIsAClearError) {
  // Bound but not listening: the kernel answers the SYN with a reset.
  auto bound = Listener::tcp("127.0.0.1", /*backlog=*/-1);
  ASSERT_TRUE(bound);
  Recorder rec;
  Socket socket;
  Status st = connect(socket, bound->endpoint(), rec);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::io);
  EXPECT_NE(st.error().message.find("refused"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find(bound->endpoint().to_string()), std::string::npos);
  EXPECT_FALSE(socket.is_open());
  run_for(20ms);
  EXPECT_EQ(rec.closes, 0);  // the handler is never called for a failed connect
}

TEST_P(SocketTest, UnixConnectToMissingPathFails) {
  Recorder rec;
  Socket socket;
  Status st = connect(socket, Endpoint::unix_socket("/nonexistent-torcon-dir/control"), rec);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::io);
  EXPECT_NE(st.error().message.find("No such file"), std::string::npos) << st.error().message;
}

TEST_P(SocketTest, BadAddressIsReportedFromTheLoop) {
  Recorder rec;
  for (const Endpoint& bad : {Endpoint::tcp("localhost", 9051), Endpoint::tcp("127.0.0.1", 0),
                              Endpoint::tcp("1.2.3.4.5", 1), Endpoint::unix_socket("")}) {
    Socket socket;
    Status st = connect(socket, bad, rec);
    ASSERT_FALSE(st) << bad.to_string();
    EXPECT_EQ(st.error().code, Errc::io);
    EXPECT_NE(st.error().message.find("bad address"), std::string::npos) << st.error().message;
    EXPECT_FALSE(socket.is_open());
  }
}

TEST_P(SocketTest, ConnectTimesOut) {
  // A full accept queue makes Linux drop further SYNs: the connect hangs.
  auto listener = Listener::tcp("127.0.0.1", /*backlog=*/0);
  ASSERT_TRUE(listener);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(listener->endpoint().port);
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(50ms);
  Recorder rec;
  Socket socket;
  ConnectOptions options;
  options.timeout = 200ms;
  auto start = Clock::now();
  Status st = connect(socket, listener->endpoint(), rec, options);
  for (int fd : fillers) ::close(fd);
  ASSERT_FALSE(st) << "connect unexpectedly succeeded";
  EXPECT_EQ(st.error().code, Errc::timeout) << st.error().message;
  const Clock::duration took = Clock::now() - start;
  EXPECT_GE(took, 200ms);
  // Generous for a loaded machine; a timer that waits for a 1 s tick is not.
  EXPECT_LT(took, 200ms + 600ms) << std::chrono::duration<double, std::milli>(took).count();
  EXPECT_FALSE(socket.is_open());
}

// 16 MiB out and back through a peer that reads slowly with a small socket
// buffer: partial writes, a full queue (rejected writes), on_writable.
TEST_P(SocketTest, EchoSixteenMiBThroughASlowPeer) {
  constexpr std::size_t kTotal = 16u << 20;
  constexpr std::size_t kPiece = 256u << 10;
  ReactorOptions options;
  options.max_write_queue = 2u << 20;
  options.write_low_water = 512u << 10;
  reactor_ = make_reactor(options);
  auto listener = Listener::tcp("127.0.0.1");
  ASSERT_TRUE(listener);

  std::string data(kTotal, '\0');
  for (std::size_t i = 0; i < kTotal; ++i) data[i] = static_cast<char>((i * 131) ^ (i >> 12));

  std::thread peer_thread([&] {
    int peer = listener->accept();
    if (peer < 0) return;
    // (No tiny SO_RCVBUF here: below one loopback MSS it stalls TCP itself.)
    std::vector<char> buf(8192);
    std::size_t echoed = 0, reads = 0;
    while (echoed < kTotal) {
      ssize_t n = ::read(peer, buf.data(), buf.size());
      if (n <= 0) break;
      if (++reads % 16 == 0) std::this_thread::sleep_for(1ms);  // the slow part
      for (ssize_t off = 0; off < n;) {
        ssize_t w = ::send(peer, buf.data() + off, static_cast<std::size_t>(n - off), MSG_NOSIGNAL);
        if (w <= 0) break;
        off += w;
      }
      echoed += static_cast<std::size_t>(n);
    }
    ::close(peer);
  });
  // On a failed ASSERT: `socket` closes first, the peer sees EOF, we join.
  struct Joiner {
    std::thread& t;
    ~Joiner() { t.join(); }
  } joiner{peer_thread};

  Recorder rec;
  rec.received.reserve(kTotal);
  Socket socket;
  Status st = connect(socket, listener->endpoint(), rec);
  ASSERT_TRUE(st) << st.error().message;

  std::size_t sent = 0;
  int rejected = 0;
  auto pump = [&] {
    while (sent < kTotal) {
      std::size_t before = socket.queued_bytes();
      Status w = socket.write(std::string_view(data).substr(sent, kPiece));
      if (!w) {
        EXPECT_EQ(w.error().code, Errc::io);
        EXPECT_EQ(socket.queued_bytes(), before);  // nothing partially queued
        ++rejected;
        return;  // wait for on_writable
      }
      sent += kPiece;
    }
  };
  rec.when_writable = pump;
  pump();
  ASSERT_TRUE(run_until([&] { return rec.received.size() >= kTotal || rec.closes > 0; }, 20s))
      << "received " << rec.received.size() << ", sent " << sent << ", still queued "
      << socket.queued_bytes() << ", rejected writes " << rejected << ", on_writable "
      << rec.writables;
  EXPECT_EQ(sent, kTotal);
  EXPECT_GT(rejected, 0);
  EXPECT_GT(rec.writables, 0);
  ASSERT_EQ(rec.received.size(), kTotal);
  EXPECT_TRUE(rec.received == data) << "echoed bytes differ";
  ASSERT_TRUE(run_until([&] { return rec.closes == 1; }));
  EXPECT_EQ(rec.close_reason.code, Errc::disconnected);
}

// tor leaves Nagle on for control connections and writes a long reply in
// pieces (GETINFO config/names: 4 KB, then 8 KB): the second piece waits for
// our ACK of the first, which Linux delays by 40 ms or more unless the
// reactor re-arms TCP_QUICKACK after its read. The peer here does the same.
// Returns the median of five command/reply round trips.
Clock::duration nagle_peer_round_trip(SocketTest& t, bool quickack) {
  ReactorOptions options;
  options.tcp_quickack = quickack;
  t.reactor_ = t.make_reactor(options);
  auto listener = Listener::tcp("127.0.0.1");
  if (!t.reactor_ || !listener) {
    ADD_FAILURE() << "no reactor or listener";
    return {};
  }
  Recorder rec;
  Socket socket;
  Status st = t.connect(socket, listener->endpoint(), rec);
  int peer = listener->accept();
  if (!st || peer < 0) {
    ADD_FAILURE() << "connect failed";
    return {};
  }
  const std::string command = "GETINFO config/names\r\n";
  const std::string head(4048, 'h'), tail(8008, 't');
  std::vector<Clock::duration> trips;
  for (int i = 0; i < 6; ++i) {  // the first only settles the connection
    rec.received.clear();
    const Clock::time_point start = Clock::now();
    EXPECT_TRUE(socket.write(command));
    t.reactor_->run_once(0ms);
    EXPECT_EQ(read_exactly(peer, command.size()), command);
    EXPECT_EQ(peer_send(peer, head), static_cast<ssize_t>(head.size()));
    EXPECT_EQ(peer_send(peer, tail), static_cast<ssize_t>(tail.size()));
    EXPECT_TRUE(t.run_until([&] { return rec.received.size() == head.size() + tail.size(); }));
    if (i > 0) trips.push_back(Clock::now() - start);
  }
  ::close(peer);
  std::sort(trips.begin(), trips.end());
  return trips[trips.size() / 2];
}

TEST_P(SocketTest, ReplyInPiecesFromANaglePeerDoesNotWaitForADelayedAck) {
  auto in_ms = [](Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
  };
  // Without the re-arm first: if this kernel does not stall here, the test
  // below could not fail, so it is skipped rather than passed.
  const Clock::duration without = nagle_peer_round_trip(*this, false);
  if (without < 35ms)
    GTEST_SKIP() << "no delayed-ACK stall on this kernel (" << in_ms(without) << " ms without "
                 << "TCP_QUICKACK): nothing to show";
  const Clock::duration with = nagle_peer_round_trip(*this, true);
  EXPECT_LT(with, 20ms) << in_ms(with) << " ms with TCP_QUICKACK, " << in_ms(without)
                        << " ms without";
}

TEST_P(SocketTest, ManySmallWritesArriveInOrder) {
  auto listener = Listener::tcp("127.0.0.1");
  ASSERT_TRUE(listener);
  Recorder rec;
  Socket socket;
  ASSERT_TRUE(connect(socket, listener->endpoint(), rec));
  int peer = listener->accept();
  ASSERT_GE(peer, 0);
  std::string expected;
  for (int i = 0; i < 5000; ++i) {
    std::string line = "GETINFO version " + std::to_string(i) + "\r\n";
    expected += line;
    ASSERT_TRUE(socket.write(line));
  }
  EXPECT_EQ(socket.queued_bytes(), expected.size());
  std::string got;
  std::thread reader([&] { got = read_exactly(peer, expected.size()); });
  ASSERT_TRUE(run_until([&] { return socket.queued_bytes() == 0; }));
  reader.join();
  EXPECT_EQ(got, expected);
  ::close(peer);
}

TEST_P(SocketTest, EofClosesOnceAfterTheLastBytes) {
  auto listener = Listener::tcp("127.0.0.1");
  ASSERT_TRUE(listener);
  Recorder rec;
  std::string seen_at_close;
  rec.after_close = [&] { seen_at_close = rec.received; };
  Socket socket;
  ASSERT_TRUE(connect(socket, listener->endpoint(), rec));
  int peer = listener->accept();
  ASSERT_GE(peer, 0);
  ASSERT_EQ(peer_send(peer, "250 closing\r\n"), 13);
  ::close(peer);
  ASSERT_TRUE(run_until([&] { return rec.closes > 0; }));
  run_for(30ms);
  EXPECT_EQ(rec.closes, 1);
  EXPECT_EQ(rec.close_reason.code, Errc::disconnected);
  EXPECT_EQ(seen_at_close, "250 closing\r\n");
  EXPECT_FALSE(socket.is_open());
  Status w = socket.write("more");
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, Errc::disconnected);
  socket.close();  // no-op: on_close already ran
  EXPECT_EQ(rec.closes, 1);
}

TEST_P(SocketTest, WriteToAPeerThatResetIsAnIoError) {
  auto listener = Listener::tcp("127.0.0.1");
  ASSERT_TRUE(listener);
  Recorder rec;
  Socket socket;
  ASSERT_TRUE(connect(socket, listener->endpoint(), rec));
  int peer = listener->accept();
  ASSERT_GE(peer, 0);
  linger hard{1, 0};  // close with RST
  ::setsockopt(peer, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  ::close(peer);
  std::string chunk(64 * 1024, 'x');
  ASSERT_TRUE(run_until([&] {
    (void)socket.write(chunk);
    return rec.closes > 0;
  }));
  EXPECT_EQ(rec.closes, 1);
  EXPECT_TRUE(rec.close_reason.code == Errc::io || rec.close_reason.code == Errc::disconnected)
      << rec.close_reason.message;
}

TEST_P(SocketTest, CallbacksMayCloseTheirOwnAndOtherStreams) {
  auto listener = Listener::tcp("127.0.0.1");
  ASSERT_TRUE(listener);
  Recorder a, b;
  Socket sa, sb;
  ASSERT_TRUE(connect(sa, listener->endpoint(), a));
  int pa = listener->accept();
  ASSERT_TRUE(connect(sb, listener->endpoint(), b));
  int pb = listener->accept();
  ASSERT_GE(pa, 0);
  ASSERT_GE(pb, 0);
  int b_closes_inside_a = -1;
  std::string b_received_at_close;
  a.after_read = [&] {
    sb.close();  // the other socket: its on_close runs now
    b_closes_inside_a = b.closes;
    b_received_at_close = b.received;
    sa.close();  // and our own, from inside our on_read
    EXPECT_EQ(a.closes, 1);
    EXPECT_FALSE(sa.write("x"));
  };
  // Both readable in the same iteration: whichever the backend reports
  // second belongs to a socket closed by then and must be dropped.
  ASSERT_EQ(peer_send(pb, "data"), 4);
  ASSERT_EQ(peer_send(pa, "go"), 2);
  ASSERT_TRUE(run_until([&] { return a.closes == 1; }));
  run_for(30ms);
  EXPECT_EQ(b_closes_inside_a, 1);
  EXPECT_EQ(a.closes, 1);
  EXPECT_EQ(b.closes, 1);
  EXPECT_EQ(a.close_reason.code, Errc::ok);
  EXPECT_EQ(b.close_reason.code, Errc::ok);
  EXPECT_EQ(b.received, b_received_at_close);  // nothing delivered after close
  // Both peers see EOF: the reactor really closed the sockets.
  char c;
  EXPECT_EQ(::read(pa, &c, 1), 0);
  EXPECT_EQ(::read(pb, &c, 1), 0);
  ::close(pa);
  ::close(pb);
}

// Closing a socket and connecting another from the same callback reuses the
// fd number at once; nothing meant for the old socket may reach the new one.
TEST_P(SocketTest, ReusedFdNumberStartsClean) {
  auto listener = Listener::tcp("127.0.0.1");
  ASSERT_TRUE(listener);
  Recorder old_rec, new_rec;
  Socket old_socket, new_socket;
  ASSERT_TRUE(connect(old_socket, listener->endpoint(), old_rec));
  int old_peer = listener->accept();
  ASSERT_GE(old_peer, 0);
  int old_fd = old_socket.fd();
  std::optional<Status> new_outcome;
  old_rec.after_read = [&] {
    old_socket.close();
    new_socket = reactor_->connect(listener->endpoint(), new_rec,
                                   [&](const Status& st) { new_outcome = st; });
  };
  ASSERT_TRUE(old_socket.write("queued for the old socket"));
  ASSERT_EQ(peer_send(old_peer, "x"), 1);
  ASSERT_TRUE(run_until([&] { return new_outcome.has_value(); }));
  ASSERT_TRUE(*new_outcome) << new_outcome->error().message;
  EXPECT_EQ(new_socket.fd(), old_fd);  // the lowest free number: the old one
  int new_peer = listener->accept();
  ASSERT_GE(new_peer, 0);
  round_trip(*this, new_socket, new_rec, new_peer);
  EXPECT_EQ(old_rec.closes, 1);
  EXPECT_EQ(old_rec.received, "x");
  EXPECT_EQ(new_rec.closes, 0);
  ::close(old_peer);
  ::close(new_peer);
}

// An owner that deletes itself (and so its Socket handle) from on_read.
struct SelfDeleting : SocketHandler {
  Socket socket;
  char buf[256];
  bool* deleted;
  explicit SelfDeleting(bool* d) : deleted(d) {}
  ~SelfDeleting() override { *deleted = true; }
  std::span<char> read_space() override { return buf; }
  void on_read(std::size_t) override { delete this; }
  void on_close(const Error&) override { ADD_FAILURE() << "a destroyed handle closes silently"; }
};

TEST_P(SocketTest, OwnerMayDestroyItselfInsideACallback) {
  auto listener = Listener::tcp("127.0.0.1");
  ASSERT_TRUE(listener);
  bool deleted = false;
  auto* owner = new SelfDeleting(&deleted);
  bool connected = false;
  owner->socket = reactor_->connect(listener->endpoint(), *owner,
                                    [&](const Status& st) { connected = st.ok(); });
  ASSERT_TRUE(run_until([&] { return connected; }));
  int peer = listener->accept();
  ASSERT_GE(peer, 0);
  ASSERT_EQ(peer_send(peer, "bye"), 3);
  ASSERT_TRUE(run_until([&] { return deleted; }));
  run_for(20ms);  // ASan catches any later touch of the deleted owner
  char c;
  EXPECT_EQ(::read(peer, &c, 1), 0);
  ::close(peer);
}

TEST_P(SocketTest, ClosingWhileConnectingReportsToTheConnectCallback) {
  auto listener = Listener::tcp("127.0.0.1");
  ASSERT_TRUE(listener);
  Recorder rec;
  std::optional<Status> outcome;
  Socket socket =
      reactor_->connect(listener->endpoint(), rec, [&](const Status& st) { outcome = st; });
  ASSERT_TRUE(socket.is_open());
  EXPECT_FALSE(socket.is_connected());
  socket.close();
  ASSERT_TRUE(outcome.has_value());  // synchronously, inside close()
  ASSERT_FALSE(*outcome);
  EXPECT_EQ(outcome->error().code, Errc::disconnected);
  run_for(20ms);
  EXPECT_EQ(rec.closes, 0);
}

TEST_P(SocketTest, WritesQueuedWhileConnectingAreSentOnceConnected) {
  auto listener = Listener::tcp("127.0.0.1");
  ASSERT_TRUE(listener);
  Recorder rec;
  bool connected = false;
  Socket socket =
      reactor_->connect(listener->endpoint(), rec, [&](const Status& st) { connected = st.ok(); });
  ASSERT_TRUE(socket.write("PROTOCOLINFO 1\r\n"));
  ASSERT_TRUE(run_until([&] { return connected && socket.queued_bytes() == 0; }));
  int peer = listener->accept();
  ASSERT_GE(peer, 0);
  EXPECT_EQ(read_exactly(peer, 16), "PROTOCOLINFO 1\r\n");
  ::close(peer);
}

TEST_P(SocketTest, DestroyingTheReactorClosesOpenStreamsOnce) {
  auto listener = Listener::tcp("127.0.0.1");
  ASSERT_TRUE(listener);
  Recorder open_rec, pending_rec;
  Socket open;
  ASSERT_TRUE(connect(open, listener->endpoint(), open_rec));
  int peer = listener->accept();
  ASSERT_GE(peer, 0);
  std::optional<Status> pending_outcome;
  Socket pending = reactor_->connect(listener->endpoint(), pending_rec,
                                     [&](const Status& st) { pending_outcome = st; });
  reactor_.reset();
  EXPECT_EQ(open_rec.closes, 1);
  EXPECT_EQ(open_rec.close_reason.code, Errc::disconnected);
  ASSERT_TRUE(pending_outcome.has_value());
  EXPECT_EQ(pending_outcome->error().code, Errc::disconnected);
  EXPECT_EQ(pending_rec.closes, 0);
  // Handles outliving the reactor are harmless.
  EXPECT_FALSE(open.is_open());
  EXPECT_EQ(open.write("x").error().code, Errc::disconnected);
  open.close();
  EXPECT_EQ(open_rec.closes, 1);
  char c;
  EXPECT_EQ(::read(peer, &c, 1), 0);
  ::close(peer);
}

TEST_P(SocketTest, EveryFdIsReleased) {
  reactor_.reset();
  int before = count_open_fds();
  {
    auto r = make_reactor();
    ASSERT_TRUE(r);
    reactor_ = std::move(r);
    auto listener = Listener::tcp("127.0.0.1");
    auto unix_listener = Listener::unix_socket();
    ASSERT_TRUE(listener && unix_listener);
    Recorder a, b, c;
    Socket sa, sb, sc;
    ASSERT_TRUE(connect(sa, listener->endpoint(), a));
    ASSERT_TRUE(connect(sb, unix_listener->endpoint(), b));
    Status refused = connect(sc, Endpoint::tcp("127.0.0.1", 1), c);
    EXPECT_FALSE(refused);
    int pa = listener->accept(), pb = unix_listener->accept();
    ASSERT_TRUE(sa.write("x") && sb.write("y"));
    reactor_->start_repeating_timer(1ms, [] {});
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    ASSERT_TRUE(reactor_->watch_readable(pipe_fds[0], [] {}));
    run_for(20ms);
    sa.close();
    ::close(pa);
    ASSERT_TRUE(run_until([&] { return a.closes == 1; }));
    reactor_->unwatch(pipe_fds[0]);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    reactor_.reset();  // sb is still open: the reactor closes it
    EXPECT_EQ(b.closes, 1);
    ::close(pb);
  }
  EXPECT_EQ(count_open_fds(), before);
}

}  // namespace
}  // namespace torcon
