// Router status entries as GETINFO ns/all, ns/id/* and NS events give them
// (dir-spec "r", "a", "s", "v", "pr", "w", "p", "m" lines), parsed into a
// compact struct without allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "torcon/expected.hpp"

namespace torcon {

// The flags tor knows today, as bit positions. Flags a newer tor adds are not
// lost: RouterStatus::flags_text holds the "s" line as tor wrote it.
enum class RouterFlag : std::uint8_t {
  Authority,
  BadExit,
  Exit,
  Fast,
  Guard,
  HSDir,
  MiddleOnly,
  Named,
  NoEdConsensus,
  Running,
  Stable,
  StaleDesc,
  Sybil,
  Unnamed,
  V2Dir,
  Valid,
  kCount
};
std::string_view to_string(RouterFlag f) noexcept;
// False for flags this version doesn't know.
bool parse_router_flag(std::string_view name, RouterFlag& out) noexcept;

class RouterFlags {
 public:
  // Bit i is RouterFlag(i); bits of no known flag are dropped.
  static constexpr RouterFlags from_bits(std::uint32_t bits) noexcept {
    RouterFlags f;
    f.bits_ = bits & ((1u << unsigned(RouterFlag::kCount)) - 1);
    return f;
  }
  bool has(RouterFlag f) const noexcept { return bits_ >> unsigned(f) & 1u; }
  void set(RouterFlag f) noexcept { bits_ |= 1u << unsigned(f); }
  std::uint32_t bits() const noexcept { return bits_; }
  bool operator==(const RouterFlags&) const = default;

 private:
  std::uint32_t bits_ = 0;
};

struct Ipv6OrAddress {
  std::array<std::uint8_t, 16> addr{};
  std::uint16_t port = 0;
};

struct RouterStatus {
  std::array<std::uint8_t, 20> identity{};  // RSA identity fingerprint, binary
  std::array<std::uint8_t, 20> digest{};    // descriptor digest, binary
  std::int64_t published = 0;               // seconds since the epoch, UTC
  std::uint32_t ipv4 = 0;                   // host byte order
  std::uint16_t or_port = 0;
  std::uint16_t dir_port = 0;
  RouterFlags flags;
  std::uint8_t nickname_len = 0;
  char nickname_buf[19] = {};  // dir-spec: 1-19 alphanumerics
  bool has_ipv6 = false;       // ipv6 holds the first "a" line's address
  Ipv6OrAddress ipv6;
  bool has_bandwidth = false;  // "w" line seen
  bool has_measured = false;
  bool unmeasured = false;      // "w ... Unmeasured=1"
  std::uint64_t bandwidth = 0;  // kilobytes/s
  std::uint64_t measured = 0;

  // Views into the parsed text (valid as long as it is).
  std::string_view a_lines;     // first "a" line to the end of the last one
  std::string_view flags_text;  // the "s" line after "s " (unknown flags too)
  std::string_view version;     // the "v" line after "v "
  std::string_view protocols;   // the "pr" line after "pr "
  std::string_view policy;      // the "p" line after "p ", e.g. "accept 80,443"
  // The "m" line after "m " (microdescriptor consensus only): the base64
  // SHA-256 digest of the relay's microdescriptor, 43 characters, checked.
  // A vote's "m methods sha256=..." lines are not digests: left empty.
  std::string_view microdesc_digest;
  std::string_view entry;  // the whole entry, "r" line to last line

  std::string_view nickname() const noexcept { return {nickname_buf, nickname_len}; }
};

// Formatting helpers (allocate; for tools and logs, not hot paths).
std::string fingerprint_hex(const std::array<std::uint8_t, 20>& id);  // 40 upper-case hex
std::string format_ipv4(std::uint32_t addr);
std::string format_iso_time(std::int64_t unix_seconds);  // "YYYY-MM-DD HH:MM:SS"

// Walks the "a" lines of RouterStatus::a_lines: sets `addr` to the next
// "[addr]:port" text as written; false at the end.
class OrAddressLines {
 public:
  explicit OrAddressLines(std::string_view a_lines) : rest_(a_lines) {}
  bool next(std::string_view& addr);

 private:
  std::string_view rest_;
};

namespace detail {
class FlagsCache;  // parser/router_status_fast.hpp
}

// Splits a sequence of router status entries (a data block as ReplyLine::data
// holds it, dot-stuffed CRLF lines; or plain LF text) into RouterStatus
// structs. Unknown line keywords are skipped, as dir-spec requires.
class RouterStatusReader {
 public:
  explicit RouterStatusReader(std::string_view text);
  // The same, given the offset of every LF in `text`, ascending (a data
  // block's ReplyLine::data_line_ends, recorded by ReplyReader with
  // ParserOptions::record_data_lines): the reader uses them instead of
  // scanning for LFs itself. An offset that is out of order, outside the
  // text or not at an LF makes next() fail; a missing one merges two lines.
  // An empty span means "not recorded": it scans.
  RouterStatusReader(std::string_view text, std::span<const std::uint32_t> line_ends);
  ~RouterStatusReader();
  RouterStatusReader(RouterStatusReader&&) noexcept;
  RouterStatusReader& operator=(RouterStatusReader&&) noexcept;
  // The next entry; false at the end or on malformed input (check error()).
  bool next(RouterStatus& out);
  // Errc::ok unless next() stopped on bad input; offset is into `text`.
  const Error& error() const noexcept { return error_; }

 private:
  // Helpers of next() (parser/router_status.cpp). The slow paths, out of
  // line: an r line not in tor's usual layout (`rest` is the text after
  // "r "), and a "w" line.
  bool fail(std::size_t off, std::string what);
  bool parse_r_general(std::string_view rest, std::size_t line_start, RouterStatus& out);
  bool parse_w(std::string_view rest, std::size_t line_start, RouterStatus& out);

  // ---- private fields ----
  std::string_view text_;
  std::span<const std::uint32_t> ends_;  // given LFs, else empty
  std::size_t pos_ = 0;
  std::size_t end_idx_ = 0;  // next unused entry of ends_
  // Flags of "s" lines seen before, for long texts (ns/all) only: created on
  // the first "s" line of a text over kCacheFrom bytes.
  static constexpr std::size_t kCacheFrom = 16 * 1024;
  std::unique_ptr<detail::FlagsCache> flags_cache_;
  Error error_;
};

}  // namespace torcon
