/* What a cgroup migration costs on this host, measured once for `zonebox
 * doctor`, and what would make it cheaper.
 *
 * Moving a process by pid (a write to cgroup.procs) takes the kernel's
 * global threadgroup rwsem for writing; unless another writer passed within
 * about a grace period, that waits for an RCU grace period. A single thread
 * moving itself (v1 tasks, "0") skips the rwsem: zonebox's sandbox does that
 * on v1, and on v2 it is cloned straight into its cgroup. The favordynmods
 * mount option (or cgroup_favordynmods= on the kernel command line) keeps
 * the rwsem in its slow-reader mode so that by-pid moves are cheap too; we
 * only report it, never change it. Everything made here is removed again. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "cgroup.h"

static double now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* favordynmods on any cgroup mount, from mountinfo's super options. */
static void find_favordynmods(struct ns_cg_cost *c, const char *mountinfo)
{
        for (const char *line = mountinfo; line && *line;) {
                const char *eol = strchrnul(line, '\n');
                const char *sep = strstr(line, " - ");
                if (sep && sep < eol) {
                        char rest[512];
                        snprintf(rest, sizeof(rest), "%.*s", (int)(eol - sep - 3), sep + 3);
                        char *type = rest, *src = strchr(type, ' ');
                        char *opts = src ? strchr(src + 1, ' ') : NULL;
                        if (opts && (strncmp(type, "cgroup ", 7) == 0 || strncmp(type, "cgroup2 ", 8) == 0) &&
                            cg_has_word(opts + 1, "favordynmods"))
                                c->favordynmods_mount = true;
                }
                line = *eol ? eol + 1 : NULL;
        }
}

static void find_cmdline(struct ns_cg_cost *c)
{
        char buf[4096] = "";
        int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                ssize_t n = read(fd, buf, sizeof(buf) - 1);
                buf[n > 0 ? n : 0] = '\0';
                close(fd);
        }
        const char *s = strstr(buf, "cgroup_favordynmods=");
        if (s)
                snprintf(c->cmdline, sizeof(c->cmdline), "%.*s", (int)strcspn(s, " \n"), s);
}

/* A child that moves itself into DIR (tasks, "0") and reports how long the
 * write took; -1 when it failed. */
static double self_move_ms(const char *dir)
{
        char path[2 * PATH_MAX];
        int p[2];
        double ms = -1;
        snprintf(path, sizeof(path), "%s/tasks", dir);
        if (pipe2(p, O_CLOEXEC) < 0)
                return -1;
        pid_t pid = fork();
        if (pid == 0) {
                int fd = open(path, O_WRONLY | O_CLOEXEC);
                double t0 = now_ms();
                bool ok = fd >= 0 && write(fd, "0", 1) == 1;
                double t = ok ? now_ms() - t0 : -1;
                _exit(write(p[1], &t, sizeof(t)) == (ssize_t)sizeof(t) ? 0 : 1);
        }
        close(p[1]);
        if (pid > 0 && read(p[0], &ms, sizeof(ms)) != (ssize_t)sizeof(ms))
                ms = -1;
        close(p[0]);
        if (pid > 0)
                waitpid(pid, NULL, 0);
        return ms;
}

/* A child that waits, moved into DIR by its pid from here (cgroup.procs). */
static double by_pid_ms(const char *dir)
{
        char path[2 * PATH_MAX];
        int p[2];
        double ms = -1;
        snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
        if (pipe2(p, O_CLOEXEC) < 0)
                return -1;
        pid_t pid = fork();
        if (pid == 0) {
                close(p[1]);
                char b;
                _exit(read(p[0], &b, 1) < 0 ? 1 : 0); /* until the write end closes */
        }
        close(p[0]);
        int fd = pid > 0 ? open(path, O_WRONLY | O_CLOEXEC) : -1;
        if (fd >= 0) {
                char buf[32];
                snprintf(buf, sizeof(buf), "%d", (int)pid);
                double t0 = now_ms();
                if (write(fd, buf, strlen(buf)) == (ssize_t)strlen(buf))
                        ms = now_ms() - t0;
                close(fd);
        }
        close(p[1]);
        if (pid > 0)
                waitpid(pid, NULL, 0);
        return ms;
}

int ns_cgroup_migration_cost(struct ns_cg_cost *c, struct zb_error *err)
{
        memset(c, 0, sizeof(*c));
        c->self_ms = c->by_pid_ms = -1;
        find_cmdline(c);
        _cleanup_(freep) struct cg_layout *l = malloc(sizeof(*l));
        if (!l)
                return err_set(err, ENOMEM, "out of memory");
        _cleanup_(freep) char *mi = NULL;
        int r = ns_cgroup_layout_load(l, &mi);
        if (r < 0)
                return err_errno(err, -r, "cannot read /proc/self/mountinfo or /proc/self/cgroup");
        find_favordynmods(c, mi);

        /* Where the memory limit would live: its v1 hierarchy, else v2. */
        int m = l->v1[ZB_CG_MEMORY];
        const char *self = m >= 0 ? l->v1_self[ZB_CG_MEMORY] : l->v2_self;
        if (m < 0)
                m = l->v2;
        char parent[PATH_MAX];
        if (m < 0 || !self[0] || cg_dir(l, m, self, parent, sizeof(parent)) < 0)
                return err_set(err, ENOENT, "no cgroup hierarchy with the memory controller, nor cgroup v2");
        c->v2 = l->mounts[m].v2;
        int n = snprintf(c->dir, sizeof(c->dir), "%s/zonebox-doctor-%d-move", parent, (int)getpid());
        if (n < 0 || (size_t)n >= sizeof(c->dir))
                return err_set(err, ENAMETOOLONG, "cgroup path too long");
        if (mkdir(c->dir, 0755) < 0)
                return err_errno(err, errno, "cannot make a cgroup under %s", parent);
        /* Self first: it does not take the rwsem, so it cannot warm it for
         * the by-pid move after it. */
        if (!c->v2)
                c->self_ms = self_move_ms(c->dir);
        c->by_pid_ms = by_pid_ms(c->dir);
        for (int i = 0; i < 200 && rmdir(c->dir) < 0 && errno == EBUSY; i++)
                nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
        if (c->by_pid_ms < 0)
                return err_set(err, EIO, "could not move a process into %s", c->dir);
        return 0;
}
