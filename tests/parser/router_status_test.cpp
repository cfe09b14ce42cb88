// router_status.hpp: router status entries (dir-spec 3.4.1), as GETINFO
// ns/all, ns/id/* and NS events give them.
//
//   "r" SP nickname SP identity SP digest SP publication SP IP SP ORPort SP DirPort NL
//   "a" SP address ":" port NL          [any number]
//   "s" SP Flags NL                     [exactly once]
//   "v" SP version NL                   [at most once]
//   "pr" SP protocols NL
//   "w" SP "Bandwidth=" INT [SP "Measured=" INT] [SP "Unmeasured=1"] NL
//   "p" SP ("accept" / "reject") SP PortList NL
//   "m" ...                              [votes]
// Identity and digest are base64 with the trailing '=' removed; publication
// is "YYYY-MM-DD HH:MM:SS" UTC; nicknames are 1-19 alphanumerics (control-spec
// 2.4); unknown keywords are ignored.
//
// Expected binary values are given in hex (base64 strings were produced
// outside this code base), and the randomized test encodes with its own
// base64 and calendar code.

#include "torcon/router_status.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parser/guarded_buffer.hpp"
#include "parser/router_samples.hpp"
#include "parser/test_printers.hpp"
#include "torcon/reply_reader.hpp"

namespace torcon {
namespace {

// ---------------------------------------------------------------------------
// Independent helpers.

std::array<std::uint8_t, 20> from_hex(std::string_view hex) {
  std::array<std::uint8_t, 20> out{};
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    ADD_FAILURE() << "bad hex in test data";
    return 0;
  };
  EXPECT_EQ(hex.size(), 40u);
  for (std::size_t i = 0; i < 20 && 2 * i + 1 < hex.size(); ++i)
    out[i] = static_cast<std::uint8_t>(nib(hex[2 * i]) << 4 | nib(hex[2 * i + 1]));
  return out;
}

std::string b64_nopad(const std::array<std::uint8_t, 20>& b) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::uint8_t byte : b) {
    acc = acc << 8 | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += a[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += a[(acc << (6 - bits)) & 63];
  return out;  // 27 characters for 20 bytes, no '=' padding
}

// Days since 1970-01-01 of a proleptic Gregorian date.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::string two(unsigned v) {
  std::string s = std::to_string(v);
  return s.size() < 2 ? "0" + s : s;
}

std::string lines_to_text(const std::vector<std::string>& lines, std::string_view eol) {
  std::string out;
  for (const auto& l : lines) {
    out += l;
    out += eol;
  }
  return out;
}

// Dot-stuffs CRLF lines the way tor writes a data block body.
std::string as_data_block(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) {
    if (!l.empty() && l[0] == '.') out += '.';
    out += l;
    out += "\r\n";
  }
  return out;
}

std::array<std::uint8_t, 16> ipv6(const char* text) {
  std::array<std::uint8_t, 16> a{};
  EXPECT_EQ(inet_pton(AF_INET6, text, a.data()), 1);
  return a;
}

const std::vector<std::string> kFlagNames = {
    "Authority",     "BadExit", "Exit",   "Fast",      "Guard", "HSDir",   "MiddleOnly", "Named",
    "NoEdConsensus", "Running", "Stable", "StaleDesc", "Sybil", "Unnamed", "V2Dir",      "Valid"};

// ---------------------------------------------------------------------------
// Test data.

const char* kId1Hex = "FBFF00102030405060708090A0B0C0D0E0F0FEFF";
const char* kDg1Hex = "000102030405060708090A0B0C0D0E0F10111213";
const char* kId2Hex = "7A3C95E8D1204F6BB0C2E4F6A8193B5D7F91A3C5";
const char* kDg2Hex = "FFFEFDFCFBFAF9F8F7F6F5F4F3F2F1F0EFEEEDEC";

using test::kEntry1;
using test::kEntry2;

std::vector<std::string> both_entries() {
  std::vector<std::string> v = kEntry1;
  v.insert(v.end(), kEntry2.begin(), kEntry2.end());
  return v;
}

void expect_entry1(const RouterStatus& s) {
  EXPECT_EQ(s.nickname(), "seele");
  EXPECT_EQ(s.identity, from_hex(kId1Hex));
  EXPECT_EQ(s.digest, from_hex(kDg1Hex));
  EXPECT_EQ(s.published, 1705322096);  // 2024-01-15 12:34:56 UTC
  EXPECT_EQ(s.ipv4, 0xC000020Au);      // 192.0.2.10
  EXPECT_EQ(s.or_port, 9001);
  EXPECT_EQ(s.dir_port, 0);
  ASSERT_TRUE(s.has_ipv6);
  EXPECT_EQ(s.ipv6.addr, ipv6("2001:db8::1"));
  EXPECT_EQ(s.ipv6.port, 9001);
  for (RouterFlag f :
       {RouterFlag::Exit, RouterFlag::Fast, RouterFlag::Guard, RouterFlag::HSDir,
        RouterFlag::Running, RouterFlag::Stable, RouterFlag::V2Dir, RouterFlag::Valid})
    EXPECT_TRUE(s.flags.has(f)) << to_string(f);
  for (RouterFlag f :
       {RouterFlag::Authority, RouterFlag::BadExit, RouterFlag::MiddleOnly, RouterFlag::Named,
        RouterFlag::NoEdConsensus, RouterFlag::StaleDesc, RouterFlag::Sybil, RouterFlag::Unnamed})
    EXPECT_FALSE(s.flags.has(f)) << to_string(f);
  EXPECT_EQ(s.flags_text, "Exit Fast FutureFlag Guard HSDir Running Stable V2Dir Valid");
  EXPECT_EQ(s.version, "Tor 0.4.8.9");
  EXPECT_EQ(s.protocols, kEntry1[5].substr(3));
  EXPECT_TRUE(s.has_bandwidth);
  EXPECT_EQ(s.bandwidth, 1234u);
  EXPECT_TRUE(s.has_measured);
  EXPECT_EQ(s.measured, 2000u);
  EXPECT_FALSE(s.unmeasured);
  EXPECT_EQ(s.policy, "accept 80,443");
  EXPECT_TRUE(s.entry.starts_with("r seele "));
  EXPECT_NE(s.entry.find("p accept 80,443"), std::string_view::npos);
  EXPECT_NE(s.entry.find("zz unknown-keyword"), std::string_view::npos);
  EXPECT_EQ(s.entry.find("r Unmeasured"), std::string_view::npos) << "entry runs into the next";

  std::vector<std::string> addrs;
  OrAddressLines ol(s.a_lines);
  for (std::string_view a; ol.next(a);) addrs.emplace_back(a);
  EXPECT_EQ(addrs, (std::vector<std::string>{"[2001:db8::1]:9001", "[2001:db8:0:1::abcd]:443"}));
}

void expect_entry2(const RouterStatus& s) {
  EXPECT_EQ(s.nickname(), "Unmeasured");
  EXPECT_EQ(s.identity, from_hex(kId2Hex));
  EXPECT_EQ(s.digest, from_hex(kDg2Hex));
  EXPECT_EQ(s.published, 951868799);  // 2000-02-29 23:59:59 UTC
  EXPECT_EQ(s.ipv4, 0xFFFFFFFEu);
  EXPECT_EQ(s.or_port, 65535);
  EXPECT_EQ(s.dir_port, 80);
  EXPECT_FALSE(s.has_ipv6);
  EXPECT_TRUE(s.a_lines.empty());
  RouterFlags want;
  want.set(RouterFlag::Running);
  want.set(RouterFlag::Valid);
  EXPECT_EQ(s.flags, want);
  EXPECT_EQ(s.flags_text, "Running Valid");
  EXPECT_TRUE(s.version.empty());
  EXPECT_TRUE(s.protocols.empty());
  EXPECT_TRUE(s.has_bandwidth);
  EXPECT_EQ(s.bandwidth, 20u);
  EXPECT_FALSE(s.has_measured);
  EXPECT_TRUE(s.unmeasured);
  EXPECT_EQ(s.policy, "reject 1-65535");
  EXPECT_TRUE(s.entry.starts_with("r Unmeasured "));
  EXPECT_NE(s.entry.find("p reject 1-65535"), std::string_view::npos);
}

// ---------------------------------------------------------------------------

TEST(RouterStatusTestHelpers, AgreeWithKnownValues) {
  EXPECT_EQ(b64_nopad(from_hex(kId1Hex)), "+/8AECAwQFBgcICQoLDA0ODw/v8");
  EXPECT_EQ(b64_nopad(from_hex(kDg2Hex)), "//79/Pv6+fj39vX08/Lx8O/u7ew");
  EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(days_from_civil(2024, 1, 15) * 86400 + 12 * 3600 + 34 * 60 + 56, 1705322096);
  EXPECT_EQ(days_from_civil(2099, 12, 31) * 86400 + 86399, 4102444799);
}

TEST(RouterStatusReader, PlainLfText) {
  const std::string text = lines_to_text(both_entries(), "\n");
  RouterStatusReader r(text);
  RouterStatus s;
  ASSERT_TRUE(r.next(s)) << r.error().message;
  expect_entry1(s);
  ASSERT_TRUE(r.next(s)) << r.error().message;
  expect_entry2(s);
  EXPECT_FALSE(r.next(s));
  EXPECT_EQ(r.error().code, Errc::ok) << r.error().message;
  EXPECT_FALSE(r.next(s));
}

TEST(RouterStatusReader, DotStuffedCrlfDataBlock) {
  // As ReplyLine::data holds it; an unknown line starting with '.' shows up
  // stuffed and must be skipped like any unknown keyword.
  std::vector<std::string> lines = kEntry1;
  lines.insert(lines.begin() + 5, ".odd line that was dot-stuffed");
  lines.insert(lines.end(), kEntry2.begin(), kEntry2.end());
  const std::string block = as_data_block(lines);
  ASSERT_NE(block.find("\r\n..odd"), std::string::npos);
  RouterStatusReader r(block);
  RouterStatus s;
  ASSERT_TRUE(r.next(s)) << r.error().message;
  expect_entry1(s);
  EXPECT_EQ(s.flags_text.find('\r'), std::string_view::npos);
  EXPECT_EQ(s.policy.find('\r'), std::string_view::npos);
  ASSERT_TRUE(r.next(s)) << r.error().message;
  expect_entry2(s);
  EXPECT_FALSE(r.next(s));
  EXPECT_EQ(r.error().code, Errc::ok) << r.error().message;
}

TEST(RouterStatusReader, FromAGetinfoReplyAndAnNsEvent) {
  const std::string block = as_data_block(both_entries());
  const std::string wire = "250+ns/all=\r\n" + block + ".\r\n250 OK\r\n" + "650+NS\r\n" +
                           as_data_block(kEntry2) + ".\r\n650 OK\r\n";
  ReplyReader rr;
  rr.feed(wire);
  Reply rep;
  ASSERT_EQ(rr.next(rep), ReplyReader::Next::reply) << rr.error().message;
  ASSERT_GE(rep.lines.size(), 1u);
  {
    RouterStatusReader r(rep.lines[0].data);
    RouterStatus s;
    ASSERT_TRUE(r.next(s)) << r.error().message;
    expect_entry1(s);
    ASSERT_TRUE(r.next(s)) << r.error().message;
    expect_entry2(s);
    EXPECT_FALSE(r.next(s));
    EXPECT_EQ(r.error().code, Errc::ok);
  }
  ASSERT_EQ(rr.next(rep), ReplyReader::Next::reply) << rr.error().message;
  EXPECT_TRUE(rep.is_async());
  RouterStatusReader r(rep.lines[0].data);
  RouterStatus s;
  ASSERT_TRUE(r.next(s)) << r.error().message;
  expect_entry2(s);
  EXPECT_FALSE(r.next(s));
}

TEST(RouterStatusReader, LastLineWithoutNewline) {
  std::string text = lines_to_text(kEntry2, "\n");
  text.pop_back();
  RouterStatusReader r(text);
  RouterStatus s;
  ASSERT_TRUE(r.next(s)) << r.error().message;
  expect_entry2(s);
  EXPECT_FALSE(r.next(s));
  EXPECT_EQ(r.error().code, Errc::ok);
}

TEST(RouterStatusReader, EmptyInput) {
  RouterStatusReader r("");
  RouterStatus s;
  EXPECT_FALSE(r.next(s));
  EXPECT_EQ(r.error().code, Errc::ok);
}

TEST(RouterStatusReader, FieldsResetBetweenEntries) {
  // Entry 1 has v, pr, a, Measured; entry 2 has none: nothing may leak.
  const std::string text = lines_to_text(both_entries(), "\n");
  RouterStatusReader r(text);
  RouterStatus s;
  ASSERT_TRUE(r.next(s));
  ASSERT_TRUE(r.next(s));
  EXPECT_FALSE(s.has_ipv6);
  EXPECT_FALSE(s.has_measured);
  EXPECT_EQ(s.measured, 0u);
  EXPECT_TRUE(s.version.empty());
  EXPECT_TRUE(s.protocols.empty());
  EXPECT_FALSE(s.flags.has(RouterFlag::Exit));
}

const std::string kRLine =
    "r good AAECAwQFBgcICQoLDA0ODxAREhM AAECAwQFBgcICQoLDA0ODxAREhM 2024-01-15 12:34:56 "
    "192.0.2.1 9001 0";

TEST(RouterStatusReader, BareKeywordLinesGiveLocatedEmptyViews) {
  // "s", "v", "pr" and "p" with nothing after them: empty views that still
  // point at the line's end (they used to be null).
  const std::string text = kRLine + "\ns\nv\npr\np\n";
  RouterStatusReader r(text);
  RouterStatus s;
  ASSERT_TRUE(r.next(s)) << r.error().message;
  const std::size_t at = kRLine.size() + 1;
  const std::pair<std::string_view, std::size_t> views[] = {
      {s.flags_text, at + 1}, {s.version, at + 3}, {s.protocols, at + 6}, {s.policy, at + 8}};
  for (const auto& [v, off] : views) {
    EXPECT_TRUE(v.empty());
    ASSERT_NE(v.data(), nullptr);
    EXPECT_EQ(v.data(), text.data() + off);
  }
  EXPECT_EQ(s.flags.bits(), 0u);
}

TEST(RouterStatusReader, RepeatedSLineReplacesFlags) {
  // The last "s" line wins for both flags and flags_text.
  const std::string text = kRLine + "\ns Exit Fast Guard\ns Running Valid\n";
  RouterStatusReader r(text);
  RouterStatus s;
  ASSERT_TRUE(r.next(s)) << r.error().message;
  EXPECT_EQ(s.flags_text, "Running Valid");
  RouterFlags want;
  want.set(RouterFlag::Running);
  want.set(RouterFlag::Valid);
  EXPECT_EQ(s.flags, want);
}

TEST(RouterStatusReader, EntryDropsExactlyOneLineEnding) {
  // Line views drop one LF and then one CR; entry must end where the last
  // line's view does, keeping a stray CR that is part of the text.
  for (const std::string end : {"\r\r\n", "\r\r", "\n\n", "\r\n"}) {
    SCOPED_TRACE(testing::PrintToString(end));
    const std::string text = kRLine + "\np accept 80" + end;
    RouterStatusReader r(text);
    RouterStatus s;
    ASSERT_TRUE(r.next(s)) << r.error().message;
    EXPECT_EQ(s.policy.data() + s.policy.size(), s.entry.data() + s.entry.size());
    EXPECT_EQ(s.entry.data(), text.data());
  }
  const std::string text = kRLine + "\np accept 80\r\r\n";
  RouterStatusReader r(text);
  RouterStatus s;
  ASSERT_TRUE(r.next(s));
  EXPECT_EQ(s.policy, "accept 80\r");
  EXPECT_EQ(s.entry, text.substr(0, text.size() - 2));
}

TEST(RouterStatusReader, MinimalEntryAndNineteenCharNickname) {
  // A relay with no flags: tor writes the "s" line as a bare "s".
  const std::string nick = "abcdefghijABCDEFGH9";
  ASSERT_EQ(nick.size(), 19u);
  const std::string text = "r " + nick +
                           " AAECAwQFBgcICQoLDA0ODxAREhM AAECAwQFBgcICQoLDA0ODxAREhM "
                           "1970-01-01 00:00:00 0.0.0.1 1 0\ns\n";
  RouterStatusReader r(text);
  RouterStatus s;
  ASSERT_TRUE(r.next(s)) << r.error().message;
  EXPECT_EQ(s.nickname(), nick);
  EXPECT_EQ(s.published, 0);
  EXPECT_EQ(s.ipv4, 1u);
  EXPECT_EQ(s.or_port, 1);
  EXPECT_EQ(s.flags.bits(), 0u);
  EXPECT_FALSE(s.has_bandwidth);
  EXPECT_TRUE(s.policy.empty());
}

TEST(RouterStatusReader, RandomEntriesRoundTrip) {
  std::mt19937_64 rng(0x5eed'0f'7041ull);
  const std::string nick_chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  for (int iter = 0; iter < 300; ++iter) {
    std::array<std::uint8_t, 20> id{}, dg{};
    for (auto& b : id) b = static_cast<std::uint8_t>(rng());
    for (auto& b : dg) b = static_cast<std::uint8_t>(rng());
    std::string nick;
    for (std::size_t i = 0, n = 1 + rng() % 19; i < n; ++i)
      nick += nick_chars[rng() % nick_chars.size()];
    const std::int64_t year = 1970 + static_cast<std::int64_t>(rng() % 131);
    const unsigned month = 1 + rng() % 12;
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    const unsigned dim = mdays[month - 1] + (month == 2 && leap ? 1 : 0);
    const unsigned day = 1 + rng() % dim;
    const unsigned hh = rng() % 24, mm = rng() % 60, ss = rng() % 60;
    const std::string when = std::to_string(year) + "-" + two(month) + "-" + two(day) + " " +
                             two(hh) + ":" + two(mm) + ":" + two(ss);
    const std::int64_t t = days_from_civil(year, month, day) * 86400 + hh * 3600 + mm * 60 + ss;
    const std::uint32_t ip = static_cast<std::uint32_t>(rng());
    const std::string ip_text = std::to_string(ip >> 24) + "." + std::to_string(ip >> 16 & 255) +
                                "." + std::to_string(ip >> 8 & 255) + "." +
                                std::to_string(ip & 255);
    const std::uint16_t orp = static_cast<std::uint16_t>(rng());
    const std::uint16_t dirp = static_cast<std::uint16_t>(rng() % 2 ? rng() : 0);
    std::vector<std::string> flags;
    RouterFlags want_flags;
    for (std::size_t i = 0; i < kFlagNames.size(); ++i) {
      if (rng() % 2) {
        flags.push_back(kFlagNames[i]);
        want_flags.set(static_cast<RouterFlag>(i));
      }
    }
    if (rng() % 3 == 0) flags.push_back("Zzz" + std::to_string(iter));  // unknown flag
    std::sort(flags.begin(), flags.end());  // "in lexical order (as ASCII byte strings)"
    std::string flag_line;
    for (const auto& f : flags) flag_line += (flag_line.empty() ? "" : " ") + f;
    const std::uint64_t bw = rng() % 10000000;

    const std::vector<std::string> lines = {
        "r " + nick + " " + b64_nopad(id) + " " + b64_nopad(dg) + " " + when + " " + ip_text + " " +
            std::to_string(orp) + " " + std::to_string(dirp),
        "s " + flag_line,
        "w Bandwidth=" + std::to_string(bw),
    };
    const bool crlf = rng() % 2;
    const std::string text = crlf ? as_data_block(lines) : lines_to_text(lines, "\n");
    RouterStatusReader r(text);
    RouterStatus s;
    ASSERT_TRUE(r.next(s)) << r.error().message << "\n" << text;
    EXPECT_EQ(s.nickname(), nick);
    EXPECT_EQ(s.identity, id) << text;
    EXPECT_EQ(s.digest, dg) << text;
    EXPECT_EQ(s.published, t) << when;
    EXPECT_EQ(format_iso_time(t), when);
    EXPECT_EQ(s.ipv4, ip);
    EXPECT_EQ(format_ipv4(ip), ip_text);
    EXPECT_EQ(s.or_port, orp);
    EXPECT_EQ(s.dir_port, dirp);
    EXPECT_EQ(s.flags, want_flags) << flag_line;
    EXPECT_EQ(s.flags_text, flag_line);
    EXPECT_EQ(s.bandwidth, bw);
    EXPECT_FALSE(r.next(s));
    ASSERT_EQ(r.error().code, Errc::ok) << r.error().message;
  }
}

// ---------------------------------------------------------------------------
// Malformed entries: a good entry first, then a bad one, so the offset has to
// point into the second entry's bad line.

struct BadCase {
  const char* what;
  std::vector<std::string> entry;  // the bad entry's lines
  std::size_t bad_line;            // index of the offending line within `entry`
};

const std::string kGoodR =
    "r good AAECAwQFBgcICQoLDA0ODxAREhM AAECAwQFBgcICQoLDA0ODxAREhM 2024-01-15 12:34:56 "
    "192.0.2.1 9001 0";
const std::string kId = "AAECAwQFBgcICQoLDA0ODxAREhM";

std::string r_line(const std::string& nick, const std::string& id, const std::string& dg,
                   const std::string& when, const std::string& ip, const std::string& orp,
                   const std::string& dirp) {
  return "r " + nick + " " + id + " " + dg + " " + when + " " + ip + " " + orp + " " + dirp;
}

// The r line of a microdescriptor consensus entry (no descriptor digest).
const std::string r_md = "r n " + kId + " 2038-01-01 00:00:00 192.0.2.1 9001 0";

const std::vector<BadCase>& bad_cases() {
  static const std::vector<BadCase> cases = {
      {"bad base64 identity",
       {r_line("n", "!!!!AwQFBgcICQoLDA0ODxAREhM", kId, "2024-01-15 12:34:56", "1.2.3.4", "1", "0"),
        "s Fast"},
       0},
      {"identity too short",
       {r_line("n", "AAECAwQFBgcICQoLDA0ODxAREh", kId, "2024-01-15 12:34:56", "1.2.3.4", "1", "0"),
        "s Fast"},
       0},
      {"identity too long",
       {r_line("n", "AAECAwQFBgcICQoLDA0ODxAREhMA", kId, "2024-01-15 12:34:56", "1.2.3.4", "1",
               "0"),
        "s Fast"},
       0},
      {"bad base64 digest",
       {r_line("n", kId, "AAECAwQFBgcICQoLDA0ODxARE*M", "2024-01-15 12:34:56", "1.2.3.4", "1", "0"),
        "s Fast"},
       0},
      {"nickname of 20 characters",
       {r_line("abcdefghijABCDEFGHIJ", kId, kId, "2024-01-15 12:34:56", "1.2.3.4", "1", "0"),
        "s Fast"},
       0},
      {"nickname with a dash",
       {r_line("bad-name", kId, kId, "2024-01-15 12:34:56", "1.2.3.4", "1", "0"), "s Fast"},
       0},
      {"IPv4 octet over 255",
       {r_line("n", kId, kId, "2024-01-15 12:34:56", "256.1.2.3", "1", "0"), "s Fast"},
       0},
      {"IPv4 with three parts",
       {r_line("n", kId, kId, "2024-01-15 12:34:56", "1.2.3", "1", "0"), "s Fast"},
       0},
      {"IPv4 with five parts",
       {r_line("n", kId, kId, "2024-01-15 12:34:56", "1.2.3.4.5", "1", "0"), "s Fast"},
       0},
      {"IPv4 not numeric",
       {r_line("n", kId, kId, "2024-01-15 12:34:56", "a.b.c.d", "1", "0"), "s Fast"},
       0},
      {"ORPort over 65535",
       {r_line("n", kId, kId, "2024-01-15 12:34:56", "1.2.3.4", "65536", "0"), "s Fast"},
       0},
      {"DirPort over 65535",
       {r_line("n", kId, kId, "2024-01-15 12:34:56", "1.2.3.4", "9001", "99999"), "s Fast"},
       0},
      {"ORPort not numeric",
       {r_line("n", kId, kId, "2024-01-15 12:34:56", "1.2.3.4", "port", "0"), "s Fast"},
       0},
      {"missing DirPort",
       {"r n " + kId + " " + kId + " 2024-01-15 12:34:56 1.2.3.4 9001", "s Fast"},
       0},
      {"missing everything after the nickname", {"r n", "s Fast"}, 0},
      {"missing time of day",
       {"r n " + kId + " " + kId + " 2024-01-15 1.2.3.4 9001 0", "s Fast"},
       0},
      {"ISO date with T",
       {r_line("n", kId, kId, "2024-01-15T12:34:56", "1.2.3.4", "1", "0"), "s Fast"},
       0},
      {"month 13",
       {r_line("n", kId, kId, "2024-13-15 12:34:56", "1.2.3.4", "1", "0"), "s Fast"},
       0},
      {"hour 24", {r_line("n", kId, kId, "2024-01-15 24:00:00", "1.2.3.4", "1", "0"), "s Fast"}, 0},
      {"February 30th",
       {r_line("n", kId, kId, "2024-02-30 00:00:00", "1.2.3.4", "1", "0"), "s Fast"},
       0},
      {"February 29th of a common year",
       {r_line("n", kId, kId, "2023-02-29 12:00:00", "1.2.3.4", "1", "0"), "s Fast"},
       0},
      {"April 31st",
       {r_line("n", kId, kId, "2024-04-31 12:00:00", "1.2.3.4", "1", "0"), "s Fast"},
       0},
      {"extra field after DirPort",
       {r_line("n", kId, kId, "2024-01-15 12:34:56", "1.2.3.4", "1", "0") + " extra", "s Fast"},
       0},
      {"m digest of 42 characters",
       {r_md, "m 9LRX4zofHHTzV5KxkY+dDy5C1EPIaaydGPbV1h2zoI", "s Fast"},
       1},
      {"m digest of 44 characters",
       {r_md, "m 9LRX4zofHHTzV5KxkY+dDy5C1EPIaaydGPbV1h2zoIEE", "s Fast"},
       1},
      {"m digest padded with =",
       {r_md, "m 9LRX4zofHHTzV5KxkY+dDy5C1EPIaaydGPbV1h2zoI=", "s Fast"},
       1},
      {"m digest with a non-base64 byte",
       {r_md, "m 9LRX4zofHHTzV5KxkY+dDy5C1EPIaaydGPbV1h2zo-E", "s Fast"},
       1},
      {"m line without a digest", {r_md, "m", "s Fast"}, 1},
      {"m line with an empty digest", {r_md, "m ", "s Fast"}, 1},
      {"w Bandwidth overflowing 64 bits",
       {r_line("n", kId, kId, "2024-01-15 12:34:56", "1.2.3.4", "1", "0"), "s Fast",
        "w Bandwidth=18446744073709551616"},
       2},
  };
  return cases;
}

TEST(RouterStatusReaderErrors, MalformedRLines) {
  for (const BadCase& c : bad_cases()) {
    SCOPED_TRACE(c.what);
    for (int crlf = 0; crlf < 2; ++crlf) {
      std::vector<std::string> lines = {kGoodR, "s Running"};
      const std::size_t bad_index = lines.size() + c.bad_line;
      lines.insert(lines.end(), c.entry.begin(), c.entry.end());
      const std::string text = crlf ? as_data_block(lines) : lines_to_text(lines, "\n");
      // Where the offending line starts and ends in `text`.
      std::size_t start = 0;
      for (std::size_t i = 0; i < bad_index; ++i) start += lines[i].size() + (crlf ? 2 : 1);
      const std::size_t end = start + lines[bad_index].size();

      RouterStatusReader r(text);
      RouterStatus s;
      ASSERT_TRUE(r.next(s)) << r.error().message;
      EXPECT_EQ(s.nickname(), "good");
      if (r.next(s)) {
        ADD_FAILURE() << "accepted (" << (crlf ? "CRLF" : "LF") << "): published=" << s.published
                      << " ipv4=" << s.ipv4 << " or_port=" << s.or_port;
        continue;
      }
      EXPECT_EQ(r.error().code, Errc::bad_router_status);
      EXPECT_FALSE(r.error().message.empty());
      EXPECT_GE(r.error().offset, start) << r.error().message;
      EXPECT_LE(r.error().offset, end) << r.error().message;
      EXPECT_FALSE(r.next(s)) << "stays stopped";
      EXPECT_EQ(r.error().code, Errc::bad_router_status);
    }
  }
}

// The "m" line of a microdescriptor consensus entry: its digest as written;
// a vote's "m methods sha256=..." form is not one; the last digest wins.
TEST(RouterStatusReader, MicrodescDigestLine) {
  const std::string d1 = "9LRX4zofHHTzV5KxkY+dDy5C1EPIaaydGPbV1h2zoIE";
  const std::string d2 = "aSLCBiHkOTZs9SBCqjOQ10ZmXbXY3Pc2d7K1YFSa/KU";
  const std::string vote = "m 13,14,15 sha256=q2hK8kcVbBW9RWbSk0hJnBsVGgy5zz8tcYh2i9D0aKM";
  const struct {
    const char* what;
    std::vector<std::string> lines;
    std::string digest;  // empty: none
  } cases[] = {
      {"microdesc entry", {r_md, "m " + d1, "s Fast"}, d1},
      {"m line last", {r_md, "s Fast", "w Bandwidth=1", "m " + d2}, d2},
      {"ns entry has none", {kGoodR, "s Fast", "w Bandwidth=1"}, ""},
      {"vote form is not a digest", {kGoodR, vote, "s Fast"}, ""},
      {"vote form, then a digest", {r_md, vote, "m " + d1}, d1},
      {"repeated: the last", {r_md, "m " + d1, "m " + d2}, d2},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    for (const char* eol : {"\n", "\r\n"}) {
      const std::string text = lines_to_text(c.lines, eol);
      RouterStatusReader r(text);
      RouterStatus s;
      ASSERT_TRUE(r.next(s)) << r.error().message;
      EXPECT_EQ(s.microdesc_digest, c.digest);
      if (!c.digest.empty()) {
        EXPECT_TRUE(s.entry.data() <= s.microdesc_digest.data() &&
                    s.microdesc_digest.data() + 43 <= s.entry.data() + s.entry.size());
      }
      EXPECT_FALSE(r.next(s));
      EXPECT_EQ(r.error().code, Errc::ok) << r.error().message;
    }
  }
}

TEST(RouterStatusReader, LeapDayIsValid) {
  const std::string text =
      r_line("n", kId, kId, "2024-02-29 00:00:00", "1.2.3.4", "1", "0") + "\ns Fast\n";
  RouterStatusReader r(text);
  RouterStatus s;
  ASSERT_TRUE(r.next(s)) << r.error().message;
  EXPECT_EQ(s.published, 1709164800);
}

TEST(RouterStatusReader, ALineWithoutAddress) {
  // dir-spec: "a" SP address ":" port. An "a" line with nothing after the
  // keyword is malformed; whether the reader reports it or skips it, the
  // views it hands out must stay inside the text.
  const std::pair<const char*, std::string> cases[] = {
      {"bare a line", "\na\ns Fast\n"},
      {"bare a at the very end", "\ns Fast\na"},
      {"bare a line, CRLF", "\r\na\r\ns Fast\r\n"},
  };
  for (const auto& [what, tail] : cases) {
    SCOPED_TRACE(what);
    const std::string text = kGoodR + tail;
    RouterStatusReader r(text);
    RouterStatus s;
    if (r.next(s)) {
      EXPECT_FALSE(s.has_ipv6);
      if (!test::within(s.a_lines, text)) {
        ADD_FAILURE() << "a_lines = {" << static_cast<const void*>(s.a_lines.data()) << ", "
                      << s.a_lines.size() << "} is outside the text at "
                      << static_cast<const void*>(text.data());
        continue;  // iterating it would crash
      }
      OrAddressLines ol(s.a_lines);
      std::string_view a;
      while (ol.next(a)) ASSERT_TRUE(test::within(a, text));
    } else {
      EXPECT_EQ(r.error().code, Errc::bad_router_status);
      EXPECT_GE(r.error().offset, kGoodR.size());
    }
  }
}

TEST(RouterStatusReaderErrors, LineBeforeTheRLine) {
  const std::string text = "s Fast Running\n" + kGoodR + "\n";
  RouterStatusReader r(text);
  RouterStatus s;
  EXPECT_FALSE(r.next(s));
  EXPECT_EQ(r.error().code, Errc::bad_router_status);
  EXPECT_EQ(r.error().offset, 0u);
}

TEST(RouterStatusReaderErrors, WBandwidthNotNumeric) {
  const std::string text = kGoodR + "\ns Fast\nw Bandwidth=lots\n";
  RouterStatusReader r(text);
  RouterStatus s;
  EXPECT_FALSE(r.next(s));
  EXPECT_EQ(r.error().code, Errc::bad_router_status);
  const std::size_t start = kGoodR.size() + 1 + 7;
  EXPECT_GE(r.error().offset, start);
  EXPECT_LE(r.error().offset, start + 16);
}

TEST(RouterStatusReaderGuardPage, TruncatedInputsDoNotOverRead) {
  const std::string lf = lines_to_text(both_entries(), "\n");
  const std::string crlf = as_data_block(both_entries());
  test::GuardedBuffer g;
  for (const std::string* full : {&lf, &crlf}) {
    ASSERT_LE(full->size(), g.capacity());
    for (std::size_t n = 0; n <= full->size(); ++n) {
      const std::string_view in = g.place(std::string_view(*full).substr(0, n));
      RouterStatusReader r(in);
      RouterStatus s;
      int count = 0;
      while (r.next(s)) {
        ASSERT_LT(++count, 10);
        ASSERT_TRUE(test::within(s.entry, in)) << "prefix " << n;
        // Checked before use so a bad view fails the test instead of crashing it.
        ASSERT_TRUE(test::within(s.a_lines, in)) << "prefix " << n;
        for (std::string_view v : {s.flags_text, s.version, s.protocols, s.policy})
          ASSERT_TRUE(test::within(v, in)) << "prefix " << n;
        OrAddressLines ol(s.a_lines);
        std::string_view a;
        while (ol.next(a)) ASSERT_TRUE(test::within(a, in)) << "prefix " << n;
      }
      EXPECT_LE(r.error().offset, in.size());
    }
  }
}

TEST(OrAddressLinesGuardPage, TruncatedALines) {
  const std::string full = "a [2001:db8::1]:9001\na [::1]:1\r\na [2001:db8::2]:2";
  test::GuardedBuffer g;
  for (std::size_t n = 0; n <= full.size(); ++n) {
    const std::string_view in = g.place(std::string_view(full).substr(0, n));
    OrAddressLines ol(in);
    std::string_view a;
    int count = 0;
    while (ol.next(a)) {
      ASSERT_LT(++count, 10);
      ASSERT_TRUE(test::within(a, in));
    }
  }
}

TEST(OrAddressLines, IteratesAll) {
  const std::string a_lines = "a [2001:db8::1]:9001\na [::1]:1\na [2001:db8::2]:65535";
  OrAddressLines ol(a_lines);
  std::vector<std::string> got;
  for (std::string_view a; ol.next(a);) got.emplace_back(a);
  EXPECT_EQ(got,
            (std::vector<std::string>{"[2001:db8::1]:9001", "[::1]:1", "[2001:db8::2]:65535"}));
  OrAddressLines empty("");
  std::string_view a;
  EXPECT_FALSE(empty.next(a));
}

// ---------------------------------------------------------------------------
// Flags and formatting helpers.

TEST(RouterFlags, NamesRoundTrip) {
  ASSERT_EQ(kFlagNames.size(), std::size_t(RouterFlag::kCount));
  for (std::size_t i = 0; i < kFlagNames.size(); ++i) {
    const RouterFlag f = static_cast<RouterFlag>(i);
    EXPECT_EQ(to_string(f), kFlagNames[i]);
    RouterFlag back = RouterFlag::kCount;
    ASSERT_TRUE(parse_router_flag(kFlagNames[i], back)) << kFlagNames[i];
    EXPECT_EQ(back, f);
  }
}

TEST(RouterFlags, UnknownNamesAreNotParsed) {
  RouterFlag f = RouterFlag::Valid;
  for (std::string_view name :
       {"FutureFlag", "", "exit", "Exit ", "BadDirectory", "Valid2", "Vali"})
    EXPECT_FALSE(parse_router_flag(name, f)) << name;
}

TEST(RouterFlags, Bitset) {
  RouterFlags a;
  EXPECT_EQ(a.bits(), 0u);
  a.set(RouterFlag::Valid);
  a.set(RouterFlag::Authority);
  EXPECT_TRUE(a.has(RouterFlag::Valid));
  EXPECT_TRUE(a.has(RouterFlag::Authority));
  EXPECT_FALSE(a.has(RouterFlag::Exit));
  EXPECT_EQ(a.bits(), (1u << unsigned(RouterFlag::Valid)) | 1u);
  RouterFlags b;
  EXPECT_NE(a, b);
  b.set(RouterFlag::Authority);
  b.set(RouterFlag::Valid);
  EXPECT_EQ(a, b);
}

TEST(Formatting, FingerprintHex) {
  EXPECT_EQ(fingerprint_hex(from_hex(kId1Hex)), kId1Hex);
  EXPECT_EQ(fingerprint_hex(from_hex("7a3c95e8d1204f6bb0c2e4f6a8193b5d7f91a3c5")),
            "7A3C95E8D1204F6BB0C2E4F6A8193B5D7F91A3C5");
  EXPECT_EQ(fingerprint_hex({}), std::string(40, '0'));
}

TEST(Formatting, Ipv4) {
  EXPECT_EQ(format_ipv4(0xC000020Au), "192.0.2.10");
  EXPECT_EQ(format_ipv4(0x7F000001u), "127.0.0.1");
  EXPECT_EQ(format_ipv4(0), "0.0.0.0");
  EXPECT_EQ(format_ipv4(0xFFFFFFFFu), "255.255.255.255");
  EXPECT_EQ(format_ipv4(0x0B00FF01u), "11.0.255.1");
}

TEST(Formatting, IsoTime) {
  EXPECT_EQ(format_iso_time(0), "1970-01-01 00:00:00");
  EXPECT_EQ(format_iso_time(1705322096), "2024-01-15 12:34:56");
  EXPECT_EQ(format_iso_time(951868799), "2000-02-29 23:59:59");
  EXPECT_EQ(format_iso_time(951868800), "2000-03-01 00:00:00");
  EXPECT_EQ(format_iso_time(2147483648), "2038-01-19 03:14:08");
  EXPECT_EQ(format_iso_time(4102444799), "2099-12-31 23:59:59");
}

}  // namespace
}  // namespace torcon
