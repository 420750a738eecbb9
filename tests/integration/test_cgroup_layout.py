"""Where the resources layer puts its limits: looked at from the host while a
sandbox runs. On this hybrid development machine the limits go to cgroup v1
and the sandbox is also cloned into a cgroup v2 child; on a pure v2 host the
limits go to v2. Each test skips with the reason when the host lacks the
layout it checks."""

import os
import subprocess
import time
import uuid

import pytest

from conftest import ZONEBOX, cgroup_dirs, pids_exact


def own_v2_dir():
    for mdir, own in cgroup_dirs().items():
        with open("/proc/self/mountinfo") as f:
            if any(line.split(" - ")[1].startswith("cgroup2 ") and line.split()[4] == mdir for line in f):
                return own
    return None


def v2_controllers(d):
    with open(os.path.join(d, "cgroup.controllers")) as f:
        return f.read().split()


def v1_dir(ctrl):
    for mdir, own in cgroup_dirs().items():
        if os.path.basename(mdir) == ctrl or ctrl in os.path.basename(mdir).split(","):
            return own
    return None


class Running:
    """A root sandbox sleeping until closed, and its cgroup dirs."""

    def __init__(self, *flags):
        self.marker = "zb-layout-" + uuid.uuid4().hex[:8]
        self.command = ["sh", "-c", "sleep 30; : " + self.marker]
        self.proc = subprocess.Popen([ZONEBOX, "run"] + list(flags) + ["--"] + self.command,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd="/")
        deadline = time.monotonic() + 30
        # The command itself, exec'd: the supervisor's argv holds the marker
        # too, and so does its fork for a moment before it is placed in the
        # cgroups (seen under load).
        while not pids_exact(self.command):
            assert time.monotonic() < deadline, "sandbox did not start"
            assert self.proc.poll() is None, self.proc.communicate()
            time.sleep(0.02)
        self.name_prefix = "zonebox-%d-" % self.proc.pid

    def dir_under(self, parent):
        names = [n for n in os.listdir(parent) if n.startswith(self.name_prefix)]
        assert len(names) == 1, (parent, names)
        return os.path.join(parent, names[0])

    def close(self):
        self.proc.kill()
        self.proc.communicate(timeout=10)
        subprocess.run([ZONEBOX, "gc", "-q"], timeout=30, check=True)


def read(path):
    with open(path) as f:
        return f.read().strip()


def test_limits_in_this_hosts_cgroup_layout():
    """One of the two layouts applies to any host with cgroups for memory
    and pids: limits on v2 when v2 offers memory and pids to zonebox's
    cgroup, else on v1 with the processes also placed on v2 (hybrid). The
    v2 file formats are unit-tested too (test_cgroup.c)."""
    v2 = own_v2_dir()
    mem, pids = v1_dir("memory"), v1_dir("pids")
    if v2 and {"memory", "pids"} <= set(v2_controllers(v2)):
        pure_v2_limits(v2)
    elif v2 and mem and pids:
        hybrid_limits_on_v1_and_placement_on_v2(v2, mem, pids)
    else:
        pytest.skip("no cgroup v2 with memory and pids, and no hybrid layout (v2 beside v1 memory "
                    "and pids): not a layout zonebox supports")


def hybrid_limits_on_v1_and_placement_on_v2(v2, mem, pids):
    run = Running("--memory", "100m", "--pids-limit", "50")
    try:
        m = run.dir_under(mem)
        assert int(read(os.path.join(m, "memory.limit_in_bytes"))) == 100 << 20
        if os.path.exists(os.path.join(m, "memory.memsw.limit_in_bytes")):
            # no swap: memory + swap == memory
            assert int(read(os.path.join(m, "memory.memsw.limit_in_bytes"))) == 100 << 20
        p = run.dir_under(pids)
        assert read(os.path.join(p, "pids.max")) == "50"
        sandbox = set(pids_exact(run.command))
        in_mem = {int(x) for x in read(os.path.join(m, "cgroup.procs")).split()}
        assert sandbox <= in_mem
        # Cloned straight into a v2 child (CLONE_INTO_CGROUP), which has
        # the same processes.
        u = run.dir_under(v2)
        in_v2 = {int(x) for x in read(os.path.join(u, "cgroup.procs")).split()}
        assert in_v2 == in_mem
        # The supervisor itself stays where it was started.
        assert run.proc.pid not in in_mem and run.proc.pid not in in_v2
    finally:
        run.close()
    assert not [n for n in os.listdir(mem) if n.startswith(run.name_prefix)]


def pure_v2_limits(v2):
    ctrls = v2_controllers(v2)
    run = Running("--memory", "100m", "--pids-limit", "50", "--cpus", "0.5")
    try:
        u = run.dir_under(v2)
        assert int(read(os.path.join(u, "memory.max"))) == 100 << 20
        if os.path.exists(os.path.join(u, "memory.swap.max")):
            assert read(os.path.join(u, "memory.swap.max")) == "0"
        assert read(os.path.join(u, "pids.max")) == "50"
        if "cpu" in ctrls:
            assert read(os.path.join(u, "cpu.max")) == "50000 100000"
    finally:
        run.close()
