// What the monitor shows, captured at one instant as plain values: built
// from a TorState and a LiveFeed by capture(), drawn by render.hpp.
//
// Copying the values out (instead of drawing straight from TorState's
// pointers) means a frame never looks at state that changes while it is being
// composed, and tests can build and compare one without a tor or a terminal.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace torcon {
class TorState;
class Router;
class Stream;
}  // namespace torcon

namespace torcon::monitor {

class LiveFeed;

struct HopView {
  std::string nickname;
  std::string fingerprint;  // 40 hex
  std::string country;      // "de", "??" (tor knows none), "" (not looked up yet)
};

struct StreamView {
  std::string id;
  std::string target;  // the host the application asked for, ":port"
  std::string state;
  std::string source;   // "127.0.0.1:45678", "(Tor_internal)", or "" (tor did not say)
  std::string process;  // "1234 curl", or "" when unknown
};

struct CircuitView {
  std::string id;
  std::string state;
  std::string purpose;
  std::optional<std::chrono::seconds> age;  // from TIME_CREATED
  std::vector<HopView> path;
  std::vector<StreamView> streams;
};

struct GuardView {
  std::string nickname;
  std::string fingerprint;
  std::string status;
  std::string country;
};

struct MappingView {
  std::string address;
  std::string target;
  std::string expires;  // "2026-12-03 07:12:00" UTC, or "never"
};

struct LogLine {
  std::string time;  // "HH:MM:SS" UTC, when the monitor received it
  std::string severity;
  std::string message;
};

struct BandwidthSample {
  std::uint64_t read = 0, written = 0;  // bytes in one second
};

struct Snapshot {
  std::string version;          // "" until tor said
  int bootstrap_progress = -1;  // -1: unknown
  std::string bootstrap_summary;
  std::optional<std::chrono::seconds> uptime;
  std::optional<std::uint64_t> pid;
  std::size_t routers = 0;                   // in the consensus
  std::vector<BandwidthSample> bandwidth;    // one per second, oldest first
  std::vector<CircuitView> circuits;         // by numeric id
  std::vector<StreamView> detached_streams;  // not on any circuit now
  std::vector<GuardView> guards;             // tor's order
  std::vector<MappingView> mappings;         // by address
  std::vector<LogLine> log;                  // oldest first
};

// How capture() names what TorState does not know. Either may be empty.
struct Lookups {
  std::function<std::string(const Router&)> country;  // "" if not known (yet)
  std::function<std::string(const Stream&)> process;  // "" if not found
};

Snapshot capture(const TorState& state, const LiveFeed& feed,
                 std::chrono::system_clock::time_point now, const Lookups& lookups = {});

}  // namespace torcon::monitor
