// CircuitBuilder (include/torcon/circuit_builder.hpp): EXTENDCIRCUIT,
// SETCIRCUITPURPOSE and CLOSECIRCUIT, completed by what a TorState sees.

#include "torcon/circuit_builder.hpp"

#include <map>
#include <unordered_map>
#include <utility>

#include "torcon/circuit.hpp"
#include "torcon/reactor.hpp"
#include "torcon/router.hpp"
#include "torcon/tokens.hpp"
#include "torcon/tor_state.hpp"

namespace torcon {

const char* to_string(CircuitPurpose p) noexcept {
  switch (p) {
    case CircuitPurpose::general: return "general";
    case CircuitPurpose::controller: return "controller";
  }
  return "general";
}

namespace {

bool has_ended(const Circuit& c) {
  return c.state() == CircStatus::failed || c.state() == CircStatus::closed;
}

std::string ending_text(std::string_view id, std::string_view state, std::string_view reason,
                        std::string_view remote_reason) {
  std::string s = "circuit " + std::string(id) + " " + std::string(state);
  if (!reason.empty()) s += " REASON=" + std::string(reason);
  if (!remote_reason.empty()) s += " REMOTE_REASON=" + std::string(remote_reason);
  return s;
}

// Whether a GETINFO circuit-status answer lists circuit `id` (tor leaves out
// circuits marked for close).
bool lists_circuit(const std::string& status, std::string_view id) {
  std::size_t pos = 0;
  while (pos < status.size()) {
    std::size_t end = status.find('\n', pos);
    if (end == std::string::npos) end = status.size();
    const std::string_view line(status.data() + pos, end - pos);
    if (line.size() > id.size() && line.starts_with(id) && line[id.size()] == ' ') return true;
    pos = end + 1;
  }
  return false;
}

}  // namespace

struct CircuitBuilder::Impl {
  enum class Kind : std::uint8_t { build, extend, close };
  struct Op {
    Kind kind = Kind::build;
    std::string id;             // the circuit; for a build, "" until tor's reply names it
    bool replied = false;       // tor accepted the command: events now decide
    std::size_t want_hops = 0;  // build/extend: BUILT with at least this many hops
    bool close_on_timeout = true;
    TimerId timer;
    CircuitCallback done;
  };
  // How a circuit ended, kept while a reply that may name it is on its way.
  struct Ending {
    std::string state, reason, remote_reason;
  };

  Impl(Reactor& r, Controller& c, TorState& s) : reactor(r), ctl(c), state(s) {}

  Reactor& reactor;
  Controller& ctl;
  TorState& state;
  TorState::ListenerId listener = 0;
  Controller::HookId disconnect_hook = 0;
  std::map<std::uint64_t, Op> ops;  // by start order
  std::uint64_t next_op = 1;
  // Commands sent whose reply may name a circuit; while there are any,
  // circuits that end are remembered in `ended`, as the reply may be for one
  // of them.
  std::size_t awaiting_reply = 0;
  std::unordered_map<std::string, Ending> ended;
  std::shared_ptr<Impl*> self = std::make_shared<Impl*>(this);  // for callbacks

  std::uint64_t add(Kind kind, std::string id, std::size_t want_hops, CircuitCallback done,
                    std::chrono::milliseconds timeout) {
    const std::uint64_t serial = next_op++;
    Op& op = ops[serial];
    op.kind = kind;
    op.id = std::move(id);
    op.want_hops = want_hops;
    op.done = std::move(done);
    if (timeout.count() > 0) {
      std::weak_ptr<Impl*> weak = self;
      op.timer = reactor.start_timer(timeout, [weak, serial] {
        if (auto p = weak.lock()) (*p)->timed_out(serial);
      });
    }
    return serial;
  }

  // Completes at once, from the loop (never inside the call that started it).
  void fail_soon(Kind kind, std::string id, CircuitCallback done, Error why) {
    const std::uint64_t serial = add(kind, std::move(id), 0, std::move(done), {});
    std::weak_ptr<Impl*> weak = self;
    ops[serial].timer = reactor.start_timer(std::chrono::nanoseconds(0), [weak, serial, why] {
      if (auto p = weak.lock()) (*p)->finish(serial, CircuitOutcome{{}, nullptr, why, {}, {}});
    });
  }

  void finish(std::uint64_t serial, CircuitOutcome outcome) {
    auto it = ops.find(serial);
    if (it == ops.end()) return;
    Op op = std::move(it->second);
    ops.erase(it);
    reactor.cancel_timer(op.timer);
    if (outcome.id.empty()) outcome.id = op.id;
    op.done(outcome);
  }

  void reply_arrived() {
    if (awaiting_reply > 0 && --awaiting_reply == 0) ended.clear();
  }

  // The outcome, if what TorState knows of the op's circuit decides it.
  void evaluate(std::uint64_t serial) {
    auto it = ops.find(serial);
    if (it == ops.end() || !it->second.replied) return;
    const Op& op = it->second;
    if (const Circuit* c = state.circuit(op.id); c && !has_ended(*c)) {
      if (op.kind != Kind::close && c->state() == CircStatus::built &&
          c->path().size() >= op.want_hops)
        finish(serial, CircuitOutcome{op.id, c, {}, {}, {}});
      return;
    }
    auto e = ended.find(op.id);
    if (e == ended.end()) return;  // not seen yet: its events are on their way
    ended_as(serial, e->second.state, e->second.reason, e->second.remote_reason);
  }

  void ended_as(std::uint64_t serial, std::string_view st, std::string_view reason,
                std::string_view remote_reason) {
    const Op& op = ops.at(serial);
    CircuitOutcome out{op.id, nullptr, {}, std::string(reason), std::string(remote_reason)};
    if (op.kind != Kind::close)
      out.error = Error(Errc::tor_error, ending_text(op.id, st, reason, remote_reason));
    finish(serial, std::move(out));
  }

  void on_circuit(const Circuit& c, CircuitChanges what) {
    if (!(what & (circuit_created | circuit_state | circuit_path | circuit_removed))) return;
    const bool removed = what & circuit_removed;
    if (removed && awaiting_reply > 0)
      ended[std::string(c.id())] = {std::string(c.state_text()), std::string(c.reason()),
                                    std::string(c.remote_reason())};
    std::vector<std::uint64_t> mine;
    for (const auto& [serial, op] : ops)
      if (op.replied && op.id == c.id()) mine.push_back(serial);
    for (std::uint64_t serial : mine) {
      auto it = ops.find(serial);  // an earlier callback may have changed the table
      if (it == ops.end()) continue;
      const Op& op = it->second;
      if (removed) {
        ended_as(serial, c.state_text(), c.reason(), c.remote_reason());
      } else if (op.kind != Kind::close && c.state() == CircStatus::built &&
                 c.path().size() >= op.want_hops) {
        finish(serial, CircuitOutcome{op.id, &c, {}, {}, {}});
      }
    }
  }

  void timed_out(std::uint64_t serial) {
    auto it = ops.find(serial);
    if (it == ops.end()) return;
    Op& op = it->second;
    op.timer = {};
    // A build not yet answered is closed by its reply handler.
    if (op.kind != Kind::close && op.replied && op.close_on_timeout)
      ctl.closecircuit(op.id, false, [](const Status&) {});
    std::string what = op.kind == Kind::close ? "CLOSED" : "BUILT";
    finish(serial, CircuitOutcome{op.id,
                                  nullptr,
                                  Error(Errc::timeout, "circuit " + (op.id.empty() ? "?" : op.id) +
                                                           " not " + what + " in time"),
                                  {},
                                  {}});
  }

  // The connection ended: the events an accepted command waits for will not
  // come, and after a reconnection the id may name another circuit (tor may
  // have restarted). Commands still unanswered fail through their replies.
  void connection_lost(const Error& why) {
    std::vector<std::uint64_t> waiting;
    for (const auto& [serial, op] : ops)
      if (op.replied) waiting.push_back(serial);
    for (std::uint64_t serial : waiting) {
      auto it = ops.find(serial);  // an earlier callback may have finished it
      if (it == ops.end()) continue;
      const std::string what = it->second.kind == Kind::close ? "CLOSED" : "BUILT";
      finish(serial,
             CircuitOutcome{{},
                            nullptr,
                            Error(Errc::disconnected, "circuit " + it->second.id + " not " + what +
                                                          ": the connection to tor ended (" +
                                                          why.message + ")"),
                            {},
                            {}});
    }
  }

  void extend(std::string circuit_id, std::vector<std::string> hops, const CircuitBuildOptions& o,
              CircuitCallback done) {
    const bool fresh = circuit_id == "0";
    const Kind kind = fresh ? Kind::build : Kind::extend;
    if (!is_control_id(circuit_id))
      return fail_soon(kind, {}, std::move(done),
                       Error(Errc::bad_argument,
                             "circuit ID \"" + circuit_id + "\" is not 1-16 letters or digits"));
    if (!fresh && hops.empty())
      return fail_soon(kind, circuit_id, std::move(done),
                       Error(Errc::bad_argument, "extending a circuit needs at least one hop"));
    for (const std::string& h : hops)
      if (!is_server_spec(h))
        return fail_soon(
            kind, fresh ? std::string() : circuit_id, std::move(done),
            Error(Errc::bad_argument,
                  "hop \"" + h + "\" is not $fingerprint, $fingerprint~nickname or nickname"));
    std::size_t want = hops.empty() ? 1 : hops.size();
    if (!fresh)
      if (const Circuit* c = state.circuit(circuit_id)) want += c->path().size();
    const std::uint64_t serial =
        add(kind, fresh ? std::string() : circuit_id, want, std::move(done), o.timeout);
    ops[serial].close_on_timeout = o.close_on_timeout;
    ++awaiting_reply;
    std::vector<std::string_view> views(hops.begin(), hops.end());
    std::weak_ptr<Impl*> weak = self;
    const bool close_late = o.close_on_timeout;
    ctl.extendcircuit(circuit_id, views, o.purpose ? to_string(*o.purpose) : "",
                      [weak, serial, close_late](const Expected<std::string>& id) {
                        auto p = weak.lock();
                        if (!p) return;
                        (*p)->extend_reply(serial, id, close_late);
                      });
  }

  void extend_reply(std::uint64_t serial, const Expected<std::string>& id, bool close_late) {
    auto it = ops.find(serial);
    if (it == ops.end()) {
      // Timed out before tor named the circuit: close it now.
      if (id && close_late) ctl.closecircuit(*id, false, [](const Status&) {});
      return reply_arrived();
    }
    if (!id) {
      finish(serial, CircuitOutcome{{}, nullptr, id.error(), {}, {}});
      return reply_arrived();
    }
    it->second.id = *id;
    it->second.replied = true;
    evaluate(serial);
    ended.erase(*id);  // from here on, its events reach the op directly
    reply_arrived();
  }

  void close(std::string circuit_id, const CircuitCloseOptions& o, CircuitCallback done) {
    if (!is_control_id(circuit_id))
      return fail_soon(Kind::close, {}, std::move(done),
                       Error(Errc::bad_argument,
                             "circuit ID \"" + circuit_id + "\" is not 1-16 letters or digits"));
    const std::uint64_t serial = add(Kind::close, circuit_id, 0, std::move(done), o.timeout);
    ++awaiting_reply;
    std::weak_ptr<Impl*> weak = self;
    ctl.closecircuit(circuit_id, o.if_unused, [weak, serial](const Status& s) {
      auto p = weak.lock();
      if (!p) return;
      Impl& impl = **p;
      if (!s) {
        impl.finish(serial, CircuitOutcome{{}, nullptr, s.error(), {}, {}});
      } else if (auto it = impl.ops.find(serial); it != impl.ops.end()) {
        it->second.replied = true;
        impl.evaluate(serial);
      }
      impl.reply_arrived();
    });
    if (!o.if_unused) return;
    // Tor answers 250 whether or not IfUnused let it close the circuit; the
    // next command's answer shows whether it is still there (tor lists no
    // circuit marked for close).
    ctl.getinfo({"circuit-status"}, [weak, serial, circuit_id](const Expected<KeyValues>& kv) {
      auto p = weak.lock();
      if (!p) return;
      Impl& impl = **p;
      if (impl.ops.find(serial) == impl.ops.end()) return;
      const std::string* status = kv ? kv->find("circuit-status") : nullptr;
      if (status && lists_circuit(*status, circuit_id))
        impl.finish(serial,
                    CircuitOutcome{{},
                                   nullptr,
                                   Error(Errc::tor_error, "circuit " + circuit_id +
                                                              " is in use: CLOSECIRCUIT IfUnused "
                                                              "left it open"),
                                   {},
                                   {}});
    });
  }
};

CircuitBuilder::CircuitBuilder(Reactor& reactor, Controller& controller, TorState& state)
    : impl_(std::make_unique<Impl>(reactor, controller, state)) {
  std::weak_ptr<Impl*> weak = impl_->self;
  impl_->listener = state.on_circuit([weak](const Circuit& c, CircuitChanges what) {
    if (auto p = weak.lock()) (*p)->on_circuit(c, what);
  });
  impl_->disconnect_hook = controller.add_disconnect_hook([weak](const Error& why) {
    if (auto p = weak.lock()) (*p)->connection_lost(why);
  });
}

CircuitBuilder::~CircuitBuilder() {
  Impl& impl = *impl_;
  impl.state.remove_listener(impl.listener);
  impl.ctl.remove_disconnect_hook(impl.disconnect_hook);
  impl.self.reset();  // replies and timers still queued find no builder
  std::map<std::uint64_t, Impl::Op> left = std::move(impl.ops);
  impl.ops.clear();
  for (auto& [serial, op] : left) {
    impl.reactor.cancel_timer(op.timer);
    op.done(CircuitOutcome{
        op.id, nullptr, Error(Errc::disconnected, "the circuit builder was destroyed"), {}, {}});
  }
}

void CircuitBuilder::build(std::span<const std::string> path, const CircuitBuildOptions& options,
                           CircuitCallback done) {
  impl_->extend("0", std::vector<std::string>(path.begin(), path.end()), options, std::move(done));
}

void CircuitBuilder::build(std::span<const Router* const> path, const CircuitBuildOptions& options,
                           CircuitCallback done) {
  std::vector<std::string> hops;
  hops.reserve(path.size());
  for (const Router* r : path) hops.push_back(r ? "$" + r->fingerprint() : std::string());
  impl_->extend("0", std::move(hops), options, std::move(done));
}

void CircuitBuilder::extend(std::string_view circuit_id, std::span<const std::string> hops,
                            const CircuitBuildOptions& options, CircuitCallback done) {
  // "0" would build a new circuit: not what extending means.
  if (circuit_id == "0")
    return impl_->fail_soon(Impl::Kind::extend, {}, std::move(done),
                            Error(Errc::bad_argument, "circuit ID 0 names no circuit"));
  impl_->extend(std::string(circuit_id), std::vector<std::string>(hops.begin(), hops.end()),
                options, std::move(done));
}

void CircuitBuilder::set_purpose(std::string_view circuit_id, CircuitPurpose purpose,
                                 StatusCallback done) {
  impl_->ctl.setcircuitpurpose(circuit_id, to_string(purpose), std::move(done));
}

void CircuitBuilder::close(std::string_view circuit_id, const CircuitCloseOptions& options,
                           CircuitCallback done) {
  impl_->close(std::string(circuit_id), options, std::move(done));
}

std::size_t CircuitBuilder::pending() const noexcept { return impl_->ops.size(); }

Controller::Awaiter<CircuitOutcome> CircuitBuilder::co_build(std::vector<std::string> path,
                                                             CircuitBuildOptions options) {
  return {[this, path = std::move(path), options](std::function<void(CircuitOutcome)> resume) {
            build(std::span<const std::string>(path), options,
                  [resume = std::move(resume)](const CircuitOutcome& o) { resume(o); });
          },
          {}};
}

Controller::Awaiter<CircuitOutcome> CircuitBuilder::co_extend(std::string circuit_id,
                                                              std::vector<std::string> hops,
                                                              CircuitBuildOptions options) {
  return {[this, circuit_id = std::move(circuit_id), hops = std::move(hops),
           options](std::function<void(CircuitOutcome)> resume) {
            extend(circuit_id, hops, options,
                   [resume = std::move(resume)](const CircuitOutcome& o) { resume(o); });
          },
          {}};
}

Controller::Awaiter<Status> CircuitBuilder::co_set_purpose(std::string circuit_id,
                                                           CircuitPurpose purpose) {
  return {[this, circuit_id = std::move(circuit_id), purpose](std::function<void(Status)> resume) {
            set_purpose(circuit_id, purpose,
                        [resume = std::move(resume)](const Status& s) { resume(s); });
          },
          {}};
}

Controller::Awaiter<CircuitOutcome> CircuitBuilder::co_close(std::string circuit_id,
                                                             CircuitCloseOptions options) {
  return {[this, circuit_id = std::move(circuit_id),
           options](std::function<void(CircuitOutcome)> resume) {
            close(circuit_id, options,
                  [resume = std::move(resume)](const CircuitOutcome& o) { resume(o); });
          },
          {}};
}

}  // namespace torcon
