#include "torcon/quoted.hpp"

#include <cstring>

namespace torcon {

Expected<std::size_t> scan_quoted(std::string_view in, bool* has_escape) {
  if (in.empty() || in[0] != '"')
    return Error(Errc::bad_quoted_string, "expected '\"' to start a quoted string", 0);
  bool escape = false;
  std::size_t i = 1;
  while (true) {
    // Fast path: jump to the next quote or backslash.
    const void* q = std::memchr(in.data() + i, '"', in.size() - i);
    const std::size_t quote = q ? static_cast<const char*>(q) - in.data() : in.size();
    const void* b = std::memchr(in.data() + i, '\\', quote - i);
    if (!b) {
      if (quote == in.size()) break;
      if (has_escape) *has_escape = escape;
      return quote + 1;
    }
    escape = true;
    i = static_cast<std::size_t>(static_cast<const char*>(b) - in.data()) + 2;  // skip "\x"
    if (i > in.size()) break;
  }
  return Error(Errc::bad_quoted_string, "unterminated quoted string", in.size());
}

static bool is_octal(char c) { return c >= '0' && c <= '7'; }

void unescape(std::string_view s, std::string& out) {
  out.reserve(out.size() + s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c != '\\' || i + 1 == s.size()) {
      out.push_back(c);
      continue;
    }
    const char e = s[++i];
    switch (e) {
      case 'n': out.push_back('\n'); break;
      case 't': out.push_back('\t'); break;
      case 'r': out.push_back('\r'); break;
      default:
        // \000..\377 as tor's CString writes them; any other escaped byte is
        // itself (control-spec 2.1.1).
        if (e >= '0' && e <= '3' && i + 2 < s.size() && is_octal(s[i + 1]) && is_octal(s[i + 2])) {
          out.push_back(
              static_cast<char>((e - '0') * 64 + (s[i + 1] - '0') * 8 + (s[i + 2] - '0')));
          i += 2;
        } else {
          out.push_back(e);
        }
    }
  }
}

Expected<std::size_t> unquote(std::string_view in, std::string& out) {
  bool esc = false;
  Expected<std::size_t> n = scan_quoted(in, &esc);
  if (!n) return n;
  std::string_view content = in.substr(1, *n - 2);
  if (esc)
    unescape(content, out);
  else
    out.append(content);
  return n;
}

Status quote(std::string_view value, std::string& out) {
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '\r' || c == '\n' || c == '\0')
      return Error(Errc::injection,
                   std::string("value contains ") +
                       (c == '\r'   ? "CR"
                        : c == '\n' ? "LF"
                                    : "NUL") +
                       " at byte " + std::to_string(i) + ", which would end the command",
                   i);
  }
  out.reserve(out.size() + value.size() + 2);
  out.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return {};
}

bool is_safe_bare(std::string_view value) noexcept {
  if (value.empty()) return false;
  for (unsigned char c : value)
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
  return true;
}

}  // namespace torcon
