// gen/network_status.hpp: GETINFO ns/all and the microdescriptor consensus as
// tor 0.4.9 writes them. The shapes are checked from scratch (wire_checks.hpp)
// against dir-spec 3.4.1/3.9.2 and tor's routerstatus_format_entry(); then
// torcon's own readers must accept every entry and read back the same values.

#include "gen/network_status.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gen/wire_checks.hpp"
#include "torcon/reply_reader.hpp"
#include "torcon/router_entry.hpp"
#include "torcon/router_status.hpp"

namespace torcon::gen {
namespace {

using namespace torcon::gen::testing;

constexpr std::string_view kNsAllHead = "250+ns/all=";
constexpr std::string_view kMdHead = "250+dir/status-vote/current/consensus-microdesc=";
constexpr std::int64_t k2038 = 2145916800;  // 2038-01-01 00:00:00 UTC

// One router status entry: its lines' values by keyword, and the keyword order.
struct Entry {
  std::vector<std::string_view> r;  // fields after "r"
  std::vector<std::string_view> a;
  std::string_view m, s, v, pr, w, p;
  std::string order;  // one letter per line: r a m s v P(r) w p
};

// Parses router entries from `lines` (no framing, no header), checking that
// every line belongs to an entry and that no keyword repeats.
std::vector<Entry> parse_entries(const Lines& lines) {
  std::vector<Entry> entries;
  for (const std::string_view line : lines) {
    EXPECT_FALSE(line.starts_with(".")) << "a line that would need dot-stuffing: " << line;
    const std::size_t sp = line.find(' ');
    const std::string_view key = line.substr(0, sp);
    const std::string_view value = sp == std::string_view::npos ? "" : line.substr(sp + 1);
    if (key == "r") {
      Entry& e = entries.emplace_back();
      e.r = split(value, ' ');
      e.order = "r";
      continue;
    }
    if (entries.empty()) {
      ADD_FAILURE() << "line before the first r line: " << line;
      continue;
    }
    Entry& e = entries.back();
    if (key == "a") {
      e.a.push_back(value);
      e.order += 'a';
      continue;
    }
    std::string_view* slot = key == "m"    ? &e.m
                             : key == "s"  ? &e.s
                             : key == "v"  ? &e.v
                             : key == "pr" ? &e.pr
                             : key == "w"  ? &e.w
                             : key == "p"  ? &e.p
                                           : nullptr;
    if (!slot) {
      ADD_FAILURE() << "unexpected line: " << line;
      continue;
    }
    EXPECT_TRUE(slot->empty()) << "repeated '" << key << "' line in entry " << e.r[0];
    *slot = value;
    e.order += key == "pr" ? 'P' : key[0];
  }
  return entries;
}

// The entries of a GETINFO ns/all reply; they point into `reply`.
std::vector<Entry> ns_all_entries(const std::string& reply) {
  const Lines lines = split_crlf(reply);
  EXPECT_GE(lines.size(), 3u);
  if (lines.size() < 3) return {};
  EXPECT_EQ(lines.front(), kNsAllHead);
  EXPECT_EQ(lines[lines.size() - 2], ".");
  EXPECT_EQ(lines.back(), "250 OK");
  return parse_entries(Lines(lines.begin() + 1, lines.end() - 2));
}
std::vector<Entry> ns_all_entries(std::string&&) = delete;

// A consensus document split into header, entry and footer lines.
struct Document {
  Lines header, entries, footer;
};

Document split_document(const std::string& reply) {
  const Lines lines = split_crlf(reply);
  Document d;
  EXPECT_GE(lines.size(), 4u);
  if (lines.size() < 4) return d;
  EXPECT_EQ(lines.front(), kMdHead);
  EXPECT_EQ(lines[lines.size() - 2], ".");
  EXPECT_EQ(lines.back(), "250 OK");
  Lines* part = &d.header;
  for (auto it = lines.begin() + 1; it != lines.end() - 2; ++it) {
    if (it->starts_with("r ") && part == &d.header) part = &d.entries;
    if (*it == "directory-footer") part = &d.footer;
    part->push_back(*it);
  }
  return d;
}
Document split_document(std::string&&) = delete;

std::vector<std::uint8_t> decode_digest(std::string_view b64, std::size_t bytes) {
  std::vector<std::uint8_t> d = base64_decode(b64);
  EXPECT_EQ(d.size(), bytes) << b64;
  return d;
}

// ---------------------------------------------------------------------------------------------
// ns/all

TEST(NsAllTest, SameSeedSameBytesDifferentSeedDifferentBytes) {
  const std::string a = ns_all_reply({.routers = 300, .seed = 5});
  EXPECT_EQ(a, ns_all_reply({.routers = 300, .seed = 5}));
  EXPECT_NE(a, ns_all_reply({.routers = 300, .seed = 6}));
}

TEST(NsAllTest, ExactlyNRouters) {
  for (std::size_t n : {0u, 1u, 2u, 17u, 500u}) {
    const std::string reply = ns_all_reply({.routers = n, .seed = 3});
    std::size_t r_lines = 0;
    for (auto line : split_crlf(reply)) r_lines += line.starts_with("r ");
    EXPECT_EQ(r_lines, n);
    EXPECT_EQ(ns_all_entries(reply).size(), n);
  }
}

TEST(NsAllTest, FramingAndLineEnds) {
  const std::string reply = ns_all_reply({.routers = 50, .seed = 9});
  EXPECT_TRUE(reply.starts_with("250+ns/all=\r\nr "));
  EXPECT_TRUE(reply.ends_with("\r\n.\r\n250 OK\r\n"));
  // The only '\n' bytes are those of CRLF pairs.
  EXPECT_EQ(std::count(reply.begin(), reply.end(), '\n'),
            std::count(reply.begin(), reply.end(), '\r'));
  EXPECT_EQ(ns_all_reply({.routers = 0, .seed = 9}), "250+ns/all=\r\n.\r\n250 OK\r\n");
}

// As tor 0.4.9's routerstatus_format_entry() writes NS_CONTROL_PORT entries:
// r, at most one a, s, w with the bandwidth only, p when the descriptor is
// known; no publication time, no v/pr line.
TEST(NsAllTest, EntriesAsTor049WritesThem) {
  const std::string reply = ns_all_reply({.routers = 2000, .seed = 11});
  const auto entries = ns_all_entries(reply);
  ASSERT_EQ(entries.size(), 2000u);
  std::string previous_identity;
  for (const Entry& e : entries) {
    ASSERT_EQ(e.r.size(), 8u) << e.r[0];
    SCOPED_TRACE(e.r[0]);
    EXPECT_TRUE(e.order == "rsw" || e.order == "rswp" || e.order == "rasw" || e.order == "raswp")
        << e.order;
    EXPECT_TRUE(is_nickname(e.r[0]));
    for (int i : {1, 2}) EXPECT_EQ(e.r[i].size(), 27u) << e.r[i];
    // Sorted by identity, as in a consensus.
    const std::string identity = to_hex(decode_digest(e.r[1], 20));
    EXPECT_LT(previous_identity, identity);
    previous_identity = identity;
    decode_digest(e.r[2], 20);
    EXPECT_EQ(e.r[3], "2038-01-01");
    EXPECT_EQ(e.r[4], "00:00:00");
    std::uint32_t ip = 0;
    EXPECT_TRUE(parse_ipv4(e.r[5], ip)) << e.r[5];
    EXPECT_FALSE(is_rfc1918(ip) || is_loopback(ip) || (ip >> 24) == 0 || (ip >> 24) >= 224)
        << e.r[5];
    std::uint64_t or_port = 0, dir_port = 0;
    EXPECT_TRUE(parse_uint(e.r[6], or_port) && or_port >= 1 && or_port <= 65535) << e.r[6];
    EXPECT_TRUE(e.r[7] == "0" || (parse_uint(e.r[7], dir_port) && dir_port <= 65535)) << e.r[7];

    for (auto a : e.a) {
      const std::size_t close = a.find("]:");
      ASSERT_TRUE(a.starts_with("[") && close != std::string_view::npos) << a;
      std::array<std::uint8_t, 16> addr{};
      EXPECT_EQ(inet_pton(AF_INET6, std::string(a.substr(1, close - 1)).c_str(), addr.data()), 1)
          << a;
      EXPECT_TRUE(parse_uint(a.substr(close + 2), or_port)) << a;
    }

    const auto flags = split(e.s, ' ');
    EXPECT_TRUE(std::is_sorted(flags.begin(), flags.end())) << e.s;
    EXPECT_EQ(std::adjacent_find(flags.begin(), flags.end()), flags.end()) << e.s;
    EXPECT_NE(std::find(flags.begin(), flags.end(), "Running"), flags.end()) << e.s;
    EXPECT_NE(std::find(flags.begin(), flags.end(), "Valid"), flags.end()) << e.s;

    std::uint64_t bw = 0;
    EXPECT_TRUE(e.w.starts_with("Bandwidth=") && parse_uint(e.w.substr(10), bw)) << e.w;
    if (!e.p.empty()) {
      EXPECT_TRUE(e.p.starts_with("accept ") || e.p.starts_with("reject ")) << e.p;
      if (std::find(flags.begin(), flags.end(), "Exit") != flags.end()) {
        EXPECT_NE(e.p, "reject 1-65535");
      }
    }
  }
}

TEST(NsAllTest, AClientWithoutDescriptorsWritesNoPolicies) {
  const std::string relay = ns_all_reply({.routers = 400, .seed = 2});
  const std::string client = ns_all_reply({.routers = 400, .seed = 2, .descriptors = false});
  std::string relay_without_p;
  for (auto line : split_crlf(relay)) {
    if (line.starts_with("p ")) continue;
    relay_without_p += line;
    relay_without_p += "\r\n";
  }
  EXPECT_EQ(client, relay_without_p);
  EXPECT_NE(client, relay);
}

TEST(NsAllTest, RealisticMix) {
  const std::string reply = ns_all_reply({});
  const auto entries = ns_all_entries(reply);
  ASSERT_EQ(entries.size(), 8000u);
  std::map<std::string_view, int> flag_count;
  int with_ipv6 = 0, dir_port_zero = 0, reject_all = 0, no_policy = 0;
  std::set<std::string_view> addresses;
  for (const Entry& e : entries) {
    for (auto f : split(e.s, ' ')) ++flag_count[f];
    with_ipv6 += !e.a.empty();
    dir_port_zero += e.r[7] == "0";
    reject_all += e.p == "reject 1-65535";
    no_policy += e.p.empty();
    addresses.insert(e.r[5]);
  }
  const auto share = [](int n) { return n * 100 / 8000; };
  EXPECT_GE(share(flag_count["Exit"]), 15);
  EXPECT_LE(share(flag_count["Exit"]), 25);
  EXPECT_GE(share(flag_count["Guard"]), 20);
  EXPECT_LE(share(flag_count["Guard"]), 35);
  EXPECT_GE(share(with_ipv6), 35);
  EXPECT_LE(share(with_ipv6), 45);
  EXPECT_GE(share(dir_port_zero), 80);
  EXPECT_GE(share(reject_all), 70);
  EXPECT_GT(no_policy, 0);  // descriptors not fetched yet
  EXPECT_LT(share(no_policy), 2);
  EXPECT_EQ(flag_count["Authority"], 9);
  EXPECT_GT(flag_count["BadExit"], 0);
  EXPECT_GT(flag_count["MiddleOnly"], 0);
  EXPECT_GT(flag_count["StaleDesc"], 0);
  EXPECT_EQ(flag_count["Sybil"], 0);
  // Operators run several relays per address.
  EXPECT_LT(addresses.size(), 8000u * 97 / 100);
}

TEST(NsAllTest, SmallerNetworkIsASubsetOfALargerOne) {
  const std::string small_reply = ns_all_reply({.routers = 100, .seed = 4});
  const std::string large_reply = ns_all_reply({.routers = 1000, .seed = 4});
  const auto large = split_crlf(large_reply);
  const std::set<std::string_view> large_r(large.begin(), large.end());
  for (auto line : split_crlf(small_reply)) {
    if (line.starts_with("r ")) {
      EXPECT_TRUE(large_r.contains(line)) << line;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The microdescriptor consensus

TEST(MicrodescConsensusTest, SameSeedSameBytesDifferentSeedDifferentBytes) {
  const std::string a = microdesc_consensus_reply({.routers = 300, .seed = 5});
  EXPECT_EQ(a, microdesc_consensus_reply({.routers = 300, .seed = 5}));
  EXPECT_NE(a, microdesc_consensus_reply({.routers = 300, .seed = 6}));
}

TEST(MicrodescConsensusTest, DocumentLayout) {
  const std::string reply = microdesc_consensus_reply({.routers = 700, .seed = 3});
  const Document d = split_document(reply);
  // Header items in dir-spec order, each once.
  constexpr std::array<std::string_view, 17> kHeader = {"network-status-version",
                                                        "vote-status",
                                                        "consensus-method",
                                                        "valid-after",
                                                        "fresh-until",
                                                        "valid-until",
                                                        "voting-delay",
                                                        "client-versions",
                                                        "server-versions",
                                                        "known-flags",
                                                        "recommended-client-protocols",
                                                        "recommended-relay-protocols",
                                                        "required-client-protocols",
                                                        "required-relay-protocols",
                                                        "params",
                                                        "shared-rand-previous-value",
                                                        "shared-rand-current-value"};
  ASSERT_GE(d.header.size(), kHeader.size());
  for (std::size_t i = 0; i < kHeader.size(); ++i) {
    EXPECT_EQ(split(d.header[i], ' ')[0], kHeader[i]) << d.header[i];
  }
  EXPECT_EQ(d.header[0], "network-status-version 3 microdesc");
  EXPECT_EQ(d.header[1], "vote-status consensus");
  EXPECT_EQ(d.header[3], "valid-after 2025-11-01 12:00:00");
  // Then one dir-source / contact / vote-digest triple per authority, sorted
  // by the authority key.
  const std::size_t rest = d.header.size() - kHeader.size();
  ASSERT_EQ(rest, 9u * 3);
  std::string previous;
  for (std::size_t i = kHeader.size(); i < d.header.size(); i += 3) {
    const auto f = split(d.header[i], ' ');
    ASSERT_EQ(f.size(), 7u) << d.header[i];
    EXPECT_EQ(f[0], "dir-source");
    EXPECT_TRUE(is_nickname(f[1]) && f[2].size() == 40 && is_upper_hex(f[2])) << d.header[i];
    EXPECT_LT(previous, f[2]);
    previous = f[2];
    EXPECT_TRUE(d.header[i + 1].starts_with("contact "));
    EXPECT_TRUE(d.header[i + 2].starts_with("vote-digest ") && d.header[i + 2].size() == 52);
  }
  // Footer: weights, then signatures in PEM-like blocks.
  ASSERT_GE(d.footer.size(), 2u);
  EXPECT_EQ(d.footer[0], "directory-footer");
  EXPECT_TRUE(d.footer[1].starts_with("bandwidth-weights Wbd=") &&
              d.footer[1].ends_with(" Wmm=10000"))
      << d.footer[1];
  std::size_t signatures = 0;
  for (std::size_t i = 2; i < d.footer.size(); ++i) {
    const auto f = split(d.footer[i], ' ');
    ASSERT_EQ(f.size(), 4u) << d.footer[i];
    EXPECT_EQ(f[0], "directory-signature");
    EXPECT_EQ(f[1], "sha256");
    ASSERT_EQ(d.footer[++i], "-----BEGIN SIGNATURE-----");
    std::string b64;
    while (++i < d.footer.size() && d.footer[i] != "-----END SIGNATURE-----") {
      EXPECT_LE(d.footer[i].size(), 64u);
      b64 += d.footer[i];
    }
    ASSERT_TRUE(b64.ends_with("=="));
    EXPECT_EQ(base64_decode(b64.substr(0, b64.size() - 2)).size(), 256u);
    ++signatures;
  }
  EXPECT_TRUE(signatures == 8 || signatures == 9) << signatures;
}

// dir-spec 3.9.2 as tor writes it: r without digest, a, m, s, v, pr, w; no p.
TEST(MicrodescConsensusTest, EntriesAsDirSpecSays) {
  const std::string reply = microdesc_consensus_reply({.routers = 2000, .seed = 11});
  const Document d = split_document(reply);
  const auto entries = parse_entries(d.entries);
  ASSERT_EQ(entries.size(), 2000u);
  std::set<std::string_view> versions;
  int unmeasured = 0;
  for (const Entry& e : entries) {
    ASSERT_EQ(e.r.size(), 7u) << e.r[0];
    SCOPED_TRACE(e.r[0]);
    EXPECT_TRUE(e.order == "rmsvPw" || e.order == "ramsvPw") << e.order;
    decode_digest(e.r[1], 20);
    EXPECT_EQ(e.r[2], "2038-01-01");
    EXPECT_EQ(e.r[3], "00:00:00");
    EXPECT_EQ(e.m.size(), 43u);
    decode_digest(e.m, 32);
    EXPECT_TRUE(e.v.starts_with("Tor 0.4.") || e.v.starts_with("Tor 0.5.")) << e.v;
    versions.insert(e.v);
    EXPECT_NE(e.pr.find("Link="), std::string_view::npos) << e.pr;
    EXPECT_NE(e.pr.find("Relay="), std::string_view::npos) << e.pr;
    std::uint64_t bw = 0;
    const auto w = split(e.w, ' ');
    EXPECT_TRUE(w[0].starts_with("Bandwidth=") && parse_uint(w[0].substr(10), bw)) << e.w;
    EXPECT_TRUE(w.size() == 1 || (w.size() == 2 && w[1] == "Unmeasured=1")) << e.w;
    unmeasured += w.size() == 2;
  }
  EXPECT_GE(versions.size(), 8u);
  EXPECT_GT(unmeasured, 50);
}

// Both documents describe one network: same relays in the same order, and the
// digest ns/all shows is the start of the microdescriptor digest.
TEST(MicrodescConsensusTest, SameRelaysAsNsAll) {
  const std::string ns = ns_all_reply({.routers = 1500, .seed = 8});
  const std::string md = microdesc_consensus_reply({.routers = 1500, .seed = 8});
  const auto ns_entries = ns_all_entries(ns);
  const Document d = split_document(md);
  const auto md_entries = parse_entries(d.entries);
  ASSERT_EQ(ns_entries.size(), md_entries.size());
  std::set<std::string_view> authorities;
  for (std::size_t i = 0; i < ns_entries.size(); ++i) {
    const Entry& n = ns_entries[i];
    const Entry& m = md_entries[i];
    SCOPED_TRACE(n.r[0]);
    EXPECT_EQ(n.r[0], m.r[0]);
    EXPECT_EQ(n.r[1], m.r[1]);
    const auto md_digest = decode_digest(m.m, 32);
    EXPECT_EQ(decode_digest(n.r[2], 20),
              std::vector<std::uint8_t>(md_digest.begin(), md_digest.begin() + 20));
    EXPECT_EQ(std::vector(n.r.begin() + 5, n.r.end()), std::vector(m.r.begin() + 4, m.r.end()));
    EXPECT_EQ(n.a, m.a);
    EXPECT_EQ(n.s, m.s);
    EXPECT_TRUE(m.w.starts_with(n.w)) << n.w << " vs " << m.w;
    if (n.s.starts_with("Authority ")) authorities.insert(n.r[0]);
  }
  // The dir-source entries are those authorities.
  std::set<std::string_view> sources;
  for (auto line : d.header) {
    if (line.starts_with("dir-source ")) sources.insert(split(line, ' ')[1]);
  }
  EXPECT_EQ(sources, authorities);
  EXPECT_EQ(sources.size(), 9u);
}

TEST(GoldenTest, DocumentsArePinned) {
  // Byte-for-byte: the generator promises identical output on every compiler
  // and platform. A deliberate change to the generator updates these values.
  EXPECT_EQ(fnv1a(ns_all_reply({.routers = 200, .seed = 42})), 0x0D5E1C491778A677ULL);
  EXPECT_EQ(fnv1a(microdesc_consensus_reply({.routers = 200, .seed = 42})), 0x8ECF41335F691A10ULL);
}

// ---------------------------------------------------------------------------------------------
// torcon's readers on the generated documents

// The data block of a single-reply text, framed by ReplyReader as a socket would be.
struct Framed {
  ReplyReader reader{ParserOptions{.record_data_lines = true}};
  Reply reply;
  std::string_view data;
  explicit Framed(const std::string& wire) {
    reader.feed(wire);
    EXPECT_EQ(reader.next(reply), ReplyReader::Next::reply) << reader.error().message;
    EXPECT_FALSE(reply.lines.empty());
    if (!reply.lines.empty()) data = reply.lines[0].data;
  }
};

// Compares one torcon RouterStatus with an entry parsed here.
void expect_same(const RouterStatus& st, const Entry& e, bool with_digest) {
  SCOPED_TRACE(e.r[0]);
  const std::size_t d = with_digest ? 1 : 0;  // index shift after the identity
  EXPECT_EQ(st.nickname(), e.r[0]);
  EXPECT_EQ(std::vector<std::uint8_t>(st.identity.begin(), st.identity.end()),
            base64_decode(e.r[1]));
  if (with_digest) {
    EXPECT_EQ(std::vector<std::uint8_t>(st.digest.begin(), st.digest.end()), base64_decode(e.r[2]));
  } else {
    EXPECT_EQ(st.digest, (std::array<std::uint8_t, 20>{}));
  }
  EXPECT_EQ(st.published, k2038);
  std::uint32_t ip = 0;
  ASSERT_TRUE(parse_ipv4(e.r[4 + d], ip));
  EXPECT_EQ(st.ipv4, ip);
  EXPECT_EQ(std::to_string(st.or_port), e.r[5 + d]);
  EXPECT_EQ(std::to_string(st.dir_port), e.r[6 + d]);
  EXPECT_EQ(st.flags_text, e.s);
  RouterFlags want;
  for (auto name : split(e.s, ' ')) {
    RouterFlag f;
    ASSERT_TRUE(parse_router_flag(name, f)) << name;
    want.set(f);
  }
  EXPECT_EQ(st.flags, want);
  EXPECT_EQ(st.has_ipv6, !e.a.empty());
  if (!e.a.empty()) {
    const std::string_view a = e.a[0];
    const std::size_t close = a.find("]:");
    std::array<std::uint8_t, 16> addr{};
    ASSERT_EQ(inet_pton(AF_INET6, std::string(a.substr(1, close - 1)).c_str(), addr.data()), 1);
    EXPECT_EQ(st.ipv6.addr, addr);
    EXPECT_EQ(std::to_string(st.ipv6.port), a.substr(close + 2));
    OrAddressLines lines(st.a_lines);
    std::string_view text;
    ASSERT_TRUE(lines.next(text));
    EXPECT_EQ(text, a);
    EXPECT_FALSE(lines.next(text));
  }
  EXPECT_TRUE(st.has_bandwidth);
  EXPECT_EQ("Bandwidth=" + std::to_string(st.bandwidth), split(e.w, ' ')[0]);
  EXPECT_EQ(st.unmeasured, e.w.ends_with(" Unmeasured=1"));
  EXPECT_FALSE(st.has_measured);
  EXPECT_EQ(st.version, e.v);
  EXPECT_EQ(st.protocols, e.pr);
  EXPECT_EQ(st.policy, e.p);
  EXPECT_EQ(st.policy.empty(), e.p.empty());
}

TEST(TorconReadsGeneratedDocuments, NsAllWithBothReaders) {
  for (const bool descriptors : {true, false}) {
    SCOPED_TRACE(descriptors);
    const std::string wire =
        ns_all_reply({.routers = 3000, .seed = 21, .descriptors = descriptors});
    const auto entries = ns_all_entries(wire);
    Framed f(wire);
    RouterStatusReader eager(f.data, f.reply.lines[0].data_line_ends);
    RouterEntryReader lazy(f.data);
    RouterStatus st;
    RouterEntry entry;
    std::size_t n = 0;
    while (eager.next(st)) {
      ASSERT_LT(n, entries.size());
      expect_same(st, entries[n], true);
      ASSERT_TRUE(lazy.next(entry)) << lazy.error().message;
      const Expected<RouterStatus> from_lazy = entry.to_status();
      ASSERT_TRUE(from_lazy) << from_lazy.error().message;
      expect_same(*from_lazy, entries[n], true);
      ++n;
    }
    EXPECT_EQ(eager.error().code, Errc::ok) << eager.error().message;
    EXPECT_FALSE(lazy.next(entry));
    EXPECT_EQ(lazy.error().code, Errc::ok) << lazy.error().message;
    EXPECT_EQ(n, entries.size());
  }
}

// A controller reads the router entries of the consensus document: the lines
// from the first "r" to "directory-footer".
TEST(TorconReadsGeneratedDocuments, MicrodescConsensusEntries) {
  const std::string wire = microdesc_consensus_reply({.routers = 3000, .seed = 22});
  const Document d = split_document(wire);
  const auto entries = parse_entries(d.entries);
  Framed f(wire);
  const std::size_t begin = f.data.find("\r\nr ") + 2;
  const std::size_t end = f.data.find("\r\ndirectory-footer\r\n") + 2;
  ASSERT_LT(begin, end);
  const std::string_view section = f.data.substr(begin, end - begin);
  RouterStatusReader eager(section);
  RouterEntryReader lazy(section);
  RouterStatus st;
  RouterEntry entry;
  std::size_t n = 0;
  while (eager.next(st)) {
    ASSERT_LT(n, entries.size());
    expect_same(st, entries[n], false);
    EXPECT_NE(st.entry.find("\r\nm " + std::string(entries[n].m) + "\r\n"), std::string::npos);
    ASSERT_TRUE(lazy.next(entry)) << lazy.error().message;
    const Expected<RouterStatus> from_lazy = entry.to_status();
    ASSERT_TRUE(from_lazy) << from_lazy.error().message;
    expect_same(*from_lazy, entries[n], false);
    ++n;
  }
  EXPECT_EQ(eager.error().code, Errc::ok) << eager.error().message;
  EXPECT_FALSE(lazy.next(entry));
  EXPECT_EQ(lazy.error().code, Errc::ok) << lazy.error().message;
  EXPECT_EQ(n, 3000u);
}

}  // namespace
}  // namespace torcon::gen
