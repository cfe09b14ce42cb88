// launch_tor(): start a tor child process, connect and authenticate to it,
// make it ours (TAKEOWNERSHIP + __OwningControllerProcess) and follow its
// bootstrap. See include/torcon/launch.hpp.
//
// Life of a launch (everything runs on the reactor's loop):
//   prepare()      find the binary, make the DataDirectory, write the torrc
//   spawn()        fork tor (ChildProcess, not waiting for its exec) held at
//                  the gate of this loop pass, and watch its exit from the loop
//   poll_files()   every 5 ms until the port file AND the cookie exist
//                  (tor writes the port file first)
//   connect()      Controller with SAFECOOKIE, then TAKEOWNERSHIP,
//                  SETEVENTS STATUS_CLIENT, GETINFO status/bootstrap-phase
//   succeed()      after that GETINFO (wait_for_bootstrap=false) or at 100%
// Any failure (early exit, timeout, controller error) stops tor, reaps it,
// removes a temporary DataDirectory and reports the error with tor's log tail.

#include "torcon/launch.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

#include "child_process.hpp"
#include "torcon/events.hpp"

namespace torcon {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr auto kFilePoll = milliseconds(5);
constexpr std::size_t kErrorTail = 2000;

std::string errno_text(int e) { return std::strerror(e); }

// The launches started in one pass of a loop (a fleet launched in a for
// loop) hold their children at one gate, opened from the loop right after:
// spawning then takes the loop thread a millisecond or so per tor, instead
// of a share of the CPU among all the tors already starting (measured with
// 64: the last was spawned 2.8-4.3 s after the first on a loaded machine).
// Null if no pipe can be had: the children then start at once.
std::shared_ptr<SpawnGate> gate_for_this_pass(Reactor& reactor) {
  thread_local std::weak_ptr<SpawnGate> current;
  thread_local const Reactor* current_reactor = nullptr;
  if (auto g = current.lock(); g && current_reactor == &reactor) return g;
  Expected<SpawnGate> created = SpawnGate::create();
  if (!created) return nullptr;
  auto gate = std::make_shared<SpawnGate>(std::move(*created));
  current = gate;
  current_reactor = &reactor;
  reactor.post([gate] { gate->open(); });
  return gate;
}

// A path with '/' is used as is; a bare name is looked up in $PATH, as
// execvp would, so the error can say exactly what was searched.
Expected<std::string> find_tor(const std::string& given) {
  Expected<std::string> path = find_executable(given.empty() ? "tor" : given);
  if (!path) return Error(path.error().code, "tor binary not found: " + path.error().message);
  return path;
}

// torrc values are written unquoted, so refuse what tor would split or
// treat as a comment rather than quoting (Log and ControlSocket values do
// not take quotes uniformly).
bool plain_path(std::string_view p) {
  for (char c : p)
    if (static_cast<unsigned char>(c) <= ' ' || c == '"' || c == '\\' || c == '#' || c == 0x7f)
      return false;
  return true;
}

std::string keyword_of(std::string_view line) {
  std::size_t b = 0;
  while (b < line.size() && (line[b] == ' ' || line[b] == '\t')) ++b;
  // "+Key" appends to and "/Key" clears a list option: same key.
  if (b < line.size() && (line[b] == '+' || line[b] == '/')) ++b;
  std::size_t e = b;
  while (e < line.size() && line[e] != ' ' && line[e] != '\t') ++e;
  std::string k(line.substr(b, e - b));
  for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return k;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::uint64_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

// "PROGRESS=n TAG=t SUMMARY=\"s\"" (from an event's arguments or the
// GETINFO value, which also starts with "NOTICE BOOTSTRAP").
bool parse_bootstrap(std::string_view args, Bootstrap& out) {
  Value v;
  if (!find_arg(args, "PROGRESS", v)) return false;
  int pct = 0;
  for (char c : v.text) {
    if (c < '0' || c > '9') return false;
    pct = pct * 10 + (c - '0');
    if (pct > 100) return false;
  }
  if (v.text.empty()) return false;
  out.percent = pct;
  std::string scratch;
  out.tag = find_arg(args, "TAG", v) ? std::string(v.decoded(scratch)) : std::string();
  out.summary = find_arg(args, "SUMMARY", v) ? std::string(v.decoded(scratch)) : std::string();
  return true;
}

class Tor final : public TorProcess {
 public:
  using LaunchDone = std::function<void(Expected<std::unique_ptr<TorProcess>>)>;

  Tor(Reactor& reactor, LaunchOptions options, LaunchDone done)
      : reactor_(reactor), opts_(std::move(options)), launch_done_(std::move(done)) {}
  ~Tor() override;

  pid_t pid() const override { return child_ ? child_->pid() : -1; }
  const std::string& data_directory() const override { return dir_; }
  Endpoint control_endpoint() const override { return endpoint_; }
  Controller& controller() override { return *controller_; }
  const Bootstrap& bootstrap() const override { return bootstrap_; }
  std::string log_tail(std::size_t bytes) const override;
  void stop(std::function<void()> done, milliseconds grace) override;
  void on_exit(std::function<void(int)> cb) override { exit_cb_ = std::move(cb); }

  void start();

 private:
  enum class Phase : std::uint8_t { launching, failing, running, stopping, stopped };

  Status prepare();
  Status spawn();
  void poll_files();
  void connect();
  void got_bootstrap(const Bootstrap& b);
  void succeed();
  void fail(Error e);
  bool alive() const { return child_ && child_->running(); }
  void check_child();
  void child_exited(int wait_status);
  void terminate(milliseconds grace);
  void finish_failure();
  void finish_stop();
  void cancel_timers();
  void remove_temp_dir();

  Reactor& reactor_;
  LaunchOptions opts_;
  LaunchDone launch_done_;
  Phase phase_ = Phase::launching;

  std::string binary_, dir_, port_file_, cookie_file_, notice_log_, stdout_log_;
  bool temp_dir_ = false;
  std::uint64_t log_start_ = 0;  // notice.log may hold earlier runs (kept DataDirectory)

  std::unique_ptr<ChildProcess> child_;
  bool terminated_ = false;      // we sent SIGTERM
  bool exit_described_ = false;  // the launch error already gives the exit status

  TimerId file_timer_, deadline_timer_;
  Endpoint endpoint_;
  std::unique_ptr<Controller> controller_;
  Bootstrap bootstrap_;
  bool have_bootstrap_ = false;
  bool owned_ = false;        // TAKEOWNERSHIP answered
  bool phase_known_ = false;  // GETINFO status/bootstrap-phase answered
  Error launch_error_;
  std::optional<std::string> failure_tail_;
  std::vector<std::function<void()>> stop_done_;
  std::function<void(int)> exit_cb_;
};

// ---- launch ---------------------------------------------------------------

void Tor::start() {
  // Errors found here are still reported from the loop (finish_failure).
  Status s = prepare();
  if (s) s = spawn();
  if (!s) return fail(s.error());
  deadline_timer_ = reactor_.start_timer(opts_.timeout, [this] {
    const bool booting = opts_.wait_for_bootstrap && controller_ && controller_->ready();
    std::string what = std::string(booting ? "tor did not bootstrap" : "tor did not start") +
                       " within " + std::to_string(opts_.timeout.count()) + " ms";
    if (have_bootstrap_)
      what += " (bootstrap stuck at " + std::to_string(bootstrap_.percent) +
              "%: " + bootstrap_.tag + ")";
    fail(Error(Errc::timeout, std::move(what)));
  });
  file_timer_ = reactor_.start_repeating_timer(kFilePoll, [this] { poll_files(); });
}

Status Tor::prepare() {
  Expected<std::string> bin = find_tor(opts_.tor_binary);
  if (!bin) return bin.error();
  binary_ = std::move(*bin);

  std::error_code ec;
  if (opts_.data_directory.empty()) {
    std::string tmpl = (fs::temp_directory_path(ec) / "torcon-XXXXXX").string();
    if (ec) tmpl = "/tmp/torcon-XXXXXX";
    if (!::mkdtemp(tmpl.data()))
      return Error(Errc::io,
                   "cannot create a temporary DataDirectory " + tmpl + ": " + errno_text(errno));
    dir_ = tmpl;
    temp_dir_ = true;
  } else {
    dir_ = fs::absolute(opts_.data_directory, ec).lexically_normal().string();
    if (ec)
      return Error(Errc::io, "bad DataDirectory " + opts_.data_directory + ": " + ec.message());
    while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
    fs::create_directories(dir_, ec);
    if (ec) return Error(Errc::io, "cannot create DataDirectory " + dir_ + ": " + ec.message());
  }
  // Tor refuses a DataDirectory that others can read.
  if (::chmod(dir_.c_str(), 0700) != 0)
    return Error(Errc::io, "chmod 0700 " + dir_ + ": " + errno_text(errno));
  if (!plain_path(dir_))
    return Error(Errc::bad_argument,
                 "DataDirectory path must not contain spaces, quotes, '#' or '\\': " + dir_);

  port_file_ = dir_ + "/control.port";
  cookie_file_ = dir_ + "/control_auth_cookie";
  notice_log_ = dir_ + "/notice.log";
  stdout_log_ = dir_ + "/stdout.log";
  const std::string socket_path = dir_ + "/control.sock";
  if (opts_.unix_control_socket && socket_path.size() >= 100)
    return Error(Errc::bad_argument,
                 "control socket path too long for a Unix socket: " + socket_path);
  // Stale files from an earlier run in a kept directory would be mistaken
  // for this tor's.
  for (const std::string& f : {port_file_, cookie_file_, socket_path}) fs::remove(f, ec);
  log_start_ = file_size(notice_log_);

  bool has_socks = false, has_geoip = false, has_geoip6 = false;
  for (std::size_t i = 0; i < opts_.torrc.size(); ++i) {
    const std::string& line = opts_.torrc[i];
    if (line.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
      return Error(Errc::injection,
                   "torrc line " + std::to_string(i + 1) + " contains CR, LF or NUL");
    const std::string k = keyword_of(line);
    if (k == "datadirectory" || k == "controlportwritetofile" || k == "cookieauthentication" ||
        k == "cookieauthfile" || k == "__owningcontrollerprocess" || k == "runasdaemon")
      return Error(Errc::bad_argument, "torrc line " + std::to_string(i + 1) + " sets " +
                                           keyword_of(line) +
                                           ", which launch_tor manages (see LaunchOptions)");
    has_socks |= k == "socksport";
    has_geoip |= k == "geoipfile";
    has_geoip6 |= k == "geoipv6file";
  }

  std::ostringstream rc;
  rc << "# Written by torcon launch_tor(); rewritten at each launch.\n"
     << "DataDirectory " << dir_ << "\n";
  if (opts_.unix_control_socket)
    rc << "ControlSocket " << socket_path << "\n";
  else
    rc << "ControlPort auto\n";
  rc << "ControlPortWriteToFile " << port_file_ << "\n"
     << "CookieAuthentication 1\n"
     << "__OwningControllerProcess " << ::getpid() << "\n"
     << "Log notice file " << notice_log_ << "\n";
  // GeoIP parsing is ~92% of tor's startup time; clients rarely need it.
  if (!has_geoip) rc << "GeoIPFile /dev/null\n";
  if (!has_geoip6) rc << "GeoIPv6File /dev/null\n";
  if (!has_socks) rc << "SocksPort auto\n";
  for (const std::string& line : opts_.torrc) rc << line << "\n";

  const std::string torrc = dir_ + "/torrc";
  const int fd = ::open(torrc.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error(Errc::io, "cannot write " + torrc + ": " + errno_text(errno));
  const std::string text = rc.str();
  std::size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = errno;
      ::close(fd);
      return Error(Errc::io, "cannot write " + torrc + ": " + errno_text(e));
    }
    off += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return {};
}

Status Tor::spawn() {
  SpawnOptions so;
  // -f with an empty --defaults-torrc: only what we wrote applies, never
  // /etc/tor/torrc-defaults.
  so.argv = {binary_, "-f", dir_ + "/torrc", "--defaults-torrc", "/dev/null"};
  // Config errors happen before tor opens notice.log and go to stdout; keep
  // them so an early exit can be explained.
  so.output_path = stdout_log_;
  const char* force = std::getenv("TORCON_LAUNCH_FORCE_SIGCHLD");  // tests the fallback
  so.use_pidfd = !(force && *force == '1');
  // Do not wait for tor's exec: with many tors starting at once, each exec
  // waits its turn for a CPU behind those already busy starting (measured:
  // 35 ms median per spawn, 2.3-2.9 s to spawn 64 one after another). The
  // binary was checked above; a failed exec still ends as an early exit.
  so.wait_for_exec = false;
  const std::shared_ptr<SpawnGate> gate = gate_for_this_pass(reactor_);
  so.gate = gate.get();
  Expected<std::unique_ptr<ChildProcess>> child = ChildProcess::spawn(std::move(so));
  if (!child) return child.error();
  child_ = std::move(*child);
  Status watched = child_->watch(reactor_, [this](int ws) { child_exited(ws); });
  // Unwatched, its exit would never be reported: stop and reap it now.
  if (!watched) child_.reset();
  return watched;
}

void Tor::check_child() {
  if (!alive()) return;
  if (std::optional<int> ws = child_->poll_exit()) child_exited(*ws);
}

void Tor::poll_files() {
  if (phase_ != Phase::launching) return;
  // The port file is renamed into place whole; the cookie appears later.
  if (file_size(cookie_file_) < 32) return;
  const std::string ports = read_file(port_file_);
  if (ports.empty()) return;
  std::optional<Endpoint> ep;
  std::istringstream lines(ports);
  for (std::string l; std::getline(lines, l);) {
    if (opts_.unix_control_socket && l.rfind("UNIX_PORT=", 0) == 0) {
      ep = Endpoint::unix_socket(l.substr(10));
      break;
    }
    if (!opts_.unix_control_socket && l.rfind("PORT=", 0) == 0) {
      const std::string hp = l.substr(5);
      const std::size_t colon = hp.rfind(':');
      if (colon == std::string::npos) continue;
      const int port = std::atoi(hp.c_str() + colon + 1);
      if (port <= 0 || port > 65535) continue;
      ep = Endpoint::tcp(hp.substr(0, colon), static_cast<std::uint16_t>(port));
      break;
    }
  }
  if (!ep) return;
  reactor_.cancel_timer(file_timer_);
  endpoint_ = *ep;
  connect();
}

void Tor::connect() {
  ControllerOptions copts = opts_.controller;
  copts.auth = AuthMethod::safecookie;
  copts.cookie_file = cookie_file_;
  controller_ = std::make_unique<Controller>(reactor_, copts);
  controller_->on_disconnect([this](const Error& why) {
    if (phase_ != Phase::launching) return;
    check_child();  // if tor has exited, that is the better explanation
    fail(Error(Errc::disconnected, "control connection lost during startup: " + why.message));
  });
  controller_->connect(endpoint_, [this](const Status& s) {
    if (phase_ != Phase::launching) return;
    if (!s) {
      check_child();
      return fail(s.error());
    }
    controller_->takeownership([this](const Status& t) {
      if (phase_ != Phase::launching) return;
      if (!t) return fail(Error(t.error().code, "TAKEOWNERSHIP failed: " + t.error().message));
      owned_ = true;
    });
    controller_->subscribe(
        "STATUS_CLIENT",
        [this](const Reply& r) {
          Event ev;
          if (!parse_event(r, ev)) return;
          const StatusEvent* st = ev.get<StatusEvent>();
          if (!st || st->action != "BOOTSTRAP") return;
          Bootstrap b;
          if (parse_bootstrap(st->arguments, b)) got_bootstrap(b);
        },
        [this](const Status& sub) {
          if (phase_ == Phase::launching && !sub)
            fail(Error(sub.error().code, "SETEVENTS STATUS_CLIENT failed: " + sub.error().message));
        });
    // Events only report changes: ask where bootstrap already is.
    controller_->getinfo({"status/bootstrap-phase"}, [this](const Expected<KeyValues>& kv) {
      if (phase_ != Phase::launching) return;
      if (!kv) return fail(kv.error());
      const std::string* v = kv->find("status/bootstrap-phase");
      Bootstrap b;
      // An event may have overtaken it; never go backwards.
      if (v && parse_bootstrap(*v, b) && (!have_bootstrap_ || b.percent > bootstrap_.percent))
        got_bootstrap(b);
      phase_known_ = true;
      if (!opts_.wait_for_bootstrap || bootstrap_.percent >= 100) succeed();
    });
  });
}

void Tor::got_bootstrap(const Bootstrap& b) {
  if (have_bootstrap_ && b.percent == bootstrap_.percent && b.tag == bootstrap_.tag) return;
  bootstrap_ = b;
  have_bootstrap_ = true;
  if (opts_.on_progress) opts_.on_progress(bootstrap_);
  if (phase_ == Phase::launching && phase_known_ && bootstrap_.percent >= 100) succeed();
}

void Tor::succeed() {
  if (!owned_) return fail(Error(Errc::auth, "TAKEOWNERSHIP was not confirmed"));
  phase_ = Phase::running;
  reactor_.cancel_timer(deadline_timer_);
  // From a timer, not from inside a controller callback: the caller may
  // drop the TorProcess (and with it the Controller) right away.
  reactor_.start_timer(Reactor::Duration::zero(), [this] {
    LaunchDone done = std::move(launch_done_);
    launch_done_ = nullptr;
    done(std::unique_ptr<TorProcess>(this));
  });
}

void Tor::fail(Error e) {
  if (phase_ != Phase::launching) return;
  phase_ = Phase::failing;
  launch_error_ = std::move(e);
  // Before we stop it: what tor said while it was failing, not its goodbye.
  if (alive()) failure_tail_ = log_tail(kErrorTail);
  cancel_timers();
  if (controller_) controller_->close();
  if (alive())
    terminate(milliseconds(5000));  // finish_failure() once reaped
  else
    finish_failure();
}

void Tor::finish_failure() {
  std::string msg = launch_error_.message;
  // A controller error may be the symptom of tor exiting on its own.
  if (child_ && !child_->running() && !terminated_ && !exit_described_)
    msg += " (tor " + describe_wait_status(child_->wait_status()) + ")";
  const std::string tail = failure_tail_ ? *failure_tail_ : log_tail(kErrorTail);
  if (!tail.empty()) msg += "\ntor's log ends with:\n" + tail;
  launch_error_.message = std::move(msg);
  remove_temp_dir();
  reactor_.start_timer(Reactor::Duration::zero(), [this] {
    LaunchDone done = std::move(launch_done_);
    Error err = std::move(launch_error_);
    delete this;
    done(std::move(err));
  });
}

// ---- child exit ---------------------------------------------------------------

// Once, when child_ has reaped tor: from its watch, or from check_child().
void Tor::child_exited(int wait_status) {
  switch (phase_) {
    case Phase::launching:
      exit_described_ = true;
      if (child_->exec_failure()) return fail(Error(Errc::io, *child_->exec_failure()));
      fail(Error(Errc::io, "tor exited during startup: " + describe_wait_status(wait_status)));
      return;
    case Phase::failing: finish_failure(); return;
    case Phase::stopping: finish_stop(); return;
    case Phase::running:
      if (exit_cb_) {
        // Last: the callback may destroy us.
        auto cb = exit_cb_;
        cb(wait_status);
      }
      return;
    case Phase::stopped: return;
  }
}

void Tor::terminate(milliseconds grace) {
  terminated_ = true;
  child_->terminate(grace);  // SIGTERM now, SIGKILL after grace; child_exited() follows
}

// ---- stop -------------------------------------------------------------------

void Tor::stop(std::function<void()> done, milliseconds grace) {
  if (phase_ == Phase::stopped) {
    if (done) reactor_.start_timer(Reactor::Duration::zero(), std::move(done));
    return;
  }
  if (done) stop_done_.push_back(std::move(done));
  if (phase_ == Phase::stopping) return;
  phase_ = Phase::stopping;
  // Closing the owning connection alone would make tor exit too; SIGTERM
  // makes it prompt and the timer makes it certain.
  if (controller_) controller_->close();
  if (alive())
    terminate(grace);
  else
    finish_stop();
}

void Tor::finish_stop() {
  remove_temp_dir();
  phase_ = Phase::stopped;
  std::vector<std::function<void()>> cbs = std::move(stop_done_);
  stop_done_.clear();
  if (cbs.empty()) return;
  // The callbacks may destroy us: they must not need `this`.
  reactor_.start_timer(Reactor::Duration::zero(), [cbs = std::move(cbs)] {
    for (const auto& cb : cbs) cb();
  });
}

Tor::~Tor() {
  cancel_timers();
  controller_.reset();
  // No loop to wait on here: the child's destructor gives tor 200 ms for a
  // clean exit, then SIGKILLs it, and reaps it.
  child_.reset();
  if (phase_ != Phase::stopped) remove_temp_dir();
}

void Tor::cancel_timers() {
  reactor_.cancel_timer(file_timer_);
  reactor_.cancel_timer(deadline_timer_);
}

void Tor::remove_temp_dir() {
  if (!temp_dir_ || opts_.keep_data_directory || dir_.empty()) return;
  std::error_code ec;
  fs::remove_all(dir_, ec);
  temp_dir_ = false;  // once
}

std::string Tor::log_tail(std::size_t bytes) const {
  std::string t = file_tail(notice_log_, log_start_, bytes);
  // Before tor reads its Log line (config errors) it only writes to stdout.
  if (t.empty() && child_) t = child_->output_tail(bytes);
  return t;
}

}  // namespace

void launch_tor(Reactor& reactor, LaunchOptions options,
                std::function<void(Expected<std::unique_ptr<TorProcess>>)> done) {
  auto* tor = new Tor(reactor, std::move(options), std::move(done));
  tor->start();  // owns itself until done runs (success hands it over)
}

}  // namespace torcon
