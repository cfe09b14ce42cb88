// TorState under random event sequences (fixed seeds): whatever the order,
// the tables stay consistent with each other — every stream a circuit lists
// is in the table and points back, every hop and guard is a live router,
// every router outside the consensus is still named by a circuit or guard —
// and malformed input is an error, never a crash. Listeners that throw, add
// and remove listeners run throughout.

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "state/state_fixture.hpp"
#include "torcon/tor_state.hpp"

namespace {

using torcon::TorState;
using torcon::test::entry;
using torcon::test::long_name;

class Generator {
 public:
  explicit Generator(unsigned seed) : rng_(seed) {}

  std::string next() {
    switch (pick(12)) {
      case 0:
      case 1:
      case 2: return "650 CIRC " + id() + " " + one_of(kCircStatus) + path() + reason() + "\r\n";
      case 3:
      case 4:
      case 5:
        return "650 STREAM " + id() + " " + one_of(kStreamStatus) + " " +
               (pick(4) ? id() : std::string("0")) + " " + one_of(kTargets) + reason() + "\r\n";
      case 6:
        return "650 CIRC_MINOR " + id() + " " + (pick(2) ? "PURPOSE_CHANGED" : "CANNIBALIZED") +
               path() + " PURPOSE=" + (pick(2) ? "GENERAL" : "HS_VANGUARDS") + "\r\n";
      case 7: return "650 CIRC_BW ID=" + id() + " READ=10 WRITTEN=20 TIME=2026-12-02T10:00:00\r\n";
      case 8: {
        std::vector<std::string> entries;
        for (int n = 1; n <= 6; ++n)
          if (pick(2)) entries.push_back(relay(n));
        return pick(3) ? torcon::test::newconsensus_event(entries)
                       : torcon::test::ns_event(entries);
      }
      case 9: {
        const int n = 1 + pick(6);
        return "650 GUARD ENTRY " + long_name(n, "r" + std::to_string(n)) + " " +
               one_of(kGuardStatus) + "\r\n";
      }
      case 10:
        return "650 ADDRMAP host" + std::to_string(pick(4)) + ".example 192.0.2." +
               std::to_string(pick(3)) + (pick(3) ? " NEVER" : " <error>") + "\r\n";
      default: return "650 " + one_of(kGarbage) + "\r\n";
    }
  }

 private:
  static constexpr const char* kCircStatus[] = {"LAUNCHED", "EXTENDED", "GUARD_WAIT", "BUILT",
                                                "FAILED",   "CLOSED",   "SPLICED"};
  static constexpr const char* kStreamStatus[] = {
      "NEW",    "NEWRESOLVE", "REMAP",    "SENTCONNECT",     "SENTRESOLVE", "SUCCEEDED",
      "FAILED", "CLOSED",     "DETACHED", "CONTROLLER_WAIT", "XOFF_SENT",   "TELEPORTED"};
  static constexpr const char* kTargets[] = {"example.com:80", "[::1]:443", "192.0.2.1:0",
                                             "x.onion:80"};
  static constexpr const char* kGuardStatus[] = {"NEW", "UP", "DOWN", "BAD", "GOOD", "DROPPED"};
  static constexpr const char* kGarbage[] = {"CIRC",
                                             "STREAM 1",
                                             "CIRC x! BUILT",
                                             "CIRC 1 BUILT $ZZ~bad",
                                             "GUARD ENTRY nick UP",
                                             "ADDRMAP a b \"bad time\"",
                                             "CIRC_BW ID=1 READ=x"};

  int pick(int n) { return int(rng_() % unsigned(n)); }
  template <std::size_t N>
  std::string one_of(const char* const (&a)[N]) {
    return a[pick(int(N))];
  }
  std::string id() { return std::to_string(1 + pick(8)); }
  std::string path() {
    const int hops = pick(5);
    std::string out;
    for (int i = 0; i < hops; ++i) {
      const int n = 1 + pick(6);
      out += (i ? "," : " ") + long_name(n, "r" + std::to_string(n));
    }
    return out;
  }
  std::string reason() { return pick(3) ? "" : " REASON=FINISHED REMOTE_REASON=DONE"; }
  static std::string relay(int n) {
    return entry(n, "r" + std::to_string(n), "192.0.2." + std::to_string(n), 9001,
                 {"s Fast Running", "p accept 80"});
  }
  std::mt19937 rng_;
};

void check_consistent(const TorState& st, const std::string& after) {
  SCOPED_TRACE("after " + after);
  std::set<std::string> named;  // fingerprints circuits and guards hold
  for (const torcon::Circuit* c : st.circuits()) {
    ASSERT_EQ(st.circuit(c->id()), c);
    for (const torcon::Router* r : c->path()) {
      ASSERT_NE(r, nullptr);
      ASSERT_EQ(st.router(r->identity()), r);
      named.insert(r->fingerprint());
    }
    for (const torcon::Stream* s : c->streams()) {
      ASSERT_EQ(st.stream(s->id()), s);
      ASSERT_EQ(s->circuit(), c);
    }
  }
  for (const torcon::Stream* s : st.streams()) {
    ASSERT_EQ(st.stream(s->id()), s);
    if (const torcon::Circuit* c = s->circuit()) {
      ASSERT_EQ(st.circuit(c->id()), c);
      ASSERT_NE(std::find(c->streams().begin(), c->streams().end(), s), c->streams().end());
    }
  }
  for (const torcon::Guard& g : st.guards()) {
    ASSERT_EQ(st.router(g.router->identity()), g.router);
    named.insert(g.router->fingerprint());
  }
  std::size_t in_consensus = 0;
  for (const torcon::Router* r : st.routers()) {
    if (r->in_consensus())
      ++in_consensus;
    else
      ASSERT_TRUE(named.count(r->fingerprint())) << "stray placeholder " << r->nickname();
  }
  ASSERT_EQ(st.router_count(), in_consensus);
  for (const torcon::AddressMapping* m : st.addresses_mapped_to("192.0.2.1"))
    ASSERT_EQ(st.address_mapping(m->address), m);
}

class RandomEvents : public ::testing::TestWithParam<unsigned> {};

TEST_P(RandomEvents, TablesStayConsistent) {
  Generator gen(GetParam());
  TorState st;
  torcon::test::Feeder f(st);
  std::mt19937 rng(GetParam() * 7919u);
  std::vector<TorState::ListenerId> ids;
  int errors = 0, calls = 0;
  st.on_listener_error([&](std::string_view) { ++errors; });
  auto listener = [&](auto&&...) {
    ++calls;
    switch (rng() % 8) {
      case 0: throw std::runtime_error("listener failure");
      case 1:
        if (ids.size() < 20) ids.push_back(st.on_stream([](const torcon::Stream&, auto) {}));
        break;
      case 2:
        if (!ids.empty()) {
          st.remove_listener(ids.back());
          ids.pop_back();
        }
        break;
      default: break;
    }
  };
  st.on_circuit(listener);
  st.on_stream(listener);
  st.on_router(listener);
  st.on_guard(listener);
  st.on_address_map(listener);
  for (int i = 0; i < 10000; ++i) {
    const std::string bytes = gen.next();
    (void)f.feed(bytes);  // malformed events are errors; that is all
    check_consistent(st, bytes);
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(calls, 1000);
  EXPECT_GT(errors, 0);
}

INSTANTIATE_TEST_SUITE_P(Seeds, RandomEvents, ::testing::Values(1u, 2u, 3u, 4u, 5u));

}  // namespace
