/* zonebox serve (docs/serve.md): the HTTP server's own parts. The server
 * process (server.c, on libmicrohttpd) parses, authenticates, limits,
 * queues and relays; every run happens in a worker, one per job (a fork of
 * the server exec'ing `zonebox __serve-worker`, v1.c's srv_worker_main and
 * srv_work), so a run never blocks the server and cancelling a job is
 * SIGKILL of its worker. The runtimes and the Piston adapter are
 * job.h's (wt-piston's runtimes.c, job.c, piston.c). */
#ifndef ZB_SERVE_H
#define ZB_SERVE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/policy.h"
#include "../mcp/mcp.h"
#include "job.h"

#define SRV_MAX_CONFIG_BODY (16u << 20) /* serve.body_limit's ceiling */
#define SRV_MAX_RESULT_BYTES (64u << 20) /* a worker's answer; larger is a 500 */
#define SRV_MAX_SESSIONS 64
#define SRV_MAX_TOKENS 64

/* The `serve:` section of the config file (conf.c). Zero values are the
 * defaults srv_conf_load fills in. */
struct srv_conf {
        char *socket, *listen, *token_file;
        unsigned workers;          /* jobs running at once (default: CPUs) */
        unsigned queue;            /* jobs waiting (default 64); more is 429 */
        unsigned results;          /* finished ?wait=false jobs kept (default 256) */
        unsigned max_connections;  /* default 256 */
        uint64_t drain_ms;         /* SIGTERM: running jobs get this long (default 30 s) */
        uint64_t request_timeout_ms; /* whole request read, and idle connections (default 30 s) */
        uint64_t body_limit;       /* bytes (default 1 MiB); more is 413 */
        double rate, burst;        /* requests/s per token and the bucket (default 50, 100); 0: off */
};
int srv_conf_load(struct srv_conf *c, const char *data, size_t len, const char *name, struct zb_error *err);
void srv_conf_free(struct srv_conf *c);

/* What a worker does. */
enum srv_kind { SRV_RUN, SRV_RUNTIME, SRV_PISTON, SRV_SESSION_START, SRV_SESSION_EXEC, SRV_SESSION_STOP };

/* The server's fixed state a worker reads (after fork, a copy). */
struct srv_ctx {
        struct mcp_server policy;  /* the config: its text and the validated base policy */
        struct srv_runtimes *rt;   /* NULL until the runtimes are built in */
};

/* v1.c, server side: check BODY of a request of KIND without running it:
 * unknown fields, a "zones" field or a host path (403), and the narrowing of
 * the server's policy. 0, or the HTTP status with ERR naming the field. */
int srv_check(const struct srv_ctx *c, enum srv_kind kind, json_object *body, struct zb_error *err);
/* v1.c, worker side: run the job; the response body, *STATUS its status. */
json_object *srv_work(const struct srv_ctx *c, enum srv_kind kind, json_object *body, const char *raw,
                      size_t raw_len, const char *session, int *status);
/* v1.c: `zonebox __serve-worker KIND CONFIG_NAME CONFIG_DIR SESSION|-`, the
 * program each worker runs (exec'd by server.c): the job's body on fd 0,
 * the config's text on fd 4, the answer ("STATUS\nBODY") to fd 3. */
int srv_worker_main(int argc, char **argv);
/* {"message": TEXT} */
json_object *srv_message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* server.c: the whole of `zonebox serve` (the zonebox-serve program's main). */
int srv_main(int argc, char **argv);

#endif
