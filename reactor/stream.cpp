// Stream: a (weak reactor, fd, generation) triple. Every operation re-checks
// that the reactor and the stream are still there, so a stale handle is
// harmless rather than a dangling pointer.
#include "torcon/stream.hpp"

#include <utility>

#include "core.hpp"

namespace torcon {

Stream::Stream(std::weak_ptr<detail::Core> core, int fd, std::uint32_t gen)
    : core_(std::move(core)), fd_(fd), gen_(gen) {}

Stream::Stream(Stream&& other) noexcept
    : core_(std::move(other.core_)), fd_(std::exchange(other.fd_, -1)), gen_(other.gen_) {}

Stream& Stream::operator=(Stream&& other) noexcept {
  if (this != &other) {
    close_silently();
    core_ = std::move(other.core_);
    fd_ = std::exchange(other.fd_, -1);
    gen_ = other.gen_;
  }
  return *this;
}

Stream::~Stream() { close_silently(); }

detail::Core* Stream::live_core() const {
  if (fd_ < 0 || core_.expired()) return nullptr;
  // expired() was false and the loop is single-threaded: still alive.
  detail::Core* core = core_.lock().get();
  return core && core->stream(fd_, gen_) ? core : nullptr;
}

bool Stream::is_open() const { return live_core() != nullptr; }

bool Stream::is_connected() const {
  detail::Core* core = live_core();
  return core && core->stream(fd_, gen_)->connected;
}

Status Stream::write(std::string_view bytes) { return write({bytes}); }

Status Stream::write(std::initializer_list<std::string_view> pieces) {
  detail::Core* core = live_core();
  if (!core) return Error(Errc::disconnected, "write on a closed stream");
  return core->write(fd_, gen_, pieces);
}

std::size_t Stream::queued_bytes() const {
  detail::Core* core = live_core();
  return core ? core->stream(fd_, gen_)->out.size() : 0;
}

int Stream::fd() const { return live_core() ? fd_ : -1; }

void Stream::close() {
  detail::Core* core = live_core();
  // Forget the stream first: on_close() may destroy this handle's owner.
  int fd = std::exchange(fd_, -1);
  core_.reset();
  if (core)
    core->close_stream(fd, gen_, Error(Errc::ok, "closed locally"), detail::Core::Notify::yes);
}

void Stream::close_silently() {
  detail::Core* core = live_core();
  int fd = std::exchange(fd_, -1);
  core_.reset();
  if (core) core->close_stream(fd, gen_, Error(), detail::Core::Notify::no);
}

}  // namespace torcon
