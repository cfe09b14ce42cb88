// --control HOST:PORT | [IPv6]:PORT | PATH | unix:PATH, the same for every
// tool that talks to a running tor (torcon-ctl, torcon-monitor).
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "torcon/socket.hpp"

namespace torcon::tools {

// A port 1..65535 in decimal.
inline bool parse_port(std::string_view s, std::uint16_t& port) {
  if (s.empty() || s.size() > 5) return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  port = static_cast<std::uint16_t>(v);
  return true;
}

// --control's value (see the usage texts): fills `out`, or says what is wrong.
inline std::optional<std::string> parse_control_option(std::string_view v, torcon::Endpoint& out) {
  if (v.starts_with("unix:"))
    v.remove_prefix(5);
  else if (v.find('/') == std::string_view::npos) {
    std::string host;
    std::string_view port_text;
    if (v.starts_with('[')) {
      const std::size_t close = v.find("]:");
      if (close == std::string_view::npos)
        return std::string{"--control: expected [IPv6]:PORT, got \"" + std::string(v) + "\""};
      host = std::string(v.substr(1, close - 1));
      port_text = v.substr(close + 2);
      in6_addr a6;
      if (::inet_pton(AF_INET6, host.c_str(), &a6) != 1)
        return std::string{"--control: \"" + host + "\" is not a numeric IPv6 address"};
    } else {
      const std::size_t colon = v.rfind(':');
      if (colon == std::string_view::npos)
        return std::string{"--control: expected HOST:PORT or a socket path, got \"" +
                           std::string(v) + "\""};
      host = std::string(v.substr(0, colon));
      port_text = v.substr(colon + 1);
      in_addr a4;
      if (::inet_pton(AF_INET, host.c_str(), &a4) != 1)
        return std::string{"--control: \"" + host +
                           "\" is not a numeric IPv4 address (write IPv6 as [ADDR]:PORT)"};
    }
    std::uint16_t port = 0;
    if (!parse_port(port_text, port))
      return std::string{"--control: bad port \"" + std::string(port_text) + "\""};
    out = torcon::Endpoint::tcp(std::move(host), port);
    return std::nullopt;
  }
  if (v.empty()) return std::string{"--control: empty socket path"};
  out = torcon::Endpoint::unix_socket(std::string(v));
  return std::nullopt;
}

}  // namespace torcon::tools
