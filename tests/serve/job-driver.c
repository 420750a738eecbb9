/* zonebox-serve-job: the runtimes half of zonebox serve without the HTTP
 * server, for the integration tests (tests/integration/test_serve_job.py):
 *   zonebox-serve-job CONFIG piston|v1|check|runtimes|piston-runtimes < BODY
 * loads CONFIG's runtimes and policy as the server does, calls the function
 * the route calls, with real sandboxes, and prints {"status": HTTP status,
 * "body": the response}. Exit 0, or 125 when CONFIG does not load (the
 * message on stderr, as zonebox serve would refuse to start). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/serve/job.h"
#include "zonebox.h"

static char *slurp(FILE *f, size_t *len)
{
        size_t cap = 1 << 16, n = 0;
        char *buf = malloc(cap);
        for (size_t k; buf && (k = fread(buf + n, 1, cap - n, f)) > 0;) {
                n += k;
                if (n == cap) {
                        char *b = realloc(buf, cap *= 2);
                        if (!b)
                                free(buf);
                        buf = b;
                }
        }
        *len = n;
        return buf;
}

int main(int argc, char **argv)
{
        struct zb_error err = { 0 };
        struct srv_runtimes *rt = NULL;
        size_t clen = 0, blen = 0;
        FILE *f = argc == 3 ? fopen(argv[1], "re") : NULL;
        if (!f) {
                fprintf(stderr, "usage: zonebox-serve-job CONFIG piston|v1|check|runtimes|piston-runtimes < BODY\n");
                return 125;
        }
        char *cfg = slurp(f, &clen);
        fclose(f);
        struct zb_policy *base = zb_policy_new();
        if (!cfg || !base || zb_policy_load_yaml(base, argv[1], &err) < 0 ||
            srv_runtimes_load(&rt, cfg, clen, argv[1], &err) < 0) {
                fprintf(stderr, "zonebox-serve-job: %s\n", err.message[0] ? err.message : "out of memory");
                srv_runtimes_free(rt);
                zb_policy_free(base);
                free(cfg);
                return 125;
        }
        int status = 200;
        json_object *out = NULL;
        const char *mode = argv[2];
        if (strcmp(mode, "runtimes") == 0 || strcmp(mode, "piston-runtimes") == 0) {
                out = srv_runtimes_json(rt, mode[0] == 'p');
        } else {
                char *body = slurp(stdin, &blen);
                if (strcmp(mode, "v1") == 0) {
                        json_object *b = json_tokener_parse(body ? body : "");
                        out = srv_runtime_run(base, rt, b, &status);
                        json_object_put(b);
                } else {
                        out = srv_piston_execute(base, rt, body ? body : "", blen, strcmp(mode, "piston") == 0,
                                                 &status);
                }
                free(body);
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "status", json_object_new_int(status));
        json_object_object_add(o, "body", out);
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        srv_runtimes_free(rt);
        zb_policy_free(base);
        free(cfg);
        return 0;
}
