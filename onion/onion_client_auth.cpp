// The client side of v3 client authorization: ONION_CLIENT_AUTH_ADD,
// _REMOVE and _VIEW (control-spec 3.30-3.32).

#include "torcon/keyword_args.hpp"
#include "torcon/onion_keys.hpp"
#include "torcon/onion_service.hpp"
#include "torcon/tokens.hpp"

namespace torcon {
namespace {

Error bad(std::string msg) { return Error(Errc::bad_argument, std::move(msg)); }

// 2xx is success: tor answers 251 when it replaced existing credentials and
// 252 when it also decrypted a descriptor it had been holding.
ReplyCallback status_of(StatusCallback cb) {
  return [cb = std::move(cb)](const Expected<Reply>& r) {
    if (r)
      cb(Status{});
    else
      cb(r.error());
  };
}

}  // namespace

void onion_client_auth_add(Controller& ctl, std::string_view address, std::string_view private_key,
                           std::string_view client_name, bool permanent, StatusCallback cb,
                           const CommandOptions& options) {
  Expected<std::string> id = onion_service_id(address);
  if (!id) return cb(id.error());
  Expected<ClientAuthKeys> keys = client_auth_keys_from_private(private_key);
  if (!keys) return cb(keys.error());
  if (!client_name.empty() && !is_nickname(client_name))
    return cb(bad("client name \"" + std::string(client_name.substr(0, 40)) +
                  "\" is not 1-19 letters and digits"));
  Command c("ONION_CLIENT_AUTH_ADD");
  c.arg(*id).arg("x25519:" + keys->private_base64);
  if (!client_name.empty()) c.kv_bare("ClientName", client_name);
  if (permanent) c.kv_bare("Flags", "Permanent");
  ctl.send(c, status_of(std::move(cb)), options);
}

void onion_client_auth_remove(Controller& ctl, std::string_view address, StatusCallback cb,
                              const CommandOptions& options) {
  Expected<std::string> id = onion_service_id(address);
  if (!id) return cb(id.error());
  Command c("ONION_CLIENT_AUTH_REMOVE");
  c.arg(*id);
  ctl.send(c, status_of(std::move(cb)), options);
}

Expected<std::vector<OnionClientAuth>> parse_client_auth_view(const Reply& reply) {
  std::vector<OnionClientAuth> out;
  for (const ReplyLine& line : reply.lines) {
    std::string_view text = line.text;
    if (!text.starts_with("CLIENT ")) continue;
    ArgReader rd(text.substr(7));
    OnionClientAuth e;
    int pos = 0;
    std::string scratch;
    for (Arg a; rd.next(a);) {
      if (a.positional()) {
        if (pos == 0) {
          e.service_id = std::string(a.value);
        } else if (pos == 1) {
          const std::size_t colon = a.value.find(':');
          if (colon == std::string_view::npos)
            return bad("ONION_CLIENT_AUTH_VIEW: key without KeyType: in \"" + std::string(text) +
                       "\"");
          e.key_type = std::string(a.value.substr(0, colon));
          e.private_key = std::string(a.value.substr(colon + 1));
        }
        ++pos;
      } else if (a.key == "ClientName") {
        e.client_name = std::string(a.decoded(scratch));
      } else if (a.key == "Flags") {
        std::string_view f = a.value;
        while (!f.empty()) {
          const std::size_t comma = f.find(',');
          e.flags.emplace_back(f.substr(0, comma));
          f = comma == std::string_view::npos ? std::string_view{} : f.substr(comma + 1);
        }
      }
    }
    if (rd.error().code != Errc::ok) return rd.error();
    if (pos < 2)
      return bad("ONION_CLIENT_AUTH_VIEW: short CLIENT line \"" + std::string(text) + "\"");
    out.push_back(std::move(e));
  }
  return out;
}

void onion_client_auth_view(Controller& ctl, std::string_view address,
                            std::function<void(const Expected<std::vector<OnionClientAuth>>&)> cb,
                            const CommandOptions& options) {
  Command c("ONION_CLIENT_AUTH_VIEW");
  if (!address.empty()) {
    Expected<std::string> id = onion_service_id(address);
    if (!id) return cb(id.error());
    c.arg(*id);
  }
  ctl.send(
      c,
      [cb = std::move(cb)](const Expected<Reply>& r) {
        if (!r) return cb(r.error());
        cb(parse_client_auth_view(*r));
      },
      options);
}

Controller::Awaiter<Status> co_onion_client_auth_add(Controller& ctl, std::string address,
                                                     std::string private_key,
                                                     std::string client_name, bool permanent,
                                                     CommandOptions options) {
  return {[&ctl, address = std::move(address), private_key = std::move(private_key),
           client_name = std::move(client_name), permanent,
           options](std::function<void(Status)> resume) {
            onion_client_auth_add(
                ctl, address, private_key, client_name, permanent,
                [resume = std::move(resume)](const Status& s) { resume(s); }, options);
          },
          {}};
}

Controller::Awaiter<Status> co_onion_client_auth_remove(Controller& ctl, std::string address,
                                                        CommandOptions options) {
  return {[&ctl, address = std::move(address), options](std::function<void(Status)> resume) {
            onion_client_auth_remove(
                ctl, address, [resume = std::move(resume)](const Status& s) { resume(s); },
                options);
          },
          {}};
}

}  // namespace torcon
