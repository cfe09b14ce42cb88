// command.hpp: building control commands (control-spec 2.2) and refusing
// anything that would end a command early (CR, LF, NUL).
//
//   Command = Keyword OptArguments CRLF / "+" Keyword OptArguments CRLF CmdData
//   Keyword = 1*ALPHA
//   CmdData = *DataLine "." CRLF, leading dots doubled (control-spec 2.4)
//   SETCONF: 1*(SP keyword ["=" value]), value = String / QuotedString

#include "torcon/command.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "parser/test_printers.hpp"
#include "torcon/reply.hpp"

namespace torcon {
namespace {

using namespace std::string_literals;

const std::vector<std::string>& bad_bytes_values() {
  static const std::vector<std::string> v = {"a\rb"s,    "a\nb"s, "a\0b"s, "\r\nSIGNAL HALT"s,
                                             "end\r\n"s, "\n"s,   "\0"s,   "x\r"s};
  return v;
}

void expect_failed(const Command& c, Errc code) {
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, code) << c.error().message;
  EXPECT_FALSE(c.error().message.empty());
  EXPECT_EQ(c.wire(), "");
  std::string out = "before";
  EXPECT_FALSE(c.append_to(out));
  EXPECT_EQ(out, "before");
}

// ---------------------------------------------------------------------------
// Wire format.

TEST(Command, KeywordOnly) {
  Command c("QUIT");
  EXPECT_TRUE(c.ok());
  EXPECT_EQ(c.error().code, Errc::ok);
  EXPECT_EQ(c.wire(), "QUIT\r\n");
}

TEST(Command, GetinfoVersion) {
  EXPECT_EQ(Command("GETINFO").arg("version").wire(), "GETINFO version\r\n");
  EXPECT_EQ(Command("GETINFO").arg("version").arg("config-file").arg("ns/id/$AB").wire(),
            "GETINFO version config-file ns/id/$AB\r\n");
  EXPECT_EQ(Command("SIGNAL").arg("NEWNYM").wire(), "SIGNAL NEWNYM\r\n");
}

TEST(Command, UnderscoreKeyword) {
  EXPECT_EQ(Command("ADD_ONION").arg("NEW:ED25519-V3").kv("Port", "80,127.0.0.1:8080").wire(),
            "ADD_ONION NEW:ED25519-V3 Port=80,127.0.0.1:8080\r\n");
}

TEST(Command, SetconfExampleFromTheHeader) {
  Command c("SETCONF");
  c.kv("ContactInfo", "me <me@example>").kv("ORPort", "9001");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c.wire(), "SETCONF ContactInfo=\"me <me@example>\" ORPort=9001\r\n");
}

TEST(Command, KvQuotesUnsafeValues) {
  EXPECT_EQ(Command("SETCONF").kv("Nickname", R"(a"b\c)").wire(),
            "SETCONF Nickname=\"a\\\"b\\\\c\"\r\n");
  EXPECT_EQ(Command("SETCONF").kv("Log", "notice file /var/log/tor.log").wire(),
            "SETCONF Log=\"notice file /var/log/tor.log\"\r\n");
  EXPECT_EQ(Command("SETCONF").kv("Empty", "").wire(), "SETCONF Empty=\"\"\r\n");
  EXPECT_EQ(Command("SETCONF").kv("Tab", "a\tb").wire(), "SETCONF Tab=\"a\tb\"\r\n");
  // Safe values stay bare.
  EXPECT_EQ(Command("SETCONF").kv("SocksPort", "127.0.0.1:9050").wire(),
            "SETCONF SocksPort=127.0.0.1:9050\r\n");
}

TEST(Command, KvKeyCharacters) {
  EXPECT_EQ(Command("SETCONF").kv("a/b.c-d:e_1", "x").wire(), "SETCONF a/b.c-d:e_1=x\r\n");
  EXPECT_EQ(Command("GETCONF").key("HiddenServiceOptions").wire(),
            "GETCONF HiddenServiceOptions\r\n");
}

TEST(Command, KvBare) {
  EXPECT_EQ(Command("SETEVENTS").kv_bare("X", "9050").wire(), "SETEVENTS X=9050\r\n");
  Command c("SETCONF");
  c.kv_bare("Log", "has space");
  EXPECT_FALSE(c.ok());
  EXPECT_NE(c.error().code, Errc::ok);
  EXPECT_EQ(c.wire(), "");
  Command q("SETCONF");
  q.kv_bare("Log", "q\"uote");
  EXPECT_FALSE(q.ok());
  Command e("SETCONF");
  e.kv_bare("Log", "");
  EXPECT_FALSE(e.ok());
}

TEST(Command, BareKeys) {
  EXPECT_EQ(Command("RESETCONF").key("SocksPort").key("ORPort").wire(),
            "RESETCONF SocksPort ORPort\r\n");
  EXPECT_EQ(Command("SETCONF").key("ContactInfo").kv("ORPort", "0").wire(),
            "SETCONF ContactInfo ORPort=0\r\n");
}

TEST(Command, QuotedArguments) {
  EXPECT_EQ(Command("AUTHENTICATE").quoted("pa\"ss\\word").wire(),
            "AUTHENTICATE \"pa\\\"ss\\\\word\"\r\n");
  EXPECT_EQ(Command("AUTHENTICATE").quoted("").wire(), "AUTHENTICATE \"\"\r\n");
  EXPECT_EQ(Command("POSTDESCRIPTOR").quoted("safe").wire(), "POSTDESCRIPTOR \"safe\"\r\n");
}

TEST(Command, AppendTo) {
  std::string out = "GETINFO version\r\n";
  Command c("SIGNAL");
  c.arg("NEWNYM");
  ASSERT_TRUE(c.append_to(out));
  EXPECT_EQ(out, "GETINFO version\r\nSIGNAL NEWNYM\r\n");
  // wire() is unaffected and repeatable.
  EXPECT_EQ(c.wire(), "SIGNAL NEWNYM\r\n");
  EXPECT_EQ(c.wire(), "SIGNAL NEWNYM\r\n");
}

// ---------------------------------------------------------------------------
// Multi-line commands.

TEST(CommandData, LoadconfDotStuffedCrlf) {
  Command c("LOADCONF");
  c.data("SocksPort 9050\n.hidden\n..two\n.\nControlPort 9051\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c.wire(),
            "+LOADCONF\r\nSocksPort 9050\r\n..hidden\r\n...two\r\n..\r\nControlPort 9051\r\n.\r\n");
}

TEST(CommandData, BodyWithoutFinalNewline) {
  EXPECT_EQ(Command("LOADCONF").data("a\nb").wire(), "+LOADCONF\r\na\r\nb\r\n.\r\n");
  EXPECT_EQ(Command("LOADCONF").data(".").wire(), "+LOADCONF\r\n..\r\n.\r\n");
}

TEST(CommandData, EmptyBodyAndEmptyLines) {
  EXPECT_EQ(Command("LOADCONF").data("").wire(), "+LOADCONF\r\n.\r\n");
  EXPECT_EQ(Command("LOADCONF").data("\n").wire(), "+LOADCONF\r\n\r\n.\r\n");
  EXPECT_EQ(Command("LOADCONF").data("a\n\nb\n").wire(), "+LOADCONF\r\na\r\n\r\nb\r\n.\r\n");
}

TEST(CommandData, CrlfInBodyIsNotDoubled) {
  EXPECT_EQ(Command("LOADCONF").data("a\r\nb\r\n").wire(), "+LOADCONF\r\na\r\nb\r\n.\r\n");
  EXPECT_EQ(Command("LOADCONF").data("a\r\nb\nc").wire(), "+LOADCONF\r\na\r\nb\r\nc\r\n.\r\n");
}

TEST(CommandData, ArgumentsOnTheFirstLine) {
  Command c("POSTDESCRIPTOR");
  c.kv("purpose", "general").data("router x 1.2.3.4 9001 0 0\n");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.wire(), "+POSTDESCRIPTOR purpose=general\r\nrouter x 1.2.3.4 9001 0 0\r\n.\r\n");
}

TEST(CommandData, RefusesNulAndLoneCr) {
  for (const std::string& body : {"a\0b\n"s, "\0"s, "a\rb\n"s, "a\r"s, "\r"s, "x\n\ry\n"s}) {
    Command c("LOADCONF");
    c.data(body);
    expect_failed(c, Errc::injection);
  }
}

TEST(CommandData, RoundTripsThroughDataLines) {
  // What data() writes, read back as a data block, gives the body's lines.
  std::mt19937_64 rng(42);
  const std::string alphabet = "..abc XYZ=\"\\#01";
  for (int iter = 0; iter < 500; ++iter) {
    std::vector<std::string> lines;
    std::string body;
    for (std::size_t n = rng() % 8; n > 0; --n) {
      std::string line;
      for (std::size_t k = rng() % 10; k > 0; --k) line += alphabet[rng() % alphabet.size()];
      lines.push_back(line);
      body += line + (rng() % 2 ? "\n" : "\r\n");
    }
    Command c("LOADCONF");
    c.data(body);
    ASSERT_TRUE(c.ok()) << c.error().message;
    const std::string wire = c.wire();
    const std::string head = "+LOADCONF\r\n";
    ASSERT_TRUE(wire.starts_with(head));
    ASSERT_TRUE(wire.ends_with(".\r\n"));
    const std::string_view block =
        std::string_view(wire).substr(head.size(), wire.size() - head.size() - 3);
    // The terminator appears only at the end and the body is CRLF-terminated.
    EXPECT_EQ(("\r\n" + std::string(block)).find("\r\n.\r\n"), std::string::npos);
    EXPECT_EQ(block.find('\n') == std::string_view::npos, lines.empty());
    std::vector<std::string> back;
    DataLines dl(block);
    for (std::string_view l; dl.next(l);) back.emplace_back(l);
    EXPECT_EQ(back, lines) << wire;
  }
}

// ---------------------------------------------------------------------------
// Injection and other refusals.

TEST(CommandInjection, InKeyword) {
  for (const std::string& bad : {"GETINFO\r\nSIGNAL"s, "GETINFO\n"s, "GET\0INFO"s}) {
    Command c(bad);
    expect_failed(c, Errc::injection);
  }
}

TEST(CommandInjection, InArg) {
  for (const std::string& bad : bad_bytes_values()) {
    Command c("GETINFO");
    c.arg(bad);
    expect_failed(c, Errc::injection);
  }
}

TEST(CommandInjection, InQuoted) {
  for (const std::string& bad : bad_bytes_values()) {
    Command c("AUTHENTICATE");
    c.quoted(bad);
    expect_failed(c, Errc::injection);
  }
}

TEST(CommandInjection, InKvValue) {
  for (const std::string& bad : bad_bytes_values()) {
    Command c("SETCONF");
    c.kv("ContactInfo", bad);
    expect_failed(c, Errc::injection);
    Command b("SETCONF");
    b.kv_bare("ContactInfo", bad);
    expect_failed(b, Errc::injection);
  }
}

TEST(CommandInjection, InKvKey) {
  for (const std::string& bad : bad_bytes_values()) {
    Command c("SETCONF");
    c.kv(bad, "1");
    expect_failed(c, Errc::injection);
    Command k("RESETCONF");
    k.key(bad);
    expect_failed(k, Errc::injection);
  }
}

TEST(CommandInjection, FirstErrorSticksAndNamesTheArgument) {
  Command c("SETCONF");
  c.kv("Nickname", "ok").kv("ContactInfo", "x\r\nSIGNAL HALT").kv("ORPort", "9001");
  expect_failed(c, Errc::injection);
  EXPECT_NE(c.error().message.find("ContactInfo"), std::string::npos) << c.error().message;
  // Later errors of another kind don't replace it.
  c.key("bad key").arg("has space");
  EXPECT_EQ(c.error().code, Errc::injection);
  EXPECT_NE(c.error().message.find("ContactInfo"), std::string::npos);
  c.data("a\0b"s);
  EXPECT_EQ(c.error().code, Errc::injection);
  EXPECT_EQ(c.wire(), "");
}

TEST(CommandInjection, PositionalArgumentsAreNamedByPosition) {
  // Positional arguments have no name: the message says which one (counting
  // the arguments after the keyword from 1) and what it holds.
  Command a("GETINFO");
  a.arg("version").arg("config-file").arg("hello\nworld");
  expect_failed(a, Errc::injection);
  EXPECT_NE(a.error().message.find("argument 3"), std::string::npos) << a.error().message;
  EXPECT_NE(a.error().message.find("LF"), std::string::npos) << a.error().message;

  Command q("AUTHENTICATE");
  q.arg("x").quoted("pass\rword");
  expect_failed(q, Errc::injection);
  EXPECT_NE(q.error().message.find("argument 2"), std::string::npos) << q.error().message;
  EXPECT_NE(q.error().message.find("CR"), std::string::npos) << q.error().message;
}

TEST(CommandInjection, ErrorInOneArgKeepsLaterOnesOut) {
  Command c("GETINFO");
  c.arg("version").arg("x\ny").arg("config-file");
  expect_failed(c, Errc::injection);
}

TEST(CommandRefusals, BadKeywords) {
  for (std::string_view kw : {"", "GET INFO", "GETINFO1", "GET-INFO", "+GETINFO", "\"Q\""}) {
    Command c(kw);
    expect_failed(c, Errc::bad_keyword);
  }
}

TEST(CommandRefusals, BadKvKeys) {
  for (std::string_view key : {"", "bad key", "k=v", "q\"uote", "back\\slash", "caf\xc3\xa9"}) {
    Command c("SETCONF");
    c.kv(key, "1");
    expect_failed(c, Errc::bad_keyword);
    Command k("RESETCONF");
    k.key(key);
    expect_failed(k, Errc::bad_keyword);
  }
}

TEST(CommandRefusals, BadBareArgs) {
  for (std::string_view v : {"", "has space", "q\"uote", "\t", "\x7f", "caf\xc3\xa9"}) {
    Command c("GETINFO");
    c.arg(v);
    EXPECT_FALSE(c.ok()) << v;
    EXPECT_NE(c.error().code, Errc::ok);
    EXPECT_NE(c.error().code, Errc::injection) << "no CR, LF or NUL in " << v;
    EXPECT_EQ(c.wire(), "");
  }
}

// ---------------------------------------------------------------------------
// check_raw_command

TEST(CheckRawCommand, AcceptsOrdinaryLines) {
  EXPECT_TRUE(check_raw_command("GETINFO version").ok());
  EXPECT_TRUE(check_raw_command("SETCONF ContactInfo=\"a b\" ORPort=9001").ok());
  EXPECT_TRUE(check_raw_command("SIGNAL NEWNYM").ok());
  EXPECT_TRUE(check_raw_command("AUTHENTICATE \"\xff\t\"").ok());
}

TEST(CheckRawCommand, RefusesCrLfNul) {
  for (const std::string& bad : {"GETINFO version\r\n"s, "GETINFO version\nSIGNAL HALT"s,
                                 "GETINFO\rversion"s, "GETINFO \0version"s, "\n"s}) {
    Status st = check_raw_command(bad);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::injection);
    EXPECT_FALSE(st.error().message.empty());
  }
}

}  // namespace
}  // namespace torcon
