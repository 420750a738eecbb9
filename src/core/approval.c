/* Command approval: may this command run? (docs/config.md, "Command
 * approval"). Three parts, in the order zb_run uses them:
 *
 *   1. the splitter: argv → every command that will run. Wrapper layers
 *      (env, nice, timeout, ...) are peeled off; a POSIX shell started with
 *      -c has its script split into simple commands. The splitter reads a
 *      small, safe subset of the shell language; anything outside it (eval,
 *      here-documents, a computed command name, ...) makes the line
 *      "unreadable", which no allow rule can approve.
 *   2. the rules: deny rules see every layer and win; allow rules must
 *      approve every command that runs; otherwise approval.default.
 *   3. ask: an earlier "always", the approver program (JSON on stdin, answer
 *      on stdout, with a deadline), or the policy's ask handler (the CLI's
 *      asks on the terminal).
 *
 * Nothing here starts a sandbox; the kernel layers contain what runs. */
#define _GNU_SOURCE
#include <ctype.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

#include "approval.h"
#include "result.h"

extern char **environ;

#define MAX_DEPTH 16           /* nested shells, $(...), (...) */
#define MAX_CMDS 256           /* commands found in one line */
#define MAX_WRAPPERS 16        /* env nice timeout ... layers */
#define MAX_SCRIPT_BYTES (64u << 10)
#define MAX_ANSWER_BYTES 4096u
#define MAX_DISPLAY_BYTES 400u /* a command in a one-line message */
#define GAVE_UP (-1)           /* the splitter stopped; a->unparseable says why */

/* ------------------------------------------------------------ the result store */

static void set_reason(char *dst, size_t size, const char *fmt, ...) ZB_PRINTF(3, 4);
static void set_reason(char *dst, size_t size, const char *fmt, ...)
{
        va_list ap;

        if (dst[0]) /* the first reason is the one worth telling */
                return;
        char raw[768];
        va_start(ap, fmt);
        vsnprintf(raw, sizeof(raw), fmt, ap);
        va_end(ap);
        /* Reasons quote the command and reach the terminal's question. */
        util_escape_text_to(raw, dst, size);
}

static int give_up(struct appr_analysis *a, const char *fmt, ...) ZB_PRINTF(2, 3);
static int give_up(struct appr_analysis *a, const char *fmt, ...)
{
        char msg[sizeof(a->unparseable)];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        set_reason(a->unparseable, sizeof(a->unparseable), "%s", msg);
        return GAVE_UP;
}

static void block_all(struct appr_analysis *a, const char *why)
{
        set_reason(a->blocker, sizeof(a->blocker), "%s", why);
}

static int add_cmd(struct appr_analysis *a, char *const *words, size_t n)
{
        if (a->n >= MAX_CMDS)
                return give_up(a, "more than %d commands", MAX_CMDS);
        if (a->n == a->cap) {
                size_t cap = a->cap ? a->cap * 2 : 8;
                struct appr_cmd *c = realloc(a->cmds, cap * sizeof(*c));
                if (!c)
                        return -ENOMEM;
                a->cmds = c;
                a->cap = cap;
        }
        char **w = calloc(n + 1, sizeof(char *));
        if (!w)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(w[i] = strdup(words[i]))) {
                        util_strv_free(w);
                        return -ENOMEM;
                }
        a->cmds[a->n++] = (struct appr_cmd){ .words = w, .n = n };
        return 0;
}

void appr_analysis_free(struct appr_analysis *a)
{
        for (size_t i = 0; i < a->n; i++)
                util_strv_free(a->cmds[i].words);
        free(a->cmds);
        memset(a, 0, sizeof(*a));
}

static bool in_list(const char *s, const char *const *list)
{
        for (; *list; list++)
                if (strcmp(s, *list) == 0)
                        return true;
        return false;
}

static const char *base_name(const char *s)
{
        const char *b = strrchr(s, '/');
        return b ? b + 1 : s;
}

static bool is_name_start(char c)
{
        return isalpha((unsigned char)c) || c == '_';
}

static bool is_name_char(char c)
{
        return isalnum((unsigned char)c) || c == '_';
}

/* NAME=value (or NAME+=value) in the first PLAIN bytes of S. */
static bool assignment_prefix(const char *s, size_t plain)
{
        size_t k = 0;
        if (!is_name_start(s[0]))
                return false;
        while (k < plain && is_name_char(s[k]))
                k++;
        if (k < plain && s[k] == '+')
                k++;
        return k < plain && s[k] == '=';
}

/* ------------------------------------------------------------ wrappers and builtins */

/* Word flags: an expansion ($X, $(..), `..`) or an unquoted pattern (glob,
 * brace, leading ~): the word's value is only known when the script runs. */
enum { W_DYN = 1u, W_PATTERN = 2u };
#define COMPUTED (W_DYN | W_PATTERN)

enum { UNWRAP_NONE, UNWRAP_INNER, UNWRAP_NEUTRAL };

/* Programs that run another command given by their arguments and only
 * adjust how it runs. Their options are read exactly; an option not listed
 * here makes the line unreadable (env -S splits a string into a command). */
struct wrapper {
        const char *name;
        bool builtin;                 /* a shell builtin: only inside a script */
        const char *flags;            /* short options without a value */
        const char *valued;           /* short options with a value */
        const char *const *long_flags;
        const char *const *long_valued;
        unsigned operands;            /* words before the command (timeout's duration) */
        bool assignments;             /* env: NAME=value words before the command */
        bool numeric;                 /* nice -10 */
        bool alone_neutral;           /* without a command it runs nothing (exec >f) */
        const char *writes;           /* an option that writes a file (time -o) */
        const char *neutral;          /* options after which nothing runs (command -v) */
};

static const char *const env_long[] = { "--ignore-environment", "--null", "--debug", NULL };
static const char *const env_long_v[] = { "--unset", "--chdir", NULL };
static const char *const nice_long_v[] = { "--adjustment", NULL };
static const char *const timeout_long[] = { "--foreground", "--preserve-status", "--verbose", NULL };
static const char *const timeout_long_v[] = { "--signal", "--kill-after", NULL };
static const char *const stdbuf_long_v[] = { "--input", "--output", "--error", NULL };
static const char *const setsid_long[] = { "--ctty", "--fork", "--wait", NULL };
static const char *const time_long[] = { "--portability", "--verbose", "--quiet", "--append", NULL };
static const char *const time_long_v[] = { "--format", "--output", NULL };
static const char *const none[] = { NULL };

static const struct wrapper wrappers[] = {
        { "env", false, "i0v", "uC", env_long, env_long_v, 0, true, false, false, NULL, NULL },
        { "nice", false, "", "n", none, nice_long_v, 0, false, true, false, NULL, NULL },
        { "nohup", false, "", "", none, none, 0, false, false, false, NULL, NULL },
        { "timeout", false, "v", "sk", timeout_long, timeout_long_v, 1, false, false, false, NULL, NULL },
        { "stdbuf", false, "", "ioe", none, stdbuf_long_v, 0, false, false, false, NULL, NULL },
        { "setsid", false, "cfw", "", setsid_long, none, 0, false, false, false, NULL, NULL },
        { "time", false, "pvqa", "fo", time_long, time_long_v, 0, false, false, false, "o", NULL },
        { "busybox", false, "", "", none, none, 0, false, false, false, NULL, NULL },
        { "exec", true, "cl", "a", none, none, 0, false, false, true, NULL, NULL },
        { "command", true, "p", "", none, none, 0, false, false, true, NULL, "vV" },
        { "builtin", true, "", "", none, none, 0, false, false, true, NULL, NULL },
};

static const struct wrapper *wrapper_find(const char *prog, bool from_shell)
{
        for (size_t i = 0; i < ARRAY_SIZE(wrappers); i++)
                if (strcmp(wrappers[i].name, prog) == 0 && (from_shell || !wrappers[i].builtin))
                        return &wrappers[i];
        return NULL;
}

static bool all_digits(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isdigit((unsigned char)*s))
                        return false;
        return true;
}

/* A long option: known without value, known with one (=V or the next
 * word), else not understood. Returns the words it takes (1 or 2), 0 if
 * unknown. */
static int long_option(const struct wrapper *wr, const char *o, const char **blocker)
{
        size_t len = strcspn(o, "=");
        for (const char *const *l = wr->long_flags; *l; l++)
                if (strlen(*l) == len && strncmp(*l, o, len) == 0 && !o[len])
                        return 1;
        for (const char *const *l = wr->long_valued; *l; l++)
                if (strlen(*l) == len && strncmp(*l, o, len) == 0) {
                        if (wr->writes && strcmp(*l, "--output") == 0)
                                *blocker = "an option of the wrapper writes a file";
                        return o[len] ? 1 : 2;
                }
        return 0;
}

/* Peel one wrapper off W: *INNER is where its command starts. */
static int unwrap(struct appr_analysis *a, const struct wrapper *wr, char *const *w,
                  const unsigned *f, size_t n, size_t *inner, const char **blocker)
{
        size_t i = 1;

        for (; i < n; i++) {
                const char *o = w[i];
                if (f && (f[i] & COMPUTED))
                        return give_up(a, "an argument of '%s' is computed when the script runs", wr->name);
                if (strcmp(o, "--") == 0) {
                        i++;
                        break;
                }
                if (strcmp(o, "-") == 0 && wr->assignments) /* env -: same as -i */
                        continue;
                if (o[0] != '-' || o[1] == '\0')
                        break;
                if (o[1] == '-') {
                        int k = long_option(wr, o, blocker);
                        if (k == 0)
                                return give_up(a, "'%s' option '%.40s' is not understood", wr->name, o);
                        if (k == 2 && ++i >= n)
                                return give_up(a, "'%s %.40s' needs a value", wr->name, o);
                        continue;
                }
                if (wr->numeric && all_digits(o + 1))
                        continue;
                for (const char *p = o + 1; *p; p++) {
                        if (wr->neutral && strchr(wr->neutral, *p))
                                return UNWRAP_NEUTRAL;
                        if (strchr(wr->flags, *p))
                                continue;
                        if (!strchr(wr->valued, *p))
                                return give_up(a, "'%s' option '-%c' is not understood", wr->name, *p);
                        if (wr->writes && strchr(wr->writes, *p))
                                *blocker = "an option of the wrapper writes a file";
                        if (!p[1] && ++i >= n)
                                return give_up(a, "'%s -%c' needs a value", wr->name, *p);
                        break; /* the rest of the word (or the next) is the value */
                }
        }
        for (unsigned k = 0; k < wr->operands; k++, i++) {
                if (i >= n)
                        return UNWRAP_NONE;
                if (f && (f[i] & COMPUTED))
                        return give_up(a, "an argument of '%s' is computed when the script runs", wr->name);
        }
        while (wr->assignments && i < n && assignment_prefix(w[i], strlen(w[i]))) {
                *blocker = "the wrapper sets variables for the command (env NAME=value ...)";
                i++;
        }
        if (i >= n)
                return wr->alone_neutral ? UNWRAP_NEUTRAL : UNWRAP_NONE;
        *inner = i;
        return UNWRAP_INNER;
}

/* Builtins that run text as commands: nothing the rules could see. */
static const char *const runs_text[] = { "eval", "source", ".", "trap", "alias", "fc", "bind",
                                         "enable", "coproc", "compgen", "complete", "compopt", NULL };
/* Builtins that change variables or how commands are found (a later `ls`
 * could then be /output/ls, or run with LD_PRELOAD). */
static const char *const sets_vars[] = { "export", "declare", "typeset", "local", "readonly", "read",
                                         "mapfile", "readarray", "getopts", "let", "unset", "hash",
                                         "shopt", "unalias", NULL };

/* `set` with options only changes how the shell reports errors and
 * traces, except -a (export every later assignment) and -k (assignments
 * anywhere on a line go to the environment). */
static bool set_is_harmless(char *const *w, size_t n)
{
        for (size_t i = 1; i < n; i++) {
                const char *o = w[i];
                if ((o[0] != '-' && o[0] != '+') || strcmp(o, "--") == 0 || strcmp(o, "-") == 0)
                        return true; /* positional parameters from here on */
                for (const char *p = o + 1; *p; p++) {
                        if (*p == 'a' || *p == 'k')
                                return false;
                        if (*p == 'o' && i + 1 < n) {
                                i++;
                                if (strcmp(w[i], "allexport") == 0 || strcmp(w[i], "keyword") == 0)
                                        return false;
                                break;
                        }
                }
        }
        return true;
}

/* [[ ]], [ and test: bash evaluates the operands of -eq & co. (in [[ ]])
 * and of -v as arithmetic or variable names, array subscripts included, so
 * [[ $1 -eq 0 ]] with $1 = 'a[$(rm -rf /)]' runs rm. A subscript or an
 * expansion next to such an operator is not read. */
static int test_effects(struct appr_analysis *a, char *const *w, const unsigned *f, size_t n)
{
        static const char *const evaluating[] = { "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-v", "-R", NULL };
        /* [ and test compare -eq operands as plain integers */
        const char *const *ops = strcmp(w[0], "[[") == 0 ? evaluating : evaluating + 6;
        bool dyn = false, op = false;

        for (size_t i = 1; i < n; i++) {
                bool last = i == n - 1 && (strcmp(w[i], "]]") == 0 || strcmp(w[i], "]") == 0);
                if (!last && strchr(w[i], '['))
                        return give_up(a, "a '[' inside a test (an array subscript is evaluated)");
                dyn |= f && (f[i] & W_DYN);
                op |= in_list(w[i], ops);
        }
        if (dyn && op)
                return give_up(a, "an expansion in a test with -eq, -lt, -v ... (its value is evaluated)");
        return 0;
}

/* What a builtin (inside a script) does to the rest of it: GAVE_UP, 1 when
 * it runs nothing the rules need to see, 0 otherwise. */
static int builtin_effects(struct appr_analysis *a, const char *prog, char *const *w,
                           const unsigned *f, size_t n)
{
        if (strcmp(prog, "[[") == 0 || strcmp(prog, "[") == 0 || strcmp(prog, "test") == 0)
                return test_effects(a, w, f, n);
        if (in_list(prog, runs_text))
                return give_up(a, "'%s' runs text as commands", prog);
        if (in_list(prog, sets_vars)) {
                block_all(a, "a builtin changes variables or how commands are found");
                return 0;
        }
        if (strcmp(prog, "printf") == 0) {
                for (size_t i = 1; i < n && w[i][0] == '-' && strcmp(w[i], "--") != 0; i++)
                        if (strncmp(w[i], "-v", 2) == 0)
                                block_all(a, "printf -v assigns a variable");
                return 0;
        }
        if (strcmp(prog, "set") == 0) {
                if (!set_is_harmless(w, n))
                        block_all(a, "set -a or -k puts assignments into the environment");
                return 1;
        }
        return 0;
}

/* ------------------------------------------------------------ the shell splitter */

struct sh {
        const char *s;
        size_t i, n;
        struct appr_analysis *a;
        char *const *envp;
};

struct word {
        char *s;
        size_t len, cap;
        unsigned flags;
        bool quoted;     /* some part was quoted or escaped */
        bool plain_open; /* nothing quoted or expanded yet */
        bool lbracket;   /* an unquoted [ (a ] after it makes a glob) */
        bool lbrace;     /* an unquoted { (a } after it makes a brace expansion) */
        size_t plain;    /* bytes before the first quoted or expanded part */
};

/* The words of one simple command, with their flags. */
struct pending {
        char **w;
        unsigned *f;
        size_t n, cap;
};

static int parse_list(struct sh *x, char term);
static int analyze_command(struct appr_analysis *a, char *const *envp, char *const *w,
                           const unsigned *f, size_t n, const char *blocker, bool from_shell);

static char cur(const struct sh *x)
{
        return x->i < x->n ? x->s[x->i] : '\0';
}

static char ahead(const struct sh *x, size_t k)
{
        return x->i + k < x->n ? x->s[x->i + k] : '\0';
}

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

static bool ends_word(char c)
{
        return c == '\0' || is_blank(c) || strchr("\n;&|()<>", c);
}

static int word_put(struct word *w, const char *d, size_t n)
{
        if (w->len + n + 1 > w->cap) {
                size_t cap = w->cap ? w->cap : 32;
                while (cap < w->len + n + 1)
                        cap *= 2;
                char *s = realloc(w->s, cap);
                if (!s)
                        return -ENOMEM;
                w->s = s;
                w->cap = cap;
        }
        memcpy(w->s + w->len, d, n);
        w->len += n;
        w->s[w->len] = '\0';
        return 0;
}

static void word_unplain(struct word *w)
{
        if (w->plain_open) {
                w->plain = w->len;
                w->plain_open = false;
        }
}

/* Blanks, line continuations and comments between words. */
static void skip_blanks(struct sh *x)
{
        for (;;) {
                char c = cur(x);
                if (is_blank(c)) {
                        x->i++;
                } else if (c == '\\' && ahead(x, 1) == '\n') {
                        x->i += 2;
                } else if (c == '#') {
                        while (x->i < x->n && x->s[x->i] != '\n')
                                x->i++;
                } else {
                        return;
                }
        }
}

/* The raw text from START to here goes into the word as written. */
static int put_expansion(struct sh *x, struct word *w, size_t start)
{
        word_unplain(w);
        w->flags |= W_DYN;
        return word_put(w, x->s + start, x->i - start);
}

static int read_backtick(struct sh *x, struct word *w)
{
        size_t start = x->i, e = x->i + 1;

        for (; e < x->n && x->s[e] != '`'; e++)
                if (x->s[e] == '\\')
                        return give_up(x->a, "a backslash inside `...` (use $(...))");
        if (e >= x->n)
                return give_up(x->a, "an unterminated `...`");
        struct sh sub = { .s = x->s + start + 1, .n = e - start - 1, .a = x->a, .envp = x->envp };
        int r = parse_list(&sub, '\0');
        if (r < 0)
                return r;
        x->i = e + 1;
        return put_expansion(x, w, start);
}

/* $((...)): literals and variable names only; an assignment blocks. */
static int read_arith(struct sh *x, struct word *w)
{
        size_t start = x->i, e = x->i + 3;
        int depth = 2;

        for (; e < x->n; e++) {
                if (x->s[e] == '(')
                        depth++;
                else if (x->s[e] == ')' && --depth == 0)
                        break;
        }
        if (e >= x->n)
                return give_up(x->a, "an unterminated $((...))");
        for (size_t k = start + 3; k < e; k++) {
                char c = x->s[k];
                /* bash evaluates an expanded value as arithmetic again, array
                 * subscripts and their $(...) included: $(( $1 )) runs code. */
                if (c == '`' || c == '$')
                        return give_up(x->a, "an expansion inside $((...))");
                if (c == '=' && !strchr("=!<>", x->s[k - 1]) && x->s[k + 1] != '=')
                        block_all(x->a, "$((...)) assigns a variable");
        }
        x->i = e + 1;
        return put_expansion(x, w, start);
}

/* ${name}, ${#name}, ${name:-word} with a plain word; ${name=word} assigns. */
static int read_braced(struct sh *x, struct word *w)
{
        size_t start = x->i, e = x->i + 2;

        while (e < x->n && x->s[e] != '}')
                e++;
        if (e >= x->n || e == start + 2)
                return give_up(x->a, "an unterminated or empty ${...}");
        for (size_t k = start + 2; k < e; k++) {
                char c = x->s[k];
                /* ! (indirection) and @ operators (${x@P} is prompt expansion)
                 * evaluate the value; ~ and ^ are zsh's glob and rc expansion. */
                bool at_ok = c == '@' && (k == start + 2 || (k == start + 3 && x->s[start + 2] == '#'));
                if (strchr("$`()'\";|&<> \t\n{\\!~^", c) || (c == '@' && !at_ok))
                        return give_up(x->a, "a ${...} with quotes, blanks, nested expansions or evaluating operators");
                if (x->s[k] == '=')
                        block_all(x->a, "${name=word} assigns a variable");
        }
        x->i = e + 1;
        return put_expansion(x, w, start);
}

static int read_dquote(struct sh *x, struct word *w);

static int read_dollar(struct sh *x, struct word *w, bool in_dquote)
{
        size_t start = x->i;
        char n = ahead(x, 1);

        if (n == '(' && ahead(x, 2) == '(')
                return read_arith(x, w);
        if (n == '(') {
                x->i += 2;
                int r = parse_list(x, ')');
                return r < 0 ? r : put_expansion(x, w, start);
        }
        if (n == '{')
                return read_braced(x, w);
        if (n == '[')
                return give_up(x->a, "$[...] arithmetic is not supported");
        if (n && strchr("~=^+", n))
                return give_up(x->a, "zsh's $%c expansions are not supported", n);
        if (n == '\'' && !in_dquote) { /* $'...': ANSI-C quoting */
                size_t e = x->i + 2;
                while (e < x->n && x->s[e] != '\'')
                        e += x->s[e] == '\\' ? 2 : 1;
                if (e >= x->n)
                        return give_up(x->a, "an unterminated $'...'");
                x->i = e + 1;
                return put_expansion(x, w, start);
        }
        if (n == '"' && !in_dquote) { /* $"...": translated string */
                x->i++;
                w->flags |= W_DYN;
                return read_dquote(x, w);
        }
        if (is_name_start(n)) {
                x->i += 2;
                while (is_name_char(cur(x)))
                        x->i++;
                return put_expansion(x, w, start);
        }
        if (n && (isdigit((unsigned char)n) || strchr("@*#?$!-", n))) {
                x->i += 2;
                return put_expansion(x, w, start);
        }
        x->i++; /* a lone $ is itself */
        return word_put(w, "$", 1);
}

static int read_squote(struct sh *x, struct word *w)
{
        size_t e = x->i + 1;

        while (e < x->n && x->s[e] != '\'')
                e++;
        if (e >= x->n)
                return give_up(x->a, "an unterminated ' quote");
        word_unplain(w);
        w->quoted = true;
        int r = word_put(w, x->s + x->i + 1, e - x->i - 1);
        x->i = e + 1;
        return r;
}

static int read_dquote(struct sh *x, struct word *w)
{
        word_unplain(w);
        w->quoted = true;
        x->i++;
        for (;;) {
                char c = cur(x);
                int r;
                if (x->i >= x->n)
                        return give_up(x->a, "an unterminated \" quote");
                if (c == '"') {
                        x->i++;
                        return 0;
                }
                if (c == '\\') {
                        char e = ahead(x, 1);
                        if (e == '\n') {
                                x->i += 2;
                                continue;
                        }
                        if (e && strchr("$`\"\\", e)) {
                                r = word_put(w, &e, 1);
                                x->i += 2;
                        } else {
                                r = word_put(w, "\\", 1);
                                x->i++;
                        }
                } else if (c == '$') {
                        r = read_dollar(x, w, true);
                } else if (c == '`') {
                        r = read_backtick(x, w);
                } else {
                        r = word_put(w, &c, 1);
                        x->i++;
                }
                if (r < 0)
                        return r;
        }
}

/* One word: quotes removed, expansions kept as written, flags noted. */
static int read_word(struct sh *x, struct word *w)
{
        memset(w, 0, sizeof(*w));
        w->plain_open = true;
        while (!ends_word(cur(x))) {
                char c = cur(x);
                int r;
                switch (c) {
                case '\\':
                        if (ahead(x, 1) == '\n') {
                                x->i += 2;
                                continue;
                        }
                        if (x->i + 1 >= x->n)
                                return give_up(x->a, "a trailing backslash");
                        word_unplain(w);
                        w->quoted = true;
                        r = word_put(w, x->s + x->i + 1, 1);
                        x->i += 2;
                        break;
                case '\'':
                        r = read_squote(x, w);
                        break;
                case '"':
                        r = read_dquote(x, w);
                        break;
                case '$':
                        r = read_dollar(x, w, false);
                        break;
                case '`':
                        r = read_backtick(x, w);
                        break;
                default:
                        if (c == '*' || c == '?' || (c == '~' && w->len == 0) ||
                            (c == ']' && w->lbracket) || (c == '}' && w->lbrace))
                                w->flags |= W_PATTERN;
                        w->lbracket |= c == '[';
                        w->lbrace |= c == '{';
                        r = word_put(w, &c, 1);
                        x->i++;
                }
                if (r < 0)
                        return r;
        }
        if (w->plain_open)
                w->plain = w->len;
        return w->s ? 0 : word_put(w, "", 0);
}

static int pending_push(struct appr_analysis *a, struct pending *c, struct word *w)
{
        if (c->n >= 4096) {
                free(w->s);
                return give_up(a, "more than 4096 words in one command");
        }
        if (c->n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 8;
                char **nw = realloc(c->w, (cap + 1) * sizeof(char *));
                if (!nw) {
                        free(w->s);
                        return -ENOMEM;
                }
                c->w = nw;
                unsigned *nf = realloc(c->f, cap * sizeof(unsigned));
                if (!nf) {
                        free(w->s);
                        return -ENOMEM;
                }
                c->f = nf;
                c->cap = cap;
        }
        c->f[c->n] = w->flags;
        c->w[c->n++] = w->s;
        c->w[c->n] = NULL;
        w->s = NULL;
        return 0;
}

static void pending_free(struct pending *c)
{
        for (size_t i = 0; i < c->n; i++)
                free(c->w[i]);
        free(c->w);
        free(c->f);
}

static bool redir_at(const struct sh *x)
{
        size_t k = x->i;
        while (k < x->n && isdigit((unsigned char)x->s[k]))
                k++;
        if (k < x->n && (x->s[k] == '<' || x->s[k] == '>'))
                return true;
        return k == x->i && k + 1 < x->n && x->s[k] == '&' && x->s[k + 1] == '>';
}

static bool fd_target(const char *t)
{
        size_t n = strspn(t, "0123456789");
        return strcmp(t, "-") == 0 || (n > 0 && (t[n] == '\0' || strcmp(t + n, "-") == 0));
}

/* A redirection; *WRITES when it may create or change a file (anything but
 * /dev/null and fd duplication). Reading is harmless. */
static int parse_redirect(struct sh *x, bool *writes)
{
        enum { R_READ, R_WRITE, R_DUP } kind = R_WRITE;

        while (isdigit((unsigned char)cur(x)))
                x->i++;
        if (cur(x) == '&') { /* &> &>> */
                x->i += 2;
                if (cur(x) == '>')
                        x->i++;
        } else if (cur(x) == '<') {
                x->i++;
                if (cur(x) == '<') {
                        if (ahead(x, 1) != '<')
                                return give_up(x->a, "here-documents (<<) are not supported");
                        x->i += 2; /* <<< here-string */
                        kind = R_READ;
                } else if (cur(x) == '(') {
                        return give_up(x->a, "process substitution <(...) is not supported");
                } else if (cur(x) == '&') {
                        x->i++;
                        kind = R_DUP;
                } else if (cur(x) == '>') {
                        x->i++; /* <> opens for writing too */
                } else {
                        kind = R_READ;
                }
        } else {
                x->i++;
                if (cur(x) == '(')
                        return give_up(x->a, "process substitution >(...) is not supported");
                if (cur(x) == '>' || cur(x) == '|') {
                        x->i++;
                } else if (cur(x) == '&') {
                        x->i++;
                        kind = R_DUP;
                }
        }
        while (is_blank(cur(x)))
                x->i++;
        if (ends_word(cur(x)))
                return give_up(x->a, "a redirection without a target");
        struct word t;
        int r = read_word(x, &t);
        if (r == 0) {
                bool fixed = !(t.flags & COMPUTED);
                if (kind == R_DUP && !(fixed && fd_target(t.s)))
                        kind = R_WRITE; /* >&file is bash for &>file */
                if (kind == R_WRITE && !(fixed && strcmp(t.s, "/dev/null") == 0))
                        *writes = true;
        }
        free(t.s);
        return r;
}

/* Redirections after ), fi, done or }: they apply to commands already
 * counted, so a write there makes the whole script unapprovable by rules. */
static int after_compound(struct sh *x)
{
        for (;;) {
                bool writes = false;
                skip_blanks(x);
                if (!redir_at(x))
                        return 0;
                int r = parse_redirect(x, &writes);
                if (r < 0)
                        return r;
                if (writes)
                        block_all(x->a, "a redirection writes a file");
        }
}

/* for NAME [in WORDS]: the words may hold substitutions, which run. */
static int parse_for(struct sh *x)
{
        block_all(x->a, "a for or select loop assigns a variable");
        for (;;) {
                skip_blanks(x);
                char c = cur(x);
                if (c == '\0' || c == ';' || c == '\n')
                        return 0;
                if (ends_word(c))
                        return give_up(x->a, "'%c' in a for loop header is not supported", c);
                struct word t;
                int r = read_word(x, &t);
                free(t.s);
                if (r < 0)
                        return r;
        }
}

/* [[ ... ]]: operators inside are words, not separators or redirections. */
static int parse_dbracket(struct sh *x, struct pending *c)
{
        for (;;) {
                struct word t;
                int r;
                skip_blanks(x);
                char ch = cur(x);
                if (ch == '\0' || ch == '\n' || ch == ';')
                        return give_up(x->a, "an unterminated [[");
                if (strchr("&|<>()", ch)) {
                        size_t k = (ch == '&' || ch == '|') && ahead(x, 1) == ch ? 2 : 1;
                        memset(&t, 0, sizeof(t));
                        r = word_put(&t, x->s + x->i, k);
                        x->i += k;
                } else {
                        r = read_word(x, &t);
                }
                if (r < 0) {
                        free(t.s);
                        return r;
                }
                bool end = !t.quoted && !t.flags && strcmp(t.s, "]]") == 0;
                r = pending_push(x->a, c, &t);
                if (r < 0 || end)
                        return r;
        }
}

enum kw { KW_NONE, KW_PREFIX, KW_END, KW_LOOP, KW_DBRACKET, KW_BAD };

static enum kw keyword(const struct word *w)
{
        static const char *const prefix[] = { "if", "then", "else", "elif", "do", "while", "until", "!", "{", NULL };
        static const char *const end[] = { "fi", "done", "}", NULL };
        static const char *const loop[] = { "for", "select", NULL };
        static const char *const bad[] = { "case", "esac", "in", "function", "coproc", "]]", NULL };

        if (w->quoted || w->flags & W_DYN)
                return KW_NONE;
        if (in_list(w->s, prefix))
                return KW_PREFIX;
        if (in_list(w->s, end))
                return KW_END;
        if (in_list(w->s, loop))
                return KW_LOOP;
        if (strcmp(w->s, "[[") == 0)
                return KW_DBRACKET;
        return in_list(w->s, bad) ? KW_BAD : KW_NONE;
}

/* One simple command: [NAME=value...] word... with redirections anywhere. */
static int parse_simple(struct sh *x)
{
        struct pending c = { 0 };
        bool assigns = false, writes = false;
        int r = 0;

        for (;;) {
                skip_blanks(x);
                char ch = cur(x);
                if (ch == '\0' || ch == '\n' || ch == ';' || ch == '|' || ch == ')' ||
                    (ch == '&' && ahead(x, 1) != '>'))
                        break;
                if (redir_at(x)) {
                        if ((r = parse_redirect(x, &writes)) < 0)
                                goto out;
                        continue;
                }
                if (ch == '(') {
                        r = give_up(x->a, "'(' inside a command (a function definition or a pattern) is not supported");
                        goto out;
                }
                struct word w;
                if ((r = read_word(x, &w)) < 0) {
                        free(w.s);
                        goto out;
                }
                if (c.n == 0 && !assigns) {
                        enum kw k = keyword(&w);
                        if (k != KW_NONE && k != KW_DBRACKET)
                                free(w.s);
                        if (k == KW_PREFIX)
                                continue;
                        if (k == KW_END) {
                                r = after_compound(x);
                                goto out;
                        }
                        if (k == KW_LOOP) {
                                r = parse_for(x);
                                goto out;
                        }
                        if (k == KW_BAD) {
                                r = give_up(x->a, "a shell keyword that is not supported (case, function, coproc)");
                                goto out;
                        }
                        if (k == KW_DBRACKET) {
                                if ((r = pending_push(x->a, &c, &w)) < 0 || (r = parse_dbracket(x, &c)) < 0)
                                        goto out;
                                break;
                        }
                }
                if (c.n == 0 && assignment_prefix(w.s, w.plain)) {
                        assigns = true;
                        free(w.s);
                        continue;
                }
                if ((r = pending_push(x->a, &c, &w)) < 0)
                        goto out;
        }
        if (c.n == 0) {
                if (assigns)
                        block_all(x->a, "the script assigns a variable (it could change PATH or LD_PRELOAD for the commands after it)");
                if (writes)
                        block_all(x->a, "a redirection writes a file");
                goto out;
        }
        r = analyze_command(x->a, x->envp, c.w, c.f, c.n,
                            assigns  ? "variables are set for the command (NAME=value command)"
                            : writes ? "a redirection writes a file"
                                     : NULL,
                            true);
out:
        pending_free(&c);
        return r;
}

/* Commands separated by ; & && || | |& and newlines, until TERM (')' for
 * $(...) and subshells, '\0' for the end of the script). */
static int parse_list(struct sh *x, char term)
{
        int r = 0;

        if (++x->a->depth > MAX_DEPTH)
                return give_up(x->a, "nested more than %d levels deep", MAX_DEPTH);
        for (;;) {
                skip_blanks(x);
                char c = cur(x);
                if (c == '\0') {
                        if (term)
                                r = give_up(x->a, "a missing ')'");
                        break;
                }
                if (c == ')') {
                        if (term != ')') {
                                r = give_up(x->a, "an unbalanced ')'");
                                break;
                        }
                        x->i++;
                        break;
                }
                if (c == ';' && (ahead(x, 1) == ';' || ahead(x, 1) == '&')) {
                        r = give_up(x->a, "';;' (case) is not supported");
                        break;
                }
                if (c == '\n' || c == ';' || c == '|' || (c == '&' && ahead(x, 1) != '>')) {
                        char d = ahead(x, 1);
                        x->i += (c == '&' || c == '|') && (d == c || (c == '|' && d == '&')) ? 2 : 1;
                        continue;
                }
                if (c == '(') {
                        if (ahead(x, 1) == '(') {
                                r = give_up(x->a, "'((...))' arithmetic commands are not supported");
                                break;
                        }
                        x->i++;
                        if ((r = parse_list(x, ')')) < 0 || (r = after_compound(x)) < 0)
                                break;
                        continue;
                }
                if ((r = parse_simple(x)) < 0)
                        break;
        }
        x->a->depth--;
        return r;
}

static const char *const shells[] = { "sh", "bash", "dash", "zsh", "ash", "ksh", "ksh93", "mksh",
                                      "posh", "yash", "rbash", NULL };

/* SHELL [options] -c SCRIPT [name [args]]: split SCRIPT. 1 when it was,
 * 0 when this is not a -c invocation (a script file or stdin: an ordinary
 * command), GAVE_UP or -ENOMEM. */
static int shell_command(struct appr_analysis *a, char *const *envp, const char *prog,
                         char *const *w, const unsigned *f, size_t n)
{
        static const char *const long_ok[] = { "--norc", "--noprofile", "--posix", "--noediting",
                                               "--restricted", "--verbose", NULL };
        bool has_c = false, norcs = false, zsh = strcmp(prog, "zsh") == 0;
        size_t i = 1;

        for (; i < n; i++) {
                const char *o = w[i];
                if (f && (f[i] & COMPUTED))
                        return give_up(a, "the options of '%s' are computed when the script runs", prog);
                if (strcmp(o, "--") == 0 || strcmp(o, "-") == 0) {
                        i++;
                        break;
                }
                if (o[0] == '-' && o[1] == '-') {
                        if (in_list(o, long_ok))
                                continue;
                        if (zsh && strcmp(o, "--no-rcs") == 0) {
                                norcs = true;
                                continue;
                        }
                        return give_up(a, "'%s %.40s' is not supported (it may read startup files)", prog, o);
                }
                if ((o[0] != '-' && o[0] != '+') || o[1] == '\0')
                        break;
                bool takes = false;
                for (const char *p = o + 1; *p; p++) {
                        if (*p == 'i' || *p == 'l')
                                return give_up(a, "'%s -%c' reads startup files first", prog, *p);
                        if (!isalpha((unsigned char)*p))
                                return give_up(a, "'%s' option '%.40s' is not understood", prog, o);
                        has_c |= *p == 'c' && o[0] == '-';
                        norcs |= *p == 'f' && o[0] == '-';
                        takes |= *p == 'o' || *p == 'O';
                }
                if (takes) {
                        if (++i >= n || (f && (f[i] & COMPUTED)))
                                return give_up(a, "'%s %s' needs a fixed option name", prog, o);
                        norcs |= o[0] == '+' && strcmp(w[i], "rcs") == 0;
                }
        }
        if (!has_c)
                return 0;
        if (i >= n)
                return give_up(a, "'%s -c' without a command string", prog);
        if (f && (f[i] & COMPUTED))
                return give_up(a, "the script given to '%s -c' is computed when the outer script runs", prog);
        if (zsh && !norcs)
                return give_up(a, "zsh -c reads ~/.zshenv first (use zsh -f -c)");
        if ((strcmp(prog, "bash") == 0 || strcmp(prog, "sh") == 0) && util_env_get(envp, "BASH_ENV"))
                return give_up(a, "BASH_ENV is set, so bash -c would run that file first");
        size_t len = strlen(w[i]);
        if (len > MAX_SCRIPT_BYTES)
                return give_up(a, "a script longer than %u bytes", MAX_SCRIPT_BYTES);
        struct sh sub = { .s = w[i], .n = len, .a = a, .envp = envp };
        int r = parse_list(&sub, '\0');
        return r < 0 ? r : 1;
}

/* W is one command (argv, or a simple command of a script). Every wrapper
 * layer is recorded for the deny rules; the innermost command is the one
 * the allow rules must approve, unless BLOCKER says they may not. */
static int analyze_command(struct appr_analysis *a, char *const *envp, char *const *w,
                           const unsigned *f, size_t n, const char *blocker, bool from_shell)
{
        size_t at = 0;
        int r;

        for (int layer = 0;; layer++) {
                if (f && (f[at] & COMPUTED))
                        return give_up(a, "a command name is computed when the script runs");
                if (layer > MAX_WRAPPERS)
                        return give_up(a, "more than %d wrapper commands", MAX_WRAPPERS);
                if ((r = add_cmd(a, w + at, n - at)) < 0)
                        return r;
                const struct wrapper *wr = wrapper_find(base_name(w[at]), from_shell);
                if (!wr)
                        break;
                size_t inner = 0;
                r = unwrap(a, wr, w + at, f ? f + at : NULL, n - at, &inner, &blocker);
                if (r < 0)
                        return r;
                if (r == UNWRAP_NEUTRAL) {
                        if (blocker)
                                block_all(a, blocker);
                        return 0;
                }
                if (r == UNWRAP_NONE)
                        break;
                at += inner;
        }
        const char *prog = base_name(w[at]);
        if (from_shell) {
                r = builtin_effects(a, prog, w + at, f ? f + at : NULL, n - at);
                if (r < 0)
                        return r;
                if (r == 1) {
                        if (blocker)
                                block_all(a, blocker);
                        return 0;
                }
        }
        if (in_list(prog, shells)) {
                r = shell_command(a, envp, prog, w + at, f ? f + at : NULL, n - at);
                if (r < 0)
                        return r;
                if (r == 1) {
                        if (blocker) /* NAME=value sh -c '...': every command inherits it */
                                block_all(a, blocker);
                        return 0;
                }
        }
        a->cmds[a->n - 1].required = true;
        a->cmds[a->n - 1].blocker = blocker;
        return 0;
}

int appr_analyze(char *const *argv, size_t argc, char *const *envp, struct appr_analysis *a)
{
        memset(a, 0, sizeof(*a));
        if (argc == 0 || !argv || !argv[0]) {
                give_up(a, "an empty command");
                return 0;
        }
        int r = analyze_command(a, envp, argv, NULL, argc, NULL, false);
        return r == -ENOMEM ? r : 0;
}

/* ------------------------------------------------------------ display */

static bool display_plain(unsigned char c)
{
        return isalnum(c) || strchr("_@%+=:,./-", c);
}

static int put_escaped(struct word *b, const char *s)
{
        size_t n = 0;
        _cleanup_(freep) char *clean = util_utf8_sanitize(s, strlen(s), &n);
        bool plain = n > 0;
        int r = 0;

        if (!clean)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                plain &= display_plain((unsigned char)clean[i]);
        if (plain)
                return word_put(b, clean, n);
        r = word_put(b, "'", 1);
        for (size_t i = 0; r == 0 && i < n; i++) {
                unsigned char c = (unsigned char)clean[i];
                char hex[8];
                if (c < 0x20 || c == 0x7f) {
                        snprintf(hex, sizeof(hex), "\\x%02x", c);
                        r = word_put(b, hex, 4);
                } else if (c == 0xc2 && i + 1 < n && (unsigned char)clean[i + 1] >= 0x80 &&
                           (unsigned char)clean[i + 1] <= 0x9f) {
                        /* U+0080..U+009F: C1 controls, which some terminals obey */
                        snprintf(hex, sizeof(hex), "\\u%04x", (unsigned char)clean[i + 1]);
                        r = word_put(b, hex, 6);
                        i++;
                } else if (c == '\'') {
                        r = word_put(b, "'\\''", 4);
                } else {
                        r = word_put(b, clean + i, 1);
                }
        }
        return r ? r : word_put(b, "'", 1);
}

char *appr_display(char *const *argv, size_t argc, size_t max)
{
        struct word b = { 0 };

        for (size_t i = 0; i < argc; i++) {
                if ((i && word_put(&b, " ", 1) < 0) || put_escaped(&b, argv[i]) < 0) {
                        free(b.s);
                        return NULL;
                }
                if (b.len > max)
                        break;
        }
        if (!b.s && word_put(&b, "", 0) < 0)
                return NULL;
        if (b.len > max && max >= 3) {
                size_t cut = max - 3;
                while (cut > 0 && ((unsigned char)b.s[cut] & 0xc0) == 0x80)
                        cut--;
                memcpy(b.s + cut, "...", 4);
        }
        return b.s;
}

/* ------------------------------------------------------------ rules */

int appr_rule_check(const char *rule, const char *label, struct zb_error *err)
{
        size_t n = strlen(rule), plen = strcspn(rule, " \t");

        if (n == 0 || is_blank(rule[0]))
                return err_set(err, EINVAL,
                                    "%s: '%.100s': a rule is PROGRAM [ARGUMENT-PATTERN], starting with the program",
                                    label, rule);
        if (n > ZB_MAX_RULE_BYTES)
                return err_set(err, E2BIG, "%s: a rule is at most %d bytes", label, ZB_MAX_RULE_BYTES);
        for (const char *c = rule; *c; c++)
                if ((unsigned char)*c < 0x20 && *c != '\t')
                        return err_set(err, EINVAL, "%s: a rule is one line of text", label);
        if (memchr(rule, '/', plen) && rule[0] != '/')
                return err_set(err, EINVAL,
                                    "%s: '%.100s': a program given by path must be absolute (a name without '/' matches it in any directory)",
                                    label, rule);
        return 0;
}

/* Where a program may live for an allow rule naming it: the read-only
 * system directories (zones cannot be mounted there). */
static const char *const system_bin_dirs[] = { "/bin", "/sbin", "/usr/bin", "/usr/sbin",
                                               "/usr/local/bin", "/usr/local/sbin", NULL };

static bool path_under(const char *path, const char *dir)
{
        size_t n = strlen(dir);
        return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* A bare command name is found through the sandbox's PATH: trusted only
 * when every entry is absolute and outside the zones the sandbox writes. */
static bool path_env_trusted(const struct zb_policy *p, char *const *envp)
{
        const char *path = util_env_get(envp, "PATH");
        if (!path)
                return true;
        for (const char *s = path;;) {
                size_t len = strcspn(s, ":");
                if (len == 0 || s[0] != '/')
                        return false;
                _cleanup_(freep) char *entry = strndup(s, len);
                _cleanup_(freep) char *norm = entry ? util_path_absolute("/", entry) : NULL;
                if (!norm)
                        return false;
                for (size_t i = 0; i < p->n_zones; i++)
                        if (p->zones[i].mode != ZB_ZONE_RO && p->zones[i].path &&
                            path_under(norm, p->zones[i].path))
                                return false;
                if (!s[len])
                        return true;
                s += len + 1;
        }
}

static bool in_system_bin_dir(const char *norm)
{
        const char *slash = strrchr(norm, '/');
        for (const char *const *d = system_bin_dirs; *d; d++)
                if (strlen(*d) == (size_t)(slash - norm) && strncmp(*d, norm, (size_t)(slash - norm)) == 0)
                        return true;
        return false;
}

static char *join_args(char *const *w, size_t n)
{
        size_t len = 1;
        for (size_t i = 1; i < n; i++)
                len += strlen(w[i]) + 1;
        char *s = malloc(len), *o = s;
        if (!s)
                return NULL;
        for (size_t i = 1; i < n; i++) {
                if (i > 1)
                        *o++ = ' ';
                size_t k = strlen(w[i]);
                memcpy(o, w[i], k);
                o += k;
        }
        *o = '\0';
        return s;
}

/* RULE = PROGRAM [PATTERN]. PROGRAM with a '/' matches argv[0] as a
 * lexically normalized absolute path; without one it matches argv[0]'s last
 * component (for allow rules only where PATH lookup or a system directory
 * finds it). PATTERN is an fnmatch(3) glob over the arguments joined with
 * single spaces ('*' crosses spaces and slashes); no PATTERN: any
 * arguments. 1 match, 0 not, -ENOMEM. */
static int rule_matches(const char *rule, const struct appr_cmd *c, bool for_allow, bool bare_trusted)
{
        size_t plen = strcspn(rule, " \t");
        _cleanup_(freep) char *prog = strndup(rule, plen);
        _cleanup_(freep) char *norm = NULL;
        _cleanup_(freep) char *args = NULL;
        const char *pat = rule + plen;
        const char *argv0 = c->words[0];

        if (!prog)
                return -ENOMEM;
        while (is_blank(*pat))
                pat++;
        if (argv0[0] == '/' && !(norm = util_path_absolute("/", argv0)))
                return -ENOMEM;
        if (strchr(prog, '/')) {
                if (!norm || fnmatch(prog, norm, FNM_PATHNAME) != 0)
                        return 0;
        } else {
                if (for_allow && !(norm ? in_system_bin_dir(norm) : !strchr(argv0, '/') && bare_trusted))
                        return 0;
                if (fnmatch(prog, base_name(argv0), 0) != 0)
                        return 0;
        }
        if (!*pat)
                return 1;
        if (!(args = join_args(c->words, c->n)))
                return -ENOMEM;
        return fnmatch(pat, args, 0) == 0;
}

static void rule_label(char *dst, size_t size, const char *list, size_t i, const char *rule)
{
        snprintf(dst, size, "approval.%s[%zu] \"%.200s\"", list, i, rule);
}

static const char *default_name(enum appr_default d)
{
        return d == ZB_APPROVAL_ALLOW ? "allow" : d == ZB_APPROVAL_DENY ? "deny" : "ask";
}

/* Deny rules, in order, against every layer of every command. 1 when one
 * matched (D filled), 0 none, -ENOMEM. */
static int match_deny(const struct appr_policy *ap, const struct appr_analysis *a, bool bare,
                      struct appr_decision *d)
{
        for (size_t i = 0; i < ap->n_deny; i++)
                for (size_t j = 0; j < a->n; j++) {
                        int m = rule_matches(ap->deny[i], &a->cmds[j], false, bare);
                        if (m < 0)
                                return m;
                        if (!m)
                                continue;
                        _cleanup_(freep) char *shown =
                                appr_display(a->cmds[j].words, a->cmds[j].n, MAX_DISPLAY_BYTES);
                        d->verdict = ZB_VERDICT_DENY;
                        d->by = ZB_BY_RULE;
                        rule_label(d->rule, sizeof(d->rule), "deny", i, ap->deny[i]);
                        snprintf(d->reason, sizeof(d->reason), "it runs %s", shown ? shown : "?");
                        return 1;
                }
        return 0;
}

/* Allow rules: every required command approved by one. 1 when so (D
 * filled), 0 when not (WHY says why), -ENOMEM. */
static int match_allow(const struct appr_policy *ap, const struct appr_analysis *a, bool bare,
                       struct appr_decision *d, char *why, size_t why_size)
{
        size_t n_req = 0, used = 0;
        char label[300];

        if (a->blocker[0]) {
                snprintf(why, why_size, "%s", a->blocker);
                return 0;
        }
        d->rule[0] = '\0';
        for (size_t j = 0; j < a->n; j++) {
                const struct appr_cmd *c = &a->cmds[j];
                if (!c->required)
                        continue;
                n_req++;
                _cleanup_(freep) char *shown = appr_display(c->words, c->n, MAX_DISPLAY_BYTES);
                if (c->blocker) {
                        snprintf(why, why_size, "%s: %s", shown ? shown : "?", c->blocker);
                        return 0;
                }
                size_t i = 0;
                int m = 0;
                for (; i < ap->n_allow; i++)
                        if ((m = rule_matches(ap->allow[i], c, true, bare)) != 0)
                                break;
                if (m < 0)
                        return m;
                if (!m) {
                        snprintf(why, why_size, "no allow rule matches %s", shown ? shown : "?");
                        return 0;
                }
                rule_label(label, sizeof(label), "allow", i, ap->allow[i]);
                if (!strstr(d->rule, label) && used + strlen(label) + 3 < sizeof(d->rule))
                        used += (size_t)snprintf(d->rule + used, sizeof(d->rule) - used, "%s%s",
                                                 used ? ", " : "", label);
        }
        if (n_req == 0) {
                snprintf(why, why_size, "it runs nothing an allow rule could approve");
                return 0;
        }
        d->verdict = ZB_VERDICT_ALLOW;
        d->by = ZB_BY_RULE;
        snprintf(d->reason, sizeof(d->reason), "every command it runs is allowed");
        return 1;
}

int appr_evaluate(const struct zb_policy *p, struct appr_decision *d, struct zb_error *err)
{
        const struct appr_policy *ap = &p->approval;
        enum appr_default def = ap->def == ZB_APPROVAL_UNSET ? ZB_APPROVAL_ASK : ap->def;
        struct appr_analysis a;
        char why[sizeof(d->reason)];
        int r;

        memset(d, 0, sizeof(*d));
        if (!ap->configured) {
                d->verdict = ZB_VERDICT_ALLOW;
                d->by = ZB_BY_OFF;
                snprintf(d->reason, sizeof(d->reason), "no approval policy");
                return 0;
        }
        char **envp = pol_build_env(p);
        if (!envp)
                return err_set(err, ENOMEM, "approval: out of memory");
        r = appr_analyze(p->argv, p->argc, envp, &a);
        bool bare = path_env_trusted(p, envp);
        util_strv_free(envp);
        if (r < 0)
                goto out;
        /* Variables of the caller's (-e, env:, session exec -e) reach every
         * command as NAME=value command would: LD_PRELOAD, BASH_FUNC_x%%,
         * BASH_ENV, PATH, or a name bash evaluates as arithmetic in an
         * approved script ([[ X -eq 0 ]] with X='a[$(id)]'). */
        if (p->n_env)
                set_reason(a.blocker, sizeof(a.blocker),
                           "variables are set for the command (%.*s via -e, env: or session exec -e), as NAME=value command",
                           (int)strcspn(p->env[0], "="), p->env[0]);
        /* Deny wins, also over a line the splitter gave up on halfway. */
        if ((r = match_deny(ap, &a, bare, d)) != 0)
                goto out;
        if (a.unparseable[0]) {
                snprintf(why, sizeof(why), "the command cannot be checked safely: %s", a.unparseable);
                def = def == ZB_APPROVAL_DENY ? def : ZB_APPROVAL_ASK;
        } else if ((r = match_allow(ap, &a, bare, d, why, sizeof(why))) != 0) {
                goto out;
        }
        snprintf(d->reason, sizeof(d->reason), "%s", why);
        snprintf(d->rule, sizeof(d->rule), "approval.default %s", default_name(def));
        d->verdict = def == ZB_APPROVAL_ALLOW  ? ZB_VERDICT_ALLOW
                     : def == ZB_APPROVAL_DENY ? ZB_VERDICT_DENY
                                               : ZB_VERDICT_ASK;
        d->by = ZB_BY_DEFAULT;
out:
        appr_analysis_free(&a);
        return r < 0 ? err_set(err, -r, "approval: out of memory") : 0;
}

/* ------------------------------------------------------------ ask: remembered answers */

/* "always" answers of this process: exact argv, NUL-separated. */
static pthread_mutex_t remembered_lock = PTHREAD_MUTEX_INITIALIZER;
static struct remembered {
        char *key;
        size_t len;
} *remembered;
static size_t n_remembered;

static char *argv_key(char *const *argv, size_t argc, size_t *len)
{
        size_t n = 0;
        for (size_t i = 0; i < argc; i++)
                n += strlen(argv[i]) + 1;
        char *k = malloc(n ? n : 1), *o = k;
        if (!k)
                return NULL;
        for (size_t i = 0; i < argc; i++) {
                size_t l = strlen(argv[i]) + 1;
                memcpy(o, argv[i], l);
                o += l;
        }
        *len = n;
        return k;
}

static bool remembered_find(char *const *argv, size_t argc)
{
        size_t len = 0;
        _cleanup_(freep) char *k = argv_key(argv, argc, &len);
        bool found = false;

        if (!k)
                return false;
        pthread_mutex_lock(&remembered_lock);
        for (size_t i = 0; i < n_remembered && !found; i++)
                found = remembered[i].len == len && memcmp(remembered[i].key, k, len) == 0;
        pthread_mutex_unlock(&remembered_lock);
        return found;
}

static void remembered_add(char *const *argv, size_t argc)
{
        size_t len = 0;
        char *k = argv_key(argv, argc, &len);

        if (!k)
                return; /* then it is asked again: fine */
        pthread_mutex_lock(&remembered_lock);
        struct remembered *r = n_remembered < 4096 ? realloc(remembered, (n_remembered + 1) * sizeof(*r)) : NULL;
        if (r) {
                remembered = r;
                remembered[n_remembered++] = (struct remembered){ k, len };
                k = NULL;
        }
        pthread_mutex_unlock(&remembered_lock);
        free(k);
}

/* ------------------------------------------------------------ ask: the request */

static const char *network_name(enum pol_network n)
{
        return n == ZB_NET_HOST ? "host" : n == ZB_NET_LOOPBACK ? "loopback" : "none";
}

static const char *backend_name(enum pol_backend b)
{
        return pol_backend_name(b);
}

static json_object *jtext(const char *s)
{
        size_t n = 0;
        _cleanup_(freep) char *clean = s ? util_utf8_sanitize(s, strlen(s), &n) : NULL;
        return clean && n < (1u << 30) ? json_object_new_string_len(clean, (int)n) : NULL;
}

char *appr_request_json(const struct zb_policy *p, const struct appr_decision *d)
{
        json_object *o = json_object_new_object(), *cmd = json_object_new_array(),
                    *zones = json_object_new_array(), *user = json_object_new_object();
        _cleanup_(freep) char *line = appr_display(p->argv, p->argc, MAX_SCRIPT_BYTES);
        _cleanup_(freep) char *cwd = getcwd(NULL, 0);
        struct passwd pw = { 0 }, *pwp = NULL;
        char pwbuf[1024];
        char *s = NULL;

        if (!o || !cmd || !zones || !user)
                goto out;
        for (size_t i = 0; i < p->argc; i++)
                json_object_array_add(cmd, jtext(p->argv[i]));
        for (size_t i = 0; i < p->n_zones; i++) {
                const struct pol_zone *z = &p->zones[i];
                json_object *zo = json_object_new_object();
                json_object_object_add(zo, "name", jtext(z->name));
                json_object_object_add(zo, "path", jtext(z->path));
                json_object_object_add(zo, "mode", json_object_new_string(pol_zone_mode_name(z->mode)));
                json_object_object_add(zo, "host_path", jtext(z->host_path));
                if (z->mode == ZB_ZONE_TMPFS)
                        json_object_object_add(zo, "size", json_object_new_uint64(z->size));
                json_object_array_add(zones, zo);
        }
        /* /etc/passwd read directly: NSS does not work in a static binary. */
        FILE *pf = fopen("/etc/passwd", "re");
        while (pf && fgetpwent_r(pf, &pw, pwbuf, sizeof(pwbuf), &pwp) == 0 && pwp->pw_uid != getuid())
                pwp = NULL;
        if (pf)
                fclose(pf);
        json_object_object_add(user, "uid", json_object_new_int64(getuid()));
        json_object_object_add(user, "name", pwp ? jtext(pwp->pw_name) : NULL);
        json_object_object_add(o, "type", json_object_new_string("zonebox.approval_request"));
        json_object_object_add(o, "version", json_object_new_int(1));
        json_object_object_add(o, "command", cmd);
        json_object_object_add(o, "command_line", jtext(line));
        json_object_object_add(o, "reason", jtext(d->ask_reason[0] ? d->ask_reason : d->reason));
        json_object_object_add(o, "zones", zones);
        json_object_object_add(o, "network", json_object_new_string(network_name(p->network)));
        json_object_object_add(o, "workdir", jtext(p->workdir ? p->workdir : "/"));
        json_object_object_add(o, "cwd", jtext(cwd));
        json_object_object_add(o, "user", user);
        json_object_object_add(o, "backend", json_object_new_string(backend_name(p->backend)));
        cmd = zones = user = NULL;
        s = util_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
out:
        json_object_put(cmd);
        json_object_put(zones);
        json_object_put(user);
        json_object_put(o);
        return s;
}

/* The question for a person: what runs, why it is asked, what it sees. */
static char *question_text(const struct zb_policy *p, const struct appr_decision *d)
{
        struct word b = { 0 };
        _cleanup_(freep) char *shown = appr_display(p->argv, p->argc, 4000);
        char line[1400];
        int r;

        snprintf(line, sizeof(line), "zonebox: may this command run?\n  command: %s\n  asked because: %s\n  zones:",
                 shown ? shown : "?", d->ask_reason);
        r = word_put(&b, line, strlen(line));
        if (p->n_zones == 0 && r == 0)
                r = word_put(&b, " none", 5);
        for (size_t i = 0; i < p->n_zones && r == 0; i++) {
                const struct pol_zone *z = &p->zones[i];
                char *hp[] = { z->host_path ? z->host_path : "" };
                char *zp[] = { z->path ? z->path : "" };
                _cleanup_(freep) char *host = appr_display(hp, 1, 300);
                _cleanup_(freep) char *mnt = appr_display(zp, 1, 300);
                if (z->mode == ZB_ZONE_TMPFS)
                        snprintf(line, sizeof(line), "\n    %s  tmpfs (%llu bytes, empty)", mnt ? mnt : "?",
                                 (unsigned long long)z->size);
                else
                        snprintf(line, sizeof(line), "\n    %s  %s  (host %s)", mnt ? mnt : "?",
                                 z->mode == ZB_ZONE_RO   ? "ro, read-only"
                                 : z->mode == ZB_ZONE_RW ? "rw, READ-WRITE"
                                                         : pol_zone_mode_name(z->mode),
                                 host ? host : "?");
                r = word_put(&b, line, strlen(line));
        }
        snprintf(line, sizeof(line), "\n  network: %s\n",
                 p->network == ZB_NET_HOST ? "host (the host's network)"
                 : p->network == ZB_NET_LOOPBACK ? "loopback only" : "none (loopback only)");
        if (r == 0)
                r = word_put(&b, line, strlen(line));
        if (r < 0) {
                free(b.s);
                return NULL;
        }
        return b.s;
}

/* ------------------------------------------------------------ ask: the approver program */

int appr_parse_answer(const char *buf, size_t n, bool *allow, char *reason, size_t reason_size)
{
        if (reason_size)
                reason[0] = '\0';
        while (n && isspace((unsigned char)buf[0]))
                buf++, n--;
        while (n && isspace((unsigned char)buf[n - 1]))
                n--;
        if (n == 5 && strncasecmp(buf, "allow", 5) == 0) {
                *allow = true;
                return 0;
        }
        if (n == 4 && strncasecmp(buf, "deny", 4) == 0) {
                *allow = false;
                return 0;
        }
        if (n == 0 || buf[0] != '{' || n > MAX_ANSWER_BYTES || memchr(buf, '\0', n))
                return -EINVAL;
        json_tokener *tok = json_tokener_new();
        json_object *o = tok ? json_tokener_parse_ex(tok, buf, (int)n) : NULL, *v;
        int r = -EINVAL;
        if (o && json_tokener_get_error(tok) == json_tokener_success &&
            json_tokener_get_parse_end(tok) == n && json_object_is_type(o, json_type_object) &&
            json_object_object_get_ex(o, "decision", &v) && json_object_is_type(v, json_type_string)) {
                const char *dec = json_object_get_string(v);
                if (strcasecmp(dec, "allow") == 0 || strcasecmp(dec, "deny") == 0) {
                        *allow = strcasecmp(dec, "allow") == 0;
                        r = 0;
                        if (reason_size && json_object_object_get_ex(o, "reason", &v) &&
                            json_object_is_type(v, json_type_string))
                                set_reason(reason, reason_size, "%s", json_object_get_string(v));
                }
        }
        json_object_put(o);
        if (tok)
                json_tokener_free(tok);
        return r;
}

static uint64_t now_ms(void)
{
        return util_now_ns() / 1000000u;
}

/* Start ARGV with REQUEST as its stdin (a memfd: nothing blocks and no
 * SIGPIPE if it never reads) and its stdout on a pipe. */
static pid_t spawn_approver(char *const *argv, const char *request, int *out_fd, char *why, size_t why_size)
{
        _cleanup_(closep) int mfd = memfd_create("zonebox-approval-request", MFD_CLOEXEC);
        int pfd[2];
        pid_t pid = -1;
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t at;
        sigset_t none_set, dfl;

        if (mfd < 0 || util_write_all(mfd, request, strlen(request)) < 0 || util_write_all(mfd, "\n", 1) < 0 ||
            lseek(mfd, 0, SEEK_SET) < 0) {
                snprintf(why, why_size, "cannot prepare the request: %s", strerror(errno));
                return -1;
        }
        if (pipe2(pfd, O_CLOEXEC) < 0) {
                snprintf(why, why_size, "pipe: %s", strerror(errno));
                return -1;
        }
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, mfd, STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
        posix_spawnattr_init(&at);
        /* zb_run's caller blocks the termination signals to forward them;
         * the approver gets a clean mask and default dispositions. */
        sigemptyset(&none_set);
        sigemptyset(&dfl);
        sigaddset(&dfl, SIGINT);
        sigaddset(&dfl, SIGTERM);
        sigaddset(&dfl, SIGHUP);
        sigaddset(&dfl, SIGQUIT);
        sigaddset(&dfl, SIGPIPE);
        posix_spawnattr_setsigmask(&at, &none_set);
        posix_spawnattr_setsigdefault(&at, &dfl);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        int e = strchr(argv[0], '/') ? posix_spawn(&pid, argv[0], &fa, &at, argv, environ)
                                     : posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&at);
        close(pfd[1]);
        if (e) {
                close(pfd[0]);
                snprintf(why, why_size, "cannot start %.200s: %s", argv[0], strerror(e));
                return -1;
        }
        *out_fd = pfd[0];
        return pid;
}

/* Its stdout until EOF, and its exit, by DEADLINE. 0 with OUT filled when
 * it exited 0; -1 with WHY otherwise (it is killed on timeout). */
static int collect_approver(pid_t pid, int fd, uint64_t deadline, uint64_t timeout_ms, char *out,
                            size_t out_size, size_t *out_len, char *why, size_t why_size)
{
        size_t len = 0;
        int st = 0, r = -1;
        bool timed_out = false, too_long = false;

        for (;;) {
                uint64_t now = now_ms();
                if (now >= deadline) {
                        timed_out = true;
                        break;
                }
                struct pollfd pf = { .fd = fd, .events = POLLIN };
                int pr = poll(&pf, 1, (int)(deadline - now > 1000 ? 1000 : deadline - now));
                if (pr < 0 && errno != EINTR)
                        break;
                if (pr <= 0)
                        continue;
                ssize_t n = read(fd, out + len, out_size - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t)n;
                if (len >= out_size - 1) {
                        too_long = true;
                        break;
                }
        }
        close(fd);
        while (!timed_out && !too_long) {
                pid_t w = waitpid(pid, &st, WNOHANG);
                if (w == pid) {
                        r = 0;
                        break;
                }
                if (w < 0 && errno != EINTR)
                        break;
                if (now_ms() >= deadline) {
                        timed_out = true;
                        break;
                }
                nanosleep(&(struct timespec){ .tv_nsec = 2000000 }, NULL);
        }
        if (r < 0) {
                kill(pid, SIGKILL);
                while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                        ;
        }
        out[len] = '\0';
        *out_len = len;
        if (timed_out)
                snprintf(why, why_size, "no answer within %llu ms", (unsigned long long)timeout_ms);
        else if (too_long)
                snprintf(why, why_size, "an answer longer than %u bytes", MAX_ANSWER_BYTES);
        else if (r < 0)
                snprintf(why, why_size, "lost track of it");
        else if (WIFSIGNALED(st))
                snprintf(why, why_size, "killed by signal %d", WTERMSIG(st));
        else if (WEXITSTATUS(st) != 0)
                snprintf(why, why_size, "exited with status %d", WEXITSTATUS(st));
        else
                return 0;
        return -1;
}

static void ask_approver(const struct zb_policy *p, struct appr_decision *d)
{
        const struct appr_policy *ap = &p->approval;
        uint64_t timeout = ap->timeout_ms ? ap->timeout_ms : DEFAULT_APPROVER_TIMEOUT_MS;
        _cleanup_(freep) char *req = appr_request_json(p, d);
        char out[MAX_ANSWER_BYTES + 1], why[300] = "", reason[300] = "";
        size_t len = 0;
        int fd = -1;
        bool allow = false;

        d->by = ZB_BY_APPROVER;
        d->verdict = ZB_VERDICT_DENY;
        snprintf(d->rule, sizeof(d->rule), "approval.command %.400s", ap->command[0]);
        if (!req) {
                snprintf(d->reason, sizeof(d->reason), "out of memory");
                return;
        }
        uint64_t deadline = now_ms() + timeout;
        pid_t pid = spawn_approver(ap->command, req, &fd, why, sizeof(why));
        if (pid > 0 && collect_approver(pid, fd, deadline, timeout, out, sizeof(out), &len, why, sizeof(why)) == 0 &&
            appr_parse_answer(out, len, &allow, reason, sizeof(reason)) < 0)
                snprintf(why, sizeof(why), "its answer is neither allow, deny nor {\"decision\": ...}");
        if (why[0]) {
                snprintf(d->reason, sizeof(d->reason), "no valid answer: %s", why);
                return;
        }
        d->verdict = allow ? ZB_VERDICT_ALLOW : ZB_VERDICT_DENY;
        snprintf(d->reason, sizeof(d->reason), "%s%s%s", allow ? "allow" : "deny", reason[0] ? ": " : "",
                 reason);
}

/* ------------------------------------------------------------ ask: a person */

void zb_policy_set_ask(struct zb_policy *p, zb_ask_fn fn, void *data)
{
        p->approval.ask = fn;
        p->approval.ask_data = data;
}

/* Reads one line from the terminal; a pending termination signal (blocked
 * by the caller to forward it) ends the wait as a "no". */
static ssize_t read_answer(int fd, char *buf, size_t size)
{
        sigset_t blocked, want;
        size_t len = 0;

        sigemptyset(&want);
        pthread_sigmask(SIG_BLOCK, NULL, &blocked);
        static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
        for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
                if (sigismember(&blocked, sigs[i]))
                        sigaddset(&want, sigs[i]);
        _cleanup_(closep) int sfd = signalfd(-1, &want, SFD_CLOEXEC | SFD_NONBLOCK);
        for (;;) {
                struct pollfd pf[2] = { { .fd = fd, .events = POLLIN },
                                        { .fd = sfd, .events = POLLIN } };
                if (poll(pf, sfd >= 0 ? 2 : 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                if (sfd >= 0 && (pf[1].revents & POLLIN))
                        return -1; /* left pending: the caller sees it */
                char c;
                ssize_t n = read(fd, &c, 1);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n <= 0 || c == '\n')
                        break;
                if (len + 1 < size)
                        buf[len++] = c;
        }
        buf[len] = '\0';
        return (ssize_t)len;
}

int zb_ask_terminal(const char *question, void *data)
{
        const struct zb_ask_tty *tty = data;
        int in = tty ? tty->in_fd : STDIN_FILENO, out = tty ? tty->out_fd : STDERR_FILENO;
        char prompt[128], ans[64];

        snprintf(prompt, sizeof(prompt), "Run it? [y]es, [N]o, [a]lways (for this %s): ",
                 tty && tty->scope ? tty->scope : "invocation");
        if (!isatty(in) || !isatty(out))
                return ZB_ASK_NO_TERMINAL;
        /* Typed-ahead text is not an answer to a question not yet shown. */
        tcflush(in, TCIFLUSH);
        if (util_write_all(out, question, strlen(question)) < 0 || util_write_all(out, prompt, strlen(prompt)) < 0)
                return ZB_ASK_NO_TERMINAL;
        ssize_t n = read_answer(in, ans, sizeof(ans));
        if (n < 0) {
                util_write_all(out, "\n", 1);
                return ZB_ASK_DENY;
        }
        char *s = ans;
        while (isspace((unsigned char)*s))
                s++;
        for (char *e = s + strlen(s); e > s && isspace((unsigned char)e[-1]);)
                *--e = '\0';
        if (strcasecmp(s, "y") == 0 || strcasecmp(s, "yes") == 0)
                return ZB_ASK_ONCE;
        if (strcasecmp(s, "a") == 0 || strcasecmp(s, "always") == 0)
                return ZB_ASK_ALWAYS;
        return ZB_ASK_DENY;
}

static void ask_person(const struct zb_policy *p, struct appr_decision *d)
{
        _cleanup_(freep) char *q = question_text(p, d);
        int ans = q ? p->approval.ask(q, p->approval.ask_data) : ZB_ASK_NO_TERMINAL;

        d->by = ZB_BY_TERMINAL;
        snprintf(d->rule, sizeof(d->rule), "the terminal");
        switch (ans) {
        case ZB_ASK_ALWAYS:
                remembered_add(p->argv, p->argc);
                d->verdict = ZB_VERDICT_ALLOW;
                snprintf(d->reason, sizeof(d->reason), "answered always");
                return;
        case ZB_ASK_ONCE:
                d->verdict = ZB_VERDICT_ALLOW;
                snprintf(d->reason, sizeof(d->reason), "answered yes");
                return;
        case ZB_ASK_DENY:
                d->verdict = ZB_VERDICT_DENY;
                snprintf(d->reason, sizeof(d->reason), "answered no (asked because %.700s)", d->ask_reason);
                return;
        default:
                d->by = ZB_BY_NO_ASKER;
                d->verdict = ZB_VERDICT_DENY;
                snprintf(d->rule, sizeof(d->rule), "the policy (ask)");
                snprintf(d->reason, sizeof(d->reason),
                         "%.680s, and there is no terminal to ask on and no approval.command", d->ask_reason);
        }
}

const char *appr_decided_by_name(enum appr_decided_by by)
{
        static const char *const names[] = {
                [ZB_BY_OFF] = "off",           [ZB_BY_RULE] = "rule",
                [ZB_BY_DEFAULT] = "default",   [ZB_BY_TERMINAL] = "terminal",
                [ZB_BY_APPROVER] = "approver", [ZB_BY_REMEMBERED] = "remembered",
                [ZB_BY_NO_ASKER] = "no_asker",
        };
        return (unsigned)by < ARRAY_SIZE(names) ? names[by] : "?";
}

int appr_decide(const struct zb_policy *p, struct appr_decision *d, struct zb_error *err)
{
        int r = appr_evaluate(p, d, err);

        if (r < 0 || d->verdict != ZB_VERDICT_ASK)
                return r;
        d->asked = true;
        snprintf(d->ask_reason, sizeof(d->ask_reason), "%s", d->reason);
        if (remembered_find(p->argv, p->argc)) {
                d->verdict = ZB_VERDICT_ALLOW;
                d->by = ZB_BY_REMEMBERED;
                snprintf(d->rule, sizeof(d->rule), "an earlier answer (always)");
                snprintf(d->reason, sizeof(d->reason), "answered always earlier in this process");
        } else if (p->approval.command) {
                ask_approver(p, d);
        } else if (p->approval.ask) {
                ask_person(p, d);
        } else {
                d->verdict = ZB_VERDICT_DENY;
                d->by = ZB_BY_NO_ASKER;
                snprintf(d->rule, sizeof(d->rule), "the policy (ask)");
                snprintf(d->reason, sizeof(d->reason),
                         "%.680s, and there is no terminal to ask on and no approval.command", d->ask_reason);
        }
        return 0;
}

struct zb_result *appr_denied_result(const struct zb_policy *p, const struct appr_decision *d)
{
        struct zb_result *r = res_new(backend_name(p->backend));

        if (!r)
                return NULL;
        r->status = ZB_STATUS_DENIED;
        r->error = util_asprintf("command denied by %s: %s", d->rule, d->reason);
        if (!r->error) {
                zb_result_free(r);
                return NULL;
        }
        return r;
}
