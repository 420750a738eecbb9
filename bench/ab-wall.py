#!/usr/bin/env python3
"""Paired A/B of two commands' wall time: the cost of one change, to within
a tenth of a millisecond on a noisy machine.

    bench/ab-wall.py N 'CMD A ...' 'CMD B ...'

Runs A and B back to back N times (the order flips every pair, the first 20
pairs are dropped as warm-up) and prints each median, then the median of
the paired differences B - A with a 2000-sample bootstrap 95 % interval,
and their mean. Leading VAR=VALUE words of a command go into its
environment (no `env` exec in the timed part). Unpaired medians of two
interleaved series (bench/alternate_many.py) drift by more than the effects
this is for; a difference taken within each pair does not. Run it under
`chrt -f 10` (root). Used for issue 16's figures in bench/README.md
("2026-12-02 10:30–10:45 UTC"), e.g.

    chrt -f 10 bench/ab-wall.py 1000 'build/zonebox run -- /bin/true' \\
        'ZONEBOX_TEST_NO_NOTIFY=1 build/zonebox run --network loopback -- /bin/true'
"""
import os
import random
import statistics
import subprocess
import sys
import time

WARMUP = 20


def parse(cmd):
    words, env = cmd.split(), dict(os.environ)
    while words and "=" in words[0] and not words[0].startswith("="):
        k, v = words.pop(0).split("=", 1)
        env[k] = v
    if not words:
        sys.exit("ab-wall: empty command: %r" % cmd)
    return words, env


def timed(argv, env):
    t = time.perf_counter()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    _, status = os.waitpid(p.pid, 0)
    ms = (time.perf_counter() - t) * 1e3
    if status:
        sys.exit("ab-wall: %s failed: status %d" % (" ".join(argv), status))
    return ms


def main():
    if len(sys.argv) != 4 or not sys.argv[1].isdigit() or int(sys.argv[1]) <= WARMUP:
        sys.exit(__doc__.split("\n\n")[1] + "\n(N > %d)" % WARMUP)
    n = int(sys.argv[1])
    a, b = parse(sys.argv[2]), parse(sys.argv[3])
    ta, tb = [], []
    for i in range(n):
        if i % 2 == 0:
            ta.append(timed(*a))
            tb.append(timed(*b))
        else:
            tb.append(timed(*b))
            ta.append(timed(*a))
    d = [y - x for x, y in zip(ta[WARMUP:], tb[WARMUP:])]
    boots = sorted(statistics.median(random.choices(d, k=len(d))) for _ in range(2000))
    print("A median %.2f ms, B median %.2f ms; paired B-A: median %.3f ms (95%% CI %.3f..%.3f), "
          "mean %.3f ms, n=%d; load average %.2f"
          % (statistics.median(ta[WARMUP:]), statistics.median(tb[WARMUP:]), statistics.median(d),
             boots[50], boots[1950], statistics.mean(d), len(d), os.getloadavg()[0]))


main()
