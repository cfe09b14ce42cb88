#include "gen/network_status.hpp"

#include <algorithm>
#include <vector>

#include "gen/random.hpp"

namespace torcon::gen {
namespace {

constexpr std::array<std::string_view, 13> kFlagNames = {
    "Authority",     "BadExit", "Exit",   "Fast",      "Guard", "HSDir", "MiddleOnly",
    "NoEdConsensus", "Running", "Stable", "StaleDesc", "V2Dir", "Valid"};

// The microdescriptor consensus has not carried publication times since
// consensus method 32, and tor 0.4.8+ keeps none per router: this fixed value
// stands in everywhere, the control port included.
constexpr std::string_view kNoPublicationTime = "2038-01-01 00:00:00";

constexpr std::string_view kProto048 =
    "Conflux=1 Cons=1-2 Desc=1-2 DirCache=2 FlowCtrl=1-2 HSDir=2 HSIntro=4-5 HSRend=1-2 "
    "Link=1-5 LinkAuth=1,3 Microdesc=1-2 Padding=2 Relay=1-4";
constexpr std::string_view kProto049 =
    "Conflux=1 Cons=1-2 Desc=1-4 DirCache=2 FlowCtrl=1-2 HSDir=2 HSIntro=4-5 HSRend=1-2 "
    "Link=3-5 LinkAuth=3 Microdesc=1-3 Padding=2 Relay=2-6";

struct VersionShare {
  std::string_view version;  // as the "v" line has it
  std::uint16_t weight;
  std::string_view proto;
};
// Mostly the newest releases of the two supported series, a tail of older
// ones and a few relays on development builds.
constexpr std::array<VersionShare, 14> kVersions = {{
    {"Tor 0.4.8.21", 160, kProto048},
    {"Tor 0.4.8.20", 140, kProto048},
    {"Tor 0.4.8.19", 60, kProto048},
    {"Tor 0.4.8.18", 45, kProto048},
    {"Tor 0.4.8.17", 80, kProto048},
    {"Tor 0.4.8.16", 30, kProto048},
    {"Tor 0.4.8.14", 20, kProto048},
    {"Tor 0.4.8.12", 15, kProto048},
    {"Tor 0.4.9.11", 170, kProto049},
    {"Tor 0.4.9.10", 120, kProto049},
    {"Tor 0.4.9.8", 60, kProto049},
    {"Tor 0.4.9.6", 40, kProto049},
    {"Tor 0.4.9.3-alpha", 10, kProto049},
    {"Tor 0.5.0.0-alpha-dev", 15, kProto049},
}};
constexpr std::array<std::uint16_t, kVersions.size()> kVersionWeights = [] {
  std::array<std::uint16_t, kVersions.size()> w{};
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = kVersions[i].weight;
  return w;
}();

// Exit policy summaries ("p" lines). Exits mostly run the reduced or the
// default policy.
constexpr std::string_view kRejectAll = "reject 1-65535";
constexpr std::array<std::string_view, 7> kExitPolicies = {
    "accept 20-23,43,53,79-81,88,110,143,194,220,389,443,464-465,531,543-544,554,563,587,636,"
    "706,749,853,873,902-904,981,989-995,1194,1220,1293,1500,1533,1677,1723,1755,1863,2082-2083,"
    "2086-2087,2095-2096,2102-2104,3128,3389,3690,4321,4643,5050,5190,5222-5223,5228,5900,"
    "6660-6669,6679,6697,8000,8008,8074,8080,8082,8087-8088,8232-8233,8332-8333,8443,8888,9418,"
    "9999-10000,11371,19294,19638,50002,64738",
    "reject 25,119,135-139,445,563,1214,4661-4666,6346-6429,6699,6881-6999",
    "accept 80,443",
    "accept 1-65535",
    "accept 43,53,80,110,143,443,993,995",
    "reject 22,25,119,135-139,445,465,563,587,1214,4661-4666,6346-6429,6699,6881-6999",
    "accept 53,80,443,853,5222-5223,6667,8080,8443",
};
constexpr std::array<std::uint16_t, kExitPolicies.size()> kExitPolicyWeights = {35, 30, 10, 5,
                                                                                8,  7,  5};
// Relays that allow a port or two but too little for the Exit flag.
constexpr std::array<std::string_view, 2> kNarrowPolicies = {"accept 53", "accept 443"};

// IPv6 prefixes of big hosting providers, plus the documentation prefix.
constexpr std::array<std::string_view, 14> kIpv6Prefixes = {
    "2a01:4f8",  "2001:41d0", "2a03:4000", "2604:a880", "2a0b:f4c0", "2001:bc8", "2607:5300",
    "2a02:c207", "2a12:a800", "2001:db8",  "2a06:1700", "2a05:d014", "2001:67c", "2602:fc05"};

constexpr std::array<std::string_view, 72> kNameParts = {
    "Tor",    "Relay",  "Onion",  "Node",    "Exit",   "Privacy", "Freedom", "Libre",  "Anon",
    "Quiet",  "Silent", "Night",  "Owl",     "Fox",    "Raven",   "Nord",    "Sud",    "Home",
    "Cloud",  "Server", "Box",    "Pi",      "Pony",   "Kitten",  "Dragon",  "Tiger",  "Bear",
    "Nova",   "Zeta",   "Alpha",  "Delta",   "Sigma",  "Echo",    "Relais",  "Knoten", "Tunnel",
    "Bridge", "Mirror", "Gate",   "Path",    "Way",    "Hop",     "Wire",    "Byte",   "Bit",
    "Packet", "Mesh",   "Shadow", "Ghost",   "Ninja",  "Spark",   "Storm",   "River",  "Forest",
    "Stone",  "Iron",   "Blue",   "Red",     "Green",  "Black",   "White",   "Grey",   "Lucky",
    "Happy",  "Secure", "Open",   "Digital", "Garden", "Lantern", "Harbor",  "Comet",  "Maple"};

std::string make_nickname(Rng& r) {
  if (r.percent(2)) return "Unnamed";
  std::string nick;
  const unsigned parts = r.percent(70) ? 2 : (r.percent(50) ? 1 : 3);
  const bool lower = r.percent(25);
  for (unsigned i = 0; i < parts; ++i) {
    const std::string_view part = r.pick(kNameParts);
    for (const char c : part) nick.push_back(lower ? static_cast<char>(c | 0x20) : c);
  }
  if (r.percent(40)) put_uint(nick, r.below(r.percent(50) ? 10 : 1000));
  if (nick.size() > 19) nick.resize(19);
  return nick;
}

std::uint16_t random_or_port(Rng& r) {
  switch (r.weighted(std::array<std::uint16_t, 6>{40, 25, 8, 5, 2, 20})) {
    case 0: return 9001;
    case 1: return 443;
    case 2: return static_cast<std::uint16_t>(r.between(9002, 9010));
    case 3: return 8443;
    case 4: return 80;
    default: return static_cast<std::uint16_t>(r.between(1024, 65535));
  }
}

struct Address {
  std::uint32_t ip;
  std::uint16_t or_port;
};

// Operators often run several relays on one address with consecutive
// ORPorts. Relay i shares the address of relay i-1 with some probability,
// decided by i's own stream, so the result stays a pure function of (seed, i).
// Directory authorities each have their own address.
Address relay_address(std::uint64_t seed, std::size_t i) {
  std::size_t root = i;
  std::uint16_t offset = 0;
  while (root > kAuthorities && offset < 8 && Rng(seed, kAddressSalt, root).percent(6)) {
    --root;
    ++offset;
  }
  Rng r(seed, kAddressSalt, root);
  r.next();  // the sharing decision drawn above
  Address a{random_public_ipv4(r), random_or_port(r)};
  a.or_port = static_cast<std::uint16_t>(a.or_port + offset <= 65535 ? a.or_port + offset
                                                                     : a.or_port - offset);
  return a;
}

// "[v6]:port" in the canonical RFC 5952 form tor prints: groups are drawn
// non-zero so the only zero run is the explicit "::".
std::string random_ipv6_or_address(Rng& r, std::uint16_t or_port) {
  std::string s = "[";
  s += r.pick(kIpv6Prefixes);
  const unsigned form = static_cast<unsigned>(r.below(3));
  const unsigned random_groups = form == 2 ? 6 : 2;
  for (unsigned g = 0; g < random_groups; ++g) {
    s.push_back(':');
    put_hex_group(s, static_cast<std::uint16_t>(r.between(1, 0xFFFF)));
  }
  if (form == 0) {
    s += "::";
    put_hex_group(s, static_cast<std::uint16_t>(r.between(1, 0x20)));  // ...::1, ...::2
  } else if (form == 1) {
    s += "::";
    put_hex_group(s, static_cast<std::uint16_t>(r.between(1, 0xFFFF)));
  }
  s += "]:";
  put_uint(s, r.percent(70) ? or_port : random_or_port(r));
  return s;
}

void put_flags(std::string& out, std::uint16_t flags) {
  out.push_back('s');
  for (std::size_t bit = 0; bit < kFlagNames.size(); ++bit) {
    if (flags & (1u << bit)) {
      out.push_back(' ');
      out += kFlagNames[bit];
    }
  }
  out += "\r\n";
}

// "r" line fields after the identity (and digest): time, address, ports.
void put_r_tail(std::string& out, const Relay& rt) {
  out.push_back(' ');
  out += kNoPublicationTime;
  out.push_back(' ');
  put_ipv4(out, rt.ipv4);
  out.push_back(' ');
  put_uint(out, rt.or_port);
  out.push_back(' ');
  put_uint(out, rt.dir_port);
  out += "\r\n";
  if (!rt.ipv6_or_address.empty()) {
    out += "a ";
    out += rt.ipv6_or_address;
    out += "\r\n";
  }
}

// Every line starts with a lower-case keyword, never '.', so no line needs
// dot-stuffing.
void put_ns_all_entry(std::string& out, const Relay& rt, bool descriptors) {
  out += "r ";
  out += rt.nickname;
  out.push_back(' ');
  put_base64(out, rt.identity);
  out.push_back(' ');
  put_base64(out, std::span(rt.microdesc_digest).first<20>());
  put_r_tail(out, rt);
  put_flags(out, rt.flags);
  out += "w Bandwidth=";
  put_uint(out, rt.bandwidth);
  out += "\r\n";
  if (descriptors && rt.descriptor_known) {
    out += "p ";
    out += rt.policy;
    out += "\r\n";
  }
}

void put_microdesc_entry(std::string& out, const Relay& rt) {
  out += "r ";
  out += rt.nickname;
  out.push_back(' ');
  put_base64(out, rt.identity);
  put_r_tail(out, rt);
  out += "m ";
  put_base64(out, rt.microdesc_digest);
  out += "\r\n";
  put_flags(out, rt.flags);
  out += "v ";
  out += rt.version;
  out += "\r\npr ";
  out += rt.protocols;
  out += "\r\nw Bandwidth=";
  put_uint(out, rt.bandwidth);
  if (rt.unmeasured) out += " Unmeasured=1";
  out += "\r\n";
}

// The network's relays in consensus order: by identity. Ties (practically
// impossible) fall back to the index so the order is total and std::sort
// gives the same result everywhere.
std::vector<Relay> sorted_network(std::size_t routers, std::uint64_t seed) {
  std::vector<Relay> relays;
  relays.reserve(routers);
  for (std::size_t i = 0; i < routers; ++i) relays.push_back(make_relay(seed, i));
  std::vector<std::size_t> order(relays.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return relays[a].identity != relays[b].identity ? relays[a].identity < relays[b].identity
                                                    : a < b;
  });
  std::vector<Relay> sorted;
  sorted.reserve(relays.size());
  for (const std::size_t i : order) sorted.push_back(std::move(relays[i]));
  return sorted;
}

// ---- the consensus document around the router entries ---------------------------------------

struct Authority {
  std::array<std::uint8_t, 20> v3_identity{};  // authority key, not the relay identity
  std::array<std::uint8_t, 20> signing_key_digest{};
  std::array<std::uint8_t, 20> vote_digest{};
  const Relay* relay = nullptr;
};

// The versions the authorities recommend, in tor's version order.
constexpr std::string_view kRecommendedVersions =
    "0.4.8.12,0.4.8.14,0.4.8.16,0.4.8.17,0.4.8.18,0.4.8.19,0.4.8.20,0.4.8.21,0.4.9.3-alpha,"
    "0.4.9.6,0.4.9.8,0.4.9.10,0.4.9.11";

void put_header(std::string& out, Rng& r, const std::vector<Authority>& auths) {
  TimeFormatter tf;
  out += "network-status-version 3 microdesc\r\nvote-status consensus\r\nconsensus-method 35\r\n";
  out += "valid-after ";
  tf.put_seconds(out, kValidAfter, ' ');
  out += "\r\nfresh-until ";
  tf.put_seconds(out, kValidAfter + 3600, ' ');
  out += "\r\nvalid-until ";
  tf.put_seconds(out, kValidAfter + 3 * 3600, ' ');
  out += "\r\nvoting-delay 300 300\r\n";
  out += "client-versions ";
  out += kRecommendedVersions;
  out += "\r\nserver-versions ";
  out += kRecommendedVersions;
  out += "\r\n";
  // Every flag the authorities vote on; Sybil is never given to a listed relay.
  out +=
      "known-flags Authority BadExit Exit Fast Guard HSDir MiddleOnly NoEdConsensus Running "
      "Stable StaleDesc Sybil V2Dir Valid\r\n"
      "recommended-client-protocols Cons=2 Desc=2 DirCache=2 FlowCtrl=1-2 HSDir=2 HSIntro=4 "
      "HSRend=2 Link=4-5 Microdesc=2 Relay=2-4\r\n"
      "recommended-relay-protocols Cons=2 Desc=2 DirCache=2 FlowCtrl=1-2 HSDir=2 HSIntro=4-5 "
      "HSRend=2 Link=4-5 LinkAuth=3 Microdesc=2 Relay=2-4\r\n"
      "required-client-protocols Cons=2 Desc=2 FlowCtrl=1 Link=4 Microdesc=2 Relay=2\r\n"
      "required-relay-protocols Cons=2 Desc=2 DirCache=2 FlowCtrl=1-2 HSDir=2 HSIntro=4-5 "
      "HSRend=2 Link=4-5 LinkAuth=3 Microdesc=2 Relay=2-4\r\n";
  // Consensus parameters (param-spec), sorted by name as tor writes them.
  out += "params AuthDirMaxServersPerAddr=8 CircuitPriorityHalflifeMsec=30000 ";
  out += "DoSCircuitCreationEnabled=1 DoSConnectionEnabled=1 DoSConnectionMaxConcurrentCount=";
  put_uint(out, r.between(40, 60));
  out += " DoSRefuseSingleHopClientRendezvous=1 ExtendByEd25519ID=1 KISTSchedRunInterval=";
  put_uint(out, r.between(2, 4));
  out += " UseOptimisticData=1 bwauthpid=1 cbttestfreq=10 cc_alg=2 cc_cwnd_full_gap=4 ";
  out += "cc_cwnd_inc=31 cc_cwnd_min=124 cc_sscap_exit=600 cc_sscap_onion=475 cfx_enabled=1 ";
  out += "guard-n-primary-dir-guards-to-use=2 guard-n-primary-guards-to-use=2 ";
  out += "hsdir_spread_store=4 overload_onionskin_ntor_period_secs=10800 ";
  out += "sendme_emit_min_version=1\r\n";
  // Shared randomness: a reveal count and a 32-byte value, base64 with '='.
  for (const std::string_view which : {"previous", "current"}) {
    std::array<std::uint8_t, 32> value{};
    r.fill(value);
    out += "shared-rand-";
    out += which;
    out += "-value ";
    put_uint(out, auths.size());
    out.push_back(' ');
    put_base64(out, value, true);
    out += "\r\n";
  }
  for (const Authority& a : auths) {
    const Relay& rt = *a.relay;
    out += "dir-source ";
    out += rt.nickname;
    out.push_back(' ');
    put_hex(out, a.v3_identity);
    out.push_back(' ');
    put_ipv4(out, rt.ipv4);  // the hostname field: authorities give their address
    out.push_back(' ');
    put_ipv4(out, rt.ipv4);
    out.push_back(' ');
    put_uint(out, rt.dir_port);
    out.push_back(' ');
    put_uint(out, rt.or_port);
    out += "\r\ncontact ";
    out += rt.nickname;
    out += " operators <dirauth AT example DOT org>\r\nvote-digest ";
    put_hex(out, a.vote_digest);
    out += "\r\n";
  }
}

void put_footer(std::string& out, Rng& r, const std::vector<Authority>& auths) {
  // Exits are the scarce class in the public network: dir-spec 3.8.3 then
  // gives every Guard+Exit and Exit bandwidth to the exit position.
  const std::uint64_t wgg = r.between(5400, 6600);
  const std::uint64_t wmg = 10000 - wgg;
  out += "directory-footer\r\nbandwidth-weights Wbd=0 Wbe=0 Wbg=";
  put_uint(out, wmg);
  out += " Wbm=10000 Wdb=10000 Web=10000 Wed=10000 Wee=10000 Weg=10000 Wem=10000 Wgb=10000 ";
  out += "Wgd=0 Wgg=";
  put_uint(out, wgg);
  out += " Wgm=";
  put_uint(out, wgg);
  out += " Wmb=10000 Wmd=0 Wme=0 Wmg=";
  put_uint(out, wmg);
  out += " Wmm=10000\r\n";
  // An authority whose signature came too late is simply missing.
  const std::size_t late = auths.size() > 5 && r.percent(30) ? r.below(auths.size()) : auths.size();
  for (std::size_t i = 0; i < auths.size(); ++i) {
    if (i == late) continue;
    out += "directory-signature sha256 ";
    put_hex(out, auths[i].v3_identity);
    out.push_back(' ');
    put_hex(out, auths[i].signing_key_digest);
    out += "\r\n-----BEGIN SIGNATURE-----\r\n";
    std::array<std::uint8_t, 256> sig{};  // RSA-2048; not a valid signature
    r.fill(sig);
    std::string b64;
    put_base64(b64, sig, true);
    for (std::size_t pos = 0; pos < b64.size(); pos += 64) {
      out.append(b64, pos, 64);
      out += "\r\n";
    }
    out += "-----END SIGNATURE-----\r\n";
  }
}

}  // namespace

Relay make_relay(std::uint64_t seed, std::size_t index) {
  Rng r(seed, kRouterSalt, index);
  Relay rt;
  r.fill(rt.identity);
  r.fill(rt.microdesc_digest);
  rt.nickname = make_nickname(r);
  const Address addr = relay_address(seed, index);
  rt.ipv4 = addr.ip;
  rt.or_port = addr.or_port;
  // Descriptors are republished at least every 18 hours; a few are older.
  const bool stale = r.permille(12);

  const bool authority = index < kAuthorities;
  std::uint16_t f = kRunning | kValid;
  if (authority) {
    f |= kAuthority | kFast | kStable | kV2Dir;
    if (r.percent(70)) f |= kGuard;
    if (r.percent(50)) f |= kHSDir;
    rt.dir_port = r.pick(std::array<std::uint16_t, 3>{80, 443, 9030});
  } else {
    if (r.percent(88)) f |= kFast;
    if (r.percent(72)) f |= kStable;
    if (r.percent(90)) f |= kV2Dir;
    if ((f & kFast) && (f & kStable) && r.percent(42)) f |= kGuard;
    if ((f & kStable) && (f & kV2Dir) && r.percent(80)) f |= kHSDir;
    if (r.percent(20)) f |= kExit;
    if ((f & kExit) && r.percent(2)) f |= kBadExit;
    if (r.permille(4)) {  // MiddleOnly relays lose every position-specific flag.
      f = static_cast<std::uint16_t>((f | kMiddleOnly) & ~(kExit | kGuard | kHSDir | kV2Dir));
    }
    if (r.permille(3)) f |= kNoEdConsensus;
    if (stale) f |= kStaleDesc;
    // DirPort is deprecated; most relays serve directory data over their
    // ORPort only.
    if (r.percent(10)) {
      rt.dir_port = r.percent(55)   ? 9030
                    : r.percent(50) ? 80
                                    : static_cast<std::uint16_t>(r.between(1024, 65535));
    }
  }
  rt.flags = f;

  const VersionShare& v = kVersions[r.weighted(kVersionWeights)];
  rt.version = authority ? kVersions[8].version : v.version;  // authorities run the newest
  rt.protocols = authority ? kVersions[8].proto : v.proto;

  if (authority) {
    rt.bandwidth = static_cast<std::uint32_t>(r.between(20, 5000));
    rt.unmeasured = true;  // bandwidth authorities do not measure authorities
  } else if (r.percent(5)) {
    // Authorities cap unmeasured relays at 20 KB/s.
    rt.unmeasured = true;
    rt.bandwidth = static_cast<std::uint32_t>(r.between(1, 20));
  } else {
    // A log-normal-ish spread of consensus weights: median around 8000, tail
    // to ~500000.
    constexpr std::array<std::uint16_t, 19> kOctaveWeights = {
        1, 1, 2, 3, 6, 8, 12, 20, 30, 45, 60, 75, 85, 85, 75, 55, 35, 15, 5};
    const std::uint32_t base = 1u << r.weighted(kOctaveWeights);
    rt.bandwidth = base + static_cast<std::uint32_t>(r.below(base));
  }

  if (f & kExit) {
    rt.policy = kExitPolicies[r.weighted(kExitPolicyWeights)];
  } else if (!(f & kMiddleOnly) && r.percent(3)) {
    rt.policy = r.pick(kNarrowPolicies);
  } else {
    rt.policy = kRejectAll;
  }

  // About two relays in five have an IPv6 ORPort; tor keeps one per relay.
  if (r.percent(40)) rt.ipv6_or_address = random_ipv6_or_address(r, rt.or_port);
  rt.descriptor_known = !r.permille(6);
  return rt;
}

std::string long_name(const Relay& relay) {
  std::string s = "$";
  put_hex(s, relay.identity);
  s.push_back('~');
  s += relay.nickname;
  return s;
}

std::string ns_all_reply(const NsAllOptions& opts) {
  const std::vector<Relay> relays = sorted_network(opts.routers, opts.seed);
  std::string out;
  out.reserve(64 + relays.size() * 200);  // ~170 B/entry
  out += "250+ns/all=\r\n";
  for (const Relay& rt : relays) put_ns_all_entry(out, rt, opts.descriptors);
  out += ".\r\n250 OK\r\n";
  return out;
}

std::string microdesc_consensus_reply(const MicrodescConsensusOptions& opts) {
  const std::vector<Relay> relays = sorted_network(opts.routers, opts.seed);
  Rng r(opts.seed, kDocumentSalt, 0);
  std::vector<Authority> auths;
  for (const Relay& rt : relays) {
    if (!(rt.flags & kAuthority)) continue;
    Authority& a = auths.emplace_back();
    a.relay = &rt;
    r.fill(a.v3_identity);
    r.fill(a.signing_key_digest);
    r.fill(a.vote_digest);
  }
  // dir-source entries and signatures are sorted by the authority's v3 key.
  std::sort(auths.begin(), auths.end(),
            [](const Authority& a, const Authority& b) { return a.v3_identity < b.v3_identity; });

  std::string out;
  out.reserve(8192 + relays.size() * 330);  // ~310 B/entry
  out += "250+dir/status-vote/current/consensus-microdesc=\r\n";
  put_header(out, r, auths);
  for (const Relay& rt : relays) put_microdesc_entry(out, rt);
  put_footer(out, r, auths);
  out += ".\r\n250 OK\r\n";
  return out;
}

}  // namespace torcon::gen
