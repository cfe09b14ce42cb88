#include "monitor/relay_countries.hpp"

#include "torcon/controller.hpp"
#include "torcon/router.hpp"
#include "torcon/tor_state.hpp"

namespace torcon::monitor {

namespace {

std::string lower(std::string cc) {
  for (char& c : cc)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return cc;
}

}  // namespace

Expected<RelayCountries> RelayCountries::open(const std::string& mmdb, Controller& controller) {
  GeoIpOptions o;
  if (!mmdb.empty()) o.mmdb_files = {mmdb};
  o.controller = &controller;
  Expected<GeoIpLocator> locator = GeoIpLocator::open(std::move(o));
  if (!locator) return locator.error();
  return RelayCountries(std::move(*locator));
}

std::string RelayCountries::country(const Router& router) {
  const GeoLocation& here = locator_.locate(router);
  if (here.found() && !here.country_code.empty()) return lower(here.country_code);
  auto it = from_tor_.find(router.identity());
  if (it != from_tor_.end()) return it->second;
  from_tor_.emplace(router.identity(), std::string());
  missing_.push_back(router.identity());
  return {};
}

void RelayCountries::ask_missing(const TorState& state) {
  std::vector<std::array<std::uint8_t, 20>> asking;
  asking.swap(missing_);
  for (const auto& id : asking) {
    const Router* r = state.router(id);
    if (!r) {
      from_tor_.erase(id);  // gone; asked again if it comes back
      continue;
    }
    locator_.locate(*r, [this, id](const Expected<GeoLocation>& g) {
      // Not found, or tor refused (no GeoIP data loaded): "??", not asked again.
      from_tor_[id] = g && g->found() && !g->country_code.empty() ? lower(g->country_code) : "??";
    });
  }
}

}  // namespace torcon::monitor
