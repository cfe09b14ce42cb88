// Child processes and /proc inspection for the testnet.

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "internal.hpp"

namespace torcon::testnet::detail {

std::string find_executable(const std::string& name) {
  if (name.empty()) return {};
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::string_view rest = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    std::size_t colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    if (colon == std::string_view::npos) return {};
    rest.remove_prefix(colon + 1);
  }
}

Expected<pid_t> spawn(const std::vector<std::string>& argv, std::string_view input,
                      const std::string& out_path) {
  // Everything the child needs is prepared before fork(): between fork and
  // exec only async-signal-safe calls are allowed (the caller may have threads).
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (out < 0) return Error(Errc::io, "open " + out_path + ": " + std::strerror(errno));
  int in_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(out);
    return Error(Errc::io, std::string("pipe: ") + std::strerror(e));
  }
  // The input is tiny (a passphrase line): it fits the pipe buffer, so it is
  // written up front and the child sees EOF after it.
  if (!input.empty() && ::write(in_pipe[1], input.data(), input.size()) != ssize_t(input.size())) {
    int e = errno;
    ::close(in_pipe[0]);
    ::close(in_pipe[1]);
    ::close(out);
    return Error(Errc::io, std::string("write to pipe: ") + std::strerror(e));
  }
  ::close(in_pipe[1]);

  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::close_range(3, ~0U, 0);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int e = errno;
  ::close(in_pipe[0]);
  ::close(out);
  if (pid < 0) return Error(Errc::io, std::string("fork: ") + std::strerror(e));
  return pid;
}

int wait_child(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return -1;
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long v = std::strtol(e->d_name, &end, 10);
    if (end != e->d_name && *end == '\0' && v > 0) out.push_back(pid_t(v));
  }
  ::closedir(d);
  return out;
}

bool is_zombie_or_gone(pid_t pid) {
  // /proc/PID/stat: "pid (comm) S ..." where comm may contain ')' itself,
  // so the state is the field after the last ')'.
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  std::size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return true;
  char state = stat[close + 2];
  return state == 'Z' || state == 'X';
}

std::vector<std::string> process_argv(pid_t pid) {
  std::vector<std::string> out;
  std::string raw = read_file("/proc/" + std::to_string(pid) + "/cmdline");
  std::size_t pos = 0;
  while (pos < raw.size()) {
    std::size_t nul = raw.find('\0', pos);
    if (nul == std::string::npos) nul = raw.size();
    out.emplace_back(raw, pos, nul - pos);
    pos = nul + 1;
  }
  return out;
}

bool pid_runs_with(pid_t pid, std::string_view arg) {
  if (pid <= 0) return false;
  for (const std::string& a : process_argv(pid)) {
    if (a == arg) return !is_zombie_or_gone(pid);
  }
  return false;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status write_file(const std::string& path, std::string_view text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Error(Errc::io, "cannot write " + tmp + ": " + std::strerror(errno));
    out.write(text.data(), std::streamsize(text.size()));
    if (!out.flush()) return Error(Errc::io, "cannot write " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return Error(Errc::io, "rename " + tmp + ": " + std::strerror(errno));
  return {};
}

bool file_nonempty(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && st.st_size > 0;
}

std::string tail_lines(const std::string& path, int lines) {
  std::string text = read_file(path);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::size_t start = text.size();
  for (int i = 0; i < lines && start > 0; ++i) {
    std::size_t nl = text.rfind('\n', start - 1);
    start = nl == std::string::npos ? 0 : nl;
    if (nl == std::string::npos) break;
  }
  if (start < text.size() && text[start] == '\n') ++start;
  return text.substr(start);
}

}  // namespace torcon::testnet::detail
