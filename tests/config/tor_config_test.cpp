// TorConfig against a real tor (standalone, DisableNetwork 1): every type
// read and written, atomic saves, CONF_CHANGED from another controller,
// lazy loads, groups, resets, SAVECONF, and refusals before sending.

#include "torcon/tor_config.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "support/tor_process.hpp"

namespace torcon {
namespace {

using namespace std::chrono_literals;
using testing::TorProcess;

class TorConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = Reactor::create();
    ASSERT_TRUE(r.ok()) << r.error().message;
    reactor_ = std::move(*r);
    ASSERT_TRUE(tor_.ok()) << tor_.error();
    ctl_ = std::make_unique<Controller>(*reactor_);
    ASSERT_TRUE(connect(*ctl_).ok());
  }
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = 20s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > end) return false;
      reactor_->run_once(20ms);
    }
    return true;
  }
  Status connect(Controller& c) {
    std::optional<Status> st;
    c.connect(Endpoint::tcp("127.0.0.1", static_cast<std::uint16_t>(tor_.control_port())),
              [&](const Status& s) { st = s; });
    EXPECT_TRUE(run_until([&] { return st.has_value(); }));
    return st.value_or(Status(Error(Errc::timeout, "connect did not complete")));
  }
  // Runs an operation taking a StatusCallback to its end.
  Status wait(const std::function<void(StatusCallback)>& op) {
    std::optional<Status> st;
    op([&](const Status& s) { st = s; });
    EXPECT_TRUE(run_until([&] { return st.has_value(); }));
    return st.value_or(Status(Error(Errc::timeout, "did not complete")));
  }
  Status load(TorConfig& cfg, ConfigOptions o = {}) {
    return wait([&](StatusCallback cb) { cfg.load(o, std::move(cb)); });
  }
  // What tor says, through a controller of its own: key -> lines.
  std::map<std::string, std::vector<std::string>> tor_says(std::vector<std::string_view> keys) {
    Controller other(*reactor_);
    EXPECT_TRUE(connect(other).ok());
    std::optional<Expected<KeyValues>> got;
    other.getconf(std::span<const std::string_view>(keys),
                  [&](const Expected<KeyValues>& kv) { got = kv; });
    EXPECT_TRUE(run_until([&] { return got.has_value(); }));
    std::map<std::string, std::vector<std::string>> out;
    if (!got || !got->ok()) return out;
    for (const auto& e : (*got)->entries) {
      auto& lines = out[e.key];
      if (e.has_value) lines.push_back(e.value);
    }
    return out;
  }

  TorProcess tor_;
  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<Controller> ctl_;
};

TEST_F(TorConfigTest, FullLoadTypesEveryOptionTorLists) {
  TorConfig cfg(*ctl_);
  Status s = load(cfg);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(cfg.loaded());
  EXPECT_TRUE(cfg.knows_names());
  EXPECT_TRUE(cfg.following_changes());
  ASSERT_GT(cfg.option_names().size(), 300u);

  // Every value tor gave parses as its type: the parsers read what tor writes.
  std::map<ConfigType, int> seen;
  for (std::string_view name : cfg.option_names()) {
    const ConfigType t = *cfg.type_of(name);
    ++seen[t];
    if (t == ConfigType::virtual_group) {
      EXPECT_NE(cfg.groups(name), nullptr) << name;
      EXPECT_EQ(cfg.get(name), nullptr) << name;
      continue;
    }
    const ConfigValue* v = cfg.get(name);
    ASSERT_NE(v, nullptr) << name;
    if (!v->is_set()) continue;
    switch (t) {
      case ConfigType::boolean: EXPECT_TRUE(v->boolean().ok()) << name << "=" << v->text(); break;
      case ConfigType::boolean_auto:
        EXPECT_TRUE(v->auto_bool().ok()) << name << "=" << v->text();
        break;
      case ConfigType::integer:  // tor's Integer includes 64-bit unsigned options
        EXPECT_TRUE(v->unsigned_integer().ok()) << name << "=" << v->text();
        break;
      case ConfigType::signed_integer:
        EXPECT_TRUE(v->integer().ok()) << name << "=" << v->text();
        break;
      case ConfigType::time_interval:
        EXPECT_TRUE(v->seconds().ok()) << name << "=" << v->text();
        break;
      case ConfigType::time_msec_interval:
        EXPECT_TRUE(v->milliseconds().ok()) << name << "=" << v->text();
        break;
      case ConfigType::data_size: EXPECT_TRUE(v->bytes().ok()) << name << "=" << v->text(); break;
      case ConfigType::floating: EXPECT_TRUE(v->number().ok()) << name << "=" << v->text(); break;
      default: break;
    }
  }
  for (ConfigType t :
       {ConfigType::boolean, ConfigType::boolean_auto, ConfigType::integer,
        ConfigType::signed_integer, ConfigType::time_interval, ConfigType::time_msec_interval,
        ConfigType::data_size, ConfigType::floating, ConfigType::comma_list,
        ConfigType::router_list, ConfigType::string, ConfigType::filename, ConfigType::line_list,
        ConfigType::dependent, ConfigType::virtual_group})
    EXPECT_GT(seen[t], 0) << to_string(t);

  // Values as the fixture's torrc set them, by any spelling of the name.
  EXPECT_EQ(*cfg.get("DisableNetwork")->boolean(), true);
  EXPECT_EQ(cfg.get("disablenetwork"), cfg.get("DISABLENETWORK"));
  EXPECT_EQ(cfg.canonical_name("controlPORT"), "ControlPort");
  EXPECT_EQ(cfg.get("ControlPort")->text(), "127.0.0.1:auto");  // the fixture's torrc
  EXPECT_EQ(cfg.get("DataDirectory")->text(), tor_.data_dir());
  EXPECT_EQ(*cfg.type_of("socksport"), ConfigType::dependent);
  EXPECT_EQ(cfg.get("NoSuchOption"), nullptr);
  EXPECT_TRUE(cfg.hidden_services().empty());
}

TEST_F(TorConfigTest, EveryTypeWrittenInOneSaveAndReadBack) {
  TorConfig cfg(*ctl_);
  ASSERT_TRUE(load(cfg).ok());
  const std::string auth_dir = tor_.data_dir() + "/onion auth \"dir\"";
  ASSERT_EQ(::mkdir(auth_dir.c_str(), 0700), 0);
  const std::string contact = "ops \"quoted\" <o@example.org> a=b \\ back";
  const std::string fp = "$" + std::string(40, 'A');
  struct Step {
    const char* option;
    Status staged;
  };
  for (const Step& s : std::vector<Step>{
           {"TestSocks", cfg.set("testsocks", true)},                          // Boolean
           {"ConnectionPadding", cfg.set("ConnectionPadding", AutoBool::on)},  // Boolean+Auto
           {"NumEntryGuards", cfg.set("NumEntryGuards", 2)},                   // Integer
           {"PathBiasCircThreshold", cfg.set("PathBiasCircThreshold", 20)},    // SignedInteger
           {"CircuitBuildTimeout", cfg.set("CircuitBuildTimeout", 2min)},      // TimeInterval
           {"KISTSchedRunInterval", cfg.set("KISTSchedRunInterval", 15ms)},    // TimeMsecInterval
           {"BandwidthRate", cfg.set("BandwidthRate", 5u << 20)},              // DataSize
           {"PathsNeededToBuildCircuits", cfg.set("PathsNeededToBuildCircuits", 0.75)},  // Float
           {"LongLivedPorts", cfg.set_list("LongLivedPorts", {"80", "443"})},          // CommaList
           {"ExcludeNodes", cfg.set_list("ExcludeNodes", {fp, "SomeNick"})},           // RouterList
           {"ContactInfo", cfg.set("ContactInfo", contact)},                           // String
           {"ClientOnionAuthDir", cfg.set("ClientOnionAuthDir", auth_dir)},            // Filename
           {"ExitPolicy", cfg.set_list("ExitPolicy", {"accept *:80", "reject *:*"})},  // LineList
       })
    ASSERT_TRUE(s.staged.ok()) << s.option << ": " << s.staged.error().message;
  EXPECT_EQ(cfg.pending_names().size(), 13u);
  EXPECT_EQ(*cfg.get("NumEntryGuards")->integer(), 0);  // not before tor took it

  std::vector<std::string> notified;
  cfg.on_change([&](std::string_view n) { notified.emplace_back(n); });
  Status s = wait([&](StatusCallback cb) { cfg.save(std::move(cb)); });
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_FALSE(cfg.has_pending());

  // The cache, typed.
  EXPECT_EQ(*cfg.get("TestSocks")->boolean(), true);
  EXPECT_EQ(*cfg.get("ConnectionPadding")->auto_bool(), AutoBool::on);
  EXPECT_EQ(*cfg.get("NumEntryGuards")->integer(), 2);
  EXPECT_EQ(*cfg.get("PathBiasCircThreshold")->integer(), 20);
  EXPECT_EQ(*cfg.get("CircuitBuildTimeout")->seconds(), 120s);
  EXPECT_EQ(cfg.get("CircuitBuildTimeout")->text(), "120");  // as tor normalised it
  EXPECT_EQ(*cfg.get("KISTSchedRunInterval")->milliseconds(), 15ms);
  EXPECT_EQ(*cfg.get("BandwidthRate")->bytes(), 5u << 20);
  EXPECT_DOUBLE_EQ(*cfg.get("PathsNeededToBuildCircuits")->number(), 0.75);
  EXPECT_EQ(cfg.get("LongLivedPorts")->items(), (std::vector<std::string>{"80", "443"}));
  EXPECT_EQ(cfg.get("ExcludeNodes")->items(), (std::vector<std::string>{fp, "SomeNick"}));
  EXPECT_EQ(cfg.get("ContactInfo")->text(), contact);
  EXPECT_EQ(cfg.get("ClientOnionAuthDir")->text(), auth_dir);
  EXPECT_EQ(cfg.get("ExitPolicy")->lines(),
            (std::vector<std::string>{"accept *:80", "reject *:*"}));
  for (const char* n : {"TestSocks", "NumEntryGuards", "ContactInfo", "ExitPolicy"})
    EXPECT_NE(std::find(notified.begin(), notified.end(), n), notified.end()) << n;

  // And tor, asked by another controller, agrees.
  auto t = tor_says({"NumEntryGuards", "ContactInfo", "ExitPolicy", "BandwidthRate",
                     "ClientOnionAuthDir", "PathsNeededToBuildCircuits"});
  EXPECT_EQ(t["NumEntryGuards"], std::vector<std::string>{"2"});
  EXPECT_EQ(t["ContactInfo"], std::vector<std::string>{contact});
  EXPECT_EQ(t["ExitPolicy"], (std::vector<std::string>{"accept *:80", "reject *:*"}));
  EXPECT_EQ(t["BandwidthRate"], std::vector<std::string>{"5242880"});
  EXPECT_EQ(t["ClientOnionAuthDir"], std::vector<std::string>{auth_dir});
  EXPECT_EQ(t["PathsNeededToBuildCircuits"], std::vector<std::string>{"0.750000"});

  // A negative SignedInteger and an unset option.
  ASSERT_TRUE(cfg.set("PathBiasCircThreshold", -1).ok());
  ASSERT_TRUE(cfg.clear("ContactInfo").ok());
  ASSERT_TRUE(wait([&](StatusCallback cb) { cfg.save(std::move(cb)); }).ok());
  EXPECT_EQ(*cfg.get("PathBiasCircThreshold")->integer(), -1);
  EXPECT_FALSE(cfg.get("ContactInfo")->is_set());
}

TEST_F(TorConfigTest, ARefusedMultiKeySaveChangesNeitherTorNorTheCache) {
  TorConfig cfg(*ctl_);
  ASSERT_TRUE(load(cfg).ok());
  const auto before = tor_says({"ContactInfo", "NumEntryGuards", "Nickname"});
  ASSERT_TRUE(cfg.set("ContactInfo", "changed").ok());
  ASSERT_TRUE(cfg.set("NumEntryGuards", 3).ok());
  ASSERT_TRUE(cfg.set("Nickname", "not a nickname!").ok());  // a String to us; tor refuses it
  Status s = wait([&](StatusCallback cb) { cfg.save(std::move(cb)); });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::tor_error);
  EXPECT_EQ(s.error().status, 513);
  EXPECT_NE(s.error().message.find("nicknames must be between 1 and 19"), std::string::npos)
      << s.error().message;  // tor's words
  EXPECT_EQ(tor_says({"ContactInfo", "NumEntryGuards", "Nickname"}), before);
  EXPECT_FALSE(cfg.get("ContactInfo")->is_set());
  EXPECT_EQ(*cfg.get("NumEntryGuards")->integer(), 0);
  // The changes wait; with the bad one fixed, the same batch goes through.
  EXPECT_EQ(cfg.pending_names(),
            (std::vector<std::string>{"ContactInfo", "NumEntryGuards", "Nickname"}));
  ASSERT_TRUE(cfg.set("Nickname", "fine").ok());
  ASSERT_TRUE(wait([&](StatusCallback cb) { cfg.save(std::move(cb)); }).ok());
  EXPECT_EQ(cfg.get("ContactInfo")->text(), "changed");
  EXPECT_EQ(cfg.get("Nickname")->text(), "fine");
  EXPECT_EQ(tor_says({"NumEntryGuards"})["NumEntryGuards"], std::vector<std::string>{"3"});
}

TEST_F(TorConfigTest, AChangeFromAnotherControllerArrivesThroughConfChanged) {
  TorConfig cfg(*ctl_);
  ASSERT_TRUE(load(cfg).ok());
  std::vector<std::string> notified;
  cfg.on_change([&](std::string_view n) { notified.emplace_back(n); });

  Controller other(*reactor_);
  ASSERT_TRUE(connect(other).ok());
  const std::string dir = tor_.data_dir() + "/hs-other";
  using Change = std::pair<std::string_view, std::optional<std::string_view>>;
  const std::vector<Change> changes = {{"ContactInfo", "set elsewhere"},
                                       {"HiddenServiceDir", dir},
                                       {"HiddenServicePort", "80 127.0.0.1:8080"}};
  std::optional<Status> st;
  other.setconf(changes, [&](const Status& s) { st = s; });
  ASSERT_TRUE(run_until([&] { return st.has_value(); }));
  ASSERT_TRUE(st->ok()) << st->error().message;

  ASSERT_TRUE(run_until([&] {
    const ConfigValue* v = cfg.get("ContactInfo");
    return v && v->text() == "set elsewhere" && !cfg.hidden_services().empty();
  }));
  const std::vector<ConfigGroup> hs = cfg.hidden_services();
  ASSERT_EQ(hs.size(), 1u);
  EXPECT_EQ(hs[0].head(), dir);
  EXPECT_EQ(hs[0].values("HiddenServicePort"), std::vector<std::string_view>{"80 127.0.0.1:8080"});
  for (const char* n : {"ContactInfo", "HiddenServiceOptions", "HiddenServiceDir"})
    EXPECT_NE(std::find(notified.begin(), notified.end(), n), notified.end()) << n;

  // Removing every service elsewhere empties the groups here.
  st.reset();
  const std::vector<Change> clear = {{"HiddenServiceOptions", std::nullopt}};
  other.setconf(clear, [&](const Status& s) { st = s; });
  ASSERT_TRUE(run_until([&] { return st.has_value() && cfg.hidden_services().empty(); }));
  EXPECT_FALSE(cfg.get("HiddenServiceDir")->is_set());
}

TEST_F(TorConfigTest, LazyLoadReadsOnlyWhatIsAsked) {
  TorConfig cfg(*ctl_);
  ConfigOptions o;
  o.load = ConfigLoad::lazy;
  ASSERT_TRUE(load(cfg, o).ok());
  EXPECT_TRUE(cfg.loaded());
  EXPECT_TRUE(cfg.knows_names());
  EXPECT_EQ(cfg.get("ContactInfo"), nullptr);  // not read yet
  EXPECT_EQ(*cfg.type_of("ContactInfo"), ConfigType::string);

  Status s = wait([&](StatusCallback cb) {
    cfg.fetch({"contactinfo", "DISABLENETWORK", "HiddenServicePort"}, std::move(cb));
  });
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_FALSE(cfg.get("ContactInfo")->is_set());
  EXPECT_EQ(*cfg.get("DisableNetwork")->boolean(), true);
  EXPECT_NE(cfg.groups("HiddenServiceOptions"), nullptr);  // a Dependent reads its group
  EXPECT_EQ(cfg.get("NumEntryGuards"), nullptr);

  // Staging and saving work as in a full load.
  ASSERT_TRUE(cfg.set("ContactInfo", "lazy").ok());
  ASSERT_TRUE(wait([&](StatusCallback cb) { cfg.save(std::move(cb)); }).ok());
  EXPECT_EQ(cfg.get("ContactInfo")->text(), "lazy");

  // An option tor does not have.
  s = wait([&](StatusCallback cb) { cfg.fetch({"NoSuchOption"}, std::move(cb)); });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::bad_argument);
}

TEST_F(TorConfigTest, OnionServiceGroupsRoundTripInOrder) {
  TorConfig cfg(*ctl_);
  ASSERT_TRUE(load(cfg).ok());
  ConfigGroup web, mail;
  web.add("HiddenServiceDir", tor_.data_dir() + "/web")
      .add("HiddenServicePort", "80 127.0.0.1:8080")
      .add("HiddenServicePort", "443 127.0.0.1:8443")
      .add("HiddenServiceVersion", "3");
  mail.add("hiddenservicedir", tor_.data_dir() + "/mail")
      .add("HiddenServicePort", "25 unix:" + tor_.data_dir() + "/smtp.sock")
      .add("HiddenServiceMaxStreams", "10");
  ASSERT_TRUE(cfg.set_hidden_services({web, mail}).ok());
  Status s = wait([&](StatusCallback cb) { cfg.save(std::move(cb)); });
  ASSERT_TRUE(s.ok()) << s.error().message;

  mail.lines[0].key = "HiddenServiceDir";  // tor's spelling in the cache
  EXPECT_EQ(cfg.hidden_services(), (std::vector<ConfigGroup>{web, mail}));
  const auto t = tor_says({"HiddenServiceOptions"});
  EXPECT_EQ(t.at("HiddenServiceDir"),
            (std::vector<std::string>{tor_.data_dir() + "/web", tor_.data_dir() + "/mail"}));
  EXPECT_EQ(t.at("HiddenServicePort").size(), 3u);
  // Tor made the service: its hostname is in the directory.
  EXPECT_TRUE(
      run_until([&] { return std::filesystem::exists(tor_.data_dir() + "/web/hostname"); }));

  // Dropping one keeps the other.
  ASSERT_TRUE(cfg.set_hidden_services({mail}).ok());
  ASSERT_TRUE(wait([&](StatusCallback cb) { cfg.save(std::move(cb)); }).ok());
  EXPECT_EQ(cfg.hidden_services(), std::vector<ConfigGroup>{mail});
  EXPECT_EQ(tor_says({"HiddenServiceDir"}).at("HiddenServiceDir"),
            std::vector<std::string>{tor_.data_dir() + "/mail"});
  ASSERT_TRUE(cfg.set_hidden_services({}).ok());
  ASSERT_TRUE(wait([&](StatusCallback cb) { cfg.save(std::move(cb)); }).ok());
  EXPECT_TRUE(cfg.hidden_services().empty());
}

TEST_F(TorConfigTest, BadInputIsRefusedBeforeAnythingIsSent) {
  TorConfig cfg(*ctl_);
  ASSERT_TRUE(load(cfg).ok());
  ASSERT_EQ(ctl_->pending(), 0u);
  EXPECT_EQ(cfg.set("ContactInfo", "x\r\nSIGNAL HALT").error().code, Errc::injection);
  EXPECT_EQ(cfg.set_list("ExitPolicy", {"accept *:80\nSIGNAL HALT"}).error().code, Errc::injection);
  ConfigGroup g;
  g.add("HiddenServiceDir", std::string("/x\0y", 4)).add("HiddenServicePort", "80");
  EXPECT_EQ(cfg.set_hidden_services({g}).error().code, Errc::injection);
  EXPECT_EQ(cfg.set("NumEntryGuards", true).error().code, Errc::bad_argument);
  EXPECT_EQ(cfg.set("NoSuchOption", "1").error().code, Errc::bad_argument);
  EXPECT_FALSE(cfg.has_pending());

  std::vector<Status> results;
  auto record = [&](const Status& s) { results.push_back(s); };
  cfg.fetch({"bad name"}, record);
  cfg.reset({"NoSuchOption"}, record);
  cfg.save(record);                // nothing staged: nothing to send
  EXPECT_TRUE(results.empty());    // never inside the call
  EXPECT_EQ(ctl_->pending(), 0u);  // and nothing queued for tor
  ASSERT_TRUE(run_until([&] { return results.size() == 3; }));
  EXPECT_EQ(results[0].error().code, Errc::bad_keyword);
  EXPECT_EQ(results[1].error().code, Errc::bad_argument);
  EXPECT_TRUE(results[2].ok());
  // The connection is as good as before.
  const ConfigValue* dn = cfg.get("DisableNetwork");
  ASSERT_TRUE(dn && dn->boolean().ok());
  EXPECT_EQ(tor_says({"DisableNetwork"}).at("DisableNetwork"), std::vector<std::string>{"1"});
}

TEST_F(TorConfigTest, ResetAndWriteTorrc) {
  TorConfig cfg(*ctl_);
  ASSERT_TRUE(load(cfg).ok());
  ASSERT_TRUE(cfg.set("NumEntryGuards", 5).ok());
  ASSERT_TRUE(cfg.set("ContactInfo", "kept in torrc").ok());
  ASSERT_TRUE(wait([&](StatusCallback cb) { cfg.save(std::move(cb)); }).ok());
  ASSERT_EQ(*cfg.get("NumEntryGuards")->integer(), 5);

  ASSERT_TRUE(cfg.set("NumEntryGuards", 7).ok());  // staged, then reset: dropped
  Status s = wait([&](StatusCallback cb) { cfg.reset({"numentryguards"}, std::move(cb)); });
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(*cfg.get("NumEntryGuards")->integer(), 0);  // tor's default
  EXPECT_FALSE(cfg.has_pending());
  EXPECT_EQ(tor_says({"NumEntryGuards"}).at("NumEntryGuards"), std::vector<std::string>{"0"});

  s = wait([&](StatusCallback cb) { cfg.write_torrc(true, std::move(cb)); });
  ASSERT_TRUE(s.ok()) << s.error().message;
  std::ifstream f(tor_.data_dir() + "/torrc");
  std::stringstream text;
  text << f.rdbuf();
  EXPECT_NE(text.str().find("ContactInfo kept in torrc"), std::string::npos) << text.str();
}

Task save_with_coroutines(TorConfig& cfg, std::optional<Status>& out) {
  Status s = co_await cfg.co_load({});
  if (s) s = cfg.set("ContactInfo", "from a coroutine");
  if (s) s = co_await cfg.co_save();
  std::vector<std::string> names;  // built outside the co_await: gcc 12 miscompiles the braces
  names.emplace_back("ContactInfo");
  if (s) s = co_await cfg.co_fetch(std::move(names));
  out = s;
}

TEST_F(TorConfigTest, CoroutineForms) {
  TorConfig cfg(*ctl_);
  std::optional<Status> out;
  save_with_coroutines(cfg, out);
  ASSERT_TRUE(run_until([&] { return out.has_value(); }));
  ASSERT_TRUE(out->ok()) << out->error().message;
  EXPECT_EQ(cfg.get("ContactInfo")->text(), "from a coroutine");
}

}  // namespace
}  // namespace torcon
