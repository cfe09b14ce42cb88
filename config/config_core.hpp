// TorConfig's bookkeeping without I/O: the option table from config/names,
// the cache of tor's values, the staged changes, the commands that carry
// them and the application of tor's replies and CONF_CHANGED events.
// tor_config.cpp is the Controller glue over it; tests drive it with replies
// as bytes and compare the commands it builds byte for byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "torcon/command.hpp"
#include "torcon/config_group.hpp"
#include "torcon/config_value.hpp"
#include "torcon/controller.hpp"
#include "torcon/events.hpp"
#include "torcon/expected.hpp"

namespace torcon::detail {

class ConfigCore {
 public:
  static constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();

  struct Option {
    std::string name;  // tor's spelling (the caller's until tor spelled it)
    ConfigType type = ConfigType::other;
    bool loaded = false;
    ConfigValue value;                // all but Virtual options
    std::vector<ConfigGroup> groups;  // Virtual options
    std::size_t group = npos;         // a Dependent option: its Virtual option
    std::string head_key;             // a Virtual option: the key that starts a group
  };

  // One staged option: its lines in order (none: sent bare, "Key").
  struct Staged {
    std::size_t option = npos;
    std::vector<ConfigLine> lines;
  };

  // ---- the option table ----
  // The text of `GETINFO config/names` ("Name Type [doc]" per line). The
  // table is replaced only when all of it parses; values already cached for
  // options of the same name are kept.
  Status apply_names(std::string_view text);
  bool knows_names() const noexcept { return knows_names_; }
  // Changes whenever the table is replaced: staged batches (which hold
  // indices into it) from before then are void.
  std::uint64_t table_version() const noexcept { return table_version_; }
  const Option* find(std::string_view name) const;
  std::size_t index_of(std::string_view name) const;
  const std::vector<Option>& options() const noexcept { return options_; }
  void forget_values();

  // ---- reading ----
  // The keys of a full load: every option, a group through its Virtual
  // option only (its Dependent lines come with it).
  std::vector<std::string> load_keys() const;
  // The keys that read `names` (a Dependent's group through its Virtual
  // option), deduplicated. Unknown names are an error when the names are
  // known; otherwise any name fit for a command is taken as it is.
  Expected<std::vector<std::string>> read_keys(std::span<const std::string> names);
  // A GETCONF reply for `requested` (as read_keys/load_keys gave them) into
  // the cache: all of it, or nothing when it does not match the request.
  // `changed` (optional) gets tor's names of the options whose value changed.
  Status apply_getconf(std::span<const std::string> requested, const KeyValues& reply,
                       std::vector<std::string>* changed);
  // A CONF_CHANGED event into the cache.
  void apply_conf_changed(const ConfChangedEvent& event, std::vector<std::string>* changed);

  // ---- staging ----
  Status stage_text(std::string_view name, std::string_view text);
  Status stage_bool(std::string_view name, bool value);
  Status stage_auto_bool(std::string_view name, AutoBool value);
  Status stage_integer(std::string_view name, std::int64_t value);
  Status stage_unsigned(std::string_view name, std::uint64_t value);
  Status stage_duration(std::string_view name, std::chrono::milliseconds value);
  Status stage_float(std::string_view name, double value);
  Status stage_list(std::string_view name, std::vector<std::string> items);
  Status stage_groups(std::string_view name, std::vector<ConfigGroup> groups);
  Status stage_clear(std::string_view name);

  const std::vector<Staged>& staged() const noexcept { return staged_; }
  std::vector<Staged> take_staged() { return std::exchange(staged_, {}); }
  // A batch tor refused back under what was staged since.
  void restore_staged(std::vector<Staged> batch);
  void discard_staged(std::size_t option);
  void discard_all() { staged_.clear(); }

  // SETCONF for `batch` (ok: validated when staged).
  Command setconf(std::span<const Staged> batch) const;
  // The keys that read back what `batch` changed.
  std::vector<std::string> refresh_keys(std::span<const Staged> batch) const;
  // The batch's values into the cache as sent (when tor accepted them but
  // could not be asked for them back).
  void apply_staged(std::span<const Staged> batch, std::vector<std::string>* changed);

 private:
  Expected<std::size_t> resolve(std::string_view name, bool create);
  Expected<std::size_t> resolve_for_value(std::string_view name, const char* what,
                                          std::initializer_list<ConfigType> accepted);
  Status stage_lines(std::size_t option, std::vector<ConfigLine> lines);
  std::size_t add_option(std::string name, ConfigType type);
  void set_group_lines(std::size_t virt, std::vector<ConfigLine> lines,
                       std::vector<std::string>* changed);
  void set_lines(std::size_t option, std::vector<std::string> lines,
                 std::vector<std::string>* changed);
  std::size_t group_of(std::size_t option) const {
    return options_[option].type == ConfigType::virtual_group ? option : options_[option].group;
  }

  std::vector<Option> options_;
  absl::flat_hash_map<std::string, std::size_t> index_;  // lower-case name -> options_
  std::vector<Staged> staged_;
  bool knows_names_ = false;
  std::uint64_t table_version_ = 0;
};

// ASCII lower case, for the case-insensitive option names.
std::string lower_name(std::string_view name);

}  // namespace torcon::detail
