// OnionServiceKeeper against real standalone tors (DisableNetwork 1: the
// services are not published, but tor runs them and lists them in
// onions/current), both reactor backends: tor is SIGKILLed and restarted on
// the same control port with a new DataDirectory; the kept service must be
// listed again at the same address, and a DiscardPK one reported lost.

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/reactor_backend.hpp"
#include "support/tor_process.hpp"
#include "torcon/controller.hpp"
#include "torcon/onion_service.hpp"
#include "torcon/onion_service_keeper.hpp"

namespace torcon {
namespace {

using namespace std::chrono_literals;
using testing::TorOptions;
using testing::TorProcess;

class OnionKeeperTorTest : public testing::BackendTest {
 protected:
  Expected<OnionServiceInfo> add(OnionServiceKeeper& keeper, OnionServiceSpec spec) {
    std::optional<Expected<OnionServiceInfo>> r;
    keeper.add(spec, [&](const Expected<OnionServiceInfo>& v) { r = v; });
    EXPECT_TRUE(run_until([&] { return r.has_value(); }));
    return r.value_or(Error(Errc::timeout, "no answer"));
  }
  std::vector<std::string> current(Controller& c) {
    std::optional<Expected<OnionServiceList>> l;
    list_onion_services(c, [&](const Expected<OnionServiceList>& v) { l = v; });
    EXPECT_TRUE(run_until([&] { return l.has_value(); }));
    if (!l || !*l) {
      ADD_FAILURE() << "onions/current: " << (l ? l->error().message : "no answer");
      return {};
    }
    std::vector<std::string> ids = (*l)->current;
    std::sort(ids.begin(), ids.end());
    return ids;
  }
};

OnionServiceSpec spec_for(std::uint32_t port, bool discard) {
  OnionServiceSpec s;
  s.ports = {{port, "127.0.0.1:1"}};
  s.discard_key = discard;
  return s;
}

TEST_P(OnionKeeperTorTest, KeptServiceComesBackAtItsAddressAndADiscardedKeyIsReportedLost) {
  auto tor = std::make_unique<TorProcess>();
  ASSERT_TRUE(tor->ok()) << tor->error();
  const int port = tor->control_port();
  ControllerOptions o;
  o.reconnect.enabled = true;
  o.reconnect.initial_delay = 100ms;
  o.reconnect.max_delay = 1s;
  o.reconnect.jitter = 0;
  o.connect.timeout = 2s;
  Controller c(*reactor_, o);
  std::optional<Status> connected;
  c.connect(Endpoint::tcp("127.0.0.1", static_cast<std::uint16_t>(port)),
            [&](const Status& s) { connected = s; });
  ASSERT_TRUE(run_until([&] { return connected.has_value(); }));
  ASSERT_TRUE(connected->ok()) << connected->error().message;

  OnionServiceKeeper keeper(c);
  std::vector<std::pair<std::string, Status>> restored;
  keeper.on_restore([&](std::string_view a, const Status& s) { restored.emplace_back(a, s); });
  const Expected<OnionServiceInfo> kept = add(keeper, spec_for(80, false));
  ASSERT_TRUE(kept) << kept.error().message;
  ASSERT_FALSE(kept->private_key.empty());
  const Expected<OnionServiceInfo> discarded = add(keeper, spec_for(81, true));
  ASSERT_TRUE(discarded) << discarded.error().message;
  EXPECT_TRUE(discarded->private_key.empty());
  std::vector<std::string> both = {kept->service_id, discarded->service_id};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(current(c), both);
  EXPECT_EQ(keeper.addresses(), (std::vector<std::string>{kept->address, discarded->address}));

  tor->kill_now(SIGKILL);
  ASSERT_TRUE(run_until([&] { return c.reconnecting(); }));
  tor.reset();
  TorOptions again;
  again.control_port = port;
  TorProcess restarted(again);  // a new DataDirectory: nothing of the old tor
  ASSERT_TRUE(restarted.ok()) << restarted.error();
  ASSERT_TRUE(run_until([&] { return restored.size() == 2; }, 20s));

  // The lost one is told at once (no key to ask tor with), the kept one
  // when tor has it again.
  EXPECT_EQ(restored[0].first, discarded->address);
  ASSERT_FALSE(restored[0].second.ok());
  EXPECT_EQ(restored[0].second.error().code, Errc::disconnected);
  EXPECT_EQ(restored[1].first, kept->address);
  EXPECT_TRUE(restored[1].second.ok()) << restored[1].second.error().message;
  EXPECT_EQ(current(c), std::vector<std::string>{kept->service_id});
  EXPECT_EQ(keeper.addresses(), std::vector<std::string>{kept->address});

  // remove(): forgotten and gone from tor; an unknown address sends nothing.
  std::optional<Status> removed, unknown;
  keeper.remove(kept->address, [&](const Status& s) { removed = s; });
  keeper.remove(discarded->address, [&](const Status& s) { unknown = s; });
  ASSERT_TRUE(run_until([&] { return removed && unknown; }));
  EXPECT_TRUE(removed->ok()) << removed->error().message;
  ASSERT_FALSE(unknown->ok());
  EXPECT_EQ(unknown->error().code, Errc::bad_argument);
  EXPECT_TRUE(current(c).empty());
  EXPECT_TRUE(keeper.addresses().empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, OnionKeeperTorTest, testing::kBothBackends,
                         testing::backend_name);

}  // namespace
}  // namespace torcon
