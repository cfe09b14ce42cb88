// keyword_args.hpp: positional and KEY=VALUE arguments of reply lines/events.
//
// Rules from the header: a token is a keyword argument only when what precedes
// '=' is 1*(ALPHA / DIGIT / "_"); values may be QuotedStrings (decoded with
// the escaping-bug rules of control-spec 2.1.1); unknown keys are returned.

#include "torcon/keyword_args.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "parser/guarded_buffer.hpp"
#include "parser/test_printers.hpp"

namespace torcon {
namespace {

using namespace std::string_literals;

struct A {
  std::string key;
  std::string value;
  bool quoted = false;
  bool escaped = false;
  bool operator==(const A&) const = default;
};

[[maybe_unused]] void PrintTo(const A& a, std::ostream* os) {
  *os << "{key=\"" << a.key << "\" value=\"" << a.value << "\"" << (a.quoted ? " quoted" : "")
      << (a.escaped ? " escaped" : "") << "}";
}

std::vector<A> all_args(std::string_view text, Error* err = nullptr) {
  std::vector<A> out;
  ArgReader r(text);
  Arg a;
  for (int guard = 0; guard < 10000 && r.next(a); ++guard)
    out.push_back(A{std::string(a.key), std::string(a.value), a.quoted, a.escaped});
  if (err) {
    *err = r.error();
  } else {
    EXPECT_EQ(r.error().code, Errc::ok) << r.error().message;
  }
  return out;
}

A pos(std::string v, bool quoted = false, bool escaped = false) {
  return A{"", std::move(v), quoted, escaped};
}
A kw(std::string k, std::string v, bool quoted = false, bool escaped = false) {
  return A{std::move(k), std::move(v), quoted, escaped};
}

TEST(ArgReader, CircEventFromTheHeader) {
  const std::string fp1 = "$" + std::string(40, 'A') + "~relay0";
  const std::string fp2 = "$" + std::string(40, 'C') + "~exit0";
  const std::string text = "CIRC 7 BUILT " + fp1 + "," + fp2 + " PURPOSE=GENERAL REASON=\"a b\"";
  EXPECT_EQ(all_args(text),
            (std::vector<A>{pos("CIRC"), pos("7"), pos("BUILT"), pos(fp1 + "," + fp2),
                            kw("PURPOSE", "GENERAL"), kw("REASON", "a b", true, false)}));
}

TEST(ArgReader, PositionalFlag) {
  Arg a;
  ArgReader r("BUILT");
  ASSERT_TRUE(r.next(a));
  EXPECT_TRUE(a.positional());
  EXPECT_TRUE(a.key.empty());
  EXPECT_EQ(a.value, "BUILT");
  EXPECT_FALSE(r.next(a));
  ArgReader k("K=V");
  ASSERT_TRUE(k.next(a));
  EXPECT_FALSE(a.positional());
}

TEST(ArgReader, OldStyleLongNameStaysPositional) {
  const std::string fp = "$" + std::string(40, 'F');
  EXPECT_EQ(all_args(fp + "=nick " + fp + "~nick"),
            (std::vector<A>{pos(fp + "=nick"), pos(fp + "~nick")}));
  EXPECT_EQ(all_args("$FP=nick"), (std::vector<A>{pos("$FP=nick")}));
}

TEST(ArgReader, KeyCharacters) {
  // 1*(ALPHA / DIGIT / "_") before '=' makes a keyword; anything else doesn't.
  EXPECT_EQ(all_args("A_1=x 9=y _=z"),
            (std::vector<A>{kw("A_1", "x"), kw("9", "y"), kw("_", "z")}));
  EXPECT_EQ(all_args("a-b=c x.y=1 =v k:v=1"),
            (std::vector<A>{pos("a-b=c"), pos("x.y=1"), pos("=v"), pos("k:v=1")}));
}

// Every byte value, at every offset of keys up to 20 bytes long, ends a key
// exactly where is_arg_key_char() says (a scanner that lets '[' or 0xC1 into
// a key, or ends one at 'Z', fails here).
TEST(ArgReader, EveryByteAtEveryOffsetOfAKey) {
  for (std::size_t at = 0; at < 20; ++at) {
    for (int c = 0; c < 256; ++c) {
      std::string text(at, 'K');
      if (at > 0) text[at / 2] = "aZ0_9zA"[at % 7];  // the range ends, inside the key
      const char byte = char(c);
      if (byte == '"' && at == 0) continue;  // a quoted value: QuotedValuesWithSpacesAndEscapes
      text += byte;
      text += "Q=v";
      const std::vector<A> got = all_args(text);
      const bool joins = is_arg_key_char(byte);
      std::vector<A> want;
      if (joins)
        want = {kw(text.substr(0, at + 2), "v")};
      else if (byte == '=' && at > 0)
        want = {kw(text.substr(0, at), "Q=v")};
      else if (byte == ' ')
        want = at > 0 ? std::vector<A>{pos(text.substr(0, at)), kw("Q", "v")}
                      : std::vector<A>{kw("Q", "v")};
      else
        want = {pos(text)};
      ASSERT_EQ(got, want) << "byte " << c << " after " << at << " key bytes";
    }
  }
}

TEST(ArgReader, ValueKeepsLaterEquals) {
  EXPECT_EQ(all_args("K=a=b SOCKS_USERNAME=u=v"),
            (std::vector<A>{kw("K", "a=b"), kw("SOCKS_USERNAME", "u=v")}));
}

TEST(ArgReader, EmptyValues) {
  EXPECT_EQ(all_args("KEY= NEXT=1"), (std::vector<A>{kw("KEY", ""), kw("NEXT", "1")}));
  EXPECT_EQ(all_args("KEY="), (std::vector<A>{kw("KEY", "")}));
  EXPECT_EQ(all_args("KEY=\"\""), (std::vector<A>{kw("KEY", "", true, false)}));
}

TEST(ArgReader, QuotedValuesWithSpacesAndEscapes) {
  const std::string text =
      R"(STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done here" )"
      R"(HINT="say \"hi\"\n" PATH="C:\\tor")";
  const std::vector<A> got = all_args(text);
  EXPECT_EQ(got,
            (std::vector<A>{
                pos("STATUS_CLIENT"), pos("NOTICE"), pos("BOOTSTRAP"), kw("PROGRESS", "100"),
                kw("TAG", "done"), kw("SUMMARY", "Done here", true, false),
                kw("HINT", R"(say \"hi\"\n)", true, true), kw("PATH", R"(C:\\tor)", true, true)}));
}

TEST(ArgReader, DecodedWithoutEscapesIsTheValueItself) {
  ArgReader r(R"(A=plain B="with space")");
  Arg a;
  std::string scratch = "unchanged";
  ASSERT_TRUE(r.next(a));
  std::string_view d = a.decoded(scratch);
  EXPECT_EQ(d, "plain");
  EXPECT_EQ(d.data(), a.value.data()) << "no copy without escapes";
  ASSERT_TRUE(r.next(a));
  d = a.decoded(scratch);
  EXPECT_EQ(d, "with space");
  EXPECT_EQ(d.data(), a.value.data());
}

TEST(ArgReader, DecodedWithEscapesUsesScratch) {
  ArgReader r(R"(HINT="say \"hi\"\n\101" X="a\\b\q")");
  Arg a;
  std::string scratch = "leftover junk that must be cleared";
  ASSERT_TRUE(r.next(a));
  EXPECT_TRUE(a.escaped);
  std::string_view d = a.decoded(scratch);
  EXPECT_EQ(d, "say \"hi\"\nA");
  EXPECT_EQ(scratch, "say \"hi\"\nA");
  EXPECT_GE(d.data(), scratch.data());
  EXPECT_LE(d.data() + d.size(), scratch.data() + scratch.size());
  ASSERT_TRUE(r.next(a));
  d = a.decoded(scratch);
  EXPECT_EQ(d, "a\\bq");
}

TEST(ArgReader, QuotedPositional) {
  EXPECT_EQ(all_args(R"("a b" X)"), (std::vector<A>{pos("a b", true, false), pos("X")}));
}

TEST(ArgReader, UnknownKeysAreReturned) {
  EXPECT_EQ(all_args("650 FUTURE_EVENT NEWKEY=1 ANOTHER_ONE=\"z\" tail"),
            (std::vector<A>{pos("650"), pos("FUTURE_EVENT"), kw("NEWKEY", "1"),
                            kw("ANOTHER_ONE", "z", true, false), pos("tail")}));
}

TEST(ArgReader, SpacesBetweenAndAround) {
  EXPECT_EQ(all_args("A B=1   "), (std::vector<A>{pos("A"), kw("B", "1")}));
  EXPECT_EQ(all_args("A   B"), (std::vector<A>{pos("A"), pos("B")}));
  EXPECT_EQ(all_args(R"(K="x"   )"), (std::vector<A>{kw("K", "x", true, false)}));
  EXPECT_EQ(all_args(""), std::vector<A>{});
  EXPECT_EQ(all_args("   "), std::vector<A>{});
}

TEST(ArgReader, EightBitBytesInValues) {
  const std::string text = "NICK=caf\xc3\xa9 MSG=\"\xff\x80 x\"";
  EXPECT_EQ(all_args(text),
            (std::vector<A>{kw("NICK", "caf\xc3\xa9"), kw("MSG", "\xff\x80 x", true, false)}));
}

TEST(ArgReader, RestIsTheUnreadRemainder) {
  const std::string_view text = "CLOCK_JUMPED TIME=5 free form";
  ArgReader r(text);
  EXPECT_EQ(r.rest(), text);
  Arg a;
  ASSERT_TRUE(r.next(a));
  EXPECT_TRUE(r.rest().ends_with("TIME=5 free form"));
  ASSERT_TRUE(r.next(a));
  EXPECT_EQ(a.key, "TIME");
  EXPECT_TRUE(r.rest().ends_with("free form"));
  EXPECT_EQ(r.rest().find("TIME"), std::string_view::npos);
}

TEST(ArgReader, UnterminatedQuoteSetsError) {
  const std::string_view text = R"(A KEY="unterminated value)";
  ArgReader r(text);
  Arg a;
  ASSERT_TRUE(r.next(a));
  EXPECT_EQ(a.value, "A");
  EXPECT_FALSE(r.next(a));
  const Error& e = r.error();
  EXPECT_TRUE(e.code == Errc::bad_argument || e.code == Errc::bad_quoted_string)
      << static_cast<int>(e.code);
  EXPECT_EQ(e.offset, text.size()) << "the quote runs to the end of the text";
  EXPECT_FALSE(e.message.empty());
  // Stays stopped.
  EXPECT_FALSE(r.next(a));
  EXPECT_NE(r.error().code, Errc::ok);
}

TEST(ArgReader, EscapedQuoteAtEndIsUnterminated) {
  const std::string_view text = R"(K="abc\")";
  ArgReader r(text);
  Arg a;
  EXPECT_FALSE(r.next(a));
  EXPECT_NE(r.error().code, Errc::ok);
  EXPECT_EQ(r.error().offset, text.size());
}

TEST(ArgReader, JunkAfterClosingQuoteIsAnError) {
  // A QuotedString value is a whole token: K="a"b is malformed.
  const std::string_view text = R"(X K="a"b Y)";
  ArgReader r(text);
  Arg a;
  ASSERT_TRUE(r.next(a));
  EXPECT_FALSE(r.next(a));
  EXPECT_EQ(r.error().code, Errc::bad_argument);
  EXPECT_EQ(r.error().offset, 7u);
}

TEST(ArgReader, TruncatedInputsDoNotOverRead) {
  const std::string full =
      R"(CIRC 7 BUILT $AAAA~r,$BBBB=x PURPOSE=GENERAL REASON="a \"b\" \101\12" E= Z="")";
  test::GuardedBuffer g;
  for (std::size_t n = 0; n <= full.size(); ++n) {
    const std::string_view in = g.place(std::string_view(full).substr(0, n));
    ArgReader r(in);
    Arg a;
    std::string scratch;
    int count = 0;
    while (r.next(a)) {
      ASSERT_LT(++count, 100);
      ASSERT_TRUE(test::within(a.key, in)) << "prefix " << n;
      ASSERT_TRUE(test::within(a.value, in)) << "prefix " << n;
      (void)a.decoded(scratch);
    }
    EXPECT_LE(r.error().offset, in.size());
    std::string_view v;
    (void)find_keyword(in, "REASON", v, scratch);
    (void)find_keyword(in, "Z", v, scratch);
  }
}

// ---------------------------------------------------------------------------
// find_keyword

// ---- against a byte-at-a-time reading of the rules ---------------------------
//
// ArgReader classifies 16 bytes per step where 16 are left and falls back to
// single bytes near the end, so a token's outcome must not depend on where it
// sits relative to a block or to the end of the text. This reference reads
// the header's rules one byte at a time; lines built to put every kind of
// token boundary at every offset, and random lines, must read the same,
// placed before a guard page (an over-read is a crash).

struct Reading {
  std::vector<A> args;
  Errc error = Errc::ok;
  std::size_t offset = 0;
  bool operator==(const Reading&) const = default;
};

[[maybe_unused]] void PrintTo(const Reading& r, std::ostream* os) {
  *os << "{";
  for (const A& a : r.args) PrintTo(a, os);
  *os << " error=" << int(r.error) << "@" << r.offset << "}";
}

Reading reference(std::string_view t) {
  Reading out;
  const std::size_t n = t.size();
  const auto key_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  const auto space_from = [&](std::size_t i) {
    while (i < n && t[i] != ' ') ++i;
    return i;
  };
  std::size_t i = 0;
  while (true) {
    while (i < n && t[i] == ' ') ++i;
    if (i >= n) return out;
    std::string key;
    std::size_t v = i;
    if (t[i] != '"') {
      std::size_t j = i;
      while (j < n && key_char(t[j])) ++j;
      if (j > i && j < n && t[j] == '=') {
        key = std::string(t.substr(i, j - i));
        v = j + 1;
      }
    }
    if (v < n && t[v] == '"') {
      bool esc = false;
      std::size_t k = v + 1;
      while (k < n && t[k] != '"') {
        if (t[k] == '\\') {
          esc = true;
          ++k;
        }
        ++k;
      }
      if (k >= n) {
        out.error = Errc::bad_argument;
        out.offset = n;
        return out;
      }
      if (k + 1 < n && t[k + 1] != ' ') {
        out.error = Errc::bad_argument;
        out.offset = k + 1;
        return out;
      }
      out.args.push_back(A{key, std::string(t.substr(v + 1, k - v - 1)), true, esc});
      i = k + 1;
    } else {
      const std::size_t e = space_from(v);
      out.args.push_back(A{key, std::string(t.substr(v, e - v))});
      i = e;
    }
  }
}

Reading read_all(std::string_view t) {
  Reading out;
  ArgReader r(t);
  Arg a;
  for (int guard = 0; guard < 10000 && r.next(a); ++guard)
    out.args.push_back(A{std::string(a.key), std::string(a.value), a.quoted, a.escaped});
  out.error = r.error().code;
  out.offset = r.error().offset;
  return out;
}

TEST(ArgReader, EveryTokenKindAtEveryOffsetReadsAsTheRulesSay) {
  // Each token after a pad of 0..40 bytes, alone and followed by another
  // token: its start, its '=', its value's end and the text's end each cross
  // the 16-byte blocks and the last-16-bytes boundary at every position.
  const std::string long_key(20, 'K'), long_val(37, 'v');
  const std::vector<std::string> tokens = {
      "7",
      "BUILT",
      "PURPOSE=GENERAL",
      "K=",
      "=x",
      "$0123456789ABCDEF0123456789ABCDEF01234567=nick",
      "$0123456789ABCDEF0123456789ABCDEF01234567~a,$89ABCDEF0123456789ABCDEF0123456789ABCDEF~b",
      long_key + "=" + long_val,
      long_key,
      "SOURCE_ADDR=127.0.0.1:40001",
      "ISO_FIELDS=SOCKS_USERNAME,SOCKS_PASSWORD,CLIENTADDR,SESSION_GROUP,NYM_EPOCH",
      "SOCKS_PASSWORD=\"7de5adf012e9bc7a7ea1a75ce1c436d4\"",
      "R=\"a \\\" b\"",
      "\"quoted positional\"",
      "\"\\\\\"",
      "K=\"unterminated",
      "K=\"x\"junk",
      "K=\"ends in a backslash\\",
      "a.b=c",
      "ab=c=d",
      "caf\xc3\xa9=\xff",
  };
  test::GuardedBuffer g;
  int cases = 0;
  for (const std::string& tok : tokens) {
    for (std::size_t pad = 0; pad <= 40; ++pad) {
      for (const char* after : {"", " ", " X=1", " \"q\" z", "  tail"}) {
        const std::string line = std::string(pad, ' ') + tok + after;
        for (const std::string& text : {line, "A " + line}) {
          const std::string_view placed = g.place(text);
          EXPECT_EQ(read_all(placed), reference(text)) << "text: [" << text << "]";
          ++cases;
        }
      }
    }
  }
  EXPECT_GT(cases, 8000);
}

TEST(ArgReader, RandomLinesReadAsTheRulesSay) {
  // Bytes weighted towards what makes tokens: key characters, '=', spaces,
  // quotes and backslashes, and a few others (fixed seed: reproducible).
  const std::string alphabet =
      "aaaaZZZZ0000____==== \"\"\\$,~:.\xff"
      "aZ0_aZ0_aZ0_aZ0_aZ0_";
  std::mt19937_64 rng(20261203);
  test::GuardedBuffer g;
  for (int i = 0; i < 20000; ++i) {
    std::string text(rng() % 96, ' ');
    for (char& c : text) c = alphabet[rng() % alphabet.size()];
    const std::string_view placed = g.place(text);
    ASSERT_EQ(read_all(placed), reference(text)) << "text: [" << text << "]";
  }
}

TEST(FindKeyword, FindsAndDecodes) {
  const std::string text = R"(CIRC 1 BUILT PURPOSE=GENERAL REASON="x \"y\"" TIME=2024)";
  std::string_view v;
  std::string scratch;
  ASSERT_TRUE(find_keyword(text, "PURPOSE", v, scratch));
  EXPECT_EQ(v, "GENERAL");
  ASSERT_TRUE(find_keyword(text, "REASON", v, scratch));
  EXPECT_EQ(v, "x \"y\"");
  ASSERT_TRUE(find_keyword(text, "TIME", v, scratch));
  EXPECT_EQ(v, "2024");
}

TEST(FindKeyword, AbsentGivesEmptyAndFalse) {
  std::string_view v = "stale";
  std::string scratch;
  EXPECT_FALSE(find_keyword("CIRC 1 BUILT PURPOSE=GENERAL", "REASON", v, scratch));
  EXPECT_TRUE(v.empty());
}

TEST(FindKeyword, FirstOccurrenceWins) {
  std::string_view v;
  std::string scratch;
  ASSERT_TRUE(find_keyword("K=1 K=2", "K", v, scratch));
  EXPECT_EQ(v, "1");
}

TEST(FindKeyword, MatchesWholeKeysOnly) {
  std::string_view v;
  std::string scratch;
  // Not a suffix of a longer key, not inside a value, not a positional.
  EXPECT_FALSE(find_keyword("XKEY=1", "KEY", v, scratch));
  EXPECT_FALSE(find_keyword("KEYX=1", "KEY", v, scratch));
  EXPECT_FALSE(find_keyword("X=KEY=1", "KEY", v, scratch));
  EXPECT_FALSE(find_keyword(R"(X="KEY=1")", "KEY", v, scratch));
  EXPECT_FALSE(find_keyword("$AB=nick", "AB", v, scratch));
  EXPECT_FALSE(find_keyword("KEY", "KEY", v, scratch));
  ASSERT_TRUE(find_keyword(R"(X="KEY=1" KEY=2)", "KEY", v, scratch));
  EXPECT_EQ(v, "2");
}

TEST(FindKeyword, EmptyValueIsFound) {
  std::string_view v = "stale";
  std::string scratch;
  ASSERT_TRUE(find_keyword("A=1 KEY= B=2", "KEY", v, scratch));
  EXPECT_TRUE(v.empty());
  ASSERT_TRUE(find_keyword(R"(KEY="")", "KEY", v, scratch));
  EXPECT_TRUE(v.empty());
}

}  // namespace
}  // namespace torcon
