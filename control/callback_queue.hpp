// The FIFO of reply callbacks for commands in flight: a ring over a vector
// that keeps its storage. std::deque frees and allocates a block every few
// commands even at a steady depth of one; the stream attacher's path (an
// event in, ATTACHSTREAM out) must not allocate.
//
// Each entry carries the ticket of the command it answers (0 for the
// protocol's own commands), so a command whose deadline passed can hand its
// callback over and keep its place: tor's late reply still pops that slot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "torcon/controller.hpp"

namespace torcon::detail {

class CallbackQueue {
 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  void push_back(ReplyCallback cb, std::uint64_t ticket = 0) {
    if (size_ == slots_.size()) grow();
    Slot& s = slots_[(head_ + size_) % slots_.size()];
    s.cb = std::move(cb);
    s.ticket = ticket;
    ++size_;
  }
  // The oldest callback, moved out (the slot is left empty).
  ReplyCallback pop_front() {
    ReplyCallback cb = std::move(slots_[head_].cb);
    slots_[head_].cb = nullptr;
    slots_[head_].ticket = 0;
    head_ = (head_ + 1) % slots_.size();
    --size_;
    return cb;
  }
  // The callback of the command with `ticket` (non-zero), moved out; its
  // slot stays, empty, so the reply tor still owes it is matched and
  // dropped. Empty if no such command waits.
  ReplyCallback take(std::uint64_t ticket) {
    if (ticket == 0) return nullptr;
    for (std::size_t i = 0; i < size_; ++i) {
      Slot& s = slots_[(head_ + i) % slots_.size()];
      if (s.ticket != ticket) continue;
      s.ticket = 0;
      return std::move(s.cb);
    }
    return nullptr;
  }
  void clear() {
    for (auto& s : slots_) s = Slot{};
    head_ = size_ = 0;
  }
  void swap(CallbackQueue& other) noexcept {
    slots_.swap(other.slots_);
    std::swap(head_, other.head_);
    std::swap(size_, other.size_);
  }

 private:
  void grow() {
    std::vector<Slot> bigger(slots_.empty() ? 16 : slots_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i)
      bigger[i] = std::move(slots_[(head_ + i) % slots_.size()]);
    slots_.swap(bigger);
    head_ = 0;
  }
  struct Slot {
    ReplyCallback cb;
    std::uint64_t ticket = 0;
  };
  std::vector<Slot> slots_;
  std::size_t head_ = 0, size_ = 0;
};

}  // namespace torcon::detail
