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

namespace torcon {

// One "Key Value" line of a group, as tor writes it (the value unquoted).
struct ConfigLine {
  std::string key;
  std::string value;
  friend bool operator==(const ConfigLine&, const ConfigLine&) = default;
};

// One block: lines[0] is the head (HiddenServiceDir=...), the rest belong to
// it, in order.
struct ConfigGroup {
  std::vector<ConfigLine> lines;

  // The head line's value (the directory, for an onion service); "" if empty.
  std::string_view head() const noexcept {
    return lines.empty() ? std::string_view() : std::string_view(lines.front().value);
  }
  // The first value of `key` (case-insensitive, as tor's names are), or null.
  const std::string* value(std::string_view key) const noexcept;
  // Every value of `key`, in order (HiddenServicePort lines).
  std::vector<std::string_view> values(std::string_view key) const;
  ConfigGroup& add(std::string key, std::string value) {
    lines.push_back(ConfigLine{std::move(key), std::move(value)});
    return *this;
  }
  friend bool operator==(const ConfigGroup&, const ConfigGroup&) = default;
};

}  // namespace torcon
