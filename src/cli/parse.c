/* The options every sandbox-describing command shares (run, check):
 * --config first wherever it stands (flags override the file), then
 * zonebox's and Docker's flags through the public API, then the command. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "cli.h"

bool cli_quiet;

int cli_parse_policy(const char *cmd, int argc, char **argv, struct zb_policy *p, bool *json,
                     struct zb_error *err)
{
        int i;

        for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
                const char *cfg = NULL;
                if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
                        cfg = argv[i + 1];
                else if (strncmp(argv[i], "--config=", 9) == 0)
                        cfg = argv[i] + 9;
                if (cfg && zb_policy_load_yaml(p, cfg, err) < 0) {
                        fprintf(stderr, "zonebox %s: %s\n", cmd, err->message);
                        return -1;
                }
        }
        for (i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (strcmp(a, "--") == 0) {
                        i++;
                        break;
                }
                if (a[0] != '-' || strcmp(a, "-") == 0)
                        break;
                if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
                        return 1;
                if (strcmp(a, "--json") == 0 && json) {
                        *json = true;
                        continue;
                }
                if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
                        cli_quiet = true;
                        continue;
                }
                char name[64];
                const char *value = NULL;
                const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
                snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
                if (eq)
                        value = eq + 1;
                if (strcmp(name, "--config") == 0) {
                        i += eq ? 0 : 1; /* loaded above */
                        continue;
                }
                int takes = zb_flag_takes_value(name);
                if (takes < 0) {
                        fprintf(stderr, "zonebox %s: %s: unknown flag (see zonebox %s --help)\n", cmd, name, cmd);
                        return -1;
                }
                if (takes && !value) {
                        if (i + 1 >= argc) {
                                fprintf(stderr, "zonebox %s: %s: needs a value\n", cmd, name);
                                return -1;
                        }
                        value = argv[++i];
                } else if (!takes && value) {
                        fprintf(stderr, "zonebox %s: %s: takes no value\n", cmd, name);
                        return -1;
                }
                if (zb_policy_apply_flag(p, name, value, err) < 0) {
                        fprintf(stderr, "zonebox %s: %s\n", cmd, err->message);
                        return -1;
                }
        }
        if (i < argc && zb_policy_set_command(p, argc - i, argv + i, err) < 0) {
                fprintf(stderr, "zonebox %s: %s\n", cmd, err->message);
                return -1;
        }
        return 0;
}
