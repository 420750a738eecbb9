/* The key x backend table (src/core/keytab.c): every row's sample, given
 * through its flag (or the config file), is seen as given, and nothing is
 * given by default; refusals name the key, the flag and the backend; the
 * parser accepts no key without a row. Every cell against real runs is
 * tests/integration/test_keytab.py. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include "core/keys.h"
#include "core/keytab.h"
#include "core/policy.h"
#include "test.h"

/* SAMPLE with {dir} and {blkdev} filled in (parsing only: nothing is opened). */
static void fill(const char *sample, char *out, size_t n)
{
        const char *dir = strstr(sample, "{dir}"), *dev = strstr(sample, "{blkdev}");
        if (dir)
                snprintf(out, n, "%.*s/tmp%s", (int)(dir - sample), sample, dir + 5);
        else if (dev)
                snprintf(out, n, "%.*s/dev/null%s", (int)(dev - sample), sample, dev + 8);
        else
                snprintf(out, n, "%s", sample);
}

/* "limits.swap: 64m" as a config file: each dot a level. */
static int set_by_yaml(struct zb_policy *p, const char *key, const char *value, struct zb_error *err)
{
        char yaml[512], path[128];
        size_t len = (size_t)snprintf(yaml, sizeof(yaml), "sandbox:\n");
        snprintf(path, sizeof(path), "%s", key);
        int depth = 1;
        char *save = NULL;
        for (char *part = strtok_r(path, ".", &save), *next; part; part = next, depth++) {
                next = strtok_r(NULL, ".", &save);
                len += (size_t)snprintf(yaml + len, sizeof(yaml) - len, "%*s%s:%s%s\n", 2 * depth, "", part,
                                        next ? "" : " ", next ? "" : value);
        }
        return pol_load_yaml_buffer(p, yaml, len, "t.yaml", "/", err);
}

static int set_sample(struct zb_policy *p, const struct kt_row *r, struct zb_error *err)
{
        char value[256];
        fill(r->sample, value, sizeof(value));
        if (!r->flag)
                return set_by_yaml(p, r->key, value, err);
        /* A flag without a value (--strict, --allow-unenforced) sets true. */
        return zb_policy_apply_flag(p, r->flag, zb_flag_takes_value(r->flag) ? value : NULL, err);
}

TEST(keytab_every_sample_is_given_and_no_default_is)
{
        size_t n;
        const struct kt_row *rows = kt_rows(&n);
        struct zb_policy *def = zb_policy_new();

        CHECK(n > 50);
        for (size_t i = 0; i < n; i++) {
                const struct kt_row *r = &rows[i];
                CHECK(!kt_given(r, def, def));
                if (r->given == KT_NEVER) {
                        CHECK(!r->sample); /* a selector or the command: nothing to walk */
                        continue;
                }
                struct zb_policy *p = zb_policy_new();
                struct zb_error err = { 0 };
                int rc = set_sample(p, r, &err);
                if (rc != 0 || !kt_given(r, p, def))
                        fprintf(stderr, "  row %s %s: rc %d (%s), given %d\n", r->key, r->when ? r->when : "", rc,
                                err.message, kt_given(r, p, def));
                CHECK(rc == 0 && kt_given(r, p, def));
                zb_policy_free(p);
        }
        zb_policy_free(def);
}

TEST(keytab_rows_are_complete)
{
        size_t n;
        const struct kt_row *rows = kt_rows(&n);
        for (size_t i = 0; i < n; i++) {
                const struct kt_row *r = &rows[i];
                CHECK(kt_find(r->key) != NULL);
                CHECK(r->cell[ZB_BACKEND_NAMESPACE].outcome != KT_REFUSE); /* the reference backend */
                for (int b = 0; b < KT_N_BACKENDS; b++)
                        CHECK((r->cell[b].outcome == KT_HONOUR) == (r->cell[b].why == NULL));
        }
        CHECK(kt_find("security.runtime") == kt_find("runtime"));
        CHECK(kt_find("limits.memroy") == NULL);
}

/* A key the table does not list is unknown to the parser, whatever the setters know. */
TEST(keytab_gates_the_parser)
{
        struct zb_policy *p = zb_policy_new();
        struct zb_error err = { 0 };
        CHECK(pol_set_key(p, "limits.memroy", "1m", "limits.memroy", NULL, &err) == -ENOENT);
        CHECK(pol_set_key(p, "limits.memory", "64m", "limits.memory", NULL, &err) == 0);
        zb_policy_free(p);
}

TEST(keytab_refusal_is_one_line_naming_key_flag_backend)
{
        struct zb_policy *p = zb_policy_new();
        struct zb_error err = { 0 };
        CHECK(zb_policy_apply_flag(p, "--net-allow", "127.0.0.1:9", &err) == 0);
        CHECK(kt_refuse(p, ZB_BACKEND_NAMESPACE, &err) == 0);
        CHECK(kt_refuse(p, ZB_BACKEND_OCI, &err) == -ENOTSUP);
        CHECK_STR_CONTAINS(err.message, "network.allow (--net-allow): not with backend oci (");
        CHECK(!strchr(err.message, '\n'));
        zb_policy_free(p);
        p = zb_policy_new();
        CHECK(zb_policy_apply_flag(p, "--landlock", "required", &err) == 0);
        CHECK(kt_refuse(p, ZB_BACKEND_DOCKER, &err) == -ENOTSUP);
        CHECK_STR_CONTAINS(err.message, "security.landlock required (--landlock): not with backend docker");
        CHECK(kt_refuse(p, ZB_BACKEND_WASM, &err) == 0);
        zb_policy_free(p);
}

static void count_line(void *ctx, const char *line)
{
        (void)line;
        (*(int *)ctx)++;
}

TEST(keytab_warnings_and_export)
{
        struct zb_policy *p = zb_policy_new();
        struct zb_error err = { 0 };
        int lines = 0;
        CHECK(zb_policy_apply_flag(p, "--output-limit", "1k", &err) == 0);
        kt_warn(p, ZB_BACKEND_DOCKER, false, count_line, &lines);
        CHECK(lines == 0); /* zonebox run --backend docker caps the output itself */
        kt_warn(p, ZB_BACKEND_DOCKER, true, count_line, &lines);
        CHECK(lines == 1); /* an exported line does not */
        lines = 0;
        kt_warn(p, ZB_BACKEND_KUBERNETES, false, count_line, &lines);
        CHECK(lines == 1);
        zb_policy_free(p);
}
