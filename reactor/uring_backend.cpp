// Completion backend: io_uring via liburing.
//
// Each socket has at most one recv in flight (straight into the owner's
// read_space()) and at most one sendmsg (iovecs over the write queue).
// Watched fds and connecting sockets use one-shot IORING_OP_POLL_ADD,
// re-armed after each callback: a poll armed on a still-readable fd
// completes at once, which gives the same level-triggered behaviour as the
// epoll backend (multishot poll would only report new wakeups).
// Completions are reaped in batches (io_uring_peek_batch_cqe + cq_advance);
// timers bound the wait via io_uring_submit_and_wait_timeout.
//
// Releasing an fd must guarantee the kernel is done with the owner's read
// buffer and our iovecs, so forget() cancels synchronously
// (IORING_REGISTER_SYNC_CANCEL, Linux 6.0); without it we use epoll.
#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "backend.hpp"
#include "core.hpp"

namespace torcon::detail {
namespace {

constexpr unsigned kRingEntries = 256;
constexpr unsigned kReapBatch = 128;
constexpr int kMaxIovecs = 64;

// user_data: generation (24 bits) | operation (8 bits) | fd (32 bits).
enum class Op : std::uint8_t { watch = 1, connect, recv, send };
constexpr std::uint32_t kGenMask = 0xffffff;

std::uint64_t user_data(int fd, std::uint32_t gen, Op op) {
  return static_cast<std::uint64_t>(gen & kGenMask) << 40 | static_cast<std::uint64_t>(op) << 32 |
         static_cast<std::uint32_t>(fd);
}

// The sysctl kernel.io_uring_disabled (Linux 6.6): 0 allowed, 1 only for
// CAP_SYS_ADMIN and kernel.io_uring_group, 2 nobody; -1 if absent.
int io_uring_disabled_sysctl() {
  std::FILE* f = std::fopen("/proc/sys/kernel/io_uring_disabled", "re");
  if (!f) return -1;
  int value = -1;
  if (std::fscanf(f, "%d", &value) != 1) value = -1;
  std::fclose(f);
  return value;
}

// Why io_uring_setup failed, in terms the user can act on.
std::string setup_error(int negative_errno) {
  std::string msg = std::string("io_uring_setup: ") + std::strerror(-negative_errno);
  switch (-negative_errno) {
    case ENOSYS:
      return msg +
             " (the kernel has no io_uring: older than 5.1 or built without CONFIG_IO_URING,"
             " or a seccomp filter answers ENOSYS)";
    case EPERM:
      switch (io_uring_disabled_sysctl()) {
        case 2: return msg + " (disabled for everyone by sysctl kernel.io_uring_disabled=2)";
        case 1:
          return msg +
                 " (sysctl kernel.io_uring_disabled=1 allows it only to CAP_SYS_ADMIN and the"
                 " group in kernel.io_uring_group)";
        default: return msg + " (blocked by a seccomp filter, as container runtimes often do)";
      }
    case ENOMEM: return msg + " (the ring does not fit the locked-memory limit, RLIMIT_MEMLOCK)";
    default: return msg;
  }
}

// Everything the backend relies on beyond io_uring_queue_init.
Status check_ring(io_uring& ring) {
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (!probe) return Error(Errc::io, "io_uring: cannot probe supported operations");
  bool ops = io_uring_opcode_supported(probe, IORING_OP_RECV) &&
             io_uring_opcode_supported(probe, IORING_OP_SENDMSG) &&
             io_uring_opcode_supported(probe, IORING_OP_POLL_ADD);
  io_uring_free_probe(probe);
  if (!ops) return Error(Errc::io, "io_uring: kernel lacks RECV, SENDMSG or POLL_ADD");
  // Cancelling a request that does not exist answers ENOENT where sync
  // cancel is supported, EINVAL where it is not.
  io_uring_sync_cancel_reg reg{};
  reg.addr = ~0ull - 1;
  reg.timeout.tv_sec = -1;
  reg.timeout.tv_nsec = -1;
  int rc = io_uring_register_sync_cancel(&ring, &reg);
  if (rc != -ENOENT) {
    return Error(Errc::io, "io_uring: no IORING_REGISTER_SYNC_CANCEL (needs Linux 6.0): " +
                               std::string(std::strerror(-rc)));
  }
  return {};
}

class UringBackend final : public Backend {
 public:
  explicit UringBackend(Core& core) : core_(core) {}
  ~UringBackend() override {
    if (ring_ready_) io_uring_queue_exit(&ring_);  // cancels and waits for everything
  }

  Status init() {
    int rc = io_uring_queue_init(kRingEntries, &ring_, 0);
    if (rc < 0) return Error(Errc::io, setup_error(rc));
    ring_ready_ = true;
    return check_ring(ring_);
  }

  BackendKind kind() const override { return BackendKind::uring; }

  Status watch(int fd, std::uint32_t gen) override {
    reset(fd, gen, Role::watch);
    arm_poll(fd, Op::watch, POLLIN);
    return {};
  }

  Status add_connecting(int fd, std::uint32_t gen) override {
    reset(fd, gen, Role::connecting);
    arm_poll(fd, Op::connect, POLLOUT);
    return {};
  }

  void start_reading(int fd, std::uint32_t gen) override {
    FdState& s = state(fd);
    if (s.role != Role::connecting || s.gen != gen) return;
    s.role = Role::socket;
    arm_recv(fd, gen, false);
  }

  void flush(int fd, std::uint32_t gen) override {
    FdState& s = state(fd);
    if (s.role == Role::socket && s.gen == gen && !s.send_in_flight) submit_send(fd, gen, false);
  }

  void forget(int fd) override {
    FdState& s = state(fd);
    if (s.role == Role::none) return;
    bool busy = s.poll_armed || s.recv_armed || s.send_in_flight;
    s.role = Role::none;
    s.poll_armed = s.recv_armed = s.send_in_flight = false;
    if (!busy) return;
    // Requests still sitting in the SQ are invisible to cancellation.
    io_uring_submit(&ring_);
    io_uring_sync_cancel_reg reg{};
    reg.fd = fd;
    reg.flags = IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL;
    reg.timeout.tv_sec = -1;
    reg.timeout.tv_nsec = -1;
    // Returns once nothing of fd is in flight; ENOENT means it all finished
    // already. The -ECANCELED completions that follow are stale (role none).
    io_uring_register_sync_cancel(&ring_, &reg);
  }

  void wait(std::optional<std::chrono::nanoseconds> timeout) override {
    io_uring_cqe* cqe = nullptr;
    if (timeout) {
      __kernel_timespec ts{};
      ts.tv_sec = timeout->count() / 1'000'000'000;
      ts.tv_nsec = timeout->count() % 1'000'000'000;
      io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    } else {
      io_uring_submit_and_wait(&ring_, 1);
    }
    reap();
  }

 private:
  enum class Role : std::uint8_t { none, watch, connecting, socket };
  // The msghdr and iovecs of the send in flight. Heap-allocated once per fd
  // number so they stay put while fds_ grows.
  struct SendBuffers {
    msghdr msg{};
    std::array<iovec, kMaxIovecs> iov{};
  };
  struct FdState {
    Role role = Role::none;
    bool poll_armed = false;
    bool recv_armed = false;
    bool send_in_flight = false;
    std::uint32_t gen = 0;
    std::unique_ptr<SendBuffers> send;
  };
  struct Completion {
    std::uint64_t user_data;
    std::int32_t res;
    std::uint32_t flags;
  };

  FdState& state(int fd) {
    if (static_cast<std::size_t>(fd) >= fds_.size()) fds_.resize(static_cast<std::size_t>(fd) + 1);
    return fds_[static_cast<std::size_t>(fd)];
  }

  void reset(int fd, std::uint32_t gen, Role role) {
    FdState& s = state(fd);
    s.role = role;
    s.gen = gen;
    s.poll_armed = s.recv_armed = s.send_in_flight = false;
  }

  io_uring_sqe* get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (!sqe) {  // SQ full: hand what we have to the kernel
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  void arm_poll(int fd, Op op, unsigned events) {
    FdState& s = state(fd);
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_poll_add(sqe, fd, events);
    io_uring_sqe_set_data64(sqe, user_data(fd, s.gen, op));
    s.poll_armed = true;
  }

  // poll_first after EAGAIN: wait for data instead of trying again at once.
  void arm_recv(int fd, std::uint32_t gen, bool poll_first) {
    std::span<char> space = core_.read_space(fd, gen);
    if (space.empty()) return;  // closed meanwhile (possibly by read_space itself)
    FdState& s = state(fd);
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_recv(sqe, fd, space.data(), space.size(), 0);
    if (poll_first) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
    io_uring_sqe_set_data64(sqe, user_data(fd, gen, Op::recv));
    s.recv_armed = true;
  }

  void submit_send(int fd, std::uint32_t gen, bool poll_first) {
    WriteQueue* queue = core_.write_queue(fd, gen);
    if (!queue || queue->empty()) return;
    FdState& s = state(fd);
    if (!s.send) s.send = std::make_unique<SendBuffers>();
    SendBuffers& b = *s.send;
    b.msg = msghdr{};
    b.msg.msg_iov = b.iov.data();
    b.msg.msg_iovlen = static_cast<std::size_t>(queue->gather(b.iov.data(), kMaxIovecs));
    io_uring_sqe* sqe = get_sqe();
    // MSG_NOSIGNAL: a peer that went away is an Error, not a SIGPIPE.
    io_uring_prep_sendmsg(sqe, fd, &b.msg, MSG_NOSIGNAL);
    if (poll_first) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
    io_uring_sqe_set_data64(sqe, user_data(fd, gen, Op::send));
    s.send_in_flight = true;
  }

  void reap() {
    for (;;) {
      std::array<io_uring_cqe*, kReapBatch> cqes;
      unsigned n = io_uring_peek_batch_cqe(&ring_, cqes.data(), kReapBatch);
      if (n == 0) return;
      // Copy and release the CQ slots before running callbacks, which may
      // submit and complete more work.
      std::array<Completion, kReapBatch> batch;
      for (unsigned i = 0; i < n; ++i)
        batch[i] = {cqes[i]->user_data, cqes[i]->res, cqes[i]->flags};
      io_uring_cq_advance(&ring_, n);
      for (unsigned i = 0; i < n; ++i) dispatch(batch[i]);
      if (n < kReapBatch) return;
    }
  }

  void dispatch(const Completion& c) {
    if (c.user_data == LIBURING_UDATA_TIMEOUT) return;  // liburing's own wait timeout
    int fd = static_cast<int>(c.user_data & 0xffffffffu);
    auto op = static_cast<Op>((c.user_data >> 32) & 0xff);
    auto tag = static_cast<std::uint32_t>(c.user_data >> 40);
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
    FdState& s = fds_[static_cast<std::size_t>(fd)];
    if (s.role == Role::none || (s.gen & kGenMask) != tag) return;  // released: stale
    std::uint32_t gen = s.gen;
    switch (op) {
      case Op::watch:
        s.poll_armed = false;
        if (s.role != Role::watch || c.res == -ECANCELED) return;
        if (c.res < 0) return;  // e.g. EBADF: re-arming would spin
        core_.watch_ready(fd, gen);
        if (still(fd, gen, Role::watch) && !state(fd).poll_armed) arm_poll(fd, Op::watch, POLLIN);
        return;
      case Op::connect:
        s.poll_armed = false;
        if (s.role == Role::connecting) core_.connect_ready(fd, gen);
        return;
      case Op::recv:
        s.recv_armed = false;
        if (s.role != Role::socket || c.res == -ECANCELED) return;
        if (c.res == -EAGAIN || c.res == -EINTR) {
          arm_recv(fd, gen, true);
          return;
        }
        core_.read_done(fd, gen, c.res);
        if (still(fd, gen, Role::socket) && !state(fd).recv_armed) arm_recv(fd, gen, false);
        return;
      case Op::send:
        s.send_in_flight = false;
        if (s.role != Role::socket || c.res == -ECANCELED) return;
        if (c.res == -EAGAIN || c.res == -EINTR) {
          submit_send(fd, gen, true);
          return;
        }
        core_.write_done(fd, gen, c.res);
        // Partial send, or more queued meanwhile: keep the one send going.
        if (still(fd, gen, Role::socket) && !state(fd).send_in_flight) submit_send(fd, gen, false);
        return;
    }
  }

  bool still(int fd, std::uint32_t gen, Role role) {
    FdState& s = state(fd);
    return s.role == role && s.gen == gen;
  }

  Core& core_;
  io_uring ring_{};
  bool ring_ready_ = false;
  std::vector<FdState> fds_;
};

}  // namespace

Expected<std::unique_ptr<Backend>> make_uring_backend(Core& core) {
  auto backend = std::make_unique<UringBackend>(core);
  if (Status ok = backend->init(); !ok) return ok.error();
  return std::unique_ptr<Backend>(std::move(backend));
}

Status probe_uring() {
  io_uring ring{};
  int rc = io_uring_queue_init(8, &ring, 0);
  if (rc < 0) return Error(Errc::io, setup_error(rc));
  Status ok = check_ring(ring);
  io_uring_queue_exit(&ring);
  return ok;
}

}  // namespace torcon::detail
