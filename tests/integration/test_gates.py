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


# ------------------------------------------------------------ run-tests' verdict (tests/summary.py)

SUMMARY = os.path.join(REPO, "tests", "summary.py")
XML = """<testsuites><testsuite>
<testcase classname="t" name="ok1"/><testcase classname="t" name="ok2"/>
<testcase classname="t" name="bad"><failure message="boom"/></testcase>
<testcase classname="t" name="sk1"><skipped message="no swap on this host"/></testcase>
<testcase classname="t" name="sk2"><skipped message="%s"/></testcase>
</testsuite></testsuites>"""
UNIT = "ok   a\nskip b: skipped: %s\nunit: 1 passed, 0 failed, 1 skipped\n"


def summarize(tmp_path, skip2, unit_skip, failures=True, allow="no swap on* | why\n", rcs=(0, 1)):
    xml = XML % skip2
    if not failures:
        xml = xml.replace('<failure message="boom"/>', "")
    (tmp_path / "p.xml").write_text(xml)
    (tmp_path / "u.log").write_text(UNIT % unit_skip)
    (tmp_path / "allow").write_text(allow)
    p = subprocess.run(["/usr/bin/python3", SUMMARY, str(tmp_path / "u.log"), str(rcs[0]),
                        str(tmp_path / "p.xml"), str(rcs[1]), str(tmp_path / "allow")],
                       capture_output=True, text=True, timeout=30)
    last = p.stdout.rstrip("\n").split("\n")[-1]
    return p.returncode, last, p.stdout + p.stderr


def test_listed_skips_pass(tmp_path):
    rc, last, out = summarize(tmp_path, "no swap on this host either", "no swap on a unit", failures=False,
                              rcs=(0, 0))
    assert rc == 0 and last == "total: 4 passed, 0 failed, 3 skipped", out
    assert "allowed     t::sk2: no swap on this host either" in out, out


def test_unlisted_skip_fails_the_run(tmp_path):
    rc, last, out = summarize(tmp_path, "zonebox as uid 65534 failed", "no swap on a unit", failures=False,
                              rcs=(0, 0))
    assert rc == 1 and last == "total: 4 passed, 1 failed, 2 skipped", out
    assert "NOT ALLOWED t::sk2: zonebox as uid 65534 failed" in out, out
    # a unit test's skip too
    rc, last, out = summarize(tmp_path, "no swap on x", "Landlock ABI 5 < 6", failures=False, rcs=(0, 0))
    assert rc == 1 and "NOT ALLOWED unit::b: Landlock ABI 5 < 6" in out, out


def test_failures_and_missing_logs_count(tmp_path):
    rc, last, out = summarize(tmp_path, "no swap on x", "no swap on y")
    assert rc == 1 and last == "total: 3 passed, 1 failed, 3 skipped", out
    (tmp_path / "p.xml").unlink()
    p = subprocess.run(["/usr/bin/python3", SUMMARY, str(tmp_path / "u.log"), "0",
                        str(tmp_path / "p.xml"), "0", str(tmp_path / "allow")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and p.stdout.rstrip().endswith("1 failed, 1 skipped"), p.stdout


def test_allowlist_lines_need_a_why(tmp_path):
    rc, last, out = summarize(tmp_path, "no swap", "no swap", allow="no swap*\n")
    assert rc != 0 and "want 'REASON PATTERN | WHY" in out, out


def test_the_checked_in_allowlist_parses_and_is_short():
    import importlib.util
    spec = importlib.util.spec_from_file_location("summary", SUMMARY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    entries = mod.read_allow(os.path.join(REPO, "tests", "skips.allow"))
    assert 1 <= len(entries) <= 7 and all(len(why) > 20 for _, why in entries), entries
