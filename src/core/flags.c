/* Docker-style and zonebox command-line flags → policy. The CLI splits argv
 * into (flag, value) pairs with zb_flag_takes_value(); everything a flag
 * means is decided here, so the library and the CLI agree. */
#define _GNU_SOURCE
#include <stdio.h>

#include "keys.h"
#include "units.h"

enum flag_kind {
        FLAG_KEY,            /* the value goes to a config key */
        FLAG_VOLUME,         /* -v host:dest[:ro|rw] */
        FLAG_TMPFS,          /* --tmpfs dest[:size=..] */
        FLAG_ZONE,           /* --zone name=..,mode=..,hostPath=.. */
        FLAG_ENV,            /* -e KEY[=VALUE] */
        FLAG_SECOPT,         /* --security-opt ... */
        FLAG_CAPDROP,        /* --cap-drop ALL */
        FLAG_ULIMIT,         /* --ulimit fsize=..,nofile=.. */
        FLAG_DOCKER_DEFAULT, /* accepted for Docker compatibility: already the default */
        FLAG_KEY_TRUE,       /* no value: sets a boolean key to true */
        FLAG_KEY_NONE,       /* no value: sets a key to none */
};

struct flag {
        const char *name;
        const char *alias;
        enum flag_kind kind;
        const char *key;
        bool takes_value;
};

static const struct flag flags[] = {
        { "--network", "--net", FLAG_KEY, "network", true },
        { "--net-allow", NULL, FLAG_KEY, "network.allow", true },
        { "--add-host", NULL, FLAG_KEY, "network.hosts", true },
        { "--proxy-port", NULL, FLAG_KEY, "network.proxy_port", true },
        { "--memory", "-m", FLAG_KEY, "limits.memory", true },
        { "--memory-swap", NULL, FLAG_KEY, "limits.memory_swap", true },
        { "--cpus", NULL, FLAG_KEY, "limits.cpus", true },
        { "--pids-limit", NULL, FLAG_KEY, "limits.pids", true },
        { "--timeout", NULL, FLAG_KEY, "limits.wall_time", true },
        { "--cpu-time", NULL, FLAG_KEY, "limits.cpu_time", true },
        { "--output-limit", NULL, FLAG_KEY, "limits.output", true },
        { "--cgroup-parent", NULL, FLAG_KEY, "limits.cgroup_parent", true },
        { "--allow-unenforced", NULL, FLAG_KEY_TRUE, "limits.allow_unenforced", false },
        { "--output-action", NULL, FLAG_KEY, "limits.output_action", true },
        { "--device-read-bps", NULL, FLAG_KEY, "limits.device_read_bps", true },
        { "--device-write-bps", NULL, FLAG_KEY, "limits.device_write_bps", true },
        { "--device-read-iops", NULL, FLAG_KEY, "limits.device_read_iops", true },
        { "--device-write-iops", NULL, FLAG_KEY, "limits.device_write_iops", true },
        { "--zone-read-bps", NULL, FLAG_KEY, "limits.zone_read_bps", true },
        { "--zone-write-bps", NULL, FLAG_KEY, "limits.zone_write_bps", true },
        { "--blkio-weight", NULL, FLAG_KEY, "limits.blkio_weight", true },
        { "--workdir", "-w", FLAG_KEY, "workdir", true },
        { "--user", "-u", FLAG_KEY, "security.user", true },
        { "--hostname", NULL, FLAG_KEY, "hostname", true },
        { "--rootfs", NULL, FLAG_KEY, "rootfs", true },
        { "--backend", NULL, FLAG_KEY, "backend", true },
        { "--wasm-runtime", NULL, FLAG_KEY, "wasm.runtime", true },
        { "--seccomp", NULL, FLAG_KEY, "security.seccomp", true },
        { "--seccomp-allow", NULL, FLAG_KEY, "security.seccomp_allow", true },
        { "--seccomp-deny", NULL, FLAG_KEY, "security.seccomp_deny", true },
        { "--landlock", NULL, FLAG_KEY, "security.landlock", true },
        { "--approve-default", NULL, FLAG_KEY, "approval.default", true },
        { "--allow-cmd", NULL, FLAG_KEY, "approval.allow", true },
        { "--deny-cmd", NULL, FLAG_KEY, "approval.deny", true },
        { "--approver", NULL, FLAG_KEY, "approval.command", true },
        { "--approver-timeout", NULL, FLAG_KEY, "approval.timeout", true },
        { "--audit-log", NULL, FLAG_KEY, "audit.log", true },
        { "--events", NULL, FLAG_KEY, "audit.events", true },
        { "--volume", "-v", FLAG_VOLUME, NULL, true },
        { "--cow-dir", NULL, FLAG_KEY, "cow_dir", true },
        { "--cow-action", NULL, FLAG_KEY, "cow_action", true },
        { "--tmpfs", NULL, FLAG_TMPFS, NULL, true },
        { "--zone", NULL, FLAG_ZONE, NULL, true },
        { "--env", "-e", FLAG_ENV, NULL, true },
        { "--security-opt", NULL, FLAG_SECOPT, NULL, true },
        { "--cap-drop", NULL, FLAG_CAPDROP, NULL, true },
        { "--ulimit", NULL, FLAG_ULIMIT, NULL, true },
        { "--runtime", NULL, FLAG_KEY, "runtime", true },
        { "--engine-cli", NULL, FLAG_KEY, "engine_cli", true },
        { "--runsc-platform", NULL, FLAG_KEY, "engine.runsc.platform", true },
        { "--image", NULL, FLAG_KEY, "image", true },
        { "--strict", NULL, FLAG_KEY_TRUE, "strict", false },
        { "--kind", NULL, FLAG_KEY, "kubernetes.kind", true },
        { "--host-zones", NULL, FLAG_KEY, "kubernetes.host_zones", true },
        { "--tmp", NULL, FLAG_KEY, "tmp", true },
        { "--no-tmp", NULL, FLAG_KEY_NONE, "tmp", false },
        { "--read-only", NULL, FLAG_DOCKER_DEFAULT, NULL, false },
        { "--rm", NULL, FLAG_DOCKER_DEFAULT, NULL, false },
        { "--init", NULL, FLAG_DOCKER_DEFAULT, NULL, false },
};

static const struct flag *flag_find(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
                if (strcmp(flags[i].name, name) == 0 ||
                    (flags[i].alias && strcmp(flags[i].alias, name) == 0))
                        return &flags[i];
        return NULL;
}

int zb_flag_takes_value(const char *flag)
{
        const struct flag *f = flag_find(flag);
        return f ? f->takes_value : -1;
}

/* "/data/in" → "data-in": a zone name derived from the mount point. Two
 * mount points can give one name (/a-b and /a/b): the later gets "-2",
 * "-3", ... so that -v x:/a-b -v y:/a/b are two zones, as they are two
 * mounts. */
static bool name_taken(const struct zb_policy *p, const char *name, const char *dest)
{
        /* The same mount point keeps its name: a flag replaces the file's zone. */
        for (size_t i = 0; i < p->n_zones; i++)
                if (strcmp(p->zones[i].name, name) == 0 && strcmp(p->zones[i].path, dest) != 0)
                        return true;
        return false;
}

static char *name_from_path(const struct zb_policy *p, const char *dest)
{
        char base[128], name[160];
        const char *path = dest;
        while (*path == '/')
                path++;
        /* A longer name is refused by validation, whatever its suffix. */
        if (strlen(path) >= sizeof(base))
                return strdup(path);
        snprintf(base, sizeof(base), "%s", *path ? path : "root");
        for (char *s = base; *s; s++)
                if (*s == '/')
                        *s = '-';
        snprintf(name, sizeof(name), "%s", base);
        for (unsigned k = 2; k < 2 + ZB_MAX_ZONES && name_taken(p, name, dest); k++)
                snprintf(name, sizeof(name), "%s-%u", base, k);
        return strdup(name);
}

static int parse_volume(struct zb_policy *p, const char *flag, const char *v, struct zb_error *err)
{
        _cleanup_(freep) char *copy = strdup(v);
        struct pol_zone z = { .mode = ZB_ZONE_RW };
        int r;

        if (!copy)
                return err_set(err, ENOMEM, "%s: out of memory", flag);
        char *dest = strchr(copy, ':');
        if (!dest || dest == copy || dest[1] == '\0')
                return err_set(err, EINVAL, "%s: '%s' is not HOST:DEST[:ro|rw|cow]", flag, v);
        *dest++ = '\0';
        char *opts = strchr(dest, ':');
        if (opts) {
                *opts++ = '\0';
                for (char *o = strtok(opts, ","); o; o = strtok(NULL, ",")) {
                        if (strcmp(o, "ro") == 0)
                                z.mode = ZB_ZONE_RO;
                        else if (strcmp(o, "rw") == 0)
                                z.mode = ZB_ZONE_RW;
                        else if (strcmp(o, "cow") == 0)
                                z.mode = ZB_ZONE_COW;
                        else if (strncmp(o, "size=", 5) == 0) {
                                if (units_parse_size(o + 5, &z.size) < 0 || z.size == 0)
                                        return err_set(err, EINVAL,
                                                            "%s: invalid size '%s' (like 64m)", flag,
                                                            o + 5);
                        } else
                                return err_set(err, EINVAL,
                                                    "%s: unknown option '%s' in '%s' (ro, rw, cow, size=N)",
                                                    flag, o, v);
                }
        }
        if (dest[0] != '/')
                return err_set(err, EINVAL, "%s: mount point '%s' must be absolute", flag, dest);
        z.host_path = util_path_absolute(NULL, copy);
        z.path = strdup(dest);
        z.name = name_from_path(p, dest);
        if (!z.host_path || !z.path || !z.name)
                r = err_set(err, ENOMEM, "%s: out of memory", flag);
        else
                r = pol_zone_finish(p, &z, flag, err);
        pol_zone_free_fields(&z);
        return r;
}

static int parse_tmpfs(struct zb_policy *p, const char *flag, const char *v, struct zb_error *err)
{
        _cleanup_(freep) char *copy = strdup(v);
        struct pol_zone z = { .mode = ZB_ZONE_TMPFS };
        int r;

        if (!copy)
                return err_set(err, ENOMEM, "%s: out of memory", flag);
        char *opts = strchr(copy, ':');
        if (opts) {
                *opts++ = '\0';
                for (char *o = strtok(opts, ","); o; o = strtok(NULL, ",")) {
                        if (strncmp(o, "size=", 5) == 0) {
                                if (units_parse_size(o + 5, &z.size) < 0 || z.size == 0)
                                        return err_set(err, EINVAL,
                                                            "%s: invalid size '%s' (like 64m)",
                                                            flag, o + 5);
                        } else if (strcmp(o, "rw") != 0) {
                                return err_set(err, EINVAL,
                                                    "%s: unknown option '%s' (size=N or rw)", flag,
                                                    o);
                        }
                }
        }
        if (copy[0] != '/')
                return err_set(err, EINVAL, "%s: mount point '%s' must be absolute", flag, copy);
        z.path = strdup(copy);
        z.name = name_from_path(p, copy);
        if (!z.path || !z.name)
                r = err_set(err, ENOMEM, "%s: out of memory", flag);
        else
                r = pol_zone_finish(p, &z, flag, err);
        pol_zone_free_fields(&z);
        return r;
}

static int parse_zone(struct zb_policy *p, const char *flag, const char *v, struct zb_error *err)
{
        _cleanup_(freep) char *copy = strdup(v);
        struct pol_zone z = { .mode = ZB_ZONE_RO };
        bool have_mode = false;
        int r = 0;

        if (!copy)
                return err_set(err, ENOMEM, "%s: out of memory", flag);
        for (char *o = strtok(copy, ","); o && r == 0; o = strtok(NULL, ",")) {
                char *eq = strchr(o, '=');
                if (!eq) {
                        r = err_set(err, EINVAL, "%s: '%s' is not key=value", flag, o);
                        break;
                }
                *eq = '\0';
                have_mode |= strcmp(o, "mode") == 0;
                r = pol_zone_option(&z, o, eq + 1, flag, NULL, err);
        }
        if (r == 0 && !have_mode)
                r = err_set(err, EINVAL, "%s: mode=ro|rw|tmpfs is required", flag);
        if (r == 0)
                r = pol_zone_finish(p, &z, flag, err);
        pol_zone_free_fields(&z);
        return r;
}

static int parse_env(struct zb_policy *p, const char *flag, const char *v, struct zb_error *err)
{
        if (!*v || v[0] == '=')
                return err_set(err, EINVAL, "%s: '%s' is not KEY=VALUE or KEY", flag, v);
        if (strchr(v, '='))
                return pol_set_env(p, v) < 0 ? err_set(err, ENOMEM, "%s: out of memory", flag)
                                                   : 0;
        /* -e KEY passes the host's value, as Docker does; unset stays unset. */
        const char *host = getenv(v);
        if (!host)
                return 0;
        _cleanup_(freep) char *kv = util_asprintf("%s=%s", v, host);
        if (!kv || pol_set_env(p, kv) < 0)
                return err_set(err, ENOMEM, "%s: out of memory", flag);
        return 0;
}

static int parse_secopt(struct zb_policy *p, const char *flag, const char *v, struct zb_error *err)
{
        if (strcmp(v, "no-new-privileges") == 0 || strcmp(v, "no-new-privileges:true") == 0 ||
            strcmp(v, "no-new-privileges=true") == 0)
                return pol_set_key(p, "security.no_new_privileges", "true", flag, NULL, err);
        if (strcmp(v, "no-new-privileges:false") == 0 || strcmp(v, "no-new-privileges=false") == 0)
                return pol_set_key(p, "security.no_new_privileges", "false", flag, NULL, err);
        if (strncmp(v, "seccomp=", 8) == 0 || strncmp(v, "seccomp:", 8) == 0) {
                return pol_set_key(p, "security.seccomp", v + 8, flag, NULL, err);
        }
        if (strncmp(v, "landlock=", 9) == 0)
                return pol_set_key(p, "security.landlock", v + 9, flag, NULL, err);
        return err_set(err, EINVAL,
                            "%s: unsupported option '%s' (no-new-privileges[:true|false], seccomp=PROFILE, landlock=true|false|required)",
                            flag, v);
}

static int parse_ulimit(struct zb_policy *p, const char *flag, const char *v, struct zb_error *err)
{
        _cleanup_(freep) char *copy = strdup(v);
        int r = 0;

        if (!copy)
                return err_set(err, ENOMEM, "%s: out of memory", flag);
        for (char *o = strtok(copy, ","); o && r == 0; o = strtok(NULL, ",")) {
                char *eq = strchr(o, '=');
                if (!eq)
                        return err_set(err, EINVAL, "%s: '%s' is not NAME=VALUE", flag, o);
                *eq++ = '\0';
                /* Docker's soft:hard form: zonebox sets both to one value, so
                 * the two must agree. */
                char *colon = strchr(eq, ':');
                if (colon) {
                        *colon = '\0';
                        if (strcmp(eq, colon + 1) != 0)
                                return err_set(err, EINVAL,
                                                    "%s: %s soft and hard limits must be equal", flag,
                                                    o);
                }
                if (strcmp(o, "fsize") == 0)
                        r = pol_set_key(p, "limits.file_size", eq, flag, NULL, err);
                else if (strcmp(o, "nofile") == 0)
                        r = pol_set_key(p, "limits.open_files", eq, flag, NULL, err);
                else if (strcmp(o, "core") == 0) {
                        if (strcmp(eq, "0") != 0)
                                return err_set(err, EINVAL,
                                                    "%s: core dumps are always off (core=0)", flag);
                } else
                        return err_set(err, EINVAL,
                                            "%s: unsupported limit '%s' (fsize, nofile, core)", flag,
                                            o);
        }
        return r;
}

int zb_policy_apply_flag(struct zb_policy *p, const char *flag, const char *value,
                         struct zb_error *err)
{
        const struct flag *f = flag_find(flag);

        if (!f)
                return err_set(err, ENOENT, "%s: unknown flag", flag);
        if (f->takes_value && !value)
                return err_set(err, EINVAL, "%s: needs a value", flag);
        switch (f->kind) {
        case FLAG_KEY:
                return pol_set_key(p, f->key, value, flag, NULL, err);
        case FLAG_VOLUME:
                return parse_volume(p, flag, value, err);
        case FLAG_TMPFS:
                return parse_tmpfs(p, flag, value, err);
        case FLAG_ZONE:
                return parse_zone(p, flag, value, err);
        case FLAG_ENV:
                return parse_env(p, flag, value, err);
        case FLAG_SECOPT:
                return parse_secopt(p, flag, value, err);
        case FLAG_CAPDROP:
                if (strcasecmp(value, "ALL") != 0)
                        return err_set(err, EINVAL,
                                            "%s: only ALL is supported (zonebox always drops every capability)",
                                            flag);
                return 0;
        case FLAG_ULIMIT:
                return parse_ulimit(p, flag, value, err);
        case FLAG_DOCKER_DEFAULT:
                return 0;
        case FLAG_KEY_TRUE:
                return pol_set_key(p, f->key, "true", flag, NULL, err);
        case FLAG_KEY_NONE:
                return pol_set_key(p, f->key, "none", flag, NULL, err);
        }
        return err_set(err, EINVAL, "%s: unhandled flag", flag);
}
