// Entry guards in TorState: from GETINFO entry-guards, kept current by
// GUARD events (NEW, UP, DOWN, BAD, GOOD, DROPPED).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "state/state_fixture.hpp"
#include "torcon/tor_state.hpp"

namespace {

using torcon::TorState;
using torcon::test::entry;
using torcon::test::Feeder;
using torcon::test::hex_of;
using torcon::test::long_name;

std::vector<std::string> listed(const TorState& st) {
  std::vector<std::string> out;
  for (const torcon::Guard& g : st.guards())
    out.push_back(std::string(g.router->nickname()) + " " + g.status);
  return out;
}

TEST(Guards, FromTheSnapshotThenEvents) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(
      f.feed(torcon::test::ns_all_reply({entry(1, "g1", "192.0.2.11", 9001, {"s Guard"}),
                                         entry(2, "g2", "192.0.2.12", 9001, {"s Guard"})})));
  ASSERT_TRUE(f.feed("250+entry-guards=\r\n" + long_name(1, "g1") + " up\r\n" + long_name(2, "g2") +
                     " never-connected\r\n" + long_name(3, "g3") +
                     " down 2026-12-01 10:00:00\r\n.\r\n250 OK\r\n"));
  EXPECT_EQ(listed(st), (std::vector<std::string>{"g1 up", "g2 never-connected", "g3 down"}));
  EXPECT_EQ(st.guards()[0].router, st.router("$" + hex_of(1)));
  EXPECT_FALSE(st.guards()[2].router->in_consensus());  // a placeholder

  std::vector<std::string> log;
  st.on_guard([&](const torcon::Guard& g, torcon::GuardChange what) {
    log.push_back(std::string(g.router->nickname()) + " " + g.status + " " +
                  std::to_string(int(what)));
  });
  ASSERT_TRUE(f.event("GUARD ENTRY " + long_name(2, "g2") + " UP"));
  ASSERT_TRUE(f.event("GUARD ENTRY " + long_name(1, "g1") + " BAD"));
  ASSERT_TRUE(f.event("GUARD ENTRY " + long_name(4, "g4") + " NEW"));
  ASSERT_TRUE(f.event("GUARD ENTRY " + long_name(4, "g4") + " NEW"));  // no news
  ASSERT_TRUE(f.event("GUARD ENTRY " + long_name(3, "g3") + " DROPPED"));
  ASSERT_TRUE(f.event("GUARD ENTRY " + long_name(9, "g9") + " DROPPED"));  // unknown: nothing
  EXPECT_EQ(listed(st), (std::vector<std::string>{"g1 bad", "g2 up", "g4 new"}));
  EXPECT_EQ(log, (std::vector<std::string>{"g2 up 1", "g1 bad 1", "g4 new 0", "g3 down 2"}));
  // A dropped guard outside the consensus leaves the router table too.
  EXPECT_EQ(st.router("$" + hex_of(3)), nullptr);
  EXPECT_NE(st.router("$" + hex_of(4)), nullptr);
}

// What tor sends for a bridge whose descriptor it has not got (tried:
// tor 0.4.9, Bridge 127.0.0.1:1 with a fingerprint).
TEST(Guards, AFingerprintWithAnEmptyNicknameIsAGuard) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.event("GUARD ENTRY $" + hex_of(7) + "~ NEW"));
  ASSERT_EQ(st.guards().size(), 1u);
  EXPECT_EQ(st.guards()[0].status, "new");
  EXPECT_FALSE(f.event("GUARD ENTRY ~ NEW"));
  EXPECT_FALSE(f.event("GUARD ENTRY $" + hex_of(7).substr(1) + "~ NEW"));
}

TEST(Guards, BadNamesAreErrors) {
  TorState st;
  Feeder f(st);
  EXPECT_FALSE(f.event("GUARD ENTRY nickname-only UP"));
  EXPECT_FALSE(f.feed("250-entry-guards=" + long_name(1, "x") + "\r\n250 OK\r\n"));
  EXPECT_TRUE(st.guards().empty());
}

}  // namespace
