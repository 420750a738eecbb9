"""scripts/gates itself: its last line ("total: N passed, N failed, N
skipped") and its exit code come from one verdict, for every combination of
gates run, passed and failed. The gates here are stubs (a copy of
scripts/gates beside stub scripts and a stub make on PATH), so this checks
the bookkeeping, not the gates."""

import itertools
import os
import re
import shutil
import stat
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STUB_SCRIPTS = {"check-hardening": "HARDENING", "run-tests": "TESTS", "lint": "LINT",
                "check-asan": "ASAN", "check-valgrind": "VALGRIND", "fuzz": "FUZZ",
                "coverage": "COVERAGE"}
# A stub exits with $STUB_<GATE> (0 when unset); the tests stub also writes
# $STUB_TOTAL into build/total.txt when set, as scripts/run-tests does.
STUB = """#!/bin/sh
if [ "%s" = TESTS ] && [ -n "${STUB_TOTAL:-}" ]; then
        mkdir -p build && echo "$STUB_TOTAL" >build/total.txt
fi
exit "${STUB_%s:-0}"
"""


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("gates")
    os.makedirs(root / "scripts")
    os.makedirs(root / "bin")
    shutil.copy(os.path.join(REPO, "scripts", "gates"), root / "scripts" / "gates")
    stubs = {os.path.join("scripts", n): g for n, g in STUB_SCRIPTS.items()}
    stubs[os.path.join("bin", "make")] = "WARNINGS"
    for path, g in stubs.items():
        with open(root / path, "w") as f:
            f.write(STUB % (g, g))
    for path in list(stubs) + [os.path.join("scripts", "gates")]:
        os.chmod(root / path, 0o755)
    return root


def run_gates(tree, gates, outcomes, total=None):
    env = {"PATH": "%s:/usr/bin:/bin" % (tree / "bin"), "GATES": gates}
    env.update({"STUB_" + g.upper(): str(rc) for g, rc in outcomes.items()})
    if total is not None:
        env["STUB_TOTAL"] = total
    p = subprocess.run([str(tree / "scripts" / "gates")], capture_output=True, text=True, env=env,
                       timeout=60)
    last = p.stdout.rstrip("\n").split("\n")[-1]
    m = re.fullmatch(r"total: (\d+) passed, (\d+) failed, (\d+) skipped", last)
    assert m, (gates, outcomes, p.stdout, p.stderr)
    return p.returncode, tuple(int(x) for x in m.groups()), p.stdout


GATES3 = ["warnings", "tests", "lint"]
TOTAL_OK = "total: 7 passed, 0 failed, 2 skipped"
TOTAL_RED = "total: 5 passed, 2 failed, 2 skipped"


@pytest.mark.parametrize("states", list(itertools.product(("absent", "ok", "failed"), repeat=3)),
                         ids=lambda s: "-".join(s))
def test_last_line_and_exit_code_agree(tree, states):
    """Every combination of three gates absent, passing or failing (the
    tests gate writing counts that agree with its exit code)."""
    gates = [g for g, s in zip(GATES3, states) if s != "absent"]
    outcomes = {g: (0 if s == "ok" else 1) for g, s in zip(GATES3, states) if s != "absent"}
    total = None
    if "tests" in outcomes:
        total = TOTAL_OK if outcomes["tests"] == 0 else TOTAL_RED
    rc, (tp, tf, ts), out = run_gates(tree, " ".join(gates) or " ", outcomes, total)
    others_failed = sum(1 for g, r in outcomes.items() if g != "tests" and r)
    want_tf = others_failed + (2 if outcomes.get("tests") else 0)
    if not gates:
        want_tf = 1  # no gate ran: no pass
    assert tf == want_tf, out
    assert (rc == 0) == (tf == 0), out
    if "tests" in outcomes:
        assert (tp, ts) == ((7, 2) if outcomes["tests"] == 0 else (5, 2)), out
    n_failed = sum(1 for r in outcomes.values() if r)
    assert "gates: %d passed, %d failed" % (len(outcomes) - n_failed, n_failed) in out


@pytest.mark.parametrize("tests_rc,total,want_tf", [
    (1, None, 1),                                     # failed, wrote no counts
    (1, "total: 9 passed, 0 failed, 0 skipped", 1),   # failed, counts say green
    (0, None, 1),                                     # passed, wrote no counts
    (0, "total: 9 passed, 3 failed, 0 skipped", 3),   # passed, counts say red
    (1, "garbage", 1),
])
def test_tests_gate_that_contradicts_itself_is_red(tree, tests_rc, total, want_tf):
    rc, (_, tf, _), out = run_gates(tree, "tests hardening", {"tests": tests_rc}, total)
    assert tf == want_tf and rc != 0, out


def test_every_gate_alone(tree):
    for g in ["warnings", "hardening", "tests", "lint", "asan", "valgrind", "fuzz", "coverage"]:
        for r in (0, 1):
            total = (TOTAL_OK if r == 0 else TOTAL_RED) if g == "tests" else None
            rc, (_, tf, _), out = run_gates(tree, g, {g: r}, total)
            assert (rc == 0) == (tf == 0) == (r == 0), (g, r, out)


def test_unknown_gate_fails(tree):
    rc, (_, tf, _), out = run_gates(tree, "warnings nosuchgate", {})
    assert rc != 0 and tf == 1 and "unknown gate 'nosuchgate'" in out, out
