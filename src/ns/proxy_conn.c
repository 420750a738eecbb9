/* One connection through the network.allow proxy, on a thread of its own
 * in the proxy process (proxy.c accepts): read one request head
 * (proxy_request.c parses it), match it against the allowlist, resolve the
 * name (network.hosts first; a name from DNS may not lead to an internal
 * address or to this host's own), connect, write the audit line, then
 * relay bytes both ways until both ends are done or the idle timeout.
 *
 * What it guarantees: no connection out unless its host:port is allowed and
 * its audit line is written (fail closed: 502 when the log cannot be
 * written); every refusal is a status with a one-line reason, counted, and
 * logged within a rate limit that sums up the rest in one line; each step
 * is bounded in time and bytes. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>

#include "../core/audit.h"
#include "../core/policy.h"
#include "proxy_int.h"

#define PROXY_MAX_CONNS 128
#define PROXY_HEAD_TIMEOUT_MS 10000
#define PROXY_CONNECT_TIMEOUT_MS 10000
#define PROXY_IDLE_TIMEOUT_MS 300000
#define PROXY_MAX_ADDRS 16
#define RELAY_BUF_BYTES 262144
#define PROXY_THREAD_STACK_BYTES ((size_t)512 * 1024)
/* Refusals the audit log takes: a burst of 20 lines, then 5 a second; the
 * rest are counted and summed up in one "net_suppressed" line. */
#define AUDIT_DENY_BURST 20
#define AUDIT_DENY_INTERVAL_NS 200000000ull

struct conn {
        struct proxy_process *px;
        int fd;
        uint64_t id;
        uint64_t start_ns;
        struct audit_net ev;
        char rule[320];
        char reason[512];
        char addr[INET6_ADDRSTRLEN];
};

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
                if (poll(&pf, 1, (int)proxy_ms_left(deadline)) <= 0 || recv(fd, sink, sizeof(sink), 0) <= 0)
                        break;
        }
}

/* PX->audit_lock held (proxy_int.h). */
void proxy_audit_summary(struct proxy_process *px)
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
static bool audit_deny_allowed(struct proxy_process *px)
{
        uint64_t now = util_now_ns();
        bool ok;
        pthread_mutex_lock(&px->audit_lock);
        if (px->audit_tat_ns < now)
                px->audit_tat_ns = now;
        ok = px->audit_tat_ns - now <= (uint64_t)AUDIT_DENY_BURST * AUDIT_DENY_INTERVAL_NS;
        if (ok) {
                px->audit_tat_ns += AUDIT_DENY_INTERVAL_NS;
                proxy_audit_summary(px);
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

/* A 403 into the shared table of distinct refusals (proxy.h): the
 * supervisor turns it into the verdict's violations. The threads share
 * the slots under audit_lock; a new slot is published last. */
static void record_refusal(struct conn *c)
{
        struct ns_proxy_shared_counts *sh = c->px->shared;
        char target[sizeof(sh->refusals[0].target)];
        if (!c->ev.host)
                return;
        bool v6 = strchr(c->ev.host, ':') != NULL;
        snprintf(target, sizeof(target), "%s%s%s:%u", v6 ? "[" : "", c->ev.host, v6 ? "]" : "", c->ev.port);
        pthread_mutex_lock(&c->px->audit_lock);
        uint32_t n = atomic_load_explicit(&sh->n_refused_slots, memory_order_relaxed);
        uint32_t i = 0;
        while (i < n && strcmp(sh->refusals[i].target, target) != 0)
                i++;
        if (i < n) {
                atomic_fetch_add(&sh->refusals[i].count, 1);
        } else if (n < NS_PROXY_MAX_REFUSALS) {
                struct ns_proxy_refusal *s = &sh->refusals[n];
                memcpy(s->target, target, sizeof(target));
                s->internal = c->rule[0] != '\0'; /* an allow rule matched: the address was refused */
                s->first_ns = util_now_ns();
                atomic_store(&s->count, 1);
                atomic_store_explicit(&sh->n_refused_slots, n + 1, memory_order_release);
        } else {
                atomic_fetch_add(&sh->refusals_unlisted, 1);
        }
        pthread_mutex_unlock(&c->px->audit_lock);
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
        if (status == 403)
                record_refusal(c);
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
                int n = poll(&pf, 1, (int)proxy_ms_left(deadline));
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
                        if (net_addr_eq(&c->px->own[k], &a))
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
                        dup |= net_addr_eq(&out[k], &a);
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
        return net_addr_eq(&me, dst);
}

/* Connect to the first address that answers, within the time limit.
 * FROM_DNS: the addresses came from DNS (not a literal or a pin). */
static int connect_any(struct conn *c, const struct net_proxy_request *req,
                       const struct net_addr *addrs, size_t n, bool from_dns)
{
        uint64_t deadline = util_now_ns() + PROXY_CONNECT_TIMEOUT_MS * 1000000ull;
        int err = ETIMEDOUT;

        for (size_t i = 0; i < n && proxy_ms_left(deadline) > 0; i++) {
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
                        up = poll(&pf, 1, (int)proxy_ms_left(deadline)) == 1 &&
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

struct direction {
        int from, to;
        char *buf;
        size_t cap, len, off;
        bool eof, shut;
        uint64_t bytes;
};

static bool direction_flush(struct direction *d)
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

static bool direction_fill(struct direction *d)
{
        ssize_t r = recv(d->from, d->buf, d->cap, 0);
        if (r < 0)
                return errno == EAGAIN || errno == EINTR;
        if (r == 0)
                d->eof = true;
        d->len = (size_t)r;
        d->off = 0;
        return direction_flush(d);
}

/* Both ways until both ends are done, an error, or the idle timeout. D[0]
 * (client → server) may start with bytes already read. */
static void relay(struct direction d[2])
{
        fcntl(d[0].from, F_SETFL, fcntl(d[0].from, F_GETFL) | O_NONBLOCK);
        fcntl(d[0].to, F_SETFL, fcntl(d[0].to, F_GETFL) | O_NONBLOCK);
        if (!direction_flush(&d[0]))
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
                        if ((pf[i].events & POLLIN) && (in & (POLLIN | POLLHUP | POLLERR)) && !direction_fill(&d[i]))
                                return;
                        if (d[i].len > d[i].off && (out & (POLLOUT | POLLERR | POLLHUP)) && !direction_flush(&d[i]))
                                return;
                }
        }
}

static void conn_relay(struct conn *c, int server, const char *pre, size_t pre_len)
{
        struct direction d[2] = {
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
        struct proxy_process *px = c->px;
        conn_handle(c);
        close(c->fd);
        free(c);
        atomic_fetch_sub(&px->active, 1);
        return NULL;
}

void proxy_conn_start(struct proxy_process *px, int fd)
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
