// TorState attached to the private network's client (torcon::testnet): the
// bootstrap, agreement with tor's own circuit-status / stream-status after
// activity, an HTTP fetch seen through its stream's lifecycle, and circuits
// launched while the state bootstraps. One network per binary; ctest runs it
// once per reactor backend.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "support/loopback_http.hpp"
#include "support/socks_http_get.hpp"
#include "testnet/controller_loop.hpp"
#include "testnet/testnet_environment.hpp"
#include "torcon/controller.hpp"
#include "torcon/reactor.hpp"
#include "torcon/tor_state.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using torcon::Controller;
using torcon::Expected;
using torcon::KeyValues;
using torcon::TorState;
using torcon::testnet::Network;
using torcon::testnet::Node;

[[maybe_unused]] ::testing::Environment* const kTestnet =
    ::testing::AddGlobalTestEnvironment(new torcon::testnet::testing::TestnetEnvironment);

// The shared loop; its controllers keep data lines (NS events' bodies).
class Loop : public torcon::testing::ControllerLoop {
 public:
  std::unique_ptr<Controller> connect(const Node& node, std::string& error) {
    torcon::ControllerOptions o;
    o.parser.record_data_lines = true;
    return ControllerLoop::connect(node, error, o);
  }
};

// "ID STATUS [PATH] ..." lines -> "ID STATUS FP,FP,..." (circuit-status), or
// "ID STATUS CIRC TARGET" (stream-status, as is).
std::vector<std::string> tor_circuits(const std::string& status) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < status.size()) {
    std::size_t end = status.find('\n', pos);
    if (end == std::string::npos) end = status.size();
    std::string line = status.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    std::vector<std::string> words;
    for (std::size_t i = 0; i < line.size();) {
      std::size_t j = line.find(' ', i);
      if (j == std::string::npos) j = line.size();
      words.push_back(line.substr(i, j - i));
      i = j + 1;
    }
    std::string fps;
    if (words.size() > 2 && words[2].find('=') == std::string::npos) {
      torcon::LongNameReader hops(words[2]);
      for (torcon::LongName h; hops.next(h);) {
        if (!fps.empty()) fps += ',';
        fps += std::string(h.fingerprint);
      }
    }
    out.push_back(words[0] + " " + words[1] + " " + fps);
  }
  std::sort(out.begin(), out.end());
  return out;
}
std::vector<std::string> state_circuits(const TorState& st) {
  std::vector<std::string> out;
  for (const torcon::Circuit* c : st.circuits()) {
    std::string fps;
    for (const torcon::Router* r : c->path()) {
      if (!fps.empty()) fps += ',';
      fps += r ? r->fingerprint() : "?";
    }
    out.push_back(std::string(c->id()) + " " + std::string(c->state_text()) + " " + fps);
  }
  std::sort(out.begin(), out.end());
  return out;
}
std::vector<std::string> tor_streams(const std::string& status) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < status.size()) {
    std::size_t end = status.find('\n', pos);
    if (end == std::string::npos) end = status.size();
    if (end > pos) out.push_back(status.substr(pos, end - pos));
    pos = end + 1;
  }
  std::sort(out.begin(), out.end());
  return out;
}
std::vector<std::string> state_streams(const TorState& st) {
  std::vector<std::string> out;
  for (const torcon::Stream* s : st.streams())
    out.push_back(std::string(s->id()) + " " + std::string(s->state_text()) + " " +
                  std::string(s->circuit_id()) + " " + std::string(s->target()));
  std::sort(out.begin(), out.end());
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += "  " + s + "\n";
  return out;
}

// Polls until TorState and tor agree (events may still be on their way when
// a GETINFO is answered); the last mismatch as a message if they never do.
std::string agree_with_tor(Loop& loop, Controller& ctl, const TorState& st,
                           std::chrono::milliseconds limit) {
  std::string last;
  const bool ok = loop.pump_until(limit, [&] {
    auto circs = loop.getinfo(ctl, "circuit-status");
    auto streams = loop.getinfo(ctl, "stream-status");
    if (!circs || !streams) {
      last = "GETINFO failed";
      return false;
    }
    const auto tc = tor_circuits(*circs), sc = state_circuits(st);
    const auto ts = tor_streams(*streams), ss = state_streams(st);
    if (tc == sc && ts == ss) return true;
    last = "tor circuits:\n" + joined(tc) + "TorState circuits:\n" + joined(sc) + "tor streams:\n" +
           joined(ts) + "TorState streams:\n" + joined(ss);
    return false;
  });
  return ok ? std::string() : last;
}

TEST(TorStateTestnet, BootstrapsFromTheClient) {
  TORCON_REQUIRE_TESTNET(net);
  Loop loop;
  TORCON_SKIP_IF_NO_REACTOR(loop);
  std::string err;
  auto ctl = loop.connect(net.client(), err);
  ASSERT_EQ(err, "");
  TorState st;
  const torcon::Status s = loop.attach(st, *ctl);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(st.bootstrapped());
  std::size_t relays = 0;
  for (const Node& n : net.nodes) {
    if (n.role == torcon::testnet::Role::client) continue;
    ++relays;
    const torcon::Router* r = st.router("$" + n.fingerprint);
    ASSERT_NE(r, nullptr) << n.name;
    EXPECT_TRUE(r->in_consensus());
    EXPECT_EQ(r->nickname(), n.name);
    EXPECT_EQ(r->ipv4(), 0x7F000001u) << n.name;
    EXPECT_EQ(r->or_port(), n.or_port) << n.name;
    EXPECT_TRUE(r->flags().has(torcon::RouterFlag::Running)) << n.name;
  }
  EXPECT_EQ(st.router_count(), relays);
  const torcon::Router* exit = st.router("$" + net.exit().fingerprint);
  ASSERT_NE(exit, nullptr);
  EXPECT_TRUE(exit->flags().has(torcon::RouterFlag::Exit));
  // The exit accepts 127.0.0.0/8 only: no rule for all addresses, so its
  // summary rejects every port (what the summary can and cannot say).
  ASSERT_NE(exit->policy(), nullptr);
  EXPECT_EQ(exit->policy()->text(), "reject 1-65535");
  EXPECT_EQ(exit->exits_to(80).source, torcon::PolicySource::summary);
  EXPECT_FALSE(exit->exits_to(80).allowed);
  // Its server descriptor (the client fetches them: UseMicrodescriptors 0)
  // has the rule the summary cannot show.
  std::optional<torcon::Status> loaded;
  st.load_descriptors([&](const torcon::Status& ls) { loaded = ls; });
  ASSERT_TRUE(loop.pump_until(10s, [&] { return loaded.has_value(); }));
  ASSERT_TRUE(*loaded) << loaded->error().message;
  ASSERT_NE(exit->descriptor_policy(), nullptr);
  const std::uint16_t http_port = 8080;
  EXPECT_EQ(exit->exits_to("127.0.0.1", http_port).source, torcon::PolicySource::descriptor);
  EXPECT_TRUE(exit->exits_to("127.0.0.1", http_port).allowed);
  EXPECT_TRUE(exit->exits_to("127.3.2.1", 443).allowed);
  EXPECT_FALSE(exit->exits_to("192.0.2.1", http_port).allowed);
  EXPECT_EQ(exit->exits_to("192.0.2.1", http_port).source, torcon::PolicySource::descriptor);
  EXPECT_FALSE(exit->exits_to("::1", http_port).allowed);  // no ipv6-policy line
  for (const Node& n : net.nodes) {                        // the other relays reject everything
    if (n.role != torcon::testnet::Role::relay) continue;
    const torcon::Router* r = st.router("$" + n.fingerprint);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->exits_to("127.0.0.1", http_port).source, torcon::PolicySource::descriptor);
    EXPECT_FALSE(r->exits_to("127.0.0.1", http_port).allowed) << n.name;
  }
  EXPECT_EQ(st.tor_pid(), std::uint64_t(torcon::testnet::node_pid(net, net.client())));
  EXPECT_GE(st.circuit_count(), 1u);  // the client has built circuits by now
  // The client has chosen guards among the network's relays.
  const auto guards = st.guards();
  EXPECT_FALSE(guards.empty());
  for (const torcon::Guard& g : guards) {
    ASSERT_NE(g.router, nullptr);
    EXPECT_TRUE(g.router->in_consensus()) << g.router->fingerprint();
  }
  const std::string diff = agree_with_tor(loop, *ctl, st, 10s);
  EXPECT_EQ(diff, "");
}

TEST(TorStateTestnet, MapaddressReachesTheAddressMap) {
  TORCON_REQUIRE_TESTNET(net);
  Loop loop;
  TORCON_SKIP_IF_NO_REACTOR(loop);
  std::string err;
  auto ctl = loop.connect(net.client(), err);
  ASSERT_EQ(err, "");
  TorState st(loop.reactor());
  ASSERT_TRUE(loop.attach(st, *ctl));
  const std::pair<std::string_view, std::string_view> maps[] = {
      {"torcon-state-test.example", "192.0.2.113"}};
  std::optional<bool> answered;
  ctl->mapaddress(maps, [&](const Expected<KeyValues>& kv) { answered = bool(kv); });
  ASSERT_TRUE(loop.pump_until(10s, [&] {
    return answered.has_value() && st.address_mapping("torcon-state-test.example");
  })) << "no ADDRMAP for the MAPADDRESS";
  EXPECT_TRUE(*answered);
  const torcon::AddressMapping* m = st.address_mapping("torcon-state-test.example");
  EXPECT_EQ(m->target, "192.0.2.113");
  EXPECT_FALSE(m->expires.has_value());  // MAPADDRESS mappings never expire
  ASSERT_EQ(st.addresses_mapped_to("192.0.2.113").size(), 1u);
  // A second state sees it in address-mappings/all.
  TorState again;
  ASSERT_TRUE(loop.attach(again, *ctl));
  ASSERT_NE(again.address_mapping("torcon-state-test.example"), nullptr);
  EXPECT_EQ(again.address_mapping("torcon-state-test.example")->target, "192.0.2.113");
}

TEST(TorStateTestnet, HttpFetchThroughItsStreamLifecycle) {
  TORCON_REQUIRE_TESTNET(net);
  Loop loop;
  TORCON_SKIP_IF_NO_REACTOR(loop);
  std::string err;
  auto ctl = loop.connect(net.client(), err);
  ASSERT_EQ(err, "");
  TorState st;
  ASSERT_TRUE(loop.attach(st, *ctl));
  const std::string body = "through TorState's eyes\n";
  torcon::test::LoopbackHttp http(body);
  ASSERT_NE(http.port(), 0);
  const std::string suffix = ":" + std::to_string(http.port());
  std::vector<std::string> seen;  // our stream's states, in order
  std::string exit_fp, stream_circ;
  st.on_stream([&](const torcon::Stream& s, torcon::StreamChanges what) {
    if (!s.target().ends_with(suffix) || !(what & (torcon::stream_state | torcon::stream_created)))
      return;
    seen.push_back(std::string(s.state_text()));
    if (s.state() == torcon::StreamStatus::succeeded && s.circuit()) {
      stream_circ = std::string(s.circuit()->id());
      auto path = s.circuit()->path();
      if (!path.empty() && path.back()) exit_fp = path.back()->fingerprint();
    }
  });
  std::optional<torcon::test::FetchResult> got;
  std::thread fetch(
      [&] { got = torcon::test::socks_http_get(net.client().socks_port, http.port(), 30s); });
  loop.pump_until(35s, [&] {
    return got.has_value() && std::find(seen.begin(), seen.end(), "CLOSED") != seen.end();
  });
  fetch.join();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->error, "");
  EXPECT_EQ(got->body, body);
  // NEW -> SENTCONNECT -> SUCCEEDED -> CLOSED (a REMAP may come in between).
  std::vector<std::string> lifecycle;
  for (const std::string& s : seen)
    if (s != "REMAP") lifecycle.push_back(s);
  EXPECT_EQ(lifecycle, (std::vector<std::string>{"NEW", "SENTCONNECT", "SUCCEEDED", "CLOSED"}))
      << joined(seen);
  EXPECT_EQ(exit_fp, net.exit().fingerprint) << "circuit " << stream_circ;
  // Closed streams leave the table.
  for (const torcon::Stream* s : st.streams()) EXPECT_FALSE(s->target().ends_with(suffix));
  const std::string diff = agree_with_tor(loop, *ctl, st, 10s);
  EXPECT_EQ(diff, "");
}

// ---- a capture recorded with torcon-ctl --record, replayed by torcon-parse --state

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Ids as torcon-parse orders them: numerically (shorter first), then as text.
bool id_less(const std::string& a, const std::string& b) {
  const std::string ia = a.substr(0, a.find('"', 8)), ib = b.substr(0, b.find('"', 8));
  if (ia.size() != ib.size()) return ia.size() < ib.size();
  return a < b;
}

std::vector<std::string> words_of(const std::string& line) {
  std::vector<std::string> words;
  for (std::size_t i = 0; i < line.size();) {
    std::size_t j = line.find(' ', i);
    if (j == std::string::npos) j = line.size();
    words.push_back(line.substr(i, j - i));
    i = j + 1;
  }
  return words;
}

// tor's circuit-status and stream-status in torcon-parse --state's JSON.
std::string tor_as_state_json(const std::string& circs, const std::string& streams) {
  std::vector<std::string> cs, ss;
  std::size_t pos = 0;
  while (pos < circs.size()) {
    std::size_t end = circs.find('\n', pos);
    if (end == std::string::npos) end = circs.size();
    const std::vector<std::string> w = words_of(circs.substr(pos, end - pos));
    pos = end + 1;
    if (w.size() < 2) continue;
    std::string path, purpose;
    for (std::size_t i = 2; i < w.size(); ++i) {
      if (i == 2 && w[i].find('=') == std::string::npos) {
        torcon::LongNameReader hops(w[i]);
        for (torcon::LongName h; hops.next(h);)
          path += (path.empty() ? "\"" : ",\"") + std::string(h.fingerprint) + "\"";
      } else if (w[i].starts_with("PURPOSE=")) {
        purpose = w[i].substr(8);
      }
    }
    cs.push_back("{\"id\":\"" + w[0] + "\",\"state\":\"" + w[1] + "\",\"path\":[" + path +
                 "],\"purpose\":\"" + purpose + "\"}");
  }
  pos = 0;
  while (pos < streams.size()) {
    std::size_t end = streams.find('\n', pos);
    if (end == std::string::npos) end = streams.size();
    const std::vector<std::string> w = words_of(streams.substr(pos, end - pos));
    pos = end + 1;
    if (w.size() < 4) continue;
    ss.push_back("{\"id\":\"" + w[0] + "\",\"state\":\"" + w[1] + "\",\"circuit\":\"" + w[2] +
                 "\",\"target\":\"" + w[3] + "\"}");
  }
  std::sort(cs.begin(), cs.end(), id_less);
  std::sort(ss.begin(), ss.end(), id_less);
  std::string out = "\"circuits\":[";
  for (std::size_t i = 0; i < cs.size(); ++i) out += (i ? "," : "") + cs[i];
  out += "],\"streams\":[";
  for (std::size_t i = 0; i < ss.size(); ++i) out += (i ? "," : "") + ss[i];
  return out + "]";
}

TEST(TorStateTestnet, ReplayedCaptureGivesTorsCircuitsAndStreams) {
  TORCON_REQUIRE_TESTNET(net);
  Loop loop;
  TORCON_SKIP_IF_NO_REACTOR(loop);
  std::string err;
  auto ctl = loop.connect(net.client(), err);
  ASSERT_EQ(err, "");
  char dir[] = "/tmp/torcon-capture-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string capture = std::string(dir) + "/capture", state = std::string(dir) + "/state";
  const std::string events = "CIRC CIRC_MINOR STREAM ORCONN ADDRMAP GUARD NS NEWCONSENSUS CIRC_BW";
  std::string event_list = events;
  std::replace(event_list.begin(), event_list.end(), ' ', ',');
  // Subscribed first (a raw SETEVENTS), then the snapshot; --events keeps
  // the recorder running (its own SETEVENTS asks for the same set).
  torcon::SpawnOptions record_options;
  record_options.argv = {
      TORCON_CTL,
      "--control",
      "127.0.0.1:" + std::to_string(net.client().control_port),
      "--cookie",
      net.client().cookie_file,
      "--record",
      capture,
      "--events",
      event_list,
      "SETEVENTS " + events,
      "GETINFO ns/all circuit-status stream-status address-mappings/all entry-guards"};
  record_options.output_path = std::string(dir) + "/ctl-output";
  auto recorder = torcon::ChildProcess::spawn(std::move(record_options));
  ASSERT_TRUE(recorder) << recorder.error().message;
  ASSERT_TRUE(loop.pump_until(15s, [&] {
    return read_all(capture).find("entry-guards=") != std::string::npos;
  })) << (*recorder)->output_tail(2000);

  // Activity while it records: a fetch through the network.
  torcon::test::LoopbackHttp http("recorded\n");
  ASSERT_NE(http.port(), 0);
  const auto fetched = torcon::test::socks_http_get(net.client().socks_port, http.port(), 30s);
  EXPECT_EQ(fetched.error, "");
  EXPECT_EQ(fetched.body, "recorded\n");

  // Until tor's own view holds still for a second, then stop recording.
  auto tor_view = [&]() -> std::string {
    auto c = loop.getinfo(*ctl, "circuit-status");
    auto s = loop.getinfo(*ctl, "stream-status");
    return c && s ? tor_as_state_json(*c, *s) : std::string("GETINFO failed");
  };
  std::string before = tor_view();
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(1s);
    const std::string now = tor_view();
    if (now == before) break;
    before = now;
  }
  std::this_thread::sleep_for(300ms);  // the events behind `before` reach the recorder
  EXPECT_EQ((*recorder)->terminate_and_wait(5s), 0) << (*recorder)->output_tail(2000);
  const std::string after = tor_view();

  torcon::SpawnOptions parse_options;
  parse_options.argv = {TORCON_PARSE, "--state", capture};
  parse_options.output_path = state;
  auto parser = torcon::ChildProcess::spawn(std::move(parse_options));
  ASSERT_TRUE(parser) << parser.error().message;
  EXPECT_EQ((*parser)->wait(), 0) << read_all(state);
  const std::string json = read_all(state);
  const std::size_t from = json.find("\"circuits\":"), to = json.find(",\"guards\":");
  ASSERT_TRUE(from != std::string::npos && to != std::string::npos) << json;
  const std::string replayed = json.substr(from, to - from);
  EXPECT_NE(replayed.find("\"state\":\"BUILT\""), std::string::npos) << replayed;
  // tor may have changed in the moment between the two views; the capture
  // then shows one of them.
  EXPECT_TRUE(replayed == before || replayed == after) << "replayed:\n"
                                                       << replayed << "\ntor before:\n"
                                                       << before << "\ntor after:\n"
                                                       << after;
  const auto relays = std::count_if(net.nodes.begin(), net.nodes.end(), [](const Node& n) {
    return n.role != torcon::testnet::Role::client;
  });
  EXPECT_NE(json.find("{\"routers\":" + std::to_string(relays) + ","), std::string::npos) << json;
  EXPECT_EQ(json.find("\"guards\":[]"), std::string::npos) << json;
  std::filesystem::remove_all(dir);
}

TEST(TorStateTestnet, CircuitsLaunchedDuringBootstrapAreNotLost) {
  TORCON_REQUIRE_TESTNET(net);
  Loop loop;
  TORCON_SKIP_IF_NO_REACTOR(loop);
  std::string err;
  auto ctl = loop.connect(net.client(), err);
  ASSERT_EQ(err, "");
  auto other = loop.connect(net.client(), err);  // a second controller launches circuits
  ASSERT_EQ(err, "");
  const std::vector<std::string_view> path = {};
  std::vector<std::string> launched;
  int answered = 0;
  auto launch = [&] {
    other->extendcircuit("0", path, "", [&](const Expected<std::string>& id) {
      ++answered;
      if (id) launched.push_back(*id);
    });
  };
  // Circuits launched before, during and after the subscription and the
  // snapshot: the commands on the other connection interleave with ours.
  for (int i = 0; i < 3; ++i) launch();
  TorState st;
  std::optional<torcon::Status> done;
  st.attach(*ctl, [&](const torcon::Status& s) { done = s; });
  for (int i = 0; i < 3; ++i) launch();
  int rounds = 0;
  ASSERT_TRUE(loop.pump_until(20s, [&] {
    if (!done && rounds++ < 20) launch();  // keep launching until the snapshot is in
    return done.has_value();
  }));
  ASSERT_TRUE(*done) << done->error().message;
  for (int i = 0; i < 3; ++i) launch();
  const int total = 6 + std::min(rounds, 20) + 3;
  ASSERT_TRUE(loop.pump_until(20s, [&] { return answered == total; }));
  ASSERT_EQ(launched.size(), std::size_t(total));
  // Every circuit tor still has is in the state, as tor describes it.
  const std::string diff = agree_with_tor(loop, *ctl, st, 30s);
  EXPECT_EQ(diff, "");
  std::size_t known = 0;
  for (const std::string& id : launched) known += st.circuit(id) != nullptr;
  std::printf("%zu circuits launched around the bootstrap, %zu still open and known\n",
              launched.size(), known);
  EXPECT_GT(known, 0u);
}

}  // namespace
