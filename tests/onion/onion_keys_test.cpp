// The offline key helpers against published vectors: RFC 8032's ed25519
// keys (their addresses computed independently with Python's hashlib and
// base64, and matching tor's own address test), RFC 7748's x25519 pair,
// RFC 4648's base32/base64 examples, and malformed input refused.

#include "torcon/onion_keys.hpp"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <array>
#include <string>
#include <vector>

namespace {

using torcon::Errc;

std::vector<std::uint8_t> unhex(std::string_view h) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(std::uint8_t(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}
std::vector<std::uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

// Tor's expansion of an RFC 8032 seed, done here with OpenSSL's SHA-512 so
// the library's own expansion is not what is checked against.
std::string expanded_key_blob(std::string_view seed_hex) {
  const std::vector<std::uint8_t> seed = unhex(seed_hex);
  std::array<std::uint8_t, 64> h{};
  SHA512(seed.data(), seed.size(), h.data());
  h[0] &= 248;
  h[31] &= 127;
  h[31] |= 64;
  return torcon::base64_encode(h);
}

struct AddressCase {
  const char* seed_hex;
  const char* public_hex;
  const char* address;
};
const AddressCase kAddresses[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
     "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid.onion"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
     "hvabpq7iioevvevxbktu2g36xsojqlgpf3cjndgazvk7ckxumygcmyyd.onion"},
};

TEST(OnionAddress, OfPublicKey) {
  for (const AddressCase& c : kAddresses) {
    const std::vector<std::uint8_t> pk = unhex(c.public_hex);
    EXPECT_EQ(torcon::onion_address_of_public_key(std::span<const std::uint8_t, 32>(pk.data(), 32)),
              c.address);
  }
}

TEST(OnionAddress, OfExpandedKeyWithAndWithoutPrefix) {
  for (const AddressCase& c : kAddresses) {
    const std::string blob = expanded_key_blob(c.seed_hex);
    auto a = torcon::onion_address_of_key(blob);
    ASSERT_TRUE(a) << a.error().message;
    EXPECT_EQ(*a, c.address);
    auto b = torcon::onion_address_of_key("ED25519-V3:" + blob);
    ASSERT_TRUE(b);
    EXPECT_EQ(*b, c.address);
  }
}

TEST(OnionAddress, NewKeysAreDistinctAndValid) {
  const std::string k1 = torcon::new_onion_key(), k2 = torcon::new_onion_key();
  EXPECT_NE(k1, k2);
  EXPECT_EQ(k1.size(), 88u);
  auto raw = torcon::base64_decode(k1);
  ASSERT_TRUE(raw);
  ASSERT_EQ(raw->size(), 64u);
  EXPECT_EQ((*raw)[0] & 7, 0);  // clamped as tor's keys are
  EXPECT_EQ((*raw)[31] & 0xc0, 0x40);
  auto a = torcon::onion_address_of_key(k1);
  ASSERT_TRUE(a);
  EXPECT_TRUE(torcon::is_onion_address(*a));
}

TEST(OnionAddress, BadKeysRefused) {
  const std::string zero_scalar = torcon::base64_encode(std::vector<std::uint8_t>(64, 0));
  for (const std::string& k :
       {std::string(), std::string("not base64!"), torcon::base64_encode(bytes("short")),
        torcon::base64_encode(std::vector<std::uint8_t>(63, 1)),
        torcon::base64_encode(std::vector<std::uint8_t>(65, 1)), zero_scalar,
        std::string("RSA1024:") + torcon::new_onion_key()}) {
    auto a = torcon::onion_address_of_key(k);
    ASSERT_FALSE(a) << k;
    EXPECT_EQ(a.error().code, Errc::bad_argument);
  }
}

TEST(OnionServiceId, AcceptsAndNormalises) {
  const std::string id = "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid";
  std::string upper = id;
  for (char& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
  for (const std::string& in : {id, id + ".onion", upper, upper + ".onion"}) {
    auto r = torcon::onion_service_id(in);
    ASSERT_TRUE(r) << in << ": " << r.error().message;
    EXPECT_EQ(*r, id);
  }
}

TEST(OnionServiceId, RefusesWrongForms) {
  const std::string id = "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid";
  std::string bad_checksum = id;
  bad_checksum[53] = bad_checksum[53] == 'a' ? 'b' : 'a';
  std::string version2 = id;  // last character encodes the version's low bits
  version2[55] = 'c';
  const char* const cases[] = {
      "",
      "example.onion",
      "abcdefghijklmnop",                                           // v2 length
      "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5si",    // 55
      "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sidd",  // 57
      "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5si1",   // '1' not base32
      "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid.onion.onion",
      "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid\r\n"};
  for (const char* c : cases) EXPECT_FALSE(torcon::onion_service_id(c)) << c;
  EXPECT_FALSE(torcon::onion_service_id(bad_checksum));
  EXPECT_FALSE(torcon::onion_service_id(version2));
}

TEST(ClientAuthKeys, Rfc7748Pair) {
  // RFC 7748 6.1, Alice: private 77076d0a..., public 8520f009...
  const std::string priv_b64 = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
  const std::string priv_b32 = "o4dw2cttdcsx2pawyfzfdmtgixpuyl4h5pajskvro752khnzfqva";
  const std::string pub_b32 = "quqpacmjgctvi5elpxolipxxlig36oqney4bv5hlusuy5ku3jzva";
  for (const std::string& in :
       {priv_b64, priv_b32, "x25519:" + priv_b64, priv_b64.substr(0, 43) /* unpadded */}) {
    auto k = torcon::client_auth_keys_from_private(in);
    ASSERT_TRUE(k) << in << ": " << k.error().message;
    EXPECT_EQ(k->public_base32, pub_b32);
    EXPECT_EQ(k->private_base32, priv_b32);
    EXPECT_EQ(k->private_base64, priv_b64);
  }
}

TEST(ClientAuthKeys, NewPairsAgreeWithTheirPrivateKey) {
  const torcon::ClientAuthKeys a = torcon::new_client_auth_keys(),
                               b = torcon::new_client_auth_keys();
  EXPECT_NE(a.private_base64, b.private_base64);
  EXPECT_EQ(a.public_base32.size(), 52u);
  EXPECT_EQ(a.private_base32.size(), 52u);
  EXPECT_EQ(a.private_base64.size(), 44u);
  auto again = torcon::client_auth_keys_from_private(a.private_base32);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->public_base32, a.public_base32);
}

TEST(ClientAuthKeys, WrongLengthsRefused) {
  for (std::string_view in : {"", "abc", "quqpacmjgctvi5elpxolipxxlig36oqney4bv5hlusuy5ku3jzv",
                              "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC==", "x25519:"}) {
    auto k = torcon::client_auth_keys_from_private(in);
    ASSERT_FALSE(k) << in;
    EXPECT_EQ(k.error().code, Errc::bad_argument);
  }
  EXPECT_TRUE(
      torcon::client_auth_public_key("QUQPACMJGCTVI5ELPXOLIPXXLIG36OQNEY4BV5HLUSUY5KU3JZVA"));
  EXPECT_EQ(*torcon::client_auth_public_key("QUQPACMJGCTVI5ELPXOLIPXXLIG36OQNEY4BV5HLUSUY5KU3JZVA"),
            "quqpacmjgctvi5elpxolipxxlig36oqney4bv5hlusuy5ku3jzva");
  for (std::string_view in :
       {"", "quqpacmjgctvi5elpxolipxxlig36oqney4bv5hlusuy5ku3jzv",
        "quqpacmjgctvi5elpxolipxxlig36oqney4bv5hlusuy5ku3jzvaa",
        "quqpacmjgctvi5elpxolipxxlig36oqney4bv5hlusuy5ku3jzv1",
        "quqpacmjgctvi5elpxolipxxlig36oqney4bv5hlusuy5ku3jzvb"})  // trailing bits
    EXPECT_FALSE(torcon::client_auth_public_key(in)) << in;
}

struct Base32Case {
  const char* raw;
  const char* encoded;
};
TEST(Base32, Rfc4648Examples) {
  // RFC 4648 section 10, lower case and unpadded as tor writes them.
  const Base32Case cases[] = {{"", ""},
                              {"f", "my"},
                              {"fo", "mzxq"},
                              {"foo", "mzxw6"},
                              {"foob", "mzxw6yq"},
                              {"fooba", "mzxw6ytb"},
                              {"foobar", "mzxw6ytboi"}};
  for (const Base32Case& c : cases) {
    EXPECT_EQ(torcon::base32_encode(bytes(c.raw)), c.encoded);
    auto d = torcon::base32_decode(c.encoded);
    ASSERT_TRUE(d) << c.encoded;
    EXPECT_EQ(*d, bytes(c.raw));
  }
  EXPECT_EQ(*torcon::base32_decode("MZXW6YTBOI"), bytes("foobar"));
  for (std::string_view bad : {"m", "mzx", "mzxw6yt", "mz", "my======", "mz xq", "0123"})
    EXPECT_FALSE(torcon::base32_decode(bad)) << bad;
}

TEST(Base64, Rfc4648Examples) {
  const Base32Case cases[] = {{"", ""},
                              {"f", "Zg=="},
                              {"fo", "Zm8="},
                              {"foo", "Zm9v"},
                              {"foob", "Zm9vYg=="},
                              {"fooba", "Zm9vYmE="},
                              {"foobar", "Zm9vYmFy"}};
  for (const Base32Case& c : cases) {
    EXPECT_EQ(torcon::base64_encode(bytes(c.raw)), c.encoded);
    auto d = torcon::base64_decode(c.encoded);
    ASSERT_TRUE(d) << c.encoded;
    EXPECT_EQ(*d, bytes(c.raw));
  }
  EXPECT_EQ(*torcon::base64_decode("Zm9vYg"), bytes("foob"));
  // Non-canonical trailing bits, and an 8-bit byte inside (a fuzzer found
  // libsodium's decoder letting one through).
  for (std::string_view bad :
       {"Zm9vY", "Zm9v!", "Zg=", "Z===", "Zm 9v", "Zh==", "Zm9\xafYg==", "Zg==Zg==", "=Zg="})
    EXPECT_FALSE(torcon::base64_decode(bad)) << bad;
}

}  // namespace
