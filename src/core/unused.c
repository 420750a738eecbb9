/* Settings the chosen backend or mode does not use: never dropped
 * silently. What each backend does with each key is keytab.c's table;
 * here are the table's warnings for one backend plus the settings that
 * mean nothing without another (cow_dir without a cow zone, audit.fsync
 * without audit.log, ...). The namespace and wasm backends put them in the
 * result (the CLI prints them on stderr); the engines and export in their
 * notes, where strict turns them into errors. */
#define _GNU_SOURCE
#include <stdio.h>

#include "keytab.h"
#include "policy.h"
#include "result.h"

static bool has_cow(const struct zb_policy *p)
{
        for (size_t i = 0; i < p->n_zones; i++)
                if (p->zones[i].mode == ZB_ZONE_COW)
                        return true;
        return false;
}

/* Backend B uses KEY when it is given (its cell says honour). */
static bool honours(const char *key, enum pol_backend b)
{
        const struct kt_row *r = kt_find(key);
        return r && r->cell[b].outcome == KT_HONOUR;
}

/* A key given without the key it needs. */
static void dependencies(const struct zb_policy *p, enum pol_backend b,
                         void (*fn)(void *ctx, const char *line), void *ctx)
{
        if (!has_cow(p) && (p->cow.dir || p->cow.action != ZB_COW_KEEP) && honours("cow_dir", b))
                fn(ctx, "cow_dir, cow_action: no cow zone; ignored");
        if (p->idle_timeout_ms && !p->session && honours("session.idle_timeout", b))
                fn(ctx, "session.idle_timeout: only a session (zonebox session start) has one; ignored");
        if (p->audit.fsync && !p->audit.log && honours("audit.fsync", b))
                fn(ctx, "audit.fsync: no audit.log; ignored");
        if (p->limits.output_kill && !p->capture && !p->limits.output_set && honours("limits.output_action", b))
                fn(ctx, "limits.output_action: kill, but pass-through output is capped only when limits.output (--output-limit) is given; ignored");
        if (b == ZB_BACKEND_WASM && p->wasm.runtime_set && p->engine.runtime[0])
                fn(ctx, "runtime: wasm.runtime (--wasm-runtime) names the WASI runtime; ignored");
        if (p->approval.timeout_ms && !p->approval.command && honours("approval.timeout", b))
                fn(ctx, "approval.timeout: only the approver program (approval.command) has one; ignored");
}

void pol_unused_each(const struct zb_policy *p, enum pol_backend b, bool export,
                     void (*fn)(void *ctx, const char *line), void *ctx)
{
        kt_warn(p, b, export, fn, ctx);
        if (!export)
                dependencies(p, b, fn, ctx);
}

static void to_result(void *ctx, const char *msg)
{
        struct zb_result *r = ctx;
        char *w = r->warnings ? util_asprintf("%s%s\n", r->warnings, msg) : util_asprintf("%s\n", msg);
        if (w) {
                free(r->warnings);
                r->warnings = w;
        }
}

void pol_unused(const struct zb_policy *p, enum pol_backend b, struct zb_result *r)
{
        pol_unused_each(p, b, false, to_result, r);
}

const char *zb_result_warnings(const struct zb_result *r)
{
        return r->warnings;
}
