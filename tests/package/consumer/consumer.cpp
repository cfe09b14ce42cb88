// An application of the installed torcon, built outside the source tree
// (tests/package/consumer_test.sh): connects to the tor on 127.0.0.1:PORT,
// authenticates (whatever tor offers: SAFECOOKIE here), asks GETINFO version,
// subscribes to CONF_CHANGED, causes one with SETCONF and waits for it. Prints
// what it saw; exit 0 only if all of it happened within 30 s.
//
//   torcon-consumer PORT
//
// It also links torcon::testnet (one call), so both installed libraries are
// proven to link, and first checks the parts of the API that need no tor
// (offline_api.cpp).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "torcon/controller.hpp"
#include "torcon/events.hpp"
#include "torcon/reactor.hpp"
#include "torcon/testnet.hpp"
#include "torcon/version.hpp"

bool check_offline_api();                                         // offline_api.cpp
void link_controller_api(torcon::Controller&, torcon::Reactor&);  // offline_api.cpp

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: torcon-consumer PORT\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  if (port <= 0 || port > 65535) {
    std::fprintf(stderr, "bad port %s\n", argv[1]);
    return 2;
  }
  // Headers and library of the same release.
  if (std::strcmp(torcon::library_version(), TORCON_VERSION_STRING) != 0) {
    std::fprintf(stderr, "headers %s, library %s\n", TORCON_VERSION_STRING,
                 torcon::library_version());
    return 1;
  }
  std::printf("torcon %s\n", torcon::library_version());
  std::printf("testnet ports for the default network: %u\n",
              static_cast<unsigned>(torcon::testnet::port_count(torcon::testnet::Options{})));

  auto reactor = torcon::Reactor::create();
  if (!reactor) {
    std::fprintf(stderr, "reactor: %s\n", reactor.error().message.c_str());
    return 1;
  }
  torcon::Reactor& loop = **reactor;
  int status = 1;
  bool got_version = false;
  torcon::Controller ctl(loop);
  if (!check_offline_api()) return 1;
  std::printf("offline api ok\n");
  // Never true: the call only makes the linker resolve those symbols.
  if (std::getenv("TORCON_CONSUMER_NEVER_SET_THIS") != nullptr) link_controller_api(ctl, loop);
  auto fail = [&](const std::string& what, const torcon::Error& e) {
    std::fprintf(stderr, "%s: %s\n", what.c_str(), e.message.c_str());
    loop.stop();
  };
  loop.start_timer(std::chrono::seconds(30), [&] {
    std::fprintf(stderr, "timed out\n");
    loop.stop();
  });

  ctl.connect(
      torcon::Endpoint::tcp("127.0.0.1", static_cast<std::uint16_t>(port)),
      [&](const torcon::Status& s) {
        if (!s) return fail("connect", s.error());
        std::printf("authenticated (%s)\n", torcon::to_string(ctl.auth_method()));
        ctl.getinfo({"version"}, [&](const torcon::Expected<torcon::KeyValues>& kv) {
          if (!kv) return fail("GETINFO version", kv.error());
          const std::string* v = kv->find("version");
          if (!v) return fail("GETINFO version", torcon::Error(torcon::Errc::io, "no version"));
          std::printf("tor version %s\n", v->c_str());
          got_version = true;
        });
        ctl.subscribe_typed(
            "CONF_CHANGED",
            [&](const torcon::Event& ev) {
              const torcon::ConfChangedEvent* c = ev.get<torcon::ConfChangedEvent>();
              if (!c) return;
              torcon::ConfChangeReader changes = c->reader();
              for (torcon::ConfChange change; changes.next(change);) {
                std::string scratch;
                std::printf("event CONF_CHANGED %.*s=%.*s\n", static_cast<int>(change.key.size()),
                            change.key.data(),
                            static_cast<int>(change.value.decoded(scratch).size()),
                            change.value.decoded(scratch).data());
                if (change.key == "MaxCircuitDirtiness" && got_version) {
                  status = 0;
                  loop.stop();
                }
              }
            },
            {},
            [&](const torcon::Status& sub) {
              if (!sub) return fail("SETEVENTS CONF_CHANGED", sub.error());
              // One more than tor has, so the option really changes
              // (setting the same value sends no CONF_CHANGED).
              ctl.getconf(
                  {"MaxCircuitDirtiness"}, [&](const torcon::Expected<torcon::KeyValues>& kv) {
                    if (!kv) return fail("GETCONF", kv.error());
                    const std::string* old = kv->find("MaxCircuitDirtiness");
                    const std::string value =
                        std::to_string((old ? std::atoi(old->c_str()) : 600) + 1);
                    const std::pair<std::string_view, std::optional<std::string_view>> change[] = {
                        {"MaxCircuitDirtiness", value}};
                    ctl.setconf(change, [&](const torcon::Status& set) {
                      if (!set) fail("SETCONF", set.error());
                    });
                  });
            });
      });
  loop.run();
  std::printf("%s\n", status == 0 ? "ok" : "FAILED");
  return status;
}
