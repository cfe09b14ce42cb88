// RouterEntryReader's pass and RouterEntry's decoders.
//
// What the pass decodes is cheap: identity ~20-30 ns per entry (the nickname
// found with SSE2, 27 base64 characters by table), flags ~5-10 ns, as a
// network has a few dozen distinct "s" lines and those seen before come from
// a cache (detail::FlagsCache, for texts over 16 KiB). bench/parser_bench
// measures the whole pass (BM_RouterEntriesOnly and the BM_NsAllToRouterEntries
// family).

#include "torcon/router_entry.hpp"

#include <cstring>
#include <string>
#include <utility>

#include "router_status_fast.hpp"

namespace torcon {

using namespace detail;

namespace {

// Set bits of x. SWAR: x86-64 without -mpopcnt makes __builtin_popcountll a
// libgcc call.
inline std::uint32_t bit_count(std::uint64_t x) {
  x -= x >> 1 & 0x5555555555555555u;
  x = (x & 0x3333333333333333u) + (x >> 2 & 0x3333333333333333u);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fu;
  return std::uint32_t(x * 0x0101010101010101u >> 56);
}

// How far ahead next() prefetches: ~8 lines of router status text.
constexpr std::size_t kAhead = 2048;

// The one-letter keywords next() stores a view of: its common lines.
constexpr struct CommonKeyword {
  bool v[256] = {};
  constexpr CommonKeyword() {
    for (const char c : {'s', 'a', 'w', 'v', 'p', 'm'}) v[std::uint8_t(c)] = true;
  }
  constexpr bool operator[](std::uint8_t c) const { return v[c]; }
} kCommonKeyword;

}  // namespace

RouterEntryReader::RouterEntryReader(std::string_view text) : text_(text) {
  if (text.size() >= RouterEntry::kNone) fail(0, "text too large for 32-bit offsets");
  if (text.size() >= kCacheFrom) flags_cache_ = std::make_unique<FlagsCache>();
}
RouterEntryReader::~RouterEntryReader() = default;
RouterEntryReader::RouterEntryReader(RouterEntryReader&&) noexcept = default;
RouterEntryReader& RouterEntryReader::operator=(RouterEntryReader&&) noexcept = default;

RouterEntryReader::RouterEntryReader(std::string_view text,
                                     std::span<const std::uint32_t> line_ends)
    : RouterEntryReader(text) {
  if (line_ends.empty() || error_.code != Errc::ok) return;
  // All of the text counts as scanned: refill() then only ends the last line
  // (one without an LF) at the text's end.
  ext_ = line_ends.data();
  ext_count_ = std::uint32_t(line_ends.size());
  lf_count_ = valid_line_ends(line_ends, text.size());
  scan_ = text.size();
}

// Given offsets are not trusted: each must end a line inside the text, after
// the one before. Checked here for all of them at once (a loop the compiler
// vectorizes) rather than per line in next(), which takes the valid prefix
// without a test and fails at the first offset past it, as it did when it
// tested each.
std::uint32_t RouterEntryReader::valid_line_ends(std::span<const std::uint32_t> ends,
                                                 std::size_t n) {
  const std::size_t count = ends.size();
  unsigned bad = ends[count - 1] >= n;
  for (std::size_t i = 1; i < count; ++i) bad |= unsigned(ends[i] <= ends[i - 1]);
  if (!bad) return std::uint32_t(count);
  std::size_t i = 0;
  while (ends[i] < n && (i == 0 || ends[i] > ends[i - 1])) ++i;
  return std::uint32_t(i);
}

// Inline: next() takes every line end from here.
inline std::size_t RouterEntryReader::next_lf() {
  if (lf_idx_ < lf_count_) [[likely]]
    return (ext_ ? ext_ : lf_buf_)[lf_idx_++];
  return refill();
}

// The LFs of the next chunk (kChunk bytes) into lf_buf_. Whole 64-byte blocks:
// four SSE2 compares against '\n' and movemasks give a 64-bit mask, whose set
// bits are written out 8 at a time without a branch per bit (a block of
// router status text holds 0-3 LFs; more loop again). The rest byte by byte,
// so nothing past the text is read. Chunks without any LF are skipped.
std::size_t RouterEntryReader::refill() {
  if (ext_) {  // the given LFs are used up: the rest is one line
    lf_idx_ = lf_count_;
    return text_.size();
  }
  const char* const base = text_.data();
  const std::size_t n = text_.size();
  while (scan_ < n) {
    const std::size_t stop = n - scan_ > kChunk ? scan_ + kChunk : n;
    std::uint32_t cnt = 0;
    std::size_t q = scan_;
#if defined(__SSE2__)
    const __m128i nl = _mm_set1_epi8('\n');
    for (; stop - q >= 64; q += 64) {
      const auto m = [&](int k) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(base + q + 16 * k));
        return std::uint64_t(unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl))));
      };
      std::uint64_t mask = m(0) | m(1) << 16 | m(2) << 32 | m(3) << 48;
      const auto at = std::uint32_t(q);
      const auto c = bit_count(mask);
      std::uint32_t* out = lf_buf_ + cnt;
      cnt += c;
      // ctz of a zero mask is undefined: the top bit stands in (the slot is
      // beyond cnt and will be overwritten or never read).
      while (true) {
        for (int k = 0; k < 4; ++k) {
          *out++ = at + std::uint32_t(__builtin_ctzll(mask | std::uint64_t(1) << 63));
          mask &= mask - 1;
        }
        if (!mask) break;
      }
    }
#endif
    for (; q < stop; ++q)
      if (base[q] == '\n') lf_buf_[cnt++] = std::uint32_t(q);
    scan_ = stop;
    if (cnt) {
      lf_count_ = cnt;
      lf_idx_ = 1;
      return lf_buf_[0];
    }
  }
  lf_idx_ = lf_count_ = 0;
  return n;
}

bool RouterEntryReader::fail(std::size_t off, const char* what) {
  error_ = Error(Errc::bad_router_status, what, off);
  pos_ = text_.size();
  pend_ = false;
  return false;
}

bool RouterEntryReader::next(RouterEntry& out) {
  if (error_.code != Errc::ok) return false;
  const char* const base = text_.data();
  const std::size_t n = text_.size();
  bool have_r = false;
  std::size_t entry_end = 0;
  out.base_ = base;
  out.text_len_ = std::uint32_t(n);
  // The scan position in locals for the loop (the stores to `out` could
  // alias the members); every return path stores them back.
  std::size_t pos = pos_;
  std::uint32_t idx = lf_idx_, cnt = lf_count_;
  const std::uint32_t* const lfs = ext_ ? ext_ : lf_buf_;
  struct Save {
    RouterEntryReader& r;
    std::size_t& pos;
    std::uint32_t& idx;
    ~Save() {
      if (r.error_.code != Errc::ok) return;  // fail() set the final state
      r.pos_ = pos;
      r.lf_idx_ = idx;
    }
  } save{*this, pos, idx};
  // A line's keyword fields ("s", "a", "w", "v", "p", "m") into `out`; false
  // if it failed. Shared by the common-line loop and the general one.
  const auto keyword_line = [&](char k0, std::size_t line_start, std::uint32_t lo, std::uint32_t le,
                                RouterEntry::Span rest) __attribute__((always_inline))
                                ->bool {
    // s and w (every entry has them) before the jump table: fewer
    // instructions than its dispatch.
    if (k0 == 's') {
      out.s_ = rest;
      const char* const t = base + rest.off;
      const std::size_t tl = rest.end - rest.off;
      out.flags_ = flags_cache_ ? flags_cache_->get(t, tl, base + n, out.unknown_flags_)
                                : decode_flags(t, tl, base + n, out.unknown_flags_);
      return true;
    }
    if (k0 == 'w') {
      out.multi_w_ = out.w_.off != RouterEntry::kNone;
      out.w_ = rest;
      out.w_line_ = std::uint32_t(line_start);
      return true;
    }
    switch (k0) {
      case 'a':
        if (out.a_.off == RouterEntry::kNone) {
          out.a_.off = lo;
          out.a_first_ = rest;
        }
        out.a_.end = le;
        break;
      case 'v': out.v_ = rest; break;
      case 'p': out.p_ = rest; break;
      case 'm':
        switch (classify_m_line({base + rest.off, rest.end - rest.off})) {
          case MLine::kDigest: out.m_ = rest; break;
          case MLine::kVote: break;
          case MLine::kBad: return fail(line_start, kBadMicrodescDigest);
        }
        break;
      default: break;
    }
    return true;
  };
  // The r line that starts the entry: its fields into `out` (the others
  // cleared), nickname and identity decoded; false if it failed.
  const auto begin_entry = [&](std::size_t line_start, std::uint32_t lo, std::uint32_t le,
                               std::size_t len) __attribute__((always_inline))
                               ->bool {
    out.entry_off_ = std::uint32_t(line_start);
    out.r_line_ = std::uint32_t(line_start);
    out.r_ = {len > 1 ? lo + 2 : le, le};
    out.a_ = out.a_first_ = out.s_ = out.v_ = out.pr_ = out.p_ = out.m_ = out.w_ = {};
    out.flags_ = {};
    out.unknown_flags_ = false;
    out.multi_w_ = false;
    // Nickname and identity, decoded here: the rest of the line waits.
    const char* const e = base + le;
    const char* const p = base + out.r_.off;
    const char* nick_end = nick_end_fast(p, e, base + n);
    if (!nick_end) {
      nick_end = p;
      const char* const nick_max = e - p > 19 ? p + 19 : e;
      while (nick_end < nick_max && kNick.v[std::uint8_t(*nick_end)]) ++nick_end;
      if (nick_end == p || nick_end == e || *nick_end != ' ') {
        // Not "nick SP": RouterStatusReader rejects such a line too.
        const std::size_t sp = std::string_view(p, std::size_t(e - p)).find(' ');
        const std::size_t nl = sp == std::string_view::npos ? std::size_t(e - p) : sp;
        return fail(line_start, nl == 0 || nl > 19 ? "nickname must be 1-19 characters"
                                : sp == std::string_view::npos
                                    ? "r line needs 7 or 8 fields, has 1"
                                    : "nickname has a non-alphanumeric byte");
      }
    }
    out.nick_off_ = out.r_.off;
    out.nick_len_ = std::uint8_t(nick_end - p);
    const char* const f = nick_end + 1;
    bool ok;
    if (e - f > 27 && f[27] == ' ') {
      ok = decode27_fast(f, base + n, out.identity_.data());
    } else {
      const void* sp = std::memchr(f, ' ', std::size_t(e - f));
      const char* fe = sp ? static_cast<const char*>(sp) : e;
      ok = decode_digest_fast({f, std::size_t(fe - f)}, out.identity_);
    }
    if (!ok) return fail(line_start, "identity is not 27 base64 characters");
    return true;
  };
  // The r line the previous call stopped at, in a local too: a member would
  // be loaded again on every line.
  bool pending = pend_;
  pend_ = false;
  // Usually that line, found by the line loop below, is "r " undotted: the
  // entry starts with the tests such a line needs (its first two bytes are
  // readable as its LF, or the text's end, lies 2 or more bytes on; a CR
  // before that is the line end's, as in the general path). Any other kind
  // is left to the general path.
  if (pending && pend_lf_ - pos >= 2 && base[pos] == 'r' && base[pos + 1] == ' ') {
    pending = false;
    const std::size_t lf = pend_lf_;
    const std::size_t len = lf - pos - std::size_t(base[lf - 1] == '\r');
    const auto lo = std::uint32_t(pos);
    if (!begin_entry(pos, lo, std::uint32_t(pos + len), len)) return false;
    have_r = true;
    pos = entry_end = lf < n ? lf + 1 : n;
  }
  while (pos < n) {
    // Inside an entry (so nothing is pending), the common line first: one of
    // the keywords above and a space, not dot-stuffed, its LF among the
    // recorded ones. Its tests are those the general path below makes, in an
    // order that needs fewer of them: the keyword byte is readable (pos <= LF),
    // and as it is not an LF the next byte is too (at most the LF); a space
    // there means at least 2 bytes before the LF, so a CR before it is the
    // line end's. The next entry's "r " line ends the entry here too.
    // Anything else (pr, an empty or dot-stuffed line, an unknown keyword,
    // the last line without an LF, a refill) leaves to the general path.
    if (have_r) {
      const std::size_t from = pos;
      const std::uint32_t* at = lfs + idx;
      const std::uint32_t* const at_end = lfs + cnt;
      for (; at < at_end; ++at) {
        const std::size_t lf = *at;
        const char* const lp = base + pos;
        const char k0 = lp[0];
        if (!kCommonKeyword[std::uint8_t(k0)] || lp[1] != ' ') [[unlikely]] {
          // The next entry's r line (as the general path finds it below, so
          // that it needs no second look there): keep its LF for the next call.
          if (k0 == 'r' && lp[1] == ' ') {
            pend_ = true;
            pend_lf_ = lf;
            idx = std::uint32_t(at - lfs) + 1;
            if (pos != from) entry_end = pos;
            goto entry_done;
          }
          break;
        }
        __builtin_prefetch(reinterpret_cast<const void*>(std::uintptr_t(lp) + kAhead));
        const auto lo = std::uint32_t(pos);
        const auto le = std::uint32_t(lf - std::size_t(base[lf - 1] == '\r'));
        if (!keyword_line(k0, pos, lo, le, {lo + 2, le})) return false;
        pos = lf + 1;
      }
      idx = std::uint32_t(at - lfs);
      if (pos != from) entry_end = pos;
      if (pos >= n) break;
    }
    const std::size_t line_start = pos;
    std::size_t lf;
    if (pending) {
      lf = pend_lf_;
      pending = false;
    } else if (idx < cnt) [[likely]] {
      lf = lfs[idx++];
    } else if (ext_ && idx < ext_count_) {  // past the valid ones (valid_line_ends)
      return fail(line_start, "line_ends do not match the text");
    } else {
      lf = refill();
      idx = lf_idx_;
      cnt = lf_count_;
    }
    const std::size_t next_pos = lf < n ? lf + 1 : n;
    // The text is usually out of cache by now (framed as a whole before this
    // pass): fetch a few lines ahead so the line-end loads do not stall. An
    // address, not a pointer, as it may lie past the text (prefetches never
    // fault).
    __builtin_prefetch(reinterpret_cast<const void*>(std::uintptr_t(base) + line_start + kAhead));
    const char* lp = base + line_start;
    std::size_t len = lf - line_start;
    if (len && lp[len - 1] == '\r') --len;
    if (len && lp[0] == '.') ++lp, --len;  // dot-stuffing
    if (len == 0) {
      pos = next_pos;
      continue;
    }
    const char k0 = lp[0];
    const bool kw1 = len == 1 || lp[1] == ' ';
    const std::uint32_t lo = std::uint32_t(lp - base);
    const std::uint32_t le = std::uint32_t(lo + len);
    if (kw1 && k0 == 'r') {
      if (have_r) {  // the next entry starts here: keep its LF for the next call
        pend_ = true;
        pend_lf_ = lf;
        break;
      }
      if (!begin_entry(line_start, lo, le, len)) return false;
      have_r = true;
      pos = entry_end = next_pos;
      continue;
    }
    if (!have_r) return fail(line_start, "line before any r line");
    const RouterEntry::Span rest{len > 1 ? lo + 2 : le, le};
    if (kw1) {
      if (!keyword_line(k0, line_start, lo, le, rest)) return false;
    } else if (k0 == 'p' && lp[1] == 'r' && (len == 2 || lp[2] == ' ')) {
      out.pr_ = {len > 2 ? lo + 3 : le, le};
    }
    pos = entry_end = next_pos;
  }
entry_done:
  if (!have_r) return false;
  // Drop the last line's ending as RouterStatusReader does (one LF, then one CR).
  std::size_t e = entry_end;
  if (e > out.entry_off_ && base[e - 1] == '\n') --e;
  if (e > out.entry_off_ && base[e - 1] == '\r') --e;
  out.entry_len_ = std::uint32_t(e - out.entry_off_);
  return true;
}

// ---------------------------------------------------------------------------
// On-demand decoding.

bool RouterEntry::first_a_address(Ipv6OrAddress& out) const {
  const std::string_view text = view(a_first_);
  const char* const lim = base_ + text_len_;
  return or_address6_simd(text, lim, out) || parse_or_address6_fast(text, lim, out);
}

std::optional<Ipv6OrAddress> RouterEntry::ipv6() const {
  if (a_first_.off == kNone) return std::nullopt;
  Ipv6OrAddress addr;
  if (!first_a_address(addr)) return std::nullopt;
  return addr;
}

bool RouterEntry::decode_r(RouterStatus& out, Error& err) const {
  if (parse_r_fixed(base_ + r_.off, base_ + r_.end, base_ + text_len_, out)) return true;
  out = RouterStatus{};
  std::string why;
  if (parse_r_general(view(r_), out, why)) return true;
  err = Error(Errc::bad_router_status, std::move(why), r_line_);
  return false;
}

namespace {

// One w line into `out`, as RouterStatusReader does it.
bool w_line(std::string_view rest, std::size_t line_start, RouterStatus& out, Error& err) {
  if (parse_w_bandwidth_only(rest, out)) return true;
  std::string why;
  if (parse_w(rest, out, why)) return true;
  err = Error(Errc::bad_router_status, std::move(why), line_start);
  return false;
}

}  // namespace

bool RouterEntry::decode_w(RouterStatus& out, Error& err) const {
  if (w_.off == kNone) return true;
  if (!multi_w_) return w_line(view(w_), w_line_, out, err);
  // Rare: several w lines, each applied in turn. Walk the entry's lines again.
  const char* p = base_ + entry_off_;
  const char* const end = base_ + entry_off_ + entry_len_;
  while (p < end) {
    const void* q = std::memchr(p, '\n', std::size_t(end - p));
    const char* lf = q ? static_cast<const char*>(q) : end;
    const char* lp = p;
    std::size_t len = std::size_t(lf - p);
    // The entry already ends where its last line's view does (one CR
    // dropped), so only lines cut at an LF still carry theirs.
    if (q && len && lp[len - 1] == '\r') --len;
    if (len && lp[0] == '.') ++lp, --len;
    if (len && lp[0] == 'w' && (len == 1 || lp[1] == ' ')) {
      const std::string_view rest =
          len > 1 ? std::string_view(lp + 2, len - 2) : std::string_view(lp + len, 0);
      if (!w_line(rest, std::size_t(p - base_), out, err)) return false;
    }
    p = lf + 1;
  }
  return true;
}

namespace {
using Digest = std::array<std::uint8_t, 20>;
}  // namespace

#define TORCON_R_FIELD(type, name)           \
  Expected<type> RouterEntry::name() const { \
    RouterStatus st;                         \
    Error err;                               \
    if (!decode_r(st, err)) return err;      \
    return st.name;                          \
  }
TORCON_R_FIELD(Digest, digest)
TORCON_R_FIELD(std::int64_t, published)
TORCON_R_FIELD(std::uint32_t, ipv4)
TORCON_R_FIELD(std::uint16_t, or_port)
TORCON_R_FIELD(std::uint16_t, dir_port)
#undef TORCON_R_FIELD

Expected<RouterBandwidth> RouterEntry::bandwidth() const {
  // tor's usual single "w Bandwidth=N" line straight into the answer: a
  // state table asks this of every router, and a RouterStatus to fill (and
  // zero first) cost more than the digits.
  if (w_.off == kNone) return RouterBandwidth{};
  if (!multi_w_) {
    RouterBandwidth b;
    if (parse_w_bandwidth_only(view(w_), b.has_bandwidth, b.bandwidth)) return b;
  }
  RouterStatus st;
  Error err;
  if (!decode_w(st, err)) return err;
  return RouterBandwidth{st.has_bandwidth, st.has_measured, st.unmeasured, st.bandwidth,
                         st.measured};
}

bool RouterEntry::decode(RouterStatus& out, Error& err) const {
  out = RouterStatus{};
  if (!decode_r(out, err)) return false;
  if (!decode_w(out, err)) return false;
  if (a_.off != kNone) {
    out.a_lines = view(a_);
    Ipv6OrAddress addr;
    if (first_a_address(addr)) {
      out.ipv6 = addr;
      out.has_ipv6 = true;
    }
  }
  out.flags_text = flags_text();
  out.flags = flags();
  out.version = version();
  out.protocols = protocols();
  out.policy = policy();
  out.microdesc_digest = microdesc_digest();
  out.entry = entry();
  return true;
}

Expected<RouterStatus> RouterEntry::to_status() const {
  RouterStatus st;
  Error err;
  if (!decode(st, err)) return err;
  return st;
}

}  // namespace torcon
