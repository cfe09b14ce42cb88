// torcon-gen: writes deterministic, realistic Tor control-port traffic (raw
// wire bytes), a command line over the gen/ library.
//
//   torcon-gen ns-all [--routers N] [--client] [--seed S] [-o FILE]
//   torcon-gen consensus-microdesc [--routers N] [--seed S] [-o FILE]
//   torcon-gen events [--count M] [--seed S] [-o FILE]
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include "gen/events.hpp"
#include "gen/network_status.hpp"
#include "version_option.hpp"

namespace {

constexpr std::string_view kUsage =
    "usage: torcon-gen ns-all [--routers N] [--client] [--seed S] [-o FILE]\n"
    "       torcon-gen consensus-microdesc [--routers N] [--seed S] [-o FILE]\n"
    "       torcon-gen events [--count M] [--seed S] [-o FILE]\n"
    "\n"
    "Writes Tor control-port traffic exactly as tor 0.4.9 sends it on the wire\n"
    "(CRLF line ends). The same options always produce the same bytes.\n"
    "\n"
    "  ns-all               the reply to \"GETINFO ns/all\" for a network of N routers\n"
    "  consensus-microdesc  the reply to \"GETINFO dir/status-vote/current/consensus-microdesc\"\n"
    "                       for the same network: the whole consensus document\n"
    "  events               M asynchronous events (650 CIRC/STREAM/BW/ORCONN/...)\n"
    "  --routers N          routers in the network (default 8000)\n"
    "  --client             ns-all as a client answers, without server descriptors\n"
    "                       (no \"p\" lines); default: as a relay answers\n"
    "  --count M            number of events (default 100000)\n"
    "  --seed S             PRNG seed, 0..2^64-1 (default 1)\n"
    "  -o FILE              write to FILE instead of standard output\n"
    "  -h, --help           show this help\n"
    "  --version            print torcon-gen's version\n";

int usage_error(std::string_view msg) {
  std::fprintf(stderr, "torcon-gen: %.*s\n%.*s", static_cast<int>(msg.size()), msg.data(),
               static_cast<int>(kUsage.size()), kUsage.data());
  return 2;
}

bool parse_u64(std::string_view text, std::uint64_t& out) {
  if (text.empty()) return false;
  const auto res = std::from_chars(text.data(), text.data() + text.size(), out);
  return res.ec == std::errc() && res.ptr == text.data() + text.size();
}

bool write_all(std::FILE* f, const std::string& data) {
  return std::fwrite(data.data(), 1, data.size(), f) == data.size();
}

enum class Command { ns_all, consensus_microdesc, events };

}  // namespace

int main(int argc, char** argv) {
  namespace gen = torcon::gen;
  if (torcon::tools::print_version_if_asked(argc, argv, "torcon-gen")) return 0;
  if (argc < 2) return usage_error("missing command");
  const std::string_view name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
    return 0;
  }
  Command command;
  if (name == "ns-all") {
    command = Command::ns_all;
  } else if (name == "consensus-microdesc") {
    command = Command::consensus_microdesc;
  } else if (name == "events") {
    command = Command::events;
  } else {
    return usage_error("unknown command '" + std::string(name) + "'");
  }

  const bool network = command != Command::events;
  std::uint64_t count = network ? gen::NsAllOptions{}.routers : gen::EventOptions{}.events;
  std::uint64_t seed = 1;
  bool client = false;
  std::string output;
  const std::string_view count_flag = network ? "--routers" : "--count";
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
      return 0;
    }
    if (arg == "--client" && command == Command::ns_all) {
      client = true;
      continue;
    }
    const bool takes_value = arg == count_flag || arg == "--seed" || arg == "-o";
    if (!takes_value) return usage_error("unknown option '" + std::string(arg) + "'");
    if (i + 1 >= argc) return usage_error("option '" + std::string(arg) + "' needs a value");
    const std::string_view value = argv[++i];
    if (arg == "-o") {
      if (value.empty()) return usage_error("-o needs a file name");
      output = value;
    } else if (!parse_u64(value, arg == "--seed" ? seed : count)) {
      return usage_error("option '" + std::string(arg) + "' needs a non-negative integer, got '" +
                         std::string(value) + "'");
    }
  }
  // A size_t narrower than 64 bits could silently truncate the count.
  if (count > SIZE_MAX) return usage_error("count too large");

  std::string data;
  try {
    const auto n = static_cast<std::size_t>(count);
    switch (command) {
      case Command::ns_all:
        data = gen::ns_all_reply({.routers = n, .seed = seed, .descriptors = !client});
        break;
      case Command::consensus_microdesc:
        data = gen::microdesc_consensus_reply({.routers = n, .seed = seed});
        break;
      case Command::events: data = gen::event_stream({.events = n, .seed = seed}); break;
    }
  } catch (const std::exception& e) {  // bad_alloc, length_error: the count is too large
    std::fprintf(stderr, "torcon-gen: cannot generate %llu %s: %s\n",
                 static_cast<unsigned long long>(count), network ? "routers" : "events", e.what());
    return 1;
  }

  std::FILE* f = output.empty() ? stdout : std::fopen(output.c_str(), "wb");
  if (f == nullptr) {
    std::perror(("torcon-gen: " + output).c_str());
    return 1;
  }
  const bool ok = write_all(f, data);
  const bool closed = output.empty() ? std::fflush(f) == 0 : std::fclose(f) == 0;
  if (!ok || !closed) {
    std::perror(("torcon-gen: writing " + (output.empty() ? "<stdout>" : output)).c_str());
    return 1;
  }
  return 0;
}
