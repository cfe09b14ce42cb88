// Building control commands (control-spec 2.2) with correctly quoted
// arguments. Nothing built here can smuggle a second command into the stream:
// CR, LF and NUL in a keyword, argument or value are refused with
// Errc::injection, naming the offending argument.
//
//   Command c("SETCONF");
//   c.kv("ContactInfo", "me <me@example>").kv("ORPort", "9001");
//   if (!c.ok()) log(c.error().message);
//   else write(c.wire());  // SETCONF ContactInfo="me <me@example>" ORPort=9001\r\n
//
// The first error sticks: later calls do nothing and wire() stays empty.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "torcon/expected.hpp"
#include "torcon/export.hpp"

namespace torcon {

/// A control-port command built from checked pieces: nothing a caller passes
/// can end the line early or start a second command (errors stick: once one
/// piece is refused, ok() is false and wire() empty).
class TORCON_API Command {
 public:
  /// `keyword` must pass is_command_keyword() (tokens.hpp): letters and '_'.
  explicit Command(std::string_view keyword);

  /// A bare positional argument: non-empty, printable ASCII, no space or quote
  /// (e.g. a circuit ID, a flag, a server spec). Anything else is an error;
  /// use quoted() for free text.
  Command& arg(std::string_view value);
  /// A positional argument always written as a QuotedString.
  Command& quoted(std::string_view value);
  /// KEY=VALUE, the value quoted when it is not safe bare or holds '='. The
  /// key must pass is_command_key() (tokens.hpp): 1*(ALPHA / DIGIT / "_" /
  /// "/" / "." / "-" / ":"), which GETCONF-style keys and
  /// HiddenServiceOptions-style ones fit.
  Command& kv(std::string_view key, std::string_view value);
  /// KEY=VALUE with the value written exactly as given (it must be safe bare).
  Command& kv_bare(std::string_view key, std::string_view value);
  /// A bare key with no value (SETCONF Key, RESETCONF Key).
  Command& key(std::string_view key);
  /// Turns the command into the multi-line form: "+KEYWORD args\r\n" followed
  /// by `body` dot-stuffed, LFs turned into CRLFs, and ".\r\n". NUL is refused;
  /// a lone CR (not part of CRLF) is refused too.
  Command& data(std::string_view body);

  /// True unless a piece was refused.
  bool ok() const noexcept { return error_.code == Errc::ok; }
  /// The first refusal (Errc::injection, Errc::bad_keyword, ...).
  const Error& error() const noexcept { return error_; }
  /// The bytes to send, CRLF-terminated; empty when !ok().
  std::string wire() const;
  /// Appends wire() to `out` without a temporary; returns false when !ok().
  bool append_to(std::string& out) const;

 private:
  Command& fail(Errc code, std::string msg);
  std::string line_;  ///< keyword and arguments, no CRLF
  std::string body_;  ///< dot-stuffed data block, ".\r\n" included
  bool multiline_ = false;
  int args_ = 0;  ///< arguments so far, so errors can say which one
  Error error_;
};

/// Checks a raw command line (as torcon-ctl and Controller::command() take
/// them): refuses CR, LF and NUL, the bytes that would end it early.
TORCON_API Status check_raw_command(std::string_view line);

}  // namespace torcon
