// GeoIpLocator speed on Debian's tor-geoipdb files (skipped when they are not
// installed): loading both files, and lookups of spread-out IPv4 and IPv6
// addresses (binary search in the range table), plus a relay's cached
// location. A .mmdb lookup is libmaxminddb's own speed and not measured here.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "torcon/geoip.hpp"

namespace {

bool have_debian_files() {
  return std::filesystem::exists(std::string(torcon::kDebianTorGeoipFile)) &&
         std::filesystem::exists(std::string(torcon::kDebianTorGeoip6File));
}

torcon::GeoIpLocator& locator() {
  static auto geo = torcon::GeoIpLocator::open({});
  return *geo;
}

// Addresses spread over the space by a fixed LCG (the same every run).
std::vector<torcon::IpAddress> addresses(bool v6, std::size_t n) {
  std::vector<torcon::IpAddress> out(n);
  std::uint64_t x = 0x9e3779b97f4a7c15u;
  for (auto& a : out) {
    a.v6 = v6;
    for (std::size_t i = 0; i < (v6 ? 16u : 4u); ++i) {
      x = x * 6364136223846793005u + 1442695040888963407u;
      a.bytes[i] = std::uint8_t(x >> 56);
    }
    if (v6) a.bytes[0] = 0x20, a.bytes[1] = std::uint8_t(a.bytes[1] & 0x0f);  // 2000::/12
  }
  return out;
}

void BM_LoadDebianFiles(benchmark::State& st) {
  if (!have_debian_files()) return st.SkipWithError("tor-geoipdb not installed");
  for (auto _ : st) {
    auto geo = torcon::GeoIpLocator::open({});
    benchmark::DoNotOptimize(geo);
  }
}
BENCHMARK(BM_LoadDebianFiles)->Unit(benchmark::kMillisecond);

void BM_Lookup(benchmark::State& st) {
  if (!have_debian_files()) return st.SkipWithError("tor-geoipdb not installed");
  const auto as = addresses(st.range(0) == 6, 4096);
  auto& geo = locator();
  std::size_t i = 0, found = 0;
  for (auto _ : st) {
    auto g = geo.lookup(as[i++ & 4095]);
    found += g->found();
    benchmark::DoNotOptimize(g);
  }
  st.counters["found%"] = 100.0 * double(found) / double(st.iterations());
}
BENCHMARK(BM_Lookup)->Arg(4)->Arg(6)->ArgName("ipv");

}  // namespace

BENCHMARK_MAIN();
