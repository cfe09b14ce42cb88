// router_entry.hpp: the lazy RouterEntryReader against the eager
// RouterStatusReader. Every accessor and to_status() must give what the eager
// reader gives for the same text; errors must carry the same offset, found
// either by the pass (nickname, identity, a line before any r line) or when
// the field is decoded (the rest of the r line, w lines).

#include "torcon/router_entry.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gen/network_status.hpp"
#include "parser/guarded_buffer.hpp"
#include "parser/router_samples.hpp"
#include "parser/test_printers.hpp"
#include "torcon/reply_reader.hpp"
#include "torcon/router_status.hpp"

namespace torcon {
namespace {

std::string lf_text(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// Dot-stuffed CRLF lines, as a data block holds them.
std::string data_block(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) {
    if (!l.empty() && l[0] == '.') out += '.';
    out += l + "\r\n";
  }
  return out;
}

using test::kEntry1;  // tests/parser/router_samples.hpp
using test::kEntry2;

// Microdescriptor-form r line (no digest), repeated s and w lines, bare
// keywords, an odd dot-stuffed line, an IPv4-tailed a line.
const std::vector<std::string> kEntry3 = {
    "r micro AAECAwQFBgcICQoLDA0ODxAREhM= 2024-02-29 00:00:00 192.0.2.1 443 9030",
    ".odd line",
    "a [::ffff:192.0.2.1]:1",
    "s Exit",
    "w Measured=5",
    "s Fast Guard",
    "w Bandwidth=7",
    "v",
    "pr",
    "p",
};

std::vector<std::string> all_entries() {
  std::vector<std::string> v = kEntry1;
  v.insert(v.end(), kEntry2.begin(), kEntry2.end());
  v.insert(v.end(), kEntry3.begin(), kEntry3.end());
  return v;
}

bool same_view(std::string_view a, std::string_view b) {
  return a.data() == b.data() && a.size() == b.size();
}

// Every field of two RouterStatus values; views must be the same bytes of
// the same text (so a null view differs from an empty located one).
void expect_same_status(const RouterStatus& a, const RouterStatus& b) {
  EXPECT_EQ(a.identity, b.identity);
  EXPECT_EQ(a.digest, b.digest);
  EXPECT_EQ(a.published, b.published);
  EXPECT_EQ(a.ipv4, b.ipv4);
  EXPECT_EQ(a.or_port, b.or_port);
  EXPECT_EQ(a.dir_port, b.dir_port);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.nickname(), b.nickname());
  EXPECT_EQ(a.has_ipv6, b.has_ipv6);
  EXPECT_EQ(a.ipv6.addr, b.ipv6.addr);
  EXPECT_EQ(a.ipv6.port, b.ipv6.port);
  EXPECT_EQ(a.has_bandwidth, b.has_bandwidth);
  EXPECT_EQ(a.has_measured, b.has_measured);
  EXPECT_EQ(a.unmeasured, b.unmeasured);
  EXPECT_EQ(a.bandwidth, b.bandwidth);
  EXPECT_EQ(a.measured, b.measured);
  EXPECT_TRUE(same_view(a.a_lines, b.a_lines));
  EXPECT_TRUE(same_view(a.flags_text, b.flags_text));
  EXPECT_TRUE(same_view(a.version, b.version));
  EXPECT_TRUE(same_view(a.protocols, b.protocols));
  EXPECT_TRUE(same_view(a.policy, b.policy));
  EXPECT_TRUE(same_view(a.microdesc_digest, b.microdesc_digest));
  EXPECT_TRUE(same_view(a.entry, b.entry));
}

// Whether `flags_text` names anything parse_router_flag() does not know, by
// the plain walk over its space-separated names.
bool names_unknown_flag(std::string_view flags_text) {
  for (std::size_t i = 0; i <= flags_text.size();) {
    std::size_t j = flags_text.find(' ', i);
    if (j == std::string_view::npos) j = flags_text.size();
    RouterFlag f;
    if (j > i && !parse_router_flag(flags_text.substr(i, j - i), f)) return true;
    i = j + 1;
  }
  return false;
}

// The r line after "r " as the entry holds it: to its first LF, one CR
// dropped, a stuffed dot skipped.
std::string_view r_line_of(std::string_view entry) {
  std::string_view line = entry.substr(0, entry.find('\n'));
  if (line.ends_with('\r')) line.remove_suffix(1);
  if (line.starts_with('.')) line.remove_prefix(1);
  return line.substr(std::min<std::size_t>(2, line.size()));
}

// Each accessor of `e` against the eager reader's `s`, then to_status().
void expect_entry_matches(std::string_view text, const RouterEntry& e, const RouterStatus& s) {
  EXPECT_EQ(e.nickname(), s.nickname());
  EXPECT_EQ(e.has_unknown_flags(), names_unknown_flag(s.flags_text)) << s.flags_text;
  const std::string_view r = r_line_of(s.entry);
  EXPECT_TRUE(same_view(e.r_line(), r)) << e.r_line() << " / " << r;
  EXPECT_EQ(e.identity(), s.identity);
  EXPECT_TRUE(same_view(e.entry(), s.entry));
  EXPECT_EQ(text.data() + e.offset(), s.entry.data());
  EXPECT_TRUE(same_view(e.flags_text(), s.flags_text));
  EXPECT_TRUE(same_view(e.version(), s.version));
  EXPECT_TRUE(same_view(e.protocols(), s.protocols));
  EXPECT_TRUE(same_view(e.policy(), s.policy));
  EXPECT_TRUE(same_view(e.microdesc_digest(), s.microdesc_digest));
  EXPECT_TRUE(same_view(e.a_lines(), s.a_lines));
  EXPECT_EQ(e.flags(), s.flags);
  const auto v6 = e.ipv6();
  EXPECT_EQ(v6.has_value(), s.has_ipv6);
  if (v6) {
    EXPECT_EQ(v6->addr, s.ipv6.addr);
    EXPECT_EQ(v6->port, s.ipv6.port);
  }
  ASSERT_TRUE(e.digest().ok());
  EXPECT_EQ(*e.digest(), s.digest);
  ASSERT_TRUE(e.published().ok());
  EXPECT_EQ(*e.published(), s.published);
  ASSERT_TRUE(e.ipv4().ok());
  EXPECT_EQ(*e.ipv4(), s.ipv4);
  ASSERT_TRUE(e.or_port().ok());
  EXPECT_EQ(*e.or_port(), s.or_port);
  ASSERT_TRUE(e.dir_port().ok());
  EXPECT_EQ(*e.dir_port(), s.dir_port);
  const auto bw = e.bandwidth();
  ASSERT_TRUE(bw.ok()) << bw.error().message;
  EXPECT_EQ(*bw, (RouterBandwidth{s.has_bandwidth, s.has_measured, s.unmeasured, s.bandwidth,
                                  s.measured}));
  const auto st = e.to_status();
  ASSERT_TRUE(st.ok()) << st.error().message;
  expect_same_status(*st, s);
}

// Both readers over `text`: same entries, and an eager error shows up in the
// lazy reader with the same offset, from the pass or from decode().
// Returns the number of entries both accepted.
// The offset of every LF in `text`, by a plain scan.
std::vector<std::uint32_t> naive_line_ends(std::string_view text) {
  std::vector<std::uint32_t> out;
  for (std::size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n') out.push_back(std::uint32_t(i));
  return out;
}

// RouterEntryReader given the line ends must yield exactly what it yields
// scanning for them: the same entries, then the same end or error.
void expect_indexed_same(std::string_view text) {
  const std::vector<std::uint32_t> ends = naive_line_ends(text);
  RouterEntryReader scan(text), given(text, ends);
  RouterEntry a, b;
  while (true) {
    const bool more = scan.next(a);
    ASSERT_EQ(given.next(b), more);
    if (!more) break;
    EXPECT_EQ(a.entry().data(), b.entry().data());
    EXPECT_EQ(a.entry().size(), b.entry().size());
    EXPECT_EQ(a.offset(), b.offset());
    EXPECT_EQ(a.nickname(), b.nickname());
    EXPECT_EQ(a.identity(), b.identity());
    EXPECT_EQ(a.flags_text().data(), b.flags_text().data());
    EXPECT_EQ(a.flags_text().size(), b.flags_text().size());
    EXPECT_EQ(a.version().data(), b.version().data());
    EXPECT_EQ(a.protocols().data(), b.protocols().data());
    EXPECT_EQ(a.policy().data(), b.policy().data());
    EXPECT_EQ(a.a_lines().data(), b.a_lines().data());
    EXPECT_EQ(a.a_lines().size(), b.a_lines().size());
    EXPECT_EQ(a.bandwidth().ok(), b.bandwidth().ok());
    if (a.bandwidth().ok() && b.bandwidth().ok()) {
      EXPECT_EQ(*a.bandwidth(), *b.bandwidth());
    }
    if (::testing::Test::HasFailure()) return;
  }
  EXPECT_EQ(scan.error().code, given.error().code);
  EXPECT_EQ(scan.error().offset, given.error().offset);
}

std::size_t differential(std::string_view text) {
  expect_indexed_same(text);
  if (::testing::Test::HasFailure()) return 0;
  RouterStatusReader eager(text);
  RouterEntryReader lazy(text);
  RouterStatus s;
  RouterEntry e;
  std::size_t n = 0;
  while (eager.next(s)) {
    EXPECT_TRUE(lazy.next(e)) << lazy.error().message;
    if (::testing::Test::HasFailure()) return n;
    expect_entry_matches(text, e, s);
    ++n;
  }
  if (eager.error().code == Errc::ok) {
    EXPECT_FALSE(lazy.next(e));
    EXPECT_EQ(lazy.error().code, Errc::ok) << lazy.error().message;
    return n;
  }
  // Eager stopped with an error at eager.error().offset.
  if (lazy.next(e)) {
    RouterStatus tmp;
    Error err;
    EXPECT_FALSE(e.decode(tmp, err))
        << "lazy accepted what eager rejected: " << eager.error().message;
    EXPECT_EQ(err.code, Errc::bad_router_status);
    EXPECT_EQ(err.offset, eager.error().offset) << err.message << " / " << eager.error().message;
  } else {
    EXPECT_EQ(lazy.error().code, Errc::bad_router_status);
    EXPECT_EQ(lazy.error().offset, eager.error().offset)
        << lazy.error().message << " / " << eager.error().message;
  }
  return n;
}

TEST(RouterEntryReader, RealisticEntriesLfAndDataBlock) {
  for (const std::string& text : {lf_text(all_entries()), data_block(all_entries())}) {
    EXPECT_EQ(differential(text), 3u);
    RouterEntryReader r(text);
    RouterEntry e;
    ASSERT_TRUE(r.next(e));
    EXPECT_EQ(e.nickname(), "seele");
    EXPECT_EQ(e.offset(), 0u);
    EXPECT_EQ(fingerprint_hex(e.identity()), "FBFF00102030405060708090A0B0C0D0E0F0FEFF");
    EXPECT_TRUE(e.flags().has(RouterFlag::Guard));
    EXPECT_FALSE(e.flags().has(RouterFlag::Authority));
    EXPECT_EQ(e.flags_text(), "Exit Fast FutureFlag Guard HSDir Running Stable V2Dir Valid");
    EXPECT_EQ(*e.published(), 1705322096);
    EXPECT_EQ(*e.ipv4(), 0xC000020Au);
    EXPECT_EQ(e.bandwidth()->measured, 2000u);
    ASSERT_TRUE(e.ipv6().has_value());
    EXPECT_EQ(e.ipv6()->port, 9001);
    ASSERT_TRUE(r.next(e));
    EXPECT_EQ(e.nickname(), "Unmeasured");
    EXPECT_TRUE(e.bandwidth()->unmeasured);
    EXPECT_FALSE(e.ipv6().has_value());
    EXPECT_EQ(e.version().data(), nullptr);
    ASSERT_TRUE(r.next(e));
    EXPECT_EQ(e.nickname(), "micro");
    EXPECT_EQ(*e.digest(), (std::array<std::uint8_t, 20>{}));
    // Two w lines: the second's Bandwidth, the first's Measured.
    EXPECT_EQ(*e.bandwidth(), (RouterBandwidth{true, true, false, 7, 5}));
    EXPECT_EQ(e.flags_text(), "Fast Guard");
    EXPECT_TRUE(e.version().empty());
    EXPECT_NE(e.version().data(), nullptr);
    EXPECT_FALSE(r.next(e));
    EXPECT_EQ(r.error().code, Errc::ok);
  }
}

TEST(RouterEntryReader, EmptyAndBlankInput) {
  for (std::string_view t : {"", "\n", "\r\n\r\n", "."}) {
    RouterEntryReader r(t);
    RouterEntry e;
    EXPECT_FALSE(r.next(e));
    EXPECT_EQ(r.error().code, Errc::ok);
    differential(t);
  }
}

TEST(RouterEntryReader, LastLineWithoutNewlineAndOddEndings) {
  for (const std::string end : {"", "\r", "\r\r\n", "\n\n", "\r\n"}) {
    std::string text = lf_text(kEntry2);
    text.pop_back();
    text += end;
    SCOPED_TRACE(testing::PrintToString(end));
    EXPECT_EQ(differential(text), 1u);
  }
}

const std::string kGoodR =
    "r good AAECAwQFBgcICQoLDA0ODxAREhM AAECAwQFBgcICQoLDA0ODxAREhM 2024-01-15 12:34:56 "
    "192.0.2.1 9001 0";
const std::string kId = "AAECAwQFBgcICQoLDA0ODxAREhM";

struct BadCase {
  const char* what;
  std::string line;  // the bad entry's offending line (its r line unless noted)
  bool pass;         // found by the pass (else on decode)
  bool w = false;    // the bad line is a w or m line after a good r line
};

TEST(RouterEntryReaderErrors, OffsetsFromThePassOrTheDecode) {
  const std::string when = " 2024-01-15 12:34:56 1.2.3.4 9001 0";
  const BadCase cases[] = {
      {"bad base64 identity", "r n !!!!AwQFBgcICQoLDA0ODxAREhM " + kId + when, true},
      {"identity too short", "r n AAECAwQFBgcICQoLDA0ODxAREh " + kId + when, true},
      {"identity too long", "r n AAECAwQFBgcICQoLDA0ODxAREhMA " + kId + when, true},
      {"nickname of 20 characters", "r abcdefghijABCDEFGHIJ " + kId + " " + kId + when, true},
      {"nickname with a dash", "r bad-name " + kId + " " + kId + when, true},
      {"empty nickname", "r  " + kId + " " + kId + when, true},
      {"bare r line", "r", true},
      {"r and nickname only", "r n", true},
      {"bad base64 digest", "r n " + kId + " AAECAwQFBgcICQoLDA0ODxARE*M" + when, false},
      {"IPv4 octet over 255", "r n " + kId + " " + kId + " 2024-01-15 12:34:56 256.1.2.3 1 0",
       false},
      {"ORPort over 65535", "r n " + kId + " " + kId + " 2024-01-15 12:34:56 1.2.3.4 65536 0",
       false},
      {"missing DirPort", "r n " + kId + " " + kId + " 2024-01-15 12:34:56 1.2.3.4 9001", false},
      {"February 30th", "r n " + kId + " " + kId + " 2024-02-30 00:00:00 1.2.3.4 1 0", false},
      {"extra field", "r n " + kId + " " + kId + when + " extra", false},
      {"w Bandwidth not numeric", "w Bandwidth=lots", false, true},
      {"w Bandwidth overflowing 64 bits", "w Bandwidth=18446744073709551616", false, true},
      {"w Measured not numeric", "w Bandwidth=1 Measured=x", false, true},
      {"m digest of 42 characters", "m 9LRX4zofHHTzV5KxkY+dDy5C1EPIaaydGPbV1h2zoI", true, true},
      {"m digest padded with =", "m 9LRX4zofHHTzV5KxkY+dDy5C1EPIaaydGPbV1h2zoI=", true, true},
      {"m digest with a non-base64 byte", "m 9LRX4zofHHTzV5KxkY+dDy5C1EPIaaydGPbV1h2zo-E", true,
       true},
      {"m line without a digest", "m", true, true},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.what);
    for (int crlf = 0; crlf < 2; ++crlf) {
      std::vector<std::string> lines = {kGoodR, "s Running"};
      if (c.w) lines.push_back("r w " + kId + " " + kId + when);
      const std::size_t bad = lines.size();
      lines.push_back(c.line);
      lines.push_back("s Fast");
      lines.push_back(kGoodR);  // an entry after the bad one
      const std::string text = crlf ? data_block(lines) : lf_text(lines);
      std::size_t start = 0;
      for (std::size_t i = 0; i < bad; ++i) start += lines[i].size() + (crlf ? 2 : 1);

      differential(text);  // same offset as the eager reader, wherever found

      RouterEntryReader r(text);
      RouterEntry e;
      ASSERT_TRUE(r.next(e)) << r.error().message;
      EXPECT_EQ(e.nickname(), "good");
      if (c.pass) {
        EXPECT_FALSE(r.next(e));
        EXPECT_EQ(r.error().code, Errc::bad_router_status);
        EXPECT_EQ(r.error().offset, start) << r.error().message;
        EXPECT_FALSE(r.next(e)) << "stays stopped";
        continue;
      }
      ASSERT_TRUE(r.next(e)) << r.error().message;
      const auto st = e.to_status();
      ASSERT_FALSE(st.ok());
      EXPECT_EQ(st.error().code, Errc::bad_router_status);
      EXPECT_EQ(st.error().offset, start) << st.error().message;
      if (c.w) {
        EXPECT_TRUE(e.published().ok());
        EXPECT_EQ(e.bandwidth().error().offset, start);
      } else {
        EXPECT_EQ(e.published().error().offset, start);
        EXPECT_EQ(e.bandwidth().ok(), true);
        EXPECT_EQ(e.identity().size(), 20u);
      }
      // The reader goes on: the next entry is fine.
      ASSERT_TRUE(r.next(e)) << r.error().message;
      EXPECT_EQ(e.nickname(), "good");
      EXPECT_TRUE(e.to_status().ok());
      EXPECT_FALSE(r.next(e));
      EXPECT_EQ(r.error().code, Errc::ok);
    }
  }
}

TEST(RouterEntryReaderErrors, LineBeforeTheRLine) {
  const std::string text = "s Fast Running\n" + kGoodR + "\n";
  RouterEntryReader r(text);
  RouterEntry e;
  EXPECT_FALSE(r.next(e));
  EXPECT_EQ(r.error().code, Errc::bad_router_status);
  EXPECT_EQ(r.error().offset, 0u);
  differential(text);
}

TEST(RouterEntryReaderGuardPage, TruncatedInputsDoNotOverRead) {
  const std::string lf = lf_text(all_entries());
  const std::string crlf = data_block(all_entries());
  test::GuardedBuffer g;
  for (const std::string* full : {&lf, &crlf}) {
    ASSERT_LE(full->size(), g.capacity());
    for (std::size_t n = 0; n <= full->size(); ++n) {
      const std::string_view in = g.place(std::string_view(*full).substr(0, n));
      RouterEntryReader r(in);
      RouterEntry e;
      int count = 0;
      while (r.next(e)) {
        ASSERT_LT(++count, 10);
        for (std::string_view v : {e.entry(), e.nickname(), e.flags_text(), e.version(),
                                   e.protocols(), e.policy(), e.a_lines()})
          ASSERT_TRUE(test::within(v, in)) << "prefix " << n;
        // Every decoder runs on the guarded bytes.
        (void)e.flags();
        (void)e.ipv6();
        (void)e.digest();
        (void)e.bandwidth();
        (void)e.to_status();
        OrAddressLines ol(e.a_lines());
        std::string_view a;
        while (ol.next(a)) ASSERT_TRUE(test::within(a, in));
      }
      EXPECT_LE(r.error().offset, in.size());
      differential(in);
    }
  }
}

TEST(RouterEntryReaderGuardPage, LongTextEndingAtTheGuard) {
  // Texts of a page: the SIMD paths (64-byte blocks, 32-byte nickname
  // check) run right up to the guard.
  test::GuardedBuffer g;
  std::string text;
  while (text.size() + 300 < g.capacity()) text += lf_text(kEntry2);
  for (std::size_t cut = 0; cut < 200; ++cut) {
    const std::string_view in = g.place(std::string_view(text).substr(0, text.size() - cut));
    differential(in);
  }
}

TEST(RouterEntryReader, RandomMutationsAgreeWithTheEagerReader) {
  std::mt19937_64 rng(0x1a2e27ull);
  const std::string bases[] = {lf_text(all_entries()), data_block(all_entries())};
  const char alphabet[] = " \n\r.rasvwp=0123456789x[]:\xff\t";
  for (int iter = 0; iter < 4000; ++iter) {
    std::string t = bases[iter % 2];
    const int muts = 1 + int(rng() % 4);
    for (int m = 0; m < muts; ++m) {
      const std::size_t at = rng() % t.size();
      switch (rng() % 3) {
        case 0: t[at] = alphabet[rng() % (sizeof alphabet - 1)]; break;
        case 1: t.erase(at, 1 + rng() % 3); break;
        default: t.insert(at, 1, alphabet[rng() % (sizeof alphabet - 1)]); break;
      }
      if (t.empty()) t = "r";
    }
    SCOPED_TRACE(testing::PrintToString(t));
    differential(t);
    if (HasFailure()) return;
  }
}

TEST(RouterEntryReader, FlagsAndLookalikes) {
  // Known flags, near misses and odd spacing, decoded by the SIMD path (a
  // long line follows) and by the byte loop (the s line ends the text).
  const std::vector<std::string> words = {"Authority",
                                          "BadExit",
                                          "Exit",
                                          "Fast",
                                          "Guard",
                                          "HSDir",
                                          "MiddleOnly",
                                          "Named",
                                          "NoEdConsensus",
                                          "Running",
                                          "Stable",
                                          "StaleDesc",
                                          "Sybil",
                                          "Unnamed",
                                          "V2Dir",
                                          "Valid",
                                          "exit",
                                          "Exit2",
                                          "Fas",
                                          "Runningx",
                                          "MiddleOnlyX",
                                          "NoEdConsensu",
                                          "NoEdConsensusX",
                                          "V2dir",
                                          "StaleDesk",
                                          "",
                                          "Stable\t",
                                          "Guard\xff",
                                          "A",
                                          "FutureFlagWithAVeryLongName"};
  std::mt19937_64 rng(77);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string line = "s";
    for (std::size_t k = 0, n = rng() % 20; k < n; ++k) line += " " + words[rng() % words.size()];
    const std::string pad = iter % 2 ? "\nzz " + std::string(200, 'x') + "\n" : "";
    const std::string text = kGoodR + "\n" + line + pad;
    SCOPED_TRACE(line);
    EXPECT_EQ(differential(text), 1u);
    if (HasFailure()) return;
  }
}

TEST(RouterEntryReader, GivenLineEndsThatDoNotFitTheTextFail) {
  const std::string text = data_block(all_entries());
  std::vector<std::uint32_t> ends = naive_line_ends(text);
  ASSERT_GE(ends.size(), 4u);
  const auto drain = [&](std::span<const std::uint32_t> given) {
    RouterEntryReader r(text, given);
    RouterEntry e;
    while (r.next(e)) {
    }
    return r.error();
  };
  EXPECT_EQ(drain(ends).code, Errc::ok);
  std::vector<std::uint32_t> bad = ends;
  bad[2] = std::uint32_t(text.size());  // past the text
  EXPECT_EQ(drain(bad).code, Errc::bad_router_status);
  bad = ends;
  std::swap(bad[1], bad[2]);  // out of order
  EXPECT_EQ(drain(bad).code, Errc::bad_router_status);
  bad = ends;
  bad[3] = bad[2];  // repeated
  EXPECT_EQ(drain(bad).code, Errc::bad_router_status);
  bad = ends;
  bad.back() = 0xFFFFFFFFu;
  EXPECT_EQ(drain(bad).code, Errc::bad_router_status);
}

// The given line ends are checked before the pass, but the reader still
// fails where it reaches the first bad one: the entries before it come out,
// and the error is at the start of the line it ends.
TEST(RouterEntryReader, GivenLineEndsFailAtTheFirstBadOne) {
  const std::string text = data_block(all_entries());
  const std::vector<std::uint32_t> ends = naive_line_ends(text);
  const auto line_start = [&](std::size_t k) { return k ? std::size_t(ends[k - 1]) + 1 : 0; };
  for (std::size_t k = 0; k < ends.size(); k += 1 + k / 3) {
    for (const int how : {0, 1, 2}) {  // past the text, repeated, out of order
      if (k == 0 && how != 0) continue;
      std::vector<std::uint32_t> bad = ends;
      bad[k] = how == 0 ? std::uint32_t(text.size()) : how == 1 ? bad[k - 1] : bad[k - 1] - 1;
      std::size_t want_entries = 0;  // each r line before line k ends the entry before it
      for (std::size_t i = 1; i < k; ++i) want_entries += text.compare(line_start(i), 2, "r ") == 0;
      RouterEntryReader r(text, bad);
      RouterEntry e;
      std::size_t got = 0;
      while (r.next(e)) ++got;
      SCOPED_TRACE(testing::Message() << "line " << k << ", case " << how);
      EXPECT_EQ(got, want_entries);
      EXPECT_EQ(r.error().code, Errc::bad_router_status);
      EXPECT_EQ(r.error().message, "line_ends do not match the text");
      EXPECT_EQ(r.error().offset, line_start(k));
    }
  }
}

// ReplyReader's recorded line ends, handed on: the same entries as scanning.
TEST(RouterEntryReader, LineEndsRecordedByTheReplyReader) {
  const std::string wire = gen::ns_all_reply({.routers = 500, .seed = 5});
  ReplyReader rd(ParserOptions{.record_data_lines = true});
  rd.feed(wire);
  Reply rep;
  ASSERT_EQ(rd.next(rep), ReplyReader::Next::reply) << rd.error().message;
  ASSERT_EQ(rep.lines[0].sep, Sep::data);
  const std::string_view data = rep.lines[0].data;
  const std::vector<std::uint32_t> want = naive_line_ends(data);
  ASSERT_TRUE(std::equal(want.begin(), want.end(), rep.lines[0].data_line_ends.begin(),
                         rep.lines[0].data_line_ends.end()));
  RouterEntryReader scan(data), given(data, rep.lines[0].data_line_ends);
  RouterEntry a, b;
  std::size_t n = 0;
  while (scan.next(a)) {
    ASSERT_TRUE(given.next(b));
    EXPECT_EQ(a.entry().data(), b.entry().data());
    EXPECT_EQ(a.identity(), b.identity());
    ++n;
  }
  EXPECT_FALSE(given.next(b));
  EXPECT_EQ(given.error().code, Errc::ok);
  EXPECT_EQ(n, 500u);
}

// The whole generated network, several seeds: the data block exactly as
// ReplyReader frames it.
TEST(RouterEntryReader, GeneratedNetworksAgreeWithTheEagerReader) {
  for (std::uint64_t seed : {1u, 2u, 3u, 7u, 42u}) {
    SCOPED_TRACE(seed);
    const std::string wire = gen::ns_all_reply({.routers = 8000, .seed = seed});
    ReplyReader rd;
    rd.feed(wire);
    Reply rep;
    ASSERT_EQ(rd.next(rep), ReplyReader::Next::reply) << rd.error().message;
    ASSERT_FALSE(rep.lines.empty());
    ASSERT_EQ(rep.lines[0].sep, Sep::data);
    EXPECT_EQ(differential(rep.lines[0].data), 8000u);
  }
}

// The router entries of a generated microdescriptor consensus (the document
// between its header and "directory-footer"): both readers agree, and every
// entry has its digest.
TEST(RouterEntryReader, GeneratedMicrodescConsensusAgreesWithTheEagerReader) {
  for (std::uint64_t seed : {1u, 9u}) {
    SCOPED_TRACE(seed);
    const std::string wire = gen::microdesc_consensus_reply({.routers = 3000, .seed = seed});
    ReplyReader rd;
    rd.feed(wire);
    Reply rep;
    ASSERT_EQ(rd.next(rep), ReplyReader::Next::reply) << rd.error().message;
    ASSERT_EQ(rep.lines[0].sep, Sep::data);
    const std::string_view doc = rep.lines[0].data;
    const std::size_t first = doc.find("\r\nr ");
    const std::size_t footer = doc.find("\r\ndirectory-footer");
    ASSERT_NE(first, std::string_view::npos);
    ASSERT_NE(footer, std::string_view::npos);
    const std::string_view entries = doc.substr(first + 2, footer + 2 - (first + 2));
    EXPECT_EQ(differential(entries), 3000u);
    RouterStatusReader r(entries);
    std::size_t with_digest = 0;
    for (RouterStatus s; r.next(s);) with_digest += s.microdesc_digest.size() == 43;
    EXPECT_EQ(r.error().code, Errc::ok) << r.error().message;
    EXPECT_EQ(with_digest, 3000u);
  }
}

}  // namespace
}  // namespace torcon
