#include "torcon/keyword_args.hpp"

#include "arg_scan.hpp"
#include "torcon/quoted.hpp"

namespace torcon {

bool ArgReader::next(Arg& out) { return detail::ArgScan::next(*this, out); }

std::string_view Arg::decoded(std::string& scratch) const {
  if (!escaped) return value;
  scratch.clear();
  unescape(value, scratch);
  return scratch;
}

namespace {

// The closing quote of a QuotedString starting at `at`, when no backslash
// comes before it, 16 bytes per step; null otherwise (an escape, or the end
// of the text first), for scan_quoted() to decide. Event values that are
// quoted (SOCKS credentials, reasons) rarely hold escapes: one pass, and no
// call, where scan_quoted makes two memchr calls.
const char* plain_quote_end(const char* at, const char* end) {
  const char* q = at + 1;
#if TORCON_ARG_SCAN_SSE2
  for (; end - q >= 16; q += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    const unsigned quote = unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"'))));
    const unsigned slash = unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
    if (quote | slash) {
      // A backslash before the first quote (or alone) needs scan_quoted.
      if (!quote || (slash & ((quote & (0u - quote)) - 1))) return nullptr;
      return q + __builtin_ctz(quote);
    }
  }
#endif
  for (; q < end; ++q) {
    if (*q == '"') return q;
    if (*q == '\\') return nullptr;
  }
  return nullptr;
}

}  // namespace

bool ArgReader::take_quoted(const char* at, Arg& out) {
  bool esc = false;
  const char* e;  // just past the closing quote
  if (const char* close = plain_quote_end(at, end_)) {
    e = close + 1;
  } else {
    Expected<std::size_t> q = scan_quoted(std::string_view(at, std::size_t(end_ - at)), &esc);
    if (!q) {
      error_ =
          Error(Errc::bad_argument, q.error().message, std::size_t(at - begin_) + q.error().offset);
      return false;
    }
    e = at + *q;
  }
  if (e < end_ && *e != ' ') {
    error_ =
        Error(Errc::bad_argument, "unexpected byte after a quoted value", std::size_t(e - begin_));
    return false;
  }
  out.value = std::string_view(at + 1, std::size_t(e - at - 2));
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
