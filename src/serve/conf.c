/* The `serve:` section of the config file (docs/serve.md): how zonebox serve
 * listens and how much it takes at once. The sandbox: section is the
 * policy's (core/config_yaml.c skips this one); unknown keys here are errors
 * naming the key, as there, and every number has a ceiling so that no
 * config makes the server's own memory unbounded. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <yaml.h>

#include "../core/units.h"
#include "../core/yaml_doc.h"
#include "serve.h"

static int count(const char *v, unsigned lo, unsigned hi, unsigned *out)
{
        char *end;
        errno = 0;
        unsigned long n = v ? strtoul(v, &end, 10) : 0;
        if (!v || !*v || *end || errno || n < lo || n > hi || *v == '-')
                return -EINVAL;
        *out = (unsigned)n;
        return 0;
}

static int rate(const char *v, double *out)
{
        char *end;
        double d = v ? strtod(v, &end) : -1;
        if (!v || !*v || *end || !(d >= 0 && d <= 1e6))
                return -EINVAL;
        *out = d;
        return 0;
}

static int path(const char *v, char **out)
{
        if (!v || !*v)
                return -EINVAL;
        free(*out);
        *out = util_strdup(v);
        return *out ? 0 : -ENOMEM;
}

static int set_key(struct srv_conf *c, const char *k, const char *v)
{
        uint64_t n = 0;
        if (!strcmp(k, "socket"))
                return path(v, &c->socket);
        if (!strcmp(k, "listen"))
                return path(v, &c->listen);
        if (!strcmp(k, "token_file"))
                return path(v, &c->token_file);
        if (!strcmp(k, "workers"))
                return count(v, 1, 1024, &c->workers);
        if (!strcmp(k, "queue"))
                return count(v, 0, 100000, &c->queue);
        if (!strcmp(k, "results"))
                return count(v, 0, 100000, &c->results);
        if (!strcmp(k, "max_connections"))
                return count(v, 1, 10000, &c->max_connections);
        if (!strcmp(k, "rate"))
                return rate(v, &c->rate);
        if (!strcmp(k, "burst"))
                return rate(v, &c->burst);
        if (!strcmp(k, "drain_timeout") || !strcmp(k, "request_timeout")) {
                if (!v || units_parse_duration_ms(v, &n) < 0 || n == 0 || n > 24ull * 3600 * 1000)
                        return -EINVAL;
                *(k[0] == 'd' ? &c->drain_ms : &c->request_timeout_ms) = n;
                return 0;
        }
        if (!strcmp(k, "body_limit")) {
                if (!v || units_parse_size(v, &n) < 0 || n == 0 || n > SRV_MAX_CONFIG_BODY)
                        return -EINVAL;
                c->body_limit = n;
                return 0;
        }
        return -ENOENT;
}

static const char *const why[] = {
        "socket: a path", "listen: ADDR:PORT", "token_file: a path", "workers: 1 to 1024",
        "queue: 0 to 100000", "results: 0 to 100000", "max_connections: 1 to 10000",
        "rate: requests per second, 0 (off) to 1e6", "burst: 0 to 1e6",
        "drain_timeout: a duration (30s) up to 24h", "request_timeout: a duration (30s) up to 24h",
        "body_limit: a size (1M) up to 16M",
};

static const char *expected(const char *k)
{
        for (size_t i = 0; i < ARRAY_SIZE(why); i++)
                if (!strncmp(why[i], k, strlen(k)) && why[i][strlen(k)] == ':')
                        return strchr(why[i], ' ') + 1;
        return "?";
}

static int load_section(yaml_document_t *d, yaml_node_t *m, const char *name, void *ctx, struct zb_error *err)
{
        struct srv_conf *c = ctx;
        if (m->type != YAML_MAPPING_NODE)
                return err_set(err, EINVAL, "%s:%zu: serve: expected a mapping", name, m->start_mark.line + 1);
        for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
                const char *k = yaml_doc_scalar(d, pr->key), *v = yaml_doc_scalar(d, pr->value);
                size_t line = yaml_document_get_node(d, pr->key)->start_mark.line + 1;
                int r = k ? set_key(c, k, v) : -ENOENT;
                if (r == -ENOENT)
                        return err_set(err, EINVAL, "%s:%zu: serve.%s: unknown key (see docs/serve.md)", name,
                                       line, k ? k : "?");
                if (r < 0)
                        return err_set(err, EINVAL, "%s:%zu: serve.%s: expected %s", name, line, k, expected(k));
        }
        return 0;
}

static void defaults(struct srv_conf *c)
{
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        c->workers = cpus > 0 ? (unsigned)(cpus > 1024 ? 1024 : cpus) : 1;
        c->queue = 64;
        c->results = 256;
        c->max_connections = 256;
        c->drain_ms = 30000;
        c->request_timeout_ms = 30000;
        c->body_limit = 1u << 20;
        c->rate = 50;
        c->burst = 100;
}

int srv_conf_load(struct srv_conf *c, const char *data, size_t len, const char *name, struct zb_error *err)
{
        memset(c, 0, sizeof(*c));
        defaults(c);
        int r = yaml_doc_section(data, len, name, "serve", load_section, c, err);
        if (r == 0 && c->burst < 1 && c->rate > 0)
                c->burst = 1;
        return r;
}

void srv_conf_free(struct srv_conf *c)
{
        free(c->socket);
        free(c->listen);
        free(c->token_file);
        memset(c, 0, sizeof(*c));
}
