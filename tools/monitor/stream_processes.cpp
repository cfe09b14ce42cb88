#include "monitor/stream_processes.hpp"

#include "torcon/local_process.hpp"
#include "torcon/stream.hpp"

namespace torcon::monitor {

std::string StreamProcesses::process(const Stream& stream, std::optional<std::uint64_t> tor_pid) {
  if (stream.source_address().empty()) return {};
  const std::string source =
      std::string(stream.source_address()) + ":" + std::to_string(stream.source_port());
  auto it = known_.find(stream.id());
  if (it != known_.end() && it->second.first == source) return it->second.second;
  // Stream IDs are not reused while tor runs; the table only grows with the
  // streams seen, and is reset when it gets large.
  if (known_.size() > 4096) known_.clear();
  LocalProcessOptions o;
  o.tor_pid = tor_pid;
  std::string text;
  Expected<LocalProcess> p = process_of_stream(stream, o);
  if (p) {
    std::string name;
    if (!p->executable.empty())
      name = p->executable.substr(p->executable.rfind('/') + 1);
    else if (!p->command_line.empty())
      name = p->command_line[0].substr(p->command_line[0].rfind('/') + 1);
    text = std::to_string(p->pid) + (name.empty() ? "" : " " + name);
  } else if (p.error().code == Errc::not_permitted) {
    text = "(not permitted)";
  }
  known_[std::string(stream.id())] = {source, text};
  return text;
}

}  // namespace torcon::monitor
