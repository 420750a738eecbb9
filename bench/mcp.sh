#!/usr/bin/env bash
# MCP latency: a `run` of /bin/true through `zonebox mcp` (the official SDK
# client's callTool round trip) against `zonebox run -- /bin/true` spawned
# from the same Node process, interleaved; medians and the median of the
# paired differences, as markdown (bench/README.md, "MCP"). Not part of
# `make bench`; needs root, node and npm (the SDK is installed as the tests
# install it: tests/mcp/package-lock.json, npm ci into ~/.cache/zonebox).
#   RUNS=200 bench/mcp.sh      ZONEBOX=path for another binary
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZB=${ZONEBOX:-$ROOT/build/zonebox}
RUNS=${RUNS:-200}
case $RUNS in '' | *[!0-9]*) echo "bench: RUNS must be a whole number" >&2; exit 1 ;; esac
command -v node >/dev/null && command -v npm >/dev/null || { echo "bench: node and npm needed (apt-get install nodejs npm)" >&2; exit 1; }
[ -x "$ZB" ] || { echo "bench: no zonebox binary at $ZB (make all)" >&2; exit 1; }
lock=$ROOT/tests/mcp/package-lock.json
dir=${XDG_CACHE_HOME:-$HOME/.cache}/zonebox/mcp-client-$(sha256sum "$lock" | cut -c1-12)
if [ ! -d "$dir/node_modules/@modelcontextprotocol/sdk" ]; then
	mkdir -p "$dir" && cp "$ROOT/tests/mcp/package.json" "$lock" "$dir/"
	(cd "$dir" && npm ci --silent --no-audit --no-fund --prefer-offline)
fi
cp "$ROOT/bench/mcp.mjs" "$dir/"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
printf 'sandbox:\n  network: none\n' >"$TMP/cfg.yaml"
out=$(cd "$dir" && node mcp.mjs "$ZB" "$TMP/cfg.yaml" "$RUNS")
/usr/bin/python3 - "$out" "$(date -u +%FT%H:%MZ)" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print("`RUNS=%d bench/mcp.sh`, %s, load average %s at the start:\n" % (r["runs"], sys.argv[2], sys.argv[3]))
print("| /bin/true | median |")
print("|---|---|")
print("| `run` tool through `zonebox mcp` (SDK callTool) | %.2f ms |" % r["mcp_median_ms"])
print("| `zonebox run` spawned from the same process | %.2f ms |" % r["run_median_ms"])
print("| MCP minus run, median of the paired differences | %+.2f ms |" % r["paired_diff_median_ms"])
PY
