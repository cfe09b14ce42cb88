// The control protocol of one connection to tor, without I/O.
//
// Bytes tor sent go in (read_space() + received(), or feed()) and come out as
// callbacks; commands go in and come out as bytes handed to Host::write().
// In between it keeps the FIFO that matches replies to commands (tor answers
// in order), authenticates (PROTOCOLINFO, then AUTHCHALLENGE for SAFECOOKIE,
// then AUTHENTICATE), keeps SETEVENTS equal to the union of the event names
// subscribed to, and decides when the connection is beyond saving.
//
// It owns no socket, no timer and no clock: the Controller (controller.cpp)
// is the socket glue over it, tests (tests/control/control_protocol_test.cpp)
// and the fuzzer (fuzz/fuzz_controller_core.cpp) drive it with byte strings.
// Time comes from outside: the glue owns the handshake timer and calls
// fail_connection() when it fires.
//
// Every callback it takes runs exactly once (see controller.hpp for what
// each receives). Errors found before anything is sent never run inside the
// call that found them: they are deferred, the Host is woken, and they run
// from run_deferred().
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "callback_queue.hpp"
#include "event_dispatcher.hpp"
#include "safecookie.hpp"
#include "torcon/command.hpp"
#include "torcon/controller.hpp"
#include "torcon/expected.hpp"
#include "torcon/reply.hpp"
#include "torcon/reply_reader.hpp"

namespace torcon::detail {

class ControlProtocol {
 public:
  // What the protocol needs from whoever runs it.
  class Host {
   public:
    virtual ~Host() = default;
    // Queues bytes for sending, all or nothing. An error fails the command
    // that wanted to send them (and nothing is recorded as sent).
    virtual Status write(std::string_view bytes) = 0;
    // The protocol gave up on the connection (tor broke the protocol,
    // authentication failed, fail_connection()): close it, without calling
    // closed() back.
    virtual void drop_connection() = 0;
    // Callbacks were deferred: call run_deferred() soon, from the loop,
    // never from inside the call that deferred them. Once per batch.
    virtual void wake() = 0;
    // Authentication's inputs from the world outside the protocol; tests
    // and the fuzzer replace them with fixed values.
    virtual Expected<std::string> read_cookie(const std::string& path) {
      return safecookie::read_cookie(path);
    }
    virtual Expected<safecookie::Nonce> client_nonce() { return safecookie::client_nonce(); }
    // An authenticated connection ended (after its callbacks and the
    // disconnect handler ran): where a reconnect policy starts.
    virtual void connection_ended(const Error& why) { (void)why; }
  };

  using SubscriptionId = Controller::SubscriptionId;

  ControlProtocol(Host& host, ControllerOptions options);
  ~ControlProtocol();  // wipes the cookie; callbacks still owed are dropped
  ControlProtocol(const ControlProtocol&) = delete;
  ControlProtocol& operator=(const ControlProtocol&) = delete;

  // ---- the connection's life, as the glue sees it ----
  // A new connection attempt: forgets the last connection's reader state and
  // SETEVENTS, keeps commands and subscriptions issued meanwhile. False when
  // one is already under way or up (then `done` gets that error, deferred).
  bool begin(StatusCallback done);
  // The transport connected: PROTOCOLINFO goes out.
  void connected();
  // The transport could not connect.
  void connect_failed(const Error& why);
  // The transport closed: the peer hung up (Errc::disconnected), I/O failed
  // (Errc::io), or the owner closed it (Errc::ok). Everything pending fails
  // with Errc::disconnected, saying why.
  void closed(const Error& why);
  // Gives up now: drops the connection and fails everything with `why`
  // (e.g. the handshake timed out). No-op when closed already.
  void fail_connection(Error why);
  // Connecting, or connected and not yet authenticated.
  bool handshaking() const noexcept;
  // Idle (never connected) or closed.
  bool down() const noexcept { return state_ == State::idle || state_ == State::closed; }
  bool ready() const noexcept { return state_ == State::ready; }

  // ---- bytes from tor ----
  // Where the next read goes (the reader's own buffer: no copy).
  std::span<char> read_space() { return space_ = reader_.prepare(); }
  // n bytes landed in the last read_space(): runs every complete reply.
  void received(std::size_t n);
  // The same for bytes held elsewhere (copies them in).
  void feed(std::string_view bytes);
  // Bytes received and not yet part of a complete reply. Below
  // options.parser.max_reply while the connection is open.
  std::size_t buffered_bytes() const noexcept {
    return static_cast<std::size_t>(received_ - reader_.stream_offset());
  }

  // ---- commands ----
  // Each command gets a ticket, the next one each time (never 0): the glue
  // reads next_ticket() before issuing and starts the command's deadline
  // timer with it.
  void command(std::string_view line, ReplyCallback cb);
  void send(const Command& cmd, ReplyCallback cb);
  std::uint64_t next_ticket() const noexcept { return next_ticket_; }
  // The command's deadline passed: its callback gets `why` now. Sent, it
  // keeps its place in the FIFO, so tor's late reply is matched to it and
  // dropped; held, it is never sent. No-op if it completed already.
  // held_only: only if it was not sent yet (a wait for the connection
  // that ended when the connection came back).
  void expire(std::uint64_t ticket, const Error& why, bool held_only = false);
  // Whether commands wait through a disconnection (a reconnection is
  // coming and the caller asked to wait): issued while down, or held when
  // the connection ends, they stay held for the next connection instead of
  // failing. Turning it off fails those held with `why`.
  void hold_while_down(bool on,
                       const Error& why = Error(Errc::disconnected, "not connected to tor"));
  // TAKEOWNERSHIP succeeded: it is sent again on every later connection.
  void ownership_taken() noexcept { ownership_taken_ = true; }
  // Gets the failure of a command the protocol re-issued by itself after
  // a reconnection (TAKEOWNERSHIP, SETEVENTS).
  void on_restore_error(std::function<void(const Error&)> h) { restore_error_ = std::move(h); }
  // Runs cb(err) from run_deferred(): for errors found before sending.
  void fail_soon(ReplyCallback cb, Error err);
  // Sent and unanswered, plus issued and held until authentication.
  std::size_t pending() const noexcept { return pending_.size() + held_commands_; }

  // ---- events ----
  SubscriptionId subscribe(std::string_view event, EventHandler h, StatusCallback done);
  SubscriptionId subscribe_typed(std::string_view event, TypedEventHandler h,
                                 MalformedEventHandler on_malformed, StatusCallback done);
  void unsubscribe(SubscriptionId id);
  std::vector<std::string> subscribed_events() const { return events_.names(); }
  void on_disconnect(DisconnectHandler h) { disconnect_handler_ = std::move(h); }

  // ---- results of authentication ----
  const ProtocolInfo& protocol_info() const noexcept { return protocol_info_; }
  AuthMethod auth_method() const noexcept { return used_auth_; }

  // Runs the callbacks deferred so far (those deferred meanwhile wait for
  // the next call; the Host is woken for them).
  void run_deferred();
  bool has_deferred() const noexcept { return !deferred_.empty(); }

 private:
  enum class State : std::uint8_t {
    idle,
    connecting,
    protocolinfo,
    authchallenge,
    authenticate,
    ready,
    closed
  };

  void defer(std::function<void()> fn);
  void enqueue(std::string_view wire, ReplyCallback cb, std::uint64_t ticket);  // held until ready
  void write_now(std::string_view wire, ReplyCallback cb, std::uint64_t ticket = 0);
  void enqueue_wire(ReplyCallback cb, std::uint64_t ticket);  // enqueue(wire_)
  void dispatch(const Reply& r);
  void fail_all(const Error& why);

  // Authentication, one step per reply (control_protocol.cpp, in order).
  void on_protocolinfo_reply(const Expected<Reply>& r);
  void send_authenticate(std::string wire);
  void send_authchallenge();
  void on_authchallenge_reply(const Expected<Reply>& r);
  void on_authenticate_reply(const Expected<Reply>& r);
  void became_ready();
  void auth_failed(Error err);
  Expected<std::string> load_cookie();

  using Waiting = std::vector<std::pair<SubscriptionId, StatusCallback>>;
  void update_setevents(SubscriptionId added = 0, StatusCallback done = {});
  void send_setevents(std::string line, Waiting waiting);

  Host& host_;
  ControllerOptions opts_;
  std::span<char> space_;  // the last read_space(): where received() finds its bytes
  // The command being sent, reused: no allocation per command. (Nothing
  // re-enters command() or send() while it is in use: Host::write() runs
  // no callbacks.)
  std::string wire_;
  ReplyReader reader_;
  std::uint64_t received_ = 0;  // bytes given to the reader, ever
  State state_ = State::idle;
  StatusCallback connect_done_;
  CallbackQueue pending_;  // sent, awaiting replies (FIFO)
  // Issued before authentication, in issue order, sent in that order once
  // ready: a command, or a change of the subscriptions (the SETEVENTS line
  // it made, and who waits for its answer).
  struct Held {
    std::string wire;  // a command with its CRLF; for a SETEVENTS, the line without
    ReplyCallback cb;
    bool setevents = false;
    Waiting waiting;  // setevents only
    std::uint64_t ticket = 0;
  };
  std::vector<Held> held_;
  std::size_t held_commands_ = 0;  // entries of held_ that are commands
  std::vector<std::function<void()>> deferred_;
  ProtocolInfo protocol_info_;
  AuthMethod used_auth_ = AuthMethod::automatic;
  std::string cookie_;  // 32 bytes while SAFECOOKIE runs, wiped after
  safecookie::Nonce client_nonce_{};
  EventDispatcher events_;
  std::string current_setevents_;
  SubscriptionId next_sub_ = 1;
  DisconnectHandler disconnect_handler_;
  bool live_ = false;  // authenticated; the disconnect handler is owed a call
  std::uint64_t next_ticket_ = 1;
  bool hold_while_down_ = false;
  bool ownership_taken_ = false;
  bool was_ready_ = false;  // some earlier connection authenticated
  std::function<void(const Error&)> restore_error_;
  // Expires with the protocol: callbacks may destroy their owner.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// What PROTOCOLINFO said (lines "AUTH METHODS=... COOKIEFILE=..." and
// "VERSION Tor=..."; anything else is ignored).
ProtocolInfo parse_protocolinfo(const Reply& r);

// The method to use: `wanted` if tor offers it, or for automatic the best
// one offered (NULL, HASHEDPASSWORD when a password is given, SAFECOOKIE,
// COOKIE when the caller named the cookie file). Errc::auth saying why
// when there is none.
Expected<AuthMethod> choose_auth_method(AuthMethod wanted, bool have_password,
                                        bool cookie_file_named, const ProtocolInfo& info);

}  // namespace torcon::detail
