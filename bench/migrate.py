#!/usr/bin/python3
"""What one cgroup migration costs here, the two ways: a process moved by
its pid (a write to cgroup.procs: takes the kernel's global threadgroup
rwsem for writing, which waits for an RCU grace period unless another
writer passed moments before) and a single-threaded process moving itself
(a write of "0" to the v1 tasks file: skips that rwsem; what zonebox's
sandbox does). Each sample is a fresh child, GAP ms after the last.

    bench/migrate.py [--rounds 30] [--gap-ms 200]

Runs as root (or in a delegated cgroup) on a host whose memory controller
is on cgroup v1; makes one cgroup under its own and removes it."""

import argparse
import os
import statistics
import sys
import time


def own_memory_dir():
    for line in open("/proc/self/cgroup"):
        _, ctrls, path = line.rstrip("\n").split(":", 2)
        if "memory" in ctrls.split(","):
            for m in open("/proc/self/mountinfo"):
                left, _, right = m.partition(" - ")
                f, r = left.split(), right.split()
                if r[0] == "cgroup" and "memory" in r[2].split(","):
                    root = f[3]
                    rel = path[len(root):] if root != "/" and path.startswith(root) else path
                    return f[4] + (rel if rel != "/" else "")
    return None


def sample(d, self_move):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        if self_move:
            fd = os.open(d + "/tasks", os.O_WRONLY)
            t0 = time.perf_counter()
            os.write(fd, b"0")
            os.write(w, repr(time.perf_counter() - t0).encode())
        else:
            os.write(w, b"x")
            time.sleep(0.05)
        os._exit(0)
    os.close(w)
    msg = os.read(r, 64)
    os.close(r)
    if self_move:
        dt = float(msg)
    else:
        fd = os.open(d + "/cgroup.procs", os.O_WRONLY)
        t0 = time.perf_counter()
        os.write(fd, str(pid).encode())
        dt = time.perf_counter() - t0
        os.close(fd)
    os.waitpid(pid, 0)
    return dt * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--gap-ms", type=int, default=200)
    a = ap.parse_args()
    parent = own_memory_dir()
    if not parent:
        sys.exit("migrate: the memory controller is not on a cgroup v1 hierarchy here")
    d = "%s/zonebox-bench-%d-move" % (parent, os.getpid())
    os.mkdir(d)
    res = {"by pid (cgroup.procs)": [], "itself (tasks, \"0\")": []}
    load0 = os.getloadavg()[0]
    try:
        for _ in range(a.rounds):
            for k in res:
                time.sleep(a.gap_ms / 1000)
                res[k].append(sample(d, k.startswith("itself")))
    finally:
        for _ in range(200):
            try:
                os.rmdir(d)
                break
            except OSError:
                time.sleep(0.01)
    print("Migration into a v1 memory cgroup, %d samples each, %d ms apart; load average %.2f before, %.2f after."
          % (a.rounds, a.gap_ms, load0, os.getloadavg()[0]))
    print()
    print("| a process moved | median ms | p25 ms | p75 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for k, v in res.items():
        q = statistics.quantiles(v, n=4)
        print("| %s | %.3f | %.3f | %.3f | %.3f |" % (k, statistics.median(v), q[0], q[2], max(v)))


if __name__ == "__main__":
    main()
