#!/usr/bin/env python3
"""Two zonebox binaries, `run -- /bin/true`, alternating (N runs each, default
400, the first 20 dropped): the median wall time and the median CPU time
(user + system of zonebox and everything it started, from the kernel's
per-task runtime, getrusage(RUSAGE_CHILDREN)) of each, and their ratios.
CPU time moves much less than wall time on a loaded machine, so it shows a
small added cost that the wall-time medians bury in noise.
Usage: bench/alternate-cpu.py NEW OLD [N]"""
import os, resource, statistics, subprocess, sys, time

bins = {"new": sys.argv[1], "old": sys.argv[2]}
n = int(sys.argv[3]) if len(sys.argv) > 3 else 400
wall = {k: [] for k in bins}
cpu = {k: [] for k in bins}
for i in range(n):
    for k in (["new", "old"] if i % 2 == 0 else ["old", "new"]):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        s = time.perf_counter()
        subprocess.run([bins[k], "run", "--", "/bin/true"], check=True)
        wall[k].append((time.perf_counter() - s) * 1000)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[k].append((r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000)
for k in bins:
    w, c = sorted(wall[k][20:]), sorted(cpu[k][20:])
    print("%s wall median %.3f ms (p25 %.3f p75 %.3f)  cpu median %.3f ms (p25 %.3f p75 %.3f)  n=%d" % (
        k, statistics.median(w), w[len(w) // 4], w[3 * len(w) // 4],
        statistics.median(c), c[len(c) // 4], c[3 * len(c) // 4], len(w)))
for name, t in (("wall", wall), ("cpu", cpu)):
    a, b = statistics.median(t["new"][20:]), statistics.median(t["old"][20:])
    print("%s: new - old %+.3f ms, ratio %.3f" % (name, a - b, a / b))
print("load average before/after: see uptime; 1-min now %.2f" % os.getloadavg()[0])
