#!/usr/bin/env bash
# Installs every Debian package torcon needs to build, test, benchmark and
# fuzz. Idempotent: when everything is already there it changes nothing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  ragel liburing-dev libabsl-dev libmaxminddb-dev libssl-dev
  libsodium-dev libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev clang-format
  tor tor-geoipdb libmaxmind-db-writer-perl python3 python3-stem curl bc
  doxygen debootstrap zstd binutils
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
