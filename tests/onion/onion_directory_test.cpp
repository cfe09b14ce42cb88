// Directory onion services (HiddenServiceDir through TorConfig): input
// refused before anything is staged, and against a real tor (standalone,
// DisableNetwork 1, which still makes the keys and writes the hostname): the
// address read is the one the key tor wrote gives, relative directories,
// removal, client files, tor's refusal leaving tor and the cache as they were.

#include "torcon/onion_directory.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "support/tor_process.hpp"
#include "torcon/onion_keys.hpp"

namespace torcon {
namespace {

using namespace std::chrono_literals;
using testing::TorProcess;
namespace fs = std::filesystem;

std::string cwd() { return fs::current_path().string(); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// ---- offline: the directory and the group ----------------------------------------

struct DirCase {
  const char* input;
  std::string expected;  // "" : refused with bad_argument
};

TEST(OnionDirectoryInput, DirectoriesAreMadeAbsoluteAgainstTheCallersCwd) {
  const std::vector<DirCase> cases = {
      {"/var/lib/tor/web", "/var/lib/tor/web"},
      {"/var/lib/tor/web/", "/var/lib/tor/web"},
      {"/var/lib/tor/./a/../web", "/var/lib/tor/web"},
      {"web", cwd() + "/web"},
      {"./onion/../web", cwd() + "/web"},
      {"with space/web", cwd() + "/with space/web"},
      {"/", "/"},
      {"", ""},
      {"a\nb", ""},
      {"a\rb", ""},
      {"a\"b", ""},
      {"a\\b", ""},
      {"a\x7f", ""},
      {"a\tb", ""},
  };
  for (const DirCase& c : cases) {
    Expected<std::string> got = absolute_onion_directory(c.input);
    if (c.expected.empty()) {
      ASSERT_FALSE(got.ok()) << c.input << " -> " << *got;
      EXPECT_EQ(got.error().code, Errc::bad_argument) << c.input;
    } else {
      ASSERT_TRUE(got.ok()) << c.input << ": " << got.error().message;
      EXPECT_EQ(*got, c.expected) << c.input;
    }
  }
  EXPECT_FALSE(absolute_onion_directory(std::string("a\0b", 3)).ok());
}

TEST(OnionDirectoryInput, GroupHasTheLinesTorReads) {
  OnionDirectorySpec spec;
  spec.directory = "svc";
  spec.ports = {{80, "127.0.0.1:8080"}, {443, ""}, {22, "2222"}, {25, "unix:/run/smtp.sock"}};
  Expected<ConfigGroup> g = onion_directory_group(spec);
  ASSERT_TRUE(g.ok()) << g.error().message;
  ConfigGroup want;
  want.add("HiddenServiceDir", cwd() + "/svc")
      .add("HiddenServicePort", "80 127.0.0.1:8080")
      .add("HiddenServicePort", "443")
      .add("HiddenServicePort", "22 2222")
      .add("HiddenServicePort", "25 unix:/run/smtp.sock")
      .add("HiddenServiceVersion", "3");
  EXPECT_EQ(*g, want);
}

struct SpecCase {
  const char* what;
  OnionDirectorySpec spec;
};

TEST(OnionDirectoryInput, BadSpecsAreRefusedBeforeStaging) {
  const std::string key = new_client_auth_keys().public_base32;
  const std::vector<OnionPort> ok_port = {{80, ""}};
  const std::vector<SpecCase> cases = {
      {"no ports", {"/tmp/x", {}, {}}},
      {"port 0", {"/tmp/x", {{0, ""}}, {}}},
      {"port 65536", {"/tmp/x", {{65536, ""}}, {}}},
      {"target port 0", {"/tmp/x", {{80, "127.0.0.1:0"}}, {}}},
      {"target with space", {"/tmp/x", {{80, "127.0.0.1 :80"}}, {}}},
      {"target with newline", {"/tmp/x", {{80, "80\nHiddenServiceDir /etc"}}, {}}},
      {"relative unix socket", {"/tmp/x", {{80, "unix:sock"}}, {}}},
      {"directory with newline", {"/tmp/x\nHiddenServicePort 22", ok_port, {}}},
      {"client name with space", {"/tmp/x", ok_port, {{"a b", key}}}},
      {"client name with slash", {"/tmp/x", ok_port, {{"../a", key}}}},
      {"client name empty", {"/tmp/x", ok_port, {{"", key}}}},
      {"client key short", {"/tmp/x", ok_port, {{"alice", key.substr(1)}}}},
      {"client key not base32", {"/tmp/x", ok_port, {{"alice", std::string(52, '!')}}}},
      {"client twice", {"/tmp/x", ok_port, {{"alice", key}, {"alice", key}}}},
  };
  for (const SpecCase& c : cases) {
    Expected<ConfigGroup> g = onion_directory_group(c.spec);
    ASSERT_FALSE(g.ok()) << c.what;
    EXPECT_EQ(g.error().code, Errc::bad_argument) << c.what;
    EXPECT_FALSE(g.error().message.empty()) << c.what;
  }
}

// ---- against tor -------------------------------------------------------------------

class OnionDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = Reactor::create();
    ASSERT_TRUE(r.ok()) << r.error().message;
    reactor_ = std::move(*r);
    ASSERT_TRUE(tor_.ok()) << tor_.error();
    ctl_ = std::make_unique<Controller>(*reactor_);
    ASSERT_TRUE(connect(*ctl_).ok());
  }
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = 30s) {
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
  Status load(TorConfig& cfg, ConfigLoad how = ConfigLoad::full) {
    std::optional<Status> st;
    ConfigOptions o;
    o.load = how;
    cfg.load(o, [&](const Status& s) { st = s; });
    EXPECT_TRUE(run_until([&] { return st.has_value(); }));
    return st.value_or(Status(Error(Errc::timeout, "load did not complete")));
  }
  Expected<std::string> add(TorConfig& cfg, const OnionDirectorySpec& spec) {
    std::optional<Expected<std::string>> got;
    add_onion_directory(cfg, spec, {}, [&](const Expected<std::string>& a) { got = a; });
    EXPECT_TRUE(run_until([&] { return got.has_value(); }));
    return got.value_or(Expected<std::string>(Error(Errc::timeout, "add did not complete")));
  }
  Status remove(TorConfig& cfg, const std::string& dir) {
    std::optional<Status> st;
    remove_onion_directory(cfg, dir, [&](const Status& s) { st = s; });
    EXPECT_TRUE(run_until([&] { return st.has_value(); }));
    return st.value_or(Status(Error(Errc::timeout, "remove did not complete")));
  }
  // The directories tor has, through a controller of its own.
  std::vector<std::string> tor_dirs() {
    Controller other(*reactor_);
    EXPECT_TRUE(connect(other).ok());
    std::optional<Expected<KeyValues>> got;
    const std::vector<std::string_view> keys = {"HiddenServiceDir"};
    other.getconf(std::span<const std::string_view>(keys),
                  [&](const Expected<KeyValues>& kv) { got = kv; });
    EXPECT_TRUE(run_until([&] { return got.has_value(); }));
    std::vector<std::string> out;
    if (!got || !got->ok()) return out;
    for (const auto& e : (*got)->entries)
      if (e.has_value) out.push_back(e.value);
    return out;
  }
  // The address of the key tor wrote: hs_ed25519_secret_key is a 32-byte
  // header and the 64-byte expanded secret.
  std::string address_of_key_file(const std::string& dir) {
    const std::string file = read_file(dir + "/hs_ed25519_secret_key");
    EXPECT_EQ(file.size(), 96u) << dir;
    EXPECT_TRUE(file.starts_with("== ed25519v1-secret: type0 =="));
    if (file.size() != 96) return "";
    const auto* b = reinterpret_cast<const std::uint8_t*>(file.data()) + 32;
    Expected<std::string> a = onion_address_of_key(base64_encode({b, 64}));
    EXPECT_TRUE(a.ok()) << a.error().message;
    return a ? *a : "";
  }

  TorProcess tor_;
  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<Controller> ctl_;
};

TEST_F(OnionDirectoryTest, AddressReadIsTheOneOfTheKeyTorWrote) {
  TorConfig cfg(*ctl_);
  ASSERT_TRUE(load(cfg).ok());
  OnionDirectorySpec spec;
  spec.directory = tor_.data_dir() + "/web";
  spec.ports = {{80, "127.0.0.1:8080"}, {443, "127.0.0.1:8443"}};
  Expected<std::string> a = add(cfg, spec);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_TRUE(is_onion_address(*a)) << *a;
  EXPECT_EQ(*a, address_of_key_file(spec.directory));
  EXPECT_EQ(tor_dirs(), std::vector<std::string>{spec.directory});
  ASSERT_EQ(cfg.hidden_services().size(), 1u);
  EXPECT_EQ(cfg.hidden_services()[0], *onion_directory_group(spec));
  EXPECT_FALSE(cfg.has_pending());

  // The same directory again replaces the service (new ports), same key.
  spec.ports = {{8080, ""}};
  Expected<std::string> again = add(cfg, spec);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, *a);
  ASSERT_EQ(cfg.hidden_services().size(), 1u);
  EXPECT_EQ(cfg.hidden_services()[0].values("HiddenServicePort"),
            std::vector<std::string_view>{"8080"});
}

TEST_F(OnionDirectoryTest, RelativeDirectoryIsTheCallersNotTors) {
  const std::string old = cwd();
  const std::string base = tor_.data_dir() + "/callers-cwd";
  fs::create_directories(base);
  ASSERT_EQ(::chdir(base.c_str()), 0);
  TorConfig cfg(*ctl_);
  ASSERT_TRUE(load(cfg).ok());
  OnionDirectorySpec spec;
  spec.directory = "onion/../svc";
  spec.ports = {{80, ""}};
  Expected<std::string> a = add(cfg, spec);
  ASSERT_EQ(::chdir(old.c_str()), 0);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(tor_dirs(), std::vector<std::string>{base + "/svc"});
  EXPECT_EQ(*a, address_of_key_file(base + "/svc"));
  EXPECT_EQ(read_file(base + "/svc/hostname"), *a + "\n");
}

TEST_F(OnionDirectoryTest, RemovalLeavesTheOthersAndTheKey) {
  TorConfig cfg(*ctl_);
  ASSERT_TRUE(load(cfg, ConfigLoad::lazy).ok());  // HiddenServiceOptions fetched on demand
  OnionDirectorySpec one{tor_.data_dir() + "/one", {{80, ""}}, {}};
  OnionDirectorySpec two{tor_.data_dir() + "/two", {{81, ""}}, {}};
  Expected<std::string> a1 = add(cfg, one);
  ASSERT_TRUE(a1.ok()) << a1.error().message;
  Expected<std::string> a2 = add(cfg, two);
  ASSERT_TRUE(a2.ok()) << a2.error().message;
  EXPECT_NE(*a1, *a2);
  EXPECT_EQ(tor_dirs(), (std::vector<std::string>{one.directory, two.directory}));

  Status s = remove(cfg, one.directory + "/");  // any spelling of the same place
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(tor_dirs(), std::vector<std::string>{two.directory});
  ASSERT_EQ(cfg.hidden_services().size(), 1u);
  EXPECT_EQ(cfg.hidden_services()[0].head(), two.directory);
  EXPECT_TRUE(fs::exists(one.directory + "/hs_ed25519_secret_key"));

  Status none = remove(cfg, one.directory);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, Errc::bad_argument);
  EXPECT_NE(none.error().message.find(one.directory), std::string::npos) << none.error().message;

  // Back again from the key left on disk: the same address.
  Expected<std::string> back = add(cfg, one);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, *a1);
}

TEST_F(OnionDirectoryTest, TorsRefusalKeepsItsTextAndChangesNothing) {
  TorConfig cfg(*ctl_);
  ASSERT_TRUE(load(cfg).ok());
  OnionDirectorySpec good{tor_.data_dir() + "/good", {{80, ""}}, {}};
  ASSERT_TRUE(add(cfg, good).ok());
  const std::vector<ConfigGroup> before = cfg.hidden_services();

  // A directory under a regular file: tor cannot use it and refuses the
  // whole SETCONF.
  std::ofstream(tor_.data_dir() + "/plainfile") << "x";
  OnionDirectorySpec bad{tor_.data_dir() + "/plainfile/svc", {{80, ""}}, {}};
  Expected<std::string> r = add(cfg, bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::tor_error) << r.error().message;
  EXPECT_GE(r.error().status, 500);
  EXPECT_FALSE(r.error().message.empty());
  EXPECT_EQ(cfg.hidden_services(), before);
  EXPECT_FALSE(cfg.has_pending());  // the failed change is not left to the next save
  EXPECT_EQ(tor_dirs(), std::vector<std::string>{good.directory});
}

TEST_F(OnionDirectoryTest, RefusedBeforeSendingWhenOtherChangesAreStaged) {
  TorConfig cfg(*ctl_);
  ASSERT_TRUE(load(cfg).ok());
  ASSERT_TRUE(cfg.set("ContactInfo", "staged").ok());
  OnionDirectorySpec spec{tor_.data_dir() + "/x", {{80, ""}}, {}};
  Expected<std::string> r = add(cfg, spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::bad_argument);
  EXPECT_NE(r.error().message.find("ContactInfo"), std::string::npos) << r.error().message;
  EXPECT_TRUE(tor_dirs().empty());
  EXPECT_EQ(cfg.pending_names(), std::vector<std::string>{"ContactInfo"});

  // Staging combines with it: one save sends both.
  ASSERT_TRUE(stage_onion_directory(cfg, spec).ok());
  std::optional<Status> st;
  cfg.save([&](const Status& s) { st = s; });
  ASSERT_TRUE(run_until([&] { return st.has_value(); }));
  ASSERT_TRUE(st->ok()) << st->error().message;
  EXPECT_EQ(tor_dirs(), std::vector<std::string>{spec.directory});
  EXPECT_EQ(cfg.get("ContactInfo")->text(), "staged");

  // A second staged change to the services would be lost: refused.
  ASSERT_TRUE(stage_onion_directory(cfg, {tor_.data_dir() + "/y", {{80, ""}}, {}}).ok());
  Status twice = stage_onion_directory(cfg, {tor_.data_dir() + "/z", {{80, ""}}, {}});
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, Errc::bad_argument);
}

TEST_F(OnionDirectoryTest, ClientFilesAreWrittenPrivatelyAndFollowTheRoster) {
  TorConfig cfg(*ctl_);
  ASSERT_TRUE(load(cfg).ok());
  const ClientAuthKeys alice = new_client_auth_keys(), bob = new_client_auth_keys();
  OnionDirectorySpec spec{tor_.data_dir() + "/private", {{80, ""}}, {}};
  spec.clients = {{"alice", alice.public_base32}, {"bob", bob.public_base32}};
  Expected<std::string> a = add(cfg, spec);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(*a, address_of_key_file(spec.directory));
  const std::string clients = spec.directory + "/authorized_clients";
  EXPECT_EQ(mode_of(spec.directory), 0700u);
  EXPECT_EQ(mode_of(clients), 0700u);
  EXPECT_EQ(mode_of(clients + "/alice.auth"), 0600u);
  EXPECT_EQ(read_file(clients + "/alice.auth"), "descriptor:x25519:" + alice.public_base32 + "\n");
  EXPECT_EQ(read_file(clients + "/bob.auth"), "descriptor:x25519:" + bob.public_base32 + "\n");

  spec.clients.pop_back();  // bob loses access
  Expected<std::string> again = add(cfg, spec);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, *a);
  EXPECT_TRUE(fs::exists(clients + "/alice.auth"));
  EXPECT_FALSE(fs::exists(clients + "/bob.auth"));

  spec.clients.clear();  // public again: no client file left for tor to read
  ASSERT_TRUE(add(cfg, spec).ok());
  EXPECT_FALSE(fs::exists(clients + "/alice.auth"));
}

TEST_F(OnionDirectoryTest, HostnameWaitIsBoundedAndSaysWhichFile) {
  const std::string dir = tor_.data_dir() + "/never";
  fs::create_directories(dir);
  std::optional<Expected<std::string>> got;
  const auto start = std::chrono::steady_clock::now();
  read_onion_hostname(*reactor_, dir, 200ms, [&](const Expected<std::string>& a) { got = a; });
  EXPECT_FALSE(got.has_value());  // never inside the call
  ASSERT_TRUE(run_until([&] { return got.has_value(); }, 10s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  ASSERT_FALSE(got->ok());
  EXPECT_EQ(got->error().code, Errc::timeout);
  EXPECT_NE(got->error().message.find(dir + "/hostname"), std::string::npos);

  // Something that is not an address is reported as such.
  std::ofstream(dir + "/hostname") << "not-an-address.onion\n";
  got.reset();
  read_onion_hostname(*reactor_, dir, 100ms, [&](const Expected<std::string>& a) { got = a; });
  ASSERT_TRUE(run_until([&] { return got.has_value(); }, 10s));
  ASSERT_FALSE(got->ok());
  EXPECT_NE(got->error().message.find("not-an-address.onion"), std::string::npos)
      << got->error().message;
}

}  // namespace
}  // namespace torcon
