// Bytes waiting to be sent on one socket: a bounded FIFO of heap chunks.
//
// Chunks never move or reallocate once allocated, so iovecs handed to the
// kernel by an in-flight io_uring send stay valid while more is appended.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <deque>
#include <initializer_list>
#include <memory>
#include <string_view>

#include "torcon/expected.hpp"

namespace torcon::detail {

class WriteQueue {
 public:
  explicit WriteQueue(std::size_t limit) : limit_(limit) {}

  // Queues all pieces, or none if that would exceed the limit.
  Status append(std::initializer_list<std::string_view> pieces);

  // Fills up to max iovecs with the oldest bytes; returns how many.
  int gather(iovec* iov, int max) const;
  // Drops the oldest n bytes (the kernel took them).
  void consume(std::size_t n);

  std::size_t size() const { return bytes_; }
  bool empty() const { return bytes_ == 0; }

 private:
  struct Chunk {
    std::unique_ptr<char[]> data;
    std::size_t capacity = 0;
    std::size_t begin = 0;  // first unsent byte
    std::size_t end = 0;    // one past the last queued byte
  };
  static constexpr std::size_t kChunkSize = 16 * 1024;

  Chunk& tail_with_room(std::size_t want);

  std::deque<Chunk> chunks_;
  Chunk spare_;  // one drained standard chunk kept to avoid malloc churn
  std::size_t bytes_ = 0;
  std::size_t limit_;
};

}  // namespace torcon::detail
