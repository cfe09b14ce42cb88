#include "r_line_address.hpp"

#include <bit>
#include <cstddef>
#include <cstring>
#include <string_view>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace torcon::detail {

namespace {
// ---- the reference: any field text, byte by byte --------------------------

bool parse_octets(std::string_view s, std::uint32_t& out) {
  std::uint32_t v = 0;
  int parts = 0;
  std::size_t i = 0;
  while (parts < 4) {
    std::size_t j = i;
    unsigned octet = 0;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9' && j - i < 3)
      octet = octet * 10 + unsigned(s[j++] - '0');
    if (j == i || octet > 255 || (j - i > 1 && s[i] == '0')) return false;
    v = v << 8 | octet;
    ++parts;
    if (parts < 4) {
      if (j >= s.size() || s[j] != '.') return false;
      ++j;
    }
    i = j;
  }
  if (i != s.size()) return false;
  out = v;
  return true;
}
bool parse_port_field(std::string_view s, std::uint16_t& out) {
  if (s.empty() || s.size() > 5) return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + unsigned(c - '0');
  }
  if (v > 65535) return false;
  out = std::uint16_t(v);
  return true;
}
// Up to `max` digits at q, before end: how many (q moves past them), and
// their value.
unsigned take_digits(const char*& q, const char* end, unsigned max, unsigned& value) {
  unsigned n = 0, v = 0;
  for (; n < max && q < end; ++n, ++q) {
    const unsigned d = unsigned(std::uint8_t(*q)) - '0';
    if (d > 9) break;
    v = v * 10 + d;
  }
  value = v;
  return n;
}

#if defined(__SSE2__)
// One bit per byte of the 32 bytes in lo, hi: whether it is set in the
// byte-wide compare result.
unsigned bits32(__m128i lo, __m128i hi) {
  return unsigned(_mm_movemask_epi8(lo)) | unsigned(_mm_movemask_epi8(hi)) << 16;
}
__m128i digit_bytes(__m128i x) {
  const __m128i d = _mm_sub_epi8(x, _mm_set1_epi8('0'));
  return _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
}
// The digit values of a field of n digits ending a little-endian word: its
// top n bytes & 0x0F, the rest cleared (so they read as leading zeros).
// Indexed by n & 7 (a bad n gives some mask; the caller rejects it).
constexpr std::uint64_t kKeep8[8] = {0,
                                     0x0F00000000000000,
                                     0x0F0F000000000000,
                                     0x0F0F0F0000000000,
                                     0x0F0F0F0F00000000,
                                     0x0F0F0F0F0F000000,
                                     0x0F0F0F0F0F0F0000,
                                     0x0F0F0F0F0F0F0F00};
std::uint64_t load8(const char* p) {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
  return w;
}
std::uint64_t load4(const char* p) {
  std::uint32_t w;
  std::memcpy(&w, p, 4);
  if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap32(w);
  return w;
}
// The value of the n (1-5) digits that end at `field_end`.
std::uint32_t port_value(const char* field_end, unsigned n) {
  return digits8_value(load8(field_end - 8) & kKeep8[n & 7]);
}
// Two octets of n (1-3) digits ending at a_end and b_end, at once: each in
// a 32-bit half, its digits in the top n bytes; the pairs and the one
// multiply (by 1 + 100 << 16) never carry from one half to the other.
// Octet a is bits 16-31 of the result, b bits 48-63.
std::uint64_t octet_pair(const char* a_end, unsigned na, const char* b_end, unsigned nb) {
  const std::uint64_t w =
      (load4(a_end - 4) & (kKeep8[na & 3] >> 32)) | (load4(b_end - 4) << 32 & kKeep8[nb & 3]);
  const std::uint64_t t = (w * 10 + (w >> 8)) & 0x00FF00FF00FF00FF;
  return t * (1 + (100u << 16));
}
#endif

}  // namespace

// The three fields of `line`, split at its last three spaces.
bool r_line_last_fields(std::string_view line, RLineAddress& out) {
  const std::size_t s3 = line.rfind(' ');
  if (s3 == std::string_view::npos || s3 == 0) return false;
  const std::size_t s2 = line.rfind(' ', s3 - 1);
  if (s2 == std::string_view::npos || s2 == 0) return false;
  const std::size_t s1 = line.rfind(' ', s2 - 1);
  if (s1 == std::string_view::npos) return false;
  return parse_octets(line.substr(s1 + 1, s2 - s1 - 1), out.ipv4) &&
         parse_port_field(line.substr(s2 + 1, s3 - s2 - 1), out.or_port) &&
         parse_port_field(line.substr(s3 + 1), out.dir_port);
}

// ---- tor's layout, in one pass ---------------------------------------------

// (Word-at-a-time and SSE2 versions of take_digits() were tried: slower, as
// each field's start waits on the length of the one before, where the byte
// loop's branches are predicted. address_tail_simd() finds all the fields'
// ends at once instead.)
bool address_tail(const char* q, const char* end, RLineAddress& out) {
  std::uint32_t addr = 0;
  for (int k = 0; k < 4; ++k) {
    const char* const first = q;
    unsigned v;
    const unsigned n = take_digits(q, end, 3, v);
    if (n == 0 || v > 255 || (n > 1 && *first == '0')) return false;
    addr = addr << 8 | v;
    if (q == end || *q++ != (k < 3 ? '.' : ' ')) return false;
  }
  unsigned orp, dirp;
  if (take_digits(q, end, 5, orp) == 0 || orp > 65535 || q == end || *q++ != ' ') return false;
  if (take_digits(q, end, 5, dirp) == 0 || dirp > 65535 || q != end) return false;
  out.ipv4 = addr;
  out.or_port = std::uint16_t(orp);
  out.dir_port = std::uint16_t(dirp);
  return true;
}

// address_tail()'s byte loop exits where each field ends, a different place
// for every router: a mispredicted branch or two per field. Here every step
// is the same whatever the lengths; the checks are OR-ed into `bad` (`|`,
// never `||`, which would branch) and tested once.
bool address_tail_simd([[maybe_unused]] const char* q, [[maybe_unused]] const char* end,
                       [[maybe_unused]] RLineAddress& out) {
#if defined(__SSE2__)
  const auto len = unsigned(end - q);
  if (len < 11 || len > 27) return false;
  // The 32 bytes ending at `end`; bit i of each mask is q[i] after the shift.
  const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(end - 32));
  const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(end - 16));
  const unsigned shift = 32 - len;
  const auto bytes_equal = [&](char c) {
    const __m128i v = _mm_set1_epi8(c);
    return bits32(_mm_cmpeq_epi8(lo, v), _mm_cmpeq_epi8(hi, v)) >> shift;
  };
  const unsigned digits = bits32(digit_bytes(lo), digit_bytes(hi)) >> shift;
  const unsigned dots = bytes_equal('.'), spaces = bytes_equal(' '), zeros = bytes_equal('0');
  const unsigned end_bit = 1u << len, all = end_bit - 1;
  unsigned bad = (digits | dots | spaces) ^ all;  // a byte that is none of them
  // The separators, lowest first. A missing one reads as `len` (end_bit is
  // put back after each take, so no count is of an empty mask), which makes
  // some length below wrap.
  unsigned m = dots | end_bit;
  const unsigned d1 = unsigned(__builtin_ctz(m));
  m = (m & (m - 1)) | end_bit;
  const unsigned d2 = unsigned(__builtin_ctz(m));
  m = (m & (m - 1)) | end_bit;
  const unsigned d3 = unsigned(__builtin_ctz(m));
  bad |= m & (m - 1) & all;  // a fourth dot
  m = spaces | end_bit;
  const unsigned s1 = unsigned(__builtin_ctz(m));
  m = (m & (m - 1)) | end_bit;
  const unsigned s2 = unsigned(__builtin_ctz(m));
  bad |= m & (m - 1) & all;  // a third space
  // Field lengths; a separator out of order wraps one to a huge value.
  const unsigned n0 = d1, n1 = d2 - d1 - 1, n2 = d3 - d2 - 1, n3 = s1 - d3 - 1, n4 = s2 - s1 - 1,
                 n5 = len - 1 - s2;
  bad |= unsigned(n0 - 1 > 2) | unsigned(n1 - 1 > 2) | unsigned(n2 - 1 > 2) | unsigned(n3 - 1 > 2) |
         unsigned(n4 - 1 > 4) | unsigned(n5 - 1 > 4);
  // An octet's leading zero: a '0' after a non-digit (or first) and before a
  // digit, left of the first space (ports may have them).
  bad |= zeros & (digits >> 1) & ~(digits << 1) & ((1u << s1) - 1);
  const std::uint64_t ab = octet_pair(q + d1, n0, q + d2, n1),
                      cd = octet_pair(q + d3, n2, q + s1, n3);
  const std::uint32_t orp = port_value(q + s2, n4), dirp = port_value(end, n5);
  // An octet over 255 has bits in the high byte of its 16.
  constexpr std::uint64_t kHigh = 0xFF000000FF000000, kLow = 0x00FF000000FF0000;
  bad |= unsigned(((ab | cd) & kHigh) != 0) | unsigned((orp | dirp) > 65535);
  if (bad) return false;
  // a, b, c, d at bits 16, 48, 16, 48 -> 24, 56, 8, 40 -> 24, 16, 8, 0.
  const std::uint64_t x = (ab & kLow) << 8 | (cd & kLow) >> 8;
  out.ipv4 = std::uint32_t(x) | std::uint32_t(x >> 40);
  out.or_port = std::uint16_t(orp);
  out.dir_port = std::uint16_t(dirp);
  return true;
#else
  return false;
#endif
}

// tor lays the line out as "r nick ID [DIGEST] YYYY-MM-DD HH:MM:SS ip orport
// dirport": after the nickname's space, the spaces are at fixed distances,
// and the address starts at a known place. When the rest of the line is
// exactly "ip orport dirport", those are the line's last three fields, so
// the answer is the reference's, in one pass instead of a search from the
// line's end and a parse of what it found (which were a sixth of a router's
// time in the table).
bool read_r_line_address(const RouterEntry& e, RLineAddress& out) {
  const std::string_view fields = e.r_line();
  const char* const end = fields.data() + fields.size();
  const char* const p = e.nickname().data() + e.nickname().size();  // its space (checked)
  const std::ptrdiff_t left = end - p;
  // The tail's reads stay in the line: at least 49 bytes before q, and
  // (the tail being at most 27 bytes when the SIMD path reads) 32 before end.
  const auto tail = [&](const char* q) {
    return address_tail_simd(q, end, out) || address_tail(q, end, out);
  };
  if (left > 77 && p[28] == ' ' && p[56] == ' ' && p[67] == ' ' && p[76] == ' ' && tail(p + 77))
    return true;
  if (left > 49 && p[28] == ' ' && p[39] == ' ' && p[48] == ' ' && tail(p + 49)) return true;
  // Any other layout: the whole line, "r " (and a stuffed dot) included, as
  // the entry has it.
  const std::string_view entry = e.entry();
  return r_line_last_fields({entry.data(), std::size_t(end - entry.data())}, out);
}

}  // namespace torcon::detail
