"""Disk, I/O and output limits: output caps in pass-through mode (stdout and
stderr separately), the default file-size cap (RLIMIT_FSIZE), size caps on
rw and cow zones enforced by project quotas on a loop-mounted ext4 (and the
refusal where a filesystem cannot), and block-I/O throttling."""

import json
import os
import re
import subprocess

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
