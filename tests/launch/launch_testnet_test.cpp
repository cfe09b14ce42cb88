// launch_tor() waiting for bootstrap 100%, which needs a Tor network: a
// private one on 127.0.0.1 (torcon::testnet), started once for this binary
// by TestnetEnvironment. The launched tor joins it as one more client through
// the network's client torrc lines (DirAuthority lines of its loopback
// authorities), so nothing leaves the machine. One test per reactor backend,
// both on the same network.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/reactor_backend.hpp"
#include "testnet/testnet_environment.hpp"
#include "torcon/launch.hpp"

namespace torcon {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using TorResult = Expected<std::unique_ptr<TorProcess>>;

[[maybe_unused]] ::testing::Environment* const kTestnet =
    ::testing::AddGlobalTestEnvironment(new testnet::testing::TestnetEnvironment);

// On each backend (support/reactor_backend.hpp: io_uring skips where refused).
class LaunchOnTestnet : public testing::BackendTest {
 protected:
  void TearDown() override {
    tor_.reset();  // stopped and reaped before its reactor goes
    BackendTest::TearDown();
  }

  Expected<KeyValues> ask(bool conf, std::initializer_list<std::string_view> keys) {
    std::optional<Expected<KeyValues>> out;
    auto done = [&](const Expected<KeyValues>& kv) { out.emplace(kv); };
    if (conf)
      tor_->controller().getconf(keys, done);
    else
      tor_->controller().getinfo(keys, done);
    if (!run_until([&] { return out.has_value(); }, 10s)) return Error(Errc::timeout, "no answer");
    return std::move(*out);
  }

  std::unique_ptr<TorProcess> tor_;
};

TEST_P(LaunchOnTestnet, BootstrapsTo100WithProgressInOrder) {
  TORCON_REQUIRE_TESTNET(net);
  std::vector<Bootstrap> seen;
  LaunchOptions o;
  o.torrc = {"%include " + net.client_torrc_include()};
  o.timeout = 90s;
  o.on_progress = [&](const Bootstrap& b) { seen.push_back(b); };
  std::optional<TorResult> result;
  const auto t0 = Clock::now();
  launch_tor(*reactor_, std::move(o), [&](TorResult r) { result.emplace(std::move(r)); });
  ASSERT_TRUE(run_until([&] { return result.has_value(); }, 120s)) << "launch_tor never completed";
  ASSERT_TRUE(*result) << result->error().message;
  tor_ = std::move(**result);
  const auto took = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  std::printf("launch to bootstrapped on the testnet: %.0f ms, %zu progress reports:", took,
              seen.size());
  for (const Bootstrap& b : seen) std::printf(" %d%%(%s)", b.percent, b.tag.c_str());
  std::printf("\n");
  RecordProperty("bootstrap_ms", std::to_string(static_cast<long long>(took)));

  // Completed only at 100%, and the state it hands over says so.
  EXPECT_EQ(tor_->bootstrap().percent, 100);
  EXPECT_EQ(tor_->bootstrap().tag, "done");
  EXPECT_EQ(tor_->bootstrap().summary, "Done");
  // Each report once, in order: from where GETINFO found it to 100%, through
  // the phases in between (a fresh client fetches the consensus and
  // descriptors before it builds circuits).
  ASSERT_GE(seen.size(), 3u);
  EXPECT_LT(seen.front().percent, 100);
  EXPECT_EQ(seen.back().percent, 100);
  EXPECT_EQ(seen.back().tag, "done");
  for (std::size_t i = 1; i < seen.size(); ++i) {
    EXPECT_GE(seen[i].percent, seen[i - 1].percent) << "report " << i << " went backwards";
    EXPECT_FALSE(seen[i].percent == seen[i - 1].percent && seen[i].tag == seen[i - 1].tag)
        << "report " << i << " repeats " << seen[i].percent << "% " << seen[i].tag;
  }

  // It bootstrapped on the private network, through the loopback authorities
  // only, and can build circuits there.
  auto auths = ask(true, {"DirAuthority"});
  ASSERT_TRUE(auths) << auths.error().message;
  std::size_t ours = 0;
  for (const auto& e : auths->entries) {
    EXPECT_NE(e.value.find(" 127.0.0.1:"), std::string::npos) << e.value;
    ++ours;
  }
  EXPECT_EQ(ours, net.with_role(testnet::Role::authority).size());
  auto circ = ask(false, {"status/circuit-established"});
  ASSERT_TRUE(circ) << circ.error().message;
  EXPECT_EQ(*circ->find("status/circuit-established"), "1");

  const pid_t pid = tor_->pid();
  bool stopped = false;
  tor_->stop([&] { stopped = true; });
  ASSERT_TRUE(run_until([&] { return stopped; }, 10s));
  EXPECT_NE(::kill(pid, 0), 0) << "tor still runs after stop()";
}

INSTANTIATE_TEST_SUITE_P(Backends, LaunchOnTestnet, testing::kBothBackends, testing::backend_name);

}  // namespace
}  // namespace torcon
