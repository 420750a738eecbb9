/* The `runtimes:` section of zonebox serve's config (docs/serve.md):
 * the languages a job may name, each a source file name, an optional
 * compile command with its own limits, and a run command, all run on the
 * host's toolchains inside the sandbox. The `sandbox:` section is the
 * policy's (core/config_yaml.c skips this one). Guarantees: every key is
 * checked at load (unknown keys, wrong types and bad limit values are
 * errors naming the key, `runtimes[2].run: ...`), so a server never starts
 * with a runtime it cannot run; nothing here starts a process. */
#define _GNU_SOURCE
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <yaml.h>

#include "../core/keys.h"
#include "../core/yaml_doc.h"
#include "runtime_int.h"

const struct srv_limit_name srv_limit_names[SRV_N_LIMITS] = {
        { "timeout", "limits.wall_time" }, { "cpu_time", "limits.cpu_time" },
        { "memory", "limits.memory" },     { "pids", "limits.pids" },
        { "output", "limits.output" },     { "file_size", "limits.file_size" },
};

struct loader {
        yaml_document_t *doc;
        const char *name;
        struct zb_policy *scratch; /* limit values are checked by setting them here */
        struct zb_error *err;
};

static yaml_node_t *node(const struct loader *l, int id)
{
        return yaml_document_get_node(l->doc, id);
}

static const char *scalar(const struct loader *l, int id)
{
        return yaml_doc_scalar(l->doc, id);
}

static int fail(const struct loader *l, const yaml_node_t *n, const char *field, const char *why)
{
        return err_set(l->err, EINVAL, "%s:%zu: %s: %s", l->name, n ? n->start_mark.line + 1 : 0, field, why);
}

static void strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

/* A list of strings into a NULL-terminated vector (at most MAX). */
static int strv_load(const struct loader *l, yaml_node_t *n, const char *field, size_t max, char ***out,
                     size_t *count)
{
        if (n->type != YAML_SEQUENCE_NODE)
                return fail(l, n, field, "expected a list of strings");
        size_t k = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (k > max)
                return fail(l, n, field, "too many entries");
        char **v = calloc(k + 1, sizeof(char *));
        if (!v)
                return err_set(l->err, ENOMEM, "out of memory");
        for (size_t i = 0; i < k; i++) {
                const char *s = scalar(l, n->data.sequence.items.start[i]);
                if (!s || !(v[i] = util_strdup(s))) {
                        strv_free(v);
                        return s ? err_set(l->err, ENOMEM, "out of memory")
                                 : fail(l, n, field, "expected a list of strings");
                }
        }
        *out = v;
        if (count)
                *count = k;
        return 0;
}

/* A command: an argv list, or a string run with sh -c (the file names and
 * the args follow as $1...). */
static int command_load(const struct loader *l, yaml_node_t *n, const char *field, char ***out)
{
        if (n->type == YAML_SCALAR_NODE) {
                const char *s = (const char *)n->data.scalar.value;
                if (!*s)
                        return fail(l, n, field, "empty");
                char **v = calloc(6, sizeof(char *));
                if (!v || !(v[0] = util_strdup("sh")) || !(v[1] = util_strdup("-c")) ||
                    !(v[2] = util_strdup(s)) || !(v[3] = util_strdup("sh")) || !(v[4] = util_strdup("{sh-args}"))) {
                        strv_free(v);
                        return err_set(l->err, ENOMEM, "out of memory");
                }
                *out = v;
                return 0;
        }
        size_t k = 0;
        int r = strv_load(l, n, field, 256, out, &k);
        if (r == 0 && k == 0) {
                strv_free(*out);
                *out = NULL;
                return fail(l, n, field, "expected a non-empty argv list or a string");
        }
        return r < 0 ? fail(l, n, field, "expected an argv list of strings or a string") : 0;
}

static int limits_load(const struct loader *l, yaml_node_t *n, const char *field, struct srv_limits *out)
{
        if (n->type != YAML_MAPPING_NODE)
                return fail(l, n, field, "expected a mapping (timeout, cpu_time, memory, pids, output, file_size)");
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
                const char *k = scalar(l, pr->key), *v = scalar(l, pr->value);
                size_t i = 0;
                while (i < SRV_N_LIMITS && (!k || strcmp(k, srv_limit_names[i].name) != 0))
                        i++;
                char label[128];
                snprintf(label, sizeof(label), "%s.%.32s", field, k ? k : "?");
                if (i == SRV_N_LIMITS)
                        return fail(l, node(l, pr->key), label,
                                    "unknown key (expected timeout, cpu_time, memory, pids, output or file_size)");
                if (!v)
                        return fail(l, node(l, pr->value), label, "expected a value");
                struct zb_error e = { 0 };
                if (pol_set_key(l->scratch, srv_limit_names[i].key, v, label, NULL, &e) < 0)
                        return fail(l, node(l, pr->value), label, e.message);
                free(out->value[i]);
                if (!(out->value[i] = util_strdup(v)))
                        return err_set(l->err, ENOMEM, "out of memory");
        }
        return 0;
}

static int string_load(const struct loader *l, yaml_node_t *n, const char *field, char **out)
{
        if (n->type != YAML_SCALAR_NODE || !*n->data.scalar.value)
                return fail(l, n, field, "expected a non-empty string");
        free(*out);
        *out = util_strdup((const char *)n->data.scalar.value);
        return *out ? 0 : err_set(l->err, ENOMEM, "out of memory");
}

static int entry_key(const struct loader *l, struct srv_runtime *r, const char *k, yaml_node_t *v,
                     const char *field)
{
        if (strcmp(k, "name") == 0 || strcmp(k, "version") == 0 || strcmp(k, "file") == 0) {
                char **dst = k[0] == 'n' ? &r->name : k[0] == 'v' ? &r->version : &r->file;
                int e = string_load(l, v, field, dst);
                if (e == 0 && dst == &r->file && srv_file_name_check(r->file, field, l->err) < 0)
                        return fail(l, v, field, "a plain file name (no '/', not '..')");
                return e;
        }
        /* A key given twice: the last one holds, as for the policy's keys. */
        if (strcmp(k, "aliases") == 0) {
                strv_free(r->aliases);
                r->aliases = NULL;
                r->n_aliases = 0;
                return strv_load(l, v, field, SRV_MAX_ALIASES, &r->aliases, &r->n_aliases);
        }
        if (strcmp(k, "compile") == 0 || strcmp(k, "run") == 0) {
                char ***dst = k[0] == 'c' ? &r->compile : &r->run;
                strv_free(*dst);
                *dst = NULL;
                return command_load(l, v, field, dst);
        }
        if (strcmp(k, "limits") == 0)
                return limits_load(l, v, field, &r->limits);
        if (strcmp(k, "compile_limits") == 0)
                return limits_load(l, v, field, &r->compile_limits);
        return fail(l, v, field, "unknown key (expected name, version, aliases, file, compile, "
                                 "compile_limits, run, limits)");
}

static int entry_load(const struct loader *l, yaml_node_t *n, size_t idx, struct srv_runtime *r)
{
        char field[96];
        snprintf(field, sizeof(field), "runtimes[%zu]", idx);
        if (n->type != YAML_MAPPING_NODE)
                return fail(l, n, field, "expected a mapping (name, version, file, run, ...)");
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
                const char *k = scalar(l, pr->key);
                snprintf(field, sizeof(field), "runtimes[%zu].%.32s", idx, k ? k : "?");
                if (!k)
                        return fail(l, node(l, pr->key), field, "expected a key");
                int e = entry_key(l, r, k, node(l, pr->value), field);
                if (e < 0)
                        return e;
        }
        snprintf(field, sizeof(field), "runtimes[%zu]", idx);
        if (!r->name || !r->version || !r->run)
                return fail(l, n, field, !r->name ? "name: required" : !r->version ? "version: required"
                                                                                   : "run: required");
        for (size_t i = 0; i < SRV_N_LIMITS && !r->compile; i++)
                if (r->compile_limits.value[i])
                        return fail(l, n, field, "compile_limits without compile");
        if (!r->file && !(r->file = util_strdup("main")))
                return err_set(l->err, ENOMEM, "out of memory");
        return 0;
}

static void runtime_free(struct srv_runtime *r)
{
        free(r->name);
        free(r->version);
        free(r->file);
        strv_free(r->aliases);
        strv_free(r->compile);
        strv_free(r->run);
        for (size_t i = 0; i < SRV_N_LIMITS; i++) {
                free(r->compile_limits.value[i]);
                free(r->limits.value[i]);
        }
}

static bool same_runtime(const struct srv_runtime *a, const struct srv_runtime *b)
{
        /* name and version are required keys: entry_load made both */
        return a->name && b->name && a->version && b->version && strcmp(a->name, b->name) == 0 &&
               strcmp(a->version, b->version) == 0;
}

static int section_load(struct srv_runtimes *rt, const struct loader *l, yaml_node_t *n)
{
        if (n->type != YAML_SEQUENCE_NODE)
                return fail(l, n, "runtimes", "expected a list of runtimes");
        if (rt->v) /* a second `runtimes:` key, even after an empty list */
                return fail(l, n, "runtimes", "given twice");
        size_t k = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (!(rt->v = calloc(k ? k : 1, sizeof(*rt->v))))
                return err_set(l->err, ENOMEM, "out of memory");
        for (size_t i = 0; i < k; i++) {
                rt->n = i + 1;
                int r = entry_load(l, node(l, n->data.sequence.items.start[i]), i, &rt->v[i]);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (same_runtime(&rt->v[j], &rt->v[i])) {
                                char field[64];
                                snprintf(field, sizeof(field), "runtimes[%zu].name", i);
                                return fail(l, node(l, n->data.sequence.items.start[i]), field,
                                            "the same name and version as an earlier runtime");
                        }
        }
        return 0;
}

static int keep_config(struct srv_runtimes *rt, const char *data, size_t len, const char *name,
                       struct zb_error *err)
{
        char real[PATH_MAX];
        rt->cfg = malloc(len + 1);
        rt->cfg_name = util_strdup(name);
        rt->cfg_dir = util_strdup(realpath(name, real) ? dirname(real) : ".");
        if (!rt->cfg || !rt->cfg_name || !rt->cfg_dir)
                return err_set(err, ENOMEM, "out of memory");
        memcpy(rt->cfg, data, len);
        rt->cfg[len] = '\0';
        rt->cfg_len = len;
        return 0;
}

struct parse_ctx {
        struct srv_runtimes *rt;
        struct zb_policy *scratch; /* limit values are checked by setting them here */
};

static int on_section(yaml_document_t *doc, yaml_node_t *n, const char *name, void *ctx, struct zb_error *err)
{
        struct parse_ctx *p = ctx;
        struct loader l = { .doc = doc, .name = name, .scratch = p->scratch, .err = err };
        return section_load(p->rt, &l, n);
}

static int parse(struct srv_runtimes *rt, const char *data, size_t len, const char *name, struct zb_error *err)
{
        struct parse_ctx p = { .rt = rt, .scratch = zb_policy_new() };
        if (!p.scratch)
                return err_set(err, ENOMEM, "out of memory");
        int r = yaml_doc_section(data, len, name, "runtimes", on_section, &p, err);
        zb_policy_free(p.scratch);
        return r;
}

int srv_runtimes_load(struct srv_runtimes **out, const char *data, size_t len, const char *name,
                      struct zb_error *err)
{
        struct srv_runtimes *rt = calloc(1, sizeof(*rt));
        if (!rt)
                return err_set(err, ENOMEM, "out of memory");
        int r = keep_config(rt, data, len, name, err);
        if (r == 0)
                r = parse(rt, data, len, name, err);
        if (r < 0) {
                srv_runtimes_free(rt);
                return r;
        }
        *out = rt;
        return 0;
}

void srv_runtimes_free(struct srv_runtimes *rt)
{
        if (!rt)
                return;
        for (size_t i = 0; i < rt->n; i++)
                runtime_free(&rt->v[i]);
        free(rt->v);
        free(rt->cfg);
        free(rt->cfg_name);
        free(rt->cfg_dir);
        free(rt);
}

/* "3.11" matches 3.11 and 3.11.2, not 3.110. */
static bool version_matches(const char *have, const char *want)
{
        if (!want || strcmp(want, "*") == 0 || strcmp(want, "") == 0)
                return true;
        size_t n = strlen(want);
        if (want[n - 1] == '*' && n >= 2 && want[n - 2] == '.')
                n -= 2; /* "3.*" */
        return strncmp(have, want, n) == 0 && (have[n] == '\0' || have[n] == '.');
}

static bool named(const struct srv_runtime *r, const char *name)
{
        if (strcmp(r->name, name) == 0)
                return true;
        for (size_t i = 0; i < r->n_aliases; i++)
                if (strcmp(r->aliases[i], name) == 0)
                        return true;
        return false;
}

const struct srv_runtime *srv_runtime_find(const struct srv_runtimes *rt, const char *name,
                                           const char *version)
{
        for (size_t i = 0; rt && name && i < rt->n; i++)
                if (named(&rt->v[i], name) && version_matches(rt->v[i].version, version))
                        return &rt->v[i];
        return NULL;
}

static json_object *strv_json(char *const *v)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; v && v[i]; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

static json_object *limits_json(const struct srv_limits *l)
{
        json_object *o = json_object_new_object();
        for (size_t i = 0; i < SRV_N_LIMITS; i++)
                if (l->value[i])
                        json_object_object_add(o, srv_limit_names[i].name, json_object_new_string(l->value[i]));
        return o;
}

static json_object *runtime_json(const struct srv_runtime *r, bool piston)
{
        json_object *o = json_object_new_object();
        json_object_object_add(o, piston ? "language" : "name", json_object_new_string(r->name));
        json_object_object_add(o, "version", json_object_new_string(r->version));
        json_object_object_add(o, "aliases", strv_json(r->aliases));
        if (piston) {
                json_object_object_add(o, "runtime", json_object_new_string("zonebox"));
                return o;
        }
        json_object_object_add(o, "file", json_object_new_string(r->file));
        json_object_object_add(o, "compiled", json_object_new_boolean(r->compile != NULL));
        json_object_object_add(o, "limits", limits_json(&r->limits));
        if (r->compile)
                json_object_object_add(o, "compile_limits", limits_json(&r->compile_limits));
        return o;
}

json_object *srv_runtimes_json(const struct srv_runtimes *rt, bool piston)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; rt && i < rt->n; i++)
                json_object_array_add(a, runtime_json(&rt->v[i], piston));
        return a;
}
