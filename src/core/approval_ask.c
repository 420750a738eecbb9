/* Command approval, asking (docs/approval.md, "Asking"): when the rules say
 * ask, an earlier "always" of this process, else the approver program
 * (approval.command: the request JSON on its stdin, allow/deny on its
 * stdout, by a deadline, killed after it), else the policy's ask handler
 * (the CLI asks on the terminal).
 *
 * Guarantees: no answer, a late answer, an unreadable answer or an approver
 * that cannot start all deny; the approver never blocks zonebox (its stdin
 * is a memfd, its stdout is read with a deadline) and is reaped; what
 * reaches the terminal or the approver is sanitized UTF-8 with control
 * bytes escaped. */
#define _GNU_SOURCE
#include <ctype.h>
#include <fcntl.h>
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

#include "approval_int.h"
#include "result.h"

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

bool appr_remembered_find(char *const *argv, size_t argc)
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

static json_object *json_clean_string(const char *s)
{
        size_t n = 0;
        _cleanup_(freep) char *clean = s ? util_utf8_sanitize(s, strlen(s), &n) : NULL;
        return clean && n < (1u << 30) ? json_object_new_string_len(clean, (int)n) : NULL;
}

char *appr_request_json(const struct zb_policy *p, const struct appr_decision *d)
{
        json_object *o = json_object_new_object(), *cmd = json_object_new_array(),
                    *zones = json_object_new_array(), *user = json_object_new_object(),
                    *allowed = json_object_new_array();
        _cleanup_(freep) char *line = appr_display(p->argv, p->argc, MAX_SCRIPT_BYTES);
        _cleanup_(freep) char *cwd = getcwd(NULL, 0);
        struct passwd pw = { 0 }, *pwp = NULL;
        char pwbuf[1024];
        char *s = NULL;

        if (!o || !cmd || !zones || !user || !allowed)
                goto out;
        for (size_t i = 0; i < p->argc; i++)
                json_object_array_add(cmd, json_clean_string(p->argv[i]));
        for (size_t i = 0; i < p->net.n_allow; i++)
                json_object_array_add(allowed, json_clean_string(p->net.allow[i]));
        for (size_t i = 0; i < p->n_zones; i++) {
                const struct pol_zone *z = &p->zones[i];
                json_object *zo = json_object_new_object();
                json_object_object_add(zo, "name", json_clean_string(z->name));
                json_object_object_add(zo, "path", json_clean_string(z->path));
                json_object_object_add(zo, "mode", json_object_new_string(pol_zone_mode_name(z->mode)));
                json_object_object_add(zo, "host_path", json_clean_string(z->host_path));
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
        json_object_object_add(user, "name", pwp ? json_clean_string(pwp->pw_name) : NULL);
        json_object_object_add(o, "type", json_object_new_string("zonebox.approval_request"));
        json_object_object_add(o, "version", json_object_new_int(1));
        json_object_object_add(o, "command", cmd);
        json_object_object_add(o, "command_line", json_clean_string(line));
        json_object_object_add(o, "reason", json_clean_string(d->ask_reason[0] ? d->ask_reason : d->reason));
        json_object_object_add(o, "zones", zones);
        json_object_object_add(o, "network", json_object_new_string(pol_network_name(p)));
        json_object_object_add(o, "network_allow", allowed);
        json_object_object_add(o, "workdir", json_clean_string(p->workdir ? p->workdir : "/"));
        json_object_object_add(o, "cwd", json_clean_string(cwd));
        json_object_object_add(o, "user", user);
        json_object_object_add(o, "backend", json_object_new_string(pol_backend_name(p->backend)));
        cmd = zones = user = allowed = NULL;
        s = util_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
out:
        json_object_put(cmd);
        json_object_put(zones);
        json_object_put(user);
        json_object_put(allowed);
        json_object_put(o);
        return s;
}

/* The network line of the question: with an allowlist, the hosts the
 * command can reach through the proxy, as written in network.allow. */
static void network_text(const struct zb_policy *p, char *line, size_t size)
{
        if (pol_net_allowlist(p)) {
                _cleanup_(freep) char *hosts = appr_display(p->net.allow, p->net.n_allow, 600);
                snprintf(line, size, "\n  network: allowlist: loopback, and through a proxy only: %s\n",
                         hosts ? hosts : "?");
                return;
        }
        snprintf(line, size, "\n  network: %s\n",
                 p->network == ZB_NET_HOST       ? "host (the host's network)"
                 : p->network == ZB_NET_LOOPBACK ? "loopback only"
                                                 : "none (loopback only)");
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
        r = appr_word_put(&b, line, strlen(line));
        if (p->n_zones == 0 && r == 0)
                r = appr_word_put(&b, " none", 5);
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
                r = appr_word_put(&b, line, strlen(line));
        }
        network_text(p, line, sizeof(line));
        if (r == 0)
                r = appr_word_put(&b, line, strlen(line));
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
                                appr_set_reason(reason, reason_size, "%s", json_object_get_string(v));
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

void appr_ask_approver(const struct zb_policy *p, struct appr_decision *d)
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

void appr_ask_person(const struct zb_policy *p, struct appr_decision *d)
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
