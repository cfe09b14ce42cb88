// fleet::Fleet (fleet.hpp): launching, commanding and listening to N tors
// from one loop. Every fan-out below counts its answers in a shared counter,
// because the answers arrive in whatever order the tors manage.

#include "fleet.hpp"

#include <optional>
#include <utility>

namespace fleet {

using torcon::Error;
using torcon::Expected;
using torcon::KeyValues;
using torcon::Status;

std::string Member::name() const {
  return "tor " + std::to_string(index) + " :" + std::to_string(control_port);
}

Fleet::Fleet(torcon::Reactor& reactor, FleetOptions options)
    : reactor_(reactor), options_(std::move(options)) {
  members_.resize(options_.tors);
  for (std::size_t i = 0; i < members_.size(); ++i) members_[i].index = i;
}

std::size_t Fleet::running() const {
  std::size_t n = 0;
  for (const Member& m : members_) n += m.tor != nullptr;
  return n;
}

void Fleet::launch(std::function<void(const Status&)> done) {
  struct Launching {
    std::size_t left = 0;
    std::optional<Error> first_error;
    std::function<void(const Status&)> done;
  };
  auto state = std::make_shared<Launching>();
  state->left = members_.size();
  state->done = std::move(done);
  if (members_.empty()) {
    reactor_.post([state] { state->done(Status{}); });
    return;
  }
  for (Member& m : members_) {
    torcon::LaunchOptions o;
    o.tor_binary = options_.tor_binary;
    o.torrc = options_.torrc;
    o.wait_for_bootstrap = false;  // DisableNetwork: it never bootstraps
    o.timeout = options_.launch_timeout;
    torcon::launch_tor(
        reactor_, std::move(o), [&m, state](Expected<std::unique_ptr<torcon::TorProcess>> t) {
          if (t) {
            m.tor = std::move(*t);
            m.control_port = m.tor->control_endpoint().port;
          } else if (!state->first_error) {
            state->first_error =
                Error(t.error().code, "tor " + std::to_string(m.index) + ": " + t.error().message);
          }
          if (--state->left > 0) return;
          if (state->first_error)
            state->done(*state->first_error);
          else
            state->done(Status{});
        });
  }
}

void Fleet::subscribe(std::string_view event, FleetEventHandler handler,
                      std::function<void(const Status&)> done) {
  struct Subscribing {
    std::size_t left = 0;
    std::optional<Error> first_error;
    std::function<void(const Status&)> done;
  };
  auto state = std::make_shared<Subscribing>();
  state->left = running();
  state->done = std::move(done);
  // One copy of the handler for all the tors: it is the fan-in point.
  auto shared = std::make_shared<FleetEventHandler>(std::move(handler));
  for (const Member& m : members_) {
    if (!m.tor) continue;
    m.controller().subscribe(
        event, [shared, &m](const torcon::Reply& r) { (*shared)(m, r); },
        [state, &m](const Status& s) {
          if (!s && !state->first_error)
            state->first_error = Error(s.error().code, m.name() + ": " + s.error().message);
          if (--state->left > 0 || !state->done) return;
          if (state->first_error)
            state->done(*state->first_error);
          else
            state->done(Status{});
        });
  }
  if (state->left == 0 && state->done)
    reactor_.post([state] { state->done(Error(torcon::Errc::disconnected, "no tor is running")); });
}

void Fleet::getinfo_all(std::vector<std::string> keys, MemberKeyValues each,
                        std::function<void()> all_done) {
  struct Asking {
    std::size_t left = 0;
    MemberKeyValues each;
    std::function<void()> all_done;
  };
  auto state = std::make_shared<Asking>();
  state->left = running();
  state->each = std::move(each);
  state->all_done = std::move(all_done);
  if (state->left == 0) {
    reactor_.post([state] {
      if (state->all_done) state->all_done();
    });
    return;
  }
  const std::vector<std::string_view> views(keys.begin(), keys.end());
  for (const Member& m : members_) {
    if (!m.tor) continue;
    m.controller().getinfo(views, [state, &m](const Expected<KeyValues>& kv) {
      if (state->each) state->each(m, kv);
      if (--state->left == 0 && state->all_done) state->all_done();
    });
  }
}

void Fleet::stop(std::function<void()> done) {
  auto left = std::make_shared<std::size_t>(running());
  auto finished = std::make_shared<std::function<void()>>(std::move(done));
  if (*left == 0) {
    reactor_.post([finished] {
      if (*finished) (*finished)();
    });
    return;
  }
  for (Member& m : members_) {
    if (!m.tor) continue;
    m.tor->stop([left, finished] {
      if (--*left == 0 && *finished) (*finished)();
    });
  }
}

}  // namespace fleet
