// One MaxMind .mmdb database opened through libmaxminddb. Kept out of the
// public header: users of torcon never see libmaxminddb's types.
#pragma once

#include <memory>
#include <string>

#include "torcon/exit_policy.hpp"
#include "torcon/expected.hpp"
#include "torcon/geoip.hpp"

namespace torcon::detail {

class MmdbDatabase {
 public:
  /// Opens `path` (memory-mapped). Errc::io naming the file and what
  /// libmaxminddb found wrong (missing, not a database, truncated metadata).
  static Expected<MmdbDatabase> open(const std::string& path);
  MmdbDatabase(MmdbDatabase&&) noexcept;
  MmdbDatabase& operator=(MmdbDatabase&&) noexcept;
  ~MmdbDatabase();

  /// Fills the fields of `into` that are still empty and this database has
  /// for `address`; true when it had a record for it at all. Errc::io when
  /// the database is damaged on the way to the address.
  Expected<bool> fill(const IpAddress& address, GeoLocation& into) const;
  const std::string& path() const noexcept { return path_; }

 private:
  struct Handle;
  MmdbDatabase(std::string path, std::unique_ptr<Handle> h);
  std::string path_;
  std::unique_ptr<Handle> handle_;
};

}  // namespace torcon::detail
