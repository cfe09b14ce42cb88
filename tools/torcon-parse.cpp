// torcon-parse: prints what torcon's parser makes of a raw control-port byte
// stream (as tor sends it), one JSON object per line.
//
//   torcon-parse FILE            one object per complete reply
//   torcon-parse --routers FILE  one object per router status entry of a
//                                GETINFO ns/all reply (or of plain entries)
//
// FILE "-" is standard input. On malformed input it prints
// {"error":"...","offset":N} and exits 1; on bad usage it exits 2.
//
// Strings are JSON-escaped; bytes that are not valid UTF-8 come out as
// \u00XX (the byte's value), so the output is always valid JSON.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "torcon/reply_reader.hpp"
#include "torcon/router_status.hpp"

namespace {

using torcon::ReplyReader;

// Length of the valid UTF-8 sequence at s[i], or 0.
std::size_t utf8_len(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  std::size_t n;
  std::uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF)
    n = 3, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4)
    n = 4, cp = c & 0x07;
  else
    return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (b(i + k) & 0x3F);
  }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
      (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    return 0;
  return n;
}

void json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      default: break;
    }
    if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (std::size_t n = utf8_len(s, i)) {
      out.append(s.substr(i, n));
      i += n - 1;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    }
  }
  out.push_back('"');
}

int print_error(std::string_view what, std::uint64_t offset) {
  std::string out = "{\"error\":";
  json_string(out, what);
  out += ",\"offset\":" + std::to_string(offset) + "}\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 1;
}

void print_reply(const torcon::Reply& r, std::string& out) {
  out.clear();
  out += "{\"code\":" + std::to_string(r.code) + ",\"async\":" + (r.is_async() ? "true" : "false") +
         ",\"lines\":[";
  bool first = true;
  for (const torcon::ReplyLine& l : r.lines) {
    if (!first) out.push_back(',');
    first = false;
    out += "{\"sep\":\"";
    out.push_back(static_cast<char>(l.sep));
    out += "\",\"text\":";
    json_string(out, l.text);
    if (l.sep == torcon::Sep::data) {
      out += ",\"data\":";
      json_string(out, torcon::join_data(l.data));
    }
    out.push_back('}');
  }
  out += "]}\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
}

bool print_routers(std::string_view text, std::uint64_t base_offset, std::string& out) {
  torcon::RouterStatusReader rd(text);
  torcon::RouterStatus rs;
  while (rd.next(rs)) {
    out.clear();
    out += "{\"fingerprint\":\"" + torcon::fingerprint_hex(rs.identity) + "\",\"nickname\":";
    json_string(out, rs.nickname());
    out += ",\"published\":\"" + torcon::format_iso_time(rs.published) + "\",\"address\":\"" +
           torcon::format_ipv4(rs.ipv4) + "\",\"or_port\":" + std::to_string(rs.or_port) +
           ",\"dir_port\":" + std::to_string(rs.dir_port);
    if (!rs.a_lines.empty()) {
      out += ",\"ipv6\":[";
      torcon::OrAddressLines al(rs.a_lines);
      std::string_view a;
      bool first = true;
      while (al.next(a)) {
        if (!first) out.push_back(',');
        first = false;
        json_string(out, a);
      }
      out.push_back(']');
    }
    out += ",\"flags\":[";
    std::string_view flags = rs.flags_text;
    bool first = true;
    while (!flags.empty()) {
      const std::size_t sp = flags.find(' ');
      const std::string_view f = flags.substr(0, sp);
      flags = sp == std::string_view::npos ? std::string_view{} : flags.substr(sp + 1);
      if (f.empty()) continue;
      if (!first) out.push_back(',');
      first = false;
      json_string(out, f);
    }
    out.push_back(']');
    if (!rs.version.empty()) {
      out += ",\"version\":";
      json_string(out, rs.version);
    }
    if (rs.has_bandwidth) out += ",\"bandwidth\":" + std::to_string(rs.bandwidth);
    if (!rs.policy.empty()) {
      out += ",\"policy\":";
      json_string(out, rs.policy);
    }
    if (!rs.microdesc_digest.empty()) {
      out += ",\"microdesc_digest\":";
      json_string(out, rs.microdesc_digest);
    }
    out += "}\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  if (rd.error().code != torcon::Errc::ok) {
    print_error(rd.error().message, base_offset + rd.error().offset);
    return false;
  }
  return true;
}

int usage() {
  std::fputs("usage: torcon-parse [--routers] FILE   (FILE may be -)\n", stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  bool routers = false;
  const char* path = nullptr;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--routers")
      routers = true;
    else if (a == "-h" || a == "--help")
      return usage() - 2;
    else if (!path)
      path = argv[i];
    else
      return usage();
  }
  if (!path) return usage();
  const int fd = std::strcmp(path, "-") == 0 ? 0 : ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::fprintf(stderr, "torcon-parse: %s: %s\n", path, std::strerror(errno));
    return 2;
  }

  ReplyReader reader;
  torcon::Reply reply;
  std::string out;
  bool saw_routers = false;
  bool plain_entries = false;  // --routers on bare entries, not a reply
  std::string plain;
  std::uint64_t total = 0;
  while (true) {
    std::span<char> space = reader.prepare(64 * 1024);
    const ssize_t n = ::read(fd, space.data(), space.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "torcon-parse: read: %s\n", std::strerror(errno));
      return 2;
    }
    if (n == 0) break;
    total += static_cast<std::uint64_t>(n);
    if (routers && !plain_entries && reader.stream_offset() == 0 && !reader.mid_reply() &&
        (space[0] < '0' || space[0] > '9'))
      plain_entries = true;
    if (plain_entries) {
      plain.append(space.data(), static_cast<std::size_t>(n));
      continue;
    }
    reader.commit(static_cast<std::size_t>(n));
    for (;;) {
      const ReplyReader::Next r = reader.next(reply);
      if (r == ReplyReader::Next::need_more) break;
      if (r == ReplyReader::Next::error)
        return print_error(reader.error().message, reader.error().offset);
      if (!routers) {
        print_reply(reply, out);
        continue;
      }
      for (const torcon::ReplyLine& l : reply.lines) {
        if (l.sep != torcon::Sep::data) continue;
        saw_routers = true;
        const std::uint64_t off = reply.offset + std::uint64_t(l.data.data() - reply.raw.data());
        if (!print_routers(l.data, off, out)) return 1;
      }
    }
  }
  if (plain_entries) return print_routers(plain, 0, out) ? 0 : 1;
  if (reader.mid_reply())
    return print_error(
        reader.in_data_block() ? "input ends inside a data block" : "input ends inside a reply",
        total);
  if (routers && !saw_routers) return print_error("no data block with router status entries", 0);
  return 0;
}
