// torcon-ctl: a command-line controller for tor's control port (in the
// spirit of stem's tor-prompt), built on torcon::Controller.
//
//   torcon-ctl [--control HOST:PORT | --control PATH] [--password P | --cookie FILE]
//              [--reactor epoll|uring] [--events E1,E2 [--count N]] [--record FILE]
//              [--timeout S] [--reconnect] [COMMAND ...]
//
// Output: each reply exactly as tor sent it (Reply::raw) with every CRLF
// turned into LF: "250-..." lines, "250+..." lines followed by their data
// lines (still dot-stuffed, as on the wire) and the lone "." line. Events
// come out the same way. When stdout is a terminal, other control bytes are
// shown as \xNN so that tor-supplied text cannot drive the terminal.
//
// tor's 4xx/5xx answers reach us as an Error carrying only the status code
// and the last line's text, so they are printed as "NNN text" (tor's error
// replies are single lines, so this is the line it sent).
//
// Commands come from the arguments or, when there are none and stdin is not
// a terminal, from stdin: read to EOF first, one per line, a trailing CR
// dropped, blank lines and lines starting with '#' skipped. All are checked
// (no CR, LF or NUL) before connecting, then sent at once (pipelined).
//
// With no commands and a terminal on stdin: an interactive prompt with a
// small built-in line editor (raw termios, restored on every exit path).
//
// Exit status: 0 every command got 2xx; 1 some got 4xx/5xx (or tor refused
// an --events subscription); 2 bad usage, a refused command, connection,
// authentication or protocol errors, or an interrupt before all replies came.
// Ctrl-C while only waiting for events ends normally (0 or 1 as above).
//
// --record FILE writes every byte tor sends on the connection, from the
// PROTOCOLINFO reply on, exactly as read (a capture for torcon-parse and
// state_bench). A file that cannot be opened or written is exit status 2.
//
// --timeout S bounds the connection handshake and each command (exit status
// 2 when it fires). --reconnect keeps going when tor goes away: it says so on
// stderr, reconnects with backoff (1 s growing to 10 min), subscribes again
// and keeps printing events; a command in flight when the connection ends
// still fails the run.

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control_option.hpp"
#include "torcon/command.hpp"
#include "torcon/controller.hpp"
#include "torcon/reactor.hpp"
#include "torcon/tokens.hpp"
#include "version_option.hpp"

namespace {

constexpr const char* kUsage =
    "usage: torcon-ctl [OPTIONS] [COMMAND ...]\n"
    "\n"
    "Sends each COMMAND (one argument = one control-port command line) to tor,\n"
    "pipelined, and prints the replies exactly as tor sent them (CRLF -> LF).\n"
    "\n"
    "options:\n"
    "  --control HOST:PORT   tor's control port: 127.0.0.1:9051, [::1]:9051\n"
    "  --control PATH        a Unix ControlSocket (any value containing '/')\n"
    "                        default: 127.0.0.1:9051\n"
    "  --password P          authenticate with HASHEDPASSWORD\n"
    "  --cookie FILE         read the auth cookie from FILE (SAFECOOKIE/COOKIE)\n"
    "                        default: the best method tor offers\n"
    "  --reactor epoll|uring event-loop backend (default: $TORCON_REACTOR, else automatic);\n"
    "                        an io_uring asked for but unavailable is an error\n"
    "  --events E1,E2,...    subscribe to these events and print them as they come;\n"
    "                        the COMMANDs are sent only once tor has accepted the\n"
    "                        subscription, so events they cause are printed too\n"
    "                        (torcon-ctl --events CIRC 'SIGNAL NEWNYM')\n"
    "  --count N             with --events: exit after N events (default: until Ctrl-C)\n"
    "  --record FILE         write every byte tor sends on the connection to FILE\n"
    "  --timeout S           deadline in seconds (e.g. 2.5) for the connection\n"
    "                        handshake and for each command; exit status 2 if it passes\n"
    "  --reconnect           when tor goes away, reconnect (backoff 1 s up to 10 min),\n"
    "                        subscribe again and keep printing events; progress on stderr\n"
    "  --version             print torcon-ctl's version\n"
    "  -h, --help            this text\n"
    "\n"
    "Without COMMANDs: if stdin is a terminal, an interactive prompt (line editing,\n"
    "history; Ctrl-D or QUIT exits); otherwise commands are read from stdin to EOF,\n"
    "one per line (blank lines and lines starting with '#' are skipped).\n"
    "\n"
    "exit status: 0 all replies 2xx, 1 some reply 4xx/5xx, 2 usage, connection,\n"
    "authentication or protocol error.\n";

constexpr int kExitOk = 0;
constexpr int kExitTorError = 1;
constexpr int kExitFailure = 2;

// ---- output --------------------------------------------------------------

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report it
    }
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

void error_line(std::string_view msg) {
  std::string line = "torcon-ctl: ";
  line.append(msg).push_back('\n');
  write_all(STDERR_FILENO, line);
}

// Appends tor's bytes with CRLF -> LF; on a terminal, other control bytes
// (ESC above all) are escaped so a hostile relay nickname or contact line
// cannot reprogram the user's terminal.
void append_tor_text(std::string& out, std::string_view raw, bool to_tty) {
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') continue;
    const auto u = static_cast<unsigned char>(c);
    if (to_tty && c != '\n' && c != '\t' && (u < 0x20 || u == 0x7f)) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", u);
      out += esc;
    } else {
      out.push_back(c);
    }
  }
}

// ---- arguments -----------------------------------------------------------

struct Options {
  torcon::Endpoint endpoint = torcon::Endpoint::tcp("127.0.0.1", 9051);
  std::optional<std::string> password;
  std::optional<std::string> cookie_file;
  torcon::ReactorOptions::Choice backend = torcon::ReactorOptions::Choice::automatic;
  std::vector<std::string> events;
  std::uint64_t count = 0;  // 0: until interrupted
  std::vector<std::string> commands;
  std::optional<std::string> record;  // --record FILE
  int record_fd = -1;
  std::chrono::milliseconds timeout{0};  // --timeout S; 0: none
  bool reconnect = false;
};

// --record: a write error is reported once and ends the run with status 2.
bool g_record_failed = false;

struct UsageError {
  std::string message;
};

std::optional<UsageError> parse_control(std::string_view v, torcon::Endpoint& out) {
  if (std::optional<std::string> e = torcon::tools::parse_control_option(v, out))
    return UsageError{std::move(*e)};
  return std::nullopt;
}

// "2", "0.5", "2.25": seconds, to the millisecond; more than 0, at most a day.
std::optional<UsageError> parse_seconds(std::string_view v, std::chrono::milliseconds& out) {
  const auto bad = [&] {
    return UsageError{"--timeout: expected seconds (e.g. 2 or 0.5), got \"" + std::string(v) +
                      "\""};
  };
  const std::size_t dot = v.find('.');
  const std::string_view whole = v.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? "" : v.substr(dot + 1);
  const auto digits = [](std::string_view d) {
    return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (v.empty() || whole.size() > 5 || frac.size() > 3 || !digits(whole) || !digits(frac) ||
      (whole.empty() && frac.empty()) || (dot != std::string_view::npos && frac.empty()))
    return bad();
  std::int64_t ms = 0;
  for (char c : whole) ms = ms * 10 + (c - '0');
  ms *= 1000;
  std::int64_t scale = 100;
  for (char c : frac) {
    ms += (c - '0') * scale;
    scale /= 10;
  }
  if (ms <= 0 || ms > 86400000) return bad();
  out = std::chrono::milliseconds(ms);
  return std::nullopt;
}

// Returns nullopt and fills `o`, or the usage error. `help` is set for --help.
std::optional<UsageError> parse_args(int argc, char** argv, Options& o, bool& help) {
  bool count_given = false;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (options_done || !a.starts_with('-') || a == "-") {
      o.commands.emplace_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      help = true;
      return std::nullopt;
    }
    if (a == "--reconnect") {
      o.reconnect = true;
      continue;
    }
    // --name VALUE or --name=VALUE.
    std::string_view name = a;
    std::optional<std::string_view> value;
    if (const std::size_t eq = a.find('='); eq != std::string_view::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    }
    const bool takes_value = name == "--control" || name == "--password" || name == "--cookie" ||
                             name == "--reactor" || name == "--events" || name == "--count" ||
                             name == "--record" || name == "--timeout";
    if (!takes_value) return UsageError{"unknown option \"" + std::string(a) + "\""};
    if (!value) {
      if (i + 1 >= argc) return UsageError{std::string(name) + " needs a value"};
      value = argv[++i];
    }
    if (name == "--control") {
      if (auto e = parse_control(*value, o.endpoint)) return e;
    } else if (name == "--password") {
      o.password = std::string(*value);
    } else if (name == "--cookie") {
      if (value->empty()) return UsageError{"--cookie: empty file name"};
      o.cookie_file = std::string(*value);
    } else if (name == "--reactor") {
      if (*value == "epoll")
        o.backend = torcon::ReactorOptions::Choice::epoll;
      else if (*value == "uring")
        o.backend = torcon::ReactorOptions::Choice::uring;
      else
        return UsageError{"--reactor: expected epoll or uring, got \"" + std::string(*value) +
                          "\""};
    } else if (name == "--events") {
      std::string_view list = *value;
      for (;;) {
        const std::size_t comma = list.find(',');
        const std::string_view ev = list.substr(0, comma);
        if (!torcon::is_event_name(ev))
          return UsageError{"--events: bad event name \"" + std::string(ev) + "\""};
        o.events.emplace_back(ev);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
      }
    } else if (name == "--timeout") {
      if (auto e = parse_seconds(*value, o.timeout)) return e;
    } else if (name == "--record") {
      if (value->empty()) return UsageError{"--record: empty file name"};
      o.record = std::string(*value);
    } else if (name == "--count") {
      std::uint64_t n = 0;
      if (value->empty() || value->size() > 18 ||
          !std::all_of(value->begin(), value->end(), [](char c) { return c >= '0' && c <= '9'; }))
        return UsageError{"--count: expected a positive number, got \"" + std::string(*value) +
                          "\""};
      for (char c : *value) n = n * 10 + static_cast<std::uint64_t>(c - '0');
      if (n == 0) return UsageError{"--count: expected a positive number, got 0"};
      o.count = n;
      count_given = true;
    }
  }
  if (o.password && o.cookie_file) return UsageError{"--password and --cookie exclude each other"};
  if (count_given && o.events.empty()) return UsageError{"--count needs --events"};
  return std::nullopt;
}

// Commands for scripts: stdin to EOF, one per line.
bool read_stdin_commands(std::vector<std::string>& out) {
  std::string all;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      error_line(std::string("reading commands from stdin: ") + std::strerror(errno));
      return false;
    }
    all.append(buf, static_cast<std::size_t>(n));
  }
  std::string_view rest = all;
  while (!rest.empty()) {
    const std::size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);  // CRLF-terminated script files
    const std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    out.emplace_back(line);
  }
  return true;
}

// ---- terminal ------------------------------------------------------------

// Raw mode for the line editor. Every exit path of main() goes through
// restore() (signals arrive through signalfd, so they exit normally too);
// atexit covers exit() from anywhere else.
class RawTerminal {
 public:
  static bool enable() {
    if (::tcgetattr(STDIN_FILENO, &saved_) != 0) return false;
    termios raw = saved_;
    // No line discipline, echo or signal keys: the editor handles every byte
    // (Ctrl-C included). OPOST stays on so "\n" still returns the carriage.
    raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO | ISIG | IEXTEN));
    raw.c_iflag &= static_cast<tcflag_t>(~(ICRNL | INLCR | IGNCR | IXON));
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    if (::tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) != 0) return false;
    active_ = true;
    std::atexit(restore);
    return true;
  }
  static void restore() {
    if (!active_) return;
    active_ = false;
    ::tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_);
  }

 private:
  static inline termios saved_{};
  static inline bool active_ = false;
};

// A small single-line editor: insert, backspace/delete, left/right,
// home/end, history up/down, Ctrl-A/E/U/K/W/L. It works on bytes but moves
// over whole UTF-8 sequences, so the cursor stays on character boundaries.
class LineEditor {
 public:
  enum class Action { none, submit, eof, interrupt };

  explicit LineEditor(std::string prompt) : prompt_(std::move(prompt)) {}

  // Feeds one input byte; on Action::submit, `line` is the entered line.
  // Appends whatever the terminal needs to `term`.
  Action feed(char c, std::string& line, std::string& term) {
    const auto u = static_cast<unsigned char>(c);
    switch (esc_) {
      case Esc::none: break;
      case Esc::start:
        params_.clear();
        if (c == '[')
          esc_ = Esc::csi;
        else if (c == 'O')
          esc_ = Esc::ss3;
        else
          esc_ = Esc::none;  // Alt-key and friends: ignored
        return Action::none;
      case Esc::csi:
        if (u >= 0x20 && u <= 0x3f) {
          if (params_.size() < 16) params_.push_back(c);
          return Action::none;
        }
        esc_ = Esc::none;
        csi(c, term);
        return Action::none;
      case Esc::ss3:
        esc_ = Esc::none;
        csi(c, term);  // ESC O A/B/C/D/H/F mean what ESC [ ... does
        return Action::none;
    }
    switch (u) {
      case 0x1b: esc_ = Esc::start; return Action::none;
      case '\r':
      case '\n':
        line = buf_;
        if (!buf_.empty() && (history_.empty() || history_.back() != buf_))
          history_.push_back(buf_);
        hist_pos_ = history_.size();
        buf_.clear();
        cur_ = 0;
        return Action::submit;
      case 0x03: return Action::interrupt;  // Ctrl-C
      case 0x04:                            // Ctrl-D: EOF on an empty line, else delete
        if (buf_.empty()) return Action::eof;
        delete_forward(term);
        return Action::none;
      case 0x7f:
      case 0x08:  // Backspace
        if (cur_ == 0) return Action::none;
        {
          const std::size_t p = prev(cur_);
          buf_.erase(p, cur_ - p);
          cur_ = p;
        }
        break;
      case 0x01: cur_ = 0; break;                      // Ctrl-A
      case 0x05: cur_ = buf_.size(); break;            // Ctrl-E
      case 0x02: cur_ = cur_ ? prev(cur_) : 0; break;  // Ctrl-B
      case 0x06: cur_ = next(cur_); break;             // Ctrl-F
      case 0x0b: buf_.erase(cur_); break;              // Ctrl-K
      case 0x15:                                       // Ctrl-U
        buf_.erase(0, cur_);
        cur_ = 0;
        break;
      case 0x17: {  // Ctrl-W: the word before the cursor
        std::size_t p = cur_;
        while (p > 0 && buf_[p - 1] == ' ') --p;
        while (p > 0 && buf_[p - 1] != ' ') --p;
        buf_.erase(p, cur_ - p);
        cur_ = p;
        break;
      }
      case 0x0c: term += "\x1b[H\x1b[2J"; break;  // Ctrl-L
      case 0x10: history_step(-1); break;         // Ctrl-P
      case 0x0e: history_step(+1); break;         // Ctrl-N
      default:
        if (u < 0x20) return Action::none;  // other control keys (Tab, ...)
        buf_.insert(cur_, 1, c);
        if (++cur_ == buf_.size()) {  // typing at the end: plain echo, no redraw
          term.push_back(c);
          return Action::none;
        }
        break;
    }
    redraw(term);
    return Action::none;
  }

  // Draws the prompt and the line, cursor in place.
  void redraw(std::string& term) const {
    term += '\r';
    term += prompt_;
    term += buf_;
    term += "\x1b[K";
    const std::size_t back = columns(std::string_view(buf_).substr(cur_));
    if (back > 0) term += "\x1b[" + std::to_string(back) + "D";
  }
  // Wipes the prompt line, so other output can take its place.
  static void clear(std::string& term) { term += "\r\x1b[K"; }

 private:
  enum class Esc { none, start, csi, ss3 };

  static bool continuation(char c) { return (static_cast<unsigned char>(c) & 0xc0) == 0x80; }
  static std::size_t columns(std::string_view s) {
    return static_cast<std::size_t>(
        std::count_if(s.begin(), s.end(), [](char c) { return !continuation(c); }));
  }
  std::size_t prev(std::size_t p) const {
    do --p;
    while (p > 0 && continuation(buf_[p]));
    return p;
  }
  std::size_t next(std::size_t p) const {
    if (p >= buf_.size()) return buf_.size();
    do ++p;
    while (p < buf_.size() && continuation(buf_[p]));
    return p;
  }
  void delete_forward(std::string& term) {
    if (cur_ >= buf_.size()) return;
    buf_.erase(cur_, next(cur_) - cur_);
    redraw(term);
  }
  void history_step(int dir) {
    if (dir < 0) {
      if (hist_pos_ == 0) return;
      if (hist_pos_ == history_.size()) draft_ = buf_;  // keep what was being typed
      buf_ = history_[--hist_pos_];
    } else {
      if (hist_pos_ >= history_.size()) return;
      ++hist_pos_;
      buf_ = hist_pos_ == history_.size() ? draft_ : history_[hist_pos_];
    }
    cur_ = buf_.size();
  }
  void csi(char final, std::string& term) {
    switch (final) {
      case 'A': history_step(-1); break;
      case 'B': history_step(+1); break;
      case 'C': cur_ = next(cur_); break;
      case 'D': cur_ = cur_ ? prev(cur_) : 0; break;
      case 'H': cur_ = 0; break;
      case 'F': cur_ = buf_.size(); break;
      case '~':
        // VT-style keys: 1/7 Home, 4/8 End, 3 Delete.
        if (params_ == "1" || params_ == "7")
          cur_ = 0;
        else if (params_ == "4" || params_ == "8")
          cur_ = buf_.size();
        else if (params_ == "3")
          return delete_forward(term);
        else
          return;
        break;
      default: return;
    }
    redraw(term);
  }

  std::string prompt_;
  std::string buf_;
  std::size_t cur_ = 0;  // byte offset into buf_, on a character boundary
  std::vector<std::string> history_;
  std::size_t hist_pos_ = 0;
  std::string draft_;
  Esc esc_ = Esc::none;
  std::string params_;
};

// ---- the controller session ----------------------------------------------

class Session {
 public:
  Session(torcon::Reactor& reactor, const Options& o, bool interactive)
      : reactor_(reactor),
        opts_(o),
        ctl_(reactor, controller_options(o)),
        interactive_(interactive),
        out_tty_(::isatty(STDOUT_FILENO) == 1),
        term_fd_(::isatty(STDOUT_FILENO) == 1 ? STDOUT_FILENO : STDERR_FILENO) {}

  // Runs to the end; returns the exit status.
  int run(int signal_fd) {
    signal_fd_ = signal_fd;
    if (signal_fd_ >= 0) {
      if (torcon::Status s = reactor_.watch_readable(signal_fd_, [this] { on_signal(); }); !s) {
        error_line("cannot watch for signals: " + s.error().message);
        return kExitFailure;
      }
    }
    ctl_.on_disconnect([this](const torcon::Error& e) {
      if (quitting_) return finish(status_);
      if (!opts_.reconnect) fail(describe(e));
    });
    if (opts_.reconnect)
      ctl_.on_reconnect([this](const torcon::ReconnectEvent& e) { on_reconnect(e); });
    ctl_.connect(opts_.endpoint, [this](const torcon::Status& s) { on_connected(s); });
    // With --events, the commands wait until tor has accepted the
    // SETEVENTS (the controller would send commands held during the
    // handshake before it), so that events they cause are printed. Without,
    // they are held by the controller and sent in order once authenticated.
    if (opts_.events.empty()) send_commands();
    for (const std::string& e : opts_.events) subscribe(e);
    if (!finished_) reactor_.run();
    if (watching_stdin_) reactor_.unwatch(STDIN_FILENO);
    if (signal_fd_ >= 0) reactor_.unwatch(signal_fd_);
    if (interactive_) RawTerminal::restore();
    return status_;
  }

 private:
  static torcon::ControllerOptions controller_options(const Options& o) {
    torcon::ControllerOptions c;
    if (o.password) {
      c.auth = torcon::AuthMethod::hashed_password;
      c.password = *o.password;
    }
    if (o.cookie_file) c.cookie_file = *o.cookie_file;
    if (o.timeout.count() > 0) {
      c.connect.timeout = o.timeout;
      c.command_timeout = o.timeout;
    }
    c.reconnect.enabled = o.reconnect;
    if (o.record_fd >= 0) {
      c.on_received = [fd = o.record_fd](std::string_view bytes) {
        while (!bytes.empty() && !g_record_failed) {
          const ssize_t n = ::write(fd, bytes.data(), bytes.size());
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) {
            g_record_failed = true;
            error_line(std::string("--record: write: ") + std::strerror(errno));
            return;
          }
          bytes.remove_prefix(static_cast<std::size_t>(n));
        }
      };
    }
    return c;
  }

  void finish(int status) {
    if (finished_) return;
    finished_ = true;
    status_ = std::max(status_, status);
    reactor_.stop();
  }
  // Everything after the first fatal error (e.g. the held commands failing
  // after a refused connect) stays quiet: one line on stderr.
  void fail(const std::string& msg) {
    if (finished_) return;
    if (prompt_shown_) {
      std::string t;
      LineEditor::clear(t);
      write_all(term_fd_, t);
      prompt_shown_ = false;
    }
    error_line(msg);
    finish(kExitFailure);
  }

  // Prints tor's bytes to stdout, keeping the interactive prompt intact.
  void print(std::string_view text) {
    std::string out;
    append_tor_text(out, text, out_tty_);
    if (prompt_shown_ && term_fd_ == STDOUT_FILENO) {
      std::string t;
      LineEditor::clear(t);
      t += out;
      editor_->redraw(t);
      write_all(STDOUT_FILENO, t);
    } else {
      write_all(STDOUT_FILENO, out);
    }
  }

  void send(const std::string& line) {
    ++outstanding_;
    ctl_.command(line, [this](const torcon::Expected<torcon::Reply>& r) {
      if (finished_) return;
      --outstanding_;
      if (r) {
        print(r->raw);
      } else if (r.error().code == torcon::Errc::tor_error) {
        print(std::to_string(r.error().status) + " " + r.error().message + "\r\n");
        if (!interactive_) status_ = std::max(status_, kExitTorError);
      } else {
        return fail(describe(r.error()));
      }
      if (interactive_) {
        if (quitting_) return finish(status_);
        return show_prompt();
      }
      maybe_done();
    });
  }

  void send_commands() {
    for (const std::string& c : opts_.commands) send(c);
    commands_sent_ = true;
    maybe_done();
  }

  void subscribe(const std::string& event) {
    ctl_.subscribe(
        event,
        [this](const torcon::Reply& r) {
          if (finished_) return;
          print(r.raw);
          if (opts_.count != 0 && ++events_seen_ >= opts_.count) {
            events_done_ = true;
            maybe_done();
          }
        },
        [this, event](const torcon::Status& s) {
          if (finished_) return;
          if (s) {
            if (++subscriptions_accepted_ == opts_.events.size()) send_commands();
            return;
          }
          if (s.error().code == torcon::Errc::tor_error) {
            // One SETEVENTS carries them all, so name the whole list.
            std::string list;
            for (const std::string& e : opts_.events) list += (list.empty() ? "" : ",") + e;
            error_line("tor refused --events " + list + ": " + std::to_string(s.error().status) +
                       " " + s.error().message);
            return finish(kExitTorError);
          }
          fail("subscribing to " + event + ": " + describe(s.error()));
        });
  }

  // Batch mode ends when every command has its reply and, with --events,
  // the --count-th event has been printed.
  void maybe_done() {
    if (interactive_ || !commands_sent_ || outstanding_ > 0) return;
    if (!opts_.events.empty() && !events_done_) return;
    finish(status_);
  }

  // --reconnect: progress on stderr, one line a step.
  void on_reconnect(const torcon::ReconnectEvent& e) {
    if (finished_) return;
    using Kind = torcon::ReconnectEvent::Kind;
    switch (e.kind) {
      case Kind::disconnected: error_line("connection to tor lost: " + e.error.message); break;
      case Kind::reconnecting: {
        char when[32];
        std::snprintf(when, sizeof when, "%.1f", static_cast<double>(e.delay.count()) / 1000);
        error_line("reconnecting to " + opts_.endpoint.to_string() + " in " + when +
                   " s (attempt " + std::to_string(e.attempt) + ")");
        break;
      }
      case Kind::reconnected:
        error_line("reconnected to " + opts_.endpoint.to_string() +
                   (ctl_.protocol_info().tor_version.empty()
                        ? std::string()
                        : " (tor " + ctl_.protocol_info().tor_version + ")"));
        break;
      case Kind::gave_up: fail("gave up reconnecting: " + e.error.message); break;
      case Kind::restore_failed: error_line("after reconnecting: " + e.error.message); break;
    }
  }

  std::string describe(const torcon::Error& e) const {
    switch (e.code) {
      case torcon::Errc::auth:
        if (e.status != 0)
          return "authentication failed (tor replied " + std::to_string(e.status) +
                 "): " + e.message;
        return "authentication failed: " + e.message;
      case torcon::Errc::timeout:
        if (authenticated_) return "timed out: " + e.message;
        return "cannot connect to " + opts_.endpoint.to_string() + ": " + e.message;
      case torcon::Errc::io:
      case torcon::Errc::disconnected:
        if (!authenticated_)
          return "cannot connect to " + opts_.endpoint.to_string() + ": " + e.message;
        return "connection to tor lost: " + e.message;
      default: return e.message;
    }
  }

  void on_connected(const torcon::Status& s) {
    if (finished_) return;
    if (!s) return fail(describe(s.error()));
    authenticated_ = true;
    if (!interactive_) return maybe_done();
    std::string banner = "Connected to tor";
    if (!ctl_.protocol_info().tor_version.empty()) banner += " " + ctl_.protocol_info().tor_version;
    banner += " at " + opts_.endpoint.to_string() + " (" + torcon::to_string(ctl_.auth_method()) +
              "). Ctrl-D or QUIT exits.\n";
    write_all(term_fd_, banner);
    if (!RawTerminal::enable()) {
      error_line(std::string("cannot set up the terminal: ") + std::strerror(errno));
      return finish(kExitFailure);
    }
    editor_ = std::make_unique<LineEditor>("torcon> ");
    if (torcon::Status w = reactor_.watch_readable(STDIN_FILENO, [this] { on_stdin(); }); !w)
      return fail("cannot watch stdin: " + w.error().message);
    watching_stdin_ = true;
    show_prompt();
  }

  void show_prompt() {
    waiting_ = false;
    std::string t;
    editor_->redraw(t);
    write_all(term_fd_, t);
    prompt_shown_ = true;
    // Keys typed while the reply was on its way.
    std::string early;
    early.swap(typeahead_);
    feed_keys(early);
  }

  void on_stdin() {
    char buf[512];
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {  // the terminal went away
      if (prompt_shown_) write_all(term_fd_, "\n");
      prompt_shown_ = false;
      return finish(status_);
    }
    feed_keys(std::string_view(buf, static_cast<std::size_t>(n)));
  }

  void feed_keys(std::string_view keys) {
    for (std::size_t i = 0; i < keys.size() && !finished_; ++i) {
      if (waiting_) {
        // A command is in flight: only Ctrl-C acts now, the rest waits.
        if (keys[i] == 0x03) return interrupt();
        typeahead_.append(keys.substr(i));
        return;
      }
      std::string line, term;
      const LineEditor::Action a = editor_->feed(keys[i], line, term);
      write_all(term_fd_, term);
      switch (a) {
        case LineEditor::Action::none: break;
        case LineEditor::Action::eof:
          write_all(term_fd_, "\n");
          prompt_shown_ = false;
          return finish(status_);
        case LineEditor::Action::interrupt: return interrupt();
        case LineEditor::Action::submit: submit(line); break;
      }
    }
  }

  void interrupt() {
    write_all(term_fd_, prompt_shown_ ? "^C\n" : "\n");
    prompt_shown_ = false;
    finish(status_);
  }

  void submit(const std::string& line) {
    write_all(term_fd_, "\n");
    prompt_shown_ = false;
    const std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos) return show_prompt();
    std::string_view word = std::string_view(line).substr(first);
    word = word.substr(0, word.find_first_of(" \t"));
    quitting_ = word.size() == 4 && std::equal(word.begin(), word.end(), "QUIT",
                                               [](char a, char b) { return (a & ~0x20) == b; });
    waiting_ = true;
    send(line);
  }

  void on_signal() {
    signalfd_siginfo si;
    bool got = false;
    while (::read(signal_fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) got = true;
    if (!got || finished_) return;
    if (!interactive_ && outstanding_ > 0)
      return fail(std::string("interrupted (") + ::strsignal(static_cast<int>(si.ssi_signo)) +
                  ") before every reply arrived");
    if (prompt_shown_) write_all(term_fd_, "\n");
    prompt_shown_ = false;
    finish(status_);
  }

  torcon::Reactor& reactor_;
  const Options& opts_;
  torcon::Controller ctl_;
  const bool interactive_;
  const bool out_tty_;
  const int term_fd_;  // where the prompt and echo go
  int signal_fd_ = -1;
  int status_ = kExitOk;
  bool finished_ = false;
  std::size_t outstanding_ = 0;  // commands sent, reply not yet printed
  bool commands_sent_ = false;
  std::size_t subscriptions_accepted_ = 0;
  std::uint64_t events_seen_ = 0;
  bool events_done_ = false;
  bool authenticated_ = false;
  // Interactive mode.
  std::unique_ptr<LineEditor> editor_;
  bool watching_stdin_ = false;
  bool prompt_shown_ = false;
  bool waiting_ = false;  // a command is in flight
  bool quitting_ = false;
  std::string typeahead_;
};

}  // namespace

int main(int argc, char** argv) {
  if (torcon::tools::print_version_if_asked(argc, argv, "torcon-ctl")) return kExitOk;
  Options opts;
  bool help = false;
  if (auto e = parse_args(argc, argv, opts, help)) {
    error_line(e->message + "\nTry 'torcon-ctl --help'.");
    return kExitFailure;
  }
  if (help) {
    write_all(STDOUT_FILENO, kUsage);
    return kExitOk;
  }

  const bool interactive = opts.commands.empty() && ::isatty(STDIN_FILENO) == 1;
  if (opts.commands.empty() && !interactive && !read_stdin_commands(opts.commands))
    return kExitFailure;
  // Every command is checked before anything connects: one bad line means
  // nothing at all is sent.
  for (std::size_t i = 0; i < opts.commands.size(); ++i) {
    if (torcon::Status s = torcon::check_raw_command(opts.commands[i]); !s) {
      error_line("command " + std::to_string(i + 1) +
                 " refused, nothing sent: " + s.error().message);
      return kExitFailure;
    }
  }

  // Signals become readable bytes on a signalfd watched by the reactor, so
  // no work happens in a handler. Blocked before the reactor exists so that
  // any thread it might start inherits the mask.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGHUP);
  // A closed stdout (`torcon-ctl --events BW | head -3`) ends the run like
  // Ctrl-C, through the loop, so a raw terminal is restored too. Reset first:
  // an inherited SIG_IGN would discard it instead of queueing it.
  ::signal(SIGPIPE, SIG_DFL);
  sigaddset(&mask, SIGPIPE);
  int signal_fd = -1;
  if (::sigprocmask(SIG_BLOCK, &mask, nullptr) == 0)
    signal_fd = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd < 0) {
    error_line(std::string("signalfd: ") + std::strerror(errno));
    return kExitFailure;
  }

  if (opts.record) {
    opts.record_fd =
        ::open(opts.record->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
    if (opts.record_fd < 0) {
      error_line("--record: " + *opts.record + ": " + std::strerror(errno));
      return kExitFailure;
    }
  }

  torcon::ReactorOptions ro;
  ro.backend = opts.backend;
  auto reactor = torcon::Reactor::create(ro);
  if (!reactor) {
    error_line("cannot start the event loop: " + reactor.error().message);
    return kExitFailure;
  }

  int status;
  {
    Session session(**reactor, opts, interactive);
    status = session.run(signal_fd);
  }
  reactor->reset();  // before the signalfd goes: the reactor never owned it
  ::close(signal_fd);
  if (opts.record_fd >= 0 && ::close(opts.record_fd) != 0 && !g_record_failed) {
    error_line("--record: " + *opts.record + ": " + std::strerror(errno));
    g_record_failed = true;
  }
  return g_record_failed ? std::max(status, kExitFailure) : status;
}
