#!/usr/bin/env bash
# Startup benchmark: how long one `zonebox run -- /bin/true` takes next to the
# floor (/bin/true), unshare(1) with nearly the same namespaces, and bubblewrap with
# the closest equivalent isolation; 2-worker throughput; launcher peak RSS.
# Prints markdown tables (see bench/README.md). `make bench` runs it.
#
# Environment:
#   RUNS=200 WARMUP=20   hyperfine runs and warm-ups per command
#   TP_SECONDS=3         target length of each throughput measurement
#   TP_WORKERS=2         parallel workers (xargs -P) for throughput
#   TP_ROUNDS=2          throughput rounds per command, interleaved
#   RSS_SAMPLES=5        /usr/bin/time samples per launcher (median shown)
#   SPORADIC_ROUNDS=20   rounds of the sporadic regime (runs 200 ms apart)
#   QUIET_WAIT=60        seconds to wait at most for the machine to go quiet
#                        (CPU pressure avg10 < 5%) before timing; 0 skips
#   ZONEBOX=path         binary to measure (default build/zonebox)
#   BASELINE=path        also time this (earlier) binary's default run, as
#                        row zonebox-baseline, in the same hyperfine invocation
#   RESULTS_DIR=dir      also keep hyperfine's JSON and the raw data there
#                        (default: a temporary directory, removed at exit)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZB=${ZONEBOX:-$ROOT/build/zonebox}
RUNS=${RUNS:-200}
WARMUP=${WARMUP:-20}
TP_SECONDS=${TP_SECONDS:-3}
TP_WORKERS=${TP_WORKERS:-2}
TP_ROUNDS=${TP_ROUNDS:-2}
RSS_SAMPLES=${RSS_SAMPLES:-5}
QUIET_WAIT=${QUIET_WAIT:-60}

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

for v in RUNS WARMUP TP_SECONDS TP_WORKERS TP_ROUNDS RSS_SAMPLES QUIET_WAIT; do
	case ${!v} in '' | *[!0-9]*) die "$v must be a whole number, got '${!v}'" ;; esac
done
if [ "$RUNS" -lt 2 ] || [ "$TP_SECONDS" -lt 1 ] || [ "$TP_WORKERS" -lt 1 ] ||
	[ "$TP_ROUNDS" -lt 1 ] || [ "$RSS_SAMPLES" -lt 1 ]; then
	die "RUNS must be >= 2 and TP_SECONDS, TP_WORKERS, TP_ROUNDS, RSS_SAMPLES >= 1"
fi
if [ "$RUNS" -lt 200 ] || [ "$WARMUP" -lt 20 ]; then
	say "note: RUNS=$RUNS WARMUP=$WARMUP is below the reference 200/20; figures are rougher"
fi

# ---------- what this needs ----------
. "$ROOT/bench/lib.sh" # bench_need, BWRAP_FULL, psi_field, wait_quiet, sporadic
bench_need
if [ ! -x "$ZB" ]; then
	[ -n "${ZONEBOX:-}" ] && die "ZONEBOX=$ZB is not executable"
	say "building $ZB"
	make -C "$ROOT" --no-print-directory all >&2 || die "build failed; run make deps && make all"
fi

TMPD=$(mktemp -d "${TMPDIR:-/tmp}/zonebox-bench.XXXXXX")
trap 'rm -rf "$TMPD"' EXIT
cd "$TMPD"
# Time a private copy: a rebuild of build/ during the run must not swap the
# binary under the benchmark (or leave it half-written).
cp "$ZB" "$TMPD/zonebox"
ZB_SRC=$ZB
ZB=$TMPD/zonebox
if [ -n "${BASELINE:-}" ]; then
	[ -x "$BASELINE" ] || die "BASELINE=$BASELINE is not executable"
	cp "$BASELINE" "$TMPD/zonebox-baseline"
fi

# ---------- the commands ----------
# bwrap-full: see bench/lib.sh.
names=(true unshare bwrap-full zonebox zonebox-zones)
cmds=(
	"/bin/true"
	"unshare -Urnmpif --mount-proc /bin/true"
	"$BWRAP_FULL /bin/true"
	"$ZB run -- /bin/true"
	"$ZB run --tmpfs /scratch:size=64m -v /tmp:/input:ro -- /bin/true"
)
if [ -n "${BASELINE:-}" ]; then
	names+=(zonebox-baseline)
	cmds+=("$TMPD/zonebox-baseline run -- /bin/true")
fi

# Each must work here before it is timed (bwrap needs unprivileged user
# namespaces; zonebox the same).
for i in "${!cmds[@]}"; do
	# shellcheck disable=SC2086 # the commands are word lists, as hyperfine -N splits them
	if ! out=$(${cmds[$i]} 2>&1); then
		die "${names[$i]} does not run here: ${cmds[$i]}"$'\n'"$out"
	fi
done

# Other work on the machine skews every figure. CPU pressure (PSI, "some":
# the share of time a runnable task waited for a CPU) hints at it: wait a
# little for it to go, and report it for the latency phase. That phase is
# serial, but the namespace launchers still cause 5-15% themselves (kernel
# workers tearing the namespaces of the previous run down on the other CPU).
wait_quiet "$QUIET_WAIT"

# ---------- 1. latency: one hyperfine invocation, same conditions ----------
say "latency: $RUNS runs after $WARMUP warm-ups each (hyperfine -N)"
hf=(hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$TMPD/startup.json")
for i in "${!cmds[@]}"; do hf+=(-n "${names[$i]}" "${cmds[$i]}"); done
psi0=$(psi_field total) t0=$(date +%s%N)
"${hf[@]}" >&2
psi1=$(psi_field total) t1=$(date +%s%N)
if [ "$psi0" = - ]; then
	pressure="unknown (no /proc/pressure/cpu)"
else # total is in microseconds
	pressure=$(awk -v a="$psi0" -v b="$psi1" -v t="$((t1 - t0))" 'BEGIN { printf "%.1f%%", (b - a) * 1e5 / t }')
fi

median_ms() { # name -> hyperfine median in ms
	"$PY" -c 'import json,sys
for r in json.load(open(sys.argv[1]))["results"]:
    if r["command"] == sys.argv[2]: print(r["median"] * 1e3)' "$TMPD/startup.json" "$1"
}

# ---------- 1b. latency, sporadic: each run on its own, 200 ms apart ----------
say "sporadic: ${SPORADIC_ROUNDS:-20} rounds, 200 ms apart, interleaved"
sp=()
for i in "${!cmds[@]}"; do sp+=("${names[$i]}=${cmds[$i]}"); done
sporadic --rounds "${SPORADIC_ROUNDS:-20}" --gap-ms 200 --ref bwrap-full --json "$TMPD/sporadic.json" \
	"${sp[@]}" >"$TMPD/sporadic.md"

# ---------- 2. throughput: TP_WORKERS in parallel over a fixed count ----------
# Each command's count is sized by a short pilot (about half a second, also a
# warm-up) so that one measurement takes about TP_SECONDS; every round uses
# the same count, and rounds alternate between the commands.
now_ns() { date +%s%N; }
tp_names=(true bwrap-full zonebox)
tp_cmds=("/bin/true" "$BWRAP_FULL /bin/true" "$ZB run -- /bin/true")
tp_burst() { # command count -> elapsed ns
	local t0 t1 rc=0
	t0=$(now_ns)
	# shellcheck disable=SC2086 # a word list, as above
	seq "$2" | xargs -P "$TP_WORKERS" -I{} $1 >/dev/null || rc=$?
	t1=$(now_ns)
	[ "$rc" -eq 0 ] || die "throughput: '$1' failed (xargs exit $rc)"
	echo $((t1 - t0))
}
declare -A tp_n
for i in "${!tp_cmds[@]}"; do
	med=$(median_ms "${tp_names[$i]}")
	pilot=$("$PY" -c 'import sys; print(max(20, round(500 / float(sys.argv[1]))))' "$med")
	ns=$(tp_burst "${tp_cmds[$i]}" "$pilot")
	tp_n[$i]=$("$PY" -c 'import sys; print(max(50, round(int(sys.argv[1]) * int(sys.argv[2]) * 1e9 / int(sys.argv[3]))))' \
		"$TP_SECONDS" "$pilot" "$ns")
done
: >"$TMPD/throughput.tsv"
for ((round = 1; round <= TP_ROUNDS; round++)); do
	for i in "${!tp_cmds[@]}"; do
		sleep 1 # let the kernel finish tearing down the last batch's namespaces
		say "throughput round $round: ${tp_names[$i]} x ${tp_n[$i]}, $TP_WORKERS workers"
		ns=$(tp_burst "${tp_cmds[$i]}" "${tp_n[$i]}")
		printf '%s\t%s\t%s\t%s\n' "${tp_names[$i]}" "$round" "${tp_n[$i]}" "$ns" >>"$TMPD/throughput.tsv"
	done
done

# ---------- 3. peak RSS ----------
# (a) GNU time's %M: the peak RSS of the largest single process in the
#     launcher's tree (the launcher and everything it reaped), /bin/true.
# (b) per process, while the command sleeps: VmHWM (peak RSS) of the
#     launcher (supervisor) and of its child, the sandbox's PID 1.
: >"$TMPD/rss.tsv"
rss_names=(zonebox bwrap-full)
rss_cmds=("$ZB run --" "$BWRAP_FULL")
children_of() { # pid -> its children's pids (no procps needed)
	local parent=$1 f s
	for f in /proc/[0-9]*/stat; do
		{ read -r s <"$f"; } 2>/dev/null || continue
		s=${s##*) } # past "pid (comm) ": state, ppid, ...
		s=${s#* }
		[ "${s%% *}" = "$parent" ] && { f=${f#/proc/}; echo "${f%/stat}"; }
	done
	return 0
}
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
for i in "${!rss_cmds[@]}"; do
	for ((k = 1; k <= RSS_SAMPLES; k++)); do
		# shellcheck disable=SC2086
		/usr/bin/time -o "$TMPD/time.out" -f %M ${rss_cmds[$i]} /bin/true
		printf '%s\ttime\t%s\n' "${rss_names[$i]}" "$(tail -n1 "$TMPD/time.out")" >>"$TMPD/rss.tsv"
	done
	# shellcheck disable=SC2086
	${rss_cmds[$i]} /bin/sleep 1 &
	sup=$!
	sleep 0.5
	kid=$(children_of "$sup" | head -n1)
	printf '%s\tsupervisor\t%s\n' "${rss_names[$i]}" "$(hwm_kb "$sup")" >>"$TMPD/rss.tsv"
	printf '%s\tpid1\t%s\n' "${rss_names[$i]}" "$(hwm_kb "${kid:-none}")" >>"$TMPD/rss.tsv"
	wait "$sup"
done

if [ -n "${RESULTS_DIR:-}" ]; then
	mkdir -p "$RESULTS_DIR"
	cp "$TMPD/startup.json" "$TMPD/sporadic.json" "$TMPD/throughput.tsv" "$TMPD/rss.tsv" "$RESULTS_DIR/"
	say "raw results kept in $RESULTS_DIR"
fi

# ---------- report ----------
{
	echo "kernel $(uname -r), $(nproc) CPUs, $(hyperfine --version), $(bwrap --version), $("$ZB" version) ($ZB_SRC, sha256 $(sha256sum <"$ZB" | cut -c1-12))"
	echo "$(date -u +%Y-%m-%dT%H:%MZ); RUNS=$RUNS WARMUP=$WARMUP TP_WORKERS=$TP_WORKERS TP_ROUNDS=$TP_ROUNDS"
	echo "CPU pressure (PSI some) during the latency runs: $pressure — the namespace launchers cause 5-15% themselves (kernel workers tearing namespaces down); much more means other load: rerun"
} >"$TMPD/meta.txt"
for i in "${!cmds[@]}"; do printf '%s\t%s\n' "${names[$i]}" "${cmds[$i]/#$ZB/zonebox}"; done >"$TMPD/cmds.tsv"

"$PY" - "$TMPD" "$TP_WORKERS" <<'EOF'
import json, statistics, sys
d, workers = sys.argv[1], int(sys.argv[2])
res = {r["command"]: r for r in json.load(open(f"{d}/startup.json"))["results"]}
cmds = [l.rstrip("\n").split("\t") for l in open(f"{d}/cmds.tsv")]
ms = lambda s: s * 1e3
ref = res["bwrap-full"]["median"]

print()
print(open(f"{d}/meta.txt").read().rstrip())
print()
print("### Latency (hyperfine -N, one invocation)")
print()
print("| command | median ms | mean ms | stddev ms | user+sys ms | median / bwrap-full |")
print("|---|---:|---:|---:|---:|---:|")
for name, _ in cmds:
    r = res[name]
    print(f"| {name} | {ms(r['median']):.2f} | {ms(r['mean']):.2f} | {ms(r['stddev']):.2f} | "
          f"{ms(r['user'] + r['system']):.2f} | {r['median'] / ref:.2f} |")
print()
for name, cmd in cmds:
    print(f"- {name}: `{cmd}`")
ratio = res["zonebox"]["median"] / ref
verdict = "PASS" if ratio <= 0.8 else "FAIL"
print()
print("user+sys is the CPU time of what the launcher waited for: bwrap's excludes its PID-1 helper and "
      "the command (bwrap exits without reaping its PID 1), zonebox's includes its init and the command.")
print()
print(f"Target zonebox default ≤ 0.8 × bwrap-full (median): {verdict} — "
      f"{ms(res['zonebox']['median']):.2f} ms vs {ms(ref):.2f} ms, ratio {ratio:.2f}.")
print()
print("### Latency, sporadic (each run 200 ms after the last, interleaved)")
print()
print("\n".join(l for l in open(f"{d}/sporadic.md").read().strip().splitlines()
                if not l.startswith("sporadic ")))

tp = {}
for line in open(f"{d}/throughput.tsv"):
    name, rnd, n, ns = line.split("\t")
    tp.setdefault(name, []).append(int(n) / (int(ns) / 1e9))
tref = statistics.mean(tp["bwrap-full"])
print()
print(f"### Throughput ({workers} parallel workers, xargs -P{workers})")
print()
print(f"| command | runs/s per round | mean runs/s | vs bwrap-full | {workers} workers vs one serial stream (1 / median) |")
print("|---|---|---:|---:|---:|")
for name, rates in tp.items():
    m = statistics.mean(rates)
    serial = 1.0 / res[name]["median"]
    print(f"| {name} | {', '.join(f'{x:.0f}' for x in rates)} | {m:.0f} | {m / tref:.2f} | {m / serial:.2f}x |")

rss = {}
for line in open(f"{d}/rss.tsv"):
    name, kind, kb = line.rstrip("\n").split("\t")
    rss.setdefault(name, {}).setdefault(kind, []).append(int(kb))
print()
print("### Peak RSS (MB)")
print()
print("| launcher | /usr/bin/time %M, whole tree (median) | supervisor VmHWM | sandbox PID 1 VmHWM |")
print("|---|---:|---:|---:|")
for name, k in rss.items():
    print(f"| {name} | {statistics.median(k['time']) / 1024:.1f} | {k['supervisor'][0] / 1024:.1f} | "
          f"{k['pid1'][0] / 1024:.1f} |")
EOF
