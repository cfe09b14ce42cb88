// A value or an Error, for C++20 (std::expected is C++23).
//
// torcon never throws from its parsing, encoding or event-loop paths: every
// failure is an Error value that says what went wrong and, for input errors,
// at which byte offset.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "torcon/export.hpp"

namespace torcon {

/// The kinds of failure (Error::code).
enum class Errc : std::uint8_t {
  ok = 0,
  /// Parsing what tor sent.
  bad_status_code,    ///< line does not start with three digits
  bad_separator,      ///< fourth byte is not '-', '+' or ' '
  bare_lf,            ///< LF without CR (see ParserOptions::allow_bare_lf)
  bad_data_block,     ///< malformed data block terminator
  status_mismatch,    ///< status code changed within one reply
  line_too_long,      ///< ParserOptions::max_line exceeded
  reply_too_large,    ///< ParserOptions::max_reply exceeded
  bad_quoted_string,  ///< unterminated quote, bad escape
  bad_argument,       ///< malformed keyword/positional argument
  bad_router_status,  ///< malformed router status entry
  /// Encoding what we send.
  injection,    ///< CR, LF or NUL in a command or argument
  bad_keyword,  ///< command keyword or argument key not allowed
  /// Talking to tor (used by the controller).
  tor_error,  ///< tor answered 4xx/5xx; code() has tor's status
  disconnected,
  io,
  auth,
  timeout,
  /// Looking things up on this machine (process_from_address()).
  not_found,      ///< no such thing (socket, process)
  not_permitted,  ///< it exists, but the caller may not read it
};

/// What went wrong, in words, plus where (byte offset into the input) when the
/// error is about input. `status` carries tor's reply code for tor_error.
struct TORCON_API Error {
  Errc code = Errc::ok;      ///< the kind of failure (Errc::ok: none)
  std::string message;       ///< what exactly, in words for a log
  std::uint64_t offset = 0;  ///< for input errors: the byte offset where it went wrong
  int status = 0;            ///< for Errc::tor_error: tor's reply code (552, ...)

  Error() = default;
  /// An error of kind `c` with its message, input offset and tor status.
  Error(Errc c, std::string msg, std::uint64_t off = 0, int st = 0)
      : code(c), message(std::move(msg)), offset(off), status(st) {}
};

/// A T or the Error that prevented it (std::expected is C++23). Test it with
/// `if (!e)`; value(), `*` and `->` require a value, error() requires an error.
template <class T>
class Expected {
 public:
  /// Holds a value.
  Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  /// Holds an error.
  Expected(Error err) : v_(std::in_place_index<1>, std::move(err)) {}  // NOLINT

  /// True when it holds a value.
  bool ok() const noexcept { return v_.index() == 0; }
  /// ok().
  explicit operator bool() const noexcept { return ok(); }
  /// The value (only when ok()).
  T& value() & { return std::get<0>(v_); }
  /// The value (only when ok()).
  const T& value() const& { return std::get<0>(v_); }
  /// The value, moved out (only when ok()).
  T&& value() && { return std::get<0>(std::move(v_)); }
  /// value().
  T& operator*() & { return value(); }
  /// value().
  const T& operator*() const& { return value(); }
  /// &value().
  T* operator->() { return &value(); }
  /// &value().
  const T* operator->() const { return &value(); }
  /// The error (only when !ok()).
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

/// Expected<void>: success, or an Error.
template <>
class Expected<void> {
 public:
  /// Success.
  Expected() = default;
  /// The error (an Error with Errc::ok is success).
  Expected(Error err) : err_(std::move(err)) {}  // NOLINT
  /// True on success.
  bool ok() const noexcept { return err_.code == Errc::ok; }
  /// ok().
  explicit operator bool() const noexcept { return ok(); }
  /// The error (Errc::ok on success).
  const Error& error() const { return err_; }

 private:
  Error err_;
};

/// Success or an Error.
using Status = Expected<void>;

}  // namespace torcon
