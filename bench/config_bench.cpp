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

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "config_core.hpp"
#include "support/bench_tor.hpp"
#include "torcon/controller.hpp"
#include "torcon/reactor.hpp"
#include "torcon/tor_config.hpp"

namespace {

using namespace torcon;
using bench::make_reactor;
using bench::run_until;
using bench::shared_tor;
using bench::SharedTor;
using bench::tor_cpu_ms;

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
