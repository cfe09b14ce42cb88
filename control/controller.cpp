// Controller: the public API over ControlProtocol (control_protocol.hpp),
// with the socket glue (controller_glue.hpp). The typed command helpers are
// in commands.cpp.

#include "torcon/controller.hpp"

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

Controller::Impl::~Impl() {
  destroying = true;
  socket = Socket();  // closes without calling on_close
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
  std::weak_ptr<bool> a = alive;
  // The handshake timer ends with the handshake, whichever way it ends.
  auto finished = [this, a, done = std::move(done)](const Status& s) {
    if (!a.expired() && !destroying) reactor.cancel_timer(handshake_timer);
    done(s);
  };
  if (!protocol.begin(std::move(finished))) return;
  if (connect_options.timeout.count() > 0)
    handshake_timer = reactor.start_timer(connect_options.timeout, [this, a] {
      if (a.expired() || !protocol.handshaking()) return;
      protocol.fail_connection(
          Error(Errc::timeout, "tor did not complete the control handshake within " +
                                   std::to_string(connect_options.timeout.count()) + " ms"));
    });
  socket = reactor.connect(
      where, *this,
      [this, a](const Status& s) {
        if (a.expired()) return;
        if (s)
          protocol.connected();
        else
          protocol.connect_failed(s.error());
      },
      connect_options);
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
  if (impl_->protocol.down()) return;
  impl_->socket.close();  // runs on_close(Errc::ok) or the connect callback
}

void Controller::on_disconnect(DisconnectHandler h) { impl_->protocol.on_disconnect(std::move(h)); }

void Controller::command(std::string_view line, ReplyCallback cb) {
  impl_->protocol.command(line, std::move(cb));
}

void Controller::send(const Command& cmd, ReplyCallback cb) {
  impl_->protocol.send(cmd, std::move(cb));
}

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
