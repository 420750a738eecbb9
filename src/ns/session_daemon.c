/* A session's daemon (docs/sessions.md): the supervisor of a session's
 * sandbox (supervise.c, ns_run) with these hooks in its loop. It accepts
 * clients on the session's socket — only of our uid and from our user
 * namespace, so a sandbox of the same user is not a client —, decides each
 * exec (approval and audit, the gate), hands the command to the sandbox's
 * init (wire.h) and relays its output (session_relay.c), watches each
 * command's wall time, and stops the session when asked, when idle, or
 * when init is gone. Nothing here blocks: one stuck client cannot stall
 * the others. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "../core/audit.h"
#include "cgroup.h"
#include "ns.h"
#include "proxy.h"
#include "session.h"
#include "session_int.h"
#include "wire.h"

/* ---- the supervisor's hooks (ns.h) */

static int hook_prepare(void *data, const struct ns_proxy *proxy, int *init_fd, struct zb_error *err)
{
        struct sess_daemon *s = data;
        int ctl[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0)
                return err_errno(err, errno, "session: socketpair");
        s->init_fd = ctl[0]; /* ours from here on; ctl[1] is init's */
        s->proxy = proxy;
        *init_fd = ctl[1];
        return 0;
}

static void hook_close_in_child(void *data)
{
        struct sess_daemon *s = data;
        close(s->init_fd);
        close(s->listen_fd);
        if (s->ready_fd >= 0)
                close(s->ready_fd);
}

static void hook_ready(void *data, struct ns_cgroup *cg, const struct zb_result *r)
{
        struct sess_daemon *s = data;
        s->cg = cg;
        s->r = r;
        s->last_ns = s->ready_ns = util_now_ns();
        if (s->ready_fd >= 0) {
                ssize_t n = write(s->ready_fd, "ok", 2);
                (void)n;
                close(s->ready_fd);
                s->ready_fd = -1;
        }
}

static void add_fd(struct sess_daemon *s, struct pollfd *pfd, int *n, int max, int fd, short ev,
                   int kind, int i, int k)
{
        if (fd < 0 || *n >= max)
                return;
        pfd[*n] = (struct pollfd){ .fd = fd, .events = ev };
        s->map[*n].kind = (uint8_t)kind;
        s->map[*n].i = (uint16_t)i;
        s->map[*n].k = (uint8_t)k;
        (*n)++;
}

static int hook_poll_fds(void *data, struct pollfd *pfd, int max)
{
        struct sess_daemon *s = data;
        int n = 0;
        if (max > NS_HOOK_MAX_FDS)
                max = NS_HOOK_MAX_FDS;
        add_fd(s, pfd, &n, max, s->init_fd, POLLIN, POLL_INIT, 0, 0);
        if (!s->stop)
                add_fd(s, pfd, &n, max, s->listen_fd, POLLIN, POLL_LISTEN, 0, 0);
        for (int i = 0; i < MAX_CLIENTS; i++) {
                struct sess_client *c = &s->cl[i];
                add_fd(s, pfd, &n, max, c->fd, POLLIN, POLL_CLIENT, i, 0);
                for (int k = 0; k < 2; k++) {
                        struct sess_relay *rl = &c->io[k];
                        if (rl->len && rl->dst >= 0)
                                add_fd(s, pfd, &n, max, rl->dst, POLLOUT, POLL_RELAY, i, k);
                        else
                                add_fd(s, pfd, &n, max, rl->src, POLLIN, POLL_RELAY, i, k);
                }
        }
        for (int i = 0; i < MAX_SINKS; i++)
                add_fd(s, pfd, &n, max, s->sink[i], POLLIN, POLL_SINK, i, 0);
        return n;
}

static void client_free_exec(struct sess_client *c)
{
        for (int k = 0; k < 2; k++) {
                struct sess_relay *rl = &c->io[k];
                if (rl->src >= 0)
                        close(rl->src);
                sess_relay_close_dst(rl);
                free(rl->buf);
                *rl = (struct sess_relay){ .src = -1, .dst = -1 };
        }
        util_strv_free(c->argv);
        util_strv_free(c->env);
        c->argv = c->env = NULL;
        c->busy = false;
        c->pid = 0;
}

static void client_close(struct sess_client *c)
{
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        c->stopper = false;
}

static void send_result(struct sess_client *c, const struct zb_result *r)
{
        struct sess_reply_result m = { .type = SESS_REPLY_RESULT, .exec_id = c->exec_id };
        sess_result_pack(r, &m);
        if (c->fd >= 0 && send(c->fd, &m, sizeof(m), MSG_NOSIGNAL) < 0)
                client_close(c);
}

/* A verdict for an exec that went nowhere: into the audit log and to the client. */
void sess_exec_error(struct sess_daemon *s, struct sess_client *c, enum pol_setup_kind kind,
                     const char *msg, bool gated)
{
        struct zb_result *r = res_new(pol_backend_name(ZB_BACKEND_NAMESPACE));
        if (r) {
                r->status = ZB_STATUS_SETUP_ERROR;
                r->setup_kind = kind;
                r->error = util_strdup(msg);
                if (s->r)
                        for (size_t i = 0; i < s->r->n_applied; i++)
                                res_layer(r, s->r->applied[i], true);
                send_result(c, r);
        }
        if (gated)
                gate_leave(&c->q, &c->gate, r, msg);
        zb_result_free(r);
        client_free_exec(c);
}

static void kill_exec(struct sess_daemon *s, struct sess_client *c, int sig)
{
        struct sess_init_kill k = { .type = SESS_INIT_KILL, .id = c->exec_id, .sig = sig };
        if (send(s->init_fd, &k, sizeof(k), MSG_NOSIGNAL) < 0)
                s->stop = true; /* init is unreachable: nothing else can be done */
}

/* Strings of a client's SESS_REQ_EXEC into a NULL-terminated vector. */
static char *take_strings(char *p, const char *end, uint32_t n, char ***out)
{
        char **v = calloc((size_t)n + 1, sizeof(char *));
        *out = v;
        if (!v)
                return NULL;
        for (uint32_t i = 0; i < n; i++) {
                const char *z = memchr(p, '\0', (size_t)(end - p));
                if (!z || !(v[i] = strdup(p)))
                        return NULL;
                p = (char *)z + 1;
        }
        return p;
}

/* The session's policy with the command of request M (LEN bytes), its
 * variables added to the session's, its workdir and time limit, into C->Q;
 * the request's strings into C. A message when the request is malformed. */
static const char *exec_policy(struct sess_daemon *s, struct sess_client *c, struct sess_req_exec *m, size_t len)
{
        const char *end = (const char *)m + len;
        char *wd;

        if (len < offsetof(struct sess_req_exec, blob) || m->argc == 0 || m->argc > 4096 || m->envc > 4096 ||
            !(wd = take_strings(m->blob, end, m->argc, &c->argv)) ||
            !(wd = take_strings(wd, end, m->envc, &c->env)) || !memchr(wd, '\0', (size_t)(end - wd)))
                return "session: malformed exec request";
        c->q = *s->p;
        c->q.argv = c->argv;
        c->q.argc = m->argc;
        if (*wd)
                c->q.workdir = wd;
        size_t n_env = s->p->n_env;
        for (uint32_t i = 0; i < m->envc; i++)
                if (!strchr(c->env[i], '='))
                        return "session exec: -e needs KEY=VALUE";
        char **env = calloc(n_env + m->envc + 1, sizeof(char *));
        if (!env)
                return "out of memory";
        if (n_env)
                memcpy(env, s->p->env, n_env * sizeof(char *));
        if (m->envc)
                memcpy(env + n_env, c->env, m->envc * sizeof(char *));
        c->q.env = env; /* ours, its strings borrowed: exec_policy_env_free */
        c->q.n_env = n_env + m->envc;
        c->wall_ms = m->timeout_ms >= 0 ? (uint64_t)m->timeout_ms : s->p->limits.wall_time_ms;
        c->q.limits.wall_time_ms = c->wall_ms;
        return NULL;
}

/* From here on the audit lines name the command, not its variables. */
static void exec_policy_env_free(struct sess_client *c)
{
        free(c->q.env);
        c->q.env = NULL;
        c->q.n_env = 0;
}

/* Init's EXEC record into X (*LEN: its size): argv, the whole environment,
 * the working directory. A message when it cannot be built. */
static const char *exec_record(struct sess_client *c, struct sess_init_exec *x, size_t *len)
{
        char **envp = pol_build_env(&c->q);
        bool overflow = false;
        size_t blen = 0;
        x->type = SESS_INIT_EXEC;
        x->id = c->exec_id;
        x->argc = (uint32_t)c->q.argc;
        x->envc = 0;
        for (uint32_t i = 0; i < x->argc; i++)
                sess_blob_add(x->blob, sizeof(x->blob), &blen, c->argv[i], &overflow);
        for (size_t i = 0; envp && envp[i]; i++, x->envc++)
                sess_blob_add(x->blob, sizeof(x->blob), &blen, envp[i], &overflow);
        sess_blob_add(x->blob, sizeof(x->blob), &blen, c->q.workdir ? c->q.workdir : "", &overflow);
        util_strv_free(envp);
        exec_policy_env_free(c);
        if (!envp || overflow)
                return overflow ? "session exec: command and environment exceed 64 KiB" : "out of memory";
        x->blob_len = (uint32_t)blen;
        *len = offsetof(struct sess_init_exec, blob) + blen;
        return NULL;
}

/* The command writes into our pipes, CMD_FDS[1] and [2]; we pass it on to
 * the client's, FDS[1] and [2] (relays), which become ours. -1 on failure
 * (the pipes made so far closed). */
static int exec_relays(struct sess_client *c, int fds[4], int cmd_fds[3])
{
        for (int k = 0; k < 2; k++) {
                int pp[2];
                struct sess_relay *rl = &c->io[k];
                bool piped = pipe2(pp, O_CLOEXEC) == 0;
                if (!piped || !(rl->buf = malloc(RELAY_BUF))) {
                        if (piped) {
                                close(pp[0]);
                                close(pp[1]);
                        }
                        for (int j = 1; j <= k; j++)
                                if (cmd_fds[j] >= 0)
                                        close(cmd_fds[j]);
                        return -1;
                }
                fcntl(pp[0], F_SETFL, O_NONBLOCK);
                rl->src = pp[0];
                cmd_fds[k + 1] = pp[1];
                rl->dst = fds[k + 1]; /* ours now: on_client does not close it */
                fds[k + 1] = -1;
                fcntl(rl->dst, F_SETFL, O_NONBLOCK); /* only our copy of the write end is left */
        }
        return 0;
}

/* FDS: the command's stdin, stdout, stderr, and the exec's terminal (for
 * approval questions) or -1. */
static void on_exec(struct sess_daemon *s, struct sess_client *c, struct sess_req_exec *m, size_t len, int fds[4])
{
        static struct sess_init_exec x;
        struct zb_error err = { 0 };
        struct zb_result *denied = NULL;
        size_t xlen;

        c->exec_id = ++s->next_id;
        c->busy = true;
        c->timed_out = c->killed = false;
        const char *bad = exec_policy(s, c, m, len);
        if (bad) { /* nothing allocated for C->Q yet */
                sess_exec_error(s, c, ZB_SETUP_FAILED, bad, false);
                return;
        }

        /* Approval: asked on the exec's own terminal, if it has one. */
        struct zb_ask_tty tty = { .in_fd = fds[0], .out_fd = fds[3], .scope = "session" };
        if (c->q.approval.ask)
                c->q.approval.ask_data = &tty;
        int r = gate_enter(&c->q, &c->gate, &denied, &err);
        if (r < 0 || denied) {
                if (denied)
                        send_result(c, denied);
                else
                        sess_exec_error(s, c, ZB_SETUP_FAILED, err.message, false);
                zb_result_free(denied);
                exec_policy_env_free(c);
                client_free_exec(c);
                return;
        }
        if ((bad = exec_record(c, &x, &xlen))) {
                sess_exec_error(s, c, ZB_SETUP_FAILED, bad, true);
                return;
        }

        struct sess_reply_accepted a = { .type = SESS_REPLY_ACCEPTED, .exec_id = c->exec_id,
                                         .output_limit = s->p->limits.output,
                                         .output_kill = s->p->limits.output_kill,
                                         .output_set = s->p->limits.output_set };
        if (send(c->fd, &a, sizeof(a), MSG_NOSIGNAL) < 0) {
                sess_exec_error(s, c, ZB_SETUP_FAILED, "session exec: the client went away", true);
                return;
        }
        c->oom_base = s->cg ? ns_cgroup_oom_kills(s->cg) : 0;
        sess_viol_begin(s, c);
        events_emit(&s->ev, &c->q, "exec", &c->gate.d, NULL, NULL);
        ns_proxy_counts_now(s->proxy, &c->net_base);
        c->sent_ns = util_now_ns();
        c->exec_ns = c->deadline_ns = 0;
        int cmd_fds[3] = { fds[0], -1, -1 };
        if (exec_relays(c, fds, cmd_fds) < 0) {
                sess_exec_error(s, c, ZB_SETUP_FAILED, "session exec: out of pipes or memory", true);
                return;
        }
        r = sess_send_fds(s->init_fd, &x, xlen, cmd_fds, 3);
        close(cmd_fds[1]);
        close(cmd_fds[2]);
        if (r < 0) {
                sess_exec_error(s, c, ZB_SETUP_FAILED, "session: init is gone", true);
                s->stop = true;
        }
}

static struct sess_client *client_by_exec_id(struct sess_daemon *s, uint32_t id)
{
        for (int i = 0; i < MAX_CLIENTS; i++)
                if (s->cl[i].busy && s->cl[i].exec_id == id)
                        return &s->cl[i];
        return NULL;
}

static void on_done(struct sess_daemon *s, struct sess_client *c, const struct sess_init_reply *rep, uint64_t now)
{
        struct zb_result *r = res_new(pol_backend_name(ZB_BACKEND_NAMESPACE));
        if (!r) {
                sess_exec_error(s, c, ZB_SETUP_FAILED, "out of memory", true);
                return;
        }
        for (size_t i = 0; s->r && i < s->r->n_applied; i++)
                res_layer(r, s->r->applied[i], true);
        for (size_t i = 0; s->r && i < s->r->n_skipped; i++)
                res_layer(r, s->r->skipped[i], false);
        uint64_t start = c->exec_ns ? c->exec_ns : c->sent_ns;
        r->wall_ms = (double)(now - start) / 1e6;
        r->cpu_user_ms = (double)rep->utime_us / 1e3;
        r->cpu_sys_ms = (double)rep->stime_us / 1e3;
        r->peak_memory_bytes = rep->maxrss_kb * 1024u;
        r->oom_killed = s->cg && ns_cgroup_oom_kills(s->cg) > c->oom_base;
        if (s->proxy) {
                /* The proxy's connections while this command ran (the
                 * session's background processes' too). */
                struct ns_proxy_counts cur;
                ns_proxy_counts_now(s->proxy, &cur);
                r->has_proxy = true;
                r->proxy_allowed = cur.allowed - c->net_base.allowed;
                r->proxy_refused = cur.refused - c->net_base.refused;
                r->proxy_failed = cur.failed - c->net_base.failed;
        }
        if (c->timed_out) {
                r->status = ZB_STATUS_TIMEOUT;
        } else if (!rep->exited && rep->code == SIGKILL && r->oom_killed) {
                r->status = ZB_STATUS_OOM;
                r->signal = SIGKILL;
        } else if (!rep->exited && rep->code == SIGXCPU && s->p->limits.cpu_time_ms) {
                r->status = ZB_STATUS_CPU_TIMEOUT;
                r->signal = SIGXCPU;
        } else if (rep->exited) {
                r->status = ZB_STATUS_EXITED;
                r->exit_code = rep->code;
        } else {
                r->status = ZB_STATUS_SIGNALED;
                r->signal = rep->code;
        }
        sess_viol_end(s, c, r, start);
        for (int k = 0; k < 2; k++)
                sess_relay_finish(s, &c->io[k]);
        send_result(c, r);
        gate_leave(&c->q, &c->gate, r, NULL);
        events_emit(&s->ev, &c->q, "exec_end", &c->gate.d, r, NULL);
        zb_result_free(r);
        client_free_exec(c);
}

static void on_init_reply(struct sess_daemon *s, uint64_t now)
{
        struct sess_init_reply rep;
        ssize_t n = recv(s->init_fd, &rep, sizeof(rep), MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n != (ssize_t)sizeof(rep)) {
                s->stop = true; /* init is gone */
                return;
        }
        struct sess_client *c = client_by_exec_id(s, rep.id);
        if (!c)
                return;
        if (rep.type == SESS_INIT_STARTED) {
                c->pid = rep.pid;
                c->exec_ns = now;
                c->deadline_ns = c->wall_ms ? now + c->wall_ms * 1000000ull : 0;
                if (c->fd < 0 || c->killed)
                        kill_exec(s, c, SIGKILL); /* its client left before it started */
        } else if (rep.type == SESS_INIT_FAILED) {
                rep.report.msg[sizeof(rep.report.msg) - 1] = '\0';
                char msg[sizeof(rep.report.msg) + 64];
                if (rep.report.err)
                        snprintf(msg, sizeof(msg), "%s: %s", rep.report.msg, strerror(rep.report.err));
                else
                        snprintf(msg, sizeof(msg), "%s", rep.report.msg);
                sess_exec_error(s, c, (enum pol_setup_kind)rep.report.kind, msg, true);
        } else if (rep.type == SESS_INIT_DONE) {
                on_done(s, c, &rep, now);
        }
        if (!c->busy && c->fd < 0)
                client_close(c);
        s->last_ns = now;
}

/* Whether PID runs in our user namespace. Every zonebox sandbox (a run's,
 * or a session's, whose commands are the daemon's own children) is in a user
 * namespace of its own, so a sandbox that reaches this socket — through a
 * zone over the runtime dir, or a socket fd passed in — is refused although
 * SO_PEERCRED shows our uid. Unreadable counts as foreign. */
static bool peer_in_our_userns(pid_t pid)
{
        char path[64];
        struct stat ours, theirs;
        snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
        return pid > 0 && stat("/proc/self/ns/user", &ours) == 0 && stat(path, &theirs) == 0 &&
               ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino;
}

static void on_accept(struct sess_daemon *s)
{
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
                return;
        struct ucred cr;
        socklen_t len = sizeof(cr);
        /* The directory is 0700 already; these are the second and third
         * walls: our uid, and not from inside a sandbox. */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || cr.uid != geteuid() ||
            !peer_in_our_userns(cr.pid)) {
                close(fd);
                return;
        }
        for (int i = 0; i < MAX_CLIENTS; i++)
                if (s->cl[i].fd < 0 && !s->cl[i].busy) {
                        s->cl[i].fd = fd;
                        return;
                }
        close(fd); /* too many clients at once */
}

static void on_client(struct sess_daemon *s, struct sess_client *c)
{
        static struct sess_req_exec m;
        int fds[4];
        ssize_t n = sess_recv_fds(c->fd, &m, sizeof(m), fds, 4, MSG_DONTWAIT);
        if (n == -EAGAIN || n == -EINTR)
                return;
        if (n <= 0) {
                /* Gone: a command still running goes with it. */
                if (c->busy && !c->killed) {
                        c->killed = true;
                        if (c->pid)
                                kill_exec(s, c, SIGKILL);
                }
                int fd = c->fd;
                c->fd = -1;
                close(fd);
                return;
        }
        if (m.type == SESS_REQ_EXEC && !c->busy && fds[2] >= 0)
                on_exec(s, c, &m, (size_t)n, fds);
        else if (m.type == SESS_REQ_KILL && c->busy && c->pid && (size_t)n >= sizeof(struct sess_req_kill))
                kill_exec(s, c, ((struct sess_req_kill *)&m)->sig);
        else if (m.type == SESS_REQ_STOP) {
                c->stopper = true;
                s->stop = true;
        }
        for (int i = 0; i < 4; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
}

static bool hook_on_events(void *data, const struct pollfd *pfd, int n, uint64_t now)
{
        struct sess_daemon *s = data;
        for (int j = 0; j < n; j++) {
                if (!pfd[j].revents)
                        continue;
                int i = s->map[j].i, k = s->map[j].k;
                switch (s->map[j].kind) {
                case POLL_INIT:
                        on_init_reply(s, now);
                        break;
                case POLL_LISTEN:
                        if (!s->stop)
                                on_accept(s);
                        break;
                case POLL_CLIENT:
                        if (s->cl[i].fd == pfd[j].fd)
                                on_client(s, &s->cl[i]);
                        break;
                case POLL_RELAY:
                        if (s->cl[i].io[k].src >= 0)
                                sess_relay_event(&s->cl[i].io[k]);
                        break;
                case POLL_SINK:
                        if (s->sink[i] == pfd[j].fd)
                                sess_sink_event(s, i);
                        break;
                }
        }
        return s->stop;
}

static bool any_exec_running(const struct sess_daemon *s)
{
        for (int i = 0; i < MAX_CLIENTS; i++)
                if (s->cl[i].busy)
                        return true;
        return false;
}

static uint64_t hook_deadline(void *data)
{
        const struct sess_daemon *s = data;
        uint64_t dl = 0;
        for (int i = 0; i < MAX_CLIENTS; i++) {
                const struct sess_client *c = &s->cl[i];
                if (c->busy && c->deadline_ns && !c->timed_out && (!dl || c->deadline_ns < dl))
                        dl = c->deadline_ns;
        }
        if (s->idle_ms && !any_exec_running(s)) {
                uint64_t idle = s->last_ns + s->idle_ms * 1000000ull;
                if (!dl || idle < dl)
                        dl = idle;
        }
        return dl;
}

static bool hook_on_deadline(void *data, uint64_t now)
{
        struct sess_daemon *s = data;
        for (int i = 0; i < MAX_CLIENTS; i++) {
                struct sess_client *c = &s->cl[i];
                if (c->busy && c->deadline_ns && !c->timed_out && now >= c->deadline_ns) {
                        c->timed_out = true;
                        kill_exec(s, c, SIGKILL);
                }
        }
        if (s->idle_ms && !any_exec_running(s) && now >= s->last_ns + s->idle_ms * 1000000ull) {
                s->stopped_idle = true;
                s->stop = true;
        }
        return s->stop;
}

struct ns_supervise_hooks sess_hooks(struct sess_daemon *s)
{
        return (struct ns_supervise_hooks){
                .data = s,
                .prepare = hook_prepare,
                .close_in_child = hook_close_in_child,
                .ready = hook_ready,
                .poll_fds = hook_poll_fds,
                .on_events = hook_on_events,
                .deadline = hook_deadline,
                .on_deadline = hook_on_deadline,
        };
}
