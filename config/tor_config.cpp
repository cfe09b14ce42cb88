// TorConfig: the Controller glue over ConfigCore (config_core.hpp).

#include "torcon/tor_config.hpp"

#include <utility>

#include "config_core.hpp"
#include "torcon/events.hpp"

namespace torcon {

struct TorConfig::Impl {
  explicit Impl(Controller& c) : controller(c) {}

  Controller& controller;
  detail::ConfigCore core;
  bool loaded = false;
  bool following = false;
  bool subscribed = false;
  Controller::SubscriptionId subscription = 0;
  std::uint64_t generation = 0;  // a newer load() makes an older one's callbacks moot
  std::vector<std::pair<ListenerId, std::function<void(std::string_view)>>> listeners;
  ListenerId next_listener = 1;

  void notify(const std::vector<std::string>& changed) {
    if (changed.empty() || listeners.empty()) return;
    // A copy: listeners may add or remove listeners.
    const auto snapshot = listeners;
    for (const std::string& name : changed)
      for (const auto& [id, fn] : snapshot) fn(name);
  }
};

namespace {

// Errors found before anything is sent still reach `done` from the loop,
// never inside the call that found them (as the Controller's do).
template <class Impl>
void fail_soon(const std::shared_ptr<Impl>& impl, StatusCallback done, Error e) {
  std::weak_ptr<Impl> weak = impl;
  impl->controller.reactor().post([weak, done = std::move(done), e = std::move(e)] {
    if (weak.lock()) done(e);
  });
}

Error prefixed(std::string_view what, const Error& e) {
  return Error(e.code, std::string(what) + ": " + e.message, e.offset, e.status);
}

std::vector<std::string_view> views(const std::vector<std::string>& keys) {
  return std::vector<std::string_view>(keys.begin(), keys.end());
}

}  // namespace

TorConfig::TorConfig(Controller& controller) : impl_(std::make_shared<Impl>(controller)) {}

Controller& TorConfig::controller() const noexcept { return impl_->controller; }

TorConfig::~TorConfig() {
  if (impl_->subscribed) impl_->controller.unsubscribe(impl_->subscription);
}

void TorConfig::load(ConfigOptions options, StatusCallback done,
                     const CommandOptions& command_options) {
  Impl& im = *impl_;
  const std::uint64_t generation = ++im.generation;
  im.loaded = false;
  if (im.subscribed) {
    im.controller.unsubscribe(im.subscription);
    im.subscribed = im.following = false;
  }
  const bool lazy = options.load == ConfigLoad::lazy;
  struct Load {
    StatusCallback done;
    Status subscription;  // a refused subscription fails a full load
  };
  auto load = std::make_shared<Load>(Load{std::move(done), {}});
  std::weak_ptr<Impl> weak = impl_;
  auto finish = [weak, load, generation](const Status& s) {
    auto p = weak.lock();
    if (!p || p->generation != generation) return;
    Status result = s ? load->subscription : s;
    if (result) p->loaded = true;
    load->done(result);
  };

  // Subscribed first, so every change after the values were read arrives
  // as an event.
  if (options.follow_changes) {
    im.subscription = im.controller.subscribe_typed(
        "CONF_CHANGED",
        [weak](const Event& ev) {
          auto p = weak.lock();
          const auto* c = ev.get<ConfChangedEvent>();
          if (!p || !c) return;
          std::vector<std::string> changed;
          p->core.apply_conf_changed(*c, &changed);
          p->notify(changed);
        },
        {},
        [weak, load, generation, lazy](const Status& s) {
          auto p = weak.lock();
          if (!p || p->generation != generation) return;
          p->following = s.ok();
          if (!s && !lazy) load->subscription = prefixed("SETEVENTS CONF_CHANGED", s.error());
        });
    im.subscribed = true;
  }

  im.controller.getinfo(
      {"config/names"},
      [weak, generation, lazy, finish, command_options](const Expected<KeyValues>& kv) {
        auto p = weak.lock();
        if (!p || p->generation != generation) return;
        if (!kv) {
          // Behind a filter that refuses it, a lazy load goes on without types.
          if (lazy && kv.error().code == Errc::tor_error) return finish(Status{});
          return finish(prefixed("GETINFO config/names", kv.error()));
        }
        const std::string* text = kv->find("config/names");
        if (!text)
          return finish(Error(Errc::bad_argument, "GETINFO config/names: no such key in reply"));
        if (Status s = p->core.apply_names(*text); !s) return finish(s);
        if (lazy) return finish(Status{});
        std::vector<std::string> keys = p->core.load_keys();
        const std::vector<std::string_view> v = views(keys);
        p->controller.getconf(
            std::span<const std::string_view>(v),
            [weak, finish, keys = std::move(keys)](const Expected<KeyValues>& r) {
              auto p = weak.lock();
              if (!p) return;
              if (!r) return finish(prefixed("GETCONF", r.error()));
              finish(p->core.apply_getconf(keys, *r, nullptr));
            },
            command_options);
      },
      command_options);
}

bool TorConfig::loaded() const noexcept { return impl_->loaded; }
bool TorConfig::following_changes() const noexcept { return impl_->following; }
bool TorConfig::knows_names() const noexcept { return impl_->core.knows_names(); }

std::string_view TorConfig::canonical_name(std::string_view name) const {
  const detail::ConfigCore::Option* o = impl_->core.find(name);
  return o && impl_->core.knows_names() ? std::string_view(o->name) : std::string_view();
}

std::optional<ConfigType> TorConfig::type_of(std::string_view name) const {
  const detail::ConfigCore::Option* o = impl_->core.find(name);
  if (!o) return std::nullopt;
  return o->type;
}

std::vector<std::string_view> TorConfig::option_names() const {
  std::vector<std::string_view> out;
  out.reserve(impl_->core.options().size());
  for (const auto& o : impl_->core.options()) out.emplace_back(o.name);
  return out;
}

const ConfigValue* TorConfig::get(std::string_view name) const {
  const detail::ConfigCore::Option* o = impl_->core.find(name);
  if (!o || !o->loaded || o->type == ConfigType::virtual_group) return nullptr;
  return &o->value;
}

const std::vector<ConfigGroup>* TorConfig::groups(std::string_view virtual_option) const {
  const detail::ConfigCore::Option* o = impl_->core.find(virtual_option);
  if (!o || !o->loaded || o->type != ConfigType::virtual_group) return nullptr;
  return &o->groups;
}

std::vector<ConfigGroup> TorConfig::hidden_services() const {
  const std::vector<ConfigGroup>* g = groups("HiddenServiceOptions");
  return g ? *g : std::vector<ConfigGroup>();
}

void TorConfig::fetch(std::vector<std::string> names, StatusCallback done,
                      const CommandOptions& command_options) {
  Expected<std::vector<std::string>> keys = impl_->core.read_keys(names);
  if (!keys) return fail_soon(impl_, std::move(done), keys.error());
  std::weak_ptr<Impl> weak = impl_;
  const std::vector<std::string_view> v = views(*keys);
  impl_->controller.getconf(
      std::span<const std::string_view>(v),
      [weak, done = std::move(done), keys = std::move(*keys)](const Expected<KeyValues>& r) {
        auto p = weak.lock();
        if (!p) return;
        if (!r) return done(prefixed("GETCONF", r.error()));
        std::vector<std::string> changed;
        Status s = p->core.apply_getconf(keys, *r, &changed);
        p->notify(changed);
        done(s);
      },
      command_options);
}

// ---- staging ------------------------------------------------------------------

Status TorConfig::set(std::string_view name, std::string_view text) {
  return impl_->core.stage_text(name, text);
}
Status TorConfig::set(std::string_view name, bool value) {
  return impl_->core.stage_bool(name, value);
}
Status TorConfig::set(std::string_view name, AutoBool value) {
  return impl_->core.stage_auto_bool(name, value);
}
Status TorConfig::set_integer(std::string_view name, std::int64_t value) {
  return impl_->core.stage_integer(name, value);
}
Status TorConfig::set_unsigned(std::string_view name, std::uint64_t value) {
  return impl_->core.stage_unsigned(name, value);
}
Status TorConfig::set(std::string_view name, std::chrono::milliseconds value) {
  return impl_->core.stage_duration(name, value);
}
Status TorConfig::set(std::string_view name, double value) {
  return impl_->core.stage_float(name, value);
}
Status TorConfig::set_list(std::string_view name, std::vector<std::string> items) {
  return impl_->core.stage_list(name, std::move(items));
}
Status TorConfig::set_groups(std::string_view virtual_option, std::vector<ConfigGroup> groups) {
  return impl_->core.stage_groups(virtual_option, std::move(groups));
}
Status TorConfig::clear(std::string_view name) { return impl_->core.stage_clear(name); }

bool TorConfig::has_pending() const noexcept { return !impl_->core.staged().empty(); }

std::vector<std::string> TorConfig::pending_names() const {
  std::vector<std::string> out;
  for (const auto& s : impl_->core.staged()) out.push_back(impl_->core.options()[s.option].name);
  return out;
}

void TorConfig::discard() { impl_->core.discard_all(); }

// ---- talking to tor ----------------------------------------------------------------

namespace {
// A command whose outcome decides, and the GETCONF pipelined behind it that
// reads back what it changed.
struct Exchange {
  StatusCallback done;
  Status outcome;
};
}  // namespace

void TorConfig::save(StatusCallback done, const CommandOptions& command_options) {
  Impl& im = *impl_;
  if (im.core.staged().empty())
    return impl_->controller.reactor().post(
        [weak = std::weak_ptr<Impl>(impl_), done = std::move(done)] {
          if (weak.lock()) done(Status{});
        });
  auto batch = std::make_shared<std::vector<detail::ConfigCore::Staged>>(im.core.take_staged());
  const Command setconf = im.core.setconf(*batch);
  if (!setconf.ok()) {  // staging checked every line; kept as a guard
    im.core.restore_staged(std::move(*batch));
    return fail_soon(impl_, std::move(done), setconf.error());
  }
  std::vector<std::string> keys = im.core.refresh_keys(*batch);
  const std::uint64_t table = im.core.table_version();
  auto ex = std::make_shared<Exchange>(Exchange{std::move(done), {}});
  std::weak_ptr<Impl> weak = impl_;
  im.controller.send(
      setconf,
      [ex](const Expected<Reply>& r) {
        if (!r) ex->outcome = prefixed("SETCONF", r.error());
      },
      command_options);
  const std::vector<std::string_view> v = views(keys);
  im.controller.getconf(
      std::span<const std::string_view>(v),
      [weak, ex, batch, table, keys = std::move(keys)](const Expected<KeyValues>& r) {
        auto p = weak.lock();
        if (!p) return;
        // A load() since replaced the option table: the batch's indices
        // mean nothing now (and a full load reads the values anyway).
        if (p->core.table_version() != table) return ex->done(ex->outcome);
        if (!ex->outcome) {
          // Tor applied none of it: the cache stays, the changes wait.
          p->core.restore_staged(std::move(*batch));
          return ex->done(ex->outcome);
        }
        std::vector<std::string> changed;
        if (!r || !p->core.apply_getconf(keys, *r, &changed))
          p->core.apply_staged(*batch, &changed);  // accepted as sent
        p->notify(changed);
        ex->done(Status{});
      },
      command_options);
}

void TorConfig::reset(std::vector<std::string> names, StatusCallback done,
                      const CommandOptions& command_options) {
  Impl& im = *impl_;
  Command c("RESETCONF");
  std::vector<std::size_t> options;
  for (const std::string& n : names) {
    const std::size_t i = im.core.index_of(n);
    if (i == detail::ConfigCore::npos && im.core.knows_names())
      return fail_soon(impl_, std::move(done),
                       Error(Errc::bad_argument, "tor has no option \"" + n + "\""));
    if (i != detail::ConfigCore::npos) options.push_back(i);
    c.key(i == detail::ConfigCore::npos ? std::string_view(n)
                                        : std::string_view(im.core.options()[i].name));
  }
  if (names.empty())
    return fail_soon(impl_, std::move(done), Error(Errc::bad_argument, "no options to reset"));
  if (!c.ok()) return fail_soon(impl_, std::move(done), c.error());
  Expected<std::vector<std::string>> keys = im.core.read_keys(names);
  if (!keys) return fail_soon(impl_, std::move(done), keys.error());
  auto ex = std::make_shared<Exchange>(Exchange{std::move(done), {}});
  std::weak_ptr<Impl> weak = impl_;
  im.controller.send(
      c,
      [ex](const Expected<Reply>& r) {
        if (!r) ex->outcome = prefixed("RESETCONF", r.error());
      },
      command_options);
  const std::vector<std::string_view> v = views(*keys);
  im.controller.getconf(
      std::span<const std::string_view>(v),
      [weak, ex, options, keys = std::move(*keys)](const Expected<KeyValues>& r) {
        auto p = weak.lock();
        if (!p) return;
        if (!ex->outcome) return ex->done(ex->outcome);
        for (std::size_t i : options) p->core.discard_staged(i);
        if (!r) return ex->done(prefixed("GETCONF after RESETCONF", r.error()));
        std::vector<std::string> changed;
        Status s = p->core.apply_getconf(keys, *r, &changed);
        p->notify(changed);
        ex->done(s);
      },
      command_options);
}

void TorConfig::write_torrc(bool force, StatusCallback done,
                            const CommandOptions& command_options) {
  std::weak_ptr<Impl> weak = impl_;
  impl_->controller.saveconf(
      force,
      [weak, done = std::move(done)](const Status& s) {
        if (weak.lock()) done(s ? s : prefixed("SAVECONF", s.error()));
      },
      command_options);
}

TorConfig::ListenerId TorConfig::on_change(std::function<void(std::string_view)> listener) {
  const ListenerId id = impl_->next_listener++;
  impl_->listeners.emplace_back(id, std::move(listener));
  return id;
}

bool TorConfig::remove_listener(ListenerId id) {
  return std::erase_if(impl_->listeners, [id](const auto& l) { return l.first == id; }) > 0;
}

// ---- coroutine forms ----------------------------------------------------------------

namespace {
template <class Start>
Controller::Awaiter<Status> awaiter(Start start) {
  return {[start = std::move(start)](std::function<void(Status)> resume) {
            start([resume = std::move(resume)](const Status& s) { resume(s); });
          },
          {}};
}
}  // namespace

Controller::Awaiter<Status> TorConfig::co_load(ConfigOptions options,
                                               CommandOptions command_options) {
  return awaiter([this, options, command_options](StatusCallback cb) {
    load(options, std::move(cb), command_options);
  });
}
Controller::Awaiter<Status> TorConfig::co_fetch(std::vector<std::string> names,
                                                CommandOptions command_options) {
  return awaiter([this, names = std::move(names), command_options](StatusCallback cb) {
    fetch(names, std::move(cb), command_options);
  });
}
Controller::Awaiter<Status> TorConfig::co_save(CommandOptions command_options) {
  return awaiter(
      [this, command_options](StatusCallback cb) { save(std::move(cb), command_options); });
}
Controller::Awaiter<Status> TorConfig::co_reset(std::vector<std::string> names,
                                                CommandOptions command_options) {
  return awaiter([this, names = std::move(names), command_options](StatusCallback cb) {
    reset(names, std::move(cb), command_options);
  });
}
Controller::Awaiter<Status> TorConfig::co_write_torrc(bool force, CommandOptions command_options) {
  return awaiter([this, force, command_options](StatusCallback cb) {
    write_torrc(force, std::move(cb), command_options);
  });
}

}  // namespace torcon
