#include "gen/text.hpp"

#include <algorithm>

namespace torcon::gen {

void put_ipv4(std::string& out, std::uint32_t ip) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    put_uint(out, (ip >> shift) & 0xFF);
    if (shift != 0) out.push_back('.');
  }
}

void put_hex_group(std::string& out, std::uint16_t v) {
  char buf[8];
  const auto res = std::to_chars(buf, buf + sizeof buf, v, 16);
  out.append(buf, res.ptr);
}

void put_hex(std::string& out, std::span<const std::uint8_t> bytes) {
  constexpr std::string_view kHex = "0123456789ABCDEF";
  for (const std::uint8_t b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
}

void put_base64(std::string& out, std::span<const std::uint8_t> bytes, bool pad) {
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v =
        (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kAlphabet[(v >> shift) & 0x3F]);
  }
  const std::size_t left = bytes.size() - i;  // 0, 1 or 2 bytes: 0, 2 or 3 characters
  if (left == 0) return;
  std::uint32_t v = std::uint32_t{bytes[i]} << 16;
  if (left == 2) v |= std::uint32_t{bytes[i + 1]} << 8;
  const int last_shift = left == 2 ? 6 : 12;
  for (int shift = 18; shift >= last_shift; shift -= 6) {
    out.push_back(kAlphabet[(v >> shift) & 0x3F]);
  }
  if (pad) out.append(3 - left, '=');
}

std::string quote(std::string_view raw) {
  std::string q = "\"";
  for (const char c : raw) {
    if (c == '"' || c == '\\') q.push_back('\\');
    q.push_back(c);
  }
  q.push_back('"');
  return q;
}

void TimeFormatter::put_seconds(std::string& out, std::int64_t t, char sep) {
  const std::int64_t day = t / 86400;
  if (day != cached_day_) cache(day);
  out.append(date_.data(), date_.size());
  out.push_back(sep);
  const auto sod = static_cast<unsigned>(t % 86400);
  put_2digits(out, sod / 3600);
  out.push_back(':');
  put_2digits(out, sod / 60 % 60);
  out.push_back(':');
  put_2digits(out, sod % 60);
}

void TimeFormatter::put_micros(std::string& out, std::int64_t us) {
  put_seconds(out, us / 1000000, 'T');
  out.push_back('.');
  char buf[6];
  auto frac = static_cast<std::uint32_t>(us % 1000000);
  for (int i = 5; i >= 0; --i, frac /= 10) buf[i] = static_cast<char>('0' + frac % 10);
  out.append(buf, 6);
}

// Only dates from 1970 on are needed, and the date is cached, so a loop over
// years is simple and fast enough.
void TimeFormatter::cache(std::int64_t day) {
  cached_day_ = day;
  std::int64_t y = 1970;
  for (;;) {
    const std::int64_t len = is_leap(y) ? 366 : 365;
    if (day < len) break;
    day -= len;
    ++y;
  }
  unsigned m = 1;
  while (day >= days_in_month(y, m)) day -= days_in_month(y, m++);
  std::string s;
  put_uint(s, static_cast<std::uint64_t>(y));
  s.push_back('-');
  put_2digits(s, m);
  s.push_back('-');
  put_2digits(s, static_cast<unsigned>(day + 1));
  std::copy_n(s.begin(), date_.size(), date_.begin());
}

}  // namespace torcon::gen
