/* Block-I/O limits written into the sandbox's cgroup (blkio.c). */
#ifndef ZB_NS_BLKIO_H
#define ZB_NS_BLKIO_H

#include "../core/policy.h"

/* Resolve the policy's block-I/O limits and write them to the cgroup DIR
 * (v2 io.* or v1 blkio.*). */
int ns_blkio_apply(const struct zb_policy *p, const char *dir, bool v2, struct zb_error *err);

#endif
