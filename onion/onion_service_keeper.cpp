#include "torcon/onion_service_keeper.hpp"

#include <algorithm>
#include <utility>

namespace torcon {

struct OnionServiceKeeper::State {
  struct Kept {
    std::string address;
    OnionServiceSpec spec;  // with the key, unless it was discarded
  };
  std::vector<Kept> kept;
  OnionRestoreListener listener;

  void tell(std::string_view address, const Status& s) {
    if (listener) listener(address, s);
  }
  auto find(std::string_view address) {
    return std::find_if(kept.begin(), kept.end(),
                        [&](const Kept& k) { return k.address == address; });
  }
  // After a reconnection: the kept services again, each at its address.
  void restore(Controller& ctl, const std::weak_ptr<State>& self) {
    std::vector<Kept> lost;
    std::erase_if(kept, [&](Kept& k) {
      if (!k.spec.key.empty()) return false;
      lost.push_back(std::move(k));
      return true;
    });
    for (const Kept& k : lost)
      tell(k.address, Error(Errc::disconnected,
                            "onion service " + k.address +
                                " cannot be re-created: it was added with DiscardPK and tor never "
                                "told its key"));
    for (const Kept& k : kept)
      ensure_onion_service(
          ctl, k.spec, [self, address = k.address](const Expected<OnionServiceInfo>& r) {
            auto st = self.lock();
            if (!st) return;
            if (!r) return st->tell(address, r.error());
            if (r->address != address)  // the key names the address: never
              return st->tell(address, Error(Errc::bad_argument,
                                             "tor re-created the service at " + r->address));
            st->tell(address, Status{});
          });
  }
};

OnionServiceKeeper::OnionServiceKeeper(Controller& controller)
    : state_(std::make_shared<State>()), controller_(&controller) {
  hook_ = controller.add_reconnect_hook([self = std::weak_ptr<State>(state_), ctl = &controller] {
    if (auto st = self.lock()) st->restore(*ctl, self);
  });
}

OnionServiceKeeper::~OnionServiceKeeper() { controller_->remove_reconnect_hook(hook_); }

void OnionServiceKeeper::add(const OnionServiceSpec& spec, OnionServiceCallback cb,
                             const CommandOptions& options) {
  add_onion_service(
      *controller_, spec,
      [self = std::weak_ptr<State>(state_), spec = spec,
       cb = std::move(cb)](const Expected<OnionServiceInfo>& r) mutable {
        auto st = self.lock();
        if (r && st) {
          if (spec.key.empty()) spec.key = r->private_key;  // "" with DiscardPK
          auto it = st->find(r->address);
          if (it != st->kept.end())
            it->spec = std::move(spec);
          else
            st->kept.push_back({r->address, std::move(spec)});
        }
        if (cb) cb(r);
      },
      options);
}

Controller::Awaiter<Expected<OnionServiceInfo>> OnionServiceKeeper::co_add(OnionServiceSpec spec,
                                                                           CommandOptions options) {
  return {[this, spec = std::move(spec),
           options](std::function<void(Expected<OnionServiceInfo>)> resume) {
            add(
                spec,
                [resume = std::move(resume)](const Expected<OnionServiceInfo>& r) { resume(r); },
                options);
          },
          {}};
}

void OnionServiceKeeper::remove(std::string_view address, StatusCallback cb,
                                const CommandOptions& options) {
  std::string full(address);
  if (!full.ends_with(".onion")) full += ".onion";
  auto it = state_->find(full);
  if (it == state_->kept.end()) {
    if (cb) cb(Error(Errc::bad_argument, "no kept onion service " + full));
    return;
  }
  state_->kept.erase(it);
  remove_onion_service(*controller_, full, std::move(cb), options);
}

void OnionServiceKeeper::on_restore(OnionRestoreListener listener) {
  state_->listener = std::move(listener);
}

std::vector<std::string> OnionServiceKeeper::addresses() const {
  std::vector<std::string> out;
  out.reserve(state_->kept.size());
  for (const State::Kept& k : state_->kept) out.push_back(k.address);
  return out;
}

}  // namespace torcon
