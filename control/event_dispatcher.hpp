// Routes asynchronous replies (events) to the handlers subscribed to their
// event name. Used by ControlProtocol; separate so the dispatch path can be
// measured on its own (bench/controller_bench.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "torcon/events.hpp"
#include "torcon/expected.hpp"
#include "torcon/reply.hpp"

namespace torcon::detail {

class EventDispatcher {
 public:
  using Id = std::uint64_t;
  using Handler = std::function<void(const Reply&)>;

  void add(std::string_view event, Id id, Handler h);
  // False if no such subscription. Safe from inside a handler.
  bool remove(Id id);
  // Event names with at least one handler, sorted (SETEVENTS order).
  std::vector<std::string> names() const;

  // Calls each handler of r's event in subscription order. Handlers may add
  // or remove subscriptions meanwhile; `stop()` returning true (e.g. the
  // connection was closed by a handler) ends the walk early.
  template <class Stop>
  void dispatch(const Reply& r, Stop&& stop) {
    const std::string_view text = r.lines.empty() ? std::string_view{} : r.lines.front().text;
    const std::string_view name = text.substr(0, text.find(' '));
    // absl::string_view: Debian's abseil has its own, not std::string_view.
    auto it = by_name_.find(absl::string_view(name.data(), name.size()));
    if (it == by_name_.end()) return;
    ++depth_;
    // By index, and each handler on the heap: a handler that subscribes may
    // grow the vector (the Handler objects don't move), and one that
    // unsubscribes is only marked (freed once no dispatch is running).
    std::vector<Entry>& hs = it->second;
    for (std::size_t i = 0; i < hs.size(); ++i) {
      if (!hs[i].removed) (*hs[i].handler)(r);
      if (stop()) break;
    }
    if (--depth_ == 0 && dirty_) prune();
  }

 private:
  struct Entry {
    Id id;
    bool removed;
    std::unique_ptr<Handler> handler;
  };
  void prune();

  absl::flat_hash_map<std::string, std::vector<Entry>> by_name_;
  int depth_ = 0;
  bool dirty_ = false;
};

// Wraps a typed handler: parses each event into a per-subscription Event
// that is reused (parse_event overwrites it fully; dispatch never nests, as
// events only arrive from reads, so one Event per subscription suffices).
inline EventDispatcher::Handler typed_handler(std::function<void(const Event&)> h,
                                              std::function<void(const Error&, const Reply&)> bad) {
  return [h = std::move(h), bad = std::move(bad), ev = Event{}](const Reply& r) mutable {
    if (Status s = parse_event(r, ev); s)
      h(ev);
    else if (bad)
      bad(s.error(), r);
  };
}

}  // namespace torcon::detail
