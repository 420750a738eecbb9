/* Seccomp user notification: the `seccomp` violation source (issue 16).
 *
 * The supervisor builds, next to the command's filter, a copy in which
 * every "return ERRNO(EPERM)" is "return USER_NOTIF" (seccomp.c). The
 * command installs that copy with SECCOMP_FILTER_FLAG_NEW_LISTENER as its
 * last step before execve and sends the listener (close-on-exec) to the
 * supervisor over a socketpair (SCM_RIGHTS), then closes its copy: the
 * command never holds it. The supervisor polls the listener and answers
 * every notification with EPERM, the errno the original filter returns
 * there, then records `seccomp` `<syscall>`, counted and deduplicated by
 * the violation set (a million denied calls are one entry). It never
 * answers CONTINUE and never reads the target's memory (so no
 * SECCOMP_IOCTL_NOTIF_ID_VALID is needed: the answer does not depend on
 * anything the target could change).
 *
 * Why this cannot widen anything:
 * - The filter decides which calls notify; the answer is fixed (EPERM).
 * - With the supervisor gone the listener closes and the kernel fails those
 *   calls with ENOSYS instead: still refused, and a libc falling back on
 *   ENOSYS falls back to calls the same filter judges (and the sandbox dies
 *   with its supervisor anyway: parent-death signal, PID 1).
 * - The kernel runs a task's filters newest first and, among equal
 *   actions, the newest wins: a filter of the command's own returning
 *   USER_NOTIF would take zonebox's notifications, and its listener could
 *   answer CONTINUE. The kernel already refuses a second listener in one
 *   filter chain (EBUSY), and the default profile refuses seccomp() with
 *   SECCOMP_FILTER_FLAG_NEW_LISTENER on top (EPERM, seccomp.c); the
 *   command's USER_NOTIF returns without a listener fail with ENOSYS. A
 *   custom profile, or "seccomp" in security.seccomp.allow, gets no
 *   listener (the source is "not observable", the filter returns EPERM as
 *   written): such a profile may also refuse the sendmsg that hands the
 *   listener over, which would then wait on a listener nobody holds yet.
 * - A notification interrupted by a signal is restarted by the kernel and
 *   notifies again: counts are attempts, at least one per denied call.
 *
 * A session's supervisor takes every exec's listener (each exec installs
 * its own filter) into an epoll set, the one fd of its event loop.
 *
 * The socket pair is the sandbox's one hand-over channel: the command's
 * message before its exec also carries network none's resolver socket
 * (resolver.c), so a run has one pair, one send and one receive for both;
 * a session's init sends the resolver's alone. The pair exists when either
 * is wanted. The command does not close its ends: they are close-on-exec,
 * and execve closes them anyway.
 *
 * Not observable (viol_source says why): seccomp unconfined, a custom
 * profile, a kernel without listeners (Linux < 5.0:
 * EINVAL) or an ancestor's filter holding one (EBUSY), where the command
 * installs the filter as written. ZONEBOX_TEST_NO_NOTIFY (tests only)
 * simulates that. */
#define _GNU_SOURCE
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "notify.h"
#include "seccomp.h" // NOLINT(readability-duplicate-include): <seccomp.h> above is libseccomp's
#include "wire.h"

static bool listed(char *const *list, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (list[i] && strcmp(list[i], name) == 0)
                        return true;
        return false;
}

/* Why the command gets no listener, NULL when it does. */
static const char *no_listener(const struct ns_ctx *c)
{
        const struct zb_policy *p = c->p;
        const struct pol_security *s = &p->security;

        if (!c->seccomp.len)
                return "not observable: no syscall filter (seccomp unconfined)";
        if (s->seccomp && strcmp(s->seccomp, "default") != 0)
                return "not observable: a custom seccomp profile (it may let the command take a seccomp listener of its own)";
        if (listed(s->seccomp_allow, s->n_seccomp_allow, "seccomp"))
                return "not observable: seccomp is in security.seccomp.allow (the command could take a seccomp listener of its own)";
        /* The listener travels by sendmsg, under the filter already. */
        if (listed(s->seccomp_deny, s->n_seccomp_deny, "sendmsg"))
                return "not observable: sendmsg is in security.seccomp.deny";
        if (getenv("ZONEBOX_TEST_NO_NOTIFY"))
                return "not observable: turned off by ZONEBOX_TEST_NO_NOTIFY (a test knob)";
        return NULL;
}

static void sources(struct ns_notify *n, const char *state)
{
        viol_source(n->viol, "seccomp", state);
        viol_source(n->viol, "filesystem", n->watching || !strncmp(state, "not", 3) ? state
                    : "not observable: turned off by ZONEBOX_TEST_NO_WATCH (a test knob)");
        if (n->p->network != ZB_NET_HOST)
                viol_source(n->viol, "network", n->watching || !strncmp(state, "not", 3) ? state
                            : "not observable: turned off by ZONEBOX_TEST_NO_WATCH (a test knob)");
}

void ns_notify_init(struct ns_notify *n)
{
        *n = (struct ns_notify){ .sock = -1, .listener = -1, .ep = -1, .root_fd = -1 };
        for (size_t i = 0; i < NS_NOTIFY_SESSION_LISTENERS; i++)
                n->listeners[i] = n->retired[i] = -1;
}

int ns_notify_prepare(struct ns_notify *n, struct ns_ctx *c, struct zb_result *r, bool session,
                      struct zb_error *err)
{
        int sv[2];

        ns_notify_init(n);
        n->p = c->p;
        n->viol = &r->viol;
        c->notify_fd = -1;
        /* Landlock's own denials (audit records, Linux 6.15 / ABI 7) are
         * not read: see docs/violations.md. */
        if (c->landlock)
                viol_source(n->viol, "landlock",
                            "not observable: Landlock audit records need CAP_AUDIT_READ and would go to the host's kernel log");
        n->dns = &c->dns;
        const char *why = no_listener(c);
        if (why)
                sources(n, why);
        if (why && !ns_resolver_wanted(c->p))
                return 0;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return err_errno(err, errno, "layer seccomp: socketpair for the seccomp listener");
        int k = why                             ? 0
                : getenv("ZONEBOX_TEST_NO_WATCH") ? ns_seccomp_notify_copy(&c->seccomp, &c->seccomp_notify)
                : ns_watch_build(n, &c->seccomp, c->p->network != ZB_NET_HOST, &c->seccomp_notify);
        if (k < 0) {
                close(sv[0]);
                close(sv[1]);
                return err_errno(err, -k, "layer seccomp: the notifying filter");
        }
        n->watching = !why && !getenv("ZONEBOX_TEST_NO_WATCH");
        n->sock = sv[0];
        if (session && (n->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
                return err_errno(err, errno, "layer seccomp: epoll for the session's seccomp listeners");
        struct epoll_event ev = { .events = EPOLLIN, .data.fd = n->sock };
        if (session && epoll_ctl(n->ep, EPOLL_CTL_ADD, n->sock, &ev) < 0)
                return err_errno(err, errno, "layer seccomp: epoll for the session's seccomp listeners");
        c->notify_fd = sv[1];
        if (!why)
                sources(n, "not observable: no command was started");
        return 0;
}

void ns_notify_child(struct ns_notify *n)
{
        if (n->sock >= 0)
                close(n->sock);
        if (n->ep >= 0)
                close(n->ep);
        n->sock = n->ep = -1;
}

void ns_notify_after_clone(struct ns_notify *n, struct ns_ctx *c)
{
        (void)n;
        if (c->notify_fd >= 0)
                close(c->notify_fd);
        c->notify_fd = -1;
}

int ns_notify_fd(const struct ns_notify *n)
{
        if (n->ep >= 0)
                return n->ep;
        return n->listener >= 0 ? n->listener : n->sock;
}

static const char *no_listener_why(int e, char *why, size_t size)
{
        snprintf(why, size, "not observable: the kernel gives the filter no listener (%s)",
                 e == EINVAL ? "Linux < 5.0" : e == EBUSY ? "an outer seccomp filter holds one" : strerror(e));
        return why;
}

/* A listener that hung up is its filter's last reference: closing it frees
 * the filter, and the kernel frees the filter's JIT image in a worker queued
 * on this CPU, which preempted the supervisor inside that close (0.4-0.9 ms,
 * perf trace) on its way to the verdict. So it is kept, and closed when that
 * costs nobody a wait: a run's at ns_notify_release, after the cgroups are
 * gone; a session's when the next exec's listener has come (that exec's
 * command is exec'ing meanwhile) or at the end. No slot free: closed now. */
static void retire(struct ns_notify *n, int fd)
{
        for (size_t i = 0; i < NS_NOTIFY_SESSION_LISTENERS; i++) {
                if (n->retired[i] < 0) {
                        n->retired[i] = fd;
                        return;
                }
        }
        close(fd);
}

static void close_retired(struct ns_notify *n)
{
        for (size_t i = 0; i < NS_NOTIFY_SESSION_LISTENERS; i++) {
                if (n->retired[i] >= 0)
                        close(n->retired[i]);
                n->retired[i] = -1;
        }
}

/* A session's exec sent its listener (or why it has none): watched until
 * its exec is gone; past NS_NOTIFY_SESSION_LISTENERS at once, dropped
 * (its denials then fail with ENOSYS: still refused). */
static void session_listener(struct ns_notify *n, int fd, int e)
{
        if (fd < 0 && e) {
                char why[160];
                sources(n, no_listener_why(e, why, sizeof(why)));
        }
        if (fd < 0)
                return;
        for (size_t i = 0; i < NS_NOTIFY_SESSION_LISTENERS; i++) {
                if (n->listeners[i] >= 0)
                        continue;
                struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
                if (epoll_ctl(n->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
                        break;
                n->listeners[i] = fd;
                sources(n, "observed");
                close_retired(n);
                return;
        }
        close(fd);
}

static void session_drop(struct ns_notify *n, int fd)
{
        for (size_t i = 0; i < NS_NOTIFY_SESSION_LISTENERS; i++)
                if (n->listeners[i] == fd)
                        n->listeners[i] = -1;
        epoll_ctl(n->ep, EPOLL_CTL_DEL, fd, NULL);
        retire(n, fd);
}

/* Linux 6.6: the target and the supervisor wake each other on the CPU
 * they run on (WF_CURRENT_CPU), so a notification's round trip is two
 * context switches and no cross-CPU wake-up. An older kernel says EINVAL:
 * the same answers, slower. */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1UL
#endif
static void sync_wake_up(int listener)
{
        (void)ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
}

/* The hand-over message (ns_notify_install, and a session's init): what
 * follows in SCM_RIGHTS, in this order, and why each missing fd is not
 * there (an errno, 0: not asked for). */
struct handover {
        int32_t listener_err;
        int32_t dns_err;
        uint8_t listener; /* a listener follows */
        uint8_t dns;      /* the resolver's socket follows */
        uint8_t dns_sent; /* the resolver part is in this message (fd or errno) */
        uint8_t pad;
};

/* One message from the channel: the listener (or why none) to this
 * file's listener handling, the resolver's part to resolver.c. */
static void take_listener(struct ns_notify *n)
{
        struct handover h = { 0 };
        int fds[2], fd = -1, e = 0;
        ssize_t got = sess_recv_fds(n->sock, &h, sizeof(h), fds, 2, MSG_DONTWAIT);
        if (got == -EINTR || got == -EAGAIN)
                return;
        int nfds = (fds[0] >= 0) + (fds[1] >= 0);
        if (got != (ssize_t)sizeof(h) || h.listener > 1 || h.dns > 1 || nfds != h.listener + h.dns) {
                /* not ours: a message zonebox never sends */
                for (int i = 0; i < nfds; i++)
                        close(fds[i]);
                h = (struct handover){ 0 };
        }
        if (h.listener)
                fd = fds[0];
        e = h.listener_err;
        if (h.dns_sent)
                ns_resolver_take(n->dns, n->viol, h.dns ? fds[h.listener] : -1, h.dns_err);
        bool came = got > 0 || got == -EMSGSIZE; /* a cut message came all the same */
        if (n->ep >= 0 && came) {
                session_listener(n, fd, e);
                return;
        }
        if (n->ep >= 0)
                epoll_ctl(n->ep, EPOLL_CTL_DEL, n->sock, NULL);
        /* Closed at the end, not here: this runs when the command has just
         * been exec'd, often on its CPU, and every call here delays it. */
        retire(n, n->sock);
        n->sock = -1;
        if (fd >= 0) {
                n->listener = fd;
                sources(n, "observed");
        } else if (e) {
                char why[160];
                sources(n, no_listener_why(e, why, sizeof(why)));
        }
}

/* The syscall's name, cached per number (libseccomp's table). */
static const char *syscall_name(struct ns_notify *n, int nr, char *buf, size_t size)
{
        if (nr >= 0 && nr < NS_NOTIFY_NAMES && n->names[nr])
                return n->names[nr];
        char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        if (name && nr >= 0 && nr < NS_NOTIFY_NAMES) {
                n->named = true;
                return n->names[nr] = name;
        }
        snprintf(buf, size, "%s%d", name ? "" : "syscall ", nr);
        if (name)
                snprintf(buf, size, "%s", name);
        free(name);
        return buf;
}

static void record(struct ns_notify *n, int nr, uint64_t exec_ns)
{
        char buf[64], rule[128], hint[160];
        const struct pol_security *s = &n->p->security;
        const char *name = syscall_name(n, nr, buf, sizeof(buf));
        uint64_t now = util_now_ns();
        double at = exec_ns && now > exec_ns ? (double)(now - exec_ns) / 1e6 : 0;

        if (listed(s->seccomp_deny, s->n_seccomp_deny, name)) {
                snprintf(rule, sizeof(rule), "security.seccomp.deny: %s", name);
                snprintf(hint, sizeof(hint), "remove it from --seccomp-deny (security.seccomp.deny)");
        } else {
                snprintf(rule, sizeof(rule), "seccomp default: %s", name);
                snprintf(hint, sizeof(hint), "--seccomp-allow %s (security.seccomp.allow)", name);
        }
        viol_add(n->viol, VIOL_SECCOMP, name, NULL, 0, rule, hint, 1, at);
}

/* One notification: answered first (the target waits), recorded after. */
static void answer(struct ns_notify *n, uint64_t exec_ns)
{
        struct seccomp_notif req;
        memset(&req, 0, sizeof(req)); /* the kernel wants it zeroed */
        if (ioctl(n->listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
                return; /* ENOENT: the target died (or was signalled) meanwhile */
        if (n->ep < 0 && !n->synced) { /* a run's listener: at its first notification, not at its arrival */
                sync_wake_up(n->listener);
                n->synced = true;
        }
        int which = ns_watch_match(n, &req.data);
        if (which >= 0) {
                uint64_t now = util_now_ns();
                ns_watch_answer(n, &req, which, exec_ns && now > exec_ns ? (double)(now - exec_ns) / 1e6 : 0);
                return;
        }
        struct seccomp_notif_resp resp = { .id = req.id, .error = -EPERM, .val = 0, .flags = 0 };
        if (ioctl(n->listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && errno != ENOENT)
                return;
        n->answered++;
        record(n, req.data.nr, exec_ns);
}

/* A session: whatever of the epoll set is ready. */
static void session_event(struct ns_notify *n, uint64_t exec_ns)
{
        struct epoll_event evs[8];
        int k = epoll_wait(n->ep, evs, 8, 0);
        for (int i = 0; i < k; i++) {
                int fd = evs[i].data.fd;
                if (fd == n->sock) {
                        take_listener(n);
                        continue;
                }
                n->listener = fd;
                if (evs[i].events & EPOLLIN)
                        answer(n, exec_ns);
                else if (evs[i].events & (EPOLLHUP | EPOLLERR))
                        session_drop(n, fd); /* no task uses the filter any more */
                n->listener = -1;
        }
}

int ns_notify_event(struct ns_notify *n, short revents, uint64_t exec_ns)
{
        if (n->ep >= 0) {
                session_event(n, exec_ns);
                return n->ep;
        }
        if (n->listener < 0) {
                if (n->sock >= 0)
                        take_listener(n);
                return ns_notify_fd(n);
        }
        if (revents & POLLIN) {
                answer(n, exec_ns);
        } else if (revents & (POLLHUP | POLLERR | POLLNVAL)) {
                /* No task uses the filter any more: closed later (retire). */
                retire(n, n->listener);
                n->listener = -1;
        }
        return ns_notify_fd(n);
}

void ns_notify_end(struct ns_notify *n)
{
        if (n->root_fd >= 0)
                close(n->root_fd);
        n->root_fd = -1;
}

void ns_notify_release(struct ns_notify *n, struct ns_ctx *c)
{
        if (n->sock >= 0)
                close(n->sock);
        if (n->listener >= 0)
                close(n->listener);
        n->sock = n->listener = -1;
        for (size_t i = 0; i < NS_NOTIFY_SESSION_LISTENERS; i++) {
                if (n->listeners[i] >= 0)
                        close(n->listeners[i]);
                n->listeners[i] = -1;
        }
        close_retired(n);
        if (n->ep >= 0)
                close(n->ep);
        n->ep = -1;
        ns_notify_end(n);
        /* Most runs cache no name: the 4 KiB table is then left untouched
         * (a page fault, where calloc left it unmapped). */
        for (size_t i = 0; n->named && i < NS_NOTIFY_NAMES; i++) {
                free(n->names[i]);
                n->names[i] = NULL;
        }
        n->named = false;
        if (c) {
                if (c->notify_fd >= 0)
                        close(c->notify_fd);
                c->notify_fd = -1;
                ns_seccomp_free(&c->seccomp_notify);
        }
}

/* The hand-over message: the listener (FD, or its install's errno E; both
 * -1/0: no listener was asked for) and, if still pending, the resolver's
 * socket (or why there is none). Sent once, before execve or, in a
 * session, by init. */
static int send_handover(int sock, int fd, int e, struct ns_resolver *dns)
{
        bool dns_part = ns_resolver_pending(dns);
        struct handover h = { .listener_err = e, .listener = fd >= 0, .dns_sent = dns_part,
                              .dns_err = dns_part ? dns->err : 0, .dns = dns_part && dns->fd >= 0 };
        int fds[2], nfds = 0;
        if (fd >= 0)
                fds[nfds++] = fd;
        if (h.dns)
                fds[nfds++] = dns->fd;
        return sess_send_fds(sock, &h, sizeof(h), fds, nfds);
}

void ns_notify_send_resolver(struct ns_ctx *c)
{
        if (c->notify_fd < 0 || !ns_resolver_pending(&c->dns))
                return;
        int r = send_handover(c->notify_fd, -1, 0, &c->dns);
        if (r < 0)
                ns_fail(c, 0, -r, "layer net: hand the resolver's socket to the supervisor");
        ns_resolver_handed(&c->dns);
}

/* Nothing is closed after the send: the listener, the channel and the
 * resolver's socket are close-on-exec, and a write to C here would cost
 * this process a copy-on-write fault on its way to execve. */
void ns_notify_install(struct ns_ctx *c)
{
        int r;
        if (c->notify_fd < 0 || !c->seccomp_notify.len) {
                /* No listener: the resolver's socket goes first, while
                 * sendmsg is certainly allowed (a custom profile may deny it). */
                ns_notify_send_resolver(c);
                if (c->seccomp.len && (r = ns_seccomp_install(&c->seccomp)) < 0)
                        ns_fail(c, 0, -r, "layer seccomp: install the filter");
                return;
        }
        int fd = ns_seccomp_install_listener(&c->seccomp_notify);
        if (fd < 0 && fd != -EINVAL && fd != -EBUSY && fd != -ENOSYS)
                ns_fail(c, 0, -fd, "layer seccomp: install the filter");
        /* No listener here: the filter as written (EPERM), said to the supervisor. */
        if (fd < 0 && (r = ns_seccomp_install(&c->seccomp)) < 0)
                ns_fail(c, 0, -r, "layer seccomp: install the filter");
        r = send_handover(c->notify_fd, fd, fd < 0 ? -fd : 0, &c->dns);
        if (r < 0)
                ns_fail(c, 0, -r, "layer seccomp: hand the listener to the supervisor");
}
