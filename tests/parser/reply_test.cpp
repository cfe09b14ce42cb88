// reply.hpp: DataLines, join_data, OwnedReply.
//
// A data block (control-spec 2.4 CmdData) is CRLF-terminated lines whose
// leading '.' is doubled ("dot-stuffed", RFC 2821 4.5.2): unstuffing removes
// the first character of any line that starts with '.'.

#include "torcon/reply.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parser/guarded_buffer.hpp"
#include "parser/test_printers.hpp"
#include "torcon/reply_reader.hpp"

namespace torcon {
namespace {

using namespace std::string_literals;

std::vector<std::string> lines_of(std::string_view raw) {
  std::vector<std::string> out;
  DataLines dl(raw);
  std::string_view line;
  for (int guard = 0; guard < 100000 && dl.next(line); ++guard) out.emplace_back(line);
  return out;
}

using Lines = std::vector<std::string>;

// ---------------------------------------------------------------------------
// DataLines

TEST(DataLines, EmptyBlockHasNoLines) {
  EXPECT_EQ(lines_of(""), Lines{});
  DataLines dl("");
  std::string_view line = "untouched";
  EXPECT_FALSE(dl.next(line));
}

TEST(DataLines, CrlfStripped) {
  EXPECT_EQ(lines_of("ControlPort 9051\r\nSocksPort 9050\r\n"),
            (Lines{"ControlPort 9051", "SocksPort 9050"}));
}

TEST(DataLines, EmptyLinesKept) {
  EXPECT_EQ(lines_of("\r\n"), Lines{""});
  EXPECT_EQ(lines_of("\r\n\r\n"), (Lines{"", ""}));
  EXPECT_EQ(lines_of("a\r\n\r\nb\r\n\r\n"), (Lines{"a", "", "b", ""}));
}

TEST(DataLines, BareLfLineEnds) {
  EXPECT_EQ(lines_of("a\nb\n"), (Lines{"a", "b"}));
  EXPECT_EQ(lines_of("a\r\nb\nc\r\n"), (Lines{"a", "b", "c"}));
  EXPECT_EQ(lines_of("\n\n"), (Lines{"", ""}));
}

TEST(DataLines, LeadingDotUnstuffed) {
  EXPECT_EQ(lines_of("..foo\r\n"), Lines{".foo"});
  EXPECT_EQ(lines_of("..\r\n"), Lines{"."});
  EXPECT_EQ(lines_of("...\r\n"), Lines{".."});
  EXPECT_EQ(lines_of("....x\r\n"), Lines{"...x"});
  // Only a leading dot is stuffing.
  EXPECT_EQ(lines_of("a..b\r\nc.\r\n .\r\n"), (Lines{"a..b", "c.", " ."}));
  EXPECT_EQ(lines_of("..a\n..\n"), (Lines{".a", "."}));
}

TEST(DataLines, LoneCrInsideALineIsData) {
  // CmdData's LineItem allows CR not followed by LF inside a line.
  EXPECT_EQ(lines_of("a\rb\r\nc\r\r\n"), (Lines{"a\rb", "c\r"}));
}

TEST(DataLines, EightBitAndNul) {
  const std::string raw = "\xff\x80"s + '\0' + "z\r\n"s + '\0' + "\r\n"s;
  EXPECT_EQ(lines_of(raw), (Lines{"\xff\x80"s + '\0' + "z", "\0"s}));
}

TEST(DataLines, LastLineWithoutLineEnd) {
  EXPECT_EQ(lines_of("a\r\nb"), (Lines{"a", "b"}));
  EXPECT_EQ(lines_of("only"), Lines{"only"});
  EXPECT_EQ(lines_of("..x"), Lines{".x"});
}

TEST(DataLines, ViewsPointIntoTheBlock) {
  const std::string raw = "first\r\n..second\r\n\r\nthird\r\n";
  DataLines dl(raw);
  std::string_view line;
  ASSERT_TRUE(dl.next(line));
  EXPECT_EQ(line.data(), raw.data());
  EXPECT_EQ(line.size(), 5u);
  ASSERT_TRUE(dl.next(line));
  EXPECT_EQ(line.data(), raw.data() + 8);  // after the stuffed dot
  EXPECT_EQ(line, ".second");
  ASSERT_TRUE(dl.next(line));
  EXPECT_TRUE(line.empty());
  ASSERT_TRUE(dl.next(line));
  EXPECT_EQ(line.data(), raw.data() + raw.size() - 7);
  EXPECT_FALSE(dl.next(line));
  EXPECT_FALSE(dl.next(line)) << "next() after the end keeps returning false";
}

TEST(DataLines, NeverReadsPastTheBlock) {
  // Every prefix of a block, placed so it ends at a guard page.
  const std::string raw = "r a\r\n..b\r\n\r\n.\r\n..\r\nx\ry\r\nend\n\r\r\n.";
  test::GuardedBuffer g;
  for (std::size_t n = 0; n <= raw.size(); ++n) {
    const std::string_view in = g.place(std::string_view(raw).substr(0, n));
    DataLines dl(in);
    std::string_view line;
    std::size_t count = 0;
    while (dl.next(line)) {
      ASSERT_LT(++count, 100u) << "prefix " << n;
      // Every line lies inside the input.
      ASSERT_TRUE(test::within(line, in)) << "prefix " << n;
    }
    (void)join_data(in);
  }
}

// ---------------------------------------------------------------------------
// join_data

TEST(JoinData, JoinsUnstuffedLinesWithLf) {
  EXPECT_EQ(join_data("ControlPort 9051\r\nSocksPort 9050\r\n"),
            "ControlPort 9051\nSocksPort 9050");
  EXPECT_EQ(join_data("..x\r\n\r\ny\r\n"), ".x\n\ny");
  EXPECT_EQ(join_data("a\nb\n"), "a\nb");
}

TEST(JoinData, EmptyAndSingle) {
  EXPECT_EQ(join_data(""), "");
  EXPECT_EQ(join_data("one\r\n"), "one");
  EXPECT_EQ(join_data("..\r\n"), ".");
}

// ---------------------------------------------------------------------------
// OwnedReply

// Feeds `bytes`, returns the first reply's copy.
OwnedReply first_copy(ReplyReader& r, std::string_view bytes) {
  r.feed(bytes);
  Reply rep;
  EXPECT_EQ(r.next(rep), ReplyReader::Next::reply) << r.error().message;
  return rep.copy();
}

const std::string kPrefix = "650 BW 1 2\r\n";
const std::string kReply =
    "250-version=0.4.8.9\r\n250+config-text=\r\nControlPort 9051\r\n..dot\r\n.\r\n250 OK\r\n";

void expect_is_kreply(const OwnedReply& o) {
  const Reply v = o.view();
  EXPECT_EQ(v.code, 250);
  EXPECT_EQ(o.code, 250);
  EXPECT_EQ(v.offset, kPrefix.size());
  EXPECT_EQ(o.offset, kPrefix.size());
  EXPECT_EQ(v.raw, kReply);
  ASSERT_EQ(v.lines.size(), 3u);
  ASSERT_EQ(o.lines.size(), 3u);
  EXPECT_EQ(v.lines[0].code, 250);
  EXPECT_EQ(v.lines[0].sep, Sep::mid);
  EXPECT_EQ(v.lines[0].text, "version=0.4.8.9");
  EXPECT_TRUE(v.lines[0].data.empty());
  EXPECT_EQ(v.lines[1].sep, Sep::data);
  EXPECT_EQ(v.lines[1].text, "config-text=");
  EXPECT_EQ(v.lines[1].data, "ControlPort 9051\r\n..dot\r\n");
  EXPECT_EQ(v.lines[2].sep, Sep::end);
  EXPECT_EQ(v.lines[2].text, "OK");
  EXPECT_EQ(v.status_text(), "OK");
  EXPECT_TRUE(v.is_ok());
  // The owned views point into the owned bytes.
  const char* lo = v.raw.data();
  const char* hi = lo + v.raw.size();
  for (const ReplyLine& l : v.lines) {
    EXPECT_GE(l.text.data(), lo);
    EXPECT_LE(l.text.data() + l.text.size(), hi);
    if (!l.data.empty()) {
      EXPECT_GE(l.data.data(), lo);
      EXPECT_LE(l.data.data() + l.data.size(), hi);
    }
  }
  EXPECT_EQ(join_data(v.lines[1].data), "ControlPort 9051\n.dot");
}

TEST(OwnedReply, CopySurvivesReaderResetAndReuse) {
  ReplyReader r;
  r.feed(kPrefix);
  Reply rep;
  ASSERT_EQ(r.next(rep), ReplyReader::Next::reply);
  OwnedReply owned = first_copy(r, kReply);
  expect_is_kreply(owned);
  // Overwrite the reader's buffer with other bytes, then throw it away.
  r.reset();
  for (int i = 0; i < 100; ++i) {
    r.feed("250-" + std::string(1000, char('a' + i % 26)) + "\r\n250 OK\r\n");
    while (r.next(rep) == ReplyReader::Next::reply) {
    }
  }
  r.reset();
  expect_is_kreply(owned);
}

TEST(OwnedReply, CopySurvivesReaderDestruction) {
  OwnedReply owned;
  {
    ReplyReader r;
    r.feed(kPrefix);
    Reply rep;
    ASSERT_EQ(r.next(rep), ReplyReader::Next::reply);
    owned = first_copy(r, kReply);
  }
  expect_is_kreply(owned);
}

TEST(OwnedReply, MoveKeepsViewsValid) {
  ReplyReader r;
  r.feed(kPrefix);
  Reply rep;
  ASSERT_EQ(r.next(rep), ReplyReader::Next::reply);
  OwnedReply a = first_copy(r, kReply);
  r.reset();

  OwnedReply b(std::move(a));
  expect_is_kreply(b);
  OwnedReply c;
  c = std::move(b);
  expect_is_kreply(c);
  // Moving into a vector that reallocates.
  std::vector<OwnedReply> v;
  for (int i = 0; i < 20; ++i) v.push_back(c);
  v.insert(v.begin(), std::move(c));
  for (const auto& o : v) expect_is_kreply(o);
}

TEST(OwnedReply, CopyIsDeepAndIndependent) {
  ReplyReader r;
  r.feed(kPrefix);
  Reply rep;
  ASSERT_EQ(r.next(rep), ReplyReader::Next::reply);
  auto a = std::make_unique<OwnedReply>(first_copy(r, kReply));
  OwnedReply b(*a);
  OwnedReply c;
  c = *a;
  EXPECT_NE(b.view().raw.data(), a->view().raw.data());
  EXPECT_NE(c.view().raw.data(), a->view().raw.data());
  a.reset();  // destroy the original
  expect_is_kreply(b);
  expect_is_kreply(c);
  // Self-assignment is harmless.
  OwnedReply& cref = c;
  c = cref;
  expect_is_kreply(c);
}

TEST(OwnedReply, AssignFromHandBuiltReply) {
  // A Reply whose views point into a caller's string, not a reader.
  std::string bytes = "552-first\r\n552 Unrecognized key \"foo\"\r\n";
  ReplyLine lines[2];
  lines[0].code = 552;
  lines[0].sep = Sep::mid;
  lines[0].text = std::string_view(bytes).substr(4, 5);
  lines[1].code = 552;
  lines[1].sep = Sep::end;
  lines[1].text = std::string_view(bytes).substr(15, 22);
  ASSERT_EQ(lines[1].text, "Unrecognized key \"foo\"");
  const Reply src{552, std::span<const ReplyLine>(lines, 2), bytes, 4242};

  OwnedReply o;
  o.assign(src);
  // Scribble over the source.
  for (char& ch : bytes) ch = '#';
  const Reply v = o.view();
  EXPECT_EQ(v.code, 552);
  EXPECT_EQ(v.offset, 4242u);
  EXPECT_EQ(v.raw, "552-first\r\n552 Unrecognized key \"foo\"\r\n");
  ASSERT_EQ(v.lines.size(), 2u);
  EXPECT_EQ(v.lines[0].text, "first");
  EXPECT_EQ(v.lines[1].text, "Unrecognized key \"foo\"");
  EXPECT_EQ(v.status_text(), "Unrecognized key \"foo\"");
  EXPECT_FALSE(v.is_ok());

  // Re-assigning replaces the contents.
  std::string other = "250 OK\r\n";
  ReplyLine ok;
  ok.code = 250;
  ok.text = std::string_view(other).substr(4, 2);
  o.assign(Reply{250, std::span<const ReplyLine>(&ok, 1), other, 7});
  EXPECT_EQ(o.view().raw, "250 OK\r\n");
  EXPECT_EQ(o.view().lines.size(), 1u);
  EXPECT_EQ(o.view().status_text(), "OK");
  EXPECT_EQ(o.view().offset, 7u);
}

TEST(OwnedReply, NulAndEightBitBytesCopied) {
  const std::string in = "250 a"s + '\0' + "\xff" + "b\r\n";
  ReplyReader r;
  OwnedReply o = first_copy(r, in);
  r.reset();
  EXPECT_EQ(o.view().raw, in);
  EXPECT_EQ(o.view().status_text(), "a"s + '\0' + "\xff" + "b");
}

TEST(OwnedReply, DefaultIsEmpty) {
  OwnedReply o;
  const Reply v = o.view();
  EXPECT_EQ(v.code, 0);
  EXPECT_TRUE(v.lines.empty());
  EXPECT_TRUE(v.raw.empty());
  EXPECT_TRUE(v.status_text().empty());
  OwnedReply copy(o);
  EXPECT_TRUE(copy.view().raw.empty());
}

// ---------------------------------------------------------------------------
// Reply helpers (inline in the header, but part of the contract).

TEST(Reply, ClassifiesStatusCodes) {
  Reply r;
  for (int code : {200, 250, 251, 299}) {
    r.code = code;
    EXPECT_TRUE(r.is_ok()) << code;
    EXPECT_FALSE(r.is_async()) << code;
  }
  for (int code : {600, 650, 699}) {
    r.code = code;
    EXPECT_TRUE(r.is_async()) << code;
    EXPECT_FALSE(r.is_ok()) << code;
  }
  for (int code : {199, 300, 451, 510, 552, 599, 700}) {
    r.code = code;
    EXPECT_FALSE(r.is_ok()) << code;
    EXPECT_FALSE(r.is_async()) << code;
  }
  EXPECT_TRUE(Reply{}.status_text().empty());
}

}  // namespace
}  // namespace torcon
