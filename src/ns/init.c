/* Processes: the sandbox's PID 1. It drops every capability, forks the
 * command (which inherits the empty sets), and waits: it reaps every zombie, forwards termination
 * signals to the command, and when the command ends it reports the status
 * and exits — and because it is PID 1, the kernel then kills everything
 * the command left behind (pid_namespaces(7)). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "notify.h"
#include "ns.h"
#include "wire.h"
#include "sys.h"

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

/* execvp(3) semantics with the sandbox's PATH: not found (127) only when
 * every candidate was missing; found but not executable (126) otherwise. */
static _Noreturn void exec_command(struct ns_ctx *c)
{
        char *const *argv = c->p->argv;
        const char *file = argv[0];
        char path[4096];
        bool eacces = false;
        int last = ENOENT;

        if (strchr(file, '/')) {
                execve(file, argv, c->envp);
                ns_fail(c, errno == ENOENT ? ZB_SETUP_NOT_FOUND : ZB_SETUP_NOT_EXEC, errno,
                        "command '%s'", file);
        }
        for (const char *dir = c->path_env; dir;) {
                const char *end = strchrnul(dir, ':');
                int len = (int)(end - dir);
                snprintf(path, sizeof(path), "%.*s/%s", len, len ? dir : ".", file);
                execve(path, argv, c->envp);
                last = errno;
                if (errno == EACCES)
                        eacces = true;
                else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV)
                        break;
                dir = *end ? end + 1 : NULL;
        }
        if (eacces)
                ns_fail(c, ZB_SETUP_NOT_EXEC, EACCES, "command '%s'", file);
        if (last == ENOENT || last == ENOTDIR)
                ns_fail(c, ZB_SETUP_NOT_FOUND, 0, "command '%s': not found in PATH %s", file,
                        c->path_env);
        ns_fail(c, ZB_SETUP_NOT_EXEC, last, "command '%s'", file);
}

/* The signals this process ignores (SigIgn of /proc/self/status, a hex
 * mask with bit N-1 for signal N), or all of them when it cannot tell. */
static uint64_t ignored_signals(void)
{
        char buf[2048];
        int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return ~0ull;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return ~0ull;
        buf[n] = '\0';
        const char *line = strstr(buf, "\nSigIgn:\t");
        char *end;
        if (!line)
                return ~0ull;
        errno = 0;
        unsigned long long mask = strtoull(line + 9, &end, 16);
        return errno || *end != '\n' ? ~0ull : mask;
}

/* SIG_DFL for SIG. glibc's sigaction refuses the two signals it keeps for
 * its threads (32 and 33), yet a caller can pass them on ignored (dash
 * does, and so scripts/gates in CI): those through the kernel's own call.
 * A zeroed kernel sigaction is SIG_DFL without flags on every layout
 * (handler and flags come first). */
static void default_signal(int sig)
{
        if (signal(sig, SIG_DFL) != SIG_ERR)
                return;
        unsigned long ksa[4] = { 0 };
        (void)syscall(SYS_rt_sigaction, sig, ksa, NULL, (size_t)8);
}

static void reset_signals(struct ns_ctx *c)
{
        sigset_t none;
        /* An ignored signal stays ignored across execve; the caller's
         * dispositions are not the command's business. A caught one is
         * reset by execve itself, so only the ignored ones need a call
         * (one read instead of ~62 rt_sigaction). */
        uint64_t ign = ignored_signals();
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP && (sig > 64 || (ign >> (sig - 1) & 1)))
                        default_signal(sig);
        sigemptyset(&none);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
                ns_fail(c, 0, errno, "sigprocmask");
}

static _Noreturn void command_main(struct ns_ctx *c)
{
        const char *workdir = c->p->workdir ? c->p->workdir : "/";

        /* A new session without a controlling terminal: TIOCSTI on an
         * inherited terminal fd needs it to be our controlling tty. */
        if (setsid() < 0)
                ns_fail(c, 0, errno, "setsid");
        if (c->out_fd >= 0 && dup2(c->out_fd, STDOUT_FILENO) < 0)
                ns_fail(c, 0, errno, "dup2 stdout");
        if (c->err_fd >= 0 && dup2(c->err_fd, STDERR_FILENO) < 0)
                ns_fail(c, 0, errno, "dup2 stderr");
        /* Whatever the caller leaked without O_CLOEXEC stops at exec. */
        if (sys_close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                ns_fail(c, 0, errno, "close_range");
        if (chdir(workdir) < 0)
                ns_fail(c, 0, errno, "workdir %s", workdir);
        umask(022);
        ns_rlimits_apply(c);
        /* init dropped them before it forked this process (the sets, the
         * bounding set and the locked securebits are inherited), and they
         * cannot be touched again without CAP_SETPCAP. */
        if (!c->caps_dropped)
                ns_caps_drop(c, c->p->security.no_new_privileges);
        /* Both need no_new_privs, which validation guarantees with them. */
        if (c->ll_fd >= 0) {
                int r = ns_landlock_enforce(c->ll_fd);
                if (r < 0)
                        ns_fail(c, 0, -r, "layer landlock: landlock_restrict_self");
        }
        reset_signals(c);
        /* Last: from here on only execve, and write/_exit on failure. */
        ns_notify_install(c);
        exec_command(c);
}

static _Noreturn void report_and_exit(struct ns_ctx *c, int wstatus)
{
        struct ns_status st = { 0 };
        if (WIFEXITED(wstatus)) {
                st.exited = 1;
                st.code = WEXITSTATUS(wstatus);
        } else {
                st.code = WTERMSIG(wstatus);
        }
        ssize_t n = write(c->status_fd, &st, sizeof(st));
        (void)n;
        _exit(0);
}

/* /proc/1/cmdline would show zonebox's own command line, host paths of the
 * zones included: blank this copy of it (arg_start/arg_end are fields 48
 * and 49 of /proc/self/stat, proc(5)); the supervisor's memory is separate. */
static void hide_cmdline(void)
{
        char buf[1024];
        int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return;
        buf[n] = '\0';
        char *p = strrchr(buf, ')'); /* the command name may hold spaces */
        unsigned long start = 0, end = 0;
        for (int field = 2; p && field < 48; field++)
                p = strchr(p + 1, ' ');
        if (!p || sscanf(p, " %lu %lu", &start, &end) != 2 || end <= start)
                return;
        memset((void *)start, 0, end - start);
        memcpy((void *)start, "zonebox-init", end - start > 12 ? 13 : 1);
}

/* ---- sessions ---------------------------------------------------------- */

#define SERVE_MAX_CMDS 64
#define SERVE_MAX_ARGS 4096

struct served_cmd {
        pid_t pid; /* 0: free slot */
        uint32_t id;
        bool failed; /* FAILED was sent: no DONE */
};

static void serve_reply(struct ns_ctx *c, const struct sess_init_reply *rep)
{
        ssize_t n;
        do
                n = send(c->session_fd, rep, sizeof(*rep), MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                _exit(0); /* the supervisor is gone: so is the session */
}

/* The strings of an EXEC record into V (NULL-terminated); the next string
 * after them, or NULL when the blob ends early. */
static char *blob_strings(char *p, const char *end, char **v, uint32_t n)
{
        for (uint32_t i = 0; i < n; i++) {
                char *z = memchr(p, '\0', (size_t)(end - p));
                if (!z)
                        return NULL;
                v[i] = p;
                p = z + 1;
        }
        v[n] = NULL;
        return p < end ? p : NULL;
}

/* Fork the command of one EXEC record with the three fds it carried, and
 * wait (briefly: until its execve) to tell the supervisor how it went. */
static void serve_exec(struct ns_ctx *c, struct sess_init_exec *m, size_t len, const int fds[3],
                       struct served_cmd *slots, int sfd)
{
        static char *argv[SERVE_MAX_ARGS + 1], *envp[SERVE_MAX_ARGS + 1];
        struct sess_init_reply rep = { .type = SESS_INIT_FAILED, .id = m->id };
        char *end = (char *)m + len, *workdir;
        struct served_cmd *slot = NULL;

        for (int i = 0; i < SERVE_MAX_CMDS && !slot; i++)
                if (!slots[i].pid)
                        slot = &slots[i];
        if (len < offsetof(struct sess_init_exec, blob) || m->argc == 0 || m->argc > SERVE_MAX_ARGS ||
            m->envc > SERVE_MAX_ARGS || m->blob_len != (size_t)(end - m->blob) ||
            !(workdir = blob_strings(m->blob, end, argv, m->argc)) ||
            !(workdir = blob_strings(workdir, end, envp, m->envc)) || !memchr(workdir, '\0', (size_t)(end - workdir))) {
                snprintf(rep.report.msg, sizeof(rep.report.msg), "session: malformed exec request");
                serve_reply(c, &rep);
                return;
        }
        if (!slot) {
                snprintf(rep.report.msg, sizeof(rep.report.msg),
                         "session: %d commands are running already", SERVE_MAX_CMDS);
                serve_reply(c, &rep);
                return;
        }
        int setup[2];
        if (pipe2(setup, O_CLOEXEC) < 0) {
                rep.report.err = errno;
                snprintf(rep.report.msg, sizeof(rep.report.msg), "session: pipe");
                serve_reply(c, &rep);
                return;
        }
        pid_t pid = fork();
        if (pid == 0) {
                static struct zb_policy q; /* this child's, until its execve */
                q = *c->p;
                close(sfd);
                close(c->session_fd);
                close(setup[0]);
                c->setup_fd = setup[1];
                for (int i = 0; i < 3; i++)
                        if (dup2(fds[i], i) < 0)
                                ns_fail(c, 0, errno, "session: dup2");
                for (int i = 0; i < 3; i++)
                        if (fds[i] > 2)
                                close(fds[i]);
                c->out_fd = c->err_fd = -1;
                q.argv = argv;
                q.argc = m->argc;
                q.workdir = *workdir ? workdir : c->p->workdir;
                c->p = &q;
                c->envp = envp;
                c->path_env = util_env_get(envp, "PATH");
                if (!c->path_env)
                        c->path_env = DEFAULT_PATH;
                command_main(c);
        }
        close(setup[1]);
        if (pid < 0) {
                rep.report.err = errno;
                snprintf(rep.report.msg, sizeof(rep.report.msg), "session: fork");
                close(setup[0]);
                serve_reply(c, &rep);
                return;
        }
        *slot = (struct served_cmd){ .pid = pid, .id = m->id };
        /* The child holds the pipe until its execve: EOF means it runs. */
        ssize_t n;
        do
                n = read(setup[0], &rep.report, sizeof(rep.report));
        while (n < 0 && errno == EINTR);
        close(setup[0]);
        rep.pid = pid;
        if (n == (ssize_t)sizeof(rep.report)) {
                rep.report.msg[sizeof(rep.report.msg) - 1] = '\0';
                slot->failed = true;
        } else {
                rep.type = SESS_INIT_STARTED;
                memset(&rep.report, 0, sizeof(rep.report));
        }
        serve_reply(c, &rep);
}

static void serve_request(struct ns_ctx *c, struct served_cmd *slots, int sfd)
{
        static struct sess_init_exec m;
        int fds[3];
        ssize_t n = sess_recv_fds(c->session_fd, &m, sizeof(m), fds, 3, 0);
        if (n == -EINTR || n == -EAGAIN)
                return;
        if (n == 0 || (n < 0 && n != -EMSGSIZE))
                _exit(0); /* the supervisor hung up: the session ends with init */
        int nfds = (fds[0] >= 0) + (fds[1] >= 0) + (fds[2] >= 0);
        if (m.type == SESS_INIT_EXEC && nfds == 3 && n > 0)
                serve_exec(c, &m, (size_t)n, fds, slots, sfd);
        else if (m.type == SESS_INIT_KILL && n >= (ssize_t)sizeof(struct sess_init_kill))
                for (int i = 0; i < SERVE_MAX_CMDS; i++) {
                        const struct sess_init_kill *k = (const struct sess_init_kill *)&m;
                        if (slots[i].pid && slots[i].id == k->id)
                                kill(-slots[i].pid, k->sig); /* setsid: its group */
                }
        for (int i = 0; i < 3; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
}

static void serve_reap(struct ns_ctx *c, struct served_cmd *slots)
{
        for (;;) {
                int wstatus;
                struct rusage ru;
                pid_t p = wait4(-1, &wstatus, WNOHANG, &ru);
                if (p <= 0)
                        return;
                for (int i = 0; i < SERVE_MAX_CMDS; i++) {
                        if (slots[i].pid != p)
                                continue;
                        if (!slots[i].failed) {
                                struct sess_init_reply rep = {
                                        .type = SESS_INIT_DONE, .id = slots[i].id, .pid = p,
                                        .exited = WIFEXITED(wstatus),
                                        .code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus),
                                        .utime_us = (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec,
                                        .stime_us = (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec,
                                        .maxrss_kb = (uint64_t)ru.ru_maxrss,
                                };
                                serve_reply(c, &rep);
                        }
                        slots[i].pid = 0;
                }
        }
}

/* A session's PID 1: no command of its own. It reaps everything (the
 * background processes of earlier commands too) and lives until the
 * supervisor hangs up or kills it, which ends every process inside. */
_Noreturn void ns_init_serve(struct ns_ctx *c, const sigset_t *set)
{
        static struct served_cmd slots[SERVE_MAX_CMDS];
        int sfd = signalfd(-1, set, SFD_CLOEXEC);
        if (sfd < 0)
                ns_fail(c, 0, errno, "init: signalfd");
        hide_cmdline();
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        /* Every command forked from here inherits the empty sets. */
        ns_caps_drop(c, c->p->security.no_new_privileges);
        ns_notify_send_resolver(c);
        close(c->setup_fd); /* EOF: the session is ready */
        c->setup_fd = -1;
        for (;;) {
                struct pollfd pf[2] = { { .fd = sfd, .events = POLLIN },
                                        { .fd = c->session_fd, .events = POLLIN } };
                if (poll(pf, 2, -1) < 0)
                        continue;
                if (pf[0].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) < 0 && errno == EINTR)
                                ;
                        serve_reap(c, slots);
                }
                if (pf[1].revents)
                        serve_request(c, slots, sfd);
        }
}

_Noreturn void ns_init_run(struct ns_ctx *c)
{
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGCHLD);
        for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
                sigaddset(&set, forwarded[i]);
        /* Blocked before fork so no SIGCHLD or forwarded signal is lost. */
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
                ns_fail(c, 0, errno, "init: sigprocmask");

        /* After pivot_root: the rules name paths as the command sees them. */
        if (c->landlock) {
                char msg[sizeof(((struct ns_report *)0)->msg)];
                c->ll_fd = ns_landlock_prepare(c->ll_paths, c->n_ll_paths, msg, sizeof(msg));
                if (c->ll_fd < 0)
                        ns_fail(c, 0, -c->ll_fd, "%s", msg);
        }
        if (c->session_fd >= 0)
                ns_init_serve(c, &set);

        /* Once, here, for init and the command alike: the command inherits
         * empty sets and skips its own ~45 prctl calls. Nothing init or the
         * command does before execve needs a capability (rlimits are only
         * lowered; Landlock and seccomp rely on no_new_privs, which
         * validation requires with them). */
        ns_caps_drop(c, c->p->security.no_new_privileges);
        pid_t cmd = fork();
        if (cmd < 0)
                ns_fail(c, 0, errno, "init: fork");
        if (cmd == 0)
                command_main(c);
        if (c->ll_fd >= 0)
                close(c->ll_fd);
        if (c->notify_fd >= 0)
                close(c->notify_fd);
        ns_resolver_handed(&c->dns); /* the command sends it */

        /* The command holds the setup pipe until its exec succeeds. */
        close(c->setup_fd);
        if (c->out_fd >= 0)
                close(c->out_fd);
        if (c->err_fd >= 0)
                close(c->err_fd);
        hide_cmdline();
        /* init keeps nothing the command could borrow through ptrace. */
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        c->setup_fd = -1;
        /* init itself runs with no_new_privs whatever the command's policy. */
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);

        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(&set, &si);
                if (sig < 0)
                        continue;
                if (sig != SIGCHLD) {
                        kill(cmd, sig);
                        continue;
                }
                for (;;) {
                        int wstatus;
                        pid_t p = waitpid(-1, &wstatus, WNOHANG);
                        if (p <= 0)
                                break;
                        if (p == cmd)
                                report_and_exit(c, wstatus);
                }
        }
}
