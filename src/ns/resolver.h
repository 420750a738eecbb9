/* network none: a resolver on the sandbox's loopback that answers every
 * query REFUSED and records the name it was asked (issue 16: the
 * `network` layer's `lookup` violations).
 *
 * The sandbox's /etc/resolv.conf names 127.0.0.1; the child binds a UDP
 * socket to 127.0.0.1:53 in the sandbox's network namespace (it holds
 * every capability there). It travels to the supervisor in the one
 * hand-over message the command sends before its exec, with the seccomp
 * listener (notify.c; a session's init sends it alone), so it costs no
 * socket pair, send or wakeup of its own. The supervisor serves it from
 * its event loop, one datagram per wakeup, at most
 * NS_RESOLVER_MAX_QUERIES per run (then the socket is closed and the
 * kernel refuses the rest). Nothing is resolved: the answer only makes
 * getaddrinfo fail at once instead of after a timeout. The query is
 * untrusted: its name is read with glibc's ns_name_unpack/ns_name_ntop and
 * the violation set sanitizes it again. */
#ifndef ZB_NS_RESOLVER_H
#define ZB_NS_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NS_RESOLVER_MAX_QUERIES 4096 /* per run; later queries: ECONNREFUSED */
#define NS_DNS_NAME_MAX 1025        /* NS_MAXDNAME: a 255-byte name, escaped */
#define NS_DNS_ANSWER_MAX 512       /* header + one question always fits */

struct viol_set;
struct zb_error;

struct zb_policy;

/* All zero (calloc) is "none": nothing to close. */
enum ns_resolver_state { NS_RESOLVER_NONE, NS_RESOLVER_WAITING, NS_RESOLVER_SERVING };

struct ns_resolver {
        enum ns_resolver_state state;
        /* Supervisor: the UDP socket once SERVING, -1 before and after.
         * Child: the bound socket until it is handed over, -1 if none. */
        int fd;
        int err; /* child: why there is no socket (an errno), 0 */
        uint32_t answered;
};

/* The REFUSED answer to query Q (N bytes) in ANS (NS_DNS_ANSWER_MAX bytes):
 * the same id and opcode, RD copied, the first question echoed, no records.
 * NAME (NS_DNS_NAME_MAX bytes) gets the question's name in presentation
 * form (escaped as \DDD where not printable), ASCII lower-cased. Returns
 * the answer's length, or -1 when Q is not a query with a question. */
ssize_t ns_dns_refusal(const uint8_t *q, size_t n, uint8_t *ans, char *name);

/* Whether policy P has the resolver (network none without an allowlist). */
bool ns_resolver_wanted(const struct zb_policy *p);
/* Supervisor side. Before clone: RS waits for its socket. */
void ns_resolver_prepare(struct ns_resolver *rs);
/* The hand-over brought the socket FD (>= 0, now RS's), or ERR, why the
 * child has none. */
void ns_resolver_take(struct ns_resolver *rs, struct viol_set *set, int fd, int err);
/* The fd to poll, -1: none (yet, or any more). */
int ns_resolver_fd(const struct ns_resolver *rs);
/* Answers one query on the socket and returns the fd to poll next (-1:
 * none any more). AT_MS: since the command's exec (< 0: not yet). */
int ns_resolver_event(struct ns_resolver *rs, struct viol_set *set, double at_ms);
/* The queries still queued once the sandbox is gone (a program that sent
 * and did not wait): answered and recorded, up to the cap. */
void ns_resolver_drain(struct ns_resolver *rs, struct viol_set *set, double at_ms);
/* Closes everything; RS is NONE again. */
void ns_resolver_close(struct ns_resolver *rs);
/* Child side: bind UDP, the socket lo was brought up with, in the
 * sandbox's namespace (RS->fd, or the errno in RS->err), to be handed over
 * with the listener; closed when RS wants none. A resolver is wanted only
 * in network none, where lo is always brought up (-1 there would fail the
 * bind with EBADF: reported, not observable). */
void ns_resolver_child(struct ns_resolver *rs, int udp);
/* Child side: whether RS has a socket (or an errno) still to hand over. */
bool ns_resolver_pending(const struct ns_resolver *rs);
/* Child side: handed over (or, in init after the command's fork, the
 * command's to send): closes this process's copy; RS is NONE. */
void ns_resolver_handed(struct ns_resolver *rs);

#endif
