#!/usr/bin/env python3
"""Startup on an image root against the host-dirs root, one binary,
alternating (N runs each, the first 20 dropped): `run -- CMD` vs
`run --image NAME -- CMD` (a store name: nothing imported per run). The
median of each and the difference. Usage: bench/image.py ZONEBOX NAME [CMD] [N]
(CMD default /bin/busybox true; the store: $ZONEBOX_IMAGE_DIR or the default)."""
import resource, statistics, subprocess, sys, time
zb, name = sys.argv[1], sys.argv[2]
cmd = (sys.argv[3] if len(sys.argv) > 3 else "/bin/busybox true").split()
n = int(sys.argv[4]) if len(sys.argv) > 4 else 300
runs = {"host": [zb, "run", "--", *cmd], "image": [zb, "run", "--image", name, "--", *cmd]}
t = {k: [] for k in runs}
cpu = {k: [] for k in runs}  # user+sys of zonebox and the sandbox: less sensitive to a loaded machine
for i in range(n):
    for k in (["host", "image"] if i % 2 == 0 else ["image", "host"]):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        s = time.perf_counter()
        subprocess.run(runs[k], check=True)
        t[k].append((time.perf_counter() - s) * 1000)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[k].append((r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) * 1000)
med = {}
for k in t:
    v = sorted(t[k][20:])
    med[k] = statistics.median(v)
    print(k, "median %.2f ms  p25 %.2f  p75 %.2f  n=%d" % (med[k], v[len(v)//4], v[3*len(v)//4], len(v)))
print("image - host: %+.2f ms wall" % (med["image"] - med["host"]))
c = {k: statistics.median(sorted(cpu[k][20:])) for k in cpu}
print("cpu (user+sys) median: host %.2f ms, image %.2f ms, image - host %+.2f ms" % (c["host"], c["image"], c["image"] - c["host"]))
