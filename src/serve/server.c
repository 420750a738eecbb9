/* zonebox serve's server process (docs/serve.md): HTTP/1.1 on
 * libmicrohttpd, driven from one thread by our own poll loop (MHD's epoll fd,
 * the workers' pipes, a signalfd), so forking a worker is safe at any time.
 *
 * Guarantees:
 * - The server only parses, authenticates, limits, queues and relays: every
 *   run is a worker, forked (PR_SET_PDEATHSIG SIGKILL: it dies with the
 *   server, and its sandbox with it) and exec'ing the static zonebox's
 *   `__serve-worker` (v1.c), at most serve.workers at once, at most
 *   serve.queue waiting (429 with Retry-After beyond), so memory is bounded
 *   by max_connections × (body_limit + MHD's per-connection pool) plus
 *   (workers + queue + results) jobs of at most SRV_MAX_RESULT_BYTES each.
 * - Over TCP every request but GET /v1/health carries a bearer token from
 *   the token file, compared as SHA-256 digests in constant time (401
 *   without); on the unix socket (mode 0600) the peer's uid owns what it
 *   makes unless tokens are configured, then those apply there too.
 * - A run, a session, a queued job belongs to the token (or uid) that made
 *   it: another one gets 404 for it.
 * - SIGTERM/SIGINT: stop accepting, answer queued jobs 503, let running ones
 *   finish until serve.drain_timeout, then SIGKILL them; the sessions this
 *   server started are stopped, cgroups of killed workers collected (zb_gc),
 *   the socket file removed. */
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

/* ------------------------------------------------------------ responses */

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned status, const char *text, size_t len,
                                    const char *type, const char *retry_after)
{
        struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        if (retry_after)
                MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
        if (status == 401)
                MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
        enum MHD_Result ret = MHD_queue_response(conn, status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result respond_json(struct MHD_Connection *conn, unsigned status, json_object *o)
{
        size_t len = 0;
        const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                                             &len);
        enum MHD_Result ret = respond_text(conn, status, text ? text : "{}", text ? len : 2, "application/json", NULL);
        json_object_put(o);
        return ret;
}

static enum MHD_Result reject(struct srv *s, struct MHD_Connection *conn, int why, unsigned status,
                              const char *retry_after, const char *msg)
{
        s->m.rejected[why]++;
        json_object *o = srv_message("%s", msg);
        size_t len = 0;
        const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
        enum MHD_Result ret = respond_text(conn, status, text, len, "application/json", retry_after);
        json_object_put(o);
        return ret;
}

/* A refusal in the middle of a body: libmicrohttpd (0.9.75) queues a
 * response only before the body or after all of it, so the answer is
 * written to the socket here and the connection closed (MHD_NO). Plain HTTP
 * only: the server has no TLS. */
static enum MHD_Result refuse_now(struct srv *s, struct MHD_Connection *conn, int why, unsigned status,
                                  const char *reason, const char *msg)
{
        s->m.rejected[why]++;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        json_object *o = srv_message("%s", msg);
        const char *body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        char head[256];
        int n = snprintf(head, sizeof(head), "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\n"
                                             "Connection: close\r\nContent-Length: %zu\r\n\r\n",
                         status, reason, strlen(body));
        if (ci && n > 0 && (size_t)n < sizeof(head) &&
            send(ci->connect_fd, head, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == n)
                (void)send(ci->connect_fd, body, strlen(body), MSG_DONTWAIT | MSG_NOSIGNAL);
        json_object_put(o);
        return MHD_NO;
}

/* ------------------------------------------------------------ auth and rate */

static void sha256(const char *data, size_t len, unsigned char out[32])
{
        unsigned int n = 32;
        if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL))
                memset(out, 0, 32);
}

static int load_tokens(struct srv *s, const char *path, struct zb_error *err)
{
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);
        char buf[16384];
        if (fd < 0)
                return err_errno(err, errno, "--token-file: cannot open %s", path);
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return err_errno(err, errno, "--token-file: cannot read %s", path);
        buf[n] = '\0';
        for (char *save = NULL, *line = strtok_r(buf, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
                while (*line == ' ' || *line == '\t')
                        line++;
                size_t len = strlen(line);
                while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
                        line[--len] = '\0';
                if (!len || *line == '#')
                        continue;
                if (len < 16)
                        return err_set(err, EINVAL, "--token-file: %s: a token shorter than 16 characters", path);
                if (s->n_tokens == SRV_MAX_TOKENS)
                        return err_set(err, EINVAL, "--token-file: %s: more than %d tokens", path, SRV_MAX_TOKENS);
                sha256(line, len, s->tokens[s->n_tokens++]);
        }
        explicit_bzero(buf, sizeof(buf));
        if (!s->n_tokens)
                return err_set(err, EINVAL, "--token-file: %s holds no token (one per line)", path);
        return 0;
}

/* The owner of the request: a token's index, the unix peer's uid + 1e6, or
 * -1 (401). Every stored digest is compared, whatever matched. */
static long authenticate(const struct srv *s, struct MHD_Connection *conn)
{
        if (!s->n_tokens) {
                const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
                struct ucred cred;
                socklen_t len = sizeof(cred);
                if (s->tcp || !ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                        return -1;
                return 1000000L + (long)cred.uid;
        }
        const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!h || strncasecmp(h, "Bearer ", 7) != 0)
                return -1;
        unsigned char d[32];
        sha256(h + 7, strlen(h + 7), d);
        long who = -1;
        for (size_t i = 0; i < s->n_tokens; i++)
                if (CRYPTO_memcmp(d, s->tokens[i], 32) == 0)
                        who = (long)i;
        return who;
}

/* A token bucket per owner; 0 when the request may go on, else the seconds
 * until it may (Retry-After). */
static unsigned rate_wait(struct srv *s, long owner)
{
        if (s->conf.rate <= 0)
                return 0;
        uint64_t now = util_now_ns();
        struct bucket *b = NULL, *oldest = &s->buckets[0];
        for (size_t i = 0; i < N_BUCKETS && !b; i++) {
                if (s->buckets[i].last_ns && s->buckets[i].owner == owner)
                        b = &s->buckets[i];
                else if (s->buckets[i].last_ns < oldest->last_ns)
                        oldest = &s->buckets[i];
        }
        if (!b) {
                b = oldest;
                *b = (struct bucket){ .owner = owner, .tokens = s->conf.burst, .last_ns = now };
        }
        b->tokens += (double)(now - b->last_ns) / 1e9 * s->conf.rate;
        if (b->tokens > s->conf.burst)
                b->tokens = s->conf.burst;
        b->last_ns = now;
        if (b->tokens >= 1) {
                b->tokens -= 1;
                return 0;
        }
        return (unsigned)((1 - b->tokens) / s->conf.rate) + 1;
}

/* ------------------------------------------------------------ jobs */

static void count_run(struct srv *s, const char *status, double seconds)
{
        size_t i = 0;
        while (i < MAX_STATUSES - 1 && s->m.status[i][0] && strcmp(s->m.status[i], status) != 0)
                i++;
        if (!s->m.status[i][0])
                snprintf(s->m.status[i], sizeof(s->m.status[i]), "%s", status);
        else if (strcmp(s->m.status[i], status) != 0)
                snprintf(s->m.status[i], sizeof(s->m.status[i]), "other");
        s->m.runs[i]++;
        for (size_t k = 0; k < ARRAY_SIZE(hist_le); k++)
                if (seconds <= hist_le[k])
                        s->m.hist[k]++;
        s->m.count++;
        s->m.sum += seconds;
}

static void job_free(struct srv *s, struct job *j)
{
        if (j->prev)
                j->prev->next = j->next;
        else
                s->jobs = j->next;
        if (j->next)
                j->next->prev = j->prev;
        if (j->state == JOB_DONE && !j->wait)
                s->kept--;
        if (j->fd >= 0)
                close(j->fd);
        if (j->pidfd >= 0)
                close(j->pidfd);
        json_object_put(j->body);
        free(j->raw);
        free(j->out);
        free(j->answer);
        free(j);
}

static struct job *job_find(struct srv *s, const char *id, long owner)
{
        for (struct job *j = s->jobs; j; j = j->next)
                if (!strcmp(j->id, id) && j->owner == owner)
                        return j;
        return NULL;
}

static void session_note(struct srv *s, const struct job *j)
{
        json_object *o = json_tokener_parse(j->answer), *id;
        if (o && json_object_object_get_ex(o, "id", &id))
                for (size_t i = 0; i < SRV_MAX_SESSIONS; i++)
                        if (!s->sessions[i].id[0]) {
                                snprintf(s->sessions[i].id, sizeof(s->sessions[i].id), "%s", json_object_get_string(id));
                                s->sessions[i].owner = j->owner;
                                break;
                        }
        json_object_put(o);
}

static void session_forget(struct srv *s, const char *id)
{
        for (size_t i = 0; i < SRV_MAX_SESSIONS; i++)
                if (!strcmp(s->sessions[i].id, id))
                        s->sessions[i].id[0] = '\0';
}

static bool session_owned(const struct srv *s, const char *id, long owner)
{
        for (size_t i = 0; i < SRV_MAX_SESSIONS; i++)
                if (s->sessions[i].id[0] && !strcmp(s->sessions[i].id, id) && s->sessions[i].owner == owner)
                        return true;
        return false;
}

static size_t session_count(const struct srv *s)
{
        size_t n = 0;
        for (size_t i = 0; i < SRV_MAX_SESSIONS; i++)
                n += s->sessions[i].id[0] != '\0';
        return n;
}

/* The job has its answer: count it, hand it to the waiting request, or keep
 * it for GET /v1/runs/ID (the oldest kept one goes when there are too many). */
static void job_done(struct srv *s, struct job *j, int status, char *answer)
{
        j->state = JOB_DONE;
        j->status = status;
        j->answer = answer;
        j->done_ns = util_now_ns();
        json_object *o = status == 200 ? json_tokener_parse(answer) : NULL, *v;
        const char *what = j->cancelled ? "cancelled"
                           : j->drained    ? "killed_at_shutdown"
                           : o && json_object_object_get_ex(o, "status", &v) && json_object_is_type(v, json_type_string)
                                   ? json_object_get_string(v)
                           : status == 200 ? "ok"
                                           : status >= 500 ? "error" : "rejected";
        count_run(s, what, j->start_ns ? (double)(j->done_ns - j->start_ns) / 1e9 : 0);
        json_object_put(o);
        if (status == 200 && j->kind == SRV_SESSION_START)
                session_note(s, j);
        if (status == 200 && j->kind == SRV_SESSION_STOP)
                session_forget(s, j->session);
        if (j->conn) {
                MHD_resume_connection(j->conn);
                return;
        }
        if (j->wait) { /* its client is gone */
                job_free(s, j);
                return;
        }
        s->kept++;
        while (s->kept > s->conf.results) {
                struct job *old = NULL;
                /* job_free unlinks what it frees: each round walks the list anew */
                for (struct job *k = s->jobs; k; k = k->next)
                        if (k->state == JOB_DONE && !k->wait) // NOLINT(clang-analyzer-unix.Malloc): see above
                                old = k;
                if (!old)
                        break;
                job_free(s, old);
        }
}

/* The forked child: the job's body on fd 0 (a memfd), the answer pipe on
 * fd 3, the config on fd 4, then the static zonebox binary's
 * `__serve-worker` (srv_worker_main). Exec'ing zonebox rather than running
 * the job in this dynamically linked process: a sandbox started from a
 * static-pie process costs less (bench/README.md, "zonebox serve"). */
/* What a worker's child needs, made before vfork: it only does system calls. */
struct spawn {
        int body, null, out;
        char kind[16];
        char *argv[7];
        char fail[512];
        size_t fail_len;
        pid_t parent;
};

static void __attribute__((noreturn)) worker_exec(const struct srv *s, const struct spawn *sp)
{
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != sp->parent)
                _exit(1);
        if (dup2(sp->body, STDIN_FILENO) < 0 || dup2(sp->null, STDOUT_FILENO) < 0 || dup2(sp->out, 3) < 0 ||
            dup2(s->cfg_fd, 4) < 0 ||
            /* dup2 onto itself keeps close-on-exec: clear it either way */
            fcntl(3, F_SETFD, 0) < 0 || fcntl(4, F_SETFD, 0) < 0)
                _exit(1);
        close_range(5, ~0u, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        execv(s->zonebox, sp->argv);
        (void)!write(3, sp->fail, sp->fail_len);
        _exit(0);
}

/* The job's body as a memfd at offset 0, for the worker's fd 0. */
static int body_fd(const struct job *j)
{
        int fd = memfd_create("zonebox-serve-job", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (util_write_all(fd, j->raw ? j->raw : "", j->raw_len) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
                int e = errno;
                close(fd);
                return -e;
        }
        return fd;
}

/* A worker for J: vfork (the server's address space is not copied; the
 * child only sets itself up and executes zonebox), then its pidfd. */
static int job_start(struct srv *s, struct job *j)
{
        int p[2];
        struct spawn sp = { .parent = getpid() };
        sp.body = body_fd(j);
        if (sp.body < 0)
                return sp.body;
        if (pipe2(p, O_CLOEXEC) < 0) {
                int e = errno;
                close(sp.body);
                return -e;
        }
        sp.out = p[1];
        sp.null = s->null_fd;
        snprintf(sp.kind, sizeof(sp.kind), "%d", (int)j->kind);
        char *argv[] = { (char *)"zonebox", (char *)"__serve-worker", sp.kind, s->ctx.policy.cfg_name,
                         s->ctx.policy.cfg_dir, j->session[0] ? j->session : (char *)"-", NULL };
        memcpy(sp.argv, argv, sizeof(argv));
        int n = snprintf(sp.fail, sizeof(sp.fail), "500\n{\"message\":\"cannot run %s __serve-worker\"}", s->zonebox);
        sp.fail_len = n > 0 && (size_t)n < sizeof(sp.fail) ? (size_t)n : 0;
        /* vfork, not fork: the child shares our memory until its execv and
         * only makes system calls on what SP holds (worker_exec). */
        // cppcheck-suppress vforkCalled
        pid_t pid = vfork(); // NOLINT(clang-analyzer-security.insecureAPI.vfork): see above
        if (pid == 0)
                worker_exec(s, &sp); // NOLINT(clang-analyzer-unix.Vfork): system calls only, then execv or _exit
        int e = errno;
        close(p[1]);
        close(sp.body);
        if (pid < 0) {
                close(p[0]);
                return -e;
        }
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        j->fd = p[0];
        j->pid = pid;
        /* The worker's end: its exit, not the pipe's EOF (a session daemon
         * it forked keeps a copy of the pipe open). */
        j->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (j->pidfd < 0) {
                e = errno;
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                close(j->fd);
                j->fd = -1;
                return -e;
        }
        j->state = JOB_RUNNING;
        j->start_ns = util_now_ns();
        s->running++;
        return 0;
}

static void schedule(struct srv *s)
{
        while (s->qhead && s->running < s->conf.workers) {
                struct job *j = s->qhead;
                s->qhead = j->qnext;
                if (!s->qhead)
                        s->qtail = NULL;
                s->queued--;
                int r = job_start(s, j);
                if (r < 0)
                        job_done(s, j, 500, util_asprintf("{\"message\":\"cannot start a worker: %s\"}", strerror(-r)));
        }
}

static void queue_remove(struct srv *s, struct job *j)
{
        struct job **pp = &s->qhead, *last = NULL;
        while (*pp && *pp != j) {
                last = *pp;
                pp = &(*pp)->qnext;
        }
        if (!*pp)
                return;
        *pp = j->qnext;
        if (s->qtail == j)
                s->qtail = last;
        s->queued--;
}

/* Cancel: a queued job never starts; a running one's worker is killed (its
 * sandbox dies with it); either answers {"id", "state": "cancelled"}. */
static void job_cancel(struct srv *s, struct job *j)
{
        if (j->state == JOB_DONE || j->cancelled)
                return;
        j->cancelled = true;
        if (j->state == JOB_RUNNING) {
                kill(j->pid, SIGKILL);
                return;
        }
        queue_remove(s, j);
        job_done(s, j, 200, util_asprintf("{\"id\":\"%s\",\"state\":\"cancelled\"}", j->id));
}

/* The worker wrote or exited: take what it wrote; once it exited, reap it. */
static void job_read(struct srv *s, struct job *j, bool exited)
{
        for (;;) {
                if (j->out_len + 65536 > j->out_cap) {
                        size_t cap = j->out_cap ? j->out_cap * 2 : 65536;
                        char *n = cap <= SRV_MAX_RESULT_BYTES ? realloc(j->out, cap + 1) : NULL;
                        if (!n) { /* too large (or no memory): a 500 */
                                kill(j->pid, SIGKILL);
                                j->out_len = 0;
                                break;
                        }
                        j->out = n;
                        j->out_cap = cap;
                }
                ssize_t n = read(j->fd, j->out + j->out_len, j->out_cap - j->out_len);
                if (n > 0) {
                        j->out_len += (size_t)n;
                        continue;
                }
                if (n < 0 && errno == EAGAIN && !exited)
                        return;
                break;
        }
        if (!exited) { /* EOF before the exit: wait for the pidfd */
                close(j->fd);
                j->fd = -1;
                return;
        }
        int ws = 0;
        waitpid(j->pid, &ws, 0);
        if (j->fd >= 0)
                close(j->fd);
        close(j->pidfd);
        j->fd = j->pidfd = -1;
        s->running--;
        if (WIFSIGNALED(ws)) {
                struct zb_error err = { 0 };
                unsigned removed = 0;
                (void)zb_gc(s->ctx.policy.base->limits.cgroup_parent, &removed, &err);
        }
        char *nl = j->out ? memchr(j->out, '\n', j->out_len) : NULL;
        int status = 500;
        char *text;
        if (j->cancelled) {
                status = 200;
                text = util_asprintf("{\"id\":\"%s\",\"state\":\"cancelled\"}", j->id);
        } else if (j->drained) {
                status = 503;
                text = util_strdup("{\"message\":\"the server shut down before the run finished "
                                     "(serve.drain_timeout); its sandbox was killed\"}");
        } else if (!nl || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
                text = util_asprintf("{\"message\":\"the worker died (%s %d) before answering\"}",
                                       WIFSIGNALED(ws) ? "signal" : "exit status",
                                       WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
        } else {
                j->out[j->out_len] = '\0';
                long code = strtol(j->out, NULL, 10);
                status = code >= 200 && code < 600 ? (int)code : 500;
                text = util_strdup(nl + 1);
        }
        free(j->out);
        j->out = NULL;
        j->out_len = j->out_cap = 0;
        job_done(s, j, status, text); /* may free J */
}

/* A new job for REQ's connection: started, queued, or refused (429). */
static enum MHD_Result job_submit(struct srv *s, struct MHD_Connection *conn, struct req *r, long owner,
                                  enum srv_kind kind, json_object *body, const char *session, bool wait)
{
        if (s->running >= s->conf.workers && s->queued >= s->conf.queue) {
                json_object_put(body);
                return reject(s, conn, REJ_QUEUE, 429, "1", "queue full: try again later");
        }
        struct job *j = calloc(1, sizeof(*j));
        unsigned char rnd[8];
        if (!j || getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
                free(j);
                json_object_put(body);
                return reject(s, conn, REJ_BAD, 500, NULL, "out of memory");
        }
        for (size_t i = 0; i < sizeof(rnd); i++)
                snprintf(j->id + 2 * i, 3, "%02x", rnd[i]);
        j->owner = owner;
        j->kind = kind;
        j->body = body;
        j->wait = wait;
        j->fd = j->pidfd = -1;
        j->queued_ns = util_now_ns();
        j->raw = malloc(r->len + 1);
        if (j->raw)
                memcpy(j->raw, r->body ? r->body : "", r->len);
        j->raw_len = j->raw ? r->len : 0;
        if (session)
                snprintf(j->session, sizeof(j->session), "%s", session);
        j->next = s->jobs;
        if (s->jobs)
                s->jobs->prev = j;
        s->jobs = j;
        if (s->qtail)
                s->qtail->qnext = j;
        else
                s->qhead = j;
        s->qtail = j;
        s->queued++;
        if (wait) {
                r->job = j;
                j->conn = conn;
                MHD_suspend_connection(conn);
        }
        schedule(s);
        if (wait)
                return MHD_YES;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(j->id));
        json_object_object_add(o, "state", json_object_new_string(j->state == JOB_QUEUED ? "queued" : "running"));
        return respond_json(conn, 202, o);
}

/* ------------------------------------------------------------ metrics */

static enum MHD_Result metrics(struct srv *s, struct MHD_Connection *conn)
{
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f)
                return MHD_NO;
        fputs("# HELP zonebox_runs_total Jobs finished, by the verdict's status.\n"
              "# TYPE zonebox_runs_total counter\n", f);
        for (size_t i = 0; i < MAX_STATUSES && s->m.status[i][0]; i++)
                fprintf(f, "zonebox_runs_total{status=\"%s\"} %llu\n", s->m.status[i], s->m.runs[i]);
        fputs("# HELP zonebox_run_duration_seconds Time from a job's start to its answer.\n"
              "# TYPE zonebox_run_duration_seconds histogram\n", f);
        for (size_t k = 0; k < ARRAY_SIZE(hist_le); k++)
                fprintf(f, "zonebox_run_duration_seconds_bucket{le=\"%g\"} %llu\n", hist_le[k], s->m.hist[k]);
        fprintf(f, "zonebox_run_duration_seconds_bucket{le=\"+Inf\"} %llu\n", s->m.count);
        fprintf(f, "zonebox_run_duration_seconds_sum %.6f\nzonebox_run_duration_seconds_count %llu\n", s->m.sum,
                s->m.count);
        fprintf(f, "# HELP zonebox_queue_length Jobs waiting for a worker.\n# TYPE zonebox_queue_length gauge\n"
                   "zonebox_queue_length %u\n", s->queued);
        fprintf(f, "# HELP zonebox_running_sandboxes Workers running a job.\n"
                   "# TYPE zonebox_running_sandboxes gauge\nzonebox_running_sandboxes %u\n", s->running);
        fputs("# HELP zonebox_rejected_requests_total Requests refused, by reason.\n"
              "# TYPE zonebox_rejected_requests_total counter\n", f);
        for (size_t i = 0; i < ARRAY_SIZE(reject_names); i++)
                fprintf(f, "zonebox_rejected_requests_total{reason=\"%s\"} %llu\n", reject_names[i], s->m.rejected[i]);
        fclose(f);
        enum MHD_Result ret = respond_text(conn, 200, text, len, "text/plain; version=0.0.4", NULL);
        free(text);
        return ret;
}

/* ------------------------------------------------------------ routes */

static json_object *parse_body(const struct req *r, struct zb_error *err)
{
        if (!r->len) {
                err_set(err, EINVAL, "body: expected a JSON object");
                return NULL;
        }
        json_tokener *t = json_tokener_new();
        json_object *o = t ? json_tokener_parse_ex(t, r->body, (int)r->len) : NULL;
        enum json_tokener_error e = t ? json_tokener_get_error(t) : json_tokener_error_parse_eof;
        if (o && (size_t)json_tokener_get_parse_end(t) < r->len) {
                json_object_put(o);
                o = NULL;
                err_set(err, EINVAL, "body: text after the JSON value");
        } else if (!o || e != json_tokener_success) {
                json_object_put(o);
                o = NULL;
                err_set(err, EINVAL, "body: invalid JSON at offset %zu: %s", t ? json_tokener_get_parse_end(t) : 0,
                        json_tokener_error_desc(e == json_tokener_continue ? json_tokener_error_parse_eof : e));
        } else if (!json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                o = NULL;
                err_set(err, EINVAL, "body: expected a JSON object");
        }
        if (t)
                json_tokener_free(t);
        return o;
}

static enum MHD_Result bad(struct srv *s, struct MHD_Connection *conn, int status, const struct zb_error *err)
{
        return reject(s, conn, status == 403 ? REJ_FORBIDDEN : REJ_BAD, (unsigned)status, NULL, err->message);
}

static bool wants_wait(struct MHD_Connection *conn)
{
        const char *w = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "wait");
        return !w || (strcmp(w, "false") != 0 && strcmp(w, "0") != 0);
}

static enum MHD_Result post_job(struct srv *s, struct MHD_Connection *conn, struct req *r, long owner,
                                enum srv_kind kind, const char *session)
{
        struct zb_error err = { 0 };
        json_object *body = NULL;
        if (kind != SRV_SESSION_STOP && kind != SRV_PISTON && !(body = parse_body(r, &err)))
                return bad(s, conn, 400, &err);
        if (kind == SRV_RUN && json_object_object_get_ex(body, "runtime", NULL))
                kind = SRV_RUNTIME;
#ifdef ZB_SERVE_HAVE_RUNTIMES
        if (kind == SRV_PISTON) {
                int status = 400;
                json_object *o = srv_piston_execute(s->ctx.policy.base, s->ctx.rt, r->body ? r->body : "", r->len,
                                                    false, &status);
                if (status != 200)
                        return respond_json(conn, (unsigned)status, o);
                json_object_put(o);
        }
#else
        if (kind == SRV_RUNTIME || kind == SRV_PISTON) {
                json_object_put(body);
                return reject(s, conn, REJ_BAD, 404, NULL, "runtimes are not built into this zonebox");
        }
#endif
        int status = srv_check(&s->ctx, kind, body, &err);
        if (status) {
                json_object_put(body);
                return bad(s, conn, status, &err);
        }
        if (kind == SRV_SESSION_START && session_count(s) >= SRV_MAX_SESSIONS) {
                json_object_put(body);
                return reject(s, conn, REJ_QUEUE, 429, "60", "sessions: this server already keeps 64 sessions");
        }
        return job_submit(s, conn, r, owner, kind, body, session, kind != SRV_RUN || wants_wait(conn));
}

static enum MHD_Result runs_id(struct srv *s, struct MHD_Connection *conn, const char *method, const char *id,
                               long owner)
{
        struct job *j = job_find(s, id, owner);
        if (!j || j->wait)
                return reject(s, conn, REJ_BAD, 404, NULL, "run: no such run");
        if (!strcmp(method, "DELETE")) {
                job_cancel(s, j);
                json_object *o = json_object_new_object();
                json_object_object_add(o, "id", json_object_new_string(j->id));
                json_object_object_add(o, "state", json_object_new_string(j->cancelled ? "cancelled" : "done"));
                return respond_json(conn, 200, o);
        }
        if (j->state != JOB_DONE) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "id", json_object_new_string(j->id));
                json_object_object_add(o, "state", json_object_new_string(j->state == JOB_QUEUED ? "queued" : "running"));
                return respond_json(conn, 202, o);
        }
        return respond_text(conn, (unsigned)j->status, j->answer ? j->answer : "{}",
                            j->answer ? strlen(j->answer) : 2, "application/json", NULL);
}

static enum MHD_Result sessions(struct srv *s, struct MHD_Connection *conn, struct req *r, const char *method,
                                const char *rest, long owner)
{
        if (!*rest && !strcmp(method, "POST"))
                return post_job(s, conn, r, owner, SRV_SESSION_START, NULL);
        char id[64];
        const char *slash = strchr(rest, '/');
        size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
        if (!n || n >= sizeof(id))
                return reject(s, conn, REJ_BAD, 404, NULL, "no such session");
        memcpy(id, rest, n);
        id[n] = '\0';
        if (!session_owned(s, id, owner))
                return reject(s, conn, REJ_BAD, 404, NULL, "session: no such session");
        if (slash && !strcmp(slash, "/exec") && !strcmp(method, "POST"))
                return post_job(s, conn, r, owner, SRV_SESSION_EXEC, id);
        if (!slash && !strcmp(method, "DELETE"))
                return post_job(s, conn, r, owner, SRV_SESSION_STOP, id);
        return reject(s, conn, REJ_BAD, 405, NULL, "method not allowed");
}

static enum MHD_Result runtimes(struct srv *s, struct MHD_Connection *conn, bool piston)
{
#ifdef ZB_SERVE_HAVE_RUNTIMES
        return respond_json(conn, 200, srv_runtimes_json(s->ctx.rt, piston));
#else
        (void)piston;
        return reject(s, conn, REJ_BAD, 404, NULL, "runtimes are not built into this zonebox");
#endif
}

static enum MHD_Result health(struct srv *s, struct MHD_Connection *conn)
{
        json_object *o = json_object_new_object();
        json_object_object_add(o, "status", json_object_new_string(s->draining ? "draining" : "ok"));
        json_object_object_add(o, "workers", json_object_new_int((int)s->conf.workers));
        json_object_object_add(o, "running", json_object_new_int((int)s->running));
        json_object_object_add(o, "queued", json_object_new_int((int)s->queued));
        return respond_json(conn, s->draining ? 503 : 200, o);
}

static enum MHD_Result route(struct srv *s, struct MHD_Connection *conn, struct req *r, const char *url,
                             const char *method)
{
        bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST"), del = !strcmp(method, "DELETE");
        if (get && !strcmp(url, "/v1/health"))
                return health(s, conn);
        long owner = authenticate(s, conn);
        if (owner < 0)
                return reject(s, conn, REJ_AUTH, 401, NULL, "Authorization: Bearer TOKEN required");
        unsigned wait = rate_wait(s, owner);
        if (wait) {
                char ra[16];
                snprintf(ra, sizeof(ra), "%u", wait);
                return reject(s, conn, REJ_RATE, 429, ra, "rate limit: too many requests for this token");
        }
        if (get && !strcmp(url, "/metrics"))
                return metrics(s, conn);
        if (s->draining && (post || del))
                return reject(s, conn, REJ_DRAINING, 503, "5", "the server is shutting down");
        if (post && !strcmp(url, "/v1/runs"))
                return post_job(s, conn, r, owner, SRV_RUN, NULL);
        if ((get || del) && !strncmp(url, "/v1/runs/", 9) && url[9] && !strchr(url + 9, '/'))
                return runs_id(s, conn, method, url + 9, owner);
        if (!strcmp(url, "/v1/sessions") || !strncmp(url, "/v1/sessions/", 13))
                return sessions(s, conn, r, method, url[12] ? url + 13 : "", owner);
        if (get && (!strcmp(url, "/v1/runtimes") || !strcmp(url, "/api/v2/runtimes")))
                return runtimes(s, conn, url[1] == 'a');
        if (post && !strcmp(url, "/api/v2/execute"))
                return post_job(s, conn, r, owner, SRV_PISTON, NULL);
        return reject(s, conn, REJ_BAD, 404, NULL, "no such endpoint");
}

/* The answer of R's job, after its connection was resumed. */
static enum MHD_Result answer(struct srv *s, struct MHD_Connection *conn, struct req *r)
{
        struct job *j = r->job;
        r->job = NULL;
        enum MHD_Result ret = respond_text(conn, (unsigned)j->status, j->answer ? j->answer : "{}",
                                           j->answer ? strlen(j->answer) : 2, "application/json", NULL);
        job_free(s, j);
        return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
        (void)version;
        struct srv *s = cls;
        struct req *r = *con_cls;
        if (!r) {
                if (!(r = calloc(1, sizeof(*r))))
                        return MHD_NO;
                r->start_ns = util_now_ns();
                *con_cls = r;
                const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
                if (cl && strtoull(cl, NULL, 10) > s->conf.body_limit)
                        r->too_big = true;
                else
                        return MHD_YES;
        }
        if (r->job)
                return r->job->state == JOB_DONE ? answer(s, conn, r) : MHD_YES;
        if (*upload_size) {
                if (util_now_ns() - r->start_ns > s->conf.request_timeout_ms * 1000000ull)
                        r->timed_out = true;
                else if (!r->too_big && r->len + *upload_size > s->conf.body_limit)
                        r->too_big = true;
                else if (!r->too_big) {
                        char *n = realloc(r->body, r->len + *upload_size + 1);
                        if (!n)
                                return MHD_NO;
                        memcpy(n + r->len, upload, *upload_size);
                        r->body = n;
                        r->len += *upload_size;
                        r->body[r->len] = '\0';
                }
                *upload_size = 0;
                if (r->timed_out)
                        return refuse_now(s, conn, REJ_TIMEOUT, 408, "Request Timeout",
                                          "request timeout: the body came slower than serve.request_timeout");
                if (r->too_big)
                        return refuse_now(s, conn, REJ_BODY, 413, "Content Too Large",
                                          "body: larger than serve.body_limit");
                return MHD_YES;
        }
        /* A Content-Length over the limit: refused before the body. */
        if (r->too_big) {
                char msg[96];
                snprintf(msg, sizeof(msg), "body: larger than serve.body_limit (%llu bytes)",
                         (unsigned long long)s->conf.body_limit);
                return reject(s, conn, REJ_BODY, 413, NULL, msg);
        }
        return route(s, conn, r, url, method);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
        (void)conn, (void)toe;
        struct srv *s = cls;
        struct req *r = *con_cls;
        if (!r)
                return;
        if (r->job) { /* the client went away before its answer: cancel */
                r->job->conn = NULL;
                if (r->job->state == JOB_DONE)
                        job_free(s, r->job);
                else
                        job_cancel(s, r->job);
        }
        free(r->body);
        free(r);
        *con_cls = NULL;
}

/* ------------------------------------------------------------ listening */

static int default_socket(char *buf, size_t n)
{
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        char dir[PATH_MAX];
        if (geteuid() == 0)
                snprintf(dir, sizeof(dir), "/run/zonebox");
        else if (xdg && *xdg == '/')
                snprintf(dir, sizeof(dir), "%s/zonebox", xdg);
        else
                snprintf(dir, sizeof(dir), "/tmp/zonebox-%u", (unsigned)geteuid());
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        return snprintf(buf, n, "%s/serve.sock", dir) < (int)n ? 0 : -ENAMETOOLONG;
}

static int listen_unix(struct srv *s, const char *path, struct zb_error *err)
{
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(a.sun_path))
                return err_set(err, ENAMETOOLONG, "--socket: %s: longer than a unix socket path can be", path);
        memcpy(a.sun_path, path, strlen(path) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return err_errno(err, errno, "socket");
        struct stat st;
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode)) {
                        close(fd);
                        return err_set(err, EEXIST, "--socket: %s exists and is not a socket", path);
                }
                int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                bool live = probe >= 0 && connect(probe, (struct sockaddr *)&a, sizeof(a)) == 0;
                if (probe >= 0)
                        close(probe);
                if (live) {
                        close(fd);
                        return err_set(err, EADDRINUSE, "--socket: %s: another server listens there", path);
                }
                unlink(path);
        }
        mode_t old = umask(0177);
        int r = bind(fd, (struct sockaddr *)&a, sizeof(a));
        umask(old);
        if (r < 0 || chmod(path, 0600) < 0 || listen(fd, 128) < 0) {
                int e = errno;
                close(fd);
                return err_errno(err, e, "--socket: %s", path);
        }
        s->listen_fd = fd;
        s->sock_path = util_strdup(path);
        return 0;
}

static int listen_tcp(struct srv *s, const char *spec, struct zb_error *err)
{
        char host[256];
        const char *colon = strrchr(spec, ':');
        if (!colon || colon == spec || !colon[1] || (size_t)(colon - spec) >= sizeof(host))
                return err_set(err, EINVAL, "--listen: %s: expected ADDR:PORT", spec);
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
        char *h = host;
        if (*h == '[' && h[strlen(h) - 1] == ']') {
                h[strlen(h) - 1] = '\0';
                h++;
        }
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *ai = NULL;
        int g = getaddrinfo(h, colon + 1, &hints, &ai);
        if (g)
                return err_set(err, EINVAL, "--listen: %s: %s", spec, gai_strerror(g));
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
                int e = errno;
                if (fd >= 0)
                        close(fd);
                freeaddrinfo(ai);
                return err_errno(err, e, "--listen: %s", spec);
        }
        freeaddrinfo(ai);
        s->listen_fd = fd;
        s->tcp = true;
        return 0;
}

/* ------------------------------------------------------------ the loop */

static void stop_accepting(struct srv *s)
{
        s->draining = true;
        s->drain_deadline = util_now_ns() + s->conf.drain_ms * 1000000ull;
        MHD_socket fd = MHD_quiesce_daemon(s->d);
        if (fd != MHD_INVALID_SOCKET)
                close(fd);
        s->listen_fd = -1;
        if (s->sock_path)
                unlink(s->sock_path);
        while (s->qhead) {
                struct job *j = s->qhead;
                queue_remove(s, j);
                j->cancelled = true;
                job_done(s, j, 503, util_strdup("{\"message\":\"the server is shutting down\"}"));
        }
}

static size_t poll_set(struct srv *s, struct pollfd *pfd, struct job **who, bool *exit_fd, size_t max)
{
        size_t n = 0;
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);
        pfd[n] = (struct pollfd){ .fd = di ? di->epoll_fd : -1, .events = POLLIN };
        who[n++] = NULL;
        pfd[n] = (struct pollfd){ .fd = s->sig_fd, .events = POLLIN };
        who[n++] = NULL;
        for (struct job *j = s->jobs; j && n + 2 <= max; j = j->next) {
                if (j->state != JOB_RUNNING)
                        continue;
                if (j->fd >= 0) {
                        exit_fd[n] = false;
                        pfd[n] = (struct pollfd){ .fd = j->fd, .events = POLLIN };
                        who[n++] = j;
                }
                exit_fd[n] = true;
                pfd[n] = (struct pollfd){ .fd = j->pidfd, .events = POLLIN };
                who[n++] = j;
        }
        return n;
}

static int poll_timeout(struct srv *s)
{
        MHD_UNSIGNED_LONG_LONG t = 0;
        int ms = MHD_get_timeout(s->d, &t) == MHD_YES ? (t > 1000 ? 1000 : (int)t) : 1000;
        if (s->draining) {
                uint64_t now = util_now_ns();
                int left = s->drain_deadline > now ? (int)((s->drain_deadline - now) / 1000000 + 1) : 10;
                ms = left < ms ? left : ms;
        }
        return ms;
}

static bool handle_signals(struct srv *s)
{
        struct signalfd_siginfo si;
        bool stop = false;
        while (read(s->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                stop = stop || si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT;
        return stop;
}

static unsigned waiting_answers(const struct srv *s)
{
        unsigned n = 0;
        for (const struct job *j = s->jobs; j; j = j->next)
                n += j->conn != NULL;
        return n;
}

static void serve_loop(struct srv *s)
{
        size_t max = 2 + 2 * (size_t)s->conf.workers;
        _cleanup_(freep) struct pollfd *pfd = calloc(max, sizeof(*pfd));
        _cleanup_(freep) struct job **who = calloc(max, sizeof(struct job *));
        _cleanup_(freep) bool *exit_fd = calloc(max, sizeof(*exit_fd));
        uint64_t flush_until = 0;
        if (!pfd || !who || !exit_fd)
                return;
        for (;;) {
                size_t n = poll_set(s, pfd, who, exit_fd, max);
                int ready = poll(pfd, (nfds_t)n, poll_timeout(s));
                if (ready < 0 && errno != EINTR)
                        break;
                if (ready > 0 && pfd[1].revents && handle_signals(s) && !s->draining)
                        stop_accepting(s);
                /* A job's pipe comes before its pidfd: a job reaped at its
                 * pidfd is not looked at again in this round. */
                for (size_t i = 2; ready > 0 && i < n; i++)
                        if (pfd[i].revents && who[i]->state == JOB_RUNNING && (exit_fd[i] || who[i]->fd >= 0))
                                job_read(s, who[i], exit_fd[i]);
                schedule(s);
                MHD_run(s->d);
                if (!s->draining)
                        continue;
                uint64_t now = util_now_ns();
                if (s->running && now >= s->drain_deadline)
                        for (struct job *j = s->jobs; j; j = j->next)
                                if (j->state == JOB_RUNNING && !j->drained) {
                                        j->drained = true;
                                        kill(j->pid, SIGKILL);
                                }
                if (s->running || waiting_answers(s))
                        continue;
                /* Answers queued: give their clients a moment to read them. */
                if (!flush_until)
                        flush_until = now + 1000000000ull;
                const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
                if (now >= flush_until || !di || di->num_connections == 0)
                        break;
        }
}

static void shutdown_all(struct srv *s)
{
        for (struct job *j = s->jobs; j; j = j->next)
                if (j->state == JOB_RUNNING) {
                        kill(j->pid, SIGKILL);
                        waitpid(j->pid, NULL, 0);
                }
        for (size_t i = 0; i < SRV_MAX_SESSIONS; i++)
                if (s->sessions[i].id[0]) {
                        struct zb_error err = { 0 };
                        (void)zb_session_stop(NULL, s->sessions[i].id, NULL, &err);
                }
        struct zb_error err = { 0 };
        unsigned removed = 0;
        if (s->ctx.policy.base)
                (void)zb_gc(s->ctx.policy.base->limits.cgroup_parent, &removed, &err);
        if (s->d)
                MHD_stop_daemon(s->d);
        while (s->jobs) {
                s->jobs->conn = NULL;
                job_free(s, s->jobs);
        }
        if (s->listen_fd >= 0)
                close(s->listen_fd);
        if (s->sock_path)
                unlink(s->sock_path);
        free(s->sock_path);
        if (s->sig_fd >= 0)
                close(s->sig_fd);
        if (s->cfg_fd >= 0)
                close(s->cfg_fd);
        if (s->null_fd >= 0)
                close(s->null_fd);
#ifdef ZB_SERVE_HAVE_RUNTIMES
        srv_runtimes_free(s->ctx.rt);
#endif
        mcp_server_free(&s->ctx.policy);
        srv_conf_free(&s->conf);
}

/* ------------------------------------------------------------ setup */

struct opts {
        const char *config, *socket, *listen, *token_file;
};

static int parse_args(int argc, char **argv, struct opts *o)
{
        static const char *const names[] = { "--config", "--socket", "--listen", "--token-file" };
        for (int i = 1; i < argc; i++) {
                const char **slot[] = { &o->config, &o->socket, &o->listen, &o->token_file };
                size_t k = 0;
                const char *val = NULL;
                for (; k < ARRAY_SIZE(names); k++) {
                        size_t l = strlen(names[k]);
                        if (!strcmp(argv[i], names[k]) && i + 1 < argc) {
                                val = argv[++i];
                                break;
                        }
                        if (!strncmp(argv[i], names[k], l) && argv[i][l] == '=') {
                                val = argv[i] + l + 1;
                                break;
                        }
                }
                if (k == ARRAY_SIZE(names) || !*val) {
                        fprintf(stderr, "zonebox serve: %s: unknown option or missing value (see zonebox serve --help)\n",
                                argv[i]);
                        return -EINVAL;
                }
                *slot[k] = val;
        }
        if (o->socket && o->listen) {
                fputs("zonebox serve: --socket and --listen: give one (see zonebox serve --help)\n", stderr);
                return -EINVAL;
        }
        return 0;
}

/* The zonebox binary the workers run: $ZONEBOX_SERVE_ZONEBOX (zonebox serve
 * sets it to itself), else beside us, else ../../bin/zonebox from
 * libexec/zonebox/; and the config's text in a memfd they read. */
static int worker_setup(struct srv *s, struct zb_error *err)
{
        const char *env = getenv("ZONEBOX_SERVE_ZONEBOX");
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        self[n > 0 ? n : 0] = '\0';
        char *slash = strrchr(self, '/');
        if (slash)
                *slash = '\0';
        size_t cap = sizeof(s->zonebox);
        bool fits = env && *env == '/' ? snprintf(s->zonebox, cap, "%s", env) < (int)cap
                                       : snprintf(s->zonebox, cap, "%s/zonebox", self) < (int)cap;
        if (fits && !(env && *env == '/') && access(s->zonebox, X_OK) != 0)
                fits = snprintf(s->zonebox, cap, "%s/../../bin/zonebox", self) < (int)cap;
        if (!fits || access(s->zonebox, X_OK) != 0)
                return err_set(err, ENOENT, "cannot find the zonebox binary the workers run (%s)", s->zonebox);
        s->cfg_fd = memfd_create("zonebox-serve-config", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (s->cfg_fd < 0 || util_write_all(s->cfg_fd, s->ctx.policy.cfg, s->ctx.policy.cfg_len) < 0 ||
            fcntl(s->cfg_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
                return err_errno(err, errno, "the config's memfd");
        s->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        return s->null_fd < 0 ? err_errno(err, errno, "/dev/null") : 0;
}

static int setup(struct srv *s, const struct opts *o, struct zb_error *err)
{
        static const char empty[] = "sandbox: {}\n";
        int r;
        char cwd[PATH_MAX];
        if (o->config)
                r = mcp_server_init(&s->ctx.policy, o->config, -1, -1, err);
        else
                r = mcp_server_init_buffer(&s->ctx.policy, empty, sizeof(empty) - 1, "(no --config)",
                                           getcwd(cwd, sizeof(cwd)) ? cwd : "/", -1, -1, err);
        if (r < 0 || (r = srv_conf_load(&s->conf, s->ctx.policy.cfg, s->ctx.policy.cfg_len, s->ctx.policy.cfg_name,
                                        err)) < 0)
                return r;
#ifdef ZB_SERVE_HAVE_RUNTIMES
        if ((r = srv_runtimes_load(&s->ctx.rt, s->ctx.policy.cfg, s->ctx.policy.cfg_len, s->ctx.policy.cfg_name,
                                   err)) < 0)
                return r;
#endif
        if ((r = worker_setup(s, err)) < 0)
                return r;
        const char *tokens = o->token_file ? o->token_file : s->conf.token_file;
        if (tokens && (r = load_tokens(s, tokens, err)) < 0)
                return r;
        const char *tcp = o->listen ? o->listen : o->socket ? NULL : s->conf.listen;
        if (tcp && !s->n_tokens)
                return err_set(err, EINVAL, "--listen: TCP needs a bearer token: --token-file FILE or serve.token_file");
        if (tcp)
                return listen_tcp(s, tcp, err);
        char path[PATH_MAX];
        const char *sock = o->socket ? o->socket : s->conf.socket;
        if (!sock) {
                if ((r = default_socket(path, sizeof(path))) < 0)
                        return err_errno(err, -r, "the runtime dir for serve.sock");
                sock = path;
        }
        return listen_unix(s, sock, err);
}

static int start_daemon(struct srv *s, struct zb_error *err)
{
        unsigned timeout_s = (unsigned)((s->conf.request_timeout_ms + 999) / 1000);
        s->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL, handle, s,
                                MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->listen_fd,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->conf.max_connections,
                                MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64u << 10),
                                MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
        if (!s->d)
                return err_set(err, EIO, "libmicrohttpd: cannot start the HTTP daemon");
        return 0;
}

int srv_main(int argc, char **argv)
{
        struct opts o = { 0 };
        struct srv s;
        struct zb_error err = { 0 };
        memset(&s, 0, sizeof(s));
        s.listen_fd = s.sig_fd = s.cfg_fd = s.null_fd = -1;
        if (parse_args(argc, argv, &o) < 0)
                return EXIT_USAGE;
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        sigprocmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN);
        s.sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
        if (s.sig_fd < 0 || setup(&s, &o, &err) < 0 || start_daemon(&s, &err) < 0) {
                fprintf(stderr, "zonebox serve: %s\n", s.sig_fd < 0 ? strerror(errno) : err.message);
                shutdown_all(&s);
                return EXIT_USAGE;
        }
        unsigned removed = 0;
        (void)zb_gc(s.ctx.policy.base->limits.cgroup_parent, &removed, &err);
        fprintf(stderr, "zonebox serve: listening on %s%s (%u workers, queue %u)\n", s.tcp ? "" : "unix:",
                s.tcp ? (o.listen ? o.listen : s.conf.listen) : s.sock_path, s.conf.workers, s.conf.queue);
        serve_loop(&s);
        shutdown_all(&s);
        fputs("zonebox serve: stopped\n", stderr);
        return 0;
}
