/* Linked into the valgrind build only (make VALGRIND=1, -Wl,--wrap=syscall).
 *
 * valgrind 3.19 (Debian 12) answers the system calls it does not know with
 * ENOSYS instead of passing them to the kernel. The supervisor needs one of
 * them (clone3), and the sandbox's PID 1 — a clone of the supervisor that
 * valgrind keeps running until the command's execve, --trace-children=no
 * or not — needs the new mount API to build its root. So that memcheck can
 * watch the supervisor through whole runs (success, timeout, setup error),
 * this file redoes those calls with ones valgrind runs:
 *
 *   clone3        clone(2) with the same flags and CLONE_PIDFD; CLONE_INTO_CGROUP
 *                 becomes a write of the pid to cgroup.procs right after (the
 *                 child waits for the supervisor's release before its setup)
 *   open_tree     an O_PATH fd of the source, remembered as a detached tree
 *                 with its path: the supervisor opens zones before clone, and
 *                 a bind needs a source in the caller's mount namespace, so a
 *                 child cloned into a new one reopens them by path first
 *   mount_setattr on such a tree: remembered (MOUNT_ATTR_IDMAP is dropped:
 *                 zones are not idmapped in this build); on a mount: a bind
 *                 remount
 *   move_mount    a bind mount (recursive if the tree was), then the remount
 *   pidfd_send_signal  kill(2) of the pid that /proc/self/fdinfo gives for
 *                 the pidfd (racy in general; the supervisor's child cannot
 *                 be reaped while it holds the pidfd, so not here)
 *   setrlimit     RLIMIT_NOFILE: valgrind refuses any hard limit but its own
 *                 (it keeps fds for itself above it), so only the soft limit
 *                 is set; the command runs after execve with valgrind's limits
 *
 * and seccomp(2) itself is ENOSYS under valgrind, so libseccomp is told the
 * kernel's API level, which it would otherwise probe with it.
 *
 * Weaker than the real calls (read-only is not recursive; the tree is bound
 * when attached, not when opened), which is fine for what this build is for:
 * judging the supervisor's memory and fds. The gates that test isolation
 * run the release build. Every other syscall goes through unchanged;
 * landlock's (valgrind: ENOSYS) leave that layer skipped in this build. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

long __real_syscall(long nr, ...);
long __wrap_syscall(long nr, ...);
int __real_setrlimit(__rlimit_resource_t res, const struct rlimit *rl);
int __wrap_setrlimit(__rlimit_resource_t res, const struct rlimit *rl);

#define MAX_TREES 1024

/* Trees opened by open_tree and not yet attached, by fd. */
static struct tree {
        bool open;
        bool recursive;
        uint64_t attr_set;
        char path[512]; /* where it was opened; "": bind through the fd */
} trees[MAX_TREES];

/* The level this kernel reports natively (seccomp_api_get(3)); libseccomp
 * refuses SCMP_ACT_KILL_PROCESS and friends below level 3. */
__attribute__((constructor)) static void seccomp_api_as_native(void)
{
        for (unsigned level = 6; level >= 3; level--)
                if (seccomp_api_set(level) == 0)
                        break;
}

static long pidfd_send_signal_by_kill(int pidfd, int sig)
{
        char path[64], line[128];
        long pid = -1;
        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        while (pid < 0 && fgets(line, sizeof(line), f))
                if (strncmp(line, "Pid:", 4) == 0)
                        pid = strtol(line + 4, NULL, 10); /* "-1" once it is gone */
        fclose(f);
        if (pid <= 0) {
                errno = ESRCH; /* "Pid: -1": the process is gone */
                return -1;
        }
        return kill((pid_t)pid, sig);
}

/* In a child cloned into a new mount namespace, before it mounts anything:
 * the trees opened before clone, reopened by path in this namespace. */
static void reopen_trees(void)
{
        for (int fd = 0; fd < MAX_TREES; fd++) {
                if (!trees[fd].open || !trees[fd].path[0])
                        continue;
                int n = open(trees[fd].path, O_PATH | O_CLOEXEC);
                if (n >= 0 && n != fd) {
                        dup3(n, fd, O_CLOEXEC);
                        close(n);
                }
        }
}

static long clone3_by_clone(const struct clone_args *a, size_t size)
{
        if (size < sizeof(*a) || a->stack || a->set_tid || (a->exit_signal & ~0xffull)) {
                errno = EINVAL;
                return -1;
        }
        unsigned long flags = (unsigned long)(a->flags & ~(unsigned long long)CLONE_INTO_CGROUP) |
                              (unsigned long)a->exit_signal;
        /* x86-64 order: flags, stack, parent_tid (the pidfd with CLONE_PIDFD),
         * child_tid, tls. */
        long pid = __real_syscall(SYS_clone, flags, 0L, (long)a->pidfd, (long)a->child_tid, 0L);
        if (pid == 0 && (a->flags & CLONE_NEWNS))
                reopen_trees();
        if (pid <= 0 || !(a->flags & CLONE_INTO_CGROUP))
                return pid;
        int fd = openat((int)a->cgroup, "cgroup.procs", O_WRONLY | O_CLOEXEC);
        char buf[24];
        int n = snprintf(buf, sizeof(buf), "%ld", pid);
        if (fd < 0 || write(fd, buf, (size_t)n) != n) {
                int e = errno;
                if (fd >= 0)
                        close(fd);
                /* As a failed clone3 would: no child, no pidfd left. */
                __real_syscall(SYS_kill, pid, 9L);
                if (a->flags & CLONE_PIDFD)
                        close(*(int *)(uintptr_t)a->pidfd);
                errno = e;
                return -1;
        }
        close(fd);
        return pid;
}

static long open_tree_by_path(int dfd, const char *path, unsigned flags)
{
        int fd;
        if ((flags & AT_EMPTY_PATH) && !*path)
                fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        else
                fd = openat(dfd, path,
                            O_PATH | O_CLOEXEC | ((flags & AT_SYMLINK_NOFOLLOW) ? O_NOFOLLOW : 0));
        if (fd < 0)
                return -1;
        if (fd >= MAX_TREES) {
                close(fd);
                errno = EMFILE;
                return -1;
        }
        trees[fd] = (struct tree){ .open = true, .recursive = (flags & AT_RECURSIVE) != 0 };
        char link[64];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, trees[fd].path, sizeof(trees[fd].path) - 1);
        trees[fd].path[n > 0 && trees[fd].path[0] == '/' ? n : 0] = '\0';
        return fd;
}

static void fd_path(char *out, size_t size, int fd, const char *rel)
{
        snprintf(out, size, "/proc/self/fd/%d%s%s", fd, *rel ? "/" : "", rel);
}

/* A bind remount keeps the flags the kernel locks in a user namespace
 * (nosuid, nodev, noexec, ...): ask for them again, plus ATTR. */
static int remount(const char *target, uint64_t attr)
{
        static const struct {
                unsigned long st, ms;
        } keep[] = { { ST_RDONLY, MS_RDONLY },   { ST_NOSUID, MS_NOSUID },
                     { ST_NODEV, MS_NODEV },     { ST_NOEXEC, MS_NOEXEC },
                     { ST_NOATIME, MS_NOATIME }, { ST_RELATIME, MS_RELATIME } };
        static const struct {
                uint64_t attr;
                unsigned long ms;
        } want[] = { { MOUNT_ATTR_RDONLY, MS_RDONLY }, { MOUNT_ATTR_NOSUID, MS_NOSUID },
                     { MOUNT_ATTR_NODEV, MS_NODEV },   { MOUNT_ATTR_NOEXEC, MS_NOEXEC } };
        struct statvfs sv;
        unsigned long f = MS_REMOUNT | MS_BIND;

        if (statvfs(target, &sv) < 0)
                return -1;
        for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
                if (sv.f_flag & keep[i].st)
                        f |= keep[i].ms;
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
                if (attr & want[i].attr)
                        f |= want[i].ms;
        return mount("none", target, "none", f, NULL);
}

static long mount_setattr_by_remount(int dfd, const char *path, const struct mount_attr *a)
{
        char target[256];
        if (dfd >= 0 && dfd < MAX_TREES && trees[dfd].open && !*path) {
                trees[dfd].attr_set |= a->attr_set & ~(uint64_t)MOUNT_ATTR_IDMAP;
                return 0;
        }
        fd_path(target, sizeof(target), dfd, path);
        if (a->attr_set && remount(target, a->attr_set) < 0)
                return -1;
        if (a->propagation && mount("none", target, "none", a->propagation, NULL) < 0)
                return -1;
        return 0;
}

static long move_mount_by_bind(int from, int to_dfd, const char *to)
{
        char source[64], target[256];
        if (from < 0 || from >= MAX_TREES || !trees[from].open) {
                errno = EINVAL; /* only trees from open_tree are moved here */
                return -1;
        }
        fd_path(source, sizeof(source), from, "");
        fd_path(target, sizeof(target), to_dfd, to);
        if (mount(source, target, NULL, MS_BIND | (trees[from].recursive ? MS_REC : 0), NULL) < 0)
                return -1;
        if (trees[from].attr_set && remount(target, trees[from].attr_set) < 0)
                return -1;
        if (mount("none", target, "none", MS_PRIVATE | (trees[from].recursive ? MS_REC : 0), NULL) < 0)
                return -1;
        trees[from].open = false;
        return 0;
}

long __wrap_syscall(long nr, ...)
{
        va_list ap;
        long a[6];
        va_start(ap, nr);
        for (int i = 0; i < 6; i++)
                a[i] = va_arg(ap, long);
        va_end(ap);
        switch (nr) {
        case SYS_clone3:
                return clone3_by_clone((const struct clone_args *)a[0], (size_t)a[1]);
        case SYS_open_tree:
                return open_tree_by_path((int)a[0], (const char *)a[1], (unsigned)a[2]);
        case SYS_mount_setattr:
                return mount_setattr_by_remount((int)a[0], (const char *)a[1],
                                                (const struct mount_attr *)a[3]);
        case SYS_move_mount:
                return move_mount_by_bind((int)a[0], (int)a[2], (const char *)a[3]);
        case SYS_pidfd_send_signal:
                return pidfd_send_signal_by_kill((int)a[0], (int)a[1]);
        }
        return __real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

int __wrap_setrlimit(__rlimit_resource_t res, const struct rlimit *rl)
{
        struct rlimit cur, want = *rl;
        if (res == RLIMIT_NOFILE && getrlimit(res, &cur) == 0) {
                want.rlim_max = cur.rlim_max;
                if (want.rlim_cur > cur.rlim_max)
                        want.rlim_cur = cur.rlim_max;
        }
        return __real_setrlimit(res, &want);
}
