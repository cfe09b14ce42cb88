#include "control_protocol.hpp"

#include <algorithm>

#include "torcon/keyword_args.hpp"
#include "torcon/quoted.hpp"
#include "torcon/tokens.hpp"

namespace torcon::detail {

ControlProtocol::ControlProtocol(Host& host, ControllerOptions options)
    : host_(host), opts_(std::move(options)), reader_(opts_.parser) {}

ControlProtocol::~ControlProtocol() { safecookie::wipe(cookie_); }

// ---- the connection's life ------------------------------------------------

bool ControlProtocol::begin(StatusCallback done) {
  if (!down()) {
    fail_soon([done = std::move(done)](const Expected<Reply>& r) { done(r.error()); },
              Error(Errc::io, "connect() called on a controller that is already connected"));
    return false;
  }
  reader_.reset();
  received_ = 0;
  pending_.clear();
  current_setevents_ = "SETEVENTS";  // a new connection has no events
  connect_done_ = std::move(done);
  state_ = State::connecting;
  return true;
}

void ControlProtocol::connected() {
  state_ = State::protocolinfo;
  write_now("PROTOCOLINFO 1\r\n", [this](const Expected<Reply>& r) { on_protocolinfo_reply(r); });
}

void ControlProtocol::connect_failed(const Error& why) {
  state_ = State::closed;
  fail_all(why);
}

void ControlProtocol::closed(const Error& why) {
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

void ControlProtocol::fail_connection(Error why) {
  if (state_ != State::closed) {
    host_.drop_connection();
    state_ = State::closed;
  }
  // Even when closed: subscriptions made since still wait for their SETEVENTS.
  fail_all(why);
}

bool ControlProtocol::handshaking() const noexcept {
  return state_ != State::idle && state_ != State::ready && state_ != State::closed;
}

void ControlProtocol::fail_all(const Error& why) {
  // Swap out first: callbacks may issue new commands (which then fail too).
  const bool was_live = live_;
  live_ = false;
  safecookie::wipe(cookie_);
  CallbackQueue pending;
  pending.swap(pending_);
  // Held commands wait for the next connection when a reconnection is
  // coming and the caller asked them to.
  std::vector<Held> held;
  if (!hold_while_down_) {
    held.swap(held_);
    held_commands_ = 0;
  }
  std::weak_ptr<bool> alive = alive_;
  if (connect_done_) {
    StatusCallback done = std::move(connect_done_);
    connect_done_ = nullptr;
    done(why);
  }
  while (!pending.empty()) {
    if (alive.expired()) return;
    ReplyCallback cb = pending.pop_front();
    if (cb) cb(why);
  }
  // In issue order. A SETEVENTS was never sent for the subscriptions held
  // here: they are told so, but stay, and are sent on the next connection.
  for (auto& h : held) {
    if (h.cb) {
      if (alive.expired()) return;
      h.cb(why);
    }
    for (auto& w : h.waiting) {
      if (alive.expired()) return;
      if (w.second) w.second(why);
    }
  }
  if (!alive.expired() && was_live && disconnect_handler_) disconnect_handler_(why);
  if (!alive.expired() && was_live) host_.connection_ended(why);
}

void ControlProtocol::hold_while_down(bool on, const Error& why) {
  hold_while_down_ = on;
  if (on || state_ == State::ready || handshaking()) return;
  // Down with no reconnection coming: what waited fails now.
  std::vector<Held> held;
  held.swap(held_);
  held_commands_ = 0;
  std::weak_ptr<bool> alive = alive_;
  for (auto& h : held) {
    if (h.cb) {
      if (alive.expired()) return;
      h.cb(why);
    }
    for (auto& w : h.waiting) {
      if (alive.expired()) return;
      if (w.second) w.second(why);
    }
  }
}

void ControlProtocol::expire(std::uint64_t ticket, const Error& why, bool held_only) {
  if (ticket == 0) return;
  for (auto it = held_.begin(); it != held_.end(); ++it) {
    if (it->setevents || it->ticket != ticket) continue;
    ReplyCallback cb = std::move(it->cb);
    held_.erase(it);
    --held_commands_;
    if (cb) cb(why);
    return;
  }
  if (held_only) return;
  if (ReplyCallback cb = pending_.take(ticket)) cb(why);
}

// ---- sending --------------------------------------------------------------

void ControlProtocol::defer(std::function<void()> fn) {
  deferred_.push_back(std::move(fn));
  if (deferred_.size() == 1) host_.wake();
}

void ControlProtocol::run_deferred() {
  std::vector<std::function<void()>> batch;
  batch.swap(deferred_);
  std::weak_ptr<bool> alive = alive_;
  for (auto& fn : batch) {
    if (alive.expired()) return;
    fn();
  }
}

void ControlProtocol::fail_soon(ReplyCallback cb, Error err) {
  defer([cb = std::move(cb), err = std::move(err)] {
    if (cb) cb(err);
  });
}

void ControlProtocol::write_now(std::string_view wire, ReplyCallback cb, std::uint64_t ticket) {
  if (Status s = host_.write(wire); !s) return fail_soon(std::move(cb), s.error());
  pending_.push_back(std::move(cb), ticket);
}

void ControlProtocol::enqueue(std::string_view wire, ReplyCallback cb, std::uint64_t ticket) {
  if (state_ == State::closed && !hold_while_down_)
    return fail_soon(std::move(cb), Error(Errc::disconnected, "not connected to tor"));
  if (state_ != State::ready) {
    held_.push_back(Held{std::string(wire), std::move(cb), false, {}, ticket});
    ++held_commands_;
    return;
  }
  write_now(wire, std::move(cb), ticket);
}

void ControlProtocol::command(std::string_view line, ReplyCallback cb) {
  const std::uint64_t ticket = next_ticket_++;
  if (Status s = check_raw_command(line); !s) return fail_soon(std::move(cb), s.error());
  wire_.assign(line).append("\r\n");
  enqueue_wire(std::move(cb), ticket);
}

void ControlProtocol::send(const Command& cmd, ReplyCallback cb) {
  const std::uint64_t ticket = next_ticket_++;
  wire_.clear();
  if (!cmd.append_to(wire_)) return fail_soon(std::move(cb), cmd.error());
  enqueue_wire(std::move(cb), ticket);
}

void ControlProtocol::enqueue_wire(ReplyCallback cb, std::uint64_t ticket) {
  enqueue(wire_, std::move(cb), ticket);
  // Keep the buffer for ordinary commands, not the largest LOADCONF ever sent.
  if (wire_.capacity() > 64 * 1024) std::string().swap(wire_);
}

// ---- receiving ------------------------------------------------------------

void ControlProtocol::received(std::size_t n) {
  if (opts_.on_received && n <= space_.size()) opts_.on_received({space_.data(), n});
  reader_.commit(n);
  received_ += n;
  Reply r;
  for (;;) {
    const ReplyReader::Next next = reader_.next(r);
    if (next == ReplyReader::Next::need_more) break;
    if (next == ReplyReader::Next::error) {
      const Error& e = reader_.error();
      return fail_connection(Error(
          e.code,
          "protocol error from tor: " + e.message + " (at byte " + std::to_string(e.offset) + ")",
          e.offset));
    }
    dispatch(r);
    if (state_ == State::closed) break;  // a callback closed the connection
  }
}

void ControlProtocol::feed(std::string_view bytes) {
  while (!bytes.empty() && state_ != State::closed) {
    const std::span<char> space = space_ = reader_.prepare(bytes.size());
    const std::size_t n = std::min(space.size(), bytes.size());
    std::copy_n(bytes.data(), n, space.data());
    bytes.remove_prefix(n);
    received(n);
  }
}

namespace {

Expected<Reply> as_result(const Reply& r) {
  if (r.is_ok()) return r;
  // Every line's text: tor's errors are one line, but nothing is lost if not.
  std::string msg;
  for (const ReplyLine& l : r.lines) {
    if (!msg.empty()) msg.push_back('\n');
    msg.append(l.text);
  }
  return Error(Errc::tor_error, std::move(msg), 0, r.code);
}

}  // namespace

void ControlProtocol::dispatch(const Reply& r) {
  if (r.is_async()) {
    events_.dispatch(r, [this] { return state_ == State::closed; });
    return;
  }
  if (pending_.empty())
    return fail_connection(Error(Errc::io,
                                 "protocol error from tor: a reply no command was waiting for: " +
                                     std::string(r.raw.substr(0, 80)),
                                 r.offset));
  ReplyCallback cb = pending_.pop_front();
  if (cb) cb(as_result(r));
}

// ---- authentication -------------------------------------------------------
//
// connected() sent PROTOCOLINFO. Its reply names the methods tor accepts;
// we pick one and send AUTHENTICATE (NULL, HASHEDPASSWORD, COOKIE) or, for
// SAFECOOKIE, first AUTHCHALLENGE with our nonce. tor's AUTHCHALLENGE reply
// must prove it knows the cookie before we prove that we do. The
// AUTHENTICATE reply ends the handshake either way.

ProtocolInfo parse_protocolinfo(const Reply& r) {
  ProtocolInfo info;
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
            info.methods.emplace_back(m.substr(0, c));
            m = c == std::string_view::npos ? std::string_view{} : m.substr(c + 1);
          }
        } else if (a.key == "COOKIEFILE") {
          info.cookie_file = std::string(a.decoded(scratch));
        }
      }
    } else if (a.value == "VERSION") {
      while (args.next(a))
        if (a.key == "Tor") info.tor_version = std::string(a.decoded(scratch));
    }
  }
  return info;
}

Expected<AuthMethod> choose_auth_method(AuthMethod wanted, bool have_password,
                                        bool cookie_file_named, const ProtocolInfo& info) {
  auto offered = [&](std::string_view m) {
    return std::find(info.methods.begin(), info.methods.end(), m) != info.methods.end();
  };
  if (wanted != AuthMethod::automatic) {
    if (offered(to_string(wanted))) return wanted;
    return Error(Errc::auth,
                 std::string("tor does not offer ") + to_string(wanted) + " authentication");
  }
  if (offered("NULL")) return AuthMethod::null;
  if (offered("HASHEDPASSWORD") && have_password) return AuthMethod::hashed_password;
  if (offered("SAFECOOKIE")) return AuthMethod::safecookie;
  // Plain COOKIE hands the file's contents to whoever answers: only for a
  // file the caller named, never for one the control port names (every tor
  // since 0.2.3 offers SAFECOOKIE beside COOKIE; a server offering COOKIE
  // alone may be a process fishing for a file).
  if (offered("COOKIE") && cookie_file_named) return AuthMethod::cookie;
  if (offered("COOKIE"))
    return Error(Errc::auth,
                 "tor offers COOKIE without SAFECOOKIE, which would send the contents of the "
                 "file the control port names (\"" +
                     info.cookie_file +
                     "\") to it; refused. Set ControllerOptions::cookie_file or ask for "
                     "AuthMethod::cookie to allow it");
  if (offered("HASHEDPASSWORD"))
    return Error(Errc::auth, "tor requires a password (HASHEDPASSWORD) and none was given");
  return Error(Errc::auth, "tor offers no authentication method torcon knows");
}

void ControlProtocol::on_protocolinfo_reply(const Expected<Reply>& r) {
  if (!r) return auth_failed(Error(Errc::auth, "PROTOCOLINFO failed: " + r.error().message));
  protocol_info_ = parse_protocolinfo(*r);
  Expected<AuthMethod> m = choose_auth_method(opts_.auth, !opts_.password.empty(),
                                              !opts_.cookie_file.empty(), protocol_info_);
  if (!m) return auth_failed(m.error());
  used_auth_ = *m;
  switch (used_auth_) {
    case AuthMethod::safecookie: return send_authchallenge();
    case AuthMethod::hashed_password: {
      std::string wire = "AUTHENTICATE ";
      if (Status s = quote(opts_.password, wire); !s)
        return auth_failed(Error(Errc::auth, "password: " + s.error().message));
      return send_authenticate(std::move(wire));
    }
    case AuthMethod::cookie: {
      Expected<std::string> cookie = load_cookie();
      if (!cookie) return auth_failed(cookie.error());
      std::string wire =
          "AUTHENTICATE " +
          safecookie::to_hex({reinterpret_cast<const std::uint8_t*>(cookie->data()), 32});
      safecookie::wipe(*cookie);
      return send_authenticate(std::move(wire));
    }
    case AuthMethod::null:
    case AuthMethod::automatic: return send_authenticate("AUTHENTICATE");
  }
}

// `wire`: the AUTHENTICATE line without CRLF; wiped once handed over, as it
// may hold the password or the cookie.
void ControlProtocol::send_authenticate(std::string wire) {
  state_ = State::authenticate;
  wire += "\r\n";
  write_now(wire, [this](const Expected<Reply>& r) { on_authenticate_reply(r); });
  safecookie::wipe(wire);
}

Expected<std::string> ControlProtocol::load_cookie() {
  Expected<std::string> c =
      host_.read_cookie(opts_.cookie_file.empty() ? protocol_info_.cookie_file : opts_.cookie_file);
  if (c && c->size() != 32) {
    safecookie::wipe(*c);
    return Error(Errc::auth, "the cookie is not the 32 bytes tor writes");
  }
  return c;
}

void ControlProtocol::send_authchallenge() {
  Expected<std::string> cookie = load_cookie();
  if (!cookie) return auth_failed(cookie.error());
  cookie_ = std::move(*cookie);
  Expected<safecookie::Nonce> nonce = host_.client_nonce();
  if (!nonce) return auth_failed(nonce.error());
  client_nonce_ = *nonce;
  state_ = State::authchallenge;
  write_now("AUTHCHALLENGE SAFECOOKIE " + safecookie::to_hex(client_nonce_) + "\r\n",
            [this](const Expected<Reply>& r) { on_authchallenge_reply(r); });
}

// "250 AUTHCHALLENGE SERVERHASH=<64 hex> SERVERNONCE=<64 hex>". Anything
// else ends authentication: a server that cannot prove it knows the cookie
// gets nothing from us, no client hash and never a fallback to COOKIE.
void ControlProtocol::on_authchallenge_reply(const Expected<Reply>& r) {
  if (!r) return auth_failed(Error(Errc::auth, "AUTHCHALLENGE refused: " + r.error().message));
  const std::string_view text = r->status_text();
  std::string scratch, server_hash, server_nonce;
  std::string_view v;
  if (text.substr(0, text.find(' ')) != "AUTHCHALLENGE" ||
      !find_keyword(text, "SERVERHASH", v, scratch) || !safecookie::from_hex(v, server_hash) ||
      server_hash.size() != 32 || !find_keyword(text, "SERVERNONCE", v, scratch) ||
      !safecookie::from_hex(v, server_nonce) || server_nonce.size() != 32)
    return auth_failed(Error(Errc::auth, "malformed AUTHCHALLENGE reply: " + std::string(text)));
  const auto bytes = [](const std::string& s) {
    return std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), 32);
  };
  safecookie::Digest got;
  std::copy_n(bytes(server_hash).begin(), 32, got.begin());
  const safecookie::Digest expect =
      safecookie::compute(true, bytes(cookie_), client_nonce_, bytes(server_nonce));
  if (!safecookie::equal(expect, got))
    return auth_failed(
        Error(Errc::auth,
              "SAFECOOKIE: tor's server hash is wrong; refusing to authenticate (the control "
              "port may not be the tor that wrote the cookie)"));
  const safecookie::Digest mine =
      safecookie::compute(false, bytes(cookie_), client_nonce_, bytes(server_nonce));
  safecookie::wipe(cookie_);
  send_authenticate("AUTHENTICATE " + safecookie::to_hex(mine));
}

void ControlProtocol::on_authenticate_reply(const Expected<Reply>& r) {
  if (!r)
    return auth_failed(
        Error(Errc::auth, "authentication refused: " + r.error().message, 0, r.error().status));
  became_ready();
}

void ControlProtocol::auth_failed(Error err) {
  if (err.code != Errc::auth) err = Error(Errc::auth, err.message, err.offset, err.status);
  fail_connection(std::move(err));
}

void ControlProtocol::became_ready() {
  state_ = State::ready;
  live_ = true;
  const bool again = was_ready_;
  was_ready_ = true;
  // A restarted tor forgot that it belongs to us: before anything else, so
  // that it exits with this connection as it would have with the last.
  if (again && ownership_taken_)
    write_now("TAKEOWNERSHIP\r\n", [this](const Expected<Reply>& r) {
      if (!r && restore_error_)
        restore_error_(Error(r.error().code,
                             "TAKEOWNERSHIP again after reconnecting: " + r.error().message, 0,
                             r.error().status));
    });
  // Then the subscriptions of the last connection, before what was issued
  // during the gap: a command that waited sees the events it would have.
  if (again) update_setevents();
  // What was issued meanwhile, in issue order: a SETEVENTS asked for before
  // a GETINFO is answered before it, so the GETINFO's answer is followed by
  // events of every later change. (A callback run meanwhile may close the
  // connection: the rest then fails in enqueue().)
  std::vector<Held> held;
  held.swap(held_);
  held_commands_ = 0;
  for (Held& h : held) {
    if (h.setevents && state_ == State::ready) {
      send_setevents(std::move(h.wire), std::move(h.waiting));
    } else if (h.setevents) {
      for (auto& w : h.waiting)
        if (w.second)
          fail_soon([cb = std::move(w.second)](const Expected<Reply>& r) { cb(r.error()); },
                    Error(Errc::disconnected, "not connected to tor"));
    } else {
      enqueue(h.wire, std::move(h.cb), h.ticket);
    }
  }
  // A new connection of a controller subscribed before it: nothing was held
  // for the subscriptions made on the last one.
  update_setevents();
  if (connect_done_) {
    StatusCallback done = std::move(connect_done_);
    connect_done_ = nullptr;
    done(Status{});
  }
}

// ---- events ---------------------------------------------------------------

ControlProtocol::SubscriptionId ControlProtocol::subscribe(std::string_view event, EventHandler h,
                                                           StatusCallback done) {
  if (!is_event_name(event)) {
    if (done)
      fail_soon([done = std::move(done)](const Expected<Reply>& r) { done(r.error()); },
                Error(Errc::bad_keyword,
                      "event name \"" + std::string(event) + "\" is not 1*(ALPHA / \"_\")"));
    return 0;
  }
  const SubscriptionId id = next_sub_++;
  events_.add(event, id, std::move(h));
  update_setevents(id, std::move(done));
  return id;
}

ControlProtocol::SubscriptionId ControlProtocol::subscribe_typed(std::string_view event,
                                                                 TypedEventHandler h,
                                                                 MalformedEventHandler on_malformed,
                                                                 StatusCallback done) {
  return subscribe(event, typed_handler(std::move(h), std::move(on_malformed)), std::move(done));
}

void ControlProtocol::unsubscribe(SubscriptionId id) {
  if (events_.remove(id)) update_setevents();
}

void ControlProtocol::update_setevents(SubscriptionId added, StatusCallback done) {
  std::string line = "SETEVENTS";
  for (const std::string& n : subscribed_events()) line += ' ' + n;
  Waiting waiting;
  if (done) waiting.emplace_back(added, std::move(done));
  if (state_ != State::ready) {
    // Sent once authenticated, in its place among the held commands
    // (became_ready); its callbacks run then. Changes with no command
    // between them make one SETEVENTS, of the last set.
    if (!held_.empty() && held_.back().setevents) {
      held_.back().wire = std::move(line);
      for (auto& w : waiting) held_.back().waiting.push_back(std::move(w));
    } else {
      held_.push_back(Held{std::move(line), nullptr, true, std::move(waiting)});
    }
    return;
  }
  send_setevents(std::move(line), std::move(waiting));
}

// `line`: the subscriptions at the time they changed, without CRLF.
void ControlProtocol::send_setevents(std::string line, Waiting waiting) {
  if (line == current_setevents_) {
    // Nothing changed for tor (e.g. a second handler for an event): success
    // at once, but not inside the caller's call.
    for (auto& w : waiting)
      if (w.second)
        fail_soon([cb = std::move(w.second)](const Expected<Reply>&) { cb(Status{}); }, {});
    return;
  }
  std::string previous = std::move(current_setevents_);
  current_setevents_ = line;
  line += "\r\n";
  write_now(line, [this, waiting = std::move(waiting),
                   previous = std::move(previous)](const Expected<Reply>& r) {
    if (!r && state_ == State::ready) {
      // tor kept its old set: drop the subscriptions that asked for this
      // one, then bring tor in line with what is left (one SETEVENTS at
      // most, and none if that is the old set).
      current_setevents_ = previous;
      for (auto& [id, cb] : waiting)
        if (id) events_.remove(id);
      update_setevents();
    }
    for (auto& [id, cb] : waiting) {
      if (!cb) continue;
      if (r)
        cb(Status{});
      else
        cb(r.error());
    }
  });
}

}  // namespace torcon::detail
