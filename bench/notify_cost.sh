#!/usr/bin/env bash
# The cost of the seccomp listener (issue 16's `seccomp`, `filesystem` and
# `network` connect sources), NEW against OLD:
#   1. `run -- /bin/true` interleaved (bench/alternate_many.py, ROUNDS=200):
#      each binary with and without its listener (ZONEBOX_TEST_NO_NOTIFY=1),
#      and NEW with --network loopback (no loopback resolver). As root the
#      runs are at SCHED_FIFO 10 (chrt) so that other work on the machine
#      does not preempt them; the figures are then comparable between
#      themselves, not with a quiet machine's.
#   2. a hammer: a static C loop of N denied ptrace calls (HAMMER=1000000)
#      and of N/5 writes to the read-only root (open O_WRONLY|O_CREAT of
#      /etc/zb-hammer: EROFS), NEW, OLD and NEW without the listener: the
#      time per call, the verdict's entries and counts, zonebox's peak RSS.
# Usage: bench/notify_cost.sh NEW OLD
set -euo pipefail
say() { printf '%s\n' "$*"; }
die() { say "notify_cost.sh: $*" >&2; exit 1; }
. "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || die "usage: bench/notify_cost.sh NEW OLD"
NEW=$(readlink -f "$1") OLD=$(readlink -f "$2")
ROUNDS=${ROUNDS:-200} HAMMER=${HAMMER:-1000000}
bench_need gcc:gcc
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
rt=()
[ "$(id -u)" -eq 0 ] && command -v chrt >/dev/null && rt=(chrt -f 10)

say "## run -- /bin/true, $ROUNDS rounds interleaved ${rt[*]}"
"${rt[@]}" $PY "$BENCH_DIR/alternate_many.py" "$ROUNDS" "new=$NEW" "new_off=$NEW,ZONEBOX_TEST_NO_NOTIFY=1" \
	"new_loopback=$NEW,+--network,+loopback" "old=$OLD" "old_off=$OLD,ZONEBOX_TEST_NO_NOTIFY=1"

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
        long n = atol(argv[1]), refused = 0;
        int rofs = argc > 2;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < n; i++) {
                if (rofs) {
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
        printf("%ld calls, %ld refused, %.2f us/call\n", n, refused, us / (double)n);
        return 0;
}
C
gcc -O2 -static -o "$tmp/hammer" "$tmp/hammer.c"
say "## hammer"
$PY - "$tmp" "$HAMMER" "$NEW" "$OLD" <<'P'
import json, os, subprocess, sys, time
tmp, n, new, old = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
for calls, extra in ((n, []), (n // 5, ["rofs"])):
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
              % (name, "rofs" if extra else "ptrace", d["stdout"].strip(), time.perf_counter() - t,
                 d["wall_ms"], ru.ru_maxrss, "; ".join(v) or "no violations"), flush=True)
P
