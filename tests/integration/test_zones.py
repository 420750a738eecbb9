"""Zones: read-only binds, read-write binds, tmpfs zones."""

import errno
import os
import subprocess
import uuid

from conftest import NOBODY, tree_snapshot


def _populated_dir(tmp, owner=None):
    d = tmp.mkdir("zone", owner=owner)
    with open(os.path.join(d, "existing.txt"), "w") as f:
        f.write("original\n")
    os.mkdir(os.path.join(d, "sub"))
    with open(os.path.join(d, "sub", "inner.txt"), "w") as f:
        f.write("inner\n")
    for p in (d, os.path.join(d, "sub")):
        os.chmod(p, 0o777)  # even world-writable on the host: ro must still hold
    for p in ("existing.txt", "sub/inner.txt"):
        os.chmod(os.path.join(d, p), 0o666)
        if owner is not None:
            os.chown(os.path.join(d, p), owner, owner)
    return d


RO_SCRIPT = r"""
import errno, json, os
out = {}
def attempt(name, fn):
    try:
        fn()
        out[name] = 'ok'
    except OSError as e:
        out[name] = e.errno
attempt('create', lambda: open('/data/new.txt', 'w').close())
attempt('append', lambda: open('/data/existing.txt', 'a').write('x'))
attempt('truncate', lambda: open('/data/sub/inner.txt', 'w').close())
attempt('unlink', lambda: os.unlink('/data/existing.txt'))
attempt('rename', lambda: os.rename('/data/existing.txt', '/data/moved.txt'))
attempt('mkdir', lambda: os.mkdir('/data/newdir'))
attempt('chmod', lambda: os.chmod('/data/existing.txt', 0o600))
attempt('utime', lambda: os.utime('/data/existing.txt', (0, 0)))
out['read'] = open('/data/existing.txt').read()
out['list'] = sorted(os.listdir('/data'))
print(json.dumps(out))
"""


def test_ro_zone_is_read_only(zb, tmp):
    d = _populated_dir(tmp)
    before = tree_snapshot(d)
    out = zb.py_json(tmp, RO_SCRIPT, "-v", d + ":/data:ro")
    assert out["read"] == "original\n"
    assert out["list"] == ["existing.txt", "sub"]
    for k in ("create", "append", "truncate", "unlink", "rename", "mkdir", "chmod", "utime"):
        assert out[k] == errno.EROFS, (k, out)
    assert tree_snapshot(d) == before


def test_ro_zone_via_zone_flag(zb, tmp):
    d = _populated_dir(tmp)
    before = tree_snapshot(d)
    out = zb.py_json(tmp, RO_SCRIPT, "--zone", "name=data,mode=ro,hostPath=" + d)
    for k in ("create", "append", "truncate", "unlink", "mkdir"):
        assert out[k] == errno.EROFS, (k, out)
    assert tree_snapshot(d) == before


def test_ro_zone_as_root_inside(zb, tmp):
    d = _populated_dir(tmp)
    before = tree_snapshot(d)
    out = zb.py_json(tmp, RO_SCRIPT, "-v", d + ":/data:ro", "--user", "0")
    for k in ("create", "append", "unlink", "mkdir"):
        assert out[k] == errno.EROFS, (k, out)
    assert tree_snapshot(d) == before


def test_rw_zone_is_writable_and_visible_on_host(zb, tmp):
    d = tmp.mkdir("rw", owner=NOBODY)
    name = "out-%s.txt" % uuid.uuid4().hex[:8]
    r = zb.run("-v", d + ":/out:rw", "--", "sh", "-c",
               "echo written-inside > /out/%s && mkdir /out/dir && echo 2 > /out/dir/f && ls -n /out/%s"
               % (name, name))
    assert r.rc == 0, r
    assert r.stdout.split()[2:4] == ["1000", "1000"], r.stdout  # owner seen inside
    p = os.path.join(d, name)
    with open(p) as f:
        assert f.read() == "written-inside\n"
    st = os.stat(p)
    # Outside, the sandbox runs as uid 65534 whoever started it.
    assert (st.st_uid, st.st_gid) == (NOBODY, NOBODY)
    st = os.stat(os.path.join(d, "dir", "f"))
    assert (st.st_uid, st.st_gid) == (NOBODY, NOBODY)


def test_rw_zone_default_mode_and_zone_flag(zb, tmp):
    d1 = tmp.mkdir("rw1", owner=NOBODY)
    d2 = tmp.mkdir("rw2", owner=NOBODY)
    r = zb.run("-v", d1 + ":/a", "--zone", "name=b,mode=rw,hostPath=" + d2, "--zone",
               "name=c,mode=rw,hostPath=%s,path=/mnt/c" % d2, "--",
               "sh", "-c", "echo a > /a/f && echo b > /b/f && cat /mnt/c/f")
    assert r.rc == 0, r
    assert r.stdout == "b\n"
    assert open(os.path.join(d1, "f")).read() == "a\n"
    assert open(os.path.join(d2, "f")).read() == "b\n"


def test_rw_zone_cannot_escape_via_symlink_or_dotdot(zb, tmp):
    d = tmp.mkdir("rw", owner=NOBODY)
    outside = tmp.mkdir("outside", mode=0o777)
    r = zb.run("-v", d + ":/out", "--", "sh", "-c",
               "ln -s %s /out/link; echo x > /out/link/escaped; echo y > /out/../escaped2; "
               "cd /out && echo z > ../../escaped3; true" % outside)
    assert r.rc == 0, r
    assert os.listdir(outside) == []
    assert sorted(os.listdir(d)) == ["link"]


def test_tmpfs_zone_size_limit(zb, tmp):
    marker = "zb-tmpfs-%s" % uuid.uuid4().hex
    code = r"""
import errno, json, os
out = {}
try:
    with open('/scratch/%(m)s', 'wb') as f:
        for _ in range(32):
            f.write(b'x' * 65536)
            f.flush()
            os.fsync(f.fileno())
    out['write'] = 'ok'
except OSError as e:
    out['write'] = e.errno
out['size'] = os.path.getsize('/scratch/%(m)s')
st = os.statvfs('/scratch')
out['total'] = st.f_blocks * st.f_frsize
print(json.dumps(out))
""" % {"m": marker}
    before = set(os.listdir(tmp.base))
    out = zb.py_json(tmp, code, "--tmpfs", "/scratch:size=1m")
    assert out["write"] == errno.ENOSPC, out
    assert out["size"] <= 1024 * 1024
    assert out["total"] == 1024 * 1024
    # Nothing appears on the host: not at the mount point, not in the temp dirs.
    assert not os.path.exists("/scratch")
    assert all(d.startswith("input-") for d in set(os.listdir(tmp.base)) - before)
    found = subprocess.run(["find", "/tmp", "/var/tmp", "/dev/shm", "/run", "-name", marker],
                           capture_output=True, text=True).stdout
    assert found == ""


def test_tmpfs_zone_via_zone_flag_is_fresh_each_run(zb, tmp):
    r = zb.run("--zone", "name=t,mode=tmpfs,size=1m", "--", "sh", "-c",
               "test -z \"$(ls -A /t)\" && echo empty; echo data > /t/f && cat /t/f; "
               "head -c 2097152 /dev/zero > /t/big; echo rc=$?")
    assert r.rc == 0, r
    assert r.stdout == "empty\ndata\nrc=1\n", r
    assert "No space left on device" in r.stderr
    r = zb.run("--zone", "name=t,mode=tmpfs,size=1m", "--", "ls", "-A", "/t")
    assert r.rc == 0, r
    assert r.stdout == ""


def test_tmpfs_default_size_and_writable(zb):
    r = zb.run("--tmpfs", "/work", "--", "sh", "-c", "echo ok > /work/f && cat /work/f && "
               "stat -f -c '%b %S' /work")
    assert r.rc == 0, r
    lines = r.stdout.splitlines()
    assert lines[0] == "ok"
    blocks, bsize = map(int, lines[1].split())
    assert blocks * bsize == 64 * 1024 * 1024


def test_zone_contents_visible_inside(zb, tmp):
    d = _populated_dir(tmp)
    r = zb.run("-v", d + ":/data:ro", "--", "cat", "/data/existing.txt", "/data/sub/inner.txt")
    assert r.rc == 0, r
    assert r.stdout == "original\ninner\n"
