#!/usr/bin/env bash
# wasm backend startup (issue 18): a hello module on the wasm backend (node's
# node:wasi inside the namespace sandbox) against `zonebox run` of a native
# hello on the namespace backend, and node + the module with no sandbox at
# all (what node:wasi costs alone), in one hyperfine invocation. Prints a
# markdown table of medians (see bench/README.md, "wasm backend").
#
# Environment:
#   RUNS=30 WARMUP=3   hyperfine runs and warm-ups per command
#   QUIET_WAIT=60      seconds to wait at most for CPU pressure avg10 < 5%
#   ZONEBOX=path       binary to measure (default build/zonebox)
# Needs root (cgroups under zonebox's own), hyperfine, node, and the test
# modules (make wasm-modules).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZB=${ZONEBOX:-$ROOT/build/zonebox}
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
QUIET_WAIT=${QUIET_WAIT:-60}
MOD=$(dirname "$ZB")/wasm/hello.wasm

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
for v in RUNS WARMUP QUIET_WAIT; do
	case ${!v} in '' | *[!0-9]*) die "$v must be a whole number, got '${!v}'" ;; esac
done
[ "$(id -u)" -eq 0 ] || die "run as root: an ordinary user needs a delegated cgroup (--cgroup-parent)"
. "$ROOT/bench/lib.sh" # bench_need, psi_field, wait_quiet
bench_need hyperfine:hyperfine
command -v node >/dev/null || die "node missing: apt-get install nodejs"
[ -x "$ZB" ] || die "no zonebox binary at $ZB (make all)"
[ -f "$MOD" ] || die "no test module at $MOD (make wasm-modules)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/zonebox-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
chmod 755 "$TMP"
cp "$MOD" "$TMP/hello.wasm"
chmod 644 "$TMP/hello.wasm"
cat >"$TMP/bare.js" <<'JS'
const { WASI } = require('node:wasi'); const fs = require('node:fs');
const w = new WASI({ version: 'preview1', args: ['hello'], env: {}, returnOnExit: true });
const i = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(process.argv[2])), w.getImportObject());
process.exitCode = w.start(i);
JS

wait_quiet "$QUIET_WAIT"
psi0=$(psi_field avg10)
hyperfine -N --runs "$RUNS" --warmup "$WARMUP" --export-json "$TMP/h.json" --style none \
	-n native-namespace "$ZB run -- /bin/echo hello" \
	-n wasm-node "$ZB run --backend wasm --wasm-runtime node -v $TMP:/m:ro -- /m/hello.wasm" \
	-n node-bare "node --no-warnings $TMP/bare.js $TMP/hello.wasm" >/dev/null
psi1=$(psi_field avg10)

/usr/bin/python3 - "$TMP/h.json" "$psi0" "$psi1" "$RUNS" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
base = res["native-namespace"]["median"]
print("| command | median ms | min ms | max ms | vs native |")
print("|---|---|---|---|---|")
for name in ("native-namespace", "wasm-node", "node-bare"):
    r = res[name]
    print("| %s | %.1f | %.1f | %.1f | %.1fx |" % (name, r["median"] * 1e3, r["min"] * 1e3, r["max"] * 1e3,
                                                r["median"] / base))
print()
print("%s runs each; CPU pressure avg10 before %s%%, after %s%%" % (sys.argv[4], sys.argv[2], sys.argv[3]))
PY
