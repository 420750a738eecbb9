/* network.allow and network.hosts, parsed: host names, addresses and their
 * classes, allowlist entries and the match of a host:port against them.
 * Pure code (no I/O, no allocation), shared by policy validation
 * (src/core/keys.c, policy.c) and the proxy (src/ns/proxy*.c).
 *
 * What it guarantees: an entry is accepted only in one reading (a name of
 * digits and dots is not taken as a name; an IPv6 address only in
 * brackets; '*' only as a whole first label), and a name from DNS can be
 * judged by the class of every address it leads to. */
#include <arpa/inet.h>
#include <stdio.h>

#include "allowlist.h"
#include "util.h"

/* ------------------------------------------------------------ names and addresses */

/* Labels of letters, digits, '-' and '_', 1-63 bytes each, 253 in all. */
static bool name_ok(const char *s, size_t n)
{
        size_t label = 0;
        if (n == 0 || n > ZB_NET_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (c == '.') {
                        if (label == 0 || s[i - 1] == '-')
                                return false;
                        label = 0;
                        continue;
                }
                if (c == '-' && label == 0)
                        return false;
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_'))
                        return false;
                if (++label > 63)
                        return false;
        }
        return label > 0 && s[n - 1] != '-';
}

/* S[0..N) lowercased, one trailing dot dropped, into OUT. */
bool net_name_normalize(const char *s, size_t n, char out[ZB_NET_NAME_MAX + 1])
{
        if (n > 1 && s[n - 1] == '.')
                n--;
        if (!name_ok(s, n))
                return false;
        for (size_t i = 0; i < n; i++)
                out[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
        out[n] = '\0';
        return true;
}

bool net_ip_literal(const char *host, struct net_addr *out)
{
        struct net_addr a = { 0 };
        if (inet_pton(AF_INET, host, a.bytes) == 1) {
                a.family = AF_INET;
        } else if (inet_pton(AF_INET6, host, a.bytes) == 1) {
                static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
                a.family = AF_INET6;
                if (memcmp(a.bytes, mapped, sizeof(mapped)) == 0) {
                        memmove(a.bytes, a.bytes + 12, 4);
                        memset(a.bytes + 4, 0, 12);
                        a.family = AF_INET;
                }
        } else {
                return false;
        }
        *out = a;
        return true;
}

const char *net_addr_str(const struct net_addr *a, char *buf, size_t size)
{
        if (!inet_ntop(a->family, a->bytes, buf, (socklen_t)size))
                snprintf(buf, size, "?");
        return buf;
}

static const char *v4_internal(const unsigned char *b)
{
        if (b[0] == 0)
                return "unspecified";
        if (b[0] == 127)
                return "loopback";
        if (b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168))
                return "private";
        if (b[0] == 100 && (b[1] & 0xc0) == 64)
                return "shared (CGNAT)";
        if (b[0] == 169 && b[1] == 254)
                return "link-local";
        if (b[0] == 192 && b[1] == 0 && b[2] == 0)
                return "reserved";
        /* TEST-NET-1..3 (RFC 5737): documentation only, never routed;
         * one answering here is someone's internal service. */
        if ((b[0] == 192 && b[1] == 0 && b[2] == 2) || (b[0] == 198 && b[1] == 51 && b[2] == 100) ||
            (b[0] == 203 && b[1] == 0 && b[2] == 113))
                return "reserved (documentation)";
        if (b[0] == 198 && (b[1] & 0xfe) == 18)
                return "reserved";
        if ((b[0] & 0xf0) == 224)
                return "multicast";
        if ((b[0] & 0xf0) == 240)
                return "reserved";
        return NULL;
}

const char *net_addr_internal(const struct net_addr *a)
{
        static const unsigned char zero[16] = { 0 };
        static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b };
        const unsigned char *b = a->bytes;

        if (a->family == AF_INET)
                return v4_internal(b);
        if (memcmp(b, zero, 15) == 0)
                return b[15] == 0 ? "unspecified" : b[15] == 1 ? "loopback" : "reserved";
        if (memcmp(b, zero, 12) == 0)
                return "reserved"; /* IPv4-compatible, deprecated */
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
                return "link-local";
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
                return "site-local";
        if ((b[0] & 0xfe) == 0xfc)
                return "private (ULA)";
        if (b[0] == 0xff)
                return "multicast";
        /* 64:ff9b:1::/48: local-use NAT64 (RFC 8215), a translator of the
         * site's own; 2001::/32: Teredo, which tunnels to any IPv4 address
         * (a relay could reach inside); 2001:db8::/32 documentation;
         * 100::/64 discard-only. */
        if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0 && b[5] == 1)
                return "private (local-use NAT64)";
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0)
                return "reserved (Teredo)";
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
                return "reserved (documentation)";
        if (b[0] == 0x01 && memcmp(b + 1, zero, 7) == 0)
                return "reserved (discard)";
        /* Addresses that carry an IPv4 address: judged by it. */
        if (memcmp(b, nat64, sizeof(nat64)) == 0)
                return v4_internal(b + 12);
        if (b[0] == 0x20 && b[1] == 0x02)
                return v4_internal(b + 2);
        return NULL;
}

/* "1-65535" digits only. */
bool net_port_parse(const char *s, size_t n, uint16_t *out)
{
        unsigned v = 0;
        if (n == 0 || n > 5)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (unsigned)(s[i] - '0');
        }
        if (v == 0 || v > 65535)
                return false;
        *out = (uint16_t)v;
        return true;
}

/* "[v6]" (brackets included, N bytes) into A. */
bool net_ip_bracketed(const char *s, size_t n, struct net_addr *a)
{
        char buf[64];
        if (n < 3 || n - 2 >= sizeof(buf) || s[0] != '[' || s[n - 1] != ']')
                return false;
        memcpy(buf, s + 1, n - 2);
        buf[n - 2] = '\0';
        return strchr(buf, ':') && net_ip_literal(buf, a);
}

/* ------------------------------------------------------------ allowlist entries */

static int rule_fail(const char **why, const char *msg)
{
        *why = msg;
        return -EINVAL;
}

/* HOST (S[0..N)): a name, *.DOMAIN, or an IPv4 literal. */
static int rule_host(const char *s, size_t n, struct net_rule *r, const char **why)
{
        char buf[ZB_NET_NAME_MAX + 2];
        if (n == 1 && s[0] == '*')
                return rule_fail(why, "a bare '*' would allow every host; use network: host to share the host's network");
        if (n > 2 && s[0] == '*' && s[1] == '.') {
                r->wildcard = true;
                s += 2;
                n -= 2;
        }
        if (memchr(s, '*', n))
                return rule_fail(why, "'*' is allowed only as the first label (*.example.com)");
        if (n < sizeof(buf)) {
                memcpy(buf, s, n);
                buf[n] = '\0';
                if (!r->wildcard && net_ip_literal(buf, &r->ip))
                        return 0;
        }
        if (!net_name_normalize(s, n, r->host))
                return rule_fail(why, "not a host name, *.domain, IPv4 address or [IPv6] address");
        /* A name of digits and dots only would be read as an address by the resolver. */
        if (strspn(r->host, "0123456789.") == strlen(r->host))
                return rule_fail(why, "not a valid IPv4 address");
        return 0;
}

int net_rule_parse(const char *s, struct net_rule *out, const char **why)
{
        struct net_rule r = { 0 };
        size_t n = s ? strlen(s) : 0;
        const char *port = NULL;
        size_t hn = n;

        if (n == 0)
                return rule_fail(why, "empty entry");
        if (s[0] == '[') {
                const char *close = strchr(s, ']');
                if (!close || !net_ip_bracketed(s, (size_t)(close - s) + 1, &r.ip))
                        return rule_fail(why, "not a valid [IPv6] address");
                if (close[1] && close[1] != ':')
                        return rule_fail(why, "expected :PORT after ]");
                port = close[1] ? close + 2 : NULL;
        } else {
                const char *colon = strchr(s, ':');
                if (colon && strchr(colon + 1, ':'))
                        return rule_fail(why, "an IPv6 address goes in brackets: [::1]:443");
                if (colon) {
                        hn = (size_t)(colon - s);
                        port = colon + 1;
                }
                int e = rule_host(s, hn, &r, why);
                if (e < 0)
                        return e;
        }
        if (port && strcmp(port, "*") == 0)
                r.any_port = true;
        else if (port && !net_port_parse(port, strlen(port), &r.port))
                return rule_fail(why, "the port must be 1-65535 or *");
        *out = r;
        return 0;
}

int net_pin_parse(const char *s, char name[ZB_NET_NAME_MAX + 1], struct net_addr *ip,
                     const char **why)
{
        const char *colon = s ? strchr(s, ':') : NULL;
        if (!colon)
                return rule_fail(why, "expected NAME:IP");
        if (!net_name_normalize(s, (size_t)(colon - s), name))
                return rule_fail(why, "not a host name");
        const char *a = colon + 1;
        size_t n = strlen(a);
        if ((a[0] == '[' && net_ip_bracketed(a, n, ip)) || (a[0] != '[' && net_ip_literal(a, ip)))
                return 0;
        return rule_fail(why, "not an IPv4 or IPv6 address");
}

bool net_addr_eq(const struct net_addr *a, const struct net_addr *b)
{
        return a->family == b->family &&
               memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16) == 0;
}

int net_rules_match(const struct net_rule *rules, size_t n, const char *host, uint16_t port)
{
        struct net_addr ip;
        bool is_ip = net_ip_literal(host, &ip);
        size_t hl = strlen(host);

        for (size_t i = 0; i < n; i++) {
                const struct net_rule *r = &rules[i];
                bool port_ok = r->any_port || (r->port ? r->port == port : port == 80 || port == 443);
                if (!port_ok)
                        continue;
                if (is_ip || r->ip.family) {
                        if (is_ip && r->ip.family && net_addr_eq(&ip, &r->ip))
                                return (int)i;
                        continue;
                }
                size_t dl = strlen(r->host);
                if (!r->wildcard && strcmp(host, r->host) == 0)
                        return (int)i;
                if (r->wildcard && hl > dl + 1 && host[hl - dl - 1] == '.' &&
                    strcmp(host + hl - dl, r->host) == 0)
                        return (int)i;
        }
        return -1;
}
