// What the benchmarks against a real tor share: one tor per program
// (DisableNetwork 1, launched on first use), reactors of a chosen backend,
// running a reactor until something happened, and tor's CPU time (the part
// of the wall time that is tor's, when it shares the CPUs with others).
#pragma once

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "torcon/launch.hpp"
#include "torcon/reactor.hpp"

namespace torcon::bench {

/// One tor for the whole program, on its own reactor.
struct SharedTor {
  std::unique_ptr<Reactor> reactor;
  std::unique_ptr<TorProcess> tor;
  std::string error;  // why there is no tor

  SharedTor() {
    auto r = Reactor::create();
    if (!r) {
      error = r.error().message;
      return;
    }
    reactor = std::move(*r);
    LaunchOptions o;
    o.torrc = {"DisableNetwork 1"};
    o.wait_for_bootstrap = false;
    bool done = false;
    launch_tor(*reactor, o, [&](Expected<std::unique_ptr<TorProcess>> t) {
      done = true;
      if (t)
        tor = std::move(*t);
      else
        error = t.error().message;
    });
    while (!done) reactor->run_once(std::chrono::milliseconds(50));
  }
  ~SharedTor() {
    if (!tor) return;
    bool stopped = false;
    tor->stop([&] { stopped = true; });
    while (!stopped) reactor->run_once(std::chrono::milliseconds(50));
  }
};

/// The program's tor, launched on the first call (check `tor`, else `error`).
inline SharedTor& shared_tor() {
  static SharedTor t;
  return t;
}

/// A reactor of backend `c`, or null after skipping `st` (io_uring refused
/// is a skip, not a fallback: the numbers would be epoll's).
inline std::unique_ptr<Reactor> make_reactor(benchmark::State& st, ReactorOptions::Choice c) {
  ReactorOptions ro;
  ro.backend = c;
  auto r = Reactor::create(ro);
  if (!r) {
    st.SkipWithError(r.error().message.c_str());
    return nullptr;
  }
  if (c == ReactorOptions::Choice::uring && (*r)->backend() != BackendKind::uring) {
    st.SkipWithError(("io_uring unavailable: " + (*r)->fallback_reason()).c_str());
    return nullptr;
  }
  return std::move(*r);
}

/// Runs the loop until `pred()` holds.
template <class Pred>
void run_until(Reactor& r, Pred pred) {
  while (!pred()) r.run_once(std::chrono::milliseconds(100));
}

/// The shared tor's CPU time (user + system) so far, in milliseconds; 0
/// when /proc does not say.
inline double tor_cpu_ms() {
  std::FILE* f =
      std::fopen(("/proc/" + std::to_string(shared_tor().tor->pid()) + "/stat").c_str(), "r");
  if (!f) return 0;
  char buf[1024];
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  // Fields after the ")" that ends the command name: state is field 3,
  // utime and stime are fields 14 and 15.
  const char* p = std::strrchr(buf, ')');
  if (!p) return 0;
  unsigned long utime = 0, stime = 0;
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) !=
      2)
    return 0;
  return 1000.0 * static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace torcon::bench
