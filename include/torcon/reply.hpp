// Replies from tor, as views into the reader's buffer (control-spec 2.3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/export.hpp"

namespace torcon {

/// The byte after the status code: more lines follow ('-'), a data block
/// follows ('+'), or this is the reply's last line (' ').
enum class Sep : char { mid = '-', data = '+', end = ' ' };

/// One line of a reply (control-spec 2.3): status code, separator, text, and
/// for a '+' line its data block. Views into the reader's buffer.
struct TORCON_API ReplyLine {
  int code = 0;        ///< the three-digit status code
  Sep sep = Sep::end;  ///< what the line is: mid, data or end
  /// What follows "NNN<sep>" up to, not including, the line's CRLF.
  std::string_view text;
  /// Sep::data only: the data block exactly as sent, from the byte after this
  /// line's CRLF up to, not including, the terminating ".\r\n". Still
  /// dot-stuffed and with CRLFs; walk it with DataLines.
  std::string_view data;
  /// Sep::data with ParserOptions::record_data_lines only (else empty): the
  /// offset in `data` of every LF in it, ascending, as found while framing, so
  /// a consumer need not scan the block again (RouterEntryReader takes them).
  /// Stored in the reader; valid as long as `data` is. OwnedReply drops it.
  std::span<const std::uint32_t> data_line_ends;
};

/// Iterates the lines of a raw data block: CRLF (or bare LF) stripped and
/// leading-dot unstuffed, each line a view into the block. No allocation.
class TORCON_API DataLines {
 public:
  /// Iterates `raw`, a ReplyLine::data block.
  explicit DataLines(std::string_view raw) : rest_(raw) {}
  /// Sets `line` to the next line; false at the end of the block.
  bool next(std::string_view& line);

 private:
  std::string_view rest_;
};

/// The data block's lines, unstuffed, joined with "\n" (a copy).
TORCON_API std::string join_data(std::string_view raw);

struct OwnedReply;
/// One complete reply. Every view points into the ReplyReader's buffer and is
/// valid until the next call to ReplyReader::next(), prepare(), feed() or
/// reset(); call copy() to keep it longer.
struct TORCON_API Reply {
  int code = 0;                      ///< the status code (of every line)
  std::span<const ReplyLine> lines;  ///< the lines, at least one
  std::string_view raw;              ///< the reply's bytes exactly as tor sent them
  std::uint64_t offset = 0;          ///< stream offset of the reply's first byte

  /// 6xx replies are asynchronous events, not answers to a command.
  bool is_async() const noexcept { return code >= 600 && code < 700; }
  /// 2xx: the command succeeded.
  bool is_ok() const noexcept { return code >= 200 && code < 300; }
  /// The last line's text: "OK", or tor's error message for 4xx/5xx.
  std::string_view status_text() const noexcept {
    return lines.empty() ? std::string_view{} : lines.back().text;
  }
  /// A copy that owns its bytes (the views are rebuilt into it).
  OwnedReply copy() const;
};

/// A Reply that owns its bytes. The bytes live in a heap array (not a
/// std::string, whose small-string buffer would move and strand the views).
struct TORCON_API OwnedReply {
  /// An empty reply (code 0, no lines).
  OwnedReply() = default;
  /// Copies the bytes; the copy's views point into its own storage.
  OwnedReply(const OwnedReply& o) { assign(o.view()); }
  /// Copies the bytes; the views point into this reply's storage.
  OwnedReply& operator=(const OwnedReply& o) {
    if (this != &o) assign(o.view());
    return *this;
  }
  /// Moves: the bytes stay where they are, so the views stay valid.
  OwnedReply(OwnedReply&&) noexcept = default;
  /// Moves: the bytes stay where they are, so the views stay valid.
  OwnedReply& operator=(OwnedReply&&) noexcept = default;

  /// The reply as a Reply, valid as long as this OwnedReply is.
  Reply view() const noexcept {
    return Reply{code, std::span<const ReplyLine>(lines), raw_, offset};
  }
  /// Replaces the contents with a copy of `r`.
  void assign(const Reply& r);

  int code = 0;                  ///< the status code
  std::vector<ReplyLine> lines;  ///< views into storage_
  std::uint64_t offset = 0;      ///< stream offset of the reply's first byte

 private:
  std::unique_ptr<char[]> storage_;
  std::string_view raw_;
};

}  // namespace torcon
