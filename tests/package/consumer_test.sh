#!/usr/bin/env bash
# Builds and runs a program against installed torcon packages, as a user
# would, outside the source tree:
#
#   consumer_test.sh [--examples DIR] PREFIX...
#
# For each PREFIX (an installed torcon: `cmake --install --prefix`, or /usr
# for the Debian packages), static or shared as installed there:
#   - tests/package/consumer built with find_package(torcon 0.2) and again
#     with `pkg-config --cflags --libs torcon torcon-testnet` (--static for a
#     static libtorcon), each run against a real tor: connect, authenticate,
#     GETINFO version, one CONF_CHANGED event;
#   - a shared libtorcon: its SONAME carries the version, it exports no
#     abseil symbol;
#   - the installed headers include no abseil or liburing header, and each
#     compiles on its own with only torcon's include directory;
#   - with --examples, examples/ built as an outside project and
#     parse_session run against the same tor.
# The tor is Debian's, started here on 127.0.0.1 with DisableNetwork 1 and a
# temporary DataDirectory, and stopped at exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
examples=""
prefixes=()
while [ $# -gt 0 ]; do
  case "$1" in
    --examples) examples=$2; shift 2 ;;
    *) prefixes+=("$(cd "$1" && pwd)"); shift ;;
  esac
done
[ ${#prefixes[@]} -gt 0 ] || { echo "usage: $0 [--examples DIR] PREFIX..." >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/torcon-consumer.XXXXXX")
tor_pid=""
cleanup() {
  [ -n "$tor_pid" ] && kill "$tor_pid" 2>/dev/null && wait "$tor_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf '== %s\n' "$*"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

# ---- tor ------------------------------------------------------------------
mkdir -m 700 "$work/tor"
cat > "$work/torrc" <<TORRC
DataDirectory $work/tor
DisableNetwork 1
SocksPort 0
ControlPort 127.0.0.1:auto
ControlPortWriteToFile $work/tor/control-port
CookieAuthentication 1
Log notice file $work/tor/notice.log
TORRC
tor -f "$work/torrc" --RunAsDaemon 0 >"$work/tor.out" 2>&1 &
tor_pid=$!
for _ in $(seq 1 300); do
  [ -s "$work/tor/control-port" ] && [ -s "$work/tor/control_auth_cookie" ] && break
  kill -0 "$tor_pid" 2>/dev/null || { cat "$work/tor.out"; fail "tor exited"; }
  sleep 0.1
done
port=$(sed -n 's/^PORT=127.0.0.1://p' "$work/tor/control-port")
[ -n "$port" ] || { cat "$work/tor.out"; fail "tor wrote no control port"; }
say "tor on 127.0.0.1:$port"

run_consumer() {  # NAME BINARY [env...]
  local name=$1 bin=$2
  say "$name: run"
  if ! "$bin" "$port" >"$work/$name.out" 2>&1; then
    cat "$work/$name.out"
    fail "$name"
  fi
  cat "$work/$name.out"
  grep -q '^offline api ok$' "$work/$name.out" || fail "$name: offline API checks"
  grep -q '^tor version ' "$work/$name.out" || fail "$name: no version"
  grep -q '^event CONF_CHANGED MaxCircuitDirtiness=' "$work/$name.out" || fail "$name: no event"
}

n=0
for prefix in "${prefixes[@]}"; do
  n=$((n + 1))
  libdir=$(dirname "$(find "$prefix/lib" -name 'torconConfig.cmake' -print -quit)")
  libdir=${libdir%/cmake/torcon}
  [ -d "$libdir" ] || fail "$prefix: no torconConfig.cmake under lib/"
  if [ -e "$libdir/libtorcon.so" ]; then linkage=shared; else linkage=static; fi
  say "prefix $prefix ($linkage, $libdir)"

  # Headers: nothing of a dependency's.
  if grep -rEl '#include *[<"](absl/|liburing|openssl/|sodium|maxminddb)' "$prefix/include/torcon"; then
    fail "installed headers include a dependency's headers"
  fi

  # Every header compiles on its own with only torcon's include directory
  # (no dependency's include path).
  for h in "$prefix"/include/torcon/*.hpp; do
    echo "#include <torcon/$(basename "$h")>" |
      c++ -std=c++20 -fsyntax-only -Wall -Wextra -Werror -I"$prefix/include" -x c++ - ||
      fail "torcon/$(basename "$h") does not compile on its own"
  done
  say "$(find "$prefix/include/torcon" -name '*.hpp' | wc -l) headers compile on their own"

  if [ "$linkage" = shared ]; then
    soname=$(objdump -p "$libdir/libtorcon.so" | awk '/SONAME/ {print $2}')
    version=$(sed -n 's/^#define TORCON_VERSION_STRING "\(.*\)"/\1/p' "$prefix/include/torcon/version.hpp")
    [ "$soname" = "libtorcon.so.${version%.*}" ] || fail "SONAME $soname for version $version"
    # Names only (private members of exported classes may mention internal
    # types in their signatures; what matters is what is defined).
    exported=$(nm -D --defined-only "$libdir/libtorcon.so" | c++filt | cut -d' ' -f3-)
    if grep -q 'absl::' <<<"$exported"; then fail "libtorcon.so exports abseil symbols"; fi
    if grep -Eq '^(typeinfo( name)? for |vtable for )?torcon::detail::' <<<"$exported"; then
      fail "libtorcon.so exports torcon::detail"
    fi
    say "SONAME $soname; $(wc -l <<<"$exported") exported symbols, none of abseil's or torcon::detail's"
  fi

  # find_package.
  say "consumer $n: find_package"
  cmake -S "$here/consumer" -B "$work/cmake-$n" -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_BUILD_TYPE=Release >"$work/cmake-$n.log" 2>&1 || { cat "$work/cmake-$n.log"; fail "configure"; }
  cmake --build "$work/cmake-$n" >>"$work/cmake-$n.log" 2>&1 || { cat "$work/cmake-$n.log"; fail "build"; }
  LD_LIBRARY_PATH="$libdir" run_consumer "cmake-$linkage-$n" "$work/cmake-$n/torcon-consumer"

  # pkg-config.
  say "consumer $n: pkg-config"
  export PKG_CONFIG_PATH="$libdir/pkgconfig"
  static_flag=""
  [ "$linkage" = static ] && static_flag=--static
  cflags=$(pkg-config --cflags torcon torcon-testnet)
  libs=$(pkg-config $static_flag --libs torcon-testnet torcon)
  echo "c++ $cflags consumer.cpp offline_api.cpp $libs"
  # shellcheck disable=SC2086
  c++ $cflags -O1 -o "$work/pc-$n" "$here/consumer/consumer.cpp" "$here/consumer/offline_api.cpp" \
    $libs || fail "pkg-config build"
  LD_LIBRARY_PATH="$libdir" run_consumer "pkgconfig-$linkage-$n" "$work/pc-$n"
  unset PKG_CONFIG_PATH

  if [ -n "$examples" ]; then
    say "examples: outside project"
    cmake -S "$examples" -B "$work/examples-$n" -DCMAKE_PREFIX_PATH="$prefix" \
          >"$work/examples-$n.log" 2>&1 || { cat "$work/examples-$n.log"; fail "examples configure"; }
    cmake --build "$work/examples-$n" >>"$work/examples-$n.log" 2>&1 || { cat "$work/examples-$n.log"; fail "examples build"; }
    LD_LIBRARY_PATH="$libdir" "$work/examples-$n/parse_session" "$port" "$work/tor/control_auth_cookie" \
      >"$work/examples-$n.out" 2>&1 || { cat "$work/examples-$n.out"; fail "parse_session"; }
    grep -q 'version' "$work/examples-$n.out" || { cat "$work/examples-$n.out"; fail "parse_session output"; }
    say "parse_session ok"
  fi
done
say "all consumers passed"
