"""Disk, I/O and output limits: output caps in pass-through mode (stdout and
stderr separately), the default file-size cap (RLIMIT_FSIZE), size caps on
rw and cow zones enforced by project quotas on a loop-mounted ext4 (and the
refusal where a filesystem cannot), and block-I/O throttling."""

import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import NOBODY, RUN_TIMEOUT, ZONEBOX

MiB = 1 << 20


# ---------------------------------------------------------------- output, pass-through

def _raw(zb, *args, timeout=RUN_TIMEOUT):
    """Runs zonebox run without --json; stdout and stderr as bytes."""
    return subprocess.run(zb.argv(args), capture_output=True, timeout=timeout, cwd="/",
                          stdin=subprocess.DEVNULL)


def test_passthrough_stdout_capped(zb):
    p = _raw(zb, "--output-limit", "1k", "--", "sh", "-c", "head -c 100000 /dev/zero")
    assert p.returncode == 0, p
    assert len(p.stdout) == 1024
    assert b"output limit reached on stdout" in p.stderr
    assert b"98976 bytes dropped" in p.stderr


def test_passthrough_stderr_capped(zb):
    p = _raw(zb, "--output-limit", "2k", "--", "sh", "-c", "head -c 50000 /dev/zero >&2")
    assert p.returncode == 0, p
    note = b"zonebox run: output limit reached on stderr"
    assert p.stderr.startswith(b"\0" * 2048) and p.stderr[2048:].startswith(note), p.stderr[2040:]
    assert p.stdout == b""


def test_passthrough_kill(zb):
    p = _raw(zb, "--output-limit", "4k", "--output-action", "kill", "--",
             "sh", "-c", "yes; echo after >&2", timeout=20)
    assert p.returncode == 141, p
    assert len(p.stdout) == 4096
    assert b"command stopped" in p.stderr and b"after" not in p.stderr


def test_passthrough_uncapped_by_default(zb):
    """Not given, the cap does not apply to pass-through (documented)."""
    p = _raw(zb, "--", "sh", "-c", "head -c 3000000 /dev/zero")
    assert p.returncode == 0 and len(p.stdout) == 3000000
    assert b"output limit" not in p.stderr


def test_passthrough_closed_reader_is_epipe(zb):
    """A reader that goes away: the command gets SIGPIPE, as without zonebox."""
    argv = " ".join("'%s'" % a for a in zb.argv(["--output-limit", "1m", "--", "yes"]))
    p = subprocess.run(["bash", "-c", argv + " | head -c 3; echo \" ${PIPESTATUS[0]}\""],
                       capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd="/")
    assert p.stdout == "y\ny 141\n", p


def test_output_limit_stream_in_verdict(zb):
    r, j = zb.json("--output-limit", "100", "--", "sh", "-c", "head -c 50 /dev/zero; sleep 0.2; head -c 500 /dev/zero >&2")
    assert j["output_limit_stream"] == "stderr" and j["stderr_truncated"] and not j["stdout_truncated"]
    r, j = zb.json("--output-limit", "100", "--", "sh", "-c", "head -c 500 /dev/zero")
    assert j["output_limit_stream"] == "stdout" and j["stdout_truncated"]
    r, j = zb.json("--", "true")
    assert j["output_limit_stream"] is None


# ---------------------------------------------------------------- file size

def test_default_file_size_cap(zb):
    r = _raw(zb, "--", "sh", "-c", "ulimit -f")
    # dash reports 512-byte blocks: 1 GiB is 2097152.
    assert r.stdout.strip() == b"2097152", r


def test_default_file_size_cap_fires(zb, tmp):
    """Writing past 1 GiB is stopped by the kernel; sparse files keep the test cheap."""
    out = tmp.mkdir("output", owner=NOBODY)
    r, j = zb.json("-v", out + ":/output:rw", "--", "sh", "-c",
                   "exec dd if=/dev/zero of=/output/f bs=1 count=1 seek=1073741824 2>/dev/null")
    assert j["status"] == "signaled" and j["signal"] == 25, j
    assert j["file_size_limit"] is True
    assert os.path.getsize(os.path.join(out, "f")) <= 1 << 30


def test_file_size_flag_and_unlimited(zb, tmp):
    out = tmp.mkdir("output", owner=NOBODY)
    r, j = zb.json("--ulimit", "fsize=1m", "-v", out + ":/output:rw", "--", "sh", "-c",
                   "exec head -c 5000000 /dev/zero > /output/f")
    assert j["file_size_limit"] is True and j["cli_exit_code"] == 153
    assert os.path.getsize(os.path.join(out, "f")) == MiB
    r = _raw(zb, "--ulimit", "fsize=unlimited", "--", "sh", "-c", "ulimit -f")
    assert r.stdout.strip() == b"unlimited", r


def test_file_size_note_on_stderr(zb):
    r = _raw(zb, "--ulimit", "fsize=64k", "--", "sh", "-c", "exec head -c 100000 /dev/zero > /dev/shm/f")
    assert r.returncode == 153
    assert b"zonebox run: file-size limit reached (SIGXFSZ)" in r.stderr


def test_default_file_size_lowered_to_hard_limit(zb_root):
    """A caller whose own hard limit is below the default: that limit, not an error."""
    p = subprocess.run(["bash", "-c", "ulimit -f 1000 && exec \"$@\"", "x", ZONEBOX, "run", "--",
                        "sh", "-c", "ulimit -f"], capture_output=True, text=True,
                       timeout=RUN_TIMEOUT, cwd="/")
    assert p.returncode == 0 and p.stdout.strip() == "2000", p
    p = subprocess.run(["bash", "-c", "ulimit -f 1000 && exec \"$@\"", "x", ZONEBOX, "run",
                        "--ulimit", "fsize=1g", "--", "true"], capture_output=True, text=True,
                       timeout=RUN_TIMEOUT, cwd="/")
    assert p.returncode == 125 and "file_size" in p.stderr, p


# ---------------------------------------------------------------- zone size caps

def _sh(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def btrfs_quota():
    """A loop-mounted btrfs with quotas on, made and removed by this module.

    This kernel has no CONFIG_QFMT_V2 (ext4 project quotas) nor
    CONFIG_XFS_QUOTA, so btrfs qgroups are the quota-capable filesystem the
    tests can make here; the project-quota path is the same code's other
    branch (see test_ext4_project_quota)."""
    if not os.path.exists("/dev/loop-control"):
        pytest.skip("no loop devices (/dev/loop-control missing)")
    for tool in ("mkfs.btrfs", "btrfs", "losetup"):
        if not _sh("sh", "-c", "command -v " + tool).stdout:
            pytest.skip("%s not installed (btrfs-progs, util-linux)" % tool)
    base = tempfile.mkdtemp(prefix="zb-btrfs-")
    os.chmod(base, 0o755)  # uid 65534 reaches the zones too
    img, mnt = os.path.join(base, "fs.img"), os.path.join(base, "mnt")
    os.mkdir(mnt)
    with open(img, "wb") as f:
        f.truncate(512 * MiB)
    assert _sh("mkfs.btrfs", "-q", img).returncode == 0
    p = _sh("mount", "-o", "loop", img, mnt)
    if p.returncode != 0:
        pytest.skip("cannot loop-mount a btrfs image: " + p.stderr.strip())
    try:
        assert _sh("btrfs", "quota", "enable", mnt).returncode == 0
        os.chmod(mnt, 0o755)
        yield mnt
    finally:
        _sh("umount", mnt)
        shutil.rmtree(base, ignore_errors=True)


def _subvol(mnt, name):
    path = os.path.join(mnt, name)
    p = _sh("btrfs", "subvolume", "create", path)
    assert p.returncode == 0, p.stderr
    os.chmod(path, 0o777)
    return path


def _qgroup_limit(mnt, path):
    """The subvolume's max_rfer as `btrfs qgroup show -r` prints it."""
    p = _sh("btrfs", "qgroup", "show", "-r", "--raw", mnt)
    sid = _sh("btrfs", "subvolume", "show", path).stdout
    m = re.search(r"Subvolume ID:\s+(\d+)", sid)
    for line in p.stdout.splitlines():
        f = line.split()
        if f and f[0] == "0/" + m.group(1):
            return f[3]
    raise AssertionError(p.stdout)


def test_rw_zone_size_cap_stops_writer(zb_root, btrfs_quota):
    out = _subvol(btrfs_quota, "out64")
    r, j = zb_root.json("--zone", "name=output,mode=rw,hostPath=%s,size=64m" % out, "--", "sh", "-c",
                        "head -c 100000000 /dev/zero > /output/big; echo rc=$?")
    assert j["status"] == "exited", j
    assert "Disk quota exceeded" in j["stderr"] and j["stdout"] == "rc=1\n", j
    size = os.path.getsize(os.path.join(out, "big"))
    assert 60 * MiB < size <= 64 * MiB, size
    d = j["disk_limit"]
    assert len(d) == 1 and d[0]["zone"] == "output" and d[0]["reached"] is True, d
    assert d[0]["size_bytes"] == 64 * MiB and d[0]["used_bytes"] <= 64 * MiB
    # The cap was for the run only.
    assert _qgroup_limit(btrfs_quota, out) == "none"


def test_rw_zone_size_cap_many_files_and_volume_spelling(zb_root, btrfs_quota):
    out = _subvol(btrfs_quota, "outmany")
    p = _raw(zb_root, "-v", out + ":/output:rw,size=16m", "--", "sh", "-c",
             "for i in $(seq 1 30); do head -c 1000000 /dev/zero > /output/f$i || exit 3; done")
    assert p.returncode == 3, p
    total = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    assert 12 * MiB < total <= 16 * MiB, total
    assert b"zone 'output' reached its size cap" in p.stderr


def test_rw_zone_under_cap_not_reached(zb_root, btrfs_quota):
    out = _subvol(btrfs_quota, "small")
    r, j = zb_root.json("-v", out + ":/output:rw,size=64m", "--", "sh", "-c",
                        "head -c 1000000 /dev/zero > /output/f")
    assert j["status"] == "exited" and j["exit_code"] == 0, j
    assert j["disk_limit"][0]["reached"] is False


def test_size_cap_refused_on_plain_btrfs_dir(zb_root, btrfs_quota):
    d = os.path.join(btrfs_quota, "plain")
    os.mkdir(d)
    r = zb_root.run("-v", d + ":/output:rw,size=8m", "--", "true")
    assert r.rc == 125 and "is not one" in r.stderr and "subvolume" in r.stderr, r


def test_size_cap_refused_unprivileged(btrfs_quota):
    out = _subvol(btrfs_quota, "unpriv")
    from conftest import Zonebox
    r = Zonebox("nobody").run("-v", out + ":/output:rw,size=8m", "--", "true")
    assert r.rc == 125 and "needs root" in r.stderr, r


def test_size_cap_refused_without_quota(zb, tmp):
    """/tmp here is ext4 without project quotas: refused, nothing started."""
    out = tmp.mkdir("output", owner=NOBODY)
    r = zb.run("--zone", "name=output,mode=rw,hostPath=%s,size=8m" % out, "--", "sh", "-c",
               "touch /output/started")
    assert r.rc == 125 and "project quotas" in r.stderr and "zone 'output'" in r.stderr, r
    assert not os.listdir(out)


def test_cow_zone_size_cap_refused_where_store_cannot(zb_root, tmp):
    src = tmp.mkdir("src")
    store = tmp.mkdir("store")
    r = zb_root.run("--cow-dir", store, "-v", src + ":/work:cow,size=8m", "--", "true")
    assert r.rc == 125 and "zone 'work'" in r.stderr and "project quotas" in r.stderr, r


def test_ro_zone_size_refused(zb_root, tmp):
    d = tmp.mkdir("in")
    r = zb_root.run("-v", d + ":/input:ro,size=8m", "--", "true")
    assert r.rc == 125 and "not ro" in r.stderr, r


def test_ext4_project_quota(zb_root, tmp_path):
    """ext4 with -O quota,project mounted with prjquota, where the kernel can."""
    img, mnt = str(tmp_path / "e.img"), str(tmp_path / "m")
    os.mkdir(mnt)
    with open(img, "wb") as f:
        f.truncate(256 * MiB)
    assert _sh("mkfs.ext4", "-q", "-O", "quota,project", img).returncode == 0
    p = _sh("mount", "-o", "loop,prjquota", img, mnt)
    if p.returncode != 0:
        dmesg = _sh("dmesg").stdout.strip().splitlines()[-1:]
        pytest.skip("skipped: this kernel cannot mount ext4 with project quotas (%s)" % dmesg)
    try:
        out = os.path.join(mnt, "out")
        os.mkdir(out, 0o777)
        os.chmod(out, 0o777)
        r, j = zb_root.json("-v", out + ":/output:rw,size=64m", "--", "sh", "-c",
                            "head -c 100000000 /dev/zero > /output/big")
        size = os.path.getsize(os.path.join(out, "big"))
        assert 60 * MiB < size <= 64 * MiB and j["disk_limit"][0]["reached"], (size, j)
    finally:
        _sh("umount", mnt)


# ---------------------------------------------------------------- block I/O

@pytest.fixture(scope="module")
def loop_ext4():
    """A loop-mounted ext4 (no quotas needed): (mount point, loop device)."""
    if not os.path.exists("/dev/loop-control"):
        pytest.skip("no loop devices (/dev/loop-control missing)")
    base = tempfile.mkdtemp(prefix="zb-io-")
    os.chmod(base, 0o755)
    img, mnt = os.path.join(base, "fs.img"), os.path.join(base, "mnt")
    os.mkdir(mnt)
    with open(img, "wb") as f:
        f.truncate(300 * MiB)
    assert _sh("mkfs.ext4", "-q", img).returncode == 0
    p = _sh("mount", "-o", "loop", img, mnt)
    if p.returncode != 0:
        pytest.skip("cannot loop-mount an ext4 image: " + p.stderr.strip())
    try:
        os.chmod(mnt, 0o777)
        dev = _sh("findmnt", "-n", "-o", "SOURCE", mnt).stdout.strip()
        yield mnt, dev
    finally:
        _sh("umount", mnt)
        shutil.rmtree(base, ignore_errors=True)


def _dd_rate(stderr):
    """Bytes per second from dd's summary line (bytes and seconds)."""
    m = re.search(r"(\d+) bytes .* copied, ([\d.]+) s", stderr)
    assert m, stderr
    return int(m.group(1)) / float(m.group(2))


def test_device_write_bps_holds(zb_root, loop_ext4):
    mnt, dev = loop_ext4
    r = zb_root.run("-v", mnt + ":/output", "--device-write-bps", dev + ":10m", "--",
                    "dd", "if=/dev/zero", "of=/output/w", "bs=1M", "count=40", "oflag=direct")
    assert r.rc == 0, r
    rate = _dd_rate(r.stderr)
    assert abs(rate - 10 * MiB) <= MiB, rate  # within 10% of the limit


def test_zone_write_bps_resolves_the_zone_device(zb_root, loop_ext4):
    mnt, dev = loop_ext4
    r = zb_root.run("-v", mnt + ":/output", "--zone-write-bps", "output:20m", "--",
                    "dd", "if=/dev/zero", "of=/output/z", "bs=1M", "count=60", "oflag=direct")
    assert r.rc == 0, r
    rate = _dd_rate(r.stderr)
    assert abs(rate - 20 * MiB) <= 2 * MiB, rate


def test_device_read_bps_and_write_iops_hold(zb_root, loop_ext4):
    mnt, dev = loop_ext4
    with open(os.path.join(mnt, "r"), "wb") as f:
        f.write(b"x" * (40 * MiB))
    r = zb_root.run("-v", mnt + ":/output", "--device-read-bps", dev + ":10m", "--",
                    "dd", "if=/output/r", "of=/dev/null", "bs=1M", "iflag=direct")
    assert r.rc == 0, r
    rate = _dd_rate(r.stderr)
    assert abs(rate - 10 * MiB) <= MiB, rate
    r = zb_root.run("-v", mnt + ":/output", "--device-write-iops", dev + ":100", "--",
                    "dd", "if=/dev/zero", "of=/output/i", "bs=4k", "count=400", "oflag=direct")
    assert r.rc == 0, r
    iops = _dd_rate(r.stderr) / 4096
    assert abs(iops - 100) <= 10, iops


def test_unthrottled_is_faster(zb_root, loop_ext4):
    """The control: the same dd without a limit is far above 10 MiB/s."""
    mnt, dev = loop_ext4
    r = zb_root.run("-v", mnt + ":/output", "--", "dd", "if=/dev/zero", "of=/output/u", "bs=1M",
                    "count=40", "oflag=direct")
    assert r.rc == 0 and _dd_rate(r.stderr) > 20 * MiB, r


@pytest.mark.parametrize("args, msg", [
    (["--device-write-bps", "/dev/null:1m"], "not a block device"),
    (["--device-write-bps", "/dev/nope:1m"], "No such file"),
    (["--device-write-bps", "sda:1m"], "DEVICE:RATE"),
    (["--device-write-bps", "/dev/loop0:0"], "the rate > 0"),
    (["--device-read-iops", "/dev/loop0:1k"], "DEVICE:IOPS"),
    (["--zone-write-bps", "nothere:1m"], "no zone named 'nothere'"),
    (["--tmpfs", "/scratch", "--zone-write-bps", "scratch:1m"], "is a tmpfs"),
    (["--blkio-weight", "5"], "10 to 1000"),
])
def test_bad_io_limits(zb_root, args, msg):
    r = zb_root.run(*args, "--", "true")
    assert r.rc == 125 and msg in r.stderr, r


def test_io_limits_in_config(zb_root, loop_ext4, tmp):
    mnt, dev = loop_ext4
    d = tmp.mkdir("cfg")
    cfg = os.path.join(d, "c.yaml")
    with open(cfg, "w") as f:
        f.write("sandbox:\n  zones:\n    - {name: output, mode: rw, hostPath: %s}\n"
                "  limits:\n    zone_write_bps: [\"output:10m\"]\n" % mnt)
    r = zb_root.run("--config", cfg, "--", "dd", "if=/dev/zero", "of=/output/c", "bs=1M", "count=30",
                    "oflag=direct")
    assert r.rc == 0, r
    assert abs(_dd_rate(r.stderr) - 10 * MiB) <= MiB


def test_blkio_weight_written(zb_root):
    """The weight is in the sandbox's blkio (v1) or io (v2) cgroup while it runs."""
    p = zb_root.popen("--blkio-weight", "321", "--", "sleep", "5")
    try:
        found = []

        def weight():
            for root in ("/sys/fs/cgroup/blkio", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
                for dirpath, dirs, files in os.walk(root):
                    if os.path.basename(dirpath).startswith("zonebox-%d-" % p.pid):
                        for f in ("blkio.bfq.weight", "blkio.weight", "io.weight", "io.bfq.weight"):
                            if f in files:
                                found.append(open(os.path.join(dirpath, f)).read())
                                return True
            return False
        from conftest import poll
        assert poll(weight, timeout=5), "no zonebox cgroup with a weight file"
        assert "321" in found[0], found
    finally:
        p.terminate()  # forwarded to the command: a clean end, the cgroup removed
        p.wait(timeout=RUN_TIMEOUT)


# ---------------------------------------------------------------- engines and export

def _export(*args):
    return subprocess.run([ZONEBOX, "export"] + list(args), capture_output=True, text=True,
                          timeout=RUN_TIMEOUT, cwd="/")


def _blockdev():
    """A whole-disk block device of this host and its MAJ:MIN."""
    for name in sorted(os.listdir("/sys/block")):
        if not name.startswith(("loop", "ram", "zram")):
            dev = "/dev/" + name
            if os.path.exists(dev):
                st = os.stat(dev)
                return dev, os.major(st.st_rdev), os.minor(st.st_rdev)
    pytest.skip("no block device in /sys/block")


def test_export_docker_io_and_size_warning(tmp):
    d = tmp.mkdir("out")
    dev, ma, mi = _blockdev()
    p = _export("docker", "-v", d + ":/out:rw,size=1g", "--device-write-bps", dev + ":1m",
                "--device-read-iops", dev + ":500", "--blkio-weight", "300", "--", "true")
    assert p.returncode == 0, p
    line = p.stdout
    assert "--device-write-bps %s:1048576" % dev in line and "--device-read-iops %s:500" % dev in line
    assert "--blkio-weight 300" in line
    assert "zone 'out': size: docker cannot cap" in p.stderr
    p = _export("docker", "--strict", "--seccomp", "unconfined", "--landlock", "false",
                "-v", d + ":/out:rw,size=1g", "--", "true")
    assert p.returncode == 125, p


def test_export_oci_block_io(tmp):
    dev, ma, mi = _blockdev()
    bundle = os.path.join(tmp.mkdir("bundle"), "b")
    p = _export("oci", bundle, "--device-write-bps", dev + ":1m", "--blkio-weight", "300", "--", "true")
    assert p.returncode == 0, p
    with open(os.path.join(bundle, "config.json")) as f:
        bio = json.load(f)["linux"]["resources"]["blockIO"]
    assert bio == {"weight": 300, "throttleWriteBpsDevice": [{"major": ma, "minor": mi, "rate": MiB}]}


def test_export_kubernetes_ephemeral_storage(tmp):
    d = tmp.mkdir("out")
    p = _export("kubernetes", "--host-zones", "emptyDir", "-v", d + ":/out:rw,size=1g",
                "--device-write-bps", "/dev/null:1m", "--", "true")
    assert p.returncode == 0, p
    assert '"sizeLimit": "1Gi"' in p.stdout and '"ephemeral-storage": "1Gi"' in p.stdout
    assert "limits.device_write_bps: a Pod cannot throttle block I/O" in p.stderr
    p = _export("kubernetes", "-v", d + ":/out:rw,size=1g", "--", "true")
    assert "no per-pod size cap" in p.stderr


# ---------------------------------------------------------------- settings a mode does not use

@pytest.mark.parametrize("args, msg", [
    # --image is no longer ignored on the namespace backend: an image it
    # cannot find is exit 125 (tests/integration/test_images.py).
    (["--runtime", "runsc"], "runtime: only the docker and oci backends"),
    (["--engine-cli", "podman"], "engine_cli: only the docker backend"),
    (["--kind", "job"], "kubernetes.kind: only zonebox export kubernetes"),
    (["--cow-action", "commit"], "cow_dir, cow_action: no cow zone"),
    (["--output-action", "kill"], "limits.output_action: kill, but pass-through"),
])
def test_unused_settings_are_warned(zb_root, args, msg):
    r = zb_root.run(*args, "--", "true")
    assert r.rc == 0 and ("zonebox run: warning: " + msg) in r.stderr, r
    if "--output-action" not in args:  # with --json the output is captured and capped
        r, j = zb_root.json(*args, "--", "true")
        assert any(w.startswith(msg) for w in j["warnings"]), j


def test_no_warnings_by_default(zb_root):
    r, j = zb_root.json("--", "true")
    assert "warnings" not in j and r.stderr == "", (j, r.stderr)


def test_export_warns_run_only_settings():
    p = _export("docker", "--output-limit", "1k", "--allow-cmd", "true", "--", "true")
    assert p.returncode == 0
    assert "warning: approval: decided by zonebox run" in p.stderr
    assert "warning: limits.output: enforced by zonebox run" in p.stderr


def test_size_cap_undone_after_supervisor_sigkill(zb_root, btrfs_quota):
    """A supervisor killed with SIGKILL cannot clear the cap; the next run does."""
    import signal
    import time
    from conftest import poll
    out = _subvol(btrfs_quota, "killed")
    p = zb_root.popen("-v", out + ":/out:rw,size=32m", "--", "sleep", "30")
    try:
        assert poll(lambda: _qgroup_limit(btrfs_quota, out) != "none", timeout=10)
        time.sleep(0.3)
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=RUN_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
    assert _qgroup_limit(btrfs_quota, out) == str(32 * MiB)  # left by the killed run
    r = zb_root.run("--", "true")
    assert r.rc == 0, r
    assert _qgroup_limit(btrfs_quota, out) == "none"
    assert not [f for f in os.listdir("/run/zonebox/quota") if f.startswith("%d-" % p.pid)]


def test_size_cap_refused_over_existing_limit(zb_root, btrfs_quota):
    out = _subvol(btrfs_quota, "theirs")
    assert _sh("btrfs", "qgroup", "limit", "5m", out).returncode == 0
    r = zb_root.run("-v", out + ":/out:rw,size=32m", "--", "true")
    assert r.rc == 125 and "already has a qgroup limit" in r.stderr, r
    assert _qgroup_limit(btrfs_quota, out) == str(5 * MiB)  # theirs, untouched


def test_session_exec_passthrough_capped(tmp):
    start = subprocess.run([ZONEBOX, "session", "start", "--output-limit", "1k"], capture_output=True,
                           text=True, timeout=RUN_TIMEOUT, cwd="/")
    assert start.returncode == 0, start
    sid = start.stdout.strip()
    try:
        p = subprocess.run([ZONEBOX, "session", "exec", sid, "--", "sh", "-c", "head -c 100000 /dev/zero >&2"],
                           capture_output=True, timeout=RUN_TIMEOUT, cwd="/")
        assert p.returncode == 0, p
        assert p.stderr.startswith(b"\0" * 1024)
        assert b"zonebox session exec: output limit reached on stderr" in p.stderr[1024:]
    finally:
        subprocess.run([ZONEBOX, "session", "stop", sid], capture_output=True, timeout=RUN_TIMEOUT)


def test_btrfs_cap_not_escaped_by_a_subvolume(zb_root, btrfs_quota):
    """A subvolume made inside the zone would be a qgroup of its own, outside the
    cap: the seccomp filter refuses the ioctls that make one."""
    out = _subvol(btrfs_quota, "escape")
    r, j = zb_root.json("-v", out + ":/out:rw,size=16m", "--", "sh", "-c",
                        "btrfs subvolume create /out/sv; btrfs subvolume snapshot /out /out/snap;"
                        " mkdir -p /out/sv; head -c 50000000 /dev/zero > /out/sv/big; echo rc=$?")
    assert "Operation not permitted" in j["stderr"], j
    assert j["stdout"].endswith("rc=1\n") and "Disk quota exceeded" in j["stderr"], j
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
    assert total <= 16 * MiB, total
