// Fast paths of the router status decoders, for the hot loop: GETINFO ns/all
// is ~8000 entries and ~56k lines. Each gives exactly the answer of the
// reference decoder it shortcuts (router_status_detail.hpp) or declines, and
// the reference decides; the tests and the differential fuzzer
// (fuzz_router_entry) compare them. The SIMD parts are SSE2, x86-64's
// baseline, and decline elsewhere. `lim` is the end of readable memory (the
// end of the text): loads never pass it, and near it the scalar code runs.
//
// What made the eager reader slow was mispredicted branches, not bytes: a
// byte loop to the end of a 1-5 digit port or a 4-9 letter flag exits at an
// unpredictable place, ~15 cycles each, dozens per entry. So fields are
// delimited from SIMD byte-class masks with one count-trailing-zeros each,
// and values and checks are computed branch-free and tested once.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "router_status_detail.hpp"

namespace torcon::detail {

// Nickname bytes (alphanumerics), by table: one load per byte.
struct NickTable {
  bool v[256];
  constexpr NickTable() : v() {
    for (int c = 0; c < 256; ++c) v[c] = is_ascii_alnum(char(c));
  }
};
constexpr NickTable kNick;

// 27 base64 characters at `in` -> 20 bytes: three groups of 8 characters
// (48 bits, 6 bytes each) gathered in a uint64 and stored as one big-endian
// 8-byte write (the 2 bytes past the group are overwritten by the next one),
// then 3 characters for the last 2 bytes: 5 stores instead of 20. Invalid
// characters map to 64, so OR-ing every value and testing bit 6 validates
// them all with one branch. The 2 spare low bits are ignored, as
// decode_digest() does.
inline std::uint64_t to_big_endian(std::uint64_t v) {
  if constexpr (std::endian::native == std::endian::little) return __builtin_bswap64(v);
  return v;
}
inline bool decode27(const char* s, std::uint8_t* o) {
  const auto* in = reinterpret_cast<const unsigned char*>(s);
  unsigned bad = 0;
  for (int g = 0; g < 3; ++g, in += 8, o += 6) {
    std::uint64_t v = 0;
    for (int k = 0; k < 8; ++k) {
      const unsigned c = kB64.v[in[k]];
      bad |= c;
      v = v << 6 | c;
    }
    // The 48 bits to the top, so the big-endian bytes lead.
    const std::uint64_t be = to_big_endian(v << 16);
    std::memcpy(o, &be, 8);
  }
  const unsigned a = kB64.v[in[0]], b = kB64.v[in[1]], c = kB64.v[in[2]];
  bad |= a | b | c;
  const unsigned v = a << 12 | b << 6 | c;
  o[0] = std::uint8_t(v >> 10);
  o[1] = std::uint8_t(v >> 2);
  return (bad & 64) == 0;
}

inline bool decode_digest_fast(std::string_view s, std::array<std::uint8_t, 20>& out) {
  if (s.size() == 28 && s[27] == '=') s.remove_suffix(1);
  return s.size() == 27 && decode27(s.data(), out.data());
}

// parse_router_flag without the table walk: the length leaves at most six
// candidates, each a fixed-size compare (a load and a compare, no call).
inline bool flag_fast(const char* n, std::size_t len, RouterFlag& out) {
#define TORCON_FLAG(name)                             \
  if (std::memcmp(n, #name, sizeof #name - 1) == 0) { \
    out = RouterFlag::name;                           \
    return true;                                      \
  }
  switch (len) {
    case 4: TORCON_FLAG(Fast) TORCON_FLAG(Exit) break;
    case 5:
      TORCON_FLAG(Valid)
      TORCON_FLAG(V2Dir)
      TORCON_FLAG(HSDir) TORCON_FLAG(Guard) TORCON_FLAG(Named) TORCON_FLAG(Sybil) break;
    case 6: TORCON_FLAG(Stable) break;
    case 7: TORCON_FLAG(Running) TORCON_FLAG(BadExit) TORCON_FLAG(Unnamed) break;
    case 9: TORCON_FLAG(Authority) TORCON_FLAG(StaleDesc) break;
    case 10: TORCON_FLAG(MiddleOnly) break;
    case 13: TORCON_FLAG(NoEdConsensus) break;
    default: break;
  }
#undef TORCON_FLAG
  return false;
}

// Space-separated tokens of [p, e) (empty ones included, as field() gives
// them), scanned in place.
template <class F>
inline void for_each_token(const char* p, const char* e, F&& f) {
  if (p == e) return;
  while (true) {
    const char* q = p;
    while (q < e && *q != ' ') ++q;
    f(p, std::size_t(q - p));
    if (q == e) return;
    p = q + 1;
  }
}

#if defined(__SSE2__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define TORCON_RS_SIMD 1
inline __m128i load16(const char* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}
// Bit i set when p[i] is an ASCII digit / alphanumeric / equal to c (16
// bytes). Signed compares: bytes >= 0x80 are negative and match no range.
inline std::uint32_t digit_mask16(const char* p) {
  const __m128i v = load16(p);
  return unsigned(_mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                                                  _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)))));
}
inline std::uint32_t alnum_mask16(const char* p) {
  const __m128i v = load16(p);
  const __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                                      _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
  const __m128i low = _mm_or_si128(v, _mm_set1_epi8(0x20));  // letters to lower case
  const __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(low, _mm_set1_epi8('a' - 1)),
                                      _mm_cmplt_epi8(low, _mm_set1_epi8('z' + 1)));
  return unsigned(_mm_movemask_epi8(_mm_or_si128(digit, alpha)));
}
inline std::uint32_t byte_mask16(const char* p, char c) {
  return unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(load16(p), _mm_set1_epi8(c))));
}
#endif

// decode27() with SSE2 when 32 bytes at `in` are readable before lim: every
// character classified and mapped to its 6-bit value by range compares (16
// at once), the values packed pairwise into 12 and then 24 bits per lane by
// shifts, and the lanes' bytes stored big-endian from two 64-bit extracts:
// ~80 instructions instead of ~135. The same bytes and answer as decode27(),
// which runs otherwise.
inline bool decode27_fast([[maybe_unused]] const char* in, [[maybe_unused]] const char* lim,
                          std::uint8_t* o) {
#if TORCON_RS_SIMD && defined(__x86_64__)
  if (lim - in >= 32) {
    unsigned valid[2];
    const auto values = [&valid](const char* p, int k) {
      const __m128i v = load16(p);
      const auto range = [&v](char lo, char hi) {
        return _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(char(lo - 1))),
                             _mm_cmplt_epi8(v, _mm_set1_epi8(char(hi + 1))));
      };
      const __m128i upper = range('A', 'Z'), lower = range('a', 'z'), digit = range('0', '9');
      const __m128i plus = _mm_cmpeq_epi8(v, _mm_set1_epi8('+'));
      const __m128i slash = _mm_cmpeq_epi8(v, _mm_set1_epi8('/'));
      // What each class adds to the byte: A-Z -65, a-z -71, 0-9 +4, + +19, / +16.
      __m128i add = _mm_or_si128(_mm_and_si128(upper, _mm_set1_epi8(-65)),
                                 _mm_and_si128(lower, _mm_set1_epi8(-71)));
      add = _mm_or_si128(add, _mm_and_si128(digit, _mm_set1_epi8(4)));
      add = _mm_or_si128(add, _mm_and_si128(plus, _mm_set1_epi8(19)));
      add = _mm_or_si128(add, _mm_and_si128(slash, _mm_set1_epi8(16)));
      valid[k] = unsigned(_mm_movemask_epi8(_mm_or_si128(
          _mm_or_si128(upper, lower), _mm_or_si128(_mm_or_si128(digit, plus), slash))));
      const __m128i x = _mm_add_epi8(v, add);
      // Byte pairs (a, b) -> a << 6 | b in 16 bits; word pairs (c, d) -> c << 12 | d
      // in 32: each lane holds the 24 bits of 4 characters, the first on top.
      const __m128i w = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(x, _mm_set1_epi16(0x00FF)), 6),
                                     _mm_srli_epi16(x, 8));
      return _mm_or_si128(_mm_slli_epi32(_mm_and_si128(w, _mm_set1_epi32(0xFFFF)), 12),
                          _mm_srli_epi32(w, 16));
    };
    // Two lanes (8 characters) -> 6 bytes, stored as 8 (the 2 past them are
    // overwritten next or lie in the 20).
    const auto store = [](std::uint64_t lanes, std::uint8_t* to) {
      const std::uint64_t v = (lanes & 0xFFFFFF) << 24 | lanes >> 32;
      const std::uint64_t be = to_big_endian(v << 16);
      std::memcpy(to, &be, 8);
    };
    const __m128i a = values(in, 0), b = values(in + 16, 1);
    store(std::uint64_t(_mm_cvtsi128_si64(a)), o);
    store(std::uint64_t(_mm_cvtsi128_si64(_mm_unpackhi_epi64(a, a))), o + 6);
    store(std::uint64_t(_mm_cvtsi128_si64(b)), o + 12);
    // Characters 24-26 (the 28th's bits fall below the ones kept): 2 bytes.
    const auto last = std::uint32_t(_mm_cvtsi128_si32(_mm_unpackhi_epi64(b, b)));
    o[18] = std::uint8_t(last >> 16);
    o[19] = std::uint8_t(last >> 8);
    return (valid[0] == 0xFFFF) & ((valid[1] & 0x7FF) == 0x7FF);
  }
#endif
  return decode27(in, o);
}

// The value of the n (1-8) ASCII digits at p, 8 bytes at p readable. SWAR:
// the digits go to the top of a little-endian word (what is below reads as
// leading zeros), then digit pairs, quads and octets are combined with three
// multiplies.
inline std::uint64_t swar_digits(const char* p, unsigned n) {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
  w = (w << (8 * (8 - n))) & 0x0F0F0F0F0F0F0F0Fu;
  w = (w * 2561) >> 8;
  w = ((w & 0x00FF00FF00FF00FFu) * 6553601) >> 16;
  return ((w & 0x0000FFFF0000FFFFu) * 42949672960001u) >> 32;
}

// The space after a valid nickname at p (1-19 alphanumerics, then ' ', before
// the line end e), found with two 16-byte range checks instead of a byte loop
// whose exit mispredicts. Null when it cannot tell (fewer than 32 readable
// bytes) or the nickname is not valid: the byte loop then decides.
inline const char* nick_end_fast([[maybe_unused]] const char* p, [[maybe_unused]] const char* e,
                                 [[maybe_unused]] const char* lim) {
#if TORCON_RS_SIMD
  if (lim - p < 32) return nullptr;
  const std::uint32_t m = alnum_mask16(p) | alnum_mask16(p + 16) << 16;
  const unsigned len = unsigned(__builtin_ctz(~m | 0x80000000u));
  if (len == 0 || len > 19 || e - p <= std::ptrdiff_t(len) || p[len] != ' ') return nullptr;
  return p + len;
#else
  return nullptr;
#endif
}

// "a.b.c.d orport dirport" running exactly to e (octets of 1-3 digits, ports
// of 1-5). The five separators come from the non-digit mask of 32 bytes, each
// by clearing the lowest bit, so no field's length waits for the one before
// it; values by swar_digits(). False when it cannot tell or the text is
// anything else; parse_ip_ports() then decides.
inline bool ip_ports_fast([[maybe_unused]] const char* ip, [[maybe_unused]] const char* e,
                          [[maybe_unused]] const char* lim, [[maybe_unused]] RouterStatus& out) {
#if TORCON_RS_SIMD
  if (lim - ip < 48 || e - ip > 32 || e - ip < 11) return false;
  const auto end = unsigned(e - ip);
  const std::uint64_t digits = digit_mask16(ip) | std::uint64_t(digit_mask16(ip + 16)) << 16;
  // Non-digits inside the line; a sentinel at 40 keeps every ctz defined
  // when there are fewer than five.
  constexpr std::uint64_t kSentinel = std::uint64_t(1) << 40;
  std::uint64_t m = ~digits & ((std::uint64_t(1) << end) - 1);
  unsigned sep[6];
  for (int k = 0; k < 5; ++k) {
    sep[k] = unsigned(__builtin_ctzll(m | kSentinel));
    m &= m - 1;
  }
  sep[5] = end;
  // Exactly five separators: '.' '.' '.' ' ' ' '. Checks are OR-ed with `|`,
  // not `||`: a short-circuit is a branch.
  unsigned bad = unsigned(m != 0) | unsigned(sep[4] >= end) | unsigned(ip[sep[0]] != '.') |
                 unsigned(ip[sep[1]] != '.') | unsigned(ip[sep[2]] != '.') |
                 unsigned(ip[sep[3]] != ' ') | unsigned(ip[sep[4]] != ' ');
  std::uint64_t v[6];
  for (int k = 0; k < 6; ++k) {
    const unsigned start = k ? sep[k - 1] + 1 : 0;
    const unsigned n = sep[k] - start;  // wraps to huge when a separator is missing
    bad |= unsigned(n - 1 > (k < 4 ? 2u : 4u));
    v[k] = swar_digits(ip + (start < 40 ? start : 40), n - 1 < 8 ? n : 1);
  }
  bad |= unsigned(v[0] > 255) | unsigned(v[1] > 255) | unsigned(v[2] > 255) | unsigned(v[3] > 255) |
         unsigned(v[4] > 65535) | unsigned(v[5] > 65535);
  if (bad) return false;
  out.ipv4 = std::uint32_t(v[0] << 24 | v[1] << 16 | v[2] << 8 | v[3]);
  out.or_port = std::uint16_t(v[4]);
  out.dir_port = std::uint16_t(v[5]);
  return true;
#else
  return false;
#endif
}

// "YYYY-MM-DD HH:MM:SS" at d (19 bytes, 8 more readable) as parse_time() reads
// it, with one digit-mask test instead of a branch per digit. False when it
// cannot tell or parse_time() would refuse it (parse_time() then decides).
inline bool time_fast([[maybe_unused]] const char* d, [[maybe_unused]] const char* lim,
                      [[maybe_unused]] std::int64_t& out) {
#if TORCON_RS_SIMD
  if (lim - d < 32) return false;
  // Digits exactly at 0-3 5-6 8-9 11-12 14-15 17-18, separators between.
  constexpr std::uint32_t kDigits = 0b1101101101101101111;
  const std::uint32_t dm = (digit_mask16(d) | digit_mask16(d + 16) << 16) & 0x7FFFF;
  const auto dd = [d](int i) { return int(d[i] - '0') * 10 + int(d[i + 1] - '0'); };
  const int year = dd(0) * 100 + dd(2), mo = dd(5), day = dd(8), h = dd(11), mi = dd(14),
            s = dd(17);
  const unsigned leap =
      unsigned(year % 4 == 0) & (unsigned(year % 100 != 0) | unsigned(year % 400 == 0));
  static constexpr std::uint8_t kDays[16] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const unsigned mdays = kDays[unsigned(mo) & 15] + (leap & unsigned(mo == 2));
  const unsigned bad = unsigned(dm != kDigits) | unsigned(d[4] != '-') | unsigned(d[7] != '-') |
                       unsigned(d[10] != ' ') | unsigned(d[13] != ':') | unsigned(d[16] != ':') |
                       unsigned(mo - 1 > 11) | unsigned(day < 1) | unsigned(unsigned(day) > mdays) |
                       unsigned(h > 23) | unsigned(mi > 59) | unsigned(s > 60);
  if (bad) return false;
  out = days_from_civil(year, unsigned(mo), unsigned(day)) * 86400 + h * 3600 + mi * 60 + s;
  return true;
#else
  return false;
#endif
}

// The r line as tor writes it: after the nickname, fixed-width base64 and
// time fields at fixed offsets, then address and ports, single spaces. False
// for any other shape (parse_r_general then decides); on true, `out` (reset
// by the caller) holds the same values parse_r_general would give.
inline bool parse_r_fixed(const char* p, const char* e, const char* lim, RouterStatus& out) {
  const char* nick_end = nick_end_fast(p, e, lim);
  if (!nick_end) {
    nick_end = p;
    const char* const nick_max = p + 19 < e ? p + 19 : e;
    while (nick_end < nick_max && kNick.v[std::uint8_t(*nick_end)]) ++nick_end;
    if (nick_end == p || nick_end == e || *nick_end != ' ') return false;
  }
  const std::size_t nick_len = std::size_t(nick_end - p);
  const char* f = nick_end + 1;
  const std::size_t left = std::size_t(e - f);
  // id(27) ' ' [digest(27) ' '] date(10) ' ' time(8) ' ' ip ' ' orport ' ' dirport
  const char* d;
  if (left > 76 && f[27] == ' ' && f[55] == ' ' && f[66] == ' ' && f[75] == ' ') {
    if (!decode27(f + 28, out.digest.data())) return false;
    d = f + 56;
  } else if (left > 48 && f[27] == ' ' && f[38] == ' ' && f[47] == ' ') {
    d = f + 28;
  } else {
    return false;
  }
  if (!decode27(f, out.identity.data())) return false;
  if (!time_fast(d, lim, out.published) && !parse_time({d, 10}, {d + 11, 8}, out.published))
    return false;
  const char* const ip = d + 20;
  if (!ip_ports_fast(ip, e, lim, out) && !parse_ip_ports({ip, std::size_t(e - ip)}, out))
    return false;
  std::memcpy(out.nickname_buf, p, nick_len);
  out.nickname_len = std::uint8_t(nick_len);
  return true;
}

// The known flags by a perfect hash of (length, first two bytes): the slot's
// name is compared with a masked 16-byte compare, and its bit OR-ed in
// without a branch. Empty slots have length 0 and never match.
struct FlagSlot {
  char name[16] = {};
  std::uint8_t len = 0;
  std::uint32_t bit = 0;
};
constexpr unsigned flag_hash(std::size_t len, unsigned char c0, unsigned char c1) {
  return unsigned(len * 17 + c0 + (unsigned(c1) << 3)) & 31;
}
struct FlagTable {
  FlagSlot slot[32];
  constexpr FlagTable() : slot() {
    constexpr std::string_view kNames[] = {"Authority",     "BadExit", "Exit",       "Fast",
                                           "Guard",         "HSDir",   "MiddleOnly", "Named",
                                           "NoEdConsensus", "Running", "Stable",     "StaleDesc",
                                           "Sybil",         "Unnamed", "V2Dir",      "Valid"};
    static_assert(std::size(kNames) == std::size_t(RouterFlag::kCount));
    for (unsigned i = 0; i < unsigned(RouterFlag::kCount); ++i) {
      const std::string_view name = kNames[i];
      FlagSlot& s = slot[flag_hash(name.size(), std::uint8_t(name[0]), std::uint8_t(name[1]))];
      for (std::size_t k = 0; k < name.size(); ++k) s.name[k] = name[k];
      s.len = std::uint8_t(name.size());
      s.bit = 1u << i;
    }
  }
};
inline constexpr FlagTable kFlagTable;
// The hash is collision-free: every flag landed in its own slot.
constexpr bool flag_table_complete() {
  unsigned n = 0;
  for (const FlagSlot& s : kFlagTable.slot) n += s.len != 0;
  return n == unsigned(RouterFlag::kCount);
}
static_assert(flag_table_complete());

// The known flags of an "s" line's text [b, b + len): what for_each_token +
// flag_fast give, without a branch per token. The spaces of the whole line
// come from one 128-byte load (every token's 16-byte compare stays inside
// it); longer lines, or lines too near lim, take the token loop.
// `unknown` is set when a name is none of the known flags (empty names, of
// repeated spaces, do not count): RouterEntry::has_unknown_flags().
inline RouterFlags decode_flags(const char* b, std::size_t len, const char* lim, bool& unknown) {
#if TORCON_RS_SIMD
  if (len <= 112 && lim - b >= 128) {
    const __m128i sp = _mm_set1_epi8(' ');
    const auto m = [&](int k) {
      return std::uint64_t(unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(load16(b + 16 * k), sp))));
    };
    std::uint64_t lo = m(0) | m(1) << 16 | m(2) << 32 | m(3) << 48;
    std::uint64_t hi = len < 64 ? 0 : m(4) | m(5) << 16 | m(6) << 32 | m(7) << 48;
    // Only spaces inside the line, plus one standing for its end.
    if (len < 64)
      lo = (lo & ((std::uint64_t(1) << len) - 1)) | std::uint64_t(1) << len;
    else
      hi = (hi & ((std::uint64_t(1) << (len - 64)) - 1)) | std::uint64_t(1) << (len - 64);
    std::uint32_t bits = 0;
    unsigned strangers = 0;
    std::size_t start = 0;
    const auto token = [&](std::size_t end) {
      const char* t = b + start;
      const std::size_t tl = end - start;
      start = end + 1;
      // Empty, or longer than any known flag: the compare below would be
      // wrong for tl > 16, and no name is longer than 13.
      const std::size_t tc = tl - 1 > 12 ? 0 : tl;
      const FlagSlot& s = kFlagTable.slot[flag_hash(tc, std::uint8_t(t[0]), std::uint8_t(t[1]))];
      const __m128i v = load16(t);
      const __m128i want = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.name));
      const unsigned eq = unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, want)));
      const unsigned need = (1u << tc) - 1;
      const bool ok = (eq & need) == need && s.len == tc;
      bits |= s.bit & (0u - unsigned(ok));
      // A long name (tc 0) can match an empty slot: ok, but no flag.
      strangers |= unsigned(tl != 0) & unsigned(!ok | (tc == 0));
    };
    for (; lo; lo &= lo - 1) token(std::size_t(__builtin_ctzll(lo)));
    for (; hi; hi &= hi - 1) token(64 + std::size_t(__builtin_ctzll(hi)));
    unknown = strangers != 0;
    return RouterFlags::from_bits(bits);
  }
#endif
  RouterFlags fl;
  unknown = false;
  for_each_token(b, b + len, [&](const char* t, std::size_t tl) {
    RouterFlag f;
    if (flag_fast(t, tl, f))
      fl.set(f);
    else if (tl != 0)
      unknown = true;
  });
  return fl;
}
inline RouterFlags decode_flags(const char* b, std::size_t len, const char* lim) {
  bool unknown;
  return decode_flags(b, len, lim, unknown);
}

// decode_flags() through a cache of the "s" lines seen before: a network
// has a few dozen distinct flag sets among thousands of routers, so most
// lines are a hash and a memcmp() away from their bits instead of a token
// walk. A slot holds a view of an earlier line of the same text (valid as
// long as the reader that owns the cache), and a hit is an exact compare, so
// the answer is always decode_flags()'s.
class FlagsCache {
 public:
  RouterFlags get(const char* b, std::size_t len, const char* lim, bool& unknown) {
    if (len < 8 || len > 0xFFFF) return decode_flags(b, len, lim, unknown);
    std::uint64_t head, tail;
    std::memcpy(&head, b, 8);
    std::memcpy(&tail, b + len - 8, 8);
    const std::uint64_t h = (head * 0x9E3779B97F4A7C15u ^ tail ^ len) * 0xC2B2AE3D27D4EB4Fu;
    Slot& s = slot_[h >> (64 - kBits)];
    if (s.len == len && same(s.text, b, len, lim)) [[likely]] {
      unknown = s.unknown;
      return s.flags;
    }
    return miss(s, b, len, lim, unknown);
  }
  RouterFlags get(const char* b, std::size_t len, const char* lim) {
    bool unknown;
    return get(b, len, lim, unknown);
  }

 private:
  static constexpr unsigned kBits = 7;
  struct Slot {
    const char* text = nullptr;
    std::uint16_t len = 0;  // 0: empty (lines shorter than 8 are not cached)
    bool unknown = false;
    RouterFlags flags;
  };

  // Equal lines of len bytes; both lie in the same text, before lim. Up to
  // 64 bytes by SSE2 compares (no call), else memcmp().
  static bool same(const char* a, const char* b, std::size_t len, const char* lim) {
#if TORCON_RS_SIMD
    if (len <= 64 && lim - a >= 64 && lim - b >= 64) {
      std::uint64_t eq = 0;
      for (int k = 0; k < 4; ++k)
        eq |= std::uint64_t(unsigned(
                  _mm_movemask_epi8(_mm_cmpeq_epi8(load16(a + 16 * k), load16(b + 16 * k)))))
              << 16 * k;
      const std::uint64_t need = len == 64 ? ~std::uint64_t{0} : (std::uint64_t(1) << len) - 1;
      return (eq & need) == need;
    }
#endif
    return std::memcmp(a, b, len) == 0;
  }
  // Out of line: the hit path stays small where it is inlined.
  [[gnu::noinline]] static RouterFlags miss(Slot& s, const char* b, std::size_t len,
                                            const char* lim, bool& unknown) {
    s.text = b;
    s.len = std::uint16_t(len);
    s.flags = decode_flags(b, len, lim, s.unknown);
    unknown = s.unknown;
    return s.flags;
  }

  Slot slot_[1u << kBits];
};

// Hex digit values (hex_value() by table), 16 for anything else.
struct HexTable {
  std::uint8_t v[256];
  constexpr HexTable() : v() {
    for (int c = 0; c < 256; ++c)
      v[c] = std::uint8_t(hex_value(char(c)) < 0 ? 16 : hex_value(char(c)));
  }
};
inline constexpr HexTable kHexTable;

// "[v6]:port" as tor writes it (RFC 5952: lower-case hex groups of 1-4
// digits, at most one "::"), from SIMD masks of 48 bytes: one load per 16
// bytes classifies every byte (hex digit, ':', ']', decimal digit) and gives
// its nibble, so a group is a count-trailing-zeros for its length and a
// shift-and-mask of 4 nibbles for its value, with no lookup or test per
// digit. True with the address when the text is such a form; false when it
// cannot tell (fewer than 64 readable bytes, no SSE2) or the text is anything
// else (upper case, a dotted IPv4 tail, port 0, ...): parse_or_address6_fast()
// then decides.
inline bool or_address6_simd([[maybe_unused]] std::string_view s, [[maybe_unused]] const char* lim,
                             [[maybe_unused]] Ipv6OrAddress& out) {
#if TORCON_RS_SIMD
  // "[1::]:1" to 39 host characters and 5 port digits.
  if (lim - s.data() < 64 || s.size() < 7 || s.size() > 47 || s[0] != '[') return false;
  const char* const p = s.data();
  std::uint64_t colon = 0, bracket = 0, hex = 0, dec = 0;
  alignas(16) std::uint8_t nib[64];
  for (int k = 0; k < 3; ++k) {
    const __m128i v = load16(p + 16 * k);
    const __m128i d = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                                    _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
    const __m128i af = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('a' - 1)),
                                     _mm_cmplt_epi8(v, _mm_set1_epi8('f' + 1)));
    const auto bits = [k](__m128i x) {
      return std::uint64_t(unsigned(_mm_movemask_epi8(x))) << (16 * k);
    };
    colon |= bits(_mm_cmpeq_epi8(v, _mm_set1_epi8(':')));
    bracket |= bits(_mm_cmpeq_epi8(v, _mm_set1_epi8(']')));
    dec |= bits(d);
    hex |= bits(_mm_or_si128(d, af));
    // '0'-'9' -> 0-9 (low nibble), 'a'-'f' -> 1-6 + 9.
    const __m128i n =
        _mm_add_epi8(_mm_and_si128(v, _mm_set1_epi8(0x0F)), _mm_and_si128(af, _mm_set1_epi8(9)));
    _mm_store_si128(reinterpret_cast<__m128i*>(nib + 16 * k), n);
  }
  const unsigned size = unsigned(s.size());
  const std::uint64_t in_text = (std::uint64_t(1) << size) - 1;
  const unsigned close = unsigned(__builtin_ctzll((bracket & in_text) | std::uint64_t(1) << 63));
  if (close < 3 || close > 40) return false;
  // "[" host "]:" port: host bytes all hex or ':', port 1-5 decimal digits.
  const unsigned port_len = size - close - 2;  // wraps when there is no room
  const std::uint64_t host = in_text & ~std::uint64_t(1) & ((std::uint64_t(1) << close) - 1);
  if ((port_len - 1 > 4) | (p[close + 1] != ':') | ((host & (hex | colon)) != host) |
      ((dec >> (close + 2)) != (in_text >> (close + 2))))
    return false;
  const std::uint64_t port = swar_digits(p + close + 2, port_len);
  if ((port == 0) | (port > 65535)) return false;
  // Groups: each ends at a ':' or at the ']'.
  const std::uint64_t ends = (colon & host) | std::uint64_t(1) << close;
  std::uint16_t groups[8];
  int ng = 0, gap = -1;
  unsigned i = 1;
  if (p[1] == ':') {  // a leading "::"
    if (p[2] != ':') return false;
    gap = 0;
    i = 3;
    if (i == close) return false;  // "::" alone: rare, the other path has it
  }
  while (true) {
    const unsigned nd = unsigned(__builtin_ctzll(ends >> i));
    if ((nd - 1 > 3) | (ng == 8)) return false;
    // The group's nibbles, the first at the lowest byte; shifted up so the
    // last is at the top and missing leading digits read as zeros.
    std::uint32_t w;
    std::memcpy(&w, nib + i, 4);
    w <<= 8 * (4 - nd);
    const std::uint32_t t = (w & 0x000F000Fu) << 4 | (w >> 8 & 0x000F000Fu);
    groups[ng++] = std::uint16_t((t & 0xFF) << 8 | t >> 16);
    i += nd;
    if (i == close) break;
    if (++i == close) return false;  // a trailing single ':'
    if (p[i] == ':') {
      if (gap >= 0) return false;  // a second "::"
      gap = ng;
      if (++i == close) break;  // a trailing "::"
    }
  }
  if (gap < 0 ? ng != 8 : ng > 7) return false;
  Ipv6OrAddress r;
  const int shift = gap < 0 ? 0 : 8 - ng;
  for (int g = 0; g < ng; ++g) {
    const int slot = gap >= 0 && g >= gap ? g + shift : g;
    r.addr[std::size_t(2 * slot)] = std::uint8_t(groups[g] >> 8);
    r.addr[std::size_t(2 * slot + 1)] = std::uint8_t(groups[g]);
  }
  r.port = std::uint16_t(port);
  out = r;
  return true;
#else
  return false;
#endif
}

// "[v6]:port" for the plain hex forms tor writes, without the copy and the
// inet_pton() call; dotted IPv4 tails, long groups and anything odd go to
// parse_or_address6(), whose answer is final. Each group is delimited by the
// ':' mask (one count-trailing-zeros) and its 1-4 digits are looked up
// without a loop.
inline bool parse_or_address6_fast(std::string_view s, const char* lim, Ipv6OrAddress& out) {
  if (s.size() < 4 || s[0] != '[') return false;
  const std::size_t close = s.find(']');
  if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
  const std::string_view host = s.substr(1, close - 1);
  if (host.empty() || host.size() > 39) return parse_or_address6(s, out);
  std::uint64_t colons = 0;  // bit i: host[i] == ':'; plus one for the end
#if TORCON_RS_SIMD
  if (lim - host.data() >= 48) {
    const char* h = host.data();
    colons = byte_mask16(h, ':') | std::uint64_t(byte_mask16(h + 16, ':')) << 16 |
             std::uint64_t(byte_mask16(h + 32, ':')) << 32;
    colons &= (std::uint64_t(1) << host.size()) - 1;
  } else
#endif
  {
    for (std::size_t i = 0; i < host.size(); ++i) colons |= std::uint64_t(host[i] == ':') << i;
  }
  colons |= std::uint64_t(1) << host.size();
  const auto hex = [&host](std::size_t i) -> unsigned {
    return i < host.size() ? kHexTable.v[std::uint8_t(host[i])] : 16u;
  };
  std::uint16_t groups[8];
  int ng = 0, gap = -1;
  std::size_t i = 0;
  if (host[0] == ':') {
    if (host.size() < 2 || host[1] != ':') return false;
    gap = 0;
    i = 2;
  }
  while (i < host.size()) {
    const std::size_t nd = std::size_t(__builtin_ctzll(colons >> i));
    // Digits: any non-hex byte among the first nd (a '.' of a dotted tail,
    // say) shows in bit 4 of the OR; positions past nd are masked off.
    const unsigned h0 = hex(i), h1 = hex(i + 1), h2 = hex(i + 2), h3 = hex(i + 3);
    const unsigned any_bad = (h0 | (nd > 1 ? h1 : 0) | (nd > 2 ? h2 : 0) | (nd > 3 ? h3 : 0)) & 16;
    if (nd == 0 || nd > 4 || any_bad || ng == 8) return parse_or_address6(s, out);
    const unsigned v = (h0 << 12 | (h1 & 15) << 8 | (h2 & 15) << 4 | (h3 & 15)) >> (4 * (4 - nd));
    groups[ng++] = std::uint16_t(v);
    i += nd;
    if (i == host.size()) break;
    if (++i == host.size()) return false;  // one trailing ':'
    if (host[i] == ':') {
      if (gap >= 0) return false;  // a second "::"
      gap = ng;
      ++i;
    }
  }
  if (gap < 0 ? ng != 8 : ng > 7) return false;
  Ipv6OrAddress r;
  const int tail = gap < 0 ? 0 : ng - gap;
  for (int g = 0; g < ng; ++g) {
    const int slot = gap >= 0 && g >= gap ? 8 - tail + (g - gap) : g;
    r.addr[std::size_t(2 * slot)] = std::uint8_t(groups[g] >> 8);
    r.addr[std::size_t(2 * slot + 1)] = std::uint8_t(groups[g]);
  }
  if (!parse_port(s.substr(close + 2), r.port)) return false;
  out = r;
  return true;
}

// A w line that is exactly "Bandwidth=" and 1-19 digits (no overflow
// possible); false for anything else, changing nothing.
inline bool parse_w_bandwidth_only(std::string_view rest, bool& has_bandwidth,
                                   std::uint64_t& bandwidth) {
  constexpr std::string_view kKey = "Bandwidth=";
  if (rest.size() <= kKey.size() || rest.size() > kKey.size() + 19 ||
      std::memcmp(rest.data(), kKey.data(), kKey.size()) != 0)
    return false;
  std::uint64_t v = 0;
  for (std::size_t i = kKey.size(); i < rest.size(); ++i) {
    const unsigned d = unsigned(std::uint8_t(rest[i])) - '0';
    if (d > 9) return false;
    v = v * 10 + d;
  }
  has_bandwidth = true;
  bandwidth = v;
  return true;
}
inline bool parse_w_bandwidth_only(std::string_view rest, RouterStatus& out) {
  return parse_w_bandwidth_only(rest, out.has_bandwidth, out.bandwidth);
}

// Successive LFs from `from` on: 64 bytes are compared at once (SSE2 compare
// + movemask into a bit mask), then each LF costs one count-trailing-zeros.
// Entries are ~7 short lines, and a memchr() call per line cost more than the
// scan itself. Never reads past `n` (the tail uses memchr).
class LfScanner {
 public:
  LfScanner(const char* base, std::size_t n, std::size_t from) : base_(base), n_(n), blk_(from) {
    load();
  }
  // The offset of the next LF, or n when there is none.
  std::size_t next() {
    while (true) {
      if (mask_) {
        const std::size_t lf = blk_ + std::size_t(__builtin_ctzll(mask_));
        mask_ &= mask_ - 1;
        return lf;
      }
      if (tail_) {
        if (blk_ >= n_) return n_;
        const void* q = std::memchr(base_ + blk_, '\n', n_ - blk_);
        const std::size_t lf = q ? std::size_t(static_cast<const char*>(q) - base_) : n_;
        blk_ = lf + 1;
        return lf;
      }
      blk_ += 64;
      load();
    }
  }

 private:
  void load() {
#if defined(__SSE2__)
    if (blk_ <= n_ && n_ - blk_ >= 64) {
      const __m128i nl = _mm_set1_epi8('\n');
      const char* b = base_ + blk_;
      const auto m = [&](int k) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16 * k));
        return std::uint64_t(unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl))));
      };
      mask_ = m(0) | m(1) << 16 | m(2) << 32 | m(3) << 48;
      return;
    }
#endif
    mask_ = 0;
    tail_ = true;
  }

  const char* base_;
  std::size_t n_, blk_;
  std::uint64_t mask_ = 0;
  bool tail_ = false;
};

}  // namespace torcon::detail
