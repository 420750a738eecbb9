#!/bin/sh
# A small Debian image the tests can build without a registry: debootstrap
# --variant=minbase bookworm (plus python3-minimal, for the tests' Python
# programs) from the mirror apt already uses, packed as an OCI layout with
# umoci. Prints the reference (oci:DIR:bookworm). Cached under
# $ZONEBOX_TEST_CACHE (default /var/cache/zonebox-test) in a directory named
# by this script's hash: a changed recipe builds afresh, an unchanged one is
# reused. Needs root (debootstrap), debootstrap and umoci; exit 2 with the
# reason when it cannot build (the archive unreachable, a tool missing).
set -eu
cache=${ZONEBOX_TEST_CACHE:-/var/cache/zonebox-test}
key=$(sha256sum "$0" | cut -c1-16)
out=$cache/debian-$key
ref="oci:$out/img:bookworm"
if [ -f "$out/done" ]; then
        echo "$ref"
        exit 0
fi
for tool in debootstrap umoci; do
        command -v $tool >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
        command -v $tool >/dev/null 2>&1 || { echo "build.sh: $tool is not installed (scripts/install-deps)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "build.sh: debootstrap needs root" >&2; exit 2; }
# The first http(s) mirror of apt's sources (one-line or deb822 format).
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
         sed -n -e 's/^deb \(\[[^]]*\] \)\{0,1\}\(https\{0,1\}:[^ ]*\) .*/\2/p' -e 's/^URIs: *\(https\{0,1\}:[^ ]*\).*/\1/p' |
         grep -v security | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
tmp=$(mktemp -d "$cache.tmp.XXXXXX" 2>/dev/null || { mkdir -p "$cache" && mktemp -d "$cache.tmp.XXXXXX"; })
trap 'rm -rf "$tmp"' EXIT
if ! debootstrap --variant=minbase --include=python3-minimal bookworm "$tmp/rootfs" "$mirror" >"$tmp/log" 2>&1; then
        echo "build.sh: debootstrap from $mirror failed (no archive?): $(tail -1 "$tmp/log")" >&2
        exit 2
fi
rm -rf "$tmp/rootfs/var/cache/apt/archives/"*.deb "$tmp/rootfs/var/lib/apt/lists/"*
cd "$tmp"
umoci init --layout img
umoci new --image img:bookworm
umoci unpack --image img:bookworm bundle >/dev/null
rm -rf bundle/rootfs
mv rootfs bundle/rootfs
umoci repack --image img:bookworm bundle
umoci config --image img:bookworm --config.env PATH=/usr/local/bin:/usr/bin:/bin --config.cmd /bin/sh
rm -rf bundle
mkdir -p "$cache"
chmod -R a+rX img
rm -rf "$out"
mkdir "$out"
mv img "$out/img"
touch "$out/done"
echo "$ref"
