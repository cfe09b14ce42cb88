// Any number of callbacks for one kind of change, safe against the things a
// callback may do: add or remove listeners (itself included) while the list
// is being called, or throw.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace torcon::detail {

using ErrorSink = std::function<void(std::string_view)>;

template <class... Args>
class ListenerList {
 public:
  using Fn = std::function<void(Args...)>;

  void add(std::uint64_t id, Fn fn) {
    entries_.push_back(Entry{id, false, std::make_unique<Fn>(std::move(fn))});
    ++live_;
  }
  bool remove(std::uint64_t id) {
    for (Entry& e : entries_) {
      if (e.id != id || e.removed) continue;
      e.removed = true;  // freed once no call is running: it may be the caller
      --live_;
      if (depth_ == 0) prune();
      return true;
    }
    return false;
  }
  bool empty() const noexcept { return live_ == 0; }

  // Calls the listeners present when the call starts (by index: one added
  // meanwhile goes to the end and waits for the next call; each Fn is on
  // the heap, so growing the vector does not move it).
  void call(const ErrorSink& on_error, Args... args) {
    const std::size_t n = entries_.size();
    ++depth_;
    for (std::size_t i = 0; i < n; ++i) {
      if (entries_[i].removed) continue;
      Fn* fn = entries_[i].fn.get();
      try {
        (*fn)(args...);
      } catch (const std::exception& e) {
        if (on_error) on_error(e.what());
      } catch (...) {
        if (on_error) on_error("a listener threw a non-standard exception");
      }
    }
    if (--depth_ == 0 && live_ != entries_.size()) prune();
  }

 private:
  struct Entry {
    std::uint64_t id;
    bool removed;
    std::unique_ptr<Fn> fn;
  };
  void prune() {
    std::erase_if(entries_, [](const Entry& e) { return e.removed; });
  }
  std::vector<Entry> entries_;
  std::size_t live_ = 0;
  int depth_ = 0;
};

}  // namespace torcon::detail
