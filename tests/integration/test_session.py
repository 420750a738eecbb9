"""zonebox session: a sandbox that stays up between commands, end to end.

State that survives from one exec to the next (a tmpfs zone, background
processes), what stop, SIGKILL (also with the daemon an unreaped zombie) and
SIGTERM to the daemon, and the idle timeout leave behind (nothing: no
process, cgroup or runtime entry), exec results (codes, --json, timeouts, -e,
-w, stdin), a killed or signalled exec client, other users kept out, approval
and the audit log per exec, bad input, and OOM.
"""

import json
import os
import signal
import subprocess
import textwrap
import time

import pytest

from conftest import (AS_NOBODY, on_pty, DELEGATED, NOBODY, RUN_TIMEOUT, ZONEBOX, Result, pids_exact,
                      pids_with_arg, poll, unique_sleep_arg, zonebox_cgroups)


# ---------------------------------------------------------------- helpers


def pid_alive(pid, start=None):
    """True while PID runs (not a zombie) and, given START (the starttime of
    /proc/PID/stat, as info.json's pid_start), is still the same process."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return False
    return start is None or int(fields[19]) == start


def stale_new_cgroups(before):
    """zonebox-* cgroups that were not in BEFORE and whose creator
    (zonebox-<pid>-<start time>-<n>) is gone. Other engineers' sandboxes may
    run at the same time on this host: theirs have a live creator."""
    def stale(path):
        try:
            _, pid, start, _ = os.path.basename(path).split("-")
            return not pid_alive(int(pid), int(start))
        except ValueError:
            return True
    return sorted(c for c in set(zonebox_cgroups()) - before if stale(c))


def kill_marker(marker):
    for pid in pids_with_arg(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


class Sessions:
    """Runs ``zonebox session ...`` as root or as uid 65534 (then with the
    delegated cgroup), each test with a runtime dir of its own. Every
    session started through it is stopped in teardown, its daemon killed if
    stop did not end it, and its cgroups collected."""

    def __init__(self, zb, tmp):
        self.zb = zb
        self.owner = NOBODY if zb.unprivileged else 0
        # zonebox creates the runtime dir itself (0700) inside a dir of the user
        self.parent = tmp.mkdir("rt", owner=self.owner, mode=0o700)
        self.rt = os.path.join(self.parent, "sessions")
        self.started = []  # (id, info)

    def argv(self, sub, *args):
        argv = [ZONEBOX, "session", sub]
        if sub == "exec" and args and not args[0].startswith("-"):
            # exec SESSION [OPTIONS] -- COMMAND: keep the id first, as --help shows it
            argv += [args[0], "--runtime-dir", self.rt] + list(args[1:])
        else:
            argv += ["--runtime-dir", self.rt]
            if sub == "start" and self.zb.unprivileged:
                argv += ["--cgroup-parent", DELEGATED]
            argv += list(args)
        if self.zb.unprivileged:
            argv = AS_NOBODY + argv
        return argv

    def run(self, sub, *args, input="", timeout=RUN_TIMEOUT, **kw):
        t0 = time.monotonic()
        p = subprocess.run(self.argv(sub, *args), capture_output=True, text=True, cwd="/",
                           input=input, timeout=timeout, **kw)
        return Result(p, time.monotonic() - t0)

    def popen(self, sub, *args, **kw):
        kw.setdefault("cwd", "/")
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(self.argv(sub, *args), **kw)

    def start(self, *args):
        r = self.run("start", *args)
        assert r.rc == 0, r
        sid = r.stdout.strip()
        assert len(sid) == 12 and all(c in "0123456789abcdef" for c in sid), r
        info = self.info(sid)
        self.started.append((sid, info))
        assert info["id"] == sid and pid_alive(info["pid"], info["pid_start"]), info
        return sid

    def exec(self, sid, *args, **kw):
        return self.run("exec", sid, *args, **kw)

    def exec_json(self, sid, *args, **kw):
        r = self.run("exec", sid, "--json", *args, **kw)
        return r, r.json

    def stop(self, sid):
        return self.run("stop", sid)

    def list(self):
        r = self.run("list", "--json")
        assert r.rc == 0, r
        return r.json

    def entry(self, sid):
        return os.path.join(self.rt, sid)

    def info(self, sid):
        with open(os.path.join(self.entry(sid), "info.json")) as f:
            return json.load(f)

    def daemon(self, sid):
        info = dict(self.started)[sid]
        return info["pid"], info["pid_start"]

    def cgroups(self, sid):
        """The cgroups of SID's sandbox: zonebox-<daemon pid>-<its start time>-*."""
        pid, start = self.daemon(sid)
        prefix = "zonebox-%d-%d-" % (pid, start)
        return [c for c in zonebox_cgroups() if os.path.basename(c).startswith(prefix)]

    def gc(self):
        gc = [ZONEBOX, "gc", "--quiet"]
        if self.zb.unprivileged:
            gc = AS_NOBODY + gc + ["--cgroup-parent", DELEGATED]
        return subprocess.run(gc, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd="/")

    def cleanup(self):
        for sid, info in self.started:
            if pid_alive(info["pid"], info["pid_start"]):
                try:
                    self.stop(sid)
                except subprocess.TimeoutExpired:
                    pass
            if pid_alive(info["pid"], info["pid_start"]):
                os.kill(info["pid"], signal.SIGKILL)
                poll(lambda: not pid_alive(info["pid"], info["pid_start"]), timeout=5)
        if self.started:
            self.gc()


@pytest.fixture
def ses(zb, tmp):
    s = Sessions(zb, tmp)
    yield s
    s.cleanup()


@pytest.fixture
def ses_root(zb_root, tmp):
    s = Sessions(zb_root, tmp)
    yield s
    s.cleanup()


@pytest.fixture
def marker():
    """A unique sleep argument; every host process carrying it is killed in teardown."""
    arg = unique_sleep_arg()
    yield arg
    kill_marker(arg)


def assert_all_gone(ses, sid, mark=None):
    """Nothing of SID is left: daemon, sandbox processes, cgroups, runtime entry, list entry."""
    pid, start = ses.daemon(sid)
    assert poll(lambda: not pid_alive(pid, start), timeout=10), "daemon %d still runs" % pid
    if mark is not None:
        assert poll(lambda: not pids_with_arg(mark), timeout=10), \
            "sandbox processes left: %s" % pids_with_arg(mark)
    assert poll(lambda: not os.path.exists(ses.entry(sid)), timeout=5), os.listdir(ses.entry(sid))
    assert ses.list() == []
    assert poll(lambda: not ses.cgroups(sid), timeout=5), "cgroups left: %s" % ses.cgroups(sid)


# ---------------------------------------------------------------- state between execs


def test_state_survives_between_execs_and_stop_removes_all(ses, marker):
    before = set(zonebox_cgroups())
    sid = ses.start("--tmpfs", "/scratch", "--name", "state-test")
    pid, start = ses.daemon(sid)
    # double-forked: the daemon is not a child of ours
    with open("/proc/%d/stat" % pid) as f:
        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    assert ppid != os.getpid()
    assert ses.cgroups(sid), "no cgroup for the session: %s" % zonebox_cgroups()
    [entry] = ses.list()
    assert entry["id"] == sid and entry["name"] == "state-test" and entry["pid"] == pid
    assert entry["idle_timeout_ms"] == 30 * 60 * 1000 and entry["created"] > 0

    r = ses.exec(sid, "--", "sh", "-c",
                 "echo written-by-exec-1 > /scratch/f; sleep %s >/dev/null 2>&1 &" % marker)
    assert r.rc == 0, r
    host = poll(lambda: pids_exact(["sleep", marker]), timeout=5)
    assert len(host) == 1, "background sleep not on the host: %s" % pids_with_arg(marker)

    # the name works as well as the id
    r = ses.exec("state-test", "--", "sh", "-c",
                 'cat /scratch/f; for p in /proc/[0-9]*; do echo "$(tr "\\0" " " < $p/cmdline)"; done')
    assert r.rc == 0, r
    lines = r.stdout.splitlines()
    assert lines[0] == "written-by-exec-1"
    assert "sleep %s " % marker in lines, "background sleep not visible inside: %r" % r.stdout
    # and it is still the same process on the host
    assert pids_exact(["sleep", marker]) == host

    r = ses.stop(sid)
    assert r.rc == 0, r
    # stop returns once the daemon has exited
    assert not pid_alive(pid, start), "stop returned before the daemon exited"
    assert_all_gone(ses, sid, marker)
    assert poll(lambda: not stale_new_cgroups(before), timeout=5), stale_new_cgroups(before)


# ---------------------------------------------------------------- exec results


def test_exec_results(ses, marker):
    sid = ses.start("--tmpfs", "/scratch")
    assert ses.exec(sid, "--", "sh", "-c", "exit 7").rc == 7
    r, j = ses.exec_json(sid, "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert r.rc == 3, r
    assert j["status"] == "exited" and j["exit_code"] == 3 and j["cli_exit_code"] == 3, j
    assert j["stdout"] == "out\n" and j["stderr"] == "err\n", j
    assert j["wall_ms"] >= 0 and "seccomp" in j["layers"]["applied"], j
    r, j = ses.exec_json(sid, "--", "echo", "captured")
    assert r.rc == 0 and j["status"] == "exited" and j["exit_code"] == 0 and j["stdout"] == "captured\n", j

    r = ses.exec(sid, "--", "no-such-command-zb")
    assert r.rc == 127, r

    # a per-exec time limit kills the command (and its process group)
    t0 = time.monotonic()
    r, j = ses.exec_json(sid, "--timeout", "300ms", "--", "sleep", marker)
    assert r.rc == 124, r
    assert j["status"] == "timeout" and j["cli_exit_code"] == 124, j
    assert time.monotonic() - t0 < 5
    assert poll(lambda: not pids_with_arg(marker), timeout=5), pids_with_arg(marker)

    r = ses.exec(sid, "-e", "ZB_K=some value", "-w", "/scratch", "--", "sh", "-c", 'echo "$ZB_K"; pwd')
    assert r.rc == 0 and r.stdout == "some value\n/scratch\n", r
    # -e and -w are per exec, not the session's
    r = ses.exec(sid, "--", "sh", "-c", 'echo "[${ZB_K-unset}]"; pwd')
    assert r.rc == 0 and r.stdout.splitlines()[0] == "[unset]" and r.stdout.splitlines()[1] != "/scratch", r

    r = ses.exec(sid, "--", "cat", input="data through stdin\n")
    assert r.rc == 0 and r.stdout == "data through stdin\n", r
    # the session still works after all of that
    assert ses.exec(sid, "--", "true").rc == 0


def test_exec_output_larger_than_one_read_arrives_whole(ses):
    """The client reads the command's output 64 KiB at a time into one heap
    buffer (and replies into another): several reads on both pipes, passed
    through and captured, must arrive byte for byte, in order."""
    sid = ses.start()
    want_out = "".join("%d\n" % i for i in range(1, 60001))  # 348,894 bytes
    want_err = "".join("%d\n" % i for i in range(1, 20001))  # 108,894 bytes
    cmd = ["--", "sh", "-c", "seq 1 60000; seq 1 20000 >&2"]
    r = ses.exec(sid, *cmd)
    assert r.rc == 0, r.stderr[-500:]
    assert r.stdout == want_out and r.stderr == want_err
    r, j = ses.exec_json(sid, *cmd)
    assert r.rc == 0 and j["status"] == "exited" and j["exit_code"] == 0, r
    assert j["stdout"] == want_out and j["stderr"] == want_err
    assert not j["stdout_truncated"] and not j["stderr_truncated"], j


def test_session_timeout_applies_per_exec(ses, marker):
    sid = ses.start("--timeout", "2s")
    t0 = time.monotonic()
    r, j = ses.exec_json(sid, "--", "sleep", marker)
    assert r.rc == 124 and j["status"] == "timeout", r
    assert time.monotonic() - t0 < 10
    assert poll(lambda: not pids_with_arg(marker), timeout=5)
    # each exec gets the full limit, not what is left of a session-wide one
    # (the session is past 2 s already; 1.2 s leaves a loaded machine room)
    r = ses.exec(sid, "--", "sleep", "1.2")
    assert r.rc == 0, r
    r = ses.exec(sid, "--", "sleep", "1.2")
    assert r.rc == 0, r
    # an exec's own --timeout overrides the session's
    assert ses.exec(sid, "--timeout", "5s", "--", "sleep", "0.6").rc == 0


def test_background_process_holding_stdout_does_not_hang(ses, marker):
    sid = ses.start()
    t0 = time.monotonic()
    p = subprocess.run(ses.argv("exec", sid, "--", "sh", "-c", "sleep %s & echo done" % marker),
                       capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd="/",
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert p.stdout == "done\n"
    assert time.monotonic() - t0 < 10
    # the background sleep (which held the pipe) still runs; under load its
    # fork may not have reached execve("sleep") yet when exec returns
    assert poll(lambda: pids_exact(["sleep", marker]), timeout=5), "background sleep was killed"
    r = ses.stop(sid)
    assert r.rc == 0, r
    assert_all_gone(ses, sid, marker)


def test_killing_exec_client_kills_command(ses, marker):
    sid = ses.start()
    p = ses.popen("exec", sid, "--", "sh", "-c", "sleep %s; echo never" % marker)
    try:
        assert poll(lambda: pids_exact(["sleep", marker]), timeout=10), "command did not start"
        p.kill()
        p.wait(timeout=5)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert poll(lambda: not pids_with_arg(marker), timeout=5), \
        "command survived its exec client: %s" % pids_with_arg(marker)
    assert ses.exec(sid, "--", "echo", "still-here").stdout == "still-here\n"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_to_exec_client_goes_to_command(ses, marker, sig):
    sid = ses.start()
    # `sleep & wait`: wait returns at once for a trapped signal
    p = ses.popen("exec", sid, "--", "sh", "-c",
                  'trap "echo got-%s; exit 5" %s; sleep %s & wait' % (sig.name, sig.name[3:], marker),
                  text=True)
    try:
        assert poll(lambda: pids_exact(["sleep", marker]), timeout=10), "command did not start"
        os.kill(p.pid, sig)
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 5, (p.returncode, out, err)
    assert out == "got-%s\n" % sig.name, (out, err)
    assert ses.exec(sid, "--", "true").rc == 0


# ---------------------------------------------------------------- the daemon's death


def proc_exists(pid, start):
    """PID is in /proc at all (a zombie too) and is the process started at START."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return int(stat[stat.rindex(")") + 2:].split()[19]) == start


def test_daemon_sigkill_leaves_only_cgroups_for_gc(ses, marker):
    sid = ses.start()
    pid, start = ses.daemon(sid)
    r = ses.exec(sid, "--", "sh", "-c", "sleep %s >/dev/null 2>&1 &" % marker)
    assert r.rc == 0, r
    assert poll(lambda: pids_exact(["sleep", marker]), timeout=5)
    assert ses.cgroups(sid)
    os.kill(pid, signal.SIGKILL)
    assert poll(lambda: not pids_with_arg(marker), timeout=5), \
        "sandbox outlived its daemon: %s" % pids_with_arg(marker)
    # The daemon is double-forked: its reaper is the host's PID 1, which on
    # some hosts takes a while. The zombie case is test_zombie_daemon_is_stale.
    assert poll(lambda: not proc_exists(pid, start), timeout=10, interval=0.05), "never reaped"
    assert ses.list() == [], "stale entry still listed"
    assert not os.path.exists(ses.entry(sid)), "list did not remove the stale entry"
    r = ses.exec(sid, "--", "true")
    assert r.rc == 125 and "no such session" in r.stderr, r
    g = ses.gc()
    assert g.returncode == 0, g.stderr
    assert ses.cgroups(sid) == [], "gc left: %s" % ses.cgroups(sid)


# Starts a session under a subreaper that reaps nothing until told: like a
# container whose PID 1 does not reap, the killed daemon stays a zombie.
NO_REAPER = textwrap.dedent("""\
    import ctypes, os, subprocess, sys
    PR_SET_CHILD_SUBREAPER = 36
    assert ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE)
    print(r.returncode, r.stdout.decode().strip(), flush=True)
    sys.stdin.readline()  # reap when told
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    """)


def test_zombie_daemon_is_stale(ses_root, marker):
    """A killed daemon that nobody has reaped yet is dead: list drops its
    entry and gc removes its cgroups (a zombie keeps its pid and start time)."""
    ses = ses_root
    reaper = subprocess.Popen(["/usr/bin/python3", "-c", NO_REAPER] + ses.argv("start"),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd="/")
    try:
        rc, sid = reaper.stdout.readline().split()
        assert rc == "0", (rc, sid)
        info = ses.info(sid)
        ses.started.append((sid, info))
        pid, start = info["pid"], info["pid_start"]
        r = ses.exec(sid, "--", "sh", "-c", "sleep %s >/dev/null 2>&1 &" % marker)
        assert r.rc == 0, r
        os.kill(pid, signal.SIGKILL)
        assert poll(lambda: not pids_with_arg(marker), timeout=5), pids_with_arg(marker)
        assert not pid_alive(pid, start) and proc_exists(pid, start), "the daemon is no zombie"
        r = ses.exec(sid, "--", "true")
        assert r.rc == 125, r
        listed = ses.list()
        g = ses.gc()
        assert g.returncode == 0, g.stderr
        left = ses.cgroups(sid)
        assert (listed, left) == ([], []), \
            "a killed (zombie, not yet reaped) daemon counts as live: list shows %s, gc keeps %s" \
            % (listed, left)
        assert not os.path.exists(ses.entry(sid))
    finally:
        reaper.stdin.write("\n")
        reaper.stdin.close()
        reaper.wait(timeout=10)


def test_daemon_sigterm_stops_cleanly(ses, marker):
    before = set(zonebox_cgroups())
    sid = ses.start("--tmpfs", "/scratch")
    pid, _ = ses.daemon(sid)
    r = ses.exec(sid, "--", "sh", "-c", "sleep %s >/dev/null 2>&1 &" % marker)
    assert r.rc == 0, r
    assert poll(lambda: pids_exact(["sleep", marker]), timeout=5)
    os.kill(pid, signal.SIGTERM)
    assert_all_gone(ses, sid, marker)
    # no gc needed: the daemon removed its cgroups itself
    assert poll(lambda: not stale_new_cgroups(before), timeout=5), stale_new_cgroups(before)


# ---------------------------------------------------------------- idle timeout


def test_idle_timeout_stops_session(ses):
    sid = ses.start("--idle-timeout", "1s")
    pid, start = ses.daemon(sid)
    assert ses.list()[0]["idle_timeout_ms"] == 1000
    t0 = time.monotonic()
    assert poll(lambda: not pid_alive(pid, start), timeout=10, interval=0.05), "never idled out"
    assert time.monotonic() - t0 >= 0.5
    assert_all_gone(ses, sid)


def test_running_exec_is_not_idle(ses):
    sid = ses.start("--idle-timeout", "1s")
    pid, start = ses.daemon(sid)
    r = ses.exec(sid, "--", "sh", "-c", "sleep 2; echo slept")
    assert r.rc == 0 and r.stdout == "slept\n", r
    # the idle time counts from the end of the last command
    r = ses.exec(sid, "--", "true")
    assert r.rc == 0, r
    assert poll(lambda: not pid_alive(pid, start), timeout=10, interval=0.05), "never idled out"
    assert_all_gone(ses, sid)


# ---------------------------------------------------------------- other users


NOBODY_CLIENT = textwrap.dedent("""\
    import os, socket, sys
    assert os.getuid() == %d
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(10)
    s.connect(sys.argv[1])
    try:
        s.send(b'{"cmd": "exec", "argv": ["touch", "/output/marker"]}')
        got = s.recv(65536)
        print("recv:" + repr(got))
    except BrokenPipeError:
        print("closed")
    except ConnectionResetError:
        print("reset")
    except socket.timeout:
        print("timeout")
    """ % NOBODY)


def test_other_user_cannot_exec(ses_root, tmp):
    ses = ses_root
    out = tmp.mkdir("out", mode=0o777)
    sid = ses.start("-v", out + ":/output")
    marker = os.path.join(out, "marker")
    nobody_exec = AS_NOBODY + [ZONEBOX, "session", "exec", sid, "--runtime-dir", ses.rt, "--",
                               "touch", "/output/marker"]
    r = subprocess.run(nobody_exec, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd="/")
    assert r.returncode == 125, (r.stdout, r.stderr)
    assert "runtime dir" in r.stderr and ses.rt in r.stderr, r.stderr
    assert not os.path.exists(marker)

    sock = os.path.join(ses.entry(sid), "sock")
    modes = [(p, os.stat(p).st_mode & 0o7777) for p in (ses.parent, ses.rt, ses.entry(sid), sock)]
    try:
        for p, _ in modes[:-1]:
            os.chmod(p, 0o755)
        os.chmod(sock, 0o666)
        # the zonebox client refuses a runtime dir that is not the caller's
        r = subprocess.run(nobody_exec, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd="/")
        assert r.returncode == 125, (r.stdout, r.stderr)
        assert "runtime dir" in r.stderr, r.stderr
        # a client of its own reaches the socket; the daemon (SO_PEERCRED) drops it
        p = subprocess.run(AS_NOBODY + ["/usr/bin/python3", "-c", NOBODY_CLIENT, sock],
                           capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd="/")
        assert p.returncode == 0, (p.stdout, p.stderr)
        # closed without a byte of answer: EOF, EPIPE (closed before our
        # send), or ECONNRESET (our request was unread when it closed)
        assert p.stdout.strip() in ("recv:b''", "closed", "reset"), p.stdout
    finally:
        for p, mode in modes:
            os.chmod(p, mode)
    assert not os.path.exists(marker), "the other user's command ran"
    # the session is unharmed and its owner can still use it
    assert ses.exec(sid, "--", "touch", "/output/owner-ran").rc == 0
    assert os.path.exists(os.path.join(out, "owner-ran"))
    assert not os.path.exists(marker)
    assert ses.stop(sid).rc == 0


# ---------------------------------------------------------------- approval and audit


def read_log(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data.endswith(b"\n"), data[-200:]
    return [json.loads(line) for line in data.decode().splitlines()]


def exec_on_pty(ses, sid, cmd, answer=None, timeout=15):
    """Runs ``session exec SID -- CMD`` on a new pseudo-terminal; types ANSWER
    when the question shows (ANSWER None: no question is expected). Returns
    (rc, output, asked)."""
    return on_pty(ses.argv("exec", sid, "--", *cmd), b"(for this session): ",
                  (lambda master, pid: os.write(master, answer)) if answer is not None else None,
                  timeout)


def test_approval_deny_rule_and_audit_log(ses, tmp):
    logdir = tmp.mkdir("log", owner=ses.owner)
    log = os.path.join(logdir, "audit.jsonl")
    sid = ses.start("--tmpfs", "/scratch", "--deny-cmd", "rm *", "--approve-default", "allow",
                    "--audit-log", log)
    assert ses.exec(sid, "--", "sh", "-c", "echo precious > /scratch/keep").rc == 0
    r = ses.exec(sid, "--", "rm", "-f", "/scratch/keep")
    assert r.rc == 126, r
    assert 'approval.deny[0] "rm *"' in r.stderr, r
    r, j = ses.exec_json(sid, "--", "rm", "/scratch/keep")
    assert r.rc == 126 and j["status"] == "denied" and j["exit_code"] is None, j
    r = ses.exec(sid, "--", "cat", "/scratch/keep")
    assert r.rc == 0 and r.stdout == "precious\n", r
    assert ses.stop(sid).rc == 0

    lines = read_log(log)
    assert len(lines) == 8, lines
    assert [(l["event"], l["decision"]) for l in lines] == [
        ("decision", "allow"), ("result", "allow"),
        ("decision", "deny"), ("result", "deny"),
        ("decision", "deny"), ("result", "deny"),
        ("decision", "allow"), ("result", "allow")]
    ids = [l["id"] for l in lines]
    assert ids[0::2] == ids[1::2], "decision and result ids do not pair up: %s" % ids
    assert len(set(ids)) == 4, ids
    assert [l["status"] for l in lines[1::2]] == ["exited", "denied", "denied", "exited"]
    assert lines[2]["command"] == ["rm", "-f", "/scratch/keep"]
    assert lines[7]["exit_code"] == 0


def test_approval_ask_without_terminal_denies(ses, marker):
    sid = ses.start("--approve-default", "ask")
    r = ses.exec(sid, "--", "sleep", marker)
    assert r.rc == 126, r
    assert "no terminal" in r.stderr, r
    assert pids_with_arg(marker) == []


def test_approval_ask_on_terminal(ses):
    sid = ses.start("--approve-default", "ask", "--tmpfs", "/scratch")
    rc, out, asked = exec_on_pty(ses, sid, ["sh", "-c", "echo yes-ran > /scratch/y; echo said-yes"],
                                 b"y\n")
    assert asked and rc == 0, out
    assert "said-yes" in out.split("(for this session):")[1]
    rc, out, asked = exec_on_pty(ses, sid, ["sh", "-c", "echo no-ran > /scratch/n"], b"n\n")
    assert asked and rc == 126, out
    # "a": always, for the rest of this session
    cmd = ["sh", "-c", "echo always >> /scratch/a; echo said-always"]
    rc, out, asked = exec_on_pty(ses, sid, cmd, b"a\n")
    assert asked and rc == 0, out
    assert "echo always" in out.split("(for this session):")[0], "the question names no command: %r" % out
    rc, out, asked = exec_on_pty(ses, sid, cmd, None, timeout=10)
    assert not asked and rc == 0, out
    assert "said-always" in out
    # what really ran: y and twice the always command; n did nothing
    r = ses.exec(sid, "--", "ls", "/scratch")  # asked: no terminal, so denied
    assert r.rc == 126, r
    rc, out, asked = exec_on_pty(ses, sid, ["sh", "-c", "ls -1 /scratch; cat /scratch/a"], b"y\n")
    assert asked and rc == 0, out
    after = out.split("(for this session): ")[1].replace("\r", "").split("\n")
    assert after == ["y", "a", "y", "always", "always", ""], out  # our "y" echoed, then the output


# ---------------------------------------------------------------- bad input


def test_bad_input_exits_125(ses_root, tmp):
    ses = ses_root
    r = ses.run("exec", "nosuch", "--", "true")
    assert r.rc == 125 and "no such session" in r.stderr, r
    for args in (["--name", "bad name"], ["--idle-timeout", "x"], ["--", "true"], ["--name", ""],
                 ["--name", "x" * 65]):
        r = ses.run("start", *args)
        assert r.rc == 125, (args, r)
        assert r.stderr.strip(), (args, r)
    r = ses.run("stop")
    assert r.rc == 125, r
    assert ses.list() == [], "a failed start left a session"

    sid = ses.start("--name", "dup")
    r = ses.run("start", "--name", "dup")
    assert r.rc == 125 and "dup" in r.stderr, r
    assert [e["id"] for e in ses.list()] == [sid]

    # a runtime dir others can read is refused, and named
    loose = tmp.mkdir("loose", mode=0o755)
    for sub, args in (("start", []), ("list", []), ("exec", ["dup", "--", "true"])):
        p = subprocess.run([ZONEBOX, "session", sub, "--runtime-dir", loose] + args,
                           capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd="/")
        assert p.returncode == 125, (sub, p.stdout, p.stderr)
        assert loose in p.stderr, (sub, p.stderr)
    assert os.listdir(loose) == []
    # so is one owned by another user
    theirs = tmp.mkdir("theirs", owner=NOBODY, mode=0o700)
    p = subprocess.run([ZONEBOX, "session", "start", "--runtime-dir", theirs],
                       capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd="/")
    assert p.returncode == 125 and theirs in p.stderr, (p.stdout, p.stderr)
    assert ses.stop("dup").rc == 0
    assert ses.list() == []


# ---------------------------------------------------------------- memory


def test_oom_in_exec_leaves_session_working(ses):
    sid = ses.start("--memory", "64m")
    pid, start = ses.daemon(sid)
    r, j = ses.exec_json(sid, "--", "python3", "-c", "b = b'x' * (200 << 20); print(len(b))")
    assert pid_alive(pid, start), "the daemon died of the OOM"
    assert r.rc == 137, r
    assert j["status"] == "oom" and j["oom_killed"] is True, j
    r = ses.exec(sid, "--", "echo", "alive")
    assert r.rc == 0 and r.stdout == "alive\n", \
        "the session no longer works after an exec's OOM (did the OOM killer pick init?): %r" % r
