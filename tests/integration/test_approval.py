"""Command approval and the audit log, end to end (issue 7).

Rules (--allow-cmd, --deny-cmd, --approve-default, approval: in a config), a
refused command that starts nothing, ask on a pseudo-terminal (y, n, always,
interrupted), the external approver program (its request and its answers),
and the audit log: parseable lines, refused locations, no descriptor inside
the sandbox, complete lines after kill -9 and under concurrent appends.
"""

import json
import os
import re
import signal
import stat
import subprocess
import textwrap
import threading
import time

import pytest

from conftest import (on_pty, AS_NOBODY, DELEGATED, NOBODY, RUN_TIMEOUT, ZONEBOX, pids_exact, poll,
                      tree_snapshot, unique_sleep_arg)

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def owner(zb):
    return NOBODY if zb.unprivileged else None


def read_log(path):
    """Every line of an audit log, parsed; asserts the file ends with a newline."""
    with open(path, "rb") as f:
        data = f.read()
    assert data.endswith(b"\n"), data[-200:]
    return [json.loads(line) for line in data.decode().splitlines()]


# ---------------------------------------------------------------- rules


def test_deny_rule_refuses_and_zone_is_unchanged(zb, tmp):
    out = tmp.mkdir("out", owner=owner(zb))
    keep = os.path.join(out, "keep")
    with open(keep, "w") as f:
        f.write("precious")
    os.chown(keep, NOBODY, NOBODY)
    before = tree_snapshot(out)
    r = zb.run("--deny-cmd", "rm *", "-v", out + ":/output", "--", "rm", "-f", "/output/keep")
    assert r.rc == 126, r
    assert 'denied by approval.deny[0] "rm *"' in r.stderr
    assert "rm -f /output/keep" in r.stderr
    assert tree_snapshot(out) == before


def test_denied_result_json(zb):
    r, j = zb.json("--deny-cmd", "id", "--", "sh", "-c", "echo hi; id")
    assert r.rc == 126, r
    assert j["status"] == "denied" and j["cli_exit_code"] == 126 and j["exit_code"] is None
    assert 'approval.deny[0] "id"' in j["error"] and "it runs id" in j["error"]
    assert j["layers"] == {"applied": [], "skipped": []}


def test_denied_command_starts_no_backend(zb):
    """A cgroup parent that does not exist fails the backend (125) — unless the
    command is refused first: then nothing, not even the cgroup step, ran."""
    r = zb.run("--cgroup-parent", "zb-it-no-such-parent", "--", "true")
    assert r.rc == 125, r
    r = zb.run("--deny-cmd", "true", "--cgroup-parent", "zb-it-no-such-parent", "--", "true")
    assert r.rc == 126, r
    assert "denied by" in r.stderr and "resources" not in r.stderr


def test_allow_rules_split_shell_scripts(zb):
    r = zb.run("--approve-default", "deny", "--allow-cmd", "echo *", "--",
               "sh", "-c", "echo a && echo 'b;c'")
    assert r.rc == 0, r
    assert r.stdout == "a\nb;c\n"
    r = zb.run("--approve-default", "deny", "--allow-cmd", "echo *", "--", "sh", "-c", "echo a; id")
    assert r.rc == 126, r
    assert "approval.default deny: no allow rule matches id" in r.stderr
    # $(...) runs too: its command needs a rule
    r = zb.run("--approve-default", "deny", "--allow-cmd", "echo *", "--", "sh", "-c", "echo $(id -u)")
    assert r.rc == 126, r
    r = zb.run("--approve-default", "deny", "--allow-cmd", "echo *", "--allow-cmd", "id *", "--",
               "sh", "-c", "echo $(id -u)")
    assert r.rc == 0 and r.stdout == "1000\n", r
    # a rule on the shell itself approves nothing
    r = zb.run("--approve-default", "deny", "--allow-cmd", "sh -c *", "--", "sh", "-c", "id")
    assert r.rc == 126, r
    # an env prefix is never approved by the rules alone
    r = zb.run("--approve-default", "deny", "--allow-cmd", "echo *", "--", "sh", "-c", "A=1 echo x")
    assert r.rc == 126 and "NAME=value" in r.stderr, r
    # unreadable scripts are asked even when the default is allow: here, no terminal
    r = zb.run("--approve-default", "allow", "--", "sh", "-c", "eval echo hi")
    assert r.rc == 126 and "cannot be checked safely" in r.stderr, r


def test_path_rules_bin_rm_vs_rm(zb):
    r = zb.run("--approve-default", "allow", "--deny-cmd", "/bin/rm", "--", "/bin/rm", "-f", "/tmp/x")
    assert r.rc == 126, r
    r = zb.run("--approve-default", "allow", "--deny-cmd", "/bin/rm", "--", "rm", "-f", "/tmp/x")
    assert r.rc == 0, r
    r = zb.run("--approve-default", "allow", "--deny-cmd", "rm", "--", "/usr/bin/rm", "-f", "/tmp/x")
    assert r.rc == 126, r
    r = zb.run("--approve-default", "deny", "--allow-cmd", "true", "--", "/usr/bin/true")
    assert r.rc == 0, r


def test_bad_rules_and_flags_exit_125(zb):
    for args in (["--deny-cmd", "./rm"], ["--approve-default", "maybe"], ["--allow-cmd", ""],
                 ["--approver-timeout", "0"]):
        r = zb.run(*args, "--", "true")
        assert r.rc == 125, (args, r)
        assert args[0] in r.stderr


def test_config_file_approval_and_audit(zb, tmp):
    d = tmp.mkdir("cfg", owner=owner(zb))
    with open(os.path.join(d, "sandbox.yaml"), "w") as f:
        f.write(textwrap.dedent("""\
            sandbox:
              approval:
                default: deny
                allow: ["echo *", "true"]
                deny: ["echo *secret*"]
              audit:
                log: logs/audit.jsonl
            """))
    os.mkdir(os.path.join(d, "logs"))
    if zb.unprivileged:
        os.chown(os.path.join(d, "logs"), NOBODY, NOBODY)
    cfg = os.path.join(d, "sandbox.yaml")
    assert zb.run("--config", cfg, "--", "echo", "hi").rc == 0
    r = zb.run("--config", cfg, "--", "echo", "a secret")
    assert r.rc == 126 and 'approval.deny[0] "echo *secret*"' in r.stderr, r
    assert zb.run("--config", cfg, "--", "cat", "/etc/hostname").rc == 126
    # a flag adds to the file's rules
    assert zb.run("--config", cfg, "--allow-cmd", "cat /etc/*", "--", "cat", "/etc/hostname").rc == 0
    lines = read_log(os.path.join(d, "logs", "audit.jsonl"))
    assert [(l["event"], l["decision"]) for l in lines] == [
        ("decision", "allow"), ("result", "allow"),
        ("decision", "deny"), ("result", "deny"),
        ("decision", "deny"), ("result", "deny"),
        ("decision", "allow"), ("result", "allow")]
    assert [l.get("status") for l in lines[1::2]] == ["exited", "denied", "denied", "exited"]


# ---------------------------------------------------------------- ask on a terminal


def run_on_pty(zb, args, answer=None, interrupt=False, timeout=20):
    """Runs zonebox on a new pseudo-terminal; when the prompt shows, types
    ANSWER (or sends SIGINT). Returns (rc, output)."""
    def reply(master, pid):
        if interrupt:
            os.kill(pid, signal.SIGINT)
        else:
            os.write(master, answer)
    rc, out, sent = on_pty(zb.argv(args), b"Run it?", reply, timeout)
    assert sent, "no prompt: %r" % out
    return rc, out


@pytest.mark.parametrize("answer,rc", [(b"y\n", 0), (b"n\n", 126), (b"\n", 126), (b"always\n", 0)])
def test_ask_on_terminal(zb, tmp, answer, rc):
    inp = tmp.mkdir("input")
    got_rc, out = run_on_pty(zb, ["--allow-cmd", "ls", "-v", inp + ":/input:ro", "--tmpfs",
                                  "/scratch:size=1m", "--", "echo", "hello-from-sandbox"], answer)
    assert got_rc == rc, out
    assert "may this command run?" in out
    assert "command: echo hello-from-sandbox" in out
    assert "no allow rule matches echo hello-from-sandbox" in out
    assert "/input  ro, read-only  (host %s)" % inp in out
    assert "/scratch  tmpfs" in out
    assert "network: none" in out
    assert ("hello-from-sandbox\r\n" in out.split("Run it?")[1]) == (rc == 0)
    if rc:
        assert "denied by the terminal: answered no" in out


def test_ask_interrupted_is_no(zb):
    t0 = time.monotonic()
    rc, out = run_on_pty(zb, ["--approve-default", "ask", "--", "echo", "never-runs"], interrupt=True)
    assert rc == 126, out
    assert "never-runs\r\n" not in out.split("Run it?")[1]
    assert time.monotonic() - t0 < 15


def test_ask_without_terminal_denies(zb):
    r = zb.run("--allow-cmd", "ls", "--", "cat", "/etc/hostname")
    assert r.rc == 126, r
    assert "no allow rule matches cat /etc/hostname" in r.stderr
    assert "no terminal to ask on and no approval.command" in r.stderr


# ---------------------------------------------------------------- the approver program

APPROVER = """\
#!/usr/bin/python3
import json, sys, time
req = json.load(sys.stdin)
with open(sys.argv[1], "a") as f:
    f.write(json.dumps(req) + "\\n")
line = req["command_line"]
if "sleepy" in line:
    time.sleep(30)
elif "garbage" in line:
    print("perhaps")
elif "ok" in line:
    print("allow")
else:
    print(json.dumps({"decision": "deny", "reason": "not today"}))
"""


@pytest.fixture
def approver(zb, tmp):
    d = tmp.mkdir("approver")
    prog = os.path.join(d, "approve.py")
    with open(prog, "w") as f:
        f.write(APPROVER)
    os.chmod(prog, 0o755)
    logdir = tmp.mkdir("requests", owner=owner(zb))
    return prog, os.path.join(logdir, "requests.jsonl")


def test_approver_program(zb, tmp, approver):
    prog, requests = approver
    out = tmp.mkdir("out", owner=owner(zb))
    # the approver gets an argument through the config's list form
    cfg = os.path.join(tmp.mkdir("cfg"), "c.yaml")
    with open(cfg, "w") as f:
        f.write("sandbox:\n  approval:\n    command: [%s, %s]\n    timeout: 2s\n    allow: [ls *]\n"
                % (prog, requests))
    os.chmod(cfg, 0o644)
    common = ["--config", cfg, "-v", out + ":/output", "--network", "loopback"]
    r = zb.run(*common, "--", "echo", "ok")
    assert r.rc == 0 and r.stdout == "ok\n", r
    r = zb.run(*common, "--", "echo", "nope")
    assert r.rc == 126, r
    assert "denied by approval.command %s: deny: not today" % prog in r.stderr
    r = zb.run(*common, "--", "echo", "garbage")
    assert r.rc == 126 and "no valid answer" in r.stderr, r
    t0 = time.monotonic()
    r = zb.run(*common, "--", "echo", "sleepy")
    assert r.rc == 126 and "no answer within 2000 ms" in r.stderr, r
    assert time.monotonic() - t0 < 10
    # a command the rules allow is not asked
    assert zb.run(*common, "--", "ls", "/").rc == 0
    reqs = [json.loads(l) for l in open(requests)]
    assert [q["command"] for q in reqs] == [["echo", "ok"], ["echo", "nope"], ["echo", "garbage"],
                                            ["echo", "sleepy"]]
    q = reqs[0]
    assert q["type"] == "zonebox.approval_request" and q["version"] == 1
    assert q["command_line"] == "echo ok"
    assert "no allow rule matches echo ok" in q["reason"]
    assert q["zones"] == [{"name": "output", "path": "/output", "mode": "rw", "host_path": out}]
    assert q["network"] == "loopback"
    assert q["cwd"] == "/"
    assert q["user"]["uid"] == (NOBODY if zb.unprivileged else 0)
    assert q["user"]["name"] == ("nobody" if zb.unprivileged else "root")
    assert q["backend"] == "namespace"


def test_approver_and_terminal_are_told_the_allowlist(zb, tmp, approver):
    """An allowlisted network is not "none": the person or program approving
    a command learns that it can reach the listed hosts (issue 14)."""
    prog, requests = approver
    wrapper = os.path.join(os.path.dirname(prog), "approve.sh")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec %s %s\n" % (prog, requests))
    os.chmod(wrapper, 0o755)
    allow = ["--net-allow", "example.test", "--net-allow", "*.example.org:443"]
    r = zb.run(*allow, "--allow-cmd", "ls", "--approve-default", "ask", "--approver", wrapper,
               "--", "curl", "x")
    assert r.rc == 126, r
    (q,) = [json.loads(l) for l in open(requests)]
    assert q["network"] == "allowlist"
    assert q["network_allow"] == ["example.test", "*.example.org:443"]
    rc, out = run_on_pty(zb, [*allow, "--allow-cmd", "ls", "--", "curl", "x"], b"n\n")
    assert rc == 126, out
    assert "network: allowlist: loopback, and through a proxy only: example.test '*.example.org:443'" in out
    # without an allowlist the request still has the list, empty
    r = zb.run("--approver", wrapper, "--", "curl", "y")
    assert r.rc == 126, r
    q = [json.loads(l) for l in open(requests)][-1]
    assert q["network"] == "none" and q["network_allow"] == []


def test_approver_missing_program_denies(zb):
    r = zb.run("--approver", "/nonexistent/approver", "--", "true")
    assert r.rc == 126, r
    assert "cannot start /nonexistent/approver" in r.stderr


# ---------------------------------------------------------------- the audit log


def test_audit_log_lines(zb, tmp):
    logdir = tmp.mkdir("log", owner=owner(zb))
    log = os.path.join(logdir, "audit.jsonl")
    inp = tmp.mkdir("input")
    args = ["--audit-log", log, "-v", inp + ":/input:ro", "--tmpfs", "/scratch", "--deny-cmd", "rm",
            "--approve-default", "allow"]
    assert zb.run(*args, "--", "sh", "-c", "exit 3").rc == 3
    assert zb.run(*args, "--", "rm", "-rf", "/scratch").rc == 126
    lines = read_log(log)
    assert len(lines) == 4
    st = os.stat(log)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == (NOBODY if zb.unprivileged else 0)
    for l in lines:
        assert ISO_UTC.match(l["time"]), l["time"]
        assert l["zones"] == [{"path": "/input", "mode": "ro", "host_path": inp},
                              {"path": "/scratch", "mode": "tmpfs", "host_path": None}]
        assert l["network"] == "none" and l["backend"] == "namespace" and l["truncated"] is False
    dec, res, dec2, res2 = lines
    assert dec["event"] == "decision" and res["event"] == "result" and dec["id"] == res["id"]
    assert dec2["id"] == res2["id"] != dec["id"]
    assert dec["command"] == ["sh", "-c", "exit 3"]
    assert dec["decision"] == "allow" and dec["by"] == "default"
    assert dec["rule"] == "approval.default allow"
    assert res["status"] == "exited" and res["exit_code"] == 3 and res["cli_exit_code"] == 3
    assert res["wall_ms"] > 0 and "cpu_user_ms" in res and "peak_memory_bytes" in res
    assert dec2["decision"] == "deny" and dec2["by"] == "rule"
    assert dec2["rule"] == 'approval.deny[0] "rm"' and "rm -rf /scratch" in dec2["reason"]
    assert res2["status"] == "denied" and res2["cli_exit_code"] == 126 and res2["exit_code"] is None


def test_audit_log_without_approval_and_setup_error(zb, tmp):
    logdir = tmp.mkdir("log", owner=owner(zb))
    log = os.path.join(logdir, "a.jsonl")
    assert zb.run("--audit-log", log, "--", "true").rc == 0
    r = zb.run("--audit-log", log, "--cgroup-parent", "zb-it-no-such-parent", "--", "true")
    assert r.rc == 125, r
    dec, res, dec2, res2 = read_log(log)
    assert dec["by"] == "off" and res["status"] == "exited"
    assert res2["status"] == "setup_error" and res2["cli_exit_code"] == 125 and res2["error"]


def test_audit_log_inside_writable_zone_is_refused(zb, tmp):
    out = tmp.mkdir("out", owner=owner(zb))
    os.mkdir(os.path.join(out, "sub"))
    alias = os.path.join(tmp.mkdir("alias"), "link")
    os.symlink(out, alias)
    for log in (os.path.join(out, "audit.jsonl"), os.path.join(out, "sub", "a.jsonl"),
                os.path.join(alias, "a.jsonl")):
        r = zb.run("--audit-log", log, "-v", out + ":/output", "--", "touch", "/output/ran")
        assert r.rc == 125, r
        assert "audit.log:" in r.stderr and "inside zone 'output'" in r.stderr
        assert not os.path.exists(log)
        assert not os.path.exists(os.path.join(out, "ran"))
    # a read-only zone is fine: the sandbox cannot write there
    inp = tmp.mkdir("input", owner=owner(zb))
    log = os.path.join(inp, "audit.jsonl")
    assert zb.run("--audit-log", log, "-v", inp + ":/input:ro", "--", "true").rc == 0
    r = zb.run("--audit-log", log, "-v", inp + ":/input:ro", "--", "sh", "-c", "echo x >> /input/audit.jsonl")
    assert r.rc == 2 and "cannot create /input/audit.jsonl" in r.stderr, r
    assert len(read_log(log)) == 4


def test_audit_log_symlink_and_hard_link_refused(zb, tmp):
    d = tmp.mkdir("log", owner=owner(zb))
    target = os.path.join(d, "target")
    open(target, "w").close()
    if zb.unprivileged:
        os.chown(target, NOBODY, NOBODY)
    os.symlink(target, os.path.join(d, "sym.jsonl"))
    os.link(target, os.path.join(d, "hard.jsonl"))
    r = zb.run("--audit-log", os.path.join(d, "sym.jsonl"), "--", "true")
    assert r.rc == 125 and "symbolic link" in r.stderr, r
    r = zb.run("--audit-log", os.path.join(d, "hard.jsonl"), "--", "true")
    assert r.rc == 125 and "hard links" in r.stderr, r
    assert os.path.getsize(target) == 0


def test_audit_log_fd_never_reaches_the_sandbox(zb, tmp):
    d = tmp.mkdir("log", owner=owner(zb))
    log = os.path.join(d, "fd-check.jsonl")
    r = zb.run("--audit-log", log, "--", "sh", "-c", "ls -l /proc/self/fd/ && cat /proc/self/mountinfo")
    assert r.rc == 0, r
    assert " 0 -> " in r.stdout and " 2 -> " in r.stdout, r  # the listing itself worked
    assert "fd-check" not in r.stdout and d not in r.stdout
    # Every process of a running sandbox (its init included, whose fds the
    # command may not list), seen from the host: no fd names the log.
    arg = unique_sleep_arg()
    p = zb.popen("--audit-log", log, "--", "sleep", arg)
    try:
        pids = poll(lambda: pids_exact(["sleep", arg]), timeout=20)
        assert pids, "the sandboxed sleep never started"
        init = int(re.search(r"^PPid:\s+(\d+)", open("/proc/%d/status" % pids[0]).read(), re.M).group(1))

        def scan():
            # The command's name changes in execve before its close-on-exec
            # fds are closed: an fd listed there can be gone a moment later.
            # Scanned again until one pass sees every fd it lists.
            fds = {}
            try:
                for pid in (pids[0], init):
                    for fd in os.listdir("/proc/%d/fd" % pid):
                        fds["%d/%s" % (pid, fd)] = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except FileNotFoundError:
                return None
            return fds
        fds = poll(scan, timeout=10)
        assert fds is not None, "no steady listing of the sandbox's fds in 10 s"
        assert any(k.startswith("%d/" % init) for k in fds), fds  # the init's fds were listed
        assert not [t for t in fds.values() if "fd-check" in t or t.startswith(d)], fds
    finally:
        p.terminate()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def test_audit_decision_line_survives_kill9(zb, tmp):
    d = tmp.mkdir("log", owner=owner(zb))
    log = os.path.join(d, "a.jsonl")
    arg = unique_sleep_arg()
    p = zb.popen("--audit-log", log, "--", "sleep", arg)
    try:
        assert poll(lambda: pids_exact(["sleep", arg]), timeout=10), "the sandbox did not start"
        with open(log, "rb") as f:
            assert f.read().endswith(b"\n")
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert poll(lambda: not pids_exact(["sleep", arg]), timeout=10), "the sandbox outlived its supervisor"
    # the killed supervisor's cgroup stays until a gc (docs/config.md): do it now
    gc = [ZONEBOX, "gc"]
    if zb.unprivileged:
        gc = AS_NOBODY + gc + ["--cgroup-parent", DELEGATED]
    subprocess.run(gc, capture_output=True, timeout=RUN_TIMEOUT, cwd="/")
    lines = read_log(log)
    assert len(lines) == 1
    assert lines[0]["event"] == "decision" and lines[0]["command"] == ["sleep", arg]
    assert lines[0]["decision"] == "allow"


def test_audit_concurrent_appends_stay_whole(zb_root, tmp):
    d = tmp.mkdir("log")
    log = os.path.join(d, "a.jsonl")
    words = ["w%03d-%s" % (i, "x" * 60) for i in range(40)]  # ~2.6 KiB of argv per line
    results = []

    def one(k):
        results.append(zb_root.run("--audit-log", log, "--", "true", str(k), *words).rc)

    threads = [threading.Thread(target=one, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [0] * 8
    lines = read_log(log)
    assert len(lines) == 16
    assert all(len(json.dumps(l)) < 4096 for l in lines)
    for k in range(8):
        mine = [l for l in lines if l["command"][1] == str(k)]
        assert [l["event"] for l in mine] == ["decision", "result"]
        assert mine[0]["command"] == ["true", str(k)] + words


def test_audit_long_command_is_truncated_not_split(zb_root, tmp):
    d = tmp.mkdir("log")
    log = os.path.join(d, "a.jsonl")
    long_arg = "y" * 100000
    assert zb_root.run("--audit-log", log, "--", "true", long_arg).rc == 0
    lines = read_log(log)
    assert len(lines) == 2
    with open(log, "rb") as f:
        assert all(len(l) <= 4096 for l in f.read().split(b"\n"))
    assert lines[0]["truncated"] is True and lines[0]["argc"] == 2


def test_help_lists_approval_flags():
    r = subprocess.run([ZONEBOX, "run", "--help"], capture_output=True, text=True, timeout=10)
    for flag in ("--allow-cmd", "--deny-cmd", "--approve-default", "--approver", "--approver-timeout",
                 "--audit-log"):
        assert flag in r.stdout
