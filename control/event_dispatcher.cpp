#include "event_dispatcher.hpp"

#include <algorithm>

namespace torcon::detail {

void EventDispatcher::add(std::string_view event, Id id, Handler h) {
  by_name_[std::string(event)].push_back(Entry{id, false, std::make_unique<Handler>(std::move(h))});
}

bool EventDispatcher::remove(Id id) {
  for (auto& [name, hs] : by_name_) {
    for (Entry& e : hs) {
      if (e.id != id || e.removed) continue;
      e.removed = true;
      dirty_ = true;
      if (depth_ == 0) prune();
      return true;
    }
  }
  return false;
}

void EventDispatcher::prune() {
  for (auto it = by_name_.begin(); it != by_name_.end();) {
    auto& hs = it->second;
    hs.erase(std::remove_if(hs.begin(), hs.end(), [](const Entry& e) { return e.removed; }),
             hs.end());
    if (hs.empty())
      by_name_.erase(it++);
    else
      ++it;
  }
  dirty_ = false;
}

std::vector<std::string> EventDispatcher::names() const {
  std::vector<std::string> out;
  for (const auto& [name, hs] : by_name_)
    if (std::any_of(hs.begin(), hs.end(), [](const Entry& e) { return !e.removed; }))
      out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace torcon::detail
