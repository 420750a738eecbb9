/* Disk and block-I/O limits in the engines' terms (io.c). */
#ifndef ZB_ENGINES_IO_H
#define ZB_ENGINES_IO_H

#include "engine.h"

/* docker/podman run flags for the block-I/O limits; warnings for zone caps. */
void eng_io_docker(struct eng_argv *a, const struct zb_policy *p, struct eng_notes *n);
/* linux.resources.blockIO, or NULL when there are no block-I/O limits. */
json_object *eng_io_oci(const struct zb_policy *p, struct eng_notes *n);
/* Bytes of the emptyDir zones' caps (the ephemeral-storage to ask for);
 * warnings for what a Pod cannot cap or throttle. */
uint64_t eng_io_k8s(const struct zb_policy *p, struct eng_notes *n);

#endif
