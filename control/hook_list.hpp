// HookList: the Controller's lists of hooks (run after a reconnection, run
// when a connection ends). Components built on the Controller add and remove
// theirs at any time, from inside a hook too, so a run walks a snapshot of
// the ids and looks each one up again: a hook removed during the run does not
// run later in it, a hook added during the run waits for the next one.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace torcon::detail {

template <class... Args>
class HookList {
 public:
  using Id = std::uint64_t;
  using Fn = std::function<void(Args...)>;

  // `id` comes from the owner, so that ids are unique across its lists.
  void add(Id id, Fn fn) { hooks_.emplace_back(id, std::make_shared<Fn>(std::move(fn))); }
  // An unknown id is ignored.
  void remove(Id id) {
    hooks_.erase(std::remove_if(hooks_.begin(), hooks_.end(),
                                [id](const Entry& e) { return e.first == id; }),
                 hooks_.end());
  }
  bool empty() const noexcept { return hooks_.empty(); }

  // Runs the hooks present now, in the order added, while keep_going() holds
  // (the owner may be gone after a hook).
  template <class KeepGoing>
  void run(KeepGoing keep_going, Args... args) {
    std::vector<Id> ids;
    ids.reserve(hooks_.size());
    for (const Entry& e : hooks_) ids.push_back(e.first);
    for (Id id : ids) {
      if (!keep_going()) return;
      auto it = std::find_if(hooks_.begin(), hooks_.end(),
                             [id](const Entry& e) { return e.first == id; });
      if (it == hooks_.end()) continue;  // removed by an earlier hook
      // Held here: the hook may remove itself while it runs.
      std::shared_ptr<Fn> fn = it->second;
      if (*fn) (*fn)(args...);
    }
  }

 private:
  using Entry = std::pair<Id, std::shared_ptr<Fn>>;
  std::vector<Entry> hooks_;
};

}  // namespace torcon::detail
