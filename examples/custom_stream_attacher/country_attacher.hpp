// A stream attacher that sends each stream out through an exit in the
// country of the stream's destination: the destination's country from a
// GeoIpLocator; an exit of that country from the TorState's relays (each
// located once, cached by the locator); a BUILT general circuit ending at
// such an exit if there is one, else a new two-hop circuit [first hop,
// exit] built for it (streams arriving meanwhile wait for the same build).
// A destination whose country is unknown goes wherever tor chooses; one
// whose country has no exit is closed (NOROUTE), never sent elsewhere.
//
// Used by main.cpp (the program) and by its acceptance test.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "torcon/circuit_builder.hpp"
#include "torcon/geoip.hpp"
#include "torcon/stream_attacher.hpp"
#include "torcon/tor_state.hpp"

namespace country_attacher {

// One decision, for the log (and the test).
struct Placement {
  std::string stream_id, target;  // target: "host:port"
  std::string country;            // the destination's, "" unknown
  std::string circuit_id;         // "" when not attached
  std::string exit_fingerprint;   // the circuit's last hop
  bool built = false;             // the circuit was built for it
  std::string failure;            // why it was not attached ("" if it was)
};

class CountryAttacher {
 public:
  // All must outlive the attacher; `state` attached to `controller`.
  CountryAttacher(torcon::Reactor& reactor, torcon::Controller& controller, torcon::TorState& state,
                  torcon::GeoIpLocator& geo);
  // Starts answering tor's streams; `done` gets SETCONF's outcome.
  void install(std::function<void(const torcon::Status&)> done);
  // Every decision, as it is made.
  void on_placement(std::function<void(const Placement&)> fn) { report_ = std::move(fn); }

 private:
  torcon::AttachDecision decide(torcon::AttachRequest& req);
  const torcon::Router* exit_in(const std::string& country);
  std::string circuit_ending_at(const torcon::Router& exit) const;
  const torcon::Router* first_hop_for(const torcon::Router& exit) const;
  void build_to(const torcon::Router& exit);

  struct Waiting {
    torcon::PendingAttach pending;
    Placement placement;
  };
  torcon::TorState& state_;
  torcon::GeoIpLocator& geo_;
  torcon::CircuitBuilder builder_;
  torcon::StreamAttacher attacher_;
  std::function<void(const Placement&)> report_;
  // Builds in flight, by exit fingerprint, with the streams waiting for them.
  std::map<std::string, std::vector<Waiting>> building_;
};

// "stream 12 -> 127.0.0.7:80 [SE] circuit 5 via $FP (built)" and the like.
std::string format(const Placement& p);

}  // namespace country_attacher
