// torcon::testnet: a private Tor network on 127.0.0.1 (see testnet.hpp).
//
// The recipe (torrc options, voting schedule, the DisableNetwork and
// SIGNAL RELOAD tricks, pid bookkeeping) was measured on tor 0.4.9;
// comments say why each piece is there.

#include "torcon/testnet.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "child_process.hpp"
#include "internal.hpp"
#include "torcon/router_status.hpp"
#include "torcon/tokens.hpp"

namespace torcon::testnet {

using namespace detail;
namespace fs = std::filesystem;
using std::chrono::duration_cast;

namespace {

// Voting: a 10 s interval with 2 s vote and dist delays (vote + dist must be
// below half the interval), and the first consensus ~8 s after launch: late
// enough that every relay has uploaded its descriptor before the first vote
// (~+4 s), so that consensus is already complete.
constexpr int kVoteInterval = 10;
constexpr int kVoteDelay = 2;
constexpr std::int64_t kVoteLeadMs = 8000;
constexpr milliseconds kPoll{100};
constexpr milliseconds kCommandTimeout{5000};

std::int64_t wall_ms() {
  return duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// An ExitPolicy value we write into a torrc: "accept"/"reject"/"accept6"/
// "reject6" rules, comma-separated, of characters that cannot end the line
// or start another option.
bool is_exit_policy_text(std::string_view policy) {
  if (policy.empty()) return true;  // the loopback-only default
  std::size_t pos = 0;
  while (pos <= policy.size()) {
    std::size_t end = policy.find(',', pos);
    if (end == std::string_view::npos) end = policy.size();
    std::string_view rule = policy.substr(pos, end - pos);
    while (rule.starts_with(' ')) rule.remove_prefix(1);
    const std::size_t sp = rule.find(' ');
    if (sp == std::string_view::npos) return false;
    const std::string_view verb = rule.substr(0, sp), pattern = rule.substr(sp + 1);
    if (verb != "accept" && verb != "reject" && verb != "accept6" && verb != "reject6")
      return false;
    if (pattern.empty() || pattern.find(':') == std::string_view::npos) return false;
    for (char c : pattern)
      if (c == '\0' || (!is_ascii_alnum(c) && !std::strchr(".:/*-[]", c))) return false;
    pos = end + 1;
  }
  return true;
}

// Whether `port` can be bound on `address` (an IPv4 literal) as tor binds.
Status check_port_free(const std::string& address, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1)
    return Error(Errc::io, "bad address " + address);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error(Errc::io, std::string("socket: ") + std::strerror(errno));
  // SO_REUSEADDR as tor uses it: TIME_WAIT leftovers of a stopped network
  // do not count as busy, a listener (or any bound socket) does.
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  int e = errno;
  ::close(fd);
  if (rc != 0)
    return Error(Errc::io, "port " + std::to_string(port) + " on " + address + " is in use (" +
                               std::strerror(e) + ")");
  return {};
}

long long ms_since(Clock::time_point t) {
  return duration_cast<milliseconds>(Clock::now() - t).count();
}

std::string upper(std::string s) {
  for (char& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string shell_quote(std::string_view v) {
  bool plain = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("_./:,@+-", c);
  });
  if (plain) return std::string(v);
  std::string out = "'";
  for (char c : v) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string absolute_dir(std::string_view dir) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(fs::path(dir), ec), ec);
  std::string s = p.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// A file a torrc line names: absolute, existing, and nothing in it that
// torrc would read as more than a file name (a comment, a quote, an escape,
// a line break).
Expected<std::string> torrc_file_path(const std::string& given) {
  for (char c : given)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '#' || c == '"' || c == '\\')
      return Error(Errc::io, "\"" + given + "\" holds a character torrc cannot carry");
  std::error_code ec;
  fs::path p = fs::absolute(fs::path(given), ec);
  if (ec || !fs::is_regular_file(p, ec)) return Error(Errc::io, given + " is not a file");
  return p.string();
}

// Names, roles, paths and ports of every node, in node order.
Network layout(const Options& o, const std::string& dir) {
  Network net;
  net.dir = dir;
  net.base_port = o.base_port;
  std::uint32_t next = o.base_port;
  int servers = 0;
  auto add = [&](std::string name, Role role) {
    Node n;
    n.name = std::move(name);
    n.role = role;
    if (o.distinct_addresses && role != Role::client)
      n.address = "127.0.0." + std::to_string(2 + servers++);
    n.data_dir = dir + "/" + n.name;
    n.torrc = n.data_dir + "/torrc";
    n.cookie_file = n.data_dir + "/control_auth_cookie";
    if (role == Role::client) {
      n.socks_port = std::uint16_t(next++);
    } else {
      n.or_port = std::uint16_t(next++);
      if (role == Role::authority) n.dir_port = std::uint16_t(next++);
    }
    n.control_port = std::uint16_t(next++);
    net.nodes.push_back(std::move(n));
  };
  for (int i = 0; i < o.authorities; ++i) add("auth" + std::to_string(i), Role::authority);
  for (int i = 0; i < o.relays; ++i) add("relay" + std::to_string(i), Role::relay);
  for (std::size_t i = 0; i < o.exits.size(); ++i) add("exit" + std::to_string(i), Role::exit);
  for (int i = 0; i < o.clients; ++i) add("client" + std::to_string(i), Role::client);
  return net;
}

bool is_server(const Node& n) { return n.role != Role::client; }

// ---- state file ------------------------------------------------------------

std::string state_path(const std::string& dir) { return dir + "/testnet.state"; }

std::string format_state(const Network& net) {
  std::ostringstream s;
  s << "# torcon testnet state (read by torcon-testnet status/stop/env)\n";
  s << "base_port " << net.base_port << "\n";
  for (const Node& n : net.nodes) {
    s << "node " << n.name << ' ' << to_string(n.role) << ' ' << n.control_port << ' ' << n.or_port
      << ' ' << n.dir_port << ' ' << n.socks_port << ' '
      << (n.fingerprint.empty() ? "-" : n.fingerprint) << ' ' << n.address << "\n";
  }
  return s.str();
}

bool parse_role(std::string_view s, Role& r) {
  for (Role x : {Role::authority, Role::relay, Role::exit, Role::client}) {
    if (s == to_string(x)) {
      r = x;
      return true;
    }
  }
  return false;
}

// ---- torrcs ----------------------------------------------------------------

struct Plan {
  const Options* opt = nullptr;
  // Options::exits' policy for exit node `n` (exitN).
  const std::string& exit_policy(const Node& n) const {
    static const std::string none;
    const std::size_t i = std::size_t(std::atoi(n.name.c_str() + 4));
    return i < opt->exits.size() ? opt->exits[i].policy : none;
  }
  Network net;
  std::string geoip = "/dev/null", geoip6 = "/dev/null";  // GeoIPFile, GeoIPv6File
  std::string dir_authorities;                            // the DirAuthority lines
  std::string exit_fps;                                   // "$FP,$FP,...": every exit
  std::int64_t vote_offset = 0;
};

std::string torrc_for(const Plan& p, const Node& n, bool disable_network) {
  std::ostringstream t;
  t << "# generated by torcon-testnet for node " << n.name << "\n"
    << "TestingTorNetwork 1\n"
    << "DataDirectory " << n.data_dir << "\n"
    << "PidFile " << n.data_dir
    << "/pid\n"
    // Daemons outlive the process that started them; tor returns once its
    // ports are bound, so a bad config fails the launch itself.
    << "RunAsDaemon 1\n"
    << "Nickname " << n.name << "\n"
    << "Log notice file " << n.data_dir << "/notice.log\n"
    << "SafeLogging 0\n"
    << "LogTimeGranularity 1\n"
    << "ProtocolWarnings 1\n"
    << "ShutdownWaitLength 0\n"
    << "ControlPort 127.0.0.1:" << n.control_port << "\n"
    << "CookieAuthentication 1\n"
    // Parsing /usr/share/tor/geoip* costs 0.2-0.8 s of CPU and 35 MB per tor:
    // /dev/null unless Options gives files of its own.
    << "GeoIPFile " << p.geoip << "\n"
    << "GeoIPv6File " << p.geoip6
    << "\n"
    // Without it every cache diffs each new consensus (one per 10 s) against
    // all older ones and idle CPU triples within minutes.
    << "MaxConsensusAgeForDiffs 1 minute\n"
    // Loopback circuits build in 15-150 ms, so a learned timeout is tiny and
    // any CPU hiccup times circuits out (onion services suffer most).
    << "LearnCircuitBuildTimeout 0\n"
    << "CircuitBuildTimeout 10\n"
    << "AddressDisableIPv6 1\n"
    << "ClientUseIPv6 0\n"
    // Rapid-bootstrap flags as in chutney; every relay an HSDir (onion
    // services need several).
    << "PathsNeededToBuildCircuits 0.67\n"
    << "V3AuthNIntervalsValid 2\n"
    << "TestingDirAuthVoteGuard *\n"
    << "TestingDirAuthVoteHSDir *\n"
    << "TestingDirAuthVoteExit " << p.exit_fps << "\n"
    << "TestingMinExitFlagThreshold 0\n"
    << p.dir_authorities;
  if (is_server(n)) {
    t << "Address " << n.address << "\n"
      << "ORPort " << n.address << ":" << n.or_port << "\n"
      << "SocksPort 0\n"
      << "ContactInfo " << n.name
      << "@testnet.invalid\n"
      // Publish at once, without the ORPort self-test; on authorities it
      // also means every relay is Running.
      << "AssumeReachable 1\n"
      // Never touch the real DNS: the machine may be offline.
      << "ServerDNSResolvConfFile /dev/null\n"
      << "ServerDNSDetectHijacking 0\n"
      << "ServerDNSTestAddresses\n"
      << "ServerDNSAllowBrokenConfig 1\n";
  }
  switch (n.role) {
    case Role::authority:
      t << "DirPort " << n.address << ":" << n.dir_port << "\n"
        << "AuthoritativeDirectory 1\n"
        << "V3AuthoritativeDirectory 1\n"
        << "ExitRelay 0\n"
        << "ExitPolicy reject *:*\n"
        << "TestingV3AuthInitialVotingInterval " << kVoteInterval << "\n"
        << "TestingV3AuthInitialVoteDelay " << kVoteDelay << "\n"
        << "TestingV3AuthInitialDistDelay " << kVoteDelay << "\n"
        << "V3AuthVotingInterval " << kVoteInterval << "\n"
        << "V3AuthVoteDelay " << kVoteDelay << "\n"
        << "V3AuthDistDelay " << kVoteDelay
        << "\n"
        // Authorities vote at k*interval + offset (wall clock); the offset
        // puts the first valid-after ~8 s after launch.
        << "TestingV3AuthVotingStartOffset " << p.vote_offset << "\n";
      break;
    case Role::relay:
      t << "ExitRelay 0\n"
        << "ExitPolicy reject *:*\n";
      break;
    case Role::exit: {
      t << "ExitRelay 1\n"
        // Right after the first consensus the exit may not have it yet and
        // would treat every previous hop as unknown, ending streams with
        // MISC; the client then storms out "doomed exit" circuits.
        << "RefuseUnknownExits 0\n"
        // Loopback destinations (our test servers) must stay allowed.
        << "ExitPolicyRejectPrivate 0\n";
      const std::string& policy = p.exit_policy(n);
      if (policy.empty()) {
        // Loopback only: nothing in a test may leave the machine.
        t << "ExitPolicy accept 127.0.0.0/8:*\n"
          << "ExitPolicy reject *:*\n";
      } else {
        // A policy that lets streams out anywhere: tor binds this for every
        // destination off loopback, and from a loopback source the kernel
        // reaches none of them, so nothing leaves the machine.
        t << "ExitPolicy " << policy << "\n"
          << "OutboundBindAddressExit " << n.address << "\n";
      }
      break;
    }
    case Role::client:
      t << "SocksPort 127.0.0.1:" << n.socks_port
        << "\n"
        // A microdescriptor's policy summary cannot say "127.0.0.0/8 only"
        // (it reads "reject 1-65535"): with it the client finds no exit.
        << "UseMicrodescriptors 0\n"
        // Fetch from the authorities as early as they do, not from relay
        // caches that lack the documents yet (else a ~10 s stall at 50%).
        << "FetchDirInfoEarly 1\n"
        << "FetchDirInfoExtraEarly 1\n";
      // start() turns the network on over the control port the moment the
      // first consensus exists, skipping the client's retry back-off.
      if (disable_network) t << "DisableNetwork 1\n";
      break;
  }
  if (p.opt->owner_pid > 0) t << "__OwningControllerProcess " << p.opt->owner_pid << "\n";
  for (const std::string& line : p.opt->extra_torrc) t << line << "\n";
  return t.str();
}

std::string client_include(const Plan& p) {
  std::ostringstream t;
  t << "# Joins the testnet in " << p.net.dir << " as a client. Add DataDirectory,\n"
    << "# SocksPort, ControlPort etc. yourself. Generated by torcon-testnet.\n"
    << "TestingTorNetwork 1\n"
    << "GeoIPFile " << p.geoip << "\n"
    << "GeoIPv6File " << p.geoip6 << "\n"
    << "ClientUseIPv6 0\n"
    << "LearnCircuitBuildTimeout 0\n"
    << "CircuitBuildTimeout 10\n"
    << "PathsNeededToBuildCircuits 0.67\n"
    << "FetchDirInfoEarly 1\n"
    << "FetchDirInfoExtraEarly 1\n"
    << "UseMicrodescriptors 0\n"
    << p.dir_authorities;
  return t.str();
}

// ---- keys --------------------------------------------------------------------

std::string keys_signature(const Options& o) {
  // The authorities' certificates name their address.
  return "base_port " + std::to_string(o.base_port) + " authorities " +
         std::to_string(o.authorities) + " relays " + std::to_string(o.relays) + " exits " +
         std::to_string(o.exits.size()) + (o.distinct_addresses ? " distinct" : "") + "\n";
}

bool keys_reusable(const Options& o, const Network& net) {
  if (!o.reuse_keys || read_file(net.dir + "/keys.conf") != keys_signature(o)) return false;
  for (const Node& n : net.nodes) {
    if (!is_server(n)) continue;
    if (!file_nonempty(n.data_dir + "/fingerprint.rsa") ||
        !file_nonempty(n.data_dir + "/keys/secret_id_key"))
      return false;
    if (n.role == Role::authority && (!file_nonempty(n.data_dir + "/keys/authority_certificate") ||
                                      !file_nonempty(n.data_dir + "/keys/authority_signing_key")))
      return false;
  }
  return true;
}

// `tor --list-fingerprint` prints "nickname XXXX XXXX ..." as its last line.
std::string parse_fingerprint(const std::string& out) {
  std::string text = out;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  std::string last = text.substr(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
  std::size_t sp = last.find(' ');
  if (sp == std::string::npos) return {};
  std::string fp;
  for (char c : last.substr(sp + 1))
    if (c != ' ') fp += c;
  return is_hex_identity(fp) ? fp : std::string();
}

std::string v3_identity(const std::string& cert_path) {
  std::istringstream in(read_file(cert_path));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("fingerprint ", 0) == 0) return line.substr(12);
  }
  return {};
}

// Started with its output appended to out_path.
Expected<std::unique_ptr<ChildProcess>> start_child(std::vector<std::string> argv,
                                                    std::string stdin_text,
                                                    const std::string& out_path) {
  SpawnOptions so;
  so.argv = std::move(argv);
  so.stdin_text = std::move(stdin_text);
  so.output_path = out_path;
  so.append_output = true;
  return ChildProcess::spawn(std::move(so));
}

Status generate_keys(const Plan& p, const std::string& tor, const std::string& gencert) {
  struct Job {
    std::unique_ptr<ChildProcess> child;
    const Node* node;
    std::string out;
    bool gencert;
  };
  std::vector<Job> jobs;
  Status result;  // the first failure
  for (const Node& n : p.net.nodes) {
    if (!is_server(n)) continue;
    if (n.role == Role::authority) {
      std::error_code ec;
      fs::create_directories(n.data_dir + "/keys", ec);
      fs::permissions(n.data_dir + "/keys", fs::perms::owner_all, ec);
      std::string out = n.data_dir + "/gencert.out";
      // The identity key gets an empty passphrase, read from fd 0.
      auto child = start_child({gencert, "--create-identity-key", "--passphrase-fd", "0", "-i",
                                n.data_dir + "/keys/authority_identity_key", "-s",
                                n.data_dir + "/keys/authority_signing_key", "-c",
                                n.data_dir + "/keys/authority_certificate", "-m", "12", "-a",
                                n.address + ":" + std::to_string(n.dir_port)},
                               "\n", out);
      if (!child)
        result = child.error();
      else
        jobs.push_back({std::move(*child), &n, out, true});
    }
    std::string out = n.data_dir + "/fingerprint.out";
    // Also creates the relay's identity keys in its DataDirectory.
    auto child = start_child(
        {tor, "--ignore-missing-torrc", "-f", "/dev/null", "--defaults-torrc", "/dev/null",
         "--DataDirectory", n.data_dir, "--ORPort", "1", "--Nickname", n.name, "--GeoIPFile",
         "/dev/null", "--GeoIPv6File", "/dev/null", "--list-fingerprint", "--quiet"},
        "", out);
    if (!child)
      result = child.error();
    else
      jobs.push_back({std::move(*child), &n, out, false});
  }
  for (const Job& j : jobs) {
    const int ws = j.child->wait();
    if (result.ok() && ws != 0) {
      result = Error(Errc::io, std::string(j.gencert ? "tor-gencert" : "tor --list-fingerprint") +
                                   " failed for " + j.node->name + " (" + describe_wait_status(ws) +
                                   "): " + tail_lines(j.out, 1));
    }
    if (result.ok() && !j.gencert) {
      std::string fp = parse_fingerprint(read_file(j.out));
      if (fp.empty()) {
        result = Error(Errc::io, "no fingerprint for " + j.node->name + " in " + j.out);
      } else if (Status s = write_file(j.node->data_dir + "/fingerprint.rsa", fp + "\n"); !s) {
        result = s;
      }
    }
  }
  return result;
}

// ---- pids ----------------------------------------------------------------------

pid_t read_pid(const std::string& path) {
  std::string s = read_file(path);
  pid_t pid = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), pid);
  return r.ec == std::errc() && pid > 0 ? pid : 0;
}

// Tor writes its PidFile shortly after the RunAsDaemon parent returned (up to
// 1-2 s for authorities) and deletes it on a clean exit: copy it to
// testnet.pid, which only we remove.
bool record_pid(const Node& n) {
  if (node_pid(Network{}, n) > 0) return true;
  pid_t pid = read_pid(n.data_dir + "/pid");
  if (!pid_runs_with(pid, n.torrc)) return false;
  return bool(write_file(n.data_dir + "/testnet.pid", std::to_string(pid) + "\n"));
}

struct Victim {
  pid_t pid;
  std::string torrc;
};

std::vector<Victim> running_tors(const Network& net) {
  std::vector<Victim> out;
  std::set<pid_t> seen;
  for (const Node& n : net.nodes) {
    if (pid_t pid = node_pid(net, n); pid > 0 && seen.insert(pid).second)
      out.push_back({pid, n.torrc});
  }
  // Also a tor whose pid was never recorded (start interrupted before its
  // PidFile appeared): its command line names this network's torrc.
  for (const Node& n : net.nodes) {
    for (pid_t pid : find_processes([&](const std::string& a) { return a == n.torrc; })) {
      if (seen.insert(pid).second) out.push_back({pid, n.torrc});
    }
  }
  return out;
}

Expected<StopReport> stop_network(const Network& net, milliseconds grace) {
  auto t0 = Clock::now();
  StopReport rep;
  std::vector<Victim> victims = running_tors(net);
  for (const Victim& v : victims) ::kill(v.pid, SIGTERM);
  auto alive = [&] {
    std::vector<Victim> left;
    for (const Victim& v : victims)
      if (pid_runs_with(v.pid, v.torrc)) left.push_back(v);
    return left;
  };
  auto wait_gone = [&](Clock::time_point deadline) {
    std::vector<Victim> left = alive();
    while (!left.empty() && Clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(20));
      left = alive();
    }
    return left;
  };
  std::vector<Victim> left = wait_gone(t0 + grace);
  rep.stopped = int(victims.size() - left.size());
  for (const Victim& v : left) ::kill(v.pid, SIGKILL);
  rep.killed = int(left.size());
  left = wait_gone(Clock::now() + std::chrono::seconds(5));
  for (const Node& n : net.nodes) ::unlink((n.data_dir + "/testnet.pid").c_str());
  rep.took = duration_cast<milliseconds>(Clock::now() - t0);
  if (!left.empty())
    return Error(Errc::timeout, "pid " + std::to_string(left.front().pid) + " survived SIGKILL");
  return rep;
}

// ---- readiness -------------------------------------------------------------

int bootstrap_progress(const KeyValues& kv) {
  const std::string* phase = kv.find("status/bootstrap-phase");
  if (!phase) return 0;
  std::size_t at = phase->find("PROGRESS=");
  if (at == std::string::npos) return 0;
  return std::atoi(phase->c_str() + at + 9);
}

bool has_built_circuit(const KeyValues& kv) {
  if (const std::string* est = kv.find("status/circuit-established"); est && *est == "1")
    return true;
  const std::string* circs = kv.find("circuit-status");
  return circs && circs->find(" BUILT ") != std::string::npos;
}

// What a consensus (GETINFO ns/all) says about the network.
struct ConsensusView {
  std::size_t routers = 0;
  bool all_listed = false;
  bool exit_ok = false;  // every exit has Exit and Running
};

ConsensusView read_consensus(const Network& net, const std::string& ns) {
  ConsensusView v;
  std::set<std::string, std::less<>> names;
  RouterStatusReader reader(ns);
  const std::vector<const Node*> exits = net.with_role(Role::exit);
  std::size_t exits_ok = 0;
  for (RouterStatus rs; reader.next(rs);) {
    ++v.routers;
    names.emplace(rs.nickname());
    for (const Node* exit : exits)
      if (rs.nickname() == exit->name && fingerprint_hex(rs.identity) == exit->fingerprint &&
          rs.flags.has(RouterFlag::Exit) && rs.flags.has(RouterFlag::Running))
        ++exits_ok;
  }
  v.exit_ok = exits_ok == exits.size();
  v.all_listed = true;
  for (const Node& n : net.nodes)
    if (is_server(n) && !names.count(n.name)) v.all_listed = false;
  return v;
}

class Starter {
 public:
  explicit Starter(const Options& o) : o_(o), t0_(Clock::now()), deadline_(t0_ + o.timeout) {}
  Expected<Network> run();

 private:
  void log(const std::string& s) const {
    if (o_.log) o_.log(s);
  }
  // Stops what was launched (unless keep_on_failure) and returns the error.
  Error fail(Error why);
  Status check_alive() const;
  bool cancelled() const { return o_.cancel && o_.cancel->load(); }
  Status prepare();
  Status launch();
  Status wait_first_consensus();
  Status enable_network();
  Status wait_ready();

  const Options& o_;
  Clock::time_point t0_, deadline_;
  Plan plan_;
  std::string tor_;  // the tor binary's path
  bool launched_ = false;
  std::unique_ptr<Reactor> reactor_;
  std::vector<std::unique_ptr<SyncController>> ctl_;  // one per node
};

Error Starter::fail(Error why) {
  if (launched_ && !o_.keep_on_failure) {
    auto r = stop_network(plan_.net, milliseconds(5000));
    if (!r) why.message += "; stopping the network failed too: " + r.error().message;
  } else if (launched_) {
    why.message += " (network left running: torcon-testnet stop " + plan_.net.dir + ")";
  }
  return why;
}

Status Starter::check_alive() const {
  for (const Node& n : plan_.net.nodes) {
    if (node_pid(plan_.net, n) == 0) {
      std::string last = tail_lines(n.data_dir + "/notice.log", 1);
      return Error(Errc::io, n.name + " died" + (last.empty() ? "" : "; its log ends: " + last));
    }
  }
  return {};
}

Status Starter::prepare() {
  const Options& o = o_;
  if (o.dir.empty()) return Error(Errc::io, "no network directory given");
  if (o.authorities < 1 || o.authorities > 9) return Error(Errc::io, "authorities must be 1..9");
  if (o.relays < 0 || o.relays > 20) return Error(Errc::io, "relays must be 0..20");
  if (o.clients < 1 || o.clients > 20) return Error(Errc::io, "clients must be 1..20");
  if (o.exits.empty() || o.exits.size() > 10) return Error(Errc::io, "exits must be 1..10");
  for (std::size_t i = 0; i < o.exits.size(); ++i)
    if (!is_exit_policy_text(o.exits[i].policy))
      return Error(Errc::io, "exit " + std::to_string(i) + "'s policy \"" + o.exits[i].policy +
                                 "\" is not comma-separated accept/reject rules");
  if (o.distinct_addresses && o.authorities + o.relays + int(o.exits.size()) > 250)
    return Error(Errc::io, "too many relays for distinct addresses");
  if (o.base_port < 1024 || std::uint32_t(o.base_port) + port_count(o) > 65536)
    return Error(Errc::io, "base port must be 1024.." + std::to_string(65536 - port_count(o)));
  for (auto [given, into, option] : {std::tuple{&o.geoip_file, &plan_.geoip, "geoip_file"},
                                     std::tuple{&o.geoip6_file, &plan_.geoip6, "geoip6_file"}}) {
    if (given->empty()) continue;
    Expected<std::string> path = torrc_file_path(*given);
    if (!path) return Error(Errc::io, std::string(option) + ": " + path.error().message);
    *into = *path;
  }
  std::error_code ec;
  fs::create_directories(o.dir, ec);
  if (ec) return Error(Errc::io, "cannot create " + o.dir + ": " + ec.message());
  plan_.opt = &o;
  plan_.net = layout(o, absolute_dir(o.dir));
  Network& net = plan_.net;

  // Never start over a network that still runs here (its ports may differ).
  if (Expected<Network> old = load(net.dir)) {
    for (const Node& n : old->nodes)
      if (node_pid(*old, n) > 0)
        return Error(Errc::io, n.name + " is already running in " + net.dir +
                                   " (run: torcon-testnet stop " + net.dir + ")");
  }
  if (std::vector<pid_t> strays = processes_of(net.dir); !strays.empty())
    return Error(Errc::io, "a tor of " + net.dir + " still runs (pid " +
                               std::to_string(strays.front()) + ")");
  if (Status s = check_ports_free(o.base_port, port_count(o)); !s)
    return Error(Errc::io, s.error().message + " (choose another base port)");
  for (const Node& n : net.nodes) {
    if (n.address == "127.0.0.1") continue;  // checked above
    for (std::uint16_t port : {n.or_port, n.dir_port}) {
      if (port == 0) continue;
      if (Status s = check_port_free(n.address, port); !s)
        return Error(Errc::io, s.error().message + " (choose another base port)");
    }
  }

  Expected<std::string> tor = find_executable(o.tor), gencert = find_executable(o.tor_gencert);
  if (!tor) return Error(Errc::io, "tor not found: " + tor.error().message);
  if (!gencert) return Error(Errc::io, "tor-gencert not found: " + gencert.error().message);
  tor_ = *tor;

  bool reuse = keys_reusable(o, net);
  for (const Node& n : net.nodes) {
    if (reuse && fs::is_directory(n.data_dir)) {
      // Keep the keys, drop all other state of the last run.
      for (const auto& e : fs::directory_iterator(n.data_dir, ec)) {
        std::string name = e.path().filename().string();
        if (name != "keys" && name != "fingerprint.rsa") fs::remove_all(e.path(), ec);
      }
    } else {
      fs::remove_all(n.data_dir, ec);
      fs::create_directory(n.data_dir, ec);
      if (ec) return Error(Errc::io, "cannot create " + n.data_dir + ": " + ec.message());
    }
    // tor refuses a DataDirectory others may read.
    fs::permissions(n.data_dir, fs::perms::owner_all, ec);
  }
  for (const char* f : {"/keys.conf", "/testnet.env", "/testnet.state", "/ready_ms"})
    ::unlink((net.dir + f).c_str());
  if (!reuse) {
    if (Status s = generate_keys(plan_, *tor, *gencert); !s) return s;
  }
  if (Status s = write_file(net.dir + "/keys.conf", keys_signature(o)); !s) return s;
  log(std::string("keys ") + (reuse ? "reused" : "generated") + " in " +
      std::to_string(ms_since(t0_)) + " ms");

  for (Node& n : net.nodes) {
    if (!is_server(n)) continue;
    std::string fp = read_file(n.data_dir + "/fingerprint.rsa");
    while (!fp.empty() && fp.back() == '\n') fp.pop_back();
    if (!is_hex_identity(fp)) return Error(Errc::io, "bad fingerprint file for " + n.name);
    n.fingerprint = fp;
  }
  for (const Node* n : net.with_role(Role::exit))
    plan_.exit_fps += (plan_.exit_fps.empty() ? "$" : ",$") + n->fingerprint;
  for (const Node& n : net.nodes) {
    if (n.role != Role::authority) continue;
    std::string v3 = v3_identity(n.data_dir + "/keys/authority_certificate");
    if (!is_hex_identity(v3))
      return Error(Errc::io, "no v3 identity in " + n.name + "'s certificate");
    plan_.dir_authorities += "DirAuthority " + n.name + " orport=" + std::to_string(n.or_port) +
                             " no-v2 v3ident=" + v3 + " " + n.address + ":" +
                             std::to_string(n.dir_port) + " " + n.fingerprint + "\n";
  }

  std::int64_t first_va = (wall_ms() + kVoteLeadMs + 999) / 1000;
  plan_.vote_offset = first_va % kVoteInterval;
  for (const Node& n : net.nodes) {
    if (Status s = write_file(n.torrc, torrc_for(plan_, n, true)); !s) return s;
  }
  if (Status s = write_file(net.dir + "/dirauthorities.inc", plan_.dir_authorities); !s) return s;
  if (Status s = write_file(net.client_torrc_include(), client_include(plan_)); !s) return s;
  if (Status s = write_file(state_path(net.dir), format_state(net)); !s) return s;
  if (Status s = write_file(net.dir + "/testnet.env", net.env()); !s) return s;
  return {};
}

// What tor said when it refused to start: its last warning (the cause; the
// final [err] line is usually only "see warnings above") and its last line.
std::string launch_failure(const std::string& path) {
  std::istringstream in(read_file(path));
  std::string last, last_warn;
  for (std::string line; std::getline(in, line);) {
    if (std::size_t b = line.find(" ["); b != std::string::npos) line.erase(0, b + 1);
    if (line.empty()) continue;
    if (line.rfind("[warn]", 0) == 0) last_warn = line;
    last = line;
  }
  if (last_warn.empty() || last_warn == last) return last;
  return last_warn + " / " + last;
}

Status Starter::launch() {
  std::vector<std::pair<std::unique_ptr<ChildProcess>, const Node*>> parents;
  launched_ = true;  // from here on, failures stop what runs
  for (const Node& n : plan_.net.nodes) {
    auto child = start_child({tor_, "-f", n.torrc, "--defaults-torrc", "/dev/null", "--hush"}, "",
                             n.data_dir + "/launch.out");
    if (!child) return child.error();
    parents.emplace_back(std::move(*child), &n);
  }
  // Each parent exits once its daemon is up (0) or the config failed.
  Status result;  // the first failure
  for (auto& [child, n] : parents) {
    const int ws = child->wait();
    if (ws != 0 && result.ok()) {
      std::string why = launch_failure(n->data_dir + "/launch.out");
      if (why.empty()) why = tail_lines(n->data_dir + "/notice.log", 1);
      result = Error(Errc::io, "tor for " + n->name + " failed to start (" +
                                   describe_wait_status(ws) + "): " + why);
    }
  }
  if (!result) return result;
  auto pid_deadline = Clock::now() + std::chrono::seconds(20);
  while (true) {
    std::string missing;
    for (const Node& n : plan_.net.nodes)
      if (!record_pid(n)) missing += (missing.empty() ? "" : " ") + n.name;
    if (missing.empty()) break;
    if (Clock::now() > pid_deadline) return Error(Errc::io, "no pid file from: " + missing);
    if (cancelled()) return Error(Errc::io, "cancelled");
    std::this_thread::sleep_for(milliseconds(20));
  }
  log("launched " + std::to_string(plan_.net.nodes.size()) + " tors at +" +
      std::to_string(ms_since(t0_)) + " ms");
  return {};
}

Status Starter::wait_first_consensus() {
  // An authority writes cached-consensus once the first vote is through.
  auto give_up = t0_ + milliseconds(kVoteLeadMs + 3000LL * kVoteInterval);
  while (true) {
    bool all = true;
    for (const Node& n : plan_.net.nodes)
      if (n.role == Role::authority && !file_nonempty(n.data_dir + "/cached-consensus"))
        all = false;
    if (all) break;
    if (Status s = check_alive(); !s) return s;
    if (cancelled()) return Error(Errc::io, "cancelled");
    if (Clock::now() > deadline_) return Error(Errc::timeout, "timeout before the first consensus");
    if (Clock::now() > give_up) {
      log("first consensus is late; going on");
      break;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  log("first consensus at +" + std::to_string(ms_since(t0_)) + " ms");
  return {};
}

Status Starter::enable_network() {
  for (std::size_t i = 0; i < plan_.net.nodes.size(); ++i) {
    const Node& n = plan_.net.nodes[i];
    if (n.role == Role::relay || n.role == Role::exit) {
      // SIGHUP resets the relay's directory download back-off: it fetches
      // the consensus now instead of up to 10 s later.
      if (Status s = ctl_[i]->signal("RELOAD", kCommandTimeout); !s)
        log("SIGNAL RELOAD to " + n.name + " failed: " + s.error().message);
    } else if (n.role == Role::client) {
      // A later SIGHUP must not turn the network off again.
      if (Status s = write_file(n.torrc, torrc_for(plan_, n, false)); !s) return s;
      // Safety: only ever enable the network of a tor that knows nothing but
      // our loopback authorities.
      auto auths = ctl_[i]->getconf("DirAuthority", kCommandTimeout);
      if (!auths)
        return Error(Errc::io, n.name + ": GETCONF DirAuthority: " + auths.error().message);
      int ours = 0;
      for (const auto& e : auths->entries) {
        if (e.value.find(" 127.") == std::string::npos)
          return Error(Errc::io, n.name + " has a non-loopback DirAuthority: " + e.value);
        ++ours;
      }
      if (ours != o_.authorities)
        return Error(Errc::io, n.name + " does not have exactly our DirAuthority lines");
      if (Status s = ctl_[i]->setconf("DisableNetwork", "0", kCommandTimeout); !s)
        return Error(Errc::io, n.name + ": SETCONF DisableNetwork=0: " + s.error().message);
    }
  }
  return {};
}

Status Starter::wait_ready() {
  const Network& net = plan_.net;
  std::vector<bool> server_ok(net.nodes.size(), false);
  int last_progress = -1;
  std::string why = "nothing checked yet";
  while (true) {
    bool ready = true;
    for (std::size_t i = 0; i < net.nodes.size(); ++i) {
      const Node& n = net.nodes[i];
      if (is_server(n)) {
        if (server_ok[i]) continue;
        auto kv = ctl_[i]->getinfo({"ns/all"}, kCommandTimeout);
        const std::string* ns = kv ? kv->find("ns/all") : nullptr;
        server_ok[i] = ns && read_consensus(net, *ns).routers >= net.nodes.size() - o_.clients;
        if (!server_ok[i]) {
          ready = false;
          why = n.name + " has no full consensus";
        }
        continue;
      }
      bool first = &n == &net.client();
      std::vector<std::string_view> keys = {"status/bootstrap-phase", "status/circuit-established",
                                            "circuit-status"};
      if (first) keys.push_back("ns/all");
      auto kv = ctl_[i]->getinfo(keys, kCommandTimeout);
      if (!kv) {
        ready = false;
        why = n.name + ": " + kv.error().message;
        continue;
      }
      int progress = bootstrap_progress(*kv);
      if (first && progress != last_progress) {
        log(n.name + " bootstrapped " + std::to_string(progress) + "% at +" +
            std::to_string(ms_since(t0_)) + " ms");
        last_progress = progress;
      }
      if (progress != 100) {
        ready = false;
        why = n.name + " is bootstrapped " + std::to_string(progress) + "%";
      } else if (!has_built_circuit(*kv)) {
        ready = false;
        why = n.name + " has no built circuit";
      } else if (first) {
        const std::string* ns = kv->find("ns/all");
        ConsensusView v = read_consensus(net, ns ? *ns : std::string());
        if (!v.all_listed) {
          ready = false;
          why = n.name + "'s consensus lacks relays";
        } else if (!v.exit_ok) {
          ready = false;
          why = n.name + "'s consensus lacks Exit+Running on an exit";
        }
      }
    }
    if (ready) return {};
    if (Status s = check_alive(); !s) return s;
    if (cancelled()) return Error(Errc::io, "cancelled");
    if (Clock::now() > deadline_)
      return Error(Errc::timeout,
                   "not ready after " + std::to_string(o_.timeout.count()) + " s: " + why);
    run_until(*reactor_, Clock::now() + kPoll, [] { return false; });
  }
}

Expected<Network> Starter::run() {
  if (Status s = prepare(); !s) return fail(s.error());
  if (Status s = launch(); !s) return fail(s.error());
  auto r = Reactor::create();
  if (!r) return fail(Error(Errc::io, "reactor: " + r.error().message));
  reactor_ = std::move(*r);
  for (const Node& n : plan_.net.nodes)
    ctl_.push_back(std::make_unique<SyncController>(*reactor_, n.control(), n.cookie_file));
  if (Status s = wait_first_consensus(); !s) return fail(s.error());
  if (Status s = enable_network(); !s) return fail(s.error());
  if (Status s = wait_ready(); !s) return fail(s.error());
  ctl_.clear();
  plan_.net.ready_after = duration_cast<milliseconds>(Clock::now() - t0_);
  (void)write_file(plan_.net.dir + "/ready_ms",
                   std::to_string(plan_.net.ready_after.count()) + "\n");
  log("ready after " + std::to_string(plan_.net.ready_after.count()) + " ms");
  return plan_.net;
}

}  // namespace

// ---- public API --------------------------------------------------------------

const char* to_string(Role r) noexcept {
  switch (r) {
    case Role::authority: return "authority";
    case Role::relay: return "relay";
    case Role::exit: return "exit";
    case Role::client: return "client";
  }
  return "?";
}

std::uint16_t port_count(const Options& o) noexcept {
  return std::uint16_t(3 * std::max(o.authorities, 0) + 2 * std::max(o.relays, 0) +
                       2 * int(o.exits.size()) + 2 * std::max(o.clients, 0));
}

Status check_ports_free(std::uint16_t first, std::uint16_t count) {
  for (std::uint32_t port = first; port < std::uint32_t(first) + count; ++port) {
    if (port > 65535) return Error(Errc::io, "port range ends above 65535");
    if (Status s = check_port_free("127.0.0.1", std::uint16_t(port)); !s) return s;
  }
  return {};
}

Expected<std::uint16_t> find_free_base_port(std::uint16_t hint, const Options& options, int tries) {
  std::uint32_t step = (port_count(options) + 31u) / 32u * 32u;
  std::uint32_t base = std::max<std::uint32_t>(hint, 1024);
  for (int i = 0; i < tries && base + port_count(options) <= 65536; ++i, base += step) {
    if (check_ports_free(std::uint16_t(base), port_count(options))) return std::uint16_t(base);
  }
  return Error(Errc::io, "no free port range at or after " + std::to_string(hint));
}

const Node* Network::find(std::string_view name) const {
  for (const Node& n : nodes)
    if (n.name == name) return &n;
  return nullptr;
}

std::vector<const Node*> Network::with_role(Role r) const {
  std::vector<const Node*> out;
  for (const Node& n : nodes)
    if (n.role == r) out.push_back(&n);
  return out;
}

const Node& Network::client(std::size_t i) const { return *with_role(Role::client).at(i); }
const Node& Network::exit() const { return *with_role(Role::exit).at(0); }

std::string Network::env() const {
  std::ostringstream e;
  auto var = [&](const std::string& k, std::string_view v) {
    e << k << '=' << shell_quote(v) << "\n";
  };
  const Node& c = client();
  std::string names;
  for (const Node& n : nodes) names += (names.empty() ? "" : " ") + n.name;
  var("TESTNET_DIR", dir);
  var("TESTNET_BASE_PORT", std::to_string(base_port));
  var("TESTNET_NODES", names);
  var("CONTROL_HOST", "127.0.0.1");
  var("CONTROL_PORT", std::to_string(c.control_port));
  var("SOCKS_HOST", "127.0.0.1");
  var("SOCKS_PORT", std::to_string(c.socks_port));
  var("COOKIE_FILE", c.cookie_file);
  var("CLIENT_DATA_DIR", c.data_dir);
  var("CLIENT_TORRC", c.torrc);
  var("EXIT_FINGERPRINT", exit().fingerprint);
  var("CLIENT_TORRC_INCLUDE", client_torrc_include());
  for (const Node& n : nodes) {
    std::string p = upper(n.name) + "_";
    var(p + "CONTROL_PORT", std::to_string(n.control_port));
    var(p + "COOKIE_FILE", n.cookie_file);
    var(p + "DATA_DIR", n.data_dir);
    if (!n.fingerprint.empty()) var(p + "FINGERPRINT", n.fingerprint);
    if (n.or_port) var(p + "OR_PORT", std::to_string(n.or_port));
    if (n.dir_port) var(p + "DIR_PORT", std::to_string(n.dir_port));
    if (n.role != Role::client) var(p + "ADDRESS", n.address);
    if (n.socks_port) var(p + "SOCKS_PORT", std::to_string(n.socks_port));
  }
  return e.str();
}

Expected<Network> start(const Options& options) { return Starter(options).run(); }

Expected<Network> load(std::string_view dir_in) {
  std::string dir = absolute_dir(dir_in);
  std::string text = read_file(state_path(dir));
  if (text.empty()) return Error(Errc::io, "no testnet in " + dir + " (no testnet.state)");
  Network net;
  net.dir = dir;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    std::string kw;
    ls >> kw;
    if (kw == "base_port") {
      ls >> net.base_port;
    } else if (kw == "node") {
      Node n;
      std::string role, fp, address;
      ls >> n.name >> role >> n.control_port >> n.or_port >> n.dir_port >> n.socks_port >> fp;
      const bool read = bool(ls);
      // The address came later: state files without it are on 127.0.0.1.
      if (read && (ls >> address) && address.starts_with("127.")) n.address = address;
      if (!read || !parse_role(role, n.role) || n.name.empty() ||
          n.name.find('/') != std::string::npos)
        return Error(Errc::io, "bad line in " + state_path(dir) + ": " + line);
      n.data_dir = dir + "/" + n.name;
      n.torrc = n.data_dir + "/torrc";
      n.cookie_file = n.data_dir + "/control_auth_cookie";
      if (fp != "-") n.fingerprint = fp;
      net.nodes.push_back(std::move(n));
    }
  }
  if (net.with_role(Role::client).empty() || net.with_role(Role::exit).empty())
    return Error(Errc::io, "incomplete " + state_path(dir));
  return net;
}

pid_t node_pid(const Network&, const Node& node) {
  for (const char* f : {"/testnet.pid", "/pid"}) {
    pid_t pid = read_pid(node.data_dir + f);
    if (pid_runs_with(pid, node.torrc)) return pid;
  }
  return 0;
}

Expected<StatusReport> status(std::string_view dir) {
  Expected<Network> net = load(dir);
  if (!net) return net.error();
  StatusReport rep;
  for (const Node& n : net->nodes) rep.nodes.push_back({n.name, node_pid(*net, n)});
  const Node& c = net->client();
  if (node_pid(*net, c) > 0) {
    auto reactor = Reactor::create();
    if (!reactor) return reactor.error();
    SyncController ctl(**reactor, c.control(), c.cookie_file);
    auto kv =
        ctl.getinfo({"status/bootstrap-phase", "status/circuit-established", "circuit-status"},
                    milliseconds(3000));
    if (kv) {
      rep.client_bootstrap = bootstrap_progress(*kv);
      rep.client_circuit = has_built_circuit(*kv);
    }
  }
  return rep;
}

Expected<StopReport> stop(std::string_view dir, milliseconds grace) {
  Expected<Network> net = load(dir);
  if (!net) return net.error();
  return stop_network(*net, grace);
}

std::vector<pid_t> processes_of(std::string_view dir_in) {
  std::string dir = absolute_dir(dir_in);
  if (Expected<Network> net = load(dir)) {
    std::set<std::string, std::less<>> torrcs;
    for (const Node& n : net->nodes) torrcs.insert(n.torrc);
    return find_processes([&](const std::string& a) { return torrcs.count(a) > 0; });
  }
  // No state file: any DIR/<node>/torrc.
  std::string prefix = dir + "/";
  return find_processes([&](const std::string& a) {
    return a.size() > prefix.size() + 6 && a.compare(0, prefix.size(), prefix) == 0 &&
           a.compare(a.size() - 6, 6, "/torrc") == 0 && a.find('/', prefix.size()) == a.size() - 6;
  });
}

}  // namespace torcon::testnet
