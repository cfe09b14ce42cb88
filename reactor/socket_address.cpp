#include "socket_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>

namespace torcon {

std::string Endpoint::to_string() const {
  if (kind == Kind::unix_socket) return "unix:" + host;
  bool v6 = host.find(':') != std::string::npos && host[0] != '[';
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

namespace detail {

Expected<SocketAddress> to_socket_address(const Endpoint& where) {
  SocketAddress out;
  if (where.kind == Endpoint::Kind::unix_socket) {
    auto* un = reinterpret_cast<sockaddr_un*>(&out.storage);
    un->sun_family = AF_UNIX;
    const std::string& path = where.host;
    // '@name' is Linux's abstract namespace: sun_path starts with NUL.
    bool abstract = !path.empty() && path[0] == '@';
    if (path.size() < (abstract ? 2u : 1u) || path.size() >= sizeof(un->sun_path)) {
      return Error(Errc::io, "bad address: unix socket path '" + path +
                                 "' is empty or longer than " +
                                 std::to_string(sizeof(un->sun_path) - 1) + " bytes");
    }
    std::memcpy(un->sun_path, path.data(), path.size());
    if (abstract) un->sun_path[0] = '\0';
    out.length =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
    out.family = AF_UNIX;
    return out;
  }

  std::string host = where.host;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(where.port);
    out.length = sizeof(sockaddr_in);
    out.family = AF_INET;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(where.port);
    out.length = sizeof(sockaddr_in6);
    out.family = AF_INET6;
  } else {
    return Error(Errc::io, "bad address: '" + where.host +
                               "' is not a numeric IPv4 or IPv6 address (the reactor does no DNS)");
  }
  if (where.port == 0) return Error(Errc::io, "bad address: port 0 in " + where.to_string());
  return out;
}

}  // namespace detail
}  // namespace torcon
