/* The resources layer (see cgroup.h for the lifetime).
 *
 * Detection is per controller: memory, cpu and pids go to cgroup v2 when our
 * v2 cgroup (or limits.cgroup_parent) offers them in cgroup.controllers,
 * else to the v1 hierarchy that has them. The v2 cgroup is also created
 * when no controller lives there (hybrid hosts): it gives cgroup.kill and
 * cpu.stat for free, and the child is cloned straight into it.
 *
 * Rules kept: cgroups are only created as children of the cgroup we run in
 * or of the configured parent; we never write into a cgroup we did not
 * create, except the parent's cgroup.subtree_control on v2 (enabling a
 * controller for children is what delegation is for) and, when the parent
 * holds no process but us, moving ourselves into a leaf of our own first
 * (the no-internal-processes rule). */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "blkio.h"
#include "cgroup.h"
#include "systemd.h"

#define SUPERVISOR_LEAF "zonebox-supervisor"
#define CPU_PERIOD_US 100000ull
#define REMOVE_TRIES 200 /* × 1 ms: rmdir waits for the kernel to release the cgroup */

static const char *const ctrl_name[ZB_CG_N] = { "memory", "cpu", "cpuacct", "pids", "io" };
/* The same controllers' names on cgroup v1 (io was blkio there). */
static const char *const ctrl_v1_name[ZB_CG_N] = { "memory", "cpu", "cpuacct", "pids", "blkio" };

/* ---------------------------------------------------------------- parsing */

/* Only what the parsers and readers look at: the layout is ~280 KiB of
 * path buffers, and clearing it all faulted in ~70 pages per run. */
void cg_layout_init(struct cg_layout *l)
{
        l->n_mounts = 0;
        l->v2 = -1;
        l->v2_self[0] = '\0';
        for (int c = 0; c < ZB_CG_N; c++) {
                l->v1[c] = -1;
                l->v1_self[c][0] = '\0';
        }
}

bool cg_has_word(const char *list, const char *word)
{
        size_t n = strlen(word);
        for (const char *s = list; s && *s;) {
                while (*s == ' ' || *s == ',' || *s == '\n')
                        s++;
                size_t len = strcspn(s, " ,\n");
                if (len == n && strncmp(s, word, n) == 0)
                        return true;
                s += len;
        }
        return false;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
        char *w = s;
        for (char *r = s; *r; r++) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
                    r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 3;
                } else {
                        *w++ = *r;
                }
        }
        *w = '\0';
}

static int copy_field(char *dst, size_t size, const char *src, size_t len)
{
        if (len >= size)
                return -1;
        memcpy(dst, src, len);
        dst[len] = '\0';
        return 0;
}

int cg_parse_mountinfo(struct cg_layout *l, const char *text)
{
        for (const char *line = text; line && *line;) {
                const char *eol = strchrnul(line, '\n');
                const char *f[12];
                size_t flen[12];
                int nf = 0, sep = -1;
                for (const char *s = line; s < eol && nf < 12;) {
                        while (s < eol && *s == ' ')
                                s++;
                        if (s >= eol)
                                break;
                        const char *e = s;
                        while (e < eol && *e != ' ')
                                e++;
                        f[nf] = s;
                        flen[nf] = (size_t)(e - s);
                        if (flen[nf] == 1 && *s == '-' && nf >= 6 && sep < 0)
                                sep = nf;
                        nf++;
                        s = e;
                }
                line = *eol ? eol + 1 : NULL;
                if (sep < 0 || nf < sep + 4 || l->n_mounts >= ZB_CG_MAX_MOUNTS)
                        continue;
                bool v2 = flen[sep + 1] == 7 && strncmp(f[sep + 1], "cgroup2", 7) == 0;
                bool v1 = flen[sep + 1] == 6 && strncmp(f[sep + 1], "cgroup", 6) == 0;
                if (!v1 && !v2)
                        continue;
                struct cg_mount *m = &l->mounts[l->n_mounts];
                m->ctrls = 0;
                if (copy_field(m->root, sizeof(m->root), f[3], flen[3]) < 0 ||
                    copy_field(m->dir, sizeof(m->dir), f[4], flen[4]) < 0)
                        continue;
                unescape(m->root);
                unescape(m->dir);
                m->v2 = v2;
                if (v1) {
                        char opts[512];
                        if (copy_field(opts, sizeof(opts), f[sep + 3], flen[sep + 3]) < 0)
                                continue;
                        for (int c = 0; c < ZB_CG_N; c++)
                                if (cg_has_word(opts, ctrl_v1_name[c]))
                                        m->ctrls |= 1u << c;
                        if (!m->ctrls)
                                continue; /* name=systemd and the like */
                }
                int idx = l->n_mounts++;
                if (v2 && l->v2 < 0)
                        l->v2 = idx;
                for (int c = 0; c < ZB_CG_N; c++)
                        if ((m->ctrls & (1u << c)) && l->v1[c] < 0)
                                l->v1[c] = idx;
        }
        return 0;
}

int cg_parse_self(struct cg_layout *l, const char *text)
{
        for (const char *line = text; line && *line;) {
                const char *eol = strchrnul(line, '\n');
                const char *c1 = memchr(line, ':', (size_t)(eol - line));
                const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
                if (c2) {
                        char ctrls[256], path[PATH_MAX];
                        if (copy_field(ctrls, sizeof(ctrls), c1 + 1, (size_t)(c2 - c1 - 1)) == 0 &&
                            copy_field(path, sizeof(path), c2 + 1, (size_t)(eol - c2 - 1)) == 0) {
                                if (line[0] == '0' && c1 == line + 1 && !ctrls[0])
                                        snprintf(l->v2_self, sizeof(l->v2_self), "%s", path);
                                for (int c = 0; c < ZB_CG_N; c++)
                                        if (cg_has_word(ctrls, ctrl_v1_name[c]))
                                                snprintf(l->v1_self[c], sizeof(l->v1_self[c]), "%s",
                                                         path);
                        }
                }
                line = *eol ? eol + 1 : NULL;
        }
        return 0;
}

int cg_dir(const struct cg_layout *l, int m, const char *path, char *out, size_t size)
{
        if (m < 0 || m >= l->n_mounts || path[0] != '/')
                return -1;
        const char *root = l->mounts[m].root;
        size_t rlen = strcmp(root, "/") == 0 ? 0 : strlen(root);
        if (rlen && (strncmp(path, root, rlen) != 0 || (path[rlen] != '/' && path[rlen] != '\0')))
                return -1;
        const char *rest = path + rlen;
        if (strcmp(rest, "/") == 0)
                rest = "";
        int n = snprintf(out, size, "%s%s", l->mounts[m].dir, rest);
        return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* A plain decimal number (digits only, at most MAX) at *S, ended by SEP;
 * *S moves past SEP. sscanf's %llu would also take blanks, signs and
 * wrap-around, and these names come from directories anyone with write
 * access to the parent can create. */
static bool take_decimal(const char **s, char sep, unsigned long long max, unsigned long long *out)
{
        char *end;
        if (!isdigit((unsigned char)**s))
                return false;
        errno = 0;
        unsigned long long v = strtoull(*s, &end, 10);
        if (errno || *end != sep || v > max)
                return false;
        *out = v;
        *s = sep ? end + 1 : end;
        return true;
}

bool cg_name_parse(const char *name, pid_t *pid, unsigned long long *start)
{
        unsigned long long p, s, seq;
        const char *c = name + 8;
        if (strncmp(name, "zonebox-", 8) != 0 || !take_decimal(&c, '-', INT32_MAX, &p) ||
            !take_decimal(&c, '-', ULLONG_MAX, &s) || !take_decimal(&c, '\0', UINT_MAX, &seq) ||
            p == 0)
                return false;
        *pid = (pid_t)p;
        *start = s;
        return true;
}

int cg_keyed(const char *text, const char *key, uint64_t *out)
{
        size_t n = strlen(key);
        for (const char *line = text; line && *line;) {
                if (strncmp(line, key, n) == 0 && line[n] == ' ') {
                        char *end;
                        errno = 0;
                        unsigned long long v = strtoull(line + n + 1, &end, 10);
                        if (errno || end == line + n + 1)
                                return -1;
                        *out = v;
                        return 0;
                }
                line = strchr(line, '\n');
                if (line)
                        line++;
        }
        return -1;
}

/* ---------------------------------------------------------------- files */

/* DIR/FILE into OUT; -ENAMETOOLONG rather than a truncated path. */
static int join(char *out, size_t size, const char *dir, const char *file)
{
        int n = snprintf(out, size, "%s/%s", dir, file);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static ssize_t read_text(const char *path, char *buf, size_t size)
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

static int write_text(const char *dir, const char *file, const char *text)
{
        char path[PATH_MAX];
        if (join(path, sizeof(path), dir, file) < 0)
                return -ENAMETOOLONG;
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = write(fd, text, strlen(text));
        int e = errno;
        close(fd);
        return n < 0 ? -e : 0;
}

static int write_u64(const char *dir, const char *file, uint64_t v)
{
        char buf[32];
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
        return write_text(dir, file, buf);
}

static bool file_exists(const char *dir, const char *file)
{
        char path[PATH_MAX];
        return join(path, sizeof(path), dir, file) == 0 && access(path, F_OK) == 0;
}

static int read_keyed(const char *dir, const char *file, const char *key, uint64_t *out)
{
        char path[PATH_MAX], buf[2048];
        if (join(path, sizeof(path), dir, file) < 0 || read_text(path, buf, sizeof(buf)) < 0)
                return -1;
        return cg_keyed(buf, key, out);
}

static int read_u64(const char *dir, const char *file, uint64_t *out)
{
        char path[PATH_MAX], buf[64];
        if (join(path, sizeof(path), dir, file) < 0 || read_text(path, buf, sizeof(buf)) <= 0)
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
        if (read_text(path, buf, sizeof(buf)) <= 0)
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
        if (slash && strcmp(slash + 1, SUPERVISOR_LEAF) == 0)
                *(slash == l->v2_self ? slash + 1 : slash) = '\0';
        return 0;
}

/* The parent cgroup in one hierarchy: limits.cgroup_parent when absolute
 * (the same path in every hierarchy, as Docker's), relative to our own
 * cgroup there when relative, our own cgroup when not set. */
static int parent_cgroup(const char *self, const char *parent, char *out, size_t size)
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

#define UNPRIVILEGED_HINT " (without root: run under a systemd user manager (log in, or loginctl enable-linger) and zonebox asks it for a delegated scope; or give a cgroup delegated to you with limits.cgroup_parent; or allow running without limits with limits.allow_unenforced)"

/* ---------------------------------------------------------------- teardown */

/* Kill every process of a cgroup: v2 cgroup.kill, else SIGKILL by pid until
 * the list is empty (v1 has no atomic kill; new forks show up in the list). */
static void kill_all(const char *dir, bool v2)
{
        uint64_t populated = 1;
        /* cgroup.kill costs ~0.7 ms even when empty, the usual case once
         * init is gone (the pid namespace died with it): look first. */
        if (v2 && read_keyed(dir, "cgroup.events", "populated", &populated) == 0 && !populated)
                return;
        if (v2 && write_text(dir, "cgroup.kill", "1") == 0)
                return;
        char path[PATH_MAX];
        if (join(path, sizeof(path), dir, "cgroup.procs") < 0)
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

static int remove_dir(const char *dir)
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
        kill_all(dir, v2);
        return remove_dir(dir);
}

/* Stale zonebox cgroups directly under DIR: their supervisor is gone. */
static void gc_dir(const char *dir, bool v2, unsigned *removed)
{
        _cleanup_(closedirp) DIR *d = opendir(dir);
        struct dirent *e;
        if (!d)
                return;
        while ((e = readdir(d))) {
                pid_t pid;
                unsigned long long start;
                if (e->d_type != DT_DIR || !cg_name_parse(e->d_name, &pid, &start) ||
                    supervisor_alive(pid, start))
                        continue;
                char path[PATH_MAX];
                if (join(path, sizeof(path), dir, e->d_name) < 0)
                        continue;
                if (remove_cgroup(path, v2) == 0 && removed)
                        (*removed)++;
        }
}

/* ---------------------------------------------------------------- setup */

static bool limit_wanted(const struct pol_limits *l)
{
        return l->memory || l->cpus_milli || l->pids || l->cpu_time_ms || pol_io_wanted(&l->io);
}

static uint64_t swap_bytes(const struct pol_limits *l)
{
        if (l->memory_swap_total == ZB_UNLIMITED)
                return ZB_UNLIMITED;
        if (l->memory_swap_total)
                return l->memory_swap_total > l->memory ? l->memory_swap_total - l->memory : 0;
        return l->swap;
}

/* Enable CTRLS ("+memory +pids") for the children of PARENT. */
static int enable_subtree(const char *parent, const char *want, bool own_cgroup, struct zb_error *err)
{
        char have[512] = "", add[128] = "";
        char path[PATH_MAX];
        if (join(path, sizeof(path), parent, "cgroup.subtree_control") < 0 ||
            read_text(path, have, sizeof(have)) < 0)
                return err_errno(err, errno, "layer resources: cannot read %s", path);
        for (const char *s = want; *s;) {
                size_t len = strcspn(s, " ");
                char word[32];
                snprintf(word, sizeof(word), "%.*s", (int)len, s);
                if (!cg_has_word(have, word)) {
                        size_t used = strlen(add);
                        snprintf(add + used, sizeof(add) - used, "%s+%s", used ? " " : "", word);
                }
                s += len;
                while (*s == ' ')
                        s++;
        }
        if (!add[0])
                return 0;
        int r = write_text(parent, "cgroup.subtree_control", add);
        if (r == -EBUSY && own_cgroup) {
                /* Processes in PARENT: if the only one is us, move into a
                 * leaf of our own (no-internal-processes rule). */
                char procs[64], only_us[32];
                join(path, sizeof(path), parent, "cgroup.procs"); /* fits: shorter than the above */
                snprintf(only_us, sizeof(only_us), "%d\n", (int)getpid());
                if (read_text(path, procs, sizeof(procs)) > 0 && strcmp(procs, only_us) == 0) {
                        char leaf[PATH_MAX];
                        if (join(leaf, sizeof(leaf), parent, SUPERVISOR_LEAF) == 0 &&
                            (mkdir(leaf, 0755) == 0 || errno == EEXIST) &&
                            write_text(leaf, "cgroup.procs", "0") == 0)
                                r = write_text(parent, "cgroup.subtree_control", add);
                }
        }
        if (r < 0)
                return err_errno(err, -r,
                                      "layer resources: cannot enable the cgroup v2 controllers '%s' for children of %s (run zonebox in a cgroup of its own that is delegated to you, e.g. systemd-run --user --scope -p Delegate=yes, or set limits.cgroup_parent)",
                                      add, parent);
        return 0;
}

/* On v2 a process may move (or be cloned) from cgroup A to B only if it may
 * write cgroup.procs of their common ancestor. */
static bool v2_can_place(const struct cg_layout *l, const char *target_cgroup)
{
        if (geteuid() == 0)
                return true;
        char common[PATH_MAX], dir[PATH_MAX];
        snprintf(common, sizeof(common), "%s", l->v2_self);
        size_t n = strlen(common);
        while (n > 1 && (strncmp(target_cgroup, common, n) != 0 ||
                         (target_cgroup[n] != '/' && target_cgroup[n] != '\0'))) {
                char *slash = strrchr(common, '/');
                n = slash == common ? 1 : (size_t)(slash - common);
                common[n] = '\0';
        }
        if (cg_dir(l, l->v2, common, dir, sizeof(dir)) < 0)
                return false;
        strncat(dir, "/cgroup.procs", sizeof(dir) - strlen(dir) - 1);
        return access(dir, W_OK) == 0;
}

static int make_v1(struct ns_cgroup *cg, const struct cg_layout *l, int c, const char *parent,
                   unsigned *gc, struct zb_error *err)
{
        int m = l->v1[c];
        char pdir[PATH_MAX], pcg[PATH_MAX];
        /* Comounted controllers (cpu,cpuacct) share one directory. */
        for (int o = 0; o < c; o++)
                if (cg->v1_dir[o][0] && l->v1[o] == m) {
                        memcpy(cg->v1_dir[c], cg->v1_dir[o], sizeof(cg->v1_dir[c]));
                        return 0;
                }
        if (parent_cgroup(l->v1_self[c], parent, pcg, sizeof(pcg)) < 0 ||
            cg_dir(l, m, pcg, pdir, sizeof(pdir)) < 0)
                return err_set(err, ENOENT,
                                    "layer resources: the %s cgroup '%s' is not visible under %s",
                                    ctrl_name[c], parent ? parent : l->v1_self[c], l->mounts[m].dir);
        gc_dir(pdir, false, gc);
        if (join(cg->v1_dir[c], sizeof(cg->v1_dir[c]), pdir, cg->name) < 0 ||
            mkdir(cg->v1_dir[c], 0755) < 0) {
                int e = errno;
                cg->v1_dir[c][0] = '\0';
                return err_errno(err, e, "layer resources: cannot create a %s cgroup under %s (cgroup v1)%s",
                                      ctrl_name[c], pdir,
                                      (e == EACCES || e == EPERM) && geteuid() ? UNPRIVILEGED_HINT : "");
        }
        return 0;
}

/* A finite swap limit where the kernel keeps no swap accounting would be
 * no limit at all: refused, not dropped. */
#define SWAP_UNENFORCEABLE \
        "layer resources: limits.swap: this host has no swap accounting (%s), so a swap limit cannot be enforced; give swap 0 or unlimited"

static int set_limits(struct ns_cgroup *cg, const struct pol_limits *l, struct zb_error *err)
{
        const char *dir, *what;
        int r;

        if (l->memory) {
                uint64_t swap = swap_bytes(l);
                if (cg->where[ZB_CG_MEMORY] == ZB_CG_V2) {
                        dir = cg->v2_dir;
                        what = "memory.max";
                        r = write_u64(dir, what, l->memory);
                        if (r == 0 && file_exists(dir, "memory.swap.max")) {
                                what = "memory.swap.max";
                                r = swap == ZB_UNLIMITED ? write_text(dir, what, "max")
                                                         : write_u64(dir, what, swap);
                        } else if (r == 0 && swap != 0 && swap != ZB_UNLIMITED) {
                                return err_set(err, ENOTSUP, SWAP_UNENFORCEABLE, "v2 memory.swap.max");
                        }
                } else {
                        dir = cg->v1_dir[ZB_CG_MEMORY];
                        what = "memory.limit_in_bytes";
                        r = write_u64(dir, what, l->memory);
                        if (r == 0 && file_exists(dir, "memory.memsw.limit_in_bytes")) {
                                what = "memory.memsw.limit_in_bytes";
                                if (swap != ZB_UNLIMITED)
                                        r = write_u64(dir, what, l->memory + swap);
                        } else if (r == 0 && swap == 0) {
                                /* No swap accounting: keep reclaim from swapping. */
                                what = "memory.swappiness";
                                r = write_text(dir, what, "0");
                        } else if (r == 0 && swap != ZB_UNLIMITED) {
                                return err_set(err, ENOTSUP, SWAP_UNENFORCEABLE, "v1 memory.memsw.limit_in_bytes");
                        }
                }
                if (r < 0)
                        return err_errno(err, -r, "layer resources: memory limit (%s/%s)", dir, what);
        }
        if (l->cpus_milli) {
                uint64_t quota = l->cpus_milli * CPU_PERIOD_US / 1000;
                if (quota < 1000)
                        quota = 1000; /* the kernel's minimum */
                if (cg->where[ZB_CG_CPU] == ZB_CG_V2) {
                        char buf[64];
                        dir = cg->v2_dir;
                        what = "cpu.max";
                        snprintf(buf, sizeof(buf), "%llu %llu", (unsigned long long)quota, CPU_PERIOD_US);
                        r = write_text(dir, what, buf);
                } else {
                        dir = cg->v1_dir[ZB_CG_CPU];
                        what = "cpu.cfs_period_us";
                        r = write_u64(dir, what, CPU_PERIOD_US);
                        if (r == 0) {
                                what = "cpu.cfs_quota_us";
                                r = write_u64(dir, what, quota);
                        }
                }
                if (r < 0)
                        return err_errno(err, -r, "layer resources: cpus limit (%s/%s)", dir, what);
        }
        if (l->pids) {
                dir = cg->where[ZB_CG_PIDS] == ZB_CG_V2 ? cg->v2_dir : cg->v1_dir[ZB_CG_PIDS];
                r = write_u64(dir, "pids.max", l->pids);
                if (r < 0)
                        return err_errno(err, -r, "layer resources: pids limit (%s/pids.max)", dir);
        }
        return 0;
}

/* The tasks file of each v1 cgroup (once per directory: comounted
 * controllers share one), opened here so that the child only writes. */
static int open_tasks(struct ns_cgroup *cg, struct zb_error *err)
{
        for (int c = 0; c < ZB_CG_N; c++) {
                bool shared = false;
                for (int o = 0; o < c; o++)
                        shared |= cg->v1_dir[o][0] && strcmp(cg->v1_dir[o], cg->v1_dir[c]) == 0;
                if (!cg->v1_dir[c][0] || shared)
                        continue;
                char path[PATH_MAX];
                if (join(path, sizeof(path), cg->v1_dir[c], "tasks") < 0)
                        return err_set(err, ENAMETOOLONG, "layer resources: cgroup path too long");
                cg->v1_tasks_fd[c] = open(path, O_WRONLY | O_CLOEXEC);
                if (cg->v1_tasks_fd[c] < 0)
                        return err_errno(err, errno, "layer resources: cannot open %s", path);
        }
        return 0;
}

static int create(struct ns_cgroup *cg, const struct zb_policy *p, struct zb_error *err)
{
        const struct pol_limits *lim = &p->limits;
        const char *parent = lim->cgroup_parent;
        static unsigned seq;
        unsigned long long start = 0;
        unsigned gc = 0;
        int r;

        _cleanup_(freep) struct cg_layout *l = malloc(sizeof(*l));
        if (!l)
                return err_set(err, ENOMEM, "layer resources: out of memory");
        if ((r = ns_cgroup_layout_load(l, NULL)) < 0)
                return err_errno(err, -r, "layer resources: cannot read /proc/self/mountinfo or /proc/self/cgroup");
        if (ns_proc_start_time(getpid(), &start) < 0)
                return err_set(err, EIO, "layer resources: cannot read /proc/self/stat");
        snprintf(cg->name, sizeof(cg->name), "zonebox-%d-%llu-%u", (int)getpid(), start, seq++);

        /* Where each controller goes. */
        const bool wanted[ZB_CG_N] = { [ZB_CG_MEMORY] = true, [ZB_CG_CPU] = lim->cpus_milli != 0,
                                       [ZB_CG_PIDS] = lim->pids != 0, [ZB_CG_IO] = pol_io_wanted(&lim->io) };
        bool required[ZB_CG_N] = { [ZB_CG_MEMORY] = lim->memory != 0, [ZB_CG_CPU] = lim->cpus_milli != 0,
                                   [ZB_CG_PIDS] = lim->pids != 0, [ZB_CG_IO] = pol_io_wanted(&lim->io) };
        char v2_parent[PATH_MAX] = "", v2_avail[512] = "", want_v2[128] = "", v2_parent_cg[PATH_MAX];
        if (l->v2 >= 0 && l->v2_self[0] &&
            parent_cgroup(l->v2_self, parent, v2_parent_cg, sizeof(v2_parent_cg)) == 0 &&
            cg_dir(l, l->v2, v2_parent_cg, v2_parent, sizeof(v2_parent)) == 0) {
                char path[PATH_MAX];
                if (join(path, sizeof(path), v2_parent, "cgroup.controllers") < 0 ||
                    read_text(path, v2_avail, sizeof(v2_avail)) < 0)
                        v2_parent[0] = '\0';
        }
        for (int c = 0; c < ZB_CG_N; c++) {
                if (!wanted[c] || c == ZB_CG_CPUACCT)
                        continue;
                if (v2_parent[0] && cg_has_word(v2_avail, ctrl_name[c])) {
                        cg->where[c] = ZB_CG_V2;
                        size_t used = strlen(want_v2);
                        snprintf(want_v2 + used, sizeof(want_v2) - used, "%s%s", used ? " " : "", ctrl_name[c]);
                } else if (l->v1[c] >= 0) {
                        cg->where[c] = ZB_CG_V1;
                } else if (required[c]) {
                        return err_set(err, ENOTSUP,
                                            "layer resources: no %s controller available (cgroup v2 %s offers '%.*s'; no cgroup v1 hierarchy has it)",
                                            ctrl_name[c], v2_parent[0] ? v2_parent : "is not mounted",
                                            (int)strcspn(v2_avail, "\n"), v2_avail);
                }
        }

        /* v2: required when a controller lives there, else a bonus
         * (cgroup.kill, cpu.stat) taken when we may place the child in it. */
        if (v2_parent[0]) {
                bool need = want_v2[0] != '\0';
                char target[PATH_MAX];
                if (join(target, sizeof(target), strcmp(v2_parent_cg, "/") ? v2_parent_cg : "", cg->name) < 0)
                        return err_set(err, ENAMETOOLONG, "layer resources: cgroup path too long");
                if (need && (r = enable_subtree(v2_parent, want_v2, !parent, err)) < 0)
                        return r;
                gc_dir(v2_parent, true, &gc);
                if (need || v2_can_place(l, target)) {
                        if (join(cg->v2_dir, sizeof(cg->v2_dir), v2_parent, cg->name) < 0 ||
                            mkdir(cg->v2_dir, 0755) < 0) {
                                int e = errno;
                                cg->v2_dir[0] = '\0';
                                if (need)
                                        return err_errno(err, e, "layer resources: cannot create a cgroup under %s (cgroup v2)%s",
                                                              v2_parent,
                                                              (e == EACCES || e == EPERM) && geteuid() ? UNPRIVILEGED_HINT : "");
                        } else {
                                cg->v2_fd = open(cg->v2_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                                if (cg->v2_fd < 0)
                                        return err_errno(err, errno, "layer resources: open %s", cg->v2_dir);
                                cg->v2_required = need;
                        }
                }
        }
        cg->active = true;

        /* v1 hierarchies; cpuacct only when v2 cannot account CPU. */
        if (!cg->v2_dir[0] && l->v1[ZB_CG_CPUACCT] >= 0)
                cg->where[ZB_CG_CPUACCT] = ZB_CG_V1;
        for (int c = 0; c < ZB_CG_N; c++)
                if (cg->where[c] == ZB_CG_V1 && (r = make_v1(cg, l, c, parent, &gc, err)) < 0)
                        return r;

        if ((r = set_limits(cg, lim, err)) < 0 || (r = open_tasks(cg, err)) < 0)
                return r;
        if (pol_io_wanted(&lim->io) &&
            (r = ns_blkio_apply(p, cg->where[ZB_CG_IO] == ZB_CG_V2 ? cg->v2_dir : cg->v1_dir[ZB_CG_IO],
                                cg->where[ZB_CG_IO] == ZB_CG_V2, err)) < 0)
                return r;

        /* CPU usage for the cpu_time limit and the result. */
        if (cg->v2_dir[0]) {
                char path[PATH_MAX];
                if (join(path, sizeof(path), cg->v2_dir, "cpu.stat") == 0)
                        cg->cpu_fd = open(path, O_RDONLY | O_CLOEXEC);
                cg->cpu_v2 = true;
        } else if (cg->where[ZB_CG_CPUACCT] == ZB_CG_V1) {
                char path[PATH_MAX];
                if (join(path, sizeof(path), cg->v1_dir[ZB_CG_CPUACCT], "cpuacct.usage") == 0)
                        cg->cpu_fd = open(path, O_RDONLY | O_CLOEXEC);
        }
        if (lim->cpu_time_ms && cg->cpu_fd < 0)
                return err_set(err, ENOTSUP,
                                    "layer resources: cpu_time needs CPU accounting (cgroup v2 cpu.stat or the v1 cpuacct controller), and neither is usable here");
        return 0;
}

void ns_cgroup_init(struct ns_cgroup *cg)
{
        memset(cg, 0, sizeof(*cg));
        cg->v2_fd = cg->cpu_fd = -1;
        for (int c = 0; c < ZB_CG_N; c++)
                cg->v1_tasks_fd[c] = -1;
}

int ns_cgroup_setup(struct ns_cgroup *cg, const struct zb_policy *p, struct zb_error *err)
{
        ns_cgroup_init(cg);
        if (!limit_wanted(&p->limits))
                return 0;
        int r = create(cg, p, err);
        if (r == 0)
                return 0;
        ns_cgroup_finish(cg, NULL);
        ns_cgroup_init(cg);
        /* Our cgroup is not usable (not ours to write, other processes in
         * it, no controller offered): a delegated systemd scope may be
         * (systemd.h). Only without a configured parent, once per process. */
        char why[256];
        bool unusable = r == -EACCES || r == -EPERM || r == -EBUSY || r == -ENOTSUP || r == -EROFS;
        if (unusable && !p->limits.cgroup_parent && !ns_systemd_in_scope() &&
            ns_systemd_available(why, sizeof(why))) {
                struct zb_error serr = { 0 };
                if (ns_systemd_scope(&serr) == 0) {
                        r = create(cg, p, err);
                        if (r == 0)
                                return 0;
                        ns_cgroup_finish(cg, NULL);
                        ns_cgroup_init(cg);
                } else {
                        size_t n = strlen(err->message);
                        snprintf(err->message + n, sizeof(err->message) - n, "; a systemd scope did not help either: %s",
                                 serr.message);
                }
        }
        if (!p->limits.allow_unenforced)
                return r;
        cg->fallback = true;
        return 0;
}

int ns_cgroup_enter(struct ns_cgroup *cg, const char **failed)
{
        int r = 0;
        for (int c = 0; c < ZB_CG_N; c++) {
                if (cg->v1_tasks_fd[c] < 0)
                        continue;
                if (r == 0 && write(cg->v1_tasks_fd[c], "0", 1) != 1) {
                        r = errno ? -errno : -EIO;
                        *failed = cg->v1_dir[c];
                }
                close(cg->v1_tasks_fd[c]);
                cg->v1_tasks_fd[c] = -1;
        }
        return r;
}

void ns_cgroup_after_clone(struct ns_cgroup *cg)
{
        for (int c = 0; c < ZB_CG_N; c++)
                if (cg->v1_tasks_fd[c] >= 0) {
                        close(cg->v1_tasks_fd[c]);
                        cg->v1_tasks_fd[c] = -1;
                }
}

uint64_t ns_cgroup_cpu(struct ns_cgroup *cg)
{
        char buf[1024];
        uint64_t v = 0;
        if (cg->cpu_fd < 0)
                return 0;
        ssize_t n = pread(cg->cpu_fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        if (cg->cpu_v2)
                return cg_keyed(buf, "usage_usec", &v) == 0 ? v : 0;
        return strtoull(buf, NULL, 10) / 1000;
}

static void account(struct ns_cgroup *cg, struct zb_result *r)
{
        uint64_t user = 0, sys = 0, peak = 0, ooms = 0;

        if (cg->v2_dir[0] && read_keyed(cg->v2_dir, "cpu.stat", "user_usec", &user) == 0 &&
            read_keyed(cg->v2_dir, "cpu.stat", "system_usec", &sys) == 0) {
                r->cpu_user_ms = (double)user / 1e3;
                r->cpu_sys_ms = (double)sys / 1e3;
        } else if (cg->where[ZB_CG_CPUACCT] == ZB_CG_V1 &&
                   read_u64(cg->v1_dir[ZB_CG_CPUACCT], "cpuacct.usage_user", &user) == 0 &&
                   read_u64(cg->v1_dir[ZB_CG_CPUACCT], "cpuacct.usage_sys", &sys) == 0) {
                r->cpu_user_ms = (double)user / 1e6;
                r->cpu_sys_ms = (double)sys / 1e6;
        }
        if (cg->where[ZB_CG_MEMORY] == ZB_CG_V2) {
                if (read_u64(cg->v2_dir, "memory.peak", &peak) == 0)
                        r->peak_memory_bytes = peak;
                if (read_keyed(cg->v2_dir, "memory.events", "oom_kill", &ooms) == 0)
                        r->oom_killed = ooms > 0;
        } else if (cg->where[ZB_CG_MEMORY] == ZB_CG_V1) {
                if (read_u64(cg->v1_dir[ZB_CG_MEMORY], "memory.max_usage_in_bytes", &peak) == 0)
                        r->peak_memory_bytes = peak;
                if (read_keyed(cg->v1_dir[ZB_CG_MEMORY], "memory.oom_control", "oom_kill", &ooms) == 0)
                        r->oom_killed = ooms > 0;
        }
}

uint64_t ns_cgroup_oom_kills(const struct ns_cgroup *cg)
{
        uint64_t ooms = 0;
        if (cg->where[ZB_CG_MEMORY] == ZB_CG_V2)
                read_keyed(cg->v2_dir, "memory.events", "oom_kill", &ooms);
        else if (cg->where[ZB_CG_MEMORY] == ZB_CG_V1)
                read_keyed(cg->v1_dir[ZB_CG_MEMORY], "memory.oom_control", "oom_kill", &ooms);
        return ooms;
}

void ns_cgroup_finish(struct ns_cgroup *cg, struct zb_result *r)
{
        if (cg->v2_dir[0])
                kill_all(cg->v2_dir, true);
        for (int c = 0; c < ZB_CG_N; c++)
                if (cg->v1_dir[c][0])
                        kill_all(cg->v1_dir[c], false);
        if (r && cg->active)
                account(cg, r);
        if (cg->cpu_fd >= 0)
                close(cg->cpu_fd);
        if (cg->v2_fd >= 0)
                close(cg->v2_fd);
        cg->cpu_fd = cg->v2_fd = -1;
        ns_cgroup_after_clone(cg);
        if (cg->v2_dir[0])
                remove_dir(cg->v2_dir);
        for (int c = 0; c < ZB_CG_N; c++)
                if (cg->v1_dir[c][0])
                        remove_dir(cg->v1_dir[c]); /* a shared dir is gone the second time: ENOENT */
        cg->v2_dir[0] = '\0';
        for (int c = 0; c < ZB_CG_N; c++)
                cg->v1_dir[c][0] = '\0';
        cg->active = false;
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
                if (l->v2 >= 0 && parent_cgroup(l->v2_self, par, pcg, sizeof(pcg)) == 0 &&
                    cg_dir(l, l->v2, pcg, dir, sizeof(dir)) == 0)
                        gc_dir(dir, true, removed);
                for (int c = 0; c < ZB_CG_N; c++) {
                        bool seen = false;
                        for (int o = 0; o < c; o++)
                                seen |= l->v1[o] == l->v1[c];
                        if (!seen && parent_cgroup(l->v1_self[c], par, pcg, sizeof(pcg)) == 0 &&
                            cg_dir(l, l->v1[c], pcg, dir, sizeof(dir)) == 0)
                                gc_dir(dir, false, removed);
                }
        }
        if (!parent)
                ns_systemd_gc(removed);
        return 0;
}
