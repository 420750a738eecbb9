"""The docker, oci and kubernetes backends (src/engines/): the same policy
through other engines. Real containers where this machine has the engine:
runc for the oci backend, Podman (daemonless, with --runtime runc) for the
docker backend. Each case checks effects from inside and from the host (the
container is gone afterwards). Each engine is probed with its own CLI: a
missing or broken engine is a skip with its reason (which no allowlist
accepts), never a pass, and zonebox failing on an engine that works fails. Exports are checked field by field; Kubernetes manifests also
against the API schemas when the kubernetes-models npm package is
installable here."""

import errno
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time

import pytest

from conftest import (ZONEBOX, RUN_TIMEOUT, accepted_nothing, pids_exact, poll, tcp_listener,
                      unique_sleep_arg)

RUNC = shutil.which("runc")
CRUN = shutil.which("crun")
PODMAN = shutil.which("podman")
RUNSC = shutil.which("runsc")


def zonebox(*args, timeout=RUN_TIMEOUT, input="", env=None):
    return subprocess.run([ZONEBOX] + list(args), capture_output=True, text=True, cwd="/",
                          timeout=timeout, input=input, env=env)


# ------------------------------------------------------------------ engines here
#
# Each engine is probed with its own CLI on a bundle zonebox did not make (a
# read-only root with the host's /usr, "sh -c 'exit 7'"). When the engine
# itself cannot run a container here, its tests skip with that reason (which
# tests/skips.allow does not list, so the run fails); when it can, zonebox's
# backend on it must work: its failure fails the tests, never skips them.

PROBE_CONFIG = {
    "ociVersion": "1.0.2",
    "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "cwd": "/",
                "args": ["/usr/bin/sh", "-c", "exit 7"], "env": ["PATH=/usr/bin:/bin"],
                "noNewPrivileges": True},
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "probe",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
        {"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]},
    ],
    "linux": {"namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")]},
}


def _probe_bundle():
    d = tempfile.mkdtemp(prefix="zb-engine-probe-")
    root = os.path.join(d, "rootfs")
    os.makedirs(os.path.join(root, "usr"))
    for name in ("bin", "lib", "lib64", "sbin"):
        if os.path.islink("/" + name):  # merged /usr
            os.symlink(os.readlink("/" + name), os.path.join(root, name))
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(PROBE_CONFIG, f)
    return d


def _own_cli_argv(name, bundle, cid):
    if name == "runc":
        return [RUNC, "run", "--bundle", bundle, cid]
    if name == "crun":
        # crun refuses a hybrid host's cgroup v2 mount: it runs in a private
        # mount namespace without it (what this machine needs, not zonebox).
        return ["unshare", "-m", "--propagation", "private", "sh", "-c",
                'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"', "sh",
                CRUN, "run", "--bundle", bundle, cid]
    if name == "runsc":
        return [RUNSC, "--network=none", "run", "--bundle", bundle, cid]
    return [PODMAN, "--runtime", RUNC or "runc", "run", "--rm", "--network", "none",
            "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "-v", "/usr:/usr:ro",
            "--rootfs", os.path.join(bundle, "rootfs"), "/usr/bin/sh", "-c", "exit 7"]


def _probe_engine(name):
    """None when ENGINE's own CLI runs a container here, else why not."""
    path = {"runc": RUNC, "crun": CRUN, "runsc": RUNSC, "podman": PODMAN}[name]
    if not path:
        return "%s is not installed (scripts/install-deps installs it)" % name
    if name == "podman" and not RUNC:
        return "runc is not installed (podman here runs with --runtime runc)"
    bundle = _probe_bundle()
    cid = "zbprobe-%s-%d" % (name, os.getpid())
    try:
        p = subprocess.run(_own_cli_argv(name, bundle, cid), capture_output=True, text=True,
                           cwd="/", timeout=120)
    finally:
        if name != "podman":
            subprocess.run([path, "delete", "--force", cid], capture_output=True, timeout=60)
        shutil.rmtree(bundle, ignore_errors=True)
    if p.returncode != 7:
        return "%s itself cannot run a container here (its own CLI, rc=%d): %s" % (
            name, p.returncode, p.stderr.strip()[-300:])
    return None


_PROBES = {}


def engine_reason(name):
    if name not in _PROBES:
        _PROBES[name] = _probe_engine(name)
    return _PROBES[name]


class Engine:
    """zonebox run with one engine backend."""

    def __init__(self, name):
        self.name = name
        if name == "runc":
            self.flags = ["--backend", "oci", "--runtime", "runc"]
        elif name in ("crun", "runsc"):
            self.flags = ["--backend", "oci", "--runtime", name]
        else:
            self.flags = ["--backend", "docker", "--engine-cli", "podman", "--runtime", "runc"]

    def run(self, *args, **kw):
        return zonebox("run", *self.flags, *args, **kw)

    def json(self, *args, **kw):
        p = self.run("--json", *args, **kw)
        try:
            return p, json.loads(p.stdout)
        except ValueError:
            raise AssertionError("no JSON: rc=%s stdout=%r stderr=%r" % (p.returncode, p.stdout, p.stderr))

    def py_json(self, tmp, code, *flags):
        d = tmp.script_dir(code)
        p = self.run("-v", d + ":/input:ro", *flags, "--", "python3", "/input/test.py")
        assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
        return json.loads(p.stdout)

    def ours_left(self):
        """Names of zonebox containers the engine still knows whose supervisor
        is gone (other helpers' live runs share runsc's root and podman's store)."""
        return [n for n in self.known() if _supervisor_gone(n)]

    def known(self):
        """Names of zonebox containers the engine knows, live or not."""
        if self.name == "podman":
            out = subprocess.run([PODMAN, "ps", "-a", "--format", "{{.Names}}"], capture_output=True,
                                 text=True, timeout=60).stdout
            return [n for n in out.split() if n.startswith("zonebox-")]
        rt = {"runc": RUNC, "crun": CRUN, "runsc": RUNSC}[self.name]
        out = subprocess.run([rt, "list", "--format", "json"], capture_output=True, text=True,
                             timeout=60).stdout.strip()
        return [c["id"] for c in json.loads(out or "null") or [] if c["id"].startswith("zonebox-")]


def _engine(name):
    why = engine_reason(name)
    if why:
        pytest.skip(why)
    e = Engine(name)
    t0 = time.monotonic()
    yield e
    # runsc starts slowly: the cost per engine is printed (pytest -s, or on failure).
    print("%s: %.2f s" % (name, time.monotonic() - t0))
    assert e.ours_left() == [], "containers left behind: %s" % e.ours_left()
    assert _cgroups_left() == [], "cgroups left behind: %s" % _cgroups_left()


def _supervisor_gone(name):
    parts = name.split("-")
    return not (len(parts) >= 3 and parts[1].isdigit() and os.path.exists("/proc/%s" % parts[1]))


def _cgroups_left():
    """zonebox's cgroups under our own memory cgroup whose supervisor is gone."""
    own = [l.split(":", 2)[2].strip() for l in open("/proc/self/cgroup") if l.split(":")[1] == "memory"]
    d = "/sys/fs/cgroup/memory" + (own[0] if own and own[0] != "/" else "")
    left = []
    for n in os.listdir(d) if os.path.isdir(d) else []:
        parts = n.split("-")
        if n.startswith("zonebox-") and len(parts) >= 3 and parts[1].isdigit() and \
                not os.path.exists("/proc/%s" % parts[1]):
            left.append(n)
    return left


@pytest.fixture(params=["runc", "podman"])
def eng(request):
    yield from _engine(request.param)


# The seed's three security tests and the memory limit on every engine
# zonebox drives here; the longer lifecycle tests only on runc and podman.
@pytest.fixture(params=["runc", "crun", "runsc", "podman"])
def any_eng(request):
    yield from _engine(request.param)


# ------------------------------------------------------------------ the three Docker security tests

def test_engine_network_is_blocked(any_eng, tmp):
    eng = any_eng
    listener = tcp_listener("127.0.0.1")
    port = listener.getsockname()[1]
    try:
        code = r"""
import json, socket
out = {}
for name, addr in (('host_lo', ('127.0.0.1', %d)), ('internet', ('8.8.8.8', 53))):
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect(addr)
        out[name] = 'connected'
    except OSError as e:
        out[name] = e.errno
print(json.dumps(out))
""" % port
        out = eng.py_json(tmp, code)
        assert out["host_lo"] == errno.ECONNREFUSED, out
        # gVisor's own netstack (only lo) says EHOSTUNREACH where Linux says ENETUNREACH.
        assert out["internet"] in ((errno.ENETUNREACH, errno.EHOSTUNREACH) if eng.name == "runsc"
                                   else (errno.ENETUNREACH,)), out
        assert accepted_nothing(listener)
    finally:
        listener.close()


def test_engine_root_is_read_only(any_eng, tmp):
    eng = any_eng
    code = r"""
import json, os
out = {}
for path in ('/test.txt', '/etc/test.txt', '/usr/test.txt', '/tmp/test.txt', '/run/test.txt'):
    try:
        open(path, 'w').close()
        out[path] = 'written'
    except OSError as e:
        out[path] = e.errno
print(json.dumps(out))
"""
    out = eng.py_json(tmp, code)
    for path in ("/test.txt", "/etc/test.txt", "/usr/test.txt"):
        # gVisor checks the (root-owned) directory's permission before the
        # read-only mount: EACCES for the sandbox's user 1000.
        assert out[path] in ((errno.EROFS, errno.EACCES) if eng.name == "runsc" else (errno.EROFS,)), out
    # /tmp is the policy's own tmpfs (as in the namespace backend); no writable
    # /run (podman would add one without --read-only-tmpfs=false).
    assert out["/tmp/test.txt"] == "written", out
    assert out["/run/test.txt"] in (errno.ENOENT, errno.EROFS), out
    assert not os.path.exists("/test.txt") and not os.path.exists("/usr/test.txt")


def test_engine_setuid_fails(any_eng, tmp):
    eng = any_eng
    code = r"""
import json, os
out = {'uid': os.getuid(), 'euid': os.geteuid()}
for name, fn in (('setuid', lambda: os.setuid(0)), ('setgid', lambda: os.setgid(0))):
    try:
        fn()
        out[name] = 'ok'
    except OSError as e:
        out[name] = e.errno
for line in open('/proc/self/status'):
    k, _, v = line.partition(':')
    if k in ('CapEff', 'CapPrm', 'CapBnd', 'CapAmb', 'NoNewPrivs'):
        out[k] = v.strip()
out['uid_map'] = [list(map(int, l.split())) for l in open('/proc/self/uid_map')]
import ctypes
out['nnp_prctl'] = ctypes.CDLL(None).prctl(39, 0, 0, 0, 0)  # PR_GET_NO_NEW_PRIVS
print(json.dumps(out))
"""
    out = eng.py_json(tmp, code)
    assert out["uid"] == 1000 and out["euid"] == 1000
    assert out["setuid"] in (errno.EPERM, errno.EINVAL) and out["setgid"] in (errno.EPERM, errno.EINVAL)
    # gVisor's /proc/self/status has no CapAmb line.
    for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb") if eng.name != "runsc" else ("CapEff", "CapPrm", "CapBnd"):
        assert int(out[k], 16) == 0, out
    # gVisor's /proc/self/status has no NoNewPrivs line; prctl answers everywhere.
    assert out.get("NoNewPrivs", "1") == "1" and out["nnp_prctl"] == 1, out
    if eng.name == "runsc":
        # gVisor's kernel shows its own identity map: the host side is the
        # Sentry's, not the command's (docs/engines.md, gVisor).
        return
    # The sandbox's user is 65534 outside, never host root; no range maps host 0.
    assert [1000, 65534, 1] in out["uid_map"], out
    assert all(host != 0 for _, host, _ in out["uid_map"]), out


# ------------------------------------------------------------------ zones

def test_engine_zones(eng, tmp):
    ro = tmp.mkdir("ro")
    with open(os.path.join(ro, "in.txt"), "w") as f:
        f.write("data")
    os.chmod(os.path.join(ro, "in.txt"), 0o644)
    rw = tmp.mkdir("rw", owner=65534)
    code = r"""
import json, os
out = {'read': open('/data/in.txt').read()}
for path in ('/data/x', '/output/y', '/scratch/z'):
    try:
        with open(path, 'w') as f:
            f.write('hello')
        out[path] = 'written'
    except OSError as e:
        out[path] = e.errno
st = os.statvfs('/scratch')
out['scratch_bytes'] = st.f_blocks * st.f_frsize
print(json.dumps(out))
"""
    out = eng.py_json(tmp, code, "-v", ro + ":/data:ro", "-v", rw + ":/output",
                      "--tmpfs", "/scratch:size=16m")
    assert out["read"] == "data"
    assert out["/data/x"] == errno.EROFS
    assert out["/output/y"] == "written" and out["/scratch/z"] == "written"
    assert out["scratch_bytes"] == 16 << 20
    with open(os.path.join(rw, "y")) as f:
        assert f.read() == "hello"
    assert os.stat(os.path.join(rw, "y")).st_uid == 65534
    assert not os.path.exists(os.path.join(ro, "x"))


# ------------------------------------------------------------------ verdicts

def test_engine_exit_codes(eng):
    p, r = eng.json("--", "sh", "-c", "echo out; echo err >&2; exit 7")
    assert p.returncode == 7 and r["status"] == "exited" and r["exit_code"] == 7, r
    assert r["stdout"] == "out\n" and "err\n" in r["stderr"]
    assert r["backend"] == ("oci" if eng.name != "podman" else "docker")
    assert "landlock" in r["layers"]["skipped"]
    for layer in ("net", "capabilities", "no_new_privileges", "seccomp", "rootfs_readonly", "user"):
        assert layer in r["layers"]["applied"], (layer, r["layers"])
    p, r = eng.json("--", "sh", "-c", "kill -TERM $$")
    assert r["status"] == "signaled" and r["signal"] == signal.SIGTERM and p.returncode == 143, r
    p = eng.run("--", "sh", "-c", "exit 0")
    assert p.returncode == 0


def test_engine_timeout(eng):
    t0 = time.monotonic()
    p, r = eng.json("--timeout", "1s", "--", "sleep", "30")
    assert r["status"] == "timeout" and p.returncode == 124, r
    assert time.monotonic() - t0 < 15
    assert "wall_time" in r["layers"]["applied"]


def test_engine_oom(any_eng):
    """An OOM kill is "oom" on every engine: runc from the kept cgroup, runsc
    from zonebox's own cgroup, crun and podman (which remove theirs, and
    podman's inspect never says OOMKilled here) from the kernel's record of
    the kill. A SIGKILL under the same limit stays "signaled"."""
    eng = any_eng
    p, r = eng.json("--memory", "64m", "--", "python3", "-c", "x = bytearray(512 << 20)")
    assert r["status"] == "oom" and r["oom_killed"] is True and p.returncode == 137, r
    if eng.name in ("runc", "runsc"):
        assert r["peak_memory_bytes"] and r["peak_memory_bytes"] <= (64 << 20) + (1 << 20), r
    p, r = eng.json("--memory", "64m", "--", "sh", "-c", "kill -9 $$")
    assert r["status"] == "signaled" and r["oom_killed"] is False and p.returncode == 137, r


def test_engine_interrupted_leaves_nothing(eng):
    arg = unique_sleep_arg()
    proc = subprocess.Popen([ZONEBOX, "run", *eng.flags, "--", "sleep", arg], cwd="/",
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert poll(lambda: eng.known(), timeout=30), "the container never showed up"
        # The command itself runs (seen from the host), not only the container's record.
        assert poll(lambda: pids_exact(["sleep", arg]), timeout=30), "the command never started"
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 128 + signal.SIGTERM, (rc, proc.stderr.read())
    assert eng.ours_left() == []


def test_engine_killed_supervisor_is_collected(eng):
    """SIGKILL leaves the container behind; the next run removes it."""
    arg = unique_sleep_arg()
    proc = subprocess.Popen([ZONEBOX, "run", *eng.flags, "--", "sleep", arg], cwd="/",
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert poll(lambda: eng.known(), timeout=30)
        assert poll(lambda: pids_exact(["sleep", arg]), timeout=30), "the command never started"
        proc.kill()
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # its run dir (bundle, rootfs) stays until a later run or zonebox gc
    assert _bundles(proc.pid), "the killed run's dir was not where expected"
    # The engine's client got SIGTERM (parent-death signal) and passed it on.
    assert eng.run("--", "true").returncode == 0
    assert poll(lambda: eng.ours_left() == [], timeout=30), eng.ours_left()
    assert not _bundles(proc.pid), "the next run left the killed run's bundle"


def _bundles(pid):
    return [d for d in os.listdir("/tmp") if d.startswith(("zonebox-oci-zonebox-%d-" % pid,
                                                             "zonebox-docker-zonebox-%d-" % pid))]


def _start_time(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def test_gc_removes_run_dirs_of_killed_engine_runs():
    """zonebox gc removes an oci bundle or docker run dir whose supervisor is
    gone (by the pid and start time in its name) and keeps one whose
    supervisor lives."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    gone = ["/tmp/zonebox-%s-zonebox-%d-12345-0-Zbtest" % (k, dead.pid) for k in ("oci", "docker")]
    live = "/tmp/zonebox-oci-zonebox-%d-%d-0-Zbtest" % (os.getpid(), _start_time(os.getpid()))
    for d in gone + [live]:
        os.makedirs(os.path.join(d, "rootfs", "etc"))
        open(os.path.join(d, "config.json"), "w").close()
    try:
        r = subprocess.run([ZONEBOX, "gc"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r
        assert not [d for d in gone if os.path.exists(d)], "gc left a dead supervisor's run dir"
        assert os.path.exists(os.path.join(live, "config.json")), "gc removed a live supervisor's bundle"
    finally:
        for d in gone + [live]:
            shutil.rmtree(d, ignore_errors=True)


def test_engine_output_captured_and_capped(eng):
    p, r = eng.json("--output-limit", "1k", "--", "sh", "-c", "head -c 5000 /dev/zero | tr '\\0' a")
    assert r["status"] == "exited" and len(r["stdout"]) == 1024 and r["stdout_truncated"] is True


def test_crun_runs_when_crun_does():
    why = engine_reason("crun")
    if why:
        pytest.skip(why)
    p, r = Engine("crun").json("--", "sh", "-c", "exit 3")
    assert r["status"] == "exited" and r["exit_code"] == 3, r


def test_runsc_runs_when_runsc_does():
    why = engine_reason("runsc")
    if why:
        pytest.skip(why)
    p, r = Engine("runsc").json("--", "sh", "-c", "exit 3")
    assert r["status"] == "exited" and r["exit_code"] == 3, r


# ------------------------------------------------------------------ podman with an image

def test_podman_with_imported_image(tmp):
    why = engine_reason("podman")
    if why:
        pytest.skip(why)
    image = "localhost/zonebox-test-tiny:latest"
    d = tmp.mkdir("img")
    tar_path = os.path.join(d, "rootfs.tar")
    # A tiny rootfs: dash and the libraries it loads.
    libs = subprocess.run(["ldd", "/bin/dash"], capture_output=True, text=True).stdout
    paths = ["/bin/dash"] + [w for line in libs.splitlines() for w in line.split() if w.startswith("/")]
    with tarfile.open(tar_path, "w") as t:
        for path in paths:
            real = os.path.realpath(path)
            t.add(real, arcname=path.lstrip("/"))
        t.add("/bin/dash", arcname="bin/sh")
    subprocess.run([PODMAN, "import", tar_path, image], check=True, capture_output=True, timeout=120)
    try:
        p = zonebox("run", "--backend", "docker", "--engine-cli", "podman", "--runtime", "runc",
                    "--image", image, "--json", "--", "/bin/sh", "-c", "echo hi > /dev/stdout; echo x > /f; exit 3",
                    timeout=120)
        r = json.loads(p.stdout)
        assert r["status"] == "exited" and r["exit_code"] == 3, r
        assert r["stdout"] == "hi\n" and "Read-only" in r["stderr"], r
        assert "user" in r["layers"]["skipped"], r
    finally:
        subprocess.run([PODMAN, "rmi", "-f", image], capture_output=True, timeout=120)


def test_docker_cli_without_image_is_refused():
    p = zonebox("run", "--backend", "docker", "--engine-cli", "/bin/true", "--", "true")
    assert p.returncode == 125
    assert p.stderr.count("\n") == 1 and "image" in p.stderr, p.stderr


# ------------------------------------------------------------------ export docker

def test_export_docker_default():
    p = zonebox("export", "docker")
    assert p.returncode == 0, p.stderr
    line = p.stdout.strip()
    assert "\n" not in line
    for part in ("docker run", "--network none", "--memory 512m", "--memory-swap 512m", "--read-only",
                 "--cap-drop ALL", "--security-opt no-new-privileges", "--pids-limit 256", "--rm", "--init",
                 "--user 1000:1000", "--ulimit nofile=1024:1024"):
        assert part in line, (part, line)
    # What docker cannot express is said, not dropped.
    assert "warning: landlock" in p.stderr and "warning: user" in p.stderr
    assert "warning: seccomp" in p.stderr


def test_export_docker_flags_and_quoting(tmp):
    d = tmp.mkdir("in")
    sc = os.path.join(tmp.mkdir("sc"), "profile.json")
    p = zonebox("export", "docker", "--image", "python:3.11-slim", "-m", "100m", "--cpus", "0.5",
                "-v", d + ":/input:ro", "--tmpfs", "/scratch:size=64m", "-e", "A=it's", "-w", "/scratch",
                "--runtime", "gvisor", "--seccomp-out", sc, "--", "python3", "-c", "print('hi there')")
    assert p.returncode == 0, p.stderr
    line = p.stdout.strip()
    for part in ("--memory 100m", "--memory-swap 100m", "--cpus 0.5", "--runtime runsc",
                 "--mount type=bind,source=%s,target=/input,readonly" % d,
                 "--tmpfs /scratch:rw,exec,nosuid,nodev,size=64m,mode=1777", "-w /scratch",
                 "--security-opt seccomp=%s" % sc, "python:3.11-slim python3 -c"):
        assert part in line, (part, line)
    assert "'A=it'\\''s'" in line and "'print('\\''hi there'\\'')'" in line
    # The shell gives back exactly the argv.
    words = subprocess.run(["sh", "-c", "eval \"set -- $1\"; for a in \"$@\"; do printf '%s\\0' \"$a\"; done",
                            "sh", line], capture_output=True).stdout.split(b"\0")[:-1]
    assert words[-3:] == [b"python3", b"-c", b"print('hi there')"] and b"A=it's" in words
    with open(sc) as f:
        prof = json.load(f)
    assert prof["defaultAction"] == "SCMP_ACT_ERRNO"
    names = {n for s in prof["syscalls"] if s["action"] == "SCMP_ACT_ALLOW" and "args" not in s
             for n in s["names"]}
    assert "read" in names and "mount" not in names and "ptrace" not in names
    assert "warning: seccomp" not in p.stderr


def test_export_podman_line_runs(tmp):
    """The exported podman line, run by a shell, isolates like zonebox run does."""
    why = engine_reason("podman")
    if why:
        pytest.skip(why)
    skel = tmp.mkdir("skel")
    for name in ("bin", "lib", "lib64", "sbin"):
        if os.path.islink("/" + name):
            os.symlink(os.readlink("/" + name), os.path.join(skel, name))
    for name in ("usr", "etc", "proc", "dev"):
        os.mkdir(os.path.join(skel, name))
    # With --uidmap the container's root (65533 outside) makes podman's mount points.
    for root, dirs, files in os.walk(skel):
        for n in dirs + files:
            os.lchown(os.path.join(root, n), 65533, 65533)
    os.lchown(skel, 65533, 65533)
    p = zonebox("export", "docker", "--engine-cli", "podman", "--runtime", "runc", "--rootfs", skel,
                "--", "sh", "-c", "touch /x; exit 5")
    assert p.returncode == 0, p.stderr
    line = p.stdout.strip()
    assert "--rootfs %s" % skel in line
    # The host's /usr is not a zone (zones never cover system dirs): the test adds it.
    line = line.replace("podman run", "podman run --ulimit nproc=256:256 -v /usr:/usr:ro", 1)
    r = subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=120)
    assert r.returncode == 5, r
    assert "Read-only file system" in r.stderr


# ------------------------------------------------------------------ errors and strict

@pytest.mark.parametrize("args,needle", [
    (["export", "docker", "--memory", "lots"], "--memory"),
    (["export", "docker", "--kind", "deployment"], "--kind"),
    (["export", "kubernetes", "--host-zones", "nfs"], "--host-zones"),
    (["export", "docker", "--bogus"], "--bogus"),
    (["export", "vmware"], "vmware"),
    (["export", "oci"], "oci"),
    (["run", "--backend", "oci", "--runtime", "no-such-runtime", "--", "true"], "no-such-runtime"),
    (["export", "docker", "--strict"], "strict"),
    (["export", "kubernetes", "--strict", "--landlock", "false"], "strict"),
    (["export", "docker", "--landlock", "required"], "landlock"),
])
def test_bad_input_is_one_line_and_125(args, needle):
    p = zonebox(*args)
    assert p.returncode == 125, (args, p.stdout, p.stderr)
    lines = [l for l in p.stderr.splitlines() if not l.startswith(("warning:", "note:"))]
    assert len(lines) == 1 and needle in lines[0], (args, p.stderr)
    assert p.stdout == ""


def test_run_kubernetes_backend_says_export():
    p = zonebox("run", "--backend", "kubernetes", "--", "true")
    assert p.returncode == 125 and "export kubernetes" in p.stderr


# ------------------------------------------------------------------ export oci

def test_export_oci_bundle_runs_with_runc(tmp):
    why = engine_reason("runc")
    if why:
        pytest.skip(why)
    bundle = os.path.join(tmp.mkdir("bundle"), "b")
    p = zonebox("export", "oci", bundle, "--memory", "64m", "--pids-limit", "32", "--cpus", "0.5",
                "--", "sh", "-c", "cat /proc/self/uid_map; touch /x; exit 4")
    assert p.returncode == 0, p.stderr
    assert "warning: landlock" in p.stderr
    with open(os.path.join(bundle, "config.json")) as f:
        cfg = json.load(f)
    proc, lnx = cfg["process"], cfg["linux"]
    assert cfg["root"] == {"path": "rootfs", "readonly": True}
    assert proc["noNewPrivileges"] is True and proc["user"]["uid"] == 1000
    assert all(proc["capabilities"][k] == [] for k in
               ("bounding", "effective", "inheritable", "permitted", "ambient"))
    assert {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024} in proc["rlimits"]
    assert {n["type"] for n in lnx["namespaces"]} == {"pid", "network", "ipc", "uts", "mount", "user", "cgroup"}
    assert {"containerID": 1000, "hostID": 65534, "size": 1} in lnx["uidMappings"]
    assert lnx["resources"]["memory"] == {"limit": 64 << 20, "swap": 64 << 20}
    assert lnx["resources"]["pids"] == {"limit": 32}
    assert lnx["resources"]["cpu"] == {"quota": 50000, "period": 100000}
    assert lnx["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    assert "/proc/kcore" in lnx["maskedPaths"] and "/proc/sys" in lnx["readonlyPaths"]
    assert not any(m["destination"] == "/sys" for m in cfg["mounts"])
    assert any(m["destination"] == "/usr" and "ro" in m["options"] for m in cfg["mounts"])
    # runc itself accepts and runs the bundle.
    name = "zonebox-test-export-%d" % os.getpid()
    r = subprocess.run([RUNC, "run", "--bundle", bundle, name], capture_output=True, text=True, timeout=60)
    subprocess.run([RUNC, "delete", "--force", name], capture_output=True, timeout=60)
    assert r.returncode == 4, r
    assert "65534" in r.stdout and "Read-only file system" in r.stderr
    # A second export into the same bundle is refused, not merged.
    p = zonebox("export", "oci", bundle, "--", "true")
    assert p.returncode == 125 and "already" in p.stderr


# ------------------------------------------------------------------ export kubernetes

RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                      "persistentVolumeClaim", "projected", "secret"}


def k8s_export(*args):
    p = zonebox("export", "kubernetes", *args)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout), p.stderr


def assert_restricted(pod_spec):
    """Every control of the restricted Pod Security Standard (v1.30)."""
    psc = pod_spec["securityContext"]
    assert not pod_spec.get("hostNetwork") and not pod_spec.get("hostPID") and not pod_spec.get("hostIPC")
    assert pod_spec["automountServiceAccountToken"] is False
    for v in pod_spec.get("volumes", []):
        assert set(v) - {"name"} <= RESTRICTED_VOLUMES, v
    assert psc["seccompProfile"]["type"] in ("RuntimeDefault", "Localhost")
    for c in pod_spec["containers"]:
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["privileged"] is False
        assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"]
        assert sc["runAsNonRoot"] is True and psc["runAsNonRoot"] is True
        assert sc["runAsUser"] != 0
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["seccompProfile"]["type"] in ("RuntimeDefault", "Localhost")
        assert sc.get("procMount", "Default") == "Default"
        assert not c.get("ports")


def test_export_kubernetes_pod_meets_restricted(tmp):
    d = tmp.mkdir("in")
    m, err = k8s_export("--image", "python:3.11-slim", "--memory", "100m", "--cpus", "0.5",
                        "--timeout", "30s", "-v", d + ":/input:ro", "--tmpfs", "/scratch:size=64m",
                        "--runtime", "gvisor", "--", "python3", "/input/code.py")
    assert m["kind"] == "List" and [i["kind"] for i in m["items"]] == ["Pod", "NetworkPolicy"]
    pod, netpol = m["items"]
    spec = pod["spec"]
    assert_restricted(spec)
    assert spec["activeDeadlineSeconds"] == 30 and spec["restartPolicy"] == "Never"
    assert spec["runtimeClassName"] == "gvisor" and spec["hostUsers"] is False
    c = spec["containers"][0]
    assert c["image"] == "python:3.11-slim" and c["command"] == ["python3", "/input/code.py"]
    assert c["resources"]["limits"] == {"memory": "100Mi", "cpu": "500m"} == c["resources"]["requests"]
    vols = {v["name"]: v for v in spec["volumes"]}
    assert vols["zone-scratch"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "64Mi"}
    assert vols["zone-input"]["persistentVolumeClaim"]["readOnly"] is True
    assert {"name": "zone-input", "mountPath": "/input", "readOnly": True} in c["volumeMounts"]
    # Deny-all: both directions, no rules, selecting this pod.
    assert netpol["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert netpol["spec"]["egress"] == [] and netpol["spec"]["ingress"] == []
    assert netpol["spec"]["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    # Not expressed: said on stderr and in the annotation.
    ann = pod["metadata"]["annotations"]["zonebox.dev/not-expressed"]
    for word in ("landlock", "limits.pids", "rlimits", "seccomp"):
        assert word in ann and ("warning: " + word) in err, word


def test_export_kubernetes_job_and_hostpath(tmp):
    d = tmp.mkdir("in")
    sc = os.path.join(tmp.mkdir("sc"), "zb.json")
    m, err = k8s_export("--kind", "job", "--host-zones", "hostPath", "-v", d + ":/input:ro",
                        "--seccomp-out", sc, "--timeout", "1500ms", "--", "true")
    job = m["items"][0]
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["activeDeadlineSeconds"] == 2
    spec = job["spec"]["template"]["spec"]
    assert spec["volumes"][0]["hostPath"] == {"path": d, "type": "Directory"}
    assert "hostPath" in err and "restricted" in err
    assert spec["securityContext"]["seccompProfile"] == {"type": "Localhost",
                                                         "localhostProfile": "zonebox/zb.json"}
    assert json.load(open(sc))["defaultAction"] == "SCMP_ACT_ERRNO"
    assert job["spec"]["template"]["metadata"]["labels"] == m["items"][1]["spec"]["podSelector"]["matchLabels"] | {"app.kubernetes.io/name": "zonebox"}


K8S_MODELS_DIR = os.environ.get("ZONEBOX_K8S_MODELS",
                                os.path.join(os.path.dirname(ZONEBOX), "k8s-models"))


def _k8s_models():
    """A directory with node_modules/kubernetes-models, installed from the npm
    registry on first use; None and a reason when that cannot be done."""
    mod = os.path.join(K8S_MODELS_DIR, "node_modules", "kubernetes-models")
    if os.path.isdir(mod):
        return K8S_MODELS_DIR, None
    npm = shutil.which("npm")
    if not npm or not shutil.which("node"):
        return None, "node and npm are not installed (kubernetes-models validates the manifests)"
    os.makedirs(K8S_MODELS_DIR, exist_ok=True)
    try:
        p = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", K8S_MODELS_DIR,
                            "kubernetes-models@4"], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return None, "npm install kubernetes-models timed out"
    if p.returncode != 0 or not os.path.isdir(mod):
        return None, "npm install kubernetes-models failed: %s" % p.stderr.strip()[-300:]
    return K8S_MODELS_DIR, None


VALIDATE_JS = r"""
const fs = require('fs');
const list = JSON.parse(fs.readFileSync(0, 'utf8'));
const kinds = {
  'v1/Pod': () => require('kubernetes-models/v1/Pod').Pod,
  'batch/v1/Job': () => require('kubernetes-models/batch/v1/Job').Job,
  'networking.k8s.io/v1/NetworkPolicy': () => require('kubernetes-models/networking.k8s.io/v1/NetworkPolicy').NetworkPolicy,
};
for (const item of list.items) {
  const cls = kinds[item.apiVersion + '/' + item.kind]();
  new cls(item).validate();   // throws on any schema violation
  console.log('valid ' + item.kind);
}
"""


@pytest.mark.parametrize("kind", ["pod", "job"])
def test_export_kubernetes_validates_against_api_schema(tmp, kind):
    where, why = _k8s_models()
    if why:
        pytest.skip(why)
    d = tmp.mkdir("in")
    p = zonebox("export", "kubernetes", "--kind", kind, "--image", "busybox", "-v", d + ":/data",
                "--tmpfs", "/scratch", "--timeout", "10s", "--", "sh", "-c", "echo hi")
    assert p.returncode == 0, p.stderr
    r = subprocess.run(["node", "-e", VALIDATE_JS], input=p.stdout, capture_output=True, text=True,
                       cwd=where, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["valid " + ("Pod" if kind == "pod" else "Job"), "valid NetworkPolicy"]


def test_kubernetes_submission_or_reason():
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("kubectl is not installed: zonebox export kubernetes is the feature here")
    cfg = os.environ.get("KUBECONFIG", os.path.expanduser("~/.kube/config"))
    if not os.path.exists(cfg):
        pytest.skip("kubectl is installed but there is no kubeconfig (%s): no cluster to submit to" % cfg)
    p = subprocess.run([kubectl, "version", "--request-timeout=5s"], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        pytest.skip("no reachable cluster: %s" % p.stderr.strip()[-200:])
    m = zonebox("export", "kubernetes", "--image", "busybox", "--", "true")
    r = subprocess.run([kubectl, "apply", "--dry-run=server", "-f", "-"], input=m.stdout,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
