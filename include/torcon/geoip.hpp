// Where an address (or a relay) is: country, city, coordinates and AS.
//
//   torcon::GeoIpOptions opts;
//   opts.mmdb_files = {"/var/lib/GeoIP/GeoLite2-City.mmdb"};  // optional
//   opts.controller = &ctl;                                   // optional: ask tor last
//   auto geo = torcon::GeoIpLocator::open(opts);
//   if (!geo) return fail(geo.error());
//   auto here = geo->lookup("192.0.2.7");          // synchronous: databases and files only
//   geo->locate("192.0.2.7", [](const torcon::Expected<torcon::GeoLocation>& g) { ... });
//   const torcon::GeoLocation& r = geo->locate(router);  // cached per relay
//
// Sources, in order; the first that knows the address answers, and the answer
// says which (GeoLocation::source):
//   1. MaxMind databases (.mmdb, through libmaxminddb): every field they hold.
//      Several may be given (a City database and an ASN one): each field comes
//      from the first database that has it.
//   2. tor's own geoip files (Debian's tor-geoipdb: /usr/share/tor/geoip and
//      geoip6): the country code only. Read once, at open(), into a sorted
//      range table; lookups are binary searches.
//   3. tor itself, `GETINFO ip-to-country/<address>` (asynchronous forms only,
//      and only with a Controller): the country code only.
// Not found anywhere: a GeoLocation with source none (not an error). Errors
// are for what the caller can fix: a file that is missing or not what it
// claims to be, an address that is not an address, tor refusing the query.
//
// Single-threaded, like the Controller: use a locator on the loop's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/controller.hpp"
#include "torcon/exit_policy.hpp"
#include "torcon/expected.hpp"
#include "torcon/export.hpp"
#include "torcon/router.hpp"

namespace torcon {

/// Which source gave a GeoLocation.
enum class GeoSource : std::uint8_t {
  none,            ///< nobody knew the address
  mmdb,            ///< a MaxMind database (GeoIpOptions::mmdb_files)
  tor_geoip_file,  ///< tor's geoip / geoip6 file
  tor_getinfo,     ///< tor, via GETINFO ip-to-country
};

/// "none", "mmdb", "tor-geoip-file", "tor-getinfo".
TORCON_API std::string_view to_string(GeoSource s) noexcept;

/// Where an address is, as far as the source that answered knows.
struct TORCON_API GeoLocation {
  /// ISO 3166-1 alpha-2, upper case ("DE"); "" when unknown.
  std::string country_code;
  /// The country's English name ("Germany"); "" unless a database has it.
  std::string country_name;
  /// The city's English name; "" unless a database has it.
  std::string city;
  /// Degrees north (negative: south), when a database has coordinates.
  std::optional<double> latitude;
  /// Degrees east (negative: west), when a database has coordinates.
  std::optional<double> longitude;
  /// The autonomous system number, when a database has it.
  std::optional<std::uint32_t> asn;
  /// The AS's organisation, when a database has it.
  std::string as_organization;
  /// Who answered (none: nobody knew the address).
  GeoSource source = GeoSource::none;

  /// Some source knew the address.
  bool found() const noexcept { return source != GeoSource::none; }
  /// Field-wise equality.
  bool operator==(const GeoLocation&) const = default;
};

/// Gets a location (source none: not found) or why there is none.
using GeoLocationCallback = std::function<void(const Expected<GeoLocation>&)>;

/// What a GeoIpLocator reads.
struct TORCON_API GeoIpOptions {
  /// MaxMind .mmdb databases, consulted in order (none: skip this source).
  /// Each must open: a missing or damaged one makes open() fail.
  std::vector<std::string> mmdb_files;
  /// tor's IPv4 geoip file ("low,high,CC" with addresses as integers). Empty
  /// (the default): Debian's /usr/share/tor/geoip when it exists, else none.
  /// A path given must load.
  std::string tor_geoip_file;
  /// tor's IPv6 geoip6 file ("low,high,CC" with IPv6 addresses). Empty: the
  /// Debian one when it exists. A path given must load.
  std::string tor_geoip6_file;
  /// False: never read tor's geoip files, not even Debian's.
  bool use_tor_geoip_files = true;
  /// Asked last by the asynchronous forms (null: never). It must outlive the locator.
  Controller* controller = nullptr;
};

/// Where Debian's tor-geoipdb puts tor's geoip files.
inline constexpr std::string_view kDebianTorGeoipFile = "/usr/share/tor/geoip";
/// See kDebianTorGeoipFile.
inline constexpr std::string_view kDebianTorGeoip6File = "/usr/share/tor/geoip6";

/// Locates addresses and relays from MaxMind databases, tor's geoip files
/// and tor itself (see the top of geoip.hpp). Movable, not copyable.
class TORCON_API GeoIpLocator {
 public:
  /// Opens the databases and loads tor's geoip files. Errors: a database or
  /// file given that is missing, unreadable, truncated or malformed
  /// (Errc::io, the message names the file and, for a bad line, its number).
  static Expected<GeoIpLocator> open(GeoIpOptions options);

  GeoIpLocator(GeoIpLocator&&) noexcept;             ///< moves the databases and cache
  GeoIpLocator& operator=(GeoIpLocator&&) noexcept;  ///< moves the databases and cache
  ~GeoIpLocator();                                   ///< closes the databases

  /// The databases and files only (never tor): "192.0.2.1", "2001:db8::1",
  /// "[2001:db8::1]". Errc::bad_argument for anything else; Errc::io when a
  /// database turns out to be damaged at this address.
  Expected<GeoLocation> lookup(std::string_view address) const;
  /// lookup() for an address already parsed.
  Expected<GeoLocation> lookup(const IpAddress& address) const;

  /// lookup(), then, when that found nothing and a Controller was given,
  /// `GETINFO ip-to-country/<address>`. The callback runs before return
  /// when tor is not asked. tor's "??" is source none; tor's refusal is an
  /// error (Errc::tor_error).
  void locate(std::string_view address, GeoLocationCallback cb);
  /// locate() for coroutines.
  Controller::Awaiter<Expected<GeoLocation>> co_locate(std::string address);

  /// A relay's location from its IPv4 address (else its first IPv6 one), by
  /// lookup() on first use and cached by identity until its address changes.
  /// Source none when it has no address or nothing knows it, or a database
  /// failed (the error is not cached). The reference stays valid until this
  /// relay is located again or clear_cache(); copy it to keep it longer.
  const GeoLocation& locate(const Router& router);
  /// locate(router), asking tor (as locate(address) does) when the
  /// databases and files know nothing; tor's answer is cached too.
  void locate(const Router& router, GeoLocationCallback cb);
  /// Drops the cached locations (so that tor is asked again, say, or the
  /// memory of relays long gone is freed).
  void clear_cache() noexcept;
  /// Relays with a cached location.
  std::size_t cached() const noexcept;

  /// What was loaded: databases open, and ranges in tor's geoip files.
  std::size_t mmdb_count() const noexcept;
  std::size_t tor_geoip_ranges() const noexcept;   ///< IPv4 ranges
  std::size_t tor_geoip6_ranges() const noexcept;  ///< IPv6 ranges

 private:
  struct Impl;
  explicit GeoIpLocator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace torcon
