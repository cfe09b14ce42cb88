// Typed events (control-spec 4.1). Every input goes through ReplyReader, as on
// a real connection; expectations come from the spec's grammar and from the
// lines tor 0.4.x writes (control_events.c formats), not from running parse_event.

#include "torcon/events.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/reply_reader.hpp"
#include "torcon/router_status.hpp"
#include "torcon/tokens.hpp"

namespace torcon {
namespace {

using ::testing::HasSubstr;
using namespace std::string_literals;

constexpr std::string_view kFp1 = "77B6D3A3F0A4F8E1C5B2A9D8E7F6A5B4C3D2E1F0";
constexpr std::string_view kFp2 = "8245AB0123456789abcdef0123456789ABCDEF01";
constexpr std::string_view kFp3 = "CC71F00DBAADF00D0123456789ABCDEF01234567";
const std::string kOnion = "vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd";

// Reads exactly one reply from `bytes` and keeps it (the reader dies here).
OwnedReply read_one(std::string_view bytes) {
  ReplyReader reader;
  reader.feed(bytes);
  Reply r;
  EXPECT_EQ(reader.next(r), ReplyReader::Next::reply) << reader.error().message;
  OwnedReply owned = r.copy();
  EXPECT_EQ(reader.next(r), ReplyReader::Next::need_more) << "more than one reply in input";
  return owned;
}

// One event: the kept reply plus what parse_event made of it.
struct Parsed {
  OwnedReply reply;
  Expected<Event> ev = Error();
};

// Parsed events live until the program ends, so a test may hold references
// into them freely (a deque never moves its elements).
const Parsed& parse(std::string_view bytes) {
  static std::deque<Parsed> kept;
  Parsed& p = kept.emplace_back();
  p.reply = read_one(bytes);
  p.ev = parse_event(p.reply.view());
  return p;
}

// A single-line event: "650 " + line + CRLF.
const Parsed& parse_line(const std::string& line) { return parse("650 " + line + "\r\n"); }

template <class T>
const T& body(const Parsed& p) {
  EXPECT_TRUE(p.ev.ok()) << p.ev.error().message;
  const T* t = p.ev.ok() ? p.ev->get<T>() : nullptr;
  EXPECT_NE(t, nullptr) << "wrong event struct";
  static const T empty{};
  return t ? *t : empty;
}

void expect_error(const Parsed& p, std::string_view event, std::string_view field) {
  ASSERT_FALSE(p.ev.ok()) << "parsed although malformed";
  EXPECT_EQ(p.ev.error().code, Errc::bad_argument);
  EXPECT_THAT(p.ev.error().message, HasSubstr(std::string(event)));
  EXPECT_THAT(p.ev.error().message, HasSubstr(std::string(field)));
}

std::vector<LongName> all_hops(LongNameReader r, bool expect_ok = true) {
  std::vector<LongName> out;
  LongName h;
  while (r.next(h)) out.push_back(h);
  EXPECT_EQ(r.error().code == Errc::ok, expect_ok) << r.error().message;
  return out;
}

// ---- event names -------------------------------------------------------------

TEST(EventType, EveryTypedNameMapsAndRoundTrips) {
  const std::pair<std::string_view, EventType> names[] = {
      {"CIRC", EventType::circ},
      {"CIRC_MINOR", EventType::circ_minor},
      {"STREAM", EventType::stream},
      {"ORCONN", EventType::orconn},
      {"BW", EventType::bw},
      {"CIRC_BW", EventType::circ_bw},
      {"STREAM_BW", EventType::stream_bw},
      {"ADDRMAP", EventType::addrmap},
      {"NS", EventType::ns},
      {"NEWCONSENSUS", EventType::newconsensus},
      {"NEWDESC", EventType::newdesc},
      {"GUARD", EventType::guard},
      {"STATUS_GENERAL", EventType::status_general},
      {"STATUS_CLIENT", EventType::status_client},
      {"STATUS_SERVER", EventType::status_server},
      {"HS_DESC", EventType::hs_desc},
      {"CONF_CHANGED", EventType::conf_changed},
      {"NETWORK_LIVENESS", EventType::network_liveness},
      {"SIGNAL", EventType::signal},
      {"BUILDTIMEOUT_SET", EventType::buildtimeout_set},
      {"DEBUG", EventType::debug},
      {"INFO", EventType::info},
      {"NOTICE", EventType::notice},
      {"WARN", EventType::warn},
      {"ERR", EventType::err},
  };
  for (auto [name, type] : names) {
    EXPECT_EQ(event_type(name), type) << name;
    EXPECT_EQ(to_string(type), name);
  }
}

TEST(EventType, UnknownAndNearMisses) {
  for (std::string_view n : {"", "circ", "CIRC_", "CIR", "STREAMS", "BW2", "HS_DESC_CONTENT",
                             "TRANSPORT_LAUNCHED", "CELL_STATS", "STATUS_CLIENTS", "NOTICE "})
    EXPECT_EQ(event_type(n), EventType::unknown) << n;
  // Same length, first and last byte as a known keyword: only the middle
  // tells them apart.
  for (std::string_view n : {"CXRC", "NOXICE", "STATUS_XLIENT", "SXRVER_STATUS", "BUILDTIMEOUT_XET",
                             "NEXWORK_LIVENESS", "SS", "BX", "EXR", "CIRC_MINOX"})
    EXPECT_EQ(event_type(n), EventType::unknown) << n;
  // control-spec 4.1.10: accept the pre-0.2.0.22-rc misspelling.
  EXPECT_EQ(event_type("STATUS_SEVER"), EventType::status_server);
  EXPECT_EQ(to_string(EventType::unknown), "");
}

TEST(EventType, EveryMemberRoundTrips) {
  for (unsigned i = 0; i < unsigned(EventType::unknown); ++i) {
    const EventType t = EventType(i);
    EXPECT_FALSE(to_string(t).empty()) << i;
    EXPECT_EQ(event_type(to_string(t)), t) << to_string(t);
  }
}

template <class T>
std::size_t body_index() {
  Event e;
  e.body.emplace<T>();
  return e.body.index();
}

// parse_event() gives each type its struct: one minimal event per type, and
// every type has one.
TEST(EventType, EachTypeParsesIntoItsStruct) {
  struct Case {
    std::string wire;
    EventType type;
    std::size_t body;
  };
  const Case cases[] = {
      {"650 CIRC 1 LAUNCHED\r\n", EventType::circ, body_index<CircEvent>()},
      {"650 CIRC_MINOR 1 CANNIBALIZED\r\n", EventType::circ_minor, body_index<CircMinorEvent>()},
      {"650 STREAM 1 NEW 0 a.b:80\r\n", EventType::stream, body_index<StreamEvent>()},
      {"650 ORCONN 1.2.3.4:9001 LAUNCHED\r\n", EventType::orconn, body_index<OrConnEvent>()},
      {"650 BW 1 2\r\n", EventType::bw, body_index<BwEvent>()},
      {"650 CIRC_BW ID=1 READ=0 WRITTEN=0\r\n", EventType::circ_bw, body_index<CircBwEvent>()},
      {"650 STREAM_BW 1 2 3\r\n", EventType::stream_bw, body_index<StreamBwEvent>()},
      {"650 ADDRMAP a b NEVER\r\n", EventType::addrmap, body_index<AddrMapEvent>()},
      {"650+NS\r\n.\r\n650 OK\r\n", EventType::ns, body_index<NetworkStatusEvent>()},
      {"650+NEWCONSENSUS\r\n.\r\n650 OK\r\n", EventType::newconsensus,
       body_index<NetworkStatusEvent>()},
      {"650 NEWDESC $" + std::string(kFp1) + "\r\n", EventType::newdesc,
       body_index<NewDescEvent>()},
      {"650 GUARD ENTRY $" + std::string(kFp1) + " UP\r\n", EventType::guard,
       body_index<GuardEvent>()},
      {"650 STATUS_GENERAL NOTICE CLOCK_JUMPED\r\n", EventType::status_general,
       body_index<StatusEvent>()},
      {"650 STATUS_CLIENT NOTICE ENOUGH_DIR_INFO\r\n", EventType::status_client,
       body_index<StatusEvent>()},
      {"650 STATUS_SERVER NOTICE GOOD_SERVER_DESCRIPTOR\r\n", EventType::status_server,
       body_index<StatusEvent>()},
      {"650 HS_DESC REQUESTED " + kOnion + " NO_AUTH UNKNOWN\r\n", EventType::hs_desc,
       body_index<HsDescEvent>()},
      {"650-CONF_CHANGED\r\n650-SocksPort=9050\r\n650 OK\r\n", EventType::conf_changed,
       body_index<ConfChangedEvent>()},
      {"650 NETWORK_LIVENESS UP\r\n", EventType::network_liveness,
       body_index<NetworkLivenessEvent>()},
      {"650 SIGNAL NEWNYM\r\n", EventType::signal, body_index<SignalEvent>()},
      {"650 BUILDTIMEOUT_SET COMPUTED TOTAL_TIMES=1\r\n", EventType::buildtimeout_set,
       body_index<BuildTimeoutSetEvent>()},
      {"650 DEBUG d\r\n", EventType::debug, body_index<LogEvent>()},
      {"650 INFO i\r\n", EventType::info, body_index<LogEvent>()},
      {"650 NOTICE n\r\n", EventType::notice, body_index<LogEvent>()},
      {"650 WARN w\r\n", EventType::warn, body_index<LogEvent>()},
      {"650 ERR e\r\n", EventType::err, body_index<LogEvent>()},
      {"650 CELL_STATS ID=1\r\n", EventType::unknown, body_index<UnknownEvent>()},
  };
  std::vector<bool> seen(std::size_t(EventType::unknown) + 1);
  for (const Case& c : cases) {
    const Parsed& p = parse(c.wire);
    ASSERT_TRUE(p.ev.ok()) << c.wire << ": " << p.ev.error().message;
    EXPECT_EQ(p.ev->type, c.type) << c.wire;
    EXPECT_EQ(p.ev->body.index(), c.body) << c.wire;
    seen[std::size_t(c.type)] = true;
  }
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_TRUE(seen[i]) << "no case for " << i;
}

// The keyword ends at the first space wherever that falls: within the first
// 16 bytes of the line or after them, and in a line shorter than 16 bytes.
TEST(EventType, KeywordEndsAtTheFirstSpaceWhateverItsLength) {
  struct Case {
    std::string text;  // after "650 "
    std::string name, args;
  };
  const std::vector<Case> cases = {
      {"SIGNAL NEWNYM", "SIGNAL", "NEWNYM"},
      {"SIGNAL RELOAD and some more arguments", "SIGNAL", "RELOAD and some more arguments"},
      {"X", "X", ""},
      {"X y", "X", "y"},
      {"FIFTEEN_LETTERS rest", "FIFTEEN_LETTERS", "rest"},
      {"SIXTEEN_LETTERS_ rest", "SIXTEEN_LETTERS_", "rest"},
      {"SEVENTEEN_LETTERS rest", "SEVENTEEN_LETTERS", "rest"},
      {"A_KEYWORD_OF_THIRTY_ONE_LETTER", "A_KEYWORD_OF_THIRTY_ONE_LETTER", ""},
      {"A_KEYWORD_OF_THIRTY_ONE_LETTERS  two spaces", "A_KEYWORD_OF_THIRTY_ONE_LETTERS",
       " two spaces"},
  };
  for (const Case& c : cases) {
    const Parsed& p = parse_line(c.text);
    ASSERT_TRUE(p.ev.ok()) << c.text << ": " << p.ev.error().message;
    EXPECT_EQ(p.ev->name, c.name) << c.text;
    if (const UnknownEvent* u = p.ev->get<UnknownEvent>()) {
      EXPECT_EQ(u->raw_args, c.args) << c.text;
    }
  }
}

// ---- LongName ----------------------------------------------------------------

TEST(LongName, Forms) {
  LongName n;
  const std::string a = "$" + std::string(kFp1) + "~relay0";
  const std::string b = "$" + std::string(kFp2);
  const std::string c = "$" + std::string(kFp3) + "=OldNamed";
  ASSERT_TRUE(parse_long_name(a, n));
  EXPECT_TRUE(n.has_fingerprint);
  EXPECT_FALSE(n.named);
  EXPECT_EQ(n.fingerprint, kFp1);
  EXPECT_EQ(n.nickname, "relay0");
  EXPECT_EQ(n.identity[0], 0x77);
  EXPECT_EQ(n.identity[1], 0xB6);
  EXPECT_EQ(n.identity[19], 0xF0);

  ASSERT_TRUE(parse_long_name(b, n));  // lower-case hex too
  EXPECT_EQ(n.nickname, "");
  EXPECT_EQ(n.identity[6], 0x67);
  EXPECT_EQ(n.identity[10], 0xEF);

  ASSERT_TRUE(parse_long_name(c, n));
  EXPECT_TRUE(n.named);
  EXPECT_EQ(n.nickname, "OldNamed");

  ASSERT_TRUE(parse_long_name("moria1", n));
  EXPECT_FALSE(n.has_fingerprint);
  EXPECT_EQ(n.nickname, "moria1");
}

TEST(LongName, Malformed) {
  LongName n;
  const std::string fp(kFp1);
  EXPECT_FALSE(parse_long_name("", n));
  EXPECT_FALSE(parse_long_name("$", n));
  EXPECT_FALSE(parse_long_name("$" + fp.substr(0, 39), n));              // 39 hex
  EXPECT_FALSE(parse_long_name("$" + fp.substr(0, 39) + "G", n));        // not hex
  EXPECT_FALSE(parse_long_name("$" + fp + "~", n));                      // empty nickname
  EXPECT_FALSE(parse_long_name("$" + fp + "x", n));                      // no separator
  EXPECT_FALSE(parse_long_name("$" + fp + "~abcdefghij0123456789", n));  // 20 chars
  EXPECT_FALSE(parse_long_name("$" + fp + "~bad-nick", n));
  EXPECT_FALSE(parse_long_name("not a nick", n));
}

// The fingerprint is decoded by table: every byte value at every digit
// position is accepted exactly when it is a hex digit, and then decoded to
// its value (a table entry off by one, or a wrong mask for the "not hex"
// mark, shows here).
TEST(LongName, EveryByteAtEveryFingerprintDigit) {
  const std::string fp(kFp1);
  LongName n;
  for (std::size_t at = 0; at < 40; ++at) {
    for (int c = 0; c < 256; ++c) {
      std::string text = "$" + fp + "~relay0";
      text[1 + at] = char(c);
      const int digit = hex_value(char(c));
      ASSERT_EQ(parse_long_name(text, n), digit >= 0) << "byte " << c << " at digit " << at;
      if (digit < 0) continue;
      const int other = hex_value(fp[at ^ 1]);
      const int want = at % 2 == 0 ? digit << 4 | other : other << 4 | digit;
      ASSERT_EQ(n.identity[at / 2], want) << "byte " << c << " at digit " << at;
    }
  }
  // Every byte of the identity, from digits of both cases in every position.
  std::string all = "$";
  for (int i = 0; i < 20; ++i) {
    const char* hex = "0123456789abcdefABCDEF";
    all += hex[(i * 7) % 22];
    all += hex[(i * 11 + 3) % 22];
  }
  ASSERT_TRUE(parse_long_name(all, n));
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(n.identity[i], hex_value(all[1 + 2 * i]) << 4 | hex_value(all[2 + 2 * i])) << i;
}

// ---- CIRC ----------------------------------------------------------------------

TEST(Circ, BuiltFromTor049) {
  const std::string line = "CIRC 3 BUILT $" + std::string(kFp1) + "~relay0,$" + std::string(kFp2) +
                           "~auth2,$" + std::string(kFp3) +
                           "~exit0 BUILD_FLAGS=IS_INTERNAL,NEED_CAPACITY PURPOSE=GENERAL "
                           "TIME_CREATED=2026-11-25T10:00:00.123456";
  const Parsed& p = parse_line(line);
  const CircEvent& c = body<CircEvent>(p);
  EXPECT_EQ(p.ev->type, EventType::circ);
  EXPECT_EQ(p.ev->name, "CIRC");
  EXPECT_EQ(c.id, "3");
  EXPECT_EQ(c.status, "BUILT");
  EXPECT_EQ(c.status_enum, CircStatus::built);
  EXPECT_EQ(c.build_flags, "IS_INTERNAL,NEED_CAPACITY");
  EXPECT_EQ(c.purpose, "GENERAL");
  EXPECT_EQ(c.time_created, "2026-11-25T10:00:00.123456");
  EXPECT_EQ(c.reason, "");
  EXPECT_FALSE(c.socks_username.present);
  EXPECT_EQ(c.raw_args, std::string_view(line).substr(5));

  std::vector<LongName> hops = all_hops(c.hops());
  ASSERT_EQ(hops.size(), 3u);
  EXPECT_EQ(hops[0].fingerprint, kFp1);
  EXPECT_EQ(hops[0].nickname, "relay0");
  EXPECT_EQ(hops[1].nickname, "auth2");
  EXPECT_EQ(hops[2].fingerprint, kFp3);
  EXPECT_EQ(hops[2].nickname, "exit0");
  EXPECT_EQ(hops[2].identity[0], 0xCC);
}

TEST(Circ, ViewsPointIntoTheReply) {
  const Parsed& p = parse_line("CIRC 42 EXTENDED $" + std::string(kFp1) + "~a PURPOSE=GENERAL");
  const CircEvent& c = body<CircEvent>(p);
  const std::string_view raw = p.reply.view().raw;
  for (std::string_view v : {c.id, c.status, c.path, c.purpose, c.raw_args}) {
    EXPECT_GE(v.data(), raw.data());
    EXPECT_LE(v.data() + v.size(), raw.data() + raw.size());
  }
}

TEST(Circ, LaunchedHasNoPath) {
  const Parsed& p = parse_line(
      "CIRC 5 LAUNCHED BUILD_FLAGS=NEED_CAPACITY PURPOSE=GENERAL "
      "TIME_CREATED=2026-11-25T10:00:00.000000");
  const CircEvent& c = body<CircEvent>(p);
  EXPECT_EQ(c.status_enum, CircStatus::launched);
  EXPECT_EQ(c.path, "");
  EXPECT_TRUE(all_hops(c.hops()).empty());
  EXPECT_EQ(c.purpose, "GENERAL");
}

TEST(Circ, ClosedWithReasonsAndSocksCredentials) {
  const Parsed& p =
      parse_line("CIRC 17 CLOSED $" + std::string(kFp1) +
                 "~guard PURPOSE=HS_CLIENT_REND HS_STATE=HSCR_JOINED REND_QUERY=" + kOnion +
                 " TIME_CREATED=2026-11-25T10:00:00.5 REASON=DESTROYED "
                 "REMOTE_REASON=FINISHED SOCKS_USERNAME=\"alice\" "
                 "SOCKS_PASSWORD=\"p\\\"w\\\\d\" HS_POW=v1,200 CONFLUX_ID=ABCDEF01 "
                 "CONFLUX_RTT=51234");
  const CircEvent& c = body<CircEvent>(p);
  EXPECT_EQ(c.status_enum, CircStatus::closed);
  EXPECT_EQ(c.hs_state, "HSCR_JOINED");
  EXPECT_EQ(c.rend_query, kOnion);
  EXPECT_EQ(c.reason, "DESTROYED");
  EXPECT_EQ(c.remote_reason, "FINISHED");
  EXPECT_TRUE(c.socks_username.present);
  EXPECT_TRUE(c.socks_username.quoted);
  EXPECT_FALSE(c.socks_username.escaped);
  std::string scratch;
  EXPECT_EQ(c.socks_username.decoded(scratch), "alice");
  EXPECT_TRUE(c.socks_password.escaped);
  EXPECT_EQ(c.socks_password.text, "p\\\"w\\\\d");
  EXPECT_EQ(c.socks_password.decoded(scratch), "p\"w\\d");
  EXPECT_EQ(c.hs_pow, "v1,200");
  EXPECT_EQ(c.conflux_id, "ABCDEF01");
  EXPECT_EQ(c.conflux_rtt, "51234");
}

TEST(Circ, GuardWaitAndFailed) {
  EXPECT_EQ(body<CircEvent>(parse_line("CIRC 8 GUARD_WAIT $" + std::string(kFp1))).status_enum,
            CircStatus::guard_wait);
  EXPECT_EQ(body<CircEvent>(parse_line("CIRC 9 FAILED REASON=TIMEOUT")).status_enum,
            CircStatus::failed);
}

TEST(Circ, UnknownStatusKeywordsAndArgumentsAreKept) {
  const Parsed& p = parse_line(
      "CIRC 1000 FROBNICATED moria1,moria2 0xBEEF PURPOSE=NEW_PURPOSE "
      "FUTURE_KEY=\"some value\" REASON=NEW_REASON");
  const CircEvent& c = body<CircEvent>(p);
  EXPECT_EQ(c.status, "FROBNICATED");
  EXPECT_EQ(c.status_enum, CircStatus::other);
  EXPECT_EQ(c.purpose, "NEW_PURPOSE");
  EXPECT_EQ(c.reason, "NEW_REASON");
  Value v;
  ASSERT_TRUE(find_arg(c.raw_args, "FUTURE_KEY", v));
  EXPECT_EQ(v.text, "some value");
  EXPECT_TRUE(v.quoted);
  EXPECT_FALSE(find_arg(c.raw_args, "ABSENT", v));
  EXPECT_FALSE(v.present);
  // Old nickname-only path (control-spec 4.1 example).
  std::vector<LongName> hops = all_hops(c.hops());
  ASSERT_EQ(hops.size(), 2u);
  EXPECT_FALSE(hops[0].has_fingerprint);
  EXPECT_EQ(hops[1].nickname, "moria2");
}

TEST(Circ, ExtraLinesAreTolerated) {
  // The spec's own example of what a client MUST tolerate (4.1).
  const Parsed& p = parse(
      "650-CIRC 1000 EXTENDED moria1,moria2 0xBEEF\r\n"
      "650-EXTRAMAGIC=99\r\n"
      "650 ANONYMITY=high\r\n");
  const CircEvent& c = body<CircEvent>(p);
  EXPECT_EQ(c.id, "1000");
  EXPECT_EQ(c.status_enum, CircStatus::extended);
  EXPECT_EQ(c.path, "moria1,moria2");
  ASSERT_EQ(p.ev->lines.size(), 3u);
  EXPECT_EQ(p.ev->lines[2].text, "ANONYMITY=high");
}

TEST(Circ, OldNamedPath) {
  const Parsed& p =
      parse_line("CIRC 4 BUILT $" + std::string(kFp1) + "=named1,$" + std::string(kFp2));
  std::vector<LongName> hops = all_hops(body<CircEvent>(p).hops());
  ASSERT_EQ(hops.size(), 2u);
  EXPECT_TRUE(hops[0].named);
  EXPECT_EQ(hops[0].nickname, "named1");
  EXPECT_EQ(hops[1].nickname, "");
  EXPECT_TRUE(hops[1].has_fingerprint);
}

TEST(Circ, BadHopIsReportedByTheIterator) {
  const Parsed& p = parse_line("CIRC 4 BUILT $" + std::string(kFp1) + "~ok,$1234~short");
  LongNameReader r = body<CircEvent>(p).hops();
  LongName h;
  EXPECT_TRUE(r.next(h));
  EXPECT_FALSE(r.next(h));
  EXPECT_EQ(r.error().code, Errc::bad_argument);
  EXPECT_THAT(r.error().message, HasSubstr("$1234~short"));
}

TEST(Circ, Malformed) {
  expect_error(parse_line("CIRC"), "CIRC", "CircuitID");
  expect_error(parse_line("CIRC PURPOSE=GENERAL"), "CIRC", "CircuitID");
  expect_error(parse_line("CIRC 12345678901234567 BUILT"), "CIRC", "CircuitID");
  expect_error(parse_line("CIRC 3$ BUILT"), "CIRC", "CircuitID");
  expect_error(parse_line("CIRC 3"), "CIRC", "CircStatus");
  expect_error(parse_line("CIRC 3 BUILT SOCKS_USERNAME=\"unterminated"), "CIRC", "quoted");
  // 16 characters is the limit, letters allowed.
  EXPECT_EQ(body<CircEvent>(parse_line("CIRC abcDEF0123456789 BUILT")).id, "abcDEF0123456789");
}

// ---- CIRC_MINOR --------------------------------------------------------------

TEST(CircMinor, PurposeChanged) {
  const Parsed& p =
      parse_line("CIRC_MINOR 7 PURPOSE_CHANGED $" + std::string(kFp1) +
                 "~relay0 BUILD_FLAGS=IS_INTERNAL,NEED_CAPACITY PURPOSE=HS_CLIENT_REND "
                 "HS_STATE=HSCR_ESTABLISHED_IDLE TIME_CREATED=2026-11-25T10:00:00.000001 "
                 "OLD_PURPOSE=GENERAL");
  const CircMinorEvent& c = body<CircMinorEvent>(p);
  EXPECT_EQ(p.ev->type, EventType::circ_minor);
  EXPECT_EQ(c.id, "7");
  EXPECT_EQ(c.event_enum, CircMinorKind::purpose_changed);
  EXPECT_EQ(c.purpose, "HS_CLIENT_REND");
  EXPECT_EQ(c.hs_state, "HSCR_ESTABLISHED_IDLE");
  EXPECT_EQ(c.old_purpose, "GENERAL");
  EXPECT_EQ(c.old_hs_state, "");
  EXPECT_EQ(all_hops(c.hops()).size(), 1u);
}

TEST(CircMinor, CannibalizedUnknownAndMalformed) {
  const CircMinorEvent& c = body<CircMinorEvent>(
      parse_line("CIRC_MINOR 8 CANNIBALIZED PURPOSE=HS_SERVICE_INTRO OLD_PURPOSE=GENERAL "
                 "OLD_HS_STATE=HSCI_DONE"));
  EXPECT_EQ(c.event_enum, CircMinorKind::cannibalized);
  EXPECT_EQ(c.old_hs_state, "HSCI_DONE");
  EXPECT_EQ(body<CircMinorEvent>(parse_line("CIRC_MINOR 8 REBORN")).event_enum,
            CircMinorKind::other);
  expect_error(parse_line("CIRC_MINOR 8"), "CIRC_MINOR", "CircEvent");
  expect_error(parse_line("CIRC_MINOR"), "CIRC_MINOR", "CircuitID");
}

// ---- STREAM ------------------------------------------------------------------

TEST(Stream, SucceededToExit) {
  const Parsed& p = parse_line(
      "STREAM 65 SUCCEEDED 9 127.0.0.1.2BC94FD7E3A50D1C5A34E4FC3AD39D4E7C1E3C4B"
      ".exit:44167");
  const StreamEvent& s = body<StreamEvent>(p);
  EXPECT_EQ(p.ev->type, EventType::stream);
  EXPECT_EQ(s.id, "65");
  EXPECT_EQ(s.status_enum, StreamStatus::succeeded);
  EXPECT_EQ(s.circ_id, "9");
  EXPECT_EQ(s.target, "127.0.0.1.2BC94FD7E3A50D1C5A34E4FC3AD39D4E7C1E3C4B.exit:44167");
}

TEST(Stream, NewWithSourceAndIsolationFields) {
  const StreamEvent& s = body<StreamEvent>(parse_line(
      "STREAM 12 NEW 0 example.com:443 SOURCE_ADDR=127.0.0.1:51234 PURPOSE=USER "
      "SOCKS_USERNAME=\"user 1\" SOCKS_PASSWORD=\"\" CLIENT_PROTOCOL=SOCKS5 NYM_EPOCH=0 "
      "SESSION_GROUP=-4 ISO_FIELDS=SOCKS_USERNAME,SOCKS_PASSWORD,CLIENTADDR,SESSION_GROUP"));
  EXPECT_EQ(s.status_enum, StreamStatus::new_);
  EXPECT_EQ(s.circ_id, "0");
  EXPECT_EQ(s.target, "example.com:443");
  EXPECT_EQ(s.source_addr, "127.0.0.1:51234");
  EXPECT_EQ(s.purpose, "USER");
  EXPECT_EQ(s.socks_username.text, "user 1");
  EXPECT_TRUE(s.socks_password.present);
  EXPECT_EQ(s.socks_password.text, "");
  EXPECT_EQ(s.client_protocol, "SOCKS5");
  EXPECT_EQ(s.nym_epoch, "0");
  EXPECT_EQ(s.session_group, "-4");
  EXPECT_EQ(s.iso_fields, "SOCKS_USERNAME,SOCKS_PASSWORD,CLIENTADDR,SESSION_GROUP");
}

TEST(Stream, ClosedRemapAndNewStatuses) {
  const StreamEvent& c = body<StreamEvent>(
      parse_line("STREAM 65 CLOSED 9 93.184.216.34:80 REASON=END REMOTE_REASON=DONE"));
  EXPECT_EQ(c.status_enum, StreamStatus::closed);
  EXPECT_EQ(c.reason, "END");
  EXPECT_EQ(c.remote_reason, "DONE");
  const StreamEvent& r =
      body<StreamEvent>(parse_line("STREAM 66 REMAP 10 93.184.216.34:80 SOURCE=EXIT"));
  EXPECT_EQ(r.status_enum, StreamStatus::remap);
  EXPECT_EQ(r.source, "EXIT");
  const std::pair<std::string, StreamStatus> statuses[] = {
      {"NEWRESOLVE", StreamStatus::new_resolve},   {"SENTCONNECT", StreamStatus::sent_connect},
      {"SENTRESOLVE", StreamStatus::sent_resolve}, {"FAILED", StreamStatus::failed},
      {"DETACHED", StreamStatus::detached},        {"XOFF_SENT", StreamStatus::xoff_sent},
      {"SOMETHING_NEW", StreamStatus::other}};
  for (const auto& [text, st] : statuses) {
    const Parsed& p = parse_line("STREAM 1 " + text + " 2 a.b:1");
    EXPECT_EQ(body<StreamEvent>(p).status_enum, st) << text;
    EXPECT_EQ(body<StreamEvent>(p).status, text);
  }
}

TEST(Stream, Malformed) {
  expect_error(parse_line("STREAM"), "STREAM", "StreamID");
  expect_error(parse_line("STREAM 65"), "STREAM", "StreamStatus");
  expect_error(parse_line("STREAM 65 NEW"), "STREAM", "CircuitID");
  expect_error(parse_line("STREAM 65 NEW 0"), "STREAM", "Target");
  expect_error(parse_line("STREAM 65 NEW 0,1 a:1"), "STREAM", "CircuitID");
  expect_error(parse_line("STREAM 6_5 NEW 0 a:1"), "STREAM", "StreamID");
}

// ---- ORCONN ------------------------------------------------------------------

TEST(OrConn, Forms) {
  const OrConnEvent& c =
      body<OrConnEvent>(parse_line("ORCONN $" + std::string(kFp1) + "~relay0 CONNECTED ID=17"));
  EXPECT_EQ(c.target, "$" + std::string(kFp1) + "~relay0");
  EXPECT_EQ(c.status_enum, OrConnStatus::connected);
  EXPECT_EQ(c.id, "17");
  EXPECT_FALSE(c.ncircs.has_value());

  const OrConnEvent& n = body<OrConnEvent>(parse_line("ORCONN 192.0.2.7:9001 NEW ID=3"));
  EXPECT_EQ(n.target, "192.0.2.7:9001");
  EXPECT_EQ(n.status_enum, OrConnStatus::new_);

  const OrConnEvent& x = body<OrConnEvent>(
      parse_line("ORCONN $" + std::string(kFp2) + "~b CLOSED REASON=DONE NCIRCS=3 ID=5"));
  EXPECT_EQ(x.status_enum, OrConnStatus::closed);
  EXPECT_EQ(x.reason, "DONE");
  ASSERT_TRUE(x.ncircs.has_value());
  EXPECT_EQ(*x.ncircs, 3u);

  EXPECT_EQ(body<OrConnEvent>(parse_line("ORCONN a:1 LAUNCHED")).status_enum,
            OrConnStatus::launched);
  EXPECT_EQ(body<OrConnEvent>(parse_line("ORCONN a:1 FAILED REASON=PT_MISSING")).status_enum,
            OrConnStatus::failed);
  EXPECT_EQ(body<OrConnEvent>(parse_line("ORCONN a:1 HALF_OPEN")).status_enum, OrConnStatus::other);
  expect_error(parse_line("ORCONN a:1"), "ORCONN", "ORStatus");
  expect_error(parse_line("ORCONN"), "ORCONN", "Target");
  expect_error(parse_line("ORCONN a:1 NEW ID=x-y"), "ORCONN", "ConnID");
}

// ---- BW, CIRC_BW, STREAM_BW ------------------------------------------------------

TEST(Bw, Numbers) {
  const BwEvent& z = body<BwEvent>(parse_line("BW 0 0"));
  EXPECT_EQ(z.read, 0u);
  EXPECT_EQ(z.written, 0u);
  EXPECT_EQ(z.extra, "");

  const BwEvent& b = body<BwEvent>(parse_line("BW 1536 2048 DIR=10 OR=20 EXIT=0 APP=5"));
  EXPECT_EQ(b.read, 1536u);
  EXPECT_EQ(b.written, 2048u);
  EXPECT_EQ(b.extra, "DIR=10 OR=20 EXIT=0 APP=5");
  Value v;
  ASSERT_TRUE(find_arg(b.raw_args, "OR", v));
  EXPECT_EQ(v.text, "20");

  const BwEvent& m = body<BwEvent>(parse_line("BW 18446744073709551615 1"));
  EXPECT_EQ(m.read, 18446744073709551615u);
}

TEST(Bw, Malformed) {
  expect_error(parse_line("BW"), "BW", "BytesRead");
  expect_error(parse_line("BW 12"), "BW", "BytesWritten");
  expect_error(parse_line("BW 12 -3"), "BW", "BytesWritten");
  expect_error(parse_line("BW 1x 3"), "BW", "BytesRead");
  expect_error(parse_line("BW 18446744073709551616 0"), "BW", "BytesRead");  // 2^64
}

TEST(CircBw, Tor049Line) {
  const CircBwEvent& c = body<CircBwEvent>(parse_line(
      "CIRC_BW ID=5 READ=509 WRITTEN=1018 TIME=2026-11-25T10:00:01.500000 DELIVERED_READ=498 "
      "OVERHEAD_READ=0 DELIVERED_WRITTEN=996 OVERHEAD_WRITTEN=12 SS=1 CWND=124 RTT=80 "
      "MIN_RTT=75"));
  EXPECT_EQ(c.id, "5");
  EXPECT_EQ(c.read, 509u);
  EXPECT_EQ(c.written, 1018u);
  EXPECT_EQ(c.time, "2026-11-25T10:00:01.500000");
  EXPECT_EQ(c.delivered_read, 498u);
  EXPECT_EQ(c.overhead_read, 0u);
  EXPECT_EQ(c.delivered_written, 996u);
  EXPECT_EQ(c.overhead_written, 12u);
  EXPECT_EQ(c.ss, 1u);
  EXPECT_EQ(c.cwnd, 124u);
  EXPECT_EQ(c.rtt, 80u);
  EXPECT_EQ(c.min_rtt, 75u);

  const CircBwEvent& old = body<CircBwEvent>(parse_line("CIRC_BW ID=6 READ=0 WRITTEN=0"));
  EXPECT_FALSE(old.delivered_read.has_value());
  EXPECT_FALSE(old.cwnd.has_value());
  EXPECT_EQ(old.time, "");
}

TEST(CircBw, Malformed) {
  expect_error(parse_line("CIRC_BW READ=1 WRITTEN=2"), "CIRC_BW", "ID");
  expect_error(parse_line("CIRC_BW ID=5 WRITTEN=2"), "CIRC_BW", "READ");
  expect_error(parse_line("CIRC_BW ID=5 READ=1"), "CIRC_BW", "WRITTEN");
  expect_error(parse_line("CIRC_BW ID=5 READ=abc WRITTEN=2"), "CIRC_BW", "READ");
}

TEST(StreamBw, WrittenComesFirst) {
  const StreamBwEvent& s =
      body<StreamBwEvent>(parse_line("STREAM_BW 65 1024 4096 2026-11-25T10:00:01.500000"));
  EXPECT_EQ(s.id, "65");
  EXPECT_EQ(s.written, 1024u);
  EXPECT_EQ(s.read, 4096u);
  EXPECT_EQ(s.time, "2026-11-25T10:00:01.500000");
  EXPECT_EQ(body<StreamBwEvent>(parse_line("STREAM_BW 7 1 2")).time, "");
  expect_error(parse_line("STREAM_BW 65 1024"), "STREAM_BW", "BytesRead");
  expect_error(parse_line("STREAM_BW"), "STREAM_BW", "StreamID");
  expect_error(parse_line("STREAM_BW 65 x 1"), "STREAM_BW", "BytesWritten");
}

// ---- ADDRMAP -----------------------------------------------------------------

TEST(AddrMap, Never) {
  const AddrMapEvent& a = body<AddrMapEvent>(parse_line("ADDRMAP 192.0.2.3 example.com NEVER"));
  EXPECT_EQ(a.address, "192.0.2.3");
  EXPECT_EQ(a.new_address, "example.com");
  EXPECT_TRUE(a.never());
  EXPECT_FALSE(a.expiry.quoted);
  EXPECT_FALSE(a.is_error());
  EXPECT_FALSE(a.expires.present);
}

TEST(AddrMap, QuotedExpiryAndExtendedFields) {
  const AddrMapEvent& a =
      body<AddrMapEvent>(parse_line("ADDRMAP example.com 93.184.216.34 \"2026-11-25 11:00:00\" "
                                    "EXPIRES=\"2026-11-25 10:00:00\" CACHED=\"NO\" STREAMID=12"));
  EXPECT_EQ(a.new_address, "93.184.216.34");
  EXPECT_FALSE(a.never());
  EXPECT_TRUE(a.expiry.quoted);
  EXPECT_EQ(a.expiry.text, "2026-11-25 11:00:00");
  EXPECT_EQ(a.expires.text, "2026-11-25 10:00:00");
  EXPECT_EQ(a.cached.text, "NO");
  EXPECT_EQ(a.stream_id, "12");

  const AddrMapEvent& e =
      body<AddrMapEvent>(parse_line("ADDRMAP bad.example <error> \"2026-11-25 11:00:00\" error=yes "
                                    "EXPIRES=\"2026-11-25 10:00:00\" CACHED=\"NO\""));
  EXPECT_TRUE(e.is_error());
  EXPECT_EQ(e.error.text, "yes");
}

TEST(AddrMap, Malformed) {
  expect_error(parse_line("ADDRMAP 192.0.2.3 example.com"), "ADDRMAP", "Expiry");
  expect_error(parse_line("ADDRMAP 192.0.2.3"), "ADDRMAP", "NewAddress");
  expect_error(parse_line("ADDRMAP a b \"2026-11-25 11:00:00"), "ADDRMAP", "quoted");
}

// ---- the exact error of each malformed event -----------------------------------
// One line per required field of the table-driven events (event_fields.hpp):
// the table's order is the order of the checks, so the first problem is named.

TEST(Malformed, EachRequiredFieldIsNamedExactly) {
  struct Case {
    std::string_view line, message;
  };
  const Case cases[] = {
      {"CIRC", "CIRC event: missing CircuitID"},
      {"CIRC 3$ BUILT", "CIRC event: CircuitID is not 1-16 letters/digits: '3$'"},
      {"CIRC 3", "CIRC event: missing CircStatus"},
      {"CIRC_MINOR 3", "CIRC_MINOR event: missing CircEvent"},
      {"CIRC_MINOR x.y PURPOSE_CHANGED",
       "CIRC_MINOR event: CircuitID is not 1-16 letters/digits: 'x.y'"},
      {"STREAM 5 NEW 0", "STREAM event: missing Target"},
      {"STREAM 5 NEW", "STREAM event: missing CircuitID"},
      {"STREAM 5 NEW 0+ a:1", "STREAM event: CircuitID is not 1-16 letters/digits: '0+'"},
      {"STREAM 5", "STREAM event: missing StreamStatus"},
      {"ORCONN $AA", "ORCONN event: missing ORStatus"},
      {"ORCONN $AA CLOSED ID=a-b", "ORCONN event: ConnID is not 1-16 letters/digits: 'a-b'"},
      {"CIRC_BW READ=1 WRITTEN=2", "CIRC_BW event: missing ID="},
      {"CIRC_BW ID=5 WRITTEN=2", "CIRC_BW event: missing READ="},
      {"CIRC_BW ID=5 READ=1", "CIRC_BW event: missing WRITTEN="},
      {"CIRC_BW ID=5 READ=1 WRITTEN=2x", "CIRC_BW event: WRITTEN is not a number: '2x'"},
      {"CIRC_BW ID=5 READ=-1 WRITTEN=x", "CIRC_BW event: READ is not a number: '-1'"},
      {"ADDRMAP 192.0.2.3 example.com", "ADDRMAP event: missing Expiry"},
      {"GUARD ENTRY $AA", "GUARD event: missing Status"},
      {"HS_DESC REQUESTED abc NO_AUTH", "HS_DESC event: missing HsDir"},
      {"BUILDTIMEOUT_SET TOTAL_TIMES=5", "BUILDTIMEOUT_SET event: missing Type"},
  };
  for (const Case& c : cases) {
    const Parsed& p = parse_line(std::string(c.line));
    ASSERT_FALSE(p.ev.ok()) << c.line;
    EXPECT_EQ(p.ev.error().message, c.message) << c.line;
  }
}

// A keyword this parser does not know, and positionals past the spec's, are
// skipped without failing the event (raw_args keeps them).
TEST(Malformed, UnknownKeywordsAndExtraPositionalsAreSkipped) {
  const auto& e = body<StreamEvent>(
      parse_line("STREAM 5 NEW 0 192.0.2.1:80 extra more FUTURE_KEY=1 PURPOSE=USER R=2"));
  EXPECT_EQ(e.target, "192.0.2.1:80");
  EXPECT_EQ(e.purpose, "USER");
  const auto& g = body<GuardEvent>(parse_line("GUARD ENTRY $AA UP LATER=1"));
  EXPECT_EQ(g.status_enum, GuardStatus::up);
}

// ---- NS, NEWCONSENSUS ----------------------------------------------------------

const std::string kEntries =
    "r relay0 AAAAAAAAAAAAAAAAAAAAAAAAAAA BBBBBBBBBBBBBBBBBBBBBBBBBBB 2026-11-25 09:00:00 "
    "192.0.2.1 9001 0\r\n"
    "s Fast Running Valid\r\n"
    "w Bandwidth=100\r\n"
    "r exit0 CCCCCCCCCCCCCCCCCCCCCCCCCCC DDDDDDDDDDDDDDDDDDDDDDDDDDD 2026-11-25 09:30:00 "
    "192.0.2.2 443 80\r\n"
    "s Exit Fast Running Valid\r\n";

TEST(NetworkStatus, NsDataBlockFeedsRouterStatusReader) {
  const Parsed& p = parse("650+NS\r\n" + kEntries + ".\r\n650 OK\r\n");
  const NetworkStatusEvent& ns = body<NetworkStatusEvent>(p);
  EXPECT_EQ(p.ev->type, EventType::ns);
  EXPECT_EQ(ns.data, kEntries);
  RouterStatusReader r(ns.data);
  RouterStatus rs;
  ASSERT_TRUE(r.next(rs)) << r.error().message;
  EXPECT_EQ(rs.nickname(), "relay0");
  EXPECT_EQ(rs.or_port, 9001);
  ASSERT_TRUE(r.next(rs)) << r.error().message;
  EXPECT_EQ(rs.nickname(), "exit0");
  EXPECT_TRUE(rs.flags.has(RouterFlag::Exit));
  EXPECT_FALSE(r.next(rs));
}

TEST(NetworkStatus, NewConsensus) {
  const Parsed& p = parse("650+NEWCONSENSUS\r\n" + kEntries + ".\r\n650 OK\r\n");
  EXPECT_EQ(p.ev->type, EventType::newconsensus);
  EXPECT_EQ(body<NetworkStatusEvent>(p).data, kEntries);
}

TEST(NetworkStatus, WithoutDataBlockIsAnError) {
  expect_error(parse_line("NS"), "NS", "data block");
  expect_error(parse_line("NEWCONSENSUS"), "NEWCONSENSUS", "data block");
}

// ---- NEWDESC, GUARD ------------------------------------------------------------

TEST(NewDesc, RouterList) {
  Parsed p =
      parse_line("NEWDESC $" + std::string(kFp1) + "~relay0 $" + std::string(kFp2) + "~exit0");
  std::vector<LongName> rs = all_hops(body<NewDescEvent>(p).routers());
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].nickname, "relay0");
  EXPECT_EQ(rs[1].fingerprint, kFp2);
  expect_error(parse_line("NEWDESC"), "NEWDESC", "LongName");
}

TEST(Guard, Statuses) {
  const GuardEvent& g =
      body<GuardEvent>(parse_line("GUARD ENTRY $" + std::string(kFp1) + "~nick NEW"));
  EXPECT_EQ(g.type, "ENTRY");
  EXPECT_EQ(g.status_enum, GuardStatus::new_);
  LongName n;
  ASSERT_TRUE(parse_long_name(g.name, n));
  EXPECT_EQ(n.nickname, "nick");
  const std::pair<std::string, GuardStatus> st[] = {
      {"UP", GuardStatus::up},           {"DOWN", GuardStatus::down},
      {"BAD", GuardStatus::bad},         {"GOOD", GuardStatus::good},
      {"DROPPED", GuardStatus::dropped}, {"SUSPICIOUS", GuardStatus::other}};
  for (const auto& [text, s] : st)
    EXPECT_EQ(
        body<GuardEvent>(parse_line("GUARD ENTRY $" + std::string(kFp1) + " " + text)).status_enum,
        s)
        << text;
  expect_error(parse_line("GUARD ENTRY $" + std::string(kFp1)), "GUARD", "Status");
  expect_error(parse_line("GUARD"), "GUARD", "Type");
}

// ---- STATUS_* ------------------------------------------------------------------

TEST(Status, BootstrapDone) {
  const Parsed& p =
      parse_line("STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY=\"Done\"");
  const StatusEvent& s = body<StatusEvent>(p);
  EXPECT_EQ(p.ev->type, EventType::status_client);
  EXPECT_EQ(s.severity_enum, Severity::notice);
  EXPECT_EQ(s.action, "BOOTSTRAP");
  EXPECT_EQ(s.arguments, "PROGRESS=100 TAG=done SUMMARY=\"Done\"");
  Value v;
  ASSERT_TRUE(s.find("PROGRESS", v));
  EXPECT_EQ(v.text, "100");
  ASSERT_TRUE(s.find("SUMMARY", v));
  EXPECT_EQ(v.text, "Done");
  EXPECT_TRUE(v.quoted);
  EXPECT_FALSE(s.find("WARNING", v));
}

TEST(Status, BootstrapProblemWithEscapes) {
  const StatusEvent& s = body<StatusEvent>(parse_line(
      "STATUS_CLIENT WARN BOOTSTRAP PROGRESS=5 TAG=conn_dir SUMMARY=\"Connecting to directory "
      "server\" WARNING=\"Connection refused \\\"here\\\"\" REASON=CONNECTREFUSED COUNT=1 "
      "RECOMMENDATION=ignore HOSTADDR=\"192.0.2.1:443\""));
  EXPECT_EQ(s.severity_enum, Severity::warn);
  Value v;
  ASSERT_TRUE(s.find("WARNING", v));
  EXPECT_TRUE(v.escaped);
  std::string scratch;
  EXPECT_EQ(v.decoded(scratch), "Connection refused \"here\"");
  ASSERT_TRUE(s.find("HOSTADDR", v));
  EXPECT_EQ(v.decoded(scratch), "192.0.2.1:443");
}

TEST(Status, GeneralServerAndMisspelling) {
  const Parsed& g = parse_line("STATUS_GENERAL NOTICE CLOCK_JUMPED TIME=120");
  EXPECT_EQ(g.ev->type, EventType::status_general);
  EXPECT_EQ(body<StatusEvent>(g).action, "CLOCK_JUMPED");
  const Parsed& c = parse_line("STATUS_GENERAL NOTICE CONSENSUS_ARRIVED");
  EXPECT_EQ(body<StatusEvent>(c).arguments, "");
  const Parsed& s =
      parse_line("STATUS_SERVER NOTICE EXTERNAL_ADDRESS ADDRESS=192.0.2.9 METHOD=DIRSERV");
  EXPECT_EQ(s.ev->type, EventType::status_server);
  const Parsed& old = parse_line(
      "STATUS_SEVER ERR BAD_SERVER_DESCRIPTOR DIRAUTH=192.0.2.3:80 "
      "REASON=\"Bad things\"");
  EXPECT_EQ(old.ev->type, EventType::status_server);
  EXPECT_EQ(body<StatusEvent>(old).severity_enum, Severity::err);
  EXPECT_EQ(body<StatusEvent>(parse_line("STATUS_CLIENT LOUD NEW_ACTION")).severity_enum,
            Severity::other);
  expect_error(parse_line("STATUS_CLIENT NOTICE"), "STATUS_CLIENT", "StatusAction");
  expect_error(parse_line("STATUS_GENERAL"), "STATUS_GENERAL", "StatusSeverity");
}

// ---- HS_DESC -------------------------------------------------------------------

TEST(HsDesc, Actions) {
  const std::string hsdir = "$" + std::string(kFp1) + "~hsdir0";
  const std::string blinded = "jYbNP4/6XAB4T6vDv6rb0DZnUTrFL3eaxd2SiMnOvy8";  // 43 base64
  const std::string index(64, 'A');
  const HsDescEvent& u = body<HsDescEvent>(parse_line(
      "HS_DESC UPLOAD " + kOnion + " UNKNOWN " + hsdir + " " + blinded + " HSDIR_INDEX=" + index));
  EXPECT_EQ(u.action_enum, HsDescAction::upload);
  EXPECT_EQ(u.address, kOnion);
  EXPECT_EQ(u.auth_type, "UNKNOWN");
  EXPECT_EQ(u.hs_dir, hsdir);
  EXPECT_EQ(u.descriptor_id, blinded);
  EXPECT_EQ(u.hsdir_index, index);

  const HsDescEvent& d =
      body<HsDescEvent>(parse_line("HS_DESC UPLOADED " + kOnion + " UNKNOWN " + hsdir));
  EXPECT_EQ(d.action_enum, HsDescAction::uploaded);
  EXPECT_EQ(d.descriptor_id, "");

  const HsDescEvent& f = body<HsDescEvent>(parse_line("HS_DESC FAILED " + kOnion + " NO_AUTH " +
                                                      hsdir + " " + blinded + " REASON=NOT_FOUND"));
  EXPECT_EQ(f.action_enum, HsDescAction::failed);
  EXPECT_EQ(f.reason.text, "NOT_FOUND");

  const HsDescEvent& c = body<HsDescEvent>(
      parse_line("HS_DESC CREATED " + kOnion + " UNKNOWN UNKNOWN " + blinded + " REPLICA=1"));
  EXPECT_EQ(c.action_enum, HsDescAction::created);
  EXPECT_EQ(c.hs_dir, "UNKNOWN");
  EXPECT_EQ(c.replica, 1u);

  EXPECT_EQ(body<HsDescEvent>(parse_line("HS_DESC REQUESTED " + kOnion + " NO_AUTH " + hsdir))
                .action_enum,
            HsDescAction::requested);
  EXPECT_EQ(
      body<HsDescEvent>(parse_line("HS_DESC RECEIVED " + kOnion + " NO_AUTH " + hsdir)).action_enum,
      HsDescAction::received);
  EXPECT_EQ(
      body<HsDescEvent>(parse_line("HS_DESC PONDERED " + kOnion + " NO_AUTH " + hsdir)).action_enum,
      HsDescAction::other);
  expect_error(parse_line("HS_DESC FAILED " + kOnion + " NO_AUTH"), "HS_DESC", "HsDir");
  expect_error(parse_line("HS_DESC"), "HS_DESC", "Action");
}

// ---- CONF_CHANGED --------------------------------------------------------------

std::vector<ConfChange> all_changes(const ConfChangedEvent& e) {
  std::vector<ConfChange> out;
  ConfChangeReader r = e.reader();
  ConfChange c;
  while (r.next(c)) out.push_back(c);
  return out;
}

TEST(ConfChanged, OneChange) {
  const Parsed& p = parse("650-CONF_CHANGED\r\n650-DisableNetwork=0\r\n650 OK\r\n");
  EXPECT_EQ(p.ev->type, EventType::conf_changed);
  std::vector<ConfChange> cs = all_changes(body<ConfChangedEvent>(p));
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].key, "DisableNetwork");
  EXPECT_TRUE(cs[0].value.present);
  EXPECT_EQ(cs[0].value.text, "0");
}

TEST(ConfChanged, UnsetRawAndQuotedValues) {
  const Parsed& p = parse(
      "650-CONF_CHANGED\r\n"
      "650-SocksPort\r\n"
      "650-ExitPolicy=accept *:80, reject *:*\r\n"
      "650-ContactInfo=\"Tor \\\"admin\\\"\"\r\n"
      "650-Nickname=\r\n"
      "650 OK\r\n");
  std::vector<ConfChange> cs = all_changes(body<ConfChangedEvent>(p));
  ASSERT_EQ(cs.size(), 4u);
  EXPECT_EQ(cs[0].key, "SocksPort");
  EXPECT_FALSE(cs[0].value.present);
  EXPECT_EQ(cs[1].value.text, "accept *:80, reject *:*");
  EXPECT_FALSE(cs[1].value.quoted);
  EXPECT_TRUE(cs[2].value.quoted);
  std::string scratch;
  EXPECT_EQ(cs[2].value.decoded(scratch), "Tor \"admin\"");
  EXPECT_TRUE(cs[3].value.present);
  EXPECT_EQ(cs[3].value.text, "");
}

// ---- NETWORK_LIVENESS, SIGNAL, BUILDTIMEOUT_SET -----------------------------------

TEST(Liveness, UpDownOther) {
  EXPECT_EQ(body<NetworkLivenessEvent>(parse_line("NETWORK_LIVENESS UP")).status_enum,
            Liveness::up);
  EXPECT_EQ(body<NetworkLivenessEvent>(parse_line("NETWORK_LIVENESS DOWN")).status_enum,
            Liveness::down);
  const NetworkLivenessEvent& o = body<NetworkLivenessEvent>(parse_line("NETWORK_LIVENESS FLAKY"));
  EXPECT_EQ(o.status_enum, Liveness::other);
  EXPECT_EQ(o.status, "FLAKY");
  expect_error(parse_line("NETWORK_LIVENESS"), "NETWORK_LIVENESS", "Status");
}

TEST(Signals, KnownAndOther) {
  const std::pair<std::string, Signal> sigs[] = {{"RELOAD", Signal::reload},
                                                 {"DUMP", Signal::dump},
                                                 {"DEBUG", Signal::debug},
                                                 {"NEWNYM", Signal::newnym},
                                                 {"CLEARDNSCACHE", Signal::cleardnscache},
                                                 {"HEARTBEAT", Signal::heartbeat},
                                                 {"ACTIVE", Signal::active},
                                                 {"DORMANT", Signal::dormant},
                                                 {"SHRUG", Signal::other}};
  for (const auto& [text, sig] : sigs) {
    const Parsed& p = parse_line("SIGNAL " + text);
    EXPECT_EQ(body<torcon::SignalEvent>(p).signal_enum, sig) << text;
    EXPECT_EQ(body<torcon::SignalEvent>(p).signal, text);
  }
  expect_error(parse_line("SIGNAL"), "SIGNAL", "Signal");
}

TEST(BuildTimeout, Computed) {
  const BuildTimeoutSetEvent& b = body<BuildTimeoutSetEvent>(parse_line(
      "BUILDTIMEOUT_SET COMPUTED TOTAL_TIMES=124 TIMEOUT_MS=1500 XM=800 ALPHA=1.541234 "
      "CUTOFF_QUANTILE=0.800000 TIMEOUT_RATE=0.137097 CLOSE_MS=60000 CLOSE_RATE=0.000000"));
  EXPECT_EQ(b.type_enum, BuildTimeoutKind::computed);
  EXPECT_EQ(b.total_times, 124u);
  EXPECT_EQ(b.timeout_ms, 1500u);
  EXPECT_EQ(b.xm, 800u);
  ASSERT_TRUE(b.alpha.has_value());
  EXPECT_DOUBLE_EQ(*b.alpha, 1.541234);
  EXPECT_DOUBLE_EQ(b.cutoff_quantile.value_or(-1), 0.8);
  EXPECT_DOUBLE_EQ(b.timeout_rate.value_or(-1), 0.137097);
  EXPECT_EQ(b.close_ms, 60000u);
  EXPECT_DOUBLE_EQ(b.close_rate.value_or(-1), 0.0);
}

TEST(BuildTimeout, OtherTypesAndMissing) {
  const BuildTimeoutSetEvent& r = body<BuildTimeoutSetEvent>(parse_line(
      "BUILDTIMEOUT_SET RESET TOTAL_TIMES=0 TIMEOUT_MS=60000 XM=0 ALPHA=0.000000 "
      "CUTOFF_QUANTILE=0.800000 TIMEOUT_RATE=0.000000 CLOSE_MS=60000 CLOSE_RATE=0.000000"));
  EXPECT_EQ(r.type_enum, BuildTimeoutKind::reset);
  EXPECT_EQ(r.timeout_ms, 60000u);
  for (auto [t, k] : {std::pair{"SUSPENDED", BuildTimeoutKind::suspended},
                      std::pair{"DISCARD", BuildTimeoutKind::discard},
                      std::pair{"RESUME", BuildTimeoutKind::resume},
                      std::pair{"RECALIBRATED", BuildTimeoutKind::other}})
    EXPECT_EQ(body<BuildTimeoutSetEvent>(parse_line("BUILDTIMEOUT_SET "s + t)).type_enum, k);
  // Garbage in an optional number leaves it empty; the event still parses.
  EXPECT_FALSE(
      body<BuildTimeoutSetEvent>(parse_line("BUILDTIMEOUT_SET COMPUTED ALPHA=fast")).alpha);
  expect_error(parse_line("BUILDTIMEOUT_SET"), "BUILDTIMEOUT_SET", "Type");
}

// ---- log events ------------------------------------------------------------------

TEST(Log, SingleLine) {
  const Parsed& p = parse_line("NOTICE some text");
  const LogEvent& l = body<LogEvent>(p);
  EXPECT_EQ(p.ev->type, EventType::notice);
  EXPECT_EQ(l.severity, Severity::notice);
  EXPECT_EQ(l.message, "some text");
  EXPECT_FALSE(l.is_data);
  EXPECT_EQ(l.text(), "some text");
  for (auto [name, sev] : {std::pair{"DEBUG", Severity::debug}, std::pair{"INFO", Severity::info},
                           std::pair{"WARN", Severity::warn}, std::pair{"ERR", Severity::err}})
    EXPECT_EQ(body<LogEvent>(parse_line(name + " x  y "s)).severity, sev) << name;
  EXPECT_EQ(body<LogEvent>(parse_line("INFO x  y ")).message, "x  y ");  // verbatim
  EXPECT_EQ(body<LogEvent>(parse_line("ERR")).message, "");
}

TEST(Log, DataBlock) {
  const Parsed& p = parse("650+WARN\r\nfirst line\r\n..dot-stuffed\r\nlast\r\n.\r\n650 OK\r\n");
  const LogEvent& l = body<LogEvent>(p);
  EXPECT_EQ(p.ev->type, EventType::warn);
  EXPECT_EQ(l.severity, Severity::warn);
  EXPECT_TRUE(l.is_data);
  EXPECT_EQ(l.data, "first line\r\n..dot-stuffed\r\nlast\r\n");
  EXPECT_EQ(l.text(), "first line\n.dot-stuffed\nlast");
}

// ---- unknown, not-an-event, lifetime ------------------------------------------------

TEST(Unknown, KeptRaw) {
  const Parsed& p = parse_line("TRANSPORT_LAUNCHED client obfs4 127.0.0.1 1234");
  const UnknownEvent& u = body<UnknownEvent>(p);
  EXPECT_EQ(p.ev->type, EventType::unknown);
  EXPECT_EQ(u.name, "TRANSPORT_LAUNCHED");
  EXPECT_EQ(u.raw_args, "client obfs4 127.0.0.1 1234");
  EXPECT_EQ(u.reply.code, 650);
  ASSERT_EQ(u.reply.lines.size(), 1u);

  const Parsed& d =
      parse("650+HS_DESC_CONTENT " + kOnion + " id UNKNOWN\r\ndesc\r\n.\r\n650 OK\r\n");
  const UnknownEvent& ud = body<UnknownEvent>(d);
  EXPECT_EQ(ud.name, "HS_DESC_CONTENT");
  EXPECT_EQ(ud.reply.lines[0].data, "desc\r\n");
}

TEST(NotAnEvent, SyncRepliesAreRefused) {
  const Parsed& p = parse("250 OK\r\n");
  ASSERT_FALSE(p.ev.ok());
  EXPECT_EQ(p.ev.error().code, Errc::bad_argument);
  EXPECT_THAT(p.ev.error().message, HasSubstr("250"));
  expect_error(parse("650 \r\n"), "event", "keyword");
}

TEST(Lifetime, CopyAndReparseOutlivesTheReader) {
  ReplyReader reader;
  reader.feed("650 CIRC 3 EXTENDED $" + std::string(kFp1) + "~relay0 PURPOSE=GENERAL\r\n");
  Reply r;
  ASSERT_EQ(reader.next(r), ReplyReader::Next::reply);
  OwnedReply kept = r.copy();
  // Overwrite the reader's buffer with another event.
  reader.feed("650 BW 1 2\r\n");
  ASSERT_EQ(reader.next(r), ReplyReader::Next::reply);
  reader.reset();
  reader.feed(std::string(4096, 'x'));

  Expected<Event> later = parse_event(kept.view());
  const CircEvent* c = later.ok() ? later->get<CircEvent>() : nullptr;
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->id, "3");
  EXPECT_EQ(c->purpose, "GENERAL");
  EXPECT_EQ(all_hops(c->hops()).at(0).nickname, "relay0");
}

TEST(Stream, ManyEventsThroughOneReader) {
  ReplyReader reader;
  reader.feed(
      "650 BW 10 20\r\n"
      "650 STREAM 1 NEW 0 a.example:80 SOURCE_ADDR=127.0.0.1:1 PURPOSE=USER\r\n"
      "650 CIRC 2 BUILT $" +
      std::string(kFp1) + "~x\r\n" +
      "650-CONF_CHANGED\r\n650-A=1\r\n650 OK\r\n"
      "650 SIGNAL NEWNYM\r\n");
  const EventType want[] = {EventType::bw, EventType::stream, EventType::circ,
                            EventType::conf_changed, EventType::signal};
  Reply r;
  Event ev;
  for (EventType t : want) {
    ASSERT_EQ(reader.next(r), ReplyReader::Next::reply);
    Status s = parse_event(r, ev);
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(ev.type, t);
  }
  EXPECT_EQ(reader.next(r), ReplyReader::Next::need_more);
}

// Every prefix of every sample (cut anywhere in the first line) must parse or
// fail cleanly; run under ASan/UBSan this checks bounds.
TEST(Robustness, TruncatedLinesNeverCrash) {
  const std::string samples[] = {
      "CIRC 3 BUILT $" + std::string(kFp1) + "~relay0 PURPOSE=GENERAL SOCKS_USERNAME=\"a\\\"b\"",
      "STREAM 65 SUCCEEDED 9 example.com:443 REASON=END",
      "BW 1536 2048",
      "CIRC_BW ID=5 READ=509 WRITTEN=1018 TIME=2026-11-25T10:00:01.5",
      "STREAM_BW 65 1024 4096 2026-11-25T10:00:01.5",
      "ADDRMAP a b \"2026-11-25 11:00:00\" EXPIRES=\"2026-11-25 10:00:00\"",
      "STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=100 SUMMARY=\"Done\"",
      "HS_DESC FAILED " + kOnion + " NO_AUTH $" + std::string(kFp1) + " REASON=NOT_FOUND",
      "GUARD ENTRY $" + std::string(kFp1) + "~n NEW",
      "BUILDTIMEOUT_SET COMPUTED TOTAL_TIMES=1 ALPHA=1.5",
      "ORCONN a:1 CLOSED NCIRCS=3 ID=5",
      "CIRC_MINOR 7 CANNIBALIZED OLD_PURPOSE=GENERAL",
      "NEWDESC $" + std::string(kFp1),
      "SIGNAL RELOAD",
      "NETWORK_LIVENESS UP",
  };
  for (const std::string& s : samples) {
    for (std::size_t n = 1; n <= s.size(); ++n) {
      const Parsed& p = parse_line(s.substr(0, n));
      if (p.ev.ok()) {
        // Walk the lazily-validated parts too.
        LongNameReader hops("");
        if (const CircEvent* c = p.ev->get<CircEvent>()) hops = c->hops();
        if (const NewDescEvent* d = p.ev->get<NewDescEvent>()) hops = d->routers();
        std::size_t count = 0;
        for (LongName h; hops.next(h);) ++count;
        EXPECT_LE(count, 1u);
      } else {
        EXPECT_EQ(p.ev.error().code, Errc::bad_argument);
        EXPECT_FALSE(p.ev.error().message.empty());
      }
    }
  }
}

}  // namespace
}  // namespace torcon
