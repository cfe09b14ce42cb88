// The event loop: single-threaded, with an epoll and an io_uring backend
// behind one interface.
//
//   auto reactor = torcon::Reactor::create();          // Expected<unique_ptr>
//   torcon::Socket s = (*reactor)->connect(
//       torcon::Endpoint::tcp("127.0.0.1", 9051), handler,
//       [&](const torcon::Status& st) { ... });
//   (*reactor)->run();                                 // until stop()
//
// Threading: a Reactor belongs to one thread, the one that calls run() (and
// that creates its sockets, timers and watches). post() is the only member
// other threads may call.
//
// Callbacks (socket handlers, timers, watches, posted functions) run on the
// loop thread, one at a time, and may re-enter the reactor freely: write,
// connect, close any socket (their own too), start or cancel any timer
// (their own too), watch/unwatch, stop(). Nothing is freed under a running
// callback. Nothing throws; failures are Error values.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "torcon/expected.hpp"
#include "torcon/export.hpp"
#include "torcon/socket.hpp"

namespace torcon {

/// The kernel interface a Reactor runs on.
enum class BackendKind : std::uint8_t { epoll, uring };
/// "epoll" or "uring".
TORCON_API const char* to_string(BackendKind kind);

/// How Reactor::create() sets up the loop.
struct TORCON_API ReactorOptions {
  /// Which backend to use (see `backend`).
  enum class Choice : std::uint8_t { automatic, epoll, uring };
  /// automatic: the TORCON_REACTOR environment variable ("epoll" or "uring")
  /// if set, else io_uring when the kernel allows it, else epoll (see
  /// Reactor::fallback_reason()). An explicit choice ignores the environment.
  /// io_uring asked for by name (here or by TORCON_REACTOR) never falls back:
  /// if it is unavailable, Reactor::create() fails with Errc::io and says why
  /// (kernel without io_uring, sysctl kernel.io_uring_disabled, a seccomp
  /// filter, a missing operation). So does a TORCON_REACTOR it cannot parse.
  Choice backend = Choice::automatic;
  /// Per-socket bound on bytes queued by Socket::write() and not yet sent.
  std::size_t max_write_queue = 64u << 20;
  /// SocketHandler::on_writable() fires when the queue drains to this.
  std::size_t write_low_water = 256u << 10;
  /// Re-arm TCP_QUICKACK after every read from a TCP socket, so that a reply
  /// the peer writes in pieces does not wait for a delayed ACK between them.
  /// Leave it on: the switch exists only to measure what it saves
  /// (controller_bench, BM_GetinfoConfigNames).
  bool tcp_quickack = true;
};

/// Names one timer; a plain value, stale ids are harmless.
struct TORCON_API TimerId {
  std::uint32_t slot = UINT32_MAX;  ///< internal: the timer's slot
  std::uint32_t gen = 0;            ///< internal: the slot's generation
};

/// The event loop: sockets, timers, watched fds and posted functions, on one
/// thread (see the file's comment and docs/lifetime.md).
class TORCON_API Reactor {
 public:
  /// Timer delays and periods.
  using Duration = std::chrono::nanoseconds;

  /// A new loop with the backend `options` choose; Errc::io with the reason if
  /// none can be set up (or io_uring was asked for and is unavailable).
  static Expected<std::unique_ptr<Reactor>> create(ReactorOptions options = {});

  /// Whether io_uring can be used here (ok), or why not (the reason create()
  /// gives when io_uring is asked for by name).
  static Status uring_available();

  /// Destroying the reactor closes every socket: connected ones get
  /// on_close(Errc::disconnected), connecting ones their connect callback
  /// with Errc::disconnected. Pending timers and posted functions are
  /// dropped without running. Watched fds are not closed (the caller owns
  /// them). Must not be called from inside run().
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  /// The backend in use.
  BackendKind backend() const;
  /// Why `automatic` chose epoll over io_uring ("" if it did not).
  const std::string& fallback_reason() const;

  /// Runs the loop on the calling thread until stop(). Not re-entrant: do
  /// not call run() or run_once() from inside a callback.
  void run();
  /// One loop iteration: waits at most max_wait for something to happen,
  /// then runs whatever is due and flushes queued writes.
  void run_once(Duration max_wait);
  /// run() returns after the current iteration. Loop thread only; other
  /// threads use post([&r] { r.stop(); }).
  void stop();

  /// Thread-safe: queue fn to run on the loop thread and wake the loop.
  /// Functions posted from one thread run in posting order. The Reactor must
  /// outlive every thread that may call post().
  void post(std::function<void()> fn);

  /// Non-blocking connect (TCP with TCP_NODELAY, or Unix socket). `done` is
  /// called exactly once, always from the loop and never inside connect():
  ///   ok                   connected; handler callbacks follow, ending with
  ///                        exactly one on_close();
  ///   Errc::io             refused, unreachable, bad address, ... (message
  ///                        says which); the handler is never called;
  ///   Errc::timeout        options.timeout passed first;
  ///   Errc::disconnected   the socket was closed (Socket::close() or
  ///                        ~Reactor) before it connected. Runs
  ///                        synchronously inside that close.
  /// Destroying the returned handle before completion cancels silently (done
  /// is not called). If the connect fails before a socket exists (bad
  /// address, out of fds), the returned handle is already closed and done
  /// still reports the error from the loop. A connect() made while the
  /// Reactor is being destroyed (from an on_close) returns a closed handle
  /// and never calls done.
  Socket connect(const Endpoint& where, SocketHandler& handler, ConnectCallback done,
                 ConnectOptions options = {});

  /// Timers fire in deadline order (ties in start order), from the loop.
  /// A repeating timer first fires one period from now and keeps its slot:
  /// no allocation per fire. If the loop falls behind, missed periods are
  /// skipped rather than fired in a burst.
  TimerId start_timer(Duration delay, std::function<void()> fn);
  /// Like start_timer(), firing every `period` until cancelled.
  TimerId start_repeating_timer(Duration period, std::function<void()> fn);
  /// True if the timer was pending (a one-shot that already fired, or a
  /// stale id, gives false). Safe from inside the timer's own callback.
  bool cancel_timer(TimerId id);

  /// Calls fn on the loop whenever fd is readable (level-triggered: again
  /// each iteration until drained). The caller keeps owning fd and must
  /// unwatch() before closing it. One watch per fd; fd must not be a
  /// reactor socket.
  Status watch_readable(int fd, std::function<void()> fn);
  /// Safe from inside fn. No-op if fd is not watched.
  void unwatch(int fd);

 private:
  explicit Reactor(std::shared_ptr<detail::Core> core);
  std::shared_ptr<detail::Core> core_;
};

}  // namespace torcon
