/* Resource limits set by rlimit: open files, file size, and no core dumps.
 * Soft and hard are set to the same value so the command cannot raise
 * them. An unprivileged process (and root without CAP_SYS_RESOURCE) cannot
 * raise a hard limit, so the supervisor checks the requested values against
 * its own hard limits first and refuses to start rather than fail inside. */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/resource.h>

#include "ns.h"

/* glibc types the resource as an enum under _GNU_SOURCE (int elsewhere);
 * with the enum, -Wconversion has nothing to say about passing it on. */
#ifdef __GLIBC__
typedef __rlimit_resource_t rlimit_res;
#else
typedef int rlimit_res;
#endif

static rlim_t to_rlim(uint64_t v)
{
        return v == ZB_UNLIMITED ? RLIM_INFINITY : (rlim_t)v;
}

static int check_one(rlimit_res res, const char *name, uint64_t want, struct zb_error *err)
{
        struct rlimit cur;
        if (getrlimit(res, &cur) < 0)
                return err_errno(err, errno, "layer rlimits: getrlimit %s", name);
        rlim_t w = to_rlim(want);
        if (cur.rlim_max != RLIM_INFINITY && (w == RLIM_INFINITY || w > cur.rlim_max))
                return err_set(err, EPERM,
                                    "layer rlimits: %s %s is above this process's hard limit %llu",
                                    name, w == RLIM_INFINITY ? "unlimited" : "value",
                                    (unsigned long long)cur.rlim_max);
        return 0;
}

/* RLIMIT_CPU in whole seconds: with a cgroup it is only a backstop behind
 * the supervisor's watch (a second later); without one it is the limit. */
static uint64_t cpu_rlimit_s(const struct pol_limits *l, bool backstop)
{
        uint64_t s = (l->cpu_time_ms + 999) / 1000;
        return backstop ? s + 1 : s;
}

int ns_rlimits_check(const struct zb_policy *p, struct zb_error *err)
{
        const struct pol_limits *l = &p->limits;
        int r = check_one(RLIMIT_NOFILE, "open_files", l->open_files, err);
        if (r == 0 && l->file_size != ZB_UNLIMITED && l->file_size_set)
                r = check_one(RLIMIT_FSIZE, "file_size", l->file_size, err);
        if (r == 0 && l->cpu_time_ms)
                r = check_one(RLIMIT_CPU, "cpu_time", cpu_rlimit_s(l, true) + 1, err);
        if (r == 0 && l->memory && l->allow_unenforced)
                r = check_one(RLIMIT_AS, "memory (fallback)", l->memory, err);
        return r;
}

static void set_one(struct ns_ctx *c, rlimit_res res, const char *name, rlim_t v)
{
        struct rlimit rl = { v, v };
        if (setrlimit(res, &rl) < 0)
                ns_fail(c, 0, errno, "layer rlimits: %s", name);
}

void ns_rlimits_apply(struct ns_ctx *c)
{
        const struct pol_limits *l = &c->p->limits;
        struct rlimit cur;

        set_one(c, RLIMIT_NOFILE, "open_files", to_rlim(l->open_files));
        set_one(c, RLIMIT_CORE, "core", 0);
        if (l->cpu_time_ms) {
                /* SIGXCPU at the soft limit, SIGKILL a second later. */
                struct rlimit rl = { cpu_rlimit_s(l, c->cg_active), cpu_rlimit_s(l, c->cg_active) + 1 };
                if (setrlimit(RLIMIT_CPU, &rl) < 0)
                        ns_fail(c, 0, errno, "layer rlimits: cpu_time");
        }
        /* No cgroup (limits.allow_unenforced): the address space stands in
         * for memory, per process, and pids has no safe stand-in
         * (RLIMIT_NPROC counts every process of the uid on the host). */
        if (c->rlimit_fallback && l->memory)
                set_one(c, RLIMIT_AS, "memory (fallback)", to_rlim(l->memory));
        /* unlimited keeps the inherited hard limit (soft = hard); so does the
         * default where the caller's own hard limit is below it. */
        rlim_t fsize = to_rlim(l->file_size);
        bool inherit = l->file_size == ZB_UNLIMITED || !l->file_size_set;
        if (inherit && getrlimit(RLIMIT_FSIZE, &cur) == 0 && cur.rlim_max < fsize)
                fsize = cur.rlim_max;
        set_one(c, RLIMIT_FSIZE, "file_size", fsize);
}
