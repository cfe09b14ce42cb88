// TorState::load_descriptors() against a real tor on microdescriptors
// (Debian's tor, DisableNetwork 1: tor's default UseMicrodescriptors): tor
// has no server descriptors and the state says so, leaving exits_to() to
// the summaries, in the callback and the co_await form. (With descriptors:
// tor_state_testnet_test.)

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>

#include "support/tor_process.hpp"
#include "torcon/controller.hpp"
#include "torcon/reactor.hpp"
#include "torcon/tor_state.hpp"

namespace {

using namespace std::chrono_literals;

// A TorState attached to a standalone tor on microdescriptors.
class TorStateDescriptors : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(tor_.ok()) << tor_.error();
    auto r = torcon::Reactor::create();
    ASSERT_TRUE(r) << r.error().message;
    reactor_ = std::move(*r);
    ctl_ = std::make_unique<torcon::Controller>(*reactor_);
    std::optional<torcon::Status> connected, attached;
    ctl_->connect(torcon::Endpoint::tcp("127.0.0.1", std::uint16_t(tor_.control_port())),
                  [&](const torcon::Status& s) { connected = s; });
    ASSERT_TRUE(run_until([&] { return connected.has_value(); }));
    ASSERT_TRUE(*connected) << connected->error().message;
    state_.attach(*ctl_, [&](const torcon::Status& s) { attached = s; });
    ASSERT_TRUE(run_until([&] { return attached.has_value(); }));
    ASSERT_TRUE(*attached) << attached->error().message;
  }

  template <class Pred>
  bool run_until(Pred pred) {
    const auto end = std::chrono::steady_clock::now() + 15s;
    while (!pred() && std::chrono::steady_clock::now() < end) reactor_->run_once(20ms);
    return pred();
  }

  torcon::testing::TorProcess tor_;
  std::unique_ptr<torcon::Reactor> reactor_;
  std::unique_ptr<torcon::Controller> ctl_;
  torcon::TorState state_;
};

// tor's refusal: a client on microdescriptors has no server descriptors.
void expect_no_descriptors(const torcon::Status& loaded) {
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, torcon::Errc::tor_error);
  EXPECT_NE(loaded.error().message.find("microdescriptors"), std::string::npos)
      << loaded.error().message;
}

TEST_F(TorStateDescriptors, AClientOnMicrodescriptorsHasNoneAndTheStateSaysSo) {
  std::optional<torcon::Status> loaded;
  state_.load_descriptors([&](const torcon::Status& s) { loaded = s; });
  ASSERT_TRUE(run_until([&] { return loaded.has_value(); }));
  expect_no_descriptors(*loaded);
}

// The coroutine form resumes with the outcome the callback gets, on the loop.
torcon::Task load_in_coroutine(torcon::TorState& st, std::optional<torcon::Status>& loaded) {
  loaded = co_await st.co_load_descriptors();
}

TEST_F(TorStateDescriptors, TheCoroutineFormResumesWithTheSameOutcome) {
  {
    torcon::TorState never_attached;  // resumes at once, with bad_argument
    std::optional<torcon::Status> loaded;
    load_in_coroutine(never_attached, loaded);
    ASSERT_TRUE(loaded.has_value());
    EXPECT_EQ(loaded->error().code, torcon::Errc::bad_argument);
  }
  std::optional<torcon::Status> loaded;
  load_in_coroutine(state_, loaded);
  EXPECT_FALSE(loaded.has_value());  // suspended until tor answers
  ASSERT_TRUE(run_until([&] { return loaded.has_value(); }));
  expect_no_descriptors(*loaded);
}

}  // namespace
