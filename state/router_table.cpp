#include "router_table.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <utility>

#include "r_line_address.hpp"

namespace torcon::detail {

namespace {

// Flags a newer tor adds: the "s" line's names this version doesn't know,
// space-separated. Only walked for a line the reader saw such a name on
// (RouterEntry::has_unknown_flags()).
std::string unknown_flag_names(std::string_view flags_text) {
  std::string out;
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

RouterTable::~RouterTable() {
  // Free slots stay constructed (release() resets them): every slot handed
  // out is destroyed here, before the storage goes.
  for (std::size_t c = 0; c < chunks_.size(); ++c) std::destroy_n(chunks_[c].get(), used_in(c));
}

void RouterTable::ChunkFree::operator()(Router* p) const noexcept { ::operator delete(p); }

Status RouterTable::apply_consensus(std::string_view data, std::span<const std::uint32_t> line_ends,
                                    bool replace) {
  if (replace) ++generation_;
  // A first consensus: size the table once. ns/all entries (r, a, s, w, p
  // lines) run from ~150 bytes to ~400 with a long policy summary; counting
  // from the short end costs nothing (the capacity is a power of two, and
  // 8,000 to 13,000 routers land on the same one) and never rehashes midway.
  if (by_id_.empty()) by_id_.reserve(data.size() / 150);
  RouterEntryReader reader(data, line_ends);
  // One entry ahead: while an entry is applied, the table slot of the next
  // one's identity is on its way into the cache. The slots are reached in
  // no order (identities are digests), and that miss was the largest single
  // cost of a consensus into a warm table.
  RouterEntry ahead[2];
  bool more = reader.next(ahead[0]);
  if (more) by_id_.prefetch(ahead[0].identity());
  std::vector<Ipv6OrAddress> addrs;
  // Routers this consensus lists: when every router in the consensus is one
  // of them (always on a bootstrap, usually on NEWCONSENSUS), none is gone
  // and the walk over all routers below is skipped.
  std::size_t listed = 0;
  for (unsigned cur = 0; more; cur ^= 1) {
    const RouterEntry& e = ahead[cur];
    more = reader.next(ahead[cur ^ 1]);
    if (more) by_id_.prefetch(ahead[cur ^ 1].identity());
    RLineAddress address;
    if (!read_r_line_address(e, address))
      return Error(Errc::bad_router_status, "r line: bad address or ports", e.offset());
    Expected<RouterBandwidth> bw = e.bandwidth();
    if (!bw) return bw.error();
    const std::string_view a_lines = e.a_lines(), flags_text = e.flags_text();
    const std::string_view version = e.version(), policy = e.policy();
    const RouterFlags flags = e.flags();
    // One probe for a new router and a known one alike.
    bool inserted = false;
    Router* const r = *by_id_.lazy_emplace(e.identity(), [&](const auto& construct) {
      inserted = true;
      construct(make_router(e.identity(), e.nickname()));  // which leaves by_id_ alone
    });
    RouterChange what = RouterChange::changed;
    bool changed = false;
    if (inserted) {
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
    if (r->generation_ != generation_) {  // not counted twice if listed twice
      r->generation_ = generation_;
      ++listed;
    }
    changed |= assign(r->ipv4_, address.ipv4);
    changed |= assign(r->or_port_, address.or_port);
    changed |= assign(r->dir_port_, address.dir_port);
    changed |= assign(r->flags_, flags);
    std::string unknown;  // "" without allocating
    if (e.has_unknown_flags()) unknown = unknown_flag_names(flags_text);
    if (unknown.size() != r->unknown_flags_.size() || unknown != r->unknown_flags_) {
      r->unknown_flags_ = unknown.empty() ? std::string_view{} : intern(unknown);
      changed = true;
    }
    changed |= assign(r->bandwidth_, *bw);
    if (r->version_ != version) {
      r->version_ = version.empty() ? std::string_view{} : intern(version);
      changed = true;
    }
    const std::string_view old_policy =
        r->policy_ ? std::string_view(r->policy_->text()) : std::string_view{};
    if (old_policy != policy) {
      r->policy_ = policy.empty() ? nullptr : intern_policy(policy);
      changed = true;
    }
    addrs.clear();
    if (!a_lines.empty()) {
      std::optional<Ipv6OrAddress> first;
      if (a_lines.find('\n') == std::string_view::npos && (first = e.ipv6())) {
        addrs.push_back(*first);
      } else {
        OrAddressLines lines(a_lines);
        Ipv6OrAddress a;
        for (std::string_view text; lines.next(text);)
          if (parse_or_address6(text, a)) addrs.push_back(a);
      }
    }
    const std::span<const Ipv6OrAddress> had = r->ipv6();
    if (addrs.size() != had.size() || !std::equal(addrs.begin(), addrs.end(), had.begin(), same)) {
      if (addrs.size() <= 1) {
        r->ipv6_one_ = addrs.empty() ? Ipv6OrAddress{} : addrs[0];
        r->ipv6_count_ = std::uint8_t(addrs.size());
        r->ipv6_many_ = {};
      } else {
        r->ipv6_many_ = addrs;
        r->ipv6_count_ = 2;
      }
      changed = true;
    }
    if (changed) notify(*r, what);
  }
  if (reader.error().code != Errc::ok) return reader.error();
  if (!replace) return {};

  if (listed == consensus_count_) return {};
  // Through the pool's chunks, in address order, not the hash table's slot
  // order: that walk touched each router at random and cost as much as
  // reading 2,000 entries. Free and never-used slots are not in consensus.
  std::vector<Router*> gone;
  gone.reserve(consensus_count_ - listed);
  for (std::size_t c = 0; c < chunks_.size(); ++c) {
    Router* const chunk = chunks_[c].get();
    for (std::size_t i = 0, n = used_in(c); i < n; ++i)
      if (chunk[i].in_consensus_ && chunk[i].generation_ != generation_) gone.push_back(&chunk[i]);
  }
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

Status RouterTable::apply_descriptors(std::string_view text, const RouterIdentity* key) {
  Status result;
  for (const ServerDescriptor& d : split_server_descriptors(text)) {
    const RouterIdentity* id = d.identity ? &*d.identity : key;
    Router* r = id ? find(*id) : nullptr;
    if (!r) continue;
    Expected<ExitPolicy> p = ExitPolicy::from_descriptor(d.text);
    if (!p) {
      if (result)
        result = Error(p.error().code, "descriptor of $" + fingerprint_hex(r->identity_) + ": " +
                                           p.error().message);
      continue;
    }
    std::unique_ptr<ExitPolicy>& slot = full_policies_[r->identity_];
    slot = std::make_unique<ExitPolicy>(std::move(*p));
    r->descriptor_policy_ = slot.get();
    notify(*r, RouterChange::changed);
  }
  return result;
}

Router* RouterTable::find(std::string_view name) const noexcept {
  if (name.empty()) return nullptr;
  LongName ln;
  if (!parse_long_name(name, ln)) return nullptr;
  if (ln.has_fingerprint) return find(ln.identity);
  Router* head = first_named(ln.nickname);
  return head && !head->next_same_nick_ ? head : nullptr;
}

void RouterTable::build_nick_index() const {
  nick_index_ = true;
  by_nick_.reserve(by_id_.size());
  for (Router* r : by_id_) const_cast<RouterTable*>(this)->link_nickname(r);
}

Router* RouterTable::first_named(std::string_view nickname) const noexcept {
  if (!nick_index_) build_nick_index();
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
  Router* r = make_router(id, nickname);
  by_id_.insert(r);
  return r;
}

Router* RouterTable::make_router(const RouterIdentity& id, std::string_view nickname) {
  // A slot is constructed when first handed out, and reset on release.
  Router* r;
  if (!free_.empty()) {
    r = free_.back();
    free_.pop_back();
  } else {
    if (used_in_last_ == kChunk) {
      static_assert(alignof(Router) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
      chunks_.emplace_back(static_cast<Router*>(::operator new(kChunk * sizeof(Router))));
      used_in_last_ = 0;
    }
    r = new (chunks_.back().get() + used_in_last_) Router();
    ++used_in_last_;
  }
  r->identity_ = id;
  r->nickname_len_ = std::uint8_t(std::min<std::size_t>(nickname.size(), sizeof r->nickname_));
  // A guard named "$FP~" has no nickname: an empty view may hold null.
  if (r->nickname_len_ != 0) std::memcpy(r->nickname_, nickname.data(), r->nickname_len_);
  link_nickname(r);
  return r;
}

void RouterTable::release(Router* r) {
  by_id_.erase(r->identity_);
  if (r->descriptor_policy_) full_policies_.erase(r->identity_);
  unlink_nickname(r);
  *r = Router{};  // frees its vector now, not when the slot is reused
  free_.push_back(r);
}

// Each nickname maps to the head of a chain through next_same_nick_. The
// key is a view of some chain member's nickname, so whenever a member
// leaves, the entry is re-keyed with the head's.
void RouterTable::link_nickname(Router* r) {
  if (!nick_index_ || r->nickname_len_ == 0) return;
  auto [it, inserted] = by_nick_.try_emplace(r->nickname(), r);
  if (inserted) return;
  r->next_same_nick_ = it->second->next_same_nick_;
  it->second->next_same_nick_ = r;
}

void RouterTable::unlink_nickname(Router* r) {
  if (!nick_index_ || r->nickname_len_ == 0) return;
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

std::size_t RouterTable::recent_slot(std::string_view s) noexcept {
  std::uint64_t head = 0, tail = 0;
  // The usual case as two plain loads: a copy of variable length cost ~50
  // instructions a router. Either way, the same head and tail.
  if (s.size() >= 8) {
    std::memcpy(&head, s.data(), 8);
    std::memcpy(&tail, s.data() + s.size() - 8, 8);
  } else {
    std::memcpy(&head, s.data(), s.size());
    std::memcpy(&tail, s.data(), s.size());
  }
  const std::uint64_t h = (head * 0x9E3779B97F4A7C15u) ^ (tail * 0xC2B2AE3D27D4EB4Fu) ^ s.size();
  return std::size_t(h >> 58) * 2;  // versions in even slots, policies in odd ones
}

std::string_view RouterTable::intern(std::string_view s) {
  RecentSlot& slot = recent_[recent_slot(s)];
  if (slot.text == s) return slot.text;
  auto it = strings_.find(s);
  if (it == strings_.end()) it = strings_.emplace(s).first;
  slot.text = *it;
  return *it;
}

const ExitPolicySummary* RouterTable::intern_policy(std::string_view text) {
  RecentSlot& slot = recent_[recent_slot(text) + 1];
  if (slot.value && slot.text == text) return static_cast<const ExitPolicySummary*>(slot.value);
  auto it = policies_.find(text);
  if (it != policies_.end()) {
    slot = RecentSlot{it->first, &it->second};
    return &it->second;
  }
  Expected<ExitPolicySummary> p = ExitPolicySummary::parse(text);
  if (!p) {
    if (on_error_)
      on_error_("exit policy summary \"" + std::string(text) + "\": " + p.error().message);
    return nullptr;
  }
  auto added = policies_.emplace(std::string(text), std::move(*p)).first;
  slot = RecentSlot{added->first, &added->second};
  return &added->second;
}

}  // namespace torcon::detail
