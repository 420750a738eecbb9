/* zonebox serve's own API, /v1 (docs/serve.md): a request's JSON body →
 * the arguments zonebox mcp's narrowing takes (src/mcp/narrow.c), checked
 * in the server before a job is queued (srv_check) and run in the worker
 * (srv_work). A request only narrows the server's policy: limits at most
 * the config's, network none/loopback or a subset of its allowlist, env and
 * workdir inside the sandbox. There is no field for zones, approval or any
 * host path: "zones" is refused with 403, any other unknown field with 400,
 * each message naming the field. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>

#include "../core/keys.h"
#include "serve.h"

json_object *srv_message(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *text = NULL;
        if (vasprintf(&text, fmt, ap) < 0)
                text = NULL;
        va_end(ap);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "message", json_object_new_string(text ? text : "out of memory"));
        free(text);
        return o;
}

/* The body's fields each kind accepts at its top level. */
static const char *const run_fields[] = { "command", "stdin", "env", "limits", "network", "workdir", NULL };
static const char *const start_fields[] = { "limits", "network", "env", "workdir", "idle_timeout", NULL };
static const char *const exec_fields[] = { "command", "stdin", "env", "workdir", "limits", NULL };
/* limits.X → narrow.c's argument. */
static const char *const limit_names[][2] = {
        { "timeout", "timeout" }, { "wall_time", "timeout" }, { "cpu_time", "cpu_time" },
        { "memory", "memory" },   { "pids", "pids" },
};
/* The arguments of mcp_policy each kind passes on. */
static const char *const run_keys[] = { "command", "stdin", "timeout", "cpu_time", "memory", "pids",
                                        "network", "env", "workdir", NULL };

static bool listed(const char *const *names, const char *k)
{
        for (size_t i = 0; names[i]; i++)
                if (!strcmp(names[i], k))
                        return true;
        return false;
}

/* BODY (an object) → narrow.c's flat arguments; -EPERM or -EINVAL naming
 * the field. ONLY_TIMEOUT: limits may only hold the timeout (session exec). */
static int to_args(json_object *body, const char *const *fields, bool only_timeout, json_object **out,
                   struct zb_error *err)
{
        if (!json_object_is_type(body, json_type_object))
                return err_set(err, EINVAL, "body: expected a JSON object");
        json_object *args = json_object_new_object();
        json_object_object_foreach(body, k, v)
        {
                if (!strcmp(k, "zones") || !strcmp(k, "mounts") || !strcmp(k, "volumes")) {
                        json_object_put(args);
                        return err_set(err, EPERM, "%s: zones come from the server's config; a request "
                                                   "cannot name a host path", k);
                }
                if (!listed(fields, k)) {
                        json_object_put(args);
                        return err_set(err, EINVAL, "%.64s: unknown field", k);
                }
                if (strcmp(k, "limits") != 0) {
                        json_object_object_add(args, k, json_object_get(v));
                        continue;
                }
                if (!json_object_is_type(v, json_type_object)) {
                        json_object_put(args);
                        return err_set(err, EINVAL, "limits: expected an object");
                }
                json_object_object_foreach(v, lk, lv)
                {
                        const char *arg = NULL;
                        for (size_t i = 0; i < ARRAY_SIZE(limit_names) && !arg; i++)
                                if (!strcmp(limit_names[i][0], lk) && (!only_timeout || i < 2))
                                        arg = limit_names[i][1];
                        if (!arg) {
                                json_object_put(args);
                                return err_set(err, EINVAL, "limits.%.64s: unknown limit (%s)", lk,
                                               only_timeout ? "timeout" : "timeout, cpu_time, memory, pids");
                        }
                        json_object_object_add(args, arg, json_object_get(lv));
                }
        }
        *out = args;
        return 0;
}

static int status_of(const struct zb_error *err)
{
        return err->code == -EPERM || err->code == -EACCES ? 403 : 400;
}

/* A policy for the request: the config's, narrowed by ARGS. */
static struct zb_policy *policy_for(const struct srv_ctx *c, json_object *args, struct zb_error *err)
{
        return mcp_policy(&c->policy, args, run_keys, err);
}

/* The session exec's timeout: checked against the config's wall_time. */
static int exec_timeout(const struct srv_ctx *c, json_object *args, long long *ms, struct zb_error *err)
{
        json_object *v;
        *ms = -1;
        if (!json_object_object_get_ex(args, "timeout", &v))
                return 0;
        json_object *only = json_object_new_object();
        json_object_object_add(only, "timeout", json_object_get(v));
        struct zb_policy *p = policy_for(c, only, err);
        json_object_put(only);
        if (!p)
                return -EINVAL;
        *ms = (long long)p->limits.wall_time_ms;
        zb_policy_free(p);
        return 0;
}

static int check_command(json_object *args, struct zb_error *err)
{
        char **argv = NULL;
        size_t argc = 0;
        int r = mcp_command(args, &argv, &argc, err);
        free(argv);
        return r;
}

static int check_env(json_object *args, struct zb_error *err)
{
        json_object *v;
        if (!json_object_object_get_ex(args, "env", &v))
                return 0;
        if (!json_object_is_type(v, json_type_object))
                return err_set(err, EINVAL, "env: expected an object NAME: value");
        json_object_object_foreach(v, k, val)
        if (!*k || strchr(k, '=') || !json_object_is_type(val, json_type_string))
                return err_set(err, EINVAL, "env: each entry is NAME: \"value\"");
        return 0;
}

/* Does ARGS change anything of the config's policy? A bare command and
 * stdin do not, and the server need not load the policy to check them. */
static bool narrows(json_object *args)
{
        json_object_object_foreach(args, k, v)
        {
                (void)v;
                if (strcmp(k, "command") != 0 && strcmp(k, "stdin") != 0)
                        return true;
        }
        return false;
}

static bool bad_stdin(json_object *args, struct zb_error *err)
{
        json_object *v;
        if (!json_object_object_get_ex(args, "stdin", &v) || json_object_is_type(v, json_type_string))
                return false;
        err_set(err, EINVAL, "stdin: expected a string");
        return true;
}

int srv_check(const struct srv_ctx *c, enum srv_kind kind, json_object *body, struct zb_error *err)
{
        json_object *args = NULL;
        struct zb_policy *p = NULL;
        int r = 0;
        long long ms;
        switch (kind) {
        case SRV_RUN:
        case SRV_SESSION_START:
                if (to_args(body, kind == SRV_RUN ? run_fields : start_fields, false, &args, err) < 0)
                        return status_of(err);
                json_object_object_del(args, "idle_timeout");
                if ((kind == SRV_RUN && check_command(args, err) < 0) ||
                    (narrows(args) && !(p = policy_for(c, args, err))))
                        r = status_of(err);
                if (!r && bad_stdin(args, err))
                        r = 400;
                break;
        case SRV_SESSION_EXEC:
                if (to_args(body, exec_fields, true, &args, err) < 0)
                        return status_of(err);
                if (check_command(args, err) < 0 || check_env(args, err) < 0 || exec_timeout(c, args, &ms, err) < 0)
                        r = status_of(err);
                else if (bad_stdin(args, err))
                        r = 400;
                break;
        default:
                break;
        }
        zb_policy_free(p);
        json_object_put(args);
        return r;
}

/* ------------------------------------------------------------ worker side */

static json_object *verdict(struct zb_result *res, int *status)
{
        _cleanup_(freep) char *json = zb_result_json(res);
        json_object *o = json ? json_tokener_parse(json) : NULL;
        zb_result_free(res);
        if (!o) {
                *status = 500;
                return srv_message("cannot format the verdict");
        }
        *status = 200;
        return o;
}

static json_object *fail(int *status, int code, const char *what, const struct zb_error *err)
{
        *status = code;
        return srv_message("%s%s", what, err->message);
}

static json_object *work_run(const struct srv_ctx *c, json_object *body, int *status)
{
        struct zb_error err = { 0 };
        json_object *args = NULL;
        _cleanup_(freep) char **argv = NULL;
        size_t argc = 0;
        struct zb_result *res = NULL;
        if (to_args(body, run_fields, false, &args, &err) < 0)
                return fail(status, status_of(&err), "", &err);
        struct zb_policy *p = policy_for(c, args, &err);
        json_object *out = NULL;
        if (!p)
                out = fail(status, status_of(&err), "", &err);
        else if (mcp_command(args, &argv, &argc, &err) < 0 || zb_policy_set_command(p, (int)argc, argv, &err) < 0 ||
                 mcp_stdin_from(args, &err) < 0)
                out = fail(status, 400, "", &err);
        else {
                zb_policy_set_capture(p, 1);
                if (zb_run(p, &res, &err) < 0)
                        out = fail(status, 500, "run: ", &err);
                else
                        out = verdict(res, status);
        }
        zb_policy_free(p);
        json_object_put(args);
        return out;
}

static json_object *work_session_start(const struct srv_ctx *c, json_object *body, int *status)
{
        struct zb_error err = { 0 };
        json_object *args = NULL, *v;
        char id[64];
        long long idle = -1;
        if (to_args(body, start_fields, false, &args, &err) < 0)
                return fail(status, status_of(&err), "", &err);
        bool has_idle = json_object_object_get_ex(args, "idle_timeout", &v);
        const char *idle_text = has_idle && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
        char num[32];
        if (has_idle && !idle_text && json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0) {
                snprintf(num, sizeof(num), "%llds", (long long)json_object_get_int64(v));
                idle_text = num;
        }
        json_object_object_del(args, "idle_timeout");
        struct zb_policy *p = policy_for(c, args, &err);
        json_object_put(args);
        if (!p)
                return fail(status, status_of(&err), "", &err);
        /* A request may shorten the config's idle timeout, never lengthen
         * or remove it: a session nobody uses ends. */
        if (has_idle) {
                uint64_t base = p->idle_timeout_ms;
                if (!idle_text || pol_set_key(p, "session.idle_timeout", idle_text, "idle_timeout", NULL, &err) < 0) {
                        zb_policy_free(p);
                        *status = 400;
                        return srv_message("idle_timeout: expected a duration");
                }
                if (p->idle_timeout_ms == 0 || (base && p->idle_timeout_ms > base)) {
                        zb_policy_free(p);
                        *status = 403;
                        return srv_message("idle_timeout: would widen the server's config; requests may only narrow it");
                }
                idle = (long long)p->idle_timeout_ms;
        }
        int r = zb_session_start(p, NULL, NULL, idle, id, sizeof(id), &err);
        zb_policy_free(p);
        if (r < 0)
                return fail(status, 500, "session: ", &err);
        *status = 200;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(id));
        return o;
}

static json_object *work_session_exec(const struct srv_ctx *c, json_object *body, const char *session, int *status)
{
        struct zb_error err = { 0 };
        json_object *args = NULL, *v;
        _cleanup_(freep) char **argv = NULL;
        char *env[256];
        size_t argc = 0, n_env = 0;
        long long timeout_ms = -1;
        if (to_args(body, exec_fields, true, &args, &err) < 0)
                return fail(status, status_of(&err), "", &err);
        json_object *out = NULL;
        if (mcp_command(args, &argv, &argc, &err) < 0 || check_env(args, &err) < 0 ||
            exec_timeout(c, args, &timeout_ms, &err) < 0 || mcp_stdin_from(args, &err) < 0)
                out = fail(status, status_of(&err), "", &err);
        if (!out && json_object_object_get_ex(args, "env", &v)) {
                json_object_object_foreach(v, k, val)
                {
                        if (n_env == ARRAY_SIZE(env)) {
                                out = fail(status, 400, "env: more than 256 entries", &err);
                                break;
                        }
                        env[n_env++] = util_asprintf("%s=%s", k, json_object_get_string(val));
                }
        }
        struct zb_result *res = NULL;
        if (!out && zb_session_exec(NULL, session, argv, (int)argc, env, (int)n_env, mcp_arg_string(args, "workdir"),
                                    timeout_ms, 1, &res, &err) < 0)
                out = fail(status, 500, "session exec: ", &err);
        else if (!out)
                out = verdict(res, status);
        for (size_t i = 0; i < n_env; i++)
                free(env[i]);
        json_object_put(args);
        return out;
}

static json_object *work_session_stop(const char *session, int *status)
{
        struct zb_error err = { 0 };
        _cleanup_(freep) char *final = NULL;
        if (zb_session_stop(NULL, session, &final, &err) < 0)
                return fail(status, 500, "session stop: ", &err);
        json_object *o = final ? json_tokener_parse(final) : NULL;
        *status = 200;
        return o ? o : json_object_new_object();
}

#if __has_include("runtimes_built.h")
#include "runtimes_built.h"
#endif

json_object *srv_work(const struct srv_ctx *c, enum srv_kind kind, json_object *body, const char *raw,
                      size_t raw_len, const char *session, int *status)
{
        (void)raw, (void)raw_len;
        switch (kind) {
        case SRV_RUN:
                return work_run(c, body, status);
        case SRV_SESSION_START:
                return work_session_start(c, body, status);
        case SRV_SESSION_EXEC:
                return work_session_exec(c, body, session, status);
        case SRV_SESSION_STOP:
                return work_session_stop(session, status);
#ifdef ZB_SERVE_HAVE_RUNTIMES
        case SRV_RUNTIME:
                return srv_runtime_run(c->policy.base, c->rt, body, status);
        case SRV_PISTON:
                return srv_piston_execute(c->policy.base, c->rt, raw, raw_len, true, status);
#endif
        default:
                *status = 404;
                return srv_message("runtimes are not built into this zonebox");
        }
}

/* ------------------------------------------------------------ the worker program */

/* All of FD from offset 0, at most MAX bytes (more is -EFBIG). */
static char *slurp(int fd, size_t max, size_t *len)
{
        size_t cap = 65536, n = 0;
        char *buf = malloc(cap + 1);
        while (buf) {
                if (n == cap) {
                        char *more = cap < max ? realloc(buf, (cap *= 2) + 1) : NULL;
                        if (!more) {
                                free(buf);
                                return NULL;
                        }
                        buf = more;
                }
                ssize_t k = pread(fd, buf + n, cap - n, (off_t)n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        free(buf);
                        return NULL;
                }
                if (k == 0)
                        break;
                n += (size_t)k;
        }
        if (buf)
                buf[n] = '\0';
        *len = n;
        return buf;
}

static void answer(int status, json_object *o)
{
        size_t len = 0;
        const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                                             &len);
        char head[16];
        int hl = snprintf(head, sizeof(head), "%d\n", status);
        if (util_write_all(3, head, (size_t)hl) == 0)
                (void)util_write_all(3, text ? text : "{}", text ? len : 2);
        json_object_put(o);
}

/* What mcp_policy reads of the server: the config's text and its base
 * policy. The server validated both at its start and checked this job's
 * narrowing against them (srv_check), so the worker only loads the base; zb_run
 * validates the job's policy again. */
static int worker_policy(struct mcp_server *m, char *cfg, size_t len, char *name, char *dir, struct zb_error *err)
{
        memset(m, 0, sizeof(*m));
        m->cfg = cfg;
        m->cfg_len = len;
        m->cfg_name = name;
        m->cfg_dir = dir;
        m->base = zb_policy_new();
        if (!m->base)
                return err_set(err, ENOMEM, "out of memory");
        return pol_load_yaml_buffer(m->base, cfg, len, name, dir, err);
}

int srv_worker_main(int argc, char **argv)
{
        struct srv_ctx c = { 0 };
        struct zb_error err = { 0 };
        size_t cfg_len = 0, raw_len = 0;
        int status = 500;
        if (argc != 5)
                return 125;
        int kind = (int)strtol(argv[1], NULL, 10);
        /* The runtimes' functions get the base as the server validated it
         * (job.h); the server's own jobs need only what narrowing reads. */
        bool full = kind == SRV_RUNTIME || kind == SRV_PISTON;
        const char *session = strcmp(argv[4], "-") ? argv[4] : NULL;
        char *cfg = slurp(4, 1u << 20, &cfg_len), *raw = slurp(STDIN_FILENO, SRV_MAX_CONFIG_BODY, &raw_len);
        close(4);
        json_object *body = raw && raw_len ? json_tokener_parse(raw) : NULL, *out;
        util_block_forwarded(); /* zb_run and session exec forward them to the command */
        if (!cfg || !raw)
                out = srv_message("the worker could not read its job");
        else if ((full ? mcp_server_init_buffer(&c.policy, cfg, cfg_len, argv[2], argv[3], -1, -1, &err)
                       : worker_policy(&c.policy, cfg, cfg_len, argv[2], argv[3], &err)) < 0)
                out = srv_message("config: %s", err.message);
#ifdef ZB_SERVE_HAVE_RUNTIMES
        else if (srv_runtimes_load(&c.rt, cfg, cfg_len, argv[2], &err) < 0)
                out = srv_message("runtimes: %s", err.message);
#endif
        else
                out = srv_work(&c, (enum srv_kind)kind, body, raw, raw_len, session, &status);
        answer(status, out);
        json_object_put(body);
#ifdef ZB_SERVE_HAVE_RUNTIMES
        srv_runtimes_free(c.rt);
#endif
        if (full)
                mcp_server_free(&c.policy); /* its own copies of the config */
        else
                zb_policy_free(c.policy.base);
        free(cfg);
        free(raw);
        return 0;
}
