/* zonebox export docker|oci|kubernetes: the policy, built from the same
 * config and flags as zonebox run, for another engine. Prints the result
 * on stdout and every layer the engine cannot express on stderr. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char export_help[] =
"Usage: zonebox export docker [OPTIONS] [-- COMMAND...]\n"
"   or: zonebox export oci DIR [OPTIONS] -- COMMAND...\n"
"   or: zonebox export kubernetes [OPTIONS] [-- COMMAND...]\n"
"\n"
"Translate the sandbox that OPTIONS describe (the same config file and flags\n"
"as zonebox run) for another engine, without running anything:\n"
"  docker      print the equivalent `docker run` line, shell-quoted\n"
"              (--engine-cli podman for podman's)\n"
"  oci         write an OCI runtime bundle: DIR/config.json and DIR/rootfs\n"
"              (DIR must not hold either); run it with runc run -b DIR NAME\n"
"  kubernetes  print a Pod (or Job) and a deny-all NetworkPolicy, as JSON\n"
"              (which kubectl apply -f takes as YAML), meeting the restricted\n"
"              Pod Security Standard\n"
"\n"
"Every layer the engine cannot express, and every setting it leaves out, is\n"
"listed on stderr (warning: ...), and equivalents it uses instead (note: ...);\n"
"a setting it cannot take at all is refused (exit 125; docs/config.md\n"
"\"Backends\"). With --strict a warning is an error (exit 125).\n"
"\n"
"Options besides zonebox run's (see zonebox run --help):\n"
"  --image NAME              the image (docker, kubernetes)\n"
"  --engine-cli docker|podman|PATH\n"
"                            the CLI to write the line for (default $ZONEBOX_DOCKER\n"
"                            or docker)\n"
"  --runtime runc|crun|runsc|gvisor|PATH\n"
"                            docker: --runtime; kubernetes: gvisor → runtimeClassName\n"
"  --seccomp-out FILE        docker, kubernetes: write zonebox's seccomp profile to\n"
"                            FILE and name it (otherwise the engine's default\n"
"                            profile stands in, with a warning)\n"
"  --kind pod|job            kubernetes: a Pod (default) or a Job\n"
"  --host-zones pvc|hostPath|emptyDir\n"
"                            kubernetes: the volume for ro/rw zones (default pvc:\n"
"                            a PersistentVolumeClaim zonebox-NAME; hostPath is\n"
"                            refused by the restricted standard)\n"
"  --strict                  fail instead of warning\n";

static int usage_error(const char *msg)
{
        fprintf(stderr, "zonebox export: %s\n", msg);
        return ZB_EXIT_ERROR;
}

/* Take --seccomp-out out of ARGV (before "--"): the only flag of export
 * that is not a policy flag. */
static int take_seccomp_out(int *argc, char **argv, const char **out)
{
        for (int i = 1; i < *argc && strcmp(argv[i], "--") != 0; i++) {
                int used = 0;
                if (strcmp(argv[i], "--seccomp-out") == 0) {
                        if (i + 1 >= *argc)
                                return -1;
                        *out = argv[i + 1];
                        used = 2;
                } else if (strncmp(argv[i], "--seccomp-out=", 14) == 0) {
                        *out = argv[i] + 14;
                        used = 1;
                }
                if (used) {
                        memmove(&argv[i], &argv[i + used], (size_t)(*argc - i - used + 1) * sizeof(char *));
                        *argc -= used;
                        i--;
                }
        }
        return 0;
}

int cli_export(int argc, char **argv)
{
        struct zb_error err = { 0 };
        const char *engine, *path = NULL, *seccomp_out = NULL;
        char *text = NULL, *warnings = NULL;
        int first = 2, rc = ZB_EXIT_ERROR;

        if (argc < 2)
                return usage_error("which engine? docker, oci or kubernetes (see zonebox export --help)");
        engine = argv[1];
        if (strcmp(engine, "-h") == 0 || strcmp(engine, "--help") == 0) {
                fputs(export_help, stdout);
                return 0;
        }
        if (strcmp(engine, "docker") != 0 && strcmp(engine, "oci") != 0 &&
            strcmp(engine, "kubernetes") != 0) {
                fprintf(stderr, "zonebox export: %s: unknown engine (docker, oci or kubernetes)\n", engine);
                return ZB_EXIT_ERROR;
        }
        if (strcmp(engine, "oci") == 0) {
                if (argc < 3 || argv[2][0] == '-')
                        return usage_error("oci: give the bundle directory: zonebox export oci DIR [OPTIONS] -- COMMAND...");
                path = argv[2];
                first = 3;
        }
        /* cli_parse_policy reads from its argv[1]: hand it the rest after a placeholder. */
        int n = argc - first + 1;
        char **rest = calloc((size_t)n + 1, sizeof(char *));
        if (!rest)
                return usage_error("out of memory");
        rest[0] = argv[0];
        for (int i = 1; i < n; i++)
                rest[i] = argv[first + i - 1];
        if (take_seccomp_out(&n, rest, &seccomp_out) < 0) {
                free(rest);
                return usage_error("--seccomp-out: needs a value");
        }
        if (seccomp_out && strcmp(engine, "oci") == 0) {
                free(rest);
                return usage_error("--seccomp-out: the oci bundle holds the profile in config.json");
        }
        if (seccomp_out)
                path = seccomp_out;

        struct zb_policy *p = zb_policy_new();
        if (!p) {
                free(rest);
                return usage_error("out of memory");
        }
        int r = cli_parse_policy("export", n, rest, p, NULL, &err);
        if (r == 1) {
                fputs(export_help, stdout);
                rc = 0;
        } else if (r == 0) {
                if (zb_export(p, engine, path, &text, &warnings, &err) < 0) {
                        fprintf(stderr, "zonebox export: %s\n", err.message);
                } else {
                        if (warnings)
                                fputs(warnings, stderr);
                        fputs(text, stdout);
                        rc = fflush(stdout) == 0 ? 0 : ZB_EXIT_ERROR;
                }
        }
        free(text);
        free(warnings);
        zb_policy_free(p);
        free(rest);
        return rc;
}
