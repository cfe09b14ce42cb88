// The FIFO of reply callbacks for commands in flight: a ring over a vector
// that keeps its storage. std::deque frees and allocates a block every few
// commands even at a steady depth of one; the stream attacher's path (an
// event in, ATTACHSTREAM out) must not allocate.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "torcon/controller.hpp"

namespace torcon::detail {

class CallbackQueue {
 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  void push_back(ReplyCallback cb) {
    if (size_ == slots_.size()) grow();
    slots_[(head_ + size_) % slots_.size()] = std::move(cb);
    ++size_;
  }
  // The oldest callback, moved out (the slot is left empty).
  ReplyCallback pop_front() {
    ReplyCallback cb = std::move(slots_[head_]);
    slots_[head_] = nullptr;
    head_ = (head_ + 1) % slots_.size();
    --size_;
    return cb;
  }
  void clear() {
    for (auto& s : slots_) s = nullptr;
    head_ = size_ = 0;
  }
  void swap(CallbackQueue& other) noexcept {
    slots_.swap(other.slots_);
    std::swap(head_, other.head_);
    std::swap(size_, other.size_);
  }

 private:
  void grow() {
    std::vector<ReplyCallback> bigger(slots_.empty() ? 16 : slots_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i)
      bigger[i] = std::move(slots_[(head_ + i) % slots_.size()]);
    slots_.swap(bigger);
    head_ = 0;
  }
  std::vector<ReplyCallback> slots_;
  std::size_t head_ = 0, size_ = 0;
};

}  // namespace torcon::detail
