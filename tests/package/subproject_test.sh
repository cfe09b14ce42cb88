#!/usr/bin/env bash
# torcon embedded with add_subdirectory() builds the libraries and nothing
# else: no tests, benchmarks, fuzzers, tools or examples, no -Werror, no
# install rules; torcon::torcon and torcon::testnet are there to link.
#
#   subproject_test.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
work=$2
rm -rf "$work"
cmake -S "$src/tests/package/subproject" -B "$work" -G Ninja -DTORCON_SOURCE_DIR="$src" >"$work.log" 2>&1 ||
  { cat "$work.log"; exit 1; }
targets=$(ninja -C "$work" -t targets all | cut -d: -f1)
fail() { echo "FAILED: $*"; exit 1; }
for unwanted in reply_reader_test controller_test parser_bench torcon-ctl torcon-gen parse_session docs; do
  if grep -qx "[^ ]*/$unwanted\|$unwanted" <<<"$targets"; then fail "embedded torcon builds $unwanted"; fi
done
grep -q -- '-Werror' "$work/build.ninja" && fail "embedded torcon compiles with -Werror"
grep -q 'torcon/libtorcon.a' <<<"$targets" || fail "no libtorcon.a"
grep -q 'torcon/libtorcon-testnet.a' <<<"$targets" || fail "no libtorcon-testnet.a"
[ -e "$work/torcon/cmake_install.cmake" ] && grep -q 'include/torcon' "$work/torcon/cmake_install.cmake" &&
  fail "embedded torcon installs itself"
grep -q 'add_test' "$work/torcon/CTestTestfile.cmake" 2>/dev/null && fail "embedded torcon adds tests"
echo "embedded torcon: libraries only"
