// torcon-parse, run as a child process: the exact JSON shapes the issue fixes.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {

struct ParseRun {
  std::string out;
  int status = -1;
};

// Writes `input` to a temp file and runs torcon-parse [flag] on it.
ParseRun parse(const std::string& input, const std::string& flag = "") {
  char path[] = "/tmp/torcon-parse-test-XXXXXX";
  const int fd = ::mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::write(fd, input.data(), input.size()), ssize_t(input.size()));
  ::close(fd);
  const std::string cmd = std::string(TORCON_PARSE) + " " + flag + " " + path;
  ParseRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  ::unlink(path);
  return r;
}

TEST(TorconParse, OneJsonObjectPerReplyInTheIssuesShape) {
  const std::string in =
      "250-version=0.4.9.11\r\n"
      "250+ns/all=\r\n"
      "r a b\r\n"
      "..dotted\r\n"
      "s Fast\r\n"
      ".\r\n"
      "250 OK\r\n"
      "650 BW 1 2\r\n"
      "552 Unrecognized key \"x\\y\"\r\n";
  ParseRun r = parse(in);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(
      r.out,
      "{\"code\":250,\"async\":false,\"lines\":[{\"sep\":\"-\",\"text\":\"version=0.4.9.11\"},"
      "{\"sep\":\"+\",\"text\":\"ns/all=\",\"data\":\"r a b\\n.dotted\\ns Fast\"},"
      "{\"sep\":\" \",\"text\":\"OK\"}]}\n"
      "{\"code\":650,\"async\":true,\"lines\":[{\"sep\":\" \",\"text\":\"BW 1 2\"}]}\n"
      "{\"code\":552,\"async\":false,\"lines\":[{\"sep\":\" \",\"text\":"
      "\"Unrecognized key \\\"x\\\\y\\\"\"}]}\n");
}

// --state: a capture as torcon-ctl --record writes it (authentication and
// SETEVENTS replies skipped, the snapshot by its keys, then events).
TEST(TorconParse, StateReplaysACaptureThroughTorState) {
  // r lines' identities in base64: "AAAA..." is 00 00 ..., "BBBB..." is 04 10 41 ...
  const std::string id_a = "AAAAAAAAAAAAAAAAAAAAAAAAAAA", id_b = "BBBBBBBBBBBBBBBBBBBBBBBBBBB";
  const std::string fa = "0000000000000000000000000000000000000000";
  const std::string fb = "0410410410410410410410410410410410410410";
  const std::string in =
      "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250-VERSION Tor=\"0.4.9.11\"\r\n"
      "250 OK\r\n"
      "250 OK\r\n"                               // AUTHENTICATE
      "250 OK\r\n"                               // SETEVENTS
      "650 CIRC 9 LAUNCHED PURPOSE=GENERAL\r\n"  // before the snapshot's reply
      "250+ns/all=\r\n"
      "r relayA " +
      id_a +
      " AAAAAAAAAAAAAAAAAAAAAAAAAAA 2038-01-01 00:00:00 192.0.2.1 9001 0\r\n"
      "s Fast Guard Running Valid\r\n"
      "r relayB " +
      id_b +
      " AAAAAAAAAAAAAAAAAAAAAAAAAAA 2038-01-01 00:00:00 192.0.2.2 9001 0\r\n"
      "s Exit Fast Running Valid\r\n"
      ".\r\n"
      "250+circuit-status=\r\n"
      "5 BUILT $" +
      fa + "~relayA,$" + fb +
      "~relayB PURPOSE=GENERAL\r\n"
      "7 BUILT $" +
      fa +
      "~relayA PURPOSE=HS_VANGUARDS\r\n"
      ".\r\n"
      "250-stream-status=\r\n"
      "250-address-mappings/all=\r\n"
      "250+entry-guards=\r\n"
      "$" +
      fa +
      "~relayA up\r\n"
      ".\r\n"
      "250 OK\r\n"
      "650 STREAM 12 NEW 0 example.com:443 SOURCE_ADDR=127.0.0.1:4000 PURPOSE=USER\r\n"
      "650 STREAM 12 SENTCONNECT 5 example.com:443\r\n"
      "650 STREAM 13 NEW 0 192.0.2.9:80\r\n"
      "650 STREAM 13 CLOSED 0 192.0.2.9:80 REASON=DONE\r\n"
      "650 CIRC 7 CLOSED $" +
      fa +
      "~relayA PURPOSE=HS_VANGUARDS REASON=FINISHED\r\n"
      "650 ADDRMAP example.com 192.0.2.77 \"2030-01-01 00:00:00\" EXPIRES=\"2030-01-01 "
      "00:00:00\"\r\n"
      "552 Unrecognized key \"x\"\r\n";
  ParseRun r = parse(in, "--state");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out,
            "{\"routers\":2,\"circuits\":["
            "{\"id\":\"5\",\"state\":\"BUILT\",\"path\":[\"" +
                fa + "\",\"" + fb +
                "\"],\"purpose\":\"GENERAL\"},"
                "{\"id\":\"9\",\"state\":\"LAUNCHED\",\"path\":[],\"purpose\":\"GENERAL\"}],"
                "\"streams\":[{\"id\":\"12\",\"state\":\"SENTCONNECT\",\"circuit\":\"5\","
                "\"target\":\"example.com:443\"}],"
                "\"guards\":[\"" +
                fa + "\"],\"addrmap\":1}\n");
}

TEST(TorconParse, StateReportsAnEventItCannotApplyAndExitsOne) {
  ParseRun r = parse("650 STREAM 12 NEW 0\r\n", "--state");  // no target
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "{\"routers\":0,\"circuits\":[],\"streams\":[],\"guards\":[],\"addrmap\":0}\n");
}

struct EventCase {
  std::string in;    // one reply as tor sends it
  std::string want;  // torcon-parse --events' line, without the LF
};

// --events: one object per 650 reply, members as the issue fixes them.
TEST(TorconParse, EventsAsTheirTypedStructs) {
  const std::string fa(40, 'A'), fb = "0123456789ABCDEF0123456789abcdef01234567";
  const std::string fb_upper = "0123456789ABCDEF0123456789ABCDEF01234567";
  for (const EventCase& c : std::vector<EventCase>{
           {"650 CIRC 7 BUILT $" + fa + "~relayA,$" + fb +
                ",bare PURPOSE=GENERAL SOCKS_USERNAME=\"a\\\"b\" "
                "TIME_CREATED=2026-01-01T00:00:00.5\r\n",
            "{\"keyword\":\"CIRC\",\"id\":\"7\",\"status\":\"BUILT\",\"path\":[[\"" + fa +
                "\",\"relayA\"],[\"" + fb_upper +
                "\",null],[null,\"bare\"]],\"purpose\":\"GENERAL\","
                "\"time_created\":\"2026-01-01T00:00:00.5\",\"socks_username\":\"a\\\"b\"}"},
           {"650 CIRC 8 LAUNCHED REASON=\r\n",  // present but empty
            "{\"keyword\":\"CIRC\",\"id\":\"8\",\"status\":\"LAUNCHED\",\"reason\":\"\"}"},
           {"650 STREAM 12 NEW 0 [2001:db8::1]:443 SOURCE_ADDR=127.0.0.1:4000 PURPOSE=USER\r\n",
            "{\"keyword\":\"STREAM\",\"id\":\"12\",\"status\":\"NEW\",\"circ_id\":\"0\",\"target\":"
            "\"[2001:db8::1]:443\",\"target_host\":\"[2001:db8::1]\",\"target_port\":443,"
            "\"source_addr\":\"127.0.0.1:4000\",\"purpose\":\"USER\"}"},
           {"650 ORCONN $" + fa + "~relayA CONNECTED NCIRCS=3 ID=5\r\n",
            "{\"keyword\":\"ORCONN\",\"target\":\"$" + fa + "~relayA\",\"router\":[\"" + fa +
                "\",\"relayA\"],\"status\":\"CONNECTED\",\"ncircs\":3,\"id\":\"5\"}"},
           {"650 ORCONN 192.0.2.1:9001 LAUNCHED ID=6\r\n",
            "{\"keyword\":\"ORCONN\",\"target\":\"192.0.2.1:9001\",\"status\":\"LAUNCHED\",\"id\":"
            "\"6\"}"},
           {"650 GUARD ENTRY $" + fa + "=relayA UP\r\n",
            "{\"keyword\":\"GUARD\",\"type\":\"ENTRY\",\"name\":\"$" + fa +
                "=relayA\",\"router\":[\"" + fa + "\",\"relayA\"],\"status\":\"UP\"}"},
           {"650 STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY=\"Done\"\r\n",
            "{\"keyword\":\"STATUS_CLIENT\",\"severity\":\"NOTICE\",\"action\":\"BOOTSTRAP\","
            "\"arguments\":{\"PROGRESS\":\"100\",\"TAG\":\"done\",\"SUMMARY\":\"Done\"}}"},
           {"650-CONF_CHANGED\r\n650-ExitPolicy=accept *:80\r\n650-ExitPolicy=reject *:*\r\n"
            "650-SocksPort\r\n650 OK\r\n",
            "{\"keyword\":\"CONF_CHANGED\",\"changed\":{\"ExitPolicy\":[\"accept *:80\",\"reject "
            "*:*\"]},"
            "\"unset\":[\"SocksPort\"]}"},
           {"650 BW 10 20\r\n", "{\"keyword\":\"BW\",\"read\":10,\"written\":20}"},
           {"650 BW 10 20 DIR=5\r\n",
            "{\"keyword\":\"BW\",\"read\":10,\"written\":20,\"extra\":\"DIR=5\"}"},
           {"650 CIRC_BW ID=3 READ=1 WRITTEN=2 TIME=2026-01-01T00:00:00.000000 "
            "DELIVERED_READ=4\r\n",
            "{\"keyword\":\"CIRC_BW\",\"id\":\"3\",\"read\":1,\"written\":2,\"time\":"
            "\"2026-01-01T00:00:00.000000\",\"delivered_read\":4}"},
           {"650+NS\r\nr a b\r\n..dot\r\n.\r\n650 OK\r\n",
            "{\"keyword\":\"NS\",\"data\":\"r a b\\n.dot\"}"},
           {"650+WARN\r\nline one\r\nline two\r\n.\r\n650 OK\r\n",
            "{\"keyword\":\"WARN\",\"severity\":\"WARN\",\"data\":\"line one\\nline "
            "two\",\"is_data\":true}"},
           {"650 NOTICE hello there\r\n",
            "{\"keyword\":\"NOTICE\",\"severity\":\"NOTICE\",\"message\":\"hello "
            "there\",\"is_data\":false}"},
           {"650 NEW_THING x \"y z\" K=V\r\n",
            "{\"keyword\":\"NEW_THING\",\"name\":\"NEW_THING\",\"positional\":[\"x\",\"y z\"],"
            "\"keywords\":{\"K\":\"V\"}}"},
           {"650 BUILDTIMEOUT_SET COMPUTED TOTAL_TIMES=10 ALPHA=1.5\r\n",
            "{\"keyword\":\"BUILDTIMEOUT_SET\",\"type\":\"COMPUTED\",\"total_times\":10,\"alpha\":"
            "1.5}"},
       }) {
    SCOPED_TRACE(c.in);
    ParseRun r = parse("250 OK\r\n" + c.in, "--events");  // non-events are skipped
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out, c.want + "\n");
  }
}

TEST(TorconParse, EventThatDoesNotParseIsReportedAndExitsOne) {
  ParseRun r = parse("650 STREAM 12 NEW 0\r\n650 BW 1 2\r\n650 CIRC 1 BUILT $XYZ\r\n", "--events");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out,
            "{\"keyword\":\"STREAM\",\"parse_error\":\"STREAM event: missing Target\"}\n"
            "{\"keyword\":\"BW\",\"read\":1,\"written\":2}\n"
            "{\"keyword\":\"CIRC\",\"parse_error\":\"path: malformed LongName '$XYZ' (want "
            "$<40 hex>[~nickname] or a nickname)\"}\n");
}

TEST(TorconParse, MalformedInputGivesErrorAndOffsetAndExitOne) {
  ParseRun r = parse("250 OK\r\n25x OK\r\n");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out.substr(r.out.find('\n') + 1),
            "{\"error\":\"status code is not three digits\",\"offset\":10}\n");
  ParseRun t = parse("250+config-text=\r\nabc\r\n");
  EXPECT_EQ(t.status, 1);
  EXPECT_NE(t.out.find("\"error\":\"input ends inside a data block\""), std::string::npos) << t.out;
}

TEST(TorconParse, RoutersAsTheIssueDescribes) {
  // Identity AAECAwQFBgcICQoLDA0ODxAREhM = bytes 00..13 (hex).
  const std::string in =
      "250+ns/all=\r\n"
      "r relay1 AAECAwQFBgcICQoLDA0ODxAREhM AAAAAAAAAAAAAAAAAAAAAAAAAAA 2024-05-01 12:34:56 "
      "1.2.3.4 9001 0\r\n"
      "a [2001:db8::1]:9001\r\n"
      "s Exit Fast FutureFlag Running Valid\r\n"
      "v Tor 0.4.8.12\r\n"
      "pr Link=1-5\r\n"
      "w Bandwidth=1234\r\n"
      "p accept 80,443\r\n"
      "r bare ExQVFhcYGRobHB0eHyAhIiMkJSY AAAAAAAAAAAAAAAAAAAAAAAAAAA 2024-05-02 00:00:00 "
      "5.6.7.8 443 80\r\n"
      "s Running\r\n"
      ".\r\n"
      "250 OK\r\n";
  ParseRun r = parse(in, "--routers");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out,
            "{\"fingerprint\":\"000102030405060708090A0B0C0D0E0F10111213\",\"nickname\":\"relay1\","
            "\"published\":\"2024-05-01 12:34:56\",\"address\":\"1.2.3.4\",\"or_port\":9001,"
            "\"dir_port\":0,\"ipv6\":[\"[2001:db8::1]:9001\"],"
            "\"flags\":[\"Exit\",\"Fast\",\"FutureFlag\",\"Running\",\"Valid\"],"
            "\"version\":\"Tor 0.4.8.12\",\"bandwidth\":1234,\"policy\":\"accept 80,443\"}\n"
            "{\"fingerprint\":\"131415161718191A1B1C1D1E1F20212223242526\",\"nickname\":\"bare\","
            "\"published\":\"2024-05-02 00:00:00\",\"address\":\"5.6.7.8\",\"or_port\":443,"
            "\"dir_port\":80,\"flags\":[\"Running\"]}\n");
}

}  // namespace
