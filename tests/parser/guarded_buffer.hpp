// A buffer whose last byte sits right before a PROT_NONE page.
//
// Decoders that take a std::string_view must never look past its end. Placing
// the input so that it ends exactly where an inaccessible page begins turns any
// over-read into a SIGSEGV, which a plain std::string (with its terminating NUL
// and heap slack) would hide.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string_view>

namespace torcon::test {

class GuardedBuffer {
 public:
  GuardedBuffer() {
    page_ = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    void* p =
        ::mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("GuardedBuffer: mmap failed");
    base_ = static_cast<char*>(p);
    if (::mprotect(base_ + page_, page_, PROT_NONE) != 0) {
      ::munmap(base_, 2 * page_);
      throw std::runtime_error("GuardedBuffer: mprotect failed");
    }
  }
  ~GuardedBuffer() { ::munmap(base_, 2 * page_); }
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;

  // Largest input place() accepts.
  std::size_t capacity() const noexcept { return page_; }

  // Copies `bytes` so that its last byte is the last readable byte before the
  // guard page, and returns a view of the copy. Earlier views are invalidated.
  std::string_view place(std::string_view bytes) {
    if (bytes.size() > page_) throw std::length_error("GuardedBuffer: input too large");
    // Poison the rest of the page so a decoder cannot rely on stale bytes.
    std::memset(base_, 0x5a, page_);
    char* start = base_ + page_ - bytes.size();
    if (!bytes.empty()) std::memcpy(start, bytes.data(), bytes.size());
    return {start, bytes.size()};
  }

  // One past the last readable byte: the first byte of the guard page.
  const char* guard() const noexcept { return base_ + page_; }

 private:
  std::size_t page_ = 0;
  char* base_ = nullptr;
};

// True when `part` lies within `whole` (an empty `part` anywhere in it or at
// its end). Compares addresses as integers so a wild pointer can't wrap
// around and look valid.
inline bool within(std::string_view part, std::string_view whole) noexcept {
  const auto b = reinterpret_cast<std::uintptr_t>(whole.data());
  const auto e = b + whole.size();
  const auto p = reinterpret_cast<std::uintptr_t>(part.data());
  if (part.empty()) return p == 0 || (p >= b && p <= e);
  return p >= b && p <= e && part.size() <= e - p;
}

}  // namespace torcon::test
