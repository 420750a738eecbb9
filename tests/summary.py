"""The end of scripts/run-tests: one verdict from the unit log, the pytest
JUnit XML and the skip allowlist.

    summary.py UNIT_LOG UNIT_RC PYTEST_XML PYTEST_RC SKIPS_ALLOW

Prints every skip with its reason (and whether tests/skips.allow lets it
pass), then "total: N passed, N failed, N skipped"; exits 0 only when
nothing failed. A skip whose reason no allowlist line matches counts as
failed, not skipped. A missing or unreadable log counts as one failure, so
a harness that did not run never reads as green."""

import fnmatch
import re
import sys
import xml.etree.ElementTree as ET


def read_allow(path):
    """[(pattern, why)] from lines "PATTERN | WHY" (fnmatch patterns matched
    against the whole skip reason; # starts a comment line)."""
    entries = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            pattern, sep, why = (s.strip() for s in line.partition(" | "))
            if not sep or not pattern or not why:
                raise SystemExit("%s:%d: want 'REASON PATTERN | WHY IT MAY SKIP HERE'" % (path, n))
            entries.append((pattern, why))
    return entries


def unit_counts(path):
    """(passed, failed, skips [(name, reason)]); one failure if no summary line."""
    skips, counts = [], None
    try:
        with open(path) as f:
            for line in f:
                m = re.match(r"^skip (\S+): skipped: (.*)$", line.rstrip("\n"))
                if m:
                    skips.append(("unit::" + m.group(1), m.group(2)))
                m = re.match(r"^unit: (\d+) passed, (\d+) failed, (\d+) skipped$", line.rstrip("\n"))
                if m:
                    counts = tuple(int(x) for x in m.groups())
    except OSError:
        pass
    if counts is None:
        return 0, 1, skips
    if counts[2] != len(skips):  # a skip line the pattern above did not read
        return counts[0], counts[1] + 1, skips
    return counts[0], counts[1], skips


def pytest_counts(path):
    """(passed, failed, skips [(test id, reason)]); one failure if unreadable."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return 0, 1, []
    passed = failed = 0
    skips = []
    for case in root.iter("testcase"):
        tid = "%s::%s" % (case.get("classname", ""), case.get("name", ""))
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None:
            sk = case.find("skipped")
            reason = sk.get("message") or (sk.text or "").strip()
            skips.append((tid, re.sub(r"^Skipped: ", "", reason)))
        else:
            passed += 1
    return passed, failed, skips


def main(argv):
    unit_log, unit_rc, xml, py_rc, allow_path = argv[1:6]
    allow = read_allow(allow_path)
    up, uf, us = unit_counts(unit_log)
    pp, pf, ps = pytest_counts(xml)
    if int(unit_rc) != 0 and uf == 0:
        uf = 1  # the unit binary failed (e.g. aborted) without saying so
    if int(py_rc) != 0 and pf == 0:
        pf = 1  # pytest itself failed (no tests collected, a crash, an error in a fixture)
    skipped = unlisted = 0
    seen = set()
    skips = us + ps
    if skips:
        print("skips (%d; each reason must match a line of tests/skips.allow):" % len(skips))
    for tid, reason in skips:
        match = next((p for p, _ in allow if fnmatch.fnmatchcase(reason, p)), None)
        if match is None:
            unlisted += 1
            print("  NOT ALLOWED %s: %s" % (tid, reason))
        else:
            skipped += 1
            seen.add(match)
            print("  allowed     %s: %s" % (tid, reason))
    if unlisted:
        print("run-tests: %d skip(s) with a reason tests/skips.allow does not list: counted as failed"
              % unlisted)
    failed = uf + pf + unlisted
    print("total: %d passed, %d failed, %d skipped" % (up + pp, failed, skipped))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
