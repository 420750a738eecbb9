"""Violations from seccomp user notification (issue 16, src/ns/notify.c):
the default filter's denials reach the supervisor, which answers with the
filter's own errno and records `seccomp` entries; counted, not one per
attempt; fallbacks say why the source is not observable.

Each test starts real sandboxes, as root and as uid 65534 (the zb fixture)."""

import json
import os
import subprocess

import pytest

from conftest import ZONEBOX

PTRACE = ("import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); "
          "r = libc.ptrace(0, 0, 0, 0); print(r, ctypes.get_errno())")


def seccomp_entries(d, op=None):
    return [v for v in d["violations"] if v["layer"] == "seccomp" and (op is None or v["operation"] == op)]


def test_ptrace_is_recorded_and_still_eperm(zb):
    r, d = zb.json("--", "python3", "-c", PTRACE)
    assert r.rc == 0, r
    assert d["stdout"].split() == ["-1", "1"], d  # EPERM, as without notification
    (v,) = seccomp_entries(d, "ptrace")
    assert v["rule"] == "seccomp default: ptrace", v
    assert v["hint"] == "--seccomp-allow ptrace (security.seccomp.allow)", v
    assert v["count"] == 1 and v["target"] == "" and v["first_ms"] >= 0, v
    assert d["violation_sources"]["seccomp"] == "observed", d


def test_allowed_work_records_nothing(zb):
    r, d = zb.json("--", "sh", "-c", "ls / >/dev/null && python3 -c 'import json, ssl'")
    assert r.rc == 0, r
    assert seccomp_entries(d) == [], d
    assert d["violation_sources"]["seccomp"] == "observed", d


def test_argument_denials_and_deny_list(zb):
    # mount: not in the allowlist; chmod with a set-id bit: an argument
    # filter; getpid denied by the policy's own list.
    code = ("import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); out = []\n"
            "out.append(libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)); out.append(ctypes.get_errno())\n"
            "open('/tmp/f', 'w').close()\n"
            "out.append(libc.chmod(b'/tmp/f', 0o4755)); out.append(ctypes.get_errno())\n"
            "out.append(libc.syscall(39)); out.append(ctypes.get_errno())\n"
            "print(*out)")
    r, d = zb.json("--seccomp-deny", "getpid", "--", "python3", "-c", code)
    assert r.rc == 0, r
    assert d["stdout"].split() == ["-1", "1", "-1", "1", "-1", "1"], d
    ops = {v["operation"]: v for v in seccomp_entries(d)}
    assert ops["mount"]["rule"] == "seccomp default: mount", ops
    assert ops["chmod"]["rule"] == "seccomp default: chmod", ops
    assert ops["getpid"]["rule"] == "security.seccomp.deny: getpid", ops


def test_command_cannot_take_a_listener(zb):
    # A filter of its own with SECCOMP_FILTER_FLAG_NEW_LISTENER would win
    # the tie with zonebox's USER_NOTIF and could answer CONTINUE: refused.
    code = ("import ctypes, struct; libc = ctypes.CDLL(None, use_errno=True)\n"
            "libc.prctl(38, 1, 0, 0, 0)\n"  # PR_SET_NO_NEW_PRIVS
            "ret_allow = struct.pack('HBBI', 0x06, 0, 0, 0x7fff0000)\n"
            "buf = ctypes.create_string_buffer(ret_allow)\n"
            "prog = struct.pack('HxxxxxxQ', 1, ctypes.addressof(buf))\n"
            "p = ctypes.create_string_buffer(prog)\n"
            "r = libc.syscall(317, 1, 8, p)\n"  # seccomp(SET_MODE_FILTER, NEW_LISTENER)
            "print(r, ctypes.get_errno())\n"
            "r = libc.syscall(317, 1, 0, p)\n"  # without the flag: allowed
            "print(r, ctypes.get_errno())\n"
            "print(libc.ptrace(0, 0, 0, 0), ctypes.get_errno())")
    r, d = zb.json("--", "python3", "-c", code)
    assert r.rc == 0, r
    lines = d["stdout"].splitlines()
    assert lines[0] == "-1 1", d  # EPERM
    assert lines[1].split()[0] == "0", d
    assert lines[2] == "-1 1", d  # still denied under a filter of its own that allows all
    ops = {v["operation"] for v in seccomp_entries(d)}
    assert {"seccomp", "ptrace"} <= ops, d


def test_hammering_is_counted_not_stored(zb):
    n = 200000
    code = ("import ctypes; f = ctypes.CDLL(None).ptrace\n"
            "for _ in range(%d): f(0, 0, 0, 0)\n" % n)
    r, d = zb.json("--", "python3", "-c", code, timeout=300)
    assert r.rc == 0, r
    (v,) = seccomp_entries(d, "ptrace")
    assert v["count"] == n, v
    assert len(d["violations"]) == 1, d


def test_unconfined_has_no_listener(zb):
    r, d = zb.json("--seccomp", "unconfined", "--", "true")
    assert r.rc == 0, r
    assert d["violation_sources"]["seccomp"].startswith("not observable: no syscall filter"), d


def test_custom_profile_and_allowed_seccomp_have_no_listener(zb, tmp):
    prof = os.path.join(tmp.mkdir("prof"), "p.json")
    with open(prof, "w") as f:
        json.dump({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"}]}, f)
    os.chmod(prof, 0o644)
    r, d = zb.json("--seccomp", prof, "--", "python3", "-c", PTRACE)
    assert r.rc == 0, r
    assert d["stdout"].split() == ["-1", "1"], d
    assert seccomp_entries(d) == [], d
    assert d["violation_sources"]["seccomp"].startswith("not observable: a custom seccomp profile"), d
    r, d = zb.json("--seccomp-allow", "seccomp", "--", "python3", "-c", PTRACE)
    assert r.rc == 0 and d["stdout"].split() == ["-1", "1"], r
    assert "security.seccomp.allow" in d["violation_sources"]["seccomp"], d


def test_fallback_without_notification_keeps_eperm(zb):
    env = dict(os.environ, ZONEBOX_TEST_NO_NOTIFY="1")
    r, d = zb.json("--", "python3", "-c", PTRACE, env=env)
    assert r.rc == 0, r
    assert d["stdout"].split() == ["-1", "1"], d
    assert seccomp_entries(d) == [], d
    assert d["violation_sources"]["seccomp"].startswith("not observable: turned off by ZONEBOX_TEST_NO_NOTIFY"), d


def test_exec_failure_under_notification(zb):
    r = zb.run("--", "/no/such/command")
    assert r.rc == 127, r


# ---- filesystem and network (notify_watch.c): recorded, the kernel's own error kept ----

def entries(d, layer):
    return {(v["operation"], v["target"]): v for v in d["violations"] if v["layer"] == layer}


WRITES = r"""
import errno, os, sys
out = {}
def attempt(name, f):
    try:
        f()
        out[name] = 0
    except OSError as e:
        out[name] = e.errno
attempt("/test.txt", lambda: open("/test.txt", "w").write("x"))
attempt("/input/x", lambda: open("/input/x", "w").write("x"))
attempt("/usr/zb-newdir", lambda: os.mkdir("/usr/zb-newdir"))
attempt("/proc/sys/kernel/hostname", lambda: open("/proc/sys/kernel/hostname", "w").write("x"))
attempt("/tmp/fine", lambda: open("/tmp/fine", "w").write("x"))
attempt("read", lambda: open("/etc/hostname").read())
os.chdir("/etc")
attempt("rel", lambda: open("zb-rel\x01\x1b[31m", "w"))
attempt("long", lambda: open("/" + "a" * 65536, "w"))
attempt("unlink", lambda: os.unlink("/etc/hostname"))
import json; print(json.dumps(out))
"""


def test_writes_outside_writable_zones(zb, tmp):
    d_in = tmp.mkdir("input")
    r, d = zb.json("-v", d_in + ":/input:ro", "--", "python3", "-c", WRITES)
    assert r.rc == 0, r
    got = json.loads(d["stdout"])
    # the kernel's own errors, unchanged
    assert got["/test.txt"] == got["/input/x"] == got["/usr/zb-newdir"] == 30, got  # EROFS
    assert got["/proc/sys/kernel/hostname"] == 30 and got["/tmp/fine"] == 0 and got["read"] == 0, got
    assert got["long"] == 36, got  # ENAMETOOLONG
    fs = entries(d, "filesystem")
    assert fs[("write", "/test.txt")]["rule"] == "root is read-only", fs
    assert fs[("write", "/input/x")]["rule"] == "zone input is ro", fs
    assert fs[("mkdir", "/usr/zb-newdir")]["rule"] == "root is read-only", fs
    assert fs[("write", "/proc/sys/kernel/hostname")]["rule"] == "/proc/sys is read-only", fs
    assert fs[("unlink", "/etc/hostname")]["count"] == 1, fs
    # relative to the cwd, control characters escaped, never raw
    assert ("write", "/etc/zb-rel\\x01\\x1b[31m") in fs, fs
    # allowed writes, reads and the over-long path leave nothing
    assert not [k for k in fs if k[1].startswith("/tmp") or k[1] == "/etc/hostname" and k[0] == "write"], fs
    assert not [k for k in fs if len(k[1]) > 600], fs
    assert d["violation_sources"]["filesystem"] == "observed", d
    assert not os.path.exists(os.path.join(d_in, "x"))


def test_filesystem_entries_after_the_first_writer_is_gone(zb, tmp):
    # The sandbox's root is opened once, from the first process whose path the
    # supervisor looks at (here a touch that exits at once); later processes'
    # paths, relative ones too, are resolved in it all the same.
    d_in = tmp.mkdir("input")
    script = ("touch /etc/zb-a; cd /input && touch zb-b; mkdir /usr/zb-c; touch /tmp/zb-ok; "
              "cd / && sh -c 'rm /etc/hostname'; true")
    r, d = zb.json("-v", d_in + ":/input:ro", "--", "sh", "-c", script)
    assert r.rc == 0 and d["stderr"].count("Read-only file system") == 4, (r, d)
    fs = entries(d, "filesystem")
    assert fs[("write", "/etc/zb-a")]["rule"] == "root is read-only", fs
    assert fs[("write", "/input/zb-b")]["rule"] == "zone input is ro", fs
    assert fs[("mkdir", "/usr/zb-c")]["rule"] == "root is read-only", fs
    assert fs[("unlink", "/etc/hostname")]["rule"] == "root is read-only", fs
    assert len(fs) == 4, fs
    assert os.listdir(d_in) == []


def test_filesystem_entries_are_counted(zb):
    code = "import os\nfor _ in range(1000):\n    try: os.mkdir('/usr/x')\n    except OSError: pass\n"
    r, d = zb.json("--", "python3", "-c", code)
    assert r.rc == 0, r
    assert entries(d, "filesystem")[("mkdir", "/usr/x")]["count"] == 1000, d
    assert len(d["violations"]) == 1, d


CONNECT = r"""
import socket, json
out = []
for fam, typ, addr in [(socket.AF_INET, socket.SOCK_STREAM, ("93.184.216.34", 80)),
                       (socket.AF_INET, socket.SOCK_DGRAM, ("8.8.8.8", 53)),
                       (socket.AF_INET6, socket.SOCK_STREAM, ("2606:2800:220:1::1", 443)),
                       (socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", 9))]:
    s = socket.socket(fam, typ)
    try:
        s.connect(addr); out.append(0)
    except OSError as e:
        out.append(e.errno)
print(json.dumps(out))
"""


def test_connect_in_network_none(zb):
    r, d = zb.json("--network", "none", "--", "python3", "-c", CONNECT)
    assert r.rc == 0, r
    errs = json.loads(d["stdout"])
    assert errs[0] == errs[1] == 101, errs  # ENETUNREACH, the kernel's
    assert errs[3] == 111, errs  # ECONNREFUSED on loopback, unchanged
    net = entries(d, "network")
    v = net[("connect", "93.184.216.34:80/tcp")]
    assert v["rule"] == "network none" and "network.allow" in v["hint"], v
    assert ("connect", "8.8.8.8:53/udp") in net, net
    assert ("connect", "[2606:2800:220:1::1]:443/tcp") in net, net
    assert not [k for k in net if k[1].startswith("127.")], net
    assert d["violation_sources"]["network"] == "observed", d


def test_host_network_does_not_watch_connect(zb_root):
    r, d = zb_root.json("--network", "host", "--", "python3", "-c",
                        "import socket; s = socket.socket(); s.settimeout(0.01)\n"
                        "try: s.connect(('127.0.0.1', 9))\nexcept OSError: pass")
    assert r.rc == 0, r
    assert entries(d, "network") == {} and "network" not in d["violation_sources"], d


def test_fallback_without_watch(zb):
    env = dict(os.environ, ZONEBOX_TEST_NO_WATCH="1")
    r, d = zb.json("--", "sh", "-c", "echo x > /test.txt", env=env)
    assert r.rc != 0 and "Read-only" in r.stderr + d.get("stderr", ""), r
    assert entries(d, "filesystem") == {}, d
    assert d["violation_sources"]["filesystem"].startswith("not observable: turned off by ZONEBOX_TEST_NO_WATCH"), d
    assert d["violation_sources"]["seccomp"] == "observed", d


def test_session_exec_keeps_eperm(tmp):
    # The session's supervisor takes each exec's listener (the entries go
    # to the session's set; wt-viol's code hands each exec its share).
    rt = tmp.mkdir("rt", mode=0o700)
    start = subprocess.run([ZONEBOX, "session", "start", "--runtime-dir", rt, "--json"],
                           capture_output=True, text=True, timeout=30)
    assert start.returncode == 0, start
    sid = json.loads(start.stdout)["id"]
    try:
        for _ in range(3):  # each exec installs its own filter and listener
            ex = subprocess.run([ZONEBOX, "session", "exec", sid, "--runtime-dir", rt, "--json", "--",
                                 "python3", "-c", PTRACE], capture_output=True, text=True, timeout=30)
            assert ex.returncode == 0, ex
            d = json.loads(ex.stdout)
            assert d["stdout"].split() == ["-1", "1"], d  # the filter still refuses, EPERM
        ex = subprocess.run([ZONEBOX, "session", "exec", sid, "--runtime-dir", rt, "--json", "--",
                             "sh", "-c", "echo x > /test.txt"], capture_output=True, text=True, timeout=30)
        assert json.loads(ex.stdout)["exit_code"] == 2, ex  # sh: cannot create: Read-only file system
    finally:
        subprocess.run([ZONEBOX, "session", "stop", sid, "--runtime-dir", rt], capture_output=True, timeout=30)
