"""zonebox mcp, driven by the official MCP SDK client (tests/mcp/drive.mjs:
@modelcontextprotocol/sdk's Client over StdioClientTransport, the version
pinned in tests/mcp/package-lock.json, installed with `npm ci` into a cache
dir). Each test starts the real server with a real config, makes real
sandboxes through it, and checks the effects on the host too: files, the
processes left, the cgroups, the audit log. The protocol's error paths are
also fed raw lines (malformed JSON the SDK never sends)."""

import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import ZONEBOX, npm_client, pids_with_arg, poll, unique_sleep_arg, zonebox_cgroups

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_SRC = os.path.join(HERE, "..", "mcp")
SEED = ("import urllib.request,os\nr=[]\ntry:\n urllib.request.urlopen('http://google.com',timeout=3); r.append('net:FAIL')\n"
        "except Exception: r.append('net:PASS')\ntry:\n open('/test.txt','w'); r.append('fs:FAIL')\n"
        "except Exception: r.append('fs:PASS')\ntry:\n os.setuid(0); r.append('uid:FAIL')\n"
        "except Exception: r.append('uid:PASS')\nprint(' '.join(r))")


@pytest.fixture(scope="module")
def client_dir():
    """The SDK client installed from the lock file (cached by its hash)."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are not installed: the MCP SDK client cannot run")
    return npm_client(CLIENT_SRC, "mcp-client", os.path.join("@modelcontextprotocol", "sdk"))


def drive(client_dir, cfg, scenario, arg=None, elicit="none", timeout=90):
    env = dict(os.environ, ZB_ELICIT=elicit)
    argv = ["node", os.path.join(client_dir, "drive.mjs"), ZONEBOX, cfg, scenario] + ([arg] if arg else [])
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=client_dir)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert "exception" not in out, out["exception"] + "\nserver stderr: " + p.stderr[-2000:]
    return out


def verdict(r):
    return r["structuredContent"]


@pytest.fixture
def zones(tmp):
    """An ro zone with a file, a symlink out and a device; an rw zone."""
    src = tmp.mkdir("in")
    with open(os.path.join(src, "a.txt"), "w") as f:
        f.write("hello\n")
    os.symlink("/etc/passwd", os.path.join(src, "link"))
    os.mknod(os.path.join(src, "null"), 0o666 | 0o020000, os.makedev(1, 3))
    os.symlink("/etc", os.path.join(src, "etcdir"))
    out = tmp.mkdir("out", mode=0o777)
    outside = tmp.mkdir("outside")
    os.symlink(outside, os.path.join(out, "esc"))
    return src, out


def config(tmp, text):
    d = tmp.mkdir("cfg")
    path = os.path.join(d, "cfg.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def basic_config(tmp, zones, extra=""):
    src, out = zones
    return config(tmp, "sandbox:\n  zones:\n    - {name: input, mode: ro, hostPath: %s}\n"
                       "    - {name: output, mode: rw, hostPath: %s}\n%s" % (src, out, extra))


# ---------------------------------------------------------------- tools and schemas

def test_tools_listed_with_schemas(client_dir, tmp, zones):
    out = drive(client_dir, basic_config(tmp, zones), "tools")
    tools = {t["name"]: t for t in out["tools"]}
    assert set(tools) == {"run", "session_start", "session_exec", "session_stop", "session_list",
                          "read_file", "write_file", "list_files", "changes", "commit", "discard"}
    for t in tools.values():
        assert t["inputSchema"]["type"] == "object" and t["outputSchema"]["type"] == "object", t
    assert "command" in tools["run"]["inputSchema"]["required"]
    assert tools["run"]["outputSchema"]["properties"]["status"]["enum"][0] == "exited"
    assert out["server"]["name"] == "zonebox"


# ---------------------------------------------------------------- run

def test_seed_security_tests_through_run(client_dir, tmp, zones):
    r = drive(client_dir, basic_config(tmp, zones), "seed", SEED)["run"]
    v = verdict(r)
    assert v["status"] == "exited" and v["exit_code"] == 0, v
    assert v["stdout"].strip() == "net:PASS fs:PASS uid:PASS", v
    assert r["isError"] is False
    # The same verdict object zonebox run --json prints.
    ref = json.loads(subprocess.run([ZONEBOX, "run", "--json", "--", "true"], capture_output=True,
                                    text=True, timeout=30).stdout)
    assert set(ref) - {"stdout", "stderr"} <= set(v), set(ref) ^ set(v)


def test_timeout_verdict(client_dir, tmp, zones):
    r = drive(client_dir, basic_config(tmp, zones), "timeout")["run"]
    assert verdict(r)["status"] == "timeout" and r["isError"] is True, r


def test_files_and_stdin_placed_before_the_run(client_dir, tmp, zones):
    out = drive(client_dir, basic_config(tmp, zones), "files_run")
    v = verdict(out["run"])
    assert v["status"] == "exited" and "FROM STDIN" in v["stdout"], v
    assert open(os.path.join(zones[1], "code.py")).read().startswith("import sys")
    assert out["ro"]["isError"] is True and "ro" in out["ro"]["content"][0]["text"], out["ro"]
    assert not os.path.exists(os.path.join(zones[0], "x.py"))


WIDENING = [
    {"network": "host"},
    {"network": ["example.com:443"]},
    {"memory": "1g"},
    {"memory": "unlimited"},
    {"timeout": "60s"},
    {"timeout": 0},
    {"pids": 1000},
    {"zones": [{"name": "etc", "mode": "rw", "hostPath": "/etc"}]},
]


def test_widening_arguments_refused(client_dir, tmp, zones):
    cfg = basic_config(tmp, zones, "  limits: {memory: 256m, wall_time: 30s, pids: 64}\n"
                                   "  network: {allow: [pypi.org:443]}\n")
    res = drive(client_dir, cfg, "widen", json.dumps(WIDENING))["results"]
    for args, r in zip(WIDENING, res):
        assert r["isError"] is True, (args, r)
        assert "structuredContent" not in r, (args, r)  # nothing ran
    texts = [r["content"][0]["text"] for r in res]
    assert "widen" in texts[0] and "not in the server's network.allow" in texts[1], texts
    assert "widen" in texts[2] and "widen" in texts[4] and "widen" in texts[5], texts
    assert "unknown argument" in texts[7], texts
    # Narrowing is fine.
    ok = drive(client_dir, cfg, "widen", json.dumps([{"memory": "64m", "timeout": "5s", "network": "none"},
                                                     {"network": ["pypi.org:443"], "pids": 32}]))["results"]
    for r in ok:
        assert r["isError"] is False and verdict(r)["status"] == "exited", r


# ---------------------------------------------------------------- files

def test_file_tools_stay_in_their_zones(client_dir, tmp, zones):
    out = drive(client_dir, basic_config(tmp, zones), "files")
    assert out["ro"]["isError"] is True and not os.path.exists(os.path.join(zones[0], "x.txt"))
    assert out["escape"]["isError"] is True and "root:" not in json.dumps(out["escape"])
    assert out["symlink"]["isError"] is True and "root:" not in json.dumps(out["symlink"]), out["symlink"]
    assert out["device"]["isError"] is True and "regular" in out["device"]["content"][0]["text"]
    # A symlink in the middle of the path leads nowhere (openat2's RESOLVE_*).
    assert out["dirlink"]["isError"] is True and "root:" not in json.dumps(out["dirlink"]), out["dirlink"]
    assert out["write_out"]["isError"] is True, out["write_out"]
    assert out["list_out"]["isError"] is True, out["list_out"]
    outside = os.readlink(os.path.join(zones[1], "esc"))
    assert os.listdir(outside) == []
    assert verdict(out["read"])["content"] == "hello\n"
    assert out["write"]["isError"] is False
    assert open(os.path.join(zones[1], "sub", "new.txt")).read() == "written"
    assert [e["name"] for e in verdict(out["list"])["entries"]] == ["new.txt"]
    assert {e["name"]: e["mode"] for e in verdict(out["zones"])["entries"]} == {"/input": "ro", "/output": "rw"}


# ---------------------------------------------------------------- sessions

def test_session_keeps_state(client_dir, tmp, zones):
    name = "mcp-test-%d" % os.getpid()
    out = drive(client_dir, basic_config(tmp, zones), "session", name)
    assert out["start"]["isError"] is False, out["start"]
    assert verdict(out["write"])["status"] == "exited", out["write"]
    assert verdict(out["read"])["stdout"] == "kept\n", out["read"]
    assert [s.get("name") for s in verdict(out["list"])["sessions"]] == [name], out["list"]
    assert out["stop"]["isError"] is False, out["stop"]
    assert out["after"]["isError"] is True  # stopped: no longer one of ours
    r = subprocess.run([ZONEBOX, "session", "list"], capture_output=True, text=True, timeout=30)
    assert name not in r.stdout


def test_sessions_stopped_when_the_client_goes(client_dir, tmp, zones):
    name = "mcp-left-%d" % os.getpid()
    out = drive(client_dir, basic_config(tmp, zones), "session_left", name)
    assert out["start"]["isError"] is False, out["start"]
    r = subprocess.run([ZONEBOX, "session", "list"], capture_output=True, text=True, timeout=30)
    assert name not in r.stdout, r.stdout


# ---------------------------------------------------------------- cow review

def cow_config(tmp):
    host = tmp.mkdir("work", mode=0o777)
    store = tmp.mkdir("store", mode=0o700)
    return host, config(tmp, "sandbox:\n  cow_dir: %s\n  zones:\n    - {name: work, mode: cow, hostPath: %s}\n"
                             % (store, host))


def test_cow_commit_only_after_elicitation_accepted(client_dir, tmp):
    host, cfg = cow_config(tmp)
    out = drive(client_dir, cfg, "cow", elicit="decline")
    assert verdict(out["run"])["status"] == "exited" and verdict(out["run"])["cow_id"], out["run"]
    cid = verdict(out["run"])["cow_id"]
    assert [c["id"] for c in verdict(out["list"])["change_sets"]] == [cid], out["list"]
    assert "new.txt" in json.dumps(verdict(out["diff"])), out["diff"]
    assert out["commit"]["isError"] is True and len(out["elicited"]) == 1, out
    assert not os.path.exists(os.path.join(host, "new.txt"))
    assert out["foreign"]["isError"] is True and "not a change set" in out["foreign"]["content"][0]["text"]

    out = drive(client_dir, cfg, "cow", elicit="accept")
    assert out["commit"]["isError"] is False, out["commit"]
    assert "new.txt" in out["elicited"][0]
    assert open(os.path.join(host, "new.txt")).read() == "changed\n"


def test_cow_commit_refused_without_elicitation(client_dir, tmp):
    host, cfg = cow_config(tmp)
    out = drive(client_dir, cfg, "cow", elicit="none")
    assert out["commit"]["isError"] is True and "elicitation" in out["commit"]["content"][0]["text"]
    assert not os.path.exists(os.path.join(host, "new.txt"))


def test_cow_commit_allowed_by_config(client_dir, tmp):
    host, cfg = cow_config(tmp)
    with open(cfg, "a") as f:
        f.write("mcp:\n  commit: allow\n")
    out = drive(client_dir, cfg, "cow", elicit="none")
    assert out["commit"]["isError"] is False, out["commit"]
    assert open(os.path.join(host, "new.txt")).read() == "changed\n"


def test_cow_action_commit_needs_mcp_commit_allow(tmp):
    _, cfg = cow_config(tmp)
    with open(cfg, "a") as f:
        f.write("  cow_action: commit\n")
    r = subprocess.run([ZONEBOX, "mcp", "--config", cfg], input="", capture_output=True, text=True, timeout=30)
    assert r.returncode == 125 and "mcp: {commit: allow}" in r.stderr and r.stdout == ""


# ---------------------------------------------------------------- approval

def ask_config(tmp, zones, log):
    return basic_config(tmp, zones, "  approval: {default: ask, allow: ['echo *']}\n  audit: {log: %s}\n" % log)


@pytest.mark.parametrize("elicit,status", [("accept", "exited"), ("decline", "denied"), ("none", "denied")])
def test_approval_ask_is_an_elicitation(client_dir, tmp, zones, elicit, status):
    log = os.path.join(tmp.mkdir("log", mode=0o700), "audit.log")
    out = drive(client_dir, ask_config(tmp, zones, log), "ask", elicit=elicit)
    assert verdict(out["allowed"])["status"] == "exited" and out["elicited"] == [] or elicit != "none"
    assert verdict(out["asked"])["status"] == status, out["asked"]
    if elicit != "none":
        assert len(out["elicited"]) == 1 and "ls" in out["elicited"][0], out["elicited"]
    lines = [json.loads(l) for l in open(log)]
    calls = [l for l in lines if l["event"] == "mcp"]
    assert [(l["tool"], l["outcome"]) for l in calls] == [("run", "started"), ("run", "ok"),
                                                          ("run", "started"), ("run", "ok" if status == "exited" else "error")], calls
    assert any(l["event"] == "decision" for l in lines)


# ---------------------------------------------------------------- cancellation, progress

def test_cancel_kills_the_sandbox_within_a_second(client_dir, tmp, zones):
    arg = unique_sleep_arg()
    before = set(zonebox_cgroups())
    out = drive(client_dir, basic_config(tmp, zones), "cancel", arg)
    assert out["started"], out
    assert out["call"] == "aborted"
    assert out["gone_ms"] < 1000 and out["left"] == [], out
    assert out["ping_after"] == {}  # the server goes on serving
    assert poll(lambda: set(zonebox_cgroups()) <= before, timeout=5), set(zonebox_cgroups()) - before


def test_progress_notifications_for_long_runs(client_dir, tmp, zones):
    out = drive(client_dir, basic_config(tmp, zones), "progress")
    assert verdict(out["run"])["status"] == "exited"
    assert len(out["progress"]) >= 2 and out["progress"][0]["progress"] > 0, out["progress"]


# ---------------------------------------------------------------- the protocol itself

def raw(cfg, lines, wait=0.5):
    p = subprocess.Popen([ZONEBOX, "mcp", "--config", cfg], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    for l in lines:
        p.stdin.write(l if isinstance(l, bytes) else l.encode())
        p.stdin.flush()
    time.sleep(wait)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    return [json.loads(l) for l in out.decode().splitlines()]  # every stdout line is a message


def test_protocol_errors_answered_and_server_keeps_serving(tmp, zones):
    cfg = basic_config(tmp, zones)
    init = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                       "params": {"protocolVersion": "2024-11-05", "capabilities": {},
                                  "clientInfo": {"name": "raw", "version": "0"}}}) + "\n"
    msgs = raw(cfg, [
        init,
        "{not json\n",
        b"\xff\xfe\x00garbage\n",
        '[{"jsonrpc":"2.0","id":2,"method":"ping"}]\n',
        '{"jsonrpc":"1.0","id":3,"method":"ping"}\n',
        '{"jsonrpc":"2.0","id":4,"method":"no/such"}\n',
        '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"nope"}}\n',
        '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"run","arguments":[1]}}\n',
        '{"jsonrpc":"2.0","id":7,"method":"initialize","params":{}}\n',
        '{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}\n',
        '"just a string"\n',
        '{"jsonrpc":"2.0","method":"notifications/initialized"}\n',
        '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":999}}\n',
        '{"jsonrpc":"2.0","id":8,"method":"ping"}\n',
    ])
    by_id = {m.get("id"): m for m in msgs if m.get("id") is not None}
    assert by_id[1]["result"]["protocolVersion"] == "2024-11-05"
    codes = [m["error"]["code"] for m in msgs if m.get("id") is None]
    assert codes.count(-32700) == 2 and codes.count(-32600) >= 3, msgs
    assert by_id[3]["error"]["code"] == -32600
    assert by_id[4]["error"]["code"] == -32601
    assert by_id[5]["error"]["code"] == -32602 and by_id[6]["error"]["code"] == -32602
    assert by_id[7]["error"]["code"] == -32602
    assert by_id[8]["result"] == {}
    assert len(msgs) == 12, msgs  # the notifications got no answer


def test_unknown_protocol_version_gets_ours(tmp, zones):
    msgs = raw(basic_config(tmp, zones), [json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "1999-01-01", "capabilities": {}, "clientInfo": {"name": "x", "version": "0"}}}) + "\n"])
    assert msgs[0]["result"]["protocolVersion"] == "2025-11-25"


def test_overlong_line_skipped(tmp, zones):
    big = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"' + b"a" * (33 << 20) + b'"}}\n'
    msgs = raw(basic_config(tmp, zones), [big, '{"jsonrpc":"2.0","id":2,"method":"ping"}\n'], wait=1)
    assert msgs[0]["error"]["code"] == -32700 and msgs[1] == {"jsonrpc": "2.0", "id": 2, "result": {}}, msgs


def test_bad_config_and_flags(tmp):
    cfg = config(tmp, "sandbox: {}\nmcp: {commit: maybe}\n")
    r = subprocess.run([ZONEBOX, "mcp", "--config", cfg], input="", capture_output=True, text=True, timeout=30)
    assert r.returncode == 125 and "mcp.commit" in r.stderr and r.stdout == ""
    r = subprocess.run([ZONEBOX, "mcp"], input="", capture_output=True, text=True, timeout=30)
    assert r.returncode == 125 and "--config" in r.stderr
    r = subprocess.run([ZONEBOX, "mcp", "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "session_exec" in r.stdout


def test_stdin_closed_while_running_leaves_nothing(tmp, zones):
    arg = unique_sleep_arg()
    p = subprocess.Popen([ZONEBOX, "mcp", "--config", basic_config(tmp, zones)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write((json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                               "params": {"name": "run", "arguments": {"command": ["sleep", arg]}}}) + "\n").encode())
    p.stdin.flush()
    assert poll(lambda: pids_with_arg(arg), timeout=10)
    p.stdin.close()
    p.wait(timeout=10)
    assert p.returncode == 0
    assert poll(lambda: not pids_with_arg(arg), timeout=5)
