"""The runtimes half of zonebox serve without the HTTP server: the test
driver build/zonebox-serve-job (tests/serve/job-driver.c) loads
examples/serve.yaml as `zonebox serve` does and calls srv_piston_execute /
srv_runtime_run / srv_runtimes_json, which start real sandboxes. Round trips
for python3, C (compile + run), sh and node; a compile error, a timeout, an
OOM, the output caps; bad bodies (400 naming the field); widening refused;
and nothing left: no job dir, no process, no cgroup, also after the worker
is killed with SIGKILL mid-job."""

import base64
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import AS_NOBODY, ZONEBOX, pids_with_arg, poll, zonebox_cgroups

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DRIVER = os.path.join(os.path.dirname(ZONEBOX), "zonebox-serve-job")
CONFIG = os.path.join(ROOT, "examples", "serve.yaml")
JOBS_DIR = "/run/zonebox-serve"  # root's job dirs (src/serve/job.c)


@pytest.fixture(scope="module", autouse=True)
def _driver():
    if not os.access(DRIVER, os.X_OK):
        pytest.fail("%s is not built (make all builds it)" % DRIVER)


def call(mode, body=None, config=CONFIG, prefix=(), timeout=60):
    data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
    p = subprocess.run(list(prefix) + [DRIVER, config, mode], input=data or "", capture_output=True,
                       text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    return out["status"], out["body"]


def execute(**body):
    body.setdefault("version", "*")
    return call("piston", body)


def leftovers():
    return sorted(os.listdir(JOBS_DIR)) if os.path.isdir(JOBS_DIR) else []


def test_runtimes_listed_both_ways():
    st, piston = call("piston-runtimes")
    assert st == 200
    langs = {r["language"]: r for r in piston}
    assert {"python3", "c", "sh", "javascript"} <= set(langs)
    assert "python" in langs["python3"]["aliases"] and langs["c"]["version"] == "12.2.0"
    st, own = call("runtimes")
    c = [r for r in own if r["name"] == "c"][0]
    assert c["compiled"] is True and c["compile_limits"]["timeout"] == "20s"


def test_python_round_trip_with_stdin_and_args():
    st, r = execute(language="python", files=[{"content": "import sys\nprint(6*7, sys.argv[1:], input())"}],
                    args=["a", "b c"], stdin="hello\n")
    assert st == 200, r
    assert r["language"] == "python3" and "compile" not in r
    run = r["run"]
    assert run["stdout"] == "42 ['a', 'b c'] hello\n" and run["output"] == run["stdout"]
    assert run["code"] == 0 and run["signal"] is None and run["status"] is None and run["message"] is None
    assert run["wall_time"] > 0 and run["memory"] > 0
    assert leftovers() == []


def test_c_compile_then_run():
    src = "#include <stdio.h>\nint main(int c, char **v){printf(\"hi %s\\n\", v[1]); return 3;}"
    st, r = execute(language="gcc", files=[{"name": "prog.c", "content": src}], args=["there"])
    assert st == 200, r
    assert r["compile"]["code"] == 0 and r["compile"]["status"] is None
    assert r["run"]["stdout"] == "hi there\n"
    assert r["run"]["code"] == 3 and r["run"]["status"] == "RE"
    assert r["run"]["message"] == "Exited with error status 3"


def test_c_compile_error_stops_before_the_run():
    st, r = execute(language="c", files=[{"content": "int main(){ nope }"}])
    assert st == 200, r
    assert r["compile"]["status"] == "RE" and r["compile"]["code"] == 1
    assert "nope" in r["compile"]["stderr"]
    assert r["run"] is None


def test_timeout_is_TO():
    t0 = time.monotonic()
    st, r = execute(language="python", files=[{"content": "while True: pass"}], run_timeout=500)
    assert st == 200, r
    assert r["run"]["status"] == "TO" and r["run"]["signal"] == "SIGKILL" and r["run"]["code"] is None
    assert 400 <= r["run"]["wall_time"] < 3000
    assert time.monotonic() - t0 < 10


def test_oom_is_SG_sigkill():
    st, r = execute(language="python", files=[{"content": "x = bytearray(400 << 20)\nprint('survived')"}],
                    run_memory_limit=64 * 1024 * 1024)
    assert st == 200, r
    run = r["run"]
    assert run["status"] == "SG" and run["signal"] == "SIGKILL" and "memory" in run["message"].lower()
    assert "survived" not in run["stdout"]
    assert run["memory"] <= 64 * 1024 * 1024


def test_output_caps_are_OL_and_EL():
    st, r = execute(language="python", files=[{"content": "import sys\nwhile True: sys.stdout.write('x'*4096)"}])
    assert st == 200 and r["run"]["status"] == "OL" and r["run"]["message"] == "stdout length exceeded"
    assert len(r["run"]["stdout"]) <= (1 << 20) and r["run"]["signal"] == "SIGKILL"
    st, r = execute(language="python", files=[{"content": "import sys\nsys.stderr.write('e'*(2<<20))"}])
    assert st == 200 and r["run"]["status"] == "EL" and r["run"]["message"] == "stderr length exceeded"


def test_signal_is_SG_with_its_name():
    st, r = execute(language="sh", files=[{"content": "kill -SEGV $$"}])
    assert st == 200 and r["run"]["status"] == "SG" and r["run"]["signal"] == "SIGSEGV"
    assert r["run"]["code"] is None


def test_node_and_sh_with_encoded_files():
    st, r = execute(language="node", files=[{"content": "console.log(6*7)"}])
    assert st == 200 and r["run"]["stdout"] == "42\n", r
    files = [{"content": "cat data.bin; cat more.bin; echo \"$1\""},
             {"name": "data.bin", "content": "68690a", "encoding": "hex"},
             {"name": "more.bin", "content": base64.b64encode(b"yo\n").decode(), "encoding": "base64"}]
    st, r = execute(language="shell", files=files, args=["arg1"])
    assert st == 200 and r["run"]["stdout"] == "hi\nyo\narg1\n", r


def test_code_dir_is_the_jobs_only():
    """Each job gets a fresh /code: a file the last job wrote is gone."""
    execute(language="sh", files=[{"content": "echo left > /code/left.txt"}])
    st, r = execute(language="sh", files=[{"content": "ls -A /code; test ! -e /code/left.txt"}])
    assert st == 200 and r["run"]["code"] == 0 and r["run"]["stdout"] == "main.sh\n", r


@pytest.mark.parametrize("body,field", [
    ({"language": "python", "files": [{"name": "../x.py", "content": "1"}]}, "files[0].name"),
    ({"language": "python", "files": [{"name": "a/b.py", "content": "1"}]}, "files[0].name"),
    ({"language": "python", "files": [{"name": "a\u0000b", "content": "1"}]}, "files[0].name"),
    ({"language": "python", "files": [{"content": "1"}, {"name": "main.py", "content": "2"}]}, "files"),
    ({"language": "python", "files": [{"content": "zz", "encoding": "hex"}]}, "files[0].content"),
    ({"language": "python", "files": [{"content": "1", "encoding": "rot13"}]}, "files[0].encoding"),
    ({"language": "python", "files": []}, "files"),
    ({"language": "python"}, "files"),
    ({"files": [{"content": "1"}]}, "language"),
    ({"language": "python", "files": [{"content": "1"}], "args": [1]}, "args[0]"),
    ({"language": "python", "files": [{"content": "1"}], "stdin": 5}, "stdin"),
    ({"language": "python", "files": [{"content": "1"}], "run_timeout": "5s"}, "run_timeout"),
    ({"language": "python", "files": [{"content": "1"}], "run_timeout": 60000}, "run_timeout"),
    ({"language": "python", "files": [{"content": "1"}], "run_memory_limit": 1 << 40}, "run_memory_limit"),
    ({"language": "c", "files": [{"content": "1"}], "compile_timeout": 600000}, "compile_timeout"),
    ({"language": "cobol", "files": [{"content": "1"}]}, "cobol"),
])
def test_bad_piston_bodies_are_400_naming_the_field(body, field):
    body.setdefault("version", "*")
    st, r = call("check", body)
    assert st == 400, r
    assert r["message"].startswith(field), r
    assert leftovers() == []


def test_malformed_json_is_400():
    for raw in ('{"language":', '[1,2]', '{"language":"python"} trailing', ''):
        st, r = call("check", raw)
        assert st == 400 and r["message"].startswith("body"), (raw, r)


def test_v1_run_with_runtime_env_and_narrowed_limits():
    st, r = call("v1", {"runtime": "python3", "files": [{"name": "a.py", "content":
                        "import os,time\nprint(os.environ.get('FOO'), flush=True)\ntime.sleep(5)"}],
                        "env": {"FOO": "bar"}, "limits": {"timeout": "1s"}})
    assert st == 200, r
    assert r["status"] == "timeout" and r["stdout"] == "bar\n" and "violations" in r
    st, r = call("v1", {"runtime": "c", "files": [{"content": "int main(){return 0;}"}],
                        "compile_limits": {"timeout": "15s"}})
    assert st == 200 and r["status"] == "exited" and r["compile"]["status"] == "exited", r


@pytest.mark.parametrize("body,status,field", [
    ({"runtime": "python3", "files": [{"content": "1"}], "limits": {"timeout": "1h"}}, 400, "limits.timeout"),
    ({"runtime": "python3", "files": [{"content": "1"}], "limits": {"memory": "unlimited"}}, 400, "limits.memory"),
    ({"runtime": "c", "files": [{"content": "1"}], "compile_limits": {"memory": "1g"}}, 400, "compile_limits.memory"),
    ({"runtime": "python3", "files": [{"content": "1"}], "limits": {"network": "host"}}, 400, "limits.network"),
    ({"runtime": "python3", "files": [{"content": "1"}], "zones": []}, 400, "zones"),
    ({"runtime": "python3", "files": [{"content": "1"}], "env": {"A=B": "x"}}, 400, "env"),
    ({"runtime": "python3", "files": [{"content": "1"}], "compile_limits": {}}, 400, "compile_limits"),
    ({"runtime": "fortran", "files": [{"content": "1"}]}, 404, "runtime"),
])
def test_v1_refusals_name_the_field(body, status, field):
    st, r = call("v1", body)
    assert st == status and r["message"].startswith(field), r


def test_v1_compile_error_reports_compile_and_no_run():
    st, r = call("v1", {"runtime": "c", "files": [{"content": "int main(){ nope }"}]})
    assert st == 200 and r["status"] == "compile_error" and r["compile"]["exit_code"] == 1, r
    assert "stdout" not in r


def test_unprivileged_server_runs_jobs(tmp, delegated_cgroup):
    """zonebox serve as uid 65534 with a delegated cgroup (the config's
    limits.cgroup_parent, as an administrator would give it)."""
    d = tmp.mkdir("cfg")
    path = os.path.join(d, "serve.yaml")
    with open(CONFIG) as f:
        text = f.read().replace("limits: {memory: 256m,", "limits: {cgroup_parent: %s, memory: 256m," % delegated_cgroup)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    st, r = call("piston", {"language": "python", "version": "*", "files": [{"content": "print(7)"}]},
                 config=path, prefix=AS_NOBODY)
    assert st == 200 and r["run"]["stdout"] == "7\n", r
    assert not os.path.exists("/tmp/zonebox-serve-65534") or os.listdir("/tmp/zonebox-serve-65534") == []


def test_config_errors_name_the_runtime_key(tmp):
    d = tmp.mkdir("cfg")
    cases = [("runtimes:\n  - {name: a, version: '1', run: [x], colour: red}\n", "runtimes[0].colour"),
             ("runtimes:\n  - {name: a, version: '1', run: [x]}\n  - {name: b, version: '1'}\n", "runtimes[1]"),
             ("runtimes:\n  - {name: a, version: '1', run: {x: 1}}\n", "runtimes[0].run"),
             ("runtimes:\n  - {name: a, version: '1', run: [x], limits: {memory: lots}}\n",
              "runtimes[0].limits.memory"),
             ("runtimes:\n  - {name: a, version: '1', run: [x], file: ../x}\n", "runtimes[0].file"),
             ("runtimes: {a: 1}\n", "runtimes")]
    for text, key in cases:
        path = os.path.join(d, "c.yaml")
        with open(path, "w") as f:
            f.write("sandbox: {network: none}\n" + text)
        p = subprocess.run([DRIVER, path, "runtimes"], capture_output=True, text=True, timeout=10)
        assert p.returncode == 125 and (": %s:" % key) in p.stderr, (text, p.stderr)


def test_sigkill_mid_job_leaves_nothing_after_the_next_job():
    """A worker killed with SIGKILL: its sandbox dies with it (no process,
    no cgroup left); its job dir stays until the next job removes it."""
    marker = "29.%05d" % (os.getpid() % 100000)  # a unique sleep argument
    cgroups_before = set(zonebox_cgroups())
    body = json.dumps({"language": "sh", "version": "*", "files": [{"content": "sleep %s" % marker}]})
    p = subprocess.Popen([DRIVER, CONFIG, "piston"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    p.stdin.write(body.encode())
    p.stdin.close()
    assert poll(lambda: pids_with_arg(marker), 10), "the job's sleep never started"
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert poll(lambda: not pids_with_arg(marker), 10), "the sandbox outlived its killed worker"
    killed = [d for d in leftovers() if d.startswith("%d-" % p.pid)]
    assert killed, "the killed worker's job dir should still be there (nothing removed it yet)"
    st, r = execute(language="sh", files=[{"content": "true"}])
    assert st == 200 and r["run"]["code"] == 0
    assert leftovers() == [], "the next job removes a dead worker's job dir"
    assert poll(lambda: set(zonebox_cgroups()) <= cgroups_before, 10), "a cgroup was left"
