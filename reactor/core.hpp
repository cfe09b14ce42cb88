// The backend-independent part of the reactor: per-fd state, sockets,
// timers, posted functions, and the loop itself. Reactor and Socket are thin
// handles onto a Core; backends call back into it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backend.hpp"
#include "timer_heap.hpp"
#include "torcon/reactor.hpp"
#include "write_queue.hpp"

namespace torcon::detail {

struct SocketState {
  SocketState(SocketHandler& h, std::size_t max_queue) : handler(&h), out(max_queue) {}

  SocketHandler* handler;
  ConnectCallback on_connect;  // set while connecting
  TimerId connect_timer;
  std::string peer;  // for error messages
  bool connected = false;
  bool tcp = false;
  bool dirty = false;  // queued in Core::dirty_, flushed at end of iteration
  bool above_low_water = false;
  WriteQueue out;
};

class Core {
 public:
  Core(const ReactorOptions& options);
  ~Core();
  Status init();  // picks and starts the backend, sets up post()'s eventfd
  void shutdown();

  BackendKind backend_kind() const { return backend_->kind(); }
  const std::string& fallback_reason() const { return fallback_reason_; }

  void run();
  void run_once(std::chrono::nanoseconds max_wait);
  void stop() { stopping_ = true; }
  void post(std::function<void()> fn);

  Socket connect(const std::shared_ptr<Core>& self, const Endpoint& where, SocketHandler& handler,
                 ConnectCallback done, ConnectOptions options);
  TimerHeap& timers() { return timers_; }
  Status watch_readable(int fd, std::function<void()> fn);
  void unwatch(int fd);

  // For Socket handles.
  SocketState* find_socket(int fd, std::uint32_t gen);
  Status write(int fd, std::uint32_t gen, std::initializer_list<std::string_view> pieces);
  enum class Notify : bool { no, yes };
  void close_socket(int fd, std::uint32_t gen, const Error& why, Notify notify);

  // Called by the backends.
  void watch_ready(int fd, std::uint32_t gen);
  void connect_ready(int fd, std::uint32_t gen);
  std::span<char> read_space(int fd, std::uint32_t gen);
  void read_done(int fd, std::uint32_t gen, ssize_t result);  // bytes, 0 = EOF, -errno
  WriteQueue* write_queue(int fd, std::uint32_t gen);
  void write_done(int fd, std::uint32_t gen, ssize_t result);  // bytes or -errno

 private:
  enum class FdKind : std::uint8_t { none, watch, socket };
  // Per-fd state, indexed by fd number (ae.c style).
  struct FdSlot {
    FdKind kind = FdKind::none;
    std::uint32_t gen = 0;
    std::function<void()> on_readable;    // watch
    std::unique_ptr<SocketState> socket;  // socket
  };
  FdSlot& slot(int fd);
  void iterate(std::optional<std::chrono::nanoseconds> max_wait);
  void flush_dirty();
  void run_deferred();
  void run_posted();
  void connect_failed(int fd, std::uint32_t gen, Error why);

  ReactorOptions options_;
  std::unique_ptr<Backend> backend_;
  std::string fallback_reason_;
  std::vector<FdSlot> fds_;
  TimerHeap timers_;
  bool stopping_ = false;
  bool shut_down_ = false;

  // Sockets with freshly queued bytes, flushed together before waiting.
  struct DirtySocket {
    int fd;
    std::uint32_t gen;
  };
  std::vector<DirtySocket> dirty_;
  std::vector<DirtySocket> flushing_;
  // Loop-thread work that must not run inside the call that created it.
  std::vector<std::function<void()>> deferred_;

  // post(): the only cross-thread state.
  int wake_fd_ = -1;
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
};

}  // namespace torcon::detail
