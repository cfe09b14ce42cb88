// Driving a reactor from a test: until a condition holds (with a limit, so a
// bug fails the test instead of hanging it), or for a while.
#pragma once

#include <chrono>

#include "torcon/reactor.hpp"

namespace torcon::testing {

// Runs `reactor` until pred() or `limit`; false on timeout. `step` bounds
// each wait, so pred() is checked at least that often.
template <class Pred>
bool run_until(Reactor& reactor, Pred pred, std::chrono::milliseconds limit,
               std::chrono::milliseconds step = std::chrono::milliseconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    reactor.run_once(step);
  }
  return true;
}

// Runs `reactor` for `d`, in waits of at most `step`.
inline void run_for(Reactor& reactor, std::chrono::milliseconds d,
                    std::chrono::milliseconds step = std::chrono::milliseconds(5)) {
  const auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) reactor.run_once(step);
}

}  // namespace torcon::testing
