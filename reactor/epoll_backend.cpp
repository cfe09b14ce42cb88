// Readiness backend: level-triggered epoll. On readiness the backend does
// the recv/sendmsg itself; EPOLLOUT is only enabled while a write is stuck.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "backend.hpp"
#include "core.hpp"

namespace torcon::detail {
namespace {

constexpr int kMaxIovecs = 64;
constexpr int kMaxEvents = 256;

class EpollBackend final : public Backend {
 public:
  EpollBackend(Core& core, int epfd) : core_(core), epfd_(epfd) {}
  ~EpollBackend() override { ::close(epfd_); }

  BackendKind kind() const override { return BackendKind::epoll; }

  Status watch(int fd, std::uint32_t gen) override { return add(fd, gen, Role::watch, EPOLLIN); }
  Status add_connecting(int fd, std::uint32_t gen) override {
    return add(fd, gen, Role::connecting, EPOLLOUT);
  }

  void start_reading(int fd, std::uint32_t gen) override {
    FdState& s = state(fd);
    if (s.role != Role::connecting || s.gen != gen) return;
    s.role = Role::socket;
    set_events(fd, EPOLLIN);
  }

  void flush(int fd, std::uint32_t gen) override {
    FdState& s = state(fd);
    if (s.role != Role::socket || s.gen != gen || s.waiting_writable) return;
    send_some(fd, gen);
  }

  void forget(int fd) override {
    FdState& s = state(fd);
    if (s.role == Role::none) return;
    s.role = Role::none;
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  }

  void wait(std::optional<std::chrono::nanoseconds> timeout) override {
    int ms = -1;
    if (timeout) {
      // Round up: waking a little early would just spin until the deadline.
      auto rounded = std::chrono::ceil<std::chrono::milliseconds>(*timeout).count();
      ms = rounded > INT_MAX ? INT_MAX : static_cast<int>(rounded);
    }
    int n = ::epoll_wait(epfd_, events_.data(), kMaxEvents, ms);
    for (int i = 0; i < n; ++i) dispatch(events_[static_cast<std::size_t>(i)]);
  }

 private:
  enum class Role : std::uint8_t { none, watch, connecting, socket };
  struct FdState {
    Role role = Role::none;
    bool waiting_writable = false;  // EPOLLOUT enabled: the socket buffer was full
    std::uint32_t gen = 0;
  };

  FdState& state(int fd) {
    if (static_cast<std::size_t>(fd) >= fds_.size()) fds_.resize(static_cast<std::size_t>(fd) + 1);
    return fds_[static_cast<std::size_t>(fd)];
  }

  static std::uint64_t tag(int fd, std::uint32_t gen) {
    return static_cast<std::uint64_t>(gen) << 32 | static_cast<std::uint32_t>(fd);
  }

  Status add(int fd, std::uint32_t gen, Role role, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag(fd, gen);
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
      return Error(Errc::io,
                   "epoll_ctl(ADD, fd " + std::to_string(fd) + "): " + std::strerror(errno));
    }
    state(fd) = FdState{role, false, gen};
    return {};
  }

  void set_events(int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag(fd, state(fd).gen);
    ::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
  }

  void dispatch(const epoll_event& ev) {
    int fd = static_cast<int>(ev.data.u64 & 0xffffffffu);
    auto gen = static_cast<std::uint32_t>(ev.data.u64 >> 32);
    FdState& s = state(fd);
    if (s.gen != gen) return;  // fd was released (and maybe reused) earlier in this batch
    switch (s.role) {
      case Role::none: return;
      case Role::watch: core_.watch_ready(fd, gen); return;
      case Role::connecting: core_.connect_ready(fd, gen); return;
      case Role::socket:
        // Errors and hangups surface through recv (0 or -errno).
        if (ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP)) receive(fd, gen);
        if ((ev.events & EPOLLOUT) && state(fd).gen == gen && state(fd).role == Role::socket) {
          send_some(fd, gen);
        }
        return;
    }
  }

  void receive(int fd, std::uint32_t gen) {
    std::span<char> space = core_.read_space(fd, gen);
    if (space.empty()) return;
    ssize_t n = ::recv(fd, space.data(), space.size(), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    core_.read_done(fd, gen, n < 0 ? -errno : n);
  }

  void send_some(int fd, std::uint32_t gen) {
    for (;;) {
      WriteQueue* queue = core_.write_queue(fd, gen);
      if (!queue) return;  // closed meanwhile
      FdState& s = state(fd);
      if (queue->empty()) {
        if (s.waiting_writable) {
          s.waiting_writable = false;
          set_events(fd, EPOLLIN);
        }
        return;
      }
      msghdr msg{};
      msg.msg_iov = iov_.data();
      msg.msg_iovlen = static_cast<std::size_t>(queue->gather(iov_.data(), kMaxIovecs));
      // MSG_NOSIGNAL: a peer that went away is an Error, not a SIGPIPE.
      ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        if (!s.waiting_writable) {
          s.waiting_writable = true;
          set_events(fd, EPOLLIN | EPOLLOUT);
        }
        return;
      }
      core_.write_done(fd, gen, n < 0 ? -errno : n);
    }
  }

  Core& core_;
  int epfd_;
  std::vector<FdState> fds_;
  std::array<epoll_event, kMaxEvents> events_{};
  std::array<iovec, kMaxIovecs> iov_{};
};

}  // namespace

Expected<std::unique_ptr<Backend>> make_epoll_backend(Core& core) {
  int epfd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return Error(Errc::io, std::string("epoll_create1: ") + std::strerror(errno));
  return std::unique_ptr<Backend>(std::make_unique<EpollBackend>(core, epfd));
}

}  // namespace torcon::detail
