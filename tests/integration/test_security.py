"""Isolation: read-only root, no privileges, hidden host files, pid namespace,
file descriptors, devices, /proc/sys."""

import errno
import fcntl
import json
import os
import socket
import uuid

import pytest

from conftest import accepted_nothing, tcp_listener

# The three "Docker security tests", each a script run with
# zonebox run -v DIR:/input:ro -- python3 /input/test.py


def test_docker_network_is_blocked(zb, tmp):
    listener = tcp_listener("127.0.0.1")
    port = listener.getsockname()[1]
    try:
        code = r"""
import errno, json, socket, urllib.request
out = {}
try:
    urllib.request.urlopen('http://google.com', timeout=5)
    out['urlopen'] = 'ok'
except Exception as e:
    out['urlopen'] = type(e).__name__
    out['urlopen_oserror'] = isinstance(e, OSError)
s = socket.socket()
s.settimeout(5)
try:
    s.connect(('127.0.0.1', %d))
    out['host_lo'] = 'connected'
except OSError as e:
    out['host_lo'] = e.errno
s = socket.socket()
s.settimeout(5)
try:
    s.connect(('8.8.8.8', 53))
    out['internet'] = 'connected'
except OSError as e:
    out['internet'] = e.errno
print(json.dumps(out))
""" % port
        out = zb.py_json(tmp, code)
        assert out["urlopen"] in ("URLError", "gaierror", "OSError"), out
        assert out["urlopen_oserror"] is True
        assert out["host_lo"] == errno.ECONNREFUSED, out
        assert out["internet"] == errno.ENETUNREACH, out
        assert accepted_nothing(listener), "the host listener received a connection from the sandbox"
    finally:
        listener.close()


def test_docker_root_is_read_only(zb, tmp):
    code = r"""
import errno, json, os
out = {}
for path in ('/test.txt', '/etc/test.txt', '/usr/test.txt', '/tmp-test.txt'):
    try:
        open(path, 'w').close()
        out[path] = 'written'
    except OSError as e:
        out[path] = e.errno
try:
    os.mkdir('/newdir')
    out['mkdir'] = 'ok'
except OSError as e:
    out['mkdir'] = e.errno
try:
    with open('/etc/passwd', 'a') as f:
        f.write('x')
    out['passwd'] = 'written'
except OSError as e:
    out['passwd'] = e.errno
print(json.dumps(out))
"""
    out = zb.py_json(tmp, code)
    assert out == {"/test.txt": errno.EROFS, "/etc/test.txt": errno.EROFS,
                   "/usr/test.txt": errno.EROFS, "/tmp-test.txt": errno.EROFS,
                   "mkdir": errno.EROFS, "passwd": errno.EROFS}
    assert not os.path.exists("/test.txt") and not os.path.exists("/usr/test.txt")


SETUID_SCRIPT = r"""
import errno, json, os
out = {'uid': os.getuid(), 'euid': os.geteuid()}
for name, fn in (('setuid', lambda: os.setuid(0)), ('seteuid', lambda: os.seteuid(0)),
                 ('setgid', lambda: os.setgid(0)), ('setgroups', lambda: os.setgroups([0]))):
    try:
        fn()
        out[name] = 'ok'
    except OSError as e:
        out[name] = e.errno
out['uid_map'] = [list(map(int, l.split())) for l in open('/proc/self/uid_map')]
print(json.dumps(out))
"""


def test_docker_setuid_fails(zb, tmp):
    out = zb.py_json(tmp, SETUID_SCRIPT)
    if zb.unprivileged:
        # Only uid/gid 1000 is mapped in the sandbox's user namespace, so the
        # kernel refuses 0 as an invalid id (EINVAL) before any permission check.
        assert out == {"uid": 1000, "euid": 1000, "setuid": errno.EINVAL, "seteuid": errno.EINVAL,
                       "setgid": errno.EINVAL, "setgroups": errno.EPERM,
                       "uid_map": [[1000, 65534, 1]]}  # the invoker outside, never root
    else:
        # Started by root: 65536 ids on a subordinate range, so 0 exists and
        # the refusal is the permission check's (EPERM), as in Docker.
        assert out == {"uid": 1000, "euid": 1000, "setuid": errno.EPERM, "seteuid": errno.EPERM,
                       "setgid": errno.EPERM, "setgroups": errno.EPERM,
                       "uid_map": [[0, 2130706432, 65536]]}  # never host root


def test_user_0_has_no_capabilities(zb, tmp):
    code = r"""
import errno, json, os
out = {'uid': os.getuid(), 'gid': os.getgid()}
for line in open('/proc/self/status'):
    k, _, v = line.partition(':')
    if k.startswith('Cap') or k == 'NoNewPrivs':
        out[k] = v.strip()
try:
    open('/test.txt', 'w').close()
    out['write_root'] = 'written'
except OSError as e:
    out['write_root'] = e.errno
try:
    os.chown('/etc/passwd', 0, 0)
    os.chmod('/etc/passwd', 0o666)
    out['chmod'] = 'ok'
except OSError as e:
    out['chmod'] = e.errno
print(json.dumps(out))
"""
    out = zb.py_json(tmp, code, "--user", "0")
    assert out["uid"] == 0 and out["gid"] == 0
    for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(out[k], 16) == 0, (k, out[k])
    assert out["NoNewPrivs"] == "1"
    assert out["write_root"] == errno.EROFS
    assert out["chmod"] in (errno.EROFS, errno.EPERM)


def test_user_0_cannot_mount_or_remount(zb, tmp):
    code = r"""
import ctypes, errno, json
libc = ctypes.CDLL(None, use_errno=True)
MS_REMOUNT, MS_BIND = 32, 4096
out = {}
r = libc.mount(b"none", b"/", None, MS_REMOUNT | MS_BIND, None)
out['remount_root'] = ctypes.get_errno() if r else 'ok'
r = libc.mount(b"tmpfs", b"/etc", b"tmpfs", 0, None)
out['mount_tmpfs'] = ctypes.get_errno() if r else 'ok'
r = libc.unshare(0x10000000)  # CLONE_NEWUSER: nested user ns
out['unshare_user'] = ctypes.get_errno() if r else 'ok'
print(json.dumps(out))
"""
    out = zb.py_json(tmp, code, "--user", "0")
    assert out["remount_root"] == errno.EPERM, out
    assert out["mount_tmpfs"] == errno.EPERM, out
    assert out["unshare_user"] == errno.EPERM, out  # the seccomp filter: no nested user ns


# ------------------------------------------------------------ capabilities

@pytest.mark.parametrize("user", [[], ["--user", "0"]], ids=["uid1000", "uid0"])
def test_no_capabilities_no_new_privs(zb, user):
    r = zb.run(*user, "--", "cat", "/proc/self/status")
    assert r.rc == 0, r
    st = dict(line.split(":", 1) for line in r.stdout.splitlines() if ":" in line)
    st = {k: v.strip() for k, v in st.items()}
    assert st["CapBnd"] == "0000000000000000"
    assert st["CapAmb"] == "0000000000000000"
    assert st["CapEff"] == "0000000000000000"
    assert st["CapPrm"] == "0000000000000000"
    assert st["CapInh"] == "0000000000000000"
    assert st["NoNewPrivs"] == "1"


@pytest.mark.parametrize("flags,seccomp", [([], "2"), (["--seccomp", "unconfined"], "0")],
                         ids=["default", "unconfined"])
def test_layers_seen_from_the_host(zb, flags, seccomp):
    """The command's /proc/PID/status read from the host while it runs: what
    the JSON calls applied is what the kernel holds (seccomp filter mode 2
    and no_new_privs, no capability in any set); unconfined is the control."""
    from conftest import pids_exact, poll, unique_sleep_arg
    arg = unique_sleep_arg()
    p = zb.popen("--json", *flags, "--", "sleep", arg)
    try:
        pid = poll(lambda: pids_exact(["sleep", arg]), timeout=20)
        assert pid, "the sandboxed sleep never started"
        with open("/proc/%d/status" % pid[0]) as f:
            st = dict((k, v.strip()) for k, _, v in (l.partition(":") for l in f))
    finally:
        p.terminate()
        out, _ = p.communicate(timeout=30)
    assert st["Seccomp"] == seccomp, st
    assert st["NoNewPrivs"] == "1", st
    for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(st[k], 16) == 0, (k, st)
    j = json.loads(out)
    assert ("seccomp" in j["layers"]["applied"]) == (seccomp == "2"), j["layers"]
    assert "no_new_privileges" in j["layers"]["applied"], j["layers"]


# ------------------------------------------------------------ hidden host files

def test_canary_outside_zones_is_invisible(zb, tmp):
    name = "zb-canary-" + uuid.uuid4().hex
    hidden = tmp.mkdir("hidden", mode=0o755)
    canary = os.path.join(hidden, name)
    with open(canary, "w") as f:
        f.write("canary\n")
    os.chmod(canary, 0o644)
    zone = tmp.mkdir("zone", mode=0o755)
    with open(os.path.join(zone, "visible"), "w") as f:
        f.write("v")
    os.chmod(os.path.join(zone, "visible"), 0o644)
    script = ("find / -path /proc -prune -o -name %s -print 2>/dev/null; "
              "echo find-done; "
              "test -e %s && echo canary-exists; "
              "test -e %s && echo hidden-dir-exists; "
              "test -e /zone/visible && echo zone-ok; true") % (name, canary, hidden)
    r = zb.run("-v", zone + ":/zone:ro", "--", "sh", "-c", script)
    assert r.rc == 0, r
    assert r.stdout == "find-done\nzone-ok\n", r


CANARY_DIRS = ['/tmp', '/var', '/boot', '/mnt', '/srv', '/run', '/opt']


def test_host_secrets_absent(zb, tmp):
    # A canary file in each host dir: whatever the sandbox has at that path
    # (nothing, or its own tmpfs), it is not the host's.
    canaries = []
    tag = "zb-canary-" + uuid.uuid4().hex
    for d in CANARY_DIRS:
        try:
            with open(os.path.join(d, tag), "w") as f:
                f.write("canary\n")
            canaries.append(os.path.join(d, tag))
        except OSError:
            pass  # read-only or absent here: nothing to leak
    assert len(canaries) >= 4, canaries
    code = r"""
import json, os, sys
paths = ['/etc/shadow', '/etc/gshadow', '/home', '/root', '/etc/ssh', '/etc/sudoers', '/work',
         '/boot', '/sys/kernel', '/sys/fs/cgroup'] + sys.argv[1:]
out = {p: os.path.lexists(p) for p in paths}
out['home_list'] = os.listdir('/home') if out['/home'] else None
out['home_sandbox'] = os.listdir('/home/sandbox') if out['/home'] else None
print(json.dumps(out))
"""
    d = tmp.script_dir(code)
    try:
        r = zb.run("-v", d + ":/input:ro", "--", "python3", "/input/test.py", *canaries)
    finally:
        for c in canaries:
            os.unlink(c)
    assert r.rc == 0, r
    out = json.loads(r.stdout)
    for c in canaries:
        assert out[c] is False, (c, out)
    assert out["/sys/kernel"] is False and out["/sys/fs/cgroup"] is False, out
    assert out["/etc/shadow"] is False
    assert out["/etc/gshadow"] is False
    # /home holds only the sandbox's own (empty, tmpfs) home dir, none of the host's.
    assert out["home_list"] == ["sandbox"] and out["home_sandbox"] == []
    assert out["/root"] is False
    assert out["/etc/ssh"] is False
    assert out["/etc/sudoers"] is False
    assert out["/work"] is False, "the host's /work (this repository) is visible"
    assert out["/boot"] is False


def test_passwd_is_generated(zb):
    r = zb.run("--", "cat", "/etc/passwd")
    assert r.rc == 0, r
    with open("/etc/passwd") as f:
        host = f.read()
    assert r.stdout != host
    users = [line.split(":")[0] for line in r.stdout.splitlines()]
    assert "sandbox" in users or any(line.split(":")[2] == "1000" for line in r.stdout.splitlines())
    assert len(users) <= 5, users


# ------------------------------------------------------------ pid namespace

def test_proc_shows_only_sandbox(zb, tmp, host_sleep):
    p = host_sleep("30.%d" % os.getpid())
    if p.pid < 100:
        pytest.skip("host pid %d too low to tell apart from sandbox pids" % p.pid)
    code = r"""
import errno, json, os
pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
cmd = {}
for p in pids:
    try:
        cmd[p] = open('/proc/%%d/cmdline' %% p, 'rb').read().decode(errors='replace').split('\0')
    except OSError:
        pass
out = {'me': os.getpid(), 'ppid': os.getppid(), 'pids': pids, 'cmd': cmd,
       'host_visible': os.path.exists('/proc/%(hp)d')}
try:
    os.kill(%(hp)d, 0)
    out['kill0'] = 'ok'
except OSError as e:
    out['kill0'] = e.errno
try:
    os.kill(%(hp)d, 9)
    out['kill9'] = 'ok'
except OSError as e:
    out['kill9'] = e.errno
try:
    os.kill(-1, 0)
    out['kill_all'] = 'ok'
except OSError as e:
    out['kill_all'] = e.errno
print(json.dumps(out))
""" % {"hp": p.pid}
    out = zb.py_json(tmp, code)
    assert 1 in out["pids"]
    assert out["me"] < 10, out
    assert out["ppid"] == 1, out
    assert max(out["pids"]) < 50, out["pids"]
    assert len(out["pids"]) <= 4, out["pids"]
    assert out["host_visible"] is False
    assert out["kill0"] == errno.ESRCH
    assert out["kill9"] == errno.ESRCH
    assert not any("30.%d" % os.getpid() in " ".join(c) for c in out["cmd"].values())
    assert p.poll() is None, "the host process died"


def test_host_process_cannot_be_signalled_by_shell(zb, host_sleep):
    p = host_sleep("30.%d" % (os.getpid() + 1))
    if p.pid < 100:
        pytest.skip("host pid %d too low to tell apart from sandbox pids" % p.pid)
    r = zb.run("--", "sh", "-c", "kill -0 %d" % p.pid)
    assert r.rc == 1 and "No such process" in r.stderr, r  # the shell ran; the pid is not there
    r = zb.run("--user", "0", "--", "sh", "-c", "kill -9 %d; kill -9 -1; exit 0" % p.pid)
    assert p.poll() is None, "a host process was killed from inside the sandbox"


# ------------------------------------------------------------ file descriptors

FD_SCRIPT = r"""
import json, os
listed = sorted(int(x) for x in os.listdir('/proc/self/fd'))
# The listing fd itself was closed by listdir(); keep only fds still open.
def is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
still = [fd for fd in listed if is_open(fd)]
scan = [fd for fd in range(0, 4096) if is_open(fd)]
links = {}
for fd in scan:
    try:
        links[fd] = os.readlink('/proc/self/fd/%d' % fd)
    except OSError as e:
        links[fd] = str(e)
print(json.dumps({'listed': still, 'scan': scan, 'links': links}))
"""


def test_only_std_fds(zb, tmp):
    out = zb.py_json(tmp, FD_SCRIPT)
    assert out["listed"] == [0, 1, 2], out
    assert out["scan"] == [0, 1, 2], out


def test_inherited_fd_does_not_leak(zb, tmp):
    secret_dir = tmp.mkdir("fdsecret", mode=0o700)
    secret = os.path.join(secret_dir, "secret")
    with open(secret, "w") as f:
        f.write("top secret\n")
    fd = os.open(secret, os.O_RDONLY)  # no O_CLOEXEC once pass_fds makes it inheritable
    fd2 = fcntl.fcntl(fd, fcntl.F_DUPFD, 60)  # a free fd >= 60, not O_CLOEXEC
    s1, s2 = socket.socketpair()
    try:
        r = zb.py(tmp, FD_SCRIPT, pass_fds=(fd, fd2, s1.fileno()))
        assert r.rc == 0, r
        out = json.loads(r.stdout)
        assert out["listed"] == [0, 1, 2], out
        assert out["scan"] == [0, 1, 2], out
        # and with --json (stdout/stderr are then pipes)
        r = zb.run("--json", "-v", tmp.script_dir(FD_SCRIPT) + ":/input:ro", "--", "python3",
                   "/input/test.py", pass_fds=(fd, fd2, s1.fileno()))
        assert r.rc == 0, r
        out = json.loads(r.json["stdout"])
        assert out["scan"] == [0, 1, 2], out
    finally:
        os.close(fd)
        os.close(fd2)
        s1.close()
        s2.close()


# ------------------------------------------------------------ devices, /proc/sys

def test_dev_nodes(zb, tmp):
    code = r"""
import errno, json, os
out = {'dev': sorted(os.listdir('/dev'))}
with open('/dev/null', 'w') as f:
    out['null_write'] = f.write('hello')
out['zero'] = open('/dev/zero', 'rb').read(4).hex()
out['urandom_len'] = len(open('/dev/urandom', 'rb').read(16))
try:
    with open('/dev/full', 'w') as f:
        f.write('x')
        f.flush()
    out['full'] = 'ok'
except OSError as e:
    out['full'] = e.errno
for p in ('/dev/sda', '/dev/vda', '/dev/mem', '/dev/kmem', '/dev/port', '/dev/kmsg', '/dev/console'):
    out[p] = os.path.lexists(p)
try:
    os.mknod('/dev/shm/sda', 0o600 | 0o060000, os.makedev(8, 0))
    out['mknod'] = 'ok'
except OSError as e:
    out['mknod'] = e.errno
print(json.dumps(out))
"""
    out = zb.py_json(tmp, code)
    assert out["null_write"] == 5
    assert out["zero"] == "00000000"
    assert out["urandom_len"] == 16
    assert out["full"] == errno.ENOSPC
    for p in ("/dev/sda", "/dev/vda", "/dev/mem", "/dev/kmem", "/dev/port", "/dev/kmsg", "/dev/console"):
        assert out[p] is False, p
    allowed = {"null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm", "fd",
               "stdin", "stdout", "stderr"}
    assert set(out["dev"]) <= allowed, sorted(set(out["dev"]) - allowed)
    assert {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm"} <= set(out["dev"])
    assert out["mknod"] == errno.EPERM


def test_dev_shm_is_writable_and_private(zb):
    r = zb.run("--", "sh", "-c", "echo hi > /dev/shm/zb-x && cat /dev/shm/zb-x")
    assert r.rc == 0, r
    assert r.stdout == "hi\n"
    assert not os.path.exists("/dev/shm/zb-x")


@pytest.mark.parametrize("user", [[], ["--user", "0"]], ids=["uid1000", "uid0"])
def test_proc_sys_is_read_only(zb, tmp, user):
    code = r"""
import errno, json
out = {}
for p in ('/proc/sys/kernel/hostname', '/proc/sys/kernel/domainname', '/proc/sys/vm/drop_caches'):
    try:
        with open(p, 'w') as f:
            f.write('pwned\n')
        out[p] = 'written'
    except OSError as e:
        out[p] = e.errno
print(json.dumps(out))
"""
    before = socket.gethostname()
    out = zb.py_json(tmp, code, *user)
    assert out["/proc/sys/kernel/hostname"] == errno.EROFS, out
    assert out["/proc/sys/kernel/domainname"] == errno.EROFS, out
    assert out["/proc/sys/vm/drop_caches"] in (errno.EROFS, errno.EACCES), out
    assert socket.gethostname() == before
