#!/usr/bin/env bash
# Layer benchmark: what cgroups, seccomp and Landlock add to one sandbox's
# startup, and how long after a wall-time deadline the sandbox is gone. Prints markdown
# (see bench/README.md, "Limits"). `make bench` runs it after startup.sh.
#
# Environment:
#   RUNS=200 WARMUP=20   hyperfine runs and warm-ups per command
#   KILL_RUNS=60         runs for the kill-latency medians
#   SPORADIC_ROUNDS=20   rounds of the sporadic regime (runs 200 ms apart)
#   ZONEBOX=path         binary to measure (default build/zonebox)
# Needs root (the sandbox's cgroups are made under zonebox's own cgroup) and
# hyperfine (apt-get install hyperfine).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZB=${ZONEBOX:-$ROOT/build/zonebox}
RUNS=${RUNS:-200}
WARMUP=${WARMUP:-20}
KILL_RUNS=${KILL_RUNS:-60}
PY=/usr/bin/python3

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

for v in RUNS WARMUP KILL_RUNS; do
	case ${!v} in '' | *[!0-9]*) die "$v must be a whole number, got '${!v}'" ;; esac
done
[ "$(id -u)" -eq 0 ] || die "run as root: an ordinary user needs a delegated cgroup (--cgroup-parent)"
command -v hyperfine >/dev/null || die "hyperfine missing: apt-get install hyperfine"
[ -x "$ZB" ] || die "no zonebox binary at $ZB (make all)"
"$ZB" run -- /bin/true || die "zonebox run -- /bin/true failed"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

say "latency: $RUNS runs each"
hyperfine -N --runs "$RUNS" --warmup "$WARMUP" --export-json "$TMP/lat.json" \
	-n no-cgroup "$ZB run --memory unlimited --pids-limit unlimited -- /bin/true" \
	-n default "$ZB run -- /bin/true" \
	-n all-limits "$ZB run --memory 100m --pids-limit 64 --cpus 1 --cpu-time 10s -- /bin/true" \
	-n no-seccomp-no-landlock "$ZB run --seccomp unconfined --landlock false -- /bin/true" \
	-n no-landlock "$ZB run --landlock false -- /bin/true" \
	-n seccomp-compiled-per-run "$ZB run --seccomp-deny acct -- /bin/true" \
	>&2

say "sporadic: ${SPORADIC_ROUNDS:-20} rounds, 200 ms apart"
"$PY" "$ROOT/bench/sporadic.py" --rounds "${SPORADIC_ROUNDS:-20}" --gap-ms 200 --ref no-cgroup \
	"no-cgroup=$ZB run --memory unlimited --pids-limit unlimited -- /bin/true" \
	"default=$ZB run -- /bin/true" \
	"memory-only=$ZB run --pids-limit unlimited -- /bin/true" \
	"pids-only=$ZB run --memory unlimited -- /bin/true" \
	"all-limits=$ZB run --memory 100m --pids-limit 64 --cpus 1 --cpu-time 10s -- /bin/true" \
	"no-seccomp-no-landlock=$ZB run --seccomp unconfined --landlock false -- /bin/true" \
	>"$TMP/sporadic.md"

say "kill latency: $KILL_RUNS runs each"
"$PY" - "$ZB" "$KILL_RUNS" >"$TMP/kill.md" <<'EOF'
import json, statistics, subprocess, sys, time
zb, n = sys.argv[1], int(sys.argv[2])

def timed(args):
    t0 = time.monotonic()
    p = subprocess.run([zb, "run", "--json"] + args, capture_output=True, text=True, timeout=30)
    return (time.monotonic() - t0) * 1e3, json.loads(p.stdout)

rows = {"natural": [], "timeout": [], "timeout_wall": [], "timeout_fork": []}
for _ in range(n):
    # The command ends by itself 100 ms after exec...
    t, r = timed(["--", "/bin/sleep", "0.1"])
    assert r["status"] == "exited", r
    rows["natural"].append(t)
    # ...or the 100 ms deadline kills it.
    t, r = timed(["--timeout", "100ms", "--", "/bin/sleep", "10"])
    assert r["status"] == "timeout", r
    rows["timeout"].append(t)
    rows["timeout_wall"].append(r["wall_ms"])
    # The same with 50 processes to kill.
    t, r = timed(["--timeout", "100ms", "--", "/bin/sh", "-c",
                  "for i in $(seq 50); do sleep 10 & done; wait"])
    assert r["status"] == "timeout", r
    rows["timeout_fork"].append(t)
med = {k: statistics.median(v) for k, v in rows.items()}
print("| measure | median ms |")
print("|---|---:|")
print("| `zonebox run -- sleep 0.1`, whole invocation | %.2f |" % med["natural"])
print("| `zonebox run --timeout 100ms -- sleep 10`, whole invocation | %.2f |" % med["timeout"])
print("| its `wall_ms` (exec to kill) | %.2f |" % med["timeout_wall"])
print("| **deadline → zonebox exited** (invocation − natural run) | **%.2f** |" % (med["timeout"] - med["natural"]))
print("| the same with 50 sleeping processes in the sandbox | %.2f |" % (med["timeout_fork"] - med["natural"]))
EOF

echo "### Limits ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r), zonebox $("$ZB" version | cut -d' ' -f2))"
echo
"$PY" - "$TMP/lat.json" <<'EOF'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
base = res["no-cgroup"]["median"]
dflt = res["default"]["median"]
print("| command | median ms | mean ms | stddev ms | vs no-cgroup | vs default |")
print("|---|---:|---:|---:|---:|---:|")
for name, r in res.items():
    print("| %s | %.2f | %.2f | %.2f | %+.2f ms | %+.2f ms |" % (
        name, r["median"] * 1e3, r["mean"] * 1e3, r["stddev"] * 1e3,
        (r["median"] - base) * 1e3, (r["median"] - dflt) * 1e3))
EOF
echo
echo "- no-cgroup: \`zonebox run --memory unlimited --pids-limit unlimited -- /bin/true\`"
echo "- default: \`zonebox run -- /bin/true\` (memory 512m + pids 256: memory, pids and v2 cgroups)"
echo "- all-limits: \`zonebox run --memory 100m --pids-limit 64 --cpus 1 --cpu-time 10s -- /bin/true\`"
echo "- no-seccomp-no-landlock: \`--seccomp unconfined --landlock false\` (both layers off)"
echo "- no-landlock: \`--landlock false\` (seccomp's default program, precompiled at build time)"
echo "- seccomp-compiled-per-run: \`--seccomp-deny acct\` (a deny list forces libseccomp to build the program in the run)"
echo
echo "Back to back above (hyperfine); the same layers started one at a time, 200 ms apart"
echo "(memory-only: \`--pids-limit unlimited\`, pids-only: \`--memory unlimited\`):"
echo
grep -v '^sporadic ' "$TMP/sporadic.md"
echo
cat "$TMP/kill.md"
