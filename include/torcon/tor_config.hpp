// TorConfig: tor's configuration, typed, with staged changes saved all at
// once.
//
//   torcon::TorConfig cfg(ctl);
//   cfg.load({}, [&](const torcon::Status& s) {
//     if (!s) return fail(s.error());
//     bool dn = *cfg.get("disablenetwork")->boolean();        // names as tor: any case
//     cfg.set("ContactInfo", "ops <ops@example.org>");
//     cfg.set("BandwidthRate", 5 * 1024 * 1024);              // DataSize: bytes
//     cfg.set("CircuitBuildTimeout", std::chrono::minutes(1));
//     cfg.save([](const torcon::Status& s) { ... });         // one SETCONF: all or none
//   });
//
// Loading. The option names and types come from `GETINFO config/names`.
// ConfigLoad::full then reads every value in ONE GETCONF (two round trips
// in all); ConfigLoad::lazy reads none, and fetch() reads the ones asked
// for — for control ports behind filters that allow only some commands (a
// lazy load also goes on without the names when GETINFO config/names is
// refused: types are then unknown and values kept as text).
//
// What get() shows is tor's configuration as last seen: the load, the
// values tor reports after a save() or reset(), and CONF_CHANGED events
// (subscribed first when following changes), so a change another
// controller makes shows up here. Pending changes are not in it until tor
// accepted them.
//
// Saving. set*/clear stage changes, checked at once: an unknown option, a
// value not of the option's type, or CR, LF or NUL anywhere is refused then
// (nothing is staged, nothing sent). save() sends every staged change in one
// SETCONF, which tor applies all or none, and right behind it a GETCONF of
// those options, so the cache takes the values as tor normalised them
// ("2 hours" -> 7200). If tor refuses, the cache is unchanged, the changes
// stay staged (discard() drops them), and the error carries tor's text
// (Errc::tor_error, Error::status = 513/552...).
//
// While following changes the cache converges on tor's configuration: tor
// reports every change as an event, in order, so the last event for an
// option carries its value even if a reply read it earlier.
//
// Grouped options (Virtual in config/names: HiddenServiceOptions,
// SocksPortLines, ...) are ordered groups of their Dependent lines:
// groups("HiddenServiceOptions") is one ConfigGroup per HiddenServiceDir.
// get() of a Dependent option gives its lines across all groups. Staging
// a group or one of its lines replaces the whole group in tor. Without the
// names (a filtered lazy load) groups cannot be told apart and are not
// available.
//
// Callbacks run on the Controller's loop, once, never inside the call that
// was given them (errors found before sending, such as an unknown option
// name, arrive from the loop too); the Controller must outlive
// the TorConfig. Destroying the TorConfig drops callbacks still owed.
// Nothing throws (apart from std::bad_alloc).
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/config_group.hpp"
#include "torcon/config_value.hpp"
#include "torcon/controller.hpp"
#include "torcon/expected.hpp"
#include "torcon/export.hpp"

namespace torcon {

/// How much TorConfig::load() reads (see the top of tor_config.hpp).
enum class ConfigLoad : std::uint8_t {
  full,  ///< the names and types, then every value in one GETCONF
  lazy,  ///< the names and types only; values are read by fetch()
};

/// What TorConfig::load() does.
struct TORCON_API ConfigOptions {
  ConfigLoad load = ConfigLoad::full;  ///< every value now, or on demand
  /// Subscribe to CONF_CHANGED so changes made elsewhere reach the cache. A
  /// refused subscription fails a full load; a lazy one goes on without it.
  bool follow_changes = true;
};

/// Tor's configuration, typed and cached, with staged changes saved in one
/// SETCONF (see the top of tor_config.hpp).
class TORCON_API TorConfig {
 public:
  /// Reads nothing yet (load()); `controller` must outlive the TorConfig.
  explicit TorConfig(Controller& controller);
  ~TorConfig();  ///< unsubscribes
  TorConfig(const TorConfig&) = delete;
  TorConfig& operator=(const TorConfig&) = delete;

  /// Subscribes (if asked), reads config/names and, for a full load, every
  /// value. `done` runs once. Loading again starts over: the table is read
  /// anew and staged changes are dropped.
  void load(ConfigOptions options, StatusCallback done, const CommandOptions& command_options = {});
  /// The last load() succeeded (false while one is on its way).
  bool loaded() const noexcept;
  /// Whether CONF_CHANGED events reach the cache.
  bool following_changes() const noexcept;
  /// The Controller it talks through (for helpers built on a TorConfig).
  Controller& controller() const noexcept;

  // ---- the option table ------------------------------------------------------
  /// Whether config/names was read (a lazy load behind a filter may lack it).
  bool knows_names() const noexcept;
  /// Tor's spelling of `name` (any case), or "" when tor has no such option.
  std::string_view canonical_name(std::string_view name) const;
  /// The type of option `name` (any case); nullopt when it is not in the
  /// table. `other` when the names were not read.
  std::optional<ConfigType> type_of(std::string_view name) const;
  /// Every option in the table, as spelled there: all that config/names
  /// listed, and, without the names, those read so far. Valid until the
  /// next load().
  std::vector<std::string_view> option_names() const;

  // ---- values: tor's, as last seen --------------------------------------------
  /// Null when the option is unknown, not read yet (lazy), or a Virtual one
  /// (see groups()). Valid until the next change to the cache.
  const ConfigValue* get(std::string_view name) const;
  /// A Virtual option's groups in tor's order; null when unknown or not read.
  const std::vector<ConfigGroup>* groups(std::string_view virtual_option) const;
  /// groups("HiddenServiceOptions"), or none.
  std::vector<ConfigGroup> hidden_services() const;
  /// Reads these options (one GETCONF) into the cache; a Dependent option
  /// reads its whole group.
  void fetch(std::vector<std::string> names, StatusCallback done,
             const CommandOptions& command_options = {});

  // ---- staging (nothing is sent until save()) ----------------------------------
  /// Text for an option of at most one line, checked against the option's
  /// type (Boolean: 0/1; DataSize: "5 MB" ...); for a LineList, one line.
  Status set(std::string_view name, std::string_view text);
  /// set() of text given as a C string (so that a literal is not taken as a bool).
  Status set(std::string_view name, const char* text) { return set(name, std::string_view(text)); }
  Status set(std::string_view name, bool value);      ///< Boolean, Boolean+Auto
  Status set(std::string_view name, AutoBool value);  ///< Boolean+Auto
  /// Integer, SignedInteger, Port, and DataSize (in bytes).
  template <std::integral T>
  requires(!std::same_as<T, bool>) Status set(std::string_view name, T value) {
    if constexpr (std::is_unsigned_v<T>)
      if (static_cast<std::uint64_t>(value) >
          static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return set_unsigned(name, static_cast<std::uint64_t>(value));
    return set_integer(name, static_cast<std::int64_t>(value));
  }
  /// TimeInterval (whole seconds) and TimeMsecInterval.
  Status set(std::string_view name, std::chrono::milliseconds value);
  Status set(std::string_view name, double value);  ///< Float
  /// CommaList / RouterList: the items joined with ","; LineList (or a
  /// Dependent's group): one line per item. No items = unset.
  Status set_list(std::string_view name, std::vector<std::string> items);
  /// A Virtual option's groups, in order. No groups removes them all.
  Status set_groups(std::string_view virtual_option, std::vector<ConfigGroup> groups);
  /// set_groups("HiddenServiceOptions", services): one group per onion service.
  Status set_hidden_services(std::vector<ConfigGroup> services) {
    return set_groups("HiddenServiceOptions", std::move(services));
  }
  /// Sends the option with no value: tor sets it to empty / 0 (reset() sets
  /// it back to its default).
  Status clear(std::string_view name);

  /// Changes are staged and not yet sent by save().
  bool has_pending() const noexcept;
  /// Tor's names of the options staged, in staging order.
  std::vector<std::string> pending_names() const;
  /// Drops every staged change; nothing is sent.
  void discard();

  // ---- talking to tor ------------------------------------------------------------
  // (load() and fetch() too.) The last parameter is each command's
  // CommandOptions (a deadline), as for the Controller's typed helpers; a
  // command that times out fails the call with Errc::timeout.
  /// One SETCONF for every staged change, then the cache from tor's values.
  /// With nothing staged, nothing is sent and `done` gets ok. If the
  /// connection ends before tor answered, `done` gets that error and the
  /// changes stay staged (tor may or may not have applied them).
  /// Changes staged while a save is on its way wait for the next save().
  void save(StatusCallback done, const CommandOptions& command_options = {});
  /// RESETCONF: these options back to their defaults (staged changes to them
  /// are dropped once tor agreed); then the cache from tor's values.
  void reset(std::vector<std::string> names, StatusCallback done,
             const CommandOptions& command_options = {});
  /// SAVECONF [FORCE]: tor writes its configuration to its torrc. FORCE
  /// writes even when the torrc holds `%include` or tor was started with
  /// options the file does not hold.
  void write_torrc(bool force, StatusCallback done, const CommandOptions& command_options = {});

  /// Names a listener (on_change(), remove_listener()).
  using ListenerId = std::uint64_t;
  /// Called with tor's name of each option whose cached value changed (load
  /// excepted), after the cache took it. Safe to add/remove from inside; a
  /// listener must not throw.
  ListenerId on_change(std::function<void(std::string_view option)> listener);
  /// Removes a listener (false: no such listener).
  bool remove_listener(ListenerId id);

  // ---- coroutine forms ------------------------------------------------------------
  /// `co_await cfg.co_load(options)`: load(), resuming with its outcome.
  Controller::Awaiter<Status> co_load(ConfigOptions options, CommandOptions command_options = {});
  /// fetch(), resuming with its outcome.
  Controller::Awaiter<Status> co_fetch(std::vector<std::string> names,
                                       CommandOptions command_options = {});
  /// save(), resuming with its outcome.
  Controller::Awaiter<Status> co_save(CommandOptions command_options = {});
  /// reset(), resuming with its outcome.
  Controller::Awaiter<Status> co_reset(std::vector<std::string> names,
                                       CommandOptions command_options = {});
  /// write_torrc(), resuming with its outcome.
  Controller::Awaiter<Status> co_write_torrc(bool force, CommandOptions command_options = {});

 private:
  Status set_integer(std::string_view name, std::int64_t value);
  Status set_unsigned(std::string_view name, std::uint64_t value);
  /// The bookkeeping (config/config_core.hpp) and the Controller glue;
  /// shared so callbacks still owed can tell it is gone.
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace torcon
