#!/usr/bin/env bash
# Cost against work: startup with 0, 4 and 16 zones (read-only binds), back
# to back and sporadic, and the slope per zone; then CONCURRENT sandboxes
# started at once (each sleeping 1 s) on this machine: how many failed and
# whether any cgroup of theirs was left. Prints markdown (bench/README.md,
# "Scale"); exits 1 if a concurrent sandbox failed or left a cgroup.
#
# Environment:
#   RUNS=100 WARMUP=10   hyperfine runs and warm-ups per zone count
#   SPORADIC_ROUNDS=20   rounds of the sporadic regime (runs 200 ms apart)
#   CONCURRENT=50        sandboxes started at once
#   ZONEBOX=path         binary to measure (default build/zonebox)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
say() { printf 'scale: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
. "$ROOT/bench/lib.sh"

ZB=${ZONEBOX:-$ROOT/build/zonebox}
RUNS=${RUNS:-100}
WARMUP=${WARMUP:-10}
SPORADIC_ROUNDS=${SPORADIC_ROUNDS:-20}
CONCURRENT=${CONCURRENT:-50}
for v in RUNS WARMUP SPORADIC_ROUNDS CONCURRENT; do
	case ${!v} in '' | *[!0-9]*) die "$v must be a whole number, got '${!v}'" ;; esac
done
bench_need hyperfine:hyperfine /usr/bin/python3:python3
[ -x "$ZB" ] || die "no zonebox binary at $ZB (make all)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/zonebox-scale.XXXXXX")
chmod 755 "$TMP"
trap 'rm -rf "$TMP"' EXIT
cp "$ZB" "$TMP/zonebox"
ZB=$TMP/zonebox

zones() { # N -> the -v flags of N read-only zones
	local i
	for ((i = 0; i < $1; i++)); do
		mkdir -p "$TMP/z$i"
		printf ' -v %s:/zones/z%d:ro' "$TMP/z$i" "$i"
	done
}
counts=(0 4 16)
hf=(hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$TMP/zones.json")
sp=()
for n in "${counts[@]}"; do
	c="$ZB run$(zones "$n") -- /bin/true"
	# shellcheck disable=SC2086
	$c || die "zonebox with $n zones does not run: $c"
	hf+=(-n "zones-$n" "$c")
	sp+=("zones-$n=$c")
done
wait_quiet 60
load0=$(cut -d' ' -f1 /proc/loadavg)
say "zones: back to back, $RUNS runs each"
"${hf[@]}" >&2
say "zones: sporadic, $SPORADIC_ROUNDS rounds"
sporadic --rounds "$SPORADIC_ROUNDS" --gap-ms 200 "${sp[@]}" >"$TMP/zones-sporadic.md"

say "$CONCURRENT sandboxes at once"
pids=()
t0=$(date +%s%N)
for ((i = 0; i < CONCURRENT; i++)); do
	"$ZB" run -- /bin/sleep 1 >"$TMP/c$i.out" 2>&1 &
	pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do wait "${pids[$i]}" || failed=$((failed + 1)); done
t1=$(date +%s%N)
left=0
for p in "${pids[@]}"; do
	# find fails when other cgroups vanish under it: count what it saw.
	n=$({ find /sys/fs/cgroup -maxdepth 6 -type d -name "zonebox-$p-*" 2>/dev/null || true; } | wc -l)
	left=$((left + n))
done
load1=$(cut -d' ' -f1 /proc/loadavg)

echo "### Scale ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r), load average $load0 before, $load1 after)"
echo
"$PY" - "$TMP/zones.json" "$TMP/zones-sporadic.md" <<'EOF'
import json, sys
res = {r["command"]: r["median"] * 1e3 for r in json.load(open(sys.argv[1]))["results"]}
sp_lines = open(sys.argv[2]).read().strip().splitlines()
sp = {k: float(v) for k, v in (kv.split("=") for kv in sp_lines[-1].split()[1:]) if not k.endswith("_cpu")}
ns = [0, 4, 16]
def slope(d):  # least squares, ms per zone -> µs
    xs, ys = ns, [d["zones-%d" % n] for n in ns]
    mx, my = sum(xs) / 3, sum(ys) / 3
    return 1e3 * sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
print("| zones (read-only binds) | back to back median ms | sporadic median ms |")
print("|---|---:|---:|")
for n in ns:
    print("| %d | %.2f | %.2f |" % (n, res["zones-%d" % n], sp["zones-%d" % n]))
print()
print("Slope per zone (least squares over 0, 4, 16): back to back %.0f µs, sporadic %.0f µs (goal ≤ 50 µs)."
      % (slope(res), slope(sp)))
EOF
echo
echo "$CONCURRENT sandboxes started at once (\`zonebox run -- /bin/sleep 1\`): $failed failed, $left cgroups left behind, all done in $(((t1 - t0) / 1000000)) ms."
if [ "$failed" -ne 0 ] || [ "$left" -ne 0 ]; then
	for ((i = 0; i < CONCURRENT; i++)); do
		if [ -s "$TMP/c$i.out" ]; then sed "s/^/  c$i: /" "$TMP/c$i.out"; fi
	done | head -20
	exit 1
fi
