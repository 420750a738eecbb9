/* Command approval: may this command run? (docs/approval.md). zb_run (and
 * a session's exec) asks before any backend starts; a refused command gets
 * status denied and nothing is created. The module's files:
 *
 *   approval_rules.c  argv → the commands that will run; the rules
 *   shell_split.c     a `sh -c` script → its simple commands (pure)
 *   approval_ask.c    remembered answers, approver program, terminal
 *   approval.c        this file: the analysis store, display, and the
 *                     decision: the rules, then for ask one of the askers
 *
 * Nothing here starts a sandbox; the kernel layers contain what runs. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>

#include "approval_int.h"
#include "result.h"

/* ------------------------------------------------------------ the analysis store */

void appr_set_reason(char *dst, size_t size, const char *fmt, ...)
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

int appr_give_up(struct appr_analysis *a, const char *fmt, ...)
{
        char msg[sizeof(a->unparseable)];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        appr_set_reason(a->unparseable, sizeof(a->unparseable), "%s", msg);
        return GAVE_UP;
}

void appr_block_all(struct appr_analysis *a, const char *why)
{
        appr_set_reason(a->blocker, sizeof(a->blocker), "%s", why);
}

int appr_add_cmd(struct appr_analysis *a, char *const *words, size_t n)
{
        if (a->n >= MAX_CMDS)
                return appr_give_up(a, "more than %d commands", MAX_CMDS);
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

/* NAME=value (or NAME+=value) in the first PLAIN bytes of S. */
bool appr_assignment_prefix(const char *s, size_t plain)
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
                return appr_word_put(b, clean, n);
        r = appr_word_put(b, "'", 1);
        for (size_t i = 0; r == 0 && i < n; i++) {
                unsigned char c = (unsigned char)clean[i];
                char hex[8];
                if (c < 0x20 || c == 0x7f) {
                        snprintf(hex, sizeof(hex), "\\x%02x", c);
                        r = appr_word_put(b, hex, 4);
                } else if (c == 0xc2 && i + 1 < n && (unsigned char)clean[i + 1] >= 0x80 &&
                           (unsigned char)clean[i + 1] <= 0x9f) {
                        /* U+0080..U+009F: C1 controls, which some terminals obey */
                        snprintf(hex, sizeof(hex), "\\u%04x", (unsigned char)clean[i + 1]);
                        r = appr_word_put(b, hex, 6);
                        i++;
                } else if (c == '\'') {
                        r = appr_word_put(b, "'\\''", 4);
                } else {
                        r = appr_word_put(b, clean + i, 1);
                }
        }
        return r ? r : appr_word_put(b, "'", 1);
}

char *appr_display(char *const *argv, size_t argc, size_t max)
{
        struct word b = { 0 };

        for (size_t i = 0; i < argc; i++) {
                if ((i && appr_word_put(&b, " ", 1) < 0) || put_escaped(&b, argv[i]) < 0) {
                        free(b.s);
                        return NULL;
                }
                if (b.len > max)
                        break;
        }
        if (!b.s && appr_word_put(&b, "", 0) < 0)
                return NULL;
        if (b.len > max && max >= 3) {
                size_t cut = max - 3;
                while (cut > 0 && ((unsigned char)b.s[cut] & 0xc0) == 0x80)
                        cut--;
                memcpy(b.s + cut, "...", 4);
        }
        return b.s;
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
        if (appr_remembered_find(p->argv, p->argc)) {
                d->verdict = ZB_VERDICT_ALLOW;
                d->by = ZB_BY_REMEMBERED;
                snprintf(d->rule, sizeof(d->rule), "an earlier answer (always)");
                snprintf(d->reason, sizeof(d->reason), "answered always earlier in this process");
        } else if (p->approval.command) {
                appr_ask_approver(p, d);
        } else if (p->approval.ask) {
                appr_ask_person(p, d);
        } else {
                d->verdict = ZB_VERDICT_DENY;
                d->by = ZB_BY_NO_ASKER;
                snprintf(d->rule, sizeof(d->rule), "the policy (ask)");
                snprintf(d->reason, sizeof(d->reason),
                         "%.680s, and there is no terminal to ask on and no approval.command", d->ask_reason);
        }
        return 0;
}

/* The refused command as a violation: the command line (the caller's, but
 * quoted as untrusted like anything a sandbox's program could have built),
 * the rule that decided, and the key that would allow it. */
static void denied_violation(const struct zb_policy *p, const struct appr_decision *d,
                             struct zb_result *r)
{
        size_t n = 0;
        for (size_t i = 0; i < p->argc; i++)
                n += strlen(p->argv[i]) + 1;
        _cleanup_(freep) char *line = malloc(n + 1);
        if (!line)
                return;
        size_t o = 0;
        for (size_t i = 0; i < p->argc; i++) {
                size_t len = strlen(p->argv[i]);
                if (i)
                        line[o++] = ' ';
                memcpy(line + o, p->argv[i], len);
                o += len;
        }
        line[o] = '\0';
        viol_add(&r->viol, VIOL_APPROVAL, "exec", line, o, d->rule[0] ? d->rule : "approval",
                 "--allow-cmd RULE (approval.allow)", 1, -1);
        viol_source(&r->viol, "approval", "observed");
}

struct zb_result *appr_denied_result(const struct zb_policy *p, const struct appr_decision *d)
{
        struct zb_result *r = res_new(pol_backend_name(p->backend));

        if (!r)
                return NULL;
        r->status = ZB_STATUS_DENIED;
        r->error = util_asprintf("command denied by %s: %s", d->rule, d->reason);
        if (!r->error) {
                zb_result_free(r);
                return NULL;
        }
        denied_violation(p, d, r);
        return r;
}
