/* The result (src/core/result.c): CLI exit codes for every status, the JSON
 * verdict (parsed back strictly with json-c, UTF-8 validated), and the UTF-8
 * sanitizer that keeps the verdict valid whatever the command printed. */
#include <json-c/json.h>
#include <signal.h>

#include "core/result.h"
#include "test.h"

/* A string literal and its length, NULs included. */
#define B(s) s, sizeof(s) - 1
#define FFFD "\xef\xbf\xbd"

/* Well-formed UTF-8 after The Unicode Standard, table 3-7; written apart from
 * the code under test on purpose. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
        size_t i = 0;

        while (i < n) {
                unsigned char c = s[i];
                size_t len;
                unsigned char lo = 0x80, hi = 0xbf;

                if (c < 0x80) {
                        i++;
                        continue;
                } else if (c >= 0xc2 && c <= 0xdf) {
                        len = 2;
                } else if (c == 0xe0) {
                        len = 3, lo = 0xa0;
                } else if (c == 0xed) {
                        len = 3, hi = 0x9f;
                } else if (c >= 0xe1 && c <= 0xef) {
                        len = 3;
                } else if (c == 0xf0) {
                        len = 4, lo = 0x90;
                } else if (c >= 0xf1 && c <= 0xf3) {
                        len = 4;
                } else if (c == 0xf4) {
                        len = 4, hi = 0x8f;
                } else {
                        return false;
                }
                if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
                        return false;
                for (size_t k = 2; k < len; k++)
                        if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                                return false;
                i += len;
        }
        return true;
}

/* Parse S as strict JSON with UTF-8 validation; NULL unless it is exactly one
 * valid JSON value. */
static json_object *parse_strict(const char *s)
{
        json_tokener *tok = json_tokener_new();
        json_object *o;

        if (!s || !tok)
                return NULL;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, s, (int)strlen(s));
        if (json_tokener_get_error(tok) != json_tokener_success ||
            json_tokener_get_parse_end(tok) != strlen(s)) {
                fprintf(stderr, "  JSON parse error at byte %zu: %s\n",
                        json_tokener_get_parse_end(tok),
                        json_tokener_error_desc(json_tokener_get_error(tok)));
                json_object_put(o);
                o = NULL;
        }
        json_tokener_free(tok);
        return o;
}

/* The verdict must be valid UTF-8, hold no raw control characters, and parse
 * strictly. Returns the parsed object (or NULL) for further checks. */
static json_object *verdict(const struct zb_result *r)
{
        char *s = zb_result_json(r);
        json_object *o = NULL;

        CHECK(s != NULL);
        if (!s)
                return NULL;
        CHECK(utf8_valid((const unsigned char *)s, strlen(s)));
        bool raw_control = false;
        for (const char *c = s; *c; c++)
                raw_control |= (unsigned char)*c < 0x20;
        CHECK(!raw_control);
        o = parse_strict(s);
        CHECK(o != NULL);
        free(s);
        return o;
}

static json_object *field(json_object *o, const char *key, bool *present)
{
        json_object *v = NULL;
        *present = o && json_object_object_get_ex(o, key, &v);
        return v;
}

static bool is_null(json_object *o, const char *key)
{
        bool present;
        json_object *v = field(o, key, &present);
        return present && v == NULL;
}

static bool int_is(json_object *o, const char *key, int64_t want)
{
        bool present;
        json_object *v = field(o, key, &present);
        return v && json_object_is_type(v, json_type_int) && json_object_get_int64(v) == want;
}

static bool str_is(json_object *o, const char *key, const char *want)
{
        bool present;
        json_object *v = field(o, key, &present);
        return v && json_object_is_type(v, json_type_string) &&
               strcmp(json_object_get_string(v), want) == 0;
}

static bool bool_is(json_object *o, const char *key, bool want)
{
        bool present;
        json_object *v = field(o, key, &present);
        return v && json_object_is_type(v, json_type_boolean) &&
               (bool)json_object_get_boolean(v) == want;
}

TEST(result_exit_codes)
{
        static const struct {
                enum res_status status;
                int exit_code, signal;
                enum pol_setup_kind kind;
                int want;
                const char *name;
        } t[] = {
                { ZB_STATUS_EXITED, 0, 0, 0, 0, "exited" },
                { ZB_STATUS_EXITED, 3, 0, 0, 3, "exited" },
                { ZB_STATUS_EXITED, 255, 0, 0, 255, "exited" },
                { ZB_STATUS_SIGNALED, 0, SIGKILL, 0, 137, "signaled" },
                { ZB_STATUS_SIGNALED, 0, SIGSEGV, 0, 139, "signaled" },
                { ZB_STATUS_SIGNALED, 0, SIGTERM, 0, 143, "signaled" },
                { ZB_STATUS_TIMEOUT, 0, SIGKILL, 0, 124, "timeout" },
                { ZB_STATUS_CPU_TIMEOUT, 0, SIGKILL, 0, 124, "cpu_timeout" },
                { ZB_STATUS_OOM, 0, SIGKILL, 0, 137, "oom" },
                { ZB_STATUS_OUTPUT_LIMIT, 0, 0, 0, 141, "output_limit" },
                { ZB_STATUS_DENIED, 0, 0, 0, 126, "denied" },
                { ZB_STATUS_SETUP_ERROR, 0, 0, ZB_SETUP_FAILED, 125, "setup_error" },
                { ZB_STATUS_SETUP_ERROR, 0, 0, ZB_SETUP_NOT_EXEC, 126, "setup_error" },
                { ZB_STATUS_SETUP_ERROR, 0, 0, ZB_SETUP_NOT_FOUND, 127, "setup_error" },
                { (enum res_status)99, 0, 0, 0, 125, "unknown" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_result *r = res_new("namespace");
                r->status = t[i].status;
                r->exit_code = t[i].exit_code;
                r->signal = t[i].signal;
                r->setup_kind = t[i].kind;
                int got = zb_result_exit_code(r);
                if (got != t[i].want || strcmp(zb_result_status(r), t[i].name) != 0)
                        fprintf(stderr, "  status %d: exit code %d name %s, want %d %s\n",
                                (int)t[i].status, got, zb_result_status(r), t[i].want, t[i].name);
                CHECK(got == t[i].want);
                CHECK(strcmp(zb_result_status(r), t[i].name) == 0);
                zb_result_free(r);
        }
}

TEST(result_json_fields)
{
        static const struct {
                enum res_status status;
                int exit_code, signal;
                const char *name;
                int cli;
        } t[] = {
                { ZB_STATUS_EXITED, 3, 0, "exited", 3 },
                { ZB_STATUS_SIGNALED, 0, 9, "signaled", 137 },
                { ZB_STATUS_TIMEOUT, 0, 9, "timeout", 124 },
                { ZB_STATUS_CPU_TIMEOUT, 0, 0, "cpu_timeout", 124 },
                { ZB_STATUS_OOM, 0, 9, "oom", 137 },
                { ZB_STATUS_OUTPUT_LIMIT, 0, 0, "output_limit", 141 },
                { ZB_STATUS_DENIED, 0, 0, "denied", 126 },
                { ZB_STATUS_SETUP_ERROR, 0, 0, "setup_error", 125 },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_result *r = res_new("namespace");
                r->status = t[i].status;
                r->exit_code = t[i].exit_code;
                r->signal = t[i].signal;
                json_object *o = verdict(r);

                CHECK(str_is(o, "status", t[i].name));
                if (t[i].status == ZB_STATUS_EXITED)
                        CHECK(int_is(o, "exit_code", t[i].exit_code));
                else
                        CHECK(is_null(o, "exit_code"));
                if (t[i].signal)
                        CHECK(int_is(o, "signal", t[i].signal));
                else
                        CHECK(is_null(o, "signal"));
                CHECK(int_is(o, "cli_exit_code", t[i].cli));
                CHECK(str_is(o, "backend", "namespace"));
                json_object_put(o);
                zb_result_free(r);
        }
}

TEST(result_json_shape)
{
        struct zb_result *r = res_new("namespace");
        bool present;

        r->status = ZB_STATUS_EXITED;
        r->wall_ms = 12.4;
        r->cpu_user_ms = 3.1;
        r->cpu_sys_ms = 2.0;
        r->peak_memory_bytes = 9437184;
        res_layer(r, "user", true);
        res_layer(r, "mount", true);
        res_layer(r, "seccomp", false);
        json_object *o = verdict(r);

        CHECK(int_is(o, "exit_code", 0));
        CHECK(int_is(o, "peak_memory_bytes", 9437184));
        json_object *w = field(o, "wall_ms", &present);
        CHECK(w && json_object_is_type(w, json_type_double) &&
              json_object_get_double(w) > 12.39 && json_object_get_double(w) < 12.41);
        CHECK(field(o, "cpu_user_ms", &present) && field(o, "cpu_sys_ms", &present));
        CHECK(bool_is(o, "oom_killed", false));
        /* Not captured: output is null, not "". */
        CHECK(is_null(o, "stdout"));
        CHECK(is_null(o, "stderr"));
        CHECK(bool_is(o, "stdout_truncated", false));
        CHECK(bool_is(o, "stderr_truncated", false));
        CHECK(!field(o, "error", &present) && !present);

        json_object *l = field(o, "layers", &present);
        json_object *a = field(l, "applied", &present);
        json_object *s = field(l, "skipped", &present);
        CHECK(a && json_object_is_type(a, json_type_array) && json_object_array_length(a) == 2);
        CHECK(s && json_object_is_type(s, json_type_array) && json_object_array_length(s) == 1);
        if (a && json_object_array_length(a) == 2) {
                CHECK(strcmp(json_object_get_string(json_object_array_get_idx(a, 0)), "user") == 0);
                CHECK(strcmp(json_object_get_string(json_object_array_get_idx(a, 1)), "mount") == 0);
        }
        if (s && json_object_array_length(s) == 1)
                CHECK(strcmp(json_object_get_string(json_object_array_get_idx(s, 0)), "seccomp") == 0);
        json_object_put(o);
        zb_result_free(r);

        /* Nothing known: nulls, empty arrays, backend "?". */
        r = res_new(NULL);
        r->status = ZB_STATUS_SIGNALED;
        r->signal = SIGKILL;
        o = verdict(r);
        CHECK(is_null(o, "exit_code"));
        CHECK(int_is(o, "signal", SIGKILL));
        CHECK(is_null(o, "peak_memory_bytes"));
        CHECK(str_is(o, "backend", "?"));
        l = field(o, "layers", &present);
        a = field(l, "applied", &present);
        s = field(l, "skipped", &present);
        CHECK(a && json_object_is_type(a, json_type_array) && json_object_array_length(a) == 0);
        CHECK(s && json_object_is_type(s, json_type_array) && json_object_array_length(s) == 0);
        json_object_put(o);
        zb_result_free(r);
}

TEST(result_json_layers_capped)
{
        struct zb_result *r = res_new("namespace");
        bool present;

        for (int i = 0; i < ZB_MAX_LAYERS + 5; i++)
                res_layer(r, "x", i % 2 == 0);
        json_object *o = verdict(r);
        json_object *l = field(o, "layers", &present);
        json_object *a = field(l, "applied", &present);
        CHECK(a && json_object_array_length(a) <= ZB_MAX_LAYERS);
        json_object_put(o);
        zb_result_free(r);
}

/* Captured output with invalid UTF-8, control characters, quotes and NUL
 * still gives valid JSON; invalid bytes become U+FFFD, the rest is kept. */
TEST(result_json_output_bytes)
{
        static const struct {
                const char *in;
                size_t in_len;
                const char *want;
                size_t want_len;
        } t[] = {
                { B("hello\n"), B("hello\n") },
                { B("\xff\x01hi\x1b[0m\"\\/\t"), B("\xef\xbf\xbd\x01hi\x1b[0m\"\\/\t") },
                { B("\xc0\xaf"), B("\xef\xbf\xbd\xef\xbf\xbd") },
                { B("a\0b"), B("a\0b") },
                { B("caf\xc3\xa9 \xe2\x82\xac"), B("caf\xc3\xa9 \xe2\x82\xac") },
                { B("\x7f\x80"), B("\x7f\xef\xbf\xbd") },
                { B(""), B("") },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_result *r = res_new("namespace");
                bool present;

                r->captured = true;
                r->out.limit = 1 << 20;
                r->err.limit = 1 << 20;
                CHECK(outbuf_append(&r->out, t[i].in, t[i].in_len) == 0);
                CHECK(outbuf_append(&r->err, t[i].in, t[i].in_len) == 0);
                json_object *o = verdict(r);
                json_object *out = field(o, "stdout", &present);
                json_object *err = field(o, "stderr", &present);
                bool ok = out && json_object_is_type(out, json_type_string) &&
                          (size_t)json_object_get_string_len(out) == t[i].want_len &&
                          memcmp(json_object_get_string(out), t[i].want, t[i].want_len) == 0 &&
                          err && json_object_get_string_len(err) == json_object_get_string_len(out);
                if (!ok)
                        fprintf(stderr, "  output case %zu differs\n", i);
                CHECK(ok);
                json_object_put(o);
                zb_result_free(r);
        }
}

TEST(result_json_truncated_flags)
{
        struct zb_result *r = res_new("namespace");

        r->captured = true;
        r->out.limit = 4;
        r->err.limit = 4;
        CHECK(outbuf_append(&r->out, "123456", 6) == 0);
        CHECK(outbuf_append(&r->err, "1234", 4) == 0);
        json_object *o = verdict(r);
        CHECK(str_is(o, "stdout", "1234"));
        CHECK(bool_is(o, "stdout_truncated", true));
        CHECK(str_is(o, "stderr", "1234"));
        CHECK(bool_is(o, "stderr_truncated", false));
        json_object_put(o);
        zb_result_free(r);

        /* A cap that cuts a multi-byte character leaves a valid string. */
        r = res_new("namespace");
        r->captured = true;
        r->out.limit = 2;
        CHECK(outbuf_append(&r->out, "\xe2\x82\xac", 3) == 0);
        o = verdict(r);
        CHECK(bool_is(o, "stdout_truncated", true));
        json_object_put(o);
        zb_result_free(r);
}

TEST(result_json_setup_error)
{
        struct zb_result *r = res_new("namespace");

        r->status = ZB_STATUS_SETUP_ERROR;
        r->setup_kind = ZB_SETUP_NOT_FOUND;
        r->error = strdup("command 'nope': not found in PATH /usr/bin:/bin");
        json_object *o = verdict(r);
        CHECK(str_is(o, "status", "setup_error"));
        CHECK(int_is(o, "cli_exit_code", 127));
        CHECK(str_is(o, "error", "command 'nope': not found in PATH /usr/bin:/bin"));
        CHECK(strcmp(zb_result_error(r), r->error) == 0);
        json_object_put(o);
        zb_result_free(r);
}

/* The error message carries the user's command name and paths, which may be
 * any bytes ("command '\xff': not found"); the verdict must stay valid JSON
 * (RFC 8259 requires UTF-8) just as for stdout. */
TEST(result_json_error_message_invalid_utf8)
{
        struct zb_result *r = res_new("namespace");

        r->status = ZB_STATUS_SETUP_ERROR;
        r->setup_kind = ZB_SETUP_NOT_FOUND;
        r->error = strdup("command '\xff\xfe': not found; zone '\xc3': open /x\x01");
        json_object *o = verdict(r);
        CHECK(str_is(o, "status", "setup_error"));
        json_object_put(o);
        zb_result_free(r);
}

/* Each row: input bytes and the exact output. Well-formed sequences are kept
 * byte for byte; each byte of an ill-formed one becomes U+FFFD. */

TEST(result_utf8_sanitize)
{
        static const struct {
                const char *what, *in;
                size_t in_len;
                const char *want;
                size_t want_len;
        } t[] = {
                { "empty", B(""), B("") },
                { "ascii", B("hello"), B("hello") },
                { "NUL kept", B("a\0b"), B("a\0b") },
                { "2-byte", B("\xc3\xa9"), B("\xc3\xa9") },
                { "3-byte", B("\xe2\x82\xac"), B("\xe2\x82\xac") },
                { "4-byte", B("\xf0\x9d\x84\x9e"), B("\xf0\x9d\x84\x9e") },
                { "U+FFFD itself", B(FFFD), B(FFFD) },
                { "U+D7FF", B("\xed\x9f\xbf"), B("\xed\x9f\xbf") },
                { "U+E000", B("\xee\x80\x80"), B("\xee\x80\x80") },
                { "U+10FFFF", B("\xf4\x8f\xbf\xbf"), B("\xf4\x8f\xbf\xbf") },
                { "U+0800", B("\xe0\xa0\x80"), B("\xe0\xa0\x80") },
                { "U+10000", B("\xf0\x90\x80\x80"), B("\xf0\x90\x80\x80") },
                { "overlong /", B("\xc0\xaf"), B(FFFD FFFD) },
                { "overlong NUL", B("\xc0\x80"), B(FFFD FFFD) },
                { "overlong c1", B("\xc1\xbf"), B(FFFD FFFD) },
                { "overlong 3-byte", B("\xe0\x80\xaf"), B(FFFD FFFD FFFD) },
                { "overlong 3-byte max", B("\xe0\x9f\xbf"), B(FFFD FFFD FFFD) },
                { "overlong 4-byte", B("\xf0\x80\x80\xaf"), B(FFFD FFFD FFFD FFFD) },
                { "overlong 4-byte max", B("\xf0\x8f\xbf\xbf"), B(FFFD FFFD FFFD FFFD) },
                { "surrogate D800", B("\xed\xa0\x80"), B(FFFD FFFD FFFD) },
                { "surrogate DFFF", B("\xed\xbf\xbf"), B(FFFD FFFD FFFD) },
                { "surrogate pair", B("\xed\xa0\xbd\xed\xb2\xa9"),
                  B(FFFD FFFD FFFD FFFD FFFD FFFD) },
                { "above U+10FFFF", B("\xf4\x90\x80\x80"), B(FFFD FFFD FFFD FFFD) },
                { "F5 lead", B("\xf5\x80\x80\x80"), B(FFFD FFFD FFFD FFFD) },
                { "5-byte form", B("\xf8\x88\x80\x80\x80"), B(FFFD FFFD FFFD FFFD FFFD) },
                { "FE FF", B("\xfe\xff"), B(FFFD FFFD) },
                { "lone continuation", B("a\x80z"), B("a" FFFD "z") },
                { "latin-1", B("caf\xe9"), B("caf" FFFD) },
                { "valid after invalid", B("\xff\xc3\xa9"), B(FFFD "\xc3\xa9") },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                size_t n = 12345;
                char *got = util_utf8_sanitize(t[i].in, t[i].in_len, &n);
                bool ok = got && n == t[i].want_len && memcmp(got, t[i].want, n) == 0 &&
                          got[n] == '\0';
                if (!ok)
                        fprintf(stderr, "  sanitize %s: length %zu, want %zu\n", t[i].what, n,
                                t[i].want_len);
                CHECK(ok);
                free(got);
        }
}

/* A sequence cut short (at the end of the buffer or by a following byte)
 * becomes U+FFFD, and the byte after it is not swallowed. How many U+FFFD a
 * cut sequence gives is left open (one per byte, or one per maximal subpart
 * as Unicode recommends). */
TEST(result_utf8_sanitize_truncated)
{
        static const struct {
                const char *in;
                size_t in_len;
                const char *head, *tail;
        } t[] = {
                { B("a\xc3"), "a", "" },
                { B("a\xe2\x82"), "a", "" },
                { B("a\xf0\x9f\x98"), "a", "" },
                { B("\xe2\x82" "A"), "", "A" },
                { B("\xf0\x9f\x98" "A"), "", "A" },
                { B("\xc3" "\xc3\xa9"), "", "\xc3\xa9" },
                { B("x\xe2\x82\xe2\x82\xac"), "x", "\xe2\x82\xac" },
                { B("\xf0\x9f" "\n"), "", "\n" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                size_t n = 0;
                char *got = util_utf8_sanitize(t[i].in, t[i].in_len, &n);
                size_t hl = strlen(t[i].head), tl = strlen(t[i].tail);
                bool ok = got && utf8_valid((const unsigned char *)got, n) &&
                          n >= hl + 3 + tl && memcmp(got, t[i].head, hl) == 0 &&
                          memcmp(got + hl, FFFD, 3) == 0 &&
                          memcmp(got + n - tl, t[i].tail, tl) == 0 &&
                          n <= hl + tl + 3 * (t[i].in_len - hl - tl);
                if (!ok)
                        fprintf(stderr, "  sanitize truncated case %zu: length %zu\n", i, n);
                CHECK(ok);
                free(got);
        }
}

/* Whatever the bytes, the output is valid UTF-8 and at most 3x the input. */
TEST(result_utf8_sanitize_all_bytes)
{
        unsigned char in[512];
        size_t n = 0;

        for (size_t i = 0; i < sizeof(in); i++)
                in[i] = (unsigned char)(i * 167 + (i >> 3));
        char *got = util_utf8_sanitize((const char *)in, sizeof(in), &n);
        CHECK(got && utf8_valid((const unsigned char *)got, n));
        CHECK(n <= 3 * sizeof(in));
        free(got);

        memset(in, 0xff, sizeof(in));
        got = util_utf8_sanitize((const char *)in, sizeof(in), &n);
        CHECK(got && n == 3 * sizeof(in));
        free(got);
}
