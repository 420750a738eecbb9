/* The run dispatcher, the one layer above both backends: zb_run validates
 * once, decides whether the command may run and logs that, then hands the
 * policy to its backend (ns/, engines/, or wasm/, which runs a WASI
 * runtime inside the namespace sandbox) and logs the outcome. A refused
 * command never reaches a backend: no namespace, no cgroup, no mount.
 * zb_gc removes what killed supervisors left. Nothing below includes this
 * directory: core/ is pure, ns/ and engines/ build on core/ only. */
#include "../core/events.h"
#include "../core/gate.h"
#include "../core/policy.h"
#include "../core/result.h"
#include "../engines/engines.h"
#include "../ns/cgroup.h"
#include "../ns/ns.h"
#include "../ns/quota.h"
#include "../wasm/wasm.h"

/* What an engine's verdict cannot say it stopped: the engine's runtime
 * enforces its own seccomp profile, mounts and network, and tells zonebox
 * nothing about the attempts it refused. */
static void engine_sources(struct zb_result *r)
{
        static const char *const unseen[] = { "seccomp", "filesystem", "network" };
        for (size_t i = 0; i < ARRAY_SIZE(unseen); i++)
                viol_source(&r->viol, unseen[i],
                            "not observable: the engine's runtime enforces it and reports no denials");
}

static int run_backend(const struct zb_policy *p, struct zb_events *ev, struct zb_result **out,
                       struct zb_error *err)
{
        struct zb_result *r;
        int ret;

        if (p->backend == ZB_BACKEND_DOCKER || p->backend == ZB_BACKEND_OCI) {
                ret = eng_run(p, out, err); /* src/engines/ */
                if (ret == 0 && *out)
                        engine_sources(*out);
                return ret;
        }
        if (p->backend == ZB_BACKEND_WASM)
                return wasm_run(p, out, err); /* src/wasm/: the runtime inside the namespace sandbox */
        if (p->backend != ZB_BACKEND_NAMESPACE)
                return err_set(err, ENOTSUP,
                                    "backend: kubernetes: zonebox does not submit to a cluster; use zonebox export kubernetes and kubectl apply");
        r = res_new(pol_backend_name(ZB_BACKEND_NAMESPACE));
        if (!r)
                return err_set(err, ENOMEM, "out of memory");
        pol_unused(p, ZB_BACKEND_NAMESPACE, r);
        events_watch(ev, r); /* the sources' entries, live */
        ret = ns_run_policy(p, r, err);
        if (ret < 0) {
                zb_result_free(r);
                return ret;
        }
        *out = r;
        return 0;
}

int zb_run(const struct zb_policy *p, struct zb_result **out, struct zb_error *err)
{
        struct gate g;
        int ret;

        *out = NULL;
        ret = zb_policy_validate(p, err);
        if (ret == 0)
                ret = pol_image_check_resolved(p, err);
        if (ret < 0)
                return ret;
        if (p->check_canary) { /* zonebox check runs its own probes, not a user's command */
                struct zb_events none = { .fd = -1 };
                ret = run_backend(p, &none, out, err);
                if (ret == 0 && *out)
                        res_viol_limits(p, *out);
                return ret;
        }
        /* The stream is opened (and a bad one refused) before anything is
         * decided or started; its lines share the audit log's run id. */
        struct zb_events ev = { .fd = -1 };
        ret = events_open(p, &ev, err);
        if (ret < 0)
                return ret;
        /* Approval and the decision's audit line, before anything starts. */
        ret = gate_enter(p, &g, out, err);
        if (ret < 0 || *out) {
                if (*out) {
                        memcpy(ev.id, g.id, sizeof(ev.id));
                        events_emit(&ev, p, "end", &g.d, *out, NULL);
                }
                events_close(&ev);
                return ret;
        }
        memcpy(ev.id, g.id, sizeof(ev.id));
        events_emit(&ev, p, "start", &g.d, NULL, NULL);
        ret = run_backend(p, &ev, out, err);
        if (ret == 0 && *out) {
                events_watch(&ev, *out);
                res_viol_limits(p, *out);
                (*out)->viol.on_new = NULL;
        }
        gate_leave(p, &g, *out, ret < 0 && err ? err->message : "zonebox failed");
        events_emit(&ev, p, "end", &g.d, *out, ret < 0 && err ? err->message : NULL);
        events_close(&ev);
        return ret;
}

int zb_gc(const char *cgroup_parent, unsigned *removed, struct zb_error *err)
{
        if (cgroup_parent && (!cgroup_parent[0] || strstr(cgroup_parent, "..")))
                return err_set(err, EINVAL, "--cgroup-parent: '%s' is not a cgroup path",
                                    cgroup_parent);
        if (geteuid() == 0)
                ns_quota_gc(NULL); /* zone size caps of killed supervisors (quota.c) */
        wasm_gc();                 /* their private module dirs (src/wasm/run.c) */
        eng_gc_run_dirs(NULL);     /* their engine run dirs (src/engines/util.c) */
        return ns_cgroup_gc(cgroup_parent, removed, err);
}
