/* Syscalls: a seccomp-bpf filter built with libseccomp in the supervisor and
 * installed by the command process as its very last step before execve,
 * after no_new_privs (which the kernel requires of an unprivileged filter).
 * Only execve itself, and the write/_exit of a failed exec, run under it
 * before the command does.
 *
 * The "default" profile is an allowlist in the spirit of Docker's default
 * profile for a container without capabilities: what shells, coreutils,
 * python3, gcc and make need; everything else fails with EPERM. Argument
 * filters close what an allowlist leaves open: clone and unshare cannot
 * create namespaces, ioctl cannot push input into a terminal (TIOCSTI,
 * TIOCLINUX) nor make a btrfs subvolume or snapshot, socket opens only unix, inet, inet6 and netlink-route sockets
 * (other families get EAFNOSUPPORT, so programs fall back), personality takes
 * only Docker's five values. clone3 gets ENOSYS: its flags live in memory
 * the filter cannot read, and glibc falls back to clone on ENOSYS.
 *
 * Other ABIs: the filter covers the native ABI only; any other audit arch
 * kills the process (SCMP_FLTATR_ACT_BADARCH = KILL_PROCESS). On x86_64 that
 * is i386 (int $0x80, which a 64-bit process can execute too, with other
 * syscall numbers) and x32 (nr | 0x40000000, a separate arch to libseccomp).
 * Sandboxed code is 64-bit; rules duplicated for compat ABIs are where
 * filters go wrong (i386's socketcall hides socket's arguments in memory).
 * A JSON profile that lists more arches (architectures, archMap) is honoured
 * as written.
 *
 * This file: the default profile, the pieces every filter is built from
 * (seccomp_int.h), ns_seccomp_build and the install. Docker/OCI JSON
 * profiles are read in seccomp_json.c. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/netlink.h>

#include "../core/seccomp_names.h"
#include "../core/util.h"
#include "seccomp.h" // NOLINT(readability-duplicate-include): <seccomp.h> above is libseccomp's
#include "seccomp_int.h"

#define DEFAULT_ACTION SCMP_ACT_ERRNO(EPERM)

/* Everything the default profile allows without looking at arguments.
 * Names unknown on the build's arch (the *32 and *_time64 calls on a 64-bit
 * arch, arch_prctl off x86) are skipped. Left out on purpose, so they fail
 * with EPERM: mount and the new mount API, pivot_root, chroot, setns,
 * ptrace, process_vm_*, kcmp, pidfd_getfd, bpf, perf_event_open,
 * userfaultfd, io_uring_*, keyctl/add_key/request_key, *_module, kexec_*,
 * reboot, swap, clock and time setting (adjtimex too), acct, quotactl*,
 * syslog, iopl/ioperm, modify_ldt, vhangup, name_to_handle_at,
 * open_by_handle_at, lookup_dcookie, fanotify_*, memfd_secret, NUMA policy,
 * statmount/listmount, lsm_*, and the obsolete uselib, ustat, sysfs,
 * _sysctl, nfsservctl, create_module, get_kernel_syms, query_module, vm86*.
 * landlock_* are allowed: a process can only restrict itself further, and
 * so is seccomp, but without SECCOMP_FILTER_FLAG_NEW_LISTENER (below). */
static const char *const default_allow[] = {
        /* processes, threads, signals */
        "execve", "execveat", "exit", "exit_group", "fork", "vfork", "wait4", "waitid",
        "waitpid", "kill", "tkill", "tgkill", "rt_sigaction", "rt_sigpending",
        "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
        "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sigaltstack",
        "signalfd", "signalfd4", "sigprocmask", "sigreturn", "restart_syscall", "pause",
        "pidfd_open", "pidfd_send_signal", "process_mrelease", "set_tid_address",
        "set_robust_list", "get_robust_list", "rseq", "arch_prctl", "set_thread_area",
        "get_thread_area", "prctl", "landlock_create_ruleset",
        "landlock_add_rule", "landlock_restrict_self", "capget", "capset",
        "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid",
        /* identity: without capabilities these can only switch among own ids */
        "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
        "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
        "setfsuid", "setfsgid", "getuid32", "geteuid32", "getgid32", "getegid32",
        "getresuid32", "getresgid32", "getgroups32", "setuid32", "setgid32", "setreuid32",
        "setregid32", "setresuid32", "setresgid32", "setgroups32", "setfsuid32",
        "setfsgid32",
        /* scheduling and resources (cgroups and rlimits bound them) */
        "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getattr",
        "sched_setattr", "sched_getparam", "sched_setparam", "sched_getscheduler",
        "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
        "sched_rr_get_interval", "sched_rr_get_interval_time64", "getpriority",
        "setpriority", "ioprio_get", "ioprio_set", "getrlimit", "setrlimit", "ugetrlimit",
        "prlimit64", "getrusage", "times", "sysinfo", "uname", "getcpu", "umask", "getrandom",
        /* memory */
        "brk", "mmap", "mmap2", "munmap", "mprotect", "mremap", "madvise", "mincore",
        "msync", "mlock", "mlock2", "mlockall", "munlock", "munlockall", "remap_file_pages",
        "membarrier", "memfd_create", "pkey_alloc", "pkey_free", "pkey_mprotect", "mseal",
        "map_shadow_stack", "cacheflush", "riscv_flush_icache",
        /* time */
        "clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64",
        "clock_nanosleep", "clock_nanosleep_time64", "nanosleep", "gettimeofday", "time",
        "alarm", "getitimer", "setitimer", "timer_create", "timer_delete",
        "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
        "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
        "timerfd_settime", "timerfd_settime64",
        /* futexes and waiting */
        "futex", "futex_time64", "futex_waitv", "futex_wake", "futex_wait",
        "futex_requeue", "poll", "ppoll", "ppoll_time64", "select", "_newselect",
        "pselect6", "pselect6_time64", "epoll_create", "epoll_create1", "epoll_ctl",
        "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2",
        "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
        /* file descriptors and I/O */
        "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
        "preadv2", "pwritev2", "lseek", "_llseek", "close", "close_range", "dup", "dup2",
        "dup3", "pipe", "pipe2", "fcntl", "fcntl64", "flock", "fsync", "fdatasync",
        "sync", "syncfs", "sync_file_range", "sync_file_range2", "arm_sync_file_range",
        "fadvise64", "fadvise64_64", "arm_fadvise64_64", "readahead", "fallocate",
        "sendfile", "sendfile64", "copy_file_range", "splice", "tee", "vmsplice",
        "cachestat", "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents",
        "io_pgetevents", "io_pgetevents_time64",
        /* paths (mounts and Landlock decide what is reachable) */
        "open", "openat", "openat2", "creat", "access", "faccessat", "faccessat2",
        "stat", "lstat", "fstat", "newfstatat", "stat64", "lstat64", "fstat64",
        "fstatat64", "statx", "statfs", "fstatfs", "statfs64", "fstatfs64", "readlink",
        "readlinkat", "getcwd", "chdir", "fchdir", "getdents", "getdents64", "mkdir",
        "mkdirat", "rmdir", "mknod", "mknodat", "link", "linkat", "symlink", "symlinkat",
        "unlink", "unlinkat", "rename", "renameat", "renameat2", "truncate", "truncate64",
        "ftruncate", "ftruncate64", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown",
        "fchown", "lchown", "fchownat", "chown32", "fchown32", "lchown32", "utime",
        "utimes", "utimensat", "utimensat_time64", "futimesat", "getxattr", "lgetxattr",
        "fgetxattr", "setxattr", "lsetxattr", "fsetxattr", "listxattr", "llistxattr",
        "flistxattr", "removexattr", "lremovexattr", "fremovexattr", "getxattrat",
        "setxattrat", "listxattrat", "removexattrat", "file_getattr", "file_setattr",
        /* sockets (socket itself is filtered below) */
        "socketpair", "bind", "connect", "listen", "accept", "accept4", "getsockname",
        "getpeername", "getsockopt", "setsockopt", "shutdown", "send", "sendto",
        "sendmsg", "sendmmsg", "recv", "recvfrom", "recvmsg", "recvmmsg",
        "recvmmsg_time64",
        /* System V and POSIX IPC (the IPC namespace scopes them) */
        "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop",
        "semtimedop_time64", "semctl", "shmget", "shmat", "shmdt", "shmctl", "mq_open",
        "mq_unlink", "mq_timedsend", "mq_timedsend_time64", "mq_timedreceive",
        "mq_timedreceive_time64", "mq_notify", "mq_getsetattr",
        /* 32-bit arm */
        "breakpoint", "set_tls",
};

/* Syscalls newer than the libseccomp zonebox is built with may know
 * (Debian 12's 2.5.4 stops at futex_requeue). Since Linux 5.1 new syscalls
 * get one number on every arch but alpha, ia64 and mips, so the number can
 * stand in for the name on the native arch. */
#if !defined(__alpha__) && !defined(__ia64__) && !defined(__mips__)
#define UNIFIED_SYSCALL_NUMBERS 1
static const struct {
        const char *name;
        int nr;
} newer_syscalls[] = {
        { "cachestat", 451 },         { "fchmodat2", 452 },        { "map_shadow_stack", 453 },
        { "futex_wake", 454 },        { "futex_wait", 455 },       { "futex_requeue", 456 },
        { "statmount", 457 },         { "listmount", 458 },        { "lsm_get_self_attr", 459 },
        { "lsm_set_self_attr", 460 }, { "lsm_list_modules", 461 }, { "mseal", 462 },
        { "setxattrat", 463 },        { "getxattrat", 464 },       { "listxattrat", 465 },
        { "removexattrat", 466 },     { "open_tree_attr", 467 },   { "file_getattr", 468 },
        { "file_setattr", 469 },
};
/* Syscalls after the newest one above return ENOSYS rather than EPERM, so a
 * libc newer than this table falls back to the older call, as it does on an
 * older kernel (runc's "-ENOSYS stub" does the same). */
#define FUTURE_SYSCALL_FIRST 470
#define FUTURE_SYSCALL_LAST 511
#endif

static bool in_list(const char *name, const char *const *list, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (list[i] && strcmp(list[i], name) == 0)
                        return true;
        return false;
}

/* Named in the policy's allow or deny list: those win over any profile. */
bool ns_seccomp_overridden(const struct ns_seccomp_spec *spec, const char *name)
{
        return spec && (in_list(name, spec->allow, spec->n_allow) ||
                        in_list(name, spec->deny, spec->n_deny));
}

/* The native syscall number, a negative libseccomp pseudo-number for a
 * syscall that exists only on other arches, or __NR_SCMP_ERROR. *raw is set
 * when the number comes from newer_syscalls, i.e. libseccomp cannot map it
 * to another arch. */
int ns_syscall_number(const char *name, bool *raw)
{
        int nr = seccomp_syscall_resolve_name(name);
        *raw = false;
        if (nr != __NR_SCMP_ERROR)
                return nr;
#ifdef UNIFIED_SYSCALL_NUMBERS
        for (size_t i = 0; i < ARRAY_SIZE(newer_syscalls); i++)
                if (strcmp(newer_syscalls[i].name, name) == 0) {
                        *raw = true;
                        return newer_syscalls[i].nr;
                }
#endif
        return __NR_SCMP_ERROR;
}

static bool syscall_known_anywhere(const char *name)
{
        bool raw;
        if (ns_syscall_number(name, &raw) != __NR_SCMP_ERROR)
                return true;
        for (size_t i = 0; i < sc_n_arches; i++)
                if (seccomp_syscall_resolve_name_arch(sc_arches[i].token, name) != __NR_SCMP_ERROR)
                        return true;
        return false;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const char *name,
                    unsigned n_args, const struct scmp_arg_cmp *args, struct zb_error *err)
{
        int r = seccomp_rule_add_array(ctx, action, nr, n_args, args);
        if (r < 0)
                return err_errno(err, -r, "layer seccomp: syscall '%s': cannot add rule", name);
        return 0;
}

/* The subtrees below LEVEL (the top LEVEL bits fixed to PREFIX). */
static int low32_complement(const uint32_t *deny, size_t n, unsigned level, uint32_t prefix,
                            ns_low32_emit *emit, void *ctx)
{
        uint32_t fixed = level == 0 ? 0 : ~0u << (32 - level);
        bool hit = false;

        for (size_t i = 0; i < n; i++)
                if ((deny[i] & fixed) == prefix)
                        hit = true;
        if (!hit)
                return emit(ctx, fixed, prefix);
        if (level == 32)
                return 0; /* exactly a denied value */
        int r = low32_complement(deny, n, level + 1, prefix, emit, ctx);
        if (r < 0)
                return r;
        return low32_complement(deny, n, level + 1, prefix | (1u << (31 - level)), emit, ctx);
}

int ns_low32_complement(const uint32_t *deny, size_t n, ns_low32_emit *emit, void *ctx)
{
        return low32_complement(deny, n, 0, 0, emit, ctx);
}

struct ioctl_emit {
        scmp_filter_ctx filter;
        int nr;
        struct zb_error *err;
};

static int ioctl_allow(void *ctx, uint32_t mask, uint32_t prefix)
{
        const struct ioctl_emit *e = ctx;
        struct scmp_arg_cmp cmp = { .arg = 1, .op = SCMP_CMP_MASKED_EQ, .datum_a = mask, .datum_b = prefix };
        return add_rule(e->filter, SCMP_ACT_ALLOW, e->nr, "ioctl", mask ? 1 : 0, &cmp, e->err);
}

/* ioctl allowed unless the low 32 bits of its request are one of
 * NS_IOCTL_DENY (seccomp.h says why): the kernel reads the request as an
 * unsigned int, so a compare on the whole 64-bit register could be dodged
 * by setting the high bits. libseccomp takes one comparison per argument
 * per rule, and refuses a rule whose action is the default (EPERM), so the
 * allowed complement is built instead (ns_low32_complement). */
static int ioctl_rules(scmp_filter_ctx ctx, struct zb_error *err)
{
        static const uint32_t deny[] = NS_IOCTL_DENY;
        bool raw;
        struct ioctl_emit e = { .filter = ctx, .nr = ns_syscall_number("ioctl", &raw), .err = err };
        if (e.nr < 0)
                return 0;
        return ns_low32_complement(deny, ARRAY_SIZE(deny), ioctl_allow, &e);
}


static int namespace_rules(scmp_filter_ctx ctx, const struct ns_seccomp_spec *spec,
                           struct zb_error *err)
{
        bool raw;
        int nr, r;

        /* A nested user namespace would hand the command a full capability
         * set over new namespaces: the door to most container escapes. */
        if (!ns_seccomp_overridden(spec, "clone") && (nr = ns_syscall_number("clone", &raw)) >= 0) {
                struct scmp_arg_cmp cmp = { .arg = CLONE_FLAGS_ARG, .op = SCMP_CMP_MASKED_EQ,
                                            .datum_a = NS_FLAGS_CLONE, .datum_b = 0 };
                if ((r = add_rule(ctx, SCMP_ACT_ALLOW, nr, "clone", 1, &cmp, err)) < 0)
                        return r;
        }
        if (!ns_seccomp_overridden(spec, "unshare") && (nr = ns_syscall_number("unshare", &raw)) >= 0) {
                struct scmp_arg_cmp cmp = { .arg = 0, .op = SCMP_CMP_MASKED_EQ,
                                            .datum_a = NS_FLAGS_UNSHARE, .datum_b = 0 };
                if ((r = add_rule(ctx, SCMP_ACT_ALLOW, nr, "unshare", 1, &cmp, err)) < 0)
                        return r;
        }
        if (!ns_seccomp_overridden(spec, "clone3") && (nr = ns_syscall_number("clone3", &raw)) >= 0)
                return add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, "clone3", 0, NULL, err);
        return 0;
}

/* unix, inet and inet6 sockets, and netlink for NETLINK_ROUTE only (libc's
 * getaddrinfo asks it for the interfaces; the net namespace scopes it).
 * Every other family (packet, vsock, alg, bluetooth, ...) gets EAFNOSUPPORT,
 * which programs treat as "not built in" and fall back. Each rule compares
 * the whole 64-bit argument, so high garbage bits only ever deny. */
static int socket_rules(scmp_filter_ctx ctx, struct zb_error *err)
{
        bool raw;
        int nr = ns_syscall_number("socket", &raw), r;
        if (nr < 0)
                return 0;
        for (uint64_t family = 0; family <= AF_NETLINK; family++) {
                struct scmp_arg_cmp cmp[2] = {
                        { .arg = 0, .op = SCMP_CMP_EQ, .datum_a = family },
                        { .arg = 2, .op = SCMP_CMP_EQ, .datum_a = NETLINK_ROUTE },
                };
                if (family == AF_UNIX || family == AF_INET || family == AF_INET6) {
                        r = add_rule(ctx, SCMP_ACT_ALLOW, nr, "socket", 1, cmp, err);
                } else if (family == AF_NETLINK) {
                        r = add_rule(ctx, SCMP_ACT_ALLOW, nr, "socket", 2, cmp, err);
                        cmp[1].op = SCMP_CMP_NE;
                        if (r == 0)
                                r = add_rule(ctx, SCMP_ACT_ERRNO(EPROTONOSUPPORT), nr, "socket",
                                             2, cmp, err);
                } else {
                        r = add_rule(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), nr, "socket", 1, cmp,
                                     err);
                }
                if (r < 0)
                        return r;
        }
        struct scmp_arg_cmp above = { .arg = 0, .op = SCMP_CMP_GT, .datum_a = AF_NETLINK };
        return add_rule(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), nr, "socket", 1, &above, err);
}

/* A filter of its own, but no listener: a newer filter returning
 * SECCOMP_RET_USER_NOTIF wins the tie with zonebox's (the kernel runs the
 * newest first), and its listener could answer CONTINUE, running a syscall
 * zonebox denies (notify.c). The kernel refuses a second listener in one
 * chain (EBUSY) already; this says EPERM whatever the kernel does. Without
 * the flag the command's USER_NOTIF returns ENOSYS. */
static int seccomp_rule(scmp_filter_ctx ctx, struct zb_error *err)
{
        bool raw;
        int nr = ns_syscall_number("seccomp", &raw);
        if (nr < 0)
                return 0;
        struct scmp_arg_cmp cmp = { .arg = 1, .op = SCMP_CMP_MASKED_EQ,
                                    .datum_a = SECCOMP_FILTER_FLAG_NEW_LISTENER, .datum_b = 0 };
        return add_rule(ctx, SCMP_ACT_ALLOW, nr, "seccomp", 1, &cmp, err);
}

/* Docker's values (seccomp.h says why). */
static int personality_rules(scmp_filter_ctx ctx, struct zb_error *err)
{
        static const uint64_t allowed[] = NS_PERSONALITY_ALLOW;
        bool raw;
        int nr = ns_syscall_number("personality", &raw);
        if (nr < 0)
                return 0;
        for (size_t i = 0; i < ARRAY_SIZE(allowed); i++) {
                struct scmp_arg_cmp cmp = { .arg = 0, .op = SCMP_CMP_EQ, .datum_a = allowed[i] };
                int r = add_rule(ctx, SCMP_ACT_ALLOW, nr, "personality", 1, &cmp, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The calls whose mode argument may not carry a set-id bit (seccomp.h). */
static const struct {
        const char *name;
        unsigned arg; /* the mode's argument index */
} mode_calls[] = {
        { "chmod", 1 }, { "fchmod", 1 }, { "fchmodat", 2 }, { "fchmodat2", 2 }, { "creat", 1 },
        { "open", 2 },  { "openat", 3 }, { "mknod", 1 },    { "mknodat", 2 },
};

int ns_mode_call_arg(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(mode_calls); i++)
                if (strcmp(mode_calls[i].name, name) == 0)
                        return (int)mode_calls[i].arg;
        return -1;
}

/* mode_calls: allowed unless the mode has a set-id bit (seccomp.h). */
static int mode_rule(scmp_filter_ctx ctx, int nr, const char *name, unsigned arg, struct zb_error *err)
{
        struct scmp_arg_cmp cmp = { .arg = arg, .op = SCMP_CMP_MASKED_EQ,
                                    .datum_a = NS_SETID_MODE_BITS, .datum_b = 0 };
        return add_rule(ctx, SCMP_ACT_ALLOW, nr, name, 1, &cmp, err);
}

static int default_rules(scmp_filter_ctx ctx, const struct ns_seccomp_spec *spec,
                         struct zb_error *err)
{
        bool raw;
        int r;

        for (size_t i = 0; i < ARRAY_SIZE(default_allow); i++) {
                const char *name = default_allow[i];
                int nr = ns_syscall_number(name, &raw);
                if (nr < 0 || ns_seccomp_overridden(spec, name))
                        continue;
                if (strcmp(name, "openat2") == 0) {
                        /* Its mode is in a struct the filter cannot read
                         * (seccomp.h, set-id modes): ENOSYS, and callers fall
                         * back to openat, which is filtered. */
                        if ((r = add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, name, 0, NULL, err)) < 0)
                                return r;
                        continue;
                }
                int arg = ns_mode_call_arg(name);
                if (arg >= 0) {
                        if ((r = mode_rule(ctx, nr, name, (unsigned)arg, err)) < 0)
                                return r;
                        continue;
                }
                if ((r = add_rule(ctx, SCMP_ACT_ALLOW, nr, name, 0, NULL, err)) < 0)
                        return r;
        }
        if ((r = namespace_rules(ctx, spec, err)) < 0)
                return r;
        if (!ns_seccomp_overridden(spec, "seccomp") && (r = seccomp_rule(ctx, err)) < 0)
                return r;
        if (!ns_seccomp_overridden(spec, "ioctl") && (r = ioctl_rules(ctx, err)) < 0)
                return r;
        if (!ns_seccomp_overridden(spec, "socket") && (r = socket_rules(ctx, err)) < 0)
                return r;
        if (!ns_seccomp_overridden(spec, "personality") && (r = personality_rules(ctx, err)) < 0)
                return r;
#ifdef UNIFIED_SYSCALL_NUMBERS
        for (int nr = FUTURE_SYSCALL_FIRST; nr <= FUTURE_SYSCALL_LAST; nr++)
                if ((r = add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, "(future)", 0, NULL, err)) < 0)
                        return r;
#endif
        return 0;
}

/* The policy's own lists, after the profile: deny beats allow. */
int ns_seccomp_spec_rules(scmp_filter_ctx ctx, const struct ns_seccomp_spec *spec,
                      uint32_t default_action, bool multiarch, struct zb_error *err)
{
        for (int pass = 0; spec && pass < 2; pass++) {
                const char *const *list = pass ? spec->deny : spec->allow;
                size_t n = pass ? spec->n_deny : spec->n_allow;
                uint32_t action = pass ? SCMP_ACT_ERRNO(EPERM) : SCMP_ACT_ALLOW;

                for (size_t i = 0; i < n; i++) {
                        bool raw;
                        int nr = ns_syscall_number(list[i], &raw);
                        if (!pass && in_list(list[i], spec->deny, spec->n_deny))
                                continue;
                        /* Not on this arch (or, in a multi-arch profile, not
                         * mappable): nothing to allow or deny here. */
                        if (nr == __NR_SCMP_ERROR || (nr < 0 && !multiarch) || (raw && multiarch))
                                continue;
                        if (action == default_action)
                                continue;
                        int r = add_rule(ctx, action, nr, list[i], 0, NULL, err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int check_spec_names(const struct ns_seccomp_spec *spec, struct zb_error *err)
{
        for (int pass = 0; pass < 2; pass++) {
                const char *const *list = pass ? spec->deny : spec->allow;
                size_t n = pass ? spec->n_deny : spec->n_allow;
                const char *what = pass ? "deny" : "allow";

                if (n && !list)
                        return err_set(err, EINVAL, "layer seccomp: %s list is missing", what);
                for (size_t i = 0; i < n; i++) {
                        if (!list[i] || !*list[i])
                                return err_set(err, EINVAL,
                                                    "layer seccomp: empty syscall name in %s", what);
                        if (!syscall_known_anywhere(list[i]))
                                return err_set(err, EINVAL,
                                                    "layer seccomp: unknown syscall '%s' in %s",
                                                    list[i], what);
                }
        }
        return 0;
}

/* 2.5.4 has no seccomp_export_bpf_mem: export into a memfd, read it back. */
int ns_seccomp_export(scmp_filter_ctx ctx, struct sock_fprog *prog, struct zb_error *err)
{
        _cleanup_(closep) int fd = memfd_create("zonebox-seccomp", MFD_CLOEXEC);
        _cleanup_(freep) struct sock_filter *insns = NULL;
        struct stat st;

        if (fd < 0)
                return err_errno(err, errno, "layer seccomp: memfd_create");
        int r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return err_errno(err, -r, "layer seccomp: export the filter");
        if (fstat(fd, &st) < 0)
                return err_errno(err, errno, "layer seccomp: export the filter");
        size_t size = (size_t)st.st_size;
        if (size == 0 || size % sizeof(struct sock_filter) != 0)
                return err_set(err, EIO, "layer seccomp: libseccomp exported %zu bytes", size);
        if (size / sizeof(struct sock_filter) > BPF_MAXINSNS)
                return err_set(err, E2BIG,
                                    "layer seccomp: the filter has %zu instructions, the kernel takes at most %d",
                                    size / sizeof(struct sock_filter), BPF_MAXINSNS);
        insns = malloc(size);
        if (!insns)
                return err_errno(err, ENOMEM, "layer seccomp");
        for (size_t done = 0; done < size;) {
                ssize_t n = pread(fd, (char *)insns + done, size - done, (off_t)done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return err_errno(err, n < 0 ? errno : EIO,
                                              "layer seccomp: read back the filter");
                done += (size_t)n;
        }
        prog->len = (unsigned short)(size / sizeof(struct sock_filter));
        prog->filter = insns;
        insns = NULL;
        return 0;
}

int ns_seccomp_new_filter(uint32_t default_action, scmp_filter_ctx *out, struct zb_error *err)
{
        scmp_filter_ctx ctx = seccomp_init(default_action);
        if (!ctx)
                return err_set(err, EINVAL, "layer seccomp: libseccomp cannot create a filter");
        /* Any arch but those added (the native one, unless a JSON profile
         * adds more) kills the whole process, not just the thread. */
        int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        /* A binary tree of syscall numbers: ~9 compares instead of up to
         * ~350 for a syscall late in the list. */
        if (r == 0)
                r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        if (r < 0) {
                seccomp_release(ctx);
                return err_errno(err, -r, "layer seccomp: set filter attributes");
        }
        *out = ctx;
        return 0;
}

static int build_default(const struct ns_seccomp_spec *spec, struct sock_fprog *prog,
                         struct zb_error *err)
{
        _cleanup_(ns_seccomp_releasep) scmp_filter_ctx ctx = NULL;
        int r;

        if ((r = ns_seccomp_new_filter(DEFAULT_ACTION, &ctx, err)) < 0)
                return r;
        if ((r = default_rules(ctx, spec, err)) < 0)
                return r;
        if ((r = ns_seccomp_spec_rules(ctx, spec, DEFAULT_ACTION, false, err)) < 0)
                return r;
        return ns_seccomp_export(ctx, prog, err);
}

#ifdef ZB_SECCOMP_PRECOMPILED
/* The default profile, generated at build time by the same (static)
 * libseccomp: tools/gen-seccomp-default.c. */
#include "seccomp_default.h"
_Static_assert(sizeof(ns_default_watch_net_nr) == NS_WATCH_MAX * sizeof(int), "stale seccomp_default.h");

/* Not copied: every user only reads a program (the kernel copies it at
 * install), and a 5.6 KiB copy cost each run a malloc, a memcpy and the
 * page faults of a grown heap. ns_seccomp_free knows not to free it. */
static int use_precompiled(struct sock_fprog *prog)
{
        prog->filter = (struct sock_filter *)ns_default_bpf; // NOLINT: const only in our eyes
        prog->len = (unsigned short)ARRAY_SIZE(ns_default_bpf);
        return 0;
}
#endif

static bool compiled_in(const struct sock_filter *f)
{
#ifdef ZB_SECCOMP_PRECOMPILED
        return f == ns_default_bpf || f == ns_default_watch_net_bpf || f == ns_default_watch_host_bpf;
#else
        (void)f;
        return false;
#endif
}

int ns_seccomp_default_watch(const struct sock_fprog *plain, bool net, struct sock_fprog *out, int *watch_nr)
{
#ifdef ZB_SECCOMP_PRECOMPILED
        if (plain->filter != ns_default_bpf)
                return 0;
        const struct sock_filter *w = net ? ns_default_watch_net_bpf : ns_default_watch_host_bpf;
        out->filter = (struct sock_filter *)w; // NOLINT: const only in our eyes
        out->len = (unsigned short)(net ? ARRAY_SIZE(ns_default_watch_net_bpf) : ARRAY_SIZE(ns_default_watch_host_bpf));
        memcpy(watch_nr, net ? ns_default_watch_net_nr : ns_default_watch_host_nr, sizeof(ns_default_watch_net_nr));
        return 1;
#else
        (void)plain, (void)net, (void)out, (void)watch_nr;
        return 0;
#endif
}

int ns_seccomp_precompiled_matches(void)
{
#ifdef ZB_SECCOMP_PRECOMPILED
        static const struct ns_seccomp_spec none = { 0 };
        struct zb_error err = { 0 };
        struct sock_fprog fresh = { 0 };
        if (build_default(&none, &fresh, &err) < 0)
                return 0;
        int same = fresh.len == ARRAY_SIZE(ns_default_bpf) &&
                   memcmp(fresh.filter, ns_default_bpf, sizeof(ns_default_bpf)) == 0;
        ns_seccomp_free(&fresh);
        return same;
#else
        return -1;
#endif
}

int ns_seccomp_build(const struct ns_seccomp_spec *spec, struct sock_fprog *prog,
                     struct zb_error *err)
{
        static const struct ns_seccomp_spec none = { 0 };
        int r;

        prog->len = 0;
        prog->filter = NULL;
        if (!spec)
                spec = &none;
        if ((r = check_spec_names(spec, err)) < 0)
                return r;
#ifdef ZB_SECCOMP_PRECOMPILED
        if ((!spec->profile || strcmp(spec->profile, "default") == 0) && !spec->n_allow &&
            !spec->n_deny)
                return use_precompiled(prog);
#endif
        if (!spec->profile || strcmp(spec->profile, "default") == 0)
                return build_default(spec, prog, err);
        if (!*spec->profile)
                return err_set(err, EINVAL, "layer seccomp: empty profile name");
        if (strcmp(spec->profile, "unconfined") == 0)
                return err_set(err, EINVAL,
                                    "layer seccomp: profile 'unconfined' means no filter; nothing to build");
        return ns_seccomp_build_file(spec, prog, err);
}

void ns_seccomp_free(struct sock_fprog *prog)
{
        if (!prog)
                return;
        if (!compiled_in(prog->filter))
                free(prog->filter);
        prog->filter = NULL;
        prog->len = 0;
}

int ns_seccomp_notify_copy(const struct sock_fprog *prog, struct sock_fprog *out)
{
        int n = 0;
        out->filter = malloc((size_t)prog->len * sizeof(*prog->filter));
        if (!out->filter)
                return -ENOMEM;
        memcpy(out->filter, prog->filter, (size_t)prog->len * sizeof(*prog->filter));
        out->len = prog->len;
        for (size_t i = 0; i < out->len; i++) {
                struct sock_filter *f = &out->filter[i];
                if (f->code == (BPF_RET | BPF_K) && f->k == (SECCOMP_RET_ERRNO | EPERM)) {
                        f->k = SECCOMP_RET_USER_NOTIF;
                        n++;
                }
        }
        return n;
}

int ns_seccomp_install_listener(const struct sock_fprog *prog)
{
        long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, prog);
        return fd < 0 ? -errno : (int)fd;
}

int ns_seccomp_install(const struct sock_fprog *prog)
{
        if (!prog || !prog->filter || prog->len == 0)
                return -EINVAL;
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) == 0)
                return 0;
        if (errno != ENOSYS)
                return -errno;
        /* Linux < 3.17: the same filter through prctl. */
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0) == 0)
                return 0;
        return -errno;
}
