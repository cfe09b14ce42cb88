// Onion services on the private network (torcon::testnet): tor agrees with
// our offline address arithmetic; an ephemeral service mapped to a local
// HTTP server is published (ready), reachable through the client's
// SocksPort with the server's content, and unreachable after DEL_ONION;
// client authorization keeps a client out until ONION_CLIENT_AUTH_ADD; the
// same key survives a tor restart and a leftover detached service without
// 550; HSFETCH returns the published descriptor; a directory service
// (HiddenServiceDir through TorConfig) is published and reachable the same
// way, and gone once removed. One network per binary;
// ctest runs it once per reactor backend.

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "onion/onion_fetch.hpp"
#include "support/loopback_http.hpp"
#include "testnet/controller_loop.hpp"
#include "testnet/testnet_environment.hpp"
#include "torcon/controller.hpp"
#include "torcon/events.hpp"
#include "torcon/launch.hpp"
#include "torcon/onion_directory.hpp"
#include "torcon/onion_keys.hpp"
#include "torcon/onion_service.hpp"
#include "torcon/reactor.hpp"
#include "torcon/tor_config.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using torcon::Controller;
using torcon::Errc;
using torcon::Expected;
using torcon::OnionServiceInfo;
using torcon::OnionServiceSpec;
using torcon::Status;
using torcon::testnet::Network;
using torcon::testnet::Node;

[[maybe_unused]] ::testing::Environment* const kTestnet =
    ::testing::AddGlobalTestEnvironment(new torcon::testnet::testing::TestnetEnvironment);

// The shared loop, plus synchronous forms of the onion-service calls.
class Loop : public torcon::testing::ControllerLoop {
 public:
  Expected<OnionServiceInfo> add(Controller& ctl, const OnionServiceSpec& spec,
                                 bool ensure = false) {
    std::optional<Expected<OnionServiceInfo>> r;
    auto cb = [&](const Expected<OnionServiceInfo>& x) { r.emplace(x); };
    if (ensure)
      torcon::ensure_onion_service(ctl, spec, cb);
    else
      torcon::add_onion_service(ctl, spec, cb);
    if (!pump_until(20s, [&] { return r.has_value(); }))
      return torcon::Error(Errc::timeout, "ADD_ONION timed out");
    return *r;
  }

  Status status(const std::function<void(torcon::StatusCallback)>& start) {
    std::optional<Status> r;
    start([&](const Status& s) { r = s; });
    if (!pump_until(20s, [&] { return r.has_value(); }))
      return torcon::Error(Errc::timeout, "timed out");
    return *r;
  }

  // Publishes `spec` with a readiness watch created first; returns the
  // service once its descriptor is on every HSDir tor uploaded it to. (At
  // the first HSDir, a fetch right after asks a random responsible HSDir and
  // may get 404, or an older descriptor of the same key whose introduction
  // points are gone.)
  Expected<OnionServiceInfo> publish(Controller& ctl, const OnionServiceSpec& spec,
                                     int* progress_calls = nullptr) {
    std::optional<Status> ready;
    torcon::OnionReadyOptions ro;
    ro.timeout = 240s;
    ro.all_hsdirs = true;
    ro.progress = [progress_calls](const torcon::OnionUploadProgress& p) {
      if (progress_calls) ++*progress_calls;
      std::fprintf(stderr, "[onion] uploads attempted %d, uploaded %d, failed %d\n", p.attempted,
                   p.uploaded, p.failed);
    };
    torcon::OnionReadyWatch watch(ctl, reactor(), ro, [&](const Status& s) { ready = s; });
    Expected<OnionServiceInfo> info = add(ctl, spec);
    if (!info) return info;
    watch.set_address(info->address);
    const auto t0 = Clock::now();
    if (!pump_until(250s, [&] { return ready.has_value(); }))
      return torcon::Error(Errc::timeout, "ready never completed (its timeout should have)");
    if (!*ready) return ready->error();
    std::fprintf(
        stderr, "[onion] %s ready after %lld ms\n", info->address.c_str(),
        static_cast<long long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()));
    return info;
  }

  // Fetches through the SOCKS port in a thread while this loop keeps running.
  std::string fetch(const Node& client, const std::string& host, std::uint16_t port,
                    std::chrono::milliseconds timeout) {
    auto f = std::async(std::launch::async, [&] {
      return torcon::test::socks_fetch_host(client.socks_port, host, port, timeout);
    });
    pump_until(timeout + 5s, [&] { return f.wait_for(0s) == std::future_status::ready; });
    return f.get();
  }

  // For a fetch that must succeed: up to `total`, in attempts of at most 40 s
  // with SIGNAL NEWNYM between them. Our network's HS time period is 24
  // voting rounds (4 minutes): near its end a client and a service may still
  // disagree on the period, and the client then finds no descriptor or an
  // older one of the same key and keeps that failure cached; NEWNYM clears
  // the client's onion-service state, as a user's retry would. Each failed
  // attempt is printed with the end of the client's log.
  std::string fetch_until_ok(const Node& client, const std::string& host, std::uint16_t port,
                             std::chrono::milliseconds total) {
    const auto deadline = Clock::now() + total;
    std::string got;
    for (int attempt = 1;; ++attempt) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      got = fetch(client, host, port, std::min<std::chrono::milliseconds>(left, 40s));
      if (!got.starts_with("error: ") || Clock::now() + 5s >= deadline) return got;
      std::fprintf(stderr, "[onion] fetch attempt %d of %s: %s; the client's log ends:\n%s",
                   attempt, host.c_str(), got.c_str(),
                   tail(client.data_dir + "/notice.log", 12).c_str());
      std::string err;
      auto ctl = connect(client, err);
      if (ctl) {
        bool answered = false;
        ctl->command("SIGNAL NEWNYM", [&](const Expected<torcon::Reply>&) { answered = true; });
        pump_until(5s, [&] { return answered; });
      }
      pump_until(2s, [] { return false; });
    }
  }

  static std::string tail(const std::string& path, std::size_t lines) {
    std::ifstream in(path);
    std::deque<std::string> last;
    for (std::string line; std::getline(in, line);) {
      last.push_back(line);
      if (last.size() > lines) last.pop_front();
    }
    std::string out;
    for (const auto& l : last) out += "  " + l + "\n";
    return out;
  }
};

OnionServiceSpec web_spec(std::uint16_t http_port) {
  OnionServiceSpec s;
  s.ports = {{80, "127.0.0.1:" + std::to_string(http_port)}};
  return s;
}

TEST(OnionTestnet, TorAgreesWithOfflineAddresses) {
  TORCON_REQUIRE_TESTNET(net);
  Loop loop;
  TORCON_SKIP_IF_NO_REACTOR(loop);
  std::string err;
  auto ctl = loop.connect(net.client(), err);
  ASSERT_EQ(err, "");
  // Our key, tor's address.
  OnionServiceSpec ours = web_spec(8080);
  ours.key = torcon::new_onion_key();
  auto a = loop.add(*ctl, ours);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->address, *torcon::onion_address_of_key(ours.key));
  EXPECT_EQ(a->private_key, "ED25519-V3:" + ours.key);
  // Tor's key, our address.
  auto b = loop.add(*ctl, web_spec(8080));
  ASSERT_TRUE(b) << b.error().message;
  ASSERT_TRUE(b->private_key.starts_with("ED25519-V3:")) << b->private_key;
  auto computed = torcon::onion_address_of_key(b->private_key);
  ASSERT_TRUE(computed) << computed.error().message;
  EXPECT_EQ(*computed, b->address);
  // DiscardPK: no key comes back.
  OnionServiceSpec discard = web_spec(8080);
  discard.discard_key = true;
  auto c = loop.add(*ctl, discard);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->private_key, "");
  // Stream limits and a Unix socket target are accepted; NonAnonymous is
  // tor's to refuse (this tor is not in single-hop mode), as tor's error.
  OnionServiceSpec limits = web_spec(8080);
  limits.max_streams = 3;
  limits.max_streams_close_circuit = true;
  limits.ports.push_back({81, "unix:" + net.dir + "/web.sock"});
  auto d = loop.add(*ctl, limits);
  ASSERT_TRUE(d) << d.error().message;
  OnionServiceSpec single_hop = web_spec(8080);
  single_hop.non_anonymous = true;
  auto e = loop.add(*ctl, single_hop);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, Errc::tor_error) << e.error().message;
  // The connection's services as tor lists them.
  std::optional<Expected<torcon::OnionServiceList>> list;
  torcon::list_onion_services(*ctl, [&](const auto& l) { list.emplace(l); });
  ASSERT_TRUE(loop.pump_until(10s, [&] { return list.has_value(); }));
  ASSERT_TRUE(*list);
  EXPECT_EQ((*list)->current.size(), 4u);
  EXPECT_TRUE((*list)->detached.empty());
}

TEST(OnionTestnet, BadInputIsRefusedBeforeSending) {
  TORCON_REQUIRE_TESTNET(net);
  Loop loop;
  TORCON_SKIP_IF_NO_REACTOR(loop);
  std::string err;
  auto ctl = loop.connect(net.client(), err);
  ASSERT_EQ(err, "");
  OnionServiceSpec bad = web_spec(8080);
  bad.ports.push_back({70000, ""});
  std::optional<Expected<OnionServiceInfo>> r;
  torcon::add_onion_service(*ctl, bad, [&](const auto& x) { r.emplace(x); });
  ASSERT_TRUE(r.has_value());  // refused at once
  EXPECT_EQ(r->error().code, Errc::bad_argument);
  EXPECT_EQ(ctl->pending(), 0u);
  std::optional<Status> s;
  torcon::hspost(*ctl, "hs-descriptor 3\n", "", {}, [&](const Status& x) { s = x; });
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->error().code, Errc::bad_argument);
  torcon::onion_client_auth_add(*ctl, "nothex.onion", torcon::new_client_auth_keys().private_base64,
                                "", false, [&](const Status& x) { s = x; });
  EXPECT_EQ(s->error().code, Errc::bad_argument);
  EXPECT_EQ(ctl->pending(), 0u);
  // The connection still works: nothing reached tor.
  EXPECT_TRUE(loop.status([&](auto cb) { ctl->signal("NEWNYM", cb); }));
}

TEST(OnionTestnet, PublishedReachableAndGoneAfterDelOnion) {
  TORCON_REQUIRE_TESTNET(net);
  Loop loop;
  TORCON_SKIP_IF_NO_REACTOR(loop);
  std::string err;
  auto service = loop.connect(net.client(), err);
  ASSERT_EQ(err, "");
  const std::string body = "onion-body-" + std::to_string(::getpid());
  torcon::test::LoopbackHttp http(body);
  ASSERT_NE(http.port(), 0);
  int progress_calls = 0;
  auto info = loop.publish(*service, web_spec(http.port()), &progress_calls);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_GT(progress_calls, 0);
  EXPECT_EQ(loop.fetch_until_ok(net.client(), info->address, 80, 150s), body);

  // HSFETCH from the same tor gets the descriptor that was published.
  std::optional<Expected<torcon::OnionDescriptor>> desc;
  {
    torcon::OnionDescriptorFetch fetch(*service, loop.reactor(), info->address, {}, 60s,
                                       [&](const auto& d) { desc.emplace(d); });
    ASSERT_TRUE(loop.pump_until(70s, [&] { return desc.has_value(); }));
  }
  ASSERT_TRUE(*desc) << desc->error().message;
  EXPECT_TRUE((*desc)->descriptor.starts_with("hs-descriptor 3\n"))
      << (*desc)->descriptor.substr(0, 80);
  EXPECT_EQ((*desc)->service_id + ".onion", info->address);
  EXPECT_FALSE((*desc)->hs_dir.empty());

  // HSPOST of that descriptor (many lines) back to that HSDir: tor queues it
  // (250), then says how the HSDir took it, for this address and HSDir.
  std::optional<std::string> post_outcome;
  auto sub = service->subscribe_typed("HS_DESC", [&](const torcon::Event& ev) {
    const torcon::HsDescEvent* e = ev.get<torcon::HsDescEvent>();
    if (!e || std::string(e->address) + ".onion" != info->address ||
        (e->action_enum != torcon::HsDescAction::uploaded &&
         e->action_enum != torcon::HsDescAction::failed) ||
        e->hs_dir.substr(0, 41) != std::string_view((*desc)->hs_dir).substr(0, 41))
      return;
    post_outcome = std::string(e->action) + " " + std::string(e->reason.text);
  });
  EXPECT_TRUE(loop.status([&](auto cb) {
    torcon::hspost(*service, (*desc)->descriptor, info->address, {(*desc)->hs_dir}, cb);
  }));
  EXPECT_TRUE(loop.pump_until(60s, [&] { return post_outcome.has_value(); }));
  std::fprintf(stderr, "[onion] HSPOST of a descriptor the HSDir has: %s\n",
               post_outcome.value_or("no outcome").c_str());
  service->unsubscribe(sub);

  ASSERT_TRUE(
      loop.status([&](auto cb) { torcon::remove_onion_service(*service, info->address, cb); }));
  const std::string after = loop.fetch(net.client(), info->address, 80, 60s);
  EXPECT_TRUE(after.starts_with("error:")) << after;
  std::fprintf(stderr, "[onion] fetch after DEL_ONION: %s\n", after.c_str());
  // Removing it twice is tor's error, not ours.
  Status again =
      loop.status([&](auto cb) { torcon::remove_onion_service(*service, info->address, cb); });
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::tor_error);
}

TEST(OnionTestnet, DirectoryServiceReachableAndGoneAfterRemoval) {
  TORCON_REQUIRE_TESTNET(net);
  Loop loop;
  std::string err;
  auto service = loop.connect(net.client(), err);
  ASSERT_EQ(err, "");
  const std::string body = "onion-dir-body-" + std::to_string(::getpid());
  torcon::test::LoopbackHttp http(body);
  ASSERT_NE(http.port(), 0);
  torcon::TorConfig cfg(*service);
  ASSERT_TRUE(loop.status([&](auto cb) { cfg.load({}, cb); }));

  torcon::OnionDirectorySpec spec;
  spec.directory = net.client().data_dir + "/onion-dir-" + std::to_string(::getpid());
  spec.ports = {{80, "127.0.0.1:" + std::to_string(http.port())}};
  std::optional<Status> ready;
  torcon::OnionReadyOptions ro;
  ro.timeout = 240s;
  torcon::OnionReadyWatch watch(*service, loop.reactor(), ro, [&](const Status& s) { ready = s; });
  std::optional<Expected<std::string>> address;
  torcon::add_onion_directory(cfg, spec, {},
                              [&](const Expected<std::string>& a) { address.emplace(a); });
  ASSERT_TRUE(loop.pump_until(30s, [&] { return address.has_value(); }));
  ASSERT_TRUE(*address) << address->error().message;
  watch.set_address(**address);
  ASSERT_TRUE(loop.pump_until(250s, [&] { return ready.has_value(); }));
  ASSERT_TRUE(*ready) << ready->error().message;
  EXPECT_EQ(loop.fetch_until_ok(net.client(), **address, 80, 150s), body);

  ASSERT_TRUE(
      loop.status([&](auto cb) { torcon::remove_onion_directory(cfg, spec.directory, cb); }));
  // The client has the descriptor cached; tor no longer answers for it.
  const std::string after = loop.fetch(net.client(), **address, 80, 60s);
  EXPECT_TRUE(after.starts_with("error:")) << after;
  std::fprintf(stderr, "[onion] fetch after removing the directory service: %s\n", after.c_str());
}

// The client files add_onion_directory() writes are the ones tor reads: a
// client without the key is kept out, one with it gets in.
TEST(OnionTestnet, DirectoryServiceClientAuthorization) {
  TORCON_REQUIRE_TESTNET(net);
  Loop loop;
  std::string err;
  auto ctl = loop.connect(net.client(), err);
  ASSERT_EQ(err, "");
  const std::string body = "dir-authorized-" + std::to_string(::getpid());
  torcon::test::LoopbackHttp http(body);
  torcon::TorConfig cfg(*ctl);
  ASSERT_TRUE(loop.status([&](auto cb) { cfg.load({}, cb); }));
  const torcon::ClientAuthKeys alice = torcon::new_client_auth_keys();
  torcon::OnionDirectorySpec spec;
  spec.directory = net.client().data_dir + "/onion-dir-auth-" + std::to_string(::getpid());
  spec.ports = {{80, "127.0.0.1:" + std::to_string(http.port())}};
  spec.clients = {{"alice", alice.public_base32},
                  {"other", torcon::new_client_auth_keys().public_base32}};
  std::optional<Status> ready;
  torcon::OnionReadyOptions ro;
  ro.timeout = 240s;
  torcon::OnionReadyWatch watch(*ctl, loop.reactor(), ro, [&](const Status& s) { ready = s; });
  std::optional<Expected<std::string>> address;
  torcon::add_onion_directory(cfg, spec, {},
                              [&](const Expected<std::string>& a) { address.emplace(a); });
  ASSERT_TRUE(loop.pump_until(30s, [&] { return address.has_value(); }));
  ASSERT_TRUE(*address) << address->error().message;
  watch.set_address(**address);
  ASSERT_TRUE(loop.pump_until(250s, [&] { return ready.has_value(); }));
  ASSERT_TRUE(*ready) << ready->error().message;

  const std::string denied = loop.fetch(net.client(), **address, 80, 60s);
  EXPECT_TRUE(denied.starts_with("error:")) << denied;
  ASSERT_TRUE(loop.status([&](auto cb) {
    torcon::onion_client_auth_add(*ctl, **address, alice.private_base32, "alice", false, cb);
  }));
  EXPECT_EQ(loop.fetch_until_ok(net.client(), **address, 80, 150s), body);
  EXPECT_TRUE(loop.status([&](auto cb) { torcon::onion_client_auth_remove(*ctl, **address, cb); }));
  EXPECT_TRUE(
      loop.status([&](auto cb) { torcon::remove_onion_directory(cfg, spec.directory, cb); }));
}

TEST(OnionTestnet, ClientAuthorization) {
  TORCON_REQUIRE_TESTNET(net);
  Loop loop;
  TORCON_SKIP_IF_NO_REACTOR(loop);
  std::string err;
  auto ctl = loop.connect(net.client(), err);
  ASSERT_EQ(err, "");
  const std::string body = "authorized-" + std::to_string(::getpid());
  torcon::test::LoopbackHttp http(body);
  const torcon::ClientAuthKeys alice = torcon::new_client_auth_keys();
  OnionServiceSpec spec = web_spec(http.port());
  spec.client_keys = {alice.public_base32, torcon::new_client_auth_keys().public_base32};
  auto info = loop.publish(*ctl, spec);
  ASSERT_TRUE(info) << info.error().message;

  const std::string denied = loop.fetch(net.client(), info->address, 80, 60s);
  EXPECT_TRUE(denied.starts_with("error:")) << denied;
  std::fprintf(stderr, "[onion] fetch without the client key: %s\n", denied.c_str());

  ASSERT_TRUE(loop.status([&](auto cb) {
    torcon::onion_client_auth_add(*ctl, info->address, alice.private_base32, "alice", false, cb);
  }));
  std::optional<Expected<std::vector<torcon::OnionClientAuth>>> view;
  torcon::onion_client_auth_view(*ctl, info->address, [&](const auto& v) { view.emplace(v); });
  ASSERT_TRUE(loop.pump_until(10s, [&] { return view.has_value(); }));
  ASSERT_TRUE(*view) << view->error().message;
  ASSERT_EQ((*view)->size(), 1u);
  EXPECT_EQ((**view)[0].service_id + ".onion", info->address);
  EXPECT_EQ((**view)[0].key_type, "x25519");
  EXPECT_EQ(torcon::client_auth_keys_from_private((**view)[0].private_key)->private_base32,
            alice.private_base32);
  EXPECT_EQ((**view)[0].client_name, "alice");

  EXPECT_EQ(loop.fetch_until_ok(net.client(), info->address, 80, 150s), body);

  // Adding it again replaces it (tor's 251): a success.
  EXPECT_TRUE(loop.status([&](auto cb) {
    torcon::onion_client_auth_add(*ctl, info->address, alice.private_base64, "", false, cb);
  }));
  EXPECT_TRUE(
      loop.status([&](auto cb) { torcon::onion_client_auth_remove(*ctl, info->address, cb); }));
  view.reset();
  torcon::onion_client_auth_view(*ctl, "", [&](const auto& v) { view.emplace(v); });
  ASSERT_TRUE(loop.pump_until(10s, [&] { return view.has_value(); }));
  ASSERT_TRUE(*view);
  for (const auto& c : **view) EXPECT_NE(c.service_id + ".onion", info->address);
}

TEST(OnionTestnet, SameKeyAfterDetachAndRestartWithout550) {
  TORCON_REQUIRE_TESTNET(net);
  Loop loop;
  TORCON_SKIP_IF_NO_REACTOR(loop);
  const std::string key = torcon::new_onion_key();
  const std::string address = *torcon::onion_address_of_key(key);
  OnionServiceSpec spec = web_spec(8080);
  spec.key = key;
  spec.detach = true;

  // A detached service outlives its connection; a plain ADD_ONION of the
  // same key then gets 550, ensure_onion_service does not.
  {
    std::string err;
    auto first = loop.connect(net.client(), err);
    ASSERT_EQ(err, "");
    auto a = loop.add(*first, spec);
    ASSERT_TRUE(a) << a.error().message;
    EXPECT_EQ(a->address, address);
  }
  std::string err;
  auto second = loop.connect(net.client(), err);
  ASSERT_EQ(err, "");
  auto collision = loop.add(*second, spec);
  ASSERT_FALSE(collision);
  EXPECT_EQ(collision.error().status, 550) << collision.error().message;
  auto ensured = loop.add(*second, spec, /*ensure=*/true);
  ASSERT_TRUE(ensured) << ensured.error().message;
  EXPECT_EQ(ensured->address, address);
  auto ensured_again = loop.add(*second, spec, /*ensure=*/true);
  ASSERT_TRUE(ensured_again) << ensured_again.error().message;
  ASSERT_TRUE(loop.status([&](auto cb) { torcon::remove_onion_service(*second, address, cb); }));

  // A tor of its own on the network, restarted on the same DataDirectory:
  // the key gives the same address, and every HSDir takes the restarted
  // tor's descriptor (all_hsdirs readiness). Not fetched: on CI, in about
  // one run in three, the client's connections to the restarted service
  // kept timing out for minutes although every HSDir had accepted its new
  // descriptor (tor 0.4.9.11; the client's log shows nothing but an earlier
  // "Bug: Underflow in hs_cache_decrement_allocation"). Fetching a published
  // service is covered by the other cases and by torcon-onion's tests.
  const std::string restart_key = torcon::new_onion_key();
  const std::string restart_address = *torcon::onion_address_of_key(restart_key);
  const std::string dir = std::filesystem::path(net.dir) / "onion-restart";
  torcon::test::LoopbackHttp http("restarted");
  OnionServiceSpec plain = web_spec(http.port());
  plain.key = restart_key;
  for (int run = 0; run < 2; ++run) {
    torcon::LaunchOptions lo;
    lo.data_directory = dir;
    lo.keep_data_directory = true;
    lo.torrc = {"%include " + net.client_torrc_include()};
    std::optional<Expected<std::unique_ptr<torcon::TorProcess>>> tor;
    torcon::launch_tor(loop.reactor(), lo, [&](auto t) { tor.emplace(std::move(t)); });
    ASSERT_TRUE(loop.pump_until(150s, [&] { return tor.has_value(); }));
    ASSERT_TRUE(*tor) << tor->error().message;
    Controller& ctl = (**tor)->controller();
    auto r = run == 0 ? loop.add(ctl, plain, true) : loop.publish(ctl, plain);
    ASSERT_TRUE(r) << "run " << run << ": " << r.error().message;
    EXPECT_EQ(r->address, restart_address);
    bool stopped = false;
    (**tor)->stop([&] { stopped = true; });
    ASSERT_TRUE(loop.pump_until(20s, [&] { return stopped; }));
  }
}

}  // namespace
