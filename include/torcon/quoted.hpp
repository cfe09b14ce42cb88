// QuotedString / CString decoding and encoding (control-spec 2.1, 2.1.1).
//
// Tor writes many "QuotedString"s as C strings (the "escaping bug"), so the
// decoder reads \n \t \r and three-digit octal \000..\377 as C escapes and a
// backslash before any other byte as that byte, as the spec advises.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "torcon/expected.hpp"
#include "torcon/export.hpp"

namespace torcon {

/// Finds the end of the QuotedString that starts at in[0] (which must be '"').
/// Returns the bytes it spans, both quotes included. `has_escape` (optional) is
/// set when the content holds a backslash, i.e. when decoding must copy.
TORCON_API Expected<std::size_t> scan_quoted(std::string_view in, bool* has_escape = nullptr);

/// Decodes the content between the quotes, appending to `out`.
TORCON_API void unescape(std::string_view content, std::string& out);

/// scan_quoted + unescape: decodes the QuotedString at in[0], appends its value
/// to `out`, returns the bytes consumed.
TORCON_API Expected<std::size_t> unquote(std::string_view in, std::string& out);

/// Appends `value` as a QuotedString (backslash and quote escaped). CR, LF and
/// NUL would let the value end the command early, so they are refused
/// (Errc::injection) and nothing is appended.
TORCON_API Status quote(std::string_view value, std::string& out);

/// True when `value` can go into a command unquoted: non-empty, printable
/// ASCII, no space, quote or backslash.
TORCON_API bool is_safe_bare(std::string_view value) noexcept;

}  // namespace torcon
