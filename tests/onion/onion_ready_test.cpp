// OnionReadyWatch against a scripted control server, for the upload outcomes
// a real tor will not produce on demand: every upload failing, a failure
// before the rest of the round is announced, another service's uploads to
// the same HSDirs, events that come before the address is known, tor
// refusing SETEVENTS. Also: a caller that does not wait subscribes nothing.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "torcon/controller.hpp"
#include "torcon/onion_keys.hpp"
#include "torcon/onion_service.hpp"
#include "torcon/reactor.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using torcon::Errc;
using torcon::Status;

const std::string kOurs = "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid";
const std::string kOther = "hvabpq7iioevvevxbktu2g36xsojqlgpf3cjndgazvk7ckxumygcmyyd";
const std::string kDir1 = "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA~hsdir1";
const std::string kDir2 = "$BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB~hsdir2";

std::string upload(const std::string& addr, const std::string& dir) {
  return "650 HS_DESC UPLOAD " + addr + " UNKNOWN " + dir +
         " b2xkYmxpbmRlZGtleQ HSDIR_INDEX=" + std::string(64, '0') + "\r\n";
}
std::string uploaded(const std::string& addr, const std::string& dir) {
  return "650 HS_DESC UPLOADED " + addr + " UNKNOWN " + dir + "\r\n";
}
std::string failed(const std::string& addr, const std::string& dir) {
  return "650 HS_DESC FAILED " + addr + " UNKNOWN " + dir + " REASON=UPLOAD_REJECTED\r\n";
}

// A control server on 127.0.0.1 for one connection: NULL authentication,
// then answers the first command (SETEVENTS) with `first_reply`, sends
// `events` (a "" entry pauses 300 ms), and answers later lines with
// `later_replies` in order, then 250 OK.
// Records the lines it read.
class ScriptedTor {
 public:
  ScriptedTor(std::string first_reply, std::vector<std::string> events,
              std::vector<std::string> later_replies = {})
      : first_reply_(std::move(first_reply)),
        events_(std::move(events)),
        later_(std::move(later_replies)) {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(listen_, reinterpret_cast<sockaddr*>(&a), len);
    ::listen(listen_, 1);
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedTor() {
    ::shutdown(listen_, SHUT_RDWR);
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(listen_);
  }
  torcon::Endpoint endpoint() const { return torcon::Endpoint::tcp("127.0.0.1", port_); }
  bool events_sent() const { return sent_; }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> l(mu_);
    return lines_;
  }

 private:
  std::string read_line() {
    std::string l;
    char c;
    while (::read(fd_, &c, 1) == 1 && c != '\n') l.push_back(c);
    if (!l.empty() && l.back() == '\r') l.pop_back();
    std::lock_guard<std::mutex> g(mu_);
    if (!l.empty()) lines_.push_back(l);
    return l;
  }
  void say(const std::string& s) { (void)!::send(fd_, s.data(), s.size(), MSG_NOSIGNAL); }
  void serve() {
    fd_ = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd_ < 0) return;
    read_line();  // PROTOCOLINFO
    say("250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250-VERSION Tor=\"0.4.9.11\"\r\n250 "
        "OK\r\n");
    read_line();  // AUTHENTICATE
    say("250 OK\r\n");
    if (read_line().empty()) return;
    say(first_reply_);
    for (const std::string& e : events_) {
      if (e.empty())
        std::this_thread::sleep_for(300ms);
      else
        say(e);
    }
    sent_ = true;
    for (std::size_t i = 0; !read_line().empty(); ++i)
      say(i < later_.size() ? later_[i] : "250 OK\r\n");
    ::close(fd_);
  }
  std::string first_reply_;
  std::vector<std::string> events_, later_;
  int listen_ = -1, fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> sent_{false};
  std::mutex mu_;
  std::vector<std::string> lines_;
};

struct Outcome {
  std::optional<Status> done;
  int progress_calls = 0;
  torcon::OnionUploadProgress last;
};

// Connects to `tor`, watches kOurs (the address given before or after the
// events arrive), and returns how the watch ended.
Outcome watch(ScriptedTor& tor, bool all_hsdirs, bool address_first,
              std::chrono::milliseconds timeout = 5s) {
  Outcome out;
  auto reactor = torcon::Reactor::create();
  EXPECT_TRUE(reactor);
  if (!reactor) return out;
  torcon::Controller ctl(**reactor);
  std::optional<Status> connected;
  ctl.connect(tor.endpoint(), [&](const Status& s) { connected = s; });
  torcon::OnionReadyOptions o;
  o.all_hsdirs = all_hsdirs;
  o.timeout = timeout;
  o.progress = [&](const torcon::OnionUploadProgress& p) {
    ++out.progress_calls;
    out.last = p;
  };
  torcon::OnionReadyWatch w(ctl, **reactor, o, [&](const Status& s) { out.done = s; });
  auto pump = [&](auto pred) {
    const auto deadline = Clock::now() + timeout + 3s;
    while (!pred() && Clock::now() < deadline) (*reactor)->run_once(10ms);
  };
  if (address_first) {
    w.set_address(kOurs + ".onion");
  } else {
    pump([&] { return tor.events_sent(); });
    for (int i = 0; i < 20; ++i) (*reactor)->run_once(10ms);  // take in what was sent
    EXPECT_FALSE(out.done.has_value());
    w.set_address(kOurs);
  }
  pump([&] { return out.done.has_value(); });
  return out;
}

struct Case {
  const char* name;
  std::vector<std::string> events;
  bool all_hsdirs;
  bool address_first;
  Errc expected;  // Errc::ok: ready
  int attempted, uploaded, failed;
};

TEST(OnionReadyWatch, Outcomes) {
  const Case cases[] = {
      {"first upload makes it ready",
       {upload(kOurs, kDir1), upload(kOurs, kDir2), uploaded(kOurs, kDir1)},
       false,
       true,
       Errc::ok,
       2,
       1,
       0},
      {"another service on the same HSDir does not count",
       {upload(kOther, kDir1), upload(kOurs, kDir1), uploaded(kOther, kDir1)},
       false,
       true,
       Errc::timeout,
       1,
       0,
       0},
      {"every attempt failed",
       {upload(kOurs, kDir1), upload(kOurs, kDir2), failed(kOurs, kDir1), failed(kOurs, kDir2)},
       false,
       true,
       Errc::tor_error,
       2,
       0,
       2},
      {"an early failure before the rest of the round is not the end",
       {upload(kOurs, kDir1), failed(kOurs, kDir1), "", upload(kOurs, kDir2),
        uploaded(kOurs, kDir2)},
       false,
       true,
       Errc::ok,
       2,
       1,
       1},
      {"one failure and one success is ready in any mode",
       {upload(kOurs, kDir1), upload(kOurs, kDir2), failed(kOurs, kDir1), uploaded(kOurs, kDir2)},
       false,
       true,
       Errc::ok,
       2,
       1,
       1},
      {"all mode waits for every HSDir",
       {upload(kOurs, kDir1), upload(kOurs, kDir2), uploaded(kOurs, kDir1), "",
        uploaded(kOurs, kDir2)},
       true,
       true,
       Errc::ok,
       2,
       2,
       0},
      {"all mode fails on one failure",
       {upload(kOurs, kDir1), upload(kOurs, kDir2), uploaded(kOurs, kDir1), failed(kOurs, kDir2)},
       true,
       true,
       Errc::tor_error,
       2,
       1,
       1},
      {"events before the address is known are counted",
       {upload(kOther, kDir1), upload(kOurs, kDir1), uploaded(kOurs, kDir1),
        uploaded(kOther, kDir1)},
       false,
       false,
       Errc::ok,
       1,
       1,
       0},
      {"other events and malformed ones are ignored",
       {"650 HS_DESC REQUESTED " + kOurs + " NO_AUTH " + kDir1 + " descid\r\n",
        "650 HS_DESC UPLOADED\r\n", "650 HS_DESC UPLOADED short UNKNOWN " + kDir1 + "\r\n",
        "650 HS_DESC RECEIVED " + kOurs + " NO_AUTH " + kDir1 + "\r\n"},
       false,
       true,
       Errc::timeout,
       0,
       0,
       0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ScriptedTor tor("250 OK\r\n", c.events);
    const bool short_wait = c.expected == Errc::timeout;
    Outcome o = watch(tor, c.all_hsdirs, c.address_first, short_wait ? 1500ms : 5000ms);
    ASSERT_TRUE(o.done.has_value());
    EXPECT_EQ(o.done->error().code, c.expected) << o.done->error().message;
    EXPECT_EQ(o.last.attempted, c.attempted);
    EXPECT_EQ(o.last.uploaded, c.uploaded);
    EXPECT_EQ(o.last.failed, c.failed);
    EXPECT_EQ(o.progress_calls > 0, c.attempted + c.uploaded + c.failed > 0);
    // It subscribed to HS_DESC first and unsubscribed when done.
    const std::vector<std::string> lines = tor.lines();
    ASSERT_GE(lines.size(), 3u);
    EXPECT_EQ(lines[2], "SETEVENTS HS_DESC");
  }
}

TEST(OnionReadyWatch, RefusedSubscriptionFailsIt) {
  ScriptedTor tor("552 Unrecognized event \"HS_DESC\"\r\n", {});
  Outcome o = watch(tor, false, true);
  ASSERT_TRUE(o.done.has_value());
  EXPECT_EQ(o.done->error().code, Errc::tor_error);
  EXPECT_EQ(o.done->error().status, 552);
}

TEST(OnionReadyWatch, DestroyedBeforeDoneNeverCallsBack) {
  ScriptedTor tor("250 OK\r\n", {upload(kOurs, kDir1), "", uploaded(kOurs, kDir1)});
  auto reactor = torcon::Reactor::create();
  ASSERT_TRUE(reactor);
  torcon::Controller ctl(**reactor);
  ctl.connect(tor.endpoint(), [](const Status&) {});
  bool called = false;
  {
    torcon::OnionReadyWatch w(ctl, **reactor, {}, [&](const Status&) { called = true; });
    w.set_address(kOurs);
    for (int i = 0; i < 10; ++i) (*reactor)->run_once(10ms);
  }
  const auto deadline = Clock::now() + 1500ms;
  while (Clock::now() < deadline) (*reactor)->run_once(10ms);
  EXPECT_FALSE(called);
}

TEST(OnionService, CallersThatDoNotWaitSubscribeNothing) {
  const std::string key = torcon::new_onion_key();
  const std::string id = torcon::onion_address_of_key(key)->substr(0, 56);
  ScriptedTor tor("250-ServiceID=" + id + "\r\n250 OK\r\n", {});
  auto reactor = torcon::Reactor::create();
  ASSERT_TRUE(reactor);
  torcon::Controller ctl(**reactor);
  ctl.connect(tor.endpoint(), [](const Status&) {});
  torcon::OnionServiceSpec spec;
  spec.ports = {{80, ""}};
  spec.key = key;
  std::optional<torcon::Expected<torcon::OnionServiceInfo>> r;
  torcon::add_onion_service(ctl, spec, [&](const auto& x) { r.emplace(x); });
  const auto deadline = Clock::now() + 5s;
  while (!r && Clock::now() < deadline) (*reactor)->run_once(10ms);
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(*r) << r->error().message;
  EXPECT_EQ((*r)->address, id + ".onion");
  const std::vector<std::string> lines = tor.lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(lines[2].starts_with("ADD_ONION ED25519-V3:")) << lines[2];
}

}  // namespace

namespace {

TEST(OnionService, ReplyForAnotherKeyIsAnError) {
  ScriptedTor tor("250-ServiceID=" + kOurs + "\r\n250 OK\r\n", {});
  auto reactor = torcon::Reactor::create();
  ASSERT_TRUE(reactor);
  torcon::Controller ctl(**reactor);
  ctl.connect(tor.endpoint(), [](const Status&) {});
  torcon::OnionServiceSpec spec;
  spec.ports = {{80, ""}};
  spec.key = torcon::new_onion_key();  // whose address is not kOurs
  std::optional<torcon::Expected<torcon::OnionServiceInfo>> r;
  torcon::add_onion_service(ctl, spec, [&](const auto& x) { r.emplace(x); });
  const auto deadline = Clock::now() + 5s;
  while (!r && Clock::now() < deadline) (*reactor)->run_once(10ms);
  ASSERT_TRUE(r.has_value());
  ASSERT_FALSE(*r);
  EXPECT_NE(r->error().message.find("not the given key's address"), std::string::npos)
      << r->error().message;
}

}  // namespace

namespace {

torcon::Task publish_and_wait(torcon::Controller& ctl, torcon::OnionReadyWatch& watch,
                              torcon::OnionServiceSpec spec, std::optional<Status>& out,
                              std::string& address) {
  torcon::Expected<torcon::OnionServiceInfo> info =
      co_await torcon::co_add_onion_service(ctl, std::move(spec));
  if (!info) {
    out = info.error();
    co_return;
  }
  address = info->address;
  watch.set_address(info->address);
  out = co_await watch.co_ready();
}

TEST(OnionService, CoroutineFormsPublishAndWait) {
  const std::string key = torcon::new_onion_key();
  const std::string id = torcon::onion_address_of_key(key)->substr(0, 56);
  // SETEVENTS first (the watch), events (before ADD_ONION is even read),
  // then ADD_ONION's reply.
  ScriptedTor tor("250 OK\r\n", {upload(id, kDir1), uploaded(id, kDir1)},
                  {"250-ServiceID=" + id + "\r\n250 OK\r\n"});
  auto reactor = torcon::Reactor::create();
  ASSERT_TRUE(reactor);
  torcon::Controller ctl(**reactor);
  // Connected first: before authentication completes, the Controller sends
  // queued commands ahead of SETEVENTS.
  std::optional<Status> connected;
  ctl.connect(tor.endpoint(), [&](const Status& s) { connected = s; });
  while (!connected) (*reactor)->run_once(10ms);
  ASSERT_TRUE(*connected);
  torcon::OnionReadyWatch watch(ctl, **reactor, {}, {});
  torcon::OnionServiceSpec spec;
  spec.ports = {{80, ""}};
  spec.key = key;
  std::optional<Status> out;
  std::string address;
  publish_and_wait(ctl, watch, spec, out, address);
  const auto deadline = Clock::now() + 5s;
  while (!out && Clock::now() < deadline) (*reactor)->run_once(10ms);
  ASSERT_TRUE(out.has_value());
  EXPECT_TRUE(*out) << out->error().message << "\n" << ::testing::PrintToString(tor.lines());
  EXPECT_EQ(address, id + ".onion");
  EXPECT_EQ(watch.progress().uploaded, 1);

  // Bad input resumes at once with the error.
  spec.ports = {{0, ""}};
  out.reset();
  publish_and_wait(ctl, watch, spec, out, address);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->error().code, Errc::bad_argument);
}

}  // namespace
