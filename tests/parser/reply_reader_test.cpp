// ReplyReader: framing of control-port replies (control-spec 2.3, 2.4).
//
// Expected values come from the spec's grammar:
//   Reply         = *(MidReplyLine / DataReplyLine) EndReplyLine
//   MidReplyLine  = StatusCode "-" ReplyLine
//   DataReplyLine = StatusCode "+" ReplyLine CmdData
//   EndReplyLine  = StatusCode SP ReplyLine
//   ReplyLine     = [ReplyText] CRLF
//   CmdData       = *DataLine "." CRLF   (leading dots stuffed as in RFC 2821)
// and from the contract in include/torcon/reply_reader.hpp.
//
// Error offsets follow one rule: the stream offset of the first byte that
// makes the input invalid (for a status code that changes mid-reply: the first
// byte of the offending line; for limits: the first byte past the limit).

#include "torcon/reply_reader.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "data_block_scan.hpp"  // the level the block loop runs at
#include "parser/guarded_buffer.hpp"
#include "parser/test_printers.hpp"
#include "torcon/reply.hpp"

namespace torcon {
namespace {

using namespace std::string_literals;
using Next = ReplyReader::Next;

// ---------------------------------------------------------------------------
// Snapshots: owned copies of what next() returned (its views die on the next
// call), comparable and printable.

struct LineSnap {
  int code = 0;
  char sep = 0;
  std::string text;
  std::string data;
  bool operator==(const LineSnap&) const = default;
};

struct ReplySnap {
  int code = 0;
  std::vector<LineSnap> lines;
  std::string raw;
  std::uint64_t offset = 0;
  bool operator==(const ReplySnap&) const = default;
};

std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\r')
      out += "\\r";
    else if (c == '\n')
      out += "\\n";
    else if (c == '\\')
      out += "\\\\";
    else if (c < 0x20 || c >= 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

[[maybe_unused]] void PrintTo(const LineSnap& l, std::ostream* os) {
  *os << "{" << l.code << " '" << l.sep << "' \"" << printable(l.text) << "\" data=\""
      << printable(l.data) << "\"}";
}
[[maybe_unused]] void PrintTo(const ReplySnap& r, std::ostream* os) {
  *os << "Reply{code=" << r.code << " offset=" << r.offset << " raw=\"" << printable(r.raw)
      << "\" lines=[";
  for (const auto& l : r.lines) {
    PrintTo(l, os);
    *os << " ";
  }
  *os << "]}";
}

ReplySnap snap(const Reply& r) {
  ReplySnap s;
  s.code = r.code;
  s.raw = std::string(r.raw);
  s.offset = r.offset;
  for (const ReplyLine& l : r.lines) {
    s.lines.push_back(
        LineSnap{l.code, static_cast<char>(l.sep), std::string(l.text), std::string(l.data)});
  }
  return s;
}

LineSnap L(int code, char sep, std::string text, std::string data = {}) {
  return LineSnap{code, sep, std::move(text), std::move(data)};
}

struct Drained {
  std::vector<ReplySnap> replies;
  Next last = Next::need_more;
};

// Calls next() until it stops returning replies.
Drained drain(ReplyReader& r) {
  Drained d;
  Reply out;
  for (int guard = 0; guard < 1000000; ++guard) {
    d.last = r.next(out);
    if (d.last != Next::reply) return d;
    d.replies.push_back(snap(out));
  }
  ADD_FAILURE() << "next() returned replies forever";
  return d;
}

void drain_into(ReplyReader& r, Drained& acc) {
  Drained d = drain(r);
  acc.replies.insert(acc.replies.end(), d.replies.begin(), d.replies.end());
  acc.last = d.last;
}

Drained parse_whole(std::string_view input, ParserOptions opts = {}) {
  ReplyReader r(opts);
  r.feed(input);
  return drain(r);
}

Drained parse_bytewise(std::string_view input, ParserOptions opts = {}) {
  ReplyReader r(opts);
  Drained acc;
  for (char c : input) {
    r.feed(std::string_view(&c, 1));
    drain_into(r, acc);
    if (acc.last == Next::error) break;
  }
  if (input.empty()) drain_into(r, acc);
  return acc;
}

// Copies `bytes` in through prepare()/commit(), at most `chunk` per commit.
void feed_prepared(ReplyReader& r, std::string_view bytes, std::size_t min_free,
                   std::size_t chunk) {
  while (!bytes.empty()) {
    std::span<char> space = r.prepare(min_free);
    ASSERT_GE(space.size(), min_free);
    const std::size_t n = std::min({space.size(), bytes.size(), chunk});
    std::memcpy(space.data(), bytes.data(), n);
    r.commit(n);
    bytes.remove_prefix(n);
  }
}

// ---------------------------------------------------------------------------
// A stream with every reply shape of control-spec 2.3, used by the
// incremental tests. kMixedExpected is written out by hand from the grammar.

std::string mixed_input() {
  std::string s;
  s += "250-version=0.4.8.9\r\n250 OK\r\n";                                        // 0
  s += "650 BW 1024 2048\r\n";                                                     // 1
  s += "250+config-text=\r\nControlPort 9051\r\n..dotted\r\n\r\n.\r\n250 OK\r\n";  // 2
  s += "650+NS\r\nr relay1 AAAA BBBB 2024-01-15 12:34:56 192.0.2.1 9001 0\r\n"
       "s Fast Running\r\n.\r\n650 OK\r\n";                     // 3
  s += "552 Unrecognized key \"foo\"\r\n";                      // 4
  s += "250+a=\r\n.\r\n250+b=\r\nx\r\n..\r\n.\r\n250 OK\r\n";   // 5
  s += "650-CONF_CHANGED\r\n650-SocksPort=9050\r\n650 OK\r\n";  // 6
  s += "250 bin:"s + "\xff\x80"s + '\0' + "\x01 end\r\n"s;      // 7
  s += "250 \r\n";                                              // 8
  return s;
}

std::vector<ReplySnap> mixed_expected() {
  std::vector<ReplySnap> v;
  v.push_back({250,
               {L(250, '-', "version=0.4.8.9"), L(250, ' ', "OK")},
               "250-version=0.4.8.9\r\n250 OK\r\n",
               0});
  v.push_back({650, {L(650, ' ', "BW 1024 2048")}, "650 BW 1024 2048\r\n", 0});
  v.push_back(
      {250,
       {L(250, '+', "config-text=", "ControlPort 9051\r\n..dotted\r\n\r\n"), L(250, ' ', "OK")},
       "250+config-text=\r\nControlPort 9051\r\n..dotted\r\n\r\n.\r\n250 OK\r\n",
       0});
  v.push_back({650,
               {L(650, '+', "NS",
                  "r relay1 AAAA BBBB 2024-01-15 12:34:56 192.0.2.1 9001 0\r\n"
                  "s Fast Running\r\n"),
                L(650, ' ', "OK")},
               "650+NS\r\nr relay1 AAAA BBBB 2024-01-15 12:34:56 192.0.2.1 9001 0\r\n"
               "s Fast Running\r\n.\r\n650 OK\r\n",
               0});
  v.push_back(
      {552, {L(552, ' ', "Unrecognized key \"foo\"")}, "552 Unrecognized key \"foo\"\r\n", 0});
  v.push_back({250,
               {L(250, '+', "a=", ""), L(250, '+', "b=", "x\r\n..\r\n"), L(250, ' ', "OK")},
               "250+a=\r\n.\r\n250+b=\r\nx\r\n..\r\n.\r\n250 OK\r\n",
               0});
  v.push_back({650,
               {L(650, '-', "CONF_CHANGED"), L(650, '-', "SocksPort=9050"), L(650, ' ', "OK")},
               "650-CONF_CHANGED\r\n650-SocksPort=9050\r\n650 OK\r\n",
               0});
  const std::string bin = "bin:"s + "\xff\x80"s + '\0' + "\x01 end"s;
  v.push_back({250, {L(250, ' ', bin)}, "250 " + bin + "\r\n", 0});
  v.push_back({250, {L(250, ' ', "")}, "250 \r\n", 0});
  std::uint64_t off = 0;
  for (auto& r : v) {
    r.offset = off;
    off += r.raw.size();
  }
  return v;
}

// ---------------------------------------------------------------------------
// Framing: each reply shape on its own.

TEST(ReplyReaderFraming, SingleLineOk) {
  ReplyReader r;
  r.feed("250 OK\r\n");
  Reply rep;
  ASSERT_EQ(r.next(rep), Next::reply);
  EXPECT_EQ(rep.code, 250);
  ASSERT_EQ(rep.lines.size(), 1u);
  EXPECT_EQ(rep.lines[0].code, 250);
  EXPECT_EQ(rep.lines[0].sep, Sep::end);
  EXPECT_EQ(rep.lines[0].text, "OK");
  EXPECT_TRUE(rep.lines[0].data.empty());
  EXPECT_EQ(rep.raw, "250 OK\r\n");
  EXPECT_EQ(rep.offset, 0u);
  EXPECT_TRUE(rep.is_ok());
  EXPECT_FALSE(rep.is_async());
  EXPECT_EQ(rep.status_text(), "OK");
  EXPECT_EQ(r.next(rep), Next::need_more);
  EXPECT_EQ(r.stream_offset(), 8u);
  EXPECT_FALSE(r.failed());
  EXPECT_FALSE(r.mid_reply());
}

TEST(ReplyReaderFraming, NothingFedNeedsMore) {
  ReplyReader r;
  Reply rep;
  EXPECT_EQ(r.next(rep), Next::need_more);
  r.feed("");
  EXPECT_EQ(r.next(rep), Next::need_more);
  EXPECT_FALSE(r.mid_reply());
  EXPECT_EQ(r.stream_offset(), 0u);
}

TEST(ReplyReaderFraming, MultiLineReply) {
  const std::string in = "250-version=0.4.8.9\r\n250-config-file=/etc/tor/torrc\r\n250 OK\r\n";
  Drained d = parse_whole(in);
  ASSERT_EQ(d.replies.size(), 1u);
  EXPECT_EQ(d.last, Next::need_more);
  const ReplySnap want{250,
                       {L(250, '-', "version=0.4.8.9"), L(250, '-', "config-file=/etc/tor/torrc"),
                        L(250, ' ', "OK")},
                       in,
                       0};
  EXPECT_EQ(d.replies[0], want);
}

TEST(ReplyReaderFraming, DataBlockIsRawAndStillStuffed) {
  const std::string in =
      "250+config-text=\r\nControlPort 9051\r\n..hidden\r\nSocksPort 9050\r\n.\r\n250 OK\r\n";
  ReplyReader r;
  r.feed(in);
  Reply rep;
  ASSERT_EQ(r.next(rep), Next::reply);
  ASSERT_EQ(rep.lines.size(), 2u);
  EXPECT_EQ(rep.lines[0].sep, Sep::data);
  EXPECT_EQ(rep.lines[0].text, "config-text=");
  // From the byte after the line's CRLF up to, not including, ".\r\n".
  EXPECT_EQ(rep.lines[0].data, "ControlPort 9051\r\n..hidden\r\nSocksPort 9050\r\n");
  EXPECT_EQ(rep.lines[1].sep, Sep::end);
  EXPECT_EQ(rep.lines[1].text, "OK");
  EXPECT_EQ(rep.raw, in);
  // Zero-copy: the views point into raw, at the right places.
  const char* base = rep.raw.data();
  EXPECT_EQ(rep.lines[0].text.data(), base + 4);
  EXPECT_EQ(rep.lines[0].data.data(), base + std::strlen("250+config-text=\r\n"));
  EXPECT_EQ(rep.lines[1].text.data(), base + in.size() - 4);

  DataLines dl(rep.lines[0].data);
  std::string_view line;
  ASSERT_TRUE(dl.next(line));
  EXPECT_EQ(line, "ControlPort 9051");
  ASSERT_TRUE(dl.next(line));
  EXPECT_EQ(line, ".hidden");
  ASSERT_TRUE(dl.next(line));
  EXPECT_EQ(line, "SocksPort 9050");
  EXPECT_FALSE(dl.next(line));
}

TEST(ReplyReaderFraming, EmptyDataBlock) {
  Drained d = parse_whole("250+k=\r\n.\r\n250 OK\r\n");
  ASSERT_EQ(d.replies.size(), 1u);
  const ReplySnap want{
      250, {L(250, '+', "k=", ""), L(250, ' ', "OK")}, "250+k=\r\n.\r\n250 OK\r\n", 0};
  EXPECT_EQ(d.replies[0], want);
}

TEST(ReplyReaderFraming, EmptyDataLines) {
  const std::string in = "250+k=\r\n\r\na\r\n\r\n.\r\n250 OK\r\n";
  ReplyReader r;
  r.feed(in);
  Reply rep;
  ASSERT_EQ(r.next(rep), Next::reply);
  ASSERT_EQ(rep.lines.size(), 2u);
  EXPECT_EQ(rep.lines[0].data, "\r\na\r\n\r\n");
  std::vector<std::string> got;
  DataLines dl(rep.lines[0].data);
  for (std::string_view line; dl.next(line);) got.emplace_back(line);
  EXPECT_EQ(got, (std::vector<std::string>{"", "a", ""}));
}

TEST(ReplyReaderFraming, LeadingDotUnstuffing) {
  // "..foo" is ".foo"; ".." is a data line holding "."; "..." is "..";
  // " ." and "a." are ordinary lines. Only ".\r\n" at a line start ends the block.
  const std::string in = "250+k=\r\n..foo\r\n..\r\n...\r\n .\r\na.\r\n.\r\n250 OK\r\n";
  ReplyReader r;
  r.feed(in);
  Reply rep;
  ASSERT_EQ(r.next(rep), Next::reply);
  ASSERT_EQ(rep.lines.size(), 2u);
  EXPECT_EQ(rep.lines[0].data, "..foo\r\n..\r\n...\r\n .\r\na.\r\n");
  std::vector<std::string> got;
  DataLines dl(rep.lines[0].data);
  for (std::string_view line; dl.next(line);) got.emplace_back(line);
  EXPECT_EQ(got, (std::vector<std::string>{".foo", ".", "..", " .", "a."}));
  EXPECT_EQ(join_data(rep.lines[0].data), ".foo\n.\n..\n .\na.");
}

TEST(ReplyReaderFraming, DataBlockThatLooksLikeReplyLines) {
  // Inside a data block, "250 OK" is data, not the end of the reply.
  const std::string in = "250+k=\r\n250 OK\r\n650 BW 1 2\r\n.\r\n250 OK\r\n";
  Drained d = parse_whole(in);
  ASSERT_EQ(d.replies.size(), 1u);
  ASSERT_EQ(d.replies[0].lines.size(), 2u);
  EXPECT_EQ(d.replies[0].lines[0].data, "250 OK\r\n650 BW 1 2\r\n");
  EXPECT_EQ(d.replies[0].raw, in);
}

TEST(ReplyReaderFraming, SeveralDataBlocksInOneReply) {
  const std::string in =
      "250+ns/id/A=\r\nr a\r\n.\r\n250-plain=1\r\n250+ns/id/B=\r\nr b\r\ns Fast\r\n.\r\n250 OK\r\n";
  Drained d = parse_whole(in);
  ASSERT_EQ(d.replies.size(), 1u);
  const ReplySnap want{250,
                       {L(250, '+', "ns/id/A=", "r a\r\n"), L(250, '-', "plain=1"),
                        L(250, '+', "ns/id/B=", "r b\r\ns Fast\r\n"), L(250, ' ', "OK")},
                       in,
                       0};
  EXPECT_EQ(d.replies[0], want);
}

TEST(ReplyReaderFraming, AsyncSingleLine) {
  ReplyReader r;
  r.feed("650 BW 1024 2048\r\n");
  Reply rep;
  ASSERT_EQ(r.next(rep), Next::reply);
  EXPECT_EQ(rep.code, 650);
  EXPECT_TRUE(rep.is_async());
  EXPECT_FALSE(rep.is_ok());
  ASSERT_EQ(rep.lines.size(), 1u);
  EXPECT_EQ(rep.lines[0].text, "BW 1024 2048");
}

TEST(ReplyReaderFraming, AsyncMultiLineAndDataBlock) {
  const std::string conf = "650-CONF_CHANGED\r\n650-SocksPort=9050\r\n650 OK\r\n";
  const std::string ns =
      "650+NS\r\nr relay1 AAAA BBBB 2024-01-15 12:34:56 192.0.2.1 9001 0\r\n"
      "s Fast Running\r\n.\r\n650 OK\r\n";
  Drained d = parse_whole(conf + ns);
  ASSERT_EQ(d.replies.size(), 2u);
  const ReplySnap want_conf{
      650,
      {L(650, '-', "CONF_CHANGED"), L(650, '-', "SocksPort=9050"), L(650, ' ', "OK")},
      conf,
      0};
  const ReplySnap want_ns{650,
                          {L(650, '+', "NS",
                             "r relay1 AAAA BBBB 2024-01-15 12:34:56 192.0.2.1 9001 0\r\n"
                             "s Fast Running\r\n"),
                           L(650, ' ', "OK")},
                          ns,
                          conf.size()};
  EXPECT_EQ(d.replies[0], want_conf);
  EXPECT_EQ(d.replies[1], want_ns);
}

TEST(ReplyReaderFraming, AsyncToldApartFromSync) {
  const std::string in =
      "650 CIRC 1 LAUNCHED\r\n250-version=0.4.8.9\r\n250 OK\r\n650 STREAM 2 NEW 0 x:80\r\n"
      "515 Authentication failed\r\n";
  ReplyReader r;
  r.feed(in);
  Reply rep;
  std::vector<bool> async;
  std::vector<int> codes;
  while (r.next(rep) == Next::reply) {
    async.push_back(rep.is_async());
    codes.push_back(rep.code);
  }
  EXPECT_EQ(async, (std::vector<bool>{true, false, true, false}));
  EXPECT_EQ(codes, (std::vector<int>{650, 250, 650, 515}));
}

TEST(ReplyReaderFraming, ErrorReplies) {
  const std::string in =
      "552 Unrecognized key \"foo\"\r\n"
      "510 Unrecognized command \"FROB\"\r\n"
      "451 Resource exhausted\r\n"
      "551-Internal error\r\n551 Try again\r\n";
  ReplyReader r;
  r.feed(in);
  Reply rep;
  ASSERT_EQ(r.next(rep), Next::reply);
  EXPECT_EQ(rep.code, 552);
  EXPECT_FALSE(rep.is_ok());
  EXPECT_FALSE(rep.is_async());
  EXPECT_EQ(rep.status_text(), "Unrecognized key \"foo\"");
  ASSERT_EQ(r.next(rep), Next::reply);
  EXPECT_EQ(rep.code, 510);
  EXPECT_EQ(rep.status_text(), "Unrecognized command \"FROB\"");
  ASSERT_EQ(r.next(rep), Next::reply);
  EXPECT_EQ(rep.code, 451);
  EXPECT_FALSE(rep.is_ok());
  EXPECT_EQ(rep.status_text(), "Resource exhausted");
  ASSERT_EQ(r.next(rep), Next::reply);
  EXPECT_EQ(rep.code, 551);
  ASSERT_EQ(rep.lines.size(), 2u);
  EXPECT_EQ(rep.lines[0].text, "Internal error");
  EXPECT_EQ(rep.status_text(), "Try again");
  EXPECT_EQ(r.next(rep), Next::need_more);
  EXPECT_FALSE(r.failed());
}

TEST(ReplyReaderFraming, EightBitAndNulKeptVerbatim) {
  std::string text = "caf"s + "\xc3\xa9"s + " " + '\0' + "x" + "\xff\xfe\x80\x7f\x01\t"s;
  std::string block = "\xff"s + '\0' + "\x80" + "\r\n";
  const std::string in = "250-" + text + "\r\n250+k=\r\n" + block + ".\r\n250 " + text + "\r\n";
  Drained d = parse_whole(in);
  ASSERT_EQ(d.replies.size(), 1u);
  const ReplySnap want{
      250, {L(250, '-', text), L(250, '+', "k=", block), L(250, ' ', text)}, in, 0};
  EXPECT_EQ(d.replies[0], want);
}

TEST(ReplyReaderFraming, EmptyReplyText) {
  // ReplyLine = [ReplyText] CRLF: the text may be empty.
  Drained d = parse_whole("250-\r\n250 \r\n");
  ASSERT_EQ(d.replies.size(), 1u);
  const ReplySnap want{250, {L(250, '-', ""), L(250, ' ', "")}, "250-\r\n250 \r\n", 0};
  EXPECT_EQ(d.replies[0], want);
}

TEST(ReplyReaderFraming, TextExcludesCrlfButKeepsOtherSpaces) {
  Drained d = parse_whole("250  two leading, trailing  \r\n");
  ASSERT_EQ(d.replies.size(), 1u);
  EXPECT_EQ(d.replies[0].lines[0].text, " two leading, trailing  ");
}

TEST(ReplyReaderFraming, SeveralRepliesComeOutInOrder) {
  const std::string in = mixed_input();
  const std::vector<ReplySnap> want = mixed_expected();
  Drained d = parse_whole(in);
  EXPECT_EQ(d.last, Next::need_more);
  ASSERT_EQ(d.replies.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(d.replies[i], want[i]) << "reply " << i;
}

TEST(ReplyReaderFraming, RawAndOffsetTileTheStream) {
  const std::string in = mixed_input();
  ReplyReader r;
  r.feed(in);
  Reply rep;
  std::uint64_t expect_off = 0;
  std::string concat;
  while (r.next(rep) == Next::reply) {
    EXPECT_EQ(rep.offset, expect_off);
    EXPECT_EQ(rep.raw, std::string_view(in).substr(rep.offset, rep.raw.size()));
    concat += rep.raw;
    expect_off += rep.raw.size();
    EXPECT_EQ(r.stream_offset(), expect_off);
  }
  EXPECT_EQ(concat, in);
  EXPECT_FALSE(r.failed());
}

TEST(ReplyReaderFraming, OffsetsKeepCountingAcrossFeeds) {
  ReplyReader r;
  Reply rep;
  std::uint64_t total = 0;
  for (int i = 0; i < 50; ++i) {
    const std::string one = "650 BW " + std::to_string(i) + " " + std::to_string(i * 7) + "\r\n";
    r.feed(one);
    ASSERT_EQ(r.next(rep), Next::reply);
    EXPECT_EQ(rep.offset, total);
    EXPECT_EQ(rep.raw, one);
    total += one.size();
    ASSERT_EQ(r.next(rep), Next::need_more);
    EXPECT_EQ(r.stream_offset(), total);
  }
}

TEST(ReplyReaderFraming, BareLfAcceptedWhenAllowed) {
  ParserOptions opts;
  opts.allow_bare_lf = true;
  const std::string in = "250-a\n250+k=\nx\n..y\r\n\n.\n250 OK\n650 BW 1 2\r\n";
  Drained d = parse_whole(in, opts);
  EXPECT_EQ(d.last, Next::need_more);
  ASSERT_EQ(d.replies.size(), 2u);
  const std::string first = "250-a\n250+k=\nx\n..y\r\n\n.\n250 OK\n";
  const ReplySnap want0{
      250, {L(250, '-', "a"), L(250, '+', "k=", "x\n..y\r\n\n"), L(250, ' ', "OK")}, first, 0};
  const ReplySnap want1{650, {L(650, ' ', "BW 1 2")}, "650 BW 1 2\r\n", first.size()};
  EXPECT_EQ(d.replies[0], want0);
  EXPECT_EQ(d.replies[1], want1);
  std::vector<std::string> got;
  DataLines dl(std::string_view("x\n..y\r\n\n"));
  for (std::string_view line; dl.next(line);) got.emplace_back(line);
  EXPECT_EQ(got, (std::vector<std::string>{"x", ".y", ""}));
}

// ---------------------------------------------------------------------------
// State accessors.

TEST(ReplyReaderState, MidReplyAndInDataBlock) {
  ReplyReader r;
  Reply rep;
  r.feed("250-a\r\n");
  EXPECT_EQ(r.next(rep), Next::need_more);
  EXPECT_TRUE(r.mid_reply());
  EXPECT_FALSE(r.in_data_block());
  EXPECT_EQ(r.stream_offset(), 0u);

  r.feed("250+k=\r\nabc");
  EXPECT_EQ(r.next(rep), Next::need_more);
  EXPECT_TRUE(r.mid_reply());
  EXPECT_TRUE(r.in_data_block());

  r.feed("\r\n.\r\n");
  EXPECT_EQ(r.next(rep), Next::need_more);
  EXPECT_TRUE(r.mid_reply());
  EXPECT_FALSE(r.in_data_block());

  r.feed("250 OK\r\n");
  ASSERT_EQ(r.next(rep), Next::reply);
  EXPECT_EQ(rep.lines.size(), 3u);
  EXPECT_EQ(rep.lines[1].data, "abc\r\n");
  EXPECT_EQ(r.next(rep), Next::need_more);
  EXPECT_FALSE(r.mid_reply());
  EXPECT_FALSE(r.in_data_block());
  EXPECT_EQ(r.stream_offset(), std::strlen("250-a\r\n250+k=\r\nabc\r\n.\r\n250 OK\r\n"));
}

TEST(ReplyReaderState, PartialLineIsMidReply) {
  ReplyReader r;
  Reply rep;
  r.feed("25");
  EXPECT_EQ(r.next(rep), Next::need_more);
  EXPECT_TRUE(r.mid_reply());
  EXPECT_FALSE(r.failed());
}

TEST(ReplyReaderState, OptionsAreKept) {
  ParserOptions opts;
  opts.max_line = 1234;
  opts.max_reply = 56789;
  opts.allow_bare_lf = true;
  ReplyReader r(opts);
  EXPECT_EQ(r.options().max_line, 1234u);
  EXPECT_EQ(r.options().max_reply, 56789u);
  EXPECT_TRUE(r.options().allow_bare_lf);
  ParserOptions def;
  EXPECT_FALSE(def.allow_bare_lf);
}

// ---------------------------------------------------------------------------
// Incremental input.

TEST(ReplyReaderIncremental, OneByteAtATime) {
  const std::string in = mixed_input();
  Drained d = parse_bytewise(in);
  EXPECT_EQ(d.last, Next::need_more);
  const std::vector<ReplySnap> want = mixed_expected();
  ASSERT_EQ(d.replies.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(d.replies[i], want[i]) << "reply " << i;
}

TEST(ReplyReaderIncremental, EveryPrefixNeedsMoreAndYieldsOnlyCompleteReplies) {
  const std::string in = mixed_input();
  const std::vector<ReplySnap> want = mixed_expected();
  // Each prefix is fed from memory that ends at a guard page: feed() must copy
  // exactly the bytes it is given.
  test::GuardedBuffer guard;
  ASSERT_LE(in.size(), guard.capacity());
  for (std::size_t n = 0; n <= in.size(); ++n) {
    ReplyReader r;
    r.feed(guard.place(std::string_view(in).substr(0, n)));
    Drained d = drain(r);
    ASSERT_EQ(d.last, Next::need_more) << "prefix " << n << ": " << r.error().message;
    std::size_t complete = 0;
    for (const auto& w : want)
      if (w.offset + w.raw.size() <= n) ++complete;
    ASSERT_EQ(d.replies.size(), complete) << "prefix " << n;
    for (std::size_t i = 0; i < complete; ++i) ASSERT_EQ(d.replies[i], want[i]) << "prefix " << n;
    const std::uint64_t done =
        complete ? want[complete - 1].offset + want[complete - 1].raw.size() : 0;
    EXPECT_EQ(r.mid_reply(), n > done) << "prefix " << n;
    EXPECT_EQ(r.stream_offset(), done) << "prefix " << n;
  }
}

TEST(ReplyReaderIncremental, RandomSplitsMatchWholeFeed) {
  const std::string in = mixed_input();
  const Drained whole = parse_whole(in);
  ASSERT_EQ(whole.last, Next::need_more);
  ASSERT_EQ(whole.replies, mixed_expected());

  std::mt19937_64 rng(0x7043'6f6e'2023ull);
  for (int iter = 0; iter < 2000; ++iter) {
    std::uniform_int_distribution<int> ncuts_d(1, 40);
    std::uniform_int_distribution<std::size_t> pos_d(0, in.size());
    std::vector<std::size_t> cuts{0, in.size()};
    for (int k = ncuts_d(rng); k > 0; --k) cuts.push_back(pos_d(rng));
    std::sort(cuts.begin(), cuts.end());

    ReplyReader r;
    Drained acc;
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
      const std::string_view chunk = std::string_view(in).substr(cuts[i], cuts[i + 1] - cuts[i]);
      // Alternate between the copying and the zero-copy entry points.
      if (rng() & 1) {
        r.feed(chunk);
      } else {
        const std::size_t min_free = 1 + rng() % 64;
        feed_prepared(r, chunk, min_free, 1 + rng() % 128);
      }
      if (rng() % 4 != 0) drain_into(r, acc);  // sometimes feed twice before parsing
      ASSERT_NE(acc.last, Next::error) << "iteration " << iter << ": " << r.error().message;
    }
    drain_into(r, acc);
    ASSERT_EQ(acc.last, Next::need_more) << "iteration " << iter;
    ASSERT_EQ(acc.replies, whole.replies) << "iteration " << iter;
  }
}

TEST(ReplyReaderIncremental, PrepareGivesAtLeastMinFree) {
  ReplyReader r;
  for (std::size_t want : {std::size_t{1}, std::size_t{16}, std::size_t{4096},
                           std::size_t{16 * 1024}, std::size_t{100000}}) {
    std::span<char> s = r.prepare(want);
    EXPECT_GE(s.size(), want);
    // The whole span is writable.
    std::memset(s.data(), 'x', s.size());
    r.commit(0);
  }
  std::span<char> def = r.prepare();
  EXPECT_GE(def.size(), 16u * 1024u);
  Reply rep;
  EXPECT_EQ(r.next(rep), Next::need_more);
  EXPECT_FALSE(r.mid_reply());
}

TEST(ReplyReaderIncremental, PrepareCommitSplittingCrAndLf) {
  const std::string in = mixed_input();
  const std::vector<ReplySnap> want = mixed_expected();
  // Split right after every CR (so the LF comes in the next read), and also
  // right before every CR.
  for (int mode = 0; mode < 2; ++mode) {
    ReplyReader r;
    Drained acc;
    std::size_t start = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (in[i] != '\r') continue;
      const std::size_t cut = mode == 0 ? i + 1 : i;
      feed_prepared(r, std::string_view(in).substr(start, cut - start), 8, SIZE_MAX);
      drain_into(r, acc);
      ASSERT_NE(acc.last, Next::error) << r.error().message;
      start = cut;
    }
    feed_prepared(r, std::string_view(in).substr(start), 8, SIZE_MAX);
    drain_into(r, acc);
    EXPECT_EQ(acc.last, Next::need_more);
    EXPECT_EQ(acc.replies, want) << "mode " << mode;
  }
}

TEST(ReplyReaderIncremental, CommitLessThanPrepared) {
  ReplyReader r;
  Reply rep;
  std::span<char> s = r.prepare(64);
  ASSERT_GE(s.size(), 64u);
  std::memcpy(s.data(), "250 OK\r\nGARBAGE-NOT-COMMITTED", 29);
  r.commit(8);
  ASSERT_EQ(r.next(rep), Next::reply);
  EXPECT_EQ(rep.raw, "250 OK\r\n");
  EXPECT_EQ(r.next(rep), Next::need_more);
  EXPECT_FALSE(r.mid_reply());
  // The uncommitted bytes were never part of the stream.
  r.feed("650 BW 0 0\r\n");
  ASSERT_EQ(r.next(rep), Next::reply);
  EXPECT_EQ(rep.raw, "650 BW 0 0\r\n");
  EXPECT_EQ(rep.offset, 8u);
}

TEST(ReplyReaderIncremental, LargeDataBlockInSmallReads) {
  // ~1 MiB of data lines through small prepare() windows: the buffer has to
  // grow while the reply is incomplete and the views must come out right.
  std::string block;
  for (int i = 0; i < 20000; ++i) {
    block += "r relay" + std::to_string(i) + " AAAAAAAAAAAAAAAAAAAAAAAAAAA BBBB 2024-01-15\r\n";
    if (i % 1000 == 0) block += "..dot\r\n";
  }
  const std::string head = "250+ns/all=\r\n";
  const std::string in = "650 BW 1 1\r\n" + head + block + ".\r\n250 OK\r\n650 BW 2 2\r\n";
  ReplyReader r;
  Drained acc;
  std::string_view rest = in;
  while (!rest.empty()) {
    std::span<char> s = r.prepare(4096);
    const std::size_t n = std::min<std::size_t>({s.size(), rest.size(), 4093});
    std::memcpy(s.data(), rest.data(), n);
    r.commit(n);
    rest.remove_prefix(n);
    drain_into(r, acc);
    ASSERT_NE(acc.last, Next::error) << r.error().message;
  }
  ASSERT_EQ(acc.replies.size(), 3u);
  EXPECT_EQ(acc.replies[0].raw, "650 BW 1 1\r\n");
  ASSERT_EQ(acc.replies[1].lines.size(), 2u);
  EXPECT_EQ(acc.replies[1].lines[0].text, "ns/all=");
  EXPECT_EQ(acc.replies[1].lines[0].data, block);
  EXPECT_EQ(acc.replies[1].offset, 12u);
  EXPECT_EQ(acc.replies[2].raw, "650 BW 2 2\r\n");
  EXPECT_EQ(acc.replies[2].offset, in.size() - 12);
}

TEST(ReplyReaderIncremental, ANewReaderTakesOverALargeBufferMidReply) {
  // A reader that framed ~1 MiB leaves its buffer as the thread's spare; the
  // next reader here takes it over when it must grow that far, carrying the
  // incomplete reply's bytes with it.
  std::string block;
  for (int i = 0; i < 20000; ++i)
    block += "r relay" + std::to_string(i) + " AAAAAAAAAAAAAAAAAAAAAAAAAAA BBBB 2024-01-15\r\n";
  const std::string in = "650 BW 1 1\r\n250+ns/all=\r\n" + block + ".\r\n250 OK\r\n";
  {
    ReplyReader first;
    first.feed(in);
    Drained acc;
    drain_into(first, acc);
    ASSERT_EQ(acc.replies.size(), 2u);
  }
  ReplyReader r;
  std::string_view rest = in;
  Drained acc;
  feed_prepared(r, rest.substr(0, 5000), 4096, 1000);  // small: its own 64 KiB
  drain_into(r, acc);
  rest.remove_prefix(5000);
  const std::span<char> big = r.prepare(512 * 1024);  // 5,000 - 12 bytes pending
  EXPECT_GE(big.size() + 4988, block.size()) << "the spare was not taken over";
  feed_prepared(r, rest, 4096, 1 << 20);
  drain_into(r, acc);
  ASSERT_NE(acc.last, Next::error) << r.error().message;
  ASSERT_EQ(acc.replies.size(), 2u);
  EXPECT_EQ(acc.replies[0].raw, "650 BW 1 1\r\n");
  ASSERT_EQ(acc.replies[1].lines.size(), 2u);
  EXPECT_EQ(acc.replies[1].lines[0].data, block);
  EXPECT_EQ(acc.replies[1].offset, 12u);
}

TEST(ReplyReaderIncremental, ReplyViewsStayValidUntilNextCall) {
  // Two replies already buffered: the first reply's views must still read
  // right after it was returned, before next() is called again.
  ReplyReader r;
  r.feed("250-first=1\r\n250 OK\r\n250 second\r\n");
  Reply a;
  ASSERT_EQ(r.next(a), Next::reply);
  const std::string a_text(a.lines[0].text);
  EXPECT_EQ(a_text, "first=1");
  EXPECT_EQ(a.raw, "250-first=1\r\n250 OK\r\n");
  Reply b;
  ASSERT_EQ(r.next(b), Next::reply);
  EXPECT_EQ(b.status_text(), "second");
  EXPECT_EQ(b.offset, a_text.size() + 4 + 2 + 8);
}

// ---------------------------------------------------------------------------
// Errors.

struct ErrorCase {
  const char* name;
  std::string input;
  Errc code;
  std::uint64_t offset;
  std::size_t replies_before = 0;  // complete replies preceding the bad byte
  ParserOptions opts{};
};

// Checks the error for a whole feed and for a byte-at-a-time feed: same code,
// same offset, the replies before it delivered, and the error sticks.
void expect_error(const ErrorCase& c) {
  SCOPED_TRACE(c.name);
  std::mt19937_64 rng(c.input.size());
  for (int mode = 0; mode < 5; ++mode) {
    // 0: whole feed; 1: byte at a time; 2-4: random prepare()/commit() reads.
    SCOPED_TRACE(mode == 0 ? "whole feed" : mode == 1 ? "byte at a time" : "random reads");
    ReplyReader r(c.opts);
    Drained d;
    if (mode >= 1) {
      std::string_view rest = c.input;
      while (!rest.empty() && d.last != Next::error) {
        const std::size_t n = mode == 1 ? 1 : std::min<std::size_t>(rest.size(), 1 + rng() % 7);
        feed_prepared(r, rest.substr(0, n), 1 + rng() % 32, SIZE_MAX);
        rest.remove_prefix(n);
        drain_into(r, d);
      }
    } else {
      r.feed(c.input);
      drain_into(r, d);
    }
    EXPECT_EQ(d.last, Next::error);
    EXPECT_EQ(d.replies.size(), c.replies_before);
    ASSERT_TRUE(r.failed());
    EXPECT_EQ(r.error().code, c.code) << r.error().message;
    EXPECT_EQ(r.error().offset, c.offset) << r.error().message;
    EXPECT_FALSE(r.error().message.empty());
    // Sticky.
    Reply rep;
    EXPECT_EQ(r.next(rep), Next::error);
    r.feed("250 OK\r\n");
    EXPECT_EQ(r.next(rep), Next::error);
    EXPECT_EQ(r.error().code, c.code);
    EXPECT_EQ(r.error().offset, c.offset);
  }
}

TEST(ReplyReaderErrors, NonDigitStatusCode) {
  expect_error({"letter in third digit", "25x OK\r\n", Errc::bad_status_code, 2});
  expect_error({"letters", "abc OK\r\n", Errc::bad_status_code, 0});
  expect_error({"space first", " 250 OK\r\n", Errc::bad_status_code, 0});
  expect_error({"short code then CRLF", "25\r\n", Errc::bad_status_code, 2});
  expect_error({"after a good reply", "250 OK\r\n2X0 OK\r\n", Errc::bad_status_code, 9, 1});
  expect_error({"second line of a reply", "250-a\r\n25_ OK\r\n", Errc::bad_status_code, 9});
  expect_error({"empty line", "250 OK\r\n\r\n", Errc::bad_status_code, 8, 1});
}

TEST(ReplyReaderErrors, BadSeparator) {
  expect_error({"letter", "250xOK\r\n", Errc::bad_separator, 3});
  expect_error({"no separator at all", "250\r\n", Errc::bad_separator, 3});
  expect_error({"fourth digit", "2500 OK\r\n", Errc::bad_separator, 3});
  expect_error({"second line", "250-a\r\n250*OK\r\n", Errc::bad_separator, 10});
  expect_error({"after replies", "650 BW 1 2\r\n250 OK\r\n250=x\r\n", Errc::bad_separator, 23, 2});
}

TEST(ReplyReaderErrors, BareLfIsAnErrorByDefault) {
  expect_error({"end line", "250 OK\n", Errc::bare_lf, 6});
  expect_error({"mid line", "250-a\n250 OK\r\n", Errc::bare_lf, 5});
  expect_error({"second reply", "250 OK\r\n650 BW 1 2\n", Errc::bare_lf, 18, 1});
  expect_error({"data line", "250+k=\r\nabc\n.\r\n250 OK\r\n", Errc::bare_lf, 11});
  expect_error({"data terminator", "250+k=\r\nabc\r\n.\n250 OK\r\n", Errc::bare_lf, 14});
  expect_error({"data-line header", "250+k=\n.\r\n250 OK\r\n", Errc::bare_lf, 6});
}

TEST(ReplyReaderErrors, StatusCodeChangedMidReply) {
  // "Multiple lines in a single reply ... are guaranteed to share the same
  // status code": the line that breaks it is reported at its first byte.
  expect_error({"end line", "250-a\r\n251 OK\r\n", Errc::status_mismatch, 7});
  expect_error({"async inside sync", "250-a\r\n650 BW 1 2\r\n", Errc::status_mismatch, 7});
  expect_error({"after data block", "250+k=\r\nx\r\n.\r\n251 OK\r\n", Errc::status_mismatch, 14});
  expect_error({"third line", "650-a\r\n650-b\r\n250 OK\r\n", Errc::status_mismatch, 14});
  expect_error(
      {"after a good reply", "250 OK\r\n552-a\r\n553 b\r\n", Errc::status_mismatch, 15, 1});
}

TEST(ReplyReaderErrors, BadDataBlockTerminator) {
  // A line starting ".\r" can only be the terminator ".\r\n" (tor stuffs any
  // other line starting with '.'); anything but LF after it is malformed.
  expect_error(
      {"dot CR letter", "250+k=\r\nabc\r\n.\rX\r\n.\r\n250 OK\r\n", Errc::bad_data_block, 15});
  expect_error({"first data line", "250+k=\r\n.\rX\r\n.\r\n250 OK\r\n", Errc::bad_data_block, 10});
}

TEST(ReplyReaderErrors, LineTooLong) {
  ParserOptions opts;
  opts.max_line = 32;  // counting the CRLF
  const std::string head = "250-ok\r\n";
  // 32 bytes with CRLF: accepted.
  const std::string fits = "250-" + std::string(26, 'x') + "\r\n";
  ASSERT_EQ(fits.size(), 32u);
  {
    Drained d = parse_whole(head + fits + "250 OK\r\n", opts);
    EXPECT_EQ(d.last, Next::need_more);
    ASSERT_EQ(d.replies.size(), 1u);
    EXPECT_EQ(d.replies[0].lines[1].text, std::string(26, 'x'));
  }
  // 33 bytes: the byte past the limit is the error.
  const std::string over = "250-" + std::string(27, 'x') + "\r\n";
  expect_error({"one byte over", head + over + "250 OK\r\n", Errc::line_too_long, head.size() + 32,
                0, opts});
  // The LF has not arrived: the reader must not wait for it.
  expect_error({"no LF yet", head + "250-" + std::string(200, 'y'), Errc::line_too_long,
                head.size() + 32, 0, opts});
  // An end line, after a complete reply.
  expect_error({"end line", "250 OK\r\n" + std::string("250 ") + std::string(40, 'z') + "\r\n",
                Errc::line_too_long, 8 + 32, 1, opts});
  // A data-block line is a line too.
  expect_error({"data line", "250+k=\r\n" + std::string(60, 'd') + "\r\n.\r\n250 OK\r\n",
                Errc::line_too_long, 8 + 32, 0, opts});
}

TEST(ReplyReaderErrors, LineTooLongIsReportedWithoutBufferingMore) {
  ParserOptions opts;
  opts.max_line = 64;
  ReplyReader r(opts);
  Reply rep;
  r.feed("250-");
  std::size_t fed = 4;
  Next n = Next::need_more;
  while (fed < 10000) {
    r.feed("y");
    ++fed;
    n = r.next(rep);
    if (n != Next::need_more) break;
  }
  ASSERT_EQ(n, Next::error);
  // With 62 bytes buffered the line could still end in CRLF within the limit;
  // once the byte at offset 64 is there it cannot.
  EXPECT_GE(fed, 63u) << "error reported while the line could still fit";
  EXPECT_LE(fed, 65u) << "the reader kept buffering past max_line";
  EXPECT_EQ(r.error().code, Errc::line_too_long);
  EXPECT_EQ(r.error().offset, 64u);
}

TEST(ReplyReaderErrors, ReplyTooLarge) {
  ParserOptions opts;
  opts.max_reply = 64;
  // Exactly 64 bytes: accepted.
  const std::string l1 = "250-" + std::string(20, 'a') + "\r\n";  // 26
  const std::string end = "250 OK\r\n";                           // 8
  const std::string exact = l1 + "250-" + std::string(24, 'b') + "\r\n" + end;
  ASSERT_EQ(exact.size(), 64u);
  {
    Drained d = parse_whole(exact + exact + exact, opts);
    // The limit is per reply, not per stream.
    EXPECT_EQ(d.last, Next::need_more);
    EXPECT_EQ(d.replies.size(), 3u);
  }
  const std::string over = l1 + "250-" + std::string(25, 'b') + "\r\n" + end;
  ASSERT_EQ(over.size(), 65u);
  expect_error({"one byte over", over, Errc::reply_too_large, 64, 0, opts});
  expect_error({"after a good reply", exact + over, Errc::reply_too_large, 64 + 64, 1, opts});
}

// Each limit at limit - 1, limit and limit + 1 bytes: a reply (a line) of
// exactly the limit is accepted, one byte more is an error at the limit's
// offset; fed whole or byte by byte, and byte by byte the error comes as
// soon as the bytes buffered could no longer end within the limit (never
// after holding more than the limit), wherever the input is: a status code,
// a separator, a stuffed dot, text.
TEST(ReplyReaderErrors, LimitsAreExactAtTheBoundary) {
  struct Case {
    const char* what;
    std::string reply;  // one complete reply
    bool line;          // limit max_line on the reply's longest line (else max_reply)
    std::size_t longest_line = 0;
  };
  const Case cases[] = {
      {"single line", "250 " + std::string(20, 'x') + "\r\n", false},
      {"ends after a status code", "250-a\r\n250 OK\r\n", false},
      {"data block", "250+k=\r\nab\r\n.x\r\n..\r\n.\r\n250 OK\r\n", false},
      {"empty data block", "250+k=\r\n.\r\n250 OK\r\n", false},
      {"many short lines", "250-\r\n250-\r\n250-\r\n250 \r\n", false},
      {"long line", "250-a\r\n250-" + std::string(40, 'y') + "\r\n250 OK\r\n", true, 46},
      {"long data line", "250+k=\r\n." + std::string(40, 'd') + "\r\n.\r\n250 OK\r\n", true, 43},
  };
  for (const Case& c : cases) {
    const std::size_t size = c.line ? c.longest_line : c.reply.size();
    for (const std::size_t limit : {size - 1, size, size + 1}) {
      SCOPED_TRACE(::testing::Message() << c.what << ", limit " << limit << " for " << size);
      ParserOptions opts;
      (c.line ? opts.max_line : opts.max_reply) = limit;
      const bool fits = size <= limit;
      // Whole.
      {
        ReplyReader r(opts);
        Reply rep;
        r.feed(c.reply);
        const Next n = r.next(rep);
        ASSERT_EQ(n, fits ? Next::reply : Next::error) << r.error().message;
        if (!fits) {
          EXPECT_EQ(r.error().code, c.line ? Errc::line_too_long : Errc::reply_too_large);
          if (!c.line) {
            EXPECT_EQ(r.error().offset, limit);
          }
        }
      }
      // Byte by byte: never more than the limit held without an answer.
      ReplyReader r(opts);
      Reply rep;
      Next n = Next::need_more;
      std::size_t fed = 0;
      while (fed < c.reply.size() && n == Next::need_more) {
        r.feed(c.reply.substr(fed++, 1));
        n = r.next(rep);
        if (n == Next::need_more && !c.line) {
          ASSERT_LT(fed, limit) << "holds the limit's bytes of an unfinished reply";
        }
      }
      ASSERT_EQ(n, fits ? Next::reply : Next::error) << r.error().message;
      if (!fits) {
        EXPECT_EQ(r.error().code, c.line ? Errc::line_too_long : Errc::reply_too_large);
        if (!c.line) {
          EXPECT_EQ(r.error().offset, limit);
          EXPECT_EQ(fed, limit) << "reported late";
        }
      }
    }
  }
}

// Fed byte by byte under every max_reply below its size, a reply is refused
// at the byte that reaches the limit, wherever that byte is: a status code,
// a separator, a data line's dot, text, a line end.
TEST(ReplyReaderErrors, ReplyLimitIsReportedAtTheLimitWhereverItFalls) {
  const std::string reply = "250-abc\r\n250+k=\r\nab\r\n.x\r\n..\r\n\r\n.\r\n250-\r\n250 OK\r\n";
  for (std::size_t limit = 1; limit < reply.size(); ++limit) {
    SCOPED_TRACE(::testing::Message() << "max_reply " << limit);
    ReplyReader r(ParserOptions{.max_reply = limit});
    Reply rep;
    Next n = Next::need_more;
    std::size_t fed = 0;
    while (fed < reply.size() && n == Next::need_more) {
      r.feed(reply.substr(fed++, 1));
      n = r.next(rep);
    }
    ASSERT_EQ(n, Next::error);
    EXPECT_EQ(r.error().code, Errc::reply_too_large);
    EXPECT_EQ(r.error().offset, limit);
    EXPECT_EQ(fed, limit) << "held bytes past max_reply before saying so";
  }
}

TEST(ReplyReaderErrors, LimitErrorDoesNotDependOnReadSplits) {
  // A line that breaks both limits: the reply limit's position (1024) comes
  // before the line limit's (1012 + 64), so reply_too_large it is, whether
  // the LF is already buffered or not. It used to be line_too_long for a
  // whole-buffer feed and reply_too_large for small reads.
  ParserOptions opts;
  opts.max_line = 64;
  opts.max_reply = 1024;
  std::string in;
  while (in.size() < 1000) in += "250-" + std::string(40, 'a') + "\r\n";
  ASSERT_EQ(in.size(), 1012u);
  in += "250-" + std::string(80, 'b') + "\r\n250 OK\r\n";
  expect_error({"reply limit first", in, Errc::reply_too_large, 1024, 0, opts});
  // And the other way round: the line limit comes first.
  opts.max_reply = 1100;
  expect_error({"line limit first", in, Errc::line_too_long, 1012 + 64, 0, opts});
  // A tie goes to max_reply, however the stream is split.
  opts.max_reply = 1076;
  expect_error({"tie", in, Errc::reply_too_large, 1076, 0, opts});
}

TEST(ReplyReaderErrors, ErrorsDeepInARunOfDataLines) {
  // Runs of ordinary data lines are skipped in bulk (16 bytes at a time);
  // an error inside one must be found at the same offset as line by line.
  const std::string head = "250+ns/all=\r\n";
  std::string run;
  for (int i = 0; i < 40; ++i) run += "w Bandwidth=" + std::to_string(1000 + i) + " x\r\n";
  const std::string tail = "p reject 1-65535\r\n.\r\n250 OK\r\n";
  {
    const std::string in = head + run + "s Fast Valid\n" + run + tail;
    expect_error({"bare LF", in, Errc::bare_lf, head.size() + run.size() + 12});
  }
  {
    ParserOptions opts;
    opts.max_line = 64;
    const std::string in = head + run + "v " + std::string(100, 'v') + "\r\n" + run + tail;
    expect_error({"long line", in, Errc::line_too_long, head.size() + run.size() + 64, 0, opts});
  }
  {
    ParserOptions opts;
    opts.max_reply = 500;
    const std::string in = head + run + run + tail;
    expect_error({"reply limit", in, Errc::reply_too_large, 500, 0, opts});
  }
  // And the same text without errors is framed whole.
  const Drained d = parse_whole(head + run + "..dot\r\n\r\n" + run + tail);
  ASSERT_EQ(d.replies.size(), 1u);
  EXPECT_EQ(d.replies[0].lines[0].data, run + "..dot\r\n\r\n" + run + "p reject 1-65535\r\n");
}

TEST(ReplyReaderErrors, ReplyTooLargeBeforeItCompletes) {
  // A data block that never ends, made of short lines (so max_line is not
  // what stops it): the reader must give up at max_reply, not buffer on.
  ParserOptions opts;
  opts.max_reply = 256;
  ReplyReader r(opts);
  Reply rep;
  r.feed("250+ns/all=\r\n");
  Next n = Next::need_more;
  std::size_t fed = 13;
  while (fed < 100000) {
    r.feed("r x\r\n");
    fed += 5;
    n = r.next(rep);
    if (n != Next::need_more) break;
  }
  ASSERT_EQ(n, Next::error);
  EXPECT_LE(fed, 256u + 5u);
  EXPECT_EQ(r.error().code, Errc::reply_too_large);
  EXPECT_EQ(r.error().offset, 256u);
}

TEST(ReplyReaderErrors, ReplyTooLargeWithEmptyLines) {
  // Lines with no text still count towards max_reply.
  ParserOptions opts;
  opts.max_reply = 64;
  std::string mid;
  for (int i = 0; i < 100; ++i) mid += "250-\r\n";
  expect_error({"empty mid lines", mid, Errc::reply_too_large, 64, 0, opts});
  std::string data = "250+k=\r\n";
  for (int i = 0; i < 100; ++i) data += "\r\n";
  expect_error({"empty data lines", data, Errc::reply_too_large, 64, 0, opts});
  std::string dots = "250+k=\r\n";
  for (int i = 0; i < 100; ++i) dots += "..\r\n";
  expect_error({"stuffed dots", dots, Errc::reply_too_large, 64, 0, opts});
}

TEST(ReplyReaderErrors, MessagesSayWhatWentWrong) {
  // Each kind of error gets its own message.
  ParserOptions small;
  small.max_line = 16;
  small.max_reply = 24;
  const std::vector<std::pair<std::string, ParserOptions>> inputs = {
      {"25x OK\r\n", {}},
      {"250xOK\r\n", {}},
      {"250 OK\n", {}},
      {"250-a\r\n251 OK\r\n", {}},
      {"250+k=\r\n.\rX\r\n", {}},
      {"250 " + std::string(30, 'x') + "\r\n", small},
      {"250-0123456789\r\n250-0123456789\r\n250 OK\r\n", small},
  };
  std::map<Errc, std::string> by_code;
  for (const auto& [in, opts] : inputs) {
    ReplyReader r(opts);
    r.feed(in);
    Reply rep;
    ASSERT_EQ(r.next(rep), Next::error) << printable(in);
    const Error& e = r.error();
    EXPECT_FALSE(e.message.empty());
    by_code[e.code] = e.message;
  }
  EXPECT_EQ(by_code.size(), inputs.size()) << "distinct inputs should give distinct Errc values";
  std::vector<std::string> msgs;
  for (const auto& [code, msg] : by_code) msgs.push_back(msg);
  std::sort(msgs.begin(), msgs.end());
  EXPECT_EQ(std::adjacent_find(msgs.begin(), msgs.end()), msgs.end())
      << "two kinds of error share a message";
}

TEST(ReplyReaderErrors, ResetRecovers) {
  ReplyReader r;
  Reply rep;
  r.feed("250 OK\r\nbogus\r\n");
  ASSERT_EQ(r.next(rep), Next::reply);
  ASSERT_EQ(r.next(rep), Next::error);
  EXPECT_TRUE(r.failed());
  EXPECT_EQ(r.next(rep), Next::error);
  EXPECT_EQ(r.next(rep), Next::error);

  r.reset();
  EXPECT_FALSE(r.failed());
  EXPECT_EQ(r.error().code, Errc::ok);
  EXPECT_FALSE(r.mid_reply());
  EXPECT_FALSE(r.in_data_block());
  EXPECT_EQ(r.stream_offset(), 0u);
  EXPECT_EQ(r.next(rep), Next::need_more);

  r.feed("650 BW 5 6\r\n250 OK\r\n");
  ASSERT_EQ(r.next(rep), Next::reply);
  EXPECT_EQ(rep.code, 650);
  EXPECT_EQ(rep.offset, 0u);
  ASSERT_EQ(r.next(rep), Next::reply);
  EXPECT_EQ(rep.offset, 12u);
  EXPECT_EQ(r.next(rep), Next::need_more);
}

TEST(ReplyReaderErrors, ResetMidReplyAndMidDataBlock) {
  ReplyReader r;
  Reply rep;
  r.feed("250+k=\r\nhalf a data bl");
  ASSERT_EQ(r.next(rep), Next::need_more);
  ASSERT_TRUE(r.in_data_block());
  r.reset();
  EXPECT_FALSE(r.in_data_block());
  EXPECT_FALSE(r.mid_reply());
  // A line that would have been data before the reset is a reply now.
  r.feed("250 OK\r\n");
  ASSERT_EQ(r.next(rep), Next::reply);
  EXPECT_EQ(rep.raw, "250 OK\r\n");
  EXPECT_EQ(rep.offset, 0u);
}

// ---------------------------------------------------------------------------
// ParserOptions::record_data_lines: the LF offsets of each data block.

std::vector<std::uint32_t> lf_offsets(std::string_view data) {
  std::vector<std::uint32_t> out;
  for (std::size_t i = 0; i < data.size(); ++i)
    if (data[i] == '\n') out.push_back(std::uint32_t(i));
  return out;
}

// A stream of replies with data blocks of every shape the framing treats
// differently: long and short lines (the SIMD skip and the exact loop),
// stuffed dots, empty lines, several blocks in one reply, empty blocks, and
// events in between. Bare LFs inside data lines when `bare_lf`.
std::string record_stream(std::mt19937_64& rng, bool bare_lf) {
  std::string s;
  for (int r = 0; r < 12; ++r) {
    if (rng() % 3 == 0) s += "650 BW 1 2\r\n";
    const int blocks = 1 + int(rng() % 3);
    for (int b = 0; b < blocks; ++b) {
      s += "250+key" + std::to_string(b) + "=\r\n";
      const int lines = int(rng() % 60);
      for (int l = 0; l < lines; ++l) {
        const int kind = int(rng() % 10);
        if (kind == 0) {
          s += "\r\n";
        } else if (kind == 1) {
          s += "..stuffed " + std::string(rng() % 90, 'd') + "\r\n";
        } else {
          s += char('a' + rng() % 26);
          s += ' ' + std::string(rng() % (kind == 2 ? 300 : 80), 'x');
          s += bare_lf && rng() % 4 == 0 ? "\n" : "\r\n";
        }
      }
      s += ".\r\n";
    }
    s += "250 OK\r\n";
  }
  return s;
}

TEST(ReplyReaderRecordLines, OffsetsEqualANaiveScanForRandomSplits) {
  std::mt19937_64 rng(0x11e5);
  for (int iter = 0; iter < 300; ++iter) {
    const bool bare = iter % 3 == 2;
    const std::string in = record_stream(rng, bare);
    ParserOptions opts;
    opts.record_data_lines = true;
    opts.allow_bare_lf = bare;
    if (iter % 5 == 4) opts.max_line = 32 + rng() % 40;  // below 64: no SIMD skip
    ReplyReader rd(opts), plain(ParserOptions{.max_line = opts.max_line, .allow_bare_lf = bare});
    std::size_t replies = 0, blocks = 0;
    bool failed = false;
    for (std::size_t pos = 0; pos < in.size() && !failed;) {
      const std::size_t n = std::min<std::size_t>(in.size() - pos, 1 + rng() % 700);
      rd.feed(std::string_view(in).substr(pos, n));
      plain.feed(std::string_view(in).substr(pos, n));
      pos += n;
      Reply r, p;
      Next next;
      while ((next = rd.next(r)) == Next::reply) {
        ASSERT_EQ(plain.next(p), Next::reply);
        ASSERT_EQ(r.raw, p.raw);
        for (const ReplyLine& l : r.lines) {
          if (l.sep != Sep::data) {
            EXPECT_TRUE(l.data_line_ends.empty());
            continue;
          }
          const std::vector<std::uint32_t> want = lf_offsets(l.data);
          ASSERT_EQ(std::vector<std::uint32_t>(l.data_line_ends.begin(), l.data_line_ends.end()),
                    want)
              << "reply " << replies;
          ++blocks;
        }
        for (const ReplyLine& l : p.lines) EXPECT_TRUE(l.data_line_ends.empty());
        ++replies;
      }
      if (next == Next::error) {  // a line over a small max_line: both readers agree
        EXPECT_EQ(plain.next(r), Next::error);
        EXPECT_EQ(rd.error().offset, plain.error().offset);
        failed = true;
      }
    }
    if (!failed) {
      std::size_t events = 0;
      for (std::size_t at = 0; (at = in.find("650 BW", at)) != std::string::npos; ++at) ++events;
      EXPECT_EQ(replies, 12u + events) << "iteration " << iter;
      EXPECT_GE(blocks, 12u);
    }
    if (HasFailure()) return;
  }
}

// One read holding a block of many lines, some longer than 64 bytes: the LF
// list fills up (and grows) in the middle of the block scan, at every
// distance from a long line's start.
TEST(ReplyReaderRecordLines, ListFillsUpMidBlockInOneRead) {
  std::mt19937_64 rng(0x5ca1ab1e);
  for (int iter = 0; iter < 20; ++iter) {
    std::string data;
    while (data.size() < 400'000) {
      data += std::string(rng() % 4 == 0 ? 64 + rng() % 500 : 1 + rng() % 40, 'a');
      data += "\r\n";
    }
    ReplyReader rd(ParserOptions{.record_data_lines = true});
    rd.feed("250+ns/all=\r\n" + data + ".\r\n250 OK\r\n");
    Reply r;
    ASSERT_EQ(rd.next(r), Next::reply) << rd.error().message;
    ASSERT_EQ(r.lines[0].data, data);
    EXPECT_EQ(std::vector<std::uint32_t>(r.lines[0].data_line_ends.begin(),
                                         r.lines[0].data_line_ends.end()),
              lf_offsets(data));
  }
}

TEST(ReplyReaderRecordLines, IgnoredWhenOffsetsCouldOverflow) {
  ReplyReader rd(ParserOptions{.max_reply = std::size_t(1) << 33, .record_data_lines = true});
  rd.feed("250+k=\r\na\r\nb\r\n.\r\n250 OK\r\n");
  Reply r;
  ASSERT_EQ(rd.next(r), Next::reply);
  EXPECT_EQ(r.lines[0].data, "a\r\nb\r\n");
  EXPECT_TRUE(r.lines[0].data_line_ends.empty());
}

TEST(ReplyReaderRecordLines, ResetAndOwnedCopies) {
  ReplyReader rd(ParserOptions{.record_data_lines = true});
  rd.feed("250+k=\r\nabc\r\n");
  rd.reset();  // mid data block: nothing of it may leak into the next reply
  rd.feed("250+k=\r\nxy\r\n.\r\n250 OK\r\n");
  Reply r;
  ASSERT_EQ(rd.next(r), Next::reply);
  ASSERT_EQ(r.lines[0].data_line_ends.size(), 1u);
  EXPECT_EQ(r.lines[0].data_line_ends[0], 3u);
  const OwnedReply owned = r.copy();  // the index stays with the reader
  EXPECT_TRUE(owned.lines[0].data_line_ends.empty());
  EXPECT_EQ(owned.lines[0].data, "xy\r\n");
}

}  // namespace
}  // namespace torcon

namespace torcon {
namespace {

// ctest runs this binary once per block-loop level (tests/parser/CMakeLists.txt):
// the cap must really be in effect, or those runs test the same loop thrice.
TEST(ReplyReaderSimd, EnvironmentCapIsInEffect) {
  using detail::DataScanLevel;
  const DataScanLevel level = detail::data_scan_level();
  const char* cap = std::getenv("TORCON_REPLY_READER_SIMD");
#if defined(__x86_64__)
  EXPECT_NE(level, DataScanLevel::scalar);
  if (cap && std::string_view(cap) == "sse2") {
    EXPECT_EQ(level, DataScanLevel::sse2);
  }
  if (cap && std::string_view(cap) == "avx2") {
    EXPECT_NE(level, DataScanLevel::avx512);
  }
#else
  EXPECT_EQ(level, DataScanLevel::scalar);
#endif
  // Without a cap, the best level the CPU supports.
  if (!cap) {
    EXPECT_TRUE(detail::cpu_supports(level)) << detail::to_string(level);
    if (level != DataScanLevel::avx512) {
      const DataScanLevel better = DataScanLevel(unsigned(level) + 1);
      EXPECT_FALSE(detail::cpu_supports(better)) << detail::to_string(better);
    }
  }
}

}  // namespace
}  // namespace torcon
