#!/usr/bin/env bash
# zonebox serve under load (bench/README.md, "zonebox serve"): a server with
# 2 workers on a unix socket (loopback only, bounded: DURATION seconds, default
# 60), CONC (3) clients posting `echo hi` runs back to back, in ROUNDS (3)
# rounds each followed by the same number of runs started with `xargs -P2
# zonebox run` under the same config, timed; then MIX_DURATION (DURATION/2)
# seconds of a mix with 10% timeouts and 10% OOMs. Prints errors, p50/p99 latency, runs/s, the ratio serve/xargs,
# and the leftovers after the server stopped (processes of its process tree,
# new zonebox-* cgroups of dead supervisors under our cgroup).
#   bench/serve.sh [ZONEBOX]        DURATION=60 ROUNDS=3 CONC=3 MIX_DURATION=30
set -euo pipefail
say() { echo "serve.sh: $*" >&2; }
die() { say "$*"; exit 1; }
. "$(dirname "$0")/lib.sh"
bench_need xargs:findutils /usr/bin/python3:python3
ZB=${1:-$BENCH_DIR/../build/zonebox}
[ -x "$ZB" ] || die "no zonebox at $ZB (make)"
DURATION=${DURATION:-60}
CONC=${CONC:-3}
MIX_DURATION=${MIX_DURATION:-$((DURATION / 2))}
t=$(mktemp -d)
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null; rm -rf "$t"; }
trap cleanup EXIT
cat >"$t/serve.yaml" <<YAML
sandbox:
  limits:
    wall_time: 30s
serve:
  workers: 2
  queue: 64
  rate: 0
YAML

# zonebox-* cgroups under the cgroups we run in whose supervisor is dead.
dead_cgroups() {
	local own dir pid
	while IFS=: read -r _ ctrl path; do
		own=/sys/fs/cgroup/${ctrl#name=}$path
		[ -n "$ctrl" ] || own=/sys/fs/cgroup/unified$path
		[ -d "$own" ] || continue
		for dir in "$own"/zonebox-*; do
			[ -d "$dir" ] || continue
			pid=${dir##*/zonebox-}; pid=${pid%%-*}
			[ -d "/proc/$pid" ] || echo "$dir"
		done
	done </proc/self/cgroup | sort -u
}
dead_cgroups >"$t/before"

"$ZB" serve --config "$t/serve.yaml" --socket "$t/sock" 2>"$t/log" &
srv=$!
for _ in $(seq 100); do [ -S "$t/sock" ] && break; sleep 0.05; done
[ -S "$t/sock" ] || die "the server did not start: $(cat "$t/log")"

# Interleaved rounds (the machine's load drifts): each round DURATION/ROUNDS
# seconds of echo runs through the server, then the same number of runs with
# xargs -P2 zonebox run, timed.
ROUNDS=${ROUNDS:-3}
for ((round = 1; round <= ROUNDS; round++)); do
	say "round $round/$ROUNDS: echo runs through zonebox serve for $((DURATION / ROUNDS)) s, $CONC clients, 2 workers"
	"$PY" "$BENCH_DIR/serve_load.py" "$t/sock" "$((DURATION / ROUNDS))" "$CONC" echo "$t/lat$round" >"$t/echo$round"
	n=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["runs"])' "$t/echo$round")
	say "round $round/$ROUNDS: the same $n runs with xargs -P2 zonebox run"
	start=$(date +%s.%N)
	seq "$n" | xargs -P2 -I{} "$ZB" run --config "$t/serve.yaml" -- echo hi >/dev/null
	echo "$(date +%s.%N) - $start" | bc -l >"$t/xargs$round"
done
echo_json=$("$PY" - "$t" "$ROUNDS" <<'PY'
import json, sys
t, rounds = sys.argv[1], int(sys.argv[2])
e = [json.load(open("%s/echo%d" % (t, r))) for r in range(1, rounds + 1)]
lat = sorted(float(x) for r in range(1, rounds + 1) for x in open("%s/lat%d" % (t, r)).read().split())
pct = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))], 1)
runs = sum(x["runs"] for x in e)
secs = sum(x["runs"] / x["runs_per_s"] for x in e)
print(json.dumps({"runs": runs, "errors": sum(x["errors"] for x in e), "first_errors": sum((x["first_errors"] for x in e), [])[:3],
                  "p50_ms": pct(0.5), "p99_ms": pct(0.99), "runs_per_s": round(runs / secs, 2)}))
PY
)
runs=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["runs"])' "$echo_json")
xargs_s=$(cat "$t"/xargs* | paste -sd+ | bc -l)
say "mix (10% timeouts, 10% OOMs): $MIX_DURATION s"
mix_json=$("$PY" "$BENCH_DIR/serve_load.py" "$t/sock" "$MIX_DURATION" "$CONC" mix)
kill -TERM "$srv"
wait "$srv" || die "the server exited with $?"
srv=
sleep 0.5
left_procs=$({ pgrep -f "zonebox-serve --config $t/serve.yaml" || true; } | wc -l)
dead_cgroups | comm -13 "$t/before" - >"$t/after"
left_cgroups=$(wc -l <"$t/after")

"$PY" - "$echo_json" "$mix_json" "$runs" "$xargs_s" "$left_procs" "$left_cgroups" "$(psi_field avg10)" <<'PY'
import json, sys
e, m = json.loads(sys.argv[1]), json.loads(sys.argv[2])
runs, xs = int(sys.argv[3]), float(sys.argv[4])
xr = runs / xs
print("serve echo: runs=%d errors=%d p50=%sms p99=%sms %s runs/s %s" % (e["runs"], e["errors"], e["p50_ms"], e["p99_ms"], e["runs_per_s"], e["first_errors"] or ""))
print("xargs -P2 zonebox run: %d runs in %.1f s = %.2f runs/s" % (runs, xs, xr))
print("serve mix: runs=%d errors=%d p50=%sms p99=%sms %s runs/s %s" % (m["runs"], m["errors"], m["p50_ms"], m["p99_ms"], m["runs_per_s"], m["first_errors"] or ""))
print("leftovers: processes=%s cgroups=%s; cpu pressure avg10 at the end: %s" % (sys.argv[5], sys.argv[6], sys.argv[7]))
print("throughput_ratio=%.3f" % (e["runs_per_s"] / xr))
PY
