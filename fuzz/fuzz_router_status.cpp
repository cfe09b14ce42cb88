// libFuzzer harness for RouterStatusReader (ns/all entries) and
// OrAddressLines.
//
// The input is the text of a data block (or plain LF text) of router status
// entries. Invariants checked (any violation aborts):
//  * every view of a RouterStatus (entry, a_lines, flags_text, version,
//    protocols, policy, microdesc_digest) lies inside the input, and all but `entry` inside
//    `entry`; entries come in input order and do not overlap;
//  * every field is within its bounds: nickname 1-19 alphanumerics, known
//    flag bits only and each named in an "s" line, publication time of a
//    four-digit year, IPv6 set only with an "a" line;
//  * OrAddressLines over a_lines yields views inside it;
//  * the reader always terminates, and an error is final with an offset
//    inside the input.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "torcon/router_status.hpp"

namespace {

using torcon::RouterFlag;
using torcon::RouterStatus;
using torcon::fuzz::inside;
using torcon::fuzz::inside_or_null;

bool is_alnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// True when `name` is one of the space-separated words of `text`.
bool has_word(std::string_view text, std::string_view name) {
  while (!text.empty()) {
    const std::size_t sp = text.find(' ');
    if (text.substr(0, sp) == name) return true;
    if (sp == std::string_view::npos) break;
    text.remove_prefix(sp + 1);
  }
  return false;
}

// True when some "s" line of `entry` names the flag. Not just flags_text: a
// (malformed) repeated "s" line leaves flags_text on the last one while the
// bits are the union of all of them.
bool named_in_s_line(std::string_view entry, std::string_view name) {
  while (!entry.empty()) {
    const std::size_t lf = entry.find('\n');
    std::string_view line = entry.substr(0, lf);
    entry = lf == std::string_view::npos ? std::string_view{} : entry.substr(lf + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty() && line.front() == '.') line.remove_prefix(1);
    if (line.substr(0, 2) == "s " && has_word(line.substr(2), name)) return true;
  }
  return false;
}

void check_entry(const RouterStatus& rs, std::string_view in) {
  FUZZ_CHECK(inside(rs.entry, in));
  FUZZ_CHECK(!rs.entry.empty());
  // An entry starts at its "r" line (dot-stuffed or not), ends before a CRLF.
  const std::string_view e = rs.entry;
  FUZZ_CHECK(e.substr(0, 2) == "r " || e.substr(0, 3) == ".r ");
  // It ends where its last line's view does: that line's LF (with the one CR
  // a line view drops), or a lone CR at the end of the input, follows it.
  FUZZ_CHECK(e.back() != '\n');
  const std::string_view after = in.substr(std::size_t(e.data() + e.size() - in.data()));
  FUZZ_CHECK(after.empty() || after[0] == '\n' || after.substr(0, 2) == "\r\n" || after == "\r");

  // Line views may stop before stray CRs of a malformed last line
  // ("v x\r\r\n"): compare against the entry plus the line-end bytes after it.
  std::size_t tail = std::size_t(e.data() + e.size() - in.data());
  while (tail < in.size() && (in[tail] == '\r' || in[tail] == '\n')) ++tail;
  const std::string_view e_ends(e.data(), tail - std::size_t(e.data() - in.data()));
  for (std::string_view v :
       {rs.a_lines, rs.flags_text, rs.version, rs.protocols, rs.policy, rs.microdesc_digest}) {
    FUZZ_CHECK(inside_or_null(v, in));
    FUZZ_CHECK(inside_or_null(v, e_ends));
    FUZZ_CHECK(v.find('\n') == std::string_view::npos || v.data() == rs.a_lines.data());
  }

  // A microdescriptor digest is 43 base64 characters, or absent.
  FUZZ_CHECK(rs.microdesc_digest.data() == nullptr || rs.microdesc_digest.size() == 43);
  for (char c : rs.microdesc_digest) FUZZ_CHECK(is_alnum(c) || c == '+' || c == '/');

  FUZZ_CHECK(rs.nickname_len >= 1 && rs.nickname_len <= 19);
  for (char c : rs.nickname()) FUZZ_CHECK(is_alnum(c));
  FUZZ_CHECK(rs.nickname().data() == rs.nickname_buf);

  FUZZ_CHECK(rs.flags.bits() >> unsigned(RouterFlag::kCount) == 0);
  for (unsigned f = 0; f < unsigned(RouterFlag::kCount); ++f) {
    const RouterFlag flag = RouterFlag(f);
    if (rs.flags.has(flag)) FUZZ_CHECK(named_in_s_line(e, torcon::to_string(flag)));
    RouterFlag back;
    FUZZ_CHECK(torcon::parse_router_flag(torcon::to_string(flag), back) && back == flag);
  }

  // 0000-01-01 00:00:00 .. 9999-12-31 23:59:60 (a leap second at the very end
  // rolls into 10000-01-01).
  FUZZ_CHECK(rs.published >= -62167219200LL && rs.published <= 253402300800LL);

  if (rs.has_ipv6) FUZZ_CHECK(!rs.a_lines.empty());
  if (!rs.has_measured) FUZZ_CHECK(rs.measured == 0);
  if (!rs.has_bandwidth) FUZZ_CHECK(rs.bandwidth == 0 && !rs.has_measured && !rs.unmeasured);

  if (!rs.a_lines.empty()) {
    // Starts at an "a" keyword ("a" alone is malformed but must stay in bounds).
    FUZZ_CHECK(rs.a_lines.front() == 'a');
    FUZZ_CHECK(rs.a_lines.size() == 1 || rs.a_lines[1] == ' ' || rs.a_lines[1] == '\r' ||
               rs.a_lines[1] == '\n');
    torcon::OrAddressLines al(rs.a_lines);
    std::string_view addr;
    std::size_t n = 0;
    while (al.next(addr)) {
      FUZZ_CHECK(inside(addr, rs.a_lines));
      FUZZ_CHECK(addr.find('\n') == std::string_view::npos);
      FUZZ_CHECK(++n <= rs.a_lines.size());
    }
  }

  // The formatting helpers take any value.
  FUZZ_CHECK(torcon::fingerprint_hex(rs.identity).size() == 40);
  FUZZ_CHECK(!torcon::format_ipv4(rs.ipv4).empty());
  FUZZ_CHECK(torcon::format_iso_time(rs.published).size() >= 19);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  torcon::RouterStatusReader reader(in);
  RouterStatus rs;
  const char* prev_end = in.data();
  std::size_t n = 0;
  while (reader.next(rs)) {
    FUZZ_CHECK(++n <= size);  // each entry consumes at least its "r" line
    check_entry(rs, in);
    FUZZ_CHECK(rs.entry.data() >= prev_end);
    prev_end = rs.entry.data() + rs.entry.size();
  }
  const torcon::Error& err = reader.error();
  if (err.code != torcon::Errc::ok) {
    FUZZ_CHECK(err.code == torcon::Errc::bad_router_status && !err.message.empty());
    FUZZ_CHECK(err.offset < size);
  }
  FUZZ_CHECK(!reader.next(rs));  // the end, or an error, is final
  return 0;
}
