/* Network layer: with network none (the default) the sandbox has its own
 * network namespace holding only the loopback device, brought up here; no
 * route leads out, and the host's abstract unix sockets (which belong to the
 * host's network namespace) are unreachable. With network host nothing is
 * done here and the result lists the layer as skipped. Also sets the
 * hostname of the sandbox's UTS namespace. */
#define _GNU_SOURCE
#include <net/if.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "ns.h"

static void loopback_up(struct ns_ctx *c)
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
        close(fd);
}

void ns_net_setup(struct ns_ctx *c)
{
        if (c->p->network != ZB_NET_HOST)
                loopback_up(c);
        if (sethostname(c->hostname, strlen(c->hostname)) < 0)
                ns_fail(c, 0, errno, "layer uts: sethostname");
}

int ns_net_prepare(struct ns_ctx *c, struct zb_error *err)
{
        (void)err;
        c->proxy = NULL;
        c->proxy_fd = -1;
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
        (void)c;
        (void)r;
}
