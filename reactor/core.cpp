#include "core.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "socket_address.hpp"

namespace torcon::detail {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

Core::Core(const ReactorOptions& options) : options_(options) {}

Core::~Core() { shutdown(); }

Status Core::init() {
  using Choice = ReactorOptions::Choice;
  Choice choice = options_.backend;
  // Who asked for the backend, for the error when it cannot be had.
  std::string requested_by = "ReactorOptions::backend";
  if (choice == Choice::automatic) {
    if (const char* env = std::getenv("TORCON_REACTOR"); env && *env) {
      std::string_view want = env;
      requested_by = "TORCON_REACTOR=" + std::string(want);
      if (want == "epoll") {
        choice = Choice::epoll;
      } else if (want == "uring" || want == "io_uring") {
        choice = Choice::uring;
      } else {
        // A typo must not quietly become whatever the machine offers.
        return Error(Errc::io, "TORCON_REACTOR='" + std::string(want) +
                                   "' not understood (want epoll, uring or unset)");
      }
    }
  }
  if (choice != Choice::epoll) {
    auto uring = make_uring_backend(*this);
    if (uring) {
      backend_ = std::move(*uring);
    } else if (choice == Choice::uring) {
      // Asked for by name: running epoll instead would hide that the caller
      // is not measuring or testing what they think.
      return Error(Errc::io, "io_uring requested (" + requested_by +
                                 ") but unavailable: " + uring.error().message);
    } else {
      fallback_reason_ = "io_uring unavailable, using epoll: " + uring.error().message;
    }
  }
  if (!backend_) {
    auto epoll = make_epoll_backend(*this);
    if (!epoll) return epoll.error();
    backend_ = std::move(*epoll);
  }

  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return Error(Errc::io, "eventfd: " + errno_text(errno));
  return watch_readable(wake_fd_, [this] { run_posted(); });
}

void Core::shutdown() {
  if (shut_down_ || !backend_) return;
  shut_down_ = true;
  // Connect failures already decided still owe their callback.
  run_deferred();
  const Error gone(Errc::disconnected, "reactor destroyed");
  for (int fd = 0; fd < static_cast<int>(fds_.size()); ++fd) {
    FdSlot& s = fds_[fd];
    if (s.kind == FdKind::socket) {
      close_socket(fd, s.gen, gone, Notify::yes);
    } else if (s.kind == FdKind::watch) {
      unwatch(fd);
    }
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
  wake_fd_ = -1;
  timers_.clear();
  deferred_.clear();
  {
    std::lock_guard lock(posted_mutex_);
    posted_.clear();
  }
  backend_.reset();
}

Core::FdSlot& Core::slot(int fd) {
  if (static_cast<std::size_t>(fd) >= fds_.size()) fds_.resize(static_cast<std::size_t>(fd) + 1);
  return fds_[static_cast<std::size_t>(fd)];
}

// ---- the loop -------------------------------------------------------------

void Core::run() {
  stopping_ = false;
  while (!stopping_) iterate(std::nullopt);
}

void Core::run_once(std::chrono::nanoseconds max_wait) { iterate(max_wait); }

void Core::iterate(std::optional<std::chrono::nanoseconds> max_wait) {
  flush_dirty();  // writes queued before run() or by a previous run_once()
  std::optional<std::chrono::nanoseconds> timeout = max_wait;
  if (!deferred_.empty() || !dirty_.empty()) timeout = std::chrono::nanoseconds::zero();
  if (auto deadline = timers_.next_deadline()) {
    auto until = std::max(
        std::chrono::nanoseconds::zero(),
        std::chrono::duration_cast<std::chrono::nanoseconds>(*deadline - TimerHeap::Clock::now()));
    if (!timeout || until < *timeout) timeout = until;
  }
  backend_->wait(timeout);
  timers_.fire_due(TimerHeap::Clock::now());
  run_deferred();
  flush_dirty();  // everything written during this iteration, one send per socket
}

void Core::flush_dirty() {
  // One pass: sockets dirtied by callbacks during the flush go next iteration.
  flushing_.swap(dirty_);
  for (const DirtySocket& d : flushing_) {
    SocketState* st = find_socket(d.fd, d.gen);
    if (!st) continue;
    st->dirty = false;
    backend_->flush(d.fd, d.gen);
  }
  flushing_.clear();
}

void Core::run_deferred() {
  while (!deferred_.empty()) {
    std::vector<std::function<void()>> batch;
    batch.swap(deferred_);
    for (auto& fn : batch) fn();
  }
}

void Core::post(std::function<void()> fn) {
  bool was_empty;
  {
    std::lock_guard lock(posted_mutex_);
    was_empty = posted_.empty();
    posted_.push_back(std::move(fn));
  }
  // Only the first post after a drain needs to wake the loop.
  if (was_empty) {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }
}

void Core::run_posted() {
  std::uint64_t count;
  [[maybe_unused]] ssize_t n = ::read(wake_fd_, &count, sizeof count);
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(posted_mutex_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) fn();
}

// ---- watches --------------------------------------------------------------

Status Core::watch_readable(int fd, std::function<void()> fn) {
  if (fd < 0) return Error(Errc::io, "watch_readable: bad fd " + std::to_string(fd));
  FdSlot& s = slot(fd);
  if (s.kind != FdKind::none) {
    return Error(Errc::io,
                 "watch_readable: fd " + std::to_string(fd) + " is already watched or a socket");
  }
  s.kind = FdKind::watch;
  s.on_readable = std::move(fn);
  Status registered = backend_->watch(fd, s.gen);
  if (!registered) {
    FdSlot& again = slot(fd);
    again.kind = FdKind::none;
    again.on_readable = nullptr;
    ++again.gen;
  }
  return registered;
}

void Core::unwatch(int fd) {
  if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
  FdSlot& s = fds_[static_cast<std::size_t>(fd)];
  if (s.kind != FdKind::watch) return;
  s.kind = FdKind::none;
  ++s.gen;
  std::function<void()> fn = std::move(s.on_readable);
  backend_->forget(fd);
}

void Core::watch_ready(int fd, std::uint32_t gen) {
  if (static_cast<std::size_t>(fd) >= fds_.size()) return;
  FdSlot& s = fds_[static_cast<std::size_t>(fd)];
  if (s.kind != FdKind::watch || s.gen != gen) return;
  // Call a moved-out copy: fn may unwatch (or re-watch) its own fd.
  std::function<void()> fn = std::move(s.on_readable);
  fn();
  FdSlot& after = fds_[static_cast<std::size_t>(fd)];
  if (after.kind == FdKind::watch && after.gen == gen) after.on_readable = std::move(fn);
}

// ---- sockets --------------------------------------------------------------

SocketState* Core::find_socket(int fd, std::uint32_t gen) {
  if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return nullptr;
  FdSlot& s = fds_[static_cast<std::size_t>(fd)];
  return s.kind == FdKind::socket && s.gen == gen ? s.socket.get() : nullptr;
}

Socket Core::connect(const std::shared_ptr<Core>& self, const Endpoint& where,
                     SocketHandler& handler, ConnectCallback done, ConnectOptions options) {
  if (shut_down_) return Socket{};
  auto fail_later = [this, &done](Error why) {
    deferred_.push_back([done = std::move(done), why = std::move(why)] { done(why); });
    return Socket{};
  };
  std::string peer = where.to_string();
  auto address = to_socket_address(where);
  if (!address) return fail_later(address.error());

  int fd = ::socket(address->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return fail_later(Error(Errc::io, "connect to " + peer + ": socket: " + errno_text(errno)));
  bool tcp = address->family != AF_UNIX;
  if (tcp) {
    // Control commands are small; never let Nagle hold one back.
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (::connect(fd, address->get(), address->length) < 0 && errno != EINPROGRESS) {
    int err = errno;
    ::close(fd);
    return fail_later(Error(Errc::io, "connect to " + peer + ": " + errno_text(err)));
  }

  FdSlot& s = slot(fd);
  std::uint32_t gen = s.gen;
  s.kind = FdKind::socket;
  s.socket = std::make_unique<SocketState>(handler, options_.max_write_queue);
  SocketState& st = *s.socket;
  st.on_connect = std::move(done);
  st.peer = std::move(peer);
  st.tcp = tcp;
  if (Status registered = backend_->add_connecting(fd, gen); !registered) {
    done = std::move(st.on_connect);
    close_socket(fd, gen, {}, Notify::no);
    return fail_later(registered.error());
  }
  if (options.timeout.count() > 0) {
    std::string message = "connect to " + st.peer + " timed out after " +
                          std::to_string(options.timeout.count()) + " ms";
    st.connect_timer = timers_.start(options.timeout, {}, [this, fd, gen, message] {
      connect_failed(fd, gen, Error(Errc::timeout, message));
    });
  }
  return Socket(self, fd, gen);
}

void Core::connect_ready(int fd, std::uint32_t gen) {
  SocketState* st = find_socket(fd, gen);
  if (!st || st->connected) return;
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err != 0) {
    connect_failed(fd, gen, Error(Errc::io, "connect to " + st->peer + ": " + errno_text(err)));
    return;
  }
  st->connected = true;
  timers_.cancel(st->connect_timer);
  ConnectCallback done = std::move(st->on_connect);
  done(Status{});
  // done() may have closed the socket.
  st = find_socket(fd, gen);
  if (!st) return;
  if (!st->out.empty() && !st->dirty) {
    st->dirty = true;
    dirty_.push_back({fd, gen});
  }
  backend_->start_reading(fd, gen);
}

void Core::connect_failed(int fd, std::uint32_t gen, Error why) {
  SocketState* st = find_socket(fd, gen);
  if (!st || st->connected) return;
  ConnectCallback done = std::move(st->on_connect);
  close_socket(fd, gen, {}, Notify::no);
  done(why);
}

void Core::close_socket(int fd, std::uint32_t gen, const Error& why, Notify notify) {
  if (!find_socket(fd, gen)) return;
  FdSlot& s = fds_[static_cast<std::size_t>(fd)];
  std::unique_ptr<SocketState> st = std::move(s.socket);
  s.kind = FdKind::none;
  ++s.gen;  // whatever is still in flight for this fd is now stale
  backend_->forget(fd);
  ::close(fd);
  timers_.cancel(st->connect_timer);
  if (notify == Notify::no) return;
  if (st->connected) {
    st->handler->on_close(why);
  } else if (st->on_connect) {
    ConnectCallback done = std::move(st->on_connect);
    done(why.code == Errc::ok
             ? Error(Errc::disconnected, "connect to " + st->peer + ": closed before it completed")
             : why);
  }
}

std::span<char> Core::read_space(int fd, std::uint32_t gen) {
  SocketState* st = find_socket(fd, gen);
  if (!st || !st->connected) return {};
  std::span<char> space = st->handler->read_space();
  if (!find_socket(fd, gen)) return {};  // read_space() closed the socket
  if (space.empty()) {
    close_socket(fd, gen,
                 Error(Errc::io, "read from " + st->peer + ": read_space() offered no room"),
                 Notify::yes);
  }
  return space;
}

void Core::read_done(int fd, std::uint32_t gen, ssize_t result) {
  SocketState* st = find_socket(fd, gen);
  if (!st) return;
  if (result > 0) {
    if (st->tcp && options_.tcp_quickack) {
      // tor does not set TCP_NODELAY on control connections and writes a
      // long reply in pieces (config/names: 4 KB, then 8 KB), so Nagle holds
      // each piece until we ACK the one before. Linux delays that ACK (40 ms
      // at least) unless in quick-ack mode, which it leaves on its own;
      // setting TCP_QUICKACK sends a pending ACK now and re-enters the mode.
      // Without it config/names takes 44 ms instead of 0.2 ms
      // (controller_bench, BM_GetinfoConfigNames).
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    }
    st->handler->on_read(static_cast<std::size_t>(result));
  } else if (result == 0) {
    close_socket(fd, gen, Error(Errc::disconnected, st->peer + " closed the connection"),
                 Notify::yes);
  } else {
    close_socket(
        fd, gen,
        Error(Errc::io, "read from " + st->peer + ": " + errno_text(static_cast<int>(-result))),
        Notify::yes);
  }
}

WriteQueue* Core::write_queue(int fd, std::uint32_t gen) {
  SocketState* st = find_socket(fd, gen);
  return st && st->connected ? &st->out : nullptr;
}

void Core::write_done(int fd, std::uint32_t gen, ssize_t result) {
  SocketState* st = find_socket(fd, gen);
  if (!st) return;
  if (result < 0) {
    close_socket(
        fd, gen,
        Error(Errc::io, "write to " + st->peer + ": " + errno_text(static_cast<int>(-result))),
        Notify::yes);
    return;
  }
  st->out.consume(static_cast<std::size_t>(result));
  if (st->above_low_water && st->out.size() <= options_.write_low_water) {
    st->above_low_water = false;
    st->handler->on_writable();
  }
}

Status Core::write(int fd, std::uint32_t gen, std::initializer_list<std::string_view> pieces) {
  SocketState* st = find_socket(fd, gen);
  if (!st) return Error(Errc::disconnected, "write on a closed socket");
  Status queued = st->out.append(pieces);
  if (st->out.size() > options_.write_low_water || !queued) st->above_low_water = true;
  if (!queued) return queued;
  if (st->connected && !st->dirty) {
    st->dirty = true;
    dirty_.push_back({fd, gen});
  }
  return queued;
}

}  // namespace torcon::detail
