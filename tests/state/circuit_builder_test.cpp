// CircuitBuilder against a scripted control server, for the orderings a real
// tor produces only by chance: a new circuit's CIRC events before, around
// and after tor's "250 EXTENDED" reply, a reply that comes after the
// timeout, refusals. (circuit_builder_testnet_test does the same against
// tor on the private network.)

#include "torcon/circuit_builder.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "state/state_fixture.hpp"
#include "torcon/circuit.hpp"
#include "torcon/controller.hpp"
#include "torcon/reactor.hpp"
#include "torcon/tor_state.hpp"

namespace {

using namespace std::chrono_literals;
using torcon::CircuitBuilder;
using torcon::CircuitOutcome;
using torcon::Errc;
using torcon::TorState;
using torcon::test::entry;
using torcon::test::hex_of;
using torcon::test::long_name;

// Accepts connections one after the other: NULL authentication, SETEVENTS
// and the TorState snapshot answered (with `circuit_status` as
// circuit-status), every other command line answered by `script` (its bytes
// are written as they are; it runs on the server thread and may sleep; an
// answer ending in kHangUp is written without it, and then the server closes
// the connection). Records every command line; connections() counts them.
const std::string kHangUp = "\x04";

class ScriptedTor {
 public:
  using Script = std::function<std::string(const std::string& line)>;
  ScriptedTor(std::string circuit_status, Script script)
      : circuit_status_(std::move(circuit_status)), script_(std::move(script)) {
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
  int connections() const { return connections_.load(); }
  // The circuit-status of later snapshots (a restarted tor's).
  void set_circuit_status(std::string s) {
    std::lock_guard<std::mutex> l(mu_);
    circuit_status_ = std::move(s);
  }
  std::vector<std::string> commands() {
    std::lock_guard<std::mutex> l(mu_);
    return commands_;
  }
  // Commands after the bootstrap that start with `prefix`.
  std::vector<std::string> sent(std::string_view prefix) {
    std::vector<std::string> out;
    for (const std::string& c : commands())
      if (c.starts_with(prefix) && !c.starts_with("GETINFO ns/all")) out.push_back(c);
    return out;
  }

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
  static void say(int fd, std::string_view s) { (void)!::write(fd, s.data(), s.size()); }
  std::string snapshot() {
    std::string circuit_status;
    {
      std::lock_guard<std::mutex> l(mu_);
      circuit_status = circuit_status_;
    }
    const std::string ns = torcon::test::ns_all_reply(
        {entry(1, "a", "192.0.2.1", 9001, {"s Fast Running Valid"}),
         entry(2, "b", "192.0.2.2", 9001, {"s Fast Running Valid"}),
         entry(3, "c", "192.0.2.3", 9001, {"s Exit Fast Running Valid", "p accept 1-65535"})});
    std::string out = ns.substr(0, ns.size() - std::string("250 OK\r\n").size());
    out += circuit_status.empty() ? "250-circuit-status=\r\n"
                                  : "250+circuit-status=\r\n" + circuit_status + ".\r\n";
    return out +
           "250-stream-status=\r\n250-address-mappings/all=\r\n250-entry-guards=\r\n"
           "250-process/pid=99\r\n250 OK\r\n";
  }
  void run() {
    for (int fd; (fd = ::accept(listen_, nullptr, nullptr)) >= 0;) {
      ++connections_;
      serve(fd);
      ::close(fd);
    }
  }
  void serve(int fd) {
    for (std::string line; (line = read_line(fd)) != "\x04";) {
      {
        std::lock_guard<std::mutex> l(mu_);
        commands_.push_back(line);
      }
      if (line.starts_with("PROTOCOLINFO")) {
        say(fd,
            "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250-VERSION Tor=\"0.4.9.11\"\r\n"
            "250 OK\r\n");
      } else if (line.starts_with("AUTHENTICATE") || line.starts_with("SETEVENTS")) {
        say(fd, "250 OK\r\n");
      } else if (line.starts_with("GETINFO ns/all")) {
        say(fd, snapshot());
      } else {
        std::string answer = script_(line);
        if (answer.ends_with(kHangUp)) {
          say(fd, std::string_view(answer).substr(0, answer.size() - kHangUp.size()));
          return;
        }
        say(fd, answer);
      }
    }
  }

  std::string circuit_status_;
  Script script_;
  int listen_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::vector<std::string> commands_;
};

// A Controller and an attached TorState on a scripted tor, and a builder.
struct Rig {
  std::unique_ptr<torcon::Reactor> reactor;
  std::unique_ptr<torcon::Controller> ctl;
  std::unique_ptr<TorState> state;
  std::unique_ptr<CircuitBuilder> builder;

  explicit Rig(ScriptedTor& tor, torcon::ControllerOptions o = {}) {
    auto r = torcon::Reactor::create();
    if (!r) {
      ADD_FAILURE() << r.error().message;
      return;
    }
    reactor = std::move(*r);
    o.parser.record_data_lines = true;
    ctl = std::make_unique<torcon::Controller>(*reactor, o);
    state = std::make_unique<TorState>(*reactor);
    std::optional<torcon::Status> done;
    state->attach(*ctl, [&](const torcon::Status& s) { done = s; });
    ctl->connect(tor.endpoint(), [](const torcon::Status&) {});
    if (!pump_until(10s, [&] { return done.has_value(); }))
      ADD_FAILURE() << "TorState never bootstrapped";
    else if (!*done)
      ADD_FAILURE() << done->error().message;
    builder = std::make_unique<CircuitBuilder>(*reactor, *ctl, *state);
  }
  ~Rig() {
    builder.reset();
    state.reset();
    ctl.reset();
  }
  template <class Pred>
  bool pump_until(std::chrono::milliseconds limit, Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      reactor->run_once(10ms);
    }
    return true;
  }
  void pump_for(std::chrono::milliseconds d) {
    pump_until(d, [] { return false; });
  }
  // Starts `op` with a callback and waits for it.
  std::optional<CircuitOutcome> run(
      const std::function<void(std::function<void(const CircuitOutcome&)>)>& op) {
    std::optional<CircuitOutcome> out;
    op([&](const CircuitOutcome& o) { out = o; });
    pump_until(5s, [&] { return out.has_value(); });
    return out;
  }
};

const std::string kPath2 = long_name(1, "a") + "," + long_name(2, "b");
const std::string kPath3 = kPath2 + "," + long_name(3, "c");
const std::vector<std::string> kHops = {"$" + hex_of(1) + "~a", "$" + hex_of(2) + "~b",
                                        "$" + hex_of(3) + "~c"};

// What tor writes in answer to EXTENDCIRCUIT, and what the build must end as.
struct BuildCase {
  const char* name;
  std::string answer;
  Errc error;
  int status;  // tor's code when it refused
  const char* reason;
  const char* remote_reason;
};
// gtest names the case by its name, not its bytes.
void PrintTo(const BuildCase& c, std::ostream* os) { *os << c.name; }

class BuildOrdering : public ::testing::TestWithParam<BuildCase> {};

TEST_P(BuildOrdering, CompletesOnWhatTorSaid) {
  const BuildCase& c = GetParam();
  ScriptedTor tor("", [&](const std::string& line) {
    return line.starts_with("EXTENDCIRCUIT") ? c.answer : std::string("250 OK\r\n");
  });
  Rig rig(tor);
  ASSERT_TRUE(rig.builder);
  std::optional<std::string> path_at_callback;
  auto out = rig.run([&](auto done) {
    rig.builder->build(std::span<const std::string>(kHops), {}, [&, done](const CircuitOutcome& o) {
      // The state is already updated when the build completes.
      if (o && o.circuit) {
        std::string fps;
        for (const torcon::Router* r : o.circuit->path())
          fps += (fps.empty() ? "" : ",") + (r ? r->fingerprint() : "?");
        path_at_callback = fps;
      }
      done(o);
    });
  });
  ASSERT_TRUE(out.has_value()) << "the build never completed";
  EXPECT_EQ(out->error.code, c.error) << out->error.message;
  EXPECT_EQ(out->error.status, c.status) << out->error.message;
  EXPECT_EQ(out->reason, c.reason);
  EXPECT_EQ(out->remote_reason, c.remote_reason);
  EXPECT_EQ(tor.sent("EXTENDCIRCUIT"), std::vector<std::string>{"EXTENDCIRCUIT 0 " + kHops[0] +
                                                                "," + kHops[1] + "," + kHops[2]});
  if (c.error == Errc::ok) {
    EXPECT_EQ(out->id, "7");
    ASSERT_NE(out->circuit, nullptr);
    EXPECT_EQ(out->circuit, rig.state->circuit("7"));
    EXPECT_EQ(path_at_callback, hex_of(1) + "," + hex_of(2) + "," + hex_of(3));
  } else {
    EXPECT_EQ(out->circuit, nullptr);
    if (c.status == 0) {
      EXPECT_EQ(out->id, "7");
    }
  }
  EXPECT_EQ(rig.builder->pending(), 0u);
  EXPECT_TRUE(tor.sent("CLOSECIRCUIT").empty());  // no timeout, nothing to close
}

const std::string kLaunched = "650 CIRC 7 LAUNCHED BUILD_FLAGS=NEED_CAPACITY PURPOSE=GENERAL\r\n";
const std::string kExtended = "650 CIRC 7 EXTENDED " + long_name(1, "a") + " PURPOSE=GENERAL\r\n";
const std::string kBuilt = "650 CIRC 7 BUILT " + kPath3 + " PURPOSE=GENERAL\r\n";
const std::string kReply = "250 EXTENDED 7\r\n";

INSTANTIATE_TEST_SUITE_P(
    Builder, BuildOrdering,
    ::testing::Values(BuildCase{"ReplyThenEvents", kReply + kLaunched + kExtended + kBuilt,
                                Errc::ok, 0, "", ""},
                      BuildCase{"LaunchedBuiltThenReply", kLaunched + kExtended + kBuilt + kReply,
                                Errc::ok, 0, "", ""},
                      BuildCase{"LaunchedReplyBuilt", kLaunched + kReply + kExtended + kBuilt,
                                Errc::ok, 0, "", ""},
                      BuildCase{"OtherCircuitsAround",
                                "650 CIRC 6 LAUNCHED\r\n" + kLaunched + "650 CIRC 6 BUILT " +
                                    kPath2 + "\r\n650 CIRC 5 FAILED REASON=TIMEOUT\r\n" + kReply +
                                    "650 CIRC 6 CLOSED " + kPath2 + " REASON=FINISHED\r\n" + kBuilt,
                                Errc::ok, 0, "", ""},
                      BuildCase{"FailedBeforeReply",
                                kLaunched + kExtended + "650 CIRC 7 FAILED " + long_name(1, "a") +
                                    " REASON=DESTROYED REMOTE_REASON=OR_CONN_CLOSED\r\n" + kReply,
                                Errc::tor_error, 0, "DESTROYED", "OR_CONN_CLOSED"},
                      BuildCase{"FailedAfterReply",
                                kReply + kLaunched + kExtended + "650 CIRC 7 FAILED " +
                                    long_name(1, "a") + " REASON=TIMEOUT\r\n",
                                Errc::tor_error, 0, "TIMEOUT", ""},
                      BuildCase{"BuiltAndClosedBeforeReply",
                                kLaunched + kBuilt + "650 CIRC 7 CLOSED " + kPath3 +
                                    " REASON=REQUESTED\r\n" + kReply,
                                Errc::tor_error, 0, "REQUESTED", ""},
                      BuildCase{"UnknownRelay", "552 No such router \"$" + hex_of(3) + "~c\"\r\n",
                                Errc::tor_error, 552, "", ""}),
    [](const ::testing::TestParamInfo<BuildCase>& i) { return std::string(i.param.name); });

TEST(CircuitBuilder, TimeoutAfterTheReplyClosesTheCircuit) {
  ScriptedTor tor("", [](const std::string& line) {
    return line.starts_with("EXTENDCIRCUIT") ? kLaunched + kReply : std::string("250 OK\r\n");
  });
  Rig rig(tor);
  torcon::CircuitBuildOptions o;
  o.timeout = 100ms;
  auto out =
      rig.run([&](auto done) { rig.builder->build(std::span<const std::string>{}, o, done); });
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->error.code, Errc::timeout) << out->error.message;
  EXPECT_EQ(out->id, "7");
  ASSERT_TRUE(rig.pump_until(2s, [&] { return !tor.sent("CLOSECIRCUIT").empty(); }));
  EXPECT_EQ(tor.sent("CLOSECIRCUIT"), std::vector<std::string>{"CLOSECIRCUIT 7"});
  EXPECT_EQ(tor.sent("EXTENDCIRCUIT"), std::vector<std::string>{"EXTENDCIRCUIT 0"});
}

TEST(CircuitBuilder, TimeoutBeforeTheReplyClosesTheCircuitOnceNamed) {
  ScriptedTor tor("", [](const std::string& line) {
    if (!line.starts_with("EXTENDCIRCUIT")) return std::string("250 OK\r\n");
    std::this_thread::sleep_for(400ms);  // a slow tor: the reply comes after the timeout
    return kLaunched + kReply;
  });
  Rig rig(tor);
  torcon::CircuitBuildOptions o;
  o.timeout = 50ms;
  const auto t0 = std::chrono::steady_clock::now();
  auto out =
      rig.run([&](auto done) { rig.builder->build(std::span<const std::string>{}, o, done); });
  ASSERT_TRUE(out.has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 390ms) << "waited for the reply";
  EXPECT_EQ(out->error.code, Errc::timeout);
  EXPECT_EQ(out->id, "");  // tor had not named it yet
  ASSERT_TRUE(rig.pump_until(3s, [&] { return !tor.sent("CLOSECIRCUIT").empty(); }));
  EXPECT_EQ(tor.sent("CLOSECIRCUIT"), std::vector<std::string>{"CLOSECIRCUIT 7"});
}

TEST(CircuitBuilder, TimeoutKeepsTheCircuitWhenAskedTo) {
  ScriptedTor tor("", [](const std::string& line) {
    return line.starts_with("EXTENDCIRCUIT") ? kLaunched + kReply : std::string("250 OK\r\n");
  });
  Rig rig(tor);
  torcon::CircuitBuildOptions o;
  o.timeout = 50ms;
  o.close_on_timeout = false;
  auto out =
      rig.run([&](auto done) { rig.builder->build(std::span<const std::string>{}, o, done); });
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->error.code, Errc::timeout);
  rig.pump_for(200ms);
  EXPECT_TRUE(tor.sent("CLOSECIRCUIT").empty());
}

// Input that must never reach tor.
struct BadInput {
  const char* name;
  std::string circuit;  // "0": build
  std::vector<std::string> hops;
};
// gtest names the case by its name, not its bytes.
void PrintTo(const BadInput& c, std::ostream* os) { *os << c.name; }
class RefusedInput : public ::testing::TestWithParam<BadInput> {};

TEST_P(RefusedInput, FailsWithoutSendingAnything) {
  const BadInput& c = GetParam();
  ScriptedTor tor("", [](const std::string&) { return std::string("250 OK\r\n"); });
  Rig rig(tor);
  bool inside = true;
  bool called_inside = false;
  auto out = rig.run([&](auto done) {
    auto cb = [&, done](const CircuitOutcome& o) {
      called_inside = inside;
      done(o);
    };
    if (c.circuit == "0")
      rig.builder->build(std::span<const std::string>(c.hops), {}, cb);
    else
      rig.builder->extend(c.circuit, c.hops, {}, cb);
    inside = false;
  });
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->error.code, Errc::bad_argument) << out->error.message;
  EXPECT_FALSE(called_inside) << "the callback ran inside the call";
  rig.pump_for(50ms);
  EXPECT_TRUE(tor.sent("EXTENDCIRCUIT").empty());
}

INSTANTIATE_TEST_SUITE_P(
    Builder, RefusedInput,
    ::testing::Values(BadInput{"ShortFingerprint", "0", {"$ABCDEF"}},
                      BadInput{"NotHex", "0", {"$" + std::string(40, 'Z')}},
                      BadInput{"CrLfInNickname", "0", {"relay\r\nSIGNAL SHUTDOWN"}},
                      BadInput{"NulInNickname", "0", {std::string("relay\0x", 7)}},
                      BadInput{"EmptyHop", "0", {kHops[0], ""}},
                      BadInput{"SpaceInHop", "0", {"two words"}},
                      BadInput{"EmptyNicknameAfterTilde", "0", {"$" + hex_of(1) + "~"}},
                      BadInput{"CommaInHop", "0", {kHops[0] + "," + kHops[1]}},
                      BadInput{"CircuitIdWithCrLf", "7\r\nQUIT", {kHops[0]}},
                      BadInput{"CircuitIdEmpty", "", {kHops[0]}},
                      BadInput{"ExtendWithoutHops", "7", {}}),
    [](const ::testing::TestParamInfo<BadInput>& i) { return std::string(i.param.name); });

TEST(CircuitBuilder, BuildsFromRouters) {
  ScriptedTor tor("", [](const std::string& line) {
    return line.starts_with("EXTENDCIRCUIT") ? kReply + kLaunched + kBuilt
                                             : std::string("250 OK\r\n");
  });
  Rig rig(tor);
  const torcon::Router* hops[] = {rig.state->router("a"), rig.state->router("b"),
                                  rig.state->router("c")};
  ASSERT_TRUE(hops[0] && hops[1] && hops[2]);
  torcon::CircuitBuildOptions o;
  o.purpose = torcon::CircuitPurpose::controller;
  auto out = rig.run([&](auto done) {
    rig.builder->build(std::span<const torcon::Router* const>(hops), o, done);
  });
  ASSERT_TRUE(out && *out) << out->error.message;
  EXPECT_EQ(tor.sent("EXTENDCIRCUIT"),
            std::vector<std::string>{"EXTENDCIRCUIT 0 $" + hex_of(1) + ",$" + hex_of(2) + ",$" +
                                     hex_of(3) + " purpose=controller"});
}

TEST(CircuitBuilder, ExtendsABuiltCircuit) {
  for (bool events_first : {false, true}) {
    SCOPED_TRACE(events_first ? "events before the reply" : "reply first");
    const std::string events = "650 CIRC 7 EXTENDED " + kPath3 + " PURPOSE=GENERAL\r\n" + kBuilt;
    ScriptedTor tor("7 BUILT " + kPath2 + " PURPOSE=GENERAL\r\n", [&](const std::string& line) {
      if (!line.starts_with("EXTENDCIRCUIT")) return std::string("250 OK\r\n");
      return events_first ? events + kReply : kReply + events;
    });
    Rig rig(tor);
    ASSERT_NE(rig.state->circuit("7"), nullptr);
    ASSERT_EQ(rig.state->circuit("7")->path().size(), 2u);
    auto out = rig.run(
        [&](auto done) { rig.builder->extend("7", std::vector<std::string>{kHops[2]}, {}, done); });
    ASSERT_TRUE(out && *out) << out->error.message;
    ASSERT_NE(out->circuit, nullptr);
    EXPECT_EQ(out->circuit->path().size(), 3u);
    EXPECT_EQ(tor.sent("EXTENDCIRCUIT"), std::vector<std::string>{"EXTENDCIRCUIT 7 " + kHops[2]});
  }
}

TEST(CircuitBuilder, ExtendWaitsForTheLongerPath) {
  // The reply comes while the circuit is still BUILT with its old path.
  ScriptedTor tor("7 BUILT " + kPath2 + " PURPOSE=GENERAL\r\n", [&](const std::string& line) {
    if (!line.starts_with("EXTENDCIRCUIT")) return std::string("250 OK\r\n");
    std::string ev = "650 CIRC 7 EXTENDED " + kPath3 + "\r\n";
    return kReply + ev;  // and no BUILT: the extension never finishes
  });
  Rig rig(tor);
  torcon::CircuitBuildOptions o;
  o.timeout = 200ms;
  auto out = rig.run(
      [&](auto done) { rig.builder->extend("7", std::vector<std::string>{kHops[2]}, o, done); });
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->error.code, Errc::timeout) << "completed on the old path";
}

struct CloseCase {
  const char* name;
  bool if_unused;
  std::string answer;          // to CLOSECIRCUIT
  std::string circuit_status;  // GETINFO circuit-status after it (IfUnused)
  Errc error;
  int status;
  const char* reason;
};
// gtest names the case by its name, not its bytes.
void PrintTo(const CloseCase& c, std::ostream* os) { *os << c.name; }
class Closing : public ::testing::TestWithParam<CloseCase> {};

TEST_P(Closing, CompletesOnTheClosedEvent) {
  const CloseCase& c = GetParam();
  ScriptedTor tor("7 BUILT " + kPath3 + " PURPOSE=GENERAL\r\n", [&](const std::string& line) {
    if (line.starts_with("CLOSECIRCUIT")) return c.answer;
    if (line == "GETINFO circuit-status")
      return c.circuit_status.empty() ? std::string("250-circuit-status=\r\n250 OK\r\n")
                                      : "250-circuit-status=" + c.circuit_status + "\r\n250 OK\r\n";
    return std::string("250 OK\r\n");
  });
  Rig rig(tor);
  torcon::CircuitCloseOptions o;
  o.if_unused = c.if_unused;
  o.timeout = 1s;
  auto out = rig.run([&](auto done) { rig.builder->close("7", o, done); });
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->error.code, c.error) << out->error.message;
  EXPECT_EQ(out->error.status, c.status);
  EXPECT_EQ(out->reason, c.reason);
  EXPECT_EQ(out->id, "7");
  EXPECT_EQ(tor.sent("CLOSECIRCUIT"),
            std::vector<std::string>{c.if_unused ? "CLOSECIRCUIT 7 IfUnused" : "CLOSECIRCUIT 7"});
  if (c.error == Errc::ok) {
    EXPECT_EQ(rig.state->circuit("7"), nullptr);
  }
}

const std::string kClosed = "650 CIRC 7 CLOSED " + kPath3 + " REASON=REQUESTED\r\n";

INSTANTIATE_TEST_SUITE_P(
    Builder, Closing,
    ::testing::Values(
        CloseCase{"EventAfterReply", false, "250 OK\r\n" + kClosed, "", Errc::ok, 0, "REQUESTED"},
        CloseCase{"EventBeforeReply", false, kClosed + "250 OK\r\n", "", Errc::ok, 0, "REQUESTED"},
        CloseCase{"UnknownCircuit", false, "552 Unknown circuit \"7\"\r\n", "", Errc::tor_error,
                  552, ""},
        CloseCase{"NoEventTimesOut", false, "250 OK\r\n", "", Errc::timeout, 0, ""},
        CloseCase{"IfUnusedClosed", true, "250 OK\r\n" + kClosed, "", Errc::ok, 0, "REQUESTED"},
        CloseCase{"IfUnusedInUse", true, "250 OK\r\n", "7 BUILT " + kPath3 + " PURPOSE=GENERAL",
                  Errc::tor_error, 0, ""}),
    [](const ::testing::TestParamInfo<CloseCase>& i) { return std::string(i.param.name); });

TEST(CircuitBuilder, SetsThePurpose) {
  ScriptedTor tor("7 BUILT " + kPath3 + " PURPOSE=GENERAL\r\n", [](const std::string& line) {
    return line.starts_with("SETCIRCUITPURPOSE 9") ? std::string("552 Unknown circuit \"9\"\r\n")
                                                   : std::string("250 OK\r\n");
  });
  Rig rig(tor);
  std::optional<torcon::Status> ok, unknown, bad;
  rig.builder->set_purpose("7", torcon::CircuitPurpose::controller,
                           [&](const torcon::Status& s) { ok = s; });
  rig.builder->set_purpose("9", torcon::CircuitPurpose::general,
                           [&](const torcon::Status& s) { unknown = s; });
  rig.builder->set_purpose("7 purpose=general", torcon::CircuitPurpose::general,
                           [&](const torcon::Status& s) { bad = s; });
  ASSERT_TRUE(rig.pump_until(5s, [&] { return ok && unknown && bad; }));
  EXPECT_TRUE(*ok);
  ASSERT_FALSE(*unknown);
  EXPECT_EQ(unknown->error().status, 552);
  ASSERT_FALSE(*bad);
  EXPECT_EQ(bad->error().code, Errc::bad_argument);
  EXPECT_EQ(tor.sent("SETCIRCUITPURPOSE"),
            (std::vector<std::string>{"SETCIRCUITPURPOSE 7 purpose=controller",
                                      "SETCIRCUITPURPOSE 9 purpose=general"}));
}

torcon::Task build_and_close(CircuitBuilder& b, std::vector<std::string> path,
                             std::vector<std::string>* log) {
  CircuitOutcome built = co_await b.co_build(std::move(path));
  log->push_back("built " + built.id + " " + (built ? "ok" : built.error.message));
  torcon::Status purpose = co_await b.co_set_purpose(built.id, torcon::CircuitPurpose::controller);
  log->push_back(purpose ? "purpose ok" : purpose.error().message);
  CircuitOutcome closed = co_await b.co_close(built.id);
  log->push_back("closed " + closed.id + " " + closed.reason);
}

TEST(CircuitBuilder, CoroutineForms) {
  ScriptedTor tor("", [](const std::string& line) {
    if (line.starts_with("EXTENDCIRCUIT")) return kLaunched + kBuilt + kReply;
    if (line.starts_with("CLOSECIRCUIT")) return "250 OK\r\n" + kClosed;
    return std::string("250 OK\r\n");
  });
  Rig rig(tor);
  std::vector<std::string> log;
  build_and_close(*rig.builder, kHops, &log);
  ASSERT_TRUE(rig.pump_until(5s, [&] { return log.size() == 3; }));
  EXPECT_EQ(log, (std::vector<std::string>{"built 7 ok", "purpose ok", "closed 7 REQUESTED"}));
}

TEST(CircuitBuilder, DestroyedBuilderCompletesWhatIsPending) {
  ScriptedTor tor("", [](const std::string& line) {
    return line.starts_with("EXTENDCIRCUIT") ? kReply + kLaunched : std::string("250 OK\r\n");
  });
  Rig rig(tor);
  std::optional<CircuitOutcome> out;
  rig.builder->build(std::span<const std::string>{}, {}, [&](const CircuitOutcome& o) { out = o; });
  ASSERT_TRUE(rig.pump_until(5s, [&] { return rig.state->circuit("7") != nullptr; }));
  EXPECT_EQ(rig.builder->pending(), 1u);
  rig.builder.reset();
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->error.code, Errc::disconnected);
  // Later events for the circuit reach no freed builder.
  rig.pump_for(50ms);
}

// A build, an extension and a close that tor accepted, each waiting for
// its CIRC event when tor hangs up.
struct DropCase {
  const char* name;
  std::string circuit_status;  // at bootstrap
  const char* command;         // the command tor answers, then hangs up
  std::string answer;
  std::function<void(CircuitBuilder&, torcon::CircuitCallback)> start;
};
// gtest names the case by its name, not its bytes.
void PrintTo(const DropCase& c, std::ostream* os) { *os << c.name; }
class DroppedConnection : public ::testing::TestWithParam<std::tuple<DropCase, bool>> {};

// The operation ends with Errc::disconnected at once (its timeout is far
// off), exactly once; with a reconnect policy too, and the restarted tor's
// events for the same circuit id complete nothing.
TEST_P(DroppedConnection, EndsTheWaitAtOnce) {
  const auto& [c, reconnect] = GetParam();
  ScriptedTor tor(c.circuit_status, [&](const std::string& line) {
    if (line.starts_with(c.command) && tor.connections() == 1) return c.answer + kHangUp;
    return std::string("250 OK\r\n");
  });
  torcon::ControllerOptions o;
  if (reconnect) {
    o.reconnect.enabled = true;
    o.reconnect.initial_delay = 10ms;
    o.reconnect.jitter = 0;
  }
  Rig rig(tor, o);
  ASSERT_TRUE(rig.builder);
  tor.set_circuit_status("7 BUILT " + kPath3 + " PURPOSE=GENERAL\r\n");  // after a restart
  int calls = 0;
  std::optional<CircuitOutcome> out;
  c.start(*rig.builder, [&](const CircuitOutcome& r) {
    ++calls;
    out = r;
  });
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(rig.pump_until(5s, [&] { return out.has_value(); }))
      << "still waiting after the connection ended";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);  // its timeout is 60 s
  EXPECT_EQ(out->error.code, Errc::disconnected) << out->error.message;
  EXPECT_EQ(out->id, "7");
  EXPECT_EQ(out->circuit, nullptr);
  EXPECT_EQ(rig.builder->pending(), 0u);
  if (reconnect) {
    // Back on a restarted tor, which reuses circuit id 7 for a circuit of its own.
    const auto snapshots = [&] {
      const auto all = tor.commands();
      return std::count_if(all.begin(), all.end(),
                           [](const std::string& l) { return l.starts_with("GETINFO ns/all"); });
    };
    ASSERT_TRUE(rig.pump_until(5s, [&] { return snapshots() == 2; })) << "never reconnected";
    ASSERT_TRUE(rig.pump_until(5s, [&] {
      const torcon::Circuit* seven = rig.state->circuit("7");
      return seven && seven->state() == torcon::CircStatus::built && seven->path().size() == 3;
    })) << "TorState did not take the restarted tor's circuit 7";
    rig.pump_for(50ms);
  } else {
    rig.pump_for(100ms);
  }
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(tor.sent(c.command).size(), 1u) << "sent again on the new connection";
}

INSTANTIATE_TEST_SUITE_P(
    Builder, DroppedConnection,
    ::testing::Combine(
        ::testing::Values(
            DropCase{"Build", "", "EXTENDCIRCUIT", kReply + kLaunched,
                     [](CircuitBuilder& b, torcon::CircuitCallback cb) {
                       b.build(std::span<const std::string>(kHops), {}, std::move(cb));
                     }},
            DropCase{"Extend", "7 BUILT " + kPath2 + " PURPOSE=GENERAL\r\n", "EXTENDCIRCUIT",
                     kReply + "650 CIRC 7 EXTENDED " + kPath3 + "\r\n",
                     [](CircuitBuilder& b, torcon::CircuitCallback cb) {
                       b.extend("7", std::vector<std::string>{kHops[2]}, {}, std::move(cb));
                     }},
            DropCase{"Close", "7 BUILT " + kPath3 + " PURPOSE=GENERAL\r\n", "CLOSECIRCUIT",
                     "250 OK\r\n",
                     [](CircuitBuilder& b,
                        torcon::CircuitCallback cb) { b.close("7", {}, std::move(cb)); }}),
        ::testing::Bool()),
    [](const ::testing::TestParamInfo<std::tuple<DropCase, bool>>& i) {
      return std::string(std::get<0>(i.param).name) + (std::get<1>(i.param) ? "WithReconnect" : "");
    });

torcon::Task build_logging(CircuitBuilder& b, std::vector<std::string>* log) {
  CircuitOutcome built = co_await b.co_build(kHops);
  log->push_back(std::string(built                                    ? "ok"
                             : built.error.code == Errc::disconnected ? "disconnected"
                                                                      : "other") +
                 " " + built.id);
}

TEST(CircuitBuilder, CoroutineBuildEndsWhenTheConnectionDrops) {
  ScriptedTor tor("", [](const std::string& line) {
    return line.starts_with("EXTENDCIRCUIT") ? kReply + kLaunched + kHangUp
                                             : std::string("250 OK\r\n");
  });
  Rig rig(tor);
  std::vector<std::string> log;
  build_logging(*rig.builder, &log);
  ASSERT_TRUE(rig.pump_until(5s, [&] { return !log.empty(); }));
  rig.pump_for(50ms);
  EXPECT_EQ(log, std::vector<std::string>{"disconnected 7"});
}

}  // namespace
