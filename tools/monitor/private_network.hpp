// The monitor's mode without --control: a private Tor network of its own
// (torcon::testnet: 3 authorities, 2 relays, an exit, a client, all on
// 127.0.0.1) in a fresh temporary directory, stopped and removed again when
// this object goes. The tors are told to exit by themselves when the
// monitor's process is gone (testnet::Options::owner_pid), so even a killed
// monitor leaves nothing running for long.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "torcon/expected.hpp"
#include "torcon/testnet.hpp"

namespace torcon::monitor {

class PrivateNetwork {
 public:
  // Blocks until the network is usable (~15 s). `base_port`: the first of its
  // ports, or 0 for the first free range from 16000. `log` gets progress
  // lines; `cancel` (may be null) aborts the start.
  static Expected<std::unique_ptr<PrivateNetwork>> start(std::uint16_t base_port,
                                                         const std::atomic<bool>* cancel,
                                                         std::function<void(std::string_view)> log);
  ~PrivateNetwork();  // stops every tor and removes the directory
  PrivateNetwork(const PrivateNetwork&) = delete;
  PrivateNetwork& operator=(const PrivateNetwork&) = delete;

  const testnet::Network& network() const noexcept { return net_; }

 private:
  explicit PrivateNetwork(testnet::Network net) : net_(std::move(net)) {}
  testnet::Network net_;
};

}  // namespace torcon::monitor
