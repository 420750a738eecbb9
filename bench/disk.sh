#!/usr/bin/env bash
# Disk-limit costs: the startup of a run with a zone size cap (a btrfs qgroup
# on a loop-mounted btrfs, set and cleared per run) next to the same zone
# uncapped, and pass-through output through zonebox's cap next to output
# straight to the caller. Root only (loop devices, quotas); needs hyperfine
# and btrfs-progs. Prints a markdown table (see bench/README.md).
#
# Environment: RUNS=50 WARMUP=5, ZONEBOX=path (default build/zonebox).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZB=${ZONEBOX:-$ROOT/build/zonebox}
RUNS=${RUNS:-50}
WARMUP=${WARMUP:-5}
say() { printf 'bench: %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { say "run as root (loop devices, quotas)"; exit 1; }
for t in hyperfine mkfs.btrfs btrfs; do
	command -v "$t" >/dev/null || { say "missing $t (apt-get install hyperfine btrfs-progs)"; exit 1; }
done
W=$(mktemp -d)
chmod 755 "$W" # the sandbox (uid 65534 outside) reaches the zone
cleanup() { umount "$W/mnt" 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
mkdir "$W/mnt"
truncate -s 512M "$W/fs.img"
mkfs.btrfs -q "$W/fs.img"
mount -o loop "$W/fs.img" "$W/mnt"
btrfs quota enable "$W/mnt"
btrfs subvolume create "$W/mnt/out" >/dev/null
chmod 777 "$W/mnt/out"
# A zone with some content: 1000 small files.
for i in $(seq 1 1000); do echo "$i" >"$W/mnt/out/f$i"; done

hyperfine -N --style basic --runs "$RUNS" --warmup "$WARMUP" --export-json "$W/zone.json" \
	-n "rw zone" "$ZB run -v $W/mnt/out:/out:rw -- /bin/true" \
	-n "rw zone, size=1g" "$ZB run -v $W/mnt/out:/out:rw,size=1g -- /bin/true" >&2
hyperfine --style basic --runs 20 --warmup 2 --export-json "$W/out.json" \
	-n "64 MiB stdout, pass-through" "$ZB run -- head -c 67108864 /dev/zero >/dev/null" \
	-n "64 MiB stdout, --output-limit 1g" "$ZB run --output-limit 1g -- head -c 67108864 /dev/zero >/dev/null" >&2

/usr/bin/python3 - "$W/zone.json" "$W/out.json" <<'PY'
import json, statistics, sys
print("| command | median ms | min ms | max ms |")
print("|---|---|---|---|")
for f in sys.argv[1:]:
    for r in json.load(open(f))["results"]:
        t = r["times"]
        print("| %s | %.2f | %.2f | %.2f |" % (r["command"], statistics.median(t) * 1e3, min(t) * 1e3, max(t) * 1e3))
PY
