// Tests named for a reactor backend (epoll, io_uring) run on exactly that
// backend, or skip with the reason where this process cannot have it (a
// kernel without io_uring, a container's seccomp filter, the sysctl
// kernel.io_uring_disabled): never fail, never quietly run epoll instead.
//
//   class MyTest : public torcon::testing::BackendTest {};
//   TEST_P(MyTest, X) { Controller c(*reactor_); ... run_until(...); }
//   INSTANTIATE_TEST_SUITE_P(Backends, MyTest, torcon::testing::kBothBackends,
//                            torcon::testing::backend_name);
//
// A fixture that overrides SetUp() calls BackendTest::SetUp() first and
// returns if IsSkipped() or HasFatalFailure().
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "support/run_loop.hpp"
#include "torcon/reactor.hpp"

namespace torcon::testing {

// Why `choice` cannot run in this process; empty if it can. `automatic`
// means what Reactor::create() makes of it: the backend TORCON_REACTOR names,
// if any (whole-binary tests get one ctest entry per backend that way).
inline std::string backend_unavailable(ReactorOptions::Choice choice) {
  if (choice == ReactorOptions::Choice::automatic) {
    const char* env = std::getenv("TORCON_REACTOR");
    const std::string_view want = env ? env : "";
    if (want != "uring" && want != "io_uring") return {};
  } else if (choice != ReactorOptions::Choice::uring) {
    return {};
  }
  const Status ok = Reactor::uring_available();
  return ok ? std::string() : "io_uring unavailable here: " + ok.error().message;
}

}  // namespace torcon::testing

// Skips the current test (or environment) when `choice` cannot run here.
#define TORCON_SKIP_UNLESS_BACKEND_AVAILABLE(choice)                                          \
  if (const std::string torcon_unavailable_ = ::torcon::testing::backend_unavailable(choice); \
      !torcon_unavailable_.empty())                                                           \
  GTEST_SKIP() << torcon_unavailable_

namespace torcon {
// gtest names a backend's cases by the backend, not its byte.
inline void PrintTo(ReactorOptions::Choice choice, std::ostream* os) {
  *os << (choice == ReactorOptions::Choice::uring   ? "uring"
          : choice == ReactorOptions::Choice::epoll ? "epoll"
                                                    : "automatic");
}
}  // namespace torcon

namespace torcon::testing {

inline const auto kBothBackends =
    ::testing::Values(ReactorOptions::Choice::epoll, ReactorOptions::Choice::uring);

// Test names end in /epoll or /uring, so a skip says which backend it was.
inline std::string backend_name(const ::testing::TestParamInfo<ReactorOptions::Choice>& info) {
  return info.param == ReactorOptions::Choice::uring ? "uring" : "epoll";
}

// A fixture parameterized by the backend: reactor_ runs on exactly it.
class BackendTest : public ::testing::TestWithParam<ReactorOptions::Choice> {
 public:
  void SetUp() override {
    TORCON_SKIP_UNLESS_BACKEND_AVAILABLE(GetParam());
    reactor_ = make_reactor();
    ASSERT_TRUE(reactor_);
  }
  void TearDown() override { reactor_.reset(); }

  // A reactor on the test's backend with `options` otherwise; nullptr, and
  // the test fails, if it cannot be made there.
  std::unique_ptr<Reactor> make_reactor(ReactorOptions options = {}) {
    options.backend = GetParam();
    auto created = Reactor::create(options);
    if (!created) {
      ADD_FAILURE() << created.error().message;
      return nullptr;
    }
    const BackendKind want =
        GetParam() == ReactorOptions::Choice::uring ? BackendKind::uring : BackendKind::epoll;
    if ((*created)->backend() != want) {
      ADD_FAILURE() << "named for " << to_string(want) << ", runs on "
                    << to_string((*created)->backend());
      return nullptr;
    }
    return std::move(*created);
  }

  // Runs the loop until pred() or the limit; false on timeout.
  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    return testing::run_until(*reactor_, pred, limit);
  }
  void run_for(std::chrono::milliseconds d) { testing::run_for(*reactor_, d); }

  std::unique_ptr<Reactor> reactor_;
};

}  // namespace torcon::testing
