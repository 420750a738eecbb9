/* The supervisor's half of the syscall and file-access layers: decide,
 * before clone, what the command will be confined by. The seccomp program
 * is built here (libseccomp allocates; the cloned child must not). The
 * Landlock ruleset needs the paths as the command sees them, so only their
 * list is made here; init builds the ruleset after pivot_root and the
 * command enforces it (init.c). */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "ns.h"
#include "seccomp.h"

static void ll_add(struct ns_ctx *c, const char *path, enum ns_ll_access access, bool optional)
{
        if (c->n_ll_paths < NS_MAX_LL_PATHS)
                c->ll_paths[c->n_ll_paths++] = (struct ns_ll_path){ path, access, optional };
}

/* Read and execute the system dirs and ro zones; write only zones, /dev/shm,
 * /tmp, the home dir and a few devices; /proc as proc itself decides. The
 * root gets names only: a wrong mount somewhere below is listed, never read. */
static void landlock_paths(struct ns_ctx *c)
{
        static const char *const devices[] = { "/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                               "/dev/urandom", "/dev/tty", "/dev/pts" };
        const struct zb_policy *p = c->p;

        ll_add(c, "/", p->rootfs || p->n_image_layers ? ZB_LL_READ_EXEC : ZB_LL_LIST, false);
        ll_add(c, "/etc", ZB_LL_READ_EXEC, true);
        for (size_t i = 0; i < c->n_binds; i++)
                if (!c->binds[i].is_link && !c->binds[i].is_file)
                        ll_add(c, c->binds[i].dst, ZB_LL_READ_EXEC, true);
        ll_add(c, "/proc", ZB_LL_READ_WRITE, false);
        for (size_t i = 0; i < ARRAY_SIZE(devices); i++)
                ll_add(c, devices[i], ZB_LL_DEVICE_RW, true);
        ll_add(c, "/dev/shm", ZB_LL_READ_WRITE, false);
        if (p->tmp_size) {
                ll_add(c, "/tmp", ZB_LL_READ_WRITE, false);
                ll_add(c, ZB_HOME_DIR, ZB_LL_READ_WRITE, false);
        }
        for (size_t i = 0; i < p->n_zones; i++)
                ll_add(c, p->zones[i].path,
                       p->zones[i].mode == ZB_ZONE_RO ? ZB_LL_READ_EXEC : ZB_LL_READ_WRITE, false);
}

int ns_security_prepare(struct ns_ctx *c, struct zb_result *r, struct zb_error *err)
{
        const struct pol_security *s = &c->p->security;

        c->ll_fd = -1;
        if (s->landlock != ZB_LANDLOCK_OFF) {
                int abi = ns_landlock_abi();
                if (abi < 0) /* the query failed: not the same as "no Landlock" */
                        return err_set(err, -abi, "layer landlock: cannot query the kernel's Landlock ABI: %s",
                                            strerror(-abi));
                if (abi > 0) {
                        c->landlock = true;
                        landlock_paths(c);
                        res_layer(r, "landlock", true);
                        /* Before ABI 6 the abstract-socket and signal scopes
                         * do not exist: said, never silent (landlock.c). */
                        if (abi < 6)
                                res_layer(r, "landlock_scopes", false);
                } else if (s->landlock == ZB_LANDLOCK_REQUIRED) {
                        return err_set(err, ENOTSUP,
                                            "layer landlock: required (security.landlock), but this kernel has no Landlock (not built in, or not in the lsm= boot list)");
                } else {
                        res_layer(r, "landlock", false);
                }
        }
        if (s->seccomp && strcmp(s->seccomp, "unconfined") == 0) {
                res_layer(r, "seccomp", false);
                return 0;
        }
        struct ns_seccomp_spec spec = {
                .profile = s->seccomp,
                .allow = (const char *const *)s->seccomp_allow,
                .n_allow = s->n_seccomp_allow,
                .deny = (const char *const *)s->seccomp_deny,
                .n_deny = s->n_seccomp_deny,
        };
        int ret = ns_seccomp_build(&spec, &c->seccomp, err);
        if (ret < 0)
                return ret;
        res_layer(r, "seccomp", true);
        return 0;
}

void ns_security_release(struct ns_ctx *c)
{
        ns_seccomp_free(&c->seccomp);
}
