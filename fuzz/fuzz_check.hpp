// Shared helpers for the libFuzzer harnesses.
//
// Invariant violations must crash even in builds with NDEBUG, and must say
// which invariant broke: libFuzzer only saves the input, so the message on
// stderr is the first thing anyone triaging a crash reads.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

namespace torcon::fuzz {

// True when `v` lies within `outer` (an empty view may sit at either end).
// Compared as addresses: the views come from the same buffer when correct,
// and the point of the check is to catch when they do not.
inline bool inside(std::string_view v, std::string_view outer) noexcept {
  const auto b = reinterpret_cast<std::uintptr_t>(outer.data());
  const auto p = reinterpret_cast<std::uintptr_t>(v.data());
  return p >= b && p <= b + outer.size() && v.size() <= b + outer.size() - p;
}

// Like inside(), but an empty view with no data (std::string_view{}) is
// accepted too: it refers to nothing, so it cannot dangle.
inline bool inside_or_null(std::string_view v, std::string_view outer) noexcept {
  return (v.empty() && v.data() == nullptr) || inside(v, outer);
}

}  // namespace torcon::fuzz
