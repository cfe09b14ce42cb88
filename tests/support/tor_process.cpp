#include "support/tor_process.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "child_process.hpp"

namespace torcon::testing {
namespace fs = std::filesystem;

static std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string TorProcess::hash_password(const std::string& password) {
  Expected<std::string> tor = find_executable("tor");
  char out[] = "/tmp/torcon-hash-XXXXXX";
  const int fd = ::mkstemp(out);
  if (!tor || fd < 0) return {};
  ::close(fd);
  SpawnOptions so;
  so.argv = {*tor, "--quiet", "--hash-password", password};
  so.output_path = out;
  std::string text;
  if (auto child = ChildProcess::spawn(std::move(so))) {
    (*child)->wait();
    text = slurp(out);
  }
  ::unlink(out);
  // The hash is the last "16:..." line.
  std::string hash;
  std::istringstream lines(text);
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
     << "ControlPort 127.0.0.1:"
     << (opts.control_port > 0 ? std::to_string(opts.control_port) : std::string("auto")) << "\n"
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

  Expected<std::string> tor = find_executable("tor");
  if (!tor) {
    error_ = "tor not found: " + tor.error().message;
    return;
  }
  SpawnOptions so;
  // --hush: only warnings and errors on stdout, where a config error goes.
  so.argv = {*tor, "--hush", "-f", dir_ + "/torrc", "--defaults-torrc", "/dev/null"};
  so.output_path = dir_ + "/stdout.log";
  auto child = ChildProcess::spawn(std::move(so));
  if (!child) {
    error_ = child.error().message;
    return;
  }
  tor_ = std::move(*child);

  // The port file appears before the cookie: wait for both.
  const auto deadline = std::chrono::steady_clock::now() + opts.timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string pf = slurp(port_file);
    const bool have_cookie = !opts.cookie_auth || fs::exists(cookie_path_);
    const bool have_socket = socket_path_.empty() || fs::exists(socket_path_);
    const auto colon = pf.rfind(':');
    if (pf.find('\n') != std::string::npos && colon != std::string::npos && have_cookie &&
        have_socket) {
      port_ = std::atoi(pf.c_str() + colon + 1);
      if (port_ > 0) return;
    }
    // Returns at once if tor exits.
    if (std::optional<int> ws = tor_->wait_for(std::chrono::milliseconds(5))) {
      error_ = "tor exited early (" + describe_wait_status(*ws) + "): " + log_tail();
      return;
    }
  }
  error_ = "tor did not open its control port in time: " + log_tail();
}

pid_t TorProcess::pid() const { return tor_ && tor_->running() ? tor_->pid() : -1; }

std::string TorProcess::log_tail(std::size_t bytes) const {
  std::string log = file_tail(dir_ + "/notice.log", 0, bytes);
  if (log.empty() && tor_) log = tor_->output_tail(bytes);
  return log;
}

void TorProcess::kill_now(int sig) {
  if (tor_) tor_->send_signal(sig);
}

TorProcess::~TorProcess() {
  if (tor_) {
    tor_->send_signal(SIGKILL);  // no clean exit needed: it is all thrown away
    tor_->wait();
    tor_.reset();
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

}  // namespace torcon::testing
