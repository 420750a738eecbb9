/* The loopback resolver of network none (resolver.h): the supervisor's
 * half. It only answers REFUSED and records; it never resolves, forwards
 * or lets anything through, so it cannot widen what the sandbox reaches
 * (enforcement is the empty network namespace). Bounded: one datagram per
 * event, NS_RESOLVER_MAX_QUERIES per run, a fixed buffer, no allocation
 * but the violation set's own (deduplicated and capped). */
#define _GNU_SOURCE
#include <arpa/nameser.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/policy.h"
#include "../core/violation.h"
#include "ns.h"
#include "resolver.h"

#define DNS_QUERY_MAX 4096 /* an EDNS query's size; longer ones are cut (MSG_TRUNC) */
#define DNS_FLAG_QR 0x80u
#define DNS_OPCODE_MASK 0x78u
#define DNS_FLAG_RD 0x01u
#define DNS_RCODE_REFUSED 5u
#define LOOKUP_RULE "network none"
#define LOOKUP_HINT "--net-allow HOST[:PORT] (network.allow)"

ssize_t ns_dns_refusal(const uint8_t *q, size_t n, uint8_t *ans, char *name)
{
        u_char wire[NS_MAXCDNAME];

        name[0] = '\0';
        if (n < HFIXEDSZ || (q[2] & DNS_FLAG_QR) || (q[4] == 0 && q[5] == 0))
                return -1; /* an answer, or no question: not ours to answer */
        int used = ns_name_unpack(q, q + n, q + HFIXEDSZ, wire, sizeof(wire));
        if (used < 0 || (size_t)used + QFIXEDSZ > n - HFIXEDSZ)
                return -1;
        size_t qlen = (size_t)used + QFIXEDSZ;
        if (HFIXEDSZ + qlen > NS_DNS_ANSWER_MAX || ns_name_ntop(wire, name, NS_DNS_NAME_MAX) < 0) {
                name[0] = '\0';
                return -1;
        }
        for (char *c = name; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        memset(ans, 0, HFIXEDSZ);
        ans[0] = q[0];
        ans[1] = q[1];
        ans[2] = (uint8_t)(DNS_FLAG_QR | (q[2] & (DNS_OPCODE_MASK | DNS_FLAG_RD)));
        ans[3] = DNS_RCODE_REFUSED;
        ans[5] = 1; /* QDCOUNT 1: the first question, echoed as asked */
        memcpy(ans + HFIXEDSZ, q + HFIXEDSZ, qlen);
        return (ssize_t)(HFIXEDSZ + qlen);
}

bool ns_resolver_wanted(const struct zb_policy *p)
{
        return p->network == ZB_NET_NONE && !pol_net_allowlist(p);
}

void ns_resolver_take(struct ns_resolver *rs, struct viol_set *set, int fd, int err)
{
        if (rs->state != NS_RESOLVER_WAITING) {
                if (fd >= 0)
                        close(fd);
                return; /* not asked for, or a second one: not ours to serve */
        }
        if (fd >= 0) {
                rs->fd = fd;
                rs->state = NS_RESOLVER_SERVING;
                viol_source(set, "dns", "observed");
                return;
        }
        char why[128];
        snprintf(why, sizeof(why), "not observable: cannot bind 127.0.0.1:53 in the sandbox (%s)",
                 err ? strerror(err) : "no socket from the sandbox");
        viol_source(set, "dns", why);
        rs->state = NS_RESOLVER_NONE;
}

int ns_resolver_fd(const struct ns_resolver *rs)
{
        return rs->state == NS_RESOLVER_SERVING ? rs->fd : -1;
}

static bool answer_one(struct ns_resolver *rs, struct viol_set *set, double at_ms)
{
        uint8_t q[DNS_QUERY_MAX], ans[NS_DNS_ANSWER_MAX];
        char name[NS_DNS_NAME_MAX];
        struct sockaddr_storage from;
        socklen_t from_len = sizeof(from);

        ssize_t n = recvfrom(rs->fd, q, sizeof(q), MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&from,
                             &from_len);
        if (n < 0)
                return errno != EAGAIN; /* EINTR, or an ICMP error for an earlier answer */
        rs->answered++;
        ssize_t len = ns_dns_refusal(q, (size_t)n < sizeof(q) ? (size_t)n : sizeof(q), ans, name);
        if (len > 0) {
                /* Best effort: a client that is gone or full misses its answer. */
                ssize_t s = sendto(rs->fd, ans, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL,
                                   (struct sockaddr *)&from, from_len);
                (void)s;
                viol_add(set, VIOL_NETWORK, "lookup", name, strlen(name), LOOKUP_RULE, LOOKUP_HINT, 1,
                         at_ms);
        }
        if (rs->answered >= NS_RESOLVER_MAX_QUERIES) {
                close(rs->fd);
                rs->fd = -1;
        }
        return rs->fd >= 0;
}

int ns_resolver_event(struct ns_resolver *rs, struct viol_set *set, double at_ms)
{
        if (rs->state != NS_RESOLVER_SERVING || rs->fd < 0)
                return -1; /* NONE is all zero: its fd 0 is not ours */
        answer_one(rs, set, at_ms);
        return rs->fd;
}

void ns_resolver_drain(struct ns_resolver *rs, struct viol_set *set, double at_ms)
{
        while (rs->state == NS_RESOLVER_SERVING && rs->fd >= 0 && answer_one(rs, set, at_ms))
                ;
}

void ns_resolver_prepare(struct ns_resolver *rs)
{
        *rs = (struct ns_resolver){ .state = NS_RESOLVER_WAITING, .fd = -1 };
}

void ns_resolver_close(struct ns_resolver *rs)
{
        if (rs->state == NS_RESOLVER_SERVING && rs->fd >= 0)
                close(rs->fd);
        *rs = (struct ns_resolver){ .state = NS_RESOLVER_NONE, .fd = -1 };
}

/* ---------- child side ---------- */

void ns_resolver_child(struct ns_resolver *rs, int udp)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(NAMESERVER_PORT),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (rs->state == NS_RESOLVER_NONE) {
                if (udp >= 0)
                        close(udp);
                return;
        }
        /* Port 53 is privileged: this process holds CAP_NET_BIND_SERVICE in
         * the user namespace that owns the sandbox's network namespace. */
        rs->fd = udp;
        rs->err = bind(rs->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? errno : 0;
        if (rs->err && rs->fd >= 0) {
                close(rs->fd);
                rs->fd = -1;
        }
}

bool ns_resolver_pending(const struct ns_resolver *rs)
{
        return rs->state != NS_RESOLVER_NONE && (rs->fd >= 0 || rs->err);
}

void ns_resolver_handed(struct ns_resolver *rs)
{
        if (rs->state != NS_RESOLVER_NONE && rs->fd >= 0)
                close(rs->fd);
        *rs = (struct ns_resolver){ .state = NS_RESOLVER_NONE, .fd = -1 };
}
