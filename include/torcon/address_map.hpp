// Tor's address map as TorState knows it (ADDRMAP events, control-spec
// 4.1.7, and GETINFO address-mappings/all): which address a name maps to,
// until when.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "torcon/export.hpp"

namespace torcon {

/// One entry of tor's address map (ADDRMAP events, address-mappings/all).
struct TORCON_API AddressMapping {
  std::string address;  ///< what the application asked for (a hostname, usually)
  std::string target;   ///< what tor maps it to (an address, usually)
  /// UTC; nullopt: the mapping never expires ("NEVER"). Taken from EXPIRES=
  /// when tor sends it, else from the positional expiry, which the event
  /// gives in local time.
  std::optional<std::chrono::system_clock::time_point> expires;
  bool cached = false;  ///< CACHED="YES": from tor's DNS cache, not a MAPADDRESS
};

enum class AddressMapChange : std::uint8_t {
  added,
  updated,  ///< new target or expiry
  removed,  ///< expired, or tor reported a failure for the address
};

}  // namespace torcon
