/* The verdict: whatever bytes the sandboxed command writes end up in the
 * result's JSON (util_utf8_sanitize, zb_result_json). Input: status byte,
 * then stdout, a NUL byte, stderr. The JSON must parse, hold valid UTF-8,
 * and give back stdout and stderr exactly where they were valid UTF-8. */
#include <json-c/json.h>

#include "fuzz.h"

#include "core/result.h"

static void check_text(json_object *o, const char *key, const char *data, size_t len)
{
        size_t clean_len = 0;
        char *clean = util_utf8_sanitize(data, len, &clean_len);
        json_object *v = NULL;
        fuzz_assert(clean && clean_len <= 3 * len);
        fuzz_assert(json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string));
        fuzz_assert((size_t)json_object_get_string_len(v) == clean_len);
        fuzz_assert(memcmp(json_object_get_string(v), clean, clean_len) == 0);
        free(clean);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1 || size > (1u << 20)) /* the output cap's default */
                return 0;
        struct zb_result *r = res_new("namespace");
        const char *out = (const char *)data + 1;
        const char *nul = memchr(out, '\0', size - 1);
        size_t out_len = nul ? (size_t)(nul - out) : size - 1;
        const char *err = nul ? nul + 1 : "";
        size_t err_len = nul ? size - 1 - out_len - 1 : 0;

        fuzz_assert(r);
        r->status = (enum res_status)(data[0] & 7);
        r->exit_code = data[0] >> 3;
        r->signal = data[0] >> 4;
        r->captured = true;
        r->out.limit = r->err.limit = 1u << 20;
        fuzz_assert(outbuf_append(&r->out, out, out_len) == 0);
        fuzz_assert(outbuf_append(&r->err, err, err_len) == 0);
        if (r->status == ZB_STATUS_SETUP_ERROR) {
                r->error = malloc(err_len + 1);
                fuzz_assert(r->error);
                memcpy(r->error, err, err_len);
                r->error[err_len] = '\0';
        }
        res_layer(r, "user", true);
        res_layer(r, "net", false);

        char *json = zb_result_json(r);
        fuzz_assert(json);
        struct json_tokener *tok = json_tokener_new();
        fuzz_assert(tok);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        json_object *o = json_tokener_parse_ex(tok, json, (int)strlen(json));
        fuzz_assert(o && json_tokener_get_error(tok) == json_tokener_success);
        check_text(o, "stdout", out, out_len);
        check_text(o, "stderr", err, err_len);
        json_object_put(o);
        json_tokener_free(tok);
        free(json);
        zb_result_free(r);
        return 0;
}
