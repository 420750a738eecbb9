/* Command approval's rules (docs/approval.md): argv → every command that
 * will run, then the rules over them. Pure code: nothing here starts a
 * process or touches a file.
 *
 *   1. the commands: wrapper layers (env, nice, timeout, ...) are peeled
 *      off, each recorded for the deny rules; builtins inside a script are
 *      judged for what they do to the rest of it; a POSIX shell started
 *      with -c has its script split (shell_split.c).
 *   2. the rules: deny rules see every layer and win; allow rules must
 *      approve every command that runs; otherwise approval.default. A line
 *      the splitter gave up on is never approved by an allow rule. */
#define _GNU_SOURCE
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>

#include "approval_int.h"

/* ------------------------------------------------------------ wrappers and builtins */

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
                        return appr_give_up(a, "an argument of '%s' is computed when the script runs", wr->name);
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
                                return appr_give_up(a, "'%s' option '%.40s' is not understood", wr->name, o);
                        if (k == 2 && ++i >= n)
                                return appr_give_up(a, "'%s %.40s' needs a value", wr->name, o);
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
                                return appr_give_up(a, "'%s' option '-%c' is not understood", wr->name, *p);
                        if (wr->writes && strchr(wr->writes, *p))
                                *blocker = "an option of the wrapper writes a file";
                        if (!p[1] && ++i >= n)
                                return appr_give_up(a, "'%s -%c' needs a value", wr->name, *p);
                        break; /* the rest of the word (or the next) is the value */
                }
        }
        for (unsigned k = 0; k < wr->operands; k++, i++) {
                if (i >= n)
                        return UNWRAP_NONE;
                if (f && (f[i] & COMPUTED))
                        return appr_give_up(a, "an argument of '%s' is computed when the script runs", wr->name);
        }
        while (wr->assignments && i < n && appr_assignment_prefix(w[i], strlen(w[i]))) {
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
                        return appr_give_up(a, "a '[' inside a test (an array subscript is evaluated)");
                dyn |= f && (f[i] & W_DYN);
                op |= in_list(w[i], ops);
        }
        if (dyn && op)
                return appr_give_up(a, "an expansion in a test with -eq, -lt, -v ... (its value is evaluated)");
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
                return appr_give_up(a, "'%s' runs text as commands", prog);
        if (in_list(prog, sets_vars)) {
                appr_block_all(a, "a builtin changes variables or how commands are found");
                return 0;
        }
        if (strcmp(prog, "printf") == 0) {
                for (size_t i = 1; i < n && w[i][0] == '-' && strcmp(w[i], "--") != 0; i++)
                        if (strncmp(w[i], "-v", 2) == 0)
                                appr_block_all(a, "printf -v assigns a variable");
                return 0;
        }
        if (strcmp(prog, "set") == 0) {
                if (!set_is_harmless(w, n))
                        appr_block_all(a, "set -a or -k puts assignments into the environment");
                return 1;
        }
        return 0;
}

/* ------------------------------------------------------------ the commands of a line */

/* POSIX shells: with -c their script is split (shell_split.c). */
static const char *const shells[] = { "sh", "bash", "dash", "zsh", "ash", "ksh", "ksh93", "mksh",
                                      "posh", "yash", "rbash", NULL };

/* W is one command (argv, or a simple command of a script). Every wrapper
 * layer is recorded for the deny rules; the innermost command is the one
 * the allow rules must approve, unless BLOCKER says they may not. */
int appr_analyze_command(struct appr_analysis *a, char *const *envp, char *const *w,
                         const unsigned *f, size_t n, const char *blocker, bool from_shell)
{
        size_t at = 0;
        int r;

        for (int layer = 0;; layer++) {
                if (f && (f[at] & COMPUTED))
                        return appr_give_up(a, "a command name is computed when the script runs");
                if (layer > MAX_WRAPPERS)
                        return appr_give_up(a, "more than %d wrapper commands", MAX_WRAPPERS);
                if ((r = appr_add_cmd(a, w + at, n - at)) < 0)
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
                                appr_block_all(a, blocker);
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
                                appr_block_all(a, blocker);
                        return 0;
                }
        }
        if (in_list(prog, shells)) {
                r = appr_shell_command(a, envp, prog, w + at, f ? f + at : NULL, n - at);
                if (r < 0)
                        return r;
                if (r == 1) {
                        if (blocker) /* NAME=value sh -c '...': every command inherits it */
                                appr_block_all(a, blocker);
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
                appr_give_up(a, "an empty command");
                return 0;
        }
        int r = appr_analyze_command(a, envp, argv, NULL, argc, NULL, false);
        return r == -ENOMEM ? r : 0;
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
                appr_set_reason(a.blocker, sizeof(a.blocker),
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
