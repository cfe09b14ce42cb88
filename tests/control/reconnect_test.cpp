// Deadlines, waiting through a disconnection, the reconnect policy and the
// liveness probe, on both reactor backends, against fake control servers
// that reply late, hang up, come back on the same port, or stop answering.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_tor.hpp"
#include "support/reactor_backend.hpp"
#include "torcon/controller.hpp"

namespace torcon {
namespace {

using namespace std::chrono_literals;
using testing::FakeTor;

class ReconnectTest : public testing::BackendTest {
 protected:
  Status connect(Controller& c, const Endpoint& where) {
    std::optional<Status> st;
    c.connect(where, [&](const Status& s) { st = s; });
    EXPECT_TRUE(run_until([&] { return st.has_value(); }));
    return st.value_or(Status(Error(Errc::timeout, "connect did not complete")));
  }
  // Reconnects quickly and predictably (no jitter).
  static ControllerOptions fast_reconnect() {
    ControllerOptions o;
    o.reconnect.enabled = true;
    o.reconnect.initial_delay = 50ms;
    o.reconnect.multiplier = 2;
    o.reconnect.jitter = 0;
    o.connect.timeout = 2s;
    return o;
  }
};

// What a command's callback saw: "ok <raw>" or "<errc> <message>".
std::string outcome(const Expected<Reply>& r) {
  if (r) return "ok " + std::string(r->raw);
  return r.error().code == Errc::timeout        ? "timeout"
         : r.error().code == Errc::disconnected ? "disconnected"
                                                : "other " + r.error().message;
}

std::string describe(const ReconnectEvent& e) {
  switch (e.kind) {
    case ReconnectEvent::Kind::disconnected: return "disconnected";
    case ReconnectEvent::Kind::reconnecting:
      return "reconnecting " + std::to_string(e.attempt) + " after " +
             std::to_string(e.delay.count()) + "ms";
    case ReconnectEvent::Kind::reconnected: return "reconnected";
    case ReconnectEvent::Kind::gave_up: return "gave up";
    case ReconnectEvent::Kind::restore_failed: return "restore failed " + e.error.message;
  }
  return "?";
}

TEST_P(ReconnectTest, ALateReplyGoesToTheTimedOutCommandNotTheNextOne) {
  FakeTor fake([](int fd) {
    FakeTor::null_auth(fd);
    FakeTor::read_line(fd);  // GETINFO slow
    FakeTor::read_line(fd);  // GETINFO next
    std::this_thread::sleep_for(500ms);
    FakeTor::say(fd, "250-slow=1\r\n250 OK\r\n250-next=2\r\n250 OK\r\n");
    while (!FakeTor::read_line(fd).empty()) {
    }
  });
  ControllerOptions o;
  o.command_timeout = 150ms;  // the controller's default deadline
  Controller c(*reactor_, o);
  ASSERT_TRUE(connect(c, fake.endpoint()).ok());
  std::vector<std::string> seen;
  const auto t0 = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration slow_after{};
  c.command("GETINFO slow", [&](const Expected<Reply>& r) {
    slow_after = std::chrono::steady_clock::now() - t0;
    seen.push_back("slow " + outcome(r));
  });
  c.command(
      "GETINFO next", [&](const Expected<Reply>& r) { seen.push_back("next " + outcome(r)); },
      CommandOptions{0ms});  // no deadline for this one
  ASSERT_TRUE(run_until([&] { return seen.size() == 2; }));
  EXPECT_EQ(seen, (std::vector<std::string>{"slow timeout", "next ok 250-next=2\r\n250 OK\r\n"}));
  EXPECT_GE(slow_after, 150ms);
  EXPECT_LT(slow_after, 450ms) << "the deadline fired, not the reply";
  EXPECT_TRUE(c.ready()) << "a timeout alone does not end the connection";
  EXPECT_EQ(c.pending(), 0u);
}

TEST_P(ReconnectTest, PerCallDeadlineOverridesTheControllersNone) {
  FakeTor fake([](int fd) {
    FakeTor::null_auth(fd);
    FakeTor::read_line(fd);
    std::this_thread::sleep_for(300ms);
    FakeTor::say(fd, "250 OK\r\n");
    while (!FakeTor::read_line(fd).empty()) {
    }
  });
  Controller c(*reactor_);
  ASSERT_TRUE(connect(c, fake.endpoint()).ok());
  std::optional<std::string> got;
  c.command(
      "GETINFO x", [&](const Expected<Reply>& r) { got = outcome(r); }, CommandOptions{50ms});
  ASSERT_TRUE(run_until([&] { return got.has_value(); }));
  EXPECT_EQ(*got, "timeout");
  // The late reply arrives and is dropped: no protocol error, still ready.
  run_until([] { return false; }, 500ms);
  EXPECT_TRUE(c.ready());
}

// The server hangs up with a command in flight and comes back on the same
// port: the command fails once, the controller reconnects, subscriptions
// are re-sent, a command issued while down is answered, hooks run.
TEST_P(ReconnectTest, ReconnectsToTheSamePortAndRestoresSubscriptions) {
  std::atomic<bool> setevents_again{false};
  FakeTor fake(
      [&](int fd, int n) {
        FakeTor::null_auth(fd);
        if (n == 0) {
          FakeTor::read_line(fd);  // SETEVENTS CIRC
          FakeTor::say(fd, "250 OK\r\n");
          FakeTor::read_line(fd);  // GETINFO in-flight: hang up instead
          return;
        }
        if (FakeTor::read_line(fd) == "SETEVENTS CIRC\r\n") setevents_again = true;
        FakeTor::say(fd, "250 OK\r\n");
        FakeTor::say(fd, "650 CIRC 7 LAUNCHED\r\n");
        for (std::string l; !(l = FakeTor::read_line(fd)).empty();)
          if (l == "GETINFO waited\r\n") FakeTor::say(fd, "250-waited=yes\r\n250 OK\r\n");
      },
      2);
  ControllerOptions o = fast_reconnect();
  o.disconnected_wait = 5s;
  Controller c(*reactor_, o);
  std::vector<std::string> steps, events, results;
  c.on_reconnect([&](const ReconnectEvent& e) { steps.push_back(describe(e)); });
  int hooks = 0;
  c.add_reconnect_hook([&] { ++hooks; });
  ASSERT_TRUE(connect(c, fake.endpoint()).ok());
  std::optional<Status> sub;
  c.subscribe(
      "CIRC", [&](const Reply& r) { events.emplace_back(r.raw); },
      [&](const Status& s) { sub = s; });
  ASSERT_TRUE(run_until([&] { return sub.has_value(); }));
  c.command("GETINFO in-flight", [&](const Expected<Reply>& r) { results.push_back(outcome(r)); });
  ASSERT_TRUE(run_until([&] { return !results.empty(); }));
  EXPECT_EQ(results, std::vector<std::string>{"disconnected"});
  c.command("GETINFO waited", [&](const Expected<Reply>& r) { results.push_back(outcome(r)); });
  ASSERT_TRUE(run_until([&] { return results.size() == 2 && !events.empty(); }));
  EXPECT_EQ(results[1], "ok 250-waited=yes\r\n250 OK\r\n");
  EXPECT_EQ(events, std::vector<std::string>{"650 CIRC 7 LAUNCHED\r\n"});
  EXPECT_TRUE(setevents_again.load());
  EXPECT_EQ(steps,
            (std::vector<std::string>{"disconnected", "reconnecting 1 after 50ms", "reconnected"}));
  EXPECT_EQ(hooks, 1);
  EXPECT_FALSE(c.reconnecting());
  EXPECT_TRUE(c.ready());
}

// Disconnect hooks run after the commands in flight failed and after the
// on_disconnect handler, in the order added, before the policy reacts; a
// hook may remove itself or another (which then does not run) and add one
// (which runs from the next disconnection).
TEST_P(ReconnectTest, DisconnectHooksRunInOrderAndMayChangeTheList) {
  FakeTor fake(
      [](int fd, int) {
        FakeTor::null_auth(fd);
        FakeTor::read_line(fd);  // GETINFO in-flight: hang up instead
      },
      2);
  Controller c(*reactor_, fast_reconnect());
  std::vector<std::string> seen;
  c.on_disconnect([&](const Error& e) {
    seen.push_back(std::string("handler ") + (e.code == Errc::disconnected ? "disconnected" : "?"));
  });
  c.on_reconnect([&](const ReconnectEvent& e) {
    if (e.kind == ReconnectEvent::Kind::disconnected) seen.push_back("policy");
  });
  Controller::HookId a = 0, c_id = 0;
  a = c.add_disconnect_hook([&](const Error&) {
    seen.push_back("a removes itself");
    c.remove_disconnect_hook(a);
  });
  c.add_disconnect_hook([&](const Error&) {
    seen.push_back("b removes c");
    c.remove_disconnect_hook(c_id);
  });
  c_id = c.add_disconnect_hook([&](const Error&) { seen.push_back("c"); });
  bool added = false;
  c.add_disconnect_hook([&](const Error&) {
    seen.push_back("d");
    if (added) return;
    added = true;
    c.add_disconnect_hook([&](const Error&) { seen.push_back("e"); });
  });
  const Controller::HookId gone = c.add_disconnect_hook([&](const Error&) { seen.push_back("f"); });
  c.remove_disconnect_hook(gone);
  c.remove_disconnect_hook(12345);  // unknown: ignored

  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(round == 0 ? connect(c, fake.endpoint()).ok()
                           : run_until([&] { return c.ready(); }));
    c.command("GETINFO in-flight",
              [&](const Expected<Reply>& r) { seen.push_back("command " + outcome(r)); });
    const std::size_t before = seen.size();
    ASSERT_TRUE(run_until([&] { return seen.size() > before && seen.back() == "policy"; }));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"command disconnected", "handler disconnected",
                                            "a removes itself", "b removes c", "d",
                                            "policy",  // first disconnection
                                            "command disconnected", "handler disconnected",
                                            "b removes c", "d", "e", "policy"}));
  c.close();
}

TEST_P(ReconnectTest, WithoutAWaitCommandsFailAtOnceWhileReconnecting) {
  FakeTor fake([](int fd) { FakeTor::null_auth(fd); });  // then hangs up for good
  ControllerOptions o = fast_reconnect();
  o.reconnect.initial_delay = 10s;
  Controller c(*reactor_, o);
  ASSERT_TRUE(connect(c, fake.endpoint()).ok());
  ASSERT_TRUE(run_until([&] { return c.reconnecting(); }));
  std::optional<std::string> got;
  c.command("GETINFO x", [&](const Expected<Reply>& r) { got = outcome(r); });
  ASSERT_TRUE(run_until([&] { return got.has_value(); }, 1s));
  EXPECT_EQ(*got, "disconnected");
}

TEST_P(ReconnectTest, AWaitingCommandFailsWhenTheWaitIsOver) {
  FakeTor fake([](int fd) { FakeTor::null_auth(fd); });
  ControllerOptions o = fast_reconnect();
  o.reconnect.initial_delay = 10s;
  o.disconnected_wait = 200ms;
  Controller c(*reactor_, o);
  ASSERT_TRUE(connect(c, fake.endpoint()).ok());
  ASSERT_TRUE(run_until([&] { return c.reconnecting(); }));
  std::optional<std::string> got;
  const auto t0 = std::chrono::steady_clock::now();
  c.command("GETINFO x", [&](const Expected<Reply>& r) { got = outcome(r); });
  ASSERT_TRUE(run_until([&] { return got.has_value(); }, 3s));
  EXPECT_EQ(*got, "disconnected");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 200ms);
}

TEST_P(ReconnectTest, BackoffGrowsUpToItsCapAndGivesUpAfterMaxAttempts) {
  // One connection, then nobody accepts: each attempt fails its handshake.
  FakeTor fake([](int fd) { FakeTor::null_auth(fd); });
  ControllerOptions o = fast_reconnect();
  o.reconnect.initial_delay = 20ms;
  o.reconnect.max_delay = 60ms;
  o.reconnect.max_attempts = 4;
  o.connect.timeout = 100ms;
  o.disconnected_wait = 10s;
  Controller c(*reactor_, o);
  std::vector<std::string> steps;
  c.on_reconnect([&](const ReconnectEvent& e) { steps.push_back(describe(e)); });
  ASSERT_TRUE(connect(c, fake.endpoint()).ok());
  std::optional<std::string> waited;
  ASSERT_TRUE(run_until([&] { return c.reconnecting(); }));
  c.command("GETINFO x", [&](const Expected<Reply>& r) { waited = outcome(r); });
  ASSERT_TRUE(run_until([&] { return !steps.empty() && steps.back() == "gave up"; }, 10s));
  EXPECT_EQ(steps, (std::vector<std::string>{
                       "disconnected", "reconnecting 1 after 20ms", "reconnecting 2 after 40ms",
                       "reconnecting 3 after 60ms", "reconnecting 4 after 60ms", "gave up"}));
  ASSERT_TRUE(run_until([&] { return waited.has_value(); }));
  EXPECT_EQ(*waited, "disconnected") << "what waited fails when the policy gives up";
  EXPECT_FALSE(c.reconnecting());
}

TEST_P(ReconnectTest, CloseStopsReconnecting) {
  FakeTor fake([](int fd) { FakeTor::null_auth(fd); });
  ControllerOptions o = fast_reconnect();
  o.reconnect.initial_delay = 200ms;
  Controller c(*reactor_, o);
  std::vector<std::string> steps;
  c.on_reconnect([&](const ReconnectEvent& e) { steps.push_back(describe(e)); });
  ASSERT_TRUE(connect(c, fake.endpoint()).ok());
  ASSERT_TRUE(run_until([&] { return c.reconnecting(); }));
  c.close();
  run_until([] { return false; }, 500ms);
  EXPECT_EQ(steps,
            (std::vector<std::string>{"disconnected", "reconnecting 1 after 200ms", "gave up"}));
  EXPECT_FALSE(c.reconnecting());
}

TEST_P(ReconnectTest, ClosingAConnectionDoesNotReconnect) {
  FakeTor fake([](int fd) {
    FakeTor::null_auth(fd);
    while (!FakeTor::read_line(fd).empty()) {
    }
  });
  Controller c(*reactor_, fast_reconnect());
  std::vector<std::string> steps;
  c.on_reconnect([&](const ReconnectEvent& e) { steps.push_back(describe(e)); });
  ASSERT_TRUE(connect(c, fake.endpoint()).ok());
  c.close();
  run_until([] { return false; }, 300ms);
  EXPECT_TRUE(steps.empty());
}

// A server that stops answering without closing: the probe's GETINFO times
// out, the connection is declared dead and the policy reconnects.
TEST_P(ReconnectTest, LivenessProbeDeclaresAHungConnectionDeadAndReconnects) {
  std::atomic<int> probes{0};
  FakeTor fake(
      [&](int fd, int n) {
        FakeTor::null_auth(fd);
        for (std::string l; !(l = FakeTor::read_line(fd)).empty();) {
          if (l != "GETINFO version\r\n") continue;
          ++probes;
          if (n == 1) FakeTor::say(fd, "250-version=0.4.9\r\n250 OK\r\n");  // alive again
        }
      },
      2);
  ControllerOptions o = fast_reconnect();
  o.liveness.interval = 100ms;
  o.liveness.timeout = 200ms;
  Controller c(*reactor_, o);
  std::vector<std::string> steps;
  std::vector<Errc> why;
  c.on_reconnect([&](const ReconnectEvent& e) {
    steps.push_back(describe(e));
    if (e.kind == ReconnectEvent::Kind::disconnected) why.push_back(e.error.code);
  });
  ASSERT_TRUE(connect(c, fake.endpoint()).ok());
  ASSERT_TRUE(run_until([&] { return !steps.empty() && steps.back() == "reconnected"; }, 10s));
  EXPECT_EQ(why, std::vector<Errc>{Errc::timeout});
  // The answering server is probed too, and the connection stays.
  ASSERT_TRUE(run_until([&] { return probes.load() >= 3; }, 10s));
  EXPECT_TRUE(c.ready());
  EXPECT_EQ(steps.size(), 3u);
}

INSTANTIATE_TEST_SUITE_P(Backends, ReconnectTest, testing::kBothBackends, testing::backend_name);

}  // namespace
}  // namespace torcon
