/* zonebox serve (issue 20): the contract between the HTTP server
 * (server.c, queue.c, metrics.c, v1.c: the wt-serve branch) and the runtimes
 * and the Piston adapter (runtimes.c, job.c, piston.c: the wt-piston branch).
 *
 * The server parses HTTP, authenticates, queues, and runs each job in a
 * forked worker process (as zonebox mcp does), so every function below may
 * block for the whole run and is only ever called in a worker (or in the
 * fuzzer, with RUN false). Cancelling a job is SIGKILL of its worker: its
 * sandboxes die with it (they die with their supervisor), and the server
 * then calls zb_gc's cleanup as after any run.
 *
 * BASE is the server's policy, loaded from its config: a request can only
 * narrow it (limits at most the server's caps; zones, network and approval
 * from the config, never a host path from a request). Functions that answer
 * a request return the response body (a new json_object the caller puts) and
 * set *STATUS to the HTTP status: 200, 400 with {"message": "FIELD: why"}
 * naming the field, 404 for an unknown runtime, 500 when zonebox itself
 * failed (the message says which layer). */
#ifndef ZB_SERVE_JOB_H
#define ZB_SERVE_JOB_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "../core/policy.h"

/* The config's `runtimes:` section: name, version, aliases, source file
 * name, optional compile command with its own limits, run command. */
struct srv_runtimes;
/* Parse the `runtimes:` section of the config file DATA (LEN bytes, named
 * NAME in messages); no section gives an empty list. Errors name the key. */
int srv_runtimes_load(struct srv_runtimes **out, const char *data, size_t len, const char *name,
                      struct zb_error *err);
void srv_runtimes_free(struct srv_runtimes *rt);
/* GET /v1/runtimes (PISTON false) or GET /api/v2/runtimes (PISTON true). */
json_object *srv_runtimes_json(const struct srv_runtimes *rt, bool piston);

/* POST /v1/runs whose body names a "runtime" and "files" (a body with a
 * "command" is the server's own): files written into a fresh tmpfs zone,
 * the compile step (its own limits; a compile error stops before the run),
 * then the run. The body: {runtime, version?, files: [{name?, content,
 * encoding?}], args?, stdin?, env?, limits?}. The response: the run's
 * verdict object (--json's, violations included), with "compile": {verdict}
 * when the runtime compiles. */
json_object *srv_runtime_run(const struct zb_policy *base, const struct srv_runtimes *rt,
                             json_object *body, int *status);

/* POST /api/v2/execute: Piston's request and response fields (docs/serve.md
 * has the mapping of zonebox's verdicts to RE, SG, TO, OL, EL, XX). BODY is
 * the raw request body (LEN bytes, not NUL-terminated). RUN false: parse,
 * validate and narrow only, start nothing, and answer 200 with {} when the
 * request is valid (the fuzzer). */
json_object *srv_piston_execute(const struct zb_policy *base, const struct srv_runtimes *rt,
                                const char *body, size_t len, bool run, int *status);

#endif
