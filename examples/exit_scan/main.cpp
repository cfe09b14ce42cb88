// exit_scan: fetch from a target through every exit of a tor's consensus at
// once, one two-hop circuit per exit, and say which exits work.
//
//   exit_scan --control 127.0.0.1:9051 --cookie /run/tor/control.authcookie
//             --socks 9050 --target 127.0.0.1:8080
//
// Prints "<fingerprint> <nickname> ok <ms>" or "<fingerprint> <nickname>
// failed <reason>" per exit, then a summary. Exit status: 0 every exit
// fetched, 1 some failed, 2 the scan could not run.

#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "exit_scan.hpp"
#include "torcon/controller.hpp"
#include "torcon/reactor.hpp"
#include "torcon/tor_state.hpp"

namespace {

const char* const kUsage =
    "usage: exit_scan --socks PORT --target HOST:PORT [--control HOST:PORT|PATH]\n"
    "                 [--cookie FILE] [--password P] [--first-hop $FINGERPRINT]\n"
    "                 [--timeout SECONDS]\n";

bool parse_port(std::string_view s, std::uint16_t& out) {
  unsigned v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v == 0 || v > 65535) return false;
  out = std::uint16_t(v);
  return true;
}

// "HOST:PORT" split at the last ':'.
bool parse_host_port(std::string_view s, std::string& host, std::uint16_t& port) {
  const std::size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  host = std::string(s.substr(0, colon));
  return parse_port(s.substr(colon + 1), port);
}

int usage(const char* why) {
  std::fprintf(stderr, "exit_scan: %s\n%s", why, kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  exit_scan::ScanOptions scan;
  torcon::ControllerOptions copt;
  copt.parser.record_data_lines = true;  // TorState reads ns/all with them
  torcon::Endpoint control = torcon::Endpoint::tcp("127.0.0.1", 9051);
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (!v) return usage("an option needs a value");
    ++i;
    if (a == "--socks") {
      if (!parse_port(v, scan.socks_port)) return usage("--socks needs a port");
    } else if (a == "--target") {
      if (!parse_host_port(v, scan.target_host, scan.target_port))
        return usage("--target needs HOST:PORT");
    } else if (a == "--control") {
      std::string host;
      std::uint16_t port = 0;
      if (v[0] == '/')
        control = torcon::Endpoint::unix_socket(v);
      else if (parse_host_port(v, host, port))
        control = torcon::Endpoint::tcp(host, port);
      else
        return usage("--control needs HOST:PORT or a socket path");
    } else if (a == "--cookie") {
      copt.cookie_file = v;
    } else if (a == "--password") {
      copt.password = v;
    } else if (a == "--first-hop") {
      scan.first_hop = v;
    } else if (a == "--timeout") {
      std::uint16_t s = 0;
      if (!parse_port(v, s)) return usage("--timeout needs seconds");
      scan.timeout = std::chrono::seconds(s);
    } else {
      return usage("unknown option");
    }
  }
  if (scan.socks_port == 0) return usage("--socks is required");

  auto reactor = torcon::Reactor::create();
  if (!reactor) {
    std::fprintf(stderr, "exit_scan: %s\n", reactor.error().message.c_str());
    return 2;
  }
  torcon::Reactor& loop = **reactor;
  torcon::Controller ctl(loop, copt);
  torcon::TorState state(loop);
  int status = 2;
  ctl.connect(control, [&](const torcon::Status& s) {
    if (s) return;
    std::fprintf(stderr, "exit_scan: control port: %s\n", s.error().message.c_str());
    loop.stop();
  });
  state.attach(ctl, [&](const torcon::Status& s) {
    if (!s) {
      std::fprintf(stderr, "exit_scan: reading tor's state: %s\n", s.error().message.c_str());
      return loop.stop();
    }
    exit_scan::scan(loop, ctl, state, scan, [&](const exit_scan::ScanReport& r) {
      std::fputs(exit_scan::format_report(r).c_str(), stdout);
      std::size_t failed = 0;
      for (const auto& e : r.exits) failed += !e.ok;
      status = !r.status ? 2 : failed ? 1 : 0;
      loop.post([&] { loop.stop(); });  // after the scan has freed itself
    });
  });
  loop.run();
  return status;
}
