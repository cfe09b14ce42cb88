// events: print the events of the chosen types that a running tor emits, one
// line each, as they arrive (control-spec 4.1).
//
//   events [--control HOST:PORT|PATH] [--count N] EVENT...
//   events --control 127.0.0.1:9051 CIRC STREAM BW
//
// Authenticates as tor offers (cookie via PROTOCOLINFO, or none). A
// multi-line event (NS, NEWCONSENSUS, ...) is printed with its lines
// joined. Stops after N events with --count, else runs until tor closes the
// connection or the program is interrupted. Exit status: 0 done, 1 the
// connection or a subscription failed (an unknown event name, say), 2 usage.

#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/controller.hpp"
#include "torcon/reactor.hpp"
#include "torcon/reply.hpp"

namespace {

const char* const kUsage = "usage: events [--control HOST:PORT|PATH] [--count N] EVENT...\n";

// "HOST:PORT" (split at the last ':') or an absolute Unix socket path.
bool parse_endpoint(std::string_view s, torcon::Endpoint& out) {
  if (!s.empty() && s.front() == '/') {
    out = torcon::Endpoint::unix_socket(std::string(s));
    return true;
  }
  const std::size_t colon = s.rfind(':');
  unsigned port = 0;
  if (colon == std::string_view::npos || colon == 0) return false;
  const auto r = std::from_chars(s.data() + colon + 1, s.data() + s.size(), port);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || port == 0 || port > 65535)
    return false;
  out = torcon::Endpoint::tcp(std::string(s.substr(0, colon)), std::uint16_t(port));
  return true;
}

// The event as one line: its text, then any data block's lines.
void print_event(const torcon::Reply& event) {
  std::string line;
  for (const torcon::ReplyLine& l : event.lines) {
    if (!line.empty()) line += ' ';
    line += l.text;
    if (l.sep == torcon::Sep::data) {
      torcon::DataLines data(l.data);
      for (std::string_view d; data.next(d);) (line += " | ") += d;
    }
  }
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  torcon::Endpoint control = torcon::Endpoint::tcp("127.0.0.1", 9051);
  long count = -1;  // forever
  std::vector<std::string> events;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--control" || a == "--count") {
      if (i + 1 >= argc)
        return std::fprintf(stderr, "events: %s needs a value\n%s", argv[i], kUsage), 2;
      const std::string_view v = argv[++i];
      if (a == "--control" && !parse_endpoint(v, control))
        return std::fprintf(stderr, "events: --control needs HOST:PORT or a socket path\n"), 2;
      if (a == "--count") {
        const auto r = std::from_chars(v.data(), v.data() + v.size(), count);
        if (r.ec != std::errc() || r.ptr != v.data() + v.size() || count <= 0)
          return std::fprintf(stderr, "events: --count needs a positive number\n"), 2;
      }
      continue;
    }
    events.emplace_back(a);
  }
  if (events.empty()) return std::fprintf(stderr, "events: name at least one event\n%s", kUsage), 2;

  auto reactor = torcon::Reactor::create();
  if (!reactor) return std::fprintf(stderr, "events: %s\n", reactor.error().message.c_str()), 1;
  torcon::Controller ctl(**reactor);
  int status = 0;
  auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "events: %s\n", why.c_str());
    status = 1;
    (*reactor)->stop();
  };
  ctl.on_disconnect([&](const torcon::Error& e) {
    if (status == 0 && count != 0) fail("connection to tor lost: " + e.message);
  });
  ctl.connect(control, [&](const torcon::Status& s) {
    if (!s) return fail("cannot connect to tor: " + s.error().message);
    for (const std::string& name : events) {
      // Subscribing names tor does not know fails with tor's 552 reply.
      ctl.subscribe(
          name,
          [&](const torcon::Reply& event) {
            if (count == 0 || status != 0) return;  // done, or failing
            print_event(event);
            if (count > 0 && --count == 0) (*reactor)->stop();
          },
          [&, name](const torcon::Status& sub) {
            if (!sub) fail("cannot subscribe to " + name + ": " + sub.error().message);
          });
    }
  });
  (*reactor)->run();
  return status;
}
