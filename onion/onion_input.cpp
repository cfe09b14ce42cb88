#include "onion_input.hpp"

#include "torcon/tokens.hpp"

namespace torcon {
namespace {

Error bad(std::string msg) { return Error(Errc::bad_argument, std::move(msg)); }

bool parse_port(std::string_view s, std::uint32_t& out) {
  if (s.empty() || s.size() > 5) return false;
  std::uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + std::uint32_t(c - '0');
  }
  if (v < 1 || v > 65535) return false;
  out = v;
  return true;
}

// Printable ASCII without space or quote: what Command writes bare.
bool bare_safe(std::string_view s) {
  for (char c : s)
    if (c <= ' ' || c >= 0x7f || c == '"' || c == '\\') return false;
  return !s.empty();
}

}  // namespace

Expected<std::string> onion_port_argument(const OnionPort& port) {
  if (port.virtual_port < 1 || port.virtual_port > 65535)
    return bad("virtual port " + std::to_string(port.virtual_port) + " is not 1-65535");
  std::string out = std::to_string(port.virtual_port);
  const std::string& t = port.target;
  if (t.empty()) return out;
  auto target_error = [&](std::string why) {
    return bad("port " + out + " target \"" + t.substr(0, 100) + "\": " + std::move(why));
  };
  std::uint32_t n = 0;
  if (t.starts_with("unix:")) {
    const std::string_view path = std::string_view(t).substr(5);
    if (!path.starts_with("/")) return target_error("a unix socket path must be absolute");
    if (!bare_safe(path)) return target_error("spaces, quotes and control bytes are not allowed");
  } else if (t.find(':') == std::string::npos) {
    if (!parse_port(t, n)) return target_error("not a port 1-65535");
  } else {
    const std::size_t colon = t.rfind(':');
    const std::string_view host = std::string_view(t).substr(0, colon);
    if (!parse_port(std::string_view(t).substr(colon + 1), n))
      return target_error("not HOST:PORT with a port 1-65535");
    const bool v6 = host.size() > 2 && host.front() == '[' && host.back() == ']';
    for (char c : v6 ? host.substr(1, host.size() - 2) : host)
      if (!is_ascii_alnum(c) && c != '.' && c != '-' && !(v6 && c == ':'))
        return target_error("not a host name or address");
    if (host.empty()) return target_error("empty host");
  }
  return out + "," + t;
}

Expected<std::string> hsdir_server_argument(std::string_view server) {
  std::string_view s = server;
  if (s.starts_with("$")) s.remove_prefix(1);
  std::string_view fp = s.substr(0, 40), nick;
  if (s.size() > 40) {
    if (s[40] != '~' && s[40] != '=') fp = {};
    nick = s.substr(41);
  }
  if (!is_hex_identity(fp) || (s.size() > 40 && !is_nickname(nick)))
    return bad("HSDir \"" + std::string(server.substr(0, 100)) +
               "\" is not $ + 40 hex digits (optionally ~nickname)");
  return "$" + std::string(s);
}

}  // namespace torcon
