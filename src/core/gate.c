/* The gate: decide, then log, then (maybe) run, then log the outcome.
 *
 * Guarantees: a log the sandbox could write is refused before anything is
 * decided; the decision line is written before zb_gate_enter says the
 * command may start, and a failure to write it is a failure to start; a
 * refused command gets its result line here and never reaches a backend. */
#include "gate.h"

int zb_gate_enter(const struct zb_policy *p, struct zb_gate *g, struct zb_result **denied,
                  struct zb_error *err)
{
        int r;

        *denied = NULL;
        if ((r = zb_audit_check(p, err)) < 0 || (r = zb_approval_decide(p, &g->d, err)) < 0)
                return r;
        zb_audit_new_id(g->id);
        if ((r = zb_audit_decision(p, g->id, &g->d, err)) < 0)
                return r;
        if (g->d.verdict == ZB_VERDICT_ALLOW)
                return 0;
        *denied = zb_approval_denied_result(p, &g->d);
        if (!*denied)
                return zb_error_set(err, ENOMEM, "out of memory");
        zb_audit_result(p, g->id, &g->d, *denied, NULL, NULL);
        return 0;
}

void zb_gate_leave(const struct zb_policy *p, const struct zb_gate *g, const struct zb_result *r,
                   const char *error)
{
        zb_audit_result(p, g->id, &g->d, r, error, NULL);
}
