/* The verdict's limit fields that are not a status of their own: which
 * stream went past the output cap (Piston's OL for stdout, EL for stderr),
 * the file-size limit (SIGXFSZ), and zones with a size cap (used bytes,
 * and whether the cap was reached). The CLI prints the same as one note
 * line on stderr when it prints no JSON. The same facts, and the statuses
 * that are limits (oom, timeout, cpu_timeout, output_limit), are the
 * violations of layers resources and limits: read from the finished
 * result, so every backend reports them at no cost during the run. */
#define _GNU_SOURCE
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>

#include "policy.h"
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

#define BLOCKED_LINE_MAX 400 /* bytes: one terminal line or two */

char *zb_result_blocked(const struct zb_result *r)
{
        return viol_summary(&r->viol, BLOCKED_LINE_MAX);
}

void res_disk_free(struct zb_result *r)
{
        for (size_t i = 0; i < r->n_disk; i++)
                free(r->disk[i].zone);
        free(r->disk);
        r->disk = NULL;
        r->n_disk = 0;
}

/* ------------------------------------------------------------ limits as violations */

/* BYTES as the flags write it: 512m, 1g, 4096. */
static void fmt_size(char *buf, size_t size, uint64_t bytes)
{
        static const char units[] = "kmgt";
        int u = -1;
        while (u < 3 && bytes >= 1024 && bytes % 1024 == 0) {
                bytes /= 1024;
                u++;
        }
        if (u < 0)
                snprintf(buf, size, "%llu", (unsigned long long)bytes);
        else
                snprintf(buf, size, "%llu%c", (unsigned long long)bytes, units[u]);
}

/* MS as a duration the flags take: 1500ms, 10s. */
static void fmt_ms(char *buf, size_t size, uint64_t ms)
{
        if (ms % 1000 == 0)
                snprintf(buf, size, "%llus", (unsigned long long)(ms / 1000));
        else
                snprintf(buf, size, "%llums", (unsigned long long)ms);
}

static void add_limit(struct zb_result *r, enum viol_layer layer, const char *operation,
                      const char *target, const char *rule, const char *hint, uint64_t count,
                      double at_ms)
{
        viol_add(&r->viol, layer, operation, target, strlen(target), rule, hint, count, at_ms);
}

/* Memory and processes: the cgroup's own counters. */
static void viol_resources(const struct zb_policy *p, struct zb_result *r)
{
        char v[32], target[64];
        if (r->status == ZB_STATUS_OOM || r->oom_killed) {
                fmt_size(v, sizeof(v), p->limits.memory);
                snprintf(target, sizeof(target), "limit %s", p->limits.memory ? v : "(host)");
                add_limit(r, VIOL_RESOURCES, "memory", target, "oom_kill: limits.memory",
                          "--memory SIZE (limits.memory)", 1, r->wall_ms);
        }
        if (r->pids_max_events) {
                snprintf(target, sizeof(target), "limit %llu reached",
                         (unsigned long long)p->limits.pids);
                add_limit(r, VIOL_RESOURCES, "pids", target, "pids.max: limits.pids",
                          "--pids-limit N (limits.pids)", r->pids_max_events, -1);
        }
        for (size_t i = 0; i < r->n_disk; i++) {
                if (!r->disk[i].reached)
                        continue;
                fmt_size(v, sizeof(v), r->disk[i].limit);
                snprintf(target, sizeof(target), "limit %s", v);
                _cleanup_(freep) char *op = util_asprintf("zone %s full", r->disk[i].zone);
                if (op)
                        add_limit(r, VIOL_RESOURCES, op, target, "the zone's size cap (ENOSPC)",
                                  "size= of the zone (--volume, --tmpfs, zones[].size)", 1, -1);
        }
}

void res_viol_output(struct zb_result *r, uint64_t limit)
{
        char v[32], target[64];
        const char *over = output_over(r);
        if (!over)
                return;
        fmt_size(v, sizeof(v), limit);
        snprintf(target, sizeof(target), "%s, limit %s", over, v);
        add_limit(r, VIOL_LIMITS, "output", target,
                  r->status == ZB_STATUS_OUTPUT_LIMIT ? "limits.output (action kill)"
                                                      : "limits.output (action truncate)",
                  "--output-limit SIZE (limits.output)", 1,
                  r->status == ZB_STATUS_OUTPUT_LIMIT ? r->wall_ms : -1);
}

/* Time and output: zonebox's own limits, each once. */
static void viol_time_output(const struct zb_policy *p, struct zb_result *r)
{
        char v[32], target[64];
        if (r->status == ZB_STATUS_TIMEOUT) {
                fmt_ms(v, sizeof(v), p->limits.wall_time_ms);
                snprintf(target, sizeof(target), "limit %s", v);
                add_limit(r, VIOL_LIMITS, "wall_time", target, "limits.wall_time",
                          "--timeout DURATION (limits.wall_time)", 1, (double)p->limits.wall_time_ms);
        }
        if (r->status == ZB_STATUS_CPU_TIMEOUT) {
                fmt_ms(v, sizeof(v), p->limits.cpu_time_ms);
                snprintf(target, sizeof(target), "limit %s", v);
                add_limit(r, VIOL_LIMITS, "cpu_time", target, "limits.cpu_time",
                          "--cpu-time DURATION (limits.cpu_time)", 1, r->wall_ms);
        }
        res_viol_output(r, p->limits.output);
        if (file_size_hit(r)) {
                fmt_size(v, sizeof(v), p->limits.file_size);
                snprintf(target, sizeof(target), "limit %s", v);
                add_limit(r, VIOL_LIMITS, "file_size", target, "RLIMIT_FSIZE: limits.file_size",
                          "--ulimit fsize=SIZE (limits.file_size)", 1, r->wall_ms);
        }
}

void res_viol_limits(const struct zb_policy *p, struct zb_result *r)
{
        if (r->status == ZB_STATUS_SETUP_ERROR || r->status == ZB_STATUS_DENIED)
                return; /* nothing ran */
        viol_resources(p, r);
        viol_time_output(p, r);
        viol_source(&r->viol, "limits", "observed");
        bool cgroup = false;
        for (size_t i = 0; i < r->n_applied; i++)
                cgroup |= strcmp(r->applied[i], "resources") == 0;
        viol_source(&r->viol, "resources",
                    cgroup ? "observed"
                           : "not observable: no cgroup for this run (oom and pids limit unseen; zone caps still seen)");
}
