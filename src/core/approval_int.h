/* Private to the approval module: what its files share and nothing else
 * includes. The module, in the order appr_decide uses it:
 *
 *   approval_rules.c  argv → every command that will run (wrappers peeled,
 *                     builtins judged), then the deny and allow rules
 *   shell_split.c     a `sh -c` script → its simple commands (pure; the most
 *                     hostile input zonebox reads)
 *   approval_ask.c    remembered answers, the request JSON, the approver
 *                     program, the question on the terminal
 *   approval.c        the analysis store, display, the decision entry points
 *
 * The splitter and the command analysis call each other (a script's simple
 * command may be `env sh -c '...'`); a->depth bounds the recursion. */
#ifndef ZB_APPROVAL_INT_H
#define ZB_APPROVAL_INT_H

#include <ctype.h>

#include "approval.h"

#define MAX_DEPTH 16           /* nested shells, $(...), (...) */
#define MAX_CMDS 256           /* commands found in one line */
#define MAX_WRAPPERS 16        /* env nice timeout ... layers */
#define MAX_SCRIPT_BYTES (64u << 10)
#define MAX_ANSWER_BYTES 4096u
#define MAX_DISPLAY_BYTES 400u /* a command in a one-line message */
#define GAVE_UP (-1)           /* the splitter stopped; a->unparseable says why */

/* Word flags: an expansion ($X, $(..), `..`) or an unquoted pattern (glob,
 * brace, leading ~): the word's value is only known when the script runs. */
enum { W_DYN = 1u, W_PATTERN = 2u };
#define COMPUTED (W_DYN | W_PATTERN)

/* A word being read (shell_split.c), or any growing text (display, the
 * question). */
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

/* Append N bytes of D to W, keeping it NUL-terminated. 0 or -ENOMEM. */
int appr_word_put(struct word *w, const char *d, size_t n);

/* ------------------------------------------------------------ the analysis store (approval.c) */

/* Fill DST unless it already holds a reason (the first one is the one worth
 * telling), with control bytes escaped. */
void appr_set_reason(char *dst, size_t size, const char *fmt, ...) ZB_PRINTF(3, 4);
/* The line cannot be read safely: a->unparseable says why. Returns GAVE_UP. */
int appr_give_up(struct appr_analysis *a, const char *fmt, ...) ZB_PRINTF(2, 3);
/* No allow rule may approve any part of the line (a->blocker). */
void appr_block_all(struct appr_analysis *a, const char *why);
/* Record the command W[0..N): 0, GAVE_UP past MAX_CMDS, or -ENOMEM. */
int appr_add_cmd(struct appr_analysis *a, char *const *words, size_t n);
/* NAME=value (or NAME+=value) in the first PLAIN bytes of S. */
bool appr_assignment_prefix(const char *s, size_t plain);

static inline bool in_list(const char *s, const char *const *list)
{
        for (; *list; list++)
                if (strcmp(s, *list) == 0)
                        return true;
        return false;
}

static inline const char *base_name(const char *s)
{
        const char *b = strrchr(s, '/');
        return b ? b + 1 : s;
}

static inline bool is_name_start(char c)
{
        return isalpha((unsigned char)c) || c == '_';
}

static inline bool is_name_char(char c)
{
        return isalnum((unsigned char)c) || c == '_';
}

static inline bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

/* ------------------------------------------------------------ splitting (approval_rules.c, shell_split.c) */

/* W is one command (argv, or a simple command of a script), F its word
 * flags (NULL for argv). Records every wrapper layer and marks the command
 * the allow rules must approve. 0, GAVE_UP or -ENOMEM. */
int appr_analyze_command(struct appr_analysis *a, char *const *envp, char *const *w,
                         const unsigned *f, size_t n, const char *blocker, bool from_shell);
/* SHELL [options] -c SCRIPT [name [args]]: split SCRIPT. 1 when it was,
 * 0 when this is not a -c invocation (a script file or stdin: an ordinary
 * command), GAVE_UP or -ENOMEM. */
int appr_shell_command(struct appr_analysis *a, char *const *envp, const char *prog,
                       char *const *w, const unsigned *f, size_t n);

/* ------------------------------------------------------------ asking (approval_ask.c) */

/* "always" was answered for exactly this argv earlier in this process. */
bool appr_remembered_find(char *const *argv, size_t argc);
/* Ask approval.command; D ends ALLOW or DENY with who and why. */
void appr_ask_approver(const struct zb_policy *p, struct appr_decision *d);
/* Ask the policy's ask handler (the terminal); an "always" is remembered. */
void appr_ask_person(const struct zb_policy *p, struct appr_decision *d);

#endif
