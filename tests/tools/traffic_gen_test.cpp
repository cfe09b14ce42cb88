// tools/traffic_gen.hpp: the deterministic control-port traffic generator.
//
// The checks here are independent of the generator's code: lines are split, fields are
// parsed and addresses classified from scratch, so a wrong generator makes them fail.

#include "traffic_gen.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace torcon::gen {
namespace {

using Lines = std::vector<std::string_view>;

// Splits on CRLF; fails the test on a bare CR or LF or a missing final CRLF.
Lines split_crlf(std::string_view text) {
  Lines lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find("\r\n", pos);
    if (end == std::string_view::npos) {
      ADD_FAILURE() << "text does not end with CRLF: ..." << text.substr(pos, 80);
      break;
    }
    const std::string_view line = text.substr(pos, end - pos);
    if (line.find_first_of("\r\n") != std::string_view::npos) {
      ADD_FAILURE() << "bare CR or LF in line: " << line;
    }
    lines.push_back(line);
    pos = end + 2;
  }
  return lines;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t end = s.find(sep, pos);
    parts.push_back(s.substr(pos, end - pos));
    if (end == std::string_view::npos) return parts;
    pos = end + 1;
  }
}

bool parse_uint(std::string_view s, std::uint64_t& v) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  return res.ec == std::errc() && res.ptr == s.data() + s.size();
}

// ASCII only, independent of the C locale.
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool is_nickname(std::string_view s) {
  return !s.empty() && s.size() <= 19 && std::all_of(s.begin(), s.end(), is_alnum);
}

bool is_upper_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
  });
}

// Dotted quad -> value; false if it is not exactly four decimal octets.
bool parse_ipv4(std::string_view s, std::uint32_t& ip) {
  const auto octets = split(s, '.');
  if (octets.size() != 4) return false;
  ip = 0;
  for (auto o : octets) {
    std::uint64_t v = 0;
    if (!parse_uint(o, v) || v > 255) return false;
    ip = ip << 8 | static_cast<std::uint32_t>(v);
  }
  return true;
}

// RFC 1918 space, which a pre-commit check rejects anywhere in the tree's data.
bool is_rfc1918(std::uint32_t ip) {
  return (ip >> 24) == 10 || (ip >> 20) == (172u << 4 | 1) || (ip >> 16) == (192u << 8 | 168);
}

bool is_loopback(std::uint32_t ip) { return (ip >> 24) == 127; }

// Every dotted quad in the text, wherever it appears.
std::vector<std::uint32_t> all_ipv4(std::string_view text) {
  std::vector<std::uint32_t> found;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!is_digit(text[i]) || (i > 0 && (is_alnum(text[i - 1]) || text[i - 1] == '.'))) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && (is_digit(text[j]) || text[j] == '.')) ++j;
    std::uint32_t ip = 0;
    if (parse_ipv4(text.substr(i, j - i), ip)) found.push_back(ip);
    i = j;
  }
  return found;
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xCBF29CE484222325ULL;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ULL;
  return h;
}

// Base64 (no padding) of a 20-byte digest -> 40 upper-case hex digits.
std::string base64_to_hex(std::string_view b64) {
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bits;
  for (char c : b64) {
    const auto v = kAlphabet.find(c);
    if (v == std::string_view::npos) return {};
    for (int b = 5; b >= 0; --b) bits.push_back((v >> b) & 1 ? '1' : '0');
  }
  std::string hex;
  for (std::size_t i = 0; i + 4 <= bits.size() && hex.size() < 40; i += 4) {
    const int nibble = (bits[i] - '0') * 8 + (bits[i + 1] - '0') * 4 + (bits[i + 2] - '0') * 2 +
                       (bits[i + 3] - '0');
    hex.push_back("0123456789ABCDEF"[nibble]);
  }
  return hex;
}

// ---------------------------------------------------------------------------------------------
// ns/all

constexpr std::string_view kHead = "250+ns/all=";

struct Entry {
  std::vector<std::string_view> r;  // fields after "r"
  std::vector<std::string_view> a;
  std::string_view s, v, pr, w, p;
};

// Parses the data block into entries, checking the framing on the way.
std::vector<Entry> parse_ns_all(const std::string& reply) {
  const Lines lines = split_crlf(reply);
  EXPECT_GE(lines.size(), 3u);
  if (lines.size() < 3) return {};
  EXPECT_EQ(lines.front(), kHead);
  EXPECT_EQ(lines[lines.size() - 2], ".");
  EXPECT_EQ(lines.back(), "250 OK");
  std::vector<Entry> entries;
  for (std::size_t i = 1; i + 2 < lines.size(); ++i) {
    const std::string_view line = lines[i];
    EXPECT_FALSE(line.starts_with(".")) << "unstuffed or stray dot line: " << line;
    const std::size_t sp = line.find(' ');
    const std::string_view key = line.substr(0, sp);
    const std::string_view value = sp == std::string_view::npos ? "" : line.substr(sp + 1);
    if (key == "r") {
      entries.emplace_back().r = split(value, ' ');
      continue;
    }
    if (entries.empty()) {
      ADD_FAILURE() << "line before the first r line: " << line;
      continue;
    }
    Entry& e = entries.back();
    if (key == "a") {
      e.a.push_back(value);
    } else if (key == "s" || key == "v" || key == "pr" || key == "w" || key == "p") {
      std::string_view& slot = key == "s"    ? e.s
                               : key == "v"  ? e.v
                               : key == "pr" ? e.pr
                               : key == "w"  ? e.w
                                             : e.p;
      EXPECT_TRUE(slot.empty()) << "repeated '" << key << "' line in entry " << e.r[0];
      slot = value.empty() && key == "s" ? std::string_view(" ") : value;
    } else {
      ADD_FAILURE() << "unexpected line: " << line;
    }
  }
  return entries;
}
// Entries point into the reply, which must outlive them.
std::vector<Entry> parse_ns_all(std::string&&) = delete;

TEST(NsAllTest, SameSeedSameBytesDifferentSeedDifferentBytes) {
  const std::string a = ns_all_reply({.routers = 300, .seed = 5});
  EXPECT_EQ(a, ns_all_reply({.routers = 300, .seed = 5}));
  EXPECT_NE(a, ns_all_reply({.routers = 300, .seed = 6}));
}

TEST(NsAllTest, ExactlyNRouterLines) {
  for (std::size_t n : {0u, 1u, 2u, 17u, 500u}) {
    const std::string reply = ns_all_reply({.routers = n, .seed = 3});
    std::size_t r_lines = 0;
    for (auto line : split_crlf(reply)) r_lines += line.starts_with("r ");
    EXPECT_EQ(r_lines, n);
    EXPECT_EQ(parse_ns_all(reply).size(), n);
  }
}

TEST(NsAllTest, FramingAndLineEnds) {
  const std::string reply = ns_all_reply({.routers = 50, .seed = 9});
  EXPECT_TRUE(reply.starts_with("250+ns/all=\r\nr "));
  EXPECT_TRUE(reply.ends_with("\r\n.\r\n250 OK\r\n"));
  // The only '\n' bytes are those of CRLF pairs.
  EXPECT_EQ(std::count(reply.begin(), reply.end(), '\n'),
            std::count(reply.begin(), reply.end(), '\r'));
  split_crlf(reply);
  const std::string empty = ns_all_reply({.routers = 0, .seed = 9});
  EXPECT_EQ(empty, "250+ns/all=\r\n.\r\n250 OK\r\n");
}

TEST(NsAllTest, EntriesAreWellFormed) {
  const std::string reply = ns_all_reply({.routers = 2000, .seed = 11});
  const auto entries = parse_ns_all(reply);
  ASSERT_EQ(entries.size(), 2000u);
  std::string previous_identity;
  for (const Entry& e : entries) {
    ASSERT_EQ(e.r.size(), 8u) << e.r[0];
    EXPECT_TRUE(is_nickname(e.r[0])) << e.r[0];
    for (int i : {1, 2}) {
      EXPECT_EQ(e.r[i].size(), 27u) << e.r[i];
      EXPECT_EQ(base64_to_hex(e.r[i]).size(), 40u) << e.r[i];
    }
    // Sorted by identity, as in a consensus.
    const std::string identity = base64_to_hex(e.r[1]);
    EXPECT_LT(previous_identity, identity);
    previous_identity = identity;
    // "YYYY-MM-DD HH:MM:SS" in the day before the consensus (2024-11-01 12:00).
    EXPECT_TRUE(e.r[3] == "2024-11-01" || e.r[3] == "2024-10-31") << e.r[3];
    EXPECT_EQ(e.r[4].size(), 8u);
    std::uint32_t ip = 0;
    EXPECT_TRUE(parse_ipv4(e.r[5], ip)) << e.r[5];
    EXPECT_FALSE(is_rfc1918(ip) || is_loopback(ip) || (ip >> 24) == 0 || (ip >> 24) >= 224)
        << e.r[5];
    std::uint64_t or_port = 0, dir_port = 0;
    EXPECT_TRUE(parse_uint(e.r[6], or_port) && or_port >= 1 && or_port <= 65535) << e.r[6];
    EXPECT_TRUE(parse_uint(e.r[7], dir_port) && dir_port <= 65535) << e.r[7];

    for (auto a : e.a) {
      EXPECT_TRUE(a.starts_with("[") && a.find("]:") != std::string_view::npos) << a;
    }

    const auto flags = split(e.s, ' ');
    EXPECT_TRUE(std::is_sorted(flags.begin(), flags.end())) << e.s;
    EXPECT_EQ(std::adjacent_find(flags.begin(), flags.end()), flags.end()) << e.s;
    EXPECT_NE(std::find(flags.begin(), flags.end(), "Running"), flags.end()) << e.s;
    EXPECT_NE(std::find(flags.begin(), flags.end(), "Valid"), flags.end()) << e.s;

    EXPECT_TRUE(e.v.starts_with("Tor 0.4.")) << e.v;
    EXPECT_TRUE(e.pr.find("Link=1-5") != std::string_view::npos) << e.pr;
    EXPECT_TRUE(e.w.starts_with("Bandwidth=")) << e.w;
    const bool exit = std::find(flags.begin(), flags.end(), "Exit") != flags.end();
    if (exit) {
      EXPECT_NE(e.p, "reject 1-65535");
    }
    EXPECT_TRUE(e.p.starts_with("accept ") || e.p.starts_with("reject ")) << e.p;
  }
}

TEST(NsAllTest, RealisticMix) {
  const std::string reply = ns_all_reply({});
  const auto entries = parse_ns_all(reply);
  ASSERT_EQ(entries.size(), 8000u);
  std::map<std::string_view, int> flag_count;
  int with_ipv6 = 0, dir_port_zero = 0, reject_all = 0, unmeasured = 0;
  std::set<std::string_view> versions;
  for (const Entry& e : entries) {
    for (auto f : split(e.s, ' ')) ++flag_count[f];
    with_ipv6 += !e.a.empty();
    dir_port_zero += e.r[7] == "0";
    reject_all += e.p == "reject 1-65535";
    unmeasured += e.w.ends_with(" Unmeasured=1");
    versions.insert(e.v);
  }
  const auto share = [](int n) { return n * 100 / 8000; };
  EXPECT_GE(share(flag_count["Exit"]), 15);
  EXPECT_LE(share(flag_count["Exit"]), 25);
  EXPECT_GE(share(flag_count["Guard"]), 20);
  EXPECT_LE(share(flag_count["Guard"]), 35);
  EXPECT_GE(share(with_ipv6), 30);
  EXPECT_LE(share(with_ipv6), 40);
  EXPECT_GE(share(dir_port_zero), 75);
  EXPECT_GE(share(reject_all), 70);
  EXPECT_GT(flag_count["BadExit"], 0);
  EXPECT_GT(flag_count["MiddleOnly"], 0);
  EXPECT_GT(unmeasured, 0);
  EXPECT_GE(versions.size(), 5u);
}

TEST(NsAllTest, SmallerNetworkIsASubsetOfALargerOne) {
  const std::string small_reply = ns_all_reply({.routers = 100, .seed = 4});
  const std::string large_reply = ns_all_reply({.routers = 1000, .seed = 4});
  const auto small = split_crlf(small_reply);
  const auto large = split_crlf(large_reply);
  const std::set<std::string_view> large_r(large.begin(), large.end());
  for (auto line : small) {
    if (line.starts_with("r ")) {
      EXPECT_TRUE(large_r.contains(line)) << line;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Events

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
TEST(GoldenTest, OutputIsPinned) {
  EXPECT_EQ(fnv1a(ns_all_reply({.routers = 200, .seed = 42})), 0x88112B643D869345ULL);
  EXPECT_EQ(fnv1a(event_stream({.events = 3000, .seed = 42})), 0x67112E2C77F5B146ULL);
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
  for (std::string_view rare : {"CIRC_MINOR", "STREAM_BW", "CIRC_BW"}) {
    EXPECT_GT(count[rare], 0) << rare;
    EXPECT_LT(count[rare], 10000) << rare;
  }
  const std::set<std::string_view> known = {"CIRC",          "STREAM",         "BW",
                                            "ORCONN",        "CIRC_MINOR",     "STREAM_BW",
                                            "CIRC_BW",       "STATUS_GENERAL", "STATUS_CLIENT",
                                            "STATUS_SERVER", "SIGNAL"};
  for (const auto& [type, n] : count) EXPECT_TRUE(known.contains(type)) << type;
}

TEST_F(DefaultEventsTest, NoPrivateAddresses) {
  const auto ips = all_ipv4(*text_);
  EXPECT_GT(ips.size(), 10000u);
  for (std::uint32_t ip : ips) {
    ASSERT_FALSE(is_rfc1918(ip)) << (ip >> 24) << '.' << (ip >> 16 & 255) << '.' << (ip >> 8 & 255)
                                 << '.' << (ip & 255);
  }
}

TEST_F(DefaultEventsTest, FingerprintsAreFortyHexWithNickname) {
  std::size_t seen = 0;
  for (auto line : *lines_) {
    for (std::size_t pos = line.find('$'); pos != std::string_view::npos;
         pos = line.find('$', pos + 1)) {
      const std::string_view rest = line.substr(pos + 1);
      const std::size_t end = rest.find_first_of(", ");
      const std::string_view name = rest.substr(0, end);
      ASSERT_GE(name.size(), 42u) << line;
      EXPECT_TRUE(is_upper_hex(name.substr(0, 40))) << line;
      EXPECT_EQ(name[40], '~') << line;
      EXPECT_TRUE(is_nickname(name.substr(41))) << line;
      ++seen;
    }
  }
  EXPECT_GT(seen, 10000u);
}

TEST_F(DefaultEventsTest, RelaysComeFromTheSameSeedsNetwork) {
  std::set<std::string> identities;
  const std::string reply = ns_all_reply({});
  for (const Entry& e : parse_ns_all(reply)) identities.insert(base64_to_hex(e.r[1]));
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
    const std::size_t hops = f[4].starts_with("$") ? split(f[4], ',').size() : 0;
    if (status == "EXTENDED") {
      EXPECT_FALSE(c.built) << line;
      EXPECT_GT(hops, c.hops) << line;
      c.hops = hops;
    } else if (status == "BUILT") {
      EXPECT_FALSE(c.built) << line;
      EXPECT_EQ(hops, c.hops) << line;
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
      EXPECT_NE(line.find(" SOURCE_ADDR="), std::string_view::npos) << line;
      streams[f[2]] = {status};
      continue;
    }
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

}  // namespace
}  // namespace torcon::gen
