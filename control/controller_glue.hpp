// Controller's hidden half: the socket glue over ControlProtocol. The
// protocol decides what to send and what a reply means; this owns the
// reactor socket it runs on, the handshake timer, and the timer that runs
// deferred callbacks from the loop.
#pragma once

#include <memory>

#include "control_protocol.hpp"
#include "torcon/controller.hpp"
#include "torcon/reactor.hpp"

namespace torcon {

struct Controller::Impl final : SocketHandler, detail::ControlProtocol::Host {
  Impl(Reactor& r, ControllerOptions options)
      : reactor(r), connect_options(options.connect), protocol(*this, std::move(options)) {}
  ~Impl() override;

  // SocketHandler: reads land straight in the protocol's reply buffer.
  std::span<char> read_space() override { return protocol.read_space(); }
  void on_read(std::size_t n) override { protocol.received(n); }
  void on_close(const Error& why) override { protocol.closed(why); }

  // ControlProtocol::Host
  Status write(std::string_view bytes) override { return socket.write(bytes); }
  void drop_connection() override { socket = Socket(); }  // closes without on_close
  void wake() override;

  void connect(const Endpoint& where, StatusCallback done);

  Reactor& reactor;
  ConnectOptions connect_options;
  Socket socket;
  TimerId handshake_timer;
  detail::ControlProtocol protocol;
  // Timers hold this weakly: they may fire after the Controller is gone.
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  // Set by ~Impl, which runs what is deferred itself: the reactor may be gone.
  bool destroying = false;
};

}  // namespace torcon
