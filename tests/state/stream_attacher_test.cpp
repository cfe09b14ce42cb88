// The stream attacher, byte for byte: what tor sends goes in, and the test
// checks the exact commands the attacher writes back (state/attach_core.hpp
// over the protocol core; no socket, no tor). On the private network,
// stream_attacher_testnet_test checks the same decisions against tor.

#include "torcon/stream_attacher.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "state/attach_rig.hpp"
#include "state/state_fixture.hpp"
#include "torcon/reactor.hpp"
#include "torcon/stream.hpp"

namespace {

using namespace std::chrono_literals;
using torcon::AttachDecision;
using torcon::AttachReport;
using torcon::AttachRequest;
using torcon::PendingAttach;
using torcon::StreamCloseReason;
using torcon::test::AttachRig;
using torcon::test::new_stream;

// Reports as "kind stream circuit status then|message" lines.
struct Reports {
  std::vector<std::string> lines;
  torcon::AttachReportFunction fn() {
    return [this](const AttachReport& r) {
      std::string then;
      switch (r.then.kind()) {
        case AttachDecision::Kind::tor_chooses: then = "tor_chooses"; break;
        case AttachDecision::Kind::close: then = "close"; break;
        case AttachDecision::Kind::leave: then = "leave"; break;
        default: then = "?"; break;
      }
      lines.push_back(std::string(torcon::to_string(r.kind)) + " " + std::string(r.stream_id) +
                      " " + std::string(r.circuit_id) + " " + std::to_string(r.tor_status) + " " +
                      then + "|" + std::string(r.message));
    };
  }
};

// ---- __LeaveStreamsUnattached ------------------------------------------------

TEST(StreamAttacher, InstallSetsTheOptionAndUninstallRestoresIt) {
  AttachRig rig;
  std::optional<torcon::Status> installed, removed;
  rig.core->install([&](const torcon::Status& s) { installed = s; });
  EXPECT_EQ(rig.take(),
            "GETCONF __LeaveStreamsUnattached\r\nSETCONF __LeaveStreamsUnattached=1\r\n");
  EXPECT_FALSE(installed.has_value());
  rig.tor("250 __LeaveStreamsUnattached=0\r\n250 OK\r\n");
  ASSERT_TRUE(installed.has_value());
  EXPECT_TRUE(*installed);
  EXPECT_TRUE(rig.core->installed());
  rig.core->install({});  // installed already: nothing more is sent
  EXPECT_EQ(rig.take(), "");
  rig.core->uninstall([&](const torcon::Status& s) { removed = s; });
  EXPECT_EQ(rig.take(), "SETCONF __LeaveStreamsUnattached=0\r\n");
  rig.tor("250 OK\r\n");
  ASSERT_TRUE(removed.has_value());
  EXPECT_TRUE(*removed);
  EXPECT_FALSE(rig.core->installed());
}

TEST(StreamAttacher, DestroyingAnInstalledAttacherRestoresTheOption) {
  AttachRig rig;
  rig.install();
  rig.core.reset();
  EXPECT_EQ(rig.take(), "SETCONF __LeaveStreamsUnattached=0\r\n");
}

TEST(StreamAttacher, ALeftoverOptionIsReportedUnlessOneOfOursIsInstalled) {
  AttachRig rig;
  Reports reports;
  rig.core->on_report(reports.fn());
  rig.install("1");
  ASSERT_EQ(reports.lines.size(), 1u);
  EXPECT_TRUE(reports.lines[0].starts_with("leftover_option   0 leave|")) << reports.lines[0];
  // A second attacher on the same connection finds ours: no report.
  auto second =
      std::make_shared<torcon::detail::AttachCore>(rig.state, rig.sink, torcon::AttacherOptions{});
  Reports second_reports;
  second->on_report(second_reports.fn());
  second->install({});
  rig.tor("250 __LeaveStreamsUnattached=1\r\n250 OK\r\n");
  EXPECT_TRUE(second_reports.lines.empty());
  second.reset();
}

TEST(StreamAttacher, ARefusedSetconfIsReported) {
  AttachRig rig;
  Reports reports;
  rig.core->on_report(reports.fn());
  std::optional<torcon::Status> installed;
  rig.core->install([&](const torcon::Status& s) { installed = s; });
  rig.tor("250 __LeaveStreamsUnattached=0\r\n553 Unable to set option\r\n");
  ASSERT_TRUE(installed.has_value());
  EXPECT_FALSE(*installed);
  ASSERT_EQ(reports.lines.size(), 1u);
  EXPECT_EQ(reports.lines[0], "option_failed   553 leave|Unable to set option");
}

// ---- each decision, as bytes ------------------------------------------------------

struct DecisionCase {
  const char* name;
  AttachDecision decision;
  const char* written;   // after the CONTROLLER_WAIT
  const char* reported;  // "" or the report's kind
};
// gtest names the case by its name, not its bytes.
void PrintTo(const DecisionCase& c, std::ostream* os) { *os << c.name; }

class Decisions : public ::testing::TestWithParam<DecisionCase> {};

TEST_P(Decisions, WriteExactlyTheirCommand) {
  const DecisionCase& c = GetParam();
  AttachRig rig;
  Reports reports;
  int asked = 0;
  rig.core->add(
      [&](AttachRequest& req) {
        ++asked;
        EXPECT_EQ(req.stream_id(), "14");
        EXPECT_FALSE(req.is_reoffer());
        EXPECT_EQ(req.stream().source_port(), 50312);
        return c.decision;
      },
      reports.fn());
  rig.install();
  rig.tor(new_stream("14", 50312));
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(rig.take(), c.written);
  if (*c.reported == '\0') {
    EXPECT_TRUE(reports.lines.empty()) << reports.lines[0];
  } else {
    ASSERT_EQ(reports.lines.size(), 1u);
    EXPECT_TRUE(reports.lines[0].starts_with(c.reported)) << reports.lines[0];
  }
}

INSTANTIATE_TEST_SUITE_P(
    StreamAttacher, Decisions,
    ::testing::Values(
        DecisionCase{"circuit", AttachDecision::circuit("5"), "ATTACHSTREAM 14 5\r\n", ""},
        DecisionCase{"exit_hop", AttachDecision::circuit("5", 3), "ATTACHSTREAM 14 5 HOP=3\r\n",
                     ""},
        DecisionCase{"tor_chooses", AttachDecision::tor_chooses(), "ATTACHSTREAM 14 0\r\n", ""},
        DecisionCase{"circuit_zero", AttachDecision::circuit("0"), "ATTACHSTREAM 14 0\r\n", ""},
        DecisionCase{"close", AttachDecision::close(StreamCloseReason::exit_policy),
                     "CLOSESTREAM 14 4\r\n", ""},
        DecisionCase{"leave", AttachDecision::leave(), "", ""},
        DecisionCase{"pass_everywhere", AttachDecision::pass(), "ATTACHSTREAM 14 0\r\n", ""},
        // Refused before sending; the fallback (tor chooses) follows.
        DecisionCase{"hop_one", AttachDecision::circuit("5", 1), "ATTACHSTREAM 14 0\r\n",
                     "invalid_decision 14 5 0 tor_chooses|HOP=1"},
        DecisionCase{"negative_hop", AttachDecision::circuit("5", -2), "ATTACHSTREAM 14 0\r\n",
                     "invalid_decision 14 5 0 tor_chooses|the exit hop"},
        DecisionCase{"injected_id", AttachDecision::circuit("5\r\nSIGNAL HALT"),
                     "ATTACHSTREAM 14 0\r\n", "invalid_decision 14 5\r\nSIGNAL HALT 0"},
        DecisionCase{"long_id", AttachDecision::circuit("12345678901234567"),
                     "ATTACHSTREAM 14 0\r\n", "invalid_decision 14  0 tor_chooses"},
        DecisionCase{"later_without_defer", AttachDecision::later(), "ATTACHSTREAM 14 0\r\n",
                     "invalid_decision 14  0 tor_chooses|later() without"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(StreamAttacher, AThrowingAttacherGetsTheFallback) {
  AttachRig rig;
  Reports reports;
  rig.core->add([](AttachRequest&) -> AttachDecision { throw std::runtime_error("boom"); },
                reports.fn());
  rig.install();
  rig.tor(new_stream("14", 50312));
  EXPECT_EQ(rig.take(), "ATTACHSTREAM 14 0\r\n");
  ASSERT_EQ(reports.lines.size(), 1u);
  EXPECT_EQ(reports.lines[0], "invalid_decision 14  0 tor_chooses|the attacher threw: boom");
}

// ---- which streams are offered ----------------------------------------------------

TEST(StreamAttacher, OnlyStreamsWaitingForTheControllerAreOffered) {
  AttachRig rig;
  std::vector<std::string> offered;
  rig.core->add([&](AttachRequest& req) {
    offered.emplace_back(req.stream_id());
    return AttachDecision::leave();
  });
  // Before install: not offered (tor attaches it itself).
  rig.tor(new_stream("3", 40000));
  rig.install();
  // Already waiting when installed: offered at install.
  EXPECT_EQ(offered, (std::vector<std::string>{"3"}));
  // Tor's own streams: NEW without CONTROLLER_WAIT, never offered.
  rig.tor(
      "650 STREAM 20 NEW 0 192.0.2.9:443 SOURCE_ADDR=(Tor_internal):0 PURPOSE=DIR_UPLOAD\r\n"
      "650 STREAM 20 SENTCONNECT 8 192.0.2.9:443\r\n"
      "650 STREAM 20 SUCCEEDED 8 192.0.2.9:443\r\n");
  // A NEWRESOLVE that waits is offered; a repeated CONTROLLER_WAIT is not
  // a second offer.
  rig.tor(
      "650 STREAM 21 NEWRESOLVE 0 example.com:0 SOURCE_ADDR=127.0.0.1:40001 PURPOSE=DNS_REQUEST\r\n"
      "650 STREAM 21 CONTROLLER_WAIT 0 example.com:0\r\n"
      "650 STREAM 21 CONTROLLER_WAIT 0 example.com:0\r\n");
  EXPECT_EQ(offered, (std::vector<std::string>{"3", "21"}));
  EXPECT_EQ(rig.take(), "");
  rig.core->uninstall({});
  rig.tor("250 OK\r\n");
  rig.tor(new_stream("22", 40002));
  EXPECT_EQ(offered.size(), 2u);
}

// GETINFO stream-status writes a stream tor holds for a controller as NEW on
// circuit 0, as it does one tor finds a circuit for itself. Installing an
// attacher offers such snapshot streams when tor already held streams for a
// controller (GETCONF said 1), and only then; a 555 for one is tor saying it
// is its own (left to tor, no fallback), another refusal gets the fallback.
class SnapshotStreams : public ::testing::TestWithParam<bool> {};

TEST_P(SnapshotStreams, AreOfferedAtInstallWhenTorHeldStreamsForAController) {
  const bool held = GetParam();
  AttachRig rig;
  torcon::test::Feeder f(rig.state);
  ASSERT_TRUE(
      f.feed("250+stream-status=\r\n4 NEW 0 192.0.2.4:80\r\n5 NEWRESOLVE 0 example.com:0\r\n"
             "6 SENTCONNECT 3 192.0.2.6:80\r\n.\r\n250 OK\r\n"));
  ASSERT_NE(rig.state.stream("4"), nullptr);
  EXPECT_TRUE(rig.state.stream("4")->may_need_decision());
  EXPECT_TRUE(rig.state.stream("5")->may_need_decision());
  EXPECT_FALSE(rig.state.stream("6")->may_need_decision());
  EXPECT_FALSE(rig.state.stream("4")->needs_decision());
  std::vector<std::string> offered;
  Reports reports;
  rig.core->add(
      [&](AttachRequest& req) {
        offered.emplace_back(req.stream_id());
        return AttachDecision::circuit(req.stream_id() == "4" ? "7" : "8");
      },
      reports.fn());
  rig.core->install({});
  rig.tor(std::string("250 __LeaveStreamsUnattached=") + (held ? "1" : "0") + "\r\n");
  const std::string options =
      "GETCONF __LeaveStreamsUnattached\r\nSETCONF __LeaveStreamsUnattached=1\r\n";
  if (!held) {
    EXPECT_EQ(offered, std::vector<std::string>{});
    EXPECT_EQ(rig.take(), options);
    return;
  }
  EXPECT_EQ(offered, (std::vector<std::string>{"4", "5"}));
  EXPECT_EQ(rig.take(), options + "ATTACHSTREAM 4 7\r\nATTACHSTREAM 5 8\r\n");
  rig.tor(
      "250 OK\r\n"  // SETCONF
      "555 Connection is not managed by controller.\r\n"
      "551 Can't attach stream to non-open origin circuit\r\n");
  EXPECT_EQ(rig.take(), "ATTACHSTREAM 5 0\r\n");
  ASSERT_EQ(reports.lines.size(), 2u);
  EXPECT_TRUE(reports.lines[0].starts_with("refused 4 7 555 leave|")) << reports.lines[0];
  EXPECT_TRUE(reports.lines[1].starts_with("refused 5 8 551 tor_chooses|")) << reports.lines[1];
  // An event says what the stream is: no longer a snapshot's guess.
  rig.tor("650 STREAM 4 SENTCONNECT 9 192.0.2.4:80\r\n");
  EXPECT_FALSE(rig.state.stream("4")->may_need_decision());
}

INSTANTIATE_TEST_SUITE_P(TorHeldStreams, SnapshotStreams, ::testing::Bool());

// A stream an event announced before the snapshot (here one of tor's own)
// is followed by events: if tor held it, a CONTROLLER_WAIT says so. The
// snapshot's NEW line for it is no guess to act on.
TEST(StreamAttacher, AStreamEventsFollowIsNotOfferedForTheSnapshotsNewLine) {
  AttachRig rig;
  torcon::test::Feeder f(rig.state);
  ASSERT_TRUE(f.feed(
      "650 STREAM 30 NEW 0 192.0.2.9:443 SOURCE_ADDR=(Tor_internal):0 PURPOSE=DIR_FETCH\r\n"));
  ASSERT_TRUE(f.feed("250+stream-status=\r\n30 NEW 0 192.0.2.9:443\r\n.\r\n250 OK\r\n"));
  EXPECT_FALSE(rig.state.stream("30")->may_need_decision());
  std::vector<std::string> offered;
  rig.core->add([&](AttachRequest& req) {
    offered.emplace_back(req.stream_id());
    return AttachDecision::tor_chooses();
  });
  rig.install("1");
  EXPECT_EQ(offered, std::vector<std::string>{});
}

TEST(StreamAttacher, ADetachedStreamIsOfferedAgainWithTheReason) {
  AttachRig rig;
  std::vector<std::string> offers;
  rig.core->add([&](AttachRequest& req) {
    offers.push_back(std::to_string(req.offer()) + " from=" + std::string(req.detached_from()) +
                     " reason=" + std::string(req.reason()) +
                     " remote=" + std::string(req.remote_reason()));
    // Not back to the circuit whose exit refused it.
    return AttachDecision::circuit(req.is_reoffer() ? "7" : "5");
  });
  rig.install();
  rig.tor(new_stream("14", 50312));
  EXPECT_EQ(rig.take(), "ATTACHSTREAM 14 5\r\n");
  rig.tor("250 OK\r\n");
  // What tor 0.4.9 does when the exit's policy rejects the port: 250, then
  // DETACHED with the old circuit and CONTROLLER_WAIT again.
  rig.tor(
      "650 STREAM 14 SENTCONNECT 5 192.0.2.7:80\r\n"
      "650 STREAM 14 DETACHED 5 192.0.2.7:80 REASON=END REMOTE_REASON=EXITPOLICY\r\n"
      "650 STREAM 14 CONTROLLER_WAIT 5 192.0.2.7:80\r\n");
  EXPECT_EQ(rig.take(), "ATTACHSTREAM 14 7\r\n");
  ASSERT_EQ(offers.size(), 2u);
  EXPECT_EQ(offers[0], "0 from= reason= remote=");
  EXPECT_EQ(offers[1], "1 from=5 reason=END remote=EXITPOLICY");
  // A second detach without a remote reason does not inherit the first one's.
  rig.tor("250 OK\r\n");
  rig.tor(
      "650 STREAM 14 SENTCONNECT 7 192.0.2.7:80\r\n"
      "650 STREAM 14 DETACHED 7 192.0.2.7:80 REASON=TIMEOUT\r\n"
      "650 STREAM 14 CONTROLLER_WAIT 7 192.0.2.7:80\r\n");
  ASSERT_EQ(offers.size(), 3u);
  EXPECT_EQ(offers[2], "2 from=7 reason=TIMEOUT remote=");
}

TEST(StreamAttacher, OnionStreamsGoToCircuitZeroAndTheAttacherIsTold) {
  AttachRig rig;
  Reports mine, all;
  const std::string onion = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcd.onion:80";
  rig.core->add(
      [&](AttachRequest& req) {
        EXPECT_TRUE(req.is_onion());
        return AttachDecision::circuit("5");
      },
      mine.fn());
  rig.core->on_report(all.fn());
  rig.install();
  rig.tor(new_stream("30", 41000, onion));
  EXPECT_EQ(rig.take(), "ATTACHSTREAM 30 0\r\n");
  ASSERT_EQ(mine.lines.size(), 1u);
  EXPECT_TRUE(mine.lines[0].starts_with("onion_to_tor 30 5 0 tor_chooses|")) << mine.lines[0];
  EXPECT_EQ(all.lines, mine.lines);
}

TEST(StreamAttacher, AnOnionStreamMayStillBeClosed) {
  AttachRig rig;
  rig.core->add([](AttachRequest&) { return AttachDecision::close(); });
  rig.install();
  rig.tor(new_stream("30", 41000, "abcdefghijklmnop.onion:443"));
  EXPECT_EQ(rig.take(), "CLOSESTREAM 30 1\r\n");
}

// ---- refusals --------------------------------------------------------------------------

struct RefusalCase {
  const char* name;
  torcon::AttacherOptions::Fallback fallback;
  AttachDecision decision;
  const char* refusal;   // tor's reply to the first command
  const char* first;     // the first command
  const char* then;      // what follows the refusal
  const char* reported;  // the report's line
};
// gtest names the case by its name, not its bytes.
void PrintTo(const RefusalCase& c, std::ostream* os) { *os << c.name; }

class Refusals : public ::testing::TestWithParam<RefusalCase> {};

TEST_P(Refusals, AreReportedWithTorsWordsAndTheFallbackFollows) {
  const RefusalCase& c = GetParam();
  torcon::AttacherOptions o;
  o.fallback = c.fallback;
  AttachRig rig(o);
  Reports reports;
  rig.core->add([&](AttachRequest&) { return c.decision; }, reports.fn());
  rig.install();
  rig.tor(new_stream("14", 50312));
  EXPECT_EQ(rig.take(), c.first);
  rig.tor(c.refusal);
  EXPECT_EQ(rig.take(), c.then);
  ASSERT_EQ(reports.lines.size(), 1u);
  EXPECT_EQ(reports.lines[0], c.reported);
}

using Fallback = torcon::AttacherOptions::Fallback;
INSTANTIATE_TEST_SUITE_P(
    StreamAttacher, Refusals,
    ::testing::Values(
        RefusalCase{"not_open_551", Fallback::tor_chooses, AttachDecision::circuit("5"),
                    "551 Can't attach stream to non-open origin circuit\r\n",
                    "ATTACHSTREAM 14 5\r\n", "ATTACHSTREAM 14 0\r\n",
                    "refused 14 5 551 tor_chooses|Can't attach stream to non-open origin circuit"},
        RefusalCase{"unknown_circuit_552", Fallback::tor_chooses, AttachDecision::circuit("99"),
                    "552 Unknown circuit \"99\"\r\n", "ATTACHSTREAM 14 99\r\n",
                    "ATTACHSTREAM 14 0\r\n",
                    "refused 14 99 552 tor_chooses|Unknown circuit \"99\""},
        RefusalCase{"not_managed_555", Fallback::tor_chooses, AttachDecision::circuit("5", 2),
                    "555 Connection is not managed by controller.\r\n",
                    "ATTACHSTREAM 14 5 HOP=2\r\n", "ATTACHSTREAM 14 0\r\n",
                    "refused 14 5 555 tor_chooses|Connection is not managed by controller."},
        RefusalCase{"close_fallback", Fallback::close, AttachDecision::circuit("5"),
                    "551 Can't attach stream to one-hop circuit.\r\n", "ATTACHSTREAM 14 5\r\n",
                    "CLOSESTREAM 14 1\r\n",
                    "refused 14 5 551 close|Can't attach stream to one-hop circuit."},
        // Tor refused even to choose itself: the stream is closed.
        RefusalCase{"tor_chooses_refused", Fallback::tor_chooses, AttachDecision::tor_chooses(),
                    "551 Unable to attach stream\r\n", "ATTACHSTREAM 14 0\r\n",
                    "CLOSESTREAM 14 1\r\n", "refused 14 0 551 close|Unable to attach stream"},
        RefusalCase{"close_refused", Fallback::tor_chooses, AttachDecision::close(),
                    "552 Unknown stream \"14\"\r\n", "CLOSESTREAM 14 1\r\n", "",
                    "refused 14  552 leave|Unknown stream \"14\""}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(StreamAttacher, ARefusalForAStreamThatEndedMeanwhileSendsNothingMore) {
  AttachRig rig;
  Reports reports;
  rig.core->add([](AttachRequest&) { return AttachDecision::circuit("5"); }, reports.fn());
  rig.install();
  rig.tor(new_stream("14", 50312));
  rig.take();
  rig.tor("650 STREAM 14 CLOSED 0 192.0.2.7:80 REASON=MISC\r\n552 Unknown stream \"14\"\r\n");
  EXPECT_EQ(rig.take(), "");
  ASSERT_EQ(reports.lines.size(), 1u);
  EXPECT_EQ(reports.lines[0], "refused 14 5 552 leave|Unknown stream \"14\"");
}

// ---- later -------------------------------------------------------------------------------

TEST(StreamAttacher, ALaterAnswerIsSentWhenGiven) {
  AttachRig rig;
  PendingAttach pending;
  rig.core->add([&](AttachRequest& req) {
    pending = req.defer();
    return AttachDecision::later();
  });
  rig.install();
  rig.tor(new_stream("14", 50312));
  EXPECT_EQ(rig.take(), "");
  EXPECT_TRUE(pending.pending());
  EXPECT_EQ(pending.stream_id(), "14");
  EXPECT_TRUE(pending.decide(AttachDecision::circuit("9", 2)));
  EXPECT_EQ(rig.take(), "ATTACHSTREAM 14 9 HOP=2\r\n");
  EXPECT_FALSE(pending.pending());
  EXPECT_FALSE(pending.decide(AttachDecision::circuit("9")));  // once
  EXPECT_EQ(rig.take(), "");
}

TEST(StreamAttacher, ALateAnswerForAStreamThatEndedIsANoOp) {
  AttachRig rig;
  PendingAttach pending;
  Reports reports;
  rig.core->on_report(reports.fn());
  rig.core->add([&](AttachRequest& req) {
    pending = req.defer();
    return AttachDecision::later();
  });
  rig.install();
  rig.tor(new_stream("14", 50312));
  rig.tor("650 STREAM 14 FAILED 0 192.0.2.7:80 REASON=TIMEOUT\r\n");
  EXPECT_FALSE(pending.pending());
  EXPECT_FALSE(pending.decide(AttachDecision::circuit("9")));
  EXPECT_EQ(rig.take(), "");
  EXPECT_TRUE(reports.lines.empty());
}

TEST(StreamAttacher, ALateAnswerForAnEarlierOfferIsANoOp) {
  AttachRig rig;
  std::vector<PendingAttach> pending;
  rig.core->add([&](AttachRequest& req) {
    if (req.is_reoffer()) return AttachDecision::leave();
    pending.push_back(req.defer());
    return AttachDecision::later();
  });
  rig.install();
  rig.tor(new_stream("14", 50312));
  // Another controller attached it meanwhile, and the exit refused it.
  rig.tor(
      "650 STREAM 14 SENTCONNECT 3 192.0.2.7:80\r\n"
      "650 STREAM 14 DETACHED 3 192.0.2.7:80 REASON=END REMOTE_REASON=EXITPOLICY\r\n"
      "650 STREAM 14 CONTROLLER_WAIT 3 192.0.2.7:80\r\n");
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_FALSE(pending[0].decide(AttachDecision::circuit("9")));
  EXPECT_EQ(rig.take(), "");
}

TEST(StreamAttacher, ADroppedPendingAttachFallsBackAndIsReported) {
  AttachRig rig;
  Reports reports;
  std::optional<PendingAttach> pending;
  rig.core->add(
      [&](AttachRequest& req) {
        pending.emplace(req.defer());
        return AttachDecision::later();
      },
      reports.fn());
  rig.install();
  rig.tor(new_stream("14", 50312));
  EXPECT_EQ(rig.take(), "");
  pending.reset();
  EXPECT_EQ(rig.take(), "ATTACHSTREAM 14 0\r\n");
  ASSERT_EQ(reports.lines.size(), 1u);
  EXPECT_TRUE(reports.lines[0].starts_with("abandoned 14  0 tor_chooses|")) << reports.lines[0];
}

TEST(StreamAttacher, AnAnswerReturnedAfterDeferWins) {
  AttachRig rig;
  PendingAttach pending;
  rig.core->add([&](AttachRequest& req) {
    pending = req.defer();
    return AttachDecision::circuit("4");
  });
  rig.install();
  rig.tor(new_stream("14", 50312));
  EXPECT_EQ(rig.take(), "ATTACHSTREAM 14 4\r\n");
  EXPECT_FALSE(pending.pending());
  EXPECT_FALSE(pending.decide(AttachDecision::circuit("9")));
  pending = PendingAttach();  // inert: dropping it sends nothing
  EXPECT_EQ(rig.take(), "");
}

TEST(StreamAttacher, UninstallHandsOwedStreamsToTor) {
  AttachRig rig;
  PendingAttach pending;
  rig.core->add([&](AttachRequest& req) {
    pending = req.defer();
    return AttachDecision::later();
  });
  rig.install();
  rig.tor(new_stream("14", 50312));
  rig.core->uninstall({});
  EXPECT_EQ(rig.take(), "ATTACHSTREAM 14 0\r\nSETCONF __LeaveStreamsUnattached=0\r\n");
  EXPECT_FALSE(pending.decide(AttachDecision::circuit("9")));
}

// ---- chaining ----------------------------------------------------------------------------

TEST(StreamAttacher, TheFirstAttacherThatDecidesWins) {
  AttachRig rig;
  std::string asked;
  rig.core->add([&](AttachRequest& req) {
    asked += "a";
    return req.stream().target_port() == 443 ? AttachDecision::circuit("1")
                                             : AttachDecision::pass();
  });
  rig.core->add([&](AttachRequest& req) {
    asked += "b";
    return req.stream().target_port() == 80 ? AttachDecision::circuit("2") : AttachDecision::pass();
  });
  const auto third = rig.core->add([&](AttachRequest&) {
    asked += "c";
    return AttachDecision::close();
  });
  rig.install();
  rig.tor(new_stream("1", 40001, "192.0.2.7:443"));
  EXPECT_EQ(asked, "a");
  rig.tor(new_stream("2", 40002, "192.0.2.7:80"));
  EXPECT_EQ(asked, "aab");
  rig.tor(new_stream("3", 40003, "192.0.2.7:22"));
  EXPECT_EQ(asked, "aababc");
  EXPECT_EQ(rig.take(), "ATTACHSTREAM 1 1\r\nATTACHSTREAM 2 2\r\nCLOSESTREAM 3 1\r\n");
  // Without the third, a stream nobody claims goes to tor.
  EXPECT_TRUE(rig.core->remove(third));
  EXPECT_FALSE(rig.core->remove(third));
  rig.tor(new_stream("4", 40004, "192.0.2.7:22"));
  EXPECT_EQ(rig.take(), "ATTACHSTREAM 4 0\r\n");
}

TEST(StreamAttacher, APendingAttachDecidedPassContinuesWithTheNextAttacher) {
  AttachRig rig;
  PendingAttach pending;
  int second = 0;
  rig.core->add([&](AttachRequest& req) {
    pending = req.defer();
    return AttachDecision::later();
  });
  rig.core->add([&](AttachRequest&) {
    ++second;
    return AttachDecision::circuit("8");
  });
  rig.install();
  rig.tor(new_stream("14", 50312));
  EXPECT_EQ(second, 0);
  EXPECT_TRUE(pending.decide(AttachDecision::pass()));
  EXPECT_EQ(second, 1);
  EXPECT_EQ(rig.take(), "ATTACHSTREAM 14 8\r\n");
}

TEST(StreamAttacher, AnAttacherMayRemoveItselfWhileAsked) {
  AttachRig rig;
  torcon::StreamAttacher::Id self = 0;
  int calls = 0;
  self = rig.core->add([&](AttachRequest&) {
    ++calls;
    rig.core->remove(self);
    return AttachDecision::pass();
  });
  rig.core->add([](AttachRequest&) { return AttachDecision::circuit("2"); });
  rig.install();
  rig.tor(new_stream("1", 40001));
  rig.tor(new_stream("2", 40002));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(rig.take(), "ATTACHSTREAM 1 2\r\nATTACHSTREAM 2 2\r\n");
}

TEST(StreamAttacher, AnAttacherMayRemoveItselfFromItsReport) {
  AttachRig rig;
  torcon::StreamAttacher::Id self = 0;
  int reports = 0;
  self = rig.core->add([](AttachRequest&) { return AttachDecision::circuit("5", 1); },
                       [&](const AttachReport&) {
                         ++reports;
                         EXPECT_TRUE(rig.core->remove(self));
                       });
  rig.install();
  rig.tor(new_stream("1", 40001));
  rig.tor(new_stream("2", 40002));
  EXPECT_EQ(reports, 1);
  EXPECT_EQ(rig.take(), "ATTACHSTREAM 1 0\r\nATTACHSTREAM 2 0\r\n");
}

// ---- source ports ------------------------------------------------------------------------

struct RoutesRig {
  RoutesRig() {
    auto r = torcon::Reactor::create();
    if (r) reactor = std::move(*r);
  }
  std::unique_ptr<torcon::Reactor> reactor;
};

TEST(SourcePortRoutes, RouteFirstThenStream) {
  RoutesRig rr;
  ASSERT_TRUE(rr.reactor);
  AttachRig rig;
  torcon::SourcePortRoutes routes(*rr.reactor);
  rig.core->add(routes.attacher());
  rig.install();
  routes.route(50312, "5");
  routes.route(50313, "6", 2);
  EXPECT_EQ(routes.routes(), 2u);
  rig.tor(new_stream("15", 50313));
  rig.tor(new_stream("14", 50312));
  EXPECT_EQ(rig.take(), "ATTACHSTREAM 15 6 HOP=2\r\nATTACHSTREAM 14 5\r\n");
  EXPECT_EQ(routes.routes(), 0u);  // each route served one stream
  EXPECT_EQ(routes.held(), 0u);
}

TEST(SourcePortRoutes, StreamFirstThenRoute) {
  RoutesRig rr;
  ASSERT_TRUE(rr.reactor);
  AttachRig rig;
  torcon::SourcePortRoutes routes(*rr.reactor, 10s);
  rig.core->add(routes.attacher());
  rig.install();
  rig.tor(new_stream("14", 50312));
  rig.tor(new_stream("15", 50313));
  EXPECT_EQ(rig.take(), "");
  EXPECT_EQ(routes.held(), 2u);
  routes.route(50313, "6");
  EXPECT_EQ(rig.take(), "ATTACHSTREAM 15 6\r\n");
  routes.route(50312, "5");
  EXPECT_EQ(rig.take(), "ATTACHSTREAM 14 5\r\n");
  EXPECT_EQ(routes.held(), 0u);
  EXPECT_EQ(routes.routes(), 0u);
}

TEST(SourcePortRoutes, AHeldStreamThatEndsLeavesTheRouteForTheNext) {
  RoutesRig rr;
  ASSERT_TRUE(rr.reactor);
  AttachRig rig;
  torcon::SourcePortRoutes routes(*rr.reactor, 10s);
  rig.core->add(routes.attacher());
  rig.install();
  rig.tor(new_stream("14", 50312));
  rig.tor("650 STREAM 14 CLOSED 0 192.0.2.7:80 REASON=MISC\r\n");
  routes.route(50312, "5");
  EXPECT_EQ(rig.take(), "");
  EXPECT_EQ(routes.routes(), 1u);
  rig.tor(new_stream("16", 50312));
  EXPECT_EQ(rig.take(), "ATTACHSTREAM 16 5\r\n");
}

TEST(SourcePortRoutes, AnUnroutedStreamGoesToTheNextAttacherAfterTheHold) {
  RoutesRig rr;
  ASSERT_TRUE(rr.reactor);
  AttachRig rig;
  torcon::SourcePortRoutes routes(*rr.reactor, 30ms);
  rig.core->add(routes.attacher());
  rig.core->add([](AttachRequest&) { return AttachDecision::close(StreamCloseReason::no_route); });
  rig.install();
  rig.tor(new_stream("14", 50312));
  EXPECT_EQ(rig.take(), "");
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (routes.held() > 0 && std::chrono::steady_clock::now() < deadline)
    rr.reactor->run_once(10ms);
  EXPECT_EQ(rig.take(), "CLOSESTREAM 14 8\r\n");
}

TEST(SourcePortRoutes, AReofferIsPassedOnWithItsReason) {
  RoutesRig rr;
  ASSERT_TRUE(rr.reactor);
  AttachRig rig;
  torcon::SourcePortRoutes routes(*rr.reactor, 0ms);
  std::string seen;
  rig.core->add(routes.attacher());
  rig.core->add([&](AttachRequest& req) {
    seen = std::string(req.remote_reason());
    return AttachDecision::close(StreamCloseReason::exit_policy);
  });
  rig.install();
  routes.route(50312, "5");
  rig.tor(new_stream("14", 50312));
  EXPECT_EQ(rig.take(), "ATTACHSTREAM 14 5\r\n");
  routes.route(50312, "5");  // even with a route for the port again
  rig.tor(
      "250 OK\r\n650 STREAM 14 SENTCONNECT 5 192.0.2.7:80\r\n"
      "650 STREAM 14 DETACHED 5 192.0.2.7:80 REASON=END REMOTE_REASON=EXITPOLICY\r\n"
      "650 STREAM 14 CONTROLLER_WAIT 5 192.0.2.7:80\r\n");
  EXPECT_EQ(rig.take(), "CLOSESTREAM 14 4\r\n");
  EXPECT_EQ(seen, "EXITPOLICY");
}

TEST(SourcePortRoutes, WithoutHoldAnUnroutedStreamPassesAtOnce) {
  RoutesRig rr;
  ASSERT_TRUE(rr.reactor);
  AttachRig rig;
  torcon::SourcePortRoutes routes(*rr.reactor, 0ms);
  rig.core->add(routes.attacher());
  rig.install();
  routes.route(1111, "5");
  EXPECT_TRUE(routes.unroute(1111));
  EXPECT_FALSE(routes.unroute(1111));
  rig.tor(new_stream("14", 1111));
  EXPECT_EQ(rig.take(), "ATTACHSTREAM 14 0\r\n");
}

}  // namespace
