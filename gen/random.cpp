#include "gen/random.hpp"

namespace torcon::gen {

bool is_public_ipv4(std::uint32_t ip) {
  const std::uint32_t a = ip >> 24, b = (ip >> 16) & 0xFF, c = (ip >> 8) & 0xFF;
  if (a == 0 || a == 10 || a == 127 || a >= 224) return false;
  if (a == 100 && b >= 64 && b <= 127) return false;
  if (a == 169 && b == 254) return false;
  if (a == 172 && b >= 16 && b <= 31) return false;
  if (a == 192 && b == 168) return false;
  if (a == 192 && b == 0 && (c == 0 || c == 2)) return false;
  if (a == 198 && (b == 18 || b == 19)) return false;
  if (a == 198 && b == 51 && c == 100) return false;
  if (a == 203 && b == 0 && c == 113) return false;
  return (ip & 0xFF) != 0 && (ip & 0xFF) != 255;
}

std::uint32_t random_public_ipv4(Rng& r) {
  for (;;) {
    const auto ip = static_cast<std::uint32_t>(r.next() >> 32);
    if (is_public_ipv4(ip)) return ip;
  }
}

}  // namespace torcon::gen
