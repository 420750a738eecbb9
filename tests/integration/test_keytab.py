"""Every config key against every backend (src/core/keytab.c, issue 17): each
row's sample value, given through its flag (or a config file), on each
backend this machine has, with the outcome the table promises:

- refuse: exit 125, one line naming the key, its flag and the backend, no
  output, nothing started;
- warn: the row's warning on stderr and in the verdict's warnings (an
  export: a "warning:" line);
- honour: neither the row's refusal nor any of its warnings.

The backends: namespace; oci with runc; docker through podman (--engine-cli
podman --runtime runc, as test_engines.py); kubernetes as zonebox export
(offline); wasm with node. An engine its own CLI cannot run here is skipped
with why. Also: the table covers every key the parser knows (keys.c's
setters, flags.c's flags, the YAML sections), docs/config.md shows the
table as `zonebox __keytab --markdown` prints it, and docker/oci exports
warn what only zonebox run does."""

import glob
import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import ZONEBOX, ROOT, RUN_TIMEOUT, TmpDirs
from test_engines import engine_reason

BACKENDS = ["namespace", "docker", "oci", "kubernetes", "wasm"]
EXIT3 = os.path.join(os.path.dirname(ZONEBOX), "wasm", "exit3.wasm")


def keytab():
    out = subprocess.run([ZONEBOX, "__keytab"], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        f = line.split("\t")
        cells = {}
        for b, c in zip(BACKENDS, f[4:9]):
            outcome, _, why = c.partition(":")
            cells[b] = (outcome, why)
        rows.append({"key": f[0], "when": f[1], "flag": f[2], "sample": f[3], "cells": cells,
                     "export_loses": f[9]})
    return rows


ROWS = keytab()
WALKED = [r for r in ROWS if r["sample"]]


def row_id(r):
    return r["key"] + ("-" + r["when"].replace(" ", "").replace(":", "") if r["when"] else "")


def blkdev():
    for name in sorted(os.listdir("/sys/block")):
        if not name.startswith(("loop", "ram", "zram")) and os.path.exists("/dev/" + name):
            return "/dev/" + name
    return "/dev/null"


# What a cell needs besides the key to be honoured (never given where the
# row is refused or warned, so that the row's own outcome is what shows).
NEEDS = {
    "security.no_new_privileges": ["--seccomp", "unconfined", "--landlock", "false"],
    "network.hosts": ["--net-allow", "127.0.0.1:9"],
    "network.proxy_port": ["--net-allow", "127.0.0.1:9"],
    "limits.zone_read_bps": ["-v", "{dir}:/kt"],
    "limits.zone_write_bps": ["-v", "{dir}:/kt"],
    "cow_dir": ["-v", "{dir}:/kt2:cow"],
    "cow_action": ["-v", "{dir}:/kt2:cow"],
    "approval.timeout": ["--approver", "/bin/true"],
    "audit.fsync": ["--audit-log", "{dir}/fsync.log"],
    "limits.output_action": ["--output-limit", "1m"],
}


def key_args(row, backend, d):
    fill = lambda s: s.replace("{dir}", d).replace("{blkdev}", blkdev())
    sample = fill(row["sample"])
    if row["key"] == "runtime" and backend == "wasm":
        sample = "node"  # runtime: names the WASI runtime under backend: wasm
    extra = [fill(a) for a in NEEDS.get(row["key"], [])] if row["cells"][backend][0] == "honour" else []
    if not row["flag"]:  # config file only: one file with the key
        path = os.path.join(d, "kt.yaml")
        parts = row["key"].split(".")
        with open(path, "w") as f:
            f.write("sandbox:\n")
            for i, part in enumerate(parts):
                f.write("  " * (i + 1) + part + ":" + (" " + sample if i == len(parts) - 1 else "") + "\n")
        return ["--config", path] + extra
    if row["flag"] in ("--strict", "--allow-unenforced"):
        return [row["flag"]] + extra
    return [row["flag"], sample] + extra


def backend_args(backend, row, d):
    if backend == "namespace":
        return ["run", "--json"], ["--", "/bin/true"]
    if backend == "oci":
        return ["run", "--json", "--backend", "oci", "--runtime", "runc"], ["--", "/bin/true"]
    if backend == "docker":
        return ["run", "--json", "--backend", "docker", "--engine-cli", "podman", "--runtime", "runc"], \
            ["--", "/bin/true"]
    if backend == "kubernetes":  # a pod needs an image (unless the row gives one, or a rootfs)
        image = [] if row["key"] in ("image", "rootfs") else ["--image", "busybox"]
        return ["export", "kubernetes"] + image, ["--", "true"]
    mods = os.path.join(d, "m")
    os.makedirs(mods, exist_ok=True)
    shutil.copy(EXIT3, mods)
    os.chmod(mods, 0o755)
    os.chmod(os.path.join(mods, "exit3.wasm"), 0o644)
    head = ["run", "--json", "--backend", "wasm"]
    if row["key"] not in ("runtime", "wasm.runtime"):
        head += ["--wasm-runtime", "node"]
    return head, ["-v", mods + ":/m:ro", "--", "/m/exit3.wasm"]


def available(backend):
    why = {"oci": engine_reason("runc"), "docker": engine_reason("podman")}.get(backend)
    if why:
        return why
    if backend == "wasm":
        if not shutil.which("node"):
            return "node is not installed (scripts/install-deps installs it)"
        if not os.path.exists(EXIT3):
            return "the test modules are not built (make wasm-modules)"
    return None


def outcome(row, backend, tmp, json_verdict=True):
    d = tmp.mkdir("kt")
    head, tail = backend_args(backend, row, d)
    if not json_verdict:
        head = [a for a in head if a != "--json"]
    args = head + key_args(row, backend, d) + tail
    p = subprocess.run([ZONEBOX] + args, capture_output=True, text=True, cwd="/", timeout=RUN_TIMEOUT * 2)
    return args, p


def warnings_of(backend, p):
    """The warning lines on stderr (an export's, or zonebox run's without
    --json), and the verdict's warnings (zonebox run --json; None if none)."""
    if backend == "kubernetes":
        return [l[len("warning: "):] for l in p.stderr.splitlines() if l.startswith("warning: ")], None
    lines = [l.split("warning: ", 1)[1] for l in p.stderr.splitlines() if l.startswith("zonebox run: warning: ")]
    try:
        verdict = json.loads(p.stdout)
    except ValueError:
        verdict = None
    return lines, verdict.get("warnings", []) if isinstance(verdict, dict) else None


def runs_needed(row, backend):
    """The invocations a cell is judged on: with --json, and for a warning
    (but an export's) also without it."""
    want = row["cells"][backend][0]
    return [True, False] if want == "warn" and backend != "kubernetes" else [True]


@pytest.fixture(scope="module")
def walked(request, base_dir):
    """The selected cells' runs, made up front four at a time: each is its
    own zonebox process (its own temp dir, container name and cgroup), and
    an engine's run is mostly waiting for runc or podman, so the walk takes
    a fraction of its one-by-one time. Each test then judges its cell."""
    tmp = TmpDirs(base_dir)
    here = [b for b in BACKENDS if not available(b)]
    cells = [(it.callspec.params["row"], it.callspec.params["backend"]) for it in request.session.items
             if it.originalname == "test_key_on_backend" and it.callspec.params["backend"] in here]
    jobs = [(row_id(r), b, j, r) for r, b in cells for j in runs_needed(r, b)]
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            done = pool.map(lambda job: outcome(job[3], job[1], tmp, json_verdict=job[2]), jobs)
            yield {job[:3]: res for job, res in zip(jobs, done)}
    finally:
        remove_sample_cgroup_parent()


def remove_sample_cgroup_parent():
    """podman makes a --cgroup-parent that does not exist yet (with a conmon
    cgroup under it) and leaves it: the sample parent of the table's row is
    this test's, so it goes after the walk, deepest first, where empty."""
    name = next(r["sample"] for r in ROWS if r["key"] == "limits.cgroup_parent")
    for top in [os.path.join(root, name) for root in glob.glob("/sys/fs/cgroup/*/") + ["/sys/fs/cgroup/"]]:
        if os.path.isdir(top):
            for d in sorted((d for d, _, _ in os.walk(top)), key=lambda d: -d.count("/")):
                try:
                    os.rmdir(d)
                except OSError:
                    pass


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("row", WALKED, ids=row_id)
def test_key_on_backend(row, backend, walked):
    why = available(backend)
    if why:
        pytest.skip(why)
    want, text = row["cells"][backend]
    args, p = walked[(row_id(row), backend, True)]
    name = row["key"] + (" " + row["when"] if row["when"] else "")
    refusal = "%s (%s): not with backend %s (" % (name, row["flag"], backend) if row["flag"] else \
        "%s: not with backend %s (" % (name, backend)
    if want == "refuse":
        assert p.returncode == 125 and p.stdout == "", (args, p)
        assert len(p.stderr.splitlines()) == 1 and refusal + text + ")" in p.stderr, (args, p.stderr)
        return
    assert refusal not in p.stderr, (args, p.stderr)
    lines, verdict = warnings_of(backend, p)
    own = ["%s: %s" % (row["key"], w) for b, (o, w) in row["cells"].items() if o == "warn"]
    if want == "warn":
        line = "%s: %s" % (row["key"], text)
        if backend == "kubernetes":
            assert line in lines, (args, p.returncode, p.stderr)
            return
        assert verdict is not None and line in verdict, (args, p.returncode, p.stdout, p.stderr)
        # Without --json the same warning is a line on stderr.
        args, p = walked[(row_id(row), backend, False)]
        assert line in warnings_of(backend, p)[0], (args, p.returncode, p.stderr)
    else:
        assert not [l for l in lines + (verdict or []) if l in own], (args, p.stdout, p.stderr)


# ------------------------------------------------------------------ the table covers the parser

def _c_source(name):
    return open(os.path.join(ROOT, "src", "core", name)).read()


def _setter_keys():
    """Every key string the setters in keys.c, io_keys.c and backend.c compare
    with, with its section's prefix (set_limit compares "memory", ...)."""
    prefix = {"set_limit": "limits.", "pol_io_set_key": "limits.", "set_security": "security.",
              "set_approval": "approval.", "set_audit": "audit.", "set_network": "network."}
    keys = set()
    for src in ("keys.c", "io_keys.c", "backend.c"):
        text = _c_source(src)
        # Function bodies: from a definition line to the next one.
        for m in re.finditer(r"^(?:static )?int (\w+)\((.*?)^}", text, re.S | re.M):
            fn, body = m.group(1), m.group(2)
            if fn in ("pol_zone_option", "pol_zone_finish"):
                continue  # a zone's own keys, under zones
            for lit in re.findall(r'strcmp\((?:key|sub), "([^"]+)"\)', body):
                keys.add(lit if "." in lit and fn not in prefix else prefix.get(fn, "") + lit)
    for lit in re.findall(r'\{ "(\w+)", ZB_IO_', _c_source("io_keys.c")):
        keys.add("limits." + lit)
    return keys


def test_table_covers_every_key_the_parser_knows():
    table = {r["key"] for r in ROWS}
    setters = _setter_keys()
    assert len(setters) > 50, setters
    missing = sorted(k for k in setters if k not in table and k != "security.runtime")
    assert missing == [], "keys the parser accepts without a row in src/core/keytab.c: %s" % missing
    flags = re.findall(r'\{ "(--[\w-]+)", (?:"[-\w]+"|NULL), FLAG_KEY\w*, "([\w.]+)"', _c_source("flags.c"))
    assert len(flags) > 40
    assert [k for _, k in flags if k not in table] == []
    # The YAML sections that are not scalar keys.
    for k in ("zones", "env", "command", "security.capabilities", "approval"):
        assert k in table


def test_a_key_without_a_row_is_unknown(tmp):
    d = tmp.mkdir("kt")
    path = os.path.join(d, "kt.yaml")
    with open(path, "w") as f:
        f.write("sandbox:\n  limits:\n    memroy: 1m\n")
    p = subprocess.run([ZONEBOX, "run", "--config", path, "--", "true"], capture_output=True, text=True)
    assert p.returncode == 125 and "sandbox.limits.memroy: unknown key" in p.stderr, p


def test_docs_show_the_table():
    md = subprocess.run([ZONEBOX, "__keytab", "--markdown"], capture_output=True, text=True, check=True).stdout
    docs = open(os.path.join(ROOT, "docs", "config.md")).read()
    assert md in docs, "docs/config.md's Backends table differs from `zonebox __keytab --markdown`"


@pytest.mark.parametrize("engine", ["docker", "oci"])
def test_export_warns_what_only_run_does(engine, tmp):
    """What zonebox run --backend docker/oci does itself (approval, audit,
    output caps) an exported line or bundle does not: each a warning."""
    d = tmp.mkdir("kt")
    for row in [r for r in ROWS if r["export_loses"] and r["cells"][engine][0] == "honour"]:
        head = ["export", engine] + ([os.path.join(d, row_id(row))] if engine == "oci" else ["--image", "busybox"])
        args = head + key_args(row, engine, d) + ["--", "true"]
        p = subprocess.run([ZONEBOX] + args, capture_output=True, text=True, cwd="/", timeout=RUN_TIMEOUT)
        assert p.returncode == 0, (args, p)
        assert "warning: %s: %s" % (row["key"], row["export_loses"]) in p.stderr, (args, p.stderr)


def test_landlock_default_is_no_warning_on_an_engine_run():
    """Landlock best effort (the default) on an engine's run: a skipped layer
    and a note, not a warning on every run. An export (tests/integration/
    test_engines.py) and strict (tests/unit/test_engines.c) keep the warning."""
    why = engine_reason("runc")
    if why:
        pytest.skip(why)
    p = subprocess.run([ZONEBOX, "run", "--json", "--backend", "oci", "--runtime", "runc", "--", "/bin/true"],
                       capture_output=True, text=True, cwd="/", timeout=RUN_TIMEOUT)
    v = json.loads(p.stdout)
    assert p.returncode == 0 and "landlock" in v["layers"]["skipped"], p
    assert not [w for w in v.get("warnings", []) if w.startswith("landlock")], v
    p = subprocess.run([ZONEBOX, "run", "--backend", "oci", "--runtime", "runc", "--", "/bin/true"],
                       capture_output=True, text=True, cwd="/", timeout=RUN_TIMEOUT)
    assert p.returncode == 0 and p.stderr == "", p
    p = subprocess.run([ZONEBOX, "export", "docker", "--image", "busybox", "--", "true"], capture_output=True,
                       text=True)
    assert p.returncode == 0 and "warning: landlock" in p.stderr, p
