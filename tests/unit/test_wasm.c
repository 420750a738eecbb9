/* The wasm backend's pure parts (src/wasm/, src/core/backend.c): the
 * module check on hand-built binaries, each runtime's exact argv, the keys
 * and flags that choose the backend and the runtime, and the settings it
 * refuses. The real runs are tests/integration/test_wasm.py. */
#define _GNU_SOURCE
#include <stdint.h>

#include "core/keys.h"
#include "core/policy.h"
#include "test.h"
#include "wasm/wasm.h"

/* A module assembled from sections: header, then each (id, bytes). */
struct bin {
        unsigned char b[512];
        size_t n;
};

static void put(struct bin *m, const void *p, size_t n)
{
        memcpy(m->b + m->n, p, n);
        m->n += n;
}

static void header(struct bin *m, uint32_t version)
{
        unsigned char h[8] = { 0x00, 'a', 's', 'm', (unsigned char)version, (unsigned char)(version >> 8),
                               (unsigned char)(version >> 16), (unsigned char)(version >> 24) };
        m->n = 0;
        put(m, h, sizeof(h));
}

static void section(struct bin *m, unsigned char id, const unsigned char *body, size_t n)
{
        unsigned char h[2] = { id, (unsigned char)n }; /* n < 128: one LEB byte */
        put(m, h, 2);
        put(m, body, n);
}

/* import MOD.NAME as a function (kind 0, type 0) */
static void import_func(struct bin *m, const char *mod, const char *name)
{
        unsigned char body[128];
        size_t k = 0, ml = strlen(mod), nl = strlen(name);
        body[k++] = 1;
        body[k++] = (unsigned char)ml;
        memcpy(body + k, mod, ml);
        k += ml;
        body[k++] = (unsigned char)nl;
        memcpy(body + k, name, nl);
        k += nl;
        body[k++] = 0;
        body[k++] = 0;
        section(m, 2, body, k);
}

static void export_start(struct bin *m)
{
        static const unsigned char body[] = { 1, 6, '_', 's', 't', 'a', 'r', 't', 0, 0 };
        section(m, 7, body, sizeof(body));
}

static enum wasm_check check(const struct bin *m, char *why)
{
        return wasm_module_check(m->b, m->n, why, 256);
}

TEST(wasm_module_check_accepts_a_wasi_command)
{
        struct bin m;
        char why[256];
        header(&m, 1);
        import_func(&m, "wasi_snapshot_preview1", "fd_write");
        import_func(&m, "wasi_snapshot_preview1", "proc_exit");
        export_start(&m);
        CHECK(check(&m, why) == WASM_CHECK_OK);
}

TEST(wasm_module_check_refusals)
{
        struct bin m;
        char why[256];

        memcpy(m.b, "#!/bin/sh\necho hi\n", 18);
        m.n = 18;
        CHECK(check(&m, why) == WASM_CHECK_NOT_MODULE);
        CHECK_STR_CONTAINS(why, "not a WebAssembly module");
        m.n = 3; /* shorter than the header */
        CHECK(check(&m, why) == WASM_CHECK_NOT_MODULE);

        header(&m, 0x1000d); /* a component */
        CHECK(check(&m, why) == WASM_CHECK_UNSUPPORTED);
        CHECK_STR_CONTAINS(why, "component model is not supported");
        header(&m, 2);
        CHECK(check(&m, why) == WASM_CHECK_UNSUPPORTED);

        header(&m, 1); /* a reactor: nothing exported as _start */
        import_func(&m, "wasi_snapshot_preview1", "fd_write");
        CHECK(check(&m, why) == WASM_CHECK_NOT_WASI);
        CHECK_STR_CONTAINS(why, "no _start");

        header(&m, 1); /* an import no WASI runtime has */
        import_func(&m, "env", "zonebox_missing");
        export_start(&m);
        CHECK(check(&m, why) == WASM_CHECK_NOT_WASI);
        CHECK_STR_CONTAINS(why, "env.zonebox_missing");

        header(&m, 1); /* preview 1's module, a name it does not have */
        import_func(&m, "wasi_snapshot_preview1", "fd_frobnicate");
        export_start(&m);
        CHECK(check(&m, why) == WASM_CHECK_NOT_WASI);

        header(&m, 1); /* the older snapshot's module name */
        import_func(&m, "wasi_unstable", "fd_write");
        export_start(&m);
        CHECK(check(&m, why) == WASM_CHECK_NOT_WASI);

        header(&m, 1); /* a section longer than the file */
        export_start(&m);
        m.b[9] = 0x7f;
        CHECK(check(&m, why) == WASM_CHECK_NOT_WASI);
        CHECK_STR_CONTAINS(why, "malformed");
}

/* Every prefix of a valid module is refused or accepted, never read past. */
TEST(wasm_module_check_truncations)
{
        struct bin m;
        char why[256];
        header(&m, 1);
        import_func(&m, "wasi_snapshot_preview1", "fd_write");
        export_start(&m);
        for (size_t n = 0; n < m.n; n++) {
                unsigned char *copy = malloc(n ? n : 1); /* ASan sees a read past N */
                memcpy(copy, m.b, n);
                CHECK(wasm_module_check(copy, n, why, sizeof(why)) != WASM_CHECK_OK);
                free(copy);
        }
}

static char *joined(char **v)
{
        size_t len = 1, at = 0;
        for (char **i = v; *i; i++)
                len += strlen(*i) + 1;
        char *s = calloc(1, len);
        for (char **i = v; s && *i; i++) {
                size_t n = strlen(*i);
                if (i != v)
                        s[at++] = ' ';
                memcpy(s + at, *i, n);
                at += n;
        }
        return s;
}

static char *command(enum pol_wasm_runtime rt, const char *path, uint64_t memory, const char *workdir)
{
        static struct pol_zone zones[] = {
                { .name = "input", .mode = ZB_ZONE_RO, .path = "/input" },
                { .name = "output", .mode = ZB_ZONE_RW, .path = "/output" },
        };
        static char *args[] = { "/input/w.wasm", "a b", "--flag" };
        static char *env[] = { "PATH=/usr/bin", "K=v=w", NULL };
        struct wasm_launch l = { .runtime = rt, .runtime_path = path, .module = WASM_MODULE_PATH,
                                 .args = args, .argc = 3, .env = env, .zones = zones, .n_zones = 2,
                                 .workdir = workdir, .memory_bytes = memory };
        struct zb_error err = { 0 };
        char **v = wasm_command(&l, &err);
        CHECK(v != NULL);
        char *s = v ? joined(v) : NULL;
        util_strv_free(v);
        return s;
}

TEST(wasm_command_exact_argv)
{
        char *s = command(ZB_WASM_WASMTIME, "/usr/bin/wasmtime", 64ull << 20, NULL);
        CHECK(s && strcmp(s, "/usr/bin/wasmtime run -W max-memory-size=67108864 --dir /input::/input "
                             "--dir /output::/output --env PATH=/usr/bin --env K=v=w -- "
                             "/.zonebox-wasm/module.wasm a b --flag") == 0);
        free(s);
        s = command(ZB_WASM_WASMER, "/usr/local/bin/wasmer", 64ull << 20, "/output");
        CHECK(s && strcmp(s, "/usr/local/bin/wasmer run --mapdir /input:/input --mapdir /output:/output "
                             "--mapdir .:/output --env PATH=/usr/bin --env K=v=w "
                             "/.zonebox-wasm/module.wasm -- a b --flag") == 0);
        free(s);
        s = command(ZB_WASM_WASMEDGE, "/usr/bin/wasmedge", 64ull << 20, NULL);
        CHECK(s && strcmp(s, "/usr/bin/wasmedge --dir /input:/input:readonly --dir /output:/output "
                             "--env PATH=/usr/bin --env K=v=w --memory-page-limit 1024 -- "
                             "/.zonebox-wasm/module.wasm a b --flag") == 0);
        free(s);
        s = command(ZB_WASM_WASMTIME, "/usr/bin/wasmtime", 0, "/input");
        CHECK(s && strcmp(s, "/usr/bin/wasmtime run --dir /input::/input --dir /output::/output "
                             "--dir /input::. --env PATH=/usr/bin --env K=v=w -- "
                             "/.zonebox-wasm/module.wasm a b --flag") == 0);
        free(s);
}

TEST(wasm_command_node_launcher)
{
        char *s = command(ZB_WASM_NODE, "/usr/bin/node", 128ull << 20, "/output");
        const char *prefix = "/usr/bin/node --no-warnings --single-threaded-gc --wasm-max-mem-pages=2048 -e ";
        CHECK(s && strncmp(s, prefix, strlen(prefix)) == 0);
        CHECK_STR_CONTAINS(s, wasm_node_launcher);
        CHECK_STR_CONTAINS(s, " -- {\"module\":\"/.zonebox-wasm/module.wasm\","
                              "\"args\":[\"/input/w.wasm\",\"a b\",\"--flag\"],"
                              "\"env\":{\"PATH\":\"/usr/bin\",\"K\":\"v=w\"},"
                              "\"preopens\":{\"/input\":\"/input\",\"/output\":\"/output\",\".\":\"/output\"}}");
        free(s);
        struct zb_error err = { 0 };
        struct wasm_launch l = { .runtime = ZB_WASM_AUTO };
        CHECK(wasm_command(&l, &err) == NULL && err.code == -EINVAL);
}

static int flag(struct zb_policy *p, const char *f, const char *v, struct zb_error *err)
{
        return zb_policy_apply_flag(p, f, v, err);
}

TEST(wasm_keys_choose_backend_and_runtime)
{
        struct zb_error err = { 0 };
        struct zb_policy *p = zb_policy_new();
        enum pol_wasm_runtime rt;
        CHECK(flag(p, "--backend", "wasm", &err) == 0 && p->backend == ZB_BACKEND_WASM);
        CHECK(strcmp(pol_backend_name(p->backend), "wasm") == 0);
        CHECK(pol_wasm_runtime_wanted(p, &rt, &err) == 0 && rt == ZB_WASM_AUTO);
        /* runtime: wasmtime, the seed's spelling */
        CHECK(flag(p, "--runtime", "wasmtime", &err) == 0);
        CHECK(pol_wasm_runtime_wanted(p, &rt, &err) == 0 && rt == ZB_WASM_WASMTIME);
        CHECK(flag(p, "--runtime", "runsc", &err) == 0);
        CHECK(pol_wasm_runtime_wanted(p, &rt, &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, "'runsc' is not a wasm runtime");
        /* --wasm-runtime wins over runtime: */
        CHECK(flag(p, "--wasm-runtime", "node", &err) == 0);
        CHECK(pol_wasm_runtime_wanted(p, &rt, &err) == 0 && rt == ZB_WASM_NODE);
        CHECK(flag(p, "--wasm-runtime", "wasm3", &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, "--wasm-runtime: invalid value 'wasm3'");
        CHECK(flag(p, "--backend", "wasi", &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, "namespace, docker, oci, kubernetes or wasm");
        zb_policy_free(p);

        p = zb_policy_new();
        static const char yaml[] = "sandbox:\n  backend: wasm\n  wasm: {runtime: wasmedge}\n";
        CHECK(pol_load_yaml_buffer(p, yaml, sizeof(yaml) - 1, "t.yaml", NULL, &err) == 0);
        CHECK(p->backend == ZB_BACKEND_WASM && p->wasm.runtime == ZB_WASM_WASMEDGE);
        zb_policy_free(p);
}

/* One line naming the flag for each setting the backend cannot express. */
TEST(wasm_validate_refusals)
{
        static const struct {
                const char *flag, *value, *message;
        } t[] = {
                { "--network", "host", "network (--network): not with backend wasm" },
                { "--network", "loopback", "network (--network): not with backend wasm" },
                { "--net-allow", "example.com", "network.allow (--net-allow): not with backend wasm" },
                { "--image", "alpine", "image (--image): not with backend wasm" },
                { "--workdir", "/usr", "workdir (-w /usr)" },
                { "--engine-cli", "podman", "engine_cli (--engine-cli)" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_error err = { 0 };
                struct zb_policy *p = zb_policy_new();
                char *argv[] = { "/input/w.wasm", NULL };
                CHECK(zb_policy_set_command(p, 1, argv, &err) == 0);
                CHECK(flag(p, "--backend", "wasm", &err) == 0);
                CHECK(flag(p, t[i].flag, t[i].value, &err) == 0);
                CHECK(zb_policy_validate(p, &err) < 0);
                CHECK_STR_CONTAINS(err.message, t[i].message);
                /* The same setting is fine on the namespace backend (but --image/--engine-cli: warnings). */
                zb_policy_free(p);
        }
        struct zb_error err = { 0 };
        struct zb_policy *p = zb_policy_new();
        char *argv[] = { "/tmp/w.wasm", NULL };
        CHECK(zb_policy_set_command(p, 1, argv, &err) == 0);
        CHECK(flag(p, "--backend", "wasm", &err) == 0);
        CHECK(flag(p, "--tmpfs", "/scratch", &err) == 0);
        CHECK(flag(p, "--workdir", "/scratch/sub", &err) == 0);
        CHECK(zb_policy_validate(p, &err) == 0);
        zb_policy_free(p);
}

TEST(wasm_runtime_find_in_the_sandbox_path)
{
        struct wasm_runtime rt;
        struct zb_error err = { 0 };
        CHECK(wasm_runtime_find(ZB_WASM_WASMTIME, "/nonexistent-dir", NULL, &rt, &err) == -ENOENT);
        CHECK_STR_CONTAINS(err.message, "--wasm-runtime wasmtime): not installed");
        CHECK(wasm_runtime_find(ZB_WASM_AUTO, "/nonexistent-dir", NULL, &rt, &err) == -ENOENT);
        CHECK_STR_CONTAINS(err.message, "none of wasmtime, wasmer, wasmedge, node");
        if (access("/usr/bin/node", X_OK) != 0) {
                test_skip("node is not installed at /usr/bin/node");
                return;
        }
        CHECK(wasm_runtime_find(ZB_WASM_NODE, "relative:/usr/bin", NULL, &rt, &err) == 0);
        CHECK(rt.kind == ZB_WASM_NODE && strcmp(rt.path, "/usr/bin/node") == 0);
        CHECK(wasm_runtime_find(ZB_WASM_NODE, "/usr/bin", "/nonexistent-root", &rt, &err) == -ENOENT);
}
