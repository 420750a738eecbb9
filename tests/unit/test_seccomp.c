/* Seccomp layer (src/ns/seccomp.c, seccomp_json.c): the default profile
 * and JSON profiles build; bad profiles are refused with the key named;
 * and in a forked child that installs the real filter (after
 * no_new_privs, as the command process does) each denied syscall fails
 * the way the design says while ordinary ones keep working. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/random.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/util.h"
#include "ns/notify.h"
#include "ns/seccomp.h"
#include "probe.h"
#include "test.h"

/* ---- running a probe under a filter ---- */

/* The call does not fail with errno e (the filter let it through). */
#define EXPECT_NOT_ERR(call, e)                                                         \
        do {                                                                            \
                errno = 0;                                                              \
                long r_ = (long)(call);                                                 \
                if (r_ == -1 && errno == (e))                                           \
                        FAIL_AT(r_);                                                    \
        } while (0)

/* In the child: no core dumps (SIGSYS would dump), no_new_privs, the filter. */
static int install_filter(const void *prog)
{
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : ns_seccomp_install(prog);
}

/* Fork; the child sets no_new_privs, installs prog and runs probe. Passes
 * when the child exits 0, or, with want_sig, dies of that signal. */
static bool run_filtered(const struct sock_fprog *prog, int (*probe)(void), int want_sig,
                         const char *what)
{
        return probe_in_child(install_filter, prog, probe, want_sig, "test_seccomp.c", what);
}

static bool build_default_spec(const struct ns_seccomp_spec *spec, struct sock_fprog *prog)
{
        struct zb_error err = { 0 };
        int r = ns_seccomp_build(spec, prog, &err);
        if (r < 0)
                fprintf(stderr, "  build: %d %s\n", r, err.message);
        return r == 0 && prog->len > 0;
}

/* ---- the default profile ---- */

/* Denied outright: each is called with every argument -1 (harmless if the
 * filter were missing: bad pointers, fds and magic numbers), and must get
 * EPERM. Resolved in the parent; names this arch lacks are skipped. */
static const char *const never_allowed[] = {
        "mount", "umount2", "ptrace", "process_vm_readv", "process_vm_writev", "kexec_load",
        "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf",
        "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key",
        "open_by_handle_at", "name_to_handle_at", "io_uring_setup", "io_uring_enter",
        "io_uring_register", "swapon", "swapoff", "reboot", "settimeofday", "clock_settime",
        "clock_adjtime", "adjtimex", "acct", "quotactl", "quotactl_fd", "lookup_dcookie",
        "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
        "pivot_root", "chroot", "setns", "iopl", "ioperm", "syslog", "uselib", "ustat", "sysfs",
        "_sysctl", "kcmp", "pidfd_getfd", "fanotify_init", "modify_ldt", "memfd_secret",
        "process_madvise", "sethostname", "setdomainname",
};
static int never_nr[ARRAY_SIZE(never_allowed)];
static const char *never_failed;

static int probe_namespaces(void)
{
        EXPECT_ERR(unshare(CLONE_NEWUSER), EPERM);
        EXPECT_ERR(unshare(CLONE_NEWNS), EPERM);
        EXPECT_ERR(unshare(CLONE_NEWNET), EPERM);
        EXPECT_ERR(unshare(CLONE_NEWTIME), EPERM);
        EXPECT_ERR(unshare(CLONE_FILES | CLONE_NEWPID), EPERM);
        EXPECT_OK(unshare(CLONE_FILES));
        errno = 0;
        long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), 0, 0, 0, 0);
        if (pid == 0)
                _exit(0);
        if (pid != -1 || errno != EPERM)
                FAIL_AT(pid);
        /* glibc's fork is clone(SIGCHLD | CLONE_CHILD_*): no namespace flag. */
        pid = fork();
        if (pid == 0)
                _exit(7);
        EXPECT_OK(pid);
        int status = 0;
        EXPECT_OK(waitpid((pid_t)pid, &status, 0));
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 7)
                FAIL_AT(status);
        EXPECT_ERR(syscall(SYS_clone3, NULL, 0), ENOSYS);
        return 0;
}

static int probe_ioctl_socket_personality(void)
{
        char c = 'x';
        int fds[2], avail = 0;

        EXPECT_ERR(syscall(SYS_ioctl, 0, TIOCSTI, &c), EPERM);
        EXPECT_ERR(syscall(SYS_ioctl, 0, TIOCLINUX, &c), EPERM);
        /* The kernel reads the request as 32 bits: high bits must not help. */
        EXPECT_ERR(syscall(SYS_ioctl, 0, (1UL << 32) | TIOCSTI, &c), EPERM);
        EXPECT_ERR(syscall(SYS_ioctl, 0, (0xdeadUL << 32) | TIOCLINUX, &c), EPERM);
        EXPECT_OK(pipe(fds));
        EXPECT_OK(ioctl(fds[0], FIONREAD, &avail));
        EXPECT_NOT_ERR(ioctl(0, TIOCSTI - 1, &avail), EPERM); /* TIOCOUTQ */
        EXPECT_NOT_ERR(ioctl(0, TIOCSTI + 1, &(struct winsize){ 0 }), EPERM); /* TIOCGWINSZ */

        EXPECT_ERR(socket(AF_PACKET, SOCK_RAW, 0), EAFNOSUPPORT);
        EXPECT_ERR(socket(AF_VSOCK, SOCK_STREAM, 0), EAFNOSUPPORT);
        EXPECT_ERR(socket(AF_ALG, SOCK_SEQPACKET, 0), EAFNOSUPPORT);
        EXPECT_ERR(socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT), EPROTONOSUPPORT);
        EXPECT_ERR(syscall(SYS_socket, (1UL << 32) | AF_INET, SOCK_STREAM, 0), EAFNOSUPPORT);
        EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
        EXPECT_OK(socket(AF_INET, SOCK_DGRAM, 0));
        EXPECT_OK(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));

        EXPECT_OK(personality(0xffffffff));
        EXPECT_OK(personality(PER_LINUX));
        EXPECT_ERR(personality(PER_LINUX | ADDR_NO_RANDOMIZE), EPERM);
        EXPECT_ERR(personality(PER_LINUX | READ_IMPLIES_EXEC), EPERM);
        return 0;
}

static int probe_never_allowed(void)
{
        for (size_t i = 0; i < ARRAY_SIZE(never_allowed); i++) {
                if (never_nr[i] < 0)
                        continue;
                errno = 0;
                long r = syscall(never_nr[i], -1L, -1L, -1L, -1L, -1L, -1L);
                if (r != -1 || errno != EPERM) {
                        never_failed = never_allowed[i];
                        FAIL_AT(r);
                }
        }
        return 0;
}

static int probe_ordinary(void)
{
        char buf[256];
        struct stat st;
        EXPECT_OK(getpid());
        EXPECT_OK(getcwd(buf, sizeof(buf)) ? 0 : -1);
        EXPECT_OK(stat("/", &st));
        int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        EXPECT_OK(fd);
        EXPECT_OK(write(fd, "x", 1));
        EXPECT_OK(getrandom(buf, 16, 0));
        EXPECT_OK(syscall(SYS_close_range, 1000, 2000, 0));
        EXPECT_OK(personality(0xffffffff));
        EXPECT_OK(syscall(SYS_landlock_create_ruleset, NULL, 0, 1U)); /* ABI version query */
        return 0;
}

TEST(seccomp_default_builds)
{
        struct sock_fprog prog;
        CHECK(build_default_spec(NULL, &prog));
        CHECK(prog.len < BPF_MAXINSNS);
        ns_seccomp_free(&prog);
        CHECK(prog.filter == NULL && prog.len == 0);

        struct ns_seccomp_spec spec = { .profile = "default" };
        CHECK(build_default_spec(&spec, &prog));
        ns_seccomp_free(&prog);
}

TEST(seccomp_default_denies_namespaces_and_clone3)
{
        struct sock_fprog prog;
        if (!build_default_spec(NULL, &prog)) {
                CHECK(0);
                return;
        }
        CHECK(run_filtered(&prog, probe_namespaces, 0, "namespaces"));
        ns_seccomp_free(&prog);
}

TEST(seccomp_default_filters_ioctl_socket_personality)
{
        struct sock_fprog prog;
        if (!build_default_spec(NULL, &prog)) {
                CHECK(0);
                return;
        }
        CHECK(run_filtered(&prog, probe_ioctl_socket_personality, 0, "ioctl/socket/personality"));
        ns_seccomp_free(&prog);
}

TEST(seccomp_default_denies_dangerous_syscalls)
{
        struct sock_fprog prog;
        for (size_t i = 0; i < ARRAY_SIZE(never_allowed); i++)
                never_nr[i] = seccomp_syscall_resolve_name(never_allowed[i]);
        if (!build_default_spec(NULL, &prog)) {
                CHECK(0);
                return;
        }
        /* The failing name is only known in the child: retry one by one to
         * name it in the report. */
        if (!run_filtered(&prog, probe_never_allowed, 0, "never allowed")) {
                int saved[ARRAY_SIZE(never_allowed)];
                memcpy(saved, never_nr, sizeof(saved));
                for (size_t i = 0; i < ARRAY_SIZE(never_allowed); i++) {
                        for (size_t j = 0; j < ARRAY_SIZE(never_allowed); j++)
                                never_nr[j] = j == i ? saved[j] : -1;
                        if (saved[i] >= 0 && !run_filtered(&prog, probe_never_allowed, 0, never_allowed[i]))
                                fprintf(stderr, "  %s is not denied with EPERM\n", never_allowed[i]);
                }
                CHECK(0);
        }
        ns_seccomp_free(&prog);
}

TEST(seccomp_default_allows_ordinary_syscalls)
{
        struct sock_fprog prog;
        if (!build_default_spec(NULL, &prog)) {
                CHECK(0);
                return;
        }
        CHECK(run_filtered(&prog, probe_ordinary, 0, "ordinary"));
        ns_seccomp_free(&prog);
}

static int probe_exec_true(void)
{
        char *const argv[] = { "true", NULL };
        char *const envp[] = { NULL };
        execve("/bin/true", argv, envp);
        FAIL_AT(-1);
}

/* A real program runs to a clean exit under the filter: the dynamic loader
 * and libc start-up need nothing the profile denies. */
TEST(seccomp_default_runs_a_program)
{
        struct sock_fprog prog;
        if (!build_default_spec(NULL, &prog)) {
                CHECK(0);
                return;
        }
        CHECK(run_filtered(&prog, probe_exec_true, 0, "execve /bin/true"));
        ns_seccomp_free(&prog);
}

#ifdef __x86_64__
/* Other ABIs: the native-only filter kills the process on the i386 entry
 * (int $0x80, getpid = 20) and on x32 numbers (getpid = 39 | 0x40000000),
 * also where the kernel would serve them. */
static int probe_int80(void)
{
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        signal(SIGSEGV, SIG_DFL); /* a kernel without IA32: not a sanitizer's report */
        long ret = 20;
        __asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
        FAIL_AT(ret);
}

/* Does this kernel serve int $0x80 at all? Some (ia32_emulation=0, some
 * VMs) answer with SIGSEGV before seccomp ever sees the call. */
static bool int80_works(void)
{
        int status = 0;
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
                struct rlimit no_core = { 0, 0 };
                setrlimit(RLIMIT_CORE, &no_core);
                signal(SIGSEGV, SIG_DFL); /* not a sanitizer's report */
                long ret = 20;
                __asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
                _exit(ret == getpid() ? 0 : 1);
        }
        waitpid(pid, &status, 0);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
static int probe_x32(void)
{
        long r = syscall(39 | 0x40000000L);
        FAIL_AT(r);
}

TEST(seccomp_default_kills_other_abis)
{
        struct sock_fprog prog;
        if (!build_default_spec(NULL, &prog)) {
                CHECK(0);
                return;
        }
        CHECK(run_filtered(&prog, probe_x32, SIGSYS, "x32 syscall"));
        ns_seccomp_free(&prog);
}

TEST(seccomp_default_kills_i386_int80)
{
        struct sock_fprog prog;
        /* A kernel without IA32 emulation answers SIGSEGV before seccomp
         * sees the call: then the check is that the call still does not
         * get through (the BPF simulator test below covers the filter's
         * i386 branch itself). */
        int want = int80_works() ? SIGSYS : SIGSEGV;
        if (!build_default_spec(NULL, &prog)) {
                CHECK(0);
                return;
        }
        CHECK(run_filtered(&prog, probe_int80, want, "i386 int $0x80"));
        ns_seccomp_free(&prog);
}
#endif

/* ---- the program itself, run in a tiny classic-BPF interpreter ----
 * For what cannot be executed here (an i386 entry on a kernel without it)
 * and for exhaustive argument checks. */

static uint32_t bpf_run(const struct sock_fprog *prog, const struct seccomp_data *d, bool *ok)
{
        uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };

        for (unsigned pc = 0; pc < prog->len; pc++) {
                const struct sock_filter *f = &prog->filter[pc];
                uint32_t k = f->k;
                bool scratch = f->code == (BPF_LD | BPF_MEM) || f->code == (BPF_LDX | BPF_MEM) ||
                               f->code == BPF_ST || f->code == BPF_STX;
                if (scratch && k >= BPF_MEMWORDS)
                        goto bad;
                switch (f->code) {
                case BPF_LD | BPF_W | BPF_ABS:
                        if (k % 4 || k > sizeof(*d) - 4)
                                goto bad;
                        memcpy(&a, (const char *)d + k, 4);
                        break;
                case BPF_LD | BPF_IMM: a = k; break;
                case BPF_LDX | BPF_IMM: x = k; break;
                case BPF_LD | BPF_MEM: a = mem[k]; break;
                case BPF_LDX | BPF_MEM: x = mem[k]; break;
                case BPF_ST: mem[k] = a; break;
                case BPF_STX: mem[k] = x; break;
                case BPF_ALU | BPF_AND | BPF_K: a &= k; break;
                case BPF_ALU | BPF_OR | BPF_K: a |= k; break;
                case BPF_MISC | BPF_TAX: x = a; break;
                case BPF_MISC | BPF_TXA: a = x; break;
                case BPF_JMP | BPF_JA: pc += k; break;
                case BPF_JMP | BPF_JEQ | BPF_K: pc += a == k ? f->jt : f->jf; break;
                case BPF_JMP | BPF_JGT | BPF_K: pc += a > k ? f->jt : f->jf; break;
                case BPF_JMP | BPF_JGE | BPF_K: pc += a >= k ? f->jt : f->jf; break;
                case BPF_JMP | BPF_JSET | BPF_K: pc += (a & k) ? f->jt : f->jf; break;
                case BPF_RET | BPF_K: return k;
                case BPF_RET | BPF_A: return a;
                default:
                        fprintf(stderr, "  bpf_run: opcode 0x%x not simulated\n", f->code);
                        goto bad;
                }
        }
bad:
        *ok = false;
        return 0;
}

static uint32_t native_audit_arch(void)
{
        return seccomp_arch_native();
}

TEST(seccomp_bpf_other_abis_and_ioctl_words)
{
        struct sock_fprog prog;
        bool ok = true;
        if (!build_default_spec(NULL, &prog)) {
                CHECK(0);
                return;
        }
        struct seccomp_data d = { .nr = seccomp_syscall_resolve_name("getpid"),
                                  .arch = native_audit_arch() };
        CHECK(bpf_run(&prog, &d, &ok) == SECCOMP_RET_ALLOW);
#ifdef __x86_64__
        d = (struct seccomp_data){ .nr = 20, .arch = AUDIT_ARCH_I386 };     /* getpid */
        CHECK(bpf_run(&prog, &d, &ok) == SECCOMP_RET_KILL_PROCESS);
        d = (struct seccomp_data){ .nr = 39 | 0x40000000, .arch = AUDIT_ARCH_X86_64 };
        CHECK(bpf_run(&prog, &d, &ok) == SECCOMP_RET_KILL_PROCESS);
#elif defined(__aarch64__)
        d = (struct seccomp_data){ .nr = 20, .arch = AUDIT_ARCH_ARM };
        CHECK(bpf_run(&prog, &d, &ok) == SECCOMP_RET_KILL_PROCESS);
#endif
        /* ioctl: only the low 32 bits of the request count, whatever the
         * high bits; everything else is allowed. */
        uint64_t seed = 0x9e3779b97f4a7c15ull;
        int nr_ioctl = seccomp_syscall_resolve_name("ioctl");
        for (int i = 0; i < 20000 && ok; i++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                uint64_t req = seed;
                if (i % 4 == 1)
                        req = (req & ~0xffffffffull) | TIOCSTI;
                else if (i % 4 == 2)
                        req = (req & ~0xffffffffull) | TIOCLINUX;
                else if (i % 4 == 3)
                        req = (req & ~0xffffffffull) | ((uint32_t)TIOCSTI ^ (1u << (i % 32)));
                d = (struct seccomp_data){ .nr = nr_ioctl, .arch = native_audit_arch() };
                d.args[1] = req;
                uint32_t low = (uint32_t)req;
                uint32_t want = low == TIOCSTI || low == TIOCLINUX ? SECCOMP_RET_ERRNO | EPERM
                                                                  : SECCOMP_RET_ALLOW;
                uint32_t got = bpf_run(&prog, &d, &ok);
                if (got != want) {
                        fprintf(stderr, "  ioctl request 0x%llx: got 0x%x, want 0x%x\n",
                                (unsigned long long)req, got, want);
                        CHECK(0);
                        break;
                }
        }
        CHECK(ok);
        ns_seccomp_free(&prog);
}

/* The watching program (notify_watch.c) decides every call as the filter
 * it was made from, and notifies exactly where the supervisor's predicate
 * says it does: an allowed watched call (answered CONTINUE) or a refused
 * unwatched one (answered EPERM); a watched call the filter refuses (mkdir
 * on the deny list, a set-id mode) is refused without a notification. And
 * it holds one copy of the filter, not two (its load is on every run's
 * path). */
static uint32_t watch_want(uint32_t plain, bool watched)
{
        if (plain == SECCOMP_RET_ALLOW)
                return watched ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ALLOW;
        if (plain == (SECCOMP_RET_ERRNO | EPERM))
                return watched ? plain : SECCOMP_RET_USER_NOTIF;
        return plain;
}

TEST(seccomp_watch_program_decides_as_the_filter)
{
        static const char *const deny[] = { "mkdir" };
        struct ns_seccomp_spec spec = { .deny = deny, .n_deny = 1 };
        struct sock_fprog plain, watch;
        struct ns_notify n = { .watching = true };
        bool ok = true;
        if (!build_default_spec(&spec, &plain)) {
                CHECK(0);
                return;
        }
        CHECK(ns_watch_build(&n, &plain, true, &watch) == 0);
        CHECK(watch.len > plain.len && watch.len < plain.len + 128);
        static const uint64_t flags[] = { 0, O_RDONLY | O_CLOEXEC, O_WRONLY, O_RDWR | O_CREAT, O_TRUNC,
                                          O_DIRECTORY | O_NOFOLLOW };
        static const uint64_t modes[] = { 0, 0644, 04755, 02755 };
        unsigned notified_watched = 0, notified_denied = 0, refused_watched = 0;
        /* every number up to 1023, then the edges of the 32-bit range */
        static const uint32_t edges[] = { 0x3fffffffu, 0x40000000u, 0x40000002u, 0x7fffffffu, 0x80000000u,
                                          0xfffffffeu, 0xffffffffu };
        for (size_t k = 0; k < 1024 + ARRAY_SIZE(edges) && ok; k++) {
                uint32_t nr = k < 1024 ? (uint32_t)k : edges[k - 1024];
                for (size_t f = 0; f < ARRAY_SIZE(flags); f++) {
                        for (size_t m = 0; m < ARRAY_SIZE(modes); m++) {
                                /* flags and mode where open (1, 2) and openat (2, 3) have them */
                                struct seccomp_data d = { .nr = (int)nr, .arch = seccomp_arch_native(),
                                                          .args = { 3, flags[f], flags[f], modes[m], modes[m] } };
                                bool open_nr = nr == (uint32_t)seccomp_syscall_resolve_name("open");
                                d.args[1] = open_nr ? flags[f] : 3;
                                d.args[2] = open_nr ? modes[m] : flags[f];
                                uint32_t p = bpf_run(&plain, &d, &ok), w = bpf_run(&watch, &d, &ok);
                                bool watched = ns_watch_match(&n, &d) >= 0;
                                if (w != watch_want(p, watched)) {
                                        fprintf(stderr, "  nr %u flags 0x%llx mode 0%llo: plain 0x%x watch 0x%x\n", nr,
                                                (unsigned long long)flags[f], (unsigned long long)modes[m], p, w);
                                        CHECK(0);
                                        ok = false;
                                }
                                notified_watched += w == SECCOMP_RET_USER_NOTIF && watched;
                                notified_denied += w == SECCOMP_RET_USER_NOTIF && !watched;
                                refused_watched += w == (SECCOMP_RET_ERRNO | EPERM) && watched;
                        }
                }
        }
        CHECK(ok);
        CHECK(notified_watched > 0 && notified_denied > 0 && refused_watched > 0);
        struct seccomp_data foreign = { .nr = 39, .arch = 0x40000003 /* AUDIT_ARCH_I386 */ };
        CHECK(bpf_run(&watch, &foreign, &ok) == bpf_run(&plain, &foreign, &ok));
        ns_seccomp_free(&watch);
        ns_seccomp_free(&plain);
}

/* ---- the policy's allow and deny lists ---- */

static int probe_deny_getcwd(void)
{
        char buf[256];
        EXPECT_ERR(syscall(SYS_getcwd, buf, sizeof(buf)), EPERM);
        EXPECT_OK(getpid());
        /* allow: syslog is let through; the kernel itself then answers. */
        EXPECT_NOT_ERR(syscall(SYS_syslog, -1, NULL, 0), EPERM);
        return 0;
}

static int probe_getcwd_denied(void)
{
        char buf[256];
        EXPECT_ERR(syscall(SYS_getcwd, buf, sizeof(buf)), EPERM);
        return 0;
}

TEST(seccomp_spec_allow_and_deny)
{
        static const char *const deny[] = { "getcwd", "syslog" };
        static const char *const allow[] = { "syslog", "getcwd" };
        struct ns_seccomp_spec spec = { .deny = deny, .n_deny = 1, .allow = allow, .n_allow = 1 };
        struct sock_fprog prog;
        if (!build_default_spec(&spec, &prog)) {
                CHECK(0);
                return;
        }
        CHECK(run_filtered(&prog, probe_deny_getcwd, 0, "deny getcwd, allow syslog"));
        ns_seccomp_free(&prog);

        /* Deny wins over allow for the same name. */
        spec = (struct ns_seccomp_spec){ .deny = deny, .n_deny = 1, .allow = allow + 1, .n_allow = 1 };
        CHECK(build_default_spec(&spec, &prog));
        CHECK(run_filtered(&prog, probe_getcwd_denied, 0, "deny and allow getcwd"));
        ns_seccomp_free(&prog);
}

TEST(seccomp_spec_unknown_names)
{
        static const char *const bad[] = { "getpid", "no_such_syscall" };
        static const char *const empty[] = { "" };
        static const char *const other_arch[] = { "mmap2", "arm_fadvise64_64", "mseal" };
        struct zb_error err = { 0 };
        struct sock_fprog prog;

        struct ns_seccomp_spec spec = { .deny = bad, .n_deny = 2 };
        CHECK(ns_seccomp_build(&spec, &prog, &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, "layer seccomp");
        CHECK_STR_CONTAINS(err.message, "'no_such_syscall' in deny");
        spec = (struct ns_seccomp_spec){ .allow = bad, .n_allow = 2 };
        CHECK(ns_seccomp_build(&spec, &prog, &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, "in allow");
        spec = (struct ns_seccomp_spec){ .allow = empty, .n_allow = 1 };
        CHECK(ns_seccomp_build(&spec, &prog, &err) == -EINVAL);
        /* Known on some arch (or newer than libseccomp): accepted. */
        spec = (struct ns_seccomp_spec){ .deny = other_arch, .n_deny = 3 };
        CHECK(build_default_spec(&spec, &prog));
        ns_seccomp_free(&prog);
}

/* ---- JSON profiles ---- */

static const char small_profile[] =
        "{\n"
        "  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n"
        "  \"syscalls\": [\n"
        "    {\"names\": [\"getppid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13},\n"
        "    {\"name\": \"dup\", \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 22,\n"
        "     \"args\": [{\"index\": 0, \"value\": 100, \"op\": \"SCMP_CMP_EQ\"}]},\n"
        "    {\"names\": [\"no_such_syscall_at_all\"], \"action\": \"SCMP_ACT_KILL\"}\n"
        "  ]\n"
        "}\n";

static int probe_small_profile(void)
{
        /* glibc's getppid and getuid cannot fail, so they do not set errno:
         * raw syscalls here. */
        EXPECT_ERR(syscall(SYS_getppid), EACCES);
        EXPECT_OK(getpid());
        EXPECT_ERR(dup(100), EINVAL);
        int fd = dup(1);
        EXPECT_OK(fd);
        close(fd);
        EXPECT_OK(unshare(0)); /* default ALLOW */
        return 0;
}

TEST(seccomp_json_small_profile)
{
        struct zb_error err = { 0 };
        struct sock_fprog prog;
        int r = ns_seccomp_build_json(small_profile, strlen(small_profile), &prog, &err);
        if (r < 0)
                fprintf(stderr, "  %s\n", err.message);
        CHECK(r == 0);
        if (r == 0)
                CHECK(run_filtered(&prog, probe_small_profile, 0, "small profile"));
        ns_seccomp_free(&prog);
}

/* The shape of Docker's default.json: archMap, includes/excludes, comments,
 * defaultErrnoRet. Entries needing a capability are dropped; arch filters
 * are matched against this machine. */
#define NATIVE_ARCHES "\"amd64\", \"arm64\", \"riscv64\", \"ppc64le\", \"s390x\""
static const char docker_like_profile[] =
        "{\n"
        "  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n"
        "  \"archMap\": [\n"
        "    {\"architecture\": \"SCMP_ARCH_X86_64\", \"subArchitectures\": [\"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"]},\n"
        "    {\"architecture\": \"SCMP_ARCH_AARCH64\", \"subArchitectures\": [\"SCMP_ARCH_ARM\"]},\n"
        "    {\"architecture\": \"SCMP_ARCH_LOONGARCH64\", \"subArchitectures\": null}\n"
        "  ],\n"
        "  \"syscalls\": [\n"
        "    {\"names\": [\"getppid\"], \"action\": \"SCMP_ACT_ERRNO\", \"includes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}},\n"
        "    {\"names\": [\"getuid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1,\n"
        "     \"includes\": {\"arches\": [" NATIVE_ARCHES "]}, \"comment\": \"native\"},\n"
        "    {\"names\": [\"getgid\"], \"action\": \"SCMP_ACT_ERRNO\", \"excludes\": {\"arches\": [" NATIVE_ARCHES "]}},\n"
        "    {\"names\": [\"getegid\"], \"action\": \"SCMP_ACT_ERRNO\", \"includes\": {\"arches\": [\"mips64\"]}},\n"
        "    {\"names\": [\"geteuid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 5, \"includes\": {\"minKernel\": \"4.8\"},\n"
        "     \"excludes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}},\n"
        "    {\"names\": [\"getpgid\"], \"action\": \"SCMP_ACT_ERRNO\", \"excludes\": {\"minKernel\": \"4.8\"}},\n"
        "    {\"names\": [\"socket\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 97,\n"
        "     \"args\": [{\"index\": 0, \"value\": 17, \"op\": \"SCMP_CMP_EQ\"}]},\n"
        "    {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ERRNO\",\n"
        "     \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}, {\"index\": 0, \"value\": 2, \"op\": \"SCMP_CMP_EQ\"}]},\n"
        "    {\"names\": [\"kill\"], \"action\": \"SCMP_ACT_ERRNO\",\n"
        "     \"args\": [{\"index\": 1, \"value\": 4294967295, \"valueTwo\": 0, \"op\": \"SCMP_CMP_MASKED_EQ\"}]}\n"
        "  ]\n"
        "}\n";

static int probe_docker_like(void)
{
        EXPECT_OK(syscall(SYS_getppid));        /* needs CAP_SYS_ADMIN: dropped */
        EXPECT_ERR(syscall(SYS_getuid), EPERM); /* includes this arch */
        EXPECT_OK(syscall(SYS_getgid));         /* excludes this arch */
        EXPECT_OK(syscall(SYS_getegid));        /* another arch only */
        EXPECT_ERR(syscall(SYS_geteuid), EIO);  /* minKernel met; no caps to exclude it */
        EXPECT_OK(syscall(SYS_getpgid, 0));     /* excludes.minKernel met */
        EXPECT_ERR(socket(AF_PACKET, SOCK_RAW, 0), EAFNOSUPPORT);
        EXPECT_ERR(personality(1), EPERM);      /* repeated index: ORed */
        EXPECT_ERR(personality(2), EPERM);
        EXPECT_OK(personality(0xffffffff));
        EXPECT_ERR(kill(getpid(), 0), EPERM);   /* (sig & mask) == 0 */
        EXPECT_OK(kill(getpid(), SIGCHLD));
        return 0;
}

TEST(seccomp_json_docker_shape)
{
        struct zb_error err = { 0 };
        struct sock_fprog prog;
        int r = ns_seccomp_build_json(docker_like_profile, strlen(docker_like_profile), &prog, &err);
        if (r < 0)
                fprintf(stderr, "  %s\n", err.message);
        CHECK(r == 0);
        if (r == 0)
                CHECK(run_filtered(&prog, probe_docker_like, 0, "docker-like profile"));
        ns_seccomp_free(&prog);
}

TEST(seccomp_json_architectures_and_length)
{
        static const char text[] =
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 38,"
                " \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\","
                " \"SCMP_ARCH_AARCH64\", \"SCMP_ARCH_ARM\"],"
                " \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"],"
                " \"syscalls\": [{\"names\": [\"read\", \"write\", \"mmap2\", \"socketcall\", \"mseal\"],"
                " \"action\": \"SCMP_ACT_ALLOW\"}]}"
                "GARBAGE";
        struct zb_error err = { 0 };
        struct sock_fprog prog;
        /* len stops before the garbage: the text need not be terminated. */
        int r = ns_seccomp_build_json(text, strlen(text) - 7, &prog, &err);
        if (r < 0)
                fprintf(stderr, "  %s\n", err.message);
        CHECK(r == 0);
        ns_seccomp_free(&prog);
        CHECK(ns_seccomp_build_json(text, strlen(text), &prog, &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, "invalid JSON at byte");
}

TEST(seccomp_json_errors_name_the_key)
{
        static const struct {
                const char *json;
                const char *want;
        } t[] = {
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscals\": []}", "unknown key 'syscals'" },
                { "{\"syscalls\": []}", "missing key 'defaultAction'" },
                { "{\"defaultAction\": \"SCMP_ACT_FOO\"}", "defaultAction: unknown action 'SCMP_ACT_FOO'" },
                { "{\"defaultAction\": 1}", "'defaultAction' must be a string" },
                { "{\"defaultAction\": \"SCMP_ACT_NOTIFY\"}", "SCMP_ACT_NOTIFY is not supported" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 70000}", "'defaultErrnoRet' is out of range" },
                { "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultErrnoRet\": 1}", "'defaultErrnoRet' is only valid" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"actoin\": \"SCMP_ACT_ALLOW\"}]}",
                  "unknown key 'syscalls[0].actoin'" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"]}]}",
                  "missing key 'syscalls[0].action'" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_BOGUS\"}]}",
                  "syscalls[0].action: unknown action 'SCMP_ACT_BOGUS'" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"action\": \"SCMP_ACT_ALLOW\"}]}",
                  "missing key 'syscalls[0].names'" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"name\": \"read\", \"names\": [\"write\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
                  "syscalls[0]: use either 'name' or 'names'" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [1], \"action\": \"SCMP_ACT_ALLOW\"}]}",
                  "'syscalls[0].names' must hold strings" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\","
                  " \"args\": [{\"index\": 6, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                  "'syscalls[0].args[0].index' is out of range" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\","
                  " \"args\": [{\"index\": 0, \"value\": -1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                  "'syscalls[0].args[0].value' must not be negative" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\","
                  " \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_XX\"}]}]}",
                  "syscalls[0].args[0].op: unknown operator 'SCMP_CMP_XX'" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\","
                  " \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_EQ\", \"vaule\": 2}]}]}",
                  "unknown key 'syscalls[0].args[0].vaule'" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\","
                  " \"includes\": {\"capz\": []}}]}",
                  "unknown key 'syscalls[0].includes.capz'" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"X86\"]}", "unknown architecture 'X86'" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"SCMP_ARCH_X86\"],"
                  " \"archMap\": [{\"architecture\": \"SCMP_ARCH_X86_64\"}]}", "use either 'architectures' or 'archMap'" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"archMap\": [{\"arch\": \"SCMP_ARCH_X86_64\"}]}",
                  "unknown key 'archMap[0].arch'" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"flags\": [\"SECCOMP_FILTER_FLAG_NOPE\"]}", "unknown flag" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"listenerPath\": \"/run/agent.sock\"}", "listenerPath" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\",}", "invalid JSON" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\"", "unexpected end of input" },
                { "[]", "top level must be a JSON object" },
                { "", "invalid JSON" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_error err = { 0 };
                struct sock_fprog prog;
                int r = ns_seccomp_build_json(t[i].json, strlen(t[i].json), &prog, &err);
                if (r == 0) {
                        fprintf(stderr, "  accepted: %s\n", t[i].json);
                        ns_seccomp_free(&prog);
                }
                CHECK(r < 0 && err.code == r);
                CHECK(prog.filter == NULL);
                CHECK_STR_CONTAINS(err.message, "layer seccomp: profile: ");
                CHECK_STR_CONTAINS(err.message, t[i].want);
        }
}

TEST(seccomp_json_from_file)
{
        char path[] = "/tmp/zb-seccomp-XXXXXX";
        struct zb_error err = { 0 };
        struct sock_fprog prog;
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        if (fd < 0)
                return;
        CHECK(write(fd, small_profile, strlen(small_profile)) == (ssize_t)strlen(small_profile));
        close(fd);

        struct ns_seccomp_spec spec = { .profile = path };
        CHECK(ns_seccomp_build(&spec, &prog, &err) == 0);
        if (prog.filter)
                CHECK(run_filtered(&prog, probe_small_profile, 0, "profile file"));
        ns_seccomp_free(&prog);

        /* An error inside the file names the file. */
        fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        CHECK(write(fd, "{\"defaultAction\": \"SCMP_ACT_X\"}", 31) == 31);
        close(fd);
        CHECK(ns_seccomp_build(&spec, &prog, &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, path);
        CHECK_STR_CONTAINS(err.message, "unknown action 'SCMP_ACT_X'");
        unlink(path);

        CHECK(ns_seccomp_build(&spec, &prog, &err) == -ENOENT);
        CHECK_STR_CONTAINS(err.message, "layer seccomp: profile /tmp/zb-seccomp-");
        spec.profile = "/tmp";
        CHECK(ns_seccomp_build(&spec, &prog, &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, "not a regular file");
        /* A FIFO is refused, not waited on. */
        char fifo[] = "/tmp/zb-seccomp-fifo-XXXXXX";
        CHECK(mkdtemp(fifo) != NULL);
        char fifo_path[64];
        snprintf(fifo_path, sizeof(fifo_path), "%s/p", fifo);
        CHECK(mkfifo(fifo_path, 0600) == 0);
        spec.profile = fifo_path;
        CHECK(ns_seccomp_build(&spec, &prog, &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, "not a regular file");
        unlink(fifo_path);
        rmdir(fifo);
        spec.profile = "unconfined";
        CHECK(ns_seccomp_build(&spec, &prog, &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, "'unconfined' means no filter");
}

TEST(seccomp_json_too_large)
{
        size_t len = MAX_SECCOMP_PROFILE_BYTES + 1;
        char *big = malloc(len);
        struct zb_error err = { 0 };
        struct sock_fprog prog;
        CHECK(big != NULL);
        if (!big)
                return;
        memset(big, ' ', len);
        CHECK(ns_seccomp_build_json(big, len, &prog, &err) == -EFBIG);
        CHECK_STR_CONTAINS(err.message, "larger than");
        free(big);
}

TEST(seccomp_install_rejects_empty)
{
        struct sock_fprog empty = { 0 };
        CHECK(ns_seccomp_install(&empty) == -EINVAL);
        CHECK(ns_seccomp_install(NULL) == -EINVAL);
}

TEST(seccomp_precompiled_matches)
{
        int r = ns_seccomp_precompiled_matches();
        if (r < 0) {
                test_skip("this build has no precompiled default program");
                return;
        }
        CHECK(r == 1); /* stale: make clean all */
}

/* The default profile's watch programs (issue 16) are compiled in too: each
 * must be what ns_watch_build makes of the default program at run time. */
TEST(seccomp_precompiled_watch_matches)
{
        struct zb_error err = { 0 };
        struct sock_fprog plain = { 0 };
        CHECK(ns_seccomp_build(NULL, &plain, &err) == 0);
        for (int net = 0; net <= 1; net++) {
                struct sock_fprog pre = { 0 }, fresh = { 0 };
                int nr[NS_WATCH_MAX];
                if (!ns_seccomp_default_watch(&plain, net, &pre, nr)) {
                        test_skip("this build has no precompiled default program");
                        break;
                }
                /* A copy of the program is not the compiled-in one: built afresh. */
                struct sock_fprog copy = { .len = plain.len, .filter = malloc(plain.len * sizeof(*plain.filter)) };
                struct ns_notify *n = calloc(1, sizeof(*n));
                CHECK(copy.filter && n);
                if (!copy.filter || !n) {
                        free(copy.filter);
                        free(n);
                        break;
                }
                memcpy(copy.filter, plain.filter, plain.len * sizeof(*plain.filter));
                CHECK(ns_watch_build(n, &copy, net, &fresh) == 0);
                CHECK(fresh.filter != pre.filter && fresh.len == pre.len);
                CHECK(memcmp(fresh.filter, pre.filter, pre.len * sizeof(*pre.filter)) == 0);
                CHECK(memcmp(n->watch_nr, nr, NS_N_WATCH * sizeof(int)) == 0);
                CHECK((nr[NS_WATCH_CONNECT] >= 0) == net); /* connect() only with a network namespace */
                ns_seccomp_free(&fresh);
                ns_seccomp_free(&pre); /* compiled in: left alone */
                ns_seccomp_free(&copy);
                free(n);
        }
        ns_seccomp_free(&plain);
}
