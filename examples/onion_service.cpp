// onion_service: publish an ephemeral v3 onion service that serves a small
// web page, print its address once its descriptor is uploaded, and serve
// until interrupted (SIGINT/SIGTERM); the service goes away with us.
//
//   onion_service [--control HOST:PORT|PATH] [--text TEXT] [--timeout SECONDS]
//   onion_service --control 127.0.0.1:9051
//   # prints "http://<56 characters>.onion/ is ready", then:
//   curl -x socks5h://127.0.0.1:9050 http://<56 characters>.onion/
//
// The page is served by this program on 127.0.0.1 (a port the kernel picks),
// on the same Reactor as the control connection; ADD_ONION maps the
// service's port 80 to it. tor makes the key and forgets it when the
// connection closes (the service is not detached), so each run gets a new
// address. Exit status: 0 served and stopped on a signal, 1 the service
// could not be published (or tor went away), 2 usage.

#include "torcon/onion_service.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "torcon/controller.hpp"
#include "torcon/reactor.hpp"

namespace {

const char* const kUsage =
    "usage: onion_service [--control HOST:PORT|PATH] [--text TEXT] [--timeout SECONDS]\n";

// "HOST:PORT" (split at the last ':') or an absolute Unix socket path.
bool parse_endpoint(std::string_view s, torcon::Endpoint& out) {
  if (!s.empty() && s.front() == '/') {
    out = torcon::Endpoint::unix_socket(std::string(s));
    return true;
  }
  const std::size_t colon = s.rfind(':');
  unsigned port = 0;
  if (colon == std::string_view::npos || colon == 0) return false;
  const auto r = std::from_chars(s.data() + colon + 1, s.data() + s.size(), port);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || port == 0 || port > 65535)
    return false;
  out = torcon::Endpoint::tcp(std::string(s.substr(0, colon)), std::uint16_t(port));
  return true;
}

// A minimal HTTP/1.0 server on the reactor: every request, once its header
// is complete, gets `page` and the connection is closed. Non-blocking
// sockets, so a slow client holds up nothing.
class PageServer {
 public:
  PageServer(torcon::Reactor& reactor, std::string page) : reactor_(reactor) {
    response_ = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                std::to_string(page.size()) + "\r\nConnection: close\r\n\r\n" + page;
  }
  ~PageServer() {
    for (auto& [fd, request] : clients_) drop(fd, false);
    if (listener_ >= 0) {
      reactor_.unwatch(listener_);
      close(listener_);
    }
  }
  // Listens on 127.0.0.1; the port, or 0 (errno says why).
  std::uint16_t listen_on_loopback() {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (listener_ < 0 || bind(listener_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        listen(listener_, 16) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return 0;
    if (!reactor_.watch_readable(listener_, [this] { accept_all(); })) return 0;
    return ntohs(a.sin_port);
  }
  unsigned served() const { return served_; }

 private:
  void accept_all() {
    for (int fd; (fd = accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
      clients_[fd];
      if (!reactor_.watch_readable(fd, [this, fd] { read_from(fd); })) drop(fd, false);
    }
  }
  void read_from(int fd) {
    char buf[2048];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    std::string& request = clients_[fd];
    if (n > 0) request.append(buf, std::size_t(n));
    if (n <= 0 || request.size() > 16384) return drop(fd, true);  // gone, or not HTTP
    if (request.find("\r\n\r\n") == std::string::npos) return;
    // Small enough for the socket buffer: one send.
    if (send(fd, response_.data(), response_.size(), MSG_NOSIGNAL) == ssize_t(response_.size()))
      ++served_;
    drop(fd, true);
  }
  void drop(int fd, bool erase) {
    reactor_.unwatch(fd);
    close(fd);
    if (erase) clients_.erase(fd);
  }

  torcon::Reactor& reactor_;
  std::string response_;
  int listener_ = -1;
  std::map<int, std::string> clients_;  // fd -> request so far
  unsigned served_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  torcon::Endpoint control = torcon::Endpoint::tcp("127.0.0.1", 9051);
  std::string text = "Hello from an onion service run by torcon.\n";
  torcon::OnionReadyOptions ready_options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc)
      return std::fprintf(stderr, "onion_service: bad option %s\n%s", argv[i], kUsage), 2;
    const std::string_view v = argv[++i];
    if (a == "--control") {
      if (!parse_endpoint(v, control))
        return std::fprintf(stderr, "onion_service: --control needs HOST:PORT or a path\n"), 2;
    } else if (a == "--text") {
      text = std::string(v) + "\n";
    } else if (a == "--timeout") {
      unsigned s = 0;
      const auto r = std::from_chars(v.data(), v.data() + v.size(), s);
      if (r.ec != std::errc() || r.ptr != v.data() + v.size() || s == 0)
        return std::fprintf(stderr, "onion_service: --timeout needs seconds\n"), 2;
      ready_options.timeout = std::chrono::seconds(s);
    } else {
      return std::fprintf(stderr, "onion_service: unknown option %s\n%s", argv[i - 1], kUsage), 2;
    }
  }

  // Signals end the loop through a signalfd: the connection then closes and
  // tor removes the service.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  const int sfd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);

  auto reactor = torcon::Reactor::create();
  if (!reactor)
    return std::fprintf(stderr, "onion_service: %s\n", reactor.error().message.c_str()), 1;
  PageServer server(**reactor, text);
  const std::uint16_t port = server.listen_on_loopback();
  if (port == 0) return std::perror("onion_service: cannot listen on 127.0.0.1"), 1;

  torcon::Controller ctl(**reactor);
  std::unique_ptr<torcon::OnionReadyWatch> ready;
  std::string address;
  int status = 1;
  bool serving = false, stopping = false;
  auto fail = [&](const std::string& why) {
    if (stopping) return;
    stopping = true;
    std::fprintf(stderr, "onion_service: %s\n", why.c_str());
    (*reactor)->stop();
  };
  (*reactor)->watch_readable(sfd, [&] {
    (*reactor)->unwatch(sfd);
    stopping = true;
    std::printf("stopping after %u request%s\n", server.served(), server.served() == 1 ? "" : "s");
    std::fflush(stdout);
    status = serving ? 0 : 1;
    (*reactor)->stop();
  });
  ctl.on_disconnect([&](const torcon::Error& e) { fail("connection to tor lost: " + e.message); });
  ctl.connect(control, [&](const torcon::Status& s) {
    if (!s) return fail("cannot connect to tor: " + s.error().message);
    // Watch for the descriptor upload before ADD_ONION, so no HS_DESC event
    // is missed.
    ready = std::make_unique<torcon::OnionReadyWatch>(
        ctl, **reactor, ready_options, [&](const torcon::Status& r) {
          if (!r) return fail("the descriptor was not published: " + r.error().message);
          serving = true;
          std::printf("http://%s/ is ready\n", address.c_str());
          std::fflush(stdout);
        });
    torcon::OnionServiceSpec spec;
    spec.ports = {{80, "127.0.0.1:" + std::to_string(port)}};
    spec.discard_key = true;  // ephemeral: nobody will reuse this address
    torcon::add_onion_service(
        ctl, spec, [&](const torcon::Expected<torcon::OnionServiceInfo>& info) {
          if (!info) return fail("ADD_ONION: " + info.error().message);
          address = info->address;
          std::printf("http://%s/ is being published (port 80 -> 127.0.0.1:%u)\n", address.c_str(),
                      unsigned(port));
          std::fflush(stdout);
          ready->set_address(address);
        });
  });
  (*reactor)->run();
  return status;
}
