/* Command approval (src/core/approval.c) and the audit log (src/core/audit.c):
 * the shell splitter on tricky scripts, rule matching, the ask flow with a
 * fake person and a real approver program, the config and flags, where the
 * log may be and what a line holds. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <sys/stat.h>

#include "core/approval.h"
#include "core/audit.h"
#include "core/keys.h"
#include "test.h"

/* ------------------------------------------------------------ helpers */

/* The required commands of an analysis as "words words ; words": a "!" in
 * front when no allow rule may approve it; then " [unparseable]" or
 * " [blocked]" for the line as a whole. */
static char *summary(const struct appr_analysis *a)
{
        char *s = strdup(""), *t;
        for (size_t i = 0; s && i < a->n; i++) {
                const struct appr_cmd *c = &a->cmds[i];
                if (!c->required)
                        continue;
                t = util_asprintf("%s%s%s", s, *s ? " ; " : "", c->blocker ? "!" : "");
                free(s);
                s = t;
                for (size_t k = 0; s && k < c->n; k++) {
                        t = util_asprintf("%s%s%s", s, k ? " " : "", c->words[k]);
                        free(s);
                        s = t;
                }
        }
        if (s && a->unparseable[0]) {
                t = util_asprintf("%s [unparseable]", s);
                free(s);
                s = t;
        } else if (s && a->blocker[0]) {
                t = util_asprintf("%s [blocked]", s);
                free(s);
                s = t;
        }
        return s;
}

static char *split_argv(char *const *argv, size_t argc, char **why)
{
        static char *const envp[] = { "PATH=/usr/bin:/bin", NULL };
        struct appr_analysis a;
        if (appr_analyze(argv, argc, envp, &a) < 0)
                return NULL;
        char *s = summary(&a);
        if (why)
                *why = strdup(a.unparseable[0] ? a.unparseable : a.blocker);
        appr_analysis_free(&a);
        return s;
}

static char *split_script(const char *script, char **why)
{
        char *argv[] = { "sh", "-c", (char *)script, NULL };
        return split_argv(argv, 3, why);
}

/* ------------------------------------------------------------ the splitter */

TEST(approval_shell_split_table)
{
        static const struct {
                const char *script, *want;
        } t[] = {
                /* separators and quoting */
                { "ls -l", "ls -l" },
                { "echo a; echo b", "echo a ; echo b" },
                { "a && b || c | d |& e & f", "a ; b ; c ; d ; e ; f" },
                { "ls\nrm x", "ls ; rm x" },
                { "echo 'a;b' \"c && d\"", "echo a;b c && d" },
                { "echo a\\;b", "echo a;b" },
                { "r\"m\" -rf x", "rm -rf x" },
                { "'/bin/rm' x", "/bin/rm x" },
                { "echo hi # ; rm x", "echo hi" },
                { "echo a\\\nb", "echo ab" },
                { "echo '$(rm x)'", "echo $(rm x)" },
                /* substitutions run: their commands count */
                { "echo $(rm -rf /)", "rm -rf / ; echo $(rm -rf /)" },
                { "echo `whoami`", "whoami ; echo `whoami`" },
                { "echo \"$(id -u) $HOME\"", "id -u ; echo $(id -u) $HOME" },
                { "echo $(echo $(rm x))", "rm x ; echo $(rm x) ; echo $(echo $(rm x))" },
                { "cat <<< \"$(rm y)\"", "rm y ; cat" },
                { "echo ${HOME} $((1+2)) $'\\x41'", "echo ${HOME} $((1+2)) $'\\x41'" },
                /* variables: never approved by rules */
                { "FOO=1 make", "!make" },
                { "A=1; ls", "ls [blocked]" },
                { "x=$(rm -rf /)", "rm -rf / [blocked]" },
                { "export PATH=/output:$PATH; ls", "export PATH=/output:$PATH ; ls [blocked]" },
                { "printf -v PATH /x; ls", "printf -v PATH /x ; ls [blocked]" },
                { "echo ${X:=y}", "echo ${X:=y} [blocked]" },
                { "echo $((x=2))", "echo $((x=2)) [blocked]" },
                { "for f in *.py; do python3 $f; done", "python3 $f [blocked]" },
                { "set -euo pipefail; ls", "ls" },
                { "set -a; ls", "ls [blocked]" },
                /* redirections */
                { "ls > /output/x", "!ls" },
                { "ls 2>&1 >/dev/null", "ls" },
                { "ls 2>/dev/null | grep x", "ls ; grep x" },
                { "echo hi >&2", "echo hi" },
                { "echo hi &> /dev/null", "echo hi" },
                { "echo hi &>out", "!echo hi" },
                { "cat < in", "cat" },
                { "> /output/f", " [blocked]" },
                { "(echo hi) > f", "echo hi [blocked]" },
                /* compound commands */
                { "if true; then echo y; else rm z; fi", "true ; echo y ; rm z" },
                { "while false; do ls; done", "false ; ls" },
                { "( cd /x && make )", "cd /x ; make" },
                { "{ ls; }", "ls" },
                { "! grep -q x f", "grep -q x f" },
                { "[ -f x ] && ls", "[ -f x ] ; ls" },
                { "[[ -f x && -d y ]] && ls", "[[ -f x && -d y ]] ; ls" },
                /* wrappers are peeled off */
                { "timeout 5 nice -n 10 make test", "make test" },
                { "env -i PATH=/x ls", "!ls" },
                { "nice -10 rm x", "rm x" },
                { "time -p make", "make" },
                { "time -o /output/t make", "!make" },
                { "exec rm x", "rm x" },
                { "command -v git && git status", "git status" },
                { "busybox rm x", "rm x" },
                { "nohup stdbuf -oL setsid -w ls", "ls" },
                /* nested shells are split too */
                { "bash -c 'rm x'", "rm x" },
                { "sh -c \"echo 'hi'; rm y\"", "echo hi ; rm y" },
                { "sh -c 'sh -c \"sh -c ls\"'", "ls" },
                { "bash -e -o pipefail -c 'ls; make'", "ls ; make" },
                { "zsh -f -c 'ls'", "ls" },
                { "bash script.sh", "bash script.sh" },
                /* what the splitter does not read */
                { "eval rm x", " [unparseable]" },
                { "source ./x", " [unparseable]" },
                { ". ./x", " [unparseable]" },
                { "trap 'rm x' EXIT", " [unparseable]" },
                { "$CMD x", " [unparseable]" },
                { "\"$@\"", " [unparseable]" },
                { "/bin/r? x", " [unparseable]" },
                { "{r,}m x", " [unparseable]" },
                { "~/bin/tool", " [unparseable]" },
                { "cat <<EOF\nx\nEOF", " [unparseable]" },
                { "diff <(ls) <(ls)", " [unparseable]" },
                { "f() { rm -rf /; }; f", " [unparseable]" },
                { "case x in a) ls;; esac", " [unparseable]" },
                { "(( i++ ))", " [unparseable]" },
                { "echo 'unterminated", " [unparseable]" },
                { "echo $(ls", "ls [unparseable]" },
                { "echo `ls \\` x`", " [unparseable]" },
                { "echo ${x:-$(rm y)}", " [unparseable]" },
                { "ls; env -S 'rm x'", "ls [unparseable]" },
                { "timeout $T rm x", " [unparseable]" },
                { "sh -c \"$X\"", " [unparseable]" },
                { "bash -lc 'ls'", " [unparseable]" },
                { "bash --rcfile x -c ls", " [unparseable]" },
                { "zsh -c 'ls'", " [unparseable]" },
                { "rm a; eval b", "rm a [unparseable]" },
                /* bash evaluates these values as code: data from $1 could run */
                { "echo $(( $1 ))", " [unparseable]" },
                { "echo $[ $1 ]", " [unparseable]" },
                { "echo ${1@P}", " [unparseable]" },
                { "echo ${!1}", " [unparseable]" },
                { "[[ $1 -eq 0 ]] && ls", " [unparseable]" },
                { "test -v \"$1\"", " [unparseable]" },
                { "[[ 'a[$(rm x)]' -eq 0 ]]", " [unparseable]" },
                { "compgen -C 'rm x' y", " [unparseable]" },
                { "echo $~x", " [unparseable]" },
                { "[ \"$1\" -eq 0 ] && [[ -n $1 ]]", "[ $1 -eq 0 ] ; [[ -n $1 ]]" },
                { "[ -v \"$1\" ]", " [unparseable]" },
                { "echo ${#@} ${@:2} $((n + 1))", "echo ${#@} ${@:2} $((n + 1))" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                char *why = NULL;
                char *got = split_script(t[i].script, &why);
                bool ok = got && strcmp(got, t[i].want) == 0;
                if (!ok)
                        fprintf(stderr, "  case %zu sh -c %s\n    got  '%s' (%s)\n    want '%s'\n", i,
                                t[i].script, got ? got : "(null)", why ? why : "", t[i].want);
                CHECK(ok);
                free(got);
                free(why);
        }
}

TEST(approval_argv_split_table)
{
        static const struct {
                const char *argv[8];
                const char *want;
        } t[] = {
                { { "ls", "-l", NULL }, "ls -l" },
                { { "env", "A=1", "ls", NULL }, "!ls" },
                { { "env", NULL }, "env" },
                { { "timeout", "5", "rm", "x", NULL }, "rm x" },
                { { "timeout", "--signal=KILL", "5s", "/bin/rm", "x", NULL }, "/bin/rm x" },
                { { "sh", "script.sh", NULL }, "sh script.sh" },
                { { "bash", "-c", NULL }, " [unparseable]" },
                { { "bash", "-e", "-c", "ls", "name", "arg", NULL }, "ls" },
                { { "/bin/sh", "-c", "echo $1", "x", "rm", NULL }, "echo $1" },
                { { "/bin/sh", "-c", "\"$1\" -rf /", "x", "rm", NULL }, " [unparseable]" },
                /* a literal argv is never expanded: $X is an argument */
                { { "echo", "$(rm x)", NULL }, "echo $(rm x)" },
                /* exec/command are builtins: a program of that name is itself */
                { { "exec", "rm", NULL }, "exec rm" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                size_t n = 0;
                while (t[i].argv[n])
                        n++;
                char *got = split_argv((char *const *)t[i].argv, n, NULL);
                bool ok = got && strcmp(got, t[i].want) == 0;
                if (!ok)
                        fprintf(stderr, "  case %zu: got '%s' want '%s'\n", i, got ? got : "(null)",
                                t[i].want);
                CHECK(ok);
                free(got);
        }
}

/* Deeply nested substitutions stop the splitter instead of the stack. */
TEST(approval_shell_split_depth_and_size)
{
        char script[600] = "";
        for (int i = 0; i < 40; i++)
                strcat(script, "$(");
        strcat(script, "ls");
        for (int i = 0; i < 40; i++)
                strcat(script, ")");
        char *got = split_script(script, NULL);
        CHECK(got && strstr(got, "[unparseable]"));
        free(got);

        char *big = malloc(200000);
        memset(big, 'a', 199999);
        big[199999] = '\0';
        got = split_script(big, NULL);
        CHECK(got && strstr(got, "[unparseable]"));
        free(got);
        free(big);
}

/* ------------------------------------------------------------ rules */

struct rule_case {
        const char *rules[6]; /* "+RULE" allow, "-RULE" deny, "=DEFAULT" */
        const char *argv[6];
        enum res_verdict want;
        const char *rule; /* substring of d.rule, or NULL */
};

static void run_rule_cases(const struct rule_case *t, size_t n, const char *const *extra_flags)
{
        for (size_t i = 0; i < n; i++) {
                struct zb_policy *p = zb_policy_new();
                struct zb_error err = { 0 };
                struct appr_decision d = { 0 };
                int rc = 0;
                for (size_t k = 0; rc == 0 && extra_flags && extra_flags[k]; k += 2)
                        rc = zb_policy_apply_flag(p, extra_flags[k], extra_flags[k + 1], &err);
                for (size_t k = 0; rc == 0 && k < 6 && t[i].rules[k]; k++) {
                        const char *r = t[i].rules[k];
                        const char *flag = r[0] == '+' ? "--allow-cmd" : r[0] == '-' ? "--deny-cmd" : "--approve-default";
                        rc = zb_policy_apply_flag(p, flag, r + 1, &err);
                }
                size_t argc = 0;
                while (argc < 6 && t[i].argv[argc])
                        argc++;
                if (rc == 0)
                        rc = zb_policy_set_command(p, (int)argc, (char *const *)t[i].argv, &err);
                if (rc == 0)
                        rc = appr_evaluate(p, &d, &err);
                bool ok = rc == 0 && d.verdict == t[i].want && (!t[i].rule || strstr(d.rule, t[i].rule));
                if (!ok)
                        fprintf(stderr, "  case %zu (%s ...): rc %d verdict %d rule '%s' reason '%s' (%s); want %d '%s'\n",
                                i, t[i].argv[0], rc, rc == 0 ? (int)d.verdict : -1, rc == 0 ? d.rule : "",
                                rc == 0 ? d.reason : "", err.message, t[i].want, t[i].rule ? t[i].rule : "");
                CHECK(ok);
                zb_policy_free(p);
        }
}

TEST(approval_rules_table)
{
        static const struct rule_case t[] = {
                /* names match any directory for deny ... */
                { { "-rm" }, { "rm", "-rf", "/", NULL }, ZB_VERDICT_DENY, "approval.deny[0] \"rm\"" },
                { { "-rm" }, { "/bin/rm", "x", NULL }, ZB_VERDICT_DENY, "deny[0]" },
                { { "-rm" }, { "./rm", NULL }, ZB_VERDICT_DENY, "deny[0]" },
                /* ... a path only that path (normalized) */
                { { "-/bin/rm" }, { "rm", "x", NULL }, ZB_VERDICT_ASK, "default ask" },
                { { "-/bin/rm" }, { "/bin/rm", "x", NULL }, ZB_VERDICT_DENY, "deny[0]" },
                { { "-/bin/rm" }, { "/bin/../bin//rm", "x", NULL }, ZB_VERDICT_DENY, "deny[0]" },
                { { "-/bin/rm" }, { "/usr/bin/rm", "x", NULL }, ZB_VERDICT_ASK, NULL },
                /* allow by name: PATH lookup or a system dir, not a zone */
                { { "+ls" }, { "ls", "-l", NULL }, ZB_VERDICT_ALLOW, "approval.allow[0] \"ls\"" },
                { { "+ls" }, { "/bin/ls", NULL }, ZB_VERDICT_ALLOW, "allow[0]" },
                { { "+ls" }, { "/usr/local/bin/ls", NULL }, ZB_VERDICT_ALLOW, "allow[0]" },
                { { "+ls" }, { "/output/ls", NULL }, ZB_VERDICT_ASK, NULL },
                { { "+ls" }, { "./ls", NULL }, ZB_VERDICT_ASK, NULL },
                { { "+/usr/bin/*" }, { "/usr/bin/ls", NULL }, ZB_VERDICT_ALLOW, "allow[0]" },
                { { "+/usr/bin/*" }, { "ls", NULL }, ZB_VERDICT_ASK, NULL },
                /* argument patterns: fnmatch over the joined arguments */
                { { "+ls -l" }, { "ls", "-l", NULL }, ZB_VERDICT_ALLOW, NULL },
                { { "+ls -l" }, { "ls", "-la", NULL }, ZB_VERDICT_ASK, NULL },
                { { "+ls -l" }, { "ls", NULL }, ZB_VERDICT_ASK, NULL },
                { { "+ls *" }, { "ls", NULL }, ZB_VERDICT_ALLOW, NULL },
                { { "+git status*" }, { "git", "status", "--short", NULL }, ZB_VERDICT_ALLOW, NULL },
                { { "+git status*" }, { "git", "push", NULL }, ZB_VERDICT_ASK, NULL },
                { { "+python3 /input/*.py" }, { "python3", "/input/a/b.py", NULL }, ZB_VERDICT_ALLOW, NULL },
                { { "-python3*" }, { "python3.11", "x", NULL }, ZB_VERDICT_DENY, NULL },
                /* sh -c: the rule on the shell approves nothing by itself */
                { { "+sh -c *" }, { "sh", "-c", "rm -rf /", NULL }, ZB_VERDICT_ASK, NULL },
                { { "+echo *" }, { "sh", "-c", "echo a && echo b", NULL }, ZB_VERDICT_ALLOW, "allow[0]" },
                { { "+echo *", "+ls" }, { "sh", "-c", "echo a; ls", NULL }, ZB_VERDICT_ALLOW, "allow[1]" },
                { { "+echo *", "-rm *" }, { "sh", "-c", "echo a; rm x", NULL }, ZB_VERDICT_DENY, "deny[0]" },
                { { "+echo *" }, { "sh", "-c", "echo $(id)", NULL }, ZB_VERDICT_ASK, NULL },
                { { "+echo *", "+id" }, { "sh", "-c", "echo $(id)", NULL }, ZB_VERDICT_ALLOW, NULL },
                /* deny wins over allow, wherever it matches */
                { { "+rm *", "-rm -rf *" }, { "sh", "-c", "rm -rf /x", NULL }, ZB_VERDICT_DENY, "deny[0]" },
                { { "-ls", "-rm" }, { "sh", "-c", "rm x; ls", NULL }, ZB_VERDICT_DENY, "deny[0] \"ls\"" },
                { { "+ls", "-bash" }, { "bash", "-c", "ls", NULL }, ZB_VERDICT_DENY, "\"bash\"" },
                { { "+ls", "-timeout" }, { "timeout", "5", "ls", NULL }, ZB_VERDICT_DENY, "timeout" },
                { { "+ls", "-rm" }, { "sh", "-c", "ls; eval rm", NULL }, ZB_VERDICT_ASK, NULL },
                { { "-rm" }, { "sh", "-c", "rm a; eval b", NULL }, ZB_VERDICT_DENY, "deny[0]" },
                /* env prefixes and assignments are asked */
                { { "+ls" }, { "env", "LD_PRELOAD=/output/x.so", "ls", NULL }, ZB_VERDICT_ASK, NULL },
                { { "+ls" }, { "sh", "-c", "PATH=/output; ls", NULL }, ZB_VERDICT_ASK, NULL },
                { { "+ls" }, { "sh", "-c", "LD_PRELOAD=/x ls", NULL }, ZB_VERDICT_ASK, NULL },
                { { "+ls" }, { "timeout", "5", "ls", NULL }, ZB_VERDICT_ALLOW, NULL },
                /* defaults */
                { { "=allow" }, { "anything", NULL }, ZB_VERDICT_ALLOW, "approval.default allow" },
                { { "=deny", "+ls" }, { "cat", NULL }, ZB_VERDICT_DENY, "approval.default deny" },
                { { "=allow" }, { "sh", "-c", "eval x", NULL }, ZB_VERDICT_ASK, NULL },
                { { "=deny" }, { "sh", "-c", "eval x", NULL }, ZB_VERDICT_DENY, "default deny" },
                { { "=allow", "-rm" }, { "sh", "-c", "cd /x && rm y", NULL }, ZB_VERDICT_DENY, "deny[0]" },
                { { "+true" }, { "sh", "-c", "", NULL }, ZB_VERDICT_ASK, NULL },
        };
        run_rule_cases(t, ARRAY_SIZE(t), NULL);
}

/* With a writable zone on PATH a bare name could be the sandbox's own file. */
TEST(approval_rules_untrusted_path)
{
        static const struct rule_case t[] = {
                { { "+make *" }, { "make", "all", NULL }, ZB_VERDICT_ASK, NULL },
                /* the PATH change itself blocks rule approval (-e is NAME=value) */
                { { "+make *" }, { "/usr/bin/make", "all", NULL }, ZB_VERDICT_ASK, NULL },
                { { "-make" }, { "make", NULL }, ZB_VERDICT_DENY, NULL },
        };
        static const char *const flags[] = { "--tmpfs", "/scratch", "-e", "PATH=/scratch/bin:/usr/bin", NULL };
        run_rule_cases(t, ARRAY_SIZE(t), flags);
        static const char *const rel[] = { "-e", "PATH=bin:/usr/bin", NULL };
        run_rule_cases(t, 1, rel);
        static const char *const bash_env[] = { "-e", "BASH_ENV=/x", NULL };
        static const struct rule_case b[] = {
                { { "+ls" }, { "bash", "-c", "ls", NULL }, ZB_VERDICT_ASK, NULL },
        };
        run_rule_cases(b, 1, bash_env);
}

/* -e (and env:, session exec -e) is NAME=value command: no allow rule
 * approves what runs with the caller's variables; deny rules still apply. */
TEST(approval_rules_env_additions)
{
        static const char *const preload[] = { "-e", "LD_PRELOAD=/nonexistent.so", NULL };
        static const struct rule_case t[] = {
                { { "+git status" }, { "git", "status", NULL }, ZB_VERDICT_ASK, NULL },
                { { "=deny", "+git status" }, { "git", "status", NULL }, ZB_VERDICT_DENY, "default deny" },
                { { "+git status", "-git *" }, { "git", "status", NULL }, ZB_VERDICT_DENY, "deny[0]" },
        };
        run_rule_cases(t, ARRAY_SIZE(t), preload);
        static const char *const func[] = { "-e", "BASH_FUNC_git%%=() { id; }", NULL };
        static const struct rule_case f[] = {
                { { "+git status" }, { "bash", "-c", "git status", NULL }, ZB_VERDICT_ASK, NULL },
        };
        run_rule_cases(f, 1, func);
        static const char *const arith[] = { "-e", "X=a[$(id)]", NULL };
        static const struct rule_case x[] = {
                { { "+true" }, { "bash", "-c", "[[ X -eq 0 ]] && true", NULL }, ZB_VERDICT_ASK, NULL },
                { { "+echo *" }, { "sh", "-c", "echo $((X))", NULL }, ZB_VERDICT_ASK, NULL },
        };
        run_rule_cases(x, ARRAY_SIZE(x), arith);
}

/* The reason reaches the terminal's question: what it quotes from the
 * command line is escaped (no ESC, no C1 CSI, no invalid UTF-8). */
TEST(approval_reason_escaped)
{
        struct zb_policy *p = zb_policy_new();
        struct zb_error err = { 0 };
        struct appr_decision d = { 0 };
        char *argv[] = { "nice", "--\x1b[8m\xc2\x9b\xff", "ls", NULL };
        CHECK(zb_policy_apply_flag(p, "--allow-cmd", "ls", &err) == 0);
        CHECK(zb_policy_set_command(p, 3, argv, &err) == 0);
        CHECK(appr_evaluate(p, &d, &err) == 0);
        CHECK(d.verdict == ZB_VERDICT_ASK);
        CHECK(strstr(d.reason, "\\x1b[8m\\u009b\\xff") != NULL);
        for (const char *c = d.reason; *c; c++)
                CHECK((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f);
        zb_policy_free(p);
}

TEST(approval_off_allows_everything)
{
        struct zb_policy *p = zb_policy_new();
        struct zb_error err = { 0 };
        struct appr_decision d;
        char *argv[] = { "sh", "-c", "eval rm -rf /", NULL };
        CHECK(zb_policy_set_command(p, 3, argv, &err) == 0);
        CHECK(appr_decide(p, &d, &err) == 0);
        CHECK(d.verdict == ZB_VERDICT_ALLOW && d.by == ZB_BY_OFF);
        zb_policy_free(p);
}

TEST(approval_rule_syntax)
{
        static const struct {
                const char *rule;
                int rc;
        } t[] = {
                { "ls", 0 },       { "git status*", 0 }, { "/usr/bin/make test", 0 }, { "*", 0 },
                { "", -EINVAL },   { " ls", -EINVAL },   { "bin/ls", -EINVAL },        { "./ls -l", -EINVAL },
                { "ls\n-l", -EINVAL },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_error err = { 0 };
                int rc = appr_rule_check(t[i].rule, "--allow-cmd", &err);
                if (rc != t[i].rc)
                        fprintf(stderr, "  '%s': rc %d (%s)\n", t[i].rule, rc, err.message);
                CHECK(rc == t[i].rc);
                CHECK(rc == 0 || strncmp(err.message, "--allow-cmd: ", 13) == 0);
        }
}

/* ------------------------------------------------------------ config and flags */

TEST(approval_config_yaml)
{
        static const char yaml[] =
                "sandbox:\n"
                "  approval:\n"
                "    default: deny\n"
                "    allow: [\"ls *\", \"python3 *\"]\n"
                "    deny: rm *\n"
                "    command: [./approve.py, --strict]\n"
                "    timeout: 5s\n"
                "  audit: {log: logs/audit.jsonl, fsync: true}\n";
        struct zb_policy *p = zb_policy_new();
        struct zb_error err = { 0 };
        int rc = pol_load_yaml_buffer(p, yaml, strlen(yaml), "t.yaml", "/base", &err);
        if (rc)
                fprintf(stderr, "  %s\n", err.message);
        CHECK(rc == 0);
        CHECK(p->approval.configured && p->approval.def == ZB_APPROVAL_DENY);
        CHECK(p->approval.n_allow == 2 && strcmp(p->approval.allow[1], "python3 *") == 0);
        CHECK(p->approval.n_deny == 1 && strcmp(p->approval.deny[0], "rm *") == 0);
        CHECK(p->approval.n_command == 2 && strcmp(p->approval.command[0], "/base/approve.py") == 0 &&
              strcmp(p->approval.command[1], "--strict") == 0 && !p->approval.command[2]);
        CHECK(p->approval.timeout_ms == 5000);
        CHECK(p->audit.log && strcmp(p->audit.log, "/base/logs/audit.jsonl") == 0 && p->audit.fsync);
        /* flags add rules after the file's */
        CHECK(zb_policy_apply_flag(p, "--allow-cmd", "make", &err) == 0);
        CHECK(p->approval.n_allow == 3 && strcmp(p->approval.allow[2], "make") == 0);
        CHECK(zb_policy_apply_flag(p, "--approver", "my-approver", &err) == 0);
        CHECK(p->approval.n_command == 1 && strcmp(p->approval.command[0], "my-approver") == 0);
        zb_policy_free(p);

        /* an empty section turns approval on, default ask */
        p = zb_policy_new();
        static const char empty[] = "sandbox:\n  approval: {}\n";
        CHECK(pol_load_yaml_buffer(p, empty, strlen(empty), "t.yaml", "/b", &err) == 0);
        CHECK(p->approval.configured && p->approval.def == ZB_APPROVAL_UNSET);
        zb_policy_free(p);
}

TEST(approval_config_errors)
{
        static const struct {
                const char *yaml, *key;
        } t[] = {
                { "sandbox:\n  approval: {default: maybe}\n", "t.yaml:2: sandbox.approval.default" },
                { "sandbox:\n  approval: {allow: [\" ls\"]}\n", "t.yaml:2: sandbox.approval.allow" },
                { "sandbox:\n  approval: {deny: [bin/rm]}\n", "t.yaml:2: sandbox.approval.deny" },
                { "sandbox:\n  approval: {command: []}\n", "t.yaml:2: sandbox.approval.command" },
                { "sandbox:\n  approval: {timeout: 0}\n", "t.yaml:2: sandbox.approval.timeout" },
                { "sandbox:\n  approval: {colour: red}\n", "t.yaml:2: sandbox.approval.colour: unknown key" },
                { "sandbox:\n  approval: [ls]\n", "t.yaml:2: sandbox.approval" },
                { "sandbox:\n  audit: {log: \"\"}\n", "t.yaml:2: sandbox.audit.log" },
                { "sandbox:\n  audit: {fsync: maybe}\n", "t.yaml:2: sandbox.audit.fsync" },
                { "sandbox:\n  audit: {path: x}\n", "t.yaml:2: sandbox.audit.path: unknown key" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_policy *p = zb_policy_new();
                struct zb_error err = { 0 };
                int rc = pol_load_yaml_buffer(p, t[i].yaml, strlen(t[i].yaml), "t.yaml", "/b", &err);
                bool ok = rc < 0 && strncmp(err.message, t[i].key, strlen(t[i].key)) == 0;
                if (!ok)
                        fprintf(stderr, "  case %zu: rc %d '%s', want '%s'\n", i, rc, err.message, t[i].key);
                CHECK(ok);
                zb_policy_free(p);
        }
        struct zb_policy *p = zb_policy_new();
        struct zb_error err = { 0 };
        CHECK(zb_policy_apply_flag(p, "--approve-default", "sometimes", &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, "--approve-default: invalid value 'sometimes'");
        CHECK(zb_policy_apply_flag(p, "--deny-cmd", "./rm", &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, "--deny-cmd:");
        CHECK(zb_policy_apply_flag(p, "--approver-timeout", "soon", &err) == -EINVAL);
        CHECK(zb_flag_takes_value("--audit-log") == 1 && zb_flag_takes_value("--allow-cmd") == 1);
        zb_policy_free(p);
}

/* ------------------------------------------------------------ ask: a person */

static int asked;
static int say_always(const char *question, void *data)
{
        (void)question;
        asked++;
        return *(int *)data;
}

static int fake_person(const char *question, void *data)
{
        asked++;
        CHECK_STR_CONTAINS(question, "command: rm -rf /output/x");
        CHECK_STR_CONTAINS(question, "/output  rw");
        CHECK_STR_CONTAINS(question, "network: none");
        return *(int *)data;
}

TEST(approval_ask_person)
{
        static const struct {
                int answer;
                enum res_verdict want;
                enum appr_decided_by by;
        } t[] = {
                { ZB_ASK_ONCE, ZB_VERDICT_ALLOW, ZB_BY_TERMINAL },
                { ZB_ASK_DENY, ZB_VERDICT_DENY, ZB_BY_TERMINAL },
                { ZB_ASK_NO_TERMINAL, ZB_VERDICT_DENY, ZB_BY_NO_ASKER },
        };
        char dir[] = "/tmp/zb-ut-ask-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        char *vol = util_asprintf("%s:/output", dir);
        char *argv[] = { "rm", "-rf", "/output/x", NULL };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_policy *p = zb_policy_new();
                struct zb_error err = { 0 };
                struct appr_decision d;
                int answer = t[i].answer;
                CHECK(zb_policy_apply_flag(p, "--allow-cmd", "ls", &err) == 0);
                CHECK(zb_policy_apply_flag(p, "-v", vol, &err) == 0);
                CHECK(zb_policy_set_command(p, 3, argv, &err) == 0);
                zb_policy_set_ask(p, fake_person, &answer);
                asked = 0;
                CHECK(appr_decide(p, &d, &err) == 0);
                CHECK(asked == 1 && d.asked && d.verdict == t[i].want && d.by == t[i].by);
                CHECK_STR_CONTAINS(d.ask_reason, "no allow rule matches rm -rf /output/x");
                zb_policy_free(p);
        }
        /* "always": the same argv is not asked again in this process */
        char *argv2[] = { "rm", "-rf", "/output/always-test", NULL };
        for (int round = 0; round < 2; round++) {
                struct zb_policy *p = zb_policy_new();
                struct zb_error err = { 0 };
                struct appr_decision d;
                int answer = ZB_ASK_ALWAYS;
                CHECK(zb_policy_apply_flag(p, "--approve-default", "ask", &err) == 0);
                CHECK(zb_policy_set_command(p, 3, argv2, &err) == 0);
                zb_policy_set_ask(p, round == 0 ? say_always : NULL, &answer);
                asked = 0;
                CHECK(appr_decide(p, &d, &err) == 0);
                CHECK(d.verdict == ZB_VERDICT_ALLOW);
                CHECK(round == 0 ? d.by == ZB_BY_TERMINAL : d.by == ZB_BY_REMEMBERED);
                zb_policy_free(p);
        }
        rmdir(dir);
        free(vol);
}

/* ------------------------------------------------------------ ask: the approver */

TEST(approval_parse_answer)
{
        static const struct {
                const char *ans;
                int rc;
                bool allow;
                const char *reason;
        } t[] = {
                { "allow", 0, true, "" },
                { "deny\n", 0, false, "" },
                { "  ALLOW \r\n", 0, true, "" },
                { "{\"decision\": \"allow\"}", 0, true, "" },
                { "{\"decision\":\"deny\",\"reason\":\"not on Fridays\"}\n", 0, false, "not on Fridays" },
                { "{\"decision\":\"deny\",\"reason\":\"a\\nb\"}", 0, false, "a\\x0ab" },
                { "yes", -EINVAL, false, "" },
                { "allow allow", -EINVAL, false, "" },
                { "", -EINVAL, false, "" },
                { "{\"decision\": \"maybe\"}", -EINVAL, false, "" },
                { "{\"decision\": true}", -EINVAL, false, "" },
                { "{\"decision\": \"allow\"} trailing", -EINVAL, false, "" },
                { "[\"allow\"]", -EINVAL, false, "" },
                { "{\"decision\": \"allow\"", -EINVAL, false, "" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                bool allow = !t[i].allow;
                char reason[64];
                int rc = appr_parse_answer(t[i].ans, strlen(t[i].ans), &allow, reason, sizeof(reason));
                bool ok = rc == t[i].rc && (rc < 0 || (allow == t[i].allow && strcmp(reason, t[i].reason) == 0));
                if (!ok)
                        fprintf(stderr, "  case %zu '%s': rc %d allow %d reason '%s'\n", i, t[i].ans, rc, allow,
                                rc == 0 ? reason : "");
                CHECK(ok);
        }
}

static struct zb_policy *approver_policy(const char *script, const char *timeout)
{
        struct zb_policy *p = zb_policy_new();
        struct zb_error err = { 0 };
        char *argv[] = { "python3", "/input/x.py", NULL };
        CHECK(pol_set_key(p, "approval.command", "/bin/sh", "t", NULL, &err) == 0);
        CHECK(pol_set_key(p, "approval.command_arg", "-c", "t", NULL, &err) == 0);
        CHECK(pol_set_key(p, "approval.command_arg", script, "t", NULL, &err) == 0);
        if (timeout)
                CHECK(zb_policy_apply_flag(p, "--approver-timeout", timeout, &err) == 0);
        CHECK(zb_policy_apply_flag(p, "--network", "loopback", &err) == 0);
        CHECK(zb_policy_apply_flag(p, "--tmpfs", "/scratch:size=1m", &err) == 0);
        CHECK(zb_policy_set_command(p, 2, argv, &err) == 0);
        return p;
}

TEST(approval_approver_program)
{
        static const struct {
                const char *script, *timeout;
                enum res_verdict want;
                const char *reason;
        } t[] = {
                { "cat >/dev/null; echo allow", NULL, ZB_VERDICT_ALLOW, "allow" },
                { "echo deny", NULL, ZB_VERDICT_DENY, "deny" },
                { "printf '{\"decision\":\"allow\",\"reason\":\"ok by bot\"}'", NULL, ZB_VERDICT_ALLOW, "ok by bot" },
                { "echo maybe", NULL, ZB_VERDICT_DENY, "no valid answer" },
                { "echo allow; exit 3", NULL, ZB_VERDICT_DENY, "exited with status 3" },
                { "exec sleep 5", "300ms", ZB_VERDICT_DENY, "no answer within 300 ms" },
                { "kill -9 $$", NULL, ZB_VERDICT_DENY, "killed by signal 9" },
                { "head -c 10000 /dev/zero | tr '\\0' a", NULL, ZB_VERDICT_DENY, "longer than" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_policy *p = approver_policy(t[i].script, t[i].timeout);
                struct zb_error err = { 0 };
                struct appr_decision d;
                uint64_t t0 = util_now_ns();
                CHECK(appr_decide(p, &d, &err) == 0);
                bool ok = d.by == ZB_BY_APPROVER && d.verdict == t[i].want && strstr(d.reason, t[i].reason);
                if (!ok)
                        fprintf(stderr, "  case %zu: verdict %d by %d reason '%s'\n", i, d.verdict, d.by, d.reason);
                CHECK(ok);
                CHECK(util_now_ns() - t0 < 3000000000ull);
                zb_policy_free(p);
        }
        /* a program that cannot start means deny */
        struct zb_policy *p = zb_policy_new();
        struct zb_error err = { 0 };
        struct appr_decision d;
        char *argv[] = { "ls", NULL };
        CHECK(zb_policy_apply_flag(p, "--approver", "/nonexistent/approver", &err) == 0);
        CHECK(zb_policy_set_command(p, 1, argv, &err) == 0);
        CHECK(appr_decide(p, &d, &err) == 0);
        CHECK(d.verdict == ZB_VERDICT_DENY);
        CHECK_STR_CONTAINS(d.reason, "cannot start /nonexistent/approver");
        zb_policy_free(p);
}

/* The request: one JSON object with what a reviewer needs. */
TEST(approval_approver_request)
{
        char path[] = "/tmp/zb-ut-request-XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        if (fd >= 0)
                close(fd);
        char *script = util_asprintf("cat > %s; echo deny", path);
        struct zb_policy *p = approver_policy(script, NULL);
        struct zb_error err = { 0 };
        struct appr_decision d;
        CHECK(appr_decide(p, &d, &err) == 0 && d.verdict == ZB_VERDICT_DENY);
        json_object *o = json_object_from_file(path), *v, *z;
        CHECK(o != NULL);
        if (o) {
                CHECK(json_object_object_get_ex(o, "command", &v) && json_object_array_length(v) == 2);
                CHECK(strcmp(json_object_get_string(json_object_array_get_idx(v, 1)), "/input/x.py") == 0);
                CHECK(json_object_object_get_ex(o, "command_line", &v) &&
                      strcmp(json_object_get_string(v), "python3 /input/x.py") == 0);
                CHECK(json_object_object_get_ex(o, "network", &v) && strcmp(json_object_get_string(v), "loopback") == 0);
                CHECK(json_object_object_get_ex(o, "zones", &v) && json_object_array_length(v) == 1);
                z = json_object_array_get_idx(v, 0);
                CHECK(json_object_object_get_ex(z, "mode", &v) && strcmp(json_object_get_string(v), "tmpfs") == 0);
                CHECK(json_object_object_get_ex(z, "size", &v) && json_object_get_int64(v) == 1 << 20);
                CHECK(json_object_object_get_ex(o, "cwd", &v) && json_object_get_string(v)[0] == '/');
                CHECK(json_object_object_get_ex(o, "user", &v) && json_object_object_get_ex(v, "uid", &z) &&
                      json_object_get_int64(z) == (int64_t)getuid());
                CHECK(json_object_object_get_ex(o, "reason", &v) &&
                      strstr(json_object_get_string(v), "no allow rule matches"));
        }
        json_object_put(o);
        zb_policy_free(p);
        free(script);
        unlink(path);
}

/* ------------------------------------------------------------ display */

TEST(approval_display_escapes)
{
        static const struct {
                const char *argv[4];
                const char *want;
        } t[] = {
                { { "ls", "-l", NULL }, "ls -l" },
                { { "sh", "-c", "echo 'a'; rm x", NULL }, "sh -c 'echo '\\''a'\\''; rm x'" },
                { { "echo", "\x1b[2Jcleared", NULL }, "echo '\\x1b[2Jcleared'" },
                { { "echo", "\xc2\x9b" "31m", NULL }, "echo '\\u009b31m'" },
                { { "echo", "", NULL }, "echo ''" },
                { { "echo", "\xff", NULL }, "echo '\xef\xbf\xbd'" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                size_t n = 0;
                while (t[i].argv[n])
                        n++;
                char *s = appr_display((char *const *)t[i].argv, n, 200);
                bool ok = s && strcmp(s, t[i].want) == 0;
                if (!ok)
                        fprintf(stderr, "  case %zu: got '%s' want '%s'\n", i, s ? s : "", t[i].want);
                CHECK(ok);
                free(s);
        }
        char *long_argv[] = { "echo", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
        char *s = appr_display(long_argv, 2, 20);
        CHECK(s && strlen(s) == 20 && strcmp(s + 17, "...") == 0);
        free(s);
}

/* ------------------------------------------------------------ the denied result */

TEST(approval_denied_result)
{
        struct zb_policy *p = zb_policy_new();
        struct zb_error err = { 0 };
        struct appr_decision d;
        char *argv[] = { "rm", "-rf", "/", NULL };
        CHECK(zb_policy_apply_flag(p, "--deny-cmd", "rm *", &err) == 0);
        CHECK(zb_policy_set_command(p, 3, argv, &err) == 0);
        CHECK(appr_decide(p, &d, &err) == 0 && d.verdict == ZB_VERDICT_DENY);
        struct zb_result *r = appr_denied_result(p, &d);
        CHECK(r && strcmp(zb_result_status(r), "denied") == 0 && zb_result_exit_code(r) == 126);
        CHECK_STR_CONTAINS(zb_result_error(r), "denied by approval.deny[0] \"rm *\": it runs rm -rf /");
        char *js = r ? zb_result_json(r) : NULL;
        CHECK_STR_CONTAINS(js, "\"status\":\"denied\"");
        CHECK_STR_CONTAINS(js, "\"cli_exit_code\":126");
        free(js);
        zb_result_free(r);
        zb_policy_free(p);
}

/* ------------------------------------------------------------ the audit log */

static json_object *parse_line(const char *line)
{
        size_t n = strlen(line);
        if (n == 0 || line[n - 1] != '\n' || memchr(line, '\n', n - 1))
                return NULL;
        return json_tokener_parse(line);
}

static const char *get_str(json_object *o, const char *key)
{
        json_object *v;
        return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

TEST(audit_line_fields)
{
        struct zb_policy *p = zb_policy_new();
        struct zb_error err = { 0 };
        struct appr_decision d;
        char *argv[] = { "ls", "-l", "caf\xc3\xa9\xff", NULL };
        CHECK(zb_policy_apply_flag(p, "--allow-cmd", "ls *", &err) == 0);
        CHECK(zb_policy_apply_flag(p, "--tmpfs", "/scratch", &err) == 0);
        CHECK(zb_policy_set_command(p, 3, argv, &err) == 0);
        CHECK(appr_decide(p, &d, &err) == 0);
        char *line = audit_line(p, "decision", "00112233aabbccdd", &d, NULL, NULL);
        json_object *o = line ? parse_line(line) : NULL, *v;
        CHECK(o != NULL);
        if (o) {
                const char *t = get_str(o, "time");
                CHECK(t && strlen(t) == 24 && t[10] == 'T' && t[23] == 'Z');
                CHECK(strcmp(get_str(o, "event"), "decision") == 0);
                CHECK(strcmp(get_str(o, "id"), "00112233aabbccdd") == 0);
                CHECK(strcmp(get_str(o, "decision"), "allow") == 0);
                CHECK(strcmp(get_str(o, "by"), "rule") == 0);
                CHECK(strcmp(get_str(o, "rule"), "approval.allow[0] \"ls *\"") == 0);
                CHECK(strcmp(get_str(o, "network"), "none") == 0);
                CHECK(json_object_object_get_ex(o, "command", &v) &&
                      strcmp(json_object_get_string(json_object_array_get_idx(v, 2)), "caf\xc3\xa9\xef\xbf\xbd") == 0);
                CHECK(json_object_object_get_ex(o, "zones", &v) && json_object_array_length(v) == 1);
                CHECK(!json_object_object_get_ex(o, "status", &v));
        }
        json_object_put(o);
        free(line);

        struct zb_result *r = res_new("namespace");
        r->status = ZB_STATUS_SIGNALED;
        r->signal = 9;
        r->wall_ms = 12.5;
        line = audit_line(p, "result", "00112233aabbccdd", &d, r, NULL);
        o = line ? parse_line(line) : NULL;
        CHECK(o != NULL);
        if (o) {
                CHECK(strcmp(get_str(o, "status"), "signaled") == 0);
                CHECK(json_object_object_get_ex(o, "cli_exit_code", &v) && json_object_get_int(v) == 137);
                CHECK(json_object_object_get_ex(o, "signal", &v) && json_object_get_int(v) == 9);
                CHECK(json_object_object_get_ex(o, "wall_ms", &v) && json_object_get_double(v) == 12.5);
        }
        json_object_put(o);
        free(line);
        zb_result_free(r);
        /* nothing could start */
        line = audit_line(p, "result", "x", &d, NULL, "layer resources: no cgroup");
        o = line ? parse_line(line) : NULL;
        CHECK(o && strcmp(get_str(o, "status"), "setup_error") == 0 &&
              strcmp(get_str(o, "error"), "layer resources: no cgroup") == 0);
        json_object_put(o);
        free(line);
        zb_policy_free(p);
}

/* Long commands are cut to keep every line one atomic write. */
TEST(audit_line_bounded)
{
        struct zb_policy *p = zb_policy_new();
        struct zb_error err = { 0 };
        struct appr_decision d;
        char *argv[301];
        char arg[200];
        memset(arg, 'x', sizeof(arg) - 1);
        arg[sizeof(arg) - 1] = '\0';
        for (int i = 0; i < 300; i++)
                argv[i] = arg;
        argv[300] = NULL;
        CHECK(zb_policy_set_command(p, 300, argv, &err) == 0);
        for (int i = 0; i < 40; i++) {
                char vol[64];
                snprintf(vol, sizeof(vol), "/scratch%d:size=1m", i);
                CHECK(zb_policy_apply_flag(p, "--tmpfs", vol, &err) == 0);
        }
        CHECK(appr_decide(p, &d, &err) == 0);
        char *line = audit_line(p, "decision", "id", &d, NULL, NULL);
        CHECK(line && strlen(line) <= ZB_AUDIT_LINE_MAX);
        json_object *o = line ? parse_line(line) : NULL, *v;
        CHECK(o && json_object_object_get_ex(o, "truncated", &v) && json_object_get_boolean(v));
        CHECK(o && json_object_object_get_ex(o, "argc", &v) && json_object_get_int(v) == 300);
        json_object_put(o);
        free(line);
        zb_policy_free(p);
}

/* ------------------------------------------------------------ where the log may be */

TEST(audit_log_location)
{
        char base[] = "/tmp/zb-ut-audit-XXXXXX";
        CHECK(mkdtemp(base) != NULL);
        char *zone = util_asprintf("%s/zone", base), *sub = util_asprintf("%s/zone/sub", base),
             *alias = util_asprintf("%s/alias", base), *ro = util_asprintf("%s/ro", base),
             *vol = util_asprintf("%s:/output", zone), *rovol = util_asprintf("%s:/input:ro", ro);
        mkdir(zone, 0755);
        mkdir(sub, 0755);
        mkdir(ro, 0755);
        CHECK(symlink(zone, alias) == 0);
        char *target = util_asprintf("%s/target", base), *lnk = util_asprintf("%s/link.jsonl", base),
             *hard = util_asprintf("%s/hard.jsonl", base);
        close(open(target, O_CREAT | O_WRONLY, 0600));
        CHECK(symlink(target, lnk) == 0);
        CHECK(link(target, hard) == 0);
        static const struct {
                const char *rel;
                int rc;
                const char *msg;
        } t[] = {
                { "audit.jsonl", 0, NULL },
                { "ro/audit.jsonl", 0, NULL },
                { "zone/audit.jsonl", -EPERM, "inside zone 'output'" },
                { "zone/sub/audit.jsonl", -EPERM, "inside zone 'output'" },
                { "alias/audit.jsonl", -EPERM, "inside zone 'output'" },
                { "link.jsonl", -ELOOP, "symbolic link" },
                { "hard.jsonl", -EPERM, "hard links" },
                { "zone", -EISDIR, "cannot open" },
                { "missing/audit.jsonl", -ENOENT, "directory" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct zb_policy *p = zb_policy_new();
                struct zb_error err = { 0 };
                char *path = util_asprintf("%s/%s", base, t[i].rel);
                CHECK(zb_policy_apply_flag(p, "-v", vol, &err) == 0);
                CHECK(zb_policy_apply_flag(p, "-v", rovol, &err) == 0);
                CHECK(zb_policy_apply_flag(p, "--audit-log", path, &err) == 0);
                int rc = audit_check(p, &err);
                bool ok = rc == t[i].rc && (!t[i].msg || strstr(err.message, t[i].msg));
                if (!ok)
                        fprintf(stderr, "  case %s: rc %d '%s'\n", t[i].rel, rc, err.message);
                CHECK(ok);
                struct stat st;
                if (rc == 0)
                        CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
                unlink(path);
                free(path);
                zb_policy_free(p);
        }
        unlink(hard);
        unlink(lnk);
        unlink(target);
        unlink(alias);
        rmdir(sub);
        rmdir(zone);
        rmdir(ro);
        rmdir(base);
        free(zone), free(sub), free(alias), free(ro), free(vol), free(rovol);
        free(target), free(lnk), free(hard);
}

/* Appends are whole lines, in order, and the id ties them. */
TEST(audit_append_lines)
{
        char dir[] = "/tmp/zb-ut-append-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        char *path = util_asprintf("%s/a.jsonl", dir);
        struct zb_policy *p = zb_policy_new();
        struct zb_error err = { 0 };
        struct appr_decision d;
        char *argv[] = { "true", NULL };
        char id[ZB_AUDIT_ID_LEN + 1], id2[ZB_AUDIT_ID_LEN + 1];
        CHECK(zb_policy_apply_flag(p, "--audit-log", path, &err) == 0);
        CHECK(zb_policy_set_command(p, 1, argv, &err) == 0);
        CHECK(appr_decide(p, &d, &err) == 0 && d.verdict == ZB_VERDICT_ALLOW && d.by == ZB_BY_OFF);
        audit_new_id(id);
        audit_new_id(id2);
        CHECK(strlen(id) == ZB_AUDIT_ID_LEN && strcmp(id, id2) != 0);
        CHECK(audit_decision(p, id, &d, &err) == 0);
        CHECK(audit_result(p, id, &d, NULL, "boom", &err) == 0);
        FILE *f = fopen(path, "re");
        char line[ZB_AUDIT_LINE_MAX + 2];
        int n = 0;
        while (f && fgets(line, sizeof(line), f)) {
                json_object *o = parse_line(line);
                CHECK(o && strcmp(get_str(o, "id"), id) == 0);
                CHECK(o && strcmp(get_str(o, "event"), n == 0 ? "decision" : "result") == 0);
                CHECK(o && strcmp(get_str(o, "by"), "off") == 0);
                json_object_put(o);
                n++;
        }
        if (f)
                fclose(f);
        CHECK(n == 2);
        zb_policy_free(p);
        unlink(path);
        rmdir(dir);
        free(path);
}
