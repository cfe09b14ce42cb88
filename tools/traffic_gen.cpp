#include "traffic_gen.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <map>
#include <queue>
#include <string_view>
#include <utility>
#include <vector>

namespace torcon::gen {
namespace {

// ---------------------------------------------------------------------------------------------
// Randomness. <random> distributions are implementation-defined, so everything below draws raw
// 64-bit words from xoshiro256** and reduces them with integer arithmetic only.

constexpr std::uint64_t splitmix(std::uint64_t& state) {
  state += 0x9E3779B97F4A7C15ULL;
  std::uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (auto& word : s_) word = splitmix(seed);
  }
  // A separate stream per (seed, salt, index): router #i must not depend on how many routers
  // came before it, and the event simulation must not shift when the router code changes.
  Rng(std::uint64_t seed, std::uint64_t salt, std::uint64_t index)
      : Rng(seed ^ mix(salt * 0xD1B54A32D192ED03ULL + index)) {}

  std::uint64_t next() {
    const std::uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n). Plain `% n` would favour small values; reject the short tail instead.
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t threshold = (0 - n) % n;  // == 2^64 mod n
    for (;;) {
      const std::uint64_t r = next();
      if (r >= threshold) return r % n;
    }
  }
  std::uint64_t between(std::uint64_t lo, std::uint64_t hi) { return lo + below(hi - lo + 1); }
  bool percent(unsigned p) { return below(100) < p; }
  bool permille(unsigned p) { return below(1000) < p; }

  template <class Seq>
  const auto& pick(const Seq& seq) {
    return seq[below(std::size(seq))];
  }

  // Index drawn with probability proportional to weights[i].
  template <class Seq>
  std::size_t weighted(const Seq& weights) {
    std::uint64_t total = 0;
    for (auto w : weights) total += w;
    std::uint64_t r = below(total);
    std::size_t i = 0;
    while (r >= weights[i]) r -= weights[i++];
    return i;
  }

  // Roughly exponential with the given mean, without libm: -ln(U) = ln2 * -log2(U), whose
  // integer part is the count of leading zero bits of a uniform word (geometric, p = 1/2).
  std::uint64_t exponential(std::uint64_t mean) {
    const std::uint64_t whole = static_cast<std::uint64_t>(std::countl_zero(next() | 1));
    const std::uint64_t milli = whole * 1000 + below(1000);
    return mean * milli * 693 / 1000000;
  }

  // Log-uniform in [lo, lo * 2^octaves): many short values, a long tail of big ones.
  std::uint64_t log_uniform(std::uint64_t lo, unsigned octaves) {
    const std::uint64_t base = lo << below(octaves);
    return base + below(base);
  }

  template <std::size_t N>
  void fill(std::array<std::uint8_t, N>& bytes) {
    for (std::size_t i = 0; i < N; i += 8) {
      std::uint64_t word = next();
      for (std::size_t j = i; j < N && j < i + 8; ++j, word >>= 8) {
        bytes[j] = static_cast<std::uint8_t>(word);
      }
    }
  }

 private:
  static std::uint64_t mix(std::uint64_t x) { return splitmix(x); }
  std::array<std::uint64_t, 4> s_{};
};

// Salts naming the independent streams.
enum Salt : std::uint64_t { kRouterSalt = 1, kAddressSalt, kEventSalt, kNamesSalt };

// ---------------------------------------------------------------------------------------------
// Text helpers. All append to an output string; none allocate temporaries on the hot path.

void put(std::string& out, std::string_view s) { out.append(s); }

void put_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void put_int(std::string& out, std::int64_t v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void put_2digits(std::string& out, unsigned v) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

void put_ipv4(std::string& out, std::uint32_t ip) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    put_uint(out, (ip >> shift) & 0xFF);
    if (shift != 0) out.push_back('.');
  }
}

void put_hex_group(std::string& out, std::uint64_t v) {  // lower-case, no leading zeros
  char buf[8];
  const auto res = std::to_chars(buf, buf + sizeof buf, v, 16);
  out.append(buf, res.ptr);
}

using Digest = std::array<std::uint8_t, 20>;

void put_fingerprint(std::string& out, const Digest& d) {
  constexpr std::string_view kHex = "0123456789ABCDEF";
  for (auto b : d) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
}

// Base64 without the trailing '=', as consensus documents encode 20-byte digests (27 chars).
void put_base64(std::string& out, const Digest& d) {
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  for (; i + 3 <= d.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{d[i]} << 16) | (std::uint32_t{d[i + 1]} << 8) | d[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kAlphabet[(v >> shift) & 0x3F]);
  }
  // 20 = 6 * 3 + 2: two bytes left, 16 bits -> three characters.
  const std::uint32_t v = (std::uint32_t{d[i]} << 16) | (std::uint32_t{d[i + 1]} << 8);
  for (int shift = 18; shift >= 6; shift -= 6) out.push_back(kAlphabet[(v >> shift) & 0x3F]);
}

// QuotedString as tor writes it for the controller: backslash and quote escaped.
std::string quote(std::string_view raw) {
  std::string q = "\"";
  for (char c : raw) {
    if (c == '"' || c == '\\') q.push_back('\\');
    q.push_back(c);
  }
  q.push_back('"');
  return q;
}

// ---------------------------------------------------------------------------------------------
// Civil time, UTC. Only dates from 1970 on are needed, so a loop over years is simple and fast
// enough (the formatter caches the current day anyway).

constexpr bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

constexpr unsigned days_in_month(std::int64_t y, unsigned m) {
  constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

constexpr std::int64_t unix_seconds(std::int64_t y, unsigned mon, unsigned d, unsigned h) {
  std::int64_t days = 0;
  for (std::int64_t yy = 1970; yy < y; ++yy) days += is_leap(yy) ? 366 : 365;
  for (unsigned mm = 1; mm < mon; ++mm) days += days_in_month(y, mm);
  return (days + d - 1) * 86400 + std::int64_t{h} * 3600;
}

// Consensus valid-after of the generated network; events start shortly after it.
constexpr std::int64_t kBaseTime = unix_seconds(2024, 11, 1, 12);
static_assert(kBaseTime == 1730462400);

class TimeFormatter {
 public:
  // "YYYY-MM-DD<sep>HH:MM:SS"
  void put_seconds(std::string& out, std::int64_t t, char sep) {
    const std::int64_t day = t / 86400;
    if (day != cached_day_) cache(day);
    out.append(date_.data(), date_.size());
    out.push_back(sep);
    const auto sod = static_cast<unsigned>(t % 86400);
    put_2digits(out, sod / 3600);
    out.push_back(':');
    put_2digits(out, sod / 60 % 60);
    out.push_back(':');
    put_2digits(out, sod % 60);
  }
  // ISOTime2Frac with microseconds, as tor's format_iso_time_nospace_usec.
  void put_micros(std::string& out, std::int64_t us) {
    put_seconds(out, us / 1000000, 'T');
    out.push_back('.');
    char buf[8];
    auto frac = static_cast<std::uint32_t>(us % 1000000);
    for (int i = 5; i >= 0; --i, frac /= 10) buf[i] = static_cast<char>('0' + frac % 10);
    out.append(buf, 6);
  }

 private:
  void cache(std::int64_t day) {
    cached_day_ = day;
    std::int64_t y = 1970;
    for (;;) {
      const std::int64_t len = is_leap(y) ? 366 : 365;
      if (day < len) break;
      day -= len;
      ++y;
    }
    unsigned m = 1;
    while (day >= days_in_month(y, m)) day -= days_in_month(y, m++);
    std::string s;
    put_uint(s, static_cast<std::uint64_t>(y));
    s.push_back('-');
    put_2digits(s, m);
    s.push_back('-');
    put_2digits(s, static_cast<unsigned>(day + 1));
    std::copy_n(s.begin(), date_.size(), date_.begin());
  }
  std::int64_t cached_day_ = -1;
  std::array<char, 10> date_{};
};

// ---------------------------------------------------------------------------------------------
// Relays.

// Bit order is alphabetical so emitting set bits in order gives tor's sorted "s" line.
enum Flag : std::uint16_t {
  kAuthority = 1 << 0,
  kBadExit = 1 << 1,
  kExit = 1 << 2,
  kFast = 1 << 3,
  kGuard = 1 << 4,
  kHSDir = 1 << 5,
  kMiddleOnly = 1 << 6,
  kRunning = 1 << 7,
  kStable = 1 << 8,
  kStaleDesc = 1 << 9,
  kV2Dir = 1 << 10,
  kValid = 1 << 11,
};
constexpr std::array<std::string_view, 12> kFlagNames = {
    "Authority",  "BadExit", "Exit",   "Fast",      "Guard", "HSDir",
    "MiddleOnly", "Running", "Stable", "StaleDesc", "V2Dir", "Valid"};

constexpr std::string_view kProto047 =
    "Cons=1-2 Desc=1-2 DirCache=2 FlowCtrl=1-2 HSDir=2 HSIntro=4-5 HSRend=1-2 Link=1-5 "
    "LinkAuth=1,3 Microdesc=1-2 Padding=2 Relay=1-4";
constexpr std::string_view kProto048 =
    "Conflux=1 Cons=1-2 Desc=1-2 DirCache=2 FlowCtrl=1-2 HSDir=2 HSIntro=4-5 HSRend=1-2 "
    "Link=1-5 LinkAuth=1,3 Microdesc=1-2 Padding=2 Relay=1-4";

struct VersionShare {
  std::string_view version;
  std::uint16_t weight;
  std::string_view proto;
};
// The spread a consensus of late 2024 shows: mostly the two newest stable releases.
constexpr std::array<VersionShare, 13> kVersions = {{
    {"0.4.8.13", 300, kProto048},
    {"0.4.8.12", 260, kProto048},
    {"0.4.8.11", 70, kProto048},
    {"0.4.8.10", 80, kProto048},
    {"0.4.8.9", 60, kProto048},
    {"0.4.8.8", 20, kProto048},
    {"0.4.8.7", 20, kProto048},
    {"0.4.8.5", 15, kProto048},
    {"0.4.8.4", 25, kProto048},
    {"0.4.7.16", 50, kProto047},
    {"0.4.7.14", 20, kProto047},
    {"0.4.7.13", 15, kProto047},
    {"0.4.9.0-alpha-dev", 30, kProto048},
}};
constexpr std::array<std::uint16_t, kVersions.size()> kVersionWeights = [] {
  std::array<std::uint16_t, kVersions.size()> w{};
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = kVersions[i].weight;
  return w;
}();

// Exit policy summaries ("p" lines). Exits mostly run the reduced or the default policy.
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
    std::string_view part = r.pick(kNameParts);
    for (char c : part) nick.push_back(lower ? static_cast<char>(c | 0x20) : c);
  }
  if (r.percent(40)) put_uint(nick, r.below(r.percent(50) ? 10 : 1000));
  if (nick.size() > 19) nick.resize(19);
  return nick;
}

// Publicly routable IPv4 only: no RFC 1918, loopback, link-local, CGNAT, documentation,
// benchmarking or multicast space (a pre-commit check rejects private addresses).
bool is_public_ipv4(std::uint32_t ip) {
  const std::uint32_t a = ip >> 24, b = (ip >> 16) & 0xFF, c = (ip >> 8) & 0xFF;
  if (a == 0 || a == 10 || a == 127 || a >= 224) return false;
  if (a == 100 && b >= 64 && b <= 127) return false;
  if (a == 169 && b == 254) return false;
  if (a == 172 && b >= 16 && b <= 31) return false;
  if (a == 192 && b == 168) return false;
  if (a == 192 && b == 0 && (c == 0 || c == 2)) return false;
  if (a == 198 && (b == 18 || b == 19)) return false;
  if (a == 198 && b == 51 && c == 100) return false;
  if (a == 203 && b == 0 && c == 113) return false;
  return (ip & 0xFF) != 0 && (ip & 0xFF) != 255;
}

std::uint32_t random_public_ipv4(Rng& r) {
  for (;;) {
    const auto ip = static_cast<std::uint32_t>(r.next() >> 32);
    if (is_public_ipv4(ip)) return ip;
  }
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

// Operators often run several relays on one address with consecutive ORPorts. Router i
// shares the address of router i-1 with some probability, decided by i's own stream so the
// result stays a pure function of (seed, i).
Address router_address(std::uint64_t seed, std::size_t i) {
  std::size_t root = i;
  std::uint16_t offset = 0;
  while (root > 0 && offset < 8 && Rng(seed, kAddressSalt, root).percent(6)) {
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

struct Router {
  Digest identity{};
  Digest digest{};
  std::string nickname;
  std::array<std::string, 2> or_addresses;  // "a" lines: "[v6]:port"
  std::uint8_t n_or_addresses = 0;
  std::uint32_t ipv4 = 0;
  std::uint16_t or_port = 0;
  std::uint16_t dir_port = 0;
  std::uint16_t flags = 0;
  std::uint8_t version = 0;
  std::string_view policy;
  bool unmeasured = false;
  std::uint32_t bandwidth = 0;
  std::int64_t published = 0;
};

std::string random_ipv6_or_address(Rng& r, std::uint16_t or_port) {
  std::string s = "[";
  put(s, r.pick(kIpv6Prefixes));
  // Groups are drawn non-zero so the only zero run is the explicit "::", keeping the text in
  // the canonical RFC 5952 form tor prints.
  const unsigned form = static_cast<unsigned>(r.below(3));
  const unsigned random_groups = form == 2 ? 6 : 2;
  for (unsigned g = 0; g < random_groups; ++g) {
    s.push_back(':');
    put_hex_group(s, r.between(1, 0xFFFF));
  }
  if (form == 0) {
    s += "::";
    put_hex_group(s, r.between(1, 0x20));  // hosters number servers ...::1, ...::2, ...
  } else if (form == 1) {
    s += "::";
    put_hex_group(s, r.between(1, 0xFFFF));
  }
  s += "]:";
  put_uint(s, r.percent(70) ? or_port : random_or_port(r));
  return s;
}

Router make_router(std::uint64_t seed, std::size_t index) {
  Rng r(seed, kRouterSalt, index);
  Router rt;
  r.fill(rt.identity);
  r.fill(rt.digest);
  rt.nickname = make_nickname(r);
  const Address addr = router_address(seed, index);
  rt.ipv4 = addr.ip;
  rt.or_port = addr.or_port;
  // Descriptors are republished at least every 18 hours; a few are older (StaleDesc).
  const bool stale = r.permille(12);
  rt.published = kBaseTime - static_cast<std::int64_t>(stale ? r.between(18 * 3600, 30 * 3600)
                                                             : r.below(18 * 3600));

  const bool authority = r.below(8000) < 9;  // nine directory authorities in a real network
  std::uint16_t f = kRunning | kValid;
  if (authority) {
    f |= kAuthority | kFast | kStable | kV2Dir;
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
    if (stale) f |= kStaleDesc;
    // DirPort is deprecated; most relays serve directory data over their ORPort only.
    if (r.percent(14)) {
      rt.dir_port = r.percent(55)   ? 9030
                    : r.percent(50) ? 80
                                    : static_cast<std::uint16_t>(r.between(1024, 65535));
    }
  }
  rt.flags = f;

  rt.version = static_cast<std::uint8_t>(r.weighted(kVersionWeights));
  if (authority) rt.version = 0;

  if (authority) {
    rt.bandwidth = static_cast<std::uint32_t>(r.between(20, 5000));
  } else if (r.percent(5)) {
    // Authorities cap unmeasured relays at 20 KB/s.
    rt.unmeasured = true;
    rt.bandwidth = static_cast<std::uint32_t>(r.between(1, 20));
  } else {
    // A log-normal-ish spread of consensus weights: median around 8000, tail to ~500000.
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

  if (r.percent(36)) {
    rt.or_addresses[rt.n_or_addresses++] = random_ipv6_or_address(r, rt.or_port);
    if (r.permille(8)) rt.or_addresses[rt.n_or_addresses++] = random_ipv6_or_address(r, rt.or_port);
  }
  return rt;
}

void put_router_entry(std::string& out, const Router& rt, TimeFormatter& tf) {
  // Every line starts with a lower-case keyword, never '.', so dot-stuffing never applies.
  put(out, "r ");
  put(out, rt.nickname);
  out.push_back(' ');
  put_base64(out, rt.identity);
  out.push_back(' ');
  put_base64(out, rt.digest);
  out.push_back(' ');
  tf.put_seconds(out, rt.published, ' ');
  out.push_back(' ');
  put_ipv4(out, rt.ipv4);
  out.push_back(' ');
  put_uint(out, rt.or_port);
  out.push_back(' ');
  put_uint(out, rt.dir_port);
  put(out, "\r\n");
  for (std::size_t i = 0; i < rt.n_or_addresses; ++i) {
    put(out, "a ");
    put(out, rt.or_addresses[i]);
    put(out, "\r\n");
  }
  out.push_back('s');
  for (std::size_t bit = 0; bit < kFlagNames.size(); ++bit) {
    if (rt.flags & (1u << bit)) {
      out.push_back(' ');
      put(out, kFlagNames[bit]);
    }
  }
  put(out, "\r\nv Tor ");
  put(out, kVersions[rt.version].version);
  put(out, "\r\npr ");
  put(out, kVersions[rt.version].proto);
  put(out, "\r\nw Bandwidth=");
  put_uint(out, rt.bandwidth);
  if (rt.unmeasured) put(out, " Unmeasured=1");
  put(out, "\r\np ");
  put(out, rt.policy);
  put(out, "\r\n");
}

// ---------------------------------------------------------------------------------------------
// Event simulation: a discrete-event model of a tor relay that is also used as a client by a
// browser and a few applications. Tasks sit in a queue ordered by (time, sequence number); the
// sequence number makes the order total, so std::priority_queue pops them identically on every
// standard library.

constexpr std::size_t kRelayPool = 600;

struct PoolRelay {
  std::string longname;  // "$FINGERPRINT~nickname"
  std::uint32_t ipv4;
  std::uint16_t or_port;
  std::uint16_t flags;
};

enum class Purpose : std::uint8_t { kGeneral, kHsClientIntro, kHsClientRend, kMeasureTimeout };
constexpr std::array<std::string_view, 4> kPurposeNames = {"GENERAL", "HS_CLIENT_INTRO",
                                                           "HS_CLIENT_REND", "MEASURE_TIMEOUT"};

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

enum class CircKind : std::uint8_t { kExit, kInternal, kOneHop };

struct Circuit {
  std::uint64_t id = 0;
  std::int64_t created_us = 0;
  CircKind kind = CircKind::kExit;
  bool need_uptime = false;
  Purpose purpose = Purpose::kGeneral;
  HsState hs_state = HsState::kNone;
  std::string rend_query;
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
      Router rt = make_router(opts.seed, i);
      PoolRelay p;
      p.longname.push_back('$');
      put_fingerprint(p.longname, rt.identity);
      p.longname.push_back('~');
      p.longname += rt.nickname;
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
    make_domains();
  }

  std::string run() {
    out_.reserve(std::min<std::size_t>(limit_, std::size_t{1} << 24) * 190);  // ~184 B/event
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
  void make_domains() {
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
    }
  }

  void start() {
    // One draw per statement throughout: the evaluation order of operands is unspecified,
    // and compilers do differ.
    now_ = (kBaseTime + static_cast<std::int64_t>(rng_.below(3600))) * kSecond;
    now_ += static_cast<std::int64_t>(rng_.below(kSecond));
    next_circ_id_ = rng_.between(3, 40);
    next_conn_id_ = rng_.between(20, 200);
    epoch_ = rng_.below(3);
    bw_rate_ = rng_.between(300000, 3000000);
    guard_ = guards_[rng_.below(guards_.size())];
    guard_conn_id_ = next_conn_id_++;
    guard_conn_open_ = true;
    for (int i = 0; i < 3; ++i) new_session(false);
    // Steady state: a couple of clean circuits built ahead of demand.
    maintain_preemptive();
    const std::int64_t next_second = (now_ / kSecond + 1) * kSecond;
    at(next_second + ms(0, 20), Kind::kTick);
    after(ms(100, 3000), Kind::kPageLoad);
    after(ms(100, 2000), Kind::kNewOrConn);
    after(static_cast<std::int64_t>(rng_.exponential(900)) * kSecond, Kind::kMisc);
    after(static_cast<std::int64_t>(rng_.below(3600)) * kSecond, Kind::kHourly);
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
  void describe(std::string& e, const Circuit& c, bool with_path) {
    if (with_path && c.hops_done > 0) {
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
    }
    e += " PURPOSE=";
    e += kPurposeNames[static_cast<std::size_t>(c.purpose)];
    if (c.hs_state != HsState::kNone) {
      e += " HS_STATE=";
      e += kHsStateNames[static_cast<std::size_t>(c.hs_state)];
      e += " REND_QUERY=";
      e += c.rend_query;
    }
    e += " TIME_CREATED=";
    tf_.put_micros(e, c.created_us);
    if (c.shows_socks) {
      const Session& s = sessions_[static_cast<std::size_t>(c.session)];
      if (!s.socks_user.empty()) {
        e += " SOCKS_USERNAME=";
        e += s.socks_user;
        e += " SOCKS_PASSWORD=";
        e += s.socks_pass;
      }
    }
  }

  void circ_event(const Circuit& c, std::string_view status, std::string_view reason = {},
                  std::string_view remote = {}) {
    std::string& e = begin_event("CIRC ");
    put_uint(e, c.id);
    e.push_back(' ');
    e += status;
    describe(e, c, true);
    if (!reason.empty()) {
      e += " REASON=";
      e += reason;
      if (!remote.empty()) {
        e += " REMOTE_REASON=";
        e += remote;
      }
    }
    emit();
  }

  void circ_minor(const Circuit& c, std::string_view what, Purpose old_purpose, HsState old_state,
                  std::int64_t old_created = -1) {
    std::string& e = begin_event("CIRC_MINOR ");
    put_uint(e, c.id);
    e.push_back(' ');
    e += what;
    describe(e, c, true);
    e += " OLD_PURPOSE=";
    e += kPurposeNames[static_cast<std::size_t>(old_purpose)];
    if (old_created >= 0) {
      e += " OLD_TIME_CREATED=";
      tf_.put_micros(e, old_created);
    } else if (old_state != HsState::kNone) {
      e += " OLD_HS_STATE=";
      e += kHsStateNames[static_cast<std::size_t>(old_state)];
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

  // A new circuit with its path chosen; the caller fills in purpose and isolation, then
  // start()s it.
  Circuit& prepare(CircKind kind, std::size_t hops) {
    const std::uint64_t id = next_circ_id_++;
    Circuit& c = circuits_[id];
    c.id = id;
    c.kind = kind;
    c.created_us = now_;
    c.idle_since_us = now_;
    c.epoch = epoch_;
    c.path.push_back(static_cast<std::uint16_t>(guard_));
    while (c.path.size() < hops) {
      const bool last = c.path.size() + 1 == hops;
      c.path.push_back(pick_other(last && kind == CircKind::kExit ? exits_ : middles_, c));
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
    return start(c);
  }

  void circ_step(std::uint64_t id) {
    auto it = circuits_.find(id);
    if (it == circuits_.end()) return;
    Circuit& c = it->second;
    if (c.built) return;
    if (c.hops_done == 0 && !guard_conn_open_) {
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
    if (c.hs_flow != 0) return hs_circuit_ready(c);
    std::vector<std::uint64_t> waiting = std::move(c.waiting);
    c.waiting.clear();
    if (c.kind == CircKind::kExit && c.purpose == Purpose::kGeneral) adopt_pending(c, waiting);
    std::int64_t delay = 0;
    for (std::uint64_t sid : waiting) {
      auto st = streams_.find(sid);
      if (st == streams_.end()) continue;
      attach(st->second, c, delay += ms(0, 3));
    }
  }

  // Like tor's connection_ap_attach_pending(): a newly opened circuit also takes streams that
  // were waiting for other circuits, if its isolation allows. A circuit left without waiting
  // streams is clean again.
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
      if (other.waiting.empty()) other.session = -1;
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
    for (std::uint64_t sid : ids) {
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
    for (std::uint64_t sid : c.streams) {
      auto st = streams_.find(sid);
      if (st == streams_.end()) continue;
      stream_event(st->second, "CLOSED", "DESTROY");
      if (st->second.kind == StreamKind::kDir && dir_streams_left_ > 0) --dir_streams_left_;
      streams_.erase(st);
    }
    c.streams.clear();
    const std::uint64_t id = c.id;
    const std::uint64_t fid = c.hs_flow;
    const bool rend = c.purpose == Purpose::kHsClientRend;
    const std::vector<std::uint64_t> waiting = std::move(c.waiting);
    c.waiting.clear();
    if (fid != 0) hs_circuit_lost(fid, id, rend);
    reroute(waiting);
    circuits_.erase(id);
  }

  void expire_circuits() {
    std::vector<std::uint64_t> expired;
    for (const auto& [id, c] : circuits_) {
      if (!c.built || !c.streams.empty() || !c.waiting.empty()) continue;
      if (c.hs_flow != 0 && c.purpose == Purpose::kHsClientIntro) continue;
      const bool too_dirty =
          c.dirty_since_us >= 0 && (now_ - c.dirty_since_us >= kDirtiness || c.epoch != epoch_);
      const bool idle_too_long = c.dirty_since_us < 0 && now_ - c.idle_since_us >= kIdleTimeout;
      if (too_dirty || idle_too_long) expired.push_back(id);
    }
    for (std::uint64_t id : expired) {
      auto it = circuits_.find(id);
      if (it != circuits_.end()) close_circuit(it->second, false, "FINISHED");
    }
    while (!measurement_deadlines_.empty() && measurement_deadlines_.front().first <= now_) {
      const std::uint64_t id = measurement_deadlines_.front().second;
      measurement_deadlines_.erase(measurement_deadlines_.begin());
      auto it = circuits_.find(id);
      if (it != circuits_.end() && !it->second.built) {
        close_circuit(it->second, true, "MEASUREMENT_EXPIRED");
      }
    }
  }

  // Keep two clean exit circuits and one clean internal circuit ready, as tor's circuit
  // prediction does for a client that browses and sometimes visits onion services.
  void maintain_preemptive() {
    unsigned clean_exit = 0, clean_internal = 0;
    for (const auto& [id, c] : circuits_) {
      if (c.session >= 0 || c.hs_flow != 0 || c.purpose != Purpose::kGeneral) continue;
      if (c.kind == CircKind::kExit) ++clean_exit;
      if (c.kind == CircKind::kInternal) ++clean_internal;
    }
    for (; clean_exit < 2; ++clean_exit) {
      launch_exit(rng_.percent(10), -1);
    }
    if (clean_internal < 1) launch(CircKind::kInternal, 3);
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
    for (const auto& [id, c] : circuits_) victims.push_back(id);
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
    // Sometimes the guard stays unreachable and tor moves on to its next primary guard.
    if (rng_.percent(25)) guard_ = guards_[rng_.below(guards_.size())];
    for (std::uint64_t id : victims) {
      auto it = circuits_.find(id);
      if (it != circuits_.end()) {
        close_circuit(it->second, !it->second.built, "OR_CONN_CLOSED");
      }
    }
    maintain_preemptive();
  }

  // --- streams --------------------------------------------------------------------------------
  void stream_event(const Stream& s, std::string_view status, std::string_view reason = {},
                    std::string_view remote = {}, std::string_view extra = {}) {
    std::string& e = begin_event("STREAM ");
    put_uint(e, s.id);
    e.push_back(' ');
    e += status;
    e.push_back(' ');
    put_uint(e, s.circ);
    e.push_back(' ');
    if (s.host.empty() || s.remapped) {
      put_ipv4(e, s.ip);
    } else {
      e += s.host;
    }
    e.push_back(':');
    put_uint(e, s.port);
    if (!reason.empty()) {
      e += " REASON=";
      e += reason;
      if (!remote.empty()) {
        e += " REMOTE_REASON=";
        e += remote;
      }
    }
    e += extra;
    const bool is_new = status == "NEW" || status == "NEWRESOLVE";
    if (is_new) {
      if (s.kind == StreamKind::kDir) {
        e += " SOURCE_ADDR=(Tor_internal):0 PURPOSE=DIR_FETCH";
      } else {
        e += " SOURCE_ADDR=127.0.0.1:";
        put_uint(e, s.source_port);
        e += s.kind == StreamKind::kResolve ? " PURPOSE=DNS_REQUEST" : " PURPOSE=USER";
      }
    }
    // tor >= 0.3.x describes the client side of every entry connection.
    if (s.kind == StreamKind::kDir) {
      e += " CLIENT_PROTOCOL=UNKNOWN NYM_EPOCH=";
      put_uint(e, epoch_);
      e += " SESSION_GROUP=-1 ISO_FIELDS=SESSION_GROUP";
    } else {
      const Session& ss = sessions_[static_cast<std::size_t>(s.session)];
      if (!ss.socks_user.empty()) {
        e += " SOCKS_USERNAME=";
        e += ss.socks_user;
        e += " SOCKS_PASSWORD=";
        e += ss.socks_pass;
      }
      constexpr std::array<std::string_view, 5> kProtocols = {"SOCKS5", "SOCKS5", "SOCKS5",
                                                              "SOCKS4", "HTTPCONNECT"};
      constexpr std::array<std::string_view, 5> kGroups = {"-2", "-3", "-3", "-3", "-4"};
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
    for (char c : host) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ULL;
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
    const Session& ss = sessions_[static_cast<std::size_t>(session)];
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
    if (it != circuits_.end()) std::erase(it->second.streams, s.id);
    if (it != circuits_.end() && it->second.streams.empty()) it->second.idle_since_us = now_;
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
    flow.streams.push_back(s.id);
    onion_flow_[s.host] = fid;
    new_hs_circuit(flow, fid, true);
    new_hs_circuit(flow, fid, false);
  }

  // Get a rendezvous or introduction circuit for a flow: cannibalize a clean internal circuit
  // if one is built, otherwise build a fresh one with the right purpose.
  void new_hs_circuit(HsFlow& flow, std::uint64_t fid, bool rend) {
    const Purpose purpose = rend ? Purpose::kHsClientRend : Purpose::kHsClientIntro;
    const HsState state = rend ? HsState::kRendConnecting : HsState::kIntroConnecting;
    Circuit* c = nullptr;
    for (auto& [id, cand] : circuits_) {
      if (cand.kind == CircKind::kInternal && cand.built && !cand.closing && cand.session < 0 &&
          cand.hs_flow == 0 && cand.purpose == Purpose::kGeneral) {
        c = &cand;
        break;
      }
    }
    if (c) {
      const std::int64_t old_created = c->created_us;
      c->purpose = purpose;
      c->hs_state = state;
      c->rend_query = flow.onion;
      c->hs_flow = fid;
      c->created_us = now_;
      c->session = flow.session;
      circ_minor(*c, "CANNIBALIZED", Purpose::kGeneral, HsState::kNone, old_created);
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
      c->hs_state = state;
      c->rend_query = flow.onion;
      c->hs_flow = fid;
      c->session = flow.session;
      start(*c);
    }
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
      for (std::uint64_t sid : flow.streams) {
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
      e += std::string_view(peer->longname).substr(1, 40);
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
      s.ip = pool_[guard_].ipv4;
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
            "STATUS_GENERAL WARN DANGEROUS_VERSION CURRENT=0.4.8.12 REASON=UNRECOMMENDED "
            "RECOMMENDED=\"0.4.8.13, 0.4.9.1-alpha\"");
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
  std::vector<std::string> domains_, onions_;
  std::size_t guard_ = 0;
  std::uint64_t guard_conn_id_ = 0;
  bool guard_conn_open_ = false, guard_conn_launching_ = false;
  bool circuit_established_ = true;

  std::map<std::uint64_t, Circuit> circuits_;
  std::map<std::uint64_t, Stream> streams_;
  std::map<std::uint64_t, OrConn> orconns_;
  std::map<std::uint64_t, HsFlow> flows_;
  std::map<std::string, std::uint64_t> onion_flow_;
  std::vector<Session> sessions_;
  std::vector<std::size_t> active_sessions_;
  std::vector<std::pair<std::int64_t, std::uint64_t>> measurement_deadlines_;

  std::uint64_t next_circ_id_ = 1, next_conn_id_ = 1, next_flow_id_ = 1;
  std::uint64_t epoch_ = 0;
  std::uint64_t bw_rate_ = 0;
  std::uint64_t source_port_ = 40000;
  std::uint64_t ticks_ = 0;
  std::uint64_t bootstrap_problems_ = 0;
  std::uint32_t own_ip_ = 0;
  unsigned dir_streams_left_ = 0;
};

}  // namespace

std::string ns_all_reply(const NsAllOptions& opts) {
  std::vector<Router> routers;
  routers.reserve(opts.routers);
  for (std::size_t i = 0; i < opts.routers; ++i) routers.push_back(make_router(opts.seed, i));
  // A consensus lists routers by identity; ties (practically impossible) fall back to index
  // so the order is total and std::sort's result is the same everywhere.
  std::vector<std::size_t> order(routers.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return routers[a].identity != routers[b].identity ? routers[a].identity < routers[b].identity
                                                      : a < b;
  });

  std::string out;
  out.reserve(64 + routers.size() * 400);  // ~390 B/entry
  out += "250+ns/all=\r\n";
  TimeFormatter tf;
  for (std::size_t i : order) put_router_entry(out, routers[i], tf);
  out += ".\r\n250 OK\r\n";
  return out;
}

std::string event_stream(const EventOptions& opts) {
  if (opts.events == 0) return {};
  return EventSim(opts).run();
}

}  // namespace torcon::gen
