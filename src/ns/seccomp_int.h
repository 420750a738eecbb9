/* Private to the seccomp layer's two files: seccomp.c (the default
 * profile, the filter's common pieces, ns_seccomp_build, install) and
 * seccomp_json.c (Docker/OCI JSON profiles). Calls go both ways:
 * ns_seccomp_build hands a profile path to ns_seccomp_build_file, which
 * builds with the pieces below. */
#ifndef ZB_NS_SECCOMP_INT_H
#define ZB_NS_SECCOMP_INT_H

#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>

#include "seccomp.h" // NOLINT(readability-duplicate-include): <seccomp.h> above is libseccomp's

static inline void ns_seccomp_releasep(scmp_filter_ctx *ctx)
{
        if (*ctx)
                seccomp_release(*ctx);
}

/* Named in the policy's allow or deny list: those win over any profile. */
bool ns_seccomp_overridden(const struct ns_seccomp_spec *spec, const char *name);
/* The native syscall number, a negative libseccomp pseudo-number for a
 * syscall that exists only on other arches, or __NR_SCMP_ERROR. *RAW is set
 * when the number is zonebox's own (a syscall newer than libseccomp), i.e.
 * libseccomp cannot map it to another arch. */
int ns_syscall_number(const char *name, bool *raw);
/* A libseccomp filter with DEFAULT_ACTION, other arches killed, optimized. */
int ns_seccomp_new_filter(uint32_t default_action, scmp_filter_ctx *out, struct zb_error *err);
/* The policy's own lists, after the profile: deny beats allow. */
int ns_seccomp_spec_rules(scmp_filter_ctx ctx, const struct ns_seccomp_spec *spec,
                          uint32_t default_action, bool multiarch, struct zb_error *err);
/* CTX as a BPF program in *PROG (malloc'd). */
int ns_seccomp_export(scmp_filter_ctx ctx, struct sock_fprog *prog, struct zb_error *err);

/* The JSON profile at SPEC->profile, with SPEC's lists (seccomp_json.c). */
int ns_seccomp_build_file(const struct ns_seccomp_spec *spec, struct sock_fprog *prog,
                          struct zb_error *err);

#endif
