/* network.allow: the proxy that runs outside the sandbox. The sandbox keeps
 * its own network namespace with only loopback; its child makes a listener
 * on 127.0.0.1:PORT there and hands it over, so the proxy, in the host's
 * network namespace, accepts what the sandbox connects to it and connects
 * out only to allowed host:port pairs.
 *
 * The allowlist's entries, names and addresses: src/core/allowlist.h. The
 * request parser (pure; unit tests, fuzzing): proxy_request.c. The process
 * (start, confinement, stop): proxy.c; one connection: proxy_conn.c. */
#ifndef ZB_NS_PROXY_H
#define ZB_NS_PROXY_H

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "../core/allowlist.h"

#define ZB_PROXY_HEAD_MAX 16384 /* request line and headers */

/* ---- one proxy request ---- */

enum net_proxy_kind { ZB_PROXY_CONNECT, ZB_PROXY_HTTP };
#define ZB_PROXY_INCOMPLETE (-EAGAIN)

struct net_proxy_request {
        enum net_proxy_kind kind;
        char method[16];
        char host[ZB_NET_NAME_MAX + 1]; /* normalized as net_rules_match wants it */
        uint16_t port;
        size_t head_len; /* bytes of BUF the head took, final blank line included */
        char *forward;   /* ZB_PROXY_HTTP: the head to send to the server (malloc'd) */
        size_t forward_len;
        const char *why; /* on an error: one line, static */
};

/* Parse a proxy request head at the start of BUF (LEN bytes): CONNECT
 * host:port HTTP/1.x, or METHOD http://host[:port]/path HTTP/1.x, which is
 * rewritten to origin form with Proxy-*, Connection and Keep-Alive headers
 * dropped, Host set from the URL and "Connection: close" added.
 * 0: a complete, valid request (free REQ->forward with net_proxy_request_free);
 * ZB_PROXY_INCOMPLETE: the head has not ended within LEN bytes; an HTTP
 * status (400, 405) with REQ->why set: a bad request. */
int net_proxy_parse(const char *buf, size_t len, struct net_proxy_request *req);
void net_proxy_request_free(struct net_proxy_request *req);

/* ---- the proxy process (supervisor side, net.c) ---- */

struct zb_policy;
struct zb_error;

/* Counters the proxy keeps in memory shared with the supervisor. */
struct ns_proxy_counts {
        uint64_t allowed; /* connected to an allowed host:port */
        uint64_t refused; /* 403: not allowed, or a name leading to an internal address */
        uint64_t failed;  /* bad requests (400, 405, 408, 431), no resolution or connection (502), too many (503) */
};

/* One refused host:port (the verdict's layer proxy, operation CONNECT). */
#define NS_PROXY_MAX_REFUSALS 32
struct ns_proxy_refusal {
        char target[ZB_NET_NAME_MAX + 10]; /* host:port, [v6]:port */
        bool internal;       /* a name leading to an internal address, not a missing rule */
        _Atomic uint64_t count;
        uint64_t first_ns;   /* util_now_ns() of the first */
};

struct ns_proxy_shared_counts;

struct ns_proxy {
        pid_t pid;                      /* the proxy process; 0 once reaped */
        struct ns_proxy_shared_counts *shared; /* its counters (MAP_SHARED) */
};

/* Fork the proxy and return once it is ready (or failed, with ERR).
 * *CHILD_FD: the sandbox's end of the socket the listener is sent over
 * (O_CLOEXEC); the proxy holds the other. */
int ns_proxy_start(struct ns_proxy *px, const struct zb_policy *p, int *child_fd,
                   struct zb_error *err);
/* Stop it (it finishes its connections briefly), reap it, free the
 * shared counters; COUNTS filled when not NULL. Idempotent. */
void ns_proxy_stop(struct ns_proxy *px, struct ns_proxy_counts *counts);
/* The counts so far (all zero without a proxy): a session's exec reports
 * the connections made while it ran. */
void ns_proxy_counts_now(const struct ns_proxy *px, struct ns_proxy_counts *counts);
/* The refusals so far as violations in SET (first_ms from EXEC_NS), those
 * of targets past the table added to SET's dropped count; BASE (N_BASE
 * counts, may be NULL) is subtracted: a session's exec reports its own.
 * SNAP (NS_PROXY_SNAP_N, may be NULL) gets the counts now (the last: the
 * unlisted ones). */
#define NS_PROXY_SNAP_N (NS_PROXY_MAX_REFUSALS + 1)
struct viol_set;
void ns_proxy_violations(const struct ns_proxy *px, struct viol_set *set, uint64_t exec_ns,
                         const uint64_t *base, size_t n_base, uint64_t *snap);

#endif
