#!/usr/bin/env bash
# The shared build the package tests use, configured as the Debian packages
# are built (prefix /usr, Debian's multiarch libdir): install_test.sh installs
# it elsewhere with --prefix, deb_test.sh packs it with cpack.
#
#   shared_build.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_NOHASHDIR=1  # share cache entries across build directories (debug info paths only)
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
mkdir -p "$build"
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_LIBDIR="lib/$multiarch" \
      -DBUILD_SHARED_LIBS=ON -DTORCON_TESTS=OFF -DTORCON_BENCHMARKS=OFF -DTORCON_DOCS=OFF \
      "${launcher[@]}" >"$build/../$(basename "$build")-configure.log"
cmake --build "$build" -j"$(nproc)" >"$build/../$(basename "$build")-build.log" 2>&1 ||
  { tail -50 "$build/../$(basename "$build")-build.log"; exit 1; }
