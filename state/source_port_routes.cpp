// SourcePortRoutes (include/torcon/stream_attacher.hpp): a table of "source
// port -> circuit" and the streams held while their route is not known yet.

#include <memory>
#include <unordered_map>
#include <utility>

#include "torcon/reactor.hpp"
#include "torcon/stream.hpp"
#include "torcon/stream_attacher.hpp"

namespace torcon {
namespace detail {

class SourcePortTable : public std::enable_shared_from_this<SourcePortTable> {
 public:
  SourcePortTable(Reactor& reactor, std::chrono::milliseconds hold)
      : reactor_(reactor), hold_(hold) {}
  ~SourcePortTable() {
    for (auto& [port, h] : held_) reactor_.cancel_timer(h.timer);
  }

  AttachDecision decide(AttachRequest& req) {
    const Stream& s = req.stream();
    const std::uint16_t port = s.source_port();
    if (req.is_reoffer() || s.is_internal() || port == 0) return AttachDecision::pass();
    if (auto it = routes_.find(port); it != routes_.end()) {
      const AttachDecision d = it->second;
      routes_.erase(it);
      return d;
    }
    if (hold_.count() <= 0) return AttachDecision::pass();
    if (auto it = held_.find(port); it != held_.end()) {
      // An older stream from this port still held: the port was reused, so
      // that stream's client is gone; its PendingAttach falls back.
      reactor_.cancel_timer(it->second.timer);
      PendingAttach old = std::move(it->second.pending);
      held_.erase(it);
    }
    const std::uint64_t serial = ++serial_;
    std::weak_ptr<SourcePortTable> self = weak_from_this();
    Held h{req.defer(), {}, serial};
    h.timer = reactor_.start_timer(hold_, [self, port, serial] {
      auto t = self.lock();
      if (!t) return;
      auto it = t->held_.find(port);
      if (it == t->held_.end() || it->second.serial != serial) return;
      PendingAttach p = std::move(it->second.pending);
      t->held_.erase(it);
      p.decide(AttachDecision::pass());  // no route came: the next attacher decides
    });
    held_.insert_or_assign(port, std::move(h));
    return AttachDecision::later();
  }

  void route(std::uint16_t port, std::string_view circuit_id, int exit_hop) {
    const AttachDecision d = AttachDecision::circuit(circuit_id, exit_hop);
    if (auto it = held_.find(port); it != held_.end()) {
      reactor_.cancel_timer(it->second.timer);
      PendingAttach p = std::move(it->second.pending);
      held_.erase(it);
      if (p.decide(d)) return;
      // That stream ended meanwhile: the route waits for the next one.
    }
    routes_.insert_or_assign(port, d);
  }

  bool unroute(std::uint16_t port) { return routes_.erase(port) > 0; }
  std::size_t routes() const noexcept { return routes_.size(); }
  std::size_t held() const noexcept { return held_.size(); }

 private:
  struct Held {
    PendingAttach pending;
    TimerId timer;
    std::uint64_t serial;
  };
  Reactor& reactor_;
  std::chrono::milliseconds hold_;
  std::unordered_map<std::uint16_t, AttachDecision> routes_;
  std::unordered_map<std::uint16_t, Held> held_;
  std::uint64_t serial_ = 0;
};

}  // namespace detail

SourcePortRoutes::SourcePortRoutes(Reactor& reactor, std::chrono::milliseconds hold)
    : table_(std::make_shared<detail::SourcePortTable>(reactor, hold)) {}
SourcePortRoutes::~SourcePortRoutes() = default;

void SourcePortRoutes::route(std::uint16_t port, std::string_view circuit_id, int exit_hop) {
  table_->route(port, circuit_id, exit_hop);
}
bool SourcePortRoutes::unroute(std::uint16_t port) { return table_->unroute(port); }
std::size_t SourcePortRoutes::routes() const noexcept { return table_->routes(); }
std::size_t SourcePortRoutes::held() const noexcept { return table_->held(); }

AttachFunction SourcePortRoutes::attacher() const {
  return [t = table_](AttachRequest& req) { return t->decide(req); };
}

}  // namespace torcon
