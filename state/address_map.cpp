#include "address_map.hpp"

#include <time.h>

#include <algorithm>

namespace torcon::detail {

namespace {

// "YYYY-MM-DD HH:MM:SS" (control-spec ISOTime), as UTC or as local time.
bool parse_iso_time(std::string_view t, bool utc, SystemTime& out) {
  auto num = [&](std::size_t pos, std::size_t n, int& v) {
    v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      v = v * 10 + (t[i] - '0');
    }
    return true;
  };
  if (t.size() != 19 || t[4] != '-' || t[7] != '-' || t[10] != ' ' || t[13] != ':' || t[16] != ':')
    return false;
  tm parts{};
  int y, mo, d, h, mi, s;
  if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) ||
      !num(17, 2, s) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
    return false;
  parts.tm_year = y - 1900;
  parts.tm_mon = mo - 1;
  parts.tm_mday = d;
  parts.tm_hour = h;
  parts.tm_min = mi;
  parts.tm_sec = s;
  parts.tm_isdst = -1;
  const time_t secs = utc ? ::timegm(&parts) : ::mktime(&parts);
  // system_clock counts nanoseconds in 64 bits: it ends in 2262.
  if (secs == time_t(-1) || secs > time_t(9'000'000'000)) return false;
  out = std::chrono::system_clock::from_time_t(secs);
  return true;
}

}  // namespace

Status AddressMap::apply(const AddrMapEvent& e, bool utc_positional) {
  const std::string_view address = e.address;
  if (e.is_error()) {
    // A failed lookup: never a mapping, and the end of any older one.
    if (by_address_.contains(address)) remove(std::string(address));
    return {};
  }
  std::optional<SystemTime> expires;
  std::string scratch;
  if (e.expires.present) {
    SystemTime t;
    if (!parse_iso_time(e.expires.decoded(scratch), true, t))
      return Error(Errc::bad_argument, "ADDRMAP " + std::string(address) + ": bad EXPIRES \"" +
                                           std::string(e.expires.text) + "\"");
    expires = t;
  } else if (!e.never()) {
    SystemTime t;
    if (!parse_iso_time(e.expiry.decoded(scratch), utc_positional, t))
      return Error(Errc::bad_argument, "ADDRMAP " + std::string(address) + ": bad expiry \"" +
                                           std::string(e.expiry.text) + "\"");
    expires = t;
  }
  const bool cached = e.cached.present && e.cached.text == "YES";

  auto it = by_address_.find(address);
  AddressMapChange what = AddressMapChange::updated;
  AddressMapping* m;
  if (it == by_address_.end()) {
    auto owned = std::make_unique<AddressMapping>();
    owned->address = std::string(address);
    m = owned.get();
    by_address_.emplace(m->address, std::move(owned));
    what = AddressMapChange::added;
  } else {
    m = it->second.get();
    if (m->target == e.new_address && m->expires == expires && m->cached == cached) return {};
    if (m->expires) expiries_.erase({*m->expires, m->address});
    if (m->target != e.new_address) unlink_target(m);
  }
  if (what == AddressMapChange::added || m->target != e.new_address) {
    m->target = std::string(e.new_address);
    by_target_[m->target].push_back(m);
  }
  m->expires = expires;
  m->cached = cached;
  if (expires) expiries_.emplace(*expires, m->address);  // an update moves the expiry
  if (!listeners_.empty()) listeners_.call(on_error_, *m, what);
  return {};
}

void AddressMap::expire(SystemTime now) {
  while (!expiries_.empty() && expiries_.begin()->first <= now) {
    const std::string address = expiries_.begin()->second;
    remove(address);
  }
}

std::vector<const AddressMapping*> AddressMap::mapped_to(std::string_view target) const {
  std::vector<const AddressMapping*> out;
  auto it = by_target_.find(target);
  if (it != by_target_.end()) out.assign(it->second.begin(), it->second.end());
  return out;
}

// Every key of the mapping goes: its address, its place under its target,
// its expiry.
void AddressMap::remove(const std::string& address) {
  auto it = by_address_.find(address);
  if (it == by_address_.end()) return;
  std::unique_ptr<AddressMapping> m = std::move(it->second);
  by_address_.erase(it);
  if (m->expires) expiries_.erase({*m->expires, m->address});
  unlink_target(m.get());
  if (!listeners_.empty()) listeners_.call(on_error_, *m, AddressMapChange::removed);
}

void AddressMap::unlink_target(AddressMapping* m) {
  auto t = by_target_.find(m->target);
  if (t == by_target_.end()) return;
  std::erase(t->second, m);
  if (t->second.empty()) by_target_.erase(t);
}

}  // namespace torcon::detail
