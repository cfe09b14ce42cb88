// Test fixture: a real, standalone tor (Debian's `tor`) on 127.0.0.1 with its
// own temporary DataDirectory and DisableNetwork 1, so it never leaves the
// machine. Started per test binary or per test; killed at teardown. Blocking;
// the process itself is a ChildProcess (launch/child_process.hpp), like
// launch_tor()'s.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace torcon {
class ChildProcess;
}

namespace torcon::testing {

struct TorOptions {
  bool cookie_auth = true;
  std::string hashed_password;     // HashedControlPassword value ("16:..."), empty for none
  bool unix_socket = true;         // also a ControlSocket in the DataDirectory
  std::vector<std::string> extra;  // extra torrc lines
  std::chrono::milliseconds timeout{20000};
  int control_port = 0;  // 0: a free one tor picks; else this one (a restart on the same port)
};

class TorProcess {
 public:
  // Starts tor and waits until its control port (and cookie, and socket) are
  // there; on failure, error() says why (with the tail of tor's log).
  explicit TorProcess(TorOptions opts = {});
  ~TorProcess();  // SIGKILL + reap + remove the DataDirectory
  TorProcess(const TorProcess&) = delete;
  TorProcess& operator=(const TorProcess&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  int control_port() const { return port_; }
  const std::string& control_socket() const { return socket_path_; }
  const std::string& cookie_path() const { return cookie_path_; }
  const std::string& data_dir() const { return dir_; }
  pid_t pid() const;  // -1 if tor did not start or has exited early
  // The end of tor's notice log (of its stdout before the log is opened).
  std::string log_tail(std::size_t bytes = 2000) const;
  // Kills tor with `sig` now (for "tor died" tests); the destructor still reaps.
  void kill_now(int sig);

  // `tor --hash-password`, for HashedControlPassword; "" if it fails.
  static std::string hash_password(const std::string& password);

 private:
  std::string dir_, socket_path_, cookie_path_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> tor_;
  std::string error_;
};

}  // namespace torcon::testing
