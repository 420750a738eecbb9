/* The network.allow proxy. It runs outside the sandbox, in the host's network
 * namespace, as its own process (forked by the supervisor before clone, uid
 * 65534 without capabilities when zonebox runs as root), and accepts on a
 * listener the sandbox's child made on 127.0.0.1:PORT inside the sandbox's
 * namespace and sent over (a socket keeps the namespace it was made in).
 *
 * Each connection: one request head (CONNECT host:port, or an absolute-form
 * http:// request rewritten to origin form), matched against the allowlist;
 * the name resolved here (network.hosts first; names from DNS may not lead
 * to loopback, private, link-local or other internal addresses, which stops
 * DNS rebinding onto host services); then bytes relayed both ways. Refusals
 * are 403 with a one-line body; every decision is one audit line.
 *
 * This file is the process: its start (before clone) and confinement
 * (nobody, Landlock, seccomp, only its own fds), the accept loop, and its
 * stop. One connection, from request head to relay: proxy_conn.c.
 *
 * What it guarantees: the sandbox reaches only allowed host:port pairs, and
 * nothing else has a route out. Not what is sent there. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <ifaddrs.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include "../core/audit.h"
#include "../core/policy.h"
#include "landlock.h"
#include "ns.h"
#include "proxy_int.h"
#include "seccomp.h"
#include "sys.h"
#include "wire.h"

#define PROXY_STOP_GRACE_MS 1000
#define PROXY_READY_TIMEOUT_MS 10000

/* ------------------------------------------------------------ the proxy process */

/* The listener the sandbox's child sends (SCM_RIGHTS); -1 if none came. */
static int recv_listener(int chan)
{
        char byte;
        int fd = -1;
        sess_recv_fds(chan, &byte, 1, &fd, 1, 0);
        if (fd >= 0) {
                int type = 0;
                socklen_t tl = sizeof(type);
                /* Only a listening TCP socket is served. */
                if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM) {
                        close(fd);
                        fd = -1;
                }
        }
        if (fd >= 0)
                fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        return fd;
}

static _Noreturn void serve(struct proxy_process *px, int chan, int sig_fd)
{
        struct pollfd pf[3] = { { .fd = sig_fd, .events = POLLIN }, { .fd = chan, .events = POLLIN },
                                { .fd = -1, .events = POLLIN } };
        for (;;) {
                if (poll(pf, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (pf[0].revents)
                        break; /* SIGTERM: the supervisor is done */
                if (pf[1].revents) {
                        pf[2].fd = recv_listener(chan);
                        close(chan);
                        pf[1].fd = -1;
                }
                if (pf[2].revents & POLLIN) {
                        int fd = accept4(pf[2].fd, NULL, NULL, SOCK_CLOEXEC);
                        if (fd >= 0)
                                proxy_conn_start(px, fd);
                        else if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
                                poll(NULL, 0, 10); /* let connections end */
                }
        }
        if (pf[2].fd >= 0)
                close(pf[2].fd);
        /* The sandbox is gone by now, so connections end at once; give them
         * a moment to write their close lines. */
        uint64_t deadline = util_now_ns() + PROXY_STOP_GRACE_MS * 1000000ull;
        while (atomic_load(&px->active) > 0 && proxy_ms_left(deadline) > 0)
                poll(NULL, 0, 5);
        if (px->audit_fd >= 0) {
                pthread_mutex_lock(&px->audit_lock);
                proxy_audit_summary(px);
                pthread_mutex_unlock(&px->audit_lock);
        }
        _exit(0);
}

/* Keep 0-2 (on /dev/null) and KEEP; close everything else. */
static int close_others(const int *keep, size_t n)
{
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null < 0)
                return -1;
        for (int fd = 0; fd < 3; fd++)
                if (dup2(null, fd) < 0)
                        return -1;
        close(null);
        unsigned from = 3;
        for (;;) {
                unsigned next = ~0U;
                for (size_t i = 0; i < n; i++)
                        if (keep[i] >= (int)from && (unsigned)keep[i] < next)
                                next = (unsigned)keep[i];
                if (next == ~0U)
                        return sys_close_range(from, ~0U, 0);
                if (next > from && sys_close_range(from, next - 1, 0) < 0)
                        return -1;
                from = next + 1;
        }
}

/* Root runs the proxy as nobody, without capabilities: it only needs the
 * fds it has and the network. */
static int drop_privileges(void)
{
        if (geteuid() == 0) {
                if (setgroups(0, NULL) < 0 || setresgid(DEFAULT_HOST_ID_FOR_ROOT, DEFAULT_HOST_ID_FOR_ROOT,
                                                      DEFAULT_HOST_ID_FOR_ROOT) < 0 ||
                    setresuid(DEFAULT_HOST_ID_FOR_ROOT, DEFAULT_HOST_ID_FOR_ROOT, DEFAULT_HOST_ID_FOR_ROOT) < 0)
                        return -1;
        }
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return -1;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return -1;
        return 0;
}

static _Noreturn void proxy_fail(int ready, const char *what)
{
        char msg[256];
        int n = snprintf(msg, sizeof(msg), "-layer net: proxy: %s: %s", what, strerror(errno));
        ssize_t w = write(ready, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
        (void)w;
        _exit(1);
}

/* The host's own addresses, which a name from DNS may not lead to (the
 * proxy is in the host's network namespace: a service bound to 0.0.0.0 is
 * reachable at each). Best effort; connect_any checks again (to_self). */
static void own_addresses(struct proxy_process *px)
{
        struct ifaddrs *ifa = NULL;
        char buf[INET6_ADDRSTRLEN];
        if (getifaddrs(&ifa) < 0)
                return;
        for (struct ifaddrs *i = ifa; i && px->n_own < PROXY_MAX_OWN_ADDRS; i = i->ifa_next) {
                const struct sockaddr *sa = i->ifa_addr;
                if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
                        continue;
                const void *raw = sa->sa_family == AF_INET ? (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr
                                                           : (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
                if (inet_ntop(sa->sa_family, raw, buf, sizeof(buf)) && net_ip_literal(buf, &px->own[px->n_own]))
                        px->n_own++;
        }
        freeifaddrs(ifa);
}

/* The proxy parses what the sandbox sends: if that ever goes wrong, what
 * it can reach is this. Landlock: read-only /etc and the system's library
 * dirs (getaddrinfo reads resolv.conf, hosts, nsswitch.conf and loads the
 * NSS modules), nothing else of the filesystem. seccomp: the sandbox's
 * default profile without exec, ptrace, other processes' memory, bind or
 * listen. Run as root (then as nobody) or as an ordinary user alike. */
static void confine(struct proxy_process *px, int ready)
{
        char res[PATH_MAX], hosts[PATH_MAX], msg[256];
        const char *res_dir = realpath("/etc/resolv.conf", res) ? dirname(res) : "/etc";
        const char *hosts_dir = realpath("/etc/hosts", hosts) ? dirname(hosts) : "/etc";
        const struct ns_ll_path paths[] = {
                { "/etc", ZB_LL_READ_EXEC, false },     { "/usr", ZB_LL_READ_EXEC, false },
                { "/lib", ZB_LL_READ_EXEC, true },      { "/lib64", ZB_LL_READ_EXEC, true },
                { res_dir, ZB_LL_READ_EXEC, true },     { hosts_dir, ZB_LL_READ_EXEC, true },
        };
        int fd = ns_landlock_prepare(paths, ARRAY_SIZE(paths), msg, sizeof(msg));
        if (fd < 0 && fd != -EOPNOTSUPP) {
                errno = -fd;
                proxy_fail(ready, msg);
        }
        if (fd >= 0 && (errno = -ns_landlock_enforce(fd)) != 0)
                proxy_fail(ready, "layer landlock");
        if ((errno = -ns_seccomp_install(&px->filter)) != 0)
                proxy_fail(ready, "layer seccomp");
}

static _Noreturn void proxy_main(struct proxy_process *px, int chan, int ready)
{
        sigset_t all, term;
        int keep[] = { chan, ready, px->audit_fd };
        if (close_others(keep, ARRAY_SIZE(keep)) < 0)
                proxy_fail(ready, "close inherited fds");
        /* Only SIGTERM (a clean stop) and SIGKILL end it; threads inherit the mask. */
        sigfillset(&all);
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        signal(SIGPIPE, SIG_IGN);
        if (sigprocmask(SIG_SETMASK, &all, NULL) < 0)
                proxy_fail(ready, "sigprocmask");
        int sig_fd = signalfd(-1, &term, SFD_CLOEXEC);
        if (sig_fd < 0)
                proxy_fail(ready, "signalfd");
        own_addresses(px);
        if (drop_privileges() < 0)
                proxy_fail(ready, "drop privileges");
        confine(px, ready);
        /* After the id change, which clears the death signal. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
                proxy_fail(ready, "set parent death signal");
        if (getppid() != px->supervisor)
                _exit(0);
        /* Named only now: a process called zonebox-proxy is one that runs as
         * nobody (for root), confined, with only its own fds. */
        prctl(PR_SET_NAME, "zonebox-proxy", 0, 0, 0);
        if (write(ready, "+", 1) != 1)
                _exit(1);
        close(ready);
        serve(px, chan, sig_fd);
}

static int proxy_build(struct proxy_process *px, const struct zb_policy *p, struct zb_error *err)
{
        const char *why;
        px->p = p;
        px->audit_fd = -1;
        px->rules = calloc(p->net.n_allow, sizeof(*px->rules));
        px->pins = calloc(p->net.n_hosts + 1, sizeof(*px->pins));
        if (!px->rules || !px->pins)
                return err_set(err, ENOMEM, "layer net: out of memory");
        for (size_t i = 0; i < p->net.n_allow; i++, px->n_rules++)
                if (net_rule_parse(p->net.allow[i], &px->rules[i], &why) < 0)
                        return err_set(err, EINVAL, "network.allow[%zu]: '%s': %s", i, p->net.allow[i], why);
        for (size_t i = 0; i < p->net.n_hosts; i++, px->n_pins++)
                if (net_pin_parse(p->net.hosts[i], px->pins[i].name, &px->pins[i].ip, &why) < 0)
                        return err_set(err, EINVAL, "network.hosts: '%s': %s", p->net.hosts[i], why);
        if (p->audit.log) {
                px->audit_fd = audit_log_open(p, err);
                if (px->audit_fd < 0)
                        return px->audit_fd;
        }
        static const char *const denied[] = { "execve", "execveat", "ptrace", "process_vm_readv",
                                              "process_vm_writev", "bind", "listen" };
        const struct ns_seccomp_spec spec = { .deny = denied, .n_deny = ARRAY_SIZE(denied) };
        int r = ns_seccomp_build(&spec, &px->filter, err);
        if (r < 0)
                return r;
        pthread_mutex_init(&px->audit_lock, NULL);
        px->supervisor = getpid();
        return 0;
}

static void proxy_release(struct proxy_process *px)
{
        ns_seccomp_free(&px->filter);
        free(px->rules);
        free(px->pins);
        if (px->audit_fd >= 0)
                close(px->audit_fd);
}

/* The proxy's first word: "+" ready, or "-message". */
static int wait_ready(int ready, struct zb_error *err)
{
        char msg[256] = "";
        struct pollfd pf = { .fd = ready, .events = POLLIN };
        ssize_t n = -1;
        int pr;
        while ((pr = poll(&pf, 1, PROXY_READY_TIMEOUT_MS)) < 0 && errno == EINTR)
                ;
        if (pr == 1)
                n = read(ready, msg, sizeof(msg) - 1);
        if (n == 1 && msg[0] == '+')
                return 0;
        if (n > 1 && msg[0] == '-') {
                msg[n] = '\0';
                return err_set(err, EIO, "%s", msg + 1);
        }
        return err_set(err, EIO, "layer net: the proxy did not start");
}

int ns_proxy_start(struct ns_proxy *px, const struct zb_policy *p, int *child_fd,
                   struct zb_error *err)
{
        struct proxy_process run = { 0 };
        int chan[2] = { -1, -1 }, ready[2] = { -1, -1 };
        int r;

        px->pid = 0;
        px->shared = NULL;
        *child_fd = -1;
        if ((r = proxy_build(&run, p, err)) < 0)
                goto out;
        /* Shared with the proxy: it counts, the supervisor reads at the end. */
        // cppcheck-suppress invalidFunctionArg ; MAP_ANONYMOUS takes fd -1 (mmap(2))
        px->shared = mmap(NULL, sizeof(*px->shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (px->shared == MAP_FAILED) {
                px->shared = NULL;
                r = err_errno(err, errno, "layer net: proxy counters");
                goto out;
        }
        run.shared = px->shared;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) < 0 || pipe2(ready, O_CLOEXEC) < 0) {
                r = err_errno(err, errno, "layer net: proxy socket");
                goto out;
        }
        pid_t pid = fork();
        if (pid < 0) {
                r = err_errno(err, errno, "layer net: cannot start the proxy (fork)");
                goto out;
        }
        if (pid == 0)
                proxy_main(&run, chan[0], ready[1]);
        px->pid = pid;
        /* The sandbox, cloned next, need not share the counters. */
        madvise(px->shared, sizeof(*px->shared), MADV_DONTFORK);
        close(ready[1]);
        ready[1] = -1;
        r = wait_ready(ready[0], err);
        if (r == 0) {
                *child_fd = chan[1];
                chan[1] = -1;
        }
out:
        for (int i = 0; i < 2; i++) {
                if (chan[i] >= 0)
                        close(chan[i]);
                if (ready[i] >= 0)
                        close(ready[i]);
        }
        proxy_release(&run);
        if (r < 0)
                ns_proxy_stop(px, NULL);
        return r;
}

void ns_proxy_counts_now(const struct ns_proxy *px, struct ns_proxy_counts *counts)
{
        *counts = (struct ns_proxy_counts){ 0 };
        if (px && px->shared) {
                counts->allowed = atomic_load(&px->shared->allowed);
                counts->refused = atomic_load(&px->shared->refused);
                counts->failed = atomic_load(&px->shared->failed);
        }
}

void ns_proxy_violations(const struct ns_proxy *px, struct viol_set *set, uint64_t exec_ns,
                         const uint64_t *base, size_t n_base, uint64_t *snap)
{
        if (!px || !px->shared)
                return;
        uint32_t n = atomic_load_explicit(&px->shared->n_refused_slots, memory_order_acquire);
        for (uint32_t i = 0; i < n && i < NS_PROXY_MAX_REFUSALS; i++) {
                const struct ns_proxy_refusal *f = &px->shared->refusals[i];
                uint64_t count = atomic_load(&f->count);
                uint64_t was = base && i < n_base ? base[i] : 0;
                if (snap)
                        snap[i] = count;
                if (!set || count <= was)
                        continue;
                double at = was == 0 && exec_ns && f->first_ns >= exec_ns ? (double)(f->first_ns - exec_ns) / 1e6 : -1;
                viol_add(set, VIOL_PROXY, "CONNECT", f->target, strlen(f->target),
                         f->internal ? "resolves to an internal address (network.allow)" : "not in network.allow",
                         f->internal ? "pin the name with --add-host NAME:IP (network.hosts)"
                                     : "--net-allow HOST:PORT (network.allow)",
                         count - was, at);
        }
        uint64_t unlisted = atomic_load(&px->shared->refusals_unlisted);
        uint64_t was = base && n_base == NS_PROXY_SNAP_N ? base[NS_PROXY_MAX_REFUSALS] : 0;
        if (snap)
                snap[NS_PROXY_MAX_REFUSALS] = unlisted;
        if (set && unlisted > was)
                set->dropped += unlisted - was;
}

void ns_proxy_stop(struct ns_proxy *px, struct ns_proxy_counts *counts)
{
        if (px->pid > 0) {
                int pidfd = (int)syscall(SYS_pidfd_open, px->pid, 0);
                kill(px->pid, SIGTERM);
                struct pollfd pf = { .fd = pidfd, .events = POLLIN };
                if (pidfd < 0 || poll(&pf, 1, PROXY_STOP_GRACE_MS + 1000) != 1)
                        kill(px->pid, SIGKILL);
                if (pidfd >= 0)
                        close(pidfd);
                while (waitpid(px->pid, NULL, __WALL) < 0 && errno == EINTR)
                        ;
                px->pid = 0;
        }
        if (px->shared) {
                if (counts) {
                        counts->allowed = atomic_load(&px->shared->allowed);
                        counts->refused = atomic_load(&px->shared->refused);
                        counts->failed = atomic_load(&px->shared->failed);
                }
                munmap(px->shared, sizeof(*px->shared));
                px->shared = NULL;
        }
}
