/* The resources layer: where each controller goes, creating the run's
 * cgroups, writing the limits, and the run's lifetime from setup to finish
 * (see cgroup.h; cgroup_fs.c reads, removes and collects cgroups).
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
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#include "blkio.h"
#include "cgroup_int.h"
#include "systemd.h"

#define CPU_PERIOD_US 100000ull

static const char *const ctrl_name[ZB_CG_N] = { "memory", "cpu", "cpuacct", "pids", "io" };

#define UNPRIVILEGED_HINT " (without root: run under a systemd user manager (log in, or loginctl enable-linger) and zonebox asks it for a delegated scope; or give a cgroup delegated to you with limits.cgroup_parent; or allow running without limits with limits.allow_unenforced)"

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
        if (cg_join(path, sizeof(path), parent, "cgroup.subtree_control") < 0 ||
            cg_read_text(path, have, sizeof(have)) < 0)
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
        int r = cg_write_text(parent, "cgroup.subtree_control", add);
        if (r == -EBUSY && own_cgroup) {
                /* Processes in PARENT: if the only one is us, move into a
                 * leaf of our own (no-internal-processes rule). */
                char procs[64], only_us[32];
                cg_join(path, sizeof(path), parent, "cgroup.procs"); /* fits: shorter than the above */
                snprintf(only_us, sizeof(only_us), "%d\n", (int)getpid());
                if (cg_read_text(path, procs, sizeof(procs)) > 0 && strcmp(procs, only_us) == 0) {
                        char leaf[PATH_MAX];
                        if (cg_join(leaf, sizeof(leaf), parent, CG_SUPERVISOR_LEAF) == 0 &&
                            (mkdir(leaf, 0755) == 0 || errno == EEXIST) &&
                            cg_write_text(leaf, "cgroup.procs", "0") == 0)
                                r = cg_write_text(parent, "cgroup.subtree_control", add);
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
                   struct zb_error *err)
{
        int m = l->v1[c];
        char pdir[PATH_MAX], pcg[PATH_MAX];
        /* Comounted controllers (cpu,cpuacct) share one directory. */
        for (int o = 0; o < c; o++)
                if (cg->v1_dir[o][0] && l->v1[o] == m) {
                        cg->v1_dir[c] = cg->v1_dir[o];
                        return 0;
                }
        if (cg_parent_path(l->v1_self[c], parent, pcg, sizeof(pcg)) < 0 ||
            cg_dir(l, m, pcg, pdir, sizeof(pdir)) < 0)
                return err_set(err, ENOENT,
                                    "layer resources: the %s cgroup '%s' is not visible under %s",
                                    ctrl_name[c], parent ? parent : l->v1_self[c], l->mounts[m].dir);
        char dir[PATH_MAX];
        size_t len;
        if (cg_join(dir, sizeof(dir), pdir, cg->name) < 0)
                return err_set(err, ENAMETOOLONG, "layer resources: cannot create a %s cgroup under %s (cgroup v1): path too long",
                               ctrl_name[c], pdir);
        if ((len = strlen(dir)) >= sizeof(cg->v1_strs) - cg->v1_strs_used)
                return err_set(err, ENOMEM, "layer resources: no room for the %s cgroup's path", ctrl_name[c]);
        if (mkdir(dir, 0755) < 0) {
                int e = errno;
                return err_errno(err, e, "layer resources: cannot create a %s cgroup under %s (cgroup v1)%s",
                                      ctrl_name[c], pdir,
                                      (e == EACCES || e == EPERM) && geteuid() ? UNPRIVILEGED_HINT : "");
        }
        cg->v1_dir[c] = memcpy(cg->v1_strs + cg->v1_strs_used, dir, len + 1);
        cg->v1_strs_used += len + 1;
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
                        r = cg_write_u64(dir, what, l->memory);
                        if (r == 0 && cg_file_exists(dir, "memory.swap.max")) {
                                what = "memory.swap.max";
                                r = swap == ZB_UNLIMITED ? cg_write_text(dir, what, "max")
                                                         : cg_write_u64(dir, what, swap);
                        } else if (r == 0 && swap != 0 && swap != ZB_UNLIMITED) {
                                return err_set(err, ENOTSUP, SWAP_UNENFORCEABLE, "v2 memory.swap.max");
                        }
                } else {
                        dir = cg->v1_dir[ZB_CG_MEMORY];
                        what = "memory.limit_in_bytes";
                        r = cg_write_u64(dir, what, l->memory);
                        if (r == 0 && cg_file_exists(dir, "memory.memsw.limit_in_bytes")) {
                                what = "memory.memsw.limit_in_bytes";
                                if (swap != ZB_UNLIMITED)
                                        r = cg_write_u64(dir, what, l->memory + swap);
                        } else if (r == 0 && swap == 0) {
                                /* No swap accounting: keep reclaim from swapping. */
                                what = "memory.swappiness";
                                r = cg_write_text(dir, what, "0");
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
                        r = cg_write_text(dir, what, buf);
                } else {
                        dir = cg->v1_dir[ZB_CG_CPU];
                        what = "cpu.cfs_period_us";
                        r = cg_write_u64(dir, what, CPU_PERIOD_US);
                        if (r == 0) {
                                what = "cpu.cfs_quota_us";
                                r = cg_write_u64(dir, what, quota);
                        }
                }
                if (r < 0)
                        return err_errno(err, -r, "layer resources: cpus limit (%s/%s)", dir, what);
        }
        if (l->pids) {
                dir = cg->where[ZB_CG_PIDS] == ZB_CG_V2 ? cg->v2_dir : cg->v1_dir[ZB_CG_PIDS];
                r = cg_write_u64(dir, "pids.max", l->pids);
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
                if (cg_join(path, sizeof(path), cg->v1_dir[c], "tasks") < 0)
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
            cg_parent_path(l->v2_self, parent, v2_parent_cg, sizeof(v2_parent_cg)) == 0 &&
            cg_dir(l, l->v2, v2_parent_cg, v2_parent, sizeof(v2_parent)) == 0) {
                char path[PATH_MAX];
                if (cg_join(path, sizeof(path), v2_parent, "cgroup.controllers") < 0 ||
                    cg_read_text(path, v2_avail, sizeof(v2_avail)) < 0)
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
                if (cg_join(target, sizeof(target), strcmp(v2_parent_cg, "/") ? v2_parent_cg : "", cg->name) < 0)
                        return err_set(err, ENAMETOOLONG, "layer resources: cgroup path too long");
                if (need && (r = enable_subtree(v2_parent, want_v2, !parent, err)) < 0)
                        return r;
                if (need || v2_can_place(l, target)) {
                        if (cg_join(cg->v2_dir, sizeof(cg->v2_dir), v2_parent, cg->name) < 0 ||
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
                if (cg->where[c] == ZB_CG_V1 && (r = make_v1(cg, l, c, parent, err)) < 0)
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
                if (cg_join(path, sizeof(path), cg->v2_dir, "cpu.stat") == 0)
                        cg->cpu_fd = open(path, O_RDONLY | O_CLOEXEC);
                cg->cpu_v2 = true;
        } else if (cg->where[ZB_CG_CPUACCT] == ZB_CG_V1) {
                char path[PATH_MAX];
                if (cg_join(path, sizeof(path), cg->v1_dir[ZB_CG_CPUACCT], "cpuacct.usage") == 0)
                        cg->cpu_fd = open(path, O_RDONLY | O_CLOEXEC);
        }
        if (lim->cpu_time_ms && cg->cpu_fd < 0)
                return err_set(err, ENOTSUP,
                                    "layer resources: cpu_time needs CPU accounting (cgroup v2 cpu.stat or the v1 cpuacct controller), and neither is usable here");
        return 0;
}

/* ---------------------------------------------------------------- lifetime */

void ns_cgroup_init(struct ns_cgroup *cg)
{
        memset(cg, 0, offsetof(struct ns_cgroup, v2_dir));
        cg->v2_dir[0] = '\0';
        cg->v1_strs[0] = '\0'; /* the shared "" */
        cg->v1_strs_used = 1;
        cg->v2_fd = cg->cpu_fd = -1;
        for (int c = 0; c < ZB_CG_N; c++) {
                cg->v1_tasks_fd[c] = -1;
                cg->v1_dir[c] = cg->v1_strs;
        }
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

/* The parent of each cgroup we made: stale zonebox-* siblings go. */
void ns_cgroup_sweep(const struct ns_cgroup *cg)
{
        char parent[PATH_MAX];
        for (int c = -1; c < ZB_CG_N; c++) {
                const char *dir = c < 0 ? cg->v2_dir : cg->v1_dir[c];
                bool shared = false;
                for (int o = 0; o < c; o++)
                        shared |= cg->v1_dir[o][0] && strcmp(cg->v1_dir[o], dir) == 0;
                const char *slash = strrchr(dir, '/');
                if (!dir[0] || shared || !slash || slash == dir)
                        continue;
                snprintf(parent, sizeof(parent), "%.*s", (int)(slash - dir), dir);
                cg_gc_dir(parent, c < 0, NULL);
        }
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

/* cpu.stat once, from the fd kept open since setup. */
static bool read_cpu_stat(const struct ns_cgroup *cg, uint64_t *user, uint64_t *sys)
{
        char buf[1024];
        if (!cg->cpu_v2 || cg->cpu_fd < 0)
                return false;
        ssize_t n = pread(cg->cpu_fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
                return false;
        buf[n] = '\0';
        return cg_keyed(buf, "user_usec", user) == 0 && cg_keyed(buf, "system_usec", sys) == 0;
}

static void account(struct ns_cgroup *cg, struct zb_result *r)
{
        uint64_t user = 0, sys = 0, peak = 0, ooms = 0;

        if (cg->v2_dir[0] && (read_cpu_stat(cg, &user, &sys) ||
                              (cg_read_keyed(cg->v2_dir, "cpu.stat", "user_usec", &user) == 0 &&
                               cg_read_keyed(cg->v2_dir, "cpu.stat", "system_usec", &sys) == 0))) {
                r->cpu_user_ms = (double)user / 1e3;
                r->cpu_sys_ms = (double)sys / 1e3;
        } else if (cg->where[ZB_CG_CPUACCT] == ZB_CG_V1 &&
                   cg_read_u64(cg->v1_dir[ZB_CG_CPUACCT], "cpuacct.usage_user", &user) == 0 &&
                   cg_read_u64(cg->v1_dir[ZB_CG_CPUACCT], "cpuacct.usage_sys", &sys) == 0) {
                r->cpu_user_ms = (double)user / 1e6;
                r->cpu_sys_ms = (double)sys / 1e6;
        }
        if (cg->where[ZB_CG_MEMORY] == ZB_CG_V2) {
                if (cg_read_u64(cg->v2_dir, "memory.peak", &peak) == 0)
                        r->peak_memory_bytes = peak;
                if (cg_read_keyed(cg->v2_dir, "memory.events", "oom_kill", &ooms) == 0)
                        r->oom_killed = ooms > 0;
        } else if (cg->where[ZB_CG_MEMORY] == ZB_CG_V1) {
                if (cg_read_u64(cg->v1_dir[ZB_CG_MEMORY], "memory.max_usage_in_bytes", &peak) == 0)
                        r->peak_memory_bytes = peak;
                if (cg_read_keyed(cg->v1_dir[ZB_CG_MEMORY], "memory.oom_control", "oom_kill", &ooms) == 0)
                        r->oom_killed = ooms > 0;
        }
        r->pids_max_events = ns_cgroup_pids_max_events(cg);
}

uint64_t ns_cgroup_pids_max_events(const struct ns_cgroup *cg)
{
        /* pids.events "max": forks refused at pids.max (v1 and v2 alike). */
        uint64_t max = 0;
        if (cg->where[ZB_CG_PIDS] == ZB_CG_V2)
                cg_read_keyed(cg->v2_dir, "pids.events", "max", &max);
        else if (cg->where[ZB_CG_PIDS] == ZB_CG_V1)
                cg_read_keyed(cg->v1_dir[ZB_CG_PIDS], "pids.events", "max", &max);
        return max;
}

uint64_t ns_cgroup_oom_kills(const struct ns_cgroup *cg)
{
        uint64_t ooms = 0;
        if (cg->where[ZB_CG_MEMORY] == ZB_CG_V2)
                cg_read_keyed(cg->v2_dir, "memory.events", "oom_kill", &ooms);
        else if (cg->where[ZB_CG_MEMORY] == ZB_CG_V1)
                cg_read_keyed(cg->v1_dir[ZB_CG_MEMORY], "memory.oom_control", "oom_kill", &ooms);
        return ooms;
}

void ns_cgroup_finish(struct ns_cgroup *cg, struct zb_result *r)
{
        if (cg->v2_dir[0])
                cg_kill_all(cg->v2_dir, true);
        for (int c = 0; c < ZB_CG_N; c++)
                if (cg->v1_dir[c][0])
                        cg_kill_all(cg->v1_dir[c], false);
        if (r && cg->active)
                account(cg, r);
        if (cg->cpu_fd >= 0)
                close(cg->cpu_fd);
        if (cg->v2_fd >= 0)
                close(cg->v2_fd);
        cg->cpu_fd = cg->v2_fd = -1;
        ns_cgroup_after_clone(cg);
        if (cg->v2_dir[0])
                cg_remove_dir(cg->v2_dir);
        for (int c = 0; c < ZB_CG_N; c++)
                if (cg->v1_dir[c][0])
                        cg_remove_dir(cg->v1_dir[c]); /* a shared dir is gone the second time: ENOENT */
        cg->v2_dir[0] = '\0';
        for (int c = 0; c < ZB_CG_N; c++)
                cg->v1_dir[c] = cg->v1_strs;
        cg->v1_strs_used = 1;
        cg->active = false;
}
