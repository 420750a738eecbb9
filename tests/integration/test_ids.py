"""Users and zones as a Docker user expects them (issue 12): zones opened with
the invoker's rights and idmapped, a full id range, a writable /tmp and HOME.

Runs as root, as uid 65534, and as a real account with /etc/subuid and
/etc/subgid entries (made by the ``subid_user`` fixture and removed after)."""

import contextlib
import json
import os
import pwd
import shutil
import subprocess

import pytest

from conftest import AS_NOBODY, NOBODY, RUN_TIMEOUT, ZONEBOX, Zonebox

DEFAULT_SUBID_START = 2130706432  # src/ns/ns.h ZB_DEFAULT_SUBID_START
SANDBOX_UID = 1000

IDS_SCRIPT = r"""
import errno, grp, json, os, pwd, tempfile
out = {}
def attempt(name, fn):
    try:
        fn()
        out[name] = "allowed"
    except OSError as e:
        out[name] = errno.errorcode[e.errno]
attempt("setuid0", lambda: os.setuid(0))
attempt("setuid65534", lambda: os.setuid(65534))
attempt("setgid0", lambda: os.setgid(0))
p = tempfile.mkstemp()[1]
attempt("chown", lambda: os.chown(p, 2000, 2000))
attempt("chown_self", lambda: os.chown(p, os.getuid(), os.getgid()))
out["uid"] = os.getuid()
out["nobody"] = pwd.getpwuid(65534).pw_name
out["nogroup"] = grp.getgrgid(65534).gr_name
out["uid_map"] = open("/proc/self/uid_map").read().split()
out["gid_map"] = open("/proc/self/gid_map").read().split()
print(json.dumps(out))
"""


def _json(r):
    assert r.rc == 0, r
    return json.loads(r.stdout)


def _layers(zb, *args):
    r, j = zb.json(*args)
    assert r.rc == 0, r
    return j["layers"]


# ---------------------------------------------------------------- ids


def test_root_gets_a_full_range(zb_root, tmp):
    out = zb_root.py_json(tmp, IDS_SCRIPT)
    assert out["uid_map"] == ["0", str(DEFAULT_SUBID_START), "65536"]
    assert out["gid_map"] == ["0", str(DEFAULT_SUBID_START), "65536"]
    assert out["uid"] == SANDBOX_UID
    # Linux's answer for an id that exists but is not ours: EPERM, not EINVAL.
    for k in ("setuid0", "setuid65534", "setgid0", "chown"):
        assert out[k] == "EPERM", (k, out)
    assert out["chown_self"] == "allowed"
    assert out["nobody"] == "nobody" and out["nogroup"] == "nogroup"
    layers = _layers(zb_root, "--", "true")
    assert layers["ids"] == {"map": "range", "count": 65536}
    assert "user_id_range" in layers["applied"]


def test_getent_nobody_and_id(zb_root):
    r = zb_root.run("--", "sh", "-c", "getent passwd nobody; id")
    assert r.rc == 0, r
    assert r.stdout.splitlines()[0].startswith("nobody:x:65534:65534:")
    assert r.stdout.splitlines()[1].startswith("uid=1000(sandbox) gid=1000(sandbox)")


def test_unprivileged_keeps_one_id_and_says_so(tmp):
    zb = Zonebox("nobody")
    r = zb.run("--json", "--", "cat", "/proc/self/uid_map")
    if r.rc != 0:
        pytest.skip("zonebox as uid 65534 does not run here: %s" % r.stderr.strip())
    j = json.loads(r.stdout)
    assert j["stdout"].split() == ["1000", str(NOBODY), "1"]
    assert j["layers"]["ids"] == {"map": "single", "count": 1}
    assert "user_id_range" in j["layers"]["skipped"]
    d = subprocess.run(AS_NOBODY + [ZONEBOX, "doctor", "--allow-unenforced"], capture_output=True,
                       text=True, timeout=RUN_TIMEOUT * 2, cwd="/")
    assert "1 ids (single)" in d.stdout, d


@contextlib.contextmanager
def _appended(path, line):
    with open(path) as f:
        before = f.read()
    with open(path, "a") as f:
        f.write(line + "\n")
    try:
        yield
    finally:
        with open(path, "w") as f:
            f.write(before)


@pytest.fixture
def subid_files():
    """/etc/subuid and /etc/subgid exist (restored, or removed, afterwards)."""
    made = []
    for path in ("/etc/subuid", "/etc/subgid"):
        if not os.path.exists(path):
            open(path, "w").close()
            made.append(path)
    yield
    for path in made:
        os.unlink(path)


def test_root_uses_the_zonebox_subid_entries(zb_root, subid_files):
    with _appended("/etc/subuid", "zonebox:1879048192:65536"), \
            _appended("/etc/subgid", "zonebox:1879113728:65536"):
        r = zb_root.run("--", "cat", "/proc/self/uid_map", "/proc/self/gid_map")
    assert r.rc == 0, r
    assert r.stdout.split() == ["0", "1879048192", "65536", "0", "1879113728", "65536"]
    # An entry that would reach below 65536 (host root, real users) is ignored.
    with _appended("/etc/subuid", "zonebox:0:65536"), _appended("/etc/subgid", "zonebox:0:65536"):
        r = zb_root.run("--", "cat", "/proc/self/uid_map")
    assert r.stdout.split() == ["0", str(DEFAULT_SUBID_START), "65536"], r


SUBID_USER = "zbtest-ids"


def _subid_start(path, name):
    for line in open(path):
        f = line.strip().split(":")
        if len(f) == 3 and f[0] == name and int(f[2]) >= 65536:
            return int(f[1])
    return None


@pytest.fixture
def subid_user(subid_files, tmp):
    """A real account with /etc/subuid and /etc/subgid entries (useradd's
    own, or ours); the account and both files as they were afterwards."""
    if not shutil.which("newuidmap") or not shutil.which("useradd"):
        pytest.skip("needs newuidmap (Debian package uidmap) and useradd")
    saved = {p: open(p).read() for p in ("/etc/subuid", "/etc/subgid")}
    subprocess.run(["userdel", SUBID_USER], capture_output=True)
    p = subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", SUBID_USER],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    try:
        for path in saved:
            if _subid_start(path, SUBID_USER) is None:
                with open(path, "a") as f:
                    f.write("%s:1879179264:65536\n" % SUBID_USER)
        yield pwd.getpwnam(SUBID_USER)
    finally:
        subprocess.run(["userdel", SUBID_USER], capture_output=True)
        for path, text in saved.items():
            with open(path, "w") as f:
                f.write(text)


def test_user_with_subids_gets_a_range_through_newuidmap(subid_user, tmp):
    uid, gid = subid_user.pw_uid, subid_user.pw_gid
    out_dir = tmp.mkdir("subout", owner=None)
    os.chown(out_dir, uid, gid)
    script = tmp.script_dir(IDS_SCRIPT)
    argv = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups", ZONEBOX, "run", "--json",
            "--allow-unenforced", "-v", script + ":/input:ro", "-v", out_dir + ":/output", "--",
            "sh", "-c", "python3 /input/test.py && echo x > /output/made"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd="/")
    assert p.returncode == 0, p
    j = json.loads(p.stdout)
    out = json.loads(j["stdout"])
    m = out["uid_map"]
    sub = _subid_start("/etc/subuid", SUBID_USER)
    assert m == ["0", str(sub), "1000", "1000", str(uid), "1", "1001", str(sub + 1000), "64535"]
    assert sum(int(x) for x in m[2::3]) == 65536
    for k in ("setuid0", "setuid65534", "chown"):
        assert out[k] == "EPERM", (k, out)
    assert j["layers"]["ids"] == {"map": "newuidmap", "count": 65536}
    assert j["layers"]["zones"] == {"input": "direct", "output": "direct"}
    st = os.stat(os.path.join(out_dir, "made"))
    assert (st.st_uid, st.st_gid) == (uid, gid)


# ---------------------------------------------------------------- zones


def test_ro_zone_under_a_private_parent(zb_root, tmp):
    parent = tmp.mkdir("private", mode=0o700)  # what mktemp -d makes
    os.mkdir(os.path.join(parent, "in"))
    with open(os.path.join(parent, "in", "data.txt"), "w") as f:
        f.write("hello\n")
    r, j = zb_root.json("-v", parent + "/in:/input:ro", "--", "cat", "/input/data.txt")
    assert r.rc == 0 and j["stdout"] == "hello\n", r
    assert j["layers"]["zones"] == {"input": "idmapped"}
    r = zb_root.run("-v", parent + "/in:/input:ro", "--", "sh", "-c", "echo x > /input/new")
    assert r.rc != 0 and not os.path.exists(os.path.join(parent, "in", "new"))


@pytest.mark.parametrize("owner", [0, 1234])
def test_rw_zone_files_belong_to_the_dirs_owner(zb_root, tmp, owner):
    out = tmp.mkdir("out", mode=0o700)
    os.chown(out, owner, owner)
    with open(os.path.join(out, "theirs"), "w") as f:
        f.write("x")
    os.chown(os.path.join(out, "theirs"), owner, owner)
    r = zb_root.run("-v", out + ":/output", "--", "sh", "-c",
                    "stat -c '%u %g' /output /output/theirs; echo made > /output/f; mkdir /output/d")
    assert r.rc == 0, r
    assert r.stdout.split() == ["1000", "1000", "1000", "1000"]  # the owner is the sandbox user inside
    for name in ("f", "d"):
        st = os.stat(os.path.join(out, name))
        assert (st.st_uid, st.st_gid) == (owner, owner), name


def test_rw_zone_other_owners_show_as_nobody(zb_root, tmp):
    """Mixed owners: only the zone dir's owner is mapped; others are nobody
    inside and reachable through their 'other' bits only."""
    out = tmp.mkdir("mixed", mode=0o755)
    for name, mode in (("open", 0o644), ("closed", 0o600)):
        path = os.path.join(out, name)
        with open(path, "w") as f:
            f.write(name + "\n")
        os.chmod(path, mode)
        os.chown(path, 4321, 4321)
    r = zb_root.run("-v", out + ":/output", "--", "sh", "-c",
                    "stat -c '%u' /output/open; cat /output/open; cat /output/closed 2>/dev/null || echo denied")
    assert r.rc == 0, r
    assert r.stdout.split() == ["65534", "open", "denied"]


def test_unreadable_dir_is_refused_naming_the_zone(tmp):
    zb = Zonebox("nobody")
    parent = tmp.mkdir("host", mode=0o755)
    secret = os.path.join(parent, "secret")
    os.mkdir(secret, 0o700)
    with open(os.path.join(secret, "f"), "w") as f:
        f.write("topsecret\n")
    r = zb.run("--allow-unenforced", "-v", secret + ":/s:ro", "--", "cat", "/s/f")
    if "cannot run" in r.stderr:
        pytest.skip(r.stderr)
    assert r.rc == 125, r
    assert "zone 's'" in r.stderr and "Permission denied" in r.stderr
    assert "topsecret" not in r.stdout
    # Under a 0700 parent of root's: the same, before anything is started.
    hidden = tmp.mkdir("hidden", mode=0o700)
    os.mkdir(os.path.join(hidden, "in"))
    r = zb.run("--allow-unenforced", "-v", hidden + "/in:/input:ro", "--", "true")
    assert r.rc == 125 and "zone 'input'" in r.stderr, r


@pytest.fixture
def ramfs(tmp):
    """A dir on ramfs, a filesystem that cannot be idmapped."""
    d = tmp.mkdir("ramfs")
    p = subprocess.run(["mount", "-t", "ramfs", "zb-it-ramfs", d], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip("cannot mount ramfs: %s" % p.stderr.strip())
    try:
        with open(os.path.join(d, "data.txt"), "w") as f:
            f.write("on ramfs\n")
        os.chmod(d, 0o755)
        yield d
    finally:
        subprocess.run(["umount", "-l", d], capture_output=True)


def test_non_idmappable_fallback(zb_root, ramfs):
    r = zb_root.run("-v", ramfs + ":/output", "--", "sh", "-c", "echo x > /output/f")
    assert r.rc == 125, r
    assert "zone 'output'" in r.stderr and "cannot be idmapped" in r.stderr
    assert "read-only (:ro)" in r.stderr
    assert not os.path.exists(os.path.join(ramfs, "f"))
    r = zb_root.run("-v", ramfs + ":/output:cow", "--", "true")
    assert r.rc == 125 and "cannot be idmapped" in r.stderr, r
    r, j = zb_root.json("-v", ramfs + ":/input:ro", "--", "sh", "-c", "cat /input/data.txt; stat -c %u /input")
    assert r.rc == 0, r
    assert j["stdout"] == "on ramfs\n65534\n"  # host owners show as nobody
    assert j["layers"]["zones"]["input"].startswith("not idmapped: its filesystem cannot be idmapped")
    d = subprocess.run([ZONEBOX, "doctor", "-v", ramfs + ":/input:ro"], capture_output=True, text=True,
                       timeout=RUN_TIMEOUT * 2, cwd="/")
    assert "zone input" in d.stdout and "not idmapped" in d.stdout, d


def test_zone_names_from_colliding_mount_points(zb, tmp):
    x, y = tmp.mkdir("x"), tmp.mkdir("y")
    for d, text in ((x, "x\n"), (y, "y\n")):
        with open(os.path.join(d, "f"), "w") as f:
            f.write(text)
        os.chmod(os.path.join(d, "f"), 0o644)
    r, j = zb.json("-v", x + ":/a-b:ro", "-v", y + ":/a/b:ro", "--", "cat", "/a-b/f", "/a/b/f")
    assert r.rc == 0, r
    assert j["stdout"] == "x\ny\n"
    assert sorted(j["layers"]["zones"]) == ["a-b", "a-b-2"]


def test_cow_upper_and_commit_keep_the_zones_owner(zb_root, tmp):
    d = tmp.mkdir("cowown", mode=0o755)
    os.chown(d, 1234, 1234)
    store = tmp.mkdir("store", mode=0o700)
    r, j = zb_root.json("--cow-dir", store, "-v", d + ":/data:cow", "--", "sh", "-c",
                        "echo n > /data/new; mkdir /data/sub")
    assert r.rc == 0, r
    upper = os.path.join(store, j["cow_id"], "zone-0", "upper")
    for name in ("new", "sub"):
        st = os.lstat(os.path.join(upper, name))
        assert (st.st_uid, st.st_gid) == (1234, 1234), name
    p = subprocess.run([ZONEBOX, "commit", "--cow-dir", store, j["cow_id"]], capture_output=True, text=True,
                       timeout=RUN_TIMEOUT)
    assert p.returncode == 0, p
    for name in ("new", "sub"):
        st = os.lstat(os.path.join(d, name))
        assert (st.st_uid, st.st_gid) == (1234, 1234), name


# ---------------------------------------------------------------- /tmp and HOME


def test_tmp_and_home_are_writable(zb):
    r = zb.run("--", "sh", "-c",
               "stat -c '%a' /tmp; echo $HOME; echo a > /tmp/a && echo b > $HOME/b && cat /tmp/a $HOME/b; "
               "getent passwd 1000 | cut -d: -f6; echo x > /etc/x 2>/dev/null || echo root-ro")
    assert r.rc == 0, r
    assert r.stdout.split() == ["1777", "/home/sandbox", "a", "b", "/home/sandbox", "root-ro"]


def test_tmp_resize_and_drop(zb):
    r = zb.run("--tmpfs", "/tmp:size=1m", "--", "sh", "-c", "head -c 2000000 /dev/zero > /tmp/big")
    assert r.rc != 0 and "No space left" in r.stderr, r
    r = zb.run("--tmpfs", "/tmp:size=8m", "--", "sh", "-c", "head -c 2000000 /dev/zero > /tmp/big")
    assert r.rc == 0, r
    r = zb.run("--no-tmp", "--", "sh", "-c", "echo $HOME; test -e /tmp || echo no-tmp")
    assert r.rc == 0 and r.stdout.split() == ["/", "no-tmp"], r


def test_tmp_counts_in_the_memory_limit(zb_root):
    r, j = zb_root.json("--tmpfs", "/tmp:size=400m", "--memory", "64m", "--", "sh", "-c",
                        "exec head -c 200m /dev/zero > /tmp/big")
    assert j["status"] == "oom", r


def test_gcc_with_cwd_at_root(zb):
    if not os.path.exists("/usr/bin/gcc"):
        pytest.skip("gcc not installed")
    r = zb.run("-w", "/", "--", "sh", "-c",
               "printf 'int main(){return 42;}' | gcc -x c -o /tmp/a - && /tmp/a; echo $?")
    assert r.rc == 0 and r.stdout.split()[-1] == "42", r


# ---------------------------------------------------------------- sessions and engines


def test_session_zone_files_belong_to_the_dirs_owner(zb_root, tmp):
    from test_session import Sessions
    ses = Sessions(zb_root, tmp)
    out = tmp.mkdir("sesout", mode=0o700)
    os.chown(out, 1234, 1234)
    try:
        sid = ses.start("-v", out + ":/output")
        r = ses.exec(sid, "--", "sh", "-c", "echo s > /output/f; id -u; echo $HOME; touch $HOME/h /tmp/t")
        assert r.rc == 0, r
        assert r.stdout.split() == ["1000", "/home/sandbox"]
    finally:
        ses.cleanup()
    st = os.stat(os.path.join(out, "f"))
    assert (st.st_uid, st.st_gid) == (1234, 1234)


def test_export_warns_that_zones_are_not_idmapped(tmp):
    d = tmp.mkdir("exp")
    p = subprocess.run([ZONEBOX, "export", "docker", "-v", d + ":/output", "--", "true"], capture_output=True,
                       text=True, timeout=RUN_TIMEOUT, cwd="/")
    assert p.returncode == 0, p
    assert "zone 'output': not idmapped" in p.stderr
    assert "--tmpfs /tmp:" in p.stdout and "--tmpfs /home/sandbox:" in p.stdout
    p = subprocess.run([ZONEBOX, "export", "docker", "--strict", "--landlock", "false", "-v", d + ":/output",
                        "--", "true"],
                       capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd="/")
    assert p.returncode == 125 and "not idmapped" in p.stderr, p


def test_failure_before_the_zones_are_opened_is_clean(zb_root, tmp):
    """A limit refused before anything is prepared: exit 125 with the
    reason, not a crash in releasing zones that were never opened."""
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard >= 1048576:
        pytest.skip("the hard RLIMIT_NOFILE is not below 1048576 here")
    r = zb_root.run("--ulimit", "nofile=1048576", "-v", tmp.mkdir("z") + ":/z", "--", "true")
    assert r.rc == 125 and "open_files" in r.stderr, r


def test_setid_modes_are_refused(zb_root, tmp):
    """In a root-owned rw zone the command's files are root's on the host: a
    set-id bit there would be a setuid-root file outside. chmod, fchmodat and
    creating with such a mode fail with EPERM; openat2 (its mode in a struct
    the filter cannot read) with ENOSYS; plain modes work."""
    out = tmp.mkdir("setid", mode=0o700)
    code = r"""
import errno, json, os
res = {}
def attempt(name, fn):
    try:
        fn(); res[name] = "allowed"
    except OSError as e:
        res[name] = errno.errorcode[e.errno]
open("/out/f", "w").close()
attempt("chmod_4755", lambda: os.chmod("/out/f", 0o4755))
attempt("chmod_2755", lambda: os.chmod("/out/f", 0o2755))
attempt("chmod_755", lambda: os.chmod("/out/f", 0o755))
attempt("open_4755", lambda: os.close(os.open("/out/g", os.O_CREAT | os.O_WRONLY, 0o4755)))
attempt("mkdir_2775", lambda: os.mkdir("/out/d", 0o2775))
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
class How(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]
def openat2():
    how = How(os.O_CREAT | os.O_WRONLY, 0o4755, 0)
    fd = libc.syscall(ctypes.c_long(437), ctypes.c_long(-100), b"/out/h", ctypes.byref(how),
                      ctypes.c_size_t(ctypes.sizeof(how)))
    if fd < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    os.close(fd)
attempt("openat2_4755", openat2)
print(json.dumps(res))
"""
    r = zb_root.py(tmp, code, "-v", out + ":/out")
    assert r.rc == 0, r
    res = json.loads(r.stdout)
    assert res == {"chmod_4755": "EPERM", "chmod_2755": "EPERM", "chmod_755": "allowed",
                   "open_4755": "EPERM", "mkdir_2775": "allowed", "openat2_4755": "ENOSYS"}, res
    assert os.stat(os.path.join(out, "f")).st_mode & 0o6000 == 0
    assert not os.path.exists(os.path.join(out, "g"))
    assert not os.path.exists(os.path.join(out, "h"))
