#include "safecookie.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "torcon/tokens.hpp"

namespace torcon::safecookie {

Digest compute(bool server, std::span<const std::uint8_t> cookie,
               std::span<const std::uint8_t> client_nonce,
               std::span<const std::uint8_t> server_nonce) {
  static constexpr std::string_view kServerKey =
      "Tor safe cookie authentication server-to-controller hash";
  static constexpr std::string_view kClientKey =
      "Tor safe cookie authentication controller-to-server hash";
  const std::string_view key = server ? kServerKey : kClientKey;
  std::string msg;
  msg.reserve(cookie.size() + client_nonce.size() + server_nonce.size());
  msg.append(reinterpret_cast<const char*>(cookie.data()), cookie.size());
  msg.append(reinterpret_cast<const char*>(client_nonce.data()), client_nonce.size());
  msg.append(reinterpret_cast<const char*>(server_nonce.data()), server_nonce.size());
  Digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out.data(), &len);
  wipe(msg);  // it holds the cookie
  return out;
}

bool equal(const Digest& a, const Digest& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Expected<Nonce> client_nonce() {
  Nonce n{};
  std::size_t got = 0;
  while (got < n.size()) {
    const ssize_t r = ::getrandom(n.data() + got, n.size() - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Error(Errc::auth, std::string("getrandom: ") + std::strerror(errno));
    }
    got += static_cast<std::size_t>(r);
  }
  return n;
}

Expected<std::string> read_cookie(const std::string& path) {
  if (path.empty()) return Error(Errc::auth, "tor named no cookie file");
  // O_NONBLOCK: opening a FIFO for reading would wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0)
    return Error(Errc::auth, "cannot open cookie file " + path + ": " + std::strerror(errno));
  // What was opened, not what the path names now: a link to a regular file
  // is fine, a device, FIFO, socket or directory is not.
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error(Errc::auth, "cookie file " + path + " is not a regular file");
  }
  std::string cookie(33, '\0');
  ssize_t n = -1;
  if (st.st_size == 32) n = ::read(fd, cookie.data(), 33);
  ::close(fd);
  if (st.st_size != 32 || n != 32) {
    wipe(cookie);
    return Error(Errc::auth, "cookie file " + path + " is " + std::to_string(st.st_size) +
                                 " bytes, not the 32 tor writes");
  }
  cookie.resize(32);
  return cookie;
}

void wipe(std::string& s) {
  OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    s.push_back(kHex[b >> 4]);
    s.push_back(kHex[b & 15]);
  }
  return s;
}

bool from_hex(std::string_view hex, std::string& out) {
  if (hex.size() % 2) return false;
  out.clear();
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return true;
}

}  // namespace torcon::safecookie
