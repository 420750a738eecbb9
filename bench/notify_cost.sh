#!/usr/bin/env bash
# The cost of issue 16's sources (the seccomp listener: `seccomp`,
# `filesystem` and `network` connect; the loopback resolver: `lookup`):
#   1. `run -- /bin/true`, paired (bench/ab-wall.py, ROUNDS=1000 rounds,
#      each shuffled): NEW with every source against NEW with none
#      (ZONEBOX_TEST_NO_NOTIFY=1 --network loopback), and each factor alone:
#      the listener (--network loopback), the listener without the watch
#      (ZONEBOX_TEST_NO_WATCH=1), the resolver (ZONEBOX_TEST_NO_NOTIFY=1).
#      As root, a second time at SCHED_FIFO 10 (chrt): other work does not
#      preempt the runs then, but neither do the kernel's workers (bench/
#      ab-wall.py says why that matters here). Then NEW against OLD, both
#      copied afresh into one directory first: a binary's page-cache state
#      alone moved its runs by 0.4 ms here (bench/README.md, issue 16).
#   2. a hammer: a static C loop of N denied ptrace calls (HAMMER=1000000),
#      of N/5 writes to the read-only root (open O_WRONLY|O_CREAT of
#      /etc/zb-hammer: EROFS), and of N/10 allowed watched calls (create
#      /tmp/zb-hammer with O_EXCL, close, unlink it: two calls that each
#      notify and succeed), NEW, OLD and NEW without the listener: the time
#      per call, the verdict's entries and counts, zonebox's peak RSS.
# Usage: bench/notify_cost.sh NEW OLD
set -euo pipefail
say() { printf '%s\n' "$*"; }
die() { say "notify_cost.sh: $*" >&2; exit 1; }
. "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || die "usage: bench/notify_cost.sh NEW OLD"
NEW=$(readlink -f "$1") OLD=$(readlink -f "$2")
ROUNDS=${ROUNDS:-1000} HAMMER=${HAMMER:-1000000}
bench_need gcc:gcc
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
rt=()
[ "$(id -u)" -eq 0 ] && command -v chrt >/dev/null && rt=(chrt -f 10)

cp "$NEW" "$tmp/new" && cp "$OLD" "$tmp/old"
NEW=$tmp/new OLD=$tmp/old
T=(-- /bin/true)
factors=("ZONEBOX_TEST_NO_NOTIFY=1 $NEW run --network loopback ${T[*]}" "$NEW run ${T[*]}"
	"$NEW run --network loopback ${T[*]}" "ZONEBOX_TEST_NO_WATCH=1 $NEW run --network loopback ${T[*]}"
	"ZONEBOX_TEST_NO_NOTIFY=1 $NEW run ${T[*]}")
say "## run -- /bin/true, $ROUNDS paired rounds: A no source, B all (the default), C the listener,"
say "## D the listener without the watch, E the resolver"
$PY "$BENCH_DIR/ab-wall.py" "$ROUNDS" "${factors[@]}"
if [ ${#rt[@]} -gt 0 ]; then
	say "## the same at ${rt[*]}"
	"${rt[@]}" $PY "$BENCH_DIR/ab-wall.py" "$ROUNDS" "${factors[@]}"
fi
say "## OLD (A) against NEW (B), each with every source"
$PY "$BENCH_DIR/ab-wall.py" "$ROUNDS" "$OLD run ${T[*]}" "$NEW run ${T[*]}"

cat > "$tmp/hammer.c" <<'C'
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv)
{
        long n = atol(argv[1]), refused = 0, calls = n;
        int rofs = argc > 2 && argv[2][0] == 'r', tmp = argc > 2 && argv[2][0] == 't';
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < n; i++) {
                if (tmp) {
                        int fd = open("/tmp/zb-hammer", O_WRONLY | O_CREAT | O_EXCL, 0600);
                        if (fd < 0 || close(fd) < 0 || unlink("/tmp/zb-hammer") < 0)
                                refused++;
                } else if (rofs) {
                        int fd = open("/etc/zb-hammer", O_WRONLY | O_CREAT, 0644);
                        refused += fd < 0 && errno == EROFS;
                        if (fd >= 0)
                                close(fd);
                } else {
                        refused += ptrace(PTRACE_TRACEME, 0, 0, 0) < 0 && errno == EPERM;
                }
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3;
        if (tmp)
                calls = 2 * n; /* the open and the unlink notify; close does not */
        printf("%ld calls, %ld refused, %.2f us/call\n", calls, refused, us / (double)calls);
        return 0;
}
C
gcc -O2 -static -o "$tmp/hammer" "$tmp/hammer.c"
say "## hammer"
$PY - "$tmp" "$HAMMER" "$NEW" "$OLD" <<'P'
import json, os, subprocess, sys, time
tmp, n, new, old = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
for calls, extra in ((n, []), (n // 5, ["rofs"]), (n // 10, ["tmp"])):
    for name, binary, off in (("new", new, False), ("old", old, False), ("new_off", new, True)):
        env = dict(os.environ)
        if off:
            env["ZONEBOX_TEST_NO_NOTIFY"] = "1"
        t = time.perf_counter()
        p = subprocess.Popen([binary, "run", "--json", "--timeout", "600s", "-v", tmp + ":/h:ro", "--",
                              "/h/hammer", str(calls)] + extra, env=env, stdout=subprocess.PIPE)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        d = json.loads(out)
        v = ["%s %s %s x%d" % (x["layer"], x["operation"], x.get("target") or "", x["count"]) for x in d["violations"]]
        print("%-8s %-6s %s | wall %.1f s, verdict wall_ms %.0f, zonebox max RSS %d KB | %s"
              % (name, extra[0] if extra else "ptrace", d["stdout"].strip(), time.perf_counter() - t,
                 d["wall_ms"], ru.ru_maxrss, "; ".join(v) or "no violations"), flush=True)
P
