// libFuzzer harness for the text decoders and the command encoder:
// scan_quoted / unescape / unquote / quote, ArgReader / find_keyword, and the
// Command builder.
//
// The whole input is used as text for the decoders; the same bytes, read
// through FuzzedDataProvider, also drive a sequence of Command builder calls.
//
// Invariants checked (any violation aborts):
//  * scan_quoted agrees with a naive byte-by-byte scanner (length, has_escape);
//  * unescape never grows its input and is the identity without backslashes;
//    unquote decodes what tor's CString encoding produced back to the bytes;
//  * quote() refuses exactly the values holding CR, LF or NUL (appending
//    nothing), and unquote(quote(v)) == v otherwise;
//  * ArgReader's views lie inside the text, tokens are separated by spaces
//    only, keys are 1*(ALPHA/DIGIT/"_"), decoded values are sane, and
//    find_keyword agrees with it;
//  * Command: ok() and the error code match a model of the rules; wire()
//    never holds NUL, has exactly one CRLF for a one-line command and CR/LF
//    nowhere else; a data() body is CRLF-only, properly dot-stuffed, never has
//    a lone "." before the terminator, and unstuffs back to what was given;
//    the argument line reads back (ArgReader) as the arguments that built it.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "torcon/command.hpp"
#include "torcon/keyword_args.hpp"
#include "torcon/quoted.hpp"
#include "torcon/reply.hpp"

namespace {

using torcon::Errc;
using torcon::fuzz::inside;
using torcon::fuzz::inside_or_null;
constexpr std::size_t npos = std::string_view::npos;

bool has_injection(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != npos;
}
bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_arg_key_char(char c) { return is_alpha(c) || is_digit(c) || c == '_'; }
bool safe_bare(std::string_view v) {
  if (v.empty()) return false;
  for (unsigned char c : v)
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
  return true;
}

// Reference scanner: length of the QuotedString at in[0], or npos.
std::size_t naive_scan(std::string_view in, bool& escaped) {
  escaped = false;
  if (in.empty() || in[0] != '"') return npos;
  for (std::size_t i = 1; i < in.size();) {
    if (in[i] == '\\') {
      escaped = true;
      i += 2;
    } else if (in[i] == '"') {
      return i + 1;
    } else {
      ++i;
    }
  }
  return npos;
}

// Tor's CString encoding (esc_for_log): the decoder must invert it exactly.
std::string cstring_encode(std::string_view v) {
  static constexpr char kOct[] = "01234567";
  std::string out = "\"";
  for (unsigned char c : v) {
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out.push_back(static_cast<char>(c));
        } else {
          out.push_back('\\');
          out.push_back(kOct[c >> 6]);
          out.push_back(kOct[(c >> 3) & 7]);
          out.push_back(kOct[c & 7]);
        }
    }
  }
  out.push_back('"');
  return out;
}

void check_quoted(std::string_view in) {
  // scan_quoted against the reference scanner, at every quote in the input.
  for (std::size_t at = in.find('"'); at != npos; at = in.find('"', at + 1)) {
    const std::string_view s = in.substr(at);
    bool ref_esc = false, esc = false;
    const std::size_t ref = naive_scan(s, ref_esc);
    const torcon::Expected<std::size_t> n = torcon::scan_quoted(s, &esc);
    FUZZ_CHECK(n.ok() == (ref != npos));
    if (!n) {
      FUZZ_CHECK(n.error().code == Errc::bad_quoted_string && n.error().offset <= s.size());
      continue;
    }
    FUZZ_CHECK(*n == ref && esc == ref_esc);
    FUZZ_CHECK(*n >= 2 && s[*n - 1] == '"');
    const std::string_view content = s.substr(1, *n - 2);
    FUZZ_CHECK(esc == (content.find('\\') != npos));

    std::string out = "prefix";  // unquote appends
    const torcon::Expected<std::size_t> u = torcon::unquote(s, out);
    FUZZ_CHECK(u.ok() && *u == *n);
    FUZZ_CHECK(out.compare(0, 6, "prefix") == 0);
    FUZZ_CHECK(out.size() - 6 <= content.size());
    if (!esc) FUZZ_CHECK(std::string_view(out).substr(6) == content);
    if (at > 64) break;  // quadratic otherwise; the first quotes suffice
  }
  bool esc = false;
  if (in.empty() || in[0] != '"') FUZZ_CHECK(!torcon::scan_quoted(in, &esc).ok());

  // unescape over arbitrary bytes.
  std::string un;
  torcon::unescape(in, un);
  FUZZ_CHECK(un.size() <= in.size());
  if (in.find('\\') == npos) FUZZ_CHECK(un == in);

  // CString encode -> decode is the identity, for any bytes.
  const std::string enc = cstring_encode(in);
  std::string dec;
  const torcon::Expected<std::size_t> d = torcon::unquote(enc, dec);
  FUZZ_CHECK(d.ok() && *d == enc.size() && dec == in);

  // quote(): refuses exactly CR, LF, NUL; otherwise round-trips.
  std::string q = "x";
  const torcon::Status qs = torcon::quote(in, q);
  FUZZ_CHECK(qs.ok() == !has_injection(in));
  if (!qs) {
    FUZZ_CHECK(qs.error().code == Errc::injection && q == "x");
    FUZZ_CHECK(qs.error().offset < in.size());
  } else {
    const std::string_view quoted = std::string_view(q).substr(1);
    std::string back;
    const torcon::Expected<std::size_t> b = torcon::unquote(quoted, back);
    FUZZ_CHECK(b.ok() && *b == quoted.size() && back == in);
  }
  FUZZ_CHECK(torcon::is_safe_bare(in) == safe_bare(in));
}

void check_args(std::string_view text) {
  torcon::ArgReader r(text);
  torcon::Arg a;
  std::string scratch, ref;
  std::size_t prev_end = 0, count = 0;
  std::string first_key, first_value;
  bool have_first = false;
  while (r.next(a)) {
    FUZZ_CHECK(++count <= text.size());
    FUZZ_CHECK(inside_or_null(a.key, text) && inside(a.value, text));
    FUZZ_CHECK(!a.escaped || a.quoted);
    const char* tok = a.key.empty() ? a.value.data() - (a.quoted ? 1 : 0) : a.key.data();
    const char* tok_end = a.value.data() + a.value.size() + (a.quoted ? 1 : 0);
    FUZZ_CHECK(tok >= text.data() + prev_end && tok_end <= text.data() + text.size());
    // Only spaces between tokens, and at least one between two tokens.
    const std::string_view gap(text.data() + prev_end, std::size_t(tok - text.data()) - prev_end);
    FUZZ_CHECK(gap.find_first_not_of(' ') == npos);
    FUZZ_CHECK(prev_end == 0 || !gap.empty());
    prev_end = std::size_t(tok_end - text.data());
    FUZZ_CHECK(prev_end == text.size() || text[prev_end] == ' ');

    if (!a.key.empty()) {
      for (char c : a.key) FUZZ_CHECK(is_arg_key_char(c));
      FUZZ_CHECK(a.key.data()[a.key.size()] == '=');
      FUZZ_CHECK(tok + a.key.size() + 1 + (a.quoted ? 1 : 0) == a.value.data());
    } else if (!a.quoted) {
      FUZZ_CHECK(!a.value.empty() && a.value.front() != '"');
    }
    if (a.quoted) {
      FUZZ_CHECK(a.value.data()[-1] == '"' && a.value.data()[a.value.size()] == '"');
    } else {
      FUZZ_CHECK(a.value.find(' ') == npos);
    }

    const std::string_view dv = a.decoded(scratch);
    if (!a.escaped) {
      FUZZ_CHECK(dv.data() == a.value.data() && dv.size() == a.value.size());
    } else {
      FUZZ_CHECK(dv.size() <= a.value.size());
      ref.clear();
      const torcon::Expected<std::size_t> u =
          torcon::unquote(std::string_view(a.value.data() - 1, a.value.size() + 2), ref);
      FUZZ_CHECK(u.ok() && *u == a.value.size() + 2 && dv == ref);
    }
    if (!have_first && !a.key.empty()) {
      have_first = true;
      first_key = a.key;
      first_value = dv;
    }
  }
  if (r.error().code == Errc::ok) {
    FUZZ_CHECK(r.rest().empty());
    FUZZ_CHECK(text.substr(prev_end).find_first_not_of(' ') == npos);
  } else {
    FUZZ_CHECK(r.error().code == Errc::bad_argument && r.error().offset <= text.size());
    FUZZ_CHECK(inside(r.rest(), text));
    FUZZ_CHECK(!r.next(a));  // errors are final
  }
  if (have_first) {
    std::string_view v;
    std::string sc;
    FUZZ_CHECK(torcon::find_keyword(text, first_key, v, sc));
    FUZZ_CHECK(v == first_value);
  }
}

// --- Command builder --------------------------------------------------------

enum class Op : std::uint8_t { arg, quoted, key, kv, kv_bare, data, kCount };

Errc key_rule(std::string_view k) {
  if (has_injection(k)) return Errc::injection;
  if (k.empty()) return Errc::bad_keyword;
  for (char c : k)
    if (!is_arg_key_char(c) && c != '/' && c != '.' && c != '-' && c != ':')
      return Errc::bad_keyword;
  return Errc::ok;
}

// What the builder must make of one call (the rules in command.hpp).
Errc expected_error(Op op, std::string_view a, std::string_view b) {
  switch (op) {
    case Op::arg:
      if (has_injection(a)) return Errc::injection;
      return safe_bare(a) ? Errc::ok : Errc::bad_argument;
    case Op::quoted: return has_injection(a) ? Errc::injection : Errc::ok;
    case Op::key: return key_rule(a);
    case Op::kv:
      if (Errc e = key_rule(a); e != Errc::ok) return e;
      return has_injection(b) ? Errc::injection : Errc::ok;
    case Op::kv_bare:
      if (Errc e = key_rule(a); e != Errc::ok) return e;
      if (has_injection(b)) return Errc::injection;
      return safe_bare(b) ? Errc::ok : Errc::bad_argument;
    case Op::data:
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i] == '\0') return Errc::injection;
        if (a[i] == '\r' && (i + 1 == a.size() || a[i + 1] != '\n')) return Errc::injection;
      }
      return Errc::ok;
    case Op::kCount: break;
  }
  return Errc::ok;
}

struct Call {
  Op op;
  std::string a, b;
};

// The body as the peer must read it back: CRLF -> LF, minus one final LF.
std::string expected_body(std::string_view body) {
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i)
    if (!(body[i] == '\r' && i + 1 < body.size() && body[i + 1] == '\n')) out.push_back(body[i]);
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void check_command(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  const std::string keyword = fdp.ConsumeRandomLengthString(24);
  torcon::Command c(keyword);

  Errc expect = Errc::ok;
  if (has_injection(keyword)) {
    expect = Errc::injection;
  } else if (keyword.empty()) {
    expect = Errc::bad_keyword;
  } else {
    for (char ch : keyword)
      if (!is_alpha(ch) && ch != '_') expect = Errc::bad_keyword;
  }

  std::vector<Call> calls;  // those made while the model said ok
  std::string body;
  bool multiline = false;
  const int n = fdp.ConsumeIntegralInRange(0, 8);
  for (int i = 0; i < n; ++i) {
    Call call{static_cast<Op>(fdp.ConsumeIntegralInRange<int>(0, int(Op::kCount) - 1)),
              fdp.ConsumeRandomLengthString(80),
              {}};
    if (call.op == Op::kv || call.op == Op::kv_bare) call.b = fdp.ConsumeRandomLengthString(80);
    if (expect == Errc::ok) {
      expect = expected_error(call.op, call.a, call.b);
      if (expect == Errc::ok) {
        if (call.op == Op::data) {
          multiline = true;
          body = call.a;  // a later data() replaces the body
        }
        calls.push_back(call);
      }
    }
    switch (call.op) {
      case Op::arg: c.arg(call.a); break;
      case Op::quoted: c.quoted(call.a); break;
      case Op::key: c.key(call.a); break;
      case Op::kv: c.kv(call.a, call.b); break;
      case Op::kv_bare: c.kv_bare(call.a, call.b); break;
      case Op::data: c.data(call.a); break;
      case Op::kCount: break;
    }
  }

  FUZZ_CHECK(c.ok() == (expect == Errc::ok));
  const std::string wire = c.wire();
  std::string appended = "x";
  FUZZ_CHECK(c.append_to(appended) == c.ok());
  FUZZ_CHECK(appended == "x" + wire);
  if (!c.ok()) {
    FUZZ_CHECK(c.error().code == expect);
    FUZZ_CHECK(wire.empty());
    return;
  }

  FUZZ_CHECK(wire.find('\0') == npos);
  const std::size_t eol = wire.find("\r\n");
  FUZZ_CHECK(eol != npos);
  const std::string_view line = std::string_view(wire).substr(0, eol);
  FUZZ_CHECK(line.find_first_of("\r\n") == npos);
  if (!multiline) {
    FUZZ_CHECK(eol + 2 == wire.size());
  } else {
    FUZZ_CHECK(!line.empty() && line[0] == '+');
    const std::string_view blk = std::string_view(wire).substr(eol + 2);
    FUZZ_CHECK(blk.size() >= 3 && blk.substr(blk.size() - 3) == ".\r\n");
    // CR and LF only as CRLF pairs.
    for (std::size_t i = 0; i < blk.size(); ++i) {
      if (blk[i] == '\r') FUZZ_CHECK(i + 1 < blk.size() && blk[i + 1] == '\n');
      if (blk[i] == '\n') FUZZ_CHECK(i > 0 && blk[i - 1] == '\r');
    }
    // No line of the body is a lone "." before the terminator.
    const std::string_view content = blk.substr(0, blk.size() - 3);
    for (std::size_t at = 0; at < content.size();) {
      const std::size_t e = content.find("\r\n", at);
      FUZZ_CHECK(e != npos);  // every body line ends in CRLF
      FUZZ_CHECK(content.substr(at, e - at) != ".");
      at = e + 2;
    }
    FUZZ_CHECK(torcon::join_data(content) == expected_body(body));
  }

  // The argument line reads back as the calls that built it.
  const std::string_view args_text = line.substr(multiline ? 1 : 0);
  FUZZ_CHECK(args_text.substr(0, keyword.size()) == keyword);
  torcon::ArgReader r(args_text);
  torcon::Arg a;
  std::string scratch;
  FUZZ_CHECK(r.next(a) && a.positional() && !a.quoted && a.value == keyword);
  bool comparable = true;
  for (const Call& call : calls) {
    if (call.op == Op::data) continue;
    // ArgReader knows only 1*(ALPHA/DIGIT/"_") keys; "a.b=..." reads differently.
    if (call.op == Op::kv || call.op == Op::kv_bare)
      for (char ch : call.a)
        if (!is_arg_key_char(ch)) comparable = false;
    if (!comparable) break;
    FUZZ_CHECK(r.next(a));
    const std::string_view dv = a.decoded(scratch);
    switch (call.op) {
      case Op::arg:  // a bare "k=v" argument reads as a keyword argument
        FUZZ_CHECK(!a.quoted);
        FUZZ_CHECK((a.key.empty() ? std::string(a.value)
                                  : std::string(a.key) + "=" + std::string(a.value)) == call.a);
        break;
      case Op::quoted: FUZZ_CHECK(a.positional() && a.quoted && dv == call.a); break;
      case Op::key: FUZZ_CHECK(a.positional() && !a.quoted && a.value == call.a); break;
      case Op::kv: FUZZ_CHECK(a.key == call.a && dv == call.b); break;
      case Op::kv_bare: FUZZ_CHECK(a.key == call.a && !a.quoted && a.value == call.b); break;
      default: break;
    }
  }
  if (comparable) FUZZ_CHECK(!r.next(a) && r.error().code == Errc::ok);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  check_quoted(in);
  check_args(in);
  check_command(data, size);
  return 0;
}
