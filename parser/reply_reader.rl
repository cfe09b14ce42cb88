// ReplyReader: framing of tor's control-port replies (control-spec 2.3) as a
// Ragel state machine. `ragel -G2` turns this into reply_reader.cpp in the
// build tree.
//
// The machine sees every structural byte (status code, separator, the first
// bytes of data lines, line ends) but not the bulk of a line: on the first
// text byte an action memchr()s to the LF and jumps there (fexec), so long
// lines cost one memchr, not one state transition per byte. Every position
// kept is an offset from the current reply's first byte, so the buffer may
// grow or compact between calls while a reply is incomplete.

#include "torcon/reply_reader.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstdlib>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif
#include <cstring>
#include <string>

namespace torcon {

%%{
  machine reply;
  alphtype char;

  action code0 { code_ = (fc - '0') * 100; }
  action code1 { code_ += (fc - '0') * 10; }
  action code2 { code_ += fc - '0'; }

  action sep {
    if (!recs_.empty() && code_ != recs_.front().code) {
      return fail(Errc::status_mismatch,
                  "status code " + std::to_string(code_) + " differs from " +
                      std::to_string(recs_.front().code) + " earlier in the reply",
                  line_off_);
    }
    recs_.push_back(LineRec{line_off_ + 4, 0, 0, 0, 0, 0, code_, static_cast<Sep>(fc)});
  }

  # Jump to the LF that ends this line (or to the end of input).
  action skip {
    {
      const char* lf = static_cast<const char*>(std::memchr(p, '\n', pe - p));
      const std::size_t stop = static_cast<std::size_t>((lf ? lf : pe) - base);
      if (!within_limits(stop)) return Next::error;
      fexec (lf ? lf : pe);
    }
  }

  # First byte of an ordinary data line (not "."): jump over the whole run of
  # ordinary lines that follows (see skip_data_lines()), so the machine only
  # sees the line before something it must look at. Most of ns/all is such
  # runs.
  action skip_data {
    {
      const char* lf = record_ ? skip_data_lines<true>(base, p, pe)
                                : skip_data_lines<false>(base, p, pe);
      if (!lf) return Next::error;
      fexec lf;
    }
  }

  # The LF of a reply line: close the line; an end line ends the reply.
  action reply_lf {
    {
      const std::size_t lf = static_cast<std::size_t>(p - base);
      std::size_t text_end = lf;
      if (!line_end(lf, text_end)) return Next::error;
      LineRec& rec = recs_.back();
      rec.text_len = text_end - rec.text_off;
      line_off_ = lf + 1;
      if (rec.sep == Sep::data) {
        data_off_ = line_off_;
        in_data_ = true;
        rec.lfs_begin = rec.lfs_end = nlfs_;
      } else if (rec.sep == Sep::end) {
        complete_ = true;
        fbreak;
      }
    }
  }

  action data_lf {
    {
      const std::size_t lf = static_cast<std::size_t>(p - base);
      std::size_t text_end = lf;
      if (!line_end(lf, text_end)) return Next::error;
      if (record_) record_lf(lf);
      line_off_ = lf + 1;
    }
  }

  action data_dot {
    recs_.back().lfs_end = nlfs_;
    recs_.back().data_off = data_off_;
    recs_.back().data_len = static_cast<std::size_t>(p - base) - data_off_;
  }

  action data_end {
    {
      const std::size_t lf = static_cast<std::size_t>(p - base);
      std::size_t text_end = lf;
      if (!line_end(lf, text_end)) return Next::error;
      line_off_ = lf + 1;
      in_data_ = false;
    }
  }

  text = ( ^'\n' $skip )*;

  # CmdData: lines up to a lone ".". A line starting with "." carries one
  # extra (stuffed) dot; ".\r\n" ends the block.
  data_line = ( ( ^[.\n] $skip_data | '.' ( ^[\r\n] $skip ) ) text )? '\n' @data_lf;
  data_block = data_line* ( '.' @data_dot ) '\r'? '\n' @data_end;

  code = ( digit @code0 ) ( digit @code1 ) ( digit @code2 );
  plain_line = code [\- ] @sep text '\n' @reply_lf;
  data_reply_line = code '+' @sep text '\n' @reply_lf data_block;

  main := ( plain_line | data_reply_line )*;
}%%

%% write data;

ReplyReader::Next ReplyReader::parse() {
  const char* const base = buf_.get() + begin_;  // the current reply's first byte
  const char* p = buf_.get() + parse_;
  const char* const pe = buf_.get() + end_;
  int cs = cs_;
  complete_ = false;

  %% write exec;

  cs_ = cs;
  parse_ = static_cast<std::size_t>(p - buf_.get());
  if (cs == reply_error) {
    const std::size_t at = static_cast<std::size_t>(p - base);
    const std::size_t col = at - line_off_;
    if (in_data_)
      return fail(Errc::bad_data_block, "malformed data block terminator (expected \".\\r\\n\")", at);
    if (col < 3)
      return fail(Errc::bad_status_code, "status code is not three digits", at);
    return fail(Errc::bad_separator, "expected '-', '+' or ' ' after the status code", at);
  }
  return complete_ ? Next::reply : Next::need_more;
}

ReplyReader::ReplyReader(ParserOptions opts)
    : opts_(opts), record_(opts.record_data_lines && opts.max_reply <= 0xFFFFFFFFu) {
  reset();
}
ReplyReader::~ReplyReader() = default;

void ReplyReader::reset() {
  begin_ = parse_ = end_ = 0;
  consumed_ = 0;
  cs_ = reply_en_main;
  code_ = 0;
  line_off_ = data_off_ = 0;
  in_data_ = complete_ = failed_ = false;
  recs_.clear();
  lines_.clear();
  nlfs_ = 0;
  error_ = Error{};
}

std::span<char> ReplyReader::prepare(std::size_t min_free) {
  if (begin_ == end_) {  // nothing pending: rewind for free
    begin_ = parse_ = end_ = 0;
  }
  if (cap_ - end_ < min_free) {
    const std::size_t pending = end_ - begin_;
    if (begin_ > 0 && cap_ - pending >= min_free) {
      // Compact: only the incomplete reply moves, and its positions are
      // offsets from begin_, so nothing else needs fixing.
      std::memmove(buf_.get(), buf_.get() + begin_, pending);
    } else {
      std::size_t cap = std::max<std::size_t>(cap_ ? cap_ * 2 : 64 * 1024, pending + min_free);
      auto grown = std::make_unique_for_overwrite<char[]>(cap);
      if (pending) std::memcpy(grown.get(), buf_.get() + begin_, pending);
      buf_ = std::move(grown);
      cap_ = cap;
    }
    parse_ -= begin_;
    end_ = pending;
    begin_ = 0;
  }
  return {buf_.get() + end_, cap_ - end_};
}

void ReplyReader::commit(std::size_t n) { end_ += std::min(n, cap_ - end_); }

void ReplyReader::feed(std::string_view bytes) {
  if (bytes.empty()) return;
  std::span<char> space = prepare(bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  commit(bytes.size());
}

ReplyReader::Next ReplyReader::fail(Errc code, std::string what, std::size_t reply_off) {
  failed_ = true;
  error_ = Error(code, std::move(what), consumed_ + reply_off);
  return Next::error;
}

// within_limits() failed. Both limits are stream positions: the line's is
// line_off_ + max_line, the reply's is max_reply. A line whose LF (or, while
// it is incomplete, whose last buffered byte + 1) reaches either fails, and
// the error names whichever position comes first, so the outcome cannot
// depend on how reads split the stream.
bool ReplyReader::limit_error() {
  const std::size_t line_limit =
      opts_.max_line > SIZE_MAX - line_off_ ? SIZE_MAX : line_off_ + opts_.max_line;
  if (line_limit < opts_.max_reply)
    fail(Errc::line_too_long,
         "line longer than max_line (" + std::to_string(opts_.max_line) + " bytes)", line_limit);
  else
    fail(Errc::reply_too_large,
         "reply larger than max_reply (" + std::to_string(opts_.max_reply) + " bytes)",
         opts_.max_reply);
  return false;
}

#if defined(__x86_64__)
namespace {

// skip_data_lines()'s block loop exists once per instruction set; the best
// one the CPU has is picked at run time. SSE2 (x86-64's baseline) first, so
// that a kSimd read before its initialiser ran (another static initialiser
// framing replies) is zero and picks the loop that always works.
enum class Simd { sse2, avx2, avx512 };

Simd detect_simd() {
  __builtin_cpu_init();  // may run before the constructor that would do it
  // LZCNT has no __builtin_cpu_supports() name in clang 14.
  unsigned a = 0, b = 0, c = 0, d = 0;
  const bool lzcnt = __get_cpuid(0x80000001, &a, &b, &c, &d) && (c & bit_LZCNT) != 0;
  Simd best = Simd::sse2;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && lzcnt) {
    best = Simd::avx2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vbmi2") && __builtin_cpu_supports("popcnt"))
      best = Simd::avx512;
  }
  // TORCON_REPLY_READER_SIMD=sse2 (or avx2) in the environment caps it, so
  // tests and fuzzers reach every loop on a machine that has more (ctest runs
  // reply_reader_test once per level).
  if (const char* cap = std::getenv("TORCON_REPLY_READER_SIMD")) {
    if (std::strcmp(cap, "sse2") == 0) best = Simd::sse2;
    else if (std::strcmp(cap, "avx2") == 0) best = std::min(best, Simd::avx2);
  }
  return best;
}

// Decided once (CPUID is slow): skip_data_lines() runs per data block.
const Simd kSimd = detect_simd();

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
// (64 for 0), and record() of a block's LFs at `rel` (its offset in the data
// block), which moves rel on to the next block.
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

}  // namespace

// skip_data_lines()'s block loop: 64 bytes at a time as LF, CR and '.'
// masks, so a run of lines costs a few instructions per 64 bytes instead of a
// memchr() call and a trip through the machine per line. One branch per
// block, taken only at a block with anything unusual, which is left to the
// exact loop from its first line on. Nothing branches on whether a block
// holds an LF: 38% of ns/all's hold none, unpredictably.
struct ReplyReader::Blocks {
  // Returns where the exact loop starts; line_off_ (and nlfs_) are up to date.
  // Always inlined, so that it is compiled for each instruction set below.
  template <class Isa, bool Record>
  [[gnu::always_inline]] static const char* scan(ReplyReader& r, const char* base, const char* p,
                                                 const char* pe) {
    // Offsets from base, in locals: members would be reloaded after every
    // SIMD store (those may alias anything).
    std::size_t at = std::size_t(p - base);
    std::size_t gap = at - r.line_off_;  // bytes of the current line before the block
    // A block runs when byte 64 exists (the look past its last byte) and its
    // LFs are all before max_reply: only its first line can break a limit,
    // and only max_line (max_line >= 64).
    const std::size_t end = std::min(std::size_t(pe - base) - 1, r.opts_.max_reply);
    const std::size_t max_line = r.opts_.max_line;
    const std::uint64_t strict = r.opts_.allow_bare_lf ? 0 : ~std::uint64_t(0);
    std::uint32_t* out = nullptr;
    typename Isa::Rel rel{};
    if constexpr (Record) {
      out = r.lfs_.data() + r.nlfs_;
      Isa::start(rel, std::uint32_t(at - r.data_off_));
    }
    std::uint64_t prev_cr = 0;  // bit 0: the byte before the block is a CR
    while (true) {
      // Prefetch kAhead on while that is before `end`, then the block itself.
      std::size_t stop = end, ahead = 0;
      if (at + 64 + kAhead <= end) stop = end - kAhead, ahead = kAhead;
      if constexpr (Record) {
        // As many blocks as lfs_ has room for (each writes at most 64
        // slots), so the loop checks none.
        if (std::size_t(r.lfs_.data() + r.lfs_.size() - out) < 64) {
          r.nlfs_ = std::size_t(out - r.lfs_.data());
          r.grow_lfs();
          out = r.lfs_.data() + r.nlfs_;
        }
        stop = std::min(stop, at + std::size_t(r.lfs_.data() + r.lfs_.size() - out) / 64 * 64);
      }
      const char* const pf = base + ahead;
      for (; at + 64 <= stop; at += 64) {
        __builtin_prefetch(pf + at);
        const BlockMasks m = Isa::masks(base + at);
        // Bit i: byte i + 1 is '.' or LF. Byte 64 is looked up alone rather
        // than loaded again with its 63 predecessors.
        const std::uint64_t next =
            (m.lf | m.dot) >> 1 | std::uint64_t(kMachineLine[std::uint8_t(base[at + 64])]) << 63;
        const std::uint64_t bare = ~(m.cr << 1 | prev_cr) & strict;
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
    const std::size_t line = at - gap;
    r.line_off_ = line;
    if constexpr (Record) r.nlfs_ = std::size_t(out - r.lfs_.data());
    return std::max(p, base + line);
  }

  template <bool Record>
  static const char* run(ReplyReader& r, const char* base, const char* p, const char* pe) {
    switch (kSimd) {
      case Simd::avx512: return avx512<Record>(r, base, p, pe);
      case Simd::avx2: return avx2<Record>(r, base, p, pe);
      case Simd::sse2: break;
    }
    return scan<Sse2, Record>(r, base, p, pe);
  }
  template <bool Record>
  TORCON_TARGET_AVX2 static const char* avx2(ReplyReader& r, const char* base, const char* p,
                                             const char* pe) {
    return scan<Avx2, Record>(r, base, p, pe);
  }
  template <bool Record>
  TORCON_TARGET_AVX512 static const char* avx512(ReplyReader& r, const char* base, const char* p,
                                                 const char* pe) {
    return scan<Avx512, Record>(r, base, p, pe);
  }
};
#undef TORCON_TARGET_AVX2
#undef TORCON_TARGET_AVX512
#endif

std::string_view ReplyReader::simd_level() noexcept {
#if defined(__x86_64__)
  switch (kSimd) {
    case Simd::avx512: return "avx512";
    case Simd::avx2: return "avx2";
    case Simd::sse2: return "sse2";
  }
#endif
  return "scalar";
}

// At the first byte of an ordinary data line (not "."): jumps over the run
// of ordinary lines that follows, checking each as line_end() would, and
// returns the LF of the last one (or pe when its LF has not arrived), with
// line_off_ on that line's start; nullptr after a limit error. The machine
// then handles only the line before something it must look at: a leading
// ".", an empty line, a bare LF, the end of the input.
//
// On x86-64 the block loop above takes the bulk, and the exact loop below
// goes on from where it stopped.
template <bool Record>
const char* ReplyReader::skip_data_lines(const char* base, const char* p, const char* pe) {
#if defined(__x86_64__)
  if (opts_.max_line >= 64) p = Blocks::run<Record>(*this, base, p, pe);  // see scan()
#endif
  while (true) {
    const char* lf = static_cast<const char*>(std::memchr(p, '\n', std::size_t(pe - p)));
    if (!within_limits(std::size_t((lf ? lf : pe) - base))) return nullptr;
    if (!lf) return pe;
    if (lf + 1 >= pe || lf[1] == '.' || lf[1] == '\n') return lf;
    // A bare LF is line_end()'s to refuse: leave that line to the machine.
    if (!opts_.allow_bare_lf && (lf == base + line_off_ || lf[-1] != '\r')) return lf;
    if constexpr (Record) record_lf(std::size_t(lf - base));
    line_off_ = std::size_t(lf + 1 - base);
    p = lf + 1;
  }
}

void ReplyReader::grow_lfs() { lfs_.resize(std::max<std::size_t>(4096, lfs_.size() * 2)); }

bool ReplyReader::line_end(std::size_t lf, std::size_t& text_end) {
  const char* base = buf_.get() + begin_;
  if (!within_limits(lf)) return false;
  if (lf > line_off_ && base[lf - 1] == '\r') {
    text_end = lf - 1;
    return true;
  }
  if (!opts_.allow_bare_lf) {
    fail(Errc::bare_lf, "line ends in LF without CR (enable ParserOptions::allow_bare_lf to accept)",
         lf);
    return false;
  }
  text_end = lf;
  return true;
}

void ReplyReader::emit(Reply& out) {
  const char* base = buf_.get() + begin_;
  const std::size_t len = parse_ - begin_;
  lines_.clear();
  for (const LineRec& r : recs_) {
    lines_.push_back(ReplyLine{r.code, r.sep, std::string_view(base + r.text_off, r.text_len),
                               std::string_view(base + r.data_off, r.data_len),
                               std::span<const std::uint32_t>(lfs_.data() + r.lfs_begin,
                                                              r.lfs_end - r.lfs_begin)});
  }
  out.code = recs_.front().code;
  out.lines = std::span<const ReplyLine>(lines_);
  out.raw = std::string_view(base, len);
  out.offset = consumed_;
  consumed_ += len;
  begin_ = parse_;
  recs_.clear();
  line_off_ = 0;
}

ReplyReader::Next ReplyReader::next(Reply& out) {
  if (failed_) return Next::error;
  // The previous reply's LFs are no longer viewed; none of the current
  // reply's exist before its first line is open.
  if (recs_.empty()) nlfs_ = 0;
  if (parse_ == end_) return Next::need_more;
  Next r = parse();
  if (r == Next::reply) emit(out);
  return r;
}

}  // namespace torcon
