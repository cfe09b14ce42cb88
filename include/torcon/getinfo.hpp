// Key/value replies: GETINFO ("250-key=value", "250+key=" + data block,
// ending "250 OK") and GETCONF ("250-key=value", "250 key" for a default).
#pragma once

#include <cstddef>
#include <string_view>

#include "torcon/expected.hpp"
#include "torcon/export.hpp"
#include "torcon/reply.hpp"

namespace torcon {

/// One key/value line of a GETINFO or GETCONF reply (views into the reply).
struct TORCON_API KeyValue {
  std::string_view key;  ///< the key as tor sent it
  /// Text after '=' for single-line values (GETCONF values may be
  /// QuotedStrings: decode with unquote() when value starts with '"'); for a
  /// data value, the raw data block (walk it with DataLines or join_data()).
  std::string_view value;
  bool is_data = false;   ///< value came as a data block ("250+key=")
  bool has_value = true;  ///< false for GETCONF's bare "250 key"
};

/// Walks the key/value lines of a 2xx reply. A final line reading "OK" is the
/// terminator, not an entry. Views point where the reply's do.
class TORCON_API KeyValueReader {
 public:
  /// Walks `reply`, which must outlive the reader.
  explicit KeyValueReader(const Reply& reply) : reply_(reply) {}
  /// The next entry (a line without "=" is a bare key); false after the last.
  bool next(KeyValue& out);

 private:
  const Reply& reply_;
  std::size_t i_ = 0;
};

}  // namespace torcon
