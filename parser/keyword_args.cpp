#include "torcon/keyword_args.hpp"

#include "torcon/quoted.hpp"

namespace torcon {

static bool is_key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

std::string_view Arg::decoded(std::string& scratch) const {
  if (!escaped) return value;
  scratch.clear();
  unescape(value, scratch);
  return scratch;
}

bool ArgReader::next(Arg& out) {
  if (error_.code != Errc::ok) return false;
  const std::size_t n = text_.size();
  while (pos_ < n && text_[pos_] == ' ') ++pos_;
  if (pos_ >= n) return false;
  out = Arg{};

  // A quoted value (positional or after KEY=) must end the token.
  auto take_quoted = [&](std::size_t at) {
    bool esc = false;
    Expected<std::size_t> q = scan_quoted(text_.substr(at), &esc);
    if (!q) {
      error_ = Error(Errc::bad_argument, q.error().message, at + q.error().offset);
      return false;
    }
    const std::size_t end = at + *q;
    if (end < n && text_[end] != ' ') {
      error_ = Error(Errc::bad_argument, "unexpected byte after a quoted value", end);
      return false;
    }
    out.value = text_.substr(at + 1, *q - 2);
    out.quoted = true;
    out.escaped = esc;
    pos_ = end;
    return true;
  };
  auto take_bare = [&](std::size_t at) {
    std::size_t end = text_.find(' ', at);
    if (end == std::string_view::npos) end = n;
    out.value = text_.substr(at, end - at);
    pos_ = end;
    return true;
  };

  const std::size_t start = pos_;
  if (text_[start] == '"') return take_quoted(start);
  std::size_t k = start;
  while (k < n && is_key_char(text_[k])) ++k;
  if (k > start && k < n && text_[k] == '=') {
    out.key = text_.substr(start, k - start);
    if (k + 1 < n && text_[k + 1] == '"') return take_quoted(k + 1);
    return take_bare(k + 1);
  }
  return take_bare(start);
}

bool find_keyword(std::string_view text, std::string_view key, std::string_view& value,
                  std::string& scratch) {
  ArgReader r(text);
  Arg a;
  while (r.next(a)) {
    if (a.key == key) {
      value = a.decoded(scratch);
      return true;
    }
  }
  value = {};
  return false;
}

}  // namespace torcon
