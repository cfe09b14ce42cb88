#include "torcon/getinfo.hpp"

namespace torcon {

bool KeyValueReader::next(KeyValue& out) {
  if (i_ < reply_.lines.size()) {
    const ReplyLine& l = reply_.lines[i_++];
    if (l.sep == Sep::end && l.text == "OK") return false;  // GETINFO's terminator
    out = KeyValue{};
    const std::size_t eq = l.text.find('=');
    if (l.sep == Sep::data) {
      // "250+key=" then the value as a data block (tor always writes the
      // '='; without it the block is still this key's value).
      out.key = l.text.substr(0, eq);
      out.value = l.data;
      out.is_data = true;
    } else if (eq == std::string_view::npos) {
      out.key = l.text;
      out.has_value = false;
    } else {
      out.key = l.text.substr(0, eq);
      out.value = l.text.substr(eq + 1);
    }
    return true;
  }
  return false;
}

}  // namespace torcon
