"""network.allow: the sandbox keeps its loopback-only namespace and reaches
allowed host:port pairs only through zonebox's proxy outside.

Only local servers: threaded HTTP servers on the host's 127.0.0.1 with
ephemeral ports, named inside through --add-host / network.hosts."""

import hashlib
import http.server
import json
import os
import signal
import socketserver
import subprocess
import threading

import pytest

from conftest import NOBODY, RUN_TIMEOUT, ZONEBOX, accepted_nothing, host_ipv4, poll, tcp_listener

BIG_BYTES = 4 << 20


def big_body():
    return hashlib.sha256(b"zonebox").digest() * (BIG_BYTES // 32)


class Server:
    """A threaded HTTP server on 127.0.0.1 that records what reached it."""

    def __init__(self, name):
        self.name = name
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, body, ctype="text/plain"):
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self):
                outer.requests.append((self.command, self.path, dict(self.headers)))
                if self.path == "/big":
                    self._send(big_body(), "application/octet-stream")
                else:
                    self._send(("%s says hello to %s" % (outer.name, self.path)).encode())

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                data = self.rfile.read(n)
                outer.requests.append((self.command, self.path, dict(self.headers)))
                self._send(hashlib.sha256(data).hexdigest().encode())

        class TServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.httpd = TServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.daemon = True
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def servers():
    a, b = Server("allowed"), Server("other")
    yield a, b
    a.close()
    b.close()


def allow_args(srv):
    return ["--net-allow", "allowed.test:%d" % srv.port, "--add-host", "allowed.test:127.0.0.1",
            "--add-host", "other.test:127.0.0.1"]


# Runs inside the sandbox: requests through the proxy, by the usual clients
# (urllib reads http_proxy; http.client's set_tunnel sends CONNECT) and raw.
CLIENT = r"""
import http.client, json, os, socket, sys, urllib.error, urllib.request
args = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
out = {"env": {k: v for k, v in os.environ.items() if "proxy" in k.lower()}}
PROXY = ("127.0.0.1", int(args.get("proxy_port", 3128)))

def urlget(url):
    try:
        with urllib.request.urlopen(url, timeout=20) as r:
            return [r.status, r.read().decode()]
    except urllib.error.HTTPError as e:
        return [e.code, e.read().decode()]
    except Exception as e:
        return ["error", repr(e)]

def tunnel(host, port, path):
    c = http.client.HTTPConnection(*PROXY, timeout=20)
    c.set_tunnel(host, port)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return [r.status, r.read().decode()]
    except OSError as e:
        return ["error", str(e)]
    finally:
        c.close()

def raw(request):
    s = socket.create_connection(PROXY, timeout=20)
    s.sendall(request.encode())
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return [int(head.split()[1]), body.decode(errors="replace")]

def direct(host, port):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    s.settimeout(5)
    try:
        s.connect((host, port))
        return "connected"
    except OSError as e:
        return e.errno
    finally:
        s.close()

for name, call in args.get("calls", []):
    out[name] = globals()[call[0]](*call[1:])
print(json.dumps(out))
"""


def client(zb, tmp, calls, *flags, proxy_port=3128):
    d = tmp.script_dir(CLIENT)
    r = zb.run("-v", d + ":/input:ro", *flags, "--", "python3", "/input/test.py",
               json.dumps({"calls": calls, "proxy_port": proxy_port}))
    assert r.rc == 0, r
    return json.loads(r.stdout)


def test_allowed_name_works_plain_and_connect(zb, tmp, servers):
    a, b = servers
    url = "http://allowed.test:%d/hello?x=1" % a.port
    out = client(zb, tmp, [["plain", ["urlget", url]],
                           ["tunnel", ["tunnel", "allowed.test", a.port, "/tunnelled"]]],
                 *allow_args(a))
    assert out["plain"] == [200, "allowed says hello to /hello?x=1"], out
    assert out["tunnel"] == [200, "allowed says hello to /tunnelled"], out
    # The server got origin-form requests with the URL's Host and no Proxy-* headers.
    assert [(m, p) for m, p, _ in a.requests] == [("GET", "/hello?x=1"), ("GET", "/tunnelled")]
    plain_headers = {k.lower(): v for k, v in a.requests[0][2].items()}
    assert plain_headers["host"] == "allowed.test:%d" % a.port
    assert plain_headers["connection"] == "close"
    assert not any(k.startswith("proxy-") for k in plain_headers), plain_headers
    assert b.requests == []


def test_other_names_and_ports_refused(zb, tmp, servers):
    a, b = servers
    out = client(zb, tmp, [
        ["other_plain", ["urlget", "http://other.test:%d/" % b.port]],
        ["other_tunnel", ["tunnel", "other.test", b.port, "/"]],
        ["wrong_port", ["urlget", "http://allowed.test:%d/" % b.port]],
        ["other_raw", ["raw", "CONNECT other.test:%d HTTP/1.1\r\n\r\n" % b.port]],
        ["ip_raw", ["raw", "GET http://127.0.0.1:%d/ HTTP/1.1\r\n\r\n" % b.port]],
    ], *allow_args(a))
    assert out["other_plain"][0] == 403, out
    assert "other.test:%d is not in network.allow" % b.port in out["other_plain"][1]
    assert out["other_tunnel"][0] == "error" and "403" in out["other_tunnel"][1], out
    assert out["wrong_port"][0] == 403, out
    assert out["other_raw"][0] == 403 and "not in network.allow" in out["other_raw"][1], out
    assert out["ip_raw"][0] == 403, out
    assert b.requests == [] and a.requests == []


def test_name_from_dns_to_loopback_refused(zb, tmp, servers):
    """localhost resolves (outside, /etc/hosts) to 127.0.0.1: allowed by name
    but not pinned, so the DNS-rebinding guard refuses it."""
    a, _ = servers
    out = client(zb, tmp, [["lo", ["raw", "GET http://localhost:%d/ HTTP/1.1\r\n\r\n" % a.port]],
                           ["lo_tunnel", ["raw", "CONNECT localhost:%d HTTP/1.1\r\n\r\n" % a.port]]],
                 "--net-allow", "localhost:%d" % a.port)
    for k in ("lo", "lo_tunnel"):
        assert out[k][0] == 403, out
        assert "loopback address 127.0.0.1" in out[k][1] and "network.hosts" in out[k][1], out
    assert a.requests == []


def test_ip_literal_and_pinned_config(zb, tmp, servers):
    """An allowed IP literal is reached as given; network.hosts in a config file."""
    a, b = servers
    cfg = os.path.join(tmp.mkdir("cfg"), "sb.yaml")
    with open(cfg, "w") as f:
        f.write("sandbox:\n  network:\n    allow: [\"127.0.0.1:%d\", \"*.pinned.test:%d\"]\n"
                "    hosts: {api.pinned.test: 127.0.0.1}\n" % (b.port, a.port))
    os.chmod(cfg, 0o644)
    out = client(zb, tmp, [["ip", ["raw", "GET http://127.0.0.1:%d/ip HTTP/1.1\r\n\r\n" % b.port]],
                           ["wild", ["raw", "GET http://API.pinned.test.:%d/w HTTP/1.1\r\n\r\n" % a.port]],
                           ["bare", ["raw", "GET http://pinned.test:%d/ HTTP/1.1\r\n\r\n" % a.port]]],
                 "--config", cfg)
    assert out["ip"] == [200, "other says hello to /ip"], out
    assert out["wild"] == [200, "allowed says hello to /w"], out
    assert out["bare"][0] == 403, out  # *.pinned.test is not pinned.test


def test_direct_connections_fail(zb, tmp, servers):
    """Nothing but the proxy leads out: the host's loopback and outside address
    are unreachable from the sandbox's own namespace."""
    a, _ = servers
    ip = host_ipv4()
    ext = tcp_listener(ip) if ip else None
    try:
        calls = [["lo", ["direct", "127.0.0.1", a.port]]]
        if ext:
            calls.append(["ext", ["direct", ip, ext.getsockname()[1]]])
        out = client(zb, tmp, calls, *allow_args(a))
        assert out["lo"] == 111, out  # ECONNREFUSED: nothing listens there in the sandbox
        if ext:
            assert out["ext"] in (101, 113), out  # ENETUNREACH / EHOSTUNREACH
            assert accepted_nothing(ext)
        assert a.requests == []
    finally:
        if ext:
            ext.close()


def test_environment_inside(zb, tmp, servers):
    a, _ = servers
    out = client(zb, tmp, [], *allow_args(a), "-e", "NO_PROXY=custom.test")
    env = out["env"]
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        assert env[k] == "http://127.0.0.1:3128", env
    assert env["no_proxy"] == "localhost,127.0.0.1,::1"
    assert env["NO_PROXY"] == "custom.test"  # the user's own wins
    # Without an allowlist: none of them.
    r = zb.run("--", "sh", "-c", "env | grep -ci proxy || true")
    assert r.stdout.strip() == "0", r


def test_proxy_port_and_large_transfers(zb, tmp, servers):
    """4 MiB down and 1 MiB up, intact, through a proxy on another port."""
    a, _ = servers
    code = r"""
import hashlib, http.client, json, os, urllib.request
port = int(os.environ["PORT"])
with urllib.request.urlopen("http://allowed.test:%d/big" % port, timeout=30) as r:
    down = hashlib.sha256(r.read()).hexdigest()
body = os.urandom(1 << 20)
c = http.client.HTTPConnection("127.0.0.1", 3999, timeout=30)
c.set_tunnel("allowed.test", port)
c.request("POST", "/echo", body=body)
up = c.getresponse().read().decode()
print(json.dumps({"down": down, "up_ok": up == hashlib.sha256(body).hexdigest(),
                  "proxy": os.environ["http_proxy"]}))
"""
    out = zb.py_json(tmp, code, *allow_args(a), "--proxy-port", "3999", "-e", "PORT=%d" % a.port)
    assert out["down"] == hashlib.sha256(big_body()).hexdigest()
    assert out["up_ok"] is True
    assert out["proxy"] == "http://127.0.0.1:3999"


def test_result_and_audit_log(zb, tmp, servers):
    a, b = servers
    logdir = tmp.mkdir("audit", owner=NOBODY)
    log = os.path.join(logdir, "audit.jsonl")
    d = tmp.script_dir(CLIENT)
    calls = [["ok", ["urlget", "http://allowed.test:%d/a" % a.port]],
             ["no", ["urlget", "http://other.test:%d/" % b.port]],
             ["bad", ["raw", "GET / HTTP/1.1\r\n\r\n"]]]
    r = zb.run("--json", "--audit-log", log, "-v", d + ":/input:ro", *allow_args(a), "--",
               "python3", "/input/test.py", json.dumps({"calls": calls}))
    j = r.json
    assert j["status"] == "exited" and j["exit_code"] == 0, r
    inner = json.loads(j["stdout"])
    assert inner["ok"][0] == 200 and inner["no"][0] == 403 and inner["bad"][0] == 400, inner
    assert j["network"] == {"mode": "allowlist", "proxy": {"allowed": 1, "refused": 1, "failed": 1}}
    assert "net" in j["layers"]["applied"]

    with open(log) as f:
        lines = [json.loads(line) for line in f]
    net = [x for x in lines if x["event"] in ("net", "net_close")]
    decision = next(x for x in lines if x["event"] == "decision")
    assert decision["network"] == "allowlist"
    allow = [x for x in net if x["event"] == "net" and x["decision"] == "allow"]
    deny = [x for x in net if x["event"] == "net" and x["decision"] == "deny"]
    error = [x for x in net if x["event"] == "net" and x["decision"] == "error"]
    close = [x for x in net if x["event"] == "net_close"]
    assert len(allow) == 1 and len(deny) == 1 and len(error) == 1 and len(close) == 1, net
    assert allow[0]["host"] == "allowed.test" and allow[0]["port"] == a.port
    assert allow[0]["rule"] == 'network.allow[0] "allowed.test:%d"' % a.port
    assert allow[0]["address"] == "127.0.0.1"
    assert deny[0]["host"] == "other.test" and deny[0]["status"] == 403
    assert "not in network.allow" in deny[0]["reason"]
    assert error[0]["status"] == 400 and error[0]["host"] is None
    assert close[0]["conn"] == allow[0]["conn"] and close[0]["bytes_down"] > 0 and close[0]["bytes_up"] > 0
    assert all(x["pid"] == decision["pid"] for x in net)


def proxies_of(pid):
    """Pids of zonebox-proxy processes whose parent is PID."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/status" % name) as f:
                st = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        except OSError:
            continue
        if st.get("Name") == "zonebox-proxy" and int(st.get("PPid", "0")) == pid:
            found.append(int(name))
    return found


def gone(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return any(line.startswith("State:\tZ") for line in f)
    except OSError:
        return True


def test_proxy_process_confined_and_gone_after_run(zb, servers):
    a, _ = servers
    p = zb.popen(*allow_args(a), "--", "head", "-c1", stdin=subprocess.PIPE)
    try:
        pids = poll(lambda: proxies_of(p.pid), timeout=10)
        assert len(pids) == 1, pids
        px = pids[0]
        with open("/proc/%d/status" % px) as f:
            st = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        assert st["Uid"].split() == [str(NOBODY)] * 4  # root's proxy runs as nobody; nobody's too
        assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0
        assert st["NoNewPrivs"] == "1"
        def fds_now():
            out = {}
            for n in os.listdir("/proc/%d/fd" % px):
                try:
                    out[int(n)] = os.readlink("/proc/%d/fd/%s" % (px, n))
                except FileNotFoundError:  # closed while we looked (setup still running)
                    pass
            return out
        # Once set up (the socket the listener came over closed): stdin,
        # stdout, stderr on /dev/null, the listener (a socket) and the
        # signalfd; no audit log here.
        fds = poll(lambda: (lambda f: f if len(f) == 5 else None)(fds_now()), timeout=10) or fds_now()
        assert all(fds.get(i) == "/dev/null" for i in (0, 1, 2)), fds
        assert len(fds) == 5, fds
        p.stdin.write(b"x")
        p.stdin.close()
        assert p.wait(RUN_TIMEOUT) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()
    assert gone(px)


def test_supervisor_killed_proxy_dies(zb, servers):
    a, _ = servers
    p = zb.popen(*allow_args(a), "--", "sleep", "60")
    try:
        pids = poll(lambda: proxies_of(p.pid), timeout=10)
        assert len(pids) == 1, pids
        os.kill(p.pid, signal.SIGKILL)
        p.wait(RUN_TIMEOUT)
        assert poll(lambda: gone(pids[0]), timeout=10), "the proxy outlived its supervisor"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()


BAD = [
    ("star", ["--net-allow", "*"], ["--net-allow", "'*'"]),
    ("bad-port", ["--net-allow", "x.test:99999"], ["--net-allow", "port"]),
    ("bad-wildcard", ["--net-allow", "a.*.test"], ["--net-allow", "first label"]),
    ("v6-unbracketed-port", ["--net-allow", "::1:443"], ["--net-allow", "brackets"]),
    ("with-host", ["--network", "host", "--net-allow", "x.test"], ["network.allow", "network: host"]),
    ("hosts-alone", ["--add-host", "x.test:127.0.0.1"], ["--add-host", "needs network.allow"]),
    ("bad-host-ip", ["--net-allow", "x.test", "--add-host", "x.test:nowhere"], ["--add-host", "x.test:nowhere"]),
    ("port-alone", ["--proxy-port", "3129"], ["network.proxy_port", "needs network.allow"]),
    ("docker", ["--backend", "docker", "--net-allow", "x.test"], ["network.allow", "namespace backend"]),
]


@pytest.mark.parametrize("args,words", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_config_125(zb, tmp, args, words):
    out = tmp.mkdir("sentinel", owner=NOBODY, mode=0o777)
    r = zb.run(*args, "-v", out + ":/out", "--", "touch", "/out/ran")
    assert r.rc == 125, r
    assert len(r.stderr.strip().splitlines()) == 1, r
    for w in words:
        assert w in r.stderr, r
    assert os.listdir(out) == []


def test_bad_yaml_125(zb, tmp):
    d = tmp.mkdir("cfg")
    cfg = os.path.join(d, "sb.yaml")
    with open(cfg, "w") as f:
        f.write("sandbox:\n  network:\n    allow: [pypi.org, \"bad host\"]\n")
    os.chmod(cfg, 0o644)
    r = zb.run("--config", cfg, "--", "true")
    assert r.rc == 125, r
    assert "sb.yaml:3: sandbox.network.allow: invalid value 'bad host'" in r.stderr, r


def test_export_refuses_allowlist():
    for engine in ("docker", "kubernetes"):
        p = subprocess.run([ZONEBOX, "export", engine, "--net-allow", "pypi.org"], capture_output=True,
                           text=True, timeout=RUN_TIMEOUT)
        assert p.returncode == 125, p
        assert "network.allow" in p.stderr and "not with backend %s" % engine in p.stderr, p
        assert p.stdout == ""


def test_session_exec_counts_its_connections(zb_root, tmp, servers, tmp_path):
    """A session keeps one proxy for its life; each exec's result counts the
    connections made while it ran, and the proxy is gone after stop."""
    a, b = servers
    rt = str(tmp_path / "rt")
    d = tmp.script_dir(CLIENT)
    start = subprocess.run([ZONEBOX, "session", "start", "--runtime-dir", rt, "-v", d + ":/input:ro"]
                           + allow_args(a), capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert start.returncode == 0, start
    sid = start.stdout.strip()
    with open(os.path.join(rt, sid, "info.json")) as f:
        daemon = json.load(f)["pid"]
    try:
        assert len(poll(lambda: proxies_of(daemon), timeout=10)) == 1

        def exec_json(calls):
            r = subprocess.run([ZONEBOX, "session", "exec", "--runtime-dir", rt, "--json", sid, "--",
                                "python3", "/input/test.py", json.dumps({"calls": calls})],
                               capture_output=True, text=True, timeout=RUN_TIMEOUT)
            assert r.returncode == 0, r
            res = json.loads(r.stdout)
            return res, json.loads(res["stdout"])

        res, out = exec_json([["ok", ["urlget", "http://allowed.test:%d/s1" % a.port]]])
        assert out["ok"][0] == 200 and "allowed says hello to /s1" in out["ok"][1], out
        assert res["network"]["proxy"] == {"allowed": 1, "refused": 0, "failed": 0}, res
        res, out = exec_json([["no", ["urlget", "http://other.test:%d/s2" % b.port]],
                              ["no2", ["tunnel", "other.test", b.port, "/s3"]]])
        assert out["no"][0] == 403, out
        assert res["network"]["proxy"] == {"allowed": 0, "refused": 2, "failed": 0}, res
        assert [p for _, p, _ in a.requests] == ["/s1"] and b.requests == []
    finally:
        subprocess.run([ZONEBOX, "session", "stop", "--runtime-dir", rt, sid],
                       capture_output=True, timeout=RUN_TIMEOUT)
    assert poll(lambda: gone(daemon), timeout=10)
    assert poll(lambda: not proxies_of(daemon), timeout=10)
