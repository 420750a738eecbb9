#!/usr/bin/env python3
"""Paired A/B of two commands' CPU time, for a busy machine.

    bench/ab-cpu.py N NAME_A='CMD A ...' NAME_B='CMD B ...'

Runs A and B alternately N times each (the order flips every pair, so load
drift hits both alike) and measures the user+sys CPU time of each run and
everything it reaped (wait4). Prints each median and the median of the paired
differences B - A with a 2000-sample bootstrap 95 % interval. Wall time on a
loaded machine varies by tens of ms; CPU time far less. Used for the figures
in bench/README.md "Users, zones and /tmp"."""
import os, random, statistics, sys
def cpu(argv):
    pid = os.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    _, st, ru = os.wait4(pid, 0)
    assert st == 0
    return (ru.ru_utime + ru.ru_stime) * 1e3
cmds = {k: v.split() for k, v in (a.split("=", 1) for a in sys.argv[2:])}
n = int(sys.argv[1]); res = {k: [] for k in cmds}
for i in range(n):
    for k in (list(cmds) if i % 2 == 0 else list(cmds)[::-1]):
        res[k].append(cpu(cmds[k]))
ks = list(cmds)
d = [y - x for x, y in zip(res[ks[0]], res[ks[1]])]
boots = sorted(statistics.median(random.choices(d, k=len(d))) for _ in range(2000))
print({k: round(statistics.median(v), 3) for k, v in res.items()}, "%s-%s paired median %.3f ms CPU (95%% CI %.3f..%.3f) n=%d" % (ks[1], ks[0], statistics.median(d), boots[50], boots[1950], n))
