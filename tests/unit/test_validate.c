/* zb_policy_validate (src/core/policy.c) for every bad input, built directly
 * in struct zb_policy where the parsers would refuse it; plus path
 * normalisation and the command's environment. Host directories come from
 * mkdtemp and are removed at the end of each test. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "core/policy.h"
#include "test.h"

static bool streq(const char *a, const char *b)
{
        return a && b ? strcmp(a, b) == 0 : a == b;
}

/* A scratch tree: DIR/in, DIR/out (directories) and DIR/file. */
struct tree {
        char dir[64];
        char in[96], out[96], file[96], missing[96];
};

static bool tree_make(struct tree *t)
{
        snprintf(t->dir, sizeof(t->dir), "/tmp/zb-unit-validate-XXXXXX");
        if (!mkdtemp(t->dir))
                return false;
        snprintf(t->in, sizeof(t->in), "%s/in", t->dir);
        snprintf(t->out, sizeof(t->out), "%s/out", t->dir);
        snprintf(t->file, sizeof(t->file), "%s/file", t->dir);
        snprintf(t->missing, sizeof(t->missing), "%s/missing", t->dir);
        int fd = open(t->file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
                close(fd);
        return mkdir(t->in, 0700) == 0 && mkdir(t->out, 0700) == 0 && fd >= 0;
}

static void tree_remove(struct tree *t)
{
        unlink(t->file);
        rmdir(t->in);
        rmdir(t->out);
        rmdir(t->dir);
}

static struct zb_policy *policy_with_command(void)
{
        static char *const argv[] = { "true", NULL };
        struct zb_error err = { 0 };
        struct zb_policy *p = zb_policy_new();

        if (p && zb_policy_set_command(p, 1, argv, &err) < 0) {
                zb_policy_free(p);
                return NULL;
        }
        return p;
}

static void add_zone(struct zb_policy *p, const char *name, enum pol_zone_mode mode,
                     const char *host, const char *path, uint64_t size)
{
        struct pol_zone z = {
                .name = (char *)name, .mode = mode, .host_path = (char *)host,
                .path = (char *)path, .size = size,
        };
        struct zb_error err = { 0 };
        CHECK(pol_add_zone(p, &z, &err) == 0);
}

/* Set a field behind the parsers' back. */
static void set_str(char **field, const char *v)
{
        free(*field);
        *field = v ? strdup(v) : NULL;
}

/* One bad policy per row: SETUP breaks a valid policy, validation must fail
 * with RC and a message containing MSG. */
struct bad_case {
        const char *what;
        void (*setup)(struct zb_policy *p, const struct tree *t, const char *arg);
        const char *arg;
        int rc;
        const char *msg;
};

static void no_command(struct zb_policy *p, const struct tree *t, const char *arg)
{
        (void)t, (void)arg;
        for (size_t i = 0; i < p->argc; i++)
                free(p->argv[i]);
        free(p->argv);
        p->argv = NULL;
        p->argc = 0;
}

static void ro_zone_host(struct zb_policy *p, const struct tree *t, const char *which)
{
        const char *host = strcmp(which, "missing") == 0 ? t->missing
                           : strcmp(which, "file") == 0  ? t->file
                                                         : NULL;
        add_zone(p, "in", ZB_ZONE_RO, host, "/input", 0);
}

static void rw_zone_no_host(struct zb_policy *p, const struct tree *t, const char *arg)
{
        (void)t, (void)arg;
        add_zone(p, "out", ZB_ZONE_RW, NULL, "/output", 0);
}

static void ro_zone_with_size(struct zb_policy *p, const struct tree *t, const char *arg)
{
        (void)arg;
        add_zone(p, "in", ZB_ZONE_RO, t->in, "/input", 1024);
}

static void tmpfs_with_host(struct zb_policy *p, const struct tree *t, const char *arg)
{
        (void)arg;
        add_zone(p, "s", ZB_ZONE_TMPFS, t->in, "/s", 1024);
}

static void tmpfs_size_zero(struct zb_policy *p, const struct tree *t, const char *arg)
{
        (void)t, (void)arg;
        add_zone(p, "s", ZB_ZONE_TMPFS, NULL, "/s", 0);
}

/* A tmpfs zone mounted at ARG, bypassing the parsers' checks. */
static void zone_at(struct zb_policy *p, const struct tree *t, const char *path)
{
        (void)t;
        add_zone(p, "z", ZB_ZONE_TMPFS, NULL, "/placeholder", 1024);
        set_str(&p->zones[p->n_zones - 1].path, path);
}

static void zone_named(struct zb_policy *p, const struct tree *t, const char *name)
{
        (void)t;
        add_zone(p, "placeholder", ZB_ZONE_TMPFS, NULL, "/z", 1024);
        set_str(&p->zones[p->n_zones - 1].name, name);
}

static void same_mount_point(struct zb_policy *p, const struct tree *t, const char *arg)
{
        (void)arg;
        add_zone(p, "a", ZB_ZONE_RO, t->in, "/data", 0);
        add_zone(p, "b", ZB_ZONE_RW, t->out, "/other", 0);
        set_str(&p->zones[1].path, "/data"); /* add_zone would have replaced */
}

static void nested(struct zb_policy *p, const struct tree *t, const char *order)
{
        bool outer_first = strcmp(order, "outer-first") == 0;
        add_zone(p, "a", ZB_ZONE_RO, t->in, outer_first ? "/data" : "/data/in", 0);
        add_zone(p, "b", ZB_ZONE_TMPFS, NULL, outer_first ? "/data/in" : "/data", 1024);
}

static void same_name(struct zb_policy *p, const struct tree *t, const char *arg)
{
        (void)arg;
        add_zone(p, "a", ZB_ZONE_RO, t->in, "/x", 0);
        add_zone(p, "a", ZB_ZONE_TMPFS, NULL, "/y", 1024);
}

static void too_many_zones(struct zb_policy *p, const struct tree *t, const char *arg)
{
        (void)t, (void)arg;
        for (int i = 0; i <= ZB_MAX_ZONES; i++) {
                char name[16], path[16];
                snprintf(name, sizeof(name), "z%d", i);
                snprintf(path, sizeof(path), "/z%d", i);
                add_zone(p, name, ZB_ZONE_TMPFS, NULL, path, 1024);
        }
}

static void workdir(struct zb_policy *p, const struct tree *t, const char *w)
{
        (void)t;
        set_str(&p->workdir, w);
}

static void env_entry(struct zb_policy *p, const struct tree *t, const char *kv)
{
        (void)t;
        CHECK(pol_set_env(p, kv) == 0);
}

static void hostname(struct zb_policy *p, const struct tree *t, const char *h)
{
        (void)t;
        set_str(&p->hostname, h);
}

static void rootfs(struct zb_policy *p, const struct tree *t, const char *which)
{
        set_str(&p->rootfs, strcmp(which, "file") == 0 ? t->file : t->missing);
}

static void zero_open_files(struct zb_policy *p, const struct tree *t, const char *arg)
{
        (void)t, (void)arg;
        p->limits.open_files = 0;
}

static void zero_output(struct zb_policy *p, const struct tree *t, const char *arg)
{
        (void)t, (void)arg;
        p->limits.output = 0;
}

#define NAME65 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct bad_case bad_cases[] = {
        { "empty command", no_command, NULL, -EINVAL, "command" },
        { "hostPath missing", ro_zone_host, "missing", -ENOENT, "hostPath" },
        { "hostPath is a file", ro_zone_host, "file", -ENOTDIR, "not a directory" },
        { "ro zone without hostPath", ro_zone_host, "none", -EINVAL, "hostPath is required" },
        { "rw zone without hostPath", rw_zone_no_host, NULL, -EINVAL, "hostPath is required" },
        { "ro zone with a size", ro_zone_with_size, NULL, -EINVAL, "size" },
        { "tmpfs zone with hostPath", tmpfs_with_host, NULL, -EINVAL, "hostPath" },
        { "tmpfs zone of size 0", tmpfs_size_zero, NULL, -EINVAL, "size" },
        { "two zones, one mount point", same_mount_point, NULL, -EINVAL, "/data" },
        { "nested, outer first", nested, "outer-first", -EINVAL, "nested" },
        { "nested, inner first", nested, "inner-first", -EINVAL, "nested" },
        { "zone name used twice", same_name, NULL, -EINVAL, "twice" },
        { "relative mount point", zone_at, "data", -EINVAL, "absolute" },
        { "empty mount point", zone_at, "", -EINVAL, "absolute" },
        { "mount point with ..", zone_at, "/data/../etc", -EINVAL, "normalized" },
        { "mount point with .", zone_at, "/data/./x", -EINVAL, "normalized" },
        { "mount point with //", zone_at, "/data//x", -EINVAL, "normalized" },
        { "mount point ends in /", zone_at, "/data/", -EINVAL, "normalized" },
        { "mount point ..", zone_at, "/..", -EINVAL, "normalized" },
        { "mount point /", zone_at, "/", -EINVAL, "over /" },
        { "mount point /usr", zone_at, "/usr", -EINVAL, "system dir" },
        { "mount point /usr/lib", zone_at, "/usr/lib", -EINVAL, "system dir" },
        { "mount point /usr/local/bin", zone_at, "/usr/local/bin", -EINVAL, "system dir" },
        { "mount point /etc", zone_at, "/etc", -EINVAL, "system dir" },
        { "mount point /etc/ssl", zone_at, "/etc/ssl", -EINVAL, "system dir" },
        { "mount point /proc", zone_at, "/proc", -EINVAL, "system dir" },
        { "mount point /proc/self", zone_at, "/proc/self", -EINVAL, "system dir" },
        { "mount point /dev", zone_at, "/dev", -EINVAL, "system dir" },
        { "mount point /dev/shm", zone_at, "/dev/shm", -EINVAL, "system dir" },
        { "mount point /sys", zone_at, "/sys", -EINVAL, "system dir" },
        { "mount point /bin", zone_at, "/bin", -EINVAL, "system dir" },
        { "mount point /sbin", zone_at, "/sbin", -EINVAL, "system dir" },
        { "mount point /lib", zone_at, "/lib", -EINVAL, "system dir" },
        { "mount point /lib64", zone_at, "/lib64", -EINVAL, "system dir" },
        { "mount point /lib32/x", zone_at, "/lib32/x", -EINVAL, "system dir" },
        { "empty zone name", zone_named, "", -EINVAL, "name" },
        { "zone name with space", zone_named, "a b", -EINVAL, "name" },
        { "zone name with slash", zone_named, "a/b", -EINVAL, "name" },
        { "zone name ../x", zone_named, "../x", -EINVAL, "name" },
        { "zone name with newline", zone_named, "a\nb", -EINVAL, "name" },
        { "zone name of 65 chars", zone_named, NAME65, -EINVAL, "name" },
        { "no zone name", zone_named, NULL, -EINVAL, "name" },
        { "too many zones", too_many_zones, NULL, -E2BIG, "at most" },
        { "relative workdir", workdir, "rel", -EINVAL, "workdir" },
        { "empty workdir", workdir, "", -EINVAL, "workdir" },
        { "workdir with ..", workdir, "/a/../b", -EINVAL, "workdir" },
        { "workdir with //", workdir, "/a//b", -EINVAL, "workdir" },
        { "workdir ends in /", workdir, "/a/", -EINVAL, "workdir" },
        { "workdir with .", workdir, "/./a", -EINVAL, "workdir" },
        { "env without =", env_entry, "NOEQ", -EINVAL, "NOEQ" },
        { "env with empty key", env_entry, "=x", -EINVAL, "env" },
        { "empty hostname", hostname, "", -EINVAL, "hostname" },
        { "hostname of 65 chars", hostname, NAME65, -EINVAL, "hostname" },
        { "rootfs missing", rootfs, "missing", -ENOENT, "rootfs" },
        { "rootfs is a file", rootfs, "file", -ENOTDIR, "rootfs" },
        { "open_files 0", zero_open_files, NULL, -EINVAL, "open_files" },
        { "output 0", zero_output, NULL, -EINVAL, "output" },
};

TEST(validate_bad_policies)
{
        struct tree t;

        CHECK(tree_make(&t));
        for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
                const struct bad_case *c = &bad_cases[i];
                struct zb_error err = { 0 };
                struct zb_policy *p = policy_with_command();

                c->setup(p, &t, c->arg);
                int rc = zb_policy_validate(p, &err);
                bool ok = rc == c->rc && err.code == rc && strstr(err.message, c->msg);
                if (!ok)
                        fprintf(stderr, "  %s: rc %d message '%s', want %d '%s'\n", c->what, rc,
                                err.message, c->rc, c->msg);
                CHECK(ok);
                zb_policy_free(p);
        }
        tree_remove(&t);
}

/* Everything a valid policy may hold, at the edges of what is allowed. */
TEST(validate_good_policy)
{
        struct tree t;
        struct zb_error err = { 0 };
        struct zb_policy *p = policy_with_command();

        CHECK(tree_make(&t));
        add_zone(p, "input", ZB_ZONE_RO, t.in, "/input", 0);
        add_zone(p, "output", ZB_ZONE_RW, t.out, "/output", 0);
        add_zone(p, "scratch", ZB_ZONE_TMPFS, NULL, "/scratch", 1ull << 20);
        add_zone(p, "Z_9.-", ZB_ZONE_TMPFS, NULL, "/usrlocal", 1); /* not under /usr */
        add_zone(p, "a", ZB_ZONE_TMPFS, NULL, "/data-in", 1);
        add_zone(p, "b", ZB_ZONE_TMPFS, NULL, "/data", 1);       /* /data-in is not inside */
        add_zone(p, "c", ZB_ZONE_TMPFS, NULL, "/home/user/x", 1);
        add_zone(p, "d", ZB_ZONE_TMPFS, NULL, "/libexec2", 1);
        add_zone(p, NAME65 + 1, ZB_ZONE_TMPFS, NULL, "/tmp", 1); /* 64 chars */
        set_str(&p->workdir, "/scratch");
        set_str(&p->hostname, "box");
        set_str(&p->rootfs, t.dir);
        CHECK(pol_set_env(p, "A=1") == 0);
        CHECK(pol_set_env(p, "EMPTY=") == 0);
        int rc = zb_policy_validate(p, &err);
        if (rc < 0)
                fprintf(stderr, "  %s\n", err.message);
        CHECK(rc == 0);
        CHECK(err.code == 0);
        zb_policy_free(p);

        /* The defaults plus a command are valid. */
        p = policy_with_command();
        CHECK(zb_policy_validate(p, &err) == 0);
        zb_policy_free(p);

        /* Exactly ZB_MAX_ZONES zones are fine. */
        p = policy_with_command();
        for (int i = 0; i < ZB_MAX_ZONES; i++) {
                char name[16], path[16];
                snprintf(name, sizeof(name), "z%d", i);
                snprintf(path, sizeof(path), "/z%d", i);
                add_zone(p, name, ZB_ZONE_TMPFS, NULL, path, 1024);
        }
        CHECK(p->n_zones == ZB_MAX_ZONES);
        CHECK(zb_policy_validate(p, &err) == 0);
        zb_policy_free(p);
        tree_remove(&t);
}

/* The policies the flag parsers build are checked the same way. */
TEST(validate_policies_from_flags)
{
        static const struct {
                const char *flag, *value, *msg;
        } t[] = {
                { "-v", "/nonexistent-zb-unit:/data", "hostPath" },
                { "-v", "/tmp:/data/", "normalized" },
                { "-v", "/tmp:/usr/local", "system dir" },
                { "--tmpfs", "/", "over /" },
                { "--tmpfs", "/etc", "system dir" },
                { "--zone", "name=x,mode=ro,path=/x", "hostPath is required" },
                { "--zone", "name=x,mode=tmpfs,hostPath=/tmp", "hostPath" },
                { "--zone", "name=x,mode=ro,hostPath=/tmp,size=1m", "size" },
                { "--zone", "name=a b,mode=tmpfs", "name" },
                { "-w", "/a/./b", "workdir" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_error err = { 0 };
                struct zb_policy *p = policy_with_command();
                int r = zb_policy_apply_flag(p, t[i].flag, t[i].value, &err);
                CHECK(r == 0);
                r = zb_policy_validate(p, &err);
                bool ok = r < 0 && strstr(err.message, t[i].msg);
                if (!ok)
                        fprintf(stderr, "  %s %s: rc %d message '%s', want '%s'\n", t[i].flag,
                                t[i].value, r, err.message, t[i].msg);
                CHECK(ok);
                zb_policy_free(p);
        }
}

TEST(validate_path_absolute)
{
        static const struct {
                const char *base, *path, *want;
        } t[] = {
                { "/base", "a/../b", "/base/b" },
                { NULL, "/x//y/./z", "/x/y/z" },
                { "/base", "/x//y/./z/", "/x/y/z" },
                { "/", "..", "/" },
                { "/a/b", "..", "/a" },
                { "/a/b", "../..", "/" },
                { "/a/b", "../../../..", "/" },
                { NULL, "/..", "/" },
                { NULL, "/../../etc", "/etc" },
                { "/base", ".", "/base" },
                { "/base", "./", "/base" },
                { "/base", "x/", "/base/x" },
                { "/base/", "./x", "/base/x" },
                { "//base//", "x", "/base/x" },
                { "/base", "a/./b/../../c", "/base/c" },
                { "/base", "...", "/base/..." },
                { "/base", "..x/.y", "/base/..x/.y" },
                { NULL, "/", "/" },
                { NULL, "//", "/" },
                { NULL, "/a/b/../../c", "/c" },
                { "/base", "", NULL },
                { "/base", NULL, NULL },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                char *got = util_path_absolute(t[i].base, t[i].path);
                if (!streq(got, t[i].want))
                        fprintf(stderr, "  util_path_absolute(%s, %s) = '%s', want '%s'\n",
                                t[i].base ? t[i].base : "NULL", t[i].path ? t[i].path : "NULL",
                                got ? got : "(null)", t[i].want ? t[i].want : "(null)");
                CHECK(streq(got, t[i].want));
                free(got);
        }
}

TEST(validate_path_absolute_cwd)
{
        char *cwd = getcwd(NULL, 0);
        char *want = cwd ? util_asprintf("%s/x/y", strcmp(cwd, "/") == 0 ? "" : cwd) : NULL;
        char *got = util_path_absolute(NULL, "./x//y/z/..");

        CHECK(want && streq(got, want));
        free(got);
        free(want);
        free(cwd);
}

TEST(validate_env_set_and_get)
{
        struct zb_policy *p = zb_policy_new();

        CHECK(pol_set_env(p, "A=1") == 0);
        CHECK(pol_set_env(p, "AB=2") == 0);
        CHECK(pol_set_env(p, "A=3") == 0); /* replaces A, not AB */
        CHECK(p->n_env == 2);
        CHECK(streq(p->env[0], "A=3"));
        CHECK(streq(p->env[1], "AB=2"));

        char *const envp[] = { "A=1", "AB=2", "E=", "X=a=b", NULL };
        static const struct {
                const char *key, *want;
        } t[] = {
                { "A", "1" }, { "AB", "2" }, { "E", "" }, { "X", "a=b" },
                { "ABC", NULL }, { "B", NULL }, { "", NULL }, { "a", NULL },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                const char *got = util_env_get(envp, t[i].key);
                if (!streq(got, t[i].want))
                        fprintf(stderr, "  util_env_get(%s) = '%s'\n", t[i].key, got ? got : "(null)");
                CHECK(streq(got, t[i].want));
        }
        CHECK(util_env_get(NULL, "A") == NULL);
        zb_policy_free(p);
}

static size_t strv_len(char **v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

TEST(validate_build_env)
{
        char *saved_term = getenv("TERM") ? strdup(getenv("TERM")) : NULL;
        struct zb_policy *p = zb_policy_new();
        char **env;

        /* Defaults only; TERM comes from the host when it is set. */
        unsetenv("TERM");
        env = pol_build_env(p);
        CHECK(env != NULL);
        CHECK(strv_len(env) == 3);
        CHECK(streq(util_env_get(env, "PATH"), DEFAULT_PATH));
        CHECK(streq(util_env_get(env, "HOME"), ZB_HOME_DIR)); /* on the /tmp tmpfs */
        CHECK(streq(util_env_get(env, "LANG"), "C.UTF-8"));
        CHECK(util_env_get(env, "TERM") == NULL);
        util_strv_free(env);

        setenv("TERM", "xterm-zb", 1);
        set_str(&p->workdir, "/scratch");
        CHECK(pol_set_env(p, "PATH=/opt/bin") == 0);
        CHECK(pol_set_env(p, "A=1") == 0);
        env = pol_build_env(p);
        CHECK(env != NULL);
        CHECK(strv_len(env) == 5); /* PATH replaced in place, A added */
        CHECK(streq(util_env_get(env, "PATH"), "/opt/bin"));
        CHECK(streq(util_env_get(env, "HOME"), ZB_HOME_DIR));
        CHECK(streq(util_env_get(env, "TERM"), "xterm-zb"));
        CHECK(streq(util_env_get(env, "A"), "1"));
        CHECK(env && streq(env[0], "PATH=/opt/bin"));
        util_strv_free(env);
        /* Without the tmp tmpfs (tmp: none) HOME is the workdir again. */
        p->tmp_size = 0;
        env = pol_build_env(p);
        CHECK(env && streq(util_env_get(env, "HOME"), "/scratch"));
        util_strv_free(env);

        if (saved_term)
                setenv("TERM", saved_term, 1);
        else
                unsetenv("TERM");
        free(saved_term);
        zb_policy_free(p);
}
