/* The violations of one run (violation.h): a deduplicated, capped set, its
 * JSON and its one-line summary. Entries are found by a linear scan: at most
 * VIOL_MAX of them, and a hammering source adds counts to one entry. */
#define _GNU_SOURCE
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "result.h"
#include "violation.h"

static const char *const layer_names[VIOL_N_LAYERS] = {
        [VIOL_SECCOMP] = "seccomp",   [VIOL_FILESYSTEM] = "filesystem", [VIOL_NETWORK] = "network",
        [VIOL_PROXY] = "proxy",       [VIOL_RESOURCES] = "resources",   [VIOL_APPROVAL] = "approval",
        [VIOL_LIMITS] = "limits",
};

const char *viol_layer_name(enum viol_layer l)
{
        return (unsigned)l < VIOL_N_LAYERS ? layer_names[l] : "unknown";
}

void viol_free(struct viol_set *s)
{
        for (size_t i = 0; i < s->n; i++) {
                free(s->v[i].operation);
                free(s->v[i].target);
                free(s->v[i].rule);
                free(s->v[i].hint);
        }
        free(s->v);
        for (size_t i = 0; i < s->n_sources; i++)
                free(s->sources[i].state);
        memset(s, 0, sizeof(*s));
}

/* Escape the controls of valid UTF-8 TEXT: C0 and DEL as \xNN, C1 (U+0080..
 * U+009F, the bytes C2 80..C2 9F) as \u00NN. Stops before MAX bytes. */
static char *escape_controls(const char *text, size_t n, size_t max, bool *cut)
{
        char *out = malloc(max + 4); /* room for the "..." viol_sanitize may add */
        if (!out)
                return NULL;
        size_t o = 0;
        *cut = false;
        for (size_t i = 0; i < n;) {
                unsigned char c = (unsigned char)text[i];
                char tmp[8];
                size_t len, used;
                if (c < 0x20 || c == 0x7f) {
                        len = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", c);
                        used = 1;
                } else if (c == 0xc2 && i + 1 < n && (unsigned char)text[i + 1] < 0xa0) {
                        len = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x", (unsigned char)text[i + 1]);
                        used = 2;
                } else {
                        /* one whole UTF-8 sequence (TEXT is valid UTF-8) */
                        used = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
                        if (used > n - i)
                                used = n - i;
                        memcpy(tmp, text + i, used);
                        len = used;
                }
                if (o + len > max) {
                        *cut = true;
                        break;
                }
                memcpy(out + o, tmp, len);
                o += len;
                i += used;
        }
        out[o] = '\0';
        return out;
}

char *viol_sanitize(const char *data, size_t len, size_t max)
{
        if (!data)
                return strdup("");
        if (max < 8)
                max = 8;
        bool longer = len > max;
        size_t utf8_len = 0;
        char *utf8 = util_utf8_sanitize(data, longer ? max : len, &utf8_len);
        if (!utf8)
                return NULL;
        bool cut = false;
        char *out = escape_controls(utf8, utf8_len, max - 3, &cut);
        free(utf8);
        if (out && (cut || longer))
                memcpy(out + strlen(out), "...", 4); /* escape_controls left room: at most MAX - 3 bytes */
        return out;
}

static struct viol *find(struct viol_set *s, enum viol_layer layer, const char *operation,
                         const char *target)
{
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i].layer == layer && strcmp(s->v[i].operation, operation) == 0 &&
                    strcmp(s->v[i].target, target) == 0)
                        return &s->v[i];
        return NULL;
}

const struct viol *viol_add(struct viol_set *s, enum viol_layer layer, const char *operation,
                            const char *target, size_t len, const char *rule, const char *hint,
                            uint64_t count, double at_ms)
{
        if (count == 0)
                count = 1;
        char *t = viol_sanitize(target, target ? len : 0, VIOL_TARGET_MAX);
        if (!t)
                return NULL;
        struct viol *v = find(s, layer, operation, t);
        if (v) {
                free(t);
                v->count += count;
                if (at_ms >= 0 && (v->first_ms < 0 || at_ms < v->first_ms))
                        v->first_ms = at_ms;
                return v;
        }
        if (s->n >= VIOL_MAX) {
                free(t);
                s->dropped += count;
                return NULL;
        }
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 8;
                struct viol *nv = realloc(s->v, cap * sizeof(*nv));
                if (!nv) {
                        free(t);
                        return NULL;
                }
                s->v = nv;
                s->cap = cap;
        }
        v = &s->v[s->n];
        *v = (struct viol){ .layer = layer, .target = t, .count = count, .first_ms = at_ms };
        v->operation = strdup(operation ? operation : "");
        v->rule = strdup(rule ? rule : "");
        v->hint = hint ? strdup(hint) : NULL;
        if (!v->operation || !v->rule || (hint && !v->hint)) {
                free(v->operation);
                free(v->rule);
                free(v->hint);
                free(t);
                return NULL;
        }
        s->n++;
        if (s->on_new)
                s->on_new(s->on_new_data, v);
        return v;
}

void viol_source(struct viol_set *s, const char *name, const char *state)
{
        size_t i = 0;
        while (i < s->n_sources && strcmp(s->sources[i].name, name) != 0)
                i++;
        if (i == VIOL_MAX_SOURCES)
                return;
        char *copy = strdup(state);
        if (!copy)
                return;
        if (i == s->n_sources)
                s->n_sources++;
        else
                free(s->sources[i].state);
        s->sources[i] = (struct viol_source_state){ .name = name, .state = copy };
}

struct json_object *viol_entry_json(const struct viol *v)
{
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "layer", json_object_new_string(viol_layer_name(v->layer)));
        json_object_object_add(o, "operation", json_object_new_string(v->operation));
        json_object_object_add(o, "target", json_object_new_string(v->target));
        json_object_object_add(o, "count", json_object_new_uint64(v->count));
        if (v->first_ms >= 0)
                json_object_object_add(o, "first_ms", json_object_new_double(v->first_ms));
        json_object_object_add(o, "rule", json_object_new_string(v->rule));
        if (v->hint)
                json_object_object_add(o, "hint", json_object_new_string(v->hint));
        return o;
}

void viol_json(struct json_object *o, const struct viol_set *s)
{
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < s->n; i++)
                json_object_array_add(a, viol_entry_json(&s->v[i]));
        json_object_object_add(o, "violations", a);
        if (s->dropped)
                json_object_object_add(o, "violations_dropped", json_object_new_uint64(s->dropped));
        struct json_object *src = json_object_new_object();
        for (size_t i = 0; src && i < s->n_sources; i++)
                json_object_object_add(src, s->sources[i].name,
                                       json_object_new_string(s->sources[i].state));
        json_object_object_add(o, "violation_sources", src);
}

char *viol_summary(const struct viol_set *s, size_t max)
{
        if (s->n == 0 || max < 8)
                return NULL;
        char *out = malloc(max);
        if (!out)
                return NULL;
        size_t o = 0;
        out[0] = '\0';
        for (size_t i = 0; i < s->n; i++) {
                const struct viol *v = &s->v[i];
                int w = snprintf(out + o, max - o, "%s%s%s%s (%s)", i ? "; " : "", v->operation,
                                 v->target[0] ? " " : "", v->target, v->rule);
                if (w < 0 || (size_t)w >= max - o) {
                        /* the entry did not fit: end with "..." in place of it */
                        out[o] = '\0';
                        if (o + 5 < max)
                                snprintf(out + o, max - o, "%s", i ? "; ..." : "...");
                        return out;
                }
                o += (size_t)w;
        }
        return out;
}
