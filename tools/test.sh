#!/usr/bin/env bash
# The test command (README, CI): installs what is needed, builds, runs every
# test. Extra arguments go to ctest (e.g. -R reply_reader).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
build=${TORCON_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTORCON_WERROR=ON
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 600 "$@"
