// Positional and KEY=VALUE arguments of a reply line or event.
//
//   650 CIRC 7 BUILT $AB..~relay0,$CD..~exit0 PURPOSE=GENERAL REASON="a b"
//
// yields positional "CIRC", "7", "BUILT", "$AB..~relay0,$CD..~exit0", then
// PURPOSE=GENERAL and REASON="a b". A token is a keyword argument only when
// what precedes '=' is 1*(ALPHA / DIGIT / "_") (is_arg_key_char), so
// "$FP=nick" (an old-style LongName) stays positional. Unknown keys and extra arguments are simply
// returned: nothing here knows which keys exist.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "torcon/expected.hpp"
#include "torcon/export.hpp"
#include "torcon/tokens.hpp"

namespace torcon {

/// One argument of an event or reply line: positional or KEY=VALUE.
struct TORCON_API Arg {
  std::string_view key;    ///< empty for a positional argument
  std::string_view value;  ///< as written, without surrounding quotes
  bool quoted = false;     ///< value was a QuotedString
  bool escaped = false;    ///< ... containing backslash escapes

  /// No key: a positional argument.
  bool positional() const noexcept { return key.empty(); }
  /// The decoded value: `value` itself unless it holds escapes, in which case
  /// it is decoded into `scratch` (cleared first) and a view of that returned.
  std::string_view decoded(std::string& scratch) const;
};

namespace detail {
/// A table, not comparisons: keys are scanned a byte at a time on the hot path
/// of every event.
struct TORCON_API KeyChars {
  bool t[256] = {};
  constexpr KeyChars() {
    for (int c = 0; c < 256; ++c) t[c] = is_arg_key_char(char(c));
  }
};
inline constexpr KeyChars kKeyChars{};
}  // namespace detail

/// Walks the arguments of a line (control-spec 2.1.1), without allocating.
class TORCON_API ArgReader {
 public:
  /// Walks `text`, which must outlive the reader.
  explicit ArgReader(std::string_view text)
      : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()) {}
  /// The next argument; false at the end or on malformed input (check error()).
  /// Inline: on event-heavy paths tokenising is most of the work.
  bool next(Arg& out) {
    while (p_ < end_ && *p_ == ' ') ++p_;
    if (p_ >= end_ || error_.code != Errc::ok) return false;
    out.key = {};
    out.quoted = out.escaped = false;
    const char* s = p_;
    if (*s == '"') return take_quoted(s, out);
    const char* e = s;
    while (e < end_ && is_key_char(*e)) ++e;
    if (e > s && e < end_ && *e == '=') {
      out.key = std::string_view(s, std::size_t(e - s));
      s = ++e;
      if (s < end_ && *s == '"') return take_quoted(s, out);
    }
    e = find_space(e);
    out.value = std::string_view(s, std::size_t(e - s));
    p_ = e;
    return true;
  }
  /// Errc::ok unless next() stopped on malformed input (offset: into text).
  const Error& error() const noexcept { return error_; }
  /// The unread remainder (e.g. free-form text after the last argument).
  std::string_view rest() const noexcept { return std::string_view(p_, std::size_t(end_ - p_)); }

 private:
  static bool is_key_char(char c) noexcept {
    return detail::kKeyChars.t[static_cast<unsigned char>(c)];
  }
  bool take_quoted(const char* at, Arg& out);  ///< out of line: rare

  /// The first ' ' at or after p (or end_), eight bytes per step: values run
  /// from a few bytes to 150+ (circuit paths), and a byte loop or a memchr
  /// call per token both cost more than this on event-sized lines.
  const char* find_space(const char* p) const noexcept {
    constexpr std::uint64_t kOnes = 0x0101010101010101ull, kSpaces = 0x2020202020202020ull,
                            kHigh = 0x8080808080808080ull;
    while (end_ - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      const std::uint64_t x = w ^ kSpaces;  ///< zero bytes where w has ' '
      const std::uint64_t hit = (x - kOnes) & ~x & kHigh;
      if (hit) return p + (__builtin_ctzll(hit) >> 3);  ///< little-endian: lowest byte first
      p += 8;
    }
    while (p < end_ && *p != ' ') ++p;
    return p;
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  Error error_;
};

/// The value of keyword `key` in `text` (first occurrence), decoded into
/// `scratch` when it holds escapes; empty view + false if absent.
TORCON_API bool find_keyword(std::string_view text, std::string_view key, std::string_view& value,
                             std::string& scratch);

}  // namespace torcon
