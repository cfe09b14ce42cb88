// TorState's address map: ADDRMAP events and address-mappings/all, expiry
// (UTC EXPIRES= preferred, NEVER, local-time positional), "<error>" never
// added, updates moving the expiry, every key removed at expiry, and the
// reactor timer that does it.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "state/state_fixture.hpp"
#include "torcon/reactor.hpp"
#include "torcon/tor_state.hpp"

namespace {

using namespace std::chrono_literals;
using SysTime = std::chrono::system_clock::time_point;
using torcon::TorState;
using torcon::test::Feeder;

SysTime utc(int y, int mo, int d, int h, int mi, int s) {
  return std::chrono::sys_days(std::chrono::year(y) / mo / d) + std::chrono::hours(h) +
         std::chrono::minutes(mi) + std::chrono::seconds(s);
}

std::string iso(SysTime t) {
  const time_t secs = std::chrono::system_clock::to_time_t(t);
  tm parts{};
  ::gmtime_r(&secs, &parts);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &parts);
  return buf;
}

TEST(AddressMap, UtcExpiresIsPreferredAndExpiryRemovesEveryKey) {
  TorState st;
  Feeder f(st);
  // The positional (local) time is deliberately different: EXPIRES wins.
  ASSERT_TRUE(
      f.event("ADDRMAP www.example.com 93.184.216.34 \"2000-01-01 00:00:00\" "
              "EXPIRES=\"2026-12-02 10:00:00\" CACHED=\"YES\""));
  ASSERT_TRUE(
      f.event("ADDRMAP example.com 93.184.216.34 \"2000-01-01 00:00:00\" "
              "EXPIRES=\"2026-12-02 11:00:00\" CACHED=\"NO\""));
  const torcon::AddressMapping* m = st.address_mapping("www.example.com");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->target, "93.184.216.34");
  EXPECT_EQ(m->expires, utc(2026, 12, 2, 10, 0, 0));
  EXPECT_TRUE(m->cached);
  EXPECT_FALSE(st.address_mapping("example.com")->cached);
  EXPECT_EQ(st.addresses_mapped_to("93.184.216.34").size(), 2u);

  st.expire_address_map(utc(2026, 12, 2, 9, 59, 59));
  EXPECT_EQ(st.address_mapping_count(), 2u);
  st.expire_address_map(utc(2026, 12, 2, 10, 0, 0));
  EXPECT_EQ(st.address_mapping("www.example.com"), nullptr);
  const auto left = st.addresses_mapped_to("93.184.216.34");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0]->address, "example.com");
  st.expire_address_map(utc(2026, 12, 2, 12, 0, 0));
  EXPECT_EQ(st.address_mapping_count(), 0u);
  EXPECT_TRUE(st.addresses_mapped_to("93.184.216.34").empty());
}

TEST(AddressMap, NeverExpires) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.event("ADDRMAP home.example 192.0.2.3 NEVER"));
  ASSERT_NE(st.address_mapping("home.example"), nullptr);
  EXPECT_FALSE(st.address_mapping("home.example")->expires.has_value());
  st.expire_address_map(utc(2200, 1, 1, 0, 0, 0));
  EXPECT_NE(st.address_mapping("home.example"), nullptr);
}

TEST(AddressMap, ErrorIsNeverAddedAndEndsAnOlderMapping) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(
      f.event("ADDRMAP nx.example <error> \"2026-12-02 10:00:00\" error=yes "
              "EXPIRES=\"2026-12-02 10:00:00\""));
  EXPECT_EQ(st.address_mapping("nx.example"), nullptr);
  ASSERT_TRUE(f.event("ADDRMAP flaky.example 192.0.2.9 NEVER"));
  ASSERT_TRUE(f.event("ADDRMAP flaky.example <error> NEVER error=yes"));
  EXPECT_EQ(st.address_mapping("flaky.example"), nullptr);
  EXPECT_TRUE(st.addresses_mapped_to("192.0.2.9").empty());
}

TEST(AddressMap, AnUpdateMovesTheExpiry) {
  TorState st;
  Feeder f(st);
  std::vector<std::string> log;
  st.on_address_map([&](const torcon::AddressMapping& m, torcon::AddressMapChange what) {
    log.push_back(m.address + " " + m.target + " " + std::to_string(int(what)));
  });
  ASSERT_TRUE(f.event("ADDRMAP a.example 192.0.2.1 \"x\" EXPIRES=\"2026-12-02 10:00:00\""));
  ASSERT_TRUE(
      f.event("ADDRMAP a.example 192.0.2.1 \"x\" EXPIRES=\"2026-12-02 10:00:00\""));  // same
  ASSERT_TRUE(f.event("ADDRMAP a.example 192.0.2.12 \"x\" EXPIRES=\"2026-12-02 12:00:00\""));
  EXPECT_TRUE(st.addresses_mapped_to("192.0.2.1").empty());
  st.expire_address_map(utc(2026, 12, 2, 11, 0, 0));
  ASSERT_NE(st.address_mapping("a.example"), nullptr);         // the old expiry no longer applies
  ASSERT_TRUE(f.event("ADDRMAP a.example 192.0.2.12 NEVER"));  // finite -> NEVER
  st.expire_address_map(utc(2026, 12, 2, 13, 0, 0));
  ASSERT_NE(st.address_mapping("a.example"), nullptr);
  EXPECT_EQ(log, (std::vector<std::string>{"a.example 192.0.2.1 0", "a.example 192.0.2.12 1",
                                           "a.example 192.0.2.12 1"}));
}

TEST(AddressMap, PositionalExpiryIsLocalTimeInEventsAndUtcInTheSnapshot) {
  const char* old_tz = std::getenv("TZ");
  const std::string saved = old_tz ? old_tz : "";
  ::setenv("TZ", "EST5", 1);  // UTC-5, no daylight saving
  ::tzset();
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.event("ADDRMAP local.example 192.0.2.1 \"2026-12-02 10:00:00\""));
  ASSERT_TRUE(
      f.feed("250+address-mappings/all=\r\n"
             "snap.example 192.0.2.12 \"2026-12-02 10:00:00\"\r\n"
             "forever.example 192.0.2.13 NEVER\r\n"
             ".\r\n250 OK\r\n"));
  if (old_tz)
    ::setenv("TZ", saved.c_str(), 1);
  else
    ::unsetenv("TZ");
  ::tzset();
  ASSERT_NE(st.address_mapping("local.example"), nullptr);
  EXPECT_EQ(st.address_mapping("local.example")->expires, utc(2026, 12, 2, 15, 0, 0));
  ASSERT_NE(st.address_mapping("snap.example"), nullptr);
  EXPECT_EQ(st.address_mapping("snap.example")->expires, utc(2026, 12, 2, 10, 0, 0));
  EXPECT_FALSE(st.address_mapping("forever.example")->expires.has_value());
}

TEST(AddressMap, BadTimesAreErrors) {
  TorState st;
  Feeder f(st);
  EXPECT_FALSE(f.event("ADDRMAP a.example 192.0.2.1 \"soon\""));
  EXPECT_FALSE(f.event("ADDRMAP a.example 192.0.2.1 NEVER EXPIRES=\"2026-13-01 00:00:00\""));
  EXPECT_FALSE(f.event("ADDRMAP a.example 192.0.2.1 NEVER EXPIRES=\"9999-12-31 23:59:59\""));
  EXPECT_EQ(st.address_mapping_count(), 0u);
}

TEST(AddressMap, GivesTheHostnameBackForAnIpTarget) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.event("ADDRMAP www.example.com 93.184.216.34 NEVER"));
  ASSERT_TRUE(f.event("STREAM 1 NEW 0 93.184.216.34:443 SOURCE_ADDR=127.0.0.1:1 PURPOSE=USER"));
  ASSERT_TRUE(f.event("STREAM 2 NEW 0 example.org:80 SOURCE_ADDR=127.0.0.1:2 PURPOSE=USER"));
  ASSERT_TRUE(f.event("STREAM 2 REMAP 0 192.0.2.15:80 SOURCE=CACHE"));
  ASSERT_TRUE(f.event("STREAM 3 NEW 0 192.0.2.1:80 SOURCE_ADDR=127.0.0.1:3 PURPOSE=USER"));
  ASSERT_TRUE(f.event("STREAM 4 NEW 0 [2001:db8::1]:80 SOURCE_ADDR=127.0.0.1:4 PURPOSE=USER"));
  EXPECT_EQ(st.hostname(*st.stream("1")), "www.example.com");
  EXPECT_EQ(st.hostname(*st.stream("2")), "example.org");  // asked by name, REMAP'd since
  EXPECT_EQ(st.hostname(*st.stream("3")), "192.0.2.1");    // nothing maps to it
  EXPECT_EQ(st.hostname(*st.stream("4")), "2001:db8::1");
}

TEST(AddressMap, ExpiresOnTheReactorTimer) {
  auto r = torcon::Reactor::create();
  ASSERT_TRUE(r) << r.error().message;
  TorState st(**r);
  Feeder f(st);
  const SysTime soon = std::chrono::system_clock::now() + 1s;
  const SysTime later = std::chrono::system_clock::now() + 600s;
  ASSERT_TRUE(f.event("ADDRMAP soon.example 192.0.2.1 NEVER EXPIRES=\"" + iso(soon) + "\""));
  ASSERT_TRUE(f.event("ADDRMAP later.example 192.0.2.12 NEVER EXPIRES=\"" + iso(later) + "\""));
  // Moved later, then back: the timer follows the earliest expiry.
  ASSERT_TRUE(f.event("ADDRMAP soon.example 192.0.2.1 NEVER EXPIRES=\"" + iso(later) + "\""));
  ASSERT_TRUE(f.event("ADDRMAP soon.example 192.0.2.1 NEVER EXPIRES=\"" + iso(soon) + "\""));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (st.address_mapping("soon.example") && std::chrono::steady_clock::now() < deadline)
    (*r)->run_once(50ms);
  EXPECT_EQ(st.address_mapping("soon.example"), nullptr) << "not expired by the timer";
  EXPECT_NE(st.address_mapping("later.example"), nullptr);
}

}  // namespace
