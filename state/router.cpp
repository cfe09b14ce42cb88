#include "torcon/router.hpp"

#include <algorithm>

#include "torcon/exit_policy.hpp"

namespace torcon {

namespace {

bool parse_port(std::string_view s, std::uint16_t& out) {
  if (s.empty() || s.size() > 5) return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + unsigned(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  out = std::uint16_t(v);
  return true;
}

}  // namespace

Expected<ExitPolicySummary> ExitPolicySummary::parse(std::string_view text) {
  auto bad = [&](std::string why) {
    return Error(Errc::bad_router_status, "exit policy summary: " + why);
  };
  ExitPolicySummary p;
  std::string_view list;
  if (text.starts_with("accept ")) {
    p.accept_ = true;
    list = text.substr(7);
  } else if (text.starts_with("reject ")) {
    list = text.substr(7);
  } else {
    return bad("neither \"accept\" nor \"reject\"");
  }
  if (list.empty()) return bad("no ports");
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (comma != std::string_view::npos && list.empty()) return bad("trailing comma");
    const std::size_t dash = item.find('-');
    PortRange r;
    if (!parse_port(item.substr(0, dash), r.first))
      return bad("bad port in \"" + std::string(item) + "\"");
    r.last = r.first;
    if (dash != std::string_view::npos && !parse_port(item.substr(dash + 1), r.last))
      return bad("bad port in \"" + std::string(item) + "\"");
    if (r.last < r.first) return bad("descending range \"" + std::string(item) + "\"");
    // dir-spec promises ascending, disjoint ranges; exits_to() relies on it.
    if (!p.ranges_.empty() && r.first <= p.ranges_.back().last)
      return bad("ranges out of order at \"" + std::string(item) + "\"");
    p.ranges_.push_back(r);
  }
  p.text_ = std::string(text);
  return p;
}

bool ExitPolicySummary::accepts(std::uint16_t port) const noexcept {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), port,
                             [](std::uint16_t p, const PortRange& r) { return p < r.first; });
  const bool listed = it != ranges_.begin() && port <= std::prev(it)->last;
  return listed == accept_;
}

bool Router::has_flag(std::string_view name) const noexcept {
  RouterFlag f;
  if (parse_router_flag(name, f)) return flags_.has(f);
  for (std::size_t i = 0; i < unknown_flags_.size();) {
    std::size_t j = unknown_flags_.find(' ', i);
    if (j == std::string_view::npos) j = unknown_flags_.size();
    if (unknown_flags_.substr(i, j - i) == name) return true;
    i = j + 1;
  }
  return false;
}

ExitAnswer Router::exits_to(std::uint16_t port) const noexcept {
  if (!policy_) return {};
  return ExitAnswer{policy_->accepts(port), PolicySource::summary};
}

ExitAnswer Router::exits_to(const IpAddress& address, std::uint16_t port) const noexcept {
  if (descriptor_policy_)
    return ExitAnswer{descriptor_policy_->allows(address, port), PolicySource::descriptor};
  if (address.v6) return {};  // the "p" summary is for IPv4 only
  return exits_to(port);
}

ExitAnswer Router::exits_to(std::string_view address, std::uint16_t port) const noexcept {
  const std::optional<IpAddress> a = IpAddress::parse(address);
  if (!a) return {};
  return exits_to(*a, port);
}

}  // namespace torcon
