// The fast decoders of parser/router_status_fast.hpp against the reference
// decoders of parser/router_status_detail.hpp: on anything, a fast decoder
// either declines or gives exactly the reference's answer; on the forms tor
// writes it must not decline (or the fast path would be dead code). Inputs
// sit right before a PROT_NONE page (any over-read crashes), both flush with
// it (the scalar fallbacks) and with room for the SIMD loads.

#include "router_status_fast.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "gen/network_status.hpp"
#include "parser/guarded_buffer.hpp"
#include "torcon/reply_reader.hpp"
#include "torcon/router_status.hpp"

namespace torcon {
namespace {

using namespace detail;
using test::GuardedBuffer;

// `text` placed before the guard page followed by `slack` readable bytes of
// filler: returns the placed text; lim is the guard.
std::string_view place(GuardedBuffer& g, std::string_view text, std::size_t slack) {
  std::string s(text);
  s.append(slack, 'Z');
  return g.place(s).substr(0, text.size());
}

std::string random_digits(std::mt19937_64& rng, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += char('0' + rng() % 10);
  return s;
}

TEST(SwarDigits, EveryLengthAgreesWithParseUint) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 20000; ++i) {
    const unsigned n = 1 + unsigned(rng() % 8);
    std::string s = random_digits(rng, int(n)) + "xxxxxxxx";
    std::uint64_t want;
    ASSERT_TRUE(parse_uint(std::string_view(s).substr(0, n), ~std::uint64_t{0}, want));
    EXPECT_EQ(swar_digits(s.data(), n), want) << s;
  }
  EXPECT_EQ(swar_digits("99999999", 8), 99999999u);
  EXPECT_EQ(swar_digits("00000000", 8), 0u);
  EXPECT_EQ(swar_digits("65535 0", 5), 65535u);
}

TEST(IpPortsFast, AgreesWithTheScalarSplit) {
  GuardedBuffer g;
  std::mt19937_64 rng(2);
  // Pieces: octets and ports of 0-7 digits, and separators that are mostly
  // right, so both accepted and refused forms come up often.
  const char* seps[] = {".", ".", ".", " ", " ", "", "x", "..", "  ", "-"};
  int accepted = 0;
  for (int i = 0; i < 30000; ++i) {
    std::string s;
    for (int k = 0; k < 6; ++k) {
      const int digits = rng() % 8 == 0 ? int(rng() % 8) : 1 + int(rng() % (k < 4 ? 3 : 5));
      s += random_digits(rng, digits);
      if (k < 5) s += rng() % 16 == 0 ? seps[rng() % 10] : (k < 3 ? "." : " ");
    }
    for (const std::size_t slack : {std::size_t(0), std::size_t(48)}) {
      const std::string_view t = place(g, s, slack);
      RouterStatus fast, ref;
      const bool ok = ip_ports_fast(t.data(), t.data() + t.size(), g.guard(), fast);
      const bool ref_ok = parse_ip_ports(t, ref);
      if (ok) {
        ASSERT_TRUE(ref_ok) << s;
        EXPECT_EQ(fast.ipv4, ref.ipv4) << s;
        EXPECT_EQ(fast.or_port, ref.or_port) << s;
        EXPECT_EQ(fast.dir_port, ref.dir_port) << s;
        ++accepted;
      } else if (slack && ref_ok && s.size() <= 32) {
        // Declining is only allowed for what the fast form excludes.
        std::size_t max_digits = 0, run = 0;
        for (char c : s)
          run = c >= '0' && c <= '9' ? run + 1 : 0, max_digits = std::max(max_digits, run);
        EXPECT_GT(max_digits, 3u) << "declined a plain form: " << s;
      }
    }
  }
  EXPECT_GT(accepted, 3000);
}

TEST(TimeFast, AgreesWithParseTime) {
  GuardedBuffer g;
  std::mt19937_64 rng(3);
  int accepted = 0;
  const auto check = [&](const std::string& s) {
    for (const std::size_t slack : {std::size_t(0), std::size_t(32)}) {
      const std::string_view t = place(g, s, slack);
      std::int64_t fast = -1, ref = -2;
      const bool ok = time_fast(t.data(), g.guard(), fast);
      // The space between date and time is the r line's field separator,
      // which parse_time() is not given.
      const bool ref_ok = t[10] == ' ' && parse_time(t.substr(0, 10), t.substr(11, 8), ref);
      if (ok) {
        ASSERT_TRUE(ref_ok) << s;
        ASSERT_EQ(fast, ref) << s;
        ++accepted;
      } else if (slack) {
        ASSERT_FALSE(ref_ok) << "declined a valid time: " << s;
      }
    }
  };
  // Every day of 1970-2100 (leap rules: 2000 yes, 2100 no) at a random time.
  for (int y = 1970; y <= 2100; ++y)
    for (int m = 1; m <= 12; ++m)
      for (int d = 1; d <= 31; ++d) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d", y, m, d, int(rng() % 24),
                      int(rng() % 60), int(rng() % 61));
        check(buf);
      }
  // Random bytes in random places: refused alike.
  const std::string alphabet = "0123456789-: x\xff";
  for (int i = 0; i < 20000; ++i) {
    std::string s = "2024-02-29 23:59:60";
    for (int k = int(rng() % 3); k > 0; --k)
      s[rng() % s.size()] = alphabet[rng() % alphabet.size()];
    check(s);
  }
  EXPECT_GT(accepted, 40000);
}

TEST(Ipv6Fast, AgreesWithInetPton) {
  GuardedBuffer g;
  std::mt19937_64 rng(4);
  int fast_forms = 0, simd_forms = 0;
  const auto check = [&](const std::string& s) {
    for (const std::size_t slack : {std::size_t(0), std::size_t(64)}) {
      const std::string_view t = place(g, s, slack);
      Ipv6OrAddress fast, ref, simd;
      const bool ok = parse_or_address6_fast(t, g.guard(), fast);
      const bool ref_ok = parse_or_address6(t, ref);
      ASSERT_EQ(ok, ref_ok) << s;
      if (ok) {
        EXPECT_EQ(fast.addr, ref.addr) << s;
        EXPECT_EQ(fast.port, ref.port) << s;
      }
      // The SIMD form in front of it: declines, or the same answer.
      if (or_address6_simd(t, g.guard(), simd)) {
        ++simd_forms;
        ASSERT_TRUE(ref_ok) << s;
        EXPECT_EQ(simd.addr, ref.addr) << s;
        EXPECT_EQ(simd.port, ref.port) << s;
      }
    }
  };
  for (int i = 0; i < 20000; ++i) {
    std::array<std::uint8_t, 16> a{};
    // Runs of zero groups, so inet_ntop compresses some of them.
    for (int k = 0; k < 8; ++k)
      if (rng() % 3)
        a[2 * k] = std::uint8_t(rng() % 4 ? 0 : rng()), a[2 * k + 1] = std::uint8_t(rng());
    char host[INET6_ADDRSTRLEN];
    ASSERT_NE(inet_ntop(AF_INET6, a.data(), host, sizeof host), nullptr);
    std::string s = std::string("[") + host + "]:" + std::to_string(rng() % 70000);
    ++fast_forms;
    check(s);
    if (rng() % 4 == 0) {  // upper case, a leading zero, or a mutation
      for (char& c : s) c = char(std::toupper(c));
      check(s);
      s.insert(1, "0");
      check(s);
      s[1 + rng() % (s.size() - 1)] = "0:.]x[g"[rng() % 7];
      check(s);
    }
  }
  for (const char* s :
       {"[::]:1", "[::1]:9001", "[1::]:1", "[1:2:3:4:5:6:7:8]:1", "[1:2:3:4:5:6:7::]:1",
        "[::ffff:192.0.2.1]:443", "[1::2::3]:1", "[1:2:3:4:5:6:7:8:9]:1", "[12345::]:1", "[:1]:1",
        "[1:]:1", "[]:1", "[::]:", "[::]:65536", "[0000:0:0:0:0:0:0:1]:80"})
    check(s);
  EXPECT_GT(fast_forms, 0);
  EXPECT_GT(simd_forms, 10000);
}

// The SIMD form takes what tor writes (RFC 5952: lower case, no leading
// zeros, the longest zero run as "::") and declines the rest, which the
// scalar form (or inet_pton) then decides.
TEST(Ipv6Simd, TorFormsTakenOddFormsDeclined) {
  struct Case {
    const char* text;
    bool taken;  // by the SIMD form, given room for its loads
  };
  GuardedBuffer g;
  for (const Case& c : {
           Case{"[2001:db8::1]:9001", true},
           Case{"[2001:db8:85a3:8d3:1319:8a2e:370:7348]:443", true},      // eight groups
           Case{"[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535", true},  // longest
           Case{"[1::]:1", true},                                         // trailing "::"
           Case{"[::1]:9001", true},                                      // leading "::"
           Case{"[::2:3:4:5:6:7:8]:1", true},                             // "::" for one group
           Case{"[1:2:3:4:5:6:7::]:1", true},
           Case{"[2001:db8:0:1::a]:1", true},
           Case{"[fe80::abcd:ef01]:5", true},
           Case{"[::]:9001", false},               // "::" alone
           Case{"[::ffff:192.0.2.1]:443", false},  // embedded IPv4
           Case{"[2001:DB8::1]:9001", false},      // upper case
           Case{"[2001:0db8::1]:9001", true},      // leading zeros: inet_pton takes them
           Case{"[02001:db8::1]:9001", false},     // a 5-digit group
           Case{"[1:2:3:4:5:6:7:8:9]:1", false},   // nine groups
           Case{"[1:2:3:4:5:6:7]:1", false},       // seven without "::"
           Case{"[1::2::3]:1", false},             // two "::"
           Case{"[1:::2]:1", false},               // ":::"
           Case{"[:1::2]:1", false},               // a single leading ':'
           Case{"[1::2:]:1", false},               // a single trailing ':'
           Case{"[2001:db8::g]:1", false},         // not hex
           Case{"[2001:db8::1]:0", false},         // port 0
           Case{"[2001:db8::1]:65536", false},     // port too large
           Case{"[2001:db8::1]:123456", false},    // six digits
           Case{"[2001:db8::1]:", false},          // no port
           Case{"[2001:db8::1]:9x", false},        // bad port
           Case{"[2001:db8::1]9001", false},       // no ':'
           Case{"[2001:db8::1 ]:9001", false},     // a space
           Case{"2001:db8::1:9001", false},        // no brackets
           Case{"[2001:db8::1:9001", false},       // no ']'
           Case{"[]:1", false},                    // empty
       }) {
    Ipv6OrAddress ref;
    const bool ref_ok = parse_or_address6(c.text, ref);
    for (const std::size_t slack : {std::size_t(0), std::size_t(64)}) {
      const std::string_view t = place(g, c.text, slack);
      Ipv6OrAddress simd;
      const bool taken = or_address6_simd(t, g.guard(), simd);
      EXPECT_EQ(taken, slack != 0 && c.taken) << c.text;
      if (!taken) continue;
      ASSERT_TRUE(ref_ok) << c.text;
      EXPECT_EQ(simd.addr, ref.addr) << c.text;
      EXPECT_EQ(simd.port, ref.port) << c.text;
    }
  }
}

// decode27_fast() against decode27(): the same bytes and answer for every
// alphabet character in every position, and for strings with one byte
// outside the alphabet (its neighbours in ASCII, high bytes, '=' and NUL).
TEST(Decode27Fast, AgreesWithTheTable) {
  GuardedBuffer g;
  std::mt19937_64 rng(5);
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::string strangers = std::string("@[`{:*,.-=~ \x80\xff") + '\0';
  int taken = 0;
  const auto check = [&](const std::string& s) {
    for (const std::size_t slack : {std::size_t(0), std::size_t(5), std::size_t(40)}) {
      const std::string_view t = place(g, s, slack);
      std::uint8_t fast[20] = {}, ref[20] = {};
      const bool ok = decode27_fast(t.data(), g.guard(), fast);
      ASSERT_EQ(ok, decode27(t.data(), ref)) << s;
      if (!ok) continue;
      ++taken;
      EXPECT_EQ(std::memcmp(fast, ref, 20), 0) << s;
    }
  };
  for (std::size_t c = 0; c < alphabet.size(); ++c) {  // each character in each place
    std::string s(27, 'A');
    for (std::size_t pos = 0; pos < 27; ++pos) {
      s.assign(27, alphabet[(c + pos) % 64]);
      s[pos] = alphabet[c];
      check(s);
    }
  }
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    for (int k = 0; k < 27; ++k) s += alphabet[rng() % 64];
    if (rng() % 3 == 0) s[rng() % 27] = strangers[rng() % strangers.size()];
    check(s);
  }
  EXPECT_GT(taken, 40000);
}

TEST(DecodeFlags, AgreesWithTheTokenLoop) {
  GuardedBuffer g;
  std::mt19937_64 rng(5);
  // Every known flag, and near misses of them.
  std::vector<std::string> words = {
      "",       "fast",     "Exits", "Exi",      "NoEdConsensusX",      "ReachableIPv6",
      "V2Dirx", "StaleDes", "A",     "\xff\xfe", "MiddleOnlyMiddleOnly"};
  for (unsigned f = 0; f < unsigned(RouterFlag::kCount); ++f)
    words.emplace_back(to_string(RouterFlag(f)));
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    for (int k = int(rng() % 24); k > 0; --k) {
      if (!s.empty()) s += ' ';
      s += words[rng() % words.size()];
    }
    for (const std::size_t slack : {std::size_t(0), std::size_t(128)}) {
      const std::string_view t = place(g, s, slack);
      RouterFlags want;
      bool want_unknown = false;
      for_each_token(t.data(), t.data() + t.size(), [&](const char* p, std::size_t n) {
        RouterFlag f;
        if (flag_fast(p, n, f))
          want.set(f);
        else if (n != 0)
          want_unknown = true;
      });
      bool unknown = !want_unknown;
      EXPECT_EQ(decode_flags(t.data(), t.size(), g.guard(), unknown).bits(), want.bits()) << s;
      EXPECT_EQ(unknown, want_unknown) << s;
    }
  }
}

// The cache answers exactly what decode_flags() does, whatever collides:
// lines that share their first and last 8 bytes and length but differ inside
// (the same hash), short and long lines, and one cache over many lines.
TEST(FlagsCache, AlwaysAgreesWithDecodeFlags) {
  std::mt19937_64 rng(7);
  const std::vector<std::string> words = {
      "Exit",  "Fast", "Guard",   "HSDir",      "Running",   "Stable",        "V2Dir",
      "Valid", "Fasx", "BadExit", "MiddleOnly", "StaleDesc", "NoEdConsensus", "Q"};
  std::string text;
  std::vector<std::pair<std::size_t, std::size_t>> lines;
  const auto add = [&](const std::string& l) {
    lines.emplace_back(text.size(), l.size());
    text += l;
    text += "\r\n";
  };
  // Few enough to fit one guarded page; each is looked up twice below.
  for (int i = 0; i < 50; ++i) {
    std::string l;
    for (int k = int(rng() % 10); k > 0; --k) {
      if (!l.empty()) l += ' ';
      l += words[rng() % words.size()];
    }
    add(l);
  }
  // Same length, first and last 8 bytes: only the middle word differs.
  add("Running Fast Exit Stable V2Dir");
  add("Running Fasx Exit Stable V2Dir");
  add("Running Fast Exit Stable V2Dir");
  add("Fast");  // shorter than 8: not cached
  GuardedBuffer g;
  for (const std::size_t slack : {std::size_t(0), std::size_t(64)}) {
    // The whole text before the guard, so the last lines have no SIMD room
    // when slack is 0.
    std::string placed = text;
    placed.append(slack, 'Z');
    ASSERT_LE(placed.size(), g.capacity());
    const char* base = g.place(placed).data();
    FlagsCache c;
    for (int round = 0; round < 2; ++round)
      for (const auto& [off, len] : lines) {  // the second round hits
        const char* b = base + off;
        bool unknown = false, want_unknown = true;
        ASSERT_EQ(c.get(b, len, g.guard(), unknown), decode_flags(b, len, g.guard(), want_unknown))
            << std::string_view(b, len);
        ASSERT_EQ(unknown, want_unknown) << std::string_view(b, len);
      }
  }
}

TEST(ParseRFixed, AgreesWithTheGeneralParser) {
  // Every r line of a generated network, as is and with one byte changed.
  const std::string wire = gen::ns_all_reply({.routers = 2000, .seed = 9});
  GuardedBuffer g;
  std::mt19937_64 rng(6);
  std::size_t pos = 0, fast = 0;
  while ((pos = wire.find("\nr ", pos)) != std::string::npos) {
    pos += 3;
    std::string rest = wire.substr(pos, wire.find('\r', pos) - pos);
    for (int variant = 0; variant < 3; ++variant) {
      if (variant) rest[rng() % rest.size()] = "0123456789 .:-xAZ+/="[rng() % 20];
      for (const std::size_t slack : {std::size_t(0), std::size_t(64)}) {
        const std::string_view t = place(g, rest, slack);
        RouterStatus a, b;
        std::string why;
        const bool ok = parse_r_fixed(t.data(), t.data() + t.size(), g.guard(), a);
        const bool ref_ok = parse_r_general(t, b, why);
        if (variant == 0) {
          ASSERT_TRUE(ok) << rest;
          fast += slack != 0;
        }
        if (!ok) continue;
        ASSERT_TRUE(ref_ok) << rest;
        EXPECT_EQ(a.nickname(), b.nickname());
        EXPECT_EQ(a.identity, b.identity);
        EXPECT_EQ(a.digest, b.digest);
        EXPECT_EQ(a.published, b.published);
        EXPECT_EQ(a.ipv4, b.ipv4);
        EXPECT_EQ(a.or_port, b.or_port);
        EXPECT_EQ(a.dir_port, b.dir_port);
      }
    }
  }
  EXPECT_EQ(fast, 2000u);
}

// RouterStatusReader given ReplyReader's recorded line ends: the same entries
// as when it scans; ends that do not fit the text are an error.
TEST(RouterStatusReader, GivenLineEndsAgreeWithScanning) {
  const std::string wire = gen::ns_all_reply({.routers = 3000, .seed = 11});
  ReplyReader rd(ParserOptions{.record_data_lines = true});
  rd.feed(wire);
  Reply rep;
  ASSERT_EQ(rd.next(rep), ReplyReader::Next::reply) << rd.error().message;
  const std::string_view data = rep.lines[0].data;
  const auto ends = rep.lines[0].data_line_ends;
  ASSERT_FALSE(ends.empty());
  RouterStatusReader scan(data), given(data, ends);
  RouterStatus a, b;
  std::size_t n = 0;
  while (scan.next(a)) {
    ASSERT_TRUE(given.next(b)) << given.error().message;
    EXPECT_EQ(a.entry.data(), b.entry.data());
    EXPECT_EQ(a.entry.size(), b.entry.size());
    EXPECT_EQ(a.identity, b.identity);
    EXPECT_EQ(a.flags, b.flags);
    EXPECT_EQ(a.ipv6.addr, b.ipv6.addr);
    EXPECT_EQ(a.bandwidth, b.bandwidth);
    EXPECT_EQ(a.policy.data(), b.policy.data());
    ++n;
  }
  EXPECT_EQ(scan.error().code, Errc::ok);
  EXPECT_FALSE(given.next(b));
  EXPECT_EQ(given.error().code, Errc::ok);
  EXPECT_EQ(n, 3000u);

  const auto drain = [&](std::span<const std::uint32_t> e) {
    RouterStatusReader r(data, e);
    RouterStatus s;
    while (r.next(s)) {
    }
    return r.error().code;
  };
  std::vector<std::uint32_t> bad(ends.begin(), ends.end());
  bad[5] = bad[5] - 1;  // not at an LF
  EXPECT_EQ(drain(bad), Errc::bad_router_status);
  bad.assign(ends.begin(), ends.end());
  std::swap(bad[7], bad[8]);  // out of order
  EXPECT_EQ(drain(bad), Errc::bad_router_status);
  bad.assign(ends.begin(), ends.end());
  bad.back() = std::uint32_t(data.size());  // past the text
  EXPECT_EQ(drain(bad), Errc::bad_router_status);
}

}  // namespace
}  // namespace torcon
