/* The gate (docs/approval.md): decide whether a command may run, then log
 * that, before any backend starts it; after the run, log the outcome. The
 * decision is approval.c's, the lines are audit.c's; this file holds the
 * order between them, which is the guarantee: no command starts unless its
 * decision line is on disk (or no audit.log is configured). */
#ifndef ZB_GATE_H
#define ZB_GATE_H

#include "approval.h"
#include "audit.h"
#include "result.h"

/* The gate every command passes before a backend may start it (zb_run, and
 * a session's exec): refuse a log the sandbox could write, decide, and have
 * the decision on disk. 0 with *DENIED NULL: it may start;
 * 0 with *DENIED set: refused (status denied, its result line written);
 * a negative errno: zonebox failed and nothing may start. */
struct gate {
        struct appr_decision d;
        char id[ZB_AUDIT_ID_LEN + 1];
};
int gate_enter(const struct zb_policy *p, struct gate *g, struct zb_result **denied,
                  struct zb_error *err);
/* After the run: its result line (R NULL: ERROR says why nothing ran). A
 * line that cannot be written is lost; the run's result stands. */
void gate_leave(const struct zb_policy *p, const struct gate *g, const struct zb_result *r,
                   const char *error);

#endif
