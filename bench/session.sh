#!/usr/bin/env bash
# Session benchmark: one command in a live session (`zonebox session exec`)
# against the same command in a fresh sandbox (`zonebox run`), medians from
# hyperfine in the same invocation, ratios printed. Also the in-daemon time
# (the exec's own wall_ms) and a 20-command agent loop both ways. Prints
# markdown (see bench/README.md, "Sessions").
#
# Environment:
#   RUNS=200 WARMUP=20   hyperfine runs and warm-ups per command
#   LOOP=20              commands in the agent-loop comparison
#   SPORADIC_ROUNDS=20   rounds of the sporadic regime (runs 200 ms apart)
#   ZONEBOX=path         binary to measure (default build/zonebox)
# Needs root (cgroups under zonebox's own) and hyperfine.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZB=${ZONEBOX:-$ROOT/build/zonebox}
RUNS=${RUNS:-200}
WARMUP=${WARMUP:-20}
LOOP=${LOOP:-20}
PY=/usr/bin/python3

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

for v in RUNS WARMUP LOOP; do
	case ${!v} in '' | *[!0-9]*) die "$v must be a whole number, got '${!v}'" ;; esac
done
[ "$(id -u)" -eq 0 ] || die "run as root: an ordinary user needs a delegated cgroup (--cgroup-parent)"
command -v hyperfine >/dev/null || die "hyperfine missing: apt-get install hyperfine"
[ -x "$ZB" ] || die "no zonebox binary at $ZB (make all)"

TMP=$(mktemp -d)
chmod 700 "$TMP"
export ZONEBOX_RUNTIME_DIR=$TMP/sessions
ID=
cleanup() {
	[ -n "$ID" ] && "$ZB" session stop "$ID" >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT

ID=$("$ZB" session start --tmpfs /scratch)
"$ZB" session exec "$ID" -- /bin/true || die "session exec failed"

say "latency: $RUNS runs each"
hyperfine -N --runs "$RUNS" --warmup "$WARMUP" --export-json "$TMP/lat.json" \
	-n session-exec "$ZB session exec $ID -- /bin/true" \
	-n fresh-run "$ZB run --tmpfs /scratch -- /bin/true" \
	-n session-exec-sh "$ZB session exec $ID -- /bin/sh -c 'echo x > /scratch/f'" \
	-n fresh-run-sh "$ZB run --tmpfs /scratch -- /bin/sh -c 'echo x > /scratch/f'" \
	>&2

say "sporadic: ${SPORADIC_ROUNDS:-20} rounds, 200 ms apart"
"$PY" "$ROOT/bench/sporadic.py" --rounds "${SPORADIC_ROUNDS:-20}" --gap-ms 200 --ref fresh-run \
	"session-exec=$ZB session exec $ID -- /bin/true" \
	"fresh-run=$ZB run --tmpfs /scratch -- /bin/true" >"$TMP/sporadic.md"

say "agent loop and in-daemon time"
"$PY" - "$ZB" "$ID" "$LOOP" "$RUNS" >"$TMP/loop.md" <<'PYEOF'
import json, statistics, subprocess, sys, time
zb, sid, loop, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def timed(argv):
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p
    return (time.monotonic() - t0) * 1e3, p.stdout

walls = []
for _ in range(runs):
    _, out = timed([zb, "session", "exec", "--json", sid, "--", "/bin/true"])
    walls.append(json.loads(out)["wall_ms"])

def agent(kind):
    t0 = time.monotonic()
    for i in range(loop):
        cmd = ["/bin/sh", "-c", "echo %d >> /scratch/log" % i]
        if kind == "session":
            timed([zb, "session", "exec", sid, "--"] + cmd)
        else:
            timed([zb, "run", "--tmpfs", "/scratch", "--"] + cmd)
    return (time.monotonic() - t0) * 1e3

s = statistics.median(agent("session") for _ in range(5))
r = statistics.median(agent("run") for _ in range(5))
print("| exec wall_ms (execve to exit, as the daemon measures it) | %.2f ms |" % statistics.median(walls))
print("| %d-command agent loop, session | %.1f ms |" % (loop, s))
print("| %d-command agent loop, fresh runs | %.1f ms (%.2fx the session) |" % (loop, r, r / s))
PYEOF

"$PY" - "$TMP/lat.json" <<'PYEOF'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
med = lambda n: res[n]["median"] * 1e3
print("| command | median | mean ± sd | vs fresh run |")
print("|---|---|---|---|")
for a, b in (("session-exec", "fresh-run"), ("session-exec-sh", "fresh-run-sh")):
    for n in (a, b):
        r = res[n]
        print("| %s | %.2f ms | %.2f ± %.2f ms | %s |" % (n, med(n), r["mean"] * 1e3, r["stddev"] * 1e3,
              "%.2fx" % (med(a) / med(b)) if n == a else ""))
PYEOF
echo
echo "Sporadic (each command 200 ms after the last, interleaved):"
echo
grep -v '^sporadic ' "$TMP/sporadic.md"
echo
echo "| in the session | |"
echo "|---|---|"
cat "$TMP/loop.md"
say "done"
