// TorState across a tor restart (ControllerOptions::reconnect), against
// real standalone tors (DisableNetwork 1) on both reactor backends: tor is
// SIGKILLed with a stream waiting (a SOCKS connection it cannot serve: its
// only way out is a bridge on a closed loopback port) and
// restarted on the same control port; the state must end up as the new
// tor's circuit-status/stream-status, and a listener must have seen the old
// stream closed. And against a scripted server, for what a standalone tor
// cannot show: circuits, and the restarted tor reusing an ID for another
// circuit.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/fake_tor.hpp"
#include "support/reactor_backend.hpp"
#include "support/tor_process.hpp"
#include "torcon/controller.hpp"
#include "torcon/tor_state.hpp"

namespace torcon {
namespace {

using namespace std::chrono_literals;
using testing::TorOptions;
using testing::TorProcess;

TorOptions on_port(int control_port) {
  TorOptions o;
  o.control_port = control_port;
  return o;
}

// A SOCKS5 CONNECT to `ip`:80 that tor cannot serve (DisableNetwork 1): it
// makes a STREAM NEW that waits. Returns the socket (kept open) or -1.
int open_waiting_stream(int socks_port, const char* ip) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(socks_port));
  ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  unsigned char req[10] = {5, 1, 0, 1, 0, 0, 0, 0, 0, 80};
  unsigned char hello[3] = {5, 1, 0}, answer[2] = {};
  ::inet_pton(AF_INET, ip, req + 4);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::send(fd, hello, sizeof hello, 0) != 3 || ::recv(fd, answer, 2, MSG_WAITALL) != 2 ||
      answer[0] != 5 || answer[1] != 0 || ::send(fd, req, sizeof req, 0) != 10) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The IDs in a circuit-status / stream-status value (first word of each line).
std::vector<std::string> ids_of(std::string_view status) {
  std::vector<std::string> ids;
  while (!status.empty()) {
    const std::size_t nl = status.find('\n');
    std::string_view line = status.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) ids.emplace_back(line.substr(0, line.find(' ')));
    if (nl == std::string_view::npos) break;
    status.remove_prefix(nl + 1);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

class TorStateResyncTest : public testing::BackendTest {
 protected:
  // GETINFO on `c`, run to its answer; "" on failure (the test fails).
  std::string getinfo(Controller& c, std::string_view key) {
    std::optional<Expected<KeyValues>> kv;
    const std::string_view keys[] = {key};
    c.getinfo(keys, [&](const Expected<KeyValues>& r) { kv = r; });
    EXPECT_TRUE(run_until([&] { return kv.has_value(); }));
    if (!kv || !*kv) {
      ADD_FAILURE() << "GETINFO " << key << ": " << (kv ? kv->error().message : "no answer");
      return {};
    }
    const std::string* v = (*kv)->find(key);
    return v ? *v : std::string{};
  }
  // Opens a SOCKS port and says which. tor_process starts tor with
  // SocksPort 0 and DisableNetwork 1, which opens no listener but the
  // control port; so the network is enabled with one bridge on a closed
  // loopback port as its only way out: tor takes SOCKS requests, and their
  // streams wait for circuits it cannot build (nothing leaves 127.0.0.1).
  int socks_port(Controller& c) {
    std::optional<Expected<Reply>> set;
    c.command(
        "SETCONF UseBridges=1 Bridge=\"127.0.0.1:1 0123456789ABCDEF0123456789ABCDEF01234567\" "
        "SocksPort=127.0.0.1:auto DisableNetwork=0",
        [&](const Expected<Reply>& r) { set = r; });
    EXPECT_TRUE(run_until([&] { return set.has_value(); }));
    EXPECT_TRUE(set && *set && (*set)->is_ok())
        << (set && *set ? std::string((*set)->status_text()) : std::string("failed"));
    std::string v = getinfo(c, "net/listeners/socks");  // "127.0.0.1:PORT" quoted
    v.erase(std::remove(v.begin(), v.end(), '"'), v.end());
    const std::size_t colon = v.rfind(':');
    return colon == std::string::npos ? 0 : std::atoi(v.c_str() + colon + 1);
  }
  std::vector<std::string> state_stream_ids(const TorState& s) {
    std::vector<std::string> ids;
    for (const Stream* st : s.streams()) ids.emplace_back(st->id());
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  std::vector<std::string> state_circuit_ids(const TorState& s) {
    std::vector<std::string> ids;
    for (const Circuit* c : s.circuits()) ids.emplace_back(c->id());
    std::sort(ids.begin(), ids.end());
    return ids;
  }
};

TEST_P(TorStateResyncTest, KilledAndRestartedTorReplacesTheStreamsAndReportsTheOldOnesClosed) {
  auto tor = std::make_unique<TorProcess>(on_port(0));
  ASSERT_TRUE(tor->ok()) << tor->error();
  const int port = tor->control_port();
  ControllerOptions o;
  o.reconnect.enabled = true;
  o.reconnect.initial_delay = 100ms;
  o.reconnect.max_delay = 1s;
  o.reconnect.jitter = 0;
  o.connect.timeout = 2s;
  Controller c(*reactor_, o);
  std::optional<Status> connected;
  c.connect(Endpoint::tcp("127.0.0.1", static_cast<std::uint16_t>(port)),
            [&](const Status& s) { connected = s; });
  ASSERT_TRUE(run_until([&] { return connected.has_value(); }));
  ASSERT_TRUE(connected->ok()) << connected->error().message;

  TorState state;
  std::vector<std::string> errors;
  state.on_listener_error([&](std::string_view e) { errors.emplace_back(e); });
  struct Closed {
    std::string id, target, reason;
  };
  std::vector<Closed> closed;
  std::vector<std::string> created;
  // Only ours (192.0.2.x): tor makes and ends streams of its own (to the bridge).
  auto ours = [](const Stream& s) { return s.target().starts_with("192.0.2."); };
  auto count_ours = [&] {
    const std::vector<const Stream*> all = state.streams();
    return std::count_if(all.begin(), all.end(), [&](const Stream* s) { return ours(*s); });
  };
  state.on_stream([&](const Stream& s, StreamChanges what) {
    if (!ours(s)) return;
    if (what & stream_removed)
      closed.push_back({std::string(s.id()), std::string(s.target()), std::string(s.reason())});
    if (what & stream_created) created.emplace_back(s.target());
  });
  std::optional<Status> attached;
  state.attach(c, [&](const Status& s) { attached = s; });
  ASSERT_TRUE(run_until([&] { return attached.has_value(); }));
  ASSERT_TRUE(attached->ok()) << attached->error().message;

  const int sp = socks_port(c);
  const int old_fd = open_waiting_stream(sp, "192.0.2.1");
  ASSERT_GE(old_fd, 0) << "SOCKS port " << sp << ": " << std::strerror(errno);
  ASSERT_TRUE(run_until([&] { return count_ours() == 1; }));
  ASSERT_EQ(created.size(), 1u);
  const std::string old_id = [&] {
    for (const Stream* s : state.streams())
      if (ours(*s)) return std::string(s->id());
    return std::string();
  }();
  EXPECT_EQ(state.tor_pid(), static_cast<std::uint64_t>(tor->pid()));

  tor->kill_now(SIGKILL);
  ASSERT_TRUE(run_until([&] { return c.reconnecting(); }));
  tor.reset();
  ::close(old_fd);
  TorProcess restarted(on_port(port));
  ASSERT_TRUE(restarted.ok()) << restarted.error();
  ASSERT_TRUE(run_until([&] { return c.ready(); }, 20s));
  // The old stream left once the resync's snapshot named another tor, told
  // closed, with the reason.
  ASSERT_TRUE(run_until([&] { return !closed.empty(); }, 20s));
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].id, old_id);
  EXPECT_EQ(closed[0].target, "192.0.2.1:80");
  EXPECT_EQ(closed[0].reason, kReconnectReason);

  // A stream on the new tor (it numbers from 1 again: likely the old ID).
  const int new_fd = open_waiting_stream(socks_port(c), "192.0.2.2");
  ASSERT_GE(new_fd, 0);
  ASSERT_TRUE(run_until([&] { return count_ours() == 1; }));
  // Asked after the resync's snapshot (answered after it was applied); the
  // state's tables are read at the instant of tor's answer.
  std::optional<Expected<KeyValues>> now;
  std::vector<std::string> state_streams, state_circuits;
  c.getinfo({"circuit-status", "stream-status"}, [&](const Expected<KeyValues>& kv) {
    now = kv;
    state_streams = state_stream_ids(state);
    state_circuits = state_circuit_ids(state);
  });
  ASSERT_TRUE(run_until([&] { return now.has_value(); }));
  ASSERT_TRUE(*now) << now->error().message;
  const std::string* tor_streams = (*now)->find("stream-status");
  const std::string* tor_circuits = (*now)->find("circuit-status");
  ASSERT_TRUE(tor_streams && tor_circuits);
  EXPECT_EQ(state_streams, ids_of(*tor_streams));
  EXPECT_EQ(state_circuits, ids_of(*tor_circuits));
  for (const Stream* s : state.streams()) {
    if (ours(*s)) {
      EXPECT_EQ(s->target(), "192.0.2.2:80");
    }
  }
  EXPECT_EQ(state.tor_pid(), static_cast<std::uint64_t>(restarted.pid()));
  for (std::size_t i = 1; i < closed.size(); ++i)
    ADD_FAILURE() << "also closed: " << closed[i].id << " " << closed[i].target << " "
                  << closed[i].reason;
  EXPECT_EQ(std::count(created.begin(), created.end(), "192.0.2.2:80"), 1);
  EXPECT_TRUE(errors.empty()) << errors.front();
  ::close(new_fd);
}

// The scripted tor's snapshot answer: `circuits` and `streams` as
// circuit-status and stream-status lines.
std::string snapshot_reply(std::string_view circuits, std::string_view streams) {
  return "250-ns/all=\r\n250+circuit-status=\r\n" + std::string(circuits) +
         ".\r\n250+stream-status=\r\n" + std::string(streams) +
         ".\r\n250-address-mappings/all=\r\n250-entry-guards=\r\n250-process/pid=4242\r\n250 "
         "OK\r\n";
}

// A circuit ID the restarted tor gives to another circuit: the old circuit
// is reported closed (with the reason) before the new one is created, never
// merged into it; the old stream is closed too.
TEST_P(TorStateResyncTest, ARestartedTorsCircuitWithAnOldIdIsANewCircuit) {
  const std::string hop = "$" + std::string(40, 'A') + "~relay";
  testing::FakeTor fake(
      [&](int fd, int n) {
        testing::FakeTor::null_auth(fd);
        for (std::string l; !(l = testing::FakeTor::read_line(fd)).empty();) {
          if (l.starts_with("GETINFO ns/all"))
            testing::FakeTor::say(fd,
                                  n == 0 ? snapshot_reply("1 BUILT " + hop + " PURPOSE=GENERAL\r\n",
                                                          "5 SUCCEEDED 1 192.0.2.1:80\r\n")
                                         : snapshot_reply("1 LAUNCHED PURPOSE=GENERAL\r\n", ""));
          else if (l.starts_with("GETCONF"))
            testing::FakeTor::say(fd, "250 __LeaveStreamsUnattached\r\n");
          else if (l.starts_with("GETINFO hang-up"))
            return;  // the connection ends: the controller reconnects
          else
            testing::FakeTor::say(fd, "250 OK\r\n");
        }
      },
      2);
  ControllerOptions o;
  o.reconnect.enabled = true;
  o.reconnect.initial_delay = 10ms;
  o.reconnect.jitter = 0;
  Controller c(*reactor_, o);
  std::optional<Status> connected;
  c.connect(fake.endpoint(), [&](const Status& s) { connected = s; });
  ASSERT_TRUE(run_until([&] { return connected.has_value(); }));
  ASSERT_TRUE(connected->ok()) << connected->error().message;
  TorState state;
  std::vector<std::string> seen;  // what the listeners were told, in order
  state.on_circuit([&](const Circuit& ci, CircuitChanges what) {
    std::string e = "circuit " + std::string(ci.id()) + " " + std::string(ci.state_text());
    if (what & circuit_created) e += " created";
    if (what & circuit_streams) e += " streams";
    if (what & circuit_removed) e += " removed " + std::string(ci.reason());
    seen.push_back(e);
  });
  state.on_stream([&](const Stream& st, StreamChanges what) {
    std::string e = "stream " + std::string(st.id()) + " " + std::string(st.state_text());
    if (what & stream_created) e += " created";
    if (what & stream_removed) e += " removed " + std::string(st.reason());
    seen.push_back(e);
  });
  std::optional<Status> attached;
  state.attach(c, [&](const Status& s) { attached = s; });
  ASSERT_TRUE(run_until([&] { return attached.has_value(); }));
  ASSERT_TRUE(attached->ok()) << attached->error().message;
  ASSERT_NE(state.circuit("1"), nullptr);
  EXPECT_EQ(state.circuit("1")->path().size(), 1u);
  seen.clear();

  bool hung_up = false;
  c.command("GETINFO hang-up", [&](const Expected<Reply>&) { hung_up = true; });
  ASSERT_TRUE(run_until([&] { return hung_up; }));
  // The resync's snapshot is applied on the new connection; anything asked
  // once it is ready is answered after it.
  ASSERT_TRUE(run_until([&] { return c.ready(); }, 10s));
  std::optional<Expected<Reply>> after;
  c.command("GETINFO version", [&](const Expected<Reply>& r) { after = r; });
  ASSERT_TRUE(run_until([&] { return after.has_value(); }, 10s));
  ASSERT_TRUE(*after) << after->error().message;
  const std::string reason(kReconnectReason);
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "stream 5 CLOSED removed " + reason, "circuit 1 BUILT streams",
                      "circuit 1 CLOSED removed " + reason, "circuit 1 LAUNCHED created"}));
  ASSERT_NE(state.circuit("1"), nullptr);
  EXPECT_EQ(state.circuit("1")->state(), CircStatus::launched);
  EXPECT_TRUE(state.circuit("1")->path().empty()) << "the old circuit's path was kept";
  EXPECT_EQ(state.stream("5"), nullptr);
  EXPECT_EQ(state.tor_pid(), 4242u);
}

// The scripted tor's snapshot answer with every key: `uptime` and the
// address map and guards too.
std::string full_snapshot(std::string_view circuits, std::string_view streams,
                          std::string_view addresses, std::string_view guards, int pid,
                          int uptime) {
  return "250-ns/all=\r\n250+circuit-status=\r\n" + std::string(circuits) +
         ".\r\n250+stream-status=\r\n" + std::string(streams) +
         ".\r\n250+address-mappings/all=\r\n" + std::string(addresses) +
         ".\r\n250+entry-guards=\r\n" + std::string(guards) +
         ".\r\n250-process/pid=" + std::to_string(pid) +
         "\r\n250-uptime=" + std::to_string(uptime) + "\r\n250 OK\r\n";
}

// What the listeners of a TorState were told, in order, one line each.
struct Told {
  std::vector<std::string> seen;
  void watch(TorState& state) {
    state.on_circuit([this](const Circuit& ci, CircuitChanges what) {
      std::string e = "circuit " + std::string(ci.id()) + " " + std::string(ci.state_text());
      if (what & circuit_created) e += " created";
      if (what & circuit_state) e += " state";
      if (what & circuit_streams) e += " streams";
      if (what & circuit_removed) e += " removed " + std::string(ci.reason());
      seen.push_back(e);
    });
    state.on_stream([this](const Stream& st, StreamChanges what) {
      std::string e = "stream " + std::string(st.id()) + " " + std::string(st.state_text());
      if (what & stream_created) e += " created";
      if (what & stream_state) e += " state";
      if (what & stream_circuit) e += " circuit";
      if (what & stream_removed) e += " removed " + std::string(st.reason());
      seen.push_back(e);
    });
    state.on_address_map([this](const AddressMapping& m, AddressMapChange what) {
      seen.push_back("address " + m.address + " " + m.target +
                     (what == AddressMapChange::added     ? " added"
                      : what == AddressMapChange::updated ? " updated"
                                                          : " removed"));
    });
    state.on_guard([this](const Guard& g, GuardChange what) {
      seen.push_back("guard " + std::string(g.router->nickname()) + " " + g.status +
                     (what == GuardChange::added     ? " added"
                      : what == GuardChange::changed ? " changed"
                                                     : " removed"));
    });
    state.on_snapshot([this](SnapshotOrigin o) {
      seen.push_back(o == SnapshotOrigin::attach     ? "snapshot attach"
                     : o == SnapshotOrigin::same_tor ? "snapshot same_tor"
                                                     : "snapshot other_tor");
    });
  }
};

// A scripted tor whose connection drops once (at "GETINFO hang-up"); its
// snapshot answers are `first` and then `second`, with `before_second`
// (events) written just before the second.
class TwoConnectionTor {
 public:
  TwoConnectionTor(std::string first, std::string before_second, std::string second)
      : fake_(
            [first = std::move(first), before = std::move(before_second),
             second = std::move(second)](int fd, int n) {
              testing::FakeTor::null_auth(fd);
              for (std::string l; !(l = testing::FakeTor::read_line(fd)).empty();) {
                if (l.starts_with("GETINFO ns/all")) {
                  if (n == 1 && !before.empty()) testing::FakeTor::say(fd, before);
                  testing::FakeTor::say(fd, n == 0 ? first : second);
                } else if (l.starts_with("GETCONF")) {
                  testing::FakeTor::say(fd, "250 __LeaveStreamsUnattached\r\n");
                } else if (l.starts_with("GETINFO hang-up")) {
                  return;
                } else {
                  testing::FakeTor::say(fd, "250 OK\r\n");
                }
              }
            },
            2) {}
  Endpoint endpoint() const { return fake_.endpoint(); }

 private:
  testing::FakeTor fake_;
};

class TorStateResyncScriptTest : public TorStateResyncTest {
 protected:
  // Attaches `state` over a reconnecting controller to `tor`, drops the
  // connection once and waits until the resync's snapshot is applied.
  void attach_then_reconnect(std::unique_ptr<TwoConnectionTor> tor, TorState& state, Told& told) {
    tor_ = std::move(tor);
    ControllerOptions o;
    o.reconnect.enabled = true;
    o.reconnect.initial_delay = 10ms;
    o.reconnect.jitter = 0;
    ctl_ = std::make_unique<Controller>(*reactor_, o);
    std::optional<Status> connected;
    ctl_->connect(tor_->endpoint(), [&](const Status& s) { connected = s; });
    ASSERT_TRUE(run_until([&] { return connected.has_value(); }));
    ASSERT_TRUE(connected->ok()) << connected->error().message;
    std::optional<Status> attached;
    state.attach(*ctl_, [&](const Status& s) { attached = s; });
    ASSERT_TRUE(run_until([&] { return attached.has_value(); }));
    ASSERT_TRUE(attached->ok()) << attached->error().message;
    told.seen.clear();
    bool hung_up = false;
    ctl_->command("GETINFO hang-up", [&](const Expected<Reply>&) { hung_up = true; });
    ASSERT_TRUE(run_until([&] { return hung_up; }));
    ASSERT_TRUE(run_until(
        [&] { return !told.seen.empty() && told.seen.back().starts_with("snapshot"); }, 10s));
  }
  void TearDown() override {  // the controller before the reactor, the scripted tor after it
    ctl_.reset();
    tor_.reset();
    TorStateResyncTest::TearDown();
  }
  std::unique_ptr<TwoConnectionTor> tor_;  // outlives the controller: its thread ends on EOF
  std::unique_ptr<Controller> ctl_;
};

const std::string kHop1 = "$" + std::string(40, 'A') + "~relay";
const std::string kHop2 = "$" + std::string(40, 'B') + "~other";
const std::string kGuard1 = "$" + std::string(40, 'C') + "~guardone";
const std::string kGuard2 = "$" + std::string(40, 'D') + "~guardtwo";

// The same tor (same pid, same start) after the connection dropped: what it
// still has is kept and updated in place (no close and create), what ended
// in the gap is closed with kReconnectReason, mappings and guards it no
// longer lists are removed. An event written before the snapshot's reply
// applies to the kept entries.
TEST_P(TorStateResyncScriptTest, TheSameTorKeepsWhatItStillHas) {
  auto tor = std::make_unique<TwoConnectionTor>(
      full_snapshot(
          "1 BUILT " + kHop1 + " PURPOSE=GENERAL\r\n2 BUILT " + kHop2 + " PURPOSE=GENERAL\r\n",
          "5 SUCCEEDED 1 192.0.2.1:80\r\n6 SUCCEEDED 2 192.0.2.2:80\r\n"
          "7 SUCCEEDED 1 192.0.2.3:80\r\n",
          "a.example 192.0.2.10 NEVER\r\nb.example 192.0.2.11 NEVER\r\n",
          kGuard1 + " up\r\n" + kGuard2 + " up\r\n", 4242, 1000),
      "650 STREAM 5 SUCCEEDED 1 192.0.2.1:80\r\n650 CIRC 1 BUILT " + kHop1 +
          " PURPOSE=GENERAL\r\n650 STREAM 9 NEW 0 192.0.2.9:80\r\n",
      full_snapshot("1 BUILT " + kHop1 + " PURPOSE=GENERAL\r\n",
                    "5 SUCCEEDED 1 192.0.2.1:80\r\n7 NEW 0 192.0.2.3:80\r\n"
                    "9 NEW 0 192.0.2.9:80\r\n",
                    "a.example 192.0.2.12 NEVER\r\n", kGuard1 + " down\r\n", 4242, 1001));
  TorState state(*reactor_);
  Told told;
  told.watch(state);
  attach_then_reconnect(std::move(tor), state, told);
  const std::string reason(kReconnectReason);
  EXPECT_EQ(told.seen, (std::vector<std::string>{
                           // the held events, on the kept entries: nothing new but stream 9
                           "stream 9 NEW created",
                           // the snapshot: stream 7 was detached in the gap and waits again
                           "circuit 1 BUILT streams",
                           "stream 7 NEW state circuit",
                           "address a.example 192.0.2.12 updated",
                           "guard guardone down changed",
                           // what it no longer has
                           "stream 6 CLOSED state removed " + reason,
                           "circuit 2 BUILT streams",
                           "circuit 2 CLOSED state removed " + reason,
                           "address b.example 192.0.2.11 removed",
                           "guard guardtwo up removed",
                           "snapshot same_tor",
                       }));
  ASSERT_NE(state.circuit("1"), nullptr);
  EXPECT_EQ(state.circuit("1")->path().size(), 1u);
  ASSERT_NE(state.stream("5"), nullptr);
  EXPECT_EQ(state.stream("5")->circuit(), state.circuit("1"));
  ASSERT_NE(state.stream("7"), nullptr);
  EXPECT_EQ(state.stream("7")->circuit(), nullptr);
  EXPECT_EQ(state.stream("7")->detach_count(), 1u);
  EXPECT_TRUE(state.stream("7")->may_need_decision());
  // Stream 9's NEW came as an event: it is not a snapshot's guess.
  ASSERT_NE(state.stream("9"), nullptr);
  EXPECT_FALSE(state.stream("9")->may_need_decision());
  EXPECT_EQ(state.circuit("2"), nullptr);
  EXPECT_EQ(state.stream("6"), nullptr);
  EXPECT_EQ(state.address_mapping("b.example"), nullptr);
  EXPECT_EQ(state.address_mapping_count(), 1u);
  ASSERT_EQ(state.guards().size(), 1u);
  EXPECT_EQ(state.guards()[0].router->nickname(), "guardone");
  EXPECT_EQ(state.tor_pid(), 4242u);
}

// Another tor behind the same endpoint with the same pid (PID 1 in a
// container, say), told apart by its start: everything from before is
// closed, then created from its snapshot; its mappings and guards replace
// the old ones.
TEST_P(TorStateResyncScriptTest, TheSamePidStartedLaterIsAnotherTor) {
  auto tor = std::make_unique<TwoConnectionTor>(
      full_snapshot("1 BUILT " + kHop1 + " PURPOSE=GENERAL\r\n", "5 SUCCEEDED 1 192.0.2.1:80\r\n",
                    "a.example 192.0.2.10 NEVER\r\n", kGuard1 + " up\r\n", 1, 1000),
      "650 STREAM 5 NEW 0 192.0.2.5:80\r\n",
      full_snapshot("1 LAUNCHED PURPOSE=GENERAL\r\n", "5 NEW 0 192.0.2.5:80\r\n",
                    "c.example 192.0.2.13 NEVER\r\n", kGuard2 + " up\r\n", 1, 3));
  TorState state(*reactor_);
  Told told;
  told.watch(state);
  attach_then_reconnect(std::move(tor), state, told);
  const std::string reason(kReconnectReason);
  EXPECT_EQ(told.seen, (std::vector<std::string>{
                           "stream 5 CLOSED state removed " + reason,
                           "circuit 1 BUILT streams",
                           "circuit 1 CLOSED state removed " + reason,
                           // the held event: the new tor's stream 5
                           "stream 5 NEW created",
                           "circuit 1 LAUNCHED created",
                           "address c.example 192.0.2.13 added",
                           "guard guardtwo up added",
                           "address a.example 192.0.2.10 removed",
                           "guard guardone up removed",
                           "snapshot other_tor",
                       }));
  ASSERT_NE(state.stream("5"), nullptr);
  EXPECT_EQ(state.stream("5")->target(), "192.0.2.5:80");
  EXPECT_EQ(state.stream("5")->detach_count(), 0u);
  ASSERT_EQ(state.guards().size(), 1u);
  EXPECT_EQ(state.guards()[0].router->nickname(), "guardtwo");
}

// Events are held until the resync's snapshot names the tor, but not beyond
// 64 MiB: past that the safe answer is taken at once, as for another tor
// (the old entries closed, the events applied), although this snapshot then
// shows the same pid and start.
TEST_P(TorStateResyncScriptTest, MoreThan64MiBBeforeTheSnapshotIsTreatedAsAnotherTor) {
  const std::string pad(512u << 10, 'x');  // 130 events of 512 KiB: 65 MiB
  std::string flood;
  flood.reserve(130 * (pad.size() + 64));
  for (int i = 0; i < 130; ++i) flood += "650 STREAM 77 NEW 0 192.0.2.77:80 PAD=" + pad + "\r\n";
  const std::string snapshot = full_snapshot("1 BUILT " + kHop1 + " PURPOSE=GENERAL\r\n",
                                             "5 SUCCEEDED 1 192.0.2.1:80\r\n", "", "", 4242, 1000);
  auto tor = std::make_unique<TwoConnectionTor>(
      snapshot, std::move(flood),
      full_snapshot("1 BUILT " + kHop1 + " PURPOSE=GENERAL\r\n", "5 SUCCEEDED 1 192.0.2.1:80\r\n",
                    "", "", 4242, 1001));
  TorState state(*reactor_);
  Told told;
  told.watch(state);
  attach_then_reconnect(std::move(tor), state, told);
  const std::string reason(kReconnectReason);
  ASSERT_GE(told.seen.size(), 4u);
  // Closed while the events were still arriving: before any of them applied.
  EXPECT_EQ(told.seen[0], "stream 5 CLOSED state removed " + reason);
  EXPECT_EQ(told.seen[1], "circuit 1 BUILT streams");
  EXPECT_EQ(told.seen[2], "circuit 1 CLOSED state removed " + reason);
  EXPECT_EQ(told.seen[3], "stream 77 NEW created");
  EXPECT_EQ(told.seen.back(), "snapshot other_tor");
  // The snapshot brought them back as new entries.
  ASSERT_NE(state.stream("5"), nullptr);
  EXPECT_EQ(state.stream("5")->circuit(), state.circuit("1"));
  ASSERT_NE(state.stream("77"), nullptr);
}

// Streams known from events before the drop that the same tor's snapshot
// lists as NEW on circuit 0 may be waiting for a controller, and an
// attacher offers them (Stream::may_need_decision()), except tor's own:
// stream-status writes no purpose, so what the events said decides.
TEST_P(TorStateResyncScriptTest, WhichStreamsSeenWaitingAfterTheDropMayNeedADecision) {
  struct Case {
    const char* id;
    std::string args;  // the first connection's STREAM NEW event after the target
    bool may_need_decision;
  };
  const std::vector<Case> cases = {
      {"20", " SOURCE_ADDR=127.0.0.1:40001 PURPOSE=USER", true},
      {"21", " SOURCE_ADDR=127.0.0.1:40002 PURPOSE=DNS_REQUEST", true},
      {"22", "", true},  // no PURPOSE (older tor): a user's, as far as we know
      {"23", " SOURCE_ADDR=(Tor_internal):0 PURPOSE=DIR_FETCH", false},
      {"24", " SOURCE_ADDR=(Tor_internal):0 PURPOSE=DIR_UPLOAD", false},
      {"25", " SOURCE_ADDR=(Tor_internal):0 PURPOSE=USER", false},
      {"26", " SOURCE_ADDR=127.0.0.1:40003 PURPOSE=DIRPORT_TEST", false},
  };
  std::string events, lines;
  for (const Case& c : cases) {
    const std::string target = std::string(" 0 192.0.2.") + c.id + ":80";
    events += std::string("650 STREAM ") + c.id + " NEW" + target + c.args + "\r\n";
    lines += std::string(c.id) + " NEW" + target + "\r\n";
  }
  auto tor =
      std::make_unique<TwoConnectionTor>(events + full_snapshot("", lines, "", "", 4242, 1000), "",
                                         full_snapshot("", lines, "", "", 4242, 1001));
  TorState state(*reactor_);
  Told told;
  told.watch(state);
  attach_then_reconnect(std::move(tor), state, told);
  ASSERT_EQ(told.seen.back(), "snapshot same_tor");
  for (const Case& c : cases) {
    const Stream* s = state.stream(c.id);
    ASSERT_NE(s, nullptr) << c.id;
    EXPECT_EQ(s->may_need_decision(), c.may_need_decision) << c.id << c.args;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, TorStateResyncScriptTest, testing::kBothBackends,
                         testing::backend_name);

INSTANTIATE_TEST_SUITE_P(Backends, TorStateResyncTest, testing::kBothBackends,
                         testing::backend_name);

}  // namespace
}  // namespace torcon
