// Asynchronous events as tor 0.4.9 sends them to a controller, from a
// discrete-event simulation of a relay that is also used as a client by a
// browser and a few applications (control-spec 4.1).
//
// What the simulation reproduces, besides plain circuits and streams:
//   - conflux: most web streams ride linked sets of two legs to one exit
//     (CIRC ... PURPOSE=CONFLUX_UNLINKED, then CIRC_MINOR PURPOSE_CHANGED to
//     CONFLUX_LINKED; CONFLUX_ID on every leg's event, CONFLUX_RTT once
//     linked); legs that fail are relaunched;
//   - vanguards-lite: preemptive internal circuits are PURPOSE=HS_VANGUARDS
//     through a small fixed set of second hops, cannibalized for onion
//     services (PURPOSE_CHANGED + CANNIBALIZED), whose circuits carry
//     HS_POW=v1,<effort> when the service asks for proof of work;
//   - stream isolation fields on every STREAM event (CLIENT_PROTOCOL,
//     NYM_EPOCH, SESSION_GROUP, ISO_FIELDS), SOCKS_USERNAME/SOCKS_PASSWORD
//     when the client sent credentials (some need escaping), directory
//     streams to "<ip>.$<fingerprint>.exit:<port>", DANGEROUS_SOCKS warnings
//     for applications that resolve names themselves;
//   - BW once a second, STREAM_BW, CIRC_BW with congestion-control fields,
//     ORCONN, NEWNYM, build timeouts, guard connection loss, status events.
// Output is a pure function of the options (gen/random.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace torcon::gen {

struct EventOptions {
  std::size_t events = 100000;
  std::uint64_t seed = 1;
};

// `events` asynchronous replies ("650 ..." CRLF, each a single line): mostly
// CIRC, STREAM, BW and ORCONN, plus CIRC_MINOR, STREAM_BW, CIRC_BW, SIGNAL
// and STATUS_*. A shorter stream is a prefix of a longer one with the same
// seed. The relays it names are relays of the network of
// ns_all_reply({.seed = same seed}) (gen/network_status.hpp) whenever that
// network has at least 600 routers.
std::string event_stream(const EventOptions& opts);

}  // namespace torcon::gen
