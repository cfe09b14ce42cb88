// Internals of torcon::testnet: /proc checks, files, and a blocking wrapper
// around Controller.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/controller.hpp"
#include "torcon/expected.hpp"
#include "torcon/reactor.hpp"

namespace torcon::testnet::detail {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// ---- processes (process.cpp) ----------------------------------------------
// Children are started with ChildProcess (launch/child_process.hpp); what is
// here finds the tors that run as daemons, which are not our children.

// True if pid is alive (not a zombie) and one of its argv elements equals
// `arg` (the node's torrc path).
bool pid_runs_with(pid_t pid, std::string_view arg);

// Pids of live processes with an argv element for which match() holds.
template <class F>
std::vector<pid_t> find_processes(F match);
std::vector<pid_t> all_pids();
std::vector<std::string> process_argv(pid_t pid);  // empty for zombies/gone
bool is_zombie_or_gone(pid_t pid);

template <class F>
std::vector<pid_t> find_processes(F match) {
  std::vector<pid_t> out;
  for (pid_t p : all_pids()) {
    for (const std::string& a : process_argv(p)) {
      if (match(a)) {
        out.push_back(p);
        break;
      }
    }
  }
  return out;
}

// Whole-file read (empty on error) and write (atomically, via rename).
std::string read_file(const std::string& path);
Status write_file(const std::string& path, std::string_view text);
bool file_nonempty(const std::string& path);
// The last `lines` lines of a file, for error messages.
std::string tail_lines(const std::string& path, int lines);

// ---- blocking control connection (sync_controller.cpp) --------------------

// One authenticated control connection used synchronously: every call runs
// the reactor until its answer arrives or the timeout passes. After a
// timeout or a disconnect the next call reconnects.
class SyncController {
 public:
  SyncController(Reactor& reactor, Endpoint where, std::string cookie_file);
  ~SyncController();
  SyncController(const SyncController&) = delete;
  SyncController& operator=(const SyncController&) = delete;

  Status connect(milliseconds timeout);
  Expected<KeyValues> getinfo(std::vector<std::string_view> keys, milliseconds timeout);
  Expected<KeyValues> getconf(std::string_view key, milliseconds timeout);
  Status setconf(std::string_view key, std::string_view value, milliseconds timeout);
  Status signal(std::string_view name, milliseconds timeout);

 private:
  template <class T>
  Expected<T> await(const std::shared_ptr<std::optional<Expected<T>>>& slot,
                    Clock::time_point deadline, std::string_view what);
  void drop();

  Reactor& reactor_;
  Endpoint where_;
  std::string cookie_file_;
  std::unique_ptr<Controller> ctl_;
  std::shared_ptr<bool> broken_ = std::make_shared<bool>(false);
};

// Runs the reactor until pred() holds or the deadline passes; pred()'s last value.
template <class Pred>
bool run_until(Reactor& reactor, Clock::time_point deadline, Pred pred) {
  while (!pred()) {
    auto now = Clock::now();
    if (now >= deadline) return false;
    auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now);
    reactor.run_once(std::min<std::chrono::nanoseconds>(left, milliseconds(50)));
  }
  return true;
}

}  // namespace torcon::testnet::detail
