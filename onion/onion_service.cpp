// Ephemeral v3 services: ADD_ONION built from a checked spec, ensure-by-key,
// DEL_ONION and the onions/* listings.

#include "torcon/onion_service.hpp"

#include <algorithm>

#include "onion_input.hpp"
#include "torcon/getinfo.hpp"
#include "torcon/onion_keys.hpp"

namespace torcon {
namespace {

Error bad(std::string msg) { return Error(Errc::bad_argument, std::move(msg)); }

// The lines of a GETINFO value that lists one item per line.
std::vector<std::string> lines_of(const std::string* value) {
  std::vector<std::string> out;
  if (!value) return out;
  std::size_t pos = 0;
  while (pos < value->size()) {
    std::size_t end = value->find('\n', pos);
    if (end == std::string::npos) end = value->size();
    if (end > pos) out.push_back(value->substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

}  // namespace

Expected<Command> add_onion_command(const OnionServiceSpec& spec) {
  std::string key_arg = "NEW:ED25519-V3";
  if (!spec.key.empty()) {
    if (spec.discard_key)
      return bad("discard_key with a given key: there is no new key to discard");
    if (Expected<std::string> a = onion_address_of_key(spec.key); !a) return a.error();
    std::string_view blob = spec.key;
    if (blob.starts_with("ED25519-V3:")) blob.remove_prefix(11);
    key_arg = "ED25519-V3:" + std::string(blob);
  }
  if (spec.ports.empty()) return bad("an onion service needs at least one port");
  if (spec.max_streams && *spec.max_streams > 65535)
    return bad("MaxStreams " + std::to_string(*spec.max_streams) + " is not 0-65535");

  Command c("ADD_ONION");
  c.arg(key_arg);
  std::string flags;
  auto flag = [&](bool on, std::string_view name) {
    if (!on) return;
    if (!flags.empty()) flags.push_back(',');
    flags += name;
  };
  flag(spec.discard_key, "DiscardPK");
  flag(spec.detach, "Detach");
  flag(spec.max_streams_close_circuit, "MaxStreamsCloseCircuit");
  flag(spec.non_anonymous, "NonAnonymous");
  flag(!spec.client_keys.empty(), "V3Auth");
  if (!flags.empty()) c.kv_bare("Flags", flags);
  if (spec.max_streams) c.kv_bare("MaxStreams", std::to_string(*spec.max_streams));
  for (const OnionPort& p : spec.ports) {
    Expected<std::string> port = onion_port_argument(p);
    if (!port) return port.error();
    c.kv_bare("Port", *port);
  }
  for (const std::string& k : spec.client_keys) {
    Expected<std::string> pub = client_auth_public_key(k);
    if (!pub) return pub.error();
    c.kv_bare("ClientAuthV3", *pub);
  }
  if (!c.ok()) return c.error();
  return c;
}

void add_onion_service(Controller& ctl, const OnionServiceSpec& spec, OnionServiceCallback cb,
                       const CommandOptions& options) {
  Expected<Command> cmd = add_onion_command(spec);
  if (!cmd) return cb(cmd.error());
  std::string given_key;
  if (!spec.key.empty() && !spec.discard_key)
    given_key = spec.key.starts_with("ED25519-V3:") ? spec.key : "ED25519-V3:" + spec.key;
  ctl.send(
      *cmd,
      [cb = std::move(cb), given_key](const Expected<Reply>& r) {
        if (!r) return cb(r.error());
        OnionServiceInfo info;
        info.private_key = given_key;
        KeyValueReader rd(*r);
        for (KeyValue kv; rd.next(kv);) {
          if (kv.key == "ServiceID")
            info.service_id = std::string(kv.value);
          else if (kv.key == "PrivateKey")
            info.private_key = std::string(kv.value);
        }
        Expected<std::string> id = onion_service_id(info.service_id);
        if (!id) return cb(Error(Errc::bad_argument, "ADD_ONION reply: " + id.error().message));
        if (!given_key.empty()) {
          // Tor derives the address from the key we gave; anything else means
          // the reply is not for this command.
          Expected<std::string> ours = onion_address_of_key(given_key);
          if (!ours || ours->compare(0, 56, *id) != 0)
            return cb(Error(Errc::bad_argument, "ADD_ONION reply: ServiceID " + *id +
                                                    " is not the given key's address"));
        }
        info.service_id = *id;
        info.address = *id + ".onion";
        cb(std::move(info));
      },
      options);
}

void list_onion_services(Controller& ctl, std::function<void(const Expected<OnionServiceList>&)> cb,
                         const CommandOptions& options) {
  ctl.getinfo(
      {"onions/current", "onions/detached"},
      [cb = std::move(cb)](const Expected<KeyValues>& kv) {
        if (!kv) return cb(kv.error());
        OnionServiceList out;
        out.current = lines_of(kv->find("onions/current"));
        out.detached = lines_of(kv->find("onions/detached"));
        cb(std::move(out));
      },
      options);
}

void ensure_onion_service(Controller& ctl, const OnionServiceSpec& spec, OnionServiceCallback cb,
                          const CommandOptions& options) {
  if (spec.key.empty()) return cb(bad("ensure_onion_service needs the service's key"));
  Expected<Command> cmd = add_onion_command(spec);  // refuse bad input before asking tor
  if (!cmd) return cb(cmd.error());
  Expected<std::string> address = onion_address_of_key(spec.key);
  const std::string id = address->substr(0, 56);
  list_onion_services(
      ctl,
      [&ctl, spec, id, options,
       cb = std::move(cb)](const Expected<OnionServiceList>& list) mutable {
        if (!list) return cb(list.error());
        const bool present =
            std::find(list->current.begin(), list->current.end(), id) != list->current.end() ||
            std::find(list->detached.begin(), list->detached.end(), id) != list->detached.end();
        if (!present) return add_onion_service(ctl, spec, std::move(cb), options);
        ctl.del_onion(
            id,
            [&ctl, spec, options, cb = std::move(cb)](const Status& s) mutable {
              if (!s) return cb(s.error());
              add_onion_service(ctl, spec, std::move(cb), options);
            },
            options);
      },
      options);
}

void remove_onion_service(Controller& ctl, std::string_view address, StatusCallback cb,
                          const CommandOptions& options) {
  Expected<std::string> id = onion_service_id(address);
  if (!id) return cb(id.error());
  ctl.del_onion(*id, std::move(cb), options);
}

Controller::Awaiter<Expected<OnionServiceInfo>> co_add_onion_service(Controller& ctl,
                                                                     OnionServiceSpec spec,
                                                                     CommandOptions options) {
  return {[&ctl, spec = std::move(spec),
           options](std::function<void(Expected<OnionServiceInfo>)> resume) {
            add_onion_service(
                ctl, spec,
                [resume = std::move(resume)](const Expected<OnionServiceInfo>& r) { resume(r); },
                options);
          },
          {}};
}

Controller::Awaiter<Expected<OnionServiceInfo>> co_ensure_onion_service(Controller& ctl,
                                                                        OnionServiceSpec spec,
                                                                        CommandOptions options) {
  return {[&ctl, spec = std::move(spec),
           options](std::function<void(Expected<OnionServiceInfo>)> resume) {
            ensure_onion_service(
                ctl, spec,
                [resume = std::move(resume)](const Expected<OnionServiceInfo>& r) { resume(r); },
                options);
          },
          {}};
}

Controller::Awaiter<Status> co_remove_onion_service(Controller& ctl, std::string address,
                                                    CommandOptions options) {
  return {[&ctl, address = std::move(address), options](std::function<void(Status)> resume) {
            remove_onion_service(
                ctl, address, [resume = std::move(resume)](const Status& s) { resume(s); },
                options);
          },
          {}};
}

}  // namespace torcon
