// The monitor's text: a Snapshot as lines, for one view of the terminal
// (render_view) or as the plain snapshot printed by --once and when stdout is
// not a terminal (render_text). No terminal escapes here: tor's text is
// shown with every byte outside printable ASCII as '?', so a relay's
// nickname or a log line cannot drive the user's terminal, and a column is
// a byte.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "monitor/snapshot.hpp"

namespace torcon::monitor {

enum class View { overview, circuits, guards, log };

// One screen: at most `height` lines, none longer than `width` columns.
std::vector<std::string> render_view(const Snapshot& snap, View view, int width, int height);

// Every section, one after the other, lines at most `width` columns.
std::string render_text(const Snapshot& snap, int width = 120);

// "0 B", "512 B", "1.5 KiB", "12.0 MiB".
std::string byte_text(std::uint64_t bytes);
// "42s", "3m07s", "2h03m", "4d05h".
std::string duration_text(std::int64_t seconds);

}  // namespace torcon::monitor
