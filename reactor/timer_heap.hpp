// Timers ordered by deadline: a binary min-heap of (deadline, start order,
// slot) over a slot pool with a free list.
//
// Cancelling only retires the slot (its generation moves on); the stale heap
// entry is skipped when it surfaces, and the heap is compacted if stale
// entries ever outnumber live ones. A repeating timer reuses its slot and
// heap storage, so firing it allocates nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "torcon/reactor.hpp"

namespace torcon::detail {

class TimerHeap {
 public:
  using Clock = std::chrono::steady_clock;

  TimerId start(Clock::duration delay, Clock::duration period, std::function<void()> fn);
  bool cancel(TimerId id);

  // When the earliest live timer is due, if any.
  std::optional<Clock::time_point> next_deadline();

  // Runs every timer due at `now`. Callbacks may start or cancel timers,
  // their own included.
  void fire_due(Clock::time_point now);

  void clear();

 private:
  struct Slot {
    std::function<void()> fn;
    Clock::duration period{0};  // zero for one-shot
    std::uint32_t gen = 0;
    bool live = false;
  };
  struct Entry {
    Clock::time_point deadline;
    std::uint64_t order;
    std::uint32_t slot;
    std::uint32_t gen;
  };
  // std::push_heap builds a max-heap; "later" entries compare less.
  static bool later(const Entry& a, const Entry& b) {
    return a.deadline != b.deadline ? a.deadline > b.deadline : a.order > b.order;
  }

  bool is_live(const Entry& e) const { return slots_[e.slot].live && slots_[e.slot].gen == e.gen; }
  void push(Entry e);
  Entry pop();
  void retire(std::uint32_t slot);
  void drop_stale_top();

  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
  std::vector<Entry> heap_;
  std::size_t live_ = 0;
  std::uint64_t next_order_ = 0;
};

}  // namespace torcon::detail
