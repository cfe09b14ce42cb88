// /proc inspection and file helpers for the testnet.

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "internal.hpp"

namespace torcon::testnet::detail {

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
