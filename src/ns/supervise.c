/* The supervisor: prepares everything that can fail before clone, clones the
 * sandbox's PID 1 into its namespaces, writes its id maps and releases it,
 * then waits on a pidfd while enforcing the wall-time limit, forwarding
 * signals and capturing output, and turns what happened into a result.
 *
 * The go pipe stays open in the supervisor for the whole run: its hang-up
 * tells the sandbox that the supervisor died before the parent-death signal
 * was armed. The setup pipe reaches EOF exactly when the command has been
 * exec'd (it is close-on-exec in the command, closed by init after fork);
 * wall time is counted from there.
 *
 * A session's supervisor is this same loop with hooks (ns.h, struct
 * ns_supervise_hooks, filled by session_daemon.c): init serves commands
 * instead of running one, and the session's sockets and time limits join
 * the loop. With no hooks it is a run. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "cgroup.h"
#include "cow.h"
#include "notify.h"
#include "ns.h"
#include "quota.h"
#include "sys.h"

/* A sandbox that is not running its command this long after clone is
 * stuck in setup (a hung filesystem under a zone, say). */
#define SETUP_TIMEOUT_MS 30000ull
#define READ_CHUNK_BYTES 65536

enum { FD_PID, FD_SETUP, FD_STATUS, FD_OUT, FD_ERR, FD_SIG, FD_DNS, FD_NOTIFY, FD_COUNT };

struct run {
        const struct zb_policy *p;
        struct zb_result *r;
        struct ns_cgroup *cg;
        struct ns_notify *notify; /* the seccomp listener (notify.c) */
        uint64_t cpu_check_ns; /* next look at the cgroup's CPU usage, 0: none */
        unsigned cpu_rate_milli; /* at most this many CPUs' worth of usage per second */
        pid_t pid;
        int pidfd;
        struct pollfd fds[FD_COUNT];
        uint64_t start_ns, exec_ns, end_ns;
        bool have_report, have_status, timed_out, setup_timed_out, output_killed, killed;
        bool cpu_timed_out;
        const struct ns_supervise_hooks *hooks; /* a session's supervisor: no command of its own */
        struct ns_resolver *dns; /* network none's loopback resolver (FD_DNS) */
        struct ns_report report;
        struct ns_status status;
};

static void kill_sandbox(struct run *run)
{
        if (!run->killed) {
                /* PID 1 dying takes every process of the namespace with it. */
                sys_pidfd_send_signal(run->pidfd, SIGKILL);
                run->killed = true;
        }
}

static void close_slot(struct run *run, int slot)
{
        if (run->fds[slot].fd >= 0)
                close(run->fds[slot].fd);
        run->fds[slot].fd = -1;
}

static void read_exact_record(struct run *run, int slot, void *rec, size_t size, bool *have)
{
        ssize_t n = read(run->fds[slot].fd, rec, size);
        if (n == (ssize_t)size && !*have) {
                *have = true;
                return;
        }
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n == 0 || n > 0)
                close_slot(run, slot);
}

static double since_exec_ms(const struct run *run)
{
        return run->exec_ns ? (double)(util_now_ns() - run->exec_ns) / 1e6 : -1;
}

/* The seccomp listener and the resolver's socket come in one message
 * (notify.c), sent before the command's exec (a session's init: before it
 * is ready), so it is there at the setup pipe's EOF: taken in that round,
 * not in a wakeup of its own while the sandbox is still setting up (issue
 * 16's cost budget: each wakeup is a context switch on the sandbox's
 * path). From here on both are polled. */
static void take_handovers(struct run *run)
{
        if (ns_notify_fd(run->notify) >= 0)
                run->fds[FD_NOTIFY].fd = ns_notify_event(run->notify, POLLIN, run->exec_ns);
        run->fds[FD_DNS].fd = ns_resolver_fd(run->dns);
}

static void on_setup(struct run *run)
{
        struct ns_report rep;
        ssize_t n = read(run->fds[FD_SETUP].fd, &rep, sizeof(rep));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n == (ssize_t)sizeof(rep)) {
                if (!run->have_report) {
                        run->report = rep;
                        run->report.msg[sizeof(rep.msg) - 1] = '\0';
                        run->have_report = true;
                }
                return;
        }
        /* EOF: the command was exec'd (or everything that could report died). */
        if (!run->exec_ns && run->hooks && !run->have_report) {
                run->exec_ns = util_now_ns();
                run->hooks->ready(run->hooks->data, run->cg, run->r);
        } else if (!run->exec_ns) {
                run->exec_ns = util_now_ns();
                if (run->p->limits.cpu_time_ms && run->cg->cpu_fd >= 0) {
                        run->cg->cpu_base_usec = ns_cgroup_cpu(run->cg);
                        run->cpu_check_ns = run->exec_ns;
                }
        }
        take_handovers(run);
        close_slot(run, FD_SETUP);
}

static void capture(struct run *run, int slot)
{
        char buf[READ_CHUNK_BYTES];
        struct outbuf *b = slot == FD_OUT ? &run->r->out : &run->r->err;
        ssize_t n = read(run->fds[slot].fd, buf, sizeof(buf));

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0) {
                close_slot(run, slot);
                return;
        }
        /* One cap for stdout and stderr together, captured or passed on
         * (output.c); a closed caller's stream closes ours, so the command
         * gets EPIPE as it would have without zonebox in between. */
        const struct outbuf *other = slot == FD_OUT ? &run->r->err : &run->r->out;
        int pass_fd = run->p->capture ? -1 : slot == FD_OUT ? STDOUT_FILENO : STDERR_FILENO;
        int t = out_take(b, other, pass_fd, buf, (size_t)n, run->p->limits.output);
        if (t & ZB_OUTPUT_CLOSED)
                close_slot(run, slot);
        if ((t & ZB_OUTPUT_DROPPED) && run->p->limits.output_kill && !run->output_killed) {
                run->output_killed = true;
                run->end_ns = util_now_ns();
                kill_sandbox(run);
        }
}

static void on_signal(struct run *run)
{
        struct signalfd_siginfo si;
        if (read(run->fds[FD_SIG].fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
                return;
        if (run->hooks)
                kill_sandbox(run); /* a session's supervisor told to end: it stops */
        else
                sys_pidfd_send_signal(run->pidfd, (int)si.ssi_signo);
}

static uint64_t deadline_ns(const struct run *run)
{
        uint64_t wall = 0;
        if (!run->exec_ns)
                return run->start_ns + SETUP_TIMEOUT_MS * 1000000ull;
        if (run->hooks) /* the limits are each exec's, watched by the session */
                return run->hooks->deadline(run->hooks->data);
        if (run->p->limits.wall_time_ms)
                wall = run->exec_ns + run->p->limits.wall_time_ms * 1000000ull;
        if (run->cpu_check_ns && (!wall || run->cpu_check_ns < wall))
                return run->cpu_check_ns;
        return wall;
}

/* CPU time is watched, not sampled on a fixed tick: usage cannot grow
 * faster than the CPUs it may use, so the next look is when the limit
 * could first be reached. */
static bool check_cpu(struct run *run, uint64_t now)
{
        if (!run->cpu_check_ns || now < run->cpu_check_ns || run->have_status)
                return false;
        uint64_t used = ns_cgroup_cpu(run->cg) - run->cg->cpu_base_usec;
        uint64_t limit = run->p->limits.cpu_time_ms * 1000;
        if (used >= limit) {
                run->cpu_timed_out = true;
                run->end_ns = now;
                run->cpu_check_ns = 0;
                kill_sandbox(run);
                return true;
        }
        uint64_t wait_ns = (limit - used) * 1000000ull / run->cpu_rate_milli;
        if (wait_ns < 1000000)
                wait_ns = 1000000;
        if (wait_ns > 1000000000ull)
                wait_ns = 1000000000ull;
        run->cpu_check_ns = now + wait_ns;
        return false;
}

static void on_deadline(struct run *run)
{
        if (run->killed)
                return;
        if (run->hooks && run->exec_ns) {
                if (run->hooks->on_deadline(run->hooks->data, util_now_ns()))
                        kill_sandbox(run);
                return;
        }
        if (check_cpu(run, util_now_ns()))
                return;
        uint64_t wall = run->exec_ns && run->p->limits.wall_time_ms
                                ? run->exec_ns + run->p->limits.wall_time_ms * 1000000ull
                                : 0;
        if (run->exec_ns && (!wall || util_now_ns() < wall))
                return; /* only a CPU check was due */
        if (run->exec_ns && !run->have_status) {
                run->timed_out = true;
                run->end_ns = util_now_ns();
        } else if (!run->exec_ns) {
                run->setup_timed_out = true;
        }
        kill_sandbox(run);
}

/* Wait until init is gone and its output drained. A session's supervisor
 * also polls the session's sockets (the hooks). */
static void event_loop(struct run *run)
{
        bool init_gone = false;
        struct pollfd pfd[FD_COUNT + NS_HOOK_MAX_FDS];

        while (!init_gone || run->fds[FD_OUT].fd >= 0 || run->fds[FD_ERR].fd >= 0 ||
               run->fds[FD_SETUP].fd >= 0 || run->fds[FD_STATUS].fd >= 0) {
                struct timespec ts, *tsp = NULL;
                uint64_t dl = run->killed || init_gone ? 0 : deadline_ns(run);
                if (dl) {
                        uint64_t now = util_now_ns();
                        uint64_t left = dl > now ? dl - now : 0;
                        ts.tv_sec = (time_t)(left / 1000000000ull);
                        ts.tv_nsec = (long)(left % 1000000000ull);
                        tsp = &ts;
                }
                memcpy(pfd, run->fds, sizeof(run->fds));
                int extra = run->hooks && run->exec_ns && !run->killed
                                    ? run->hooks->poll_fds(run->hooks->data, pfd + FD_COUNT, NS_HOOK_MAX_FDS)
                                    : 0;
                int n = ppoll(pfd, (nfds_t)FD_COUNT + (nfds_t)extra, tsp, NULL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n == 0) {
                        on_deadline(run);
                        continue;
                }
                for (int i = 0; i < FD_COUNT; i++)
                        run->fds[i].revents = pfd[i].revents;
                if (extra && run->hooks->on_events(run->hooks->data, pfd + FD_COUNT, extra, util_now_ns()))
                        kill_sandbox(run);
                if (run->fds[FD_SETUP].revents)
                        on_setup(run);
                if (run->fds[FD_STATUS].revents) {
                        bool had = run->have_status;
                        read_exact_record(run, FD_STATUS, &run->status, sizeof(run->status),
                                          &run->have_status);
                        if (!had && run->have_status && !run->end_ns)
                                run->end_ns = util_now_ns();
                }
                if (run->fds[FD_OUT].revents)
                        capture(run, FD_OUT);
                if (run->fds[FD_ERR].revents)
                        capture(run, FD_ERR);
                if (run->fds[FD_SIG].revents)
                        on_signal(run);
                if (run->fds[FD_DNS].revents)
                        run->fds[FD_DNS].fd = ns_resolver_event(run->dns, &run->r->viol, since_exec_ms(run));
                if (run->fds[FD_NOTIFY].revents) {
                        run->fds[FD_NOTIFY].fd = ns_notify_event(run->notify, run->fds[FD_NOTIFY].revents,
                                                                 run->exec_ns);
                        run->fds[FD_DNS].fd = ns_resolver_fd(run->dns);
                }
                if (run->fds[FD_PID].revents) {
                        init_gone = true;
                        run->fds[FD_PID].fd = -1; /* keep pidfd itself for waitid */
                }
        }
}

static void fill_usage(struct run *run, const struct rusage *ru)
{
        struct zb_result *r = run->r;

        /* Overwritten by the cgroup's figures (the whole tree) where there
         * is one; otherwise init and what it reaped, and for memory the
         * largest single process's peak. */
        r->cpu_user_ms = (double)ru->ru_utime.tv_sec * 1e3 + (double)ru->ru_utime.tv_usec / 1e3;
        r->cpu_sys_ms = (double)ru->ru_stime.tv_sec * 1e3 + (double)ru->ru_stime.tv_usec / 1e3;
        r->peak_memory_bytes = (uint64_t)ru->ru_maxrss * 1024u;
}

/* Killed by the kernel's OOM killer (SIGKILL, with the cgroup's oom_kill
 * counter up), or init itself killed without a status. */
static bool oom_verdict(const struct run *run)
{
        if (!run->r->oom_killed)
                return false;
        if (!run->have_status)
                return true;
        return !run->status.exited && run->status.code == SIGKILL;
}

static void fill_result(struct run *run, const siginfo_t *si)
{
        struct zb_result *r = run->r;

        if (run->exec_ns) {
                uint64_t end = run->end_ns ? run->end_ns : util_now_ns();
                r->wall_ms = end > run->exec_ns ? (double)(end - run->exec_ns) / 1e6 : 0;
        }
        if (run->hooks && run->exec_ns && !run->have_report && !oom_verdict(run)) {
                r->status = ZB_STATUS_EXITED; /* a session that was stopped (or gave up) */
                r->exit_code = 0;
        } else if (run->have_report) {
                r->status = ZB_STATUS_SETUP_ERROR;
                r->setup_kind = (enum pol_setup_kind)run->report.kind;
                r->error = run->report.err ? util_asprintf("%s: %s", run->report.msg, strerror(run->report.err))
                                           : util_strdup(run->report.msg);
        } else if (run->output_killed) {
                r->status = ZB_STATUS_OUTPUT_LIMIT;
        } else if (run->timed_out) {
                r->status = ZB_STATUS_TIMEOUT;
        } else if (run->cpu_timed_out) {
                r->status = ZB_STATUS_CPU_TIMEOUT;
        } else if (run->exec_ns && oom_verdict(run)) {
                r->status = ZB_STATUS_OOM;
                r->signal = SIGKILL; /* the kernel's OOM killer */
        } else if (run->have_status && !run->status.exited && run->status.code == SIGXCPU &&
                   run->p->limits.cpu_time_ms) {
                r->status = ZB_STATUS_CPU_TIMEOUT; /* RLIMIT_CPU: the backstop or the fallback */
                r->signal = SIGXCPU;
        } else if (run->have_status) {
                r->status = run->status.exited ? ZB_STATUS_EXITED : ZB_STATUS_SIGNALED;
                if (run->status.exited)
                        r->exit_code = run->status.code;
                else
                        r->signal = run->status.code;
        } else {
                r->status = ZB_STATUS_SETUP_ERROR;
                r->error = run->setup_timed_out
                                   ? util_asprintf("sandbox setup did not finish within %llu ms",
                                                 SETUP_TIMEOUT_MS)
                                   : util_asprintf("sandbox init ended without a status (%s %d)",
                                                 si->si_code == CLD_EXITED ? "exit" : "signal",
                                                 si->si_status);
        }
}

static void record_layers(const struct zb_policy *p, const struct ns_cgroup *cg, struct zb_result *r)
{
        if (cg->active)
                res_layer(r, "resources", true);
        else if (cg->fallback)
                res_layer(r, "resources", false);
        static const char *const always[] = { "user", "mount", "pid", "ipc", "uts", "cgroupns",
                                              "rootfs_readonly", "capabilities", "rlimits" };
        for (size_t i = 0; i < ARRAY_SIZE(always); i++)
                res_layer(r, always[i], true);
        res_layer(r, "net", p->network != ZB_NET_HOST);
        res_layer(r, "no_new_privileges", p->security.no_new_privileges);
        if (p->limits.wall_time_ms)
                res_layer(r, "wall_time", true);
}

static int make_pipe(int fds[2], struct zb_error *err)
{
        if (pipe2(fds, O_CLOEXEC) < 0)
                return err_errno(err, errno, "pipe");
        return 0;
}

static void close_pair(int fds[2])
{
        for (int i = 0; i < 2; i++)
                if (fds[i] >= 0) {
                        close(fds[i]);
                        fds[i] = -1;
                }
}

static int ctx_init(struct ns_ctx *c, const struct zb_policy *p, struct zb_error *err)
{
        c->p = p;
        for (size_t i = 0; i < ZB_MAX_ZONES; i++)
                c->zone_src[i] = (struct ns_zone_src){ .tree_fd = -1, .userns_fd = -1 };
        c->envp = pol_build_env(p);
        if (!c->envp)
                return err_set(err, ENOMEM, "environment: out of memory");
        c->path_env = util_env_get(c->envp, "PATH");
        if (!c->path_env)
                c->path_env = DEFAULT_PATH;
        c->hostname = p->hostname ? p->hostname : DEFAULT_HOSTNAME;
        c->out_fd = c->err_fd = -1;
        c->proxy_fd = c->session_fd = c->image_fd = -1;
        c->last_cap = ns_caps_last_cap();
        int r = ns_ids_prepare(c, err);
        return r < 0 ? r : ns_mounts_prepare(c, err);
}

static int supervise(struct ns_ctx *c, struct run *run, int go[2], int setup[2], int status[2],
                     int out[2], int err_pipe[2], struct zb_error *err)
{
        uint64_t flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS |
                         CLONE_PIDFD;
        if (c->p->network != ZB_NET_HOST)
                flags |= CLONE_NEWNET;
        int pidfd = -1;
        /* exit_signal 0: a caller's waitpid(-1) cannot steal our child. */
        struct clone_args args = { .flags = flags, .pidfd = (uint64_t)(uintptr_t)&pidfd, .exit_signal = 0 };
        /* Born in its cgroup: nothing the sandbox does is ever outside it. */
        if (run->cg->v2_fd >= 0) {
                args.flags |= CLONE_INTO_CGROUP;
                args.cgroup = (uint64_t)run->cg->v2_fd;
        }

        run->start_ns = util_now_ns();
        long pid = sys_clone3(&args);
        if (pid < 0 && (args.flags & CLONE_INTO_CGROUP))
                return err_errno(err, errno,
                                      "layer resources: cannot create the sandbox in cgroup %s (clone3)",
                                      run->cg->v2_dir);
        if (pid < 0)
                return err_errno(err, errno,
                                      "layer user: cannot create the sandbox's namespaces (clone3)");
        if (pid == 0) {
                close(go[1]);
                close(setup[0]);
                close(status[0]);
                if (out[0] >= 0)
                        close(out[0]);
                if (err_pipe[0] >= 0)
                        close(err_pipe[0]);
                if (run->fds[FD_SIG].fd >= 0)
                        close(run->fds[FD_SIG].fd);
                c->go_fd = go[0];
                c->setup_fd = setup[1];
                c->status_fd = status[1];
                c->out_fd = out[1];
                c->err_fd = err_pipe[1];
                if (run->hooks)
                        run->hooks->close_in_child(run->hooks->data);
                ns_notify_child(run->notify);
                ns_child_main(c);
        }
        run->pid = (pid_t)pid;
        run->pidfd = pidfd;
        ns_net_after_clone(c);
        ns_notify_after_clone(run->notify, c);
        if (c->session_fd >= 0) {
                close(c->session_fd); /* init's end */
                c->session_fd = -1;
        }
        close(go[0]);
        close(setup[1]);
        close(status[1]);
        go[0] = setup[1] = status[1] = -1;
        if (out[1] >= 0) {
                close(out[1]);
                out[1] = -1;
        }
        if (err_pipe[1] >= 0) {
                close(err_pipe[1]);
                err_pipe[1] = -1;
        }

        /* v1 placement is the child's own first step (ns_cgroup_enter),
         * done while we write its maps: no migration by pid here. */
        ns_cgroup_after_clone(run->cg);
        int r = ns_ids_write_maps(c, run->pid, err);
        if (r == 0 && write(go[1], "g", 1) != 1)
                r = err_errno(err, errno, "release sandbox");
        if (r < 0) {
                sys_pidfd_send_signal(pidfd, SIGKILL);
                siginfo_t si;
                waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL);
                close(pidfd);
                return r;
        }

        ns_cgroup_sweep(run->cg);

        run->fds[FD_PID] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
        run->fds[FD_SETUP] = (struct pollfd){ .fd = setup[0], .events = POLLIN };
        run->fds[FD_STATUS] = (struct pollfd){ .fd = status[0], .events = POLLIN };
        run->fds[FD_OUT] = (struct pollfd){ .fd = out[0], .events = POLLIN };
        run->fds[FD_ERR] = (struct pollfd){ .fd = err_pipe[0], .events = POLLIN };
        /* Not polled before the setup pipe's EOF: take_handovers. */
        run->fds[FD_DNS] = (struct pollfd){ .fd = -1, .events = POLLIN };
        run->dns = &c->dns;
        run->fds[FD_NOTIFY] = (struct pollfd){ .fd = -1, .events = POLLIN };
        setup[0] = status[0] = out[0] = err_pipe[0] = -1; /* owned by run->fds now */
        event_loop(run);
        ns_notify_end(run->notify);
        c->exec_ns = run->exec_ns;
        ns_resolver_drain(run->dns, &run->r->viol, since_exec_ms(run));
        run->fds[FD_DNS].fd = -1;    /* c->dns's, closed by ns_net_finish */
        run->fds[FD_NOTIFY].fd = -1; /* owned by run->notify */

        siginfo_t si = { 0 };
        struct rusage ru = { 0 };
        /* waitid's fifth argument (rusage) is only in the raw syscall. */
        syscall(SYS_waitid, P_PIDFD, pidfd, &si, WEXITED | __WALL, &ru);
        close(pidfd);
        fill_usage(run, &ru);
        ns_cgroup_finish(run->cg, run->r);
        fill_result(run, &si);
        return 0;
}

int ns_run(const struct zb_policy *p, struct zb_result *r, const struct ns_supervise_hooks *hooks,
           struct zb_error *err)
{
        _cleanup_(freep) struct ns_ctx *c = calloc(1, sizeof(*c));
        int go[2] = { -1, -1 }, setup[2] = { -1, -1 }, status[2] = { -1, -1 };
        int out[2] = { -1, -1 }, errp[2] = { -1, -1 };
        _cleanup_(freep) struct ns_cgroup *cg = calloc(1, sizeof(*cg));
        struct run run = { .p = p, .r = r, .pidfd = -1, .cg = cg, .hooks = hooks };
        struct ns_cow cow = { .store_fd = -1, .run_fd = -1 };
        _cleanup_(freep) struct ns_notify *notify = calloc(1, sizeof(*notify));
        _cleanup_(freep) struct ns_quota *quota = calloc(1, sizeof(*quota));
        int ret;

        for (int i = 0; i < FD_COUNT; i++)
                run.fds[i] = (struct pollfd){ .fd = -1, .events = POLLIN };
        if (!c || !cg || !quota || !notify)
                return err_set(err, ENOMEM, "out of memory");
        run.notify = notify;
        ns_notify_init(notify);
        c->notify_fd = -1;
        ns_cgroup_init(cg);
        ret = ns_rlimits_check(p, err);
        if (ret == 0)
                ret = ctx_init(c, p, err);
        if (ret == 0)
                ret = ns_zones_prepare(c, r, err);
        if (ret == 0)
                ret = ns_cow_prepare(&cow, c, err);
        if (ret == 0)
                ret = ns_quota_prepare(quota, p, c->cow_dir, err);
        if (ret == 0)
                ret = ns_security_prepare(c, r, err);
        if (ret == 0)
                ret = ns_notify_prepare(notify, c, r, hooks != NULL, err);
        if (ret == 0)
                ret = ns_cgroup_setup(cg, p, err);
        if (ret == 0)
                ret = ns_net_prepare(c, err);
        if (ret < 0)
                goto out;
        c->cg = cg;
        c->cg_active = cg->active;
        c->rlimit_fallback = cg->fallback;
        if (p->limits.cpu_time_ms)
                run.cpu_rate_milli = p->limits.cpus_milli
                                             ? (unsigned)p->limits.cpus_milli
                                             : 1000u * (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
        if ((ret = make_pipe(go, err)) < 0 || (ret = make_pipe(setup, err)) < 0 ||
            (ret = make_pipe(status, err)) < 0)
                goto out;
        if (out_piped(p) && ((ret = make_pipe(out, err)) < 0 || (ret = make_pipe(errp, err)) < 0))
                goto out;
        if (hooks && (ret = hooks->prepare(hooks->data, c->proxy, &c->session_fd, err)) < 0)
                goto out;
        r->captured = p->capture;
        run.fds[FD_SIG].fd = util_forward_signalfd(&c->forward_mask);
        record_layers(p, cg, r);
        ns_ids_record(c, r);
        ret = supervise(c, &run, go, setup, status, out, errp, err);
        ns_net_finish(c, ret == 0 ? r : NULL);
        if (ret == 0) {
                ns_quota_finish(quota, r);
                ns_cow_finish(&cow, p, r);
        }
out:
        for (int i = 0; i < FD_COUNT; i++)
                if (i != FD_PID && run.fds[i].fd >= 0)
                        close(run.fds[i].fd);
        close_pair(go);
        close_pair(setup);
        close_pair(status);
        close_pair(out);
        close_pair(errp);
        if (c && c->session_fd >= 0)
                close(c->session_fd);
        ns_cgroup_finish(cg, NULL); /* after a failure before the run; a no-op after one */
        if (quota)
                ns_quota_release(quota);
        ns_cow_release(&cow);
        if (notify)
                ns_notify_release(notify, c);
        if (c) {
                if (ret < 0)
                        ns_net_finish(c, NULL); /* a no-op when already finished */
                ns_security_release(c);
                ns_zones_release(c);
                ns_image_release(c);
                util_strv_free(c->envp);
        }
        return ret;
}

int ns_run_policy(const struct zb_policy *p, struct zb_result *r, struct zb_error *err)
{
        return ns_run(p, r, NULL, err);
}
