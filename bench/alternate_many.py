#!/usr/bin/env python3
"""Several zonebox invocations of `run [ARGS] -- /bin/true`, interleaved
(the order reversed every other round, the first 10 rounds dropped): the
median wall time of each, p25/p75, the difference and ratio to the first,
and the median CPU time (user+sys of zonebox and everything it reaped).
The CPU column is steadier than the wall on a loaded machine.

    bench/alternate_many.py ROUNDS NAME=BIN[,VAR=VALUE...][,+ARG...] ...

e.g. `new=build/zonebox new_off=build/zonebox,ZONEBOX_TEST_NO_NOTIFY=1
new_lo=build/zonebox,+--network,+loopback`. Run it under `chrt -f 10` (root)
to keep other work on the machine from preempting the runs."""
import os
import statistics
import subprocess
import sys
import time


def parse(spec):
    name, rest = spec.split("=", 1)
    parts = rest.split(",")
    env, args = dict(os.environ), []
    for p in parts[1:]:
        if p.startswith("+"):
            args.append(p[1:])
        else:
            k, v = p.split("=", 1)
            env[k] = v
    return name, [parts[0], "run"] + args + ["--", "/bin/true"], env


def main():
    rounds = int(sys.argv[1])
    cfgs = [parse(s) for s in sys.argv[2:]]
    wall = {c[0]: [] for c in cfgs}
    cpu = {c[0]: [] for c in cfgs}
    load0 = os.getloadavg()[0]
    for i in range(rounds + 10):
        for name, argv, env in cfgs if i % 2 == 0 else cfgs[::-1]:
            t = time.perf_counter()
            p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
            _, status, ru = os.wait4(p.pid, 0)
            if status:
                sys.exit("%s failed: status %d" % (name, status))
            wall[name].append((time.perf_counter() - t) * 1000)
            cpu[name].append((ru.ru_utime + ru.ru_stime) * 1000)
    first = cfgs[0][0]
    m0, c0 = statistics.median(wall[first][10:]), statistics.median(cpu[first][10:])
    for name, _, _ in cfgs:
        w, c = sorted(wall[name][10:]), cpu[name][10:]
        m, cm = statistics.median(w), statistics.median(c)
        print("%-12s median %7.2f ms  p25 %7.2f  p75 %7.2f  n=%d  %+.2f ms  ratio %.3f | cpu %6.2f ms %+.2f"
              % (name, m, w[len(w) // 4], w[3 * len(w) // 4], len(w), m - m0, m / m0, cm, cm - c0))
    print("load average %.2f -> %.2f" % (load0, os.getloadavg()[0]))


main()
