/* The verdict's limit fields that are not a status of their own: which
 * stream went past the output cap (Piston's OL for stdout, EL for stderr),
 * the file-size limit (SIGXFSZ), and zones with a size cap (used bytes,
 * and whether the cap was reached). The CLI prints the same as one note
 * line on stderr when it prints no JSON. */
#define _GNU_SOURCE
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>

#include "result.h"

static const char *output_over(const struct zb_result *r)
{
        if (r->out.over_first)
                return "stdout";
        if (r->err.over_first)
                return "stderr";
        return NULL;
}

/* RLIMIT_FSIZE: the command itself was killed by SIGXFSZ. A process it
 * started that was, or one that ignores the signal and gets EFBIG, is not
 * visible from outside. */
static bool file_size_hit(const struct zb_result *r)
{
        return r->status == ZB_STATUS_SIGNALED && r->signal == SIGXFSZ;
}

void res_json_limits(struct json_object *o, const struct zb_result *r)
{
        const char *over = output_over(r);
        json_object_object_add(o, "output_limit_stream", over ? json_object_new_string(over) : NULL);
        json_object_object_add(o, "file_size_limit", json_object_new_boolean(file_size_hit(r)));
        if (r->warnings) {
                json_object *w = json_object_new_array();
                for (const char *s = r->warnings; w && *s;) {
                        size_t len = strcspn(s, "\n");
                        json_object_array_add(w, json_object_new_string_len(s, (int)len));
                        s += len + (s[len] == '\n');
                }
                json_object_object_add(o, "warnings", w);
        }
        if (!r->n_disk)
                return;
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < r->n_disk; i++) {
                const struct res_disk_use *d = &r->disk[i];
                json_object *z = json_object_new_object();
                if (!z)
                        break;
                json_object_object_add(z, "zone", json_object_new_string(d->zone));
                json_object_object_add(z, "size_bytes", json_object_new_uint64(d->limit));
                json_object_object_add(z, "used_bytes", json_object_new_uint64(d->used));
                json_object_object_add(z, "reached", json_object_new_boolean(d->reached));
                json_object_array_add(a, z);
        }
        json_object_object_add(o, "disk_limit", a);
}

static char *append(char *s, const char *more)
{
        char *n = s ? util_asprintf("%s; %s", s, more) : util_strdup(more);
        free(s);
        return n;
}

char *zb_result_limit_note(const struct zb_result *r)
{
        char *s = NULL;
        const char *over = output_over(r);
        if (over) {
                unsigned long long dropped = r->out.dropped;
                dropped += r->err.dropped;
                _cleanup_(freep) char *m = util_asprintf(
                        "output limit reached on %s: %llu bytes dropped%s", over, dropped,
                        r->status == ZB_STATUS_OUTPUT_LIMIT ? ", command stopped" : "");
                if (m)
                        s = append(s, m);
        }
        if (file_size_hit(r))
                s = append(s, "file-size limit reached (SIGXFSZ)");
        for (size_t i = 0; i < r->n_disk; i++) {
                if (!r->disk[i].reached)
                        continue;
                _cleanup_(freep) char *m = util_asprintf("zone '%s' reached its size cap (%llu bytes)",
                                                       r->disk[i].zone,
                                                       (unsigned long long)r->disk[i].limit);
                if (m)
                        s = append(s, m);
        }
        return s;
}

void res_disk_free(struct zb_result *r)
{
        for (size_t i = 0; i < r->n_disk; i++)
                free(r->disk[i].zone);
        free(r->disk);
        r->disk = NULL;
        r->n_disk = 0;
}
