// OnionReadyWatch: counts HS_DESC UPLOAD / UPLOADED / FAILED per onion
// address (v3 events carry the address on all three, so two services that
// share an HSDir never satisfy each other) and decides when one service's
// descriptor is out.

#include <map>
#include <optional>

#include "torcon/events.hpp"
#include "torcon/onion_keys.hpp"
#include "torcon/onion_service.hpp"

namespace torcon {

namespace {
// After every attempt failed, wait this long for more UPLOADs of the same
// round before giving up: tor announces a round's uploads together, but a
// second descriptor (the next time period's) may follow.
constexpr std::chrono::milliseconds kFailureSettle{1000};
}  // namespace

struct OnionReadyWatch::State {
  Controller* ctl = nullptr;
  Reactor* reactor = nullptr;
  OnionReadyOptions options;
  StatusCallback done;
  std::optional<Status> outcome;  // kept for a co_ready() that comes later
  Controller::SubscriptionId sub = 0;
  TimerId timeout_timer{}, settle_timer{};
  bool settle_pending = false;
  bool finished = false;
  std::string address;  // service ID, once known
  // Per service ID; only those seen before the address is known matter.
  std::map<std::string, OnionUploadProgress, std::less<>> seen;

  OnionUploadProgress current() const {
    auto it = seen.find(address);
    return it == seen.end() || address.empty() ? OnionUploadProgress{} : it->second;
  }

  void finish(Status s) {
    if (finished) return;
    finished = true;
    ctl->unsubscribe(sub);
    reactor->cancel_timer(timeout_timer);
    if (settle_pending) reactor->cancel_timer(settle_timer);
    StatusCallback cb = std::move(done);
    done = nullptr;
    if (cb)
      cb(s);  // last: the owner may destroy the watch in it
    else
      outcome = s;
  }

  void evaluate(const std::shared_ptr<State>& self) {
    if (finished || address.empty()) return;
    const OnionUploadProgress p = current();
    if (options.all_hsdirs) {
      if (p.failed > 0)
        return finish(Error(Errc::tor_error, std::to_string(p.failed) + " of " +
                                                 std::to_string(p.attempted) +
                                                 " descriptor uploads failed"));
      if (p.uploaded > 0 && p.uploaded >= p.attempted) return finish(Status{});
      return;
    }
    if (p.uploaded > 0) return finish(Status{});
    if (p.attempted > 0 && p.failed >= p.attempted && !settle_pending) {
      settle_pending = true;
      std::weak_ptr<State> weak = self;
      settle_timer = reactor->start_timer(kFailureSettle, [weak] {
        auto st = weak.lock();
        if (!st) return;
        st->settle_pending = false;
        const OnionUploadProgress q = st->current();
        if (q.uploaded == 0 && q.failed >= q.attempted)
          st->finish(Error(Errc::tor_error, "every descriptor upload failed (" +
                                                std::to_string(q.failed) + " attempts)"));
      });
    }
  }
};

OnionReadyWatch::OnionReadyWatch(Controller& ctl, Reactor& reactor, OnionReadyOptions options,
                                 StatusCallback done)
    : state_(std::make_shared<State>()) {
  state_->ctl = &ctl;
  state_->reactor = &reactor;
  state_->options = std::move(options);
  state_->done = std::move(done);
  std::weak_ptr<State> weak = state_;
  state_->timeout_timer = reactor.start_timer(state_->options.timeout, [weak] {
    if (auto st = weak.lock()) {
      const OnionUploadProgress p = st->current();
      st->finish(Error(Errc::timeout, "onion service not ready in time (" +
                                          std::to_string(p.attempted) + " uploads attempted, " +
                                          std::to_string(p.uploaded) + " succeeded, " +
                                          std::to_string(p.failed) + " failed)"));
    }
  });
  state_->sub = ctl.subscribe_typed(
      "HS_DESC",
      [weak](const Event& ev) {
        auto st = weak.lock();
        if (!st || st->finished) return;
        const HsDescEvent* e = ev.get<HsDescEvent>();
        if (!e || e->address.size() != 56) return;
        int OnionUploadProgress::*field = nullptr;
        switch (e->action_enum) {
          case HsDescAction::upload: field = &OnionUploadProgress::attempted; break;
          case HsDescAction::uploaded: field = &OnionUploadProgress::uploaded; break;
          case HsDescAction::failed: field = &OnionUploadProgress::failed; break;
          default: return;
        }
        // Before the address is known, any service's events are kept;
        // after, only this one's.
        if (!st->address.empty() && e->address != st->address) return;
        auto it = st->seen.find(e->address);
        if (it == st->seen.end())
          it = st->seen.emplace(std::string(e->address), OnionUploadProgress{}).first;
        ++(it->second.*field);
        if (!st->address.empty()) {
          if (st->options.progress) st->options.progress(it->second);
          st->evaluate(st);
        }
      },
      {},
      [weak](const Status& s) {
        if (auto st = weak.lock(); st && !s) st->finish(s.error());
      });
}

OnionReadyWatch::~OnionReadyWatch() {
  state_->done = nullptr;
  if (!state_->finished) {
    state_->finished = true;
    state_->ctl->unsubscribe(state_->sub);
    state_->reactor->cancel_timer(state_->timeout_timer);
    if (state_->settle_pending) state_->reactor->cancel_timer(state_->settle_timer);
  }
}

void OnionReadyWatch::set_address(std::string_view address) {
  if (state_->finished || !state_->address.empty()) return;
  Expected<std::string> id = onion_service_id(address);
  if (!id) return state_->finish(id.error());
  state_->address = *id;
  // Drop what other services did before now; keep this one's counts.
  for (auto it = state_->seen.begin(); it != state_->seen.end();)
    it = it->first == state_->address ? std::next(it) : state_->seen.erase(it);
  const OnionUploadProgress p = state_->current();
  if (p.attempted + p.uploaded + p.failed > 0 && state_->options.progress)
    state_->options.progress(p);
  state_->evaluate(state_);
}

Controller::Awaiter<Status> OnionReadyWatch::co_ready() {
  return {[st = state_](std::function<void(Status)> resume) {
            if (st->outcome) return resume(*st->outcome);
            if (st->finished) return resume(Error(Errc::bad_argument, "co_ready after done ran"));
            st->done = [resume = std::move(resume)](const Status& s) { resume(s); };
          },
          {}};
}

OnionUploadProgress OnionReadyWatch::progress() const { return state_->current(); }
bool OnionReadyWatch::finished() const { return state_->finished; }

}  // namespace torcon
