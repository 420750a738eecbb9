/* zonebox: dispatch to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char main_help[] =
"Usage: zonebox COMMAND [OPTIONS]\n"
"\n"
"Run untrusted code and an agent's commands in a Linux sandbox.\n"
"\n"
"Commands:\n"
"  run [OPTIONS] -- CMD...   run one command in a new sandbox\n"
"  session start|exec|list|stop\n"
"                            a sandbox that keeps its state between commands\n"
"  check [OPTIONS]           run attack probes in the sandbox OPTIONS describe\n"
"  doctor                    what this kernel and user can enforce\n"
"  export docker|oci|kubernetes [OPTIONS] [-- CMD...]\n"
"                            the same policy for another engine\n"
"  diff ID | --list          what a run changed in its cow zones (kept change sets)\n"
"  commit ID                 apply a change set to the host dirs\n"
"  discard ID...             drop change sets\n"
"  gc                        remove cgroups left by killed supervisors\n"
"  mcp --config FILE         the sandbox as MCP tools for AI agents (stdio)\n"
"  version [--json]          the version; --json: build, libraries, kernel\n"
"  help                      this text\n"
"\n"
"zonebox COMMAND --help shows a command's options.\n";

int main(int argc, char **argv)
{
        if (argc < 2) {
                fputs(main_help, stderr);
                return ZB_EXIT_ERROR;
        }
        const char *cmd = argv[1];
        if (strcmp(cmd, "run") == 0)
                return cli_run(argc - 1, argv + 1);
        if (strcmp(cmd, "gc") == 0)
                return cli_gc(argc - 1, argv + 1);
        if (strcmp(cmd, "diff") == 0)
                return cli_diff(argc - 1, argv + 1);
        if (strcmp(cmd, "commit") == 0)
                return cli_commit(argc - 1, argv + 1);
        if (strcmp(cmd, "discard") == 0)
                return cli_discard(argc - 1, argv + 1);
        if (strcmp(cmd, "session") == 0)
                return cli_session(argc - 1, argv + 1);
        if (strcmp(cmd, "check") == 0)
                return cli_check(argc - 1, argv + 1);
        if (strcmp(cmd, "doctor") == 0)
                return cli_doctor(argc - 1, argv + 1);
        if (strcmp(cmd, "export") == 0)
                return cli_export(argc - 1, argv + 1);
        if (strcmp(cmd, "mcp") == 0)
                return cli_mcp(argc - 1, argv + 1);
        if (strcmp(cmd, "__probe") == 0) /* inside a sandbox that zonebox check started */
                return cli_probe(argc - 1, argv + 1);
        if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
                return cli_version(argc - 1, argv + 1);
        if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
                fputs(main_help, stdout);
                return 0;
        }
        fprintf(stderr, "zonebox: unknown command '%s' (see zonebox --help)\n", cmd);
        return ZB_EXIT_ERROR;
}
