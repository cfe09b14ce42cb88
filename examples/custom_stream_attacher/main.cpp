// custom_stream_attacher: every stream a tor's clients open leaves through an
// exit in the country of its destination (GeoIP from a MaxMind .mmdb, tor's
// geoip files, or tor itself), on a circuit built for that exit when none
// exists yet. Shows StreamAttacher, CircuitBuilder, TorState and
// GeoIpLocator together.
//
//   custom_stream_attacher --control 127.0.0.1:9051 --cookie /run/tor/control.authcookie
//                          [--mmdb GeoLite2-City.mmdb] [--for SECONDS]
//
// On the private network (torcon-testnet start --distinct-addresses ...),
// give it a .mmdb that puts each exit's loopback address in a country (see
// tests/geoip/write_test_mmdb.pl) and send streams to those addresses. Prints
// one line per stream; runs until --for seconds pass (default: forever).

#include <charconv>
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

#include "country_attacher.hpp"
#include "torcon/controller.hpp"
#include "torcon/geoip.hpp"
#include "torcon/reactor.hpp"
#include "torcon/tor_state.hpp"

namespace {

const char* const kUsage =
    "usage: custom_stream_attacher [--control HOST:PORT|PATH] [--cookie FILE]\n"
    "                              [--password P] [--mmdb FILE]... [--for SECONDS]\n";

int usage(const char* why) {
  std::fprintf(stderr, "custom_stream_attacher: %s\n%s", why, kUsage);
  return 2;
}

bool parse_number(std::string_view s, unsigned& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

int main(int argc, char** argv) {
  torcon::ControllerOptions copt;
  copt.parser.record_data_lines = true;  // TorState reads ns/all with them
  torcon::Endpoint control = torcon::Endpoint::tcp("127.0.0.1", 9051);
  torcon::GeoIpOptions gopt;
  unsigned run_for = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc) return usage("an option needs a value");
    const std::string_view v = argv[++i];
    if (a == "--control") {
      const std::size_t colon = v.rfind(':');
      unsigned port = 0;
      if (v.starts_with("/"))
        control = torcon::Endpoint::unix_socket(std::string(v));
      else if (colon != std::string_view::npos && parse_number(v.substr(colon + 1), port) &&
               port > 0 && port < 65536)
        control = torcon::Endpoint::tcp(std::string(v.substr(0, colon)), std::uint16_t(port));
      else
        return usage("--control needs HOST:PORT or a socket path");
    } else if (a == "--cookie") {
      copt.cookie_file = std::string(v);
    } else if (a == "--password") {
      copt.password = std::string(v);
    } else if (a == "--mmdb") {
      gopt.mmdb_files.emplace_back(v);
    } else if (a == "--for") {
      if (!parse_number(v, run_for)) return usage("--for needs seconds");
    } else {
      return usage("unknown option");
    }
  }

  auto reactor = torcon::Reactor::create();
  if (!reactor) {
    std::fprintf(stderr, "custom_stream_attacher: %s\n", reactor.error().message.c_str());
    return 2;
  }
  torcon::Reactor& loop = **reactor;
  torcon::Controller ctl(loop, copt);
  gopt.controller = &ctl;
  auto geo = torcon::GeoIpLocator::open(gopt);
  if (!geo) {
    std::fprintf(stderr, "custom_stream_attacher: %s\n", geo.error().message.c_str());
    return 2;
  }
  torcon::TorState state(loop);
  country_attacher::CountryAttacher attacher(loop, ctl, state, *geo);
  attacher.on_placement([](const country_attacher::Placement& p) {
    std::printf("%s\n", country_attacher::format(p).c_str());
    std::fflush(stdout);
  });
  int status = 0;
  ctl.connect(control, [&](const torcon::Status& s) {
    if (s) return;
    std::fprintf(stderr, "custom_stream_attacher: control port: %s\n", s.error().message.c_str());
    status = 2;
    loop.stop();
  });
  state.attach(ctl, [&](const torcon::Status& s) {
    if (!s) {
      std::fprintf(stderr, "custom_stream_attacher: reading tor's state: %s\n",
                   s.error().message.c_str());
      status = 2;
      return loop.stop();
    }
    attacher.install([&](const torcon::Status& done) {
      if (!done) {
        std::fprintf(stderr, "custom_stream_attacher: %s\n", done.error().message.c_str());
        status = 2;
        return loop.stop();
      }
      std::printf("attaching streams (%zu MaxMind databases, %zu+%zu tor geoip ranges)\n",
                  geo->mmdb_count(), geo->tor_geoip_ranges(), geo->tor_geoip6_ranges());
      std::fflush(stdout);
    });
  });
  if (run_for > 0) loop.start_timer(std::chrono::seconds(run_for), [&] { loop.stop(); });
  loop.run();
  return status;
}
