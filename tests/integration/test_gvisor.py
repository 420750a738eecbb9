"""gVisor through the oci backend (--runtime runsc / gvisor): what only
runsc needs beyond test_engines.py's shared tests (the seed's three
security tests and the OOM verdict run there on runc, crun, runsc and
podman). Each test starts real runsc sandboxes; runsc starts slowly (about
a second each here), so the cases are few and each prints its time. Skips
only when runsc itself cannot run a container here, with its reason."""

import json
import os
import signal
import subprocess
import time

import pytest

from conftest import ZONEBOX, poll, pids_exact, unique_sleep_arg
from test_engines import RUNSC, Engine, _cgroups_left, engine_reason, zonebox


@pytest.fixture
def gv():
    why = engine_reason("runsc")
    if why:
        pytest.skip(why)
    e = Engine("runsc")
    t0 = time.monotonic()
    yield e
    print("runsc: %.2f s" % (time.monotonic() - t0))
    assert e.ours_left() == [], "runsc containers left behind: %s" % e.ours_left()
    assert _cgroups_left() == [], "cgroups left behind: %s" % _cgroups_left()


def test_gvisor_kernel_alias_and_accounting(gv):
    # "gvisor" is runsc; the command runs on gVisor's kernel, not the host's.
    p = zonebox("run", "--json", "--backend", "oci", "--runtime", "gvisor", "--",
                "python3", "-c", "import os; sum(range(3 * 10**6)); print(os.uname().release)")
    r = json.loads(p.stdout)
    assert r["status"] == "exited" and r["exit_code"] == 0, r
    assert r["stdout"].strip() != os.uname().release, r
    # CPU time and peak memory come from the container's cgroup (zonebox's own).
    assert r["cpu_user_ms"] + r["cpu_sys_ms"] > 0 and r["peak_memory_bytes"], r
    assert "landlock" in r["layers"]["skipped"] and "seccomp" in r["layers"]["applied"], r


def test_gvisor_output_follows_the_file_offset(gv, tmp_path):
    """The Sentry writes a host file from its own offset 0: without the
    pipe zonebox puts between, `{ echo before; zonebox run ...; } > log`
    would overwrite what the shell wrote first (O_APPEND would hide it)."""
    log = tmp_path / "log"
    with open(log, "w") as f:
        f.write("before\n")
        f.flush()
        rc = subprocess.run([ZONEBOX, "run", *gv.flags, "--", "echo", "hi"], stdout=f,
                            stderr=subprocess.DEVNULL, cwd="/", timeout=120).returncode
    assert rc == 0
    assert log.read_text() == "before\nhi\n"


def test_gvisor_platform_option(gv):
    # A bad value is one line naming the flag, exit 125, nothing started.
    p = zonebox("run", *gv.flags, "--runsc-platform", "bogus", "--", "true")
    assert p.returncode == 125 and "--runsc-platform" in p.stderr and p.stderr.count("\n") == 1, p
    # kvm without /dev/kvm: runsc's own message in setup_error.
    if os.path.exists("/dev/kvm"):
        return
    p = zonebox("run", "--json", *gv.flags, "--runsc-platform", "kvm", "--", "true")
    r = json.loads(p.stdout)
    assert r["status"] == "setup_error" and "kvm" in r["error"].lower() and p.returncode != 0, r


def test_gvisor_killed_supervisor_leaves_nothing(gv):
    """SIGKILL of zonebox: runsc's state and zonebox's cgroup are gone after the next run."""
    arg = unique_sleep_arg()
    proc = subprocess.Popen([ZONEBOX, "run", *gv.flags, "--", "sleep", arg], cwd="/",
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert poll(lambda: gv.known(), timeout=60), "the container never showed up"
        time.sleep(1)
        proc.kill()
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert gv.run("--", "true").returncode == 0
    assert poll(lambda: gv.ours_left() == [], timeout=60), gv.ours_left()
    assert poll(lambda: _cgroups_left() == [], timeout=30), _cgroups_left()


def test_gvisor_check_runs_the_probes_inside():
    why = engine_reason("runsc")
    if why:
        pytest.skip(why)
    p = zonebox("check", "--json", "--backend", "oci", "--runtime", "runsc", timeout=300)
    out = json.loads(p.stdout)
    rows = {(r["layer"], r["probe"]): r for r in out["probes"]}
    assert out["failed"] == 0 and p.returncode == 0, [r for r in out["probes"] if r["result"] == "FAIL"]
    # Run in gVisor, and saying so where gVisor differs.
    assert rows[("seccomp", "syscall_surface")]["result"] == "SKIP"
    assert "gVisor" in rows[("filesystem", "mknod")]["detail"]
    assert rows[("resources", "memory")]["result"] == "PASS" and "oom" in rows[("resources", "memory")]["detail"]
    assert rows[("network", "interfaces")]["result"] == "PASS"
