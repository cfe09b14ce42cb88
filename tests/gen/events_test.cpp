// gen/events.hpp: the simulated event stream. Shapes and lifecycles are
// checked from scratch (wire_checks.hpp) against control-spec 4.1 and what tor
// 0.4.9 prints on a private network; then torcon's parse_event must accept
// every event and read each field back with the value written.

#include "gen/events.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gen/network_status.hpp"
#include "gen/wire_checks.hpp"
#include "torcon/events.hpp"
#include "torcon/reply_reader.hpp"

namespace torcon::gen {
namespace {

using namespace torcon::gen::testing;

// The value of a QuotedString field, unescaped; `found` false if absent.
std::string quoted_field(std::string_view line, std::string_view key, bool& found) {
  const std::string needle = " " + std::string(key) + "=\"";
  const std::size_t at = line.find(needle);
  found = at != std::string_view::npos;
  std::string value;
  if (!found) return value;
  for (std::size_t i = at + needle.size(); i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size()) {
      value.push_back(line[++i]);
    } else if (line[i] == '"') {
      return value;
    } else {
      value.push_back(line[i]);
    }
  }
  ADD_FAILURE() << "unterminated " << key << " in " << line;
  return value;
}

// The hops of a path field ("$FP~nick,..."), or none if f is not a path.
std::vector<std::string_view> hops(std::string_view f) {
  return f.starts_with("$") ? split(f, ',') : std::vector<std::string_view>{};
}

TEST(EventStreamTest, SameSeedSameBytesDifferentSeedDifferentBytes) {
  const std::string a = event_stream({.events = 3000, .seed = 5});
  EXPECT_EQ(a, event_stream({.events = 3000, .seed = 5}));
  EXPECT_NE(a, event_stream({.events = 3000, .seed = 6}));
}

TEST(EventStreamTest, ExactCountOfSingleLineAsyncEvents) {
  for (std::size_t n : {0u, 1u, 2u, 13u, 999u, 20000u}) {
    const std::string text = event_stream({.events = n, .seed = 8});
    const Lines lines = split_crlf(text);
    EXPECT_EQ(lines.size(), n);
    for (auto line : lines) {
      ASSERT_TRUE(line.starts_with("650 ")) << line;
      ASSERT_GT(line.size(), 4u);
    }
  }
}

TEST(EventStreamTest, ShorterStreamIsAPrefixOfALongerOne) {
  const std::string long_run = event_stream({.events = 5000, .seed = 2});
  const std::string short_run = event_stream({.events = 1234, .seed = 2});
  EXPECT_TRUE(long_run.starts_with(short_run));
}

// Byte-for-byte pins: the generator promises identical output on every compiler and
// platform. If a deliberate change to the generator alters these, update the values.
TEST(GoldenTest, EventsArePinned) {
  EXPECT_EQ(fnv1a(event_stream({.events = 3000, .seed = 42})), 0x3A2A0F4BBBBE1ABDULL);
}

// Many seeds and lengths, not only the defaults the other tests read: the
// simulation's rarer paths (a circuit launched for a session that another
// circuit's streams take, then clean again) were reached only by some seeds,
// and then looked up the session of a circuit that had none (seed 7 at 60000
// events read before its session table). Each run must produce exactly the
// events asked for, each parsed by torcon, and a circuit that shows SOCKS
// credentials shows those of the streams it carries.
struct SweepCase {
  std::uint64_t seed;
  std::size_t events;
};
constexpr SweepCase kSweep[] = {
    {.seed = 7, .events = 60000},  {.seed = 2, .events = 30000},  {.seed = 3, .events = 45000},
    {.seed = 10, .events = 15000}, {.seed = 17, .events = 80000}, {.seed = 33, .events = 100000},
};

TEST(EventStreamSweepTest, EverySeedAndLengthGivesConsistentParsableEvents) {
  for (const SweepCase& c : kSweep) {
    SCOPED_TRACE(::testing::Message() << "seed " << c.seed << ", " << c.events << " events");
    std::string text;
    ASSERT_NO_THROW(text = event_stream({.events = c.events, .seed = c.seed}));
    const Lines lines = split_crlf(text);
    ASSERT_EQ(lines.size(), c.events);
    ReplyReader reader;
    reader.feed(text);
    Reply reply;
    Event ev;
    std::size_t parsed = 0, credentials_checked = 0;
    std::map<std::string, std::string> circuit_user;  // circuit id -> SOCKS_USERNAME shown
    std::string scratch;
    while (reader.next(reply) == ReplyReader::Next::reply) {
      const std::string_view line = lines[parsed++];
      ASSERT_TRUE(parse_event(reply, ev)) << line;
      bool found = false;
      if (const CircEvent* circ = ev.get<CircEvent>()) {
        const std::string user = quoted_field(line, "SOCKS_USERNAME", found);
        if (found) {
          circuit_user[std::string(circ->id)] = user;
        } else {
          circuit_user.erase(std::string(circ->id));
        }
      } else if (const StreamEvent* s = ev.get<StreamEvent>()) {
        const std::string user = quoted_field(line, "SOCKS_USERNAME", found);
        auto shown = circuit_user.find(std::string(s->circ_id));
        if (found && s->circ_id != "0" && shown != circuit_user.end()) {
          EXPECT_EQ(shown->second, user) << line;
          ++credentials_checked;
        }
      }
    }
    EXPECT_EQ(reader.error().code, Errc::ok) << reader.error().message;
    EXPECT_EQ(parsed, c.events);
    EXPECT_GT(credentials_checked, 0u);
  }
}

class DefaultEventsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    text_ = new std::string(event_stream({}));
    lines_ = new Lines(split_crlf(*text_));
  }
  static void TearDownTestSuite() {
    delete lines_;
    delete text_;
  }
  static std::string* text_;
  static Lines* lines_;
};
std::string* DefaultEventsTest::text_ = nullptr;
Lines* DefaultEventsTest::lines_ = nullptr;

TEST_F(DefaultEventsTest, HundredThousandEventsOfTheExpectedTypes) {
  ASSERT_EQ(lines_->size(), 100000u);
  std::map<std::string_view, int> count;
  for (auto line : *lines_) ++count[split(line, ' ')[1]];
  for (std::string_view main : {"CIRC", "STREAM", "BW", "ORCONN"}) {
    EXPECT_GE(count[main], 5000) << main;
  }
  for (std::string_view rare : {"CIRC_MINOR", "STREAM_BW", "CIRC_BW", "STATUS_CLIENT"}) {
    EXPECT_GT(count[rare], 0) << rare;
    EXPECT_LT(count[rare], 10000) << rare;
  }
  const std::set<std::string_view> known = {"CIRC",          "STREAM",         "BW",
                                            "ORCONN",        "CIRC_MINOR",     "STREAM_BW",
                                            "CIRC_BW",       "STATUS_GENERAL", "STATUS_CLIENT",
                                            "STATUS_SERVER", "SIGNAL"};
  for (const auto& [type, n] : count) EXPECT_TRUE(known.contains(type)) << type;
}

// Loopback appears, as SOURCE_ADDR of local applications; private networks never do.
TEST_F(DefaultEventsTest, NoPrivateAddresses) {
  const auto ips = all_ipv4(*text_);
  EXPECT_GT(ips.size(), 10000u);
  for (std::uint32_t ip : ips) {
    ASSERT_FALSE(is_rfc1918(ip)) << (ip >> 24) << '.' << (ip >> 16 & 255) << '.' << (ip >> 8 & 255)
                                 << '.' << (ip & 255);
  }
}

// Relays appear as "$FP~nick" (LongName), and directory streams name their
// cache as "<ip>.$FP.exit".
TEST_F(DefaultEventsTest, FingerprintsAreFortyHexWithNickname) {
  std::size_t seen = 0, exit_names = 0;
  for (auto line : *lines_) {
    for (std::size_t pos = line.find('$'); pos != std::string_view::npos;
         pos = line.find('$', pos + 1)) {
      const std::string_view rest = line.substr(pos + 1);
      const std::size_t end = rest.find_first_of(", ");
      const std::string_view name = rest.substr(0, end);
      ASSERT_GE(name.size(), 42u) << line;
      EXPECT_TRUE(is_upper_hex(name.substr(0, 40))) << line;
      if (name.substr(40).starts_with(".exit:")) {
        ++exit_names;
        continue;
      }
      EXPECT_EQ(name[40], '~') << line;
      EXPECT_TRUE(is_nickname(name.substr(41))) << line;
      ++seen;
    }
  }
  EXPECT_GT(seen, 10000u);
  EXPECT_GT(exit_names, 0u);
}

TEST_F(DefaultEventsTest, RelaysComeFromTheSameSeedsNetwork) {
  std::set<std::string> identities;
  const std::string reply = ns_all_reply({});
  for (auto line : split_crlf(reply)) {
    if (line.starts_with("r ")) identities.insert(to_hex(base64_decode(split(line, ' ')[2])));
  }
  ASSERT_EQ(identities.size(), 8000u);
  for (auto line : *lines_) {
    for (std::size_t pos = line.find('$'); pos != std::string_view::npos;
         pos = line.find('$', pos + 1)) {
      ASSERT_TRUE(identities.contains(std::string(line.substr(pos + 1, 40)))) << line;
    }
  }
}

TEST_F(DefaultEventsTest, IdsIncreaseAsTorAllocatesThem) {
  std::uint64_t last_circ = 0, last_conn = 0;
  for (auto line : *lines_) {
    const auto f = split(line, ' ');
    std::uint64_t id = 0;
    if (f[1] == "CIRC" && f[3] == "LAUNCHED") {
      ASSERT_TRUE(parse_uint(f[2], id)) << line;
      EXPECT_GT(id, last_circ) << line;
      last_circ = id;
    }
    // Streams and OR connections share tor's connection identifier counter.
    const bool new_stream = f[1] == "STREAM" && (f[3] == "NEW" || f[3] == "NEWRESOLVE");
    const bool new_conn = f[1] == "ORCONN" && (f[3] == "NEW" || f[3] == "LAUNCHED");
    if (new_stream || new_conn) {
      const std::string_view id_text =
          new_stream ? f[2] : f.back().substr(f.back().starts_with("ID=") ? 3 : 0);
      ASSERT_TRUE(parse_uint(id_text, id)) << line;
      EXPECT_GT(id, last_conn) << line;
      last_conn = id;
    }
  }
}

TEST_F(DefaultEventsTest, CircuitLifecycles) {
  struct State {
    std::size_t hops = 0;
    bool built = false, failed = false, closed = false;
  };
  std::map<std::string_view, State> circuits;
  std::size_t completed = 0, failed = 0;
  for (auto line : *lines_) {
    const auto f = split(line, ' ');
    if (f[1] == "CIRC_MINOR" && f[3] == "CANNIBALIZED" && circuits.contains(f[2])) {
      // A cannibalized circuit may be extended by a hop and reported BUILT again.
      circuits[f[2]].built = false;
    }
    if (f[1] != "CIRC") continue;
    const std::string_view status = f[3];
    if (status == "LAUNCHED") {
      EXPECT_FALSE(circuits.contains(f[2])) << line;
      circuits[f[2]] = {};
      EXPECT_TRUE(f[4].starts_with("BUILD_FLAGS=")) << line;
      continue;
    }
    auto it = circuits.find(f[2]);
    if (it == circuits.end()) continue;  // launched before the window opened
    State& c = it->second;
    ASSERT_FALSE(c.closed) << "event after CLOSED: " << line;
    const std::size_t n = hops(f[4]).size();
    if (status == "EXTENDED") {
      EXPECT_FALSE(c.built) << line;
      EXPECT_GT(n, c.hops) << line;
      c.hops = n;
    } else if (status == "BUILT") {
      EXPECT_FALSE(c.built) << line;
      EXPECT_EQ(n, c.hops) << line;
      c.built = true;
    } else if (status == "FAILED") {
      EXPECT_FALSE(c.built) << line;
      EXPECT_NE(line.find(" REASON="), std::string_view::npos) << line;
      c.failed = true;
      ++failed;
    } else if (status == "CLOSED") {
      EXPECT_NE(line.find(" REASON="), std::string_view::npos) << line;
      c.closed = true;
      completed += c.built;
    } else {
      ADD_FAILURE() << line;
    }
  }
  EXPECT_GT(completed, 500u);
  EXPECT_GT(failed, 10u);
}

// Conflux as tor 0.4.8+ runs it: legs launched CONFLUX_UNLINKED with the
// set's ID, linked by PURPOSE_CHANGED once built; legs of a set share the
// exit but not the guard; only linked legs show CONFLUX_RTT; streams use
// linked legs only.
TEST_F(DefaultEventsTest, ConfluxSetsLinkTheirLegs) {
  struct Leg {
    std::string_view set;
    bool linked = false;
    std::string_view first, last;
  };
  std::map<std::string_view, Leg> legs;
  std::map<std::string_view, std::set<std::string_view>> sets;  // ID -> leg circuits
  std::size_t linked = 0, attached = 0, with_rtt = 0;
  for (auto line : *lines_) {
    const auto f = split(line, ' ');
    const std::string_view id = field(line, "CONFLUX_ID");
    const std::string_view purpose = field(line, "PURPOSE");
    if (f[1] == "CIRC" || f[1] == "CIRC_MINOR") {
      const bool conflux = purpose == "CONFLUX_UNLINKED" || purpose == "CONFLUX_LINKED";
      ASSERT_EQ(conflux, !id.empty()) << line;
      if (!conflux) {
        EXPECT_FALSE(legs.contains(f[2])) << "a leg left its set: " << line;
        continue;
      }
      EXPECT_EQ(id.size(), 32u);
      EXPECT_TRUE(is_upper_hex(id)) << line;
      EXPECT_EQ(field(line, "BUILD_FLAGS"), "NEED_CAPACITY,NEED_UPTIME") << line;
      const std::string_view rtt = field(line, "CONFLUX_RTT");
      std::uint64_t rtt_us = 0;
      if (!rtt.empty()) {
        EXPECT_EQ(purpose, "CONFLUX_LINKED") << line;
        EXPECT_TRUE(parse_uint(rtt, rtt_us) && rtt_us >= 10000) << line;  // microseconds
        ++with_rtt;
      }
      if (f[1] == "CIRC" && f[3] == "LAUNCHED") {
        EXPECT_EQ(purpose, "CONFLUX_UNLINKED") << line;
        legs[f[2]] = Leg{.set = id, .linked = false, .first = {}, .last = {}};
        sets[id].insert(f[2]);
        continue;
      }
      auto it = legs.find(f[2]);
      if (it == legs.end()) continue;  // launched before the window opened
      Leg& leg = it->second;
      EXPECT_EQ(leg.set, id) << line;
      const auto path = hops(f[4]);
      if (!path.empty()) {
        leg.first = path.front();
        leg.last = path.back();
      }
      if (f[1] == "CIRC_MINOR") {
        EXPECT_EQ(f[3], "PURPOSE_CHANGED") << line;
        EXPECT_EQ(field(line, "OLD_PURPOSE"), "CONFLUX_UNLINKED") << line;
        EXPECT_EQ(purpose, "CONFLUX_LINKED") << line;
        EXPECT_TRUE(rtt.empty()) << "measured after the link: " << line;
        EXPECT_FALSE(leg.linked) << line;
        EXPECT_EQ(path.size(), 3u) << line;
        leg.linked = true;
        ++linked;
      } else {
        EXPECT_EQ(purpose, leg.linked ? "CONFLUX_LINKED" : "CONFLUX_UNLINKED") << line;
        if (f[3] == "CLOSED") legs.erase(it);
      }
    } else if (f[1] == "STREAM" && f[3] == "SENTCONNECT") {
      auto it = legs.find(f[4]);
      if (it == legs.end()) continue;
      EXPECT_TRUE(it->second.linked) << "stream on an unlinked leg: " << line;
      ++attached;
    }
  }
  // Legs of one set end at the same exit and start at different guards.
  std::size_t compared = 0;
  for (const auto& [id, members] : sets) {
    std::vector<const Leg*> built;
    for (auto c : members) {
      auto it = legs.find(c);
      if (it != legs.end() && it->second.linked) built.push_back(&it->second);
    }
    for (std::size_t i = 1; i < built.size(); ++i) {
      EXPECT_EQ(built[i]->last, built[0]->last) << id;
      ++compared;
    }
  }
  EXPECT_GT(linked, 500u);
  EXPECT_GT(attached, 2000u);
  EXPECT_GT(with_rtt, 200u);
  EXPECT_GT(compared, 50u);
}

// vanguards-lite: preemptive internal circuits are HS_VANGUARDS through a
// handful of second hops; onion-service circuits are cannibalized from them
// (PURPOSE_CHANGED, then CANNIBALIZED with the old creation time), and carry
// HS_POW once the client has sent its proof of work.
TEST_F(DefaultEventsTest, VanguardsAndOnionServiceCircuits) {
  std::set<std::string_view> second_hops;
  std::map<std::string_view, std::string_view> last_minor;  // circuit -> previous CIRC_MINOR kind
  std::size_t vanguards = 0, cannibalized = 0, pow = 0;
  for (auto line : *lines_) {
    const auto f = split(line, ' ');
    if (f[1] != "CIRC" && f[1] != "CIRC_MINOR") continue;
    const std::string_view purpose = field(line, "PURPOSE");
    if (purpose == "HS_VANGUARDS") {
      ++vanguards;
      EXPECT_EQ(field(line, "BUILD_FLAGS"), "IS_INTERNAL,NEED_CAPACITY,NEED_UPTIME") << line;
      const auto path = hops(f[4]);
      if (path.size() >= 2) second_hops.insert(path[1]);
    }
    if (f[1] == "CIRC_MINOR" && f[3] == "CANNIBALIZED") {
      ++cannibalized;
      EXPECT_EQ(field(line, "OLD_PURPOSE"), "HS_VANGUARDS") << line;
      EXPECT_FALSE(field(line, "OLD_TIME_CREATED").empty()) << line;
      EXPECT_TRUE(purpose == "HS_CLIENT_REND" || purpose == "HS_CLIENT_INTRO") << line;
      EXPECT_EQ(last_minor[f[2]], "PURPOSE_CHANGED") << line;
      EXPECT_TRUE(field(line, "REND_QUERY").empty()) << "tor sets it afterwards: " << line;
    }
    if (f[1] == "CIRC_MINOR") last_minor[f[2]] = f[3];
    const std::string_view hs_pow = field(line, "HS_POW");
    if (!hs_pow.empty()) {
      ++pow;
      EXPECT_TRUE(purpose == "HS_CLIENT_REND" || purpose == "HS_CLIENT_INTRO") << line;
      std::uint64_t effort = 0;
      EXPECT_TRUE(hs_pow.starts_with("v1,") && parse_uint(hs_pow.substr(3), effort) && effort > 0)
          << line;
      EXPECT_NE(field(line, "HS_STATE"), "HSCI_CONNECTING") << "before INTRODUCE1: " << line;
      EXPECT_EQ(field(line, "REND_QUERY").size(), 56u) << line;
    }
  }
  EXPECT_GT(vanguards, 100u);
  EXPECT_GT(cannibalized, 10u);
  EXPECT_GT(pow, 0u);
  EXPECT_GE(second_hops.size(), 1u);
  EXPECT_LE(second_hops.size(), 4u);
}

TEST_F(DefaultEventsTest, StreamLifecycles) {
  struct State {
    std::string_view last;
    bool closed = false;
  };
  std::map<std::string_view, State> streams;
  std::size_t succeeded = 0, failed = 0, detached = 0;
  for (auto line : *lines_) {
    const auto f = split(line, ' ');
    if (f[1] != "STREAM") continue;
    ASSERT_GE(f.size(), 6u) << line;
    const std::string_view status = f[3];
    const std::string_view target = f[5];
    EXPECT_NE(target.rfind(':'), std::string_view::npos) << line;
    if (status == "NEW" || status == "NEWRESOLVE") {
      EXPECT_FALSE(streams.contains(f[2])) << line;
      EXPECT_EQ(f[4], "0") << "new streams are unattached: " << line;
      EXPECT_FALSE(field(line, "PURPOSE").empty()) << line;
      streams[f[2]] = {status};
      continue;
    }
    EXPECT_TRUE(field(line, "PURPOSE").empty()) << "PURPOSE on NEW only: " << line;
    EXPECT_TRUE(field(line, "SOURCE_ADDR").empty()) << "SOURCE_ADDR on NEW only: " << line;
    auto it = streams.find(f[2]);
    if (it == streams.end()) continue;
    State& s = it->second;
    ASSERT_FALSE(s.closed) << "event after CLOSED: " << line;
    if (status == "SENTCONNECT" || status == "SENTRESOLVE") {
      EXPECT_TRUE(s.last == "NEW" || s.last == "NEWRESOLVE" || s.last == "DETACHED") << line;
      EXPECT_NE(f[4], "0") << line;
    } else if (status == "REMAP") {
      EXPECT_EQ(s.last, "SENTCONNECT") << line;
    } else if (status == "SUCCEEDED") {
      EXPECT_TRUE(s.last == "SENTCONNECT" || s.last == "SENTRESOLVE" || s.last == "REMAP") << line;
      ++succeeded;
    } else if (status == "FAILED") {
      ++failed;
    } else if (status == "DETACHED") {
      EXPECT_TRUE(s.last == "SENTCONNECT" || s.last == "SENTRESOLVE") << line;
      ++detached;
    } else if (status == "CLOSED") {
      s.closed = true;
    } else {
      ADD_FAILURE() << line;
    }
    s.last = status;
  }
  EXPECT_GT(succeeded, 5000u);
  EXPECT_GT(failed, 50u);
  EXPECT_GT(detached, 50u);
}

// Every STREAM event carries the isolation fields; credentials when the
// client sent them; directory streams their own fixed set; NYM_EPOCH steps
// at each NEWNYM; DANGEROUS_SOCKS precedes the stream it warns about.
TEST_F(DefaultEventsTest, StreamIsolationFields) {
  std::size_t streams = 0, with_socks = 0, dir = 0, warned = 0;
  std::set<std::string_view> groups, protocols;
  std::uint64_t epoch = 0, newnyms = 0;
  bool epoch_known = false;
  std::string_view pending_warning;
  for (auto line : *lines_) {
    const auto f = split(line, ' ');
    if (f[1] == "SIGNAL" && f[2] == "NEWNYM") ++newnyms;
    if (f[1] == "STATUS_CLIENT" && f[3] == "DANGEROUS_SOCKS") {
      pending_warning = line;
      continue;
    }
    if (f[1] != "STREAM") {
      EXPECT_TRUE(pending_warning.empty()) << "no stream after " << pending_warning;
      pending_warning = {};
      continue;
    }
    ++streams;
    const std::string_view protocol = field(line, "CLIENT_PROTOCOL");
    const std::string_view group = field(line, "SESSION_GROUP");
    const std::string_view iso = field(line, "ISO_FIELDS");
    std::uint64_t nym = 0;
    ASSERT_TRUE(parse_uint(field(line, "NYM_EPOCH"), nym)) << line;
    protocols.insert(protocol);
    groups.insert(group);
    bool user_found = false, pass_found = false;
    quoted_field(line, "SOCKS_USERNAME", user_found);
    quoted_field(line, "SOCKS_PASSWORD", pass_found);
    EXPECT_EQ(user_found, pass_found) << line;
    with_socks += user_found;
    if (field(line, "PURPOSE") == "DIR_FETCH" || f[5].find(".exit:") != std::string_view::npos) {
      ++dir;
      EXPECT_EQ(protocol, "UNKNOWN") << line;
      EXPECT_EQ(group, "-2") << line;
      EXPECT_EQ(nym, 0u) << line;
      EXPECT_EQ(iso, "SESSION_GROUP") << line;
      EXPECT_FALSE(user_found) << line;
      EXPECT_TRUE(field(line, "SOURCE_ADDR").empty()) << line;
      continue;
    }
    EXPECT_EQ(iso, "SOCKS_USERNAME,SOCKS_PASSWORD,CLIENTADDR,SESSION_GROUP,NYM_EPOCH") << line;
    if (f[3] == "NEW" || f[3] == "NEWRESOLVE") {
      if (!epoch_known) {
        epoch = nym - newnyms;
        epoch_known = true;
      }
      EXPECT_EQ(nym, epoch + newnyms) << line;
      EXPECT_TRUE(field(line, "SOURCE_ADDR").starts_with("127.0.0.1:")) << line;
    }
    if (!pending_warning.empty()) {
      ++warned;
      EXPECT_EQ(f[3], "NEW") << line;
      EXPECT_EQ(field(pending_warning, "ADDRESS"), f[5]) << line;
      EXPECT_EQ(field(pending_warning, "PROTOCOL"), protocol) << line;
      pending_warning = {};
    }
  }
  EXPECT_GT(streams, 10000u);
  EXPECT_GT(with_socks * 2, streams) << "most streams come with credentials";
  EXPECT_GT(dir, 0u);
  EXPECT_GT(warned, 0u);
  EXPECT_GT(newnyms, 0u);
  EXPECT_EQ(protocols, (std::set<std::string_view>{"SOCKS4", "SOCKS5", "HTTPCONNECT", "UNKNOWN"}));
  EXPECT_EQ(groups, (std::set<std::string_view>{"-2", "-5", "-6", "-7"}));
}

TEST_F(DefaultEventsTest, SomeQuotedStringsCarryEscapes) {
  std::size_t quoted = 0, escaped = 0;
  for (auto line : *lines_) {
    quoted += line.find("=\"") != std::string_view::npos;
    escaped +=
        line.find("\\\"") != std::string_view::npos || line.find("\\\\") != std::string_view::npos;
  }
  EXPECT_GT(quoted, 1000u);
  EXPECT_GT(escaped, 0u);
}

// torcon's parser on every generated event: framed by ReplyReader, typed by
// parse_event, each field read back equal to what the line says.
TEST_F(DefaultEventsTest, TorconParsesEveryEventAndReadsItsFieldsBack) {
  ReplyReader reader;
  reader.feed(*text_);
  Reply reply;
  Event ev;
  std::size_t i = 0;
  std::map<std::string_view, std::size_t> checked;
  std::string scratch;
  while (reader.next(reply) == ReplyReader::Next::reply) {
    ASSERT_LT(i, lines_->size());
    const std::string_view line = (*lines_)[i++];
    const auto f = split(line, ' ');
    const Status st = parse_event(reply, ev);
    ASSERT_TRUE(st) << st.error().message << "\n" << line;
    ASSERT_EQ(ev.name, f[1]) << line;
    ++checked[ev.name];
    // Optional fields: absent -> empty view, as parse_event reports them.
    const auto opt = [&](std::string_view key) { return field(line, key); };
    if (const CircEvent* c = ev.get<CircEvent>()) {
      EXPECT_EQ(c->id, f[2]);
      EXPECT_EQ(c->status, f[3]);
      EXPECT_NE(c->status_enum, CircStatus::other) << line;
      EXPECT_EQ(c->path, hops(f[4]).empty() ? std::string_view() : f[4]) << line;
      std::size_t n = 0;
      LongNameReader walk = c->hops();
      for (LongName h; walk.next(h);) {
        EXPECT_TRUE(h.has_fingerprint && !h.nickname.empty()) << line;
        ++n;
      }
      EXPECT_EQ(walk.error().code, Errc::ok) << line;
      EXPECT_EQ(n, hops(f[4]).size()) << line;
      EXPECT_EQ(c->build_flags, opt("BUILD_FLAGS")) << line;
      EXPECT_EQ(c->purpose, opt("PURPOSE")) << line;
      EXPECT_EQ(c->hs_state, opt("HS_STATE")) << line;
      EXPECT_EQ(c->rend_query, opt("REND_QUERY")) << line;
      EXPECT_EQ(c->time_created, opt("TIME_CREATED")) << line;
      EXPECT_EQ(c->reason, opt("REASON")) << line;
      EXPECT_EQ(c->remote_reason, opt("REMOTE_REASON")) << line;
      EXPECT_EQ(c->hs_pow, opt("HS_POW")) << line;
      EXPECT_EQ(c->conflux_id, opt("CONFLUX_ID")) << line;
      EXPECT_EQ(c->conflux_rtt, opt("CONFLUX_RTT")) << line;
      bool found = false;
      const std::string user = quoted_field(line, "SOCKS_USERNAME", found);
      EXPECT_EQ(c->socks_username.present, found) << line;
      if (found) {
        EXPECT_EQ(c->socks_username.decoded(scratch), user) << line;
      }
      const std::string pass = quoted_field(line, "SOCKS_PASSWORD", found);
      EXPECT_EQ(c->socks_password.present, found) << line;
      if (found) {
        EXPECT_EQ(c->socks_password.decoded(scratch), pass) << line;
      }
    } else if (const CircMinorEvent* m = ev.get<CircMinorEvent>()) {
      EXPECT_EQ(m->id, f[2]);
      EXPECT_EQ(m->event, f[3]);
      EXPECT_NE(m->event_enum, CircMinorKind::other) << line;
      EXPECT_EQ(m->path, hops(f[4]).empty() ? std::string_view() : f[4]) << line;
      EXPECT_EQ(m->build_flags, opt("BUILD_FLAGS")) << line;
      EXPECT_EQ(m->purpose, opt("PURPOSE")) << line;
      EXPECT_EQ(m->hs_state, opt("HS_STATE")) << line;
      EXPECT_EQ(m->rend_query, opt("REND_QUERY")) << line;
      EXPECT_EQ(m->time_created, opt("TIME_CREATED")) << line;
      EXPECT_EQ(m->old_purpose, opt("OLD_PURPOSE")) << line;
      EXPECT_EQ(m->old_hs_state, opt("OLD_HS_STATE")) << line;
      Value v;
      EXPECT_EQ(find_arg(m->raw_args, "CONFLUX_ID", v), !opt("CONFLUX_ID").empty()) << line;
      EXPECT_EQ(v.text, opt("CONFLUX_ID")) << line;
    } else if (const StreamEvent* s = ev.get<StreamEvent>()) {
      EXPECT_EQ(s->id, f[2]);
      EXPECT_EQ(s->status, f[3]);
      EXPECT_NE(s->status_enum, StreamStatus::other) << line;
      EXPECT_EQ(s->circ_id, f[4]);
      EXPECT_EQ(s->target, f[5]);
      EXPECT_EQ(s->reason, opt("REASON")) << line;
      EXPECT_EQ(s->remote_reason, opt("REMOTE_REASON")) << line;
      EXPECT_EQ(s->source, opt("SOURCE")) << line;
      EXPECT_EQ(s->source_addr, opt("SOURCE_ADDR")) << line;
      EXPECT_EQ(s->purpose, opt("PURPOSE")) << line;
      EXPECT_EQ(s->client_protocol, opt("CLIENT_PROTOCOL")) << line;
      EXPECT_EQ(s->nym_epoch, opt("NYM_EPOCH")) << line;
      EXPECT_EQ(s->session_group, opt("SESSION_GROUP")) << line;
      EXPECT_EQ(s->iso_fields, opt("ISO_FIELDS")) << line;
      bool found = false;
      const std::string user = quoted_field(line, "SOCKS_USERNAME", found);
      EXPECT_EQ(s->socks_username.present, found) << line;
      if (found) {
        EXPECT_EQ(s->socks_username.decoded(scratch), user) << line;
      }
      const std::string pass = quoted_field(line, "SOCKS_PASSWORD", found);
      EXPECT_EQ(s->socks_password.present, found) << line;
      if (found) {
        EXPECT_EQ(s->socks_password.decoded(scratch), pass) << line;
      }
    } else if (const OrConnEvent* o = ev.get<OrConnEvent>()) {
      EXPECT_EQ(o->target, f[2]);
      EXPECT_EQ(o->status, f[3]);
      EXPECT_NE(o->status_enum, OrConnStatus::other) << line;
      EXPECT_EQ(o->reason, opt("REASON")) << line;
      EXPECT_EQ(o->id, opt("ID")) << line;
      std::uint64_t ncircs = 0;
      EXPECT_EQ(o->ncircs.has_value(), parse_uint(opt("NCIRCS"), ncircs)) << line;
      if (o->ncircs) {
        EXPECT_EQ(*o->ncircs, ncircs) << line;
      }
    } else if (const BwEvent* b = ev.get<BwEvent>()) {
      EXPECT_EQ(std::to_string(b->read), f[2]);
      EXPECT_EQ(std::to_string(b->written), f[3]);
    } else if (const CircBwEvent* cb = ev.get<CircBwEvent>()) {
      EXPECT_EQ(cb->id, opt("ID"));
      EXPECT_EQ(std::to_string(cb->read), opt("READ"));
      EXPECT_EQ(std::to_string(cb->written), opt("WRITTEN"));
      EXPECT_EQ(cb->time, opt("TIME"));
      ASSERT_TRUE(cb->delivered_read && cb->overhead_read && cb->cwnd && cb->min_rtt) << line;
      EXPECT_EQ(std::to_string(*cb->delivered_read), opt("DELIVERED_READ"));
      EXPECT_EQ(std::to_string(*cb->overhead_read), opt("OVERHEAD_READ"));
      EXPECT_EQ(std::to_string(*cb->cwnd), opt("CWND"));
      EXPECT_EQ(std::to_string(*cb->min_rtt), opt("MIN_RTT"));
    } else if (const StreamBwEvent* sb = ev.get<StreamBwEvent>()) {
      EXPECT_EQ(sb->id, f[2]);
      EXPECT_EQ(std::to_string(sb->written), f[3]);
      EXPECT_EQ(std::to_string(sb->read), f[4]);
      EXPECT_EQ(sb->time, f[5]);
    } else if (const StatusEvent* se = ev.get<StatusEvent>()) {
      EXPECT_EQ(se->severity, f[2]);
      EXPECT_EQ(se->action, f[3]);
      if (se->action == "DANGEROUS_SOCKS") {
        Value address;
        ASSERT_TRUE(se->find("ADDRESS", address)) << line;
        EXPECT_EQ(address.text, opt("ADDRESS"));
      }
    } else if (const SignalEvent* sg = ev.get<SignalEvent>()) {
      EXPECT_EQ(sg->signal, f[2]);
      EXPECT_EQ(sg->signal_enum, Signal::newnym);
    } else {
      ADD_FAILURE() << "untyped: " << line;
    }
  }
  EXPECT_EQ(reader.error().code, Errc::ok) << reader.error().message;
  EXPECT_EQ(i, lines_->size());
  for (std::string_view type : {"CIRC", "CIRC_MINOR", "STREAM", "ORCONN", "BW", "CIRC_BW",
                                "STREAM_BW", "STATUS_CLIENT", "SIGNAL"}) {
    EXPECT_GT(checked[type], 0u) << type;
  }
}

}  // namespace
}  // namespace torcon::gen
