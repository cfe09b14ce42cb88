// Helpers for TorState tests: relays with made-up identities, consensus
// texts built from them, and a feeder that frames control-port bytes with
// ReplyReader and applies every reply to a TorState (no socket).
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/reply_reader.hpp"
#include "torcon/router_status.hpp"
#include "torcon/tor_state.hpp"

namespace torcon::test {

// Relay number n's identity: 20 bytes that differ in the first byte (the
// table's hash) and the last.
inline RouterIdentity identity_of(int n) {
  RouterIdentity id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = std::uint8_t(n * 37 + int(i) * 11 + 1);
  id[19] = std::uint8_t(n);
  return id;
}
inline std::string hex_of(int n) { return fingerprint_hex(identity_of(n)); }  // 40 upper hex
inline std::string long_name(int n, std::string_view nick) {
  return "$" + hex_of(n) + "~" + std::string(nick);
}

inline std::string base64_unpadded(const std::uint8_t* p, std::size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < n; i += 3) {
    std::uint32_t v = std::uint32_t(p[i]) << 16;
    if (i + 1 < n) v |= std::uint32_t(p[i + 1]) << 8;
    if (i + 2 < n) v |= p[i + 2];
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    if (i + 1 < n) out += kAlphabet[v >> 6 & 63];
    if (i + 2 < n) out += kAlphabet[v & 63];
  }
  return out;
}

// One router status entry, LF-separated lines without the final LF.
// `rest` holds the lines after the r line ("s ...", "w ...", "p ...").
inline std::string entry(int n, std::string_view nick, std::string_view ip, int or_port,
                         std::vector<std::string> rest) {
  const RouterIdentity id = identity_of(n);
  std::array<std::uint8_t, 20> digest{};
  digest[0] = std::uint8_t(n);
  std::string e = "r " + std::string(nick) + " " + base64_unpadded(id.data(), 20) + " " +
                  base64_unpadded(digest.data(), 20) + " 2038-01-01 00:00:00 " + std::string(ip) +
                  " " + std::to_string(or_port) + " 0";
  for (const std::string& l : rest) e += "\n" + l;
  return e;
}

// The data block of entries as tor sends it: CRLF lines, no terminator.
inline std::string crlf_block(const std::vector<std::string>& entries) {
  std::string out;
  for (const std::string& e : entries) {
    std::size_t pos = 0;
    while (pos <= e.size()) {
      std::size_t lf = e.find('\n', pos);
      if (lf == std::string::npos) lf = e.size();
      std::string_view line(e.data() + pos, lf - pos);
      if (line.starts_with(".")) out += ".";
      out += line;
      out += "\r\n";
      pos = lf + 1;
    }
  }
  return out;
}
inline std::string ns_all_reply(const std::vector<std::string>& entries) {
  return "250+ns/all=\r\n" + crlf_block(entries) + ".\r\n250 OK\r\n";
}
inline std::string newconsensus_event(const std::vector<std::string>& entries) {
  return "650+NEWCONSENSUS\r\n" + crlf_block(entries) + ".\r\n650 OK\r\n";
}
inline std::string ns_event(const std::vector<std::string>& entries) {
  return "650+NS\r\n" + crlf_block(entries) + ".\r\n650 OK\r\n";
}

// Frames bytes and applies each complete reply; the first error, if any.
class Feeder {
 public:
  explicit Feeder(TorState& state, bool record_lines = true) : state_(state) {
    ParserOptions o;
    o.record_data_lines = record_lines;
    reader_.emplace(o);
  }
  Status feed(std::string_view bytes) {
    reader_->feed(bytes);
    Reply r;
    Status first;
    ReplyReader::Next n;
    while ((n = reader_->next(r)) == ReplyReader::Next::reply) {
      Status s = state_.apply_reply(r);
      if (!s && first) first = s;
    }
    EXPECT_NE(n, ReplyReader::Next::error) << reader_->error().message;
    return first;
  }
  // One event line, CRLF added.
  Status event(std::string_view line) { return feed("650 " + std::string(line) + "\r\n"); }

 private:
  TorState& state_;
  std::optional<ReplyReader> reader_;
};

}  // namespace torcon::test
