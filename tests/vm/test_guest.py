"""Checks that only mean something inside a tests/vm guest (tests/vm/check
runs them there; elsewhere they skip, saying so): pure cgroup v2 behaviour
on a real kernel, the 6.1 kernel's degraded layers reported, and what an
ordinary user gets with no systemd. As root in the minimal guest (no
systemd, the command in the root cgroup)."""

import json
import os
import re
import signal
import subprocess
import time

import pytest

ZONEBOX = os.environ.get("ZONEBOX", os.path.join(os.path.dirname(__file__), "../../build/zonebox"))
AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
CG = "/sys/fs/cgroup"

pytestmark = pytest.mark.skipif(not os.environ.get("ZB_VM_CELL"),
                                reason="runs inside a tests/vm guest (make check-vm)")


def zb(*args, who=(), timeout=120):
    return subprocess.run(list(who) + [ZONEBOX] + list(args), capture_output=True, text=True,
                          timeout=timeout, cwd="/", stdin=subprocess.DEVNULL)


def run_json(*args, who=()):
    p = zb("run", "--json", *args, who=who)
    try:
        return p, json.loads(p.stdout)
    except ValueError:
        raise AssertionError(p)


def sandbox_cgroups():
    found = []
    for root, dirs, _ in os.walk(CG):
        found += [os.path.join(root, d) for d in dirs if re.fullmatch(r"zonebox-\d+-\d+-\d+", d)]
    return found


def wait_for(pred, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return pred()


def test_guest_is_pure_v2_on_61():
    assert subprocess.run(["stat", "-fc", "%T", CG], capture_output=True, text=True).stdout.strip() == "cgroup2fs"
    assert os.uname().release.startswith("6.1."), os.uname().release


def test_oom_peak_and_events():
    """memory.events oom_kill gives the verdict, memory.peak the peak."""
    p, j = run_json("--memory", "32m", "--", "python3", "-c", "bytearray(100 << 20)")
    assert j["status"] == "oom" and j["oom_killed"] is True, j
    assert 16 << 20 <= j["peak_memory_bytes"] <= 32 << 20, j
    assert "resources" in j["layers"]["applied"], j


def test_v2_limit_files_and_cgroup_kill():
    """memory.max, memory.swap.max, pids.max, cpu.max written; a SIGKILLed
    supervisor's sandbox is killed by gc through cgroup.kill."""
    sup = subprocess.Popen([ZONEBOX, "run", "--memory", "64m", "--pids-limit", "30", "--cpus", "0.5", "--",
                            "sleep", "300"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, cwd="/")
    try:
        mine = lambda: [d for d in sandbox_cgroups() if os.path.basename(d).startswith("zonebox-%d-" % sup.pid)]
        dirs = wait_for(lambda: [d for d in mine() if os.path.exists(os.path.join(d, "cgroup.procs")) and
                                 open(os.path.join(d, "cgroup.procs")).read().strip()])
        assert dirs, "no populated sandbox cgroup: %s" % sandbox_cgroups()
        d = dirs[0]
        rd = lambda f: open(os.path.join(d, f)).read().strip()
        assert rd("memory.max") == str(64 << 20)
        assert rd("memory.swap.max") == "0"
        assert rd("pids.max") == "30"
        assert rd("cpu.max") == "50000 100000"
        procs = rd("cgroup.procs").split()
        sup.kill()
        sup.wait(timeout=30)
        g = zb("gc")
        assert g.returncode == 0 and re.search(r"removed [1-9]\d* stale cgroup", g.stdout), g
        assert not mine()
        for pid in procs:
            assert wait_for(lambda: not os.path.exists("/proc/%s" % pid), timeout=10), pid
    finally:
        if sup.poll() is None:
            sup.kill()
            sup.wait()


def test_degraded_landlock_reported_in_the_result():
    """6.1 has Landlock ABI 2: the scopes (ABI 6) are missing, and the
    result says so rather than listing landlock as fully applied."""
    abi = zb("doctor").stdout
    m = re.search(r"^landlock\s+yes\s+ABI (\d+)", abi, re.M)
    assert m, abi
    p, j = run_json("--", "true")
    if int(m.group(1)) < 6:
        assert "landlock" in j["layers"]["applied"] and "landlock_scopes" in j["layers"]["skipped"], j
        assert "no signal/socket scoping" in abi
    else:
        assert "landlock_scopes" not in j["layers"]["skipped"], j


def test_doctor_reports_what_is_missing():
    d = zb("doctor", "--json")
    items = {i["name"]: i for i in json.loads(d.stdout)["checks"]}
    assert items["limits path"]["ok"] and "directly" in items["limits path"]["detail"], items["limits path"]
    for name in ("landlock", "idmapped mounts", "overlayfs in userns"):
        assert name in items and items[name]["detail"], (name, items)


def test_ordinary_user_without_systemd_fails_closed_with_the_hint():
    p = zb("run", "--memory", "32m", "--", "true", who=AS_NOBODY)
    assert p.returncode == 125, p
    assert "layer resources" in p.stderr and "loginctl enable-linger" in p.stderr, p.stderr
    d = zb("doctor", "--json", who=AS_NOBODY)
    path = {i["name"]: i for i in json.loads(d.stdout)["checks"]}["limits path"]
    assert not path["ok"] and "systemd is not running" in path["detail"], path
    p, j = run_json("--allow-unenforced", "--memory", "32m", "--", "true", who=AS_NOBODY)
    assert j["status"] == "exited" and "resources" in j["layers"]["skipped"], j
