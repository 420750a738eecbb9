/* zonebox serve: the job queue, the forked workers and their answers, and
 * the sessions they start (the HTTP side is server.c). */
#include "server_int.h"

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

void srv_job_release(struct srv *s, struct job *j)
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

struct job *srv_job_find(struct srv *s, const char *id, long owner)
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

bool srv_session_owned(const struct srv *s, const char *id, long owner)
{
        for (size_t i = 0; i < SRV_MAX_SESSIONS; i++)
                if (s->sessions[i].id[0] && !strcmp(s->sessions[i].id, id) && s->sessions[i].owner == owner)
                        return true;
        return false;
}

size_t srv_session_count(const struct srv *s)
{
        size_t n = 0;
        for (size_t i = 0; i < SRV_MAX_SESSIONS; i++)
                n += s->sessions[i].id[0] != '\0';
        return n;
}

/* The job has its answer: count it, hand it to the waiting request, or keep
 * it for GET /v1/runs/ID (the oldest kept one goes when there are too many). */
void srv_job_done(struct srv *s, struct job *j, int status, char *answer)
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
                srv_job_release(s, j);
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
                srv_job_release(s, old);
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
        util_worker_fresh(5);
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

void srv_schedule(struct srv *s)
{
        while (s->qhead && s->running < s->conf.workers) {
                struct job *j = s->qhead;
                s->qhead = j->qnext;
                if (!s->qhead)
                        s->qtail = NULL;
                s->queued--;
                int r = job_start(s, j);
                if (r < 0)
                        srv_job_done(s, j, 500, util_asprintf("{\"message\":\"cannot start a worker: %s\"}", strerror(-r)));
        }
}

void srv_queue_remove(struct srv *s, struct job *j)
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
void srv_job_cancel(struct srv *s, struct job *j)
{
        if (j->state == JOB_DONE || j->cancelled)
                return;
        j->cancelled = true;
        if (j->state == JOB_RUNNING) {
                kill(j->pid, SIGKILL);
                return;
        }
        srv_queue_remove(s, j);
        srv_job_done(s, j, 200, util_asprintf("{\"id\":\"%s\",\"state\":\"cancelled\"}", j->id));
}

/* The worker wrote or exited: take what it wrote; once it exited, reap it. */
void srv_job_read(struct srv *s, struct job *j, bool exited)
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
        srv_job_done(s, j, status, text); /* may free J */
}

/* A new job for REQ's connection: started, queued, or refused (429). */
enum MHD_Result srv_job_submit(struct srv *s, struct MHD_Connection *conn, struct req *r, long owner,
                                  enum srv_kind kind, json_object *body, const char *session, bool wait)
{
        if (s->running >= s->conf.workers && s->queued >= s->conf.queue) {
                json_object_put(body);
                return srv_reject(s, conn, REJ_QUEUE, 429, "1", "queue full: try again later");
        }
        struct job *j = calloc(1, sizeof(*j));
        unsigned char rnd[8];
        if (!j || getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
                free(j);
                json_object_put(body);
                return srv_reject(s, conn, REJ_BAD, 500, NULL, "out of memory");
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
        srv_schedule(s);
        if (wait)
                return MHD_YES;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(j->id));
        json_object_object_add(o, "state", json_object_new_string(j->state == JOB_QUEUED ? "queued" : "running"));
        return srv_respond_json(conn, 202, o);
}

/* ------------------------------------------------------------ metrics */

