// An entry guard as TorState knows it: from GETINFO entry-guards, kept
// current by GUARD events (control-spec 4.1.11).
#pragma once

#include <cstdint>
#include <string>

#include "torcon/export.hpp"
#include "torcon/router.hpp"

namespace torcon {

/// One of tor's entry guards (GETINFO entry-guards, GUARD events).
struct TORCON_API Guard {
  /// The relay (a placeholder if the consensus does not list it); valid while
  /// the guard is in the state.
  const Router* router = nullptr;
  /// As tor last said: entry-guards' "up", "never-connected", "down",
  /// "unusable", "unlisted", or a GUARD event's "NEW", "UP", "DOWN", "BAD",
  /// "GOOD" (lower-cased here, so both sources read alike).
  std::string status;
};

enum class GuardChange : std::uint8_t { added, changed, removed };

}  // namespace torcon
