/* The tools zonebox mcp offers (docs/mcp.md): their schemas, and what each
 * does in its worker, a forked child of the server. A worker has /dev/null
 * (or the call's stdin) as stdin and stdout, so nothing it or a sandbox does
 * can write into the protocol stream; it writes one line to the server, its
 * CallToolResult, and exits. It may first ask the client's user something
 * (an approval "ask", a commit) through the server: an "elicit" line out, an
 * answer line back. Runs and session commands report the same verdict object
 * `zonebox run --json` prints, in structuredContent. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>

#include "../core/keys.h"
#include "mcp.h"

/* ------------------------------------------------------------ schemas */

#define LIMIT_PROPS                                                                                         \
        "\"timeout\":{\"type\":[\"string\",\"number\"],\"description\":\"wall-time limit, e.g. 500ms, 10s, 2m (a number: seconds); at most the server's\"}," \
        "\"memory\":{\"type\":[\"string\",\"integer\"],\"description\":\"memory limit, e.g. 64m (at most the server's)\"}," \
        "\"cpu_time\":{\"type\":[\"string\",\"number\"],\"description\":\"CPU-time limit (at most the server's)\"}," \
        "\"pids\":{\"type\":\"integer\",\"minimum\":1,\"description\":\"process limit (at most the server's)\"}," \
        "\"network\":{\"oneOf\":[{\"type\":\"string\",\"enum\":[\"none\",\"loopback\",\"host\"]},{\"type\":\"array\",\"items\":{\"type\":\"string\"}}],\"description\":\"none, loopback, or a subset of the server's network.allow; host only if the server's config says host\"}," \
        "\"env\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}," \
        "\"workdir\":{\"type\":\"string\"}"

#define COMMAND_PROP                                                                                        \
        "\"command\":{\"oneOf\":[{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"minItems\":1},{\"type\":\"string\"}],\"description\":\"argv array, or a shell string run with sh -c\"}," \
        "\"stdin\":{\"type\":\"string\",\"description\":\"bytes given to the command on stdin\"}"

#define VERDICT_SCHEMA                                                                                      \
        "{\"type\":\"object\",\"properties\":{"                                                             \
        "\"status\":{\"type\":\"string\",\"enum\":[\"exited\",\"signaled\",\"timeout\",\"cpu_timeout\",\"oom\",\"output_limit\",\"denied\",\"setup_error\"]}," \
        "\"exit_code\":{\"type\":[\"integer\",\"null\"]},\"signal\":{\"type\":[\"integer\",\"null\"]},"    \
        "\"cli_exit_code\":{\"type\":\"integer\"},\"wall_ms\":{\"type\":[\"number\",\"null\"]},"        \
        "\"cpu_user_ms\":{\"type\":[\"number\",\"null\"]},\"cpu_sys_ms\":{\"type\":[\"number\",\"null\"]}," \
        "\"peak_memory_bytes\":{\"type\":[\"integer\",\"null\"]},"                                  \
        "\"stdout\":{\"type\":[\"string\",\"null\"]},\"stderr\":{\"type\":[\"string\",\"null\"]}," \
        "\"stdout_truncated\":{\"type\":\"boolean\"},\"stderr_truncated\":{\"type\":\"boolean\"},"          \
        "\"layers\":{\"type\":\"object\"},\"violations\":{\"type\":\"array\"},\"error\":{\"type\":\"string\"}," \
        "\"cow_id\":{\"type\":[\"string\",\"null\"]},\"backend\":{\"type\":\"string\"}},\"required\":[\"status\"]}"

static const struct mcp_tool tools[] = {
        { "run", "Run a command in a new sandbox",
          "Run one command in a fresh zonebox sandbox with the server's zones, network, limits and approval rules. "
          "Arguments can only narrow the server's policy. Returns the verdict (status, exit code, stdout, stderr, "
          "times, peak memory, blocked operations).",
          "{\"type\":\"object\",\"properties\":{" COMMAND_PROP ","
          "\"files\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"},\"description\":\"PATH: content, written into rw zones before the run\"},"
          LIMIT_PROPS "},\"required\":[\"command\"],\"additionalProperties\":false}",
          VERDICT_SCHEMA, NULL },
        { "session_start", "Start a sandbox that keeps its state",
          "Start a session: one sandbox (the server's policy, narrowed by the arguments) that stays up between "
          "session_exec calls, for an agent's whole task.",
          "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
          "\"idle_timeout\":{\"type\":[\"string\",\"number\"]}," LIMIT_PROPS "},\"additionalProperties\":false}",
          "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"},\"name\":{\"type\":[\"string\",\"null\"]}},\"required\":[\"id\"]}",
          NULL },
        { "session_exec", "Run a command in a session",
          "Run a command in a session started by session_start; files and background processes persist between calls.",
          "{\"type\":\"object\",\"properties\":{\"session\":{\"type\":\"string\"}," COMMAND_PROP ","
          "\"timeout\":{\"type\":[\"string\",\"number\"]},\"env\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}},"
          "\"workdir\":{\"type\":\"string\"}},\"required\":[\"session\",\"command\"],\"additionalProperties\":false}",
          VERDICT_SCHEMA, NULL },
        { "session_stop", "Stop a session",
          "Stop a session: every process in it is killed and its sandbox removed. A cow zone's changes are kept for changes/commit.",
          "{\"type\":\"object\",\"properties\":{\"session\":{\"type\":\"string\"}},\"required\":[\"session\"],\"additionalProperties\":false}",
          "{\"type\":\"object\",\"properties\":{\"status\":{\"type\":\"string\"},\"cow_id\":{\"type\":[\"string\",\"null\"]}}}",
          NULL },
        { "session_list", "List sessions",
          "The sessions this server started that are still running.",
          "{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}",
          "{\"type\":\"object\",\"properties\":{\"sessions\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}}},\"required\":[\"sessions\"]}",
          NULL },
        { "read_file", "Read a file in a zone",
          "Read a file of a zone, by the path the sandbox sees (/ZONE/...). No '..', no symlinks, no devices.",
          "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},\"max_bytes\":{\"type\":\"integer\",\"minimum\":1}},\"required\":[\"path\"],\"additionalProperties\":false}",
          "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},\"size\":{\"type\":\"integer\"},\"truncated\":{\"type\":\"boolean\"},"
          "\"encoding\":{\"type\":\"string\",\"enum\":[\"utf-8\",\"base64\"]},\"content\":{\"type\":\"string\"}},\"required\":[\"path\",\"content\",\"encoding\"]}",
          mcp_read_file },
        { "write_file", "Write a file in a rw zone",
          "Write a file into a read-write zone (ro zones refuse; cow zones change only through runs). Missing parent directories are created.",
          "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},\"content\":{\"type\":\"string\"},"
          "\"encoding\":{\"type\":\"string\",\"enum\":[\"utf-8\",\"base64\"]}},\"required\":[\"path\",\"content\"],\"additionalProperties\":false}",
          "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},\"bytes\":{\"type\":\"integer\"}},\"required\":[\"path\",\"bytes\"]}",
          mcp_write_file },
        { "list_files", "List a directory in a zone",
          "List a directory of a zone (/ZONE/...); / lists the zones.",
          "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"}},\"additionalProperties\":false}",
          "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},\"entries\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
          "\"truncated\":{\"type\":\"boolean\"}},\"required\":[\"path\",\"entries\"]}",
          mcp_list_files },
        { "changes", "Review a cow change set",
          "Without id: the change sets this server's runs left in cow zones. With id: that change set's changes and its conflicts with the host.",
          "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"}},\"additionalProperties\":false}",
          "{\"type\":\"object\"}", NULL },
        { "commit", "Apply a cow change set to the host",
          "Apply a change set to the host directories. Needs the user's approval (asked through the client) unless "
          "the server's config says mcp.commit: allow.",
          "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"}},\"required\":[\"id\"],\"additionalProperties\":false}",
          "{\"type\":\"object\"}", NULL },
        { "discard", "Drop a cow change set",
          "Drop a change set: the host directories stay as they are.",
          "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"}},\"required\":[\"id\"],\"additionalProperties\":false}",
          "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"},\"discarded\":{\"type\":\"boolean\"}}}", NULL },
};

/* Handlers defined below (tools with NULL above get theirs here). */
static json_object *tool_run(struct mcp_work *w);
static json_object *tool_session_start(struct mcp_work *w);
static json_object *tool_session_exec(struct mcp_work *w);
static json_object *tool_session_stop(struct mcp_work *w);
static json_object *tool_session_list(struct mcp_work *w);
static json_object *tool_changes(struct mcp_work *w);
static json_object *tool_commit(struct mcp_work *w);
static json_object *tool_discard(struct mcp_work *w);

static mcp_tool_fn handler(const struct mcp_tool *t)
{
        static const struct {
                const char *name;
                mcp_tool_fn fn;
        } fns[] = {
                { "run", tool_run },         { "session_start", tool_session_start },
                { "session_exec", tool_session_exec }, { "session_stop", tool_session_stop },
                { "session_list", tool_session_list }, { "changes", tool_changes },
                { "commit", tool_commit },   { "discard", tool_discard },
        };
        if (t->run)
                return t->run;
        for (size_t i = 0; i < ARRAY_SIZE(fns); i++)
                if (strcmp(fns[i].name, t->name) == 0)
                        return fns[i].fn;
        return NULL;
}

const struct mcp_tool *mcp_tool_find(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(tools); i++)
                if (strcmp(tools[i].name, name) == 0)
                        return &tools[i];
        return NULL;
}

json_object *mcp_tools_list(struct zb_error *err)
{
        json_object *list = json_object_new_array();
        for (size_t i = 0; i < ARRAY_SIZE(tools); i++) {
                json_object *in = json_tokener_parse(tools[i].input), *out = json_tokener_parse(tools[i].output);
                if (!in || !out) {
                        json_object_put(in);
                        json_object_put(out);
                        json_object_put(list);
                        err_set(err, EINVAL, "tool %s: its schema does not parse", tools[i].name);
                        return NULL;
                }
                json_object *t = json_object_new_object();
                json_object_object_add(t, "name", json_object_new_string(tools[i].name));
                json_object_object_add(t, "title", json_object_new_string(tools[i].title));
                json_object_object_add(t, "description", json_object_new_string(tools[i].description));
                json_object_object_add(t, "inputSchema", in);
                json_object_object_add(t, "outputSchema", out);
                json_object_array_add(list, t);
        }
        json_object *r = json_object_new_object();
        json_object_object_add(r, "tools", list);
        return r;
}

/* ------------------------------------------------------------ results */

json_object *mcp_tool_result(json_object *structured, const char *text, bool is_error)
{
        json_object *r = json_object_new_object(), *content = json_object_new_array(), *c = json_object_new_object();
        json_object_object_add(c, "type", json_object_new_string("text"));
        json_object_object_add(c, "text", json_object_new_string(text));
        json_object_array_add(content, c);
        json_object_object_add(r, "content", content);
        if (structured)
                json_object_object_add(r, "structuredContent", structured);
        json_object_object_add(r, "isError", json_object_new_boolean(is_error));
        return r;
}

json_object *mcp_tool_error(const char *fmt, ...)
{
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return mcp_tool_result(NULL, msg, true);
}

/* The verdict: structuredContent is zb_result_json's object; the text a
 * short rendering of it. */
static json_object *verdict_result(const struct zb_result *res)
{
        _cleanup_(freep) char *json = zb_result_json(res);
        json_object *o = json ? json_tokener_parse(json) : NULL;
        if (!o)
                return mcp_tool_error("cannot format the result");
        json_object *v;
        const char *out = json_object_object_get_ex(o, "stdout", &v) ? json_object_get_string(v) : NULL;
        const char *errs = json_object_object_get_ex(o, "stderr", &v) ? json_object_get_string(v) : NULL;
        out = out ? out : ""; /* null in a result where nothing ran (denied) */
        errs = errs ? errs : "";
        const char *why = zb_result_error(res);
        _cleanup_(freep) char *text = util_asprintf(
                "status: %s, exit code %d%s%s\n%s%.65536s%s%.65536s", zb_result_status(res), zb_result_exit_code(res),
                why ? ": " : "", why ? why : "", *out ? "--- stdout\n" : "", out,
                *errs ? "\n--- stderr\n" : "", errs);
        return mcp_tool_result(o, text ? text : "", strcmp(zb_result_status(res), "exited") != 0);
}

/* ------------------------------------------------------------ asking the user */

static int read_line(int fd, char *buf, size_t n)
{
        size_t got = 0;
        while (got + 1 < n) {
                ssize_t k = read(fd, buf + got, 1);
                if (k <= 0)
                        return -1;
                if (buf[got++] == '\n')
                        break;
        }
        buf[got] = '\0';
        return 0;
}

bool mcp_elicit(struct mcp_work *w, const char *question)
{
        json_object *line = json_object_new_object(), *p = json_object_new_object();
        json_object *schema = json_tokener_parse(
                "{\"type\":\"object\",\"properties\":{\"approve\":{\"type\":\"boolean\",\"title\":\"Approve\","
                "\"description\":\"Accept to approve; decline to refuse\",\"default\":true}}}");
        json_object_object_add(p, "message", json_object_new_string(question));
        json_object_object_add(p, "requestedSchema", schema);
        json_object_object_add(line, "elicit", p);
        _cleanup_(freep) char *text = util_asprintf("%s\n", json_object_to_json_string_ext(line, JSON_C_TO_STRING_PLAIN));
        json_object_put(line);
        char answer[65536];
        if (!text || util_write_all(w->to_parent, text, strlen(text)) < 0 ||
            read_line(w->from_parent, answer, sizeof(answer)) < 0)
                return false;
        json_object *a = json_tokener_parse(answer), *v, *content;
        bool yes = a && json_object_object_get_ex(a, "action", &v) &&
                   strcmp(json_object_get_string(v), "accept") == 0;
        if (yes && json_object_object_get_ex(a, "content", &content) &&
            json_object_object_get_ex(content, "approve", &v) && !json_object_get_boolean(v))
                yes = false;
        json_object_put(a);
        return yes;
}

/* Approval "ask" during zb_run: the client's user, through elicitation. */
static int ask_client(const char *question, void *data)
{
        return mcp_elicit(data, question) ? ZB_ASK_ONCE : ZB_ASK_DENY;
}

/* ------------------------------------------------------------ run */

/* The call's stdin as the worker's fd 0 (the sandbox's stdin), from a memfd. */
int mcp_stdin_from(json_object *args, struct zb_error *err)
{
        json_object *v;
        if (!json_object_object_get_ex(args, "stdin", &v))
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return err_set(err, EINVAL, "stdin: expected a string");
        _cleanup_(closep) int fd = memfd_create("zonebox-mcp-stdin", MFD_CLOEXEC);
        if (fd < 0 || util_write_all(fd, json_object_get_string(v), (size_t)json_object_get_string_len(v)) < 0 ||
            lseek(fd, 0, SEEK_SET) < 0 || dup2(fd, STDIN_FILENO) < 0)
                return err_errno(err, errno, "stdin");
        return 0;
}

static int place_files(const struct zb_policy *p, json_object *args, struct zb_error *err)
{
        json_object *files;
        if (!json_object_object_get_ex(args, "files", &files))
                return 0;
        if (!json_object_is_type(files, json_type_object))
                return err_set(err, EINVAL, "files: expected an object PATH: content");
        json_object_object_foreach(files, path, content)
        {
                if (!json_object_is_type(content, json_type_string))
                        return err_set(err, EINVAL, "files: %.200s: expected a string", path);
                int r = mcp_put_file(p, path, json_object_get_string(content),
                                     (size_t)json_object_get_string_len(content), err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static json_object *tool_run(struct mcp_work *w)
{
        static const char *const keys[] = { "command", "stdin", "files", "timeout", "memory", "cpu_time",
                                            "pids", "network", "env", "workdir", NULL };
        struct zb_error err = { 0 };
        _cleanup_(freep) char **argv = NULL;
        size_t argc = 0;
        struct zb_policy *p = mcp_policy(w->s, w->args, keys, &err);
        struct zb_result *res = NULL;
        json_object *out;

        if (!p)
                return mcp_tool_error("run: %s", err.message);
        if (mcp_command(w->args, &argv, &argc, &err) < 0 ||
            zb_policy_set_command(p, (int)argc, argv, &err) < 0 || mcp_stdin_from(w->args, &err) < 0 ||
            place_files(p, w->args, &err) < 0) {
                zb_policy_free(p);
                return mcp_tool_error("run: %s", err.message);
        }
        zb_policy_set_capture(p, 1);
        if (w->s->client_elicits)
                zb_policy_set_ask(p, ask_client, w);
        if (zb_run(p, &res, &err) < 0)
                out = mcp_tool_error("run: %s", err.message);
        else
                out = verdict_result(res);
        zb_result_free(res);
        zb_policy_free(p);
        return out;
}

/* ------------------------------------------------------------ sessions */

static json_object *tool_session_start(struct mcp_work *w)
{
        static const char *const keys[] = { "name", "idle_timeout", "timeout", "memory", "cpu_time",
                                            "pids", "network", "env", "workdir", NULL };
        struct zb_error err = { 0 };
        char id[64];
        long long idle = -1;
        const char *name = mcp_arg_string(w->args, "name");
        json_object *v;
        struct zb_policy *p = mcp_policy(w->s, w->args, keys, &err);
        if (!p)
                return mcp_tool_error("session_start: %s", err.message);
        if (json_object_object_get_ex(w->args, "idle_timeout", &v)) {
                uint64_t ms = 0;
                const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
                char num[32];
                if (!s && json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0) {
                        snprintf(num, sizeof(num), "%lld", (long long)json_object_get_int64(v));
                        s = num;
                }
                if (!s || pol_set_key(p, "session.idle_timeout", s, "idle_timeout", NULL, &err) < 0) {
                        zb_policy_free(p);
                        return mcp_tool_error("session_start: idle_timeout: %s", s ? err.message : "expected a duration");
                }
                ms = p->idle_timeout_ms;
                idle = (long long)ms;
        }
        /* The session's commands get the server's approval rules; its daemon
         * asks only a terminal, so ask is denied inside sessions. */
        int r = zb_session_start(p, NULL, name, idle, id, sizeof(id), &err);
        zb_policy_free(p);
        if (r < 0)
                return mcp_tool_error("session_start: %s", err.message);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(id));
        json_object_object_add(o, "name", name ? json_object_new_string(name) : NULL);
        _cleanup_(freep) char *text = util_asprintf("session %s started%s%s", id, name ? " as " : "", name ? name : "");
        return mcp_tool_result(o, text ? text : "", false);
}

static json_object *tool_session_exec(struct mcp_work *w)
{
        static const char *const keys[] = { "session", "command", "stdin", "timeout", "env", "workdir", NULL };
        struct zb_error err = { 0 };
        _cleanup_(freep) char **argv = NULL;
        _cleanup_(freep) char **env = NULL;
        size_t argc = 0, n_env = 0;
        long long timeout_ms = -1;
        json_object *v;
        const char *session = mcp_arg_string(w->args, "session");

        if (mcp_args_check(w->args, keys, &err) < 0 || mcp_command(w->args, &argv, &argc, &err) < 0 ||
            mcp_stdin_from(w->args, &err) < 0)
                return mcp_tool_error("session_exec: %s", err.message);
        if (!session)
                return mcp_tool_error("session_exec: session: required");
        if (json_object_object_get_ex(w->args, "timeout", &v)) {
                /* Narrowing only: checked against the server's wall_time. */
                json_object *only = json_object_new_object();
                json_object_object_add(only, "timeout", json_object_get(v));
                static const char *const tkeys[] = { "timeout", NULL };
                struct zb_policy *p = mcp_policy(w->s, only, tkeys, &err);
                json_object_put(only);
                if (!p)
                        return mcp_tool_error("session_exec: %s", err.message);
                timeout_ms = (long long)p->limits.wall_time_ms;
                zb_policy_free(p);
        }
        if (json_object_object_get_ex(w->args, "env", &v)) {
                if (!json_object_is_type(v, json_type_object))
                        return mcp_tool_error("session_exec: env: expected an object NAME: value");
                env = calloc((size_t)json_object_object_length(v) + 1, sizeof(char *));
                json_object_object_foreach(v, k, val)
                {
                        if (!env || !*k || strchr(k, '=') || !json_object_is_type(val, json_type_string))
                                return mcp_tool_error("session_exec: env: each entry is NAME: \"value\"");
                        env[n_env++] = util_asprintf("%s=%s", k, json_object_get_string(val));
                }
        }
        struct zb_result *res = NULL;
        int r = zb_session_exec(NULL, session, argv, (int)argc, env, (int)n_env, mcp_arg_string(w->args, "workdir"),
                                timeout_ms, 1, &res, &err);
        for (size_t i = 0; i < n_env; i++)
                free(env[i]);
        if (r < 0)
                return mcp_tool_error("session_exec: %s", err.message);
        json_object *out = verdict_result(res);
        zb_result_free(res);
        return out;
}

static json_object *tool_session_stop(struct mcp_work *w)
{
        static const char *const keys[] = { "session", NULL };
        struct zb_error err = { 0 };
        _cleanup_(freep) char *final = NULL;
        const char *session = mcp_arg_string(w->args, "session");
        if (mcp_args_check(w->args, keys, &err) < 0 || !session)
                return mcp_tool_error("session_stop: %s", session ? err.message : "session: required");
        if (zb_session_stop(NULL, session, &final, &err) < 0)
                return mcp_tool_error("session_stop: %s", err.message);
        json_object *o = final ? json_tokener_parse(final) : NULL;
        if (!o)
                o = json_object_new_object();
        _cleanup_(freep) char *text = util_asprintf("session %s stopped", session);
        return mcp_tool_result(o, text ? text : "", false);
}

static json_object *tool_session_list(struct mcp_work *w)
{
        struct zb_error err = { 0 };
        static const char *const keys[] = { NULL };
        _cleanup_(freep) char *json = NULL;
        if (mcp_args_check(w->args, keys, &err) < 0 || zb_session_list(NULL, &json, &err) < 0)
                return mcp_tool_error("session_list: %s", err.message);
        json_object *all = json_tokener_parse(json), *mine = json_object_new_array();
        for (size_t i = 0; all && i < json_object_array_length(all); i++) {
                json_object *e = json_object_array_get_idx(all, i), *id, *name;
                bool ours = false;
                for (int k = 0; k < MCP_MAX_SESSIONS && !ours; k++)
                        ours = w->s->sessions[k] &&
                               ((json_object_object_get_ex(e, "id", &id) &&
                                 !strcmp(json_object_get_string(id), w->s->sessions[k])) ||
                                (json_object_object_get_ex(e, "name", &name) && json_object_is_type(name, json_type_string) &&
                                 !strcmp(json_object_get_string(name), w->s->sessions[k])));
                if (ours)
                        json_object_array_add(mine, json_object_get(e));
        }
        json_object_put(all);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "sessions", mine);
        const char *text = json_object_to_json_string_ext(mine, JSON_C_TO_STRING_PLAIN);
        _cleanup_(freep) char *copy = util_strdup(text);
        return mcp_tool_result(o, copy ? copy : "", false);
}

/* ------------------------------------------------------------ cow change sets */

static json_object *tool_changes(struct mcp_work *w)
{
        static const char *const keys[] = { "id", NULL };
        struct zb_error err = { 0 };
        _cleanup_(freep) char *json = NULL;
        const char *id = mcp_arg_string(w->args, "id");
        if (mcp_args_check(w->args, keys, &err) < 0)
                return mcp_tool_error("changes: %s", err.message);
        if (id) {
                if (zb_cow_diff(w->s->base->cow.dir, id, &json, &err) < 0)
                        return mcp_tool_error("changes: %s", err.message);
                json_object *o = json_tokener_parse(json);
                return mcp_tool_result(o ? o : json_object_new_object(), json, false);
        }
        if (zb_cow_list(w->s->base->cow.dir, &json, &err) < 0)
                return mcp_tool_error("changes: %s", err.message);
        json_object *all = json_tokener_parse(json), *mine = json_object_new_array();
        for (size_t i = 0; all && i < json_object_array_length(all); i++) {
                json_object *e = json_object_array_get_idx(all, i), *v;
                for (int k = 0; k < MCP_MAX_CHANGE_SETS; k++)
                        if (w->s->change_sets[k] && json_object_object_get_ex(e, "id", &v) &&
                            !strcmp(json_object_get_string(v), w->s->change_sets[k])) {
                                json_object_array_add(mine, json_object_get(e));
                                break;
                        }
        }
        json_object_put(all);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "change_sets", mine);
        _cleanup_(freep) char *text = util_strdup(json_object_to_json_string_ext(mine, JSON_C_TO_STRING_PLAIN));
        return mcp_tool_result(o, text ? text : "", false);
}

static json_object *tool_commit(struct mcp_work *w)
{
        static const char *const keys[] = { "id", NULL };
        struct zb_error err = { 0 };
        _cleanup_(freep) char *diff = NULL;
        _cleanup_(freep) char *json = NULL;
        const char *id = mcp_arg_string(w->args, "id");
        if (mcp_args_check(w->args, keys, &err) < 0 || !id)
                return mcp_tool_error("commit: %s", id ? err.message : "id: required");
        if (w->s->conf.commit != MCP_COMMIT_ALLOW) {
                if (!w->s->client_elicits)
                        return mcp_tool_error("commit: needs the user's approval, and this client cannot ask "
                                              "(no elicitation); commit with `zonebox commit %s`, or set "
                                              "mcp: {commit: allow} in the server's config", id);
                if (zb_cow_diff(w->s->base->cow.dir, id, &diff, &err) < 0)
                        return mcp_tool_error("commit: %s", err.message);
                _cleanup_(freep) char *q = util_asprintf("Apply change set %s to the host directories?\n%.3000s", id, diff);
                if (!q || !mcp_elicit(w, q))
                        return mcp_tool_error("commit: the user did not approve change set %s; nothing applied", id);
        }
        int r = zb_cow_commit(w->s->base->cow.dir, id, &json, &err);
        json_object *o = json ? json_tokener_parse(json) : NULL;
        if (o && !json_object_is_type(o, json_type_object)) {
                json_object *wrap = json_object_new_object();
                json_object_object_add(wrap, "result", o);
                o = wrap;
        }
        if (r < 0)
                return o ? mcp_tool_result(o, err.message, true) : mcp_tool_error("commit: %s", err.message);
        _cleanup_(freep) char *text = util_asprintf("change set %s applied to the host", id);
        return mcp_tool_result(o ? o : json_object_new_object(), text ? text : "", false);
}

static json_object *tool_discard(struct mcp_work *w)
{
        static const char *const keys[] = { "id", NULL };
        struct zb_error err = { 0 };
        const char *id = mcp_arg_string(w->args, "id");
        if (mcp_args_check(w->args, keys, &err) < 0 || !id)
                return mcp_tool_error("discard: %s", id ? err.message : "id: required");
        if (zb_cow_discard(w->s->base->cow.dir, id, &err) < 0)
                return mcp_tool_error("discard: %s", err.message);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(id));
        json_object_object_add(o, "discarded", json_object_new_boolean(1));
        _cleanup_(freep) char *text = util_asprintf("change set %s discarded", id);
        return mcp_tool_result(o, text ? text : "", false);
}

/* ------------------------------------------------------------ the worker */

void mcp_worker_main(const struct mcp_server *s, const struct mcp_tool *t, json_object *args,
                     int to_parent, int from_parent)
{
        /* Nothing of the protocol stream stays open here: a sandbox or a
         * session daemon forked below must not be able to write into it. */
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0)
                _exit(1);
        if (dup2(to_parent, 3) < 0 || dup2(from_parent, 4) < 0)
                _exit(1);
        util_worker_fresh(5);
        util_block_forwarded(); /* zb_run and session exec forward them to the command */
        struct mcp_work w = { .s = s, .args = args, .to_parent = 3, .from_parent = 4 };
        mcp_tool_fn fn = handler(t);
        json_object *result = fn ? fn(&w) : mcp_tool_error("%s: not implemented", t->name);
        json_object *line = json_object_new_object();
        json_object_object_add(line, "result", result);
        size_t len = 0;
        const char *text = json_object_to_json_string_length(line, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        _cleanup_(freep) char *out = text ? malloc(len + 1) : NULL;
        if (out) {
                memcpy(out, text, len);
                out[len] = '\n';
                (void)util_write_all(3, out, len + 1);
        }
        json_object_put(line);
        /* exit, not _exit: nothing of the server registers an exit handler,
         * and the coverage build's counters of the tools are written there. */
        exit(0);
}
