/* zonebox mcp (docs/mcp.md): the sandbox as Model Context Protocol tools on
 * stdio. One JSON-RPC 2.0 message per line in, one per line out; stdout
 * carries nothing else. The server process only parses, dispatches and
 * relays: every tools/call runs in a forked worker (worker.c), so a run never
 * blocks the server, notifications/cancelled kills exactly that worker (and
 * its sandbox with it), and a crash of a tool is a tool error, not the end of
 * the server. The policy is the server's config file; tool arguments may only
 * narrow it (narrow.c). */
#ifndef ZB_MCP_H
#define ZB_MCP_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../core/policy.h"

/* JSON-RPC error codes (jsonrpc.org/specification). */
#define MCP_PARSE_ERROR (-32700)
#define MCP_INVALID_REQUEST (-32600)
#define MCP_METHOD_NOT_FOUND (-32601)
#define MCP_INVALID_PARAMS (-32602)
#define MCP_INTERNAL_ERROR (-32603)

/* One message per line; a longer line is answered with a parse error and
 * skipped (write_file's content travels inside it). */
#define MCP_MAX_LINE_BYTES (32u << 20)
#define MCP_MAX_CALLS 16           /* tools/call running at once */
#define MCP_MAX_SESSIONS 64        /* sessions this server started and tracks */
#define MCP_MAX_CHANGE_SETS 1024   /* cow change sets its runs left */
#define MCP_PROGRESS_INTERVAL_MS 1000ull
#define MCP_MAX_FILE_BYTES (16u << 20) /* read_file / write_file / files of run */
#define MCP_DEFAULT_READ_BYTES (1u << 20)
#define MCP_MAX_LIST_ENTRIES 10000

/* The `mcp:` section of the config file (config.c). */
enum mcp_commit { MCP_COMMIT_ASK, MCP_COMMIT_ALLOW };
struct mcp_config {
        enum mcp_commit commit; /* ask: elicitation, refused without it */
};
int mcp_config_load(struct mcp_config *c, const char *data, size_t len, const char *name,
                    struct zb_error *err);

/* A running tools/call: its worker and the pipes to it. */
struct mcp_call {
        bool used;
        json_object *id;       /* the request's id (owned) */
        json_object *token;    /* _meta.progressToken, or NULL (owned) */
        char tool[32];
        char *subject;         /* the command, path or id, for the audit line */
        pid_t pid;
        int pidfd, from_fd, to_fd;
        char *in;              /* bytes read from the worker so far */
        size_t in_len, in_cap;
        int64_t elicit_id;     /* our pending elicitation/create, 0: none */
        uint64_t start_ns, next_progress_ns;
        bool cancelled;
};

struct mcp_server {
        int in_fd, out_fd;
        bool out_closed;
        /* The config, kept as text: each call loads a fresh policy from it. */
        char *cfg;
        size_t cfg_len;
        char *cfg_name, *cfg_dir;
        struct zb_policy *base; /* loaded and validated once, to compare against */
        struct mcp_config conf;
        json_object *tools;     /* the tools/list result */
        bool initialized, client_elicits;
        char protocol[16];
        int max_calls;          /* MCP_MAX_CALLS; 0 refuses every call (the fuzzer) */
        struct mcp_call calls[MCP_MAX_CALLS];
        char *sessions[MCP_MAX_SESSIONS];
        char *change_sets[MCP_MAX_CHANGE_SETS];
        int64_t next_request_id;
        /* stdin bytes not yet ending in a newline */
        char *buf;
        size_t buf_len, buf_cap;
        bool skipping; /* inside a line longer than MCP_MAX_LINE_BYTES */
};

/* server.c */
int mcp_server_init(struct mcp_server *s, const char *config_path, int in_fd, int out_fd,
                    struct zb_error *err);
/* The same from config text held in memory (NAME for messages, DIR for
 * relative paths), for the fuzzer and unit tests. */
int mcp_server_init_buffer(struct mcp_server *s, const char *cfg, size_t len, const char *name,
                           const char *dir, int in_fd, int out_fd, struct zb_error *err);
/* Serve until stdin closes or a termination signal; 0, or -errno when the
 * server could not go on (its stdout gone). */
int mcp_serve(struct mcp_server *s);
/* Handle one message (a line without its newline). Never fails: errors are
 * answered on out_fd. */
void mcp_handle_line(struct mcp_server *s, const char *line, size_t len);
/* Bytes read from stdin: split into lines, each handled as it completes. */
void mcp_take_input(struct mcp_server *s, const char *data, size_t n);
/* Stop workers, the sessions this server started, free everything. */
void mcp_server_free(struct mcp_server *s);
/* Write MSG as one line to the client. */
void mcp_send(struct mcp_server *s, json_object *msg);

/* tools.c: the tool table (names, schemas, worker-side handlers). */
struct mcp_work {
        const struct mcp_server *s;
        json_object *args;   /* the call's arguments (an object) */
        int to_parent, from_parent;
};
typedef json_object *(*mcp_tool_fn)(struct mcp_work *w);
struct mcp_tool {
        const char *name, *title, *description, *input, *output;
        mcp_tool_fn run;
};
const struct mcp_tool *mcp_tool_find(const char *name);
json_object *mcp_tools_list(struct zb_error *err);
/* The worker's body: run TOOL with ARGS, write the result line, _exit. */
void mcp_worker_main(const struct mcp_server *s, const struct mcp_tool *t, json_object *args,
                     int to_parent, int from_parent) __attribute__((noreturn));

/* Tool results (worker side). */
json_object *mcp_tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
json_object *mcp_tool_result(json_object *structured, const char *text, bool is_error);
/* Ask the client's user (elicitation/create through the server). true only
 * when the user accepted. */
bool mcp_elicit(struct mcp_work *w, const char *message);

/* narrow.c: a fresh policy from the server's config with the call's
 * narrowing arguments applied; NULL and ERR naming the argument otherwise. */
struct zb_policy *mcp_policy(const struct mcp_server *s, json_object *args, const char *const *keys,
                             struct zb_error *err);
/* The command argument: an argv array, or a string run with sh -c. */
int mcp_command(json_object *args, char ***argv, size_t *argc, struct zb_error *err);
/* Arguments outside ALLOWED (NULL-terminated) are an error naming the first. */
int mcp_args_check(json_object *args, const char *const *allowed, struct zb_error *err);
const char *mcp_arg_string(json_object *args, const char *key);
/* tools.c: the "stdin" argument as this process's fd 0, from a memfd
 * (the worker's; zonebox serve's workers too). */
int mcp_stdin_from(json_object *args, struct zb_error *err);

/* files.c: paths as the sandbox sees them ("/output/x.txt"), resolved beneath
 * the zone's host directory. */
json_object *mcp_read_file(struct mcp_work *w);
json_object *mcp_write_file(struct mcp_work *w);
json_object *mcp_list_files(struct mcp_work *w);
/* ARGS' "content" as bytes: the string, or base64 decoded when "encoding"
 * is base64 (malloc'd into *OUT; also zonebox serve's files). */
int mcp_content_bytes(json_object *args, char **out, size_t *len, struct zb_error *err);
/* Write CONTENT (LEN bytes) to PATH in a rw zone of P (run's files). */
int mcp_put_file(const struct zb_policy *p, const char *path, const char *content, size_t len,
                 struct zb_error *err);

#endif
