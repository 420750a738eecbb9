#!/usr/bin/env python3
"""Two zonebox binaries, `run -- /bin/true`, alternating (400 runs each, the
first 20 dropped): the median of each and their ratio. For a before/after
within the noise of one machine. Usage: bench/alternate.py NEW OLD"""
import subprocess, time, statistics, sys
bins = {"new": sys.argv[1], "old": sys.argv[2]}
t = {k: [] for k in bins}
for i in range(400):
    for k in (["new", "old"] if i % 2 == 0 else ["old", "new"]):
        s = time.perf_counter()
        subprocess.run([bins[k], "run", "--", "/bin/true"], check=True)
        t[k].append((time.perf_counter() - s) * 1000)
for k in t:
    v = sorted(t[k][20:])
    print(k, "median %.2f ms  p25 %.2f  p75 %.2f  n=%d" % (statistics.median(v), v[len(v)//4], v[3*len(v)//4], len(v)))
print("ratio new/old %.3f" % (statistics.median(t["new"][20:]) / statistics.median(t["old"][20:])))
