#include "support/tor_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace torcon::testing {
namespace fs = std::filesystem;

static std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string TorProcess::hash_password(const std::string& password) {
  std::string cmd = "tor --quiet --hash-password '" + password + "' 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return {};
  char buf[256];
  std::string out;
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  ::pclose(p);
  // The hash is the last "16:..." line.
  std::string hash;
  std::istringstream lines(out);
  for (std::string l; std::getline(lines, l);)
    if (l.rfind("16:", 0) == 0) hash = l;
  return hash;
}

TorProcess::TorProcess(TorOptions opts) {
  char tmpl[] = "/tmp/torcon-test-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    error_ = std::string("mkdtemp: ") + std::strerror(errno);
    return;
  }
  dir_ = tmpl;
  ::chmod(dir_.c_str(), 0700);  // tor refuses group/world-readable DataDirectories
  const std::string port_file = dir_ + "/control.port";
  cookie_path_ = dir_ + "/control_auth_cookie";
  std::ostringstream rc;
  rc << "DataDirectory " << dir_ << "\n"
     << "DisableNetwork 1\n"
     << "SocksPort 0\n"
     << "ControlPort 127.0.0.1:auto\n"
     << "ControlPortWriteToFile " << port_file << "\n"
     << "CookieAuthentication " << (opts.cookie_auth ? 1 : 0) << "\n"
     << "GeoIPFile /dev/null\nGeoIPv6File /dev/null\n"
     << "Log notice file " << dir_ << "/notice.log\n"
     << "__OwningControllerProcess " << ::getpid() << "\n";
  if (opts.cookie_auth) rc << "CookieAuthFile " << cookie_path_ << "\n";
  if (!opts.hashed_password.empty()) rc << "HashedControlPassword " << opts.hashed_password << "\n";
  if (opts.unix_socket) {
    socket_path_ = dir_ + "/control.sock";
    rc << "ControlSocket " << socket_path_ << "\n";
  }
  for (const auto& l : opts.extra) rc << l << "\n";
  {
    std::ofstream f(dir_ + "/torrc");
    f << rc.str();
  }

  pid_ = ::fork();
  if (pid_ < 0) {
    error_ = std::string("fork: ") + std::strerror(errno);
    return;
  }
  if (pid_ == 0) {
    const int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) {
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
    }
    const std::string torrc = dir_ + "/torrc";
    ::execlp("tor", "tor", "--quiet", "-f", torrc.c_str(), "--defaults-torrc", "/dev/null",
             static_cast<char*>(nullptr));
    ::_exit(127);
  }

  // The port file appears before the cookie: wait for both (testnet README).
  const auto deadline = std::chrono::steady_clock::now() + opts.timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      error_ = "tor exited early (status " + std::to_string(status) + "): " + log_tail();
      return;
    }
    const std::string pf = slurp(port_file);
    const bool have_cookie = !opts.cookie_auth || fs::exists(cookie_path_);
    const bool have_socket = socket_path_.empty() || fs::exists(socket_path_);
    const auto colon = pf.rfind(':');
    if (pf.find('\n') != std::string::npos && colon != std::string::npos && have_cookie &&
        have_socket) {
      port_ = std::atoi(pf.c_str() + colon + 1);
      if (port_ > 0) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  error_ = "tor did not open its control port in time: " + log_tail();
}

std::string TorProcess::log_tail(std::size_t bytes) const {
  std::string log = slurp(dir_ + "/notice.log");
  return log.size() > bytes ? log.substr(log.size() - bytes) : log;
}

void TorProcess::kill_now(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

TorProcess::~TorProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

}  // namespace torcon::testing
