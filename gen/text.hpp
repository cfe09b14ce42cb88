// Text as tor writes it on the control port and in directory documents:
// numbers, addresses, hex and base64 digests, quoted strings, UTC times.
// Everything appends to an output string and allocates nothing else.
#pragma once

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace torcon::gen {

inline void put_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

inline void put_int(std::string& out, std::int64_t v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

// Two decimal digits, 0-99, with a leading zero.
inline void put_2digits(std::string& out, unsigned v) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

// Dotted quad of an address in host byte order.
void put_ipv4(std::string& out, std::uint32_t ip);

// One IPv6 group: lower-case hex without leading zeros (RFC 5952).
void put_hex_group(std::string& out, std::uint16_t v);

// Upper-case hex, two digits a byte, as in fingerprints and vote digests.
void put_hex(std::string& out, std::span<const std::uint8_t> bytes);

// Base64 (RFC 4648 alphabet). Directory documents drop the trailing '='
// from digests (20 bytes -> 27 characters, 32 -> 43); signatures keep it.
void put_base64(std::string& out, std::span<const std::uint8_t> bytes, bool pad = false);

// A QuotedString as tor writes it for the controller (esc_for_log): quote and
// backslash escaped. Only printable ASCII is expected in `raw`.
std::string quote(std::string_view raw);

// ---- UTC time -------------------------------------------------------------------------------

constexpr bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

constexpr unsigned days_in_month(std::int64_t y, unsigned m) {
  constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Seconds since the epoch of a UTC date and hour, 1970 on.
constexpr std::int64_t unix_seconds(std::int64_t y, unsigned mon, unsigned d, unsigned h) {
  std::int64_t days = 0;
  for (std::int64_t yy = 1970; yy < y; ++yy) days += is_leap(yy) ? 366 : 365;
  for (unsigned mm = 1; mm < mon; ++mm) days += days_in_month(y, mm);
  return (days + d - 1) * 86400 + std::int64_t{h} * 3600;
}

// Formats times; keeps the last day's date, as consecutive events share it.
class TimeFormatter {
 public:
  // "YYYY-MM-DD<sep>HH:MM:SS" (ISOTime with sep ' ', ISOTime2 with 'T').
  void put_seconds(std::string& out, std::int64_t unix_seconds, char sep);
  // ISOTime2Frac with microseconds: "YYYY-MM-DDTHH:MM:SS.uuuuuu", as tor's
  // format_iso_time_nospace_usec.
  void put_micros(std::string& out, std::int64_t unix_micros);

 private:
  void cache(std::int64_t day);
  std::int64_t cached_day_ = -1;
  std::array<char, 10> date_{};
};

}  // namespace torcon::gen
