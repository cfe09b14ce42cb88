// torcon-parse: prints what torcon's parser makes of a raw control-port byte
// stream (as tor sends it), one JSON object per line.
//
//   torcon-parse FILE            one object per complete reply
//   torcon-parse --routers FILE  one object per router status entry of a
//                                GETINFO ns/all reply (or of plain entries)
//   torcon-parse --events FILE   one object per event (650 reply): "keyword", then
//                                the members of its struct in torcon/events.hpp
//                                (views as written, Values decoded, numbers as
//                                numbers, absent ones and raw_args / *_enum
//                                omitted), plus "path" [[FP|null, nick|null]...],
//                                "router" beside GUARD's name and a router
//                                ORCONN target, STREAM "target_host" and
//                                "target_port", CONF_CHANGED "changed" {key:
//                                [values]} and "unset" [keys], STATUS_*
//                                "arguments" {key: value}, data blocks as
//                                "data" (unstuffed, "\n"-joined), unknown events
//                                "positional" and "keywords". One that does not
//                                parse: {"keyword": NAME, "parse_error": "..."},
//                                and the exit status is 1.
//   torcon-parse --state FILE    replays a capture (torcon-ctl --record) through
//                                TorState and prints the state at the end
//
// --state: the capture is what tor sent a controller that subscribed to the
// state events and asked for the bootstrap keys (ns/all, circuit-status,
// stream-status, address-mappings/all, entry-guards; one GETINFO or
// several). 250 replies are recognised by those keys, 650 replies are
// events, everything else (PROTOCOLINFO, AUTHENTICATE, SETEVENTS, errors)
// is skipped. Output, one object:
//   {"routers": N, "circuits": [{"id", "state", "path": [FP, ...], "purpose"}],
//    "streams": [{"id", "state", "circuit", "target"}], "guards": [FP, ...],
//    "addrmap": N}
// fingerprints as 40 upper-case hex, circuits and streams by id; ended ones
// are absent. A reply TorState cannot apply is reported on stderr and the
// exit status is 1 (the state is still printed).
//
// FILE "-" is standard input. On malformed input it prints
// {"error":"...","offset":N} and exits 1; on bad usage it exits 2.
//
// Strings are JSON-escaped; bytes that are not valid UTF-8 come out as
// \u00XX (the byte's value), so the output is always valid JSON.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/events.hpp"
#include "torcon/keyword_args.hpp"
#include "torcon/reply_reader.hpp"
#include "torcon/router_status.hpp"
#include "torcon/tor_state.hpp"

namespace {

using torcon::ReplyReader;

// Length of the valid UTF-8 sequence at s[i], or 0.
std::size_t utf8_len(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  std::size_t n;
  std::uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF)
    n = 3, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4)
    n = 4, cp = c & 0x07;
  else
    return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (b(i + k) & 0x3F);
  }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
      (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    return 0;
  return n;
}

void json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      default: break;
    }
    if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (std::size_t n = utf8_len(s, i)) {
      out.append(s.substr(i, n));
      i += n - 1;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    }
  }
  out.push_back('"');
}

int print_error(std::string_view what, std::uint64_t offset) {
  std::string out = "{\"error\":";
  json_string(out, what);
  out += ",\"offset\":" + std::to_string(offset) + "}\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 1;
}

void print_reply(const torcon::Reply& r, std::string& out) {
  out.clear();
  out += "{\"code\":" + std::to_string(r.code) + ",\"async\":" + (r.is_async() ? "true" : "false") +
         ",\"lines\":[";
  bool first = true;
  for (const torcon::ReplyLine& l : r.lines) {
    if (!first) out.push_back(',');
    first = false;
    out += "{\"sep\":\"";
    out.push_back(static_cast<char>(l.sep));
    out += "\",\"text\":";
    json_string(out, l.text);
    if (l.sep == torcon::Sep::data) {
      out += ",\"data\":";
      json_string(out, torcon::join_data(l.data));
    }
    out.push_back('}');
  }
  out += "]}\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
}

bool print_routers(std::string_view text, std::uint64_t base_offset, std::string& out) {
  torcon::RouterStatusReader rd(text);
  torcon::RouterStatus rs;
  while (rd.next(rs)) {
    out.clear();
    out += "{\"fingerprint\":\"" + torcon::fingerprint_hex(rs.identity) + "\",\"nickname\":";
    json_string(out, rs.nickname());
    out += ",\"published\":\"" + torcon::format_iso_time(rs.published) + "\",\"address\":\"" +
           torcon::format_ipv4(rs.ipv4) + "\",\"or_port\":" + std::to_string(rs.or_port) +
           ",\"dir_port\":" + std::to_string(rs.dir_port);
    if (!rs.a_lines.empty()) {
      out += ",\"ipv6\":[";
      torcon::OrAddressLines al(rs.a_lines);
      std::string_view a;
      bool first = true;
      while (al.next(a)) {
        if (!first) out.push_back(',');
        first = false;
        json_string(out, a);
      }
      out.push_back(']');
    }
    out += ",\"flags\":[";
    std::string_view flags = rs.flags_text;
    bool first = true;
    while (!flags.empty()) {
      const std::size_t sp = flags.find(' ');
      const std::string_view f = flags.substr(0, sp);
      flags = sp == std::string_view::npos ? std::string_view{} : flags.substr(sp + 1);
      if (f.empty()) continue;
      if (!first) out.push_back(',');
      first = false;
      json_string(out, f);
    }
    out.push_back(']');
    if (!rs.version.empty()) {
      out += ",\"version\":";
      json_string(out, rs.version);
    }
    if (rs.has_bandwidth) out += ",\"bandwidth\":" + std::to_string(rs.bandwidth);
    if (!rs.policy.empty()) {
      out += ",\"policy\":";
      json_string(out, rs.policy);
    }
    if (!rs.microdesc_digest.empty()) {
      out += ",\"microdesc_digest\":";
      json_string(out, rs.microdesc_digest);
    }
    out += "}\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  if (rd.error().code != torcon::Errc::ok) {
    print_error(rd.error().message, base_offset + rd.error().offset);
    return false;
  }
  return true;
}

// ---- --events: each 650 reply as its typed struct -------------------------

// One JSON object, members appended in order.
class JsonObject {
 public:
  explicit JsonObject(std::string& out) : out_(out) { out_ += '{'; }
  void close() { out_ += '}'; }
  std::string& key(std::string_view k) {
    if (!first_) out_ += ',';
    first_ = false;
    json_string(out_, k);
    out_ += ':';
    return out_;
  }
  // A view tor did not send (null) is absent; one it sent empty is "".
  void view(std::string_view k, std::string_view v) {
    if (v.data() != nullptr) json_string(key(k), v);
  }
  void value(std::string_view k, const torcon::Value& v) {
    if (!v.present) return;
    std::string scratch;
    json_string(key(k), v.decoded(scratch));
  }
  void number(std::string_view k, std::uint64_t v) { key(k) += std::to_string(v); }
  void number(std::string_view k, const std::optional<std::uint64_t>& v) {
    if (v) number(k, *v);
  }
  void number(std::string_view k, const std::optional<double>& v) {
    if (!v) return;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", *v);
    key(k) += buf;
  }
  void boolean(std::string_view k, bool v) { key(k) += v ? "true" : "false"; }
  void data(std::string_view k, std::string_view raw_block) {
    json_string(key(k), torcon::join_data(raw_block));
  }

 private:
  std::string& out_;
  bool first_ = true;
};

// [fingerprint|null, nickname|null] of one LongName.
void long_name_pair(std::string& out, const torcon::LongName& n) {
  out += '[';
  if (n.has_fingerprint)
    json_string(out, torcon::fingerprint_hex(n.identity));
  else
    out += "null";
  out += ',';
  if (n.nickname.empty())
    out += "null";
  else
    json_string(out, n.nickname);
  out += ']';
}

// Bad hops make the whole path an error: the caller reports it.
bool path_member(JsonObject& o, std::string_view path, std::string& why) {
  if (path.data() == nullptr) return true;
  std::string& out = o.key("path");
  out += '[';
  torcon::LongNameReader hops(path, ',');
  bool first = true;
  for (torcon::LongName h; hops.next(h);) {
    if (!first) out += ',';
    first = false;
    long_name_pair(out, h);
  }
  out += ']';
  if (hops.error().code == torcon::Errc::ok) return true;
  why = "path: " + hops.error().message;
  return false;
}

void router_member(JsonObject& o, std::string_view name) {
  torcon::LongName n;
  if (!torcon::parse_long_name(name, n)) return;  // an address, not a router
  long_name_pair(o.key("router"), n);
}

// positional [..] and keywords {..} of an argument list.
void arguments_members(JsonObject& o, std::string_view args, bool positional_too) {
  torcon::ArgReader rd(args);
  torcon::Arg a;
  std::string scratch, pos = "[", kw = "{";
  while (rd.next(a)) {
    if (a.positional()) {
      if (pos.size() > 1) pos += ',';
      json_string(pos, a.decoded(scratch));
    } else {
      if (kw.size() > 1) kw += ',';
      json_string(kw, a.key);
      kw += ':';
      json_string(kw, a.decoded(scratch));
    }
  }
  if (positional_too) o.key("positional") += pos + "]";
  o.key(positional_too ? "keywords" : "arguments") += kw + "}";
}

// The event's members; false with `why` when a member does not decode.
bool event_members(JsonObject& o, const torcon::Event& ev, std::string& why) {
  using namespace torcon;
  if (const auto* e = ev.get<CircEvent>()) {
    o.view("id", e->id);
    o.view("status", e->status);
    if (!path_member(o, e->path, why)) return false;
    o.view("build_flags", e->build_flags);
    o.view("purpose", e->purpose);
    o.view("hs_state", e->hs_state);
    o.view("rend_query", e->rend_query);
    o.view("time_created", e->time_created);
    o.view("reason", e->reason);
    o.view("remote_reason", e->remote_reason);
    o.value("socks_username", e->socks_username);
    o.value("socks_password", e->socks_password);
    o.view("hs_pow", e->hs_pow);
    o.view("conflux_id", e->conflux_id);
    o.view("conflux_rtt", e->conflux_rtt);
  } else if (const auto* e = ev.get<CircMinorEvent>()) {
    o.view("id", e->id);
    o.view("event", e->event);
    if (!path_member(o, e->path, why)) return false;
    o.view("build_flags", e->build_flags);
    o.view("purpose", e->purpose);
    o.view("hs_state", e->hs_state);
    o.view("rend_query", e->rend_query);
    o.view("time_created", e->time_created);
    o.view("old_purpose", e->old_purpose);
    o.view("old_hs_state", e->old_hs_state);
  } else if (const auto* e = ev.get<StreamEvent>()) {
    o.view("id", e->id);
    o.view("status", e->status);
    o.view("circ_id", e->circ_id);
    o.view("target", e->target);
    const std::size_t colon = e->target.rfind(':');
    if (colon != std::string_view::npos) {
      o.view("target_host", e->target.substr(0, colon));
      std::uint64_t port = 0;
      const std::string_view digits = e->target.substr(colon + 1);
      bool ok = !digits.empty() && digits.size() <= 5;
      for (char c : digits) {
        if (c < '0' || c > '9') ok = false;
        port = port * 10 + std::uint64_t(c - '0');
      }
      if (ok && port <= 65535) o.number("target_port", port);
    }
    o.view("reason", e->reason);
    o.view("remote_reason", e->remote_reason);
    o.view("source", e->source);
    o.view("source_addr", e->source_addr);
    o.view("purpose", e->purpose);
    o.value("socks_username", e->socks_username);
    o.value("socks_password", e->socks_password);
    o.view("client_protocol", e->client_protocol);
    o.view("nym_epoch", e->nym_epoch);
    o.view("session_group", e->session_group);
    o.view("iso_fields", e->iso_fields);
  } else if (const auto* e = ev.get<OrConnEvent>()) {
    o.view("target", e->target);
    router_member(o, e->target);
    o.view("status", e->status);
    o.view("reason", e->reason);
    o.number("ncircs", e->ncircs);
    o.view("id", e->id);
  } else if (const auto* e = ev.get<BwEvent>()) {
    o.number("read", e->read);
    o.number("written", e->written);
    if (!e->extra.empty()) o.view("extra", e->extra);  // the parser leaves it empty, not null
  } else if (const auto* e = ev.get<CircBwEvent>()) {
    o.view("id", e->id);
    o.number("read", e->read);
    o.number("written", e->written);
    o.view("time", e->time);
    o.number("delivered_read", e->delivered_read);
    o.number("overhead_read", e->overhead_read);
    o.number("delivered_written", e->delivered_written);
    o.number("overhead_written", e->overhead_written);
    o.number("ss", e->ss);
    o.number("cwnd", e->cwnd);
    o.number("rtt", e->rtt);
    o.number("min_rtt", e->min_rtt);
  } else if (const auto* e = ev.get<StreamBwEvent>()) {
    o.view("id", e->id);
    o.number("written", e->written);
    o.number("read", e->read);
    o.view("time", e->time);
  } else if (const auto* e = ev.get<AddrMapEvent>()) {
    o.view("address", e->address);
    o.view("new_address", e->new_address);
    o.value("expiry", e->expiry);
    o.value("error", e->error);
    o.value("expires", e->expires);
    o.value("cached", e->cached);
    o.view("stream_id", e->stream_id);
  } else if (const auto* e = ev.get<NetworkStatusEvent>()) {
    o.data("data", e->data);
  } else if (const auto* e = ev.get<NewDescEvent>()) {
    o.view("servers", e->servers);
  } else if (const auto* e = ev.get<GuardEvent>()) {
    o.view("type", e->type);
    o.view("name", e->name);
    router_member(o, e->name);
    o.view("status", e->status);
  } else if (const auto* e = ev.get<StatusEvent>()) {
    o.view("severity", e->severity);
    o.view("action", e->action);
    arguments_members(o, e->arguments, false);
  } else if (const auto* e = ev.get<HsDescEvent>()) {
    o.view("action", e->action);
    o.view("address", e->address);
    o.view("auth_type", e->auth_type);
    o.view("hs_dir", e->hs_dir);
    o.view("descriptor_id", e->descriptor_id);
    o.value("reason", e->reason);
    o.number("replica", e->replica);
    o.view("hsdir_index", e->hsdir_index);
  } else if (const auto* e = ev.get<ConfChangedEvent>()) {
    std::string changed = "{", unset = "[", scratch;
    ConfChangeReader rd = e->reader();
    // Keys in the order tor listed them; a key set to several values (a
    // multi-line option) collects them in one array.
    std::vector<std::pair<std::string, std::vector<std::string>>> keys;
    for (ConfChange c; rd.next(c);) {
      if (!c.value.present) {
        if (unset.size() > 1) unset += ',';
        json_string(unset, c.key);
        continue;
      }
      auto it =
          std::find_if(keys.begin(), keys.end(), [&](const auto& k) { return k.first == c.key; });
      if (it == keys.end()) it = keys.insert(keys.end(), {std::string(c.key), {}});
      it->second.emplace_back(c.value.decoded(scratch));
    }
    for (const auto& [k, values] : keys) {
      if (changed.size() > 1) changed += ',';
      json_string(changed, k);
      changed += ":[";
      for (std::size_t i = 0; i < values.size(); ++i) {
        if (i) changed += ',';
        json_string(changed, values[i]);
      }
      changed += ']';
    }
    o.key("changed") += changed + "}";
    o.key("unset") += unset + "]";
  } else if (const auto* e = ev.get<NetworkLivenessEvent>()) {
    o.view("status", e->status);
  } else if (const auto* e = ev.get<SignalEvent>()) {
    o.view("signal", e->signal);
  } else if (const auto* e = ev.get<BuildTimeoutSetEvent>()) {
    o.view("type", e->type);
    o.number("total_times", e->total_times);
    o.number("timeout_ms", e->timeout_ms);
    o.number("xm", e->xm);
    o.number("close_ms", e->close_ms);
    o.number("alpha", e->alpha);
    o.number("cutoff_quantile", e->cutoff_quantile);
    o.number("timeout_rate", e->timeout_rate);
    o.number("close_rate", e->close_rate);
  } else if (const auto* e = ev.get<LogEvent>()) {
    o.view("severity", ev.name);
    if (e->is_data)
      o.data("data", e->data);
    else
      o.view("message", e->message);
    o.boolean("is_data", e->is_data);
  } else if (const auto* e = ev.get<UnknownEvent>()) {
    o.view("name", e->name);
    arguments_members(o, e->raw_args, true);
    for (const ReplyLine& l : ev.lines)
      if (l.sep == Sep::data) {
        o.data("data", l.data);
        break;
      }
  }
  return true;
}

// One line per 650 reply; false when one did not parse.
bool print_event(const torcon::Reply& r, std::string& out) {
  if (!r.is_async()) return true;
  out.clear();
  torcon::Event ev;
  const torcon::Status s = torcon::parse_event(r, ev);
  std::string why;
  JsonObject o(out);
  const std::string_view first = r.lines.empty() ? std::string_view{} : r.lines[0].text;
  o.view("keyword", s ? ev.name : first.substr(0, first.find(' ')));
  bool ok = bool(s);
  if (ok) {
    const std::size_t mark = out.size();
    ok = event_members(o, ev, why);
    if (!ok) out.resize(mark);
  } else {
    why = s.error().message;
  }
  if (!ok) json_string(o.key("parse_error"), why);
  o.close();
  out += '\n';
  std::fwrite(out.data(), 1, out.size(), stdout);
  return ok;
}

int usage() {
  std::fputs("usage: torcon-parse [--routers | --state | --events] FILE   (FILE may be -)\n",
             stderr);
  return 2;
}

// --state: a 250 reply carrying any of the bootstrap keys.
bool is_snapshot_reply(const torcon::Reply& r) {
  if (r.code != 250) return false;
  for (const torcon::ReplyLine& l : r.lines)
    for (std::string_view key :
         {"ns/all=", "circuit-status=", "stream-status=", "address-mappings/all=", "entry-guards="})
      if (l.text.starts_with(key)) return true;
  return false;
}

// Numeric ids in numeric order, others after them as text.
bool id_less(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

void print_state(const torcon::TorState& st) {
  std::string out = "{\"routers\":" + std::to_string(st.router_count()) + ",\"circuits\":[";
  std::vector<const torcon::Circuit*> circs = st.circuits();
  std::sort(circs.begin(), circs.end(), [](auto* a, auto* b) { return id_less(a->id(), b->id()); });
  bool first = true;
  for (const torcon::Circuit* c : circs) {
    out += first ? "{\"id\":" : ",{\"id\":";
    first = false;
    json_string(out, c->id());
    out += ",\"state\":";
    json_string(out, c->state_text());
    out += ",\"path\":[";
    for (std::size_t i = 0; i < c->path().size(); ++i) {
      if (i) out += ',';
      const torcon::Router* r = c->path()[i];
      if (r)
        json_string(out, r->fingerprint());
      else
        out += "null";  // a hop named by a nickname the state could not resolve
    }
    out += "],\"purpose\":";
    json_string(out, c->purpose());
    out += '}';
  }
  out += "],\"streams\":[";
  std::vector<const torcon::Stream*> streams = st.streams();
  std::sort(streams.begin(), streams.end(),
            [](auto* a, auto* b) { return id_less(a->id(), b->id()); });
  first = true;
  for (const torcon::Stream* s : streams) {
    out += first ? "{\"id\":" : ",{\"id\":";
    first = false;
    json_string(out, s->id());
    out += ",\"state\":";
    json_string(out, s->state_text());
    out += ",\"circuit\":";
    json_string(out, s->circuit() ? s->circuit()->id() : s->circuit_id());
    out += ",\"target\":";
    json_string(out, s->target());
    out += '}';
  }
  out += "],\"guards\":[";
  first = true;
  for (const torcon::Guard& g : st.guards()) {
    if (!first) out += ',';
    first = false;
    json_string(out, g.router ? g.router->fingerprint() : std::string());
  }
  out += "],\"addrmap\":" + std::to_string(st.address_mapping_count()) + "}\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

int main(int argc, char** argv) {
  bool routers = false, state = false, events = false;
  const char* path = nullptr;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--routers" && !state && !events)
      routers = true;
    else if (a == "--state" && !routers && !events)
      state = true;
    else if (a == "--events" && !routers && !state)
      events = true;
    else if (a == "-h" || a == "--help")
      return usage() - 2;
    else if (!path)
      path = argv[i];
    else
      return usage();
  }
  if (!path) return usage();
  const int fd = std::strcmp(path, "-") == 0 ? 0 : ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::fprintf(stderr, "torcon-parse: %s: %s\n", path, std::strerror(errno));
    return 2;
  }

  torcon::ParserOptions popts;
  popts.record_data_lines = state;  // TorState reads ns/all by its line ends
  ReplyReader reader(popts);
  torcon::Reply reply;
  torcon::TorState tor_state;
  bool apply_failed = false, event_failed = false;
  std::string out;
  bool saw_routers = false;
  bool plain_entries = false;  // --routers on bare entries, not a reply
  std::string plain;
  std::uint64_t total = 0;
  while (true) {
    std::span<char> space = reader.prepare(64 * 1024);
    const ssize_t n = ::read(fd, space.data(), space.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "torcon-parse: read: %s\n", std::strerror(errno));
      return 2;
    }
    if (n == 0) break;
    total += static_cast<std::uint64_t>(n);
    if (routers && !plain_entries && reader.stream_offset() == 0 && !reader.mid_reply() &&
        (space[0] < '0' || space[0] > '9'))
      plain_entries = true;
    if (plain_entries) {
      plain.append(space.data(), static_cast<std::size_t>(n));
      continue;
    }
    reader.commit(static_cast<std::size_t>(n));
    for (;;) {
      const ReplyReader::Next r = reader.next(reply);
      if (r == ReplyReader::Next::need_more) break;
      if (r == ReplyReader::Next::error)
        return print_error(reader.error().message, reader.error().offset);
      if (state) {
        if (!reply.is_async() && !is_snapshot_reply(reply)) continue;
        if (torcon::Status st = tor_state.apply_reply(reply); !st) {
          apply_failed = true;
          const std::string_view first_line = reply.lines.empty() ? "" : reply.lines[0].text;
          std::fprintf(stderr, "torcon-parse: reply at byte %llu (%.*s): %s\n",
                       static_cast<unsigned long long>(reply.offset),
                       static_cast<int>(std::min<std::size_t>(first_line.size(), 80)),
                       first_line.data(), st.error().message.c_str());
        }
        continue;
      }
      if (events) {
        if (!print_event(reply, out)) event_failed = true;
        continue;
      }
      if (!routers) {
        print_reply(reply, out);
        continue;
      }
      for (const torcon::ReplyLine& l : reply.lines) {
        if (l.sep != torcon::Sep::data) continue;
        saw_routers = true;
        const std::uint64_t off = reply.offset + std::uint64_t(l.data.data() - reply.raw.data());
        if (!print_routers(l.data, off, out)) return 1;
      }
    }
  }
  if (plain_entries) return print_routers(plain, 0, out) ? 0 : 1;
  if (reader.mid_reply())
    return print_error(
        reader.in_data_block() ? "input ends inside a data block" : "input ends inside a reply",
        total);
  if (routers && !saw_routers) return print_error("no data block with router status entries", 0);
  if (state) {
    print_state(tor_state);
    return apply_failed ? 1 : 0;
  }
  return event_failed ? 1 : 0;
}
