#!/usr/bin/env bash
# The install as users get it, static and shared (ctest entry
# package_consumer; needs a built tree):
#
#   install_test.sh SOURCE_DIR BUILD_DIR
#
# Installs BUILD_DIR (static libtorcon) into BUILD_DIR/package/prefix-static;
# configures, builds and installs a shared libtorcon from SOURCE_DIR in
# BUILD_DIR/package/shared (kept, so a second run only rebuilds what changed;
# configured as the Debian packages are, so deb_test.sh packs the same tree)
# into BUILD_DIR/package/prefix-shared, its examples/ built in the tree
# against libtorcon.so; then runs consumer_test.sh on both prefixes.
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
out=$build/package
mkdir -p "$out"

rm -rf "$out/prefix-static" "$out/prefix-shared"
cmake --install "$build" --prefix "$out/prefix-static" >"$out/install-static.log"

bash "$src/tests/package/shared_build.sh" "$src" "$out/shared"
cmake --install "$out/shared" --prefix "$out/prefix-shared" >"$out/install-shared.log"

bash "$src/tests/package/consumer_test.sh" --examples "$src/examples" \
  "$out/prefix-static" "$out/prefix-shared"
