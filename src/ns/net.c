/* Network layer: with network none (the default) the sandbox has its own
 * network namespace holding only the loopback device, brought up here; no
 * route leads out, and the host's abstract unix sockets (which belong to the
 * host's network namespace) are unreachable. With network host nothing is
 * done here and the result lists the layer as skipped. Also sets the
 * hostname of the sandbox's UTS namespace.
 *
 * With network.allow the namespace stays the same, and the child adds one
 * thing: a TCP listener on 127.0.0.1:proxy_port, made here inside the
 * sandbox's namespace and sent to the proxy outside (proxy.c), which serves
 * it from the host's namespace. Nothing runs inside for the proxy.
 *
 * With network none the child likewise makes a UDP socket on 127.0.0.1:53
 * and sends it to the supervisor, whose loopback resolver (resolver.c)
 * answers every query REFUSED and records the name. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "ns.h"
#include "proxy.h"
#include "resolver.h"
#include "wire.h"

/* Brings lo up. Returns the UDP socket it asked with: network none's
 * resolver binds that one (ns_resolver_child) instead of a second. */
static int loopback_up(struct ns_ctx *c)
{
        struct ifreq ifr = { 0 };
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                ns_fail(c, 0, errno, "layer net: socket");
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                ns_fail(c, 0, errno, "layer net: get flags of lo");
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                ns_fail(c, 0, errno, "layer net: bring lo up");
        return fd;
}

/* The proxy's listener, inside; sent over c->proxy_fd and closed here, so
 * only the proxy holds it. */
static void proxy_listener(struct ns_ctx *c)
{
        uint16_t port = pol_proxy_port(c->p);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                ns_fail(c, 0, errno, "layer net: proxy listener socket");
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                ns_fail(c, 0, errno, "layer net: bind the proxy listener to 127.0.0.1:%u", port);
        if (listen(fd, 128) < 0)
                ns_fail(c, 0, errno, "layer net: listen on 127.0.0.1:%u", port);

        int r = sess_send_fds(c->proxy_fd, "L", 1, &fd, 1);
        if (r < 0)
                ns_fail(c, 0, -r, "layer net: hand the listener to the proxy");
        close(fd);
        close(c->proxy_fd);
        c->proxy_fd = -1;
}

void ns_net_setup(struct ns_ctx *c)
{
        int udp = c->p->network != ZB_NET_HOST ? loopback_up(c) : -1;
        if (c->proxy_fd >= 0)
                proxy_listener(c);
        ns_resolver_child(&c->dns, udp);
        if (sethostname(c->hostname, strlen(c->hostname)) < 0)
                ns_fail(c, 0, errno, "layer uts: sethostname");
}

int ns_net_prepare(struct ns_ctx *c, struct zb_error *err)
{
        c->proxy = NULL;
        c->proxy_fd = -1;
        if (ns_resolver_wanted(c->p)) {
                ns_resolver_prepare(&c->dns);
                return 0;
        }
        if (!pol_net_allowlist(c->p))
                return 0;
        struct ns_proxy *px = calloc(1, sizeof(*px));
        if (!px)
                return err_set(err, ENOMEM, "layer net: out of memory");
        int r = ns_proxy_start(px, c->p, &c->proxy_fd, err);
        if (r < 0) {
                free(px);
                return r;
        }
        c->proxy = px;
        return 0;
}

void ns_net_after_clone(struct ns_ctx *c)
{
        if (c->proxy_fd >= 0) {
                close(c->proxy_fd);
                c->proxy_fd = -1;
        }
}

void ns_net_finish(struct ns_ctx *c, struct zb_result *r)
{
        struct ns_proxy_counts counts = { 0 };

        ns_resolver_close(&c->dns);
        if (!c->proxy)
                return; /* no allowlist, or already finished */
        ns_net_after_clone(c); /* a failure before clone left the child's end here */
        if (r) { /* the sandbox is gone: no new refusal can come */
                ns_proxy_violations(c->proxy, &r->viol, c->exec_ns, NULL, 0, NULL);
                viol_source(&r->viol, "proxy", "observed");
        }
        ns_proxy_stop(c->proxy, &counts);
        free(c->proxy);
        c->proxy = NULL;
        if (r) {
                r->has_proxy = true;
                r->proxy_allowed = counts.allowed;
                r->proxy_refused = counts.refused;
                r->proxy_failed = counts.failed;
        }
}
