// The public face of the stream attacher (include/torcon/stream_attacher.hpp)
// over its machinery (attach_core.*).

#include "torcon/stream_attacher.hpp"

#include <utility>

#include "attach_core.hpp"
#include "torcon/controller.hpp"
#include "torcon/stream.hpp"
#include "torcon/tokens.hpp"

namespace torcon {

// ---- AttachDecision ----------------------------------------------------------

AttachDecision AttachDecision::circuit(std::string_view circuit_id, int exit_hop) noexcept {
  AttachDecision d(Kind::circuit);
  d.hop_ = exit_hop;
  if (circuit_id.size() > sizeof d.id_) {
    d.id_too_long_ = true;
    return d;
  }
  d.id_len_ = std::uint8_t(circuit_id.size());
  circuit_id.copy(d.id_, circuit_id.size());
  return d;
}

AttachDecision AttachDecision::close(StreamCloseReason reason) noexcept {
  AttachDecision d(Kind::close);
  d.reason_ = reason;
  return d;
}

bool AttachDecision::valid() const noexcept {
  if (kind_ != Kind::circuit) return true;
  return !id_too_long_ && is_control_id(circuit_id()) && (hop_ == 0 || hop_ >= 2);
}

const char* to_string(AttachReport::Kind k) noexcept {
  switch (k) {
    case AttachReport::Kind::refused: return "refused";
    case AttachReport::Kind::onion_to_tor: return "onion_to_tor";
    case AttachReport::Kind::invalid_decision: return "invalid_decision";
    case AttachReport::Kind::abandoned: return "abandoned";
    case AttachReport::Kind::leftover_option: return "leftover_option";
    case AttachReport::Kind::option_failed: return "option_failed";
  }
  return "?";
}

// ---- AttachRequest -------------------------------------------------------------

std::string_view AttachRequest::stream_id() const noexcept { return stream_.id(); }
std::uint32_t AttachRequest::offer() const noexcept { return stream_.detach_count(); }
// After a DETACHED, tor's CONTROLLER_WAIT names the circuit the stream left,
// and the stream keeps the DETACHED's reasons (state/state_core.cpp).
std::string_view AttachRequest::detached_from() const noexcept {
  return is_reoffer() ? stream_.circuit_id() : std::string_view{};
}
std::string_view AttachRequest::reason() const noexcept {
  return is_reoffer() ? stream_.reason() : std::string_view{};
}
std::string_view AttachRequest::remote_reason() const noexcept {
  return is_reoffer() ? stream_.remote_reason() : std::string_view{};
}
bool AttachRequest::is_onion() const noexcept { return stream_.target_is_onion(); }

PendingAttach AttachRequest::defer() {
  PendingAttach p;
  if (deferred_ != 0) return p;  // once per request
  deferred_ = core_.defer(stream_, next_);
  p.core_ = core_.weak_from_this();
  p.stream_id_ = std::string(stream_.id());
  p.token_ = deferred_;
  return p;
}

// ---- PendingAttach -------------------------------------------------------------

PendingAttach::PendingAttach(PendingAttach&& other) noexcept
    : core_(std::move(other.core_)),
      stream_id_(std::move(other.stream_id_)),
      token_(std::exchange(other.token_, 0)) {}

PendingAttach& PendingAttach::operator=(PendingAttach&& other) noexcept {
  if (this == &other) return *this;
  if (token_ != 0)
    if (auto core = core_.lock()) core->abandoned(stream_id_, token_);
  core_ = std::move(other.core_);
  stream_id_ = std::move(other.stream_id_);
  token_ = std::exchange(other.token_, 0);
  return *this;
}

PendingAttach::~PendingAttach() {
  if (token_ == 0) return;
  if (auto core = core_.lock()) core->abandoned(stream_id_, token_);
}

bool PendingAttach::decide(const AttachDecision& d) {
  if (token_ == 0 || d.kind() == AttachDecision::Kind::later) return false;
  auto core = core_.lock();
  const std::uint64_t token = std::exchange(token_, 0);
  if (!core) return false;
  return core->decide_late(stream_id_, token, d);
}

bool PendingAttach::pending() const {
  if (token_ == 0) return false;
  auto core = core_.lock();
  return core && core->still_owed(stream_id_, token_);
}

// ---- StreamAttacher ----------------------------------------------------------

StreamAttacher::StreamAttacher(TorState& state, Controller& controller, AttacherOptions options) {
  auto sink = std::make_unique<detail::ControllerSink>(controller);
  core_ = std::make_shared<detail::AttachCore>(state, *sink, options);
  core_->own_sink(std::move(sink));
  controller_ = &controller;
  // A restarted tor has forgotten __LeaveStreamsUnattached: set it again.
  reconnect_hook_ =
      controller.add_reconnect_hook([core = std::weak_ptr<detail::AttachCore>(core_)] {
        if (auto c = core.lock()) c->restore();
      });
}

StreamAttacher::~StreamAttacher() {  // the core uninstalls itself
  controller_->remove_reconnect_hook(reconnect_hook_);
}

StreamAttacher::Id StreamAttacher::add(AttachFunction decide, AttachReportFunction report) {
  return core_->add(std::move(decide), std::move(report));
}
bool StreamAttacher::remove(Id id) { return core_->remove(id); }
void StreamAttacher::on_report(AttachReportFunction report) { core_->on_report(std::move(report)); }
void StreamAttacher::install(std::function<void(const Status&)> done) {
  core_->install(std::move(done));
}
void StreamAttacher::uninstall(std::function<void(const Status&)> done) {
  core_->uninstall(std::move(done));
}
bool StreamAttacher::installed() const noexcept { return core_->installed(); }

Controller::Awaiter<Status> StreamAttacher::co_install() {
  return {[this](std::function<void(Status)> resume) {
            install([resume = std::move(resume)](const Status& s) { resume(s); });
          },
          {}};
}
Controller::Awaiter<Status> StreamAttacher::co_uninstall() {
  return {[this](std::function<void(Status)> resume) {
            uninstall([resume = std::move(resume)](const Status& s) { resume(s); });
          },
          {}};
}

void check_leave_streams_unattached(Controller& controller,
                                    std::function<void(const Expected<bool>&)> done) {
  controller.getconf({"__LeaveStreamsUnattached"},
                     [done = std::move(done)](const Expected<KeyValues>& kv) {
                       if (!kv) return done(kv.error());
                       const std::string* v = kv->find("__LeaveStreamsUnattached");
                       done(Expected<bool>(v != nullptr && *v == "1"));
                     });
}

}  // namespace torcon
