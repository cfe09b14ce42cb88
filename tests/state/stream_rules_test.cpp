// Streams in TorState: every lifecycle control-spec 4.1.2 allows (with
// CONTROLLER_WAIT, DETACHED and re-attachment elsewhere, circuits closing
// first), the merge rules, and how targets and sources are split.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "state/state_fixture.hpp"
#include "torcon/tor_state.hpp"

namespace {

using torcon::Stream;
using torcon::StreamStatus;
using torcon::TorState;
using torcon::test::Feeder;
using torcon::test::long_name;

std::string path3() {
  return long_name(1, "a") + "," + long_name(2, "b") + "," + long_name(3, "c");
}

// Circuits 1 and 2 built; the streams below use them.
void two_circuits(Feeder& f) {
  ASSERT_TRUE(f.event("CIRC 1 BUILT " + path3() + " PURPOSE=GENERAL"));
  ASSERT_TRUE(f.event("CIRC 2 BUILT " + path3() + " PURPOSE=GENERAL"));
}

struct Lifecycle {
  const char* name;
  std::vector<std::string> events;  // after "STREAM "
  const char* final_state;          // "" = removed
  const char* final_circuit;        // circuit()->id(), "" = none
};

void PrintTo(const Lifecycle& lc, std::ostream* os) { *os << lc.name; }

class StreamLifecycle : public ::testing::TestWithParam<Lifecycle> {};

TEST_P(StreamLifecycle, EndsWhereTheEventsLeadIt) {
  const Lifecycle& lc = GetParam();
  TorState st;
  Feeder f(st);
  two_circuits(f);
  for (const std::string& e : lc.events) ASSERT_TRUE(f.event("STREAM " + e)) << e;
  const Stream* s = st.stream("20");
  if (std::string(lc.final_state).empty()) {
    EXPECT_EQ(s, nullptr);
    EXPECT_TRUE(st.circuit("1")->streams().empty());
    EXPECT_TRUE(st.circuit("2")->streams().empty());
    return;
  }
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->state_text(), lc.final_state);
  const std::string want_circ = lc.final_circuit;
  EXPECT_EQ(s->circuit() ? std::string(s->circuit()->id()) : "", want_circ);
  for (const char* id : {"1", "2"}) {
    const auto& on = st.circuit(id)->streams();
    const bool listed = std::find(on.begin(), on.end(), s) != on.end();
    EXPECT_EQ(listed, want_circ == id) << "circuit " << id;
  }
}

const std::string kSrc = " SOURCE_ADDR=127.0.0.1:50123 PURPOSE=USER";

INSTANTIATE_TEST_SUITE_P(
    Spec, StreamLifecycle,
    ::testing::Values(
        Lifecycle{"new", {"20 NEW 0 example.com:443" + kSrc}, "NEW", ""},
        Lifecycle{"connect_succeeded",
                  {"20 NEW 0 example.com:443" + kSrc, "20 SENTCONNECT 1 example.com:443",
                   "20 REMAP 1 93.184.216.34:443 SOURCE=EXIT", "20 SUCCEEDED 1 93.184.216.34:443"},
                  "SUCCEEDED",
                  "1"},
        Lifecycle{"connect_closed",
                  {"20 NEW 0 example.com:443" + kSrc, "20 SENTCONNECT 1 example.com:443",
                   "20 SUCCEEDED 1 example.com:443", "20 CLOSED 1 example.com:443 REASON=DONE"},
                  "",
                  ""},
        Lifecycle{"resolve",
                  {"20 NEWRESOLVE 0 example.com:0" + kSrc, "20 SENTRESOLVE 1 example.com:0",
                   "20 REMAP 1 93.184.216.34:0 SOURCE=EXIT"},
                  "REMAP",
                  "1"},
        Lifecycle{"controller_wait_then_attached",
                  {"20 NEW 0 example.com:443" + kSrc, "20 CONTROLLER_WAIT 0 example.com:443",
                   "20 SENTCONNECT 2 example.com:443", "20 SUCCEEDED 2 example.com:443"},
                  "SUCCEEDED",
                  "2"},
        Lifecycle{"detached_then_waiting",
                  {"20 NEW 0 example.com:80" + kSrc, "20 SENTCONNECT 1 example.com:80",
                   "20 DETACHED 1 example.com:80 REASON=END REMOTE_REASON=EXITPOLICY",
                   "20 CONTROLLER_WAIT 1 example.com:80"},
                  "CONTROLLER_WAIT",
                  ""},
        Lifecycle{"detached_then_reattached_elsewhere",
                  {"20 NEW 0 example.com:80" + kSrc, "20 SENTCONNECT 1 example.com:80",
                   "20 DETACHED 1 example.com:80 REASON=END REMOTE_REASON=EXITPOLICY",
                   "20 CONTROLLER_WAIT 1 example.com:80", "20 SENTCONNECT 2 example.com:80",
                   "20 SUCCEEDED 2 example.com:80"},
                  "SUCCEEDED",
                  "2"},
        Lifecycle{
            "detached_without_controller_wait",  // tor retries by itself
            {"20 NEW 0 example.com:80" + kSrc, "20 SENTCONNECT 1 example.com:80",
             "20 DETACHED 1 example.com:80 REASON=TIMEOUT", "20 SENTCONNECT 2 example.com:80"},
            "SENTCONNECT",
            "2"},
        Lifecycle{"failed_then_closed",
                  {"20 NEW 0 example.com:80" + kSrc, "20 SENTCONNECT 1 example.com:80",
                   "20 FAILED 1 example.com:80 REASON=TIMEOUT",
                   "20 CLOSED 1 example.com:80 REASON=TIMEOUT"},
                  "",
                  ""},
        Lifecycle{
            "unknown_closed_never_created", {"20 CLOSED 1 example.com:80 REASON=DONE"}, "", ""},
        Lifecycle{
            "unknown_failed_never_created", {"20 FAILED 0 example.com:80 REASON=MISC"}, "", ""},
        Lifecycle{"first_seen_succeeded", {"20 SUCCEEDED 1 example.com:80"}, "SUCCEEDED", "1"},
        Lifecycle{"stale_sentconnect_after_succeeded",
                  {"20 SUCCEEDED 1 example.com:80", "20 SENTCONNECT 1 example.com:80",
                   "20 NEW 0 example.com:80" + kSrc},
                  "SUCCEEDED",
                  "1"},
        Lifecycle{"flow_control_does_not_move_the_state",
                  {"20 SUCCEEDED 1 example.com:80", "20 XOFF_SENT 1 example.com:80",
                   "20 XON_SENT 1 example.com:80"},
                  "SUCCEEDED",
                  "1"},
        Lifecycle{"newer_status_kept_as_text",
                  {"20 SENTCONNECT 1 example.com:80", "20 TELEPORTED 1 example.com:80"},
                  "TELEPORTED",
                  "1"}),
    [](const ::testing::TestParamInfo<Lifecycle>& i) { return std::string(i.param.name); });

TEST(Streams, CircuitClosedBeforeItsStream) {
  TorState st;
  Feeder f(st);
  two_circuits(f);
  std::vector<std::string> seen;
  st.on_stream([&](const Stream& s, torcon::StreamChanges what) {
    seen.push_back(std::string(s.state_text()) + " " + std::to_string(what) + " " +
                   (s.circuit() ? std::string(s.circuit()->id()) : "-"));
  });
  ASSERT_TRUE(f.event("STREAM 20 SUCCEEDED 1 example.com:80"));
  ASSERT_TRUE(f.event("CIRC 1 CLOSED " + path3() + " REASON=FINISHED"));
  const Stream* s = st.stream("20");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->circuit(), nullptr);
  EXPECT_EQ(s->circuit_id(), "1");
  ASSERT_TRUE(f.event("STREAM 20 CLOSED 1 example.com:80 REASON=DONE"));
  EXPECT_EQ(st.stream("20"), nullptr);
  using namespace torcon;
  EXPECT_EQ(seen,
            (std::vector<std::string>{
                "SUCCEEDED " + std::to_string(stream_created) + " 1",
                "SUCCEEDED " + std::to_string(stream_circuit) + " -",
                "CLOSED " + std::to_string(stream_state | stream_details | stream_removed) + " -",
            }));
}

TEST(Streams, DetachRecordsWhyAndWhereForAnAttacher) {
  TorState st;
  Feeder f(st);
  two_circuits(f);
  ASSERT_TRUE(f.event("STREAM 20 NEW 0 example.com:80" + kSrc));
  ASSERT_TRUE(f.event("STREAM 20 CONTROLLER_WAIT 0 example.com:80"));
  EXPECT_TRUE(st.stream("20")->needs_decision());
  ASSERT_TRUE(f.event("STREAM 20 SENTCONNECT 1 example.com:80"));
  EXPECT_FALSE(st.stream("20")->needs_decision());
  ASSERT_TRUE(f.event("STREAM 20 DETACHED 1 example.com:80 REASON=END REMOTE_REASON=EXITPOLICY"));
  ASSERT_TRUE(f.event("STREAM 20 CONTROLLER_WAIT 1 example.com:80"));
  const Stream* s = st.stream("20");
  EXPECT_TRUE(s->needs_decision());
  EXPECT_EQ(s->circuit(), nullptr);
  EXPECT_EQ(s->circuit_id(), "1");  // the circuit that turned it away
  EXPECT_EQ(s->remote_reason(), "EXITPOLICY");
  EXPECT_EQ(s->detach_count(), 1u);
}

struct TargetCase {
  const char* target;
  const char* host;
  int port;
  bool onion;
  const char* exit;
};

void PrintTo(const TargetCase& tc, std::ostream* os) { *os << tc.target; }

class StreamTargets : public ::testing::TestWithParam<TargetCase> {};

TEST_P(StreamTargets, SplitAtTheLastColon) {
  const TargetCase& tc = GetParam();
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.event(std::string("STREAM 20 NEW 0 ") + tc.target + kSrc));
  const Stream* s = st.stream("20");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->target(), tc.target);
  EXPECT_EQ(s->target_host(), tc.host);
  EXPECT_EQ(s->target_port(), tc.port);
  EXPECT_EQ(s->target_is_onion(), tc.onion);
  EXPECT_EQ(s->target_exit(), tc.exit);
}

INSTANTIATE_TEST_SUITE_P(
    Targets, StreamTargets,
    ::testing::Values(
        TargetCase{"example.com:443", "example.com", 443, false, ""},
        TargetCase{"93.184.216.34:80", "93.184.216.34", 80, false, ""},
        TargetCase{"[2001:db8::1]:443", "2001:db8::1", 443, false, ""},
        TargetCase{"2001:db8::1:443", "2001:db8::1", 443, false, ""},
        TargetCase{"::1:80", "::1", 80, false, ""},
        TargetCase{"example.com:0", "example.com", 0, false, ""},
        TargetCase{"abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwd.onion:80",
                   "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwd.onion", 80, true, ""},
        TargetCase{"www.EXAMPLE.ONION:80", "www.EXAMPLE.ONION", 80, true, ""},
        TargetCase{"www.example.com.exit3.exit:80", "www.example.com.exit3.exit", 80, false,
                   "exit3"},
        TargetCase{"example.com:http", "example.com", 0, false, ""}));

TEST(Streams, SourcesAndIsolationFields) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.event(
      "STREAM 20 NEW 0 example.com:443 SOURCE_ADDR=127.0.0.1:50123 PURPOSE=USER "
      "SOCKS_USERNAME=\"tab\\\\1\" SOCKS_PASSWORD=\"x\" CLIENT_PROTOCOL=SOCKS5 NYM_EPOCH=3 "
      "SESSION_GROUP=-4 ISO_FIELDS=SOCKS_USERNAME,SOCKS_PASSWORD,CLIENTADDR,SESSION_GROUP"));
  const Stream* s = st.stream("20");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->source_address(), "127.0.0.1");
  EXPECT_EQ(s->source_port(), 50123);
  EXPECT_FALSE(s->is_internal());
  EXPECT_EQ(s->purpose(), "USER");
  EXPECT_EQ(s->socks_username(), "tab\\1");
  EXPECT_EQ(s->socks_password(), "x");
  EXPECT_EQ(s->client_protocol(), "SOCKS5");
  EXPECT_EQ(s->nym_epoch(), "3");
  EXPECT_EQ(s->session_group(), "-4");
  EXPECT_EQ(s->iso_fields(), "SOCKS_USERNAME,SOCKS_PASSWORD,CLIENTADDR,SESSION_GROUP");

  ASSERT_TRUE(
      f.event("STREAM 21 NEW 0 192.0.2.13:80 SOURCE_ADDR=(Tor_internal):0 PURPOSE=DIR_FETCH"));
  EXPECT_TRUE(st.stream("21")->is_internal());
  EXPECT_EQ(st.stream("21")->source_address(), "(Tor_internal)");
  EXPECT_EQ(st.stream("21")->source_port(), 0);
  ASSERT_TRUE(f.event("STREAM 22 NEW 0 [::1]:80 SOURCE_ADDR=[::1]:40000 PURPOSE=USER"));
  EXPECT_EQ(st.stream("22")->source_address(), "::1");
  EXPECT_EQ(st.stream("22")->source_port(), 40000);
}

// Ended streams are reused for new ones (state_core.cpp): a new stream
// must show nothing of the one before it.
TEST(Streams, ANewStreamCarriesNothingOfAnEndedOne) {
  TorState st;
  Feeder f(st);
  two_circuits(f);
  ASSERT_TRUE(
      f.event("STREAM 20 NEW 0 example.com:443 SOURCE_ADDR=127.0.0.1:50123 PURPOSE=USER "
              "SOCKS_USERNAME=\"u\" SOCKS_PASSWORD=\"p\" CLIENT_PROTOCOL=SOCKS5 NYM_EPOCH=3 "
              "SESSION_GROUP=-4 ISO_FIELDS=SOCKS_USERNAME"));
  ASSERT_TRUE(f.event("STREAM 20 SUCCEEDED 1 example.com:443"));
  ASSERT_TRUE(f.event("STREAM 20 DETACHED 1 example.com:443 REASON=END REMOTE_REASON=EXITPOLICY"));
  ASSERT_TRUE(f.event("STREAM 20 CLOSED 1 example.com:443 REASON=DONE"));
  ASSERT_EQ(st.stream("20"), nullptr);
  ASSERT_TRUE(f.event("STREAM 21 NEW 0 192.0.2.7:80"));
  const Stream* s = st.stream("21");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->id(), "21");
  EXPECT_EQ(s->state(), StreamStatus::new_);
  EXPECT_EQ(s->circuit(), nullptr);
  EXPECT_EQ(s->circuit_id(), "0");
  EXPECT_EQ(s->target(), "192.0.2.7:80");
  EXPECT_EQ(s->requested_host(), "192.0.2.7");
  EXPECT_EQ(s->source_address(), "");
  EXPECT_EQ(s->source_port(), 0);
  for (std::string_view v :
       {s->purpose(), s->socks_username(), s->socks_password(), s->client_protocol(),
        s->nym_epoch(), s->session_group(), s->iso_fields(), s->reason(), s->remote_reason()})
    EXPECT_EQ(v, "");
  EXPECT_EQ(s->detach_count(), 0u);
}

TEST(Streams, RemapKeepsTheRequestedHost) {
  TorState st;
  Feeder f(st);
  two_circuits(f);
  std::vector<torcon::StreamChanges> changes;
  st.on_stream([&](const Stream&, torcon::StreamChanges w) { changes.push_back(w); });
  ASSERT_TRUE(f.event("STREAM 20 NEW 0 example.com:443" + kSrc));
  ASSERT_TRUE(f.event("STREAM 20 REMAP 0 93.184.216.34:443 SOURCE=CACHE"));
  const Stream* s = st.stream("20");
  EXPECT_EQ(s->target_host(), "93.184.216.34");
  EXPECT_EQ(s->requested_host(), "example.com");
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_TRUE(changes[1] & torcon::stream_target);
}

TEST(Streams, EarlyEventAttachesOnceTheSnapshotBringsItsCircuit) {
  TorState st;
  Feeder f(st);
  // Before the reply: the stream's event names circuit 8, not yet known.
  ASSERT_TRUE(f.event("STREAM 20 SUCCEEDED 8 example.com:80"));
  EXPECT_EQ(st.stream("20")->circuit(), nullptr);
  // The reply (older) has the circuit, and the stream one step behind.
  ASSERT_TRUE(f.feed("250+circuit-status=\r\n8 BUILT " + path3() +
                     "\r\n.\r\n250+stream-status=\r\n20 SENTCONNECT 8 example.com:80\r\n.\r\n"
                     "250 OK\r\n"));
  EXPECT_EQ(st.stream("20")->state(), StreamStatus::succeeded);
  ASSERT_NE(st.stream("20")->circuit(), nullptr);
  EXPECT_EQ(st.stream("20")->circuit(), st.circuit("8"));
  EXPECT_EQ(st.circuit("8")->streams().size(), 1u);
}

TEST(Streams, SnapshotLinesAttachToKnownCircuits) {
  TorState st;
  Feeder f(st);
  two_circuits(f);
  ASSERT_TRUE(
      f.feed("250+stream-status=\r\n"
             "20 SUCCEEDED 1 example.com:443\r\n"
             "21 NEW 0 [::1]:80\r\n"
             "22 SENTCONNECT 77 example.org:80\r\n"
             ".\r\n250 OK\r\n"));
  EXPECT_EQ(st.stream_count(), 3u);
  EXPECT_EQ(st.stream("20")->circuit(), st.circuit("1"));
  EXPECT_EQ(st.stream("21")->target_host(), "::1");
  EXPECT_EQ(st.stream("22")->circuit(), nullptr);  // circuit 77 is unknown
  EXPECT_EQ(st.stream("22")->circuit_id(), "77");
  // An empty stream-status is one line with no value.
  TorState empty;
  Feeder g(empty);
  ASSERT_TRUE(g.feed("250-stream-status=\r\n250 OK\r\n"));
  EXPECT_EQ(empty.stream_count(), 0u);
}

}  // namespace
