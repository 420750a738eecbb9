/* zonebox __probe: the attacks behind `zonebox check`, run inside the
 * sandbox (check.c binds this very binary in; it is static, so it needs
 * nothing from the sandbox's root). One line per probe on stdout:
 *
 *     LAYER <tab> NAME <tab> PASS|FAIL|SKIP <tab> DETAIL
 *
 * PASS means the attack was stopped. Every probe is a real attempt that
 * succeeds where its layer is missing: run on the host as root, each one
 * reports FAIL (tests/integration/test_check.py shows it), so none of them
 * can pass by construction. Attempts that could change something clean up
 * after themselves when they succeed (a created file is unlinked, a mount
 * unmounted, a traced child killed). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "probe.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

struct probe_args {
        pid_t host_pid;
        int port_lo, port_ext;
        char ext_ip[64];
        char abstract_name[108];
        const char *canary_path;
        const char *hostname;
        const char *ro_zones[32];
        size_t n_ro;
        struct { const char *path; unsigned long long size; } tmpfs[32];
        size_t n_tmpfs;
        unsigned long long memory, pids, file_size, open_files;
        const char *only;
};

static struct probe_args A;

static void row(const char *layer, const char *name, const char *verdict, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void row(const char *layer, const char *name, const char *verdict, const char *fmt, ...)
{
        char detail[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);
        for (char *s = detail; *s; s++)
                if (*s == '\t' || *s == '\n')
                        *s = ' ';
        printf("%s\t%s\t%s\t%s\n", layer, name, verdict, detail);
        fflush(stdout);
}

/* The attack was refused: PASS with the errno; it worked: FAIL. */
static void refused(const char *layer, const char *name, long r, int e, const char *what)
{
        if (r < 0)
                row(layer, name, "PASS", "%s: %s", what, strerrorname_np(e) ? strerrorname_np(e) : strerror(e));
        else
                row(layer, name, "FAIL", "%s succeeded", what);
}

/* ------------------------------------------------------------ network */

static int connect_timeout(int fd, const struct sockaddr *sa, socklen_t len, int ms)
{
        fcntl(fd, F_SETFL, O_NONBLOCK);
        if (connect(fd, sa, len) == 0)
                return 0;
        if (errno != EINPROGRESS)
                return -1;
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        if (poll(&p, 1, ms) <= 0) {
                errno = ETIMEDOUT;
                return -1;
        }
        int err = 0;
        socklen_t l = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
        errno = err;
        return err ? -1 : 0;
}

static void tcp_probe(const char *name, const char *ip, int port)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        if (!ip[0] || !port || inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
                row("network", name, "SKIP", "no host address given");
                return;
        }
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int r = fd < 0 ? -1 : connect_timeout(fd, (struct sockaddr *)&sa, sizeof(sa), 1000);
        int e = errno;
        char what[96];
        snprintf(what, sizeof(what), "connect to the host's listener at %s:%d", ip, port);
        refused("network", name, r, e, what);
        if (fd >= 0)
                close(fd);
}

static void probe_network(void)
{
        tcp_probe("host_address", A.ext_ip, A.port_ext);
        tcp_probe("host_loopback", "127.0.0.1", A.port_lo);

        if (A.abstract_name[0]) {
                struct sockaddr_un su = { .sun_family = AF_UNIX };
                size_t n = strlen(A.abstract_name);
                memcpy(su.sun_path + 1, A.abstract_name, n);
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                int r = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&su,
                                               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n));
                int e = errno;
                refused("network", "host_abstract_unix", r, e, "connect to the host's abstract unix socket");
                if (fd >= 0)
                        close(fd);
        } else {
                row("network", "host_abstract_unix", "SKIP", "no socket name given");
        }

        int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
        refused("network", "raw_socket", fd, errno, "socket(AF_INET, SOCK_RAW)");
        if (fd >= 0)
                close(fd);
        fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
        refused("network", "packet_socket", fd, errno, "socket(AF_PACKET, SOCK_RAW)");
        if (fd >= 0)
                close(fd);

        struct if_nameindex *ifs = if_nameindex();
        char names[256] = "";
        bool only_lo = true;
        for (struct if_nameindex *i = ifs; i && i->if_index; i++) {
                size_t used = strlen(names);
                snprintf(names + used, sizeof(names) - used, "%s%s", used ? "," : "", i->if_name);
                only_lo &= strcmp(i->if_name, "lo") == 0;
        }
        if (ifs)
                if_freenameindex(ifs);
        row("network", "interfaces", only_lo ? "PASS" : "FAIL", "interfaces: %s", names[0] ? names : "none");
}

/* ------------------------------------------------------------ filesystem */

static void try_create(const char *layer, const char *name, const char *dir)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/.zonebox-check-%d", strcmp(dir, "/") ? dir : "", (int)getpid());
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        int e = errno;
        if (fd >= 0) {
                close(fd);
                unlink(path);
        }
        char what[4200];
        snprintf(what, sizeof(what), "create %s", path);
        refused(layer, name, fd, e, what);
}

static void probe_filesystem(void)
{
        try_create("filesystem", "write_root", "/");
        try_create("filesystem", "write_etc", "/etc");
        try_create("filesystem", "write_usr", "/usr");
        for (size_t i = 0; i < A.n_ro; i++) {
                char name[128];
                snprintf(name, sizeof(name), "write_ro_zone:%s", A.ro_zones[i]);
                try_create("zones", name, A.ro_zones[i]);
        }
        if (A.canary_path) {
                int fd = open(A.canary_path, O_RDONLY | O_CLOEXEC);
                int e = errno;
                char what[4200];
                snprintf(what, sizeof(what), "read the host canary %s", A.canary_path);
                refused("filesystem", "host_file", fd, e, what);
                if (fd >= 0)
                        close(fd);
        }
        int fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
        refused("filesystem", "proc_sys_write", fd, errno, "open /proc/sys/kernel/hostname for writing");
        if (fd >= 0)
                close(fd);

        static const char *const sys_files[] = { "/sys/kernel/uevent_helper", "/sys/power/state",
                                                 "/sys/kernel/mm/transparent_hugepage/enabled" };
        const char *opened = NULL;
        int last = ENOENT;
        for (size_t i = 0; i < sizeof(sys_files) / sizeof(*sys_files) && !opened; i++) {
                fd = open(sys_files[i], O_WRONLY | O_CLOEXEC);
                if (fd >= 0) {
                        opened = sys_files[i];
                        close(fd);
                } else {
                        last = errno;
                }
        }
        if (opened)
                row("filesystem", "sys_write", "FAIL", "opened %s for writing", opened);
        else
                row("filesystem", "sys_write", "PASS", "no /sys file opens for writing: %s",
                    strerrorname_np(last));

        static const char *const allowed[] = { ".", "..", "null", "zero", "full", "random", "urandom",
                                               "tty", "pts", "ptmx", "shm", "fd", "stdin", "stdout",
                                               "stderr" };
        DIR *d = opendir("/dev");
        char extra[256] = "";
        size_t n_extra = 0;
        for (struct dirent *e; d && (e = readdir(d));) {
                bool ok = false;
                for (size_t i = 0; i < sizeof(allowed) / sizeof(*allowed); i++)
                        ok |= strcmp(e->d_name, allowed[i]) == 0;
                if (!ok && n_extra++ < 8) {
                        size_t used = strlen(extra);
                        if (snprintf(extra + used, sizeof(extra) - used, " %.20s", e->d_name) < 0)
                                break;
                }
        }
        if (d)
                closedir(d);
        if (n_extra)
                row("filesystem", "devices", "FAIL", "/dev has %zu more entries:%s", n_extra, extra);
        else
                row("filesystem", "devices", "PASS", "/dev holds only null, zero, full, random, urandom, tty, pts, shm");

        /* A character device made where files can be written. */
        char node[64];
        snprintf(node, sizeof(node), "/dev/shm/.zonebox-check-node-%d", (int)getpid());
        int r = mknod(node, S_IFCHR | 0600, makedev(1, 3));
        int e = errno;
        if (r == 0)
                unlink(node);
        refused("filesystem", "mknod", r, e, "mknod a character device in /dev/shm");

        fd = open(ZB_LANDLOCK_CANARY, O_RDONLY | O_CLOEXEC);
        e = errno;
        if (fd < 0 && e == ENOENT)
                row("landlock", "unlisted_file", "SKIP", "%s missing (not started by zonebox check)",
                    ZB_LANDLOCK_CANARY);
        else
                refused("landlock", "unlisted_file", fd, e,
                        "read " ZB_LANDLOCK_CANARY " (in the root, outside every Landlock rule)");
        if (fd >= 0)
                close(fd);
}

/* ------------------------------------------------------------ privileges */

static bool status_field(const char *key, char *out, size_t size)
{
        FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        size_t n = strlen(key);
        bool found = false;
        while (f && !found && fgets(line, sizeof(line), f))
                if (strncmp(line, key, n) == 0 && line[n] == ':') {
                        snprintf(out, size, "%s", line + n + 1 + strspn(line + n + 1, " \t"));
                        out[strcspn(out, "\n")] = '\0';
                        found = true;
                }
        if (f)
                fclose(f);
        return found;
}

/* Any capability in the ambient set, asked one by one. */
static bool ambient_any(void)
{
        for (int c = 0; c < 64; c++)
                if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1)
                        return true;
        return false;
}

static void probe_privileges(void)
{
        int r = setuid(0);
        refused("users", "setuid0", r, errno, "setuid(0)");

        static const char *const caps[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
        char v[64], bad[256] = "";
        for (size_t i = 0; i < sizeof(caps) / sizeof(*caps); i++) {
                v[0] = '\0';
                bool have = status_field(caps[i], v, sizeof(v));
                if (!have && strcmp(caps[i], "CapAmb") == 0) /* gVisor has no such line: ask prctl */
                        snprintf(v, sizeof(v), "%s", ambient_any() ? "some" : "0");
                if (strspn(v, "0") != strlen(v) || !v[0]) {
                        size_t used = strlen(bad);
                        snprintf(bad + used, sizeof(bad) - used, " %s=%s", caps[i], v);
                }
        }
        row("capabilities", "all_zero", bad[0] ? "FAIL" : "PASS", "%s",
            bad[0] ? bad : "inheritable, permitted, effective, bounding, ambient: all 0");

        /* prctl answers where /proc/self/status has no NoNewPrivs line (gVisor). */
        int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
        row("privileges", "no_new_privs", nnp == 1 ? "PASS" : "FAIL", "PR_GET_NO_NEW_PRIVS: %d", nnp);
        status_field("Seccomp", v, sizeof(v));
        row("seccomp", "mode", strcmp(v, "2") == 0 ? "PASS" : "FAIL", "Seccomp: %s (2 = filter)", v);

        char fds[256] = "";
        DIR *d = opendir("/proc/self/fd");
        for (struct dirent *e; d && (e = readdir(d));) {
                int fd = atoi(e->d_name);
                if (e->d_name[0] == '.' || fd <= 2 || fd == dirfd(d))
                        continue;
                size_t used = strlen(fds);
                snprintf(fds + used, sizeof(fds) - used, " %d", fd);
        }
        if (d)
                closedir(d);
        row("processes", "inherited_fds", fds[0] ? "FAIL" : "PASS", "%s%s",
            fds[0] ? "open beyond 0, 1, 2:" : "only 0, 1, 2 open", fds);

        const char *canary = getenv(ZB_ENV_CANARY);
        row("processes", "environment", canary ? "FAIL" : "PASS", "%s %s", ZB_ENV_CANARY,
            canary ? "leaked from zonebox's environment" : "not inherited");
}

/* ------------------------------------------------------------ syscalls */

/* Run FN in a child (it may hang, be killed, or leave state) and report. */
static void in_child(const char *name, int (*fn)(void), const char *what)
{
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
                alarm(5);
                _exit(fn() < 0 ? 100 + (errno & 63) : 0);
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) < 0) {
                row("seccomp", name, "SKIP", "fork: %s", strerror(errno));
                return;
        }
        if (WIFEXITED(st) && WEXITSTATUS(st) >= 100)
                refused("seccomp", name, -1, WEXITSTATUS(st) - 100, what);
        else if (WIFEXITED(st))
                refused("seccomp", name, 0, 0, what);
        else
                row("seccomp", name, WTERMSIG(st) == SIGSYS ? "PASS" : "FAIL", "%s: killed by signal %d",
                    what, WTERMSIG(st));
}

static int do_unshare_user(void) { return unshare(CLONE_NEWUSER); }

/* The namespace route to capabilities: a new user and mount namespace,
 * then a mount there. */
static int do_mount_in_userns(void)
{
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
                return -1;
        return mount("none", "/proc", "tmpfs", 0, NULL);
}

static int do_ptrace(void)
{
        pid_t t = fork();
        if (t == 0) {
                pause();
                _exit(0);
        }
        long r = ptrace(PTRACE_ATTACH, t, NULL, NULL);
        int e = errno;
        kill(t, SIGKILL);
        waitpid(t, NULL, 0);
        errno = e;
        return r < 0 ? -1 : 0;
}

/* Invalid flags: the kernel answers EINVAL once past the capability check,
 * the filter answers EPERM before it. Never loads or unloads anything. */
static int do_kexec(void)
{
        long r = syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0xffff0000UL);
        return r < 0 && errno == EPERM ? -1 : 0;
}

/* An invalid command: EINVAL from the kernel, EPERM from the filter. */
static int do_bpf(void)
{
        long r = syscall(SYS_bpf, 0x7fffffff, NULL, 0);
        return r < 0 && errno == EPERM ? -1 : 0;
}

static int do_perf(void)
{
        struct perf_event_attr attr = { .type = PERF_TYPE_SOFTWARE, .size = sizeof(attr),
                                        .config = PERF_COUNT_SW_TASK_CLOCK, .disabled = 1,
                                        .exclude_kernel = 1, .exclude_hv = 1 };
        long fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
        return fd < 0 ? -1 : 0;
}

static int do_userfaultfd(void)
{
        long fd = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
        return fd < 0 ? -1 : 0;
}

static int do_keyctl(void)
{
        long id = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
        return id < 0 ? -1 : 0;
}

static int do_io_uring(void)
{
        char params[120] = { 0 }; /* struct io_uring_params, zeroed */
        long fd = syscall(425 /* io_uring_setup */, 1, params);
        return fd < 0 ? -1 : 0;
}

static int do_handle(void)
{
        struct { unsigned int bytes; int type; unsigned char h[128]; } fh = { .bytes = 128 };
        int mount_id;
        long r = syscall(SYS_name_to_handle_at, AT_FDCWD, "/", &fh, &mount_id, 0);
        return r < 0 ? -1 : 0;
}

static int do_tiocsti(void)
{
        int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0)
                return 0; /* no pty: nothing to inject into; reported by the caller */
        int s = open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (s < 0)
                return 0;
        char c = 'x';
        return ioctl(s, TIOCSTI, &c) < 0 ? -1 : 0;
}

static void probe_syscalls(void)
{
        int r = mount("none", "/dev/shm", "tmpfs", 0, NULL);
        int e = errno;
        if (r == 0)
                umount2("/dev/shm", MNT_DETACH);
        refused("seccomp", "mount", r, e, "mount tmpfs");
        in_child("unshare_userns", do_unshare_user, "unshare(CLONE_NEWUSER)");
        in_child("mount_in_new_userns", do_mount_in_userns, "unshare(NEWUSER|NEWNS) + mount");
        in_child("ptrace", do_ptrace, "ptrace(PTRACE_ATTACH) of an own child");
        in_child("kexec_load", do_kexec, "kexec_load (refused before its argument check)");
        in_child("bpf", do_bpf, "bpf (refused before its argument check)");
        in_child("perf_event_open", do_perf, "perf_event_open(task clock, user only)");
        in_child("userfaultfd", do_userfaultfd, "userfaultfd(UFFD_USER_MODE_ONLY)");
        in_child("keyctl", do_keyctl, "keyctl(GET_KEYRING_ID)");
        in_child("io_uring_setup", do_io_uring, "io_uring_setup");
        in_child("name_to_handle_at", do_handle, "name_to_handle_at (the first half of open_by_handle_at)");
        in_child("tiocsti", do_tiocsti, "ioctl(TIOCSTI) on a pty");
}

/* ------------------------------------------------------------ processes */

static void probe_processes(void)
{
        DIR *d = opendir("/proc");
        int n = 0, seen_host = 0;
        for (struct dirent *e; d && (e = readdir(d));) {
                if (e->d_name[0] < '0' || e->d_name[0] > '9')
                        continue;
                n++;
                seen_host |= A.host_pid && atoi(e->d_name) == A.host_pid;
        }
        if (d)
                closedir(d);
        row("processes", "proc_pids", n <= 16 && !seen_host ? "PASS" : "FAIL",
            "/proc lists %d processes%s", n, seen_host ? ", zonebox's own among them" : "");
        if (A.host_pid) {
                int r = kill(A.host_pid, 0);
                char what[64];
                snprintf(what, sizeof(what), "kill(%d, 0) of zonebox's pid", (int)A.host_pid);
                refused("processes", "signal_host", r, errno, what);
        }
        /* Landlock scopes signals (ABI 6): init is outside the command's
         * domain. Run on a host, PID 1 is the host's init. */
        long abi = syscall(444 /* landlock_create_ruleset */, NULL, 0, 1 /* VERSION */);
        if (abi < 6) {
                row("landlock", "signal_init", "SKIP", "Landlock ABI %ld: no signal scoping before ABI 6", abi < 0 ? 0 : abi);
        } else {
                int r = kill(1, 0);
                refused("landlock", "signal_init", r, errno, "kill(1, 0) of the sandbox's init");
        }

        struct utsname u;
        uname(&u);
        if (A.hostname)
                row("uts", "hostname", strcmp(u.nodename, A.hostname) == 0 ? "PASS" : "FAIL",
                    "hostname %s (expected %s)", u.nodename, A.hostname);
}

/* ------------------------------------------------------------ limits */

/* Touch MIB MiB in 16 MiB pieces: a memory limit must end it (check's
 * own sandbox for gVisor, where an OOM kill ends the whole sandbox). */
static int touch_mib(unsigned long long mib)
{
        for (unsigned long long got = 0; got < mib; got += 16) {
                char *p = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                        return 2;
                memset(p, 1, 16 << 20);
        }
        return 0;
}

static void probe_memory(void)
{
        if (!A.memory) {
                row("resources", "memory", "SKIP", "no memory limit set");
                return;
        }
        unsigned long long want = A.memory + (64ull << 20);
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
                for (unsigned long long got = 0; got < want; got += 16 << 20) {
                        char *p = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                        if (p == MAP_FAILED)
                                _exit(2);
                        memset(p, 1, 16 << 20);
                }
                _exit(0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        if (WIFSIGNALED(st))
                row("resources", "memory", "PASS", "touching %llu MiB: killed by signal %d", want >> 20, WTERMSIG(st));
        else if (WIFEXITED(st) && WEXITSTATUS(st) == 2)
                row("resources", "memory", "PASS", "touching %llu MiB: mmap refused", want >> 20);
        else
                row("resources", "memory", "FAIL", "touched %llu MiB with a %llu MiB limit", want >> 20, A.memory >> 20);
}

static void probe_pids(void)
{
        if (!A.pids) {
                row("resources", "pids", "SKIP", "no pids limit set");
                return;
        }
        fflush(stdout);
        pid_t leader = fork();
        if (leader == 0) {
                setpgid(0, 0);
                unsigned long long n = 0;
                int e = 0;
                while (n < A.pids + 16) {
                        pid_t c = fork();
                        if (c == 0) {
                                pause();
                                _exit(0);
                        }
                        if (c < 0) {
                                e = errno;
                                break;
                        }
                        n++;
                }
                printf("resources\tpids\t%s\t%llu forks before %s (limit %llu, zonebox's init and this probe included)\n",
                       n < A.pids ? "PASS" : "FAIL", n, e ? strerrorname_np(e) : "stopping", A.pids);
                fflush(stdout);
                kill(0, SIGKILL);
                _exit(0);
        }
        waitpid(leader, NULL, 0);
}

static void probe_disk(void)
{
        for (size_t i = 0; i < A.n_tmpfs; i++) {
                char path[4096], name[128];
                snprintf(path, sizeof(path), "%s/.zonebox-check-fill", A.tmpfs[i].path);
                snprintf(name, sizeof(name), "tmpfs_size:%s", A.tmpfs[i].path);
                int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0) {
                        row("resources", name, "SKIP", "cannot create a file: %s", strerror(errno));
                        continue;
                }
                static char buf[1 << 16];
                unsigned long long written = 0, cap = A.tmpfs[i].size + (16ull << 20);
                int e = 0;
                while (written < cap) {
                        ssize_t n = write(fd, buf, sizeof(buf));
                        if (n <= 0) {
                                e = errno;
                                break;
                        }
                        written += (unsigned long long)n;
                }
                close(fd);
                unlink(path);
                row("resources", name, written <= A.tmpfs[i].size ? "PASS" : "FAIL",
                    "wrote %llu KiB of a %llu KiB zone, then %s", written >> 10, A.tmpfs[i].size >> 10,
                    e ? strerrorname_np(e) : "stopped");
        }
        if (A.open_files) {
                unsigned long long n = 0;
                int e = 0;
                int first = -1;
                for (;;) {
                        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                        if (fd < 0) {
                                e = errno;
                                break;
                        }
                        if (first < 0)
                                first = fd;
                        if (++n > A.open_files + 16)
                                break;
                }
                if (first >= 0)
                        close_range((unsigned)first, ~0U, 0);
                row("resources", "open_files", e == EMFILE && n <= A.open_files ? "PASS" : "FAIL",
                    "%llu files opened, then %s (limit %llu)", n, e ? strerrorname_np(e) : "stopped", A.open_files);
        }
}

/* `__probe spin`: burn CPU for up to SECONDS; zonebox check expects the
 * sandbox's time limit to end it first. */
static int spin(int seconds)
{
        time_t end = time(NULL) + seconds;
        volatile unsigned long x = 0;
        while (time(NULL) < end)
                for (int i = 0; i < 1000000; i++)
                        x += (unsigned long)i;
        return 0;
}

/* ------------------------------------------------------------ entry */

static bool wanted(const char *group)
{
        if (!A.only)
                return true;
        size_t n = strlen(group);
        for (const char *s = A.only; *s;) {
                size_t len = strcspn(s, ",");
                if (len == n && strncmp(s, group, n) == 0)
                        return true;
                s += len + (s[len] == ',');
        }
        return false;
}

int cli_probe(int argc, char **argv)
{
        if (argc >= 3 && strcmp(argv[1], "spin") == 0)
                return spin(atoi(argv[2]));
        if (argc >= 3 && strcmp(argv[1], "touch") == 0)
                return touch_mib(strtoull(argv[2], NULL, 10));
        for (int i = 1; i + 1 < argc; i += 2) {
                const char *k = argv[i], *v = argv[i + 1];
                if (strcmp(k, "--host-pid") == 0)
                        A.host_pid = atoi(v);
                else if (strcmp(k, "--port") == 0)
                        A.port_lo = atoi(v);
                else if (strcmp(k, "--ext-port") == 0)
                        A.port_ext = atoi(v);
                else if (strcmp(k, "--ext-ip") == 0)
                        snprintf(A.ext_ip, sizeof(A.ext_ip), "%s", v);
                else if (strcmp(k, "--abstract") == 0)
                        snprintf(A.abstract_name, sizeof(A.abstract_name), "%s", v);
                else if (strcmp(k, "--canary") == 0)
                        A.canary_path = v;
                else if (strcmp(k, "--hostname") == 0)
                        A.hostname = v;
                else if (strcmp(k, "--ro") == 0 && A.n_ro < 32)
                        A.ro_zones[A.n_ro++] = v;
                else if (strcmp(k, "--tmpfs") == 0 && A.n_tmpfs < 32 && strchr(v, ':')) {
                        A.tmpfs[A.n_tmpfs].size = strtoull(strrchr(v, ':') + 1, NULL, 10);
                        *strrchr(v, ':') = '\0';
                        A.tmpfs[A.n_tmpfs++].path = v;
                } else if (strcmp(k, "--memory") == 0)
                        A.memory = strtoull(v, NULL, 10);
                else if (strcmp(k, "--pids") == 0)
                        A.pids = strtoull(v, NULL, 10);
                else if (strcmp(k, "--open-files") == 0)
                        A.open_files = strtoull(v, NULL, 10);
                else if (strcmp(k, "--only") == 0)
                        A.only = v;
                else {
                        fprintf(stderr, "zonebox __probe: unknown argument %s\n", k);
                        return ZB_EXIT_ERROR;
                }
        }
        if (wanted("network"))
                probe_network();
        if (wanted("filesystem"))
                probe_filesystem();
        if (wanted("privileges"))
                probe_privileges();
        if (wanted("syscalls"))
                probe_syscalls();
        if (wanted("processes"))
                probe_processes();
        if (wanted("limits")) {
                probe_memory();
                probe_pids();
                probe_disk();
        }
        return 0;
}
