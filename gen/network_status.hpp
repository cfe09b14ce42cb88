// A generated Tor network and the network-status documents tor 0.4.9 gives for
// it on the control port: the reply to "GETINFO ns/all" and to "GETINFO
// dir/status-vote/current/consensus-microdesc" (dir-spec 3.4.1 and 3.9.2).
//
// Relay #i depends only on (seed, i), never on how many relays the network
// has, so a larger network contains every relay of a smaller one. Output is a
// pure function of the options (gen/random.hpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gen/text.hpp"

namespace torcon::gen {

// The consensus's valid-after, 2025-11-01 12:00:00 UTC; the simulated events
// (gen/events.hpp) start within the hour after it.
inline constexpr std::int64_t kValidAfter = unix_seconds(2025, 11, 1, 12);

// Router flags. Bit order is alphabetical, so writing the set bits in order
// gives tor's sorted "s" line.
enum RelayFlag : std::uint16_t {
  kAuthority = 1 << 0,
  kBadExit = 1 << 1,
  kExit = 1 << 2,
  kFast = 1 << 3,
  kGuard = 1 << 4,
  kHSDir = 1 << 5,
  kMiddleOnly = 1 << 6,
  kNoEdConsensus = 1 << 7,
  kRunning = 1 << 8,
  kStable = 1 << 9,
  kStaleDesc = 1 << 10,
  kV2Dir = 1 << 11,
  kValid = 1 << 12,
};

// The first relays of every network are its directory authorities (at most
// this many), as in the public network.
inline constexpr std::size_t kAuthorities = 9;

struct Relay {
  std::array<std::uint8_t, 20> identity{};          // RSA identity digest
  std::array<std::uint8_t, 32> microdesc_digest{};  // SHA-256 of its microdescriptor
  std::string nickname;
  std::uint32_t ipv4 = 0;  // host byte order
  std::uint16_t or_port = 0;
  std::uint16_t dir_port = 0;
  std::string ipv6_or_address;  // "[addr]:port" of the "a" line; empty: none
  std::uint16_t flags = 0;      // RelayFlag bits
  std::string_view version;     // "Tor 0.4.8.17": the "v" line
  std::string_view protocols;   // the "pr" line
  std::string_view policy;      // exit policy summary: the "p" line
  std::uint32_t bandwidth = 0;  // consensus weight, "w Bandwidth="
  bool unmeasured = false;      // no bandwidth authority has measured it yet
  // Whether a relay answering "GETINFO ns/all" holds this relay's server
  // descriptor: only then does tor write the "p" line. Relays fetch every
  // descriptor, but one published minutes ago may not have arrived.
  bool descriptor_known = true;
};

Relay make_relay(std::uint64_t seed, std::size_t index);

// "$FINGERPRINT~nickname", as events name relays (control-spec 2.4).
std::string long_name(const Relay& relay);

struct NsAllOptions {
  std::size_t routers = 8000;
  std::uint64_t seed = 1;
  // Whether the answering tor holds server descriptors (a relay does, a
  // client using microdescriptors does not): only then have entries a "p"
  // line.
  bool descriptors = true;
};

// The complete reply tor 0.4.9 sends to "GETINFO ns/all", CRLF line ends:
//   "250+ns/all=" CRLF <entries> "." CRLF "250 OK" CRLF
// Each entry as tor's routerstatus_format_entry writes it for the control
// port, sorted by identity:
//   r Nickname Identity Digest 2038-01-01 00:00:00 IPv4 ORPort DirPort
//   [a "[" IPv6 "]:" ORPort]      (about two relays in five)
//   s Flags
//   w Bandwidth=N
//   [p accept|reject PortList]    (when the descriptor is known)
// Tor keeps no publication time or version per router any more: every entry
// says 2038-01-01 00:00:00 and there is no "v"/"pr" line. Digest is the
// first 20 bytes of the microdescriptor digest, as tor holds it when it uses
// the microdescriptor consensus.
std::string ns_all_reply(const NsAllOptions& opts);

struct MicrodescConsensusOptions {
  std::size_t routers = 8000;
  std::uint64_t seed = 1;
};

// The reply to "GETINFO dir/status-vote/current/consensus-microdesc": the
// whole microdescriptor-flavoured consensus document (header, dir-source
// entries, router entries, footer, signatures), CRLF line ends. Router
// entries are in the order tor writes them (dir-spec 3.9.2):
//   r Nickname Identity 2038-01-01 00:00:00 IPv4 ORPort DirPort   (no digest)
//   [a "[" IPv6 "]:" ORPort]
//   m MicrodescDigest             (43 base64 characters, SHA-256, no '=')
//   s Flags
//   v Tor Version
//   pr Protocols
//   w Bandwidth=N [Unmeasured=1]
// The relays are those of ns_all_reply() with the same routers and seed.
std::string microdesc_consensus_reply(const MicrodescConsensusOptions& opts);

}  // namespace torcon::gen
