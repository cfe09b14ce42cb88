// Reactor: the public face of a detail::Core (the loop itself is core.cpp).
#include "torcon/reactor.hpp"

#include <algorithm>

#include "backend.hpp"
#include "core.hpp"

namespace torcon {

const char* to_string(BackendKind kind) { return kind == BackendKind::uring ? "uring" : "epoll"; }

Expected<std::unique_ptr<Reactor>> Reactor::create(ReactorOptions options) {
  auto core = std::make_shared<detail::Core>(options);
  if (Status ok = core->init(); !ok) return ok.error();
  return std::unique_ptr<Reactor>(new Reactor(std::move(core)));
}

Status Reactor::uring_available() { return detail::probe_uring(); }

Reactor::Reactor(std::shared_ptr<detail::Core> core) : core_(std::move(core)) {}

// Socket handles hold weak references: once core_ goes they see a closed
// socket instead of a dangling reactor.
Reactor::~Reactor() { core_->shutdown(); }

BackendKind Reactor::backend() const { return core_->backend_kind(); }
const std::string& Reactor::fallback_reason() const { return core_->fallback_reason(); }

void Reactor::run() { core_->run(); }
void Reactor::run_once(Duration max_wait) { core_->run_once(max_wait); }
void Reactor::stop() { core_->stop(); }
void Reactor::post(std::function<void()> fn) { core_->post(std::move(fn)); }

Socket Reactor::connect(const Endpoint& where, SocketHandler& handler, ConnectCallback done,
                        ConnectOptions options) {
  return core_->connect(core_, where, handler, std::move(done), options);
}

TimerId Reactor::start_timer(Duration delay, std::function<void()> fn) {
  return core_->timers().start(delay, {}, std::move(fn));
}

TimerId Reactor::start_repeating_timer(Duration period, std::function<void()> fn) {
  // A zero period would fire on every iteration forever.
  return core_->timers().start(period, std::max(period, Duration(1)), std::move(fn));
}

bool Reactor::cancel_timer(TimerId id) { return core_->timers().cancel(id); }

Status Reactor::watch_readable(int fd, std::function<void()> fn) {
  return core_->watch_readable(fd, std::move(fn));
}

void Reactor::unwatch(int fd) { core_->unwatch(fd); }

}  // namespace torcon
