/* The gate: decide, then log, then (maybe) run, then log the outcome.
 *
 * Guarantees: a log the sandbox could write is refused before anything is
 * decided; the decision line is written before gate_enter says the
 * command may start, and a failure to write it is a failure to start; a
 * refused command gets its result line here and never reaches a backend. */
#include "gate.h"

int gate_enter(const struct zb_policy *p, struct gate *g, struct zb_result **denied,
                  struct zb_error *err)
{
        int r;

        *denied = NULL;
        if ((r = audit_check(p, err)) < 0 || (r = appr_decide(p, &g->d, err)) < 0)
                return r;
        audit_new_id(g->id);
        if ((r = audit_decision(p, g->id, &g->d, err)) < 0)
                return r;
        if (g->d.verdict == ZB_VERDICT_ALLOW)
                return 0;
        *denied = appr_denied_result(p, &g->d);
        if (!*denied)
                return err_set(err, ENOMEM, "out of memory");
        audit_result(p, g->id, &g->d, *denied, NULL, NULL);
        return 0;
}

void gate_leave(const struct zb_policy *p, const struct gate *g, const struct zb_result *r,
                   const char *error)
{
        audit_result(p, g->id, &g->d, r, error, NULL);
}
