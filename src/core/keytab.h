/* The one table of config keys: for every key (and its flag), what each
 * backend does with a value other than the default — honours it, warns
 * (the result's warnings, stderr, an export's notes), or refuses it (exit
 * 125, one line naming the key and the backend, nothing started).
 * pol_set_key accepts only the keys listed here, so a new key without a
 * row is an unknown key. docs/config.md's "Backends" table is printed from
 * it (zonebox __keytab). Pure policy: nothing here touches the host. */
#ifndef ZB_KEYTAB_H
#define ZB_KEYTAB_H

#include <stdio.h>

#include "policy.h"

enum kt_outcome { KT_HONOUR, KT_WARN, KT_REFUSE };

/* One column per backend, in enum pol_backend's order. */
#define KT_N_BACKENDS 5

/* How a row tells that the policy holds a value other than the default. */
enum kt_given {
        KT_NEVER, /* a selector (backend) or the command: every backend has it */
        KT_BYTES, /* the field's bytes differ from zb_policy_new()'s */
        KT_PTR,   /* the pointer field is set (every such default is NULL) */
        KT_COUNT, /* the size_t count field is > 0 */
        KT_EQ,    /* the int-sized field equals ARG */
        KT_IO,    /* a block-I/O limit of kind ARG & 7, zone target when ARG & 8 */
        KT_COW,   /* a zone of mode cow */
};

struct kt_cell {
        enum kt_outcome outcome;
        const char *why; /* warn/refuse: the reason, after "KEY: " */
};

struct kt_row {
        const char *key;   /* the config key, as pol_set_key takes it */
        const char *when;  /* a value this row is about ("required"), NULL: any non-default */
        const char *flag;  /* the run flag, NULL: config file only */
        const char *sample; /* a valid non-default value, for the tests ({dir}: a dir) */
        enum kt_given given;
        size_t off, size;
        int arg;
        struct kt_cell cell[KT_N_BACKENDS];
        /* What a docker or oci export leaves out though zonebox run
         * --backend docker/oci honours it (zonebox run does it, not the
         * engine); NULL: nothing. */
        const char *export_loses;
        bool internal; /* a second spelling inside the parser; not in the docs */
};

/* Every row; *N of them. */
const struct kt_row *kt_rows(size_t *n);
/* The row of KEY (or of its other spelling, security.runtime); NULL: no such key. */
const struct kt_row *kt_find(const char *key);
/* Does P hold a non-default value for ROW? DEF is zb_policy_new()'s. */
bool kt_given(const struct kt_row *row, const struct zb_policy *p, const struct zb_policy *def);
/* The first key P sets that backend B refuses: -ENOTSUP and one line. */
int kt_refuse(const struct zb_policy *p, enum pol_backend b, struct zb_error *err);
/* Each key P sets that backend B does not honour: FN(CTX, "KEY: why").
 * EXPORT: a docker/oci export, which also loses what only zonebox run does. */
void kt_warn(const struct zb_policy *p, enum pol_backend b, bool export,
             void (*fn)(void *ctx, const char *line), void *ctx);
/* The table as docs/config.md shows it (markdown), or as tab-separated
 * lines key, when, flag, sample, per backend honour, warn:WHY or
 * refuse:WHY, and what a docker/oci export loses. */
void kt_print(FILE *f, bool markdown);

#endif
