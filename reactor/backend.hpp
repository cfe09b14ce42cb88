// The small interface each I/O backend implements (epoll_backend.cpp,
// uring_backend.cpp). The Core decides *what* should happen to an fd; the
// backend does the waiting and the syscalls, and reports back through the
// Core's *_ready / *_done functions.
//
// Every fd is registered together with a generation number that the backend
// echoes back. The Core bumps it whenever an fd is released, so events still
// in flight for a closed fd (whose number may already be reused) are
// recognised as stale and dropped.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "torcon/expected.hpp"
#include "torcon/reactor.hpp"

namespace torcon::detail {

class Core;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendKind kind() const = 0;

  // Report each readability of fd via Core::watch_ready.
  virtual Status watch(int fd, std::uint32_t gen) = 0;
  // fd is a socket with a connect in progress: report via Core::connect_ready
  // once it is writable or failed.
  virtual Status add_connecting(int fd, std::uint32_t gen) = 0;
  // The connect finished: deliver reads via Core::read_space / read_done.
  virtual void start_reading(int fd, std::uint32_t gen) = 0;
  // The socket's write queue has bytes: send them (Core::write_queue /
  // write_done), now or once the socket is writable.
  virtual void flush(int fd, std::uint32_t gen) = 0;
  // Stop all activity on fd. On return the kernel no longer touches any
  // buffer of it, so the Core may free them and close fd.
  virtual void forget(int fd) = 0;
  // Wait until something happens or the timeout passes (nullopt: no
  // limit), then dispatch everything that completed.
  virtual void wait(std::optional<std::chrono::nanoseconds> timeout) = 0;
};

Expected<std::unique_ptr<Backend>> make_epoll_backend(Core& core);
Expected<std::unique_ptr<Backend>> make_uring_backend(Core& core);
// ok if io_uring (with everything the backend needs) works here.
Status probe_uring();

}  // namespace torcon::detail
