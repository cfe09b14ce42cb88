// TorConfig behind a control-port filter (as Whonix and Tails put between
// applications and tor): a fake control port that authenticates, then
// answers only the commands it allows and refuses the rest with 510. A real
// tor never refuses GETINFO config/names or SETEVENTS, hence the fake. It
// records every line it receives, so the bytes TorConfig writes are
// compared exactly.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "torcon/tor_config.hpp"

namespace torcon {
namespace {

using namespace std::chrono_literals;

// One connection on 127.0.0.1: NULL authentication, then `answer` per line.
class FilteredControlPort {
 public:
  explicit FilteredControlPort(std::function<std::string(const std::string&)> answer) {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_, 1);
    socklen_t len = sizeof a;
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, answer = std::move(answer)] {
      const int fd = ::accept(listen_, nullptr, nullptr);
      if (fd < 0) return;
      read_line(fd);  // PROTOCOLINFO
      say(fd, "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250 OK\r\n");
      read_line(fd);  // AUTHENTICATE
      say(fd, "250 OK\r\n");
      for (std::string l; !(l = read_line(fd)).empty();) {
        {
          std::lock_guard<std::mutex> g(mu_);
          received_.push_back(l);
        }
        say(fd, answer(l));
      }
      ::close(fd);
    });
  }
  ~FilteredControlPort() {
    ::shutdown(listen_, SHUT_RDWR);
    thread_.join();
    ::close(listen_);
  }
  Endpoint endpoint() const { return Endpoint::tcp("127.0.0.1", port_); }
  // Every line received after authentication, CRLF included.
  std::vector<std::string> received() const {
    std::lock_guard<std::mutex> g(mu_);
    return received_;
  }

 private:
  static std::string read_line(int fd) {
    std::string l;
    char c;
    while (::read(fd, &c, 1) == 1) {
      l.push_back(c);
      if (c == '\n') break;
    }
    return l;
  }
  static void say(int fd, std::string_view s) {
    EXPECT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
  }
  int listen_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<std::string> received_;
};

// Allows GETCONF/SETCONF of SocksPort and nothing else.
std::string socksport_only(const std::string& line) {
  if (line == "GETCONF SocksPort\r\n" || line == "GETCONF socksport\r\n")
    return "250-SocksPort=9050\r\n250 SocksPort=127.0.0.1:9150 IsolateDestAddr\r\n";
  if (line.rfind("SETCONF SocksPort=", 0) == 0) return "250 OK\r\n";
  return "510 Command filtered\r\n";
}

class ConfigFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = Reactor::create();
    ASSERT_TRUE(r.ok()) << r.error().message;
    reactor_ = std::move(*r);
  }
  Status wait(const std::function<void(StatusCallback)>& op) {
    std::optional<Status> st;
    op([&](const Status& s) { st = s; });
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (!st && std::chrono::steady_clock::now() < end) reactor_->run_once(20ms);
    return st.value_or(Status(Error(Errc::timeout, "did not complete")));
  }
  std::unique_ptr<Reactor> reactor_;
};

TEST_F(ConfigFilterTest, LazyLoadWorksWithOnlyGetconfAndSetconfAllowed) {
  FilteredControlPort port(socksport_only);
  Controller ctl(*reactor_);
  ASSERT_TRUE(wait([&](StatusCallback cb) { ctl.connect(port.endpoint(), std::move(cb)); }).ok());
  TorConfig cfg(ctl);
  ConfigOptions o;
  o.load = ConfigLoad::lazy;
  Status s = wait([&](StatusCallback cb) { cfg.load(o, std::move(cb)); });
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_FALSE(cfg.knows_names());
  EXPECT_FALSE(cfg.following_changes());

  s = wait([&](StatusCallback cb) { cfg.fetch({"socksport"}, std::move(cb)); });
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_NE(cfg.get("SOCKSPORT"), nullptr);
  EXPECT_EQ(cfg.get("SocksPort")->lines(),
            (std::vector<std::string>{"9050", "127.0.0.1:9150 IsolateDestAddr"}));
  EXPECT_EQ(*cfg.type_of("socksport"), ConfigType::other);  // no names: text

  // Refused before sending: nothing reaches the port.
  const std::size_t sent = port.received().size();
  EXPECT_EQ(cfg.set("socksport", "9050\r\nSIGNAL HALT").error().code, Errc::injection);
  EXPECT_EQ(cfg.set_list("SocksPort", {"9050", std::string("x\0", 2)}).error().code,
            Errc::injection);
  EXPECT_EQ(cfg.set("Socks Port", "1").error().code, Errc::bad_keyword);
  EXPECT_EQ(port.received().size(), sent);

  ASSERT_TRUE(cfg.set_list("socksport", {"9050", "127.0.0.1:9150 IsolateSOCKSAuth"}).ok());
  s = wait([&](StatusCallback cb) { cfg.save(std::move(cb)); });
  ASSERT_TRUE(s.ok()) << s.error().message;
  // The filter answers the read-back with its fixed value: the cache shows
  // what tor (here, the filter) says, not what was sent.
  EXPECT_EQ(cfg.get("SocksPort")->lines()[1], "127.0.0.1:9150 IsolateDestAddr");

  EXPECT_EQ(port.received(),
            (std::vector<std::string>{
                "SETEVENTS CONF_CHANGED\r\n",
                "GETINFO config/names\r\n",
                "GETCONF socksport\r\n",
                "SETCONF SocksPort=9050 SocksPort=\"127.0.0.1:9150 IsolateSOCKSAuth\"\r\n",
                "GETCONF SocksPort\r\n",
            }));
}

TEST_F(ConfigFilterTest, AFullLoadReportsTheFiltersRefusal) {
  FilteredControlPort port(socksport_only);
  Controller ctl(*reactor_);
  ASSERT_TRUE(wait([&](StatusCallback cb) { ctl.connect(port.endpoint(), std::move(cb)); }).ok());
  TorConfig cfg(ctl);
  ConfigOptions o;
  o.follow_changes = false;
  Status s = wait([&](StatusCallback cb) { cfg.load(o, std::move(cb)); });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::tor_error);
  EXPECT_EQ(s.error().status, 510);
  EXPECT_NE(s.error().message.find("Command filtered"), std::string::npos) << s.error().message;
  EXPECT_FALSE(cfg.loaded());
  EXPECT_EQ(port.received(), std::vector<std::string>{"GETINFO config/names\r\n"});
}

}  // namespace
}  // namespace torcon
