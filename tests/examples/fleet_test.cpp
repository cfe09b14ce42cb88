// examples/fleet against 16 real standalone tors (DisableNetwork 1) on one
// reactor, once per backend: every tor launches and authenticates; a GETINFO
// sent to all of them at once comes back from each with its own pid and
// control port (a controller mixed up with another's tor, or an answer
// handed to the wrong tor's callback, shows up as a wrong pid or port); the
// events of all of them, three rounds of CONF_CHANGED each, pipelined, arrive
// tagged with the tor that sent them, in that tor's order; all are stopped
// and reaped. The fleet program itself runs too (with 3 tors).

#include "fleet.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "support/reactor_backend.hpp"
#include "torcon/reply.hpp"

namespace {

using namespace std::chrono_literals;
using torcon::Expected;
using torcon::KeyValues;
using torcon::Status;

constexpr std::size_t kTors = 16;
constexpr int kRounds = 3;

class FleetTest : public torcon::testing::BackendTest {
 protected:
  void TearDown() override {
    if (fleet_) {
      bool stopped = false;
      fleet_->stop([&] { stopped = true; });
      run_until([&] { return stopped; }, 30s);
      fleet_.reset();
    }
    BackendTest::TearDown();
  }

  // Launches kTors tors; fails the test unless every one came up.
  void launch() {
    fleet::FleetOptions o;
    o.tors = kTors;
    fleet_ = std::make_unique<fleet::Fleet>(*reactor_, o);
    std::optional<Status> launched;
    fleet_->launch([&](const Status& s) { launched = s; });
    ASSERT_TRUE(run_until([&] { return launched.has_value(); }, 120s));
    ASSERT_TRUE(*launched) << launched->error().message;
    ASSERT_EQ(fleet_->running(), kTors);
  }

  std::unique_ptr<fleet::Fleet> fleet_;
};

// The value of the "Nickname=" line of a CONF_CHANGED event ("" if none).
std::string nickname_in(const torcon::Reply& r) {
  for (const torcon::ReplyLine& l : r.lines)
    if (l.text.starts_with("Nickname=")) return std::string(l.text.substr(9));
  return {};
}

TEST_P(FleetTest, EveryTorAnswersForItselfAndItsEventsArriveTaggedWithIt) {
  ASSERT_NO_FATAL_FAILURE(launch());

  std::set<pid_t> pids;
  std::set<std::uint16_t> ports;
  for (std::size_t i = 0; i < kTors; ++i) {
    pids.insert(fleet_->member(i).tor->pid());
    ports.insert(fleet_->member(i).control_port);
  }
  EXPECT_EQ(pids.size(), kTors);
  EXPECT_EQ(ports.size(), kTors);

  // One GETINFO to every tor before any answer is read.
  std::map<std::size_t, int> answers;
  bool all_done = false;
  fleet_->getinfo_all(
      {"process/pid", "net/listeners/control"},
      [&](const fleet::Member& m, const Expected<KeyValues>& kv) {
        ++answers[m.index];
        ASSERT_TRUE(kv) << m.name() << ": " << kv.error().message;
        const std::string* pid = kv->find("process/pid");
        const std::string* control = kv->find("net/listeners/control");
        ASSERT_TRUE(pid && control) << m.name();
        EXPECT_EQ(*pid, std::to_string(m.tor->pid())) << m.name();
        EXPECT_EQ(*control, "\"127.0.0.1:" + std::to_string(m.control_port) + "\"") << m.name();
      },
      [&] { all_done = true; });
  // Nothing can have answered yet: the loop has not run since they were sent.
  EXPECT_TRUE(answers.empty());
  ASSERT_TRUE(run_until([&] { return all_done; }, 30s));
  ASSERT_EQ(answers.size(), kTors);
  for (const auto& [index, n] : answers) EXPECT_EQ(n, 1) << "tor " << index;

  // Fan-in: every event with the tor it came from.
  std::map<std::size_t, std::vector<std::string>> seen;
  std::optional<Status> subscribed;
  fleet_->subscribe(
      "CONF_CHANGED",
      [&](const fleet::Member& m, const torcon::Reply& r) {
        seen[m.index].push_back(nickname_in(r));
      },
      [&](const Status& s) { subscribed = s; });
  ASSERT_TRUE(run_until([&] { return subscribed.has_value(); }, 30s));
  ASSERT_TRUE(*subscribed) << subscribed->error().message;

  // Every tor gets kRounds SETCONFs in one burst, all tors before any answer.
  std::size_t acked = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (std::size_t i = 0; i < kTors; ++i) {
      const std::string nick = "fleet" + std::to_string(i) + "r" + std::to_string(round);
      const std::pair<std::string_view, std::optional<std::string_view>> change[] = {
          {"Nickname", nick}};
      fleet_->member(i).controller().setconf(change, [&, i](const Status& s) {
        EXPECT_TRUE(s) << "tor " << i << ": " << s.error().message;
        ++acked;
      });
    }
  }
  auto events = [&] {
    std::size_t n = 0;
    for (const auto& [index, nicks] : seen) n += nicks.size();
    return n;
  };
  ASSERT_TRUE(
      run_until([&] { return acked == kTors * kRounds && events() >= kTors * kRounds; }, 30s))
      << acked << " SETCONFs answered, " << events() << " events";
  run_for(100ms);  // anything extra (a mis-tagged duplicate) would arrive now
  EXPECT_EQ(events(), kTors * kRounds);
  for (std::size_t i = 0; i < kTors; ++i) {
    std::vector<std::string> want;
    for (int round = 0; round < kRounds; ++round)
      want.push_back("fleet" + std::to_string(i) + "r" + std::to_string(round));
    EXPECT_EQ(seen[i], want) << "events tagged tor " << i;
  }

  // Stopped: every tor reaped, none left behind.
  bool stopped = false;
  fleet_->stop([&] { stopped = true; });
  ASSERT_TRUE(run_until([&] { return stopped; }, 30s));
  for (pid_t pid : pids) {
    EXPECT_EQ(::kill(pid, 0), -1) << "tor " << pid << " still exists";
    EXPECT_EQ(errno, ESRCH);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, FleetTest, torcon::testing::kBothBackends,
                         torcon::testing::backend_name);

// The program: 3 tors, each introduced by its own pid and port, and each
// tor's CONF_CHANGED (Nickname=fleet<i>) printed under that tor's name.
TEST(FleetProgram, PrintsEveryTorAndItsEventsUnderItsName) {
  const std::string cmd = std::string(FLEET_PROGRAM) + " --tors 3 --seconds 1 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_TRUE(p);
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int ws = ::pclose(p);
  ASSERT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << out;
  for (int i = 0; i < 3; ++i) {
    const std::string n = std::to_string(i);
    // "[tor 1 :PORT] pid PID control "127.0.0.1:PORT" ...": the same port twice.
    const std::regex intro("\\[tor " + n +
                           " :([0-9]+)\\] pid [0-9]+ control \"127\\.0\\.0\\.1:\\1\"");
    EXPECT_TRUE(std::regex_search(out, intro)) << "tor " << i << " not introduced:\n" << out;
    const std::regex event("\\[tor " + n + " :[0-9]+\\] 650-Nickname=fleet" + n + "\n");
    EXPECT_TRUE(std::regex_search(out, event)) << "tor " << i << "'s event missing:\n" << out;
  }
}

}  // namespace
