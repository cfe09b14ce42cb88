// quoted.hpp: QuotedString / CString decoding and encoding.
//
// control-spec 2.1: "In QuotedStrings, backslashes and quotes must be escaped".
// control-spec 2.1.1 (the escaping bug): "Read \n \t \r and \0 ... \377 as C
// escapes. Treat a backslash followed by any other character as that
// character." The header narrows octal escapes to exactly three digits, the
// first 0-3 (\000..\377).

#include "torcon/quoted.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>

#include "parser/guarded_buffer.hpp"
#include "parser/test_printers.hpp"

namespace torcon {
namespace {

using namespace std::string_literals;

// unescape() of `content` into a fresh string.
std::string unesc(std::string_view content) {
  std::string out;
  unescape(content, out);
  return out;
}

// unquote() of `in`, which must succeed; returns the decoded value.
std::string unq(std::string_view in, std::size_t* consumed = nullptr) {
  std::string out;
  Expected<std::size_t> n = unquote(in, out);
  EXPECT_TRUE(n.ok()) << n.error().message;
  if (consumed && n.ok()) *consumed = *n;
  return out;
}

// ---------------------------------------------------------------------------
// The guard page helper itself.

TEST(GuardedBuffer, PlacesInputAgainstTheGuardPage) {
  test::GuardedBuffer g;
  const std::string_view v = g.place("abc");
  EXPECT_EQ(v, "abc");
  EXPECT_EQ(v.data() + v.size(), g.guard());
  const std::string_view e = g.place("");
  EXPECT_EQ(e.size(), 0u);
}

TEST(GuardedBufferDeathTest, ReadingPastTheEndCrashes) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  test::GuardedBuffer g;
  const std::string_view v = g.place("x");
  EXPECT_DEATH(
      {
        volatile const char* p = v.data() + v.size();
        volatile char c = *p;
        (void)c;
      },
      "");
}

// ---------------------------------------------------------------------------
// scan_quoted

TEST(ScanQuoted, PlainString) {
  bool esc = true;
  Expected<std::size_t> n = scan_quoted("\"abc\" rest", &esc);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 5u);
  EXPECT_FALSE(esc);
}

TEST(ScanQuoted, EmptyString) {
  bool esc = true;
  Expected<std::size_t> n = scan_quoted("\"\"", &esc);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
  EXPECT_FALSE(esc);
}

TEST(ScanQuoted, EscapedQuoteDoesNotEnd) {
  bool esc = false;
  //                       " a \ " b "   x
  Expected<std::size_t> n = scan_quoted(R"("a\"b" x)", &esc);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 6u);
  EXPECT_TRUE(esc);
}

TEST(ScanQuoted, EscapedBackslashThenQuoteEnds) {
  bool esc = false;
  // "a\\" then b": the quote after \\ closes the string.
  Expected<std::size_t> n = scan_quoted(R"("a\\"b")", &esc);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 5u);
  EXPECT_TRUE(esc);
}

TEST(ScanQuoted, HasEscapeIsOptional) {
  Expected<std::size_t> n = scan_quoted(R"("x\ty")");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 6u);
}

TEST(ScanQuoted, OtherBytesNeedNoEscape) {
  // "All 8-bit characters are permitted": spaces, '=', 8-bit bytes, NUL.
  const std::string in = "\"a b=c\xff"s + '\0' + "\t\"tail";
  bool esc = true;
  Expected<std::size_t> n = scan_quoted(in, &esc);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, in.size() - 4);
  EXPECT_FALSE(esc);
}

TEST(ScanQuoted, UnterminatedIsAnError) {
  for (std::string_view in : {R"(")", R"("abc)", R"("abc\")", R"("abc\)", R"("\\\")"}) {
    Expected<std::size_t> n = scan_quoted(in);
    ASSERT_FALSE(n.ok()) << in;
    EXPECT_EQ(n.error().code, Errc::bad_quoted_string) << in;
    // Where the input ran out.
    EXPECT_EQ(n.error().offset, in.size()) << in;
    EXPECT_FALSE(n.error().message.empty());
  }
}

TEST(ScanQuoted, MustStartWithAQuote) {
  for (std::string_view in : {"", "abc\"", " \"a\""}) {
    Expected<std::size_t> n = scan_quoted(in);
    ASSERT_FALSE(n.ok()) << in;
    EXPECT_EQ(n.error().code, Errc::bad_quoted_string);
    EXPECT_EQ(n.error().offset, 0u);
  }
}

// ---------------------------------------------------------------------------
// unescape: the escaping-bug rules.

TEST(Unescape, CEscapes) {
  EXPECT_EQ(unesc(R"(a\nb)"), "a\nb");
  EXPECT_EQ(unesc(R"(a\tb)"), "a\tb");
  EXPECT_EQ(unesc(R"(a\rb)"), "a\rb");
  EXPECT_EQ(unesc(R"(\\)"), "\\");
  EXPECT_EQ(unesc(R"(\")"), "\"");
  EXPECT_EQ(unesc(R"(\n\t\r\\\")"), "\n\t\r\\\"");
}

TEST(Unescape, ThreeDigitOctal) {
  EXPECT_EQ(unesc(R"(\101)"), "A");
  EXPECT_EQ(unesc(R"(\000)"), "\0"s);
  EXPECT_EQ(unesc(R"(\377)"), "\xff");
  EXPECT_EQ(unesc(R"(\200)"), "\x80");
  EXPECT_EQ(unesc(R"(\012)"), "\n");
  EXPECT_EQ(unesc(R"(x\1011)"), "xA1");  // exactly three digits are taken
  EXPECT_EQ(unesc(R"(\060\061)"), "01");
}

TEST(Unescape, EveryOctalValue) {
  for (int v = 0; v < 256; ++v) {
    const char digits[] = {'\\', char('0' + (v >> 6)), char('0' + ((v >> 3) & 7)),
                           char('0' + (v & 7))};
    const std::string got = unesc(std::string_view(digits, 4));
    ASSERT_EQ(got.size(), 1u) << v;
    EXPECT_EQ(static_cast<unsigned char>(got[0]), v);
  }
}

TEST(Unescape, BackslashBeforeAnyOtherByteIsThatByte) {
  EXPECT_EQ(unesc(R"(\q)"), "q");
  EXPECT_EQ(unesc(R"(\8)"), "8");
  EXPECT_EQ(unesc(R"(\9x)"), "9x");
  EXPECT_EQ(unesc(R"(\ )"), " ");
  EXPECT_EQ(unesc(R"(\=)"), "=");
  EXPECT_EQ(unesc("\\\xff"), "\xff");
  // A first digit 4-7 cannot start \000..\377.
  EXPECT_EQ(unesc(R"(\4x)"), "4x");
  EXPECT_EQ(unesc(R"(\400)"), "400");
  EXPECT_EQ(unesc(R"(\777)"), "777");
  // Fewer than three octal digits: not an octal escape.
  EXPECT_EQ(unesc(R"(\12x)"), "12x");
  EXPECT_EQ(unesc(R"(\0)"), "0");
  EXPECT_EQ(unesc(R"(\09)"), "09");
  EXPECT_EQ(unesc(R"(\7)"), "7");
}

TEST(Unescape, NoEscapesIsVerbatim) {
  const std::string s = "plain text = with\xff bytes"s + '\0';
  EXPECT_EQ(unesc(s), s);
  EXPECT_EQ(unesc(""), "");
}

TEST(Unescape, Appends) {
  std::string out = "keep:";
  unescape(R"(a\"b)", out);
  EXPECT_EQ(out, "keep:a\"b");
}

// ---------------------------------------------------------------------------
// unquote

TEST(Unquote, DecodesAndReportsConsumed) {
  std::size_t n = 0;
  EXPECT_EQ(unq(R"("a\tb" tail)", &n), "a\tb");
  EXPECT_EQ(n, 6u);
  EXPECT_EQ(unq(R"("" x)", &n), "");
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(unq(R"("Tor \"exit\" at C:\\tor\101")", &n), "Tor \"exit\" at C:\\torA");
  EXPECT_EQ(n, 29u);
}

TEST(Unquote, AppendsToOut) {
  std::string out = "x=";
  Expected<std::size_t> n = unquote(R"("v")", out);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(out, "x=v");
}

TEST(Unquote, ErrorsLeaveTheSameReportAsScan) {
  std::string out = "pre";
  Expected<std::size_t> n = unquote(R"("never closed\")", out);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().code, Errc::bad_quoted_string);
  EXPECT_EQ(n.error().offset, 15u);
  EXPECT_TRUE(out.starts_with("pre"));
}

// ---------------------------------------------------------------------------
// Guard page: truncated input must never be read past its end.

TEST(QuotedGuardPage, TruncatedInputsDoNotOverRead) {
  const std::string full = R"("a\"b\\c\n\101\12\4\q" rest)";
  test::GuardedBuffer g;
  for (std::size_t n = 0; n <= full.size(); ++n) {
    const std::string_view in = g.place(std::string_view(full).substr(0, n));
    bool esc = false;
    Expected<std::size_t> s = scan_quoted(in, &esc);
    if (s.ok()) {
      EXPECT_LE(*s, in.size());
    }
    std::string out;
    Expected<std::size_t> u = unquote(in, out);
    EXPECT_EQ(u.ok(), s.ok()) << n;
    if (u.ok()) {
      EXPECT_LE(*u, in.size());
    }
    // unescape on every prefix of the content, ending in the middle of an
    // escape (a lone trailing backslash, one or two octal digits).
    if (n >= 1) {
      const std::string_view content = in.substr(1);
      out.clear();
      unescape(content, out);
      EXPECT_LE(out.size(), content.size());
    }
  }
}

TEST(QuotedGuardPage, TrailingEscapesAtTheVeryEnd) {
  test::GuardedBuffer g;
  for (std::string_view content : {"\\", "\\1", "\\12", "\\3", "abc\\", "\\\\\\"}) {
    std::string out;
    unescape(g.place(content), out);
    EXPECT_LE(out.size(), content.size()) << content;
    Expected<std::size_t> s = scan_quoted(g.place("\"" + std::string(content)));
    EXPECT_FALSE(s.ok()) << content;
  }
}

// ---------------------------------------------------------------------------
// quote

TEST(Quote, EscapesBackslashAndQuote) {
  std::string out;
  ASSERT_TRUE(quote(R"(a"b\c)", out).ok());
  EXPECT_EQ(out, R"("a\"b\\c")");
}

TEST(Quote, PlainAndEmpty) {
  std::string out;
  ASSERT_TRUE(quote("me <me@example>", out).ok());
  EXPECT_EQ(out, "\"me <me@example>\"");
  out.clear();
  ASSERT_TRUE(quote("", out).ok());
  EXPECT_EQ(out, "\"\"");
}

TEST(Quote, Appends) {
  std::string out = "ContactInfo=";
  ASSERT_TRUE(quote("x y", out).ok());
  EXPECT_EQ(out, "ContactInfo=\"x y\"");
}

TEST(Quote, RefusesCrLfNul) {
  for (const std::string& bad :
       {"a\rb"s, "a\nb"s, "a\0b"s, "\r\nSIGNAL HALT"s, "\n"s, "\r"s, "\0"s, "end\r\n"s}) {
    std::string out = "untouched";
    Status st = quote(bad, out);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::injection);
    EXPECT_FALSE(st.error().message.empty());
    EXPECT_EQ(out, "untouched") << "nothing appended";
  }
}

TEST(Quote, OtherControlAndEightBitBytesPassThrough) {
  std::string out;
  ASSERT_TRUE(quote("\t\x01\xff", out).ok());
  // Only '\' and '"' are escaped by quote(); decode the result to check.
  std::string back;
  ASSERT_TRUE(unquote(out, back).ok());
  EXPECT_EQ(back, "\t\x01\xff");
  EXPECT_EQ(out.front(), '"');
  EXPECT_EQ(out.back(), '"');
}

TEST(Quote, RoundTripsRandomStrings) {
  std::mt19937_64 rng(20240115);
  // Printable ASCII with extra weight on the bytes that need escaping and on
  // things that look like escapes once a backslash precedes them.
  const std::string alphabet =
      " !#$%&'()*+,-./"
      "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~"
      "\\\\\\\\\"\"\"\"nnttrr0123";
  for (int iter = 0; iter < 2000; ++iter) {
    std::string value;
    const std::size_t len = rng() % 40;
    for (std::size_t i = 0; i < len; ++i) {
      if (rng() % 16 == 0)
        value += static_cast<char>(0x80 + rng() % 128);  // 8-bit bytes too
      else
        value += alphabet[rng() % alphabet.size()];
    }
    std::string q;
    ASSERT_TRUE(quote(value, q).ok());
    ASSERT_GE(q.size(), value.size() + 2);
    bool esc = false;
    Expected<std::size_t> s = scan_quoted(q + " trailing", &esc);
    ASSERT_TRUE(s.ok());
    ASSERT_EQ(*s, q.size()) << q;
    EXPECT_EQ(esc, value.find_first_of("\\\"") != std::string::npos);
    std::string back;
    Expected<std::size_t> n = unquote(q, back);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, q.size());
    ASSERT_EQ(back, value) << "quoted as " << q;
  }
}

// ---------------------------------------------------------------------------
// is_safe_bare

TEST(IsSafeBare, Accepts) {
  for (std::string_view v : {"9050", "abc", "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA~nick", "a=b",
                             "127.0.0.1:9050", "~!#$%&'()*+,-./:;<=>?@[]^_`{|}", "x"}) {
    EXPECT_TRUE(is_safe_bare(v)) << v;
  }
}

TEST(IsSafeBare, Rejects) {
  for (const std::string& v : {""s, "a b"s, "a\"b"s, "a\\b"s, "\t"s, "a\rb"s, "a\nb"s, "a\0b"s,
                               "\x7f"s, "caf\xc3\xa9"s, "\x01"s, " "s}) {
    EXPECT_FALSE(is_safe_bare(v)) << v;
  }
}

}  // namespace
}  // namespace torcon
