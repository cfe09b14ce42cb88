// For TorState's private-network tests: an HTTP/1.0 server on 127.0.0.1 that
// answers every GET with a fixed body (in its own thread), and a blocking
// SOCKS5 client that fetches from it through tor.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

namespace torcon::test {

class LoopbackHttp {
 public:
  explicit LoopbackHttp(std::string body) : body_(std::move(body)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(fd_, 16) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return;
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~LoopbackHttp() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  std::uint16_t port() const { return port_; }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      timeval tv{5, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::string req;
      char buf[1024];
      while (req.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, std::size_t(n));
      }
      const std::string resp =
          "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body_.size()) + "\r\n\r\n" + body_;
      (void)!::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }
  std::string body_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// GET / from 127.0.0.1:http_port through tor's SOCKS port. Returns the body,
// or "error: ..." (every step bounded by `timeout` in all).
inline std::string socks_fetch(std::uint16_t socks_port, std::uint16_t http_port,
                               std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto fail = [&](const char* what) {
    ::close(fd);
    return std::string("error: ") + what;
  };
  auto recv_n = [&](char* out, std::size_t n) {
    for (std::size_t got = 0; got < n;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p{fd, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, int(left)) <= 0) return false;
      const ssize_t r = ::recv(fd, out + got, n - got, 0);
      if (r <= 0) return false;
      got += std::size_t(r);
    }
    return true;
  };
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(socks_port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return fail("connect");
  char reply[10];
  if (::send(fd, "\x05\x01\x00", 3, MSG_NOSIGNAL) != 3 || !recv_n(reply, 2) || reply[1] != 0)
    return fail("SOCKS greeting");
  std::string req("\x05\x01\x00\x01\x7f\x00\x00\x01", 8);
  req += char(http_port >> 8);
  req += char(http_port & 0xff);
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size()) ||
      !recv_n(reply, 10) || reply[1] != 0)
    return fail("SOCKS CONNECT");
  const std::string get = "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd, get.data(), get.size(), MSG_NOSIGNAL) != ssize_t(get.size()))
    return fail("send GET");
  std::string resp;
  char buf[4096];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, int(left)) <= 0) return fail("HTTP response timed out");
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) return fail("recv");
    if (n == 0) break;
    resp.append(buf, std::size_t(n));
  }
  ::close(fd);
  const std::size_t body = resp.find("\r\n\r\n");
  if (!resp.starts_with("HTTP/1.0 200") || body == std::string::npos) return "error: bad HTTP";
  return resp.substr(body + 4);
}

}  // namespace torcon::test
