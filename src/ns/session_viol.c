/* One exec's violations in a session (issue 16). The session's sources
 * (the supervisor's notifiers, resolver, limits) record into the session's
 * own set for its whole life; an exec's result gets what was added while it
 * ran, by the counts each entry had when it began. Commands run side by
 * side in one session share the sandbox: each result then also lists what
 * the others did meanwhile (the set cannot tell whose process it was). */
#define _GNU_SOURCE

#include "cgroup.h"
#include "session_int.h"

void sess_viol_begin(struct sess_daemon *s, struct sess_client *c)
{
        const struct viol_set *v = s->r ? &s->r->viol : NULL;
        c->viol_base_n = v ? v->n : 0;
        for (size_t i = 0; i < c->viol_base_n; i++)
                c->viol_base[i] = v->v[i].count;
        c->viol_dropped_base = v ? v->dropped : 0;
        c->pids_base = s->cg ? ns_cgroup_pids_max_events(s->cg) : 0;
        memset(c->refusal_base, 0, sizeof(c->refusal_base));
        ns_proxy_violations(s->proxy, NULL, 0, NULL, 0, c->refusal_base);
}

void sess_viol_end(struct sess_daemon *s, struct sess_client *c, struct zb_result *r, uint64_t start)
{
        const struct viol_set *v = s->r ? &s->r->viol : NULL;
        double shift = start > s->ready_ns ? (double)(start - s->ready_ns) / 1e6 : 0;
        for (size_t i = 0; v && i < v->n; i++) {
                const struct viol *e = &v->v[i];
                uint64_t base = i < c->viol_base_n ? c->viol_base[i] : 0;
                if (e->count <= base)
                        continue;
                /* An entry older than this exec: when it came back is unknown. */
                double at = i < c->viol_base_n || e->first_ms < 0 ? -1 : e->first_ms - shift;
                viol_add(&r->viol, e->layer, e->operation, e->target, strlen(e->target), e->rule, e->hint,
                         e->count - base, at < 0 ? -1 : at);
        }
        if (v) {
                r->viol.dropped += v->dropped - c->viol_dropped_base;
                for (size_t i = 0; i < v->n_sources; i++)
                        viol_source(&r->viol, v->sources[i].name, v->sources[i].state);
        }
        if (s->proxy) {
                ns_proxy_violations(s->proxy, &r->viol, start, c->refusal_base, NS_PROXY_SNAP_N, NULL);
                viol_source(&r->viol, "proxy", "observed");
        }
        uint64_t pids = s->cg ? ns_cgroup_pids_max_events(s->cg) : 0;
        r->pids_max_events = pids > c->pids_base ? pids - c->pids_base : 0;
        res_viol_limits(&c->q, r);
}
