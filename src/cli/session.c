/* zonebox session start|exec|list|stop: a sandbox that keeps its state
 * between commands (docs/sessions.md). Parsing and printing only; the
 * sessions themselves are src/ns/session_*.c (session.h). */
#define _GNU_SOURCE
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"
#include "core/units.h"

static const char session_help[] =
"Usage: zonebox session start [--name NAME] [--idle-timeout DURATION] [OPTIONS]\n"
"   or: zonebox session exec SESSION [--json] [-q] [-e KEY=VALUE] [-w DIR] [--timeout D] -- COMMAND [ARG...]\n"
"   or: zonebox session list [--json]\n"
"   or: zonebox session stop SESSION [--json]\n"
"\n"
"A session is a sandbox that stays up between commands: files written to its\n"
"tmpfs zones (/scratch) and processes left running survive from one exec to\n"
"the next, inside the same namespaces, mounts, cgroup and limits. SESSION is\n"
"the id that start prints, or its --name.\n"
"\n"
"Subcommands:\n"
"  start     build the sandbox (every option of zonebox run: --config, -v,\n"
"            --tmpfs, --memory, --pids-limit, --timeout (per exec), approval,\n"
"            --audit-log, ...) with no command, print its id, and return; a\n"
"            daemon owns it from then on\n"
"  exec      run COMMAND in the session: approved by the session's approval\n"
"            policy (asked on this terminal), one audit line each, one result.\n"
"            Output is passed through pipes; when COMMAND ends, exec returns,\n"
"            even if processes it started in the background still run.\n"
"            Ctrl-C (SIGINT, SIGTERM, SIGHUP, SIGQUIT) goes to the command.\n"
"  list      the live sessions (stale entries of killed daemons are removed)\n"
"  stop      kill everything in the session, remove its cgroup, mounts and\n"
"            runtime entry; --json prints the session's own result\n"
"\n"
"Options of start, besides zonebox run's:\n"
"  --name NAME             also known as NAME (1-64 of A-Z a-z 0-9 _ . -)\n"
"  --idle-timeout DURATION\n"
"                          stop by itself after this long without a command\n"
"                          running (default 30m, config session.idle_timeout;\n"
"                          0 or none: never)\n"
"  --json                  print {\"id\": ...} instead of the bare id\n"
"\n"
"Options of exec:\n"
"  --json                  capture stdout/stderr and print the result as JSON\n"
"                          (with the \"violations\" of this command)\n"
"  -q, --quiet             no \"zonebox: blocked:\" line, no notes on stderr\n"
"  -e, --env KEY=VALUE     add a variable for this command\n"
"  -w, --workdir DIR       working directory for this command\n"
"  --timeout DURATION      wall-time limit of this command (default: the\n"
"                          session's --timeout); its process group is killed\n"
"\n"
"Every subcommand takes --runtime-dir DIR: where sessions live (default\n"
"$ZONEBOX_RUNTIME_DIR, else /run/zonebox/sessions for root,\n"
"$XDG_RUNTIME_DIR/zonebox/sessions or /tmp/zonebox-UID/sessions), a 0700\n"
"directory of yours: other users cannot reach your sessions.\n"
"\n"
"Exit status: start, list, stop: 0, or 125 (bad flag, no such session,\n"
"setup failed); exec: as zonebox run (the command's own code, 124 timeout,\n"
"126 denied, 127 not found, 137 OOM, 125 zonebox or the session failed).\n";

static int fail(const char *sub, const char *msg)
{
        fprintf(stderr, "zonebox session %s: %s\n", sub, msg);
        return ZB_EXIT_ERROR;
}

/* Take "--opt VALUE" / "--opt=VALUE" out of ARGV (before any "--"). */
static int take_opt(int *argc, char **argv, const char *opt, const char **out, const char *sub)
{
        size_t len = strlen(opt);
        for (int i = 1; i < *argc && strcmp(argv[i], "--") != 0; i++) {
                int drop = 0;
                if (strcmp(argv[i], opt) == 0) {
                        if (i + 1 >= *argc) {
                                fprintf(stderr, "zonebox session %s: %s: needs a value\n", sub, opt);
                                return -1;
                        }
                        *out = argv[i + 1];
                        drop = 2;
                } else if (strncmp(argv[i], opt, len) == 0 && argv[i][len] == '=') {
                        *out = argv[i] + len + 1;
                        drop = 1;
                }
                if (drop) {
                        memmove(argv + i, argv + i + drop, (size_t)(*argc - i - drop + 1) * sizeof(char *));
                        *argc -= drop;
                        i--;
                }
        }
        return 0;
}

static int parse_duration(const char *sub, const char *flag, const char *v, long long *out)
{
        uint64_t ms;
        if (units_parse_duration_ms(v, &ms) < 0 || ms > (uint64_t)LLONG_MAX) {
                fprintf(stderr, "zonebox session %s: %s: '%s' is not a duration (e.g. 500ms, 10s, 30m)\n",
                        sub, flag, v);
                return -1;
        }
        *out = (long long)ms;
        return 0;
}

static int cmd_start(int argc, char **argv)
{
        struct zb_error err = { 0 };
        const char *name = NULL, *idle = NULL, *rt = NULL;
        long long idle_ms = -1;
        bool json = false;
        char id[64];
        int rc = ZB_EXIT_ERROR;

        if (take_opt(&argc, argv, "--name", &name, "start") < 0 ||
            take_opt(&argc, argv, "--idle-timeout", &idle, "start") < 0 ||
            take_opt(&argc, argv, "--runtime-dir", &rt, "start") < 0)
                return ZB_EXIT_ERROR;
        if (idle && parse_duration("start", "--idle-timeout", idle, &idle_ms) < 0)
                return ZB_EXIT_ERROR;
        struct zb_policy *p = zb_policy_new();
        if (!p)
                return fail("start", "out of memory");
        int r = cli_parse_policy("session start", argc, argv, p, &json, &err);
        if (r == 1) {
                fputs(session_help, stdout);
                rc = 0;
        } else if (r == 0) {
                zb_policy_set_ask(p, zb_ask_terminal, NULL); /* replaced per exec by its terminal */
                if (zb_session_start(p, rt, name, idle_ms, id, sizeof(id), &err) < 0) {
                        fail("start", err.message);
                } else {
                        printf(json ? "{\"id\": \"%s\"}\n" : "%s\n", id);
                        rc = 0;
                }
        }
        zb_policy_free(p);
        return rc;
}

static int cmd_exec(int argc, char **argv)
{
        struct zb_error err = { 0 };
        const char *rt = NULL, *workdir = NULL, *session = NULL;
        long long timeout = -1;
        bool json = false;
        char **env = calloc((size_t)argc + 1, sizeof(char *));
        int n_env = 0, i, rc = ZB_EXIT_ERROR;
        struct zb_result *res = NULL;

        if (!env)
                return fail("exec", "out of memory");
        for (i = 1; i < argc; i++) {
                const char *a = argv[i];
                const char *next = i + 1 < argc ? argv[i + 1] : NULL;
                if (!a)
                        break;
                if (strcmp(a, "--") == 0) {
                        i++;
                        break;
                }
                if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                        fputs(session_help, stdout);
                        free(env);
                        return 0;
                }
                if (a[0] != '-') {
                        if (session)
                                break; /* the command, without "--" */
                        session = a;
                } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
                        cli_quiet = true;
                } else if (strcmp(a, "--json") == 0) {
                        json = true;
                } else if ((strcmp(a, "-e") == 0 || strcmp(a, "--env") == 0) && next) {
                        env[n_env++] = argv[++i];
                } else if (strncmp(a, "--env=", 6) == 0) {
                        env[n_env++] = argv[i] + 6;
                } else if ((strcmp(a, "-w") == 0 || strcmp(a, "--workdir") == 0) && next) {
                        workdir = argv[++i];
                } else if (strncmp(a, "--workdir=", 10) == 0) {
                        workdir = a + 10;
                } else if (strcmp(a, "--timeout") == 0 && next) {
                        if (parse_duration("exec", "--timeout", argv[++i], &timeout) < 0)
                                goto out;
                } else if (strncmp(a, "--timeout=", 10) == 0) {
                        if (parse_duration("exec", "--timeout", a + 10, &timeout) < 0)
                                goto out;
                } else if (strcmp(a, "--runtime-dir") == 0 && next) {
                        rt = argv[++i];
                } else if (strncmp(a, "--runtime-dir=", 14) == 0) {
                        rt = a + 14;
                } else {
                        fprintf(stderr, "zonebox session exec: %s: unknown flag or missing value (see zonebox session --help)\n", a);
                        goto out;
                }
        }
        if (!session) {
                fail("exec", "which session? (zonebox session exec SESSION -- COMMAND)");
                goto out;
        }
        if (i >= argc) {
                fail("exec", "command: empty command (give it after --)");
                goto out;
        }
        util_block_forwarded(); /* zb_session_exec forwards them to the command */
        if (zb_session_exec(rt, session, argv + i, argc - i, env, n_env, workdir, timeout, json, &res,
                            &err) < 0) {
                fail("exec", err.message);
                goto out;
        }
        rc = cli_report("session exec", res, json, "command");
        if (rc < 0)
                rc = ZB_EXIT_ERROR;
out:
        zb_result_free(res);
        free(env);
        return rc;
}

/* Flags of list and stop: --json, --runtime-dir; for stop one SESSION. */
static int simple_args(const char *sub, int argc, char **argv, bool want_session, const char **session,
                       const char **rt, bool *json)
{
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                        fputs(session_help, stdout);
                        return 1;
                }
                if (strcmp(a, "--json") == 0)
                        *json = true;
                else if (strcmp(a, "--runtime-dir") == 0 && i + 1 < argc)
                        *rt = argv[++i];
                else if (strncmp(a, "--runtime-dir=", 14) == 0)
                        *rt = a + 14;
                else if (a[0] != '-' && want_session && !*session)
                        *session = a;
                else {
                        fprintf(stderr, "zonebox session %s: %s: unexpected argument (see zonebox session --help)\n", sub, a);
                        return -1;
                }
        }
        if (want_session && !*session) {
                fprintf(stderr, "zonebox session %s: which session? (an id or a name)\n", sub);
                return -1;
        }
        return 0;
}

static int cmd_list(int argc, char **argv)
{
        struct zb_error err = { 0 };
        const char *rt = NULL, *unused = NULL;
        bool json = false;
        char *text = NULL;
        int r = simple_args("list", argc, argv, false, &unused, &rt, &json);
        if (r)
                return r > 0 ? 0 : ZB_EXIT_ERROR;
        if (zb_session_list(rt, &text, &err) < 0)
                return fail("list", err.message);
        if (json) {
                puts(text);
        } else {
                struct json_object *arr = json_tokener_parse(text);
                printf("%-12s  %-24s  %8s  %s\n", "ID", "NAME", "PID", "IDLE-TIMEOUT");
                for (size_t k = 0; arr && k < json_object_array_length(arr); k++) {
                        struct json_object *o = json_object_array_get_idx(arr, k), *v;
                        /* info.json is a file in the runtime dir: printed escaped, as all text from there */
                        const char *id = cli_esc(json_object_object_get_ex(o, "id", &v) ? json_object_get_string(v) : "");
                        const char *nm = cli_esc(json_object_object_get_ex(o, "name", &v) && v ? json_object_get_string(v) : "-");
                        int pid = json_object_object_get_ex(o, "pid", &v) ? json_object_get_int(v) : 0;
                        uint64_t idle = json_object_object_get_ex(o, "idle_timeout_ms", &v) ? json_object_get_uint64(v) : 0;
                        if (idle)
                                printf("%-12s  %-24s  %8d  %llus\n", id, nm, pid, (unsigned long long)(idle / 1000));
                        else
                                printf("%-12s  %-24s  %8d  none\n", id, nm, pid);
                }
                json_object_put(arr);
        }
        free(text);
        return 0;
}

static int cmd_stop(int argc, char **argv)
{
        struct zb_error err = { 0 };
        const char *rt = NULL, *session = NULL;
        bool json = false;
        char *final = NULL;
        int r = simple_args("stop", argc, argv, true, &session, &rt, &json);
        if (r)
                return r > 0 ? 0 : ZB_EXIT_ERROR;
        if (zb_session_stop(rt, session, json ? &final : NULL, &err) < 0) {
                free(final);
                return fail("stop", err.message);
        }
        if (json)
                puts(final ? final : "{}");
        free(final);
        return 0;
}

int cli_session(int argc, char **argv)
{
        const char *sub = argc > 1 ? argv[1] : NULL;
        if (!sub || strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
                fputs(session_help, sub ? stdout : stderr);
                return sub ? 0 : ZB_EXIT_ERROR;
        }
        if (strcmp(sub, "start") == 0)
                return cmd_start(argc - 1, argv + 1);
        if (strcmp(sub, "exec") == 0)
                return cmd_exec(argc - 1, argv + 1);
        if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
                return cmd_list(argc - 1, argv + 1);
        if (strcmp(sub, "stop") == 0 || strcmp(sub, "rm") == 0)
                return cmd_stop(argc - 1, argv + 1);
        fprintf(stderr, "zonebox session: %s: unknown subcommand (start, exec, list, stop)\n", sub);
        return ZB_EXIT_ERROR;
}
