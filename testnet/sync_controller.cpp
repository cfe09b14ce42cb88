// SyncController: Controller calls that block, by running the reactor until
// the callback has run.

#include <utility>

#include "internal.hpp"

namespace torcon::testnet::detail {

SyncController::SyncController(Reactor& reactor, Endpoint where, std::string cookie_file)
    : reactor_(reactor), where_(std::move(where)), cookie_file_(std::move(cookie_file)) {}

SyncController::~SyncController() { drop(); }

void SyncController::drop() {
  // Pending callbacks run now with Errc::disconnected; they only touch
  // shared slots, so nothing dangles.
  ctl_.reset();
}

template <class T>
Expected<T> SyncController::await(const std::shared_ptr<std::optional<Expected<T>>>& slot,
                                  Clock::time_point deadline, std::string_view what) {
  if (!run_until(reactor_, deadline, [&] { return slot->has_value(); })) {
    // The reply may still come; a fresh connection keeps later replies from
    // being matched to the wrong command.
    drop();
    return Error(Errc::timeout, std::string(what) + ": no answer from " + where_.to_string());
  }
  Expected<T> r = std::move(**slot);
  if (!r && r.error().code != Errc::tor_error) drop();
  return r;
}

Status SyncController::connect(milliseconds timeout) {
  if (ctl_ && ctl_->ready() && !*broken_) return {};
  drop();
  broken_ = std::make_shared<bool>(false);
  ControllerOptions opts;
  opts.cookie_file = cookie_file_;
  opts.connect.timeout = timeout;
  ctl_ = std::make_unique<Controller>(reactor_, std::move(opts));
  ctl_->on_disconnect([broken = broken_](const Error&) { *broken = true; });
  auto slot = std::make_shared<std::optional<Expected<bool>>>();
  ctl_->connect(where_, [slot](const Status& s) {
    if (s)
      slot->emplace(true);
    else
      slot->emplace(s.error());
  });
  Expected<bool> r = await(slot, Clock::now() + timeout, "connect");
  if (!r) {
    drop();
    return r.error();
  }
  return {};
}

Expected<KeyValues> SyncController::getinfo(std::vector<std::string_view> keys,
                                            milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  if (Status s = connect(timeout); !s) return s.error();
  auto slot = std::make_shared<std::optional<Expected<KeyValues>>>();
  ctl_->getinfo(std::span<const std::string_view>(keys),
                [slot](const Expected<KeyValues>& kv) { slot->emplace(kv); });
  return await(slot, deadline, "GETINFO");
}

Expected<KeyValues> SyncController::getconf(std::string_view key, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  if (Status s = connect(timeout); !s) return s.error();
  auto slot = std::make_shared<std::optional<Expected<KeyValues>>>();
  ctl_->getconf({key}, [slot](const Expected<KeyValues>& kv) { slot->emplace(kv); });
  return await(slot, deadline, "GETCONF");
}

namespace {
std::function<void(const Status&)> fill(
    const std::shared_ptr<std::optional<Expected<bool>>>& slot) {
  return [slot](const Status& s) {
    if (s)
      slot->emplace(true);
    else
      slot->emplace(s.error());
  };
}
}  // namespace

Status SyncController::setconf(std::string_view key, std::string_view value, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  if (Status s = connect(timeout); !s) return s;
  auto slot = std::make_shared<std::optional<Expected<bool>>>();
  std::pair<std::string_view, std::optional<std::string_view>> change{key, value};
  ctl_->setconf(Controller::ConfChanges(&change, 1), fill(slot));
  Expected<bool> r = await(slot, deadline, "SETCONF");
  if (!r) return r.error();
  return {};
}

Status SyncController::signal(std::string_view name, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  if (Status s = connect(timeout); !s) return s;
  auto slot = std::make_shared<std::optional<Expected<bool>>>();
  ctl_->signal(name, fill(slot));
  Expected<bool> r = await(slot, deadline, "SIGNAL");
  if (!r) return r.error();
  return {};
}

}  // namespace torcon::testnet::detail
