#include "torcon/command.hpp"

#include "torcon/quoted.hpp"
#include "torcon/tokens.hpp"

namespace torcon {
namespace {

// Names the first CR, LF or NUL in `s`, or returns nullptr.
const char* injection_byte(std::string_view s, std::size_t& at) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    switch (s[i]) {
      case '\r': at = i; return "CR";
      case '\n': at = i; return "LF";
      case '\0': at = i; return "NUL";
      default: break;
    }
  }
  return nullptr;
}

}  // namespace

Command& Command::fail(Errc code, std::string msg) {
  if (ok()) error_ = Error(code, std::move(msg));
  return *this;
}

Command::Command(std::string_view keyword) {
  std::size_t at = 0;
  if (const char* what = injection_byte(keyword, at)) {
    fail(Errc::injection, std::string("command keyword contains ") + what);
    return;
  }
  if (keyword.empty()) {
    fail(Errc::bad_keyword, "empty command keyword");
    return;
  }
  if (!is_command_keyword(keyword)) {
    fail(Errc::bad_keyword,
         "command keyword \"" + std::string(keyword) + "\" must be letters (and '_') only");
    return;
  }
  line_.assign(keyword);
}

Command& Command::arg(std::string_view value) {
  if (!ok()) return *this;
  const std::string which = "argument " + std::to_string(++args_);
  std::size_t at = 0;
  if (const char* what = injection_byte(value, at))
    return fail(Errc::injection, which + " contains " + what + " at byte " + std::to_string(at));
  if (!is_safe_bare(value))
    return fail(Errc::bad_argument, which + " \"" + std::string(value) +
                                        "\" is empty or has a space, quote, backslash or "
                                        "non-printable byte; use quoted()");
  line_.push_back(' ');
  line_.append(value);
  return *this;
}

Command& Command::quoted(std::string_view value) {
  if (!ok()) return *this;
  const std::string which = "argument " + std::to_string(++args_);
  line_.push_back(' ');
  Status s = quote(value, line_);
  if (!s) return fail(Errc::injection, which + " (quoted): " + s.error().message);
  return *this;
}

Command& Command::key(std::string_view k) {
  if (!ok()) return *this;
  ++args_;
  std::size_t at = 0;
  if (const char* what = injection_byte(k, at))
    return fail(Errc::injection, "argument " + std::to_string(args_) + ": key contains " + what +
                                     " at byte " + std::to_string(at));
  if (k.empty()) return fail(Errc::bad_keyword, "empty key");
  if (!is_command_key(k))
    return fail(Errc::bad_keyword, "key \"" + std::string(k) + "\" has a byte not allowed in keys");
  line_.push_back(' ');
  line_.append(k);
  return *this;
}

Command& Command::kv(std::string_view k, std::string_view value) {
  key(k);
  if (!ok()) return *this;
  line_.push_back('=');
  if (is_safe_bare(value) && value.find('=') == std::string_view::npos) {
    line_.append(value);
    return *this;
  }
  Status s = quote(value, line_);
  if (!s) return fail(Errc::injection, "value of " + std::string(k) + ": " + s.error().message);
  return *this;
}

Command& Command::kv_bare(std::string_view k, std::string_view value) {
  key(k);
  if (!ok()) return *this;
  std::size_t at = 0;
  if (const char* what = injection_byte(value, at))
    return fail(Errc::injection, "value of " + std::string(k) + " contains " + what);
  if (!is_safe_bare(value))
    return fail(Errc::bad_argument, "value of " + std::string(k) + " is not safe unquoted");
  line_.push_back('=');
  line_.append(value);
  return *this;
}

Command& Command::data(std::string_view body) {
  if (!ok()) return *this;
  body_.clear();
  body_.reserve(body.size() + body.size() / 32 + 8);
  bool line_start = true;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c == '\0') return fail(Errc::injection, "data contains NUL at byte " + std::to_string(i));
    if (c == '\r') {
      if (i + 1 < body.size() && body[i + 1] == '\n') continue;  // CRLF: the LF writes it
      return fail(Errc::injection, "data contains a lone CR at byte " + std::to_string(i));
    }
    if (line_start && c == '.') body_.push_back('.');  // dot-stuffing
    if (c == '\n') {
      body_.append("\r\n");
      line_start = true;
      continue;
    }
    body_.push_back(c);
    line_start = false;
  }
  if (!line_start) body_.append("\r\n");
  body_.append(".\r\n");
  multiline_ = true;
  return *this;
}

bool Command::append_to(std::string& out) const {
  if (!ok()) return false;
  if (multiline_) out.push_back('+');
  out.append(line_);
  out.append("\r\n");
  out.append(body_);
  return true;
}

std::string Command::wire() const {
  std::string out;
  append_to(out);
  return out;
}

Status check_raw_command(std::string_view line) {
  std::size_t at = 0;
  if (const char* what = injection_byte(line, at))
    return Error(Errc::injection,
                 std::string("command contains ") + what + " at byte " + std::to_string(at) +
                     "; it would inject a second command",
                 at);
  if (line.empty()) return Error(Errc::bad_keyword, "empty command");
  return {};
}

}  // namespace torcon
