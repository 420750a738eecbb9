/* zonebox diff, commit, discard: the change sets that cow zones leave,
 * over the public API (zb_cow_*). Only argument parsing and printing here. */
#define _GNU_SOURCE
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char diff_help[] =
"Usage: zonebox diff [--cow-dir DIR] [--json] ID\n"
"   or: zonebox diff --list [--cow-dir DIR] [--json]\n"
"\n"
"Show what a run changed in its cow zones: one line per path, A added,\n"
"M modified, D deleted (a directory ends in '/'), and the conflicts a commit\n"
"would refuse: paths the host changed since the run (names are shown with\n"
"control bytes and invalid UTF-8 escaped, as \\xNN). --list shows every kept\n"
"change set (and removes what runs whose zonebox was killed left unfinished).\n"
"\n"
"Options:\n"
"  --cow-dir DIR   the change-set store (default: $ZONEBOX_COW_DIR, else\n"
"                  /run/zonebox/cow for root, $XDG_RUNTIME_DIR/zonebox/cow or\n"
"                  /tmp/zonebox-UID/cow for others)\n"
"  --json          print JSON\n"
"  -h, --help      this text\n"
"\n"
"Exit status: 0; 125 on a bad flag, an unknown id or an error.\n";

static const char commit_help[] =
"Usage: zonebox commit [--cow-dir DIR] [--json] ID\n"
"\n"
"Apply change set ID to the host dirs of its cow zones, then remove it. Every\n"
"new or changed entry is first copied beside its target under a temporary\n"
"name, and renamed into place only when all are ready. Nothing is applied\n"
"when a path the run touched changed on the host since (a conflict; for a\n"
"directory removed whole, anything below it), when a directory on the way is\n"
"now a symlink or a mount point, or when the upper dir differs from what the\n"
"run left (content hashes and name lists kept in the manifest).\n"
"\n"
"Options: --cow-dir DIR, --json, -h (as for zonebox diff).\n"
"\n"
"Exit status: 0 applied; 1 refused (conflicts, listed); 125 on an error.\n";

static const char discard_help[] =
"Usage: zonebox discard [--cow-dir DIR] ID...\n"
"\n"
"Remove change sets without applying them.\n"
"\n"
"Exit status: 0; 125 when one could not be removed.\n";

struct cow_args {
        const char *dir;
        bool json, list;
        int n_ids;
        char **ids;
};

/* 0, 1 for --help, -1 after printing the error. */
static int parse_args(const char *cmd, int argc, char **argv, bool allow_list, struct cow_args *a)
{
        a->ids = calloc((size_t)argc + 1, sizeof(char *));
        if (!a->ids)
                return -1;
        for (int i = 1; i < argc; i++) {
                const char *s = argv[i];
                if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0)
                        return 1;
                if (strcmp(s, "--json") == 0)
                        a->json = true;
                else if (allow_list && strcmp(s, "--list") == 0)
                        a->list = true;
                else if (strcmp(s, "--cow-dir") == 0 && i + 1 < argc)
                        a->dir = argv[++i];
                else if (strncmp(s, "--cow-dir=", 10) == 0)
                        a->dir = s + 10;
                else if (s[0] == '-') {
                        fprintf(stderr, "zonebox %s: %s: unknown flag or missing value (see zonebox %s --help)\n",
                                cmd, s, cmd);
                        return -1;
                } else
                        a->ids[a->n_ids++] = argv[i];
        }
        return 0;
}

static json_object *field(json_object *o, const char *key)
{
        json_object *v = NULL;
        json_object_object_get_ex(o, key, &v);
        return v;
}

/* The set's text, escaped for the terminal: file names, reasons and
 * errors come from inside the sandbox (a name with "\e[8m" would hide
 * every line after it in the list a person reviews before commit). */
static const char *str(json_object *o, const char *key)
{
        json_object *v = field(o, key);
        return cli_esc(v ? json_object_get_string(v) : "");
}

const char *cli_esc(const char *s)
{
        /* A few at once, for one printf's arguments. */
        static char *slot[8];
        static unsigned next;
        unsigned i = next++ % 8;
        free(slot[i]);
        slot[i] = util_escape_text(s ? s : "");
        return slot[i] ? slot[i] : "?";
}

static void print_paths(json_object *zone, const char *key, const char *mark)
{
        json_object *l = field(zone, key);
        /* Its own copy: the loop's cli_esc calls recycle str()'s slots. */
        _cleanup_(freep) char *mount = util_escape_text(json_object_get_string(field(zone, "path")) ?: "");
        for (size_t i = 0; l && i < json_object_array_length(l); i++)
                printf("%s %s/%s\n", mark, mount ? mount : "?", cli_esc(json_object_get_string(json_object_array_get_idx(l, i))));
}

static void print_conflicts(json_object *conflicts, json_object *zones)
{
        for (size_t i = 0; conflicts && i < json_object_array_length(conflicts); i++) {
                json_object *c = json_object_array_get_idx(conflicts, i);
                const char *zone = json_object_get_string(field(c, "zone")), *mount = "";
                for (size_t z = 0; zones && z < json_object_array_length(zones); z++) {
                        json_object *zo = json_object_array_get_idx(zones, z);
                        if (zone && strcmp(json_object_get_string(field(zo, "name")) ?: "", zone) == 0)
                                mount = json_object_get_string(field(zo, "path")) ?: "";
                }
                mount = cli_esc(mount);
                const char *path = str(c, "path");
                printf("conflict %s%s%s: %s\n", mount, path[0] ? "/" : "", path, str(c, "reason"));
        }
}

static void print_when(json_object *set)
{
        json_object *v = field(set, "created");
        time_t t = v ? (time_t)json_object_get_int64(v) : 0;
        struct tm tm;
        char when[32] = "?";
        if (t && localtime_r(&t, &tm))
                strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        printf("%s", when);
}

static void print_diff(json_object *set)
{
        json_object *zones = field(set, "zones");
        printf("change set %s, run ", str(set, "id"));
        print_when(set);
        printf(", %s %s\n", str(set, "status"), str(set, "exit_code"));
        if (field(set, "error"))
                printf("error: %s (commit refuses it; discard it)\n", str(set, "error"));
        for (size_t z = 0; zones && z < json_object_array_length(zones); z++) {
                json_object *zo = json_object_array_get_idx(zones, z);
                printf("zone %s: %s over %s\n", str(zo, "name"), str(zo, "path"), str(zo, "host_path"));
                print_paths(zo, "added", "A");
                print_paths(zo, "modified", "M");
                print_paths(zo, "deleted", "D");
                print_conflicts(field(zo, "conflicts"), zones);
        }
}

static void print_list(json_object *list)
{
        size_t n = json_object_array_length(list);
        if (n == 0) {
                printf("no change sets\n");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                json_object *s = json_object_array_get_idx(list, i);
                json_object *zones = field(s, "zones");
                printf("%s  ", str(s, "id"));
                if (!zones) {
                        printf("%s\n", str(s, "status"));
                        continue;
                }
                print_when(s);
                printf("  %s %s ", str(s, "status"), str(s, "exit_code"));
                for (size_t z = 0; z < json_object_array_length(zones); z++) {
                        json_object *zo = json_object_array_get_idx(zones, z);
                        printf(" %s: %s added, %s modified, %s deleted", str(zo, "path"), str(zo, "added"),
                               str(zo, "modified"), str(zo, "deleted"));
                }
                printf("\n");
        }
}

static int emit(const char *text, bool json, void (*human)(json_object *))
{
        if (json) {
                puts(text);
                return 0;
        }
        json_object *o = json_tokener_parse(text);
        if (!o) {
                fprintf(stderr, "zonebox: cannot read the change set's description\n");
                return ZB_EXIT_ERROR;
        }
        human(o);
        json_object_put(o);
        return 0;
}

int cli_diff(int argc, char **argv)
{
        struct cow_args a = { 0 };
        struct zb_error err = { 0 };
        char *text = NULL;
        int rc = ZB_EXIT_ERROR;

        int r = parse_args("diff", argc, argv, true, &a);
        if (r == 1) {
                fputs(diff_help, stdout);
                rc = 0;
        } else if (r == 0 && (a.list ? a.n_ids != 0 : a.n_ids != 1)) {
                fprintf(stderr, "zonebox diff: give one change-set id, or --list (see zonebox diff --help)\n");
        } else if (r == 0) {
                int ret = a.list ? zb_cow_list(a.dir, &text, &err) : zb_cow_diff(a.dir, a.ids[0], &text, &err);
                if (ret < 0)
                        fprintf(stderr, "zonebox diff: %s\n", err.message);
                else
                        rc = emit(text, a.json, a.list ? print_list : print_diff);
        }
        free(text);
        free(a.ids);
        return rc;
}

int cli_commit(int argc, char **argv)
{
        struct cow_args a = { 0 };
        struct zb_error err = { 0 };
        char *text = NULL;
        int rc = ZB_EXIT_ERROR;

        int r = parse_args("commit", argc, argv, false, &a);
        if (r == 1) {
                fputs(commit_help, stdout);
                rc = 0;
        } else if (r == 0 && a.n_ids != 1) {
                fprintf(stderr, "zonebox commit: give one change-set id (see zonebox diff --list)\n");
        } else if (r == 0) {
                int ret = zb_cow_commit(a.dir, a.ids[0], &text, &err);
                if (text && a.json)
                        puts(text);
                if (ret == 0) {
                        if (!a.json)
                                printf("committed %s\n", a.ids[0]);
                        rc = 0;
                } else if (ret == -ESTALE) {
                        if (!a.json && text) {
                                json_object *o = json_tokener_parse(text);
                                print_conflicts(field(o, "conflicts"), field(o, "zones"));
                                json_object_put(o);
                        }
                        fprintf(stderr, "zonebox commit: %s\n", err.message);
                        rc = 1;
                } else {
                        fprintf(stderr, "zonebox commit: %s\n", err.message);
                }
        }
        free(text);
        free(a.ids);
        return rc;
}

int cli_discard(int argc, char **argv)
{
        struct cow_args a = { 0 };
        struct zb_error err = { 0 };
        int rc = 0;

        int r = parse_args("discard", argc, argv, false, &a);
        if (r == 1) {
                fputs(discard_help, stdout);
        } else if (r < 0 || a.n_ids == 0) {
                if (r == 0)
                        fprintf(stderr, "zonebox discard: give change-set ids (see zonebox diff --list)\n");
                rc = ZB_EXIT_ERROR;
        } else {
                for (int i = 0; i < a.n_ids; i++) {
                        if (zb_cow_discard(a.dir, a.ids[i], &err) < 0) {
                                fprintf(stderr, "zonebox discard: %s\n", err.message);
                                rc = ZB_EXIT_ERROR;
                        }
                }
        }
        free(a.ids);
        return rc;
}
