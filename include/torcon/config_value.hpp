// Configuration values as tor writes and reads them (GETCONF, SETCONF,
// CONF_CHANGED), typed by what `GETINFO config/names` says each option is.
//
// Tor answers GETCONF in base units: TimeInterval in seconds,
// TimeMsecInterval in milliseconds, DataSize in bytes, Boolean as 0/1,
// Float as "%f". The parsers below read those, and the unit forms a torrc
// may hold ("2 hours", "5 MB", "10 msec"), so a value staged as text reads
// back the same. The formatters write what tor parses back to the same
// value, with explicit units where the option has them.
//
//   Expected<std::chrono::seconds> s = parse_config_interval("2 minutes");  // 120 s
//   std::string v = format_config_size(5 * 1024 * 1024);                    // "5242880 bytes"
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/expected.hpp"

namespace torcon {

// The option types tor lists in config/names (tor 0.4.9 lists all but
// port, time and time_interval_list, which older tors used). A type name
// torcon does not know is `other`: its values are kept as text.
enum class ConfigType : std::uint8_t {
  boolean,                   // Boolean: 0 / 1
  boolean_auto,              // Boolean+Auto: 0 / 1 / auto
  integer,                   // Integer: non-negative, up to 2^64-1
  signed_integer,            // SignedInteger
  port,                      // Port (older tors)
  time_interval,             // TimeInterval: seconds
  time_msec_interval,        // TimeMsecInterval: milliseconds
  data_size,                 // DataSize: bytes
  floating,                  // Float
  time,                      // Time: "YYYY-MM-DD HH:MM:SS" (older tors)
  comma_list,                // CommaList
  time_interval_comma_list,  // TimeIntervalCommaList (older tors)
  router_list,               // RouterList: comma-separated fingerprints, nicknames, countries
  string,                    // String
  filename,                  // Filename
  line_list,                 // LineList: any number of lines
  dependent,                 // Dependent: a line of a grouped (Virtual) option
  virtual_group,             // Virtual: a group of Dependent lines (HiddenServiceOptions)
  other,                     // a type this torcon does not know
};

// "Boolean+Auto" -> boolean_auto; anything unknown -> other.
ConfigType config_type_from_name(std::string_view name) noexcept;
// The name tor uses ("Boolean+Auto"); "other" for other.
std::string_view to_string(ConfigType type) noexcept;
// Types whose value is any number of lines rather than at most one.
bool is_multi_line(ConfigType type) noexcept;

// Boolean+Auto's three values.
enum class AutoBool : std::uint8_t { off, on, automatic };

// ---- parsing one value (Errc::bad_argument with the value in the message) ----
Expected<bool> parse_config_bool(std::string_view text);
Expected<AutoBool> parse_config_auto_bool(std::string_view text);
// Decimal, optional sign; out of int64 range is an error.
Expected<std::int64_t> parse_config_integer(std::string_view text);
// Decimal, no sign, up to 2^64-1: tor's Integer options include 64-bit
// unsigned ones (__OwningControllerFD reads 18446744073709551615 when unset).
Expected<std::uint64_t> parse_config_unsigned(std::string_view text);
// A number with an optional unit: sec(ond)(s), min(ute)(s), hour(s), day(s),
// week(s); bare = seconds.
Expected<std::chrono::seconds> parse_config_interval(std::string_view text);
// As above, plus msec / millisecond(s); bare = milliseconds.
Expected<std::chrono::milliseconds> parse_config_msec_interval(std::string_view text);
// A number with an optional unit: byte(s), KB/KBytes/kilobyte(s), MB, GB, TB
// (powers of 1024, any case), and kbit(s)/mbit(s)/gbit(s)/tbit(s) (bits,
// /8); bare = bytes.
Expected<std::uint64_t> parse_config_size(std::string_view text);
Expected<double> parse_config_float(std::string_view text);
// A comma-separated list, items trimmed of spaces, empty items dropped.
std::vector<std::string> split_config_list(std::string_view text);

// ---- formatting one value for SETCONF (quoting is the command encoder's) ----
std::string format_config_bool(bool value);
std::string format_config_auto_bool(AutoBool value);
std::string format_config_integer(std::int64_t value);
std::string format_config_interval(std::chrono::seconds value);            // "N seconds"
std::string format_config_msec_interval(std::chrono::milliseconds value);  // "N msec"
std::string format_config_size(std::uint64_t bytes);                       // "N bytes"
// The shortest text that reads back as the same double; finite values only
// (Errc::bad_argument otherwise).
Expected<std::string> format_config_float(double value);
// Items joined with ","; an item holding a comma, or empty, is refused, as
// it would read back as different items.
Expected<std::string> format_config_list(const std::vector<std::string>& items);

// An option's value as tor has it: no lines (unset: tor's bare "Key"), one
// line (most options; "" for "Key=") or several (LineList options, and the
// lines of a group). The typed accessors parse the first line and fail on an
// unset value or text that is not of that type.
class ConfigValue {
 public:
  ConfigValue() = default;
  ConfigValue(ConfigType type, std::vector<std::string> lines)
      : type_(type), lines_(std::move(lines)) {}

  ConfigType type() const noexcept { return type_; }
  bool is_set() const noexcept { return !lines_.empty(); }
  const std::vector<std::string>& lines() const noexcept { return lines_; }
  // The first line; "" when unset.
  std::string_view text() const noexcept {
    return lines_.empty() ? std::string_view() : std::string_view(lines_.front());
  }

  Expected<bool> boolean() const;
  Expected<AutoBool> auto_bool() const;
  Expected<std::int64_t> integer() const;
  Expected<std::uint64_t> unsigned_integer() const;
  Expected<std::chrono::seconds> seconds() const;
  Expected<std::chrono::milliseconds> milliseconds() const;  // TimeMsecInterval or TimeInterval
  Expected<std::uint64_t> bytes() const;
  Expected<double> number() const;
  // CommaList / RouterList items (split_config_list of the first line); for
  // a LineList, each line is one item.
  std::vector<std::string> items() const;

  friend bool operator==(const ConfigValue&, const ConfigValue&) = default;

 private:
  ConfigType type_ = ConfigType::other;
  std::vector<std::string> lines_;
};

}  // namespace torcon
