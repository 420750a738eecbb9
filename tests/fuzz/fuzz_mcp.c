/* zonebox mcp's request parser and dispatcher (src/mcp/server.c): the bytes
 * an MCP client writes to the server's stdin, split into lines and handled
 * exactly as the server does (mcp_take_input → mcp_handle_line →
 * initialize, ping, tools/list, tools/call's checks, notifications,
 * responses). The server is the real one, loaded from a real config; only
 * max_calls is 0, so a tools/call that passes every check is answered with
 * "too many tool calls running" instead of forking a worker: no sandbox
 * starts in the fuzzer. Invariant: every line the server writes is one
 * JSON-RPC 2.0 object (a response with a result or an error, or a
 * notification), whatever came in. */
#define _GNU_SOURCE
#include <json-c/json.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

#include "mcp/mcp.h"

static const char config[] = "sandbox:\n"
                             "  zones:\n"
                             "    - {name: scratch, mode: tmpfs, size: 1m}\n"
                             "  approval: {default: ask, allow: ['echo *']}\n"
                             "mcp: {commit: ask}\n";

static void check_output(int fd)
{
        off_t end = lseek(fd, 0, SEEK_END);
        fuzz_assert(end >= 0);
        char *out = malloc((size_t)end + 1);
        fuzz_assert(out && pread(fd, out, (size_t)end, 0) == end);
        out[end] = '\0';
        fuzz_assert(end == 0 || out[end - 1] == '\n');
        for (char *line = out, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
                json_tokener *tok = json_tokener_new();
                json_object *m = json_tokener_parse_ex(tok, line, (int)(nl - line)), *v;
                fuzz_assert(m && json_object_is_type(m, json_type_object));
                fuzz_assert(json_object_object_get_ex(m, "jsonrpc", &v) &&
                            strcmp(json_object_get_string(v), "2.0") == 0);
                fuzz_assert(json_object_object_get_ex(m, "result", NULL) ||
                            json_object_object_get_ex(m, "error", NULL) ||
                            json_object_object_get_ex(m, "method", NULL));
                json_object_put(m);
                json_tokener_free(tok);
        }
        free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct mcp_server s;
        static int out_fd = -1;
        if (out_fd < 0) {
                struct zb_error err = { 0 };
                out_fd = memfd_create("fuzz-mcp-out", MFD_CLOEXEC);
                fuzz_assert(out_fd >= 0);
                fuzz_assert(mcp_server_init_buffer(&s, config, sizeof(config) - 1, "fuzz.yaml", "/", -1, out_fd,
                                                   &err) == 0);
                s.max_calls = 0;
        }
        if (size > (1u << 20))
                return 0;
        fuzz_assert(ftruncate(out_fd, 0) == 0);
        s.out_closed = false;
        mcp_take_input(&s, (const char *)data, size);
        mcp_take_input(&s, "\n", 1); /* the last line, if it had no newline */
        check_output(out_fd);
        fuzz_assert(!s.out_closed);
        return 0;
}
