/* The shell splitter: the script of `sh -c SCRIPT` → its simple commands,
 * each handed to appr_analyze_command (approval_rules.c) as if it were an
 * argv. Pure code: no syscalls, no environment but the ENVP it is given.
 *
 * It reads a small, safe subset of the shell language (words, quotes,
 * $VAR and ${VAR}, $(...) and `...`, redirections, ; & && || |, ( ),
 * if/while/for/{ }). Anything outside it (eval, here-documents, case, a
 * computed command name, ...) gives up: the line is "unreadable" and no
 * allow rule can approve it. Every input is bounded (MAX_SCRIPT_BYTES,
 * MAX_DEPTH, MAX_CMDS, 4096 words per command); tests/fuzz/fuzz_shell.c
 * feeds it arbitrary scripts. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>

#include "approval_int.h"

/* ------------------------------------------------------------ the shell splitter */

/* The script being read: S[0..N), the next byte at I. Commands found go to A. */
struct script {
        const char *s;
        size_t i, n;
        struct appr_analysis *a;
        char *const *envp;
};

/* The words of one simple command, with their flags. */
struct cmd_words {
        char **w;
        unsigned *f;
        size_t n, cap;
};

static int parse_list(struct script *x, char term);

static char cur(const struct script *x)
{
        if (x->i >= x->n)
                return '\0';
        return x->s[x->i];
}

static char ahead(const struct script *x, size_t k)
{
        if (x->i + k >= x->n)
                return '\0';
        return x->s[x->i + k];
}

static bool ends_word(char c)
{
        return c == '\0' || is_blank(c) || strchr("\n;&|()<>", c);
}

int appr_word_put(struct word *w, const char *d, size_t n)
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
static void skip_blanks(struct script *x)
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
static int put_expansion(struct script *x, struct word *w, size_t start)
{
        word_unplain(w);
        w->flags |= W_DYN;
        return appr_word_put(w, x->s + start, x->i - start);
}

static int read_backtick(struct script *x, struct word *w)
{
        size_t start = x->i, e = x->i + 1;

        for (; e < x->n && x->s[e] != '`'; e++)
                if (x->s[e] == '\\')
                        return appr_give_up(x->a, "a backslash inside `...` (use $(...))");
        if (e >= x->n)
                return appr_give_up(x->a, "an unterminated `...`");
        struct script sub = { .s = x->s + start + 1, .n = e - start - 1, .a = x->a, .envp = x->envp };
        int r = parse_list(&sub, '\0');
        if (r < 0)
                return r;
        x->i = e + 1;
        return put_expansion(x, w, start);
}

/* $((...)): literals and variable names only; an assignment blocks. */
static int read_arith(struct script *x, struct word *w)
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
                return appr_give_up(x->a, "an unterminated $((...))");
        for (size_t k = start + 3; k < e; k++) {
                char c = x->s[k];
                /* bash evaluates an expanded value as arithmetic again, array
                 * subscripts and their $(...) included: $(( $1 )) runs code. */
                if (c == '`' || c == '$')
                        return appr_give_up(x->a, "an expansion inside $((...))");
                if (c == '=' && !strchr("=!<>", x->s[k - 1]) && x->s[k + 1] != '=')
                        appr_block_all(x->a, "$((...)) assigns a variable");
        }
        x->i = e + 1;
        return put_expansion(x, w, start);
}

/* ${name}, ${#name}, ${name:-word} with a plain word; ${name=word} assigns. */
static int read_braced(struct script *x, struct word *w)
{
        size_t start = x->i, e = x->i + 2;

        while (e < x->n && x->s[e] != '}')
                e++;
        if (e >= x->n || e == start + 2)
                return appr_give_up(x->a, "an unterminated or empty ${...}");
        for (size_t k = start + 2; k < e; k++) {
                char c = x->s[k];
                /* ! (indirection) and @ operators (${x@P} is prompt expansion)
                 * evaluate the value; ~ and ^ are zsh's glob and rc expansion. */
                bool at_ok = c == '@' && (k == start + 2 || (k == start + 3 && x->s[start + 2] == '#'));
                if (strchr("$`()'\";|&<> \t\n{\\!~^", c) || (c == '@' && !at_ok))
                        return appr_give_up(x->a, "a ${...} with quotes, blanks, nested expansions or evaluating operators");
                if (x->s[k] == '=')
                        appr_block_all(x->a, "${name=word} assigns a variable");
        }
        x->i = e + 1;
        return put_expansion(x, w, start);
}

static int read_dquote(struct script *x, struct word *w);

static int read_dollar(struct script *x, struct word *w, bool in_dquote)
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
                return appr_give_up(x->a, "$[...] arithmetic is not supported");
        if (n && strchr("~=^+", n))
                return appr_give_up(x->a, "zsh's $%c expansions are not supported", n);
        if (n == '\'' && !in_dquote) { /* $'...': ANSI-C quoting */
                size_t e = x->i + 2;
                while (e < x->n && x->s[e] != '\'')
                        e += x->s[e] == '\\' ? 2 : 1;
                if (e >= x->n)
                        return appr_give_up(x->a, "an unterminated $'...'");
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
        return appr_word_put(w, "$", 1);
}

static int read_squote(struct script *x, struct word *w)
{
        size_t e = x->i + 1;

        while (e < x->n && x->s[e] != '\'')
                e++;
        if (e >= x->n)
                return appr_give_up(x->a, "an unterminated ' quote");
        word_unplain(w);
        w->quoted = true;
        int r = appr_word_put(w, x->s + x->i + 1, e - x->i - 1);
        x->i = e + 1;
        return r;
}

static int read_dquote(struct script *x, struct word *w)
{
        word_unplain(w);
        w->quoted = true;
        x->i++;
        for (;;) {
                char c = cur(x);
                int r;
                if (x->i >= x->n)
                        return appr_give_up(x->a, "an unterminated \" quote");
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
                                r = appr_word_put(w, &e, 1);
                                x->i += 2;
                        } else {
                                r = appr_word_put(w, "\\", 1);
                                x->i++;
                        }
                } else if (c == '$') {
                        r = read_dollar(x, w, true);
                } else if (c == '`') {
                        r = read_backtick(x, w);
                } else {
                        r = appr_word_put(w, &c, 1);
                        x->i++;
                }
                if (r < 0)
                        return r;
        }
}

/* One word: quotes removed, expansions kept as written, flags noted. */
static int read_word(struct script *x, struct word *w)
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
                                return appr_give_up(x->a, "a trailing backslash");
                        word_unplain(w);
                        w->quoted = true;
                        r = appr_word_put(w, x->s + x->i + 1, 1);
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
                        r = appr_word_put(w, &c, 1);
                        x->i++;
                }
                if (r < 0)
                        return r;
        }
        if (w->plain_open)
                w->plain = w->len;
        return w->s ? 0 : appr_word_put(w, "", 0);
}

static int cmd_words_push(struct appr_analysis *a, struct cmd_words *c, struct word *w)
{
        if (c->n >= 4096) {
                free(w->s);
                return appr_give_up(a, "more than 4096 words in one command");
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

static void cmd_words_free(struct cmd_words *c)
{
        for (size_t i = 0; i < c->n; i++)
                free(c->w[i]);
        free(c->w);
        free(c->f);
}

static bool redir_at(const struct script *x)
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
static int parse_redirect(struct script *x, bool *writes)
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
                                return appr_give_up(x->a, "here-documents (<<) are not supported");
                        x->i += 2; /* <<< here-string */
                        kind = R_READ;
                } else if (cur(x) == '(') {
                        return appr_give_up(x->a, "process substitution <(...) is not supported");
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
                        return appr_give_up(x->a, "process substitution >(...) is not supported");
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
                return appr_give_up(x->a, "a redirection without a target");
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
static int after_compound(struct script *x)
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
                        appr_block_all(x->a, "a redirection writes a file");
        }
}

/* for NAME [in WORDS]: the words may hold substitutions, which run. */
static int parse_for(struct script *x)
{
        appr_block_all(x->a, "a for or select loop assigns a variable");
        for (;;) {
                skip_blanks(x);
                char c = cur(x);
                if (c == '\0' || c == ';' || c == '\n')
                        return 0;
                if (ends_word(c))
                        return appr_give_up(x->a, "'%c' in a for loop header is not supported", c);
                struct word t;
                int r = read_word(x, &t);
                free(t.s);
                if (r < 0)
                        return r;
        }
}

/* [[ ... ]]: operators inside are words, not separators or redirections. */
static int parse_dbracket(struct script *x, struct cmd_words *c)
{
        for (;;) {
                struct word t;
                int r;
                skip_blanks(x);
                char ch = cur(x);
                if (ch == '\0' || ch == '\n' || ch == ';')
                        return appr_give_up(x->a, "an unterminated [[");
                if (strchr("&|<>()", ch)) {
                        size_t k = (ch == '&' || ch == '|') && ahead(x, 1) == ch ? 2 : 1;
                        memset(&t, 0, sizeof(t));
                        r = appr_word_put(&t, x->s + x->i, k);
                        x->i += k;
                } else {
                        r = read_word(x, &t);
                }
                if (r < 0) {
                        free(t.s);
                        return r;
                }
                bool end = !t.quoted && !t.flags && strcmp(t.s, "]]") == 0;
                r = cmd_words_push(x->a, c, &t);
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

/* After fi, done, }, for/select, or a keyword not read (case, function). */
static int after_keyword(struct script *x, enum kw k)
{
        if (k == KW_END)
                return after_compound(x);
        if (k == KW_LOOP)
                return parse_for(x);
        return appr_give_up(x->a, "a shell keyword that is not supported (case, function, coproc)");
}

/* One simple command: [NAME=value...] word... with redirections anywhere. */
static int parse_simple(struct script *x)
{
        struct cmd_words c = { 0 };
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
                        r = appr_give_up(x->a, "'(' inside a command (a function definition or a pattern) is not supported");
                        goto out;
                }
                struct word w;
                if ((r = read_word(x, &w)) < 0) {
                        free(w.s);
                        goto out;
                }
                if (c.n == 0 && !assigns) {
                        enum kw k = keyword(&w);
                        if (k == KW_DBRACKET) {
                                if ((r = cmd_words_push(x->a, &c, &w)) < 0 || (r = parse_dbracket(x, &c)) < 0)
                                        goto out;
                                break;
                        }
                        if (k != KW_NONE) {
                                free(w.s);
                                if (k == KW_PREFIX)
                                        continue;
                                r = after_keyword(x, k);
                                goto out;
                        }
                }
                if (c.n == 0 && appr_assignment_prefix(w.s, w.plain)) {
                        assigns = true;
                        free(w.s);
                        continue;
                }
                if ((r = cmd_words_push(x->a, &c, &w)) < 0)
                        goto out;
        }
        if (c.n == 0) {
                if (assigns)
                        appr_block_all(x->a, "the script assigns a variable (it could change PATH or LD_PRELOAD for the commands after it)");
                if (writes)
                        appr_block_all(x->a, "a redirection writes a file");
                goto out;
        }
        r = appr_analyze_command(x->a, x->envp, c.w, c.f, c.n,
                                 assigns  ? "variables are set for the command (NAME=value command)"
                                 : writes ? "a redirection writes a file"
                                          : NULL,
                                 true);
out:
        cmd_words_free(&c);
        return r;
}

/* Commands separated by ; & && || | |& and newlines, until TERM (')' for
 * $(...) and subshells, '\0' for the end of the script). */
static int parse_list(struct script *x, char term)
{
        int r = 0;

        if (++x->a->depth > MAX_DEPTH)
                return appr_give_up(x->a, "nested more than %d levels deep", MAX_DEPTH);
        for (;;) {
                skip_blanks(x);
                char c = cur(x);
                if (c == '\0') {
                        if (term)
                                r = appr_give_up(x->a, "a missing ')'");
                        break;
                }
                if (c == ')') {
                        if (term != ')') {
                                r = appr_give_up(x->a, "an unbalanced ')'");
                                break;
                        }
                        x->i++;
                        break;
                }
                if (c == ';' && (ahead(x, 1) == ';' || ahead(x, 1) == '&')) {
                        r = appr_give_up(x->a, "';;' (case) is not supported");
                        break;
                }
                if (c == '\n' || c == ';' || c == '|' || (c == '&' && ahead(x, 1) != '>')) {
                        char d = ahead(x, 1);
                        x->i += (c == '&' || c == '|') && (d == c || (c == '|' && d == '&')) ? 2 : 1;
                        continue;
                }
                if (c == '(') {
                        if (ahead(x, 1) == '(') {
                                r = appr_give_up(x->a, "'((...))' arithmetic commands are not supported");
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

/* SHELL [options] -c SCRIPT [name [args]]: split SCRIPT. 1 when it was,
 * 0 when this is not a -c invocation (a script file or stdin: an ordinary
 * command), GAVE_UP or -ENOMEM. */
int appr_shell_command(struct appr_analysis *a, char *const *envp, const char *prog,
                       char *const *w, const unsigned *f, size_t n)
{
        static const char *const long_ok[] = { "--norc", "--noprofile", "--posix", "--noediting",
                                               "--restricted", "--verbose", NULL };
        bool has_c = false, norcs = false, zsh = strcmp(prog, "zsh") == 0;
        size_t i = 1;

        for (; i < n; i++) {
                const char *o = w[i];
                if (f && (f[i] & COMPUTED))
                        return appr_give_up(a, "the options of '%s' are computed when the script runs", prog);
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
                        return appr_give_up(a, "'%s %.40s' is not supported (it may read startup files)", prog, o);
                }
                if ((o[0] != '-' && o[0] != '+') || o[1] == '\0')
                        break;
                bool takes = false;
                for (const char *p = o + 1; *p; p++) {
                        if (*p == 'i' || *p == 'l')
                                return appr_give_up(a, "'%s -%c' reads startup files first", prog, *p);
                        if (!isalpha((unsigned char)*p))
                                return appr_give_up(a, "'%s' option '%.40s' is not understood", prog, o);
                        has_c |= *p == 'c' && o[0] == '-';
                        norcs |= *p == 'f' && o[0] == '-';
                        takes |= *p == 'o' || *p == 'O';
                }
                if (takes) {
                        if (++i >= n || (f && (f[i] & COMPUTED)))
                                return appr_give_up(a, "'%s %s' needs a fixed option name", prog, o);
                        norcs |= o[0] == '+' && strcmp(w[i], "rcs") == 0;
                }
        }
        if (!has_c)
                return 0;
        if (i >= n)
                return appr_give_up(a, "'%s -c' without a command string", prog);
        if (f && (f[i] & COMPUTED))
                return appr_give_up(a, "the script given to '%s -c' is computed when the outer script runs", prog);
        if (zsh && !norcs)
                return appr_give_up(a, "zsh -c reads ~/.zshenv first (use zsh -f -c)");
        if ((strcmp(prog, "bash") == 0 || strcmp(prog, "sh") == 0) && util_env_get(envp, "BASH_ENV"))
                return appr_give_up(a, "BASH_ENV is set, so bash -c would run that file first");
        size_t len = strlen(w[i]);
        if (len > MAX_SCRIPT_BYTES)
                return appr_give_up(a, "a script longer than %u bytes", MAX_SCRIPT_BYTES);
        struct script sub = { .s = w[i], .n = len, .a = a, .envp = envp };
        int r = parse_list(&sub, '\0');
        return r < 0 ? r : 1;
}
