#include "proc_net_tcp.hpp"

#include <cstring>

namespace torcon::detail {
namespace {

// Splits off the next field separated by spaces.
std::string_view next_field(std::string_view& rest) {
  std::size_t b = 0;
  while (b < rest.size() && rest[b] == ' ') ++b;
  std::size_t e = b;
  while (e < rest.size() && rest[e] != ' ' && rest[e] != '\n') ++e;
  std::string_view f = rest.substr(b, e - b);
  rest.remove_prefix(e);
  return f;
}

template <class T>
bool parse_hex(std::string_view s, T& out) {
  if (s.empty() || s.size() > sizeof(T) * 2) return false;
  T v = 0;
  for (char c : s) {
    unsigned d;
    if (c >= '0' && c <= '9')
      d = unsigned(c - '0');
    else if (c >= 'A' && c <= 'F')
      d = unsigned(c - 'A' + 10);
    else if (c >= 'a' && c <= 'f')
      d = unsigned(c - 'a' + 10);
    else
      return false;
    v = T(v << 4 | d);
  }
  out = v;
  return true;
}

template <class T>
bool parse_dec(std::string_view s, T& out) {
  if (s.empty() || s.size() > 20) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const std::uint64_t next = v * 10 + unsigned(c - '0');
    if (next < v) return false;
    v = next;
  }
  if (v > std::uint64_t(T(~T(0)))) return false;
  out = T(v);
  return true;
}

}  // namespace

std::optional<TcpSocketEntry> parse_tcp_socket_line(std::string_view line) {
  std::string_view rest = line;
  const std::string_view slot = next_field(rest);
  if (slot.size() < 2 || slot.back() != ':') return std::nullopt;  // header: "sl"
  const std::string_view local = next_field(rest);
  const std::size_t colon = local.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view addr = local.substr(0, colon), port = local.substr(colon + 1);
  TcpSocketEntry e;
  if (addr.size() == 8) {
    e.v6 = false;
  } else if (addr.size() == 32) {
    e.v6 = true;
  } else {
    return std::nullopt;
  }
  for (std::size_t w = 0; w * 8 < addr.size(); ++w) {
    std::uint32_t word;
    if (!parse_hex(addr.substr(w * 8, 8), word)) return std::nullopt;
    std::memcpy(e.local.data() + w * 4, &word, 4);  // native order: see the header
  }
  if (port.size() != 4 || !parse_hex(port, e.local_port)) return std::nullopt;
  next_field(rest);  // remote address
  if (!parse_hex(next_field(rest), e.state)) return std::nullopt;
  next_field(rest);  // tx_queue:rx_queue
  next_field(rest);  // tr:tm->when
  next_field(rest);  // retrnsmt
  if (!parse_dec(next_field(rest), e.uid)) return std::nullopt;
  next_field(rest);  // timeout
  if (!parse_dec(next_field(rest), e.inode)) return std::nullopt;
  return e;
}

}  // namespace torcon::detail
