"""zonebox serve against a real server process (build/zonebox-serve, started
through `zonebox serve`), over its unix socket and over TCP, with python's
http.client. Each test makes real sandboxes through the HTTP API and checks
their effects on the host too: the processes left, the cgroups, the socket
file. The runtimes and Piston endpoints are tested when the server has them
built in (wt-piston's src/serve/runtimes.c); before that they say skipped."""

import http.client
import json
import os
import signal
import socket
import stat
import subprocess
import threading
import time

import pytest

from conftest import ZONEBOX, pids_with_arg, poll, unique_sleep_arg, zonebox_cgroups

SERVE_BIN = os.path.join(os.path.dirname(ZONEBOX), "zonebox-serve")
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOKEN_A = "token-a-0123456789abcdef"
TOKEN_B = "token-b-0123456789abcdef"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Server:
    """A zonebox serve process with CONFIG (YAML text) in its own dir."""

    def __init__(self, tmp, config="", tcp=True, tokens=(TOKEN_A, TOKEN_B), extra=()):
        self.dir = tmp.mkdir("serve", mode=0o700)
        self.config = os.path.join(self.dir, "serve.yaml")
        with open(self.config, "w") as f:
            f.write(config or "sandbox:\n  limits:\n    wall_time: 30s\n")
        args = [ZONEBOX, "serve", "--config", self.config]
        self.port = self.sock = None
        if tokens:
            tf = os.path.join(self.dir, "tokens")
            with open(tf, "w") as f:
                f.write("\n".join(tokens) + "\n")
            args += ["--token-file", tf]
        if tcp:
            self.port = free_port()
            args += ["--listen", "127.0.0.1:%d" % self.port]
        else:
            self.sock = os.path.join(self.dir, "serve.sock")
            args += ["--socket", self.sock]
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.proc = subprocess.Popen(args + list(extra), stdout=self.log, stderr=subprocess.STDOUT)
        assert poll(self._up, timeout=10), self.output()

    def _up(self):
        if self.proc.poll() is not None:
            return True
        try:
            return self.request("GET", "/v1/health", token=None)[0] in (200, 503)
        except OSError:
            return False

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def connection(self, timeout=30):
        if self.port:
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        return UnixHTTPConnection(self.sock, timeout=timeout)

    def request(self, method, path, body=None, token=TOKEN_A, raw=None, timeout=60):
        c = self.connection(timeout)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        c.request(method, path, body=data, headers=headers)
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        try:
            payload = json.loads(text)
        except ValueError:
            payload = text
        return r.status, dict(r.getheaders()), payload

    def run(self, command, token=TOKEN_A, **fields):
        fields["command"] = command
        return self.request("POST", "/v1/runs", fields, token=token)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def serve(tmp):
    started = []

    def start(*a, **kw):
        s = Server(tmp, *a, **kw)
        started.append(s)
        return s
    yield start
    for s in started:
        s.stop()


def runtimes_built():
    with open(SERVE_BIN, "rb") as f:
        return b"srv_runtimes_load" in f.read()


# ---------------------------------------------------------------- listening, auth

def test_unix_socket_is_0600_and_runs(serve):
    s = serve(tcp=False, tokens=())
    assert stat.S_IMODE(os.stat(s.sock).st_mode) == 0o600
    status, _, v = s.run(["sh", "-c", "echo hi; echo err >&2; exit 3"])
    assert status == 200, v
    assert (v["status"], v["exit_code"], v["stdout"], v["stderr"]) == ("exited", 3, "hi\n", "err\n")
    assert "violations" in v and "layers" in v
    assert s.stop() == 0
    assert not os.path.exists(s.sock)  # removed at shutdown


def test_command_string_and_stdin_and_env(serve):
    s = serve()
    status, _, v = s.run("cat; echo $GREETING", stdin="from stdin\n", env={"GREETING": "hello"})
    assert status == 200, v
    assert v["stdout"] == "from stdin\nhello\n"


def test_tcp_needs_the_token(serve):
    s = serve()
    status, headers, v = s.run(["true"], token=None)
    assert status == 401 and headers.get("WWW-Authenticate") == "Bearer", (status, v)
    assert s.run(["true"], token="token-x-0123456789abcdef")[0] == 401
    assert s.run(["true"], token=TOKEN_B)[0] == 200
    assert s.request("GET", "/metrics", token=None)[0] == 401
    assert s.request("GET", "/v1/health", token=None)[0] == 200  # probes need no token


def test_listen_without_token_is_refused(tmp):
    d = tmp.mkdir("serve")
    r = subprocess.run([ZONEBOX, "serve", "--listen", "127.0.0.1:%d" % free_port()], capture_output=True,
                       text=True, timeout=30, cwd=d)
    assert r.returncode == 125 and "--listen" in r.stderr and "token" in r.stderr, r.stderr


@pytest.mark.parametrize("args,word", [(["--bogus"], "--bogus"), (["--socket", "/x", "--listen", "1.2.3.4:5"], "--socket"),
                                       (["--listen", "nonsense"], "--listen")])
def test_bad_flags_exit_125(tmp, args, word):
    d = tmp.mkdir("serve")
    tf = os.path.join(d, "t")
    open(tf, "w").write(TOKEN_A + "\n")
    r = subprocess.run([ZONEBOX, "serve", "--token-file", tf] + args, capture_output=True, text=True, timeout=30, cwd=d)
    assert r.returncode == 125 and word in r.stderr, r.stderr


def test_bad_serve_config_names_the_key(tmp):
    d = tmp.mkdir("serve")
    cfg = os.path.join(d, "c.yaml")
    open(cfg, "w").write("sandbox: {}\nserve:\n  workers: lots\n")
    r = subprocess.run([ZONEBOX, "serve", "--config", cfg], capture_output=True, text=True, timeout=30)
    assert r.returncode == 125 and "serve.workers" in r.stderr, r.stderr
    open(cfg, "w").write("sandbox: {}\nserve:\n  wokers: 2\n")
    r = subprocess.run([ZONEBOX, "serve", "--config", cfg], capture_output=True, text=True, timeout=30)
    assert r.returncode == 125 and "serve.wokers: unknown key" in r.stderr, r.stderr


def test_help_lists_every_endpoint():
    r = subprocess.run([ZONEBOX, "serve", "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    for word in ("/v1/runs", "/v1/sessions", "/api/v2/execute", "/metrics", "--listen", "--token-file",
                 "drain_timeout", "body_limit"):
        assert word in r.stdout, word


# ---------------------------------------------------------------- bad requests, narrowing

def test_malformed_json_is_400_naming_the_body(serve):
    s = serve()
    status, _, v = s.request("POST", "/v1/runs", raw='{"command":')
    assert status == 400 and v["message"].startswith("body:"), v
    status, _, v = s.request("POST", "/v1/runs", raw='[1,2]')
    assert status == 400 and "body" in v["message"], v


@pytest.mark.parametrize("fields,code,word", [
    ({"zones": [{"name": "x", "mode": "rw", "hostPath": "/etc"}]}, 403, "zones"),
    ({"limits": {"timeout": "100s"}}, 403, "timeout"),
    ({"limits": {"memory": "100G"}}, 403, "memory"),
    ({"network": "host"}, 403, "network"),
    ({"hostPath": "/etc"}, 400, "hostPath"),
    ({"limits": {"disk": "1G"}}, 400, "limits.disk"),
    ({"env": ["A=1"]}, 400, "env"),
    ({"stdin": 5}, 400, "stdin"),
])
def test_requests_only_narrow(serve, fields, code, word):
    s = serve("sandbox:\n  limits:\n    wall_time: 30s\n    memory: 512M\n")
    status, _, v = s.run(["true"], **fields)
    assert status == code and word in v["message"], (status, v)


def test_command_is_required(serve):
    s = serve()
    status, _, v = s.request("POST", "/v1/runs", {"stdin": "x"})
    assert status == 400 and "command" in v["message"], v


def test_a_narrower_limit_applies(serve):
    s = serve()
    status, _, v = s.run(["sleep", "5"], limits={"timeout": "500ms"})
    assert status == 200 and v["status"] == "timeout", v


def test_body_limit_413(serve):
    s = serve("sandbox: {}\nserve:\n  body_limit: 1k\n")
    status, _, v = s.run(["true"], stdin="x" * 2000)
    assert status == 413 and "body_limit" in v["message"], v
    assert s.run(["true"], stdin="x" * 100)[0] == 200  # the server goes on


def test_slow_client_gets_408(serve):
    s = serve("sandbox: {}\nserve:\n  request_timeout: 1s\n")
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    body = b'{"command":["true"]}'
    c.sendall(b"POST /v1/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n"
              % (TOKEN_A.encode(), len(body)))
    got = b""
    for ch in body:  # one byte every 0.2 s: slower than the 1 s the whole request has
        try:
            c.sendall(bytes([ch]))
        except OSError:
            break
        time.sleep(0.2)
        c.setblocking(False)
        try:
            got += c.recv(4096)
        except BlockingIOError:
            pass
        c.setblocking(True)
        if got:
            break
    c.settimeout(5)
    try:
        got += c.recv(4096)
    except OSError:
        pass
    c.close()
    assert got.startswith(b"HTTP/1.1 408"), got
    assert s.run(["true"])[0] == 200


def test_rate_limit_429_with_retry_after(serve):
    s = serve("sandbox: {}\nserve:\n  rate: 0.5\n  burst: 2\n")
    codes = [s.request("GET", "/metrics")[0] for _ in range(2)]
    status, headers, v = s.request("GET", "/metrics")
    assert codes == [200, 200] and status == 429, (codes, status, v)
    assert int(headers["Retry-After"]) >= 1
    assert s.request("GET", "/metrics", token=TOKEN_B)[0] == 200  # per token


# ---------------------------------------------------------------- queue, async runs, cancellation

def test_queue_full_429_then_cancel_leaves_nothing(serve):
    before = set(zonebox_cgroups())
    s = serve("sandbox:\n  limits:\n    wall_time: 60s\nserve:\n  workers: 1\n  queue: 1\n")
    arg = unique_sleep_arg()
    ids = []
    for _ in range(2):
        status, _, v = s.request("POST", "/v1/runs?wait=false", {"command": ["sleep", arg]})
        assert status == 202, v
        ids.append(v["id"])
    status, headers, v = s.request("POST", "/v1/runs?wait=false", {"command": ["sleep", arg]})
    assert status == 429 and headers.get("Retry-After") == "1", (status, v)
    assert poll(lambda: len(pids_with_arg(arg)) == 1, timeout=10), pids_with_arg(arg)  # one runs, one waits
    assert s.request("GET", "/v1/runs/" + ids[1])[2]["state"] == "queued"
    for i in ids:
        status, _, v = s.request("DELETE", "/v1/runs/" + i)
        assert status == 200 and v["state"] == "cancelled", v
    assert poll(lambda: not pids_with_arg(arg), timeout=2), pids_with_arg(arg)
    assert poll(lambda: set(zonebox_cgroups()) <= before, timeout=5), set(zonebox_cgroups()) - before
    assert s.request("GET", "/v1/runs/" + ids[0])[2]["state"] == "cancelled"
    metrics = s.request("GET", "/metrics")[2]
    assert 'zonebox_rejected_requests_total{reason="queue_full"} 1' in metrics
    assert 'zonebox_runs_total{status="cancelled"} 2' in metrics


def test_async_run_polled_until_done(serve):
    s = serve()
    status, _, v = s.request("POST", "/v1/runs?wait=false", {"command": ["sh", "-c", "sleep 0.5; echo done"]})
    assert status == 202 and v["state"] in ("queued", "running"), v
    rid = v["id"]
    assert s.request("GET", "/v1/runs/" + rid)[0] == 202
    assert poll(lambda: s.request("GET", "/v1/runs/" + rid)[0] == 200, timeout=20)
    v = s.request("GET", "/v1/runs/" + rid)[2]
    assert v["status"] == "exited" and v["stdout"] == "done\n", v
    assert s.request("GET", "/v1/runs/" + rid, token=TOKEN_B)[0] == 404  # another token's run
    assert s.request("DELETE", "/v1/runs/" + rid, token=TOKEN_B)[0] == 404
    assert s.request("GET", "/v1/runs/ffffffffffffffff")[0] == 404


def test_client_gone_leaves_the_server_serving(serve):
    s = serve()
    arg = unique_sleep_arg()
    c = s.connection(timeout=2)
    c.request("POST", "/v1/runs", body=json.dumps({"command": ["sleep", arg]}),
              headers={"Authorization": "Bearer " + TOKEN_A})
    assert poll(lambda: pids_with_arg(arg), timeout=10)
    c.close()
    # MHD notices the closed connection once the answer is written, so the
    # run goes on until then: the server stays up and answers the next.
    assert s.request("GET", "/v1/health")[0] == 200
    s.stop(signal.SIGTERM)
    assert poll(lambda: not pids_with_arg(arg), timeout=40)


# ---------------------------------------------------------------- sessions

def test_sessions_belong_to_their_token(serve):
    s = serve()
    status, _, v = s.request("POST", "/v1/sessions", {})
    assert status == 200, v
    sid = v["id"]
    status, _, v = s.request("POST", "/v1/sessions/%s/exec" % sid, {"command": "echo kept > /tmp/f"})
    assert status == 200 and v["status"] == "exited", v
    status, _, v = s.request("POST", "/v1/sessions/%s/exec" % sid, {"command": ["cat", "/tmp/f"]})
    assert status == 200 and v["stdout"] == "kept\n", v
    assert s.request("POST", "/v1/sessions/%s/exec" % sid, {"command": ["true"]}, token=TOKEN_B)[0] == 404
    assert s.request("DELETE", "/v1/sessions/%s" % sid, token=TOKEN_B)[0] == 404
    status, _, v = s.request("POST", "/v1/sessions/%s/exec" % sid, {"command": ["true"], "limits": {"memory": "1M"}})
    assert status == 400 and "limits.memory" in v["message"], v
    assert s.request("DELETE", "/v1/sessions/%s" % sid)[0] == 200
    assert s.request("POST", "/v1/sessions/%s/exec" % sid, {"command": ["true"]})[0] == 404


def test_sessions_are_stopped_with_the_server(serve):
    s = serve()
    sid = s.request("POST", "/v1/sessions", {})[2]["id"]
    listed = subprocess.run([ZONEBOX, "session", "list", "--json"], capture_output=True, text=True, timeout=30)
    assert sid in listed.stdout, listed.stdout
    assert s.stop() == 0
    listed = subprocess.run([ZONEBOX, "session", "list", "--json"], capture_output=True, text=True, timeout=30)
    assert sid not in listed.stdout, listed.stdout


# ---------------------------------------------------------------- metrics

def test_metrics_lines(serve):
    s = serve()
    assert s.run(["true"])[0] == 200
    assert s.run(["sh", "-c", "exit 1"])[0] == 200
    s.run(["true"], token=None)
    status, headers, text = s.request("GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain"), headers
    lines = text.splitlines()
    assert 'zonebox_runs_total{status="exited"} 2' in lines
    assert 'zonebox_run_duration_seconds_count 2' in lines
    assert 'zonebox_run_duration_seconds_bucket{le="+Inf"} 2' in lines
    assert "zonebox_queue_length 0" in lines and "zonebox_running_sandboxes 0" in lines
    assert 'zonebox_rejected_requests_total{reason="unauthorized"} 1' in lines
    for line in lines:
        assert line.startswith("#") or line.split(" ")[0].startswith("zonebox_"), line


# ---------------------------------------------------------------- shutdown

def test_sigterm_lets_running_jobs_finish(serve):
    s = serve("sandbox: {}\nserve:\n  drain_timeout: 20s\n")
    out = {}

    def client():
        out["r"] = s.run(["sh", "-c", "sleep 1.5; echo finished"])
    t = threading.Thread(target=client)
    t.start()
    assert poll(lambda: s.request("GET", "/v1/health")[2]["running"] == 1, timeout=10)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    with pytest.raises(OSError):  # no longer accepting
        s.request("GET", "/v1/health", timeout=2)
    t.join(30)
    status, _, v = out["r"]
    assert status == 200 and v["stdout"] == "finished\n", v
    assert s.proc.wait(20) == 0


def test_sigterm_kills_what_outlives_the_drain_timeout(serve):
    before = set(zonebox_cgroups())
    s = serve("sandbox: {}\nserve:\n  drain_timeout: 1s\n")
    arg = unique_sleep_arg()
    out = {}
    t = threading.Thread(target=lambda: out.update(r=s.run(["sleep", arg])))
    t.start()
    assert poll(lambda: pids_with_arg(arg), timeout=10)
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(15) == 0
    assert time.monotonic() - t0 < 6
    t.join(10)
    assert out["r"][0] == 503 and "drain_timeout" in out["r"][2]["message"], out
    assert not pids_with_arg(arg)
    assert poll(lambda: set(zonebox_cgroups()) <= before, timeout=5), set(zonebox_cgroups()) - before


def test_sigkill_of_the_server_leaves_no_process(serve):
    before = set(zonebox_cgroups())
    s = serve(tcp=False, tokens=())
    arg = unique_sleep_arg()
    for _ in range(2):
        assert s.request("POST", "/v1/runs?wait=false", {"command": ["sleep", arg]})[0] == 202
    assert poll(lambda: len(pids_with_arg(arg)) == 2, timeout=10), pids_with_arg(arg)
    workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(s.proc.pid)], capture_output=True,
                                              text=True).stdout.split()]
    assert len(workers) == 2, workers
    s.proc.kill()
    s.proc.wait()
    assert poll(lambda: not pids_with_arg(arg), timeout=5), pids_with_arg(arg)
    assert poll(lambda: not [w for w in workers if os.path.exists("/proc/%d" % w)], timeout=5)
    # The cgroups of sandboxes whose supervisor was SIGKILLed are collected
    # by the next run or zonebox gc (docs/serve.md), as for zonebox run.
    subprocess.run([ZONEBOX, "gc"], capture_output=True, timeout=30)
    assert poll(lambda: set(zonebox_cgroups()) <= before, timeout=5), set(zonebox_cgroups()) - before
    # A stale socket file does not stop the next server.
    again = serve(tcp=False, tokens=())
    assert again.run(["true"])[0] == 200


# ---------------------------------------------------------------- runtimes, Piston (wt-piston's, after the merge)

@pytest.fixture
def piston_server(serve):
    if not runtimes_built():
        pytest.skip("runtimes not built: srv_runtimes_load is not in zonebox-serve")
    with open(os.path.join(REPO, "examples", "serve.yaml")) as f:
        return serve(f.read())


def test_runtimes_listed(piston_server):
    status, _, v = piston_server.request("GET", "/v1/runtimes")
    assert status == 200 and v, v
    status, _, v = piston_server.request("GET", "/api/v2/runtimes")
    assert status == 200 and any(r.get("language") == "python3" and "python" in r.get("aliases", [])
                                 for r in v), v


def test_runtime_run_and_piston_execute(piston_server):
    status, _, v = piston_server.request("POST", "/api/v2/execute", {
        "language": "python", "version": "*", "files": [{"content": "print(6*7)"}]})
    assert status == 200 and v["run"]["stdout"] == "42\n" and v["run"]["code"] == 0, v
    status, _, v = piston_server.request("POST", "/v1/runs", {
        "runtime": "python", "files": [{"name": "main.py", "content": "print(6*7)"}]})
    assert status == 200 and v["stdout"] == "42\n", v
    status, _, v = piston_server.request("POST", "/v1/runs", {
        "runtime": "python", "files": [{"content": "print(1)"}], "zones": []})
    assert status in (400, 403), v
