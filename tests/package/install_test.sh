#!/usr/bin/env bash
# The install as users get it, static and shared (ctest entry
# package_consumer; needs a built tree):
#
#   install_test.sh SOURCE_DIR BUILD_DIR
#
# Installs BUILD_DIR (static libtorcon) into BUILD_DIR/package/prefix-static;
# configures, builds and installs a shared libtorcon from SOURCE_DIR in
# BUILD_DIR/package/shared (kept, so a second run only rebuilds what changed)
# into BUILD_DIR/package/prefix-shared, its examples/ built in the tree
# against libtorcon.so; then runs consumer_test.sh on both prefixes.
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
out=$build/package
mkdir -p "$out"

rm -rf "$out/prefix-static" "$out/prefix-shared"
cmake --install "$build" --prefix "$out/prefix-static" >"$out/install-static.log"

launcher=()
export CCACHE_NOHASHDIR=1  # share cache entries across build directories (debug info paths only)
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$src" -B "$out/shared" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DBUILD_SHARED_LIBS=ON -DTORCON_TESTS=OFF -DTORCON_BENCHMARKS=OFF -DTORCON_DOCS=OFF \
      "${launcher[@]}" >"$out/shared-configure.log"
cmake --build "$out/shared" -j"$(nproc)" >"$out/shared-build.log" 2>&1 ||
  { tail -50 "$out/shared-build.log"; exit 1; }
cmake --install "$out/shared" --prefix "$out/prefix-shared" >"$out/install-shared.log"

bash "$src/tests/package/consumer_test.sh" --examples "$src/examples" \
  "$out/prefix-static" "$out/prefix-shared"
