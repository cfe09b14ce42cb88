// torcon-monitor: a live view of a tor in the terminal (in the spirit of
// nyx), built on torcon's TorState and Controller.
//
//   torcon-monitor                         launch a private Tor network, drive a
//                                          little traffic through it, show it
//   torcon-monitor --control 127.0.0.1:9051 [--cookie FILE | --password P]
//   torcon-monitor --once ...              one plain snapshot, then exit
//
// On a terminal it draws in place (tools/monitor/terminal.hpp): keys 1-4
// switch views (overview and bandwidth graph, circuits and streams, guards
// and address map, log), q quits, the frame follows the terminal's size.
// When stdout is not a terminal it prints a plain snapshot every --interval
// seconds instead; --once prints one, once the state is complete (and, on the
// private network, once fetches went through it) and exits.
//
// Exit status: 0 normal end; 1 tor could not be reached or went away, the
// private network did not start, or --once gave up waiting; 2 bad usage.

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "control_option.hpp"
#include "monitor/live_feed.hpp"
#include "monitor/private_network.hpp"
#include "monitor/relay_countries.hpp"
#include "monitor/render.hpp"
#include "monitor/snapshot.hpp"
#include "monitor/stream_processes.hpp"
#include "monitor/terminal.hpp"
#include "monitor/traffic.hpp"
#include "torcon/controller.hpp"
#include "torcon/geoip.hpp"
#include "torcon/reactor.hpp"
#include "torcon/tor_state.hpp"
#include "version_option.hpp"

namespace {

using namespace torcon;
using namespace torcon::monitor;
using std::chrono::system_clock;

constexpr const char* kUsage =
    "usage: torcon-monitor [OPTIONS]\n"
    "\n"
    "A live view of a tor: version, bootstrap, uptime, traffic with a bandwidth\n"
    "graph, circuits with their paths and streams, entry guards, the address map\n"
    "and recent log messages.\n"
    "\n"
    "options:\n"
    "  --control HOST:PORT   attach to a running tor's control port (127.0.0.1:9051,\n"
    "  --control PATH        [::1]:9051) or ControlSocket (any value containing '/');\n"
    "                        without it: launch a private Tor network on 127.0.0.1,\n"
    "                        fetch through it every few seconds and show its client\n"
    "  --password P          authenticate with HASHEDPASSWORD\n"
    "  --cookie FILE         read the auth cookie from FILE (SAFECOOKIE/COOKIE)\n"
    "  --geoip FILE.mmdb     a MaxMind database for the relays' country codes;\n"
    "                        default (and where it has no answer): tor's geoip files\n"
    "                        (Debian's tor-geoipdb), then tor (GETINFO ip-to-country)\n"
    "  --base-port N         the private network's first port (default: the first\n"
    "                        free range from 16000)\n"
    "  --once                print one plain snapshot and exit\n"
    "  --interval S          seconds between plain snapshots when stdout is not a\n"
    "                        terminal (default 5)\n"
    "  --version             print torcon-monitor's version\n"
    "  -h, --help            this text\n"
    "\n"
    "keys: 1 overview and bandwidth graph, 2 circuits and streams, 3 guards and\n"
    "address map, 4 log, q quit.\n"
    "\n"
    "exit status: 0 normal end, 1 tor unreachable or gone (or --once gave up),\n"
    "2 bad usage.\n";

struct Options {
  std::optional<Endpoint> control;
  std::string password, cookie_file, geoip;
  std::uint16_t base_port = 0;
  bool once = false;
  std::chrono::milliseconds interval{5000};
};

void say(std::string_view msg) {
  std::string line = "torcon-monitor: ";
  line.append(msg).push_back('\n');
  (void)!::write(STDERR_FILENO, line.data(), line.size());
}

// "" and fills `o`, or the usage error; `help` set for --help.
std::string parse_args(int argc, char** argv, Options& o, bool& help) {
  bool password_given = false, cookie_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "-h" || a == "--help") {
      help = true;
      return {};
    }
    if (a == "--once") {
      o.once = true;
      continue;
    }
    std::string_view name = a;
    std::optional<std::string_view> value;
    if (const std::size_t eq = a.find('='); a.starts_with("--") && eq != std::string_view::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    }
    if (name != "--control" && name != "--password" && name != "--cookie" && name != "--geoip" &&
        name != "--interval" && name != "--base-port")
      return "unknown argument \"" + std::string(a) + "\"";
    if (!value) {
      if (i + 1 >= argc) return std::string(name) + " needs a value";
      value = argv[++i];
    }
    if (name == "--control") {
      Endpoint e = Endpoint::tcp("127.0.0.1", 9051);
      if (std::optional<std::string> err = tools::parse_control_option(*value, e)) return *err;
      o.control = std::move(e);
    } else if (name == "--password") {
      o.password = std::string(*value);
      password_given = true;
    } else if (name == "--cookie") {
      if (value->empty()) return "--cookie: empty file name";
      o.cookie_file = std::string(*value);
      cookie_given = true;
    } else if (name == "--geoip") {
      // Opened here once to refuse a missing or damaged database before
      // anything starts; the monitor opens it again with its Controller.
      GeoIpOptions g;
      g.mmdb_files = {std::string(*value)};
      g.use_tor_geoip_files = false;
      if (Expected<GeoIpLocator> l = GeoIpLocator::open(std::move(g)); !l)
        return "--geoip: " + l.error().message;
      o.geoip = std::string(*value);
    } else if (name == "--base-port") {
      std::uint16_t port = 0;
      if (!tools::parse_port(*value, port) || port < 1024)
        return "--base-port: expected a port from 1024 to 65535, got \"" + std::string(*value) +
               "\"";
      o.base_port = port;
    } else if (name == "--interval") {
      // Seconds, with an optional fraction: 0.1 .. 3600.
      char* end = nullptr;
      const std::string text(*value);
      const double s = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size() || !(s >= 0.1 && s <= 3600))
        return "--interval: expected seconds from 0.1 to 3600, got \"" + text + "\"";
      o.interval = std::chrono::milliseconds(static_cast<long long>(s * 1000));
    }
  }
  if (password_given && cookie_given) return "--password and --cookie exclude each other";
  if (!o.control && (password_given || cookie_given))
    return "--password and --cookie go with --control (the private network's cookie is known)";
  if (o.control && o.base_port) return "--base-port is for the private network, not --control";
  return {};
}

std::atomic<bool> g_interrupted{false};
void on_signal(int) { g_interrupted.store(true); }

std::string utc_now_text() {
  const std::time_t t = system_clock::to_time_t(system_clock::now());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

void print(std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

bool countries_pending(const Snapshot& snap) {
  for (const CircuitView& c : snap.circuits)
    for (const HopView& h : c.path)
      if (h.country.empty()) return true;
  for (const GuardView& g : snap.guards)
    if (g.country.empty() && !g.fingerprint.empty()) return true;
  return false;
}

// A stream of ours that tor carries: what --once waits for on the private network.
bool shows_user_stream(const Snapshot& snap) {
  for (const CircuitView& c : snap.circuits)
    for (const StreamView& s : c.streams)
      if (s.state == "SUCCEEDED" && s.source != "(Tor_internal)") return true;
  return false;
}

int run(const Options& opt) {
  // Ctrl-C while the private network starts cancels the start.
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);

  std::unique_ptr<PrivateNetwork> net;
  TrafficDriver traffic;
  Endpoint endpoint = opt.control ? *opt.control : Endpoint::tcp("127.0.0.1", 9051);
  ControllerOptions co;
  co.password = opt.password;
  co.cookie_file = opt.cookie_file;
  if (!opt.control) {
    say("starting a private Tor network on 127.0.0.1 (about 15 s) ...");
    Expected<std::unique_ptr<PrivateNetwork>> started =
        PrivateNetwork::start(opt.base_port, &g_interrupted, [](std::string_view l) { say(l); });
    if (!started) {
      say("the private network did not start: " + started.error().message);
      return 1;
    }
    net = std::move(*started);
    const testnet::Node& client = net->network().client();
    say("private network up in " + net->network().dir + " (ports " +
        std::to_string(net->network().base_port) + "+); fetching through its SocksPort " +
        std::to_string(client.socks_port));
    endpoint = client.control();
    co.cookie_file = client.cookie_file;
  }

  // From here on, signals arrive on a signalfd in the loop, so every way out
  // runs the same cleanup (the terminal restored, the network stopped).
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGWINCH}) sigaddset(&mask, s);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  const int sig_fd = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (g_interrupted) return 1;

  Expected<std::unique_ptr<Reactor>> reactor = Reactor::create();
  if (!reactor) {
    say("event loop: " + reactor.error().message);
    return 1;
  }
  Reactor& loop = **reactor;

  LiveFeed feed;
  StreamProcesses processes;
  std::optional<RelayCountries> countries;  // outlives the Controller's callbacks
  Controller ctl(loop, co);
  {
    Expected<RelayCountries> c = RelayCountries::open(opt.geoip, ctl);
    if (!c) {
      say("country codes: " + c.error().message);
      return 1;
    }
    countries.emplace(std::move(*c));
  }
  TorState state(loop);
  state.on_address_map(
      [&](const AddressMapping& m, AddressMapChange c) { feed.note_mapping(m, c); });

  std::string failure;
  int status = 0;
  bool state_ready = false, info_ready = false;
  auto fail = [&](std::string why) {
    if (failure.empty()) failure = std::move(why);
    status = 1;
    loop.stop();
  };
  bool closing = false;
  ctl.on_disconnect([&](const Error& e) {
    if (!closing) fail("connection to tor closed: " + e.message);
  });
  ctl.connect(endpoint, [&](const Status& s) {
    if (!s) return fail("cannot connect to tor: " + s.error().message);
    for (std::string_view ev : LiveFeed::kEvents)
      ctl.subscribe_typed(ev, [&](const Event& e) { feed.apply(e, system_clock::now()); });
    state.attach(ctl, [&](const Status& a) {
      if (!a) return fail("reading tor's state: " + a.error().message);
      state_ready = true;
      // The traffic starts once TorState follows events, so that its streams
      // are seen from NEW on, with the source address that names their process.
      if (net)
        if (std::string e =
                traffic.start(net->network().client().socks_port, std::chrono::seconds(3));
            !e.empty())
          fail(e);
    });
    ctl.getinfo(std::span<const std::string_view>(LiveFeed::kGetinfoKeys),
                [&](const Expected<KeyValues>& kv) {
                  if (!kv) return fail("GETINFO: " + kv.error().message);
                  feed.apply_getinfo(*kv, system_clock::now());
                  info_ready = true;
                });
  });

  Lookups lookups;
  lookups.country = [&](const Router& r) { return countries->country(r); };
  lookups.process = [&](const Stream& s) { return processes.process(s, state.tor_pid()); };
  auto snapshot = [&] {
    Snapshot snap = capture(state, feed, system_clock::now(), lookups);
    if (ctl.ready()) countries->ask_missing(state);
    return snap;
  };

  std::string term_error;
  std::optional<Terminal> term =
      opt.once ? std::nullopt : Terminal::open(STDIN_FILENO, STDOUT_FILENO, term_error);
  View view = View::overview;
  auto draw = [&] {
    if (!term) return;
    int w = 80, h = 24;
    term->size(w, h);
    term->draw(render_view(snapshot(), view, w, h));
  };

  if (sig_fd >= 0)
    (void)loop.watch_readable(sig_fd, [&] {
      signalfd_siginfo si;
      while (::read(sig_fd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGWINCH)
          draw();
        else
          loop.stop();
      }
    });
  if (term)
    (void)loop.watch_readable(STDIN_FILENO, [&] {
      char keys[64];
      const ssize_t n = ::read(STDIN_FILENO, keys, sizeof keys);
      // With VMIN 0 an empty read is not an end; an error other than "try
      // again" is (the terminal hung up: EIO).
      if (n < 0 && errno != EAGAIN && errno != EINTR) return loop.stop();
      for (ssize_t i = 0; i < n; ++i) {
        switch (keys[i]) {
          case '1': view = View::overview; break;
          case '2': view = View::circuits; break;
          case '3': view = View::guards; break;
          case '4': view = View::log; break;
          case 'q':
          case 'Q': return loop.stop();
          default: break;
        }
      }
      draw();
    });

  // The clock of everything else: redraws, plain snapshots, --once.
  const auto started = std::chrono::steady_clock::now();
  auto last_print = started - opt.interval;
  std::optional<std::chrono::steady_clock::time_point> once_ready;
  const auto once_limit = net ? std::chrono::seconds(120) : std::chrono::seconds(30);
  (void)loop.start_repeating_timer(std::chrono::milliseconds(250), [&] {
    const auto now = std::chrono::steady_clock::now();
    const bool ready = state_ready && info_ready;
    if (term) {
      if (now - last_print >= std::chrono::seconds(1)) {
        last_print = now;
        draw();
      }
      return;
    }
    if (!opt.once) {
      if (ready && now - last_print >= opt.interval) {
        last_print = now;
        print("---- " + utc_now_text() + "\n" + render_text(snapshot()) + "\n");
      }
      return;
    }
    // --once: the state complete; on the private network also a fetch done,
    // the long download open and traffic in a BW event; then up to 2 s more
    // for tor to name the relays' countries.
    auto traffic_seen = [&] {
      for (const BandwidthSample& b : feed.bandwidth())
        if (b.read > 0) return true;
      return false;
    };
    if (ready &&
        (!net || (traffic.fetches_completed() >= 1 && traffic.streaming() && traffic_seen()))) {
      Snapshot snap = snapshot();
      if (!net || shows_user_stream(snap)) {
        if (!once_ready) once_ready = now;
        if (!countries_pending(snap) || now - *once_ready >= std::chrono::seconds(2)) {
          print(render_text(snap));
          return loop.stop();
        }
      }
    }
    if (now - started >= once_limit) {
      print(render_text(snapshot()));
      std::string why =
          "--once: gave up waiting after " +
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(once_limit).count()) +
          " s for ";
      why += !ready ? std::string("tor's state") : "fetches through the private network";
      if (net && !traffic.last_error().empty()) why += " (last: " + traffic.last_error() + ")";
      fail(why);
    }
  });

  loop.run();
  if (term) term->restore();
  closing = true;
  state.detach();
  ctl.close();
  traffic.stop();
  if (net) {
    say("stopping the private network ...");
    net.reset();
  }
  if (sig_fd >= 0) ::close(sig_fd);
  if (!failure.empty()) say(failure);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  if (torcon::tools::print_version_if_asked(argc, argv, "torcon-monitor")) return 0;
  Options opt;
  bool help = false;
  if (std::string err = parse_args(argc, argv, opt, help); !err.empty()) {
    say(err);
    std::fputs("try torcon-monitor --help\n", stderr);
    return 2;
  }
  if (help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  return run(opt);
}
