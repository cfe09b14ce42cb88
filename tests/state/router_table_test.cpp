// Routers in TorState: what ns/all gives each one, the lookups, and how
// NEWCONSENSUS (replace, keeping the objects of routers that stay) and NS
// (upsert) change the set; exit-policy summaries.

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "gen/network_status.hpp"
#include "state/state_fixture.hpp"
#include "torcon/router_entry.hpp"
#include "torcon/tor_state.hpp"

namespace {

using torcon::ExitPolicySummary;
using torcon::PolicySource;
using torcon::Router;
using torcon::RouterChange;
using torcon::RouterFlag;
using torcon::TorState;
using torcon::test::entry;
using torcon::test::Feeder;
using torcon::test::hex_of;

std::vector<std::string> network() {
  return {
      entry(1, "alpha", "192.0.2.1", 9001,
            {"a [2001:db8::1]:9001", "a [2001:db8::2]:443",
             "s Exit Fast FutureFlag Guard Running Stable Valid", "v Tor 0.4.8.12", "pr Relay=1-4",
             "w Bandwidth=1000 Measured=1200", "p accept 80,443,8000-8100"}),
      entry(2, "twin", "192.0.2.2", 443,
            {"s Fast Running Valid", "v Tor 0.4.9.1", "w Bandwidth=20 Unmeasured=1",
             "p reject 1-65535"}),
      entry(3, "twin", "192.0.2.3", 9001, {"s Running Valid"}),
  };
}

TEST(Routers, FieldsFromNsAll) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.feed(torcon::test::ns_all_reply(network())));
  EXPECT_EQ(st.router_count(), 3u);
  const Router* a = st.router(torcon::test::identity_of(1));
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->in_consensus());
  EXPECT_EQ(a->nickname(), "alpha");
  EXPECT_EQ(a->fingerprint(), hex_of(1));
  EXPECT_EQ(a->ipv4(), 0xC0000201u);
  EXPECT_EQ(a->or_port(), 9001);
  EXPECT_EQ(a->dir_port(), 0);
  ASSERT_EQ(a->ipv6().size(), 2u);
  EXPECT_EQ(a->ipv6()[0].port, 9001);
  EXPECT_EQ(a->ipv6()[1].port, 443);
  char buf[INET6_ADDRSTRLEN];
  ASSERT_NE(inet_ntop(AF_INET6, a->ipv6()[1].addr.data(), buf, sizeof buf), nullptr);
  EXPECT_STREQ(buf, "2001:db8::2");
  EXPECT_TRUE(a->flags().has(RouterFlag::Exit));
  EXPECT_TRUE(a->flags().has(RouterFlag::Guard));
  EXPECT_FALSE(a->flags().has(RouterFlag::BadExit));
  EXPECT_EQ(a->unknown_flags(), "FutureFlag");
  EXPECT_TRUE(a->has_flag("FutureFlag"));
  EXPECT_TRUE(a->has_flag("Stable"));
  EXPECT_FALSE(a->has_flag("Authority"));
  EXPECT_FALSE(a->has_flag("Future"));
  EXPECT_EQ(a->version(), "Tor 0.4.8.12");
  const torcon::RouterBandwidth bw = a->bandwidth();
  EXPECT_TRUE(bw.has_bandwidth && bw.has_measured && !bw.unmeasured);
  EXPECT_EQ(bw.bandwidth, 1000u);
  EXPECT_EQ(bw.measured, 1200u);
  ASSERT_NE(a->policy(), nullptr);
  EXPECT_EQ(a->policy()->text(), "accept 80,443,8000-8100");

  const Router* t = st.router(torcon::test::identity_of(2));
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->bandwidth().unmeasured);
  EXPECT_EQ(t->unknown_flags(), "");
  EXPECT_TRUE(t->ipv6().empty());
  const Router* bare = st.router(torcon::test::identity_of(3));
  ASSERT_NE(bare, nullptr);
  EXPECT_EQ(bare->version(), "");
  EXPECT_EQ(bare->policy(), nullptr);
  EXPECT_FALSE(bare->bandwidth().has_bandwidth);
}

TEST(Routers, ExitsToUsesTheSummary) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.feed(torcon::test::ns_all_reply(network())));
  struct Case {
    int relay;
    int port;
    bool allowed;
    PolicySource source;
  };
  for (const Case& c :
       {Case{1, 80, true, PolicySource::summary}, Case{1, 443, true, PolicySource::summary},
        Case{1, 8000, true, PolicySource::summary}, Case{1, 8100, true, PolicySource::summary},
        Case{1, 8101, false, PolicySource::summary}, Case{1, 22, false, PolicySource::summary},
        Case{2, 80, false, PolicySource::summary},  // "reject 1-65535"
        Case{3, 80, false, PolicySource::none}}) {
    const torcon::ExitAnswer a =
        st.router(torcon::test::identity_of(c.relay))->exits_to(std::uint16_t(c.port));
    EXPECT_EQ(a.allowed, c.allowed) << "relay " << c.relay << " port " << c.port;
    EXPECT_EQ(a.source, c.source) << "relay " << c.relay << " port " << c.port;
  }
}

TEST(Routers, Lookups) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.feed(torcon::test::ns_all_reply(network())));
  const Router* a = st.router(torcon::test::identity_of(1));
  std::string lower = hex_of(1);
  for (char& c : lower) c = char(std::tolower(c));
  for (const std::string& name :
       {"$" + hex_of(1), "$" + hex_of(1) + "~alpha", "$" + hex_of(1) + "=alpha", "$" + lower,
        std::string("alpha"), "$" + hex_of(1) + "~othername"})  // the identity decides
    EXPECT_EQ(st.router(name), a) << name;
  EXPECT_EQ(st.router("twin"), nullptr);  // two routers share it
  const auto twins = st.routers_named("twin");
  ASSERT_EQ(twins.size(), 2u);
  EXPECT_NE(twins[0], twins[1]);
  for (const Router* r : twins) EXPECT_EQ(r->nickname(), "twin");
  for (const std::string& name :
       {std::string(""), std::string("$"), "$" + hex_of(9), std::string("nobody"),
        std::string("$XYZ"), std::string("not a name")})
    EXPECT_EQ(st.router(name), nullptr) << name;
  EXPECT_TRUE(st.routers_named("nobody").empty());
  EXPECT_EQ(st.routers().size(), 3u);
  int n = 0;
  st.for_each_router([&](const Router&) { ++n; });
  EXPECT_EQ(n, 3);
}

TEST(Routers, NewConsensusReplacesKeepingRoutersThatStay) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.feed(torcon::test::ns_all_reply(network())));
  const Router* alpha = st.router(torcon::test::identity_of(1));
  const Router* twin2 = st.router(torcon::test::identity_of(2));
  // Circuit 5 names relay 3, which the next consensus drops.
  ASSERT_TRUE(f.event("CIRC 5 BUILT " + torcon::test::long_name(3, "twin")));
  std::vector<std::string> log;
  st.on_router([&](const Router& r, RouterChange what) {
    log.push_back(std::string(r.nickname()) + (what == RouterChange::added     ? " added"
                                               : what == RouterChange::removed ? " removed"
                                                                               : " changed"));
  });
  ASSERT_TRUE(f.feed(torcon::test::newconsensus_event({
      network()[0],  // alpha unchanged
      entry(4, "delta", "192.0.2.4", 9001, {"s Fast Running Valid"}),
  })));
  EXPECT_EQ(st.router_count(), 2u);
  EXPECT_EQ(st.router(torcon::test::identity_of(1)), alpha);  // same object
  EXPECT_EQ(st.router(torcon::test::identity_of(2)), nullptr);
  (void)twin2;
  const Router* three = st.router(torcon::test::identity_of(3));
  ASSERT_NE(three, nullptr);  // still named by circuit 5
  EXPECT_FALSE(three->in_consensus());
  EXPECT_EQ(st.circuit("5")->path()[0], three);
  ASSERT_NE(st.router(torcon::test::identity_of(4)), nullptr);
  std::sort(log.begin(), log.end());
  EXPECT_EQ(log, (std::vector<std::string>{"delta added", "twin changed", "twin removed"}));
  log.clear();
  ASSERT_TRUE(f.event("CIRC 5 CLOSED " + torcon::test::long_name(3, "twin") + " REASON=FINISHED"));
  EXPECT_EQ(st.router(torcon::test::identity_of(3)), nullptr);
  EXPECT_EQ(log, (std::vector<std::string>{"twin removed"}));
}

// A consensus that lists a router twice: the table counts the routers it
// listed to know whether any was dropped, and must count that one once.
TEST(Routers, NewConsensusListingARouterTwiceStillRemovesTheDropped) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.feed(torcon::test::ns_all_reply(network())));
  std::vector<std::string> removed;
  st.on_router([&](const Router& r, RouterChange what) {
    if (what == RouterChange::removed) removed.push_back(hex_of(3) == r.fingerprint() ? "3" : "?");
  });
  ASSERT_TRUE(f.feed(torcon::test::newconsensus_event({network()[0], network()[0], network()[1]})));
  EXPECT_EQ(st.router_count(), 2u);
  EXPECT_EQ(st.router(torcon::test::identity_of(3)), nullptr);
  EXPECT_EQ(removed, std::vector<std::string>{"3"});
}

// A network larger than one block of the table's router pool: a consensus
// that drops every third router removes exactly those, wherever they live.
TEST(Routers, NewConsensusDroppingManyRoutersRemovesExactlyThose) {
  const std::string reply = torcon::gen::ns_all_reply({.routers = 1500, .seed = 3});
  // The entries, CRLF lines as the reply has them.
  const std::size_t begin = reply.find("\r\n") + 2, end = reply.rfind("\r\n.\r\n") + 2;
  std::vector<std::string_view> entries;
  for (std::size_t pos = begin; pos < end;) {
    std::size_t next = reply.find("\r\nr ", pos);
    next = next == std::string::npos || next + 2 > end ? end : next + 2;
    entries.emplace_back(reply.data() + pos, next - pos);
    pos = next;
  }
  ASSERT_EQ(entries.size(), 1500u);
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.feed(reply));
  ASSERT_EQ(st.router_count(), 1500u);
  std::size_t removed = 0, other = 0;
  st.on_router([&](const Router&, RouterChange what) {
    (what == RouterChange::removed ? removed : other) += 1;
  });
  std::string next = "650+NEWCONSENSUS\r\n";
  for (std::size_t i = 0; i < entries.size(); ++i)
    if (i % 3 != 0) next += entries[i];
  ASSERT_TRUE(f.feed(next + ".\r\n650 OK\r\n"));
  EXPECT_EQ(removed, 500u);
  EXPECT_EQ(other, 0u);  // the others stay as they were
  EXPECT_EQ(st.router_count(), 1000u);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    torcon::RouterEntryReader reader(entries[i]);
    torcon::RouterEntry e;
    ASSERT_TRUE(reader.next(e));
    EXPECT_EQ(st.router(e.identity()) != nullptr, i % 3 != 0) << i;
  }
}

// Flags this version does not know are kept as written, however the s line
// is spaced; the line is read both with text after it and at the very end.
TEST(Routers, UnknownFlagNames) {
  struct Case {
    const char* s_line;
    const char* unknown;
  };
  for (const Case& c : {
           Case{"s Fast Running Valid", ""},
           Case{"s Fast  Running", ""},
           Case{"s Fast Fast", ""},
           Case{"s", ""},
           Case{"s Fast FutureFlag", "FutureFlag"},
           Case{"s FutureFlag Fast Other", "FutureFlag Other"},
           Case{"s  Fast  Later  ", "Later"},
           Case{"s AVeryLongFlagNameFromTheFuture", "AVeryLongFlagNameFromTheFuture"},
           Case{"s fast Running", "fast"},
           Case{"s Runnin Runningg", "Runnin Runningg"},
       }) {
    for (const bool last : {false, true}) {
      std::vector<std::string> entries = network();
      const std::string e = entry(9, "nine", "192.0.2.9", 9001, {c.s_line, "w Bandwidth=1"});
      if (last)
        entries.push_back(e);
      else
        entries.insert(entries.begin(), e);
      TorState st;
      Feeder f(st);
      ASSERT_TRUE(f.feed(torcon::test::ns_all_reply(entries))) << c.s_line;
      const Router* r = st.router(torcon::test::identity_of(9));
      ASSERT_NE(r, nullptr);
      EXPECT_EQ(r->unknown_flags(), c.unknown) << c.s_line << (last ? " (last)" : "");
      EXPECT_EQ(r->flags().has(RouterFlag::Fast),
                std::string_view(c.s_line).find(" Fast") != std::string_view::npos)
          << c.s_line;
    }
  }
}

TEST(Routers, NsEventUpserts) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.feed(torcon::test::ns_all_reply(network())));
  const Router* alpha = st.router(torcon::test::identity_of(1));
  std::vector<std::string> log;
  st.on_router([&](const Router& r, RouterChange what) {
    log.push_back(std::string(r.nickname()) + " " + std::to_string(int(what)));
  });
  ASSERT_TRUE(f.feed(torcon::test::ns_event({
      entry(1, "alpha", "192.0.2.1", 9001, {"s BadExit Exit Fast Running Valid", "w Bandwidth=5"}),
      entry(7, "newbie", "192.0.2.7", 9001, {"s Running Valid"}),
  })));
  EXPECT_EQ(st.router_count(), 4u);  // nothing removed
  EXPECT_EQ(st.router(torcon::test::identity_of(1)), alpha);
  EXPECT_TRUE(alpha->flags().has(RouterFlag::BadExit));
  EXPECT_EQ(alpha->unknown_flags(), "");
  EXPECT_EQ(alpha->bandwidth().bandwidth, 5u);
  EXPECT_EQ(alpha->policy(), nullptr);  // the new entry has no p line
  EXPECT_EQ(log, (std::vector<std::string>{"alpha 1", "newbie 0"}));
  // The same again changes nothing and tells nobody.
  log.clear();
  ASSERT_TRUE(f.feed(torcon::test::ns_event({
      entry(1, "alpha", "192.0.2.1", 9001, {"s BadExit Exit Fast Running Valid", "w Bandwidth=5"}),
  })));
  EXPECT_TRUE(log.empty());
}

// A router's "a" lines as NS events change them: one address is held in
// the router, two or more apart; each change is told once, a repeat never.
TEST(Routers, NsEventsChangeTheIpv6Addresses) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.feed(torcon::test::ns_all_reply(network())));  // alpha: two a lines
  const Router* alpha = st.router(torcon::test::identity_of(1));
  ASSERT_NE(alpha, nullptr);
  int changes = 0;
  st.on_router([&](const Router&, RouterChange) { ++changes; });
  struct Step {
    std::vector<std::string> a_lines;
    std::vector<int> ports;  // of ipv6(), in order
    int changes;             // listener calls so far
  };
  for (const Step& s : {
           Step{{"a [2001:db8::7]:7"}, {7}, 1},
           Step{{"a [2001:db8::7]:7"}, {7}, 1},  // the same: no change
           Step{{"a [2001:db8::7]:8"}, {8}, 2},
           Step{{}, {}, 3},
           Step{{"a [2001:db8::1]:1", "a [2001:db8::2]:2", "a [2001:db8::3]:3"}, {1, 2, 3}, 4},
           Step{{"a [2001:db8::1]:1", "a [2001:db8::2]:2", "a [2001:db8::3]:3"}, {1, 2, 3}, 4},
           Step{{"a [2001:db8::2]:2"}, {2}, 5},
           Step{{"a [2001:db8::1]:1", "a [2001:db8::2]:2"}, {1, 2}, 6},
       }) {
    std::vector<std::string> lines = s.a_lines;
    lines.push_back("s Running Valid");
    ASSERT_TRUE(f.feed(torcon::test::ns_event({entry(1, "alpha", "192.0.2.1", 9001, lines)})));
    ASSERT_EQ(st.router(torcon::test::identity_of(1)), alpha);
    std::vector<int> ports;
    for (const torcon::Ipv6OrAddress& a : alpha->ipv6()) ports.push_back(a.port);
    EXPECT_EQ(ports, s.ports) << s.a_lines.size() << " a lines";
    EXPECT_EQ(changes, s.changes) << s.a_lines.size() << " a lines";
    if (!alpha->ipv6().empty()) {
      char buf[INET6_ADDRSTRLEN];
      ASSERT_NE(inet_ntop(AF_INET6, alpha->ipv6().back().addr.data(), buf, sizeof buf), nullptr);
      EXPECT_EQ(std::string("a [") + buf + "]:" + std::to_string(s.ports.back()), s.a_lines.back());
    }
  }
}

TEST(Routers, PlaceholderJoinsTheConsensus) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.event("CIRC 5 EXTENDED " + torcon::test::long_name(8, "late")));
  const Router* late = st.router(torcon::test::identity_of(8));
  ASSERT_NE(late, nullptr);
  EXPECT_FALSE(late->in_consensus());
  ASSERT_TRUE(f.feed(torcon::test::ns_event({entry(8, "late", "192.0.2.8", 9001, {"s Running"})})));
  EXPECT_EQ(st.router(torcon::test::identity_of(8)), late);
  EXPECT_TRUE(late->in_consensus());
  EXPECT_EQ(late->ipv4(), 0xC0000208u);
  ASSERT_TRUE(f.event("CIRC 5 CLOSED " + torcon::test::long_name(8, "late") + " REASON=FINISHED"));
  EXPECT_EQ(st.router(torcon::test::identity_of(8)), late);  // in the consensus: stays
}

TEST(Routers, MalformedConsensusAppliesWhatCameBeforeAndRemovesNothing) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.feed(torcon::test::ns_all_reply(network())));
  auto bad = torcon::test::newconsensus_event(
      {entry(5, "five", "192.0.2.5", 9001, {"s Running"}), "r broken line"});
  EXPECT_FALSE(f.feed(bad));
  EXPECT_NE(st.router(torcon::test::identity_of(5)), nullptr);
  EXPECT_NE(st.router(torcon::test::identity_of(1)), nullptr);
  EXPECT_EQ(st.router_count(), 4u);
}

// The table reads the r line's tail itself: what it accepts and refuses.
TEST(Routers, RLineAddressAndPorts) {
  struct Case {
    const char* tail;  // after "r nick identity digest date time "
    bool ok;
    std::uint32_t ip;
    int or_port, dir_port;
  };
  for (const Case& c :
       {Case{"192.0.2.1 9001 0", true, 0xC0000201u, 9001, 0},
        Case{"0.0.0.0 1 65535", true, 0, 1, 65535},
        Case{"255.255.255.255 443 80", true, 0xFFFFFFFFu, 443, 80},
        Case{"256.0.0.1 9001 0", false, 0, 0, 0}, Case{"1.2.3 9001 0", false, 0, 0, 0},
        Case{"1.2.3.4.5 9001 0", false, 0, 0, 0}, Case{"01.2.3.4 9001 0", false, 0, 0, 0},
        Case{"1.2.3.4 65536 0", false, 0, 0, 0}, Case{"1.2.3.4 9001 x", false, 0, 0, 0},
        Case{"1.2.3.4 9001", false, 0, 0, 0}, Case{"1.2.3.4  9001 0", false, 0, 0, 0},
        // The last three fields count, wherever the line puts them.
        Case{"7 192.0.2.1 9001 0", true, 0xC0000201u, 9001, 0},
        Case{"192.0.2.1 9001 0 7", false, 0, 0, 0},
        Case{"192.0.2.1 09001 00000", true, 0xC0000201u, 9001, 0},
        Case{"192.0.2.1 9001 000000", false, 0, 0, 0}, Case{"192.0.2.1 9001 0 ", false, 0, 0, 0},
        Case{"192.0.2.1 9001 -1", false, 0, 0, 0},
        Case{"192.0.2.10 9001 0", true, 0xC000020Au, 9001, 0},
        Case{"192.0.2.1000 9001 0", false, 0, 0, 0}, Case{"1.2.3.4.", false, 0, 0, 0}}) {
    std::string e = entry(1, "alpha", "192.0.2.1", 9001, {"s Running"});
    e.replace(e.find("192.0.2.1 9001 0"), 16, c.tail);
    TorState st;
    Feeder f(st);
    const torcon::Status s = f.feed(torcon::test::ns_all_reply({e}));
    ASSERT_EQ(bool(s), c.ok) << c.tail;
    if (!c.ok) {
      EXPECT_EQ(s.error().code, torcon::Errc::bad_router_status) << c.tail;
      EXPECT_EQ(st.router_count(), 0u);
      continue;
    }
    const Router* r = st.router(torcon::test::identity_of(1));
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->ipv4(), c.ip) << c.tail;
    EXPECT_EQ(r->or_port(), c.or_port) << c.tail;
    EXPECT_EQ(r->dir_port(), c.dir_port) << c.tail;
  }
}

// Microdescriptor consensuses have no digest in the r line.
TEST(Routers, MicrodescriptorFormRLine) {
  std::string e = entry(1, "alpha", "192.0.2.9", 443, {"s Fast Running", "w Bandwidth=7"});
  const std::size_t d = e.find(' ', e.find(' ', 2) + 1);  // after the identity
  e.erase(d, e.find(' ', d + 1) - d);                     // drop the digest
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.feed(torcon::test::ns_all_reply({e}))) << e;
  const Router* r = st.router("alpha");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->ipv4(), 0xC0000209u);
  EXPECT_EQ(r->or_port(), 443);
  EXPECT_EQ(r->bandwidth().bandwidth, 7u);
}

TEST(Routers, WorksWithoutRecordedLineEnds) {
  TorState st;
  Feeder f(st, /*record_lines=*/false);
  ASSERT_TRUE(f.feed(torcon::test::ns_all_reply(network())));
  EXPECT_EQ(st.router_count(), 3u);
  EXPECT_EQ(st.router("alpha")->version(), "Tor 0.4.8.12");
}

struct PolicyCase {
  const char* text;
  bool ok;
  std::vector<int> accepted, refused;
};

void PrintTo(const PolicyCase& c, std::ostream* os) { *os << '"' << c.text << '"'; }

class PolicySummaries : public ::testing::TestWithParam<PolicyCase> {};

TEST_P(PolicySummaries, Parse) {
  const PolicyCase& c = GetParam();
  auto p = ExitPolicySummary::parse(c.text);
  ASSERT_EQ(p.ok(), c.ok) << c.text;
  if (!p) {
    EXPECT_EQ(p.error().code, torcon::Errc::bad_router_status);
    return;
  }
  EXPECT_EQ(p->text(), c.text);
  for (int port : c.accepted) EXPECT_TRUE(p->accepts(std::uint16_t(port))) << c.text << " " << port;
  for (int port : c.refused) EXPECT_FALSE(p->accepts(std::uint16_t(port))) << c.text << " " << port;
}

INSTANTIATE_TEST_SUITE_P(
    Summaries, PolicySummaries,
    ::testing::Values(
        PolicyCase{"accept 80,443", true, {80, 443}, {1, 79, 81, 442, 444, 65535}},
        PolicyCase{"accept 1-65535", true, {1, 80, 65535}, {}},
        PolicyCase{"reject 1-65535", true, {}, {1, 80, 65535}},
        PolicyCase{"reject 25,119,135-139,445", true, {80, 134, 140}, {25, 119, 135, 139, 445}},
        PolicyCase{"accept 20-23,43,53,79-81", true, {20, 23, 43, 80}, {19, 24, 82}},
        PolicyCase{"accept", false, {}, {}}, PolicyCase{"accept ", false, {}, {}},
        PolicyCase{"allow 80", false, {}, {}}, PolicyCase{"accept 0", false, {}, {}},
        PolicyCase{"accept 65536", false, {}, {}}, PolicyCase{"accept 443,80", false, {}, {}},
        PolicyCase{"accept 90-80", false, {}, {}}, PolicyCase{"accept 80,", false, {}, {}},
        PolicyCase{"accept 80-", false, {}, {}}, PolicyCase{"accept 8x", false, {}, {}}));

}  // namespace
