// libFuzzer harness: server descriptors' exit policies (exit_policy.hpp),
// on any bytes. Invariants (any violation aborts):
//  * split_server_descriptors' texts lie within the input, in order, each
//    starting with "router ";
//  * a rule that parses has a prefix within its family's width, no address
//    bits past the prefix, a port range 1 <= first <= last, and matches its
//    own network address at its first port;
//  * a policy that parses answers allows() for addresses taken from the
//    input without crashing, and port 0 is never allowed.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "torcon/exit_policy.hpp"

namespace {

using namespace torcon;

void check_rule(const ExitRule& r) {
  FUZZ_CHECK(r.ports.first >= 1 && r.ports.first <= r.ports.last);
  if (r.family == ExitRule::Family::any) return;
  const unsigned width = r.family == ExitRule::Family::v6 ? 128 : 32;
  FUZZ_CHECK(r.prefix_len <= width);
  FUZZ_CHECK(r.address.v6 == (r.family == ExitRule::Family::v6));
  for (unsigned i = r.prefix_len; i < 128; ++i)
    FUZZ_CHECK((r.address.bytes[i / 8] & (0x80u >> (i % 8))) == 0);
  FUZZ_CHECK(r.matches(r.address, r.ports.first));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::string_view text(input);

  const char* prev_end = text.data();
  for (const ServerDescriptor& d : split_server_descriptors(text)) {
    FUZZ_CHECK(fuzz::inside(d.text, text));
    FUZZ_CHECK(d.text.data() >= prev_end);
    FUZZ_CHECK(d.text.starts_with("router "));
    prev_end = d.text.data() + d.text.size();
  }

  // Every line as a rule on its own.
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t lf = text.find('\n', pos);
    if (lf == std::string_view::npos) lf = text.size();
    Expected<ExitRule> r = ExitRule::parse(text.substr(pos, lf - pos));
    if (r) check_rule(*r);
    pos = lf + 1;
  }

  Expected<ExitPolicy> p = ExitPolicy::from_descriptor(text);
  if (!p) return 0;
  for (const ExitRule& r : p->rules()) check_rule(r);
  // Probe with addresses made of the input's bytes, and the rules' own.
  IpAddress a4, a6;
  a6.v6 = true;
  std::memcpy(a4.bytes.data(), input.data(), std::min<std::size_t>(4, size));
  std::memcpy(a6.bytes.data(), input.data(), std::min<std::size_t>(16, size));
  const std::uint16_t port = size >= 2 ? std::uint16_t(data[0] << 8 | data[1]) : 80;
  FUZZ_CHECK(!p->allows(a4, 0) && !p->allows(a6, 0));
  (void)p->allows(a4, port);
  (void)p->allows(a6, port);
  for (const ExitRule& r : p->rules()) (void)p->allows(r.address, r.ports.last);
  return 0;
}
