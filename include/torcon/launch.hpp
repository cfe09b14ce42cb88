// Launching and owning a tor process.
//
//   torcon::LaunchOptions opts;                       // tor from $PATH, temp DataDirectory
//   opts.on_progress = [](const torcon::Bootstrap& b) { ... b.percent, b.tag, b.summary };
//   torcon::launch_tor(*reactor, opts, [&](torcon::Expected<std::unique_ptr<torcon::TorProcess>> t) {
//     if (!t) return fail(t.error());                  // message carries tor's log tail
//     tor = std::move(*t);                             // bootstrapped (100%) and authenticated
//     tor->controller().getinfo({"version"}, ...);
//   });
//
// tor is started with a control port (ControlPort auto + ControlPortWriteToFile,
// or a Unix ControlSocket in the DataDirectory) and cookie authentication;
// torcon connects, authenticates and sends TAKEOWNERSHIP (and tor gets
// __OwningControllerProcess), so tor exits when we do. The child's exit is
// watched through the reactor (pidfd), so it is always reaped.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "torcon/controller.hpp"
#include "torcon/expected.hpp"
#include "torcon/reactor.hpp"

namespace torcon {

struct Bootstrap {
  int percent = 0;
  std::string tag;      // e.g. "conn_done", "done"
  std::string summary;  // e.g. "Done"
};

struct LaunchOptions {
  std::string tor_binary;      // empty: "tor" from $PATH
  std::string data_directory;  // empty: a fresh temporary directory
  bool keep_data_directory = false;  // a temporary one is removed at stop() unless set
  bool unix_control_socket = false;  // ControlSocket in the DataDirectory instead of TCP
  // Extra torrc lines, e.g. "DisableNetwork 1", "%include /net/client.torrc.inc".
  std::vector<std::string> torrc;
  // Wait for bootstrap 100% before completing (with DisableNetwork 1 tor never
  // bootstraps: set false to complete once authenticated).
  bool wait_for_bootstrap = true;
  std::chrono::milliseconds timeout{120'000};
  std::function<void(const Bootstrap&)> on_progress;
  ControllerOptions controller;  // auth is cookie-based regardless
};

class TorProcess {
 public:
  virtual ~TorProcess() = default;  // stop()s if still running
  virtual pid_t pid() const = 0;
  virtual const std::string& data_directory() const = 0;
  virtual Endpoint control_endpoint() const = 0;
  virtual Controller& controller() = 0;
  virtual const Bootstrap& bootstrap() const = 0;
  // The last `bytes` of tor's notice log.
  virtual std::string log_tail(std::size_t bytes = 4000) const = 0;
  // SIGTERM, then SIGKILL after `grace`; `done` once tor is reaped and the
  // temporary DataDirectory (if any) removed. Idempotent.
  virtual void stop(std::function<void()> done = {},
                    std::chrono::milliseconds grace = std::chrono::milliseconds(5000)) = 0;
  // Runs when tor exits on its own (crash, SIGNAL SHUTDOWN), with its wait status.
  virtual void on_exit(std::function<void(int wait_status)> cb) = 0;
};

// Starts tor; `done` runs once, from the loop: the TorProcess, or an error
// (missing binary; tor exited early, with its exit status and log tail;
// timeout, with the log tail).
void launch_tor(Reactor& reactor, LaunchOptions options,
                std::function<void(Expected<std::unique_ptr<TorProcess>>)> done);

}  // namespace torcon
