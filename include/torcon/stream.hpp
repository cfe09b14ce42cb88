// A stream (a client connection or DNS request tor carries over a circuit)
// as TorState knows it, kept current by STREAM events (control-spec 4.1.2)
// and GETINFO stream-status.
//
// Stream objects belong to a TorState; a `const Stream*` is valid until the
// stream leaves the state, right after the listeners have seen it CLOSED or
// FAILED.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "torcon/events.hpp"
#include "torcon/export.hpp"

namespace torcon {

namespace detail {
class StateCore;
}
class Circuit;

/// A stream as TorState knows it, kept current by STREAM events and GETINFO
/// stream-status.
class TORCON_API Stream {
 public:
  /// @{
  /// The stream's fields as the latest STREAM event or stream-status line gave
  /// them (control-spec 4.1.2 names: PURPOSE, SOCKS_*, CLIENT_PROTOCOL,
  /// NYM_EPOCH, SESSION_GROUP, ISO_FIELDS, REMOTE_REASON, ...); empty when tor
  /// did not send one. Views are owned by the TorState and valid while the
  /// stream is in it.
  std::string_view id() const noexcept { return id_; }
  /// Any status tor sends, CONTROLLER_WAIT and values newer than this
  /// library included (StreamStatus::other, with state_text()).
  StreamStatus state() const noexcept { return state_; }
  std::string_view state_text() const noexcept { return state_text_; }

  /// The circuit the stream is attached to, or null (not attached yet,
  /// detached, or the circuit already closed).
  const Circuit* circuit() const noexcept { return circuit_; }
  /// The circuit ID of the last event that named one ("0": none). After
  /// DETACHED and in the CONTROLLER_WAIT that follows it, tor names the
  /// circuit the stream just left.
  std::string_view circuit_id() const noexcept { return circuit_id_; }

  /// The target as written ("example.com:443", "[::1]:80", "::1:80") and
  /// split at the last ':' (brackets removed from an IPv6 host).
  std::string_view target() const noexcept { return target_; }
  std::string_view target_host() const noexcept { return host_; }
  std::uint16_t target_port() const noexcept { return port_; }
  /// The host the application asked for: the first target seen, before a
  /// REMAP replaced it with an address.
  std::string_view requested_host() const noexcept { return requested_host_; }
  bool target_is_onion() const noexcept;  ///< "*.onion"
  /// For "host.$FP.exit" / "host.nick.exit" targets: "$FP" / "nick"; else "".
  std::string_view target_exit() const noexcept;

  /// SOURCE_ADDR split: the application's address and port, or
  /// "(Tor_internal)" and 0 for streams tor opens itself.
  std::string_view source_address() const noexcept { return source_address_; }
  std::uint16_t source_port() const noexcept { return source_port_; }
  bool is_internal() const noexcept { return source_address_ == "(Tor_internal)"; }

  std::string_view purpose() const noexcept { return purpose_; }  ///< DIR_FETCH, USER, ...
  std::string_view socks_username() const noexcept { return socks_username_; }
  std::string_view socks_password() const noexcept { return socks_password_; }
  std::string_view client_protocol() const noexcept { return client_protocol_; }
  std::string_view nym_epoch() const noexcept { return nym_epoch_; }
  std::string_view session_group() const noexcept { return session_group_; }
  std::string_view iso_fields() const noexcept { return iso_fields_; }
  /// REASON / REMOTE_REASON of the last event that had them (FAILED, CLOSED,
  /// DETACHED, REMAP's SOURCE is not a reason).
  std::string_view reason() const noexcept { return reason_; }
  std::string_view remote_reason() const noexcept { return remote_reason_; }

  /// Tor is waiting for a controller to attach this stream (CONTROLLER_WAIT):
  /// what a stream attacher acts on. After a DETACHED, circuit_id() and
  /// remote_reason() say which circuit failed it and why (e.g. EXITPOLICY).
  bool needs_decision() const noexcept { return state_ == StreamStatus::controller_wait; }
  /// The stream may be waiting for a controller, though no CONTROLLER_WAIT
  /// was seen: the latest word about it is a snapshot line (GETINFO
  /// stream-status) saying NEW or NEWRESOLVE with circuit 0, and no event
  /// came since. tor (0.4.9) writes a stream it holds for a controller that
  /// way, and also one it is finding a circuit for itself, so only an
  /// ATTACHSTREAM tells them apart (555 "not managed by controller" for the
  /// latter). False for tor's own streams (PURPOSE DIR_FETCH, DIR_UPLOAD,
  /// ...; (Tor_internal)) when an event said so. StreamAttacher offers such
  /// streams once after each snapshot (stream_attacher.hpp).
  bool may_need_decision() const noexcept;
  /// How many times the stream was detached from a circuit.
  std::uint32_t detach_count() const noexcept { return detaches_; }

  /// @}
 private:
  friend class detail::StateCore;
  std::string id_;
  StreamStatus state_ = StreamStatus::other;
  std::uint8_t rank_ = 0;  ///< lifecycle order, see state/state_core.cpp
  std::uint16_t port_ = 0, source_port_ = 0;
  bool snapshot_new_ = false;  ///< see may_need_decision()
  std::uint32_t detaches_ = 0;
  std::string state_text_;
  const Circuit* circuit_ = nullptr;
  std::string circuit_id_;
  std::string target_, host_, requested_host_;
  std::string source_address_;
  std::string purpose_, socks_username_, socks_password_, client_protocol_, nym_epoch_,
      session_group_, iso_fields_;
  std::string reason_, remote_reason_;
};

}  // namespace torcon
