/* Request bodies of zonebox serve's runtime jobs: the fields both APIs share
 * (files, args, stdin) and POST /v1/runs with a runtime. Guarantees: the
 * body is untrusted and parsed once into typed fields (struct srv_job):
 * every field has its type checked, every size its cap (SRV_MAX_*), every
 * file name is a plain name, and a bad field is a 400 naming it; nothing
 * starts before the whole body and its narrowing are checked. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include "../mcp/mcp.h"
#include "runtime_int.h"

static json_object *message(const char *prefix, const char *text)
{
        json_object *o = json_object_new_object();
        _cleanup_(freep) char *m = util_asprintf("%s%s", prefix, text);
        json_object_object_add(o, "message", json_object_new_string(m ? m : text));
        return o;
}

static int hex_digit(char c)
{
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int hex_decode(const char *s, size_t n, struct srv_file *f, const char *field, struct zb_error *err)
{
        if (n % 2)
                return err_set(err, EINVAL, "%s.content: not hex (an odd number of digits)", field);
        if (!(f->data = malloc(n / 2 + 1)))
                return err_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i += 2) {
                int hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);
                if (hi < 0 || lo < 0)
                        return err_set(err, EINVAL, "%s.content: not hex", field);
                f->data[i / 2] = (char)(hi << 4 | lo);
        }
        f->len = n / 2;
        return 0;
}

/* CONTENT by its encoding: utf8 (Piston's name; utf-8 too), base64, hex. */
static int file_content(json_object *o, struct srv_file *f, const char *enc, const char *field,
                        struct zb_error *err)
{
        json_object *c;
        if (!json_object_object_get_ex(o, "content", &c) || !json_object_is_type(c, json_type_string))
                return err_set(err, EINVAL, "%s.content: required (a string)", field);
        const char *s = json_object_get_string(c);
        size_t n = (size_t)json_object_get_string_len(c);
        if (strcmp(enc, "hex") == 0)
                return hex_decode(s, n, f, field, err);
        if (strcmp(enc, "base64") == 0) {
                struct zb_error e = { 0 };
                return mcp_content_bytes(o, &f->data, &f->len, &e) < 0
                               ? err_set(err, EINVAL, "%s.%s", field, e.message) : 0;
        }
        if (strcmp(enc, "utf8") != 0 && strcmp(enc, "utf-8") != 0)
                return err_set(err, EINVAL, "%s.encoding: expected utf8, base64 or hex", field);
        if (!(f->data = malloc(n + 1)))
                return err_set(err, ENOMEM, "out of memory");
        memcpy(f->data, s, n);
        f->len = n;
        return 0;
}

static int file_name(json_object *o, struct srv_file *f, size_t idx, const struct srv_job *j, const char *field,
                     struct zb_error *err)
{
        json_object *v;
        char nf[64];
        snprintf(nf, sizeof(nf), "%s.name", field);
        if (json_object_object_get_ex(o, "name", &v) && !json_object_is_type(v, json_type_null)) {
                if (!json_object_is_type(v, json_type_string))
                        return err_set(err, EINVAL, "%s: expected a string", nf);
                const char *s = json_object_get_string(v);
                if (strlen(s) != (size_t)json_object_get_string_len(v))
                        return err_set(err, EINVAL, "%s: contains a NUL byte", nf);
                if (*s) { /* "" is no name, as in Piston */
                        int r = srv_file_name_check(s, nf, err);
                        f->name = r < 0 ? NULL : util_strdup(s);
                        return r < 0 ? r : f->name ? 0 : err_set(err, ENOMEM, "out of memory");
                }
        }
        f->name = idx == 0 ? util_strdup(j->rt->file) : util_asprintf("file%zu.code", idx);
        return f->name ? 0 : err_set(err, ENOMEM, "out of memory");
}

static int file_parse(struct srv_job *j, json_object *o, size_t idx, size_t *total, struct zb_error *err)
{
        char field[32];
        snprintf(field, sizeof(field), "files[%zu]", idx);
        if (!json_object_is_type(o, json_type_object))
                return err_set(err, EINVAL, "%s: expected an object {name, content, encoding}", field);
        json_object *v;
        const char *enc = "utf8";
        if (json_object_object_get_ex(o, "encoding", &v) && !json_object_is_type(v, json_type_null)) {
                if (!json_object_is_type(v, json_type_string))
                        return err_set(err, EINVAL, "%s.encoding: expected utf8, base64 or hex", field);
                enc = json_object_get_string(v);
        }
        bool code = strcmp(enc, "utf8") == 0 || strcmp(enc, "utf-8") == 0;
        /* Code files first, in order: {file} and {files} are those (Piston
         * compiles and runs only its utf8 files). */
        size_t at = code ? j->n_code : j->n_files;
        if (code)
                memmove(&j->files[at + 1], &j->files[at], (j->n_files - at) * sizeof(j->files[0]));
        struct srv_file *f = &j->files[at];
        memset(f, 0, sizeof(*f));
        j->n_files++;
        j->n_code += code;
        int r = file_name(o, f, idx, j, field, err);
        if (r == 0)
                r = file_content(o, f, enc, field, err);
        if (r == 0 && (*total += f->len) > SRV_MAX_FILES_BYTES)
                r = err_set(err, EFBIG, "files: more than %u bytes in all", SRV_MAX_FILES_BYTES);
        return r;
}

static int files_parse(struct srv_job *j, json_object *body, struct zb_error *err)
{
        json_object *files;
        if (!json_object_object_get_ex(body, "files", &files) || !json_object_is_type(files, json_type_array))
                return err_set(err, EINVAL, "files: required (a list of {name, content, encoding})");
        size_t n = json_object_array_length(files), total = 0;
        if (n == 0 || n > SRV_MAX_FILES)
                return err_set(err, EINVAL, "files: expected 1 to %d files", SRV_MAX_FILES);
        for (size_t i = 0; i < n; i++) {
                int r = file_parse(j, json_object_array_get_idx(files, i), i, &total, err);
                if (r < 0)
                        return r;
        }
        if (j->n_code == 0)
                return err_set(err, EINVAL, "files: no utf8 file (the code to run)");
        for (size_t i = 0; i < j->n_files; i++)
                for (size_t k = 0; k < i; k++)
                        if (strcmp(j->files[i].name, j->files[k].name) == 0)
                                return err_set(err, EINVAL, "files: %.255s: given twice", j->files[i].name);
        return 0;
}

static int args_parse(struct srv_job *j, json_object *body, struct zb_error *err)
{
        json_object *a;
        if (!json_object_object_get_ex(body, "args", &a) || json_object_is_type(a, json_type_null))
                return 0;
        if (!json_object_is_type(a, json_type_array))
                return err_set(err, EINVAL, "args: expected a list of strings");
        size_t n = json_object_array_length(a);
        if (n > SRV_MAX_ARGS)
                return err_set(err, EINVAL, "args: more than %d", SRV_MAX_ARGS);
        if (!(j->args = calloc(n + 1, sizeof(char *))))
                return err_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                if (!json_object_is_type(e, json_type_string) ||
                    strlen(json_object_get_string(e)) != (size_t)json_object_get_string_len(e))
                        return err_set(err, EINVAL, "args[%zu]: expected a string without NUL bytes", i);
                if (!(j->args[i] = util_strdup(json_object_get_string(e))))
                        return err_set(err, ENOMEM, "out of memory");
                j->n_args = i + 1;
        }
        return 0;
}

static int stdin_parse(struct srv_job *j, json_object *body, struct zb_error *err)
{
        json_object *v;
        if (!json_object_object_get_ex(body, "stdin", &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return err_set(err, EINVAL, "stdin: expected a string");
        size_t n = (size_t)json_object_get_string_len(v);
        if (n > SRV_MAX_STDIN_BYTES)
                return err_set(err, EFBIG, "stdin: more than %u bytes", SRV_MAX_STDIN_BYTES);
        if (!(j->stdin_data = malloc(n + 1)))
                return err_set(err, ENOMEM, "out of memory");
        memcpy(j->stdin_data, json_object_get_string(v), n);
        j->stdin_len = n;
        return 0;
}

int srv_job_parse_common(struct srv_job *j, json_object *body, struct zb_error *err)
{
        int r = files_parse(j, body, err);
        if (r == 0)
                r = args_parse(j, body, err);
        if (r == 0)
                r = stdin_parse(j, body, err);
        return r;
}

int srv_limit_text(json_object *v, const char *unit, const char *field, char **out, struct zb_error *err)
{
        *out = NULL;
        if (!v || json_object_is_type(v, json_type_null))
                return 0;
        if (json_object_is_type(v, json_type_string))
                *out = util_strdup(json_object_get_string(v));
        else if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
                int64_t n = json_object_get_int64(v);
                if (n < 0)
                        return 0; /* Piston's -1: no limit of the request's own */
                *out = util_asprintf("%lld%s", (long long)n, unit);
        } else {
                return err_set(err, EINVAL, "%s: expected a number or a string", field);
        }
        return *out ? 0 : err_set(err, ENOMEM, "out of memory");
}

/* ------------------------------------------------------------ POST /v1/runs */

/* limits / compile_limits: {timeout, cpu_time, memory, pids} ("10s",
 * "256m"; a number is seconds or bytes, as in the config). */
static int v1_limits(json_object *body, const char *key, struct srv_step_req *req, struct zb_error *err)
{
        json_object *o;
        if (!json_object_object_get_ex(body, key, &o) || json_object_is_type(o, json_type_null))
                return 0;
        if (!json_object_is_type(o, json_type_object))
                return err_set(err, EINVAL, "%s: expected an object {timeout, cpu_time, memory, pids}", key);
        json_object_object_foreach(o, k, v)
        {
                size_t i = 0;
                while (i < SRV_NARROWABLE && strcmp(k, srv_limit_names[i].name) != 0)
                        i++;
                char field[96];
                snprintf(field, sizeof(field), "%s.%.64s", key, k);
                if (i == SRV_NARROWABLE)
                        return err_set(err, EINVAL, "%s: unknown (a request may lower timeout, cpu_time, memory, pids)",
                                       field);
                if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) < 0)
                        return err_set(err, EINVAL, "%s: expected a non-negative number or a string", field);
                free(req->limit[i]);
                int r = srv_limit_text(v, "", field, &req->limit[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const char *const v1_keys[] = { "runtime", "version", "files", "args", "stdin", "env", "limits",
                                       "compile_limits", NULL };

static int v1_parse(const struct srv_runtimes *rt, json_object *body, struct srv_job *j, int *status,
                    struct zb_error *err)
{
        *status = 400;
        if (!json_object_is_type(body, json_type_object))
                return err_set(err, EINVAL, "body: expected a JSON object");
        int r = mcp_args_check(body, v1_keys, err);
        if (r < 0)
                return r;
        const char *name = mcp_arg_string(body, "runtime"), *version = mcp_arg_string(body, "version");
        json_object *v;
        if (!name)
                return err_set(err, EINVAL, "runtime: required (a string; GET /v1/runtimes lists them)");
        if (json_object_object_get_ex(body, "version", &v) && !version && !json_object_is_type(v, json_type_null))
                return err_set(err, EINVAL, "version: expected a string");
        if (!(j->rt = srv_runtime_find(rt, name, version))) {
                *status = 404;
                return err_set(err, ENOENT, "runtime: %.64s %.32s is not one of the server's runtimes", name,
                               version ? version : "");
        }
        if (json_object_object_get_ex(body, "env", &v) && !json_object_is_type(v, json_type_null))
                j->env = v;
        if ((r = srv_job_parse_common(j, body, err)) < 0 || (r = v1_limits(body, "limits", &j->run, err)) < 0 ||
            (r = v1_limits(body, "compile_limits", &j->compile, err)) < 0)
                return r;
        if (!j->rt->compile && json_object_object_get_ex(body, "compile_limits", &v))
                return err_set(err, EINVAL, "compile_limits: runtime %s has no compile step", j->rt->name);
        return srv_job_check(rt, j, err);
}

int srv_runtime_check(const struct srv_runtimes *rt, json_object *body, int *status, struct zb_error *err)
{
        struct srv_job j = { 0 };
        int r = v1_parse(rt, body, &j, status, err);
        srv_job_free(&j);
        if (r == 0)
                *status = 200;
        return r;
}

json_object *srv_runtime_run(const struct zb_policy *base, const struct srv_runtimes *rt, json_object *body,
                             int *status)
{
        (void)base; /* each step loads the config afresh (runtime_int.h) */
        struct srv_job j = { 0 };
        struct srv_step compile, run;
        struct zb_error err = { 0 };
        if (v1_parse(rt, body, &j, status, &err) < 0) {
                srv_job_free(&j);
                return message("", err.message);
        }
        if (srv_job_execute(rt, &j, &compile, &run, &err) < 0) {
                srv_job_free(&j);
                srv_step_free(&compile);
                srv_step_free(&run);
                *status = 500;
                return message("zonebox could not run the job: ", err.message);
        }
        srv_job_free(&j);
        *status = 200;
        json_object *out = run.ran ? json_object_get(run.verdict) : json_object_new_object();
        if (!run.ran) { /* the compile failed: the run did not start */
                json_object_object_add(out, "status", json_object_new_string("compile_error"));
                json_object_object_add(out, "message", json_object_new_string("the compile step failed; nothing ran"));
        }
        if (compile.ran)
                json_object_object_add(out, "compile", json_object_get(compile.verdict));
        srv_step_free(&compile);
        srv_step_free(&run);
        return out;
}
