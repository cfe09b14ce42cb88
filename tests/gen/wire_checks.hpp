// Helpers for the generator's tests, written independently of gen/: lines are
// split, fields parsed and digests decoded from scratch, so that a wrong
// generator makes the tests fail rather than agree with itself.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace torcon::gen::testing {

using Lines = std::vector<std::string_view>;

// Splits on CRLF; fails the test on a bare CR or LF or a missing final CRLF.
inline Lines split_crlf(std::string_view text) {
  Lines lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find("\r\n", pos);
    if (end == std::string_view::npos) {
      ADD_FAILURE() << "text does not end with CRLF: ..." << text.substr(pos, 80);
      break;
    }
    const std::string_view line = text.substr(pos, end - pos);
    if (line.find_first_of("\r\n") != std::string_view::npos) {
      ADD_FAILURE() << "bare CR or LF in line: " << line;
    }
    lines.push_back(line);
    pos = end + 2;
  }
  return lines;
}

inline std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t end = s.find(sep, pos);
    parts.push_back(s.substr(pos, end - pos));
    if (end == std::string_view::npos) return parts;
    pos = end + 1;
  }
}

// Decimal without sign or leading zeros.
inline bool parse_uint(std::string_view s, std::uint64_t& v) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  return res.ec == std::errc() && res.ptr == s.data() + s.size();
}

// ASCII only, independent of the C locale.
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

inline bool is_nickname(std::string_view s) {
  return !s.empty() && s.size() <= 19 && std::all_of(s.begin(), s.end(), is_alnum);
}

inline bool is_upper_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
  });
}

// Dotted quad -> value (host order); false unless exactly four decimal octets.
inline bool parse_ipv4(std::string_view s, std::uint32_t& ip) {
  const auto octets = split(s, '.');
  if (octets.size() != 4) return false;
  ip = 0;
  for (auto o : octets) {
    std::uint64_t v = 0;
    if (!parse_uint(o, v) || v > 255) return false;
    ip = ip << 8 | static_cast<std::uint32_t>(v);
  }
  return true;
}

// RFC 1918 space, which a pre-commit check rejects anywhere in the tree's data.
inline bool is_rfc1918(std::uint32_t ip) {
  return (ip >> 24) == 10 || (ip >> 20) == (172u << 4 | 1) || (ip >> 16) == (192u << 8 | 168);
}

inline bool is_loopback(std::uint32_t ip) { return (ip >> 24) == 127; }

// Every dotted quad in the text, wherever it appears.
inline std::vector<std::uint32_t> all_ipv4(std::string_view text) {
  std::vector<std::uint32_t> found;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!is_digit(text[i]) || (i > 0 && (is_alnum(text[i - 1]) || text[i - 1] == '.'))) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && (is_digit(text[j]) || text[j] == '.')) ++j;
    std::string_view quad = text.substr(i, j - i);
    if (quad.ends_with('.')) quad.remove_suffix(1);  // "1.2.3.4.$FP.exit"
    std::uint32_t ip = 0;
    if (parse_ipv4(quad, ip)) found.push_back(ip);
    i = j;
  }
  return found;
}

inline std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xCBF29CE484222325ULL;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ULL;
  return h;
}

// Base64 without padding -> bytes, bit by bit; empty on a character outside
// the alphabet.
inline std::vector<std::uint8_t> base64_decode(std::string_view b64) {
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<bool> bits;
  for (char c : b64) {
    const auto v = kAlphabet.find(c);
    if (v == std::string_view::npos) return {};
    for (int b = 5; b >= 0; --b) bits.push_back((v >> b) & 1);
  }
  std::vector<std::uint8_t> bytes;
  for (std::size_t i = 0; i + 8 <= bits.size(); i += 8) {
    std::uint8_t byte = 0;
    for (std::size_t b = 0; b < 8; ++b) byte = static_cast<std::uint8_t>(byte << 1 | bits[i + b]);
    bytes.push_back(byte);
  }
  return bytes;
}

inline std::string to_hex(const std::vector<std::uint8_t>& bytes) {
  std::string hex;
  for (auto b : bytes) {
    hex.push_back("0123456789ABCDEF"[b >> 4]);
    hex.push_back("0123456789ABCDEF"[b & 15]);
  }
  return hex;
}

// The value of "KEY=" in a line of space-separated fields; npos-view if absent.
inline std::string_view field(std::string_view line, std::string_view key) {
  for (auto f : split(line, ' ')) {
    if (f.size() > key.size() && f.starts_with(key) && f[key.size()] == '=') {
      return f.substr(key.size() + 1);
    }
  }
  return {};
}

}  // namespace torcon::gen::testing
