// The exit scan (exit_scan.hpp): CircuitBuilder for the circuits,
// StreamAttacher + SourcePortRoutes to send each SOCKS connection's stream to
// its circuit, TorState's stream events to see where each stream left, and
// plain non-blocking sockets on the reactor for SOCKS and HTTP.

#include "exit_scan.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

#include "torcon/circuit.hpp"
#include "torcon/circuit_builder.hpp"
#include "torcon/controller.hpp"
#include "torcon/reactor.hpp"
#include "torcon/router.hpp"
#include "torcon/stream.hpp"
#include "torcon/stream_attacher.hpp"
#include "torcon/tor_state.hpp"

namespace exit_scan {

namespace {

using Clock = std::chrono::steady_clock;
using torcon::AttachDecision;
using torcon::AttachRequest;

// One exit's probe: its circuit, its SOCKS connection, what became of it.
struct Probe {
  ExitResult result;
  int fd = -1;
  enum class Phase : std::uint8_t {
    building,
    greeting,
    connecting,
    fetching,
    done
  } phase = Phase::building;
  std::string in;  // bytes received and not yet consumed
  Clock::time_point started;
  std::string stream_reason;  // the last REASON/REMOTE_REASON tor gave the stream
};

class Scan : public std::enable_shared_from_this<Scan> {
 public:
  Scan(torcon::Reactor& reactor, torcon::Controller& ctl, torcon::TorState& state,
       ScanOptions options, std::function<void(const ScanReport&)> done)
      : reactor_(reactor),
        ctl_(ctl),
        state_(state),
        options_(std::move(options)),
        done_(std::move(done)),
        builder_(reactor, ctl, state),
        attacher_(state, ctl, fallback_close()),
        routes_(reactor, std::chrono::seconds(10)) {}

  ~Scan() {
    if (stream_listener_) state_.remove_listener(stream_listener_);
    for (Probe& p : probes_) close_socket(p);
  }

  void start() {
    std::vector<const torcon::Router*> exits, middles;
    state_.for_each_router([&](const torcon::Router& r) {
      if (!r.in_consensus() || !r.flags().has(torcon::RouterFlag::Running)) return;
      (r.flags().has(torcon::RouterFlag::Exit) ? exits : middles).push_back(&r);
    });
    auto by_fp = [](const torcon::Router* a, const torcon::Router* b) {
      return a->identity() < b->identity();
    };
    std::sort(exits.begin(), exits.end(), by_fp);
    std::sort(middles.begin(), middles.end(), by_fp);
    if (exits.empty()) return fail("no exit in the consensus");
    first_hop_ = options_.first_hop;
    if (first_hop_.empty()) {
      if (middles.empty()) return fail("no running non-exit relay for the first hop");
      first_hop_ = "$" + middles.front()->fingerprint();
    }
    for (const torcon::Router* r : exits) {
      Probe p;
      p.result.fingerprint = r->fingerprint();
      p.result.nickname = std::string(r->nickname());
      p.result.policy_allows = r->exits_to(options_.target_port).allowed;
      probes_.push_back(std::move(p));
    }
    std::weak_ptr<Scan> weak = weak_from_this();
    stream_listener_ =
        state_.on_stream([weak](const torcon::Stream& s, torcon::StreamChanges what) {
          if (auto self = weak.lock()) self->on_stream(s, what);
        });
    // Routed streams first; a stream sent back (DETACHED, e.g. EXITPOLICY)
    // is re-offered, which the routes pass on to the next attacher: ours.
    attacher_.add(routes_.attacher());
    attacher_.add([weak](AttachRequest& req) {
      auto self = weak.lock();
      return self ? self->on_reoffer(req) : AttachDecision::pass();
    });
    deadline_ = reactor_.start_timer(options_.timeout, [weak] {
      if (auto self = weak.lock()) self->time_up();
    });
    attacher_.install([weak](const torcon::Status& s) {
      auto self = weak.lock();
      if (!self) return;
      if (!s) return self->fail("installing the stream attacher: " + s.error().message);
      self->build_all();
    });
  }

 private:
  static torcon::AttacherOptions fallback_close() {
    torcon::AttacherOptions o;
    // A scan must never let a stream leave through an exit it did not choose.
    o.fallback = torcon::AttacherOptions::Fallback::close;
    return o;
  }

  void build_all() {
    std::weak_ptr<Scan> weak = weak_from_this();
    torcon::CircuitBuildOptions o;
    o.purpose = torcon::CircuitPurpose::controller;  // tor keeps its own streams off them
    o.timeout = options_.timeout;
    for (std::size_t i = 0; i < probes_.size(); ++i) {
      const std::vector<std::string> path = {first_hop_, "$" + probes_[i].result.fingerprint};
      builder_.build(std::span<const std::string>(path), o,
                     [weak, i](const torcon::CircuitOutcome& r) {
                       if (auto self = weak.lock()) self->built(i, r);
                     });
    }
  }

  void built(std::size_t i, const torcon::CircuitOutcome& r) {
    Probe& p = probes_[i];
    if (p.phase == Probe::Phase::done) return;
    p.result.circuit_id = r.id;
    if (!r) return finish(i, "circuit: " + r.error.message);
    open_socks(i);
  }

  void open_socks(std::size_t i) {
    Probe& p = probes_[i];
    p.started = Clock::now();
    p.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(options_.socks_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    // A connect to a loopback listener completes at once.
    if (p.fd < 0 || ::connect(p.fd, reinterpret_cast<sockaddr*>(&a), len) != 0)
      return finish(i, std::string("SOCKS connect: ") + std::strerror(errno));
    sockaddr_in local{};
    if (::getsockname(p.fd, reinterpret_cast<sockaddr*>(&local), &len) != 0)
      return finish(i, std::string("getsockname: ") + std::strerror(errno));
    p.result.source_port = ntohs(local.sin_port);
    by_port_[p.result.source_port] = i;
    // The route before the request: tor cannot offer the stream earlier.
    routes_.route(p.result.source_port, p.result.circuit_id);
    std::string req("\x05\x01\x00\x05\x01\x00", 6);  // no-auth greeting, CONNECT
    in_addr v4{};
    if (::inet_pton(AF_INET, options_.target_host.c_str(), &v4) == 1) {
      req += '\x01';
      req.append(reinterpret_cast<const char*>(&v4), 4);
    } else {
      req += '\x03';
      req += char(options_.target_host.size());
      req += options_.target_host;
    }
    req += char(options_.target_port >> 8);
    req += char(options_.target_port & 0xff);
    if (!send_all(p.fd, req)) return finish(i, "SOCKS request not sent");
    p.phase = Probe::Phase::greeting;
    std::weak_ptr<Scan> weak = weak_from_this();
    if (torcon::Status s = reactor_.watch_readable(p.fd,
                                                   [weak, i] {
                                                     if (auto self = weak.lock()) self->readable(i);
                                                   });
        !s)
      return finish(i, "watch: " + s.error().message);
  }

  static bool send_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(std::size_t(n));
    }
    return true;
  }

  void readable(std::size_t i) {
    Probe& p = probes_[i];
    char buf[4096];
    const ssize_t n = ::recv(p.fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    const bool eof = n <= 0;
    if (n > 0) p.in.append(buf, std::size_t(n));
    if (p.phase == Probe::Phase::greeting && p.in.size() >= 2) {
      if (p.in[0] != 5 || p.in[1] != 0) return finish(i, "SOCKS greeting refused");
      p.in.erase(0, 2);
      p.phase = Probe::Phase::connecting;
    }
    if (p.phase == Probe::Phase::connecting && p.in.size() >= 2 && p.in[1] != 0)
      return finish(i, failure_reason(p, "SOCKS reply " + std::to_string(int(p.in[1]))));
    if (p.phase == Probe::Phase::connecting && p.in.size() >= 10) {
      p.in.erase(0, 10);
      p.phase = Probe::Phase::fetching;
      const std::string get =
          "GET / HTTP/1.0\r\nHost: " + options_.target_host + "\r\nConnection: close\r\n\r\n";
      if (!send_all(p.fd, get)) return finish(i, "HTTP request not sent");
    }
    if (!eof) return;
    if (p.phase != Probe::Phase::fetching)
      return finish(i, failure_reason(p, "connection closed during SOCKS"));
    if (!p.in.starts_with("HTTP/1.0 200") && !p.in.starts_with("HTTP/1.1 200"))
      return finish(i, "HTTP: " + p.in.substr(0, p.in.find('\r')));
    p.result.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - p.started);
    p.result.ok = true;
    finish(i, "");
  }

  // What tor said about the stream, if anything, else `fallback`.
  static std::string failure_reason(const Probe& p, std::string fallback) {
    if (!p.result.reason.empty()) return p.result.reason;
    if (!p.stream_reason.empty()) return p.stream_reason;
    return fallback;
  }

  void on_stream(const torcon::Stream& s, torcon::StreamChanges what) {
    auto it = by_port_.find(s.source_port());
    if (it == by_port_.end() || s.source_address() != "127.0.0.1") return;
    Probe& p = probes_[it->second];
    if (s.state() == torcon::StreamStatus::succeeded && s.circuit() &&
        !s.circuit()->path().empty() && s.circuit()->path().back())
      p.result.left_through = s.circuit()->path().back()->fingerprint();
    if (!s.remote_reason().empty())
      p.stream_reason = "REMOTE_REASON=" + std::string(s.remote_reason());
    else if (!s.reason().empty() && (what & torcon::stream_removed) &&
             s.state() == torcon::StreamStatus::failed)
      p.stream_reason = "REASON=" + std::string(s.reason());
  }

  AttachDecision on_reoffer(AttachRequest& req) {
    auto it = by_port_.find(req.stream().source_port());
    if (it == by_port_.end()) return AttachDecision::pass();
    Probe& p = probes_[it->second];
    // Sent back by the exit: report why, and end it (never retry elsewhere).
    p.result.reason = "DETACHED";
    if (!req.remote_reason().empty())
      p.result.reason += " REMOTE_REASON=" + std::string(req.remote_reason());
    else if (!req.reason().empty())
      p.result.reason += " REASON=" + std::string(req.reason());
    return AttachDecision::close(req.remote_reason() == "EXITPOLICY"
                                     ? torcon::StreamCloseReason::exit_policy
                                     : torcon::StreamCloseReason::misc);
  }

  void close_socket(Probe& p) {
    if (p.fd < 0) return;
    reactor_.unwatch(p.fd);
    ::close(p.fd);
    p.fd = -1;
  }

  void finish(std::size_t i, std::string reason) {
    Probe& p = probes_[i];
    if (p.phase == Probe::Phase::done) return;
    p.phase = Probe::Phase::done;
    if (!p.result.ok) p.result.reason = std::move(reason);
    close_socket(p);
    if (++finished_ == probes_.size()) wind_down();
  }

  void time_up() {
    deadline_ = {};
    for (std::size_t i = 0; i < probes_.size(); ++i)
      if (probes_[i].phase != Probe::Phase::done) finish(i, failure_reason(probes_[i], "timeout"));
  }

  // Every probe ended: close the circuits, remove the attacher, report.
  void wind_down() {
    reactor_.cancel_timer(deadline_);
    std::shared_ptr<Scan> self = shared_from_this();
    auto closes = std::make_shared<std::size_t>(0);
    auto after_closes = [self, closes] {
      if (--*closes > 0) return;
      self->attacher_.uninstall([self](const torcon::Status&) { self->report({}); });
    };
    ++*closes;  // held until every close is started
    for (const Probe& p : probes_) {
      if (p.result.circuit_id.empty()) continue;
      ++*closes;
      builder_.close(p.result.circuit_id, {},
                     [after_closes](const torcon::CircuitOutcome&) { after_closes(); });
    }
    after_closes();
  }

  // From the loop, also when start() fails.
  void fail(std::string why) {
    reactor_.cancel_timer(deadline_);
    std::shared_ptr<Scan> self = shared_from_this();
    reactor_.post([self, why = std::move(why)] {
      self->report(torcon::Error(torcon::Errc::bad_argument, why));
    });
  }

  void report(torcon::Status status) {
    if (!done_) return;
    ScanReport r;
    r.status = std::move(status);
    for (const Probe& p : probes_) r.exits.push_back(p.result);
    auto done = std::move(done_);
    done_ = nullptr;
    // The scan owns the builder and the attacher whose callbacks got us
    // here: it is freed from the loop, after this call.
    std::shared_ptr<Scan> self = shared_from_this();
    reactor_.post([self] {});
    keep_alive_.reset();
    done(r);
  }

 public:
  std::shared_ptr<Scan> keep_alive_;  // the scan owns itself while it runs

 private:
  torcon::Reactor& reactor_;
  torcon::Controller& ctl_;
  torcon::TorState& state_;
  ScanOptions options_;
  std::function<void(const ScanReport&)> done_;
  torcon::CircuitBuilder builder_;
  torcon::StreamAttacher attacher_;
  torcon::SourcePortRoutes routes_;
  std::string first_hop_;
  std::vector<Probe> probes_;
  std::map<std::uint16_t, std::size_t> by_port_;
  std::size_t finished_ = 0;
  torcon::TorState::ListenerId stream_listener_ = 0;
  torcon::TimerId deadline_;
};

}  // namespace

void scan(torcon::Reactor& reactor, torcon::Controller& controller, torcon::TorState& state,
          const ScanOptions& options, std::function<void(const ScanReport&)> done) {
  auto s = std::make_shared<Scan>(reactor, controller, state, options, std::move(done));
  s->keep_alive_ = s;
  s->start();
}

std::string format_report(const ScanReport& report) {
  std::string out;
  std::size_t ok = 0;
  for (const ExitResult& e : report.exits) {
    out += e.fingerprint + " " + e.nickname;
    if (e.ok) {
      ++ok;
      out += " ok " + std::to_string(e.took.count()) + "\n";
    } else {
      out += " failed " + e.reason + "\n";
    }
  }
  if (!report.status) out += "scan failed: " + report.status.error().message + "\n";
  out += std::to_string(report.exits.size()) + " exits: " + std::to_string(ok) + " ok, " +
         std::to_string(report.exits.size() - ok) + " failed\n";
  return out;
}

}  // namespace exit_scan
