// Typed command helpers: each builds its command with torcon::Command (so
// arguments are quoted and injection refused) and adapts the reply.

#include "controller_glue.hpp"
#include "torcon/controller.hpp"
#include "torcon/getinfo.hpp"
#include "torcon/quoted.hpp"
#include "torcon/tokens.hpp"

namespace torcon {
namespace {

Error bad_id(std::string_view what, std::string_view id) {
  return Error(Errc::bad_argument,
               std::string(what) + " ID \"" + std::string(id) + "\" is not 1-16 letters or digits");
}

ReplyCallback status_adapter(StatusCallback cb) {
  return [cb = std::move(cb)](const Expected<Reply>& r) {
    if (r)
      cb(Status{});
    else
      cb(r.error());
  };
}

ReplyCallback kv_adapter(KeyValuesCallback cb, bool unquote_values) {
  return [cb = std::move(cb), unquote_values](const Expected<Reply>& r) {
    if (!r) return cb(r.error());
    KeyValues out;
    KeyValueReader rd(*r);
    KeyValue kv;
    while (rd.next(kv)) {
      KeyValues::Entry e{std::string(kv.key), {}, kv.has_value};
      if (kv.is_data) {
        e.value = join_data(kv.value);
      } else if (unquote_values && !kv.value.empty() && kv.value.front() == '"') {
        if (Expected<std::size_t> n = unquote(kv.value, e.value); !n)
          return cb(Error(Errc::bad_quoted_string, "value of " + e.key + ": " + n.error().message));
      } else {
        e.value = std::string(kv.value);
      }
      out.entries.push_back(std::move(e));
    }
    cb(std::move(out));
  };
}

}  // namespace

void Controller::getinfo(std::span<const std::string_view> keys, KeyValuesCallback cb,
                         const CommandOptions& options) {
  Command c("GETINFO");
  for (std::string_view k : keys) c.arg(k);  // keys like ns/id/$FP: any bare token
  send(c, kv_adapter(std::move(cb), false), options);
}

void Controller::getconf(std::span<const std::string_view> keys, KeyValuesCallback cb,
                         const CommandOptions& options) {
  Command c("GETCONF");
  for (std::string_view k : keys) c.key(k);
  send(c, kv_adapter(std::move(cb), true), options);
}

static Command conf_command(std::string_view verb, Controller::ConfChanges changes) {
  Command c(verb);
  for (const auto& [k, v] : changes) {
    if (v)
      c.kv(k, *v);
    else
      c.key(k);
  }
  return c;
}

void Controller::setconf(ConfChanges changes, StatusCallback cb, const CommandOptions& options) {
  send(conf_command("SETCONF", changes), status_adapter(std::move(cb)), options);
}

void Controller::resetconf(ConfChanges changes, StatusCallback cb, const CommandOptions& options) {
  send(conf_command("RESETCONF", changes), status_adapter(std::move(cb)), options);
}

void Controller::saveconf(bool force, StatusCallback cb, const CommandOptions& options) {
  Command c("SAVECONF");
  if (force) c.arg("FORCE");
  send(c, status_adapter(std::move(cb)), options);
}

void Controller::loadconf(std::string_view torrc_text, StatusCallback cb,
                          const CommandOptions& options) {
  Command c("LOADCONF");
  c.data(torrc_text);
  send(c, status_adapter(std::move(cb)), options);
}

void Controller::signal(std::string_view name, StatusCallback cb, const CommandOptions& options) {
  Command c("SIGNAL");
  c.arg(name);
  send(c, status_adapter(std::move(cb)), options);
}

void Controller::mapaddress(std::span<const std::pair<std::string_view, std::string_view>> maps,
                            KeyValuesCallback cb, const CommandOptions& options) {
  Command c("MAPADDRESS");
  for (const auto& [from, to] : maps) c.kv_bare(from, to);
  send(c, kv_adapter(std::move(cb), false), options);
}

void Controller::extendcircuit(std::string_view circuit_id, std::span<const std::string_view> path,
                               std::string_view purpose, IdCallback cb,
                               const CommandOptions& options) {
  if (!is_control_id(circuit_id))
    return impl_->protocol.fail_soon([cb](const Expected<Reply>& r) { cb(r.error()); },
                                     bad_id("circuit", circuit_id));
  Command c("EXTENDCIRCUIT");
  c.arg(circuit_id);
  if (!path.empty()) {
    std::string joined;
    for (std::string_view hop : path) {
      if (!joined.empty()) joined.push_back(',');
      joined.append(hop);
    }
    c.arg(joined);
  }
  if (!purpose.empty()) c.kv_bare("purpose", purpose);
  send(
      c,
      [cb = std::move(cb)](const Expected<Reply>& r) {
        if (!r) return cb(r.error());
        // "250 EXTENDED <CircuitID>"
        const std::string_view t = r->status_text();
        const std::size_t sp = t.find(' ');
        if (t.substr(0, sp) != "EXTENDED" || sp == std::string_view::npos ||
            !is_control_id(t.substr(sp + 1)))
          return cb(Error(Errc::bad_argument, "unexpected EXTENDCIRCUIT reply: " + std::string(t)));
        cb(std::string(t.substr(sp + 1)));
      },
      options);
}

void Controller::setcircuitpurpose(std::string_view circuit_id, std::string_view purpose,
                                   StatusCallback cb, const CommandOptions& options) {
  if (!is_control_id(circuit_id))
    return impl_->protocol.fail_soon([cb](const Expected<Reply>& r) { cb(r.error()); },
                                     bad_id("circuit", circuit_id));
  Command c("SETCIRCUITPURPOSE");
  c.arg(circuit_id).kv_bare("purpose", purpose);
  send(c, status_adapter(std::move(cb)), options);
}

void Controller::attachstream(std::string_view stream_id, std::string_view circuit_id, int hop,
                              StatusCallback cb, const CommandOptions& options) {
  if (!is_control_id(stream_id) || !is_control_id(circuit_id))
    return impl_->protocol.fail_soon(
        [cb](const Expected<Reply>& r) { cb(r.error()); },
        is_control_id(stream_id) ? bad_id("circuit", circuit_id) : bad_id("stream", stream_id));
  Command c("ATTACHSTREAM");
  c.arg(stream_id).arg(circuit_id);
  if (hop > 0) c.kv_bare("HOP", std::to_string(hop));
  send(c, status_adapter(std::move(cb)), options);
}

void Controller::redirectstream(std::string_view stream_id, std::string_view address, int port,
                                StatusCallback cb, const CommandOptions& options) {
  if (!is_control_id(stream_id))
    return impl_->protocol.fail_soon([cb](const Expected<Reply>& r) { cb(r.error()); },
                                     bad_id("stream", stream_id));
  Command c("REDIRECTSTREAM");
  c.arg(stream_id).arg(address);
  if (port > 0) c.arg(std::to_string(port));
  send(c, status_adapter(std::move(cb)), options);
}

void Controller::closestream(std::string_view stream_id, int reason, StatusCallback cb,
                             const CommandOptions& options) {
  if (!is_control_id(stream_id))
    return impl_->protocol.fail_soon([cb](const Expected<Reply>& r) { cb(r.error()); },
                                     bad_id("stream", stream_id));
  Command c("CLOSESTREAM");
  c.arg(stream_id).arg(std::to_string(reason));
  send(c, status_adapter(std::move(cb)), options);
}

void Controller::closecircuit(std::string_view circuit_id, bool if_unused, StatusCallback cb,
                              const CommandOptions& options) {
  if (!is_control_id(circuit_id))
    return impl_->protocol.fail_soon([cb](const Expected<Reply>& r) { cb(r.error()); },
                                     bad_id("circuit", circuit_id));
  Command c("CLOSECIRCUIT");
  c.arg(circuit_id);
  if (if_unused) c.arg("IfUnused");
  send(c, status_adapter(std::move(cb)), options);
}

void Controller::resolve(std::string_view address, bool reverse, StatusCallback cb,
                         const CommandOptions& options) {
  Command c("RESOLVE");
  if (reverse) c.kv_bare("mode", "reverse");
  c.arg(address);
  send(c, status_adapter(std::move(cb)), options);
}

void Controller::takeownership(StatusCallback cb, const CommandOptions& options) {
  // Remembered so that a reconnection takes ownership of the new tor too.
  send(
      Command("TAKEOWNERSHIP"),
      [impl = impl_.get(), cb = std::move(cb)](const Expected<Reply>& r) {
        if (!r) return cb(r.error());
        impl->protocol.ownership_taken();
        cb(Status{});
      },
      options);
}

void Controller::dropguards(StatusCallback cb, const CommandOptions& options) {
  send(Command("DROPGUARDS"), status_adapter(std::move(cb)), options);
}

void Controller::add_onion(const AddOnionRequest& req, KeyValuesCallback cb,
                           const CommandOptions& options) {
  Command c("ADD_ONION");
  c.arg(req.key_type + ":" + req.key_blob);
  if (!req.flags.empty()) {
    std::string flags;
    for (const std::string& f : req.flags) {
      if (!flags.empty()) flags.push_back(',');
      flags += f;
    }
    c.kv_bare("Flags", flags);
  }
  if (req.max_streams >= 0) c.kv_bare("MaxStreams", std::to_string(req.max_streams));
  for (const auto& [port, target] : req.ports)
    c.kv_bare("Port", target.empty() ? std::to_string(port) : std::to_string(port) + "," + target);
  for (const std::string& key : req.client_auth_v3) c.kv_bare("ClientAuthV3", key);
  send(c, kv_adapter(std::move(cb), false), options);
}

void Controller::del_onion(std::string_view service_id, StatusCallback cb,
                           const CommandOptions& options) {
  Command c("DEL_ONION");
  c.arg(service_id);
  send(c, status_adapter(std::move(cb)), options);
}

void Controller::quit(StatusCallback cb, const CommandOptions& options) {
  send(Command("QUIT"), status_adapter(std::move(cb)), options);
}

// ---- coroutine forms -----------------------------------------------------

Controller::Awaiter<Expected<OwnedReply>> Controller::co_command(std::string line) {
  return co_command(std::move(line), CommandOptions{});
}

Controller::Awaiter<Expected<OwnedReply>> Controller::co_command(std::string line,
                                                                 CommandOptions options) {
  return {
      [this, line = std::move(line), options](std::function<void(Expected<OwnedReply>)> resume) {
        command(
            line,
            [resume = std::move(resume)](const Expected<Reply>& r) {
              if (r)
                resume(r->copy());
              else
                resume(r.error());
            },
            options);
      },
      {}};
}

Controller::Awaiter<Expected<KeyValues>> Controller::co_getinfo(std::vector<std::string> keys,
                                                                CommandOptions options) {
  return {[this, keys = std::move(keys), options](std::function<void(Expected<KeyValues>)> resume) {
            std::vector<std::string_view> views(keys.begin(), keys.end());
            getinfo(
                std::span<const std::string_view>(views),
                [resume = std::move(resume)](const Expected<KeyValues>& r) { resume(r); }, options);
          },
          {}};
}

Controller::Awaiter<Status> Controller::co_connect(Endpoint where) {
  return {[this, where = std::move(where)](std::function<void(Status)> resume) {
            connect(where, [resume = std::move(resume)](const Status& s) { resume(s); });
          },
          {}};
}

}  // namespace torcon
