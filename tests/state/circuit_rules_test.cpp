// Circuits in TorState: every lifecycle control-spec 4.1.1 allows, fed as
// events, plus the merge rules (state only forward, path never shrinks, an
// ended unknown circuit is never created) and CIRC_MINOR / CIRC_BW.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "state/state_fixture.hpp"
#include "torcon/tor_state.hpp"

namespace {

using torcon::CircStatus;
using torcon::Circuit;
using torcon::TorState;
using torcon::test::entry;
using torcon::test::Feeder;
using torcon::test::hex_of;
using torcon::test::long_name;

// Three relays in the consensus: 1 guard, 2 middle, 3 exit.
std::string three_relays() {
  return torcon::test::ns_all_reply({
      entry(1, "guard1", "192.0.2.11", 9001,
            {"s Fast Guard Running Stable Valid", "w Bandwidth=100"}),
      entry(2, "middle2", "192.0.2.12", 9001, {"s Fast Running Valid", "w Bandwidth=200"}),
      entry(3, "exit3", "192.0.2.13", 443, {"s Exit Fast Running Valid", "p accept 80,443"}),
  });
}

std::string path(std::vector<int> hops) {
  static const char* const kNick[] = {"", "guard1", "middle2", "exit3", "rp4", "rp5"};
  std::string out;
  for (int h : hops) {
    if (!out.empty()) out += ',';
    out += long_name(h, kNick[h]);
  }
  return out;
}

std::vector<std::string> path_fingerprints(const Circuit& c) {
  std::vector<std::string> out;
  for (const torcon::Router* r : c.path()) out.push_back(r ? r->fingerprint() : "null");
  return out;
}

struct Recorder {
  std::vector<std::string> seen;  // "id STATE/changes/hops"
  void attach(TorState& st) {
    st.on_circuit([this](const Circuit& c, torcon::CircuitChanges what) {
      seen.push_back(std::string(c.id()) + " " + std::string(c.state_text()) + " " +
                     std::to_string(what) + " " + std::to_string(c.path().size()));
    });
  }
};

struct Lifecycle {
  const char* name;
  std::vector<std::string> events;  // CIRC lines, "CIRC " prefixed
  const char* final_state;          // "" = removed
  std::size_t final_hops;
};

void PrintTo(const Lifecycle& lc, std::ostream* os) { *os << lc.name; }

class CircuitLifecycle : public ::testing::TestWithParam<Lifecycle> {};

TEST_P(CircuitLifecycle, EndsWhereTheEventsLeadIt) {
  const Lifecycle& lc = GetParam();
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.feed(three_relays()));
  for (const std::string& e : lc.events) ASSERT_TRUE(f.event(e)) << e;
  const Circuit* c = st.circuit("7");
  if (std::string(lc.final_state).empty()) {
    EXPECT_EQ(c, nullptr);
    EXPECT_EQ(st.circuit_count(), 0u);
  } else {
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->state_text(), lc.final_state);
    EXPECT_EQ(c->path().size(), lc.final_hops);
  }
}

const std::string kFlags =
    " BUILD_FLAGS=NEED_CAPACITY PURPOSE=GENERAL TIME_CREATED=2026-12-02T10:00:00.250000";

INSTANTIATE_TEST_SUITE_P(
    Spec, CircuitLifecycle,
    ::testing::Values(
        Lifecycle{"launched", {"CIRC 7 LAUNCHED" + kFlags}, "LAUNCHED", 0},
        Lifecycle{"extended_hop_by_hop",
                  {"CIRC 7 LAUNCHED" + kFlags, "CIRC 7 EXTENDED " + path({1}) + kFlags,
                   "CIRC 7 EXTENDED " + path({1, 2}) + kFlags},
                  "EXTENDED",
                  2},
        Lifecycle{"built",
                  {"CIRC 7 LAUNCHED" + kFlags, "CIRC 7 EXTENDED " + path({1}) + kFlags,
                   "CIRC 7 EXTENDED " + path({1, 2}) + kFlags,
                   "CIRC 7 EXTENDED " + path({1, 2, 3}) + kFlags,
                   "CIRC 7 BUILT " + path({1, 2, 3}) + kFlags},
                  "BUILT",
                  3},
        Lifecycle{"guard_wait_then_built",
                  {"CIRC 7 LAUNCHED" + kFlags, "CIRC 7 GUARD_WAIT " + path({1, 2, 3}) + kFlags,
                   "CIRC 7 BUILT " + path({1, 2, 3}) + kFlags},
                  "BUILT",
                  3},
        Lifecycle{"built_then_closed",
                  {"CIRC 7 LAUNCHED" + kFlags, "CIRC 7 BUILT " + path({1, 2, 3}) + kFlags,
                   "CIRC 7 CLOSED " + path({1, 2, 3}) + kFlags + " REASON=FINISHED"},
                  "",
                  0},
        Lifecycle{"failed_while_extending",
                  {"CIRC 7 LAUNCHED" + kFlags, "CIRC 7 EXTENDED " + path({1}) + kFlags,
                   "CIRC 7 FAILED " + path({1}) + kFlags + " REASON=TIMEOUT"},
                  "",
                  0},
        Lifecycle{"failed_then_closed",  // tor sends both; the CLOSED finds nothing
                  {"CIRC 7 LAUNCHED" + kFlags, "CIRC 7 FAILED" + kFlags + " REASON=DESTROYED",
                   "CIRC 7 CLOSED" + kFlags + " REASON=DESTROYED"},
                  "",
                  0},
        Lifecycle{"first_seen_built",  // an event after a gap names a built circuit
                  {"CIRC 7 BUILT " + path({1, 2, 3}) + kFlags},
                  "BUILT",
                  3},
        Lifecycle{"built_then_stale_extended",  // late news must not move it back
                  {"CIRC 7 BUILT " + path({1, 2, 3}) + kFlags,
                   "CIRC 7 EXTENDED " + path({1, 2}) + kFlags, "CIRC 7 LAUNCHED" + kFlags},
                  "BUILT",
                  3},
        Lifecycle{
            "extended_then_stale_shorter_path",
            {"CIRC 7 EXTENDED " + path({1, 2}) + kFlags, "CIRC 7 EXTENDED " + path({1}) + kFlags},
            "EXTENDED",
            2},
        Lifecycle{"unknown_closed_never_created",
                  {"CIRC 7 CLOSED " + path({1, 2, 3}) + kFlags + " REASON=FINISHED"},
                  "",
                  0},
        Lifecycle{
            "unknown_failed_never_created", {"CIRC 7 FAILED" + kFlags + " REASON=TIMEOUT"}, "", 0},
        Lifecycle{"newer_status_kept_as_text",
                  {"CIRC 7 LAUNCHED" + kFlags, "CIRC 7 SPLICED " + path({1}) + kFlags},
                  "SPLICED",
                  1},
        Lifecycle{"newer_status_does_not_block_built",
                  {"CIRC 7 EXTENDED " + path({1}) + kFlags, "CIRC 7 SPLICED " + path({1}) + kFlags,
                   "CIRC 7 BUILT " + path({1, 2, 3}) + kFlags},
                  "BUILT",
                  3}),
    [](const ::testing::TestParamInfo<Lifecycle>& i) { return std::string(i.param.name); });

TEST(Circuits, FieldsFromTheEvent) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.feed(three_relays()));
  ASSERT_TRUE(f.event(
      "CIRC 12 BUILT " + path({1, 2, 3}) +
      " BUILD_FLAGS=IS_INTERNAL,NEED_CAPACITY PURPOSE=HS_CLIENT_REND "
      "HS_STATE=HSCR_JOINED REND_QUERY=abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx "
      "TIME_CREATED=2026-12-02T10:00:00.25 SOCKS_USERNAME=\"a \\\"quoted\\\" user\" "
      "SOCKS_PASSWORD=\"pw\" CONFLUX_ID=8A3F"));
  const Circuit* c = st.circuit("12");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->state(), CircStatus::built);
  EXPECT_EQ(path_fingerprints(*c), (std::vector<std::string>{hex_of(1), hex_of(2), hex_of(3)}));
  EXPECT_EQ(c->path()[0], st.router("$" + hex_of(1)));  // the consensus' router object
  EXPECT_EQ(c->purpose(), "HS_CLIENT_REND");
  EXPECT_EQ(c->build_flags(), "IS_INTERNAL,NEED_CAPACITY");
  EXPECT_EQ(c->hs_state(), "HSCR_JOINED");
  EXPECT_EQ(c->rend_query(), "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx");
  EXPECT_EQ(c->socks_username(), "a \"quoted\" user");
  EXPECT_EQ(c->socks_password(), "pw");
  EXPECT_EQ(c->conflux_id(), "8A3F");
  auto t = c->time_created();
  ASSERT_TRUE(t.has_value());
  // 2026-12-02T10:00:00.25 UTC
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::microseconds>(t->time_since_epoch()).count(),
            1796205600250000LL);
}

// Ended circuits are reused for new ones (state_core.cpp): a new circuit
// must show nothing of the one before it.
TEST(Circuits, ANewCircuitCarriesNothingOfAnEndedOne) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.feed(three_relays()));
  ASSERT_TRUE(f.event("CIRC 12 BUILT " + path({1, 2, 3}) +
                      " BUILD_FLAGS=IS_INTERNAL PURPOSE=HS_CLIENT_REND HS_STATE=HSCR_JOINED "
                      "REND_QUERY=abc TIME_CREATED=2026-12-02T10:00:00.25 SOCKS_USERNAME=\"u\" "
                      "SOCKS_PASSWORD=\"pw\" CONFLUX_ID=8A3F"));
  ASSERT_TRUE(f.event("CIRC_MINOR 12 CANNIBALIZED " + path({1, 2, 3}) +
                      " PURPOSE=GENERAL OLD_PURPOSE=HS_CLIENT_REND"));
  ASSERT_TRUE(f.event("CIRC_BW ID=12 READ=10 WRITTEN=20 TIME=2026-12-02T10:00:01.000000"));
  ASSERT_TRUE(f.event("STREAM 20 SUCCEEDED 12 example.com:443"));
  ASSERT_TRUE(f.event("CIRC 12 CLOSED " + path({1, 2, 3}) + " REASON=FINISHED REMOTE_REASON=X"));
  ASSERT_EQ(st.circuit("12"), nullptr);
  ASSERT_TRUE(f.event("CIRC 13 LAUNCHED"));
  const Circuit* c = st.circuit("13");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->id(), "13");
  EXPECT_EQ(c->state(), CircStatus::launched);
  EXPECT_TRUE(c->path().empty());
  EXPECT_TRUE(c->streams().empty());
  EXPECT_FALSE(c->cannibalized());
  EXPECT_EQ(c->bandwidth(), torcon::CircuitBandwidth{});
  EXPECT_FALSE(c->time_created().has_value());
  for (std::string_view v :
       {c->purpose(), c->build_flags(), c->hs_state(), c->rend_query(), c->socks_username(),
        c->socks_password(), c->conflux_id(), c->reason(), c->remote_reason(), c->old_purpose()})
    EXPECT_EQ(v, "");
}

TEST(Circuits, TimeCreatedOnlyWhenItParses) {
  TorState st;
  Feeder f(st);
  for (const char* t : {"2026-12-02T10:00:00", "2026-02-30T10:00:00", "9999-12-31T23:59:59",
                        "2026-12-02 10:00:00", "2026-12-02T10:00:00.1234567", "yesterday"}) {
    ASSERT_TRUE(f.event(std::string("CIRC 1 LAUNCHED TIME_CREATED=") + t));
    EXPECT_EQ(st.circuit("1")->time_created().has_value(), t == std::string("2026-12-02T10:00:00"))
        << t;
    ASSERT_TRUE(f.event("CIRC 1 CLOSED REASON=FINISHED"));
  }
}

TEST(Circuits, CloseReasonsReachListenersBeforeRemoval) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.feed(three_relays()));
  std::string reasons;
  bool was_in_table = false;
  st.on_circuit([&](const Circuit& c, torcon::CircuitChanges what) {
    if (!(what & torcon::circuit_removed)) return;
    reasons = std::string(c.reason()) + "/" + std::string(c.remote_reason());
    was_in_table = st.circuit(c.id()) == &c;
  });
  ASSERT_TRUE(f.event("CIRC 3 EXTENDED " + path({1})));
  ASSERT_TRUE(
      f.event("CIRC 3 FAILED " + path({1}) + " REASON=DESTROYED REMOTE_REASON=CHANNEL_CLOSED"));
  EXPECT_EQ(reasons, "DESTROYED/CHANNEL_CLOSED");
  EXPECT_TRUE(was_in_table);
  EXPECT_EQ(st.circuit("3"), nullptr);
}

TEST(Circuits, ListenerSeesEachChangeOnce) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.feed(three_relays()));
  Recorder rec;
  rec.attach(st);
  using namespace torcon;
  ASSERT_TRUE(f.event("CIRC 7 LAUNCHED" + kFlags));
  ASSERT_TRUE(f.event("CIRC 7 EXTENDED " + path({1}) + kFlags));
  ASSERT_TRUE(f.event("CIRC 7 EXTENDED " + path({1}) + kFlags));  // the same again: no change
  ASSERT_TRUE(f.event("CIRC 7 BUILT " + path({1, 2, 3}) + kFlags));
  ASSERT_TRUE(f.event("CIRC 7 EXTENDED " + path({1, 2}) + kFlags));  // stale: no change
  ASSERT_TRUE(f.event("CIRC 7 CLOSED " + path({1, 2, 3}) + kFlags + " REASON=REQUESTED"));
  EXPECT_EQ(
      rec.seen,
      (std::vector<std::string>{
          "7 LAUNCHED " + std::to_string(circuit_created) + " 0",
          "7 EXTENDED " + std::to_string(circuit_state | circuit_path) + " 1",
          "7 BUILT " + std::to_string(circuit_state | circuit_path) + " 3",
          "7 CLOSED " + std::to_string(circuit_state | circuit_details | circuit_removed) + " 3",
      }));
}

TEST(Circuits, RelaysOutsideTheConsensusArePlaceholdersWhileNamed) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.feed(three_relays()));
  std::vector<std::string> router_log;
  st.on_router([&](const torcon::Router& r, torcon::RouterChange what) {
    router_log.push_back(std::string(r.nickname()) + " " + std::to_string(int(what)));
  });
  // A rendezvous circuit ending at a relay our consensus does not list.
  ASSERT_TRUE(f.event("CIRC 9 EXTENDED " + path({1, 2, 4}) + " PURPOSE=HS_CLIENT_REND"));
  const torcon::Router* rp = st.router("$" + hex_of(4));
  ASSERT_NE(rp, nullptr);
  EXPECT_FALSE(rp->in_consensus());
  EXPECT_EQ(rp->nickname(), "rp4");
  EXPECT_EQ(rp->ipv4(), 0u);
  EXPECT_EQ(rp->exits_to(80).source, torcon::PolicySource::none);
  EXPECT_EQ(st.router_count(), 3u);  // the consensus' count is unchanged
  EXPECT_EQ(st.circuit("9")->path()[2], rp);
  // A second circuit through it shares the placeholder.
  ASSERT_TRUE(f.event("CIRC 10 EXTENDED " + path({1, 4})));
  EXPECT_EQ(st.circuit("10")->path()[1], rp);
  ASSERT_TRUE(f.event("CIRC 9 CLOSED " + path({1, 2, 4}) + " REASON=FINISHED"));
  EXPECT_EQ(st.router("$" + hex_of(4)), rp);  // circuit 10 still names it
  ASSERT_TRUE(f.event("CIRC 10 CLOSED " + path({1, 4}) + " REASON=FINISHED"));
  EXPECT_EQ(st.router("$" + hex_of(4)), nullptr);
  EXPECT_NE(st.router("$" + hex_of(1)), nullptr);  // consensus routers stay
  EXPECT_EQ(router_log, (std::vector<std::string>{"rp4 0", "rp4 2"}));
}

TEST(Circuits, CircMinorPurposeChangeAndCannibalization) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.feed(three_relays()));
  ASSERT_TRUE(
      f.event("CIRC 5 BUILT " + path({1, 2, 3}) + " BUILD_FLAGS=IS_INTERNAL PURPOSE=GENERAL"));
  ASSERT_TRUE(f.event("CIRC_MINOR 5 PURPOSE_CHANGED " + path({1, 2, 3}) +
                      " BUILD_FLAGS=IS_INTERNAL PURPOSE=HS_VANGUARDS OLD_PURPOSE=GENERAL"));
  const Circuit* c = st.circuit("5");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->purpose(), "HS_VANGUARDS");
  EXPECT_EQ(c->old_purpose(), "GENERAL");
  EXPECT_FALSE(c->cannibalized());
  ASSERT_TRUE(f.event("CIRC_MINOR 5 CANNIBALIZED " + path({1, 2, 3}) +
                      " BUILD_FLAGS=IS_INTERNAL PURPOSE=HS_CLIENT_INTRO HS_STATE=HSCI_CONNECTING "
                      "OLD_PURPOSE=HS_VANGUARDS"));
  EXPECT_TRUE(c->cannibalized());
  EXPECT_EQ(c->purpose(), "HS_CLIENT_INTRO");
  EXPECT_EQ(c->old_purpose(), "HS_VANGUARDS");
  EXPECT_EQ(c->hs_state(), "HSCI_CONNECTING");
  // For a circuit the state has not seen, CIRC_MINOR creates nothing.
  ASSERT_TRUE(f.event("CIRC_MINOR 99 PURPOSE_CHANGED " + path({1}) + " PURPOSE=GENERAL"));
  EXPECT_EQ(st.circuit("99"), nullptr);
}

TEST(Circuits, CircBwAddsUp) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.event("CIRC 5 BUILT " + path({1, 2, 3})));
  const std::string bw =
      "CIRC_BW ID=5 READ=1018 WRITTEN=509 TIME=2026-12-02T10:00:00.500000 DELIVERED_READ=900 "
      "OVERHEAD_READ=96 DELIVERED_WRITTEN=400 OVERHEAD_WRITTEN=98";
  ASSERT_TRUE(f.event(bw));
  ASSERT_TRUE(f.event(bw));
  ASSERT_TRUE(f.event("CIRC_BW ID=5 READ=10 WRITTEN=20 TIME=2026-12-02T10:00:01.000000"));
  const torcon::CircuitBandwidth expect{2046, 1038, 1800, 800, 192, 196};
  EXPECT_EQ(st.circuit("5")->bandwidth(), expect);
  ASSERT_TRUE(f.event("CIRC_BW ID=6 READ=10 WRITTEN=20 TIME=2026-12-02T10:00:01.000000"));
  EXPECT_EQ(st.circuit("6"), nullptr);
}

TEST(Circuits, SnapshotLinesMergeWithEvents) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.feed(three_relays()));
  // An event that arrived before the snapshot's reply says BUILT; the
  // reply's line for circuit 4 (taken earlier) must not move it back.
  ASSERT_TRUE(f.event("CIRC 4 BUILT " + path({1, 2, 3}) + " PURPOSE=GENERAL"));
  ASSERT_TRUE(
      f.feed("250+circuit-status=\r\n"
             "4 EXTENDED " +
             path({1, 2}) +
             " PURPOSE=GENERAL\r\n"
             "8 BUILT " +
             path({1, 2, 3}) +
             " BUILD_FLAGS=NEED_CAPACITY PURPOSE=GENERAL\r\n"
             ".\r\n250-stream-status=\r\n250-process/pid=4242\r\n250 OK\r\n"));
  EXPECT_EQ(st.circuit("4")->state(), CircStatus::built);
  EXPECT_EQ(st.circuit("4")->path().size(), 3u);
  ASSERT_NE(st.circuit("8"), nullptr);
  EXPECT_EQ(st.circuit("8")->build_flags(), "NEED_CAPACITY");
  EXPECT_EQ(st.tor_pid(), 4242u);
  // A late EXTENDED (generated before the snapshot) changes nothing.
  ASSERT_TRUE(f.event("CIRC 8 EXTENDED " + path({1, 2})));
  EXPECT_EQ(st.circuit("8")->state(), CircStatus::built);
}

TEST(Circuits, BadInputIsAnErrorAndChangesNothing) {
  TorState st;
  Feeder f(st);
  EXPECT_FALSE(f.event("CIRC"));
  EXPECT_FALSE(f.feed("250+circuit-status=\r\nnot-an-id! BUILT\r\n.\r\n250 OK\r\n"));
  EXPECT_FALSE(f.feed("552 Unrecognized key \"circuit-status\"\r\n"));
  EXPECT_EQ(st.circuit_count(), 0u);
  // A path with a malformed hop: the circuit is tracked, its path is not
  // taken from that event.
  std::string error;
  st.on_listener_error([&](std::string_view e) { error = std::string(e); });
  ASSERT_TRUE(f.event("CIRC 2 EXTENDED $ZZZ~bad"));
  ASSERT_NE(st.circuit("2"), nullptr);
  EXPECT_EQ(st.circuit("2")->path().size(), 0u);
  EXPECT_NE(error.find("circuit 2"), std::string::npos) << error;
}

}  // namespace
