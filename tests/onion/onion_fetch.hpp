// For the onion tests: GET / from HOST:PORT through tor's SOCKS5 port, the
// host sent as a name (ATYP 3), so tor resolves .onion itself. Blocking;
// every step bounded by `timeout` in all.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace torcon::test {

// The body, or "error: ..." ("error: SOCKS reply N" names tor's SOCKS code:
// 0xf5 = missing client authorization, per tor's extended SOCKS errors).
inline std::string socks_fetch_host(std::uint16_t socks_port, const std::string& host,
                                    std::uint16_t port, std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto fail = [&](std::string what) {
    ::close(fd);
    return "error: " + what;
  };
  auto wait_in = [&] {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    return left > 0 && ::poll(&p, 1, int(left)) > 0;
  };
  auto recv_n = [&](char* out, std::size_t n) {
    for (std::size_t got = 0; got < n;) {
      if (!wait_in()) return false;
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
  std::string req("\x05\x01\x00\x03", 4);
  req += char(host.size());
  req += host;
  req += char(port >> 8);
  req += char(port & 0xff);
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size()))
    return fail("send SOCKS CONNECT");
  if (!recv_n(reply, 4)) return fail("SOCKS CONNECT timed out");
  if (reply[1] != 0)
    return fail("SOCKS reply " + std::to_string(static_cast<unsigned char>(reply[1])));
  // The bound address: IPv4 (6 more bytes) or IPv6 (18).
  char rest[18];
  if (!recv_n(rest, reply[3] == 4 ? 18 : 6)) return fail("SOCKS reply address");
  const std::string get = "GET / HTTP/1.0\r\nHost: " + host + "\r\n\r\n";
  if (::send(fd, get.data(), get.size(), MSG_NOSIGNAL) != ssize_t(get.size()))
    return fail("send GET");
  std::string resp;
  char buf[4096];
  for (;;) {
    if (!wait_in()) return fail("HTTP response timed out");
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
