// ControlProtocol without a socket or a tor: feed it the bytes a server
// would send and check the exact bytes it wants to write back.
//
// The SAFECOOKIE hashes expected here are computed from control-spec's
// AUTHCHALLENGE construction with OpenSSL directly, not with the code under
// test (control/safecookie.cpp).

#include "control_protocol.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "torcon/events.hpp"

namespace torcon::detail {
namespace {

using ::testing::HasSubstr;

// ---- the spec's SAFECOOKIE construction -------------------------------------

constexpr std::string_view kServerKey = "Tor safe cookie authentication server-to-controller hash";
constexpr std::string_view kClientKey = "Tor safe cookie authentication controller-to-server hash";

std::string hmac_sha256(std::string_view key, std::string_view msg) {
  unsigned char out[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string s;
  for (unsigned char b : bytes) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 15]);
  }
  return s;
}

// A cookie with bytes of every kind (NUL, high bit, CR/LF values).
std::string test_cookie() {
  std::string c(32, '\0');
  for (int i = 0; i < 32; ++i) c[i] = static_cast<char>(i * 37 + 10);
  return c;
}

safecookie::Nonce test_nonce() {
  safecookie::Nonce n{};
  for (int i = 0; i < 32; ++i) n[i] = static_cast<std::uint8_t>(0xF0 - i);
  return n;
}

std::string nonce_bytes() {
  const safecookie::Nonce n = test_nonce();
  return std::string(reinterpret_cast<const char*>(n.data()), n.size());
}

std::string server_hash(std::string_view server_nonce) {
  return hmac_sha256(kServerKey, test_cookie() + nonce_bytes() + std::string(server_nonce));
}
std::string client_hash(std::string_view server_nonce) {
  return hmac_sha256(kClientKey, test_cookie() + nonce_bytes() + std::string(server_nonce));
}

std::string server_nonce_of(char fill) { return std::string(32, fill); }

// ---- a host that records instead of doing I/O -------------------------------

struct RecordingHost final : ControlProtocol::Host {
  std::string written;  // since the last take()
  bool dropped = false;
  int wakes = 0;
  std::optional<Error> refuse_writes;
  std::vector<std::string> cookie_paths;  // what read_cookie() was asked for
  std::string cookie = test_cookie();

  Status write(std::string_view bytes) override {
    if (refuse_writes) return *refuse_writes;
    written.append(bytes);
    return {};
  }
  void drop_connection() override { dropped = true; }
  void wake() override { ++wakes; }
  void connection_ended(const Error& why) override { ended.push_back(why.message); }
  std::vector<std::string> ended;  // connection_ended() calls, in order
  Expected<std::string> read_cookie(const std::string& path) override {
    cookie_paths.push_back(path);
    if (path == "/missing") return Error(Errc::auth, "cannot open cookie file /missing");
    return cookie;
  }
  Expected<safecookie::Nonce> client_nonce() override { return test_nonce(); }
};

// What a callback saw, as one comparable line.
std::string describe(const Expected<Reply>& r) {
  if (r) return "ok " + std::string(r->raw);
  return "error " + r.error().message;
}

std::string protocolinfo(std::string_view methods, std::string_view cookie_file = "/tor/cookie") {
  return "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=" + std::string(methods) + " COOKIEFILE=\"" +
         std::string(cookie_file) + "\"\r\n250-VERSION Tor=\"0.4.9.11\"\r\n250 OK\r\n";
}

class ControlProtocolTest : public ::testing::Test {
 protected:
  // begin() + connected(): PROTOCOLINFO is written.
  void start(ControllerOptions o = {}) {
    p_ = std::make_unique<ControlProtocol>(host_, std::move(o));
    ASSERT_TRUE(p_->begin([this](const Status& s) { connects_.push_back(s); }));
    EXPECT_FALSE(p_->handshaking() && p_->ready());
    p_->connected();
    ASSERT_EQ(take(), "PROTOCOLINFO 1\r\n");
  }
  // start() and authenticate with NULL.
  void start_ready(ControllerOptions o = {}) {
    start(std::move(o));
    p_->feed(protocolinfo("NULL"));
    ASSERT_EQ(take(), "AUTHENTICATE\r\n");
    p_->feed("250 OK\r\n");
    ASSERT_TRUE(p_->ready());
    ASSERT_EQ(connects_.size(), 1u);
    ASSERT_TRUE(connects_[0].ok());
  }
  // Up to the AUTHCHALLENGE, SAFECOOKIE chosen.
  void start_safecookie() {
    start();
    p_->feed(protocolinfo("COOKIE,SAFECOOKIE"));
    ASSERT_EQ(take(), "AUTHCHALLENGE SAFECOOKIE " + hex(nonce_bytes()) + "\r\n");
  }
  // The handshake failed with Errc::auth saying `says`, the connection was
  // dropped, and nothing more was written (nor is later).
  void expect_auth_failed(std::string_view says) {
    ASSERT_EQ(connects_.size(), 1u);
    ASSERT_FALSE(connects_[0].ok());
    EXPECT_EQ(connects_[0].error().code, Errc::auth);
    EXPECT_THAT(connects_[0].error().message, HasSubstr(std::string(says)));
    EXPECT_TRUE(host_.dropped);
    EXPECT_FALSE(p_->ready());
    EXPECT_EQ(take(), "");
    std::vector<std::string> log;
    p_->command("GETINFO version", [&](const Expected<Reply>& r) { log.push_back(describe(r)); });
    p_->run_deferred();
    EXPECT_EQ(log, std::vector<std::string>{"error not connected to tor"});
    EXPECT_EQ(take(), "");
  }
  std::string take() { return std::exchange(host_.written, {}); }
  ReplyCallback record(std::string tag) {
    return [this, tag](const Expected<Reply>& r) { log_.push_back(tag + ": " + describe(r)); };
  }
  StatusCallback record_status(std::string tag) {
    return [this, tag](const Status& s) {
      log_.push_back(tag + ": " + (s ? std::string("ok") : "error " + s.error().message));
    };
  }
  EventHandler record_event(std::string tag) {
    return [this, tag](const Reply& r) { log_.push_back(tag + ": " + std::string(r.raw)); };
  }

  RecordingHost host_;
  std::unique_ptr<ControlProtocol> p_;  // after host_: destroyed first
  std::vector<Status> connects_;
  std::vector<std::string> log_;
};

// ---- authentication ---------------------------------------------------------

struct AuthCase {
  const char* methods;  // PROTOCOLINFO's METHODS=
  AuthMethod wanted;
  const char* password;
  AuthMethod used;               // automatic: choosing fails
  std::string authenticate;      // the line written, or what the error says
  const char* cookie_file = "";  // ControllerOptions::cookie_file
};

TEST_F(ControlProtocolTest, EachMethodWritesItsAuthenticate) {
  const std::string cookie_line = "AUTHENTICATE " + hex(test_cookie()) + "\r\n";
  using M = AuthMethod;
  const AuthCase cases[] = {
      {"NULL", M::automatic, "", M::null, "AUTHENTICATE\r\n"},
      {"NULL,HASHEDPASSWORD", M::automatic, "pw", M::null, "AUTHENTICATE\r\n"},
      {"HASHEDPASSWORD", M::automatic, "s3cret \"pw\"\\", M::hashed_password,
       "AUTHENTICATE \"s3cret \\\"pw\\\"\\\\\"\r\n"},
      {"HASHEDPASSWORD,SAFECOOKIE", M::automatic, "pw", M::hashed_password,
       "AUTHENTICATE \"pw\"\r\n"},
      // Plain COOKIE automatically only for a cookie file the caller named.
      {"COOKIE", M::automatic, "", M::cookie, cookie_line, "/mine"},
      {"NULL,COOKIE", M::automatic, "", M::null, "AUTHENTICATE\r\n", "/mine"},
      {"COOKIE,SAFECOOKIE", M::cookie, "", M::cookie, cookie_line},
      {"NULL,COOKIE", M::cookie, "", M::cookie, cookie_line},
      {"HASHEDPASSWORD", M::hashed_password, "x", M::hashed_password, "AUTHENTICATE \"x\"\r\n"},
      {"NULL", M::null, "", M::null, "AUTHENTICATE\r\n"},
      // Choosing fails: nothing is written after PROTOCOLINFO.
      {"HASHEDPASSWORD", M::automatic, "", M::automatic, "requires a password"},
      {"HASHEDPASSWORD,GSSAPI", M::automatic, "", M::automatic, "requires a password"},
      {"GSSAPI", M::automatic, "", M::automatic, "no authentication method"},
      {"", M::automatic, "", M::automatic, "no authentication method"},
      {"NULL", M::cookie, "", M::automatic, "does not offer COOKIE"},
      {"COOKIE", M::safecookie, "", M::automatic, "does not offer SAFECOOKIE"},
      {"NULL", M::hashed_password, "pw", M::automatic, "does not offer HASHEDPASSWORD"},
      {"HASHEDPASSWORD", M::automatic, "pw\r\nSIGNAL HALT", M::automatic, "password: "},
      {"COOKIE", M::automatic, "", M::automatic, "COOKIE without SAFECOOKIE"},
      {"COOKIE,HASHEDPASSWORD", M::automatic, "", M::automatic, "COOKIE without SAFECOOKIE"},
  };
  for (const AuthCase& c : cases) {
    SCOPED_TRACE(std::string(c.methods) + " wanted " + to_string(c.wanted));
    host_ = RecordingHost{};
    connects_.clear();
    ControllerOptions o;
    o.auth = c.wanted;
    o.password = c.password;
    o.cookie_file = c.cookie_file;
    start(o);
    p_->feed(protocolinfo(c.methods));
    if (c.used == M::automatic) {
      expect_auth_failed(c.authenticate);
      continue;
    }
    EXPECT_EQ(take(), c.authenticate);
    EXPECT_TRUE(connects_.empty());
    EXPECT_TRUE(p_->handshaking());
    p_->feed("250 OK\r\n");
    ASSERT_EQ(connects_.size(), 1u);
    EXPECT_TRUE(connects_[0].ok());
    EXPECT_TRUE(p_->ready());
    EXPECT_EQ(p_->auth_method(), c.used);
    EXPECT_EQ(take(), "");  // no events wanted: no SETEVENTS
    EXPECT_EQ(p_->protocol_info().tor_version, "0.4.9.11");
    EXPECT_FALSE(host_.dropped);
  }
}

// A process that took the control port (tor restarting) offers only plain
// COOKIE and names some other 32-byte file: automatic authentication must
// neither read that file nor send anything of it, and say why.
TEST_F(ControlProtocolTest, AControlPortOfferingOnlyCookieGetsNoFile) {
  host_.cookie = std::string(32, 's');  // what /some/other/32-byte/file holds
  start();
  p_->feed(protocolinfo("COOKIE", "/some/other/32-byte/file"));
  expect_auth_failed("COOKIE without SAFECOOKIE");
  EXPECT_THAT(connects_[0].error().message, HasSubstr("/some/other/32-byte/file"));
  EXPECT_THAT(connects_[0].error().message, HasSubstr("ControllerOptions::cookie_file"));
  EXPECT_TRUE(host_.cookie_paths.empty()) << "the file was read";
  // A COOKIE the caller asked for by name still reads tor's file.
  host_ = RecordingHost{};
  connects_.clear();
  ControllerOptions asked;
  asked.auth = AuthMethod::cookie;
  start(asked);
  p_->feed(protocolinfo("COOKIE", "/var/lib/tor/control_auth_cookie"));
  EXPECT_EQ(take(), "AUTHENTICATE " + hex(test_cookie()) + "\r\n");
  EXPECT_EQ(host_.cookie_paths, std::vector<std::string>{"/var/lib/tor/control_auth_cookie"});
}

TEST_F(ControlProtocolTest, ProtocolinfoIsParsedAndTheCookieFileComesFromItUnlessGiven) {
  start();
  p_->feed(
      "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE "
      "COOKIEFILE=\"/var/lib/tor/a \\\"b\\\"\"\r\n250-VERSION Tor=\"0.4.9.11\"\r\n"
      "250-SOMETHINGNEW x=y\r\n250 OK\r\n");
  EXPECT_EQ(p_->protocol_info().methods, (std::vector<std::string>{"COOKIE", "SAFECOOKIE"}));
  EXPECT_EQ(p_->protocol_info().cookie_file, "/var/lib/tor/a \"b\"");
  EXPECT_EQ(p_->protocol_info().tor_version, "0.4.9.11");
  EXPECT_EQ(host_.cookie_paths, std::vector<std::string>{"/var/lib/tor/a \"b\""});

  host_ = RecordingHost{};
  ControllerOptions o;
  o.cookie_file = "/mine";
  start(o);
  p_->feed(protocolinfo("COOKIE"));
  EXPECT_EQ(host_.cookie_paths, std::vector<std::string>{"/mine"});
}

TEST_F(ControlProtocolTest, AuthenticationErrorsBeforeAnyAuthenticate) {
  struct Case {
    const char* name;
    std::string methods, cookie_file, cookie, reply;
    const char* says;
  };
  const Case cases[] = {
      {"PROTOCOLINFO refused", "", "", test_cookie(), "513 Unrecognized\r\n",
       "PROTOCOLINFO failed: Unrecognized"},
      {"cookie unreadable (COOKIE)", "COOKIE", "/missing", test_cookie(), "",
       "cannot open cookie file /missing"},
      {"cookie unreadable (SAFECOOKIE)", "SAFECOOKIE", "/missing", test_cookie(), "",
       "cannot open cookie file /missing"},
      {"cookie too short", "COOKIE", "/c", std::string(31, 'c'), "", "not the 32 bytes"},
      {"cookie too long", "SAFECOOKIE", "/c", std::string(33, 'c'), "", "not the 32 bytes"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    host_ = RecordingHost{};
    host_.cookie = c.cookie;
    connects_.clear();
    ControllerOptions o;
    if (c.methods == "COOKIE") o.auth = AuthMethod::cookie;  // never chosen automatically
    start(o);
    p_->feed(c.reply.empty() ? protocolinfo(c.methods, c.cookie_file) : c.reply);
    expect_auth_failed(c.says);
  }
}

TEST_F(ControlProtocolTest, AuthenticateRefusedFailsTheHandshakeWithTorsWords) {
  ControllerOptions o;
  o.password = "wrong";
  start(o);
  p_->feed(protocolinfo("HASHEDPASSWORD"));
  EXPECT_EQ(take(), "AUTHENTICATE \"wrong\"\r\n");
  p_->feed("515 Authentication failed: Password did not match HashedControlPassword value\r\n");
  expect_auth_failed("authentication refused: Authentication failed: Password did not match");
  EXPECT_EQ(connects_[0].error().status, 515);
}

TEST_F(ControlProtocolTest, SafecookieHappyPath) {
  start_safecookie();
  EXPECT_EQ(host_.cookie_paths, std::vector<std::string>{"/tor/cookie"});
  const std::string sn = server_nonce_of('\x5a');
  // tor writes upper-case hex; lower case is hex too.
  std::string lower = hex(server_hash(sn));
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  p_->feed("250 AUTHCHALLENGE SERVERHASH=" + lower + " SERVERNONCE=" + hex(sn) + "\r\n");
  EXPECT_EQ(take(), "AUTHENTICATE " + hex(client_hash(sn)) + "\r\n");
  EXPECT_TRUE(connects_.empty());
  p_->feed("250 OK\r\n");
  ASSERT_EQ(connects_.size(), 1u);
  EXPECT_TRUE(connects_[0].ok());
  EXPECT_EQ(p_->auth_method(), AuthMethod::safecookie);
}

// Every AUTHCHALLENGE reply but the right one ends authentication: no
// AUTHENTICATE at all, so never the raw cookie (COOKIE) as a fallback.
TEST_F(ControlProtocolTest, AuthchallengeRepliesOtherThanTheRightOneFail) {
  const std::string sn = server_nonce_of('\x5a');
  const std::string good_hash = hex(server_hash(sn));
  const std::string good_nonce = hex(sn);
  // A server nonce whose server hash ends in a 0 byte: a hash one byte
  // short, read 32 bytes long, would find that 0 in std::string's
  // terminator and match. Likewise a nonce one byte short whose hash is
  // that of the nonce plus a 0 byte.
  std::string zero_end;
  for (int i = 0; zero_end.empty(); ++i) {
    std::string n =
        std::string(30, '\x11') + static_cast<char>(i & 0xff) + static_cast<char>(i >> 8);
    if (server_hash(n).back() == '\0') zero_end = n;
  }
  std::string nul_nonce = std::string(31, '\x22') + '\0';
  const std::string short_hash = hex(server_hash(zero_end).substr(0, 31));
  struct Case {
    const char* name;
    std::string reply;
    const char* says;
  };
  const Case cases[] = {
      {"5xx", "515 Authentication failed: unsupported\r\n", "AUTHCHALLENGE refused"},
      {"4xx", "451 Resource exhausted\r\n", "AUTHCHALLENGE refused"},
      {"552 multi-line", "552-one\r\n552 two\r\n", "AUTHCHALLENGE refused: one\ntwo"},
      {"not an AUTHCHALLENGE reply", "250 OK\r\n", "malformed AUTHCHALLENGE"},
      {"other keyword", "250 AUTHCHALLENGX SERVERHASH=" + good_hash + " SERVERNONCE=" + good_nonce,
       "malformed"},
      {"no SERVERHASH", "250 AUTHCHALLENGE SERVERNONCE=" + good_nonce, "malformed"},
      {"no SERVERNONCE", "250 AUTHCHALLENGE SERVERHASH=" + good_hash, "malformed"},
      {"hash 31 bytes",
       "250 AUTHCHALLENGE SERVERHASH=" + short_hash + " SERVERNONCE=" + hex(zero_end), "malformed"},
      {"hash 33 bytes",
       "250 AUTHCHALLENGE SERVERHASH=" + good_hash + "00 SERVERNONCE=" + good_nonce, "malformed"},
      {"hash odd length",
       "250 AUTHCHALLENGE SERVERHASH=" + good_hash + "0 SERVERNONCE=" + good_nonce, "malformed"},
      {"hash not hex",
       "250 AUTHCHALLENGE SERVERHASH=" + good_hash.substr(0, 62) + "GG SERVERNONCE=" + good_nonce,
       "malformed"},
      {"hash empty", "250 AUTHCHALLENGE SERVERHASH= SERVERNONCE=" + good_nonce, "malformed"},
      {"nonce 31 bytes",
       "250 AUTHCHALLENGE SERVERHASH=" + hex(server_hash(nul_nonce)) +
           " SERVERNONCE=" + hex(nul_nonce.substr(0, 31)),
       "malformed"},
      {"nonce 33 bytes",
       "250 AUTHCHALLENGE SERVERHASH=" + good_hash + " SERVERNONCE=" + good_nonce + "AB",
       "malformed"},
      {"nonce 64 bytes",
       "250 AUTHCHALLENGE SERVERHASH=" + good_hash + " SERVERNONCE=" + good_nonce + good_nonce,
       "malformed"},
      {"hash is the client's",
       "250 AUTHCHALLENGE SERVERHASH=" + hex(client_hash(sn)) + " SERVERNONCE=" + good_nonce,
       "server hash is wrong"},
      {"hash for another nonce",
       "250 AUTHCHALLENGE SERVERHASH=" + good_hash + " SERVERNONCE=" + hex(server_nonce_of('\x5b')),
       "server hash is wrong"},
      {"all-A hash",
       "250 AUTHCHALLENGE SERVERHASH=" + std::string(64, 'A') + " SERVERNONCE=" + good_nonce,
       "server hash is wrong"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    host_ = RecordingHost{};
    connects_.clear();
    start_safecookie();
    std::string reply = c.reply;
    if (reply.size() < 2 || reply.substr(reply.size() - 2) != "\r\n") reply += "\r\n";
    p_->feed(reply);
    expect_auth_failed(c.says);
  }
}

TEST_F(ControlProtocolTest, ServerHashWrongInAnyOneBitIsRefused) {
  const std::string sn = server_nonce_of('\x33');
  const std::string good = server_hash(sn);
  for (int bit = 0; bit < 256; ++bit) {
    SCOPED_TRACE("bit " + std::to_string(bit));
    host_ = RecordingHost{};
    connects_.clear();
    start_safecookie();
    std::string forged = good;
    forged[bit / 8] = static_cast<char>(forged[bit / 8] ^ (1 << (bit % 8)));
    p_->feed("250 AUTHCHALLENGE SERVERHASH=" + hex(forged) + " SERVERNONCE=" + hex(sn) + "\r\n");
    expect_auth_failed("server hash is wrong");
    if (HasFailure()) return;
  }
}

TEST_F(ControlProtocolTest, HandshakeEndsEarlyWhenTheHostGivesUp) {
  // The glue's handshake timer fires: fail_connection() with its error.
  start_safecookie();
  std::vector<std::string> log;
  p_->command("GETINFO version", record("held"));
  EXPECT_TRUE(p_->handshaking());
  p_->fail_connection(Error(Errc::timeout, "handshake took too long"));
  ASSERT_EQ(connects_.size(), 1u);
  EXPECT_EQ(connects_[0].error().code, Errc::timeout);
  EXPECT_EQ(log_, std::vector<std::string>{"held: error handshake took too long"});
  EXPECT_TRUE(host_.dropped);
  EXPECT_FALSE(p_->handshaking());
  // tor's late answer changes nothing.
  p_->feed("250 AUTHCHALLENGE SERVERHASH=" + hex(server_hash(server_nonce_of('a'))) +
           " SERVERNONCE=" + hex(server_nonce_of('a')) + "\r\n");
  EXPECT_EQ(take(), "");
}

// ---- commands and replies ---------------------------------------------------

TEST_F(ControlProtocolTest, CommandsBeforeAuthenticationWaitThenGoInOrder) {
  p_ = std::make_unique<ControlProtocol>(host_, ControllerOptions{});
  p_->command("GETINFO a", record("a"));  // before begin()
  p_->subscribe("BW", record_event("bw"), record_status("sub"));
  ASSERT_TRUE(p_->begin([this](const Status& s) { connects_.push_back(s); }));
  p_->command("GETINFO b", record("b"));
  p_->connected();
  EXPECT_EQ(take(), "PROTOCOLINFO 1\r\n");
  p_->send(Command("SIGNAL").arg("NEWNYM"), record("c"));
  EXPECT_EQ(p_->pending(), 4u);  // PROTOCOLINFO + three held commands
  p_->feed(protocolinfo("NULL"));
  EXPECT_EQ(take(), "AUTHENTICATE\r\n");
  p_->feed("250 OK\r\n");
  // In issue order: the subscription between the two GETINFOs.
  EXPECT_EQ(take(), "GETINFO a\r\nSETEVENTS BW\r\nGETINFO b\r\nSIGNAL NEWNYM\r\n");
  p_->feed("250-a=1\r\n250 OK\r\n250 OK\r\n650 BW 1 2\r\n250-b=2\r\n250 OK\r\n250 OK\r\n");
  EXPECT_EQ(log_, (std::vector<std::string>{"a: ok 250-a=1\r\n250 OK\r\n", "sub: ok",
                                            "bw: 650 BW 1 2\r\n", "b: ok 250-b=2\r\n250 OK\r\n",
                                            "c: ok 250 OK\r\n"}));
}

// What is written once authenticated, for what was issued before: commands
// and subscription changes in issue order; changes with no command between
// them as one SETEVENTS of the last set; none that leaves tor's set as it is.
TEST_F(ControlProtocolTest, SubscriptionsAndCommandsBeforeAuthenticationKeepIssueOrder) {
  struct Case {
    std::vector<std::string> ops;  // "sub NAME", "unsub N" (the Nth sub, from 0), "get KEY"
    std::string written;
  };
  const Case cases[] = {
      {{"sub BW", "get x"}, "SETEVENTS BW\r\nGETINFO x\r\n"},
      {{"get x", "sub BW"}, "GETINFO x\r\nSETEVENTS BW\r\n"},
      {{"sub BW", "sub CIRC", "get x"}, "SETEVENTS BW CIRC\r\nGETINFO x\r\n"},
      {{"sub BW", "get x", "sub CIRC", "get y"},
       "SETEVENTS BW\r\nGETINFO x\r\nSETEVENTS BW CIRC\r\nGETINFO y\r\n"},
      {{"sub BW", "get x", "unsub 0"}, "SETEVENTS BW\r\nGETINFO x\r\nSETEVENTS\r\n"},
      {{"sub BW", "unsub 0", "get x"}, "GETINFO x\r\n"},
      {{"sub BW", "sub BW", "get x"}, "SETEVENTS BW\r\nGETINFO x\r\n"},
      {{"get x", "get y"}, "GETINFO x\r\nGETINFO y\r\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::PrintToString(c.ops));
    host_.written.clear();
    p_ = std::make_unique<ControlProtocol>(host_, ControllerOptions{});
    ASSERT_TRUE(p_->begin([](const Status&) {}));
    p_->connected();
    ASSERT_EQ(take(), "PROTOCOLINFO 1\r\n");
    std::vector<ControlProtocol::SubscriptionId> subs;
    int done = 0, expected_done = 0;
    for (const std::string& op : c.ops) {
      const std::string arg = op.substr(op.find(' ') + 1);
      if (op.starts_with("sub ")) {
        subs.push_back(p_->subscribe(
            arg, [](const Reply&) {},
            [&](const Status& s) {
              EXPECT_TRUE(s) << s.error().message;
              ++done;
            }));
        ++expected_done;
      } else if (op.starts_with("unsub ")) {
        p_->unsubscribe(subs.at(std::stoul(arg)));
      } else {
        p_->command("GETINFO " + arg, [](const Expected<Reply>&) {});
      }
    }
    EXPECT_EQ(take(), "") << "nothing before authentication";
    p_->feed(protocolinfo("NULL"));
    ASSERT_EQ(take(), "AUTHENTICATE\r\n");
    p_->feed("250 OK\r\n");
    EXPECT_EQ(take(), c.written);
    // Every subscription is told once its SETEVENTS is answered (or at once,
    // deferred, when none had to be sent).
    std::string answers;
    for (std::size_t at = 0; (at = c.written.find("\r\n", at)) != std::string::npos; at += 2)
      answers += "250 OK\r\n";
    p_->feed(answers);
    p_->run_deferred();
    EXPECT_EQ(done, expected_done);
    EXPECT_EQ(p_->pending(), 0u);
  }
}

// Authentication fails: what was held fails in issue order, nothing written.
TEST_F(ControlProtocolTest, HeldCommandsAndSubscriptionsFailInIssueOrder) {
  start();
  p_->command("GETINFO a", record("a"));
  p_->subscribe("BW", record_event("bw"), record_status("sub"));
  p_->command("GETINFO b", record("b"));
  p_->feed(protocolinfo("NULL"));
  ASSERT_EQ(take(), "AUTHENTICATE\r\n");
  p_->feed("515 Authentication failed\r\n");
  EXPECT_EQ(take(), "");
  ASSERT_EQ(log_.size(), 3u);
  EXPECT_THAT(log_[0], HasSubstr("a: error"));
  EXPECT_THAT(log_[1], HasSubstr("sub: error"));
  EXPECT_THAT(log_[2], HasSubstr("b: error"));
}

TEST_F(ControlProtocolTest, PipelinedRepliesMatchCommandsInOrderHoweverTheBytesSplit) {
  const std::string replies =
      "250-version=0.4.9.11\r\n250 OK\r\n"
      "552 Unrecognized key \"nope\"\r\n"
      "650 BW 10 20\r\n"
      "250+config-text=\r\nA 1\r\n..B\r\n.\r\n250 OK\r\n"
      "650-CONF_CHANGED\r\n650-X=1\r\n650 OK\r\n"
      "250 OK\r\n";
  const std::vector<std::string> expected = {
      "1: ok 250-version=0.4.9.11\r\n250 OK\r\n",
      "2: error Unrecognized key \"nope\"",
      "bw: 650 BW 10 20\r\n",
      "3: ok 250+config-text=\r\nA 1\r\n..B\r\n.\r\n250 OK\r\n",
      "conf: 650-CONF_CHANGED\r\n650-X=1\r\n650 OK\r\n",
      "4: ok 250 OK\r\n",
  };
  for (std::size_t split = 0; split <= replies.size(); ++split) {
    SCOPED_TRACE("split at " + std::to_string(split));
    host_ = RecordingHost{};
    connects_.clear();
    log_.clear();
    start_ready();
    p_->subscribe("BW", record_event("bw"), {});
    p_->subscribe("CONF_CHANGED", record_event("conf"), {});
    ASSERT_EQ(take(), "SETEVENTS BW\r\nSETEVENTS BW CONF_CHANGED\r\n");
    p_->feed("250 OK\r\n250 OK\r\n");
    p_->command("GETINFO version", record("1"));
    p_->command("GETINFO nope", record("2"));
    p_->send(Command("GETINFO").arg("config-text"), record("3"));
    p_->command("SIGNAL RELOAD", record("4"));
    ASSERT_EQ(take(),
              "GETINFO version\r\nGETINFO nope\r\nGETINFO config-text\r\nSIGNAL RELOAD\r\n");
    EXPECT_EQ(p_->pending(), 4u);
    p_->feed(std::string_view(replies).substr(0, split));
    p_->feed(std::string_view(replies).substr(split));
    ASSERT_EQ(log_, expected);
    EXPECT_EQ(p_->pending(), 0u);
    EXPECT_EQ(p_->buffered_bytes(), 0u);
  }
}

TEST_F(ControlProtocolTest, TorErrorsAreValuesWithTorsCode) {
  start_ready();
  std::optional<Error> e;
  p_->command("GETINFO nope", [&](const Expected<Reply>& r) { e = r.error(); });
  p_->feed("552 Unrecognized key \"nope\"\r\n");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, Errc::tor_error);
  EXPECT_EQ(e->status, 552);
  EXPECT_EQ(e->message, "Unrecognized key \"nope\"");
  EXPECT_TRUE(p_->ready());
}

TEST_F(ControlProtocolTest, ErrorsFoundBeforeSendingAreDeferredAndNothingIsWritten) {
  start_ready();
  p_->command("GETINFO version\r\nSIGNAL HALT", record("crlf"));
  p_->command(std::string_view("GETINFO a\0b", 11), record("nul"));
  p_->send(Command("GETINFO").arg("two words"), record("arg"));
  host_.refuse_writes = Error(Errc::io, "write queue full");
  p_->command("GETINFO version", record("full"));
  host_.refuse_writes.reset();
  EXPECT_TRUE(log_.empty()) << "errors must not run inside the call that found them";
  EXPECT_EQ(host_.wakes, 1);
  EXPECT_EQ(take(), "");
  EXPECT_EQ(p_->pending(), 0u);
  p_->run_deferred();
  ASSERT_EQ(log_.size(), 4u);
  EXPECT_THAT(log_[0], HasSubstr("crlf: error"));
  EXPECT_THAT(log_[1], HasSubstr("nul: error"));
  EXPECT_THAT(log_[2], HasSubstr("arg: error"));
  EXPECT_EQ(log_[3], "full: error write queue full");
  // Still connected: the next command goes out and its reply is its own.
  p_->command("GETINFO version", record("next"));
  EXPECT_EQ(take(), "GETINFO version\r\n");
  p_->feed("250 OK\r\n");
  EXPECT_EQ(log_.back(), "next: ok 250 OK\r\n");
}

TEST_F(ControlProtocolTest, AReplyNoCommandWaitsForIsAProtocolError) {
  start_ready();
  std::vector<Error> disconnects;
  p_->on_disconnect([&](const Error& e) { disconnects.push_back(e); });
  p_->command("GETINFO a", record("a"));
  EXPECT_EQ(take(), "GETINFO a\r\n");
  p_->feed("250 OK\r\n250 stray\r\n650 BW 1 2\r\n");
  EXPECT_EQ(log_, std::vector<std::string>{"a: ok 250 OK\r\n"});
  ASSERT_EQ(disconnects.size(), 1u);
  EXPECT_EQ(disconnects[0].code, Errc::io);
  EXPECT_THAT(disconnects[0].message,
              HasSubstr("protocol error from tor: a reply no command was waiting for: 250 stray"));
  EXPECT_EQ(disconnects[0].offset, protocolinfo("NULL").size() + 8 + 8)
      << "the stream offset where the stray reply starts";
  EXPECT_TRUE(host_.dropped);
  EXPECT_FALSE(p_->ready());
  p_->command("GETINFO b", record("b"));
  p_->run_deferred();
  EXPECT_EQ(log_.back(), "b: error not connected to tor");
  EXPECT_EQ(take(), "");
}

TEST_F(ControlProtocolTest, EventsInsideAMultiLineReplyBreakTheStream) {
  // tor never puts an event between the lines of a reply; bytes that do are
  // a corrupt stream: every pending command fails, no handler sees it.
  start_ready();
  p_->subscribe("BW", record_event("bw"), {});
  p_->feed("250 OK\r\n");
  EXPECT_EQ(take(), "SETEVENTS BW\r\n");
  p_->command("GETINFO a b", record("a"));
  p_->command("GETINFO c", record("c"));
  EXPECT_EQ(take(), "GETINFO a b\r\nGETINFO c\r\n");
  p_->feed("250-a=1\r\n650 BW 1 2\r\n250 b=2\r\n");
  ASSERT_EQ(log_.size(), 2u);
  EXPECT_THAT(log_[0], HasSubstr("a: error protocol error from tor: status code 650"));
  EXPECT_THAT(log_[1], HasSubstr("c: error protocol error from tor"));
  EXPECT_TRUE(host_.dropped);
  EXPECT_EQ(take(), "");
}

TEST_F(ControlProtocolTest, MalformedStreamAndLimitsFailEveryPendingCommand) {
  struct Case {
    const char* name;
    std::string bytes;
    Errc code;
    const char* says;
  };
  const Case cases[] = {
      {"garbage", "HTTP/1.0 200 OK\r\n", Errc::bad_status_code, "three digits"},
      {"bare LF", "250 OK\n", Errc::bare_lf, "protocol error"},
      {"line too long", "250-" + std::string(300, 'x'), Errc::line_too_long, "max_line"},
      {"reply too large",
       std::string("250-") + std::string(200, 'x') + "\r\n250-" + std::string(200, 'x') +
           "\r\n250-" + std::string(200, 'x'),
       Errc::reply_too_large, "max_reply"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    host_ = RecordingHost{};
    connects_.clear();
    log_.clear();
    ControllerOptions o;
    o.parser.max_line = 256;
    o.parser.max_reply = 512;
    start_ready(o);
    std::vector<Error> errors;
    for (int i = 0; i < 2; ++i)
      p_->command("GETINFO x", [&](const Expected<Reply>& r) { errors.push_back(r.error()); });
    EXPECT_EQ(take(), "GETINFO x\r\nGETINFO x\r\n");
    p_->feed(c.bytes);
    ASSERT_EQ(errors.size(), 2u);
    for (const Error& e : errors) {
      EXPECT_EQ(e.code, c.code) << e.message;
      EXPECT_THAT(e.message, HasSubstr(c.says));
    }
    EXPECT_TRUE(host_.dropped);
  }
}

TEST_F(ControlProtocolTest, AnIncompleteReplyIsBufferedOnlyWithinTheLimits) {
  ControllerOptions o;
  o.parser.max_line = 256;
  o.parser.max_reply = 512;
  start_ready(o);
  std::vector<std::string> got;
  p_->command("GETINFO x", [&](const Expected<Reply>& r) { got.push_back(describe(r)); });
  const std::string line = "250-" + std::string(250, 'x') + "\r\n";  // 256 bytes with CRLF
  p_->feed(line.substr(0, 255));
  EXPECT_EQ(p_->buffered_bytes(), 255u);
  p_->feed(line.substr(255));
  EXPECT_EQ(p_->buffered_bytes(), 256u);
  EXPECT_TRUE(got.empty());
  p_->feed(line.substr(0, 255));  // 511 bytes: the next one could still end a 512-byte reply
  EXPECT_EQ(p_->buffered_bytes(), 511u);
  EXPECT_TRUE(got.empty());
  p_->feed(line.substr(255));  // 512 bytes and no end yet: the reply can only be larger
  ASSERT_EQ(got.size(), 1u);
  EXPECT_THAT(got[0], HasSubstr("max_reply"));
  EXPECT_TRUE(host_.dropped);
}

TEST_F(ControlProtocolTest, ClosedConnectionSaysWhereItStopped) {
  struct Case {
    const char* name;
    std::string bytes;
    Error why;
    const char* says;
  };
  const Case cases[] = {
      {"between replies", "", Error(Errc::disconnected, ""), "tor closed the connection"},
      {"mid reply", "250-a=1\r\n", Error(Errc::disconnected, ""), "(in the middle of a reply)"},
      {"mid data block", "250+a=\r\nx\r\n", Error(Errc::disconnected, ""),
       "(in the middle of a data block)"},
      {"reset", "", Error(Errc::io, "read: Connection reset by peer"), "Connection reset by peer"},
      {"closed by us", "250-a", Error(Errc::ok, ""), "connection closed by the controller"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    host_ = RecordingHost{};
    connects_.clear();
    start_ready();
    std::vector<Error> errors;
    int disconnects = 0;
    p_->on_disconnect([&](const Error&) { ++disconnects; });
    p_->command("GETINFO a", [&](const Expected<Reply>& r) { errors.push_back(r.error()); });
    p_->feed(c.bytes);
    p_->closed(c.why);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].code, Errc::disconnected);
    EXPECT_THAT(errors[0].message, HasSubstr(c.says));
    EXPECT_EQ(disconnects, 1);
    EXPECT_FALSE(host_.dropped) << "the transport closed itself";
  }
}

TEST_F(ControlProtocolTest, ReconnectStartsAFreshStreamAndResendsSubscriptions) {
  start_ready();
  p_->subscribe("CIRC", record_event("circ"), {});
  EXPECT_EQ(take(), "SETEVENTS CIRC\r\n");
  p_->feed("250 OK\r\n250-half");  // left mid reply by the disconnect
  p_->closed(Error(Errc::disconnected, ""));
  connects_.clear();
  ASSERT_TRUE(p_->begin([this](const Status& s) { connects_.push_back(s); }));
  p_->connected();
  EXPECT_EQ(take(), "PROTOCOLINFO 1\r\n");
  p_->feed(protocolinfo("NULL"));  // read from the start of a new stream
  EXPECT_EQ(take(), "AUTHENTICATE\r\n");
  p_->feed("250 OK\r\n");
  EXPECT_EQ(take(), "SETEVENTS CIRC\r\n");
  ASSERT_EQ(connects_.size(), 1u);
  EXPECT_TRUE(connects_[0].ok());
}

TEST_F(ControlProtocolTest, BeginWhileConnectedIsAnError) {
  start_ready();
  std::optional<Status> second;
  EXPECT_FALSE(p_->begin([&](const Status& s) { second = s; }));
  EXPECT_FALSE(second.has_value());
  p_->run_deferred();
  ASSERT_TRUE(second.has_value());
  EXPECT_THAT(second->error().message, HasSubstr("already connected"));
  EXPECT_TRUE(p_->ready());
}

// ---- events -----------------------------------------------------------------

TEST_F(ControlProtocolTest, SeteventsIsTheUnionOfSubscriptionsAndShrinksOnUnsubscribe) {
  start_ready();
  const auto bw = p_->subscribe("BW", record_event("bw"), record_status("bw sub"));
  EXPECT_EQ(take(), "SETEVENTS BW\r\n");
  const auto circ = p_->subscribe("CIRC", record_event("circ"), record_status("circ sub"));
  EXPECT_EQ(take(), "SETEVENTS BW CIRC\r\n");
  const auto bw2 = p_->subscribe("BW", record_event("bw2"), {});
  EXPECT_EQ(take(), "") << "BW is in the set already";
  p_->feed("250 OK\r\n250 OK\r\n");
  p_->run_deferred();
  EXPECT_EQ(log_, (std::vector<std::string>{"bw sub: ok", "circ sub: ok"}));
  EXPECT_EQ(p_->subscribed_events(), (std::vector<std::string>{"BW", "CIRC"}));
  log_.clear();

  p_->unsubscribe(circ);
  EXPECT_EQ(take(), "SETEVENTS BW\r\n");
  p_->feed("250 OK\r\n650 CIRC 1 LAUNCHED\r\n650 BW 1 2\r\n");
  EXPECT_EQ(log_, (std::vector<std::string>{"bw: 650 BW 1 2\r\n", "bw2: 650 BW 1 2\r\n"}));
  log_.clear();

  p_->unsubscribe(bw);
  EXPECT_EQ(take(), "") << "bw2 still wants BW";
  p_->feed("650 BW 3 4\r\n");
  EXPECT_EQ(log_, std::vector<std::string>{"bw2: 650 BW 3 4\r\n"});
  p_->unsubscribe(bw2);
  EXPECT_EQ(take(), "SETEVENTS\r\n");
  p_->unsubscribe(bw2);  // again: nothing
  EXPECT_EQ(take(), "");
  p_->feed("250 OK\r\n650 BW 5 6\r\n");
  EXPECT_EQ(log_.size(), 1u);
  EXPECT_TRUE(p_->subscribed_events().empty());
  EXPECT_EQ(p_->pending(), 0u);
}

TEST_F(ControlProtocolTest, HandlerThatRemovesItselfDuringDispatch) {
  start_ready();
  ControlProtocol::SubscriptionId first = 0;
  first = p_->subscribe("BW",
                        [&](const Reply& r) {
                          log_.push_back("first: " + std::string(r.raw));
                          p_->unsubscribe(first);
                        },
                        {});
  p_->subscribe("BW", record_event("second"), {});
  p_->subscribe("BW", record_event("third"), {});
  EXPECT_EQ(take(), "SETEVENTS BW\r\n");
  p_->feed("250 OK\r\n650 BW 1 1\r\n650 BW 2 2\r\n");
  EXPECT_EQ(log_, (std::vector<std::string>{"first: 650 BW 1 1\r\n", "second: 650 BW 1 1\r\n",
                                            "third: 650 BW 1 1\r\n", "second: 650 BW 2 2\r\n",
                                            "third: 650 BW 2 2\r\n"}));
  EXPECT_EQ(take(), "") << "others still want BW";

  // The only handler of an event removes itself: SETEVENTS shrinks at once.
  log_.clear();
  ControlProtocol::SubscriptionId only = 0;
  only = p_->subscribe("CIRC",
                       [&](const Reply& r) {
                         log_.push_back("only: " + std::string(r.raw));
                         p_->unsubscribe(only);
                       },
                       {});
  EXPECT_EQ(take(), "SETEVENTS BW CIRC\r\n");
  p_->feed("250 OK\r\n650 CIRC 1 LAUNCHED\r\n");
  EXPECT_EQ(take(), "SETEVENTS BW\r\n");
  p_->feed("650 CIRC 1 BUILT\r\n250 OK\r\n");
  EXPECT_EQ(log_, std::vector<std::string>{"only: 650 CIRC 1 LAUNCHED\r\n"});
  EXPECT_EQ(p_->pending(), 0u);
}

TEST_F(ControlProtocolTest, RefusedEventIsDroppedAndNotResent) {
  start_ready();
  p_->subscribe("BW", record_event("bw"), record_status("bw"));
  p_->subscribe("FOO", record_event("foo"), record_status("foo"));
  EXPECT_EQ(take(), "SETEVENTS BW\r\nSETEVENTS BW FOO\r\n");
  p_->feed("250 OK\r\n552 Unrecognized event \"FOO\"\r\n");
  EXPECT_EQ(take(), "") << "tor kept SETEVENTS BW";
  EXPECT_EQ(log_, (std::vector<std::string>{"bw: ok", "foo: error Unrecognized event \"FOO\""}));
  EXPECT_EQ(p_->subscribed_events(), std::vector<std::string>{"BW"});

  // A refused SETEVENTS that also carried a removal: tor kept the old set,
  // so the set that is left goes out once more.
  log_.clear();
  const auto circ = p_->subscribe("CIRC", record_event("circ"), {});
  EXPECT_EQ(take(), "SETEVENTS BW CIRC\r\n");
  p_->feed("250 OK\r\n");
  p_->unsubscribe(circ);
  p_->subscribe("BAR", record_event("bar"), record_status("bar"));
  EXPECT_EQ(take(), "SETEVENTS BW\r\nSETEVENTS BAR BW\r\n");
  p_->feed("250 OK\r\n552 Unrecognized event \"BAR\"\r\n");
  EXPECT_EQ(take(), "") << "SETEVENTS BW was accepted";
  EXPECT_EQ(log_, (std::vector<std::string>{"bar: error Unrecognized event \"BAR\""}));
}

TEST_F(ControlProtocolTest, BadEventNameIsRefusedWithoutSending) {
  start_ready();
  for (const char* name : {"", "B W", "BW\r\nSIGNAL HALT", "BW1"}) {
    SCOPED_TRACE(name);
    log_.clear();
    EXPECT_EQ(p_->subscribe(name, record_event("x"), record_status("sub")), 0u);
    EXPECT_TRUE(log_.empty());
    p_->run_deferred();
    ASSERT_EQ(log_.size(), 1u);
    EXPECT_THAT(log_[0], HasSubstr("sub: error event name"));
    EXPECT_EQ(take(), "");
  }
}

TEST_F(ControlProtocolTest, TypedSubscriptionSendsMalformedEventsToOnMalformed) {
  start_ready();
  std::vector<std::string> seen;
  p_->subscribe_typed(
      "BW",
      [&](const Event& ev) {
        ASSERT_NE(ev.get<BwEvent>(), nullptr);
        seen.push_back("bw " + std::to_string(ev.get<BwEvent>()->read) + " " +
                       std::to_string(ev.get<BwEvent>()->written));
      },
      [&](const Error& e, const Reply& r) {
        EXPECT_EQ(e.code, Errc::bad_argument);
        seen.push_back("malformed " + std::string(r.raw) + " (" + e.message + ")");
      },
      {});
  p_->subscribe_typed("CIRC", [&](const Event&) { seen.push_back("circ"); }, {}, {});
  EXPECT_EQ(take(), "SETEVENTS BW\r\nSETEVENTS BW CIRC\r\n");
  p_->feed("250 OK\r\n250 OK\r\n650 BW 10 20\r\n650 BW 10 lots\r\n650 CIRC\r\n650 BW 1 2\r\n");
  ASSERT_EQ(seen.size(), 3u) << "a malformed CIRC without on_malformed is not handed over";
  EXPECT_EQ(seen[0], "bw 10 20");
  EXPECT_THAT(seen[1], HasSubstr("malformed 650 BW 10 lots\r\n ("));
  EXPECT_THAT(seen[1], HasSubstr("BW"));
  EXPECT_EQ(seen[2], "bw 1 2");
}

TEST_F(ControlProtocolTest, SubscriptionDoneGetsTheErrorWhenTheConnectionEndsFirst) {
  p_ = std::make_unique<ControlProtocol>(host_, ControllerOptions{});
  p_->subscribe("BW", record_event("bw"), record_status("sub"));
  ASSERT_TRUE(p_->begin([this](const Status& s) { connects_.push_back(s); }));
  p_->connect_failed(Error(Errc::io, "connect: Connection refused"));
  EXPECT_EQ(log_, std::vector<std::string>{"sub: error connect: Connection refused"});
  EXPECT_EQ(p_->subscribed_events(), std::vector<std::string>{"BW"}) << "kept for next time";
  // The next connection sends it.
  log_.clear();
  connects_.clear();
  ASSERT_TRUE(p_->begin([this](const Status& s) { connects_.push_back(s); }));
  p_->connected();
  EXPECT_EQ(take(), "PROTOCOLINFO 1\r\n");
  p_->feed(protocolinfo("NULL"));
  p_->feed("250 OK\r\n");
  EXPECT_EQ(take(), "AUTHENTICATE\r\nSETEVENTS BW\r\n");
}

TEST_F(ControlProtocolTest, DisconnectHandlerRunsOnceAndOnlyAfterAuthentication) {
  int disconnects = 0;
  start();
  p_->on_disconnect([&](const Error&) { ++disconnects; });
  p_->closed(Error(Errc::disconnected, ""));
  EXPECT_EQ(disconnects, 0) << "never authenticated";
  ASSERT_EQ(connects_.size(), 1u);
  EXPECT_EQ(connects_[0].error().code, Errc::disconnected);

  connects_.clear();
  start_ready();
  p_->on_disconnect([&](const Error&) { ++disconnects; });
  p_->closed(Error(Errc::disconnected, ""));
  p_->fail_connection(Error(Errc::disconnected, "again"));
  EXPECT_EQ(disconnects, 1);
  EXPECT_FALSE(host_.dropped) << "closed already: nothing to drop";
}

TEST_F(ControlProtocolTest, CallbacksMayCloseTheConnectionMidRead) {
  start_ready();
  p_->command("GETINFO a", [&](const Expected<Reply>&) {
    log_.push_back("a");
    p_->closed(Error(Errc::ok, ""));
  });
  p_->command("GETINFO b", record("b"));
  p_->feed("250 OK\r\n250 OK\r\n");
  EXPECT_EQ(log_, (std::vector<std::string>{"a", "b: error connection closed by the controller"}));
}

// ---- deadlines, waiting through a disconnection, restoring ---------------------

TEST_F(ControlProtocolTest, ATimedOutCommandKeepsItsPlaceAndItsLateReplyIsDropped) {
  start_ready();
  const std::uint64_t a = p_->next_ticket();
  p_->command("GETINFO a", record("a"));
  p_->command("GETINFO b", record("b"));
  EXPECT_EQ(take(), "GETINFO a\r\nGETINFO b\r\n");
  p_->expire(a, Error(Errc::timeout, "late"));
  EXPECT_EQ(log_, std::vector<std::string>{"a: error late"});
  EXPECT_EQ(p_->pending(), 2u) << "a's slot waits for tor's late reply";
  p_->feed("250-a=1\r\n250 OK\r\n");  // a's late reply: matched to a's slot, dropped
  EXPECT_EQ(log_.size(), 1u);
  p_->feed("250-b=2\r\n250 OK\r\n");
  EXPECT_EQ(log_, (std::vector<std::string>{"a: error late", "b: ok 250-b=2\r\n250 OK\r\n"}));
  EXPECT_EQ(p_->pending(), 0u);
  EXPECT_FALSE(host_.dropped);
}

TEST_F(ControlProtocolTest, DeadlinesInTheMiddleOfThePipeline) {
  // Which of three pipelined commands expire (one char each: x = expired),
  // then all three replies arrive: each live command gets its own.
  for (std::string pattern : {"x..", ".x.", "..x", "xx.", "x.x", "xxx"}) {
    SCOPED_TRACE(pattern);
    host_ = RecordingHost{};
    connects_.clear();
    log_.clear();
    start_ready();
    std::vector<std::uint64_t> tickets;
    for (int i = 0; i < 3; ++i) {
      tickets.push_back(p_->next_ticket());
      p_->command("GETINFO k" + std::to_string(i), record(std::to_string(i)));
    }
    std::vector<std::string> want;
    for (int i = 0; i < 3; ++i)
      if (pattern[i] == 'x') {
        p_->expire(tickets[i], Error(Errc::timeout, "t"));
        want.push_back(std::to_string(i) + ": error t");
      }
    for (int i = 0; i < 3; ++i) {
      const std::string reply = "250 k" + std::to_string(i) + "\r\n";
      p_->feed(reply);
      if (pattern[i] != 'x') want.push_back(std::to_string(i) + ": ok " + reply);
    }
    EXPECT_EQ(log_, want);
  }
}

TEST_F(ControlProtocolTest, ExpiringIsANoOpOnceTheCommandCompleted) {
  start_ready();
  const std::uint64_t a = p_->next_ticket();
  p_->command("GETINFO a", record("a"));
  p_->feed("250 OK\r\n");
  p_->expire(a, Error(Errc::timeout, "late"));
  p_->expire(0, Error(Errc::timeout, "no ticket"));
  EXPECT_EQ(log_, std::vector<std::string>{"a: ok 250 OK\r\n"});
}

TEST_F(ControlProtocolTest, AHeldCommandThatExpiresIsNeverSent) {
  start();
  const std::uint64_t a = p_->next_ticket();
  p_->command("GETINFO a", record("a"));
  p_->command("GETINFO b", record("b"));
  const std::size_t before = p_->pending();  // PROTOCOLINFO too
  p_->expire(a, Error(Errc::disconnected, "waited too long"));
  EXPECT_EQ(p_->pending(), before - 1);
  p_->feed(protocolinfo("NULL"));
  EXPECT_EQ(take(), "AUTHENTICATE\r\n");
  p_->feed("250 OK\r\n");
  EXPECT_EQ(take(), "GETINFO b\r\n");
  EXPECT_EQ(log_, std::vector<std::string>{"a: error waited too long"});
}

TEST_F(ControlProtocolTest, HeldOnlyExpiryLeavesASentCommandAlone) {
  start();
  const std::uint64_t a = p_->next_ticket();
  p_->command("GETINFO a", record("a"));
  p_->feed(protocolinfo("NULL"));
  p_->feed("250 OK\r\n");
  EXPECT_EQ(take(), "AUTHENTICATE\r\nGETINFO a\r\n");
  p_->expire(a, Error(Errc::disconnected, "no connection"), true);
  EXPECT_TRUE(log_.empty());
  p_->feed("250 OK\r\n");
  EXPECT_EQ(log_, std::vector<std::string>{"a: ok 250 OK\r\n"});
}

// Reconnects after start_ready(): a fresh stream, NULL authentication.
void reconnect(ControlProtocol& p, RecordingHost& host) {
  ASSERT_TRUE(p.begin([](const Status&) {}));
  p.connected();
  p.feed(protocolinfo("NULL"));
  p.feed("250 OK\r\n");
  (void)host;
}

TEST_F(ControlProtocolTest, CommandsWaitThroughADisconnectionWhenAskedTo) {
  start_ready();
  p_->hold_while_down(true);
  p_->command("GETINFO sent", record("sent"));
  take();
  p_->closed(Error(Errc::disconnected, ""));
  EXPECT_EQ(log_, std::vector<std::string>{"sent: error tor closed the connection"})
      << "sent commands fail, once";
  EXPECT_EQ(host_.ended, std::vector<std::string>{"tor closed the connection"});
  p_->command("GETINFO waits", record("waits"));
  p_->run_deferred();
  EXPECT_EQ(log_.size(), 1u) << "held, not failed";
  EXPECT_EQ(p_->pending(), 1u);
  // A failed attempt keeps it held too.
  ASSERT_TRUE(p_->begin([](const Status&) {}));
  p_->connect_failed(Error(Errc::io, "connection refused"));
  EXPECT_EQ(log_.size(), 1u);
  EXPECT_EQ(host_.ended.size(), 1u) << "only an authenticated connection ends";
  reconnect(*p_, host_);
  EXPECT_EQ(take(), "PROTOCOLINFO 1\r\nAUTHENTICATE\r\nGETINFO waits\r\n");
  p_->feed("250 OK\r\n");
  EXPECT_EQ(log_.back(), "waits: ok 250 OK\r\n");
}

TEST_F(ControlProtocolTest, WithoutWaitingCommandsFailAtOnceWhileDisconnected) {
  start_ready();
  p_->closed(Error(Errc::disconnected, ""));
  p_->command("GETINFO a", record("a"));
  EXPECT_TRUE(log_.empty()) << "never inside the caller's call";
  p_->run_deferred();
  EXPECT_EQ(log_, std::vector<std::string>{"a: error not connected to tor"});
}

TEST_F(ControlProtocolTest, StoppingTheWaitFailsWhatWaited) {
  start_ready();
  p_->hold_while_down(true);
  p_->closed(Error(Errc::disconnected, ""));
  p_->command("GETINFO a", record("a"));
  p_->subscribe("CIRC", record_event("circ"), record_status("circ sub"));
  p_->hold_while_down(false, Error(Errc::disconnected, "gave up"));
  EXPECT_EQ(log_, (std::vector<std::string>{"a: error gave up", "circ sub: error gave up"}));
  EXPECT_EQ(p_->pending(), 0u);
}

TEST_F(ControlProtocolTest, OwnershipAndSubscriptionsAreRestoredOnTheNextConnection) {
  start_ready();
  p_->subscribe("CIRC", record_event("circ"), {});
  EXPECT_EQ(take(), "SETEVENTS CIRC\r\n");
  p_->feed("250 OK\r\n");
  p_->ownership_taken();
  std::vector<std::string> restore_errors;
  p_->on_restore_error([&](const Error& e) { restore_errors.push_back(e.message); });
  p_->closed(Error(Errc::disconnected, ""));
  reconnect(*p_, host_);
  EXPECT_EQ(take(), "PROTOCOLINFO 1\r\nAUTHENTICATE\r\nTAKEOWNERSHIP\r\nSETEVENTS CIRC\r\n");
  p_->feed("552 Unrecognized command\r\n250 OK\r\n");
  ASSERT_EQ(restore_errors.size(), 1u);
  EXPECT_THAT(restore_errors[0], HasSubstr("TAKEOWNERSHIP"));
  p_->feed("650 CIRC 1 LAUNCHED\r\n");
  EXPECT_EQ(log_, std::vector<std::string>{"circ: 650 CIRC 1 LAUNCHED\r\n"});
}

TEST_F(ControlProtocolTest, OwnershipIsNotTakenOnTheFirstConnection) {
  start();
  p_->ownership_taken();  // e.g. issued before authentication and answered
  p_->feed(protocolinfo("NULL"));
  p_->feed("250 OK\r\n");
  EXPECT_EQ(take(), "AUTHENTICATE\r\n");
}

}  // namespace
}  // namespace torcon::detail
