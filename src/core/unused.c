/* Settings the chosen backend or mode does not use: never dropped
 * silently. The namespace backend reports them as warnings in the result
 * (and the CLI on stderr); export reports the run-time-only ones (approval,
 * audit, output caps, cow actions) as the engine's warnings. */
#define _GNU_SOURCE
#include <stdio.h>

#include "policy.h"
#include "result.h"

static void warn(struct zb_result *r, const char *msg)
{
        char *w = r->warnings ? util_asprintf("%s%s\n", r->warnings, msg) : util_asprintf("%s\n", msg);
        if (w) {
                free(r->warnings);
                r->warnings = w;
        }
}

static bool has_cow(const struct zb_policy *p)
{
        for (size_t i = 0; i < p->n_zones; i++)
                if (p->zones[i].mode == ZB_ZONE_COW)
                        return true;
        return false;
}

void pol_unused(const struct zb_policy *p, struct zb_result *r)
{
        const struct pol_engine *e = &p->engine;
        if (e->runtime[0])
                warn(r, "runtime: only the docker and oci backends use a runtime; ignored");
        if (e->cli[0])
                warn(r, "engine_cli: only the docker backend uses it; ignored");
        if (e->runsc_platform[0])
                warn(r, "engine.runsc.platform: only the oci backend with runtime runsc uses it; ignored");
        if (e->k8s_kind != ZB_K8S_POD || e->k8s_host_zones != ZB_K8S_VOL_PVC)
                warn(r, "kubernetes.*: only zonebox export kubernetes uses them; ignored");
        if (!has_cow(p) && (p->cow.dir || p->cow.action != ZB_COW_KEEP))
                warn(r, "cow_dir, cow_action: no cow zone; ignored");
        if (p->idle_timeout_ms && !p->session)
                warn(r, "session.idle_timeout: only a session (zonebox session start) has one; ignored");
        if (p->audit.fsync && !p->audit.log)
                warn(r, "audit.fsync: no audit.log; ignored");
        if (p->limits.output_kill && !p->capture && !p->limits.output_set)
                warn(r, "limits.output_action: kill, but pass-through output is capped only when limits.output (--output-limit) is given; ignored");
        if (p->approval.timeout_ms && !p->approval.command)
                warn(r, "approval.timeout: only the approver program (approval.command) has one; ignored");
}

/* What only zonebox run does, for an export. */
const char *const *pol_run_only(const struct zb_policy *p, size_t *n)
{
        static const char *out[6];
        *n = 0;
        if (p->approval.configured)
                out[(*n)++] = "approval: decided by zonebox run before it starts the engine; an exported invocation runs any command";
        if (p->audit.log)
                out[(*n)++] = "audit.log: written by zonebox run; an exported invocation logs nothing";
        if (p->audit.events)
                out[(*n)++] = "audit.events: written by zonebox run; an exported invocation streams nothing";
        if (p->limits.output_set)
                out[(*n)++] = "limits.output: enforced by zonebox run (it reads the output); an exported invocation has no output cap";
        if (p->limits.output_kill)
                out[(*n)++] = "limits.output_action: enforced by zonebox run; ignored in an export";
        if (p->idle_timeout_ms)
                out[(*n)++] = "session.idle_timeout: sessions exist only in the namespace backend";
        if (p->engine.runsc_platform[0])
                out[(*n)++] = "engine.runsc.platform: a flag of runsc itself, which zonebox run passes; not in an exported bundle or line";
        return out;
}

const char *zb_result_warnings(const struct zb_result *r)
{
        return r->warnings;
}
