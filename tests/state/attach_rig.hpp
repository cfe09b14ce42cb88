// A stream attacher without a socket or a tor: the protocol core
// (control/control_protocol.hpp) authenticated with canned bytes, a TorState
// fed from its STREAM and CIRC events, and the attacher's machinery writing
// through the protocol. Tests feed what tor would send and read the exact
// bytes the attacher wrote. Used by the attacher tests and bench/attach_bench.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "attach_core.hpp"
#include "control_protocol.hpp"
#include "torcon/events.hpp"
#include "torcon/tor_state.hpp"

namespace torcon::test {

class AttachRig {
 public:
  struct Host final : detail::ControlProtocol::Host {
    std::string written;
    std::chrono::steady_clock::time_point last_write;  // with `stamp` (benchmarks)
    bool stamp = false;
    Status write(std::string_view bytes) override {
      if (stamp) last_write = std::chrono::steady_clock::now();
      written.append(bytes);
      return {};
    }
    void drop_connection() override {}
    void wake() override {}
  };
  struct Sink final : detail::CommandSink {
    explicit Sink(detail::ControlProtocol& p) : proto(p) {}
    void command(std::string_view line, ReplyCallback cb) override {
      proto.command(line, std::move(cb));
    }
    const void* connection() const noexcept override { return &proto; }
    detail::ControlProtocol& proto;
  };

  explicit AttachRig(AttacherOptions options = {}) : proto(host, {}), sink(proto) {
    proto.begin([](const Status&) {});
    proto.subscribe_typed("STREAM", [this](const Event& e) { (void)state.apply(e); }, {}, {});
    proto.subscribe_typed("CIRC", [this](const Event& e) { (void)state.apply(e); }, {}, {});
    proto.connected();
    tor("250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250-VERSION Tor=\"0.4.9.11\"\r\n"
        "250 OK\r\n");
    tor("250 OK\r\n");  // AUTHENTICATE; SETEVENTS CIRC STREAM goes out
    tor("250 OK\r\n");  // SETEVENTS
    host.written.clear();
    core = std::make_shared<detail::AttachCore>(state, sink, options);
  }
  ~AttachRig() {
    core.reset();
    // Callbacks still owed run now (with an error), as a Controller's do.
    proto.fail_connection(Error(Errc::disconnected, "rig destroyed"));
    while (proto.has_deferred()) proto.run_deferred();
  }

  // Bytes from tor, then what the loop would run next.
  void tor(std::string_view bytes) {
    proto.feed(bytes);
    while (proto.has_deferred()) proto.run_deferred();
  }
  // What was written since the last take().
  std::string take() { return std::exchange(host.written, {}); }

  // install() with tor answering GETCONF with `option` and SETCONF with OK.
  void install(std::string_view option = "0") {
    core->install({});
    tor("250 __LeaveStreamsUnattached=" + std::string(option) + "\r\n250 OK\r\n");
    host.written.clear();
  }

  Host host;
  detail::ControlProtocol proto;
  TorState state;
  Sink sink;
  std::shared_ptr<detail::AttachCore> core;
};

// A user stream from 127.0.0.1:<port> as tor 0.4.9 announces it: NEW, then
// CONTROLLER_WAIT (the target is a documentation address).
inline std::string new_stream(std::string_view id, std::uint16_t source_port,
                              std::string_view target = "192.0.2.7:80") {
  return "650 STREAM " + std::string(id) + " NEW 0 " + std::string(target) +
         " SOURCE_ADDR=127.0.0.1:" + std::to_string(source_port) +
         " PURPOSE=USER\r\n"
         "650 STREAM " +
         std::string(id) + " CONTROLLER_WAIT 0 " + std::string(target) + "\r\n";
}

}  // namespace torcon::test
