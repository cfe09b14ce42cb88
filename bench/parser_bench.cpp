// Parser throughput on torcon_gen's deterministic traffic: the 8000-router
// GETINFO ns/all reply and a 100k-event stream, each generated once.
//
//   BM_MemchrLines/<input>      baseline: split into lines with memchr, nothing else
//   BM_Framing/<input>          ReplyReader, 64 KiB prepare()/memcpy/commit() reads
//   BM_FramingFeedOnce/<input>  ReplyReader, one feed() of the whole input
//   BM_FramingNoCopy/<input>    ReplyReader, the copy into its buffer untimed
//   BM_FramingRecordLines/<input>  BM_Framing with ParserOptions::record_data_lines
//   BM_NsAllToRouters           framing (recording data line ends) + RouterStatusReader
//                               (eager, every field, given those line ends) over every entry
//   BM_NsAllToRoutersNoIndex    ... framing without the line ends, the reader scans
//   BM_RouterStatusOnly         RouterStatusReader over the data block alone
//   BM_NsAllToRouterEntries     framing (recording data line ends) + RouterEntryReader
//                               (lazy, given those line ends) over every entry
//   BM_NsAllToRouterEntriesNoIndex  ... framing without the line ends, the reader scans
//   BM_NsAllToRouterEntriesIdentityFlags  ... and identity() + flags() of each
//   BM_NsAllToRouterEntriesToStatus       ... and to_status() of each (eager)
//   BM_RouterEntriesOnly        RouterEntryReader over the data block alone
//   BM_MicrodescConsensusToRouters  framing of the 8000-router microdescriptor
//                               consensus + RouterStatusReader over its entries
//                               ("m" digests included)
//   BM_EventsToArgs             framing + ArgReader over every event
//
// After the table, main() prints the framing/memchr throughput ratio per input
// and the ns/all -> routers time per run, from the same run's measurements,
// and says whether they meet the targets (framing >= 25% of memchr; whole
// ns/all job <= 1 ms). A miss is reported, not an exit status: timings on a
// shared machine are too noisy to fail a build on.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gen/events.hpp"
#include "gen/network_status.hpp"
#include "torcon/keyword_args.hpp"
#include "torcon/reply.hpp"
#include "torcon/reply_reader.hpp"
#include "torcon/router_entry.hpp"
#include "torcon/router_status.hpp"

namespace {

using torcon::Reply;
using torcon::ReplyReader;

constexpr std::size_t kReadSize = 64 * 1024;  // a typical recv() size

const std::string& ns_all() {
  static const std::string s = torcon::gen::ns_all_reply({});
  return s;
}
const std::string& microdesc_consensus() {
  static const std::string s = torcon::gen::microdesc_consensus_reply({});
  return s;
}
const std::string& events() {
  static const std::string s = torcon::gen::event_stream({});
  return s;
}
using Input = const std::string& (*)();

// Feeds `in` as a socket loop would: read into the reader's own buffer (the
// memcpy stands in for recv()), then take every complete reply.
template <class OnReply>
bool frame_chunked(ReplyReader& rd, std::string_view in, OnReply&& on_reply) {
  rd.reset();
  Reply r;
  for (std::size_t pos = 0; pos < in.size();) {
    const std::span<char> space = rd.prepare(kReadSize);
    const std::size_t n = std::min({kReadSize, space.size(), in.size() - pos});
    std::memcpy(space.data(), in.data() + pos, n);
    rd.commit(n);
    pos += n;
    ReplyReader::Next next;
    while ((next = rd.next(r)) == ReplyReader::Next::reply) on_reply(r);
    if (next == ReplyReader::Next::error) return false;
  }
  return !rd.mid_reply();
}

void report_error(benchmark::State& state, const ReplyReader& rd) {
  state.SkipWithError(rd.failed() ? rd.error().message.c_str() : "input ended mid-reply");
}

void BM_MemchrLines(benchmark::State& state, Input input) {
  const std::string& in = input();
  std::size_t lines = 0;
  for (auto _ : state) {
    const char* p = in.data();
    const char* const end = p + in.size();
    std::size_t n = 0, len_sum = 0;
    while (const char* lf = static_cast<const char*>(std::memchr(p, '\n', std::size_t(end - p)))) {
      len_sum += std::size_t(lf - p);  // touch each line so the loop must run
      ++n;
      p = lf + 1;
    }
    benchmark::DoNotOptimize(len_sum);
    lines = n;
  }
  state.SetBytesProcessed(std::int64_t(state.iterations() * in.size()));
  state.SetItemsProcessed(std::int64_t(state.iterations() * lines));
}

void BM_FramingT(benchmark::State& state, Input input, bool record) {
  const std::string& in = input();
  // Reused: its buffer is warm, as on a long-lived connection.
  ReplyReader rd(torcon::ParserOptions{.record_data_lines = record});
  std::size_t replies = 0;
  for (auto _ : state) {
    std::size_t n = 0;
    if (!frame_chunked(rd, in, [&](const Reply& r) {
          benchmark::DoNotOptimize(r.lines.data());
          ++n;
        }))
      return report_error(state, rd);
    replies = n;
  }
  state.SetBytesProcessed(std::int64_t(state.iterations() * in.size()));
  state.SetItemsProcessed(std::int64_t(state.iterations() * replies));
}
void BM_Framing(benchmark::State& state, Input input) { BM_FramingT(state, input, false); }
void BM_FramingRecordLines(benchmark::State& state, Input input) {
  BM_FramingT(state, input, true);
}

// Drains every reply the reader holds; false on error.
bool drain(ReplyReader& rd, std::size_t& replies) {
  Reply r;
  ReplyReader::Next next;
  while ((next = rd.next(r)) == ReplyReader::Next::reply) {
    benchmark::DoNotOptimize(r.lines.data());
    ++replies;
  }
  return next != ReplyReader::Next::error && !rd.mid_reply();
}

void BM_FramingFeedOnce(benchmark::State& state, Input input) {
  const std::string& in = input();
  ReplyReader rd;
  std::size_t replies = 0;
  for (auto _ : state) {
    rd.reset();
    rd.feed(in);
    std::size_t n = 0;
    if (!drain(rd, n)) return report_error(state, rd);
    replies = n;
  }
  state.SetBytesProcessed(std::int64_t(state.iterations() * in.size()));
  state.SetItemsProcessed(std::int64_t(state.iterations() * replies));
}

// The framing alone: the copy into the reader's buffer is excluded.
void BM_FramingNoCopy(benchmark::State& state, Input input) {
  const std::string& in = input();
  ReplyReader rd;
  std::size_t replies = 0;
  for (auto _ : state) {
    state.PauseTiming();
    rd.reset();
    rd.feed(in);
    state.ResumeTiming();
    std::size_t n = 0;
    if (!drain(rd, n)) return report_error(state, rd);
    replies = n;
  }
  state.SetBytesProcessed(std::int64_t(state.iterations() * in.size()));
  state.SetItemsProcessed(std::int64_t(state.iterations() * replies));
}

// Walks every router status entry of the ns/all reply's data block.
std::size_t parse_routers(const Reply& r) {
  std::size_t routers = 0;
  for (const torcon::ReplyLine& l : r.lines) {
    if (l.sep != torcon::Sep::data) continue;
    torcon::RouterStatusReader rs(l.data, l.data_line_ends);  // empty: it scans
    torcon::RouterStatus st;
    while (rs.next(st)) {
      benchmark::DoNotOptimize(st);
      ++routers;
    }
    if (rs.error().code != torcon::Errc::ok) return 0;
  }
  return routers;
}

template <bool record>
void BM_NsAllToRoutersT(benchmark::State& state) {
  const std::string& in = ns_all();
  ReplyReader rd(torcon::ParserOptions{.record_data_lines = record});
  std::size_t routers = 0;
  for (auto _ : state) {
    std::size_t n = 0;
    if (!frame_chunked(rd, in, [&](const Reply& r) { n += parse_routers(r); }))
      return report_error(state, rd);
    routers = n;
  }
  if (routers != torcon::gen::NsAllOptions{}.routers) state.SkipWithError("router count is off");
  state.SetBytesProcessed(std::int64_t(state.iterations() * in.size()));
  state.SetItemsProcessed(std::int64_t(state.iterations() * routers));
}

void BM_NsAllToRouters(benchmark::State& s) { BM_NsAllToRoutersT<true>(s); }
void BM_NsAllToRoutersNoIndex(benchmark::State& s) { BM_NsAllToRoutersT<false>(s); }

// The ns/all data block, framed once and kept.
const torcon::OwnedReply& ns_all_reply() {
  static const torcon::OwnedReply reply = [] {
    ReplyReader rd;
    rd.feed(ns_all());
    Reply r;
    if (rd.next(r) != ReplyReader::Next::reply) std::abort();
    return r.copy();
  }();
  return reply;
}

void BM_RouterStatusOnly(benchmark::State& state) {
  const Reply r = ns_all_reply().view();
  std::size_t bytes = 0;
  for (const torcon::ReplyLine& l : r.lines) bytes += l.data.size();
  std::size_t routers = 0;
  for (auto _ : state) routers = parse_routers(r);
  if (routers != torcon::gen::NsAllOptions{}.routers) state.SkipWithError("router count is off");
  state.SetBytesProcessed(std::int64_t(state.iterations() * bytes));
  state.SetItemsProcessed(std::int64_t(state.iterations() * routers));
}

// What each lazy benchmark does with every entry.
enum class Touch { none, identity_flags, to_status };

template <Touch touch>
std::size_t lazy_routers(const Reply& r) {
  std::size_t routers = 0;
  for (const torcon::ReplyLine& l : r.lines) {
    if (l.sep != torcon::Sep::data) continue;
    torcon::RouterEntryReader rs(l.data, l.data_line_ends);  // empty: it scans
    torcon::RouterEntry e;
    while (rs.next(e)) {
      if constexpr (touch == Touch::none) {
        benchmark::DoNotOptimize(e);
      } else if constexpr (touch == Touch::identity_flags) {
        benchmark::DoNotOptimize(e.identity());
        benchmark::DoNotOptimize(e.flags());
      } else {
        torcon::RouterStatus st;
        torcon::Error err;
        if (!e.decode(st, err)) return 0;
        benchmark::DoNotOptimize(st);
      }
      ++routers;
    }
    if (rs.error().code != torcon::Errc::ok) return 0;
  }
  return routers;
}

template <Touch touch, bool record = true>
void BM_NsAllToRouterEntriesT(benchmark::State& state) {
  const std::string& in = ns_all();
  ReplyReader rd(torcon::ParserOptions{.record_data_lines = record});
  std::size_t routers = 0;
  for (auto _ : state) {
    std::size_t n = 0;
    if (!frame_chunked(rd, in, [&](const Reply& r) { n += lazy_routers<touch>(r); }))
      return report_error(state, rd);
    routers = n;
  }
  if (routers != torcon::gen::NsAllOptions{}.routers) state.SkipWithError("router count is off");
  state.SetBytesProcessed(std::int64_t(state.iterations() * in.size()));
  state.SetItemsProcessed(std::int64_t(state.iterations() * routers));
}
void BM_NsAllToRouterEntries(benchmark::State& s) { BM_NsAllToRouterEntriesT<Touch::none>(s); }
void BM_NsAllToRouterEntriesNoIndex(benchmark::State& s) {
  BM_NsAllToRouterEntriesT<Touch::none, false>(s);
}
void BM_NsAllToRouterEntriesIdentityFlags(benchmark::State& s) {
  BM_NsAllToRouterEntriesT<Touch::identity_flags>(s);
}
void BM_NsAllToRouterEntriesToStatus(benchmark::State& s) {
  BM_NsAllToRouterEntriesT<Touch::to_status>(s);
}

void BM_RouterEntriesOnly(benchmark::State& state) {
  const Reply r = ns_all_reply().view();
  std::size_t routers = 0;
  for (auto _ : state) routers = lazy_routers<Touch::none>(r);
  if (routers != torcon::gen::NsAllOptions{}.routers) state.SkipWithError("router count is off");
  state.SetItemsProcessed(std::int64_t(state.iterations() * routers));
}

// The router entries of a microdescriptor consensus: the document between
// its header and "directory-footer". Counts entries with an "m" digest.
std::size_t parse_microdesc_routers(const Reply& r) {
  std::size_t routers = 0;
  for (const torcon::ReplyLine& l : r.lines) {
    if (l.sep != torcon::Sep::data) continue;
    const std::size_t first = l.data.find("\r\nr ");
    const std::size_t footer = l.data.find("\r\ndirectory-footer", first);
    if (first == std::string_view::npos || footer == std::string_view::npos) return 0;
    torcon::RouterStatusReader rs(l.data.substr(first + 2, footer - first));
    torcon::RouterStatus st;
    while (rs.next(st)) {
      benchmark::DoNotOptimize(st);
      routers += st.microdesc_digest.size() == 43;
    }
    if (rs.error().code != torcon::Errc::ok) return 0;
  }
  return routers;
}

void BM_MicrodescConsensusToRouters(benchmark::State& state) {
  const std::string& in = microdesc_consensus();
  ReplyReader rd;
  std::size_t routers = 0;
  for (auto _ : state) {
    std::size_t n = 0;
    if (!frame_chunked(rd, in, [&](const Reply& r) { n += parse_microdesc_routers(r); }))
      return report_error(state, rd);
    routers = n;
  }
  if (routers != torcon::gen::MicrodescConsensusOptions{}.routers)
    state.SkipWithError("router count is off");
  state.SetBytesProcessed(std::int64_t(state.iterations() * in.size()));
  state.SetItemsProcessed(std::int64_t(state.iterations() * routers));
}

void BM_EventsToArgs(benchmark::State& state) {
  const std::string& in = events();
  ReplyReader rd;
  std::size_t events_seen = 0, args_seen = 0;
  for (auto _ : state) {
    std::size_t n = 0, args = 0;
    bool args_ok = true;
    if (!frame_chunked(rd, in, [&](const Reply& r) {
          ++n;
          for (const torcon::ReplyLine& l : r.lines) {
            torcon::ArgReader ar(l.text);
            torcon::Arg a;
            while (ar.next(a)) {
              benchmark::DoNotOptimize(a);
              ++args;
            }
            args_ok &= ar.error().code == torcon::Errc::ok;
          }
        }))
      return report_error(state, rd);
    if (!args_ok) return state.SkipWithError("ArgReader rejected an event");
    events_seen = n;
    args_seen = args;
  }
  state.SetBytesProcessed(std::int64_t(state.iterations() * in.size()));
  state.SetItemsProcessed(std::int64_t(state.iterations() * events_seen));
  state.counters["args"] =
      benchmark::Counter(double(state.iterations() * args_seen), benchmark::Counter::kIsRate);
}

BENCHMARK_CAPTURE(BM_MemchrLines, ns_all, &ns_all);
BENCHMARK_CAPTURE(BM_MemchrLines, events, &events);
BENCHMARK_CAPTURE(BM_Framing, ns_all, &ns_all);
BENCHMARK_CAPTURE(BM_Framing, events, &events);
BENCHMARK_CAPTURE(BM_FramingFeedOnce, ns_all, &ns_all);
BENCHMARK_CAPTURE(BM_FramingFeedOnce, events, &events);
BENCHMARK_CAPTURE(BM_FramingNoCopy, ns_all, &ns_all);
BENCHMARK_CAPTURE(BM_FramingNoCopy, events, &events);
BENCHMARK_CAPTURE(BM_FramingRecordLines, ns_all, &ns_all);
BENCHMARK(BM_NsAllToRouters)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_NsAllToRoutersNoIndex)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RouterStatusOnly)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_NsAllToRouterEntries)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_NsAllToRouterEntriesNoIndex)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_NsAllToRouterEntriesIdentityFlags)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_NsAllToRouterEntriesToStatus)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RouterEntriesOnly)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MicrodescConsensusToRouters)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EventsToArgs)->Unit(benchmark::kMillisecond);

// Passes everything to the reporter --benchmark_format chose, keeping each
// benchmark's CPU time per iteration (in ns) for the summary. CPU time, not
// wall time: on a shared machine the wall clock counts other processes' turns
// (and Google Benchmark's bytes_per_second is CPU-time based too).
class RecordingReporter : public benchmark::BenchmarkReporter {
 public:
  explicit RecordingReporter(benchmark::BenchmarkReporter* inner) : inner_(inner) {}
  bool ReportContext(const Context& c) override { return inner_->ReportContext(c); }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      // With --benchmark_repetitions, the mean stands for the family.
      const bool plain = run.run_type == Run::RT_Iteration;
      if (!run.error_occurred && (plain || run.aggregate_name == "mean")) {
        ns_[run.run_name.str()] =
            run.GetAdjustedCPUTime() / benchmark::GetTimeUnitMultiplier(run.time_unit) * 1e9;
      }
    }
    inner_->ReportRuns(runs);
  }
  void Finalize() override { inner_->Finalize(); }

  // CPU ns per iteration, or a negative value if it did not run.
  double ns(const std::string& name) const {
    const auto it = ns_.find(name);
    return it == ns_.end() ? -1 : it->second;
  }

 private:
  std::unique_ptr<benchmark::BenchmarkReporter> inner_;
  std::map<std::string, double> ns_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RecordingReporter rep(benchmark::CreateDefaultDisplayReporter());
  benchmark::RunSpecifiedBenchmarks(&rep);
  benchmark::Shutdown();

  // The summary goes to stderr so that --benchmark_format=json stays valid
  // JSON on stdout.
  std::fprintf(stderr, "\n");
  for (const char* input : {"ns_all", "events"}) {
    const double memchr_ns = rep.ns(std::string("BM_MemchrLines/") + input);
    const double framing_ns = rep.ns(std::string("BM_Framing/") + input);
    const double nocopy_ns = rep.ns(std::string("BM_FramingNoCopy/") + input);
    const std::size_t bytes =
        std::string_view(input) == "ns_all" ? ns_all().size() : events().size();
    if (memchr_ns <= 0 || framing_ns <= 0) {
      std::fprintf(stderr, "framing/memchr ratio (%s): n/a (filtered out)\n", input);
      continue;
    }
    const double ratio = memchr_ns / framing_ns;  // throughput ratio
    std::fprintf(stderr, "framing/memchr ratio (%s): %.2f  [memchr %.2f GB/s, framing %.2f GB/s",
                 input, ratio, double(bytes) / memchr_ns, double(bytes) / framing_ns);
    if (nocopy_ns > 0)
      std::fprintf(stderr, ", framing without the copy %.2f GB/s = %.2f", double(bytes) / nocopy_ns,
                   memchr_ns / nocopy_ns);
    std::fprintf(stderr, "]  target >= 0.25: %s\n", ratio >= 0.25 ? "met" : "MISSED");
  }
  for (const char* name :
       {"BM_NsAllToRouters", "BM_NsAllToRoutersNoIndex", "BM_NsAllToRouterEntries",
        "BM_NsAllToRouterEntriesNoIndex", "BM_NsAllToRouterEntriesIdentityFlags",
        "BM_NsAllToRouterEntriesToStatus"}) {
    if (const double job_ns = rep.ns(name); job_ns > 0) {
      std::fprintf(stderr, "ns/all -> %zu routers (%s): %.3f ms per run  target <= 1 ms: %s\n",
                   torcon::gen::NsAllOptions{}.routers, name, job_ns / 1e6,
                   job_ns <= 1e6 ? "met" : "MISSED");
    }
  }
  return 0;
}

// ---- typed events ------------------------------------------------------------
//   BM_EventsToTyped     framing + parse_event() (one reused Event) over every event
//   BM_EventsParseOnly   parse_event() alone over the events, framed once and kept
// They run after the others and are not in the summary above.

#include "torcon/events.hpp"

namespace {

// Parses one event into `ev`; false if parse_event() refused it.
bool parse_typed(const Reply& r, torcon::Event& ev) {
  if (!torcon::parse_event(r, ev)) return false;
  benchmark::DoNotOptimize(ev);
  return true;
}

void BM_EventsToTyped(benchmark::State& state) {
  const std::string& in = events();
  ReplyReader rd;
  torcon::Event ev;
  std::size_t events_seen = 0;
  for (auto _ : state) {
    std::size_t n = 0;
    bool ok = true;
    if (!frame_chunked(rd, in, [&](const Reply& r) {
          ok &= parse_typed(r, ev);
          ++n;
        }))
      return report_error(state, rd);
    if (!ok) return state.SkipWithError("parse_event rejected an event");
    events_seen = n;
  }
  state.SetBytesProcessed(std::int64_t(state.iterations() * in.size()));
  state.SetItemsProcessed(std::int64_t(state.iterations() * events_seen));
}

void BM_EventsParseOnly(benchmark::State& state) {
  std::vector<torcon::OwnedReply> kept;
  ReplyReader rd;
  if (!frame_chunked(rd, events(), [&](const Reply& r) { kept.push_back(r.copy()); }))
    return report_error(state, rd);
  std::vector<Reply> replies;
  for (const torcon::OwnedReply& o : kept) replies.push_back(o.view());
  torcon::Event ev;
  for (auto _ : state) {
    bool ok = true;
    for (const Reply& r : replies) ok &= parse_typed(r, ev);
    if (!ok) return state.SkipWithError("parse_event rejected an event");
  }
  state.SetItemsProcessed(std::int64_t(state.iterations() * replies.size()));
}

BENCHMARK(BM_EventsToTyped)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EventsParseOnly)->Unit(benchmark::kMillisecond);

}  // namespace
