#!/usr/bin/env python3
"""Paired A/B of commands' wall time: the cost of one change, to within
a tenth of a millisecond on a noisy machine.

    bench/ab-wall.py [--cpu] N 'CMD A ...' 'CMD B ...' ['CMD C ...' ...]

Runs the commands back to back N times (with two, the order flips every
round; with more, each round is shuffled; the first 20 rounds are dropped
as warm-up) and prints each median, then for each command after the first
the median of its paired differences to A (the same round) with a
2000-sample bootstrap 95 % interval, and their mean. Leading VAR=VALUE
words of a command go into its environment (no `env` exec in the timed
part). Unpaired medians of two interleaved series (bench/alternate_many.py)
drift by more than the effects this is for; a difference taken within each
round does not. --cpu compares CPU time instead (user+sys of the command
and everything it reaped, from wait4), which a loaded machine disturbs far
less than wall time. As root, `chrt -f 10` keeps other work from preempting the
runs, but it also keeps the kernel's workers from preempting zonebox (a
freed seccomp filter's JIT image is released by one): run both ways when
those matter. Used for issue 16's figures in bench/README.md, e.g. the
sources' cost as factors (bench/notify_cost.sh):

    bench/ab-wall.py 1000 'ZONEBOX_TEST_NO_NOTIFY=1 build/zonebox run --network loopback -- /bin/true' \\
        'build/zonebox run -- /bin/true' 'build/zonebox run --network loopback -- /bin/true'
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


def timed(argv, env, cpu=False):
    t = time.perf_counter()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    ms = (time.perf_counter() - t) * 1e3
    if status:
        sys.exit("ab-wall: %s failed: status %d" % (" ".join(argv), status))
    return (ru.ru_utime + ru.ru_stime) * 1e3 if cpu else ms


def main():
    args = sys.argv[1:]
    cpu = bool(args) and args[0] == "--cpu"
    args = args[1:] if cpu else args
    if len(args) < 3 or not args[0].isdigit() or int(args[0]) <= WARMUP:
        sys.exit(__doc__.split("\n\n")[1] + "\n(N > %d)" % WARMUP)
    n = int(args[0])
    cmds = [parse(c) + (cpu,) for c in args[1:]]
    times = [[] for _ in cmds]
    for i in range(n):
        order = list(range(len(cmds)))
        if len(cmds) == 2:
            order = order if i % 2 == 0 else order[::-1]
        else:
            random.shuffle(order)
        for k in order:
            times[k].append(timed(*cmds[k]))
    times = [t[WARMUP:] for t in times]
    names = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    what = "CPU" if cpu else "wall"
    print(", ".join("%s median %.2f ms %s" % (names[k], statistics.median(t), what) for k, t in enumerate(times)) + ";")
    for k in range(1, len(cmds)):
        d = [y - x for x, y in zip(times[0], times[k])]
        boots = sorted(statistics.median(random.choices(d, k=len(d))) for _ in range(2000))
        print("paired %s-A: median %.3f ms (95%% CI %.3f..%.3f), mean %.3f ms, n=%d"
              % (names[k], statistics.median(d), boots[50], boots[1950], statistics.mean(d), len(d)))
    print("load average %.2f" % os.getloadavg()[0])


main()
