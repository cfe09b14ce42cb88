// An exit scan (what exitmap does), with torcon: for every exit in tor's
// consensus at once, a two-hop circuit [first hop, exit]; one SOCKS
// connection per circuit to a target, its stream attached to that circuit by
// its source port; a fetch; then the circuits are closed. Each exit ends as
// "ok" (with the fetch's duration) or "failed" with a reason: an exit whose
// policy refuses the target's port sends the stream back (tor's DETACHED ...
// REMOTE_REASON=EXITPOLICY), which the scan reports and closes, never waits on.
//
// Used by main.cpp (the program) and by its acceptance test.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "torcon/expected.hpp"

namespace torcon {
class CircuitBuilder;
class Controller;
class Reactor;
class TorState;
}  // namespace torcon

namespace exit_scan {

struct ScanOptions {
  std::uint16_t socks_port = 0;              // the tor's SocksPort on 127.0.0.1
  std::string target_host = "127.0.0.1";     // an IPv4 address or a host name
  std::uint16_t target_port = 80;            // an HTTP server: GET / is sent
  std::string first_hop;                     // "$FP"; "" = a non-exit relay of the consensus
  std::chrono::milliseconds timeout{60000};  // for the whole scan
};

struct ExitResult {
  std::string fingerprint, nickname;  // 40 upper-case hex, as the consensus says
  bool policy_allows = false;         // what the consensus summary says of target_port
  bool ok = false;
  std::chrono::milliseconds took{0};  // ok: SOCKS connect to the end of the HTTP response
  std::string reason;                 // failed: why (tor's reason where tor gave one)
  std::string circuit_id;             // the circuit built for it ("" if none)
  std::uint16_t source_port = 0;      // the SOCKS connection's local port
  // Where the stream left, as tor's STREAM events say: the last hop of the
  // circuit the stream was attached to when it SUCCEEDED ("" if it never did).
  std::string left_through;
};

struct ScanReport {
  std::vector<ExitResult> exits;  // in the consensus' order of fingerprints
  torcon::Status status;          // a failure of the scan itself (no exits, no first hop, ...)
};

// Runs on `reactor` (the Controller's) with a TorState already attached to
// `controller`; `done` runs once, from the loop.
void scan(torcon::Reactor& reactor, torcon::Controller& controller, torcon::TorState& state,
          const ScanOptions& options, std::function<void(const ScanReport&)> done);

// One line per exit, "<fingerprint> <nickname> ok <ms>" or
// "<fingerprint> <nickname> failed <reason>", then the summary.
std::string format_report(const ScanReport& report);

}  // namespace exit_scan
