#!/usr/bin/env bash
# The demo (README's first command): installs what is needed, builds torcon,
# launches its own tor (127.0.0.1 only, DisableNetwork 1, a temporary
# DataDirectory), shows the parser on that tor's live replies, then parses a
# generated 8000-router GETINFO ns/all and runs the parser benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
build=${TORCON_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"

dir=$(mktemp -d /tmp/torcon-demo-XXXXXX)
chmod 700 "$dir"
tor_pid=""
cleanup() {
  [ -n "$tor_pid" ] && kill "$tor_pid" 2>/dev/null && wait "$tor_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

cat >"$dir/torrc" <<TORRC
DataDirectory $dir
DisableNetwork 1
SocksPort 0
ControlPort 127.0.0.1:auto
ControlPortWriteToFile $dir/control.port
CookieAuthentication 1
GeoIPFile /dev/null
GeoIPv6File /dev/null
Log notice file $dir/notice.log
TORRC
echo "== launching tor $(tor --version | head -1 | awk '{print $3}') in $dir"
tor --quiet -f "$dir/torrc" --defaults-torrc /dev/null &
tor_pid=$!
for _ in $(seq 200); do
  [ -s "$dir/control.port" ] && [ -s "$dir/control_auth_cookie" ] && break
  sleep 0.05
done
port=$(sed -n 's/^PORT=.*:\([0-9]*\)$/\1/p' "$dir/control.port")
echo "== control port 127.0.0.1:$port"
"$build/examples/parse_session" "$port" "$dir/control_auth_cookie"

echo
echo "== a generated 8000-router GETINFO ns/all, parsed by torcon-parse --routers (first 3):"
"$build/tools/torcon-gen" ns-all --routers 8000 -o "$dir/ns-all.bin"
ls -l "$dir/ns-all.bin" | awk '{print "   " $5 " bytes"}'
"$build/tools/torcon-parse" --routers "$dir/ns-all.bin" | head -3
echo "   $("$build/tools/torcon-parse" --routers "$dir/ns-all.bin" | wc -l) routers"

if [ -x "$build/bench/parser_bench" ]; then
  echo
  echo "== parser benchmark"
  "$build/bench/parser_bench" --benchmark_min_time=0.2
fi
