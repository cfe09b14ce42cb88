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
#include "torcon/export.hpp"

namespace torcon {

/// The option types tor lists in config/names (tor 0.4.9 lists all but
/// port, time and time_interval_list, which older tors used). A type name
/// torcon does not know is `other`: its values are kept as text.
enum class ConfigType : std::uint8_t {
  boolean,                   ///< Boolean: 0 / 1
  boolean_auto,              ///< Boolean+Auto: 0 / 1 / auto
  integer,                   ///< Integer: non-negative, up to 2^64-1
  signed_integer,            ///< SignedInteger
  port,                      ///< Port (older tors)
  time_interval,             ///< TimeInterval: seconds
  time_msec_interval,        ///< TimeMsecInterval: milliseconds
  data_size,                 ///< DataSize: bytes
  floating,                  ///< Float
  time,                      ///< Time: "YYYY-MM-DD HH:MM:SS" (older tors)
  comma_list,                ///< CommaList
  time_interval_comma_list,  ///< TimeIntervalCommaList (older tors)
  router_list,               ///< RouterList: comma-separated fingerprints, nicknames, countries
  string,                    ///< String
  filename,                  ///< Filename
  line_list,                 ///< LineList: any number of lines
  dependent,                 ///< Dependent: a line of a grouped (Virtual) option
  virtual_group,             ///< Virtual: a group of Dependent lines (HiddenServiceOptions)
  other,                     ///< a type this torcon does not know
};

/// "Boolean+Auto" -> boolean_auto; anything unknown -> other.
TORCON_API ConfigType config_type_from_name(std::string_view name) noexcept;
/// The name tor uses ("Boolean+Auto"); "other" for other.
TORCON_API std::string_view to_string(ConfigType type) noexcept;
/// Types whose value is any number of lines rather than at most one.
TORCON_API bool is_multi_line(ConfigType type) noexcept;

/// Boolean+Auto's three values.
enum class AutoBool : std::uint8_t { off, on, automatic };

// ---- parsing one value (Errc::bad_argument with the value in the message) ----
/// Boolean: "0" or "1"; Errc::bad_argument otherwise.
TORCON_API Expected<bool> parse_config_bool(std::string_view text);
/// Boolean+Auto: "0", "1" or "auto" (any case); Errc::bad_argument otherwise.
TORCON_API Expected<AutoBool> parse_config_auto_bool(std::string_view text);
/// Decimal, optional sign; out of int64 range is an error.
TORCON_API Expected<std::int64_t> parse_config_integer(std::string_view text);
/// Decimal, no sign, up to 2^64-1: tor's Integer options include 64-bit
/// unsigned ones (__OwningControllerFD reads 18446744073709551615 when unset).
TORCON_API Expected<std::uint64_t> parse_config_unsigned(std::string_view text);
/// A number with an optional unit: sec(ond)(s), min(ute)(s), hour(s), day(s),
/// week(s); bare = seconds.
TORCON_API Expected<std::chrono::seconds> parse_config_interval(std::string_view text);
/// As above, plus msec / millisecond(s); bare = milliseconds.
TORCON_API Expected<std::chrono::milliseconds> parse_config_msec_interval(std::string_view text);
/// A number with an optional unit: byte(s), KB/KBytes/kilobyte(s), MB, GB, TB
/// (powers of 1024, any case), and kbit(s)/mbit(s)/gbit(s)/tbit(s) (bits,
/// /8); bare = bytes.
TORCON_API Expected<std::uint64_t> parse_config_size(std::string_view text);
/// Float: a number as std::from_chars reads it ("0.5", "1e3"), spaces around
/// it ignored; Errc::bad_argument otherwise.
TORCON_API Expected<double> parse_config_float(std::string_view text);
/// A comma-separated list, items trimmed of spaces, empty items dropped.
TORCON_API std::vector<std::string> split_config_list(std::string_view text);

// ---- formatting one value for SETCONF (quoting is the command encoder's) ----
/// "1" or "0".
TORCON_API std::string format_config_bool(bool value);
/// "1", "0" or "auto".
TORCON_API std::string format_config_auto_bool(AutoBool value);
/// Decimal, with a '-' when negative.
TORCON_API std::string format_config_integer(std::int64_t value);
TORCON_API std::string format_config_interval(std::chrono::seconds value);  ///< "N seconds"
TORCON_API std::string format_config_msec_interval(std::chrono::milliseconds value);  ///< "N msec"
TORCON_API std::string format_config_size(std::uint64_t bytes);                       ///< "N bytes"
/// The shortest text that reads back as the same double; finite values only
/// (Errc::bad_argument otherwise).
TORCON_API Expected<std::string> format_config_float(double value);
/// Items joined with ","; an item holding a comma, or empty, is refused, as
/// it would read back as different items.
TORCON_API Expected<std::string> format_config_list(const std::vector<std::string>& items);

/// An option's value as tor has it: no lines (unset: tor's bare "Key"), one
/// line (most options; "" for "Key=") or several (LineList options, and the
/// lines of a group). The typed accessors parse the first line and fail on an
/// unset value or text that is not of that type.
class TORCON_API ConfigValue {
 public:
  /// Unset, of type `other`.
  ConfigValue() = default;
  /// `lines` as tor gave them (none: unset), for an option of type `type`.
  ConfigValue(ConfigType type, std::vector<std::string> lines)
      : type_(type), lines_(std::move(lines)) {}

  /// The option's type (`other` when tor's names were not read).
  ConfigType type() const noexcept { return type_; }
  /// At least one line: tor did not answer with the bare key.
  bool is_set() const noexcept { return !lines_.empty(); }
  /// Every line, in tor's order.
  const std::vector<std::string>& lines() const noexcept { return lines_; }
  /// The first line; "" when unset.
  std::string_view text() const noexcept {
    return lines_.empty() ? std::string_view() : std::string_view(lines_.front());
  }

  /// The first line as parse_config_bool() reads it.
  Expected<bool> boolean() const;
  /// The first line as parse_config_auto_bool() reads it.
  Expected<AutoBool> auto_bool() const;
  /// The first line as parse_config_integer() reads it.
  Expected<std::int64_t> integer() const;
  /// The first line as parse_config_unsigned() reads it.
  Expected<std::uint64_t> unsigned_integer() const;
  /// A TimeInterval (parse_config_interval()), or a TimeMsecInterval rounded
  /// down to whole seconds.
  Expected<std::chrono::seconds> seconds() const;
  Expected<std::chrono::milliseconds> milliseconds() const;  ///< TimeMsecInterval or TimeInterval
  /// The first line as parse_config_size() reads it.
  Expected<std::uint64_t> bytes() const;
  /// The first line as parse_config_float() reads it.
  Expected<double> number() const;
  /// CommaList / RouterList items (split_config_list of the first line); for
  /// a LineList, each line is one item.
  std::vector<std::string> items() const;

  /// The same type and the same lines.
  friend bool operator==(const ConfigValue&, const ConfigValue&) = default;

 private:
  ConfigType type_ = ConfigType::other;
  std::vector<std::string> lines_;
};

}  // namespace torcon
