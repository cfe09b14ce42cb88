// Hash for tables keyed by a circuit or stream ID (control-spec: 1*16
// letters and digits; tor writes decimal numbers). Every CIRC and STREAM
// event looks one up; absl's general string hash cost a quarter of applying
// a STREAM event, while an ID fits in two words: load them, mix, done.
// Longer text (never an ID tor sends) takes the general hash. Used with
// TextEq (string_key.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "string_key.hpp"

namespace torcon::detail {

struct ControlIdHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    if (s.size() > 16) return TextHash{}(s);
    std::uint64_t w[2] = {0, 0};
    for (std::size_t i = 0; i < s.size(); ++i)
      w[i / 8] |= std::uint64_t(static_cast<unsigned char>(s[i])) << (8 * (i % 8));
    // Multiply-xorshift: absl takes the table position from the high bits
    // and the control byte from the low seven, so both must depend on
    // every byte.
    std::uint64_t h = (w[0] ^ (std::uint64_t(s.size()) << 59)) * 0x9e3779b97f4a7c15ull;
    h ^= w[1] * 0xc2b2ae3d27d4eb4full;
    h ^= h >> 32;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 29;
    return std::size_t(h);
  }
};

}  // namespace torcon::detail
