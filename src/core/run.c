/* zb_run: validate once, then hand the policy to its backend. */
#include "../ns/cgroup.h"
#include "../ns/ns.h"
#include "policy.h"
#include "result.h"

int zb_run(const struct zb_policy *p, struct zb_result **out, struct zb_error *err)
{
        struct zb_result *r;
        int ret;

        *out = NULL;
        ret = zb_policy_validate(p, err);
        if (ret < 0)
                return ret;
        if (p->backend != ZB_BACKEND_NAMESPACE)
                return zb_error_set(err, ENOTSUP,
                                    "backend: only 'namespace' is available in this build");
        r = zb_result_new("namespace");
        if (!r)
                return zb_error_set(err, ENOMEM, "out of memory");
        ret = zb_ns_run(p, r, err);
        if (ret < 0) {
                zb_result_free(r);
                return ret;
        }
        *out = r;
        return 0;
}

int zb_gc(const char *cgroup_parent, unsigned *removed, struct zb_error *err)
{
        if (cgroup_parent && (!cgroup_parent[0] || strstr(cgroup_parent, "..")))
                return zb_error_set(err, EINVAL, "--cgroup-parent: '%s' is not a cgroup path",
                                    cgroup_parent);
        return ns_cgroup_gc(cgroup_parent, removed, err);
}
