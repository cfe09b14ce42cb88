// Endpoint -> sockaddr, numeric addresses only (the reactor never does DNS).
#pragma once

#include <sys/socket.h>

#include "torcon/expected.hpp"
#include "torcon/socket.hpp"

namespace torcon::detail {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_UNSPEC;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// Errc::io with "bad address ..." if the host is not a numeric IPv4/IPv6
// address, or the unix path is empty or too long.
Expected<SocketAddress> to_socket_address(const Endpoint& where);

}  // namespace torcon::detail
