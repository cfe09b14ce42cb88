#include "torcon/reply.hpp"

#include <cstring>

namespace torcon {

bool DataLines::next(std::string_view& line) {
  if (rest_.empty()) return false;
  const std::size_t lf = rest_.find('\n');
  std::string_view l = rest_.substr(0, lf);
  rest_ = lf == std::string_view::npos ? std::string_view{} : rest_.substr(lf + 1);
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  if (!l.empty() && l.front() == '.') l.remove_prefix(1);  // dot-unstuffing
  line = l;
  return true;
}

std::string join_data(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  DataLines lines(raw);
  std::string_view l;
  bool first = true;
  while (lines.next(l)) {
    if (!first) out.push_back('\n');
    out.append(l);
    first = false;
  }
  return out;
}

OwnedReply Reply::copy() const {
  OwnedReply o;
  o.assign(*this);
  return o;
}

void OwnedReply::assign(const Reply& r) {
  // Every view of a Reply lies inside r.raw, so one copy of raw plus the
  // offsets re-creates them all.
  auto storage = std::make_unique_for_overwrite<char[]>(r.raw.size() ? r.raw.size() : 1);
  if (!r.raw.empty()) std::memcpy(storage.get(), r.raw.data(), r.raw.size());
  const char* old = r.raw.data();
  const char* now = storage.get();
  auto rebase = [&](std::string_view v) {
    if (v.empty()) return std::string_view{};
    return std::string_view(now + (v.data() - old), v.size());
  };
  std::vector<ReplyLine> ls;
  ls.reserve(r.lines.size());
  for (const ReplyLine& l : r.lines)
    // The line-end index stays with the reader: an owned copy drops it.
    ls.push_back(ReplyLine{l.code, l.sep, rebase(l.text), rebase(l.data), {}});
  code = r.code;
  offset = r.offset;
  lines = std::move(ls);
  raw_ = std::string_view(now, r.raw.size());
  storage_ = std::move(storage);
}

}  // namespace torcon
