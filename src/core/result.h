/* The result of one run: the same struct for every backend. */
#ifndef ZB_RESULT_H
#define ZB_RESULT_H

#include "policy.h"
#include "util.h"
#include "violation.h"

enum res_status {
        ZB_STATUS_EXITED,
        ZB_STATUS_SIGNALED,
        ZB_STATUS_TIMEOUT,
        ZB_STATUS_CPU_TIMEOUT,
        ZB_STATUS_OOM,
        ZB_STATUS_OUTPUT_LIMIT,
        ZB_STATUS_DENIED,
        ZB_STATUS_SETUP_ERROR,
        /* The wasm backend: the module trapped (unreachable, out-of-bounds
         * access, stack overflow...): exit 128+SIGILL (132), as a native
         * program's illegal instruction; error holds the runtime's message. */
        ZB_STATUS_TRAP,
};

/* Why a setup_error happened, for the exit code. */
enum pol_setup_kind {
        ZB_SETUP_FAILED = 0,      /* zonebox could not build the sandbox: 125 */
        ZB_SETUP_NOT_FOUND = 1,   /* command not found: 127 */
        ZB_SETUP_NOT_EXEC = 2,    /* command found but not executable: 126 */
};

#define ZB_MAX_LAYERS 24
#define ZB_RESULT_MAX_ZONE_IDS 64
/* Paths per list of a cow zone's changes in the result; zonebox diff has all. */
#define ZB_RESULT_MAX_CHANGES 1000

/* What a run changed in one cow zone: paths relative to the zone, a
 * directory's ending in '/'. */
struct pol_zone_changes {
        char *zone;
        char **added, **modified, **deleted;
        size_t n_added, n_modified, n_deleted;
        bool truncated; /* a list reached ZB_RESULT_MAX_CHANGES */
};

/* A zone with a size cap, after the run. */
struct res_disk_use {
        char *zone;
        uint64_t limit, used; /* bytes */
        bool reached;         /* used came within one allocation of the cap */
};

struct zb_result {
        enum res_status status;
        enum pol_setup_kind setup_kind;
        int exit_code;   /* valid for EXITED */
        int signal;      /* 0: none */
        double wall_ms;
        double cpu_user_ms, cpu_sys_ms;
        uint64_t peak_memory_bytes; /* 0: unknown */
        bool oom_killed;
        uint64_t pids_max_events; /* forks refused at the pids limit (pids.events max) */
        struct outbuf out, err;
        bool captured;
        const char *applied[ZB_MAX_LAYERS];
        size_t n_applied;
        const char *skipped[ZB_MAX_LAYERS];
        size_t n_skipped;
        const char *backend;
        char *error; /* setup_error message */
        /* cow zones (src/ns/cow.c); has_cow when the policy has any. */
        bool has_cow;
        char *cow_id;           /* the change set kept; NULL: none */
        const char *cow_action; /* "kept", "committed", "discarded", "none" (a literal) */
        char *cow_error;        /* the commit asked for (cow_action commit) was not done */
        struct pol_zone_changes *changes;
        size_t n_changes;
        /* Limits that are not a status (result_limits.c). */
        struct res_disk_use *disk; /* zones with a size cap (src/ns/quota.c) */
        char *warnings; /* settings the run did not use, one per line (unused.c) */
        size_t n_disk;
        /* The users layer (src/ns/userns.c, zones.c): the id map ("range",
         * "newuidmap", "single"; NULL: not the namespace backend), and per
         * host zone how its files' owners are seen ("idmapped", "direct",
         * "not idmapped: WHY"). */
        const char *id_map;
        uint32_t id_count;
        char *zone_ids[ZB_RESULT_MAX_ZONE_IDS];
        char *zone_ids_name[ZB_RESULT_MAX_ZONE_IDS];
        size_t n_zone_ids;
        /* The wasm backend (src/wasm/): the runtime that ran the module, its
         * path inside the sandbox and `--version` line ("": unknown). */
        char *wasm_runtime, *wasm_runtime_path, *wasm_runtime_version;
        /* network.allow (src/ns/proxy.c): the proxy's connection counts. */
        bool has_proxy;
        uint64_t proxy_allowed, proxy_refused, proxy_failed;
        /* What the sandbox stopped (violation.h): in every verdict. */
        struct viol_set viol;
};

struct zb_result *res_new(const char *backend);
/* LAYER must be a string literal (stored, not copied). */
void res_layer(struct zb_result *r, const char *layer, bool applied);
/* How zone NAME's owners are seen inside (copies both). */
void res_zone_ids(struct zb_result *r, const char *name, const char *how);
const char *res_status_name(enum res_status s);
/* Add the verdict fields (status, exit_code, signal, cli_exit_code, wall_ms,
 * cpu_user_ms, cpu_sys_ms, peak_memory_bytes, oom_killed) to the JSON object
 * O: shared by the result JSON and the audit log's result lines. */
struct json_object;
void res_json_verdict(struct json_object *o, const struct zb_result *r);
/* Warnings into R for settings backend B does not use (unused.c). */
struct zb_policy;
void pol_unused(const struct zb_policy *p, enum pol_backend b, struct zb_result *r);
/* output_limit_stream, file_size_limit and disk_limit (result_limits.c). */
void res_json_limits(struct json_object *o, const struct zb_result *r);
void res_disk_free(struct zb_result *r);
/* The limits a finished run reached (status oom, timeout, cpu_timeout,
 * output_limit, pids.events, SIGXFSZ, a zone's size cap) as violations of
 * layers resources and limits, each once with the limit's value; and the
 * sources "resources" and "limits" (result_limits.c). */
void res_viol_limits(const struct zb_policy *p, struct zb_result *r);
/* The output cap (LIMIT bytes) as a violation when a stream went past it:
 * a session's client, which alone sees its command's output. */
void res_viol_output(struct zb_result *r, uint64_t limit);
/* Copy of DATA with invalid UTF-8 replaced by U+FFFD (malloc'd). */
char *util_utf8_sanitize(const char *data, size_t n, size_t *out_len);

#endif
