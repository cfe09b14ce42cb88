// Socket: a (weak reactor, fd, generation) triple. Every operation re-checks
// that the reactor and the socket are still there, so a stale handle is
// harmless rather than a dangling pointer.
#include "torcon/socket.hpp"

#include <utility>

#include "core.hpp"

namespace torcon {

Socket::Socket(std::weak_ptr<detail::Core> core, int fd, std::uint32_t gen)
    : core_(std::move(core)), fd_(fd), gen_(gen) {}

Socket::Socket(Socket&& other) noexcept
    : core_(std::move(other.core_)), fd_(std::exchange(other.fd_, -1)), gen_(other.gen_) {}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    close_silently();
    core_ = std::move(other.core_);
    fd_ = std::exchange(other.fd_, -1);
    gen_ = other.gen_;
  }
  return *this;
}

Socket::~Socket() { close_silently(); }

detail::Core* Socket::live_core() const {
  if (fd_ < 0 || core_.expired()) return nullptr;
  // expired() was false and the loop is single-threaded: still alive.
  detail::Core* core = core_.lock().get();
  return core && core->find_socket(fd_, gen_) ? core : nullptr;
}

bool Socket::is_open() const { return live_core() != nullptr; }

bool Socket::is_connected() const {
  detail::Core* core = live_core();
  return core && core->find_socket(fd_, gen_)->connected;
}

Status Socket::write(std::string_view bytes) { return write({bytes}); }

Status Socket::write(std::initializer_list<std::string_view> pieces) {
  detail::Core* core = live_core();
  if (!core) return Error(Errc::disconnected, "write on a closed socket");
  return core->write(fd_, gen_, pieces);
}

std::size_t Socket::queued_bytes() const {
  detail::Core* core = live_core();
  return core ? core->find_socket(fd_, gen_)->out.size() : 0;
}

int Socket::fd() const { return live_core() ? fd_ : -1; }

void Socket::close() {
  detail::Core* core = live_core();
  // Forget the socket first: on_close() may destroy this handle's owner.
  int fd = std::exchange(fd_, -1);
  core_.reset();
  if (core)
    core->close_socket(fd, gen_, Error(Errc::ok, "closed locally"), detail::Core::Notify::yes);
}

void Socket::close_silently() {
  detail::Core* core = live_core();
  int fd = std::exchange(fd_, -1);
  core_.reset();
  if (core) core->close_socket(fd, gen_, Error(), detail::Core::Notify::no);
}

}  // namespace torcon
