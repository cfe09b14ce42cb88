// GoogleTest printers for torcon types, so failures read "bad_separator"
// rather than "1-byte object <02>".
#pragma once

#include <ostream>

#include "torcon/expected.hpp"

namespace torcon {

inline const char* errc_name(Errc c) {
  switch (c) {
    case Errc::ok: return "ok";
    case Errc::bad_status_code: return "bad_status_code";
    case Errc::bad_separator: return "bad_separator";
    case Errc::bare_lf: return "bare_lf";
    case Errc::bad_data_block: return "bad_data_block";
    case Errc::status_mismatch: return "status_mismatch";
    case Errc::line_too_long: return "line_too_long";
    case Errc::reply_too_large: return "reply_too_large";
    case Errc::bad_quoted_string: return "bad_quoted_string";
    case Errc::bad_argument: return "bad_argument";
    case Errc::bad_router_status: return "bad_router_status";
    case Errc::injection: return "injection";
    case Errc::bad_keyword: return "bad_keyword";
    case Errc::tor_error: return "tor_error";
    case Errc::disconnected: return "disconnected";
    case Errc::io: return "io";
    case Errc::auth: return "auth";
    case Errc::timeout: return "timeout";
    case Errc::not_found: return "not_found";
    case Errc::not_permitted: return "not_permitted";
  }
  return "Errc(?)";
}

// Found by argument-dependent lookup (Errc lives in namespace torcon).
inline void PrintTo(Errc c, std::ostream* os) { *os << errc_name(c); }

}  // namespace torcon
