// GeoIpLocator: the sources in order (geoip.hpp), the relay cache, and the
// GETINFO ip-to-country fallback.
#include <arpa/inet.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "mmdb_database.hpp"
#include "tor_geoip_file.hpp"
#include "torcon/geoip.hpp"

namespace torcon {

std::string_view to_string(GeoSource s) noexcept {
  switch (s) {
    case GeoSource::none: return "none";
    case GeoSource::mmdb: return "mmdb";
    case GeoSource::tor_geoip_file: return "tor-geoip-file";
    case GeoSource::tor_getinfo: return "tor-getinfo";
  }
  return "none";
}

namespace {

struct IdentityHash {
  std::size_t operator()(const RouterIdentity& id) const noexcept {
    // A SHA-1 digest: its first bytes are as good a hash as any.
    std::size_t h = 0;
    std::memcpy(&h, id.data(), sizeof h);
    return h;
  }
};

struct CachedLocation {
  IpAddress address;  // what it was looked up from: a relay that moves is looked up again
  GeoLocation location;
  bool asked_tor = false;  // tor's "??" is an answer too: not asked again
};

Expected<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(Errc::io, path + ": " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return Error(Errc::io, path + ": read failed");
  return std::move(s).str();
}

bool exists(std::string_view path) {
  struct stat st {};
  return ::stat(std::string(path).c_str(), &st) == 0;
}

std::string address_text(const IpAddress& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(a.v6 ? AF_INET6 : AF_INET, a.bytes.data(), buf, sizeof buf);
  return buf;
}

// A relay's address for locating it: IPv4, else the first IPv6.
std::optional<IpAddress> router_address(const Router& r) {
  IpAddress a;
  if (r.ipv4() != 0) {
    const std::uint32_t v = r.ipv4();
    a.bytes = {std::uint8_t(v >> 24), std::uint8_t(v >> 16), std::uint8_t(v >> 8), std::uint8_t(v)};
    return a;
  }
  if (!r.ipv6().empty()) {
    a.v6 = true;
    a.bytes = r.ipv6().front().addr;
    return a;
  }
  return std::nullopt;
}

// tor's answer to ip-to-country/<address>: two letters, or "??".
Expected<GeoLocation> from_tor(const Expected<KeyValues>& kv, const std::string& key) {
  if (!kv) return kv.error();
  const std::string* v = kv->find(key);
  if (!v) return Error(Errc::bad_argument, "GETINFO " + key + ": tor's reply lacks the key");
  GeoLocation g;
  if (*v == "??") return g;
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (v->size() != 2 || !letter((*v)[0]) || !letter((*v)[1]))
    return Error(Errc::bad_argument, "GETINFO " + key + ": not a country code: " + *v);
  for (char c : *v) g.country_code.push_back(c >= 'a' ? char(c - 'a' + 'A') : c);
  g.source = GeoSource::tor_getinfo;
  return g;
}

}  // namespace

struct GeoIpLocator::Impl {
  std::vector<detail::MmdbDatabase> databases;
  detail::CountryRangeTable v4{}, v6{};
  Controller* controller = nullptr;
  std::unordered_map<RouterIdentity, CachedLocation, IdentityHash> cache;
  // Answers from tor arrive after the caller may have dropped the locator:
  // they cache only while this is alive.
  std::shared_ptr<Impl*> alive = std::make_shared<Impl*>(this);

  Expected<GeoLocation> lookup(const IpAddress& a) const {
    GeoLocation g;
    bool found = false;
    for (const auto& db : databases) {
      auto had = db.fill(a, g);
      if (!had) return had.error();
      found |= *had;
    }
    // A record with nothing we read (e.g. only a network's name) is no answer.
    if (found && (!g.country_code.empty() || !g.city.empty() || g.latitude || g.asn)) {
      g.source = GeoSource::mmdb;
      return g;
    }
    std::string_view cc = (a.v6 ? v6 : v4).find(detail::AddressKey::from_bytes(a.bytes, a.v6));
    GeoLocation t;
    if (!cc.empty()) {
      t.country_code = std::string(cc);
      t.source = GeoSource::tor_geoip_file;
    }
    return t;
  }

  // Asks tor about `a`; `done` gets its answer.
  void ask_tor(const IpAddress& a, std::function<void(const Expected<GeoLocation>&)> done) {
    std::string key = "ip-to-country/" + address_text(a);
    std::string_view keys[] = {key};
    controller->getinfo(
        std::span<const std::string_view>(keys),
        [key, done = std::move(done)](const Expected<KeyValues>& kv) { done(from_tor(kv, key)); });
  }
};

GeoIpLocator::GeoIpLocator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GeoIpLocator::GeoIpLocator(GeoIpLocator&&) noexcept = default;
GeoIpLocator& GeoIpLocator::operator=(GeoIpLocator&&) noexcept = default;
GeoIpLocator::~GeoIpLocator() = default;

namespace {

Status load_table(const std::string& given, std::string_view debian, bool use,
                  detail::CountryRangeTable::Family family, detail::CountryRangeTable& into) {
  if (!use) return {};
  std::string path = given;
  if (path.empty()) {
    if (!exists(debian)) return {};  // no tor-geoipdb installed: this source is absent
    path = std::string(debian);
  }
  auto text = read_file(path);
  if (!text) return Error(Errc::io, "tor geoip file " + text.error().message);
  auto table = detail::CountryRangeTable::parse(*text, family);
  if (!table)
    return Error(Errc::io, "tor geoip file " + path + ": " + table.error().message,
                 table.error().offset);
  into = std::move(*table);
  return {};
}

}  // namespace

Expected<GeoIpLocator> GeoIpLocator::open(GeoIpOptions options) {
  auto impl = std::make_unique<Impl>();
  for (const auto& path : options.mmdb_files) {
    auto db = detail::MmdbDatabase::open(path);
    if (!db) return db.error();
    impl->databases.push_back(std::move(*db));
  }
  using Family = detail::CountryRangeTable::Family;
  if (auto s = load_table(options.tor_geoip_file, kDebianTorGeoipFile, options.use_tor_geoip_files,
                          Family::v4, impl->v4);
      !s)
    return s.error();
  if (auto s = load_table(options.tor_geoip6_file, kDebianTorGeoip6File,
                          options.use_tor_geoip_files, Family::v6, impl->v6);
      !s)
    return s.error();
  impl->controller = options.controller;
  return GeoIpLocator(std::move(impl));
}

Expected<GeoLocation> GeoIpLocator::lookup(std::string_view address) const {
  auto a = IpAddress::parse(address);
  if (!a) return Error(Errc::bad_argument, "not an IPv4 or IPv6 address: " + std::string(address));
  return impl_->lookup(*a);
}

Expected<GeoLocation> GeoIpLocator::lookup(const IpAddress& address) const {
  return impl_->lookup(address);
}

void GeoIpLocator::locate(std::string_view address, GeoLocationCallback cb) {
  auto a = IpAddress::parse(address);
  if (!a) {
    cb(Error(Errc::bad_argument, "not an IPv4 or IPv6 address: " + std::string(address)));
    return;
  }
  auto local = impl_->lookup(*a);
  if (!local || local->found() || !impl_->controller) {
    cb(local);
    return;
  }
  impl_->ask_tor(*a, std::move(cb));
}

Controller::Awaiter<Expected<GeoLocation>> GeoIpLocator::co_locate(std::string address) {
  return {[this, address = std::move(address)](std::function<void(Expected<GeoLocation>)> resume) {
            locate(address,
                   [resume = std::move(resume)](const Expected<GeoLocation>& g) { resume(g); });
          },
          {}};
}

const GeoLocation& GeoIpLocator::locate(const Router& router) {
  static const GeoLocation nowhere;
  auto a = router_address(router);
  if (!a) return nowhere;
  auto it = impl_->cache.find(router.identity());
  if (it != impl_->cache.end() && it->second.address == *a) return it->second.location;
  auto g = impl_->lookup(*a);
  if (!g) return nowhere;  // a damaged database: not cached, tried again next time
  auto& slot = impl_->cache[router.identity()];
  slot = CachedLocation{*a, std::move(*g)};
  return slot.location;
}

void GeoIpLocator::locate(const Router& router, GeoLocationCallback cb) {
  auto a = router_address(router);
  if (!a) {
    cb(GeoLocation{});
    return;
  }
  auto it = impl_->cache.find(router.identity());
  if (it != impl_->cache.end() && it->second.address == *a &&
      (it->second.location.found() || it->second.asked_tor || !impl_->controller)) {
    cb(it->second.location);
    return;
  }
  auto local = impl_->lookup(*a);
  if (!local || local->found() || !impl_->controller) {
    if (local) impl_->cache[router.identity()] = CachedLocation{*a, *local};
    cb(local);
    return;
  }
  std::weak_ptr<Impl*> alive = impl_->alive;
  impl_->ask_tor(*a, [alive, id = router.identity(), address = *a,
                      cb = std::move(cb)](const Expected<GeoLocation>& g) {
    if (auto impl = alive.lock(); impl && g) (*impl)->cache[id] = CachedLocation{address, *g, true};
    cb(g);
  });
}

void GeoIpLocator::clear_cache() noexcept { impl_->cache.clear(); }
std::size_t GeoIpLocator::cached() const noexcept { return impl_->cache.size(); }
std::size_t GeoIpLocator::mmdb_count() const noexcept { return impl_->databases.size(); }
std::size_t GeoIpLocator::tor_geoip_ranges() const noexcept { return impl_->v4.size(); }
std::size_t GeoIpLocator::tor_geoip6_ranges() const noexcept { return impl_->v6.size(); }

}  // namespace torcon
