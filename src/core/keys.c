/* Setting one policy value by its config key ("limits.memory"). The YAML
 * loader and the flag parser both end here, so a value means the same thing
 * whichever way it was given; LABEL (the YAML key or the flag) is what error
 * messages name. */
#define _GNU_SOURCE
#include <stdio.h>
#include <strings.h>

#include "allowlist.h"
#include "approval.h"
#include "keys.h"
#include "keytab.h"
#include "units.h"

static int bad_value(struct zb_error *err, const char *label, const char *value, const char *want)
{
        return err_set(err, EINVAL, "%s: invalid value '%s' (%s)", label, value ? value : "",
                            want);
}

static int set_string(char **field, const char *value, struct zb_error *err, const char *label)
{
        char *s = strdup(value);
        if (!s)
                return err_set(err, ENOMEM, "%s: out of memory", label);
        free(*field);
        *field = s;
        return 0;
}

static int set_size(uint64_t *field, const char *value, bool allow_unlimited, const char *label,
                    struct zb_error *err)
{
        if (allow_unlimited && units_is_unlimited_word(value)) {
                *field = ZB_UNLIMITED;
                return 0;
        }
        if (units_parse_size(value, field) < 0)
                return bad_value(err, label, value, "a size like 512k, 64m, 1g");
        return 0;
}

static int set_duration(uint64_t *field, const char *value, const char *label, struct zb_error *err)
{
        if (units_is_unlimited_word(value)) {
                *field = 0;
                return 0;
        }
        if (units_parse_duration_ms(value, field) < 0)
                return bad_value(err, label, value, "a duration like 500ms, 10s, 2m");
        return 0;
}

static int set_user(struct zb_policy *p, const char *value, const char *label, struct zb_error *err)
{
        uint64_t uid, gid;
        _cleanup_(freep) char *copy = strdup(value);
        if (!copy)
                return err_set(err, ENOMEM, "%s: out of memory", label);
        char *colon = strchr(copy, ':');
        if (colon)
                *colon = '\0';
        if (units_parse_u64(copy, &uid) < 0 || uid > 65535)
                return bad_value(err, label, value, "a numeric uid[:gid] from 0 to 65535");
        gid = uid;
        if (colon && (units_parse_u64(colon + 1, &gid) < 0 || gid > 65535))
                return bad_value(err, label, value, "a numeric uid[:gid] from 0 to 65535");
        p->security.uid = (uid_t)uid;
        p->security.gid = (gid_t)gid;
        p->security.user_set = true;
        return 0;
}

static int set_limit(struct zb_policy *p, const char *sub, const char *value, const char *label,
                     struct zb_error *err)
{
        struct pol_limits *l = &p->limits;
        uint64_t n;

        if (strcmp(sub, "memory") == 0) {
                if (units_is_unlimited_word(value)) { /* no memory limit at all */
                        l->memory = 0;
                        return 0;
                }
                int r = set_size(&l->memory, value, false, label, err);
                if (r == 0 && l->memory < ZB_MIN_MEMORY)
                        return bad_value(err, label, value, "at least 4m (or unlimited)");
                return r;
        }
        if (strcmp(sub, "swap") == 0)
                return set_size(&l->swap, value, true, label, err);
        if (strcmp(sub, "memory_swap") == 0) /* Docker's --memory-swap: memory + swap */
                return set_size(&l->memory_swap_total, value, true, label, err);
        if (strcmp(sub, "cpus") == 0) {
                if (units_parse_cpus_milli(value, &l->cpus_milli) < 0)
                        return bad_value(err, label, value, "a CPU count like 0.5 or 2");
                return 0;
        }
        if (strcmp(sub, "pids") == 0) {
                if (units_is_unlimited_word(value)) {
                        l->pids = 0;
                        return 0;
                }
                if (units_parse_u64(value, &n) < 0 || n == 0 || n > 4194304)
                        return bad_value(err, label, value, "a process count from 1 to 4194304");
                l->pids = n;
                return 0;
        }
        if (strcmp(sub, "wall_time") == 0)
                return set_duration(&l->wall_time_ms, value, label, err);
        if (strcmp(sub, "cpu_time") == 0)
                return set_duration(&l->cpu_time_ms, value, label, err);
        if (strcmp(sub, "file_size") == 0) {
                l->file_size_set = true;
                return set_size(&l->file_size, value, true, label, err);
        }
        if (strcmp(sub, "open_files") == 0) {
                if (units_parse_u64(value, &n) < 0 || n == 0 || n > 1048576)
                        return bad_value(err, label, value, "a count from 1 to 1048576");
                l->open_files = n;
                return 0;
        }
        if (strcmp(sub, "output") == 0) {
                int r = set_size(&l->output, value, false, label, err);
                if (r == 0 && l->output == 0)
                        return bad_value(err, label, value, "a size > 0");
                l->output_set = r == 0;
                return r;
        }
        if (strcmp(sub, "output_action") == 0) {
                if (strcmp(value, "truncate") == 0)
                        l->output_kill = false;
                else if (strcmp(value, "kill") == 0)
                        l->output_kill = true;
                else
                        return bad_value(err, label, value, "truncate or kill");
                return 0;
        }
        if (strcmp(sub, "cgroup_parent") == 0) {
                if (!value[0] || strstr(value, "..") || strstr(value, "//"))
                        return bad_value(err, label, value,
                                         "a cgroup path, absolute or relative to zonebox's own cgroup, without '..'");
                return set_string(&l->cgroup_parent, value, err, label);
        }
        int io = pol_io_set_key(&l->io, sub, value, label, err);
        if (io != -ENOENT)
                return io;
        if (strcmp(sub, "allow_unenforced") == 0) {
                if (units_parse_bool(value, &l->allow_unenforced) < 0)
                        return bad_value(err, label, value, "true or false");
                return 0;
        }
        return -ENOENT;
}

/* "name[,name...]": syscall names appended to a list (checked against
 * libseccomp's tables when the filter is built). */
static int add_names(char ***list, size_t *n, const char *value, const char *label,
                     struct zb_error *err)
{
        for (const char *s = value;;) {
                size_t len = strcspn(s, ",");
                if (len == 0 || len > 64)
                        return bad_value(err, label, value, "syscall names separated by commas");
                for (size_t i = 0; i < len; i++)
                        if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
                                return bad_value(err, label, value, "syscall names separated by commas");
                if (*n >= 1024)
                        return err_set(err, E2BIG, "%s: at most 1024 names", label);
                char **nl = realloc(*list, (*n + 1) * sizeof(char *));
                if (!nl)
                        return err_set(err, ENOMEM, "%s: out of memory", label);
                *list = nl;
                if (!(nl[*n] = strndup(s, len)))
                        return err_set(err, ENOMEM, "%s: out of memory", label);
                (*n)++;
                if (!s[len])
                        return 0;
                s += len + 1;
        }
}

static int set_security(struct zb_policy *p, const char *sub, const char *value,
                        const char *label, const char *base_dir, struct zb_error *err)
{
        struct pol_security *s = &p->security;
        bool b;

        if (strcmp(sub, "seccomp_allow") == 0)
                return add_names(&s->seccomp_allow, &s->n_seccomp_allow, value, label, err);
        if (strcmp(sub, "seccomp_deny") == 0)
                return add_names(&s->seccomp_deny, &s->n_seccomp_deny, value, label, err);

        if (strcmp(sub, "seccomp") == 0) {
                if (!*value)
                        return bad_value(err, label, value, "default, unconfined or a profile path");
                if (strcmp(value, "default") == 0 || strcmp(value, "unconfined") == 0)
                        return set_string(&s->seccomp, value, err, label);
                /* A profile path: relative to the config file, or to the cwd for a flag. */
                _cleanup_(freep) char *abs = util_path_absolute(base_dir, value);
                if (!abs)
                        return err_set(err, ENOMEM, "%s: out of memory", label);
                return set_string(&s->seccomp, abs, err, label);
        }
        if (strcmp(sub, "landlock") == 0) {
                if (strcmp(value, "required") == 0)
                        s->landlock = ZB_LANDLOCK_REQUIRED;
                else if (units_parse_bool(value, &b) == 0)
                        s->landlock = b ? ZB_LANDLOCK_BEST_EFFORT : ZB_LANDLOCK_OFF;
                else
                        return bad_value(err, label, value, "true, false or required");
                return 0;
        }
        if (strcmp(sub, "no_new_privileges") == 0) {
                if (units_parse_bool(value, &s->no_new_privileges) < 0)
                        return bad_value(err, label, value, "true or false");
                return 0;
        }
        if (strcmp(sub, "user") == 0)
                return set_user(p, value, label, err);
        return -ENOENT;
}

/* A name or a path into a fixed-size field of the engine settings. */
static int set_engine_name(char *field, const char *value, const char *label, const char *want,
                           struct zb_error *err)
{
        size_t n = strlen(value);
        if (n == 0 || n >= ZB_ENGINE_NAME_MAX || strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-/") != n)
                return bad_value(err, label, value, want);
        memcpy(field, value, n + 1);
        return 0;
}

/* Keys of the docker, oci and kubernetes backends (src/engines/). */
static int set_engine_key(struct zb_policy *p, const char *key, const char *value,
                          const char *label, struct zb_error *err)
{
        struct pol_engine *e = &p->engine;

        if (strcmp(key, "runtime") == 0 || strcmp(key, "security.runtime") == 0)
                return set_engine_name(e->runtime, value, label,
                                       "runc, crun, runsc, gvisor or a runtime's path", err);
        if (strcmp(key, "engine_cli") == 0)
                return set_engine_name(e->cli, value, label, "docker, podman or a CLI's path", err);
        if (strcmp(key, "engine.runsc.platform") == 0) {
                static const char *const platforms[] = { "ptrace", "kvm", "systrap" };
                for (size_t i = 0; i < ARRAY_SIZE(platforms); i++)
                        if (strcmp(value, platforms[i]) == 0) {
                                snprintf(e->runsc_platform, sizeof(e->runsc_platform), "%s", value);
                                return 0;
                        }
                return bad_value(err, label, value, "ptrace, kvm or systrap");
        }
        if (strcmp(key, "strict") == 0) {
                if (units_parse_bool(value, &e->strict) < 0)
                        return bad_value(err, label, value, "true or false");
                return 0;
        }
        if (strcmp(key, "kubernetes.kind") == 0) {
                if (strcasecmp(value, "pod") == 0)
                        e->k8s_kind = ZB_K8S_POD;
                else if (strcasecmp(value, "job") == 0)
                        e->k8s_kind = ZB_K8S_JOB;
                else
                        return bad_value(err, label, value, "pod or job");
                return 0;
        }
        if (strcmp(key, "kubernetes.host_zones") == 0) {
                if (strcasecmp(value, "pvc") == 0 || strcasecmp(value, "persistentVolumeClaim") == 0)
                        e->k8s_host_zones = ZB_K8S_VOL_PVC;
                else if (strcasecmp(value, "hostPath") == 0)
                        e->k8s_host_zones = ZB_K8S_VOL_HOSTPATH;
                else if (strcasecmp(value, "emptyDir") == 0)
                        e->k8s_host_zones = ZB_K8S_VOL_EMPTYDIR;
                else
                        return bad_value(err, label, value, "pvc, hostPath or emptyDir");
                return 0;
        }
        return -ENOENT;
}

/* cow zones' change sets (src/ns/cow.c): where they are kept, and what a
 * run does with its own. */
static int set_cow_key(struct zb_policy *p, const char *key, const char *value, const char *label,
                       const char *base_dir, struct zb_error *err)
{
        if (strcmp(key, "cow_dir") == 0) {
                char *abs = value[0] ? util_path_absolute(base_dir, value) : NULL;
                if (!abs)
                        return bad_value(err, label, value, "a directory");
                free(p->cow.dir);
                p->cow.dir = abs;
                return 0;
        }
        if (strcmp(key, "cow_action") == 0) {
                if (strcmp(value, "keep") == 0)
                        p->cow.action = ZB_COW_KEEP;
                else if (strcmp(value, "commit") == 0)
                        p->cow.action = ZB_COW_COMMIT;
                else if (strcmp(value, "discard") == 0)
                        p->cow.action = ZB_COW_DISCARD;
                else
                        return bad_value(err, label, value, "keep, commit or discard");
                return 0;
        }
        return -ENOENT;
}

/* One string appended to a NULL-terminated list (approval rules, the
 * approver's arguments). */
static int append_string(char ***list, size_t *n, size_t max, const char *value, const char *label,
                         struct zb_error *err)
{
        if (*n >= max)
                return err_set(err, E2BIG, "%s: at most %zu entries", label, max);
        char **nl = realloc(*list, (*n + 2) * sizeof(char *));
        if (!nl)
                return err_set(err, ENOMEM, "%s: out of memory", label);
        *list = nl;
        if (!(nl[*n] = strdup(value)))
                return err_set(err, ENOMEM, "%s: out of memory", label);
        nl[++*n] = NULL;
        return 0;
}

/* approval.*: any of them turns approval on (default ask). */
static int set_approval(struct zb_policy *p, const char *sub, const char *value, const char *label,
                        const char *base_dir, struct zb_error *err)
{
        struct appr_policy *a = &p->approval;
        int r = 0;

        if (strcmp(sub, "default") == 0) {
                if (strcmp(value, "allow") == 0)
                        a->def = ZB_APPROVAL_ALLOW;
                else if (strcmp(value, "deny") == 0)
                        a->def = ZB_APPROVAL_DENY;
                else if (strcmp(value, "ask") == 0)
                        a->def = ZB_APPROVAL_ASK;
                else
                        return bad_value(err, label, value, "allow, deny or ask");
        } else if (strcmp(sub, "allow") == 0 || strcmp(sub, "deny") == 0) {
                bool allow = sub[0] == 'a';
                r = appr_rule_check(value, label, err);
                if (r == 0)
                        r = append_string(allow ? &a->allow : &a->deny, allow ? &a->n_allow : &a->n_deny,
                                          ZB_MAX_APPROVAL_RULES, value, label, err);
        } else if (strcmp(sub, "command") == 0) {
                if (!*value)
                        return bad_value(err, label, value, "a program: a name found in PATH or a path");
                /* A path is relative to the config file (or the cwd for a flag). */
                _cleanup_(freep) char *prog = strchr(value, '/') ? util_path_absolute(base_dir, value) : strdup(value);
                if (!prog)
                        return err_set(err, ENOMEM, "%s: out of memory", label);
                util_strv_free(a->command);
                a->command = NULL;
                a->n_command = 0;
                r = append_string(&a->command, &a->n_command, ZB_MAX_APPROVAL_RULES, prog, label, err);
        } else if (strcmp(sub, "command_arg") == 0) { /* approval.command: [program, args...] */
                if (!a->command)
                        return err_set(err, EINVAL, "%s: give the program first", label);
                r = append_string(&a->command, &a->n_command, ZB_MAX_APPROVAL_RULES, value, label, err);
        } else if (strcmp(sub, "timeout") == 0) {
                uint64_t ms;
                if (units_parse_duration_ms(value, &ms) < 0 || ms == 0 || ms > 86400000)
                        return bad_value(err, label, value, "a duration like 30s, at most 24h");
                a->timeout_ms = ms;
        } else {
                return -ENOENT;
        }
        if (r == 0)
                a->configured = true;
        return r;
}

static int set_audit(struct zb_policy *p, const char *sub, const char *value, const char *label,
                     const char *base_dir, struct zb_error *err)
{
        if (strcmp(sub, "log") == 0) {
                char *abs = value[0] ? util_path_absolute(base_dir, value) : NULL;
                if (!abs || strcmp(abs, "/") == 0) {
                        free(abs);
                        return bad_value(err, label, value, "a file path");
                }
                free(p->audit.log);
                p->audit.log = abs;
                return 0;
        }
        if (strcmp(sub, "events") == 0) {
                char *v = strncmp(value, "fd:", 3) == 0 ? strdup(value)
                          : value[0]                    ? util_path_absolute(base_dir, value)
                                                        : NULL;
                if (!v || strcmp(v, "/") == 0) {
                        free(v);
                        return bad_value(err, label, value, "a file path or fd:N");
                }
                free(p->audit.events);
                p->audit.events = v;
                return 0;
        }
        if (strcmp(sub, "fsync") == 0) {
                if (units_parse_bool(value, &p->audit.fsync) < 0)
                        return bad_value(err, label, value, "true or false");
                return 0;
        }
        return -ENOENT;
}

/* network.allow (an entry appended), network.hosts ("NAME:IP"; a later one
 * for the same name replaces it), network.proxy_port. */
static int set_network(struct zb_policy *p, const char *sub, const char *value, const char *label,
                       struct zb_error *err)
{
        struct pol_net *n = &p->net;
        const char *why;
        uint64_t port;

        if (strcmp(sub, "allow") == 0) {
                struct net_rule r;
                if (net_rule_parse(value, &r, &why) < 0)
                        return bad_value(err, label, value, why);
                return append_string(&n->allow, &n->n_allow, ZB_MAX_NET_RULES, value, label, err);
        }
        if (strcmp(sub, "hosts") == 0) {
                char name[ZB_NET_NAME_MAX + 1], other[ZB_NET_NAME_MAX + 1];
                struct net_addr a;
                if (net_pin_parse(value, name, &a, &why) < 0)
                        return bad_value(err, label, value, why);
                for (size_t i = 0; i < n->n_hosts; i++)
                        if (net_pin_parse(n->hosts[i], other, &a, &why) == 0 && strcmp(name, other) == 0)
                                return set_string(&n->hosts[i], value, err, label);
                return append_string(&n->hosts, &n->n_hosts, ZB_MAX_NET_RULES, value, label, err);
        }
        if (strcmp(sub, "proxy_port") == 0) {
                if (units_parse_u64(value, &port) < 0 || port == 0 || port > 65535)
                        return bad_value(err, label, value, "a TCP port from 1 to 65535");
                n->proxy_port = port;
                return 0;
        }
        return -ENOENT;
}

int pol_set_key(struct zb_policy *p, const char *key, const char *value, const char *label,
                      const char *base_dir, struct zb_error *err)
{
        /* Only a key with a row in the table (keytab.c), which says what
         * every backend does with it. */
        if (!kt_find(key))
                return -ENOENT;
        if (!value)
                return err_set(err, EINVAL, "%s: a value is required", label);
        int e = set_engine_key(p, key, value, label, err);
        if (e != -ENOENT)
                return e;
        e = pol_backend_set_key(p, key, value, label, err); /* backend, wasm.runtime (backend.c) */
        if (e != -ENOENT)
                return e;
        if (strncmp(key, "limits.", 7) == 0)
                return set_limit(p, key + 7, value, label, err);
        if (strncmp(key, "security.", 9) == 0)
                return set_security(p, key + 9, value, label, base_dir, err);
        if (strncmp(key, "approval.", 9) == 0)
                return set_approval(p, key + 9, value, label, base_dir, err);
        if (strncmp(key, "audit.", 6) == 0)
                return set_audit(p, key + 6, value, label, base_dir, err);
        if (strncmp(key, "network.", 8) == 0)
                return set_network(p, key + 8, value, label, err);
        if (strcmp(key, "session.idle_timeout") == 0)
                return set_duration(&p->idle_timeout_ms, value, label, err);
        if (strcmp(key, "network") == 0) {
                if (pol_network_mode_parse(value, &p->network) < 0)
                        return bad_value(err, label, value, "none, loopback or host");
                return 0;
        }
        if (strcmp(key, "rootfs") == 0) {
                if (strcmp(value, "host") == 0) {
                        free(p->rootfs);
                        p->rootfs = NULL;
                        return 0;
                }
                char *abs = util_path_absolute(base_dir, value);
                if (!abs)
                        return bad_value(err, label, value, "host or a directory");
                free(p->rootfs);
                p->rootfs = abs;
                return 0;
        }
        if (strcmp(key, "image") == 0)
                return set_string(&p->image, value, err, label);
        if (strcmp(key, "hostname") == 0)
                return set_string(&p->hostname, value, err, label);
        if (strcmp(key, "tmp") == 0) {
                bool on = false;
                if (units_parse_bool(value, &on) == 0 || strcmp(value, "none") == 0) {
                        p->tmp_size = value[0] == 'n' || !on ? 0 : DEFAULT_TMP_BYTES;
                        return 0;
                }
                if (units_parse_size(value, &p->tmp_size) < 0 || p->tmp_size == 0)
                        return bad_value(err, label, value, "a size like 64m, or none");
                return 0;
        }
        if (strcmp(key, "workdir") == 0) {
                if (value[0] != '/')
                        return bad_value(err, label, value, "an absolute path inside the sandbox");
                return set_string(&p->workdir, value, err, label);
        }
        return set_cow_key(p, key, value, label, base_dir, err);
}

int pol_zone_option(struct pol_zone *z, const char *k, const char *v, const char *label,
                   const char *base_dir, struct zb_error *err)
{
        if (!v)
                return err_set(err, EINVAL, "%s: %s needs a value", label, k);
        if (strcmp(k, "name") == 0) {
                free(z->name);
                z->name = strdup(v);
        } else if (strcmp(k, "mode") == 0) {
                if (pol_zone_mode_parse(v, &z->mode) < 0)
                        return bad_value(err, label, v, "mode is ro, rw, tmpfs or cow");
                return 0;
        } else if (strcmp(k, "hostPath") == 0 || strcmp(k, "host_path") == 0) {
                free(z->host_path);
                z->host_path = util_path_absolute(base_dir, v);
                if (!z->host_path)
                        return bad_value(err, label, v, "hostPath is a directory path");
                return 0;
        } else if (strcmp(k, "path") == 0) {
                if (v[0] != '/')
                        return bad_value(err, label, v, "path is an absolute mount point");
                free(z->path);
                z->path = strdup(v);
        } else if (strcmp(k, "size") == 0) {
                if (units_parse_size(v, &z->size) < 0 || z->size == 0)
                        return bad_value(err, label, v, "size like 64m");
                return 0;
        } else {
                return err_set(err, EINVAL, "%s: unknown zone key '%s'", label, k);
        }
        if ((strcmp(k, "name") == 0 && !z->name) || (strcmp(k, "path") == 0 && !z->path))
                return err_set(err, ENOMEM, "%s: out of memory", label);
        return 0;
}

int pol_zone_finish(struct zb_policy *p, struct pol_zone *z, const char *label, struct zb_error *err)
{
        if (!z->name)
                return err_set(err, EINVAL, "%s: zone needs a name", label);
        if (z->mode == ZB_ZONE_TMPFS && z->size == 0)
                z->size = DEFAULT_TMPFS_ZONE_BYTES;
        /* A tmpfs at /tmp is the default one, resized (--tmpfs /tmp:size=1g). */
        if (z->mode == ZB_ZONE_TMPFS && z->path && strcmp(z->path, "/tmp") == 0 && !z->host_path) {
                p->tmp_size = z->size;
                return 0;
        }
        return pol_add_zone(p, z, err);
}
