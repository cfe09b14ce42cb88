// Deterministic, seedable generator of realistic Tor control-port traffic.
//
// Output depends only on the options: the generator uses its own PRNG and integer-only
// arithmetic (no <random> distributions, no libm, no clock), so a seed yields the same
// bytes with any compiler, standard library or platform.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace torcon::gen {

struct NsAllOptions {
  std::size_t routers = 8000;
  std::uint64_t seed = 1;
};

// The complete reply tor sends to "GETINFO ns/all", CRLF line ends:
// "250+ns/all=\r\n" <entries, dot-stuffed> ".\r\n" "250 OK\r\n"
// Entries are sorted by identity, as in a consensus. Router #i (in generation order) does not
// depend on `routers`, so a larger network contains every router of a smaller one.
std::string ns_all_reply(const NsAllOptions& opts);

struct EventOptions {
  std::size_t events = 100000;
  std::uint64_t seed = 1;
};

// A stream of `events` asynchronous replies (650 ...\r\n), CIRC/STREAM/BW/ORCONN
// (plus a few CIRC_MINOR, STREAM_BW, CIRC_BW) with realistic lifecycles.
// Every event is a single "650 " line. The relays it names are routers of
// ns_all_reply({.seed = same seed}) whenever that network has at least 600 routers.
std::string event_stream(const EventOptions& opts);

}  // namespace torcon::gen
