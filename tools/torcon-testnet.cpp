// torcon-testnet: a private Tor network on 127.0.0.1 from the shell.
//
//   torcon-testnet start DIR [options]   start, return once usable (tors keep running)
//   torcon-testnet run DIR [options]     start, print the env, stop on Ctrl-C/SIGTERM
//   torcon-testnet status DIR            which nodes run, client bootstrap
//   torcon-testnet env DIR               shell variables: eval "$(torcon-testnet env DIR)"
//   torcon-testnet stop DIR              stop exactly the tors of DIR
//
// Exit status 0 on success, 1 on failure with a one-line reason on stderr.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "torcon/testnet.hpp"
#include "version_option.hpp"

namespace tn = torcon::testnet;

namespace {

std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);  // touched by a signal handler

void on_signal(int) { g_interrupted.store(true); }

const char* const kUsage =
    "usage: torcon-testnet start|run DIR [--base-port P] [--relays N] [--clients M]\n"
    "                      [--authorities A] [--timeout S] [--keep-on-failure]\n"
    "                      [--fresh-keys] [--torrc LINE]... [--tor PATH]\n"
    "                      [--tor-gencert PATH] [--exit POLICY]...\n"
    "                      [--distinct-addresses] [--quiet]\n"
    "       torcon-testnet status|env|stop DIR\n"
    "       torcon-testnet --version\n"
    "\n"
    "  start   build the network in DIR and return once it is usable; the tors\n"
    "          keep running (stop them with 'stop')\n"
    "  run     like start, then print the env and stop on Ctrl-C or SIGTERM\n"
    "  status  which nodes run, and the first client's bootstrap\n"
    "  env     shell variables: eval \"$(torcon-testnet env DIR)\"\n"
    "  stop    SIGTERM (then SIGKILL) exactly the tors started in DIR\n"
    "\n"
    "Defaults: base port 15000, 3 authorities, 2 middle relays + 1 exit,\n"
    "1 client, timeout 120 s. Everything binds to 127.0.0.1 only.\n"
    "\n"
    "  --exit POLICY         one exit per --exit (replacing the default one),\n"
    "                        with this ExitPolicy: comma-separated rules, e.g.\n"
    "                        'accept *:*' or 'reject *:8080,accept *:*';\n"
    "                        'loopback' = the default 'accept 127.0.0.0/8:*,\n"
    "                        reject *:*'. Exits with a policy of their own bind\n"
    "                        outgoing connections to their loopback address, so\n"
    "                        nothing leaves the machine.\n"
    "  --distinct-addresses  each authority, relay and exit on its own address,\n"
    "                        127.0.0.2, 127.0.0.3, ... (control and SOCKS ports\n"
    "                        stay on 127.0.0.1)\n";

int fail(const std::string& why) {
  std::string line = why;
  for (char& c : line)
    if (c == '\n') c = ' ';
  std::fprintf(stderr, "torcon-testnet: %s\n", line.c_str());
  return 1;
}

bool parse_int(std::string_view s, long lo, long hi, long& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && out >= lo && out <= hi;
}

void install_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
}

int do_stop(const std::string& dir) {
  auto r = tn::stop(dir);
  if (!r) return fail("stop: " + r.error().message);
  std::fprintf(stderr, "torcon-testnet: stopped %d tor process(es)%s in %lld ms\n",
               r->stopped + r->killed,
               r->killed ? (" (" + std::to_string(r->killed) + " with SIGKILL)").c_str() : "",
               static_cast<long long>(r->took.count()));
  return 0;
}

int do_start(const std::string& cmd, const std::string& dir, int argc, char** argv) {
  tn::Options o;
  o.dir = dir;
  bool quiet = false;
  std::vector<tn::ExitOptions> exits;
  for (int i = 3; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](long lo, long hi, long& out) {
      if (i + 1 >= argc || !parse_int(argv[i + 1], lo, hi, out)) return false;
      ++i;
      return true;
    };
    long v = 0;
    if (a == "--base-port") {
      if (!value(1024, 65535, v)) return fail("--base-port needs a number 1024..65535");
      o.base_port = std::uint16_t(v);
    } else if (a == "--relays") {
      if (!value(0, 20, v)) return fail("--relays needs a number 0..20");
      o.relays = int(v);
    } else if (a == "--clients") {
      if (!value(1, 20, v)) return fail("--clients needs a number 1..20");
      o.clients = int(v);
    } else if (a == "--authorities") {
      if (!value(1, 9, v)) return fail("--authorities needs a number 1..9");
      o.authorities = int(v);
    } else if (a == "--timeout") {
      if (!value(1, 3600, v)) return fail("--timeout needs seconds 1..3600");
      o.timeout = std::chrono::seconds(v);
    } else if (a == "--keep-on-failure") {
      o.keep_on_failure = true;
    } else if (a == "--fresh-keys") {
      o.reuse_keys = false;
    } else if (a == "--torrc") {
      if (i + 1 >= argc) return fail("--torrc needs a torrc line");
      o.extra_torrc.emplace_back(argv[++i]);
    } else if (a == "--tor" || a == "--tor-gencert") {
      if (i + 1 >= argc) return fail(std::string(a) + " needs a path");
      (a == "--tor" ? o.tor : o.tor_gencert) = argv[++i];
    } else if (a == "--exit") {
      if (i + 1 >= argc) return fail("--exit needs a policy ('loopback', 'accept *:*', ...)");
      std::string policy = argv[++i];
      exits.push_back(tn::ExitOptions{policy == "loopback" ? std::string() : policy});
    } else if (a == "--distinct-addresses") {
      o.distinct_addresses = true;
    } else if (a == "--quiet") {
      quiet = true;
    } else {
      return fail("unknown option " + std::string(a) + " (see --help)");
    }
  }
  if (!exits.empty()) o.exits = std::move(exits);
  if (!quiet) {
    o.log = [](std::string_view line) {
      std::fprintf(stderr, "torcon-testnet: %.*s\n", int(line.size()), line.data());
    };
  }
  install_handlers();
  o.cancel = &g_interrupted;
  auto net = tn::start(o);
  if (!net) return fail("start: " + net.error().message);
  if (cmd == "start") return 0;

  std::cout << net->env() << std::flush;
  std::fprintf(stderr, "torcon-testnet: running; Ctrl-C or SIGTERM stops it\n");
  while (!g_interrupted.load()) {
    // A plain sleep: the handler only sets the flag, and a 100 ms reaction
    // time is fine for a foreground test network.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::fprintf(stderr, "torcon-testnet: stopping\n");
  return do_stop(net->dir);
}

int do_status(const std::string& dir) {
  auto r = tn::status(dir);
  if (!r) return fail("status: " + r.error().message);
  int running = 0;
  for (const tn::NodeState& n : r->nodes) {
    if (n.pid > 0) {
      ++running;
      std::printf("%s running pid=%d\n", n.name.c_str(), int(n.pid));
    } else {
      std::printf("%s stopped\n", n.name.c_str());
    }
  }
  if (r->client_bootstrap >= 0)
    std::printf("client bootstrap: %d%%%s\n", r->client_bootstrap,
                r->client_circuit ? ", circuit built" : "");
  else
    std::printf("client bootstrap: unknown (client not reachable)\n");
  return 0;
}

int do_env(const std::string& dir) {
  auto net = tn::load(dir);
  if (!net) return fail("env: " + net.error().message);
  std::cout << net->env();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (torcon::tools::print_version_if_asked(argc, argv, "torcon-testnet")) return 0;
  if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
                    std::strcmp(argv[1], "help") == 0)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (argc < 3) {
    std::fputs(kUsage, stderr);
    return 1;
  }
  std::string cmd = argv[1], dir = argv[2];
  if (cmd == "start" || cmd == "run") return do_start(cmd, dir, argc, argv);
  if (argc != 3) return fail("'" + cmd + "' takes only DIR (see --help)");
  if (cmd == "stop") return do_stop(dir);
  if (cmd == "status") return do_status(dir);
  if (cmd == "env") return do_env(dir);
  return fail("unknown command '" + cmd + "' (see --help)");
}
