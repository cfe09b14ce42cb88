#include "timer_heap.hpp"

#include <algorithm>

namespace torcon::detail {

TimerId TimerHeap::start(Clock::duration delay, Clock::duration period, std::function<void()> fn) {
  std::uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[slot];
  s.fn = std::move(fn);
  s.period = period;
  s.live = true;
  ++live_;
  push(Entry{Clock::now() + std::max(delay, Clock::duration::zero()), next_order_++, slot, s.gen});
  return TimerId{slot, s.gen};
}

bool TimerHeap::cancel(TimerId id) {
  if (id.slot >= slots_.size()) return false;
  Slot& s = slots_[id.slot];
  if (!s.live || s.gen != id.gen) return false;
  retire(id.slot);
  return true;
}

void TimerHeap::retire(std::uint32_t slot) {
  Slot& s = slots_[slot];
  s.fn = nullptr;  // may be empty already: moved out while firing
  s.live = false;
  ++s.gen;
  --live_;
  free_.push_back(slot);
  // Stale entries of far-future cancelled timers would otherwise pile up.
  if (heap_.size() > 64 && heap_.size() > 2 * live_) {
    std::erase_if(heap_, [this](const Entry& e) { return !is_live(e); });
    std::make_heap(heap_.begin(), heap_.end(), later);
  }
}

void TimerHeap::push(Entry e) {
  heap_.push_back(e);
  std::push_heap(heap_.begin(), heap_.end(), later);
}

TimerHeap::Entry TimerHeap::pop() {
  std::pop_heap(heap_.begin(), heap_.end(), later);
  Entry e = heap_.back();
  heap_.pop_back();
  return e;
}

void TimerHeap::drop_stale_top() {
  while (!heap_.empty() && !is_live(heap_.front())) pop();
}

std::optional<TimerHeap::Clock::time_point> TimerHeap::next_deadline() {
  drop_stale_top();
  if (heap_.empty()) return std::nullopt;
  return heap_.front().deadline;
}

void TimerHeap::fire_due(Clock::time_point now) {
  for (;;) {
    drop_stale_top();
    if (heap_.empty() || heap_.front().deadline > now) return;
    Entry e = pop();
    // Run a moved-out copy: the callback may cancel this timer (destroying
    // the slot's function) or start others (reallocating slots_).
    std::function<void()> fn = std::move(slots_[e.slot].fn);
    bool repeating = slots_[e.slot].period > Clock::duration::zero();
    if (!repeating) retire(e.slot);
    fn();
    if (repeating && is_live(e)) {
      Slot& s = slots_[e.slot];
      s.fn = std::move(fn);
      Clock::time_point next = e.deadline + s.period;
      Clock::time_point after = Clock::now();
      if (next <= after) next = after + s.period;  // fell behind: skip, don't burst
      push(Entry{next, next_order_++, e.slot, e.gen});
    }
  }
}

void TimerHeap::clear() {
  // Move the functions out first: their destructors may call back in.
  std::vector<Slot> slots = std::move(slots_);
  slots_.clear();
  free_.clear();
  heap_.clear();
  live_ = 0;
}

}  // namespace torcon::detail
