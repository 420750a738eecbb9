/* Processes: the sandbox's PID 1. It forks the command, then drops its own
 * capabilities and waits: it reaps every zombie, forwards termination
 * signals to the command, and when the command ends it reports the status
 * and exits — and because it is PID 1, the kernel then kills everything
 * the command left behind (pid_namespaces(7)). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ns.h"
#include "seccomp.h"
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

static void reset_signals(struct ns_ctx *c)
{
        sigset_t none;
        /* An ignored signal stays ignored across execve; the caller's
         * dispositions are not the command's business. */
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        signal(sig, SIG_DFL);
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
        ns_caps_drop(c, c->p->security.no_new_privileges);
        /* Both need no_new_privs, which validation guarantees with them. */
        if (c->ll_fd >= 0) {
                int r = zb_landlock_enforce(c->ll_fd);
                if (r < 0)
                        ns_fail(c, 0, -r, "layer landlock: landlock_restrict_self");
        }
        reset_signals(c);
        /* Last: from here on only execve, and write/_exit on failure. */
        if (c->seccomp.len) {
                int r = zb_seccomp_install(&c->seccomp);
                if (r < 0)
                        ns_fail(c, 0, -r, "layer seccomp: install the filter");
        }
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
                c->ll_fd = zb_landlock_prepare(c->ll_paths, c->n_ll_paths, msg, sizeof(msg));
                if (c->ll_fd < 0)
                        ns_fail(c, 0, -c->ll_fd, "%s", msg);
        }

        pid_t cmd = fork();
        if (cmd < 0)
                ns_fail(c, 0, errno, "init: fork");
        if (cmd == 0)
                command_main(c);
        if (c->ll_fd >= 0)
                close(c->ll_fd);

        /* The command holds the setup pipe until its exec succeeds. */
        close(c->setup_fd);
        if (c->out_fd >= 0)
                close(c->out_fd);
        if (c->err_fd >= 0)
                close(c->err_fd);
        hide_cmdline();
        /* init keeps nothing the command could borrow through ptrace. */
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        c->setup_fd = -1; /* a failure from here on cannot be reported; init just exits */
        ns_caps_drop(c, true);

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
