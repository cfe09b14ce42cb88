// Incremental, zero-copy reader of tor's control-port replies.
//
// Bytes go in (prepare()/commit() to read straight into the buffer, or feed()
// to copy), complete replies come out of next(). The reader does no I/O. Input
// may be split at any byte: the Ragel state is kept between calls, and the
// bytes of a reply not yet complete stay in the buffer, which compacts only at
// reply boundaries, so a line that spans two reads is never copied line by
// line. In the steady state nothing is allocated per line or per reply. The
// buffer keeps its capacity across replies, and a large one (256 KiB to
// 16 MiB) outlives the reader as its thread's one spare, taken over by the
// next reader there that needs room: a reconnect's ns/all lands in memory
// already mapped instead of being faulted in page by page.
//
// Framing follows control-spec 2.3 strictly: CRLF line ends, three-digit
// status codes shared by every line of a reply, data blocks ended by ".".
// Leniency is opt-in and named (ParserOptions::allow_bare_lf). Any error
// stops the reader for good (the stream cannot be resynchronised); error()
// says what and at which stream offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "torcon/expected.hpp"
#include "torcon/export.hpp"
#include "torcon/reply.hpp"

namespace torcon {

/// Limits and leniencies of the reply parser.
struct TORCON_API ParserOptions {
  /// Longest line accepted, counting its CRLF. Tor sets no limit; its longest
  /// ordinary lines (config-text, circuit paths) are a few KiB.
  std::size_t max_line = 1u << 20;
  /// Largest reply accepted, data blocks included. GETINFO ns/all for the
  /// whole network is ~4 MiB, desc/all-recent tens of MiB.
  std::size_t max_reply = 256u << 20;
  /// Leniency: accept a bare LF as a line end. Tor never sends one; test
  /// servers and hand-typed captures sometimes do. Off by default.
  bool allow_bare_lf = false;
  /// Record where each data-block line ends (ReplyLine::data_line_ends), found
  /// anyway while framing, so a consumer can skip its own scan. One vector,
  /// reused: no allocation in the steady state. Ignored when max_reply is
  /// 4 GiB or more (the offsets are 32-bit).
  bool record_data_lines = false;
};

/// Frames tor's replies incrementally from a buffer it owns (see the file's
/// comment): feed bytes in, take complete replies out.
class TORCON_API ReplyReader {
 public:
  /// What next() found.
  enum class Next { reply, need_more, error };

  /// An empty reader with these limits.
  explicit ReplyReader(ParserOptions opts = {});
  ~ReplyReader();
  ReplyReader(const ReplyReader&) = delete;
  ReplyReader& operator=(const ReplyReader&) = delete;

  /// Writable space of at least `min_free` bytes at the end of the buffer; put
  /// up to its size bytes there, then commit() how many. Compacts or grows the
  /// buffer, so it invalidates views from earlier replies.
  std::span<char> prepare(std::size_t min_free = 16 * 1024);
  /// Marks `n` bytes written into the span prepare() returned as received.
  void commit(std::size_t n);
  /// Copies `bytes` in (prepare + memcpy + commit).
  void feed(std::string_view bytes);

  /// Parses what has been fed. On Next::reply, `out` is the next complete reply
  /// (views valid until the next call to next(), prepare(), feed() or reset()).
  /// Next::need_more: no complete reply yet. Next::error: see error(); every
  /// later call returns Next::error too.
  Next next(Reply& out);

  /// Why parsing failed: the Errc, a message and the stream offset.
  const Error& error() const noexcept { return error_; }
  /// True once next() returned Next::error (it stays failed until reset()).
  bool failed() const noexcept { return failed_; }
  /// True when bytes of an incomplete reply are buffered (a disconnect now
  /// loses them: say so).
  bool mid_reply() const noexcept { return end_ > begin_; }
  /// True while inside a data block (for "disconnected mid data block").
  bool in_data_block() const noexcept { return in_data_; }
  /// Bytes consumed by complete replies so far.
  std::uint64_t stream_offset() const noexcept { return consumed_; }
  /// The limits it was made with.
  const ParserOptions& options() const noexcept { return opts_; }
  /// Forget everything: buffer, parser state, error.
  void reset();

 private:
  /// The framing machine and everything it calls are in parser/reply_reader.rl
  /// (the bulk of data blocks in parser/data_block_scan.hpp).
  struct Machine;
  friend struct Machine;
  struct LineRec;  ///< a reply line as offsets from the reply's first byte

  // ---- private fields: the reader's whole state ------------------------------
  ParserOptions opts_;
  /// malloc'd, so that it grows by realloc (see prepare() in reply_reader.rl).
  struct FreeBuffer {
    void operator()(char* p) const noexcept;  ///< std::free
  };
  std::unique_ptr<char[], FreeBuffer> buf_;
  std::size_t cap_ = 0;
  std::size_t begin_ = 0;  ///< first byte of the current (incomplete) reply
  std::size_t parse_ = 0;  ///< where the machine resumes
  std::size_t end_ = 0;    ///< end of valid bytes
  std::uint64_t consumed_ = 0;

  /// Ragel and per-reply state; offsets are relative to begin_.
  int cs_ = 0;
  int code_ = 0;
  std::size_t line_off_ = 0;  ///< start of the current line
  std::size_t data_off_ = 0;  ///< start of the current data block
  bool in_data_ = false;
  bool complete_ = false;
  bool failed_ = false;
  bool record_ = false;  ///< opts_.record_data_lines, when the offsets fit
  std::vector<LineRec> recs_;
  /// Data LF offsets of the current reply (relative to their block, so they
  /// survive compaction); lfs_[0, nlfs_) is in use, the vector only grows.
  std::vector<std::uint32_t> lfs_;
  std::size_t nlfs_ = 0;
  std::vector<ReplyLine> lines_;
  Error error_;
};

}  // namespace torcon
