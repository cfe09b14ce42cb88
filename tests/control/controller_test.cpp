// Controller against a real tor (standalone, DisableNetwork 1), on both
// reactor backends, plus a fake server for what tor won't do on demand.

#include "torcon/controller.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_tor.hpp"
#include "support/reactor_backend.hpp"
#include "support/tor_process.hpp"
#include "torcon/events.hpp"

namespace torcon {
namespace {

using namespace std::chrono_literals;
using testing::TorOptions;
using testing::TorProcess;

// On each backend (support/reactor_backend.hpp: io_uring skips where refused).
class ControllerTest : public testing::BackendTest {
 protected:
  Status connect(Controller& c, const Endpoint& where) {
    std::optional<Status> st;
    c.connect(where, [&](const Status& s) { st = s; });
    EXPECT_TRUE(run_until([&] { return st.has_value(); }));
    return st.value_or(Status(Error(Errc::timeout, "connect did not complete")));
  }
  static Endpoint tcp(const TorProcess& t) {
    return Endpoint::tcp("127.0.0.1", static_cast<std::uint16_t>(t.control_port()));
  }
};

TEST_P(ControllerTest, BestMethodIsSafecookieAndGetinfoWorks) {
  TorProcess tor;
  ASSERT_TRUE(tor.ok()) << tor.error();
  Controller c(*reactor_);
  Status s = connect(c, tcp(tor));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(c.auth_method(), AuthMethod::safecookie);
  EXPECT_EQ(c.protocol_info().cookie_file, tor.cookie_path());
  EXPECT_FALSE(c.protocol_info().tor_version.empty());
  std::optional<Expected<KeyValues>> got;
  c.getinfo({"version", "config-text"}, [&](const Expected<KeyValues>& kv) { got = kv; });
  ASSERT_TRUE(run_until([&] { return got.has_value(); }));
  ASSERT_TRUE(got->ok()) << got->error().message;
  ASSERT_NE((*got)->find("version"), nullptr);
  EXPECT_EQ(*(*got)->find("version"), c.protocol_info().tor_version);
  ASSERT_NE((*got)->find("config-text"), nullptr);
  EXPECT_NE((*got)->find("config-text")->find("DisableNetwork 1"), std::string::npos);
}

TEST_P(ControllerTest, EachAuthMethodAgainstATorConfiguredForIt) {
  {
    TorProcess tor;  // cookie
    ASSERT_TRUE(tor.ok()) << tor.error();
    for (AuthMethod m : {AuthMethod::cookie, AuthMethod::safecookie}) {
      ControllerOptions o;
      o.auth = m;
      Controller c(*reactor_, o);
      Status s = connect(c, tcp(tor));
      EXPECT_TRUE(s.ok()) << to_string(m) << ": " << s.error().message;
      EXPECT_EQ(c.auth_method(), m);
    }
  }
  {
    TorOptions to;
    to.cookie_auth = false;
    to.hashed_password = TorProcess::hash_password("s3cret \"pw\"");
    ASSERT_FALSE(to.hashed_password.empty());
    TorProcess tor(to);
    ASSERT_TRUE(tor.ok()) << tor.error();
    ControllerOptions good;
    good.password = "s3cret \"pw\"";
    Controller c(*reactor_, good);
    Status s = connect(c, tcp(tor));
    EXPECT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(c.auth_method(), AuthMethod::hashed_password);

    ControllerOptions bad;
    bad.password = "wrong";
    Controller c2(*reactor_, bad);
    s = connect(c2, tcp(tor));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, Errc::auth);
    EXPECT_NE(s.error().message.find("refused"), std::string::npos) << s.error().message;

    Controller c3(*reactor_);  // no password given
    s = connect(c3, tcp(tor));
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find("password"), std::string::npos) << s.error().message;
  }
  {
    TorOptions to;
    to.cookie_auth = false;
    TorProcess tor(to);  // no authentication at all
    ASSERT_TRUE(tor.ok()) << tor.error();
    Controller c(*reactor_);
    Status s = connect(c, tcp(tor));
    EXPECT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(c.auth_method(), AuthMethod::null);
  }
}

TEST_P(ControllerTest, UnixSocketAndPipelinedGetinfosInOrder) {
  TorProcess tor;
  ASSERT_TRUE(tor.ok()) << tor.error();
  Controller c(*reactor_);
  Status s = connect(c, Endpoint::unix_socket(tor.control_socket()));
  ASSERT_TRUE(s.ok()) << s.error().message;
  constexpr int kN = 10000;
  std::vector<int> order;
  order.reserve(kN);
  int failures = 0;
  for (int i = 0; i < kN; ++i) {
    // Alternate keys so a mismatched FIFO would show.
    const char* key = i % 2 ? "process/pid" : "version";
    c.getinfo({key}, [&, i, key](const Expected<KeyValues>& kv) {
      if (!kv || !kv->find(key)) ++failures;
      order.push_back(i);
    });
  }
  ASSERT_TRUE(run_until([&] { return order.size() == kN; }, 60s));
  EXPECT_EQ(failures, 0);
  for (int i = 0; i < kN; ++i) ASSERT_EQ(order[i], i);
}

TEST_P(ControllerTest, TorErrorsAreValues) {
  TorProcess tor;
  ASSERT_TRUE(tor.ok()) << tor.error();
  Controller c(*reactor_);
  ASSERT_TRUE(connect(c, tcp(tor)).ok());
  std::optional<Expected<KeyValues>> got;
  c.getinfo({"no-such-key"}, [&](const Expected<KeyValues>& kv) { got = kv; });
  ASSERT_TRUE(run_until([&] { return got.has_value(); }));
  ASSERT_FALSE(got->ok());
  EXPECT_EQ(got->error().code, Errc::tor_error);
  EXPECT_EQ(got->error().status, 552);
  EXPECT_NE(got->error().message.find("no-such-key"), std::string::npos);

  std::optional<Status> inj;
  c.command("GETINFO version\r\nSIGNAL HALT",
            [&](const Expected<Reply>& r) { inj = r ? Status{} : Status(r.error()); });
  ASSERT_TRUE(run_until([&] { return inj.has_value(); }));
  ASSERT_FALSE(inj->ok());
  EXPECT_EQ(inj->error().code, Errc::injection);
  EXPECT_EQ(::kill(tor.pid(), 0), 0) << "tor must still be running";
}

TEST_P(ControllerTest, SetconfGetconfRoundTripWithConfChangedAndSignalEvents) {
  TorProcess tor;
  ASSERT_TRUE(tor.ok()) << tor.error();
  Controller c(*reactor_);
  ASSERT_TRUE(connect(c, tcp(tor)).ok());
  std::vector<std::string> conf_changed, signals;
  std::optional<Status> sub1, sub2;
  c.subscribe(
      "CONF_CHANGED", [&](const Reply& r) { conf_changed.emplace_back(r.raw); },
      [&](const Status& s) { sub1 = s; });
  c.subscribe_typed(
      "SIGNAL",
      [&](const Event& ev) {
        ASSERT_NE(ev.get<SignalEvent>(), nullptr);
        signals.emplace_back(ev.get<SignalEvent>()->signal);
        EXPECT_EQ(ev.get<SignalEvent>()->signal_enum, Signal::cleardnscache);
      },
      {}, [&](const Status& s) { sub2 = s; });
  ASSERT_TRUE(run_until([&] { return sub1 && sub2; }));
  EXPECT_TRUE(sub1->ok() && sub2->ok());
  EXPECT_EQ(c.subscribed_events(), (std::vector<std::string>{"CONF_CHANGED", "SIGNAL"}));

  std::optional<Status> set;
  const std::pair<std::string_view, std::optional<std::string_view>> changes[] = {
      {"ContactInfo", "torcon test <x@example.org>"}, {"MaxCircuitDirtiness", "123"}};
  c.setconf(changes, [&](const Status& s) { set = s; });
  std::optional<Expected<KeyValues>> got;
  c.getconf({"ContactInfo", "MaxCircuitDirtiness"},
            [&](const Expected<KeyValues>& kv) { got = kv; });
  ASSERT_TRUE(run_until([&] { return got.has_value() && !conf_changed.empty(); }));
  ASSERT_TRUE(set->ok()) << set->error().message;
  ASSERT_TRUE(got->ok());
  EXPECT_EQ(*(*got)->find("ContactInfo"), "torcon test <x@example.org>");
  EXPECT_EQ(*(*got)->find("MaxCircuitDirtiness"), "123");
  EXPECT_NE(conf_changed[0].find("MaxCircuitDirtiness=123"), std::string::npos) << conf_changed[0];

  std::optional<Status> sig;
  c.signal("CLEARDNSCACHE", [&](const Status& s) { sig = s; });
  ASSERT_TRUE(run_until([&] { return sig.has_value() && !signals.empty(); }));
  EXPECT_TRUE(sig->ok());
  EXPECT_EQ(signals[0], "CLEARDNSCACHE");

  std::optional<Status> bad;
  c.subscribe(
      "NO_SUCH_EVENT", [](const Reply&) {}, [&](const Status& s) { bad = s; });
  ASSERT_TRUE(run_until([&] { return bad.has_value(); }));
  ASSERT_FALSE(bad->ok());
  EXPECT_EQ(bad->error().status, 552);
  EXPECT_EQ(c.subscribed_events(), (std::vector<std::string>{"CONF_CHANGED", "SIGNAL"}));
}

TEST_P(ControllerTest, TorKilledWhileCommandsInFlight) {
  TorProcess tor;
  ASSERT_TRUE(tor.ok()) << tor.error();
  Controller c(*reactor_);
  ASSERT_TRUE(connect(c, tcp(tor)).ok());
  int disconnects = 0;
  c.on_disconnect([&](const Error&) { ++disconnects; });
  constexpr int kN = 2000;
  int done = 0, failed = 0;
  for (int i = 0; i < kN; ++i)
    c.getinfo({"config-text"}, [&](const Expected<KeyValues>& kv) {
      ++done;
      if (!kv) {
        ++failed;
        EXPECT_EQ(kv.error().code, Errc::disconnected) << kv.error().message;
      }
    });
  tor.kill_now(SIGKILL);
  ASSERT_TRUE(run_until([&] { return done == kN; }, 20s)) << done;
  EXPECT_GT(failed, 0);
  EXPECT_EQ(disconnects, 1);
  EXPECT_FALSE(c.ready());
  std::optional<Status> after;
  c.quit([&](const Status& s) { after = s; });
  ASSERT_TRUE(run_until([&] { return after.has_value(); }));
  EXPECT_EQ(after->error().code, Errc::disconnected);
}

Task coroutine_scenario(Controller& ctl, Endpoint where, std::string* version, bool* finished) {
  Status s = co_await ctl.co_connect(std::move(where));
  EXPECT_TRUE(s.ok());
  std::vector<std::string> keys;  // (a braced list in co_await trips GCC 12)
  keys.emplace_back("version");
  Expected<KeyValues> kv = co_await ctl.co_getinfo(std::move(keys));
  if (kv && kv->find("version")) *version = *kv->find("version");
  std::string bad_key = "GETINFO no-such-key";
  Expected<OwnedReply> r = co_await ctl.co_command(std::move(bad_key));
  EXPECT_FALSE(r.ok());
  *finished = true;
}

TEST_P(ControllerTest, CoroutineForm) {
  TorProcess tor;
  ASSERT_TRUE(tor.ok()) << tor.error();
  Controller c(*reactor_);
  std::string version;
  bool finished = false;
  coroutine_scenario(c, tcp(tor), &version, &finished);
  ASSERT_TRUE(run_until([&] { return finished; }));
  EXPECT_FALSE(version.empty());
  EXPECT_EQ(version, c.protocol_info().tor_version);
}

// ---- a fake control server, for what a real tor won't do -------------------

using testing::FakeTor;

// A 32-byte file in a fresh directory, removed with it: a cookie for a
// fake server to name.
class CookieFile {
 public:
  explicit CookieFile(char fill) {
    char dir[] = "/tmp/torcon-fake-XXXXXX";
    if (!::mkdtemp(dir)) return;
    dir_ = dir;
    path_ = dir_ + "/cookie";
    FILE* f = std::fopen(path_.c_str(), "wb");
    if (!f) return;
    std::fwrite(std::string(32, fill).data(), 1, 32, f);
    std::fclose(f);
  }
  ~CookieFile() {
    std::remove(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_, path_;
};

TEST_P(ControllerTest, ForgedSafecookieServerHashIsRefusedWithoutFallback) {
  const CookieFile file('k');
  ASSERT_FALSE(file.path().empty());
  const std::string& cookie = file.path();
  std::atomic<int> authenticates{0};
  {
    FakeTor fake([&](int fd) {
      FakeTor::read_line(fd);  // PROTOCOLINFO
      FakeTor::say(fd, "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE=\"" +
                           cookie + "\"\r\n250-VERSION Tor=\"0.4.9.11\"\r\n250 OK\r\n");
      FakeTor::read_line(fd);  // AUTHCHALLENGE
      FakeTor::say(fd, "250 AUTHCHALLENGE SERVERHASH=" + std::string(64, 'A') +
                           " SERVERNONCE=" + std::string(64, 'B') + "\r\n");
      // Anything further would be the controller leaking the cookie.
      for (std::string l; !(l = FakeTor::read_line(fd)).empty();)
        if (l.rfind("AUTHENTICATE", 0) == 0) ++authenticates;
    });
    Controller c(*reactor_);
    Status s = connect(c, fake.endpoint());
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, Errc::auth);
    EXPECT_NE(s.error().message.find("server hash"), std::string::npos) << s.error().message;
  }
  EXPECT_EQ(authenticates.load(), 0);
}

// A process listening on the control port in tor's place offers plain
// COOKIE only and names a file of 32 bytes: automatic authentication sends
// nothing of it (a real tor always offers SAFECOOKIE too).
TEST_P(ControllerTest, FakeServerOfferingOnlyCookieGetsNoFile) {
  const CookieFile file('s');  // any 32-byte file the fake names
  ASSERT_FALSE(file.path().empty());
  const std::string& secret = file.path();
  std::atomic<int> lines_after{0};
  {
    FakeTor fake([&](int fd) {
      FakeTor::read_line(fd);  // PROTOCOLINFO
      FakeTor::say(fd, "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE COOKIEFILE=\"" + secret +
                           "\"\r\n250-VERSION Tor=\"0.4.9.11\"\r\n250 OK\r\n");
      while (!FakeTor::read_line(fd).empty()) ++lines_after;
    });
    Controller c(*reactor_);
    Status s = connect(c, fake.endpoint());
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, Errc::auth);
    EXPECT_NE(s.error().message.find("COOKIE without SAFECOOKIE"), std::string::npos)
        << s.error().message;
  }
  EXPECT_EQ(lines_after.load(), 0) << "something was sent after PROTOCOLINFO";
}

// Authenticates with NULL and then runs `after` on the fake server.
std::function<void(int)> null_auth_then(std::function<void(int)> after) {
  return [after = std::move(after)](int fd) {
    FakeTor::read_line(fd);
    FakeTor::say(fd, "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250 OK\r\n");
    FakeTor::read_line(fd);
    FakeTor::say(fd, "250 OK\r\n");
    after(fd);
  };
}

TEST_P(ControllerTest, FakeServerDripsOneByteAtATime) {
  FakeTor fake([](int fd) {
    FakeTor::read_line(fd);
    FakeTor::drip(fd, "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250 OK\r\n");
    FakeTor::read_line(fd);
    FakeTor::drip(fd, "250 OK\r\n");
    FakeTor::read_line(fd);
    FakeTor::drip(fd, "250+config-text=\r\n..dotted\r\nplain\r\n.\r\n250 OK\r\n");
    FakeTor::read_line(fd);
  });
  Controller c(*reactor_);
  ASSERT_TRUE(connect(c, fake.endpoint()).ok());
  std::optional<Expected<KeyValues>> got;
  c.getinfo({"config-text"}, [&](const Expected<KeyValues>& kv) { got = kv; });
  ASSERT_TRUE(run_until([&] { return got.has_value(); }));
  ASSERT_TRUE(got->ok()) << got->error().message;
  EXPECT_EQ(*(*got)->find("config-text"), ".dotted\nplain");
}

struct BadReplyCase {
  const char* name;
  const char* bytes;
  Errc code;
  const char* says;
};

TEST_P(ControllerTest, FakeServerMisbehavesAndEveryPendingCommandFails) {
  const BadReplyCase cases[] = {
      {"garbage", "HTTP/1.0 200 OK\r\n", Errc::bad_status_code, "three digits"},
      {"oversize", nullptr, Errc::line_too_long, "max_line"},
      {"mid data block", "250+config-text=\r\nline one\r\n", Errc::disconnected, "data block"},
      {"mid reply", "250-version=1\r\n", Errc::disconnected, "middle of a reply"},
  };
  for (const BadReplyCase& bc : cases) {
    SCOPED_TRACE(bc.name);
    const std::string bytes = bc.bytes ? bc.bytes : "250-" + std::string(5000, 'x') + "\r\n";
    FakeTor fake(null_auth_then([bytes](int fd) {
      FakeTor::read_line(fd);
      FakeTor::say(fd, bytes);  // then close (mid-reply for the truncated cases)
    }));
    ControllerOptions o;
    o.parser.max_line = 1024;
    Controller c(*reactor_, o);
    ASSERT_TRUE(connect(c, fake.endpoint()).ok());
    std::vector<Error> errors;
    for (int i = 0; i < 3; ++i)
      c.getinfo({"config-text"}, [&](const Expected<KeyValues>& kv) {
        errors.push_back(kv ? Error{} : kv.error());
      });
    ASSERT_TRUE(run_until([&] { return errors.size() == 3; }));
    for (const Error& e : errors) {
      EXPECT_EQ(e.code, bc.code) << e.message;
      EXPECT_NE(e.message.find(bc.says), std::string::npos) << e.message;
    }
  }
}

TEST_P(ControllerTest, CommandsBeforeConnectWaitForAuthentication) {
  TorProcess tor;
  ASSERT_TRUE(tor.ok()) << tor.error();
  Controller c(*reactor_);
  std::optional<Expected<KeyValues>> got;
  c.getinfo({"version"}, [&](const Expected<KeyValues>& kv) { got = kv; });
  ASSERT_TRUE(connect(c, tcp(tor)).ok());
  ASSERT_TRUE(run_until([&] { return got.has_value(); }));
  EXPECT_TRUE(got->ok());
}

TEST_P(ControllerTest, SilentServerTimesOutTheHandshake) {
  FakeTor fake([](int fd) { FakeTor::read_line(fd), FakeTor::read_line(fd); });
  ControllerOptions o;
  o.connect.timeout = 300ms;
  Controller c(*reactor_, o);
  const auto t0 = std::chrono::steady_clock::now();
  Status s = connect(c, fake.endpoint());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::timeout) << s.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST_P(ControllerTest, MultiLineErrorKeepsEveryLineAndRefusedEventIsNotResent) {
  std::atomic<int> setevents{0};
  FakeTor fake(null_auth_then([&](int fd) {
    FakeTor::read_line(fd);  // GETINFO
    FakeTor::say(fd, "552-first line\r\n552 second line\r\n");
    for (std::string l; !(l = FakeTor::read_line(fd)).empty();) {
      if (l.rfind("SETEVENTS", 0) != 0) continue;
      ++setevents;
      FakeTor::say(fd, l.find("FOO") != std::string::npos ? "552 Unrecognized event \"FOO\"\r\n"
                                                          : "250 OK\r\n");
    }
  }));
  Controller c(*reactor_);
  ASSERT_TRUE(connect(c, fake.endpoint()).ok());
  std::optional<Expected<KeyValues>> got;
  c.getinfo({"x"}, [&](const Expected<KeyValues>& kv) { got = kv; });
  ASSERT_TRUE(run_until([&] { return got.has_value(); }));
  ASSERT_FALSE(got->ok());
  EXPECT_EQ(got->error().message, "first line\nsecond line");
  std::optional<Status> bw, foo;
  c.subscribe(
      "BW", [](const Reply&) {}, [&](const Status& s) { bw = s; });
  c.subscribe(
      "FOO", [](const Reply&) {}, [&](const Status& s) { foo = s; });
  ASSERT_TRUE(run_until([&] { return bw && foo; }));
  // "SETEVENTS BW" then "SETEVENTS BW FOO" (refused): tor keeps BW, so
  // nothing more needs sending.
  run_until([] { return false; }, 200ms);
  EXPECT_TRUE(bw->ok());
  EXPECT_FALSE(foo->ok());
  EXPECT_EQ(c.subscribed_events(), std::vector<std::string>{"BW"});
  EXPECT_EQ(setevents.load(), 2);
}

INSTANTIATE_TEST_SUITE_P(Backends, ControllerTest, testing::kBothBackends, testing::backend_name);

}  // namespace
}  // namespace torcon
