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
#include "torcon/reactor.hpp"
#include "torcon/reply.hpp"
#include "torcon/reply_reader.hpp"

namespace torcon {

enum class AuthMethod : std::uint8_t { automatic, null, hashed_password, cookie, safecookie };
const char* to_string(AuthMethod m);

struct ControllerOptions {
  // automatic: the best method tor offers — NULL, then HASHEDPASSWORD when a
  // password is given, then SAFECOOKIE, then COOKIE only if cookie_file is
  // set. Plain COOKIE sends the file's contents to whoever listens on the
  // control port (a process that took the port while tor restarts could
  // name any file), so automatic never picks it for a file the control port
  // named; SAFECOOKIE makes tor prove it knows the cookie first. A named
  // method is used only if tor offers it. Cookie files must be regular files
  // of exactly 32 bytes.
  AuthMethod auth = AuthMethod::automatic;
  std::string password;     // for HASHEDPASSWORD
  std::string cookie_file;  // overrides PROTOCOLINFO's COOKIEFILE
  ParserOptions parser;
  ConnectOptions connect;
  // Every byte tor sends, as it is read and before it is parsed (a capture:
  // torcon-ctl --record). Must not call back into the Controller.
  std::function<void(std::string_view)> on_received;
};

// What PROTOCOLINFO said.
struct ProtocolInfo {
  std::vector<std::string> methods;  // e.g. {"COOKIE", "SAFECOOKIE"}
  std::string cookie_file;
  std::string tor_version;
};

// Ordered key/value pairs (GETINFO, GETCONF, MAPADDRESS, ADD_ONION): a key
// may repeat (GETCONF of a multi-valued option). Data-block values are
// unstuffed and joined with "\n"; GETCONF's bare "key" has value "" and
// has_value false.
struct KeyValues {
  struct Entry {
    std::string key, value;
    bool has_value = true;
  };
  std::vector<Entry> entries;
  // The first value of `key`, or nullptr.
  const std::string* find(std::string_view key) const;
};

using ReplyCallback = std::function<void(const Expected<Reply>&)>;
using StatusCallback = std::function<void(const Status&)>;
using KeyValuesCallback = std::function<void(const Expected<KeyValues>&)>;
using IdCallback = std::function<void(const Expected<std::string>&)>;
using EventHandler = std::function<void(const Reply&)>;
using DisconnectHandler = std::function<void(const Error&)>;
struct Event;
using TypedEventHandler = std::function<void(const Event&)>;
using MalformedEventHandler = std::function<void(const Error&, const Reply&)>;

// ADD_ONION's arguments (the onion-service feature builds on this).
struct AddOnionRequest {
  std::string key_type = "NEW";         // "NEW" or "ED25519-V3" (with key_blob)
  std::string key_blob = "ED25519-V3";  // with NEW: the key type to generate
  std::vector<std::string> flags;       // DiscardPK, Detach, V3Auth, ...
  std::vector<std::pair<std::uint16_t, std::string>> ports;  // virtport, target ("" = same port)
  std::vector<std::string> client_auth_v3;                   // base32 x25519 public keys
  int max_streams = -1;                                      // -1: not sent
};

class Controller final {
 public:
  explicit Controller(Reactor& reactor, ControllerOptions options = {});
  // Closes: pending callbacks get Errc::disconnected, and callbacks owed an
  // error that was waiting for the loop get it now.
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Connects, sends PROTOCOLINFO and authenticates. `done` runs once: ok
  // when commands may flow, or the error (Errc::io/timeout for the
  // connection, Errc::auth for authentication, with tor's words if it gave
  // any). Commands issued before then (even before connect()) wait and are
  // sent after authentication; if it fails, they fail with its error. The
  // whole handshake (TCP connect, PROTOCOLINFO, authentication) is bounded by
  // options.connect.timeout (Errc::timeout).
  void connect(const Endpoint& where, StatusCallback done);
  bool ready() const noexcept;
  // The reactor it runs on (for components built on the Controller that
  // need to defer a callback to the loop).
  Reactor& reactor() const noexcept;
  const ProtocolInfo& protocol_info() const noexcept;
  AuthMethod auth_method() const noexcept;

  // Closes the connection: pending callbacks get Errc::disconnected, then
  // the disconnect handler runs (once per connection).
  void close();
  void on_disconnect(DisconnectHandler h);
  // Commands sent and not yet answered, plus those waiting for authentication.
  std::size_t pending() const noexcept;

  // A raw command line, without CRLF. CR, LF or NUL in it is refused
  // (Errc::injection) and nothing is sent.
  void command(std::string_view line, ReplyCallback cb);
  // A built command (multi-line ones included).
  void send(const Command& cmd, ReplyCallback cb);

  // Typed helpers (control-spec section 3).
  void getinfo(std::span<const std::string_view> keys, KeyValuesCallback cb);
  void getinfo(std::initializer_list<std::string_view> keys, KeyValuesCallback cb) {
    getinfo(std::span<const std::string_view>(keys.begin(), keys.size()), std::move(cb));
  }
  void getconf(std::span<const std::string_view> keys, KeyValuesCallback cb);
  void getconf(std::initializer_list<std::string_view> keys, KeyValuesCallback cb) {
    getconf(std::span<const std::string_view>(keys.begin(), keys.size()), std::move(cb));
  }
  using ConfChanges = std::span<const std::pair<std::string_view, std::optional<std::string_view>>>;
  // All keys in one command: tor applies all or none. nullopt = no value.
  void setconf(ConfChanges changes, StatusCallback cb);
  void resetconf(ConfChanges changes, StatusCallback cb);
  void saveconf(bool force, StatusCallback cb);
  void loadconf(std::string_view torrc_text, StatusCallback cb);
  void signal(std::string_view name, StatusCallback cb);
  // MAPADDRESS old=new ...: tor's answers as key/values.
  void mapaddress(std::span<const std::pair<std::string_view, std::string_view>> maps,
                  KeyValuesCallback cb);
  // EXTENDCIRCUIT: circuit "0" builds a new one; answers the circuit's ID.
  void extendcircuit(std::string_view circuit_id, std::span<const std::string_view> path,
                     std::string_view purpose, IdCallback cb);
  void setcircuitpurpose(std::string_view circuit_id, std::string_view purpose, StatusCallback cb);
  // hop: 0 = not sent (tor picks the exit).
  void attachstream(std::string_view stream_id, std::string_view circuit_id, int hop,
                    StatusCallback cb);
  void redirectstream(std::string_view stream_id, std::string_view address, int port,
                      StatusCallback cb);
  void closestream(std::string_view stream_id, int reason, StatusCallback cb);
  void closecircuit(std::string_view circuit_id, bool if_unused, StatusCallback cb);
  void resolve(std::string_view address, bool reverse, StatusCallback cb);
  void takeownership(StatusCallback cb);
  void dropguards(StatusCallback cb);
  void add_onion(const AddOnionRequest& req, KeyValuesCallback cb);
  void del_onion(std::string_view service_id, StatusCallback cb);
  void quit(StatusCallback cb);

  // Events: any number of handlers per event name; SETEVENTS is kept equal
  // to the union of what handlers want (re-sent when it changes). Handlers
  // get the event's Reply (views valid during the call; parse it with
  // parse_event() from events.hpp for a typed struct).
  using SubscriptionId = std::uint64_t;
  // `done` (optional) gets SETEVENTS' outcome; if tor refuses the event
  // (552), the subscription is dropped and done gets tor's error. If the
  // connection ends before SETEVENTS could be sent, done gets that error and
  // the subscription stays (it is sent on the next connection).
  SubscriptionId subscribe(std::string_view event, EventHandler h, StatusCallback done = {});
  // The same, with the event parsed into its typed struct (events.hpp) first.
  // An event tor sends that doesn't parse goes to on_malformed with the
  // error and the raw reply, never to h (without on_malformed it is dropped).
  SubscriptionId subscribe_typed(std::string_view event, TypedEventHandler h,
                                 MalformedEventHandler on_malformed = {}, StatusCallback done = {});
  void unsubscribe(SubscriptionId id);
  // Events in the current SETEVENTS (sorted).
  std::vector<std::string> subscribed_events() const;

  // Coroutine forms over the same machinery: `co_await ctl.co_command(...)`.
  // Results are owned copies, as the coroutine may keep them across
  // suspensions.
  template <class T>
  struct Awaiter;
  Awaiter<Expected<OwnedReply>> co_command(std::string line);
  Awaiter<Expected<KeyValues>> co_getinfo(std::vector<std::string> keys);
  Awaiter<Status> co_connect(Endpoint where);

 private:
  // The socket glue and the protocol core under it (control/controller_glue.hpp).
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Awaiter: suspends the coroutine until the operation's callback runs, then
// resumes it with the result (inside that callback, on the loop thread).
template <class T>
struct Controller::Awaiter {
  std::function<void(std::function<void(T)>)> start;
  std::optional<T> result;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    start([this, h](T r) {
      result.emplace(std::move(r));
      h.resume();
    });
  }
  T await_resume() { return std::move(*result); }
};

// A fire-and-forget coroutine type for code that co_awaits the controller:
//   torcon::Task run(torcon::Controller& c) { auto v = co_await c.co_getinfo({"version"}); }
// It starts at once and frees itself at the end. No exceptions: an escaping
// one terminates.
struct Task {
  struct promise_type {
    Task get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

}  // namespace torcon
