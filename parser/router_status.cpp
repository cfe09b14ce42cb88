#include "torcon/router_status.hpp"

#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>

#include "router_status_fast.hpp"
#include "torcon/tokens.hpp"

namespace torcon {
namespace {

constexpr std::string_view kFlagNames[] = {
    "Authority",     "BadExit", "Exit",   "Fast",      "Guard", "HSDir",   "MiddleOnly", "Named",
    "NoEdConsensus", "Running", "Stable", "StaleDesc", "Sybil", "Unnamed", "V2Dir",      "Valid",
};
static_assert(std::size(kFlagNames) == std::size_t(RouterFlag::kCount));

}  // namespace

using namespace detail;

std::string_view to_string(RouterFlag f) noexcept {
  return f < RouterFlag::kCount ? kFlagNames[std::size_t(f)] : std::string_view{};
}

bool parse_router_flag(std::string_view name, RouterFlag& out) noexcept {
  // Tiny table, sorted: a length check rejects most mismatches at once.
  for (std::size_t i = 0; i < std::size(kFlagNames); ++i) {
    if (kFlagNames[i].size() == name.size() && kFlagNames[i] == name) {
      out = RouterFlag(i);
      return true;
    }
  }
  return false;
}

std::string fingerprint_hex(const std::array<std::uint8_t, 20>& id) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string s(40, '0');
  for (std::size_t i = 0; i < 20; ++i) {
    s[2 * i] = kHex[id[i] >> 4];
    s[2 * i + 1] = kHex[id[i] & 15];
  }
  return s;
}

std::string format_ipv4(std::uint32_t a) {
  return std::to_string(a >> 24) + '.' + std::to_string(a >> 16 & 255) + '.' +
         std::to_string(a >> 8 & 255) + '.' + std::to_string(a & 255);
}

std::string format_iso_time(std::int64_t t) {
  std::int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  std::int64_t secs = t - days * 86400;
  // civil_from_days
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = unsigned(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = std::int64_t(yoe) + era * 400 + (m <= 2);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u %02d:%02d:%02d", static_cast<long long>(y), m, d,
                int(secs / 3600), int(secs / 60 % 60), int(secs % 60));
  return buf;
}

bool OrAddressLines::next(std::string_view& addr) {
  while (!rest_.empty()) {
    const std::size_t lf = rest_.find('\n');
    std::string_view l = rest_.substr(0, lf);
    rest_ = lf == std::string_view::npos ? std::string_view{} : rest_.substr(lf + 1);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.size() > 2 && l[0] == 'a' && l[1] == ' ') {
      addr = l.substr(2);
      return true;
    }
  }
  return false;
}

RouterStatusReader::RouterStatusReader(std::string_view text) : text_(text) {}
RouterStatusReader::RouterStatusReader(std::string_view text,
                                       std::span<const std::uint32_t> line_ends)
    : text_(text), ends_(line_ends) {}
RouterStatusReader::~RouterStatusReader() = default;
RouterStatusReader::RouterStatusReader(RouterStatusReader&&) noexcept = default;
RouterStatusReader& RouterStatusReader::operator=(RouterStatusReader&&) noexcept = default;

bool RouterStatusReader::fail(std::size_t off, std::string what) {
  error_ = Error(Errc::bad_router_status, std::move(what), off);
  pos_ = text_.size();
  return false;
}

bool RouterStatusReader::next(RouterStatus& out) {
  if (error_.code != Errc::ok) return false;
  const char* const base = text_.data();
  const std::size_t n = text_.size();
  const char* const lim = base + n;
  bool have_r = false;
  std::size_t entry_start = 0, entry_end = 0, a_first = 0, a_end = 0;
  const bool given = !ends_.empty();
  std::size_t idx = end_idx_;
  // Scans only when no line ends were given (constructing it loads a block).
  std::optional<LfScanner> lfs;
  if (!given) lfs.emplace(base, n, pos_);

  while (pos_ < n) {
    const std::size_t line_start = pos_;
    std::size_t lf;
    if (!given) {
      lf = lfs->next();
    } else if (idx < ends_.size()) [[likely]] {
      lf = ends_[idx];
      // Given offsets are not trusted: each must be an LF ending a line
      // inside the text.
      if (lf < line_start || lf >= n || base[lf] != '\n') [[unlikely]]
        return fail(line_start, "line_ends do not match the text");
    } else {
      lf = n;
    }
    const std::size_t next_pos = lf < n ? lf + 1 : n;
    // The text is usually out of cache by now (framed as a whole before this
    // pass): fetch ~5 entries ahead so the decoders' loads do not stall. An
    // address, not a pointer, as it may lie past the text (prefetches never
    // fault).
    __builtin_prefetch(reinterpret_cast<const void*>(std::uintptr_t(base) + line_start + 2048));
    const char* lp = base + line_start;
    std::size_t len = lf - line_start;
    if (len && lp[len - 1] == '\r') --len;
    if (len && lp[0] == '.') ++lp, --len;  // dot-stuffing
    if (len == 0) {
      pos_ = next_pos;
      idx += given;
      continue;
    }
    // Keywords are classified by their first bytes: "r", "s", ... are one
    // letter then a space (or the line's end), "pr" two. `rest` is what
    // follows the space (an empty view at the line's end when there is none).
    const char k0 = lp[0];
    const bool kw1 = len == 1 || lp[1] == ' ';
    const char* const le = lp + len;
    const std::string_view rest(kw1 && len > 1 ? lp + 2 : le, kw1 && len > 1 ? len - 2 : 0);

    if (kw1 && k0 == 'r') {
      if (have_r) break;  // the next entry starts here; pos_ stays on it
      have_r = true;
      // Copied from a constant, not value-initialised: GCC zeroes the ~200
      // bytes with a `rep stos`, whose start-up cost shows per entry.
      static const RouterStatus kEmpty{};
      out = kEmpty;
      entry_start = line_start;
      if (!parse_r_fixed(rest.data(), le, lim, out)) {
        out = RouterStatus{};
        if (!parse_r_general(rest, line_start, out)) return false;
      }
      pos_ = entry_end = next_pos;
      idx += given;
      continue;
    }
    if (!have_r) {
      std::size_t kwlen = 0;
      while (kwlen < len && lp[kwlen] != ' ') ++kwlen;
      // Appended, not operator+: g++ 12 -O3 warns (-Wrestrict) on that form.
      std::string what = "\"";
      what.append(lp, kwlen).append("\" line before any r line");
      return fail(line_start, std::move(what));
    }

    if (kw1) {
      switch (k0) {
        case 's':
          // A repeated "s" line replaces the flags, as it replaces flags_text.
          out.flags_text = rest;
          if (!flags_cache_ && n >= kCacheFrom) flags_cache_ = std::make_unique<FlagsCache>();
          out.flags = flags_cache_ ? flags_cache_->get(rest.data(), rest.size(), lim)
                                   : decode_flags(rest.data(), rest.size(), lim);
          break;
        case 'a':
          if (a_first == 0) {
            a_first = std::size_t(lp - base);
            Ipv6OrAddress addr;
            if (parse_or_address6_fast(rest, lim, addr)) {
              out.ipv6 = addr;
              out.has_ipv6 = true;
            }
          }
          a_end = std::size_t(le - base);
          break;
        case 'w':
          // Most w lines are "Bandwidth=N" alone: no token loop for them.
          if (!parse_w_bandwidth_only(rest, out) && !parse_w(rest, line_start, out)) return false;
          break;
        case 'v': out.version = rest; break;
        case 'p': out.policy = rest; break;
        case 'm':
          switch (classify_m_line(rest)) {
            case MLine::kDigest: out.microdesc_digest = rest; break;
            case MLine::kVote: break;
            case MLine::kBad: return fail(line_start, kBadMicrodescDigest);
          }
          break;
        default: break;
      }
    } else if (k0 == 'p' && lp[1] == 'r' && (len == 2 || lp[2] == ' ')) {
      out.protocols = len > 2 ? std::string_view(lp + 3, len - 3) : std::string_view(le, 0);
    }
    // Keywords a newer tor adds: part of the entry, nothing to parse.
    pos_ = entry_end = next_pos;
    idx += given;
  }
  end_idx_ = idx;
  if (!have_r) return false;
  if (a_first) out.a_lines = std::string_view(base + a_first, a_end - a_first);
  // Drop the last line's ending exactly as line views do (one LF, then one
  // CR): a stray CR before it is text.
  std::size_t e = entry_end;
  if (e > entry_start && base[e - 1] == '\n') --e;
  if (e > entry_start && base[e - 1] == '\r') --e;
  out.entry = std::string_view(base + entry_start, e - entry_start);
  return true;
}

bool RouterStatusReader::parse_r_general(std::string_view rest, std::size_t line_start,
                                         RouterStatus& out) {
  std::string why;
  return detail::parse_r_general(rest, out, why) || fail(line_start, std::move(why));
}

bool RouterStatusReader::parse_w(std::string_view rest, std::size_t line_start, RouterStatus& out) {
  std::string why;
  return detail::parse_w(rest, out, why) || fail(line_start, std::move(why));
}

namespace detail {

// Any r line the fixed-offset path declined: split into fields and check
// each, with a precise error.
bool parse_r_general(std::string_view rest, RouterStatus& out, std::string& why) {
  const auto fail = [&why](std::string what) {
    why = std::move(what);
    return false;
  };
  std::string_view f[8];
  int nf = 0;
  while (!rest.empty() && nf < 8) f[nf++] = field(rest);
  // Full form: nick id digest date time ip orport dirport; the
  // microdescriptor form has no digest.
  const bool with_digest = nf == 8;
  if (nf < 7 || !rest.empty())
    return fail("r line needs 7 or 8 fields, has " + std::to_string(nf + !rest.empty()));
  const std::string_view nick = f[0];
  if (!is_nickname(nick))
    return fail(nick.empty() || nick.size() > 19 ? "nickname must be 1-19 characters"
                                                 : "nickname has a non-alphanumeric byte");
  std::memcpy(out.nickname_buf, nick.data(), nick.size());
  out.nickname_len = std::uint8_t(nick.size());
  if (!decode_digest_fast(f[1], out.identity)) return fail("identity is not 27 base64 characters");
  int i = 2;
  if (with_digest && !decode_digest_fast(f[i++], out.digest))
    return fail("descriptor digest is not 27 base64 characters");
  if (!parse_time(f[i], f[i + 1], out.published))
    return fail("publication time is not YYYY-MM-DD HH:MM:SS");
  i += 2;
  if (!parse_ipv4(f[i++], out.ipv4)) return fail("bad IPv4 address in r line");
  if (!parse_port(f[i++], out.or_port)) return fail("bad ORPort in r line");
  if (!parse_port(f[i++], out.dir_port)) return fail("bad DirPort in r line");
  return true;
}

// "w" line: Bandwidth=, Measured=, Unmeasured=; other keys may hold anything.
bool parse_w(std::string_view rest, RouterStatus& out, std::string& why) {
  out.has_bandwidth = true;
  bool ok = true;
  for_each_token(rest.data(), rest.data() + rest.size(), [&](const char* t, std::size_t tl) {
    if (!ok) return;
    const std::string_view kv(t, tl);
    const std::size_t eq = kv.find('=');
    if (eq == std::string_view::npos) return;
    const std::string_view k = kv.substr(0, eq), v = kv.substr(eq + 1);
    std::uint64_t num;
    if (!parse_uint(v, ~std::uint64_t{0}, num)) {
      if (k == "Bandwidth" || k == "Measured")
        ok = false, why = ("w line " + std::string(k) + " is not a number");
      return;
    }
    if (k == "Bandwidth")
      out.bandwidth = num;
    else if (k == "Measured")
      out.measured = num, out.has_measured = true;
    else if (k == "Unmeasured")
      out.unmeasured = num != 0;
  });
  return ok;
}

}  // namespace detail
}  // namespace torcon
