// launch_tor: start a tor of our own and show a progress bar on stderr while
// it bootstraps; then print its version, pid and control port, and stop it
// (or, with --keep-running, keep it until interrupted).
//
//   launch_tor [--tor PATH] [--torrc-line LINE]... [--timeout SECONDS] [--keep-running]
//   launch_tor --torrc-line "%include /tmp/net/client.torrc.inc"   # join a private network
//
// launch_tor() writes the torrc, starts tor, authenticates and takes
// ownership (tor exits with this program). On a terminal the bar is redrawn
// in place; otherwise each step is a line. Exit status: 0 bootstrapped,
// 1 tor failed to start or bootstrap (tor's log tail is printed), 2 usage.

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "torcon/launch.hpp"
#include "torcon/reactor.hpp"

namespace {

const char* const kUsage =
    "usage: launch_tor [--tor PATH] [--torrc-line LINE]... [--timeout SECONDS] "
    "[--keep-running]\n";

void draw(const torcon::Bootstrap& b, bool terminal) {
  constexpr int width = 30;
  const int filled = b.percent * width / 100;
  std::string bar(std::size_t(filled), '#');
  bar.append(std::size_t(width - filled), '-');
  std::fprintf(stderr, "%s[%s] %3d%% %s%s", terminal ? "\r\033[K" : "", bar.c_str(), b.percent,
               b.summary.c_str(), terminal ? "" : "\n");
  std::fflush(stderr);
}

}  // namespace

int main(int argc, char** argv) {
  torcon::LaunchOptions options;
  bool keep_running = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--keep-running") {
      keep_running = true;
      continue;
    }
    if (i + 1 >= argc)
      return std::fprintf(stderr, "launch_tor: bad option %s\n%s", argv[i], kUsage), 2;
    const std::string_view v = argv[++i];
    if (a == "--tor") {
      options.tor_binary = v;
    } else if (a == "--torrc-line") {
      options.torrc.emplace_back(v);
    } else if (a == "--timeout") {
      unsigned s = 0;
      const auto r = std::from_chars(v.data(), v.data() + v.size(), s);
      if (r.ec != std::errc() || r.ptr != v.data() + v.size() || s == 0)
        return std::fprintf(stderr, "launch_tor: --timeout needs seconds\n"), 2;
      options.timeout = std::chrono::seconds(s);
    } else {
      return std::fprintf(stderr, "launch_tor: unknown option %s\n%s", argv[i - 1], kUsage), 2;
    }
  }

  auto reactor = torcon::Reactor::create();
  if (!reactor) return std::fprintf(stderr, "launch_tor: %s\n", reactor.error().message.c_str()), 1;
  const bool terminal = isatty(STDERR_FILENO);
  int last_percent = -1;
  options.on_progress = [&](const torcon::Bootstrap& b) {
    if (b.percent == last_percent) return;
    last_percent = b.percent;
    draw(b, terminal);
  };

  std::unique_ptr<torcon::TorProcess> tor;
  int status = 0;
  torcon::launch_tor(
      **reactor, options, [&](torcon::Expected<std::unique_ptr<torcon::TorProcess>> t) {
        if (terminal && last_percent >= 0) std::fputc('\n', stderr);
        if (!t) {
          std::fprintf(stderr, "launch_tor: %s\n", t.error().message.c_str());
          status = 1;
          return (*reactor)->stop();
        }
        tor = std::move(*t);
        tor->controller().getinfo({"version"}, [&](const torcon::Expected<torcon::KeyValues>& kv) {
          const std::string* version = kv ? kv->find("version") : nullptr;
          std::printf("tor %s bootstrapped: pid %d, control port %s, data directory %s\n",
                      version ? version->c_str() : "(version unknown)", int(tor->pid()),
                      tor->control_endpoint().to_string().c_str(), tor->data_directory().c_str());
          std::fflush(stdout);
          if (!keep_running) tor->stop([&] { (*reactor)->stop(); });
        });
        tor->on_exit([&](int) {
          std::fprintf(stderr, "launch_tor: tor exited\n%s", tor->log_tail().c_str());
          status = 1;
          (*reactor)->stop();
        });
      });

  if (keep_running) {
    // SIGINT/SIGTERM end the loop through a signalfd, so tor is stopped
    // cleanly (and its temporary DataDirectory removed) on the way out.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    const int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    (*reactor)->watch_readable(sfd, [&] {
      (*reactor)->unwatch(sfd);
      if (tor) {
        tor->stop([&] { (*reactor)->stop(); });
      } else {
        (*reactor)->stop();
      }
    });
  }
  (*reactor)->run();
  return status;
}
