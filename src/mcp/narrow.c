/* Tool arguments → a policy: the server's config, loaded afresh for each
 * call, then narrowed. The policy belongs to the server, not to the model:
 * an argument may shorten a time limit, lower a memory or process cap, cut
 * the network down to none or to a subset of the config's allowlist, set
 * variables and the working directory; anything that would widen the
 * config (a longer or no limit, network host or an unlisted host) is
 * refused with a message naming the argument and the config's value. There
 * is no argument for zones: the config's are the only ones. */
#define _GNU_SOURCE
#include <stdio.h>

#include "../core/keys.h"
#include "mcp.h"

const char *mcp_arg_string(json_object *args, const char *key)
{
        json_object *v;
        if (!json_object_object_get_ex(args, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

int mcp_args_check(json_object *args, const char *const *allowed, struct zb_error *err)
{
        json_object_object_foreach(args, key, val)
        {
                (void)val;
                bool ok = false;
                for (size_t i = 0; allowed[i] && !ok; i++)
                        ok = strcmp(key, allowed[i]) == 0;
                if (!ok)
                        return err_set(err, EINVAL, "%.64s: unknown argument", key);
        }
        return 0;
}

/* A size or duration argument as text: a string as given, a number as is. */
static int scalar_text(json_object *v, const char *name, char *buf, size_t n, struct zb_error *err)
{
        if (json_object_is_type(v, json_type_string))
                snprintf(buf, n, "%s", json_object_get_string(v));
        else if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0)
                snprintf(buf, n, "%lld", (long long)json_object_get_int64(v));
        else if (json_object_is_type(v, json_type_double) && json_object_get_double(v) >= 0)
                snprintf(buf, n, "%.3f", json_object_get_double(v));
        else
                return err_set(err, EINVAL, "%s: expected a string or a non-negative number", name);
        return 0;
}

static bool unlimited(uint64_t v)
{
        return v == 0 || v == ZB_UNLIMITED;
}

/* The limits an argument may lower, with the policy key each sets. */
struct limit_arg {
        const char *arg, *key;
        size_t offset; /* in struct pol_limits */
};
static const struct limit_arg limit_args[] = {
        { "timeout", "limits.wall_time", offsetof(struct pol_limits, wall_time_ms) },
        { "cpu_time", "limits.cpu_time", offsetof(struct pol_limits, cpu_time_ms) },
        { "memory", "limits.memory", offsetof(struct pol_limits, memory) },
        { "pids", "limits.pids", offsetof(struct pol_limits, pids) },
};

static uint64_t limit_of(const struct zb_policy *p, const struct limit_arg *l)
{
        return *(const uint64_t *)(const void *)((const char *)&p->limits + l->offset);
}

static int narrow_limit(struct zb_policy *p, const struct zb_policy *base, const struct limit_arg *l,
                        json_object *v, struct zb_error *err)
{
        char text[64];
        int r = scalar_text(v, l->arg, text, sizeof(text), err);
        if (r < 0)
                return r;
        if ((r = pol_set_key(p, l->key, text, l->arg, NULL, err)) < 0)
                return r;
        uint64_t want = limit_of(p, l), have = limit_of(base, l);
        if (!unlimited(have) && (unlimited(want) || want > have))
                return err_set(err, EPERM, "%s: %s would widen the server's config (%s is %llu%s); "
                                    "arguments may only narrow it", l->arg, text, l->key,
                                    (unsigned long long)have,
                                    strstr(l->key, "time") ? " ms" : strcmp(l->arg, "memory") == 0 ? " bytes" : "");
        return 0;
}

static void drop_allowlist(struct zb_policy *p)
{
        for (size_t i = 0; i < p->net.n_allow; i++)
                free(p->net.allow[i]);
        free(p->net.allow);
        p->net.allow = NULL;
        p->net.n_allow = 0;
}

static bool base_allows(const struct zb_policy *base, const char *host)
{
        for (size_t i = 0; i < base->net.n_allow; i++)
                if (strcmp(base->net.allow[i], host) == 0)
                        return true;
        return false;
}

/* network: "none" or "loopback" (always narrower), "host" (only when the
 * config says host), or a list of allowlist entries the config has. */
static int narrow_network(struct zb_policy *p, const struct zb_policy *base, json_object *v,
                          struct zb_error *err)
{
        if (json_object_is_type(v, json_type_array)) {
                size_t n = json_object_array_length(v);
                if (n == 0)
                        return err_set(err, EINVAL, "network: an empty list (use \"none\")");
                for (size_t i = 0; i < n; i++) {
                        json_object *e = json_object_array_get_idx(v, i);
                        if (!json_object_is_type(e, json_type_string))
                                return err_set(err, EINVAL, "network[%zu]: expected a string", i);
                        if (!base_allows(base, json_object_get_string(e)))
                                return err_set(err, EPERM, "network[%zu]: %.200s is not in the server's "
                                                    "network.allow; arguments may only narrow it", i,
                                                    json_object_get_string(e));
                }
                drop_allowlist(p);
                for (size_t i = 0; i < n; i++) {
                        int r = pol_set_key(p, "network.allow",
                                                  json_object_get_string(json_object_array_get_idx(v, i)),
                                                  "network", NULL, err);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
        if (!s)
                return err_set(err, EINVAL, "network: expected none, loopback, host or a list of hosts");
        if (strcmp(s, "host") == 0 && base->network != ZB_NET_HOST)
                return err_set(err, EPERM, "network: host would widen the server's config (network is %s); "
                                    "arguments may only narrow it",
                                    base->net.n_allow ? "an allowlist" : base->network == ZB_NET_LOOPBACK ? "loopback" : "none");
        if (strcmp(s, "host") != 0 && strcmp(s, "none") != 0 && strcmp(s, "loopback") != 0)
                return err_set(err, EINVAL, "network: %.64s: expected none, loopback, host or a list of hosts", s);
        drop_allowlist(p);
        return pol_set_key(p, "network", s, "network", NULL, err);
}

static int set_env(struct zb_policy *p, json_object *v, struct zb_error *err)
{
        if (!json_object_is_type(v, json_type_object))
                return err_set(err, EINVAL, "env: expected an object NAME: value");
        json_object_object_foreach(v, k, val)
        {
                if (!*k || strchr(k, '=') || !json_object_is_type(val, json_type_string))
                        return err_set(err, EINVAL, "env: each entry is NAME: \"value\"");
                _cleanup_(freep) char *kv = util_asprintf("%s=%s", k, json_object_get_string(val));
                if (!kv || pol_set_env(p, kv) < 0)
                        return err_set(err, ENOMEM, "env: out of memory");
        }
        return 0;
}

static int narrow(struct zb_policy *p, const struct zb_policy *base, json_object *args, struct zb_error *err)
{
        json_object *v;
        for (size_t i = 0; i < ARRAY_SIZE(limit_args); i++)
                if (json_object_object_get_ex(args, limit_args[i].arg, &v)) {
                        int r = narrow_limit(p, base, &limit_args[i], v, err);
                        if (r < 0)
                                return r;
                }
        if (json_object_object_get_ex(args, "network", &v)) {
                int r = narrow_network(p, base, v, err);
                if (r < 0)
                        return r;
        }
        if (json_object_object_get_ex(args, "env", &v)) {
                int r = set_env(p, v, err);
                if (r < 0)
                        return r;
        }
        if (json_object_object_get_ex(args, "workdir", &v)) {
                if (!json_object_is_type(v, json_type_string))
                        return err_set(err, EINVAL, "workdir: expected a string");
                return pol_set_key(p, "workdir", json_object_get_string(v), "workdir", NULL, err);
        }
        return 0;
}

struct zb_policy *mcp_policy(const struct mcp_server *s, json_object *args, const char *const *keys,
                             struct zb_error *err)
{
        if (mcp_args_check(args, keys, err) < 0)
                return NULL;
        struct zb_policy *p = zb_policy_new();
        if (!p) {
                err_set(err, ENOMEM, "out of memory");
                return NULL;
        }
        if (pol_load_yaml_buffer(p, s->cfg, s->cfg_len, s->cfg_name, s->cfg_dir, err) < 0 ||
            narrow(p, s->base, args, err) < 0) {
                zb_policy_free(p);
                return NULL;
        }
        return p;
}

int mcp_command(json_object *args, char ***argv_out, size_t *argc_out, struct zb_error *err)
{
        json_object *v;
        if (!json_object_object_get_ex(args, "command", &v))
                return err_set(err, EINVAL, "command: required (an argv array, or a string for sh -c)");
        size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 3;
        if (json_object_is_type(v, json_type_string)) {
                if (!*json_object_get_string(v))
                        return err_set(err, EINVAL, "command: empty");
        } else if (!json_object_is_type(v, json_type_array) || n == 0) {
                return err_set(err, EINVAL, "command: expected a non-empty array of strings, or a string");
        }
        char **argv = calloc(n + 1, sizeof(char *));
        if (!argv)
                return err_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_is_type(v, json_type_array) ? json_object_array_get_idx(v, i) : NULL;
                if (e && !json_object_is_type(e, json_type_string)) {
                        free(argv);
                        return err_set(err, EINVAL, "command[%zu]: expected a string", i);
                }
                argv[i] = (char *)(e ? json_object_get_string(e)
                                     : i == 0 ? "sh" : i == 1 ? "-c" : json_object_get_string(v));
        }
        *argv_out = argv; /* the strings belong to ARGS */
        *argc_out = n;
        return 0;
}
