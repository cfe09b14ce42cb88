// OnionDescriptorFetch when the connection ends after tor accepted HSFETCH:
// the fetch's HS_DESC events can no longer come (a reconnection does not
// fetch again), so it ends at once with Errc::disconnected, not by its
// timeout; exactly once.

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "support/fake_tor.hpp"
#include "support/run_loop.hpp"
#include "torcon/controller.hpp"
#include "torcon/onion_service.hpp"

namespace torcon {
namespace {

using namespace std::chrono_literals;
using testing::FakeTor;

TEST(OnionDescriptorFetch, EndsAtOnceWhenTheConnectionEnds) {
  const std::string address = "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid";
  for (bool reconnect : {false, true}) {
    SCOPED_TRACE(reconnect ? "with a reconnect policy" : "without");
    FakeTor fake([](int fd) {
      FakeTor::null_auth(fd);
      // SETEVENTS (one per subscription, or one for both), then HSFETCH:
      // accepted, and then tor goes away.
      for (std::string l; !(l = FakeTor::read_line(fd)).empty();) {
        FakeTor::say(fd, "250 OK\r\n");
        if (l.starts_with("HSFETCH")) break;
      }
    });
    auto reactor = Reactor::create();
    ASSERT_TRUE(reactor) << reactor.error().message;
    ControllerOptions o;
    o.reconnect.enabled = reconnect;
    Controller ctl(**reactor, o);
    std::optional<Status> connected;
    ctl.connect(fake.endpoint(), [&](const Status& s) { connected = s; });
    ASSERT_TRUE(testing::run_until(
        **reactor, [&] { return connected.has_value(); }, 5s));
    ASSERT_TRUE(*connected) << connected->error().message;
    int calls = 0;
    std::optional<Expected<OnionDescriptor>> got;
    OnionDescriptorFetch fetch(ctl, **reactor, address, {}, 60s,
                               [&](const Expected<OnionDescriptor>& r) {
                                 ++calls;
                                 got = r;
                               });
    ASSERT_TRUE(testing::run_until(
        **reactor, [&] { return got.has_value(); }, 5s))
        << "still waiting after the connection ended";
    ASSERT_FALSE(*got);
    EXPECT_EQ(got->error().code, Errc::disconnected) << got->error().message;
    testing::run_for(**reactor, 50ms);
    EXPECT_EQ(calls, 1);
    ctl.close();
  }
}

}  // namespace
}  // namespace torcon
