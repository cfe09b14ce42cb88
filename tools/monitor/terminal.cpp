#include "monitor/terminal.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace torcon::monitor {

namespace {

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Alternate screen, cursor hidden, cursor home.
constexpr std::string_view kEnter = "\x1b[?1049h\x1b[?25l\x1b[H";
// Attributes reset, cursor shown, main screen back.
constexpr std::string_view kLeave = "\x1b[0m\x1b[?25h\x1b[?1049l";

}  // namespace

std::optional<Terminal> Terminal::open(int fd_in, int fd_out, std::string& error) {
  if (!::isatty(fd_in) || !::isatty(fd_out)) {
    error = "not a terminal";
    return std::nullopt;
  }
  termios saved{};
  if (::tcgetattr(fd_in, &saved) != 0) {
    error = std::string("tcgetattr: ") + std::strerror(errno);
    return std::nullopt;
  }
  termios raw = saved;
  // Keys one at a time and unechoed; ISIG stays on only in the sense that
  // Ctrl-C still raises SIGINT, which the monitor turns into a clean exit.
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
  raw.c_cc[VMIN] = 0;
  raw.c_cc[VTIME] = 0;
  if (::tcsetattr(fd_in, TCSAFLUSH, &raw) != 0) {
    error = std::string("tcsetattr: ") + std::strerror(errno);
    return std::nullopt;
  }
  write_all(fd_out, kEnter);
  return Terminal(fd_in, fd_out, saved);
}

Terminal::Terminal(Terminal&& other) noexcept
    : in_(other.in_), out_(other.out_), saved_(other.saved_), active_(other.active_) {
  other.active_ = false;
}

Terminal::~Terminal() { restore(); }

void Terminal::restore() {
  if (!active_) return;
  active_ = false;
  write_all(out_, kLeave);
  ::tcsetattr(in_, TCSAFLUSH, &saved_);
}

void Terminal::size(int& width, int& height) const {
  winsize ws{};
  if (::ioctl(out_, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
    width = ws.ws_col;
    height = ws.ws_row;
  } else {
    width = 80;
    height = 24;
  }
}

void Terminal::draw(const std::vector<std::string>& lines) const {
  std::string frame = "\x1b[H";
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i) frame += "\r\n";
    frame += lines[i];
    frame += "\x1b[K";  // the rest of the line: the previous frame's tail goes
  }
  frame += "\x1b[J";  // and every line below the last
  write_all(out_, frame);
}

}  // namespace torcon::monitor
