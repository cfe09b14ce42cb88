// SAFECOOKIE authentication (control-spec 3.24 AUTHCHALLENGE): the HMACs
// both sides compute over cookie | client nonce | server nonce.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "torcon/expected.hpp"

namespace torcon::safecookie {

using Digest = std::array<std::uint8_t, 32>;
using Nonce = std::array<std::uint8_t, 32>;

// HMAC-SHA256 keyed with the spec's "server-to-controller" (server = true)
// or "controller-to-server" constant.
Digest compute(bool server, std::span<const std::uint8_t> cookie,
               std::span<const std::uint8_t> client_nonce,
               std::span<const std::uint8_t> server_nonce);

// Constant-time comparison, so a forged server hash learns nothing from timing.
bool equal(const Digest& a, const Digest& b);

// 32 bytes from the kernel's CSPRNG (getrandom).
Expected<Nonce> client_nonce();

// Reads a cookie file; it must be a regular file (or a link to one) of
// exactly 32 bytes. Opening does not block (a FIFO is refused, not waited
// on), and nothing is read from anything else.
Expected<std::string> read_cookie(const std::string& path);

// Overwrites s with zeros (in a way the compiler may not elide), then
// empties it: for strings that held the cookie, the password or a hash.
void wipe(std::string& s);

std::string to_hex(std::span<const std::uint8_t> bytes);
// Hex (either case) to bytes; false on odd length or a non-hex digit.
bool from_hex(std::string_view hex, std::string& out);

}  // namespace torcon::safecookie
