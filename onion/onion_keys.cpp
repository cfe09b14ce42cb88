// Key and address arithmetic for v3 onion services (rend-spec-v3 section 6
// for the address, tor's ed25519 "expanded" secret key for the blob).

#include "torcon/onion_keys.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <cstring>

namespace torcon {
namespace {

constexpr char kBase32[] = "abcdefghijklmnopqrstuvwxyz234567";
constexpr std::uint8_t kVersion = 3;

Error bad(std::string msg) { return Error(Errc::bad_argument, std::move(msg)); }

// libsodium must be initialised once before its random generator is used;
// sodium_init() is thread-safe and idempotent.
void ensure_sodium() {
  static const int ok = sodium_init();
  (void)ok;
}

int base32_value(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

std::string_view strip_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() >= prefix.size() &&
      std::equal(prefix.begin(), prefix.end(), s.begin(),
                 [](char a, char b) { return a == b || (a ^ 0x20) == b; }))
    s.remove_prefix(prefix.size());
  return s;
}

std::array<std::uint8_t, 32> sha3_256(std::span<const std::uint8_t> a,
                                      std::span<const std::uint8_t> b,
                                      std::span<const std::uint8_t> c) {
  std::array<std::uint8_t, 32> out{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned len = 0;
  EVP_DigestInit_ex(ctx, EVP_sha3_256(), nullptr);
  EVP_DigestUpdate(ctx, a.data(), a.size());
  EVP_DigestUpdate(ctx, b.data(), b.size());
  EVP_DigestUpdate(ctx, c.data(), c.size());
  EVP_DigestFinal_ex(ctx, out.data(), &len);
  EVP_MD_CTX_free(ctx);
  return out;
}

ClientAuthKeys keys_of(const std::array<std::uint8_t, 32>& secret) {
  std::array<std::uint8_t, 32> pub{};
  crypto_scalarmult_curve25519_base(pub.data(), secret.data());
  return {base32_encode(pub), base32_encode(secret), base64_encode(secret)};
}

}  // namespace

std::string base32_encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  unsigned acc = 0;
  int bits = 0;
  for (std::uint8_t b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kBase32[(acc >> bits) & 31]);
    }
  }
  if (bits > 0) out.push_back(kBase32[(acc << (5 - bits)) & 31]);
  return out;
}

Expected<std::vector<std::uint8_t>> base32_decode(std::string_view text) {
  std::vector<std::uint8_t> out;
  out.reserve(text.size() * 5 / 8);
  unsigned acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const int v = base32_value(text[i]);
    if (v < 0) return bad("not base32: byte " + std::to_string(i) + " is not a-z or 2-7");
    acc = (acc << 5) | unsigned(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(std::uint8_t(acc >> bits));
    }
  }
  // Leftover bits must be fewer than a character and zero; else the text
  // has a length no byte string encodes to, or two texts decode alike.
  if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0)
    return bad("not base32: length " + std::to_string(text.size()) + " or trailing bits");
  return out;
}

std::string base64_encode(std::span<const std::uint8_t> bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.pop_back();  // the terminating NUL sodium writes
  return out;
}

Expected<std::vector<std::uint8_t>> base64_decode(std::string_view text) {
  // Our own strict decoder: the alphabet only, '=' only as the padding of a
  // length that is a multiple of 4, and zero trailing bits, so that every
  // accepted text is the canonical form of its bytes.
  std::size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  if (pad > 0 && text.size() % 4 != 0) return bad("not base64: padding on a partial group");
  const std::string_view body = text.substr(0, text.size() - pad);
  if (body.size() % 4 == 1 || (pad > 0 && (body.size() + pad) % 4 != 0))
    return bad("not base64: length " + std::to_string(text.size()));
  std::vector<std::uint8_t> out;
  out.reserve(body.size() * 3 / 4);
  unsigned acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    int v = -1;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    if (v < 0) return bad("not base64: byte " + std::to_string(i));
    acc = (acc << 6) | unsigned(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(std::uint8_t(acc >> bits));
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) return bad("not base64: trailing bits");
  return out;
}

std::string new_onion_key() {
  ensure_sodium();
  std::array<std::uint8_t, 32> seed{};
  randombytes_buf(seed.data(), seed.size());
  // Tor's expansion of a seed: SHA-512, then the scalar half clamped.
  std::array<std::uint8_t, 64> expanded{};
  crypto_hash_sha512(expanded.data(), seed.data(), seed.size());
  expanded[0] &= 248;
  expanded[31] &= 127;
  expanded[31] |= 64;
  std::string out = base64_encode(expanded);
  sodium_memzero(seed.data(), seed.size());
  sodium_memzero(expanded.data(), expanded.size());
  return out;
}

Expected<std::string> onion_address_of_key(std::string_view key_blob) {
  key_blob = strip_prefix(key_blob, "ED25519-V3:");
  Expected<std::vector<std::uint8_t>> raw = base64_decode(key_blob);
  if (!raw || raw->size() != 64)
    return bad("ED25519-V3 key is not base64 of 64 bytes (tor's expanded secret key)");
  // The scalar is the first half. Tor reduces it modulo the group order
  // before multiplying; doing the same gives tor's public key for any blob,
  // clamped or not (a clamped scalar exceeds the order).
  std::array<std::uint8_t, 64> wide{};
  std::memcpy(wide.data(), raw->data(), 32);
  std::array<std::uint8_t, 32> scalar{}, pub{};
  crypto_core_ed25519_scalar_reduce(scalar.data(), wide.data());
  const int rc = crypto_scalarmult_ed25519_base_noclamp(pub.data(), scalar.data());
  sodium_memzero(wide.data(), wide.size());
  sodium_memzero(scalar.data(), scalar.size());
  sodium_memzero(raw->data(), raw->size());
  if (rc != 0) return bad("ED25519-V3 key's secret scalar is zero");
  return onion_address_of_public_key(pub);
}

std::string onion_address_of_public_key(std::span<const std::uint8_t, 32> public_key) {
  static constexpr std::string_view kLabel = ".onion checksum";
  const std::uint8_t version[1] = {kVersion};
  const auto digest =
      sha3_256(std::span(reinterpret_cast<const std::uint8_t*>(kLabel.data()), kLabel.size()),
               public_key, version);
  std::array<std::uint8_t, 35> blob{};
  std::memcpy(blob.data(), public_key.data(), 32);
  blob[32] = digest[0];
  blob[33] = digest[1];
  blob[34] = kVersion;
  return base32_encode(blob) + ".onion";
}

Expected<std::string> onion_service_id(std::string_view address) {
  if (address.size() > 6 && address.substr(address.size() - 6) == ".onion")
    address.remove_suffix(6);
  if (address.size() != 56)
    return bad("\"" + std::string(address.substr(0, 80)) +
               "\" is not a v3 onion address (56 base32 characters)");
  Expected<std::vector<std::uint8_t>> raw = base32_decode(address);
  if (!raw) return bad("onion address: " + raw.error().message);
  if ((*raw)[34] != kVersion)
    return bad("onion address has version " + std::to_string((*raw)[34]) + ", not 3");
  std::string expected =
      onion_address_of_public_key(std::span<const std::uint8_t, 32>(raw->data(), 32));
  expected.resize(56);
  std::string lower(address);
  for (char& c : lower)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  if (lower != expected) return bad("onion address checksum does not match");
  return lower;
}

ClientAuthKeys new_client_auth_keys() {
  ensure_sodium();
  std::array<std::uint8_t, 32> secret{};
  randombytes_buf(secret.data(), secret.size());
  // Stored clamped, as tor generates curve25519 secrets.
  secret[0] &= 248;
  secret[31] &= 127;
  secret[31] |= 64;
  ClientAuthKeys k = keys_of(secret);
  sodium_memzero(secret.data(), secret.size());
  return k;
}

Expected<ClientAuthKeys> client_auth_keys_from_private(std::string_view private_key) {
  private_key = strip_prefix(private_key, "x25519:");
  Expected<std::vector<std::uint8_t>> raw =
      private_key.size() == 52 ? base32_decode(private_key) : base64_decode(private_key);
  if (!raw || raw->size() != 32)
    return bad("client private key is not 32 bytes in base32 (52 characters) or base64 (44)");
  std::array<std::uint8_t, 32> secret{};
  std::memcpy(secret.data(), raw->data(), 32);
  ClientAuthKeys k = keys_of(secret);
  sodium_memzero(secret.data(), secret.size());
  sodium_memzero(raw->data(), raw->size());
  return k;
}

Expected<std::string> client_auth_public_key(std::string_view public_base32) {
  if (public_base32.size() != 52)
    return bad("client public key has " + std::to_string(public_base32.size()) +
               " characters, not 52 (base32 of a 32-byte x25519 key)");
  Expected<std::vector<std::uint8_t>> raw = base32_decode(public_base32);
  if (!raw) return bad("client public key: " + raw.error().message);
  return base32_encode(*raw);
}

}  // namespace torcon
