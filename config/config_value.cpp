#include "torcon/config_value.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <span>
#include <system_error>

namespace torcon {
namespace {

constexpr char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Error bad(std::string_view what, std::string_view text) {
  return Error(Errc::bad_argument, "not " + std::string(what) + ": \"" + std::string(text) + "\"");
}

struct TypeName {
  std::string_view name;
  ConfigType type;
};
constexpr std::array<TypeName, 19> kTypeNames = {{
    {"Boolean", ConfigType::boolean},
    {"Boolean+Auto", ConfigType::boolean_auto},
    {"Integer", ConfigType::integer},
    {"SignedInteger", ConfigType::signed_integer},
    {"Port", ConfigType::port},
    {"TimeInterval", ConfigType::time_interval},
    {"TimeMsecInterval", ConfigType::time_msec_interval},
    {"DataSize", ConfigType::data_size},
    {"Float", ConfigType::floating},
    {"Time", ConfigType::time},
    {"CommaList", ConfigType::comma_list},
    {"TimeIntervalCommaList", ConfigType::time_interval_comma_list},
    {"RouterList", ConfigType::router_list},
    {"String", ConfigType::string},
    {"Filename", ConfigType::filename},
    {"LineList", ConfigType::line_list},
    {"Dependent", ConfigType::dependent},
    {"Virtual", ConfigType::virtual_group},
    {"other", ConfigType::other},
}};

// A number followed by an optional unit: the unit's multiplier, or its
// divisor for bits. Units are matched case-insensitively, as tor does.
struct Unit {
  std::string_view name;
  std::uint64_t multiplier;
  std::uint64_t divisor = 1;
};

constexpr std::uint64_t kMinute = 60, kHour = 3600, kDay = 86400, kWeek = 7 * 86400;
constexpr std::array<Unit, 15> kSecondUnits = {{
    {"s", 1},
    {"sec", 1},
    {"secs", 1},
    {"second", 1},
    {"seconds", 1},
    {"min", kMinute},
    {"mins", kMinute},
    {"minute", kMinute},
    {"minutes", kMinute},
    {"hour", kHour},
    {"hours", kHour},
    {"day", kDay},
    {"days", kDay},
    {"week", kWeek},
    {"weeks", kWeek},
}};

constexpr std::uint64_t kKiB = 1024, kMiB = kKiB * 1024, kGiB = kMiB * 1024, kTiB = kGiB * 1024;
constexpr std::array<Unit, 30> kSizeUnits = {{
    {"b", 1},
    {"byte", 1},
    {"bytes", 1},
    {"kb", kKiB},
    {"kbyte", kKiB},
    {"kbytes", kKiB},
    {"kilobyte", kKiB},
    {"kilobytes", kKiB},
    {"mb", kMiB},
    {"mbyte", kMiB},
    {"mbytes", kMiB},
    {"megabyte", kMiB},
    {"megabytes", kMiB},
    {"gb", kGiB},
    {"gbyte", kGiB},
    {"gbytes", kGiB},
    {"gigabyte", kGiB},
    {"gigabytes", kGiB},
    {"tb", kTiB},
    {"tbytes", kTiB},
    {"terabyte", kTiB},
    {"terabytes", kTiB},
    {"kbit", kKiB, 8},
    {"kbits", kKiB, 8},
    {"mbit", kMiB, 8},
    {"mbits", kMiB, 8},
    {"gbit", kGiB, 8},
    {"gbits", kGiB, 8},
    {"tbit", kTiB, 8},
    {"tbits", kTiB, 8},
}};

// "<digits>[ ]<unit>" -> value * unit. `bare` is the multiplier without a unit.
template <std::size_t N>
Expected<std::uint64_t> parse_with_units(std::string_view text, const std::array<Unit, N>& units,
                                         std::span<const Unit> extra, std::string_view what) {
  const std::string_view t = trim(text);
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
  if (ec != std::errc() || end == t.data()) return bad(what, text);
  const std::string_view unit = trim(t.substr(static_cast<std::size_t>(end - t.data())));
  if (unit.empty()) return n;
  auto apply = [&](const Unit& u) -> Expected<std::uint64_t> {
    if (n > std::numeric_limits<std::uint64_t>::max() / u.multiplier)
      return Error(Errc::bad_argument,
                   std::string(what) + " out of range: \"" + std::string(text) + "\"");
    return n * u.multiplier / u.divisor;
  };
  for (const Unit& u : extra)
    if (iequals(unit, u.name)) return apply(u);
  for (const Unit& u : units)
    if (iequals(unit, u.name)) return apply(u);
  return bad(what, text);
}

template <class T>
Expected<T> first_line(const std::vector<std::string>& lines) {
  if (lines.empty()) return Error(Errc::bad_argument, "option is not set");
  return T(lines.front());
}

}  // namespace

ConfigType config_type_from_name(std::string_view name) noexcept {
  for (const TypeName& t : kTypeNames)
    if (t.name == name && t.type != ConfigType::other) return t.type;
  return ConfigType::other;
}

std::string_view to_string(ConfigType type) noexcept {
  for (const TypeName& t : kTypeNames)
    if (t.type == type) return t.name;
  return "other";
}

bool is_multi_line(ConfigType type) noexcept {
  return type == ConfigType::line_list || type == ConfigType::dependent ||
         type == ConfigType::virtual_group;
}

Expected<bool> parse_config_bool(std::string_view text) {
  if (text == "1") return true;
  if (text == "0") return false;
  return bad("a Boolean (0 or 1)", text);
}

Expected<AutoBool> parse_config_auto_bool(std::string_view text) {
  if (text == "1") return AutoBool::on;
  if (text == "0") return AutoBool::off;
  if (iequals(text, "auto")) return AutoBool::automatic;
  return bad("a Boolean+Auto (0, 1 or auto)", text);
}

Expected<std::int64_t> parse_config_integer(std::string_view text) {
  std::string_view t = text;
  if (!t.empty() && t.front() == '+') t.remove_prefix(1);
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size() || t.empty()) return bad("an integer", text);
  return v;
}

Expected<std::uint64_t> parse_config_unsigned(std::string_view text) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    return bad("a non-negative integer", text);
  return v;
}

Expected<std::chrono::seconds> parse_config_interval(std::string_view text) {
  Expected<std::uint64_t> v = parse_with_units(text, kSecondUnits, {}, "a time interval");
  if (!v) return v.error();
  if (*v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return bad("a time interval in range", text);
  return std::chrono::seconds(static_cast<std::int64_t>(*v));
}

Expected<std::chrono::milliseconds> parse_config_msec_interval(std::string_view text) {
  static constexpr std::array<Unit, 5> kMsec = {
      {{"ms", 1}, {"msec", 1}, {"msecs", 1}, {"millisecond", 1}, {"milliseconds", 1}}};
  // Seconds-based units scaled to milliseconds.
  std::array<Unit, kSecondUnits.size()> scaled{};
  for (std::size_t i = 0; i < kSecondUnits.size(); ++i)
    scaled[i] = Unit{kSecondUnits[i].name, kSecondUnits[i].multiplier * 1000};
  Expected<std::uint64_t> v = parse_with_units(text, scaled, kMsec, "a time interval");
  if (!v) return v.error();
  if (*v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return bad("a time interval in range", text);
  return std::chrono::milliseconds(static_cast<std::int64_t>(*v));
}

Expected<std::uint64_t> parse_config_size(std::string_view text) {
  return parse_with_units(text, kSizeUnits, {}, "a data size");
}

Expected<double> parse_config_float(std::string_view text) {
  const std::string_view t = trim(text);
  double v = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size() || t.empty()) return bad("a number", text);
  return v;
}

std::vector<std::string> split_config_list(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = trim(text.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

std::string format_config_bool(bool value) { return value ? "1" : "0"; }

std::string format_config_auto_bool(AutoBool value) {
  switch (value) {
    case AutoBool::off: return "0";
    case AutoBool::on: return "1";
    case AutoBool::automatic: break;
  }
  return "auto";
}

std::string format_config_integer(std::int64_t value) { return std::to_string(value); }

std::string format_config_interval(std::chrono::seconds value) {
  return std::to_string(value.count()) + " seconds";
}

std::string format_config_msec_interval(std::chrono::milliseconds value) {
  return std::to_string(value.count()) + " msec";
}

std::string format_config_size(std::uint64_t bytes) { return std::to_string(bytes) + " bytes"; }

Expected<std::string> format_config_float(double value) {
  if (!std::isfinite(value))
    return Error(Errc::bad_argument, "a Float option takes a finite number");
  std::array<char, 64> buf{};
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  if (ec != std::errc()) return Error(Errc::bad_argument, "number does not format");
  return std::string(buf.data(), end);
}

Expected<std::string> format_config_list(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (item.empty() || item.find(',') != std::string::npos || trim(item).size() != item.size())
      return Error(Errc::bad_argument,
                   "list item \"" + item + "\" is empty, holds a comma or has spaces around it");
    if (!out.empty()) out.push_back(',');
    out += item;
  }
  return out;
}

Expected<bool> ConfigValue::boolean() const {
  Expected<std::string_view> t = first_line<std::string_view>(lines_);
  if (!t) return t.error();
  return parse_config_bool(*t);
}

Expected<AutoBool> ConfigValue::auto_bool() const {
  Expected<std::string_view> t = first_line<std::string_view>(lines_);
  if (!t) return t.error();
  return parse_config_auto_bool(*t);
}

Expected<std::int64_t> ConfigValue::integer() const {
  Expected<std::string_view> t = first_line<std::string_view>(lines_);
  if (!t) return t.error();
  return parse_config_integer(*t);
}

Expected<std::uint64_t> ConfigValue::unsigned_integer() const {
  Expected<std::string_view> t = first_line<std::string_view>(lines_);
  if (!t) return t.error();
  return parse_config_unsigned(*t);
}

Expected<std::chrono::seconds> ConfigValue::seconds() const {
  Expected<std::string_view> t = first_line<std::string_view>(lines_);
  if (!t) return t.error();
  if (type_ == ConfigType::time_msec_interval) {
    Expected<std::chrono::milliseconds> ms = parse_config_msec_interval(*t);
    if (!ms) return ms.error();
    return std::chrono::duration_cast<std::chrono::seconds>(*ms);
  }
  return parse_config_interval(*t);
}

Expected<std::chrono::milliseconds> ConfigValue::milliseconds() const {
  Expected<std::string_view> t = first_line<std::string_view>(lines_);
  if (!t) return t.error();
  if (type_ == ConfigType::time_msec_interval) return parse_config_msec_interval(*t);
  Expected<std::chrono::seconds> s = parse_config_interval(*t);
  if (!s) return s.error();
  if (s->count() > std::numeric_limits<std::int64_t>::max() / 1000)
    return bad("a time interval in range", *t);
  return std::chrono::milliseconds(*s);
}

Expected<std::uint64_t> ConfigValue::bytes() const {
  Expected<std::string_view> t = first_line<std::string_view>(lines_);
  if (!t) return t.error();
  return parse_config_size(*t);
}

Expected<double> ConfigValue::number() const {
  Expected<std::string_view> t = first_line<std::string_view>(lines_);
  if (!t) return t.error();
  return parse_config_float(*t);
}

std::vector<std::string> ConfigValue::items() const {
  if (is_multi_line(type_)) return lines_;
  if (lines_.empty()) return {};
  return split_config_list(lines_.front());
}

}  // namespace torcon
