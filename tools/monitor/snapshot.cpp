#include "monitor/snapshot.hpp"

#include <algorithm>
#include <ctime>

#include "monitor/live_feed.hpp"
#include "torcon/tor_state.hpp"

namespace torcon::monitor {

namespace {

// Circuit and stream IDs are numbers in tor, shown in numeric order; IDs
// that are not (the spec allows letters) sort after, as text.
bool id_less(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

std::string utc_text(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

StreamView stream_view(const TorState& state, const Stream& s, const Lookups& lookups) {
  StreamView v;
  v.id = std::string(s.id());
  v.target = std::string(state.hostname(s)) + ":" + std::to_string(s.target_port());
  v.state = std::string(s.state_text());
  // stream-status lines carry no SOURCE_ADDR: such a stream's source stays
  // unknown until an event for it names one.
  if (s.is_internal() || s.source_address().empty())
    v.source = std::string(s.source_address());
  else
    v.source = std::string(s.source_address()) + ":" + std::to_string(s.source_port());
  if (lookups.process) v.process = lookups.process(s);
  return v;
}

}  // namespace

Snapshot capture(const TorState& state, const LiveFeed& feed,
                 std::chrono::system_clock::time_point now, const Lookups& lookups) {
  Snapshot snap;
  snap.version = feed.version();
  snap.bootstrap_progress = feed.bootstrap_progress();
  snap.bootstrap_summary = feed.bootstrap_summary();
  snap.uptime = feed.uptime(now);
  snap.pid = state.tor_pid();
  snap.routers = state.router_count();
  snap.bandwidth.assign(feed.bandwidth().begin(), feed.bandwidth().end());

  auto country = [&](const Router* r) {
    return r && lookups.country ? lookups.country(*r) : std::string();
  };

  for (const Circuit* c : state.circuits()) {
    CircuitView cv;
    cv.id = std::string(c->id());
    cv.state = std::string(c->state_text());
    cv.purpose = std::string(c->purpose());
    if (const auto created = c->time_created()) {
      const auto age = std::chrono::duration_cast<std::chrono::seconds>(now - *created);
      cv.age = age.count() < 0 ? std::chrono::seconds(0) : age;
    }
    for (const Router* hop : c->path()) {
      if (hop)
        cv.path.push_back({std::string(hop->nickname()), hop->fingerprint(), country(hop)});
      else
        cv.path.push_back({"?", "", ""});
    }
    for (const Stream* s : c->streams()) cv.streams.push_back(stream_view(state, *s, lookups));
    std::sort(cv.streams.begin(), cv.streams.end(),
              [](const StreamView& a, const StreamView& b) { return id_less(a.id, b.id); });
    snap.circuits.push_back(std::move(cv));
  }
  std::sort(snap.circuits.begin(), snap.circuits.end(),
            [](const CircuitView& a, const CircuitView& b) { return id_less(a.id, b.id); });

  for (const Stream* s : state.streams())
    if (!s->circuit()) snap.detached_streams.push_back(stream_view(state, *s, lookups));
  std::sort(snap.detached_streams.begin(), snap.detached_streams.end(),
            [](const StreamView& a, const StreamView& b) { return id_less(a.id, b.id); });

  for (const Guard& g : state.guards()) {
    GuardView gv;
    if (g.router) {
      gv.nickname = std::string(g.router->nickname());
      gv.fingerprint = g.router->fingerprint();
    }
    gv.status = g.status;
    gv.country = country(g.router);
    snap.guards.push_back(std::move(gv));
  }

  for (const std::string& address : feed.mapped_addresses()) {
    const AddressMapping* m = state.address_mapping(address);
    if (!m) continue;  // expired since the feed was told
    snap.mappings.push_back(
        {m->address, m->target, m->expires ? utc_text(*m->expires) : std::string("never")});
  }

  snap.log.assign(feed.log().begin(), feed.log().end());
  return snap;
}

}  // namespace torcon::monitor
