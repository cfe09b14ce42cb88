#include "gen/events.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <queue>
#include <string_view>
#include <utility>
#include <vector>

#include "gen/network_status.hpp"
#include "gen/random.hpp"
#include "gen/text.hpp"

namespace torcon::gen {
namespace {

// A discrete-event simulation: tasks sit in a queue ordered by (time,
// sequence number); the sequence number makes the order total, so
// std::priority_queue pops them identically on every standard library. Each
// task emits the events tor would and schedules what follows.

constexpr std::size_t kRelayPool = 600;  // relays 0..599 of the network

struct PoolRelay {
  std::string longname;     // "$FINGERPRINT~nickname"
  std::string fingerprint;  // 40 upper-case hex digits
  std::uint32_t ipv4;
  std::uint16_t or_port;
  std::uint16_t flags;
};

enum class Purpose : std::uint8_t {
  kGeneral,
  kHsClientIntro,
  kHsClientRend,
  kMeasureTimeout,
  kHsVanguards,
  kConfluxUnlinked,
  kConfluxLinked,
};
constexpr std::array<std::string_view, 7> kPurposeNames = {
    "GENERAL",      "HS_CLIENT_INTRO",  "HS_CLIENT_REND", "MEASURE_TIMEOUT",
    "HS_VANGUARDS", "CONFLUX_UNLINKED", "CONFLUX_LINKED"};

enum class HsState : std::uint8_t {
  kNone,
  kIntroConnecting,
  kIntroSent,
  kIntroDone,
  kRendConnecting,
  kRendIdle,
  kRendWaiting,
  kRendJoined,
};
constexpr std::array<std::string_view, 8> kHsStateNames = {"",
                                                           "HSCI_CONNECTING",
                                                           "HSCI_INTRO_SENT",
                                                           "HSCI_DONE",
                                                           "HSCR_CONNECTING",
                                                           "HSCR_ESTABLISHED_IDLE",
                                                           "HSCR_ESTABLISHED_WAITING",
                                                           "HSCR_JOINED"};

// kInternal circuits are the vanguards-lite ones (guard, a fixed second hop,
// a middle) that onion-service circuits are made from.
enum class CircKind : std::uint8_t { kExit, kInternal, kOneHop, kConfluxLeg };

struct Circuit {
  std::uint64_t id = 0;
  std::int64_t created_us = 0;
  CircKind kind = CircKind::kExit;
  bool need_uptime = false;
  Purpose purpose = Purpose::kGeneral;
  HsState hs_state = HsState::kNone;
  std::string rend_query;           // shown once set: tor sets it after launching
  std::vector<std::uint16_t> path;  // pool indices; the first hops_done are built
  std::uint8_t hops_done = 0;
  bool built = false;
  bool closing = false;
  // Some builds stall at one hop and run into the circuit build timeout.
  bool stalled = false;
  std::uint8_t stall_hop = 0;
  std::int64_t timeout_at = 0;
  std::int64_t session = -1;  // isolation: -1 while no stream has used the circuit
  std::uint64_t epoch = 0;
  bool shows_socks = false;
  std::int64_t dirty_since_us = -1;
  std::int64_t idle_since_us = 0;
  std::vector<std::uint64_t> streams;  // attached
  std::vector<std::uint64_t> waiting;  // streams waiting for this circuit to be built
  std::uint64_t hs_flow = 0;
  std::uint32_t hs_pow_effort = 0;   // shown when > 0
  std::uint64_t conflux = 0;         // the set this leg belongs to; 0: none
  std::uint64_t conflux_rtt_us = 0;  // shown once the leg is linked
};

// A conflux set: legs to one exit, linked once every leg is built. Isolation
// and dirtiness are the set's, as streams may go over either leg.
struct ConfluxSet {
  std::uint64_t id = 0;
  std::string nonce;  // CONFLUX_ID: 32 upper-case hex digits
  std::uint16_t exit = 0;
  std::vector<std::uint64_t> legs;
  bool linked = false;
  bool closing = false;
  unsigned relaunches = 0;
  std::int64_t session = -1;
  std::uint64_t epoch = 0;
  std::int64_t dirty_since_us = -1;
  std::int64_t idle_since_us = 0;
  std::vector<std::uint64_t> waiting;  // streams waiting for the set to link
};

enum class StreamKind : std::uint8_t { kUser, kResolve, kDir, kOnion };

struct Stream {
  std::uint64_t id = 0;
  std::uint64_t circ = 0;
  StreamKind kind = StreamKind::kUser;
  std::string host;  // empty: target is the IP
  std::uint32_t ip = 0;
  std::uint16_t port = 0;
  std::uint16_t source_port = 0;
  std::uint16_t dir_server = 0;  // kDir: pool index of the directory cache
  std::int64_t session = -1;
  bool remapped = false;
  bool connected = false;
  std::uint8_t retries = 0;
  std::uint8_t next = 0;  // EventSim::StreamStep
  std::uint64_t exclude_circ = 0;
};

enum class ClientKind : std::uint8_t { kBrowser, kAuthApp, kSocks5App, kSocks4App, kHttpApp };

struct Session {
  ClientKind client = ClientKind::kBrowser;
  std::string domain;      // first-party site, or an onion address
  std::string socks_user;  // already quoted; empty when the client sends no credentials
  std::string socks_pass;
  bool onion = false;
  std::uint32_t page_loads_left = 0;
};

struct HsFlow {
  std::int64_t session = -1;
  std::string onion;  // 56 base32 characters, without ".onion"
  std::uint32_t pow_effort = 0;
  std::uint64_t rend = 0, intro = 0;
  bool joined = false;
  std::vector<std::uint64_t> streams;
};

struct OrConn {
  std::uint64_t id = 0;
  std::string endpoint;   // LongName, or address:port for unauthenticated peers
  std::uint8_t next = 0;  // EventSim::OrConnStep
};

class EventSim {
 public:
  explicit EventSim(const EventOptions& opts)
      : limit_(opts.events), rng_(opts.seed, kEventSalt, 0), names_(opts.seed, kNamesSalt, 0) {
    pool_.reserve(kRelayPool);
    for (std::size_t i = 0; i < kRelayPool; ++i) {
      const Relay rt = make_relay(opts.seed, i);
      PoolRelay p;
      p.longname = long_name(rt);
      p.fingerprint = p.longname.substr(1, 40);
      p.ipv4 = rt.ipv4;
      p.or_port = rt.or_port;
      p.flags = rt.flags;
      if ((rt.flags & kGuard) && !(rt.flags & kBadExit)) guards_.push_back(i);
      if ((rt.flags & kExit) && !(rt.flags & kBadExit)) exits_.push_back(i);
      if (rt.flags & kFast) middles_.push_back(i);
      pool_.push_back(std::move(p));
    }
    // Any pool of 600 has plenty of each, but keep tiny hand-made pools working too.
    for (auto* v : {&guards_, &exits_, &middles_}) {
      if (v->empty()) v->push_back(0);
    }
    make_world();
  }

  std::string run() {
    out_.reserve(std::min<std::size_t>(limit_, std::size_t{1} << 24) * 210);  // ~202 B/event
    start();
    while (emitted_ < limit_ && !queue_.empty()) {
      const Task t = queue_.top();
      queue_.pop();
      now_ = t.at;
      dispatch(t);
    }
    return std::move(out_);
  }

 private:
  enum class Kind : std::uint8_t {
    kTick,
    kPageLoad,
    kOpenStream,
    kCircStep,
    kStreamStep,
    kOrConnStep,
    kNewOrConn,
    kMisc,
    kHourly,
    kHsStep,
    kGuardConnected,
    kConfluxLink,
  };
  struct Task {
    std::int64_t at;
    std::uint64_t seq;
    Kind kind;
    std::uint64_t id;
  };
  struct Later {
    bool operator()(const Task& a, const Task& b) const {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };

  enum StreamStep : std::uint8_t { kSentConnect, kReply, kClose, kFail, kDetach };
  enum OrConnStep : std::uint8_t { kConnect, kConnectFail, kCloseConn };
  enum MiscKind : std::uint64_t { kRandomMisc, kConsensusArrived };

  static constexpr std::int64_t kSecond = 1000000;
  static constexpr std::int64_t kDirtiness = 600 * kSecond;  // MaxCircuitDirtiness
  static constexpr std::int64_t kIdleTimeout = 3600 * kSecond;
  static constexpr std::uint64_t kCellPayload = 509, kRelayPayload = 498;
  static constexpr unsigned kMaxLegRelaunches = 2;

  // --- scheduling -----------------------------------------------------------------------------
  void at(std::int64_t when, Kind kind, std::uint64_t id = 0) {
    queue_.push(Task{when, seq_++, kind, id});
  }
  void after(std::int64_t delay, Kind kind, std::uint64_t id = 0) { at(now_ + delay, kind, id); }
  std::int64_t rtt() { return static_cast<std::int64_t>(rng_.between(60, 450)) * 1000; }
  std::int64_t ms(std::uint64_t lo, std::uint64_t hi) {
    return static_cast<std::int64_t>(rng_.between(lo, hi)) * 1000;
  }

  // --- output ---------------------------------------------------------------------------------
  std::string& begin_event(std::string_view type) {
    line_.clear();
    line_ += "650 ";
    line_ += type;
    return line_;
  }
  void emit() {
    if (emitted_ >= limit_) return;  // the caller's remaining events fall past the window
    out_ += line_;
    out_ += "\r\n";
    ++emitted_;
  }

  // --- world setup ----------------------------------------------------------------------------
  void make_world() {
    constexpr std::array<std::string_view, 6> kTlds = {".com", ".org", ".net",
                                                       ".de",  ".io",  ".info"};
    constexpr std::array<std::string_view, 24> kWords = {
        "news",   "mail",  "shop",  "daily", "open",  "forum", "wiki",  "maps",
        "photo",  "cloud", "tech",  "world", "city",  "green", "media", "press",
        "market", "radio", "video", "blog",  "learn", "code",  "trade", "travel"};
    for (int i = 0; i < 80; ++i) {
      std::string d(names_.pick(kWords));
      if (names_.percent(60)) d += names_.pick(kWords);
      if (names_.percent(20)) put_uint(d, names_.between(1, 99));
      d += names_.pick(kTlds);
      domains_.push_back(std::move(d));
    }
    domains_.push_back("example.com");
    domains_.push_back("example.org");
    constexpr std::string_view kBase32 = "abcdefghijklmnopqrstuvwxyz234567";
    for (int i = 0; i < 6; ++i) {
      std::string onion;
      for (int c = 0; c < 55; ++c) onion.push_back(kBase32[names_.below(32)]);
      onion.push_back('d');  // v3 addresses end in the version byte 3
      onions_.push_back(std::move(onion));
      // A service under load asks its clients for proof of work (tor 0.4.8+);
      // the effort a client offers grows with the service's suggestion.
      onion_pow_.push_back(i < 2 ? static_cast<std::uint32_t>(names_.log_uniform(16, 8)) : 0);
    }
    // vanguards-lite: four second-hop relays, kept for days, for every
    // internal circuit.
    for (auto& v : vanguards_) {
      v = static_cast<std::uint16_t>(middles_[names_.below(middles_.size())]);
    }
  }

  void start() {
    // One draw per statement throughout: the evaluation order of operands is
    // unspecified, and compilers do differ.
    now_ = (kValidAfter + static_cast<std::int64_t>(rng_.below(3600))) * kSecond;
    now_ += static_cast<std::int64_t>(rng_.below(kSecond));
    next_circ_id_ = rng_.between(3, 40);
    next_conn_id_ = rng_.between(20, 200);
    epoch_ = rng_.below(3);
    bw_rate_ = rng_.between(300000, 3000000);
    guard_ = guards_[rng_.below(guards_.size())];
    // Conflux legs must not share a guard: the second leg uses the next
    // primary guard.
    second_guard_ = guards_[rng_.below(guards_.size())];
    if (second_guard_ == guard_ && guards_.size() > 1) {
      second_guard_ =
          guards_[(std::find(guards_.begin(), guards_.end(), guard_) - guards_.begin() + 1) %
                  guards_.size()];
    }
    guard_conn_id_ = next_conn_id_++;
    guard_conn_open_ = true;
    for (int i = 0; i < 3; ++i) new_session(false);
    // Steady state: clean circuits built ahead of demand.
    maintain_preemptive();
    const std::int64_t next_second = (now_ / kSecond + 1) * kSecond;
    at(next_second + ms(0, 20), Kind::kTick);
    after(ms(100, 3000), Kind::kPageLoad);
    after(ms(100, 2000), Kind::kNewOrConn);
    after(static_cast<std::int64_t>(rng_.exponential(900)) * kSecond, Kind::kMisc);
    after(static_cast<std::int64_t>(rng_.below(3600)) * kSecond, Kind::kHourly);
  }

  // The session a circuit or stream is isolated to. Every caller holds an
  // index it got from new_session(); a -1 (no isolation) here is a bug in
  // the simulation, reported rather than read out of bounds.
  const Session& session_at(std::int64_t index) const {
    return sessions_.at(static_cast<std::size_t>(index));
  }

  void new_session(bool allow_onion) {
    Session s;
    s.page_loads_left = static_cast<std::uint32_t>(rng_.between(1, 4));
    const auto kind = rng_.weighted(std::array<std::uint16_t, 5>{70, 6, 14, 5, 5});
    s.client = static_cast<ClientKind>(kind);
    if (allow_onion && s.client == ClientKind::kBrowser && rng_.percent(6)) {
      s.onion = true;
      s.domain = onions_[rng_.below(onions_.size())];
      s.domain += ".onion";
    } else {
      s.domain = domains_[rng_.below(domains_.size())];
    }
    if (s.client == ClientKind::kBrowser) {
      // Tor Browser isolates by first-party domain and a random per-tab-session password.
      s.socks_user = quote(s.domain);
      std::string pass;
      for (int i = 0; i < 32; ++i) pass.push_back("0123456789abcdef"[rng_.below(16)]);
      s.socks_pass = quote(pass);
    } else if (s.client == ClientKind::kAuthApp) {
      // Applications pick arbitrary credentials; a rare few need escaping in a QuotedString.
      constexpr std::array<std::string_view, 4> kUsers = {"messenger", "wallet-sync", "updater",
                                                          "feeds"};
      constexpr std::array<std::string_view, 2> kOddUsers = {"profile \"work\"", "C:\\Users\\tor"};
      s.socks_user = quote(rng_.percent(15) ? rng_.pick(kOddUsers) : rng_.pick(kUsers));
      std::string pass = "p";
      put_uint(pass, rng_.below(1000000));
      s.socks_pass = quote(pass);
    }
    sessions_.push_back(std::move(s));
    active_sessions_.push_back(sessions_.size() - 1);
  }

  // --- dispatch -------------------------------------------------------------------------------
  void dispatch(const Task& t) {
    switch (t.kind) {
      case Kind::kTick: return tick();
      case Kind::kPageLoad: return page_load();
      case Kind::kOpenStream: return open_stream(static_cast<std::int64_t>(t.id));
      case Kind::kCircStep: return circ_step(t.id);
      case Kind::kStreamStep: return stream_step(t.id);
      case Kind::kOrConnStep: return orconn_step(t.id);
      case Kind::kNewOrConn: return new_orconn();
      case Kind::kMisc: return misc(t.id);
      case Kind::kHourly: return hourly();
      case Kind::kHsStep: return hs_step(t.id);
      case Kind::kGuardConnected: return guard_connected();
      case Kind::kConfluxLink: return conflux_link(t.id);
    }
  }

  // --- once a second: BW, a few per-stream/circuit counters, circuit expiry ------------------
  void tick() {
    // Relay traffic follows a slow random walk; written tracks read closely, as a relay
    // forwards what it receives.
    bw_rate_ = bw_rate_ * rng_.between(950, 1050) / 1000;
    bw_rate_ = std::clamp<std::uint64_t>(bw_rate_, 50000, 20000000);
    const std::uint64_t read = bw_rate_ * rng_.between(85, 115) / 100;
    const std::uint64_t written = read * rng_.between(96, 104) / 100;
    std::string& e = begin_event("BW ");
    put_uint(e, read);
    e.push_back(' ');
    put_uint(e, written);
    emit();

    if (rng_.percent(20)) stream_bw();
    if (rng_.percent(25)) circ_bw();
    expire_circuits();
    if (++ticks_ % 10 == 0) maintain_preemptive();
    at((now_ / kSecond + 1) * kSecond + ms(0, 20), Kind::kTick);
  }

  void stream_bw() {
    std::vector<const Stream*> open;
    for (const auto& [id, s] : streams_) {
      if (s.connected) open.push_back(&s);
    }
    if (open.empty()) return;
    const Stream& s = *open[rng_.below(open.size())];
    const std::uint64_t read = rng_.log_uniform(512, 10);
    std::string& e = begin_event("STREAM_BW ");
    put_uint(e, s.id);
    e.push_back(' ');
    put_uint(e, rng_.below(read / 8 + 600));  // written: requests are small
    e.push_back(' ');
    put_uint(e, read);
    e.push_back(' ');
    tf_.put_micros(e, now_);
    emit();
  }

  void circ_bw() {
    std::vector<const Circuit*> busy;
    for (const auto& [id, c] : circuits_) {
      if (c.built && !c.streams.empty()) busy.push_back(&c);
    }
    if (busy.empty()) return;
    const Circuit& c = *busy[rng_.below(busy.size())];
    const std::uint64_t cells_read = rng_.log_uniform(2, 10);
    const std::uint64_t cells_written = rng_.between(1, cells_read / 4 + 2);
    const std::uint64_t delivered_read = cells_read * kRelayPayload - rng_.below(kRelayPayload);
    const std::uint64_t delivered_written =
        cells_written * kRelayPayload - rng_.between(1, kRelayPayload - 1);
    std::string& e = begin_event("CIRC_BW ID=");
    put_uint(e, c.id);
    e += " READ=";
    put_uint(e, cells_read * kCellPayload);
    e += " WRITTEN=";
    put_uint(e, cells_written * kCellPayload);
    e += " TIME=";
    tf_.put_micros(e, now_);
    e += " DELIVERED_READ=";
    put_uint(e, delivered_read);
    e += " OVERHEAD_READ=";
    put_uint(e, cells_read * kRelayPayload - delivered_read);
    e += " DELIVERED_WRITTEN=";
    put_uint(e, delivered_written);
    e += " OVERHEAD_WRITTEN=";
    put_uint(e, cells_written * kRelayPayload - delivered_written);
    // Congestion-control state (tor >= 0.4.7) for circuits that negotiated it.
    const bool slow_start = rng_.percent(15);
    const std::uint64_t min_rtt = rng_.between(60, 400);
    e += slow_start ? " SS=1 CWND=" : " SS=0 CWND=";
    put_uint(e, slow_start ? rng_.between(124, 400) : rng_.between(124, 2000));
    e += " RTT=";
    put_uint(e, min_rtt + rng_.below(min_rtt));
    e += " MIN_RTT=";
    put_uint(e, min_rtt);
    emit();
  }

  // --- circuits -------------------------------------------------------------------------------
  // The fields tor's circuit_describe_status_for_controller() writes, in its order.
  void describe(std::string& e, const Circuit& c) {
    if (c.hops_done > 0) {
      e.push_back(' ');
      for (std::size_t i = 0; i < c.hops_done; ++i) {
        if (i) e.push_back(',');
        e += pool_[c.path[i]].longname;
      }
    }
    e += " BUILD_FLAGS=";
    switch (c.kind) {
      case CircKind::kExit:
        e += c.need_uptime ? "NEED_CAPACITY,NEED_UPTIME" : "NEED_CAPACITY";
        break;
      case CircKind::kInternal: e += "IS_INTERNAL,NEED_CAPACITY,NEED_UPTIME"; break;
      case CircKind::kOneHop: e += "ONEHOP_TUNNEL,IS_INTERNAL,NEED_CAPACITY"; break;
      case CircKind::kConfluxLeg: e += "NEED_CAPACITY,NEED_UPTIME"; break;
    }
    e += " PURPOSE=";
    e += kPurposeNames[static_cast<std::size_t>(c.purpose)];
    if (c.hs_state != HsState::kNone) {
      e += " HS_STATE=";
      e += kHsStateNames[static_cast<std::size_t>(c.hs_state)];
    }
    if (!c.rend_query.empty()) {
      e += " REND_QUERY=";
      e += c.rend_query;
    }
    e += " TIME_CREATED=";
    tf_.put_micros(e, c.created_us);
    if (c.shows_socks) {
      const Session& s = session_at(c.session);
      if (!s.socks_user.empty()) {
        e += " SOCKS_USERNAME=";
        e += s.socks_user;
        e += " SOCKS_PASSWORD=";
        e += s.socks_pass;
      }
    }
    if (c.hs_pow_effort > 0) {
      e += " HS_POW=v1,";
      put_uint(e, c.hs_pow_effort);
    }
    if (c.conflux != 0) {
      auto set = sets_.find(c.conflux);
      if (set != sets_.end()) {
        e += " CONFLUX_ID=";
        e += set->second.nonce;
      }
      if (c.conflux_rtt_us > 0) {
        e += " CONFLUX_RTT=";
        put_uint(e, c.conflux_rtt_us);
      }
    }
  }

  // " REASON=... [REMOTE_REASON=...]" of a CIRC or STREAM event that ended
  // (control-spec 4.1.1, 4.1.2): the remote reason only beside a reason.
  static void put_reasons(std::string& e, std::string_view reason, std::string_view remote) {
    if (reason.empty()) return;
    e += " REASON=";
    e += reason;
    if (remote.empty()) return;
    e += " REMOTE_REASON=";
    e += remote;
  }

  void circ_event(const Circuit& c, std::string_view status, std::string_view reason = {},
                  std::string_view remote = {}) {
    std::string& e = begin_event("CIRC ");
    put_uint(e, c.id);
    e.push_back(' ');
    e += status;
    describe(e, c);
    put_reasons(e, reason, remote);
    emit();
  }

  // CIRC_MINOR: PURPOSE_CHANGED names the old purpose (and HS state, if it
  // had one); CANNIBALIZED names the old purpose and creation time.
  void circ_minor(const Circuit& c, std::string_view what, Purpose old_purpose, HsState old_state,
                  std::int64_t old_created = -1) {
    std::string& e = begin_event("CIRC_MINOR ");
    put_uint(e, c.id);
    e.push_back(' ');
    e += what;
    describe(e, c);
    e += " OLD_PURPOSE=";
    e += kPurposeNames[static_cast<std::size_t>(old_purpose)];
    if (old_state != HsState::kNone) {
      e += " OLD_HS_STATE=";
      e += kHsStateNames[static_cast<std::size_t>(old_state)];
    }
    if (old_created >= 0) {
      e += " OLD_TIME_CREATED=";
      tf_.put_micros(e, old_created);
    }
    emit();
  }

  std::uint16_t pick_other(const std::vector<std::size_t>& from, const Circuit& c) {
    for (int attempt = 0; attempt < 16; ++attempt) {
      const auto idx = static_cast<std::uint16_t>(from[rng_.below(from.size())]);
      if (std::find(c.path.begin(), c.path.end(), idx) == c.path.end()) return idx;
    }
    return static_cast<std::uint16_t>(from[rng_.below(from.size())]);
  }

  // A new circuit with its path chosen; the caller fills in purpose and
  // isolation, then start()s it. `exit` fixes the last hop (conflux legs).
  Circuit& prepare(CircKind kind, std::size_t hops, std::size_t first = SIZE_MAX,
                   std::size_t exit = SIZE_MAX) {
    const std::uint64_t id = next_circ_id_++;
    Circuit& c = circuits_[id];
    c.id = id;
    c.kind = kind;
    c.created_us = now_;
    c.idle_since_us = now_;
    c.epoch = epoch_;
    c.path.reserve(hops + 1);  // + the introduction point an intro circuit may add
    c.path.push_back(static_cast<std::uint16_t>(first == SIZE_MAX ? guard_ : first));
    for (std::size_t n = 1; n < hops; ++n) {
      const bool last = n + 1 == hops;
      std::uint16_t hop;
      if (last && exit != SIZE_MAX) {
        hop = static_cast<std::uint16_t>(exit);
      } else if (kind == CircKind::kInternal && n == 1) {
        hop = vanguards_[rng_.below(vanguards_.size())];
      } else {
        const bool to_exit = last && (kind == CircKind::kExit || kind == CircKind::kConfluxLeg);
        hop = pick_other(to_exit ? exits_ : middles_, c);
      }
      c.path.push_back(hop);
    }
    // Directory tunnels to the guard are one CREATE_FAST away and do not time out here.
    if (kind != CircKind::kOneHop && rng_.percent(4)) {
      c.stalled = true;
      c.stall_hop = static_cast<std::uint8_t>(rng_.below(hops));
      c.timeout_at = now_ + ms(1500, 4000);  // the learned build timeout
    }
    return c;
  }

  // Tor reports a circuit as LAUNCHED the moment it creates it.
  Circuit& start(Circuit& c) {
    circ_event(c, "LAUNCHED");
    after(rtt(), Kind::kCircStep, c.id);
    return c;
  }

  Circuit& launch(CircKind kind, std::size_t hops) { return start(prepare(kind, hops)); }

  Circuit& launch_exit(bool need_uptime, std::int64_t session) {
    Circuit& c = prepare(CircKind::kExit, 3);
    c.need_uptime = need_uptime;
    c.session = session;
    start(c);
    // A circuit launched for a stream takes the stream's isolation at once.
    if (session >= 0) c.shows_socks = true;
    return c;
  }

  Circuit& launch_vanguards() {
    Circuit& c = prepare(CircKind::kInternal, 3);
    c.purpose = Purpose::kHsVanguards;
    c.need_uptime = true;
    return start(c);
  }

  void circ_step(std::uint64_t id) {
    auto it = circuits_.find(id);
    if (it == circuits_.end()) return;
    Circuit& c = it->second;
    if (c.built || c.closing) return;
    if (c.hops_done == 0 && c.path[0] == guard_ && !guard_conn_open_) {
      if (!guard_conn_launching_) launch_guard_conn();
      after(ms(300, 900), Kind::kCircStep, id);
      return;
    }
    if (c.stalled && c.hops_done == c.stall_hop) {
      // The hop never answers; the once-a-second build-timeout check notices.
      if (now_ < c.timeout_at) return at(c.timeout_at + ms(0, 999), Kind::kCircStep, id);
      return build_timeout(c);
    }
    // Extending fails now and then: the next hop is unreachable or overloaded.
    if (c.hops_done >= 1 && rng_.permille(12)) {
      constexpr std::array<std::string_view, 4> kRemote = {"CONNECTFAILED", "RESOURCELIMIT",
                                                           "OR_IDENTITY", "TORPROTOCOL"};
      constexpr std::array<std::uint16_t, 4> kWeights = {60, 25, 5, 10};
      return close_circuit(c, true, "DESTROYED", kRemote[rng_.weighted(kWeights)]);
    }
    ++c.hops_done;
    circ_event(c, "EXTENDED");
    if (c.hops_done < c.path.size()) {
      after(rtt() * (c.hops_done + 1) / 2, Kind::kCircStep, id);
      return;
    }
    circuit_built(c);
  }

  void circuit_built(Circuit& c) {
    c.built = true;
    c.idle_since_us = now_;
    circ_event(c, "BUILT");
    if (!circuit_established_) {
      circuit_established_ = true;
      begin_event("STATUS_CLIENT NOTICE CIRCUIT_ESTABLISHED");
      emit();
    }
    if (c.purpose == Purpose::kMeasureTimeout) {
      // Kept only to learn how long the build took.
      return close_circuit(c, false, "FINISHED");
    }
    if (c.conflux != 0) return conflux_leg_built(c);
    if (c.hs_flow != 0) return hs_circuit_ready(c);
    std::vector<std::uint64_t> waiting = std::move(c.waiting);
    c.waiting.clear();
    if (c.kind == CircKind::kExit && c.purpose == Purpose::kGeneral) adopt_pending(c, waiting);
    std::int64_t delay = 0;
    for (const std::uint64_t sid : waiting) {
      auto st = streams_.find(sid);
      if (st == streams_.end()) continue;
      attach(st->second, c, delay += ms(0, 3));
    }
  }

  // Like tor's connection_ap_attach_pending(): a newly opened circuit also
  // takes streams that were waiting for other circuits, if its isolation
  // allows. A circuit left without waiting streams is clean again.
  void adopt_pending(Circuit& c, std::vector<std::uint64_t>& adopted) {
    if (c.session < 0 && !adopted.empty()) {
      auto first = streams_.find(adopted.front());
      if (first != streams_.end()) c.session = first->second.session;
      c.epoch = epoch_;
    }
    for (auto& [oid, other] : circuits_) {
      if (oid == c.id || other.built || other.kind != CircKind::kExit ||
          other.purpose != Purpose::kGeneral || other.waiting.empty()) {
        continue;
      }
      std::erase_if(other.waiting, [&](std::uint64_t sid) {
        auto st = streams_.find(sid);
        if (st == streams_.end()) return true;
        const Stream& s = st->second;
        const bool isolation_ok = c.session < 0 || (c.session == s.session && c.epoch == epoch_);
        if (!isolation_ok || s.exclude_circ == c.id || (long_lived(s.port) && !c.need_uptime)) {
          return false;
        }
        c.session = s.session;
        c.epoch = epoch_;
        adopted.push_back(sid);
        return true;
      });
      // Left without the streams it was launched for, the circuit is clean
      // again: no isolation, so no SOCKS credentials in its events either.
      if (other.waiting.empty()) {
        other.session = -1;
        other.shows_socks = false;
      }
    }
  }

  void build_timeout(Circuit& c) {
    c.stalled = false;
    if (c.purpose == Purpose::kGeneral && c.hs_flow == 0 && rng_.percent(40)) {
      // Tor keeps some timed-out circuits to measure how long they would have taken; the
      // streams waiting for them go elsewhere.
      std::vector<std::uint64_t> waiting = std::move(c.waiting);
      c.waiting.clear();
      c.purpose = Purpose::kMeasureTimeout;
      circ_minor(c, "PURPOSE_CHANGED", Purpose::kGeneral, HsState::kNone);
      if (rng_.percent(60)) {
        after(ms(500, 8000), Kind::kCircStep, c.id);
      } else {
        measurement_deadlines_.emplace_back(now_ + 60 * kSecond, c.id);  // never completes
      }
      reroute(waiting);
      return;
    }
    close_circuit(c, true, "TIMEOUT");
  }

  void reroute(const std::vector<std::uint64_t>& ids) {
    for (const std::uint64_t sid : ids) {
      auto st = streams_.find(sid);
      if (st != streams_.end()) route(st->second);
    }
  }

  void close_circuit(Circuit& c, bool failed, std::string_view reason,
                     std::string_view remote = {}) {
    if (c.closing) return;
    c.closing = true;
    // A circuit that never opened is reported FAILED, then CLOSED once it is freed.
    if (failed) circ_event(c, "FAILED", reason, remote);
    circ_event(c, "CLOSED", reason, remote);
    for (const std::uint64_t sid : c.streams) {
      auto st = streams_.find(sid);
      if (st == streams_.end()) continue;
      stream_event(st->second, "CLOSED", "DESTROY");
      if (st->second.kind == StreamKind::kDir && dir_streams_left_ > 0) --dir_streams_left_;
      streams_.erase(st);
    }
    c.streams.clear();
    const std::uint64_t id = c.id;
    const std::uint64_t fid = c.hs_flow;
    const std::uint64_t set = c.conflux;
    const bool rend = c.purpose == Purpose::kHsClientRend;
    const bool unlinked_failure = failed && c.purpose == Purpose::kConfluxUnlinked;
    const std::vector<std::uint64_t> waiting = std::move(c.waiting);
    c.waiting.clear();
    if (fid != 0) hs_circuit_lost(fid, id, rend);
    if (set != 0) conflux_leg_lost(set, id, unlinked_failure);
    reroute(waiting);
    circuits_.erase(id);
  }

  void expire_circuits() {
    std::vector<std::uint64_t> expired;
    for (const auto& [id, c] : circuits_) {
      if (!c.built || !c.streams.empty() || !c.waiting.empty() || c.conflux != 0) continue;
      if (c.hs_flow != 0 && c.purpose == Purpose::kHsClientIntro) continue;
      if (too_dirty(c.dirty_since_us, c.epoch, c.idle_since_us)) expired.push_back(id);
    }
    for (const std::uint64_t id : expired) {
      auto it = circuits_.find(id);
      if (it != circuits_.end()) close_circuit(it->second, false, "FINISHED");
    }
    std::vector<std::uint64_t> done_sets;
    for (const auto& [id, set] : sets_) {
      if (!set.linked || !set.waiting.empty()) continue;
      bool busy = false;
      for (const std::uint64_t leg : set.legs) {
        auto it = circuits_.find(leg);
        busy |= it != circuits_.end() && !it->second.streams.empty();
      }
      if (!busy && too_dirty(set.dirty_since_us, set.epoch, set.idle_since_us)) {
        done_sets.push_back(id);
      }
    }
    for (const std::uint64_t id : done_sets) close_set(id, "FINISHED");
    while (!measurement_deadlines_.empty() && measurement_deadlines_.front().first <= now_) {
      const std::uint64_t id = measurement_deadlines_.front().second;
      measurement_deadlines_.erase(measurement_deadlines_.begin());
      auto it = circuits_.find(id);
      if (it != circuits_.end() && !it->second.built) {
        close_circuit(it->second, true, "MEASUREMENT_EXPIRED");
      }
    }
  }

  // Dirty circuits close after MaxCircuitDirtiness or a NEWNYM; clean ones
  // after an hour unused.
  bool too_dirty(std::int64_t dirty_since, std::uint64_t epoch, std::int64_t idle_since) const {
    if (dirty_since >= 0) return now_ - dirty_since >= kDirtiness || epoch != epoch_;
    return now_ - idle_since >= kIdleTimeout;
  }

  // Circuits built ahead of demand, as tor's circuit prediction does for a
  // client that browses and sometimes visits onion services: a clean exit
  // circuit (long-lived ports, DNS), clean conflux sets, vanguard circuits.
  void maintain_preemptive() {
    unsigned clean_exit = 0, clean_internal = 0, clean_sets = 0;
    for (const auto& [id, c] : circuits_) {
      if (c.session >= 0 || c.hs_flow != 0 || c.closing) continue;
      if (c.kind == CircKind::kExit && c.purpose == Purpose::kGeneral) ++clean_exit;
      if (c.kind == CircKind::kInternal && c.purpose == Purpose::kHsVanguards) ++clean_internal;
    }
    for (const auto& [id, set] : sets_) clean_sets += set.session < 0 && !set.closing;
    for (; clean_exit < 1; ++clean_exit) launch_exit(rng_.percent(10), -1);
    for (; clean_sets < 2; ++clean_sets) launch_conflux_set(-1);
    for (; clean_internal < 2; ++clean_internal) launch_vanguards();
  }

  // --- conflux --------------------------------------------------------------------------------
  ConfluxSet& launch_conflux_set(std::int64_t session) {
    const std::uint64_t id = next_set_id_++;
    ConfluxSet& set = sets_[id];
    set.id = id;
    std::array<std::uint8_t, 16> nonce{};
    rng_.fill(nonce);
    put_hex(set.nonce, nonce);
    set.exit = static_cast<std::uint16_t>(exits_[rng_.below(exits_.size())]);
    set.session = session;
    set.epoch = epoch_;
    set.idle_since_us = now_;
    // Both legs are launched together, one per guard.
    launch_leg(set, guard_);
    launch_leg(set, second_guard_);
    return set;
  }

  void launch_leg(ConfluxSet& set, std::size_t guard) {
    Circuit& c = prepare(CircKind::kConfluxLeg, 3, guard, set.exit);
    c.purpose = Purpose::kConfluxUnlinked;
    c.need_uptime = true;
    c.conflux = set.id;
    c.session = set.session;
    set.legs.push_back(c.id);
    start(c);
  }

  void conflux_leg_built(Circuit& c) {
    auto it = sets_.find(c.conflux);
    if (it == sets_.end()) return;
    ConfluxSet& set = it->second;
    if (set.linked) {
      // A relaunched leg joins the set as soon as the exit answers.
      link_leg(c, Purpose::kConfluxUnlinked);
      return;
    }
    for (const std::uint64_t leg : set.legs) {
      auto l = circuits_.find(leg);
      if (l == circuits_.end() || !l->second.built) return;
    }
    if (set.legs.size() < 2) return;
    // LINK / LINKED with the exit, one round trip.
    after(rtt(), Kind::kConfluxLink, set.id);
  }

  void link_leg(Circuit& c, Purpose old) {
    c.purpose = Purpose::kConfluxLinked;
    circ_minor(c, "PURPOSE_CHANGED", old, HsState::kNone);
    // The RTT the LINK exchange measured, in microseconds.
    c.conflux_rtt_us = static_cast<std::uint64_t>(rtt());
    c.conflux_rtt_us += rng_.below(60000);
  }

  void conflux_link(std::uint64_t set_id) {
    auto it = sets_.find(set_id);
    if (it == sets_.end() || it->second.linked || it->second.closing) return;
    ConfluxSet& set = it->second;
    for (const std::uint64_t leg : set.legs) {
      auto l = circuits_.find(leg);
      if (l == circuits_.end() || !l->second.built) return;
    }
    set.linked = true;
    set.idle_since_us = now_;
    for (const std::uint64_t leg : set.legs)
      link_leg(circuits_.find(leg)->second, Purpose::kConfluxUnlinked);
    std::vector<std::uint64_t> waiting = std::move(set.waiting);
    set.waiting.clear();
    std::int64_t delay = 0;
    for (const std::uint64_t sid : waiting) {
      auto st = streams_.find(sid);
      if (st != streams_.end()) attach_to_set(st->second, set, delay += ms(0, 3));
    }
  }

  // Streams go over the leg with the lowest RTT.
  void attach_to_set(Stream& s, ConfluxSet& set, std::int64_t delay) {
    Circuit* best = nullptr;
    for (const std::uint64_t leg : set.legs) {
      auto l = circuits_.find(leg);
      if (l == circuits_.end() || l->second.closing || !l->second.built) continue;
      if (!best || l->second.conflux_rtt_us < best->conflux_rtt_us) best = &l->second;
    }
    if (!best) return route(s);
    if (set.session < 0) {
      set.session = s.session;
      set.epoch = epoch_;
    }
    if (set.dirty_since_us < 0) set.dirty_since_us = now_;
    for (const std::uint64_t leg : set.legs) {
      auto l = circuits_.find(leg);
      if (l != circuits_.end()) l->second.session = set.session;
    }
    attach(s, *best, delay);
  }

  // A leg closed. An unlinked set relaunches a failed leg a few times, then
  // gives up; a linked set goes on with the legs it has left.
  void conflux_leg_lost(std::uint64_t set_id, std::uint64_t leg, bool failed_unlinked) {
    auto it = sets_.find(set_id);
    if (it == sets_.end()) return;
    ConfluxSet& set = it->second;
    std::erase(set.legs, leg);
    if (set.closing) {
      if (set.legs.empty()) sets_.erase(it);
      return;
    }
    if (!set.linked && failed_unlinked && set.relaunches < kMaxLegRelaunches) {
      ++set.relaunches;
      launch_leg(set, rng_.percent(50) ? guard_ : second_guard_);
      return;
    }
    if (set.linked && !set.legs.empty()) return;
    close_set(set_id, "FINISHED");
  }

  void close_set(std::uint64_t set_id, std::string_view reason) {
    auto it = sets_.find(set_id);
    if (it == sets_.end()) return;
    ConfluxSet& set = it->second;
    set.closing = true;
    const std::vector<std::uint64_t> waiting = std::move(set.waiting);
    set.waiting.clear();
    const std::vector<std::uint64_t> legs = set.legs;
    for (const std::uint64_t leg : legs) {
      auto l = circuits_.find(leg);
      if (l != circuits_.end()) close_circuit(l->second, !l->second.built, reason);
    }
    auto again = sets_.find(set_id);
    if (again != sets_.end()) sets_.erase(again);
    reroute(waiting);
  }

  // --- guard connection -----------------------------------------------------------------------
  void launch_guard_conn() {
    guard_conn_launching_ = true;
    guard_conn_id_ = next_conn_id_++;
    std::string& e = begin_event("ORCONN ");
    e += pool_[guard_].longname;
    e += " LAUNCHED ID=";
    put_uint(e, guard_conn_id_);
    emit();
    after(ms(80, 600), Kind::kGuardConnected);
  }

  void guard_connected() {
    guard_conn_launching_ = false;
    guard_conn_open_ = true;
    std::string& e = begin_event("ORCONN ");
    e += pool_[guard_].longname;
    e += " CONNECTED ID=";
    put_uint(e, guard_conn_id_);
    emit();
  }

  // The link to the guard drops: every circuit through it goes with it.
  void drop_guard_conn() {
    if (!guard_conn_open_) return;
    guard_conn_open_ = false;
    circuit_established_ = false;
    std::vector<std::uint64_t> victims;
    for (const auto& [id, c] : circuits_) {
      if (c.path[0] == guard_) victims.push_back(id);
    }
    std::string& e = begin_event("ORCONN ");
    e += pool_[guard_].longname;
    e += rng_.percent(50) ? " CLOSED REASON=IOERROR" : " CLOSED REASON=CONNECTRESET";
    if (!victims.empty()) {
      e += " NCIRCS=";
      put_uint(e, victims.size());
    }
    e += " ID=";
    put_uint(e, guard_conn_id_);
    emit();
    begin_event("STATUS_CLIENT NOTICE CIRCUIT_NOT_ESTABLISHED REASON=NO_ROUTE");
    emit();
    const std::size_t lost = guard_;
    // Sometimes the guard stays unreachable and tor moves on to its next primary guard.
    if (rng_.percent(25)) {
      guard_ = guards_[rng_.below(guards_.size())];
      if (guard_ == second_guard_) second_guard_ = lost;
    }
    for (const std::uint64_t id : victims) {
      auto it = circuits_.find(id);
      if (it != circuits_.end()) {
        close_circuit(it->second, !it->second.built, "OR_CONN_CLOSED");
      }
    }
    maintain_preemptive();
  }

  // --- streams --------------------------------------------------------------------------------
  void put_target(std::string& e, const Stream& s) {
    if (s.kind == StreamKind::kDir) {
      // A tunnelled directory connection names its cache by address and
      // identity: "<ip>.$<fingerprint>.exit".
      const PoolRelay& cache = pool_[s.dir_server];
      put_ipv4(e, cache.ipv4);
      e += ".$";
      e += cache.fingerprint;
      e += ".exit";
    } else if (s.host.empty() || s.remapped) {
      put_ipv4(e, s.ip);
    } else {
      e += s.host;
    }
    e.push_back(':');
    put_uint(e, s.port);
  }

  // Fields in the order of tor's control_event_stream_status(): target,
  // reasons (REMAP: SOURCE), SOURCE_ADDR and PURPOSE (new streams only), then
  // entry_connection_describe_status_for_controller()'s isolation fields.
  void stream_event(const Stream& s, std::string_view status, std::string_view reason = {},
                    std::string_view remote = {}, std::string_view extra = {}) {
    std::string& e = begin_event("STREAM ");
    put_uint(e, s.id);
    e.push_back(' ');
    e += status;
    e.push_back(' ');
    put_uint(e, s.circ);
    e.push_back(' ');
    put_target(e, s);
    put_reasons(e, reason, remote);
    e += extra;
    const bool is_new = status == "NEW" || status == "NEWRESOLVE";
    if (is_new) {
      if (s.kind == StreamKind::kDir) {
        e += " PURPOSE=DIR_FETCH";  // linked connections have no client address
      } else {
        e += " SOURCE_ADDR=127.0.0.1:";
        put_uint(e, s.source_port);
        e += s.kind == StreamKind::kResolve ? " PURPOSE=DNS_REQUEST" : " PURPOSE=USER";
      }
    }
    if (s.kind == StreamKind::kDir) {
      // Directory connections isolate by their own session group only and
      // never take a NEWNYM epoch.
      e += " CLIENT_PROTOCOL=UNKNOWN NYM_EPOCH=0 SESSION_GROUP=-2 ISO_FIELDS=SESSION_GROUP";
    } else {
      const Session& ss = session_at(s.session);
      if (!ss.socks_user.empty()) {
        e += " SOCKS_USERNAME=";
        e += ss.socks_user;
        e += " SOCKS_PASSWORD=";
        e += ss.socks_pass;
      }
      // The browser's SocksPort, the applications' SocksPort and an
      // HTTPTunnelPort: each listener is its own automatic session group.
      constexpr std::array<std::string_view, 5> kProtocols = {"SOCKS5", "SOCKS5", "SOCKS5",
                                                              "SOCKS4", "HTTPCONNECT"};
      constexpr std::array<std::string_view, 5> kGroups = {"-5", "-6", "-6", "-6", "-7"};
      const auto k = static_cast<std::size_t>(ss.client);
      e += " CLIENT_PROTOCOL=";
      e += kProtocols[k];
      e += " NYM_EPOCH=";
      put_uint(e, epoch_);
      e += " SESSION_GROUP=";
      e += kGroups[k];
      e += " ISO_FIELDS=SOCKS_USERNAME,SOCKS_PASSWORD,CLIENTADDR,SESSION_GROUP,NYM_EPOCH";
    }
    emit();
  }

  std::uint32_t resolve(std::string_view host) {
    // Stable per host, so every visit to a site sees the same address.
    std::uint64_t h = 0xCBF29CE484222325ULL;
    for (const char c : host) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ULL;
    Rng r(h);
    return random_public_ipv4(r);
  }

  void page_load() {
    // Sessions end after a few page loads; new ones start so that a handful stay active.
    while (active_sessions_.size() < 2 || (active_sessions_.size() < 7 && rng_.percent(15))) {
      new_session(true);
    }
    const std::size_t slot = rng_.below(active_sessions_.size());
    const std::size_t si = active_sessions_[slot];
    Session& s = sessions_[si];
    const unsigned n = s.client == ClientKind::kBrowser ? static_cast<unsigned>(rng_.between(1, 6))
                                                        : static_cast<unsigned>(rng_.between(1, 3));
    std::int64_t offset = 0;
    for (unsigned i = 0; i < n; ++i) {
      after(offset, Kind::kOpenStream, si);
      offset += ms(0, i == 0 ? 600 : 250);
    }
    if (--s.page_loads_left == 0) {
      active_sessions_.erase(active_sessions_.begin() + static_cast<std::ptrdiff_t>(slot));
    }
    after(static_cast<std::int64_t>(rng_.exponential(3500)) * 1000 + 500, Kind::kPageLoad);
  }

  std::uint16_t next_source_port() {
    source_port_ = source_port_ >= 60999 ? 32768 : source_port_ + 1 + rng_.below(3);
    return static_cast<std::uint16_t>(source_port_);
  }

  void open_stream(std::int64_t session) {
    const Session& ss = session_at(session);
    Stream s;
    s.id = next_conn_id_++;
    if (rng_.percent(3)) next_conn_id_ += rng_.between(1, 3);  // other connections in between
    s.session = session;
    s.source_port = next_source_port();
    s.port = 443;
    if (ss.onion) {
      s.kind = StreamKind::kOnion;
      s.host = ss.domain;
      s.port = rng_.percent(85) ? 443 : 80;
    } else if (ss.client != ClientKind::kBrowser && rng_.percent(8)) {
      s.kind = StreamKind::kResolve;
      s.host = domains_[rng_.below(domains_.size())];
      s.port = 0;
    } else {
      // First-party host, its subdomains, or third-party resources.
      const unsigned where = static_cast<unsigned>(rng_.below(10));
      if (where < 4) {
        s.host = ss.domain;
      } else if (where < 7) {
        constexpr std::array<std::string_view, 5> kSub = {"www.", "cdn.", "static.", "api.",
                                                          "img."};
        s.host = std::string(rng_.pick(kSub)) + ss.domain;
      } else {
        s.host = rng_.percent(50) ? "cdn." : "";
        s.host += domains_[rng_.below(domains_.size())];
      }
      const unsigned port_class = static_cast<unsigned>(rng_.below(100));
      if (port_class < 8) {
        s.port = 80;
      } else if (port_class < 10) {
        s.port = rng_.pick(std::array<std::uint16_t, 5>{8080, 5222, 6697, 993, 22});
      }
      if (rng_.percent(4)) s.host.clear();  // a literal address
    }
    s.ip = s.host.empty() ? random_public_ipv4(rng_) : resolve(s.host);
    const std::uint64_t id = s.id;
    Stream& st = streams_[id] = std::move(s);
    const bool socks_app = ss.client == ClientKind::kAuthApp ||
                           ss.client == ClientKind::kSocks5App ||
                           ss.client == ClientKind::kSocks4App;
    if (st.host.empty() && socks_app) {
      // The application resolved the name itself, which may leak it: tor
      // says so (WarnUnsafeSocks) before it takes the request.
      std::string& e = begin_event(ss.client == ClientKind::kSocks4App
                                       ? "STATUS_CLIENT WARN DANGEROUS_SOCKS PROTOCOL=SOCKS4 "
                                         "ADDRESS="
                                       : "STATUS_CLIENT WARN DANGEROUS_SOCKS PROTOCOL=SOCKS5 "
                                         "ADDRESS=");
      put_ipv4(e, st.ip);
      e.push_back(':');
      put_uint(e, st.port);
      emit();
    }
    stream_event(st, st.kind == StreamKind::kResolve ? "NEWRESOLVE" : "NEW");
    route(st);
  }

  static bool long_lived(std::uint16_t port) {
    // LongLivedPorts (a subset): these need NEED_UPTIME circuits.
    return port == 22 || port == 5222 || port == 6697;
  }

  // Find or build a circuit for a stream that is not (or no longer) attached.
  void route(Stream& s) {
    s.circ = 0;
    if (s.kind == StreamKind::kOnion) return route_onion(s);
    if (s.kind == StreamKind::kDir) {
      launch(CircKind::kOneHop, 1).waiting.push_back(s.id);
      return;
    }
    const bool uptime = long_lived(s.port);
    // Web traffic goes over conflux sets; long-lived connections and DNS
    // requests over plain exit circuits.
    if (s.kind == StreamKind::kUser && !uptime) return route_conflux(s);
    // 1. A circuit already isolated to this session, not yet too dirty.
    // 2. A clean built circuit. 3. One being built for this session. 4. Launch a new one.
    Circuit* clean = nullptr;
    Circuit* pending = nullptr;
    for (auto& [id, c] : circuits_) {
      if (c.kind != CircKind::kExit || c.purpose != Purpose::kGeneral || c.closing) continue;
      if (id == s.exclude_circ || (uptime && !c.need_uptime)) continue;
      if (c.session == s.session && c.epoch == epoch_) {
        if (c.built && now_ - c.dirty_since_us < kDirtiness) return attach(s, c, ms(0, 3));
        if (!c.built && !pending) pending = &c;
      } else if (c.session < 0 && c.built && !clean) {
        clean = &c;
      }
    }
    if (clean) {
      attach(s, *clean, ms(0, 3));
      maintain_preemptive();
      return;
    }
    if (!pending) {
      pending = &launch_exit(uptime, s.session);
    }
    pending->waiting.push_back(s.id);
  }

  // The same order of preference as route(), over conflux sets.
  void route_conflux(Stream& s) {
    ConfluxSet* clean_linked = nullptr;
    ConfluxSet* clean_building = nullptr;
    ConfluxSet* pending = nullptr;
    for (auto& [id, set] : sets_) {
      if (set.closing || set.legs.empty()) continue;
      if (std::find(set.legs.begin(), set.legs.end(), s.exclude_circ) != set.legs.end()) continue;
      if (set.session == s.session && set.epoch == epoch_) {
        if (set.linked && (set.dirty_since_us < 0 || now_ - set.dirty_since_us < kDirtiness)) {
          return attach_to_set(s, set, ms(0, 3));
        }
        if (!set.linked && !pending) pending = &set;
      } else if (set.session < 0) {
        if (set.linked && !clean_linked) clean_linked = &set;
        if (!set.linked && !clean_building) clean_building = &set;
      }
    }
    if (clean_linked) {
      attach_to_set(s, *clean_linked, ms(0, 3));
      maintain_preemptive();
      return;
    }
    if (!pending && clean_building) {
      pending = clean_building;
      pending->session = s.session;
      pending->epoch = epoch_;
      for (const std::uint64_t leg : pending->legs) {
        auto l = circuits_.find(leg);
        if (l != circuits_.end()) l->second.session = s.session;
      }
    }
    if (!pending) pending = &launch_conflux_set(s.session);
    pending->waiting.push_back(s.id);
  }

  void attach(Stream& s, Circuit& c, std::int64_t delay) {
    s.circ = c.id;
    if (c.dirty_since_us < 0) c.dirty_since_us = now_;
    if (c.session < 0 && s.kind != StreamKind::kDir) {
      c.session = s.session;
      c.epoch = epoch_;
    }
    if (s.kind != StreamKind::kDir) c.shows_socks = true;
    c.streams.push_back(s.id);
    s.next = kSentConnect;
    after(delay, Kind::kStreamStep, s.id);
  }

  void detach(Stream& s) {
    auto it = circuits_.find(s.circ);
    if (it == circuits_.end()) return;
    std::erase(it->second.streams, s.id);
    if (!it->second.streams.empty()) return;
    it->second.idle_since_us = now_;
    auto set = sets_.find(it->second.conflux);
    if (set != sets_.end()) set->second.idle_since_us = now_;
  }

  void stream_step(std::uint64_t id) {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    Stream& s = it->second;
    switch (s.next) {
      case kSentConnect: {
        stream_event(s, s.kind == StreamKind::kResolve ? "SENTRESOLVE" : "SENTCONNECT");
        const unsigned roll = static_cast<unsigned>(rng_.below(1000));
        const bool exitish = s.kind == StreamKind::kUser || s.kind == StreamKind::kResolve;
        if (exitish && roll < 40) {
          s.next = kFail;
          after(rtt() * 2, Kind::kStreamStep, id);
        } else if (exitish && roll < 70 && s.retries < 2) {
          // No answer within the stream timeout, or the exit refuses the port: try again.
          s.next = kDetach;
          after(rng_.percent(70) ? ms(10000, 15000) : rtt() * 2, Kind::kStreamStep, id);
        } else {
          s.next = kReply;
          const std::int64_t wait = rtt() * 2;
          after(wait + ms(0, 300), Kind::kStreamStep, id);
        }
        return;
      }
      case kReply: {
        if (s.kind == StreamKind::kUser && !s.host.empty()) {
          // The exit's CONNECTED cell carries the address it reached.
          s.remapped = true;
          stream_event(s, "REMAP", {}, {}, " SOURCE=EXIT");
        }
        stream_event(s, "SUCCEEDED");
        s.connected = true;
        s.next = kClose;
        const std::int64_t life = s.kind == StreamKind::kUser || s.kind == StreamKind::kOnion
                                      ? static_cast<std::int64_t>(rng_.log_uniform(150, 11)) * 1000
                                      : ms(20, 900);
        after(life, Kind::kStreamStep, id);
        return;
      }
      case kClose: {
        if (s.kind == StreamKind::kUser && rng_.percent(30)) {
          stream_event(s, "CLOSED", "END", rng_.percent(90) ? "DONE" : "CONNRESET");
        } else if (s.kind == StreamKind::kDir) {
          stream_event(s, "CLOSED", "END", "DONE");
        } else {
          stream_event(s, "CLOSED", "DONE");
        }
        finish_stream(it);
        return;
      }
      case kFail: {
        constexpr std::array<std::string_view, 5> kRemote = {"RESOLVEFAILED", "CONNECTREFUSED",
                                                             "TIMEOUT", "NOROUTE", "MISC"};
        constexpr std::array<std::uint16_t, 5> kWeights = {45, 25, 12, 12, 6};
        const std::string_view remote = kRemote[rng_.weighted(kWeights)];
        stream_event(s, "FAILED", "END", remote);
        stream_event(s, "CLOSED", "END", remote);
        finish_stream(it);
        return;
      }
      case kDetach: {
        if (rng_.percent(75)) {
          stream_event(s, "DETACHED", "TIMEOUT");
        } else {
          stream_event(s, "DETACHED", "END", "EXITPOLICY");
        }
        detach(s);
        s.exclude_circ = s.circ;
        ++s.retries;
        route(s);
        return;
      }
      default: return;
    }
  }

  void finish_stream(std::map<std::uint64_t, Stream>::iterator it) {
    detach(it->second);
    const bool dir = it->second.kind == StreamKind::kDir;
    streams_.erase(it);
    if (dir && dir_streams_left_ > 0 && --dir_streams_left_ == 0) {
      // The consensus fetched over the directory streams has been validated.
      after(ms(50, 2000), Kind::kMisc, kConsensusArrived);
    }
  }

  // --- onion services -------------------------------------------------------------------------
  void route_onion(Stream& s) {
    auto f = onion_flow_.find(s.host);
    if (f != onion_flow_.end()) {
      auto flow = flows_.find(f->second);
      if (flow != flows_.end()) {
        if (!flow->second.joined) {
          flow->second.streams.push_back(s.id);
          return;
        }
        auto rc = circuits_.find(flow->second.rend);
        if (rc != circuits_.end() && !rc->second.closing) return attach(s, rc->second, ms(0, 3));
      }
    }
    const std::uint64_t fid = next_flow_id_++;
    HsFlow& flow = flows_[fid];
    flow.session = s.session;
    flow.onion = s.host.substr(0, s.host.size() - 6);  // strip ".onion"
    for (std::size_t i = 0; i < onions_.size(); ++i) {
      if (onions_[i] == flow.onion) flow.pow_effort = onion_pow_[i];
    }
    flow.streams.push_back(s.id);
    onion_flow_[s.host] = fid;
    new_hs_circuit(flow, fid, true);
    new_hs_circuit(flow, fid, false);
  }

  // Get a rendezvous or introduction circuit for a flow: cannibalize a clean
  // vanguard circuit if one is built, otherwise build a fresh one with the
  // right purpose. Tor learns which service a circuit is for only after it
  // has it, so REND_QUERY appears from the next event on.
  void new_hs_circuit(HsFlow& flow, std::uint64_t fid, bool rend) {
    const Purpose purpose = rend ? Purpose::kHsClientRend : Purpose::kHsClientIntro;
    const HsState state = rend ? HsState::kRendConnecting : HsState::kIntroConnecting;
    Circuit* c = nullptr;
    for (auto& [id, cand] : circuits_) {
      if (cand.kind == CircKind::kInternal && cand.built && !cand.closing && cand.session < 0 &&
          cand.hs_flow == 0 && cand.purpose == Purpose::kHsVanguards) {
        c = &cand;
        break;
      }
    }
    if (c) {
      const std::int64_t old_created = c->created_us;
      c->purpose = purpose;
      c->hs_state = state;
      c->hs_flow = fid;
      c->session = flow.session;
      // Tor changes the purpose, then restarts the circuit's clock.
      circ_minor(*c, "PURPOSE_CHANGED", Purpose::kHsVanguards, HsState::kNone);
      c->created_us = now_;
      circ_minor(*c, "CANNIBALIZED", Purpose::kHsVanguards, HsState::kNone, old_created);
      if (rend) {
        after(ms(1, 5), Kind::kHsStep, c->id);  // already open: the last hop is the RP
      } else {
        // Extend by one hop to the introduction point.
        c->built = false;
        c->path.push_back(pick_other(middles_, *c));
        after(rtt() * 2, Kind::kCircStep, c->id);
      }
    } else {
      c = &prepare(CircKind::kInternal, rend ? 3 : 4);
      c->purpose = purpose;
      c->need_uptime = true;
      c->hs_state = state;
      c->hs_flow = fid;
      c->session = flow.session;
      start(*c);
    }
    c->rend_query = flow.onion;
    (rend ? flow.rend : flow.intro) = c->id;
    maintain_preemptive();
  }

  // A flow circuit closed before its job was done.
  void hs_circuit_lost(std::uint64_t fid, std::uint64_t circ_id, bool rend) {
    auto fi = flows_.find(fid);
    if (fi == flows_.end()) return;
    HsFlow& flow = fi->second;
    if (!rend) {
      if (flow.intro == circ_id && !flow.joined) new_hs_circuit(flow, fid, false);
      return;
    }
    if (flow.rend != circ_id) return;
    // Without its rendezvous circuit the attempt is over; waiting streams start a new one.
    const std::vector<std::uint64_t> waiting = std::move(flow.streams);
    const std::uint64_t intro = flow.intro;
    auto mapping = onion_flow_.find(flow.onion + ".onion");
    if (mapping != onion_flow_.end() && mapping->second == fid) onion_flow_.erase(mapping);
    flows_.erase(fi);
    auto ic = circuits_.find(intro);
    if (ic != circuits_.end()) {
      ic->second.hs_flow = 0;
      close_circuit(ic->second, !ic->second.built, "FINISHED");
    }
    reroute(waiting);
  }

  void hs_circuit_ready(Circuit& c) { after(ms(1, 5), Kind::kHsStep, c.id); }

  void set_hs_state(Circuit& c, HsState state) {
    const HsState old = c.hs_state;
    c.hs_state = state;
    circ_minor(c, "PURPOSE_CHANGED", c.purpose, old);
  }

  // Advances the rendezvous protocol; `circ_id` is the flow circuit whose step is due.
  void hs_step(std::uint64_t circ_id) {
    auto ci = circuits_.find(circ_id);
    if (ci == circuits_.end() || ci->second.hs_flow == 0 || ci->second.closing) return;
    const std::uint64_t fid = ci->second.hs_flow;
    auto fi = flows_.find(fid);
    if (fi == flows_.end()) return;
    HsFlow& flow = fi->second;
    auto rend = circuits_.find(flow.rend);
    if (rend == circuits_.end()) return;
    Circuit& rc = rend->second;
    auto intro = flow.intro != 0 ? circuits_.find(flow.intro) : circuits_.end();
    Circuit* ic = intro != circuits_.end() ? &intro->second : nullptr;

    if (circ_id == rc.id && rc.hs_state == HsState::kRendConnecting) {
      set_hs_state(rc, HsState::kRendIdle);  // RENDEZVOUS_ESTABLISHED
    }
    if (ic && rc.hs_state == HsState::kRendIdle && ic->built &&
        ic->hs_state == HsState::kIntroConnecting) {
      // The proof of work (if the service wants one) goes with INTRODUCE1;
      // both circuits carry its effort from then on.
      if (flow.pow_effort > 0) {
        const auto effort =
            static_cast<std::uint32_t>(flow.pow_effort + rng_.below(flow.pow_effort));
        ic->hs_pow_effort = effort;
        rc.hs_pow_effort = effort;
      }
      set_hs_state(*ic, HsState::kIntroSent);  // INTRODUCE1 sent
      after(rtt() * 2, Kind::kHsStep, ic->id);
      return;
    }
    if (ic && circ_id == ic->id && ic->hs_state == HsState::kIntroSent) {
      set_hs_state(*ic, HsState::kIntroDone);  // INTRODUCE_ACK
      set_hs_state(rc, HsState::kRendWaiting);
      ic->hs_flow = 0;
      flow.intro = 0;
      close_circuit(*ic, false, "FINISHED");
      after(rtt() * 3, Kind::kHsStep, rc.id);
      return;
    }
    if (circ_id == rc.id && rc.hs_state == HsState::kRendWaiting) {
      set_hs_state(rc, HsState::kRendJoined);  // RENDEZVOUS2: the service joined
      flow.joined = true;
      std::int64_t delay = 0;
      for (const std::uint64_t sid : flow.streams) {
        auto st = streams_.find(sid);
        if (st != streams_.end()) attach(st->second, rc, delay += ms(0, 3));
      }
      flow.streams.clear();
    }
  }
  // --- relay-side OR connections --------------------------------------------------------------
  void orconn_event(const OrConn& oc, std::string_view status, std::string_view reason = {},
                    std::uint64_t ncircs = 0) {
    std::string& e = begin_event("ORCONN ");
    e += oc.endpoint;
    e.push_back(' ');
    e += status;
    if (!reason.empty()) {
      e += " REASON=";
      e += reason;
    }
    if (ncircs > 0) {
      e += " NCIRCS=";
      put_uint(e, ncircs);
    }
    e += " ID=";
    put_uint(e, oc.id);
    emit();
  }

  void new_orconn() {
    OrConn oc;
    oc.id = next_conn_id_++;
    const unsigned kind =
        static_cast<unsigned>(rng_.weighted(std::array<std::uint16_t, 3>{45, 30, 25}));
    const PoolRelay& peer = pool_[rng_.below(pool_.size())];
    if (kind == 2) {
      // We extend a circuit to a relay we have no connection to.
      oc.endpoint = peer.longname;
      orconn_event(oc, "LAUNCHED");
      oc.next = rng_.percent(8) ? kConnectFail : kConnect;
    } else {
      // Incoming: only the address is known until the handshake says who it is.
      const std::uint32_t ip = kind == 0 ? peer.ipv4 : random_public_ipv4(rng_);
      put_ipv4(oc.endpoint, ip);
      oc.endpoint.push_back(':');
      put_uint(oc.endpoint, rng_.between(1024, 65535));
      orconn_event(oc, "NEW");
      if (kind == 0) oc.endpoint = peer.longname;
      oc.next = kConnect;
    }
    after(ms(30, 700), Kind::kOrConnStep, oc.id);
    orconns_[oc.id] = std::move(oc);
    after(static_cast<std::int64_t>(rng_.exponential(1800)) * 1000 + 200, Kind::kNewOrConn);
  }

  void orconn_step(std::uint64_t id) {
    auto it = orconns_.find(id);
    if (it == orconns_.end()) return;
    OrConn& oc = it->second;
    switch (oc.next) {
      case kConnect:
        orconn_event(oc, "CONNECTED");
        oc.next = kCloseConn;
        after(static_cast<std::int64_t>(rng_.log_uniform(5, 10)) * kSecond, Kind::kOrConnStep, id);
        return;
      case kConnectFail: {
        constexpr std::array<std::string_view, 5> kReasons = {
            "CONNECTREFUSED", "TIMEOUT", "NOROUTE", "IDENTITY", "CONNECTRESET"};
        const std::string_view reason =
            kReasons[rng_.weighted(std::array<std::uint16_t, 5>{35, 30, 20, 5, 10})];
        orconn_event(oc, "FAILED", reason, 1);
        if (rng_.percent(30)) bootstrap_problem(oc, reason);
        orconns_.erase(it);
        return;
      }
      case kCloseConn: {
        constexpr std::array<std::string_view, 4> kReasons = {"DONE", "IOERROR", "CONNECTRESET",
                                                              "TIMEOUT"};
        const std::string_view reason =
            kReasons[rng_.weighted(std::array<std::uint16_t, 4>{70, 10, 12, 8})];
        orconn_event(oc, "CLOSED", reason, rng_.percent(60) ? 0 : rng_.between(1, 6));
        orconns_.erase(it);
        return;
      }
      default: return;
    }
  }

  // Even when bootstrapped, tor reports failed OR connections as (ignorable) bootstrap problems.
  void bootstrap_problem(const OrConn& oc, std::string_view reason) {
    constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kWarnings = {{
        {"CONNECTREFUSED", "Connection refused"},
        {"TIMEOUT", "Connection timed out"},
        {"NOROUTE", "No route to host"},
        {"IDENTITY", "Unexpected identity in router certificate"},
        {"CONNECTRESET", "Connection reset by peer"},
    }};
    std::string_view warning = "Unknown error";
    for (const auto& [r, w] : kWarnings) {
      if (r == reason) warning = w;
    }
    const PoolRelay* peer = nullptr;
    for (const auto& p : pool_) {
      if (p.longname == oc.endpoint) peer = &p;
    }
    std::string& e =
        begin_event("STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY=\"Done\"");
    e += " WARNING=\"";
    e += warning;
    e += "\" REASON=";
    e += reason;
    e += " COUNT=";
    put_uint(e, ++bootstrap_problems_);
    e += " RECOMMENDATION=ignore";
    if (peer) {
      e += " HOSTID=\"";
      e += peer->fingerprint;
      e += "\" HOSTADDR=\"";
      put_ipv4(e, peer->ipv4);
      e.push_back(':');
      put_uint(e, peer->or_port);
      e.push_back('"');
    }
    emit();
  }

  // --- rare events ----------------------------------------------------------------------------
  void hourly() {
    // Fetch the new consensus and microdescriptors from the guard over a one-hop tunnel.
    Circuit& c = launch(CircKind::kOneHop, 1);
    const unsigned n = static_cast<unsigned>(rng_.between(1, 3));
    dir_streams_left_ += n;
    for (unsigned i = 0; i < n; ++i) {
      Stream s;
      s.id = next_conn_id_;
      next_conn_id_ += 2;  // the directory connection and its linked stream
      s.kind = StreamKind::kDir;
      s.dir_server = static_cast<std::uint16_t>(guard_);
      s.port = pool_[guard_].or_port;
      const std::uint64_t id = s.id;
      Stream& st = streams_[id] = std::move(s);
      stream_event(st, "NEW");
      c.waiting.push_back(st.id);
    }
    after(3600 * kSecond + ms(0, 60000), Kind::kHourly);
  }

  void misc(std::uint64_t which) {
    if (which == kConsensusArrived) {
      begin_event("STATUS_GENERAL NOTICE CONSENSUS_ARRIVED");
      emit();
      if (rng_.percent(10)) {
        begin_event(
            "STATUS_GENERAL WARN DANGEROUS_VERSION CURRENT=0.4.8.17 REASON=UNRECOMMENDED "
            "RECOMMENDED=\"0.4.8.20, 0.4.8.21, 0.4.9.10, 0.4.9.11\"");
        emit();
      }
      return;
    }
    switch (rng_.weighted(std::array<std::uint16_t, 5>{35, 15, 20, 15, 15})) {
      case 0: {
        // New identity: fresh isolation everywhere; dirty circuits close once idle.
        begin_event("SIGNAL NEWNYM");
        emit();
        ++epoch_;
        active_sessions_.clear();
        break;
      }
      case 1: drop_guard_conn(); break;
      case 2: {
        const PoolRelay& peer = pool_[rng_.below(pool_.size())];
        std::string& e = begin_event("STATUS_GENERAL WARN CLOCK_SKEW SKEW=");
        const std::int64_t sign = rng_.percent(50) ? -1 : 1;
        put_int(e, sign * static_cast<std::int64_t>(rng_.between(60, 7200)));
        e += " SOURCE=OR:";
        put_ipv4(e, peer.ipv4);
        e.push_back(':');
        put_uint(e, peer.or_port);
        emit();
        break;
      }
      case 3: {
        std::string& e = begin_event("STATUS_SERVER NOTICE CHECKING_REACHABILITY ORADDRESS=");
        put_ipv4(e, own_address());
        e += ":9001";
        emit();
        break;
      }
      default: {
        begin_event("STATUS_SERVER NOTICE GOOD_SERVER_DESCRIPTOR");
        emit();
        break;
      }
    }
    after(static_cast<std::int64_t>(rng_.exponential(900) + 30) * kSecond, Kind::kMisc);
  }

  std::uint32_t own_address() {
    if (own_ip_ == 0) own_ip_ = random_public_ipv4(names_);
    return own_ip_;
  }

  // --- state ----------------------------------------------------------------------------------
  std::size_t limit_;
  std::size_t emitted_ = 0;
  Rng rng_;
  Rng names_;  // world-building draws, kept apart from the simulation's
  TimeFormatter tf_;
  std::string out_;
  std::string line_;
  std::int64_t now_ = 0;
  std::uint64_t seq_ = 0;
  std::priority_queue<Task, std::vector<Task>, Later> queue_;

  std::vector<PoolRelay> pool_;
  std::vector<std::size_t> guards_, exits_, middles_;
  std::array<std::uint16_t, 4> vanguards_{};
  std::vector<std::string> domains_, onions_;
  std::vector<std::uint32_t> onion_pow_;  // per onion: the effort its service asks for
  std::size_t guard_ = 0, second_guard_ = 0;
  std::uint64_t guard_conn_id_ = 0;
  bool guard_conn_open_ = false, guard_conn_launching_ = false;
  bool circuit_established_ = true;

  std::map<std::uint64_t, Circuit> circuits_;
  std::map<std::uint64_t, ConfluxSet> sets_;
  std::map<std::uint64_t, Stream> streams_;
  std::map<std::uint64_t, OrConn> orconns_;
  std::map<std::uint64_t, HsFlow> flows_;
  std::map<std::string, std::uint64_t> onion_flow_;
  std::vector<Session> sessions_;
  std::vector<std::size_t> active_sessions_;
  std::vector<std::pair<std::int64_t, std::uint64_t>> measurement_deadlines_;

  std::uint64_t next_circ_id_ = 1, next_conn_id_ = 1, next_flow_id_ = 1, next_set_id_ = 1;
  std::uint64_t epoch_ = 0;
  std::uint64_t bw_rate_ = 0;
  std::uint64_t source_port_ = 40000;
  std::uint64_t ticks_ = 0;
  std::uint64_t bootstrap_problems_ = 0;
  std::uint32_t own_ip_ = 0;
  unsigned dir_streams_left_ = 0;
};

}  // namespace

std::string event_stream(const EventOptions& opts) {
  if (opts.events == 0) return {};
  return EventSim(opts).run();
}

}  // namespace torcon::gen
