#include "mmdb_database.hpp"

#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace torcon::detail {

struct MmdbDatabase::Handle {
  MMDB_s db{};
  bool opened = false;  // MMDB_open frees what it allocated when it fails
  ~Handle() {
    if (opened) MMDB_close(&db);
  }
};

MmdbDatabase::MmdbDatabase(std::string path, std::unique_ptr<Handle> h)
    : path_(std::move(path)), handle_(std::move(h)) {}
MmdbDatabase::MmdbDatabase(MmdbDatabase&&) noexcept = default;
MmdbDatabase& MmdbDatabase::operator=(MmdbDatabase&&) noexcept = default;
MmdbDatabase::~MmdbDatabase() = default;

namespace {

Error mmdb_error(const std::string& path, int status) {
  std::string why = MMDB_strerror(status);
  if (status == MMDB_IO_ERROR) why += std::string(" (") + std::strerror(errno) + ")";
  return Error(Errc::io, "mmdb " + path + ": " + why);
}

// The string at `path...` in the record, if it is one.
template <class... Path>
bool get_string(MMDB_entry_s& entry, std::string& out, Path... path) {
  MMDB_entry_data_s data{};
  if (MMDB_get_value(&entry, &data, path..., nullptr) != MMDB_SUCCESS || !data.has_data ||
      data.type != MMDB_DATA_TYPE_UTF8_STRING)
    return false;
  out.assign(data.utf8_string, data.data_size);
  return true;
}

template <class... Path>
bool get_double(MMDB_entry_s& entry, std::optional<double>& out, Path... path) {
  MMDB_entry_data_s data{};
  if (MMDB_get_value(&entry, &data, path..., nullptr) != MMDB_SUCCESS || !data.has_data)
    return false;
  if (data.type == MMDB_DATA_TYPE_DOUBLE)
    out = data.double_value;
  else if (data.type == MMDB_DATA_TYPE_FLOAT)
    out = data.float_value;
  else
    return false;
  return true;
}

template <class... Path>
bool get_uint32(MMDB_entry_s& entry, std::optional<std::uint32_t>& out, Path... path) {
  MMDB_entry_data_s data{};
  if (MMDB_get_value(&entry, &data, path..., nullptr) != MMDB_SUCCESS || !data.has_data)
    return false;
  switch (data.type) {
    case MMDB_DATA_TYPE_UINT16: out = data.uint16; return true;
    case MMDB_DATA_TYPE_UINT32: out = data.uint32; return true;
    case MMDB_DATA_TYPE_INT32:
      if (data.int32 < 0) return false;
      out = static_cast<std::uint32_t>(data.int32);
      return true;
    case MMDB_DATA_TYPE_UINT64:
      if (data.uint64 > UINT32_MAX) return false;
      out = static_cast<std::uint32_t>(data.uint64);
      return true;
    default: return false;
  }
}

}  // namespace

Expected<MmdbDatabase> MmdbDatabase::open(const std::string& path) {
  auto h = std::make_unique<Handle>();
  errno = 0;
  int status = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &h->db);
  if (status != MMDB_SUCCESS) return mmdb_error(path, status);
  h->opened = true;
  // A database that cannot hold the addresses asked for is not what was meant.
  if (h->db.metadata.ip_version != 4 && h->db.metadata.ip_version != 6)
    return Error(Errc::io, "mmdb " + path + ": unsupported ip_version " +
                               std::to_string(h->db.metadata.ip_version));
  return MmdbDatabase(path, std::move(h));
}

Expected<bool> MmdbDatabase::fill(const IpAddress& address, GeoLocation& into) const {
  sockaddr_storage ss{};
  if (address.v6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    std::memcpy(&sa->sin6_addr, address.bytes.data(), 16);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    std::memcpy(&sa->sin_addr, address.bytes.data(), 4);
  }
  int status = MMDB_SUCCESS;
  MMDB_lookup_result_s r =
      MMDB_lookup_sockaddr(&handle_->db, reinterpret_cast<const sockaddr*>(&ss), &status);
  // An IPv6 address in an IPv4-only database: this database cannot know it.
  if (status == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR) return false;
  if (status != MMDB_SUCCESS) return mmdb_error(path_, status);
  if (!r.found_entry) return false;

  // Check the record decodes at all before reading fields from it: a damaged
  // data section is an error, not an address nobody knows.
  MMDB_entry_data_list_s* list = nullptr;
  status = MMDB_get_entry_data_list(&r.entry, &list);
  MMDB_free_entry_data_list(list);
  if (status != MMDB_SUCCESS) return mmdb_error(path_, status);

  MMDB_entry_s& e = r.entry;
  if (into.country_code.empty() && !get_string(e, into.country_code, "country", "iso_code"))
    get_string(e, into.country_code, "registered_country", "iso_code");
  if (into.country_name.empty() && !get_string(e, into.country_name, "country", "names", "en"))
    get_string(e, into.country_name, "registered_country", "names", "en");
  if (into.city.empty()) get_string(e, into.city, "city", "names", "en");
  if (!into.latitude || !into.longitude) {
    std::optional<double> lat, lon;
    if (get_double(e, lat, "location", "latitude") && get_double(e, lon, "location", "longitude")) {
      into.latitude = lat;
      into.longitude = lon;
    }
  }
  if (!into.asn) get_uint32(e, into.asn, "autonomous_system_number");
  if (into.as_organization.empty())
    get_string(e, into.as_organization, "autonomous_system_organization");
  return true;
}

}  // namespace torcon::detail
