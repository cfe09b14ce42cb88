// ReplyReader: framing of tor's control-port replies (control-spec 2.3) as a
// Ragel state machine, and the buffer it frames. `ragel -G2` turns this into
// reply_reader.cpp in the build tree.
//
// The machine sees every structural byte (status code, separator, the first
// bytes of data lines, line ends) but not the bulk of a line: on the first
// text byte an action memchr()s to the LF and jumps there (fexec), so long
// lines cost one memchr, not one state transition per byte. Runs of ordinary
// data lines it does not see at all: skip_data_lines() jumps over them, the
// bulk 64 bytes at a time (data_block_scan.hpp). Every position kept is an
// offset from the current reply's first byte, so the buffer may grow or
// compact between calls while a reply is incomplete.

#include "torcon/reply_reader.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "data_block_scan.hpp"

namespace torcon {

// A reply line as offsets from the reply's first byte, so the buffer can
// move (grow or compact) while a reply is incomplete.
struct ReplyReader::LineRec {
  std::size_t text_off, text_len, data_off, data_len;
  std::size_t lfs_begin, lfs_end;  // the data block's LFs in lfs_
  int code;
  Sep sep;
};

// The machine and what its actions call. A friend of ReplyReader, so that
// the public header declares none of it.
struct ReplyReader::Machine {
  static Next parse(ReplyReader& r);
  static Next fail(ReplyReader& r, Errc code, std::string what, std::size_t reply_off);
  // False (and the error set) when a line running to offset `stop` breaks
  // max_line or max_reply. Inline: it runs for every line. `stop` is never
  // before line_off_, so the subtraction cannot wrap.
  static bool within_limits(ReplyReader& r, std::size_t stop) {
    if (stop - r.line_off_ < r.opts_.max_line && stop < r.opts_.max_reply) [[likely]]
      return true;
    return limit_error(r);
  }
  static bool limit_error(ReplyReader& r);  // sets the error for whichever limit comes first
  // Checks the line ending at LF offset `lf` (CR, limits); sets text_end.
  static bool line_end(ReplyReader& r, std::size_t lf, std::size_t& text_end);
  // Skips a run of ordinary data lines. Record: also store the LFs skipped
  // (a template so framing without record_data_lines pays nothing for it).
  // Never inlined: in parse(), it made the machine 7% slower on replies
  // without data blocks.
  template <bool Record>
  [[gnu::noinline]] static const char* skip_data_lines(ReplyReader& r, const char* base,
                                                       const char* p, const char* pe);
  // Appends a data LF at reply offset `lf` to lfs_ (record_ only).
  static void record_lf(ReplyReader& r, std::size_t lf) {
    if (r.nlfs_ == r.lfs_.size()) grow_lfs(r);
    r.lfs_[r.nlfs_++] = std::uint32_t(lf - r.data_off_);
  }
  static void grow_lfs(ReplyReader& r);
  static void emit(ReplyReader& r, Reply& out);
  static bool single_line(ReplyReader& r, Reply& out);
};

%%{
  machine reply;
  alphtype char;

  action code0 { r.code_ = (fc - '0') * 100; }
  action code1 { r.code_ += (fc - '0') * 10; }
  action code2 { r.code_ += fc - '0'; }

  action sep {
    if (!r.recs_.empty() && r.code_ != r.recs_.front().code) {
      return fail(r, Errc::status_mismatch,
                  "status code " + std::to_string(r.code_) + " differs from " +
                      std::to_string(r.recs_.front().code) + " earlier in the reply",
                  r.line_off_);
    }
    r.recs_.push_back(LineRec{r.line_off_ + 4, 0, 0, 0, 0, 0, r.code_, static_cast<Sep>(fc)});
  }

  # Jump to the LF that ends this line (or to the end of input).
  action skip {
    {
      const char* lf = static_cast<const char*>(std::memchr(p, '\n', pe - p));
      const std::size_t stop = static_cast<std::size_t>((lf ? lf : pe) - base);
      if (!within_limits(r, stop)) return Next::error;
      fexec (lf ? lf : pe);
    }
  }

  # First byte of an ordinary data line (not "."): jump over the whole run of
  # ordinary lines that follows (see skip_data_lines()), so the machine only
  # sees the line before something it must look at. Most of ns/all is such
  # runs.
  action skip_data {
    {
      const char* lf = r.record_ ? skip_data_lines<true>(r, base, p, pe)
                                  : skip_data_lines<false>(r, base, p, pe);
      if (!lf) return Next::error;
      fexec lf;
    }
  }

  # The LF of a reply line: close the line; an end line ends the reply.
  action reply_lf {
    {
      const std::size_t lf = static_cast<std::size_t>(p - base);
      std::size_t text_end = lf;
      if (!line_end(r, lf, text_end)) return Next::error;
      LineRec& rec = r.recs_.back();
      rec.text_len = text_end - rec.text_off;
      r.line_off_ = lf + 1;
      if (rec.sep == Sep::data) {
        r.data_off_ = r.line_off_;
        r.in_data_ = true;
        rec.lfs_begin = rec.lfs_end = r.nlfs_;
      } else if (rec.sep == Sep::end) {
        r.complete_ = true;
        fbreak;
      }
    }
  }

  action data_lf {
    {
      const std::size_t lf = static_cast<std::size_t>(p - base);
      std::size_t text_end = lf;
      if (!line_end(r, lf, text_end)) return Next::error;
      if (r.record_) record_lf(r, lf);
      r.line_off_ = lf + 1;
    }
  }

  action data_dot {
    r.recs_.back().lfs_end = r.nlfs_;
    r.recs_.back().data_off = r.data_off_;
    r.recs_.back().data_len = static_cast<std::size_t>(p - base) - r.data_off_;
  }

  action data_end {
    {
      const std::size_t lf = static_cast<std::size_t>(p - base);
      std::size_t text_end = lf;
      if (!line_end(r, lf, text_end)) return Next::error;
      r.line_off_ = lf + 1;
      r.in_data_ = false;
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

ReplyReader::Next ReplyReader::Machine::parse(ReplyReader& r) {
  const char* const base = r.buf_.get() + r.begin_;  // the current reply's first byte
  const char* p = r.buf_.get() + r.parse_;
  const char* const pe = r.buf_.get() + r.end_;
  int cs = r.cs_;
  r.complete_ = false;

  %% write exec;

  r.cs_ = cs;
  r.parse_ = static_cast<std::size_t>(p - r.buf_.get());
  if (cs == reply_error) {
    const std::size_t at = static_cast<std::size_t>(p - base);
    const std::size_t col = at - r.line_off_;
    if (r.in_data_)
      return fail(r, Errc::bad_data_block,
                  "malformed data block terminator (expected \".\\r\\n\")", at);
    if (col < 3)
      return fail(r, Errc::bad_status_code, "status code is not three digits", at);
    return fail(r, Errc::bad_separator, "expected '-', '+' or ' ' after the status code", at);
  }
  if (r.complete_) return Next::reply;
  // Out of input mid-reply. The actions check the limits where they look
  // for an LF, but a line's status code and separator, and a data line's
  // leading ".", are matched byte by byte: the bytes buffered so far must
  // fit too, so that the reader never holds more than the limits allow.
  if (!within_limits(r, static_cast<std::size_t>(pe - base))) return Next::error;
  return Next::need_more;
}

ReplyReader::ReplyReader(ParserOptions opts)
    : opts_(opts), record_(opts.record_data_lines && opts.max_reply <= 0xFFFFFFFFu) {
  reset();
}

namespace {

// A large buffer outlives its reader as its thread's spare, for the next
// reader there that needs room: a new connection's first ns/all (~2 MB) then
// lands in pages already faulted in, instead of a fresh allocation that the
// kernel maps page by page (and that glibc gave back to it when the old
// reader freed its buffer). One per thread, the largest, within bounds: a
// reader of small replies never takes more than it needs from the heap.
constexpr std::size_t kSpareMin = 256u << 10;
// At most 16 MiB: the real network's ns/all with room, not a whole
// descriptor dump kept alive for good.
constexpr std::size_t kSpareMax = 16u << 20;

struct SpareBuffer {
  char* bytes = nullptr;
  std::size_t cap = 0;
  ~SpareBuffer();
};
thread_local SpareBuffer t_spare;
// Set once the thread's spare is destroyed: a reader destroyed later (a
// thread_local or static one) frees its buffer itself.
thread_local bool t_spare_gone = false;

SpareBuffer::~SpareBuffer() {
  std::free(bytes);
  bytes = nullptr;
  cap = 0;
  t_spare_gone = true;
}

}  // namespace

ReplyReader::~ReplyReader() {
  if (t_spare_gone || cap_ < kSpareMin || cap_ > kSpareMax || cap_ <= t_spare.cap) return;
  std::free(t_spare.bytes);
  t_spare.cap = cap_;
  t_spare.bytes = buf_.release();
}

void ReplyReader::FreeBuffer::operator()(char* p) const noexcept { std::free(p); }

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
  if (cap_ - end_ < min_free && begin_ > 0) {
    // Compact: only the incomplete reply moves, and its positions are
    // offsets from begin_, so nothing else needs fixing.
    const std::size_t pending = end_ - begin_;
    std::memmove(buf_.get(), buf_.get() + begin_, pending);
    parse_ -= begin_;
    end_ = pending;
    begin_ = 0;
  }
  if (cap_ - end_ < min_free) {
    // Grow in place where the allocator can: realloc keeps the bytes, and
    // glibc moves a large (mmapped) buffer by remapping its pages instead of
    // copying them into a fresh allocation.
    const std::size_t cap = std::max<std::size_t>(cap_ ? cap_ * 2 : 64 * 1024, end_ + min_free);
    if (cap >= kSpareMin && !t_spare_gone && t_spare.cap >= cap) {
      // Growing into the spare's range and the thread's spare is large
      // enough (see ~ReplyReader): take it over.
      if (end_) std::memcpy(t_spare.bytes, buf_.get(), end_);
      buf_.reset(std::exchange(t_spare.bytes, nullptr));
      cap_ = std::exchange(t_spare.cap, 0);
    } else {
      char* grown = static_cast<char*>(std::realloc(buf_.get(), cap));
      if (!grown) throw std::bad_alloc();
      (void)buf_.release();  // realloc freed or kept it
      buf_.reset(grown);
      cap_ = cap;
    }
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

ReplyReader::Next ReplyReader::Machine::fail(ReplyReader& r, Errc code, std::string what,
                                             std::size_t reply_off) {
  r.failed_ = true;
  r.error_ = Error(code, std::move(what), r.consumed_ + reply_off);
  return Next::error;
}

// within_limits() failed. Both limits are stream positions: the line's is
// line_off_ + max_line, the reply's is max_reply. A line whose LF (or, while
// it is incomplete, whose last buffered byte + 1) reaches either fails, and
// the error names whichever position comes first, so the outcome cannot
// depend on how reads split the stream.
bool ReplyReader::Machine::limit_error(ReplyReader& r) {
  const std::size_t max_line = r.opts_.max_line, max_reply = r.opts_.max_reply;
  const std::size_t line_limit =
      max_line > SIZE_MAX - r.line_off_ ? SIZE_MAX : r.line_off_ + max_line;
  if (line_limit < max_reply)
    fail(r, Errc::line_too_long,
         "line longer than max_line (" + std::to_string(max_line) + " bytes)", line_limit);
  else
    fail(r, Errc::reply_too_large,
         "reply larger than max_reply (" + std::to_string(max_reply) + " bytes)", max_reply);
  return false;
}

// At the first byte of an ordinary data line (not "."): jumps over the run
// of ordinary lines that follows, checking each as line_end() would, and
// returns the LF of the last one (or pe when its LF has not arrived), with
// line_off_ on that line's start; nullptr after a limit error. The machine
// then handles only the line before something it must look at: a leading
// ".", an empty line, a bare LF, the end of the input.
//
// skip_data_blocks() takes the bulk, and the exact loop below goes on from
// where it stopped.
template <bool Record>
const char* ReplyReader::Machine::skip_data_lines(ReplyReader& r, const char* base,
                                                              const char* p, const char* pe) {
  // The block scan reads the byte after each block, and passes no LF at or
  // past max_reply (pe > p, so pe - base >= 1).
  const char* const limit = base + std::min(std::size_t(pe - base) - 1, r.opts_.max_reply);
  const detail::DataLineRules rules{r.opts_.max_line, r.opts_.allow_bare_lf};
  const char* line = base + r.line_off_;
  if constexpr (Record) {
    detail::LfList lfs{nullptr, nullptr, base + r.data_off_};
    do {
      if (r.lfs_.size() - r.nlfs_ < 64) grow_lfs(r);
      lfs.next = r.lfs_.data() + r.nlfs_;
      lfs.end = r.lfs_.data() + r.lfs_.size();
      lfs.full = false;
      p = detail::skip_data_blocks(p, limit, line, rules, &lfs);
      r.nlfs_ = std::size_t(lfs.next - r.lfs_.data());
    } while (lfs.full);
  } else {
    p = detail::skip_data_blocks(p, limit, line, rules);
  }
  r.line_off_ = std::size_t(line - base);
  while (true) {
    const char* lf = static_cast<const char*>(std::memchr(p, '\n', std::size_t(pe - p)));
    if (!within_limits(r, std::size_t((lf ? lf : pe) - base))) return nullptr;
    if (!lf) return pe;
    if (lf + 1 >= pe || lf[1] == '.' || lf[1] == '\n') return lf;
    // A bare LF is line_end()'s to refuse: leave that line to the machine.
    if (!r.opts_.allow_bare_lf && (lf == base + r.line_off_ || lf[-1] != '\r')) return lf;
    if constexpr (Record) record_lf(r, std::size_t(lf - base));
    r.line_off_ = std::size_t(lf + 1 - base);
    p = lf + 1;
  }
}

void ReplyReader::Machine::grow_lfs(ReplyReader& r) {
  r.lfs_.resize(std::max<std::size_t>(4096, r.lfs_.size() * 2));
}

bool ReplyReader::Machine::line_end(ReplyReader& r, std::size_t lf, std::size_t& text_end) {
  const char* base = r.buf_.get() + r.begin_;
  if (!within_limits(r, lf)) return false;
  if (lf > r.line_off_ && base[lf - 1] == '\r') {
    text_end = lf - 1;
    return true;
  }
  if (!r.opts_.allow_bare_lf) {
    fail(r, Errc::bare_lf,
         "line ends in LF without CR (enable ParserOptions::allow_bare_lf to accept)", lf);
    return false;
  }
  text_end = lf;
  return true;
}

void ReplyReader::Machine::emit(ReplyReader& r, Reply& out) {
  const char* base = r.buf_.get() + r.begin_;
  const std::size_t len = r.parse_ - r.begin_;
  r.lines_.clear();
  for (const LineRec& l : r.recs_) {
    r.lines_.push_back(ReplyLine{l.code, l.sep, std::string_view(base + l.text_off, l.text_len),
                                 std::string_view(base + l.data_off, l.data_len),
                                 std::span<const std::uint32_t>(r.lfs_.data() + l.lfs_begin,
                                                                l.lfs_end - l.lfs_begin)});
  }
  out.code = r.recs_.front().code;
  out.lines = std::span<const ReplyLine>(r.lines_);
  out.raw = std::string_view(base, len);
  out.offset = r.consumed_;
  r.consumed_ += len;
  r.begin_ = r.parse_;
  r.recs_.clear();
  r.line_off_ = 0;
}

// The commonest reply, a whole "DDD TEXT\r\n" in the buffer (every
// ordinary event, most command replies), framed without the machine: the
// same reply, line and offsets it would give, for about half the work. What
// is not plainly that (another separator, no LF yet, a bare LF, a limit
// reached) is left to the machine, which decides it as always.
bool ReplyReader::Machine::single_line(ReplyReader& r, Reply& out) {
  const char* const p = r.buf_.get() + r.begin_;
  const std::size_t avail = r.end_ - r.begin_;
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (avail < 6 || !digit(p[0]) || !digit(p[1]) || !digit(p[2]) || p[3] != ' ') return false;
  const char* const lf = static_cast<const char*>(std::memchr(p + 4, '\n', avail - 4));
  if (!lf) return false;
  const std::size_t len = std::size_t(lf - p) + 1;  // through the LF
  if (len - 1 >= r.opts_.max_line || len - 1 >= r.opts_.max_reply || lf[-1] != '\r')
    return false;
  const int code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
  r.lines_.clear();
  r.lines_.push_back(ReplyLine{code, Sep::end, std::string_view(p + 4, len - 6),
                               std::string_view(p, 0),
                               std::span<const std::uint32_t>(r.lfs_.data(), 0)});
  out.code = code;
  out.lines = std::span<const ReplyLine>(r.lines_);
  out.raw = std::string_view(p, len);
  out.offset = r.consumed_;
  r.consumed_ += len;
  r.begin_ = r.parse_ = r.begin_ + len;
  return true;
}

ReplyReader::Next ReplyReader::next(Reply& out) {
  if (failed_) return Next::error;
  // The previous reply's LFs are no longer viewed; none of the current
  // reply's exist before its first line is open.
  if (recs_.empty()) nlfs_ = 0;
  if (parse_ == end_) return Next::need_more;
  // At a reply's first byte (the machine has seen none of it).
  if (parse_ == begin_ && Machine::single_line(*this, out)) return Next::reply;
  Next n = Machine::parse(*this);
  if (n == Next::reply) Machine::emit(*this, out);
  return n;
}

}  // namespace torcon
