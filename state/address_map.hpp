// TorState's address map: mappings by address, the reverse (target ->
// addresses, so an IP target can be named again), and expiry times in order.
// Expiry itself is driven from outside (a reactor timer, or a replay's clock).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "listener_list.hpp"
#include "string_key.hpp"
#include "torcon/address_map.hpp"
#include "torcon/events.hpp"
#include "torcon/expected.hpp"

namespace torcon::detail {

using AddressMapListeners = ListenerList<const AddressMapping&, AddressMapChange>;
using SystemTime = std::chrono::system_clock::time_point;

class AddressMap {
 public:
  AddressMap(AddressMapListeners& listeners, const ErrorSink& on_error)
      : listeners_(listeners), on_error_(on_error) {}

  // An ADDRMAP event, or (utc_positional) a line of address-mappings/all,
  // whose positional expiry is UTC where the event's is local time.
  Status apply(const AddrMapEvent& e, bool utc_positional);
  // Removes the mapping of `address` (listeners told); false if none.
  bool remove_address(std::string_view address) {
    if (!by_address_.contains(address)) return false;
    remove(std::string(address));
    return true;
  }
  // Removes every mapping due at or before `now`.
  void expire(SystemTime now);
  std::optional<SystemTime> next_expiry() const {
    if (expiries_.empty()) return std::nullopt;
    return expiries_.begin()->first;
  }

  const AddressMapping* find(std::string_view address) const {
    auto it = by_address_.find(address);
    return it == by_address_.end() ? nullptr : it->second.get();
  }
  std::vector<const AddressMapping*> mapped_to(std::string_view target) const;
  std::size_t size() const noexcept { return by_address_.size(); }
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [k, m] : by_address_) f(*m);
  }

 private:
  void remove(const std::string& address);
  void unlink_target(AddressMapping* m);

  AddressMapListeners& listeners_;
  const ErrorSink& on_error_;
  absl::flat_hash_map<std::string, std::unique_ptr<AddressMapping>, TextHash, TextEq> by_address_;
  absl::flat_hash_map<std::string, std::vector<AddressMapping*>, TextHash, TextEq> by_target_;
  std::set<std::pair<SystemTime, std::string>> expiries_;
};

}  // namespace torcon::detail
