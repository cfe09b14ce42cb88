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
  explicit ArgReader(std::string_view text) : text_(text) {}
  // The next argument; false at the end or on malformed input (check error()).
  bool next(Arg& out);
  // Errc::ok unless next() stopped on malformed input (offset: into text).
  const Error& error() const noexcept { return error_; }
  // The unread remainder (e.g. free-form text after the last argument).
  std::string_view rest() const noexcept { return text_.substr(pos_); }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  Error error_;
};

// The value of keyword `key` in `text` (first occurrence), decoded into
// `scratch` when it holds escapes; empty view + false if absent.
bool find_keyword(std::string_view text, std::string_view key, std::string_view& value,
                  std::string& scratch);

}  // namespace torcon
