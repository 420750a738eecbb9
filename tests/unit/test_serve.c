/* zonebox serve's runtimes half without a sandbox: the `runtimes:` section
 * (src/serve/runtimes.c: every error names its key), the runtime lookup by
 * name, alias and version, and the Piston adapter's parsing and narrowing
 * (src/serve/piston.c with RUN false: nothing starts). Table-driven. */
#include "serve/runtime_int.h"
#include "test.h"

static const char cfg[] = "sandbox:\n"
                          "  limits: {memory: 256m, wall_time: 10s}\n"
                          "runtimes:\n"
                          "  - name: python3\n"
                          "    version: 3.11.2\n"
                          "    aliases: [python, py]\n"
                          "    file: main.py\n"
                          "    run: [python3, '{file}', '{args}']\n"
                          "    limits: {timeout: 5s, memory: 128m}\n"
                          "  - name: python3\n"
                          "    version: 3.12.1\n"
                          "    run: python3 \"$@\"\n"
                          "  - name: c\n"
                          "    version: 12.2.0\n"
                          "    compile: [gcc, -o, main, '{files}']\n"
                          "    compile_limits: {timeout: 20s, pids: 32}\n"
                          "    run: [./main]\n";

static struct srv_runtimes *load(const char *text, struct zb_error *err)
{
        struct srv_runtimes *rt = NULL;
        return srv_runtimes_load(&rt, text, strlen(text), "t.yaml", err) == 0 ? rt : NULL;
}

TEST(serve_runtimes_load_and_find)
{
        struct zb_error err = { 0 };
        struct srv_runtimes *rt = load(cfg, &err);
        CHECK(rt && rt->n == 3);
        if (!rt)
                return;
        CHECK(strcmp(srv_runtime_find(rt, "python", "*")->version, "3.11.2") == 0);
        CHECK(strcmp(srv_runtime_find(rt, "py", NULL)->version, "3.11.2") == 0);
        CHECK(strcmp(srv_runtime_find(rt, "python3", "3.12")->version, "3.12.1") == 0);
        CHECK(strcmp(srv_runtime_find(rt, "python3", "3.12.*")->version, "3.12.1") == 0);
        CHECK(srv_runtime_find(rt, "python3", "3.1") == NULL); /* by components, not by characters */
        CHECK(srv_runtime_find(rt, "python3", "4") == NULL);
        CHECK(srv_runtime_find(rt, "cobol", "*") == NULL);
        const struct srv_runtime *c = srv_runtime_find(rt, "c", "12");
        CHECK(c && c->compile && strcmp(c->file, "main") == 0 && strcmp(c->compile_limits.value[0], "20s") == 0);
        const struct srv_runtime *p12 = srv_runtime_find(rt, "python3", "3.12.1");
        CHECK(p12 && strcmp(p12->run[0], "sh") == 0 && strcmp(p12->run[1], "-c") == 0);
        json_object *j = srv_runtimes_json(rt, true);
        CHECK(json_object_array_length(j) == 3);
        CHECK_STR_CONTAINS(json_object_to_json_string(j), "\"language\": \"python3\"");
        json_object_put(j);
        srv_runtimes_free(rt);
}

static const struct {
        const char *text, *error;
} bad_configs[] = {
        { "runtimes: {a: 1}\n", "t.yaml:1: runtimes: expected a list" },
        { "runtimes:\n  - {name: a, version: '1'}\n", "runtimes[0]: run: required" },
        { "runtimes:\n  - {name: a, run: [x]}\n", "runtimes[0]: version: required" },
        { "runtimes:\n  - {name: a, version: '1', run: [x], colour: red}\n", "runtimes[0].colour: unknown key" },
        { "runtimes:\n  - {name: a, version: '1', run: []}\n", "runtimes[0].run: expected" },
        { "runtimes:\n  - {name: a, version: '1', run: [x], limits: {memory: lots}}\n", "runtimes[0].limits.memory" },
        { "runtimes:\n  - {name: a, version: '1', run: [x], limits: {network: host}}\n", "runtimes[0].limits.network: unknown key" },
        { "runtimes:\n  - {name: a, version: '1', run: [x], file: a/b}\n", "runtimes[0].file" },
        { "runtimes:\n  - {name: a, version: '1', run: [x]}\n  - {name: a, version: '1', run: [y]}\n",
          "runtimes[1].name: the same name and version" },
        { "runtimes:\n  - {name: a, version: '1', run: [x], aliases: b}\n", "runtimes[0].aliases: expected a list" },
};

TEST(serve_runtimes_errors_name_the_key)
{
        for (size_t i = 0; i < sizeof(bad_configs) / sizeof(bad_configs[0]); i++) {
                struct zb_error err = { 0 };
                struct srv_runtimes *rt = load(bad_configs[i].text, &err);
                CHECK(rt == NULL && err.code == -EINVAL);
                CHECK_STR_CONTAINS(err.message, bad_configs[i].error);
                srv_runtimes_free(rt);
        }
}

static const struct {
        const char *body;
        int status;
        const char *message; /* prefix; NULL: accepted */
} piston_bodies[] = {
        { "{\"language\":\"python\",\"version\":\"*\",\"files\":[{\"content\":\"print(1)\"}]}", 200, NULL },
        { "{\"language\":\"python\",\"files\":[{\"content\":\"1\"}],\"run_timeout\":3000,\"run_memory_limit\":-1}", 200, NULL },
        { "{\"language\":\"c\",\"files\":[{\"content\":\"1\"}],\"compile_timeout\":10000,\"compile_memory_limit\":-1}", 200, NULL },
        { "{\"language\":\"python\",\"files\":[{\"content\":\"1\"}],\"run_timeout\":6000}", 400, "run_timeout: " },
        { "{\"language\":\"python\",\"files\":[{\"content\":\"1\"}],\"run_memory_limit\":1073741824}", 400, "run_memory_limit: " },
        { "{\"language\":\"c\",\"files\":[{\"content\":\"1\"}],\"compile_timeout\":30000}", 400, "compile_timeout: " },
        { "{\"language\":\"python\",\"files\":[{\"name\":\"..\",\"content\":\"1\"}]}", 400, "files[0].name: " },
        { "{\"language\":\"python\",\"files\":[{\"content\":\"6\",\"encoding\":\"hex\"}]}", 400, "files[0].content: " },
        { "{\"language\":\"python\",\"files\":[{\"content\":\"!!!!\",\"encoding\":\"base64\"}]}", 400, "files[0].content: " },
        { "{\"language\":\"python\",\"files\":[{\"content\":\"aGk=\",\"encoding\":\"base64\"}]}", 400, "files: no utf8 file" },
        { "{\"language\":\"cobol\",\"files\":[{\"content\":\"1\"}]}", 400, "cobol-* runtime is unknown" },
        { "{\"language\":7}", 400, "language: " },
        { "{\"language\":\"python\",\"files\":[{\"content\":\"1\"}]} x", 400, "body: " },
        { "[]", 400, "body: " },
};

TEST(serve_piston_parse_and_narrow)
{
        struct zb_error err = { 0 };
        struct srv_runtimes *rt = load(cfg, &err);
        CHECK(rt != NULL);
        for (size_t i = 0; rt && i < sizeof(piston_bodies) / sizeof(piston_bodies[0]); i++) {
                int status = 0;
                const char *b = piston_bodies[i].body;
                json_object *o = srv_piston_execute(NULL, rt, b, strlen(b), false, &status);
                json_object *m = NULL;
                CHECK(o && status == piston_bodies[i].status);
                if (piston_bodies[i].message) {
                        CHECK(json_object_object_get_ex(o, "message", &m));
                        CHECK(m && strncmp(json_object_get_string(m), piston_bodies[i].message,
                                           strlen(piston_bodies[i].message)) == 0);
                        if (m && strncmp(json_object_get_string(m), piston_bodies[i].message,
                                         strlen(piston_bodies[i].message)) != 0)
                                fprintf(stderr, "  body %zu: %s\n", i, json_object_get_string(m));
                }
                json_object_put(o);
        }
        srv_runtimes_free(rt);
}
