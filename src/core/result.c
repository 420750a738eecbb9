/* Result object: statuses, exit codes, and the JSON verdict (json-c). The
 * captured output is made valid UTF-8 (invalid bytes become U+FFFD) so the
 * verdict is always valid JSON whatever the command printed. */
#define _GNU_SOURCE
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>

#include "result.h"

struct zb_result *res_new(const char *backend)
{
        struct zb_result *r = calloc(1, sizeof(*r));
        if (r)
                r->backend = backend;
        return r;
}

void zb_result_free(struct zb_result *r)
{
        if (!r)
                return;
        outbuf_free(&r->out);
        outbuf_free(&r->err);
        res_disk_free(r);
        viol_free(&r->viol);
        free(r->warnings);
        free(r->error);
        free(r->wasm_runtime);
        free(r->wasm_runtime_path);
        free(r->wasm_runtime_version);
        free(r->cow_id);
        free(r->cow_error);
        for (size_t i = 0; i < r->n_changes; i++) {
                struct pol_zone_changes *c = &r->changes[i];
                free(c->zone);
                for (size_t j = 0; j < c->n_added; j++)
                        free(c->added[j]);
                for (size_t j = 0; j < c->n_modified; j++)
                        free(c->modified[j]);
                for (size_t j = 0; j < c->n_deleted; j++)
                        free(c->deleted[j]);
                free(c->added);
                free(c->modified);
                free(c->deleted);
        }
        free(r->changes);
        for (size_t i = 0; i < r->n_zone_ids; i++) {
                free(r->zone_ids[i]);
                free(r->zone_ids_name[i]);
        }
        free(r);
}

void res_layer(struct zb_result *r, const char *layer, bool applied)
{
        if (applied && r->n_applied < ZB_MAX_LAYERS)
                r->applied[r->n_applied++] = layer;
        else if (!applied && r->n_skipped < ZB_MAX_LAYERS)
                r->skipped[r->n_skipped++] = layer;
}

void res_zone_ids(struct zb_result *r, const char *name, const char *how)
{
        if (r->n_zone_ids >= ZB_RESULT_MAX_ZONE_IDS)
                return;
        r->zone_ids_name[r->n_zone_ids] = util_strdup(name);
        r->zone_ids[r->n_zone_ids] = util_strdup(how);
        r->n_zone_ids++;
}

const char *res_status_name(enum res_status s)
{
        static const char *const names[] = {
                [ZB_STATUS_EXITED] = "exited",          [ZB_STATUS_SIGNALED] = "signaled",
                [ZB_STATUS_TIMEOUT] = "timeout",        [ZB_STATUS_CPU_TIMEOUT] = "cpu_timeout",
                [ZB_STATUS_OOM] = "oom",                [ZB_STATUS_OUTPUT_LIMIT] = "output_limit",
                [ZB_STATUS_DENIED] = "denied",          [ZB_STATUS_SETUP_ERROR] = "setup_error",
                [ZB_STATUS_TRAP] = "trap",
        };
        return (unsigned)s < ARRAY_SIZE(names) ? names[s] : "unknown";
}

const char *zb_result_status(const struct zb_result *r)
{
        return res_status_name(r->status);
}

const char *zb_result_error(const struct zb_result *r)
{
        return r->error;
}

const char *zb_result_cow_id(const struct zb_result *r)
{
        return r->cow_id;
}

const char *zb_result_cow_error(const struct zb_result *r)
{
        return r->cow_error;
}

int zb_result_exit_code(const struct zb_result *r)
{
        switch (r->status) {
        case ZB_STATUS_EXITED:
                /* The command succeeded but the commit it was to be followed
                 * by did not happen: a script must not go on as if it had. */
                return r->cow_error && r->exit_code == 0 ? 125 : r->exit_code;
        case ZB_STATUS_SIGNALED:
                return 128 + r->signal;
        case ZB_STATUS_TIMEOUT:
        case ZB_STATUS_CPU_TIMEOUT:
                return 124;
        case ZB_STATUS_OOM:
                return 128 + SIGKILL;
        case ZB_STATUS_OUTPUT_LIMIT:
                return 128 + SIGPIPE;
        case ZB_STATUS_DENIED:
                return 126;
        case ZB_STATUS_TRAP:
                return 128 + SIGILL;
        case ZB_STATUS_SETUP_ERROR:
                return r->setup_kind == ZB_SETUP_NOT_FOUND  ? 127
                       : r->setup_kind == ZB_SETUP_NOT_EXEC ? 126
                                                            : 125;
        }
        return 125;
}

/* Length of the valid UTF-8 sequence at S (1-4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
        if (s[0] < 0x80)
                return 1;
        size_t len;
        unsigned min;
        unsigned cp;
        if ((s[0] & 0xe0) == 0xc0) {
                len = 2, min = 0x80, cp = s[0] & 0x1f;
        } else if ((s[0] & 0xf0) == 0xe0) {
                len = 3, min = 0x800, cp = s[0] & 0x0f;
        } else if ((s[0] & 0xf8) == 0xf0) {
                len = 4, min = 0x10000, cp = s[0] & 0x07;
        } else {
                return 0;
        }
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

/* Copy with invalid sequences replaced by U+FFFD. */
char *util_utf8_sanitize(const char *data, size_t n, size_t *out_len)
{
        char *out = malloc(n * 3 + 1);
        size_t o = 0;
        if (!out)
                return NULL;
        for (size_t i = 0; i < n;) {
                size_t k = utf8_seq((const unsigned char *)data + i, n - i);
                if (k == 0) {
                        memcpy(out + o, "\xef\xbf\xbd", 3);
                        o += 3;
                        i++;
                } else {
                        memcpy(out + o, data + i, k);
                        o += k;
                        i += k;
                }
        }
        out[o] = '\0';
        *out_len = o;
        return out;
}

static json_object *ms(double v)
{
        char s[32];
        snprintf(s, sizeof(s), "%.3f", v);
        return json_object_new_double_s(v, s);
}

static json_object *text_n(const char *data, size_t len)
{
        size_t n = 0;
        _cleanup_(freep) char *clean = util_utf8_sanitize(data ? data : "", data ? len : 0, &n);
        if (!clean)
                return NULL;
        /* json-c takes an int length: a capture that sanitises to more
         * (--output-limit near 1g of invalid bytes, each 3 once replaced)
         * is cut at the last whole character below INT_MAX. */
        if (n > INT_MAX) {
                n = INT_MAX;
                while (n > 0 && ((unsigned char)clean[n] & 0xc0) == 0x80)
                        n--;
        }
        return json_object_new_string_len(clean, (int)n);
}

static json_object *text(const struct outbuf *b)
{
        return text_n(b->data, b->len);
}

static json_object *layers(const char *const *v, size_t n)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < n; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

static json_object *paths(char *const *v, size_t n)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < n; i++)
                json_object_array_add(a, text_n(v[i], strlen(v[i])));
        return a;
}

/* "cow_id", "cow_action", "changes": {zone: {added, modified, deleted}}. */
static void add_cow(json_object *o, const struct zb_result *r)
{
        json_object *ch = json_object_new_object();
        for (size_t i = 0; ch && i < r->n_changes; i++) {
                const struct pol_zone_changes *c = &r->changes[i];
                json_object *z = json_object_new_object();
                json_object_object_add(z, "added", paths(c->added, c->n_added));
                json_object_object_add(z, "modified", paths(c->modified, c->n_modified));
                json_object_object_add(z, "deleted", paths(c->deleted, c->n_deleted));
                if (c->truncated)
                        json_object_object_add(z, "truncated", json_object_new_boolean(true));
                json_object_object_add(ch, c->zone, z);
        }
        json_object_object_add(o, "cow_id", r->cow_id ? json_object_new_string(r->cow_id) : NULL);
        json_object_object_add(o, "cow_action",
                               json_object_new_string(r->cow_action ? r->cow_action : "none"));
        json_object_object_add(o, "changes", ch);
        if (r->cow_error)
                json_object_object_add(o, "cow_error", text_n(r->cow_error, strlen(r->cow_error)));
}

/* "network": {"mode": "allowlist", "proxy": {"allowed", "refused", "failed"}}. */
static void add_network(json_object *o, const struct zb_result *r)
{
        json_object *n = json_object_new_object();
        json_object *px = json_object_new_object();
        json_object_object_add(px, "allowed", json_object_new_uint64(r->proxy_allowed));
        json_object_object_add(px, "refused", json_object_new_uint64(r->proxy_refused));
        json_object_object_add(px, "failed", json_object_new_uint64(r->proxy_failed));
        json_object_object_add(n, "mode", json_object_new_string("allowlist"));
        json_object_object_add(n, "proxy", px);
        json_object_object_add(o, "network", n);
}

/* The wasm backend's runtime: {"name", "path", "version"} (null: unknown). */
static void add_runtime(json_object *o, const struct zb_result *r)
{
        json_object *rt = json_object_new_object();
        const char *v = r->wasm_runtime_version;
        json_object_object_add(rt, "name", json_object_new_string(r->wasm_runtime));
        json_object_object_add(rt, "path",
                               r->wasm_runtime_path ? json_object_new_string(r->wasm_runtime_path) : NULL);
        json_object_object_add(rt, "version", v && v[0] ? json_object_new_string(v) : NULL);
        json_object_object_add(o, "runtime", rt);
}

void res_json_verdict(struct json_object *o, const struct zb_result *r)
{
        json_object_object_add(o, "status", json_object_new_string(res_status_name(r->status)));
        json_object_object_add(o, "exit_code",
                               r->status == ZB_STATUS_EXITED ? json_object_new_int(r->exit_code) : NULL);
        json_object_object_add(o, "signal", r->signal ? json_object_new_int(r->signal) : NULL);
        json_object_object_add(o, "cli_exit_code", json_object_new_int(zb_result_exit_code(r)));
        json_object_object_add(o, "wall_ms", ms(r->wall_ms));
        json_object_object_add(o, "cpu_user_ms", ms(r->cpu_user_ms));
        json_object_object_add(o, "cpu_sys_ms", ms(r->cpu_sys_ms));
        json_object_object_add(o, "peak_memory_bytes",
                               r->peak_memory_bytes ? json_object_new_uint64(r->peak_memory_bytes) : NULL);
        json_object_object_add(o, "oom_killed", json_object_new_boolean(r->oom_killed));
}

char *zb_result_json(const struct zb_result *r)
{
        json_object *o = json_object_new_object();
        json_object *l = json_object_new_object();
        char *s = NULL;

        if (!o || !l)
                goto out;
        res_json_verdict(o, r);
        json_object_object_add(o, "stdout", r->captured ? text(&r->out) : NULL);
        json_object_object_add(o, "stdout_truncated", json_object_new_boolean(r->out.dropped > 0));
        json_object_object_add(o, "stderr", r->captured ? text(&r->err) : NULL);
        json_object_object_add(o, "stderr_truncated", json_object_new_boolean(r->err.dropped > 0));
        res_json_limits(o, r);
        json_object_object_add(l, "applied", layers(r->applied, r->n_applied));
        json_object_object_add(l, "skipped", layers(r->skipped, r->n_skipped));
        if (r->id_map) {
                json_object *ids = json_object_new_object();
                json_object_object_add(ids, "map", json_object_new_string(r->id_map));
                json_object_object_add(ids, "count", json_object_new_int64(r->id_count));
                json_object_object_add(l, "ids", ids);
        }
        if (r->n_zone_ids) {
                json_object *z = json_object_new_object();
                for (size_t i = 0; z && i < r->n_zone_ids; i++)
                        if (r->zone_ids_name[i] && r->zone_ids[i])
                                json_object_object_add(z, r->zone_ids_name[i],
                                                       json_object_new_string(r->zone_ids[i]));
                json_object_object_add(l, "zones", z);
        }
        json_object_object_add(o, "layers", l);
        l = NULL;
        json_object_object_add(o, "backend", json_object_new_string(r->backend ? r->backend : "?"));
        if (r->error)
                json_object_object_add(o, "error", text_n(r->error, strlen(r->error)));
        if (r->wasm_runtime)
                add_runtime(o, r);
        if (r->has_cow)
                add_cow(o, r);
        if (r->has_proxy)
                add_network(o, r);
        viol_json(o, &r->viol);
        s = util_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE));
out:
        json_object_put(l);
        json_object_put(o);
        return s;
}
