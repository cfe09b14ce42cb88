// Controller: one authenticated control connection to a tor (txtorcon's
// TorControlProtocol), on a torcon::Reactor.
//
//   torcon::Controller ctl(*reactor);
//   ctl.connect(torcon::Endpoint::tcp("127.0.0.1", 9051), [&](const torcon::Status& s) {
//     if (!s) return fail(s.error());
//     ctl.getinfo({"version"}, [](const torcon::Expected<torcon::KeyValues>& kv) { ... });
//   });
//
// Commands are pipelined: any number may be in flight; tor answers in order
// and replies are matched to callbacks first in, first out. Every callback
// runs on the reactor's loop thread, exactly once: with the reply, with tor's
// error (Errc::tor_error, Error::status = tor's code, message = tor's text),
// or with the reason the command could not complete (Errc::disconnected,
// Errc::injection, ...). Nothing throws.
//
// Views (Reply, KeyValue text) handed to callbacks point into the read buffer
// and are valid only during the callback; Reply::copy() keeps one.
//
// Callbacks may issue further commands, subscribe or unsubscribe, or close().
// They must not destroy the Controller (post that to the reactor instead).
#pragma once

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "torcon/command.hpp"
#include "torcon/expected.hpp"
#include "torcon/export.hpp"
#include "torcon/reactor.hpp"
#include "torcon/reply.hpp"
#include "torcon/reply_reader.hpp"

namespace torcon {

/// How the Controller authenticates (ControllerOptions::auth).
enum class AuthMethod : std::uint8_t { automatic, null, hashed_password, cookie, safecookie };
/// The method's name as tor spells it ("SAFECOOKIE", ...; "automatic").
TORCON_API const char* to_string(AuthMethod m);

/// Reconnecting after an authenticated connection ends (ControllerOptions::reconnect).
/// The n-th attempt waits initial_delay × multiplier^(n-1), at most max_delay,
/// each scaled by a random factor in [1 - jitter, 1 + jitter] so that many
/// controllers of one restarted tor do not come back in step.
struct TORCON_API ReconnectPolicy {
  bool enabled = false;                           ///< opt-in
  std::chrono::milliseconds initial_delay{1000};  ///< before the first attempt
  double multiplier = 1.5;                        ///< growth per failed attempt (>= 1)
  std::chrono::milliseconds max_delay{600000};    ///< the cap (10 minutes)
  double jitter = 0.2;                            ///< 0 to 1
  unsigned max_attempts = 0;                      ///< 0: no limit
};

/// An idle-time GETINFO that notices a tor which stopped answering without
/// closing the connection (SIGSTOP, a wedged process, dropped packets).
/// When no byte came from tor for `interval`, GETINFO `key` is sent; if it
/// is not answered within `timeout`, the connection is declared dead
/// (Errc::timeout) and handed to the reconnect policy.
struct TORCON_API LivenessProbe {
  std::chrono::milliseconds interval{0};     ///< 0: no probe
  std::chrono::milliseconds timeout{10000};  ///< for the probe's answer
  std::string key = "version";               ///< the GETINFO key asked
};

/// How a Controller connects and authenticates.
struct TORCON_API ControllerOptions {
  /// automatic: the best method tor offers — NULL, then HASHEDPASSWORD when a
  /// password is given, then SAFECOOKIE, then COOKIE only if cookie_file is
  /// set. Plain COOKIE sends the file's contents to whoever listens on the
  /// control port (a process that took the port while tor restarts could
  /// name any file), so automatic never picks it for a file the control port
  /// named; SAFECOOKIE makes tor prove it knows the cookie first. A named
  /// method is used only if tor offers it. Cookie files must be regular files
  /// of exactly 32 bytes.
  AuthMethod auth = AuthMethod::automatic;
  std::string password;     ///< for HASHEDPASSWORD
  std::string cookie_file;  ///< overrides PROTOCOLINFO's COOKIEFILE
  ParserOptions parser;     ///< limits for tor's replies
  ConnectOptions connect;   ///< connect and handshake timeout
  /// Every byte tor sends, as it is read and before it is parsed (a capture:
  /// torcon-ctl --record). Must not call back into the Controller.
  std::function<void(std::string_view)> on_received;
  /// Each command's deadline (0: none): past it, the callback gets
  /// Errc::timeout. The command keeps its place, so tor's late reply is
  /// matched to it and dropped, never given to a later command.
  /// CommandOptions::timeout overrides it per call.
  std::chrono::milliseconds command_timeout{0};
  /// Commands issued while no connection is up: 0 fails them at once with
  /// Errc::disconnected; more makes them wait up to this long for the
  /// reconnection (with reconnect.enabled; Errc::disconnected when it
  /// passes). Commands held when a connection ends then wait too; those
  /// already sent fail, once, with Errc::disconnected.
  std::chrono::milliseconds disconnected_wait{0};
  ReconnectPolicy reconnect;  ///< off by default
  LivenessProbe liveness;     ///< off by default
};

/// Per-call settings (Controller::command(), send(), co_command(), and the
/// last parameter of every typed helper that sends a command).
struct TORCON_API CommandOptions {
  /// The deadline; negative: ControllerOptions::command_timeout, 0: none.
  std::chrono::milliseconds timeout{-1};
};

/// What the reconnect policy is doing (Controller::on_reconnect()).
struct TORCON_API ReconnectEvent {
  /// Which step.
  enum class Kind : std::uint8_t {
    disconnected,    ///< the connection ended (error: why)
    reconnecting,    ///< attempt `attempt` starts after `delay` (error: the last failure)
    reconnected,     ///< authenticated again; subscriptions and hooks are being restored
    gave_up,         ///< max_attempts reached or stop_reconnecting() (error: the last failure)
    restore_failed,  ///< something re-issued after reconnecting failed (error: what)
  };
  Kind kind = Kind::disconnected;      ///< the step
  Error error;                         ///< see Kind
  unsigned attempt = 0;                ///< 1 for the first attempt after a disconnection
  std::chrono::milliseconds delay{0};  ///< for reconnecting: the wait before the attempt
};
/// Gets each step of the reconnect policy.
using ReconnectListener = std::function<void(const ReconnectEvent&)>;

/// What PROTOCOLINFO said.
struct TORCON_API ProtocolInfo {
  std::vector<std::string> methods;  ///< e.g. {"COOKIE", "SAFECOOKIE"}
  std::string cookie_file;           ///< COOKIEFILE: where tor keeps the cookie
  std::string tor_version;           ///< VERSION Tor=...
};

/// Ordered key/value pairs (GETINFO, GETCONF, MAPADDRESS, ADD_ONION): a key
/// may repeat (GETCONF of a multi-valued option). Data-block values are
/// unstuffed and joined with "\n"; GETCONF's bare "key" has value "" and
/// has_value false.
struct TORCON_API KeyValues {
  /// One key and its value.
  struct Entry {
    std::string key;        ///< the key as tor sent it
    std::string value;      ///< the value, data blocks unstuffed
    bool has_value = true;  ///< false for GETCONF's bare key (option unset)
  };
  /// In tor's order.
  std::vector<Entry> entries;
  /// The first value of `key`, or nullptr.
  const std::string* find(std::string_view key) const;
};

/// Gets a command's reply, or why there is none (tor's 4xx/5xx: Errc::tor_error).
using ReplyCallback = std::function<void(const Expected<Reply>&)>;
/// Gets ok or the error.
using StatusCallback = std::function<void(const Status&)>;
/// Gets the key/values of a reply, or the error.
using KeyValuesCallback = std::function<void(const Expected<KeyValues>&)>;
/// Gets an ID tor assigned (a circuit's), or the error.
using IdCallback = std::function<void(const Expected<std::string>&)>;
/// Gets each raw event reply (views valid during the call).
using EventHandler = std::function<void(const Reply&)>;
/// Gets why the connection ended.
using DisconnectHandler = std::function<void(const Error&)>;
struct Event;
/// Gets each parsed event (views valid during the call).
using TypedEventHandler = std::function<void(const Event&)>;
/// Gets an event that did not parse: the error and the raw reply.
using MalformedEventHandler = std::function<void(const Error&, const Reply&)>;

/// ADD_ONION's arguments (the onion-service feature builds on this).
struct TORCON_API AddOnionRequest {
  std::string key_type = "NEW";         ///< "NEW" or "ED25519-V3" (with key_blob)
  std::string key_blob = "ED25519-V3";  ///< with NEW: the key type to generate
  std::vector<std::string> flags;       ///< DiscardPK, Detach, V3Auth, ...
  std::vector<std::pair<std::uint16_t, std::string>> ports;  ///< virtport, target ("" = same port)
  std::vector<std::string> client_auth_v3;                   ///< base32 x25519 public keys
  int max_streams = -1;                                      ///< -1: not sent
};

/// One authenticated control connection to a tor, on a Reactor (see the file's
/// comment and docs/concepts.md). Loop thread only.
class TORCON_API Controller final {
 public:
  /// A controller on `reactor`, which must outlive it; nothing happens until connect().
  explicit Controller(Reactor& reactor, ControllerOptions options = {});
  /// Closes: pending callbacks get Errc::disconnected, and callbacks owed an
  /// error that was waiting for the loop get it now.
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  /// Connects, sends PROTOCOLINFO and authenticates. `done` runs once: ok
  /// when commands may flow, or the error (Errc::io/timeout for the
  /// connection, Errc::auth for authentication, with tor's words if it gave
  /// any). Commands issued before then (even before connect()) wait and are
  /// sent after authentication; if it fails, they fail with its error. The
  /// whole handshake (TCP connect, PROTOCOLINFO, authentication) is bounded by
  /// options.connect.timeout (Errc::timeout).
  void connect(const Endpoint& where, StatusCallback done);
  /// Authenticated and not closed: commands go out at once.
  bool ready() const noexcept;
  /// The reactor it runs on (for components built on the Controller that
  /// need to defer a callback to the loop).
  Reactor& reactor() const noexcept;
  /// What tor's PROTOCOLINFO said (empty before it answered).
  const ProtocolInfo& protocol_info() const noexcept;
  /// The method used to authenticate (automatic before authentication).
  AuthMethod auth_method() const noexcept;

  /// Closes the connection: pending callbacks get Errc::disconnected, then
  /// the disconnect handler runs (once per connection).
  void close();
  /// Sets the handler run once when an authenticated connection ends, after
  /// the pending callbacks got Errc::disconnected.
  void on_disconnect(DisconnectHandler h);
  /// Commands sent and not yet answered, plus those waiting for authentication.
  std::size_t pending() const noexcept;

  /// Sets the listener of the reconnect policy (ControllerOptions::reconnect).
  void on_reconnect(ReconnectListener l);
  /// Stops reconnecting: a waiting attempt is cancelled, commands waiting for
  /// the connection fail with Errc::disconnected, and a listener gets
  /// gave_up. The current connection, if any, stays.
  void stop_reconnecting();
  /// Between a lost connection and the reconnection (or giving up).
  bool reconnecting() const noexcept;
  /// Names a hook (add_reconnect_hook(), add_disconnect_hook()); unique
  /// across both kinds.
  using HookId = std::uint64_t;
  /// `restore` runs after each reconnection, once authenticated and with
  /// SETEVENTS re-sent: other layers (stream attacher, TorState, onion
  /// services) set tor up again from it. It may issue commands.
  HookId add_reconnect_hook(std::function<void()> restore);
  /// Removes a hook (an unknown id is ignored).
  void remove_reconnect_hook(HookId id);
  /// `hook` runs each time an authenticated connection ends (tor hung up, an
  /// I/O error, the liveness probe, close(), the Controller's destruction),
  /// with why: after the commands in flight got Errc::disconnected and after
  /// the on_disconnect() handler, before the reconnect policy reacts. Unlike
  /// on_disconnect() there may be any number: components built on the
  /// Controller end here what waited for tor's events (an event of this
  /// connection will not come, and ids tor gave mean nothing to a restarted
  /// tor). Hooks run in the order added; adding or removing one from inside
  /// a hook is safe: a hook removed there does not run later in the same
  /// round, one added there runs from the next disconnection. A hook must not
  /// destroy the Controller.
  HookId add_disconnect_hook(DisconnectHandler hook);
  /// Removes a disconnect hook (an unknown id is ignored).
  void remove_disconnect_hook(HookId id);

  /// A raw command line, without CRLF. CR, LF or NUL in it is refused
  /// (Errc::injection) and nothing is sent.
  void command(std::string_view line, ReplyCallback cb);
  /// command() with per-call settings (a deadline).
  void command(std::string_view line, ReplyCallback cb, const CommandOptions& options);
  /// A built command (multi-line ones included).
  void send(const Command& cmd, ReplyCallback cb);
  /// send() with per-call settings (a deadline).
  void send(const Command& cmd, ReplyCallback cb, const CommandOptions& options);

  /// Typed helpers (control-spec section 3). Each takes, last, the
  /// CommandOptions of command() (a per-call deadline; the default uses
  /// ControllerOptions::command_timeout); a timed-out helper gets
  /// Errc::timeout and its command keeps its place, so tor's late reply is
  /// dropped. Every helper of the library that sends commands for you (onion
  /// services, TorConfig, coroutine forms) follows the same convention, the
  /// deadline applying to each command it sends.
  /// GETINFO keys...: the values in tor's order (data blocks unstuffed).
  void getinfo(std::span<const std::string_view> keys, KeyValuesCallback cb,
               const CommandOptions& options = {});
  /// GETINFO with the keys written in place: `getinfo({"version"}, cb)`.
  void getinfo(std::initializer_list<std::string_view> keys, KeyValuesCallback cb,
               const CommandOptions& options = {}) {
    getinfo(std::span<const std::string_view>(keys.begin(), keys.size()), std::move(cb), options);
  }
  /// GETCONF keys...: a multi-valued option repeats its key; an unset one has has_value false.
  void getconf(std::span<const std::string_view> keys, KeyValuesCallback cb,
               const CommandOptions& options = {});
  /// GETCONF with the keys written in place.
  void getconf(std::initializer_list<std::string_view> keys, KeyValuesCallback cb,
               const CommandOptions& options = {}) {
    getconf(std::span<const std::string_view>(keys.begin(), keys.size()), std::move(cb), options);
  }
  /// Options and values for SETCONF/RESETCONF; nullopt sends the key alone.
  using ConfChanges = std::span<const std::pair<std::string_view, std::optional<std::string_view>>>;
  /// All keys in one command: tor applies all or none. nullopt = no value.
  void setconf(ConfChanges changes, StatusCallback cb, const CommandOptions& options = {});
  /// RESETCONF: like setconf(); a key without value goes back to its default.
  void resetconf(ConfChanges changes, StatusCallback cb, const CommandOptions& options = {});
  /// SAVECONF [FORCE]: tor writes its torrc.
  void saveconf(bool force, StatusCallback cb, const CommandOptions& options = {});
  /// +LOADCONF: replaces tor's configuration with `torrc_text` (sent as a data block).
  void loadconf(std::string_view torrc_text, StatusCallback cb, const CommandOptions& options = {});
  /// SIGNAL name (NEWNYM, RELOAD, CLEARDNSCACHE, HEARTBEAT, ...).
  void signal(std::string_view name, StatusCallback cb, const CommandOptions& options = {});
  /// MAPADDRESS old=new ...: tor's answers as key/values.
  void mapaddress(std::span<const std::pair<std::string_view, std::string_view>> maps,
                  KeyValuesCallback cb, const CommandOptions& options = {});
  /// EXTENDCIRCUIT: circuit "0" builds a new one; answers the circuit's ID.
  void extendcircuit(std::string_view circuit_id, std::span<const std::string_view> path,
                     std::string_view purpose, IdCallback cb, const CommandOptions& options = {});
  /// SETCIRCUITPURPOSE circuit purpose=...
  void setcircuitpurpose(std::string_view circuit_id, std::string_view purpose, StatusCallback cb,
                         const CommandOptions& options = {});
  /// hop: 0 = not sent (tor picks the exit).
  void attachstream(std::string_view stream_id, std::string_view circuit_id, int hop,
                    StatusCallback cb, const CommandOptions& options = {});
  /// REDIRECTSTREAM stream address [port]; port 0 is not sent.
  void redirectstream(std::string_view stream_id, std::string_view address, int port,
                      StatusCallback cb, const CommandOptions& options = {});
  /// CLOSESTREAM stream reason (control-spec's numeric reason, 1 = MISC).
  void closestream(std::string_view stream_id, int reason, StatusCallback cb,
                   const CommandOptions& options = {});
  /// CLOSECIRCUIT circuit [IfUnused].
  void closecircuit(std::string_view circuit_id, bool if_unused, StatusCallback cb,
                    const CommandOptions& options = {});
  /// RESOLVE [mode=reverse] address: the answer arrives as an ADDRMAP event.
  void resolve(std::string_view address, bool reverse, StatusCallback cb,
               const CommandOptions& options = {});
  /// TAKEOWNERSHIP: tor exits when this connection closes.
  void takeownership(StatusCallback cb, const CommandOptions& options = {});
  /// DROPGUARDS: tor forgets its entry guards.
  void dropguards(StatusCallback cb, const CommandOptions& options = {});
  /// ADD_ONION: tor's answer (ServiceID, PrivateKey, ClientAuthV3 ...) as key/values.
  void add_onion(const AddOnionRequest& req, KeyValuesCallback cb,
                 const CommandOptions& options = {});
  /// DEL_ONION service_id.
  void del_onion(std::string_view service_id, StatusCallback cb,
                 const CommandOptions& options = {});
  /// QUIT: tor answers, then closes the connection.
  void quit(StatusCallback cb, const CommandOptions& options = {});

  /// Events: any number of handlers per event name; SETEVENTS is kept equal
  /// to the union of what handlers want (re-sent when it changes). Handlers
  /// get the event's Reply (views valid during the call; parse it with
  /// parse_event() from events.hpp for a typed struct).
  using SubscriptionId = std::uint64_t;
  /// `done` (optional) gets SETEVENTS' outcome; if tor refuses the event
  /// (552), the subscription is dropped and done gets tor's error. If the
  /// connection ends before SETEVENTS could be sent, done gets that error and
  /// the subscription stays (it is sent on the next connection).
  SubscriptionId subscribe(std::string_view event, EventHandler h, StatusCallback done = {});
  /// The same, with the event parsed into its typed struct (events.hpp) first.
  /// An event tor sends that doesn't parse goes to on_malformed with the
  /// error and the raw reply, never to h (without on_malformed it is dropped).
  SubscriptionId subscribe_typed(std::string_view event, TypedEventHandler h,
                                 MalformedEventHandler on_malformed = {}, StatusCallback done = {});
  /// Removes a handler (an unknown or stale id is ignored); SETEVENTS follows.
  void unsubscribe(SubscriptionId id);
  /// Events in the current SETEVENTS (sorted).
  std::vector<std::string> subscribed_events() const;

  /// Coroutine forms over the same machinery: `co_await ctl.co_command(...)`.
  /// Results are owned copies, as the coroutine may keep them across
  /// suspensions.
  template <class T>
  struct Awaiter;
  /// command() for coroutines: the reply, owned.
  Awaiter<Expected<OwnedReply>> co_command(std::string line);
  /// co_command() with per-call settings (a deadline).
  Awaiter<Expected<OwnedReply>> co_command(std::string line, CommandOptions options);
  /// getinfo() for coroutines.
  Awaiter<Expected<KeyValues>> co_getinfo(std::vector<std::string> keys,
                                          CommandOptions options = {});
  /// connect() for coroutines.
  Awaiter<Status> co_connect(Endpoint where);

 private:
  /// The socket glue and the protocol core under it (control/controller_glue.hpp).
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Awaiter: suspends the coroutine until the operation's callback runs, then
/// resumes it with the result (inside that callback, on the loop thread).
template <class T>
struct Controller::Awaiter {
  /// Starts the operation with the function that resumes the coroutine.
  std::function<void(std::function<void(T)>)> start;
  /// The result, once the operation completed.
  std::optional<T> result;
  /// Always suspends: the result comes from a callback.
  bool await_ready() const noexcept { return false; }
  /// Starts the operation; the callback resumes `h`.
  void await_suspend(std::coroutine_handle<> h) {
    start([this, h](T r) {
      result.emplace(std::move(r));
      h.resume();
    });
  }
  /// Hands the result to the coroutine.
  T await_resume() { return std::move(*result); }
};

/// A fire-and-forget coroutine type for code that co_awaits the controller:
///   torcon::Task run(torcon::Controller& c) { auto v = co_await c.co_getinfo({"version"}); }
/// It starts at once and frees itself at the end. No exceptions: an escaping
/// one terminates.
struct TORCON_API Task {
  /// The coroutine machinery (C++20 promise type).
  struct promise_type {
    /// The Task handed to the caller (it holds nothing).
    Task get_return_object() noexcept { return {}; }
    /// Runs at once, up to its first co_await.
    std::suspend_never initial_suspend() noexcept { return {}; }
    /// Frees itself at the end.
    std::suspend_never final_suspend() noexcept { return {}; }
    /// Nothing to return.
    void return_void() noexcept {}
    /// An exception escaping the coroutine terminates the program.
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

}  // namespace torcon
