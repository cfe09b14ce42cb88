// ChildProcess: posix_spawn (or fork + exec, not waiting for the exec),
// exit watching (pidfd or SIGCHLD), reaping and
// SIGTERM-then-SIGKILL. See child_process.hpp.

#include "child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

extern char** environ;

namespace torcon {
namespace {

using std::chrono::milliseconds;

// Only without a pidfd: SIGCHLD may be taken by another thread or merged
// with another child's, so the watch also polls waitpid.
constexpr milliseconds kFallbackPoll{100};
constexpr milliseconds kDestructorGrace{200};

std::string errno_text(int e) { return std::strerror(e); }

// Closes on scope exit unless released.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void release() { fd_ = -1; }
  void reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// A descriptor that landed on 0-2 (the caller runs with stdio closed) would be
// clobbered by the child's own stdio set-up: move it up.
bool above_stdio(Fd& fd) {
  if (fd.get() > 2) return true;
  const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return false;
  fd.reset(moved);
  return true;
}

bool write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

// ---- spawning --------------------------------------------------------------------

Expected<std::unique_ptr<ChildProcess>> ChildProcess::spawn(SpawnOptions o) {
  if (o.argv.empty() || o.argv[0].empty())
    return Error(Errc::bad_argument, "nothing to run: empty argv");
  for (std::size_t i = 0; i < o.argv.size(); ++i)
    if (o.argv[i].find('\0') != std::string::npos)
      return Error(Errc::bad_argument, "argument " + std::to_string(i) + " contains NUL");

  std::unique_ptr<ChildProcess> child(new ChildProcess());
  child->output_path_ = o.output_path;

  Fd out;
  if (!o.output_path.empty()) {
    const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (o.append_output ? O_APPEND : O_TRUNC);
    out.reset(::open(o.output_path.c_str(), flags, 0600));
    if (out.get() < 0 || !above_stdio(out))
      return Error(Errc::io, "cannot open " + o.output_path + ": " + errno_text(errno));
    struct stat st {};
    if (o.append_output && ::fstat(out.get(), &st) == 0)
      child->output_start_ = static_cast<std::uint64_t>(st.st_size);
  }
  // A memory file rather than a pipe: the text can be of any size and is
  // written before the child exists, so the parent never blocks on it.
  Fd in;
  if (!o.stdin_text.empty()) {
    in.reset(::memfd_create("torcon-child-stdin", MFD_CLOEXEC));
    if (in.get() < 0 || !above_stdio(in) || !write_all(in.get(), o.stdin_text) ||
        ::lseek(in.get(), 0, SEEK_SET) != 0)
      return Error(Errc::io, "cannot prepare the child's stdin: " + errno_text(errno));
  }

  std::vector<char*> argv;
  for (std::string& a : o.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  child->program_ = o.argv[0];
  if (!o.wait_for_exec) {
    Expected<std::unique_ptr<ChildProcess>> forked =
        spawn_without_waiting(std::move(child), argv, in.get(), out.get(), o.gate);
    if (forked && o.use_pidfd)
      (*forked)->pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, (*forked)->pid_, 0));
    if (forked) (*forked)->has_pidfd_ = (*forked)->pidfd_ >= 0;
    return forked;
  }

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  if (in.get() >= 0)
    posix_spawn_file_actions_adddup2(&fa, in.get(), 0);
  else
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (out.get() >= 0)
    posix_spawn_file_actions_adddup2(&fa, out.get(), 1);
  else
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  // Descriptors someone opened without O_CLOEXEC (another thread, a
  // library) must not reach the child either.
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
  // A caller that blocks or ignores signals (SIGCHLD for a signalfd, SIGPIPE,
  // SIGHUP under nohup) must not pass that on: the child would ignore our
  // SIGTERM, or die where it expects an EPIPE.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Error(Errc::io, "cannot start " + o.argv[0] + ": " + errno_text(rc));
  child->pid_ = pid;
  child->running_ = true;
  // The child is unreaped, so the pid is still its own.
  if (o.use_pidfd) child->pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  child->has_pidfd_ = child->pidfd_ >= 0;
  return child;
}

// fork, then in the child only async-signal-safe calls (the parent may have
// other threads, whose locks the child inherits held) up to execve. The
// descriptors and signals end up as posix_spawn leaves them above.
Expected<std::unique_ptr<ChildProcess>> ChildProcess::spawn_without_waiting(
    std::unique_ptr<ChildProcess> child, std::vector<char*>& argv, int in_fd, int out_fd,
    const SpawnGate* gate) {
  const int gate_read = gate ? gate->read_fd() : -1;
  const int gate_write = gate ? gate->write_fd() : -1;
  Fd null_in, null_out;
  if (in_fd < 0) {
    null_in.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (null_in.get() < 0 || !above_stdio(null_in))
      return Error(Errc::io, "cannot open /dev/null: " + errno_text(errno));
    in_fd = null_in.get();
  }
  if (out_fd < 0) {
    null_out.reset(::open("/dev/null", O_WRONLY | O_CLOEXEC));
    if (null_out.get() < 0 || !above_stdio(null_out))
      return Error(Errc::io, "cannot open /dev/null: " + errno_text(errno));
    out_fd = null_out.get();
  }
  // The child writes its errno here if execve fails; a successful exec
  // closes the write end (O_CLOEXEC) without a word.
  int p[2];
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
    return Error(Errc::io, "cannot create a pipe: " + errno_text(errno));
  Fd err_read(p[0]), err_write(p[1]);
  if (!above_stdio(err_read) || !above_stdio(err_write))
    return Error(Errc::io, "cannot move a pipe above stdio: " + errno_text(errno));
  // Fallback where close_range cannot mark descriptors close-on-exec.
  rlimit lim{};
  const int max_fd = ::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY
                         ? static_cast<int>(std::min<rlim_t>(lim.rlim_cur, 1 << 20))
                         : 65536;

  // No handler of ours may run in the child before it has reset them all.
  sigset_t all, old_mask;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old_mask);
  const pid_t pid = ::_Fork();
  if (pid == 0) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);  // EINVAL: skipped
    const int wfd = err_write.get();
    if (::dup2(in_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(1, 2) < 0) {
      const int e = errno;
      (void)!::write(wfd, &e, sizeof e);
      ::_exit(127);
    }
    // Everything above stdio closes at exec, O_CLOEXEC or not (the write
    // end of the error pipe already does).
    if (::syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */) != 0)
      for (int fd = 3; fd < max_fd; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (gate_read >= 0) {
      // Our copy of the write end would keep the gate shut for good.
      if (gate_write >= 0) ::close(gate_write);
      char c;
      while (::read(gate_read, &c, 1) < 0 && errno == EINTR) {
      }
    }
    ::execve(argv[0], argv.data(), environ);
    const int e = errno;
    (void)!::write(wfd, &e, sizeof e);
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  if (pid < 0)
    return Error(Errc::io, "cannot start " + child->program_ + ": " + errno_text(fork_errno));
  child->pid_ = pid;
  child->running_ = true;
  child->exec_error_fd_ = err_read.get();
  err_read.release();
  return child;
}

Expected<SpawnGate> SpawnGate::create() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0)
    return Error(Errc::io, "cannot create a pipe: " + errno_text(errno));
  return SpawnGate(p[0], p[1]);
}

SpawnGate::SpawnGate(SpawnGate&& o) noexcept
    : read_fd_(std::exchange(o.read_fd_, -1)), write_fd_(std::exchange(o.write_fd_, -1)) {}

SpawnGate::~SpawnGate() {
  open();
  if (read_fd_ >= 0) ::close(read_fd_);
}

void SpawnGate::open() {
  if (write_fd_ >= 0) ::close(write_fd_);  // the waiting children read end of file
  write_fd_ = -1;
}

ChildProcess::~ChildProcess() {
  release_watch();
  if (running_) terminate_and_wait(kDestructorGrace);
  if (pidfd_ >= 0) ::close(pidfd_);
  if (exec_error_fd_ >= 0) ::close(exec_error_fd_);
}

// ---- blocking --------------------------------------------------------------------

void ChildProcess::send_signal(int sig) {
  if (running_) ::kill(pid_, sig);
}

void ChildProcess::reaped(int wait_status) {
  running_ = false;
  wait_status_ = wait_status;
  if (exec_error_fd_ >= 0) {
    // The child is gone, so the pipe holds all it will ever hold.
    int e = 0;
    if (::read(exec_error_fd_, &e, sizeof e) == static_cast<ssize_t>(sizeof e))
      exec_failure_ = "cannot start " + program_ + ": " + errno_text(e);
    ::close(exec_error_fd_);
    exec_error_fd_ = -1;
  }
  release_watch();
  if (pidfd_ >= 0) ::close(pidfd_);
  pidfd_ = -1;
}

std::optional<int> ChildProcess::poll_exit() {
  if (!running_) return wait_status_;
  int ws = 0;
  const pid_t r = ::waitpid(pid_, &ws, WNOHANG);
  if (r == 0 || (r < 0 && errno == EINTR)) return std::nullopt;
  reaped(r == pid_ ? ws : -1);  // ECHILD: something else reaped it
  return wait_status_;
}

std::optional<int> ChildProcess::wait_for(milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  auto step = milliseconds(1);
  while (true) {
    if (std::optional<int> ws = poll_exit()) return ws;
    const auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) return std::nullopt;
    if (pidfd_ >= 0) {
      // Readable once the child has exited: no polling.
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      const timespec ts{static_cast<time_t>(ns / 1'000'000'000),
                        static_cast<long>(ns % 1'000'000'000)};
      pollfd p{pidfd_, POLLIN, 0};
      ::ppoll(&p, 1, &ts, nullptr);  // EINTR: just look again
    } else {
      std::this_thread::sleep_for(std::min<Clock::duration>(step, left));
      step = std::min(step * 2, milliseconds(16));
    }
  }
}

int ChildProcess::wait() {
  if (!running_) return wait_status_;
  int ws = 0;
  pid_t r;
  while ((r = ::waitpid(pid_, &ws, 0)) < 0 && errno == EINTR) {
  }
  reaped(r == pid_ ? ws : -1);
  return wait_status_;
}

int ChildProcess::terminate_and_wait(milliseconds grace) {
  send_signal(SIGTERM);
  if (std::optional<int> ws = wait_for(grace)) return *ws;
  send_signal(SIGKILL);  // reaped within milliseconds
  return wait();
}

// ---- on a loop -------------------------------------------------------------------

Status ChildProcess::watch(Reactor& reactor, std::function<void(int)> on_exit) {
  if (watched_) return Error(Errc::bad_argument, "this child is already watched");
  watched_ = true;
  if (!running_) {
    // Reaped already: report it from the loop all the same.
    reactor.start_timer(Reactor::Duration::zero(),
                        [cb = std::move(on_exit), ws = wait_status_] { cb(ws); });
    return {};
  }
  reactor_ = &reactor;
  on_exit_ = std::move(on_exit);
  if (pidfd_ >= 0) {
    Status s = reactor.watch_readable(pidfd_, [this] { check_watched(); });
    if (!s) {
      reactor_ = nullptr;
      return s;
    }
    fd_watched_ = true;
    return {};
  }
  // SIGCHLD must be blocked to be read from a signalfd. It stays blocked on
  // this thread: other children watched here may rely on it.
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::pthread_sigmask(SIG_BLOCK, &chld, nullptr);
  signal_fd_ = ::signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ >= 0) {
    Status s = reactor.watch_readable(signal_fd_, [this] {
      signalfd_siginfo si[8];
      while (::read(signal_fd_, si, sizeof si) > 0) {
      }
      check_watched();
    });
    fd_watched_ = bool(s);
  }
  poll_timer_ = reactor.start_repeating_timer(kFallbackPoll, [this] { check_watched(); });
  // It may have exited before SIGCHLD was blocked (that signal is lost).
  check_timer_ = reactor.start_timer(Reactor::Duration::zero(), [this] { check_watched(); });
  return {};
}

void ChildProcess::check_watched() {
  if (!running_ || poll_exit() == std::nullopt) return;
  // poll_exit() released the watch. Last: the callback may destroy us.
  std::function<void(int)> cb = std::move(on_exit_);
  on_exit_ = nullptr;
  if (cb) cb(wait_status_);
}

void ChildProcess::terminate(milliseconds grace) {
  if (!running_) return;
  send_signal(SIGTERM);
  if (!reactor_) return;
  reactor_->cancel_timer(kill_timer_);
  kill_timer_ = reactor_->start_timer(grace, [this] { send_signal(SIGKILL); });
}

void ChildProcess::release_watch() {
  if (!reactor_) return;
  const int watched = pidfd_ >= 0 ? pidfd_ : signal_fd_;
  if (fd_watched_) reactor_->unwatch(watched);
  fd_watched_ = false;
  if (signal_fd_ >= 0) ::close(signal_fd_);
  signal_fd_ = -1;
  reactor_->cancel_timer(poll_timer_);
  reactor_->cancel_timer(check_timer_);
  reactor_->cancel_timer(kill_timer_);
  reactor_ = nullptr;
}

// ---- helpers ---------------------------------------------------------------------

std::string ChildProcess::output_tail(std::size_t bytes) const {
  return output_path_.empty() ? std::string() : file_tail(output_path_, output_start_, bytes);
}

std::string describe_wait_status(int ws) {
  if (ws < 0) return "exit status unknown (reaped elsewhere)";
  if (WIFEXITED(ws)) return "exit status " + std::to_string(WEXITSTATUS(ws));
  if (WIFSIGNALED(ws)) {
    const char* name = sigabbrev_np(WTERMSIG(ws));
    return "killed by signal " + std::to_string(WTERMSIG(ws)) +
           (name ? std::string(" (SIG") + name + ")" : std::string());
  }
  return "wait status " + std::to_string(ws);
}

Expected<std::string> find_executable(std::string_view name_in) {
  const std::string name(name_in);
  if (name.empty()) return Error(Errc::bad_argument, "no program name given");
  if (name.find('/') != std::string::npos) {
    if (executable_file(name)) return name;
    return Error(Errc::io, name + " is not an executable file");
  }
  const char* env = std::getenv("PATH");
  std::string path;
  if (env) {
    path = env;
  } else {
    // What execvp searches without $PATH.
    path.resize(::confstr(_CS_PATH, nullptr, 0));
    if (!path.empty()) ::confstr(_CS_PATH, path.data(), path.size());
    while (!path.empty() && path.back() == '\0') path.pop_back();
  }
  std::string_view rest = path;
  while (true) {
    const std::size_t colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    if (dir.empty()) dir = ".";  // an empty entry means the current directory
    const std::string candidate = dir + "/" + name;
    if (executable_file(candidate)) return candidate;
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return Error(Errc::io, "no executable \"" + name + "\" in $PATH (" +
                             (env ? path : "$PATH is unset; searched " + path) + ")");
}

std::string file_tail(const std::string& path, std::uint64_t from, std::size_t bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) return {};
  const auto end = static_cast<std::uint64_t>(st.st_size);
  if (end <= from) return {};
  const std::uint64_t start = std::max<std::uint64_t>(from, end > bytes ? end - bytes : 0);
  std::string out(end - start, '\0');
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t n =
        ::pread(fd.get(), out.data() + got, out.size() - got, static_cast<off_t>(start + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

}  // namespace torcon
