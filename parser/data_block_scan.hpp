// The bulk of a data block, 64 bytes at a time (internal to the parser).
//
// Most of a large reply (GETINFO ns/all: ~4 MiB, ~56k lines) is data-block
// lines that the framing machine need not look at: lines that end in CRLF and
// are followed by a line that starts with neither "." nor LF.
// skip_data_blocks() passes over whole 64-byte blocks of such lines, seeing
// each block as LF, CR and '.' masks, so a run of lines costs a few
// instructions per 64 bytes instead of a memchr() call and a trip through the
// machine per line. It stops at the first block holding anything the machine
// (or ReplyReader's exact line loop) must look at, and leaves that block to
// them.
//
// The loop exists once per instruction set (SSE2, x86-64's baseline; AVX2;
// AVX-512), the best the CPU has chosen at run time. Elsewhere than x86-64
// it skips nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace torcon::detail {

enum class DataScanLevel : std::uint8_t { scalar, sse2, avx2, avx512 };

// "scalar", "sse2", "avx2" or "avx512".
std::string_view to_string(DataScanLevel level) noexcept;

// Whether this CPU (and build) can run the loop of `level`; scalar always.
bool cpu_supports(DataScanLevel level) noexcept;

// The level skip_data_blocks() uses, decided once: the best the CPU has,
// unless the environment variable TORCON_REPLY_READER_SIMD=sse2|avx2 caps it
// (so that tests and fuzzers reach every loop on a machine that has more;
// ctest runs the framing tests once per level).
DataScanLevel data_scan_level() noexcept;

// The rules a skipped line must follow, from ParserOptions.
struct DataLineRules {
  std::size_t max_line;  // longest line, counting its CRLF
  bool allow_bare_lf;    // an LF without CR before it is ordinary too
};

// Where a recording scan puts the LFs it passes: their offsets from `origin`
// (the data block's first byte), from `next` on, never past `end`.
struct LfList {
  std::uint32_t* next;  // in/out
  std::uint32_t* end;
  const char* origin;
  bool full = false;  // out: the scan stopped because fewer than 64 slots were left
};

// Skips the 64-byte blocks from `p` on in which every LF ends an ordinary
// line: a line shorter than rules.max_line, ended by CRLF (unless
// rules.allow_bare_lf), and followed by a byte that is neither '.' nor LF.
//
// `line` (in/out) is the first byte of the line `p` is in (p itself at the
// start of a line). A block [q, q + 64) is looked at only when q + 64 <=
// `limit`: the byte at q + 64 is read too (the next line's first byte), so
// `limit` must be before the end of the readable bytes; and no LF is passed
// at or after `limit` (so a caller's limit on the reply's size holds).
//
// Returns where an exact line-by-line scan goes on: the start of the line
// the first unskipped block is in (or `p`, if that is later), with `line` set
// to that line's start. When `lfs` is given, the offset of every LF skipped
// is appended to it; each block takes up to 64 slots, so the scan stops
// (lfs->full) when fewer than 64 are left and returns the block it stopped
// at: make room and call again from there, with `line` as it was left.
const char* skip_data_blocks(const char* p, const char* limit, const char*& line,
                             const DataLineRules& rules, LfList* lfs = nullptr) noexcept;

// skip_data_blocks() with the loop of `level` (which the CPU must support):
// for tests, which compare the levels with each other.
const char* skip_data_blocks_at(DataScanLevel level, const char* p, const char* limit,
                                const char*& line, const DataLineRules& rules,
                                LfList* lfs = nullptr) noexcept;

}  // namespace torcon::detail
