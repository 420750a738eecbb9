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
