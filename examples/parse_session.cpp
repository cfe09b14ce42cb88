// parse_session PORT COOKIE_FILE: a minimal blocking control session that
// shows what torcon's parser makes of a live tor's replies. (The full
// asynchronous controller is torcon::Controller; this example only needs
// the parser.)

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "torcon/command.hpp"
#include "torcon/getinfo.hpp"
#include "torcon/keyword_args.hpp"
#include "torcon/reply_reader.hpp"

namespace {

int fd = -1;
torcon::ReplyReader reader;

// Sends `line` (checked for CR/LF/NUL) and prints replies until a
// synchronous one arrives.
bool ask(const std::string& line, int show_events = 0) {
  if (torcon::Status s = torcon::check_raw_command(line); !s) {
    std::fprintf(stderr, "refused: %s\n", s.error().message.c_str());
    return false;
  }
  const std::string wire = line + "\r\n";
  if (::send(fd, wire.data(), wire.size(), MSG_NOSIGNAL) != ssize_t(wire.size())) return false;
  std::printf("\n> %s\n",
              line.rfind("AUTHENTICATE", 0) == 0 ? "AUTHENTICATE <cookie>" : line.c_str());
  const auto t0 = std::chrono::steady_clock::now();
  torcon::Reply r;
  for (;;) {
    switch (reader.next(r)) {
      case torcon::ReplyReader::Next::reply: {
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count();
        std::printf("  %s reply %d (%zu lines, %zu bytes, %.2f ms)\n",
                    r.is_async() ? "event" : "sync", r.code, r.lines.size(), r.raw.size(), ms);
        for (const torcon::ReplyLine& l : r.lines) {
          std::string_view t = l.text.substr(0, 100);
          std::printf("    %d%c%.*s%s\n", l.code, char(l.sep), int(t.size()), t.data(),
                      l.text.size() > 100 ? "..." : "");
          if (l.sep == torcon::Sep::data) {
            torcon::DataLines dl(l.data);
            std::string_view d;
            int n = 0;
            while (dl.next(d)) ++n;
            std::printf("      [data block: %d lines, %zu bytes]\n", n, l.data.size());
          }
        }
        if (r.is_async()) {
          if (--show_events <= 0) return true;
          continue;
        }
        if (show_events > 0) continue;
        return r.is_ok();
      }
      case torcon::ReplyReader::Next::error:
        std::fprintf(stderr, "parse error at byte %llu: %s\n",
                     static_cast<unsigned long long>(reader.error().offset),
                     reader.error().message.c_str());
        return false;
      case torcon::ReplyReader::Next::need_more: {
        std::span<char> space = reader.prepare();
        const ssize_t n = ::recv(fd, space.data(), space.size(), 0);
        if (n <= 0) {
          std::fprintf(stderr, "tor closed the connection\n");
          return false;
        }
        reader.commit(size_t(n));
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: parse_session PORT COOKIE_FILE\n");
    return 2;
  }
  fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[1])));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("connect");
    return 2;
  }
  std::ifstream cf(argv[2], std::ios::binary);
  const std::string cookie((std::istreambuf_iterator<char>(cf)), {});
  std::string hex;
  for (unsigned char c : cookie) {
    static const char* d = "0123456789ABCDEF";
    hex += d[c >> 4];
    hex += d[c & 15];
  }
  bool ok = ask("PROTOCOLINFO 1") && ask("AUTHENTICATE " + hex) &&
            ask("GETINFO version config-file process/pid") && ask("GETINFO config-text") &&
            ask("GETCONF SocksPort DisableNetwork ControlPort");
  ask("GETINFO no-such-key");  // tor answers 552: an error value, not a failure
  ok = ok && ask("SETEVENTS BW", 2) && ask("SETEVENTS") && ask("QUIT");
  ::close(fd);
  return ok ? 0 : 1;
}
