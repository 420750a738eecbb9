/* The oci backend: the policy as an OCI runtime bundle (config.json and a
 * rootfs skeleton, see rootfs.c), run with runc, crun or runsc.
 *
 * config.json carries every layer the spec can: pid, network, ipc, uts,
 * mount, user and cgroup namespaces; uid/gid maps (the sandbox's user to
 * 65534 outside when started by root, as the namespace backend, and the
 * container's root to 65533 — Debian's reserved range — because runc
 * insists on a mapped root); a read-only root; system dirs and ro zones
 * bound read-only, nosuid, nodev; tmpfs zones with their size; every
 * capability set empty; noNewPrivileges; rlimits; lnx.resources memory,
 * swap, cpu quota and pids; lnx.seccomp from the same filter (seccomp.c);
 * masked and read-only /proc paths; no /sys at all.
 *
 * The runner starts `RUNTIME run --bundle DIR --keep NAME` as a child,
 * enforces the wall time with `RUNTIME kill NAME KILL`, reads the
 * container's cgroup (OOM kills, CPU time, peak memory) before `RUNTIME
 * delete --force NAME`, and removes the bundle. Containers left by a
 * supervisor killed with SIGKILL are deleted by the next run (names carry
 * the supervisor's pid and start time). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>

#include "../core/fs.h"
#include "../ns/cgroup.h"
#include "engine.h"
#include "engines.h"
#include "io.h"

#define OCI_VERSION "1.0.2"
#define CPU_PERIOD_US 100000ull
#define DEV_TMPFS_OPTS "mode=755,size=65536k"
#define DEV_SHM_SIZE "size=64m"

static const char *const masked_paths[] = {
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
        "/sys/firmware",
};
static const char *const readonly_paths[] = {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static json_object *strv(const char *const *v, size_t n)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

static void add_mount(json_object *mounts, const char *dst, const char *type, const char *src,
                      const char *const *opts, size_t n_opts)
{
        json_object *m = json_object_new_object();
        json_object_object_add(m, "destination", json_object_new_string(dst));
        json_object_object_add(m, "type", json_object_new_string(type));
        json_object_object_add(m, "source", json_object_new_string(src));
        json_object_object_add(m, "options", strv(opts, n_opts));
        json_object_array_add(mounts, m);
}

static json_object *rlimit(const char *type, uint64_t soft, uint64_t hard)
{
        json_object *o = json_object_new_object();
        json_object_object_add(o, "type", json_object_new_string(type));
        json_object_object_add(o, "hard", json_object_new_uint64(hard));
        json_object_object_add(o, "soft", json_object_new_uint64(soft));
        return o;
}

static json_object *process(const struct zb_policy *p, const struct eng_oci_opts *o, struct eng_notes *n)
{
        json_object *proc = json_object_new_object();
        json_object *user = json_object_new_object();
        const struct pol_limits *l = &p->limits;

        json_object_object_add(proc, "terminal", json_object_new_boolean(false));
        json_object_object_add(user, "uid", json_object_new_int((int)p->security.uid));
        json_object_object_add(user, "gid", json_object_new_int((int)p->security.gid));
        json_object_object_add(user, "additionalGids", json_object_new_array());
        json_object_object_add(proc, "user", user);
        json_object *args = json_object_new_array();
        if (o->init) {
                json_object_array_add(args, json_object_new_string(ENG_OCI_INIT_PATH));
                json_object_array_add(args, json_object_new_string("--"));
        }
        for (size_t i = 0; i < p->argc; i++)
                json_object_array_add(args, json_object_new_string(p->argv[i]));
        json_object_object_add(proc, "args", args);
        char **env = eng_build_env(p);
        json_object *ev = json_object_new_array();
        for (size_t i = 0; env && env[i]; i++)
                json_object_array_add(ev, json_object_new_string(env[i]));
        util_strv_free(env);
        json_object_object_add(proc, "env", ev);
        json_object_object_add(proc, "cwd", json_object_new_string(p->workdir ? p->workdir : "/"));
        /* Every set empty: bounding and ambient included. */
        json_object *caps = json_object_new_object();
        static const char *const sets[] = { "bounding", "effective", "inheritable", "permitted", "ambient" };
        for (size_t i = 0; i < ARRAY_SIZE(sets); i++)
                json_object_object_add(caps, sets[i], json_object_new_array());
        json_object_object_add(proc, "capabilities", caps);
        eng_apply(n, "capabilities");
        json_object *rl = json_object_new_array();
        json_object_array_add(rl, rlimit("RLIMIT_NOFILE", l->open_files, l->open_files));
        json_object_array_add(rl, rlimit("RLIMIT_CORE", 0, 0));
        if (l->file_size != ZB_UNLIMITED)
                json_object_array_add(rl, rlimit("RLIMIT_FSIZE", l->file_size, l->file_size));
        if (l->cpu_time_ms) {
                uint64_t s = (l->cpu_time_ms + 999) / 1000;
                json_object_array_add(rl, rlimit("RLIMIT_CPU", s, s + 1)); /* per process: keytab.c warns */
        }
        json_object_object_add(proc, "rlimits", rl);
        eng_apply(n, "rlimits");
        json_object_object_add(proc, "noNewPrivileges", json_object_new_boolean(p->security.no_new_privileges));
        if (p->security.no_new_privileges)
                eng_apply(n, "no_new_privileges");
        else
                eng_skip(n, "no_new_privileges", "no_new_privileges: off by the policy");
        return proc;
}

static json_object *mounts(const struct zb_policy *p, const struct eng_oci_opts *o, struct eng_notes *n)
{
        json_object *m = json_object_new_array();
        static const char *const proc_o[] = { "nosuid", "noexec", "nodev" };
        static const char *const dev_o[] = { "nosuid", "strictatime", DEV_TMPFS_OPTS };
        static const char *const pts_o[] = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620" };
        static const char *const shm_o[] = { "nosuid", "noexec", "nodev", "mode=1777", DEV_SHM_SIZE };
        static const char *const mq_o[] = { "nosuid", "noexec", "nodev" };
        static const char *const sys_o[] = { "rbind", "ro", "nosuid", "nodev" };

        add_mount(m, "/proc", "proc", "proc", proc_o, ARRAY_SIZE(proc_o));
        add_mount(m, "/dev", "tmpfs", "tmpfs", dev_o, ARRAY_SIZE(dev_o));
        add_mount(m, "/dev/pts", "devpts", "devpts", pts_o, ARRAY_SIZE(pts_o));
        add_mount(m, "/dev/shm", "tmpfs", "shm", shm_o, ARRAY_SIZE(shm_o));
        add_mount(m, "/dev/mqueue", "mqueue", "mqueue", mq_o, ARRAY_SIZE(mq_o));
        if (o->init) {
                /* A static init (catatonit) as PID 1: forwards signals, reaps zombies. */
                static const char *const init_o[] = { "bind", "ro", "nosuid", "nodev" };
                add_mount(m, ENG_OCI_INIT_PATH, "bind", o->init, init_o, ARRAY_SIZE(init_o));
        }
        for (size_t i = 0; o->fs && i < o->fs->n_binds; i++)
                add_mount(m, o->fs->binds[i].dst, "bind", o->fs->binds[i].src, sys_o, ARRAY_SIZE(sys_o));
        struct pol_zone scratch[2];
        size_t n_scratch = eng_scratch_zones(p, scratch);
        for (size_t i = 0; i < p->n_zones + n_scratch; i++) {
                const struct pol_zone *z = i < p->n_zones ? &p->zones[i] : &scratch[i - p->n_zones];
                if (z->mode == ZB_ZONE_TMPFS) {
                        char size[48], mode[16];
                        snprintf(size, sizeof(size), "size=%llu", (unsigned long long)z->size);
                        snprintf(mode, sizeof(mode), "mode=1777");
                        /* Writable by the sandbox's user: runc mounts it as the
                         * container's root, so uid= would name the wrong user. */
                        const char *opts[] = { "nosuid", "nodev", size, mode };
                        add_mount(m, z->path, "tmpfs", "tmpfs", opts, ARRAY_SIZE(opts));
                } else {
                        const char *opts[] = { "rbind", z->mode == ZB_ZONE_RO ? "ro" : "rw", "nosuid", "nodev" };
                        add_mount(m, z->path, "bind", z->host_path, opts, ARRAY_SIZE(opts));
                }
        }
        eng_apply(n, "mount");
        eng_info(n, "zones: binds are opened by the runtime from their paths, not from a descriptor zonebox opened without following symlinks");
        return m;
}

static json_object *id_map(uint32_t inside, uint32_t outside)
{
        json_object *m = json_object_new_object();
        json_object_object_add(m, "containerID", json_object_new_uint64(inside));
        json_object_object_add(m, "hostID", json_object_new_uint64(outside));
        json_object_object_add(m, "size", json_object_new_int(1));
        return m;
}

static void id_maps(json_object *lnx, const struct zb_policy *p, const struct eng_oci_opts *o)
{
        for (int g = 0; g < 2; g++) {
                uint32_t id = g ? p->security.gid : p->security.uid;
                uint32_t out = o->invoker_is_root ? DEFAULT_HOST_ID_FOR_ROOT : (g ? o->host_gid : o->host_uid);
                json_object *a = json_object_new_array();
                json_object_array_add(a, id_map(id, out));
                /* runc needs the container's root mapped; it is never the sandbox's user. */
                if (id != 0 && o->invoker_is_root)
                        json_object_array_add(a, id_map(0, ENG_OCI_ROOT_HOST_ID));
                json_object_object_add(lnx, g ? "gidMappings" : "uidMappings", a);
        }
}

static json_object *resources(const struct zb_policy *p, struct eng_notes *n)
{
        const struct pol_limits *l = &p->limits;
        json_object *res = json_object_new_object();
        json_object *dev = json_object_new_array(), *deny = json_object_new_object();

        json_object_object_add(deny, "allow", json_object_new_boolean(false));
        json_object_object_add(deny, "access", json_object_new_string("rwm"));
        json_object_array_add(dev, deny);
        json_object_object_add(res, "devices", dev);
        if (l->memory) {
                json_object *mem = json_object_new_object();
                json_object_object_add(mem, "limit", json_object_new_int64((int64_t)l->memory));
                /* OCI's swap is memory + swap, like Docker's --memory-swap; -1 unlimited. */
                int64_t total;
                if (l->memory_swap_total)
                        total = l->memory_swap_total == ZB_UNLIMITED ? -1 : (int64_t)l->memory_swap_total;
                else
                        total = l->swap == ZB_UNLIMITED ? -1 : (int64_t)(l->memory + l->swap);
                json_object_object_add(mem, "swap", json_object_new_int64(total));
                json_object_object_add(res, "memory", mem);
        }
        if (l->cpus_milli) {
                json_object *cpu = json_object_new_object();
                json_object_object_add(cpu, "quota", json_object_new_int64((int64_t)(l->cpus_milli * CPU_PERIOD_US / 1000)));
                json_object_object_add(cpu, "period", json_object_new_uint64(CPU_PERIOD_US));
                json_object_object_add(res, "cpu", cpu);
        }
        if (l->pids) {
                json_object *pids = json_object_new_object();
                json_object_object_add(pids, "limit", json_object_new_int64((int64_t)l->pids));
                json_object_object_add(res, "pids", pids);
        }
        json_object *bio = eng_io_oci(p, n);
        if (bio)
                json_object_object_add(res, "blockIO", bio);
        eng_apply(n, "resources");
        return res;
}

static json_object *namespaces(const struct zb_policy *p, struct eng_notes *n)
{
        static const struct { const char *type, *layer; } all[] = {
                { "pid", "pid" }, { "ipc", "ipc" }, { "uts", "uts" }, { "mount", "mount" },
                { "user", "user" }, { "cgroup", "cgroupns" }, { "network", "net" },
        };
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
                if (strcmp(all[i].type, "network") == 0 && p->network == ZB_NET_HOST) {
                        eng_skip(n, "net", "network: host: the host's network is shared");
                        continue;
                }
                json_object *ns = json_object_new_object();
                json_object_object_add(ns, "type", json_object_new_string(all[i].type));
                json_object_array_add(a, ns);
                eng_apply(n, all[i].layer);
        }
        return a;
}

int eng_oci_config(const struct zb_policy *p, const struct eng_oci_opts *o, struct json_object **out,
                   struct eng_notes *n, struct zb_error *err)
{
        json_object *cfg = json_object_new_object(), *root = json_object_new_object();
        json_object *lnx = json_object_new_object(), *seccomp = NULL;
        int r;

        if (!p->argc) {
                json_object_put(cfg);
                json_object_put(root);
                json_object_put(lnx);
                return err_set(err, EINVAL, "command: an OCI bundle needs a command (give it after --)");
        }
        eng_common_layers(p, n);
        json_object_object_add(cfg, "ociVersion", json_object_new_string(OCI_VERSION));
        json_object_object_add(cfg, "process", process(p, o, n));
        if (!o->init)
                eng_warn(n, "pid: no init (catatonit not found): the command is PID 1, so signals it does not handle are ignored and orphans are not reaped");
        json_object_object_add(root, "path", json_object_new_string("rootfs"));
        json_object_object_add(root, "readonly", json_object_new_boolean(true));
        json_object_object_add(cfg, "root", root);
        eng_apply(n, "rootfs_readonly");
        json_object_object_add(cfg, "hostname", json_object_new_string(p->hostname ? p->hostname : DEFAULT_HOSTNAME));
        json_object_object_add(cfg, "mounts", mounts(p, o, n));
        json_object_object_add(lnx, "namespaces", namespaces(p, n));
        id_maps(lnx, p, o);
        json_object_object_add(lnx, "resources", resources(p, n));
        if (o->cgroups_path)
                json_object_object_add(lnx, "cgroupsPath", json_object_new_string(o->cgroups_path));
        else if (p->limits.cgroup_parent)
                eng_info(n, "limits.cgroup_parent: the runtime picks the cgroup path at run time");
        json_object_object_add(lnx, "maskedPaths", strv(masked_paths, ARRAY_SIZE(masked_paths)));
        json_object_object_add(lnx, "readonlyPaths", strv(readonly_paths, ARRAY_SIZE(readonly_paths)));
        json_object_object_add(cfg, "linux", lnx);
        if ((r = eng_seccomp_oci(p, &seccomp, n, err)) < 0) {
                json_object_put(cfg);
                return r;
        }
        if (seccomp)
                json_object_object_add(lnx, "seccomp", seccomp);
        if (p->limits.wall_time_ms)
                eng_info(n, "limits.wall_time: enforced by zonebox run (RUNTIME kill), not by the bundle");
        if (p->limits.allow_unenforced)
                eng_info(n, "limits.allow_unenforced: the runtime fails if it cannot make the cgroup");
        *out = cfg;
        return 0;
}

static int check_empty_dir(const char *dir, struct zb_error *err)
{
        struct stat st;
        if (lstat(dir, &st) < 0) {
                if (errno != ENOENT)
                        return err_errno(err, errno, "bundle %s", dir);
                if (mkdir(dir, 0711) < 0)
                        return err_errno(err, errno, "bundle %s: mkdir", dir);
                return 0;
        }
        if (!S_ISDIR(st.st_mode))
                return err_set(err, ENOTDIR, "bundle %s: not a directory", dir);
        _cleanup_(freep) char *cfg = util_asprintf("%s/config.json", dir);
        _cleanup_(freep) char *rfs = util_asprintf("%s/rootfs", dir);
        if (!cfg || !rfs)
                return err_set(err, ENOMEM, "out of memory");
        if (access(cfg, F_OK) == 0 || access(rfs, F_OK) == 0)
                return err_set(err, EEXIST, "bundle %s: already holds config.json or rootfs", dir);
        return 0;
}

static int write_bundle(const struct zb_policy *p, const char *dir, const struct eng_oci_opts *base,
                        struct eng_notes *n, struct zb_error *err)
{
        struct eng_rootfs fs;
        struct eng_oci_opts o = *base;
        json_object *cfg = NULL;
        _cleanup_(freep) char *rootfs = util_asprintf("%s/rootfs", dir);
        _cleanup_(freep) char *cfg_path = util_asprintf("%s/config.json", dir);
        int r;

        if (!rootfs || !cfg_path)
                return err_set(err, ENOMEM, "out of memory");
        if ((r = eng_rootfs_build(p, rootfs, &fs, err)) < 0)
                return r;
        o.fs = &fs;
        if (o.init) {
                _cleanup_(freep) char *point = util_asprintf("%s%s", rootfs, ENG_OCI_INIT_PATH);
                r = point ? eng_write_file(point, "", err) : err_set(err, ENOMEM, "out of memory");
                if (r < 0) {
                        eng_rootfs_free(&fs);
                        return r;
                }
        }
        r = eng_oci_config(p, &o, &cfg, n, err);
        if (r == 0) {
                const char *text = json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PRETTY |
                                                                               JSON_C_TO_STRING_SPACED |
                                                                               JSON_C_TO_STRING_NOSLASHESCAPE);
                _cleanup_(freep) char *with_nl = util_asprintf("%s\n", text);
                r = with_nl ? eng_write_file(cfg_path, with_nl, err) : err_set(err, ENOMEM, "out of memory");
        }
        json_object_put(cfg);
        eng_rootfs_free(&fs);
        return r;
}

/* A statically linked init to be PID 1 in any root: podman's catatonit. */
static const char *find_init(void)
{
        static const char *const candidates[] = { "/usr/bin/catatonit", "/usr/libexec/podman/catatonit" };
        for (size_t i = 0; i < ARRAY_SIZE(candidates); i++)
                if (access(candidates[i], X_OK) == 0)
                        return candidates[i];
        return NULL;
}

static void oci_ids(struct eng_oci_opts *o)
{
        o->init = find_init();
        o->invoker_is_root = geteuid() == 0;
        o->host_uid = geteuid();
        o->host_gid = getegid();
}

int eng_oci_write_bundle(const struct zb_policy *p, const char *dir, struct eng_notes *n,
                         struct zb_error *err)
{
        struct eng_oci_opts o = { 0 };
        int r = check_empty_dir(dir, err);
        if (r < 0)
                return r;
        oci_ids(&o);
        return write_bundle(p, dir, &o, n, err);
}

char *eng_oci_runtime(const struct zb_policy *p, struct zb_error *err)
{
        const char *name = p->engine.runtime[0] ? p->engine.runtime : "runc";
        if (strcmp(name, "gvisor") == 0)
                name = "runsc";
        char *path = eng_which(name);
        if (!path)
                err_set(err, ENOENT, "runtime: '%s' not found (install it, or give --runtime runc|crun|runsc|PATH)",
                             name);
        return path;
}

/* ---- running ---- */

struct oci_run {
        const char *runtime;
        const char *name;
};

static void runtime_cmd(const struct oci_run *o, const char *verb, const char *a1, const char *a2)
{
        char *argv[] = { (char *)o->runtime, (char *)verb, (char *)a1, (char *)a2, NULL, NULL };
        if (a1 && a2 && strcmp(verb, "kill") == 0) {
                /* kill NAME SIGNAL */
                argv[2] = (char *)a1;
                argv[3] = (char *)a2;
        }
        eng_exec_simple(argv, NULL, NULL);
}

static int on_timeout(void *ctx)
{
        runtime_cmd(ctx, "kill", ((struct oci_run *)ctx)->name, "KILL");
        return 0;
}

static int on_signal(void *ctx, int sig)
{
        char s[16];
        snprintf(s, sizeof(s), "%d", sig);
        runtime_cmd(ctx, "kill", ((struct oci_run *)ctx)->name, s);
        return 0;
}

/* Where a relative cgroupsPath lands: under this process's own cgroup in
 * each hierarchy (runc's rule for relative paths). */
static char *cgroup_dir(const char *controller, const char *rel)
{
        _cleanup_(freep) char *line = NULL;
        size_t cap = 0;
        char *own = NULL;
        FILE *f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return NULL;
        while (getline(&line, &cap, f) > 0) {
                char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                *c2 = '\0';
                line[strcspn(line, "\n")] = '\0';
                c2[1 + strcspn(c2 + 1, "\n")] = '\0';
                const char *ctrls = c1 + 1;
                bool match = controller ? false : *ctrls == '\0';
                for (char *t = controller ? strtok((char *)ctrls, ",") : NULL; t; t = strtok(NULL, ","))
                        match |= strcmp(t, controller) == 0;
                if (match) {
                        own = strdup(c2 + 1);
                        break;
                }
        }
        fclose(f);
        if (!own)
                return NULL;
        char *dir;
        if (rel[0] == '/') { /* absolute: the same path in every hierarchy */
                free(own);
                own = strdup("/");
                if (!own)
                        return NULL;
                rel++;
        }
        if (!controller)
                dir = util_asprintf("/sys/fs/cgroup/unified%s/%s", strcmp(own, "/") ? own : "", rel);
        else
                dir = util_asprintf("/sys/fs/cgroup/%s%s/%s", controller, strcmp(own, "/") ? own : "", rel);
        free(own);
        if (dir && !controller && access(dir, F_OK) != 0) {
                /* Pure v2: the unified hierarchy is /sys/fs/cgroup itself. */
                char *alt = util_asprintf("/sys/fs/cgroup%s", dir + strlen("/sys/fs/cgroup/unified"));
                free(dir);
                dir = alt;
        }
        return dir;
}

static bool read_key(const char *path, const char *key, uint64_t *v)
{
        FILE *f = fopen(path, "re");
        char k[64];
        unsigned long long n;
        bool found = false;
        if (!f)
                return false;
        while (fscanf(f, "%63s %llu", k, &n) == 2)
                if (strcmp(k, key) == 0) {
                        *v = n;
                        found = true;
                        break;
                }
        fclose(f);
        return found;
}

static bool read_u64(const char *path, uint64_t *v)
{
        FILE *f = fopen(path, "re");
        unsigned long long n;
        bool ok = f && fscanf(f, "%llu", &n) == 1;
        if (f)
                fclose(f);
        if (ok)
                *v = n;
        return ok;
}

/* OOM kills, CPU time and peak memory of the stopped container, v1 or v2. */
static void read_accounting(const char *rel, struct zb_result *r)
{
        _cleanup_(freep) char *mem = cgroup_dir("memory", rel);
        _cleanup_(freep) char *cpu = cgroup_dir("cpuacct", rel);
        _cleanup_(freep) char *v2 = cgroup_dir(NULL, rel);
        char path[1024];
        uint64_t v;

        if (mem && access(mem, F_OK) == 0) {
                snprintf(path, sizeof(path), "%s/memory.oom_control", mem);
                if (read_key(path, "oom_kill", &v) && v > 0)
                        r->oom_killed = true;
                snprintf(path, sizeof(path), "%s/memory.max_usage_in_bytes", mem);
                if (read_u64(path, &v))
                        r->peak_memory_bytes = v;
        } else if (v2) {
                snprintf(path, sizeof(path), "%s/memory.events", v2);
                if (read_key(path, "oom_kill", &v) && v > 0)
                        r->oom_killed = true;
                snprintf(path, sizeof(path), "%s/memory.peak", v2);
                if (read_u64(path, &v))
                        r->peak_memory_bytes = v;
        }
        long hz = sysconf(_SC_CLK_TCK);
        if (cpu && access(cpu, F_OK) == 0 && hz > 0) {
                snprintf(path, sizeof(path), "%s/cpuacct.stat", cpu);
                if (read_key(path, "user", &v))
                        r->cpu_user_ms = (double)v * 1000.0 / (double)hz;
                if (read_key(path, "system", &v))
                        r->cpu_sys_ms = (double)v * 1000.0 / (double)hz;
        } else if (v2) {
                snprintf(path, sizeof(path), "%s/cpu.stat", v2);
                if (read_key(path, "user_usec", &v))
                        r->cpu_user_ms = (double)v / 1000.0;
                if (read_key(path, "system_usec", &v))
                        r->cpu_sys_ms = (double)v / 1000.0;
        }
}

/* Exit status of `RUNTIME run`: the container's code, 128+N when its
 * process was killed by signal N. The OOM count comes from the container's
 * cgroup (read_accounting), so only a SIGKILL death is an OOM. */
static const struct eng_exit_rules oci_exit = { .backend = "oci" };

int eng_oci_gc(const char *runtime, unsigned *removed)
{
        eng_gc_run_dirs(removed);
        char *argv[] = { (char *)runtime, "list", "--format", "json", NULL };
        _cleanup_(freep) char *out = NULL;
        if (eng_exec_simple(argv, &out, NULL) != 0 || !out)
                return 0;
        json_object *list = json_tokener_parse(out);
        for (size_t i = 0; list && json_object_is_type(list, json_type_array) && i < json_object_array_length(list); i++) {
                json_object *id;
                if (!json_object_object_get_ex(json_object_array_get_idx(list, i), "id", &id))
                        continue;
                const char *name = json_object_get_string(id);
                if (eng_container_orphaned(name) == 1) {
                        char *del[] = { (char *)runtime, "delete", "--force", (char *)name, NULL };
                        if (eng_exec_simple(del, NULL, NULL) == 0 && removed)
                                (*removed)++;
                }
        }
        json_object_put(list);
        return 0;
}

/* The runtime's own failure (it logs JSON lines with "level":"error")
 * is a setup error, not the command's exit status. */
static void runtime_error(const char *log, struct zb_result *r)
{
        _cleanup_(freep) char *line = NULL;
        size_t cap = 0;
        FILE *f = fopen(log, "re");
        if (!f)
                return;
        while (getline(&line, &cap, f) > 0) {
                json_object *o = json_tokener_parse(line), *lv, *msg;
                if (o && json_object_object_get_ex(o, "level", &lv) &&
                    strcmp(json_object_get_string(lv), "error") == 0 &&
                    json_object_object_get_ex(o, "msg", &msg)) {
                        free(r->error);
                        r->error = util_asprintf("backend oci: %s", json_object_get_string(msg));
                        r->status = ZB_STATUS_SETUP_ERROR;
                        r->setup_kind = strstr(json_object_get_string(msg), "not found") ||
                                                        strstr(json_object_get_string(msg), "no such file")
                                                ? ZB_SETUP_NOT_FOUND
                                        : strstr(json_object_get_string(msg), "permission denied")
                                                ? ZB_SETUP_NOT_EXEC
                                                : ZB_SETUP_FAILED;
                        r->exit_code = 0;
                        r->signal = 0;
                }
                json_object_put(o);
        }
        fclose(f);
}

#define CGROUP2_HYBRID "/sys/fs/cgroup/unified"

/* A hybrid host: cgroup v2 mounted beside the v1 controllers. */
static bool hybrid_cgroups(void)
{
        struct statfs st;
        return statfs(CGROUP2_HYBRID, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

/* ---- gVisor (runsc) ---- */

static bool is_runsc(const char *base)
{
        return strcmp(base, "runsc") == 0;
}

/* runsc's global flags, which go before the subcommand. Its default
 * network ("sandbox") needs a network namespace with a device; the
 * policy's none and loopback are gVisor's own netstack with only lo.
 * Without --oci-seccomp runsc ignores linux.seccomp. */
static size_t runsc_flags(const struct zb_policy *p, char **argv, struct eng_notes *n)
{
        static const struct { const char *name, *flag; } platforms[] = {
                { "ptrace", "--platform=ptrace" }, { "kvm", "--platform=kvm" }, { "systrap", "--platform=systrap" },
        };
        size_t k = 0;
        argv[k++] = p->network == ZB_NET_HOST ? "--network=host" : "--network=none";
        argv[k++] = "--oci-seccomp";
        for (size_t i = 0; i < ARRAY_SIZE(platforms); i++)
                if (strcmp(p->engine.runsc_platform, platforms[i].name) == 0)
                        argv[k++] = (char *)platforms[i].flag;
        eng_info(n, "runtime runsc: the command runs on gVisor's kernel (platform %s), so its syscall surface is gVisor's; the policy's seccomp filter is applied inside it",
                 p->engine.runsc_platform[0] ? p->engine.runsc_platform : "runsc's default");
        return k;
}

/* runsc removes only the cgroups it created, and without --keep it
 * removes them when `runsc run` returns: the OOM count and accounting
 * would be gone. So zonebox makes the container's cgroups itself (for
 * crun too, which has no --keep either), with
 * the namespace backend's resources layer (limits written by zonebox,
 * which runsc then leaves alone: it sets limits only in cgroups it made),
 * reads them after the run, kills what is left in them and removes them.
 * The relative path is the one runsc resolves: under our own cgroup (or
 * cgroup_parent) in each hierarchy. */
static int zonebox_cgroup(const struct zb_policy *p, const char *base, struct ns_cgroup *cg, char **rel, struct eng_notes *n,
                        struct zb_error *err)
{
        unsigned removed = 0;
        struct zb_error gerr = { 0 };
        ns_cgroup_gc(p->limits.cgroup_parent, &removed, &gerr);
        int r = ns_cgroup_setup(cg, p, err);
        if (r < 0)
                return r;
        if (!cg->active) {
                eng_info(n, "runtime %s: no cgroup of zonebox's (no limit asked for, or allow_unenforced), so no OOM count or accounting", base);
                return 0;
        }
        *rel = p->limits.cgroup_parent ? util_asprintf("%s/%s", p->limits.cgroup_parent, cg->name) : strdup(cg->name);
        if (!*rel)
                return err_set(err, ENOMEM, "out of memory");
        if (is_runsc(base))
                eng_info(n, "runtime runsc: limits written by zonebox into the container's cgroup %s (runsc keeps a pre-made cgroup's settings)",
                         cg->name);
        return 0;
}

/* `RUNTIME [global flags] --log LOG --log-format json run --bundle DIR
 * [--keep] NAME`, NULL-terminated in ARGV (24 slots). */
static void runtime_argv(char **argv, const struct zb_policy *p, char *runtime, char *log, char *bundle,
                         char *name, bool keep, struct eng_notes *n)
{
        const char *base = strrchr(runtime, '/') ? strrchr(runtime, '/') + 1 : runtime;
        size_t k = 0;
        if (strcmp(base, "crun") == 0 && hybrid_cgroups()) {
                /* crun refuses a hybrid host's cgroup v2 mount ("cgroups in
                 * hybrid mode not supported"): it runs in a private mount
                 * namespace without it, and uses the v1 controllers. */
                static char script[] = "umount " CGROUP2_HYBRID " && exec \"$@\"";
                static char *const wrap[] = { "/usr/bin/unshare", "--mount", "--propagation", "private", "--",
                                              "/bin/sh", "-c", script, "sh" };
                for (size_t i = 0; i < ARRAY_SIZE(wrap); i++)
                        argv[k++] = wrap[i];
        }
        argv[k++] = runtime;
        if (is_runsc(base))
                k += runsc_flags(p, argv + k, n);
        char *rest[] = { "--log", log, "--log-format", "json", "run", "--bundle", bundle,
                         keep ? "--keep" : name, keep ? name : NULL, NULL };
        for (size_t i = 0; i < ARRAY_SIZE(rest); i++)
                argv[k++] = rest[i];
}

/* The verdict of a finished `RUNTIME run`: accounting and the OOM count
 * (zonebox's own cgroup, else the runtime's kept one; crun: the kernel's
 * record), the exit status, the runtime's own error, the layers. */
static void oci_verdict(const struct zb_policy *p, struct ns_cgroup *zcg, const char *cg, int kmsg,
                        const struct eng_exit *ex, const char *log, struct eng_notes *n, struct zb_result *r)
{
        if (zcg->active)
                ns_cgroup_finish(zcg, r); /* kills what is left, accounts, removes */
        else if (cg)
                read_accounting(cg, r);
        if (!r->oom_killed && kmsg >= 0 && cg)
                r->oom_killed = eng_kmsg_oom_in(kmsg, strrchr(cg, '/') ? strrchr(cg, '/') + 1 : cg);
        eng_exit_status(ex, &oci_exit, NULL, r);
        runtime_error(log, r);
        if (p->limits.wall_time_ms)
                eng_apply(n, "wall_time");
        eng_notes_to_result(n, r);
}

int eng_oci_run(const struct zb_policy *p, struct zb_result *r, struct zb_error *err)
{
        struct eng_notes n = { .run = true };
        struct eng_oci_opts o = { 0 };
        char name[96], bundle[ENG_RUN_DIR_MAX];
        _cleanup_(freep) char *runtime = eng_oci_runtime(p, err);
        _cleanup_(freep) char *cg = NULL;
        _cleanup_(closep) int kmsg = -1;
        int ret;

        if (!runtime)
                return -ENOENT;
        if (geteuid() != 0)
                return err_set(err, EPERM,
                                    "backend: oci: zonebox must run as root to start an OCI runtime with user-namespace maps (use the namespace backend, or zonebox export oci)");
        eng_oci_gc(runtime, NULL);
        eng_container_name(name, sizeof(name));
        if (eng_run_dir(bundle, "oci", name) < 0)
                return err_errno(err, errno, "backend oci: bundle directory");
        /* The container's root (65533 outside) must reach the rootfs. */
        chmod(bundle, 0711);
        oci_ids(&o);
        const char *base = strrchr(runtime, '/') ? strrchr(runtime, '/') + 1 : runtime;
        struct ns_cgroup zcg;
        ns_cgroup_init(&zcg);
        if (strcmp(base, "runc") != 0 && (ret = zonebox_cgroup(p, base, &zcg, &cg, &n, err)) < 0)
                goto out;
        if (!cg)
                cg = p->limits.cgroup_parent ? util_asprintf("%s/%s", p->limits.cgroup_parent, name) : strdup(name);
        o.cgroups_path = cg;
        if (!is_runsc(base) && p->engine.runsc_platform[0])
                eng_warn(&n, "engine.runsc.platform: only runtime runsc has platforms; ignored");
        ret = cg ? write_bundle(p, bundle, &o, &n, err) : err_set(err, ENOMEM, "out of memory");
        if (ret == 0) {
                pol_unused_each(p, p->backend, false, eng_warn_line, &n); /* keytab.c */
                ret = eng_notes_check(&n, p, "oci", err);
        }
        if (ret < 0)
                goto out;

        struct oci_run ctx = { .runtime = runtime, .name = name };
        char log[sizeof(bundle) + 16];
        snprintf(log, sizeof(log), "%s/runtime.log", bundle);
        /* runc keeps the stopped container (and its cgroup, for the OOM
         * count and accounting) until delete; crun 1.8 and runsc have no
         * --keep (see zonebox_cgroup). */
        bool keep = strcmp(base, "runc") == 0;
        /* crun removes the container's memory cgroup when it exits: the
         * kernel's record of an OOM kill in it tells instead. */
        kmsg = !keep && !is_runsc(base) && p->limits.memory ? eng_kmsg_open_at_end() : -1;
        if (!keep && !is_runsc(base) && p->limits.memory && kmsg < 0)
                eng_warn(&n, "limits.memory: runtime %s removes the container's memory cgroup when it exits, and /dev/kmsg cannot be read (%s): an OOM kill shows as signaled 9",
                         base, strerror(errno));
        char *argv[24];
        runtime_argv(argv, p, runtime, log, bundle, name, keep, &n);
        struct eng_exit ex;
        char procs[sizeof(zcg.v2_dir) + 16];
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", zcg.v2_dir);
        struct eng_exec_opts xo = { .pipe_always = is_runsc(base), .join_procs = zcg.v2_dir[0] ? procs : NULL };
        ret = eng_exec_policy_opts(p, argv, &xo, on_timeout, on_signal, &ctx, r, &ex, err);
        if (ret == 0)
                oci_verdict(p, &zcg, cg, kmsg, &ex, log, &n, r);
        runtime_cmd(&ctx, "delete", "--force", name);
out:
        ns_cgroup_finish(&zcg, NULL);
        eng_image_unmount(bundle); /* image.c: before the bundle goes */
        eng_remove_tree(bundle);
        eng_notes_free(&n);
        return ret;
}
