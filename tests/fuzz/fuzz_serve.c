/* zonebox serve's request parsing, runtimes half (src/serve/): the first
 * byte picks the parser, the rest is its input.
 *   0  POST /api/v2/execute's body: srv_piston_execute with RUN false
 *      (parse, validate, narrow against a real config; nothing starts)
 *   1  POST /v1/runs' runtime body: srv_runtime_check (the same, v1)
 *   2  a config file's `runtimes:` section: srv_runtimes_load
 * Invariants: the answer is a JSON object; 200 only for a valid request,
 * else 400/404/413 with a one-line "message"; a refused config has a
 * one-line error naming the key; nothing leaks (ASan's leak check). */
#define _GNU_SOURCE
#include <json-c/json.h>

#include "fuzz.h"

#include "serve/runtime_int.h"

static const char config[] = "sandbox:\n"
                             "  limits: {memory: 256m, wall_time: 10s, pids: 64}\n"
                             "runtimes:\n"
                             "  - {name: python3, version: 3.11.2, aliases: [python, py], file: main.py,\n"
                             "     run: [python3, '{file}', '{args}'], limits: {timeout: 5s, memory: 128m}}\n"
                             "  - {name: c, version: 12.2.0, file: main.c, compile: [gcc, -o, main, '{files}'],\n"
                             "     compile_limits: {timeout: 20s, pids: 32}, run: [./main, '{args}']}\n"
                             "  - {name: sh, version: 0.5.12, run: 'sh \"$@\"'}\n";

static struct srv_runtimes *runtimes(void)
{
        static struct srv_runtimes *rt;
        struct zb_error err = { 0 };
        if (!rt && srv_runtimes_load(&rt, config, sizeof(config) - 1, "fuzz.yaml", &err) < 0)
                abort();
        return rt;
}

static void check_answer(json_object *o, int status)
{
        json_object *m;
        fuzz_assert(o && json_object_is_type(o, json_type_object));
        fuzz_assert(status == 200 || status == 400 || status == 404 || status == 413);
        if (status == 200)
                return;
        fuzz_assert(json_object_object_get_ex(o, "message", &m) && json_object_is_type(m, json_type_string));
        for (const char *c = json_object_get_string(m); *c; c++)
                fuzz_assert(*c != '\n');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        const char *body = (const char *)data + 1;
        size_t len = size - 1;
        int status = 0;
        struct zb_error err = { 0 };
        if (data[0] % 3 == 0) {
                json_object *o = srv_piston_execute(NULL, runtimes(), body, len, false, &status);
                check_answer(o, status);
                json_object_put(o);
        } else if (data[0] % 3 == 1) {
                json_tokener *tok = json_tokener_new();
                json_object *b = json_tokener_parse_ex(tok, body, (int)len);
                json_tokener_free(tok);
                if (b) {
                        int r = srv_runtime_check(runtimes(), b, &status, &err);
                        fuzz_assert(r == 0 ? status == 200 : status == 400 || status == 404);
                        if (r < 0)
                                fuzz_check_error(&err);
                }
                json_object_put(b);
        } else {
                struct srv_runtimes *rt = NULL;
                if (srv_runtimes_load(&rt, body, len, "fuzz.yaml", &err) < 0)
                        fuzz_check_error(&err);
                srv_runtimes_free(rt);
        }
        return 0;
}
