// Relays' country codes as tor itself knows them (GETINFO ip-to-country/ADDR,
// from tor's GeoIPFile/GeoIPv6File), asked once per address and cached.
// country() answers from the cache and notes what it lacks; ask_missing()
// then sends one GETINFO for everything noted, so a frame never waits for
// tor and each address costs one key of one command, once.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace torcon {
class Controller;
class Router;
}  // namespace torcon

namespace torcon::monitor {

class TorCountries {
 public:
  // The two-letter code in lower case ("??": tor has no answer), or "" while
  // it is not known yet.
  std::string country(const Router& router);
  // Sends GETINFO for the addresses country() lacked (at most 64 per call).
  void ask_missing(Controller& controller);

 private:
  // By IPv4 address (host order): the answer, or "" while asked.
  std::unordered_map<std::uint32_t, std::string> known_;
  std::vector<std::uint32_t> missing_;
};

}  // namespace torcon::monitor
