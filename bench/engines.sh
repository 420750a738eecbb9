#!/usr/bin/env bash
# Engine benchmark: `/bin/true` started through each backend available here
# (namespace, oci with runc, crun and runsc (gVisor), docker through podman), the same
# policy each time; medians and ratios to the namespace backend. Prints
# markdown (bench/README.md, "Engines"). Needs root; an engine that is
# missing or refuses this host is listed with its reason, not timed.
#
#   RUNS=30 WARMUP=3   hyperfine runs and warm-ups per command
#   SPORADIC_ROUNDS=10 rounds of the sporadic regime (runs 200 ms apart)
#   ZONEBOX=path       binary to measure (default build/zonebox)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZB=${ZONEBOX:-$ROOT/build/zonebox}
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
PY=/usr/bin/python3

say() { printf 'bench: %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { say "run as root"; exit 1; }
command -v hyperfine >/dev/null || { say "hyperfine missing: apt-get install hyperfine"; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

names=() cmds=() skipped=()
try() { # NAME COMMAND...: time it if one run works, else say why not
	local name=$1
	shift
	local out
	if out=$("$@" 2>&1 </dev/null); then
		names+=("$name")
		cmds+=("$*")
	else
		skipped+=("$name: $(printf '%s' "$out" | tail -n1)")
	fi
}
try namespace "$ZB" run -- /bin/true
try oci-runc "$ZB" run --backend oci --runtime runc -- /bin/true
try oci-crun "$ZB" run --backend oci --runtime crun -- /bin/true
try oci-runsc "$ZB" run --backend oci --runtime runsc -- /bin/true
try docker-podman "$ZB" run --backend docker --engine-cli podman --runtime runc -- /bin/true

args=()
for i in "${!names[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
say "timing ${names[*]}: $RUNS runs each"
hyperfine -N --runs "$RUNS" --warmup "$WARMUP" --export-json "$TMP/e.json" "${args[@]}" >&2

sp=()
for i in "${!names[@]}"; do sp+=("${names[$i]}=${cmds[$i]}"); done
say "sporadic: ${SPORADIC_ROUNDS:-10} rounds, 200 ms apart"
"$PY" "$ROOT/bench/sporadic.py" --rounds "${SPORADIC_ROUNDS:-10}" --gap-ms 200 --ref namespace "${sp[@]}" \
	>"$TMP/sporadic.md"

echo "### Engines ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r), zonebox $("$ZB" version | cut -d' ' -f2))"
echo
"$PY" - "$TMP/e.json" <<'PYEOF'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
base = next(r["median"] for r in res if r["command"] == "namespace")
print("| backend | median ms | mean ms | stddev ms | × namespace |")
print("|---|---:|---:|---:|---:|")
for r in res:
    print("| %s | %.1f | %.1f | %.1f | %.1f |" % (r["command"], r["median"] * 1e3, r["mean"] * 1e3,
                                                r["stddev"] * 1e3, r["median"] / base))
PYEOF
echo
for i in "${!names[@]}"; do echo "- ${names[$i]}: \`${cmds[$i]/$ZB/zonebox}\`"; done
for s in "${skipped[@]}"; do echo "- not timed: $s"; done
echo
echo "Sporadic (each run 200 ms after the last, interleaved):"
echo
grep -v '^sporadic ' "$TMP/sporadic.md"
