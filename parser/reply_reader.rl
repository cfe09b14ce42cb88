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
#include <cstdint>
#if defined(__SSE2__)
#include <emmintrin.h>
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

// At the first byte of an ordinary data line (not "."): jumps over the run
// of ordinary lines that follows, checking each as line_end() would, and
// returns the LF of the last one (or pe when its LF has not arrived), with
// line_off_ on that line's start; nullptr after a limit error. The machine
// then handles only the line before something it must look at: a leading
// ".", an empty line, a bare LF, the end of the input.
//
// 64 bytes at a time with SSE2 (x86-64's baseline): LF, CR and "next byte is
// '.' or LF" as 64-bit masks, so a run of lines costs a few instructions per
// 64 bytes instead of a memchr() call and a trip through the machine per line.
// 64, not 16: nearly every 64-byte block of router status text holds an LF,
// so the "any LF?" branch predicts, where per 16 bytes it did not.
// A block with anything unusual is left to the exact loop below.
template <bool Record>
const char* ReplyReader::skip_data_lines(const char* base, const char* p, const char* pe) {
#if defined(__SSE2__)
  if (opts_.max_line >= 64) {  // so only a block's first line can be too long
    const char* line = base + line_off_;
    const __m128i nl = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r'), dot = _mm_set1_epi8('.');
    const char* q = p;
    std::uint64_t prev_cr = 0;  // bit 0: the byte before q is a CR
    while (pe - q > 64) {       // q[64] exists: the "next byte" loads read it
      std::uint64_t lfm = 0, crm = 0, nextm = 0;
      for (int k = 0; k < 4; ++k) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 16 * k));
        const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 1 + 16 * k));
        lfm |= std::uint64_t(unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl)))) << 16 * k;
        crm |= std::uint64_t(unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, cr)))) << 16 * k;
        nextm |= std::uint64_t(unsigned(_mm_movemask_epi8(
                     _mm_or_si128(_mm_cmpeq_epi8(w, dot), _mm_cmpeq_epi8(w, nl)))))
                 << 16 * k;
      }
      if (lfm == 0) {
        if (std::size_t(q + 64 - line) >= opts_.max_line) break;
        prev_cr = crm >> 63;
        q += 64;
        continue;
      }
      const std::uint64_t bare = opts_.allow_bare_lf ? 0 : lfm & ~(crm << 1 | prev_cr);
      const unsigned first = unsigned(__builtin_ctzll(lfm));
      const unsigned last = 63u - unsigned(__builtin_clzll(lfm));
      if ((bare | (lfm & nextm)) != 0 || std::size_t(q + first - line) >= opts_.max_line ||
          std::size_t(q + last - base) >= opts_.max_reply)
        break;  // the exact loop decides, from this block's first line on
      if constexpr (Record) {
        // Every LF of an accepted block ends an ordinary data line. Written
        // four at a time with no branch per LF (a block holds 1-3 of them):
        // each slot is written, the end advances only past real ones.
        if (lfs_.size() - nlfs_ < 64) grow_lfs();
        std::uint32_t* const start = lfs_.data() + nlfs_;
        std::uint32_t* out = start;
        const auto rel = std::uint32_t(std::size_t(q - base) - data_off_);
        std::uint64_t m = lfm;
        do {
          for (int k = 0; k < 4; ++k) {
            *out = rel + unsigned(__builtin_ctzll(m | std::uint64_t(1) << 63));
            out += m != 0;
            m &= m - 1;
          }
        } while (m);
        nlfs_ += std::size_t(out - start);
      }
      line = q + last + 1;
      line_off_ = std::size_t(line - base);
      prev_cr = crm >> 63;
      q += 64;
    }
    p = std::max(p, line);
  }
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
