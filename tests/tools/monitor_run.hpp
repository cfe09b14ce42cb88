// Runs torcon-monitor (TORCON_MONITOR, its build path) as a child process and
// returns its exit code and output (stdout and stderr together). At the
// timeout it gets SIGTERM, so a test sees how it ends on that too.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "child_process.hpp"

namespace torcon::test {

struct MonitorRun {
  int exit_code = -1;      // -1: killed by a signal, or did not start
  bool timed_out = false;  // it was still running at the timeout and got SIGTERM
  std::string output;
};

inline MonitorRun run_monitor(const std::vector<std::string>& args,
                              std::chrono::milliseconds timeout) {
  MonitorRun r;
  std::string dir = "/tmp/torcon-monitor-test-XXXXXX";
  if (!::mkdtemp(dir.data())) return r;
  SpawnOptions o;
  o.argv.push_back(TORCON_MONITOR);
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.output_path = dir + "/output";
  Expected<std::unique_ptr<ChildProcess>> child = ChildProcess::spawn(std::move(o));
  if (!child) {
    r.output = child.error().message;
    return r;
  }
  std::optional<int> ws = (*child)->wait_for(timeout);
  r.timed_out = !ws;
  if (r.timed_out) ws = (*child)->terminate_and_wait(std::chrono::seconds(20));  // lets it clean up
  r.exit_code = WIFEXITED(*ws) ? WEXITSTATUS(*ws) : -1;
  std::ifstream in(dir + "/output");
  r.output.assign(std::istreambuf_iterator<char>(in), {});
  ::unlink((dir + "/output").c_str());
  ::rmdir(dir.c_str());
  return r;
}

}  // namespace torcon::test
