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
 * as written. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <json-c/json.h>
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

#include "../core/util.h"
#include "seccomp.h" // NOLINT(readability-duplicate-include): <seccomp.h> above is libseccomp's

#define DEFAULT_ACTION SCMP_ACT_ERRNO(EPERM)
#define JSON_MAX_DEPTH 16
#define MAX_RULE_ARGS 6
/* The kernel clamps SECCOMP_RET_ERRNO data to MAX_ERRNO. */
#define MAX_ERRNO_RET 4095

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
 * landlock_* are allowed: a process can only restrict itself further. */
static const char *const default_allow[] = {
        /* processes, threads, signals */
        "execve", "execveat", "exit", "exit_group", "fork", "vfork", "wait4", "waitid",
        "waitpid", "kill", "tkill", "tgkill", "rt_sigaction", "rt_sigpending",
        "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
        "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sigaltstack",
        "signalfd", "signalfd4", "sigprocmask", "sigreturn", "restart_syscall", "pause",
        "pidfd_open", "pidfd_send_signal", "process_mrelease", "set_tid_address",
        "set_robust_list", "get_robust_list", "rseq", "arch_prctl", "set_thread_area",
        "get_thread_area", "prctl", "seccomp", "landlock_create_ruleset",
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

/* Arches named in JSON profiles: libseccomp's constant and Docker's name
 * (includes.arches / excludes.arches use the latter). */
static const struct {
        const char *scmp;
        const char *docker;
        uint32_t token;
} arches[] = {
        { "SCMP_ARCH_X86", "x86", SCMP_ARCH_X86 },
        { "SCMP_ARCH_X86_64", "amd64", SCMP_ARCH_X86_64 },
        { "SCMP_ARCH_X32", "x32", SCMP_ARCH_X32 },
        { "SCMP_ARCH_ARM", "arm", SCMP_ARCH_ARM },
        { "SCMP_ARCH_AARCH64", "arm64", SCMP_ARCH_AARCH64 },
        { "SCMP_ARCH_MIPS", "mips", SCMP_ARCH_MIPS },
        { "SCMP_ARCH_MIPS64", "mips64", SCMP_ARCH_MIPS64 },
        { "SCMP_ARCH_MIPS64N32", "mips64n32", SCMP_ARCH_MIPS64N32 },
        { "SCMP_ARCH_MIPSEL", "mipsle", SCMP_ARCH_MIPSEL },
        { "SCMP_ARCH_MIPSEL64", "mipsel64", SCMP_ARCH_MIPSEL64 },
        { "SCMP_ARCH_MIPSEL64N32", "mips3l64n32", SCMP_ARCH_MIPSEL64N32 },
        { "SCMP_ARCH_PPC", "ppc", SCMP_ARCH_PPC },
        { "SCMP_ARCH_PPC64", "ppc64", SCMP_ARCH_PPC64 },
        { "SCMP_ARCH_PPC64LE", "ppc64le", SCMP_ARCH_PPC64LE },
        { "SCMP_ARCH_S390", "s390", SCMP_ARCH_S390 },
        { "SCMP_ARCH_S390X", "s390x", SCMP_ARCH_S390X },
        { "SCMP_ARCH_PARISC", "parisc", SCMP_ARCH_PARISC },
        { "SCMP_ARCH_PARISC64", "parisc64", SCMP_ARCH_PARISC64 },
        { "SCMP_ARCH_RISCV64", "riscv64", SCMP_ARCH_RISCV64 },
};

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
        if (*ctx)
                seccomp_release(*ctx);
}
static void json_putp(struct json_object **o)
{
        if (*o)
                json_object_put(*o);
}

static bool in_list(const char *name, const char *const *list, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (list[i] && strcmp(list[i], name) == 0)
                        return true;
        return false;
}

/* Named in the policy's allow or deny list: those win over any profile. */
static bool spec_overrides(const struct ns_seccomp_spec *spec, const char *name)
{
        return spec && (in_list(name, spec->allow, spec->n_allow) ||
                        in_list(name, spec->deny, spec->n_deny));
}

/* The native syscall number, a negative libseccomp pseudo-number for a
 * syscall that exists only on other arches, or __NR_SCMP_ERROR. *raw is set
 * when the number comes from newer_syscalls, i.e. libseccomp cannot map it
 * to another arch. */
static int syscall_number(const char *name, bool *raw)
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
        if (syscall_number(name, &raw) != __NR_SCMP_ERROR)
                return true;
        for (size_t i = 0; i < ARRAY_SIZE(arches); i++)
                if (seccomp_syscall_resolve_name_arch(arches[i].token, name) != __NR_SCMP_ERROR)
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

/* Allow name unless the low 32 bits of argument arg are one of deny[]. The
 * kernel reads ioctl's request as an unsigned int, so a compare on the whole
 * 64-bit register could be dodged by setting the high bits. libseccomp takes
 * one comparison per argument per rule, and refuses a rule whose action is
 * the default (EPERM), so the allowed complement is built instead: one
 * MASKED_EQ rule per largest subtree of the 32-bit value space (the top
 * `level` bits fixed to `prefix`) that holds no denied value, about 32
 * rules per denied value. */
static int allow_unless_low32(scmp_filter_ctx ctx, int nr, const char *name, unsigned arg,
                              const uint32_t *deny, size_t n, unsigned level, uint32_t prefix,
                              struct zb_error *err)
{
        uint32_t fixed = level == 0 ? 0 : ~0u << (32 - level);
        bool hit = false;

        for (size_t i = 0; i < n; i++)
                if ((deny[i] & fixed) == prefix)
                        hit = true;
        if (!hit) {
                struct scmp_arg_cmp cmp = { .arg = arg, .op = SCMP_CMP_MASKED_EQ,
                                            .datum_a = fixed, .datum_b = prefix };
                return add_rule(ctx, SCMP_ACT_ALLOW, nr, name, level ? 1 : 0, &cmp, err);
        }
        if (level == 32)
                return 0; /* exactly a denied value */
        int r = allow_unless_low32(ctx, nr, name, arg, deny, n, level + 1, prefix, err);
        if (r < 0)
                return r;
        return allow_unless_low32(ctx, nr, name, arg, deny, n, level + 1,
                                  prefix | (1u << (31 - level)), err);
}

static int ioctl_rules(scmp_filter_ctx ctx, struct zb_error *err)
{
        static const uint32_t deny[] = NS_IOCTL_DENY; /* seccomp.h says why */
        bool raw;
        int nr = syscall_number("ioctl", &raw);
        if (nr < 0)
                return 0;
        return allow_unless_low32(ctx, nr, "ioctl", 1, deny, ARRAY_SIZE(deny), 0, 0, err);
}


static int namespace_rules(scmp_filter_ctx ctx, const struct ns_seccomp_spec *spec,
                           struct zb_error *err)
{
        bool raw;
        int nr, r;

        /* A nested user namespace would hand the command a full capability
         * set over new namespaces: the door to most container escapes. */
        if (!spec_overrides(spec, "clone") && (nr = syscall_number("clone", &raw)) >= 0) {
                struct scmp_arg_cmp cmp = { .arg = CLONE_FLAGS_ARG, .op = SCMP_CMP_MASKED_EQ,
                                            .datum_a = NS_FLAGS_CLONE, .datum_b = 0 };
                if ((r = add_rule(ctx, SCMP_ACT_ALLOW, nr, "clone", 1, &cmp, err)) < 0)
                        return r;
        }
        if (!spec_overrides(spec, "unshare") && (nr = syscall_number("unshare", &raw)) >= 0) {
                struct scmp_arg_cmp cmp = { .arg = 0, .op = SCMP_CMP_MASKED_EQ,
                                            .datum_a = NS_FLAGS_UNSHARE, .datum_b = 0 };
                if ((r = add_rule(ctx, SCMP_ACT_ALLOW, nr, "unshare", 1, &cmp, err)) < 0)
                        return r;
        }
        if (!spec_overrides(spec, "clone3") && (nr = syscall_number("clone3", &raw)) >= 0)
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
        int nr = syscall_number("socket", &raw), r;
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

/* Docker's values: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32,
 * and 0xffffffff (query). Others (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE)
 * weaken the address-space hardening. */
static int personality_rules(scmp_filter_ctx ctx, struct zb_error *err)
{
        static const uint64_t allowed[] = { 0x0, 0x0008, 0x20000, 0x20008, 0xffffffff };
        bool raw;
        int nr = syscall_number("personality", &raw);
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

static int mode_arg(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(ns_mode_calls); i++)
                if (strcmp(ns_mode_calls[i].name, name) == 0)
                        return (int)ns_mode_calls[i].arg;
        return -1;
}

/* ns_mode_calls: allowed unless the mode has a set-id bit (seccomp.h). */
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
                int nr = syscall_number(name, &raw);
                if (nr < 0 || spec_overrides(spec, name))
                        continue;
                if (strcmp(name, "openat2") == 0) {
                        /* Its mode is in a struct the filter cannot read
                         * (seccomp.h, set-id modes): ENOSYS, and callers fall
                         * back to openat, which is filtered. */
                        if ((r = add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, name, 0, NULL, err)) < 0)
                                return r;
                        continue;
                }
                int arg = mode_arg(name);
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
        if (!spec_overrides(spec, "ioctl") && (r = ioctl_rules(ctx, err)) < 0)
                return r;
        if (!spec_overrides(spec, "socket") && (r = socket_rules(ctx, err)) < 0)
                return r;
        if (!spec_overrides(spec, "personality") && (r = personality_rules(ctx, err)) < 0)
                return r;
#ifdef UNIFIED_SYSCALL_NUMBERS
        for (int nr = FUTURE_SYSCALL_FIRST; nr <= FUTURE_SYSCALL_LAST; nr++)
                if ((r = add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, "(future)", 0, NULL, err)) < 0)
                        return r;
#endif
        return 0;
}

/* The policy's own lists, after the profile: deny beats allow. */
static int spec_rules(scmp_filter_ctx ctx, const struct ns_seccomp_spec *spec,
                      uint32_t default_action, bool multiarch, struct zb_error *err)
{
        for (int pass = 0; spec && pass < 2; pass++) {
                const char *const *list = pass ? spec->deny : spec->allow;
                size_t n = pass ? spec->n_deny : spec->n_allow;
                uint32_t action = pass ? SCMP_ACT_ERRNO(EPERM) : SCMP_ACT_ALLOW;

                for (size_t i = 0; i < n; i++) {
                        bool raw;
                        int nr = syscall_number(list[i], &raw);
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
static int export_program(scmp_filter_ctx ctx, struct sock_fprog *prog, struct zb_error *err)
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

static int new_filter(uint32_t default_action, scmp_filter_ctx *out, struct zb_error *err)
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
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        int r;

        if ((r = new_filter(DEFAULT_ACTION, &ctx, err)) < 0)
                return r;
        if ((r = default_rules(ctx, spec, err)) < 0)
                return r;
        if ((r = spec_rules(ctx, spec, DEFAULT_ACTION, false, err)) < 0)
                return r;
        return export_program(ctx, prog, err);
}

/* ---- Docker/OCI JSON profiles ---- */

struct profile {
        scmp_filter_ctx ctx;
        uint32_t default_action;
        bool multiarch;
        const struct ns_seccomp_spec *spec; /* NULL: no policy lists */
        const char *source;                 /* file name for messages, or NULL */
        struct zb_error *err;
};

static int profile_error(const struct profile *pr, int code, const char *fmt, ...) ZB_PRINTF(3, 4);
static int profile_error(const struct profile *pr, int code, const char *fmt, ...)
{
        char msg[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (pr->source)
                return err_set(pr->err, code, "layer seccomp: profile %s: %s", pr->source, msg);
        return err_set(pr->err, code, "layer seccomp: profile: %s", msg);
}

static bool in_strv(const char *s, const char *const *v)
{
        for (; *v; v++)
                if (strcmp(*v, s) == 0)
                        return true;
        return false;
}

static int check_keys(const struct profile *pr, struct json_object *obj, const char *where,
                      const char *const *known)
{
        json_object_object_foreach(obj, key, val) {
                (void)val;
                if (!in_strv(key, known))
                        return profile_error(pr, EINVAL, "unknown key '%s%s%s'", where,
                                             *where ? "." : "", key);
        }
        return 0;
}

/* The member key of obj if it has type type; NULL if absent or null. */
static int member(const struct profile *pr, struct json_object *obj, const char *where,
                  const char *key, enum json_type type, struct json_object **out)
{
        static const char *const type_names[] = {
                [json_type_null] = "null",     [json_type_boolean] = "a boolean",
                [json_type_double] = "a number", [json_type_int] = "an integer",
                [json_type_object] = "an object", [json_type_array] = "an array",
                [json_type_string] = "a string",
        };
        struct json_object *v = NULL;

        *out = NULL;
        if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, type))
                return profile_error(pr, EINVAL, "'%s%s%s' must be %s", where, *where ? "." : "",
                                     key, type_names[type]);
        *out = v;
        return 0;
}

static int to_uint(const struct profile *pr, struct json_object *v, const char *what, uint64_t max,
                   uint64_t *out)
{
        /* json-c keeps integers above INT64_MAX as uint64: a negative
         * int64 view is a negative number. */
        if (json_object_get_int64(v) < 0)
                return profile_error(pr, ERANGE, "'%s' must not be negative", what);
        errno = 0;
        uint64_t u = json_object_get_uint64(v);
        if (errno == ERANGE || u > max)
                return profile_error(pr, ERANGE, "'%s' is out of range (at most %llu)", what,
                                     (unsigned long long)max);
        *out = u;
        return 0;
}

static const struct {
        const char *name;
        uint32_t action;
        bool with_errno; /* errnoRet is its data */
} actions[] = {
        { "SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD, false },
        { "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false },
        { "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false },
        { "SCMP_ACT_TRAP", SCMP_ACT_TRAP, false },
        { "SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true },
        { "SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true },
        { "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false },
        { "SCMP_ACT_LOG", SCMP_ACT_LOG, false },
};

/* Action named by obj.<action_key>, with obj.<errno_key> as its errno
 * (EPERM when absent, as in runc). */
static int parse_action(const struct profile *pr, struct json_object *obj, const char *where,
                        const char *action_key, const char *errno_key, uint32_t *out)
{
        struct json_object *a, *e;
        char what[96];
        int r;

        if ((r = member(pr, obj, where, action_key, json_type_string, &a)) < 0 ||
            (r = member(pr, obj, where, errno_key, json_type_int, &e)) < 0)
                return r;
        snprintf(what, sizeof(what), "%s%s%s", where, *where ? "." : "", action_key);
        if (!a)
                return profile_error(pr, EINVAL, "missing key '%s'", what);
        const char *name = json_object_get_string(a);
        if (strcmp(name, "SCMP_ACT_NOTIFY") == 0)
                return profile_error(pr, ENOTSUP,
                                     "%s: SCMP_ACT_NOTIFY is not supported (zonebox runs no seccomp agent)",
                                     what);
        for (size_t i = 0; i < ARRAY_SIZE(actions); i++) {
                if (strcmp(actions[i].name, name) != 0)
                        continue;
                uint64_t data = EPERM;
                snprintf(what, sizeof(what), "%s%s%s", where, *where ? "." : "", errno_key);
                if (e && !actions[i].with_errno)
                        return profile_error(pr, EINVAL,
                                             "'%s' is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE",
                                             what);
                if (e && (r = to_uint(pr, e, what, MAX_ERRNO_RET, &data)) < 0)
                        return r;
                *out = actions[i].action | (actions[i].with_errno ? (uint32_t)data : 0);
                return 0;
        }
        return profile_error(pr, EINVAL, "%s: unknown action '%s'", what, name);
}

static int arch_index(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(arches); i++)
                if (strcmp(arches[i].scmp, name) == 0)
                        return (int)i;
        return -1;
}

/* Is name (Docker's "amd64" or libseccomp's "SCMP_ARCH_X86_64") this
 * machine's arch? */
static bool arch_is_native(const char *name)
{
        uint32_t native = seccomp_arch_native();
        for (size_t i = 0; i < ARRAY_SIZE(arches); i++)
                if (arches[i].token == native &&
                    (strcmp(arches[i].docker, name) == 0 || strcmp(arches[i].scmp, name) == 0))
                        return true;
        return false;
}

static int add_arch(struct profile *pr, struct json_object *v, const char *what)
{
        if (!json_object_is_type(v, json_type_string))
                return profile_error(pr, EINVAL, "'%s' must hold strings", what);
        const char *name = json_object_get_string(v);
        int i = arch_index(name);
        if (i < 0) {
                /* A profile written for more arches than this libseccomp
                 * knows: an arch never added can only be killed. */
                if (strncmp(name, "SCMP_ARCH_", 10) == 0)
                        return 0;
                return profile_error(pr, EINVAL, "%s: unknown architecture '%s'", what, name);
        }
        int r = seccomp_arch_add(pr->ctx, arches[i].token);
        if (r == -EEXIST)
                return 0;
        if (r < 0)
                return profile_error(pr, -r, "%s: cannot add architecture '%s': %s", what, name,
                                     strerror(-r));
        pr->multiarch = true;
        return 0;
}

static int parse_arches(struct profile *pr, struct json_object *root)
{
        struct json_object *list, *map;
        int r;

        if ((r = member(pr, root, "", "architectures", json_type_array, &list)) < 0 ||
            (r = member(pr, root, "", "archMap", json_type_array, &map)) < 0)
                return r;
        if (list && map && json_object_array_length(list) && json_object_array_length(map))
                return profile_error(pr, EINVAL, "use either 'architectures' or 'archMap', not both");
        for (size_t i = 0; list && i < json_object_array_length(list); i++)
                if ((r = add_arch(pr, json_object_array_get_idx(list, i), "architectures")) < 0)
                        return r;
        /* archMap: the entry for this machine's arch, with its sub-arches. */
        for (size_t i = 0; map && i < json_object_array_length(map); i++) {
                static const char *const keys[] = { "architecture", "subArchitectures", NULL };
                struct json_object *e = json_object_array_get_idx(map, i), *arch, *subs;
                char where[32];
                snprintf(where, sizeof(where), "archMap[%zu]", i);
                if (!json_object_is_type(e, json_type_object))
                        return profile_error(pr, EINVAL, "'%s' must be an object", where);
                if ((r = check_keys(pr, e, where, keys)) < 0 ||
                    (r = member(pr, e, where, "architecture", json_type_string, &arch)) < 0 ||
                    (r = member(pr, e, where, "subArchitectures", json_type_array, &subs)) < 0)
                        return r;
                if (!arch || !arch_is_native(json_object_get_string(arch)))
                        continue;
                for (size_t j = 0; subs && j < json_object_array_length(subs); j++)
                        if ((r = add_arch(pr, json_object_array_get_idx(subs, j), where)) < 0)
                                return r;
        }
        return 0;
}

/* includes/excludes, as Docker applies them to a container with no
 * capabilities: an entry that needs a capability is dropped; arches are
 * matched against this machine's; minKernel is taken as met (zonebox
 * targets current kernels), so includes.minKernel keeps an entry and
 * excludes.minKernel drops it. Returns 1 to use the entry, 0 to skip it. */
static int entry_applies(const struct profile *pr, struct json_object *call, const char *where)
{
        static const char *const keys[] = { "caps", "arches", "minKernel", NULL };
        char sub[48];

        for (int excl = 0; excl < 2; excl++) {
                const char *key = excl ? "excludes" : "includes";
                struct json_object *f, *caps, *archv, *kernel;
                bool native = false;
                int r;

                if ((r = member(pr, call, where, key, json_type_object, &f)) < 0)
                        return r;
                if (!f)
                        continue;
                snprintf(sub, sizeof(sub), "%s.%s", where, key);
                if ((r = check_keys(pr, f, sub, keys)) < 0 ||
                    (r = member(pr, f, sub, "caps", json_type_array, &caps)) < 0 ||
                    (r = member(pr, f, sub, "arches", json_type_array, &archv)) < 0 ||
                    (r = member(pr, f, sub, "minKernel", json_type_string, &kernel)) < 0)
                        return r;
                for (size_t i = 0; archv && i < json_object_array_length(archv); i++) {
                        struct json_object *a = json_object_array_get_idx(archv, i);
                        if (!json_object_is_type(a, json_type_string))
                                return profile_error(pr, EINVAL, "'%s.arches' must hold strings", sub);
                        native = native || arch_is_native(json_object_get_string(a));
                }
                bool has_arches = archv && json_object_array_length(archv) > 0;
                bool has_kernel = kernel && *json_object_get_string(kernel);
                if (!excl && ((caps && json_object_array_length(caps) > 0) || (has_arches && !native)))
                        return 0;
                if (excl && (native || has_kernel))
                        return 0;
        }
        return 1;
}

static const struct {
        const char *name;
        enum scmp_compare op;
} ops[] = {
        { "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT },
        { "SCMP_CMP_LE", SCMP_CMP_LE }, { "SCMP_CMP_EQ", SCMP_CMP_EQ },
        { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
        { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

static int parse_arg(const struct profile *pr, struct json_object *v, const char *where,
                     struct scmp_arg_cmp *out)
{
        static const char *const keys[] = { "index", "value", "valueTwo", "op", NULL };
        struct json_object *index, *value, *two, *op;
        char what[96];
        uint64_t u = 0;
        int r;

        if (!json_object_is_type(v, json_type_object))
                return profile_error(pr, EINVAL, "'%s' must be an object", where);
        if ((r = check_keys(pr, v, where, keys)) < 0 ||
            (r = member(pr, v, where, "index", json_type_int, &index)) < 0 ||
            (r = member(pr, v, where, "value", json_type_int, &value)) < 0 ||
            (r = member(pr, v, where, "valueTwo", json_type_int, &two)) < 0 ||
            (r = member(pr, v, where, "op", json_type_string, &op)) < 0)
                return r;
        if (!index || !op)
                return profile_error(pr, EINVAL, "missing key '%s.%s'", where, index ? "op" : "index");
        *out = (struct scmp_arg_cmp){ 0 };
        snprintf(what, sizeof(what), "%s.index", where);
        if ((r = to_uint(pr, index, what, MAX_RULE_ARGS - 1, &u)) < 0)
                return r;
        out->arg = (unsigned)u;
        snprintf(what, sizeof(what), "%s.value", where);
        if (value && (r = to_uint(pr, value, what, UINT64_MAX, &out->datum_a)) < 0)
                return r;
        snprintf(what, sizeof(what), "%s.valueTwo", where);
        if (two && (r = to_uint(pr, two, what, UINT64_MAX, &out->datum_b)) < 0)
                return r;
        const char *name = json_object_get_string(op);
        for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
                if (strcmp(ops[i].name, name) == 0) {
                        out->op = ops[i].op;
                        return 0;
                }
        return profile_error(pr, EINVAL, "%s.op: unknown operator '%s'", where, name);
}

/* One syscall of one entry. Arguments on distinct indexes are ANDed in one
 * rule; when an index repeats (libseccomp refuses that), each comparison
 * becomes its own rule, ORed, as runc does. */
static int add_profile_rule(const struct profile *pr, const char *name, uint32_t action,
                            const struct scmp_arg_cmp *args, size_t n, const char *where)
{
        bool raw, repeated = false;
        int nr = syscall_number(name, &raw), r = 0;

        /* Unknown to libseccomp (or not on this arch): skipped, as Docker
         * does, so one profile serves several kernels and arches. */
        if (nr == __NR_SCMP_ERROR || (nr < 0 && !pr->multiarch) || (raw && pr->multiarch))
                return 0;
        if (spec_overrides(pr->spec, name) || action == pr->default_action)
                return 0;
        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n; j++)
                        repeated = repeated || args[i].arg == args[j].arg;
        if (!repeated)
                r = seccomp_rule_add_array(pr->ctx, action, nr, (unsigned)n, args);
        for (size_t i = 0; repeated && r == 0 && i < n; i++)
                r = seccomp_rule_add_array(pr->ctx, action, nr, 1, &args[i]);
        if (r < 0)
                return profile_error(pr, -r, "%s: syscall '%s': cannot add rule: %s", where, name,
                                     strerror(-r));
        return 0;
}

static int parse_syscall_entry(const struct profile *pr, struct json_object *call, size_t idx)
{
        static const char *const keys[] = { "names", "name", "action", "errnoRet", "args",
                                            "comment", "includes", "excludes", NULL };
        struct scmp_arg_cmp args[MAX_RULE_ARGS];
        struct json_object *names, *name, *argv, *comment;
        char where[32], what[64];
        uint32_t action = 0;
        size_t n_args = 0;
        int r;

        snprintf(where, sizeof(where), "syscalls[%zu]", idx);
        if (!json_object_is_type(call, json_type_object))
                return profile_error(pr, EINVAL, "'%s' must be an object", where);
        if ((r = check_keys(pr, call, where, keys)) < 0 ||
            (r = member(pr, call, where, "names", json_type_array, &names)) < 0 ||
            (r = member(pr, call, where, "name", json_type_string, &name)) < 0 ||
            (r = member(pr, call, where, "args", json_type_array, &argv)) < 0 ||
            (r = member(pr, call, where, "comment", json_type_string, &comment)) < 0 ||
            (r = parse_action(pr, call, where, "action", "errnoRet", &action)) < 0)
                return r;
        if (names && name)
                return profile_error(pr, EINVAL, "%s: use either 'name' or 'names', not both", where);
        if (!names && !name)
                return profile_error(pr, EINVAL, "missing key '%s.names'", where);
        for (size_t i = 0; argv && i < json_object_array_length(argv); i++) {
                if (n_args == MAX_RULE_ARGS)
                        return profile_error(pr, E2BIG, "'%s.args' has more than %d comparisons",
                                             where, MAX_RULE_ARGS);
                snprintf(what, sizeof(what), "%s.args[%zu]", where, i);
                if ((r = parse_arg(pr, json_object_array_get_idx(argv, i), what, &args[n_args++])) < 0)
                        return r;
        }
        if ((r = entry_applies(pr, call, where)) <= 0)
                return r;
        if (name)
                return add_profile_rule(pr, json_object_get_string(name), action, args, n_args, where);
        for (size_t i = 0; i < json_object_array_length(names); i++) {
                struct json_object *v = json_object_array_get_idx(names, i);
                if (!json_object_is_type(v, json_type_string))
                        return profile_error(pr, EINVAL, "'%s.names' must hold strings", where);
                r = add_profile_rule(pr, json_object_get_string(v), action, args, n_args, where);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Top-level keys besides the rules. "flags" name seccomp(2) flags for
 * runc's loader: TSYNC is moot (the command is single-threaded at exec),
 * LOG only adds audit records, and SPEC_ALLOW would turn off the
 * speculative store bypass mitigation, so all are accepted and ignored —
 * zonebox always installs with flags 0. */
static int parse_top(struct profile *pr, struct json_object *root)
{
        static const char *const keys[] = { "defaultAction", "defaultErrnoRet", "architectures",
                                            "archMap", "syscalls", "flags", "listenerPath",
                                            "listenerMetadata", NULL };
        static const char *const flags[] = { "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                             "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                             "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", NULL };
        struct json_object *fl, *listener, *meta;
        int r;

        if (!json_object_is_type(root, json_type_object))
                return profile_error(pr, EINVAL, "the top level must be a JSON object");
        if ((r = check_keys(pr, root, "", keys)) < 0 ||
            (r = member(pr, root, "", "flags", json_type_array, &fl)) < 0 ||
            (r = member(pr, root, "", "listenerPath", json_type_string, &listener)) < 0 ||
            (r = member(pr, root, "", "listenerMetadata", json_type_string, &meta)) < 0)
                return r;
        for (size_t i = 0; fl && i < json_object_array_length(fl); i++) {
                struct json_object *v = json_object_array_get_idx(fl, i);
                if (!json_object_is_type(v, json_type_string))
                        return profile_error(pr, EINVAL, "'flags' must hold strings");
                if (!in_strv(json_object_get_string(v), flags))
                        return profile_error(pr, EINVAL, "flags: unknown flag '%s'",
                                             json_object_get_string(v));
        }
        if (listener && *json_object_get_string(listener))
                return profile_error(pr, ENOTSUP,
                                     "listenerPath: seccomp agents are not supported");
        return parse_action(pr, root, "", "defaultAction", "defaultErrnoRet", &pr->default_action);
}

static int parse_json_text(const struct profile *pr, const char *text, size_t len,
                           struct json_object **out)
{
        struct json_tokener *tok;
        struct json_object *root;
        enum json_tokener_error jerr;
        size_t end;

        if (len > MAX_SECCOMP_PROFILE_BYTES)
                return profile_error(pr, EFBIG, "larger than %u bytes", MAX_SECCOMP_PROFILE_BYTES);
        tok = json_tokener_new_ex(JSON_MAX_DEPTH);
        if (!tok)
                return profile_error(pr, ENOMEM, "out of memory");
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        root = json_tokener_parse_ex(tok, text, (int)len);
        jerr = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (jerr != json_tokener_success || !root) {
                json_object_put(root);
                return profile_error(pr, EINVAL, "invalid JSON at byte %zu: %s", end,
                                     jerr == json_tokener_continue ? "unexpected end of input"
                                                                   : json_tokener_error_desc(jerr));
        }
        for (; end < len; end++)
                if (!strchr(" \t\r\n", text[end]) || !text[end]) {
                        json_object_put(root);
                        return profile_error(pr, EINVAL, "invalid JSON at byte %zu: trailing data",
                                             end);
                }
        *out = root;
        return 0;
}

static int build_json(const char *text, size_t len, const struct ns_seccomp_spec *spec,
                      const char *source, struct sock_fprog *prog, struct zb_error *err)
{
        _cleanup_(json_putp) struct json_object *root = NULL;
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        struct profile pr = { .spec = spec, .source = source, .err = err };
        struct json_object *calls;
        int r;

        if ((r = parse_json_text(&pr, text, len, &root)) < 0 || (r = parse_top(&pr, root)) < 0 ||
            (r = member(&pr, root, "", "syscalls", json_type_array, &calls)) < 0)
                return r;
        if ((r = new_filter(pr.default_action, &ctx, err)) < 0)
                return r;
        pr.ctx = ctx;
        if ((r = parse_arches(&pr, root)) < 0)
                return r;
        for (size_t i = 0; calls && i < json_object_array_length(calls); i++)
                if ((r = parse_syscall_entry(&pr, json_object_array_get_idx(calls, i), i)) < 0)
                        return r;
        if ((r = spec_rules(ctx, spec, pr.default_action, pr.multiarch, err)) < 0)
                return r;
        return export_program(ctx, prog, err);
}

/* A profile file named by the operator's policy; read by the supervisor,
 * never by the sandbox, so a symlink to it is followed like any config.
 * O_NONBLOCK: a FIFO there must not hang the open. */
static int read_profile(const char *path, char **out, size_t *out_len, struct zb_error *err)
{
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        _cleanup_(freep) char *buf = NULL;
        size_t len = 0, room;
        struct stat st;

        if (fd < 0)
                return err_errno(err, errno, "layer seccomp: profile %s", path);
        if (fstat(fd, &st) < 0)
                return err_errno(err, errno, "layer seccomp: profile %s", path);
        if (!S_ISREG(st.st_mode))
                return err_set(err, EINVAL, "layer seccomp: profile %s: not a regular file", path);
        if ((uint64_t)st.st_size > MAX_SECCOMP_PROFILE_BYTES)
                return err_set(err, EFBIG, "layer seccomp: profile %s: larger than %u bytes",
                                    path, MAX_SECCOMP_PROFILE_BYTES);
        /* One byte more than its size, to notice a file that grew since. */
        room = (size_t)st.st_size + 1;
        buf = malloc(room);
        if (!buf)
                return err_errno(err, ENOMEM, "layer seccomp: profile %s", path);
        for (;;) {
                ssize_t n = read(fd, buf + len, room - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return err_errno(err, errno, "layer seccomp: profile %s", path);
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len == room)
                        return err_set(err, EAGAIN,
                                            "layer seccomp: profile %s: changed while being read",
                                            path);
        }
        *out = buf;
        *out_len = len;
        buf = NULL;
        return 0;
}

#ifdef ZB_SECCOMP_PRECOMPILED
/* The default profile, generated at build time by the same (static)
 * libseccomp: tools/gen-seccomp-default.c. */
#include "seccomp_default.h"

static int copy_precompiled(struct sock_fprog *prog, struct zb_error *err)
{
        prog->filter = malloc(sizeof(ns_default_bpf));
        if (!prog->filter)
                return err_set(err, ENOMEM, "layer seccomp: out of memory");
        memcpy(prog->filter, ns_default_bpf, sizeof(ns_default_bpf));
        prog->len = (unsigned short)ARRAY_SIZE(ns_default_bpf);
        return 0;
}
#endif

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
        _cleanup_(freep) char *text = NULL;
        size_t len = 0;
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
                return copy_precompiled(prog, err);
#endif
        if (!spec->profile || strcmp(spec->profile, "default") == 0)
                return build_default(spec, prog, err);
        if (!*spec->profile)
                return err_set(err, EINVAL, "layer seccomp: empty profile name");
        if (strcmp(spec->profile, "unconfined") == 0)
                return err_set(err, EINVAL,
                                    "layer seccomp: profile 'unconfined' means no filter; nothing to build");
        if ((r = read_profile(spec->profile, &text, &len, err)) < 0)
                return r;
        return build_json(text, len, spec, spec->profile, prog, err);
}

int ns_seccomp_build_json(const char *json, size_t len, struct sock_fprog *prog,
                          struct zb_error *err)
{
        prog->len = 0;
        prog->filter = NULL;
        if (!json)
                return err_set(err, EINVAL, "layer seccomp: profile: no text");
        return build_json(json, len, NULL, NULL, prog, err);
}

void ns_seccomp_free(struct sock_fprog *prog)
{
        if (!prog)
                return;
        free(prog->filter);
        prog->filter = NULL;
        prog->len = 0;
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
