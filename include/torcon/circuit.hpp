// A circuit as TorState knows it, kept current by CIRC, CIRC_MINOR and
// CIRC_BW events (control-spec 4.1.1, 4.1.19, 4.1.22) and GETINFO
// circuit-status.
//
// Circuit objects belong to a TorState; a `const Circuit*` is valid until
// the circuit leaves the state, right after the listeners have seen it
// CLOSED or FAILED.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/events.hpp"
#include "torcon/export.hpp"
#include "torcon/router.hpp"

namespace torcon {

namespace detail {
class StateCore;
}
class Stream;

/// CIRC_BW totals since TorState first saw the circuit: the sums of each
/// event's values (bytes).
struct TORCON_API CircuitBandwidth {
  /// @{
  /// CIRC_BW's READ/WRITTEN, DELIVERED_* and OVERHEAD_* (control-spec 4.1.22), summed.
  std::uint64_t read = 0, written = 0;
  std::uint64_t delivered_read = 0, delivered_written = 0;
  std::uint64_t overhead_read = 0, overhead_written = 0;
  /// @}
  /// Field-wise equality.
  bool operator==(const CircuitBandwidth&) const = default;
};

/// A circuit as TorState knows it (see the file's comment).
class TORCON_API Circuit {
 public:
  /// @{
  /// The circuit's fields as the latest CIRC event or circuit-status line gave
  /// them (control-spec 4.1.1 names: PURPOSE, HS_STATE, REND_QUERY, SOCKS_*,
  /// CONFLUX_ID, REMOTE_REASON, ...); empty when tor did not send one. Views
  /// are owned by the TorState and valid while the circuit is in it.
  std::string_view id() const noexcept { return id_; }
  CircStatus state() const noexcept { return state_; }
  std::string_view state_text() const noexcept { return state_text_; }  ///< as tor wrote it
  /// The hops built so far, first hop first. A hop is null only when tor
  /// named it by a bare nickname that no router of the state has.
  std::span<const Router* const> path() const noexcept { return path_; }

  std::string_view purpose() const noexcept { return purpose_; }
  std::string_view build_flags() const noexcept { return build_flags_; }  ///< "NEED_CAPACITY,..."
  std::string_view hs_state() const noexcept { return hs_state_; }
  std::string_view rend_query() const noexcept { return rend_query_; }
  /// TIME_CREATED as written, and decoded (UTC, microseconds) when it parses.
  std::string_view time_created_text() const noexcept { return time_created_; }
  std::optional<std::chrono::system_clock::time_point> time_created() const;
  /// SOCKS isolation fields, decoded.
  std::string_view socks_username() const noexcept { return socks_username_; }
  std::string_view socks_password() const noexcept { return socks_password_; }
  std::string_view conflux_id() const noexcept { return conflux_id_; }
  /// Set when the circuit failed or closed (seen by listeners only).
  std::string_view reason() const noexcept { return reason_; }
  std::string_view remote_reason() const noexcept { return remote_reason_; }

  /// CIRC_MINOR history: the purpose before the last PURPOSE_CHANGED, and
  /// whether tor cannibalised the circuit for a new use.
  std::string_view old_purpose() const noexcept { return old_purpose_; }
  bool cannibalized() const noexcept { return cannibalized_; }
  const CircuitBandwidth& bandwidth() const noexcept { return bandwidth_; }

  /// Streams attached to this circuit now.
  std::span<const Stream* const> streams() const noexcept { return streams_; }

  /// @}
 private:
  friend class detail::StateCore;
  std::string id_;
  CircStatus state_ = CircStatus::other;
  std::uint8_t rank_ = 0;  ///< lifecycle order, see state/state_core.cpp
  bool cannibalized_ = false;
  std::string state_text_;
  std::vector<const Router*> path_;
  std::string purpose_, build_flags_, hs_state_, rend_query_, time_created_;
  std::string socks_username_, socks_password_, conflux_id_;
  std::string reason_, remote_reason_, old_purpose_;
  CircuitBandwidth bandwidth_;
  std::vector<const Stream*> streams_;
};

}  // namespace torcon
