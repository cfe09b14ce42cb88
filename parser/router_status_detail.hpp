// Internal helpers shared by RouterStatusReader (router_status.cpp) and
// RouterEntryReader (router_entry.cpp): field decoders and the SSE2 LF
// scanner. Not installed; everything is inline in torcon::detail.
#pragma once

#include <arpa/inet.h>

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "torcon/router_status.hpp"
#include "torcon/tokens.hpp"

namespace torcon::detail {

// base64 alphabet value, or 64 for "not base64".
struct B64Table {
  std::uint8_t v[256];
  constexpr B64Table() : v() {
    for (auto& x : v) x = 64;
    for (int i = 0; i < 26; ++i) v['A' + i] = std::uint8_t(i), v['a' + i] = std::uint8_t(26 + i);
    for (int i = 0; i < 10; ++i) v['0' + i] = std::uint8_t(52 + i);
    v[std::uint8_t('+')] = 62;
    v[std::uint8_t('/')] = 63;
  }
};
constexpr B64Table kB64;

inline bool parse_uint(std::string_view s, std::uint64_t max, std::uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const std::uint64_t d = std::uint64_t(c - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

inline bool parse_port(std::string_view s, std::uint16_t& out) {
  std::uint64_t v;
  if (!parse_uint(s, 65535, v)) return false;
  out = std::uint16_t(v);
  return true;
}

inline bool parse_ipv4(std::string_view s, std::uint32_t& out) {
  std::uint32_t addr = 0;
  int parts = 0;
  std::size_t i = 0;
  while (parts < 4) {
    std::size_t j = i;
    std::uint32_t octet = 0;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9' && j - i < 3)
      octet = octet * 10 + std::uint32_t(s[j++] - '0');
    if (j == i || octet > 255) return false;
    addr = addr << 8 | octet;
    ++parts;
    if (parts < 4) {
      if (j >= s.size() || s[j] != '.') return false;
      ++j;
    } else if (j != s.size()) {
      return false;
    }
    i = j;
  }
  out = addr;
  return true;
}

// Days since 1970-01-01 for a proleptic Gregorian date.
inline std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + std::int64_t(doe) - 719468;
}

inline int two_digits(const char* p) {
  if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9') return -1;
  return (p[0] - '0') * 10 + (p[1] - '0');
}

// "YYYY-MM-DD" and "HH:MM:SS".
inline bool parse_time(std::string_view date, std::string_view time, std::int64_t& out) {
  if (date.size() != 10 || time.size() != 8 || date[4] != '-' || date[7] != '-' || time[2] != ':' ||
      time[5] != ':')
    return false;
  const int yh = two_digits(date.data()), yl = two_digits(date.data() + 2);
  const int mo = two_digits(date.data() + 5), d = two_digits(date.data() + 8);
  const int h = two_digits(time.data()), mi = two_digits(time.data() + 3),
            s = two_digits(time.data() + 6);
  if (yh < 0 || yl < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
      s < 0 || s > 60)
    return false;
  const int year = yh * 100 + yl;
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (d > kDays[mo - 1] + (mo == 2 && leap)) return false;
  out = days_from_civil(yh * 100 + yl, unsigned(mo), unsigned(d)) * 86400 + h * 3600 + mi * 60 + s;
  return true;
}

// "ip orport dirport", single spaces, nothing after: the tail of an r line.
inline bool parse_ip_ports(std::string_view s, RouterStatus& out) {
  const std::size_t s1 = s.find(' ');
  if (s1 == std::string_view::npos) return false;
  const std::size_t s2 = s.find(' ', s1 + 1);
  if (s2 == std::string_view::npos) return false;
  const std::string_view dir = s.substr(s2 + 1);
  return dir.find(' ') == std::string_view::npos && parse_ipv4(s.substr(0, s1), out.ipv4) &&
         parse_port(s.substr(s1 + 1, s2 - s1 - 1), out.or_port) && parse_port(dir, out.dir_port);
}

// Splits off the next space-separated field of `rest`.
inline std::string_view field(std::string_view& rest) {
  const std::size_t sp = rest.find(' ');
  std::string_view f = rest.substr(0, sp);
  // At the end, an empty view at the end of the text, not a null one: callers
  // keep `rest` as a view (a bare "v" line's version is empty but located).
  rest = sp == std::string_view::npos ? rest.substr(rest.size()) : rest.substr(sp + 1);
  return f;
}

// "[v6]:port" into addr/port.
inline bool parse_or_address6(std::string_view s, Ipv6OrAddress& out) {
  if (s.size() < 4 || s[0] != '[') return false;
  const std::size_t close = s.find(']');
  if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
  const std::string_view host = s.substr(1, close - 1);
  char tmp[INET6_ADDRSTRLEN];
  if (host.empty() || host.size() >= sizeof tmp) return false;
  std::memcpy(tmp, host.data(), host.size());
  tmp[host.size()] = '\0';
  if (inet_pton(AF_INET6, tmp, out.addr.data()) != 1) return false;
  return parse_port(s.substr(close + 2), out.port);
}

// The "m" line (`rest` after "m "). In a microdescriptor consensus entry it
// is the microdescriptor's SHA-256 digest as tor writes it, 43 base64
// characters without padding (dir-spec 3.9.2): kDigest. A vote's form,
// "m methods algorithm=digest...", has a space: kVote, kept as a line of the
// entry but not a digest. One token that is not a digest: kBad.
enum class MLine : std::uint8_t { kDigest, kVote, kBad };
inline constexpr const char* kBadMicrodescDigest =
    "m line is not a microdescriptor digest (43 base64 characters)";
inline MLine classify_m_line(std::string_view rest) {
  if (rest.size() == 43) {
    unsigned bad = 0;
    for (const char c : rest) bad |= kB64.v[std::uint8_t(c)];
    if ((bad & 64) == 0) return MLine::kDigest;
  }
  return rest.find(' ') != std::string_view::npos ? MLine::kVote : MLine::kBad;
}

// Any r line the fixed-offset path declined (`rest` is the text after "r "):
// split into fields and check each. False with `why` set on bad input.
bool parse_r_general(std::string_view rest, RouterStatus& out, std::string& why);
// A "w" line (`rest` after "w "): Bandwidth=, Measured=, Unmeasured=; other
// keys may hold anything. Sets has_bandwidth. False with `why` on bad input.
bool parse_w(std::string_view rest, RouterStatus& out, std::string& why);

}  // namespace torcon::detail
