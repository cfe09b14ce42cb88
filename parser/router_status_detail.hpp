// Internal helpers shared by RouterStatusReader (router_status.cpp) and
// RouterEntryReader (router_entry.cpp): field decoders and the SSE2 LF
// scanner. Not installed; everything is inline in torcon::rs_detail.
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

namespace torcon::rs_detail {

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

// Splits off the next space-separated field of `rest`.
inline std::string_view field(std::string_view& rest) {
  const std::size_t sp = rest.find(' ');
  std::string_view f = rest.substr(0, sp);
  // At the end, an empty view at the end of the text, not a null one: callers
  // keep `rest` as a view (a bare "v" line's version is empty but located).
  rest = sp == std::string_view::npos ? rest.substr(rest.size()) : rest.substr(sp + 1);
  return f;
}

constexpr bool is_nick_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
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

// Fast paths for the hot loop (GETINFO ns/all is ~8000 entries). Each either
// gives exactly the answer of the general code it shortcuts or declines, and
// the general code decides; the differential fuzzer compares the two.

// Nickname bytes (alphanumerics), by table: one load per byte.
struct NickTable {
  bool v[256];
  constexpr NickTable() : v() {
    for (int c = 0; c < 256; ++c) v[c] = is_nick_char(char(c));
  }
};
constexpr NickTable kNick;

// 27 base64 characters at `in` -> 20 bytes: three groups of 8 characters
// (48 bits, 6 bytes each) gathered in a uint64 and stored as one big-endian
// 8-byte write (the 2 bytes past the group are overwritten by the next one),
// then 3 characters for the last 2 bytes: 5 stores instead of 20. Invalid
// characters map to 64, so OR-ing every value and testing bit 6 validates
// them all with one branch. The 2 spare low bits are ignored, as
// decode_digest() does.
inline std::uint64_t to_big_endian(std::uint64_t v) {
  if constexpr (std::endian::native == std::endian::little) return __builtin_bswap64(v);
  return v;
}
inline bool decode27(const char* s, std::uint8_t* o) {
  const auto* in = reinterpret_cast<const unsigned char*>(s);
  unsigned bad = 0;
  for (int g = 0; g < 3; ++g, in += 8, o += 6) {
    std::uint64_t v = 0;
    for (int k = 0; k < 8; ++k) {
      const unsigned c = kB64.v[in[k]];
      bad |= c;
      v = v << 6 | c;
    }
    // The 48 bits to the top, so the big-endian bytes lead.
    const std::uint64_t be = to_big_endian(v << 16);
    std::memcpy(o, &be, 8);
  }
  const unsigned a = kB64.v[in[0]], b = kB64.v[in[1]], c = kB64.v[in[2]];
  bad |= a | b | c;
  const unsigned v = a << 12 | b << 6 | c;
  o[0] = std::uint8_t(v >> 10);
  o[1] = std::uint8_t(v >> 2);
  return (bad & 64) == 0;
}

inline bool decode_digest_fast(std::string_view s, std::array<std::uint8_t, 20>& out) {
  if (s.size() == 28 && s[27] == '=') s.remove_suffix(1);
  return s.size() == 27 && decode27(s.data(), out.data());
}

// parse_router_flag without the table walk: the length leaves at most six
// candidates, each a fixed-size compare (a load and a compare, no call).
inline bool flag_fast(const char* n, std::size_t len, RouterFlag& out) {
#define TORCON_FLAG(name)                             \
  if (std::memcmp(n, #name, sizeof #name - 1) == 0) { \
    out = RouterFlag::name;                           \
    return true;                                      \
  }
  switch (len) {
    case 4: TORCON_FLAG(Fast) TORCON_FLAG(Exit) break;
    case 5:
      TORCON_FLAG(Valid)
      TORCON_FLAG(V2Dir)
      TORCON_FLAG(HSDir) TORCON_FLAG(Guard) TORCON_FLAG(Named) TORCON_FLAG(Sybil) break;
    case 6: TORCON_FLAG(Stable) break;
    case 7: TORCON_FLAG(Running) TORCON_FLAG(BadExit) TORCON_FLAG(Unnamed) break;
    case 9: TORCON_FLAG(Authority) TORCON_FLAG(StaleDesc) break;
    case 10: TORCON_FLAG(MiddleOnly) break;
    case 13: TORCON_FLAG(NoEdConsensus) break;
    default: break;
  }
#undef TORCON_FLAG
  return false;
}

// Space-separated tokens of [p, e) (empty ones included, as field() gives
// them), scanned in place.
template <class F>
inline void for_each_token(const char* p, const char* e, F&& f) {
  if (p == e) return;
  while (true) {
    const char* q = p;
    while (q < e && *q != ' ') ++q;
    f(p, std::size_t(q - p));
    if (q == e) return;
    p = q + 1;
  }
}

// The r line as tor writes it: after the nickname, fixed-width base64 and
// time fields at fixed offsets, then address and ports, single spaces. False
// for any other shape (the general path then decides); on true, `out` (reset
// by the caller) holds the same values the general path would give.
inline bool parse_r_fixed(const char* p, const char* e, RouterStatus& out) {
  const char* nick_end = p;
  const char* const nick_max = p + 19 < e ? p + 19 : e;
  while (nick_end < nick_max && kNick.v[std::uint8_t(*nick_end)]) ++nick_end;
  const std::size_t nick_len = std::size_t(nick_end - p);
  if (nick_len == 0 || nick_end == e || *nick_end != ' ') return false;
  const char* f = nick_end + 1;
  const std::size_t left = std::size_t(e - f);
  // id(27) ' ' [digest(27) ' '] date(10) ' ' time(8) ' ' ip ' ' orport ' ' dirport
  const char* d;
  if (left > 76 && f[27] == ' ' && f[55] == ' ' && f[66] == ' ' && f[75] == ' ') {
    if (!decode27(f + 28, out.digest.data())) return false;
    d = f + 56;
  } else if (left > 48 && f[27] == ' ' && f[38] == ' ' && f[47] == ' ') {
    d = f + 28;
  } else {
    return false;
  }
  if (!decode27(f, out.identity.data())) return false;
  if (!parse_time({d, 10}, {d + 11, 8}, out.published)) return false;
  const char* const ip = d + 20;
  const char* s1 = ip;
  while (s1 < e && *s1 != ' ') ++s1;
  if (s1 == e) return false;
  const char* s2 = s1 + 1;
  while (s2 < e && *s2 != ' ') ++s2;
  if (s2 == e) return false;
  const std::string_view dir(s2 + 1, std::size_t(e - s2 - 1));
  if (dir.find(' ') != std::string_view::npos) return false;
  if (!parse_ipv4({ip, std::size_t(s1 - ip)}, out.ipv4) ||
      !parse_port({s1 + 1, std::size_t(s2 - s1 - 1)}, out.or_port) ||
      !parse_port(dir, out.dir_port))
    return false;
  std::memcpy(out.nickname_buf, p, nick_len);
  out.nickname_len = std::uint8_t(nick_len);
  return true;
}

inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "[v6]:port" for the plain hex forms tor writes, without the copy and the
// inet_pton() call; dotted IPv4 tails, long groups and anything odd go to
// parse_or_address6(), whose answer is final.
inline bool parse_or_address6_fast(std::string_view s, Ipv6OrAddress& out) {
  if (s.size() < 4 || s[0] != '[') return false;
  const std::size_t close = s.find(']');
  if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
  const std::string_view host = s.substr(1, close - 1);
  if (host.empty() || host.size() > 39) return parse_or_address6(s, out);
  std::uint16_t groups[8];
  int ng = 0, gap = -1;
  std::size_t i = 0;
  if (host[0] == ':') {
    if (host.size() < 2 || host[1] != ':') return false;
    gap = 0;
    i = 2;
  }
  while (i < host.size()) {
    unsigned v = 0;
    std::size_t nd = 0;
    int h;
    while (i + nd < host.size() && nd < 5 && (h = hex_value(host[i + nd])) >= 0) {
      v = v << 4 | unsigned(h);
      ++nd;
    }
    if (nd == 0 || nd > 4 || ng == 8) return parse_or_address6(s, out);
    groups[ng++] = std::uint16_t(v);
    i += nd;
    if (i == host.size()) break;
    if (host[i] != ':') return parse_or_address6(s, out);
    if (++i == host.size()) return false;  // one trailing ':'
    if (host[i] == ':') {
      if (gap >= 0) return false;  // a second "::"
      gap = ng;
      ++i;
    }
  }
  if (gap < 0 ? ng != 8 : ng > 7) return false;
  Ipv6OrAddress r;
  const int tail = gap < 0 ? 0 : ng - gap;
  for (int g = 0; g < ng; ++g) {
    const int slot = gap >= 0 && g >= gap ? 8 - tail + (g - gap) : g;
    r.addr[std::size_t(2 * slot)] = std::uint8_t(groups[g] >> 8);
    r.addr[std::size_t(2 * slot + 1)] = std::uint8_t(groups[g]);
  }
  if (!parse_port(s.substr(close + 2), r.port)) return false;
  out = r;
  return true;
}

// A w line that is exactly "Bandwidth=" and 1-19 digits (no overflow
// possible); false for anything else, changing nothing.
inline bool parse_w_bandwidth_only(std::string_view rest, RouterStatus& out) {
  constexpr std::string_view kKey = "Bandwidth=";
  if (rest.size() <= kKey.size() || rest.size() > kKey.size() + 19 ||
      std::memcmp(rest.data(), kKey.data(), kKey.size()) != 0)
    return false;
  std::uint64_t v = 0;
  for (std::size_t i = kKey.size(); i < rest.size(); ++i) {
    const unsigned d = unsigned(std::uint8_t(rest[i])) - '0';
    if (d > 9) return false;
    v = v * 10 + d;
  }
  out.has_bandwidth = true;
  out.bandwidth = v;
  return true;
}

// Successive LFs from `from` on: 64 bytes are compared at once (SSE2 compare
// + movemask into a bit mask), then each LF costs one count-trailing-zeros.
// Entries are ~7 short lines, and a memchr() call per line cost more than the
// scan itself. Never reads past `n` (the tail uses memchr).
class LfScanner {
 public:
  LfScanner(const char* base, std::size_t n, std::size_t from) : base_(base), n_(n), blk_(from) {
    load();
  }
  // The offset of the next LF, or n when there is none.
  std::size_t next() {
    while (true) {
      if (mask_) {
        const std::size_t lf = blk_ + std::size_t(__builtin_ctzll(mask_));
        mask_ &= mask_ - 1;
        return lf;
      }
      if (tail_) {
        if (blk_ >= n_) return n_;
        const void* q = std::memchr(base_ + blk_, '\n', n_ - blk_);
        const std::size_t lf = q ? std::size_t(static_cast<const char*>(q) - base_) : n_;
        blk_ = lf + 1;
        return lf;
      }
      blk_ += 64;
      load();
    }
  }

 private:
  void load() {
#if defined(__SSE2__)
    if (blk_ <= n_ && n_ - blk_ >= 64) {
      const __m128i nl = _mm_set1_epi8('\n');
      const char* b = base_ + blk_;
      const auto m = [&](int k) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16 * k));
        return std::uint64_t(unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl))));
      };
      mask_ = m(0) | m(1) << 16 | m(2) << 32 | m(3) << 48;
      return;
    }
#endif
    mask_ = 0;
    tail_ = true;
  }

  const char* base_;
  std::size_t n_, blk_;
  std::uint64_t mask_ = 0;
  bool tail_ = false;
};

// Any r line the fixed-offset path declined (`rest` is the text after "r "):
// split into fields and check each. False with `why` set on bad input.
bool parse_r_general(std::string_view rest, RouterStatus& out, std::string& why);
// A "w" line (`rest` after "w "): Bandwidth=, Measured=, Unmeasured=; other
// keys may hold anything. Sets has_bandwidth. False with `why` on bad input.
bool parse_w(std::string_view rest, RouterStatus& out, std::string& why);

}  // namespace torcon::rs_detail
