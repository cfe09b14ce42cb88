// Lazy router status entries: one cheap pass over a data block (GETINFO
// ns/all, ns/id/*, NS events) records where each entry's lines are; fields are
// decoded when asked for. RouterStatusReader (router_status.hpp) decodes every
// field of every entry eagerly; RouterEntryReader is for callers that touch a
// few fields of many routers (a state table keyed by identity, say).
//
// What the pass decodes and checks (a failure stops the reader; error() has
// the offending line's offset, as RouterStatusReader reports it):
//   - a line before any "r" line;
//   - the r line's nickname (1-19 alphanumerics, then a space) and identity
//     (27 base64 characters, or 28 ending in '='): both are decoded in the
//     pass, identity() is a plain value;
//   - the flags of the "s" line (a plain value; unknown flags are kept in
//     flags_text(), never an error, as in RouterStatus), and whether it
//     names any flag this version does not know;
//   - text larger than 4 GiB - 2 (offsets are 32-bit).
// Everything else is found when it is decoded, with the offset of the line it
// is on: digest/published/ipv4/or_port/dir_port (the rest of the r line, all
// checked together as RouterStatusReader checks them) and bandwidth() (the w
// lines). ipv6() and the views never fail, as in RouterStatus: an unparsable
// "a" address is not an error there either. to_status()/decode() check
// everything RouterStatusReader checks and give the same RouterStatus for any
// entry it accepts (tests/parser/router_entry_test, fuzz/fuzz_router_entry).
//
// Identity and flags are decoded in the pass because they are what a state
// table needs of every router: the key (checked, so the table can trust it)
// and what path selection filters on.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "torcon/expected.hpp"
#include "torcon/export.hpp"
#include "torcon/router_status.hpp"

namespace torcon {

/// The "w" line's values, as RouterStatus holds them.
struct TORCON_API RouterBandwidth {
  bool has_bandwidth = false;   ///< a "w" line was seen
  bool has_measured = false;    ///< Measured= present
  bool unmeasured = false;      ///< Unmeasured=1
  std::uint64_t bandwidth = 0;  ///< kilobytes/s
  std::uint64_t measured = 0;   ///< Measured=, kilobytes/s
  /// Field-wise equality.
  bool operator==(const RouterBandwidth&) const = default;
};

/// One entry: where its lines are (32-bit offsets into the reader's text) plus
/// the nickname and identity. Views and accessors are valid as long as the text
/// is. Cheap to copy (~100 bytes).
class TORCON_API RouterEntry {
 public:
  /// Decoded by the pass.
  std::string_view entry() const noexcept { return {base_ + entry_off_, entry_len_}; }
  std::size_t offset() const noexcept { return r_line_; }  ///< of the r line in the text
  std::string_view nickname() const noexcept { return {base_ + nick_off_, nick_len_}; }  ///< r line
  /// The r line's identity, decoded.
  const std::array<std::uint8_t, 20>& identity() const noexcept { return identity_; }
  /// The r line after "r ", nickname to DirPort, as written (without its
  /// line end): for a caller that reads only some of its fields itself.
  std::string_view r_line() const noexcept { return view(r_); }

  /// Views of the lines, as RouterStatus has them (a missing line gives a
  /// null view, a bare keyword an empty one located at the line's end).
  std::string_view flags_text() const noexcept { return view(s_); }
  std::string_view version() const noexcept { return view(v_); }     ///< the v line
  std::string_view protocols() const noexcept { return view(pr_); }  ///< the pr line
  std::string_view policy() const noexcept { return view(p_); }      ///< the p line
  std::string_view a_lines() const noexcept { return view(a_); }     ///< walk with OrAddressLines
  /// The "m" line's digest (microdescriptor consensus), checked by the pass
  /// as RouterStatus::microdesc_digest is.
  std::string_view microdesc_digest() const noexcept { return view(m_); }

  /// Decoded by the pass (of the last "s" line; never fails: unknown flags
  /// are not errors).
  RouterFlags flags() const noexcept { return flags_; }
  /// Whether that "s" line names a flag flags() cannot hold (one a newer tor
  /// added): only then does flags_text() need walking for them. Decoded by
  /// the pass.
  bool has_unknown_flags() const noexcept { return unknown_flags_; }

  /// Decoded on each call; never fails.
  std::optional<Ipv6OrAddress> ipv6() const;  ///< the first "a" line's, if it parses

  /// Decoded on each call from the r line (which is checked as a whole).
  Expected<std::array<std::uint8_t, 20>> digest() const;  ///< zero for the microdesc form
  Expected<std::int64_t> published() const;               ///< seconds since the epoch, UTC
  Expected<std::uint32_t> ipv4() const;                   ///< host byte order
  Expected<std::uint16_t> or_port() const;                ///< the ORPort
  Expected<std::uint16_t> dir_port() const;               ///< the DirPort (0: none)
  /// Decoded on each call from the w line(s).
  Expected<RouterBandwidth> bandwidth() const;

  /// The eager struct, everything decoded and checked.
  bool decode(RouterStatus& out, Error& err) const;
  /// decode() as an Expected.
  Expected<RouterStatus> to_status() const;

 private:
  friend class RouterEntryReader;
  static constexpr std::uint32_t kNone = 0xFFFFFFFFu;
  struct Span {
    std::uint32_t off = kNone, end = 0;
  };
  std::string_view view(Span s) const noexcept {
    return s.off == kNone ? std::string_view{} : std::string_view(base_ + s.off, s.end - s.off);
  }
  bool decode_r(RouterStatus& out, Error& err) const;
  bool decode_w(RouterStatus& out, Error& err) const;
  bool first_a_address(Ipv6OrAddress& out) const;

  // ---- private fields: set by RouterEntryReader::next() ----
  const char* base_ = nullptr;
  std::uint32_t text_len_ = 0;  ///< decoders may read up to here (SIMD), never past
  std::uint32_t entry_off_ = 0, entry_len_ = 0;
  std::uint32_t r_line_ = 0;  ///< r line start (before any stuffed dot), for errors
  Span r_;                    ///< after "r "
  std::uint32_t nick_off_ = 0;
  Span a_;        ///< first "a" line's keyword to the end of the last one
  Span a_first_;  ///< the first "a" line's address
  Span s_, v_, pr_, p_, m_;
  Span w_;                    ///< after "w " of the last w line
  std::uint32_t w_line_ = 0;  ///< its start, for errors
  std::uint8_t nick_len_ = 0;
  bool multi_w_ = false;        ///< more than one w line: bandwidth() walks them all
  bool unknown_flags_ = false;  ///< has_unknown_flags()
  RouterFlags flags_;
  std::array<std::uint8_t, 20> identity_{};
};

/// Splits a sequence of router status entries (a data block as ReplyLine::data
/// holds it, or plain LF text) into RouterEntry records: one pass finds the
/// line ends (or they are given, as ReplyReader records them), each line is
/// classified by its first bytes.
class TORCON_API RouterEntryReader {
 public:
  /// Reads the entries in `text`, which must outlive the reader.
  explicit RouterEntryReader(std::string_view text);
  /// The same, given the offset of every LF in `text`, ascending (a data
  /// block's ReplyLine::data_line_ends): the reader uses them instead of
  /// scanning for LFs itself. Offsets that are out of order or outside the
  /// text make next() fail; a missing one merges two lines. An empty span
  /// means "not recorded": it scans.
  RouterEntryReader(std::string_view text, std::span<const std::uint32_t> line_ends);
  ~RouterEntryReader();
  /// Moves the reading position too.
  RouterEntryReader(RouterEntryReader&&) noexcept;
  /// Moves the reading position too.
  RouterEntryReader& operator=(RouterEntryReader&&) noexcept;
  /// The next entry; false at the end or on malformed input (check error()).
  bool next(RouterEntry& out);
  /// Errc::ok unless next() stopped on bad input; offset is into `text`.
  const Error& error() const noexcept { return error_; }

 private:
  /// Helpers of next() (parser/router_entry.cpp).
  bool fail(std::size_t off, const char* what);
  std::size_t next_lf();  ///< the next LF at or after the scan position, or the text's size
  std::size_t refill();   ///< scans the next chunk, returns its first LF
  static std::uint32_t valid_line_ends(std::span<const std::uint32_t> ends, std::size_t n);

  // ---- private fields ----
  /// LF offsets are found a chunk at a time and written to lf_buf_, so the
  /// per-line loop has no scan branches.
  static constexpr std::size_t kChunk = 512;
  std::string_view text_;
  std::size_t pos_ = 0;   ///< start of the next line to classify
  std::size_t scan_ = 0;  ///< first byte not yet scanned for LFs
  std::uint32_t lf_idx_ = 0, lf_count_ = 0;
  const std::uint32_t* ext_ = nullptr;  ///< the given LFs, else null (lf_buf_ is used)
  std::uint32_t ext_count_ = 0;         ///< how many were given (lf_count_: the valid ones)
  std::uint32_t lf_buf_[kChunk + 8];    ///< +8: the flattening writes 8 at a time
  /// Flags of "s" lines seen before, for long texts (ns/all) only.
  static constexpr std::size_t kCacheFrom = 16 * 1024;
  std::unique_ptr<detail::FlagsCache> flags_cache_;
  bool pend_ = false;  ///< an r line was read (its LF taken) by the previous call
  std::size_t pend_lf_ = 0;
  Error error_;
};

}  // namespace torcon
