/* zonebox serve's server (server.c, server_jobs.c): the state they share.
 * Internal to src/serve/; nothing outside includes it. */
#ifndef ZB_SERVE_SERVER_INT_H
#define ZB_SERVE_SERVER_INT_H

#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <microhttpd.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "serve.h"

#if __has_include("runtimes_built.h")
#include "runtimes_built.h"
#endif

#define EXIT_USAGE 125
#define N_BUCKETS 256
#define MAX_STATUSES 16

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct job {
        struct job *next, *prev; /* all jobs */
        struct job *qnext;       /* the queue */
        char id[17];
        long owner;
        enum srv_kind kind;
        enum job_state state;
        bool wait, cancelled, drained; /* drained: killed at the end of serve.drain_timeout */
        json_object *body;
        char *raw;
        size_t raw_len;
        char session[64];
        pid_t pid;
        int fd, pidfd;           /* its answer; readable when it exited */
        char *out;
        size_t out_len, out_cap;
        int status;              /* HTTP status of the answer */
        char *answer;            /* its body */
        struct MHD_Connection *conn; /* suspended, waiting for the answer */
        uint64_t queued_ns, start_ns, done_ns;
};

/* One request in progress (MHD's per-request pointer). */
struct req {
        char *body;
        size_t len;
        uint64_t start_ns;
        bool too_big, timed_out;
        struct job *job;
};

struct bucket {
        long owner;
        double tokens;
        uint64_t last_ns;
};

static const double hist_le[] = { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300 };

struct metrics {
        char status[MAX_STATUSES][24];
        unsigned long long runs[MAX_STATUSES];
        unsigned long long hist[ARRAY_SIZE(hist_le)], count;
        double sum;
        unsigned long long rejected[8];
};
static const char *const reject_names[] = { "unauthorized", "rate_limited", "queue_full", "body_too_large",
                                            "bad_request", "forbidden", "timeout", "draining" };
enum { REJ_AUTH, REJ_RATE, REJ_QUEUE, REJ_BODY, REJ_BAD, REJ_FORBIDDEN, REJ_TIMEOUT, REJ_DRAINING };

struct srv {
        struct srv_conf conf;
        struct srv_ctx ctx;
        struct MHD_Daemon *d;
        int listen_fd, sig_fd;
        char *sock_path;
        char zonebox[PATH_MAX]; /* the binary workers run */
        int cfg_fd;             /* the config's text, for the workers */
        int null_fd;            /* /dev/null, the workers' stdout */
        bool tcp, draining;
        uint64_t drain_deadline;
        unsigned char tokens[SRV_MAX_TOKENS][32];
        size_t n_tokens;
        struct job *jobs;         /* every job, newest first */
        struct job *qhead, *qtail;
        unsigned queued, running, kept;
        struct { char id[64]; long owner; } sessions[SRV_MAX_SESSIONS];
        struct bucket buckets[N_BUCKETS];
        struct metrics m;
};

/* server.c */
enum MHD_Result srv_respond_json(struct MHD_Connection *conn, unsigned status, json_object *o);
enum MHD_Result srv_reject(struct srv *s, struct MHD_Connection *conn, int why, unsigned status,
                           const char *retry_after, const char *msg);
/* server_auth.c: tokens and the rate limit */
void srv_sha256(const char *data, size_t len, unsigned char out[32]);
int srv_load_tokens(struct srv *s, const char *path, struct zb_error *err);
long srv_authenticate(const struct srv *s, struct MHD_Connection *conn);
unsigned srv_rate_wait(struct srv *s, long owner);
/* server_jobs.c: the queue, the workers and their answers */
size_t srv_session_count(const struct srv *s);
void srv_job_cancel(struct srv *s, struct job *j);
bool srv_session_owned(const struct srv *s, const char *id, long owner);
void srv_job_release(struct srv *s, struct job *j);
void srv_queue_remove(struct srv *s, struct job *j);
void srv_job_done(struct srv *s, struct job *j, int status, char *answer);
void srv_job_read(struct srv *s, struct job *j, bool exited);
void srv_schedule(struct srv *s);
struct job *srv_job_find(struct srv *s, const char *id, long owner);
enum MHD_Result srv_job_submit(struct srv *s, struct MHD_Connection *conn, struct req *r, long owner,
                               enum srv_kind kind, json_object *body, const char *session, bool wait);

#endif
