// Positional and KEY=VALUE arguments of a reply line or event.
//
//   650 CIRC 7 BUILT $AB..~relay0,$CD..~exit0 PURPOSE=GENERAL REASON="a b"
//
// yields positional "CIRC", "7", "BUILT", "$AB..~relay0,$CD..~exit0", then
// PURPOSE=GENERAL and REASON="a b". A token is a keyword argument only when
// what precedes '=' is 1*(ALPHA / DIGIT / "_"), so "$FP=nick" (an old-style
// LongName) stays positional. Unknown keys and extra arguments are simply
// returned: nothing here knows which keys exist.
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

#include "torcon/expected.hpp"

namespace torcon {

struct Arg {
  std::string_view key;    // empty for a positional argument
  std::string_view value;  // as written, without surrounding quotes
  bool quoted = false;     // value was a QuotedString
  bool escaped = false;    // ... containing backslash escapes

  bool positional() const noexcept { return key.empty(); }
  // The decoded value: `value` itself unless it holds escapes, in which case
  // it is decoded into `scratch` (cleared first) and a view of that returned.
  std::string_view decoded(std::string& scratch) const;
};

class ArgReader {
 public:
  explicit ArgReader(std::string_view text)
      : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()) {}
  // The next argument; false at the end or on malformed input (check error()).
  // Inline: on event-heavy paths tokenising is most of the work.
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
    // Most tokens are short, but paths and targets run to 150+ bytes: scan a
    // few bytes inline, then let memchr (vectorised) find the space.
    const char* lim = end_ - e > 16 ? e + 16 : end_;
    while (e < lim && *e != ' ') ++e;
    if (e == lim && e < end_) {
      const void* sp = std::memchr(e, ' ', std::size_t(end_ - e));
      e = sp ? static_cast<const char*>(sp) : end_;
    }
    out.value = std::string_view(s, std::size_t(e - s));
    p_ = e;
    return true;
  }
  // Errc::ok unless next() stopped on malformed input (offset: into text).
  const Error& error() const noexcept { return error_; }
  // The unread remainder (e.g. free-form text after the last argument).
  std::string_view rest() const noexcept { return std::string_view(p_, std::size_t(end_ - p_)); }

 private:
  static bool is_key_char(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  }
  bool take_quoted(const char* at, Arg& out);  // out of line: rare

  const char* begin_;
  const char* p_;
  const char* end_;
  Error error_;
};

// The value of keyword `key` in `text` (first occurrence), decoded into
// `scratch` when it holds escapes; empty view + false if absent.
bool find_keyword(std::string_view text, std::string_view key, std::string_view& value,
                  std::string& scratch);

}  // namespace torcon
