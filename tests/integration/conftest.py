"""Shared helpers for zonebox's integration tests.

Every test starts real sandboxes with the zonebox binary named by $ZONEBOX
(default build/zonebox of this checkout). Tests that take the ``zb`` fixture run
twice: once with zonebox started by root ("root") and once started by an
unprivileged user through ``setpriv --reuid=65534 ...`` ("nobody").
"""

import errno
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ZONEBOX = os.environ.get("ZONEBOX", os.path.join(ROOT, "build", "zonebox"))
NOBODY = 65534
RUN_TIMEOUT = 30  # seconds; a hard cap on any single zonebox invocation
SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"
AS_NOBODY = [SETPRIV, "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"]


@pytest.fixture(scope="session", autouse=True)
def _zonebox_binary():
    if not os.path.isfile(ZONEBOX) or not os.access(ZONEBOX, os.X_OK):
        pytest.exit("zonebox binary not found at %s (make all in %s)" % (ZONEBOX, ROOT), 2)
    if os.geteuid() != 0:
        pytest.exit("the integration tests run as root (they also drop to uid 65534)", 2)


# ---------------------------------------------------------------- temp dirs

@pytest.fixture(scope="session")
def base_dir():
    """A session temp dir that uid 65534 can traverse (0755 under /tmp)."""
    d = tempfile.mkdtemp(prefix="zb-it-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


class TmpDirs:
    def __init__(self, base):
        self.base = base

    def mkdir(self, name="d", owner=None, mode=0o755):
        d = tempfile.mkdtemp(prefix=name + "-", dir=self.base)
        os.chmod(d, mode)
        if owner is not None:
            os.chown(d, owner, owner)
        return d

    def script_dir(self, code, name="test.py"):
        """A dir (readable by everyone) holding one script."""
        d = self.mkdir("input")
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(code)
        os.chmod(path, 0o644)
        return d


@pytest.fixture
def tmp(base_dir):
    return TmpDirs(base_dir)


# ---------------------------------------------------------------- running

class Result:
    def __init__(self, proc, elapsed):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.elapsed = elapsed

    @property
    def json(self):
        try:
            return json.loads(self.stdout)
        except ValueError as e:
            raise AssertionError("zonebox --json printed invalid JSON (%s): rc=%s stdout=%r stderr=%r"
                                 % (e, self.rc, self.stdout[:2000], self.stderr[:2000]))

    def __repr__(self):
        return "Result(rc=%r, stdout=%r, stderr=%r)" % (self.rc, self.stdout[:2000], self.stderr[:2000])


# ---------------------------------------------------------------- cgroups

def cgroup_dirs():
    """{hierarchy mount dir: our cgroup's dir in it} for every cgroup
    hierarchy with a controller zonebox uses (v1) and cgroup v2."""
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, rfields = left.split(), right.split()
            if rfields[0] == "cgroup2":
                mounts.append((fields[4], fields[3], None))
            elif rfields[0] == "cgroup":
                ctrls = set(rfields[2].split(",")) & {"memory", "cpu", "cpuacct", "pids"}
                if ctrls:
                    mounts.append((fields[4], fields[3], ctrls))
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            own[ctrls] = path
    dirs = {}
    for mdir, root, ctrls in mounts:
        key = "" if ctrls is None else next((k for k in own if ctrls & set(k.split(","))), None)
        if key is None or key not in own:
            continue
        path = own[key]
        rel = path[len(root):] if root != "/" and path.startswith(root) else path
        dirs[mdir] = mdir + (rel if rel != "/" else "")
    return dirs


def _cgroup_paths(pid):
    """{controllers: path} from /proc/PID/cgroup ({} if PID is gone)."""
    try:
        with open("/proc/%s/cgroup" % pid) as f:
            return dict(l.rstrip("\n").split(":", 2)[1:] for l in f)
    except OSError:
        return {}


def _someone_elses(name):
    """True for a cgroup zonebox-PID-... whose supervisor PID still runs in
    another cgroup than this test session (another user's or session's run
    on the same machine: a session daemon of ours, double-forked, still runs
    in ours). A cgroup whose supervisor is gone is always counted: it may
    be a leak. Where this session runs in the root cgroup everything counts."""
    try:
        pid = int(name.split("-")[1])
    except (IndexError, ValueError):
        return False
    own = {k: v for k, v in _cgroup_paths("self").items() if v != "/"}
    theirs = _cgroup_paths(pid)
    if not own or not theirs:
        return False
    return not any(theirs.get(k, "") == v or theirs.get(k, "").startswith(v + "/") for k, v in own.items())


def zonebox_cgroups():
    """Paths of cgroups named zonebox-* below our own cgroup in each
    hierarchy: where every run of these tests makes its cgroups (as root
    under ours, as uid 65534 under the delegated one, which is under ours).
    Other runs on the same machine are left out: other test sessions'
    delegated cgroups, and cgroups of live supervisors that are not ours."""
    found = []
    for own in cgroup_dirs().values():
        for root, subdirs, _ in os.walk(own):
            subdirs[:] = [d for d in subdirs if not (d.startswith("zb-it-deleg-") and d != DELEGATED)]
            found += [os.path.join(root, d) for d in subdirs
                      if d.startswith("zonebox-") and not _someone_elses(d)]
    return found


def cgroup_of(pid):
    """{controller: host dir of PID's cgroup} for memory, cpu, cpuacct and
    pids (v1, or v2 where v2 holds the controller) and "unified" (v2)."""
    mounts = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, rfields = left.split(), right.split()
            if rfields[0] == "cgroup2":
                mounts["unified"] = fields[4]
            elif rfields[0] == "cgroup":
                for c in set(rfields[2].split(",")) & {"memory", "cpu", "cpuacct", "pids"}:
                    mounts[c] = fields[4]
    out = {}
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in (ctrls.split(",") if ctrls else ["unified"]):
                if c in mounts:
                    out[c] = mounts[c] + (path if path != "/" else "")
    v2 = out.get("unified")
    if v2 and os.path.exists(os.path.join(v2, "cgroup.controllers")):
        with open(os.path.join(v2, "cgroup.controllers")) as f:
            for c in f.read().split():
                out.setdefault(c, v2)
    return out


def read_file(path):
    with open(path) as f:
        return f.read().strip()


DELEGATED = "zb-it-deleg-%d" % os.getpid()
# Why no cgroup can be delegated here (every mkdir refused), or None.
_DELEGATION = {"why": None}


@pytest.fixture(scope="session", autouse=True)
def delegated_cgroup():
    """A cgroup under ours in every hierarchy, owned by uid 65534: what an
    administrator (or systemd's Delegate=yes) gives an unprivileged user.
    The "nobody" runs use it with --cgroup-parent. A hierarchy where it
    cannot be made (read-only, not ours) is a precondition the nobody runs
    skip on when it holds for all of them; a half-made delegation is an
    error, not a skip."""
    made, refused = [], []
    for d in cgroup_dirs().values():
        path = os.path.join(d, DELEGATED)
        try:
            os.mkdir(path)
        except OSError as e:
            if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            refused.append("%s: %s" % (path, os.strerror(e.errno)))
            continue
        made.append(path)
        os.chown(path, NOBODY, NOBODY)
        for name in os.listdir(path):
            os.chown(os.path.join(path, name), NOBODY, NOBODY)
    if refused and not made:
        _DELEGATION["why"] = "no cgroup delegation possible here (mkdir %s)" % "; ".join(refused)
    elif refused:
        raise AssertionError("cgroup delegation made only in part: %s" % "; ".join(refused))
    yield DELEGATED
    for path in made:
        for _ in range(200):
            try:
                os.rmdir(path)
                break
            except OSError:
                time.sleep(0.01)


class Zonebox:
    """Runs ``zonebox run ...`` as root or as uid 65534 (with a delegated
    cgroup; ``delegated=False`` runs without one)."""

    def __init__(self, who, delegated=True):
        self.who = who
        self.delegated = delegated

    @property
    def unprivileged(self):
        return self.who == "nobody"

    def argv(self, args):
        argv = [ZONEBOX, "run"] + list(args)
        if self.unprivileged:
            if self.delegated:
                argv[2:2] = ["--cgroup-parent", DELEGATED]
            argv = AS_NOBODY + argv
        return argv

    def run(self, *args, env=None, cwd="/", timeout=RUN_TIMEOUT, input=None, pass_fds=()):
        t0 = time.monotonic()
        proc = subprocess.run(self.argv(args), capture_output=True, text=True, env=env, cwd=cwd,
                              timeout=timeout, input=input if input is not None else "",
                              pass_fds=pass_fds)
        return Result(proc, time.monotonic() - t0)

    def popen(self, *args, **kw):
        kw.setdefault("cwd", "/")
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(self.argv(args), **kw)

    def json(self, *args, **kw):
        r = self.run("--json", *args, **kw)
        return r, r.json

    def py(self, tmp, code, *flags, **kw):
        """Runs CODE as /input/test.py (a read-only zone) with python3 inside."""
        d = tmp.script_dir(code)
        return self.run("-v", d + ":/input:ro", *flags, "--", "python3", "/input/test.py", **kw)

    def py_json(self, tmp, code, *flags, **kw):
        """Like py(), but the script prints one JSON document, which is returned."""
        r = self.py(tmp, code, *flags, **kw)
        assert r.rc == 0, r
        try:
            return json.loads(r.stdout)
        except ValueError:
            raise AssertionError("script printed no JSON: %r" % (r,))


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def nobody_precondition():
    """Why the unprivileged half cannot run on this machine, from the
    preconditions themselves (never from a zonebox run: zonebox failing as
    uid 65534 is a failure of every such test, not a skip); None when it can."""
    if not os.access(SETPRIV, os.X_OK):
        return "setpriv is not installed (util-linux): cannot run as uid 65534"
    for path in ("/proc/sys/user/max_user_namespaces", "/proc/sys/kernel/unprivileged_userns_clone",
                 "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"):
        v = _read(path)
        off = "1" if path.endswith("apparmor_restrict_unprivileged_userns") else "0"
        if v == off:
            return "user namespaces are disabled for unprivileged users by sysctl (%s = %s)" % (path, v)
    return _DELEGATION["why"]


@pytest.fixture(params=["root", "nobody"])
def zb(request):
    if request.param == "nobody":
        why = nobody_precondition()
        if why:
            pytest.skip(why)
    return Zonebox(request.param)


@pytest.fixture
def zb_root():
    return Zonebox("root")


# ---------------------------------------------------------------- host processes

def npm_client(src, name, module):
    """SRC's package.json and package-lock.json installed with `npm ci` into
    a cache dir named NAME and the lock's hash (done once), with SRC's
    drive.mjs beside them; MODULE is the package whose presence means done."""
    import hashlib
    lock = open(os.path.join(src, "package-lock.json"), "rb").read()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    d = os.path.join(cache, "zonebox", name + "-" + hashlib.sha256(lock).hexdigest()[:12])
    if not os.path.isdir(os.path.join(d, "node_modules", module)):
        os.makedirs(d, exist_ok=True)
        for f in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(src, f), d)
        r = subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund", "--prefer-offline"], cwd=d,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, "npm ci failed: %s" % r.stderr[-2000:]
    shutil.copy(os.path.join(src, "drive.mjs"), d)
    return d


def proc_cmdlines():
    """{pid: [argv...]} of all host processes (as bytes decoded)."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                raw = f.read()
        except OSError:
            continue
        if not raw:
            continue
        out[int(name)] = [a.decode(errors="replace") for a in raw.rstrip(b"\0").split(b"\0")]
    return out


def pids_with_arg(marker):
    """Host pids whose argv contains MARKER as a substring of some argument."""
    return sorted(pid for pid, argv in proc_cmdlines().items()
                  if pid != os.getpid() and any(marker in a for a in argv))


def pids_exact(argv):
    return sorted(pid for pid, a in proc_cmdlines().items() if a == list(argv))


def poll(pred, timeout=5.0, interval=0.01):
    """Calls PRED until it returns a true value or TIMEOUT seconds pass; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def unique_sleep_arg():
    """A sleep duration that is unique enough to find the process on the host."""
    return "100.%d" % (uuid.uuid4().int % 10**9 + 1)


@pytest.fixture
def host_sleep():
    """Starts host processes (``sleep N``) and kills them in teardown."""
    procs = []

    def start(arg="30"):
        p = subprocess.Popen(["sleep", arg], stdin=subprocess.DEVNULL)
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def host_ipv4():
    """A non-loopback IPv4 address of the host, or None."""
    try:
        out = subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, text=True,
                             timeout=5).stdout
        for link in json.loads(out):
            for a in link.get("addr_info", []):
                ip = a.get("local", "")
                if ip and not ip.startswith("127."):
                    return ip
    except Exception:
        pass
    return None


def tcp_listener(host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    s.listen(8)
    s.setblocking(False)
    return s


def accepted_nothing(listener):
    try:
        conn, _ = listener.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


def tree_snapshot(path):
    """{relpath: (mode, uid, size, mtime_ns, content)} of a host tree."""
    snap = {}
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            p = os.path.join(root, n)
            st = os.lstat(p)
            content = None
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    content = f.read()
            snap[os.path.relpath(p, path)] = (st.st_mode, st.st_uid, st.st_size, st.st_mtime_ns, content)
    return snap



# ---------------------------------------------------------------- a terminal

def on_pty(argv, prompt, on_prompt=None, timeout=20):
    """Runs ARGV with stdin, stdout and stderr on a new pseudo-terminal (a new
    session, so it is the controlling one). When PROMPT (bytes) shows in the
    output, calls ON_PROMPT(master_fd, pid) once (e.g. to type an answer).
    Returns (rc, output, prompted); rc is None if ARGV did not end in time."""
    import select
    master, slave = os.openpty()
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd="/",
                         start_new_session=True)
    os.close(slave)
    out, prompted = b"", False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: every slave fd is closed
                    break
                if not chunk:
                    break
                out += chunk
            if not prompted and prompt in out:
                prompted = True
                if on_prompt:
                    on_prompt(master, p.pid)
            if not ready and p.poll() is not None:
                break
        rc = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        rc = None  # hung: the caller's assertion shows the output
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    return rc, out.decode(errors="replace"), prompted
