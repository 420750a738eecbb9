/* Seccomp's names for architectures, actions and comparisons, as Docker and OCI JSON
 * profiles spell them. One table for both sides: the namespace backend
 * reads profiles (src/ns/seccomp_json.c) and the engines write them
 * (src/engines/seccomp.c), so a name one side writes is a name the other
 * reads. Pure data and lookups (seccomp_names.c); the tokens and action
 * values are libseccomp's, which equal the kernel's (AUDIT_ARCH_*,
 * SECCOMP_RET_*). */
#ifndef ZB_CORE_SECCOMP_NAMES_H
#define ZB_CORE_SECCOMP_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sc_arch {
        const char *scmp;   /* libseccomp's name: "SCMP_ARCH_X86_64" */
        const char *docker; /* Docker's (includes.arches, archMap): "amd64" */
        uint32_t token;     /* SCMP_ARCH_X86_64 (the audit arch) */
};
extern const struct sc_arch sc_arches[];
extern const size_t sc_n_arches;

/* The arch libseccomp calls NAME ("SCMP_ARCH_X86_64"); NULL if none. */
const struct sc_arch *sc_arch_find(const char *name);
/* The arch with TOKEN (seccomp_arch_native()); NULL if none. */
const struct sc_arch *sc_arch_of(uint32_t token);
/* NAME, Docker's ("amd64") or libseccomp's ("SCMP_ARCH_X86_64"), is TOKEN's. */
bool sc_arch_named(const char *name, uint32_t token);

struct sc_action {
        const char *name; /* "SCMP_ACT_ERRNO" */
        uint32_t action;  /* SCMP_ACT_ERRNO(0): the data is 0 */
        bool with_errno;  /* errnoRet is its data */
};

/* The action a profile names NAME; NULL if none (SCMP_ACT_NOTIFY is not
 * in the table: zonebox runs no seccomp agent). */
const struct sc_action *sc_action_find(const char *name);
/* The name of ACTION's kind (its data ignored); NULL if none. */
const char *sc_action_name(uint32_t action);

/* An argument comparison (args[].op): the enum scmp_compare value a
 * profile names NAME ("SCMP_CMP_MASKED_EQ"), or -1; and back. */
int sc_op_find(const char *name);
const char *sc_op_name(unsigned op);

#endif
