#include "r_line_address.hpp"

#include <cstddef>
#include <cstring>
#include <string_view>

namespace torcon::detail {

namespace {

// ---- the reference: any field text, byte by byte --------------------------

bool parse_octets(std::string_view s, std::uint32_t& out) {
  std::uint32_t v = 0;
  int parts = 0;
  std::size_t i = 0;
  while (parts < 4) {
    std::size_t j = i;
    unsigned octet = 0;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9' && j - i < 3)
      octet = octet * 10 + unsigned(s[j++] - '0');
    if (j == i || octet > 255 || (j - i > 1 && s[i] == '0')) return false;
    v = v << 8 | octet;
    ++parts;
    if (parts < 4) {
      if (j >= s.size() || s[j] != '.') return false;
      ++j;
    }
    i = j;
  }
  if (i != s.size()) return false;
  out = v;
  return true;
}
bool parse_port_field(std::string_view s, std::uint16_t& out) {
  if (s.empty() || s.size() > 5) return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + unsigned(c - '0');
  }
  if (v > 65535) return false;
  out = std::uint16_t(v);
  return true;
}
// The three fields of `line`, split at its last three spaces.
bool last_three_fields(std::string_view line, RLineAddress& out) {
  const std::size_t s3 = line.rfind(' ');
  if (s3 == std::string_view::npos || s3 == 0) return false;
  const std::size_t s2 = line.rfind(' ', s3 - 1);
  if (s2 == std::string_view::npos || s2 == 0) return false;
  const std::size_t s1 = line.rfind(' ', s2 - 1);
  if (s1 == std::string_view::npos) return false;
  return parse_octets(line.substr(s1 + 1, s2 - s1 - 1), out.ipv4) &&
         parse_port_field(line.substr(s2 + 1, s3 - s2 - 1), out.or_port) &&
         parse_port_field(line.substr(s3 + 1), out.dir_port);
}

// ---- tor's layout, in one pass ---------------------------------------------

// Up to `max` digits at q, before end: how many (q moves past them), and
// their value. (Word-at-a-time and SSE2 versions were tried: slower, as each
// field's start waits on the length of the one before, where the byte loop's
// branches are predicted.)
unsigned take_digits(const char*& q, const char* end, unsigned max, unsigned& value) {
  unsigned n = 0, v = 0;
  for (; n < max && q < end; ++n, ++q) {
    const unsigned d = unsigned(std::uint8_t(*q)) - '0';
    if (d > 9) break;
    v = v * 10 + d;
  }
  value = v;
  return n;
}

// "a.b.c.d orport dirport" exactly filling [q, end), with the reference's
// rules. False for anything else.
bool address_tail(const char* q, const char* end, RLineAddress& out) {
  std::uint32_t addr = 0;
  for (int k = 0; k < 4; ++k) {
    const char* const first = q;
    unsigned v;
    const unsigned n = take_digits(q, end, 3, v);
    if (n == 0 || v > 255 || (n > 1 && *first == '0')) return false;
    addr = addr << 8 | v;
    if (q == end || *q++ != (k < 3 ? '.' : ' ')) return false;
  }
  unsigned orp, dirp;
  if (take_digits(q, end, 5, orp) == 0 || orp > 65535 || q == end || *q++ != ' ') return false;
  if (take_digits(q, end, 5, dirp) == 0 || dirp > 65535 || q != end) return false;
  out.ipv4 = addr;
  out.or_port = std::uint16_t(orp);
  out.dir_port = std::uint16_t(dirp);
  return true;
}

}  // namespace

// tor lays the line out as "r nick ID [DIGEST] YYYY-MM-DD HH:MM:SS ip orport
// dirport": after the nickname's space, the spaces are at fixed distances,
// and the address starts at a known place. When the rest of the line is
// exactly "ip orport dirport", those are the line's last three fields, so
// the answer is the reference's, in one pass instead of a search from the
// line's end and a parse of what it found (which were a sixth of a router's
// time in the table).
bool read_r_line_address(const RouterEntry& e, RLineAddress& out) {
  const std::string_view fields = e.r_line();
  const char* const end = fields.data() + fields.size();
  const char* const p = e.nickname().data() + e.nickname().size();  // its space (checked)
  const std::ptrdiff_t left = end - p;
  if (left > 77 && p[28] == ' ' && p[56] == ' ' && p[67] == ' ' && p[76] == ' ' &&
      address_tail(p + 77, end, out))
    return true;
  if (left > 49 && p[28] == ' ' && p[39] == ' ' && p[48] == ' ' && address_tail(p + 49, end, out))
    return true;
  // Any other layout: the whole line, "r " (and a stuffed dot) included, as
  // the entry has it.
  const std::string_view entry = e.entry();
  return last_three_fields({entry.data(), std::size_t(end - entry.data())}, out);
}

}  // namespace torcon::detail
