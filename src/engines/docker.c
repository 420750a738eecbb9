/* The docker backend: the policy as a `docker run` (or `podman run`)
 * command line, and a runner that starts it, enforces the wall time by
 * killing the container by name, reads the verdict from `inspect`
 * (OOMKilled, ExitCode) and removes the container whatever happened.
 *
 * Expressed: --network none|host, --memory and --memory-swap (no swap
 * unless the policy gives some), --cpus, --pids-limit, --read-only,
 * --cap-drop ALL, --security-opt no-new-privileges, --security-opt
 * seccomp=FILE (the same filter as the namespace backend, see seccomp.c),
 * --user, zones as binds (read-only for ro) and --tmpfs with their size,
 * -e, -w, --hostname, --ulimit nofile/core/fsize/cpu, --init, --cgroupns
 * private, --ipc private, --runtime (runsc for gvisor). Podman also gets
 * the namespace backend's uid/gid maps (--uidmap), nosuid,nodev on binds,
 * and runs without an image from the host's system dirs (--rootfs over a
 * skeleton, rootfs.c). Not expressed: Landlock; Docker's user namespace
 * (a daemon-wide setting); the wall time in an exported line. */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "engine.h"
#include "engines.h"
#include "io.h"

#define NAME_FILTER "name=zonebox-"

const char *eng_docker_cli(const struct zb_policy *p)
{
        if (p->engine.cli[0])
                return p->engine.cli;
        const char *env = getenv("ZONEBOX_DOCKER");
        return env && *env ? env : "docker";
}

static bool is_podman(const char *cli)
{
        const char *base = strrchr(cli, '/');
        return strcmp(base ? base + 1 : cli, "podman") == 0;
}

/* docker's --mount and -v split on ',' and ':'; such a path cannot be passed. */
static int check_path(const char *what, const char *name, const char *path, struct zb_error *err)
{
        if (strpbrk(path, ",:\"\n"))
                return err_set(err, EINVAL,
                                    "zone '%s': %s %s holds ',', ':' or '\"', which docker's mount syntax cannot carry",
                                    name, what, path);
        return 0;
}

static void add_zones(struct eng_argv *a, const struct zb_policy *p, bool podman, struct eng_notes *n)
{
        char size[32];
        struct pol_zone scratch[2];
        size_t n_scratch = eng_scratch_zones(p, scratch);
        for (size_t i = 0; i < p->n_zones + n_scratch; i++) {
                const struct pol_zone *z = i < p->n_zones ? &p->zones[i] : &scratch[i - p->n_zones];
                if (z->mode == ZB_ZONE_TMPFS) {
                        /* Docker's tmpfs is noexec by default; zones are not. */
                        eng_format_size(z->size, size, sizeof(size));
                        eng_argv_add(a, "--tmpfs");
                        /* Not uid=/gid= (podman refuses them): writable by everyone inside. */
                        eng_argv_addf(a, "%s:rw,exec,nosuid,nodev,size=%s,mode=1777", z->path, size);
                } else if (podman) {
                        eng_argv_add(a, "-v");
                        eng_argv_addf(a, "%s:%s:%s,nosuid,nodev", z->host_path, z->path,
                                      z->mode == ZB_ZONE_RO ? "ro" : "rw");
                } else {
                        /* --mount refuses a missing source; -v would create it. */
                        eng_argv_add(a, "--mount");
                        eng_argv_addf(a, "type=bind,source=%s,target=%s%s", z->host_path, z->path,
                                      z->mode == ZB_ZONE_RO ? ",readonly" : "");
                }
        }
        if (!podman && p->n_zones)
                eng_info(n, "zones: docker binds cannot be nosuid,nodev; no-new-privileges and the device cgroup stand in");
}

static void add_limits(struct eng_argv *a, const struct zb_policy *p, const struct eng_docker_opts *o,
                       struct eng_notes *n)
{
        const struct pol_limits *l = &p->limits;
        char buf[32];

        if (l->memory) {
                eng_format_size(l->memory, buf, sizeof(buf));
                eng_argv_add(a, "--memory");
                eng_argv_add(a, buf);
                /* memory + swap; equal to memory: no swap at all. */
                uint64_t total = l->memory_swap_total ? l->memory_swap_total
                                 : l->swap == ZB_UNLIMITED ? ZB_UNLIMITED
                                                           : l->memory + l->swap;
                if (total == ZB_UNLIMITED)
                        snprintf(buf, sizeof(buf), "-1");
                else
                        eng_format_size(total, buf, sizeof(buf));
                eng_argv_add(a, "--memory-swap");
                eng_argv_add(a, buf);
        }
        if (l->cpus_milli) {
                eng_format_cpus(l->cpus_milli, buf, sizeof(buf));
                eng_argv_add(a, "--cpus");
                eng_argv_add(a, buf);
        }
        if (l->pids) {
                eng_argv_add(a, "--pids-limit");
                eng_argv_addf(a, "%llu", (unsigned long long)l->pids);
        }
        eng_apply(n, "resources");
        eng_argv_add(a, "--ulimit");
        eng_argv_addf(a, "nofile=%llu:%llu", (unsigned long long)l->open_files,
                      (unsigned long long)l->open_files);
        eng_argv_add(a, "--ulimit");
        eng_argv_add(a, "core=0:0");
        if (l->file_size != ZB_UNLIMITED) {
                eng_argv_add(a, "--ulimit");
                eng_argv_addf(a, "fsize=%llu:%llu", (unsigned long long)l->file_size,
                              (unsigned long long)l->file_size);
        }
        if (l->cpu_time_ms) {
                uint64_t s = (l->cpu_time_ms + 999) / 1000;
                eng_argv_add(a, "--ulimit");
                eng_argv_addf(a, "cpu=%llu:%llu", (unsigned long long)s, (unsigned long long)s + 1);
        }
        if (o->nproc_limit) {
                /* The engine's default nproc may be above what this host lets even root set. */
                eng_argv_add(a, "--ulimit");
                eng_argv_addf(a, "nproc=%llu:%llu", (unsigned long long)o->nproc_limit,
                              (unsigned long long)o->nproc_limit);
        }
        eng_apply(n, "rlimits");
        eng_io_docker(a, p, n);
        if (l->cgroup_parent) {
                eng_argv_add(a, "--cgroup-parent");
                eng_argv_add(a, l->cgroup_parent);
        }
        if (l->wall_time_ms && !o->run)
                eng_skip(n, "wall_time",
                         "limits.wall_time: docker run has no wall-time limit (zonebox run --backend docker enforces it by killing the container)");
}

static void add_security(struct eng_argv *a, const struct zb_policy *p, const struct eng_docker_opts *o,
                         struct eng_notes *n)
{
        const struct pol_security *s = &p->security;

        eng_argv_add(a, "--read-only");
        /* podman adds writable tmpfs on /run, /tmp and /var/tmp otherwise. */
        if (o->podman)
                eng_argv_add(a, "--read-only-tmpfs=false");
        eng_apply(n, "rootfs_readonly");
        eng_argv_add(a, "--cap-drop");
        eng_argv_add(a, "ALL");
        eng_apply(n, "capabilities");
        if (s->no_new_privileges) {
                eng_argv_add(a, "--security-opt");
                eng_argv_add(a, "no-new-privileges");
                eng_apply(n, "no_new_privileges");
        } else {
                eng_skip(n, "no_new_privileges", "no_new_privileges: off by the policy");
        }
        bool unconfined = s->seccomp && strcmp(s->seccomp, "unconfined") == 0;
        bool plain_file = s->seccomp && !unconfined && strcmp(s->seccomp, "default") != 0 &&
                          !s->n_seccomp_allow && !s->n_seccomp_deny;
        if (unconfined) {
                eng_argv_add(a, "--security-opt");
                eng_argv_add(a, "seccomp=unconfined");
                eng_skip(n, "seccomp", "seccomp: unconfined: no syscall filter");
        } else if (o->seccomp_file || plain_file) {
                /* A Docker profile file is passed as it is: docker and podman read that format. */
                eng_argv_add(a, "--security-opt");
                eng_argv_addf(a, "seccomp=%s", o->seccomp_file ? o->seccomp_file : s->seccomp);
                eng_apply(n, "seccomp");
        } else {
                eng_warn(n, "seccomp: zonebox's profile is not in the line (give --seccomp-out FILE to write it and name it); the engine's default profile applies instead");
        }
        if (p->engine.runtime[0]) {
                eng_argv_add(a, "--runtime");
                eng_argv_add(a, strcmp(p->engine.runtime, "gvisor") == 0 ? "runsc" : p->engine.runtime);
        }
}

/* User namespace: podman takes maps per container; docker's is daemon-wide. */
static void add_user(struct eng_argv *a, const struct zb_policy *p, const struct eng_docker_opts *o,
                     struct eng_notes *n)
{
        const struct pol_security *s = &p->security;
        eng_argv_add(a, "--user");
        eng_argv_addf(a, "%u:%u", (unsigned)s->uid, (unsigned)s->gid);
        /* Podman's overlay storage cannot give an image single-id maps
         * (it can a whole range): maps only over a rootfs directory. */
        if (o->podman && geteuid() == 0 && !p->image) {
                for (int g = 0; g < 2; g++) {
                        unsigned id = g ? s->gid : s->uid;
                        eng_argv_add(a, g ? "--gidmap" : "--uidmap");
                        eng_argv_addf(a, "%u:%u:1", id, DEFAULT_HOST_ID_FOR_ROOT);
                        if (id != 0) {
                                eng_argv_add(a, g ? "--gidmap" : "--uidmap");
                                eng_argv_addf(a, "0:%u:1", ENG_OCI_ROOT_HOST_ID);
                        }
                }
                eng_apply(n, "user");
        } else if (o->podman && p->image) {
                eng_skip(n, "user",
                         "user: podman with an image runs it in the host's user namespace here (its overlay storage refuses single-id maps); uid %u inside is uid %u outside",
                         (unsigned)s->uid, (unsigned)s->uid);
        } else if (o->podman) {
                eng_info(n, "user: rootless podman maps the sandbox's ids into the invoking user's subordinate ids");
                eng_apply(n, "user");
        } else {
                eng_skip(n, "user",
                         "user: docker runs the container in the host's user namespace unless the daemon has userns-remap; uid %u inside is uid %u outside",
                         (unsigned)s->uid, (unsigned)s->uid);
        }
}

int eng_docker_argv(const struct zb_policy *p, const struct eng_docker_opts *o,
                    struct eng_argv *a, struct eng_notes *n, struct zb_error *err)
{
        int r;

        for (size_t i = 0; i < p->n_zones; i++) {
                const struct pol_zone *z = &p->zones[i];
                if ((z->host_path && (r = check_path("hostPath", z->name, z->host_path, err)) < 0) ||
                    (r = check_path("path", z->name, z->path, err)) < 0)
                        return r;
        }
        eng_common_layers(p, n);
        eng_argv_add(a, o->cli);
        eng_argv_add(a, "run");
        eng_argv_add(a, "-i");
        if (!o->run)
                eng_argv_add(a, "--rm");
        /* A small init as PID 1 reaps zombies, as zonebox's own does. */
        eng_argv_add(a, "--init");
        eng_apply(n, "pid");
        if (o->name) {
                eng_argv_add(a, "--name");
                eng_argv_add(a, o->name);
        }
        if (o->cidfile) {
                eng_argv_add(a, "--cidfile");
                eng_argv_add(a, o->cidfile);
        }
        eng_argv_add(a, "--network");
        eng_argv_add(a, p->network == ZB_NET_HOST ? "host" : "none");
        if (p->network == ZB_NET_HOST)
                eng_skip(n, "net", "network: host: the host's network is shared");
        else
                eng_apply(n, "net");
        eng_argv_add(a, "--ipc");
        eng_argv_add(a, "private");
        eng_apply(n, "ipc");
        eng_argv_add(a, "--cgroupns");
        eng_argv_add(a, "private");
        eng_apply(n, "cgroupns");
        eng_argv_add(a, "--hostname");
        eng_argv_add(a, p->hostname ? p->hostname : DEFAULT_HOSTNAME);
        eng_apply(n, "uts");
        add_user(a, p, o, n);
        add_security(a, p, o, n);
        add_limits(a, p, o, n);
        add_zones(a, p, o->podman, n);
        for (size_t i = 0; o->binds && i < o->binds->n_binds; i++) {
                eng_argv_add(a, "-v");
                eng_argv_addf(a, "%s:%s:ro,nosuid,nodev", o->binds->binds[i].src, o->binds->binds[i].dst);
        }
        eng_apply(n, "mount");
        eng_info(n, "mount: the engine adds a read-only /sys and its own /dev; the namespace backend has no /sys");
        char **env = eng_build_env(p);
        if (!env)
                return err_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; env[i]; i++) {
                eng_argv_add(a, "-e");
                eng_argv_add(a, env[i]);
        }
        util_strv_free(env);
        if (p->workdir) {
                eng_argv_add(a, "-w");
                eng_argv_add(a, p->workdir);
        }
        if (p->image) {
                eng_argv_add(a, p->image);
        } else if (o->podman && (o->rootfs_dir || p->rootfs)) {
                eng_argv_add(a, "--rootfs");
                eng_argv_add(a, o->rootfs_dir ? o->rootfs_dir : p->rootfs);
        } else {
                eng_argv_add(a, "IMAGE");
                if (p->rootfs) /* docker's run has no --rootfs (podman's has) */
                        eng_warn(n, "rootfs: docker cannot run a directory as the root (podman can: --engine-cli podman); the line says IMAGE");
                else
                        eng_info(n, "image: not set (--image NAME or image:): the line says IMAGE; %s",
                                 o->podman ? "podman can also run rootfs: DIR (--rootfs)"
                                           : "docker has no equivalent of rootfs: host");
        }
        if (p->argc && p->argv[0][0] == '-' && !p->image && !o->rootfs_dir && !p->rootfs)
                eng_argv_add(a, "--");
        for (size_t i = 0; i < p->argc; i++)
                eng_argv_add(a, p->argv[i]);
        if (a->oom)
                return err_set(err, ENOMEM, "out of memory");
        return 0;
}

/* ---- running ---- */

struct docker_run {
        const char *cli;
        const char *name;
};

static void cli_cmd(const struct docker_run *d, const char *verb, const char *opt, const char *val)
{
        char *argv[8];
        size_t i = 0;
        argv[i++] = (char *)d->cli;
        argv[i++] = (char *)verb;
        if (opt)
                argv[i++] = (char *)opt;
        if (val)
                argv[i++] = (char *)val;
        argv[i++] = (char *)d->name;
        argv[i] = NULL;
        eng_exec_simple(argv, NULL, NULL);
}

static int on_timeout(void *ctx)
{
        cli_cmd(ctx, "kill", "--signal", "KILL");
        return 0;
}

static int on_signal(void *ctx, int sig)
{
        char s[16];
        snprintf(s, sizeof(s), "%d", sig);
        cli_cmd(ctx, "kill", "--signal", s);
        return 0;
}

int eng_docker_gc(const char *cli, unsigned *removed)
{
        eng_gc_run_dirs(removed);
        char *argv[] = { (char *)cli, "ps", "-a", "--filter", NAME_FILTER, "--format", "{{.Names}}", NULL };
        _cleanup_(freep) char *out = NULL;
        if (eng_exec_simple(argv, &out, NULL) != 0 || !out)
                return 0;
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
                if (eng_container_orphaned(line) != 1)
                        continue;
                char *rm[] = { (char *)cli, "rm", "-f", line, NULL };
                if (eng_exec_simple(rm, NULL, NULL) == 0 && removed)
                        (*removed)++;
        }
        return 0;
}

/* From inspect: whether the kernel's OOM killer ended the container, and
 * the engine's error when it could not start it. false: no such container. */
static bool inspect(const struct docker_run *d, bool *oom, char **error)
{
        char *argv[] = { (char *)d->cli, "inspect", "--format", "{{.State.OOMKilled}} {{.State.Error}}",
                         (char *)d->name, NULL };
        _cleanup_(freep) char *out = NULL;
        if (eng_exec_simple(argv, &out, NULL) != 0 || !out)
                return false;
        *oom = strncmp(out, "true", 4) == 0;
        char *sp = strchr(out, ' ');
        if (sp && sp[1] && sp[1] != '\n') {
                sp[1 + strcspn(sp + 1, "\n")] = '\0';
                *error = strdup(sp + 1);
        }
        return true;
}

/* docker run exits with the container's code (128+N for signal N), or 125
 * when the engine failed, 126 when the command cannot be invoked, 127 when
 * it is not found: the conventions zonebox's own exit codes follow. */
static const struct eng_exit_rules docker_exit = { .backend = "docker", .oom_any_exit = true,
                                                   .exit_125_engine = true };

static int chown_tree(const char *path, uid_t id, struct zb_error *err)
{
        struct stat st;
        if (lstat(path, &st) < 0)
                return err_errno(err, errno, "chown %s", path);
        if (lchown(path, id, id) < 0)
                return err_errno(err, errno, "chown %s", path);
        if (!S_ISDIR(st.st_mode))
                return 0;
        _cleanup_(closedirp) DIR *d = opendir(path);
        if (!d)
                return err_errno(err, errno, "chown %s", path);
        for (struct dirent *e; (e = readdir(d));) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                _cleanup_(freep) char *sub = util_asprintf("%s/%s", path, e->d_name);
                int r = sub ? chown_tree(sub, id, err) : err_set(err, ENOMEM, "out of memory");
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The files a run needs besides the command line: the seccomp profile
 * and, for podman without an image, the root skeleton. */
static int prepare(const struct zb_policy *p, const char *dir, struct eng_docker_opts *o,
                   struct eng_rootfs *fs, char *profile, size_t profile_len, char *skel,
                   size_t skel_len, struct eng_notes *n, struct zb_error *err)
{
        const struct pol_security *s = &p->security;
        int r;

        if (!(s->seccomp && strcmp(s->seccomp, "unconfined") == 0)) {
                json_object *sc = NULL;
                if ((r = eng_seccomp_oci(p, &sc, n, err)) < 0)
                        return r;
                snprintf(profile, profile_len, "%s/seccomp.json", dir);
                r = eng_write_file(profile, json_object_to_json_string_ext(sc, JSON_C_TO_STRING_PLAIN), err);
                json_object_put(sc);
                if (r < 0)
                        return r;
                o->seccomp_file = profile;
        }
        if (!p->image) {
                if (!o->podman)
                        return err_set(err, EINVAL,
                                            "image: the docker backend needs an image (--image NAME); podman can use the host's dirs (--engine-cli podman)");
                if (!p->rootfs) {
                        snprintf(skel, skel_len, "%s/rootfs", dir);
                        if ((r = eng_rootfs_build(p, skel, fs, err)) < 0)
                                return r;
                        /* With --uidmap the engine sets up the root as the
                         * container's root (65533 outside): it must be able
                         * to make its mount points (/run, /etc/resolv.conf). */
                        if (geteuid() == 0 && (r = chown_tree(skel, ENG_OCI_ROOT_HOST_ID, err)) < 0)
                                return r;
                        o->rootfs_dir = skel;
                        o->binds = fs;
                }
        }
        return 0;
}

/* Podman here never reports State.OOMKilled: conmon's OOM watch (an
 * eventfd on the v1 memory.oom_control) never writes its "oom" file on
 * this hybrid host, and the container's cgroup, whose counter would say
 * it, is removed by `podman container cleanup` before inspect runs. The
 * engines name a container's cgroup after its id (podman libpod-<id>,
 * docker docker-<id>.scope or /docker/<id>), so the kernel's record of
 * the kill tells it (eng_kmsg_oom_in, util.c). */
/* The container's full id from --cidfile; false if none. */
static bool read_cid(const char *path, char *id, size_t n)
{
        FILE *f = fopen(path, "re");
        bool ok = f && fgets(id, (int)n, f) != NULL;
        if (f)
                fclose(f);
        if (ok)
                id[strcspn(id, "\n")] = '\0';
        return ok && strlen(id) >= 12;
}

int eng_docker_run(const struct zb_policy *p, struct zb_result *r, struct zb_error *err)
{
        struct eng_notes n = { .run = true };
        struct eng_rootfs fs = { 0 };
        struct eng_argv a = { 0 };
        char name[96], dir[ENG_RUN_DIR_MAX], profile[ENG_RUN_DIR_MAX + 16], skel[ENG_RUN_DIR_MAX + 16],
                cidfile[ENG_RUN_DIR_MAX + 8];
        _cleanup_(closep) int kmsg = -1;
        struct rlimit nproc;
        int ret;

        _cleanup_(freep) char *cli = eng_which(eng_docker_cli(p));
        if (!cli)
                return err_set(err, ENOENT, "engine_cli: '%s' not found (--engine-cli docker|podman|PATH, or ZONEBOX_DOCKER)",
                                    eng_docker_cli(p));
        struct eng_docker_opts o = { .cli = cli, .podman = is_podman(cli), .name = name, .run = true };
        /* The engines' default nproc may be above what even root may set
         * here. In podman's own user namespace (root: --uidmap) RLIMIT_NPROC
         * counts only the sandbox's processes, so the pids limit is the
         * value; elsewhere it would count every process of that uid. */
        if (o.podman && geteuid() == 0 && p->limits.pids && getrlimit(RLIMIT_NPROC, &nproc) == 0)
                o.nproc_limit = nproc.rlim_max == RLIM_INFINITY || p->limits.pids < nproc.rlim_max
                                        ? p->limits.pids
                                        : nproc.rlim_max;
        eng_docker_gc(cli, NULL);
        eng_container_name(name, sizeof(name));
        if (eng_run_dir(dir, "docker", name) < 0)
                return err_errno(err, errno, "backend docker: temporary directory");
        chmod(dir, 0711);
        snprintf(cidfile, sizeof(cidfile), "%s/cid", dir);
        o.cidfile = cidfile;
        ret = prepare(p, dir, &o, &fs, profile, sizeof(profile), skel, sizeof(skel), &n, err);
        if (ret == 0)
                ret = eng_docker_argv(p, &o, &a, &n, err);
        if (ret == 0) {
                pol_unused_each(p, p->backend, false, eng_warn_line, &n); /* keytab.c */
                ret = eng_notes_check(&n, p, "docker", err);
        }
        if (ret < 0)
                goto out;

        struct docker_run ctx = { .cli = cli, .name = name };
        struct eng_exit ex;
        kmsg = p->limits.memory ? eng_kmsg_open_at_end() : -1;
        if (p->limits.memory && kmsg < 0)
                eng_warn(&n, "limits.memory: /dev/kmsg cannot be read (%s), so an OOM kill the engine does not report itself (podman here) shows as signaled 9",
                         strerror(errno));
        ret = eng_exec_policy(p, a.v, on_timeout, on_signal, &ctx, r, &ex, err);
        if (ret == 0) {
                bool oom = false;
                char id[128];
                _cleanup_(freep) char *engine_error = NULL;
                inspect(&ctx, &oom, &engine_error);
                if (!oom && kmsg >= 0 && read_cid(cidfile, id, sizeof(id)))
                        oom = eng_kmsg_oom_in(kmsg, id);
                r->oom_killed = oom;
                eng_exit_status(&ex, &docker_exit, engine_error, r);
                if (p->limits.wall_time_ms)
                        eng_apply(&n, "wall_time");
                eng_notes_to_result(&n, r);
        }
        cli_cmd(&ctx, "rm", "-f", NULL);
out:
        eng_argv_free(&a);
        eng_rootfs_free(&fs);
        eng_remove_tree(dir);
        eng_notes_free(&n);
        return ret;
}
