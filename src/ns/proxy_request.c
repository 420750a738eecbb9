/* The proxy's request parser: one HTTP/1.x request head from the sandbox,
 * CONNECT host:port or an absolute-form http:// request, into a host, a
 * port and (for http://) the origin-form head to send on. Pure code, the
 * most hostile input the proxy reads: fuzzed by tests/fuzz/fuzz_proxy.c.
 *
 * What it guarantees: a head is read only up to its blank line and only
 * when every line ends in CRLF (no NUL, bare CR or bare LF, so no request
 * smuggling past it); the host is normalized as the allowlist's matcher
 * wants it (src/core/allowlist.c), so the name checked is the name
 * connected to; hop-by-hop and Proxy-* headers are not passed on. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../core/util.h"
#include "proxy.h"

/* ------------------------------------------------------------ request heads */

static int refuse(struct net_proxy_request *req, int status, const char *why)
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
                return refuse(req, 400, "user@host is not allowed in a proxy request");
        if (n > 0 && a[0] == '[') {
                const char *close = memchr(a, ']', n);
                if (!close || !net_ip_bracketed(a, (size_t)(close - a) + 1, &ip))
                        return refuse(req, 400, "bad [IPv6] address");
                hn = (size_t)(close - a) + 1;
                if (hn < n && a[hn] != ':')
                        return refuse(req, 400, "bad host:port");
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
                        return refuse(req, 400, "bad host name");
                memcpy(buf, a, hn);
                buf[hn] = '\0';
                if (net_ip_literal(buf, &ip) && ip.family == AF_INET)
                        net_addr_str(&ip, req->host, sizeof(req->host));
                else if (!net_name_normalize(a, hn, req->host))
                        return refuse(req, 400, "bad host name");
                else if (strspn(req->host, "0123456789.") == strlen(req->host))
                        return refuse(req, 400, "not a valid IPv4 address (dotted decimal only)");
        }
        if (port && !net_port_parse(port, (size_t)(a + n - port), &req->port))
                return refuse(req, 400, "bad port (1-65535)");
        if (!port && need_port)
                return refuse(req, 400, "CONNECT needs host:port");
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

static int forward_append(struct net_proxy_request *req, size_t *cap, const char *s, size_t n)
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
static int rewrite_origin_form(struct net_proxy_request *req, const char *path, size_t path_len,
                   const char *version, const char *hdrs, const char *end)
{
        size_t cap = 0;
        char line[ZB_NET_NAME_MAX + 64];
        bool v6 = strchr(req->host, ':') != NULL;
        int e = 0;

        e |= forward_append(req, &cap, req->method, strlen(req->method));
        e |= forward_append(req, &cap, " ", 1);
        if (path_len == 0 || path[0] != '/')
                e |= forward_append(req, &cap, "/", 1);
        e |= forward_append(req, &cap, path, path_len);
        int n = snprintf(line, sizeof(line), " %s\r\nHost: %s%s%s", version, v6 ? "[" : "", req->host,
                         v6 ? "]" : "");
        e |= forward_append(req, &cap, line, (size_t)n);
        if (req->port != 80) {
                n = snprintf(line, sizeof(line), ":%u", req->port);
                e |= forward_append(req, &cap, line, (size_t)n);
        }
        e |= forward_append(req, &cap, "\r\n", 2);
        for (const char *h = hdrs; h < end;) {
                const char *eol = memmem(h, (size_t)(end - h), "\r\n", 2);
                const char *colon = memchr(h, ':', (size_t)(eol - h));
                if (h[0] == ' ' || h[0] == '\t')
                        return refuse(req, 400, "folded header lines are not allowed");
                if (!colon || colon == h)
                        return refuse(req, 400, "bad header line");
                for (const char *c = h; c < colon; c++)
                        if (!is_token_char(*c))
                                return refuse(req, 400, "bad header name");
                if (!hop_header(h, (size_t)(colon - h)))
                        e |= forward_append(req, &cap, h, (size_t)(eol - h) + 2);
                h = eol + 2;
        }
        e |= forward_append(req, &cap, "Connection: close\r\n\r\n", 21);
        return e ? refuse(req, 503, "out of memory") : 0;
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
                return refuse(req, 400, "NUL, bare CR or bare LF in the request head");
        const char *eol = memmem(buf, req->head_len, "\r\n", 2);
        const char *sp1 = memchr(buf, ' ', (size_t)(eol - buf));
        const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
        if (!sp1 || !sp2 || sp1 == buf || sp2 == sp1 + 1)
                return refuse(req, 400, "bad request line (METHOD TARGET HTTP/1.1)");
        size_t ml = (size_t)(sp1 - buf);
        if (ml >= sizeof(req->method))
                return refuse(req, 405, "unknown method");
        for (size_t i = 0; i < ml; i++)
                if (!is_token_char(buf[i]))
                        return refuse(req, 400, "bad method");
        memcpy(req->method, buf, ml);
        char version[16];
        size_t vl = (size_t)(eol - sp2 - 1);
        if (vl != 8 || (memcmp(sp2 + 1, "HTTP/1.1", 8) != 0 && memcmp(sp2 + 1, "HTTP/1.0", 8) != 0))
                return refuse(req, 400, "only HTTP/1.0 and HTTP/1.1 requests");
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
                return refuse(req, 405, "method not supported (GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, CONNECT)");
        if (tl >= 8 && strncasecmp(t, "https://", 8) == 0)
                return refuse(req, 400, "https:// URLs go through CONNECT (set HTTPS_PROXY)");
        if (tl < 7 || strncasecmp(t, "http://", 7) != 0)
                return refuse(req, 400, "not a proxy request: the target must be http://host/path, or use CONNECT host:port");
        const char *auth = t + 7;
        /* The head is not NUL-terminated: scan only up to the target's end. */
        size_t al = 0;
        while (auth + al < sp2 && auth[al] != '/' && auth[al] != '?' && auth[al] != '#')
                al++;
        int e = parse_authority(auth, al, false, req);
        if (e)
                return e;
        return rewrite_origin_form(req, auth + al, (size_t)(sp2 - auth) - al, version, eol + 2, end + 2);
}

void net_proxy_request_free(struct net_proxy_request *req)
{
        free(req->forward);
        req->forward = NULL;
}
