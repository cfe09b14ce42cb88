// Controller's hidden half: the socket glue over ControlProtocol. The
// protocol decides what to send and what a reply means; this owns the
// reactor socket it runs on and every timer: the handshake's, the commands'
// deadlines, the reconnect policy's, the liveness probe's, and the one that
// runs deferred callbacks from the loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "control_protocol.hpp"
#include "hook_list.hpp"
#include "torcon/controller.hpp"
#include "torcon/reactor.hpp"

namespace torcon {

struct Controller::Impl final : SocketHandler, detail::ControlProtocol::Host {
  Impl(Reactor& r, ControllerOptions options);
  ~Impl() override;

  // SocketHandler: reads land straight in the protocol's reply buffer.
  std::span<char> read_space() override { return protocol.read_space(); }
  void on_read(std::size_t n) override {
    bytes_read += n;
    protocol.received(n);
  }
  void on_close(const Error& why) override { protocol.closed(why); }

  // ControlProtocol::Host
  Status write(std::string_view bytes) override { return socket.write(bytes); }
  void drop_connection() override { socket = Socket(); }  // closes without on_close
  void wake() override;
  void connection_ended(const Error& why) override;

  void connect(const Endpoint& where, StatusCallback done);
  // `cb` wrapped with the command's deadline timers (none: `cb` itself).
  // Call right before handing it to the protocol: it takes the next ticket.
  ReplyCallback with_deadlines(ReplyCallback cb, std::chrono::milliseconds timeout);
  void stop_reconnecting(const Error& why);

  Reactor& reactor;
  ConnectOptions connect_options;
  std::chrono::milliseconds command_timeout;
  std::chrono::milliseconds disconnected_wait;
  ReconnectPolicy policy;
  LivenessProbe liveness;
  Socket socket;
  TimerId handshake_timer;
  detail::ControlProtocol protocol;
  // Timers hold this weakly: they may fire after the Controller is gone.
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  // Set by ~Impl, which runs what is deferred itself: the reactor may be gone.
  bool destroying = false;

  // ---- reconnecting ----
  Endpoint endpoint;
  bool stopped = false;  // close() or stop_reconnecting(): no further attempt
  bool reconnecting = false;
  unsigned attempt = 0;
  TimerId retry_timer;
  bool retry_pending = false;
  ReconnectListener listener;
  detail::HookList<> reconnect_hooks;
  // Run when an authenticated connection ends, before the policy reacts.
  detail::HookList<const Error&> disconnect_hooks;
  HookId next_hook = 1;  // one sequence for both lists
  std::minstd_rand rng{std::random_device{}()};

  // ---- liveness ----
  std::uint64_t bytes_read = 0;
  std::uint64_t bytes_at_last_tick = 0;
  std::uint64_t connection_number = 0;  // which handshake a probe belongs to
  bool probing = false;
  bool probe_timer_started = false;
  TimerId probe_timer;

 private:
  void start_handshake(StatusCallback done);
  void schedule_attempt(const Error& last);
  void attempt_now();
  void notify(ReconnectEvent::Kind kind, const Error& err = {},
              std::chrono::milliseconds delay = std::chrono::milliseconds(0));
  std::chrono::milliseconds delay_for(unsigned n);
  void probe_tick();
};

}  // namespace torcon
