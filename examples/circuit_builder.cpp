// circuit_builder: build a circuit along a path you choose, then fetch a page
// over exactly that circuit (a stream attacher sends the fetch's stream to
// it), print what came back and through which exit, and close the circuit.
//
//   circuit_builder [--control HOST:PORT|PATH] --socks PORT --path HOP,HOP[,...]
//                   --fetch HOST:PORT[/PATH] [--timeout SECONDS]
//   circuit_builder --control 127.0.0.1:9051 --socks 9050
//                   --path '$AAAA...,$BBBB...' --fetch 127.0.0.1:8080/
//
// Hops are "$FINGERPRINT", "$FINGERPRINT~nickname" or nicknames, first hop
// first; the last must be an exit whose policy allows the target. The fetch
// is a plain HTTP/1.0 GET through tor's SocksPort (SOCKS5, the host name
// resolved by the exit), done on a thread of its own while the reactor runs
// the control connection. Exit status: 0 fetched over the circuit, 1 the
// build or the fetch failed, 2 usage.

#include "torcon/circuit_builder.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "torcon/circuit.hpp"
#include "torcon/controller.hpp"
#include "torcon/reactor.hpp"
#include "torcon/router.hpp"
#include "torcon/stream.hpp"
#include "torcon/stream_attacher.hpp"
#include "torcon/tor_state.hpp"

namespace {

const char* const kUsage =
    "usage: circuit_builder [--control HOST:PORT|PATH] --socks PORT --path HOP,HOP[,...]\n"
    "                       --fetch HOST:PORT[/PATH] [--timeout SECONDS]\n";

bool parse_port(std::string_view s, std::uint16_t& out) {
  unsigned v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v == 0 || v > 65535) return false;
  out = std::uint16_t(v);
  return true;
}

// "HOST:PORT" (split at the last ':') or an absolute Unix socket path.
bool parse_endpoint(std::string_view s, torcon::Endpoint& out) {
  if (!s.empty() && s.front() == '/') {
    out = torcon::Endpoint::unix_socket(std::string(s));
    return true;
  }
  const std::size_t colon = s.rfind(':');
  std::uint16_t port = 0;
  if (colon == std::string_view::npos || colon == 0 || !parse_port(s.substr(colon + 1), port))
    return false;
  out = torcon::Endpoint::tcp(std::string(s.substr(0, colon)), port);
  return true;
}

struct Target {
  std::string host, path = "/";
  std::uint16_t port = 0;
};

// "HOST:PORT[/PATH]"; the host goes into a SOCKS request and an HTTP
// header, so only letters, digits, '.', '-' and ':' are accepted.
bool parse_target(std::string_view s, Target& t) {
  const std::size_t slash = s.find('/');
  if (slash != std::string_view::npos) {
    t.path = std::string(s.substr(slash));
    s = s.substr(0, slash);
  }
  for (char c : t.path)
    if (c <= ' ' || c == 0x7f) return false;
  const std::size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 255) return false;
  t.host = std::string(s.substr(0, colon));
  for (char c : t.host)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '-' || c == ':'))
      return false;
  return parse_port(s.substr(colon + 1), t.port);
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(std::size_t(n));
  }
  return true;
}

bool recv_exactly(int fd, unsigned char* buf, std::size_t n) {
  while (n > 0) {
    const ssize_t got = recv(fd, buf, n, 0);
    if (got <= 0) return false;
    buf += got;
    n -= std::size_t(got);
  }
  return true;
}

// HTTP GET through tor's SocksPort on 127.0.0.1 (SOCKS5, RFC 1928, no
// authentication, the host sent as a name): the whole response, or an
// error starting with "!".
std::string socks_http_get(std::uint16_t socks_port, const Target& t) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "!socket failed";
  std::unique_ptr<int, void (*)(int*)> closer(new int(fd), [](int* p) {
    close(*p);
    delete p;
  });
  timeval tv{120, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(socks_port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    return "!cannot connect to the SocksPort";
  unsigned char reply[262];
  if (!send_all(fd, std::string_view("\x05\x01\x00", 3)) || !recv_exactly(fd, reply, 2) ||
      reply[0] != 5 || reply[1] != 0)
    return "!SOCKS greeting refused";
  std::string req("\x05\x01\x00\x03", 4);
  req += char(t.host.size());
  req += t.host;
  req += char(t.port >> 8);
  req += char(t.port & 0xff);
  if (!send_all(fd, req) || !recv_exactly(fd, reply, 4)) return "!SOCKS connect failed";
  if (reply[1] != 0) return "!SOCKS connect refused, reply code " + std::to_string(reply[1]);
  // The bound address that follows: IPv4, a name, or IPv6; then the port.
  std::size_t rest = reply[3] == 1 ? 4 : reply[3] == 4 ? 16 : 0;
  if (reply[3] == 3) {
    if (!recv_exactly(fd, reply, 1)) return "!SOCKS reply cut short";
    rest = reply[0];
  }
  if (!recv_exactly(fd, reply, rest + 2)) return "!SOCKS reply cut short";
  if (!send_all(fd, "GET " + t.path + " HTTP/1.0\r\nHost: " + t.host + "\r\n\r\n"))
    return "!sending the request failed";
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) response.append(buf, std::size_t(n));
  return response.empty() ? "!empty response" : response;
}

std::string describe_path(const torcon::Circuit& c) {
  std::string out;
  for (const torcon::Router* r : c.path()) {
    if (!out.empty()) out += " -> ";
    out += r ? "$" + r->fingerprint() + "~" + std::string(r->nickname()) : "?";
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  torcon::Endpoint control = torcon::Endpoint::tcp("127.0.0.1", 9051);
  std::uint16_t socks_port = 0;
  std::vector<std::string> path;
  Target target;
  torcon::CircuitBuildOptions build_options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc)
      return std::fprintf(stderr, "circuit_builder: bad option %s\n%s", argv[i], kUsage), 2;
    const std::string_view v = argv[++i];
    bool ok = true;
    if (a == "--control") {
      ok = parse_endpoint(v, control);
    } else if (a == "--socks") {
      ok = parse_port(v, socks_port);
    } else if (a == "--fetch") {
      ok = parse_target(v, target);
    } else if (a == "--timeout") {
      std::uint16_t s = 0;
      ok = parse_port(v, s);
      build_options.timeout = std::chrono::seconds(s);
    } else if (a == "--path") {
      // Each hop is checked by CircuitBuilder before anything is sent.
      for (std::size_t start = 0; start <= v.size();) {
        const std::size_t comma = std::min(v.find(',', start), v.size());
        path.emplace_back(v.substr(start, comma - start));
        start = comma + 1;
      }
    } else {
      ok = false;
    }
    if (!ok) return std::fprintf(stderr, "circuit_builder: bad %s\n%s", argv[i - 1], kUsage), 2;
  }
  if (socks_port == 0 || path.empty() || target.port == 0)
    return std::fprintf(stderr, "circuit_builder: --socks, --path and --fetch are required\n%s",
                        kUsage),
           2;

  auto reactor = torcon::Reactor::create();
  if (!reactor)
    return std::fprintf(stderr, "circuit_builder: %s\n", reactor.error().message.c_str()), 1;
  torcon::ControllerOptions copt;
  copt.parser.record_data_lines = true;  // TorState reads the consensus with them
  torcon::Controller ctl(**reactor, copt);
  torcon::TorState state(**reactor);
  torcon::CircuitBuilder builder(**reactor, ctl, state);
  torcon::StreamAttacher attacher(state, ctl);
  std::string circuit_id, left_through;
  std::thread fetcher;
  int status = 1;

  auto finish = [&](int s) {
    status = s;
    // Leave tor as we found it: streams back to tor, our circuit closed.
    attacher.uninstall([&](const torcon::Status&) {
      if (circuit_id.empty()) return (*reactor)->stop();
      builder.close(circuit_id, {}, [&](const torcon::CircuitOutcome&) { (*reactor)->stop(); });
    });
  };
  auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "circuit_builder: %s\n", why.c_str());
    finish(1);
  };

  // Streams to the target go to our circuit; others are left to tor.
  attacher.add([&](torcon::AttachRequest& req) {
    const torcon::Stream& s = req.stream();
    if (circuit_id.empty() || s.target_host() != target.host || s.target_port() != target.port)
      return torcon::AttachDecision::pass();
    std::printf("stream %s to %s attached to circuit %s\n", std::string(s.id()).c_str(),
                std::string(s.target()).c_str(), circuit_id.c_str());
    return torcon::AttachDecision::circuit(circuit_id);
  });
  // Tor's own word on where the stream went.
  state.on_stream([&](const torcon::Stream& s, torcon::StreamChanges) {
    if (s.state() != torcon::StreamStatus::succeeded || s.circuit_id() != circuit_id ||
        !s.circuit() || s.circuit()->path().empty() || !s.circuit()->path().back())
      return;
    left_through = s.circuit()->path().back()->fingerprint();
  });

  auto fetch = [&] {
    std::printf("fetching http://%s:%u%s\n", target.host.c_str(), unsigned(target.port),
                target.path.c_str());
    std::fflush(stdout);
    fetcher = std::thread([&, port = socks_port, t = target] {
      std::string response = socks_http_get(port, t);
      (*reactor)->post([&, response = std::move(response)] {
        if (response.front() == '!') return fail("fetch failed: " + response.substr(1));
        std::printf("%s%s", response.c_str(), response.back() == '\n' ? "" : "\n");
        if (left_through.empty()) return fail("tor did not report the stream on our circuit");
        std::printf("left through $%s\n", left_through.c_str());
        finish(0);
      });
    });
  };

  ctl.connect(control, [&](const torcon::Status& s) {
    if (!s) return fail("cannot connect to tor: " + s.error().message);
    state.attach(ctl, [&](const torcon::Status& a) {
      if (!a) return fail("reading tor's state: " + a.error().message);
      builder.build(path, build_options, [&](const torcon::CircuitOutcome& r) {
        if (!r) {
          std::string why = "building the circuit failed: " + r.error.message;
          if (!r.reason.empty()) why += " (" + r.reason + ")";
          return fail(why);
        }
        circuit_id = r.id;
        std::printf("circuit %s built: %s\n", r.id.c_str(), describe_path(*r.circuit).c_str());
        attacher.install([&](const torcon::Status& in) {
          if (!in) return fail("installing the stream attacher: " + in.error().message);
          fetch();
        });
      });
    });
  });
  (*reactor)->run();
  if (fetcher.joinable()) fetcher.join();
  return status;
}
