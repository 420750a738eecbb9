/* network.allow: the proxy that runs outside the sandbox (proxy.c). The
 * sandbox keeps its own network namespace with only loopback; its child
 * makes a listener on 127.0.0.1:PORT there and hands it over, so the proxy,
 * in the host's network namespace, accepts what the sandbox connects to it
 * and connects out only to allowed host:port pairs.
 *
 * The parsing and matching below are pure functions (unit tests, fuzzing);
 * the zb_net_* ones also serve validation (src/core/policy.c). */
#ifndef ZB_NS_PROXY_H
#define ZB_NS_PROXY_H

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define ZB_NET_NAME_MAX 253     /* a DNS name, without the trailing dot */
#define ZB_PROXY_HEAD_MAX 16384 /* request line and headers */

/* An address: AF_INET (4 bytes used) or AF_INET6. IPv4-mapped IPv6
 * addresses are kept as AF_INET, so [::ffff:127.0.0.1] is 127.0.0.1. */
struct net_addr {
        int family;
        unsigned char bytes[16];
};

/* One network.allow entry: HOST, HOST:PORT, *.DOMAIN[:PORT], an IPv4
 * literal or [IPv6] literal, with :* for any port. */
struct net_rule {
        char host[ZB_NET_NAME_MAX + 1]; /* lowercase; the DOMAIN of *.DOMAIN; "" for an IP */
        bool wildcard;                  /* *.DOMAIN: one or more labels below DOMAIN */
        struct net_addr ip;          /* family 0 unless an IP literal */
        uint16_t port;                  /* 0: 80 and 443 */
        bool any_port;                  /* :* */
};

/* Parse one entry. 0, or -EINVAL with *WHY (a static string). */
int net_rule_parse(const char *s, struct net_rule *out, const char **why);
/* network.hosts entry NAME:IP (split at the first ':'; IPv6 may be bracketed). */
int net_pin_parse(const char *s, char name[ZB_NET_NAME_MAX + 1], struct net_addr *ip,
                     const char **why);
/* The index of the first rule that allows HOST (normalized: lowercase name
 * without trailing dot, or an IP literal without brackets) on PORT; -1 none. */
int net_rules_match(const struct net_rule *rules, size_t n, const char *host, uint16_t port);
/* HOST as an IP literal ("1.2.3.4", "::1"): true and *OUT filled. */
bool net_ip_literal(const char *host, struct net_addr *out);
/* Loopback, link-local, private (RFC 1918, ULA, CGNAT), unspecified,
 * multicast, broadcast or reserved: what a name from DNS may not lead to.
 * Returns a short name of the class, or NULL for an ordinary address. */
const char *net_addr_internal(const struct net_addr *a);
/* The text form of A (inet_ntop), into BUF. */
const char *net_addr_str(const struct net_addr *a, char *buf, size_t size);

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

struct ns_proxy_shared;

struct ns_proxy {
        pid_t pid;                      /* the proxy process; 0 once reaped */
        struct ns_proxy_shared *shared; /* its counters (MAP_SHARED) */
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

#endif
