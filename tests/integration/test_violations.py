"""What the sandbox stopped (issue 16): the "violations" of every verdict,
the live event stream (--events) and the human "blocked:" line.

Each source is provoked for real in a real sandbox and its entry checked
(layer, operation, target, rule, hint, count); the sources of the other
halves of the issue (seccomp and filesystem notification, the loopback
resolver) have their own tests with their code. Untrusted strings reach
the set through argv here (a denied command is never started): control
characters, invalid UTF-8 and a 64 KiB argument."""

import json
import os
import subprocess

import pytest

from conftest import AS_NOBODY, RUN_TIMEOUT, ZONEBOX
from test_session import Sessions

SOURCES = "violation_sources"


def entries(d, layer=None):
    assert "violations" in d, d
    return [v for v in d["violations"] if layer is None or v["layer"] == layer]


def one(d, layer, operation):
    got = [v for v in entries(d, layer) if v["operation"] == operation]
    assert len(got) == 1, d.get("violations")
    return got[0]


def jsonl(path):
    with open(path, "rb") as f:
        raw = f.read()
    lines = raw.split(b"\n")
    assert lines[-1] == b"", "the stream ends without a newline: %r" % raw[-200:]
    for line in lines[:-1]:
        assert len(line) + 1 <= 4096, "a line over ZB_AUDIT_LINE_MAX: %d bytes" % len(line)
    return [json.loads(line) for line in lines[:-1]]


# ---------------------------------------------------------------- the verdict

def test_clean_run_has_empty_violations(zb):
    r, d = zb.json("--", "true")
    assert r.rc == 0 and d["status"] == "exited", r
    assert d["violations"] == [] and "violations_dropped" not in d, d
    # the cheap sources say they were there to see
    assert d[SOURCES]["limits"] == "observed", d[SOURCES]
    assert d[SOURCES]["resources"] == "observed", d[SOURCES]


def test_wall_time_is_one_violation_with_the_limit(zb):
    r, d = zb.json("--timeout", "300ms", "--", "sleep", "5")
    assert d["status"] == "timeout", r
    v = one(d, "limits", "wall_time")
    assert v["target"] == "limit 300ms" and v["count"] == 1, v
    assert v["rule"] == "limits.wall_time" and "--timeout" in v["hint"], v
    assert v["first_ms"] == 300.0, v
    assert len(d["violations"]) == 1, d["violations"]


def test_cpu_time_violation(zb):
    r, d = zb.json("--cpu-time", "200ms", "--", "sh", "-c", "while :; do :; done")
    assert d["status"] == "cpu_timeout", r
    v = one(d, "limits", "cpu_time")
    assert v["target"] == "limit 200ms" and v["rule"] == "limits.cpu_time", v
    assert "--cpu-time" in v["hint"], v


def test_oom_kill_violation_names_the_memory_limit(zb):
    r, d = zb.json("-m", "32m", "--", "python3", "-c", "x = bytearray(256 << 20)")
    assert d["status"] == "oom", r
    v = one(d, "resources", "memory")
    assert v["target"] == "limit 32m" and "oom_kill" in v["rule"], v
    assert "--memory" in v["hint"] and v["count"] == 1, v


def test_pids_limit_reached_from_pids_events(zb):
    # 12 background sleeps under a limit of 6: forks fail (pids.events max)
    r, d = zb.json("--pids-limit", "6", "--", "sh", "-c",
                   "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 0.2 & done; wait")
    v = one(d, "resources", "pids")
    assert v["target"] == "limit 6 reached", v
    assert v["count"] >= 1 and "limits.pids" in v["rule"] and "--pids-limit" in v["hint"], v


def test_pids_below_the_limit_is_no_violation(zb):
    r, d = zb.json("--pids-limit", "64", "--", "sh", "-c", "sleep 0.1 & sleep 0.1 & wait")
    assert r.rc == 0 and entries(d, "resources") == [], d["violations"]


@pytest.mark.parametrize("action", ["truncate", "kill"])
def test_output_limit_violation(zb, action):
    r, d = zb.json("--output-limit", "1k", "--output-action", action, "--",
                   "sh", "-c", "head -c 8000 /dev/zero; sleep 2")
    v = one(d, "limits", "output")
    assert v["target"] == "stdout, limit 1k", v
    assert v["rule"] == "limits.output (action %s)" % action, v
    assert "--output-limit" in v["hint"], v
    if action == "kill":
        assert d["status"] == "output_limit" and v["first_ms"] >= 0, d
    else:
        assert d["status"] == "exited", d


def test_file_size_limit_violation(zb, tmp):
    out = tmp.mkdir("out", owner=65534 if zb.unprivileged else None)
    r, d = zb.json("-v", out + ":/out", "--ulimit", "fsize=64k", "--",
                   "sh", "-c", "exec head -c 1m /dev/zero > /out/big")
    v = one(d, "limits", "file_size")
    assert v["target"] == "limit 64k" and "RLIMIT_FSIZE" in v["rule"], v


def test_approval_denial_is_a_violation(zb):
    r, d = zb.json("--deny-cmd", "rm *", "--", "rm", "-rf", "/nothing-here")
    assert d["status"] == "denied" and r.rc == 126, r
    v = one(d, "approval", "exec")
    assert v["target"] == "rm -rf /nothing-here", v
    assert v["rule"].startswith("approval.deny[0]") and "--allow-cmd" in v["hint"], v
    assert d[SOURCES]["approval"] == "observed", d


# ---------------------------------------------------------------- untrusted strings

def _denied_argv_run(zb, arg):
    """A denied command whose argv carries ARG (bytes): nothing starts."""
    argv = zb.argv(["--json", "--deny-cmd", "evil*", "--", "evil", arg])
    argv = [a.encode() if isinstance(a, str) else a for a in argv]
    p = subprocess.run(argv, capture_output=True, timeout=RUN_TIMEOUT, cwd="/")
    assert p.returncode == 126, p
    return json.loads(p.stdout), p


def test_control_characters_are_escaped(zb):
    d, _ = _denied_argv_run(zb, b"a\x01b\x1b[31mred\x7f\n")
    t = one(d, "approval", "exec")["target"]
    assert t == "evil a\\x01b\\x1b[31mred\\x7f\\x0a", t
    assert not any(ord(c) < 0x20 or ord(c) == 0x7f for c in t), t


def test_invalid_utf8_is_replaced(zb):
    d, p = _denied_argv_run(zb, b"ok\xff\xfe\xc3(")
    t = one(d, "approval", "exec")["target"]
    assert t.startswith("evil ok") and "\ufffd" in t, t
    p.stdout.decode("utf-8")  # the whole verdict is valid UTF-8


def test_64k_target_is_capped(zb, tmp):
    log = os.path.join(tmp.mkdir("log", owner=65534 if zb.unprivileged else None), "audit.jsonl")
    argv = zb.argv(["--json", "--audit-log", log, "--deny-cmd", "evil*", "--", "evil", "x" * 65536])
    p = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd="/")
    assert p.returncode == 126, p
    t = one(json.loads(p.stdout), "approval", "exec")["target"]
    assert len(t.encode()) <= 512 and t.endswith("..."), len(t)
    # the audit log's result line carries it too, within its 4096 bytes
    lines = jsonl(log)
    res = [x for x in lines if x["event"] == "result"]
    assert len(res) == 1 and res[0]["violations"][0]["layer"] == "approval", res


def test_human_line_escapes_the_sandbox_strings(zb):
    r = zb.run("--deny-cmd", "evil*", "--", "evil", "a\x1b]0;title\x07b")
    assert r.rc == 126, r
    line = [x for x in r.stderr.splitlines() if x.startswith("zonebox: blocked:")]
    assert len(line) == 1 and "\x1b" not in line[0] and "\\x1b" in line[0], r.stderr


# ---------------------------------------------------------------- the proxy

def test_proxy_refusals_are_violations_counted_per_target(zb):
    code = (
        "import socket\n"
        "for h in ['evil.test:443', 'evil.test:443', 'other.test:80']:\n"
        "    s = socket.create_connection(('127.0.0.1', 3128))\n"
        "    s.sendall(('CONNECT %s HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' % h).encode())\n"
        "    print(s.recv(12).decode()); s.close()\n")
    r, d = zb.json("--net-allow", "allowed.invalid:443", "--", "python3", "-c", code)
    assert r.rc == 0 and d["stdout"].count("403") == 3, r
    got = {v["target"]: v for v in entries(d, "proxy")}
    assert set(got) == {"evil.test:443", "other.test:80"}, d["violations"]
    assert got["evil.test:443"]["count"] == 2 and got["other.test:80"]["count"] == 1, got
    v = got["evil.test:443"]
    assert v["operation"] == "CONNECT" and v["rule"] == "not in network.allow", v
    assert "--net-allow" in v["hint"] and v["first_ms"] >= 0, v
    assert d[SOURCES]["proxy"] == "observed" and d["network"]["proxy"]["refused"] == 3, d


def test_proxy_refusals_past_the_table_are_counted_not_listed(zb):
    code = (
        "import socket\n"
        "for i in range(40):\n"
        "    s = socket.create_connection(('127.0.0.1', 3128))\n"
        "    s.sendall(b'CONNECT h%d.test:443 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' % i)\n"
        "    s.recv(12); s.close()\n")
    r, d = zb.json("--net-allow", "allowed.invalid:443", "--", "python3", "-c", code)
    assert r.rc == 0, r
    listed = entries(d, "proxy")
    assert len(listed) == 32 and all(v["count"] == 1 for v in listed), d["violations"]
    assert d["violations_dropped"] == 8 and d["network"]["proxy"]["refused"] == 40, d


# ---------------------------------------------------------------- the human line

def test_blocked_line_after_a_failed_command_and_quiet(zb):
    r = zb.run("--timeout", "200ms", "--", "sleep", "5")
    assert r.rc == 124, r
    assert "zonebox: blocked: wall_time limit 200ms (limits.wall_time)" in r.stderr, r.stderr
    q = zb.run("--quiet", "--timeout", "200ms", "--", "sleep", "5")
    assert q.rc == 124 and "blocked:" not in q.stderr, q.stderr
    q = zb.run("-q", "--timeout", "200ms", "--", "sleep", "5")
    assert q.rc == 124 and "blocked:" not in q.stderr, q.stderr


def test_no_blocked_line_when_the_command_succeeds(zb):
    # a truncated output is a violation, but the command did not fail
    r = zb.run("--output-limit", "1k", "--", "sh", "-c", "head -c 4000 /dev/zero")
    assert r.rc == 0 and "blocked:" not in r.stderr, r.stderr


def test_json_prints_no_blocked_line(zb):
    r, d = zb.json("--timeout", "200ms", "--", "sleep", "5")
    assert "blocked:" not in r.stderr and entries(d), r


# ---------------------------------------------------------------- the event stream

def test_event_stream_start_violation_end(zb, tmp):
    d = tmp.mkdir("ev", owner=65534 if zb.unprivileged else None)
    path = os.path.join(d, "events.jsonl")
    r = zb.run("--events", path, "--timeout", "300ms", "--", "sleep", "5")
    assert r.rc == 124, r
    lines = jsonl(path)
    assert [x["event"] for x in lines] == ["start", "violation", "end"], lines
    assert len({x["id"] for x in lines}) == 1, lines
    assert lines[0]["command"] == ["sleep", "5"] and lines[0]["network"] == "none", lines[0]
    assert lines[1]["layer"] == "limits" and lines[1]["operation"] == "wall_time", lines[1]
    assert lines[2]["status"] == "timeout" and lines[2]["violations"][0]["target"] == "limit 300ms", lines[2]
    # appended, never truncated: a second run adds three lines
    zb.run("--events", path, "--", "true")
    assert [x["event"] for x in jsonl(path)][3:] == ["start", "end"]


def test_event_stream_to_an_inherited_fd(zb, tmp):
    d = tmp.mkdir("ev")
    path = os.path.join(d, "fd.jsonl")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        r = zb.run("--events", "fd:%d" % fd, "--", "sh", "-c", "exit 3", pass_fds=(fd,))
    finally:
        os.close(fd)
    assert r.rc == 3, r
    lines = jsonl(path)
    assert [x["event"] for x in lines] == ["start", "end"] and lines[1]["exit_code"] == 3, lines


def test_event_stream_same_id_as_the_audit_log(zb, tmp):
    d = tmp.mkdir("ev", owner=65534 if zb.unprivileged else None)
    ev, log = os.path.join(d, "ev.jsonl"), os.path.join(d, "audit.jsonl")
    zb.run("--events", ev, "--audit-log", log, "--", "true")
    ids = {x["id"] for x in jsonl(ev)} | {x["id"] for x in jsonl(log)}
    assert len(ids) == 1, ids


@pytest.mark.parametrize("spec,why", [
    ("/nonexistent-dir/ev.jsonl", "directory /nonexistent-dir"),
    ("fd:99", "fd 99 is not open"),
    ("fd:x", "is not fd:N"),
    ("fd:0", "not open for writing"),
])
def test_bad_event_stream_is_refused_before_anything_starts(zb, tmp, spec, why):
    d = tmp.mkdir("mark", mode=0o777)
    mark = os.path.join(d, "ran")
    r = zb.run("--events", spec, "-v", d + ":/mark", "--", "touch", "/mark/ran")
    assert r.rc == 125, r
    assert r.stderr.count("\n") == 1 and "--events (audit.events)" in r.stderr and why in r.stderr, r.stderr
    assert not os.path.exists(mark), "the command ran"


def test_event_stream_inside_a_writable_zone_is_refused(zb, tmp):
    d = tmp.mkdir("zone", mode=0o777)
    r = zb.run("--events", os.path.join(d, "ev.jsonl"), "-v", d + ":/out", "--", "true")
    assert r.rc == 125 and "inside zone" in r.stderr, r


def test_event_stream_config_key(zb, tmp):
    d = tmp.mkdir("ev", owner=65534 if zb.unprivileged else None)
    path = os.path.join(d, "ev.jsonl")
    cfg = os.path.join(tmp.mkdir("cfg"), "zonebox.yaml")
    with open(cfg, "w") as f:
        f.write("sandbox:\n  audit:\n    events: %s\n" % path)
    os.chmod(cfg, 0o644)
    r = zb.run("--config", cfg, "--", "true")
    assert r.rc == 0, r
    assert [x["event"] for x in jsonl(path)] == ["start", "end"]


def test_audit_log_result_line_has_the_violations(zb, tmp):
    d = tmp.mkdir("log", owner=65534 if zb.unprivileged else None)
    log = os.path.join(d, "audit.jsonl")
    zb.run("--audit-log", log, "--timeout", "200ms", "--", "sleep", "5")
    res = [x for x in jsonl(log) if x["event"] == "result"]
    assert len(res) == 1 and res[0]["violations"][0]["operation"] == "wall_time", res
    assert res[0][SOURCES]["limits"] == "observed", res


# ---------------------------------------------------------------- sessions

@pytest.fixture
def ses(zb, tmp):
    s = Sessions(zb, tmp)
    yield s
    s.cleanup()


def test_session_exec_results_carry_their_own_violations(ses, tmp):
    d = tmp.mkdir("ev", owner=ses.owner)
    path = os.path.join(d, "ev.jsonl")
    sid = ses.start("--pids-limit", "8", "--events", path)
    r, j = ses.exec_json(sid, "--timeout", "300ms", "--", "sleep", "5")
    assert j["status"] == "timeout", r
    assert one(j, "limits", "wall_time")["target"] == "limit 300ms", j
    r, j = ses.exec_json(sid, "--", "sh", "-c",
                         "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 0.2 & done; wait")
    assert one(j, "resources", "pids")["target"] == "limit 8 reached", j
    assert entries(j, "limits") == [], j  # the earlier exec's timeout is not this one's
    r, j = ses.exec_json(sid, "--", "true")
    assert r.rc == 0 and j["violations"] == [] and j[SOURCES]["limits"] == "observed", j
    # the human line for an exec, and --quiet
    r = ses.exec(sid, "--timeout", "200ms", "--", "sleep", "5")
    assert r.rc == 124 and "zonebox: blocked: wall_time limit 200ms" in r.stderr, r
    r = ses.exec(sid, "-q", "--timeout", "200ms", "--", "sleep", "5")
    assert r.rc == 124 and "blocked:" not in r.stderr, r
    assert ses.stop(sid).rc == 0
    events = [x["event"] for x in jsonl(path)]
    assert events[0] == "start" and events[-1] == "end", events
    assert events.count("exec") == 5 and events.count("exec_end") == 5, events


def test_session_denied_exec_is_an_approval_violation(ses):
    sid = ses.start("--deny-cmd", "rm *", "--approve-default", "allow")
    r, j = ses.exec_json(sid, "--", "rm", "-rf", "/x")
    assert j["status"] == "denied", r
    assert one(j, "approval", "exec")["target"] == "rm -rf /x", j


def test_session_events_refuse_an_fd(ses):
    r = ses.run("start", "--events", "fd:2")
    assert r.rc == 125 and "--events" in r.stderr, r


# ---------------------------------------------------------------- zonebox check

def test_check_rows_show_their_violation(zb_root):
    # 256m: the battery's 256 forks of a coverage-instrumented probe need more
    # than 64m (at 64m the OOM killer ends the probe before its pids row)
    p = subprocess.run([ZONEBOX, "check", "--json", "--memory", "256m", "--timeout", "1s"],
                       capture_output=True, text=True, timeout=120, cwd="/")
    d = json.loads(p.stdout)
    rows = {r["probe"]: r for r in d["probes"]}
    assert "probe_run" not in rows, rows["probe_run"]
    assert rows["memory"]["result"] == "PASS", rows["memory"]
    assert rows["memory"]["violation"] == "resources memory limit 256m", rows["memory"]
    assert rows["pids"]["violation"] == "resources pids limit 256 reached", rows["pids"]
    assert rows["wall_time"]["violation"] == "limits wall_time limit 1s", rows["wall_time"]
    # every mapped seccomp probe either names its violation or says its
    # source is not observable: never silently nothing
    for name in ("ptrace", "bpf", "mount", "keyctl"):
        v = rows[name].get("violation", "")
        assert rows[name]["result"] in ("PASS", "FAIL"), rows[name]
        assert v == "seccomp " + name or v.startswith("source seccomp not observable") \
            or rows[name]["result"] == "FAIL", rows[name]
    assert p.returncode == (0 if d["ok"] else 1), p


# ---------------------------------------------------------------- engines

def test_oci_engine_verdict_says_what_it_cannot_see(zb_root):
    r, d = zb_root.json("--backend", "oci", "--runtime", "runc", "--timeout", "300ms", "--", "sleep", "3")
    assert d["status"] == "timeout", r
    assert one(d, "limits", "wall_time")["target"] == "limit 300ms", d
    for src in ("seccomp", "filesystem", "network"):
        assert d[SOURCES][src].startswith("not observable: the engine's runtime"), d[SOURCES]
