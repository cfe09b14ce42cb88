#include "config_core.hpp"

#include <algorithm>
#include <utility>

#include "torcon/quoted.hpp"
#include "torcon/tokens.hpp"

namespace torcon {

const std::string* ConfigGroup::value(std::string_view key) const noexcept {
  for (const ConfigLine& l : lines)
    if (detail::lower_name(l.key) == detail::lower_name(key)) return &l.value;
  return nullptr;
}

std::vector<std::string_view> ConfigGroup::values(std::string_view key) const {
  std::vector<std::string_view> out;
  const std::string k = detail::lower_name(key);
  for (const ConfigLine& l : lines)
    if (detail::lower_name(l.key) == k) out.emplace_back(l.value);
  return out;
}

namespace detail {
namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = char(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// The part of a Virtual option's name its Dependent lines share:
// HiddenServiceOptions -> HiddenService, SocksPortLines -> SocksPort.
std::string_view group_stem(std::string_view virtual_name) noexcept {
  for (std::string_view suffix : {std::string_view("Options"), std::string_view("Lines")})
    if (virtual_name.size() > suffix.size() && virtual_name.ends_with(suffix))
      return virtual_name.substr(0, virtual_name.size() - suffix.size());
  return virtual_name;
}

// CR, LF or NUL would end the command early: refused with the option named.
Status check_value(std::string_view option, std::string_view value) {
  std::string scratch;
  if (Status s = quote(value, scratch); !s)
    return Error(Errc::injection, "value of " + std::string(option) + ": " + s.error().message,
                 s.error().offset);
  return {};
}

Error with_option(std::string_view option, const Error& e) {
  return Error(e.code, std::string(option) + ": " + e.message, e.offset, e.status);
}

}  // namespace

std::string lower_name(std::string_view name) {
  std::string out(name);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return out;
}

// ---- the option table --------------------------------------------------------

std::size_t ConfigCore::add_option(std::string name, ConfigType type) {
  index_.emplace(lower_name(name), options_.size());
  Option o;
  o.name = std::move(name);
  o.type = type;
  o.value = ConfigValue(type, {});
  options_.push_back(std::move(o));
  return options_.size() - 1;
}

Status ConfigCore::apply_names(std::string_view text) {
  std::vector<std::pair<std::string_view, ConfigType>> parsed;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (line.empty()) continue;
    const std::size_t sp = line.find(' ');
    const std::string_view name = line.substr(0, sp);
    std::string_view type_name;
    if (sp != std::string_view::npos) {
      type_name = line.substr(sp + 1);
      type_name = type_name.substr(0, type_name.find(' '));
    }
    if (!is_command_key(name) || type_name.empty())
      return Error(Errc::bad_argument, "config/names line " + std::to_string(line_no) +
                                           " is not \"Name Type\": \"" + std::string(line) + "\"");
    parsed.emplace_back(name, config_type_from_name(type_name));
  }
  if (parsed.empty()) return Error(Errc::bad_argument, "config/names lists no options");

  options_.clear();
  index_.clear();
  staged_.clear();
  ++table_version_;
  options_.reserve(parsed.size());
  for (const auto& [name, type] : parsed)
    if (!index_.contains(lower_name(name))) add_option(std::string(name), type);

  // Each Dependent option belongs to the Virtual option whose stem is the
  // longest prefix of its name ("__SocksPort" counts as "SocksPort").
  std::vector<std::size_t> virtuals;
  for (std::size_t i = 0; i < options_.size(); ++i)
    if (options_[i].type == ConfigType::virtual_group) virtuals.push_back(i);
  for (Option& d : options_) {
    if (d.type != ConfigType::dependent) continue;
    std::string_view n = d.name;
    while (n.starts_with('_')) n.remove_prefix(1);
    std::size_t best = 0;
    for (std::size_t v : virtuals) {
      const std::string_view stem = group_stem(options_[v].name);
      if (stem.size() > best && istarts_with(n, stem)) {
        best = stem.size();
        d.group = v;
      }
    }
  }
  // The key that starts a group: an onion service starts at its
  // HiddenServiceDir; a port group's lines are each a group of their own.
  for (std::size_t v : virtuals) {
    Option& o = options_[v];
    if (iequals(o.name, "HiddenServiceOptions")) {
      o.head_key = "HiddenServiceDir";
    } else if (const Option* d = find(group_stem(o.name)); d && d->group == v) {
      o.head_key = d->name;
    }
  }
  knows_names_ = true;
  return {};
}

std::size_t ConfigCore::index_of(std::string_view name) const {
  auto it = index_.find(lower_name(name));
  return it == index_.end() ? npos : it->second;
}

const ConfigCore::Option* ConfigCore::find(std::string_view name) const {
  const std::size_t i = index_of(name);
  return i == npos ? nullptr : &options_[i];
}

void ConfigCore::forget_values() {
  for (Option& o : options_) {
    o.loaded = false;
    o.value = ConfigValue(o.type, {});
    o.groups.clear();
  }
}

Expected<std::size_t> ConfigCore::resolve(std::string_view name, bool create) {
  if (const std::size_t i = index_of(name); i != npos) return i;
  if (!is_command_key(name))
    return Error(Errc::bad_keyword, "\"" + std::string(name) + "\" is not an option name");
  if (knows_names_)
    return Error(Errc::bad_argument, "tor has no option \"" + std::string(name) + "\"");
  if (!create) return Error(Errc::bad_argument, "option \"" + std::string(name) + "\" not read");
  return add_option(std::string(name), ConfigType::other);
}

// ---- reading ---------------------------------------------------------------------

std::vector<std::string> ConfigCore::load_keys() const {
  std::vector<std::string> keys;
  keys.reserve(options_.size());
  for (const Option& o : options_)
    if (o.group == npos) keys.push_back(o.name);
  return keys;
}

Expected<std::vector<std::string>> ConfigCore::read_keys(std::span<const std::string> names) {
  std::vector<std::string> keys;
  std::vector<std::size_t> seen;
  for (const std::string& n : names) {
    Expected<std::size_t> i = resolve(n, true);
    if (!i) return i.error();
    const std::size_t g = group_of(*i) == npos ? *i : group_of(*i);
    if (std::find(seen.begin(), seen.end(), g) != seen.end()) continue;
    seen.push_back(g);
    keys.push_back(options_[g].name);
  }
  if (keys.empty()) return Error(Errc::bad_argument, "no options to read");
  return keys;
}

void ConfigCore::set_lines(std::size_t option, std::vector<std::string> lines,
                           std::vector<std::string>* changed) {
  Option& o = options_[option];
  if (changed && (!o.loaded || o.value.lines() != lines)) changed->push_back(o.name);
  o.value = ConfigValue(o.type, std::move(lines));
  o.loaded = true;
}

void ConfigCore::set_group_lines(std::size_t virt, std::vector<ConfigLine> lines,
                                 std::vector<std::string>* changed) {
  Option& v = options_[virt];
  if (v.head_key.empty() && !lines.empty()) v.head_key = lines.front().key;
  std::vector<ConfigGroup> groups;
  for (ConfigLine& l : lines) {
    if (groups.empty() || iequals(l.key, v.head_key)) groups.emplace_back();
    groups.back().lines.push_back(l);
  }
  if (changed && (!v.loaded || v.groups != groups)) changed->push_back(v.name);
  v.groups = std::move(groups);
  v.loaded = true;
  // Each Dependent option reads as its lines of the group.
  for (std::size_t d = 0; d < options_.size(); ++d) {
    if (options_[d].group != virt) continue;
    std::vector<std::string> mine;
    for (const ConfigLine& l : lines)
      if (iequals(l.key, options_[d].name)) mine.push_back(l.value);
    set_lines(d, std::move(mine), changed);
  }
}

Status ConfigCore::apply_getconf(std::span<const std::string> requested, const KeyValues& reply,
                                 std::vector<std::string>* changed) {
  struct Read {
    std::size_t option;
    std::vector<std::string> lines;
    std::vector<ConfigLine> group_lines;
    std::string tor_name;
  };
  std::vector<Read> reads;
  reads.reserve(requested.size());
  const std::vector<KeyValues::Entry>& e = reply.entries;
  std::size_t i = 0;
  auto unexpected = [&](std::string_view wanted) {
    return Error(Errc::bad_argument,
                 "GETCONF reply: expected " + std::string(wanted) + ", got " +
                     (i < e.size() ? "\"" + e[i].key + "\"" : std::string("the end")));
  };
  for (const std::string& key : requested) {
    const std::size_t idx = index_of(key);
    if (idx == npos) return Error(Errc::bad_argument, "GETCONF of unknown option " + key);
    const Option& o = options_[idx];
    Read r{idx, {}, {}, {}};
    if (o.type == ConfigType::virtual_group) {
      // Its Dependent lines in order, or the bare name when it has none.
      if (i < e.size() && iequals(e[i].key, o.name)) {
        ++i;
      } else {
        while (i < e.size()) {
          const std::size_t d = index_of(e[i].key);
          if (d == npos || options_[d].group != idx) break;
          r.group_lines.push_back(ConfigLine{options_[d].name, e[i].value});
          ++i;
        }
        if (r.group_lines.empty()) return unexpected(o.name);
      }
    } else {
      if (i >= e.size() || !iequals(e[i].key, o.name)) return unexpected(o.name);
      r.tor_name = e[i].key;
      for (; i < e.size() && iequals(e[i].key, o.name); ++i)
        if (e[i].has_value) r.lines.push_back(e[i].value);
    }
    reads.push_back(std::move(r));
  }
  if (i != e.size()) return unexpected("no more keys");
  for (Read& r : reads) {
    if (options_[r.option].type == ConfigType::virtual_group) {
      set_group_lines(r.option, std::move(r.group_lines), changed);
    } else {
      if (!knows_names_) options_[r.option].name = r.tor_name;  // tor's spelling
      set_lines(r.option, std::move(r.lines), changed);
    }
  }
  return {};
}

void ConfigCore::apply_conf_changed(const ConfChangedEvent& event,
                                    std::vector<std::string>* changed) {
  // Tor lists each changed option with all its lines (a group with all of
  // its lines, or its Virtual name bare when emptied).
  std::vector<std::pair<std::size_t, std::vector<std::string>>> plain;
  std::vector<std::pair<std::size_t, std::vector<ConfigLine>>> grouped;
  auto plain_for = [&](std::size_t i) -> std::vector<std::string>& {
    for (auto& [o, lines] : plain)
      if (o == i) return lines;
    return plain.emplace_back(i, std::vector<std::string>()).second;
  };
  auto group_for = [&](std::size_t v) -> std::vector<ConfigLine>& {
    for (auto& [o, lines] : grouped)
      if (o == v) return lines;
    return grouped.emplace_back(v, std::vector<ConfigLine>()).second;
  };
  ConfChangeReader rd = event.reader();
  ConfChange c;
  std::string scratch;
  while (rd.next(c)) {
    if (!is_command_key(c.key)) continue;  // not an option name tor would write
    std::size_t i = index_of(c.key);
    if (i == npos) i = add_option(std::string(c.key), ConfigType::other);
    const Option& o = options_[i];
    if (o.type == ConfigType::virtual_group) {
      group_for(i);
    } else if (o.group != npos) {
      std::vector<ConfigLine>& lines = group_for(o.group);
      if (c.value.present)
        lines.push_back(ConfigLine{o.name, std::string(c.value.decoded(scratch))});
    } else {
      std::vector<std::string>& lines = plain_for(i);
      if (c.value.present) lines.emplace_back(c.value.decoded(scratch));
    }
  }
  for (auto& [o, lines] : plain) set_lines(o, std::move(lines), changed);
  for (auto& [v, lines] : grouped) set_group_lines(v, std::move(lines), changed);
}

// ---- staging ----------------------------------------------------------------------

Status ConfigCore::stage_lines(std::size_t option, std::vector<ConfigLine> lines) {
  for (const ConfigLine& l : lines)
    if (Status s = check_value(l.key, l.value); !s) return s;
  // One entry per option, and per group: a later change to a group
  // replaces the earlier one, as tor would.
  const std::size_t g = group_of(option);
  std::erase_if(staged_, [&](const Staged& s) {
    return s.option == option || (g != npos && group_of(s.option) == g);
  });
  staged_.push_back(Staged{option, std::move(lines)});
  return {};
}

Expected<std::size_t> ConfigCore::resolve_for_value(std::string_view name, const char* what,
                                                    std::initializer_list<ConfigType> accepted) {
  Expected<std::size_t> i = resolve(name, true);
  if (!i) return i.error();
  const ConfigType t = options_[*i].type;
  if (t == ConfigType::other) return i;
  for (ConfigType a : accepted)
    if (a == t) return i;
  return Error(Errc::bad_argument,
               options_[*i].name + " is " + std::string(to_string(t)) + ", not " + what);
}

Status ConfigCore::stage_text(std::string_view name, std::string_view text) {
  Expected<std::size_t> i = resolve(name, true);
  if (!i) return i.error();
  const Option& o = options_[*i];
  Status ok;
  switch (o.type) {
    case ConfigType::boolean:
      if (auto v = parse_config_bool(text); !v) ok = v.error();
      break;
    case ConfigType::boolean_auto:
      if (auto v = parse_config_auto_bool(text); !v) ok = v.error();
      break;
    case ConfigType::integer:
      if (auto v = parse_config_unsigned(text); !v) ok = v.error();
      break;
    case ConfigType::port:  // a number, or "auto" (tor picks one)
      if (auto v = parse_config_unsigned(text); !v && text != "auto") ok = v.error();
      break;
    case ConfigType::signed_integer:
      if (auto v = parse_config_integer(text); !v) ok = v.error();
      break;
    case ConfigType::time_interval:
      if (auto v = parse_config_interval(text); !v) ok = v.error();
      break;
    case ConfigType::time_msec_interval:
      if (auto v = parse_config_msec_interval(text); !v) ok = v.error();
      break;
    case ConfigType::data_size:
      if (auto v = parse_config_size(text); !v) ok = v.error();
      break;
    case ConfigType::floating:
      if (auto v = parse_config_float(text); !v) ok = v.error();
      break;
    case ConfigType::virtual_group:
      ok = Error(Errc::bad_argument, o.name + " is a group of options: stage it with set_groups()");
      break;
    default: break;
  }
  if (!ok) return with_option(o.name, ok.error());
  return stage_lines(*i, {ConfigLine{o.name, std::string(text)}});
}

Status ConfigCore::stage_bool(std::string_view name, bool value) {
  Expected<std::size_t> i =
      resolve_for_value(name, "Boolean", {ConfigType::boolean, ConfigType::boolean_auto});
  if (!i) return i.error();
  return stage_lines(*i, {ConfigLine{options_[*i].name, format_config_bool(value)}});
}

Status ConfigCore::stage_auto_bool(std::string_view name, AutoBool value) {
  Expected<std::size_t> i = resolve_for_value(name, "Boolean+Auto", {ConfigType::boolean_auto});
  if (!i) return i.error();
  return stage_lines(*i, {ConfigLine{options_[*i].name, format_config_auto_bool(value)}});
}

Status ConfigCore::stage_integer(std::string_view name, std::int64_t value) {
  if (value < 0) {
    Expected<std::size_t> i =
        resolve_for_value(name, "a signed number", {ConfigType::signed_integer});
    if (!i) return i.error();
    return stage_lines(*i, {ConfigLine{options_[*i].name, format_config_integer(value)}});
  }
  return stage_unsigned(name, static_cast<std::uint64_t>(value));
}

Status ConfigCore::stage_unsigned(std::string_view name, std::uint64_t value) {
  Expected<std::size_t> i = resolve_for_value(
      name, "a number",
      {ConfigType::integer, ConfigType::signed_integer, ConfigType::port, ConfigType::data_size});
  if (!i) return i.error();
  const Option& o = options_[*i];
  const bool signed_max = o.type == ConfigType::signed_integer;
  if ((o.type == ConfigType::port && value > 65535) ||
      (signed_max && value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())))
    return Error(Errc::bad_argument, o.name + ": " + std::to_string(value) +
                                         " is out of range for " + std::string(to_string(o.type)));
  std::string text =
      o.type == ConfigType::data_size ? format_config_size(value) : std::to_string(value);
  return stage_lines(*i, {ConfigLine{o.name, std::move(text)}});
}

Status ConfigCore::stage_duration(std::string_view name, std::chrono::milliseconds value) {
  Expected<std::size_t> i = resolve_for_value(
      name, "a time interval", {ConfigType::time_interval, ConfigType::time_msec_interval});
  if (!i) return i.error();
  const Option& o = options_[*i];
  if (value.count() < 0)
    return Error(Errc::bad_argument, o.name + ": a time interval is never negative");
  const bool whole_seconds = value.count() % 1000 == 0;
  if (o.type == ConfigType::time_interval && !whole_seconds)
    return Error(Errc::bad_argument, o.name + " is TimeInterval: whole seconds only, not " +
                                         std::to_string(value.count()) + " ms");
  std::string text =
      o.type == ConfigType::time_msec_interval || !whole_seconds
          ? format_config_msec_interval(value)
          : format_config_interval(std::chrono::duration_cast<std::chrono::seconds>(value));
  return stage_lines(*i, {ConfigLine{o.name, std::move(text)}});
}

Status ConfigCore::stage_float(std::string_view name, double value) {
  Expected<std::size_t> i = resolve_for_value(name, "Float", {ConfigType::floating});
  if (!i) return i.error();
  Expected<std::string> text = format_config_float(value);
  if (!text) return with_option(options_[*i].name, text.error());
  return stage_lines(*i, {ConfigLine{options_[*i].name, std::move(*text)}});
}

Status ConfigCore::stage_list(std::string_view name, std::vector<std::string> items) {
  Expected<std::size_t> i = resolve(name, true);
  if (!i) return i.error();
  const Option& o = options_[*i];
  std::vector<ConfigLine> lines;
  switch (o.type) {
    case ConfigType::comma_list:
    case ConfigType::router_list:
    case ConfigType::time_interval_comma_list: {
      if (items.empty()) break;
      for (const std::string& item : items)
        if (Status s = check_value(o.name, item); !s) return s;
      Expected<std::string> joined = format_config_list(items);
      if (!joined) return with_option(o.name, joined.error());
      lines.push_back(ConfigLine{o.name, std::move(*joined)});
      break;
    }
    case ConfigType::line_list:
    case ConfigType::dependent:
    case ConfigType::other:
      for (std::string& item : items) lines.push_back(ConfigLine{o.name, std::move(item)});
      break;
    case ConfigType::virtual_group:
      return Error(Errc::bad_argument,
                   o.name + " is a group of options: stage it with set_groups()");
    default:
      return Error(Errc::bad_argument,
                   o.name + " is " + std::string(to_string(o.type)) + ": one value, not a list");
  }
  return stage_lines(*i, std::move(lines));
}

Status ConfigCore::stage_groups(std::string_view name, std::vector<ConfigGroup> groups) {
  Expected<std::size_t> i = resolve(name, false);
  if (!i) return i.error();
  const Option& v = options_[*i];
  if (v.type != ConfigType::virtual_group)
    return Error(Errc::bad_argument, v.name + " is " + std::string(to_string(v.type)) +
                                         ", not a group of options (Virtual)");
  std::vector<ConfigLine> lines;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const std::vector<ConfigLine>& gl = groups[g].lines;
    if (gl.empty())
      return Error(Errc::bad_argument, v.name + ": group " + std::to_string(g + 1) + " is empty");
    for (std::size_t k = 0; k < gl.size(); ++k) {
      const std::size_t d = index_of(gl[k].key);
      if (d == npos || options_[d].group != *i)
        return Error(Errc::bad_argument,
                     v.name + ": \"" + gl[k].key + "\" is not one of its options");
      // A group starts at its head line, and only there: otherwise tor
      // would read the lines as different groups.
      const bool head = !v.head_key.empty() && iequals(gl[k].key, v.head_key);
      if (!v.head_key.empty() && head != (k == 0))
        return Error(Errc::bad_argument, v.name + ": group " + std::to_string(g + 1) +
                                             (k == 0 ? " must start with " : " has a second ") +
                                             v.head_key);
      lines.push_back(ConfigLine{options_[d].name, gl[k].value});
    }
  }
  return stage_lines(*i, std::move(lines));
}

Status ConfigCore::stage_clear(std::string_view name) {
  Expected<std::size_t> i = resolve(name, true);
  if (!i) return i.error();
  return stage_lines(*i, {});
}

void ConfigCore::restore_staged(std::vector<Staged> batch) {
  // What was staged since the batch left wins over the batch.
  std::erase_if(batch, [&](const Staged& b) {
    const std::size_t g = group_of(b.option);
    return std::any_of(staged_.begin(), staged_.end(), [&](const Staged& s) {
      return s.option == b.option || (g != npos && group_of(s.option) == g);
    });
  });
  for (Staged& s : staged_) batch.push_back(std::move(s));
  staged_ = std::move(batch);
}

void ConfigCore::discard_staged(std::size_t option) {
  const std::size_t g = group_of(option);
  std::erase_if(staged_, [&](const Staged& s) {
    return s.option == option || (g != npos && group_of(s.option) == g);
  });
}

Command ConfigCore::setconf(std::span<const Staged> batch) const {
  Command c("SETCONF");
  for (const Staged& s : batch) {
    if (s.lines.empty()) {
      c.key(options_[s.option].name);
      continue;
    }
    for (const ConfigLine& l : s.lines) c.kv(l.key, l.value);
  }
  return c;
}

std::vector<std::string> ConfigCore::refresh_keys(std::span<const Staged> batch) const {
  std::vector<std::string> keys;
  for (const Staged& s : batch) {
    const std::size_t g = group_of(s.option) == npos ? s.option : group_of(s.option);
    const std::string& n = options_[g].name;
    if (std::find(keys.begin(), keys.end(), n) == keys.end()) keys.push_back(n);
  }
  return keys;
}

void ConfigCore::apply_staged(std::span<const Staged> batch, std::vector<std::string>* changed) {
  for (const Staged& s : batch) {
    const std::size_t g = group_of(s.option);
    if (g != npos) {
      set_group_lines(g, s.lines, changed);
    } else {
      std::vector<std::string> lines;
      for (const ConfigLine& l : s.lines) lines.push_back(l.value);
      set_lines(s.option, std::move(lines), changed);
    }
  }
}

}  // namespace detail
}  // namespace torcon
