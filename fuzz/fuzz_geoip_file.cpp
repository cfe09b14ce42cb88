// libFuzzer harness: tor's geoip / geoip6 file parser (geoip/tor_geoip_file.hpp),
// on any bytes; the first byte picks the family. Invariants (any violation aborts):
//  * an error names a line ("line N: ...") and its offset lies within the input;
//  * a table that parses is sorted by LOW, its ranges do not overlap, each
//    has LOW <= HIGH (an IPv4 one within 32 bits) and a code of two
//    upper-case letters or "??";
//  * find() answers each range's LOW, HIGH and midpoint with that range's
//    code ("" for "??"), and "" just outside a range that has no neighbour there;
//  * find() on keys made of the input's bytes answers "" or two upper-case letters.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "tor_geoip_file.hpp"

namespace {

using torcon::detail::AddressKey;
using torcon::detail::CountryRange;
using torcon::detail::CountryRangeTable;

bool upper(char c) { return c >= 'A' && c <= 'Z'; }

std::string_view expected_code(const CountryRange& r) {
  if (r.code[0] == '?') return {};
  return {r.code.data(), 2};
}

AddressKey midpoint(const AddressKey& a, const AddressKey& b) {
  // (a + b) / 2 on 128 bits without overflow: a + (b - a) / 2.
  AddressKey d;
  d.low = b.low - a.low;
  d.high = b.high - a.high - (b.low < a.low ? 1 : 0);
  AddressKey half;
  half.low = (d.low >> 1) | (d.high << 63);
  half.high = d.high >> 1;
  AddressKey m;
  m.low = a.low + half.low;
  m.high = a.high + half.high + (m.low < a.low ? 1 : 0);
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto family = (data[0] & 1) ? CountryRangeTable::Family::v6 : CountryRangeTable::Family::v4;
  const std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  auto table = CountryRangeTable::parse(input, family);
  if (!table) {
    FUZZ_CHECK(table.error().message.starts_with("line "));
    FUZZ_CHECK(table.error().offset <= input.size());
    return 0;
  }
  const auto& ranges = table->ranges();
  FUZZ_CHECK(ranges.size() == table->size());
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    const CountryRange& r = ranges[i];
    FUZZ_CHECK(r.low <= r.high);
    if (family == CountryRangeTable::Family::v4)
      FUZZ_CHECK(r.high.high == 0 && r.high.low <= 0xffffffffu);
    FUZZ_CHECK((r.code[0] == '?' && r.code[1] == '?') || (upper(r.code[0]) && upper(r.code[1])));
    if (i > 0) FUZZ_CHECK(ranges[i - 1].high < r.low);
    FUZZ_CHECK(table->find(r.low) == expected_code(r));
    FUZZ_CHECK(table->find(r.high) == expected_code(r));
    FUZZ_CHECK(table->find(midpoint(r.low, r.high)) == expected_code(r));
    // Just past HIGH: nobody's, unless the next range starts right there.
    AddressKey next = r.high;
    if (++next.low == 0) ++next.high;
    const bool wrapped = next.low == 0 && next.high == 0;
    if (!wrapped && (i + 1 == ranges.size() || next < ranges[i + 1].low))
      FUZZ_CHECK(table->find(next).empty());
  }
  // Keys from the input's own bytes.
  for (std::size_t at = 0; at + 16 <= input.size(); at += 16) {
    AddressKey k;
    std::memcpy(&k.high, input.data() + at, 8);
    std::memcpy(&k.low, input.data() + at + 8, 8);
    if (family == CountryRangeTable::Family::v4) {
      k.high = 0;
      k.low &= 0xffffffffu;
    }
    const std::string_view cc = table->find(k);
    FUZZ_CHECK(cc.empty() || (cc.size() == 2 && upper(cc[0]) && upper(cc[1])));
  }
  return 0;
}
