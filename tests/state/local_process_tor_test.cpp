// process_of_stream() against a real tor: curl connects through the
// SocksPort, on 127.0.0.1 and on ::1, and the stream tor reports is traced
// back to curl's pid and executable while curl waits for its circuit.
//
// DisableNetwork 1 would close the SocksPort too, so the network is on but
// tor's only directory authority is a closed port on 127.0.0.1 (and no
// fallback directories): tor never gets a consensus nor leaves loopback,
// and streams wait in NEW, each reported with its SOURCE_ADDR.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "child_process.hpp"
#include "parser/test_printers.hpp"
#include "support/run_loop.hpp"
#include "support/tor_process.hpp"
#include "torcon/controller.hpp"
#include "torcon/local_process.hpp"
#include "torcon/reactor.hpp"
#include "torcon/stream.hpp"
#include "torcon/tor_state.hpp"

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kCurl = "/usr/bin/curl";

struct Seen {
  std::string source;  // SOURCE_ADDR as the stream has it
  torcon::Expected<torcon::LocalProcess> owner{torcon::Error()};
};

class LocalProcessTor : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    torcon::testing::TorOptions o;
    o.extra = {
        "DirAuthority unreachable orport=1 no-v2 "
        "v3ident=0000000000000000000000000000000000000000 127.0.0.1:2 "
        "1111111111111111111111111111111111111111",
        "UseDefaultFallbackDirs 0", "ClientUseIPv6 0"};
    tor_ = new torcon::testing::TorProcess(o);
    if (!tor_->ok()) return;
    auto r = torcon::Reactor::create();
    if (!r) return;
    reactor_ = (*r).release();
    ctl_ = new torcon::Controller(*reactor_);
    std::optional<torcon::Status> connected;
    ctl_->connect(torcon::Endpoint::tcp("127.0.0.1", std::uint16_t(tor_->control_port())),
                  [&](const torcon::Status& s) { connected = s; });
    if (!torcon::testing::run_until(
            *reactor_, [&] { return connected.has_value(); }, 15s) ||
        !*connected)
      return;
    std::optional<bool> set;
    ctl_->command("SETCONF SocksPort=127.0.0.1:auto SocksPort=[::1]:auto DisableNetwork=0",
                  [&](const torcon::Expected<torcon::Reply>& r) { set = r.ok(); });
    torcon::testing::run_until(
        *reactor_, [&] { return set.has_value(); }, 15s);
    if (!set || !*set) return;
    std::optional<std::string> listeners;
    ctl_->getinfo({"net/listeners/socks"}, [&](const torcon::Expected<torcon::KeyValues>& kv) {
      const std::string* v = kv ? kv->find("net/listeners/socks") : nullptr;
      listeners = v ? *v : "";
      setup_error_ = "net/listeners/socks: " + (kv ? *listeners : kv.error().message);
    });
    torcon::testing::run_until(
        *reactor_, [&] { return listeners.has_value(); }, 15s);
    if (!listeners) return;
    // "127.0.0.1:40123" "[::1]:40124", quoted.
    for (std::size_t q = listeners->find('"'); q != std::string::npos;) {
      const std::size_t e = listeners->find('"', q + 1);
      if (e == std::string::npos) break;
      const std::string l = listeners->substr(q + 1, e - q - 1);
      (l.front() == '[' ? socks6_ : socks4_) = l;
      q = listeners->find('"', e + 1);
    }
    state_ = new torcon::TorState();
    std::optional<torcon::Status> attached;
    state_->attach(*ctl_, [&](const torcon::Status& s) { attached = s; });
    torcon::testing::run_until(
        *reactor_, [&] { return attached.has_value(); }, 15s);
    if (!attached || !*attached) return;
    // The owner is looked up the moment tor reports the stream, while the
    // client still waits for it.
    state_->on_stream([](const torcon::Stream& s, torcon::StreamChanges what) {
      if (!(what & torcon::stream_created) || s.is_internal()) return;
      torcon::LocalProcessOptions o;
      o.tor_pid = state_->tor_pid();
      seen_.push_back(Seen{std::string(s.source_address()) + ":" + std::to_string(s.source_port()),
                           torcon::process_of_stream(s, o)});
    });
    ready_ = true;
  }
  static void TearDownTestSuite() {
    delete state_;
    delete ctl_;
    delete reactor_;
    delete tor_;
  }
  void SetUp() override {
    ASSERT_TRUE(tor_->ok()) << tor_->error();
    ASSERT_TRUE(ready_) << "control connection, SocksPort or TorState setup failed: "
                        << setup_error_;
    if (!fs::exists(kCurl)) GTEST_SKIP() << kCurl << " is not installed";
    seen_.clear();
  }

  // Starts curl through `proxy`, waits for tor's stream from it; returns
  // curl's pid and the lookup made for that stream.
  void curl_through(const std::string& proxy) {
    torcon::SpawnOptions o;
    o.argv = {kCurl,
              "-s",
              "--max-time",
              "60",
              "-x",
              "socks5h://" + proxy,
              "http://192.0.2.1/torcon-local-process-test"};
    auto child = torcon::ChildProcess::spawn(std::move(o));
    ASSERT_TRUE(child) << child.error().message;
    ASSERT_TRUE(torcon::testing::run_until(
        *reactor_, [&] { return !seen_.empty(); }, 20s))
        << "tor reported no stream from curl";
    const Seen& s = seen_.front();
    ASSERT_TRUE(s.owner) << s.source << ": " << s.owner.error().message;
    EXPECT_EQ(s.owner->pid, std::uint64_t((*child)->pid())) << s.source;
    EXPECT_EQ(s.owner->executable, kCurl);
    ASSERT_FALSE(s.owner->command_line.empty());
    EXPECT_EQ(s.owner->command_line.back(), "http://192.0.2.1/torcon-local-process-test");
    // And the same answer from the address text alone.
    const auto again = torcon::process_from_address(s.source);
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(again->pid, s.owner->pid);
    (*child)->terminate_and_wait(1000ms);
  }

  static inline torcon::testing::TorProcess* tor_ = nullptr;
  static inline torcon::Reactor* reactor_ = nullptr;
  static inline torcon::Controller* ctl_ = nullptr;
  static inline torcon::TorState* state_ = nullptr;
  static inline std::string socks4_, socks6_;
  static inline std::vector<Seen> seen_;
  static inline bool ready_ = false;
  static inline std::string setup_error_;
};

TEST_F(LocalProcessTor, FindsCurlBehindAnIPv4SocksPortStream) {
  ASSERT_FALSE(socks4_.empty());
  curl_through(socks4_);
  if (HasFatalFailure()) return;
  EXPECT_EQ(seen_.front().source.rfind("127.0.0.1:", 0), 0u) << seen_.front().source;
}

TEST_F(LocalProcessTor, FindsCurlBehindAnIPv6SocksPortStream) {
  ASSERT_FALSE(socks6_.empty()) << "tor did not open a SocksPort on ::1: " << setup_error_;
  curl_through(socks6_);
  if (HasFatalFailure()) return;
  EXPECT_EQ(seen_.front().source.rfind("::1:", 0), 0u) << seen_.front().source;
}

TEST_F(LocalProcessTor, TorInternalIsTorItself) {
  torcon::LocalProcessOptions o;
  o.tor_pid = state_->tor_pid();
  ASSERT_TRUE(o.tor_pid) << "TorState did not learn process/pid";
  EXPECT_EQ(*o.tor_pid, std::uint64_t(tor_->pid()));
  const auto p = torcon::process_from_address("(Tor_internal)", o);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->pid, std::uint64_t(tor_->pid()));
  ASSERT_FALSE(p->command_line.empty());
  EXPECT_NE(p->command_line[0].find("tor"), std::string::npos);
}

}  // namespace
