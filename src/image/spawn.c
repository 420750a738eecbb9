/* The programs the image store runs, never through a shell: skopeo (a
 * docker archive into a layout, a layout into an engine's storage) and
 * zonebox-image, the helper that imports (src/helper/image-main.c).
 *
 * Why a helper: unpacking needs libarchive, the one parser of untrusted
 * archives, and zonebox pays for every page and relocation it carries on
 * every run; in its own program (static-pie, 1.6 MB, as zonebox is) it
 * costs only the imports, a few ms each (bench/README.md). Guarantees:
 * the helper's error line reaches the caller as it wrote it (its exit
 * status the errno), the helper dies with zonebox (PR_SET_PDEATHSIG), and
 * it gets no fd of zonebox's but its stderr pipe. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_int.h"

int img_skopeo_copy(const char *src, const char *dst, struct zb_error *err)
{
        char *argv[] = { (char *)"skopeo", (char *)"copy", (char *)"--quiet", (char *)src, (char *)dst, NULL };
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
        pid_t pid;
        int rc = posix_spawnp(&pid, "skopeo", &fa, NULL, argv, environ), status = 0;
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0)
                return err_errno(err, rc, "image: %s needs skopeo (apt-get install skopeo)", src);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return err_set(err, EINVAL, "image: skopeo copy %s %s failed (not a readable image?)", src, dst);
        return 0;
}

/* In the forked child: stdin and stdout /dev/null, stderr the pipe, no
 * other fd, dead when PARENT is. */
static _Noreturn void exec_helper(const char *path, const char *ref, const char *name, int err_fd, pid_t parent)
{
        char *argv[] = { (char *)IMG_HELPER, (char *)"import", (char *)ref, (char *)name, NULL };
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent || null < 0 ||
            dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 || dup2(err_fd, STDERR_FILENO) < 0 ||
            close_range(3, UINT_MAX, 0) < 0)
                _exit(127);
        execv(path, argv);
        dprintf(STDERR_FILENO, "image: cannot run the image helper %s: %s\n", path, strerror(errno));
        _exit(127);
}

/* Everything FD gives until EOF (so the helper never blocks on a full
 * pipe); the first N-1 bytes kept, without the trailing newline. */
static void read_line(int fd, char *buf, size_t n)
{
        size_t len = 0;
        char chunk[512];
        for (;;) {
                ssize_t k = read(fd, chunk, sizeof(chunk));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                size_t take = (size_t)k < n - 1 - len ? (size_t)k : n - 1 - len;
                memcpy(buf + len, chunk, take);
                len += take;
        }
        while (len && buf[len - 1] == '\n')
                len--;
        buf[len] = '\0';
}

static int helper_status(const char *path, int status, const char *line, struct zb_error *err)
{
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (WIFSIGNALED(status))
                return err_set(err, EIO, "image: the image helper %s was killed by signal %d", path, WTERMSIG(status));
        if (!line[0])
                return err_set(err, EIO, "image: the image helper %s failed (exit status %d) and said nothing", path,
                               WEXITSTATUS(status));
        return err_set(err, WEXITSTATUS(status), "%s", line);
}

int img_import_helper(const char *ref, const char *name, struct zb_error *err)
{
        char path[PATH_MAX], line[sizeof(err->message)];
        int pfd[2], status = 0;
        if (util_helper_path(IMG_HELPER, path, sizeof(path)) < 0)
                return err_set(err, ENOENT, "image: importing needs the image helper %s (beside zonebox or in %s), which is not installed",
                               IMG_HELPER, ZB_LIBEXECDIR);
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return err_errno(err, errno, "image: pipe for %s", IMG_HELPER);
        pid_t parent = getpid(), pid = fork();
        if (pid == 0)
                exec_helper(path, ref, name, pfd[1], parent);
        close(pfd[1]);
        if (pid < 0) {
                close(pfd[0]);
                return err_errno(err, errno, "image: fork for %s", IMG_HELPER);
        }
        read_line(pfd[0], line, sizeof(line));
        close(pfd[0]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        return helper_status(path, status, line, err);
}
