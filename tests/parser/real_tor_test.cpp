// The parser against what a real tor sends: a standalone Debian tor
// (DisableNetwork 1) is asked a set of commands over a plain blocking socket;
// the captured bytes are parsed whole and in random splits.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "support/tor_process.hpp"
#include "torcon/getinfo.hpp"
#include "torcon/keyword_args.hpp"
#include "torcon/reply_reader.hpp"

namespace torcon {
namespace {

std::string hex(const std::string& bytes) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (unsigned char c : bytes) s += d[c >> 4], s += d[c & 15];
  return s;
}

// Sends `commands` one at a time; returns every byte tor sent until `replies`
// complete replies (events included) have arrived.
class RawSession {
 public:
  explicit RawSession(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawSession() { ::close(fd_); }
  bool connected() const { return connected_; }

  // Sends `cmd` and reads until one more synchronous reply is complete.
  Reply ask(const std::string& cmd) {
    EXPECT_EQ(::send(fd_, cmd.data(), cmd.size(), MSG_NOSIGNAL), ssize_t(cmd.size()));
    return wait_for([](const Reply& r) { return !r.is_async(); });
  }
  template <class Pred>
  Reply wait_for(Pred pred) {
    Reply r;
    for (;;) {
      ReplyReader::Next n = reader_.next(r);
      if (n == ReplyReader::Next::reply) {
        if (pred(r)) return r;
        continue;
      }
      if (n == ReplyReader::Next::error) {
        ADD_FAILURE() << reader_.error().message;
        return {};
      }
      std::span<char> space = reader_.prepare(4096);
      const ssize_t got = ::recv(fd_, space.data(), space.size(), 0);
      if (got <= 0) {
        ADD_FAILURE() << "connection closed or timed out";
        return {};
      }
      capture_.append(space.data(), size_t(got));
      reader_.commit(size_t(got));
    }
  }
  const std::string& capture() const { return capture_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  ReplyReader reader_;
  std::string capture_;
};

std::vector<OwnedReply> parse_all(const std::string& bytes, const std::vector<size_t>& cuts) {
  ReplyReader r;
  std::vector<OwnedReply> out;
  size_t prev = 0;
  auto drain = [&] {
    Reply rep;
    while (r.next(rep) == ReplyReader::Next::reply) out.push_back(rep.copy());
  };
  for (size_t c : cuts) {
    r.feed(std::string_view(bytes).substr(prev, c - prev));
    drain();
    prev = c;
  }
  r.feed(std::string_view(bytes).substr(prev));
  drain();
  EXPECT_FALSE(r.failed()) << r.error().message;
  EXPECT_FALSE(r.mid_reply());
  return out;
}

TEST(RealTor, ParsesASessionWithTheDebianTor) {
  testing::TorProcess tor;
  ASSERT_TRUE(tor.ok()) << tor.error();
  RawSession s(tor.control_port());
  ASSERT_TRUE(s.connected());

  // PROTOCOLINFO: "250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE="<path>"".
  Reply pi = s.ask("PROTOCOLINFO 1\r\n");
  ASSERT_EQ(pi.code, 250);
  bool saw_auth = false;
  for (const ReplyLine& l : pi.lines) {
    if (l.text.rfind("AUTH ", 0) != 0) continue;
    saw_auth = true;
    std::string scratch;
    std::string_view methods, cookie;
    ASSERT_TRUE(find_keyword(l.text, "METHODS", methods, scratch));
    EXPECT_NE(methods.find("COOKIE"), std::string_view::npos);
    ASSERT_TRUE(find_keyword(l.text, "COOKIEFILE", cookie, scratch));
    EXPECT_EQ(cookie, tor.cookie_path());
  }
  EXPECT_TRUE(saw_auth);

  std::ifstream cf(tor.cookie_path(), std::ios::binary);
  std::string cookie((std::istreambuf_iterator<char>(cf)), {});
  ASSERT_EQ(cookie.size(), 32u);
  Reply auth = s.ask("AUTHENTICATE " + hex(cookie) + "\r\n");
  ASSERT_EQ(auth.code, 250);
  EXPECT_EQ(auth.status_text(), "OK");

  // Several keys, two of them data blocks.
  Reply gi = s.ask("GETINFO version config-text info/names\r\n");
  ASSERT_EQ(gi.code, 250);
  KeyValueReader kv(gi);
  KeyValue e;
  std::vector<std::string> keys;
  while (kv.next(e)) {
    keys.emplace_back(e.key);
    if (e.key == "version") {
      EXPECT_FALSE(e.is_data);
      EXPECT_EQ(e.value.substr(0, 2), "0.");
    } else if (e.key == "config-text") {
      EXPECT_TRUE(e.is_data);
      EXPECT_NE(join_data(e.value).find("DisableNetwork 1"), std::string::npos);
    } else if (e.key == "info/names") {
      EXPECT_TRUE(e.is_data);
      DataLines dl(e.value);
      std::string_view line;
      int n = 0;
      while (dl.next(line)) ++n;
      EXPECT_GT(n, 50);
    }
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"version", "config-text", "info/names"}));

  Reply bad = s.ask("GETINFO no-such-key\r\n");
  EXPECT_EQ(bad.code, 552);
  EXPECT_NE(bad.status_text().find("no-such-key"), std::string_view::npos);

  Reply gc = s.ask("GETCONF DisableNetwork SocksPort\r\n");
  ASSERT_EQ(gc.code, 250);
  KeyValueReader ckv(gc);
  ASSERT_TRUE(ckv.next(e));
  EXPECT_EQ(e.key, "DisableNetwork");
  EXPECT_EQ(e.value, "1");

  // tor sends "650 BW 0 0" every second while subscribed.
  ASSERT_EQ(s.ask("SETEVENTS BW\r\n").code, 250);
  Reply bw = s.wait_for([](const Reply& r) { return r.is_async(); });
  ASSERT_EQ(bw.code, 650);
  ASSERT_FALSE(bw.lines.empty());
  ArgReader args(bw.lines[0].text);
  Arg a;
  std::vector<std::string> pos;
  while (args.next(a)) pos.emplace_back(a.value);
  ASSERT_EQ(pos.size(), 3u);
  EXPECT_EQ(pos[0], "BW");

  // The whole capture parses to the same replies however it is split.
  const std::string& cap = s.capture();
  std::vector<OwnedReply> whole = parse_all(cap, {});
  ASSERT_GE(whole.size(), 7u);
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<size_t> cuts;
    for (size_t i = 1; i < cap.size(); ++i)
      if (rng() % 23 == 0) cuts.push_back(i);
    std::vector<OwnedReply> split = parse_all(cap, cuts);
    ASSERT_EQ(split.size(), whole.size());
    for (size_t i = 0; i < whole.size(); ++i) EXPECT_EQ(split[i].view().raw, whole[i].view().raw);
  }
}

}  // namespace
}  // namespace torcon
