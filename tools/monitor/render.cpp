#include "monitor/render.hpp"

#include <algorithm>
#include <cstdio>

namespace torcon::monitor {

namespace {

using Lines = std::vector<std::string>;

std::string clean(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) c = '?';
  }
  return out;
}

std::string fit(std::string s, int width) {
  if (width < 0) width = 0;
  if (s.size() > static_cast<std::size_t>(width)) s.resize(static_cast<std::size_t>(width));
  return s;
}

std::string pad(std::string_view s, std::size_t n) {
  std::string out(s);
  if (out.size() < n) out.append(n - out.size(), ' ');
  return out;
}

std::string hop_text(const HopView& h) {
  std::string out = clean(h.nickname);
  if (!h.country.empty()) out += " (" + clean(h.country) + ")";
  return out;
}

std::string stream_line(const StreamView& s) {
  std::string out = "    stream " + pad(clean(s.id), 4) + " " + pad(clean(s.state), 11) + " " +
                    pad(clean(s.target), 22);
  if (!s.source.empty()) out += " from " + clean(s.source);
  if (!s.process.empty()) out += "  " + clean(s.process);
  return out;
}

std::string status_line(const Snapshot& snap) {
  std::string out = snap.version.empty() ? "tor ?" : "tor " + clean(snap.version);
  if (snap.pid) out += "   pid " + std::to_string(*snap.pid);
  if (snap.uptime) out += "   up " + duration_text(snap.uptime->count());
  out += "   bootstrap ";
  if (snap.bootstrap_progress < 0)
    out += "?";
  else
    out += std::to_string(snap.bootstrap_progress) + "%";
  if (!snap.bootstrap_summary.empty()) out += " (" + clean(snap.bootstrap_summary) + ")";
  out += "   routers " + std::to_string(snap.routers);
  return out;
}

std::string counts_line(const Snapshot& snap) {
  std::size_t built = 0, streams = snap.detached_streams.size();
  for (const CircuitView& c : snap.circuits) {
    if (c.state == "BUILT") ++built;
    streams += c.streams.size();
  }
  return "circuits " + std::to_string(snap.circuits.size()) + " (" + std::to_string(built) +
         " built)   streams " + std::to_string(streams) + "   guards " +
         std::to_string(snap.guards.size()) + "   address map " +
         std::to_string(snap.mappings.size());
}

std::string traffic_line(const Snapshot& snap) {
  if (snap.bandwidth.empty()) return "traffic: no BW event yet";
  const BandwidthSample& last = snap.bandwidth.back();
  std::uint64_t read = 0, written = 0;
  for (const BandwidthSample& s : snap.bandwidth) {
    read += s.read;
    written += s.written;
  }
  return "traffic: down " + byte_text(last.read) + "/s  up " + byte_text(last.written) +
         "/s   last " + duration_text(static_cast<std::int64_t>(snap.bandwidth.size())) +
         ": down " + byte_text(read) + "  up " + byte_text(written);
}

// Download and upload graphs side by side, newest second at the right, each
// scaled to its own peak over the seconds shown.
void append_graph(Lines& out, const Snapshot& snap, int width, int rows) {
  if (rows < 1 || width < 20) return;
  const int cols = (width - 3) / 2;
  const std::size_t n = std::min(snap.bandwidth.size(), static_cast<std::size_t>(cols));
  const std::size_t first = snap.bandwidth.size() - n;
  std::uint64_t peak_read = 0, peak_written = 0;
  for (std::size_t i = first; i < snap.bandwidth.size(); ++i) {
    peak_read = std::max(peak_read, snap.bandwidth[i].read);
    peak_written = std::max(peak_written, snap.bandwidth[i].written);
  }
  out.push_back(pad("download (peak " + byte_text(peak_read) + "/s)", std::size_t(cols) + 3) +
                "upload (peak " + byte_text(peak_written) + "/s)");
  auto column = [&](std::string& line, bool read, int row) {
    const std::size_t blank = static_cast<std::size_t>(cols) - n;
    line.append(blank, ' ');
    const std::uint64_t peak = read ? peak_read : peak_written;
    for (std::size_t i = first; i < snap.bandwidth.size(); ++i) {
      const std::uint64_t v = read ? snap.bandwidth[i].read : snap.bandwidth[i].written;
      // Row `row` (1 = bottom) is lit when the value reaches its lower half.
      const bool lit =
          peak > 0 && v > 0 && v * 2 * std::uint64_t(rows) >= peak * (2 * std::uint64_t(row) - 1);
      line.push_back(lit ? '#' : ' ');
    }
  };
  for (int row = rows; row >= 1; --row) {
    std::string line;
    column(line, true, row);
    line += " | ";
    column(line, false, row);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out.push_back(std::move(line));
  }
}

void append_circuits(Lines& out, const Snapshot& snap) {
  if (snap.circuits.empty())
    out.push_back("(no circuits)");
  else
    out.push_back("ID    STATE      AGE     PURPOSE              PATH");
  for (const CircuitView& c : snap.circuits) {
    std::string path;
    for (const HopView& h : c.path) {
      if (!path.empty()) path += " > ";
      path += hop_text(h);
    }
    out.push_back(pad(clean(c.id), 5) + " " + pad(clean(c.state), 10) + " " +
                  pad(c.age ? duration_text(c.age->count()) : "-", 7) + " " +
                  pad(clean(c.purpose), 20) + " " + path);
    for (const StreamView& s : c.streams) out.push_back(stream_line(s));
  }
  if (!snap.detached_streams.empty()) {
    out.push_back("streams not on a circuit:");
    for (const StreamView& s : snap.detached_streams) out.push_back(stream_line(s));
  }
}

void append_guards(Lines& out, const Snapshot& snap) {
  if (snap.guards.empty())
    out.push_back("(no entry guards)");
  else
    out.push_back(
        "GUARD                FINGERPRINT                               STATUS           CC");
  for (const GuardView& g : snap.guards)
    out.push_back(pad(clean(g.nickname), 20) + " " + pad(clean(g.fingerprint), 41) + " " +
                  pad(clean(g.status), 16) + " " + clean(g.country));
}

void append_mappings(Lines& out, const Snapshot& snap) {
  if (snap.mappings.empty())
    out.push_back("(address map empty)");
  else
    out.push_back("ADDRESS                        TARGET                  EXPIRES (UTC)");
  for (const MappingView& m : snap.mappings)
    out.push_back(pad(clean(m.address), 30) + " " + pad(clean(m.target), 23) + " " +
                  clean(m.expires));
}

void append_log(Lines& out, const Snapshot& snap, std::size_t last) {
  if (snap.log.empty()) out.push_back("(no NOTICE, WARN or ERR yet)");
  const std::size_t first = snap.log.size() > last ? snap.log.size() - last : 0;
  for (std::size_t i = first; i < snap.log.size(); ++i)
    out.push_back(snap.log[i].time + " " + pad(snap.log[i].severity, 6) + " " +
                  clean(snap.log[i].message));
}

constexpr const char* kViewNames[] = {"1 overview", "2 circuits", "3 guards/address map", "4 log"};

}  // namespace

std::string byte_text(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (v >= 1024.0 && unit + 1 < std::size(kUnits)) {
    v /= 1024.0;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  return buf;
}

std::string duration_text(std::int64_t s) {
  if (s < 0) s = 0;
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  else if (s < 86400)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  else
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s / 3600 % 24));
  return buf;
}

std::vector<std::string> render_view(const Snapshot& snap, View view, int width, int height) {
  Lines out;
  if (width < 1 || height < 1) return out;
  std::string tabs;
  for (int i = 0; i < 4; ++i) {
    const bool on = static_cast<int>(view) == i;
    tabs += on ? std::string("[") + kViewNames[i] + "]" : std::string(" ") + kViewNames[i] + " ";
    tabs += " ";
  }
  out.push_back(status_line(snap));
  out.push_back(tabs + "  q quit");
  out.push_back("");
  const int body = height - static_cast<int>(out.size());
  switch (view) {
    case View::overview: {
      out.push_back(counts_line(snap));
      out.push_back(traffic_line(snap));
      out.push_back("");
      // The graph takes up to 12 rows; the newest log lines fill the rest,
      // as in nyx.
      const int left = height - static_cast<int>(out.size()) - 1;
      append_graph(out, snap, width, std::max(1, std::min(12, left)));
      const int log_rows = height - static_cast<int>(out.size()) - 2;
      if (log_rows > 0) {
        out.push_back("");
        append_log(out, snap, static_cast<std::size_t>(log_rows));
      }
      break;
    }
    case View::circuits: append_circuits(out, snap); break;
    case View::guards:
      append_guards(out, snap);
      out.push_back("");
      append_mappings(out, snap);
      break;
    case View::log: append_log(out, snap, static_cast<std::size_t>(std::max(body, 0))); break;
  }
  if (out.size() > static_cast<std::size_t>(height)) out.resize(static_cast<std::size_t>(height));
  for (std::string& line : out) line = fit(std::move(line), width);
  return out;
}

std::string render_text(const Snapshot& snap, int width) {
  Lines out;
  out.push_back(status_line(snap));
  out.push_back(counts_line(snap));
  out.push_back(traffic_line(snap));
  append_graph(out, snap, width, 5);
  out.push_back("");
  out.push_back("== circuits");
  append_circuits(out, snap);
  out.push_back("");
  out.push_back("== entry guards");
  append_guards(out, snap);
  out.push_back("");
  out.push_back("== address map");
  append_mappings(out, snap);
  out.push_back("");
  out.push_back("== log (last 10)");
  append_log(out, snap, 10);
  std::string text;
  for (std::string& line : out) {
    text += fit(std::move(line), width);
    text += '\n';
  }
  return text;
}

}  // namespace torcon::monitor
