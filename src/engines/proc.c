/* Running an engine's CLI (docker run, runc run) as a child of zonebox:
 * stdout and stderr captured under one cap, the wall-time limit enforced by
 * a callback that kills the container by name, and the termination signals
 * the caller blocked forwarded to the container the same way. The child
 * gets SIGTERM if zonebox dies (PR_SET_PDEATHSIG), which docker, podman and
 * runc forward to the container; whatever is left is removed by the next
 * run's garbage collection (container names carry the supervisor's pid and
 * start time). No shell anywhere: argv is executed as given. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "engine.h"

#define READ_CHUNK_BYTES 65536
/* After the CLI exits, output still in flight is read for this long at most:
 * a helper of the engine (conmon) may hold the pipe open. */
#define DRAIN_AFTER_EXIT_MS 500
#define SIMPLE_OUTPUT_MAX (64u << 10)

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static int pidfd_open_(pid_t pid)
{
        return (int)syscall(SYS_pidfd_open, pid, 0);
}

_Noreturn static void child_exec(char *const *argv, const char *join_procs, int in_fd, int out_fd, int err_fd)
{
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
                signal(forwarded[i], SIG_DFL);
        /* The engine's client must not outlive zonebox. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (in_fd < 0)
                in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if ((in_fd >= 0 && dup2(in_fd, 0) < 0) || (out_fd >= 0 && dup2(out_fd, 1) < 0) ||
            (err_fd >= 0 && dup2(err_fd, 2) < 0))
                _exit(125);
        if (join_procs) {
                /* Best effort: only the accounting reads that cgroup. */
                int fd = open(join_procs, O_WRONLY | O_CLOEXEC);
                if (fd >= 0) {
                        ssize_t w = write(fd, "0", 1);
                        (void)w;
                        close(fd);
                }
        }
        execv(argv[0], argv);
        _exit(errno == ENOENT ? 127 : 126);
}

static pid_t spawn(char *const *argv, const char *join_procs, int in_fd, int out_fd, int err_fd)
{
        pid_t pid = fork();
        if (pid == 0)
                child_exec(argv, join_procs, in_fd, out_fd, err_fd);
        return pid;
}

struct pump {
        struct outbuf *bufs[2];
        uint64_t limit;
        bool over;
        bool pass; /* pass-through with a cap (output.c) */
};

static bool pump_read(struct pump *pm, int fd, int slot)
{
        char buf[READ_CHUNK_BYTES];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return true;
        if (n <= 0)
                return false;
        /* One cap for stdout and stderr together, as the namespace backend. */
        int pass_fd = pm->pass ? (slot == 0 ? STDOUT_FILENO : STDERR_FILENO) : -1;
        int t = out_take(pm->bufs[slot], pm->bufs[1 - slot], pass_fd, buf, (size_t)n, pm->limit);
        if (t & ZB_OUTPUT_DROPPED)
                pm->over = true;
        return !(t & ZB_OUTPUT_CLOSED);
}

enum { P_EXIT, P_OUT, P_ERR, P_SIG, P_N };

int eng_exec_wait(const struct eng_exec *x, struct outbuf *out, struct outbuf *err_buf,
                  struct eng_exit *res, struct zb_error *err)
{
        int po[2] = { -1, -1 }, pe[2] = { -1, -1 };
        struct pump pm = { .bufs = { out, err_buf }, .limit = x->output_limit, .pass = x->pass };
        struct pollfd fds[P_N];
        uint64_t t0 = util_now_ns(), exited_ns = 0;
        bool exited = false;

        memset(res, 0, sizeof(*res));
        if (x->capture && (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)) {
                int e = errno;
                for (int i = 0; i < 2; i++) {
                        if (po[i] >= 0)
                                close(po[i]);
                }
                return err_errno(err, e, "pipe");
        }
        pid_t pid = spawn(x->argv, x->join_procs, x->in_fd, po[1], pe[1]);
        int spawn_errno = errno;
        if (po[1] >= 0)
                close(po[1]);
        if (pe[1] >= 0)
                close(pe[1]);
        if (pid < 0) {
                if (po[0] >= 0)
                        close(po[0]);
                if (pe[0] >= 0)
                        close(pe[0]);
                return err_errno(err, spawn_errno, "cannot start %s", x->argv[0]);
        }
        fds[P_EXIT].fd = pidfd_open_(pid);
        fds[P_OUT].fd = po[0];
        fds[P_ERR].fd = pe[0];
        fds[P_SIG].fd = x->forward_signals ? util_forward_signalfd(NULL) : -1;
        for (int i = 0; i < P_N; i++)
                fds[i].events = POLLIN;
        /* Without a pidfd (Linux < 5.3) the loop polls waitpid(WNOHANG) every 20 ms. */

        for (;;) {
                int timeout = -1;
                uint64_t now = util_now_ns();
                if (exited) {
                        uint64_t since = (now - exited_ns) / 1000000;
                        if ((fds[P_OUT].fd < 0 && fds[P_ERR].fd < 0) || since >= DRAIN_AFTER_EXIT_MS)
                                break;
                        timeout = (int)(DRAIN_AFTER_EXIT_MS - since);
                } else {
                        if (x->wall_ms && !res->timed_out) {
                                uint64_t deadline = t0 + x->wall_ms * 1000000ull;
                                if (now >= deadline) {
                                        res->timed_out = true;
                                        if (x->on_timeout)
                                                x->on_timeout(x->ctx);
                                        continue;
                                }
                                timeout = (int)((deadline - now) / 1000000) + 1;
                        }
                        if (fds[P_EXIT].fd < 0 && (timeout < 0 || timeout > 20))
                                timeout = 20;
                }
                int n = poll(fds, P_N, timeout);
                if (n < 0 && errno != EINTR) {
                        int e = errno;
                        kill(pid, SIGKILL);
                        waitpid(pid, NULL, 0);
                        for (int i = 0; i < P_N; i++)
                                if (fds[i].fd >= 0)
                                        close(fds[i].fd);
                        return err_errno(err, e, "poll");
                }
                for (int slot = 0; slot < 2; slot++) {
                        struct pollfd *f = &fds[P_OUT + slot];
                        if (f->fd >= 0 && (f->revents & (POLLIN | POLLHUP | POLLERR)) &&
                            !pump_read(&pm, f->fd, slot)) {
                                close(f->fd);
                                f->fd = -1;
                        }
                }
                if (pm.over && x->output_kill && !res->output_killed && !exited) {
                        res->output_killed = true;
                        if (x->on_output_limit)
                                x->on_output_limit(x->ctx);
                }
                if (fds[P_SIG].fd >= 0 && (fds[P_SIG].revents & POLLIN)) {
                        struct signalfd_siginfo si;
                        while (read(fds[P_SIG].fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                                res->forwarded_signal = (int)si.ssi_signo;
                                if (x->on_signal && !exited)
                                        x->on_signal(x->ctx, (int)si.ssi_signo);
                        }
                }
                if (!exited && (fds[P_EXIT].fd < 0 || (fds[P_EXIT].revents & POLLIN))) {
                        int st;
                        pid_t w = waitpid(pid, &st, fds[P_EXIT].fd < 0 ? WNOHANG : 0);
                        if (w == pid) {
                                exited = true;
                                exited_ns = util_now_ns();
                                res->status = st;
                                if (fds[P_EXIT].fd >= 0)
                                        close(fds[P_EXIT].fd);
                                fds[P_EXIT].fd = -1;
                        }
                }
        }
        res->wall_ms = (double)(exited_ns - t0) / 1e6;
        for (int i = 0; i < P_N; i++)
                if (fds[i].fd >= 0)
                        close(fds[i].fd);
        return 0;
}

int eng_exec_simple(char *const *argv, char **out, char **errout)
{
        struct outbuf ob = { .limit = SIMPLE_OUTPUT_MAX }, eb = { .limit = SIMPLE_OUTPUT_MAX };
        struct zb_error err = { 0 };
        struct eng_exit ex;
        /* A helper (inspect, kill, rm) runs to completion; the caller's
         * pending termination signals stay pending for the main wait. */
        struct eng_exec x = { .argv = argv, .in_fd = -1, .capture = true,
                              .output_limit = 2 * SIMPLE_OUTPUT_MAX };
        int r = eng_exec_wait(&x, &ob, &eb, &ex, &err);
        if (r < 0) {
                outbuf_free(&ob);
                outbuf_free(&eb);
                return r;
        }
        if (out)
                *out = ob.data ? ob.data : strdup("");
        else
                free(ob.data);
        if (errout)
                *errout = eb.data ? eb.data : strdup("");
        else
                free(eb.data);
        if (WIFEXITED(ex.status))
                return WEXITSTATUS(ex.status);
        return 128 + WTERMSIG(ex.status);
}

void eng_exit_status(const struct eng_exit *ex, const struct eng_exit_rules *rules,
                     const char *engine_error, struct zb_result *r)
{
        int code = WIFEXITED(ex->status) ? WEXITSTATUS(ex->status) : 128 + WTERMSIG(ex->status);
        if (ex->timed_out) {
                r->status = ZB_STATUS_TIMEOUT;
                r->signal = SIGKILL;
        } else if (ex->output_killed) {
                r->status = ZB_STATUS_OUTPUT_LIMIT;
                r->signal = SIGKILL;
        } else if (r->oom_killed && (rules->oom_any_exit || code == 128 + SIGKILL)) {
                r->status = ZB_STATUS_OOM;
                r->signal = SIGKILL;
        } else if (code == 126 || code == 127 || (code == 125 && rules->exit_125_engine)) {
                r->status = ZB_STATUS_SETUP_ERROR;
                r->setup_kind = code == 127 ? ZB_SETUP_NOT_FOUND : code == 126 ? ZB_SETUP_NOT_EXEC : ZB_SETUP_FAILED;
                if (engine_error && *engine_error)
                        r->error = util_asprintf("backend %s: %s", rules->backend, engine_error);
                else if (code == 125)
                        r->error = util_asprintf("backend %s: the engine could not start the container (exit 125)",
                                               rules->backend);
        } else if (code > 128 && code < 128 + 65) {
                r->status = ZB_STATUS_SIGNALED;
                r->signal = code - 128;
        } else {
                r->status = ZB_STATUS_EXITED;
                r->exit_code = code;
        }
}

int eng_exec_policy_opts(const struct zb_policy *p, char **argv, const struct eng_exec_opts *o,
                         int (*on_timeout)(void *ctx), int (*on_signal)(void *ctx, int sig), void *ctx,
                         struct zb_result *r, struct eng_exit *ex, struct zb_error *err)
{
        bool piped = out_piped(p);
        struct eng_exec x = {
                .argv = argv, .in_fd = 0, .capture = piped || o->pipe_always, .pass = !p->capture,
                .join_procs = o->join_procs, .wall_ms = p->limits.wall_time_ms,
                /* A pipe only to shield the caller's stdout: no cap was asked for. */
                .output_limit = piped ? p->limits.output : UINT64_MAX,
                .output_kill = piped && p->limits.output_kill,
                .forward_signals = true, .on_timeout = on_timeout, .on_signal = on_signal,
                .on_output_limit = on_timeout, .ctx = ctx,
        };
        r->captured = p->capture;
        int ret = eng_exec_wait(&x, &r->out, &r->err, ex, err);
        if (ret == 0)
                r->wall_ms = ex->wall_ms;
        return ret;
}

int eng_exec_policy(const struct zb_policy *p, char **argv, int (*on_timeout)(void *ctx),
                    int (*on_signal)(void *ctx, int sig), void *ctx, struct zb_result *r,
                    struct eng_exit *ex, struct zb_error *err)
{
        static const struct eng_exec_opts none = { 0 };
        return eng_exec_policy_opts(p, argv, &none, on_timeout, on_signal, ctx, r, ex, err);
}
