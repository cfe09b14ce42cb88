// Launching and owning a tor process.
//
//   torcon::LaunchOptions opts;                       // tor from $PATH, temp DataDirectory
//   opts.on_progress = [](const torcon::Bootstrap& b) { ... b.percent, b.tag, b.summary };
//   using Result = torcon::Expected<std::unique_ptr<torcon::TorProcess>>;
//   torcon::launch_tor(*reactor, opts, [&](Result t) {
//     if (!t) return fail(t.error());                  // message carries tor's log tail
//     tor = std::move(*t);                             // bootstrapped (100%) and authenticated
//     tor->controller().getinfo({"version"}, ...);
//   });
//
// tor is started with a control port (ControlPort auto + ControlPortWriteToFile,
// or a Unix ControlSocket in the DataDirectory) and cookie authentication;
// torcon connects, authenticates (SAFECOOKIE) and sends TAKEOWNERSHIP (and
// tor gets __OwningControllerProcess), so tor exits when we do. The child's
// exit is watched through the reactor (pidfd; if pidfd_open fails, a
// signalfd for SIGCHLD, which then stays blocked on the loop thread, plus a
// 100 ms waitpid poll), so it is always reaped.
//
// Many at once: call launch_tor N times from one callback (or before run());
// the tors of that pass are started together once it ends, so the loop
// thread never competes for the CPU with tors it already started.
//
// The torrc is written to <DataDirectory>/torrc and passed as
// `tor -f <dir>/torrc --defaults-torrc /dev/null` (no system defaults apply).
// Other files there: control.port, control_auth_cookie, control.sock (Unix
// variant), notice.log (`Log notice file`), stdout.log (tor's stdout and
// stderr: config errors happen before notice.log is opened).
//
// Lifetime: the Reactor must outlive both the launch (until `done` ran) and
// the TorProcess. Destroy a TorProcess outside its Controller's callbacks
// (same rule as for a Controller).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "torcon/controller.hpp"
#include "torcon/expected.hpp"
#include "torcon/export.hpp"
#include "torcon/reactor.hpp"

namespace torcon {

/// tor's bootstrap progress (BOOTSTRAP status events).
struct TORCON_API Bootstrap {
  int percent = 0;      ///< 0 to 100
  std::string tag;      ///< e.g. "conn_done", "done"
  std::string summary;  ///< e.g. "Done"
};

/// What launch_tor() starts, and how.
struct TORCON_API LaunchOptions {
  std::string tor_binary;  ///< empty: "tor"; a name without '/' is looked up in $PATH
  /// empty: a fresh temporary directory ($TMPDIR or /tmp, "torcon-XXXXXX").
  /// A given one is created if needed, set to mode 0700 and never removed;
  /// its path must not contain whitespace, quotes, '#' or '\' (Errc::bad_argument).
  std::string data_directory;
  bool keep_data_directory = false;  ///< a temporary one is removed at stop() unless set
  bool unix_control_socket = false;  ///< ControlSocket in the DataDirectory instead of TCP
  /// Extra torrc lines, e.g. "DisableNetwork 1", "%include /net/client.torrc.inc".
  /// Added unless these lines set them: SocksPort auto, GeoIPFile /dev/null,
  /// GeoIPv6File /dev/null (GeoIP parsing is most of tor's startup time).
  /// Refused (Errc::bad_argument): lines setting what launch_tor manages —
  /// DataDirectory, ControlPortWriteToFile, CookieAuthentication,
  /// CookieAuthFile, __OwningControllerProcess, RunAsDaemon. A line with CR,
  /// LF or NUL: Errc::injection.
  std::vector<std::string> torrc;
  /// Wait for bootstrap 100% before completing (with DisableNetwork 1 tor never
  /// bootstraps: set false to complete once authenticated).
  bool wait_for_bootstrap = true;
  /// Start, connect and (if waited for) bootstrap must finish within this (Errc::timeout).
  std::chrono::milliseconds timeout{120'000};
  /// Called on the loop for each bootstrap step while launch_tor() waits.
  std::function<void(const Bootstrap&)> on_progress;
  ControllerOptions controller;  ///< auth and cookie_file are overridden (SAFECOOKIE, ours)
};

/// A tor that launch_tor() started and owns (see the file's comment).
class TORCON_API TorProcess {
 public:
  /// If tor still runs: SIGTERM, up to 200 ms (blocking) for it to exit, then
  /// SIGKILL; always reaped, temporary DataDirectory removed. Prefer stop().
  virtual ~TorProcess() = default;
  /// tor's process id.
  virtual pid_t pid() const = 0;
  /// Its DataDirectory (given or temporary).
  virtual const std::string& data_directory() const = 0;
  /// Where its control port (or ControlSocket) listens.
  virtual Endpoint control_endpoint() const = 0;
  /// The authenticated Controller that owns tor (TAKEOWNERSHIP).
  virtual Controller& controller() = 0;
  /// The last bootstrap progress seen.
  virtual const Bootstrap& bootstrap() const = 0;
  /// The last `bytes` of tor's notice log written by this run (stdout.log if
  /// notice.log is still empty). Empty once a temporary directory is removed.
  virtual std::string log_tail(std::size_t bytes = 4000) const = 0;
  /// Closes the controller (pending callbacks get Errc::disconnected), then
  /// SIGTERM, then SIGKILL after `grace`; `done` runs from the loop once tor is
  /// reaped and the temporary DataDirectory (if any) removed, and may destroy
  /// the TorProcess. Idempotent: later calls' `done` run too.
  virtual void stop(std::function<void()> done = {},
                    std::chrono::milliseconds grace = std::chrono::milliseconds(5000)) = 0;
  /// Runs when tor exits on its own (crash, SIGNAL SHUTDOWN, owning control
  /// connection closed), with its wait status; not for exits caused by stop().
  /// The DataDirectory stays until stop() or destruction (log_tail() works).
  virtual void on_exit(std::function<void(int wait_status)> cb) = 0;
};

/// Starts tor; `done` runs once, from the loop (never inside launch_tor):
/// the TorProcess, once authenticated, owned, subscribed to STATUS_CLIENT and
/// the current bootstrap phase read (and at 100% with wait_for_bootstrap);
/// or an error, after tor was stopped and reaped and a temporary
/// DataDirectory removed:
///   Errc::io            binary missing (the message names what was searched),
///                       cannot spawn, or tor exited early ("tor exited during
///                       startup: exit status N") — with tor's log tail;
///   Errc::timeout       options.timeout passed — with the bootstrap state and
///                       the log tail;
///   Errc::bad_argument / injection   refused options (see LaunchOptions);
///   controller errors   (Errc::auth, disconnected, tor_error) with the log tail.
/// on_progress runs for each new bootstrap state, before and after `done`.
TORCON_API void launch_tor(Reactor& reactor, LaunchOptions options,
                           std::function<void(Expected<std::unique_ptr<TorProcess>>)> done);

}  // namespace torcon
