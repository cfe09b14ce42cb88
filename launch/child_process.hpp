// ChildProcess: the one way torcon starts a program — launch_tor(), the
// private network (testnet/) and the tests' tor fixture all build on it.
//
//   SpawnOptions o;
//   o.argv = {"/usr/bin/tor", "-f", torrc};
//   o.output_path = dir + "/stdout.log";             // stdout and stderr
//   Expected<std::unique_ptr<ChildProcess>> c = ChildProcess::spawn(std::move(o));
//   if (!c) return c.error();                         // says what and why
//   (*c)->watch(reactor, [](int ws) { ... });         // on a loop, or
//   int ws = (*c)->wait();                            // blocking
//
// The child gets exactly three descriptors: stdin (the given text, then end
// of file; or /dev/null), stdout and stderr (both the output file, or
// /dev/null). Nothing else of ours is inherited, O_CLOEXEC or not (with
// glibc 2.34+; before, only O_CLOEXEC ones are kept back). Signals the
// caller blocks or ignores are reset to default in the child, so that
// SIGTERM works on it.
//
// A ChildProcess owns its child until it is reaped: through watch() (a
// pidfd, or where pidfd_open is unavailable a signalfd for SIGCHLD plus a
// 100 ms waitpid poll), poll_exit(), wait(), wait_for() or, at the latest,
// the destructor, which never leaves a zombie (nor a running child).
// Internal to torcon: not an installed header.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/expected.hpp"
#include "torcon/reactor.hpp"

namespace torcon {

// Holds back children spawned with it (wait_for_exec = false) until open():
// each waits, before its exec, for end of file on the gate's pipe. Starting
// many programs at once, the spawning thread would otherwise compete for the
// CPU with every child already started, and take longer per spawn the more
// it has spawned. Move-only; destroying it opens it.
class SpawnGate {
 public:
  static Expected<SpawnGate> create();
  SpawnGate(SpawnGate&& o) noexcept;
  SpawnGate& operator=(SpawnGate&&) = delete;
  ~SpawnGate();
  // Lets every child waiting at the gate go on to its exec; idempotent.
  void open();
  int read_fd() const { return read_fd_; }
  int write_fd() const { return write_fd_; }

 private:
  SpawnGate(int r, int w) : read_fd_(r), write_fd_(w) {}
  int read_fd_ = -1, write_fd_ = -1;
};

struct SpawnOptions {
  // argv[0] is the program's path, used as is (see find_executable()).
  std::vector<std::string> argv;
  // The child's stdin: this text, then end of file (any size; it never
  // blocks the parent). Empty: /dev/null.
  std::string stdin_text;
  // Where the child's stdout and stderr go (created 0600). Empty: /dev/null.
  std::string output_path;
  bool append_output = false;  // keep what output_path holds, else truncate it
  // False forces the SIGCHLD fallback as if pidfd_open were missing (tests).
  bool use_pidfd = true;
  // True: spawn() returns once the program runs (posix_spawn, which suspends
  // the caller until the child has exec'd), so an exec failure is spawn()'s
  // error. False: spawn() returns as soon as the child exists (fork, then
  // exec in the child); an exec failure is an exit with status 127, and
  // exec_failure() says why. On a loaded machine the child may wait tens of
  // milliseconds for a CPU before it can exec: launching many tors at once
  // from one thread must not wait for each (launch_tor passes false).
  bool wait_for_exec = true;
  // With wait_for_exec = false: the child waits at this gate before its exec
  // (the gate must outlive the spawn() call; the child holds no copy of its
  // write end). A signal still ends a waiting child.
  const SpawnGate* gate = nullptr;
};

class ChildProcess {
 public:
  using milliseconds = std::chrono::milliseconds;

  // Errc::bad_argument for an empty argv; Errc::io if the output file
  // cannot be opened or the program cannot be executed (the message names
  // the path and the reason).
  static Expected<std::unique_ptr<ChildProcess>> spawn(SpawnOptions options);

  // A child still running gets SIGTERM, up to 200 ms (blocking) to exit,
  // then SIGKILL; it is reaped either way. A watch is removed: the Reactor
  // given to watch() must still exist.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Not yet reaped (it may have exited and be a zombie until then).
  bool running() const { return running_; }
  // Once reaped: waitpid's status (see describe_wait_status()); -1 if
  // something else reaped it first.
  int wait_status() const { return wait_status_; }
  bool has_pidfd() const { return has_pidfd_; }
  const std::string& output_path() const { return output_path_; }
  // The last `bytes` of what the child wrote to output_path (from this run
  // only, with append_output). Empty for /dev/null.
  std::string output_tail(std::size_t bytes) const;

  // Once reaped, for a child spawned with wait_for_exec = false whose exec
  // failed: "cannot start <argv[0]>: <reason>"; nullopt otherwise.
  const std::optional<std::string>& exec_failure() const { return exec_failure_; }

  // Sends sig if the child is not reaped yet (so its pid cannot have been
  // reused); a no-op afterwards.
  void send_signal(int sig);

  // Reaps the child if it has exited: its wait status, also on later calls;
  // nullopt while it runs. Never blocks. A watch's on_exit is not called for
  // a child reaped here (the caller knows).
  std::optional<int> poll_exit();
  // Blocking: the wait status once the child has exited (reaped), or nullopt
  // after `timeout`. Same rule for on_exit as poll_exit().
  std::optional<int> wait_for(milliseconds timeout);
  int wait();
  // Blocking: SIGTERM, then SIGKILL if it has not exited within `grace`;
  // returns the wait status once reaped.
  int terminate_and_wait(milliseconds grace);

  // On a loop: on_exit runs from the reactor (once) with the wait status when
  // the child exits and has been reaped; it may destroy this object. One
  // watch per ChildProcess; the Reactor must outlive the watch (this object).
  Status watch(Reactor& reactor, std::function<void(int wait_status)> on_exit);
  // On a loop (needs watch()): SIGTERM now, SIGKILL after `grace` unless the
  // child was reaped by then. Returns at once; on_exit reports the end.
  void terminate(milliseconds grace);

 private:
  ChildProcess() = default;
  static Expected<std::unique_ptr<ChildProcess>> spawn_without_waiting(
      std::unique_ptr<ChildProcess> child, std::vector<char*>& argv, int in_fd, int out_fd,
      const SpawnGate* gate);
  void reaped(int wait_status);
  void check_watched();
  void release_watch();

  pid_t pid_ = -1;
  bool running_ = false;
  int wait_status_ = 0;
  int pidfd_ = -1;  // -1 without pidfd_open
  bool has_pidfd_ = false;
  std::string output_path_;
  std::uint64_t output_start_ = 0;  // size of output_path before this child wrote to it
  std::string program_;             // argv[0], for exec_failure()
  int exec_error_fd_ = -1;          // wait_for_exec = false: the child's errno if its exec failed
  std::optional<std::string> exec_failure_;

  bool watched_ = false;        // watch() was called (once only)
  Reactor* reactor_ = nullptr;  // while watching
  std::function<void(int)> on_exit_;
  int signal_fd_ = -1;  // SIGCHLD fallback of watch()
  bool fd_watched_ = false;
  TimerId poll_timer_, check_timer_, kill_timer_;
};

// "exit status 1", "killed by signal 9 (SIGKILL)", or for -1 "exit status
// unknown (reaped elsewhere)".
std::string describe_wait_status(int wait_status);

// The program `name` would run as: itself when it contains '/', else the
// first regular executable file of that name in $PATH (as execvp searches;
// an unset $PATH means the system default). The error says what was searched.
Expected<std::string> find_executable(std::string_view name);

// At most the last `bytes` of the file at `path`, not before offset `from`;
// empty if it cannot be read. For error messages that quote a log.
std::string file_tail(const std::string& path, std::uint64_t from, std::size_t bytes);

}  // namespace torcon
