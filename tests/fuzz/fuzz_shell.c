/* The shell splitter (src/core/shell_split.c) and the command analysis
 * around it (src/core/approval_rules.c): the `sh -c` strings an agent
 * sends are the most hostile input zonebox reads. Each input is used twice:
 *
 *   1. as the script of `sh -c INPUT`;
 *   2. split at newlines, as an argv (wrappers: env -u X nice -n 5 ...).
 *
 * Besides memory safety, checked on every input: the analysis ends with 0
 * (only -ENOMEM is an error), records every command it found with its words
 * NULL-terminated, keeps its reasons to one line of text, and a command
 * shown for people (appr_display) is one line without control bytes
 * within its length. And a round trip: an argv of printable ASCII, shown
 * shell-quoted and then split as `sh -c SHOWN`, is read back as exactly that
 * argv (or given up on), so the quoting people see and the splitter agree. */
#include "fuzz.h"

#include "core/approval.h"

#define MAX_ARGS 64
#define MAX_SHOWN 400

static char *const envp[] = { "PATH=/usr/bin:/bin", "HOME=/root", NULL };

/* One line of text: what reasons and displayed commands reach a terminal as. */
static void check_text(const char *s, size_t size)
{
        const char *end = memchr(s, '\0', size);
        fuzz_assert(end != NULL);
        for (const char *c = s; c < end; c++)
                fuzz_assert((unsigned char)*c >= 0x20 && *c != 0x7f);
}

static void check_analysis(const struct appr_analysis *a)
{
        fuzz_assert(a->n <= 256 && a->n <= a->cap);
        fuzz_assert(a->n > 0 || a->unparseable[0]);
        for (size_t i = 0; i < a->n; i++) {
                const struct appr_cmd *c = &a->cmds[i];
                fuzz_assert(c->words && c->n >= 1 && c->words[c->n] == NULL);
                for (size_t k = 0; k < c->n; k++)
                        fuzz_assert(c->words[k] != NULL);
                char *shown = appr_display(c->words, c->n, MAX_SHOWN);
                fuzz_assert(shown != NULL);
                fuzz_assert(strlen(shown) <= MAX_SHOWN);
                check_text(shown, strlen(shown) + 1);
                free(shown);
        }
        check_text(a->unparseable, sizeof(a->unparseable));
        check_text(a->blocker, sizeof(a->blocker));
}

static void analyze(char *const *argv, size_t argc, struct appr_analysis *a)
{
        int r = appr_analyze(argv, argc, envp, a);
        fuzz_assert(r == 0);
        check_analysis(a);
}

static bool printable_ascii(char *const *argv, size_t argc)
{
        for (size_t i = 0; i < argc; i++)
                for (const char *c = argv[i]; *c; c++)
                        if (*c < 0x20 || *c > 0x7e)
                                return false;
        return true;
}

/* Words the shell reads as syntax when unquoted, which display leaves
 * unquoted (plain letters): a reserved word or NAME=value in front. */
static bool shell_syntax_first(const char *w)
{
        static const char *const reserved[] = { "if", "then", "else", "elif", "fi", "do", "done", "while",
                                                "until", "for", "select", "case", "esac", "in", "function",
                                                "coproc", NULL };
        for (const char *const *r = reserved; *r; r++)
                if (strcmp(w, *r) == 0)
                        return true;
        const char *eq = strchr(w, '=');
        return eq && eq != w;
}

/* Shown shell-quoted, then split again: the same words come back. */
static void check_round_trip(char *const *argv, size_t argc)
{
        if (!printable_ascii(argv, argc) || shell_syntax_first(argv[0]))
                return;
        char *shown = appr_display(argv, argc, 1u << 20);
        fuzz_assert(shown != NULL);
        char *sh[] = { "sh", "-c", shown, NULL };
        struct appr_analysis a;
        analyze(sh, 3, &a);
        if (!a.unparseable[0]) {
                fuzz_assert(a.n >= 2); /* sh -c SHOWN, then the command */
                const struct appr_cmd *c = &a.cmds[1];
                fuzz_assert(c->n == argc);
                for (size_t i = 0; i < argc; i++)
                        fuzz_assert(strcmp(c->words[i], argv[i]) == 0);
        }
        appr_analysis_free(&a);
        free(shown);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = fuzz_cstr(data, size);
        struct appr_analysis a;

        char *sh[] = { "sh", "-c", s, NULL };
        analyze(sh, 3, &a);
        appr_analysis_free(&a);

        char *argv[MAX_ARGS + 1];
        size_t argc = 0;
        for (char *w = s; argc < MAX_ARGS; w++) {
                argv[argc++] = w;
                w = strchr(w, '\n');
                if (!w)
                        break;
                *w = '\0';
        }
        argv[argc] = NULL;
        analyze(argv, argc, &a);
        appr_analysis_free(&a);
        check_round_trip(argv, argc);
        free(s);
        return 0;
}
