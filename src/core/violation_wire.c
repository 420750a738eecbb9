/* A violation set as text and back: how a session's daemon hands one exec's
 * violations to the client that ran it (wire.h, a fixed-size message). The
 * text is the verdict's own JSON ("violations", "violations_dropped",
 * "violation_sources"); entries that do not fit are counted as dropped, and
 * on the way back every string goes through viol_add's sanitizing again
 * (the daemon is ours, but the text crossed a socket). */
#define _GNU_SOURCE
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "violation.h"

/* Source names are literals in a set (violation.h): map received ones. */
static const char *const known_sources[] = {
        "seccomp", "filesystem", "network", "proxy", "resources", "approval", "limits", "landlock",
        "dns", "connect",
};

static char *to_text(const struct viol_set *s, size_t n, uint64_t dropped)
{
        struct viol_set view = *s;
        view.n = n;
        view.dropped = dropped;
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        viol_json(o, &view);
        const char *j = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        char *out = j ? strdup(j) : NULL;
        json_object_put(o);
        return out;
}

int viol_pack(const struct viol_set *s, char *buf, size_t size)
{
        for (size_t n = s->n;; n = n / 2) {
                char *t = to_text(s, n, s->dropped + (s->n - n));
                if (!t)
                        return -1;
                size_t len = strlen(t);
                if (len < size) {
                        memcpy(buf, t, len + 1);
                        free(t);
                        return 0;
                }
                free(t);
                if (n == 0)
                        break;
        }
        buf[0] = '\0';
        return -1;
}

static const char *get_str(json_object *e, const char *key)
{
        json_object *v;
        return json_object_object_get_ex(e, key, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v)
                       : NULL;
}

static void add_entry(struct viol_set *s, json_object *e)
{
        const char *layer = get_str(e, "layer"), *op = get_str(e, "operation");
        const char *target = get_str(e, "target"), *rule = get_str(e, "rule");
        json_object *v;
        if (!layer || !op)
                return;
        enum viol_layer l = VIOL_N_LAYERS;
        for (int i = 0; i < VIOL_N_LAYERS; i++)
                if (strcmp(layer, viol_layer_name((enum viol_layer)i)) == 0)
                        l = (enum viol_layer)i;
        if (l == VIOL_N_LAYERS)
                return;
        uint64_t count = json_object_object_get_ex(e, "count", &v) ? json_object_get_uint64(v) : 1;
        double at = json_object_object_get_ex(e, "first_ms", &v) ? json_object_get_double(v) : -1;
        viol_add(s, l, op, target, target ? strlen(target) : 0, rule, get_str(e, "hint"), count, at);
}

void viol_unpack(struct viol_set *s, const char *text)
{
        json_object *o = text && text[0] ? json_tokener_parse(text) : NULL, *a;
        if (!o)
                return;
        if (json_object_object_get_ex(o, "violations", &a) && json_object_is_type(a, json_type_array))
                for (size_t i = 0; i < json_object_array_length(a); i++)
                        add_entry(s, json_object_array_get_idx(a, i));
        if (json_object_object_get_ex(o, "violations_dropped", &a))
                s->dropped += json_object_get_uint64(a);
        if (json_object_object_get_ex(o, "violation_sources", &a) && json_object_is_type(a, json_type_object)) {
                json_object_object_foreach(a, name, state)
                {
                        for (size_t i = 0; i < sizeof(known_sources) / sizeof(known_sources[0]); i++)
                                if (strcmp(name, known_sources[i]) == 0 && json_object_is_type(state, json_type_string))
                                        viol_source(s, known_sources[i], json_object_get_string(state));
                }
        }
        json_object_put(o);
}
