// Relays' country codes for the monitor, through torcon's GeoIP locator
// (torcon/geoip.hpp): the --geoip MaxMind database when one is given, else
// tor's geoip files (Debian's tor-geoipdb), else tor itself (GETINFO
// ip-to-country). country() answers at once from the databases and files
// (the locator caches per relay) and notes relays they do not know;
// ask_missing() then asks tor about those, once each, so a frame never waits
// for tor.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "torcon/expected.hpp"
#include "torcon/geoip.hpp"

namespace torcon {
class Controller;
class Router;
class TorState;
}  // namespace torcon

namespace torcon::monitor {

class RelayCountries {
 public:
  // `mmdb`: a MaxMind database, or "" for tor's files and tor. Errors: the
  // database or tor's files cannot be read (the locator's message).
  static Expected<RelayCountries> open(const std::string& mmdb, Controller& controller);

  // Lower-case ISO code ("de"), "??" when no source knows the relay, "" while
  // tor has not answered yet.
  std::string country(const Router& router);
  // Asks tor about the relays country() noted (still in `state`).
  void ask_missing(const TorState& state);

 private:
  explicit RelayCountries(GeoIpLocator locator) : locator_(std::move(locator)) {}
  GeoIpLocator locator_;
  // tor's answers by relay identity: "" while asked.
  std::map<std::array<std::uint8_t, 20>, std::string> from_tor_;
  std::vector<std::array<std::uint8_t, 20>> missing_;
};

}  // namespace torcon::monitor
