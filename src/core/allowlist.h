/* network.allow and network.hosts: the allowlist's entries, host names and
 * addresses (allowlist.c). Pure functions, no I/O: policy validation
 * (keys.c, policy.c) and the proxy (src/ns/proxy*.c) parse with the same
 * code, so an entry the policy accepts is one the proxy reads the same way.
 * Unit tests and fuzzing (tests/fuzz/fuzz_proxy.c) cover them. */
#ifndef ZB_CORE_ALLOWLIST_H
#define ZB_CORE_ALLOWLIST_H

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_NET_NAME_MAX 253 /* a DNS name, without the trailing dot */

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

/* The pieces the entries are made of, also read by the proxy's request
 * parser (src/ns/proxy_request.c) so that a request names hosts and ports
 * exactly as the allowlist does. */

/* S[0..N) lowercased, one trailing dot dropped, into OUT; false when it is
 * not a host name (labels of letters, digits, '-' and '_'). */
bool net_name_normalize(const char *s, size_t n, char out[ZB_NET_NAME_MAX + 1]);
/* S[0..N): "1-65535", digits only. */
bool net_port_parse(const char *s, size_t n, uint16_t *out);
/* "[v6]" (brackets included, N bytes) into A. */
bool net_ip_bracketed(const char *s, size_t n, struct net_addr *a);
bool net_addr_eq(const struct net_addr *a, const struct net_addr *b);

#endif
