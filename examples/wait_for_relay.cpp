// wait_for_relay: block until a relay with the given fingerprint is in the
// consensus a running tor uses, then print its nickname and address.
//
//   wait_for_relay [--control HOST:PORT|PATH] [--timeout SECONDS] FINGERPRINT
//   wait_for_relay --control 127.0.0.1:9051 '$ABCD...'      # 40 hex digits, '$' optional
//
// Asks tor (GETINFO ns/id/FP) now and again on every NEWCONSENSUS event, so
// it returns as soon as a consensus lists the relay. Exit status: 0 the relay
// is there, 1 not there before the timeout (or the connection failed),
// 2 usage.

#include <charconv>
#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "torcon/controller.hpp"
#include "torcon/reactor.hpp"
#include "torcon/tokens.hpp"

namespace {

using Clock = std::chrono::steady_clock;

const char* const kUsage =
    "usage: wait_for_relay [--control HOST:PORT|PATH] [--timeout SECONDS] FINGERPRINT\n";

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

// The "r" line of a router status entry: "r nickname identity digest date
// time address orport dirport" (control-spec, dir-spec 3.4.1).
std::string describe_r_line(const std::string& entry) {
  const std::size_t r = entry.rfind("r ", 0) == 0 ? 0 : entry.find("\nr ");
  if (r == std::string::npos) return entry;
  const std::size_t start = r == 0 ? 2 : r + 3;
  const std::string line = entry.substr(start, entry.find('\n', start) - start);
  std::string fields[8];
  std::size_t n = 0, pos = 0;
  while (n < 8 && pos <= line.size()) {
    const std::size_t sp = line.find(' ', pos);
    fields[n++] = line.substr(pos, sp == std::string::npos ? std::string::npos : sp - pos);
    if (sp == std::string::npos) break;
    pos = sp + 1;
  }
  if (n < 7) return line;
  return fields[0] + " at " + fields[5] + ":" + fields[6];
}

}  // namespace

int main(int argc, char** argv) {
  torcon::Endpoint control = torcon::Endpoint::tcp("127.0.0.1", 9051);
  std::chrono::seconds timeout{600};
  std::string fingerprint;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--control" || a == "--timeout") {
      if (i + 1 >= argc)
        return std::fprintf(stderr, "wait_for_relay: %s needs a value\n", argv[i]), 2;
      const std::string_view v = argv[++i];
      if (a == "--control") {
        if (!parse_endpoint(v, control))
          return std::fprintf(stderr, "wait_for_relay: --control needs HOST:PORT or a path\n"), 2;
      } else {
        unsigned s = 0;
        const auto r = std::from_chars(v.data(), v.data() + v.size(), s);
        if (r.ec != std::errc() || r.ptr != v.data() + v.size() || s == 0)
          return std::fprintf(stderr, "wait_for_relay: --timeout needs seconds\n"), 2;
        timeout = std::chrono::seconds(s);
      }
      continue;
    }
    if (!fingerprint.empty()) return std::fprintf(stderr, "%s", kUsage), 2;
    fingerprint = std::string(a.substr(a.rfind('$', 0) == 0 ? 1 : 0));
    // Checked before it goes into a command: 40 hex digits, nothing else.
    if (!torcon::is_hex_identity(fingerprint))
      return std::fprintf(stderr, "wait_for_relay: %s is not a fingerprint (40 hex digits)\n",
                          argv[i]),
             2;
    for (char& c : fingerprint) c = char(c >= 'a' && c <= 'f' ? c - 'a' + 'A' : c);
  }
  if (fingerprint.empty()) return std::fprintf(stderr, "%s", kUsage), 2;

  auto reactor = torcon::Reactor::create();
  if (!reactor)
    return std::fprintf(stderr, "wait_for_relay: %s\n", reactor.error().message.c_str()), 1;
  torcon::Controller ctl(**reactor);
  const auto started = Clock::now();
  int status = 1;
  bool done = false, asking = false, ask_again = false;
  auto finish = [&](int s, const std::string& message) {
    if (done) return;
    done = true;
    std::fprintf(s == 0 ? stdout : stderr, "%s\n", message.c_str());
    status = s;
    (*reactor)->stop();
  };
  // One GETINFO at a time; a consensus arriving meanwhile asks once more.
  std::function<void()> ask = [&] {
    if (asking) {
      ask_again = true;
      return;
    }
    asking = true;
    const std::string key = "ns/id/" + fingerprint;
    ctl.getinfo({key}, [&, key](const torcon::Expected<torcon::KeyValues>& kv) {
      asking = false;
      const std::string* entry = kv ? kv->find(key) : nullptr;
      if (entry && !entry->empty()) {
        const auto secs =
            std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started).count();
        return finish(0, "$" + fingerprint + " " + describe_r_line(*entry) +
                             " is in the consensus (waited " + std::to_string(secs) + " s)");
      }
      // 552 "Unrecognized key": not in the consensus yet; others are real errors.
      if (!kv && kv.error().code != torcon::Errc::tor_error)
        return finish(1, "wait_for_relay: " + kv.error().message);
      if (ask_again) {
        ask_again = false;
        ask();
      }
    });
  };
  ctl.on_disconnect([&](const torcon::Error& e) {
    finish(1, "wait_for_relay: connection to tor lost: " + e.message);
  });
  ctl.connect(control, [&](const torcon::Status& s) {
    if (!s) return finish(1, "wait_for_relay: cannot connect to tor: " + s.error().message);
    ctl.subscribe("NEWCONSENSUS", [&](const torcon::Reply&) { ask(); });
    ask();
  });
  (*reactor)->start_timer(timeout, [&] {
    finish(1, "wait_for_relay: $" + fingerprint + " is not in the consensus after " +
                  std::to_string(timeout.count()) + " s");
  });
  (*reactor)->run();
  return status;
}
