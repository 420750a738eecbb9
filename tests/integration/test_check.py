"""zonebox check and zonebox doctor.

check must pass with the default policy (as root and as uid 65534 with a
delegated cgroup). Each probe must also be able to fail: run on the host
(as root, in a private mount namespace so that the mount probe cannot touch
the host's /dev/shm) with no sandbox at all, every probe reports FAIL; and
with a layer switched off in the policy, that layer's probes report FAIL.
"""

import json
import os
import socket
import subprocess
import time

import pytest

from conftest import AS_NOBODY, DELEGATED, ZONEBOX, poll, zonebox_cgroups

TIMEOUT = 120


def check(*args, who="root"):
    argv = [ZONEBOX, "check", "--json"] + list(args)
    if who == "nobody":
        argv = AS_NOBODY + [ZONEBOX, "check", "--json", "--cgroup-parent", DELEGATED] + list(args)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, cwd="/")
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        raise AssertionError("check printed no JSON: rc=%d %r %r" % (p.returncode, p.stdout, p.stderr))
    return p, doc, {(r["layer"], r["probe"]): r for r in doc["probes"]}


def _check_dirs():
    return {n for n in os.listdir("/tmp") if n.startswith("zonebox-check")}


@pytest.mark.parametrize("who", ["root", "nobody"])
def test_check_passes_with_the_default_policy(who):
    before = _check_dirs()  # other users' checks on the same machine
    p, doc, rows = check(who=who)
    failed = [r for r in doc["probes"] if r["result"] == "FAIL"]
    assert p.returncode == 0 and doc["ok"] and not failed, failed
    # The core of every layer is there and passed.
    for key in [("network", "host_loopback"), ("network", "host_address"), ("filesystem", "write_root"),
                ("filesystem", "host_file"), ("users", "setuid0"), ("capabilities", "all_zero"),
                ("seccomp", "mode"), ("seccomp", "unshare_userns"), ("landlock", "unlisted_file"),
                ("processes", "signal_host"), ("resources", "memory"), ("resources", "pids")]:
        assert rows[key]["result"] == "PASS", rows[key]
    # Nothing of the check is left on the host.
    # (one made meanwhile by another user's check is gone when theirs ends)
    assert poll(lambda: not (_check_dirs() - before), timeout=30), _check_dirs() - before


def test_check_table_and_exit_code():
    p = subprocess.run([ZONEBOX, "check"], capture_output=True, text=True, timeout=TIMEOUT, cwd="/")
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("LAYER")
    assert p.stdout.rstrip().splitlines()[-1].endswith("0 failed, 2 skipped")


def test_check_network_host_fails_network_probes():
    p, doc, rows = check("--network", "host")
    assert p.returncode == 1 and not doc["ok"]
    assert rows[("network", "host_loopback")]["result"] == "FAIL"
    assert rows[("network", "interfaces")]["result"] == "FAIL"
    # Landlock's abstract-socket scope (ABI >= 6) still stops this one...
    assert rows[("network", "host_abstract_unix")]["detail"].endswith("EPERM")
    # ...and with it off too, the host's socket is reachable.
    p, doc, rows = check("--network", "host", "--landlock", "false")
    assert rows[("network", "host_abstract_unix")]["result"] == "FAIL"


def test_check_seccomp_unconfined_fails_seccomp_probes():
    p, doc, rows = check("--seccomp", "unconfined")
    assert p.returncode == 1
    for name in ["mode", "unshare_userns", "ptrace", "bpf", "keyctl", "name_to_handle_at", "userfaultfd"]:
        assert rows[("seccomp", name)]["result"] == "FAIL", rows[("seccomp", name)]
    # Landlock forbids a restricted process any mount, in any namespace:
    # the namespace route to a mount needs both layers off.
    assert rows[("seccomp", "mount_in_new_userns")]["result"] == "PASS"
    p, doc, rows = check("--seccomp", "unconfined", "--landlock", "false")
    assert rows[("seccomp", "mount_in_new_userns")]["result"] == "FAIL", rows[("seccomp", "mount_in_new_userns")]


def test_check_landlock_off_fails_landlock_probes():
    p, doc, rows = check("--landlock", "false")
    assert p.returncode == 1
    assert rows[("landlock", "unlisted_file")]["result"] == "FAIL"
    assert rows[("landlock", "signal_init")]["result"] == "FAIL"


def test_check_user_root_fails_setuid_probe():
    p, doc, rows = check("--user", "0")
    assert rows[("users", "setuid0")]["result"] == "FAIL"


def test_check_no_limits_skips_limit_probes():
    p, doc, rows = check("--memory", "unlimited", "--pids-limit", "unlimited")
    assert rows[("resources", "memory")]["result"] == "SKIP"
    assert rows[("resources", "pids")]["result"] == "SKIP"


def test_check_limits_and_zones():
    d = "/tmp/zb-check-ro-%d" % os.getpid()
    os.makedirs(d, exist_ok=True)
    try:
        p, doc, rows = check("--memory", "64m", "--pids-limit", "32", "--tmpfs", "/scratch:size=4m",
                             "-v", d + ":/data:ro", "--timeout", "1s", "--cpu-time", "1s",
                             "--ulimit", "nofile=64")
        assert p.returncode == 0, [r for r in doc["probes"] if r["result"] != "PASS"]
        assert rows[("resources", "tmpfs_size:/scratch")]["result"] == "PASS"
        assert rows[("zones", "write_ro_zone:/data")]["result"] == "PASS"
        assert rows[("resources", "wall_time")]["result"] == "PASS"
        assert rows[("resources", "cpu_time")]["result"] == "PASS"
        assert "limit 64" in rows[("resources", "open_files")]["detail"]
    finally:
        os.rmdir(d)


def test_check_rejects_a_command_and_bad_flags():
    p = subprocess.run([ZONEBOX, "check", "--", "true"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 125 and "takes no command" in p.stderr
    p = subprocess.run([ZONEBOX, "check", "--bogus"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 125 and "--bogus" in p.stderr


def test_every_probe_fails_on_the_bare_host():
    """No sandbox at all (root, private mount namespace): every probe that
    applies must report FAIL, so none of them passes by construction."""
    lo = socket.socket()
    lo.bind(("127.0.0.1", 0))
    lo.listen(4)
    ab = socket.socket(socket.AF_UNIX)
    name = "zb-test-probe-%d" % os.getpid()
    ab.bind("\0" + name)
    ab.listen(4)
    canary = "/tmp/zb-test-canary-%d" % os.getpid()
    with open(canary, "w") as f:
        f.write("x")
    env = dict(os.environ, ZONEBOX_CHECK_CANARY="leaked")
    try:
        argv = ["unshare", "--mount", "--propagation", "private", ZONEBOX, "__probe",
                "--host-pid", str(os.getpid()), "--port", str(lo.getsockname()[1]),
                "--ext-ip", "127.0.0.1", "--ext-port", str(lo.getsockname()[1]),
                "--abstract", name, "--canary", canary, "--hostname", "zonebox-not-this-host",
                "--memory", str(64 << 20), "--pids", "32", "--open-files", "64"]
        extra = os.open("/dev/null", os.O_RDONLY)  # an inherited fd
        p = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, env=env,
                           pass_fds=(extra,))
        os.close(extra)
    finally:
        lo.close()
        ab.close()
        os.unlink(canary)
    assert p.returncode == 0, p.stderr
    rows = [line.split("\t") for line in p.stdout.splitlines()]
    verdicts = {(r[0], r[1]): r[2] for r in rows}
    passed = [r for r in rows if r[2] == "PASS"]
    assert not passed, passed
    # The run covered the probes, not just a few.
    assert sum(1 for v in verdicts.values() if v == "FAIL") >= 30, rows
    assert not [n for n in os.listdir("/") if n.startswith(".zonebox-check-")]
    assert not [n for n in os.listdir("/dev/shm") if n.startswith(".zonebox-check")]


def test_doctor():
    p = subprocess.run([ZONEBOX, "doctor", "--json"], capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stdout + p.stderr
    doc = json.loads(p.stdout)
    names = {c["name"]: c for c in doc["checks"]}
    assert doc["default_policy_runs"] is True
    for name in ["user namespaces", "cgroup memory", "cgroup pids", "seccomp filter", "landlock",
                 "pidfd, clone3", "default sandbox"]:
        assert names[name]["ok"], names[name]
    assert names["landlock"]["detail"].startswith("ABI ")
    # The table form has the same lines.
    p = subprocess.run([ZONEBOX, "doctor"], capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0 and "default sandbox" in p.stdout


def test_doctor_unprivileged_without_cgroup_says_so():
    p = subprocess.run(AS_NOBODY + [ZONEBOX, "doctor", "--json"], capture_output=True, text=True,
                       timeout=TIMEOUT)
    doc = json.loads(p.stdout)
    names = {c["name"]: c for c in doc["checks"]}
    assert p.returncode == 1 and doc["default_policy_runs"] is False
    assert "layer resources" in names["default sandbox"]["detail"]
    assert names["cgroup memory"]["ok"] is False
    assert names["unprivileged userns"]["ok"] is True


def test_doctor_bad_flag():
    p = subprocess.run([ZONEBOX, "doctor", "--bogus"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 125
