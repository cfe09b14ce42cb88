#include "router_table.hpp"

#include <arpa/inet.h>

#include <bit>
#include <cstring>
#include <utility>

namespace torcon::detail {

namespace {

// Flags a newer tor adds: the "s" line's names this version doesn't know,
// space-separated. Most lines have none (as many names as known bits), so
// the walk is skipped for them.
std::string unknown_flag_names(std::string_view flags_text, RouterFlags known) {
  std::size_t names = 0;
  for (std::size_t i = 0; i < flags_text.size();) {
    while (i < flags_text.size() && flags_text[i] == ' ') ++i;
    if (i == flags_text.size()) break;
    ++names;
    while (i < flags_text.size() && flags_text[i] != ' ') ++i;
  }
  std::string out;
  if (names == std::size_t(std::popcount(known.bits()))) return out;
  for (std::size_t i = 0; i < flags_text.size();) {
    while (i < flags_text.size() && flags_text[i] == ' ') ++i;
    std::size_t j = i;
    while (j < flags_text.size() && flags_text[j] != ' ') ++j;
    std::string_view name = flags_text.substr(i, j - i);
    RouterFlag f;
    if (!name.empty() && !parse_router_flag(name, f)) {
      if (!out.empty()) out += ' ';
      out += name;
    }
    i = j;
  }
  return out;
}

// "[addr]:port" as an "a" line gives it.
bool parse_or_address6(std::string_view text, Ipv6OrAddress& out) {
  if (text.size() < 4 || text.front() != '[') return false;
  const std::size_t close = text.find(']');
  if (close == std::string_view::npos || close + 2 > text.size() || text[close + 1] != ':')
    return false;
  char buf[INET6_ADDRSTRLEN];
  const std::string_view addr = text.substr(1, close - 1);
  if (addr.size() >= sizeof buf) return false;
  std::memcpy(buf, addr.data(), addr.size());
  buf[addr.size()] = '\0';
  if (::inet_pton(AF_INET6, buf, out.addr.data()) != 1) return false;
  unsigned port = 0;
  const std::string_view digits = text.substr(close + 2);
  if (digits.empty() || digits.size() > 5) return false;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    port = port * 10 + unsigned(c - '0');
  }
  if (port == 0 || port > 65535) return false;
  out.port = std::uint16_t(port);
  return true;
}

bool same(const Ipv6OrAddress& a, const Ipv6OrAddress& b) {
  return a.addr == b.addr && a.port == b.port;
}

template <class T>
bool assign(T& field, const T& value) {
  if (field == value) return false;
  field = value;
  return true;
}

}  // namespace

Status RouterTable::apply_consensus(std::string_view data, std::span<const std::uint32_t> line_ends,
                                    bool replace) {
  if (replace) ++generation_;
  RouterEntryReader reader(data, line_ends);
  RouterEntry e;
  RouterStatus st;
  Error err;
  std::vector<Ipv6OrAddress> addrs;
  while (reader.next(e)) {
    if (!e.decode(st, err)) return err;
    Router* r = find(e.identity());
    RouterChange what = RouterChange::changed;
    bool changed = false;
    if (!r) {
      r = allocate(e.identity(), e.nickname());
      what = RouterChange::added;
      changed = true;
    } else if (r->nickname() != e.nickname()) {
      unlink_nickname(r);
      std::memcpy(r->nickname_, e.nickname().data(), e.nickname().size());
      r->nickname_len_ = std::uint8_t(e.nickname().size());
      link_nickname(r);
      changed = true;
    }
    if (!r->in_consensus_) {
      r->in_consensus_ = true;
      ++consensus_count_;
      changed = true;
    }
    r->generation_ = generation_;
    changed |= assign(r->ipv4_, st.ipv4);
    changed |= assign(r->or_port_, st.or_port);
    changed |= assign(r->dir_port_, st.dir_port);
    changed |= assign(r->flags_, st.flags);
    std::string unknown = unknown_flag_names(st.flags_text, st.flags);  // "" without allocating
    if (unknown != r->unknown_flags_) {
      r->unknown_flags_ = unknown.empty() ? std::string_view{} : intern(unknown);
      changed = true;
    }
    changed |= assign(r->bandwidth_, RouterBandwidth{st.has_bandwidth, st.has_measured,
                                                     st.unmeasured, st.bandwidth, st.measured});
    if (r->version_ != st.version) {
      r->version_ = st.version.empty() ? std::string_view{} : intern(st.version);
      changed = true;
    }
    const std::string_view old_policy =
        r->policy_ ? std::string_view(r->policy_->text()) : std::string_view{};
    if (old_policy != st.policy) {
      r->policy_ = st.policy.empty() ? nullptr : intern_policy(st.policy);
      changed = true;
    }
    addrs.clear();
    if (!st.a_lines.empty()) {
      if (st.has_ipv6 && st.a_lines.find('\n') == std::string_view::npos) {
        addrs.push_back(st.ipv6);
      } else {
        OrAddressLines lines(st.a_lines);
        Ipv6OrAddress a;
        for (std::string_view text; lines.next(text);)
          if (parse_or_address6(text, a)) addrs.push_back(a);
      }
    }
    if (addrs.size() != r->ipv6_.size() ||
        !std::equal(addrs.begin(), addrs.end(), r->ipv6_.begin(), same)) {
      r->ipv6_ = addrs;
      changed = true;
    }
    if (changed) notify(*r, what);
  }
  if (reader.error().code != Errc::ok) return reader.error();
  if (!replace) return {};

  std::vector<Router*> gone;
  for (const auto& [id, r] : by_id_)
    if (r->in_consensus_ && r->generation_ != generation_) gone.push_back(r);
  for (Router* r : gone) {
    r->in_consensus_ = false;
    --consensus_count_;
    if (r->refs_ > 0) {
      notify(*r, RouterChange::changed);  // now a placeholder: circuits still name it
    } else {
      notify(*r, RouterChange::removed);
      release(r);
    }
  }
  return {};
}

Router* RouterTable::find(std::string_view name) const noexcept {
  if (name.empty()) return nullptr;
  LongName ln;
  if (!parse_long_name(name, ln)) return nullptr;
  if (ln.has_fingerprint) return find(ln.identity);
  Router* head = first_named(ln.nickname);
  return head && !head->next_same_nick_ ? head : nullptr;
}

Router* RouterTable::first_named(std::string_view nickname) const noexcept {
  auto it = by_nick_.find(nickname);
  return it == by_nick_.end() ? nullptr : it->second;
}

std::vector<const Router*> RouterTable::all_named(std::string_view nickname) const {
  std::vector<const Router*> out;
  for (const Router* r = first_named(nickname); r; r = r->next_same_nick_) out.push_back(r);
  return out;
}

Router* RouterTable::resolve(const LongName& name) {
  if (!name.has_fingerprint) {
    Router* head = first_named(name.nickname);
    return head && !head->next_same_nick_ ? head : nullptr;
  }
  if (Router* r = find(name.identity)) return r;
  Router* r = allocate(name.identity, name.nickname);
  r->generation_ = 0;
  notify(*r, RouterChange::added);
  return r;
}

void RouterTable::unref(Router* r) {
  if (--r->refs_ > 0 || r->in_consensus_) return;
  notify(*r, RouterChange::removed);
  release(r);
}

Router* RouterTable::allocate(const RouterIdentity& id, std::string_view nickname) {
  Router* r;
  if (!free_.empty()) {
    r = free_.back();
    free_.pop_back();
  } else {
    if (used_in_last_ == kChunk) {
      chunks_.push_back(std::make_unique<Router[]>(kChunk));
      used_in_last_ = 0;
    }
    r = &chunks_.back()[used_in_last_++];
  }
  *r = Router{};
  r->identity_ = id;
  r->nickname_len_ = std::uint8_t(std::min<std::size_t>(nickname.size(), sizeof r->nickname_));
  std::memcpy(r->nickname_, nickname.data(), r->nickname_len_);
  r->live_ = true;
  by_id_.emplace(id, r);
  link_nickname(r);
  return r;
}

void RouterTable::release(Router* r) {
  by_id_.erase(r->identity_);
  unlink_nickname(r);
  *r = Router{};  // frees its vector now, not when the slot is reused
  free_.push_back(r);
}

// Each nickname maps to the head of a chain through next_same_nick_. The
// key is a view of some chain member's nickname, so whenever a member
// leaves, the entry is re-keyed with the head's.
void RouterTable::link_nickname(Router* r) {
  if (r->nickname_len_ == 0) return;
  auto [it, inserted] = by_nick_.try_emplace(r->nickname(), r);
  if (inserted) return;
  r->next_same_nick_ = it->second->next_same_nick_;
  it->second->next_same_nick_ = r;
}

void RouterTable::unlink_nickname(Router* r) {
  if (r->nickname_len_ == 0) return;
  auto it = by_nick_.find(r->nickname());
  if (it == by_nick_.end()) return;
  Router* head = it->second;
  if (head == r) {
    head = r->next_same_nick_;
  } else {
    for (Router* p = head; p; p = p->next_same_nick_) {
      if (p->next_same_nick_ == r) {
        p->next_same_nick_ = r->next_same_nick_;
        break;
      }
    }
  }
  r->next_same_nick_ = nullptr;
  by_nick_.erase(it);
  if (head) by_nick_.emplace(head->nickname(), head);
}

std::string_view RouterTable::intern(std::string_view s) {
  auto it = strings_.find(s);
  if (it == strings_.end()) it = strings_.emplace(s).first;
  return *it;
}

const ExitPolicySummary* RouterTable::intern_policy(std::string_view text) {
  auto it = policies_.find(text);
  if (it != policies_.end()) return &it->second;
  Expected<ExitPolicySummary> p = ExitPolicySummary::parse(text);
  if (!p) {
    if (on_error_)
      on_error_("exit policy summary \"" + std::string(text) + "\": " + p.error().message);
    return nullptr;
  }
  return &policies_.emplace(std::string(text), std::move(*p)).first->second;
}

}  // namespace torcon::detail
