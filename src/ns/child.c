/* The sandbox side of a run, top to bottom. This process was cloned into
 * new user, mount, pid, ipc, uts (and net) namespaces and is PID 1 there.
 * Order matters: the v1 cgroups first (all that follows counts against the
 * limits), ids before mounts (tmpfs ownership), the death signal after
 * the id change (which clears it), mounts before the command, capabilities
 * dropped by init just before it forks the command. */
#define _GNU_SOURCE
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <sys/prctl.h>

#include "cgroup.h"
#include "cow.h"
#include "ns.h"

_Noreturn void ns_fail(struct ns_ctx *c, int kind, int err, const char *fmt, ...)
{
        struct ns_report rep = { .kind = kind, .err = err };
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rep.msg, sizeof(rep.msg), fmt, ap);
        va_end(ap);
        if (c->setup_fd >= 0) {
                ssize_t n = write(c->setup_fd, &rep, sizeof(rep));
                (void)n;
        }
        _exit(kind == ZB_SETUP_NOT_FOUND ? 127 : kind == ZB_SETUP_NOT_EXEC ? 126 : 125);
}

static void wait_for_maps(struct ns_ctx *c)
{
        char b;
        ssize_t n;
        do
                n = read(c->go_fd, &b, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1)
                _exit(125); /* the supervisor is gone: nothing to report to */
}

static void die_with_supervisor(struct ns_ctx *c)
{
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
                ns_fail(c, 0, errno, "layer pid: set parent death signal");
        /* The supervisor may have died before the line above: it holds the
         * go pipe open for the whole run, so a hang-up means it is gone. */
        struct pollfd pfd = { .fd = c->go_fd, .events = POLLIN };
        if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR)))
                _exit(125);
}

/* Before anything else, so that everything after — and the command,
 * forked by init much later — counts against the limits. */
static void enter_cgroup(struct ns_ctx *c)
{
        const char *dir = "";
        int r = c->cg ? ns_cgroup_enter(c->cg, &dir) : 0;
        if (r < 0)
                ns_fail(c, 0, -r, "layer resources: cannot place the sandbox in %s", dir);
}

_Noreturn void ns_child_main(struct ns_ctx *c)
{
        enter_cgroup(c);
        ns_zones_open_child(c); /* an ordinary invoker's zones, and the cow */
        ns_cow_open_layers(c); /* layers: before the child takes the sandbox's ids */
        ns_image_open_layers(c); /* the image's too: the store may be 0700 */
        wait_for_maps(c);
        ns_ids_enter(c);
        die_with_supervisor(c);
        /* Now, not at clone: the cgroup namespace's root is the cgroup this
         * process is in once the supervisor has placed it. */
        if (unshare(CLONE_NEWCGROUP) < 0)
                ns_fail(c, 0, errno, "layer cgroupns: unshare");
        ns_mounts_build(c);
        ns_net_setup(c);
        ns_init_run(c);
}
