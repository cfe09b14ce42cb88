// skip_data_blocks(): the block loop once per instruction set, and the choice
// among them (see data_block_scan.hpp).

#include "data_block_scan.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace torcon::detail {

#if defined(__x86_64__)
namespace {

bool cpu_has_avx2() {
  __builtin_cpu_init();  // may run before the constructor that would do it
  // LZCNT has no __builtin_cpu_supports() name in clang 14.
  unsigned a = 0, b = 0, c = 0, d = 0;
  const bool lzcnt = __get_cpuid(0x80000001, &a, &b, &c, &d) && (c & bit_LZCNT) != 0;
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && lzcnt;
}

bool cpu_has_avx512() {
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vbmi2") &&
         __builtin_cpu_supports("popcnt");
}

DataScanLevel detect_level() {
  DataScanLevel best = cpu_has_avx512() ? DataScanLevel::avx512
                       : cpu_has_avx2() ? DataScanLevel::avx2
                                        : DataScanLevel::sse2;
  if (const char* cap = std::getenv("TORCON_REPLY_READER_SIMD")) {
    if (std::strcmp(cap, "sse2") == 0)
      best = DataScanLevel::sse2;
    else if (std::strcmp(cap, "avx2") == 0)
      best = std::min(best, DataScanLevel::avx2);
  }
  return best;
}

// Decided once (CPUID is slow): the scan runs per run of data lines. Zero is
// DataScanLevel::scalar, so a read before this initialiser ran (another
// static initialiser framing replies) skips nothing, which is always right.
const DataScanLevel kLevel = detect_level();

// How far ahead the block loop prefetches: measured, it takes a quarter off
// the scan of ns/all when the input is not in L1 (a 64 KiB read overflows it).
constexpr std::size_t kAhead = 1024;

// After an LF, '.' and LF start a line the machine must see.
constexpr auto kMachineLine = [] {
  std::array<std::uint8_t, 256> t{};
  t['.'] = t['\n'] = 1;
  return t;
}();

// A 64-byte block as masks, bit i for byte i.
struct BlockMasks {
  std::uint64_t lf, cr, dot;
};

// Writes rel + the position of each LF in `lfm` from `out` on; returns the new
// end. Four at a time with no branch per LF (a block of router status text
// holds 0-3 of them, unpredictably): each slot is written, the end advances
// only past real ones. Writes at most 64 slots.
inline std::uint32_t* record_lfs(std::uint32_t* out, std::uint64_t lfm, std::uint32_t rel) {
  do {
    for (int k = 0; k < 4; ++k) {
      *out = rel + unsigned(std::countr_zero(lfm | std::uint64_t(1) << 63));
      out += lfm != 0;
      lfm &= lfm - 1;
    }
  } while (lfm);
  return out;
}

// What the block loop needs of an instruction set: masks(), tz() and lz()
// (64 for 0), and record() of a block's LFs at `rel` (its offset from the
// LfList's origin), which moves rel on to the next block.
struct Sse2 {
  static BlockMasks masks(const char* q) {
    const __m128i nl = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r'), dot = _mm_set1_epi8('.');
    BlockMasks m{0, 0, 0};
    for (int k = 0; k < 4; ++k) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 16 * k));
      m.lf |= std::uint64_t(unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl)))) << 16 * k;
      m.cr |= std::uint64_t(unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, cr)))) << 16 * k;
      m.dot |= std::uint64_t(unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, dot)))) << 16 * k;
    }
    return m;
  }
  static std::size_t tz(std::uint64_t x) { return unsigned(std::countr_zero(x)); }
  // Not std::countl_zero(): without LZCNT, GCC branches on x == 0 around BSR.
  static std::size_t lz(std::uint64_t x) { return unsigned(__builtin_clzll(x | 1)) + (x == 0); }
  using Rel = std::uint32_t;
  static void start(Rel& rel, std::uint32_t at) { rel = at; }
  static std::uint32_t* record(std::uint32_t* out, std::uint64_t lfm, Rel& rel) {
    out = record_lfs(out, lfm, rel);
    rel += 64;
    return out;
  }
};

// tz() and lz() are the TZCNT/LZCNT intrinsics, not std::countr_zero(): GCC
// sees through the latter and branches on "no LF in the block" again.
#define TORCON_TARGET_AVX2 __attribute__((target("avx2,bmi,lzcnt")))
struct Avx2 {
  TORCON_TARGET_AVX2 static std::uint64_t eq(__m256i lo, __m256i hi, char c) {
    const __m256i cv = _mm256_set1_epi8(c);
    return std::uint64_t(unsigned(_mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, cv)))) |
           std::uint64_t(unsigned(_mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, cv)))) << 32;
  }
  TORCON_TARGET_AVX2 static BlockMasks masks(const char* q) {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
    const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32));
    return {eq(lo, hi, '\n'), eq(lo, hi, '\r'), eq(lo, hi, '.')};
  }
  TORCON_TARGET_AVX2 static std::size_t tz(std::uint64_t x) { return _tzcnt_u64(x); }
  TORCON_TARGET_AVX2 static std::size_t lz(std::uint64_t x) { return _lzcnt_u64(x); }
  using Rel = std::uint32_t;
  TORCON_TARGET_AVX2 static void start(Rel& rel, std::uint32_t at) { rel = at; }
  TORCON_TARGET_AVX2 static std::uint32_t* record(std::uint32_t* out, std::uint64_t lfm, Rel& rel) {
    out = record_lfs(out, lfm, rel);
    rel += 64;
    return out;
  }
};

#define TORCON_TARGET_AVX512 \
  __attribute__((target("avx512f,avx512bw,avx512vbmi2,avx2,bmi,lzcnt,popcnt")))
struct Avx512 {
  TORCON_TARGET_AVX512 static BlockMasks masks(const char* q) {
    const __m512i v = _mm512_loadu_si512(q);
    return {_mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\n')),
            _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\r')),
            _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('.'))};
  }
  TORCON_TARGET_AVX512 static std::size_t tz(std::uint64_t x) { return _tzcnt_u64(x); }
  TORCON_TARGET_AVX512 static std::size_t lz(std::uint64_t x) { return _lzcnt_u64(x); }
  // vpcompressb packs the LFs' positions into the low bytes, which widen to 8
  // offsets per store: no branch per LF, and a block's 0-3 LFs cost what one
  // does. rel is the block's offset 8 times, moved on by an add (a broadcast
  // per block measured slower). The maskz_ forms because GCC 12 warns of
  // maybe-uninitialized in the unmasked ones.
  using Rel = __m256i;
  TORCON_TARGET_AVX512 static void start(Rel& rel, std::uint32_t at) {
    rel = _mm256_set1_epi32(int(at));
  }
  TORCON_TARGET_AVX512 static std::uint32_t* record(std::uint32_t* out, std::uint64_t lfm,
                                                    Rel& rel) {
    const __m512i iota = _mm512_set_epi64(
        0x3f3e3d3c3b3a3938, 0x3736353433323130, 0x2f2e2d2c2b2a2928, 0x2726252423222120,
        0x1f1e1d1c1b1a1918, 0x1716151413121110, 0x0f0e0d0c0b0a0908, 0x0706050403020100);
    const __m512i all = _mm512_maskz_compress_epi8(lfm, iota);
    const int n = std::popcount(lfm);
    int k = 0;
    do {  // more than once only with lines under 8 bytes
      const __m128i pos = _mm512_maskz_extracti32x4_epi32(
          0xf, k ? _mm512_maskz_compress_epi8(~std::uint64_t(0) << k, all) : all, 0);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + k),
                          _mm256_add_epi32(rel, _mm256_cvtepu8_epi32(pos)));
    } while ((k += 8) < n);
    rel = _mm256_add_epi32(rel, _mm256_set1_epi32(64));
    return out + n;
  }
};

// The block loop: 64 bytes at a time as LF, CR and '.' masks. One branch per
// block, taken only at a block with anything unusual. Nothing branches on
// whether a block holds an LF: 38% of ns/all's hold none, unpredictably.
// Always inlined, so that it is compiled for each instruction set below.
// Strict (bare LFs refused) is a template parameter rather than a mask in a
// register: with one register fewer the loop spills less, and the recording
// loop measured faster.
template <class Isa, bool Record, bool Strict>
[[gnu::always_inline]] inline const char* scan(const char* p, const char* limit, const char*& line,
                                               const DataLineRules& rules, LfList* lfs) {
  // Offsets from p, in locals: through pointers or references they would be
  // reloaded after every SIMD store (those may alias anything).
  std::size_t at = 0;
  std::size_t gap = std::size_t(p - line);  // bytes of the current line before the block
  // A block runs when its byte 64 is before `limit`, so all its LFs are:
  // only its first line can break a limit, and only max_line (>= 64).
  const std::size_t end = std::size_t(limit - p);
  const std::size_t max_line = rules.max_line;
  std::uint32_t* out = nullptr;
  typename Isa::Rel rel{};
  if constexpr (Record) {
    out = lfs->next;
    Isa::start(rel, std::uint32_t(p - lfs->origin));
  }
  // Bit 0: the byte before the block is a CR (only ever so in a line's middle).
  std::uint64_t prev_cr = gap > 0 && p[-1] == '\r';
  while (true) {
    // Prefetch kAhead on while that is before `end`, then the block itself.
    std::size_t stop = end, ahead = 0;
    if (at + 64 + kAhead <= end) stop = end - kAhead, ahead = kAhead;
    if constexpr (Record) {
      // As many blocks as lfs has room for (each writes at most 64 slots),
      // so the block loop checks none; the room is counted again each time
      // round, from the slots really used.
      const std::size_t room = std::size_t(lfs->end - out);
      if (room < 64) {
        if (at + 64 <= end) lfs->full = true;  // out of room, not done
        break;
      }
      stop = std::min(stop, at + room / 64 * 64);
    }
    const char* const pf = p + ahead;
    for (; at + 64 <= stop; at += 64) {
      __builtin_prefetch(pf + at);
      const BlockMasks m = Isa::masks(p + at);
      // Bit i: byte i + 1 is '.' or LF. Byte 64 is looked up alone rather
      // than loaded again with its 63 predecessors.
      const std::uint64_t next =
          (m.lf | m.dot) >> 1 | std::uint64_t(kMachineLine[std::uint8_t(p[at + 64])]) << 63;
      const std::uint64_t bare = Strict ? ~(m.cr << 1 | prev_cr) : 0;
      // tz() is 64 with no LF, so a line running on is checked too.
      if ((m.lf & (next | bare)) != 0 || gap + Isa::tz(m.lf) >= max_line) break;
      if constexpr (Record) out = Isa::record(out, m.lf, rel);
      // The line running on past the block: after its last LF, or 64
      // bytes more.
      const std::size_t lz = Isa::lz(m.lf);
      gap = lz + (gap & (std::size_t(0) - (lz >> 6)));
      prev_cr = m.cr >> 63;
    }
    if (at + 64 <= stop || at + 64 > end) break;  // stopped at a block, or done
  }
  line = p + (at - gap);
  if constexpr (Record) {
    lfs->next = out;
    // Not max(p, line): a line longer than the blocks scanned would bring the
    // next call back to the same p, with the same room.
    if (lfs->full) return p + at;
  }
  return std::max(p, line);
}

template <bool Record>
const char* scan_sse2(const char* p, const char* limit, const char*& line,
                      const DataLineRules& rules, LfList* lfs) {
  return rules.allow_bare_lf ? scan<Sse2, Record, false>(p, limit, line, rules, lfs)
                             : scan<Sse2, Record, true>(p, limit, line, rules, lfs);
}
template <bool Record>
TORCON_TARGET_AVX2 const char* scan_avx2(const char* p, const char* limit, const char*& line,
                                         const DataLineRules& rules, LfList* lfs) {
  return rules.allow_bare_lf ? scan<Avx2, Record, false>(p, limit, line, rules, lfs)
                             : scan<Avx2, Record, true>(p, limit, line, rules, lfs);
}
template <bool Record>
TORCON_TARGET_AVX512 const char* scan_avx512(const char* p, const char* limit, const char*& line,
                                             const DataLineRules& rules, LfList* lfs) {
  return rules.allow_bare_lf ? scan<Avx512, Record, false>(p, limit, line, rules, lfs)
                             : scan<Avx512, Record, true>(p, limit, line, rules, lfs);
}
#undef TORCON_TARGET_AVX2
#undef TORCON_TARGET_AVX512

}  // namespace
#endif  // __x86_64__

std::string_view to_string(DataScanLevel level) noexcept {
  switch (level) {
    case DataScanLevel::scalar: return "scalar";
    case DataScanLevel::sse2: return "sse2";
    case DataScanLevel::avx2: return "avx2";
    case DataScanLevel::avx512: return "avx512";
  }
  return "scalar";
}

bool cpu_supports(DataScanLevel level) noexcept {
#if defined(__x86_64__)
  switch (level) {
    case DataScanLevel::scalar:
    case DataScanLevel::sse2: return true;
    case DataScanLevel::avx2: return cpu_has_avx2();
    case DataScanLevel::avx512: return cpu_has_avx512();
  }
  return false;
#else
  return level == DataScanLevel::scalar;
#endif
}

DataScanLevel data_scan_level() noexcept {
#if defined(__x86_64__)
  return kLevel;
#else
  return DataScanLevel::scalar;
#endif
}

const char* skip_data_blocks_at([[maybe_unused]] DataScanLevel level, const char* p,
                                [[maybe_unused]] const char* limit,
                                [[maybe_unused]] const char*& line,
                                [[maybe_unused]] const DataLineRules& rules,
                                [[maybe_unused]] LfList* lfs) noexcept {
#if defined(__x86_64__)
  // No whole block before `limit`; or a line limit a block could hide.
  if (limit - p < 64 || rules.max_line < 64) return p;
  switch (level) {
    case DataScanLevel::scalar: return p;
    case DataScanLevel::sse2:
      return lfs ? scan_sse2<true>(p, limit, line, rules, lfs)
                 : scan_sse2<false>(p, limit, line, rules, lfs);
    case DataScanLevel::avx2:
      return lfs ? scan_avx2<true>(p, limit, line, rules, lfs)
                 : scan_avx2<false>(p, limit, line, rules, lfs);
    case DataScanLevel::avx512:
      return lfs ? scan_avx512<true>(p, limit, line, rules, lfs)
                 : scan_avx512<false>(p, limit, line, rules, lfs);
  }
#endif
  return p;
}

const char* skip_data_blocks(const char* p, const char* limit, const char*& line,
                             const DataLineRules& rules, LfList* lfs) noexcept {
  return skip_data_blocks_at(data_scan_level(), p, limit, line, rules, lfs);
}

}  // namespace torcon::detail
