// TorState's listeners: several of each kind, each seeing the state already
// updated; adding and removing listeners from inside a callback; a throwing
// listener does not stop the others.

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "state/state_fixture.hpp"
#include "torcon/tor_state.hpp"

namespace {

using torcon::Circuit;
using torcon::TorState;
using torcon::test::Feeder;
using torcon::test::long_name;

TEST(Listeners, EachSeesTheStateAlreadyUpdated) {
  TorState st;
  Feeder f(st);
  std::vector<std::string> log;
  for (int i = 0; i < 3; ++i) {
    st.on_circuit([&, i](const Circuit& c, torcon::CircuitChanges) {
      const Circuit* in_table = st.circuit(c.id());
      log.push_back(std::to_string(i) + ":" + std::string(c.state_text()) + ":" +
                    (in_table ? std::string(in_table->state_text()) : "gone"));
    });
  }
  ASSERT_TRUE(f.event("CIRC 1 LAUNCHED"));
  ASSERT_TRUE(f.event("CIRC 1 EXTENDED " + long_name(1, "a")));
  EXPECT_EQ(log, (std::vector<std::string>{"0:LAUNCHED:LAUNCHED", "1:LAUNCHED:LAUNCHED",
                                           "2:LAUNCHED:LAUNCHED", "0:EXTENDED:EXTENDED",
                                           "1:EXTENDED:EXTENDED", "2:EXTENDED:EXTENDED"}));
}

TEST(Listeners, AddAndRemoveFromInsideACallback) {
  TorState st;
  Feeder f(st);
  std::vector<std::string> log;
  TorState::ListenerId self = 0, other = 0;
  bool added = false;
  self = st.on_circuit([&](const Circuit& c, torcon::CircuitChanges) {
    log.push_back("self " + std::string(c.state_text()));
    if (!added) {
      added = true;
      st.on_circuit([&](const Circuit& c2, torcon::CircuitChanges) {
        log.push_back("new " + std::string(c2.state_text()));
      });
    }
    if (c.state() == torcon::CircStatus::extended) {
      EXPECT_TRUE(st.remove_listener(self));   // itself
      EXPECT_TRUE(st.remove_listener(other));  // one not yet called this round
      EXPECT_FALSE(st.remove_listener(other));
    }
  });
  other = st.on_circuit([&](const Circuit& c, torcon::CircuitChanges) {
    log.push_back("other " + std::string(c.state_text()));
  });
  ASSERT_TRUE(f.event("CIRC 1 LAUNCHED"));
  ASSERT_TRUE(f.event("CIRC 1 EXTENDED " + long_name(1, "a")));
  ASSERT_TRUE(f.event("CIRC 1 BUILT " + long_name(1, "a")));
  EXPECT_EQ(log, (std::vector<std::string>{"self LAUNCHED", "other LAUNCHED",  // new waits
                                           "self EXTENDED", "new EXTENDED", "new BUILT"}));
  EXPECT_FALSE(st.remove_listener(12345));
}

TEST(Listeners, AThrowingListenerDoesNotStopTheOthers) {
  TorState st;
  Feeder f(st);
  std::vector<std::string> errors;
  st.on_listener_error([&](std::string_view e) { errors.emplace_back(e); });
  int after = 0, streams = 0, routers = 0;
  st.on_circuit([](const Circuit&, torcon::CircuitChanges) { throw std::runtime_error("boom"); });
  st.on_circuit([&](const Circuit&, torcon::CircuitChanges) { ++after; });
  st.on_stream([](const torcon::Stream&, torcon::StreamChanges) { throw 42; });
  st.on_stream([&](const torcon::Stream&, torcon::StreamChanges) { ++streams; });
  st.on_router([](const torcon::Router&, torcon::RouterChange) { throw std::logic_error("r"); });
  st.on_router([&](const torcon::Router&, torcon::RouterChange) { ++routers; });
  ASSERT_TRUE(f.event("CIRC 1 LAUNCHED"));
  ASSERT_TRUE(f.event("STREAM 9 NEW 0 example.com:80 SOURCE_ADDR=127.0.0.1:1 PURPOSE=USER"));
  ASSERT_TRUE(f.event("CIRC 1 EXTENDED " + long_name(1, "a")));  // a placeholder router
  EXPECT_EQ(after, 2);
  EXPECT_EQ(streams, 1);
  EXPECT_EQ(routers, 1);
  EXPECT_EQ(errors, (std::vector<std::string>{"boom", "a listener threw a non-standard exception",
                                              "r", "boom"}));
  ASSERT_NE(st.circuit("1"), nullptr);
  EXPECT_EQ(st.circuit("1")->path().size(), 1u);  // the update completed
}

TEST(Listeners, RemovedListenersAreNotCalled) {
  TorState st;
  Feeder f(st);
  int calls = 0;
  auto id = st.on_stream([&](const torcon::Stream&, torcon::StreamChanges) { ++calls; });
  ASSERT_TRUE(f.event("STREAM 9 NEW 0 example.com:80"));
  EXPECT_TRUE(st.remove_listener(id));
  ASSERT_TRUE(f.event("STREAM 9 SENTCONNECT 3 example.com:80"));
  EXPECT_EQ(calls, 1);
}

}  // namespace
