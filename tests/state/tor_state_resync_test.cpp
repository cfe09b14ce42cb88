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
  // The old stream left at the reconnection, told closed, with the reason.
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

INSTANTIATE_TEST_SUITE_P(Backends, TorStateResyncTest, testing::kBothBackends,
                         testing::backend_name);

}  // namespace
}  // namespace torcon
