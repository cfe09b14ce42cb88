#!/usr/bin/env bash
# The README's first command: installs what is needed, builds torcon-monitor
# and runs it on a private Tor network on 127.0.0.1 that it launches itself
# (3 authorities, 2 relays, an exit, a client), with an HTTP fetch through the
# client every few seconds and one long download, so there are circuits,
# streams and traffic to watch. Keys: 1 overview/graph, 2 circuits+streams,
# 3 guards/address map, 4 log, q quit (the network is stopped on the way out).
# Nothing leaves the machine: every tor binds and talks to 127.0.0.1 only.
#
# Arguments go to torcon-monitor: `bash tools/monitor.sh --once` prints one
# snapshot; `bash tools/monitor.sh --control 127.0.0.1:9051` watches your own tor.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
build=${TORCON_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target torcon-monitor
exec "$build/tools/torcon-monitor" "$@"
