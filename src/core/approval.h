/* Command approval: may this command run? (docs/config.md, "Command
 * approval"). zb_run asks before any backend starts; a refused command gets
 * status denied and nothing is created. The rules see every command that
 * will run: argv, each wrapper layer (env, nice, timeout, ...) and, for POSIX
 * shells started with -c, each simple command of the script as found by a
 * deliberately small splitter. What the splitter cannot read safely is never
 * approved by the rules. These rules decide whether to start; the kernel
 * layers are what contain the command once it runs. */
#ifndef ZB_APPROVAL_H
#define ZB_APPROVAL_H

#include "policy.h"

/* One command found in a command line. WORDS are literal (quotes removed);
 * shell expansions stay as written ("$HOME", "$(date)"). */
struct appr_cmd {
        char **words;
        size_t n;
        bool required;       /* an allow rule must approve it; false: a wrapper or
                                shell layer, which deny rules see but allow rules need not */
        const char *blocker; /* static text: why no allow rule may approve it, or NULL */
};

struct appr_analysis {
        struct appr_cmd *cmds;
        size_t n, cap;
        char unparseable[192]; /* why the line cannot be read safely; "" if it can */
        char blocker[192];     /* why no allow rule may approve any part of it; "" if none */
        int depth;
};

/* Split ARGV into the commands it will run. ENVP is the sandbox's
 * environment (BASH_ENV there makes bash -c unreadable). 0 or -ENOMEM; an
 * unreadable line is not an error (see a->unparseable). */
int appr_analyze(char *const *argv, size_t argc, char *const *envp,
                        struct appr_analysis *a);
void appr_analysis_free(struct appr_analysis *a);

enum res_verdict { ZB_VERDICT_ALLOW, ZB_VERDICT_DENY, ZB_VERDICT_ASK };

/* How a decision was made; audit "by". */
enum appr_decided_by {
        ZB_BY_OFF,          /* no approval policy: everything runs */
        ZB_BY_RULE,         /* an allow or deny rule */
        ZB_BY_DEFAULT,      /* approval.default allow or deny */
        ZB_BY_TERMINAL,     /* asked on the terminal */
        ZB_BY_APPROVER,     /* asked approval.command */
        ZB_BY_REMEMBERED,   /* "always" answered earlier in this process */
        ZB_BY_NO_ASKER,     /* ask, but no terminal and no approval.command: deny */
};

struct appr_decision {
        enum res_verdict verdict; /* after appr_decide: ALLOW or DENY */
        enum appr_decided_by by;
        bool asked;
        char rule[512];       /* what decided, e.g. approval.deny[0] "rm *"; "" if nothing */
        char reason[768];     /* one line for people */
        char ask_reason[768]; /* when asked: why the rules said ask */
};

const char *appr_decided_by_name(enum appr_decided_by by);

/* What the rules say about P's command: ALLOW, DENY or ASK. */
int appr_evaluate(const struct zb_policy *p, struct appr_decision *d, struct zb_error *err);
/* The whole decision: the rules, then for ASK an earlier "always", the
 * approver program, or the policy's ask handler (a terminal). D ends ALLOW
 * or DENY; a negative errno only when zonebox itself failed. */
int appr_decide(const struct zb_policy *p, struct appr_decision *d, struct zb_error *err);

/* The result of a refused command: status denied, the message naming the rule. */
struct zb_result *appr_denied_result(const struct zb_policy *p, const struct appr_decision *d);

/* Check one rule as written in the config or a flag. */
int appr_rule_check(const char *rule, const char *label, struct zb_error *err);

/* An approver's answer: "allow", "deny" or {"decision": "allow"|"deny",
 * "reason": "..."}. 0 and *ALLOW set, or -EINVAL. */
int appr_parse_answer(const char *buf, size_t n, bool *allow, char *reason, size_t reason_size);

/* The request an approver gets on stdin (one JSON object, malloc'd). */
char *appr_request_json(const struct zb_policy *p, const struct appr_decision *d);

/* ARGV for people: shell-quoted, control bytes shown as \xNN, cut at MAX bytes
 * with "..." (malloc'd). */
char *appr_display(char *const *argv, size_t argc, size_t max);

#define DEFAULT_APPROVER_TIMEOUT_MS 60000ull
#define ZB_MAX_APPROVAL_RULES 1024
#define ZB_MAX_RULE_BYTES 4096

#endif
