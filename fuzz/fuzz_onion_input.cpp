// The onion helpers on hostile input: addresses, keys and port targets from
// a caller, and ONION_CLIENT_AUTH_VIEW replies from tor. Nothing may crash;
// whatever is accepted must be well-formed (a command built from accepted
// input carries no CR, LF or NUL; decoded base32/base64 re-encodes to the
// canonical form of what was given).

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "torcon/onion_keys.hpp"
#include "torcon/onion_service.hpp"
#include "torcon/reply_reader.hpp"

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return out;
}

bool clean(std::string_view wire) {
  // Only the final CRLF may hold CR or LF in a one-line command.
  const std::string_view body = wire.substr(0, wire.size() - 2);
  return wire.ends_with("\r\n") &&
         body.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  if (auto b = torcon::base32_decode(in)) FUZZ_CHECK(torcon::base32_encode(*b) == lower(in));
  if (auto b = torcon::base64_decode(in)) {
    const std::string again = torcon::base64_encode(*b);
    FUZZ_CHECK(again == in || again.substr(0, in.size()) == in);  // padding may be added
  }
  if (auto id = torcon::onion_service_id(in)) {
    FUZZ_CHECK(id->size() == 56);
    FUZZ_CHECK(torcon::is_onion_address(*id + ".onion"));
  }
  if (auto a = torcon::onion_address_of_key(in)) FUZZ_CHECK(torcon::is_onion_address(*a));
  if (auto k = torcon::client_auth_keys_from_private(in)) {
    FUZZ_CHECK(k->public_base32.size() == 52 && k->private_base64.size() == 44);
  }

  // The input split at its first NUL: a port target and a client key.
  const std::size_t nul = in.find('\0');
  torcon::OnionServiceSpec spec;
  spec.ports = {{std::uint32_t(size), std::string(in.substr(0, nul))}};
  if (nul != std::string_view::npos) spec.client_keys = {std::string(in.substr(nul + 1))};
  if (auto cmd = torcon::add_onion_command(spec)) FUZZ_CHECK(clean(cmd->wire()));
  if (auto cmd =
          torcon::hspost_command("desc", "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid",
                                 {std::string(in.substr(0, nul))}))
    FUZZ_CHECK(cmd->wire().starts_with("+HSPOST SERVER=$"));

  // As tor's reply to ONION_CLIENT_AUTH_VIEW.
  torcon::ReplyReader reader;
  reader.feed(in);
  torcon::Reply reply;
  while (reader.next(reply) == torcon::ReplyReader::Next::reply) {
    if (auto v = torcon::parse_client_auth_view(reply))
      for (const torcon::OnionClientAuth& c : *v) FUZZ_CHECK(!c.service_id.empty());
  }
  return 0;
}
