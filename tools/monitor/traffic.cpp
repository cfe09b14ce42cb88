#include "monitor/traffic.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace torcon::monitor {

namespace {

using Clock = std::chrono::steady_clock;

bool wait_for(int fd, short events, int ms) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, ms) > 0;
}

bool send_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Reads exactly n bytes, giving up at the deadline or when `stop` is set.
bool recv_exact(int fd, char* out, std::size_t n, Clock::time_point deadline,
                const std::atomic<bool>& stop) {
  std::size_t got = 0;
  while (got < n) {
    if (stop || Clock::now() >= deadline) return false;
    if (!wait_for(fd, POLLIN, 100)) continue;
    const ssize_t r = ::recv(fd, out + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

// A SOCKS5 CONNECT (RFC 1928, no authentication) to "127.0.0.1":port through
// the SocksPort; the connected socket, or -1 with `error` set.
int socks_connect(std::uint16_t socks_port, std::uint16_t port, Clock::time_point deadline,
                  const std::atomic<bool>& stop, std::string& error) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  const sockaddr_in socks = loopback(socks_port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&socks), sizeof socks) != 0) {
    error = std::string("connect to the SocksPort: ") + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  const char hello[] = {5, 1, 0};
  char reply[10];
  if (!send_all(fd, hello, sizeof hello) || !recv_exact(fd, reply, 2, deadline, stop) ||
      reply[0] != 5 || reply[1] != 0) {
    error = "SOCKS5 greeting refused";
    ::close(fd);
    return -1;
  }
  // The destination as a name (address type 3), as applications that leave
  // DNS to tor do: tor warns about a bare IPv4 address type ("giving Tor only
  // an IP address"), which would fill the log the monitor shows.
  const std::string host = "127.0.0.1";
  std::string req = {5, 1, 0, 3, static_cast<char>(host.size())};
  req += host;
  req.push_back(static_cast<char>(port >> 8));
  req.push_back(static_cast<char>(port & 0xff));
  if (!send_all(fd, req.data(), req.size()) || !recv_exact(fd, reply, 10, deadline, stop)) {
    error = "SOCKS5 CONNECT: no answer";
    ::close(fd);
    return -1;
  }
  if (reply[1] != 0) {
    error = "SOCKS5 CONNECT failed with code " + std::to_string(static_cast<int>(reply[1]));
    ::close(fd);
    return -1;
  }
  return fd;
}

constexpr char kBody[] = "hello through a private Tor network\n";

}  // namespace

TrafficDriver::~TrafficDriver() { stop(); }

std::string TrafficDriver::start(std::uint16_t socks_port, std::chrono::milliseconds every) {
  socks_port_ = socks_port;
  every_ = every;
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
      ::listen(listen_fd_, 16) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return std::string("web server on 127.0.0.1: ") + std::strerror(errno);
  http_port_ = ntohs(a.sin_port);
  server_ = std::thread([this] { serve(); });
  fetcher_ = std::thread([this] { fetch_loop(); });
  downloader_ = std::thread([this] { download_loop(); });
  return {};
}

void TrafficDriver::stop() {
  stop_ = true;
  for (std::thread* t : {&fetcher_, &downloader_, &server_})
    if (t->joinable()) t->join();
  std::vector<Answering> answering;
  {
    std::lock_guard lock(mu_);
    answering.swap(answering_);
  }
  for (Answering& a : answering)
    if (a.thread.joinable()) a.thread.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

std::string TrafficDriver::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void TrafficDriver::note_error(std::string e) {
  std::lock_guard lock(mu_);
  last_error_ = std::move(e);
}

void TrafficDriver::serve() {
  while (!stop_) {
    if (!wait_for(listen_fd_, POLLIN, 200)) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(mu_);
    std::erase_if(answering_, [](Answering& a) {
      if (!a.done->load()) return false;
      a.thread.join();
      return true;
    });
    auto done = std::make_shared<std::atomic<bool>>(false);
    answering_.push_back({std::thread([this, fd, done] {
                            answer(fd);
                            done->store(true);
                          }),
                          done});
  }
}

// GET /slow: 1 KiB every half second until the client goes; anything else:
// the short body.
void TrafficDriver::answer(int fd) {
  std::string request;
  char buf[1024];
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 8192) {
    if (stop_ || Clock::now() >= deadline) break;
    if (!wait_for(fd, POLLIN, 100)) continue;
    const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) break;
    request.append(buf, static_cast<std::size_t>(r));
  }
  if (request.starts_with("GET /slow ")) {
    const std::string head = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n";
    bool ok = send_all(fd, head.data(), head.size());
    const std::string chunk(1024, 'x');
    while (ok && !stop_) {
      ok = send_all(fd, chunk.data(), chunk.size());
      for (int i = 0; i < 5 && !stop_; ++i) ::usleep(100 * 1000);
    }
  } else if (!request.empty()) {
    const std::string reply = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                              std::to_string(sizeof kBody - 1) + "\r\n\r\n" + kBody;
    send_all(fd, reply.data(), reply.size());
  }
  ::close(fd);
}

void TrafficDriver::fetch_loop() {
  while (!stop_) {
    const auto started = Clock::now();
    std::string error;
    const int fd =
        socks_connect(socks_port_, http_port_, started + std::chrono::seconds(60), stop_, error);
    if (fd >= 0) {
      const std::string req = "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
      std::string got;
      char buf[1024];
      if (send_all(fd, req.data(), req.size())) {
        while (!stop_ && Clock::now() < started + std::chrono::seconds(60)) {
          if (!wait_for(fd, POLLIN, 100)) continue;
          const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
          if (r <= 0) break;
          got.append(buf, static_cast<std::size_t>(r));
        }
      }
      ::close(fd);
      if (got.find(kBody) != std::string::npos)
        ++completed_;
      else
        error = "fetch: no body";
    }
    if (!error.empty()) note_error(std::move(error));
    while (!stop_ && Clock::now() < started + every_) ::usleep(100 * 1000);
  }
}

void TrafficDriver::download_loop() {
  while (!stop_) {
    std::string error;
    const int fd = socks_connect(socks_port_, http_port_, Clock::now() + std::chrono::seconds(60),
                                 stop_, error);
    if (fd >= 0) {
      const std::string req = "GET /slow HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
      char buf[4096];
      if (send_all(fd, req.data(), req.size())) {
        while (!stop_) {
          if (!wait_for(fd, POLLIN, 100)) continue;
          const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
          if (r <= 0) break;
          streaming_ = true;
        }
      }
      streaming_ = false;
      ::close(fd);
    } else {
      note_error(std::move(error));
    }
    for (int i = 0; i < 20 && !stop_; ++i) ::usleep(100 * 1000);
  }
}

}  // namespace torcon::monitor
