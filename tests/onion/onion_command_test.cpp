// The commands the onion functions send, byte for byte, and the input they
// refuse before anything is sent; ONION_CLIENT_AUTH_VIEW replies parsed.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "torcon/onion_keys.hpp"
#include "torcon/onion_service.hpp"
#include "torcon/reply_reader.hpp"

namespace {

using torcon::Errc;
using torcon::OnionPort;
using torcon::OnionServiceSpec;

const std::string kId = "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid";
const std::string kClient = "quqpacmjgctvi5elpxolipxxlig36oqney4bv5hlusuy5ku3jzva";
const std::string kFp = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

std::string wire(const OnionServiceSpec& s) {
  auto c = torcon::add_onion_command(s);
  return c ? c->wire() : "error: " + c.error().message;
}

OnionServiceSpec spec(std::vector<OnionPort> ports) {
  OnionServiceSpec s;
  s.ports = std::move(ports);
  return s;
}

TEST(AddOnionCommand, Forms) {
  const std::string key = torcon::new_onion_key();
  struct Case {
    OnionServiceSpec spec;
    std::string expected;
  };
  OnionServiceSpec flags = spec({{80, ""}});
  flags.discard_key = flags.detach = flags.max_streams_close_circuit = flags.non_anonymous = true;
  flags.max_streams = 7;
  OnionServiceSpec auth = spec({{443, "127.0.0.1:8443"}});
  auth.client_keys = {kClient, "QUQPACMJGCTVI5ELPXOLIPXXLIG36OQNEY4BV5HLUSUY5KU3JZVA"};
  OnionServiceSpec given = spec({{80, "8080"}});
  given.key = key;
  OnionServiceSpec prefixed = given;
  prefixed.key = "ED25519-V3:" + key;
  OnionServiceSpec unlimited = spec({{1, "unix:/run/web.sock"}, {65535, "[::1]:65535"}});
  unlimited.max_streams = 0;
  const Case cases[] = {
      {spec({{80, ""}}), "ADD_ONION NEW:ED25519-V3 Port=80\r\n"},
      {spec({{80, "localhost:8080"}, {22, "22"}}),
       "ADD_ONION NEW:ED25519-V3 Port=80,localhost:8080 Port=22,22\r\n"},
      {flags,
       "ADD_ONION NEW:ED25519-V3 Flags=DiscardPK,Detach,MaxStreamsCloseCircuit,NonAnonymous "
       "MaxStreams=7 Port=80\r\n"},
      {auth, "ADD_ONION NEW:ED25519-V3 Flags=V3Auth Port=443,127.0.0.1:8443 ClientAuthV3=" +
                 kClient + " ClientAuthV3=" + kClient + "\r\n"},
      {given, "ADD_ONION ED25519-V3:" + key + " Port=80,8080\r\n"},
      {prefixed, "ADD_ONION ED25519-V3:" + key + " Port=80,8080\r\n"},
      {unlimited,
       "ADD_ONION NEW:ED25519-V3 MaxStreams=0 Port=1,unix:/run/web.sock "
       "Port=65535,[::1]:65535\r\n"},
  };
  for (const Case& c : cases) EXPECT_EQ(wire(c.spec), c.expected);
}

TEST(AddOnionCommand, BadInputRefused) {
  struct Case {
    OnionServiceSpec spec;
    const char* why;
  };
  OnionServiceSpec bad_key = spec({{80, ""}});
  bad_key.key = "AAAA";
  OnionServiceSpec discard_given = spec({{80, ""}});
  discard_given.key = torcon::new_onion_key();
  discard_given.discard_key = true;
  OnionServiceSpec short_client = spec({{80, ""}});
  short_client.client_keys = {kClient.substr(1)};
  OnionServiceSpec long_client = spec({{80, ""}});
  long_client.client_keys = {kClient + "a"};
  OnionServiceSpec inject_client = spec({{80, ""}});
  inject_client.client_keys = {kClient.substr(0, 50) + "\r\n"};
  OnionServiceSpec many_streams = spec({{80, ""}});
  many_streams.max_streams = 65536;
  const Case cases[] = {
      {spec({}), "no ports"},
      {spec({{0, ""}}), "virtual port 0"},
      {spec({{65536, ""}}), "virtual port 65536"},
      {spec({{80, "0"}}), "target port 0"},
      {spec({{80, "65536"}}), "target port 65536"},
      {spec({{80, "127.0.0.1:"}}), "target without port"},
      {spec({{80, ":80"}}), "target without host"},
      {spec({{80, "127.0.0.1:80 Port=22"}}), "space in target"},
      {spec({{80, "127.0.0.1:80\r\nSIGNAL HALT"}}), "CRLF in target"},
      {spec({{80, "unix:relative.sock"}}), "relative unix path"},
      {spec({{80, "unix:/a b"}}), "space in unix path"},
      {spec({{80, "unix:/a\"b"}}), "quote in unix path"},
      {bad_key, "malformed key"},
      {discard_given, "discard with a given key"},
      {short_client, "client key 51 characters"},
      {long_client, "client key 53 characters"},
      {inject_client, "CRLF in client key"},
      {many_streams, "MaxStreams 65536"},
  };
  for (const Case& c : cases) {
    auto cmd = torcon::add_onion_command(c.spec);
    ASSERT_FALSE(cmd) << c.why;
    EXPECT_EQ(cmd.error().code, Errc::bad_argument) << c.why << ": " << cmd.error().message;
    EXPECT_FALSE(cmd.error().message.empty());
  }
}

TEST(HspostCommand, Forms) {
  auto c = torcon::hspost_command("hs-descriptor 3\n.dot\nend", kId + ".onion",
                                  {kFp, "$" + kFp + "~nick"});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->wire(), "+HSPOST SERVER=$" + kFp + " SERVER=$" + kFp + "~nick HSADDRESS=" + kId +
                           "\r\nhs-descriptor 3\r\n..dot\r\nend\r\n.\r\n");
}

TEST(HspostCommand, RefusedBeforeSending) {
  struct Case {
    std::string descriptor, address;
    std::vector<std::string> servers;
    const char* why;
  };
  const Case cases[] = {
      {"desc", "", {}, "no HSADDRESS (tor 0.4.9 would not answer)"},
      {"desc", "abcdefghijklmnop", {}, "v2 address"},
      {"", kId, {}, "empty descriptor"},
      {"desc", kId, {"nickname"}, "server not a fingerprint"},
      {"desc", kId, {kFp.substr(1)}, "39 hex digits"},
      {"desc", kId, {kFp + "~"}, "empty nickname"},
      {"desc", kId, {kFp + " x"}, "space in server"},
      {std::string("a\0b", 3), kId, {}, "NUL in the body"},
  };
  for (const Case& c : cases) {
    auto cmd = torcon::hspost_command(c.descriptor, c.address, c.servers);
    ASSERT_FALSE(cmd) << c.why;
  }
}

torcon::OwnedReply reply_of(const std::string& bytes) {
  torcon::ReplyReader rd;
  rd.feed(bytes);
  torcon::Reply r;
  EXPECT_EQ(rd.next(r), torcon::ReplyReader::Next::reply);
  return r.copy();
}

TEST(ClientAuthView, Parsed) {
  const torcon::OwnedReply r = reply_of(
      "250-ONION_CLIENT_AUTH_VIEW\r\n"
      "250-CLIENT " +
      kId +
      " x25519:dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo= "
      "ClientName=alice Flags=Permanent\r\n"
      "250-CLIENT hvabpq7iioevvevxbktu2g36xsojqlgpf3cjndgazvk7ckxumygcmyyd x25519:AAAA\r\n"
      "250 OK\r\n");
  auto v = torcon::parse_client_auth_view(r.view());
  ASSERT_TRUE(v) << v.error().message;
  ASSERT_EQ(v->size(), 2u);
  EXPECT_EQ((*v)[0].service_id, kId);
  EXPECT_EQ((*v)[0].key_type, "x25519");
  EXPECT_EQ((*v)[0].private_key, "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=");
  EXPECT_EQ((*v)[0].client_name, "alice");
  EXPECT_EQ((*v)[0].flags, std::vector<std::string>{"Permanent"});
  EXPECT_EQ((*v)[1].client_name, "");
  EXPECT_TRUE((*v)[1].flags.empty());

  const torcon::OwnedReply empty = reply_of("250-ONION_CLIENT_AUTH_VIEW\r\n250 OK\r\n");
  auto e = torcon::parse_client_auth_view(empty.view());
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->empty());

  for (const char* bad : {"250-CLIENT "
                          "x\r\n250 OK\r\n",
                          "250-CLIENT a nokeytype\r\n250 OK\r\n",
                          "250-CLIENT a x25519:k ClientName=\"open\r\n250 OK\r\n"}) {
    const torcon::OwnedReply b = reply_of(bad);
    EXPECT_FALSE(torcon::parse_client_auth_view(b.view())) << bad;
  }
}

}  // namespace
