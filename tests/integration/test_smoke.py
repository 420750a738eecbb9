"""Smoke tests: real sandboxes, the essentials of `zonebox run`."""
import json
import os
import subprocess
import tempfile

ZB = os.environ.get("ZONEBOX", os.path.join(os.path.dirname(__file__), "../../build/zonebox"))


def zb(*args, **kw):
    return subprocess.run([ZB, "run", *args], capture_output=True, text=True, timeout=30, **kw)


def test_print_42():
    r = zb("--", "python3", "-c", "print(6*7)")
    assert (r.returncode, r.stdout) == (0, "42\n")


def test_docker_security_tests_inside():
    code = (
        "import os, errno\n"
        "try:\n open('/test.txt','w'); print('WRITE-OK')\n"
        "except OSError as e: print('write', e.errno)\n"
        "try:\n os.setuid(0); print('SETUID-OK')\n"
        "except OSError as e: print('setuid', e.errno)\n"
        "import socket\n"
        "try:\n socket.create_connection(('1.1.1.1', 80), timeout=2); print('NET-OK')\n"
        "except OSError as e: print('net', e.errno)\n"
    )
    r = zb("--", "python3", "-c", code)
    assert r.returncode == 0, r.stderr
    # setuid(0): EPERM (1) as root started it (a full id range inside, as
    # in Docker); EINVAL (22) only where one id is mapped.
    assert r.stdout.split("\n")[:3] == ["write 30", "setuid 1", "net 101"]


def test_json_timeout_kills_everything():
    r = zb("--timeout", "300ms", "--json", "--", "sh", "-c", "echo hi; sleep 100.789 & sleep 100.789")
    assert r.returncode == 124
    res = json.loads(r.stdout)
    assert res["status"] == "timeout" and res["stdout"] == "hi\n"
    assert 290 <= res["wall_ms"] < 20000  # the timeout ended it, not the 100 s sleep
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read() == b"sleep\x00100.789\x00":
                    left.append(pid)
        except OSError:
            pass
    assert left == []


def test_rw_zone_reaches_host_and_ro_does_not():
    with tempfile.TemporaryDirectory() as d:
        ro, rw = os.path.join(d, "ro"), os.path.join(d, "rw")
        os.mkdir(ro)
        os.mkdir(rw)
        os.chmod(d, 0o755)
        os.chmod(rw, 0o777)
        r = zb("-v", f"{ro}:/input:ro", "-v", f"{rw}:/output", "--",
               "sh", "-c", "echo x > /output/f; echo y > /input/g")
        assert r.returncode == 2 and "Read-only file system" in r.stderr
        assert open(os.path.join(rw, "f")).read() == "x\n"
        assert os.listdir(ro) == []


def test_bad_flag_exit_125():
    r = zb("--memory", "abc", "--", "true")
    assert r.returncode == 125 and r.stderr.startswith("zonebox run: --memory:")


def test_not_found_127():
    assert zb("--", "no-such-command-zb").returncode == 127
