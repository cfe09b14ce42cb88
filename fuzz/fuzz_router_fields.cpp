// libFuzzer harness: every fast router status decoder
// (parser/router_status_fast.hpp) against its reference
// (parser/router_status_detail.hpp).
//
// The first input byte picks the decoder and how much readable slack follows
// the text (none: the scalar fallbacks run; 64 bytes of the input's own
// bytes: the SIMD loads run, on whatever follows the field). The rest is the
// field's text, in a heap block of exactly its size plus the slack, so ASan
// sees any read past the slack. Invariants (any violation aborts):
//  * a fast decoder that accepts gives exactly the reference's values, and
//    the reference accepts too (parse_r_fixed, ip_ports_fast, time_fast);
//  * parse_or_address6_fast and decode_flags always give the reference's
//    answer (they decline internally), decode_flags also whether a name is
//    none of the known flags; or_address6_simd, when it accepts, too;
//  * decode27_fast gives decode27's answer and bytes (on the r line case);
//  * swar_digits equals parse_uint on any 1-8 digits;
//  * FlagsCache, over the input's LF-separated lines twice, always gives
//    decode_flags()'s answers.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "router_status_fast.hpp"

namespace {

using namespace torcon;
using namespace torcon::detail;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const unsigned which = data[0] % 7;
  const std::size_t slack = data[0] & 0x80 ? 64 : 0;
  const std::size_t n = size - 1;
  std::unique_ptr<char[]> buf(new char[n + slack + 1]);  // +1: never a zero-size block
  std::memcpy(buf.get(), data + 1, n);
  for (std::size_t i = 0; i < slack; ++i) buf[n + i] = n ? char(data[1 + i % n]) : ' ';
  const char* const p = buf.get();
  const char* const e = p + n;
  const char* const lim = e + slack;
  const std::string_view t(p, n);

  switch (which) {
    case 0: {
      RouterStatus a, b;
      std::string why;
      if (parse_r_fixed(p, e, lim, a)) {
        FUZZ_CHECK(parse_r_general(t, b, why));
        FUZZ_CHECK(a.nickname() == b.nickname());
        FUZZ_CHECK(a.identity == b.identity);
        FUZZ_CHECK(a.digest == b.digest);
        FUZZ_CHECK(a.published == b.published);
        FUZZ_CHECK(a.ipv4 == b.ipv4 && a.or_port == b.or_port && a.dir_port == b.dir_port);
      }
      if (n >= 27) {
        std::uint8_t x[20] = {}, y[20] = {};
        const bool ok = decode27(p, x);
        FUZZ_CHECK(decode27_fast(p, lim, y) == ok);
        FUZZ_CHECK(!ok || std::memcmp(x, y, 20) == 0);
      }
      break;
    }
    case 1: {
      RouterStatus a, b;
      if (ip_ports_fast(p, e, lim, a)) {
        FUZZ_CHECK(parse_ip_ports(t, b));
        FUZZ_CHECK(a.ipv4 == b.ipv4 && a.or_port == b.or_port && a.dir_port == b.dir_port);
      }
      break;
    }
    case 2: {
      std::int64_t a = 0, b = 0;
      if (n >= 19 && time_fast(p, lim, a)) {
        FUZZ_CHECK(t[10] == ' ' && parse_time(t.substr(0, 10), t.substr(11, 8), b));
        FUZZ_CHECK(a == b);
      }
      break;
    }
    case 3: {
      Ipv6OrAddress a, b, c;
      const bool ok = parse_or_address6_fast(t, lim, a);
      FUZZ_CHECK(ok == parse_or_address6(t, b));
      FUZZ_CHECK(!ok || (a.addr == b.addr && a.port == b.port));
      if (or_address6_simd(t, lim, c)) FUZZ_CHECK(ok && c.addr == b.addr && c.port == b.port);
      break;
    }
    case 4: {
      RouterFlags want;
      bool want_unknown = false;
      for_each_token(p, e, [&](const char* tok, std::size_t len) {
        RouterFlag f;
        if (flag_fast(tok, len, f))
          want.set(f);
        else if (len != 0)
          want_unknown = true;
      });
      bool unknown = !want_unknown;
      FUZZ_CHECK(decode_flags(p, n, lim, unknown) == want);
      FUZZ_CHECK(unknown == want_unknown);
      break;
    }
    case 5: {
      std::size_t digits = 0;
      while (digits < n && digits < 8 && p[digits] >= '0' && p[digits] <= '9') ++digits;
      if (digits && n >= 8) {
        std::uint64_t want = 0;
        FUZZ_CHECK(parse_uint(t.substr(0, digits), ~std::uint64_t{0}, want));
        FUZZ_CHECK(swar_digits(p, unsigned(digits)) == want);
      }
      break;
    }
    case 6: {
      FlagsCache cache;
      for (int round = 0; round < 2; ++round) {
        for (const char* l = p; l < e;) {
          const void* lf = std::memchr(l, '\n', std::size_t(e - l));
          const char* le = lf ? static_cast<const char*>(lf) : e;
          const std::size_t len = std::size_t(le - l);
          bool unknown = false, want_unknown = true;
          FUZZ_CHECK(cache.get(l, len, lim, unknown) == decode_flags(l, len, lim, want_unknown));
          FUZZ_CHECK(unknown == want_unknown);
          l = le + 1;
        }
      }
      break;
    }
  }
  return 0;
}
