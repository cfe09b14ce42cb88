#include "country_attacher.hpp"

#include "torcon/circuit.hpp"
#include "torcon/router.hpp"
#include "torcon/stream.hpp"

namespace country_attacher {

CountryAttacher::CountryAttacher(torcon::Reactor& reactor, torcon::Controller& controller,
                                 torcon::TorState& state, torcon::GeoIpLocator& geo)
    : state_(state), geo_(geo), builder_(reactor, controller, state), attacher_(state, controller) {
  attacher_.add([this](torcon::AttachRequest& req) { return decide(req); });
}

void CountryAttacher::install(std::function<void(const torcon::Status&)> done) {
  attacher_.install(std::move(done));
}

const torcon::Router* CountryAttacher::exit_in(const std::string& country) {
  const torcon::Router* found = nullptr;
  state_.for_each_router([&](const torcon::Router& r) {
    if (found || !r.in_consensus() || !r.flags().has(torcon::RouterFlag::Exit) ||
        !r.flags().has(torcon::RouterFlag::Running))
      return;
    if (geo_.locate(r).country_code == country) found = &r;
  });
  return found;
}

std::string CountryAttacher::circuit_ending_at(const torcon::Router& exit) const {
  for (const torcon::Circuit* c : state_.circuits()) {
    if (c->state() != torcon::CircStatus::built || c->purpose() != "GENERAL" ||
        c->path().size() < 2 || c->path().back() != &exit)
      continue;
    return std::string(c->id());
  }
  return "";
}

// Any other running relay that is not an exit (an exit may refuse to be a
// first hop for nothing, but a plain relay never does).
const torcon::Router* CountryAttacher::first_hop_for(const torcon::Router& exit) const {
  const torcon::Router* hop = nullptr;
  state_.for_each_router([&](const torcon::Router& r) {
    if (hop || &r == &exit || !r.in_consensus() || !r.flags().has(torcon::RouterFlag::Running) ||
        r.flags().has(torcon::RouterFlag::Exit))
      return;
    hop = &r;
  });
  return hop;
}

torcon::AttachDecision CountryAttacher::decide(torcon::AttachRequest& req) {
  const torcon::Stream& s = req.stream();
  Placement p;
  p.stream_id = std::string(req.stream_id());
  p.target = std::string(s.target_host()) + ":" + std::to_string(s.target_port());
  auto where = geo_.lookup(s.target_host());
  if (!where || where->country_code.empty()) {
    p.failure = "destination's country unknown: tor chooses";
    if (report_) report_(p);
    return torcon::AttachDecision::tor_chooses();
  }
  p.country = where->country_code;
  const torcon::Router* exit = exit_in(p.country);
  if (!exit) {
    p.failure = "no exit in " + p.country;
    if (report_) report_(p);
    return torcon::AttachDecision::close(torcon::StreamCloseReason::no_route);
  }
  p.exit_fingerprint = exit->fingerprint();
  if (std::string id = circuit_ending_at(*exit); !id.empty()) {
    p.circuit_id = id;
    if (report_) report_(p);
    return torcon::AttachDecision::circuit(id);
  }
  p.built = true;
  auto& waiting = building_[p.exit_fingerprint];
  waiting.push_back(Waiting{req.defer(), std::move(p)});
  if (waiting.size() == 1) build_to(*exit);
  return torcon::AttachDecision::later();
}

void CountryAttacher::build_to(const torcon::Router& exit) {
  const std::string fp = exit.fingerprint();
  auto finish = [this, fp](const std::string& circuit, const std::string& failure) {
    auto node = building_.extract(fp);
    if (node.empty()) return;
    for (Waiting& w : node.mapped()) {
      w.placement.circuit_id = circuit;
      w.placement.failure = failure;
      if (circuit.empty())
        w.pending.decide(torcon::AttachDecision::close(torcon::StreamCloseReason::no_route));
      else
        w.pending.decide(torcon::AttachDecision::circuit(circuit));
      if (report_) report_(w.placement);
    }
  };
  const torcon::Router* hop = first_hop_for(exit);
  if (!hop) return finish("", "no relay for the first hop");
  const torcon::Router* path[] = {hop, &exit};
  builder_.build(std::span<const torcon::Router* const>(path), {},
                 [finish](const torcon::CircuitOutcome& r) {
                   if (r)
                     finish(r.id, "");
                   else
                     finish("", "building a circuit failed: " + r.error.message);
                 });
}

std::string format(const Placement& p) {
  std::string line = "stream " + p.stream_id + " -> " + p.target + " [" +
                     (p.country.empty() ? "??" : p.country) + "]";
  if (!p.failure.empty()) return line + ": " + p.failure;
  line += " circuit " + p.circuit_id + " via $" + p.exit_fingerprint;
  if (p.built) line += " (built for it)";
  return line;
}

}  // namespace country_attacher
