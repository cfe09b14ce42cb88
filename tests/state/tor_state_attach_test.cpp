// TorState::attach() against a scripted control server, for the orderings a
// real tor produces only by chance: events just before and just after the
// snapshot's reply, refused commands, a connection lost mid-bootstrap. (On
// the private network, tor_state_testnet_test checks the same against tor.)

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "state/state_fixture.hpp"
#include "torcon/controller.hpp"
#include "torcon/reactor.hpp"
#include "torcon/tor_state.hpp"

namespace {

using namespace std::chrono_literals;
using torcon::TorState;
using torcon::test::entry;
using torcon::test::long_name;

// Accepts one connection, authenticates it (NULL), answers every SETEVENTS
// with `setevents_reply`, and hands the socket to `on_getinfo` when the
// GETINFO comes; afterwards answers "250 OK" to anything until EOF. Records
// each command line.
class ScriptedTor {
 public:
  ScriptedTor(std::string setevents_reply, std::function<void(int)> on_getinfo)
      : setevents_reply_(std::move(setevents_reply)), on_getinfo_(std::move(on_getinfo)) {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listen_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(listen_, 1) != 0 ||
        ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return;
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~ScriptedTor() {
    ::shutdown(listen_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(listen_);
  }
  torcon::Endpoint endpoint() const { return torcon::Endpoint::tcp("127.0.0.1", port_); }
  std::vector<std::string> commands() {
    std::lock_guard<std::mutex> l(mu_);
    return commands_;
  }
  static void say(int fd, std::string_view s) { (void)!::write(fd, s.data(), s.size()); }

 private:
  static std::string read_line(int fd) {
    std::string l;
    char c;
    while (::read(fd, &c, 1) == 1) {
      if (c == '\n') return l;
      if (c != '\r') l.push_back(c);
    }
    return l.empty() ? std::string("\x04") : l;  // EOF
  }
  void run() {
    const int fd = ::accept(listen_, nullptr, nullptr);
    if (fd < 0) return;
    bool after_getinfo = false;
    for (std::string line; (line = read_line(fd)) != "\x04";) {
      {
        std::lock_guard<std::mutex> l(mu_);
        commands_.push_back(line);
      }
      if (line.starts_with("PROTOCOLINFO")) {
        say(fd,
            "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250-VERSION Tor=\"0.4.9.11\"\r\n250 "
            "OK\r\n");
      } else if (line.starts_with("SETEVENTS") && !after_getinfo) {
        say(fd, setevents_reply_);
      } else if (line.starts_with("GETINFO") && !after_getinfo) {
        after_getinfo = true;
        on_getinfo_(fd);
      } else {
        say(fd, "250 OK\r\n");
      }
    }
    ::close(fd);
  }

  std::string setevents_reply_;
  std::function<void(int)> on_getinfo_;
  int listen_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> commands_;
};

struct Bootstrap {
  std::unique_ptr<torcon::Reactor> reactor;
  std::unique_ptr<torcon::Controller> ctl;
  std::optional<torcon::Status> done;

  // Attaches `st` (before the connection is up, as a program would at start)
  // and runs the loop until done, then `extra` more for late events.
  // With `connected_first`, attaches once the Controller is authenticated.
  void run(ScriptedTor& tor, TorState& st, std::chrono::milliseconds extra = 200ms,
           bool connected_first = false) {
    auto r = torcon::Reactor::create();
    ASSERT_TRUE(r) << r.error().message;
    reactor = std::move(*r);
    torcon::ControllerOptions o;
    o.parser.record_data_lines = true;
    ctl = std::make_unique<torcon::Controller>(*reactor, o);
    if (!connected_first) st.attach(*ctl, [this](const torcon::Status& s) { done = s; });
    std::optional<torcon::Status> up;
    ctl->connect(tor.endpoint(), [&](const torcon::Status& s) { up = s; });
    if (connected_first) {
      for (int i = 0; i < 500 && !up; ++i) reactor->run_once(20ms);
      ASSERT_TRUE(up && *up);
      st.attach(*ctl, [this](const torcon::Status& s) { done = s; });
    }
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done && std::chrono::steady_clock::now() < deadline) reactor->run_once(20ms);
    ASSERT_TRUE(done.has_value()) << "bootstrap never completed";
    const auto until = std::chrono::steady_clock::now() + extra;
    while (std::chrono::steady_clock::now() < until) reactor->run_once(10ms);
  }
  ~Bootstrap() { ctl.reset(); }
};

std::string snapshot_reply(const std::string& circuit_status, const std::string& stream_status) {
  const std::string ns =
      torcon::test::ns_all_reply({entry(1, "a", "192.0.2.1", 9001, {"s Running"}),
                                  entry(2, "b", "192.0.2.2", 9001, {"s Running"})});
  std::string out = ns.substr(0, ns.size() - std::string("250 OK\r\n").size());
  auto value = [&](const char* key, const std::string& v) {
    if (v.empty()) return std::string("250-") + key + "=\r\n";
    return std::string("250+") + key + "=\r\n" + v + ".\r\n";
  };
  return out + value("circuit-status", circuit_status) + value("stream-status", stream_status) +
         "250-address-mappings/all=\r\n250-entry-guards=\r\n250-process/pid=99\r\n250 OK\r\n";
}

const std::string kPath = long_name(1, "a") + "," + long_name(2, "b");

class TorStateAttachOrder : public ::testing::TestWithParam<bool> {};

TEST_P(TorStateAttachOrder, SubscribesBeforeOneSnapshotGetinfo) {
  ScriptedTor tor("250 OK\r\n", [](int fd) { ScriptedTor::say(fd, snapshot_reply("", "")); });
  Bootstrap b;  // the Controller outlives the state attached to it
  TorState st;
  b.run(tor, st, 0ms, /*connected_first=*/GetParam());
  ASSERT_TRUE(*b.done) << b.done->error().message;
  EXPECT_TRUE(st.bootstrapped());
  EXPECT_EQ(st.router_count(), 2u);
  EXPECT_EQ(st.tor_pid(), 99u);
  const auto cmds = tor.commands();
  std::size_t getinfo = cmds.size(), last_setevents = cmds.size();
  for (std::size_t i = 0; i < cmds.size(); ++i) {
    if (cmds[i].starts_with("GETINFO") && getinfo == cmds.size()) getinfo = i;
    if (cmds[i].starts_with("SETEVENTS") && getinfo == cmds.size()) last_setevents = i;
  }
  ASSERT_LT(getinfo, cmds.size());
  ASSERT_LT(last_setevents, getinfo) << "no SETEVENTS before the GETINFO";
  for (const char* ev : {" CIRC", " CIRC_MINOR", " STREAM", " NS", " NEWCONSENSUS", " CIRC_BW",
                         " ADDRMAP", " GUARD"})
    EXPECT_NE((cmds[last_setevents] + " ").find(std::string(ev) + " "), std::string::npos)
        << ev << " missing from " << cmds[last_setevents];
  EXPECT_EQ(cmds[getinfo],
            "GETINFO ns/all circuit-status stream-status address-mappings/all entry-guards "
            "process/pid uptime");
  EXPECT_EQ(std::count_if(cmds.begin(), cmds.end(),
                          [](const std::string& c) { return c.starts_with("GETINFO"); }),
            1);
}

INSTANTIATE_TEST_SUITE_P(AttachedBeforeOrAfterConnect, TorStateAttachOrder, ::testing::Bool());

TEST(TorStateAttach, EventsAroundTheReplyMerge) {
  ScriptedTor tor("250 OK\r\n", [](int fd) {
    // Before the reply: a circuit the snapshot also lists (older there), and
    // the end of circuit 5 and stream 21, which the (older) snapshot still has.
    ScriptedTor::say(fd, "650 CIRC 7 EXTENDED " + kPath +
                             " PURPOSE=GENERAL\r\n"
                             "650 CIRC 5 CLOSED " +
                             kPath +
                             " REASON=FINISHED\r\n"
                             "650 STREAM 21 CLOSED 8 example.org:443 REASON=DONE\r\n");
    ScriptedTor::say(fd, snapshot_reply("5 BUILT " + kPath +
                                            " PURPOSE=GENERAL\r\n"
                                            "7 EXTENDED " +
                                            long_name(1, "a") +
                                            " PURPOSE=GENERAL\r\n"
                                            "8 BUILT " +
                                            kPath + " PURPOSE=GENERAL\r\n",
                                        "20 SUCCEEDED 8 example.com:80\r\n"
                                        "21 SUCCEEDED 8 example.org:443\r\n"));
    // After it: news older than the snapshot (it must not move anything
    // back or revive anything), then news that is newer.
    ScriptedTor::say(fd, "650 CIRC 8 EXTENDED " + long_name(1, "a") +
                             " PURPOSE=GENERAL\r\n"
                             "650 STREAM 20 SENTCONNECT 8 example.com:80\r\n"
                             "650 CIRC 9 CLOSED " +
                             kPath +
                             " REASON=FINISHED\r\n"
                             "650 STREAM 22 FAILED 8 example.net:80 REASON=TIMEOUT\r\n"
                             "650 CIRC 10 LAUNCHED PURPOSE=GENERAL\r\n"
                             "650 CIRC 5 LAUNCHED PURPOSE=GENERAL\r\n");
  });
  Bootstrap b;  // the Controller outlives the state attached to it
  TorState st;
  b.run(tor, st);
  ASSERT_TRUE(*b.done) << b.done->error().message;
  EXPECT_EQ(st.circuit("7")->state(), torcon::CircStatus::extended);
  EXPECT_EQ(st.circuit("7")->path().size(), 2u);
  ASSERT_NE(st.circuit("8"), nullptr);
  EXPECT_EQ(st.circuit("8")->state(), torcon::CircStatus::built);
  EXPECT_EQ(st.circuit("8")->path().size(), 2u);
  EXPECT_EQ(st.circuit("9"), nullptr);
  ASSERT_NE(st.circuit("10"), nullptr);
  ASSERT_NE(st.stream("20"), nullptr);
  EXPECT_EQ(st.stream("20")->state(), torcon::StreamStatus::succeeded);
  EXPECT_EQ(st.stream("20")->circuit(), st.circuit("8"));
  EXPECT_EQ(st.stream("21"), nullptr);  // ended before the reply came
  EXPECT_EQ(st.stream("22"), nullptr);
  // Circuit 5 ended before the reply; once the snapshot is in, an ID is
  // just an ID again (tor does not reuse them soon, but if it does, the new
  // circuit is tracked).
  ASSERT_NE(st.circuit("5"), nullptr);
  EXPECT_EQ(st.circuit("5")->state(), torcon::CircStatus::launched);
  EXPECT_EQ(st.circuit_count(), 4u);  // 5 (new), 7, 8, 10
}

TEST(TorStateAttach, RefusedGetinfoFailsWithTorsWords) {
  ScriptedTor tor("250 OK\r\n", [](int fd) {
    ScriptedTor::say(fd, "552 Unrecognized key \"entry-guards\"\r\n");
  });
  Bootstrap b;  // the Controller outlives the state attached to it
  TorState st;
  b.run(tor, st, 0ms);
  ASSERT_FALSE(*b.done);
  EXPECT_EQ(b.done->error().code, torcon::Errc::tor_error);
  EXPECT_EQ(b.done->error().status, 552);
  EXPECT_NE(b.done->error().message.find("Unrecognized key \"entry-guards\""), std::string::npos)
      << b.done->error().message;
  EXPECT_FALSE(st.bootstrapped());
}

TEST(TorStateAttach, RefusedSeteventsFailsNamingIt) {
  ScriptedTor tor("552 Unrecognized event \"CIRC_BW\"\r\n",
                  [](int fd) { ScriptedTor::say(fd, snapshot_reply("", "")); });
  Bootstrap b;  // the Controller outlives the state attached to it
  TorState st;
  b.run(tor, st);
  ASSERT_FALSE(*b.done);
  EXPECT_NE(b.done->error().message.find("SETEVENTS"), std::string::npos)
      << b.done->error().message;
  EXPECT_NE(b.done->error().message.find("Unrecognized event"), std::string::npos)
      << b.done->error().message;
  EXPECT_FALSE(st.bootstrapped());
}

TEST(TorStateAttach, ConnectionLostMidBootstrap) {
  ScriptedTor tor("250 OK\r\n", [](int fd) {
    ScriptedTor::say(fd, "250+ns/all=\r\nr partial");  // and the connection goes
    ::shutdown(fd, SHUT_RDWR);
  });
  Bootstrap b;  // the Controller outlives the state attached to it
  TorState st;
  b.run(tor, st, 0ms);
  ASSERT_FALSE(*b.done);
  EXPECT_NE(b.done->error().message.find("GETINFO"), std::string::npos) << b.done->error().message;
  EXPECT_FALSE(st.bootstrapped());
  EXPECT_EQ(st.router_count(), 0u);
}

TEST(TorStateAttach, DestroyedBeforeTheReplyIsSafe) {
  ScriptedTor tor("250 OK\r\n", [](int fd) {
    std::this_thread::sleep_for(100ms);
    ScriptedTor::say(fd, snapshot_reply("", ""));
  });
  auto r = torcon::Reactor::create();
  ASSERT_TRUE(r);
  auto ctl = std::make_unique<torcon::Controller>(**r);
  bool called = false;
  {
    TorState st;
    st.attach(*ctl, [&](const torcon::Status&) { called = true; });
    ctl->connect(tor.endpoint(), [](const torcon::Status&) {});
    for (int i = 0; i < 3; ++i) (*r)->run_once(10ms);
  }  // the state goes while its GETINFO is in flight
  const auto until = std::chrono::steady_clock::now() + 400ms;
  while (std::chrono::steady_clock::now() < until) (*r)->run_once(10ms);
  EXPECT_FALSE(called);
  ctl.reset();
}

}  // namespace
