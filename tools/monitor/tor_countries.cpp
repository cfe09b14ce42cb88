#include "monitor/tor_countries.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <string_view>

#include "torcon/controller.hpp"
#include "torcon/router.hpp"

namespace torcon::monitor {

namespace {

std::string dotted(std::uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string(ip >> 16 & 0xff) + "." +
         std::to_string(ip >> 8 & 0xff) + "." + std::to_string(ip & 0xff);
}

}  // namespace

std::string TorCountries::country(const Router& router) {
  const std::uint32_t ip = router.ipv4();
  if (ip == 0) return {};
  auto it = known_.find(ip);
  if (it != known_.end()) return it->second;
  known_.emplace(ip, std::string());
  missing_.push_back(ip);
  return {};
}

void TorCountries::ask_missing(Controller& controller) {
  if (missing_.empty()) return;
  const std::size_t n = std::min<std::size_t>(missing_.size(), 64);
  std::vector<std::uint32_t> asked(missing_.begin(), missing_.begin() + std::ptrdiff_t(n));
  missing_.erase(missing_.begin(), missing_.begin() + std::ptrdiff_t(n));
  std::vector<std::string> keys;
  for (std::uint32_t ip : asked) keys.push_back("ip-to-country/" + dotted(ip));
  std::vector<std::string_view> views(keys.begin(), keys.end());
  controller.getinfo(views, [this, asked, keys](const Expected<KeyValues>& kv) {
    // A refusal (no GeoIP loaded: "551 GeoIP data not loaded") leaves "??",
    // so the address is not asked again.
    for (std::size_t i = 0; i < asked.size(); ++i) {
      const std::string* v = kv ? kv->find(keys[i]) : nullptr;
      std::string cc = v && !v->empty() ? *v : "??";
      for (char& c : cc) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      known_[asked[i]] = cc;
    }
  });
}

}  // namespace torcon::monitor
