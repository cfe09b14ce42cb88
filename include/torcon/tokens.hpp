// The control protocol's small tokens (control-spec 2.4 and friends), checked
// in one place: the parser validates what tor sends with these, the command
// encoder what the caller passes, the tools what the user types.
#pragma once

#include <cstddef>
#include <string_view>

namespace torcon {

constexpr bool is_ascii_alnum(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/// 0-15 for a hex digit (either case), -1 otherwise.
constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

namespace detail {
constexpr bool all_alnum(std::string_view s, std::size_t max) noexcept {
  if (s.empty() || s.size() > max) return false;
  for (char c : s)
    if (!is_ascii_alnum(c)) return false;
  return true;
}
}  // namespace detail

/// StreamID / CircuitID / ConnID = 1*16 IDChar, IDChar = ALPHA / DIGIT.
constexpr bool is_control_id(std::string_view s) noexcept { return detail::all_alnum(s, 16); }

/// Nickname = 1*19 NicknameChar, NicknameChar = ALPHA / DIGIT.
constexpr bool is_nickname(std::string_view s) noexcept { return detail::all_alnum(s, 19); }

/// Exactly `digits` hex digits, either case.
constexpr bool is_hex(std::string_view s, std::size_t digits) noexcept {
  if (s.size() != digits) return false;
  for (char c : s)
    if (hex_value(c) < 0) return false;
  return true;
}

/// A relay identity as 40 hex digits (HexDigest), without the '$'.
constexpr bool is_hex_identity(std::string_view s) noexcept { return is_hex(s, 40); }

constexpr bool is_ascii_alpha(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

namespace detail {
constexpr bool all_alpha_or_underscore(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_ascii_alpha(c) && c != '_') return false;
  return true;
}
}  // namespace detail

/// An event name as SETEVENTS takes it: 1*(ALPHA / "_"). Tor's own names are
/// upper case; tor matches them case-insensitively.
constexpr bool is_event_name(std::string_view s) noexcept {
  return detail::all_alpha_or_underscore(s);
}

/// A command keyword: 1*ALPHA in control-spec 2.3's grammar, and "_" too, as
/// in ADD_ONION and DROP_GUARDS.
constexpr bool is_command_keyword(std::string_view s) noexcept {
  return detail::all_alpha_or_underscore(s);
}

/// A byte of the KEY in a reply's or event's KEY=VALUE: ALPHA / DIGIT / "_".
/// "$FP=nick" (an old LongName) is positional, not a key, because '$' is none.
constexpr bool is_arg_key_char(char c) noexcept { return is_ascii_alnum(c) || c == '_'; }

/// A KEY the command encoder writes in KEY=VALUE or alone: 1*(ALPHA / DIGIT /
/// "_" / "/" / "." / "-" / ":"), which configuration options (SETCONF,
/// GETCONF), GETINFO keys and HiddenServiceOptions-style names all fit.
constexpr bool is_command_key(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_arg_key_char(c) && c != '/' && c != '.' && c != '-' && c != ':') return false;
  return true;
}

/// A relay as control commands name it (control-spec 2.4, ServerSpec):
/// "$" and 40 hex digits, optionally followed by "~" (or the older "=") and
/// its nickname; or a bare nickname.
constexpr bool is_server_spec(std::string_view s) noexcept {
  if (s.empty()) return false;
  if (s[0] != '$') return is_nickname(s);
  if (s.size() < 41 || !is_hex_identity(s.substr(1, 40))) return false;
  if (s.size() == 41) return true;
  return (s[41] == '~' || s[41] == '=') && is_nickname(s.substr(42));
}

/// Text tor reads back byte for byte from a QuotedString (a command's or a
/// torrc line's value), with no escape to interpret: non-empty, no control byte (CR, LF, NUL, ...
/// DEL), no '"' or '\\' (tor reads escapes after them). Bytes >= 0x80 pass (UTF-8 paths).
constexpr bool is_unescaped_text(std::string_view s) noexcept {
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f || c == '"' || c == '\\') return false;
  }
  return !s.empty();
}

}  // namespace torcon
