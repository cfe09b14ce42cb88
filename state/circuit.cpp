#include "torcon/circuit.hpp"

#include <chrono>

namespace torcon {

namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

}  // namespace

// ISOTime2Frac: "YYYY-MM-DDTHH:MM:SS[.ffffff]", UTC (control-spec 2.4).
std::optional<std::chrono::system_clock::time_point> Circuit::time_created() const {
  const std::string_view t = time_created_;
  int y, mo, d, h, mi, s;
  if (t.size() < 19 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':' ||
      !digits(t, 0, 4, y) || !digits(t, 5, 2, mo) || !digits(t, 8, 2, d) || !digits(t, 11, 2, h) ||
      !digits(t, 14, 2, mi) || !digits(t, 17, 2, s))
    return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(unsigned(mo)),
                                        std::chrono::day(unsigned(d))};
  // system_clock counts nanoseconds in 64 bits: it ends in 2262.
  if (!ymd.ok() || y > 2200 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  std::chrono::microseconds frac{0};
  if (t.size() > 19) {
    if (t[19] != '.' || t.size() == 20 || t.size() > 26) return std::nullopt;
    int v = 0;
    std::size_t n = t.size() - 20;
    if (!digits(t, 20, n, v)) return std::nullopt;
    for (std::size_t i = n; i < 6; ++i) v *= 10;
    frac = std::chrono::microseconds(v);
  }
  return std::chrono::sys_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(mi) +
         std::chrono::seconds(s) + frac;
}

}  // namespace torcon
