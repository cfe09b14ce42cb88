// Connected sockets driven by the Reactor: the owner's callbacks (SocketHandler),
// where to connect (Endpoint), and the owner's handle (Socket).
//
// Threading: everything here is used on the reactor's loop thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "torcon/expected.hpp"
#include "torcon/export.hpp"

namespace torcon {

namespace detail {
class Core;
}

/// Implemented by whoever owns a socket (e.g. the controller). The reactor
/// reads straight into the owner's buffer: it asks read_space() for room,
/// has the kernel fill it, then reports how much landed with on_read().
///
/// Every callback runs on the loop thread and may do anything with the
/// reactor: write, close this or other sockets, start/cancel timers, stop().
/// The handler must stay alive until on_close() has run, or until the owner
/// closed the socket itself (Socket::close() or ~Socket()).
class TORCON_API SocketHandler {
 public:
  virtual ~SocketHandler() = default;

  /// Where the next read goes (e.g. ReplyReader::prepare()). The span must
  /// stay valid and untouched until on_read() or on_close(): with io_uring
  /// the kernel writes into it asynchronously. An empty span is a protocol
  /// error: the socket is closed with Errc::io.
  virtual std::span<char> read_space() = 0;

  /// n > 0 bytes landed at the start of the last read_space().
  virtual void on_read(std::size_t n) = 0;

  /// Called exactly once for a socket that connected, as its last callback:
  ///   Errc::disconnected  the peer closed the connection (EOF), or the
  ///                       Reactor was destroyed with the socket open;
  ///   Errc::io            a read or write failed (message says why);
  ///   Errc::ok            the owner called Socket::close().
  /// Not called for sockets whose connect failed (see Reactor::connect) nor
  /// when the owner destroys its Socket handle.
  virtual void on_close(const Error& why) = 0;

  /// The write queue drained to at most ReactorOptions::write_low_water
  /// after having been above it: a good time to write more.
  virtual void on_writable() {}
};

/// Where to connect. Hosts are numeric addresses only (no DNS): "127.0.0.1",
/// "::1" or "[::1]". Unix paths are filesystem paths; a leading '@' names an
/// abstract socket.
struct TORCON_API Endpoint {
  /// TCP or a Unix socket.
  enum class Kind : std::uint8_t { tcp, unix_socket };
  Kind kind = Kind::tcp;   ///< which of the two
  std::string host;        ///< tcp: numeric IPv4/IPv6 address; unix: the path
  std::uint16_t port = 0;  ///< tcp: the port; unix: 0

  /// A TCP endpoint: numeric address and port.
  static Endpoint tcp(std::string host, std::uint16_t port) {
    return Endpoint{Kind::tcp, std::move(host), port};
  }
  /// A Unix socket at `path` ('@' first: abstract).
  static Endpoint unix_socket(std::string path) {
    return Endpoint{Kind::unix_socket, std::move(path), 0};
  }
  /// "127.0.0.1:9051", "[::1]:9051", "unix:/run/tor/control".
  std::string to_string() const;
};

/// How Reactor::connect() (and a Controller's connect) connects.
struct TORCON_API ConnectOptions {
  /// The connect fails with Errc::timeout after this long; zero means never.
  std::chrono::milliseconds timeout{10'000};
};

/// Called exactly once with the outcome of Reactor::connect() (see there).
using ConnectCallback = std::function<void(const Status&)>;

/// The owner's handle to one socket: move-only, cheap, and safe to use after
/// the socket closed or the Reactor was destroyed (operations then fail with
/// Errc::disconnected). Destroying the handle closes the socket silently:
/// no callback runs afterwards, so an owner may hold its Socket as a member.
class TORCON_API Socket {
 public:
  Socket() = default;
  /// Takes over `other`'s socket; `other` becomes closed.
  Socket(Socket&& other) noexcept;
  /// Closes this handle's socket silently, then takes over `other`'s.
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket();

  /// Connecting or connected, and not closed.
  bool is_open() const;
  /// Connected (the connect callback reported ok) and not closed.
  bool is_connected() const;

  /// Queues bytes for sending; they leave at the end of the current loop
  /// iteration together with everything else written meanwhile (one
  /// sendmsg per socket per iteration for pipelined commands). All or
  /// nothing: if the queue would exceed ReactorOptions::max_write_queue the
  /// write fails with Errc::io and nothing is queued. Allowed while
  /// connecting; the bytes go out once connected.
  Status write(std::string_view bytes);
  /// Several pieces, queued all or nothing (e.g. a command and its body).
  Status write(std::initializer_list<std::string_view> pieces);

  /// Bytes accepted by write() and not yet handed to the kernel.
  std::size_t queued_bytes() const;

  /// Closes now and drops unsent bytes. Synchronously runs the last callback:
  /// on_close(Errc::ok) if connected, or the connect callback with
  /// Errc::disconnected if still connecting. Safe from any callback,
  /// including this socket's own; no-op on a closed handle.
  void close();

  /// The socket, for diagnostics (-1 when closed). Do not read or write it.
  int fd() const;

 private:
  friend class Reactor;
  friend class detail::Core;
  Socket(std::weak_ptr<detail::Core> core, int fd, std::uint32_t gen);
  detail::Core* live_core() const;
  void close_silently();

  std::weak_ptr<detail::Core> core_;
  int fd_ = -1;
  std::uint32_t gen_ = 0;
};

}  // namespace torcon
