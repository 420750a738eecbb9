"""Bad input: exit 125, one stderr line naming the flag or key, nothing started,
nothing changed on the host."""

import os
import subprocess
import textwrap

import pytest

from conftest import NOBODY, ZONEBOX, tree_snapshot


@pytest.fixture
def env(tmp):
    """Dirs for the cases: a sentinel rw zone the command would write to if it
    ever ran, two plain dirs with content, a host file, a missing path."""
    e = {}
    e["sentinel"] = tmp.mkdir("sentinel", owner=NOBODY, mode=0o777)
    for k in ("d1", "d2"):
        e[k] = tmp.mkdir(k, owner=NOBODY, mode=0o777)
        with open(os.path.join(e[k], "keep"), "w") as f:
            f.write(k)
    e["file"] = os.path.join(e["d1"], "keep")
    e["missing"] = os.path.join(tmp.base, "no-such-dir-for-zonebox")
    e["cfgdir"] = tmp.mkdir("cfg")
    return e


SENTINEL_CMD = ["--", "sh", "-c", "touch /zb-sentinel/ran; echo ran"]

# (id, args before the sentinel zone and command, substrings of the error line)
FLAG_CASES = [
    ("unknown-flag", ["--bogus-flag"], ["--bogus-flag"]),
    ("unknown-flag-with-value", ["--bogus-flag=3"], ["--bogus-flag"]),
    ("memory-abc", ["--memory", "abc"], ["--memory", "abc"]),
    ("timeout-10x", ["--timeout", "10x"], ["--timeout", "10x"]),
    ("timeout-negative", ["--timeout", "-5s"], ["--timeout"]),
    ("output-limit-bad", ["--output-limit", "lots"], ["--output-limit", "lots"]),
    ("network-bad", ["--network", "bridge0"], ["--network", "bridge0"]),
    ("user-bad", ["--user", "root"], ["--user", "root"]),
    ("ulimit-bad", ["--ulimit", "fsize=big"], ["--ulimit", "big"]),
    ("volume-missing-host-dir", ["-v", "{missing}:/x"], ["{missing}"]),
    ("volume-host-file", ["-v", "{file}:/x"], ["{file}", "not a directory"]),
    ("volume-bad-mode", ["-v", "{d1}:/x:rx"], ["rx"]),
    ("two-zones-one-mount-point", ["-v", "{d1}:/x", "-v", "{d2}:/x"], ["/x"]),
    ("two-zones-one-mount-point-zone-flag",
     ["--zone", "name=x,mode=ro,hostPath={d1}", "--zone", "name=y,mode=ro,hostPath={d2},path=/x"],
     ["/x"]),
    ("tmpfs-and-volume-one-mount-point", ["-v", "{d1}:/x", "--tmpfs", "/x"], ["/x"]),
    ("nested-zones", ["-v", "{d1}:/x", "-v", "{d2}:/x/y"], ["/x/y"]),
    ("relative-mount-point", ["-v", "{d1}:relative"], ["relative"]),
    ("zone-relative-path", ["--zone", "name=x,mode=ro,hostPath={d1},path=rel"], ["rel"]),
    ("zone-over-usr", ["-v", "{d1}:/usr"], ["/usr"]),
    ("zone-under-usr", ["--tmpfs", "/usr/lib"], ["/usr"]),
    ("zone-over-proc", ["-v", "{d1}:/proc"], ["/proc"]),
    ("zone-over-root", ["-v", "{d1}:/"], ["/"]),
    ("zone-over-dev", ["--tmpfs", "/dev"], ["/dev"]),
    ("zone-over-etc", ["-v", "{d1}:/etc"], ["/etc"]),
    ("zone-bad-mode", ["--zone", "name=x,mode=bogus,hostPath={d1}"], ["bogus"]),
    ("zone-rw-without-hostpath", ["--zone", "name=x,mode=rw"], ["hostPath"]),
    ("tmpfs-bad-size", ["--tmpfs", "/x:size=huge"], ["huge"]),
    ("config-missing", ["--config", "{missing}/c.yaml"], ["{missing}/c.yaml"]),
]


def _fmt(items, env):
    return [s.format(**env) for s in items]


def _assert_rejected(r, needles, env):
    assert r.rc == 125, r
    assert r.stdout == "", r
    assert r.stderr.endswith("\n") and r.stderr.count("\n") == 1, \
        "want exactly one stderr line: %r" % r.stderr
    for n in needles:
        assert n in r.stderr, "error line does not name %r: %r" % (n, r.stderr)
    assert os.listdir(env["sentinel"]) == [], "the command ran"


@pytest.mark.parametrize("args,needles", [c[1:] for c in FLAG_CASES], ids=[c[0] for c in FLAG_CASES])
def test_bad_flag_rejected(zb, env, args, needles):
    before = {k: tree_snapshot(env[k]) for k in ("d1", "d2")}
    r = zb.run(*_fmt(args, env), "-v", env["sentinel"] + ":/zb-sentinel", *SENTINEL_CMD)
    _assert_rejected(r, _fmt(needles, env), env)
    assert {k: tree_snapshot(env[k]) for k in ("d1", "d2")} == before
    assert not os.path.exists(env["missing"])


def test_empty_command(zb):
    for args in (["--"], [], ["--json", "--"]):
        r = zb.run(*args)
        assert r.rc == 125, (args, r)
        assert r.stderr.count("\n") == 1 and "command" in r.stderr, (args, r)
    r = zb.run("--json", "--")
    assert r.stdout == "" or r.json["cli_exit_code"] == 125


def test_bad_input_with_json_still_exits_125(zb, env):
    r = zb.run("--json", "--timeout", "10x", "-v", env["sentinel"] + ":/zb-sentinel", *SENTINEL_CMD)
    assert r.rc == 125, r
    assert "--timeout" in r.stderr
    assert os.listdir(env["sentinel"]) == []


CONFIG_CASES = [
    ("unknown-key", """
        sandbox:
          limits:
            memroy: 1g
     """, ["sandbox.limits.memroy"]),
    ("unknown-top-key", """
        sandbox:
          netwrok: none
     """, ["sandbox.netwrok"]),
    ("bad-size", """
        sandbox:
          limits:
            file_size: 12q
     """, ["sandbox.limits.file_size", "12q"]),
    ("bad-output-size", """
        sandbox:
          limits:
            output: lots
     """, ["sandbox.limits.output", "lots"]),
    ("bad-duration", """
        sandbox:
          limits:
            wall_time: soon
     """, ["sandbox.limits.wall_time", "soon"]),
    ("bad-network", """
        sandbox:
          network: everywhere
     """, ["sandbox.network", "everywhere"]),
    ("zone-bad-mode", """
        sandbox:
          zones:
            - {name: data, mode: rwx, hostPath: data}
     """, ["rwx"]),
    ("zone-missing-hostpath", """
        sandbox:
          zones:
            - {name: data, mode: ro, hostPath: does-not-exist}
     """, ["does-not-exist"]),
    ("zone-over-proc", """
        sandbox:
          zones:
            - {name: proc, mode: ro, hostPath: data}
     """, ["/proc"]),
    ("two-zones-one-mount-point", """
        sandbox:
          zones:
            - {name: a, mode: ro, hostPath: data}
            - {name: b, mode: ro, hostPath: data, path: /a}
     """, ["/a"]),
    ("not-yaml", """
        sandbox: [unclosed
     """, []),
]


@pytest.mark.parametrize("body,needles", [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES])
def test_bad_config_rejected(zb, env, body, needles):
    d = env["cfgdir"]
    os.makedirs(os.path.join(d, "data"), exist_ok=True)
    body = textwrap.dedent(body).rstrip("\n ") + "\n"
    path = os.path.join(d, "policy.yaml")
    with open(path, "w") as f:
        f.write(body)
    os.chmod(path, 0o644)
    before = tree_snapshot(d)
    r = zb.run("--config", path, "-v", env["sentinel"] + ":/zb-sentinel", *SENTINEL_CMD)
    _assert_rejected(r, needles, env)
    assert tree_snapshot(d) == before


def test_help_exits_0():
    r = subprocess.run([ZONEBOX, "run", "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0
    assert "Usage: zonebox run" in r.stdout
