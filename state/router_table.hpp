// The routers of a TorState: Router objects in a chunked pool (their
// addresses never change while they live), found by identity and by
// nickname; strings many routers share (versions, policy summaries, unknown
// flags) interned once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/container/node_hash_set.h"
#include "listener_list.hpp"
#include "string_key.hpp"
#include "torcon/events.hpp"
#include "torcon/exit_policy.hpp"
#include "torcon/expected.hpp"
#include "torcon/router.hpp"

namespace torcon::detail {

using RouterListeners = ListenerList<const Router&, RouterChange>;

class RouterTable {
 public:
  RouterTable(RouterListeners& listeners, const ErrorSink& on_error)
      : listeners_(listeners), on_error_(on_error) {}
  ~RouterTable();
  RouterTable(const RouterTable&) = delete;
  RouterTable& operator=(const RouterTable&) = delete;

  // A consensus' router status entries (raw data block, dot-stuffed, with
  // the LF offsets ReplyReader recorded or an empty span). replace: the set
  // becomes exactly these (ns/all, NEWCONSENSUS); else they are upserted
  // (NS). On a malformed entry, the entries before it are applied and none
  // is removed.
  Status apply_consensus(std::string_view data, std::span<const std::uint32_t> line_ends,
                         bool replace);

  // Server descriptors (GETINFO desc/id/<HEX>, desc/all-recent; unstuffed
  // text): each known router's full exit policy is replaced by its
  // descriptor's. `key` is the identity the GETINFO key named (desc/id/),
  // used when a descriptor has no fingerprint line. Descriptors of routers
  // the state does not know are skipped. A descriptor whose policy does not
  // parse is an error; the others are still applied.
  Status apply_descriptors(std::string_view text, const RouterIdentity* key);

  Router* find(const RouterIdentity& id) const noexcept {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : *it;
  }
  // "$HEX[~=]nick" by identity; a bare nickname when unique.
  Router* find(std::string_view name) const noexcept;
  Router* first_named(std::string_view nickname) const noexcept;
  std::vector<const Router*> all_named(std::string_view nickname) const;

  // The router an event names, made a placeholder if the state has none
  // (null only for a bare nickname that matches no single router).
  Router* resolve(const LongName& name);
  // Circuit hops and guards hold references; a placeholder or a router the
  // consensus dropped leaves when the last reference goes.
  void ref(Router* r) noexcept { ++r->refs_; }
  void unref(Router* r);

  std::size_t consensus_count() const noexcept { return consensus_count_; }
  std::size_t size() const noexcept { return by_id_.size(); }
  template <class F>
  void for_each(F&& f) const {
    for (Router* r : by_id_) f(*r);
  }

 private:
  // By identity, for tables keyed by it and for by_id_, whose elements are
  // the routers themselves (found by their identity).
  struct IdHash {
    using is_transparent = void;
    // Identities are digests: their first bytes are already uniform.
    std::size_t operator()(const RouterIdentity& id) const noexcept {
      std::size_t h;
      static_assert(sizeof h <= sizeof id);
      __builtin_memcpy(&h, id.data(), sizeof h);
      return h;
    }
    std::size_t operator()(const Router* r) const noexcept { return (*this)(r->identity()); }
  };
  struct IdEq {
    using is_transparent = void;
    static const RouterIdentity& id(const RouterIdentity& id) noexcept { return id; }
    static const RouterIdentity& id(const Router* r) noexcept { return r->identity(); }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
      std::uint64_t x[3] = {}, y[3] = {};
      __builtin_memcpy(x, id(a).data(), 20);
      __builtin_memcpy(y, id(b).data(), 20);
      return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2])) == 0;
    }
  };
  static constexpr std::size_t kChunk = 512;

  Router* allocate(const RouterIdentity& id, std::string_view nickname);
  Router* make_router(const RouterIdentity& id, std::string_view nickname);  // not in by_id_
  void release(Router* r);  // out of the maps, back to the pool
  void link_nickname(Router* r);
  void unlink_nickname(Router* r);
  void notify(const Router& r, RouterChange what) {
    if (!listeners_.empty()) listeners_.call(on_error_, r, what);
  }
  std::string_view intern(std::string_view s);
  // In front of the intern tables: most routers repeat one of a few dozen
  // versions and policies, and a slot picked from the text's length and
  // ends, checked by one compare, is cheaper than hashing the whole text.
  struct RecentSlot {
    std::string_view text;  // interned
    const void* value = nullptr;
  };
  static std::size_t recent_slot(std::string_view s) noexcept;
  RecentSlot recent_[128];
  const ExitPolicySummary* intern_policy(std::string_view text);

  RouterListeners& listeners_;
  const ErrorSink& on_error_;
  // The pool: chunks of storage for kChunk routers each, constructed one at
  // a time as make_router() hands them out (all but the last chunk full).
  // Constructing a whole chunk up front was a separate pass zeroing ~110 KB
  // per 512 routers, about 5 % of a bootstrap.
  struct ChunkFree {
    void operator()(Router* p) const noexcept;
  };
  std::vector<std::unique_ptr<Router, ChunkFree>> chunks_;
  std::size_t used_in_last_ = kChunk;
  std::size_t used_in(std::size_t chunk) const noexcept {
    return chunk + 1 == chunks_.size() ? used_in_last_ : kChunk;
  }
  std::vector<Router*> free_;
  // The routers, found by identity. A set of pointers, not a map from the
  // identity: an 8-byte slot instead of a 32-byte one keeps an 8,000-router
  // table at 130 KB instead of 520 KB (fewer cache misses filling it, and
  // 50 bytes less per router); a lookup that matches reads the router's
  // identity, which the caller is about to use anyway.
  absl::flat_hash_set<Router*, IdHash, IdEq> by_id_;
  // Nickname -> chain head, built on the first lookup by nickname (most
  // users never do one; a bootstrap saves 8000 inserts) and kept from then.
  void build_nick_index() const;
  mutable bool nick_index_ = false;
  mutable absl::flat_hash_map<std::string_view, Router*, TextHash, TextEq> by_nick_;
  absl::node_hash_set<std::string, TextHash, TextEq> strings_;
  absl::flat_hash_map<RouterIdentity, std::unique_ptr<ExitPolicy>, IdHash, IdEq> full_policies_;
  absl::node_hash_map<std::string, ExitPolicySummary, TextHash, TextEq> policies_;
  std::uint32_t generation_ = 0;
  std::size_t consensus_count_ = 0;
};

}  // namespace torcon::detail
