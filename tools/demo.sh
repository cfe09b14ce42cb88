#!/usr/bin/env bash
# The demo (README's first command): installs what is needed, builds torcon,
# brings up a private Tor network on 127.0.0.1 (3 authorities, 2 relays, an
# exit, a client), sends a few HTTP fetches through it to a local web server
# and shows what tor reports meanwhile (bootstrap, CIRC and STREAM events,
# GETINFO circuit-status, all through torcon-ctl), then stops the network.
# Nothing leaves the machine: every tor binds and talks to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
build=${TORCON_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
bin=$build/tools

dir=$(mktemp -d /tmp/torcon-demo-XXXXXX)
http_pid="" ctl_pid=""
cleanup() {
  [ -n "$ctl_pid" ] && kill "$ctl_pid" 2>/dev/null || true
  [ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null || true
  "$bin/torcon-testnet" stop "$dir/net" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

base=${TORCON_DEMO_BASE_PORT:-15000}
echo "== starting a private Tor network in $dir/net (ports $base+, 127.0.0.1 only)"
start=$(date +%s.%N)
"$bin/torcon-testnet" start "$dir/net" --base-port "$base"
printf '== network ready in %.1f s\n' "$(echo "$(date +%s.%N) - $start" | bc)"
eval "$("$bin/torcon-testnet" env "$dir/net")"
ctl=("$bin/torcon-ctl" --control "127.0.0.1:$CONTROL_PORT" --cookie "$COOKIE_FILE")

echo
echo "== the client's view (torcon-ctl):"
"${ctl[@]}" 'GETINFO version status/bootstrap-phase status/circuit-established'

# A local web server for the exit to reach (its policy allows 127.0.0.0/8 only).
mkdir -p "$dir/www"
echo "hello through a private Tor network" >"$dir/www/index.html"
http_port=$((base + 39))
python3 -m http.server "$http_port" --bind 127.0.0.1 --directory "$dir/www" >/dev/null 2>&1 &
http_pid=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$http_port") 2>/dev/null && break; sleep 0.1; done

echo
echo "== CIRC and STREAM events while 3 HTTP fetches go through the client's SocksPort:"
"${ctl[@]}" --events CIRC,STREAM >"$dir/events.log" 2>&1 &
ctl_pid=$!
sleep 0.5
for i in 1 2 3; do
  body=$(curl -s --max-time 60 --socks5-hostname "127.0.0.1:$SOCKS_PORT" "http://127.0.0.1:$http_port/")
  echo "   fetch $i: $body"
done
sleep 0.5
kill "$ctl_pid" 2>/dev/null || true
wait "$ctl_pid" 2>/dev/null || true
ctl_pid=""
grep -E '^650 (STREAM|CIRC) ' "$dir/events.log" | cut -c1-160 | sed 's/^/   /' | tail -25

echo
echo "== GETINFO circuit-status:"
"${ctl[@]}" 'GETINFO circuit-status' | cut -c1-160 | sed 's/^/   /'

echo
echo "== stopping the network"
"$bin/torcon-testnet" stop "$dir/net"
echo "== done"
