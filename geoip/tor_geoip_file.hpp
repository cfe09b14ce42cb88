// tor's own geoip files (Debian's tor-geoipdb), as a sorted range table.
//
// The format, as tor writes and reads it (tor's geoip.c):
//   geoip  (IPv4): "LOW,HIGH,CC", LOW and HIGH the addresses as unsigned
//                  32-bit integers; the older quoted form "\"LOW\",\"HIGH\",\"CC\",..."
//                  is accepted too.
//   geoip6 (IPv6): "LOW,HIGH,CC", LOW and HIGH written as IPv6 addresses.
// Lines starting with '#' and blank lines are skipped. CC is two letters or
// "??" (tor: unknown); both ends are inclusive. Anything else is an error
// naming the line: a file that does not parse is not silently half-loaded.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/expected.hpp"

namespace torcon::detail {

/// An IPv6 address as a 128-bit number (two halves, most significant first),
/// or an IPv4 address in `low`.
struct AddressKey {
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  auto operator<=>(const AddressKey&) const = default;
  static AddressKey from_bytes(const std::array<std::uint8_t, 16>& bytes, bool v6) noexcept;
};

/// low..high (inclusive) lies in country `code` ("??": tor does not know).
struct CountryRange {
  AddressKey low, high;
  std::array<char, 2> code{};
};

/// The ranges of one file, sorted and without overlaps.
class CountryRangeTable {
 public:
  enum class Family : std::uint8_t { v4, v6 };
  /// Parses a whole file's text. Errc::bad_argument with the byte offset
  /// and "line N: ..." for a malformed line or overlapping ranges.
  static Expected<CountryRangeTable> parse(std::string_view text, Family family);
  /// The two-letter code whose range holds `key`; "" when none does (or
  /// the range says "??").
  std::string_view find(const AddressKey& key) const noexcept;
  std::size_t size() const noexcept { return ranges_.size(); }
  /// The ranges, ascending (for checks: the fuzz harness, tests).
  const std::vector<CountryRange>& ranges() const noexcept { return ranges_; }
  Family family() const noexcept { return family_; }

 private:
  std::vector<CountryRange> ranges_;
  Family family_ = Family::v4;
};

}  // namespace torcon::detail
