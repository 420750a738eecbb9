#!/usr/bin/env bash
# network.allow benchmark: what the proxy outside the sandbox costs. Against a
# local HTTP server on the host's loopback (never the internet):
#   1. startup: zonebox run -- /bin/true with and without an allowlist
#      (the proxy is forked, readied and stopped in every run);
#   2. a download of SIZE_MB MiB inside the sandbox, through the proxy
#      (--net-allow) and directly (--network host), hyperfine medians;
#   3. connection setup: REQS small requests in one sandbox, each on a new
#      connection, through the proxy (plain HTTP and CONNECT) and directly;
#      median and p90 per request.
# Prints markdown (bench/README.md, "Network allowlist proxy").
#
# Environment:
#   RUNS=10 WARMUP=2   hyperfine runs and warm-ups for 1 and 2 (1 uses 10x)
#   SPORADIC_ROUNDS=20 rounds of the sporadic startup regime (runs 200 ms apart)
#   SIZE_MB=64         download size
#   REQS=300           requests for 3
#   ZONEBOX=path       binary to measure (default build/zonebox)
# Needs root and hyperfine (apt-get install hyperfine), curl and python3.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZB=${ZONEBOX:-$ROOT/build/zonebox}
RUNS=${RUNS:-10}
WARMUP=${WARMUP:-2}
SIZE_MB=${SIZE_MB:-64}
REQS=${REQS:-300}
PY=/usr/bin/python3

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

for v in RUNS WARMUP SIZE_MB REQS; do
	case ${!v} in '' | *[!0-9]*) die "$v must be a whole number, got '${!v}'" ;; esac
done
[ "$(id -u)" -eq 0 ] || die "run as root"
command -v hyperfine >/dev/null || die "hyperfine missing: apt-get install hyperfine"
[ -x /usr/bin/curl ] || die "curl missing: apt-get install curl"
[ -x "$ZB" ] || die "no zonebox binary at $ZB (make all)"

TMP=$(mktemp -d)
chmod 755 "$TMP"
SERVER_PID=
cleanup() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

mkdir "$TMP/www"
head -c "$((SIZE_MB << 20))" /dev/urandom >"$TMP/www/file"
echo small >"$TMP/www/small"
chmod -R a+rX "$TMP/www"

# A threaded HTTP/1.0 server on an ephemeral port of the host's loopback.
"$PY" - "$TMP/www" "$TMP/port" <<'EOF' &
import functools, http.server, sys
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
h.func.log_message = lambda *a: None
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
open(sys.argv[2] + ".tmp", "w").write(str(s.server_address[1]))
__import__("os").rename(sys.argv[2] + ".tmp", sys.argv[2])
s.serve_forever()
EOF
SERVER_PID=$!
for _ in $(seq 100); do [ -f "$TMP/port" ] && break; sleep 0.05; done
PORT=$(cat "$TMP/port")
ALLOW=(--net-allow "bench.test:$PORT" --add-host bench.test:127.0.0.1)

"$ZB" run "${ALLOW[@]}" -- curl -sSf -o /dev/null "http://bench.test:$PORT/small" ||
	die "a download through the proxy failed"

say "startup: $((RUNS * 10)) runs each"
hyperfine -N --runs "$((RUNS * 10))" --warmup "$WARMUP" --export-json "$TMP/start.json" \
	-n none "$ZB run -- /bin/true" \
	-n allowlist "$ZB run --net-allow bench.test:$PORT -- /bin/true" >&2

say "startup, sporadic: ${SPORADIC_ROUNDS:-20} rounds, 200 ms apart"
"$PY" "$ROOT/bench/sporadic.py" --rounds "${SPORADIC_ROUNDS:-20}" --gap-ms 200 --ref none \
	"none=$ZB run -- /bin/true" "allowlist=$ZB run --net-allow bench.test:$PORT -- /bin/true" \
	>"$TMP/sporadic.md"

say "download ${SIZE_MB} MiB: $RUNS runs each"
hyperfine -N --runs "$RUNS" --warmup "$WARMUP" --export-json "$TMP/dl.json" \
	-n host-direct "$ZB run --network host -- curl -sSf --noproxy * -o /dev/null http://127.0.0.1:$PORT/file" \
	-n proxy-http "$ZB run ${ALLOW[*]} -- curl -sSf -o /dev/null http://bench.test:$PORT/file" \
	-n proxy-connect "$ZB run ${ALLOW[*]} -- curl -sSf -p -o /dev/null http://bench.test:$PORT/file" \
	>&2

say "connection setup: $REQS requests each"
cat >"$TMP/www/reqs.py" <<'EOF'
import http.client, json, statistics, sys, time
mode, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lat = []
for _ in range(n + 10):
    t0 = time.perf_counter()
    if mode == "direct":
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/small")
    elif mode == "proxy-http":
        c = http.client.HTTPConnection("127.0.0.1", 3128, timeout=10)
        c.request("GET", "http://bench.test:%d/small" % port)
    else:
        c = http.client.HTTPConnection("127.0.0.1", 3128, timeout=10)
        c.set_tunnel("bench.test", port)
        c.request("GET", "/small")
    assert c.getresponse().read() == b"small\n"
    c.close()
    lat.append((time.perf_counter() - t0) * 1e3)
lat = sorted(lat[10:])
print(json.dumps({"median": statistics.median(lat), "p90": lat[int(len(lat) * 0.9)]}))
EOF
chmod 644 "$TMP/www/reqs.py"
REQ=()
for m in direct proxy-http proxy-connect; do
	if [ "$m" = direct ]; then net=(--network host); else net=("${ALLOW[@]}"); fi
	REQ+=("$m $("$ZB" run "${net[@]}" -v "$TMP/www:/w:ro" -- python3 /w/reqs.py "$m" "$PORT" "$REQS")")
done

"$PY" - "$TMP" "$SIZE_MB" "$REQS" "${REQ[@]}" <<'EOF'
import json, os, platform, statistics, subprocess, sys, time
tmp, size_mb, reqs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def med(f):
    res = json.load(open(os.path.join(tmp, f)))["results"]
    return {r["command"]: r for r in res}
start, dl = med("start.json"), med("dl.json")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print("Measured %s on %s (%d CPUs, %s), Linux %s, %s." % (
    time.strftime("%Y-%m-%d"), platform.node(), os.cpu_count(), cpu, platform.release(),
    subprocess.run(["hyperfine", "--version"], capture_output=True, text=True).stdout.strip()))
print()
print("| startup (`zonebox run -- /bin/true`) | median | mean ± sd |")
print("|---|---|---|")
for k in ("none", "allowlist"):
    r = start[k]
    print("| %s | %.2f ms | %.2f ± %.2f ms |" % (k, r["median"] * 1e3, r["mean"] * 1e3, r["stddev"] * 1e3))
print()
print("Startup, sporadic (each run 200 ms after the last, interleaved):")
print()
print("\n".join(l for l in open(os.path.join(tmp, "sporadic.md")).read().strip().splitlines()
                if not l.startswith("sporadic ")))
print()
print("| %d MiB download inside the sandbox (curl, whole run) | median | throughput |" % size_mb)
print("|---|---|---|")
for k, label in (("host-direct", "`--network host`, direct"), ("proxy-http", "through the proxy, plain HTTP"),
                 ("proxy-connect", "through the proxy, CONNECT (`curl -p`)")):
    r = dl[k]
    print("| %s | %.1f ms | %.0f MiB/s |" % (label, r["median"] * 1e3, size_mb / r["median"]))
print()
print("| %d requests, a new connection each (python http.client) | median | p90 |" % reqs)
print("|---|---|---|")
for line in sys.argv[4:]:
    mode, j = line.split(" ", 1)
    j = json.loads(j)
    print("| %s | %.3f ms | %.3f ms |" % (mode, j["median"], j["p90"]))
EOF
