// A relay's full exit policy, from its server descriptor (dir-spec 2.1.1:
// "accept"/"reject" exitpattern lines, and the "ipv6-policy" summary), as
// opposed to the consensus' "p" summary (router.hpp), which keeps only the
// rules that apply to every address: an exit that accepts just 127.0.0.0/8
// is summarised "reject 1-65535", but its descriptor says "accept
// 127.0.0.0/8:*".
//
// Full descriptors are only there when tor fetches them: a relay, a client
// with UseMicrodescriptors 0 (or FetchUselessDescriptors 1). A client on
// microdescriptors (tor's default) answers GETINFO desc/... with an error
// ("We fetch microdescriptors, not router descriptors ...") and has only
// the summaries.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/expected.hpp"
#include "torcon/router.hpp"

namespace torcon {

// An IPv4 or IPv6 address, in network byte order.
struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // IPv4: the first 4
  // "192.0.2.1", "2001:db8::1", "[2001:db8::1]"; nullopt otherwise.
  static std::optional<IpAddress> parse(std::string_view text);
  bool operator==(const IpAddress&) const = default;
};

// One "accept"/"reject" line: addrspec ":" portspec.
struct ExitRule {
  bool accept = false;
  enum class Family : std::uint8_t { any, v4, v6 } family = Family::any;  // any: "*"
  IpAddress address;                                                      // the network (masked)
  std::uint8_t prefix_len = 0;  // bits of `address` that must match
  PortRange ports{1, 65535};
  bool matches(const IpAddress& a, std::uint16_t port) const noexcept;
  // "accept 127.0.0.0/8:*", "reject [2001:db8::]/32:80-443", "accept *:*"
  // (also "accept6"/"reject6", as torrc writes them); the mask may be a bit
  // count or, for IPv4, a dotted mask. Errc::bad_argument otherwise.
  static Expected<ExitRule> parse(std::string_view line);
};

class ExitPolicy {
 public:
  // The policy lines of one server descriptor (other lines are skipped; a
  // malformed policy line is an error, never a rule silently dropped).
  static Expected<ExitPolicy> from_descriptor(std::string_view descriptor);

  // IPv4 destinations: the rules in order, the first that matches decides;
  // none matching accepts (dir-spec 2.1.3 — tor ends every policy with a
  // catch-all). IPv6 destinations: rules written for IPv6 addresses decide
  // first; then the "ipv6-policy" summary; without one, rejected (a relay
  // exits to IPv6 only when it publishes that line).
  bool allows(const IpAddress& address, std::uint16_t port) const noexcept;

  const std::vector<ExitRule>& rules() const noexcept { return rules_; }
  const std::optional<ExitPolicySummary>& ipv6_summary() const noexcept { return ipv6_; }

 private:
  std::vector<ExitRule> rules_;
  std::optional<ExitPolicySummary> ipv6_;
};

// The server descriptors in a GETINFO desc/id/... or desc/all-recent value:
// each starts at a "router " line. The identity comes from its
// "fingerprint" line (40 hex digits, in groups of 4 or not).
struct ServerDescriptor {
  std::string_view text;
  std::optional<RouterIdentity> identity;
};
std::vector<ServerDescriptor> split_server_descriptors(std::string_view text);

}  // namespace torcon
