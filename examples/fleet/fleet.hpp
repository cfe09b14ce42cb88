// A fleet of tors driven from one reactor thread: N tors launched at once
// (launch_tor), each with its own authenticated Controller, commands sent to
// all of them back to back (pipelined: every tor works while the others do),
// and the events of all of them fanned in to one handler that is told which
// tor sent each. The library part of examples/fleet, shared with its test
// (tests/examples/fleet_test.cpp) and bench/fleet_bench.cpp.
//
//   fleet::FleetOptions o;
//   o.tors = 16;
//   fleet::Fleet f(*reactor, o);
//   f.launch([&](const torcon::Status& s) { ... });   // all launched, or the first error
//   f.subscribe("CONF_CHANGED", [](const fleet::Member& m, const torcon::Reply& r) { ... });
//   f.getinfo_all({"process/pid"}, each, all_done);
//   f.stop([&] { reactor->stop(); });
//
// Everything runs on the reactor's thread; nothing here blocks. The Fleet
// must outlive the operations it started (launch's `done` above all).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/controller.hpp"
#include "torcon/expected.hpp"
#include "torcon/launch.hpp"
#include "torcon/reactor.hpp"

namespace fleet {

/// How many tors, and how each is started.
struct FleetOptions {
  std::size_t tors = 4;
  std::string tor_binary;  ///< empty: "tor" from $PATH
  /// Standalone tors: no network (nothing leaves the machine, and tor does no
  /// directory work), and its state file written rarely (a long-running fleet
  /// of many tors; it makes no difference to startup, measured).
  std::vector<std::string> torrc = {"DisableNetwork 1", "AvoidDiskWrites 1"};
  /// Per tor, from its launch to its authenticated controller.
  std::chrono::milliseconds launch_timeout{60'000};
};

/// One tor of the fleet.
struct Member {
  std::size_t index = 0;                    ///< its place in the fleet, 0-based
  std::unique_ptr<torcon::TorProcess> tor;  ///< null until launched (or if its launch failed)
  std::uint16_t control_port = 0;           ///< where its control port listens

  /// The authenticated controller that owns this tor.
  torcon::Controller& controller() const { return tor->controller(); }
  /// "tor 3 :41234", the prefix of everything printed about it.
  std::string name() const;
};

/// Gets one event from one tor of the fleet (views valid during the call).
using FleetEventHandler = std::function<void(const Member& source, const torcon::Reply& event)>;
/// Gets one tor's answer to a command sent to all of them.
using MemberKeyValues =
    std::function<void(const Member& source, const torcon::Expected<torcon::KeyValues>& kv)>;

/// N tors on one reactor (see the file's comment). Destroy it outside its
/// controllers' callbacks, after stop() finished (or its tors are stopped by
/// the TorProcess destructors, which block up to 200 ms each).
class Fleet {
 public:
  Fleet(torcon::Reactor& reactor, FleetOptions options);
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  /// Launches every tor at once. `done` runs once, from the loop, when every
  /// launch finished: ok, or the first launch's error (prefixed with the tor's
  /// name); tors that did launch stay members either way, so stop() them.
  void launch(std::function<void(const torcon::Status&)> done);

  std::size_t size() const { return members_.size(); }
  /// The i-th tor (0 <= i < size()).
  const Member& member(std::size_t i) const { return members_[i]; }
  /// Tors whose launch succeeded.
  std::size_t running() const;

  /// Subscribes every running tor's controller to `event`; `handler` gets each
  /// event with the tor it came from. `done` (optional) runs once every
  /// SETEVENTS was answered: ok, or the first refusal.
  void subscribe(std::string_view event, FleetEventHandler handler,
                 std::function<void(const torcon::Status&)> done = {});

  /// GETINFO `keys` to every running tor, all sent before any answer is
  /// awaited; `each` gets every tor's answer as it arrives, `all_done` runs
  /// after the last.
  void getinfo_all(std::vector<std::string> keys, MemberKeyValues each,
                   std::function<void()> all_done);

  /// Stops every tor (controller closed, SIGTERM, reaped, data directory
  /// removed); `done` runs once all are gone. Idempotent.
  void stop(std::function<void()> done);

 private:
  torcon::Reactor& reactor_;
  FleetOptions options_;
  std::vector<Member> members_;
};

}  // namespace fleet
