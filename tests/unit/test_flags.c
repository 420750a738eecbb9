/* Command-line flags (src/core/flags.c) → policy. Every flag of the table is
 * applied with a good value and the policy field it owns is checked; bad
 * values must fail with a message that starts with the flag as given. */
#include <stddef.h>

#include "core/keys.h"
#include "core/policy.h"
#include "test.h"

static struct zb_policy *policy_with(const char *flag, const char *value, int *rc,
                                     struct zb_error *err)
{
        struct zb_policy *p = zb_policy_new();

        memset(err, 0, sizeof(*err));
        *rc = zb_policy_apply_flag(p, flag, value, err);
        return p;
}

static bool starts_with(const char *s, const char *prefix)
{
        return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool streq(const char *a, const char *b)
{
        return a && b ? strcmp(a, b) == 0 : a == b;
}

static char *cwd_join(const char *rel)
{
        char *cwd = getcwd(NULL, 0);
        char *s = cwd ? util_asprintf("%s/%s", cwd, rel) : NULL;
        free(cwd);
        return s;
}

#define U64_AT(p, off) (*(const uint64_t *)((const char *)(p) + (off)))
#define STR_AT(p, off) (*(char *const *)((const char *)(p) + (off)))

TEST(flags_numeric_limits)
{
        static const struct {
                const char *flag, *value;
                size_t off;
                uint64_t want;
        } t[] = {
                { "--memory", "100m", offsetof(struct zb_policy, limits.memory), 100ull << 20 },
                { "-m", "1g", offsetof(struct zb_policy, limits.memory), 1ull << 30 },
                { "--memory-swap", "200m", offsetof(struct zb_policy, limits.memory_swap_total),
                  200ull << 20 },
                { "--memory-swap", "-1", offsetof(struct zb_policy, limits.memory_swap_total),
                  ZB_UNLIMITED },
                { "--cpus", "0.5", offsetof(struct zb_policy, limits.cpus_milli), 500 },
                { "--cpus", "2", offsetof(struct zb_policy, limits.cpus_milli), 2000 },
                { "--pids-limit", "64", offsetof(struct zb_policy, limits.pids), 64 },
                { "--timeout", "10s", offsetof(struct zb_policy, limits.wall_time_ms), 10000 },
                { "--timeout", "2", offsetof(struct zb_policy, limits.wall_time_ms), 2000 },
                { "--cpu-time", "1.5s", offsetof(struct zb_policy, limits.cpu_time_ms), 1500 },
                { "--output-limit", "2m", offsetof(struct zb_policy, limits.output), 2ull << 20 },
                { "--ulimit", "nofile=100", offsetof(struct zb_policy, limits.open_files), 100 },
                { "--ulimit", "nofile=200:200", offsetof(struct zb_policy, limits.open_files), 200 },
                { "--ulimit", "fsize=1k", offsetof(struct zb_policy, limits.file_size), 1024 },
                { "--ulimit", "core=0,nofile=50", offsetof(struct zb_policy, limits.open_files), 50 },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_error err;
                int rc;
                struct zb_policy *p = policy_with(t[i].flag, t[i].value, &rc, &err);
                bool ok = rc == 0 && U64_AT(p, t[i].off) == t[i].want;
                if (!ok)
                        fprintf(stderr, "  %s %s: rc %d value %llu (%s)\n", t[i].flag, t[i].value,
                                rc, (unsigned long long)U64_AT(p, t[i].off), err.message);
                CHECK(ok);
                zb_policy_free(p);
        }
}

TEST(flags_string_fields)
{
        static const struct {
                const char *flag, *value;
                size_t off;
                const char *want;
        } t[] = {
                { "--cgroup-parent", "/zb.slice", offsetof(struct zb_policy, limits.cgroup_parent),
                  "/zb.slice" },
                { "--workdir", "/scratch", offsetof(struct zb_policy, workdir), "/scratch" },
                { "-w", "/w", offsetof(struct zb_policy, workdir), "/w" },
                { "--hostname", "box", offsetof(struct zb_policy, hostname), "box" },
                { "--rootfs", "/srv/root", offsetof(struct zb_policy, rootfs), "/srv/root" },
                { "--rootfs", "/srv//x/../root2/", offsetof(struct zb_policy, rootfs),
                  "/srv/root2" },
                { "--rootfs", "host", offsetof(struct zb_policy, rootfs), NULL },
                { "--seccomp", "unconfined", offsetof(struct zb_policy, security.seccomp),
                  "unconfined" },
                { "--security-opt", "seccomp=unconfined",
                  offsetof(struct zb_policy, security.seccomp), "unconfined" },
                { "--security-opt", "seccomp:default", offsetof(struct zb_policy, security.seccomp),
                  "default" },
                { "--security-opt", "seccomp=/etc/p.json",
                  offsetof(struct zb_policy, security.seccomp), "/etc/p.json" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_error err;
                int rc;
                struct zb_policy *p = policy_with(t[i].flag, t[i].value, &rc, &err);
                bool ok = rc == 0 && streq(STR_AT(p, t[i].off), t[i].want);
                if (!ok)
                        fprintf(stderr, "  %s %s: rc %d value '%s' (%s)\n", t[i].flag, t[i].value,
                                rc, STR_AT(p, t[i].off) ? STR_AT(p, t[i].off) : "(null)",
                                err.message);
                CHECK(ok);
                zb_policy_free(p);
        }
}

TEST(flags_rootfs_host_resets)
{
        struct zb_error err = { 0 };
        struct zb_policy *p = zb_policy_new();

        CHECK(zb_policy_apply_flag(p, "--rootfs", "/srv/root", &err) == 0);
        CHECK(streq(p->rootfs, "/srv/root"));
        CHECK(zb_policy_apply_flag(p, "--rootfs", "host", &err) == 0);
        CHECK(p->rootfs == NULL);
        zb_policy_free(p);
}

TEST(flags_enums)
{
        static const struct {
                const char *flag, *value;
                int network, backend, landlock; /* -1: not checked */
        } t[] = {
                { "--network", "none", ZB_NET_NONE, -1, -1 },
                { "--network", "loopback", ZB_NET_LOOPBACK, -1, -1 },
                { "--network", "host", ZB_NET_HOST, -1, -1 },
                { "--net", "loopback", ZB_NET_LOOPBACK, -1, -1 },
                { "--backend", "namespace", -1, ZB_BACKEND_NAMESPACE, -1 },
                { "--backend", "docker", -1, ZB_BACKEND_DOCKER, -1 },
                { "--backend", "oci", -1, ZB_BACKEND_OCI, -1 },
                { "--backend", "kubernetes", -1, ZB_BACKEND_KUBERNETES, -1 },
                { "--landlock", "required", -1, -1, ZB_LANDLOCK_REQUIRED },
                { "--landlock", "true", -1, -1, ZB_LANDLOCK_BEST_EFFORT },
                { "--landlock", "false", -1, -1, ZB_LANDLOCK_OFF },
                { "--security-opt", "landlock=required", -1, -1, ZB_LANDLOCK_REQUIRED },
                { "--security-opt", "landlock=on", -1, -1, ZB_LANDLOCK_BEST_EFFORT },
                { "--security-opt", "landlock=false", -1, -1, ZB_LANDLOCK_OFF },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_error err = { 0 };
                struct zb_policy *p = zb_policy_new();

                /* Start away from the expected value so that a flag doing
                 * nothing cannot pass. */
                p->network = t[i].network == ZB_NET_HOST ? ZB_NET_NONE : ZB_NET_HOST;
                p->backend = t[i].backend == ZB_BACKEND_OCI ? ZB_BACKEND_DOCKER : ZB_BACKEND_OCI;
                p->security.landlock = t[i].landlock == ZB_LANDLOCK_REQUIRED ? ZB_LANDLOCK_OFF
                                                                             : ZB_LANDLOCK_REQUIRED;
                int rc = zb_policy_apply_flag(p, t[i].flag, t[i].value, &err);
                bool ok = rc == 0 && (t[i].network < 0 || (int)p->network == t[i].network) &&
                          (t[i].backend < 0 || (int)p->backend == t[i].backend) &&
                          (t[i].landlock < 0 || (int)p->security.landlock == t[i].landlock);
                if (!ok)
                        fprintf(stderr, "  %s %s: rc %d (%s)\n", t[i].flag, t[i].value, rc,
                                err.message);
                CHECK(ok);
                zb_policy_free(p);
        }
}

TEST(flags_user)
{
        static const struct {
                const char *flag, *value;
                uid_t uid;
                gid_t gid;
        } t[] = {
                { "--user", "0", 0, 0 },
                { "-u", "1000:2000", 1000, 2000 },
                { "--user", "65535", 65535, 65535 },
                { "--user", "5:0", 5, 0 },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_error err;
                int rc;
                struct zb_policy *p = policy_with(t[i].flag, t[i].value, &rc, &err);
                bool ok = rc == 0 && p->security.user_set && p->security.uid == t[i].uid &&
                          p->security.gid == t[i].gid;
                if (!ok)
                        fprintf(stderr, "  %s %s: rc %d uid %u gid %u (%s)\n", t[i].flag,
                                t[i].value, rc, (unsigned)p->security.uid,
                                (unsigned)p->security.gid, err.message);
                CHECK(ok);
                zb_policy_free(p);
        }
}

TEST(flags_no_new_privileges)
{
        static const struct {
                const char *value;
                bool want;
        } t[] = {
                { "no-new-privileges:false", false }, { "no-new-privileges", true },
                { "no-new-privileges=false", false }, { "no-new-privileges:true", true },
                { "no-new-privileges=false", false }, { "no-new-privileges=true", true },
        };
        struct zb_policy *p = zb_policy_new();

        CHECK(p->security.no_new_privileges); /* the default */
        /* One policy through the whole table: each row flips the value. */
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_error err = { 0 };
                int rc = zb_policy_apply_flag(p, "--security-opt", t[i].value, &err);
                bool ok = rc == 0 && p->security.no_new_privileges == t[i].want;
                if (!ok)
                        fprintf(stderr, "  --security-opt %s: rc %d (%s)\n", t[i].value, rc,
                                err.message);
                CHECK(ok);
        }
        zb_policy_free(p);
}

TEST(flags_seccomp_relative_profile)
{
        struct zb_error err;
        int rc;
        struct zb_policy *p = policy_with("--security-opt", "seccomp=prof/p.json", &rc, &err);
        char *want = cwd_join("prof/p.json");

        CHECK(rc == 0);
        CHECK(streq(p->security.seccomp, want));
        free(want);
        zb_policy_free(p);
}

/* Flags that are accepted and change nothing: the policy already does it. */
TEST(flags_accepted_noops)
{
        static const struct {
                const char *flag, *value;
        } t[] = {
                { "--read-only", NULL }, { "--rm", NULL },       { "--init", NULL },
                { "--cap-drop", "ALL" }, { "--cap-drop", "all" }, { "--ulimit", "core=0" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_error err;
                int rc;
                struct zb_policy *p = policy_with(t[i].flag, t[i].value, &rc, &err);
                struct zb_policy *fresh = zb_policy_new();
                bool ok = rc == 0 && p->n_zones == 0 && p->n_env == 0 &&
                          memcmp(&p->limits, &fresh->limits, sizeof(p->limits)) == 0 &&
                          p->security.no_new_privileges && p->network == ZB_NET_NONE;
                if (!ok)
                        fprintf(stderr, "  %s %s: rc %d (%s)\n", t[i].flag,
                                t[i].value ? t[i].value : "", rc, err.message);
                CHECK(ok);
                zb_policy_free(fresh);
                zb_policy_free(p);
        }
}

TEST(flags_zones)
{
        char *rel_d = cwd_join("d");
        char *rel_in = cwd_join("in");
        const struct {
                const char *flag, *value;
                const char *name, *host, *path;
                enum pol_zone_mode mode;
                uint64_t size;
        } t[] = {
                { "-v", "/host/d:/data:ro", "data", "/host/d", "/data", ZB_ZONE_RO, 0 },
                { "--volume", "/host/d:/data:rw", "data", "/host/d", "/data", ZB_ZONE_RW, 0 },
                { "-v", "/host/d:/data", "data", "/host/d", "/data", ZB_ZONE_RW, 0 },
                { "-v", "./d:/data/in", "data-in", rel_d, "/data/in", ZB_ZONE_RW, 0 },
                { "-v", "/h//x/../d/:/out:ro,rw", "out", "/h/d", "/out", ZB_ZONE_RW, 0 },
                { "--tmpfs", "/scratch", "scratch", NULL, "/scratch", ZB_ZONE_TMPFS,
                  DEFAULT_TMPFS_ZONE_BYTES },
                { "--tmpfs", "/scratch:size=10m", "scratch", NULL, "/scratch", ZB_ZONE_TMPFS,
                  10ull << 20 },
                { "--tmpfs", "/s/t:rw,size=1k", "s-t", NULL, "/s/t", ZB_ZONE_TMPFS, 1024 },
                { "--zone", "name=input,mode=ro,hostPath=/srv/in", "input", "/srv/in", "/input",
                  ZB_ZONE_RO, 0 },
                { "--zone", "name=o,mode=rw,host_path=in,path=/out", "o", rel_in, "/out",
                  ZB_ZONE_RW, 0 },
                { "--zone", "name=s,mode=tmpfs,size=8m,path=/tmp/s", "s", NULL, "/tmp/s",
                  ZB_ZONE_TMPFS, 8ull << 20 },
                { "--zone", "mode=tmpfs,name=t", "t", NULL, "/t", ZB_ZONE_TMPFS,
                  DEFAULT_TMPFS_ZONE_BYTES },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_error err;
                int rc;
                struct zb_policy *p = policy_with(t[i].flag, t[i].value, &rc, &err);
                const struct pol_zone *z = p->n_zones == 1 ? &p->zones[0] : NULL;
                bool ok = rc == 0 && z && streq(z->name, t[i].name) &&
                          streq(z->host_path, t[i].host) && streq(z->path, t[i].path) &&
                          z->mode == t[i].mode && z->size == t[i].size;
                if (!ok)
                        fprintf(stderr,
                                "  %s %s: rc %d zones %zu name '%s' host '%s' path '%s' mode %d size %llu (%s)\n",
                                t[i].flag, t[i].value, rc, p->n_zones, z ? z->name : "",
                                z && z->host_path ? z->host_path : "(null)", z ? z->path : "",
                                z ? (int)z->mode : -1, z ? (unsigned long long)z->size : 0ull,
                                err.message);
                CHECK(ok);
                zb_policy_free(p);
        }
        free(rel_d);
        free(rel_in);
}

TEST(flags_volume_same_mount_point_replaces)
{
        struct zb_error err = { 0 };
        struct zb_policy *p = zb_policy_new();
        static const char yaml[] = "sandbox:\n  zones:\n    - {name: data, mode: ro, hostPath: /a}\n";

        /* A flag replaces the config file's zone on the same mount point... */
        CHECK(pol_load_yaml_buffer(p, yaml, sizeof(yaml) - 1, "t.yaml", "/", &err) == 0);
        CHECK(zb_policy_apply_flag(p, "-v", "/keep:/other", &err) == 0);
        CHECK(zb_policy_apply_flag(p, "-v", "/b:/data", &err) == 0);
        CHECK(p->n_zones == 2);
        CHECK(streq(p->zones[0].path, "/data"));
        CHECK(streq(p->zones[0].host_path, "/b"));
        CHECK(p->zones[0].mode == ZB_ZONE_RW);
        CHECK(streq(p->zones[1].host_path, "/keep"));

        /* ...but two flags on one mount point are both kept, and refused. */
        CHECK(zb_policy_apply_flag(p, "--tmpfs", "/data:size=1m", &err) == 0);
        CHECK(p->n_zones == 3);
        CHECK(p->zones[2].mode == ZB_ZONE_TMPFS);
        zb_policy_free(p);
}

TEST(flags_env)
{
        struct zb_error err = { 0 };
        struct zb_policy *p = zb_policy_new();

        CHECK(zb_policy_apply_flag(p, "-e", "A=1", &err) == 0);
        CHECK(zb_policy_apply_flag(p, "--env", "AB=x=y", &err) == 0);
        CHECK(zb_policy_apply_flag(p, "-e", "EMPTY=", &err) == 0);
        CHECK(zb_policy_apply_flag(p, "-e", "A=2", &err) == 0); /* replaces A=1 */
        CHECK(p->n_env == 3);
        CHECK(streq(p->env[0], "A=2"));
        CHECK(streq(p->env[1], "AB=x=y"));
        CHECK(streq(p->env[2], "EMPTY="));

        /* -e KEY copies the host's value; an unset KEY stays unset. */
        setenv("ZB_UNIT_FROM_HOST", "host value", 1);
        unsetenv("ZB_UNIT_NOT_SET");
        CHECK(zb_policy_apply_flag(p, "-e", "ZB_UNIT_FROM_HOST", &err) == 0);
        CHECK(zb_policy_apply_flag(p, "-e", "ZB_UNIT_NOT_SET", &err) == 0);
        CHECK(p->n_env == 4);
        CHECK(streq(p->env[3], "ZB_UNIT_FROM_HOST=host value"));
        for (size_t i = 0; i < p->n_env; i++)
                CHECK(strncmp(p->env[i], "ZB_UNIT_NOT_SET", 15) != 0);
        unsetenv("ZB_UNIT_FROM_HOST");
        zb_policy_free(p);
}

TEST(flags_bad_values)
{
        static const struct {
                const char *flag, *value;
                int rc;             /* expected; 0 here means any negative */
                const char *detail; /* also in the message, or NULL */
        } t[] = {
                { "--memory", "12x", -EINVAL, "12x" },
                { "-m", "", -EINVAL, NULL },
                { "--memory", NULL, -EINVAL, "needs a value" },
                { "--memory-swap", "abc", -EINVAL, "abc" },
                { "--cpus", "0", -EINVAL, NULL },
                { "--cpus", "-1", -EINVAL, NULL },
                { "--cpus", "abc", -EINVAL, NULL },
                { "--pids-limit", "0", -EINVAL, NULL },
                { "--pids-limit", "4194305", -EINVAL, NULL },
                { "--pids-limit", "many", -EINVAL, NULL },
                { "--timeout", "10x", -EINVAL, "10x" },
                { "--timeout", "", -EINVAL, NULL },
                { "--cpu-time", ".5s", -EINVAL, NULL },
                { "--output-limit", "0", -EINVAL, NULL },
                { "--output-limit", "unlimited", -EINVAL, NULL },
                { "--cgroup-parent", "a/../b", -EINVAL, NULL },
                { "--cgroup-parent", "", -EINVAL, NULL },
                { "--workdir", "rel", -EINVAL, NULL },
                { "-w", "", -EINVAL, NULL },
                { "--user", "abc", -EINVAL, "abc" },
                { "-u", "70000", -EINVAL, "70000" },
                { "--user", "1000:70000", -EINVAL, NULL },
                { "--user", "1000:", -EINVAL, NULL },
                { "--user", "-1", -EINVAL, NULL },
                { "--user", "", -EINVAL, NULL },
                { "--rootfs", "", -EINVAL, NULL },
                { "--backend", "bogus", -EINVAL, "bogus" },
                { "--seccomp", "", -EINVAL, NULL },
                { "--landlock", "maybe", -EINVAL, "maybe" },
                { "--network", "bogus", -EINVAL, "bogus" },
                { "--net", "", -EINVAL, NULL },
                { "-v", "nocolon", -EINVAL, "nocolon" },
                { "-v", ":/x", -EINVAL, NULL },
                { "-v", "./d:", -EINVAL, NULL },
                { "-v", "./d:x", -EINVAL, "must be absolute" },
                { "--volume", "./d:data:ro", -EINVAL, "must be absolute" },
                { "-v", "./d:/x:zz", -EINVAL, "zz" },
                { "-v", "./d:/x:ro,zz", -EINVAL, "zz" },
                { "--tmpfs", "/s:size=abc", -EINVAL, "abc" },
                { "--tmpfs", "/s:size=0", -EINVAL, NULL },
                { "--tmpfs", "/s:bogus", -EINVAL, "bogus" },
                { "--tmpfs", "scratch", -EINVAL, "must be absolute" },
                { "--tmpfs", "", -EINVAL, NULL },
                { "--zone", "name=x,hostPath=/a", -EINVAL, "mode" },
                { "--zone", "name=x,mode=ro,colour=red", -EINVAL, "colour" },
                { "--zone", "name=x,mode=zz", -EINVAL, "zz" },
                { "--zone", "mode=tmpfs", -EINVAL, "name" },
                { "--zone", "name=x,mode=tmpfs,size=abc", -EINVAL, "abc" },
                { "--zone", "name=x,mode=ro,path=rel", -EINVAL, "rel" },
                { "--zone", "justtext", -EINVAL, "justtext" },
                { "--zone", "", -EINVAL, NULL },
                { "-e", "", -EINVAL, NULL },
                { "--env", "=x", -EINVAL, NULL },
                { "--security-opt", "apparmor=unconfined", -EINVAL, "apparmor" },
                { "--security-opt", "seccomp=", -EINVAL, NULL },
                { "--security-opt", "landlock=maybe", -EINVAL, "maybe" },
                { "--security-opt", "no-new-privileges:maybe", -EINVAL, NULL },
                { "--cap-drop", "NET_RAW", -EINVAL, "ALL" },
                { "--cap-drop", "", -EINVAL, NULL },
                { "--ulimit", "nproc=10", -EINVAL, "nproc" },
                { "--ulimit", "nofile=100:200", -EINVAL, "nofile" },
                { "--ulimit", "nofile", -EINVAL, NULL },
                { "--ulimit", "nofile=0", -EINVAL, NULL },
                { "--ulimit", "nofile=1048577", -EINVAL, NULL },
                { "--ulimit", "fsize=12x", -EINVAL, NULL },
                { "--ulimit", "core=1", -EINVAL, "core" },
                { "--runtime", "run sc", -EINVAL, "run sc" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_error err;
                int rc;
                struct zb_policy *p = policy_with(t[i].flag, t[i].value, &rc, &err);
                char prefix[64];

                snprintf(prefix, sizeof(prefix), "%s:", t[i].flag);
                bool ok = (t[i].rc ? rc == t[i].rc : rc < 0) && err.code == rc &&
                          starts_with(err.message, prefix) &&
                          (!t[i].detail || strstr(err.message, t[i].detail));
                if (!ok)
                        fprintf(stderr, "  %s '%s': rc %d code %d message '%s'\n", t[i].flag,
                                t[i].value ? t[i].value : "(null)", rc, err.code, err.message);
                CHECK(ok);
                zb_policy_free(p);
        }
}

/* A rejected zone flag leaves no zone behind. */
TEST(flags_bad_zone_adds_nothing)
{
        static const struct {
                const char *flag, *value;
        } t[] = {
                { "-v", "./d:/x:zz" }, { "--tmpfs", "/s:size=abc" },
                { "--zone", "name=x,mode=ro,colour=red" }, { "--zone", "name=x,hostPath=/a" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_error err;
                int rc;
                struct zb_policy *p = policy_with(t[i].flag, t[i].value, &rc, &err);
                CHECK(rc < 0);
                CHECK(p->n_zones == 0);
                zb_policy_free(p);
        }
}

TEST(flags_unknown)
{
        static const char *const t[] = { "--bogus", "-x", "", "--", "-", "--Memory", "memory",
                                         "--memory=100m", "--volumes", "--cap-add" };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_error err;
                int rc;
                struct zb_policy *p = policy_with(t[i], "x", &rc, &err);
                char prefix[64];

                snprintf(prefix, sizeof(prefix), "%s:", t[i]);
                bool ok = rc == -ENOENT && err.code == -ENOENT && starts_with(err.message, prefix);
                if (!ok)
                        fprintf(stderr, "  unknown flag '%s': rc %d message '%s'\n", t[i], rc,
                                err.message);
                CHECK(ok);
                zb_policy_free(p);
        }
}

TEST(flags_takes_value)
{
        static const struct {
                const char *flag;
                int want;
        } t[] = {
                { "--network", 1 },      { "--net", 1 },          { "--memory", 1 },
                { "-m", 1 },             { "--memory-swap", 1 },  { "--cpus", 1 },
                { "--pids-limit", 1 },   { "--timeout", 1 },      { "--cpu-time", 1 },
                { "--output-limit", 1 }, { "--cgroup-parent", 1 }, { "--workdir", 1 },
                { "-w", 1 },             { "--user", 1 },         { "-u", 1 },
                { "--hostname", 1 },     { "--rootfs", 1 },       { "--backend", 1 },
                { "--seccomp", 1 },      { "--landlock", 1 },     { "--volume", 1 },
                { "-v", 1 },             { "--tmpfs", 1 },        { "--zone", 1 },
                { "--env", 1 },          { "-e", 1 },             { "--security-opt", 1 },
                { "--cap-drop", 1 },     { "--ulimit", 1 },       { "--runtime", 1 },
                { "--read-only", 0 },    { "--rm", 0 },           { "--init", 0 },
                { "--bogus", -1 },       { "", -1 },              { "--", -1 },
                { "-", -1 },             { "--MEMORY", -1 },      { "-M", -1 },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                int got = zb_flag_takes_value(t[i].flag);
                if (got != t[i].want)
                        fprintf(stderr, "  zb_flag_takes_value(\"%s\") = %d, want %d\n", t[i].flag,
                                got, t[i].want);
                CHECK(got == t[i].want);
        }
}
