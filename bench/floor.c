/* The least a namespace sandbox can do before its command runs: one
 * clone3 into new user, mount, pid, network, IPC, UTS and cgroup
 * namespaces, the id maps written by the parent, the command exec'd, the
 * parent waiting for it. No new root, no mounts, no PID 1 of its own, no
 * limits, no filters: a lower bound for bwrap-full and zonebox alike,
 * measured beside them (bench/compare's "floor" row) so that a ratio goal
 * can be judged against what the machine allows.
 *
 *     floor COMMAND [ARG...]
 *
 * Built static by bench/compare (cc -O2 -static), so that its own start
 * costs as little as zonebox's static binary. Exit status: the command's,
 * 127 if it could not be exec'd, 125 if the sandbox could not be made. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int put(pid_t pid, const char *file, const char *text)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        ssize_t n = write(fd, text, strlen(text));
        close(fd);
        return n == (ssize_t)strlen(text) ? 0 : -1;
}

int main(int argc, char **argv)
{
        int go[2];
        char map[64];

        if (argc < 2) {
                fprintf(stderr, "usage: floor COMMAND [ARG...]\n");
                return 125;
        }
        if (pipe2(go, O_CLOEXEC) < 0)
                return 125;
        struct clone_args a = {
                .flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC |
                         CLONE_NEWUTS | CLONE_NEWCGROUP,
                .exit_signal = SIGCHLD,
        };
        pid_t pid = (pid_t)syscall(SYS_clone3, &a, sizeof(a));
        if (pid < 0) {
                perror("floor: clone3");
                return 125;
        }
        if (pid == 0) {
                char c;
                close(go[1]);
                if (read(go[0], &c, 1) != 1)
                        _exit(125);
                execvp(argv[1], argv + 1);
                _exit(127);
        }
        close(go[0]);
        snprintf(map, sizeof(map), "0 %u 1", (unsigned)getuid());
        int bad = put(pid, "setgroups", "deny") < 0 || put(pid, "uid_map", map) < 0;
        snprintf(map, sizeof(map), "0 %u 1", (unsigned)getgid());
        bad = bad || put(pid, "gid_map", map) < 0;
        if (bad) {
                perror("floor: id maps");
                kill(pid, SIGKILL);
        } else if (write(go[1], "g", 1) != 1) {
                return 125;
        }
        close(go[1]);
        int st;
        while (waitpid(pid, &st, 0) < 0)
                if (errno != EINTR)
                        return 125;
        if (bad)
                return 125;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
