"""The command is inside its cgroup from its very first instruction.

The sandbox's first process moves itself into its v1 cgroups (a write of
"0" to their tasks files, which skips the kernel's RCU wait) and is cloned
straight into the v2 one; the command is forked from it later. These tests
run a tiny static program with no C library, whose first instructions
allocate, fork or read /proc/self/cgroup, and check that the limits and the
cgroup already apply to them — from inside and from the host. Last, `zonebox
doctor`'s measured migration cost and favordynmods line."""

import json
import os
import platform
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import ZONEBOX, pids_with_arg, poll

MiB = 1 << 20

# No libc, no start-up code: _start hands the stack to first(), whose first
# statements are the measured action. x86-64 Linux system call numbers.
FIRST_C = r"""
#define SYS_read 0
#define SYS_write 1
#define SYS_open 2
#define SYS_mmap 9
#define SYS_wait4 61
#define SYS_fork 57
#define SYS_exit 60
#define EAGAIN 11

static long sc(long n, long a, long b, long c, long d, long e, long f)
{
        register long r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
        long ret;
        __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                         : "rcx", "r11", "memory");
        return ret;
}

static void say(const char *s)
{
        long n = 0;
        while (s[n])
                n++;
        sc(SYS_write, 1, (long)s, n, 0, 0, 0);
}

__asm__(".globl _start\n_start:\n mov %rsp, %rdi\n and $-16, %rsp\n call first\n hlt\n");

void first(long *sp);
void first(long *sp)
{
        char **argv = (char **)(sp + 1);
        char mode = argv[1] ? argv[1][0] : 0;
        if (mode == 'a') { /* alloc MiB: touch every page of an anonymous mapping */
                long mib = 0;
                for (const char *s = argv[2]; *s; s++)
                        mib = mib * 10 + (*s - '0');
                char *p = (char *)sc(SYS_mmap, 0, mib << 20, 3, 0x22, -1, 0);
                if ((unsigned long)p > -4096ul) {
                        say("mmap failed\n");
                        sc(SYS_exit, 2, 0, 0, 0, 0, 0);
                }
                for (long i = 0; i < mib << 20; i += 4096)
                        p[i] = 1;
                say("touched\n");
        } else if (mode == 'f') { /* fork */
                long pid = sc(SYS_fork, 0, 0, 0, 0, 0, 0);
                if (pid == 0)
                        sc(SYS_exit, 0, 0, 0, 0, 0, 0);
                say(pid == -EAGAIN ? "EAGAIN\n" : pid > 0 ? "forked\n" : "error\n");
                if (pid > 0)
                        sc(SYS_wait4, pid, 0, 0, 0, 0, 0);
        } else if (mode == 'c') { /* /proc/self/cgroup, then wait for stdin to close */
                static char buf[4096];
                long fd = sc(SYS_open, (long)"/proc/self/cgroup", 0, 0, 0, 0, 0);
                long n = fd < 0 ? 0 : sc(SYS_read, fd, (long)buf, sizeof(buf) - 1, 0, 0, 0);
                sc(SYS_write, 1, (long)buf, n > 0 ? n : 0, 0, 0, 0);
                say("--\n");
                sc(SYS_read, 0, (long)buf, 1, 0, 0, 0);
        }
        sc(SYS_exit, 0, 0, 0, 0, 0, 0);
}
"""


@pytest.fixture(scope="module")
def first_dir():
    """A directory (readable by everyone) holding the static program 'first'."""
    if platform.machine() != "x86_64":
        pytest.skip("skipped: the program is written with x86-64 system calls, this is %s"
                    % platform.machine())
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("skipped: no C compiler (cc) on the host to build the static test program")
    d = tempfile.mkdtemp(prefix="zb-it-first-")  # the sandbox's ids must be able to read it
    os.chmod(d, 0o755)
    src, prog = os.path.join(d, "first.c"), os.path.join(d, "first")
    with open(src, "w") as f:
        f.write(FIRST_C)
    subprocess.run([cc, "-O1", "-static", "-nostdlib", "-fno-stack-protector", "-fno-pie", "-no-pie",
                    "-o", prog, src], check=True, capture_output=True, timeout=60)
    os.chmod(prog, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def first(first_dir, *args):
    return ["-v", first_dir + ":/input:ro", "--", "/input/first"] + list(args)


def test_allocation_at_first_instruction_is_oom_killed(zb, first_dir):
    # The control: the same program fits under the limit when it asks for less.
    r, j = zb.json("--memory", "64m", *first(first_dir, "alloc", "8"))
    assert r.rc == 0 and j["stdout"] == "touched\n", r
    r, j = zb.json("--memory", "32m", *first(first_dir, "alloc", "256"))
    assert j["status"] == "oom" and j["oom_killed"] is True, j
    assert r.rc == 137 and "touched" not in j["stdout"], r
    assert j["peak_memory_bytes"] <= 33 * MiB, j["peak_memory_bytes"]


def test_fork_at_first_instruction_counts_against_pids_limit(zb, first_dir):
    # init is one task of the cgroup and the command another: with a limit of
    # 2 the command's very first fork is refused, with 3 it is not.
    r, j = zb.json("--pids-limit", "2", *first(first_dir, "fork"))
    assert r.rc == 0 and j["stdout"] == "EAGAIN\n", r
    r, j = zb.json("--pids-limit", "3", *first(first_dir, "fork"))
    assert r.rc == 0 and j["stdout"] == "forked\n", r


def _limited(lines):
    """{controller: cgroup path} for memory and pids: their v1 hierarchies,
    or the v2 line on a host without v1 controllers."""
    d = dict(line.rstrip("\n").split(":", 2)[1:] for line in lines)
    return {c: d.get(c, d.get("")) for c in ("memory", "pids")}


def test_first_read_of_proc_self_cgroup_names_the_sandbox_cgroup(zb, first_dir):
    mark = "zbfirst%d" % os.getpid()
    p = zb.popen("--memory", "64m", "--pids-limit", "16", *first(first_dir, "cgroup", mark),
                 stdin=subprocess.PIPE, text=True)
    try:
        inside = []
        for line in p.stdout:
            if line == "--\n":
                break
            inside.append(line.rstrip("\n"))
        # Inside, the cgroup namespace's root is the sandbox's cgroup: the
        # first read already shows the command at "/" for memory and pids.
        assert _limited(inside) == {"memory": "/", "pids": "/"}, inside
        # From the host, that root is the cgroup zonebox made for this run.
        pids = poll(lambda: pids_with_arg(mark), timeout=5)
        assert pids, "the command is not visible on the host"
        with open("/proc/%d/cgroup" % pids[-1]) as f:
            host = _limited(f)
        prefix = "zonebox-%d-" % p.pid
        for ctrl in ("memory", "pids"):
            assert os.path.basename(host[ctrl]).startswith(prefix), host
    finally:
        p.stdin.close()
        rc = p.wait(timeout=30)
        p.stdout.close()
        p.stderr.close()
    assert rc == 0


def _favordynmods_on():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            _, _, right = line.partition(" - ")
            fields = right.split()
            if fields and fields[0] in ("cgroup", "cgroup2") and "favordynmods" in fields[2].split(","):
                return True
    with open("/proc/cmdline") as f:
        return "cgroup_favordynmods=" in f.read()


def test_doctor_measures_the_migration_and_leaves_nothing():
    p = subprocess.run([ZONEBOX, "doctor", "--json"], capture_output=True, text=True, timeout=120)
    checks = {c["name"]: c for c in json.loads(p.stdout)["checks"]}
    mig, favor = checks["cgroup migration"], checks["cgroup favordynmods"]
    assert mig["ok"], mig
    assert re.search(r"moved by pid \(cgroup\.procs\): \d+\.\d\d ms", mig["detail"]), mig
    v1_memory = any(" - cgroup " in l and "memory" in l.split(" - ")[1].split()[2].split(",")
                    for l in open("/proc/self/mountinfo"))
    if v1_memory:
        assert re.search(r"moving itself \(v1 tasks, what zonebox does\): \d+\.\d\d ms", mig["detail"]), mig
    assert favor["ok"] is _favordynmods_on(), favor
    assert "never changes it" in favor["detail"]
    made = re.search(r"one sample in (\S+):", mig["detail"]).group(1)
    assert not os.path.exists(made), "doctor left its cgroup %s" % made
