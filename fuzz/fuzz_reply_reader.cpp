// libFuzzer harness for ReplyReader (framing of tor's control-port replies).
//
// The input is a byte stream as tor would send it. It is framed several ways:
// fed whole, fed in chunks through feed(), in chunks through prepare()/commit(),
// and one byte at a time, under four option sets (default and small limits,
// each with allow_bare_lf off and on). Chunk sizes come from the stream's own
// bytes, so the mutations that change the data also move the split points.
//
// Invariants checked (any violation aborts):
//  * every view of a Reply (raw, each line's text and data) lies inside raw,
//    and raw is exactly the input's bytes at the reply's offset;
//  * replies are contiguous: each starts where the previous one ended;
//  * each reply agrees with an independent, naive re-reading of its raw bytes
//    (status codes, separators, line texts, data blocks, CRLF rules, limits);
//  * the outcome (replies, then error code and offset, or the buffered state)
//    does not depend on how the stream was split;
//  * an error is final, and its offset lies inside the input;
//  * with record_data_lines, each data block's line ends are exactly its LFs.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "torcon/getinfo.hpp"
#include "torcon/reply.hpp"
#include "torcon/reply_reader.hpp"

namespace {

using torcon::Errc;
using torcon::ParserOptions;
using torcon::Reply;
using torcon::ReplyLine;
using torcon::ReplyReader;
using torcon::Sep;
using torcon::fuzz::inside;
using torcon::fuzz::inside_or_null;

// A reply reduced to comparable values (views die with the reader's buffer).
struct LineCopy {
  int code;
  Sep sep;
  std::size_t text_off, text_len, data_off, data_len;  // relative to raw
  bool operator==(const LineCopy&) const = default;
};

struct ReplyCopy {
  int code;
  std::uint64_t offset;
  std::string raw;
  std::vector<LineCopy> lines;
  bool operator==(const ReplyCopy&) const = default;
};

struct Outcome {
  std::vector<ReplyCopy> replies;
  std::uint64_t stream_offset = 0;  // where the next reply must start
  bool failed = false;
  Errc err = Errc::ok;
  std::uint64_t err_offset = 0;
  bool mid_reply = false;
  bool in_data = false;
  bool operator==(const Outcome&) const = default;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Re-reads the reply's raw bytes line by line, the obvious slow way, and
// checks that the reader's lines say the same.
void check_against_raw(const Reply& r, const ParserOptions& o) {
  const std::string_view raw = r.raw;
  std::size_t pos = 0;

  // The line starting at `pos`: its LF, and where its content ends (before
  // CR). Enforces the line-length limit and the CRLF rule.
  auto line_at = [&](std::size_t at, std::size_t& lf, std::size_t& content_end) {
    lf = raw.find('\n', at);
    FUZZ_CHECK(lf != std::string_view::npos);
    FUZZ_CHECK(lf + 1 - at <= o.max_line);
    content_end = lf;
    if (lf > at && raw[lf - 1] == '\r')
      --content_end;
    else
      FUZZ_CHECK(o.allow_bare_lf);
  };

  for (std::size_t i = 0; i < r.lines.size(); ++i) {
    const ReplyLine& l = r.lines[i];
    FUZZ_CHECK(l.code == r.code);
    FUZZ_CHECK(l.sep == Sep::mid || l.sep == Sep::data || l.sep == Sep::end);
    // Only the last line ends the reply, and the last line must end it.
    FUZZ_CHECK((l.sep == Sep::end) == (i + 1 == r.lines.size()));
    FUZZ_CHECK(inside(l.text, raw));
    FUZZ_CHECK(inside(l.data, raw));

    FUZZ_CHECK(pos + 4 <= raw.size());
    FUZZ_CHECK(is_digit(raw[pos]) && is_digit(raw[pos + 1]) && is_digit(raw[pos + 2]));
    FUZZ_CHECK((raw[pos] - '0') * 100 + (raw[pos + 1] - '0') * 10 + (raw[pos + 2] - '0') == l.code);
    FUZZ_CHECK(raw[pos + 3] == static_cast<char>(l.sep));
    std::size_t lf = 0, end = 0;
    line_at(pos, lf, end);
    FUZZ_CHECK(end >= pos + 4);
    FUZZ_CHECK(l.text.data() == raw.data() + pos + 4);
    FUZZ_CHECK(l.text.size() == end - (pos + 4));
    FUZZ_CHECK(l.text.find('\n') == std::string_view::npos);
    pos = lf + 1;

    if (l.sep != Sep::data) {
      FUZZ_CHECK(l.data.empty() && l.data_line_ends.empty());
      continue;
    }
    // record_data_lines: exactly the block's LF offsets; else nothing.
    if (o.record_data_lines) {
      std::size_t k = 0;
      for (std::size_t i = 0; i < l.data.size(); ++i) {
        if (l.data[i] != '\n') continue;
        FUZZ_CHECK(k < l.data_line_ends.size() && l.data_line_ends[k] == i);
        ++k;
      }
      FUZZ_CHECK(k == l.data_line_ends.size());
    } else {
      FUZZ_CHECK(l.data_line_ends.empty());
    }
    // Data block: lines up to one that is exactly "." (the terminator).
    const std::size_t data_start = pos;
    FUZZ_CHECK(l.data.data() == raw.data() + data_start);
    while (true) {
      line_at(pos, lf, end);
      const std::string_view content = raw.substr(pos, end - pos);
      if (content == ".") {
        FUZZ_CHECK(l.data.size() == pos - data_start);
        pos = lf + 1;
        break;
      }
      pos = lf + 1;
    }
    // The data walkers must stay inside the block and strip line ends.
    torcon::DataLines dl(l.data);
    std::string_view dline;
    std::size_t n = 0;
    while (dl.next(dline)) {
      FUZZ_CHECK(inside(dline, l.data));
      FUZZ_CHECK(dline.find('\n') == std::string_view::npos);
      FUZZ_CHECK(++n <= l.data.size());
    }
    FUZZ_CHECK(torcon::join_data(l.data).size() <= l.data.size());
  }
  FUZZ_CHECK(pos == raw.size());
}

// Everything a Reply promises, plus a copy for the cross-split comparison.
ReplyCopy check_reply(const Reply& r, const ParserOptions& o, std::string_view input,
                      std::uint64_t expected_offset) {
  FUZZ_CHECK(r.offset == expected_offset);
  FUZZ_CHECK(!r.raw.empty() && r.raw.back() == '\n');
  FUZZ_CHECK(r.raw.size() <= o.max_reply);
  FUZZ_CHECK(r.offset <= input.size() && r.raw.size() <= input.size() - r.offset);
  FUZZ_CHECK(r.raw == input.substr(r.offset, r.raw.size()));
  FUZZ_CHECK(!r.lines.empty());
  FUZZ_CHECK(r.code >= 0 && r.code <= 999 && r.code == r.lines.front().code);
  FUZZ_CHECK(r.status_text() == r.lines.back().text);
  check_against_raw(r, o);

  ReplyCopy c{r.code, r.offset, std::string(r.raw), {}};
  for (const ReplyLine& l : r.lines) {
    c.lines.push_back(LineCopy{l.code, l.sep, std::size_t(l.text.data() - r.raw.data()),
                               l.text.size(), std::size_t(l.data.data() - r.raw.data()),
                               l.data.size()});
  }

  // copy() must re-create the same reply in its own storage.
  const torcon::OwnedReply owned = r.copy();
  const Reply v = owned.view();
  FUZZ_CHECK(v.code == r.code && v.offset == r.offset && v.raw == r.raw);
  FUZZ_CHECK(v.raw.data() != r.raw.data());
  FUZZ_CHECK(v.lines.size() == r.lines.size());
  for (std::size_t i = 0; i < v.lines.size(); ++i) {
    // copy() turns empty views into null ones: they refer to nothing.
    FUZZ_CHECK(inside_or_null(v.lines[i].text, v.raw) && inside_or_null(v.lines[i].data, v.raw));
    FUZZ_CHECK(v.lines[i].text == r.lines[i].text && v.lines[i].data == r.lines[i].data);
    FUZZ_CHECK(v.lines[i].sep == r.lines[i].sep && v.lines[i].code == r.lines[i].code);
  }

  // Key/value views point where the reply's do.
  torcon::KeyValueReader kvr(r);
  torcon::KeyValue kv;
  std::size_t n = 0;
  while (kvr.next(kv)) {
    FUZZ_CHECK(++n <= r.lines.size());
    FUZZ_CHECK(inside(kv.key, r.raw) && inside_or_null(kv.value, r.raw));
    FUZZ_CHECK(kv.has_value || kv.value.empty());
  }
  return c;
}

// Takes every reply the reader has ready, checking each as it comes.
void drain(ReplyReader& rd, std::string_view input, Outcome& out) {
  Reply r;
  while (true) {
    const ReplyReader::Next n = rd.next(r);
    if (n == ReplyReader::Next::reply) {
      FUZZ_CHECK(!out.failed);
      out.replies.push_back(check_reply(r, rd.options(), input, out.stream_offset));
      out.stream_offset += r.raw.size();
      FUZZ_CHECK(rd.stream_offset() == out.stream_offset);
      continue;
    }
    if (n == ReplyReader::Next::error) {
      FUZZ_CHECK(rd.failed());
      const torcon::Error& e = rd.error();
      FUZZ_CHECK(e.code != Errc::ok && !e.message.empty());
      FUZZ_CHECK(e.offset <= input.size());
      if (out.failed) {  // an error is final: the same one every time
        FUZZ_CHECK(e.code == out.err && e.offset == out.err_offset);
      }
      out.failed = true;
      out.err = e.code;
      out.err_offset = e.offset;
      FUZZ_CHECK(rd.next(r) == ReplyReader::Next::error);
      return;
    }
    FUZZ_CHECK(!rd.failed());
    return;
  }
}

void finish(const ReplyReader& rd, std::string_view input, Outcome& out) {
  FUZZ_CHECK(rd.stream_offset() == out.stream_offset);
  out.mid_reply = rd.mid_reply();
  out.in_data = rd.in_data_block();
  if (!out.failed) {
    FUZZ_CHECK(out.mid_reply == (out.stream_offset < input.size()));
    FUZZ_CHECK(!out.in_data || out.mid_reply);
  }
}

// Chunk length for the read starting at `pos`: a mix of single bytes, short
// and long reads, picked by the stream's own byte there.
std::size_t chunk_len(std::string_view in, std::size_t pos, unsigned salt) {
  const unsigned b = (static_cast<unsigned char>(in[pos]) * 0x9Du + unsigned(pos)) ^ salt;
  switch (b & 3u) {
    case 0: return 1;
    case 1: return 1 + (b >> 2) % 8;
    case 2: return 1 + (b >> 2) % 64;
    default: return 64 + ((b >> 2) & 63) * 16;
  }
}

Outcome run_whole(std::string_view input, const ParserOptions& o) {
  Outcome out;
  ReplyReader rd(o);
  rd.feed(input);
  drain(rd, input, out);
  finish(rd, input, out);

  // reset() forgets everything: the same bytes give the same outcome again.
  rd.reset();
  FUZZ_CHECK(!rd.failed() && !rd.mid_reply() && rd.stream_offset() == 0);
  Outcome again;
  rd.feed(input);
  drain(rd, input, again);
  finish(rd, input, again);
  FUZZ_CHECK(again == out);
  return out;
}

Outcome run_feed_chunks(std::string_view input, const ParserOptions& o) {
  Outcome out;
  ReplyReader rd(o);
  for (std::size_t pos = 0; pos < input.size();) {
    const std::size_t n = std::min(chunk_len(input, pos, 0x5au), input.size() - pos);
    rd.feed(input.substr(pos, n));
    pos += n;
    drain(rd, input, out);
  }
  finish(rd, input, out);
  return out;
}

// The socket-read path: write into prepare()'s span, commit() what was
// written. Sometimes asks for little free space (exercising compaction and
// reuse of the tail) and sometimes prepares without committing anything.
Outcome run_prepare_chunks(std::string_view input, const ParserOptions& o) {
  Outcome out;
  ReplyReader rd(o);
  for (std::size_t pos = 0; pos < input.size();) {
    const std::size_t want = std::min(chunk_len(input, pos, 0xa5u), input.size() - pos);
    const unsigned sel = static_cast<unsigned char>(input[pos]);
    if (sel & 0x40u) {
      const std::span<char> idle = rd.prepare(sel);
      FUZZ_CHECK(idle.size() >= sel);
      rd.commit(0);
    }
    const std::size_t min_free = (sel & 1u) ? want : 1;
    const std::span<char> space = rd.prepare(min_free);
    FUZZ_CHECK(space.size() >= min_free);
    const std::size_t n = std::min(want, space.size());
    std::memcpy(space.data(), input.data() + pos, n);
    rd.commit(n);
    pos += n;
    drain(rd, input, out);
  }
  finish(rd, input, out);
  return out;
}

// Every split point at once: one byte per read, alternating both paths.
Outcome run_bytewise(std::string_view input, const ParserOptions& o) {
  Outcome out;
  ReplyReader rd(o);
  for (std::size_t pos = 0; pos < input.size(); ++pos) {
    if (pos & 1u) {
      rd.feed(input.substr(pos, 1));
    } else {
      const std::span<char> space = rd.prepare(1);
      FUZZ_CHECK(!space.empty());
      space[0] = input[pos];
      rd.commit(1);
    }
    drain(rd, input, out);
  }
  finish(rd, input, out);
  return out;
}

void check_all_splits(std::string_view input, const ParserOptions& o) {
  const Outcome whole = run_whole(input, o);
  FUZZ_CHECK(run_feed_chunks(input, o) == whole);
  FUZZ_CHECK(run_prepare_chunks(input, o) == whole);
  FUZZ_CHECK(run_bytewise(input, o) == whole);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (const bool bare_lf : {false, true}) {
    // record_data_lines on in half the option sets: both framing paths.
    ParserOptions def;
    def.allow_bare_lf = bare_lf;
    def.record_data_lines = bare_lf;
    check_all_splits(input, def);

    ParserOptions small;
    small.max_line = 64;
    small.max_reply = 1024;
    small.allow_bare_lf = bare_lf;
    small.record_data_lines = !bare_lf;
    check_all_splits(input, small);
  }
  return 0;
}
