/* The systemd path of the resources layer (see systemd.h): find out whether
 * it applies, run the sd-bus helper (src/helper/systemd-scope.c, installed
 * next to the zonebox binary) to move us into a delegated scope, collect
 * stale scopes. Guarantees: we only ever ask for a scope holding our own
 * pid; we only kill scopes named zonebox-<pid>-<start>.scope whose
 * supervisor is gone; a failure leaves us where we were and says which step
 * failed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "systemd.h"

#define HELPER "zonebox-systemd"
#define CG_ROOT "/sys/fs/cgroup"
#define HELPER_WAIT_MS 10000

static bool is_socket(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Our cgroup v2 path ("/a/b") from /proc/self/cgroup's "0::" line. */
static int self_cgroup(char *out, size_t size)
{
        char buf[4096];
        int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return -EIO;
        buf[n] = '\0';
        char *line = strstr(buf, "0::");
        if (!line || (line != buf && line[-1] != '\n'))
                return -ENOENT;
        line += 3;
        line[strcspn(line, "\n")] = '\0';
        return snprintf(out, size, "%s", line) < (int)size ? 0 : -ENAMETOOLONG;
}

/* "zonebox-<pid>-<start>.scope": the supervisor's identity. */
static bool scope_name_parse(const char *name, pid_t *pid, unsigned long long *start)
{
        char base[96];
        size_t n = strlen(name);
        if (n < 7 || n >= sizeof(base) || strcmp(name + n - 6, ".scope") != 0)
                return false;
        snprintf(base, sizeof(base), "%.*s-0", (int)(n - 6), name);
        return cg_name_parse(base, pid, start);
}

bool ns_systemd_in_scope(void)
{
        char cg[PATH_MAX];
        pid_t pid;
        unsigned long long start;
        if (self_cgroup(cg, sizeof(cg)) < 0)
                return false;
        char *save = NULL;
        for (char *s = strtok_r(cg, "/", &save); s; s = strtok_r(NULL, "/", &save))
                if (scope_name_parse(s, &pid, &start))
                        return true;
        return false;
}

bool ns_systemd_available(char *why, size_t size)
{
        struct statfs fs;
        char path[PATH_MAX];
        why[0] = '\0';
        if (access("/run/systemd/system", F_OK) != 0) {
                snprintf(why, size, "systemd is not running (no /run/systemd/system)");
                return false;
        }
        if (statfs(CG_ROOT, &fs) != 0 || fs.f_type != CGROUP2_SUPER_MAGIC) {
                snprintf(why, size, "%s is not a pure cgroup v2 hierarchy", CG_ROOT);
                return false;
        }
        if (geteuid() == 0) {
                if (!is_socket("/run/dbus/system_bus_socket")) {
                        snprintf(why, size, "no system bus (/run/dbus/system_bus_socket)");
                        return false;
                }
        } else {
                const char *rt = getenv("XDG_RUNTIME_DIR");
                char bus[PATH_MAX];
                if (rt && rt[0])
                        snprintf(bus, sizeof(bus), "%s/bus", rt);
                else
                        snprintf(bus, sizeof(bus), "/run/user/%u/bus", (unsigned)geteuid());
                if (!getenv("DBUS_SESSION_BUS_ADDRESS") && !is_socket(bus)) {
                        snprintf(why, size, "no systemd user manager for uid %u (no %s: log in, or loginctl enable-linger)",
                                 (unsigned)geteuid(), bus);
                        return false;
                }
        }
        if (util_helper_path(HELPER, path, sizeof(path)) < 0) {
                snprintf(why, size, "%s is not installed (beside zonebox or in %s)", HELPER, ZB_LIBEXECDIR);
                return false;
        }
        return true;
}

/* A stale scope: killed (systemd removes it once it is empty). */
static int kill_scope(const char *path, bool v2)
{
        (void)v2;
        char file[PATH_MAX];
        if (snprintf(file, sizeof(file), "%s/cgroup.kill", path) >= (int)sizeof(file))
                return -ENAMETOOLONG;
        int fd = open(file, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = write(fd, "1", 1) == 1 ? 0 : -errno;
        close(fd);
        return r;
}

/* Kill the stale zonebox scopes directly under DIR. */
static void gc_scopes(const char *dir, unsigned *removed)
{
        cg_gc_stale(dir, true, scope_name_parse, kill_scope, removed);
}

void ns_systemd_gc(unsigned *removed)
{
        char dir[PATH_MAX];
        if (geteuid() == 0)
                snprintf(dir, sizeof(dir), CG_ROOT "/system.slice");
        else
                snprintf(dir, sizeof(dir), CG_ROOT "/user.slice/user-%u.slice/user@%u.service/app.slice",
                         (unsigned)geteuid(), (unsigned)geteuid());
        gc_scopes(dir, removed);
}

/* Run the helper, bounded; its one line of stderr into MSG. */
static int run_helper(const char *helper, const char *name, char *msg, size_t size)
{
        int pipefd[2];
        char pid[32];
        msg[0] = '\0';
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        pid_t child = fork();
        if (child < 0) {
                int e = errno;
                close(pipefd[0]);
                close(pipefd[1]);
                return -e;
        }
        if (child == 0) {
                dup2(pipefd[1], STDERR_FILENO);
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null >= 0) {
                        dup2(null, STDIN_FILENO);
                        dup2(null, STDOUT_FILENO);
                }
                execl(helper, HELPER, "scope", name, pid, (char *)NULL);
                dprintf(STDERR_FILENO, "cannot run %s: %s", helper, strerror(errno));
                _exit(127);
        }
        close(pipefd[1]);
        size_t used = 0;
        ssize_t n;
        while (used + 1 < size && (n = read(pipefd[0], msg + used, size - 1 - used)) > 0)
                used += (size_t)n;
        msg[used] = '\0';
        msg[strcspn(msg, "\n")] = '\0';
        close(pipefd[0]);
        int status = 0;
        for (int ms = 0; waitpid(child, &status, WNOHANG) == 0; ms++) {
                if (ms == HELPER_WAIT_MS) {
                        kill(child, SIGKILL);
                        waitpid(child, &status, 0);
                        snprintf(msg, size, "%s did not answer in %d s", HELPER, HELPER_WAIT_MS / 1000);
                        return -ETIMEDOUT;
                }
                nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
        }
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int ns_systemd_scope(struct zb_error *err)
{
        char helper[PATH_MAX], name[96], msg[400], cg[PATH_MAX];
        unsigned long long start = 0;
        if (util_helper_path(HELPER, helper, sizeof(helper)) < 0)
                return err_set(err, ENOENT, "%s is not installed", HELPER);
        if (ns_proc_start_time(getpid(), &start) < 0)
                return err_set(err, EIO, "cannot read /proc/self/stat");
        snprintf(name, sizeof(name), "zonebox-%d-%llu.scope", (int)getpid(), start);
        int r = run_helper(helper, name, msg, sizeof(msg));
        if (r < 0)
                return err_set(err, -r, "%s", msg[0] ? msg : "the systemd helper failed");
        /* The job is done: we must be in the scope now. */
        if (self_cgroup(cg, sizeof(cg)) < 0 || !strstr(cg, name))
                return err_set(err, EIO, "systemd started %s but this process is in %s", name, cg);
        /* Stale scopes beside ours. */
        char *slash = strrchr(cg, '/');
        if (slash && slash != cg) {
                char dir[PATH_MAX];
                *slash = '\0';
                if (snprintf(dir, sizeof(dir), CG_ROOT "%s", cg) < (int)sizeof(dir))
                        gc_scopes(dir, NULL);
        }
        return 0;
}
