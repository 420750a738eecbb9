"""cow zones: overlayfs over a host dir; the changes kept aside as a change set
for zonebox diff, commit and discard (or --cow-action at the end of the run).

Every test runs twice through the ``zb`` fixture: zonebox started by root
(the sandbox is uid 65534 outside) and by uid 65534 itself. The zone's host
dir belongs to 65534 (uid and gid) in both, as overlayfs in a user namespace
can only copy up what the sandbox's ids own. Each test keeps its change sets
in its own store (--cow-dir) and checks the host side: the tree before and
after, the store's contents, no overlay left anywhere.
"""

import json
import os
import shutil
import signal
import stat
import subprocess
import time

import pytest

from conftest import (AS_NOBODY, NOBODY, RUN_TIMEOUT, ZONEBOX, pids_exact, pids_with_arg, poll,
                      tree_snapshot, unique_sleep_arg)


def _chown_tree(d):
    for root, dirs, files in os.walk(d):
        for n in [root] + [os.path.join(root, x) for x in dirs + files]:
            os.lchown(n, NOBODY, NOBODY)


def _write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def _populated(tmp):
    """A host dir with a bit of everything, all owned by uid/gid 65534."""
    d = tmp.mkdir("cowzone")
    _write(os.path.join(d, "existing.txt"), "original\n")
    _write(os.path.join(d, "gone.txt"), "to be deleted\n")
    _write(os.path.join(d, "tomove.txt"), "moving\n")
    _write(os.path.join(d, "modeonly.txt"), "mode\n")
    _write(os.path.join(d, "touched.txt"), "touched\n")
    os.makedirs(os.path.join(d, "olddir", "inner"))
    _write(os.path.join(d, "olddir", "inner", "f"), "old\n")
    os.mkdir(os.path.join(d, "sub"))
    _write(os.path.join(d, "sub", "keep.txt"), "keep\n")
    _write(os.path.join(d, "sub", "drop.txt"), "drop\n")
    os.mkdir(os.path.join(d, "repl"))
    _write(os.path.join(d, "repl", "a"), "a\n")
    _write(os.path.join(d, "repl", "b"), "b\n")
    _write(os.path.join(d, "filetodir"), "was a file\n")
    _chown_tree(d)
    return d


# Writes, creates, deletes, renames, a new tree, a removed tree, a directory
# removed and made again (opaque), a file turned into a directory, a mode
# change, a touch (no change), a symlink and a fifo.
SCRIPT = r"""
set -e
cd /data
echo new > new.txt
echo more >> existing.txt
rm gone.txt
mv tomove.txt moved.txt
mkdir -p newdir/deep
echo deep > newdir/deep/f
mkdir -m 700 private
echo secret > private/s
chmod 600 private/s
rm -rf olddir
chmod 600 modeonly.txt
touch touched.txt
rm sub/drop.txt
echo added > sub/added.txt
rm -rf repl
mkdir repl
echo only > repl/only
rm filetodir
mkdir filetodir
echo inside > filetodir/x
ln -s existing.txt link
mkfifo fifo
ls -A /data | sort
"""

EXPECTED = {
    "added": sorted(["fifo", "link", "moved.txt", "new.txt", "newdir/", "newdir/deep/",
                     "newdir/deep/f", "private/", "private/s", "repl/only", "sub/added.txt",
                     "filetodir/x"]),
    "modified": sorted(["existing.txt", "filetodir/", "modeonly.txt", "repl/"]),
    "deleted": sorted(["gone.txt", "olddir/", "repl/a", "repl/b", "sub/drop.txt", "tomove.txt"]),
}

INSIDE_LIST = sorted(["existing.txt", "fifo", "filetodir", "link", "modeonly.txt", "moved.txt",
                      "new.txt", "newdir", "private", "repl", "sub", "touched.txt"])


class Cow:
    """zonebox run with one cow zone at /data, and the change-set commands,
    as the fixture's user, with a store of the test's own."""

    def __init__(self, zb, tmp):
        self.zb = zb
        parent = tmp.mkdir("cowstore", owner=NOBODY if zb.unprivileged else None)
        self.store = os.path.join(parent, "store")

    def run(self, host, script, *flags, **kw):
        r, j = self.zb.json("--cow-dir", self.store, "-v", host + ":/data:cow", *flags,
                            "--", "sh", "-c", script, **kw)
        return r, j

    def popen(self, host, script, *flags):
        return self.zb.popen("--cow-dir", self.store, "-v", host + ":/data:cow", *flags,
                             "--", "sh", "-c", script)

    def cmd(self, *args):
        argv = [ZONEBOX] + list(args) + ["--cow-dir", self.store]
        if self.zb.unprivileged:
            argv = AS_NOBODY + argv
        return subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd="/",
                              stdin=subprocess.DEVNULL)

    def cmd_json(self, *args):
        p = self.cmd(*args, "--json")
        assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
        return json.loads(p.stdout)

    def sets(self):
        """Entries of the store dir (change sets, and anything left behind)."""
        return sorted(os.listdir(self.store)) if os.path.isdir(self.store) else []

    def upper(self, cow_id):
        return self.cmd_json("diff", cow_id)["zones"][0]["upper"]


def _ok(r, j):
    assert r.rc == 0 and j["status"] == "exited" and j["exit_code"] == 0, r
    return j


def _no_temporaries(d):
    left = [os.path.join(root, n) for root, dirs, files in os.walk(d) for n in dirs + files
            if n.startswith(".zonebox-")]
    assert not left, left


def _no_overlay_on_host(store):
    with open("/proc/self/mountinfo") as f:
        info = f.read()
    assert store not in info and ".zonebox-cow" not in info


# ---------------------------------------------------------------- the run


def test_cow_writes_leave_host_unchanged(zb, tmp):
    d = _populated(tmp)
    before = tree_snapshot(d)
    cow = Cow(zb, tmp)
    r, j = cow.run(d, SCRIPT)
    _ok(r, j)
    assert j["stdout"].split() == INSIDE_LIST
    assert tree_snapshot(d) == before
    assert j["changes"] == {"data": EXPECTED}, j["changes"]
    assert j["cow_action"] == "kept" and j["cow_id"]
    assert cow.sets() == [j["cow_id"]]
    # Only the upper dir and the manifest are kept; the work dir is gone.
    run_dir = os.path.join(cow.store, j["cow_id"])
    assert sorted(os.listdir(run_dir)) == ["manifest.json", "zone-0"]
    assert os.listdir(os.path.join(run_dir, "zone-0")) == ["upper"]
    for p in (cow.store, run_dir, os.path.join(run_dir, "zone-0")):
        st = os.lstat(p)
        assert st.st_uid == (NOBODY if zb.unprivileged else 0) and stat.S_IMODE(st.st_mode) == 0o700, p
    _no_overlay_on_host(cow.store)


def test_cow_reads_see_host_and_writes_see_themselves(zb, tmp):
    d = _populated(tmp)
    cow = Cow(zb, tmp)
    r, j = cow.run(d, "cat /data/existing.txt; echo x > /data/existing.txt; cat /data/existing.txt;"
                      " stat -c %a /data; grep ' /data ' /proc/self/mountinfo")
    _ok(r, j)
    lines = j["stdout"].splitlines()
    assert lines[0] == "original" and lines[1] == "x"
    assert lines[2] == "755"  # the merged root has the host dir's mode
    assert " - overlay " in lines[3] and "nosuid" in lines[3] and "nodev" in lines[3]


def test_cow_upper_dir_not_reachable_inside(zb, tmp):
    d = _populated(tmp)
    cow = Cow(zb, tmp)
    r, j = cow.run(d, "test -e %s && echo store-visible; ls -A / | grep zonebox-cow;"
                      " grep -c overlay /proc/self/mountinfo; true" % cow.store)
    _ok(r, j)
    assert j["stdout"].split() == ["1"], j["stdout"]
    assert j["cow_id"] is None and j["cow_action"] == "none"


def test_cow_without_changes_keeps_nothing(zb, tmp):
    d = _populated(tmp)
    before = tree_snapshot(d)
    cow = Cow(zb, tmp)
    r, j = cow.run(d, "cat /data/existing.txt >/dev/null; touch /data/touched.txt;"
                      " echo same > /data/t; rm /data/t; ls -R /data >/dev/null")
    _ok(r, j)
    assert j["cow_id"] is None and j["cow_action"] == "none"
    assert j["changes"] == {"data": {"added": [], "modified": [], "deleted": []}}
    assert cow.sets() == []
    assert tree_snapshot(d) == before


def test_cow_zone_from_config(zb_root, tmp):
    d = _populated(tmp)
    cow = Cow(zb_root, tmp)
    cfg = os.path.join(tmp.mkdir("cfg"), "sandbox.yaml")
    with open(cfg, "w") as f:
        f.write("sandbox:\n  zones:\n    - {name: work, mode: cow, hostPath: %s}\n"
                "  cow_dir: %s\n  cow_action: commit\n" % (d, cow.store))
    r, j = zb_root.json("--config", cfg, "--", "sh", "-c", "echo cfg > /work/new.txt")
    _ok(r, j)
    assert j["changes"] == {"work": {"added": ["new.txt"], "modified": [], "deleted": []}}
    assert j["cow_action"] == "committed" and j["cow_id"] is None
    assert open(os.path.join(d, "new.txt")).read() == "cfg\n"
    assert cow.sets() == []


# ---------------------------------------------------------------- diff


def test_cow_diff_lists_changes(zb, tmp):
    d = _populated(tmp)
    cow = Cow(zb, tmp)
    r, j = cow.run(d, SCRIPT)
    _ok(r, j)
    cid = j["cow_id"]
    diff = cow.cmd_json("diff", cid)
    assert diff["id"] == cid and diff["status"] == "exited" and diff["exit_code"] == 0
    z = diff["zones"][0]
    assert z["name"] == "data" and z["path"] == "/data" and z["host_path"] == d
    assert {k: z[k] for k in ("added", "modified", "deleted")} == EXPECTED
    assert z["conflicts"] == []
    assert os.path.isdir(z["upper"]) and z["upper"].startswith(cow.store)

    p = cow.cmd("diff", cid)
    assert p.returncode == 0, p
    lines = p.stdout.splitlines()
    for kind, mark in (("added", "A"), ("modified", "M"), ("deleted", "D")):
        for path in EXPECTED[kind]:
            assert "%s /data/%s" % (mark, path) in lines, (path, p.stdout)

    listed = cow.cmd_json("diff", "--list")
    assert [s["id"] for s in listed] == [cid]
    assert listed[0]["zones"][0]["added"] == len(EXPECTED["added"])
    assert cid in cow.cmd("diff", "--list").stdout

    bad = cow.cmd("diff", "no-such-set")
    assert bad.returncode == 125 and "no change set no-such-set" in bad.stderr
    bad = cow.cmd("diff", "../etc")
    assert bad.returncode == 125 and "not a change-set id" in bad.stderr


# ---------------------------------------------------------------- commit and discard


def test_cow_commit_applies(zb, tmp):
    d = _populated(tmp)
    cow = Cow(zb, tmp)
    r, j = cow.run(d, SCRIPT)
    _ok(r, j)
    p = cow.cmd("commit", j["cow_id"])
    assert p.returncode == 0, p
    assert sorted(os.listdir(d)) == INSIDE_LIST

    def text(*parts):
        with open(os.path.join(d, *parts)) as f:
            return f.read()

    assert text("existing.txt") == "original\nmore\n"
    assert text("new.txt") == "new\n" and text("moved.txt") == "moving\n"
    assert text("newdir", "deep", "f") == "deep\n"
    assert text("private", "s") == "secret\n"
    assert text("touched.txt") == "touched\n"
    assert sorted(os.listdir(os.path.join(d, "sub"))) == ["added.txt", "keep.txt"]
    assert os.listdir(os.path.join(d, "repl")) == ["only"]  # the old tree replaced whole
    assert os.path.isdir(os.path.join(d, "filetodir")) and text("filetodir", "x") == "inside\n"
    assert not os.path.exists(os.path.join(d, "olddir"))
    mode = lambda *parts: stat.S_IMODE(os.lstat(os.path.join(d, *parts)).st_mode)
    assert mode("modeonly.txt") == 0o600
    assert mode("private") == 0o700 and mode("private", "s") == 0o600
    assert os.readlink(os.path.join(d, "link")) == "existing.txt"
    assert stat.S_ISFIFO(os.lstat(os.path.join(d, "fifo")).st_mode)
    # Owned as an rw zone's files would be: the zone's owner (65534 here, idmapped as root).
    assert os.lstat(os.path.join(d, "new.txt")).st_uid == NOBODY
    _no_temporaries(d)
    assert cow.sets() == []
    assert cow.cmd_json("diff", "--list") == []
    again = cow.cmd("commit", j["cow_id"])
    assert again.returncode == 125 and "no change set" in again.stderr


def test_cow_discard_drops(zb, tmp):
    d = _populated(tmp)
    before = tree_snapshot(d)
    cow = Cow(zb, tmp)
    _, j1 = cow.run(d, SCRIPT)
    _, j2 = cow.run(d, "echo two > /data/two")
    assert j1["cow_id"] and j2["cow_id"] and j1["cow_id"] != j2["cow_id"]
    assert cow.sets() == sorted([j1["cow_id"], j2["cow_id"]])
    p = cow.cmd("discard", j1["cow_id"], j2["cow_id"])
    assert p.returncode == 0, p
    assert cow.sets() == []
    assert tree_snapshot(d) == before
    p = cow.cmd("discard", j1["cow_id"])
    assert p.returncode == 125 and "no change set" in p.stderr


def test_cow_action_at_run_end(zb, tmp):
    d = _populated(tmp)
    cow = Cow(zb, tmp)
    # commit, exit 0: applied, nothing kept
    r, j = cow.run(d, "echo c > /data/c.txt", "--cow-action", "commit")
    _ok(r, j)
    assert j["cow_action"] == "committed" and j["cow_id"] is None
    assert open(os.path.join(d, "c.txt")).read() == "c\n"
    # commit, exit 3: a failed command commits nothing; the changes are kept
    before = tree_snapshot(d)
    r, j = cow.run(d, "echo f > /data/f.txt; exit 3", "--cow-action", "commit")
    assert r.rc == 3 and j["exit_code"] == 3
    assert j["cow_action"] == "kept" and j["cow_id"]
    assert tree_snapshot(d) == before
    # discard: nothing applied, nothing kept
    r, j2 = cow.run(d, "echo x > /data/x.txt", "--cow-action", "discard")
    _ok(r, j2)
    assert j2["cow_action"] == "discarded" and j2["cow_id"] is None
    assert j2["changes"]["data"]["added"] == ["x.txt"]
    assert tree_snapshot(d) == before
    assert cow.sets() == [j["cow_id"]]


# ---------------------------------------------------------------- killed runs


KILLERS = {
    "timeout": (["--timeout", "1s"], "echo x >> /data/existing.txt; echo n > /data/n; rm /data/gone.txt; sleep 30",
                "timeout", 124),
    "oom": (["--memory", "32m"],
            "echo x >> /data/existing.txt; rm -rf /data/olddir;"
            " exec python3 -c 'x=[]\nwhile True: x.append(bytearray(1<<20))'",
            "oom", 137),
}


@pytest.mark.parametrize("kind", sorted(KILLERS))
def test_cow_killed_run_changes_nothing(zb, tmp, kind):
    flags, script, status, rc = KILLERS[kind]
    d = _populated(tmp)
    before = tree_snapshot(d)
    cow = Cow(zb, tmp)
    # Even with commit asked for: a run that did not succeed commits nothing.
    r, j = cow.run(d, script, "--cow-action", "commit", *flags)
    assert j["status"] == status and r.rc == rc, r
    assert tree_snapshot(d) == before
    assert j["cow_action"] == "kept" and j["cow_id"]
    assert "existing.txt" in j["changes"]["data"]["modified"]
    # ... and it can be looked at, and dropped.
    assert cow.cmd_json("diff", j["cow_id"])["status"] == status
    assert cow.cmd("discard", j["cow_id"]).returncode == 0
    assert tree_snapshot(d) == before and cow.sets() == []


def test_cow_sigkill_of_zonebox_changes_nothing(zb, tmp):
    d = _populated(tmp)
    before = tree_snapshot(d)
    cow = Cow(zb, tmp)
    marker = unique_sleep_arg()
    proc = cow.popen(d, "echo x >> /data/existing.txt; rm -rf /data/sub; echo r > /data/ready;"
                        " sleep %s" % marker)
    try:
        def ready():
            for s in cow.sets():
                if os.path.exists(os.path.join(cow.store, s, "zone-0", "upper", "ready")):
                    return s
            return None
        run_dir = poll(ready, timeout=10)
        assert run_dir, "the sandbox never wrote"
        assert poll(lambda: pids_with_arg(marker), timeout=5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert poll(lambda: not pids_with_arg(marker), timeout=5), "the sandbox outlived zonebox"
    assert tree_snapshot(d) == before
    _no_overlay_on_host(cow.store)
    # Unfinished (no manifest), held by nobody: the next look removes it.
    assert cow.sets() == [run_dir]
    assert cow.cmd_json("diff", "--list") == []
    assert cow.sets() == []
    # A new run in the same store works and also cleans up.
    _ok(*cow.run(d, "true"))
    assert cow.sets() == []


# ---------------------------------------------------------------- conflicts


def test_cow_conflict_refuses_commit(zb, tmp):
    d = _populated(tmp)
    cow = Cow(zb, tmp)
    r, j = cow.run(d, "echo sandbox > /data/existing.txt; echo n > /data/new.txt; rm /data/gone.txt")
    _ok(r, j)
    cid = j["cow_id"]
    # The host changes two touched paths after the run.
    for name, text in (("existing.txt", "host edit\n"), ("new.txt", "host made this\n")):
        _write(os.path.join(d, name), text)
        os.lchown(os.path.join(d, name), NOBODY, NOBODY)
    before = tree_snapshot(d)
    diff = cow.cmd_json("diff", cid)
    assert sorted(c["path"] for c in diff["zones"][0]["conflicts"]) == ["existing.txt", "new.txt"]
    p = cow.cmd("commit", cid)
    assert p.returncode == 1, p
    assert "conflict /data/existing.txt: modified on the host" in p.stdout
    assert "conflict /data/new.txt: created on the host" in p.stdout
    assert "nothing was applied" in p.stderr
    assert tree_snapshot(d) == before  # gone.txt too: all or nothing
    pj = cow.cmd("commit", cid, "--json")
    assert pj.returncode == 1
    out = json.loads(pj.stdout)
    assert out["committed"] is False and len(out["conflicts"]) == 2
    assert cow.sets() == [cid]  # kept for the user to decide
    assert cow.cmd("discard", cid).returncode == 0


def test_cow_host_change_during_run_is_a_conflict(zb, tmp):
    d = _populated(tmp)
    cow = Cow(zb, tmp)
    marker = unique_sleep_arg()
    proc = cow.popen(d, "echo sandbox >> /data/existing.txt; echo r > /data/ready; sleep %s"
                        % marker, "--json", "--timeout", "3s", "--cow-action", "commit")
    try:
        # The sleep itself (not zonebox or sh, whose argv hold the marker
        # too): the sandbox's write has happened and the run is under way.
        assert poll(lambda: pids_exact(["sleep", marker]), timeout=10)
        time.sleep(0.05)
        _write(os.path.join(d, "existing.txt"), "host edit while it ran\n")
        os.lchown(os.path.join(d, "existing.txt"), NOBODY, NOBODY)
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    j = json.loads(out)
    assert j["status"] == "timeout" and j["cow_id"]
    p = cow.cmd("commit", j["cow_id"])
    assert p.returncode == 1 and "changed on the host while the command ran" in p.stdout, p
    assert open(os.path.join(d, "existing.txt")).read() == "host edit while it ran\n"


def test_cow_action_commit_reports_conflict(zb, tmp):
    """The command succeeds but its commit is refused: exit 125, cow_error."""
    d = _populated(tmp)
    cow = Cow(zb, tmp)
    marker = unique_sleep_arg()
    proc = cow.popen(d, "echo sandbox >> /data/existing.txt; sleep %s & wait" % marker.replace("100.", "2."),
                     "--json", "--cow-action", "commit")
    try:
        assert poll(lambda: pids_exact(["sleep", marker.replace("100.", "2.")]), timeout=10)
        time.sleep(0.05)
        _write(os.path.join(d, "existing.txt"), "host edit\n")
        os.lchown(os.path.join(d, "existing.txt"), NOBODY, NOBODY)
        out, _ = proc.communicate(timeout=RUN_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    j = json.loads(out)
    assert j["status"] == "exited" and j["exit_code"] == 0
    assert proc.returncode == 125 and j["cli_exit_code"] == 125
    assert j["cow_action"] == "kept" and j["cow_id"]
    assert "conflict" in j["cow_error"] and "existing.txt" in j["cow_error"]
    assert open(os.path.join(d, "existing.txt")).read() == "host edit\n"


# ---------------------------------------------------------------- symlinks


def test_cow_symlinks_from_sandbox_are_copied_not_followed(zb, tmp):
    d = _populated(tmp)
    outside = tmp.mkdir("outside", owner=NOBODY, mode=0o777)
    _write(os.path.join(outside, "victim"), "outside\n", 0o666)
    os.lchown(os.path.join(outside, "victim"), NOBODY, NOBODY)
    out_before = tree_snapshot(outside)
    cow = Cow(zb, tmp)
    # Inside, the links point nowhere (the outside dir is not in the sandbox).
    r, j = cow.run(d, "ln -s %s /data/esc; ln -s %s/victim /data/victim;"
                      " echo x > /data/esc/f 2>/dev/null; true" % (outside, outside))
    _ok(r, j)
    assert j["changes"]["data"]["added"] == ["esc", "victim"]
    p = cow.cmd("commit", j["cow_id"])
    assert p.returncode == 0, p
    assert os.readlink(os.path.join(d, "esc")) == outside
    assert os.readlink(os.path.join(d, "victim")) == outside + "/victim"
    assert tree_snapshot(outside) == out_before


def test_cow_symlink_planted_in_upper_is_not_followed(zb, tmp):
    d = _populated(tmp)
    before = tree_snapshot(d)
    outside = tmp.mkdir("outside", owner=NOBODY, mode=0o777)
    out_before = tree_snapshot(outside)
    cow = Cow(zb, tmp)
    r, j = cow.run(d, "echo planted > /data/sub/new.txt; echo top > /data/top.txt")
    _ok(r, j)
    upper = cow.upper(j["cow_id"])
    # Someone swaps the upper dir's copy of sub for a symlink to outside.
    shutil.rmtree(os.path.join(upper, "sub"))
    os.symlink(outside, os.path.join(upper, "sub"))
    p = cow.cmd("commit", j["cow_id"])
    assert p.returncode == 125, p
    assert tree_snapshot(outside) == out_before
    assert tree_snapshot(d) == before  # top.txt was not applied either


def test_cow_symlink_swapped_in_on_host_is_not_followed(zb, tmp):
    d = _populated(tmp)
    outside = tmp.mkdir("outside", owner=NOBODY, mode=0o777)
    out_before = tree_snapshot(outside)
    cow = Cow(zb, tmp)
    r, j = cow.run(d, "echo planted > /data/sub/new.txt; rm /data/sub/keep.txt")
    _ok(r, j)
    # After the run, the host's sub becomes a symlink to a dir outside the zone.
    os.rename(os.path.join(d, "sub"), os.path.join(d, "sub.bak"))
    os.symlink(outside, os.path.join(d, "sub"))
    p = cow.cmd("commit", j["cow_id"])
    assert p.returncode == 1, p
    assert "conflict /data/sub/new.txt" in p.stdout and "symlink" in p.stdout
    assert tree_snapshot(outside) == out_before
    assert sorted(os.listdir(os.path.join(d, "sub.bak"))) == ["drop.txt", "keep.txt"]
