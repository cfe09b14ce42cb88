// GoogleTest environment: one private Tor network on 127.0.0.1 per test
// binary (not per test), in a fresh temporary directory, on a port range
// derived from the pid and checked free. Register it once, in main() or at
// namespace scope of one test file:
//
//   static ::testing::Environment* const kTestnet =
//       ::testing::AddGlobalTestEnvironment(new torcon::testnet::testing::TestnetEnvironment);
//
// and use it from tests:
//
//   TEST(Onion, Publishes) {
//     TORCON_REQUIRE_TESTNET(net);              // const Network& net, or the test fails
//     const auto& client = net.client();        // control(), cookie_file, socks_port ...
//   }
//
// If tor or tor-gencert is not installed, or the binary runs as the io_uring
// entry (TORCON_REACTOR=uring) where io_uring is refused, every test is
// skipped (link torcon_child_process and build the binary with
// torcon_whole_binary_test, so that ctest then says Skipped, not Passed). Set
// TORCON_TESTNET_KEEP=1 to keep the directory (logs, torrcs) after the run;
// it is also kept when the network failed to start.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "child_process.hpp"
#include "support/reactor_backend.hpp"
#include "torcon/testnet.hpp"

namespace torcon::testnet::testing {

class TestnetEnvironment : public ::testing::Environment {
 public:
  explicit TestnetEnvironment(Options options = {}) : options_(std::move(options)) {
    instance_ = this;
  }
  ~TestnetEnvironment() override {
    if (instance_ == this) instance_ = nullptr;
  }

  // The registered environment, or nullptr.
  static TestnetEnvironment* instance() { return instance_; }

  // The running network; nullptr if it failed to start or was stopped.
  const Network* network() const { return running_ ? &*network_ : nullptr; }
  // Why network() is null.
  const std::string& error() const { return error_; }
  // True if the network was not started because this machine cannot run it
  // (tor missing, the requested reactor backend unavailable): tests skip.
  bool skipped() const { return skipped_; }
  const std::string& dir() const { return dir_; }

  // Stops the network now (for tests of stop itself); later tests then see
  // network() == nullptr. The report of the stop.
  Expected<StopReport> stop_now() {
    running_ = false;
    error_ = "the network was stopped by a test";
    if (dir_.empty()) return Error(Errc::io, "no network directory");
    return stop(dir_);
  }

  void SetUp() override {
    if (!find_executable("tor") || !find_executable("tor-gencert")) {
      error_ = "tor or tor-gencert not installed";
      skipped_ = true;
      GTEST_SKIP() << error_;
    }
    // The ctest entry for io_uring (TORCON_REACTOR=uring) where this process
    // cannot have it: the network's own reactor would refuse to start.
    error_ = torcon::testing::backend_unavailable(ReactorOptions::Choice::automatic);
    if (!error_.empty()) {
      skipped_ = true;
      GTEST_SKIP() << error_;
    }
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/torcon-testnet-XXXXXX";
    if (!::mkdtemp(templ.data())) {
      error_ = "mkdtemp failed";
      FAIL() << error_;
    }
    dir_ = templ;
    Options o = options_;
    o.dir = dir_;
    o.owner_pid = ::getpid();  // a crashed binary leaves no tor behind
    if (!o.log) {
      o.log = [](std::string_view line) {
        std::fprintf(stderr, "[testnet] %.*s\n", int(line.size()), line.data());
      };
    }
    // Below the kernel's ephemeral range (32768+), so outgoing connections
    // cannot take our ports between the check and tor's bind; spread by pid
    // so test binaries running side by side pick different ranges.
    const unsigned span = (port_count(o) + 31u) / 32u * 32u, slots = (32000 - 20000) / span;
    bool found = false;
    for (unsigned i = 0; i < 64 && !found; ++i) {
      o.base_port = std::uint16_t(20000 + ((unsigned(::getpid()) + i * 7) % slots) * span);
      found = bool(check_ports_free(o.base_port, port_count(o)));
    }
    if (!found) {
      error_ = "no free port range in 20000-32000";
      FAIL() << error_;
    }
    std::fprintf(stderr, "[testnet] starting in %s, ports %u-%u\n", dir_.c_str(),
                 unsigned(o.base_port), unsigned(o.base_port + port_count(o) - 1));
    Expected<Network> net = start(o);
    if (!net) {
      error_ = "testnet failed to start: " + net.error().message + " (logs in " + dir_ + ")";
      keep_ = true;
      FAIL() << error_;
    }
    network_.emplace(std::move(*net));
    running_ = true;
    std::fprintf(stderr, "[testnet] up in %lld ms\n",
                 static_cast<long long>(network_->ready_after.count()));
  }

  void TearDown() override {
    if (dir_.empty()) return;
    running_ = false;
    auto r = stop(dir_);
    if (!r) {
      keep_ = true;
      ADD_FAILURE() << "testnet stop: " << r.error().message;
    } else if (r->stopped + r->killed > 0) {
      std::fprintf(stderr, "[testnet] stopped %d tors in %lld ms\n", r->stopped + r->killed,
                   static_cast<long long>(r->took.count()));
    }
    const char* keep = std::getenv("TORCON_TESTNET_KEEP");
    if (keep_ || (keep && *keep && std::string(keep) != "0")) {
      std::fprintf(stderr, "[testnet] kept %s\n", dir_.c_str());
    } else {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
    dir_.clear();
  }

 private:
  inline static TestnetEnvironment* instance_ = nullptr;
  Options options_;
  std::string dir_, error_;
  std::optional<Network> network_;
  bool running_ = false;
  bool keep_ = false;
  bool skipped_ = false;
};

}  // namespace torcon::testnet::testing

// Declares `const torcon::testnet::Network& var` bound to the shared
// network, or fails the test (skips it when the environment skipped).
#define TORCON_REQUIRE_TESTNET(var)                                                         \
  auto* var##_env_ = ::torcon::testnet::testing::TestnetEnvironment::instance();            \
  ASSERT_NE(var##_env_, nullptr) << "TestnetEnvironment is not registered";                 \
  if (!var##_env_->network() && var##_env_->skipped()) GTEST_SKIP() << var##_env_->error(); \
  ASSERT_NE(var##_env_->network(), nullptr) << var##_env_->error();                         \
  const ::torcon::testnet::Network& var = *var##_env_->network()
