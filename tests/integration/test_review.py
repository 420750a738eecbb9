"""What a security review of cow, sessions, approval and the proxy found
(issue 22), each closed hole with a test that failed before its fix:

1. zones over zonebox's own state (the change-set store, the session runtime
   dir) are refused; a session daemon refuses clients from inside a sandbox
   and from other uids;
2. sandbox-chosen names are escaped in diff, conflicts, errors, the
   approval prompt and session list;
3. commit applies what was reviewed (hashes and name lists in the manifest);
4. -e / env: / session exec -e variables block approval by rules;
5. commit of a deleted or replaced directory refuses when the host changed
   deeper in it;
6. no chmod through a symlink swapped in during commit or discard;
7. the proxy's address guard, audit rate limit, and its own confinement.

And the tests the review found missing (these passed before too): two
unprivileged uids and a session socket, commit while the host tree flips
under it, the proxy's guard checked on the server side (a test network
namespace with its own /etc/hosts) and a resolve/connect race, fd and
environment leaks (/proc/1 and the command) in runs and session exec.
"""

import json
import os
import shutil
import stat
import subprocess
import textwrap
import time

import pytest

from conftest import AS_NOBODY, NOBODY, RUN_TIMEOUT, ZONEBOX, Zonebox, poll
from test_session import Sessions


def nobody_env(**extra):
    env = dict(os.environ)
    env.update(extra)
    return env


# ---------------------------------------------------------------- 1. zonebox's own state


def test_zone_over_runtime_dir_refused_unprivileged(tmp):
    """A read-only zone over the dir holding the user's session runtime dir
    is refused (exit 125, both paths named); nothing runs."""
    rt = tmp.mkdir("rt", owner=NOBODY, mode=0o700)
    out = tmp.mkdir("out", mode=0o777)
    env = nobody_env(ZONEBOX_RUNTIME_DIR=rt + "/s", XDG_RUNTIME_DIR=rt)
    zb = Zonebox("nobody")
    r = zb.run("-v", rt + ":/rt:ro", "-v", out + ":/out", "--", "touch", "/out/ran", env=env)
    assert r.rc == 125, r
    assert rt in r.stderr and ((rt + "/s") in r.stderr or (rt + "/zonebox") in r.stderr), r.stderr
    assert "zone 'rt'" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(out, "ran"))


def test_zone_over_change_set_store_refused(zb_root, tmp):
    """An rw zone that contains the change-set store, or lies inside it,
    is refused: the sandbox could rewrite a kept manifest."""
    top = tmp.mkdir("top", mode=0o755)
    store = os.path.join(top, "store")
    r = zb_root.run("--cow-dir", store, "-v", top + ":/top", "--", "true")
    assert r.rc == 125, r
    assert top in r.stderr and store in r.stderr and "contains" in r.stderr, r.stderr
    os.makedirs(os.path.join(store, "x"), mode=0o700)
    r = zb_root.run("--cow-dir", store, "-v", os.path.join(store, "x") + ":/x:ro", "--", "true")
    assert r.rc == 125, r
    assert "lies inside" in r.stderr and store in r.stderr, r.stderr
    # the default store of root, too (through a symlink to /run)
    link = os.path.join(top, "run-link")
    os.symlink("/run", link)
    r = zb_root.run("-v", link + ":/r:ro", "--", "true")
    assert r.rc == 125, r
    assert "/run/zonebox" in r.stderr, r.stderr


def test_session_start_refuses_zone_over_its_runtime_dir(zb_root, tmp):
    top = tmp.mkdir("top", mode=0o700)
    rt = os.path.join(top, "sessions")
    r = subprocess.run([ZONEBOX, "session", "start", "--runtime-dir", rt, "-v", top + ":/top:ro"],
                       capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd="/")
    assert r.returncode == 125, (r.stdout, r.stderr)
    assert rt in r.stderr and top in r.stderr, r.stderr
    assert not os.path.exists(rt) or os.listdir(rt) == []


PROBE = textwrap.dedent("""\
    import socket, sys
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(3)
    try:
        s.connect(sys.argv[1])
    except OSError as e:
        print("connect-failed:%s" % e.errno)
        sys.exit(0)
    try:
        got = s.recv(65536)
        print("closed" if got == b"" else "data")
    except socket.timeout:
        print("open")
    except (ConnectionResetError, BrokenPipeError):
        print("closed")
    """)


@pytest.fixture
def ses_nobody(tmp):
    zb = Zonebox("nobody")
    r = subprocess.run(zb.argv(["--", "true"]), capture_output=True, timeout=RUN_TIMEOUT, cwd="/")
    if r.returncode != 0:
        pytest.skip("skipped: zonebox as uid 65534 does not run here: %r" % r.stderr)
    s = Sessions(zb, tmp)
    yield s
    s.cleanup()


def test_session_refuses_client_inside_a_sandbox_of_the_same_user(ses_nobody, tmp):
    """The session's socket, reached from inside another sandbox of its own
    user (here: the session dir bind-mounted elsewhere, which no zone check
    can see), gets no hearing: the daemon closes the connection at once.
    A client of the same user on the host keeps its connection (control)."""
    ses = ses_nobody
    sid = ses.start()
    sock = os.path.join(ses.entry(sid), "sock")
    script = tmp.script_dir(PROBE)
    host = subprocess.run(AS_NOBODY + ["/usr/bin/python3", os.path.join(script, "test.py"), sock],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd="/")
    assert host.stdout.strip() == "open", (host.stdout, host.stderr)

    alias = tmp.mkdir("alias", owner=NOBODY, mode=0o700)
    argv = Zonebox("nobody").argv(["-v", alias + ":/x", "-v", script + ":/input:ro", "--",
                                   "/usr/bin/python3", "/input/test.py", "/x/sock"])
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                        'mount --bind "$1" "$2" && shift 2 && exec "$@"', "sh",
                        ses.entry(sid), alias] + argv,
                       capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd="/")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.strip() == "closed", (r.stdout, r.stderr)
    assert ses.exec(sid, "--", "true").rc == 0  # unharmed
    assert ses.stop(sid).rc == 0


def test_session_of_one_uid_refuses_another_uid(ses_nobody, tmp):
    """Owner 65534, attacker uid 1001 (both unprivileged): the 0700 dir keeps
    the attacker out; with the dirs opened up, the daemon still drops it."""
    ses = ses_nobody
    sid = ses.start()
    sock = os.path.join(ses.entry(sid), "sock")
    script = tmp.script_dir(PROBE)
    attacker = ["setpriv", "--reuid=1001", "--regid=1001", "--clear-groups"]
    r = subprocess.run(attacker + [ZONEBOX, "session", "exec", sid, "--runtime-dir", ses.rt, "--", "true"],
                       capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd="/")
    assert r.returncode == 125 and "runtime dir" in r.stderr, (r.returncode, r.stderr)
    p = subprocess.run(attacker + ["/usr/bin/python3", os.path.join(script, "test.py"), sock],
                       capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd="/")
    assert p.stdout.strip().startswith("connect-failed:13"), (p.stdout, p.stderr)
    modes = [(d, os.stat(d).st_mode & 0o7777) for d in (ses.parent, ses.rt, ses.entry(sid), sock)]
    try:
        for d, _ in modes[:-1]:
            os.chmod(d, 0o755)
        os.chmod(sock, 0o666)
        p = subprocess.run(attacker + ["/usr/bin/python3", os.path.join(script, "test.py"), sock],
                           capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd="/")
        assert p.stdout.strip() == "closed", (p.stdout, p.stderr)
    finally:
        for d, mode in modes:
            os.chmod(d, mode)
    assert ses.stop(sid).rc == 0


# ---------------------------------------------------------------- 4. -e and approval


def test_run_env_addition_blocks_rule_approval(zb_root, tmp):
    out = tmp.mkdir("out", mode=0o777)
    base = ["--allow-cmd", "touch /out/*", "--approve-default", "deny", "-v", out + ":/out"]
    r = zb_root.run(*base, "--", "touch", "/out/plain")
    assert r.rc == 0 and os.path.exists(os.path.join(out, "plain")), r  # control: the rule approves
    for env in ("LD_PRELOAD=/nonexistent.so", "BASH_FUNC_touch%%=() { id; }", "X=a[$(id)]"):
        r = zb_root.run(*base, "-e", env, "--", "touch", "/out/with-env")
        assert r.rc == 126, (env, r)
        assert "variables are set for the command" in r.stderr, r.stderr
        assert not os.path.exists(os.path.join(out, "with-env"))


def test_session_exec_env_blocks_rule_approval(ses_nobody, tmp):
    ses = ses_nobody
    out = tmp.mkdir("out", mode=0o777)
    sid = ses.start("--allow-cmd", "touch /out/*", "--approve-default", "deny", "-v", out + ":/out")
    assert ses.exec(sid, "--", "touch", "/out/plain").rc == 0
    r = ses.exec(sid, "-e", "LD_PRELOAD=/nonexistent.so", "--", "touch", "/out/with-env")
    assert r.rc == 126, r
    assert not os.path.exists(os.path.join(out, "with-env"))
    assert ses.stop(sid).rc == 0


# ---------------------------------------------------------------- 2. escaped output


NASTY = {  # name the sandbox makes -> how diff must show it
    b"zz\x1b[8mhidden": "zz\\x1b[8mhidden",
    b"fake\nA evil": "fake\\x0aA evil",
    b"cr\rM x": "cr\\x0dM x",
    b"bad\xffutf8": "bad\\xffutf8",
    b"c1\xc2\x9bcsi": "c1\\u009bcsi",
    b"back\\slash": "back\\\\slash",
}


def _cow_store(tmp, owner=None):
    return os.path.join(tmp.mkdir("cowstore", owner=owner), "store")


def _clean_terminal_text(raw):
    """RAW (bytes printed by zonebox) holds no control byte but newline and
    is valid UTF-8 without C1 controls."""
    text = raw.decode("utf-8")  # raises on invalid UTF-8
    bad = [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) < 0xa0]
    assert not bad, (bad, text)
    return text


def test_diff_and_conflicts_escape_sandbox_names(zb_root, tmp):
    host = tmp.mkdir("host", owner=NOBODY, mode=0o777)
    store = _cow_store(tmp)
    script = tmp.mkdir("script")
    with open(os.path.join(script, "mk.py"), "w") as f:
        f.write("import os\nfor n in %r:\n    open(b'/data/' + n, 'w').close()\n" % list(NASTY))
    r, j = zb_root.json("--cow-dir", store, "-v", host + ":/data:cow", "-v", script + ":/s:ro",
                        "--", "/usr/bin/python3", "/s/mk.py")
    assert r.rc == 0 and j["cow_id"], r
    cid = j["cow_id"]
    p = subprocess.run([ZONEBOX, "diff", cid, "--cow-dir", store], capture_output=True, timeout=RUN_TIMEOUT)
    assert p.returncode == 0, p
    text = _clean_terminal_text(p.stdout)
    added = [l for l in text.splitlines() if l.startswith("A ")]
    assert sorted(added) == sorted("A /data/" + shown for shown in NASTY.values()), text
    # the host makes the same names: each is a conflict, printed escaped
    for name in NASTY:
        open(os.path.join(host.encode(), name), "w").close()
    p = subprocess.run([ZONEBOX, "commit", cid, "--cow-dir", store], capture_output=True, timeout=RUN_TIMEOUT)
    assert p.returncode == 1, p
    text = _clean_terminal_text(p.stdout)
    _clean_terminal_text(p.stderr)
    conflicts = [l for l in text.splitlines() if l.startswith("conflict ")]
    assert len(conflicts) == len(NASTY), text
    for shown in NASTY.values():
        assert any(l.startswith("conflict /data/" + shown + ":") for l in conflicts), (shown, text)
    subprocess.run([ZONEBOX, "discard", cid, "--cow-dir", store], capture_output=True, timeout=RUN_TIMEOUT)


def test_error_text_is_escaped(zb_root, tmp):
    """An error naming a user-given path prints it escaped (no raw ESC)."""
    p = subprocess.run([ZONEBOX.encode(), b"run", b"-v", b"/nonexistent\x1b[8m\xc2\x9b\xff:/x", b"--", b"true"],
                       capture_output=True, timeout=RUN_TIMEOUT, cwd="/")
    assert p.returncode == 125, p
    text = _clean_terminal_text(p.stderr)
    assert "\\x1b[8m\\u009b\\xff" in text, text


# ---------------------------------------------------------------- 3. commit applies what was reviewed


def _cow_cmd(store, *args):
    return subprocess.run([ZONEBOX] + list(args) + ["--cow-dir", store], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT, cwd="/", stdin=subprocess.DEVNULL)


def _snapshot(d):
    out = {}
    for root, dirs, files in os.walk(d):
        for n in dirs + files:
            p = os.path.join(root, n)
            st = os.lstat(p)
            data = os.readlink(p) if stat.S_ISLNK(st.st_mode) else \
                open(p, "rb").read() if stat.S_ISREG(st.st_mode) else None
            out[os.path.relpath(p, d)] = (stat.S_IFMT(st.st_mode), data)
    return out


ALTERATIONS = {
    # what is done to the upper dir between diff and commit
    "content of an added file": lambda u: open(os.path.join(u, "top.txt"), "r+").write("EVIL"),
    "content inside a new tree": lambda u: open(os.path.join(u, "new/deep/f"), "a").write("EVIL"),
    "a name added to a new tree": lambda u: open(os.path.join(u, "new/.bashrc"), "w").write("EVIL"),
    "a name removed from a new tree": lambda u: os.unlink(os.path.join(u, "new/deep/f")),
    "a symlink retargeted in a new tree": lambda u: (os.unlink(os.path.join(u, "new/link")),
                                                     os.symlink("/etc/shadow", os.path.join(u, "new/link"))),
}


@pytest.mark.parametrize("what", sorted(ALTERATIONS))
def test_commit_refuses_upper_altered_after_the_run(zb_root, tmp, what):
    host = tmp.mkdir("host", owner=NOBODY, mode=0o777)
    store = _cow_store(tmp)
    r, j = zb_root.json("--cow-dir", store, "-v", host + ":/data:cow", "--", "sh", "-c",
                        "echo reviewed > /data/top.txt; mkdir -p /data/new/deep; echo f > /data/new/deep/f; "
                        "ln -s target /data/new/link")
    assert r.rc == 0 and j["cow_id"], r
    cid = j["cow_id"]
    diff = json.loads(_cow_cmd(store, "diff", cid, "--json").stdout)
    upper = diff["zones"][0]["upper"]
    before = _snapshot(host)
    ALTERATIONS[what](upper)
    p = _cow_cmd(store, "commit", cid)
    assert p.returncode == 125, (p.returncode, p.stdout, p.stderr)
    assert "altered since the run" in p.stderr and "nothing was applied" in p.stderr, p.stderr
    assert _snapshot(host) == before
    assert not [n for n in os.listdir(host) if n.startswith(".zonebox-")]
    assert _cow_cmd(store, "discard", cid).returncode == 0


def test_commit_of_an_unaltered_set_applies(zb_root, tmp):
    """Control for the test above: the same set, untouched, commits."""
    host = tmp.mkdir("host", owner=NOBODY, mode=0o777)
    store = _cow_store(tmp)
    r, j = zb_root.json("--cow-dir", store, "-v", host + ":/data:cow", "--", "sh", "-c",
                        "echo reviewed > /data/top.txt; mkdir -p /data/new/deep; echo f > /data/new/deep/f; "
                        "ln -s target /data/new/link; mkfifo /data/new/p")
    assert r.rc == 0 and j["cow_id"], r
    p = _cow_cmd(store, "commit", j["cow_id"])
    assert p.returncode == 0, p
    assert open(os.path.join(host, "new/deep/f")).read() == "f\n"
    assert os.readlink(os.path.join(host, "new/link")) == "target"
    assert stat.S_ISFIFO(os.lstat(os.path.join(host, "new/p")).st_mode)


# ---------------------------------------------------------------- 5. deeper host changes under removed trees


@pytest.mark.parametrize("script", [
    "rm -rf /data/build",                                            # deleted
    "rm -rf /data/build && mkdir /data/build && echo new > /data/build/y",  # replaced (opaque)
])
def test_commit_refuses_when_host_changed_below_a_removed_dir(zb_root, tmp, script):
    host = tmp.mkdir("host", owner=NOBODY, mode=0o777)
    os.makedirs(os.path.join(host, "build/sub/deeper"))
    open(os.path.join(host, "build/sub/deeper/old.o"), "w").write("old")
    for root, dirs, files in os.walk(host):
        for n in dirs + files:
            os.lchown(os.path.join(root, n), NOBODY, NOBODY)
    store = _cow_store(tmp)
    r, j = zb_root.json("--cow-dir", store, "-v", host + ":/data:cow", "--", "sh", "-c", script)
    assert r.rc == 0 and j["cow_id"], r
    cid = j["cow_id"]
    # the user keeps working on the host, two levels below build/
    later = os.path.join(host, "build/sub/deeper/later.txt")
    open(later, "w").write("my work")
    p = _cow_cmd(store, "commit", cid)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "conflict /data/build: changed on the host below it since the run" in p.stdout, p.stdout
    assert open(later).read() == "my work"
    # and with the host tree as the run left it, the same kind of set commits
    os.unlink(later)
    r, j = zb_root.json("--cow-dir", store, "-v", host + ":/data:cow", "--", "sh", "-c", script)
    assert r.rc == 0 and j["cow_id"], r
    p = _cow_cmd(store, "commit", j["cow_id"])
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert not os.path.exists(os.path.join(host, "build/sub"))
    assert _cow_cmd(store, "discard", cid).returncode == 0


# ---------------------------------------------------------------- 7. the proxy


from test_proxy import CLIENT, Server, allow_args, proxies_of  # noqa: E402


def test_refused_connections_audit_rate_limited(zb_root, tmp):
    """200 refused connections: a burst of lines, then one summary line
    with the count; lines + summarised == 200. The result still counts all."""
    a = Server("allowed")
    try:
        logdir = tmp.mkdir("audit")
        log = os.path.join(logdir, "audit.jsonl")
        d = tmp.script_dir(CLIENT)
        calls = [["n%d" % i, ["raw", "CONNECT other.test:%d HTTP/1.1\r\n\r\n" % a.port]] for i in range(200)]
        r = zb_root.run("--json", "--audit-log", log, "-v", d + ":/input:ro", *allow_args(a), "--",
                        "python3", "/input/test.py", json.dumps({"calls": calls}))
        j = r.json
        assert j["status"] == "exited" and j["exit_code"] == 0, r
        inner = json.loads(j["stdout"])
        assert all(inner["n%d" % i][0] == 403 for i in range(200)), inner
        assert j["network"]["proxy"]["refused"] == 200
        with open(log) as f:
            lines = [json.loads(line) for line in f]
        deny = [x for x in lines if x["event"] == "net" and x["decision"] == "deny"]
        summary = [x for x in lines if x["event"] == "net_suppressed"]
        assert len(deny) <= 40, len(deny)
        assert summary, lines[-3:]
        suppressed = sum(int(x["reason"].split()[0]) for x in summary)
        assert len(deny) + suppressed == 200, (len(deny), suppressed)
    finally:
        a.close()


def test_proxy_confined_when_run_by_an_ordinary_user(tmp):
    """The proxy of uid 65534's run has a seccomp filter of its own."""
    zb = Zonebox("nobody")
    a = Server("allowed")
    p = zb.popen(*allow_args(a), "--", "head", "-c1", stdin=subprocess.PIPE)
    try:
        pids = poll(lambda: proxies_of(p.pid), timeout=10)
        assert len(pids) == 1, (pids, p.poll())
        with open("/proc/%d/status" % pids[0]) as f:
            st = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        assert st["NoNewPrivs"] == "1"
        assert st["Seccomp"] == "2", st.get("Seccomp")
        p.stdin.write(b"x")
        p.stdin.close()
        assert p.wait(RUN_TIMEOUT) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()
        a.close()


# Runs as root in a network and mount namespace of its own: lo with the
# addresses below (this namespace's "host" addresses),
# its own /etc/hosts, a TCP server on 0.0.0.0 that counts what it accepts,
# and zonebox run with the proxy in this namespace.
RIG = r"""
import json, os, socket, subprocess, sys, threading, time
zonebox, client_dir, hosts_file, mode = sys.argv[1:5]
def sh(*a):
    subprocess.run(a, check=True)
sh("ip", "link", "set", "lo", "up")
# on lo: no dummy or veth module is needed, and they are this namespace's
# own addresses all the same (getifaddrs lists them)
for addr in ("1.2.3.4/32", "203.0.113.7/32", "169.254.169.254/32", "198.51.100.9/32"):
    sh("ip", "addr", "add", addr, "dev", "lo")
names = {"own.test": ["1.2.3.4"], "testnet.test": ["203.0.113.7"], "meta.test": ["169.254.169.254"],
         "mapped.test": ["::ffff:127.0.0.1"], "multi.test": ["198.51.100.9", "5.6.7.8", "169.254.169.254"],
         "race.test": ["5.6.7.8"]}
def write_hosts(extra=""):
    with open(hosts_file, "r+") as f:
        f.seek(0)
        f.truncate()
        f.write("127.0.0.1 localhost\n" + "".join("%s %s\n" % (a, n) for n, l in names.items() for a in l) + extra)
write_hosts()
sh("mount", "--bind", hosts_file, "/etc/hosts")
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 0))
srv.listen(64)
port = srv.getsockname()[1]
accepted = []
def serve():
    while True:
        c, peer = srv.accept()
        accepted.append(peer)
        c.close()
threading.Thread(target=serve, daemon=True).start()
stop = threading.Event()
def flip():  # race.test between a public and an internal answer
    i = 0
    while not stop.is_set():
        names["race.test"] = ["169.254.169.254"] if i % 2 else ["5.6.7.8"]
        write_hosts()
        i += 1
        time.sleep(0.002)
if mode == "race":
    threading.Thread(target=flip, daemon=True).start()
    calls = [["r%d" % i, ["raw", "CONNECT race.test:%d HTTP/1.1\r\n\r\n" % port]] for i in range(60)]
else:
    calls = [[n, ["raw", "CONNECT %s:%d HTTP/1.1\r\n\r\n" % (n, port)]]
             for n in ("own.test", "testnet.test", "meta.test", "mapped.test", "multi.test", "pinned.test")]
r = subprocess.run([zonebox, "run", "--net-allow", "*.test:%d" % port, "--add-host", "pinned.test:1.2.3.4",
                    "-v", client_dir + ":/input:ro", "--", "python3", "/input/test.py",
                    json.dumps({"calls": calls})], capture_output=True, text=True, timeout=60)
stop.set()
time.sleep(0.2)
print(json.dumps({"rc": r.returncode, "stderr": r.stderr, "out": json.loads(r.stdout or "{}"),
                  "accepted": len(accepted)}))
"""


def _rig(tmp, mode):
    if subprocess.run(["unshare", "-n", "ip", "addr", "add", "1.2.3.4/32", "dev", "lo"],
                      capture_output=True).returncode != 0:
        pytest.skip("skipped: cannot make a test network namespace here")
    d = tmp.script_dir(CLIENT)
    rig = tmp.script_dir(RIG, name="rig.py")
    hosts = os.path.join(tmp.mkdir("hosts"), "hosts")
    open(hosts, "w").close()
    os.chmod(hosts, 0o644)
    p = subprocess.run(["unshare", "-m", "-n", "--propagation", "private", "/usr/bin/python3",
                        os.path.join(rig, "rig.py"), ZONEBOX, d, hosts, mode],
                       capture_output=True, text=True, timeout=120, cwd="/")
    assert p.returncode == 0, (p.stdout, p.stderr)
    out = json.loads(p.stdout)
    assert out["rc"] == 0, out
    return out


def test_proxy_guard_checked_on_the_server_side(zb_root, tmp):
    """Names from DNS (here /etc/hosts in a namespace of the test's) that
    lead to this host's own address, TEST-NET, 169.254.169.254, an
    IPv4-mapped loopback, or a multi-address answer mixing internal and
    public addresses: refused, and the server bound to 0.0.0.0 accepted
    nothing. The pinned name (control) reaches it once."""
    out = _rig(tmp, "names")
    res = out["out"]
    for name in ("own.test", "testnet.test", "meta.test", "mapped.test"):
        assert res[name][0] == 403, (name, res[name])
    assert "this host's own" in res["own.test"][1], res["own.test"]
    assert res["multi.test"][0] == 502, res["multi.test"]  # only 5.6.7.8 was left to try: unreachable
    assert res["pinned.test"][0] == 200, res["pinned.test"]
    assert out["accepted"] == 1, out


def test_proxy_resolve_then_connect_race(zb_root, tmp):
    """race.test flips between a public and an internal address while 60
    requests go through: the proxy connects only to what it judged."""
    out = _rig(tmp, "race")
    assert out["accepted"] == 0, out
    assert all(v[0] in (403, 502) for k, v in out["out"].items() if k.startswith("r")), out["out"]


# ---------------------------------------------------------------- 6. and races during commit/discard


import ctypes  # noqa: E402

_libc = ctypes.CDLL(None, use_errno=True)
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a, b):
    return _libc.renameat2(_AT_FDCWD, a.encode(), _AT_FDCWD, b.encode(), _RENAME_EXCHANGE) == 0


class Flipper:
    """Swaps each (A, B) pair with RENAME_EXCHANGE, over and over, in a
    thread, until stopped or DEADLINE seconds have passed."""

    def __init__(self, pairs, deadline=20):
        import threading
        self.pairs, self.stop, self.flips = pairs, threading.Event(), 0
        self.deadline = time.monotonic() + deadline
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            for a, b in self.pairs:
                if _exchange(a, b):
                    self.flips += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)
        # put every pair back the way it started (an even number of swaps)
        for a, b in self.pairs:
            if os.path.islink(a) and not os.path.islink(b):
                _exchange(a, b)


def _modes(d):
    return {n: stat.S_IMODE(os.lstat(os.path.join(d, n)).st_mode) for n in sorted(os.listdir(d))}


STRACE = shutil.which("strace")


@pytest.mark.skipif(not STRACE, reason="skipped: strace not installed (it holds the chmod for the swap)")
def test_discard_never_chmods_through_a_swapped_in_symlink(tmp):
    """Unprivileged discard of a set whose upper dir holds a mode-000 dir
    (discard lends itself the owner's bits to remove it). strace holds the
    chmod for 2 s at its entry; meanwhile the dir is swapped with a symlink
    to a file outside. Before the fix fchmodat followed that symlink and
    made the outside file 0700; now the chmod goes to the inode opened
    (O_PATH|O_NOFOLLOW) before the swap."""
    zb = Zonebox("nobody")
    host = tmp.mkdir("host", owner=NOBODY, mode=0o755)
    parent = tmp.mkdir("cowstore", owner=NOBODY, mode=0o755)
    store = os.path.join(parent, "store")
    r, j = zb.json("--cow-dir", store, "-v", host + ":/data:cow", "--", "sh", "-c",
                   "mkdir -p /data/t/d0 && chmod 000 /data/t/d0")
    assert r.rc == 0 and j["cow_id"], r
    cid = j["cow_id"]
    victim = os.path.join(store, cid, "zone-0", "upper", "t", "d0")
    assert stat.S_IMODE(os.lstat(victim).st_mode) == 0
    outside = tmp.mkdir("outside", owner=NOBODY, mode=0o755)
    f = os.path.join(outside, "secret")
    open(f, "w").close()
    os.chown(f, NOBODY, NOBODY)
    os.chmod(f, 0o600)
    link = os.path.join(parent, "swap")  # same filesystem, outside what discard removes
    os.symlink(f, link)
    p = subprocess.Popen(AS_NOBODY + [STRACE, "-f", "-qq", "-o", "/dev/null", "-e", "trace=fchmodat,chmod",
                                      "-e", "inject=fchmodat,chmod:delay_enter=2000000",
                                      ZONEBOX, "discard", cid, "--cow-dir", store],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
    try:
        time.sleep(1.0)  # discard is held at its chmod of d0 now
        assert p.poll() is None, p.communicate()
        assert _exchange(victim, link), ctypes.get_errno()
        p.wait(RUN_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, oct(os.stat(f).st_mode)
    subprocess.run(["chmod", "-R", "u+rwx", parent], capture_output=True)


def test_commit_with_host_tree_flipping_during_the_apply(zb_root, tmp):
    """While commit applies, a writer keeps swapping the host's sub/ with a
    symlink to a dir outside: whatever commit then says, the outside tree
    is unchanged."""
    host = tmp.mkdir("host", owner=NOBODY, mode=0o777)
    sub = os.path.join(host, "sub")
    os.mkdir(sub)
    for i in range(100):
        open(os.path.join(sub, "keep%d" % i), "w").write("k")
    for root, dirs, files in os.walk(host):
        for x in dirs + files:
            os.lchown(os.path.join(root, x), NOBODY, NOBODY)
    outside = tmp.mkdir("outside", owner=NOBODY, mode=0o777)
    for i in range(100):
        open(os.path.join(outside, "keep%d" % i), "w").write("outside")
    store = _cow_store(tmp)
    r, j = zb_root.json("--cow-dir", store, "-v", host + ":/data:cow", "--", "sh", "-c",
                        "cd /data/sub && for i in $(seq 0 99); do echo new > n$i; rm keep$i; done")
    assert r.rc == 0 and j["cow_id"], r
    before = _snapshot(outside)
    link = os.path.join(tmp.mkdir("links"), "sub")
    os.symlink(outside, link)
    with Flipper([(sub, link)]) as fl:
        p = _cow_cmd(store, "commit", j["cow_id"])
    assert fl.flips > 0
    assert p.returncode in (0, 1, 125), p
    assert _snapshot(outside) == before


# ---------------------------------------------------------------- fd and environment leaks


LEAK_PROBE = textwrap.dedent("""\
    import json, os
    out = {}
    for pid in ("1", "self"):
        r = {}
        try:
            r["environ"] = open("/proc/%s/environ" % pid, "rb").read().decode(errors="replace")
        except OSError as e:
            r["environ_errno"] = e.errno
        try:
            fds = {}
            for n in os.listdir("/proc/%s/fd" % pid):
                try:
                    fds[n] = os.readlink("/proc/%s/fd/%s" % (pid, n))
                except OSError as e:
                    fds[n] = "errno %d" % e.errno
            r["fds"] = fds
        except OSError as e:
            r["fds_errno"] = e.errno
        out[pid] = r
    print(json.dumps(out))
    """)

MARKER = "zb-leak-marker-5f3a"


def _check_leaks(out, host_paths):
    for pid, r in out.items():
        assert MARKER not in r.get("environ", ""), (pid, r["environ"])
        if "environ" not in r:
            assert r["environ_errno"] == 13, (pid, r)  # EACCES, nothing else
        if "fds" not in r:
            assert r["fds_errno"] == 13, (pid, r)
            continue
        for fd, target in r["fds"].items():
            assert not any(h in target for h in host_paths), (pid, fd, target)
    # the command itself: stdin, stdout, stderr and the fd listing its own fds
    own = out["self"]["fds"]
    # (the listing's own fd is gone by the time it is read: errno 2)
    extra = {fd: t for fd, t in own.items() if fd not in ("0", "1", "2") and t != "errno 2"}
    assert not extra, own
    assert out["1"].get("fds_errno") == 13 or not [t for t in out["1"]["fds"].values() if "socket:" in t], out["1"]


@pytest.mark.parametrize("user", ["1000", "0"])
def test_no_fd_or_env_leak_in_runs(zb_root, tmp, user):
    """--net-allow, --cow and --audit-log together (as uid 1000 and --user
    0): the command and /proc/1 (zonebox's init) hold no host fd (audit
    log, change-set store, proxy socket) and no variable of the caller's."""
    logdir = tmp.mkdir("audit")
    log = os.path.join(logdir, "audit.jsonl")
    host = tmp.mkdir("host", owner=NOBODY, mode=0o777)
    store = _cow_store(tmp)
    script = tmp.script_dir(LEAK_PROBE)
    env = dict(os.environ, ZB_LEAK=MARKER)
    r = zb_root.run("--user", user, "--audit-log", log, "--net-allow", "x.test:80", "--cow-dir", store,
                    "-v", host + ":/w:cow", "-v", script + ":/input:ro", "--", "python3", "/input/test.py",
                    env=env)
    assert r.rc == 0, r
    _check_leaks(json.loads(r.stdout), [logdir, store, host, tmp.base])


def test_no_fd_or_env_leak_in_session_exec(ses_nobody, tmp):
    ses = ses_nobody
    script = tmp.script_dir(LEAK_PROBE)
    logdir = tmp.mkdir("audit", owner=NOBODY)
    log = os.path.join(logdir, "audit.jsonl")
    env = dict(os.environ, ZB_LEAK=MARKER)
    r = ses.run("start", "--audit-log", log, "--net-allow", "x.test:80", "-v", script + ":/input:ro", env=env)
    assert r.rc == 0, r
    sid = r.stdout.strip()
    ses.started.append((sid, ses.info(sid)))
    r = ses.exec(sid, "--", "python3", "/input/test.py", env=env)
    assert r.rc == 0, r
    _check_leaks(json.loads(r.stdout), [logdir, ses.rt, tmp.base])
    assert ses.stop(sid).rc == 0
