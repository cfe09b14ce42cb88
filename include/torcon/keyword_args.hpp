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
struct ArgScan;
}  // namespace detail

/// Walks the arguments of a line (control-spec 2.1.1), without allocating.
class TORCON_API ArgReader {
 public:
  /// Walks `text`, which must outlive the reader.
  explicit ArgReader(std::string_view text)
      : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()) {}
  /// The next argument; false at the end or on malformed input (check error()).
  bool next(Arg& out);
  /// Errc::ok unless next() stopped on malformed input (offset: into text).
  const Error& error() const noexcept { return error_; }
  /// The unread remainder (e.g. free-form text after the last argument).
  std::string_view rest() const noexcept { return std::string_view(p_, std::size_t(end_ - p_)); }

 private:
  friend struct detail::ArgScan;  ///< next()'s body, inlined into the event parsers
  bool take_quoted(const char* at, Arg& out);

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
