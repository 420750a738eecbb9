/* The violation set (src/core/violation.c): dedup, cap, untrusted targets,
 * JSON and the one-line summary. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/audit.h"
#include "../../src/core/policy.h"
#include "../../src/core/result.h"
#include "../../src/core/violation.h"
#include "test.h"

TEST(violation_dedup_counts_and_keeps_first_time)
{
        struct viol_set s = { 0 };
        CHECK(viol_add(&s, VIOL_SECCOMP, "ptrace", "", 0, "seccomp default: ptrace", NULL, 1, 5.0));
        CHECK(viol_add(&s, VIOL_SECCOMP, "ptrace", "", 0, "seccomp default: ptrace", NULL, 999, 2.0));
        CHECK(viol_add(&s, VIOL_FILESYSTEM, "write", "/etc/passwd", 11, "root is read-only", "-v", 0, -1));
        CHECK(s.n == 2);
        CHECK(s.v[0].count == 1000);
        CHECK(s.v[0].first_ms == 2.0);
        CHECK(s.v[1].count == 1);
        CHECK(strcmp(s.v[1].hint, "-v") == 0);
        viol_free(&s);
        CHECK(s.n == 0 && s.v == NULL);
}

TEST(violation_cap_counts_what_it_drops)
{
        struct viol_set s = { 0 };
        char t[32];
        for (int i = 0; i < VIOL_MAX + 50; i++) {
                int n = snprintf(t, sizeof(t), "/ro/%d", i);
                viol_add(&s, VIOL_FILESYSTEM, "write", t, (size_t)n, "zone input is ro", NULL, 2, 1);
        }
        CHECK(s.n == VIOL_MAX);
        CHECK(s.dropped == 100); /* 50 distinct entries, 2 attempts each */
        /* an entry already in the set still counts after the cap */
        CHECK(viol_add(&s, VIOL_FILESYSTEM, "write", "/ro/0", 5, "zone input is ro", NULL, 1, 1));
        CHECK(s.v[0].count == 3);
        viol_free(&s);
}

TEST(violation_target_is_sanitized_and_capped)
{
        struct viol_set s = { 0 };
        size_t big = (size_t)64 * 1024;
        char *path = malloc(big);
        memset(path, 'a', big);
        path[0] = '/';
        const struct viol *v = viol_add(&s, VIOL_FILESYSTEM, "write", path, big, "r", NULL, 1, 0);
        CHECK(v && strlen(v->target) <= VIOL_TARGET_MAX);
        CHECK(v && strcmp(v->target + strlen(v->target) - 3, "...") == 0);
        free(path);
        /* control characters, DEL, a C1 control and invalid UTF-8 */
        static const char evil[] = "/x\n\x1b[31m\x7f\xc2\x85\xff\xfe ok \xc3\xa9";
        v = viol_add(&s, VIOL_FILESYSTEM, "write", evil, sizeof(evil) - 1, "r", NULL, 1, 0);
        CHECK(v != NULL);
        if (v) {
                CHECK(strcmp(v->target, "/x\\x0a\\x1b[31m\\x7f\\u0085\xef\xbf\xbd\xef\xbf\xbd ok \xc3\xa9") == 0);
                for (const char *p = v->target; *p; p++)
                        CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
        }
        /* a multi-byte character is never cut in half by the cap */
        static const unsigned char euro[3] = { 0xe2, 0x82, 0xac }; /* U+20AC */
        size_t wide_len = (size_t)3 * 400;
        char *wide = malloc(wide_len);
        for (size_t i = 0; wide && i < wide_len; i++)
                wide[i] = (char)euro[i % 3];
        char *w = wide ? viol_sanitize(wide, wide_len, 64) : NULL;
        CHECK(w && strlen(w) <= 64 && (strlen(w) - 3) % 3 == 0);
        free(w);
        free(wide);
        viol_free(&s);
}

TEST(violation_json_and_summary)
{
        struct zb_result *r = res_new("namespace");
        char *j = zb_result_json(r);
        CHECK_STR_CONTAINS(j, "\"violations\":[]");
        free(j);
        viol_source(&r->viol, "seccomp", "observed");
        viol_source(&r->viol, "filesystem", "not observable: test");
        viol_source(&r->viol, "seccomp", "observed again");
        CHECK(r->viol.n_sources == 2);
        viol_add(&r->viol, VIOL_FILESYSTEM, "write", "/etc/passwd", 11, "root is read-only", NULL, 1, 3);
        viol_add(&r->viol, VIOL_NETWORK, "lookup", "google.com", 10, "network none", "--network allowlist", 1, 4);
        j = zb_result_json(r);
        json_object *o = json_tokener_parse(j);
        json_object *a = NULL, *e = NULL, *src = NULL;
        CHECK(o && json_object_object_get_ex(o, "violations", &a) && json_object_array_length(a) == 2);
        if (a && json_object_array_length(a) == 2) {
                e = json_object_array_get_idx(a, 1);
                json_object *f = NULL;
                CHECK(json_object_object_get_ex(e, "layer", &f) &&
                      strcmp(json_object_get_string(f), "network") == 0);
                CHECK(json_object_object_get_ex(e, "hint", &f) &&
                      strcmp(json_object_get_string(f), "--network allowlist") == 0);
        }
        CHECK(o && json_object_object_get_ex(o, "violation_sources", &src));
        CHECK_STR_CONTAINS(j, "\"seccomp\":\"observed again\"");
        json_object_put(o);
        free(j);
        char *line = viol_summary(&r->viol, 200);
        CHECK(line && strcmp(line, "write /etc/passwd (root is read-only); lookup google.com (network none)") == 0);
        free(line);
        line = viol_summary(&r->viol, 30);
        CHECK(line && strlen(line) < 30 && strstr(line, "..."));
        free(line);
        zb_result_free(r);
}

TEST(violation_pack_round_trip_and_shrink)
{
        struct viol_set s = { 0 }, back = { 0 };
        char t[600], buf[16384];
        viol_source(&s, "seccomp", "observed");
        viol_source(&s, "bogus-name", "observed"); /* not a known source: not carried */
        for (int i = 0; i < VIOL_MAX; i++) {
                memset(t, 'p', sizeof(t));
                int n = snprintf(t, sizeof(t), "/ro/%d/", i);
                t[n] = 'p';
                viol_add(&s, VIOL_FILESYSTEM, "write", t, sizeof(t), "zone input is ro", "-v", 3, i);
        }
        viol_add(&s, VIOL_FILESYSTEM, "write", "/past-the-cap", 13, "r", NULL, 5, 1);
        CHECK(viol_pack(&s, buf, sizeof(buf)) == 0 && strlen(buf) < sizeof(buf));
        viol_unpack(&back, buf);
        /* what did not fit is counted, never lost silently */
        CHECK(back.n > 0 && back.n < VIOL_MAX);
        CHECK(back.dropped == s.dropped + (VIOL_MAX - back.n));
        CHECK(back.v[0].count == 3 && back.v[0].first_ms == 0 && strcmp(back.v[0].target, s.v[0].target) == 0);
        CHECK(back.n_sources == 1 && strcmp(back.sources[0].name, "seccomp") == 0);
        viol_free(&back);
        /* a tiny buffer: not even the empty set fits */
        CHECK(viol_pack(&s, buf, 8) == -1 && buf[0] == '\0');
        viol_unpack(&back, "not json");
        viol_unpack(&back, "{\"violations\":[{\"layer\":\"nope\",\"operation\":\"x\"},{\"layer\":\"proxy\"}]}");
        CHECK(back.n == 0);
        viol_free(&back);
        viol_free(&s);
}

TEST(violation_limits_from_the_result)
{
        struct zb_policy *p = zb_policy_new();
        struct zb_result *r = res_new("namespace");
        struct zb_error err = { 0 };
        CHECK(zb_policy_apply_flag(p, "--timeout", "1500ms", &err) == 0);
        CHECK(zb_policy_apply_flag(p, "--pids-limit", "16", &err) == 0);
        r->status = ZB_STATUS_TIMEOUT;
        r->pids_max_events = 7;
        res_layer(r, "resources", true);
        res_viol_limits(p, r);
        CHECK(r->viol.n == 2);
        CHECK(strcmp(r->viol.v[0].operation, "pids") == 0 && strcmp(r->viol.v[0].target, "limit 16 reached") == 0 &&
              r->viol.v[0].count == 7);
        CHECK(strcmp(r->viol.v[1].target, "limit 1500ms") == 0 && r->viol.v[1].first_ms == 1500);
        char *line = zb_result_blocked(r);
        CHECK(line && strstr(line, "wall_time limit 1500ms (limits.wall_time)"));
        free(line);
        /* nothing ran: no limit was reached */
        struct zb_result *s = res_new("namespace");
        s->status = ZB_STATUS_SETUP_ERROR;
        res_viol_limits(p, s);
        CHECK(s->viol.n == 0 && s->viol.n_sources == 0);
        zb_result_free(s);
        zb_result_free(r);
        zb_policy_free(p);
}

TEST(violation_audit_line_fits_with_a_full_set)
{
        struct zb_policy *p = zb_policy_new();
        struct zb_result *r = res_new("namespace");
        struct appr_decision d = { .verdict = ZB_VERDICT_ALLOW };
        char t[VIOL_TARGET_MAX * 2];
        for (int i = 0; i < VIOL_MAX + 10; i++) {
                memset(t, 'x', sizeof(t));
                t[snprintf(t, 32, "/big/%d/", i)] = 'x';
                viol_add(&r->viol, VIOL_FILESYSTEM, "write", t, sizeof(t), "root is read-only", NULL, 1, 1);
        }
        char *line = audit_line(p, "result", "00112233aabbccdd", &d, r, NULL);
        CHECK(line && strlen(line) <= ZB_AUDIT_LINE_MAX);
        json_object *o = line ? json_tokener_parse(line) : NULL, *v;
        CHECK(o && json_object_object_get_ex(o, "violations", &v) && json_object_array_length(v) > 0);
        CHECK(o && json_object_object_get_ex(o, "violations_dropped", &v) &&
              json_object_get_uint64(v) == 10 + VIOL_MAX - json_object_array_length(json_object_object_get(o, "violations")));
        CHECK(o && json_object_object_get_ex(o, "truncated", &v) && json_object_get_boolean(v));
        json_object_put(o);
        free(line);
        /* the stream's violation line: one entry, within the same bound */
        line = audit_viol_line("00112233aabbccdd", &r->viol.v[0]);
        CHECK(line && strlen(line) <= ZB_AUDIT_LINE_MAX && strstr(line, "\"event\":\"violation\""));
        free(line);
        zb_result_free(r);
        zb_policy_free(p);
}
