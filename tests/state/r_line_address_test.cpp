// The r line's address tail, "a.b.c.d orport dirport": the SIMD/SWAR reader
// (address_tail_simd) against the byte loop (address_tail) and the reference
// (the last three fields, parse by parse), on odd tails, on every octet and
// port value, and on random tails; each placed flush against a guard page so
// a read past the tail's end faults.
#include "r_line_address.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "parser/guarded_buffer.hpp"

namespace {

using torcon::detail::RLineAddress;

// What an r line's earlier fields put before the tail (the SIMD reader looks
// up to 32 bytes back from the tail's end).
constexpr std::string_view kPrefix =
    "r alpha AAAAAAAAAAAAAAAAAAAAAAAAAAA BBBBBBBBBBBBBBBBBBBBBBBBBBB 2026-12-03 12:00:00 ";

using Result = std::optional<RLineAddress>;

// Without SSE2 the SIMD reader declines everything.
#if defined(__SSE2__)
constexpr bool kSimd = true;
#else
constexpr bool kSimd = false;
#endif

// The reference: exactly three space-separated fields, each parsed as the
// line's last three fields are.
Result reference(std::string_view tail) {
  int spaces = 0;
  for (char c : tail) spaces += c == ' ';
  RLineAddress a;
  if (spaces != 2 || !torcon::detail::r_line_last_fields(" " + std::string(tail), a))
    return std::nullopt;
  return a;
}

struct Readers {
  Result bytes, simd;
  bool simd_tried = false;  // the length is one it decides
};

Readers read_guarded(torcon::test::GuardedBuffer& buf, std::string_view tail) {
  const std::string_view placed = buf.place(std::string(kPrefix) + std::string(tail));
  const char* const q = placed.data() + kPrefix.size();
  const char* const end = placed.data() + placed.size();
  EXPECT_EQ(end, buf.guard());
  Readers r;
  RLineAddress a;
  if (torcon::detail::address_tail(q, end, a)) r.bytes = a;
  r.simd_tried = kSimd && tail.size() >= 11 && tail.size() <= 27;
  RLineAddress b;
  if (torcon::detail::address_tail_simd(q, end, b)) r.simd = b;
  return r;
}

std::string show(const Result& r) {
  if (!r) return "refused";
  return std::to_string(r->ipv4) + " " + std::to_string(r->or_port) + " " +
         std::to_string(r->dir_port);
}

// Both readers give the reference's answer (the SIMD one: when the length is
// in its range; outside it, it declines).
void expect_as_reference(torcon::test::GuardedBuffer& buf, std::string_view tail) {
  const Result want = reference(tail);
  const Readers got = read_guarded(buf, tail);
  EXPECT_EQ(show(got.bytes), show(want)) << '"' << tail << '"';
  EXPECT_EQ(show(got.simd), got.simd_tried ? show(want) : "refused") << '"' << tail << '"';
}

TEST(RouterRLineAddress, OddTails) {
  struct Case {
    const char* tail;
    bool ok;
    std::uint32_t ip = 0;
    std::uint16_t or_port = 0, dir_port = 0;
  };
  const Case cases[] = {
      {"192.0.2.1 9001 0", true, 0xC0000201u, 9001, 0},
      {"0.0.0.0 1 0", true, 0, 1, 0},                                    // L = 11, the shortest
      {"255.255.255.255 65535 65535", true, 0xFFFFFFFFu, 65535, 65535},  // L = 27
      {"255.255.255.255 65535 655350", false},                           // L = 28
      {"0.0.0.0 1 ", false},                                             // L = 10
      {"0.0.0.0 10", false},                                             // L = 10
      {"192.0.2.1 00001 00000", true, 0xC0000201u, 1, 0},  // ports may have leading zeros
      {"01.2.3.4 9001 0", false},
      {"1.02.3.4 9001 0", false},
      {"1.2.3.00 9001 0", false},
      {"1.2.3.000 9001 0", false},
      {"1.2.3.0 9001 0", true, 0x01020300u, 9001, 0},
      {"192.0.2.100 9001 0", true, 0xC0000264u, 9001, 0},
      {"256.0.0.1 9001 0", false},
      {"1.2.3.999 9001 0", false},
      {"1.2.3.1000 9001 0", false},  // a 4-digit octet
      {"1.2.3.4 123456 0", false},   // a 6-digit port
      {"1.2.3.4 9001 000000", false},
      {"1.2.3.4 65536 0", false},
      {"1.2.3.4 9001 65536", false},
      {"1.2.3.4 99999 0", false},
      {"1.2.3 9001 0", false},  // missing octet
      {"1.2.3.4.5 9001 0", false},
      {"1.2.3.4 9001", false},  // missing field
      {"1.2.3.4 9001 0 7", false},
      {"1.2.3.4 1 2 3 4", false},
      {"1.2.3.4  9001 0", false},
      {"1.2.3.4 9001 0 ", false},
      {" 1.2.3.4 9001 0", false},
      {"1.2.3.4\t9001 0", false},  // tabs
      {"1.2.3.4 9001\t0", false},
      {"1.2..3 9001 0", false},
      {".1.2.3 9001 0", false},
      {"1.2.3. 9001 0", false},
      {"1.2.3.4 .9001 0", false},
      {"1.2.3.4 9001 -1", false},
      {"1.2.3.4 9001 +1", false},
      {"1.2.3.4 9 01 0", false},
      {"1 2.3.4.5 9001", false},
      {"1.2.3.4 9:01 0", false},
      {"1.2.3.4 9001 /", false},
      {"1.2.3.4 9001 \xff", false},
      {"1.2.3.4 90\x00\x31 0", false},
      {"1.2.3.4 9001 1.2", false},
      {"1.2.3.4 1.2.3.4 0", false},
  };
  torcon::test::GuardedBuffer buf;
  for (const Case& c : cases) {
    const std::string_view tail(c.tail);
    const Result want = c.ok ? Result(RLineAddress{c.ip, c.or_port, c.dir_port}) : std::nullopt;
    EXPECT_EQ(show(reference(tail)), show(want)) << '"' << tail << '"';
    expect_as_reference(buf, tail);
  }
}

// Every octet value 0-999 in every position, plain and with a leading zero;
// every port value 0-99999 in both places, plain and padded to five digits.
TEST(RouterRLineAddress, EveryOctetAndPortValue) {
  torcon::test::GuardedBuffer buf;
  for (int v = 0; v < 1000; ++v) {
    const std::string o = std::to_string(v);
    for (const std::string& oct : {o, "0" + o}) {
      expect_as_reference(buf, oct + ".1.22.3 9001 0");
      expect_as_reference(buf, "1." + oct + ".22.3 9001 0");
      expect_as_reference(buf, "1.22." + oct + ".3 9001 0");
      expect_as_reference(buf, "1.22.3." + oct + " 9001 0");
      expect_as_reference(buf, oct + "." + oct + "." + oct + "." + oct + " 443 80");
    }
  }
  for (int v = 0; v < 100000; ++v) {
    const std::string p = std::to_string(v);
    std::string padded = p;
    padded.insert(0, 5 - p.size(), '0');
    expect_as_reference(buf, "192.0.2.1 " + p + " 0");
    expect_as_reference(buf, "192.0.2.1 9001 " + padded);
    if (::testing::Test::HasFailure()) return;
  }
}

// The SWAR digit conversion on every 0-65535 and every octet, in every
// width from the number's own to 8 digits (zero bytes above as leading
// zeros).
TEST(RouterRLineAddress, DigitWordValue) {
  const auto word = [](std::uint32_t v, int width) {
    // The last digit in the top byte, the first `width` bytes down.
    std::uint64_t w = 0;
    for (int i = 0; i < width; ++i, v /= 10) w |= std::uint64_t(v % 10) << (8 * (7 - i));
    return w;
  };
  for (std::uint32_t v = 0; v <= 65535; ++v)
    for (int width = int(std::to_string(v).size()); width <= 8; ++width)
      ASSERT_EQ(torcon::detail::digits8_value(word(v, width)), v) << v << " width " << width;
  for (std::uint32_t v : {99999999u, 12345678u, 10000000u, 9999999u, 87654321u})
    EXPECT_EQ(torcon::detail::digits8_value(word(v, 8)), v);
}

// Random tails near the valid form: fields of 0-4 / 0-6 digits (leading
// zeros often), now and then a byte replaced, dropped or added, against the
// reference.
TEST(RouterRLineAddress, RandomTailsAsReference) {
  std::mt19937 rng(20261203);
  const auto pick = [&](int n) { return int(rng() % unsigned(n)); };
  const std::string odd = std::string(".  \t0123456789/:x+-\xff\0", 20);
  torcon::test::GuardedBuffer buf;
  int accepted = 0, in_range = 0;
  constexpr int kTails = 200000;
  for (int i = 0; i < kTails; ++i) {
    const auto digits = [&](int max) {
      std::string s;
      const int n = pick(8) == 0 ? pick(max + 1) : 1 + pick(max == 4 ? 3 : 5);
      for (int k = 0; k < n; ++k) s += char('0' + (pick(8) == 0 ? 0 : pick(10)));
      return s;
    };
    std::string t = digits(4) + "." + digits(4) + "." + digits(4) + "." + digits(4) + " " +
                    digits(6) + " " + digits(6);
    for (int edits = pick(4) == 0 ? 1 + pick(2) : 0; edits > 0 && !t.empty(); --edits) {
      const std::size_t at = std::size_t(pick(int(t.size())));
      switch (pick(3)) {
        case 0: t[at] = odd[std::size_t(pick(int(odd.size())))]; break;
        case 1: t.erase(at, 1); break;
        default: t.insert(at, 1, odd[std::size_t(pick(int(odd.size())))]);
      }
    }
    const Result want = reference(t);
    accepted += want.has_value();
    in_range += t.size() >= 11 && t.size() <= 27;
    expect_as_reference(buf, t);
    if (::testing::Test::HasFailure()) return;
  }
  // The generator reaches both sides of every check.
  EXPECT_GT(accepted, kTails / 20);
  EXPECT_LT(accepted, kTails * 9 / 10);
  EXPECT_GT(in_range, kTails * 8 / 10);
}

}  // namespace
