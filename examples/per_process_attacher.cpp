// per_process_attacher: send the streams of one program through one circuit
// and every other stream through another, telling programs apart by which
// local process owns each stream's connection (process_from_address()).
//
//   per_process_attacher [--control HOST:PORT|PATH] --program NAME
//                        [--path HOP,HOP,...] [--others-path HOP,HOP,...] [--count N]
//   per_process_attacher --control 127.0.0.1:9051 --program curl
//
// NAME matches the executable's file name (/usr/bin/curl: "curl") or that
// of the command line's first word (for scripts run by an interpreter).
// Both circuits are built first (along the given paths, or paths tor
// chooses); then each new stream is looked up in /proc, attached, and a line
// says where it went and why. Streams whose process cannot be found (another
// user's, or already gone) go with the others. Runs until interrupted, or
// until N streams were attached and have ended (--count); then it closes its circuits
// and hands streams back to tor. Must run on the machine where the programs
// run, as a user that may read their /proc entries (the same user, or root).
// Exit status: 0 done, 1 a circuit could not be built or tor went away, 2 usage.

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/circuit.hpp"
#include "torcon/circuit_builder.hpp"
#include "torcon/controller.hpp"
#include "torcon/local_process.hpp"
#include "torcon/reactor.hpp"
#include "torcon/router.hpp"
#include "torcon/stream.hpp"
#include "torcon/stream_attacher.hpp"
#include "torcon/tor_state.hpp"

namespace {

const char* const kUsage =
    "usage: per_process_attacher [--control HOST:PORT|PATH] --program NAME\n"
    "                            [--path HOP,...] [--others-path HOP,...] [--count N]\n";

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

std::vector<std::string> split_hops(std::string_view v) {
  std::vector<std::string> hops;
  for (std::size_t start = 0; start <= v.size();) {
    const std::size_t comma = std::min(v.find(',', start), v.size());
    hops.emplace_back(v.substr(start, comma - start));
    start = comma + 1;
  }
  return hops;
}

std::string_view file_name(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string describe_path(const torcon::Circuit& c) {
  std::string out;
  for (const torcon::Router* r : c.path()) {
    if (!out.empty()) out += ",";
    out += r ? std::string(r->nickname()) : "?";
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  torcon::Endpoint control = torcon::Endpoint::tcp("127.0.0.1", 9051);
  std::string program;
  std::vector<std::string> program_path, others_path;
  long count = -1;  // forever
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc)
      return std::fprintf(stderr, "per_process_attacher: bad option %s\n%s", argv[i], kUsage), 2;
    const std::string_view v = argv[++i];
    bool ok = true;
    if (a == "--control") {
      ok = parse_endpoint(v, control);
    } else if (a == "--program") {
      program = v;
      ok = !program.empty() && program.find('/') == std::string::npos;
    } else if (a == "--path") {
      program_path = split_hops(v);  // CircuitBuilder checks each hop before sending
    } else if (a == "--others-path") {
      others_path = split_hops(v);
    } else if (a == "--count") {
      const auto r = std::from_chars(v.data(), v.data() + v.size(), count);
      ok = r.ec == std::errc() && r.ptr == v.data() + v.size() && count > 0;
    } else {
      ok = false;
    }
    if (!ok)
      return std::fprintf(stderr, "per_process_attacher: bad %s\n%s", argv[i - 1], kUsage), 2;
  }
  if (program.empty())
    return std::fprintf(stderr, "per_process_attacher: --program is required\n%s", kUsage), 2;

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  const int sfd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);

  auto reactor = torcon::Reactor::create();
  if (!reactor)
    return std::fprintf(stderr, "per_process_attacher: %s\n", reactor.error().message.c_str()), 1;
  torcon::ControllerOptions copt;
  copt.parser.record_data_lines = true;  // TorState reads the consensus with them
  torcon::Controller ctl(**reactor, copt);
  torcon::TorState state(**reactor);
  torcon::CircuitBuilder builder(**reactor, ctl, state);
  torcon::StreamAttacher attacher(state, ctl);
  std::string program_circuit, others_circuit;
  std::set<std::string> counted;  // streams attached under --count, until they end
  int status = 0;
  bool stopping = false;

  // Hands streams back to tor and closes our circuits, then ends the loop.
  auto finish = [&](int s) {
    if (stopping) return;
    stopping = true;
    status = s;
    attacher.uninstall([&](const torcon::Status&) {
      auto closed = std::make_shared<int>(0);
      const int to_close = int(!program_circuit.empty()) + int(!others_circuit.empty());
      if (to_close == 0) return (*reactor)->stop();
      for (const std::string* id : {&program_circuit, &others_circuit}) {
        if (id->empty()) continue;
        builder.close(*id, {}, [&, closed, to_close](const torcon::CircuitOutcome&) {
          if (++*closed == to_close) (*reactor)->stop();
        });
      }
    });
  };
  auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "per_process_attacher: %s\n", why.c_str());
    finish(1);
  };

  attacher.add([&](torcon::AttachRequest& req) {
    const torcon::Stream& s = req.stream();
    // A blocking scan of /proc, inside the event's handling: a few
    // milliseconds per stream, which suits a desktop; a busy relay host
    // would defer() and look up off the loop thread.
    torcon::LocalProcessOptions lookup;
    lookup.tor_pid = state.tor_pid();
    const auto owner = torcon::process_of_stream(s, lookup);
    bool mine = false;
    std::string who;
    if (owner) {
      std::string_view first;  // the command line's first word, if any
      if (!owner->command_line.empty()) first = owner->command_line[0];
      mine = file_name(owner->executable) == program || file_name(first) == program;
      who = "pid " + std::to_string(owner->pid) + " (" +
            (owner->executable.empty() ? std::string(first) : owner->executable) + ")";
    } else {
      who = "unknown process (" + owner.error().message + ")";
    }
    const std::string& circuit = mine ? program_circuit : others_circuit;
    std::printf("stream %s to %s from %s -> circuit %s (%s)\n", std::string(s.id()).c_str(),
                std::string(s.target()).c_str(), who.c_str(), circuit.c_str(),
                mine ? program.c_str() : "others");
    std::fflush(stdout);
    if (count > 0) {
      --count;
      counted.emplace(s.id());
    }
    return torcon::AttachDecision::circuit(circuit);
  });
  // With --count, stop once the last counted stream has ended: closing our
  // circuits earlier would cut it off.
  state.on_stream([&](const torcon::Stream& s, torcon::StreamChanges what) {
    if (!(what & torcon::stream_removed) || !counted.erase(std::string(s.id()))) return;
    if (count == 0 && counted.empty()) finish(0);
  });
  attacher.on_report([](const torcon::AttachReport& r) {
    std::fprintf(stderr, "per_process_attacher: %s: %.*s\n", torcon::to_string(r.kind),
                 int(r.message.size()), r.message.data());
  });

  (*reactor)->watch_readable(sfd, [&] {
    (*reactor)->unwatch(sfd);
    finish(0);
  });
  ctl.on_disconnect([&](const torcon::Error& e) {
    if (stopping) return;
    std::fprintf(stderr, "per_process_attacher: connection to tor lost: %s\n", e.message.c_str());
    status = 1;
    stopping = true;
    (*reactor)->stop();
  });
  auto build = [&](const std::vector<std::string>& path, std::string& id, const char* name,
                   std::function<void()> next) {
    builder.build(path, {}, [&, name, next](const torcon::CircuitOutcome& r) {
      if (!r) return fail(std::string("building the circuit for ") + name + ": " + r.error.message);
      id = r.id;
      std::printf("circuit %s for %s: %s\n", id.c_str(), name, describe_path(*r.circuit).c_str());
      next();
    });
  };
  ctl.connect(control, [&](const torcon::Status& s) {
    if (!s) return fail("cannot connect to tor: " + s.error().message);
    state.attach(ctl, [&](const torcon::Status& a) {
      if (!a) return fail("reading tor's state: " + a.error().message);
      build(program_path, program_circuit, program.c_str(), [&] {
        build(others_path, others_circuit, "others", [&] {
          attacher.install([&](const torcon::Status& in) {
            if (!in) return fail("installing the stream attacher: " + in.error().message);
            std::printf("attaching streams\n");
            std::fflush(stdout);
          });
        });
      });
    });
  });
  (*reactor)->run();
  return status;
}
