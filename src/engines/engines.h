/* What the rest of zonebox sees of src/engines/: running a policy with the
 * docker or oci backend (zb_run dispatches here) and the public zb_export. */
#ifndef ZB_ENGINES_ENGINES_H
#define ZB_ENGINES_ENGINES_H

#include "../core/policy.h"

/* Run a validated policy whose backend is docker or oci. */
int eng_run(const struct zb_policy *p, struct zb_result **out, struct zb_error *err);
/* The run dirs (/tmp/zonebox-oci-*, zonebox-docker-*: bundles, rootfs
 * trees) of engine runs whose supervisor is gone: zonebox gc, and every
 * engine run first. This user's only. */
void eng_gc_run_dirs(unsigned *removed);

#endif
