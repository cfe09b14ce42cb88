// The generator's randomness: one seed gives the same bytes with any compiler,
// standard library or platform.
//
// <random>'s distributions are implementation-defined, so nothing here uses
// them: raw 64-bit words come from xoshiro256** (seeded through splitmix64)
// and are reduced with integer arithmetic only — no libm, no clock.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <iterator>

namespace torcon::gen {

// One step of splitmix64: advances `state`, returns a well-mixed word.
constexpr std::uint64_t splitmix(std::uint64_t& state) {
  state += 0x9E3779B97F4A7C15ULL;
  std::uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Names the independent streams drawn from one seed, so that adding a draw to
// one part of the generator does not shift the output of another.
enum Salt : std::uint64_t {
  kRouterSalt = 1,  // relay #i: keys, nickname, flags, bandwidth
  kAddressSalt,     // relay #i's address (shared with its neighbours sometimes)
  kEventSalt,       // the event simulation
  kNamesSalt,       // the simulation's world: domains, onion addresses
  kDocumentSalt,    // consensus document header and signatures
};

class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (auto& word : s_) word = splitmix(seed);
  }
  // A separate stream per (seed, salt, index): relay #i must not depend on
  // how many relays came before it.
  Rng(std::uint64_t seed, std::uint64_t salt, std::uint64_t index)
      : Rng(seed ^ mix(salt * 0xD1B54A32D192ED03ULL + index)) {}

  std::uint64_t next() {
    const std::uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n), n > 0. Plain `% n` would favour small values; the
  // short tail is rejected instead.
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t threshold = (0 - n) % n;  // == 2^64 mod n
    for (;;) {
      const std::uint64_t r = next();
      if (r >= threshold) return r % n;
    }
  }
  std::uint64_t between(std::uint64_t lo, std::uint64_t hi) { return lo + below(hi - lo + 1); }
  bool percent(unsigned p) { return below(100) < p; }
  bool permille(unsigned p) { return below(1000) < p; }

  template <class Seq>
  const auto& pick(const Seq& seq) {
    return seq[below(std::size(seq))];
  }

  // An index drawn with probability proportional to weights[i].
  template <class Seq>
  std::size_t weighted(const Seq& weights) {
    std::uint64_t total = 0;
    for (auto w : weights) total += w;
    std::uint64_t r = below(total);
    std::size_t i = 0;
    while (r >= weights[i]) r -= weights[i++];
    return i;
  }

  // Roughly exponential with the given mean, without libm: -ln(U) =
  // ln2 * -log2(U), whose integer part is the count of leading zero bits of a
  // uniform word (geometric, p = 1/2).
  std::uint64_t exponential(std::uint64_t mean) {
    const std::uint64_t whole = static_cast<std::uint64_t>(std::countl_zero(next() | 1));
    const std::uint64_t milli = whole * 1000 + below(1000);
    return mean * milli * 693 / 1000000;
  }

  // Log-uniform in [lo, lo * 2^octaves): many short values, a long tail of
  // big ones.
  std::uint64_t log_uniform(std::uint64_t lo, unsigned octaves) {
    const std::uint64_t base = lo << below(octaves);
    return base + below(base);
  }

  template <std::size_t N>
  void fill(std::array<std::uint8_t, N>& bytes) {
    for (std::size_t i = 0; i < N; i += 8) {
      std::uint64_t word = next();
      for (std::size_t j = i; j < N && j < i + 8; ++j, word >>= 8) {
        bytes[j] = static_cast<std::uint8_t>(word);
      }
    }
  }

 private:
  static constexpr std::uint64_t mix(std::uint64_t x) { return splitmix(x); }
  std::array<std::uint64_t, 4> s_{};
};

// Publicly routable IPv4 only: no RFC 1918, loopback, link-local, CGNAT,
// documentation, benchmarking or multicast space (a pre-commit check rejects
// private addresses anywhere in the tree's data). Host byte order.
bool is_public_ipv4(std::uint32_t ip);
std::uint32_t random_public_ipv4(Rng& r);

}  // namespace torcon::gen
