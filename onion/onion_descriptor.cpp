// Descriptors for load balancers: HSFETCH with its HS_DESC / HS_DESC_CONTENT
// events, and HSPOST.

#include "onion_input.hpp"
#include "torcon/events.hpp"
#include "torcon/keyword_args.hpp"
#include "torcon/onion_keys.hpp"
#include "torcon/onion_service.hpp"

namespace torcon {

struct OnionDescriptorFetch::State {
  Controller* ctl = nullptr;
  Reactor* reactor = nullptr;
  std::string id;
  int expected_fetches = 1;
  int failed = 0;
  std::string last_reason;
  Controller::SubscriptionId desc_sub = 0, content_sub = 0;
  Controller::HookId disconnect_hook = 0;
  TimerId timer{};
  bool finished = false;
  std::function<void(const Expected<OnionDescriptor>&)> cb;

  void finish(const Expected<OnionDescriptor>& r) {
    if (finished) return;
    finished = true;
    ctl->unsubscribe(desc_sub);
    ctl->unsubscribe(content_sub);
    ctl->remove_disconnect_hook(disconnect_hook);
    reactor->cancel_timer(timer);
    auto f = std::move(cb);
    cb = nullptr;
    if (f) f(r);
  }
};

OnionDescriptorFetch::OnionDescriptorFetch(Controller& ctl, Reactor& reactor,
                                           std::string_view address,
                                           std::vector<std::string> servers,
                                           std::chrono::milliseconds timeout,
                                           std::function<void(const Expected<OnionDescriptor>&)> cb)
    : state_(std::make_shared<State>()) {
  state_->ctl = &ctl;
  state_->reactor = &reactor;
  state_->cb = std::move(cb);
  Expected<std::string> id = onion_service_id(address);
  Command c("HSFETCH");
  if (id) {
    state_->id = *id;
    c.arg(*id);
  }
  for (const std::string& s : servers) {
    Expected<std::string> arg = hsdir_server_argument(s);
    if (!arg) {
      id = arg.error();
      break;
    }
    c.kv_bare("SERVER", *arg);
  }
  if (!id) {
    state_->finished = true;
    state_->cb(id.error());
    return;
  }
  state_->expected_fetches = servers.empty() ? 1 : int(servers.size());
  std::weak_ptr<State> weak = state_;
  state_->timer = reactor.start_timer(timeout, [weak] {
    if (auto st = weak.lock())
      st->finish(Error(Errc::timeout, "no descriptor for " + st->id + " in time"));
  });
  // Subscribed before HSFETCH is sent, so no event can come first.
  state_->desc_sub = ctl.subscribe_typed("HS_DESC", [weak](const Event& ev) {
    auto st = weak.lock();
    const HsDescEvent* e = ev.get<HsDescEvent>();
    if (!st || st->finished || !e || e->address != st->id) return;
    if (e->action_enum != HsDescAction::failed) return;
    ++st->failed;
    st->last_reason = std::string(e->reason.text);
    if (st->failed >= st->expected_fetches)
      st->finish(Error(Errc::tor_error,
                       "descriptor fetch failed: " +
                           (st->last_reason.empty() ? "no reason given" : st->last_reason)));
  });
  state_->content_sub = ctl.subscribe("HS_DESC_CONTENT", [weak](const Reply& r) {
    auto st = weak.lock();
    if (!st || st->finished || r.lines.empty()) return;
    // 650+HS_DESC_CONTENT HSAddress DescId HsDir, then the descriptor.
    std::string_view text = r.lines[0].text;
    ArgReader rd(text);
    Arg a;
    std::string_view words[4];
    for (int i = 0; i < 4 && rd.next(a); ++i) words[i] = a.value;
    if (words[1] != st->id) return;
    OnionDescriptor d;
    d.service_id = st->id;
    d.hs_dir = std::string(words[3]);
    d.descriptor = join_data(r.lines[0].data);
    // An empty body is tor saying this HSDir had nothing; the FAILED event
    // for it is counted above.
    if (d.descriptor.empty()) return;
    st->finish(std::move(d));
  });
  // The fetch's events come on this connection only: when it ends, nothing
  // (not even a reconnection) brings them.
  state_->disconnect_hook = ctl.add_disconnect_hook([weak](const Error& why) {
    if (auto st = weak.lock())
      st->finish(Error(Errc::disconnected, "descriptor fetch for " + st->id +
                                               " ended with the connection: " + why.message));
  });
  ctl.send(c, [weak](const Expected<Reply>& r) {
    if (auto st = weak.lock(); st && !r) st->finish(r.error());
  });
}

OnionDescriptorFetch::~OnionDescriptorFetch() {
  state_->cb = nullptr;
  state_->finish(Error(Errc::ok, ""));
}

Expected<Command> hspost_command(std::string_view descriptor, std::string_view address,
                                 const std::vector<std::string>& servers) {
  if (address.empty())
    return Error(Errc::bad_argument,
                 "HSPOST needs the service's address (tor 0.4.9 does not answer without it)");
  Expected<std::string> id = onion_service_id(address);
  if (!id) return id.error();
  if (descriptor.empty()) return Error(Errc::bad_argument, "HSPOST with an empty descriptor");
  Command c("HSPOST");
  for (const std::string& s : servers) {
    Expected<std::string> arg = hsdir_server_argument(s);
    if (!arg) return arg.error();
    c.kv_bare("SERVER", *arg);
  }
  c.kv_bare("HSADDRESS", *id);
  c.data(descriptor);
  if (!c.ok()) return c.error();
  return c;
}

void hspost(Controller& ctl, std::string_view descriptor, std::string_view address,
            const std::vector<std::string>& servers, StatusCallback cb,
            const CommandOptions& options) {
  Expected<Command> c = hspost_command(descriptor, address, servers);
  if (!c) return cb(c.error());
  ctl.send(
      *c,
      [cb = std::move(cb)](const Expected<Reply>& r) {
        if (r)
          cb(Status{});
        else
          cb(r.error());
      },
      options);
}

}  // namespace torcon
