"""zonebox serve driven by the real Piston client (piston-client from the
npm registry, pinned in tests/serve/package-lock.json, installed with
`npm ci` into a cache dir; tests/serve/drive.mjs). The server is the real
one, started as the acceptance check starts it (examples/serve.yaml, TCP on
loopback, a token file); each scenario is a round trip through
/api/v2/runtimes and /api/v2/execute with real sandboxes: python3, C, a
compile error, a timeout, an OOM. Nothing is left afterwards: no process of
the server, no cgroup, no job dir."""

import json
import os
import shutil
import socket
import subprocess

import pytest

from conftest import ZONEBOX, npm_client, poll, zonebox_cgroups

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CLIENT_SRC = os.path.join(ROOT, "tests", "serve")
CONFIG = os.path.join(ROOT, "examples", "serve.yaml")
JOBS_DIR = "/run/zonebox-serve"


def _serve_built():
    p = subprocess.run([ZONEBOX, "serve", "--help"], capture_output=True, timeout=10)
    return p.returncode == 0


@pytest.fixture(scope="module")
def client_dir():
    if not _serve_built():
        pytest.skip("zonebox serve not built")
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are not installed: the Piston client cannot run")
    return npm_client(CLIENT_SRC, "piston-client", "piston-client")


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def server(client_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("serve")
    token = "piston-test-%010d" % os.getpid()  # 22 characters whatever the pid (serve wants >= 16)
    (d / "token").write_text(token + "\n")
    port = _free_port()
    cgroups_before = set(zonebox_cgroups())
    p = subprocess.Popen([ZONEBOX, "serve", "--config", CONFIG, "--listen", "127.0.0.1:%d" % port,
                          "--token-file", str(d / "token")], stdout=subprocess.DEVNULL,
                         stderr=open(d / "log", "w"))

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False
    assert poll(up, 10), "zonebox serve did not listen: %s" % (d / "log").read_text()
    yield "http://127.0.0.1:%d" % port, token
    p.terminate()
    p.wait(timeout=30)
    assert poll(lambda: set(zonebox_cgroups()) <= cgroups_before, 10), "a cgroup was left"
    assert not os.path.isdir(JOBS_DIR) or os.listdir(JOBS_DIR) == [], "a job dir was left"


def drive(client_dir, server, scenario):
    url, token = server
    p = subprocess.run(["node", os.path.join(client_dir, "drive.mjs"), url, token, scenario],
                       capture_output=True, text=True, timeout=90, cwd=client_dir)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert "exception" not in out, out["exception"]
    langs = {r["language"] for r in out["runtimes"]}
    assert {"python3", "c"} <= langs, out["runtimes"]
    return out["result"]


def test_python3_round_trip(client_dir, server):
    r = drive(client_dir, server, "python")
    assert r["language"] == "python3" and r["version"] == "3.11.2"
    assert r["run"]["stdout"] == "42 ['a', 'b'] hi\n" and r["run"]["code"] == 0 and r["run"]["status"] is None


def test_c_round_trip(client_dir, server):
    r = drive(client_dir, server, "c")
    assert r["compile"]["code"] == 0 and r["run"]["stdout"] == "hello from c\n" and r["run"]["code"] == 0


def test_c_compile_error(client_dir, server):
    r = drive(client_dir, server, "compile-error")
    assert r["compile"]["status"] == "RE" and "nope" in r["compile"]["stderr"] and r["run"] is None


def test_timeout(client_dir, server):
    r = drive(client_dir, server, "timeout")
    assert r["run"]["status"] == "TO" and r["run"]["signal"] == "SIGKILL" and r["run"]["wall_time"] < 3000


def test_oom(client_dir, server):
    r = drive(client_dir, server, "oom")
    assert r["run"]["status"] == "SG" and r["run"]["signal"] == "SIGKILL" and "survived" not in r["run"]["stdout"]
