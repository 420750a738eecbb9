/* Private to the proxy's two files: proxy.c (the process: start,
 * confinement, accept loop, stop) and proxy_conn.c (one connection:
 * request, decision, audit line, relay). proxy.c builds struct proxy_process
 * before fork and hands each accepted socket to proxy_conn_start. */
#ifndef ZB_NS_PROXY_INT_H
#define ZB_NS_PROXY_INT_H

#include <linux/filter.h>
#include <pthread.h>
#include <stdatomic.h>

#include "../core/util.h"
#include "proxy.h"

#define PROXY_MAX_OWN_ADDRS 64

/* The counters the proxy adds to and the supervisor reads (MAP_SHARED). */
struct ns_proxy_shared_counts {
        _Atomic uint64_t allowed, refused, failed;
        /* The distinct host:port refusals (403), for the verdict's
         * violations: a slot is filled, then published by n_refused_slots
         * (release), so the supervisor may read while the proxy runs. */
        _Atomic uint32_t n_refused_slots;
        struct ns_proxy_refusal refusals[NS_PROXY_MAX_REFUSALS];
        _Atomic uint64_t refusals_unlisted; /* refusals of targets past the table: counted only */
};

/* A network.hosts entry: NAME connects to IP, without DNS. */
struct host_pin {
        char name[ZB_NET_NAME_MAX + 1];
        struct net_addr ip;
};

/* Everything the proxy process uses: built before fork; after it, only
 * the counters, the connection threads' count and ids, and the refusal
 * lines' rate limit change. */
struct proxy_process {
        const struct zb_policy *p;
        struct net_rule *rules;
        size_t n_rules;
        struct host_pin *pins;
        size_t n_pins;
        int audit_fd; /* -1: no audit log */
        pid_t supervisor;
        struct ns_proxy_shared_counts *shared;
        struct sock_fprog filter; /* the proxy's own seccomp program */
        _Atomic int active;  /* connection threads running */
        _Atomic uint64_t seq; /* the last connection's id */
        /* The host's own addresses when the proxy started (getifaddrs). */
        struct net_addr own[PROXY_MAX_OWN_ADDRS];
        size_t n_own;
        /* The refusal lines' rate limit (GCRA), shared by the threads. */
        pthread_mutex_t audit_lock;
        uint64_t audit_tat_ns;
        uint64_t audit_suppressed;
};

/* Milliseconds until DEADLINE_NS (rounded up), 0 once past: a poll timeout. */
static inline uint64_t proxy_ms_left(uint64_t deadline_ns)
{
        uint64_t now = util_now_ns();
        return deadline_ns > now ? (deadline_ns - now) / 1000000 + 1 : 0;
}

/* Serve accepted FD on a thread of its own (or refuse it with 503); the
 * thread closes FD. PX->active counts the threads. */
void proxy_conn_start(struct proxy_process *px, int fd);
/* The audit line that says how many refusals were not logged one by one;
 * PX->audit_lock held. */
void proxy_audit_summary(struct proxy_process *px);

#endif
