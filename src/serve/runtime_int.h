/* Inside the runtimes half of zonebox serve (runtimes.c, job.c, piston.c):
 * a runtime as the config gives it, and the one job both APIs run. The
 * contract with the server is job.h; nothing here is called from outside
 * src/serve/ except by the unit tests and the fuzzer. */
#ifndef ZB_SERVE_RUNTIME_INT_H
#define ZB_SERVE_RUNTIME_INT_H

#include "job.h"

#define SRV_CODE_DIR "/code"                /* the job's files, the steps' workdir */
#define SRV_MAX_FILES 64
#define SRV_MAX_FILE_NAME 255
#define SRV_MAX_FILES_BYTES (16u << 20)     /* all files together, decoded */
#define SRV_MAX_ARGS 256
#define SRV_MAX_STDIN_BYTES (16u << 20)
#define SRV_MAX_ALIASES 32

/* The limit names a runtime or a request may give, and the policy key each
 * sets. The first SRV_NARROWABLE are the ones zonebox mcp's narrowing knows
 * (src/mcp/narrow.c): a request may lower those. */
struct srv_limit_name {
        const char *name, *key;
};
extern const struct srv_limit_name srv_limit_names[];
#define SRV_N_LIMITS 6
#define SRV_NARROWABLE 4

/* A step's limits as the config wrote them (text; checked at load). */
struct srv_limits {
        char *value[SRV_N_LIMITS]; /* NULL: not given */
};

struct srv_runtime {
        char *name, *version, *file;
        char **aliases;
        size_t n_aliases;
        char **compile; /* argv, NULL-terminated; NULL: no compile step */
        char **run;     /* argv, NULL-terminated */
        struct srv_limits compile_limits, limits;
};

struct srv_runtimes {
        struct srv_runtime *v;
        size_t n;
        /* The config's text: each step loads a fresh policy from it, as
         * zonebox mcp does for each call. */
        char *cfg, *cfg_name, *cfg_dir;
        size_t cfg_len;
};

/* The runtime called NAME (or one of its aliases) whose version matches
 * VERSION: NULL or "*" any, "3" or "3.11" a prefix by components, else
 * exact; the first in config order. */
const struct srv_runtime *srv_runtime_find(const struct srv_runtimes *rt, const char *name,
                                           const char *version);

/* One file of a job. */
struct srv_file {
        char *name;
        char *data;
        size_t len;
};

/* A step's request-side settings: limits the request asked for (text, the
 * narrowing checks them against the runtime's), whether output was asked
 * capped. */
struct srv_step_req {
        char *limit[SRV_NARROWABLE]; /* NULL: the runtime's */
};

/* A parsed job, both APIs. */
struct srv_job {
        const struct srv_runtime *rt;
        struct srv_file files[SRV_MAX_FILES]; /* the utf8 ones first */
        size_t n_files, n_code;               /* n_code: utf8 files, the code */
        char **args; /* NULL-terminated */
        size_t n_args;
        char *stdin_data;
        size_t stdin_len;
        json_object *env; /* an object NAME: "value", or NULL (borrowed) */
        struct srv_step_req compile, run;
};

void srv_job_free(struct srv_job *j);
/* The fields both APIs share (request.c): FILES, ARGS, STDIN of BODY into
 * J; ERR names the field. J->rt must be set (its file name is the first
 * file's default). */
int srv_job_parse_common(struct srv_job *j, json_object *body, struct zb_error *err);
/* A limit given as a number in UNIT ("ms", "" for bytes) or a string with
 * its unit, into *OUT (malloc'd); a negative number: none (*OUT NULL). */
int srv_limit_text(json_object *v, const char *unit, const char *field, char **out, struct zb_error *err);
/* POST /v1/runs' runtime body parsed and narrowed, nothing started:
 * *STATUS 200, or 400/404 with ERR naming the field (the fuzzer). */
int srv_runtime_check(const struct srv_runtimes *rt, json_object *body, int *status, struct zb_error *err);
/* Check one file's name: FIELD names it in the message. */
int srv_file_name_check(const char *name, const char *field, struct zb_error *err);
/* Check the job's narrowing (limits against the runtime's and the
 * config's, env) without starting anything: ERR names the field. */
int srv_job_check(const struct srv_runtimes *rt, const struct srv_job *j, struct zb_error *err);

/* The outcome of one step. */
struct srv_step {
        bool ran;
        json_object *verdict; /* zb_result_json's object, or NULL */
        char message[512];    /* when it did not run: why (setup) */
};
/* Run J: files into a fresh directory mounted at SRV_CODE_DIR, the compile
 * step if the runtime has one, then the run step unless the compile
 * failed. -errno with ERR when the job could not start at all. */
int srv_job_execute(const struct srv_runtimes *rt, const struct srv_job *j, struct srv_step *compile,
                    struct srv_step *run, struct zb_error *err);
void srv_step_free(struct srv_step *s);

/* Remove the job directories of workers that are gone (killed with
 * SIGKILL mid-job); every job does this before it starts. */
int srv_jobs_gc(unsigned *removed);

#endif
