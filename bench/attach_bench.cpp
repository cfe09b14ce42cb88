// Attach latency in-process: from the bytes of a `STREAM <id> CONTROLLER_WAIT`
// event handed to the protocol core (as a read lands them in its buffer) to
// the ATTACHSTREAM bytes handed to the connection's write. On the way: reply
// framing, event parsing, TorState's update, its stream listeners, the
// attacher chain and the command. No socket and no tor (the byte-level rig of
// tests/state/attach_rig.hpp). Target: p99 < 20 us.
//
//   attach_bench [benchmark flags]
//
//   BM_AttachLatency/<attachers>  one stream per iteration: NEW (untimed), then
//       the timed CONTROLLER_WAIT -> ATTACHSTREAM, then the 250 reply and CLOSED
//       (untimed). <attachers>: how many attachers pass before the one that
//       decides. Manual time per iteration; counters p50_us, p90_us, p99_us,
//       p999_us, max_us over every iteration of the run.
//   BM_AttachBySourcePort  the same, decided by SourcePortRoutes (route
//       registered before the stream).
//
// On the private network (tor's real sockets), stream_attacher_testnet_test
// prints the distribution of event -> ATTACHSTREAM written and -> SUCCEEDED.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "state/attach_rig.hpp"
#include "torcon/reactor.hpp"
#include "torcon/stream_attacher.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using torcon::AttachDecision;
using torcon::AttachRequest;

void report_distribution(benchmark::State& state, std::vector<double>& us) {
  if (us.empty()) return;
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[std::min(us.size() - 1, std::size_t(q * double(us.size())))];
  };
  state.counters["p50_us"] = at(0.50);
  state.counters["p90_us"] = at(0.90);
  state.counters["p99_us"] = at(0.99);
  state.counters["p999_us"] = at(0.999);
  state.counters["max_us"] = us.back();
}

// One stream through the rig; returns CONTROLLER_WAIT -> command, in us.
double one_stream(torcon::test::AttachRig& rig, std::uint64_t n, std::uint16_t port,
                  benchmark::State& state) {
  const std::string id = std::to_string(n % 1000000 + 1);
  const std::string tail = " 0 192.0.2.7:80";
  rig.tor("650 STREAM " + id + " NEW" + tail + " SOURCE_ADDR=127.0.0.1:" + std::to_string(port) +
          " PURPOSE=USER\r\n");
  const std::string wait = "650 STREAM " + id + " CONTROLLER_WAIT" + tail + "\r\n";
  rig.host.written.clear();
  rig.host.stamp = true;
  const auto t0 = Clock::now();
  rig.proto.feed(wait);
  const auto t1 = rig.host.last_write;
  rig.host.stamp = false;
  if (rig.host.written.empty()) state.SkipWithError("nothing written");
  const double us = std::chrono::duration<double, std::micro>(t1 - t0).count();
  state.SetIterationTime(us / 1e6);
  rig.tor("250 OK\r\n650 STREAM " + id + " CLOSED" + tail + " REASON=DONE\r\n");
  return us;
}

void BM_AttachLatency(benchmark::State& state) {
  torcon::test::AttachRig rig;
  const int passing = int(state.range(0));
  for (int i = 0; i < passing; ++i)
    rig.core->add([](AttachRequest& req) {
      return req.stream().target_port() == 1 ? AttachDecision::close() : AttachDecision::pass();
    });
  rig.core->add([](AttachRequest&) { return AttachDecision::circuit("123456", 2); });
  rig.install();
  std::vector<double> us;
  us.reserve(1 << 20);
  std::uint64_t n = 0;
  for (auto _ : state) us.push_back(one_stream(rig, ++n, 40000, state));
  report_distribution(state, us);
}
BENCHMARK(BM_AttachLatency)->Arg(0)->Arg(4)->UseManualTime();

void BM_AttachBySourcePort(benchmark::State& state) {
  auto reactor = torcon::Reactor::create();
  if (!reactor) return state.SkipWithError(reactor.error().message.c_str());
  torcon::test::AttachRig rig;
  torcon::SourcePortRoutes routes(**reactor);
  rig.core->add(routes.attacher());
  rig.install();
  std::vector<double> us;
  us.reserve(1 << 20);
  std::uint64_t n = 0;
  for (auto _ : state) {
    const std::uint16_t port = std::uint16_t(20000 + n % 40000);
    routes.route(port, "123456");
    us.push_back(one_stream(rig, ++n, port, state));
  }
  report_distribution(state, us);
}
BENCHMARK(BM_AttachBySourcePort)->UseManualTime();

}  // namespace

BENCHMARK_MAIN();
