// TorConfig benchmarks against a real tor on loopback (launched here with
// DisableNetwork 1).
//
//   BM_ConnectAndLoadConfig/<backend>  connect + authenticate + full TorConfig load
//                                      (SETEVENTS CONF_CHANGED, GETINFO config/names,
//                                      one GETCONF of every option)
//   BM_LoadConfig                      the full load alone, on a connected Controller
//   BM_ConnectAndLazyLoad              connect + lazy load (config/names only)
//   BM_GetconfPerOption                baseline: the same values read with one GETCONF per
//                                      option (txtorcon's way), pipelined
//   BM_LoadRoundTrips                  the load's GETINFO + GETCONF as raw commands
//   BM_ApplyLoadReplies                TorConfig's own work in a load: tor's two replies
//                                      into a fresh table and cache (no I/O)
//   BM_SaveOneOption                   set + save (SETCONF and the GETCONF behind it)
//
// Target (issue 10): connect + full load <= 5 ms (txtorcon: 120 ms).

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "config_core.hpp"
#include "torcon/controller.hpp"
#include "torcon/launch.hpp"
#include "torcon/reactor.hpp"
#include "torcon/tor_config.hpp"

namespace {

using namespace torcon;

// One tor for the whole program, on its own reactor.
struct SharedTor {
  std::unique_ptr<Reactor> reactor;
  std::unique_ptr<TorProcess> tor;
  std::string error;

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

SharedTor& shared_tor() {
  static SharedTor t;
  return t;
}

std::unique_ptr<Reactor> make_reactor(benchmark::State& st, ReactorOptions::Choice c) {
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

// tor's own CPU time (user + system) so far, in milliseconds: what the
// wall time holds besides ours, when tor shares the CPUs with others.
double tor_cpu_ms() {
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

template <class Pred>
void run_until(Reactor& r, Pred pred) {
  while (!pred()) r.run_once(std::chrono::milliseconds(100));
}

bool connect(Reactor& r, Controller& c) {
  bool done = false, ok = false;
  c.connect(shared_tor().tor->control_endpoint(), [&](const Status& s) {
    done = true;
    ok = s.ok();
  });
  run_until(r, [&] { return done; });
  return ok;
}

// Loads and checks it really read the configuration.
bool load(Reactor& r, TorConfig& cfg, ConfigLoad mode) {
  bool done = false, ok = false;
  ConfigOptions o;
  o.load = mode;
  cfg.load(o, [&](const Status& s) {
    done = true;
    ok = s.ok();
  });
  run_until(r, [&] { return done; });
  if (!ok || cfg.option_names().size() < 300) return false;
  return mode == ConfigLoad::lazy || cfg.get("DisableNetwork") != nullptr;
}

void BM_ConnectAndLoadConfig(benchmark::State& st, ReactorOptions::Choice backend) {
  SharedTor& t = shared_tor();
  if (!t.tor) return st.SkipWithError(t.error.c_str());
  auto reactor = make_reactor(st, backend);
  if (!reactor) return;
  const double tor_before = tor_cpu_ms();
  for (auto _ : st) {
    Controller c(*reactor);
    if (!connect(*reactor, c)) return st.SkipWithError("connect failed");
    TorConfig cfg(c);
    if (!load(*reactor, cfg, ConfigLoad::full)) return st.SkipWithError("load failed");
  }
  st.counters["tor_cpu_ms"] = (tor_cpu_ms() - tor_before) / static_cast<double>(st.iterations());
}

void BM_LoadConfig(benchmark::State& st) {
  SharedTor& t = shared_tor();
  if (!t.tor) return st.SkipWithError(t.error.c_str());
  auto reactor = make_reactor(st, ReactorOptions::Choice::automatic);
  if (!reactor) return;
  Controller c(*reactor);
  if (!connect(*reactor, c)) return st.SkipWithError("connect failed");
  std::size_t options = 0;
  for (auto _ : st) {
    TorConfig cfg(c);
    if (!load(*reactor, cfg, ConfigLoad::full)) return st.SkipWithError("load failed");
    options = cfg.option_names().size();
  }
  st.counters["options"] = static_cast<double>(options);
}

void BM_ConnectAndLazyLoad(benchmark::State& st) {
  SharedTor& t = shared_tor();
  if (!t.tor) return st.SkipWithError(t.error.c_str());
  auto reactor = make_reactor(st, ReactorOptions::Choice::automatic);
  if (!reactor) return;
  for (auto _ : st) {
    Controller c(*reactor);
    if (!connect(*reactor, c)) return st.SkipWithError("connect failed");
    TorConfig cfg(c);
    if (!load(*reactor, cfg, ConfigLoad::lazy)) return st.SkipWithError("load failed");
  }
}

void BM_GetconfPerOption(benchmark::State& st) {
  SharedTor& t = shared_tor();
  if (!t.tor) return st.SkipWithError(t.error.c_str());
  auto reactor = make_reactor(st, ReactorOptions::Choice::automatic);
  if (!reactor) return;
  Controller c(*reactor);
  if (!connect(*reactor, c)) return st.SkipWithError("connect failed");
  TorConfig names(c);
  if (!load(*reactor, names, ConfigLoad::lazy)) return st.SkipWithError("config/names failed");
  std::vector<std::string> keys;
  for (std::string_view n : names.option_names())
    if (names.type_of(n) != ConfigType::dependent) keys.emplace_back(n);
  for (auto _ : st) {
    std::size_t answered = 0, failed = 0;
    for (const std::string& k : keys)
      c.getconf({k}, [&](const Expected<KeyValues>& kv) { ++(kv ? answered : failed); });
    run_until(*reactor, [&] { return answered + failed == keys.size(); });
    if (failed) return st.SkipWithError("a GETCONF failed");
  }
  st.counters["commands"] = static_cast<double>(keys.size());
}

// The load's two round trips on their own, as raw commands (what tor and the
// socket cost, without TorConfig's bookkeeping).
void BM_LoadRoundTrips(benchmark::State& st) {
  SharedTor& t = shared_tor();
  if (!t.tor) return st.SkipWithError(t.error.c_str());
  auto reactor = make_reactor(st, ReactorOptions::Choice::automatic);
  if (!reactor) return;
  Controller c(*reactor);
  if (!connect(*reactor, c)) return st.SkipWithError("connect failed");
  TorConfig names(c);
  if (!load(*reactor, names, ConfigLoad::lazy)) return st.SkipWithError("config/names failed");
  std::string getconf = "GETCONF";
  for (std::string_view n : names.option_names())
    if (names.type_of(n) != ConfigType::dependent) getconf.append(" ").append(n);
  const double tor_before = tor_cpu_ms();
  for (auto _ : st) {
    bool done = false, ok = false;
    c.command("GETINFO config/names", [&](const Expected<Reply>& r) {
      if (!r) {
        done = true;
        return;
      }
      c.command(getconf, [&](const Expected<Reply>& r2) {
        ok = r2.ok();
        done = true;
      });
    });
    run_until(*reactor, [&] { return done; });
    if (!ok) return st.SkipWithError("a command failed");
  }
  st.counters["tor_cpu_ms"] = (tor_cpu_ms() - tor_before) / static_cast<double>(st.iterations());
}

// TorConfig's own work in a load, without tor or the socket: tor's
// config/names text and GETCONF reply (captured once from the shared tor)
// into a fresh option table and cache.
void BM_ApplyLoadReplies(benchmark::State& st) {
  SharedTor& t = shared_tor();
  if (!t.tor) return st.SkipWithError(t.error.c_str());
  auto reactor = make_reactor(st, ReactorOptions::Choice::automatic);
  if (!reactor) return;
  Controller c(*reactor);
  if (!connect(*reactor, c)) return st.SkipWithError("connect failed");
  std::optional<Expected<KeyValues>> names, values;
  c.getinfo({"config/names"}, [&](const Expected<KeyValues>& kv) { names = kv; });
  run_until(*reactor, [&] { return names.has_value(); });
  if (!*names || !(*names)->find("config/names")) return st.SkipWithError("config/names failed");
  const std::string text = *(*names)->find("config/names");
  detail::ConfigCore probe;
  if (!probe.apply_names(text)) return st.SkipWithError("config/names does not parse");
  const std::vector<std::string> keys = probe.load_keys();
  const std::vector<std::string_view> v(keys.begin(), keys.end());
  c.getconf(std::span<const std::string_view>(v),
            [&](const Expected<KeyValues>& kv) { values = kv; });
  run_until(*reactor, [&] { return values.has_value(); });
  if (!*values) return st.SkipWithError("GETCONF failed");
  for (auto _ : st) {
    detail::ConfigCore core;
    if (!core.apply_names(text) || !core.apply_getconf(keys, **values, nullptr))
      return st.SkipWithError("apply failed");
    benchmark::DoNotOptimize(core.options().data());
  }
  st.counters["getconf_lines"] = static_cast<double>((*values)->entries.size());
}

void BM_SaveOneOption(benchmark::State& st) {
  SharedTor& t = shared_tor();
  if (!t.tor) return st.SkipWithError(t.error.c_str());
  auto reactor = make_reactor(st, ReactorOptions::Choice::automatic);
  if (!reactor) return;
  Controller c(*reactor);
  if (!connect(*reactor, c)) return st.SkipWithError("connect failed");
  TorConfig cfg(c);
  if (!load(*reactor, cfg, ConfigLoad::full)) return st.SkipWithError("load failed");
  std::int64_t n = 0;
  for (auto _ : st) {
    if (!cfg.set("NumEntryGuards", ++n % 8)) return st.SkipWithError("set failed");
    bool done = false, ok = false;
    cfg.save([&](const Status& s) {
      done = true;
      ok = s.ok();
    });
    run_until(*reactor, [&] { return done; });
    if (!ok) return st.SkipWithError("save failed");
  }
}

BENCHMARK_CAPTURE(BM_ConnectAndLoadConfig, epoll, ReactorOptions::Choice::epoll)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ConnectAndLoadConfig, uring, ReactorOptions::Choice::uring)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LoadConfig)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ConnectAndLazyLoad)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GetconfPerOption)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LoadRoundTrips)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ApplyLoadReplies)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SaveOneOption)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
