/* Piston v2's API on zonebox serve (docs/serve.md): POST
 * /api/v2/execute's request into a job (runtime_int.h) and zonebox's
 * verdicts back into Piston's stage objects, so an existing Piston client
 * works unchanged. Guarantees: the request is parsed and narrowed in full
 * before anything starts (RUN false stops there: the fuzzer); Piston's
 * timeouts and memory limits only lower the runtime's (a higher one is a 400
 * naming the field, as Piston refuses a limit above its configured one);
 * every verdict maps to exactly one Piston status (null, RE, SG, TO, OL, EL,
 * XX), the table in docs/serve.md. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "runtime_int.h"

#define PISTON_MAX_BODY_BYTES (64u << 20)

static json_object *message(int *status, int code, const char *text)
{
        json_object *o = json_object_new_object();
        json_object_object_add(o, "message", json_object_new_string(text));
        *status = code;
        return o;
}

static const char *string_field(json_object *body, const char *key, bool *bad)
{
        json_object *v;
        if (!json_object_object_get_ex(body, key, &v) || json_object_is_type(v, json_type_null))
                return NULL;
        if (!json_object_is_type(v, json_type_string)) {
                *bad = true;
                return NULL;
        }
        return json_object_get_string(v);
}

/* {compile,run}_timeout (ms), {compile,run}_cpu_time (ms),
 * {compile,run}_memory_limit (bytes); -1: the runtime's own. */
static int limits_parse(json_object *body, struct srv_job *j, struct zb_error *err)
{
        static const struct {
                const char *field, *unit;
                size_t limit; /* index in srv_limit_names */
                bool compile;
        } map[] = {
                { "compile_timeout", "ms", 0, true },     { "run_timeout", "ms", 0, false },
                { "compile_cpu_time", "ms", 1, true },    { "run_cpu_time", "ms", 1, false },
                { "compile_memory_limit", "", 2, true },  { "run_memory_limit", "", 2, false },
        };
        for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
                json_object *v = NULL;
                if (!json_object_object_get_ex(body, map[i].field, &v))
                        continue;
                if (json_object_is_type(v, json_type_string))
                        return err_set(err, EINVAL, "%s: expected a number (%s)", map[i].field,
                                       *map[i].unit ? "milliseconds" : "bytes");
                struct srv_step_req *req = map[i].compile ? &j->compile : &j->run;
                int r = srv_limit_text(v, map[i].unit, map[i].field, &req->limit[map[i].limit], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The narrowing's messages name zonebox's limit ("limits.timeout: ...");
 * a Piston client sent run_timeout: say that. */
static void piston_names(struct zb_error *err)
{
        static const char *const from[] = { "limits.timeout", "compile_limits.timeout", "limits.memory",
                                            "compile_limits.memory", "limits.cpu_time", "compile_limits.cpu_time" };
        static const char *const to[] = { "run_timeout", "compile_timeout", "run_memory_limit",
                                          "compile_memory_limit", "run_cpu_time", "compile_cpu_time" };
        for (size_t i = 0; i < ARRAY_SIZE(from); i++) {
                size_t n = strlen(from[i]);
                if (strncmp(err->message, from[i], n) == 0) {
                        char rest[sizeof(err->message)];
                        snprintf(rest, sizeof(rest), "%s", err->message + n);
                        snprintf(err->message, sizeof(err->message), "%s%s", to[i], rest);
                        return;
                }
        }
}

static int parse(const struct srv_runtimes *rt, json_object *body, struct srv_job *j, int *status,
                 struct zb_error *err)
{
        bool bad = false;
        *status = 400;
        if (!json_object_is_type(body, json_type_object))
                return err_set(err, EINVAL, "body: expected a JSON object");
        const char *lang = string_field(body, "language", &bad);
        if (bad || !lang)
                return err_set(err, EINVAL, "language: required as a string");
        const char *version = string_field(body, "version", &bad);
        if (bad)
                return err_set(err, EINVAL, "version: expected a string");
        if (!(j->rt = srv_runtime_find(rt, lang, version))) {
                err_set(err, ENOENT, "%.64s-%.32s runtime is unknown", lang, version ? version : "*");
                return (*status = 400, -ENOENT); /* Piston answers 400 here */
        }
        int r = srv_job_parse_common(j, body, err);
        if (r == 0)
                r = limits_parse(body, j, err);
        if (r == 0 && (r = srv_job_check(rt, j, err)) < 0)
                piston_names(err);
        return r;
}

/* ------------------------------------------------------------ verdict → stage */

static json_object *get(json_object *o, const char *key)
{
        json_object *v = NULL;
        return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *text(json_object *o, const char *key)
{
        json_object *v = get(o, key);
        return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

static int64_t num(json_object *o, const char *key)
{
        json_object *v = get(o, key);
        return v ? json_object_get_int64(v) : 0;
}

struct piston_status {
        const char *status, *message;
        bool killed; /* SIGKILL by zonebox, no exit code */
};

/* The table in docs/serve.md. */
static struct piston_status map_status(json_object *verdict, char *buf, size_t n)
{
        const char *s = text(verdict, "status"), *over = text(verdict, "output_limit_stream");
        /* Output past limits.output: Piston's OL (stdout) or EL (stderr),
         * whether zonebox stopped the command (output_limit) or cut it. */
        if (strcmp(over, "stderr") == 0)
                return (struct piston_status){ "EL", "stderr length exceeded", strcmp(s, "exited") != 0 };
        if (strcmp(over, "stdout") == 0 || strcmp(s, "output_limit") == 0)
                return (struct piston_status){ "OL", "stdout length exceeded", strcmp(s, "exited") != 0 };
        if (strcmp(s, "exited") == 0) {
                int64_t code = num(verdict, "exit_code");
                snprintf(buf, n, "Exited with error status %lld", (long long)code);
                return code ? (struct piston_status){ "RE", buf, false } : (struct piston_status){ NULL, NULL, false };
        }
        if (strcmp(s, "signaled") == 0 || strcmp(s, "trap") == 0) {
                snprintf(buf, n, "Caught fatal signal %lld", (long long)num(verdict, "signal"));
                return (struct piston_status){ "SG", buf, false };
        }
        if (strcmp(s, "timeout") == 0)
                return (struct piston_status){ "TO", "Time limit exceeded (wall clock)", true };
        if (strcmp(s, "cpu_timeout") == 0)
                return (struct piston_status){ "TO", "Time limit exceeded", true };
        if (strcmp(s, "oom") == 0)
                return (struct piston_status){ "SG", "Memory limit exceeded (out of memory)", true };
        const char *why = text(verdict, "error");
        snprintf(buf, n, "%s%s%s", s, *why ? ": " : "", why);
        return (struct piston_status){ "XX", buf, false };
}

static const char *signal_name(int sig)
{
        static char buf[32];
        const char *abbrev = sig > 0 ? sigabbrev_np(sig) : NULL;
        if (!abbrev)
                return NULL;
        snprintf(buf, sizeof(buf), "SIG%s", abbrev);
        return buf;
}

static json_object *stage(json_object *verdict)
{
        char buf[512];
        struct piston_status st = map_status(verdict, buf, sizeof(buf));
        json_object *o = json_object_new_object();
        const char *out = text(verdict, "stdout"), *errs = text(verdict, "stderr");
        _cleanup_(freep) char *both = util_asprintf("%s%s", out, errs);
        int sig = st.killed ? SIGKILL : (int)num(verdict, "signal");
        bool exited = strcmp(text(verdict, "status"), "exited") == 0;
        json_object_object_add(o, "stdout", json_object_new_string(out));
        json_object_object_add(o, "stderr", json_object_new_string(errs));
        /* zonebox keeps stdout and stderr apart; output is the two joined
         * (Piston's interleaving in time is not kept). */
        json_object_object_add(o, "output", json_object_new_string(both ? both : ""));
        json_object_object_add(o, "code", exited ? json_object_new_int64(num(verdict, "exit_code")) : NULL);
        json_object_object_add(o, "signal", !exited && signal_name(sig) ? json_object_new_string(signal_name(sig)) : NULL);
        json_object_object_add(o, "message", st.message ? json_object_new_string(st.message) : NULL);
        json_object_object_add(o, "status", st.status ? json_object_new_string(st.status) : NULL);
        json_object_object_add(o, "cpu_time", json_object_new_int64(num(verdict, "cpu_user_ms") + num(verdict, "cpu_sys_ms")));
        json_object_object_add(o, "wall_time", json_object_new_int64(num(verdict, "wall_ms")));
        json_object_object_add(o, "memory", json_object_new_int64(num(verdict, "peak_memory_bytes")));
        return o;
}

static json_object *response(const struct srv_job *j, const struct srv_step *compile, const struct srv_step *run)
{
        json_object *o = json_object_new_object();
        json_object_object_add(o, "language", json_object_new_string(j->rt->name));
        json_object_object_add(o, "version", json_object_new_string(j->rt->version));
        if (compile->ran)
                json_object_object_add(o, "compile", stage(compile->verdict));
        if (run->ran)
                json_object_object_add(o, "run", stage(run->verdict));
        else /* the compile failed: Piston's run stage is absent then too */
                json_object_object_add(o, "run", NULL);
        return o;
}

json_object *srv_piston_execute(const struct zb_policy *base, const struct srv_runtimes *rt, const char *body,
                                size_t len, bool run, int *status)
{
        (void)base; /* each step loads the config afresh (runtime_int.h) */
        if (len > PISTON_MAX_BODY_BYTES)
                return message(status, 413, "body: too large");
        json_tokener *tok = json_tokener_new();
        if (!tok)
                return message(status, 500, "out of memory");
        json_object *req = json_tokener_parse_ex(tok, body, (int)len);
        bool complete = json_tokener_get_error(tok) == json_tokener_success;
        for (size_t i = complete ? (size_t)tok->char_offset : len; i < len; i++)
                complete = complete && strchr(" \t\r\n", body[i]) && body[i];
        json_tokener_free(tok);
        if (!req || !complete) {
                json_object_put(req);
                return message(status, 400, "body: not valid JSON");
        }
        struct srv_job j = { 0 };
        struct srv_step cs = { 0 }, rs = { 0 };
        struct zb_error err = { 0 };
        json_object *out;
        if (parse(rt, req, &j, status, &err) < 0 || !j.rt)
                out = message(status, *status, err.message);
        else if (!run)
                out = (*status = 200, json_object_new_object());
        else if (srv_job_execute(rt, &j, &cs, &rs, &err) < 0) {
                char m[600];
                snprintf(m, sizeof(m), "zonebox could not run the job: %s", err.message);
                out = message(status, 500, m);
        } else {
                out = response(&j, &cs, &rs);
                *status = 200;
        }
        srv_step_free(&cs);
        srv_step_free(&rs);
        srv_job_free(&j);
        json_object_put(req);
        return out;
}
