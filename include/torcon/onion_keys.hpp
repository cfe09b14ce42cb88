// Offline helpers for v3 onion services (rend-spec-v3): the .onion address of
// a key, fresh service keys, and x25519 key pairs for client authorization,
// in the encodings tor's control port takes. Nothing here talks to tor.
//
//   std::string key = torcon::new_onion_key();              // ADD_ONION ED25519-V3 blob
//   torcon::Expected<std::string> a = torcon::onion_address_of_key(key);  // "<56>.onion"
//   torcon::ClientAuthKeys c = torcon::new_client_auth_keys();
//   // service side: ClientAuthV3=c.public_base32
//   // client side:  ONION_CLIENT_AUTH_ADD <addr> x25519:c.private_base64
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/expected.hpp"

namespace torcon {

// RFC 4648 base32 as tor writes it: lower case, no padding. Decoding takes
// either case and refuses padding, other bytes, and trailing bits that are
// not zero (so every string has exactly one byte form).
std::string base32_encode(std::span<const std::uint8_t> bytes);
Expected<std::vector<std::uint8_t>> base32_decode(std::string_view text);

// Base64 (RFC 4648, with padding). Decoding accepts it with or without '='.
std::string base64_encode(std::span<const std::uint8_t> bytes);
Expected<std::vector<std::uint8_t>> base64_decode(std::string_view text);

// A fresh v3 service key: the base64 of tor's 64-byte *expanded* ed25519
// secret (clamped scalar || nonce prefix), as ADD_ONION's "ED25519-V3:" blob
// and tor's own replies carry it.
std::string new_onion_key();

// The address ("<56 base32>.onion") of an ED25519-V3 blob (with or without
// the "ED25519-V3:" prefix). Errc::bad_argument when the blob is not base64
// of exactly 64 bytes or its scalar is zero.
Expected<std::string> onion_address_of_key(std::string_view key_blob);

// The address of a 32-byte ed25519 public key:
// base32(PUBKEY || CHECKSUM || VERSION) + ".onion", CHECKSUM = the first two
// bytes of SHA3-256(".onion checksum" || PUBKEY || VERSION), VERSION = 3.
std::string onion_address_of_public_key(std::span<const std::uint8_t, 32> public_key);

// The service ID (the 56 base32 characters, lower case) of a v3 address
// given with or without ".onion", after checking length, alphabet, version
// and checksum; Errc::bad_argument saying which failed.
Expected<std::string> onion_service_id(std::string_view address);
inline bool is_onion_address(std::string_view address) { return onion_service_id(address).ok(); }

// An x25519 key pair for v3 client authorization, in every form it is used:
// the service gets public_base32 (ADD_ONION ClientAuthV3=, or a
// "descriptor:x25519:<key>" line in authorized_clients/); the client gets the
// private key: private_base64 for ONION_CLIENT_AUTH_ADD ("x25519:<key>"),
// private_base32 for Tor Browser's prompt and ClientOnionAuthDir files
// ("<addr>:descriptor:x25519:<key>").
struct ClientAuthKeys {
  std::string public_base32;   // 52 characters
  std::string private_base32;  // 52 characters
  std::string private_base64;  // 44 characters
};
ClientAuthKeys new_client_auth_keys();
// The pair for a private key given in base32 (52 characters) or base64
// (43/44 characters), optionally prefixed "x25519:". Errc::bad_argument for
// anything that does not decode to exactly 32 bytes.
Expected<ClientAuthKeys> client_auth_keys_from_private(std::string_view private_key);
// A client's public key as ClientAuthV3 takes it: base32 of 32 bytes (52
// characters, either case). Normalised to lower case.
Expected<std::string> client_auth_public_key(std::string_view public_base32);

}  // namespace torcon
