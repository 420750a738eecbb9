/* What the sandbox stopped (issue 16): the violations of one run.
 *
 * A set of entries deduplicated by (layer, operation, target) and capped at
 * VIOL_MAX distinct entries; what comes after the cap is counted in
 * `dropped`, so a program that hammers a denied syscall costs a counter, not
 * memory. Every string that came from the sandbox (paths, host names, argv)
 * is untrusted: viol_add copies it capped at VIOL_TARGET_MAX bytes, with
 * invalid UTF-8 replaced by U+FFFD and control characters written as \xNN,
 * so it is safe in JSON, in the audit log and on a terminal. Monitoring only
 * records: enforcement stays in the kernel (or the proxy), never here.
 *
 * Sources (who calls viol_add): the seccomp notifier and the filesystem
 * write-intent notifier (ns/), the loopback resolver and connect recorder
 * (network none), the proxy (network allowlist), the supervisor's limits
 * (resources: oom, pids; limits: wall/cpu time, output), approval. Each
 * source says once per run whether it could observe on this host
 * (viol_source), so a source that is not observable is listed, never
 * silently missing. */
#ifndef ZB_VIOLATION_H
#define ZB_VIOLATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum viol_layer {
        VIOL_SECCOMP,
        VIOL_FILESYSTEM,
        VIOL_NETWORK,
        VIOL_PROXY,
        VIOL_RESOURCES,
        VIOL_APPROVAL,
        VIOL_LIMITS,
        VIOL_N_LAYERS
};

#define VIOL_MAX 100
#define VIOL_TARGET_MAX 512 /* bytes of a target after sanitizing, "..." included */
#define VIOL_MAX_SOURCES 16

struct viol {
        enum viol_layer layer;
        char *operation; /* "ptrace", "write", "connect", "lookup", "CONNECT", "pids" ... */
        char *target;    /* sanitized, "" when none */
        char *rule;      /* what decided: "seccomp default: ptrace", "root is read-only" */
        char *hint;      /* the flag or key that would allow it; NULL: none */
        uint64_t count;
        double first_ms; /* since the command's exec; < 0: unknown */
};

struct viol_source_state {
        const char *name;  /* a literal: "seccomp", "filesystem", "network", ... */
        char *state;       /* "observed" or "not observable: WHY" */
};

typedef void (*viol_new_fn)(void *data, const struct viol *v);

struct viol_set {
        struct viol *v;
        size_t n, cap;
        uint64_t dropped; /* distinct violations past VIOL_MAX */
        struct viol_source_state sources[VIOL_MAX_SOURCES];
        size_t n_sources;
        /* Called once per new distinct entry (the live event stream). */
        viol_new_fn on_new;
        void *on_new_data;
};

const char *viol_layer_name(enum viol_layer l);
void viol_free(struct viol_set *s);
/* Record COUNT occurrences (COUNT 0 counts as 1). TARGET is LEN untrusted
 * bytes (NULL: none); OPERATION, RULE and HINT are zonebox's own strings
 * (HINT may be NULL). AT_MS: since the command's exec (< 0: unknown).
 * Returns the entry, or NULL when the cap dropped it or memory ran out. */
const struct viol *viol_add(struct viol_set *s, enum viol_layer layer, const char *operation,
                            const char *target, size_t len, const char *rule, const char *hint,
                            uint64_t count, double at_ms);
/* Source NAME (a literal) is observable ("observed") or not ("not
 * observable: WHY"); the last call for a name wins. */
void viol_source(struct viol_set *s, const char *name, const char *state);
/* A copy of LEN untrusted bytes made safe (see above), capped at MAX bytes. */
char *viol_sanitize(const char *data, size_t len, size_t max);

struct json_object;
/* One entry: {layer, operation, target, count, first_ms, rule, hint}. */
struct json_object *viol_entry_json(const struct viol *v);
/* Adds "violations" (always, [] when none), "violations_dropped" (when > 0)
 * and "violation_sources" ({name: state}) to the JSON object O. */
void viol_json(struct json_object *o, const struct viol_set *s);
/* One line for a person: "write /etc/passwd (root is read-only); lookup
 * google.com (network none)", at most MAX bytes (malloc'd; NULL when none). */
char *viol_summary(const struct viol_set *s, size_t max);

/* violation_wire.c: the set as its verdict JSON text in BUF (SIZE bytes,
 * entries that do not fit counted as dropped; -1: not even the empty set
 * fits), and such a text's entries and sources added to S. */
int viol_pack(const struct viol_set *s, char *buf, size_t size);
void viol_unpack(struct viol_set *s, const char *text);

#endif
