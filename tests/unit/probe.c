/* See probe.h. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

struct probe_fail probe_fail;

bool probe_in_child(int (*setup)(const void *), const void *arg, int (*probe)(void), int want_sig,
                    const char *file, const char *what)
{
        struct probe_fail f = { 0 };
        int fds[2], status = 0;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return false;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
                return false;
        if (pid == 0) {
                close(fds[0]);
                int r = setup ? setup(arg) : 0;
                if (r < 0)
                        probe_fail = (struct probe_fail){ __LINE__, r, -r };
                if (r < 0 || probe()) {
                        ssize_t n = write(fds[1], &probe_fail, sizeof(probe_fail));
                        (void)n;
                        _exit(1);
                }
                _exit(0);
        }
        close(fds[1]);
        ssize_t n = read(fds[0], &f, sizeof(f));
        close(fds[0]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        bool ok = want_sig ? WIFSIGNALED(status) && WTERMSIG(status) == want_sig
                           : WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok && n == (ssize_t)sizeof(f))
                fprintf(stderr, "  %s: %s:%d: returned %ld, errno %d (%s)\n", what, file, f.line, f.ret,
                        f.err, strerror(f.err));
        else if (!ok)
                fprintf(stderr, "  %s: child status 0x%x, want %s %d\n", what, status,
                        want_sig ? "signal" : "exit", want_sig);
        return ok;
}
