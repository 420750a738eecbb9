"""--config FILE: YAML policies, paths relative to the file, flags override."""

import json
import os
import textwrap

from conftest import NOBODY


def _write_config(tmp, body, owner_rw=True):
    """A config dir with in/ (ro input), out/ (rw, owned by 65534) and policy.yaml."""
    d = tmp.mkdir("cfg")
    os.mkdir(os.path.join(d, "in"), 0o755)
    os.chmod(os.path.join(d, "in"), 0o755)
    with open(os.path.join(d, "in", "msg.txt"), "w") as f:
        f.write("from-config-dir\n")
    os.chmod(os.path.join(d, "in", "msg.txt"), 0o644)
    os.mkdir(os.path.join(d, "out"))
    os.chmod(os.path.join(d, "out"), 0o755)
    if owner_rw:
        os.chown(os.path.join(d, "out"), NOBODY, NOBODY)
    path = os.path.join(d, "policy.yaml")
    with open(path, "w") as f:
        f.write(textwrap.dedent(body))
    os.chmod(path, 0o644)
    return d, path


FULL = """\
    # zonebox policy used by the integration tests
    sandbox:
      zones:
        - name: in
          mode: ro
          hostPath: in
        - {name: out, mode: rw, hostPath: ./out}
        - {name: scratch, mode: tmpfs, size: 1m}
      network: none
      limits:
        wall_time: 5s
        file_size: 1m
        open_files: 64
        output: 64k
      env:
        GREETING: "hello world"
      workdir: /in
      command: ["sh", "-c", "cat msg.txt; echo \\"$GREETING\\"; pwd; ulimit -n; echo w > /out/result; echo t > /scratch/t && cat /scratch/t"]
"""


def test_config_zones_relative_to_file_and_command_from_file(zb, tmp):
    d, path = _write_config(tmp, FULL)
    other = tmp.mkdir("elsewhere")
    # run from an unrelated directory; relative hostPaths resolve against the file's dir
    r = zb.run("--config", path, cwd=other)
    assert r.rc == 0, r
    assert r.stdout == "from-config-dir\nhello world\n/in\n64\nt\n", r
    with open(os.path.join(d, "out", "result")) as f:
        assert f.read() == "w\n"
    assert os.stat(os.path.join(d, "out", "result")).st_uid == NOBODY
    assert sorted(os.listdir(d)) == ["in", "out", "policy.yaml"]
    assert os.listdir(other) == []


def test_config_relative_path_to_config(zb, tmp):
    d, path = _write_config(tmp, FULL)
    # --config given relative to the cwd, which is the parent of the config dir
    r = zb.run("--config", os.path.join(os.path.basename(d), "policy.yaml"), cwd=os.path.dirname(d))
    assert r.rc == 0, r
    assert r.stdout.startswith("from-config-dir\n")


def test_command_line_overrides_config_command(zb, tmp):
    _, path = _write_config(tmp, FULL)
    r = zb.run("--config", path, "--", "cat", "/in/msg.txt")
    assert r.rc == 0, r
    assert r.stdout == "from-config-dir\n"


def test_config_limits_enforced(zb, tmp):
    _, path = _write_config(tmp, FULL)
    r = zb.run("--config", path, "--", "sh", "-c",
               "head -c 2m /dev/zero > /out/big; echo rc=$?; ls -l /out/big | awk '{print $5}'")
    # file_size: 1m -> SIGXFSZ for head (rlimit), file stops at 1 MiB
    assert r.stdout.splitlines()[-1] == str(1024 * 1024), r
    assert r.stdout.splitlines()[0] != "rc=0", r


def test_flag_overrides_config_timeout(zb, tmp):
    body = """\
        sandbox:
          limits:
            wall_time: 200ms
          command: [sleep, "0.6"]
    """
    _, path = _write_config(tmp, body)
    r, j = zb.json("--config", path)
    assert r.rc == 124, r
    assert j["status"] == "timeout"
    assert j["wall_ms"] >= 150  # the limit, not the 0.6 s sleep, ended it (status timeout)
    r, j = zb.json("--config", path, "--timeout", "10s")
    assert r.rc == 0, r
    assert j["status"] == "exited" and j["wall_ms"] >= 550
    r, j = zb.json("--config", path, "--timeout", "0")
    assert r.rc == 0, r
    assert "wall_time" not in j["layers"]["applied"]


def test_flag_overrides_config_network(zb, tmp):
    body_host = """\
        sandbox:
          network: host
          command: [cat, /proc/net/dev]
    """
    _, path = _write_config(tmp, body_host)
    r, j = zb.json("--config", path)
    assert r.rc == 0, r
    assert "net" in j["layers"]["skipped"]
    host_ifaces = sorted(os.listdir("/sys/class/net"))
    inside = sorted(line.split(":")[0].strip() for line in j["stdout"].splitlines()[2:])
    assert inside == host_ifaces
    r, j = zb.json("--config", path, "--network", "none")
    assert r.rc == 0, r
    assert "net" in j["layers"]["applied"] and "net" not in j["layers"]["skipped"]
    inside = [line.split(":")[0].strip() for line in j["stdout"].splitlines()[2:]]
    assert inside == ["lo"]

    body_none = """\
        sandbox:
          network: none
          command: [cat, /proc/net/dev]
    """
    _, path = _write_config(tmp, body_none)
    r, j = zb.json("--config", path, "--network", "host")
    assert r.rc == 0, r
    assert "net" in j["layers"]["skipped"]


def test_flag_overrides_config_env_and_workdir(zb, tmp):
    _, path = _write_config(tmp, FULL)
    r = zb.run("--config", path, "-e", "GREETING=bye", "-w", "/out", "--", "sh", "-c",
               "echo \"$GREETING\"; pwd")
    assert r.rc == 0, r
    assert r.stdout == "bye\n/out\n"


def test_flag_zone_replaces_config_zone_on_same_mount_point(zb, tmp):
    """Documented override: a -v for a config zone's mount point replaces it."""
    _, path = _write_config(tmp, FULL)
    other = tmp.mkdir("other-in")
    with open(os.path.join(other, "msg.txt"), "w") as f:
        f.write("from-flag\n")
    os.chmod(os.path.join(other, "msg.txt"), 0o644)
    r = zb.run("--config", path, "-v", other + ":/in:ro", "--", "cat", "/in/msg.txt")
    assert r.rc == 0, r
    assert r.stdout == "from-flag\n"


def test_config_json_output(zb, tmp):
    _, path = _write_config(tmp, FULL)
    r = zb.run("--config", path, "--json")
    assert r.rc == 0, r
    j = json.loads(r.stdout)
    assert j["stdout"] == "from-config-dir\nhello world\n/in\n64\nt\n"
    assert "wall_time" in j["layers"]["applied"]
