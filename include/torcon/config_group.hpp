// The blocks of a grouped option. Tor keeps some options as ordered groups
// of lines under one Virtual option: HiddenServiceOptions holds, for each
// onion service, a HiddenServiceDir line followed by that service's
// HiddenServicePort, HiddenServiceVersion, ... lines; the order is the
// meaning (a HiddenServicePort belongs to the HiddenServiceDir above it).
//
//   torcon::ConfigGroup svc;
//   svc.add("HiddenServiceDir", "/var/lib/tor/web")
//      .add("HiddenServicePort", "80 127.0.0.1:8080")
//      .add("HiddenServiceVersion", "3");
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "torcon/export.hpp"

namespace torcon {

/// One "Key Value" line of a group, as tor writes it (the value unquoted).
struct TORCON_API ConfigLine {
  std::string key;    ///< the option's name (HiddenServicePort)
  std::string value;  ///< its value, unquoted ("80 127.0.0.1:8080")
  /// Same key (as written) and value.
  friend bool operator==(const ConfigLine&, const ConfigLine&) = default;
};

/// One block: lines[0] is the head (HiddenServiceDir=...), the rest belong to
/// it, in order.
struct TORCON_API ConfigGroup {
  std::vector<ConfigLine> lines;  ///< the head line first, then its lines in order

  /// The head line's value (the directory, for an onion service); "" if empty.
  std::string_view head() const noexcept {
    return lines.empty() ? std::string_view() : std::string_view(lines.front().value);
  }
  /// The first value of `key` (case-insensitive, as tor's names are), or null.
  const std::string* value(std::string_view key) const noexcept;
  /// Every value of `key`, in order (HiddenServicePort lines).
  std::vector<std::string_view> values(std::string_view key) const;
  /// Appends a line; returns this group, so that adds can be chained.
  ConfigGroup& add(std::string key, std::string value) {
    lines.push_back(ConfigLine{std::move(key), std::move(value)});
    return *this;
  }
  /// The same lines in the same order.
  friend bool operator==(const ConfigGroup&, const ConfigGroup&) = default;
};

}  // namespace torcon
