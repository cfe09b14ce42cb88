#include "torcon/keyword_args.hpp"

#include "torcon/quoted.hpp"

namespace torcon {

std::string_view Arg::decoded(std::string& scratch) const {
  if (!escaped) return value;
  scratch.clear();
  unescape(value, scratch);
  return scratch;
}

bool ArgReader::take_quoted(const char* at, Arg& out) {
  bool esc = false;
  const std::size_t off = std::size_t(at - begin_);
  Expected<std::size_t> q = scan_quoted(std::string_view(at, std::size_t(end_ - at)), &esc);
  if (!q) {
    error_ = Error(Errc::bad_argument, q.error().message, off + q.error().offset);
    return false;
  }
  const char* e = at + *q;
  if (e < end_ && *e != ' ') {
    error_ =
        Error(Errc::bad_argument, "unexpected byte after a quoted value", std::size_t(e - begin_));
    return false;
  }
  out.value = std::string_view(at + 1, *q - 2);
  out.quoted = true;
  out.escaped = esc;
  p_ = e;
  return true;
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
