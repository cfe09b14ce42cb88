// One line of /proc/net/tcp or /proc/net/tcp6 (Linux's table of TCP sockets),
// the part process_from_address() needs: local address, state, owner, inode.
//
// The kernel prints each 32-bit word of an address with %08X as it sits in
// memory (network byte order read as a native integer), the port with %04X
// after ntohs. So the hex of a word, parsed and stored back natively, gives
// the address bytes in network order on any host.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace torcon::detail {

struct TcpSocketEntry {
  std::array<std::uint8_t, 16> local{};  // IPv4 in the first 4 bytes
  bool v6 = false;
  std::uint16_t local_port = 0;
  std::uint8_t state = 0;  // TCP_ESTABLISHED = 1, ..., TCP_LISTEN = 10
  std::uint32_t uid = 0;
  std::uint64_t inode = 0;
};

// nullopt for the header line and anything malformed.
std::optional<TcpSocketEntry> parse_tcp_socket_line(std::string_view line);

}  // namespace torcon::detail
