// Per-call deadlines on every typed helper that sends a command (the
// Controller's, the onion-service ones, TorConfig's, coroutine forms): a
// fake tor that reads the helper's command and does not answer it. The
// helper must fail with Errc::timeout when its CommandOptions deadline
// passes (the Controller itself has no default deadline, so only the
// per-call one can fire), exactly once; and when tor's late replies come,
// a command issued after the helper still gets its own reply.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/fake_tor.hpp"
#include "support/run_loop.hpp"
#include "torcon/controller.hpp"
#include "torcon/onion_directory.hpp"
#include "torcon/onion_keys.hpp"
#include "torcon/onion_service.hpp"
#include "torcon/onion_service_keeper.hpp"
#include "torcon/tor_config.hpp"

namespace torcon {
namespace {

using namespace std::chrono_literals;
using testing::FakeTor;

constexpr std::chrono::milliseconds kDeadline{100};

// What a helper's test has at hand.
struct Rig {
  Controller& ctl;
  TorConfig& cfg;
  OnionServiceKeeper& keeper;
};
using Done = std::function<void(const Error&)>;

// Adapts a helper's callback to Done.
template <class R>
std::function<void(const R&)> outcome(Done done) {
  return [done = std::move(done)](const R& r) { done(r ? Error() : r.error()); };
}

// Runs a coroutine form and hands its outcome to Done.
template <class R>
Task await_outcome(Controller::Awaiter<R> awaiter, Done done) {
  R r = co_await awaiter;
  done(r ? Error() : r.error());
}

struct HelperCase {
  const char* name;
  const char* sends;  // how the helper's first command line starts
  std::function<void(Rig&, const CommandOptions&, Done)> start;
};
// gtest names the case by its name, not its function.
void PrintTo(const HelperCase& c, std::ostream* os) { *os << c.name; }

OnionServiceSpec spec_with_key() {
  OnionServiceSpec s;
  s.key = new_onion_key();
  s.ports = {{80, "127.0.0.1:8080"}};
  return s;
}
const std::string kAddress = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion";
const std::pair<std::string_view, std::optional<std::string_view>> kConf[] = {
    {"ContactInfo", "someone"}};
const std::pair<std::string_view, std::string_view> kMap[] = {{"1.2.3.4", "torproject.org"}};
// Never created: the helper's first command (reading HiddenServiceOptions)
// is the one left unanswered.
OnionDirectorySpec directory_spec() {
  OnionDirectorySpec s;
  s.directory = "/nonexistent/torcon-helper-deadline-hs";
  s.ports = {{80, "127.0.0.1:8080"}};
  return s;
}
const std::string kHop = "$" + std::string(40, 'A');
const std::string_view kHops[] = {kHop};

// One line per helper.
const HelperCase kCases[] = {
    {"getinfo", "GETINFO version",
     [](Rig& r, const CommandOptions& o, Done d) {
       r.ctl.getinfo({"version"}, outcome<Expected<KeyValues>>(d), o);
     }},
    {"getconf", "GETCONF SocksPort",
     [](Rig& r, const CommandOptions& o, Done d) {
       r.ctl.getconf({"SocksPort"}, outcome<Expected<KeyValues>>(d), o);
     }},
    {"setconf", "SETCONF ContactInfo",
     [](Rig& r, const CommandOptions& o, Done d) { r.ctl.setconf(kConf, outcome<Status>(d), o); }},
    {"resetconf", "RESETCONF ContactInfo",
     [](Rig& r, const CommandOptions& o, Done d) {
       r.ctl.resetconf(kConf, outcome<Status>(d), o);
     }},
    {"saveconf", "SAVECONF",
     [](Rig& r, const CommandOptions& o, Done d) { r.ctl.saveconf(false, outcome<Status>(d), o); }},
    {"loadconf", "+LOADCONF",
     [](Rig& r, const CommandOptions& o, Done d) {
       r.ctl.loadconf("SocksPort 0\n", outcome<Status>(d), o);
     }},
    {"signal", "SIGNAL NEWNYM",
     [](Rig& r, const CommandOptions& o, Done d) {
       r.ctl.signal("NEWNYM", outcome<Status>(d), o);
     }},
    {"mapaddress", "MAPADDRESS",
     [](Rig& r, const CommandOptions& o, Done d) {
       r.ctl.mapaddress(kMap, outcome<Expected<KeyValues>>(d), o);
     }},
    {"extendcircuit", "EXTENDCIRCUIT 0",
     [](Rig& r, const CommandOptions& o, Done d) {
       r.ctl.extendcircuit("0", kHops, "", outcome<Expected<std::string>>(d), o);
     }},
    {"setcircuitpurpose", "SETCIRCUITPURPOSE 7",
     [](Rig& r, const CommandOptions& o, Done d) {
       r.ctl.setcircuitpurpose("7", "controller", outcome<Status>(d), o);
     }},
    {"attachstream", "ATTACHSTREAM 5 7",
     [](Rig& r, const CommandOptions& o, Done d) {
       r.ctl.attachstream("5", "7", 0, outcome<Status>(d), o);
     }},
    {"redirectstream", "REDIRECTSTREAM 5",
     [](Rig& r, const CommandOptions& o, Done d) {
       r.ctl.redirectstream("5", "192.0.2.1", 80, outcome<Status>(d), o);
     }},
    {"closestream", "CLOSESTREAM 5",
     [](Rig& r, const CommandOptions& o, Done d) {
       r.ctl.closestream("5", 1, outcome<Status>(d), o);
     }},
    {"closecircuit", "CLOSECIRCUIT 7",
     [](Rig& r, const CommandOptions& o, Done d) {
       r.ctl.closecircuit("7", false, outcome<Status>(d), o);
     }},
    {"resolve", "RESOLVE",
     [](Rig& r, const CommandOptions& o, Done d) {
       r.ctl.resolve("example.com", false, outcome<Status>(d), o);
     }},
    {"takeownership", "TAKEOWNERSHIP",
     [](Rig& r, const CommandOptions& o, Done d) { r.ctl.takeownership(outcome<Status>(d), o); }},
    {"dropguards", "DROPGUARDS",
     [](Rig& r, const CommandOptions& o, Done d) { r.ctl.dropguards(outcome<Status>(d), o); }},
    {"add_onion", "ADD_ONION",
     [](Rig& r, const CommandOptions& o, Done d) {
       AddOnionRequest req;
       req.ports = {{80, ""}};
       r.ctl.add_onion(req, outcome<Expected<KeyValues>>(d), o);
     }},
    {"del_onion", "DEL_ONION",
     [](Rig& r, const CommandOptions& o, Done d) {
       r.ctl.del_onion(kAddress.substr(0, 56), outcome<Status>(d), o);
     }},
    {"quit", "QUIT",
     [](Rig& r, const CommandOptions& o, Done d) { r.ctl.quit(outcome<Status>(d), o); }},
    {"co_command", "GETINFO version",
     [](Rig& r, const CommandOptions& o, Done d) {
       await_outcome(r.ctl.co_command("GETINFO version", o), d);
     }},
    {"co_getinfo", "GETINFO version",
     [](Rig& r, const CommandOptions& o, Done d) {
       await_outcome(r.ctl.co_getinfo({"version"}, o), d);
     }},
    // Onion services.
    {"add_onion_service", "ADD_ONION",
     [](Rig& r, const CommandOptions& o, Done d) {
       add_onion_service(r.ctl, spec_with_key(), outcome<Expected<OnionServiceInfo>>(d), o);
     }},
    {"ensure_onion_service", "GETINFO onions/current",
     [](Rig& r, const CommandOptions& o, Done d) {
       ensure_onion_service(r.ctl, spec_with_key(), outcome<Expected<OnionServiceInfo>>(d), o);
     }},
    {"remove_onion_service", "DEL_ONION",
     [](Rig& r, const CommandOptions& o, Done d) {
       remove_onion_service(r.ctl, kAddress, outcome<Status>(d), o);
     }},
    {"list_onion_services", "GETINFO onions/current",
     [](Rig& r, const CommandOptions& o, Done d) {
       list_onion_services(r.ctl, outcome<Expected<OnionServiceList>>(d), o);
     }},
    {"onion_client_auth_add", "ONION_CLIENT_AUTH_ADD",
     [](Rig& r, const CommandOptions& o, Done d) {
       onion_client_auth_add(r.ctl, kAddress, new_client_auth_keys().private_base32, "", false,
                             outcome<Status>(d), o);
     }},
    {"onion_client_auth_remove", "ONION_CLIENT_AUTH_REMOVE",
     [](Rig& r, const CommandOptions& o, Done d) {
       onion_client_auth_remove(r.ctl, kAddress, outcome<Status>(d), o);
     }},
    {"onion_client_auth_view", "ONION_CLIENT_AUTH_VIEW",
     [](Rig& r, const CommandOptions& o, Done d) {
       onion_client_auth_view(r.ctl, kAddress, outcome<Expected<std::vector<OnionClientAuth>>>(d),
                              o);
     }},
    {"hspost", "+HSPOST",
     [](Rig& r, const CommandOptions& o, Done d) {
       hspost(r.ctl, "hs-descriptor 3\n", kAddress, {}, outcome<Status>(d), o);
     }},
    {"co_add_onion_service", "ADD_ONION",
     [](Rig& r, const CommandOptions& o, Done d) {
       await_outcome(co_add_onion_service(r.ctl, spec_with_key(), o), d);
     }},
    {"co_ensure_onion_service", "GETINFO onions/current",
     [](Rig& r, const CommandOptions& o, Done d) {
       await_outcome(co_ensure_onion_service(r.ctl, spec_with_key(), o), d);
     }},
    {"co_remove_onion_service", "DEL_ONION",
     [](Rig& r, const CommandOptions& o, Done d) {
       await_outcome(co_remove_onion_service(r.ctl, kAddress, o), d);
     }},
    {"co_onion_client_auth_add", "ONION_CLIENT_AUTH_ADD",
     [](Rig& r, const CommandOptions& o, Done d) {
       await_outcome(co_onion_client_auth_add(r.ctl, kAddress,
                                              new_client_auth_keys().private_base32, "", true, o),
                     d);
     }},
    {"co_onion_client_auth_remove", "ONION_CLIENT_AUTH_REMOVE",
     [](Rig& r, const CommandOptions& o, Done d) {
       await_outcome(co_onion_client_auth_remove(r.ctl, kAddress, o), d);
     }},
    {"OnionServiceKeeper::add", "ADD_ONION",
     [](Rig& r, const CommandOptions& o, Done d) {
       r.keeper.add(spec_with_key(), outcome<Expected<OnionServiceInfo>>(d), o);
     }},
    {"OnionServiceKeeper::co_add", "ADD_ONION",
     [](Rig& r, const CommandOptions& o, Done d) {
       await_outcome(r.keeper.co_add(spec_with_key(), o), d);
     }},
    {"add_onion_directory", "GETCONF HiddenServiceOptions",
     [](Rig& r, const CommandOptions& o, Done d) {
       OnionDirectoryOptions opts;
       opts.command = o;
       add_onion_directory(r.cfg, directory_spec(), opts, outcome<Expected<std::string>>(d));
     }},
    {"co_add_onion_directory", "GETCONF HiddenServiceOptions",
     [](Rig& r, const CommandOptions& o, Done d) {
       OnionDirectoryOptions opts;
       opts.command = o;
       await_outcome(co_add_onion_directory(r.cfg, directory_spec(), opts), d);
     }},
    {"remove_onion_directory", "GETCONF HiddenServiceOptions",
     [](Rig& r, const CommandOptions& o, Done d) {
       remove_onion_directory(r.cfg, directory_spec().directory, outcome<Status>(d), o);
     }},
    {"co_remove_onion_directory", "GETCONF HiddenServiceOptions",
     [](Rig& r, const CommandOptions& o, Done d) {
       await_outcome(co_remove_onion_directory(r.cfg, directory_spec().directory, o), d);
     }},
    // TorConfig.
    {"TorConfig::load", "GETINFO config/names",
     [](Rig& r, const CommandOptions& o, Done d) {
       ConfigOptions c;
       c.follow_changes = false;
       r.cfg.load(c, outcome<Status>(d), o);
     }},
    {"TorConfig::fetch", "GETCONF ContactInfo",
     [](Rig& r, const CommandOptions& o, Done d) {
       r.cfg.fetch({"ContactInfo"}, outcome<Status>(d), o);
     }},
    {"TorConfig::save", "SETCONF ContactInfo",
     [](Rig& r, const CommandOptions& o, Done d) {
       ASSERT_TRUE(r.cfg.set("ContactInfo", "someone"));
       r.cfg.save(outcome<Status>(d), o);
     }},
    {"TorConfig::reset", "RESETCONF ContactInfo",
     [](Rig& r, const CommandOptions& o, Done d) {
       r.cfg.reset({"ContactInfo"}, outcome<Status>(d), o);
     }},
    {"TorConfig::write_torrc", "SAVECONF",
     [](Rig& r, const CommandOptions& o, Done d) {
       r.cfg.write_torrc(false, outcome<Status>(d), o);
     }},
    {"TorConfig::co_load", "GETINFO config/names",
     [](Rig& r, const CommandOptions& o, Done d) {
       ConfigOptions c;
       c.follow_changes = false;
       await_outcome(r.cfg.co_load(c, o), d);
     }},
    {"TorConfig::co_fetch", "GETCONF ContactInfo",
     [](Rig& r, const CommandOptions& o, Done d) {
       await_outcome(r.cfg.co_fetch({"ContactInfo"}, o), d);
     }},
    {"TorConfig::co_save", "SETCONF ContactInfo",
     [](Rig& r, const CommandOptions& o, Done d) {
       ASSERT_TRUE(r.cfg.set("ContactInfo", "someone"));
       await_outcome(r.cfg.co_save(o), d);
     }},
    {"TorConfig::co_reset", "RESETCONF ContactInfo",
     [](Rig& r, const CommandOptions& o, Done d) {
       await_outcome(r.cfg.co_reset({"ContactInfo"}, o), d);
     }},
    {"TorConfig::co_write_torrc", "SAVECONF",
     [](Rig& r, const CommandOptions& o, Done d) {
       await_outcome(r.cfg.co_write_torrc(true, o), d);
     }},
};

class HelperDeadline : public ::testing::TestWithParam<HelperCase> {};

TEST_P(HelperDeadline, TimesOutAndKeepsTheFifoAligned) {
  const HelperCase& c = GetParam();
  std::mutex mu;
  std::string first_line;
  std::atomic<bool> release{false};
  // Reads every command up to "GETINFO next" (a data block counts as one),
  // answers none until released, then answers them all in order: "250 OK"
  // for the helper's (late), "next=2" for the last.
  FakeTor fake([&](int fd) {
    FakeTor::null_auth(fd);
    int commands = 0;
    for (std::string l; !(l = FakeTor::read_line(fd)).empty();) {
      if (l == "GETINFO next\r\n") break;
      if (commands++ == 0) {
        std::lock_guard<std::mutex> lock(mu);
        first_line = l;
      }
      if (l.starts_with("+"))
        while (!(l = FakeTor::read_line(fd)).empty() && l != ".\r\n") {
        }
    }
    for (int i = 0; i < 500 && !release; ++i) std::this_thread::sleep_for(10ms);
    std::string late;
    for (int i = 0; i < commands; ++i) late += "250 OK\r\n";
    FakeTor::say(fd, late + "250-next=2\r\n250 OK\r\n");
    while (!FakeTor::read_line(fd).empty()) {
    }
  });
  auto reactor = Reactor::create();
  ASSERT_TRUE(reactor) << reactor.error().message;
  Controller ctl(**reactor);  // no deadline of its own: only the per-call one can fire
  TorConfig cfg(ctl);
  OnionServiceKeeper keeper(ctl);
  std::optional<Status> connected;
  ctl.connect(fake.endpoint(), [&](const Status& s) { connected = s; });
  ASSERT_TRUE(testing::run_until(
      **reactor, [&] { return connected.has_value(); }, 5s));
  ASSERT_TRUE(*connected) << connected->error().message;

  Rig rig{ctl, cfg, keeper};
  int calls = 0;
  Error got;
  const auto t0 = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration took{};
  c.start(rig, CommandOptions{kDeadline}, [&](const Error& e) {
    if (calls++ == 0) took = std::chrono::steady_clock::now() - t0;
    got = e;
  });
  std::optional<std::string> next;
  ctl.getinfo({"next"}, [&](const Expected<KeyValues>& kv) {
    next = !kv ? "error " + kv.error().message : kv->find("next") ? *kv->find("next") : "?";
  });
  ASSERT_TRUE(testing::run_until(
      **reactor, [&] { return calls > 0; }, 5s))
      << "the helper never completed";
  EXPECT_EQ(got.code, Errc::timeout) << got.message;
  EXPECT_GE(took, kDeadline);
  EXPECT_LT(took, kDeadline + 1500ms) << "the deadline fired late";
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_TRUE(first_line.starts_with(c.sends)) << first_line;
  }
  release = true;
  ASSERT_TRUE(testing::run_until(
      **reactor, [&] { return next.has_value(); }, 5s));
  EXPECT_EQ(*next, "2") << "a late reply went to the next command";
  testing::run_for(**reactor, 20ms);
  EXPECT_EQ(calls, 1);
  ctl.close();
}

INSTANTIATE_TEST_SUITE_P(Helpers, HelperDeadline, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<HelperCase>& i) {
                           std::string n = i.param.name;
                           for (char& ch : n)
                             if (ch == ':') ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace torcon
