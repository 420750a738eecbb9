/* The MCP server's own process: reads JSON-RPC lines from stdin, answers
 * initialize, ping and tools/list itself, and starts one worker per
 * tools/call (worker.c), relaying its elicitation questions to the client and
 * its result back.
 *
 * Guarantees: no input ends the server (every malformed line gets a JSON-RPC
 * error, a line past MCP_MAX_LINE_BYTES is skipped); only protocol messages
 * go to stdout, each one write of one line; a cancelled call's worker is
 * killed with SIGKILL (its sandbox dies with it: init's parent-death signal)
 * and its cgroups are collected at once; on exit no worker is left and the
 * sessions this server started are stopped. Only the sessions and change
 * sets this server made are reachable through it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "../core/audit.h"
#include "../core/keys.h"
#include "mcp.h"

static const char *const protocols[] = { "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05" };

#define READ_CHUNK (64u << 10)

/* ------------------------------------------------------------ output */

void mcp_send(struct mcp_server *s, json_object *msg)
{
        if (s->out_closed)
                return;
        size_t len = 0;
        const char *text = json_object_to_json_string_length(
                msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        _cleanup_(freep) char *line = text ? malloc(len + 1) : NULL;
        if (!line)
                return;
        memcpy(line, text, len);
        line[len] = '\n';
        if (util_write_all(s->out_fd, line, len + 1) < 0)
                s->out_closed = true;
}

static json_object *message(json_object *id)
{
        json_object *m = json_object_new_object();
        json_object_object_add(m, "jsonrpc", json_object_new_string("2.0"));
        if (id)
                json_object_object_add(m, "id", json_object_get(id));
        return m;
}

static void send_result(struct mcp_server *s, json_object *id, json_object *result)
{
        json_object *m = message(id);
        json_object_object_add(m, "result", result);
        mcp_send(s, m);
        json_object_put(m);
}

static void send_error(struct mcp_server *s, json_object *id, int code, const char *text)
{
        json_object *m = message(NULL);
        json_object_object_add(m, "id", id ? json_object_get(id) : NULL);
        json_object *e = json_object_new_object();
        json_object_object_add(e, "code", json_object_new_int(code));
        json_object_object_add(e, "message", json_object_new_string(text));
        json_object_object_add(m, "error", e);
        mcp_send(s, m);
        json_object_put(m);
}

static void send_notification(struct mcp_server *s, const char *method, json_object *params)
{
        json_object *m = message(NULL);
        json_object_object_add(m, "method", json_object_new_string(method));
        json_object_object_add(m, "params", params);
        mcp_send(s, m);
        json_object_put(m);
}

/* ------------------------------------------------------------ audit */

/* One line per tools/call in the policy's audit log ("event": "mcp"): the
 * tool, what it was about, and how it ended. Nothing without audit.log. */
static void audit_call(const struct mcp_server *s, const struct mcp_call *c, const char *outcome,
                       const char *detail)
{
        if (!s->base->audit.log)
                return;
        struct zb_error err = { 0 };
        _cleanup_(closep) int fd = audit_log_open(s->base, &err);
        if (fd < 0)
                return;
        json_object *o = json_object_new_object();
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        json_object_object_add(o, "time", json_object_new_double((double)ts.tv_sec + (double)ts.tv_nsec / 1e9));
        json_object_object_add(o, "event", json_object_new_string("mcp"));
        json_object_object_add(o, "pid", json_object_new_int(getpid()));
        json_object_object_add(o, "tool", json_object_new_string(c->tool));
        json_object_object_add(o, "request_id", json_object_get(c->id));
        size_t subject_len = c->subject ? strnlen(c->subject, 1024) : 0;
        json_object_object_add(o, "subject", json_object_new_string_len(c->subject ? c->subject : "",
                                                                           (int)subject_len));
        json_object_object_add(o, "outcome", json_object_new_string(outcome));
        if (detail)
                json_object_object_add(o, "detail", json_object_new_string_len(detail, (int)strnlen(detail, 1024)));
        size_t len = 0;
        const char *t = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
        _cleanup_(freep) char *line = util_asprintf("%s\n", t);
        if (line && strlen(line) <= ZB_AUDIT_LINE_MAX)
                (void)util_write_all(fd, line, strlen(line));
        json_object_put(o);
}

/* ------------------------------------------------------------ what this server made */

static bool listed(char *const *list, size_t n, const char *v)
{
        for (size_t i = 0; i < n; i++)
                if (list[i] && strcmp(list[i], v) == 0)
                        return true;
        return false;
}

static void remember(char **list, size_t n, const char *v)
{
        if (!v || listed(list, n, v))
                return;
        for (size_t i = 0; i < n; i++)
                if (!list[i]) {
                        list[i] = util_strdup(v);
                        return;
                }
}

static void forget(char **list, size_t n, const char *v)
{
        for (size_t i = 0; i < n; i++)
                if (list[i] && strcmp(list[i], v) == 0) {
                        free(list[i]);
                        list[i] = NULL;
                }
}

/* A session or change set named in ARGS must be one of ours. */
static const char *foreign_object(const struct mcp_server *s, const char *tool, json_object *args)
{
        const char *v;
        if (strncmp(tool, "session_", 8) == 0 && (v = mcp_arg_string(args, "session")) &&
            !listed(s->sessions, MCP_MAX_SESSIONS, v))
                return "session: not one this server started (see session_list)";
        if ((!strcmp(tool, "changes") || !strcmp(tool, "commit") || !strcmp(tool, "discard")) &&
            (v = mcp_arg_string(args, "id")) && !listed(s->change_sets, MCP_MAX_CHANGE_SETS, v))
                return "id: not a change set of this server's runs (see changes)";
        return NULL;
}

/* ------------------------------------------------------------ calls */

static void call_free(struct mcp_call *c)
{
        json_object_put(c->id);
        json_object_put(c->token);
        free(c->subject);
        free(c->in);
        if (c->pidfd >= 0)
                close(c->pidfd);
        if (c->from_fd >= 0)
                close(c->from_fd);
        if (c->to_fd >= 0)
                close(c->to_fd);
        memset(c, 0, sizeof(*c));
        c->pidfd = c->from_fd = c->to_fd = -1;
}

static struct mcp_call *call_by_id(struct mcp_server *s, json_object *id)
{
        for (int i = 0; i < MCP_MAX_CALLS; i++) {
                struct mcp_call *c = &s->calls[i];
                if (c->used && c->id && json_object_equal(c->id, id))
                        return c;
        }
        return NULL;
}

static char *subject_of(json_object *args)
{
        static const char *const keys[] = { "command", "path", "session", "id", "name" };
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
                json_object *v;
                if (json_object_object_get_ex(args, keys[i], &v))
                        return util_strdup(json_object_get_type(v) == json_type_string
                                                 ? json_object_get_string(v)
                                                 : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        }
        return NULL;
}

static int start_worker(struct mcp_server *s, struct mcp_call *c, const struct mcp_tool *t, json_object *args)
{
        int up[2], down[2];
        if (pipe2(up, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(down, O_CLOEXEC) < 0) {
                close(up[0]);
                close(up[1]);
                return -errno;
        }
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(up[0]), close(up[1]), close(down[0]), close(down[1]);
                return -e;
        }
        if (pid == 0) {
                close(up[0]);
                close(down[1]);
                mcp_worker_main(s, t, args, up[1], down[0]);
        }
        close(up[1]);
        close(down[0]);
        c->pid = pid;
        c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        c->from_fd = up[0];
        c->to_fd = down[1];
        fcntl(c->from_fd, F_SETFL, O_NONBLOCK);
        if (c->pidfd < 0) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                return -EMFILE;
        }
        return 0;
}

static void tools_call(struct mcp_server *s, json_object *id, json_object *params)
{
        json_object *name = NULL, *args = NULL, *meta = NULL, *token = NULL;
        if (!json_object_is_type(params, json_type_object) ||
            !json_object_object_get_ex(params, "name", &name) || !json_object_is_type(name, json_type_string))
                return send_error(s, id, MCP_INVALID_PARAMS, "tools/call: params.name (a string) is required");
        const struct mcp_tool *t = mcp_tool_find(json_object_get_string(name));
        if (!t)
                return send_error(s, id, MCP_INVALID_PARAMS, "tools/call: unknown tool");
        if (json_object_object_get_ex(params, "arguments", &args) && args &&
            !json_object_is_type(args, json_type_object))
                return send_error(s, id, MCP_INVALID_PARAMS, "tools/call: arguments must be an object");
        if (json_object_object_get_ex(params, "_meta", &meta) && json_object_is_type(meta, json_type_object) &&
            json_object_object_get_ex(meta, "progressToken", &token) &&
            !json_object_is_type(token, json_type_string) && !json_object_is_type(token, json_type_int))
                token = NULL;
        if (call_by_id(s, id))
                return send_error(s, id, MCP_INVALID_REQUEST, "a request with this id is still running");
        json_object *own_args = args ? json_object_get(args) : json_object_new_object();
        struct mcp_call *c = NULL;
        for (int i = 0; i < s->max_calls && i < MCP_MAX_CALLS; i++)
                if (!s->calls[i].used) {
                        c = &s->calls[i];
                        break;
                }
        struct mcp_call tmp = { .id = id, .subject = subject_of(own_args) };
        snprintf(tmp.tool, sizeof(tmp.tool), "%s", t->name);
        const char *foreign = foreign_object(s, t->name, own_args);
        if (foreign || !c) {
                const char *why = foreign ? foreign : "too many tool calls running at once";
                json_object *r = mcp_tool_error("%s", why);
                audit_call(s, &tmp, "refused", why);
                send_result(s, id, r);
                free(tmp.subject);
                json_object_put(own_args);
                return;
        }
        call_free(c);
        c->used = true;
        c->id = json_object_get(id);
        c->token = token ? json_object_get(token) : NULL;
        c->subject = tmp.subject;
        memcpy(c->tool, tmp.tool, sizeof(c->tool));
        c->start_ns = util_now_ns();
        c->next_progress_ns = c->start_ns + MCP_PROGRESS_INTERVAL_MS * 1000000ull;
        audit_call(s, c, "started", NULL);
        int r = start_worker(s, c, t, own_args);
        json_object_put(own_args);
        if (r < 0) {
                audit_call(s, c, "error", strerror(-r));
                send_result(s, id, mcp_tool_error("cannot start the tool's worker: %s", strerror(-r)));
                call_free(c);
        }
}

/* The worker's result is in: remember what it made, answer, audit. */
static void finish_call(struct mcp_server *s, struct mcp_call *c, json_object *result)
{
        json_object *sc = NULL, *v = NULL, *err = NULL;
        bool is_error = json_object_object_get_ex(result, "isError", &err) && json_object_get_boolean(err);
        if (json_object_object_get_ex(result, "structuredContent", &sc)) {
                if (json_object_object_get_ex(sc, "cow_id", &v) && json_object_is_type(v, json_type_string))
                        remember(s->change_sets, MCP_MAX_CHANGE_SETS, json_object_get_string(v));
                if (!is_error && !strcmp(c->tool, "session_start") &&
                    json_object_object_get_ex(sc, "id", &v) && json_object_is_type(v, json_type_string))
                        remember(s->sessions, MCP_MAX_SESSIONS, json_object_get_string(v));
        }
        if (!is_error && !strcmp(c->tool, "session_stop") && c->subject)
                forget(s->sessions, MCP_MAX_SESSIONS, c->subject);
        if (!is_error && (!strcmp(c->tool, "commit") || !strcmp(c->tool, "discard")) && c->subject)
                forget(s->change_sets, MCP_MAX_CHANGE_SETS, c->subject);
        audit_call(s, c, is_error ? "error" : "ok", NULL);
        send_result(s, c->id, json_object_get(result));
}

/* A session started under another name: session_stop/exec by name must still
 * find it, so the result's name is remembered as well. */
static void remember_session_name(struct mcp_server *s, json_object *result)
{
        json_object *sc, *v;
        if (json_object_object_get_ex(result, "structuredContent", &sc) &&
            json_object_object_get_ex(sc, "name", &v) && json_object_is_type(v, json_type_string))
                remember(s->sessions, MCP_MAX_SESSIONS, json_object_get_string(v));
}

static void elicit_for(struct mcp_server *s, struct mcp_call *c, json_object *params)
{
        if (!s->client_elicits) {
                (void)util_write_all(c->to_fd, "{\"action\":\"unsupported\"}\n", 25);
                return;
        }
        c->elicit_id = ++s->next_request_id;
        json_object *m = message(NULL);
        json_object_object_add(m, "id", json_object_new_int64(c->elicit_id));
        json_object_object_add(m, "method", json_object_new_string("elicitation/create"));
        json_object_object_add(m, "params", json_object_get(params));
        mcp_send(s, m);
        json_object_put(m);
}

/* Lines from the worker: {"elicit": params} or {"result": CallToolResult}. */
static void worker_lines(struct mcp_server *s, struct mcp_call *c, bool done)
{
        char *start = c->in, *nl;
        while ((nl = memchr(start, '\n', c->in_len - (size_t)(start - c->in)))) {
                json_tokener *tok = json_tokener_new();
                json_object *o = tok ? json_tokener_parse_ex(tok, start, (int)(nl - start)) : NULL;
                json_tokener_free(tok);
                json_object *v;
                if (o && json_object_object_get_ex(o, "elicit", &v))
                        elicit_for(s, c, v);
                else if (o && json_object_object_get_ex(o, "result", &v) && !c->cancelled) {
                        if (!strcmp(c->tool, "session_start"))
                                remember_session_name(s, v);
                        finish_call(s, c, v);
                        c->cancelled = true; /* answered: nothing more goes out */
                }
                json_object_put(o);
                start = nl + 1;
        }
        size_t rest = c->in_len - (size_t)(start - c->in);
        memmove(c->in, start, rest);
        c->in_len = rest;
        if (done && !c->cancelled) {
                audit_call(s, c, "error", "the worker ended without a result");
                send_result(s, c->id, mcp_tool_error("internal error: the tool's worker ended without a result"));
        }
}

static void read_worker(struct mcp_server *s, struct mcp_call *c)
{
        for (;;) {
                if (c->in_cap - c->in_len < READ_CHUNK) {
                        size_t cap = c->in_cap * 2 + READ_CHUNK;
                        char *n = realloc(c->in, cap);
                        if (!n)
                                return;
                        c->in = n;
                        c->in_cap = cap;
                }
                ssize_t n = read(c->from_fd, c->in + c->in_len, c->in_cap - c->in_len);
                if (n <= 0)
                        break;
                c->in_len += (size_t)n;
        }
        worker_lines(s, c, false);
}

/* The worker exited: take what it wrote, reap it; a killed one's cgroups go now. */
static void reap_worker(struct mcp_server *s, struct mcp_call *c)
{
        read_worker(s, c);
        worker_lines(s, c, true);
        int status = 0;
        waitpid(c->pid, &status, 0);
        if (WIFSIGNALED(status)) {
                struct zb_error err = { 0 };
                unsigned removed = 0;
                (void)zb_gc(s->base->limits.cgroup_parent, &removed, &err);
        }
        call_free(c);
}

static void cancel_call(struct mcp_server *s, json_object *params)
{
        json_object *id;
        if (!json_object_object_get_ex(params, "requestId", &id))
                return;
        struct mcp_call *c = call_by_id(s, id);
        if (!c || c->cancelled)
                return;
        c->cancelled = true; /* no response: the client has given up on it */
        kill(c->pid, SIGKILL);
        audit_call(s, c, "cancelled", NULL);
}

static void send_progress(struct mcp_server *s, uint64_t now)
{
        for (int i = 0; i < MCP_MAX_CALLS; i++) {
                struct mcp_call *c = &s->calls[i];
                if (!c->used || !c->token || c->cancelled || now < c->next_progress_ns)
                        continue;
                c->next_progress_ns = now + MCP_PROGRESS_INTERVAL_MS * 1000000ull;
                double secs = (double)(now - c->start_ns) / 1e9;
                json_object *p = json_object_new_object();
                json_object_object_add(p, "progressToken", json_object_get(c->token));
                json_object_object_add(p, "progress", json_object_new_double(secs));
                _cleanup_(freep) char *msg = util_asprintf("%s running for %.0f s", c->tool, secs);
                json_object_object_add(p, "message", json_object_new_string(msg ? msg : "running"));
                send_notification(s, "notifications/progress", p);
        }
}

/* ------------------------------------------------------------ methods */

static void initialize(struct mcp_server *s, json_object *id, json_object *params)
{
        json_object *v = NULL, *caps = NULL, *el = NULL;
        if (!json_object_is_type(params, json_type_object) ||
            !json_object_object_get_ex(params, "protocolVersion", &v) || !json_object_is_type(v, json_type_string))
                return send_error(s, id, MCP_INVALID_PARAMS, "initialize: params.protocolVersion (a string) is required");
        const char *want = json_object_get_string(v), *use = protocols[0];
        for (size_t i = 0; i < ARRAY_SIZE(protocols); i++)
                if (strcmp(want, protocols[i]) == 0)
                        use = protocols[i];
        snprintf(s->protocol, sizeof(s->protocol), "%s", use);
        s->client_elicits = json_object_object_get_ex(params, "capabilities", &caps) &&
                            json_object_is_type(caps, json_type_object) &&
                            json_object_object_get_ex(caps, "elicitation", &el) &&
                            json_object_is_type(el, json_type_object);
        s->initialized = true;
        json_object *r = json_object_new_object();
        json_object_object_add(r, "protocolVersion", json_object_new_string(use));
        json_object *sc = json_object_new_object(), *tools = json_object_new_object();
        json_object_object_add(tools, "listChanged", json_object_new_boolean(0));
        json_object_object_add(sc, "tools", tools);
        json_object_object_add(r, "capabilities", sc);
        json_object *info = json_object_new_object();
        json_object_object_add(info, "name", json_object_new_string("zonebox"));
        json_object_object_add(info, "version", json_object_new_string(ZB_VERSION));
        json_object_object_add(r, "serverInfo", info);
        json_object_object_add(r, "instructions", json_object_new_string(
                "Each tool runs in a zonebox sandbox whose zones, network, limits and approval rules come "
                "from the server's config; arguments can only narrow them. Paths are as the sandbox sees "
                "them (/ZONE/...). Results carry the sandbox's verdict in structuredContent."));
        send_result(s, id, r);
}

static void request(struct mcp_server *s, const char *method, json_object *id, json_object *params)
{
        if (strcmp(method, "initialize") == 0)
                initialize(s, id, params);
        else if (strcmp(method, "ping") == 0)
                send_result(s, id, json_object_new_object());
        else if (strcmp(method, "tools/list") == 0)
                send_result(s, id, json_object_get(s->tools));
        else if (strcmp(method, "tools/call") == 0)
                tools_call(s, id, params);
        else
                send_error(s, id, MCP_METHOD_NOT_FOUND, "method not found");
}

static void notification(struct mcp_server *s, const char *method, json_object *params)
{
        if (strcmp(method, "notifications/cancelled") == 0 && json_object_is_type(params, json_type_object))
                cancel_call(s, params);
        /* notifications/initialized, progress, roots/list_changed: nothing to do */
}

/* A response from the client: the answer to a worker's elicitation. */
static void response(struct mcp_server *s, json_object *id, json_object *msg)
{
        if (!json_object_is_type(id, json_type_int))
                return;
        int64_t n = json_object_get_int64(id);
        for (int i = 0; i < MCP_MAX_CALLS; i++) {
                struct mcp_call *c = &s->calls[i];
                if (!c->used || c->elicit_id != n || n == 0)
                        continue;
                c->elicit_id = 0;
                json_object *result = NULL;
                json_object *answer = json_object_new_object();
                if (json_object_object_get_ex(msg, "result", &result) && json_object_is_type(result, json_type_object)) {
                        json_object *a = NULL, *content = NULL;
                        json_object_object_get_ex(result, "action", &a);
                        json_object_object_add(answer, "action", json_object_new_string(
                                json_object_is_type(a, json_type_string) ? json_object_get_string(a) : "decline"));
                        if (json_object_object_get_ex(result, "content", &content))
                                json_object_object_add(answer, "content", json_object_get(content));
                } else {
                        json_object_object_add(answer, "action", json_object_new_string("error"));
                }
                size_t len = 0;
                const char *t = json_object_to_json_string_length(answer, JSON_C_TO_STRING_PLAIN, &len);
                _cleanup_(freep) char *line = util_asprintf("%s\n", t);
                if (line)
                        (void)util_write_all(c->to_fd, line, strlen(line));
                json_object_put(answer);
                return;
        }
}

static bool valid_id(json_object *id)
{
        return json_object_is_type(id, json_type_string) || json_object_is_type(id, json_type_int);
}

void mcp_handle_line(struct mcp_server *s, const char *line, size_t len)
{
        while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
                len--;
        if (len == 0)
                return;
        if (len > INT32_MAX)
                return send_error(s, NULL, MCP_PARSE_ERROR, "parse error: message too large");
        json_tokener *tok = json_tokener_new();
        if (!tok)
                return send_error(s, NULL, MCP_INTERNAL_ERROR, "out of memory");
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        json_object *msg = json_tokener_parse_ex(tok, line, (int)len);
        bool whole = json_tokener_get_error(tok) == json_tokener_success &&
                     json_tokener_get_parse_end(tok) == len;
        json_tokener_free(tok);
        if (!msg || !whole) {
                json_object_put(msg);
                return send_error(s, NULL, MCP_PARSE_ERROR, "parse error: not one JSON value");
        }
        json_object *v = NULL, *id = NULL, *method = NULL, *params = NULL;
        bool has_id = json_object_object_get_ex(msg, "id", &id);
        if (json_object_is_type(msg, json_type_array)) {
                send_error(s, NULL, MCP_INVALID_REQUEST, "invalid request: batches are not supported");
        } else if (!json_object_is_type(msg, json_type_object) ||
                   !json_object_object_get_ex(msg, "jsonrpc", &v) || !json_object_is_type(v, json_type_string) ||
                   strcmp(json_object_get_string(v), "2.0") != 0) {
                send_error(s, has_id && valid_id(id) ? id : NULL, MCP_INVALID_REQUEST,
                           "invalid request: not a JSON-RPC 2.0 object");
        } else if (json_object_object_get_ex(msg, "method", &method)) {
                json_object_object_get_ex(msg, "params", &params);
                if (!json_object_is_type(method, json_type_string) ||
                    (params && !json_object_is_type(params, json_type_object) &&
                     !json_object_is_type(params, json_type_array)) ||
                    (has_id && !valid_id(id)))
                        send_error(s, has_id && valid_id(id) ? id : NULL, MCP_INVALID_REQUEST,
                                   "invalid request: method, params or id of the wrong type");
                else if (has_id)
                        request(s, json_object_get_string(method), id, params);
                else
                        notification(s, json_object_get_string(method), params);
        } else if (has_id && (json_object_object_get_ex(msg, "result", NULL) ||
                              json_object_object_get_ex(msg, "error", NULL))) {
                response(s, id, msg);
        } else {
                send_error(s, has_id && valid_id(id) ? id : NULL, MCP_INVALID_REQUEST,
                           "invalid request: neither a request, a notification nor a response");
        }
        json_object_put(msg);
}

/* ------------------------------------------------------------ stdin */

/* Split what arrived into lines; a line past the cap is skipped with one error. */
void mcp_take_input(struct mcp_server *s, const char *data, size_t n)
{
        while (n) {
                const char *nl = memchr(data, '\n', n);
                size_t k = nl ? (size_t)(nl - data) : n;
                if (!s->skipping && s->buf_len + k > MCP_MAX_LINE_BYTES) {
                        send_error(s, NULL, MCP_PARSE_ERROR, "parse error: message longer than 32 MiB");
                        s->skipping = true;
                        s->buf_len = 0;
                }
                if (!s->skipping) {
                        if (s->buf_len + k + 1 > s->buf_cap) {
                                size_t cap = (s->buf_len + k + 1) * 2;
                                char *b = realloc(s->buf, cap);
                                if (!b) {
                                        s->skipping = true;
                                        s->buf_len = 0;
                                        continue;
                                }
                                s->buf = b;
                                s->buf_cap = cap;
                        }
                        memcpy(s->buf + s->buf_len, data, k);
                        s->buf_len += k;
                }
                if (!nl)
                        return;
                if (!s->skipping)
                        mcp_handle_line(s, s->buf, s->buf_len);
                s->buf_len = 0;
                s->skipping = false;
                data += k + 1;
                n -= k + 1;
        }
}

/* ------------------------------------------------------------ setup, loop, teardown */

int mcp_server_init_buffer(struct mcp_server *s, const char *cfg, size_t len, const char *name,
                           const char *dir, int in_fd, int out_fd, struct zb_error *err)
{
        memset(s, 0, sizeof(*s));
        s->in_fd = in_fd;
        s->out_fd = out_fd;
        s->max_calls = MCP_MAX_CALLS;
        for (int i = 0; i < MCP_MAX_CALLS; i++)
                s->calls[i].pidfd = s->calls[i].from_fd = s->calls[i].to_fd = -1;
        s->cfg = malloc(len + 1);
        s->cfg_name = util_strdup(name);
        s->cfg_dir = util_strdup(dir);
        s->base = zb_policy_new();
        if (!s->cfg || !s->cfg_name || !s->cfg_dir || !s->base)
                return err_set(err, ENOMEM, "out of memory");
        memcpy(s->cfg, cfg, len);
        s->cfg[len] = '\0';
        s->cfg_len = len;
        int r = pol_load_yaml_buffer(s->base, cfg, len, name, dir, err);
        if (r < 0)
                return r;
        if ((r = mcp_config_load(&s->conf, cfg, len, name, err)) < 0)
                return r;
        if (s->base->cow.action == ZB_COW_COMMIT && s->conf.commit != MCP_COMMIT_ALLOW)
                return err_set(err, EINVAL, "%s: sandbox.cow_action: commit would apply an agent's "
                                    "writes unreviewed; use mcp: {commit: allow} to mean it", name);
        /* Validated as a run of the config would be: a command stands in
         * for the ones the calls will give. */
        char *stand_in[] = { "true", NULL };
        if ((r = zb_policy_set_command(s->base, 1, stand_in, err)) < 0 ||
            (r = zb_policy_validate(s->base, err)) < 0)
                return r;
        s->tools = mcp_tools_list(err);
        return s->tools ? 0 : -EINVAL;
}

int mcp_server_init(struct mcp_server *s, const char *config_path, int in_fd, int out_fd,
                    struct zb_error *err)
{
        _cleanup_(freep) char *abs = util_path_absolute(NULL, config_path);
        _cleanup_(closep) int fd = open(config_path, O_RDONLY | O_CLOEXEC);
        char buf[1 << 16];
        if (!abs)
                return err_set(err, EINVAL, "--config: bad path '%s'", config_path);
        if (fd < 0)
                return err_errno(err, errno, "--config: cannot open %s", config_path);
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0)
                return err_errno(err, errno, "--config: cannot read %s", config_path);
        if ((size_t)n == sizeof(buf))
                return err_set(err, EFBIG, "--config: %s is larger than 64 KiB", config_path);
        return mcp_server_init_buffer(s, buf, (size_t)n, config_path, dirname(abs), in_fd, out_fd, err);
}

static int poll_timeout(const struct mcp_server *s, uint64_t now)
{
        int t = -1;
        for (int i = 0; i < MCP_MAX_CALLS; i++) {
                const struct mcp_call *c = &s->calls[i];
                if (!c->used || !c->token || c->cancelled)
                        continue;
                int ms = c->next_progress_ns > now ? (int)((c->next_progress_ns - now) / 1000000 + 1) : 0;
                if (t < 0 || ms < t)
                        t = ms;
        }
        return t;
}

int mcp_serve(struct mcp_server *s)
{
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        _cleanup_(closep) int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
        _cleanup_(freep) char *chunk = malloc(READ_CHUNK);
        bool in_open = true;
        if (!chunk)
                return -ENOMEM;
        while (!s->out_closed) {
                struct pollfd pfd[2 + 2 * MCP_MAX_CALLS];
                struct mcp_call *who[2 + 2 * MCP_MAX_CALLS];
                int n = 0;
                pfd[n++] = (struct pollfd){ .fd = in_open ? s->in_fd : -1, .events = POLLIN };
                pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
                bool busy = false;
                for (int i = 0; i < MCP_MAX_CALLS; i++) {
                        struct mcp_call *c = &s->calls[i];
                        if (!c->used)
                                continue;
                        busy = true;
                        who[n] = c;
                        pfd[n++] = (struct pollfd){ .fd = c->from_fd, .events = POLLIN };
                        who[n] = c;
                        pfd[n++] = (struct pollfd){ .fd = c->pidfd, .events = POLLIN };
                }
                if (!in_open && !busy)
                        break;
                int r = poll(pfd, (nfds_t)n, poll_timeout(s, util_now_ns()));
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (pfd[1].revents)
                        break;
                send_progress(s, util_now_ns());
                for (int i = 2; i < n; i++) {
                        if (!pfd[i].revents || !who[i]->used)
                                continue;
                        if (pfd[i].fd == who[i]->pidfd)
                                reap_worker(s, who[i]);
                        else
                                read_worker(s, who[i]);
                }
                if (pfd[0].revents) {
                        ssize_t k = read(s->in_fd, chunk, READ_CHUNK);
                        if (k > 0)
                                mcp_take_input(s, chunk, (size_t)k);
                        else if (k == 0 || (errno != EINTR && errno != EAGAIN)) {
                                /* The client closed stdin: it wants nothing
                                 * more, so running calls are cancelled. */
                                in_open = false;
                                for (int i = 0; i < MCP_MAX_CALLS; i++)
                                        if (s->calls[i].used) {
                                                s->calls[i].cancelled = true;
                                                kill(s->calls[i].pid, SIGKILL);
                                        }
                        }
                }
        }
        return s->out_closed ? -EPIPE : 0;
}

void mcp_server_free(struct mcp_server *s)
{
        bool killed = false;
        for (int i = 0; i < MCP_MAX_CALLS; i++) {
                struct mcp_call *c = &s->calls[i];
                if (c->used) {
                        kill(c->pid, SIGKILL);
                        waitpid(c->pid, NULL, 0);
                        killed = true;
                }
                call_free(c);
        }
        for (int i = 0; i < MCP_MAX_SESSIONS; i++) {
                struct zb_error err = { 0 };
                /* Names and ids of the same session are both listed: the
                 * second stop finds nothing. */
                if (s->sessions[i] && s->base)
                        (void)zb_session_stop(NULL, s->sessions[i], NULL, &err);
                free(s->sessions[i]);
        }
        if (killed && s->base) {
                struct zb_error err = { 0 };
                unsigned removed = 0;
                (void)zb_gc(s->base->limits.cgroup_parent, &removed, &err);
        }
        for (int i = 0; i < MCP_MAX_CHANGE_SETS; i++)
                free(s->change_sets[i]);
        json_object_put(s->tools);
        zb_policy_free(s->base);
        free(s->cfg);
        free(s->cfg_name);
        free(s->cfg_dir);
        free(s->buf);
        memset(s, 0, sizeof(*s));
}
