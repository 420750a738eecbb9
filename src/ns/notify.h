/* Seccomp user notification (issue 16): the supervisor hears of every
 * syscall the default filter denies and records it as a `seccomp`
 * violation. The filter still decides: each EPERM return of the program is
 * a USER_NOTIF return in the copy the command installs, and the supervisor
 * answers every notification with EPERM, never with CONTINUE. See notify.c
 * for why a listener cannot widen anything. */
#ifndef ZB_NS_NOTIFY_H
#define ZB_NS_NOTIFY_H

#include <stdint.h>

#include "ns.h"
#include "seccomp.h"

#define NS_NOTIFY_NAMES 512 /* syscall numbers whose name is cached */
#define NS_NOTIFY_SESSION_LISTENERS 64 /* execs of a session watched at once */

struct ns_notify {
        int sock;     /* the supervisor's end of the socket the listener comes on, -1 */
        int listener; /* the seccomp listener, -1 until it came (a session: the one being served) */
        /* A session: every exec sends a listener; the socket, and each
         * listener until its exec is gone, are in this epoll set, -1 in a run. */
        int ep;
        int listeners[NS_NOTIFY_SESSION_LISTENERS];
        /* Listeners that hung up (no task uses their filter), no longer
         * polled; closed later, off the path to the verdict (retire()). */
        int retired[NS_NOTIFY_SESSION_LISTENERS];
        bool named;          /* some names[] are set */
        bool synced;         /* a run's listener has SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP set */
        bool deny_list_only; /* the profile is not zonebox's default: only seccomp.deny is named */
        const struct zb_policy *p;
        struct viol_set *viol;
        struct ns_resolver *dns; /* its socket comes in the hand-over message */
        char *names[NS_NOTIFY_NAMES];
        uint64_t answered;
        /* notify_watch.c: write-intent filesystem calls and connect() */
        bool watching;
        int watch_nr[NS_WATCH_MAX]; /* per watched call, -1: not watched */
        /* The sandbox's root, in which watched paths are resolved:
         * /proc/PID/root of the first target whose path was looked at, -1
         * until then and once the sandbox is gone (ns_notify_end). */
        int root_fd;
};

/* notify_bpf.c: the watched calls, in the order of watch_nr[]. */
struct ns_watch_call {
        const char *name;
        const char *op;  /* the entry's operation */
        int path_arg;
        int dirfd_arg;   /* -1: relative to the cwd */
        int flags_arg;   /* -1: every call notifies; else only with a write flag */
};
#define NS_N_WATCH 19
#define NS_WATCH_CONNECT (NS_N_WATCH - 1) /* the last: watched only with a network namespace */
extern const struct ns_watch_call ns_watch_calls[NS_N_WATCH];

struct seccomp_data;
struct seccomp_notif;
/* notify_bpf.c: the program with the watch tails (see there) in OUT;
 * NET: connect() too. 0, or -E2BIG / -ENOMEM. */
int ns_watch_build(struct ns_notify *n, const struct sock_fprog *plain, bool net, struct sock_fprog *out);
/* Which watched call D is (an index), or -1: answered EPERM as a denial. */
int ns_watch_match(const struct ns_notify *n, const struct seccomp_data *d);
/* notify_watch.c: record what the kernel is about to refuse, then CONTINUE. */
void ns_watch_answer(struct ns_notify *n, const struct seccomp_notif *req, int which, double at);

/* Every fd -1: what ns_notify_release may see before ns_notify_prepare. */
void ns_notify_init(struct ns_notify *n);
/* Before clone, after ns_security_prepare: decide whether the command's
 * filter gets a listener (the default profile, seccomp not allowed by the
 * policy) and make the socket (SESSION: and the epoll set); otherwise
 * record why the source is not observable. Sets c->notify_fd and
 * c->seccomp_notify. */
int ns_notify_prepare(struct ns_notify *n, struct ns_ctx *c, struct zb_result *r, bool session,
                      struct zb_error *err);
/* In the cloned child: drop the supervisor's end. */
void ns_notify_child(struct ns_notify *n);
/* In the supervisor after clone: drop the child's end. */
void ns_notify_after_clone(struct ns_notify *n, struct ns_ctx *c);
/* The fd to poll (POLLIN), -1: none. */
int ns_notify_fd(const struct ns_notify *n);
/* The polled fd is ready: take the listener, or answer one notification.
 * EXEC_NS: when the command was exec'd (0: not yet). Returns the fd to
 * poll from now on. */
int ns_notify_event(struct ns_notify *n, short revents, uint64_t exec_ns);
/* The sandbox is gone (its event loop ended): let go of its root, which
 * would keep the root's tmpfs (and the files of its /tmp) alive past the
 * run's cgroup. */
void ns_notify_end(struct ns_notify *n);
void ns_notify_release(struct ns_notify *n, struct ns_ctx *c);

/* In the command process, last before execve: install the filter (with a
 * listener when the supervisor asked for one) and hand the listener over,
 * with the resolver's socket if it is still to go.
 * Async-signal-safe; fails through ns_fail. */
void ns_notify_install(struct ns_ctx *c);
/* A session's init, before it serves: the resolver's socket alone (each
 * exec sends only its listener). Nothing to do without one. */
void ns_notify_send_resolver(struct ns_ctx *c);

#endif
