// The terminal the monitor draws on, with plain ANSI escapes and termios (no
// curses, no new dependency): the alternate screen, no echo, no line
// buffering, the cursor hidden. A frame is composed in full and written with
// one write(), each line overwritten in place and cleared to its end, so the
// screen never flickers through a cleared state.
//
// restore() puts the terminal back as it was (also from the destructor); the
// monitor calls it on every way out, SIGINT and SIGTERM included (they reach
// the loop through a signalfd, so the normal exit path runs).
#pragma once

#include <termios.h>

#include <optional>
#include <string>
#include <vector>

namespace torcon::monitor {

class Terminal {
 public:
  // Takes over the terminal on `fd_in` / `fd_out`; nullopt (with the reason
  // in `error`) if either is not a terminal or termios refuses.
  static std::optional<Terminal> open(int fd_in, int fd_out, std::string& error);
  Terminal(Terminal&& other) noexcept;
  Terminal& operator=(Terminal&&) = delete;
  Terminal(const Terminal&) = delete;
  ~Terminal();

  // Columns and rows now (TIOCGWINSZ; 80x24 if it fails).
  void size(int& width, int& height) const;
  // Draws `lines` from the top-left; the rest of the screen is cleared.
  void draw(const std::vector<std::string>& lines) const;
  // Idempotent.
  void restore();

 private:
  Terminal(int in, int out, const termios& saved) : in_(in), out_(out), saved_(saved) {}
  int in_ = -1, out_ = -1;
  termios saved_{};
  bool active_ = true;
};

}  // namespace torcon::monitor
