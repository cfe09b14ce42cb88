// The parts of the installed API that need no tor, used as an application
// would: onion keys and addresses, configuration values and groups, exit
// policies, attach decisions. They must work, and a shared libtorcon must
// export what they call, the inline functions and templates of the public
// headers included. The Controller-bound classes of the same headers
// (TorConfig, StreamAttacher, SourcePortRoutes, CircuitBuilder, the onion
// service calls)
// are linked in link_controller_api(), which main() never runs: a missing
// export fails the link.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "torcon/circuit_builder.hpp"
#include "torcon/config_group.hpp"
#include "torcon/config_value.hpp"
#include "torcon/controller.hpp"
#include "torcon/exit_policy.hpp"
#include "torcon/onion_keys.hpp"
#include "torcon/onion_service.hpp"
#include "torcon/reactor.hpp"
#include "torcon/stream_attacher.hpp"
#include "torcon/tor_config.hpp"
#include "torcon/tor_state.hpp"

namespace {

bool expect(bool ok, const char* what) {
  if (!ok) std::fprintf(stderr, "offline api: %s\n", what);
  return ok;
}

}  // namespace

bool check_offline_api() {
  bool ok = true;

  // Onion keys: a fresh key's address is a valid address (is_onion_address
  // is inline over the exported onion_service_id).
  const std::string key = torcon::new_onion_key();
  const torcon::Expected<std::string> address = torcon::onion_address_of_key(key);
  ok &= expect(address.ok() && address->size() == 62, "onion_address_of_key");
  ok &= expect(address.ok() && torcon::is_onion_address(*address), "is_onion_address");
  ok &= expect(!torcon::is_onion_address("example.onion"), "is_onion_address(bad)");
  const torcon::ClientAuthKeys client = torcon::new_client_auth_keys();
  const auto again = torcon::client_auth_keys_from_private(client.private_base64);
  ok &= expect(again.ok() && again->public_base32 == client.public_base32, "client auth keys");

  // Configuration values (ConfigValue's constructor is inline).
  const torcon::ConfigValue interval(torcon::ConfigType::time_interval, {"2 minutes"});
  ok &= expect(interval.seconds().ok() && *interval.seconds() == std::chrono::seconds(120),
               "ConfigValue::seconds");
  ok &= expect(torcon::format_config_size(5) == "5 bytes", "format_config_size");
  torcon::ConfigGroup service;
  service.add("HiddenServiceDir", "/var/lib/tor/web").add("HiddenServicePort", "80 127.0.0.1:8080");
  const std::string* port = service.value("hiddenserviceport");
  ok &= expect(service.head() == "/var/lib/tor/web" && port && *port == "80 127.0.0.1:8080",
               "ConfigGroup");

  // Exit policies.
  const auto policy = torcon::ExitPolicy::from_descriptor(
      "router x 192.0.2.1 9001 0 0\naccept 127.0.0.0/8:*\nreject *:*\n");
  const auto loopback = torcon::IpAddress::parse("127.0.0.1");
  const auto elsewhere = torcon::IpAddress::parse("192.0.2.7");
  ok &= expect(policy.ok() && loopback && elsewhere && policy->allows(*loopback, 80) &&
                   !policy->allows(*elsewhere, 80),
               "ExitPolicy");

  // Attach decisions (inline factories over exported members).
  ok &= expect(torcon::AttachDecision::circuit("12").valid(), "AttachDecision::circuit");
  ok &= expect(!torcon::AttachDecision::circuit("12", 1).valid(), "AttachDecision HOP=1");
  ok &= expect(torcon::AttachDecision::pass().kind() == torcon::AttachDecision::Kind::pass,
               "AttachDecision::pass");
  ok &= expect(std::string(torcon::to_string(torcon::AttachReport::Kind::refused)) == "refused",
               "to_string(AttachReport::Kind)");
  ok &= expect(std::string(torcon::to_string(torcon::CircuitPurpose::controller)) == "controller",
               "to_string(CircuitPurpose)");
  return ok;
}

// Linked, never run (see the top of this file).
void link_controller_api(torcon::Controller& ctl, torcon::Reactor& loop) {
  torcon::TorConfig config(ctl);
  config.load({}, [](const torcon::Status&) {});
  (void)config.set("MaxCircuitDirtiness", 601);               // the template over set_integer
  (void)config.set("BandwidthRate", std::uint64_t{1} << 63);  // ... and set_unsigned
  (void)config.set("ContactInfo", "nobody");
  config.save([](const torcon::Status&) {});

  torcon::TorState state;
  torcon::StreamAttacher attacher(state, ctl);
  torcon::SourcePortRoutes routes(loop);
  attacher.add(routes.attacher());
  attacher.install();
  routes.route(50000, "1");

  torcon::CircuitBuilder builder(loop, ctl, state);
  const std::string path[] = {"$" + std::string(40, 'A')};
  builder.build(path, {}, [](const torcon::CircuitOutcome& r) { (void)r.ok(); });

  torcon::OnionServiceSpec spec;
  spec.ports = {{80, ""}};
  torcon::OnionReadyWatch ready(ctl, loop, {}, {});
  torcon::add_onion_service(ctl, spec, [](const torcon::Expected<torcon::OnionServiceInfo>&) {});
  torcon::onion_client_auth_view(
      ctl, "", [](const torcon::Expected<std::vector<torcon::OnionClientAuth>>&) {});
}
