// A generated 8,000-router ns/all and its generated event stream (torcon_gen)
// replayed through TorState: the tables at the end are what the events
// imply, read off the events independently of TorState's rules (the
// generator's events come in order, so each ID's last event decides).

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "gen/events.hpp"
#include "gen/network_status.hpp"
#include "state/state_fixture.hpp"
#include "torcon/tor_state.hpp"

namespace {

using torcon::TorState;

struct Expect {
  std::string state;
  std::size_t hops = 0;
  std::string circ;
};

TEST(Replay, GeneratedNetworkAndEvents) {
  const std::string ns = torcon::gen::ns_all_reply({.routers = 8000, .seed = 1});
  const std::string events = torcon::gen::event_stream({.events = 100000, .seed = 1});
  TorState st;
  torcon::test::Feeder f(st);
  ASSERT_TRUE(f.feed(ns));
  ASSERT_EQ(st.router_count(), 8000u);
  ASSERT_EQ(st.routers().size(), 8000u);

  // What the events say, from the events alone.
  std::map<std::string, Expect> circs, streams;
  std::set<std::string> circ_ended, stream_ended;
  std::size_t n_circ = 0, n_stream = 0;
  {
    torcon::ReplyReader reader;
    reader.feed(events);
    torcon::Reply r;
    torcon::Event ev;
    while (reader.next(r) == torcon::ReplyReader::Next::reply) {
      ASSERT_TRUE(torcon::parse_event(r, ev)) << r.lines[0].text;
      if (const auto* c = ev.get<torcon::CircEvent>()) {
        ++n_circ;
        const std::string id(c->id);
        if (c->status == "CLOSED" || c->status == "FAILED") {
          circs.erase(id);
          circ_ended.insert(id);
          continue;
        }
        Expect& e = circs[id];
        e.state = std::string(c->status);
        std::size_t hops =
            c->path.empty() ? 0 : std::count(c->path.begin(), c->path.end(), ',') + 1;
        e.hops = std::max(e.hops, hops);
      } else if (const auto* s = ev.get<torcon::StreamEvent>()) {
        ++n_stream;
        const std::string id(s->id);
        if (s->status == "CLOSED" || s->status == "FAILED") {
          streams.erase(id);
          stream_ended.insert(id);
          continue;
        }
        Expect& e = streams[id];
        e.state = std::string(s->status);
        e.circ = std::string(s->circ_id);
      }
    }
  }
  ASSERT_GT(n_circ, 1000u);
  ASSERT_GT(n_stream, 1000u);
  ASSERT_GT(circ_ended.size(), 100u);
  ASSERT_GT(stream_ended.size(), 100u);

  ASSERT_TRUE(f.feed(events));

  EXPECT_EQ(st.circuit_count(), circs.size());
  for (const auto& [id, e] : circs) {
    const torcon::Circuit* c = st.circuit(id);
    ASSERT_NE(c, nullptr) << "circuit " << id;
    EXPECT_EQ(c->state_text(), e.state) << "circuit " << id;
    EXPECT_EQ(c->path().size(), e.hops) << "circuit " << id;
    for (const torcon::Router* r : c->path()) {
      ASSERT_NE(r, nullptr);
      EXPECT_TRUE(r->in_consensus()) << "circuit " << id << " hop " << r->nickname();
    }
    for (const torcon::Stream* s : c->streams()) EXPECT_EQ(s->circuit(), c);
  }
  EXPECT_EQ(st.stream_count(), streams.size());
  for (const auto& [id, e] : streams) {
    const torcon::Stream* s = st.stream(id);
    ASSERT_NE(s, nullptr) << "stream " << id;
    EXPECT_EQ(s->state_text(), e.state) << "stream " << id;
    EXPECT_EQ(s->circuit_id(), e.circ) << "stream " << id;
    if (const torcon::Circuit* c = s->circuit()) {
      EXPECT_EQ(c->id(), e.circ);
      EXPECT_EQ(st.circuit(c->id()), c);
      EXPECT_NE(std::find(c->streams().begin(), c->streams().end(), s), c->streams().end());
    }
  }
  // Every relay the events name is in the generated consensus: no placeholders.
  EXPECT_EQ(st.routers().size(), 8000u);
}

}  // namespace
