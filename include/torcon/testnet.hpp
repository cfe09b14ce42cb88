// A private Tor network on 127.0.0.1 (what Tor's "chutney" does), for
// integration tests that need circuits, streams and onion services on a
// machine without internet. A testing component: link the CMake target
// torcon::testnet; the `torcon` library that applications link leaves it out.
//
//   torcon::testnet::Options opt;
//   opt.dir = "/tmp/net";                       // created if missing
//   torcon::Expected<torcon::testnet::Network> net = torcon::testnet::start(opt);
//   if (!net) die(net.error().message);
//   const torcon::testnet::Node& c = net->client();
//   // SOCKS on 127.0.0.1:c.socks_port, control on c.control() with c.cookie_file
//   torcon::testnet::stop(opt.dir);
//
// start() generates keys (tor-gencert for the authorities' v3 identities,
// `tor --list-fingerprint` for every relay) and torrcs, launches
// `authorities` directory authorities, `relays` middle relays, the exits
// (by default one, whose policy accepts 127.0.0.0/8 only) and `clients`
// clients, all bound to 127.0.0.1 only (or, with distinct_addresses, each
// relay on its own loopback address), with TestingTorNetwork 1 and a 10 s voting interval whose
// start offset is chosen so that the first consensus appears ~8 s after
// launch. It returns once every client is bootstrapped 100% and has a built
// circuit, the first client's consensus lists every relay with Exit+Running
// on every exit, and every relay and authority holds a consensus: about 12 s.
//
// The tors run as daemons (RunAsDaemon 1) and outlive the process that
// started them; their pids are kept in DIR/<node>/testnet.pid. stop() kills
// exactly those processes (after checking that /proc/PID/cmdline still names
// that node's torrc) and any other tor whose command line names one of this
// network's torrcs, and waits until they are gone.
//
// Layout: DIR/<node>/ is each node's DataDirectory with its torrc,
// notice.log, control_auth_cookie and testnet.pid. DIR/testnet.state is what
// load() reads, DIR/testnet.env what Network::env() prints, and
// DIR/client.torrc.inc a torrc snippet with which any other tor joins the
// network as a client (%include it, add DataDirectory/SocksPort/ControlPort).
//
// Threading: these functions block. Each runs its own Reactor for the
// control connections it needs; call them from any one thread at a time per
// network directory. Nothing throws; failures are Error values whose message
// is one line.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/expected.hpp"
#include "torcon/export.hpp"
#include "torcon/socket.hpp"

namespace torcon::testnet {

enum class Role : std::uint8_t { authority, relay, exit, client };
TORCON_API const char* to_string(Role r) noexcept;

/// One tor of the network. Ports are 0 where the node has none.
struct TORCON_API Node {
  std::string name;          ///< auth0.., relay0.., exit0.., client0..
  Role role = Role::client;  ///< what the node is in the network
  /// Where its ORPort and DirPort listen and what it advertises: 127.0.0.1,
  /// or its own 127.0.0.N with Options::distinct_addresses. Control and SOCKS
  /// ports are always on 127.0.0.1.
  std::string address = "127.0.0.1";
  std::string data_dir;            ///< absolute path, DIR/\<name\>
  std::string torrc;               ///< DIR/\<name\>/torrc
  std::string cookie_file;         ///< DIR/\<name\>/control_auth_cookie
  std::uint16_t control_port = 0;  ///< every node
  std::uint16_t or_port = 0;       ///< authorities, relays, exits
  std::uint16_t dir_port = 0;      ///< authorities
  std::uint16_t socks_port = 0;    ///< clients
  std::string fingerprint;         ///< RSA identity, 40 upper-case hex; "" for clients

  /// The control port's endpoint on 127.0.0.1.
  Endpoint control() const { return Endpoint::tcp("127.0.0.1", control_port); }
  /// The SocksPort's endpoint on 127.0.0.1 (clients).
  Endpoint socks() const { return Endpoint::tcp("127.0.0.1", socks_port); }
};

/// One exit relay.
struct TORCON_API ExitOptions {
  /// Its torrc ExitPolicy: comma-separated rules such as "accept *:*" or
  /// "reject *:8080,accept *:*". Empty: "accept 127.0.0.0/8:*,reject *:*",
  /// which the consensus summarises as "reject 1-65535" (a summary covers
  /// only rules for all addresses), so clients need full descriptors
  /// (UseMicrodescriptors 0, which every node here has). With a policy of its
  /// own, the exit also gets OutboundBindAddressExit (its loopback address):
  /// tor binds that only for destinations off loopback, and a loopback
  /// source cannot reach them, so nothing leaves the machine whatever the
  /// policy says. Rules may use letters, digits and . : / * - [ ] , and
  /// single spaces.
  std::string policy;
};

/// What start() builds.
struct TORCON_API Options {
  std::string dir;  ///< network directory; made absolute
  /// Ports base_port .. base_port + port_count(*this) - 1 on 127.0.0.1, handed
  /// out in node order (authority: OR, Dir, Control; relay/exit: OR, Control;
  /// client: Socks, Control). start() refuses if any of them is taken.
  std::uint16_t base_port = 15000;
  int authorities = 3;  ///< 1..9
  int relays = 2;       ///< middle relays, 0..20 (the exits come on top)
  int clients = 1;      ///< 1..20
  /// exit0, exit1, ... (1..10), each with its own policy.
  std::vector<ExitOptions> exits = {ExitOptions{}};
  /// Every authority, relay and exit on its own loopback address, 127.0.0.2,
  /// 127.0.0.3, ... in node order, so that relays can be told apart by
  /// address (Linux routes all of 127.0.0.0/8 to the loopback interface).
  bool distinct_addresses = false;
  std::chrono::seconds timeout{120};        ///< whole start(), keys included
  std::string tor = "tor";                  ///< binaries: a path, or a name looked up in PATH
  std::string tor_gencert = "tor-gencert";  ///< the same, for tor-gencert
  std::vector<std::string> extra_torrc;     ///< lines appended to every torrc
  /// tor's IPv4 geoip file for every tor of the network (GeoIPFile), so that
  /// `GETINFO ip-to-country/...` and tor's country statistics answer (e.g.
  /// for the nodes' loopback addresses). Empty (the default): /dev/null,
  /// which spares each tor 0.2-0.8 s of CPU and 35 MB for Debian's files.
  /// A file given must exist (start() fails otherwise); it is made absolute
  /// and may not hold control characters, '#', '"' or '\\'.
  std::string geoip_file;
  /// The same for tor's IPv6 geoip6 file (GeoIPv6File).
  std::string geoip6_file;
  /// A second start() on the same dir, base port and topology keeps the
  /// node keys (saves ~2 s) and wipes all other state.
  bool reuse_keys = true;
  /// On failure, leave the tors running for inspection instead of stopping them.
  bool keep_on_failure = false;
  /// Non-zero: every tor gets __OwningControllerProcess owner_pid and exits
  /// (within ~15 s) once that process is gone, so a crashed test binary
  /// leaves nothing behind. 0 (the CLI): the tors run until stop().
  pid_t owner_pid = 0;
  /// Progress lines ("keys generated in 1900 ms", ...), without newline.
  std::function<void(std::string_view)> log;
  /// Polled while waiting: when it becomes true, start() stops the network
  /// and fails with "cancelled" (for Ctrl-C).
  const std::atomic<bool>* cancel = nullptr;
};

/// How many ports from base_port the network uses.
TORCON_API std::uint16_t port_count(const Options& options) noexcept;

/// Ok if every port in [first, first + count) can be bound on 127.0.0.1 (as
/// tor binds, with SO_REUSEADDR); else an error naming the first busy one.
TORCON_API Status check_ports_free(std::uint16_t first, std::uint16_t count);

/// The first base port at or after `hint`, in steps of port_count(options)
/// rounded up to 32, whose whole range is free; at most `tries` ranges are
/// looked at and none above 65535.
TORCON_API Expected<std::uint16_t> find_free_base_port(std::uint16_t hint, const Options& options,
                                                       int tries = 50);

/// A network start() built (or load() read back).
struct TORCON_API Network {
  std::string dir;              ///< the network directory (absolute)
  std::uint16_t base_port = 0;  ///< its first port
  std::vector<Node> nodes;      ///< authorities, relays, exits, clients, in that order
  /// start() only: how long it took until the network was ready.
  std::chrono::milliseconds ready_after{0};

  /// The node named `name`, or null.
  const Node* find(std::string_view name) const;
  /// The nodes with role `r`, in order.
  std::vector<const Node*> with_role(Role r) const;
  const Node& client(std::size_t i = 0) const;  ///< i < number of clients
  /// The first exit relay, exit0.
  const Node& exit() const;
  /// DIR/client.torrc.inc (see above).
  std::string client_torrc_include() const { return dir + "/client.torrc.inc"; }
  /// Shell assignments for `eval`: TESTNET_DIR, TESTNET_BASE_PORT,
  /// TESTNET_NODES, CONTROL_HOST, CONTROL_PORT, SOCKS_HOST, SOCKS_PORT,
  /// COOKIE_FILE, CLIENT_DATA_DIR, CLIENT_TORRC (first client),
  /// EXIT_FINGERPRINT, CLIENT_TORRC_INCLUDE, and per node \<NODE\>_CONTROL_PORT,
  /// \<NODE\>_COOKIE_FILE, \<NODE\>_DATA_DIR, \<NODE\>_FINGERPRINT, \<NODE\>_OR_PORT,
  /// \<NODE\>_DIR_PORT, \<NODE\>_SOCKS_PORT where it has them, and
  /// \<NODE\>_ADDRESS for relays.
  std::string env() const;
};

/// Builds the network described by `options` in options.dir and waits until
/// it is usable (see the top of this file). Fails, after stopping whatever it
/// launched (unless keep_on_failure), if a port is taken, a node of this
/// directory is already running, a key or tor fails to start, a node dies,
/// options.timeout passes or options.cancel is set.
TORCON_API Expected<Network> start(const Options& options);

/// The network recorded in dir by start() (whether or not it runs).
TORCON_API Expected<Network> load(std::string_view dir);

/// The pid of node's tor if it is running (its command line still names the
/// node's torrc), else 0.
TORCON_API pid_t node_pid(const Network& net, const Node& node);

/// One node in status()'s report.
struct TORCON_API NodeState {
  std::string name;  ///< the node's name
  pid_t pid = 0;     ///< 0: not running
};
/// What status() found.
struct TORCON_API StatusReport {
  std::vector<NodeState> nodes;  ///< every node, in order
  int client_bootstrap = -1;     ///< first client's PROGRESS=, -1 if unreachable
  bool client_circuit = false;   ///< first client has a built circuit
};
/// Which nodes of the network in `dir` run, and the first client's bootstrap.
TORCON_API Expected<StatusReport> status(std::string_view dir);

/// What stop() did.
struct TORCON_API StopReport {
  int stopped = 0;                    ///< processes that exited after SIGTERM
  int killed = 0;                     ///< processes that needed SIGKILL
  std::chrono::milliseconds took{0};  ///< how long stopping took
};
/// SIGTERM to every running node, SIGKILL after `grace`, and returns when
/// none is left (Errc::timeout if one survives SIGKILL for 5 s). A stopped
/// network is not an error.
TORCON_API Expected<StopReport> stop(std::string_view dir,
                                     std::chrono::milliseconds grace = std::chrono::seconds(10));

/// Live (non-zombie) processes whose command line names a torrc in one of
/// dir's node directories: empty after stop().
TORCON_API std::vector<pid_t> processes_of(std::string_view dir);

}  // namespace torcon::testnet
