// A fake control server on 127.0.0.1, for what a real tor won't do on
// demand (forged hashes, slow or truncated replies, a restart on the same
// port). It accepts `connections` connections one after the other and runs
// the script on each, on its own thread, with blocking reads and writes.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "torcon/socket.hpp"

namespace torcon::testing {

class FakeTor {
 public:
  // `script(fd, n)` runs for the n-th connection (0-based); the connection
  // is closed when it returns.
  FakeTor(std::function<void(int fd, int n)> script, int connections) {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_, 1);
    socklen_t len = sizeof a;
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, connections, script = std::move(script)] {
      for (int n = 0; n < connections; ++n) {
        const int fd = ::accept(listen_, nullptr, nullptr);
        if (fd < 0) return;
        script(fd, n);
        ::close(fd);
      }
    });
  }
  // One connection.
  explicit FakeTor(std::function<void(int fd)> script)
      : FakeTor([script = std::move(script)](int fd, int) { script(fd); }, 1) {}
  ~FakeTor() {
    ::shutdown(listen_, SHUT_RDWR);
    thread_.join();
    ::close(listen_);
  }
  FakeTor(const FakeTor&) = delete;
  FakeTor& operator=(const FakeTor&) = delete;
  Endpoint endpoint() const { return Endpoint::tcp("127.0.0.1", port_); }

  // Reads one CRLF line from fd (blocking); "" at EOF.
  static std::string read_line(int fd) {
    std::string l;
    char c;
    while (::read(fd, &c, 1) == 1) {
      l.push_back(c);
      if (c == '\n') break;
    }
    return l;
  }
  // MSG_NOSIGNAL: a controller that hung up early fails the test here,
  // instead of SIGPIPE killing the whole binary.
  static void say(int fd, std::string_view s) {
    const ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    EXPECT_EQ(n, static_cast<ssize_t>(s.size()))
        << "fake server: send failed (" << std::strerror(errno) << ")";
  }
  static void drip(int fd, std::string_view s) {
    for (char c : s) {
      say(fd, std::string_view(&c, 1));
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  // Answers PROTOCOLINFO and AUTHENTICATE for NULL authentication.
  static void null_auth(int fd) {
    read_line(fd);
    say(fd, "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250 OK\r\n");
    read_line(fd);
    say(fd, "250 OK\r\n");
  }

 private:
  int listen_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace torcon::testing
