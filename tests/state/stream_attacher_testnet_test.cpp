// The stream attacher against tor, on the private network
// (torcon::testnet): streams sent to circuits built with EXTENDCIRCUIT on a
// chosen path leave through that circuit's last hop; a stream left alone
// waits in CONTROLLER_WAIT until answered; an exit that refuses the port
// brings the stream back (DETACHED, REMOTE_REASON=EXITPOLICY) and it is
// offered again with that reason; source-port routes in both arrival
// orders; install/uninstall as tor's GETCONF sees them. Also prints the
// attach latency over tor's real connection (event dispatched ->
// ATTACHSTREAM written -> SUCCEEDED): a measurement, not a timed assertion.
// One network per binary; ctest runs it once per reactor backend.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/loopback_http.hpp"
#include "testnet/testnet_environment.hpp"
#include "torcon/controller.hpp"
#include "torcon/reactor.hpp"
#include "torcon/stream_attacher.hpp"
#include "torcon/tor_state.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using torcon::AttachDecision;
using torcon::AttachRequest;
using torcon::Controller;
using torcon::Expected;
using torcon::KeyValues;
using torcon::StreamAttacher;
using torcon::TorState;
using torcon::testnet::Network;
using torcon::testnet::Node;
using torcon::testnet::Role;

[[maybe_unused]] ::testing::Environment* const kTestnet =
    ::testing::AddGlobalTestEnvironment(new torcon::testnet::testing::TestnetEnvironment);

// A SOCKS5 fetch in two steps, in its own thread: connect (the local port is
// then known), and, once go() is called, the SOCKS request and GET / from
// 127.0.0.1:http_port.
class SocksFetch {
 public:
  SocksFetch(std::uint16_t socks_port, std::uint16_t http_port, bool go_at_once = true)
      : go_(go_at_once) {
    thread_ = std::thread([this, socks_port, http_port] { run(socks_port, http_port); });
  }
  ~SocksFetch() {
    go_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::uint16_t local_port() const { return port_; }
  void go() { go_ = true; }
  bool done() const { return done_; }
  std::string result() {
    if (thread_.joinable()) thread_.join();
    return result_;
  }

 private:
  void run(std::uint16_t socks_port, std::uint16_t http_port) {
    const auto deadline = Clock::now() + 60s;
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(socks_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return finish("connect");
    sockaddr_in me{};
    socklen_t len = sizeof me;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&me), &len);
    port_ = ntohs(me.sin_port);
    while (!go_ && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
    auto recv_n = [&](char* out, std::size_t n) {
      for (std::size_t got = 0; got < n;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        pollfd p{fd_, POLLIN, 0};
        if (left <= 0 || ::poll(&p, 1, int(left)) <= 0) return false;
        const ssize_t r = ::recv(fd_, out + got, n - got, 0);
        if (r <= 0) return false;
        got += std::size_t(r);
      }
      return true;
    };
    char reply[10];
    if (::send(fd_, "\x05\x01\x00", 3, MSG_NOSIGNAL) != 3 || !recv_n(reply, 2) || reply[1] != 0)
      return finish("SOCKS greeting");
    std::string req("\x05\x01\x00\x01\x7f\x00\x00\x01", 8);
    req += char(http_port >> 8);
    req += char(http_port & 0xff);
    if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size()) ||
        !recv_n(reply, 10))
      return finish("SOCKS CONNECT: no reply");
    if (reply[1] != 0) return finish("SOCKS CONNECT: reply " + std::to_string(int(reply[1])));
    const std::string get = "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd_, get.data(), get.size(), MSG_NOSIGNAL) != ssize_t(get.size()))
      return finish("send GET");
    std::string resp;
    char buf[4096];
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p{fd_, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, int(left)) <= 0) return finish("HTTP response timed out");
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0) return finish("recv");
      if (n == 0) break;
      resp.append(buf, std::size_t(n));
    }
    const std::size_t body = resp.find("\r\n\r\n");
    if (!resp.starts_with("HTTP/1.0 200") || body == std::string::npos) return finish("bad HTTP");
    result_ = resp.substr(body + 4);
    finish("");
  }
  void finish(const std::string& error) {
    if (!error.empty()) result_ = "error: " + error;
    if (fd_ >= 0) ::close(fd_);
    done_ = true;
  }
  std::atomic<bool> go_;
  std::atomic<std::uint16_t> port_{0};
  std::atomic<bool> done_{false};
  int fd_ = -1;
  std::string result_;
  std::thread thread_;
};

// The client's controller, its TorState and circuits on chosen paths.
class Client {
 public:
  explicit Client(const Network& net) : net_(net) {
    auto r = torcon::Reactor::create();
    if (!r) {
      error = r.error().message;
      return;
    }
    reactor_ = std::move(*r);
    torcon::ControllerOptions o;
    o.cookie_file = net.client().cookie_file;
    o.parser.record_data_lines = true;
    ctl = std::make_unique<Controller>(*reactor_, o);
    // Before TorState's: this handler sees each STREAM event first.
    ctl->subscribe("STREAM", [this](const torcon::Reply&) { last_event = Clock::now(); });
    std::optional<torcon::Status> up;
    ctl->connect(net.client().control(), [&](const torcon::Status& s) { up = s; });
    if (!pump_until(10s, [&] { return up.has_value(); }) || !*up) {
      error = up ? up->error().message : "connect timed out";
      return;
    }
    state = std::make_unique<TorState>(*reactor_);
    std::optional<torcon::Status> done;
    state->attach(*ctl, [&](const torcon::Status& s) { done = s; });
    if (!pump_until(20s, [&] { return done.has_value(); }) || !*done)
      error = done ? done->error().message : "TorState bootstrap timed out";
  }
  ~Client() {
    state.reset();
    ctl.reset();
  }

  template <class Pred>
  bool pump_until(std::chrono::milliseconds limit, Pred pred) {
    const auto deadline = Clock::now() + limit;
    while (!pred()) {
      if (Clock::now() >= deadline) return false;
      reactor_->run_once(5ms);
    }
    return true;
  }
  void pump_for(std::chrono::milliseconds d) {
    pump_until(d, [] { return false; });
  }
  torcon::Reactor& reactor() { return *reactor_; }

  std::string fingerprint(const char* name) const { return "$" + net_.find(name)->fingerprint; }

  // EXTENDCIRCUIT 0 on `path` (node names); the ID once tor says BUILT.
  std::string build(std::vector<const char*> names) {
    std::vector<std::string> fps;
    for (const char* n : names) fps.push_back(fingerprint(n));
    std::vector<std::string_view> path(fps.begin(), fps.end());
    std::optional<Expected<std::string>> id;
    ctl->extendcircuit("0", path, "", [&](const Expected<std::string>& r) { id = r; });
    if (!pump_until(10s, [&] { return id.has_value(); }) || !*id) return "";
    const std::string cid = **id;
    if (!pump_until(30s, [&] {
          const torcon::Circuit* c = state->circuit(cid);
          return c && c->state() == torcon::CircStatus::built;
        }))
      return "";
    return cid;
  }

  std::string getconf(std::string_view key) {
    std::optional<Expected<KeyValues>> res;
    ctl->getconf({key}, [&](const Expected<KeyValues>& kv) { res.emplace(kv); });
    if (!pump_until(10s, [&] { return res.has_value(); }) || !*res) return "?";
    const std::string* v = (*res)->find(key);
    return v ? *v : "";
  }
  std::string getinfo(std::string_view key) {
    std::optional<Expected<KeyValues>> res;
    ctl->getinfo({key}, [&](const Expected<KeyValues>& kv) { res.emplace(kv); });
    if (!pump_until(10s, [&] { return res.has_value(); }) || !*res) return "?";
    const std::string* v = (*res)->find(key);
    return v ? *v : "";
  }

  std::string error;
  std::unique_ptr<Controller> ctl;
  std::unique_ptr<TorState> state;
  Clock::time_point last_event;

 private:
  const Network& net_;
  std::unique_ptr<torcon::Reactor> reactor_;
};

// What happened to the streams to one HTTP port: the circuit each
// SUCCEEDED on, and that circuit's last hop.
struct Outcomes {
  struct One {
    std::string circuit, exit_fp;
  };
  std::map<std::string, One> succeeded;  // by stream ID
  std::vector<std::string> states;
  torcon::TorState::ListenerId id = 0;
  void watch(TorState& st, std::uint16_t http_port) {
    const std::string suffix = ":" + std::to_string(http_port);
    id = st.on_stream([this, suffix](const torcon::Stream& s, torcon::StreamChanges what) {
      if (!s.target().ends_with(suffix) ||
          !(what & (torcon::stream_state | torcon::stream_created)))
        return;
      states.push_back(std::string(s.id()) + " " + std::string(s.state_text()));
      if (s.state() != torcon::StreamStatus::succeeded || !s.circuit()) return;
      One o{std::string(s.circuit()->id()), ""};
      const auto path = s.circuit()->path();
      if (!path.empty() && path.back()) o.exit_fp = path.back()->fingerprint();
      succeeded[std::string(s.id())] = o;
    });
  }
};

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += "  " + s + "\n";
  return out;
}

TEST(StreamAttacherTestnet, StreamsLeaveThroughTheCircuitTheyWereSentTo) {
  TORCON_REQUIRE_TESTNET(net);
  Client c(net);
  ASSERT_EQ(c.error, "");
  const std::string two = c.build({"relay0", "exit0"});
  const std::string three = c.build({"relay1", "relay0", "exit0"});
  ASSERT_NE(two, "");
  ASSERT_NE(three, "");
  torcon::test::LoopbackHttp http("sent where it was meant to go\n");
  ASSERT_NE(http.port(), 0);
  StreamAttacher att(*c.state, *c.ctl);
  std::string target = three;
  att.add([&](AttachRequest& req) {
    return req.stream().target_port() == http.port() ? AttachDecision::circuit(target)
                                                     : AttachDecision::pass();
  });
  std::vector<std::string> reports;
  att.on_report([&](const torcon::AttachReport& r) {
    reports.push_back(std::string(torcon::to_string(r.kind)) + ": " + std::string(r.message));
  });
  EXPECT_EQ(c.getconf("__LeaveStreamsUnattached"), "0");
  std::optional<torcon::Status> installed;
  att.install([&](const torcon::Status& s) { installed = s; });
  ASSERT_TRUE(c.pump_until(10s, [&] { return installed.has_value(); }));
  ASSERT_TRUE(*installed) << installed->error().message;
  EXPECT_EQ(c.getconf("__LeaveStreamsUnattached"), "1");
  Outcomes out;
  out.watch(*c.state, http.port());
  for (const std::string& circ : {three, two}) {
    target = circ;
    out.succeeded.clear();
    SocksFetch f(net.client().socks_port, http.port());
    ASSERT_TRUE(c.pump_until(60s, [&] { return f.done() && !out.succeeded.empty(); }))
        << joined(out.states);
    EXPECT_EQ(f.result(), "sent where it was meant to go\n");
    ASSERT_EQ(out.succeeded.size(), 1u) << joined(out.states);
    EXPECT_EQ(out.succeeded.begin()->second.circuit, circ) << joined(out.states);
    EXPECT_EQ(out.succeeded.begin()->second.exit_fp, net.exit().fingerprint);
  }
  EXPECT_EQ(joined(reports), "");
  std::optional<torcon::Status> removed;
  att.uninstall([&](const torcon::Status& s) { removed = s; });
  ASSERT_TRUE(c.pump_until(10s, [&] { return removed.has_value(); }));
  EXPECT_TRUE(*removed);
  EXPECT_EQ(c.getconf("__LeaveStreamsUnattached"), "0");
}

TEST(StreamAttacherTestnet, AStreamLeftAloneWaitsUntilAnswered) {
  TORCON_REQUIRE_TESTNET(net);
  Client c(net);
  ASSERT_EQ(c.error, "");
  const std::string circ = c.build({"relay0", "exit0"});
  ASSERT_NE(circ, "");
  torcon::test::LoopbackHttp http("answered at last\n");
  StreamAttacher att(*c.state, *c.ctl);
  std::string waiting;
  att.add([&](AttachRequest& req) {
    if (req.stream().target_port() != http.port()) return AttachDecision::pass();
    waiting = std::string(req.stream_id());
    return AttachDecision::leave();
  });
  att.install();
  Outcomes out;
  out.watch(*c.state, http.port());
  SocksFetch f(net.client().socks_port, http.port());
  ASSERT_TRUE(c.pump_until(20s, [&] { return !waiting.empty(); }));
  c.pump_for(2s);
  EXPECT_FALSE(f.done());
  const torcon::Stream* s = c.state->stream(waiting);
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->needs_decision());
  // tor's own view: unattached (stream-status lists a stream waiting for
  // the controller as NEW on circuit 0).
  EXPECT_NE(c.getinfo("stream-status").find(waiting + " NEW 0 "), std::string::npos)
      << c.getinfo("stream-status");
  // Answered by hand, as another part of the program might.
  std::optional<torcon::Status> attached;
  c.ctl->attachstream(waiting, circ, 0, [&](const torcon::Status& st) { attached = st; });
  ASSERT_TRUE(c.pump_until(60s, [&] { return f.done() && out.succeeded.count(waiting); }))
      << joined(out.states);
  EXPECT_TRUE(attached && *attached);
  EXPECT_EQ(f.result(), "answered at last\n");
  EXPECT_EQ(out.succeeded[waiting].circuit, circ);
}

TEST(StreamAttacherTestnet, AnExitThatRefusesBringsTheStreamBackWithTheReason) {
  TORCON_REQUIRE_TESTNET(net);
  Client c(net);
  ASSERT_EQ(c.error, "");
  const std::string good = c.build({"relay0", "exit0"});
  const std::string three = c.build({"relay0", "relay1", "exit0"});
  ASSERT_NE(good, "");
  ASSERT_NE(three, "");
  torcon::test::LoopbackHttp http("second time lucky\n");
  StreamAttacher att(*c.state, *c.ctl);
  std::vector<std::string> offers;
  att.add([&](AttachRequest& req) {
    if (req.stream().target_port() != http.port()) return AttachDecision::pass();
    offers.push_back(std::to_string(req.offer()) + " from=" + std::string(req.detached_from()) +
                     " remote=" + std::string(req.remote_reason()));
    // First to a middle relay as the exit (HOP=2: relay1 is no exit), then
    // elsewhere, never back to the circuit that failed it.
    if (!req.is_reoffer()) return AttachDecision::circuit(three, 2);
    return AttachDecision::circuit(good);
  });
  att.install();
  Outcomes out;
  out.watch(*c.state, http.port());
  SocksFetch f(net.client().socks_port, http.port());
  ASSERT_TRUE(c.pump_until(60s, [&] { return f.done() && !out.succeeded.empty(); }))
      << joined(out.states) << joined(offers);
  EXPECT_EQ(f.result(), "second time lucky\n");
  ASSERT_EQ(offers.size(), 2u) << joined(offers) << joined(out.states);
  EXPECT_EQ(offers[0], "0 from= remote=");
  EXPECT_EQ(offers[1], "1 from=" + three + " remote=EXITPOLICY") << joined(out.states);
  EXPECT_EQ(out.succeeded.begin()->second.circuit, good);
}

TEST(StreamAttacherTestnet, SourcePortRoutesInEitherOrder) {
  TORCON_REQUIRE_TESTNET(net);
  Client c(net);
  ASSERT_EQ(c.error, "");
  const std::string a = c.build({"relay0", "exit0"});
  const std::string b = c.build({"relay1", "exit0"});
  ASSERT_NE(a, "");
  ASSERT_NE(b, "");
  torcon::test::LoopbackHttp http("routed\n");
  StreamAttacher att(*c.state, *c.ctl);
  torcon::SourcePortRoutes routes(c.reactor(), 30s);
  att.add(routes.attacher());
  att.add([](AttachRequest&) { return AttachDecision::close(); });  // anything unrouted
  att.install();
  Outcomes out;
  out.watch(*c.state, http.port());
  // Route first: the port is known from connect(), the route registered,
  // then the SOCKS request goes out.
  SocksFetch first(net.client().socks_port, http.port(), /*go_at_once=*/false);
  ASSERT_TRUE(c.pump_until(10s, [&] { return first.local_port() != 0; }));
  routes.route(first.local_port(), a);
  first.go();
  ASSERT_TRUE(c.pump_until(60s, [&] { return first.done(); }));
  EXPECT_EQ(first.result(), "routed\n");
  // Stream first: tor offers it before the route exists; it is held.
  SocksFetch second(net.client().socks_port, http.port());
  ASSERT_TRUE(c.pump_until(20s, [&] { return routes.held() == 1; })) << joined(out.states);
  routes.route(second.local_port(), b);
  ASSERT_TRUE(c.pump_until(60s, [&] { return second.done() && out.succeeded.size() == 2; }))
      << joined(out.states);
  EXPECT_EQ(second.result(), "routed\n");
  std::map<std::string, std::string> circuits;  // circuit -> exit
  for (const auto& [id, o] : out.succeeded) circuits[o.circuit] = o.exit_fp;
  EXPECT_EQ(circuits, (std::map<std::string, std::string>{{a, net.exit().fingerprint},
                                                          {b, net.exit().fingerprint}}));
}

TEST(StreamAttacherTestnet, ALeftoverOptionIsReportedOnAttachAndInstall) {
  TORCON_REQUIRE_TESTNET(net);
  {
    // A controller that sets the option and goes away without resetting it.
    Client crashed(net);
    ASSERT_EQ(crashed.error, "");
    std::optional<torcon::Status> set;
    const std::pair<std::string_view, std::optional<std::string_view>> one[] = {
        {"__LeaveStreamsUnattached", "1"}};
    crashed.ctl->setconf(one, [&](const torcon::Status& s) { set = s; });
    ASSERT_TRUE(crashed.pump_until(10s, [&] { return set.has_value(); }));
    ASSERT_TRUE(*set);
  }
  Client c(net);
  ASSERT_EQ(c.error, "");
  EXPECT_EQ(c.getconf("__LeaveStreamsUnattached"), "1");
  std::optional<Expected<bool>> left;
  torcon::check_leave_streams_unattached(*c.ctl, [&](const Expected<bool>& b) { left = b; });
  ASSERT_TRUE(c.pump_until(10s, [&] { return left.has_value(); }));
  ASSERT_TRUE(*left);
  EXPECT_TRUE(**left);
  // A TorState attaching now says so.
  TorState st;
  std::vector<std::string> warnings;
  st.on_listener_error([&](std::string_view w) { warnings.emplace_back(w); });
  std::optional<torcon::Status> done;
  st.attach(*c.ctl, [&](const torcon::Status& s) { done = s; });
  ASSERT_TRUE(c.pump_until(20s, [&] { return done.has_value() && !warnings.empty(); }))
      << "no warning";
  EXPECT_NE(warnings[0].find("__LeaveStreamsUnattached=1"), std::string::npos) << warnings[0];
  // So does installing an attacher; uninstalling it puts tor back to 0.
  StreamAttacher att(st, *c.ctl);
  std::vector<std::string> reports;
  att.on_report(
      [&](const torcon::AttachReport& r) { reports.push_back(torcon::to_string(r.kind)); });
  std::optional<torcon::Status> installed, removed;
  [](StreamAttacher& a, std::optional<torcon::Status>& in,
     std::optional<torcon::Status>& out) -> torcon::Task {
    in = co_await a.co_install();
    out = co_await a.co_uninstall();
  }(att, installed, removed);
  ASSERT_TRUE(c.pump_until(10s, [&] { return removed.has_value(); }));
  EXPECT_TRUE(installed && *installed);
  EXPECT_TRUE(*removed);
  EXPECT_EQ(reports, (std::vector<std::string>{"leftover_option"}));
  EXPECT_EQ(c.getconf("__LeaveStreamsUnattached"), "0");
  EXPECT_FALSE(att.installed());
}

// The ID of the stream to 127.0.0.1:`port` in a stream-status value when
// tor lists it waiting unattached ("<id> NEW 0 127.0.0.1:<port>"), else "".
std::string unattached_in(const std::string& stream_status, std::uint16_t port) {
  const std::string tail = " NEW 0 127.0.0.1:" + std::to_string(port);
  for (std::size_t at = 0; at < stream_status.size();) {
    std::size_t nl = stream_status.find('\n', at);
    if (nl == std::string::npos) nl = stream_status.size();
    std::string line = stream_status.substr(at, nl - at);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::size_t sp = line.find(' ');
    if (sp != std::string::npos && line.substr(sp) == tail) return line.substr(0, sp);
    at = nl + 1;
  }
  return "";
}

// SETCONF __LeaveStreamsUnattached on `c`'s controller; true if tor took it.
bool set_leave_unattached(Client& c, std::string_view value) {
  std::optional<torcon::Status> set;
  const std::pair<std::string_view, std::optional<std::string_view>> one[] = {
      {"__LeaveStreamsUnattached", value}};
  c.ctl->setconf(one, [&](const torcon::Status& s) { set = s; });
  return c.pump_until(10s, [&] { return set.has_value(); }) && *set;
}

// tor lists a stream it holds for a controller as NEW on circuit 0 in
// stream-status (seen here, tor 0.4.9; the STREAM events say
// CONTROLLER_WAIT). A TorState that bootstraps while one waits knows it only
// from that line; installing an attacher (tor already holding streams for a
// controller: the option was left set) offers it, and the fetch completes
// through the circuit the attacher chose.
TEST(StreamAttacherTestnet, AStreamWaitingBeforeTheStateBootstrappedIsOfferedOnInstall) {
  TORCON_REQUIRE_TESTNET(net);
  Client setter(net);
  ASSERT_EQ(setter.error, "");
  const std::string circ = setter.build({"relay0", "exit0"});
  ASSERT_NE(circ, "");
  ASSERT_TRUE(set_leave_unattached(setter, "1"));
  torcon::test::LoopbackHttp http("waited for the attacher\n");
  SocksFetch f(net.client().socks_port, http.port());
  std::string id;
  ASSERT_TRUE(setter.pump_until(20s, [&] {
    id = unattached_in(setter.getinfo("stream-status"), http.port());
    return !id.empty();
  })) << setter.getinfo("stream-status");

  Client c(net);  // its TorState's snapshot has the waiting stream
  ASSERT_EQ(c.error, "");
  const torcon::Stream* s = c.state->stream(id);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->state(), torcon::StreamStatus::new_);
  EXPECT_TRUE(s->may_need_decision());
  EXPECT_FALSE(f.done());
  StreamAttacher att(*c.state, *c.ctl);
  std::vector<std::string> offered, reports;
  att.add([&](AttachRequest& req) {
    if (req.stream().target_port() != http.port()) return AttachDecision::pass();
    offered.emplace_back(req.stream_id());
    return AttachDecision::circuit(circ);
  });
  att.on_report([&](const torcon::AttachReport& r) {
    reports.push_back(std::string(torcon::to_string(r.kind)) + ": " + std::string(r.message));
  });
  Outcomes out;
  out.watch(*c.state, http.port());
  att.install();
  ASSERT_TRUE(c.pump_until(60s, [&] { return f.done() && out.succeeded.count(id); }))
      << joined(out.states) << joined(reports);
  EXPECT_EQ(f.result(), "waited for the attacher\n");
  EXPECT_EQ(offered, std::vector<std::string>{id});
  EXPECT_EQ(out.succeeded[id].circuit, circ);
  ASSERT_EQ(reports.size(), 1u) << joined(reports);
  EXPECT_TRUE(reports[0].starts_with("leftover_option")) << reports[0];
  std::optional<torcon::Status> removed;
  att.uninstall([&](const torcon::Status& st) { removed = st; });
  ASSERT_TRUE(c.pump_until(10s, [&] { return removed.has_value(); }));
  EXPECT_EQ(c.getconf("__LeaveStreamsUnattached"), "0");
}

// The control connection drops while tor keeps running (tor closes it after
// a QUIT, which the reconnect policy takes as a lost connection). A stream
// that arrives in the gap waits for a controller (tor keeps
// __LeaveStreamsUnattached); after reconnecting, the TorState's resync finds
// the same tor — the circuit it knew is kept, not closed and re-created —
// and the attacher is offered the stream that waited through the gap.
TEST(StreamAttacherTestnet, AStreamThatWaitedThroughAReconnectionToTheSameTorIsOffered) {
  TORCON_REQUIRE_TESTNET(net);
  Client observer(net);
  ASSERT_EQ(observer.error, "");
  const std::string circ = observer.build({"relay0", "exit0"});
  ASSERT_NE(circ, "");
  torcon::ControllerOptions o;
  o.cookie_file = net.client().cookie_file;
  o.reconnect.enabled = true;
  o.reconnect.initial_delay = 3s;  // the gap
  o.reconnect.jitter = 0;
  Controller ctl(observer.reactor(), o);
  std::optional<torcon::Status> up;
  ctl.connect(net.client().control(), [&](const torcon::Status& st) { up = st; });
  ASSERT_TRUE(observer.pump_until(10s, [&] { return up.has_value(); }));
  ASSERT_TRUE(*up) << up->error().message;
  TorState state(observer.reactor());
  std::vector<std::string> origins, circuit_news;
  state.on_snapshot([&](torcon::SnapshotOrigin so) {
    origins.push_back(so == torcon::SnapshotOrigin::attach     ? "attach"
                      : so == torcon::SnapshotOrigin::same_tor ? "same_tor"
                                                               : "other_tor");
  });
  state.on_circuit([&](const torcon::Circuit& ci, torcon::CircuitChanges what) {
    if (ci.id() == circ && (what & (torcon::circuit_created | torcon::circuit_removed)))
      circuit_news.push_back(
          (what & torcon::circuit_removed) ? "removed " + std::string(ci.reason()) : "created");
  });
  std::optional<torcon::Status> attached;
  state.attach(ctl, [&](const torcon::Status& st) { attached = st; });
  ASSERT_TRUE(observer.pump_until(20s, [&] { return attached.has_value(); }));
  ASSERT_TRUE(*attached) << attached->error().message;
  ASSERT_NE(state.circuit(circ), nullptr);
  circuit_news.clear();
  StreamAttacher att(state, ctl);
  torcon::test::LoopbackHttp http("waited through the gap\n");
  std::vector<std::string> offered, reports;
  att.add([&](AttachRequest& req) {
    if (req.stream().target_port() != http.port()) return AttachDecision::pass();
    offered.emplace_back(req.stream_id());
    return AttachDecision::circuit(circ);
  });
  att.on_report([&](const torcon::AttachReport& r) {
    reports.push_back(std::string(torcon::to_string(r.kind)) + ": " + std::string(r.message));
  });
  std::optional<torcon::Status> installed;
  att.install([&](const torcon::Status& st) { installed = st; });
  ASSERT_TRUE(observer.pump_until(10s, [&] { return installed.has_value(); }));
  ASSERT_TRUE(*installed) << installed->error().message;

  ctl.command("QUIT", [](const Expected<torcon::Reply>&) {});
  ASSERT_TRUE(observer.pump_until(10s, [&] { return ctl.reconnecting(); }));
  SocksFetch f(net.client().socks_port, http.port());
  std::string id;
  ASSERT_TRUE(observer.pump_until(10s, [&] {
    id = unattached_in(observer.getinfo("stream-status"), http.port());
    return !id.empty();
  })) << observer.getinfo("stream-status");
  ASSERT_TRUE(ctl.reconnecting()) << "reconnected before the stream came: no gap to test";
  EXPECT_EQ(state.stream(id), nullptr);  // nothing of the new connection applied yet

  ASSERT_TRUE(observer.pump_until(60s, [&] { return ctl.ready() && f.done(); })) << joined(reports);
  EXPECT_EQ(f.result(), "waited through the gap\n");
  EXPECT_EQ(offered, std::vector<std::string>{id}) << joined(reports);
  EXPECT_EQ(origins, (std::vector<std::string>{"attach", "same_tor"}));
  EXPECT_EQ(circuit_news, std::vector<std::string>{}) << "the same tor's circuit was replaced";
  EXPECT_NE(state.circuit(circ), nullptr);
  EXPECT_EQ(joined(reports), "");
  std::optional<torcon::Status> removed;
  att.uninstall([&](const torcon::Status& st) { removed = st; });
  ASSERT_TRUE(observer.pump_until(10s, [&] { return removed.has_value(); }));
  EXPECT_EQ(observer.getconf("__LeaveStreamsUnattached"), "0");
}

TEST(StreamAttacherTestnet, AttachLatencyOverTorsConnection) {
  TORCON_REQUIRE_TESTNET(net);
  Client c(net);
  ASSERT_EQ(c.error, "");
  const std::string circ = c.build({"relay0", "exit0"});
  ASSERT_NE(circ, "");
  torcon::test::LoopbackHttp http("timed\n");
  StreamAttacher att(*c.state, *c.ctl);
  att.add([&](AttachRequest& req) {
    return req.stream().target_port() == http.port() ? AttachDecision::circuit(circ)
                                                     : AttachDecision::pass();
  });
  att.install();
  // Registered after the attacher: runs once the ATTACHSTREAM is written.
  Clock::time_point event_at, written_at, succeeded_at;
  const std::string suffix = ":" + std::to_string(http.port());
  c.state->on_stream([&](const torcon::Stream& s, torcon::StreamChanges what) {
    if (!s.target().ends_with(suffix) || !(what & torcon::stream_state)) return;
    if (s.needs_decision()) {
      event_at = c.last_event;
      written_at = Clock::now();
    } else if (s.state() == torcon::StreamStatus::succeeded) {
      succeeded_at = Clock::now();
    }
  });
  std::vector<double> to_write, to_success;
  for (int i = 0; i < 20; ++i) {
    succeeded_at = {};
    SocksFetch f(net.client().socks_port, http.port());
    ASSERT_TRUE(c.pump_until(60s, [&] { return f.done() && succeeded_at != Clock::time_point{}; }));
    ASSERT_EQ(f.result(), "timed\n");
    to_write.push_back(std::chrono::duration<double, std::micro>(written_at - event_at).count());
    to_success.push_back(
        std::chrono::duration<double, std::milli>(succeeded_at - event_at).count());
  }
  std::sort(to_write.begin(), to_write.end());
  std::sort(to_success.begin(), to_success.end());
  const char* backend = std::getenv("TORCON_REACTOR");
  std::printf(
      "attach latency on the private network (%s, %zu streams): STREAM CONTROLLER_WAIT "
      "dispatched -> ATTACHSTREAM written: min %.1f us, median %.1f us, max %.1f us; "
      "-> STREAM SUCCEEDED: min %.2f ms, median %.2f ms, max %.2f ms\n",
      backend ? backend : "default", to_write.size(), to_write.front(),
      to_write[to_write.size() / 2], to_write.back(), to_success.front(),
      to_success[to_success.size() / 2], to_success.back());
}

}  // namespace
