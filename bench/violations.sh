#!/usr/bin/env bash
# The cost of violation reporting (issue 16), before/after: two zonebox
# binaries, NEW (with it) and OLD (without), interleaved so that the load of
# the moment falls on both alike.
#   1. `run -- /bin/true` back to back (bench/alternate.py: 400 runs each);
#   2. sporadic (bench/sporadic.py): /bin/true, a gcc compile and CPython's
#      test_json inside the default sandbox, with the whole tree's CPU time:
#      NEW, OLD, and NEW with every source off ("off":
#      ZONEBOX_TEST_NO_NOTIFY=1 --network loopback, so no listener and no
#      resolver), which isolates the sources from whatever else differs
#      between the two binaries;
#   3. a hammer: 2000 refused proxy CONNECTs to 50 distinct hosts (NEW only):
#      the verdict keeps one entry per host:port up to the proxy's table of
#      32, counts the rest, and comes on time.
# Usage: bench/violations.sh NEW OLD   (ROUNDS=10 by default for 2.)
set -euo pipefail
say() { printf '%s\n' "$*"; }
die() { say "violations.sh: $*" >&2; exit 1; }
. "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || die "usage: bench/violations.sh NEW OLD"
NEW=$(readlink -f "$1") OLD=$(readlink -f "$2")
ROUNDS=${ROUNDS:-10}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"

say "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
say "## run -- /bin/true, back to back, interleaved"
$PY "$BENCH_DIR/alternate.py" "$NEW" "$OLD"

cat > "$tmp/x.c" <<'C'
#include <stdio.h>
int main(void) { for (int i = 0; i < 3; i++) printf("%d\n", i * i); return 0; }
C
CC="-v $tmp:/src:ro -- gcc -O2 -o /tmp/x /src/x.c"
OFF="ZONEBOX_TEST_NO_NOTIFY=1 $NEW run --network loopback"
cmds=("new_true=$NEW run -- /bin/true" "old_true=$OLD run -- /bin/true" "off_true=$OFF -- /bin/true"
	"new_gcc=$NEW run $CC" "old_gcc=$OLD run $CC" "off_gcc=$OFF $CC")
if /usr/bin/python3 -c 'import test.test_json' 2>/dev/null; then
	cmds+=("new_test_json=$NEW run -- /usr/bin/python3 -m test -q test_json"
		"old_test_json=$OLD run -- /usr/bin/python3 -m test -q test_json"
		"off_test_json=$OFF -- /usr/bin/python3 -m test -q test_json")
else
	say "skipped: test_json: Debian's libpython3-testsuite is not installed (apt-get install libpython3.11-testsuite)"
fi
say "## sporadic, $ROUNDS rounds"
$PY "$BENCH_DIR/sporadic.py" --rounds "$ROUNDS" "${cmds[@]}"

say "## hammer: 2000 refused CONNECTs, 50 hosts (NEW)"
cat > "$tmp/hammer.py" <<'P'
import socket
for i in range(2000):
    s = socket.create_connection(("127.0.0.1", 3128))
    s.sendall(b"CONNECT h%d.test:443 HTTP/1.1\r\nHost: x\r\n\r\n" % (i % 50))
    s.recv(64)
    s.close()
P
start=$(date +%s%N)
"$NEW" run --json --net-allow allowed.invalid:443 -v "$tmp:/b:ro" -- /usr/bin/python3 /b/hammer.py > "$tmp/v.json"
end=$(date +%s%N)
$PY - "$tmp/v.json" "$(( (end - start) / 1000000 ))" <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
v = [x for x in d["violations"] if x["layer"] == "proxy"]
print("wall %s ms (zonebox's own wall_ms %.0f); proxy entries %d, their count %d, dropped %d, refused %d"
      % (sys.argv[2], d["wall_ms"], len(v), sum(x["count"] for x in v), d.get("violations_dropped", 0),
         d["network"]["proxy"]["refused"]))
P
say "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
