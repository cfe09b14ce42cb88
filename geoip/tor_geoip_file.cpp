#include "tor_geoip_file.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace torcon::detail {

AddressKey AddressKey::from_bytes(const std::array<std::uint8_t, 16>& bytes, bool v6) noexcept {
  AddressKey k;
  if (!v6) {
    k.low = (std::uint64_t{bytes[0]} << 24) | (std::uint64_t{bytes[1]} << 16) |
            (std::uint64_t{bytes[2]} << 8) | bytes[3];
    return k;
  }
  for (int i = 0; i < 8; ++i) k.high = (k.high << 8) | bytes[i];
  for (int i = 8; i < 16; ++i) k.low = (k.low << 8) | bytes[i];
  return k;
}

namespace {

Error bad_line(std::size_t number, std::size_t offset, std::string_view what) {
  return Error(Errc::bad_argument, "line " + std::to_string(number) + ": " + std::string(what),
               offset);
}

// "123" as a 32-bit unsigned number, all of it.
bool parse_u32(std::string_view s, std::uint64_t& out) {
  std::uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return false;
  out = v;
  return true;
}

bool parse_v6(std::string_view s, AddressKey& out) {
  // inet_pton needs a NUL-terminated string; the longest IPv6 text is 45.
  if (s.empty() || s.size() > 45) return false;
  // inet_pton would stop at a NUL and accept what precedes it.
  if (s.find('\0') != std::string_view::npos) return false;
  char buf[46];
  std::copy(s.begin(), s.end(), buf);
  buf[s.size()] = '\0';
  std::array<std::uint8_t, 16> bytes{};
  if (inet_pton(AF_INET6, buf, bytes.data()) != 1) return false;
  out = AddressKey::from_bytes(bytes, true);
  return true;
}

bool is_letter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// "LOW,HIGH,CC" split at its first two commas; the quoted IPv4 form has its
// quotes taken off each field, and anything after a third comma ignored.
bool split_fields(std::string_view line, std::string_view (&f)[3], bool allow_quoted) {
  bool quoted = allow_quoted && !line.empty() && line.front() == '"';
  for (int i = 0; i < 3; ++i) {
    std::size_t comma = line.find(',');
    if (i < 2 && comma == std::string_view::npos) return false;
    std::string_view field = line.substr(0, comma);
    if (i == 2 && !quoted && comma != std::string_view::npos) return false;
    if (quoted) {
      if (field.size() < 2 || field.front() != '"' || field.back() != '"') return false;
      field = field.substr(1, field.size() - 2);
    }
    f[i] = field;
    line = comma == std::string_view::npos ? std::string_view() : line.substr(comma + 1);
  }
  return true;
}

}  // namespace

Expected<CountryRangeTable> CountryRangeTable::parse(std::string_view text, Family family) {
  CountryRangeTable t;
  t.family_ = family;
  std::size_t pos = 0, number = 0;
  std::vector<std::size_t> line_of;  // for the overlap message
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    const std::size_t offset = pos;
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;

    std::string_view f[3];
    if (!split_fields(line, f, family == Family::v4))
      return bad_line(number, offset, "expected LOW,HIGH,CC");
    CountryRange r;
    if (family == Family::v4) {
      if (!parse_u32(f[0], r.low.low) || !parse_u32(f[1], r.high.low))
        return bad_line(number, offset, "LOW and HIGH must be 32-bit unsigned integers");
    } else if (!parse_v6(f[0], r.low) || !parse_v6(f[1], r.high)) {
      return bad_line(number, offset, "LOW and HIGH must be IPv6 addresses");
    }
    if (r.high < r.low) return bad_line(number, offset, "HIGH is below LOW");
    if (f[2] == "??") {
      r.code = {'?', '?'};
    } else if (f[2].size() == 2 && is_letter(f[2][0]) && is_letter(f[2][1])) {
      auto upper = [](char c) { return c >= 'a' && c <= 'z' ? char(c - 'a' + 'A') : c; };
      r.code = {upper(f[2][0]), upper(f[2][1])};
    } else {
      return bad_line(number, offset, "country code must be two letters or ??");
    }
    t.ranges_.push_back(r);
    line_of.push_back(number);
  }
  // tor writes the files sorted; sort anyway (stably, to name the right
  // lines) and refuse overlaps, which would make an answer depend on order.
  std::vector<std::size_t> order(t.ranges_.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (!std::is_sorted(t.ranges_.begin(), t.ranges_.end(),
                      [](const CountryRange& a, const CountryRange& b) { return a.low < b.low; })) {
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return t.ranges_[a].low < t.ranges_[b].low;
    });
    std::vector<CountryRange> sorted;
    sorted.reserve(order.size());
    for (std::size_t i : order) sorted.push_back(t.ranges_[i]);
    t.ranges_ = std::move(sorted);
  }
  for (std::size_t i = 1; i < t.ranges_.size(); ++i) {
    if (t.ranges_[i].low <= t.ranges_[i - 1].high)
      return Error(Errc::bad_argument, "line " + std::to_string(line_of[order[i]]) +
                                           ": range overlaps the one on line " +
                                           std::to_string(line_of[order[i - 1]]));
  }
  t.ranges_.shrink_to_fit();
  return t;
}

std::string_view CountryRangeTable::find(const AddressKey& key) const noexcept {
  // The last range starting at or below key holds it, if it reaches that far.
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), key,
                             [](const AddressKey& k, const CountryRange& r) { return k < r.low; });
  if (it == ranges_.begin()) return {};
  --it;
  if (key > it->high || it->code[0] == '?') return {};
  return {it->code.data(), 2};
}

}  // namespace torcon::detail
