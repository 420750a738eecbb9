"""File access (security.landlock): the layer is reported, the paths the
sandbox needs stay usable (system dirs, /etc, zones, devices, /dev/shm,
/proc), read-only zones stay read-only, and the Landlock wall itself — the
part the mounts cannot give: no mounts even where the namespaces would
allow them (ABI >= 1), abstract unix sockets and signals scoped to the
sandbox's domain (ABI >= 6); each with --landlock false as the control."""

import ctypes
import errno
import json
import os
import platform
import signal
import socket
import uuid

import pytest

from conftest import NOBODY



def landlock_abi():
    """The host kernel's Landlock ABI (0: none), from
    landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION); the
    syscall is 444 on every arch but alpha."""
    if platform.machine() == "alpha":
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    r = libc.syscall(ctypes.c_long(444), None, ctypes.c_long(0), ctypes.c_long(1))
    return r if r > 0 else 0


ABI = landlock_abi()
needs_landlock = pytest.mark.skipif(ABI < 1, reason="the host kernel has no Landlock")
needs_scoping = pytest.mark.skipif(ABI < 6, reason="Landlock ABI %d < 6: no abstract-socket or "
                                   "signal scoping in this kernel" % ABI)


# ------------------------------------------------------------ (a), (d) the layer in the result

def test_landlock_reported_by_default(zb):
    r, res = zb.json("--", "true")
    assert r.rc == 0, r
    if ABI:
        assert "landlock" in res["layers"]["applied"], res["layers"]
        assert "landlock" not in res["layers"]["skipped"], res["layers"]
    else:
        assert "landlock" in res["layers"]["skipped"], res["layers"]


@needs_landlock
@pytest.mark.parametrize("flags", [["--landlock", "true"], ["--landlock", "required"],
                                   ["--security-opt", "landlock=true"],
                                   ["--security-opt", "landlock=required"]],
                         ids=["true", "required", "security-opt-true", "security-opt-required"])
def test_landlock_on(zb, flags):
    r, res = zb.json(*flags, "--", "cat", "/etc/passwd")
    assert r.rc == 0, r
    assert res["status"] == "exited" and res["exit_code"] == 0, res
    assert "root:x:0:0" in res["stdout"]
    assert "landlock" in res["layers"]["applied"], res["layers"]


@pytest.mark.parametrize("flags", [["--landlock", "false"], ["--security-opt", "landlock=false"],
                                   ["--landlock", "off"]], ids=["false", "security-opt", "off"])
def test_landlock_off_is_not_reported(zb, flags):
    # off by request: neither applied nor skipped (skipped means "wanted, unavailable")
    r, res = zb.json(*flags, "--", "true")
    assert r.rc == 0, r
    assert "landlock" not in res["layers"]["applied"], res["layers"]
    assert "landlock" not in res["layers"]["skipped"], res["layers"]
    assert "seccomp" in res["layers"]["applied"]


@pytest.mark.parametrize("flags", [["--landlock", "maybe"], ["--security-opt", "landlock=maybe"],
                                   ["--landlock", ""]], ids=["flag", "security-opt", "empty"])
def test_bad_landlock_value_rejected(zb, tmp, flags):
    out = tmp.mkdir("out", owner=NOBODY)
    r = zb.run(*flags, "-v", out + ":/out", "--", "sh", "-c", "touch /out/ran")
    assert r.rc == 125, r
    assert len(r.stderr.strip().splitlines()) == 1, r
    assert "landlock" in r.stderr or "--security-opt" in r.stderr, r
    assert os.listdir(out) == []


def test_landlock_in_yaml(zb, tmp):
    d = tmp.mkdir("cfg")
    path = os.path.join(d, "policy.yaml")
    with open(path, "w") as f:
        f.write("sandbox:\n  security:\n    landlock: false\n")
    os.chmod(path, 0o644)
    r, res = zb.json("--config", path, "--", "true")
    assert r.rc == 0, r
    assert "landlock" not in res["layers"]["applied"]
    if ABI:
        r, res = zb.json("--config", path, "--landlock", "required", "--", "true")
        assert r.rc == 0, r
        assert "landlock" in res["layers"]["applied"]  # the flag overrides the file


# ------------------------------------------------------------ (b) what must keep working

READS = r"""
import json, os, subprocess
out = {}
out['ls_root'] = sorted(os.listdir('/'))
out['ls_root_cmd'] = subprocess.run(['ls', '/'], capture_output=True, text=True, timeout=20).stdout.split()
out['ls_dev'] = sorted(os.listdir('/dev'))
out['ls_etc'] = 'passwd' in os.listdir('/etc')
def read(p):
    try:
        with open(p, 'rb') as f:
            return len(f.read())
    except OSError as e:
        return 'errno %d' % e.errno
for p in ('/etc/passwd', '/etc/group', '/etc/hosts', '/etc/hostname', '/etc/os-release',
          '/etc/ld.so.cache', '/usr/lib/os-release', '/usr/bin/env', '/bin/sh',
          '/proc/self/status', '/proc/self/mountinfo', '/proc/cpuinfo'):
    out[p] = read(p)
out['cat_usr'] = subprocess.run(['cat', '/usr/lib/os-release'], capture_output=True, text=True,
                                timeout=20).stdout.startswith(('PRETTY_NAME', 'NAME'))
out['cat_etc'] = subprocess.run(['cat', '/etc/passwd'], capture_output=True, text=True,
                                timeout=20).stdout.startswith('root:')
out['exec_bin_true'] = subprocess.run(['/bin/true'], timeout=20).returncode
out['exec_usr_env'] = subprocess.run(['/usr/bin/env', 'true'], timeout=20).returncode
with open('/proc/self/comm', 'w') as f:
    f.write('renamed')
out['comm'] = open('/proc/self/comm').read().strip()
out['cwd_listing'] = os.listdir('.')
out['cwd'] = os.getcwd()
print(json.dumps(out))
"""


def test_system_dirs_etc_proc_readable_root_listable(zb, tmp):
    out = zb.py_json(tmp, READS, "-w", "/work")
    assert {"usr", "etc", "proc", "dev", "bin", "input", "work"} <= set(out["ls_root"]), out["ls_root"]
    assert out["ls_root_cmd"] == out["ls_root"]
    assert {"null", "pts", "shm", "tty"} <= set(out["ls_dev"])
    assert out["ls_etc"] is True
    for p in ('/etc/passwd', '/etc/group', '/etc/hosts', '/etc/hostname', '/etc/os-release',
              '/etc/ld.so.cache', '/usr/lib/os-release', '/usr/bin/env', '/bin/sh',
              '/proc/self/status', '/proc/self/mountinfo', '/proc/cpuinfo'):
        assert isinstance(out[p], int) and out[p] > 0, (p, out[p])
    assert out["cat_usr"] is True and out["cat_etc"] is True, out
    assert out["exec_bin_true"] == 0 and out["exec_usr_env"] == 0, out
    assert out["comm"] == "renamed", out
    # a workdir outside every zone: an empty, listable dir
    assert out["cwd"] == "/work" and out["cwd_listing"] == [], out


ZONE_OPS = r"""
import errno, json, os, socket, subprocess, sys
base = sys.argv[1]
exec_ok = sys.argv[2] == 'exec'
out = {}
def step(name, fn):
    try:
        r = fn()
        out[name] = 'ok' if r is None else r
    except OSError as e:
        out[name] = 'errno %d %s' % (e.errno, errno.errorcode.get(e.errno, '?'))
d = os.path.join(base, 'work')
step('mkdir', lambda: (os.mkdir(d), os.mkdir(d + '/sub'))[0])
def write():
    with open(d + '/f.txt', 'w') as f:
        f.write('hello\n')
step('create', write)
step('append', lambda: open(d + '/f.txt', 'a').write('more\n') and None)
step('truncate', lambda: os.truncate(d + '/f.txt', 3))
step('open_trunc', lambda: open(d + '/t.txt', 'w').close())
step('rename_same_dir', lambda: os.rename(d + '/t.txt', d + '/t2.txt'))
step('rename_other_dir', lambda: os.rename(d + '/t2.txt', d + '/sub/t3.txt'))  # REFER
step('link', lambda: os.link(d + '/f.txt', d + '/sub/hard'))
step('symlink', lambda: os.symlink('../f.txt', d + '/sub/soft'))
step('read_symlink', lambda: open(d + '/sub/soft').read())
step('mkfifo', lambda: os.mkfifo(d + '/fifo'))
def unix_bind():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(d + '/sock')
    s.listen(1)
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(d + '/sock')
    c.close()
    s.close()
step('unix_socket', unix_bind)
step('chmod', lambda: os.chmod(d + '/f.txt', 0o600))
step('utime', lambda: os.utime(d + '/f.txt', (1, 1)))
step('listdir', lambda: sorted(os.listdir(d)))
if exec_ok:
    def run_script():
        with open(d + '/run.sh', 'w') as f:
            f.write('#!/bin/sh\necho ran-from-zone\n')
        os.chmod(d + '/run.sh', 0o755)
        return subprocess.run([d + '/run.sh'], capture_output=True, text=True, timeout=20).stdout.strip()
    step('exec', run_script)
    step('copy_exec', lambda: subprocess.run(['sh', '-c', 'cp /bin/true %s/mytrue && %s/mytrue && echo ok'
                                              % (d, d)], capture_output=True, text=True,
                                             timeout=20).stdout.strip())
step('unlink', lambda: os.unlink(d + '/fifo'))
step('rmdir', lambda: (os.unlink(d + '/sub/t3.txt'), os.unlink(d + '/sub/hard'),
                       os.unlink(d + '/sub/soft'), os.rmdir(d + '/sub'))[0])
step('final', lambda: open(d + '/f.txt').read())
print(json.dumps(out))
"""

ZONE_EXPECT = {
    "mkdir": "ok", "create": "ok", "append": "ok", "truncate": "ok", "open_trunc": "ok",
    "rename_same_dir": "ok", "rename_other_dir": "ok", "link": "ok", "symlink": "ok",
    "read_symlink": "hel", "mkfifo": "ok", "unix_socket": "ok", "chmod": "ok", "utime": "ok",
    "listdir": ["f.txt", "fifo", "sock", "sub"], "unlink": "ok", "rmdir": "ok", "final": "hel",
}


def _zone_ops(zb, tmp, base, exec_ok, *flags):
    d = tmp.script_dir(ZONE_OPS)
    r = zb.run("-v", d + ":/input:ro", *flags, "--", "python3", "/input/test.py", base,
               "exec" if exec_ok else "noexec")
    assert r.rc == 0, r
    out = json.loads(r.stdout)
    want = dict(ZONE_EXPECT)
    if exec_ok:
        want.update({"exec": "ran-from-zone", "copy_exec": "ok"})
    assert out == want
    return out


def test_rw_zone_every_right(zb, tmp):
    host = tmp.mkdir("rw", owner=NOBODY)
    _zone_ops(zb, tmp, "/output", True, "-v", host + ":/output")
    # the host sees what the sandbox left, owned by uid 65534 outside
    work = os.path.join(host, "work")
    assert sorted(os.listdir(work)) == ["f.txt", "mytrue", "run.sh", "sock"]
    with open(os.path.join(work, "f.txt")) as f:
        assert f.read() == "hel"
    assert os.stat(os.path.join(work, "f.txt")).st_uid == NOBODY


def test_tmpfs_zone_every_right(zb, tmp):
    _zone_ops(zb, tmp, "/scratch", True, "--tmpfs", "/scratch")


def test_nested_tmpfs_zone_every_right(zb, tmp):
    _zone_ops(zb, tmp, "/deep/er/scratch", True, "--tmpfs", "/deep/er/scratch")


def test_dev_shm_every_right(zb, tmp):
    _zone_ops(zb, tmp, "/dev/shm", False)  # /dev/shm is noexec


def test_ro_zone_readable_not_writable(zb, tmp):
    host = tmp.mkdir("ro")
    with open(os.path.join(host, "data.txt"), "w") as f:
        f.write("read me\n")
    with open(os.path.join(host, "tool.sh"), "w") as f:
        f.write("#!/bin/sh\necho tool-ran\n")
    os.chmod(os.path.join(host, "data.txt"), 0o666)
    os.chmod(os.path.join(host, "tool.sh"), 0o755)
    os.mkdir(os.path.join(host, "sub"), 0o777)
    os.chmod(os.path.join(host, "sub"), 0o777)
    os.chmod(host, 0o777)  # the mount and Landlock refuse, not the permission bits
    code = r"""
import errno, json, os, subprocess
out = {}
def step(name, fn):
    try:
        r = fn()
        out[name] = 'ok' if r is None else r
    except OSError as e:
        out[name] = e.errno
step('read', lambda: open('/data/data.txt').read())
step('list', lambda: sorted(os.listdir('/data')))
step('exec', lambda: subprocess.run(['/data/tool.sh'], capture_output=True, text=True, timeout=20).stdout)
step('write', lambda: open('/data/data.txt', 'a').write('x') and None)
step('trunc', lambda: open('/data/data.txt', 'w').close())
step('truncate', lambda: os.truncate('/data/data.txt', 0))
step('create', lambda: open('/data/new.txt', 'w').close())
step('create_sub', lambda: open('/data/sub/new.txt', 'w').close())
step('mkdir', lambda: os.mkdir('/data/newdir'))
step('unlink', lambda: os.unlink('/data/data.txt'))
step('rename', lambda: os.rename('/data/data.txt', '/data/sub/moved.txt'))
step('chmod', lambda: os.chmod('/data/data.txt', 0o600))
step('symlink', lambda: os.symlink('x', '/data/link'))
step('mkfifo', lambda: os.mkfifo('/data/fifo'))
print(json.dumps(out))
"""
    out = zb.py_json(tmp, code, "-v", host + ":/data:ro")
    assert out["read"] == "read me\n"
    assert out["list"] == ["data.txt", "sub", "tool.sh"]
    assert out["exec"] == "tool-ran\n"
    for k in ("write", "trunc", "truncate", "create", "create_sub", "mkdir", "unlink", "rename",
              "chmod", "symlink", "mkfifo"):
        assert out[k] in (errno.EROFS, errno.EACCES), (k, out[k])
    assert sorted(os.listdir(host)) == ["data.txt", "sub", "tool.sh"]
    assert os.listdir(os.path.join(host, "sub")) == []
    with open(os.path.join(host, "data.txt")) as f:
        assert f.read() == "read me\n"


DEVICES = r"""
import errno, json, os, subprocess, termios, tty
out = {}
def step(name, fn):
    try:
        r = fn()
        out[name] = 'ok' if r is None else r
    except OSError as e:
        out[name] = 'errno %d' % e.errno
# O_TRUNC on a device needs Landlock's truncate right
step('sh_redirect_null', lambda: subprocess.run(['sh', '-c', 'echo x > /dev/null && echo y 2>/dev/null >/dev/null; echo done'],
                                                capture_output=True, text=True, timeout=20).stdout.strip())
step('write_null', lambda: os.write(os.open('/dev/null', os.O_WRONLY | os.O_TRUNC), b'abc'))
step('read_zero', lambda: open('/dev/zero', 'rb').read(3).hex())
step('read_urandom', lambda: len(open('/dev/urandom', 'rb').read(8)))
step('read_random', lambda: len(open('/dev/random', 'rb').read(8)))
def full():
    with open('/dev/full', 'wb', buffering=0) as f:
        f.write(b'x')
step('write_full', full)
step('dev_tty', lambda: os.open('/dev/tty', os.O_RDWR))  # no controlling terminal: ENXIO, not EACCES
def pty():
    m = os.open('/dev/ptmx', os.O_RDWR | os.O_NOCTTY)
    os.close(m)
    m, s = os.openpty()
    tty.setraw(s)  # device ioctls (TCSETS) on a pts
    os.write(m, b'ping')
    return os.read(s, 4).decode()
step('pty', pty)
step('python_tty_check', lambda: subprocess.run(['python3', '-c', 'import os, pty; m, s = os.openpty(); print(os.isatty(s))'],
                                                capture_output=True, text=True, timeout=20).stdout.strip())
print(json.dumps(out))
"""


def test_devices_usable(zb, tmp):
    out = zb.py_json(tmp, DEVICES)
    assert out == {
        "sh_redirect_null": "done", "write_null": 3, "read_zero": "000000", "read_urandom": 8,
        "read_random": 8, "write_full": "errno %d" % errno.ENOSPC,
        "dev_tty": "errno %d" % errno.ENXIO, "pty": "ping", "python_tty_check": "True",
    }


# ------------------------------------------------------------ (c) the wall itself: scoping

CONNECT_ABSTRACT = r"""
import json, os, socket, sys
out = {}
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
try:
    s.connect(b'\0' + sys.argv[1].encode())
    s.sendall(b'from-sandbox')
    out['host'] = 'connected'
except OSError as e:
    out['host'] = e.errno
# an abstract socket of the sandbox itself stays usable
name = b'\0zb-inner-' + os.urandom(6).hex().encode()
l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
l.bind(name)
l.listen(1)
pid = os.fork()
if pid == 0:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        c.connect(name)
        c.sendall(b'inner')
        os._exit(0)
    except OSError as e:
        os._exit(e.errno)
conn, _ = l.accept()
out['inner'] = conn.recv(10).decode()
out['inner_child'] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
print(json.dumps(out))
"""


@needs_scoping
@pytest.mark.parametrize("landlock", ["true", "false"])
def test_abstract_unix_socket_scoped_with_host_network(zb, tmp, landlock):
    """With --network host the sandbox shares the host's abstract socket
    namespace; the mounts do not cover it, Landlock's scope does."""
    name = "zb-ll-" + uuid.uuid4().hex
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(b"\0" + name.encode())
    listener.listen(4)
    listener.setblocking(False)
    try:
        d = tmp.script_dir(CONNECT_ABSTRACT)
        r = zb.run("--landlock", landlock, "--network", "host", "-v", d + ":/input:ro", "--",
                   "python3", "/input/test.py", name)
        assert r.rc == 0, r
        out = json.loads(r.stdout)
        assert out["inner"] == "inner" and out["inner_child"] == 0, out
        try:
            conn, _ = listener.accept()
            conn.settimeout(5)
            got = conn.recv(100)
            conn.close()
        except BlockingIOError:
            got = None
        if landlock == "true":
            assert out["host"] == errno.EPERM, out
            assert got is None, "the host's abstract socket got a connection from the sandbox"
        else:
            assert out["host"] == "connected", out
            assert got == b"from-sandbox"
    finally:
        listener.close()


@needs_scoping
def test_abstract_unix_socket_scope_applies_to_children(zb, tmp):
    name = "zb-ll-" + uuid.uuid4().hex
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(b"\0" + name.encode())
    listener.listen(4)
    try:
        code = r"""
import subprocess, sys
r = subprocess.run(['python3', '-c', '''
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(b"\\0" + sys.argv[1].encode())
    print("connected")
except OSError as e:
    print(e.errno)
''', sys.argv[1]], capture_output=True, text=True, timeout=20)
print(r.stdout.strip())
"""
        d = tmp.script_dir(code)
        r = zb.run("--network", "host", "-v", d + ":/input:ro", "--", "python3", "/input/test.py", name)
        assert r.rc == 0, r
        assert r.stdout.strip() == str(errno.EPERM), r
    finally:
        listener.close()


SIGNALS = r"""
import json, os, signal, time
out = {}
try:
    os.kill(1, 0)  # zonebox's init: outside the command's Landlock domain
    out['init'] = 'ok'
except OSError as e:
    out['init'] = e.errno
pid = os.fork()
if pid == 0:
    time.sleep(30)
    os._exit(0)
os.kill(pid, signal.SIGTERM)  # a process of the same domain
_, st = os.waitpid(pid, 0)
out['child'] = os.WTERMSIG(st) if os.WIFSIGNALED(st) else 'exited'
out['self'] = os.kill(os.getpid(), 0) or 'ok'
print(json.dumps(out))
"""


@needs_scoping
def test_signal_scope(zb, tmp):
    out = zb.py_json(tmp, SIGNALS)
    assert out == {"init": errno.EPERM, "child": signal.SIGTERM, "self": "ok"}
    # the pid namespace and the same uid would allow it: Landlock is what refuses
    out = zb.py_json(tmp, SIGNALS, "--landlock", "false")
    assert out == {"init": "ok", "child": signal.SIGTERM, "self": "ok"}


# ------------------------------------------------------------ what only Landlock refuses

MOUNTS = "mount -t tmpfs none /dev/shm && echo mounted; mount --bind /usr /dev/shm && echo bound"


@needs_landlock
def test_landlock_refuses_mounts_the_namespaces_allow(zb):
    """With the seccomp layer off, a nested user and mount namespace would
    let the command mount over its own tree (a tmpfs, a bind of /usr on a
    writable dir); Landlock (ABI >= 1) forbids a restricted process any
    mount. --landlock false is the control: the same commands succeed, so it
    is Landlock that refuses, at any ABI (not only the ABI 6 scopes)."""
    argv = ["--", "unshare", "-Urm", "--propagation", "unchanged", "sh", "-c", MOUNTS]
    r = zb.run("--seccomp", "unconfined", *argv)
    assert r.rc == 32 and r.stdout == "", r  # mount(8): 32 is "mount failure"
    assert r.stderr.count("mount: /dev/shm: permission denied") == 2, r
    r = zb.run("--seccomp", "unconfined", "--landlock", "false", *argv)
    assert r.rc == 0 and r.stdout == "mounted\nbound\n", r


# ------------------------------------------------------------ landlock from inside

NESTED = r"""
import ctypes, errno, json, os, struct
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
L = ctypes.c_long
out = {'abi': libc.syscall(L(444), None, L(0), L(1))}
READ_FILE = 1 << 2
rd, wr = os.pipe()
pid = os.fork()
if pid == 0:
    res = {}
    attr = ctypes.create_string_buffer(struct.pack('Q', READ_FILE), 8)
    fd = libc.syscall(L(444), attr, L(8), L(0))
    res['create'] = fd >= 0 or ctypes.get_errno()
    r = libc.syscall(L(446), L(fd), L(0))
    res['restrict'] = r == 0 or ctypes.get_errno()
    try:
        open('/etc/passwd').read()
        res['read'] = 'ok'
    except OSError as e:
        res['read'] = e.errno
    res['list'] = 'passwd' in os.listdir('/etc')
    os.write(wr, json.dumps(res).encode())
    os._exit(0)
os.close(wr)
out['child'] = json.loads(os.read(rd, 4096))
os.waitpid(pid, 0)
out['parent_read'] = open('/etc/passwd').read().startswith('root:')
print(json.dumps(out))
"""


@needs_landlock
def test_command_can_restrict_itself_further(zb, tmp):
    """landlock_* are allowed by the seccomp profile: a command may add its
    own, stricter domain (here: no file reads) on top of zonebox's."""
    if platform.machine() == "alpha":
        pytest.skip("landlock syscall numbers differ on alpha")
    out = zb.py_json(tmp, NESTED)
    assert out["abi"] == ABI, out
    assert out["child"] == {"create": True, "restrict": True, "read": errno.EACCES, "list": True}, out
    assert out["parent_read"] is True
