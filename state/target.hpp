// "host:port" as tor writes stream targets and source addresses: split at
// the last ':' (an IPv6 host has colons of its own, with or without
// brackets), brackets removed.
#pragma once

#include <cstdint>
#include <string_view>

namespace torcon::detail {

struct HostPort {
  std::string_view host;
  std::uint16_t port = 0;  // 0 when missing or not a port number
};

inline HostPort split_target(std::string_view text) {
  HostPort out;
  const std::size_t colon = text.rfind(':');
  std::string_view host = text, port;
  if (colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  unsigned v = 0;
  bool ok = !port.empty() && port.size() <= 5;
  for (char c : port) {
    if (c < '0' || c > '9') {
      ok = false;
      break;
    }
    v = v * 10 + unsigned(c - '0');
  }
  out.host = host;
  out.port = ok && v <= 65535 ? std::uint16_t(v) : 0;
  return out;
}

}  // namespace torcon::detail
