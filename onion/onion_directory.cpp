#include "torcon/onion_directory.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <system_error>

#include "onion_input.hpp"
#include "torcon/onion_keys.hpp"
#include "torcon/tokens.hpp"

namespace torcon {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kGroup = "HiddenServiceOptions";
constexpr auto kPollEvery = std::chrono::milliseconds(20);

Error bad(std::string msg) { return Error(Errc::bad_argument, std::move(msg)); }

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char a = s[i], b = prefix[i];
    if (a >= 'A' && a <= 'Z') a = char(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = char(b - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

bool is_client_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!is_ascii_alnum(c) && c != '-' && c != '_') return false;
  return true;
}

// Both sides made absolute, so that a relative HiddenServiceDir someone else
// configured still matches the spec that names the same place.
bool same_directory(std::string_view configured, const std::string& absolute) {
  Expected<std::string> a = absolute_onion_directory(configured);
  return a ? *a == absolute : configured == absolute;
}

// HiddenServiceOptions as read, or why a change to it cannot be staged now.
Expected<std::vector<ConfigGroup>> current_services(const TorConfig& cfg) {
  const std::vector<ConfigGroup>* groups = cfg.groups(kGroup);
  if (!groups) return bad("HiddenServiceOptions has not been read (load() or fetch() it first)");
  // Staging replaces the whole list; a change already staged would be lost.
  for (const std::string& n : cfg.pending_names())
    if (iequals_prefix(n, "HiddenService"))
      return bad(n + " has a change staged already (save() or discard() it first)");
  return *groups;
}

Error system_error(const std::string& what, const std::error_code& ec) {
  return Error(Errc::io, what + ": " + ec.message());
}

Status make_private_dir(const fs::path& p) {
  std::error_code ec;
  fs::create_directories(p, ec);
  if (ec) return system_error("creating " + p.string(), ec);
  fs::permissions(p, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return system_error("chmod 0700 " + p.string(), ec);
  return {};
}

// Writes through a temporary file and a rename: tor reloading the directory
// at that moment sees the old file or the new one, never half of one.
Status write_private_file(const fs::path& p, const std::string& text) {
  const fs::path tmp = p.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Error(Errc::io, "writing " + tmp.string() + ": " + std::strerror(errno));
    out << text;
    out.flush();
    if (!out) return Error(Errc::io, "writing " + tmp.string() + ": " + std::strerror(errno));
  }
  std::error_code ec;
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace,
                  ec);
  if (!ec) fs::rename(tmp, p, ec);
  if (ec) {
    fs::remove(tmp);
    return system_error("writing " + p.string(), ec);
  }
  return {};
}

// The hostname poll: one shared state, re-armed until the file holds an
// address or the deadline passed.
struct HostnamePoll {
  Reactor& reactor;
  std::string path;
  std::chrono::steady_clock::time_point deadline;
  std::function<void(const Expected<std::string>&)> cb;
  std::string last_content;  // for the timeout's message

  static void step(const std::shared_ptr<HostnamePoll>& p) {
    std::ifstream in(p->path, std::ios::binary);
    if (in) {
      std::ostringstream text;
      text << in.rdbuf();
      std::string s = text.str();
      while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
      if (Expected<std::string> id = onion_service_id(s)) return p->cb(*id + ".onion");
      p->last_content = s.substr(0, 100);
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= p->deadline) {
      std::string why =
          p->last_content.empty() && !in
              ? " was not written (tor on another host, or not allowed to write there?)"
              : " holds \"" + p->last_content + "\", not a v3 onion address";
      return p->cb(Error(Errc::timeout, p->path + why));
    }
    const auto wait = std::min<std::chrono::steady_clock::duration>(kPollEvery, p->deadline - now);
    p->reactor.start_timer(std::chrono::duration_cast<Reactor::Duration>(wait), [p] { step(p); });
  }
};

}  // namespace

Expected<std::string> absolute_onion_directory(std::string_view directory) {
  if (!is_unescaped_text(directory))
    return bad("onion service directory \"" + std::string(directory.substr(0, 100)) +
               "\": empty, or holds a control byte, quote or backslash");
  std::error_code ec;
  fs::path p = fs::absolute(fs::path(directory), ec);
  if (ec) return Error(Errc::io, "the working directory: " + ec.message());
  p = p.lexically_normal();
  std::string s = p.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  // The working directory itself could hold what the caller's text did not.
  if (!is_unescaped_text(s))
    return bad("onion service directory \"" + s.substr(0, 100) +
               "\" holds a control byte, quote or backslash");
  return s;
}

Expected<ConfigGroup> onion_directory_group(const OnionDirectorySpec& spec) {
  Expected<std::string> dir = absolute_onion_directory(spec.directory);
  if (!dir) return dir.error();
  if (spec.ports.empty()) return bad("onion service " + *dir + ": no ports");
  ConfigGroup g;
  g.add("HiddenServiceDir", *dir);
  for (const OnionPort& port : spec.ports) {
    Expected<std::string> arg = onion_port_argument(port);
    if (!arg) return arg.error();
    // ADD_ONION's "VIRT,TARGET" is HiddenServicePort's "VIRT TARGET".
    std::string line = std::move(*arg);
    if (std::size_t comma = line.find(','); comma != std::string::npos) line[comma] = ' ';
    g.add("HiddenServicePort", std::move(line));
  }
  g.add("HiddenServiceVersion", "3");
  for (std::size_t i = 0; i < spec.clients.size(); ++i) {
    const OnionDirectoryClient& c = spec.clients[i];
    if (!is_client_name(c.name))
      return bad("client name \"" + c.name.substr(0, 100) +
                 "\" is not 1-64 letters, digits, '-' and '_'");
    for (std::size_t j = 0; j < i; ++j)
      if (spec.clients[j].name == c.name) return bad("client name \"" + c.name + "\" given twice");
    Expected<std::string> key = client_auth_public_key(c.public_key);
    if (!key) return bad("client " + c.name + ": " + key.error().message);
  }
  return g;
}

Status stage_onion_directory(TorConfig& cfg, const OnionDirectorySpec& spec) {
  Expected<ConfigGroup> group = onion_directory_group(spec);
  if (!group) return group.error();
  Expected<std::vector<ConfigGroup>> services = current_services(cfg);
  if (!services) return services.error();
  const std::string dir(group->head());
  bool replaced = false;
  for (ConfigGroup& g : *services)
    if (same_directory(g.head(), dir)) {
      g = *group;
      replaced = true;
      break;
    }
  if (!replaced) services->push_back(std::move(*group));
  return cfg.set_hidden_services(std::move(*services));
}

Status stage_onion_directory_removal(TorConfig& cfg, std::string_view directory) {
  Expected<std::string> dir = absolute_onion_directory(directory);
  if (!dir) return dir.error();
  Expected<std::vector<ConfigGroup>> services = current_services(cfg);
  if (!services) return services.error();
  const std::size_t before = services->size();
  std::erase_if(*services, [&](const ConfigGroup& g) { return same_directory(g.head(), *dir); });
  if (services->size() == before) return bad("tor has no onion service in " + *dir);
  return cfg.set_hidden_services(std::move(*services));
}

Status write_onion_directory_clients(const OnionDirectorySpec& spec) {
  Expected<ConfigGroup> group = onion_directory_group(spec);  // checks names and keys
  if (!group) return group.error();
  const fs::path dir(std::string(group->head()));
  const fs::path clients = dir / "authorized_clients";
  std::error_code ec;
  if (spec.clients.empty() && !fs::exists(clients, ec)) return {};
  if (Status s = make_private_dir(dir); !s) return s;
  if (Status s = make_private_dir(clients); !s) return s;
  for (const OnionDirectoryClient& c : spec.clients) {
    // Checked by onion_directory_group(); normalised to lower case.
    const std::string key = *client_auth_public_key(c.public_key);
    if (Status s =
            write_private_file(clients / (c.name + ".auth"), "descriptor:x25519:" + key + "\n");
        !s)
      return s;
  }
  // Clients no longer listed lose access: tor reads every .auth file there.
  for (fs::directory_iterator it(clients, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.extension() != ".auth") continue;
    const std::string name = p.stem().string();
    const bool listed = std::any_of(spec.clients.begin(), spec.clients.end(),
                                    [&](const OnionDirectoryClient& c) { return c.name == name; });
    if (!listed && !fs::remove(p, ec)) break;
  }
  if (ec) return system_error("updating " + clients.string(), ec);
  return {};
}

void read_onion_hostname(Reactor& reactor, std::string_view directory,
                         std::chrono::milliseconds timeout,
                         std::function<void(const Expected<std::string>&)> cb) {
  Expected<std::string> dir = absolute_onion_directory(directory);
  if (!dir) {
    reactor.post([cb = std::move(cb), e = dir.error()] { cb(e); });
    return;
  }
  auto poll = std::make_shared<HostnamePoll>(HostnamePoll{
      reactor, *dir + "/hostname", std::chrono::steady_clock::now() + timeout, std::move(cb), {}});
  reactor.post([poll] { HostnamePoll::step(poll); });
}

namespace {

// Errors found before sending arrive from the loop, as TorConfig's do.
void fail_later(TorConfig& cfg, std::function<void(Error)> fail, Error e) {
  cfg.controller().reactor().post([fail = std::move(fail), e = std::move(e)] { fail(e); });
}

// Saves what was staged; on success `then` runs, else the change is dropped
// (the caller had nothing else staged) and `fail` gets tor's error.
void save_then(TorConfig& cfg, const CommandOptions& options, std::function<void()> then,
               std::function<void(Error)> fail) {
  cfg.save(
      [&cfg, then = std::move(then), fail = std::move(fail)](const Status& s) {
        if (!s) {
          cfg.discard();
          return fail(s.error());
        }
        then();
      },
      options);
}

// Runs `next` once HiddenServiceOptions is in the cache (fetching it for a
// lazy load), or hands `fail` the reason it cannot be.
void with_services(TorConfig& cfg, const CommandOptions& options, std::function<void()> next,
                   std::function<void(Error)> fail) {
  if (cfg.has_pending()) {
    std::string names;
    for (const std::string& n : cfg.pending_names()) names += (names.empty() ? "" : ", ") + n;
    return fail_later(cfg, std::move(fail),
                      bad("changes are staged (" + names +
                          "); this save would send them too: save() or discard() them first"));
  }
  // Run at once, not posted: a posted step could outlive `cfg`. Every step
  // after this completes from the loop (TorConfig's callbacks, fail_later).
  if (cfg.groups(kGroup)) return next();
  cfg.fetch(
      {std::string(kGroup)},
      [next = std::move(next), fail = std::move(fail)](const Status& s) {
        if (!s) return fail(s.error());
        next();
      },
      options);
}

}  // namespace

void add_onion_directory(TorConfig& cfg, const OnionDirectorySpec& spec,
                         OnionDirectoryOptions options,
                         std::function<void(const Expected<std::string>&)> cb) {
  auto done = std::make_shared<std::function<void(const Expected<std::string>&)>>(std::move(cb));
  auto fail = [done](Error e) { (*done)(e); };
  Expected<ConfigGroup> group = onion_directory_group(spec);
  if (!group) return fail_later(cfg, fail, group.error());
  with_services(
      cfg, options.command,
      [&cfg, spec, options, done, fail] {
        if (Status s = write_onion_directory_clients(spec); !s)
          return fail_later(cfg, fail, s.error());
        if (Status s = stage_onion_directory(cfg, spec); !s)
          return fail_later(cfg, fail, s.error());
        const std::string dir = *absolute_onion_directory(spec.directory);
        save_then(
            cfg, options.command,
            [&cfg, dir, options, done] {
              read_onion_hostname(cfg.controller().reactor(), dir, options.hostname_timeout,
                                  [done](const Expected<std::string>& a) { (*done)(a); });
            },
            fail);
      },
      fail);
}

void remove_onion_directory(TorConfig& cfg, std::string_view directory, StatusCallback cb,
                            const CommandOptions& options) {
  auto done = std::make_shared<StatusCallback>(std::move(cb));
  auto fail = [done](Error e) { (*done)(Status(std::move(e))); };
  Expected<std::string> dir = absolute_onion_directory(directory);
  if (!dir) return fail_later(cfg, fail, dir.error());
  with_services(
      cfg, options,
      [&cfg, dir = *dir, options, done, fail] {
        if (Status s = stage_onion_directory_removal(cfg, dir); !s)
          return fail_later(cfg, fail, s.error());
        save_then(
            cfg, options, [done] { (*done)(Status()); }, fail);
      },
      fail);
}

Controller::Awaiter<Expected<std::string>> co_add_onion_directory(TorConfig& cfg,
                                                                  OnionDirectorySpec spec,
                                                                  OnionDirectoryOptions options) {
  return {
      [&cfg, spec = std::move(spec), options](std::function<void(Expected<std::string>)> resume) {
        add_onion_directory(
            cfg, spec, options,
            [resume = std::move(resume)](const Expected<std::string>& r) { resume(r); });
      },
      {}};
}

Controller::Awaiter<Status> co_remove_onion_directory(TorConfig& cfg, std::string directory,
                                                      CommandOptions options) {
  return {[&cfg, directory = std::move(directory), options](std::function<void(Status)> resume) {
            remove_onion_directory(
                cfg, directory, [resume = std::move(resume)](const Status& s) { resume(s); },
                options);
          },
          {}};
}

}  // namespace torcon
