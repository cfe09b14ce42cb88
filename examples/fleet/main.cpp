// fleet: one thread drives many tors. Launches N standalone tors
// (DisableNetwork 1: nothing leaves the machine) from one reactor, each
// connected and authenticated, asks all of them at once who they are
// (pipelined GETINFOs), fans in their CONF_CHANGED and NOTICE events with
// the source tor named on every line, makes each tor produce some, and stops
// them all.
//
//   fleet --tors 8 [--seconds 2] [--tor /usr/bin/tor]
//
// Output: "[tor 3 :41234] pid 1234 control "127.0.0.1:41234" tor 0.4.9.11"
// per tor, then event lines such as "[tor 3 :41234] 650-Nickname=fleet3".
// Exit status: 0 every tor answered, 1 some did not, 2 the fleet did not start.

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "fleet.hpp"
#include "torcon/controller.hpp"
#include "torcon/reactor.hpp"

namespace {

using Clock = std::chrono::steady_clock;

const char* const kUsage = "usage: fleet [--tors N] [--seconds S] [--tor PATH]\n";

bool parse_count(std::string_view s, std::size_t max, std::size_t& out) {
  std::size_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v > max) return false;
  out = v;
  return true;
}

// Every line of `raw` (CRLF-terminated) with the source's name in front.
void print_tagged(const fleet::Member& m, std::string_view raw) {
  const std::string tag = "[" + m.name() + "] ";
  while (!raw.empty()) {
    std::size_t end = raw.find("\r\n");
    const std::string_view line = raw.substr(0, end);
    std::fprintf(stdout, "%s%.*s\n", tag.c_str(), int(line.size()), line.data());
    if (end == std::string_view::npos) break;
    raw.remove_prefix(end + 2);
  }
}

}  // namespace

int main(int argc, char** argv) {
  fleet::FleetOptions opts;
  std::size_t seconds = 2;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (!v) {
      std::fprintf(stderr, "fleet: %s needs a value\n%s", argv[i], kUsage);
      return 2;
    }
    ++i;
    if (a == "--tors" && parse_count(v, 1024, opts.tors) && opts.tors > 0) continue;
    if (a == "--seconds" && parse_count(v, 3600, seconds)) continue;
    if (a == "--tor") {
      opts.tor_binary = v;
      continue;
    }
    std::fprintf(stderr, "fleet: bad argument %s %s\n%s", argv[i - 1], v, kUsage);
    return 2;
  }

  auto created = torcon::Reactor::create();
  if (!created) {
    std::fprintf(stderr, "fleet: %s\n", created.error().message.c_str());
    return 2;
  }
  torcon::Reactor& reactor = **created;
  fleet::Fleet f(reactor, opts);
  int status = 0;
  std::size_t answered = 0;

  auto finish = [&](int s) {
    status = s;
    f.stop([&] { reactor.stop(); });
  };

  // Once all are up: events in, then the roll call, then make every tor talk.
  auto run_fleet = [&] {
    f.subscribe("CONF_CHANGED",
                [](const fleet::Member& m, const torcon::Reply& r) { print_tagged(m, r.raw); });
    f.subscribe("NOTICE",
                [](const fleet::Member& m, const torcon::Reply& r) { print_tagged(m, r.raw); });
    f.getinfo_all(
        {"process/pid", "net/listeners/control", "version"},
        [&](const fleet::Member& m, const torcon::Expected<torcon::KeyValues>& kv) {
          if (!kv) {
            std::fprintf(stdout, "[%s] GETINFO failed: %s\n", m.name().c_str(),
                         kv.error().message.c_str());
            return;
          }
          ++answered;
          auto get = [&](std::string_view k) {
            const std::string* v = kv->find(k);
            return v ? *v : std::string("?");
          };
          std::fprintf(stdout, "[%s] pid %s control %s tor %s\n", m.name().c_str(),
                       get("process/pid").c_str(), get("net/listeners/control").c_str(),
                       get("version").c_str());
        },
        [&] {
          for (std::size_t i = 0; i < f.size(); ++i) {
            const fleet::Member& m = f.member(i);
            const std::string nick = "fleet" + std::to_string(i);
            const std::pair<std::string_view, std::optional<std::string_view>> change[] = {
                {"Nickname", nick}};
            m.controller().setconf(change, [](const torcon::Status&) {});
            m.controller().signal("HEARTBEAT", [](const torcon::Status&) {});
          }
          reactor.start_timer(std::chrono::seconds(seconds),
                              [&] { finish(answered == f.size() ? 0 : 1); });
        });
  };

  const auto started = Clock::now();
  f.launch([&](const torcon::Status& s) {
    if (!s) {
      std::fprintf(stderr, "fleet: %s\n", s.error().message.c_str());
      return finish(2);
    }
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    std::fprintf(stdout,
                 "fleet: %zu tors launched and authenticated in %lld ms on one thread (%s)\n",
                 f.size(), static_cast<long long>(ms), torcon::to_string(reactor.backend()));
    run_fleet();
  });
  reactor.run();
  return status;
}
