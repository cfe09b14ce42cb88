// getinfo.hpp: KeyValueReader over GETINFO and GETCONF replies
// (control-spec 3.3 GETCONF, 3.9 GETINFO).
//
//   GETINFO: "250-key=value" per key, "250+key=" CRLF data "." CRLF for
//            multi-line values, then "250 OK".
//   GETCONF: "250-key=value" / "250 key=value", "250 key" for a default
//            (no "250 OK" terminator: the last key is the end line).

#include "torcon/getinfo.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "parser/test_printers.hpp"
#include "torcon/quoted.hpp"
#include "torcon/reply.hpp"
#include "torcon/reply_reader.hpp"

namespace torcon {
namespace {

struct KV {
  std::string key;
  std::string value;
  bool is_data = false;
  bool has_value = true;
  bool operator==(const KV&) const = default;
};

[[maybe_unused]] void PrintTo(const KV& kv, std::ostream* os) {
  *os << "{" << kv.key << " = \"" << kv.value << "\"" << (kv.is_data ? " data" : "")
      << (kv.has_value ? "" : " no-value") << "}";
}

// Parses exactly one reply from `wire` and returns its key/values.
class Parsed {
 public:
  explicit Parsed(std::string_view wire) {
    r_.feed(wire);
    ok_ = r_.next(reply_) == ReplyReader::Next::reply;
    EXPECT_TRUE(ok_) << r_.error().message;
  }
  const Reply& reply() const { return reply_; }
  std::vector<KV> entries() const {
    std::vector<KV> out;
    if (!ok_) return out;
    KeyValueReader kvr(reply_);
    KeyValue kv;
    for (int guard = 0; guard < 10000 && kvr.next(kv); ++guard)
      out.push_back(KV{std::string(kv.key), std::string(kv.value), kv.is_data, kv.has_value});
    return out;
  }

 private:
  ReplyReader r_;
  Reply reply_;
  bool ok_ = false;
};

TEST(KeyValueReader, GetinfoSingleKey) {
  Parsed p("250-version=0.4.8.9 (git-abcdef0123456789)\r\n250 OK\r\n");
  EXPECT_EQ(p.entries(), (std::vector<KV>{{"version", "0.4.8.9 (git-abcdef0123456789)"}}));
}

TEST(KeyValueReader, GetinfoSeveralKeys) {
  Parsed p(
      "250-version=0.4.8.9\r\n250-config-file=/etc/tor/torrc\r\n"
      "250-net/listeners/socks=\"127.0.0.1:9050\"\r\n250-traffic/read=12345\r\n250 OK\r\n");
  EXPECT_EQ(p.entries(), (std::vector<KV>{{"version", "0.4.8.9"},
                                          {"config-file", "/etc/tor/torrc"},
                                          {"net/listeners/socks", "\"127.0.0.1:9050\""},
                                          {"traffic/read", "12345"}}));
}

TEST(KeyValueReader, ValueSplitsAtFirstEquals) {
  Parsed p("250-some/key=a=b==c\r\n250-empty=\r\n250 OK\r\n");
  EXPECT_EQ(p.entries(), (std::vector<KV>{{"some/key", "a=b==c"}, {"empty", ""}}));
}

TEST(KeyValueReader, GetinfoDataValue) {
  const std::string block = "ControlPort 9051\r\n..dotted\r\nSocksPort 9050\r\n";
  Parsed p("250+config-text=\r\n" + block + ".\r\n250 OK\r\n");
  const std::vector<KV> got = p.entries();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], (KV{"config-text", block, true, true}));
  EXPECT_EQ(join_data(got[0].value), "ControlPort 9051\n.dotted\nSocksPort 9050");
}

TEST(KeyValueReader, DataValueViewIsTheReplyLinesData) {
  Parsed p("250+ns/id/X=\r\nr a\r\n.\r\n250 OK\r\n");
  KeyValueReader kvr(p.reply());
  KeyValue kv;
  ASSERT_TRUE(kvr.next(kv));
  EXPECT_TRUE(kv.is_data);
  EXPECT_EQ(kv.value.data(), p.reply().lines[0].data.data());
  EXPECT_EQ(kv.value.size(), p.reply().lines[0].data.size());
  EXPECT_EQ(kv.key.data(), p.reply().lines[0].text.data());
  EXPECT_FALSE(kvr.next(kv));
}

TEST(KeyValueReader, MixedDataAndSingleLineValues) {
  Parsed p(
      "250-version=0.4.8.9\r\n250+ns/id/A=\r\nr a\r\ns Fast\r\n.\r\n250+empty/block=\r\n.\r\n"
      "250-status/bootstrap-phase=NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY=\"Done\"\r\n"
      "250 OK\r\n");
  EXPECT_EQ(p.entries(),
            (std::vector<KV>{{"version", "0.4.8.9"},
                             {"ns/id/A", "r a\r\ns Fast\r\n", true, true},
                             {"empty/block", "", true, true},
                             {"status/bootstrap-phase",
                              "NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY=\"Done\""}}));
}

TEST(KeyValueReader, FinalOkIsNotAnEntry) {
  Parsed p("250 OK\r\n");
  EXPECT_TRUE(p.entries().empty());
}

TEST(KeyValueReader, GetconfValues) {
  Parsed p("250-SocksPort=9050\r\n250-SocksPort=9150\r\n250 ControlPort\r\n");
  EXPECT_EQ(p.entries(),
            (std::vector<KV>{
                {"SocksPort", "9050"}, {"SocksPort", "9150"}, {"ControlPort", "", false, false}}));
}

TEST(KeyValueReader, GetconfSingleLine) {
  Parsed a("250 SocksPort=9050\r\n");
  EXPECT_EQ(a.entries(), (std::vector<KV>{{"SocksPort", "9050"}}));
  Parsed b("250 DataDirectory\r\n");
  EXPECT_EQ(b.entries(), (std::vector<KV>{{"DataDirectory", "", false, false}}));
}

TEST(KeyValueReader, GetconfBareKeyInTheMiddle) {
  Parsed p("250-Nickname\r\n250-ORPort=9001\r\n250 ExitPolicy=reject *:*\r\n");
  EXPECT_EQ(p.entries(),
            (std::vector<KV>{
                {"Nickname", "", false, false}, {"ORPort", "9001"}, {"ExitPolicy", "reject *:*"}}));
}

TEST(KeyValueReader, GetconfQuotedValue) {
  Parsed p("250-ContactInfo=\"me <me@example> \\\"x\\\"\"\r\n250 Nickname=relay\r\n");
  const std::vector<KV> got = p.entries();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].key, "ContactInfo");
  EXPECT_EQ(got[0].value, "\"me <me@example> \\\"x\\\"\"");
  ASSERT_EQ(got[0].value.front(), '"');
  std::string decoded;
  Expected<std::size_t> n = unquote(got[0].value, decoded);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, got[0].value.size());
  EXPECT_EQ(decoded, "me <me@example> \"x\"");
  EXPECT_EQ(got[1], (KV{"Nickname", "relay"}));
}

TEST(KeyValueReader, OnlyAFinalOkLineIsTheTerminator) {
  // "OK" as a GETCONF key in a non-final line is still an entry.
  Parsed p("250-OK\r\n250 OK\r\n");
  EXPECT_EQ(p.entries(), (std::vector<KV>{{"OK", "", false, false}}));
}

TEST(KeyValueReader, NextAfterEndStaysFalse) {
  Parsed p("250-a=1\r\n250 OK\r\n");
  KeyValueReader kvr(p.reply());
  KeyValue kv;
  ASSERT_TRUE(kvr.next(kv));
  EXPECT_FALSE(kvr.next(kv));
  EXPECT_FALSE(kvr.next(kv));
}

TEST(KeyValueReader, HandBuiltReply) {
  // Works on any Reply, not only ones from a reader.
  const std::string text0 = "address=192.0.2.7";
  const std::string text1 = "OK";
  ReplyLine lines[2];
  lines[0].code = 250;
  lines[0].sep = Sep::mid;
  lines[0].text = text0;
  lines[1].code = 250;
  lines[1].sep = Sep::end;
  lines[1].text = text1;
  const Reply r{250, std::span<const ReplyLine>(lines, 2), {}, 0};
  KeyValueReader kvr(r);
  KeyValue kv;
  ASSERT_TRUE(kvr.next(kv));
  EXPECT_EQ(kv.key, "address");
  EXPECT_EQ(kv.value, "192.0.2.7");
  EXPECT_FALSE(kv.is_data);
  EXPECT_TRUE(kv.has_value);
  EXPECT_FALSE(kvr.next(kv));
}

}  // namespace
}  // namespace torcon
