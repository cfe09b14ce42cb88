// TorState::load_descriptors() against a real tor on microdescriptors
// (Debian's tor, DisableNetwork 1: tor's default UseMicrodescriptors): tor
// has no server descriptors and the state says so, leaving exits_to() to
// the summaries, in the callback and the co_await form. (With descriptors:
// tor_state_testnet_test.)

#include <gtest/gtest.h>

#include <chrono>
#include <optional>

#include "support/tor_process.hpp"
#include "torcon/controller.hpp"
#include "torcon/reactor.hpp"
#include "torcon/tor_state.hpp"

namespace {

using namespace std::chrono_literals;

TEST(TorStateDescriptors, AClientOnMicrodescriptorsHasNoneAndTheStateSaysSo) {
  torcon::testing::TorProcess tor;
  ASSERT_TRUE(tor.ok()) << tor.error();
  auto reactor = torcon::Reactor::create();
  ASSERT_TRUE(reactor) << reactor.error().message;
  torcon::Controller ctl(**reactor);
  auto run_until = [&](auto pred) {
    const auto end = std::chrono::steady_clock::now() + 15s;
    while (!pred() && std::chrono::steady_clock::now() < end) (*reactor)->run_once(20ms);
    return pred();
  };
  std::optional<torcon::Status> connected, attached, loaded;
  ctl.connect(torcon::Endpoint::tcp("127.0.0.1", std::uint16_t(tor.control_port())),
              [&](const torcon::Status& s) { connected = s; });
  ASSERT_TRUE(run_until([&] { return connected.has_value(); }));
  ASSERT_TRUE(*connected) << connected->error().message;
  torcon::TorState st;
  st.attach(ctl, [&](const torcon::Status& s) { attached = s; });
  ASSERT_TRUE(run_until([&] { return attached.has_value(); }));
  ASSERT_TRUE(*attached) << attached->error().message;
  st.load_descriptors([&](const torcon::Status& s) { loaded = s; });
  ASSERT_TRUE(run_until([&] { return loaded.has_value(); }));
  ASSERT_FALSE(*loaded);
  EXPECT_EQ(loaded->error().code, torcon::Errc::tor_error);
  EXPECT_NE(loaded->error().message.find("microdescriptors"), std::string::npos)
      << loaded->error().message;
}

// The coroutine form resumes with the outcome the callback gets, on the loop.
torcon::Task load_in_coroutine(torcon::TorState& st, std::optional<torcon::Status>& loaded) {
  loaded = co_await st.co_load_descriptors();
}

TEST(TorStateDescriptors, TheCoroutineFormResumesWithTheSameOutcome) {
  {
    torcon::TorState never_attached;  // resumes at once, with bad_argument
    std::optional<torcon::Status> loaded;
    load_in_coroutine(never_attached, loaded);
    ASSERT_TRUE(loaded.has_value());
    EXPECT_EQ(loaded->error().code, torcon::Errc::bad_argument);
  }
  torcon::testing::TorProcess tor;
  ASSERT_TRUE(tor.ok()) << tor.error();
  auto reactor = torcon::Reactor::create();
  ASSERT_TRUE(reactor) << reactor.error().message;
  torcon::Controller ctl(**reactor);
  auto run_until = [&](auto pred) {
    const auto end = std::chrono::steady_clock::now() + 15s;
    while (!pred() && std::chrono::steady_clock::now() < end) (*reactor)->run_once(20ms);
    return pred();
  };
  std::optional<torcon::Status> connected, attached, loaded;
  ctl.connect(torcon::Endpoint::tcp("127.0.0.1", std::uint16_t(tor.control_port())),
              [&](const torcon::Status& s) { connected = s; });
  ASSERT_TRUE(run_until([&] { return connected.has_value(); }));
  ASSERT_TRUE(*connected) << connected->error().message;
  torcon::TorState st;
  st.attach(ctl, [&](const torcon::Status& s) { attached = s; });
  ASSERT_TRUE(run_until([&] { return attached.has_value(); }));
  ASSERT_TRUE(*attached) << attached->error().message;
  load_in_coroutine(st, loaded);
  EXPECT_FALSE(loaded.has_value());  // suspended until tor answers
  ASSERT_TRUE(run_until([&] { return loaded.has_value(); }));
  ASSERT_FALSE(*loaded);
  EXPECT_EQ(loaded->error().code, torcon::Errc::tor_error);
  EXPECT_NE(loaded->error().message.find("microdescriptors"), std::string::npos)
      << loaded->error().message;
}

}  // namespace
