// The address and ports of a router status entry's r line, as the router
// table reads them: the line's last three fields, "ip orport dirport"
// (dir-spec 3.4.1; the same in the microdescriptor form), checked strictly
// (dotted quad without leading zeros, ports of 1-5 digits up to 65535).
// RouterEntry::ipv4() and friends decode the whole line (digest and
// publication time too, which the table never uses), so the table reads
// just these.
#pragma once

#include <cstdint>
#include <string_view>

#include "torcon/router_entry.hpp"

namespace torcon::detail {

struct RLineAddress {
  std::uint32_t ipv4 = 0;  ///< host byte order
  std::uint16_t or_port = 0, dir_port = 0;
};

// The fields of `e`'s r line; false when they are not all there and valid.
bool read_r_line_address(const RouterEntry& e, RLineAddress& out);

// ---- its parts, for the tests ----------------------------------------------

// The reference: `line`'s last three space-separated fields, byte by byte.
bool r_line_last_fields(std::string_view line, RLineAddress& out);

// "a.b.c.d orport dirport" exactly filling [q, end), with the reference's
// rules, in one byte loop. False for anything else.
bool address_tail(const char* q, const char* end, RLineAddress& out);

// The same answer as address_tail() for 11 <= end - q <= 27 (every valid
// tail's length), without a branch on the fields' lengths: their separators
// come from byte-class masks, their values from word arithmetic. False for
// any other length (and without SSE2): address_tail() then decides. Reads
// the 32 bytes before `end` and the 8 before `q` (the r line's earlier
// fields hold them), nothing at or past `end`.
bool address_tail_simd(const char* q, const char* end, RLineAddress& out);

// The value of the 8 digits (0-9, one a byte) of the little-endian word `w`,
// its lowest byte the most significant: zero bytes below a shorter number
// read as leading zeros. Digit pairs, then quads, then the eight are
// combined with multiplies instead of a loop over the digits.
constexpr std::uint32_t digits8_value(std::uint64_t w) {
  w = w * 10 + (w >> 8);  // even bytes: 10 * digit + the next digit (<= 99)
  // Pairs 0 and 2 times 10^6 and 100, pairs 1 and 3 times 10^4 and 1, all
  // landing in the upper half; the lower half (pair 0 * 100 + pair 1 <= 9999)
  // never carries into it.
  constexpr std::uint64_t kPairs = 0x000000FF000000FF;
  w = (w & kPairs) * (100 + (std::uint64_t{1000000} << 32)) +
      ((w >> 16) & kPairs) * (1 + (std::uint64_t{10000} << 32));
  return std::uint32_t(w >> 32);
}

}  // namespace torcon::detail
