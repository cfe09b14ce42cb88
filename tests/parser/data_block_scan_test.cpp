// skip_data_blocks() (parser/data_block_scan.hpp), at every level the CPU
// supports, against a byte-at-a-time model of its contract: the blocks from
// p on are skipped while every LF in them ends an ordinary line (shorter than
// max_line, CRLF unless bare LFs are allowed, not followed by "." or an empty
// line) and no line runs to max_line; the first other block stops it. Inputs
// end right before a PROT_NONE page, so a read past `limit` crashes.

#include "data_block_scan.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "parser/guarded_buffer.hpp"

namespace torcon {
namespace detail {
// gtest names a level's cases by the level, not its byte.
static void PrintTo(DataScanLevel level, std::ostream* os) { *os << to_string(level); }
}  // namespace detail
namespace {

using detail::DataLineRules;
using detail::DataScanLevel;
using detail::LfList;
using test::GuardedBuffer;

constexpr DataScanLevel kLevels[] = {DataScanLevel::sse2, DataScanLevel::avx2,
                                     DataScanLevel::avx512};

// What a scan did, as offsets into its input.
struct Outcome {
  std::size_t resume = 0;  // where the exact scan goes on
  std::size_t line = 0;    // the start of the line it is in
  std::vector<std::uint32_t> lfs;
  bool full = false;
  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  os << "{resume " << o.resume << ", line " << o.line << ", " << o.lfs.size() << " LFs"
     << (o.full ? ", full" : "") << "}";
  return os;
}

struct Scan {
  std::size_t p = 0;             // where the scan starts
  std::size_t line = 0;          // the start of the line p is in
  std::size_t limit = SIZE_MAX;  // offset of `limit`; SIZE_MAX: the input's last byte
  DataLineRules rules{1u << 20, false};
  bool record = false;
  std::size_t room = 1u << 16;  // LF slots when recording
};

// The contract, a byte at a time.
Outcome model(std::string_view s, const Scan& c) {
  const std::size_t limit = c.limit == SIZE_MAX ? s.size() - 1 : c.limit;
  Outcome o;
  std::size_t line = c.line, q = c.p;
  if (c.rules.max_line >= 64) {
    for (; q + 64 <= limit; q += 64) {
      // A block may write 64 slots (only its LFs count).
      if (c.record && c.room - o.lfs.size() < 64) {
        o.full = true;
        break;
      }
      std::size_t l = line;
      std::vector<std::uint32_t> lfs;
      bool stop = false;
      for (std::size_t i = q; i < q + 64 && !stop; ++i) {
        if (s[i] != '\n') continue;
        const bool crlf = i > l && s[i - 1] == '\r';
        stop = s[i + 1] == '.' || s[i + 1] == '\n' || (!crlf && !c.rules.allow_bare_lf) ||
               i - l >= c.rules.max_line;
        lfs.push_back(std::uint32_t(i));
        l = i + 1;
      }
      if (stop || q + 64 - l >= c.rules.max_line) break;
      line = l;
      o.lfs.insert(o.lfs.end(), lfs.begin(), lfs.end());
    }
  }
  o.line = line;
  o.resume = o.full ? q : std::max(c.p, line);
  if (!c.record) o.lfs.clear();
  return o;
}

// The real thing at `level`, on `s` placed before the guard page.
Outcome run(DataScanLevel level, std::string_view s, const Scan& c) {
  static GuardedBuffer guarded;
  const std::string_view in = guarded.place(s);
  const char* const base = in.data();
  const char* line = base + c.line;
  std::vector<std::uint32_t> slots(c.room);
  LfList lfs{slots.data(), slots.data() + slots.size(), base};
  const char* const limit = base + (c.limit == SIZE_MAX ? s.size() - 1 : c.limit);
  const char* resume = detail::skip_data_blocks_at(level, base + c.p, limit, line, c.rules,
                                                   c.record ? &lfs : nullptr);
  Outcome o;
  o.resume = std::size_t(resume - base);
  o.line = std::size_t(line - base);
  o.lfs.assign(slots.data(), lfs.next);
  o.full = lfs.full;
  return o;
}

// Lines of `n` bytes each, CRLF-ended, none starting with '.'.
std::string lines(std::size_t count, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < count; ++i) s += std::string(n - 2, char('a' + i % 26)) + "\r\n";
  return s;
}

class DataBlockScan : public ::testing::TestWithParam<DataScanLevel> {
 protected:
  void SetUp() override {
    if (!detail::cpu_supports(GetParam()))
      GTEST_SKIP() << "this CPU has no " << detail::to_string(GetParam());
  }
  // The level's outcome, checked against the model, for the tests to check
  // further.
  Outcome check(std::string_view s, const Scan& c) {
    const Outcome got = run(GetParam(), s, c), want = model(s, c);
    EXPECT_EQ(got, want);
    return got;
  }
};

TEST_P(DataBlockScan, OrdinaryLinesAreSkippedUpToTheLastWholeBlock) {
  const std::string s = lines(40, 32) + "x";  // 1281 bytes
  const Outcome o = check(s, {.record = true});
  // Blocks up to byte 1280 (the last byte is only ever looked at): 20 blocks.
  EXPECT_EQ(o.resume, 1280u);
  EXPECT_EQ(o.lfs.size(), 40u);
  EXPECT_EQ(o.lfs.front(), 31u);
}

TEST_P(DataBlockScan, EachReasonToStopStopsAtItsBlock) {
  // 32-byte lines up to `at`, the odd line, 32-byte lines again. A "." or an
  // LF at a line's start is seen from the LF before it, so the block holding
  // that LF stops the scan; a bare LF stops its own block.
  struct Case {
    const char* what;
    std::size_t at;  // where the odd line starts (a multiple of 32)
    std::string line;
    std::size_t resume;
  };
  const Case cases[] = {
      {"a dot line", 320, ".stuffed\r\n", 256},
      {"a dot line mid-block", 352, ".x\r\n", 320},
      {"an empty line of a bare LF", 320, "\n", 256},
      {"an empty CRLF line (ordinary)", 320, "\r\n", 1250},
      {"a bare LF", 320, "bare\n", 320},
      {"a CR not before the LF", 320, "x\r y\n", 320},
      {"a dot line after a block", 256, ".x\r\n", 192},
      {"a bare LF after a block", 256, "\n", 192},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string s = lines(c.at / 32, 32) + c.line + lines(30, 32);
    EXPECT_EQ(check(s, {}).resume, c.resume);
  }
}

TEST_P(DataBlockScan, BareLfsPassWhenAllowed) {
  std::string s;
  for (int i = 0; i < 60; ++i) s += "line " + std::to_string(i) + "\n";
  s += "x";
  const Outcome strict = check(s, {.record = true});
  EXPECT_EQ(strict.resume, 0u);
  const Outcome lenient = check(s, {.rules = {1u << 20, true}, .record = true});
  EXPECT_GT(lenient.resume, s.size() - 128);
  EXPECT_FALSE(lenient.lfs.empty());
}

TEST_P(DataBlockScan, LineLimitStopsTheBlockItIsReachedIn) {
  const std::string s = lines(4, 32) + std::string(300, 'l') + "\r\n" + lines(20, 32);
  // The long line starts at 128; with max_line 200 it reaches the limit at
  // 328, in the block [320, 384).
  const Outcome o = check(s, {.rules = {200, false}});
  EXPECT_EQ(o.resume, 128u);
  EXPECT_EQ(o.line, 128u);
  // Long enough, it passes.
  const Outcome ok = check(s, {.rules = {303, false}});
  EXPECT_GT(ok.resume, 430u);
}

TEST_P(DataBlockScan, NothingIsSkippedWithoutAWholeBlockOrWithATinyMaxLine) {
  const std::string s = lines(10, 32);
  EXPECT_EQ(check(s, {.limit = 63}).resume, 0u);
  EXPECT_EQ(check(s, {.limit = 64}).resume, 64u);
  EXPECT_EQ(check(s, {.rules = {63, false}}).resume, 0u);
}

TEST_P(DataBlockScan, StartsMidLine) {
  const std::string s = "abc" + lines(30, 32);
  // p mid-line: the line's start stays where it was until an LF is passed,
  // and a CR just before p counts for an LF right at p.
  // 14 blocks from 3, to 899, where a line starts (35 + 27 * 32).
  EXPECT_EQ(check(s, {.p = 3, .line = 0, .record = true}).line, 899u);
  const std::string cr = "ab\r\n" + lines(30, 32);
  const Outcome o = check(cr, {.p = 3, .line = 0, .record = true});
  ASSERT_FALSE(o.lfs.empty());
  EXPECT_EQ(o.lfs.front(), 3u);
}

TEST_P(DataBlockScan, FullLfListStopsAndTheNextCallGoesOn) {
  const std::string s = lines(100, 16) + "x";  // 4 LFs per block
  const Outcome once = check(s, {.record = true});
  // Room for 100 slots: a block needs 64 free, so 10 blocks (40 LFs) fit.
  const Outcome part = check(s, {.record = true, .room = 100});
  EXPECT_TRUE(part.full);
  EXPECT_EQ(part.resume, 640u);
  EXPECT_EQ(part.lfs.size(), 40u);
  const Outcome rest = check(s, {.p = part.resume, .line = part.line, .record = true});
  std::vector<std::uint32_t> both = part.lfs;
  both.insert(both.end(), rest.lfs.begin(), rest.lfs.end());
  EXPECT_EQ(both, once.lfs);
  EXPECT_EQ(rest.resume, once.resume);
}

// The list fills up in a long line: the call stops at a block inside it and
// the next goes on from that block, not from the line's start (which would
// never end).
TEST_P(DataBlockScan, FullLfListInALongLineStillMovesOn) {
  // Three 16-byte lines, then a 1000-byte line from byte 48.
  const std::string s = lines(3, 16) + std::string(1000, 'l') + "\r\n" + lines(30, 32);
  const Outcome once = check(s, {.record = true});
  Scan c{.record = true, .room = 66};
  std::vector<std::uint32_t> lfs;
  Outcome o;
  for (int calls = 0; calls < 100; ++calls) {
    o = check(s, c);
    lfs.insert(lfs.end(), o.lfs.begin(), o.lfs.end());
    if (!o.full) break;
    EXPECT_GE(o.resume, c.p + 64);
    EXPECT_EQ((o.resume - c.p) % 64, 0u);
    c.p = o.resume;
    c.line = o.line;
  }
  EXPECT_FALSE(o.full);
  EXPECT_EQ(o.resume, once.resume);
  EXPECT_EQ(lfs, once.lfs);
}

// Random line soups: mostly ordinary lines, some of every kind that stops
// the scan, all levels against the model.
TEST_P(DataBlockScan, RandomInputsMatchTheModel) {
  std::mt19937 rng(20240611);
  auto pick = [&](std::size_t n) { return std::size_t(rng() % n); };
  for (int round = 0; round < 3000; ++round) {
    std::string s;
    const std::size_t target = 64 + pick(2000);
    const int odd_every = 5 + int(pick(200));
    while (s.size() < target) {
      std::string l(pick(5) == 0 ? pick(200) : pick(40), 'a');
      for (char& c : l) c = char('0' + pick(40));
      switch (pick(std::size_t(odd_every))) {
        case 0: s += "." + l + "\r\n"; break;
        case 1: s += l + "\n"; break;
        case 2: s += "\r\n"; break;
        case 3: s += l + "\r" + l + "\r\n"; break;
        default: s += (l.empty() ? "x" : l) + "\r\n"; break;
      }
    }
    Scan c;
    c.rules = {pick(3) == 0 ? 32 + pick(200) : std::size_t(1) << 20, pick(4) == 0};
    c.record = pick(2) == 0;
    if (pick(4) == 0) c.limit = pick(s.size());
    if (pick(4) == 0) c.room = 64 * (1 + pick(10)) + pick(64);
    // Start at a line start, as ReplyReader does, or anywhere in a line.
    c.p = pick(s.size() / 2);
    c.line = c.p;
    while (c.line > 0 && s[c.line - 1] != '\n') --c.line;
    if (pick(2) == 0) c.p = c.line;
    SCOPED_TRACE("round " + std::to_string(round));
    check(s, c);
    if (HasFailure()) return;
  }
}

// The levels agree with each other too (the model aside): the same outcome
// on the same input.
TEST(DataBlockScanLevels, SupportedLevelsAgree) {
  std::string s;
  for (int i = 0; i < 100; ++i) s += "r relay" + std::to_string(i) + " AAAA BBBB\r\ns Fast\r\n";
  s += ".\r\n";
  Outcome first;
  bool have = false;
  for (DataScanLevel level : kLevels) {
    if (!detail::cpu_supports(level)) continue;
    const Outcome o = run(level, s, {.record = true});
    if (have) {
      EXPECT_EQ(o, first) << detail::to_string(level);
    }
    first = o;
    have = true;
  }
  ASSERT_TRUE(have);
  EXPECT_GT(first.lfs.size(), 150u);
}

INSTANTIATE_TEST_SUITE_P(Levels, DataBlockScan, ::testing::ValuesIn(kLevels), [](const auto& info) {
  return std::string(detail::to_string(info.param));
});

}  // namespace
}  // namespace torcon
