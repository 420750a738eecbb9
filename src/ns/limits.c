/* Resource limits set by rlimit: open files, file size, and no core dumps.
 * Soft and hard are set to the same value so the command cannot raise
 * them. An unprivileged process (and root without CAP_SYS_RESOURCE) cannot
 * raise a hard limit, so the supervisor checks the requested values against
 * its own hard limits first and refuses to start rather than fail inside. */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/resource.h>

#include "ns.h"

static rlim_t to_rlim(uint64_t v)
{
        return v == ZB_UNLIMITED ? RLIM_INFINITY : (rlim_t)v;
}

static int check_one(int res, const char *name, uint64_t want, struct zb_error *err)
{
        struct rlimit cur;
        if (getrlimit(res, &cur) < 0)
                return zb_error_errno(err, errno, "layer rlimits: getrlimit %s", name);
        rlim_t w = to_rlim(want);
        if (cur.rlim_max != RLIM_INFINITY && (w == RLIM_INFINITY || w > cur.rlim_max))
                return zb_error_set(err, EPERM,
                                    "layer rlimits: %s %s is above this process's hard limit %llu",
                                    name, w == RLIM_INFINITY ? "unlimited" : "value",
                                    (unsigned long long)cur.rlim_max);
        return 0;
}

int ns_rlimits_check(const struct zb_policy *p, struct zb_error *err)
{
        int r = check_one(RLIMIT_NOFILE, "open_files", p->limits.open_files, err);
        if (r == 0 && p->limits.file_size != ZB_UNLIMITED)
                r = check_one(RLIMIT_FSIZE, "file_size", p->limits.file_size, err);
        return r;
}

static void set_one(struct ns_ctx *c, int res, const char *name, rlim_t v)
{
        struct rlimit rl = { v, v };
        if (setrlimit(res, &rl) < 0)
                ns_fail(c, 0, errno, "layer rlimits: %s", name);
}

void ns_rlimits_apply(struct ns_ctx *c)
{
        const struct zb_limits *l = &c->p->limits;
        struct rlimit cur;

        set_one(c, RLIMIT_NOFILE, "open_files", to_rlim(l->open_files));
        set_one(c, RLIMIT_CORE, "core", 0);
        if (l->file_size != ZB_UNLIMITED) {
                set_one(c, RLIMIT_FSIZE, "file_size", to_rlim(l->file_size));
        } else if (getrlimit(RLIMIT_FSIZE, &cur) == 0) {
                /* Keep the inherited value but make soft = hard. */
                set_one(c, RLIMIT_FSIZE, "file_size", cur.rlim_max);
        }
}
