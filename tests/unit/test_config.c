/* The YAML config (src/core/config_yaml.c) → policy. The example of
 * DESIGN.md fills every section; every error names "file:line:" and the full
 * key; relative paths resolve against the file's directory. */
#include <stdio.h>

#include "core/keys.h"
#include "test.h"

#define BASE "/base"

static int load(struct zb_policy *p, const char *yaml, struct zb_error *err)
{
        memset(err, 0, sizeof(*err));
        return pol_load_yaml_buffer(p, yaml, strlen(yaml), "t.yaml", BASE, err);
}

static bool streq(const char *a, const char *b)
{
        return a && b ? strcmp(a, b) == 0 : a == b;
}

static const struct pol_zone *zone_at(const struct zb_policy *p, const char *path)
{
        for (size_t i = 0; i < p->n_zones; i++)
                if (streq(p->zones[i].path, path))
                        return &p->zones[i];
        return NULL;
}

static const char *env_of(const struct zb_policy *p, const char *key)
{
        size_t n = strlen(key);
        for (size_t i = 0; i < p->n_env; i++)
                if (strncmp(p->env[i], key, n) == 0 && p->env[i][n] == '=')
                        return p->env[i] + n + 1;
        return NULL;
}

/* DESIGN.md's example, without approval (not in this build). */
static const char design_example[] =
        "sandbox:\n"
        "  backend: namespace            # namespace | docker | oci | kubernetes\n"
        "  image: python:3.11-slim\n"
        "  rootfs: host\n"
        "  zones:\n"
        "    - {name: input,   mode: ro,    hostPath: ./data}\n"
        "    - {name: output,  mode: rw,    hostPath: ./output}\n"
        "    - {name: scratch, mode: tmpfs, size: 64m}\n"
        "  network: none\n"
        "  limits: {memory: 100m, swap: 0, cpus: 0.5, pids: 64, wall_time: 10s, cpu_time: 5s, file_size: 16m, output: 1m}\n"
        "  security: {seccomp: default, landlock: true, no_new_privileges: true, capabilities: []}\n"
        "  env: {PATH: /usr/local/bin:/usr/bin:/bin, HOME: /scratch}\n"
        "  workdir: /scratch\n"
        "  command: [python3, /input/code.py]\n";

TEST(config_design_example)
{
        struct zb_error err;
        struct zb_policy *p = zb_policy_new();
        const struct pol_zone *z;

        p->network = ZB_NET_HOST; /* so that "network: none" must act */
        p->limits.swap = 1;
        CHECK(load(p, design_example, &err) == 0);
        if (err.code)
                fprintf(stderr, "  %s\n", err.message);

        CHECK(p->backend == ZB_BACKEND_NAMESPACE);
        CHECK(streq(p->image, "python:3.11-slim"));
        CHECK(p->rootfs == NULL);
        CHECK(p->n_zones == 3);
        z = zone_at(p, "/input");
        CHECK(z && streq(z->name, "input") && z->mode == ZB_ZONE_RO &&
              streq(z->host_path, BASE "/data") && z->size == 0);
        z = zone_at(p, "/output");
        CHECK(z && streq(z->name, "output") && z->mode == ZB_ZONE_RW &&
              streq(z->host_path, BASE "/output"));
        z = zone_at(p, "/scratch");
        CHECK(z && streq(z->name, "scratch") && z->mode == ZB_ZONE_TMPFS && !z->host_path &&
              z->size == 64ull << 20);
        CHECK(p->network == ZB_NET_NONE);

        CHECK(p->limits.memory == 100ull << 20);
        CHECK(p->limits.swap == 0);
        CHECK(p->limits.cpus_milli == 500);
        CHECK(p->limits.pids == 64);
        CHECK(p->limits.wall_time_ms == 10000);
        CHECK(p->limits.cpu_time_ms == 5000);
        CHECK(p->limits.file_size == 16ull << 20);
        CHECK(p->limits.output == 1ull << 20);

        CHECK(streq(p->security.seccomp, "default"));
        CHECK(p->security.landlock == ZB_LANDLOCK_BEST_EFFORT);
        CHECK(p->security.no_new_privileges);

        CHECK(p->n_env == 2);
        CHECK(streq(env_of(p, "PATH"), "/usr/local/bin:/usr/bin:/bin"));
        CHECK(streq(env_of(p, "HOME"), "/scratch"));
        CHECK(streq(p->workdir, "/scratch"));
        CHECK(p->argc == 2 && p->argv && streq(p->argv[0], "python3") &&
              streq(p->argv[1], "/input/code.py") && p->argv[2] == NULL);
        zb_policy_free(p);
}

/* The same keys in block style, and the rest of the scalar keys. */
TEST(config_block_style_and_other_keys)
{
        static const char yaml[] =
                "sandbox:\n"
                "  backend: docker\n"
                "  rootfs: ../images/py\n"
                "  hostname: box\n"
                "  network: loopback\n"
                "  zones:\n"
                "    - name: in\n"
                "      mode: ro\n"
                "      hostPath: /abs/in\n"
                "      path: /data/in\n"
                "    - name: rel\n"
                "      mode: rw\n"
                "      host_path: sub/../out/\n"
                "  limits:\n"
                "    memory: 1.5g\n"
                "    swap: unlimited\n"
                "    memory_swap: 2g\n"
                "    open_files: 256\n"
                "    output_action: kill\n"
                "    cgroup_parent: /zb.slice\n"
                "    allow_unenforced: yes\n"
                "    file_size: unlimited\n"
                "    wall_time: none\n"
                "  security:\n"
                "    landlock: required\n"
                "    no_new_privileges: false\n"
                "    user: \"0:100\"\n"
                "    capabilities: []\n"
                "  env:\n"
                "    A: 1\n"
                "    B: \"x=y\"\n"
                "  command:\n"
                "    - sh\n"
                "    - -c\n"
                "    - echo hi\n";
        struct zb_error err;
        struct zb_policy *p = zb_policy_new();
        const struct pol_zone *z;

        p->limits.wall_time_ms = 5;
        CHECK(load(p, yaml, &err) == 0);
        if (err.code)
                fprintf(stderr, "  %s\n", err.message);
        CHECK(p->backend == ZB_BACKEND_DOCKER);
        CHECK(streq(p->rootfs, "/images/py"));
        CHECK(streq(p->hostname, "box"));
        CHECK(p->network == ZB_NET_LOOPBACK);
        CHECK(p->n_zones == 2);
        z = zone_at(p, "/data/in");
        CHECK(z && streq(z->name, "in") && streq(z->host_path, "/abs/in") && z->mode == ZB_ZONE_RO);
        z = zone_at(p, "/rel");
        CHECK(z && streq(z->host_path, BASE "/out") && z->mode == ZB_ZONE_RW);
        CHECK(p->limits.memory == 3ull << 29);
        CHECK(p->limits.swap == ZB_UNLIMITED);
        CHECK(p->limits.memory_swap_total == 2ull << 30);
        CHECK(p->limits.open_files == 256);
        CHECK(p->limits.output_kill);
        CHECK(streq(p->limits.cgroup_parent, "/zb.slice"));
        CHECK(p->limits.allow_unenforced);
        CHECK(p->limits.file_size == ZB_UNLIMITED);
        CHECK(p->limits.wall_time_ms == 0);
        CHECK(p->security.landlock == ZB_LANDLOCK_REQUIRED);
        CHECK(!p->security.no_new_privileges);
        CHECK(p->security.user_set && p->security.uid == 0 && p->security.gid == 100);
        CHECK(streq(env_of(p, "A"), "1"));
        CHECK(streq(env_of(p, "B"), "x=y"));
        CHECK(p->argc == 3 && streq(p->argv[2], "echo hi"));
        zb_policy_free(p);
}

TEST(config_host_path_relative_to_base)
{
        static const struct {
                const char *host, *want;
        } t[] = {
                { "./data", BASE "/data" },    { "data", BASE "/data" },
                { "data/", BASE "/data" },     { "../shared/x", "/shared/x" },
                { ".", BASE },                 { "/abs//dir/./x", "/abs/dir/x" },
                { "a/b/../../c", BASE "/c" },  { "../../../..", "/" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                char yaml[256];
                struct zb_error err;
                struct zb_policy *p = zb_policy_new();

                snprintf(yaml, sizeof(yaml),
                         "sandbox:\n  zones:\n    - {name: z, mode: ro, hostPath: \"%s\"}\n",
                         t[i].host);
                int rc = load(p, yaml, &err);
                bool ok = rc == 0 && p->n_zones == 1 && streq(p->zones[0].host_path, t[i].want);
                if (!ok)
                        fprintf(stderr, "  hostPath '%s': rc %d got '%s' want '%s' (%s)\n",
                                t[i].host, rc, p->n_zones ? p->zones[0].host_path : "",
                                t[i].want, err.message);
                CHECK(ok);
                zb_policy_free(p);
        }
}

/* "Paths in a config file are relative to the file": a seccomp profile too,
 * as --security-opt seccomp=FILE is relative to the working directory. */
TEST(config_seccomp_profile_relative_to_base)
{
        struct zb_error err;
        struct zb_policy *p = zb_policy_new();

        CHECK(load(p, "sandbox:\n  security: {seccomp: ./prof.json}\n", &err) == 0);
        if (!streq(p->security.seccomp, BASE "/prof.json"))
                fprintf(stderr, "  seccomp: got '%s', want '" BASE "/prof.json'\n",
                        p->security.seccomp ? p->security.seccomp : "(null)");
        CHECK(streq(p->security.seccomp, BASE "/prof.json"));
        zb_policy_free(p);
}

/* Flags given after the file override it. */
TEST(config_then_flags_override)
{
        struct zb_error err;
        struct zb_policy *p = zb_policy_new();

        CHECK(load(p, design_example, &err) == 0);
        CHECK(zb_policy_apply_flag(p, "--memory", "200m", &err) == 0);
        CHECK(zb_policy_apply_flag(p, "-v", "/elsewhere:/input:ro", &err) == 0);
        CHECK(zb_policy_apply_flag(p, "-e", "HOME=/tmp", &err) == 0);
        CHECK(p->limits.memory == 200ull << 20);
        CHECK(p->n_zones == 3);
        CHECK(zone_at(p, "/input") && streq(zone_at(p, "/input")->host_path, "/elsewhere"));
        CHECK(p->n_env == 2);
        CHECK(streq(env_of(p, "HOME"), "/tmp"));
        zb_policy_free(p);
}

TEST(config_errors)
{
        static const struct {
                const char *yaml;
                int rc;
                const char *where; /* "t.yaml:LINE:" */
                const char *key;   /* the full key */
        } t[] = {
                { "foo: 1\n", -EINVAL, "t.yaml:1:", "foo" },
                { "sandbox:\n  network: none\nextra: 1\n", -EINVAL, "t.yaml:3:", "extra" },
                { "sandbox:\n  bogus: 1\n", -EINVAL, "t.yaml:2:", "sandbox.bogus" },
                { "sandbox:\n  colour: {a: 1}\n", -EINVAL, "t.yaml:2:", "sandbox.colour" },
                { "sandbox:\n  limits:\n    memroy: 100m\n", -EINVAL, "t.yaml:3:",
                  "sandbox.limits.memroy" },
                { "sandbox:\n  security:\n    seccom: default\n", -EINVAL, "t.yaml:3:",
                  "sandbox.security.seccom" },
                { "sandbox:\n  limits:\n    memory: 12x\n", -EINVAL, "t.yaml:3:",
                  "sandbox.limits.memory" },
                { "sandbox:\n  limits:\n    memory: [1]\n", -EINVAL, "t.yaml:3:",
                  "sandbox.limits.memory" },
                { "sandbox:\n  limits: {pids: 0}\n", -EINVAL, "t.yaml:2:", "sandbox.limits.pids" },
                { "sandbox:\n  limits:\n    wall_time: 10x\n", -EINVAL, "t.yaml:3:",
                  "sandbox.limits.wall_time" },
                { "sandbox:\n  limits:\n    cpu_time: .5s\n", -EINVAL, "t.yaml:3:",
                  "sandbox.limits.cpu_time" },
                { "sandbox:\n  limits: 5\n", -EINVAL, "t.yaml:2:", "sandbox.limits" },
                { "sandbox:\n  network: bogus\n", -EINVAL, "t.yaml:2:", "sandbox.network" },
                { "sandbox:\n  workdir: rel\n", -EINVAL, "t.yaml:2:", "sandbox.workdir" },
                { "sandbox:\n  security:\n    user: abc\n", -EINVAL, "t.yaml:3:",
                  "sandbox.security.user" },
                { "sandbox:\n  zones: {name: a}\n", -EINVAL, "t.yaml:2:", "sandbox.zones" },
                { "sandbox:\n  zones: ro\n", -EINVAL, "t.yaml:2:", "sandbox.zones" },
                { "sandbox:\n  zones:\n    - {name: a, hostPath: /x}\n", -EINVAL, "t.yaml:3:",
                  "sandbox.zones[0]" },
                { "sandbox:\n  zones:\n    - name: a\n      mode: ro\n      colour: red\n",
                  -EINVAL, "t.yaml:5:", "sandbox.zones[0]" },
                { "sandbox:\n  zones:\n    - {name: a, mode: zz}\n", -EINVAL, "t.yaml:3:",
                  "sandbox.zones[0]" },
                { "sandbox:\n  zones:\n    - {name: a, mode: ro, hostPath: [x]}\n", -EINVAL,
                  "t.yaml:3:", "sandbox.zones[0]" },
                { "sandbox:\n  zones:\n    - {name: a, mode: tmpfs}\n    - {name: b, mode: tmpfs, size: 0}\n",
                  -EINVAL, "t.yaml:4:", "sandbox.zones[1]" },
                { "sandbox:\n  zones:\n    - {mode: tmpfs}\n", -EINVAL, "t.yaml:3:",
                  "sandbox.zones[0]" },
                { "sandbox:\n  zones:\n    - just-a-string\n", -EINVAL, "t.yaml:3:",
                  "sandbox.zones[0]" },
                { "sandbox:\n  env: [A=1]\n", -EINVAL, "t.yaml:2:", "sandbox.env" },
                { "sandbox:\n  env: {A: [1]}\n", -EINVAL, "t.yaml:2:", "sandbox.env" },
                { "sandbox:\n  security:\n    capabilities: [NET_RAW]\n", -EINVAL, "t.yaml:3:",
                  "sandbox.security.capabilities" },
                { "sandbox:\n  security:\n    capabilities: all\n", -EINVAL, "t.yaml:3:",
                  "sandbox.security.capabilities" },
                { "sandbox:\n  approval: {default: ask, allow: [\"ls *\"], deny: [7, [x]]}\n",
                  -EINVAL, "t.yaml:2:", "sandbox.approval.deny" },
                { "sandbox:\n  command: ls -l\n", -EINVAL, "t.yaml:2:", "sandbox.command" },
                { "sandbox:\n  command: [ls, [a]]\n", -EINVAL, "t.yaml:2:", "sandbox.command" },
                { "sandbox:\n", -EINVAL, "t.yaml:", "sandbox" },
                { "{}\n", -EINVAL, "t.yaml:", "sandbox" },
                { "- a\n- b\n", -EINVAL, "t.yaml:1:", "(top)" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_error err;
                struct zb_policy *p = zb_policy_new();
                int rc = load(p, t[i].yaml, &err);
                bool ok = rc == t[i].rc && err.code == rc &&
                          strncmp(err.message, t[i].where, strlen(t[i].where)) == 0 &&
                          strstr(err.message, t[i].key);
                if (!ok)
                        fprintf(stderr, "  case %zu: rc %d message '%s', want %d '%s ... %s'\n", i,
                                rc, err.message, t[i].rc, t[i].where, t[i].key);
                CHECK(ok);
                zb_policy_free(p);
        }
}

/* An empty command list is an error of the key sandbox.command, and the
 * message says so like every other config error. */
TEST(config_empty_command_names_full_key)
{
        struct zb_error err;
        struct zb_policy *p = zb_policy_new();

        CHECK(load(p, "sandbox:\n  command: []\n", &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, "t.yaml:2: sandbox.command");
        zb_policy_free(p);
}

/* A misspelt section ("limts: {...}") is an unknown key, and the message
 * should say so rather than complain about the value's shape. */
TEST(config_unknown_section_says_unknown_key)
{
        static const char *const t[] = {
                "sandbox:\n  limts: {memory: 1g}\n",
                "sandbox:\n  limits:\n    memroy: [1]\n",
                "sandbox:\n  zone:\n    - {name: a, mode: tmpfs}\n",
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_error err;
                struct zb_policy *p = zb_policy_new();
                CHECK(load(p, t[i], &err) == -EINVAL);
                CHECK_STR_CONTAINS(err.message, "unknown key");
                zb_policy_free(p);
        }
}

/* What the message says about a zone's bad key: its name, not just the zone. */
TEST(config_zone_error_details)
{
        static const struct {
                const char *yaml, *detail;
        } t[] = {
                { "sandbox:\n  zones:\n    - {name: a, mode: ro, colour: red}\n", "colour" },
                { "sandbox:\n  zones:\n    - {name: a, hostPath: /x}\n", "mode" },
                { "sandbox:\n  zones:\n    - {name: a, mode: zz}\n", "zz" },
                { "sandbox:\n  limits: {memory: 12x}\n", "12x" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_error err;
                struct zb_policy *p = zb_policy_new();
                CHECK(load(p, t[i].yaml, &err) < 0);
                CHECK_STR_CONTAINS(err.message, t[i].detail);
                zb_policy_free(p);
        }
}

TEST(config_syntax_error_and_empty)
{
        static const struct {
                const char *yaml, *want;
        } t[] = {
                { "sandbox:\n  limits: [\n", "YAML syntax error" },
                { "sandbox:\n  a: b\n c: d\n", "YAML syntax error" },
                { "sandbox: {a: 1\n", "YAML syntax error" },
                { "\t- x\n", "YAML syntax error" },
                { "", "empty" },
                { "# only a comment\n", "empty" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_error err;
                struct zb_policy *p = zb_policy_new();
                int rc = load(p, t[i].yaml, &err);
                bool ok = rc == -EINVAL && strncmp(err.message, "t.yaml", 6) == 0 &&
                          strstr(err.message, t[i].want);
                if (!ok)
                        fprintf(stderr, "  case %zu: rc %d message '%s'\n", i, rc, err.message);
                CHECK(ok);
                zb_policy_free(p);
        }
}

/* zb_policy_load_yaml on a real file: its directory is the base. */
TEST(config_load_file)
{
        char dir[] = "/tmp/zb-unit-config-XXXXXX";
        char path[sizeof(dir) + 16];
        static const char yaml[] = "sandbox:\n  zones:\n    - {name: in, mode: ro, hostPath: ./data}\n";
        struct zb_error err = { 0 };
        struct zb_policy *p = zb_policy_new();

        CHECK(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/c.yaml", dir);
        FILE *f = fopen(path, "we");
        CHECK(f != NULL);
        if (f) {
                fputs(yaml, f);
                fclose(f);
        }
        CHECK(zb_policy_load_yaml(p, path, &err) == 0);
        char *want = util_asprintf("%s/data", dir);
        CHECK(p->n_zones == 1 && streq(p->zones[0].host_path, want));
        free(want);
        unlink(path);

        /* A file that is not there. */
        CHECK(zb_policy_load_yaml(p, path, &err) == -ENOENT);
        CHECK_STR_CONTAINS(err.message, path);
        rmdir(dir);
        zb_policy_free(p);
}
