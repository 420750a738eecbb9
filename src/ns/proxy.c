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
 * What it guarantees: the sandbox reaches only allowed host:port pairs, and
 * nothing else has a route out. Not what is sent there. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <ifaddrs.h>
#include <libgen.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include "../core/audit.h"
#include "../core/policy.h"
#include "landlock.h"
#include "proxy.h"
#include "seccomp.h"
#include "sys.h"

#define PROXY_MAX_CONNS 128
#define PROXY_HEAD_TIMEOUT_MS 10000
#define PROXY_CONNECT_TIMEOUT_MS 10000
#define PROXY_IDLE_TIMEOUT_MS 300000
#define PROXY_STOP_GRACE_MS 1000
#define PROXY_READY_TIMEOUT_MS 10000
#define PROXY_MAX_ADDRS 16
#define RELAY_BUF_BYTES 262144
#define PROXY_THREAD_STACK_BYTES ((size_t)512 * 1024)
#define PROXY_MAX_OWN_ADDRS 64
/* Refusals the audit log takes: a burst of 20 lines, then 5 a second; the
 * rest are counted and summed up in one "net_suppressed" line. */
#define AUDIT_DENY_BURST 20
#define AUDIT_DENY_INTERVAL_NS 200000000ull

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
static bool name_normalize(const char *s, size_t n, char out[ZB_NET_NAME_MAX + 1])
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
static bool port_parse(const char *s, size_t n, uint16_t *out)
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
static bool bracketed_ip(const char *s, size_t n, struct net_addr *a)
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
        if (!name_normalize(s, n, r->host))
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
                if (!close || !bracketed_ip(s, (size_t)(close - s) + 1, &r.ip))
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
        else if (port && !port_parse(port, strlen(port), &r.port))
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
        if (!name_normalize(s, (size_t)(colon - s), name))
                return rule_fail(why, "not a host name");
        const char *a = colon + 1;
        size_t n = strlen(a);
        if ((a[0] == '[' && bracketed_ip(a, n, ip)) || (a[0] != '[' && net_ip_literal(a, ip)))
                return 0;
        return rule_fail(why, "not an IPv4 or IPv6 address");
}

static bool addr_eq(const struct net_addr *a, const struct net_addr *b)
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
                        if (is_ip && r->ip.family && addr_eq(&ip, &r->ip))
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

/* ------------------------------------------------------------ request heads */

static int bad(struct net_proxy_request *req, int status, const char *why)
{
        free(req->forward);
        req->forward = NULL;
        req->why = why;
        return status;
}

/* AUTH[0..N) "host[:port]" or "[v6][:port]" into REQ->host and ->port. */
static int parse_authority(const char *a, size_t n, bool need_port, struct net_proxy_request *req)
{
        struct net_addr ip;
        const char *port = NULL;
        size_t hn = n;

        if (memchr(a, '@', n))
                return bad(req, 400, "user@host is not allowed in a proxy request");
        if (n > 0 && a[0] == '[') {
                const char *close = memchr(a, ']', n);
                if (!close || !bracketed_ip(a, (size_t)(close - a) + 1, &ip))
                        return bad(req, 400, "bad [IPv6] address");
                hn = (size_t)(close - a) + 1;
                if (hn < n && a[hn] != ':')
                        return bad(req, 400, "bad host:port");
                port = hn < n ? a + hn + 1 : NULL;
                net_addr_str(&ip, req->host, sizeof(req->host));
        } else {
                const char *colon = memchr(a, ':', n);
                char buf[ZB_NET_NAME_MAX + 2];
                if (colon) {
                        hn = (size_t)(colon - a);
                        port = colon + 1;
                }
                if (hn == 0 || hn >= sizeof(buf))
                        return bad(req, 400, "bad host name");
                memcpy(buf, a, hn);
                buf[hn] = '\0';
                if (net_ip_literal(buf, &ip) && ip.family == AF_INET)
                        net_addr_str(&ip, req->host, sizeof(req->host));
                else if (!name_normalize(a, hn, req->host))
                        return bad(req, 400, "bad host name");
                else if (strspn(req->host, "0123456789.") == strlen(req->host))
                        return bad(req, 400, "not a valid IPv4 address (dotted decimal only)");
        }
        if (port && !port_parse(port, (size_t)(a + n - port), &req->port))
                return bad(req, 400, "bad port (1-65535)");
        if (!port && need_port)
                return bad(req, 400, "CONNECT needs host:port");
        if (!port)
                req->port = 80;
        return 0;
}

static bool is_token_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Headers the proxy consumes or replaces instead of passing on. */
static bool hop_header(const char *name, size_t n)
{
        static const char *const drop[] = { "connection", "keep-alive", "host", "te", "upgrade" };
        if (n >= 6 && strncasecmp(name, "proxy-", 6) == 0)
                return true;
        for (size_t i = 0; i < ARRAY_SIZE(drop); i++)
                if (strlen(drop[i]) == n && strncasecmp(name, drop[i], n) == 0)
                        return true;
        return false;
}

static int append(struct net_proxy_request *req, size_t *cap, const char *s, size_t n)
{
        if (req->forward_len + n + 1 > *cap) {
                size_t nc = (req->forward_len + n + 1) * 2;
                char *f = realloc(req->forward, nc);
                if (!f)
                        return -ENOMEM;
                req->forward = f;
                *cap = nc;
        }
        memcpy(req->forward + req->forward_len, s, n);
        req->forward_len += n;
        req->forward[req->forward_len] = '\0';
        return 0;
}

/* The origin-form head: request line, Host from the URL, the client's
 * end-to-end headers, Connection: close. HDRS..END: the header lines. */
static int rewrite(struct net_proxy_request *req, const char *path, size_t path_len,
                   const char *version, const char *hdrs, const char *end)
{
        size_t cap = 0;
        char line[ZB_NET_NAME_MAX + 64];
        bool v6 = strchr(req->host, ':') != NULL;
        int e = 0;

        e |= append(req, &cap, req->method, strlen(req->method));
        e |= append(req, &cap, " ", 1);
        if (path_len == 0 || path[0] != '/')
                e |= append(req, &cap, "/", 1);
        e |= append(req, &cap, path, path_len);
        int n = snprintf(line, sizeof(line), " %s\r\nHost: %s%s%s", version, v6 ? "[" : "", req->host,
                         v6 ? "]" : "");
        e |= append(req, &cap, line, (size_t)n);
        if (req->port != 80) {
                n = snprintf(line, sizeof(line), ":%u", req->port);
                e |= append(req, &cap, line, (size_t)n);
        }
        e |= append(req, &cap, "\r\n", 2);
        for (const char *h = hdrs; h < end;) {
                const char *eol = memmem(h, (size_t)(end - h), "\r\n", 2);
                const char *colon = memchr(h, ':', (size_t)(eol - h));
                if (h[0] == ' ' || h[0] == '\t')
                        return bad(req, 400, "folded header lines are not allowed");
                if (!colon || colon == h)
                        return bad(req, 400, "bad header line");
                for (const char *c = h; c < colon; c++)
                        if (!is_token_char(*c))
                                return bad(req, 400, "bad header name");
                if (!hop_header(h, (size_t)(colon - h)))
                        e |= append(req, &cap, h, (size_t)(eol - h) + 2);
                h = eol + 2;
        }
        e |= append(req, &cap, "Connection: close\r\n\r\n", 21);
        return e ? bad(req, 503, "out of memory") : 0;
}

static bool method_forwarded(const char *m)
{
        static const char *const ok[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH" };
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
                if (strcmp(m, ok[i]) == 0)
                        return true;
        return false;
}

/* Every line ends in CRLF; no NUL, bare CR or bare LF. */
static bool head_clean(const char *buf, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (buf[i] == '\0')
                        return false;
                if (buf[i] == '\r' && (i + 1 >= n || buf[i + 1] != '\n'))
                        return false;
                if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
                        return false;
        }
        return true;
}

int net_proxy_parse(const char *buf, size_t len, struct net_proxy_request *req)
{
        memset(req, 0, sizeof(*req));
        const char *end = memmem(buf, len, "\r\n\r\n", 4);
        if (!end)
                return ZB_PROXY_INCOMPLETE;
        req->head_len = (size_t)(end - buf) + 4;
        if (!head_clean(buf, req->head_len))
                return bad(req, 400, "NUL, bare CR or bare LF in the request head");
        const char *eol = memmem(buf, req->head_len, "\r\n", 2);
        const char *sp1 = memchr(buf, ' ', (size_t)(eol - buf));
        const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
        if (!sp1 || !sp2 || sp1 == buf || sp2 == sp1 + 1)
                return bad(req, 400, "bad request line (METHOD TARGET HTTP/1.1)");
        size_t ml = (size_t)(sp1 - buf);
        if (ml >= sizeof(req->method))
                return bad(req, 405, "unknown method");
        for (size_t i = 0; i < ml; i++)
                if (!is_token_char(buf[i]))
                        return bad(req, 400, "bad method");
        memcpy(req->method, buf, ml);
        char version[16];
        size_t vl = (size_t)(eol - sp2 - 1);
        if (vl != 8 || (memcmp(sp2 + 1, "HTTP/1.1", 8) != 0 && memcmp(sp2 + 1, "HTTP/1.0", 8) != 0))
                return bad(req, 400, "only HTTP/1.0 and HTTP/1.1 requests");
        memcpy(version, sp2 + 1, 8);
        version[8] = '\0';
        const char *t = sp1 + 1;
        size_t tl = (size_t)(sp2 - t);

        if (strcmp(req->method, "CONNECT") == 0) {
                req->kind = ZB_PROXY_CONNECT;
                return parse_authority(t, tl, true, req);
        }
        req->kind = ZB_PROXY_HTTP;
        if (!method_forwarded(req->method))
                return bad(req, 405, "method not supported (GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, CONNECT)");
        if (tl >= 8 && strncasecmp(t, "https://", 8) == 0)
                return bad(req, 400, "https:// URLs go through CONNECT (set HTTPS_PROXY)");
        if (tl < 7 || strncasecmp(t, "http://", 7) != 0)
                return bad(req, 400, "not a proxy request: the target must be http://host/path, or use CONNECT host:port");
        const char *auth = t + 7;
        /* The head is not NUL-terminated: scan only up to the target's end. */
        size_t al = 0;
        while (auth + al < sp2 && auth[al] != '/' && auth[al] != '?' && auth[al] != '#')
                al++;
        int e = parse_authority(auth, al, false, req);
        if (e)
                return e;
        return rewrite(req, auth + al, (size_t)(sp2 - auth) - al, version, eol + 2, end + 2);
}

void net_proxy_request_free(struct net_proxy_request *req)
{
        free(req->forward);
        req->forward = NULL;
}

/* ------------------------------------------------------------ the proxy process */

struct ns_proxy_shared {
        _Atomic uint64_t allowed, refused, failed;
};

struct pin {
        char name[ZB_NET_NAME_MAX + 1];
        struct net_addr ip;
};

/* Everything the proxy process uses: built before fork, read-only after. */
struct proxy {
        const struct zb_policy *p;
        struct net_rule *rules;
        size_t n_rules;
        struct pin *pins;
        size_t n_pins;
        int audit_fd; /* -1: no audit log */
        pid_t supervisor;
        struct ns_proxy_shared *shared;
        struct sock_fprog filter; /* the proxy's own seccomp program */
        _Atomic int active;
        _Atomic uint64_t seq;
        /* The host's own addresses when the proxy started (getifaddrs). */
        struct net_addr own[PROXY_MAX_OWN_ADDRS];
        size_t n_own;
        /* The refusal lines' rate limit (GCRA), shared by the threads. */
        pthread_mutex_t audit_lock;
        uint64_t audit_tat_ns;
        uint64_t audit_suppressed;
};

struct conn {
        struct proxy *px;
        int fd;
        uint64_t id;
        uint64_t start_ns;
        struct audit_net ev;
        char rule[320];
        char reason[512];
        char addr[INET6_ADDRSTRLEN];
};

static uint64_t ms_left(uint64_t deadline_ns)
{
        uint64_t now = util_now_ns();
        return deadline_ns > now ? (deadline_ns - now) / 1000000 + 1 : 0;
}

static void send_all(int fd, const char *s, size_t n)
{
        while (n > 0) {
                ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return;
                s += w;
                n -= (size_t)w;
        }
}

static const char *status_text(int status)
{
        switch (status) {
        case 400: return "Bad Request";
        case 403: return "Forbidden";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 431: return "Request Header Fields Too Large";
        case 502: return "Bad Gateway";
        default: return "Service Unavailable";
        }
}

/* A refusal: the status, a one-line body, then a bounded drain so that
 * closing with unread input does not reset the reply away. */
static void reply(int fd, int status, const char *body)
{
        char msg[1024];
        int n = snprintf(msg, sizeof(msg),
                         "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\nzonebox proxy: %s\n",
                         status, status_text(status), strlen(body) + 16, body);
        send_all(fd, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
        shutdown(fd, SHUT_WR);
        char sink[4096];
        uint64_t deadline = util_now_ns() + 200000000ull;
        for (int i = 0; i < 16; i++) {
                struct pollfd pf = { .fd = fd, .events = POLLIN };
                if (poll(&pf, 1, (int)ms_left(deadline)) <= 0 || recv(fd, sink, sizeof(sink), 0) <= 0)
                        break;
        }
}

/* The line that says how many refusals were not logged; PX->audit_lock held. */
static void audit_summary(struct proxy *px)
{
        char reason[160];
        if (!px->audit_suppressed)
                return;
        snprintf(reason, sizeof(reason),
                 "%llu refused or failed connections were not logged one by one (at most %d a second after a burst of %d)",
                 (unsigned long long)px->audit_suppressed, (int)(1000000000ull / AUDIT_DENY_INTERVAL_NS),
                 AUDIT_DENY_BURST);
        struct audit_net ev = { .event = "net_suppressed", .pid = px->supervisor, .decision = "deny",
                                   .reason = reason };
        if (audit_net_append(px->audit_fd, px->p->audit.fsync, &ev) == 0)
                px->audit_suppressed = 0;
}

/* Whether a refusal gets its own line: the sandbox decides how many
 * connections it tries, and the log is the host's. */
static bool audit_deny_allowed(struct proxy *px)
{
        uint64_t now = util_now_ns();
        bool ok;
        pthread_mutex_lock(&px->audit_lock);
        if (px->audit_tat_ns < now)
                px->audit_tat_ns = now;
        ok = px->audit_tat_ns - now <= (uint64_t)AUDIT_DENY_BURST * AUDIT_DENY_INTERVAL_NS;
        if (ok) {
                px->audit_tat_ns += AUDIT_DENY_INTERVAL_NS;
                audit_summary(px);
        } else {
                px->audit_suppressed++;
        }
        pthread_mutex_unlock(&px->audit_lock);
        return ok;
}

static int audit(struct conn *c, const char *event)
{
        if (c->px->audit_fd < 0)
                return 0;
        c->ev.event = event;
        return audit_net_append(c->px->audit_fd, c->px->p->audit.fsync, &c->ev);
}

/* Refused (403: counted as refused) or failed (anything else). */
static void deny(struct conn *c, int status, const char *fmt, ...) ZB_PRINTF(3, 4);
static void deny(struct conn *c, int status, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
        va_end(ap);
        atomic_fetch_add(status == 403 ? &c->px->shared->refused : &c->px->shared->failed, 1);
        c->ev.decision = status == 403 ? "deny" : "error";
        c->ev.status = status;
        c->ev.reason = c->reason;
        if (c->px->audit_fd >= 0 && audit_deny_allowed(c->px))
                audit(c, "net");
        reply(c->fd, status, c->reason);
}

/* Read one request head (bounded in size and time). 0, or an error sent. */
static int read_head(struct conn *c, char *buf, size_t *len, struct net_proxy_request *req)
{
        uint64_t deadline = util_now_ns() + PROXY_HEAD_TIMEOUT_MS * 1000000ull;
        *len = 0;
        for (;;) {
                struct pollfd pf = { .fd = c->fd, .events = POLLIN };
                int n = poll(&pf, 1, (int)ms_left(deadline));
                if (n == 0) {
                        deny(c, 408, "no complete request within %d s", PROXY_HEAD_TIMEOUT_MS / 1000);
                        return -1;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                ssize_t r = n < 0 ? -1 : recv(c->fd, buf + *len, ZB_PROXY_HEAD_MAX - *len, 0);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return -1; /* the client went away: nothing to decide */
                *len += (size_t)r;
                int st = net_proxy_parse(buf, *len, req);
                if (st == 0)
                        return 0;
                if (st == ZB_PROXY_INCOMPLETE && *len < ZB_PROXY_HEAD_MAX)
                        continue;
                if (st == ZB_PROXY_INCOMPLETE)
                        deny(c, 431, "request head over %d bytes", ZB_PROXY_HEAD_MAX);
                else
                        deny(c, st, "%s", req->why);
                return -1;
        }
}

static void to_sockaddr(const struct net_addr *a, uint16_t port, struct sockaddr_storage *ss,
                        socklen_t *len)
{
        memset(ss, 0, sizeof(*ss));
        if (a->family == AF_INET) {
                struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
                s4->sin_family = AF_INET;
                s4->sin_port = htons(port);
                memcpy(&s4->sin_addr, a->bytes, 4);
                *len = sizeof(*s4);
        } else {
                struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
                s6->sin6_family = AF_INET6;
                s6->sin6_port = htons(port);
                memcpy(&s6->sin6_addr, a->bytes, 16);
                *len = sizeof(*s6);
        }
}

static bool addr_from_ai(const struct addrinfo *ai, struct net_addr *a)
{
        char buf[INET6_ADDRSTRLEN];
        if (ai->ai_family == AF_INET) {
                a->family = AF_INET;
                memcpy(a->bytes, &((const struct sockaddr_in *)(const void *)ai->ai_addr)->sin_addr, 4);
                return true;
        }
        /* Through the text form, so that a v4-mapped address is judged as IPv4. */
        return ai->ai_family == AF_INET6 &&
               inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)ai->ai_addr)->sin6_addr, buf,
                         sizeof(buf)) &&
               net_ip_literal(buf, a);
}

/* The addresses HOST may be connected at: an IP literal or a pinned name
 * as given; a name from DNS without internal addresses. 0 and *N > 0, or
 * an error sent. */
static int resolve(struct conn *c, const char *host, struct net_addr *out, size_t *n, bool *from_dns)
{
        *n = 0;
        *from_dns = false;
        if (net_ip_literal(host, &out[0])) {
                *n = 1;
                return 0;
        }
        for (size_t i = 0; i < c->px->n_pins; i++)
                if (strcmp(c->px->pins[i].name, host) == 0) {
                        out[0] = c->px->pins[i].ip;
                        *n = 1;
                        return 0;
                }
        *from_dns = true;
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
        struct addrinfo *res = NULL;
        int e = getaddrinfo(host, NULL, &hints, &res);
        if (e) {
                deny(c, 502, "cannot resolve %s: %s", host, gai_strerror(e));
                return -1;
        }
        const char *internal = NULL;
        char first[INET6_ADDRSTRLEN] = "";
        for (struct addrinfo *ai = res; ai && *n < PROXY_MAX_ADDRS; ai = ai->ai_next) {
                struct net_addr a;
                if (!addr_from_ai(ai, &a))
                        continue;
                const char *why = net_addr_internal(&a);
                for (size_t k = 0; !why && k < c->px->n_own; k++)
                        if (addr_eq(&c->px->own[k], &a))
                                why = "this host's own";
                if (why) {
                        if (!internal) {
                                internal = why;
                                net_addr_str(&a, first, sizeof(first));
                        }
                        continue;
                }
                bool dup = false;
                for (size_t k = 0; k < *n; k++)
                        dup |= addr_eq(&out[k], &a);
                if (!dup)
                        out[(*n)++] = a;
        }
        freeaddrinfo(res);
        if (*n == 0 && internal) {
                deny(c, 403, "%s resolves to %s address %s; a name from DNS may not lead inside (pin it with network.hosts to allow)",
                     host, internal, first);
                return -1;
        }
        if (*n == 0) {
                deny(c, 502, "cannot resolve %s: no IPv4 or IPv6 address", host);
                return -1;
        }
        return 0;
}

/* Whether connected FD reached this host itself: for a local route the
 * kernel picks the destination as the source address. */
static bool to_self(int fd, const struct net_addr *dst)
{
        struct sockaddr_storage ss = { 0 };
        socklen_t sl = sizeof(ss);
        struct net_addr me = { 0 };
        char buf[INET6_ADDRSTRLEN];
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
                return true; /* cannot tell: refuse */
        const void *raw = ss.ss_family == AF_INET ? (const void *)&((struct sockaddr_in *)&ss)->sin_addr
                                                  : (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
        if (!inet_ntop(ss.ss_family, raw, buf, sizeof(buf)) || !net_ip_literal(buf, &me))
                return true;
        return addr_eq(&me, dst);
}

/* Connect to the first address that answers, within the time limit.
 * FROM_DNS: the addresses came from DNS (not a literal or a pin). */
static int connect_any(struct conn *c, const struct net_proxy_request *req,
                       const struct net_addr *addrs, size_t n, bool from_dns)
{
        uint64_t deadline = util_now_ns() + PROXY_CONNECT_TIMEOUT_MS * 1000000ull;
        int err = ETIMEDOUT;

        for (size_t i = 0; i < n && ms_left(deadline) > 0; i++) {
                struct sockaddr_storage ss;
                socklen_t sl;
                to_sockaddr(&addrs[i], req->port, &ss, &sl);
                net_addr_str(&addrs[i], c->addr, sizeof(c->addr));
                int fd = socket(addrs[i].family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd < 0) {
                        err = errno;
                        continue;
                }
                bool up = connect(fd, (struct sockaddr *)&ss, sl) == 0;
                err = errno;
                if (!up && errno == EINPROGRESS) {
                        struct pollfd pf = { .fd = fd, .events = POLLOUT };
                        socklen_t el = sizeof(err);
                        up = poll(&pf, 1, (int)ms_left(deadline)) == 1 &&
                             getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0;
                        if (err == EINPROGRESS)
                                err = ETIMEDOUT;
                }
                if (up && from_dns && to_self(fd, &addrs[i])) {
                        /* An address the host took after the proxy started:
                         * the kernel routed it locally. Nothing was sent. */
                        close(fd);
                        deny(c, 403, "%s resolves to this host's own address %s; a name from DNS may not lead inside (pin it with network.hosts to allow)",
                             req->host, c->addr);
                        return -1;
                }
                if (up)
                        return fd;
                close(fd);
        }
        deny(c, 502, "cannot connect to %s port %u (%s): %s", req->host, req->port, c->addr,
             strerror(err));
        return -1;
}

struct dir {
        int from, to;
        char *buf;
        size_t cap, len, off;
        bool eof, shut;
        uint64_t bytes;
};

static bool dir_flush(struct dir *d)
{
        while (d->off < d->len) {
                ssize_t w = send(d->to, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0 && errno == EAGAIN)
                        return true;
                if (w <= 0)
                        return false;
                d->off += (size_t)w;
                d->bytes += (uint64_t)w;
        }
        d->len = d->off = 0;
        if (d->eof && !d->shut) {
                shutdown(d->to, SHUT_WR);
                d->shut = true;
        }
        return true;
}

static bool dir_fill(struct dir *d)
{
        ssize_t r = recv(d->from, d->buf, d->cap, 0);
        if (r < 0)
                return errno == EAGAIN || errno == EINTR;
        if (r == 0)
                d->eof = true;
        d->len = (size_t)r;
        d->off = 0;
        return dir_flush(d);
}

/* Both ways until both ends are done, an error, or the idle timeout. D[0]
 * (client → server) may start with bytes already read. */
static void relay(struct dir d[2])
{
        fcntl(d[0].from, F_SETFL, fcntl(d[0].from, F_GETFL) | O_NONBLOCK);
        fcntl(d[0].to, F_SETFL, fcntl(d[0].to, F_GETFL) | O_NONBLOCK);
        if (!dir_flush(&d[0]))
                return;
        for (;;) {
                struct pollfd pf[2] = { { .fd = d[0].from }, { .fd = d[1].from } };
                for (int i = 0; i < 2; i++) {
                        if (!d[i].eof && d[i].len == 0)
                                pf[i].events |= POLLIN;
                        if (d[i].len > d[i].off)
                                pf[1 - i].events |= POLLOUT;
                }
                if (!pf[0].events && !pf[1].events)
                        return; /* both directions ended and flushed */
                int n = poll(pf, 2, PROXY_IDLE_TIMEOUT_MS);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return;
                for (int i = 0; i < 2; i++) {
                        short in = pf[i].revents, out = pf[1 - i].revents;
                        if ((pf[i].events & POLLIN) && (in & (POLLIN | POLLHUP | POLLERR)) && !dir_fill(&d[i]))
                                return;
                        if (d[i].len > d[i].off && (out & (POLLOUT | POLLERR | POLLHUP)) && !dir_flush(&d[i]))
                                return;
                }
        }
}

static void conn_relay(struct conn *c, int server, const char *pre, size_t pre_len)
{
        struct dir d[2] = {
                { .from = c->fd, .to = server, .cap = RELAY_BUF_BYTES },
                { .from = server, .to = c->fd, .cap = RELAY_BUF_BYTES },
        };
        if (pre_len > d[0].cap)
                d[0].cap = pre_len;
        d[0].buf = malloc(d[0].cap);
        d[1].buf = malloc(d[1].cap);
        if (d[0].buf && d[1].buf) {
                memcpy(d[0].buf, pre, pre_len);
                d[0].len = pre_len;
                relay(d);
        }
        free(d[0].buf);
        free(d[1].buf);
        c->ev.bytes_up = d[0].bytes;
        c->ev.bytes_down = d[1].bytes;
}

static void conn_handle(struct conn *c)
{
        char head[ZB_PROXY_HEAD_MAX];
        size_t len;
        struct net_proxy_request req;

        if (read_head(c, head, &len, &req) < 0)
                return;
        c->ev.method = req.method;
        c->ev.host = req.host;
        c->ev.port = req.port;
        int rule = net_rules_match(c->px->rules, c->px->n_rules, req.host, req.port);
        if (rule < 0) {
                deny(c, 403, "%s%s%s:%u is not in network.allow", strchr(req.host, ':') ? "[" : "",
                     req.host, strchr(req.host, ':') ? "]" : "", req.port);
        } else {
                snprintf(c->rule, sizeof(c->rule), "network.allow[%d] \"%s\"", rule,
                         c->px->p->net.allow[rule]);
                c->ev.rule = c->rule;
                struct net_addr addrs[PROXY_MAX_ADDRS];
                size_t n_addrs;
                bool from_dns;
                int server = resolve(c, req.host, addrs, &n_addrs, &from_dns) < 0
                                     ? -1
                                     : connect_any(c, &req, addrs, n_addrs, from_dns);
                c->ev.address = server >= 0 ? c->addr : NULL;
                c->ev.decision = "allow";
                /* Fail closed: no connection whose line is not in the log. */
                if (server >= 0 && audit(c, "net") < 0) {
                        close(server);
                        server = -1;
                        deny(c, 502, "cannot write the audit log");
                }
                if (server >= 0) {
                        atomic_fetch_add(&c->px->shared->allowed, 1);
                        static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";
                        if (req.kind == ZB_PROXY_CONNECT) {
                                send_all(c->fd, established, sizeof(established) - 1);
                                conn_relay(c, server, head + req.head_len, len - req.head_len);
                        } else {
                                /* The rewritten head, then what followed it (a body). */
                                char *pre = malloc(req.forward_len + len - req.head_len + 1);
                                if (pre) {
                                        memcpy(pre, req.forward, req.forward_len);
                                        memcpy(pre + req.forward_len, head + req.head_len, len - req.head_len);
                                        conn_relay(c, server, pre, req.forward_len + len - req.head_len);
                                        free(pre);
                                }
                        }
                        close(server);
                        c->ev.closed = true;
                        c->ev.duration_ms = (double)(util_now_ns() - c->start_ns) / 1e6;
                        audit(c, "net_close");
                }
        }
        net_proxy_request_free(&req);
}

static void *conn_main(void *arg)
{
        struct conn *c = arg;
        struct proxy *px = c->px;
        conn_handle(c);
        close(c->fd);
        free(c);
        atomic_fetch_sub(&px->active, 1);
        return NULL;
}

static void conn_start(struct proxy *px, int fd)
{
        struct conn *c = calloc(1, sizeof(*c));
        pthread_attr_t attr;
        pthread_t t;

        if (!c) {
                close(fd);
                return;
        }
        c->px = px;
        c->fd = fd;
        c->id = atomic_fetch_add(&px->seq, 1) + 1;
        c->start_ns = util_now_ns();
        c->ev.pid = px->supervisor;
        c->ev.conn = c->id;
        if (atomic_load(&px->active) >= PROXY_MAX_CONNS) {
                deny(c, 503, "more than %d connections at once", PROXY_MAX_CONNS);
                close(fd);
                free(c);
                return;
        }
        atomic_fetch_add(&px->active, 1);
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, PROXY_THREAD_STACK_BYTES);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, conn_main, c) != 0) {
                atomic_fetch_sub(&px->active, 1);
                deny(c, 503, "cannot start a thread for the connection");
                close(fd);
                free(c);
        }
        pthread_attr_destroy(&attr);
}

/* The listener the sandbox's child sends (SCM_RIGHTS); -1 if none came. */
static int recv_listener(int chan)
{
        char byte;
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                              .msg_controllen = sizeof(u.buf) };
        ssize_t n = recvmsg(chan, &msg, MSG_CMSG_CLOEXEC);
        struct cmsghdr *cm = n == 1 ? CMSG_FIRSTHDR(&msg) : NULL;
        int fd = -1;
        if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
            cm->cmsg_len == CMSG_LEN(sizeof(int)))
                memcpy(&fd, CMSG_DATA(cm), sizeof(int));
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

static _Noreturn void serve(struct proxy *px, int chan, int sig_fd)
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
                                conn_start(px, fd);
                        else if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
                                poll(NULL, 0, 10); /* let connections end */
                }
        }
        if (pf[2].fd >= 0)
                close(pf[2].fd);
        /* The sandbox is gone by now, so connections end at once; give them
         * a moment to write their close lines. */
        uint64_t deadline = util_now_ns() + PROXY_STOP_GRACE_MS * 1000000ull;
        while (atomic_load(&px->active) > 0 && ms_left(deadline) > 0)
                poll(NULL, 0, 5);
        if (px->audit_fd >= 0) {
                pthread_mutex_lock(&px->audit_lock);
                audit_summary(px);
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
static void own_addresses(struct proxy *px)
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
static void confine(struct proxy *px, int ready)
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

static _Noreturn void proxy_main(struct proxy *px, int chan, int ready)
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

static int proxy_build(struct proxy *px, const struct zb_policy *p, struct zb_error *err)
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

static void proxy_release(struct proxy *px)
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
        struct proxy run = { 0 };
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
