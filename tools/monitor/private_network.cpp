#include "monitor/private_network.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace torcon::monitor {

Expected<std::unique_ptr<PrivateNetwork>> PrivateNetwork::start(
    std::uint16_t base_port, const std::atomic<bool>* cancel,
    std::function<void(std::string_view)> log) {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/torcon-monitor-XXXXXX";
  if (!::mkdtemp(dir.data()))
    return Error(Errc::io, "cannot create a directory for the private network in " +
                               dir.substr(0, dir.rfind('/')));
  testnet::Options o;
  o.dir = dir;
  o.owner_pid = ::getpid();
  o.cancel = cancel;
  o.log = std::move(log);
  if (base_port == 0) {
    Expected<std::uint16_t> free = testnet::find_free_base_port(16000, o);
    if (!free) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
      return free.error();
    }
    base_port = *free;
  }
  o.base_port = base_port;
  Expected<testnet::Network> net = testnet::start(o);
  if (!net) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return net.error();
  }
  return std::unique_ptr<PrivateNetwork>(new PrivateNetwork(std::move(*net)));
}

PrivateNetwork::~PrivateNetwork() {
  (void)testnet::stop(net_.dir, std::chrono::seconds(5));
  std::error_code ec;
  std::filesystem::remove_all(net_.dir, ec);
}

}  // namespace torcon::monitor
