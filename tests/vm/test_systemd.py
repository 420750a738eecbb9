"""Limits for an ordinary user with no setup, on a systemd host: inside the
tests/vm guest with systemd as PID 1 (tests/vm/check runs it as root;
elsewhere it skips, saying so). The user logs in (runuser -l: pam_systemd
gives a session scope, which is not delegated) and lingers, so
user@UID.service runs; zonebox asks it for a transient scope with
Delegate=yes. Also: zonebox as root inside a service's cgroup, with
Delegate=yes and without (the no-internal-processes rule)."""

import json
import os
import pwd
import re
import shlex
import signal
import subprocess
import time

import pytest

ZONEBOX = os.environ.get("ZONEBOX", os.path.join(os.path.dirname(__file__), "../../build/zonebox"))
USER = "zbuser"
CG = "/sys/fs/cgroup"

pytestmark = pytest.mark.skipif(not (os.environ.get("ZB_VM_CELL") and os.path.isdir("/run/systemd/system")),
                                reason="runs inside a tests/vm guest with systemd (make check-vm)")


@pytest.fixture(scope="module")
def uid():
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", USER], check=True)
    u = pwd.getpwnam(USER).pw_uid
    subprocess.run(["loginctl", "enable-linger", USER], check=True)
    end = time.monotonic() + 120
    while subprocess.run(["systemctl", "is-active", "-q", "user@%d.service" % u]).returncode != 0:
        assert time.monotonic() < end, "user@%d.service did not start" % u
        time.sleep(0.2)
    return u


def as_user(args, **kw):
    """ARGS as USER in a login session (pam_systemd: session-N.scope)."""
    line = "cd / && exec " + " ".join(shlex.quote(a) for a in args)
    return ["runuser", "-l", USER, "-c", line]


def user_run(*args, timeout=180):
    return subprocess.run(as_user([ZONEBOX] + list(args)), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def user_json(*args):
    p = user_run("run", "--json", *args)
    try:
        return json.loads(p.stdout)
    except ValueError:
        raise AssertionError(p)


def user_scopes(uid):
    base = "%s/user.slice/user-%d.slice/user@%d.service" % (CG, uid, uid)
    found = []
    for root, dirs, _ in os.walk(base):
        found += [os.path.join(root, d) for d in dirs if re.fullmatch(r"zonebox-\d+-\d+\.scope", d)]
    return found


def user_units(uid):
    p = subprocess.run(["systemctl", "--user", "-M", "%s@" % USER, "list-units", "--all", "--plain",
                        "--no-legend", "zonebox*"], capture_output=True, text=True)
    return p.stdout.strip()


def wait_for(pred, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return pred()


def test_session_scope_is_not_delegated(uid):
    """The starting point: a login shell's cgroup cannot take children."""
    p = subprocess.run(as_user(["cat", "/proc/self/cgroup"]), capture_output=True, text=True)
    assert re.search(r"^0::/user.slice/user-%d.slice/session-\w+\.scope$" % uid, p.stdout, re.M), p


def test_user_oom_through_a_delegated_scope(uid):
    j = user_json("--memory", "32m", "--", "python3", "-c", "bytearray(100 << 20)")
    assert j["status"] == "oom" and j["oom_killed"], j
    assert "resources" in j["layers"]["applied"], j
    assert 16 << 20 <= j["peak_memory_bytes"] <= 32 << 20, j
    assert wait_for(lambda: not user_scopes(uid), 30), user_scopes(uid)


def test_user_cpu_time_and_pids(uid):
    j = user_json("--cpu-time", "1", "--", "sh", "-c", "while :; do :; done")
    assert j["status"] == "cpu_timeout", j
    code = ("import os, time\nn = 0\ntry:\n    while n < 200:\n        if os.fork() == 0:\n"
            "            time.sleep(30)\n            os._exit(0)\n        n += 1\n"
            "except OSError as e:\n    print('stopped', n, e.errno)\n")
    j = user_json("--pids-limit", "20", "--", "python3", "-c", code)
    assert j["status"] == "exited", j
    m = re.search(r"stopped (\d+) 11", j["stdout"])
    assert m and int(m.group(1)) < 20, j


def test_user_limit_files_and_sigkill_cleanup(uid):
    """memory.max, pids.max, cpu.max in the sandbox cgroup inside the scope;
    after SIGKILL of zonebox, gc kills the scope and systemd removes it."""
    p = subprocess.Popen(as_user([ZONEBOX, "run", "--memory", "64m", "--pids-limit", "30", "--cpus", "0.5",
                                  "--", "sleep", "300"]), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        def sandbox():
            for s in user_scopes(uid):
                for d in os.listdir(s):
                    f = os.path.join(s, d, "cgroup.procs")
                    if re.fullmatch(r"zonebox-\d+-\d+-\d+", d) and os.path.exists(f) and open(f).read().strip():
                        return os.path.join(s, d)
        d = wait_for(sandbox)
        assert d, "no sandbox cgroup in a zonebox scope: %s" % user_scopes(uid)
        rd = lambda f: open(os.path.join(d, f)).read().strip()
        assert rd("memory.max") == str(64 << 20) and rd("pids.max") == "30" and rd("cpu.max") == "50000 100000"
        if os.path.exists(os.path.join(d, "memory.swap.max")):
            assert rd("memory.swap.max") == "0"
        sup = int(os.path.basename(d).split("-")[1])
        os.kill(sup, signal.SIGKILL)
        p.wait(timeout=30)
        g = user_run("gc")
        assert g.returncode == 0, g
        assert wait_for(lambda: not user_scopes(uid), 30), user_scopes(uid)
        assert not user_units(uid)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_user_next_run_kills_a_stale_scope(uid):
    """After SIGKILL of zonebox, nothing stays: its sandbox dies with it
    (parent-death signal), systemd removes the emptied scope, and the next
    run (in a new scope) kills any stale scope that still holds a process."""
    p = subprocess.Popen(as_user([ZONEBOX, "run", "--memory", "64m", "--", "sleep", "300"]),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        scope = wait_for(lambda: user_scopes(uid))
        assert scope, "no zonebox scope while running"
        name = os.path.basename(scope[0])
        sup = int(name.split("-")[1])
        os.kill(sup, signal.SIGKILL)
        p.wait(timeout=30)
        j = user_json("--memory", "64m", "--", "true")
        assert j["status"] == "exited" and "resources" in j["layers"]["applied"], j
        assert wait_for(lambda: not user_scopes(uid), 30), user_scopes(uid)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_user_session_uses_the_scope(uid):
    s = user_run("session", "start", "--memory", "64m")
    assert s.returncode == 0, s
    sid = s.stdout.strip()
    try:
        e = user_run("session", "exec", sid, "--json", "--", "python3", "-c", "bytearray(100 << 20)")
        assert json.loads(e.stdout)["status"] == "oom", e
        assert user_scopes(uid)
    finally:
        st = user_run("session", "stop", sid)
    assert st.returncode == 0, st
    assert wait_for(lambda: not user_scopes(uid), 30), user_scopes(uid)


def test_user_doctor_names_the_systemd_path(uid):
    d = user_run("doctor", "--json")
    path = {i["name"]: i for i in json.loads(d.stdout)["checks"]}["limits path"]
    assert path["ok"] and "Delegate=yes" in path["detail"], path


@pytest.mark.parametrize("delegate", ["yes", "no"])
def test_root_inside_a_service(delegate):
    """zonebox as a service's main process: with Delegate=yes its own
    cgroup is used (moving itself into a leaf); without, the service cgroup
    is systemd's, and a scope of its own is asked for."""
    p = subprocess.run(["systemd-run", "--quiet", "--wait", "--pipe", "--collect", "-p", "Delegate=%s" % delegate,
                        ZONEBOX, "run", "--json", "--memory", "32m", "--", "python3", "-c", "bytearray(100 << 20)"],
                       capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    j = json.loads(p.stdout)
    assert j["status"] == "oom" and "resources" in j["layers"]["applied"], (p, j)
