/* The zonebox command: one function per subcommand, all over the public API. */
#ifndef ZB_CLI_H
#define ZB_CLI_H

#include <stdbool.h>

#include "core/util.h" /* util_block_forwarded */
#include "zonebox.h"

#define ZB_EXIT_ERROR 125

/* Config and flags into P, as zonebox run takes them; "--json" sets *JSON
 * when JSON is not NULL. 0, 1 for --help, -1 after printing the error. */
int cli_parse_policy(const char *cmd, int argc, char **argv, struct zb_policy *p, bool *json,
                     struct zb_error *err);
/* -q, --quiet (run, session exec): no "blocked:" line, no notes on stderr. */
extern bool cli_quiet;
int cli_run(int argc, char **argv);
/* Print RES as run and session exec do: the JSON object, or one line on
 * stderr for a verdict that is not the command's own; the exit code. WHAT
 * is the thing killed ("sandbox", "command"). */
int cli_report(const char *cmd, const struct zb_result *res, bool json, const char *what);

int cli_gc(int argc, char **argv);
int cli_check(int argc, char **argv);  /* check.c: attack probes against a policy */
int cli_probe(int argc, char **argv);  /* probe.c: the probes, run inside the sandbox */
int cli_doctor(int argc, char **argv); /* doctor.c: what this kernel and user can enforce */
int cli_export(int argc, char **argv); /* export.c: the policy for docker, oci, kubernetes */
int cli_diff(int argc, char **argv);    /* cow.c: what a run changed in its cow zones */
int cli_commit(int argc, char **argv);  /* cow.c: apply those changes to the host */
int cli_discard(int argc, char **argv); /* cow.c: drop them */
int cli_session(int argc, char **argv); /* session.c: start, exec, list, stop */
int cli_image(int argc, char **argv);   /* image.c: import, list, inspect, rm, prune */
int cli_version(int argc, char **argv); /* version.c: version, --json for bug reports */
int cli_mcp(int argc, char **argv);     /* mcp.c: the MCP server on stdio */
int cli_serve(int argc, char **argv);   /* serve.c: --help, then the zonebox-serve program */
int cli_serve_worker(int argc, char **argv); /* serve.c: one job of zonebox serve's, exec'd by it */
/* S escaped for the terminal (util_escape_text); valid until 8 more calls. */
const char *cli_esc(const char *s);

#endif
