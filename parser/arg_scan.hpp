// ArgReader::next's body, inline: the table-driven event parsers
// (events.cpp) call it for every argument of every event, and tokenising is
// the largest share of their work. ArgReader::next (keyword_args.cpp) is this
// same function out of line.
//
// One 16-byte SSE2 load classifies the start of a token: which bytes are key
// characters, which are spaces. Most tokens of an event (IDs, states,
// PURPOSE=GENERAL, SOURCE_ADDR=127.0.0.1:40001) end inside it, so neither the
// key nor the value is walked a byte at a time, and there is no loop whose
// exit depends on the token's length (a byte loop's exit was mispredicted
// about once per token). Quoted values are scanned 16 bytes per step too.
// Near the end of the text, where 16 bytes would read past it, and on other
// targets, the byte-wise code below does the same thing.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "torcon/keyword_args.hpp"
#include "torcon/tokens.hpp"

#if defined(__SSE2__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#include <emmintrin.h>
#define TORCON_ARG_SCAN_SSE2 1
#endif

namespace torcon::detail {

// is_arg_key_char by table, for the byte-wise path.
struct KeyChars {
  bool t[256] = {};
  constexpr KeyChars() {
    for (int c = 0; c < 256; ++c) t[c] = is_arg_key_char(char(c));
  }
};
inline constexpr KeyChars kKeyChars{};

struct ArgScan {
  /// The offset of the first ' ' in `text`, or its size.
  [[gnu::always_inline]] static inline std::size_t first_space(std::string_view text) {
    const char* const p = text.data();
    const char* const end = p + text.size();
#if TORCON_ARG_SCAN_SSE2
    if (text.size() >= 16) [[likely]] {
      const unsigned m = space_mask(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
      return m ? std::size_t(__builtin_ctz(m)) : std::size_t(find_space(p + 16, end) - p);
    }
#endif
    return std::size_t(find_space(p, end) - p);
  }

  [[gnu::always_inline]] static inline bool next(ArgReader& r, Arg& out) {
    const char* p = r.p_;
    const char* const end = r.end_;
    while (p < end && *p == ' ') ++p;
    r.p_ = p;
    if (p >= end || r.error_.code != Errc::ok) return false;
    out.key = {};
    out.quoted = out.escaped = false;
    if (*p == '"') return r.take_quoted(p, out);
#if TORCON_ARG_SCAN_SSE2
    if (end - p >= 16) [[likely]] {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      const unsigned spaces = space_mask(v);
      const unsigned nonkey = ~key_mask(v) & 0xffffu;
      if (nonkey) [[likely]] {
        const unsigned first = unsigned(__builtin_ctz(nonkey));
        if (first > 0 && p[first] == '=') {
          out.key = std::string_view(p, first);
          const char* const s = p + first + 1;
          if (s < end && *s == '"') return r.take_quoted(s, out);
          // A space before `first` is impossible (all key characters), so
          // the first one in the block after '=' is the value's end.
          const unsigned after = spaces >> (first + 1);
          const char* const e = after ? s + __builtin_ctz(after) : find_space(p + 16, end);
          out.value = std::string_view(s, std::size_t(e - s));
          r.p_ = e;
          return true;
        }
        // Positional: every byte before `first` is a key character, so the
        // first space in the block, if any, ends it.
        const char* const e = spaces ? p + __builtin_ctz(spaces) : find_space(p + 16, end);
        out.value = std::string_view(p, std::size_t(e - p));
        r.p_ = e;
        return true;
      }
      // 16 key characters and more: rare (a long ID); the byte-wise path.
    }
#endif
    return next_bytewise(r, p, out);
  }

 private:
  /// The first ' ' at or after p (or end): the rest of a value longer than
  /// the first block (circuit paths run to 150+ bytes, ISO_FIELDS to 60), 16
  /// bytes per step, then 8 (SWAR), then single bytes.
  static const char* find_space(const char* p, const char* end) noexcept {
#if TORCON_ARG_SCAN_SSE2
    for (; end - p >= 16; p += 16) {
      const unsigned m = space_mask(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
      if (m) return p + __builtin_ctz(m);
    }
#endif
    constexpr std::uint64_t kOnes = 0x0101010101010101ull, kSpaces = 0x2020202020202020ull,
                            kHigh = 0x8080808080808080ull;
    while (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      const std::uint64_t x = w ^ kSpaces;  // zero bytes where w has ' '
      // The lowest flagged byte is the first space (a borrow only flags
      // bytes above a zero byte); little-endian: lowest byte first.
      const std::uint64_t hit = (x - kOnes) & ~x & kHigh;
      if (hit) return p + (__builtin_ctzll(hit) >> 3);
      p += 8;
    }
    while (p < end && *p != ' ') ++p;
    return p;
  }

  static bool is_key_char(char c) noexcept { return kKeyChars.t[static_cast<unsigned char>(c)]; }

  static bool next_bytewise(ArgReader& r, const char* s, Arg& out) {
    const char* const end = r.end_;
    const char* e = s;
    while (e < end && is_key_char(*e)) ++e;
    if (e > s && e < end && *e == '=') {
      out.key = std::string_view(s, std::size_t(e - s));
      s = ++e;
      if (s < end && *s == '"') return r.take_quoted(s, out);
    }
    e = find_space(e, end);
    out.value = std::string_view(s, std::size_t(e - s));
    r.p_ = e;
    return true;
  }

#if TORCON_ARG_SCAN_SSE2
  static unsigned space_mask(__m128i v) noexcept {
    return unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(' '))));
  }
  // Bit i: byte i is ALPHA / DIGIT / "_" (is_arg_key_char). A byte b is in
  // lo..lo+n exactly when the unsigned b - lo is at most n, i.e. when
  // min(b - lo, n) is b - lo; b | 0x20 folds upper case onto lower case and
  // maps no other byte into 'a'..'z'.
  static unsigned key_mask(__m128i v) noexcept {
    const __m128i digit = _mm_sub_epi8(v, _mm_set1_epi8('0'));
    const __m128i alpha = _mm_sub_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)), _mm_set1_epi8('a'));
    const __m128i is_digit = _mm_cmpeq_epi8(_mm_min_epu8(digit, _mm_set1_epi8(9)), digit);
    const __m128i is_alpha = _mm_cmpeq_epi8(_mm_min_epu8(alpha, _mm_set1_epi8(25)), alpha);
    const __m128i is_under = _mm_cmpeq_epi8(v, _mm_set1_epi8('_'));
    return unsigned(_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(is_digit, is_alpha), is_under)));
  }
#endif
};

}  // namespace torcon::detail
