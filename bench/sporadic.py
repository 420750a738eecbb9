#!/usr/bin/python3
"""The sporadic regime: each command started on its own, GAP ms after the
last one ended, the commands interleaved round by round, ROUNDS rounds.

This is how an agent (a command every few seconds) or a code-execution
service that is not saturated starts sandboxes. Back-to-back benchmarks
(hyperfine, xargs -P) hide costs that only show after a pause: a cgroup
migration by pid waits for an RCU grace period unless another migration
passed moments before, caches go cold, CPUs idle down.

    bench/sporadic.py [--rounds 20] [--gap-ms 200] [--ref NAME] [--json FILE] NAME=CMD...

CMD is split like a shell would (shlex), run without a shell, its output
discarded; its leading VAR=VALUE words go into its environment (no `env`
exec in the timed part). Prints a markdown table (median, p25, p75, ratio of medians to
--ref, default the first command, and the CPU time of the whole process
tree), then one line "sporadic name=median_ms ..." for scripts. Exit 1 if a
command fails.

CPU: this process is a child subreaper, so what a launcher leaves running
(bwrap exits without reaping its PID-1 helper) is reparented here and
reaped after the timed part; user+sys of every process of the run counts."""

import argparse
import ctypes
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("SPORADIC_ROUNDS", "20")))
    ap.add_argument("--gap-ms", type=int, default=int(os.environ.get("SPORADIC_GAP_MS", "200")))
    ap.add_argument("--ref", help="the command the ratios are to (default: the first)")
    ap.add_argument("--json", help="also write every sample (ms) to this file")
    ap.add_argument("commands", nargs="+", metavar="NAME=CMD")
    a = ap.parse_args()
    if a.rounds < 1 or a.gap_ms < 0:
        ap.error("--rounds must be >= 1 and --gap-ms >= 0")
    cmds = []
    for c in a.commands:
        name, eq, cmd = c.partition("=")
        if not eq or not name or not cmd.strip():
            ap.error("expected NAME=CMD, got %r" % c)
        words, env = shlex.split(cmd), dict(os.environ)
        while words and "=" in words[0] and not words[0].startswith("="):
            k, v = words.pop(0).split("=", 1)
            env[k] = v
        if not words:
            ap.error("%s: no command after the VAR=VALUE words" % name)
        cmds.append((name, words, env))
    names = [n for n, _, _ in cmds]
    if len(set(names)) != len(names):
        ap.error("command names must be distinct")
    if a.ref and a.ref not in names:
        ap.error("--ref %s names no command" % a.ref)
    return a, cmds


def quantile(xs, q):
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


PR_SET_CHILD_SUBREAPER = 36


def cpu_ms():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (ru.ru_utime + ru.ru_stime) * 1e3


def reap_all():
    """Wait for every descendant left over (reparented to us)."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def main():
    a, cmds = parse()
    ref = a.ref or cmds[0][0]
    samples = {n: [] for n, _, _ in cmds}
    cpu = {n: [] for n, _, _ in cmds}
    libc = ctypes.CDLL(None, use_errno=True)
    subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    load0 = os.getloadavg()
    for r in range(a.rounds):
        # Rotate the order each round: no command always follows the same one.
        for name, argv, env in cmds[r % len(cmds):] + cmds[:r % len(cmds)]:
            time.sleep(a.gap_ms / 1000)
            c0 = cpu_ms()
            t0 = time.perf_counter()
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env=env)
            ms = (time.perf_counter() - t0) * 1e3
            reap_all()
            cpu[name].append(cpu_ms() - c0)
            if p.returncode != 0:
                sys.stderr.write("sporadic: %s failed (exit %d): %s\n%s" % (
                    name, p.returncode, shlex.join(argv), p.stderr.decode(errors="replace")))
                return 1
            samples[name].append(ms)
    load1 = os.getloadavg()
    med = {n: statistics.median(v) for n, v in samples.items()}
    print("Sporadic: %d rounds, %d ms apart, interleaved (order rotated each round); "
          "load average %.2f before, %.2f after." % (a.rounds, a.gap_ms, load0[0], load1[0]))
    print()
    print("| command | median ms | p25 ms | p75 ms | median / %s | CPU ms, whole tree (median) |" % ref)
    print("|---|---:|---:|---:|---:|---:|")
    for name, _, _ in cmds:
        v = samples[name]
        print("| %s | %.2f | %.2f | %.2f | %.2f | %.2f |" % (
            name, med[name], quantile(v, 0.25), quantile(v, 0.75), med[name] / med[ref],
            statistics.median(cpu[name])))
    if not subreaper:
        print()
        print("(PR_SET_CHILD_SUBREAPER failed: CPU leaves out what a launcher did not reap)")
    print()
    print("sporadic " + " ".join("%s=%.3f" % (n, med[n]) for n, _, _ in cmds) + " " +
          " ".join("%s_cpu=%.3f" % (n, statistics.median(cpu[n])) for n, _, _ in cmds))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rounds": a.rounds, "gap_ms": a.gap_ms, "load": [load0[0], load1[0]],
                       "samples_ms": samples, "cpu_ms": cpu}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
