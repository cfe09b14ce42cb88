// For tests on the private network: a blocking HTTP/1.0 GET through tor's
// SOCKS port (a minimal SOCKS5 client: RFC 1928, no authentication, CONNECT
// to an IPv4 address), every step within one deadline.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>

namespace torcon::test {

namespace detail {
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
inline long long ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}
// Blocks until `fd` has data or the deadline passes.
inline bool wait_readable(int fd, Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return false;
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, int(left)) > 0;
}

inline bool recv_exact(int fd, char* out, std::size_t n, Clock::time_point deadline) {
  std::size_t got = 0;
  while (got < n) {
    if (!wait_readable(fd, deadline)) return false;
    ssize_t r = ::recv(fd, out + got, n - got, 0);
    if (r <= 0) return false;
    got += std::size_t(r);
  }
  return true;
}

}  // namespace detail

struct FetchResult {
  std::string error;  // empty on success
  std::string body;
  long long ms = 0;
};

// GET http://127.0.0.1:http_port/ through the SOCKS port, all within `timeout`
// (`target`: another loopback address, host byte order).
inline FetchResult socks_http_get(std::uint16_t socks_port, std::uint16_t http_port,
                                  std::chrono::milliseconds timeout,
                                  std::uint32_t target = INADDR_LOOPBACK) {
  using namespace detail;
  FetchResult res;
  auto t0 = Clock::now();
  auto deadline = t0 + timeout;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto done = [&](std::string err) {
    if (fd >= 0) ::close(fd);
    res.error = std::move(err);
    res.ms = ms_since(t0);
    return res;
  };
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(socks_port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    return done(std::string("connect to SOCKS port: ") + std::strerror(errno));
  auto send_all = [&](const std::string& s) {
    return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size());
  };
  if (!send_all(std::string("\x05\x01\x00", 3))) return done("send greeting");
  char hello[2];
  if (!recv_exact(fd, hello, 2, deadline) || hello[0] != 5 || hello[1] != 0)
    return done("SOCKS greeting refused");
  std::string req("\x05\x01\x00\x01", 4);
  for (int shift = 24; shift >= 0; shift -= 8) req += char((target >> shift) & 0xff);
  req += char(http_port >> 8);
  req += char(http_port & 0xff);
  if (!send_all(req)) return done("send CONNECT");
  char reply[10];  // VER REP RSV ATYP=1 ADDR(4) PORT(2)
  if (!recv_exact(fd, reply, 10, deadline))
    return done("no SOCKS CONNECT reply within " + std::to_string(timeout.count()) + " ms");
  if (reply[1] != 0) return done("SOCKS CONNECT failed, REP=" + std::to_string(int(reply[1])));
  if (!send_all("GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")) return done("send GET");
  std::string resp;
  char buf[4096];
  while (true) {
    if (!wait_readable(fd, deadline)) return done("HTTP response timed out");
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) return done(std::string("recv: ") + std::strerror(errno));
    if (n == 0) break;
    resp.append(buf, std::size_t(n));
  }
  std::size_t hdr_end = resp.find("\r\n\r\n");
  if (resp.rfind("HTTP/1.0 200", 0) != 0 || hdr_end == std::string::npos)
    return done("bad HTTP response: " + resp.substr(0, 80));
  res.body = resp.substr(hdr_end + 4);
  return done("");
}

}  // namespace torcon::test
