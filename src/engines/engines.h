/* What the rest of zonebox sees of src/engines/: running a policy with the
 * docker or oci backend (zb_run dispatches here) and the public zb_export. */
#ifndef ZB_ENGINES_ENGINES_H
#define ZB_ENGINES_ENGINES_H

#include "../core/policy.h"

/* Run a validated policy whose backend is docker or oci. */
int eng_run(const struct zb_policy *p, struct zb_result **out, struct zb_error *err);
/* The bundle dirs of oci runs whose supervisor is gone (zonebox gc, and
 * every oci run first), this user's only. */
void eng_oci_gc_bundles(unsigned *removed);

#endif
