// The address and ports of a router status entry's r line, as the router
// table reads them: the line's last three fields, "ip orport dirport"
// (dir-spec 3.4.1; the same in the microdescriptor form), checked strictly
// (dotted quad without leading zeros, ports of 1-5 digits up to 65535).
// RouterEntry::ipv4() and friends decode the whole line (digest and
// publication time too, which the table never uses), so the table reads
// just these.
#pragma once

#include <cstdint>

#include "torcon/router_entry.hpp"

namespace torcon::detail {

struct RLineAddress {
  std::uint32_t ipv4 = 0;  ///< host byte order
  std::uint16_t or_port = 0, dir_port = 0;
};

// The fields of `e`'s r line; false when they are not all there and valid.
bool read_r_line_address(const RouterEntry& e, RLineAddress& out);

}  // namespace torcon::detail
