/* zonebox mcp: the MCP server on stdio (src/mcp/, docs/mcp.md). Parses the
 * command line and hands over; nothing here but flags and messages. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "mcp/mcp.h"

static const char mcp_help[] =
"Usage: zonebox mcp --config FILE\n"
"\n"
"Serve the sandbox as Model Context Protocol tools on stdin/stdout (JSON-RPC\n"
"2.0, one message per line) for an AI agent's client: run, session_start,\n"
"session_exec, session_stop, session_list, read_file, write_file, list_files,\n"
"changes, commit, discard. Results carry the verdict `zonebox run --json`\n"
"prints. stdout carries only protocol messages; diagnostics go to stderr.\n"
"\n"
"The policy is FILE's (its sandbox: section, as zonebox run --config reads\n"
"it): zones, network, limits, approval rules, audit log. Tool arguments can\n"
"only narrow it (a shorter timeout, less memory, no network); a host path,\n"
"network host or an unlisted host, or a larger limit is refused. Approval\n"
"ask and commit of a cow change set are asked of the client's user\n"
"(elicitation); a client that cannot ask gets deny. FILE's mcp: section:\n"
"  mcp:\n"
"    commit: ask|allow       allow: commit without asking (default ask)\n"
"\n"
"Options:\n"
"  --config FILE             the server's policy (required)\n"
"  -h, --help                this text\n"
"\n"
"See docs/mcp.md for the tools' schemas and a client's mcpServers entry.\n";

int cli_mcp(int argc, char **argv)
{
        const char *config = NULL;
        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        fputs(mcp_help, stdout);
                        return 0;
                }
                if (!strcmp(argv[i], "--config") && i + 1 < argc) {
                        config = argv[++i];
                } else if (!strncmp(argv[i], "--config=", 9)) {
                        config = argv[i] + 9;
                } else {
                        fprintf(stderr, "zonebox mcp: %s: unknown option (see zonebox mcp --help)\n", cli_esc(argv[i]));
                        return ZB_EXIT_ERROR;
                }
        }
        if (!config) {
                fputs("zonebox mcp: --config FILE is required: the server's policy (see zonebox mcp --help)\n", stderr);
                return ZB_EXIT_ERROR;
        }
        struct mcp_server s;
        struct zb_error err = { 0 };
        if (mcp_server_init(&s, config, 0, 1, &err) < 0) {
                fprintf(stderr, "zonebox mcp: %s\n", cli_esc(err.message));
                mcp_server_free(&s);
                return ZB_EXIT_ERROR;
        }
        int r = mcp_serve(&s);
        mcp_server_free(&s);
        if (r < 0 && r != -EPIPE) {
                fprintf(stderr, "zonebox mcp: %s\n", strerror(-r));
                return ZB_EXIT_ERROR;
        }
        return 0;
}
