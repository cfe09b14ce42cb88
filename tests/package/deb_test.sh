#!/usr/bin/env bash
# The Debian packages as a Debian 12 user gets them (CI step; needs root and
# Debian's mirror):
#
#   deb_test.sh SOURCE_DIR WORK_DIR
#
# 1. Builds torcon shared with prefix /usr in WORK_DIR/shared (the tree
#    install_test.sh uses too: CI runs it first) and runs `cpack -G DEB` (libtorcon<ver>, libtorcon-dev, torcon-tools; library
#    dependencies from dpkg-shlibdeps).
# 2. Unpacks a clean Debian 12 (debootstrap --variant=minbase bookworm) with
#    only what a user building against torcon brings: g++, cmake, make,
#    pkg-config, and tor to test against. The base is made once and cached
#    as a tarball in $TORCON_CHROOT_CACHE (default /var/cache/torcon-ci).
# 3. Installs the three .deb files there with apt (so their Depends must pull
#    in everything they need: nothing else of torcon's is preinstalled), then
#    runs tests/package/consumer_test.sh on prefix /usr (find_package and
#    pkg-config, against a tor in the chroot) and the tools' --version.
set -euo pipefail
src=$(cd "$1" && pwd)
mkdir -p "$2"
work=$(cd "$2" && pwd)
mirror=${TORCON_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache_dir=${TORCON_CHROOT_CACHE:-/var/cache/torcon-ci}
base_tar=$cache_dir/bookworm-minbase-consumer.tar.zst
say() { printf '\n== %s\n' "$*"; }

# ---- 1. the packages --------------------------------------------------------
say "building the Debian packages"
bash "$src/tests/package/shared_build.sh" "$src" "$work/shared"
rm -rf "$work/shared/packages"
(cd "$work/shared" && cpack -G DEB >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; exit 1; }
debs=("$work"/shared/packages/*.deb)
for d in "${debs[@]}"; do
  echo "$(basename "$d"): $(dpkg-deb -f "$d" Depends)"
done
[ ${#debs[@]} -eq 3 ] || { echo "expected 3 packages, got ${#debs[@]}"; exit 1; }

# ---- 2. the clean Debian 12 -------------------------------------------------
if [ ! -s "$base_tar" ]; then
  say "making the Debian 12 base (once; cached in $base_tar)"
  mkdir -p "$cache_dir"
  base=$(mktemp -d "$cache_dir/base.XXXXXX")
  debootstrap --variant=minbase bookworm "$base" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -30 "$work/debootstrap.log"; rm -rf "$base"; exit 1; }
  # No daemons started by package scripts inside the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$base/usr/sbin/policy-rc.d"
  chmod +x "$base/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$base/etc/resolv.conf"
  chroot "$base" apt-get update -q >/dev/null
  chroot "$base" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends g++ cmake make pkg-config tor >"$work/base-apt.log" 2>&1 ||
    { tail -30 "$work/base-apt.log"; rm -rf "$base"; exit 1; }
  chroot "$base" apt-get clean
  tar -C "$base" -I zstd -cf "$base_tar.tmp" . && mv "$base_tar.tmp" "$base_tar"
  rm -rf "$base"
fi

root=$work/chroot
cleanup() {
  for m in "$root/proc" "$root/dev/pts" "$root/dev"; do
    mountpoint -q "$m" && umount -l "$m"
  done
  return 0
}
trap cleanup EXIT
cleanup
rm -rf "$root"
mkdir -p "$root"
say "unpacking the Debian 12 base"
tar -C "$root" -I zstd -xf "$base_tar"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
cp /etc/resolv.conf "$root/etc/resolv.conf"

# ---- 3. install and use -----------------------------------------------------
mkdir -p "$root/root/torcon/debs"
cp "${debs[@]}" "$root/root/torcon/debs/"
cp -r "$src/tests/package" "$root/root/torcon/package"
cp -r "$src/examples" "$root/root/torcon/examples"
say "apt-get install the packages"
chroot "$root" apt-get update -q >/dev/null
chroot "$root" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /root/torcon/debs/*.deb' \
  >"$work/chroot-apt.log" 2>&1 || { tail -30 "$work/chroot-apt.log"; exit 1; }
grep -E '^(Setting up|Unpacking) ' "$work/chroot-apt.log" | sed 's/^/  /'
say "tools"
# Every program torcon-tools installed answers --version with its name.
tools=$(chroot "$root" dpkg -L torcon-tools | grep '^/usr/bin/.')
[ "$(wc -l <<<"$tools")" -ge 5 ] || { echo "torcon-tools installs only: $tools"; exit 1; }
for t in $tools; do
  out=$(chroot "$root" "$t" --version)
  echo "$out"
  [[ "$out" == "$(basename "$t") "* ]] || { echo "$t --version: $out"; exit 1; }
done
say "consumer test in the chroot"
chroot "$root" bash /root/torcon/package/consumer_test.sh --examples /root/torcon/examples /usr
say "Debian packages pass"
