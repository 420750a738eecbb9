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
#include "server_int.h"

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

enum MHD_Result srv_respond_json(struct MHD_Connection *conn, unsigned status, json_object *o)
{
        size_t len = 0;
        const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                                             &len);
        enum MHD_Result ret = respond_text(conn, status, text ? text : "{}", text ? len : 2, "application/json", NULL);
        json_object_put(o);
        return ret;
}

enum MHD_Result srv_reject(struct srv *s, struct MHD_Connection *conn, int why, unsigned status,
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


/* ------------------------------------------------------------ jobs */

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
        return srv_reject(s, conn, status == 403 ? REJ_FORBIDDEN : REJ_BAD, (unsigned)status, NULL, err->message);
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
                        return srv_respond_json(conn, (unsigned)status, o);
                json_object_put(o);
        }
#else
        if (kind == SRV_RUNTIME || kind == SRV_PISTON) {
                json_object_put(body);
                return srv_reject(s, conn, REJ_BAD, 404, NULL, "runtimes are not built into this zonebox");
        }
#endif
        int status = srv_check(&s->ctx, kind, body, &err);
        if (status) {
                json_object_put(body);
                return bad(s, conn, status, &err);
        }
        if (kind == SRV_SESSION_START && srv_session_count(s) >= SRV_MAX_SESSIONS) {
                json_object_put(body);
                return srv_reject(s, conn, REJ_QUEUE, 429, "60", "sessions: this server already keeps 64 sessions");
        }
        return srv_job_submit(s, conn, r, owner, kind, body, session, kind != SRV_RUN || wants_wait(conn));
}

static enum MHD_Result runs_id(struct srv *s, struct MHD_Connection *conn, const char *method, const char *id,
                               long owner)
{
        struct job *j = srv_job_find(s, id, owner);
        if (!j || j->wait)
                return srv_reject(s, conn, REJ_BAD, 404, NULL, "run: no such run");
        if (!strcmp(method, "DELETE")) {
                srv_job_cancel(s, j);
                json_object *o = json_object_new_object();
                json_object_object_add(o, "id", json_object_new_string(j->id));
                json_object_object_add(o, "state", json_object_new_string(j->cancelled ? "cancelled" : "done"));
                return srv_respond_json(conn, 200, o);
        }
        if (j->state != JOB_DONE) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "id", json_object_new_string(j->id));
                json_object_object_add(o, "state", json_object_new_string(j->state == JOB_QUEUED ? "queued" : "running"));
                return srv_respond_json(conn, 202, o);
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
                return srv_reject(s, conn, REJ_BAD, 404, NULL, "no such session");
        memcpy(id, rest, n);
        id[n] = '\0';
        if (!srv_session_owned(s, id, owner))
                return srv_reject(s, conn, REJ_BAD, 404, NULL, "session: no such session");
        if (slash && !strcmp(slash, "/exec") && !strcmp(method, "POST"))
                return post_job(s, conn, r, owner, SRV_SESSION_EXEC, id);
        if (!slash && !strcmp(method, "DELETE"))
                return post_job(s, conn, r, owner, SRV_SESSION_STOP, id);
        return srv_reject(s, conn, REJ_BAD, 405, NULL, "method not allowed");
}

static enum MHD_Result runtimes(struct srv *s, struct MHD_Connection *conn, bool piston)
{
#ifdef ZB_SERVE_HAVE_RUNTIMES
        return srv_respond_json(conn, 200, srv_runtimes_json(s->ctx.rt, piston));
#else
        (void)piston;
        return srv_reject(s, conn, REJ_BAD, 404, NULL, "runtimes are not built into this zonebox");
#endif
}

static enum MHD_Result health(struct srv *s, struct MHD_Connection *conn)
{
        json_object *o = json_object_new_object();
        json_object_object_add(o, "status", json_object_new_string(s->draining ? "draining" : "ok"));
        json_object_object_add(o, "workers", json_object_new_int((int)s->conf.workers));
        json_object_object_add(o, "running", json_object_new_int((int)s->running));
        json_object_object_add(o, "queued", json_object_new_int((int)s->queued));
        return srv_respond_json(conn, s->draining ? 503 : 200, o);
}

static enum MHD_Result route(struct srv *s, struct MHD_Connection *conn, struct req *r, const char *url,
                             const char *method)
{
        bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST"), del = !strcmp(method, "DELETE");
        if (get && !strcmp(url, "/v1/health"))
                return health(s, conn);
        long owner = srv_authenticate(s, conn);
        if (owner < 0)
                return srv_reject(s, conn, REJ_AUTH, 401, NULL, "Authorization: Bearer TOKEN required");
        unsigned wait = srv_rate_wait(s, owner);
        if (wait) {
                char ra[16];
                snprintf(ra, sizeof(ra), "%u", wait);
                return srv_reject(s, conn, REJ_RATE, 429, ra, "rate limit: too many requests for this token");
        }
        if (get && !strcmp(url, "/metrics"))
                return metrics(s, conn);
        if (s->draining && (post || del))
                return srv_reject(s, conn, REJ_DRAINING, 503, "5", "the server is shutting down");
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
        return srv_reject(s, conn, REJ_BAD, 404, NULL, "no such endpoint");
}

/* The answer of R's job, after its connection was resumed. */
static enum MHD_Result answer(struct srv *s, struct MHD_Connection *conn, struct req *r)
{
        struct job *j = r->job;
        r->job = NULL;
        enum MHD_Result ret = respond_text(conn, (unsigned)j->status, j->answer ? j->answer : "{}",
                                           j->answer ? strlen(j->answer) : 2, "application/json", NULL);
        srv_job_release(s, j);
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
                return srv_reject(s, conn, REJ_BODY, 413, NULL, msg);
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
                        srv_job_release(s, r->job);
                else
                        srv_job_cancel(s, r->job);
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
                srv_queue_remove(s, j);
                j->cancelled = true;
                srv_job_done(s, j, 503, util_strdup("{\"message\":\"the server is shutting down\"}"));
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
                                srv_job_read(s, who[i], exit_fd[i]);
                srv_schedule(s);
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
                srv_job_release(s, s->jobs);
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
        if (tokens && (r = srv_load_tokens(s, tokens, err)) < 0)
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
