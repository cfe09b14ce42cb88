// A relay as TorState knows it: what the consensus says about it (GETINFO
// ns/all, NEWCONSENSUS and NS events), or only what an event named it by
// (a placeholder: a rendezvous point, a relay newer than our consensus).
//
// Router objects belong to a TorState; a `const Router*` stays valid (and
// keeps pointing at the same relay) until the router leaves the state: when a
// new consensus no longer lists it and no circuit path or guard names it.
// A router that stays across consensuses keeps its object.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/expected.hpp"
#include "torcon/export.hpp"
#include "torcon/router_entry.hpp"
#include "torcon/router_status.hpp"

namespace torcon {

namespace detail {
class RouterTable;
}
class ExitPolicy;  // exit_policy.hpp
struct IpAddress;  // exit_policy.hpp

/// A relay's identity: the 20-byte SHA-1 of its identity key (the fingerprint decoded).
using RouterIdentity = std::array<std::uint8_t, 20>;

/// Ports first..last, both included.
struct TORCON_API PortRange {
  std::uint16_t first = 0;  ///< the lowest port
  std::uint16_t last = 0;   ///< the highest port (inclusive)
  /// Field-wise equality.
  bool operator==(const PortRange&) const = default;
};

/// The consensus' exit-policy summary ("p accept 80,443" / "p reject 1-65535",
/// dir-spec 3.4.1). It covers only rules that apply to every address: an exit
/// that accepts just 127.0.0.0/8 is summarised as "reject 1-65535".
class TORCON_API ExitPolicySummary {
 public:
  /// "accept PortList" or "reject PortList"; PortList = ranges "N" or "N-M",
  /// comma-separated, ascending. Errc::bad_router_status otherwise.
  static Expected<ExitPolicySummary> parse(std::string_view text);
  /// Whether the summary lets streams out to `port`.
  bool accepts(std::uint16_t port) const noexcept;
  /// "accept" (the ranges are allowed) rather than "reject" (all but the ranges).
  bool is_accept_list() const noexcept { return accept_; }
  /// The ranges listed, ascending.
  std::span<const PortRange> ranges() const noexcept { return ranges_; }
  /// The summary as written.
  const std::string& text() const noexcept { return text_; }

 private:
  std::string text_;
  std::vector<PortRange> ranges_;
  bool accept_ = false;
};

/// Where exits_to() got its answer.
enum class PolicySource : std::uint8_t {
  none,        ///< nothing known (a placeholder, or no "p" line): `allowed` is false
  summary,     ///< the consensus' "p" summary (rules for all addresses only)
  descriptor,  ///< the relay's full policy, from its server descriptor
};
/// Router::exits_to()'s answer and what it rests on.
struct TORCON_API ExitAnswer {
  bool allowed = false;                      ///< streams to the port may leave here
  PolicySource source = PolicySource::none;  ///< what the answer is based on
};

/// What a router listener is told (TorState::on_router).
enum class RouterChange : std::uint8_t {
  added,    ///< entered the state: in a consensus, or as a placeholder
  changed,  ///< a new consensus or NS event changed what is known of it
  removed,  ///< left the state: the pointer is invalid after this call
};

/// A relay as TorState knows it: its consensus entry, kept current by NS and
/// NEWCONSENSUS events (or a placeholder for a relay an event named).
class TORCON_API Router {
 public:
  /// The identity (fingerprint, decoded).
  const RouterIdentity& identity() const noexcept { return identity_; }
  std::string fingerprint() const { return fingerprint_hex(identity_); }  ///< 40 upper-case hex
  /// The nickname in the consensus (or as the event named it).
  std::string_view nickname() const noexcept { return {nickname_, nickname_len_}; }
  /// False for a placeholder: a relay an event named that the current
  /// consensus does not list (only identity and nickname are known).
  bool in_consensus() const noexcept { return in_consensus_; }

  std::uint32_t ipv4() const noexcept { return ipv4_; }          ///< host byte order; 0 if unknown
  std::uint16_t or_port() const noexcept { return or_port_; }    ///< 0 if unknown
  std::uint16_t dir_port() const noexcept { return dir_port_; }  ///< 0: none
  /// The "a" lines' addresses that parse, in order (usually zero or one).
  std::span<const Ipv6OrAddress> ipv6() const noexcept {
    if (ipv6_count_ <= 1) return {&ipv6_one_, ipv6_count_};
    return ipv6_many_;
  }

  /// Flags this version knows, as bits; flags a newer tor adds, as written
  /// ("" if none), space-separated.
  RouterFlags flags() const noexcept { return flags_; }
  std::string_view unknown_flags() const noexcept { return unknown_flags_; }  ///< see flags()
  /// Any flag by name, known or not.
  bool has_flag(std::string_view name) const noexcept;

  /// The "w" line: consensus weight, and whether it was measured.
  RouterBandwidth bandwidth() const noexcept { return bandwidth_; }
  std::string_view version() const noexcept { return version_; }  ///< "Tor 0.4.8.12"; "" if none
  /// The "p" line, or null (none, or a placeholder).
  const ExitPolicySummary* policy() const noexcept { return policy_; }
  /// Whether this relay lets streams out to `port` on any address, and on
  /// what that answer rests.
  ExitAnswer exits_to(std::uint16_t port) const noexcept;
  /// Whether it lets a stream out to `address`:`port`. With the relay's
  /// server descriptor loaded (TorState::load_descriptors), its full policy
  /// answers (source descriptor); else the summary (source summary), which
  /// knows nothing of rules for particular addresses (it rejects a port
  /// that an address-specific rule accepts, and vice versa). An address
  /// that is not IPv4 or IPv6 gets {false, none}.
  ExitAnswer exits_to(std::string_view address, std::uint16_t port) const noexcept;
  /// exits_to() for an address already parsed (IpAddress::parse()).
  ExitAnswer exits_to(const IpAddress& address, std::uint16_t port) const noexcept;
  /// The full policy, when the descriptor was loaded; else null.
  const ExitPolicy* descriptor_policy() const noexcept { return descriptor_policy_; }

  // Deliberately absent: the r line's publication time. tor >= 0.4.8 writes
  // a fixed 2038 date there, so no age can be derived from it.

 private:
  friend class detail::RouterTable;
  RouterIdentity identity_{};
  char nickname_[19] = {};
  std::uint8_t nickname_len_ = 0;
  bool in_consensus_ = false;
  /// 0 or 1: the addresses are in ipv6_one_; 2: in ipv6_many_. Relays with
  /// one "a" line (two in five) then need no allocation for it.
  std::uint8_t ipv6_count_ = 0;
  std::uint16_t or_port_ = 0, dir_port_ = 0;
  std::uint32_t ipv4_ = 0;
  RouterFlags flags_;
  RouterBandwidth bandwidth_;
  std::string_view unknown_flags_;                 ///< interned by the table
  std::string_view version_;                       ///< interned
  const ExitPolicySummary* policy_ = nullptr;      ///< interned
  const ExitPolicy* descriptor_policy_ = nullptr;  ///< owned by the table
  Ipv6OrAddress ipv6_one_;
  std::vector<Ipv6OrAddress> ipv6_many_;  ///< when there are two or more
  /// Table bookkeeping.
  std::uint32_t refs_ = 0;        ///< circuit hops and guards naming it
  std::uint32_t generation_ = 0;  ///< last consensus that listed it
  Router* next_same_nick_ = nullptr;
};

}  // namespace torcon
