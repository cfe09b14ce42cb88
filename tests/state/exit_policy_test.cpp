// Full exit policies from server descriptors (exit_policy.hpp): the rule
// parser, first-match evaluation for IPv4 and IPv6, splitting desc/all-recent,
// and TorState answering exits_to(address, port) from a descriptor where the
// summary cannot.

#include "torcon/exit_policy.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "state/state_fixture.hpp"
#include "torcon/tor_state.hpp"

namespace {

using torcon::ExitPolicy;
using torcon::ExitRule;
using torcon::IpAddress;
using torcon::PolicySource;
using torcon::TorState;
using torcon::test::entry;
using torcon::test::Feeder;
using torcon::test::hex_of;

struct RuleCase {
  const char* line;
  bool ok;
  const char* address;  // probe (when ok)
  int port;
  bool matches;
};

TEST(ExitRules, ParseAndMatch) {
  for (const RuleCase& c : std::vector<RuleCase>{
           {"accept *:*", true, "192.0.2.1", 80, true},
           {"accept *:*", true, "2001:db8::1", 80, true},
           {"reject *:25", true, "192.0.2.1", 25, true},
           {"reject *:25", true, "192.0.2.1", 26, false},
           {"accept 127.0.0.0/8:*", true, "127.0.0.1", 8080, true},
           {"accept 127.0.0.0/8:*", true, "127.255.255.255", 1, true},
           {"accept 127.0.0.0/8:*", true, "128.0.0.1", 8080, false},
           {"accept 127.0.0.0/8:*", true, "::1", 8080, false},  // IPv4 rule, IPv6 address
           {"accept 192.0.2.0/255.255.255.0:80-443", true, "192.0.2.200", 443, true},
           {"accept 192.0.2.0/255.255.255.0:80-443", true, "192.0.2.200", 444, false},
           {"accept 192.0.2.0/255.255.255.0:80-443", true, "192.0.3.1", 80, false},
           {"accept 192.0.2.7:80", true, "192.0.2.7", 80, true},  // no mask: the host
           {"accept 192.0.2.7:80", true, "192.0.2.8", 80, false},
           {"accept 192.0.2.77/26:80", true, "192.0.2.64", 80, true},  // host bits masked off
           {"accept 192.0.2.77/26:80", true, "192.0.2.128", 80, false},
           {"accept 0.0.0.0/0:53", true, "198.51.100.1", 53, true},
           {"reject [2001:db8::]/32:*", true, "2001:db8:1::5", 22, true},
           {"reject [2001:db8::]/32:*", true, "2001:db9::5", 22, false},
           {"reject [2001:db8::]/32:*", true, "192.0.2.1", 22, false},
           {"accept [::1]:80", true, "[::1]", 80, true},
           {"accept6 *:443", true, "2001:db8::1", 443, true},
           {"accept6 *:443", true, "192.0.2.1", 443, false},
           {"accept *4:443", true, "2001:db8::1", 443, false},
           {"reject *6:443", true, "2001:db8::1", 443, true},
           {"accept  *:80  ", true, "192.0.2.1", 80, true},  // extra spaces
           {"accept *:80\r", true, "192.0.2.1", 80, true},
           {"allow *:80", false, "", 0, false},
           {"accept", false, "", 0, false},
           {"accept *", false, "", 0, false},
           {"accept *:", false, "", 0, false},
           {"accept *:0", false, "", 0, false},
           {"accept *:65536", false, "", 0, false},
           {"accept *:443-80", false, "", 0, false},
           {"accept *:80-", false, "", 0, false},
           {"accept *:-80", false, "", 0, false},
           {"accept *:8x", false, "", 0, false},
           {"accept 192.0.2.1/33:80", false, "", 0, false},
           {"accept 192.0.2.1/255.0.255.0:80", false, "", 0, false},  // mask not contiguous
           {"accept 192.0.2:80", false, "", 0, false},
           {"accept 192.0.2.256:80", false, "", 0, false},
           {"accept [2001:db8::/32:80", false, "", 0, false},
           {"accept [2001:db8::]/129:80", false, "", 0, false},
           {"accept 2001:db8::1:80", false, "", 0, false},  // IPv6 must be bracketed
           {"accept6 192.0.2.1:80", false, "", 0, false},
           {"accept example.com:80", false, "", 0, false},
       }) {
    SCOPED_TRACE(c.line);
    auto r = ExitRule::parse(c.line);
    ASSERT_EQ(bool(r), c.ok) << (r ? "" : r.error().message);
    if (!c.ok) {
      EXPECT_NE(r.error().message.find("exit policy line"), std::string::npos);
      continue;
    }
    auto a = IpAddress::parse(c.address);
    ASSERT_TRUE(a.has_value()) << c.address;
    EXPECT_EQ(r->matches(*a, std::uint16_t(c.port)), c.matches) << c.address << ":" << c.port;
  }
}

TEST(ExitRules, AddressesParse) {
  EXPECT_FALSE(IpAddress::parse("192.0.2.1")->v6);
  EXPECT_TRUE(IpAddress::parse("2001:db8::1")->v6);
  EXPECT_EQ(IpAddress::parse("[2001:db8::1]"), IpAddress::parse("2001:db8::1"));
  for (const char* bad : {"", "example.com", "192.0.2", "[192.0.2.1", "[]", "1.2.3.4.5", "::g"})
    EXPECT_FALSE(IpAddress::parse(bad).has_value()) << bad;
}

const char* kDescriptor =
    "router exit1 192.0.2.9 9001 0 0\n"
    "identity-ed25519\n-----BEGIN ED25519 CERT-----\nAQQABw==\n-----END ED25519 CERT-----\n"
    "platform Tor 0.4.9.3 on Linux\n"
    "fingerprint %FP%\n"
    "bandwidth 1073741824 1073741824 0\n"
    "reject 0.0.0.0/8:*\n"
    "reject 192.0.2.9:*\n"
    "accept 127.0.0.0/8:*\n"
    "accept 192.0.2.0/24:80\n"
    "reject [2001:db8:bad::]/48:*\n"
    "reject *:*\n"
    "ipv6-policy accept 80,443\n"
    "router-signature\n-----BEGIN SIGNATURE-----\nAAAA\n-----END SIGNATURE-----\n";

std::string descriptor_of(int n) {
  std::string d = kDescriptor;
  std::string fp = hex_of(n), grouped;
  for (std::size_t i = 0; i < fp.size(); i += 4) grouped += (i ? " " : "") + fp.substr(i, 4);
  d.replace(d.find("%FP%"), 4, grouped);
  return d;
}

struct PolicyCase {
  const char* address;
  int port;
  bool allowed;
};

TEST(ExitPolicies, FirstMatchingRuleDecides) {
  auto p = ExitPolicy::from_descriptor(descriptor_of(1));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->rules().size(), 6u);
  ASSERT_TRUE(p->ipv6_summary().has_value());
  for (const PolicyCase& c : std::vector<PolicyCase>{
           {"127.0.0.1", 8080, true},
           {"127.9.9.9", 1, true},
           {"192.0.2.9", 80, false},  // its own address, rejected before the /24
           {"192.0.2.10", 80, true},
           {"192.0.2.10", 81, false},
           {"198.51.100.1", 80, false},  // reject *:*
           {"0.1.2.3", 80, false},
           {"2001:db8::1", 80, true},  // ipv6-policy
           {"2001:db8::1", 22, false},
           {"2001:db8:bad::1", 80, false},  // an IPv6 rule before the summary
           {"127.0.0.1", 0, false},         // port 0 carries no stream
       }) {
    EXPECT_EQ(p->allows(*IpAddress::parse(c.address), std::uint16_t(c.port)), c.allowed)
        << c.address << ":" << c.port;
  }
}

TEST(ExitPolicies, NoMatchAcceptsAndNoIpv6PolicyRejectsIpv6) {
  auto p = ExitPolicy::from_descriptor("router x 192.0.2.1 9001 0 0\nreject *:25\n");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->allows(*IpAddress::parse("192.0.2.5"), 80));  // dir-spec: no match accepts
  EXPECT_FALSE(p->allows(*IpAddress::parse("192.0.2.5"), 25));
  EXPECT_FALSE(p->allows(*IpAddress::parse("2001:db8::5"), 80));
}

TEST(ExitPolicies, MalformedPolicyLineIsAnError) {
  for (const char* d : {"router x 192.0.2.1 9001 0 0\naccept *:99999\n",
                        "router x 192.0.2.1 9001 0 0\nreject nonsense\n",
                        "router x 192.0.2.1 9001 0 0\nipv6-policy accept 443,80\n"}) {
    auto p = ExitPolicy::from_descriptor(d);
    EXPECT_FALSE(p) << d;
  }
}

TEST(ExitPolicies, SplitsDescriptorsAndReadsFingerprints) {
  const std::string all = descriptor_of(1) + descriptor_of(2) +
                          "router nofp 192.0.2.3 9001 0 0\nfingerprint 12 34\nreject *:*\n";
  auto ds = torcon::split_server_descriptors(all);
  ASSERT_EQ(ds.size(), 3u);
  ASSERT_TRUE(ds[0].identity.has_value());
  EXPECT_EQ(torcon::fingerprint_hex(*ds[0].identity), hex_of(1));
  EXPECT_EQ(torcon::fingerprint_hex(*ds[1].identity), hex_of(2));
  EXPECT_FALSE(ds[2].identity.has_value());  // too short to be one
  EXPECT_TRUE(ds[0].text.starts_with("router exit1"));
  EXPECT_TRUE(ds[0].text.ends_with("-----END SIGNATURE-----\n"));
  EXPECT_EQ(ds[0].text.size() + ds[1].text.size() + ds[2].text.size(), all.size());
}

// The data block as tor sends it (CRLF, dot-stuffed).
std::string data_block(const std::string& text) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t lf = text.find('\n', pos);
    if (lf == std::string::npos) lf = text.size();
    std::string_view line(text.data() + pos, lf - pos);
    if (line.starts_with(".")) out += ".";
    out += line;
    out += "\r\n";
    pos = lf + 1;
  }
  return out;
}

TEST(ExitPolicies, TorStateAnswersFromTheDescriptorAndSaysSo) {
  TorState st;
  Feeder f(st);
  ASSERT_TRUE(f.feed(torcon::test::ns_all_reply(
      {entry(1, "exit1", "192.0.2.9", 9001, {"s Exit Running Valid", "p reject 1-65535"}),
       entry(2, "other", "192.0.2.10", 9001, {"s Running Valid", "p accept 80"})})));
  const torcon::Router* r = st.router("$" + hex_of(1));
  ASSERT_NE(r, nullptr);
  // Before: only the summary, which rejects everything.
  EXPECT_EQ(r->exits_to("127.0.0.1", 8080).source, PolicySource::summary);
  EXPECT_FALSE(r->exits_to("127.0.0.1", 8080).allowed);
  EXPECT_EQ(r->exits_to("2001:db8::1", 80).source, PolicySource::none);
  EXPECT_EQ(r->exits_to("not an address", 80).source, PolicySource::none);

  std::vector<torcon::RouterChange> changes;
  st.on_router([&](const torcon::Router&, torcon::RouterChange c) { changes.push_back(c); });
  // desc/id/: keyed by the identity; a descriptor of an unknown router is skipped.
  ASSERT_TRUE(f.feed("250+desc/id/" + hex_of(1) + "=\r\n" + data_block(descriptor_of(1)) +
                     ".\r\n250 OK\r\n"));
  EXPECT_EQ(changes.size(), 1u);
  EXPECT_EQ(r->exits_to("127.0.0.1", 8080).source, PolicySource::descriptor);
  EXPECT_TRUE(r->exits_to("127.0.0.1", 8080).allowed);
  EXPECT_FALSE(r->exits_to("198.51.100.1", 80).allowed);
  EXPECT_TRUE(r->exits_to("[2001:db8::1]", 443).allowed);
  EXPECT_EQ(r->exits_to(80).source, PolicySource::summary);  // the port-only form stays
  // desc/all-recent with a router the state does not know.
  ASSERT_TRUE(f.feed("250+desc/all-recent=\r\n" + data_block(descriptor_of(2) + descriptor_of(7)) +
                     ".\r\n250 OK\r\n"));
  EXPECT_EQ(st.router("$" + hex_of(2))->exits_to("127.0.0.1", 80).source, PolicySource::descriptor);
  // A malformed one is an error and leaves the policy as it was.
  std::string broken = descriptor_of(1);
  broken.replace(broken.find("reject *:*"), 10, "reject *:0");
  EXPECT_FALSE(
      f.feed("250+desc/id/" + hex_of(1) + "=\r\n" + data_block(broken) + ".\r\n250 OK\r\n"));
  EXPECT_TRUE(r->exits_to("127.0.0.1", 8080).allowed);
  // Not attached: load_descriptors says so.
  std::optional<torcon::Status> s;
  st.load_descriptors([&](const torcon::Status& x) { s = x; });
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->error().code, torcon::Errc::bad_argument);
}

}  // namespace
