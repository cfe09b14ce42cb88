#include "write_queue.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace torcon::detail {

Status WriteQueue::append(std::initializer_list<std::string_view> pieces) {
  std::size_t total = 0;
  for (std::string_view p : pieces) total += p.size();
  if (total > limit_ - bytes_) {
    return Error(Errc::io, "write queue full: " + std::to_string(bytes_) + " bytes queued, " +
                               std::to_string(total) + " more would exceed the limit of " +
                               std::to_string(limit_));
  }
  for (std::string_view p : pieces) {
    while (!p.empty()) {
      Chunk& c = tail_with_room(p.size());
      std::size_t n = std::min(p.size(), c.capacity - c.end);
      std::memcpy(c.data.get() + c.end, p.data(), n);
      c.end += n;
      bytes_ += n;
      p.remove_prefix(n);
    }
  }
  return {};
}

WriteQueue::Chunk& WriteQueue::tail_with_room(std::size_t want) {
  if (!chunks_.empty() && chunks_.back().end < chunks_.back().capacity) return chunks_.back();
  if (want <= kChunkSize && spare_.data) {
    chunks_.push_back(std::move(spare_));
    spare_ = Chunk{};
    return chunks_.back();
  }
  // One big write gets one chunk of its own size: a single iovec, one copy.
  std::size_t capacity = std::max(want, kChunkSize);
  chunks_.push_back(Chunk{std::make_unique_for_overwrite<char[]>(capacity), capacity, 0, 0});
  return chunks_.back();
}

int WriteQueue::gather(iovec* iov, int max) const {
  int n = 0;
  for (const Chunk& c : chunks_) {
    if (n == max) break;
    if (c.end == c.begin) continue;
    iov[n++] = iovec{c.data.get() + c.begin, c.end - c.begin};
  }
  return n;
}

void WriteQueue::consume(std::size_t n) {
  bytes_ -= n;
  while (n > 0) {
    Chunk& c = chunks_.front();
    std::size_t take = std::min(n, c.end - c.begin);
    c.begin += take;
    n -= take;
    if (c.begin == c.end) {
      bool keep = c.capacity == kChunkSize && !spare_.data;
      if (keep) {
        spare_ = std::move(c);
        spare_.begin = spare_.end = 0;
      }
      chunks_.pop_front();
    }
  }
  // A trailing empty chunk (drained exactly) is fine to keep appending into.
}

}  // namespace torcon::detail
