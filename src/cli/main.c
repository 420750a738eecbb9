/* zonebox: dispatch to a subcommand. One row of `commands` per subcommand:
 * its name, its function, and its line of `zonebox --help`; the help text
 * is printed from the same table, so a command cannot be missing from it. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "core/keytab.h"

/* Usage columns of the command list: a usage longer than USAGE_WIDTH gets
 * a line of its own, its summary the next line at the same column. */
#define USAGE_WIDTH 25
#define SUMMARY_COLUMN (2 + USAGE_WIDTH + 1)

static int cli_help(int argc, char **argv);
static int cli_keytab(int argc, char **argv);

static const struct command {
        const char *name;
        int (*run)(int argc, char **argv); /* gets argv from the command's name on */
        const char *usage;                 /* NULL: an alias or internal, not listed */
        const char *summary;
} commands[] = {
        { "run", cli_run, "run [OPTIONS] -- CMD...", "run one command in a new sandbox" },
        { "session", cli_session, "session start|exec|list|stop", "a sandbox that keeps its state between commands" },
        { "check", cli_check, "check [OPTIONS]", "run attack probes in the sandbox OPTIONS describe" },
        { "doctor", cli_doctor, "doctor", "what this kernel and user can enforce" },
        { "export", cli_export, "export docker|oci|kubernetes [OPTIONS] [-- CMD...]", "the same policy for another engine" },
        { "diff", cli_diff, "diff ID | --list", "what a run changed in its cow zones (kept change sets)" },
        { "commit", cli_commit, "commit ID", "apply a change set to the host dirs" },
        { "discard", cli_discard, "discard ID...", "drop change sets" },
        { "image", cli_image, "image import|list|inspect|rm|prune", "the local image store (--image)" },
        { "gc", cli_gc, "gc", "remove cgroups left by killed supervisors" },
        { "mcp", cli_mcp, "mcp --config FILE", "the sandbox as MCP tools for AI agents (stdio)" },
        { "serve", cli_serve, "serve [--config FILE] [--socket PATH | --listen ADDR:PORT]", "an HTTP service running sandboxes (own API, Piston's)" },
        { "version", cli_version, "version [--json]", "the version; --json: build, libraries, kernel" },
        { "help", cli_help, "help", "this text" },
        { "--version", cli_version, NULL, NULL },
        { "--help", cli_help, NULL, NULL },
        { "-h", cli_help, NULL, NULL },
        { "__probe", cli_probe, NULL, NULL }, /* inside a sandbox that zonebox check started */
        { "__serve-worker", cli_serve_worker, NULL, NULL }, /* a job of zonebox serve (src/serve/v1.c) */
        { "__keytab", cli_keytab, NULL, NULL }, /* the key x backend table, for docs/config.md and the tests */
};

static void print_help(FILE *f)
{
        fputs("Usage: zonebox COMMAND [OPTIONS]\n"
              "\n"
              "Run untrusted code and an agent's commands in a Linux sandbox.\n"
              "\n"
              "Commands:\n", f);
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
                const struct command *c = &commands[i];
                if (!c->usage)
                        continue;
                if (strlen(c->usage) > USAGE_WIDTH)
                        fprintf(f, "  %s\n%*s%s\n", c->usage, SUMMARY_COLUMN, "", c->summary);
                else
                        fprintf(f, "  %-*s %s\n", USAGE_WIDTH, c->usage, c->summary);
        }
        fputs("\nzonebox COMMAND --help shows a command's options.\n", f);
}

static int cli_help(int argc, char **argv)
{
        (void)argc;
        (void)argv;
        print_help(stdout);
        return 0;
}

/* --markdown: docs/config.md's "Backends" table; else one tab-separated line a key. */
static int cli_keytab(int argc, char **argv)
{
        kt_print(stdout, argc > 1 && strcmp(argv[1], "--markdown") == 0);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                print_help(stderr);
                return ZB_EXIT_ERROR;
        }
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
                if (strcmp(argv[1], commands[i].name) == 0)
                        return commands[i].run(argc - 1, argv + 1);
        fprintf(stderr, "zonebox: unknown command '%s' (see zonebox --help)\n", argv[1]);
        return ZB_EXIT_ERROR;
}
