#include "torcon/exit_policy.hpp"

#include <arpa/inet.h>

#include <cstring>

#include "torcon/tokens.hpp"

namespace torcon {

namespace {

Error bad(std::string_view line, std::string_view why) {
  return Error(Errc::bad_argument,
               "exit policy line \"" + std::string(line) + "\": " + std::string(why));
}

bool parse_number(std::string_view s, unsigned max, unsigned& out) {
  if (s.empty() || s.size() > 5) return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + unsigned(c - '0');
  }
  if (v > max) return false;
  out = v;
  return true;
}

bool parse_inet(int family, std::string_view text, std::uint8_t* out) {
  char buf[INET6_ADDRSTRLEN];
  if (text.empty() || text.size() >= sizeof buf) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  return ::inet_pton(family, buf, out) == 1;
}

// A dotted IPv4 mask as a bit count: contiguous ones only.
bool mask_bits(const std::array<std::uint8_t, 16>& m, std::uint8_t& bits) {
  const std::uint32_t v =
      std::uint32_t(m[0]) << 24 | std::uint32_t(m[1]) << 16 | std::uint32_t(m[2]) << 8 | m[3];
  const std::uint32_t inverted = ~v;
  if ((inverted & (inverted + 1)) != 0) return false;  // not 1...10...0
  unsigned n = 0;
  for (std::uint32_t x = v; x & 0x80000000u; x <<= 1) ++n;
  bits = std::uint8_t(n);
  return true;
}

void apply_mask(IpAddress& a, unsigned bits) {
  const unsigned total = a.v6 ? 128 : 32;
  for (unsigned i = bits; i < total; ++i) a.bytes[i / 8] &= std::uint8_t(~(0x80u >> (i % 8)));
}

bool prefix_equal(const IpAddress& a, const IpAddress& net, unsigned bits) {
  const unsigned full = bits / 8;
  if (std::memcmp(a.bytes.data(), net.bytes.data(), full) != 0) return false;
  if (bits % 8 == 0) return true;
  const std::uint8_t mask = std::uint8_t(0xFFu << (8 - bits % 8));
  return (a.bytes[full] & mask) == (net.bytes[full] & mask);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  IpAddress a;
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
    a.v6 = true;
    if (!parse_inet(AF_INET6, text, a.bytes.data())) return std::nullopt;
    return a;
  }
  if (parse_inet(AF_INET, text, a.bytes.data())) return a;
  a.v6 = true;
  if (parse_inet(AF_INET6, text, a.bytes.data())) return a;
  return std::nullopt;
}

bool ExitRule::matches(const IpAddress& a, std::uint16_t port) const noexcept {
  if (port < ports.first || port > ports.last) return false;
  switch (family) {
    case Family::any: return true;
    case Family::v4: return !a.v6 && prefix_equal(a, address, prefix_len);
    case Family::v6: return a.v6 && prefix_equal(a, address, prefix_len);
  }
  return false;
}

Expected<ExitRule> ExitRule::parse(std::string_view line) {
  const std::string_view text = trim(line);
  ExitRule r;
  std::string_view rest;
  bool only_v6 = false;
  if (text.starts_with("accept ")) {
    r.accept = true;
    rest = text.substr(7);
  } else if (text.starts_with("reject ")) {
    rest = text.substr(7);
  } else if (text.starts_with("accept6 ")) {
    r.accept = only_v6 = true;
    rest = text.substr(8);
  } else if (text.starts_with("reject6 ")) {
    only_v6 = true;
    rest = text.substr(8);
  } else {
    return bad(line, "neither accept nor reject");
  }
  rest = trim(rest);
  // The port spec follows the last ':' (IPv6 addresses are bracketed).
  const std::size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) return bad(line, "no ':' before the ports");
  const std::string_view addr = rest.substr(0, colon), ports = rest.substr(colon + 1);
  if (ports == "*") {
    r.ports = {1, 65535};
  } else {
    const std::size_t dash = ports.find('-');
    unsigned lo = 0, hi = 0;
    if (!parse_number(ports.substr(0, dash), 65535, lo)) return bad(line, "bad port");
    hi = lo;
    if (dash != std::string_view::npos && !parse_number(ports.substr(dash + 1), 65535, hi))
      return bad(line, "bad port");
    // Port 0 never carries a stream; tor writes ranges from 1.
    if (lo == 0 || hi < lo) return bad(line, "bad port range");
    r.ports = {std::uint16_t(lo), std::uint16_t(hi)};
  }
  if (addr == "*" || addr == "*4" || addr == "*6") {
    r.family = addr == "*4" ? Family::v4 : addr == "*6" || only_v6 ? Family::v6 : Family::any;
    r.address.v6 = r.family == Family::v6;  // the zero network, prefix 0: the whole family
    return r;
  }
  const std::size_t slash = addr.find('/');
  const std::string_view host = addr.substr(0, slash);
  std::optional<IpAddress> net;
  if (host.size() >= 2 && host.front() == '[') {
    if (host.back() != ']') return bad(line, "unclosed '['");
    net = IpAddress::parse(host);
  } else {
    IpAddress a;
    if (parse_inet(AF_INET, host, a.bytes.data())) net = a;
  }
  if (!net) return bad(line, "bad address");
  if (only_v6 && !net->v6) return bad(line, "IPv4 address in an IPv6 rule");
  r.family = net->v6 ? Family::v6 : Family::v4;
  r.prefix_len = net->v6 ? 128 : 32;
  if (slash != std::string_view::npos) {
    const std::string_view mask = addr.substr(slash + 1);
    unsigned bits = 0;
    if (parse_number(mask, net->v6 ? 128 : 32, bits)) {
      r.prefix_len = std::uint8_t(bits);
    } else {
      IpAddress m;
      if (net->v6 || !parse_inet(AF_INET, mask, m.bytes.data()) ||
          !mask_bits(m.bytes, r.prefix_len))
        return bad(line, "bad mask");
    }
  }
  apply_mask(*net, r.prefix_len);
  r.address = *net;
  return r;
}

Expected<ExitPolicy> ExitPolicy::from_descriptor(std::string_view descriptor) {
  ExitPolicy p;
  while (!descriptor.empty()) {
    const std::size_t lf = descriptor.find('\n');
    std::string_view line = descriptor.substr(0, lf);
    descriptor = lf == std::string_view::npos ? std::string_view{} : descriptor.substr(lf + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.starts_with("accept") || line.starts_with("reject")) {
      Expected<ExitRule> r = ExitRule::parse(line);
      if (!r) return r.error();
      p.rules_.push_back(*r);
    } else if (line.starts_with("ipv6-policy ")) {
      Expected<ExitPolicySummary> s = ExitPolicySummary::parse(trim(line.substr(12)));
      if (!s) return Error(Errc::bad_argument, "ipv6-policy: " + s.error().message);
      p.ipv6_ = std::move(*s);
    }
  }
  return p;
}

bool ExitPolicy::allows(const IpAddress& address, std::uint16_t port) const noexcept {
  if (port == 0) return false;
  if (address.v6) {
    for (const ExitRule& r : rules_)
      if (r.family == ExitRule::Family::v6 && r.matches(address, port)) return r.accept;
    return ipv6_ && ipv6_->accepts(port);
  }
  for (const ExitRule& r : rules_)
    if (r.matches(address, port)) return r.accept;
  return true;
}

std::vector<ServerDescriptor> split_server_descriptors(std::string_view text) {
  std::vector<ServerDescriptor> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t lf = text.find('\n', pos);
    const std::size_t end = lf == std::string_view::npos ? text.size() : lf + 1;
    const std::string_view line = text.substr(pos, end - pos);
    if (line.starts_with("router ")) {
      out.push_back({text.substr(pos), std::nullopt});
      if (out.size() > 1) {
        ServerDescriptor& prev = out[out.size() - 2];
        prev.text = prev.text.substr(0, std::size_t(text.data() + pos - prev.text.data()));
      }
    } else if (!out.empty() && !out.back().identity && line.starts_with("fingerprint ")) {
      RouterIdentity id{};
      std::size_t n = 0;
      bool ok = true;
      for (char c : line.substr(12)) {
        if (c == ' ' || c == '\r' || c == '\n') continue;
        const int v = hex_value(c);
        if (v < 0 || n >= 40) {
          ok = false;
          break;
        }
        id[n / 2] = std::uint8_t(id[n / 2] << 4 | v);
        ++n;
      }
      if (ok && n == 40) out.back().identity = id;
    }
    pos = end;
  }
  return out;
}

}  // namespace torcon
