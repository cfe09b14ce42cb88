// libFuzzer harness for ControlProtocol (control/control_protocol.hpp): the
// fuzzer plays a hostile tor against the controller's protocol core, and
// the caller's commands are interleaved with what it sends.
//
// Input: one configuration byte, then a little program of operations, each
// an opcode byte and its operands:
//   config   bits 0-2: auth method (automatic, NULL, HASHEDPASSWORD, COOKIE,
//            SAFECOOKIE); bit 3: a password is configured; bit 4: the
//            cookie file is named in the options, not taken from tor.
//   0-3  feed      len byte, then len+1 bytes from tor (in one read; the
//                  program's own chunking splits the stream anywhere)
//   4    command   which byte (a table entry, or a raw line / SETCONF value
//                  / LOADCONF body taken from the input, injection included)
//   5    subscribe event byte, flags byte (typed, done callback, what the
//                  handler does: nothing, unsubscribe itself, issue a
//                  command, close the connection)
//   6    unsubscribe  which of the subscriptions so far
//   7    close     how (by us, by tor, an I/O error)
//   8    run the deferred callbacks (the loop turning)
//   9    connection: when down, begin() then connected() or a failed
//                  connect; when up, the handshake timer fires
//   10   a command's deadline passes: which byte picks one issued so far
//        (expire(), held ones only if the byte's top bit is set)
//   11   waiting through disconnections on or off (hold_while_down)
// The session starts connected (PROTOCOLINFO written). The cookie and the
// client nonce are fixed, so a seed can hold a correct SAFECOOKIE exchange
// and the fuzzer can mutate what follows it.
//
// Invariants checked (any violation aborts):
//  * every callback (connect, command, subscription done) runs exactly once,
//    and never inside the API call that registered it; the disconnect
//    handler runs at most once per connection, and only after authentication;
//  * commands that got a reply from tor got them in the order issued (a
//    command whose deadline passed keeps its place: its callback, already
//    run, is not run again by its late reply);
//  * bytes are written only while the transport is up, and never after a
//    failed authentication; each write is whole CRLF lines with no NUL and
//    no bare CR or LF;
//  * PROTOCOLINFO comes first, AUTHCHALLENGE and AUTHENTICATE at most once
//    each, and nothing else before authentication succeeded;
//  * the password and the cookie (raw or hex) never appear in what is
//    written, except in the one AUTHENTICATE of the method they belong to;
//  * the bytes buffered for an incomplete reply stay within max_reply (plus
//    the status code and separator read before the limit is checked).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "control_protocol.hpp"
#include "fuzz_check.hpp"
#include "torcon/events.hpp"

namespace {

using torcon::AuthMethod;
using torcon::Command;
using torcon::ControllerOptions;
using torcon::Errc;
using torcon::Error;
using torcon::Expected;
using torcon::Reply;
using torcon::Status;
using torcon::detail::ControlProtocol;

constexpr std::size_t kMaxLine = 256;  // an AUTHCHALLENGE reply is 170 bytes
constexpr std::size_t kMaxReply = 1024;
// The reader checks limits once a line's "NNN<sep>" is read.
constexpr std::size_t kStatusPrefix = 4;
constexpr std::string_view kPassword = "pw-0f7e-fuzz";

std::string cookie_bytes() {
  std::string c(32, '\0');
  for (int i = 0; i < 32; ++i) c[i] = static_cast<char>(0xC3 ^ (i * 29));
  return c;
}

std::string hex(std::string_view bytes, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string s;
  for (unsigned char b : bytes) {
    s.push_back(digits[b >> 4]);
    s.push_back(digits[b & 15]);
  }
  return s;
}

class Input {
 public:
  Input(const std::uint8_t* p, std::size_t n) : p_(p), n_(n) {}
  bool empty() const { return n_ == 0; }
  std::uint8_t byte() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  std::string_view bytes(std::size_t k) {
    k = k < n_ ? k : n_;
    std::string_view v(reinterpret_cast<const char*>(p_), k);
    p_ += k;
    n_ -= k;
    return v;
  }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
};

class Session final : public ControlProtocol::Host {
 public:
  explicit Session(std::uint8_t config) : opts_(options(config)), core_(*this, opts_) {}

  // ---- Host ----
  Status write(std::string_view bytes) override {
    FUZZ_CHECK(transport_up_);
    FUZZ_CHECK(!auth_failed_);
    check_framing(bytes);
    check_order_and_secrets(bytes);
    return {};
  }
  void drop_connection() override { transport_up_ = false; }
  void wake() override {}
  Expected<std::string> read_cookie(const std::string& path) override {
    if (path.empty()) return Error(Errc::auth, "no cookie file");
    return cookie_;
  }
  Expected<torcon::safecookie::Nonce> client_nonce() override {
    torcon::safecookie::Nonce n{};
    for (int i = 0; i < 32; ++i) n[i] = static_cast<std::uint8_t>(i * 7 + 1);
    return n;
  }

  void start() {
    core_.on_disconnect([this](const Error&) {
      FUZZ_CHECK(authenticated_);
      FUZZ_CHECK(++disconnects_ == 1);
    });
    connect(true);
  }

  void run(Input& in) {
    while (!in.empty()) {
      switch (in.byte() % 12) {
        case 0:
        case 1:
        case 2:
        case 3: feed(in.bytes(std::size_t(in.byte()) + 1)); break;
        case 4: command(in); break;
        case 5: subscribe(in.byte(), in.byte()); break;
        case 6: unsubscribe(in.byte()); break;
        case 7: close(in.byte()); break;
        case 8: core_.run_deferred(); break;
        case 9:
          if (const bool connects = in.byte() & 1; core_.down())
            connect(connects);
          else if (core_.handshaking())
            core_.fail_connection(Error(Errc::timeout, "handshake timed out"));
          break;
        case 10: {
          const std::uint8_t which = in.byte();
          if (tickets_.empty()) break;
          // A timer's callback: not inside an API call.
          core_.expire(tickets_[which % tickets_.size()], Error(Errc::timeout, "deadline"),
                       (which & 0x80) != 0);
          break;
        }
        case 11: core_.hold_while_down(in.byte() & 1); break;
      }
      check_limits();
    }
  }

  // The Controller going away: everything still owed runs now, once.
  void finish() {
    transport_up_ = false;
    core_.hold_while_down(false, Error(Errc::disconnected, "controller destroyed"));
    core_.fail_connection(Error(Errc::disconnected, "controller destroyed"));
    for (int i = 0; core_.has_deferred(); ++i) {
      FUZZ_CHECK(i < 1000);
      core_.run_deferred();
    }
    FUZZ_CHECK(core_.pending() == 0);
    for (int calls : calls_) FUZZ_CHECK(calls == 1);
  }

 private:
  static ControllerOptions options(std::uint8_t config) {
    ControllerOptions o;
    static constexpr AuthMethod kMethods[] = {AuthMethod::automatic, AuthMethod::null,
                                              AuthMethod::hashed_password, AuthMethod::cookie,
                                              AuthMethod::safecookie};
    o.auth = kMethods[(config & 7) % 5];
    if (config & 8) o.password = std::string(kPassword);
    if (config & 16) o.cookie_file = "/fuzz/cookie";
    o.parser.max_line = kMaxLine;
    o.parser.max_reply = kMaxReply;
    return o;
  }

  // A callback's slot: it must be called once, and not from inside an API call.
  std::size_t new_callback() {
    calls_.push_back(0);
    return calls_.size() - 1;
  }
  void called(std::size_t slot) {
    FUZZ_CHECK(api_depth_ == 0);
    FUZZ_CHECK(calls_[slot] == 0);
    ++calls_[slot];
  }
  struct ApiCall {
    explicit ApiCall(Session& s) : s_(s) { ++s_.api_depth_; }
    ~ApiCall() { --s_.api_depth_; }
    Session& s_;
  };

  void connect(bool succeeds) {
    const std::size_t slot = new_callback();
    bool began;
    {
      ApiCall c(*this);
      began = core_.begin([this, slot](const Status& s) {
        called(slot);
        if (s) {
          authenticated_ = true;
        } else if (s.error().code == Errc::auth) {
          auth_failed_ = true;
        }
      });
    }
    if (!began) return;
    // A new connection: its own handshake and its own disconnect.
    auth_failed_ = authenticated_ = false;
    disconnects_ = 0;
    writes_ = authchallenges_ = authenticates_ = 0;
    replied_ = 0;
    if (succeeds) {
      transport_up_ = true;
      core_.connected();
    } else {
      core_.connect_failed(Error(Errc::io, "connect: Connection refused"));
    }
  }

  void feed(std::string_view bytes) {
    if (!transport_up_) return;  // nothing arrives on a closed socket
    const std::span<char> space = core_.read_space();
    FUZZ_CHECK(space.size() >= bytes.size());
    std::memcpy(space.data(), bytes.data(), bytes.size());
    if (!bytes.empty()) core_.received(bytes.size());
  }

  torcon::ReplyCallback reply_callback() {
    const std::size_t slot = new_callback();
    const std::uint64_t seq = ++issued_;
    // The ticket the command this callback is for will get.
    tickets_.push_back(core_.next_ticket());
    return [this, slot, seq](const Expected<Reply>& r) {
      called(slot);
      if (r || r.error().code == Errc::tor_error) {
        // Answered by tor: in the order issued.
        FUZZ_CHECK(seq > replied_);
        replied_ = seq;
        if (r) FUZZ_CHECK(r->code >= 200 && r->code < 300);
      }
    };
  }

  static bool is_auth_keyword(std::string_view raw) {
    const std::string_view kw = raw.substr(0, raw.find_first_of(" \r\n"));
    for (std::string_view own : {"PROTOCOLINFO", "AUTHCHALLENGE", "AUTHENTICATE"}) {
      if (kw.size() != own.size()) continue;
      bool same = true;
      for (std::size_t i = 0; i < kw.size(); ++i) same = same && (kw[i] & ~0x20) == own[i];
      if (same) return true;
    }
    return false;
  }

  void issue(std::string_view line) {
    ApiCall c(*this);
    core_.command(line, reply_callback());
  }

  void command(Input& in) {
    const std::uint8_t which = in.byte();
    ApiCall c(*this);
    switch (which % 6) {
      case 0: core_.command("GETINFO version", reply_callback()); break;
      case 1: core_.command("GETINFO config-text", reply_callback()); break;
      case 2: core_.send(Command("SIGNAL").arg("NEWNYM"), reply_callback()); break;
      case 3: {
        const std::string_view raw = in.bytes(in.byte() % 32);
        // The authentication commands are the core's own: the oracle counts
        // them, so the caller's raw lines do not use those keywords.
        if (mentions_secret(raw) || is_auth_keyword(raw)) return;
        core_.command(raw, reply_callback());
        break;
      }
      case 4: {
        const std::string_view value = in.bytes(in.byte() % 32);
        if (mentions_secret(value)) return;
        core_.send(Command("SETCONF").kv("ContactInfo", value), reply_callback());
        break;
      }
      case 5: {
        const std::string_view body = in.bytes(in.byte() % 64);
        if (mentions_secret(body)) return;
        core_.send(Command("LOADCONF").data(body), reply_callback());
        break;
      }
    }
  }

  void subscribe(std::uint8_t event, std::uint8_t flags) {
    static constexpr std::string_view kEvents[] = {"BW",           "CIRC", "STREAM", "CONF_CHANGED",
                                                   "NOT_AN_EVENT", "B W",  ""};
    const std::string_view name = kEvents[event % std::size(kEvents)];
    const int action = (flags >> 2) & 3;
    const std::size_t index = subs_.size();
    subs_.push_back(0);
    auto act = [this, action, index] {
      if (action == 1) {
        ApiCall c(*this);
        core_.unsubscribe(subs_[index]);
      } else if (action == 2) {
        issue("GETINFO version");
      } else if (action == 3 && transport_up_) {
        transport_up_ = false;  // as the glue's Socket::close() does
        core_.closed(Error(Errc::ok, ""));
      }
    };
    torcon::StatusCallback done;
    if (flags & 2) {
      const std::size_t slot = new_callback();
      done = [this, slot](const Status&) { called(slot); };
    }
    ApiCall c(*this);
    if (flags & 1) {
      subs_[index] = core_.subscribe_typed(
          name, [act](const torcon::Event&) { act(); },
          [act](const Error& e, const Reply& r) {
            FUZZ_CHECK(e.code != Errc::ok);
            FUZZ_CHECK(r.is_async());
            act();
          },
          std::move(done));
    } else {
      subs_[index] = core_.subscribe(
          name,
          [act](const Reply& r) {
            FUZZ_CHECK(r.is_async());
            act();
          },
          std::move(done));
    }
  }

  void unsubscribe(std::uint8_t which) {
    if (subs_.empty()) return;
    ApiCall c(*this);
    core_.unsubscribe(subs_[which % subs_.size()]);
  }

  void close(std::uint8_t how) {
    if (!transport_up_) return;
    transport_up_ = false;
    switch (how % 3) {
      case 0: core_.closed(Error(Errc::ok, "")); break;
      case 1: core_.closed(Error(Errc::disconnected, "")); break;
      case 2: core_.closed(Error(Errc::io, "read: Connection reset by peer")); break;
    }
  }

  bool mentions_secret(std::string_view s) const {
    return s.find(kPassword) != std::string_view::npos ||
           s.find(cookie_hex_upper_) != std::string_view::npos ||
           s.find(cookie_hex_lower_) != std::string_view::npos ||
           s.find(cookie_) != std::string_view::npos;
  }

  static void check_framing(std::string_view w) {
    FUZZ_CHECK(w.size() >= 2 && w.substr(w.size() - 2) == "\r\n");
    for (std::size_t i = 0; i < w.size(); ++i) {
      FUZZ_CHECK(w[i] != '\0');
      if (w[i] == '\r') FUZZ_CHECK(i + 1 < w.size() && w[i + 1] == '\n');
      if (w[i] == '\n') FUZZ_CHECK(i > 0 && w[i - 1] == '\r');
    }
  }

  void check_order_and_secrets(std::string_view w) {
    const bool first = writes_++ == 0;
    const std::string_view keyword = w.substr(0, w.find_first_of(" \r"));
    if (first) {
      FUZZ_CHECK(w == "PROTOCOLINFO 1\r\n");
      FUZZ_CHECK(!core_.ready());
    } else if (keyword == "AUTHCHALLENGE") {
      FUZZ_CHECK(++authchallenges_ == 1 && authenticates_ == 0);
      FUZZ_CHECK(core_.auth_method() == AuthMethod::safecookie);
    } else if (keyword == "AUTHENTICATE") {
      FUZZ_CHECK(++authenticates_ == 1);
      FUZZ_CHECK(!core_.ready());
      // SAFECOOKIE's AUTHENTICATE only answers an AUTHCHALLENGE.
      if (core_.auth_method() == AuthMethod::safecookie) FUZZ_CHECK(authchallenges_ == 1);
    } else {
      FUZZ_CHECK(core_.ready());  // nothing of the caller's before authentication
      FUZZ_CHECK(keyword != "PROTOCOLINFO");
    }
    if (!mentions_secret(w)) return;
    // Only the one AUTHENTICATE of the method the secret belongs to, and
    // exactly as that method writes it.
    FUZZ_CHECK(keyword == "AUTHENTICATE");
    if (core_.auth_method() == AuthMethod::hashed_password)
      FUZZ_CHECK(w == "AUTHENTICATE \"" + std::string(kPassword) + "\"\r\n");
    else
      FUZZ_CHECK(core_.auth_method() == AuthMethod::cookie &&
                 w == "AUTHENTICATE " + cookie_hex_upper_ + "\r\n");
  }

  void check_limits() {
    if (!transport_up_ || core_.down()) return;
    FUZZ_CHECK(core_.buffered_bytes() <= kMaxReply + kStatusPrefix);
  }

  const std::string cookie_ = cookie_bytes();
  const std::string cookie_hex_upper_ = hex(cookie_, true);
  const std::string cookie_hex_lower_ = hex(cookie_, false);
  ControllerOptions opts_;
  ControlProtocol core_;
  std::vector<int> calls_;                             // per callback: times called
  std::vector<ControlProtocol::SubscriptionId> subs_;  // 0 for refused names
  int api_depth_ = 0;
  bool transport_up_ = false;
  bool auth_failed_ = false;
  bool authenticated_ = false;
  int disconnects_ = 0;
  int writes_ = 0, authchallenges_ = 0, authenticates_ = 0;
  std::uint64_t issued_ = 0, replied_ = 0;
  std::vector<std::uint64_t> tickets_;  // of every command issued, in order
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  Input in(data + 1, size - 1);
  Session s(data[0]);
  s.start();
  s.run(in);
  s.finish();
  return 0;
}
