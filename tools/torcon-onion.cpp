// torcon-onion: publishes local services as a v3 onion service and keeps it
// until Ctrl-C or SIGTERM, then removes it.
//
//   torcon-onion [--control HOST:PORT|PATH | --launch] [--password P|--cookie FILE]
//                --port VIRT[:TARGET] ... [--key-file F] [--client NAME]...
//                [--wait-ready] [--timeout S] [--torrc LINE]...
//
// Exit status: 0 after a clean stop, 1 when tor refuses (ADD_ONION, or the
// descriptor could not be published with --wait-ready), 2 for usage,
// connection and file errors.

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "torcon/controller.hpp"
#include "torcon/launch.hpp"
#include "torcon/onion_keys.hpp"
#include "torcon/onion_service.hpp"
#include "torcon/reactor.hpp"
#include "torcon/tokens.hpp"
#include "version_option.hpp"

namespace {

using namespace std::chrono_literals;

constexpr const char* kUsage =
    "usage: torcon-onion [--control HOST:PORT|PATH | --launch] [--password P|--cookie FILE]\n"
    "                    --port VIRT[:TARGET] ... [--key-file F] [--client NAME]...\n"
    "                    [--wait-ready | --wait-all-hsdirs] [--timeout S] [--torrc LINE]...\n"
    "\n"
    "Publishes local services as a v3 onion service until Ctrl-C or SIGTERM.\n"
    "  --control HOST:PORT   tor's control port (default 127.0.0.1:9051); a PATH with '/'\n"
    "                        is a Unix ControlSocket\n"
    "  --launch              start a tor of our own instead (--torrc adds lines to its torrc)\n"
    "  --port VIRT[:TARGET]  onion port VIRT to TARGET: PORT, HOST:PORT or unix:/PATH\n"
    "                        (default: the same port on 127.0.0.1); repeatable\n"
    "  --key-file F          the service key: created (mode 0600) on first use, reused\n"
    "                        after, so the address survives restarts; client keys are kept\n"
    "                        beside it in F.client-NAME\n"
    "  --client NAME         require client authorization; prints NAME's private key\n"
    "  --wait-ready          wait until the descriptor reached an HSDir, then print \"ready\"\n"
    "  --wait-all-hsdirs     like --wait-ready, but wait for every HSDir tor uploaded to (a\n"
    "                        client then finds the descriptor on whichever it asks)\n"
    "  --timeout S           bound connecting/launching and --wait-ready (default 300)\n"
    "  --version             print torcon-onion's version\n"
    "exit status: 0 clean stop, 1 tor refused, 2 usage, connection or file error\n";

struct Options {
  std::optional<torcon::Endpoint> control;
  bool launch = false;
  std::string password, cookie;
  std::vector<torcon::OnionPort> ports;
  std::string key_file;
  std::vector<std::string> clients;
  bool wait_ready = false;
  bool all_hsdirs = false;  // --wait-all-hsdirs
  std::chrono::seconds timeout{300};
  std::vector<std::string> torrc;
};

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "torcon-onion: %s (see --help)\n", msg.c_str());
  return 2;
}

bool parse_u16(std::string_view s, std::uint16_t& out) {
  if (s.empty() || s.size() > 5) return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + unsigned(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  out = std::uint16_t(v);
  return true;
}

std::optional<std::string> parse_control(std::string_view v, torcon::Endpoint& out) {
  if (v.find('/') != std::string_view::npos) {
    out = torcon::Endpoint::unix_socket(std::string(v.starts_with("unix:") ? v.substr(5) : v));
    return std::nullopt;
  }
  const bool v6 = v.starts_with('[');
  const std::size_t colon = v6 ? v.find("]:") + 1 : v.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return "--control: expected HOST:PORT or a socket path";
  std::string host(v6 ? v.substr(1, colon - 2) : v.substr(0, colon));
  unsigned char buf[16];
  std::uint16_t port = 0;
  if (::inet_pton(v6 ? AF_INET6 : AF_INET, host.c_str(), buf) != 1)
    return "--control: \"" + host + "\" is not a numeric address";
  if (!parse_u16(v.substr(colon + 1), port)) return "--control: bad port";
  out = torcon::Endpoint::tcp(host, port);
  return std::nullopt;
}

std::optional<std::string> parse_args(int argc, char** argv, Options& o, bool& help) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::optional<std::string_view> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string_view(argv[++i]);
    };
    if (a == "--help" || a == "-h") {
      help = true;
      return std::nullopt;
    } else if (a == "--launch") {
      o.launch = true;
    } else if (a == "--wait-ready") {
      o.wait_ready = true;
    } else if (a == "--wait-all-hsdirs") {
      o.wait_ready = o.all_hsdirs = true;
    } else if (a == "--control" || a == "--password" || a == "--cookie" || a == "--port" ||
               a == "--key-file" || a == "--client" || a == "--timeout" || a == "--torrc") {
      const auto v = value();
      if (!v) return std::string(a) + " needs a value";
      if (a == "--control") {
        torcon::Endpoint e;
        if (auto err = parse_control(*v, e)) return err;
        o.control = e;
      } else if (a == "--password") {
        o.password = std::string(*v);
      } else if (a == "--cookie") {
        o.cookie = std::string(*v);
      } else if (a == "--port") {
        // VIRT, VIRT:PORT, VIRT:HOST:PORT, VIRT:unix:/PATH
        const std::size_t colon = v->find(':');
        std::uint16_t virt = 0;
        if (!parse_u16(v->substr(0, colon), virt))
          return "--port: virtual port \"" + std::string(v->substr(0, colon)) + "\" is not 1-65535";
        o.ports.push_back({virt, colon == std::string_view::npos
                                     ? std::string()
                                     : std::string(v->substr(colon + 1))});
      } else if (a == "--key-file") {
        o.key_file = std::string(*v);
      } else if (a == "--client") {
        if (!torcon::is_nickname(*v)) return "--client: a name is 1-19 letters and digits";
        o.clients.emplace_back(*v);
      } else if (a == "--timeout") {
        std::uint16_t s = 0;
        if (!parse_u16(*v, s)) return "--timeout: seconds, 1-65535";
        o.timeout = std::chrono::seconds(s);
      } else {
        o.torrc.emplace_back(*v);
      }
    } else {
      return "unknown argument \"" + std::string(a) + "\"";
    }
  }
  if (o.ports.empty()) return "at least one --port is needed";
  if (o.launch && o.control) return "--launch and --control exclude each other";
  if (!o.launch && !o.torrc.empty()) return "--torrc only goes with --launch";
  if (!o.password.empty() && !o.cookie.empty()) return "--password and --cookie exclude each other";
  if (!o.launch && !o.control) o.control = torcon::Endpoint::tcp("127.0.0.1", 9051);
  return std::nullopt;
}

// The file's text, without surrounding whitespace; nullopt if it does not
// exist; an error message otherwise.
std::optional<std::string> read_small_file(const std::string& path, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) error = path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::string text;
  char buf[512];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0 && text.size() < 4096;)
    text.append(buf, std::size_t(n));
  ::close(fd);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.erase(0, 1);
  return text;
}

// Creates `path` with mode 0600 (never replacing a file) holding `text`.
bool write_secret_file(const std::string& path, const std::string& text, std::string& error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  const std::string line = text + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == ssize_t(line.size()) && ::fsync(fd) == 0;
  if (!ok) error = path + ": " + std::strerror(errno);
  ::close(fd);
  return ok;
}

// The service key from --key-file: read, or made and written on first use.
std::optional<std::string> load_or_create_key(const std::string& path, std::string& error) {
  std::optional<std::string> text = read_small_file(path, error);
  if (!error.empty()) return std::nullopt;
  if (text) {
    if (auto a = torcon::onion_address_of_key(*text); !a) {
      error = path + ": " + a.error().message;
      return std::nullopt;
    }
    return *text;
  }
  const std::string key = "ED25519-V3:" + torcon::new_onion_key();
  if (!write_secret_file(path, key, error)) return std::nullopt;
  return key;
}

std::optional<torcon::ClientAuthKeys> load_or_create_client(const std::string& key_file,
                                                            const std::string& name,
                                                            std::string& error) {
  if (key_file.empty()) return torcon::new_client_auth_keys();
  const std::string path = key_file + ".client-" + name;
  std::optional<std::string> text = read_small_file(path, error);
  if (!error.empty()) return std::nullopt;
  if (text) {
    auto k = torcon::client_auth_keys_from_private(*text);
    if (!k) {
      error = path + ": " + k.error().message;
      return std::nullopt;
    }
    return *k;
  }
  torcon::ClientAuthKeys k = torcon::new_client_auth_keys();
  if (!write_secret_file(path, "x25519:" + k.private_base64, error)) return std::nullopt;
  return k;
}

}  // namespace

int main(int argc, char** argv) {
  if (torcon::tools::print_version_if_asked(argc, argv, "torcon-onion")) return 0;
  Options o;
  bool help = false;
  if (auto err = parse_args(argc, argv, o, help)) return usage_error(*err);
  if (help) {
    std::fputs(kUsage, stdout);
    return 0;
  }

  torcon::OnionServiceSpec spec;
  spec.ports = o.ports;
  std::string error;
  if (!o.key_file.empty()) {
    auto key = load_or_create_key(o.key_file, error);
    if (!key) return usage_error(error);
    spec.key = *key;
  } else {
    spec.discard_key = true;  // nobody keeps it: tor need not send it
  }
  std::vector<std::pair<std::string, torcon::ClientAuthKeys>> clients;
  for (const std::string& name : o.clients) {
    auto k = load_or_create_client(o.key_file, name, error);
    if (!k) return usage_error(error);
    spec.client_keys.push_back(k->public_base32);
    clients.emplace_back(name, *k);
  }
  if (auto cmd = torcon::add_onion_command(spec); !cmd) return usage_error(cmd.error().message);

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto reactor = torcon::Reactor::create();
  if (!reactor) {
    std::fprintf(stderr, "torcon-onion: %s\n", reactor.error().message.c_str());
    return 2;
  }
  torcon::Reactor& loop = **reactor;
  const auto deadline = std::chrono::steady_clock::now() + o.timeout;
  auto pump_until = [&](auto pred) {
    while (!pred() && !g_stop) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      loop.run_once(100ms);
    }
    return pred();
  };

  // The controller: ours, or the launched tor's.
  std::unique_ptr<torcon::Controller> own;
  std::unique_ptr<torcon::TorProcess> tor;
  torcon::Controller* ctl = nullptr;
  if (o.launch) {
    torcon::LaunchOptions lo;
    lo.torrc = o.torrc;
    lo.timeout = o.timeout;
    std::optional<torcon::Expected<std::unique_ptr<torcon::TorProcess>>> launched;
    torcon::launch_tor(loop, lo, [&](auto t) { launched.emplace(std::move(t)); });
    while (!launched) loop.run_once(100ms);  // launch_tor has its own timeout
    if (!*launched) {
      std::fprintf(stderr, "torcon-onion: launching tor: %s\n", launched->error().message.c_str());
      return 2;
    }
    tor = std::move(**launched);
    ctl = &tor->controller();
  } else {
    torcon::ControllerOptions co;
    co.password = o.password;
    co.cookie_file = o.cookie;
    if (!o.password.empty()) co.auth = torcon::AuthMethod::hashed_password;
    own = std::make_unique<torcon::Controller>(loop, co);
    std::optional<torcon::Status> st;
    own->connect(*o.control, [&](const torcon::Status& s) { st = s; });
    if (!pump_until([&] { return st.has_value(); })) {
      std::fprintf(stderr, "torcon-onion: connecting to %s: %s\n", o.control->to_string().c_str(),
                   g_stop ? "interrupted" : "timed out");
      return 2;
    }
    if (!*st) {
      std::fprintf(stderr, "torcon-onion: connecting to %s: %s\n", o.control->to_string().c_str(),
                   st->error().message.c_str());
      return 2;
    }
    ctl = own.get();
  }
  bool lost = false;
  ctl->on_disconnect([&](const torcon::Error&) { lost = true; });
  auto shutdown_tor = [&] {
    if (!tor) return;
    bool stopped = false;
    tor->stop([&] { stopped = true; });
    while (!stopped) loop.run_once(100ms);
  };

  // Ready watch first, so no upload event is missed.
  std::optional<torcon::Status> ready;
  std::unique_ptr<torcon::OnionReadyWatch> watch;
  if (o.wait_ready) {
    torcon::OnionReadyOptions ro;
    ro.timeout = o.timeout;
    ro.all_hsdirs = o.all_hsdirs;
    ro.progress = [](const torcon::OnionUploadProgress& p) {
      std::fprintf(stderr, "torcon-onion: descriptor uploads: %d attempted, %d done, %d failed\n",
                   p.attempted, p.uploaded, p.failed);
    };
    watch = std::make_unique<torcon::OnionReadyWatch>(*ctl, loop, ro,
                                                      [&](const torcon::Status& s) { ready = s; });
  }
  std::optional<torcon::Expected<torcon::OnionServiceInfo>> added;
  auto on_added = [&](const torcon::Expected<torcon::OnionServiceInfo>& r) { added.emplace(r); };
  if (spec.key.empty())
    torcon::add_onion_service(*ctl, spec, on_added);
  else
    torcon::ensure_onion_service(*ctl, spec, on_added);
  while (!added && !lost && !g_stop) loop.run_once(100ms);
  if (!added) {
    std::fprintf(stderr, "torcon-onion: %s\n", lost ? "connection to tor lost" : "interrupted");
    shutdown_tor();
    return lost ? 2 : 0;
  }
  if (!*added) {
    const torcon::Error& e = added->error();
    if (e.code == torcon::Errc::tor_error)
      std::fprintf(
          stderr, "torcon-onion: ADD_ONION: tor answered %d %s%s\n", e.status, e.message.c_str(),
          e.status == 550 ? " (this key's service runs on another control connection)" : "");
    else
      std::fprintf(stderr, "torcon-onion: ADD_ONION: %s\n", e.message.c_str());
    shutdown_tor();
    return e.code == torcon::Errc::tor_error ? 1 : 2;
  }
  const torcon::OnionServiceInfo& info = **added;
  if (watch) watch->set_address(info.address);
  std::printf("%s\n", info.address.c_str());
  for (const auto& [name, k] : clients) {
    std::printf("client %s %s\n", name.c_str(), k.private_base32.c_str());
    std::printf("  Tor Browser: %s\n", k.private_base32.c_str());
    std::printf("  ClientOnionAuthDir/%s.auth_private: %s:descriptor:x25519:%s\n", name.c_str(),
                info.service_id.c_str(), k.private_base32.c_str());
    std::printf("  control port: ONION_CLIENT_AUTH_ADD %s x25519:%s ClientName=%s\n",
                info.service_id.c_str(), k.private_base64.c_str(), name.c_str());
  }
  std::fflush(stdout);

  int status = 0;
  if (watch) {
    while (!ready && !lost && !g_stop) loop.run_once(100ms);
    if (ready && !*ready) {
      std::fprintf(stderr, "torcon-onion: not published: %s\n", ready->error().message.c_str());
      status = 1;
    } else if (ready) {
      std::printf("ready\n");
      std::fflush(stdout);
    }
    watch.reset();
  }
  while (status == 0 && !lost && !g_stop) loop.run_once(200ms);
  if (lost) {
    std::fprintf(stderr, "torcon-onion: connection to tor lost\n");
    shutdown_tor();
    return 2;
  }

  // Ctrl-C / SIGTERM (or a failed --wait-ready): remove the service.
  std::optional<torcon::Status> removed;
  torcon::remove_onion_service(*ctl, info.address, [&](const torcon::Status& s) { removed = s; });
  const auto limit = std::chrono::steady_clock::now() + 10s;
  while (!removed && !lost && std::chrono::steady_clock::now() < limit) loop.run_once(100ms);
  if (removed && !*removed) {
    std::fprintf(stderr, "torcon-onion: DEL_ONION: %s\n", removed->error().message.c_str());
    if (status == 0) status = 1;
  } else if (!removed) {
    std::fprintf(stderr, "torcon-onion: DEL_ONION got no answer\n");
    if (status == 0) status = 2;
  }
  shutdown_tor();
  return status;
}
