// TorConfig's I/O-free core (config/config_core.hpp): tor's replies go in as
// bytes, the commands it would send come out as bytes, compared exactly.

#include "config_core.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "torcon/getinfo.hpp"
#include "torcon/quoted.hpp"
#include "torcon/reply_reader.hpp"

namespace torcon::detail {
namespace {

using namespace std::chrono_literals;

// config/names as tor 0.4.9 words it, cut down to one option or so per type.
constexpr std::string_view kNames =
    "ContactInfo String\n"
    "Nickname String\n"
    "DisableNetwork Boolean\n"
    "ConnectionPadding Boolean+Auto\n"
    "NumEntryGuards Integer\n"
    "CircuitPriorityHalflife Float\n"
    "BandwidthRate DataSize\n"
    "CircuitBuildTimeout TimeInterval\n"
    "KISTSchedRunInterval TimeMsecInterval\n"
    "LongLivedPorts CommaList\n"
    "ExcludeNodes RouterList\n"
    "ExitPolicy LineList\n"
    "OldPort Port\n"
    "Frobnicate NewTypeFromTheFuture\n"
    "SocksPort Dependent\n"
    "__SocksPort Dependent\n"
    "SocksPortLines Virtual\n"
    "HiddenServiceDir Dependent\n"
    "HiddenServicePort Dependent\n"
    "HiddenServiceVersion Dependent\n"
    "HiddenServiceOptions Virtual\n"
    "HiddenServiceStatistics Boolean\n";

// A reply from raw bytes, then its key/values as the Controller's getconf()
// hands them over (QuotedString values decoded).
struct ParsedReply {
  ReplyReader reader;
  Reply reply;
  explicit ParsedReply(std::string_view bytes) {
    reader.feed(bytes);
    EXPECT_EQ(reader.next(reply), ReplyReader::Next::reply) << bytes;
  }
  KeyValues kv() const {
    KeyValues out;
    KeyValueReader rd(reply);
    KeyValue kv;
    while (rd.next(kv)) {
      KeyValues::Entry e{std::string(kv.key), {}, kv.has_value};
      if (!kv.value.empty() && kv.value.front() == '"')
        EXPECT_TRUE(unquote(kv.value, e.value).ok());
      else
        e.value = std::string(kv.value);
      out.entries.push_back(std::move(e));
    }
    return out;
  }
};

constexpr std::string_view kFullReply =
    "250-ContactInfo\r\n"
    "250-Nickname=Unnamed\r\n"
    "250-DisableNetwork=1\r\n"
    "250-ConnectionPadding=auto\r\n"
    "250-NumEntryGuards=0\r\n"
    "250-CircuitPriorityHalflife=-1.000000\r\n"
    "250-BandwidthRate=1073741824\r\n"
    "250-CircuitBuildTimeout=60\r\n"
    "250-KISTSchedRunInterval=0\r\n"
    "250-LongLivedPorts=21,22,706\r\n"
    "250-ExcludeNodes=\r\n"
    "250-ExitPolicy=accept *:80\r\n"
    "250-ExitPolicy=reject *:*\r\n"
    "250-OldPort=9\r\n"
    "250-Frobnicate=on the double\r\n"
    "250-SocksPort=9050\r\n"
    "250-SocksPort=127.0.0.1:9150 IsolateDestAddr\r\n"
    "250-HiddenServiceDir=/srv/a\r\n"
    "250-HiddenServicePort=80 127.0.0.1:8080\r\n"
    "250-HiddenServicePort=81\r\n"
    "250-HiddenServiceVersion=3\r\n"
    "250-HiddenServiceDir=/srv/b\r\n"
    "250-HiddenServicePort=82 unix:/srv/b.sock\r\n"
    "250 HiddenServiceStatistics=1\r\n";

class ConfigCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(core.apply_names(kNames).ok());
    keys = core.load_keys();
    ParsedReply r(kFullReply);
    Status s = core.apply_getconf(keys, r.kv(), nullptr);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  std::string setconf_wire() const { return core.setconf(core.staged()).wire(); }
  const ConfigValue& value(std::string_view name) const { return core.find(name)->value; }

  ConfigCore core;
  std::vector<std::string> keys;
};

TEST_F(ConfigCoreTest, NamesGiveTypesAndGroups) {
  EXPECT_EQ(core.find("disablenetwork")->type, ConfigType::boolean);
  EXPECT_EQ(core.find("Frobnicate")->type, ConfigType::other);  // unknown type: text
  EXPECT_EQ(core.find("HiddenServicePort")->group, core.index_of("HiddenServiceOptions"));
  EXPECT_EQ(core.find("__SocksPort")->group, core.index_of("SocksPortLines"));
  EXPECT_EQ(core.find("SocksPort")->group, core.index_of("SocksPortLines"));
  EXPECT_EQ(core.find("HiddenServiceStatistics")->group, ConfigCore::npos);  // Boolean, own option
  EXPECT_EQ(core.find("HiddenServiceOptions")->head_key, "HiddenServiceDir");
  EXPECT_EQ(core.find("SocksPortLines")->head_key, "SocksPort");
  // A group is read through its Virtual option only.
  EXPECT_EQ(std::count(keys.begin(), keys.end(), "HiddenServicePort"), 0);
  EXPECT_EQ(std::count(keys.begin(), keys.end(), "HiddenServiceOptions"), 1);
  EXPECT_EQ(keys.size(), 17u);  // 22 names, 5 of them Dependent
}

TEST_F(ConfigCoreTest, MalformedNamesLeaveTheTableAlone) {
  for (std::string_view bad : {"", "\n\n", "JustAName\n", "Bad\"Name String\n"}) {
    EXPECT_FALSE(core.apply_names(bad).ok()) << bad;
    EXPECT_NE(core.find("ContactInfo"), nullptr);
    EXPECT_TRUE(core.find("DisableNetwork")->loaded);
  }
}

TEST_F(ConfigCoreTest, FullReplyIsTyped) {
  EXPECT_FALSE(value("ContactInfo").is_set());
  EXPECT_EQ(value("nickname").text(), "Unnamed");
  EXPECT_EQ(*value("DisableNetwork").boolean(), true);
  EXPECT_EQ(*value("ConnectionPadding").auto_bool(), AutoBool::automatic);
  EXPECT_EQ(*value("NumEntryGuards").integer(), 0);
  EXPECT_DOUBLE_EQ(*value("CircuitPriorityHalflife").number(), -1.0);
  EXPECT_EQ(*value("BandwidthRate").bytes(), 1073741824u);
  EXPECT_EQ(*value("CircuitBuildTimeout").seconds(), 60s);
  EXPECT_EQ(*value("KISTSchedRunInterval").milliseconds(), 0ms);
  EXPECT_EQ(value("LongLivedPorts").items(), (std::vector<std::string>{"21", "22", "706"}));
  EXPECT_TRUE(value("ExcludeNodes").is_set());  // "ExcludeNodes=": set, empty
  EXPECT_TRUE(value("ExcludeNodes").items().empty());
  EXPECT_EQ(value("ExitPolicy").lines(), (std::vector<std::string>{"accept *:80", "reject *:*"}));
  EXPECT_EQ(value("Frobnicate").text(), "on the double");
  EXPECT_EQ(value("SocksPort").lines(),
            (std::vector<std::string>{"9050", "127.0.0.1:9150 IsolateDestAddr"}));

  const std::vector<ConfigGroup>& hs = core.find("HiddenServiceOptions")->groups;
  ASSERT_EQ(hs.size(), 2u);
  EXPECT_EQ(hs[0].head(), "/srv/a");
  EXPECT_EQ(hs[0].values("hiddenserviceport"),
            (std::vector<std::string_view>{"80 127.0.0.1:8080", "81"}));
  EXPECT_EQ(*hs[0].value("HiddenServiceVersion"), "3");
  EXPECT_EQ(hs[1].head(), "/srv/b");
  EXPECT_EQ(hs[1].value("HiddenServiceVersion"), nullptr);
  // The Dependent options read as their lines of the group.
  EXPECT_EQ(value("HiddenServiceDir").lines(), (std::vector<std::string>{"/srv/a", "/srv/b"}));
  EXPECT_EQ(core.find("SocksPortLines")->groups.size(), 2u);  // a port line per group
}

TEST_F(ConfigCoreTest, AReplyThatDoesNotMatchTheRequestChangesNothing) {
  for (std::string_view bad : {
           "250 ContactInfo\r\n",                           // too short
           "250-ContactInfo\r\n250-Bogus=1\r\n250 OK\r\n",  // wrong key
           "250-Nickname=x\r\n250 ContactInfo\r\n",         // wrong order
       }) {
    ParsedReply r(bad);
    EXPECT_FALSE(core.apply_getconf(keys, r.kv(), nullptr).ok()) << bad;
    EXPECT_EQ(value("Nickname").text(), "Unnamed");
  }
  // A group with a line of another group's option in it.
  const std::vector<std::string> hs_only{"HiddenServiceOptions"};
  ParsedReply r("250-HiddenServiceDir=/x\r\n250 SocksPort=1\r\n");
  EXPECT_FALSE(core.apply_getconf(hs_only, r.kv(), nullptr).ok());
  EXPECT_EQ(core.find("HiddenServiceOptions")->groups.size(), 2u);
}

TEST_F(ConfigCoreTest, StagedChangesMakeOneSetconfExactly) {
  ASSERT_TRUE(core.stage_text("contactinfo", "ops \"x\" <o@example.org>").ok());
  ASSERT_TRUE(core.stage_bool("DisableNetwork", false).ok());
  ASSERT_TRUE(core.stage_auto_bool("ConnectionPadding", AutoBool::on).ok());
  ASSERT_TRUE(core.stage_integer("NumEntryGuards", 2).ok());
  ASSERT_TRUE(core.stage_float("CircuitPriorityHalflife", 0.5).ok());
  ASSERT_TRUE(core.stage_unsigned("BandwidthRate", 5u << 20).ok());
  ASSERT_TRUE(core.stage_duration("CircuitBuildTimeout", 2min).ok());
  ASSERT_TRUE(core.stage_duration("KISTSchedRunInterval", 15ms).ok());
  ASSERT_TRUE(core.stage_list("LongLivedPorts", {"80", "443"}).ok());
  ASSERT_TRUE(core.stage_list("ExitPolicy", {"accept *:443", "reject *:*"}).ok());
  ASSERT_TRUE(core.stage_clear("ExcludeNodes").ok());
  EXPECT_EQ(setconf_wire(),
            "SETCONF ContactInfo=\"ops \\\"x\\\" <o@example.org>\" DisableNetwork=0 "
            "ConnectionPadding=1 NumEntryGuards=2 CircuitPriorityHalflife=0.5 "
            "BandwidthRate=\"5242880 bytes\" CircuitBuildTimeout=\"120 seconds\" "
            "KISTSchedRunInterval=\"15 msec\" LongLivedPorts=80,443 "
            "ExitPolicy=\"accept *:443\" ExitPolicy=\"reject *:*\" ExcludeNodes\r\n");
  // Staging an option again replaces its earlier value, and it moves last.
  ASSERT_TRUE(core.stage_text("CONTACTINFO", "").ok());
  EXPECT_TRUE(setconf_wire().ends_with(" ExcludeNodes ContactInfo=\"\"\r\n")) << setconf_wire();
  EXPECT_EQ(core.refresh_keys(core.staged()).size(), 11u);
  // The cache is tor's until tor says otherwise.
  EXPECT_EQ(value("NumEntryGuards").text(), "0");
}

TEST_F(ConfigCoreTest, GroupsAreStagedWholeAndInOrder) {
  ConfigGroup a, b;
  a.add("HiddenServiceDir", "/srv/new").add("hiddenserviceport", "80 127.0.0.1:80");
  b.add("HiddenServiceDir", "/srv/two")
      .add("HiddenServicePort", "81")
      .add("HiddenServiceVersion", "3");
  ASSERT_TRUE(core.stage_groups("hiddenserviceoptions", {a, b}).ok());
  EXPECT_EQ(setconf_wire(),
            "SETCONF HiddenServiceDir=/srv/new HiddenServicePort=\"80 127.0.0.1:80\" "
            "HiddenServiceDir=/srv/two HiddenServicePort=81 HiddenServiceVersion=3\r\n");
  EXPECT_EQ(core.refresh_keys(core.staged()), (std::vector<std::string>{"HiddenServiceOptions"}));
  // No groups: the bare Virtual name removes them all.
  ASSERT_TRUE(core.stage_groups("HiddenServiceOptions", {}).ok());
  EXPECT_EQ(setconf_wire(), "SETCONF HiddenServiceOptions\r\n");
  // A line of the group staged alone replaces the staged group.
  ASSERT_TRUE(core.stage_list("HiddenServicePort", {"80"}).ok());
  EXPECT_EQ(setconf_wire(), "SETCONF HiddenServicePort=80\r\n");
  // Port lines: one group each.
  ASSERT_TRUE(core.stage_list("socksport", {"9050", "127.0.0.1:9150"}).ok());
  EXPECT_EQ(setconf_wire(),
            "SETCONF HiddenServicePort=80 SocksPort=9050 SocksPort=127.0.0.1:9150\r\n");

  // Accepted as sent (when tor could not be asked back): groups rebuilt.
  std::vector<std::string> changed;
  core.apply_staged(core.take_staged(), &changed);
  EXPECT_EQ(value("SocksPort").lines(), (std::vector<std::string>{"9050", "127.0.0.1:9150"}));
  ASSERT_EQ(core.find("HiddenServiceOptions")->groups.size(), 1u);
  EXPECT_EQ(core.find("HiddenServiceOptions")->groups[0].lines,
            (std::vector<ConfigLine>{{"HiddenServicePort", "80"}}));
  EXPECT_NE(std::find(changed.begin(), changed.end(), "SocksPortLines"), changed.end());
}

TEST_F(ConfigCoreTest, BadInputIsRefusedAndNothingIsStaged) {
  ConfigGroup no_head, two_heads, foreign, empty;
  no_head.add("HiddenServicePort", "80");
  two_heads.add("HiddenServiceDir", "/a").add("HiddenServiceDir", "/b");
  foreign.add("HiddenServiceDir", "/a").add("SocksPort", "9050");
  ConfigGroup crlf;
  crlf.add("HiddenServiceDir", "/a").add("HiddenServicePort", "80\r\nSIGNAL HALT");
  struct Case {
    const char* what;
    Status status;
    Errc want;
  };
  const std::vector<Case> cases = {
      {"CR LF in text", core.stage_text("ContactInfo", "x\r\nSIGNAL HALT"), Errc::injection},
      {"NUL in text", core.stage_text("ContactInfo", std::string_view("x\0y", 3)), Errc::injection},
      {"LF in a list item", core.stage_list("ExitPolicy", {"accept *:1", "a\nb"}), Errc::injection},
      {"CR in a comma list", core.stage_list("LongLivedPorts", {"1\r"}), Errc::injection},
      {"CR LF in a group", core.stage_groups("HiddenServiceOptions", {crlf}), Errc::injection},
      {"unknown option", core.stage_text("NoSuchOption", "1"), Errc::bad_argument},
      {"name with a space", core.stage_text("Contact Info", "1"), Errc::bad_keyword},
      {"bool not 0/1", core.stage_text("DisableNetwork", "yes"), Errc::bad_argument},
      {"bool on an Integer", core.stage_bool("NumEntryGuards", true), Errc::bad_argument},
      {"auto on a Boolean", core.stage_auto_bool("DisableNetwork", AutoBool::automatic),
       Errc::bad_argument},
      {"negative Integer", core.stage_integer("NumEntryGuards", -1), Errc::bad_argument},
      {"Port out of range", core.stage_integer("OldPort", 65536), Errc::bad_argument},
      {"number on a String", core.stage_integer("Nickname", 3), Errc::bad_argument},
      {"size text", core.stage_text("BandwidthRate", "5 parsecs"), Errc::bad_argument},
      {"msec on a TimeInterval", core.stage_duration("CircuitBuildTimeout", 1500ms),
       Errc::bad_argument},
      {"negative interval", core.stage_duration("CircuitBuildTimeout", -1s), Errc::bad_argument},
      {"infinite Float", core.stage_float("CircuitPriorityHalflife", 1.0 / 0.0),
       Errc::bad_argument},
      {"comma in a list item", core.stage_list("LongLivedPorts", {"1,2"}), Errc::bad_argument},
      {"list on a String", core.stage_list("Nickname", {"a", "b"}), Errc::bad_argument},
      {"text on a Virtual", core.stage_text("HiddenServiceOptions", "x"), Errc::bad_argument},
      {"groups on a LineList", core.stage_groups("ExitPolicy", {}), Errc::bad_argument},
      {"group without its head", core.stage_groups("HiddenServiceOptions", {no_head}),
       Errc::bad_argument},
      {"group with two heads", core.stage_groups("HiddenServiceOptions", {two_heads}),
       Errc::bad_argument},
      {"group with a foreign line", core.stage_groups("HiddenServiceOptions", {foreign}),
       Errc::bad_argument},
      {"empty group", core.stage_groups("HiddenServiceOptions", {empty}), Errc::bad_argument},
  };
  for (const Case& c : cases) {
    ASSERT_FALSE(c.status.ok()) << c.what;
    EXPECT_EQ(c.status.error().code, c.want) << c.what << ": " << c.status.error().message;
    EXPECT_FALSE(c.status.error().message.empty());
  }
  EXPECT_TRUE(core.staged().empty());
  EXPECT_EQ(setconf_wire(), "SETCONF\r\n");  // what an empty batch would be; save() sends none
}

TEST_F(ConfigCoreTest, TextIsCheckedAgainstTheType) {
  struct Case {
    const char* option;
    const char* text;
    bool ok;
  };
  for (const Case& c : std::vector<Case>{{"OldPort", "auto", true},
                                         {"OldPort", "9050", true},
                                         {"OldPort", "any", false},
                                         {"NumEntryGuards", "18446744073709551615", true},
                                         {"NumEntryGuards", "-1", false},
                                         {"CircuitBuildTimeout", "2 hours", true},
                                         {"CircuitBuildTimeout", "2 lightyears", false},
                                         {"KISTSchedRunInterval", "10 msec", true},
                                         {"BandwidthRate", "5 MB", true},
                                         {"CircuitPriorityHalflife", "0.25", true},
                                         {"CircuitPriorityHalflife", "a quarter", false},
                                         {"ConnectionPadding", "auto", true},
                                         {"DisableNetwork", "auto", false},
                                         {"Frobnicate", "anything goes", true},
                                         {"ExitPolicy", "accept *:*", true}}) {
    Status s = core.stage_text(c.option, c.text);
    EXPECT_EQ(s.ok(), c.ok) << c.option << " " << c.text;
    if (!c.ok) {
      EXPECT_NE(s.error().message.find(c.option), std::string::npos) << s.error().message;
    }
  }
}

TEST_F(ConfigCoreTest, ReadingTheNamesAgainDropsStagedChanges) {
  ASSERT_TRUE(core.stage_text("Nickname", "x").ok());
  const auto version = core.table_version();
  ASSERT_TRUE(core.apply_names(kNames).ok());
  EXPECT_NE(core.table_version(), version);
  EXPECT_TRUE(core.staged().empty());
}

TEST_F(ConfigCoreTest, ARefusedBatchGoesBackUnderNewerChanges) {
  ASSERT_TRUE(core.stage_text("Nickname", "first").ok());
  ASSERT_TRUE(core.stage_integer("NumEntryGuards", 3).ok());
  auto batch = core.take_staged();
  ASSERT_TRUE(core.stage_text("Nickname", "second").ok());  // staged while the save was out
  core.restore_staged(std::move(batch));
  EXPECT_EQ(setconf_wire(), "SETCONF NumEntryGuards=3 Nickname=second\r\n");
  core.discard_staged(core.index_of("NumEntryGuards"));
  EXPECT_EQ(setconf_wire(), "SETCONF Nickname=second\r\n");
}

TEST_F(ConfigCoreTest, ConfChangedUpdatesPlainOptionsAndWholeGroups) {
  ParsedReply r(
      "650-CONF_CHANGED\r\n"
      "650-Nickname=relay7\r\n"
      "650-ExitPolicy\r\n"
      "650-ContactInfo=\"quoted \\\"one\\\"\"\r\n"
      "650-HiddenServiceDir=/srv/c\r\n"
      "650-HiddenServicePort=90\r\n"
      "650-SocksPortLines\r\n"
      "650-BrandNewOption=7\r\n"
      "650 OK\r\n");
  Event ev;
  ASSERT_TRUE(parse_event(r.reply, ev).ok());
  const auto* cc = ev.get<ConfChangedEvent>();
  ASSERT_NE(cc, nullptr);
  std::vector<std::string> changed;
  core.apply_conf_changed(*cc, &changed);
  EXPECT_EQ(value("Nickname").text(), "relay7");
  EXPECT_FALSE(value("ExitPolicy").is_set());
  EXPECT_EQ(value("ContactInfo").text(), "quoted \"one\"");
  const auto& hs = core.find("HiddenServiceOptions")->groups;
  ASSERT_EQ(hs.size(), 1u);
  EXPECT_EQ(hs[0].lines,
            (std::vector<ConfigLine>{{"HiddenServiceDir", "/srv/c"}, {"HiddenServicePort", "90"}}));
  EXPECT_EQ(value("HiddenServicePort").lines(), (std::vector<std::string>{"90"}));
  EXPECT_TRUE(core.find("SocksPortLines")->groups.empty());
  EXPECT_FALSE(value("SocksPort").is_set());
  ASSERT_NE(core.find("brandnewoption"), nullptr);  // tor knows it: kept as text
  EXPECT_EQ(value("BrandNewOption").text(), "7");
  for (const char* n : {"Nickname", "ExitPolicy", "ContactInfo", "HiddenServiceOptions",
                        "HiddenServicePort", "SocksPortLines", "BrandNewOption"})
    EXPECT_NE(std::find(changed.begin(), changed.end(), n), changed.end()) << n;
  EXPECT_EQ(std::find(changed.begin(), changed.end(), "DisableNetwork"), changed.end());
}

TEST(ConfigCoreWithoutNames, TakesAnyOptionNameAndTorsSpelling) {
  ConfigCore core;
  EXPECT_FALSE(core.knows_names());
  const std::vector<std::string> names{"socksport", "nickname", "SOCKSPORT"};
  Expected<std::vector<std::string>> keys = core.read_keys(names);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(*keys, (std::vector<std::string>{"socksport", "nickname"}));
  EXPECT_FALSE(core.read_keys(std::vector<std::string>{"bad name"}).ok());
  ParsedReply r("250-SocksPort=9050\r\n250-SocksPort=9150\r\n250 Nickname\r\n");
  ASSERT_TRUE(core.apply_getconf(*keys, r.kv(), nullptr).ok());
  EXPECT_EQ(core.find("SOCKSPORT")->name, "SocksPort");
  EXPECT_EQ(core.find("socksport")->value.lines(), (std::vector<std::string>{"9050", "9150"}));
  EXPECT_FALSE(core.find("Nickname")->value.is_set());
  // Types unknown: values staged as text, unchecked but for CR/LF/NUL.
  ASSERT_TRUE(core.stage_text("nickname", "x").ok());
  EXPECT_EQ(core.stage_text("nickname", "x\n").error().code, Errc::injection);
  EXPECT_EQ(core.setconf(core.staged()).wire(), "SETCONF Nickname=x\r\n");
}

}  // namespace
}  // namespace torcon::detail
