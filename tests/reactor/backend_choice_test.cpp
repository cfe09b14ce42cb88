// Which backend Reactor::create() picks, and that io_uring asked for by name
// is an error when the kernel refuses it instead of a quiet epoll.
//
// The refusals are real: a child process installs a seccomp filter that
// answers io_uring_setup with EPERM (as a container's filter does) or ENOSYS
// (as a kernel without io_uring does), then asks for a reactor.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "support/refuse_io_uring.hpp"
#include "torcon/reactor.hpp"

namespace torcon {
namespace {

// Sets TORCON_REACTOR (nullptr: unsets it) for one scope.
class ScopedReactorEnv {
 public:
  explicit ScopedReactorEnv(const char* value) {
    if (const char* old = std::getenv("TORCON_REACTOR")) saved_ = old;
    if (value) {
      ::setenv("TORCON_REACTOR", value, 1);
    } else {
      ::unsetenv("TORCON_REACTOR");
    }
  }
  ~ScopedReactorEnv() {
    if (saved_) {
      ::setenv("TORCON_REACTOR", saved_->c_str(), 1);
    } else {
      ::unsetenv("TORCON_REACTOR");
    }
  }
  ScopedReactorEnv(const ScopedReactorEnv&) = delete;
  ScopedReactorEnv& operator=(const ScopedReactorEnv&) = delete;

 private:
  std::optional<std::string> saved_;
};

ReactorOptions choose(ReactorOptions::Choice c) {
  ReactorOptions o;
  o.backend = c;
  return o;
}

TEST(ReactorBackend, EnvironmentPicksTheAutomaticBackend) {
  {
    ScopedReactorEnv env("epoll");
    auto epoll = Reactor::create();
    ASSERT_TRUE(epoll) << epoll.error().message;
    EXPECT_EQ((*epoll)->backend(), BackendKind::epoll);
    EXPECT_EQ((*epoll)->fallback_reason(), "");
  }
  for (const char* name : {"uring", "io_uring"}) {
    ScopedReactorEnv env(name);
    auto uring = Reactor::create();
    if (Status here = Reactor::uring_available(); here) {
      ASSERT_TRUE(uring) << uring.error().message;
      EXPECT_EQ((*uring)->backend(), BackendKind::uring) << name;
    } else {
      ASSERT_FALSE(uring) << name << ": ran " << to_string((*uring)->backend());
      EXPECT_NE(uring.error().message.find(here.error().message), std::string::npos)
          << uring.error().message;
    }
  }
  {
    // An explicit choice ignores the environment.
    ScopedReactorEnv env("uring");
    auto chosen = Reactor::create(choose(ReactorOptions::Choice::epoll));
    ASSERT_TRUE(chosen) << chosen.error().message;
    EXPECT_EQ((*chosen)->backend(), BackendKind::epoll);
  }
  {
    ScopedReactorEnv env("");  // empty: as if unset
    auto automatic = Reactor::create();
    ASSERT_TRUE(automatic) << automatic.error().message;
    EXPECT_EQ((*automatic)->backend(),
              Reactor::uring_available() ? BackendKind::uring : BackendKind::epoll);
  }
}

TEST(ReactorBackend, UnknownEnvironmentValueIsAnError) {
  for (const char* bad : {"kqueue", "URING", "epoll ", "uring,epoll"}) {
    ScopedReactorEnv env(bad);
    auto r = Reactor::create();
    ASSERT_FALSE(r) << "'" << bad << "' ran " << to_string((*r)->backend());
    EXPECT_EQ(r.error().code, Errc::io);
    EXPECT_NE(r.error().message.find(std::string("TORCON_REACTOR='") + bad + "'"),
              std::string::npos)
        << r.error().message;
  }
}

struct Refusal {
  int err;
  const char* strerror_text;  // what the message must quote
  const char* why;            // and one of the explanations it must give
  const char* why_else;
};

void PrintTo(const Refusal& r, std::ostream* os) { *os << r.strerror_text; }

// Runs in the death-test child (io_uring refused): collects what is wrong.
std::vector<std::string> check_refused(const Refusal& r) {
  std::vector<std::string> wrong;
  auto expect = [&](bool ok, const std::string& what) {
    if (!ok) wrong.push_back(what);
  };
  auto explains = [&](const std::string& m) {
    return m.find(r.strerror_text) != std::string::npos &&
           (m.find(r.why) != std::string::npos || m.find(r.why_else) != std::string::npos);
  };

  Status probe = Reactor::uring_available();
  expect(!probe, "uring_available() said yes");
  if (!probe) expect(explains(probe.error().message), "probe: " + probe.error().message);

  {
    ScopedReactorEnv env(nullptr);
    auto named = Reactor::create(choose(ReactorOptions::Choice::uring));
    if (named) {
      wrong.push_back(std::string("Choice::uring ran ") + to_string((*named)->backend()));
    } else {
      const std::string& m = named.error().message;
      expect(named.error().code == Errc::io, "Choice::uring: not Errc::io");
      expect(m.find("io_uring requested (ReactorOptions::backend) but unavailable") !=
                 std::string::npos,
             "Choice::uring: " + m);
      expect(explains(m), "Choice::uring: " + m);
    }

    // automatic still falls back, and says why.
    auto automatic = Reactor::create();
    if (!automatic) {
      wrong.push_back("automatic failed: " + automatic.error().message);
    } else {
      expect((*automatic)->backend() == BackendKind::epoll, "automatic did not pick epoll");
      expect(explains((*automatic)->fallback_reason()),
             "fallback_reason: " + (*automatic)->fallback_reason());
    }
    auto epoll = Reactor::create(choose(ReactorOptions::Choice::epoll));
    expect(epoll && (*epoll)->backend() == BackendKind::epoll, "Choice::epoll failed");
  }
  {
    ScopedReactorEnv env("uring");
    auto by_env = Reactor::create();
    if (by_env) {
      wrong.push_back(std::string("TORCON_REACTOR=uring ran ") + to_string((*by_env)->backend()));
    } else {
      const std::string& m = by_env.error().message;
      expect(
          m.find("io_uring requested (TORCON_REACTOR=uring) but unavailable") != std::string::npos,
          "TORCON_REACTOR=uring: " + m);
      expect(explains(m), "TORCON_REACTOR=uring: " + m);
    }
  }
  return wrong;
}

class RefusedUring : public ::testing::TestWithParam<Refusal> {};

TEST_P(RefusedUring, NamedUringFailsAutomaticFallsBack) {
  const Refusal r = GetParam();
  EXPECT_EXIT(
      {
        if (!testing::refuse_io_uring(r.err)) {
          std::fprintf(stderr, "cannot install the seccomp filter\n");
          std::_Exit(2);
        }
        std::vector<std::string> wrong = check_refused(r);
        for (const std::string& w : wrong) std::fprintf(stderr, "%s\n", w.c_str());
        std::_Exit(wrong.empty() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

INSTANTIATE_TEST_SUITE_P(
    Errnos, RefusedUring,
    ::testing::Values(
        // What a container's seccomp filter or kernel.io_uring_disabled give.
        Refusal{EPERM, "Operation not permitted", "seccomp", "io_uring_disabled"},
        // What a kernel without io_uring gives.
        Refusal{ENOSYS, "Function not implemented", "the kernel has no io_uring",
                "the kernel has no io_uring"}),
    [](const auto& info) { return info.param.err == EPERM ? "eperm" : "enosys"; });

}  // namespace
}  // namespace torcon
