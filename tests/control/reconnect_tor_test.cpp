// The reconnect policy, deadlines and the liveness probe against real tors
// (standalone, DisableNetwork 1) on both reactor backends: tor killed with
// commands in flight and restarted on the same port with a new cookie, and
// tor stopped (SIGSTOP) and continued.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/reactor_backend.hpp"
#include "support/tor_process.hpp"
#include "torcon/controller.hpp"
#include "torcon/stream_attacher.hpp"
#include "torcon/tor_state.hpp"

namespace torcon {
namespace {

using namespace std::chrono_literals;
using testing::TorOptions;
using testing::TorProcess;

// Whether the child `pid` has exited (unreaped: TorProcess reaps it, so a
// dead tor is a zombie until then).
bool exited(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  FILE* f = std::fopen(path, "r");
  if (!f) return true;
  char buf[512] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  const std::string_view st(buf, n);
  const std::size_t paren = st.rfind(')');
  return paren == std::string_view::npos || paren + 2 >= st.size() || st[paren + 2] == 'Z';
}

class ReconnectTorTest : public testing::BackendTest {
 protected:
  Status connect(Controller& c, int port) {
    std::optional<Status> st;
    c.connect(Endpoint::tcp("127.0.0.1", static_cast<std::uint16_t>(port)),
              [&](const Status& s) { st = s; });
    EXPECT_TRUE(run_until([&] { return st.has_value(); }));
    return st.value_or(Status(Error(Errc::timeout, "connect did not complete")));
  }
  static ControllerOptions reconnecting() {
    ControllerOptions o;
    o.reconnect.enabled = true;
    o.reconnect.initial_delay = 100ms;
    o.reconnect.max_delay = 1s;
    o.reconnect.jitter = 0;
    o.connect.timeout = 2s;
    return o;
  }
};

TEST_P(ReconnectTorTest, KilledWithCommandsInFlightAndRestartedOnTheSamePortWithANewCookie) {
  auto tor = std::make_unique<TorProcess>();
  ASSERT_TRUE(tor->ok()) << tor->error();
  const int port = tor->control_port();
  const std::string first_cookie = tor->cookie_path();
  Controller c(*reactor_, reconnecting());
  std::vector<ReconnectEvent::Kind> steps;
  c.on_reconnect([&](const ReconnectEvent& e) { steps.push_back(e.kind); });
  int hooks = 0;
  c.add_reconnect_hook([&] { ++hooks; });
  ASSERT_TRUE(connect(c, port).ok());
  std::vector<std::string> signals;
  std::optional<Status> sub, owned;
  c.subscribe(
      "SIGNAL", [&](const Reply& r) { signals.emplace_back(r.raw); },
      [&](const Status& s) { sub = s; });
  c.takeownership([&](const Status& s) { owned = s; });
  ASSERT_TRUE(run_until([&] { return sub && owned; }));
  ASSERT_TRUE(sub->ok() && owned->ok());

  constexpr int kN = 500;
  int answered = 0, failed = 0, other = 0;
  for (int i = 0; i < kN; ++i)
    c.getinfo({"config-text"}, [&](const Expected<KeyValues>& kv) {
      ++answered;
      if (!kv) ++(kv.error().code == Errc::disconnected ? failed : other);
    });
  tor->kill_now(SIGKILL);
  ASSERT_TRUE(run_until([&] { return answered == kN; }));
  EXPECT_GT(failed, 0);
  EXPECT_EQ(other, 0);
  EXPECT_TRUE(c.reconnecting());
  tor.reset();  // reaped: the port is free

  TorOptions again;
  again.control_port = port;
  TorProcess restarted(again);  // a new DataDirectory: a new cookie, elsewhere
  ASSERT_TRUE(restarted.ok()) << restarted.error();
  ASSERT_NE(restarted.cookie_path(), first_cookie);
  ASSERT_TRUE(run_until([&] { return c.ready(); }, 20s));
  EXPECT_EQ(answered, kN) << "each pending command completed once, and only once";
  EXPECT_EQ(c.protocol_info().cookie_file, restarted.cookie_path());
  EXPECT_EQ(c.auth_method(), AuthMethod::safecookie);
  ASSERT_GE(steps.size(), 3u);
  EXPECT_EQ(steps.front(), ReconnectEvent::Kind::disconnected);
  EXPECT_EQ(steps.back(), ReconnectEvent::Kind::reconnected);
  EXPECT_EQ(hooks, 1);

  // Events flow again: SETEVENTS SIGNAL was re-sent.
  std::optional<Status> sent;
  c.signal("CLEARDNSCACHE", [&](const Status& s) { sent = s; });
  ASSERT_TRUE(run_until([&] { return sent && !signals.empty(); }));
  EXPECT_EQ(signals.back(), "650 SIGNAL CLEARDNSCACHE\r\n");

  // TAKEOWNERSHIP was taken again: the new tor exits when we close.
  const pid_t pid = restarted.pid();
  ASSERT_GT(pid, 0);
  c.close();
  EXPECT_TRUE(run_until([&] { return exited(pid); }, 20s))
      << "tor still runs after the owning controller closed";
}

TEST_P(ReconnectTorTest, StoppedTorTimesOutACommandAndTheProbeReconnectsAfterSigcont) {
  TorProcess tor;
  ASSERT_TRUE(tor.ok()) << tor.error();
  ControllerOptions o = reconnecting();
  o.liveness.interval = 200ms;
  o.liveness.timeout = 500ms;
  o.connect.timeout = 500ms;
  Controller c(*reactor_, o);
  std::vector<ReconnectEvent> steps;
  c.on_reconnect([&](const ReconnectEvent& e) { steps.push_back(e); });
  ASSERT_TRUE(connect(c, tor.control_port()).ok());

  tor.kill_now(SIGSTOP);
  std::optional<Error> got;
  const auto t0 = std::chrono::steady_clock::now();
  c.command(
      "GETINFO version", [&](const Expected<Reply>& r) { got = r ? Error() : r.error(); },
      CommandOptions{300ms});
  ASSERT_TRUE(run_until([&] { return got.has_value(); }, 10s));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(got->code, Errc::timeout) << got->message;
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 3s) << "the deadline, not the probe or a reconnection, ended it";

  // The probe declares the connection dead; attempts time out while tor is stopped.
  ASSERT_TRUE(run_until([&] { return !steps.empty(); }, 10s));
  EXPECT_EQ(steps[0].kind, ReconnectEvent::Kind::disconnected);
  EXPECT_EQ(steps[0].error.code, Errc::timeout) << steps[0].error.message;
  ASSERT_TRUE(run_until([&] { return steps.size() >= 3; }, 10s));
  EXPECT_FALSE(c.ready());

  tor.kill_now(SIGCONT);
  ASSERT_TRUE(run_until([&] { return c.ready(); }, 20s));
  EXPECT_EQ(steps.back().kind, ReconnectEvent::Kind::reconnected);
  std::optional<Expected<KeyValues>> v;
  c.getinfo({"version"}, [&](const Expected<KeyValues>& kv) { v = kv; });
  ASSERT_TRUE(run_until([&] { return v.has_value(); }));
  EXPECT_TRUE(v->ok());
}

// A restarted tor has __LeaveStreamsUnattached off: the installed attacher
// sets it again from its reconnect hook, or streams would bypass it.
TEST_P(ReconnectTorTest, AnInstalledAttacherSetsLeaveStreamsUnattachedOnTheRestartedTor) {
  auto tor = std::make_unique<TorProcess>();
  ASSERT_TRUE(tor->ok()) << tor->error();
  const int port = tor->control_port();
  Controller c(*reactor_, reconnecting());
  ASSERT_TRUE(connect(c, port).ok());
  TorState state;
  std::optional<Status> attached, installed;
  state.attach(c, [&](const Status& s) { attached = s; });
  StreamAttacher attacher(state, c);
  attacher.install([&](const Status& s) { installed = s; });
  ASSERT_TRUE(run_until([&] { return attached && installed; }));
  ASSERT_TRUE(installed->ok()) << installed->error().message;

  tor->kill_now(SIGKILL);
  ASSERT_TRUE(run_until([&] { return c.reconnecting(); }));
  tor.reset();
  TorOptions again;
  again.control_port = port;
  TorProcess restarted(again);
  ASSERT_TRUE(restarted.ok()) << restarted.error();
  ASSERT_TRUE(run_until([&] { return c.ready(); }, 20s));
  std::optional<Expected<bool>> leave;
  // Queued behind the hook's SETCONF: answered after it.
  check_leave_streams_unattached(c, [&](const Expected<bool>& v) { leave = v; });
  ASSERT_TRUE(run_until([&] { return leave.has_value(); }));
  ASSERT_TRUE(leave->ok()) << leave->error().message;
  EXPECT_TRUE(**leave);
  EXPECT_TRUE(attacher.installed());
}

INSTANTIATE_TEST_SUITE_P(Backends, ReconnectTorTest, testing::kBothBackends, testing::backend_name);

}  // namespace
}  // namespace torcon
