// The stream attacher: decides which circuit each of tor's streams takes.
//
//   torcon::StreamAttacher attacher(state, ctl);       // state: a TorState attached to ctl
//   attacher.add([&](torcon::AttachRequest& req) {
//     if (req.stream().target_port() == 443) return torcon::AttachDecision::circuit(my_circuit);
//     return torcon::AttachDecision::pass();           // not mine: ask the next attacher
//   });
//   attacher.on_report([](const torcon::AttachReport& r) { log(r.message); });
//   attacher.install([](const torcon::Status& s) { ... });
//
// install() sets `__LeaveStreamsUnattached 1`: tor then holds every new user
// stream in CONTROLLER_WAIT until a controller answers. remove() (and the
// destructor) set it back to 0, tor's default. tor keeps the option after a
// controller exits, so a controller that crashed leaves every stream waiting
// for nobody: install() reads it first and reports (AttachReport::leftover_option)
// when it is already 1 and no StreamAttacher of this process is installed on
// that Controller. TorState::attach() checks too (its on_listener_error()
// hears of it), and check_leave_streams_unattached() asks on its own.
// The option is per tor, not per connection: after reconnecting, install() again.
//
// When a decision is asked for. On `STREAM <id> CONTROLLER_WAIT`: tor sends it
// after NEW / NEWRESOLVE of a user stream, and again after DETACHED (tor sent
// the stream to a circuit and it came back, e.g. the exit's policy refused
// it). Streams tor opens for itself (PURPOSE=DIR_FETCH, DIR_UPLOAD, ...) never
// wait for a controller and are never offered. A re-offer carries the
// DETACHED's reasons (AttachRequest::remote_reason() "EXITPOLICY", ...) and the
// circuit the stream left, so an attacher can avoid sending it back there.
//
// Streams only a snapshot shows. GETINFO stream-status (TorState's
// snapshot) writes a stream held for a controller as NEW / NEWRESOLVE with
// circuit 0, exactly as one tor is finding a circuit for itself (tor 0.4.9;
// control-spec gives it no other state): Stream::may_need_decision(). Such
// streams are offered once per snapshot — attach()'s, and each resync's after
// a reconnection — when tor held streams for a controller then: the option
// was already 1 before install() set it (a StreamAttacher installed on an
// already-bootstrapped TorState), or install() preceded the snapshot, or,
// after a reconnection, the tor still had it set (the same tor: streams that
// waited through the gap). If tor answers the ATTACHSTREAM with 555 ("not
// managed by controller"), the stream was tor's own: reported (refused) and
// left to tor, no fallback. After a reconnection to the same tor, streams
// that were in CONTROLLER_WAIT are offered again (the answer may have been
// lost with the connection; a deferred one still owed is not), left ones
// included.
//
// Answers (AttachDecision):
//   circuit(id [, exit_hop])  ATTACHSTREAM <stream> <id> [HOP=n]. exit_hop 0:
//                             the last hop; n >= 2 exits at hop n; 1 (tor
//                             refuses it) or an ID that is not 1-16 letters or
//                             digits is refused before sending
//                             (AttachReport::invalid_decision) and the fallback
//                             follows.
//   tor_chooses()             ATTACHSTREAM <stream> 0.
//   close(reason)             CLOSESTREAM <stream> <reason>.
//   leave()                   nothing is sent: the stream stays in
//                             CONTROLLER_WAIT (for another controller, or until
//                             tor gives up on it).
//   later()                   after req.defer(): the PendingAttach it returned
//                             carries the answer later (e.g. once a circuit is
//                             built). An answer for a stream that ended or was
//                             re-offered meanwhile is a no-op (decide() false).
//   pass()                    not this attacher's business: the next one is asked.
//
// Chaining: attachers are asked in the order they were added; the first answer
// other than pass() is the decision. When every attacher passes (or there is
// none), tor chooses. A PendingAttach decided with pass() continues with the
// attacher after the one that deferred.
//
// `.onion` streams: tor refuses (551) to attach them to a general circuit and
// then kills the stream, so a circuit(...) answer for a stream whose target is
// `*.onion` is sent as circuit 0 (tor builds the rendezvous circuit) and
// reported to the attacher (AttachReport::onion_to_tor). close / leave / later
// are honoured.
//
// Refusals. When tor refuses an ATTACHSTREAM (551 circuit not open or gone,
// 552 unknown stream or circuit, 555 stream not attachable), the attacher that
// decided and on_report() get AttachReport::refused with tor's code and words,
// and then, if the stream is still waiting for the same decision, the
// fallback runs: AttacherOptions::fallback, by default tor_chooses (the
// stream still reaches its target; a scanner that must not leave through an
// unintended exit sets Fallback::close). If tor refuses that too, the stream
// is closed (REASON 1, MISC). The same fallback follows an invalid decision
// and a PendingAttach dropped undecided (AttachReport::abandoned). A stream is
// never silently forgotten: it is attached, closed, deliberately left, or
// reported.
//
// Latency: the decision for a CONTROLLER_WAIT runs inside the Controller's
// read of the event, and the ATTACHSTREAM is queued before the read returns,
// without allocating and without copying the event (bench/attach_bench.cpp
// measures it).
//
// Threading: none of its own; use it on the Controller's loop thread. The
// TorState and the Controller must outlive the StreamAttacher.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "torcon/controller.hpp"
#include "torcon/expected.hpp"
#include "torcon/export.hpp"

namespace torcon {

class Reactor;
class Stream;
class TorState;
namespace detail {
class AttachCore;
class SourcePortTable;
}  // namespace detail

/// The reasons CLOSESTREAM takes (tor-spec 6.3, RELAY_END reasons).
enum class StreamCloseReason : std::uint8_t {
  misc = 1,             ///< MISC: none of the others
  resolve_failed = 2,   ///< RESOLVEFAILED: the address could not be resolved
  connect_refused = 3,  ///< CONNECTREFUSED: the target refused the connection
  exit_policy = 4,      ///< EXITPOLICY: the exit's policy does not allow it
  destroy = 5,          ///< DESTROY: the circuit is being closed
  done = 6,             ///< DONE: the stream is finished
  timeout = 7,          ///< TIMEOUT: connecting took too long
  no_route = 8,         ///< NOROUTE: no route to the target
  hibernating = 9,      ///< HIBERNATING: the relay is hibernating
  internal = 10,        ///< INTERNAL: an internal error
  resource_limit = 11,  ///< RESOURCELIMIT: out of resources
  conn_reset = 12,      ///< CONNRESET: the connection was reset
  tor_protocol = 13,    ///< TORPROTOCOL: a protocol violation
  not_directory = 14,   ///< NOTDIRECTORY: a directory request to a non-directory
};

/// One answer to "which circuit?". Small and self-contained (no allocation):
/// the circuit ID is copied in.
class TORCON_API AttachDecision {
 public:
  /// Which answer it is (the factory functions below, one each).
  enum class Kind : std::uint8_t { pass, circuit, tor_chooses, close, leave, later };

  /// ATTACHSTREAM to `circuit_id`; exit_hop 0 exits at the last hop, n >= 2
  /// at hop n (1 is refused before sending, see valid()).
  static AttachDecision circuit(std::string_view circuit_id, int exit_hop = 0) noexcept;
  /// ATTACHSTREAM with circuit 0: tor picks or builds the circuit.
  static AttachDecision tor_chooses() noexcept { return AttachDecision(Kind::tor_chooses); }
  /// CLOSESTREAM with `reason`.
  static AttachDecision close(StreamCloseReason reason = StreamCloseReason::misc) noexcept;
  /// Nothing is sent: the stream stays in CONTROLLER_WAIT.
  static AttachDecision leave() noexcept { return AttachDecision(Kind::leave); }
  /// The answer comes later, through the PendingAttach from AttachRequest::defer().
  static AttachDecision later() noexcept { return AttachDecision(Kind::later); }
  /// Not this attacher's business: the next attacher in the chain is asked.
  static AttachDecision pass() noexcept { return AttachDecision(Kind::pass); }

  /// Which answer this is.
  Kind kind() const noexcept { return kind_; }
  /// circuit(): the ID as given ("" if it was longer than any ID tor uses).
  std::string_view circuit_id() const noexcept { return {id_, id_len_}; }
  /// circuit(): the hop to exit at (0: the last).
  int exit_hop() const noexcept { return hop_; }
  /// close(): the reason CLOSESTREAM sends.
  StreamCloseReason close_reason() const noexcept { return reason_; }
  /// A circuit ID of 1-16 letters or digits and an exit hop of 0 or >= 2.
  bool valid() const noexcept;

 private:
  explicit AttachDecision(Kind k) noexcept : kind_(k) {}
  Kind kind_;
  StreamCloseReason reason_ = StreamCloseReason::misc;
  std::uint8_t id_len_ = 0;
  bool id_too_long_ = false;
  int hop_ = 0;
  char id_[16] = {};
};

class AttachRequest;
/// An answer owed for one offer of one stream (AttachRequest::defer()).
/// Move-only. Dropping it undecided runs the fallback (AttachReport::abandoned),
/// unless the stream stopped waiting meanwhile.
class TORCON_API PendingAttach {
 public:
  /// Owes nothing (pending() is false).
  PendingAttach() = default;
  /// Takes over what `other` owes; `other` then owes nothing.
  PendingAttach(PendingAttach&& other) noexcept;
  /// Runs the fallback for what this one still owes, then takes over `other`'s.
  PendingAttach& operator=(PendingAttach&& other) noexcept;
  PendingAttach(const PendingAttach&) = delete;
  PendingAttach& operator=(const PendingAttach&) = delete;
  ~PendingAttach();

  /// Carries out `d` (pass(): the next attacher is asked). False, and nothing
  /// is sent, when there is nothing left to decide: the stream ended, was
  /// re-offered, answered otherwise, the attacher was removed, or this was
  /// decided already. later() is not an answer here (false).
  bool decide(const AttachDecision& d);
  /// Still owed: not decided, and the stream still waits for this offer.
  bool pending() const;
  /// The stream the answer is for ("" when default-constructed).
  std::string_view stream_id() const noexcept { return stream_id_; }

 private:
  friend class AttachRequest;
  std::weak_ptr<detail::AttachCore> core_;
  std::string stream_id_;
  std::uint64_t token_ = 0;
};

/// One offer: a stream waiting in CONTROLLER_WAIT.
class TORCON_API AttachRequest {
 public:
  /// The stream waiting, as TorState knows it (valid during the call).
  const Stream& stream() const noexcept { return stream_; }
  /// Tor's ID of the stream.
  std::string_view stream_id() const noexcept;
  /// How many times the stream was detached before this offer (0: first offer).
  std::uint32_t offer() const noexcept;
  /// The stream was detached and is offered again (offer() > 0).
  bool is_reoffer() const noexcept { return offer() > 0; }
  /// After a DETACHED: the circuit the stream left and tor's REASON /
  /// REMOTE_REASON for it ("EXITPOLICY", "TIMEOUT", ...); "" on a first offer.
  std::string_view detached_from() const noexcept;
  /// After a DETACHED: tor's REASON ("" on a first offer).
  std::string_view reason() const noexcept;
  /// After a DETACHED: tor's REMOTE_REASON, the exit's words ("" if none).
  std::string_view remote_reason() const noexcept;
  /// The stream's target is *.onion: a circuit answer becomes circuit 0.
  bool is_onion() const noexcept;

  /// Answer later: return AttachDecision::later() and keep the PendingAttach.
  /// (Returning another answer after defer() makes that answer the decision
  /// and the PendingAttach inert.) Once per request.
  PendingAttach defer();

 private:
  friend class detail::AttachCore;
  AttachRequest(detail::AttachCore& core, const Stream& s, std::size_t next) noexcept
      : core_(core), stream_(s), next_(next) {}
  detail::AttachCore& core_;
  const Stream& stream_;
  std::size_t next_;  ///< chain position after the attacher asked
  std::uint64_t deferred_ = 0;
};

/// What an attacher and on_report() are told. Views valid during the call.
struct TORCON_API AttachReport {
  /// What happened.
  enum class Kind : std::uint8_t {
    refused,           ///< tor refused an ATTACHSTREAM / CLOSESTREAM (tor_status, message)
    onion_to_tor,      ///< a circuit answer for a .onion stream was sent as circuit 0
    invalid_decision,  ///< HOP=1, a bad circuit ID, later() without defer(): not sent
    abandoned,         ///< a PendingAttach was dropped undecided
    leftover_option,   ///< __LeaveStreamsUnattached was 1 with no attacher of ours installed
    option_failed,     ///< tor refused GETCONF/SETCONF __LeaveStreamsUnattached
  };
  Kind kind;                    ///< what happened
  std::string_view stream_id;   ///< "" for leftover_option / option_failed
  std::string_view circuit_id;  ///< what was asked for, if a circuit
  int tor_status = 0;           ///< 551, 552, 555, ... for refused
  std::string_view message;     ///< tor's words, or ours
  /// What happens next: the fallback sent (tor_chooses / close), or leave()
  /// when nothing more is sent.
  AttachDecision then = AttachDecision::leave();
};

/// The kind's name as written here ("refused", "onion_to_tor", ...).
TORCON_API const char* to_string(AttachReport::Kind k) noexcept;

/// How a StreamAttacher behaves when a decision cannot be carried out.
struct TORCON_API AttacherOptions {
  /// What is sent for a stream whose decision failed.
  enum class Fallback : std::uint8_t {
    tor_chooses,  ///< `ATTACHSTREAM <stream> 0`: tor picks the circuit
    close,        ///< `CLOSESTREAM <stream> 1` (MISC): the stream never leaves elsewhere
  };
  /// After a refusal, an invalid decision or an abandoned PendingAttach.
  Fallback fallback = Fallback::tor_chooses;
};

/// An attacher: asked for a decision on each offer, in chain order.
using AttachFunction = std::function<AttachDecision(AttachRequest&)>;
/// Hears the reports (AttachReport); must not throw.
using AttachReportFunction = std::function<void(const AttachReport&)>;

/// Decides, through a chain of attachers, which circuit each of tor's
/// streams takes (see the top of stream_attacher.hpp): installs
/// `__LeaveStreamsUnattached 1` and answers every CONTROLLER_WAIT. When the
/// controller reconnects (ControllerOptions::reconnect), an installed
/// attacher sets the option again on the new tor (a restarted tor has it
/// off) and, once the TorState's resync snapshot is applied, offers the
/// streams waiting for a decision (see the top of stream_attacher.hpp).
class TORCON_API StreamAttacher {
 public:
  /// `state` must be attached (TorState::attach) to `controller`, or be fed
  /// its events some other way; both must outlive this object.
  StreamAttacher(TorState& state, Controller& controller, AttacherOptions options = {});
  ~StreamAttacher();  ///< remove()
  StreamAttacher(const StreamAttacher&) = delete;
  StreamAttacher& operator=(const StreamAttacher&) = delete;

  /// Names an attacher in the chain (add(), remove()).
  using Id = std::uint64_t;
  /// Adds an attacher at the end of the chain; `report` (optional) hears
  /// about the decisions it made. Safe from inside an attacher (it is asked
  /// from the next offer on).
  Id add(AttachFunction decide, AttachReportFunction report = {});
  /// Takes an attacher out of the chain (false: no such attacher). Safe from
  /// inside an attacher or its report; its PendingAttach objects become inert.
  bool remove(Id id);
  /// Every report, whoever decided.
  void on_report(AttachReportFunction report);

  /// GETCONF then SETCONF __LeaveStreamsUnattached=1; offers start at once
  /// (streams already in CONTROLLER_WAIT included; those a snapshot showed
  /// NEW once GETCONF says tor held them, see above). `done`: SETCONF's outcome.
  void install(std::function<void(const Status&)> done = {});
  /// Stops offering; SETCONF __LeaveStreamsUnattached=0; streams whose
  /// PendingAttach is still owed are handed to tor (`ATTACHSTREAM <id> 0`).
  void uninstall(std::function<void(const Status&)> done = {});
  /// Between install() and uninstall(): offers are answered.
  bool installed() const noexcept;
  /// `co_await attacher.co_install()`: install(), resuming with SETCONF's outcome.
  Controller::Awaiter<Status> co_install();
  /// `co_await attacher.co_uninstall()`: uninstall(), resuming with SETCONF's outcome.
  Controller::Awaiter<Status> co_uninstall();

 private:
  std::shared_ptr<detail::AttachCore> core_;
  Controller* controller_;
  std::uint64_t reconnect_hook_ = 0;  // sets the option again after a reconnection
};

/// Whether tor has __LeaveStreamsUnattached set (true) — e.g. left over by a
/// controller that exited without resetting it.
TORCON_API void check_leave_streams_unattached(Controller& controller,
                                               std::function<void(const Expected<bool>&)> done);

/// Source-port routing for scanners: "the stream from local port P goes to
/// circuit C". The client learns its local port when it connects to the
/// SocksPort; tor sees the stream once the SOCKS request arrives; either may
/// reach the attacher first:
///   - route first: the stream's offer finds the route and takes it;
///   - stream first: the stream is held (a PendingAttach) for up to `hold`
///     until route() names its port; if none does, the next attacher in the
///     chain decides.
/// A route serves one stream (the first offer of the stream from that port)
/// and is then forgotten. A re-offer (after DETACHED) is passed on to the next
/// attacher, which sees the reason: sending the stream back to the circuit
/// that just failed it would loop.
///
///   torcon::SourcePortRoutes routes(reactor);
///   attacher.add(routes.attacher());
///   routes.route(local_port, circuit_id);
class TORCON_API SourcePortRoutes {
 public:
  /// `reactor` runs the hold timers; hold 0: unrouted streams pass at once.
  explicit SourcePortRoutes(Reactor& reactor,
                            std::chrono::milliseconds hold = std::chrono::seconds(10));
  ~SourcePortRoutes();
  SourcePortRoutes(const SourcePortRoutes&) = delete;
  SourcePortRoutes& operator=(const SourcePortRoutes&) = delete;

  /// The stream from source port `port` goes to `circuit_id` (exit_hop as in
  /// AttachDecision::circuit). Replaces an unused route for that port.
  void route(std::uint16_t port, std::string_view circuit_id, int exit_hop = 0);
  /// Forgets an unused route (false: none).
  bool unroute(std::uint16_t port);
  std::size_t routes() const noexcept;  ///< unused routes
  std::size_t held() const noexcept;    ///< streams waiting for a route
  /// The attacher to add to a StreamAttacher (it shares the table with this
  /// object; the table lives as long as either).
  AttachFunction attacher() const;

 private:
  std::shared_ptr<detail::SourcePortTable> table_;
};

}  // namespace torcon
