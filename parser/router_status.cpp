#include "torcon/router_status.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace torcon {
namespace {

constexpr std::string_view kFlagNames[] = {
    "Authority",     "BadExit", "Exit",   "Fast",      "Guard", "HSDir",   "MiddleOnly", "Named",
    "NoEdConsensus", "Running", "Stable", "StaleDesc", "Sybil", "Unnamed", "V2Dir",      "Valid",
};
static_assert(std::size(kFlagNames) == std::size_t(RouterFlag::kCount));

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

// 27 base64 characters (tor strips the '=' padding) -> 20 bytes.
bool decode_digest(std::string_view s, std::array<std::uint8_t, 20>& out) {
  if (s.size() == 28 && s[27] == '=') s.remove_suffix(1);
  if (s.size() != 27) return false;
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t o = 0;
  for (char c : s) {
    const std::uint8_t v = kB64.v[std::uint8_t(c)];
    if (v == 64) return false;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (o < 20) out[o++] = std::uint8_t(acc >> bits);
    }
  }
  return o == 20;
}

bool parse_uint(std::string_view s, std::uint64_t max, std::uint64_t& out) {
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

bool parse_port(std::string_view s, std::uint16_t& out) {
  std::uint64_t v;
  if (!parse_uint(s, 65535, v)) return false;
  out = std::uint16_t(v);
  return true;
}

bool parse_ipv4(std::string_view s, std::uint32_t& out) {
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
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + std::int64_t(doe) - 719468;
}

int two_digits(const char* p) {
  if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9') return -1;
  return (p[0] - '0') * 10 + (p[1] - '0');
}

// "YYYY-MM-DD" and "HH:MM:SS".
bool parse_time(std::string_view date, std::string_view time, std::int64_t& out) {
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
std::string_view field(std::string_view& rest) {
  const std::size_t sp = rest.find(' ');
  std::string_view f = rest.substr(0, sp);
  rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
  return f;
}

bool is_nick_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// "[v6]:port" into addr/port.
bool parse_or_address6(std::string_view s, Ipv6OrAddress& out) {
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

}  // namespace

std::string_view to_string(RouterFlag f) noexcept {
  return f < RouterFlag::kCount ? kFlagNames[std::size_t(f)] : std::string_view{};
}

bool parse_router_flag(std::string_view name, RouterFlag& out) noexcept {
  // Tiny table, sorted: a length check rejects most mismatches at once.
  for (std::size_t i = 0; i < std::size(kFlagNames); ++i) {
    if (kFlagNames[i].size() == name.size() && kFlagNames[i] == name) {
      out = RouterFlag(i);
      return true;
    }
  }
  return false;
}

std::string fingerprint_hex(const std::array<std::uint8_t, 20>& id) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string s(40, '0');
  for (std::size_t i = 0; i < 20; ++i) {
    s[2 * i] = kHex[id[i] >> 4];
    s[2 * i + 1] = kHex[id[i] & 15];
  }
  return s;
}

std::string format_ipv4(std::uint32_t a) {
  return std::to_string(a >> 24) + '.' + std::to_string(a >> 16 & 255) + '.' +
         std::to_string(a >> 8 & 255) + '.' + std::to_string(a & 255);
}

std::string format_iso_time(std::int64_t t) {
  std::int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  std::int64_t secs = t - days * 86400;
  // civil_from_days
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = unsigned(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = std::int64_t(yoe) + era * 400 + (m <= 2);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u %02d:%02d:%02d", static_cast<long long>(y), m, d,
                int(secs / 3600), int(secs / 60 % 60), int(secs % 60));
  return buf;
}

bool OrAddressLines::next(std::string_view& addr) {
  while (!rest_.empty()) {
    const std::size_t lf = rest_.find('\n');
    std::string_view l = rest_.substr(0, lf);
    rest_ = lf == std::string_view::npos ? std::string_view{} : rest_.substr(lf + 1);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.size() > 2 && l[0] == 'a' && l[1] == ' ') {
      addr = l.substr(2);
      return true;
    }
  }
  return false;
}

bool RouterStatusReader::fail(std::size_t off, std::string what) {
  error_ = Error(Errc::bad_router_status, std::move(what), off);
  pos_ = text_.size();
  return false;
}

bool RouterStatusReader::next(RouterStatus& out) {
  if (error_.code != Errc::ok) return false;
  const char* const base = text_.data();
  const std::size_t n = text_.size();
  bool have_r = false;
  std::size_t entry_start = 0, entry_end = 0, a_first = 0, a_end = 0;

  while (pos_ < n) {
    const std::size_t line_start = pos_;
    const void* lfp = std::memchr(base + pos_, '\n', n - pos_);
    const std::size_t lf = lfp ? std::size_t(static_cast<const char*>(lfp) - base) : n;
    std::string_view line(base + line_start, lf - line_start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty() && line.front() == '.') line.remove_prefix(1);  // dot-stuffing
    const std::size_t next_pos = lf < n ? lf + 1 : n;
    if (line.empty()) {
      pos_ = next_pos;
      continue;
    }
    std::string_view rest = line;
    const std::string_view kw = field(rest);

    if (kw == "r") {
      if (have_r) break;  // the next entry starts here; pos_ stays on it
      have_r = true;
      out = RouterStatus{};
      entry_start = line_start;
      std::string_view f[8];
      int nf = 0;
      while (!rest.empty() && nf < 8) f[nf++] = field(rest);
      // Full form: nick id digest date time ip orport dirport; the
      // microdescriptor form has no digest.
      const bool with_digest = nf == 8;
      if (nf < 7 || !rest.empty())
        return fail(line_start,
                    "r line needs 7 or 8 fields, has " + std::to_string(nf + !rest.empty()));
      const std::string_view nick = f[0];
      if (nick.empty() || nick.size() > 19)
        return fail(line_start, "nickname must be 1-19 characters");
      for (char c : nick)
        if (!is_nick_char(c)) return fail(line_start, "nickname has a non-alphanumeric byte");
      std::memcpy(out.nickname_buf, nick.data(), nick.size());
      out.nickname_len = std::uint8_t(nick.size());
      if (!decode_digest(f[1], out.identity))
        return fail(line_start, "identity is not 27 base64 characters");
      int i = 2;
      if (with_digest && !decode_digest(f[i++], out.digest))
        return fail(line_start, "descriptor digest is not 27 base64 characters");
      if (!parse_time(f[i], f[i + 1], out.published))
        return fail(line_start, "publication time is not YYYY-MM-DD HH:MM:SS");
      i += 2;
      if (!parse_ipv4(f[i++], out.ipv4)) return fail(line_start, "bad IPv4 address in r line");
      if (!parse_port(f[i++], out.or_port)) return fail(line_start, "bad ORPort in r line");
      if (!parse_port(f[i++], out.dir_port)) return fail(line_start, "bad DirPort in r line");
      pos_ = entry_end = next_pos;
      continue;
    }
    if (!have_r) return fail(line_start, "\"" + std::string(kw) + "\" line before any r line");

    if (kw == "s") {
      out.flags_text = rest;
      std::string_view names = rest;
      while (!names.empty()) {
        RouterFlag fl;
        if (parse_router_flag(field(names), fl)) out.flags.set(fl);
      }
    } else if (kw == "a") {
      if (a_first == 0) {
        a_first = std::size_t(line.data() - base);
        Ipv6OrAddress addr;
        if (parse_or_address6(rest, addr)) {
          out.ipv6 = addr;
          out.has_ipv6 = true;
        }
      }
      a_end = std::size_t(line.data() + line.size() - base);
    } else if (kw == "w") {
      out.has_bandwidth = true;
      std::string_view args = rest;
      while (!args.empty()) {
        const std::string_view kv = field(args);
        const std::size_t eq = kv.find('=');
        if (eq == std::string_view::npos) continue;
        const std::string_view k = kv.substr(0, eq), v = kv.substr(eq + 1);
        std::uint64_t num;
        if (!parse_uint(v, ~std::uint64_t{0}, num)) {
          if (k == "Bandwidth" || k == "Measured")
            return fail(line_start, "w line " + std::string(k) + " is not a number");
          continue;  // unknown keys may hold anything
        }
        if (k == "Bandwidth")
          out.bandwidth = num;
        else if (k == "Measured")
          out.measured = num, out.has_measured = true;
        else if (k == "Unmeasured")
          out.unmeasured = num != 0;
      }
    } else if (kw == "v") {
      out.version = rest;
    } else if (kw == "pr") {
      out.protocols = rest;
    } else if (kw == "p") {
      out.policy = rest;
    }
    // "m" and keywords a newer tor adds: part of the entry, nothing to parse.
    pos_ = entry_end = next_pos;
  }
  if (!have_r) return false;
  if (a_first) out.a_lines = std::string_view(base + a_first, a_end - a_first);
  std::size_t e = entry_end;
  while (e > entry_start && (base[e - 1] == '\n' || base[e - 1] == '\r')) --e;
  out.entry = std::string_view(base + entry_start, e - entry_start);
  return true;
}

}  // namespace torcon
