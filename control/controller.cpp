// Controller core: connection, authentication, FIFO reply matching, events.
// The typed command helpers are in commands.cpp.

#include "torcon/controller.hpp"

#include <algorithm>

#include "event_dispatcher.hpp"
#include "safecookie.hpp"
#include "torcon/events.hpp"
#include "torcon/keyword_args.hpp"
#include "torcon/quoted.hpp"
#include "torcon/tokens.hpp"

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

Controller::Controller(Reactor& reactor, ControllerOptions options)
    : reactor_(reactor),
      opts_(std::move(options)),
      reader_(opts_.parser),
      events_(std::make_unique<detail::EventDispatcher>()) {}

Controller::~Controller() {
  if (state_ != State::closed && (state_ != State::idle || !held_.empty())) {
    socket_ = Socket();  // closes without calling on_close
    state_ = State::closed;
    fail_all(Error(Errc::disconnected, "controller destroyed"));
  }
}

void Controller::connect(const Endpoint& where, StatusCallback done) {
  if (state_ != State::idle && state_ != State::closed) {
    fail_soon([done](const Expected<Reply>& r) { done(r.error()); },
              Error(Errc::io, "connect() called on a controller that is already connected"));
    return;
  }
  reader_.reset();
  pending_.clear();
  current_setevents_ = "SETEVENTS";  // a new connection has no events
  connect_done_ = std::move(done);
  state_ = State::connecting;
  std::weak_ptr<bool> alive = alive_;
  if (opts_.connect.timeout.count() > 0)
    handshake_timer_ = reactor_.start_timer(opts_.connect.timeout, [this, alive] {
      if (!alive.expired()) handshake_timed_out();
    });
  socket_ = reactor_.connect(
      where, *this,
      [this, alive](const Status& s) {
        if (alive.expired()) return;
        if (!s) {
          state_ = State::closed;
          fail_all(s.error());
          return;
        }
        state_ = State::protocolinfo;
        enqueue(
            "PROTOCOLINFO 1\r\n",
            [this](const Expected<Reply>& r) {
              if (!r)
                return auth_failed(Error(Errc::auth, "PROTOCOLINFO failed: " + r.error().message));
              auth_step(*r);
            },
            true);
      },
      opts_.connect);
}

void Controller::handshake_timed_out() {
  if (state_ == State::ready || state_ == State::closed || state_ == State::idle) return;
  socket_ = Socket();  // closes without calling on_close
  state_ = State::closed;
  fail_all(Error(Errc::timeout, "tor did not complete the control handshake within " +
                                    std::to_string(opts_.connect.timeout.count()) + " ms"));
}

void Controller::close() {
  if (state_ == State::idle || state_ == State::closed) return;
  socket_.close();  // runs on_close(Errc::ok) or the connect callback
}

// ---- sending -------------------------------------------------------------

void Controller::fail_soon(ReplyCallback cb, Error err) {
  // Errors found before anything is sent are reported from the loop, never
  // from inside the call that caused them: callers need no re-entrancy care.
  std::weak_ptr<bool> alive = alive_;
  reactor_.start_timer(Reactor::Duration::zero(),
                       [alive, cb = std::move(cb), err = std::move(err)] {
                         if (!alive.expired()) cb(err);
                       });
}

void Controller::enqueue(std::string wire, ReplyCallback cb, bool internal) {
  if (state_ == State::closed)
    return fail_soon(std::move(cb), Error(Errc::disconnected, "not connected to tor"));
  if (!internal && state_ != State::ready) {
    held_.emplace_back(std::move(wire), std::move(cb));
    return;
  }
  if (Status s = socket_.write(wire); !s) return fail_soon(std::move(cb), s.error());
  pending_.push_back(Pending{std::move(cb)});
}

void Controller::command(std::string_view line, ReplyCallback cb) {
  if (Status s = check_raw_command(line); !s) return fail_soon(std::move(cb), s.error());
  std::string wire;
  wire.reserve(line.size() + 2);
  wire.append(line).append("\r\n");
  enqueue(std::move(wire), std::move(cb));
}

void Controller::send(const Command& cmd, ReplyCallback cb) {
  if (!cmd.ok()) return fail_soon(std::move(cb), cmd.error());
  enqueue(cmd.wire(), std::move(cb));
}

// ---- receiving -----------------------------------------------------------

std::span<char> Controller::read_space() { return reader_.prepare(); }

void Controller::on_read(std::size_t n) {
  reader_.commit(n);
  Reply r;
  for (;;) {
    const ReplyReader::Next next = reader_.next(r);
    if (next == ReplyReader::Next::need_more) break;
    if (next == ReplyReader::Next::error) {
      const Error e(reader_.error().code,
                    "protocol error from tor: " + reader_.error().message + " (at byte " +
                        std::to_string(reader_.error().offset) + ")",
                    reader_.error().offset);
      socket_ = Socket();  // closes without calling on_close
      state_ = State::closed;
      fail_all(e);
      return;
    }
    dispatch(r);
    if (state_ == State::closed) break;  // a callback closed us
  }
}

static Expected<Reply> as_result(const Reply& r) {
  if (r.is_ok()) return r;
  // Every line's text: tor's errors are one line, but nothing is lost if not.
  std::string msg;
  for (const ReplyLine& l : r.lines) {
    if (!msg.empty()) msg.push_back('\n');
    msg.append(l.text);
  }
  return Error(Errc::tor_error, std::move(msg), 0, r.code);
}

void Controller::dispatch(const Reply& r) {
  if (r.is_async()) {
    events_->dispatch(r, [this] { return state_ == State::closed; });
    return;
  }
  if (pending_.empty()) {
    const Error e(Errc::io, "tor sent a reply no command was waiting for: " +
                                std::string(r.raw.substr(0, 80)));
    socket_ = Socket();  // closes without calling on_close
    state_ = State::closed;
    fail_all(e);
    return;
  }
  ReplyCallback cb = std::move(pending_.front().cb);
  pending_.pop_front();
  if (cb) cb(as_result(r));
}

void Controller::on_close(const Error& why) {
  state_ = State::closed;
  std::string msg;
  if (why.code == Errc::ok) {
    msg = "connection closed by the controller";
  } else {
    msg = why.message.empty() ? "tor closed the connection" : why.message;
    if (reader_.in_data_block())
      msg += " (in the middle of a data block)";
    else if (reader_.mid_reply())
      msg += " (in the middle of a reply)";
  }
  // A reset is as much a disconnect as an EOF; the message keeps the detail.
  fail_all(Error(Errc::disconnected, msg));
}

void Controller::fail_all(const Error& why) {
  // Swap out first: callbacks may issue new commands (which then fail too).
  const bool was_live = live_;
  live_ = false;
  reactor_.cancel_timer(handshake_timer_);
  std::deque<Pending> pending;
  pending.swap(pending_);
  std::vector<std::pair<std::string, ReplyCallback>> held;
  held.swap(held_);
  std::weak_ptr<bool> alive = alive_;
  if (connect_done_) {
    StatusCallback done = std::move(connect_done_);
    connect_done_ = nullptr;
    done(why);
  }
  for (auto& p : pending) {
    if (alive.expired()) return;
    if (p.cb) p.cb(why);
  }
  for (auto& h : held) {
    if (alive.expired()) return;
    if (h.second) h.second(why);
  }
  if (!alive.expired() && was_live) {
    if (disconnect_handler_) disconnect_handler_(why);
  }
}

// ---- authentication ------------------------------------------------------

void Controller::auth_failed(Error err) {
  if (err.code != Errc::auth) err = Error(Errc::auth, err.message, err.offset, err.status);
  cookie_.assign(cookie_.size(), '\0');
  socket_ = Socket();  // closes without calling on_close
  state_ = State::closed;
  fail_all(err);
}

void Controller::auth_step(const Reply& r) {
  protocol_info_ = ProtocolInfo{};
  std::string scratch;
  for (const ReplyLine& l : r.lines) {
    ArgReader args(l.text);
    Arg a;
    if (!args.next(a)) continue;
    if (a.value == "AUTH") {
      while (args.next(a)) {
        if (a.key == "METHODS") {
          std::string_view m = a.value;
          while (!m.empty()) {
            const std::size_t c = m.find(',');
            protocol_info_.methods.emplace_back(m.substr(0, c));
            m = c == std::string_view::npos ? std::string_view{} : m.substr(c + 1);
          }
        } else if (a.key == "COOKIEFILE") {
          protocol_info_.cookie_file = std::string(a.decoded(scratch));
        }
      }
    } else if (a.value == "VERSION") {
      while (args.next(a))
        if (a.key == "Tor") protocol_info_.tor_version = std::string(a.decoded(scratch));
    }
  }
  auto offered = [&](std::string_view m) {
    return std::find(protocol_info_.methods.begin(), protocol_info_.methods.end(), m) !=
           protocol_info_.methods.end();
  };
  AuthMethod m = opts_.auth;
  if (m == AuthMethod::automatic) {
    if (offered("NULL"))
      m = AuthMethod::null;
    else if (offered("HASHEDPASSWORD") && !opts_.password.empty())
      m = AuthMethod::hashed_password;
    else if (offered("SAFECOOKIE"))
      m = AuthMethod::safecookie;
    else if (offered("COOKIE"))
      m = AuthMethod::cookie;
    else if (offered("HASHEDPASSWORD"))
      return auth_failed(
          Error(Errc::auth, "tor requires a password (HASHEDPASSWORD) and none was given"));
    else
      return auth_failed(Error(Errc::auth, "tor offers no authentication method torcon knows"));
  } else if (!offered(to_string(m))) {
    return auth_failed(
        Error(Errc::auth, std::string("tor does not offer ") + to_string(m) + " authentication"));
  }
  used_auth_ = m;
  start_auth_method();
}

void Controller::start_auth_method() {
  auto on_auth = [this](const Expected<Reply>& r) {
    cookie_.assign(cookie_.size(), '\0');
    if (!r)
      return auth_failed(
          Error(Errc::auth, "authentication refused: " + r.error().message, 0, r.error().status));
    became_ready();
  };
  std::string wire = "AUTHENTICATE";
  switch (used_auth_) {
    case AuthMethod::null: break;
    case AuthMethod::hashed_password: {
      wire.push_back(' ');
      if (Status s = quote(opts_.password, wire); !s)
        return auth_failed(Error(Errc::auth, "password: " + s.error().message));
      break;
    }
    case AuthMethod::cookie: {
      Expected<std::string> c = safecookie::read_cookie(
          opts_.cookie_file.empty() ? protocol_info_.cookie_file : opts_.cookie_file);
      if (!c) return auth_failed(c.error());
      const std::string cookie = std::move(*c);
      wire += ' ' + safecookie::to_hex({reinterpret_cast<const std::uint8_t*>(cookie.data()), 32});
      break;
    }
    case AuthMethod::safecookie: {
      Expected<std::string> c = safecookie::read_cookie(
          opts_.cookie_file.empty() ? protocol_info_.cookie_file : opts_.cookie_file);
      if (!c) return auth_failed(c.error());
      cookie_ = std::move(*c);
      auto nonce = safecookie::client_nonce();
      if (!nonce) return auth_failed(nonce.error());
      client_nonce_ = *nonce;
      state_ = State::authchallenge;
      enqueue(
          "AUTHCHALLENGE SAFECOOKIE " + safecookie::to_hex(client_nonce_) + "\r\n",
          [this, on_auth](const Expected<Reply>& r) {
            if (!r)
              return auth_failed(Error(Errc::auth, "AUTHCHALLENGE refused: " + r.error().message));
            std::string scratch, server_hash, server_nonce;
            std::string_view v;
            const std::string_view text = r->lines.back().text;
            if (!find_keyword(text, "SERVERHASH", v, scratch) ||
                !safecookie::from_hex(v, server_hash) || server_hash.size() != 32 ||
                !find_keyword(text, "SERVERNONCE", v, scratch) ||
                !safecookie::from_hex(v, server_nonce) || server_nonce.size() != 32)
              return auth_failed(Error(Errc::auth, "malformed AUTHCHALLENGE reply"));
            const auto* ck = reinterpret_cast<const std::uint8_t*>(cookie_.data());
            const auto* sn = reinterpret_cast<const std::uint8_t*>(server_nonce.data());
            const safecookie::Digest expect =
                safecookie::compute(true, {ck, 32}, client_nonce_, {sn, 32});
            safecookie::Digest got;
            std::copy_n(reinterpret_cast<const std::uint8_t*>(server_hash.data()), 32, got.begin());
            // A server that cannot prove it knows the cookie gets nothing
            // from us: no client hash, and never a fallback to COOKIE.
            if (!safecookie::equal(expect, got))
              return auth_failed(
                  Error(Errc::auth,
                        "SAFECOOKIE: tor's server hash is wrong; refusing to authenticate (the "
                        "control port may not be the tor that wrote the cookie)"));
            const safecookie::Digest mine =
                safecookie::compute(false, {ck, 32}, client_nonce_, {sn, 32});
            state_ = State::authenticate;
            enqueue("AUTHENTICATE " + safecookie::to_hex(mine) + "\r\n", on_auth, true);
          },
          true);
      return;
    }
    case AuthMethod::automatic: break;
  }
  state_ = State::authenticate;
  wire += "\r\n";
  enqueue(std::move(wire), on_auth, true);
}

void Controller::became_ready() {
  state_ = State::ready;
  live_ = true;
  reactor_.cancel_timer(handshake_timer_);
  std::vector<std::pair<std::string, ReplyCallback>> held;
  held.swap(held_);
  for (auto& [wire, cb] : held) enqueue(std::move(wire), std::move(cb));
  update_setevents();
  if (connect_done_) {
    StatusCallback done = std::move(connect_done_);
    connect_done_ = nullptr;
    done(Status{});
  }
}

// ---- events --------------------------------------------------------------

Controller::SubscriptionId Controller::subscribe(std::string_view event, EventHandler h,
                                                 StatusCallback done) {
  if (!is_event_name(event)) {
    if (done)
      fail_soon([done](const Expected<Reply>& r) { done(r.error()); },
                Error(Errc::bad_keyword,
                      "event name \"" + std::string(event) + "\" is not 1*(ALPHA / \"_\")"));
    return 0;
  }
  const SubscriptionId id = next_sub_++;
  events_->add(event, id, std::move(h));
  update_setevents(id, std::move(done));
  return id;
}

Controller::SubscriptionId Controller::subscribe_typed(std::string_view event, TypedEventHandler h,
                                                       MalformedEventHandler on_malformed,
                                                       StatusCallback done) {
  return subscribe(event, detail::typed_handler(std::move(h), std::move(on_malformed)),
                   std::move(done));
}

bool Controller::remove_subscription(SubscriptionId id) { return events_->remove(id); }

void Controller::unsubscribe(SubscriptionId id) {
  if (remove_subscription(id)) update_setevents();
}

std::vector<std::string> Controller::subscribed_events() const { return events_->names(); }

void Controller::update_setevents(SubscriptionId added, StatusCallback done) {
  if (state_ != State::ready) {
    // Sent once authenticated (became_ready); report success then.
    if (done) pending_done_.emplace_back(added, std::move(done));
    return;
  }
  std::string line = "SETEVENTS";
  for (const std::string& n : subscribed_events()) line += ' ' + n;
  if (line == current_setevents_) {
    if (done) fail_soon([done](const Expected<Reply>&) { done(Status{}); }, Error{});
    return;
  }
  std::string previous = std::move(current_setevents_);
  current_setevents_ = line;
  std::vector<std::pair<SubscriptionId, StatusCallback>> waiting;
  waiting.swap(pending_done_);
  if (done) waiting.emplace_back(added, std::move(done));
  enqueue(
      line + "\r\n",
      [this, waiting = std::move(waiting),
       previous = std::move(previous)](const Expected<Reply>& r) {
        if (!r && state_ == State::ready) {
          // tor kept its old set: drop the subscriptions that asked for
          // this one, then bring tor in line with what is left (one
          // SETEVENTS at most, and none if that is the old set).
          current_setevents_ = previous;
          for (auto& [id, cb] : waiting)
            if (id) remove_subscription(id);
          update_setevents();
        }
        for (auto& [id, cb] : waiting) {
          if (!cb) continue;
          if (r)
            cb(Status{});
          else
            cb(r.error());
        }
      },
      true);
}

const std::string* KeyValues::find(std::string_view key) const {
  for (const Entry& e : entries)
    if (e.key == key) return &e.value;
  return nullptr;
}

}  // namespace torcon
