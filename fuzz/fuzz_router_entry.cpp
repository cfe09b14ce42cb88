// libFuzzer differential harness: RouterEntryReader (lazy) against
// RouterStatusReader (eager) on the same text. Invariants (any violation
// aborts):
//  * for every entry the eager reader accepts, the lazy reader yields an
//    entry whose accessors and to_status() give the same values, and whose
//    views are the same bytes of the input;
//  * where the eager reader stops with an error, the lazy reader reports the
//    same offset: from the pass (next() false) or from decode() of that entry;
//  * where the eager reader ends cleanly, so does the lazy one.
//  * given the input's LF offsets, the lazy reader yields what it yields
//    scanning for them itself.
// ASan catches any read past the input (libFuzzer's buffer is exact-size).

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "torcon/router_entry.hpp"
#include "torcon/router_status.hpp"

namespace {

using namespace torcon;

bool same(std::string_view a, std::string_view b) {
  return a.data() == b.data() && a.size() == b.size();
}

void check_same(const RouterEntry& e, const RouterStatus& s, std::string_view in) {
  FUZZ_CHECK(in.data() + e.offset() == s.entry.data());
  FUZZ_CHECK(e.nickname() == s.nickname());
  FUZZ_CHECK(e.identity() == s.identity);
  FUZZ_CHECK(e.flags() == s.flags);
  FUZZ_CHECK(same(e.entry(), s.entry) && same(e.flags_text(), s.flags_text) &&
             same(e.version(), s.version) && same(e.protocols(), s.protocols) &&
             same(e.policy(), s.policy) && same(e.a_lines(), s.a_lines) &&
             same(e.microdesc_digest(), s.microdesc_digest));
  const auto v6 = e.ipv6();
  FUZZ_CHECK(v6.has_value() == s.has_ipv6);
  if (v6) FUZZ_CHECK(v6->addr == s.ipv6.addr && v6->port == s.ipv6.port);
  FUZZ_CHECK(e.digest().ok() && *e.digest() == s.digest);
  FUZZ_CHECK(e.published().ok() && *e.published() == s.published);
  FUZZ_CHECK(e.ipv4().ok() && *e.ipv4() == s.ipv4);
  FUZZ_CHECK(e.or_port().ok() && *e.or_port() == s.or_port);
  FUZZ_CHECK(e.dir_port().ok() && *e.dir_port() == s.dir_port);
  const auto bw = e.bandwidth();
  FUZZ_CHECK(bw.ok() && *bw == (RouterBandwidth{s.has_bandwidth, s.has_measured, s.unmeasured,
                                                s.bandwidth, s.measured}));
  RouterStatus t;
  Error err;
  FUZZ_CHECK(e.decode(t, err));
  FUZZ_CHECK(t.identity == s.identity && t.digest == s.digest && t.published == s.published &&
             t.ipv4 == s.ipv4 && t.or_port == s.or_port && t.dir_port == s.dir_port &&
             t.flags == s.flags && t.nickname() == s.nickname() && t.has_ipv6 == s.has_ipv6 &&
             t.ipv6.addr == s.ipv6.addr && t.ipv6.port == s.ipv6.port &&
             t.has_bandwidth == s.has_bandwidth && t.has_measured == s.has_measured &&
             t.unmeasured == s.unmeasured && t.bandwidth == s.bandwidth &&
             t.measured == s.measured);
  FUZZ_CHECK(same(t.entry, s.entry) && same(t.flags_text, s.flags_text) &&
             same(t.version, s.version) && same(t.protocols, s.protocols) &&
             same(t.policy, s.policy) && same(t.a_lines, s.a_lines) &&
             same(t.microdesc_digest, s.microdesc_digest));
}

// RouterEntryReader given the LF offsets (as ReplyReader records them) must
// yield what it yields scanning: the same entries, the same end or error.
void check_indexed(std::string_view in) {
  std::vector<std::uint32_t> ends;
  for (std::size_t i = 0; i < in.size(); ++i)
    if (in[i] == '\n') ends.push_back(std::uint32_t(i));
  RouterEntryReader scan(in), given(in, ends);
  RouterEntry a, b;
  while (true) {
    const bool more = scan.next(a);
    FUZZ_CHECK(given.next(b) == more);
    if (!more) break;
    FUZZ_CHECK(same(a.entry(), b.entry()) && a.offset() == b.offset() &&
               same(a.nickname(), b.nickname()) && a.identity() == b.identity() &&
               same(a.flags_text(), b.flags_text()) && same(a.version(), b.version()) &&
               same(a.protocols(), b.protocols()) && same(a.policy(), b.policy()) &&
               same(a.a_lines(), b.a_lines()) && same(a.microdesc_digest(), b.microdesc_digest()));
    const auto bwa = a.bandwidth(), bwb = b.bandwidth();
    FUZZ_CHECK(bwa.ok() == bwb.ok() && (!bwa.ok() || *bwa == *bwb));
  }
  FUZZ_CHECK(scan.error().code == given.error().code &&
             scan.error().offset == given.error().offset);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  check_indexed(in);
  RouterStatusReader eager(in);
  RouterEntryReader lazy(in);
  RouterStatus s;
  RouterEntry e;
  while (eager.next(s)) {
    FUZZ_CHECK(lazy.next(e));
    check_same(e, s, in);
  }
  if (eager.error().code == Errc::ok) {
    FUZZ_CHECK(!lazy.next(e));
    FUZZ_CHECK(lazy.error().code == Errc::ok);
    return 0;
  }
  if (lazy.next(e)) {
    RouterStatus t;
    Error err;
    FUZZ_CHECK(!e.decode(t, err));
    FUZZ_CHECK(err.offset == eager.error().offset);
  } else {
    FUZZ_CHECK(lazy.error().code == Errc::bad_router_status);
    // next() checks an entry's structure and its m line as it scans; the
    // fields it decodes on access (the r line's date, w, ...) only decode()
    // checks. So next() may stop at a later line of the entry in which the
    // eager reader found a field error first, never at an earlier one.
    FUZZ_CHECK(lazy.error().offset >= eager.error().offset);
  }
  return 0;
}
