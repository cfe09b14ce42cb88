// torcon-monitor's model and text without tor or a terminal: a TorState and
// a LiveFeed fed with canned replies and events, captured at a fixed instant,
// rendered; each case is the line the text must show.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "monitor/live_feed.hpp"
#include "monitor/render.hpp"
#include "monitor/snapshot.hpp"
#include "state/state_fixture.hpp"
#include "torcon/events.hpp"
#include "torcon/getinfo.hpp"
#include "torcon/reply_reader.hpp"
#include "torcon/tor_state.hpp"

namespace {

using namespace torcon;
using namespace torcon::monitor;
using torcon::test::entry;
using torcon::test::hex_of;
using torcon::test::long_name;

// 2026-12-03 07:01:05 UTC.
const std::chrono::system_clock::time_point kNow =
    std::chrono::system_clock::from_time_t(1796281265);

// Replies go where the monitor sends them: every reply to the TorState,
// 650s parsed to the feed, 250 GETINFO answers to the feed as KeyValues.
class Canned {
 public:
  Canned() {
    state.on_address_map(
        [this](const AddressMapping& m, AddressMapChange c) { feed.note_mapping(m, c); });
    // Three relays; circuits and guards below name them.
    feed_bytes(torcon::test::ns_all_reply({entry(1, "alpha", "192.0.2.1", 9001, {"s Guard"}),
                                           entry(2, "beta", "192.0.2.2", 9001, {}),
                                           entry(3, "gamma", "192.0.2.3", 9001, {"s Exit"})}));
  }
  void feed_bytes(const std::string& bytes) {
    reader_.feed(bytes);
    Reply r;
    ReplyReader::Next n;
    while ((n = reader_.next(r)) == ReplyReader::Next::reply) {
      EXPECT_TRUE(state.apply_reply(r)) << bytes;
      if (r.code == 650) {
        Event e;
        ASSERT_TRUE(parse_event(r, e)) << bytes;
        feed.apply(e, kNow);
      } else {
        KeyValues kv;
        KeyValueReader kvr(r);
        KeyValue one;
        while (kvr.next(one))
          kv.entries.push_back({std::string(one.key),
                                one.is_data ? join_data(one.value) : std::string(one.value),
                                one.has_value});
        feed.apply_getinfo(kv, kNow);
      }
    }
    ASSERT_NE(n, ReplyReader::Next::error) << reader_.error().message;
  }
  Snapshot snapshot() const {
    Lookups lookups;
    // Countries by nickname; beta's not known (yet): shown without one.
    lookups.country = [](const Router& r) {
      static const std::map<std::string, std::string, std::less<>> cc = {{"alpha", "de"},
                                                                         {"gamma", "nl"}};
      auto it = cc.find(r.nickname());
      return it == cc.end() ? std::string() : it->second;
    };
    return capture(state, feed, kNow, lookups);
  }
  std::vector<std::string> lines(int width = 120) const {
    std::vector<std::string> out;
    const std::string text = render_text(snapshot(), width);
    std::size_t pos = 0;
    while (pos < text.size()) {
      const std::size_t lf = text.find('\n', pos);
      out.push_back(text.substr(pos, lf - pos));
      pos = lf + 1;
    }
    return out;
  }

  TorState state;
  LiveFeed feed;

 private:
  ReplyReader reader_;
};

std::string pad(std::string s, std::size_t n) {
  s.resize(std::max(s.size(), n), ' ');
  return s;
}

const std::string kCirc1 = "650 CIRC 1 BUILT " + long_name(1, "alpha") + "," +
                           long_name(2, "beta") + "," + long_name(3, "gamma") +
                           " PURPOSE=GENERAL TIME_CREATED=2026-12-03T07:00:00.000000\r\n";

struct Case {
  const char* what;
  std::string replies;
  std::string line;  // a whole line render_text must contain
};

const std::vector<Case> kCases = {
    {"circuit: id, state, age, purpose, path with countries", kCirc1,
     "1     BUILT      1m05s   GENERAL              alpha (de) > beta > gamma (nl)"},
    {"stream under its circuit, target named by the address map",
     kCirc1 + "650 ADDRMAP www.example.com 192.0.2.80 NEVER CACHED=\"NO\"\r\n"
              "650 STREAM 5 SUCCEEDED 1 192.0.2.80:80 SOURCE_ADDR=127.0.0.1:40000 PURPOSE=USER\r\n",
     "    stream 5    SUCCEEDED   www.example.com:80     from 127.0.0.1:40000"},
    {"a stream on no circuit is listed apart",
     "650 STREAM 9 NEW 0 192.0.2.9:443 SOURCE_ADDR=127.0.0.1:5000 PURPOSE=USER\r\n",
     "    stream 9    NEW         192.0.2.9:443          from 127.0.0.1:5000"},
    {"a closed circuit leaves", kCirc1 + "650 CIRC 1 CLOSED REASON=FINISHED\r\n", "(no circuits)"},
    {"version, pid, uptime, bootstrap from GETINFO",
     "250-version=0.4.8.13\r\n250-uptime=3660\r\n"
     "250-status/bootstrap-phase=NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY=\"Done\"\r\n"
     "250-process/pid=4242\r\n250 OK\r\n",
     "tor 0.4.8.13   pid 4242   up 1h01m   bootstrap 100% (Done)   routers 3"},
    {"STATUS_CLIENT moves the bootstrap on",
     "250-status/bootstrap-phase=NOTICE BOOTSTRAP PROGRESS=50 TAG=loading_descriptors "
     "SUMMARY=\"Loading relay descriptors\"\r\n250 OK\r\n"
     "650 STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=75 TAG=enough_dirinfo "
     "SUMMARY=\"Loaded enough directory info to build circuits\"\r\n",
     "tor ?   bootstrap 75% (Loaded enough directory info to build circuits)   routers 3"},
    {"traffic: bw-event-cache, then BW events after it",
     "650 BW 2048 4096\r\n250-bw-event-cache=100,200 300,400\r\n250 OK\r\n",
     "traffic: down 2.0 KiB/s  up 4.0 KiB/s   last 3s: down 2.4 KiB  up 4.6 KiB"},
    {"a malformed bw-event-cache pair ends the cache",
     "250-bw-event-cache=100,200 3x,4 500,600\r\n250 OK\r\n",
     "traffic: down 100 B/s  up 200 B/s   last 1s: down 100 B  up 200 B"},
    {"log: a NOTICE", "650 NOTICE Bootstrapped 100% (done): Done\r\n",
     "07:01:05 NOTICE Bootstrapped 100% (done): Done"},
    {"log: a data-block WARN is one line per line",
     "650+WARN\r\nfirst line\r\nsecond line\r\n.\r\n650 OK\r\n", "07:01:05 WARN   second line"},
    {"log: terminal escapes from tor are neutralised", "650 ERR evil\x1b[2J\x07text\r\n",
     "07:01:05 ERR    evil?[2J?text"},
    {"guards: nickname, fingerprint, status, country",
     "250+entry-guards=\r\n" + long_name(1, "alpha") + " up\r\n.\r\n250 OK\r\n",
     pad("alpha", 20) + " " + pad(hex_of(1), 41) + " " + pad("up", 16) + " de"},
    {"address map: address, target, expiry in UTC",
     "650 ADDRMAP www.example.com 192.0.2.80 \"2026-12-03 09:00:00\" "
     "EXPIRES=\"2026-12-03 08:00:00\" CACHED=\"YES\"\r\n",
     pad("www.example.com", 30) + " " + pad("192.0.2.80", 23) + " 2026-12-03 08:00:00"},
    {"an address mapping that failed is not shown",
     "650 ADDRMAP www.example.com 192.0.2.80 NEVER\r\n"
     "650 ADDRMAP www.example.com <error> NEVER error=yes\r\n",
     "(address map empty)"},
};

TEST(MonitorRender, EachCaseShowsItsLine) {
  for (const Case& c : kCases) {
    Canned canned;
    canned.feed_bytes(c.replies);
    const std::vector<std::string> lines = canned.lines();
    EXPECT_NE(std::find(lines.begin(), lines.end(), c.line), lines.end())
        << c.what << "\nexpected line: [" << c.line << "]\ngot:\n"
        << render_text(canned.snapshot());
  }
}

// Download graph, 5 rows, peak 4000 B/s: a row is lit where the second's
// value reaches the lower half of that row.
TEST(MonitorRender, BandwidthGraphScalesToThePeak) {
  Canned canned;
  canned.feed_bytes("250-bw-event-cache=0,0 1000,0 2000,0 4000,0\r\n250 OK\r\n");
  const std::vector<std::string> lines = canned.lines(120);
  auto it = std::find_if(lines.begin(), lines.end(),
                         [](const std::string& l) { return l.starts_with("download (peak"); });
  ASSERT_NE(it, lines.end());
  EXPECT_EQ(*it, pad("download (peak 3.9 KiB/s)", 61) + "upload (peak 0 B/s)");
  const std::string blank(54, ' ');
  const std::vector<std::string> expected = {blank + "   # |", blank + "   # |", blank + "  ## |",
                                             blank + "  ## |", blank + " ### |"};
  ASSERT_GE(lines.end() - it, 6);
  EXPECT_EQ(std::vector<std::string>(it + 1, it + 6), expected);
}

// Every view fits the terminal it is drawn on, whatever its size.
TEST(MonitorRender, ViewsFitTheirTerminal) {
  Canned canned;
  canned.feed_bytes(kCirc1 + "650 STREAM 5 SUCCEEDED 1 192.0.2.80:80 SOURCE_ADDR=127.0.0.1:1\r\n" +
                    "250+entry-guards=\r\n" + long_name(1, "alpha") + " up\r\n.\r\n250 OK\r\n" +
                    "250-bw-event-cache=10,20 30,40\r\n250 OK\r\n");
  for (int i = 0; i < 40; ++i)
    canned.feed_bytes("650 NOTICE message number " + std::to_string(i) + "\r\n");
  const Snapshot snap = canned.snapshot();
  for (View v : {View::overview, View::circuits, View::guards, View::log})
    for (auto [w, h] : std::vector<std::pair<int, int>>{{1, 1}, {20, 5}, {80, 24}, {200, 60}}) {
      const std::vector<std::string> lines = render_view(snap, v, w, h);
      EXPECT_LE(lines.size(), std::size_t(h)) << int(v) << " " << w << "x" << h;
      for (const std::string& l : lines) EXPECT_LE(l.size(), std::size_t(w)) << l;
    }
  EXPECT_TRUE(render_view(snap, View::overview, 0, 10).empty());
}

// What each view shows: the tab bar marks it, and its own content is there.
TEST(MonitorRender, ViewsShowTheirSection) {
  Canned canned;
  canned.feed_bytes(kCirc1 + "650 NOTICE the last message\r\n");
  const Snapshot snap = canned.snapshot();
  auto has = [](const std::vector<std::string>& lines, std::string_view needle) {
    for (const std::string& l : lines)
      if (l.find(needle) != std::string::npos) return true;
    return false;
  };
  const auto circuits = render_view(snap, View::circuits, 120, 30);
  EXPECT_TRUE(has(circuits, "[2 circuits]"));
  EXPECT_TRUE(has(circuits, "alpha (de) > beta > gamma (nl)"));
  const auto log = render_view(snap, View::log, 120, 30);
  EXPECT_TRUE(has(log, "[4 log]"));
  EXPECT_TRUE(has(log, "NOTICE the last message"));
  EXPECT_FALSE(has(log, "alpha (de)"));
  const auto overview = render_view(snap, View::overview, 120, 30);
  EXPECT_TRUE(has(overview, "circuits 1 (1 built)   streams 0   guards 0   address map 0"));
  EXPECT_TRUE(has(overview, "download (peak"));
  EXPECT_TRUE(has(overview, "NOTICE the last message"));  // the log's tail under the graph
  EXPECT_FALSE(has(render_view(snap, View::overview, 120, 12), "NOTICE the last message"));
}

TEST(MonitorRender, Units) {
  const std::vector<std::pair<std::uint64_t, std::string>> bytes = {{0, "0 B"},
                                                                    {1023, "1023 B"},
                                                                    {1024, "1.0 KiB"},
                                                                    {1536, "1.5 KiB"},
                                                                    {5u << 20, "5.0 MiB"},
                                                                    {3ull << 40, "3.0 TiB"},
                                                                    {5ull << 50, "5120.0 TiB"}};
  for (const auto& [n, text] : bytes) EXPECT_EQ(byte_text(n), text) << n;
  const std::vector<std::pair<std::int64_t, std::string>> durations = {
      {-5, "0s"}, {42, "42s"}, {187, "3m07s"}, {7380, "2h03m"}, {363600, "4d05h"}};
  for (const auto& [s, text] : durations) EXPECT_EQ(duration_text(s), text) << s;
}

}  // namespace
