/* The resources layer's files: reading and writing a cgroup's control
 * files, loading the host's cgroup layout, killing every process of a
 * cgroup and removing it, and collecting the cgroups whose supervisor is
 * gone (at each setup and in `zonebox gc`).
 *
 * Rules kept: a cgroup is only removed when its name says zonebox made it
 * and its supervisor (pid and start time) is no longer alive, or when this
 * run made it; paths are joined or refused (-ENAMETOOLONG), never cut. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "cgroup_int.h"
#include "systemd.h"

#define REMOVE_TRIES 200 /* × 1 ms: rmdir waits for the kernel to release the cgroup */

/* ---------------------------------------------------------------- files */

/* DIR/FILE into OUT; -ENAMETOOLONG rather than a truncated path. */
int cg_join(char *out, size_t size, const char *dir, const char *file)
{
        int n = snprintf(out, size, "%s/%s", dir, file);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

ssize_t cg_read_text(const char *path, char *buf, size_t size)
{
        buf[0] = '\0'; /* an empty string on every failure, too */
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno ? -errno : -EIO;
        ssize_t n = read(fd, buf, size - 1);
        int e = errno;
        close(fd);
        if (n < 0)
                return e ? -e : -EIO; /* never 0: buf is unset */
        buf[n] = '\0';
        return n;
}

/* A whole /proc file of unknown size, malloc'd. */
static char *read_all(const char *path)
{
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        size_t cap = 16384, len = 0;
        char *buf = malloc(cap);
        if (!buf)
                return NULL;
        for (;;) {
                if (len + 1 >= cap) {
                        char *nb = realloc(buf, cap * 2);
                        if (!nb) {
                                free(buf);
                                return NULL;
                        }
                        buf = nb;
                        cap *= 2;
                }
                ssize_t n = read(fd, buf + len, cap - len - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = '\0';
        return buf;
}

int cg_write_text(const char *dir, const char *file, const char *text)
{
        char path[PATH_MAX];
        if (cg_join(path, sizeof(path), dir, file) < 0)
                return -ENAMETOOLONG;
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = write(fd, text, strlen(text));
        int e = errno;
        close(fd);
        return n < 0 ? -e : 0;
}

int cg_write_u64(const char *dir, const char *file, uint64_t v)
{
        char buf[32];
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
        return cg_write_text(dir, file, buf);
}

bool cg_file_exists(const char *dir, const char *file)
{
        char path[PATH_MAX];
        return cg_join(path, sizeof(path), dir, file) == 0 && access(path, F_OK) == 0;
}

int cg_read_keyed(const char *dir, const char *file, const char *key, uint64_t *out)
{
        char path[PATH_MAX], buf[2048];
        if (cg_join(path, sizeof(path), dir, file) < 0 || cg_read_text(path, buf, sizeof(buf)) < 0)
                return -1;
        return cg_keyed(buf, key, out);
}

int cg_read_u64(const char *dir, const char *file, uint64_t *out)
{
        char path[PATH_MAX], buf[64];
        if (cg_join(path, sizeof(path), dir, file) < 0 || cg_read_text(path, buf, sizeof(buf)) <= 0)
                return -1;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(buf, &end, 10);
        if (errno || end == buf)
                return -1;
        *out = v;
        return 0;
}


/* ---------------------------------------------------------------- identity */

int ns_proc_start_time(pid_t pid, unsigned long long *out)
{
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if (cg_read_text(path, buf, sizeof(buf)) <= 0)
                return -1;
        char *s = strrchr(buf, ')'), *end;
        /* Killed but not yet reaped (a zombie, or dead) is gone: its parent
         * may never reap it (a container without an init). */
        if (!s || s[1] != ' ' || s[2] == 'Z' || s[2] == 'X' || s[2] == 'x')
                return -1;
        for (int field = 2; s && field < 22; field++)
                s = strchr(s + 1, ' ');
        if (!s || !isdigit((unsigned char)s[1]))
                return -1;
        errno = 0;
        unsigned long long v = strtoull(s + 1, &end, 10);
        if (errno || (*end != ' ' && *end != '\0'))
                return -1;
        *out = v;
        return 0;
}

static bool supervisor_alive(pid_t pid, unsigned long long start)
{
        unsigned long long now;
        return ns_proc_start_time(pid, &now) == 0 && now == start;
}

int ns_cgroup_layout_load(struct cg_layout *l, char **mountinfo)
{
        cg_layout_init(l);
        _cleanup_(freep) char *mi = read_all("/proc/self/mountinfo");
        _cleanup_(freep) char *self = read_all("/proc/self/cgroup");
        if (!mi || !self)
                return errno ? -errno : -ENOMEM;
        cg_parse_mountinfo(l, mi);
        if (mountinfo) {
                *mountinfo = mi;
                mi = NULL;
        }
        cg_parse_self(l, self);
        /* After an earlier run in this process moved us into our own leaf,
         * the cgroup we were started in is its parent. */
        char *slash = strrchr(l->v2_self, '/');
        if (slash && strcmp(slash + 1, CG_SUPERVISOR_LEAF) == 0)
                *(slash == l->v2_self ? slash + 1 : slash) = '\0';
        return 0;
}

/* The parent cgroup in one hierarchy: limits.cgroup_parent when absolute
 * (the same path in every hierarchy, as Docker's), relative to our own
 * cgroup there when relative, our own cgroup when not set. */
int cg_parent_path(const char *self, const char *parent, char *out, size_t size)
{
        int n;
        if (!parent)
                n = snprintf(out, size, "%s", self);
        else if (parent[0] == '/')
                n = snprintf(out, size, "%s", parent);
        else
                n = snprintf(out, size, "%s/%s", strcmp(self, "/") ? self : "", parent);
        return n < 0 || (size_t)n >= size || !out[0] ? -1 : 0;
}

/* ---------------------------------------------------------------- teardown */

/* Kill every process of a cgroup: v2 cgroup.kill, else SIGKILL by pid until
 * the list is empty (v1 has no atomic kill; new forks show up in the list). */
void cg_kill_all(const char *dir, bool v2)
{
        uint64_t populated = 1;
        /* cgroup.kill costs ~0.7 ms even when empty, the usual case once
         * init is gone (the pid namespace died with it): look first. */
        if (v2 && cg_read_keyed(dir, "cgroup.events", "populated", &populated) == 0 && !populated)
                return;
        if (v2 && cg_write_text(dir, "cgroup.kill", "1") == 0)
                return;
        char path[PATH_MAX];
        if (cg_join(path, sizeof(path), dir, "cgroup.procs") < 0)
                return;
        for (int round = 0; round < REMOVE_TRIES; round++) {
                _cleanup_(freep) char *procs = read_all(path);
                if (!procs || !procs[0])
                        return;
                for (char *s = procs; *s;) {
                        long pid = strtol(s, &s, 10);
                        if (pid > 0)
                                kill((pid_t)pid, SIGKILL);
                        while (*s == '\n')
                                s++;
                }
                nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
        }
}

int cg_remove_dir(const char *dir)
{
        for (int i = 0; i < REMOVE_TRIES; i++) {
                if (rmdir(dir) == 0 || errno == ENOENT)
                        return 0;
                if (errno != EBUSY)
                        return -errno;
                nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
        }
        return -EBUSY;
}

static int remove_cgroup(const char *dir, bool v2)
{
        cg_kill_all(dir, v2);
        return cg_remove_dir(dir);
}

/* Each entry directly under DIR whose name PARSE reads as a supervisor's
 * (pid, start time) while that supervisor is gone: REAP(path, V2), counted
 * in REMOVED (may be NULL) when it returns 0. Shared by the cgroup gc and
 * systemd.c's scopes. */
void cg_gc_stale(const char *dir, bool v2, cg_name_parse_fn parse, cg_reap_fn reap, unsigned *removed)
{
        _cleanup_(closedirp) DIR *d = opendir(dir);
        struct dirent *e;
        if (!d)
                return;
        while ((e = readdir(d))) {
                pid_t pid;
                unsigned long long start;
                if (e->d_type != DT_DIR || !parse(e->d_name, &pid, &start) || supervisor_alive(pid, start))
                        continue;
                char path[PATH_MAX];
                if (cg_join(path, sizeof(path), dir, e->d_name) < 0)
                        continue;
                if (reap(path, v2) == 0 && removed)
                        (*removed)++;
        }
}

/* Stale zonebox cgroups directly under DIR: their supervisor is gone. */
void cg_gc_dir(const char *dir, bool v2, unsigned *removed)
{
        cg_gc_stale(dir, v2, cg_name_parse, remove_cgroup, removed);
}

int ns_cgroup_gc(const char *parent, unsigned *removed, struct zb_error *err)
{
        _cleanup_(freep) struct cg_layout *l = malloc(sizeof(*l));
        char dir[PATH_MAX];
        int r;

        *removed = 0;
        if (!l)
                return err_set(err, ENOMEM, "gc: out of memory");
        if ((r = ns_cgroup_layout_load(l, NULL)) < 0)
                return err_errno(err, -r, "gc: cannot read /proc/self/mountinfo or /proc/self/cgroup");
        char pcg[PATH_MAX];
        /* Under our own cgroups, then under the parent if one is given. */
        for (int pass = 0; pass < (parent ? 2 : 1); pass++) {
                const char *par = pass ? parent : NULL;
                if (l->v2 >= 0 && cg_parent_path(l->v2_self, par, pcg, sizeof(pcg)) == 0 &&
                    cg_dir(l, l->v2, pcg, dir, sizeof(dir)) == 0)
                        cg_gc_dir(dir, true, removed);
                for (int c = 0; c < ZB_CG_N; c++) {
                        bool seen = false;
                        for (int o = 0; o < c; o++)
                                seen |= l->v1[o] == l->v1[c];
                        if (!seen && cg_parent_path(l->v1_self[c], par, pcg, sizeof(pcg)) == 0 &&
                            cg_dir(l, l->v1[c], pcg, dir, sizeof(dir)) == 0)
                                cg_gc_dir(dir, false, removed);
                }
        }
        if (!parent)
                ns_systemd_gc(removed);
        return 0;
}
