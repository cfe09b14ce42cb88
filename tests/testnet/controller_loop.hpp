// One reactor and the controllers a test opens on it, driven synchronously:
// the blocking forms of the calls the private-network tests make. Every wait
// is bounded, so a bug fails the test instead of hanging it.
//
//   ControllerLoop loop;
//   TORCON_SKIP_IF_NO_REACTOR(loop);
//   std::string err;
//   auto ctl = loop.connect(net.client(), err);
//   ASSERT_EQ(err, "");
//   EXPECT_TRUE(loop.getinfo(*ctl, "version"));
#pragma once

#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "torcon/controller.hpp"
#include "torcon/reactor.hpp"
#include "torcon/testnet.hpp"
#include "torcon/tor_state.hpp"

namespace torcon::testing {

class ControllerLoop {
 public:
  // The backend TORCON_REACTOR names (each whole-binary test has one ctest
  // entry per backend).
  ControllerLoop() {
    auto r = Reactor::create();
    if (r) {
      reactor_ = std::move(*r);
      return;
    }
    const char* want = std::getenv("TORCON_REACTOR");
    const bool uring_wanted =
        want && std::string_view(want).find("uring") != std::string_view::npos;
    if (uring_wanted && !Reactor::uring_available())
      skip_ = "io_uring unavailable here";
    else
      error_ = r.error().message;
  }

  // Why the test cannot run here (io_uring asked for and refused); empty if
  // it can. error() is a reactor that failed for another reason: a failure.
  const std::string& skip() const { return skip_; }
  const std::string& error() const { return error_; }
  Reactor& reactor() { return *reactor_; }

  template <class Pred>
  bool pump_until(std::chrono::milliseconds limit, Pred pred,
                  std::chrono::milliseconds step = std::chrono::milliseconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      reactor_->run_once(step);
    }
    return true;
  }
  void pump_for(std::chrono::milliseconds d) {
    pump_until(
        d, [] { return false; }, std::chrono::milliseconds(5));
  }

  // A controller connected and authenticated to `where`; `error` says why
  // not. `options.cookie_file` is set from `cookie` when that is given.
  std::unique_ptr<Controller> connect(const Endpoint& where, const std::string& cookie,
                                      std::string& error, ControllerOptions options = {}) {
    if (!cookie.empty()) options.cookie_file = cookie;
    auto ctl = std::make_unique<Controller>(*reactor_, options);
    std::optional<Status> st;
    ctl->connect(where, [&](const Status& s) { st = s; });
    if (!pump_until(std::chrono::seconds(10), [&] { return st.has_value(); }))
      error = "connect timed out";
    else if (!*st)
      error = st->error().message;
    return ctl;
  }
  std::unique_ptr<Controller> connect(const testnet::Node& node, std::string& error,
                                      ControllerOptions options = {}) {
    return connect(node.control(), node.cookie_file, error, std::move(options));
  }

  // GETINFO of one key: its value, or the error (Errc::timeout after 10 s).
  Expected<std::string> getinfo(Controller& ctl, std::string_view key) {
    std::optional<Expected<KeyValues>> res;
    ctl.getinfo({key}, [&](const Expected<KeyValues>& kv) { res.emplace(kv); });
    if (!pump_until(std::chrono::seconds(10), [&] { return res.has_value(); }))
      return Error(Errc::timeout, "GETINFO " + std::string(key) + " timed out");
    if (!*res) return res->error();
    const std::string* v = (*res)->find(key);
    return v ? *v : std::string();
  }

  // TorState::attach, waited for (Errc::timeout after `limit`).
  Status attach(TorState& state, Controller& ctl,
                std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    std::optional<Status> done;
    state.attach(ctl, [&](const Status& s) { done = s; });
    if (!pump_until(limit, [&] { return done.has_value(); }))
      return Error(Errc::timeout, "TorState bootstrap timed out");
    return *done;
  }

 private:
  std::unique_ptr<Reactor> reactor_;
  std::string skip_, error_;
};

}  // namespace torcon::testing

// Skips the test when the loop's backend cannot run here; fails it when the
// reactor could not be made for another reason.
#define TORCON_SKIP_IF_NO_REACTOR(loop)                      \
  if (!(loop).skip().empty()) GTEST_SKIP() << (loop).skip(); \
  ASSERT_EQ((loop).error(), "")
