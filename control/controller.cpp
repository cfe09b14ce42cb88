// Controller: the public API over ControlProtocol (control_protocol.hpp),
// with the socket glue (controller_glue.hpp). The typed command helpers are
// in commands.cpp.

#include "torcon/controller.hpp"

#include <algorithm>
#include <string>

#include "controller_glue.hpp"

namespace torcon {

const char* to_string(AuthMethod m) {
  switch (m) {
    case AuthMethod::automatic: return "automatic";
    case AuthMethod::null: return "NULL";
    case AuthMethod::hashed_password: return "HASHEDPASSWORD";
    case AuthMethod::cookie: return "COOKIE";
    case AuthMethod::safecookie: return "SAFECOOKIE";
  }
  return "?";
}

// ---- the glue ---------------------------------------------------------------

namespace {

std::string ms_text(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

}  // namespace

Controller::Impl::Impl(Reactor& r, ControllerOptions options)
    : reactor(r),
      connect_options(options.connect),
      command_timeout(options.command_timeout),
      disconnected_wait(options.disconnected_wait),
      policy(options.reconnect),
      liveness(options.liveness),
      protocol(*this, std::move(options)) {
  protocol.on_restore_error(
      [this](const Error& e) { notify(ReconnectEvent::Kind::restore_failed, e); });
}

Controller::Impl::~Impl() {
  destroying = true;
  if (probe_timer_started) reactor.cancel_timer(probe_timer);
  if (retry_pending) reactor.cancel_timer(retry_timer);
  socket = Socket();  // closes without calling on_close
  protocol.hold_while_down(false, Error(Errc::disconnected, "controller destroyed"));
  protocol.fail_connection(Error(Errc::disconnected, "controller destroyed"));
  // What was deferred runs now: there is no loop iteration left for it.
  while (protocol.has_deferred()) protocol.run_deferred();
}

void Controller::Impl::wake() {
  if (destroying) return;
  std::weak_ptr<bool> a = alive;
  reactor.start_timer(Reactor::Duration::zero(), [this, a] {
    if (!a.expired()) protocol.run_deferred();
  });
}

void Controller::Impl::connect(const Endpoint& where, StatusCallback done) {
  if (!protocol.down()) return start_handshake(std::move(done));  // refused, deferred
  endpoint = where;
  stopped = false;
  // A connect() of the caller's own replaces a reconnection under way.
  if (retry_pending) {
    reactor.cancel_timer(retry_timer);
    retry_pending = false;
  }
  reconnecting = false;
  if (liveness.interval.count() > 0 && !probe_timer_started) {
    probe_timer_started = true;
    std::weak_ptr<bool> a = alive;
    probe_timer = reactor.start_repeating_timer(liveness.interval, [this, a] {
      if (!a.expired()) probe_tick();
    });
  }
  start_handshake(std::move(done));
}

void Controller::Impl::start_handshake(StatusCallback done) {
  std::weak_ptr<bool> a = alive;
  // The handshake timer ends with the handshake, whichever way it ends.
  auto finished = [this, a, done = std::move(done)](const Status& s) {
    if (!a.expired() && !destroying) reactor.cancel_timer(handshake_timer);
    done(s);
  };
  if (!protocol.begin(std::move(finished))) return;
  ++connection_number;
  probing = false;
  if (connect_options.timeout.count() > 0)
    handshake_timer = reactor.start_timer(connect_options.timeout, [this, a] {
      if (a.expired() || !protocol.handshaking()) return;
      protocol.fail_connection(
          Error(Errc::timeout, "tor did not complete the control handshake within " +
                                   std::to_string(connect_options.timeout.count()) + " ms"));
    });
  socket = reactor.connect(
      endpoint, *this,
      [this, a](const Status& s) {
        if (a.expired()) return;
        if (s)
          protocol.connected();
        else
          protocol.connect_failed(s.error());
      },
      connect_options);
}

ReplyCallback Controller::Impl::with_deadlines(ReplyCallback cb,
                                               std::chrono::milliseconds timeout) {
  if (timeout.count() < 0) timeout = command_timeout;
  // Issued while no connection is up: it may wait for one only so long.
  const bool waits = disconnected_wait.count() > 0 && !protocol.ready();
  if (timeout.count() <= 0 && !waits) return cb;  // no timer, no allocation
  const std::uint64_t ticket = protocol.next_ticket();
  std::weak_ptr<bool> a = alive;
  TimerId deadline, wait;
  const bool has_deadline = timeout.count() > 0;
  if (has_deadline)
    deadline = reactor.start_timer(timeout, [this, a, ticket, timeout] {
      if (a.expired()) return;
      protocol.expire(ticket,
                      Error(Errc::timeout, "tor did not answer within " + ms_text(timeout)));
    });
  if (waits)
    wait = reactor.start_timer(disconnected_wait, [this, a, ticket] {
      if (a.expired()) return;
      protocol.expire(
          ticket,
          Error(Errc::disconnected, "no connection to tor within " + ms_text(disconnected_wait)),
          true);
    });
  return
      [this, a, has_deadline, deadline, waits, wait, cb = std::move(cb)](const Expected<Reply>& r) {
        if (!a.expired() && !destroying) {
          if (has_deadline) reactor.cancel_timer(deadline);
          if (waits) reactor.cancel_timer(wait);
        }
        if (cb) cb(r);
      };
}

// ---- reconnecting -------------------------------------------------------------

void Controller::Impl::notify(ReconnectEvent::Kind kind, const Error& err,
                              std::chrono::milliseconds delay) {
  if (!listener) return;
  ReconnectEvent ev;
  ev.kind = kind;
  ev.error = err;
  ev.attempt = attempt;
  ev.delay = delay;
  listener(ev);
}

void Controller::Impl::connection_ended(const Error& why) {
  std::weak_ptr<bool> a = alive;
  // Before the policy starts over: what waited on this connection ends now.
  disconnect_hooks.run([&a] { return !a.expired(); }, why);
  if (a.expired() || destroying || stopped || !policy.enabled) return;
  reconnecting = true;
  attempt = 0;
  protocol.hold_while_down(disconnected_wait.count() > 0);
  notify(ReconnectEvent::Kind::disconnected, why);
  if (a.expired() || stopped) return;  // the listener may stop it
  schedule_attempt(why);
}

std::chrono::milliseconds Controller::Impl::delay_for(unsigned n) {
  double d = static_cast<double>(policy.initial_delay.count());
  const double cap = static_cast<double>(policy.max_delay.count());
  const double growth = policy.multiplier < 1 ? 1 : policy.multiplier;
  for (unsigned i = 1; i < n && d < cap; ++i) d *= growth;
  d = std::min(d, cap);
  const double jitter = std::clamp(policy.jitter, 0.0, 1.0);
  if (jitter > 0) {
    std::uniform_real_distribution<double> f(1 - jitter, 1 + jitter);
    d = std::min(d * f(rng), cap);
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::max(d, 0.0)));
}

void Controller::Impl::schedule_attempt(const Error& last) {
  if (policy.max_attempts != 0 && attempt >= policy.max_attempts)
    return stop_reconnecting(Error(
        Errc::disconnected,
        "gave up reconnecting after " + std::to_string(attempt) + " attempts: " + last.message));
  ++attempt;
  const std::chrono::milliseconds delay = delay_for(attempt);
  std::weak_ptr<bool> a = alive;
  notify(ReconnectEvent::Kind::reconnecting, last, delay);
  if (a.expired() || stopped) return;
  retry_pending = true;
  retry_timer = reactor.start_timer(delay, [this, a] {
    if (a.expired()) return;
    retry_pending = false;
    attempt_now();
  });
}

void Controller::Impl::attempt_now() {
  if (stopped || !protocol.down()) return;
  std::weak_ptr<bool> a = alive;
  start_handshake([this, a](const Status& s) {
    if (a.expired() || destroying || stopped) return;
    if (!s) return schedule_attempt(s.error());
    reconnecting = false;
    notify(ReconnectEvent::Kind::reconnected);
    reconnect_hooks.run([this, &a] { return !a.expired() && protocol.ready(); });
  });
}

void Controller::Impl::stop_reconnecting(const Error& why) {
  stopped = true;
  if (retry_pending) {
    reactor.cancel_timer(retry_timer);
    retry_pending = false;
  }
  const bool was = reconnecting;
  reconnecting = false;
  std::weak_ptr<bool> a = alive;
  // An attempt under way is abandoned; what waited for it fails.
  if (protocol.handshaking() && was) protocol.fail_connection(why);
  if (a.expired()) return;
  protocol.hold_while_down(false, why);
  if (!a.expired() && was) notify(ReconnectEvent::Kind::gave_up, why);
}

// ---- liveness -------------------------------------------------------------------

void Controller::Impl::probe_tick() {
  if (destroying || !protocol.ready() || probing) return;
  if (bytes_read != bytes_at_last_tick) {  // tor spoke lately: alive
    bytes_at_last_tick = bytes_read;
    return;
  }
  probing = true;
  const std::uint64_t number = connection_number;
  std::weak_ptr<bool> a = alive;
  Command c("GETINFO");
  c.arg(liveness.key);
  protocol.send(
      c, with_deadlines(
             [this, a, number](const Expected<Reply>& r) {
               if (a.expired() || number != connection_number) return;
               probing = false;
               bytes_at_last_tick = bytes_read;
               if (r || r.error().code != Errc::timeout) return;
               protocol.fail_connection(
                   Error(Errc::timeout, "tor did not answer the liveness probe within " +
                                            ms_text(liveness.timeout) + "; connection dropped"));
             },
             liveness.timeout));
}

// ---- the API ----------------------------------------------------------------

Controller::Controller(Reactor& reactor, ControllerOptions options)
    : impl_(std::make_unique<Impl>(reactor, std::move(options))) {}

Controller::~Controller() = default;

Reactor& Controller::reactor() const noexcept { return impl_->reactor; }

void Controller::connect(const Endpoint& where, StatusCallback done) {
  impl_->connect(where, std::move(done));
}

bool Controller::ready() const noexcept { return impl_->protocol.ready(); }
const ProtocolInfo& Controller::protocol_info() const noexcept {
  return impl_->protocol.protocol_info();
}
AuthMethod Controller::auth_method() const noexcept { return impl_->protocol.auth_method(); }
std::size_t Controller::pending() const noexcept { return impl_->protocol.pending(); }

void Controller::close() {
  impl_->stop_reconnecting(Error(Errc::disconnected, "connection closed by the controller"));
  if (impl_->protocol.down()) return;
  impl_->socket.close();  // runs on_close(Errc::ok) or the connect callback
}

void Controller::on_disconnect(DisconnectHandler h) { impl_->protocol.on_disconnect(std::move(h)); }

void Controller::command(std::string_view line, ReplyCallback cb) {
  command(line, std::move(cb), CommandOptions{});
}

void Controller::command(std::string_view line, ReplyCallback cb, const CommandOptions& options) {
  impl_->protocol.command(line, impl_->with_deadlines(std::move(cb), options.timeout));
}

void Controller::send(const Command& cmd, ReplyCallback cb) {
  send(cmd, std::move(cb), CommandOptions{});
}

void Controller::send(const Command& cmd, ReplyCallback cb, const CommandOptions& options) {
  impl_->protocol.send(cmd, impl_->with_deadlines(std::move(cb), options.timeout));
}

void Controller::on_reconnect(ReconnectListener l) { impl_->listener = std::move(l); }

void Controller::stop_reconnecting() {
  impl_->stop_reconnecting(Error(Errc::disconnected, "reconnecting stopped by the controller"));
}

bool Controller::reconnecting() const noexcept { return impl_->reconnecting; }

Controller::HookId Controller::add_reconnect_hook(std::function<void()> restore) {
  const HookId id = impl_->next_hook++;
  impl_->reconnect_hooks.add(id, std::move(restore));
  return id;
}

void Controller::remove_reconnect_hook(HookId id) { impl_->reconnect_hooks.remove(id); }

Controller::HookId Controller::add_disconnect_hook(DisconnectHandler hook) {
  const HookId id = impl_->next_hook++;
  impl_->disconnect_hooks.add(id, std::move(hook));
  return id;
}

void Controller::remove_disconnect_hook(HookId id) { impl_->disconnect_hooks.remove(id); }

Controller::SubscriptionId Controller::subscribe(std::string_view event, EventHandler h,
                                                 StatusCallback done) {
  return impl_->protocol.subscribe(event, std::move(h), std::move(done));
}

Controller::SubscriptionId Controller::subscribe_typed(std::string_view event, TypedEventHandler h,
                                                       MalformedEventHandler on_malformed,
                                                       StatusCallback done) {
  return impl_->protocol.subscribe_typed(event, std::move(h), std::move(on_malformed),
                                         std::move(done));
}

void Controller::unsubscribe(SubscriptionId id) { impl_->protocol.unsubscribe(id); }

std::vector<std::string> Controller::subscribed_events() const {
  return impl_->protocol.subscribed_events();
}

const std::string* KeyValues::find(std::string_view key) const {
  for (const Entry& e : entries)
    if (e.key == key) return &e.value;
  return nullptr;
}

}  // namespace torcon
