/* The audit log: JSON lines appended by zonebox outside the sandbox.
 *
 * Guarantees: a decision line is complete on disk before the command can
 * start (zb_run refuses to start it otherwise), so a supervisor killed with
 * SIGKILL mid-run leaves the decision and no partial line; every line is one
 * write(2) of at most ZB_AUDIT_LINE_MAX bytes to an O_APPEND file, so
 * concurrent zonebox processes never interleave (the inode lock covers the
 * whole write on Linux local filesystems; pipes: PIPE_BUF); the sandbox can
 * neither write the file through a zone nor inherit a descriptor to it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "audit.h"

#define MAX_ANCESTORS 256

/* How much of each field fits: tried in order until the line does. */
struct tier {
        size_t str;   /* bytes of one string */
        size_t args;  /* argv entries */
        size_t zones; /* zones listed */
        size_t viols; /* violations listed (the rest counted in violations_dropped) */
};
static const struct tier tiers[] = {
        { 1024, 256, 64, 8 }, { 256, 32, 16, 4 }, { 64, 8, 4, 2 }, { 24, 3, 0, 0 },
};

/* ------------------------------------------------------------ where the log may be */

static bool under(const char *path, const char *dir)
{
        size_t n = strlen(dir);
        if (n == 1 && dir[0] == '/')
                return true;
        return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* DIR (the opened directory DFD) must not be a writable zone's host
 * directory or below one, by path or by identity: a bind mount shows the
 * same directory under another path, so every ancestor's device and inode
 * are compared too. */
static int check_outside_zones(const struct zb_policy *p, int dfd, const char *dir,
                               const char *path, const char *label, struct zb_error *err)
{
        char real[PATH_MAX], link[64];
        struct stat anc[MAX_ANCESTORS];
        size_t n_anc = 0;

        snprintf(link, sizeof(link), "/proc/self/fd/%d", dfd);
        ssize_t n = readlink(link, real, sizeof(real) - 1);
        if (n > 0 && real[0] == '/') {
                real[n] = '\0';
        } else if (!realpath(dir, real)) {
                return err_errno(err, errno, "%s: directory %s", label, dir);
        }
        for (char cut[PATH_MAX], *s = strcpy(cut, real); n_anc < MAX_ANCESTORS;) {
                if (stat(cut, &anc[n_anc]) == 0)
                        n_anc++;
                if (strcmp(cut, "/") == 0)
                        break;
                s = strrchr(cut, '/');
                if (s == cut)
                        s[1] = '\0';
                else
                        *s = '\0';
        }
        for (size_t i = 0; i < p->n_zones; i++) {
                const struct pol_zone *z = &p->zones[i];
                char zreal[PATH_MAX];
                struct stat zs;
                bool inside = false;
                if (z->mode == ZB_ZONE_RO || !z->host_path)
                        continue;
                if (realpath(z->host_path, zreal) && under(real, zreal))
                        inside = true;
                if (stat(z->host_path, &zs) == 0)
                        for (size_t k = 0; k < n_anc && !inside; k++)
                                inside = anc[k].st_dev == zs.st_dev && anc[k].st_ino == zs.st_ino;
                if (inside)
                        return err_set(err, EPERM,
                                            "%s: %s is inside zone '%s' (%s, mode %s), which the sandbox can write; put the log outside every rw zone",
                                            label, path, z->name, z->host_path, pol_zone_mode_name(z->mode));
        }
        return 0;
}

/* The log (or the event stream's file), opened for appending. Never
 * inherited: O_CLOEXEC, and the sandbox's init closes every inherited fd. */
int audit_open_outside(const struct zb_policy *p, const char *path, const char *label,
                       struct zb_error *err)
{
        const char *slash = strrchr(path, '/');
        struct stat st;

        if (!slash || !slash[1])
                return err_set(err, EINVAL, "%s: '%s' is not a file path", label, path);
        _cleanup_(freep) char *dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
        if (!dir)
                return err_set(err, ENOMEM, "%s: out of memory", label);
        _cleanup_(closep) int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return err_errno(err, errno, "%s: directory %s", label, dir);
        int r = check_outside_zones(p, dfd, dir, path, label, err);
        if (r < 0)
                return r;
        /* O_NOFOLLOW: a symlink could point into a zone. O_NONBLOCK: a FIFO
         * without a reader fails instead of hanging the run. */
        int fd = openat(dfd, slash + 1,
                        O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0600);
        if (fd < 0)
                return errno == ELOOP ? err_set(err, ELOOP, "%s: %s is a symbolic link", label, path)
                                      : err_errno(err, errno, "%s: cannot open %s", label, path);
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
                int e = errno;
                bool reg = S_ISREG(st.st_mode);
                close(fd);
                if (!reg)
                        return err_set(err, EINVAL, "%s: %s is not a regular file", label, path);
                if (st.st_nlink != 1)
                        return err_set(err, EPERM,
                                            "%s: %s has %llu hard links (another name could be inside a zone)", label,
                                            path, (unsigned long long)st.st_nlink);
                return err_errno(err, e, "%s: %s", label, path);
        }
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
                fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        return fd;
}

static int audit_open(const struct zb_policy *p, struct zb_error *err)
{
        return audit_open_outside(p, p->audit.log, "audit.log", err);
}

int audit_check(const struct zb_policy *p, struct zb_error *err)
{
        if (!p->audit.log)
                return 0;
        int fd = audit_open(p, err);
        if (fd < 0)
                return fd;
        close(fd);
        return 0;
}

/* One write(2): the whole line or (on a full disk) an error. */
static int audit_append(const struct zb_policy *p, const char *line, struct zb_error *err)
{
        int fd = audit_open(p, err);
        if (fd < 0)
                return fd;
        size_t n = strlen(line);
        ssize_t w = write(fd, line, n);
        int e = w < 0 ? errno : EIO;
        if (w == (ssize_t)n && p->audit.fsync && fdatasync(fd) < 0) {
                e = errno;
                w = -1;
        }
        close(fd);
        if (w != (ssize_t)n)
                return err_errno(err, e, "audit.log: cannot append to %s", p->audit.log);
        return 0;
}

/* ------------------------------------------------------------ the line */

void audit_new_id(char id[ZB_AUDIT_ID_LEN + 1])
{
        unsigned char b[ZB_AUDIT_ID_LEN / 2];
        if (getrandom(b, sizeof(b), GRND_NONBLOCK) != (ssize_t)sizeof(b)) {
                uint64_t v = util_now_ns() ^ ((uint64_t)getpid() << 40);
                memcpy(b, &v, sizeof(b));
        }
        for (size_t i = 0; i < sizeof(b); i++)
                snprintf(id + 2 * i, 3, "%02x", b[i]);
}

static void iso_time(char *buf, size_t size)
{
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* S as valid UTF-8, at most MAX bytes (cut at a character boundary). */
static json_object *str(const char *s, size_t max, bool *cut)
{
        size_t n = 0;
        if (!s)
                return NULL;
        _cleanup_(freep) char *clean = util_utf8_sanitize(s, strlen(s), &n);
        if (!clean)
                return NULL;
        if (n > max) {
                *cut = true;
                n = max;
                while (n > 0 && ((unsigned char)clean[n] & 0xc0) == 0x80)
                        n--;
        }
        return json_object_new_string_len(clean, (int)n);
}

static void add_command(json_object *o, const struct zb_policy *p, const struct tier *t, bool *cut)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < p->argc && i < t->args; i++)
                json_object_array_add(a, str(p->argv[i], t->str, cut));
        if (p->argc > t->args)
                *cut = true;
        json_object_object_add(o, "command", a);
        json_object_object_add(o, "argc", json_object_new_uint64(p->argc));
}

static void add_zones(json_object *o, const struct zb_policy *p, const struct tier *t, bool *cut)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < p->n_zones && i < t->zones; i++) {
                const struct pol_zone *z = &p->zones[i];
                json_object *zo = json_object_new_object();
                json_object_object_add(zo, "path", str(z->path, t->str, cut));
                json_object_object_add(zo, "mode", json_object_new_string(pol_zone_mode_name(z->mode)));
                json_object_object_add(zo, "host_path", str(z->host_path, t->str, cut));
                json_object_array_add(a, zo);
        }
        if (p->n_zones > t->zones)
                *cut = true;
        json_object_object_add(o, "zones", a);
        json_object_object_add(o, "network", json_object_new_string(pol_network_name(p)));
}

static void add_decision(json_object *o, const struct appr_decision *d, const struct tier *t, bool *cut)
{
        json_object_object_add(o, "decision",
                               json_object_new_string(d->verdict == ZB_VERDICT_ALLOW ? "allow" : "deny"));
        json_object_object_add(o, "by", json_object_new_string(appr_decided_by_name(d->by)));
        json_object_object_add(o, "rule", d->rule[0] ? str(d->rule, t->str, cut) : NULL);
        json_object_object_add(o, "reason", str(d->reason, t->str, cut));
        json_object_object_add(o, "asked", json_object_new_boolean(d->asked));
        if (d->asked)
                json_object_object_add(o, "ask_reason", str(d->ask_reason, t->str, cut));
}

/* The run's violations: the first T->viols entries, their strings capped
 * at T->str; the others counted in violations_dropped. */
static void add_violations(json_object *o, const struct viol_set *v, const struct tier *t, bool *cut)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < v->n && i < t->viols; i++) {
                json_object *e = viol_entry_json(&v->v[i]);
                const char *tg = v->v[i].target;
                if (e && strlen(tg) > t->str)
                        json_object_object_add(e, "target", str(tg, t->str, cut));
                json_object_array_add(a, e);
        }
        json_object_object_add(o, "violations", a);
        uint64_t dropped = v->dropped + (v->n > t->viols ? v->n - t->viols : 0);
        if (v->n > t->viols)
                *cut = true;
        if (dropped)
                json_object_object_add(o, "violations_dropped", json_object_new_uint64(dropped));
        json_object *src = json_object_new_object();
        for (size_t i = 0; src && i < v->n_sources; i++)
                json_object_object_add(src, v->sources[i].name,
                                       str(v->sources[i].state, t->str, cut));
        json_object_object_add(o, "violation_sources", src);
}

static void add_outcome(json_object *o, const struct zb_result *r, const char *error,
                        const struct tier *t, bool *cut)
{
        if (!r) { /* nothing started: zonebox itself failed */
                json_object_object_add(o, "status", json_object_new_string("setup_error"));
                json_object_object_add(o, "cli_exit_code", json_object_new_int(125));
                json_object_object_add(o, "error", str(error ? error : "", t->str, cut));
                return;
        }
        res_json_verdict(o, r);
        if (r->error)
                json_object_object_add(o, "error", str(r->error, t->str, cut));
        add_violations(o, &r->viol, t, cut);
}

/* A line's object with its first two fields: the time and the event. */
static json_object *line_new(const char *event)
{
        json_object *o = json_object_new_object();
        char when[48];
        if (!o)
                return NULL;
        iso_time(when, sizeof(when));
        json_object_object_add(o, "time", json_object_new_string(when));
        json_object_object_add(o, "event", json_object_new_string(event));
        return o;
}

static char *line_at(const struct zb_policy *p, const char *event, const char *id,
                     const struct appr_decision *d, const struct zb_result *r, const char *error,
                     const struct tier *t)
{
        json_object *o = line_new(event);
        bool cut = false;
        char *s = NULL;

        if (!o)
                return NULL;
        json_object_object_add(o, "id", json_object_new_string(id));
        json_object_object_add(o, "pid", json_object_new_int64(getpid()));
        json_object_object_add(o, "uid", json_object_new_int64(getuid()));
        add_command(o, p, t, &cut);
        add_decision(o, d, t, &cut);
        if (strcmp(event, "result") == 0 || strcmp(event, "end") == 0 || strcmp(event, "exec_end") == 0)
                add_outcome(o, r, error, t, &cut);
        add_zones(o, p, t, &cut);
        json_object_object_add(o, "backend", json_object_new_string(pol_backend_name(p->backend)));
        json_object_object_add(o, "truncated", json_object_new_boolean(cut));
        const char *js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (js)
                s = util_asprintf("%s\n", js);
        json_object_put(o);
        return s;
}

char *audit_line(const struct zb_policy *p, const char *event, const char *id,
                    const struct appr_decision *d, const struct zb_result *r, const char *error)
{
        for (size_t i = 0; i < ARRAY_SIZE(tiers); i++) {
                char *s = line_at(p, event, id, d, r, error, &tiers[i]);
                if (!s || strlen(s) <= ZB_AUDIT_LINE_MAX)
                        return s;
                free(s);
        }
        /* Cannot happen with the last tier's limits, but a line must fit. */
        char when[48];
        iso_time(when, sizeof(when));
        return util_asprintf("{\"time\":\"%s\",\"event\":\"%s\",\"id\":\"%s\",\"decision\":\"%s\",\"truncated\":true}\n",
                           when, event, id, d->verdict == ZB_VERDICT_ALLOW ? "allow" : "deny");
}

static int append_event(const struct zb_policy *p, const char *event, const char *id,
                        const struct appr_decision *d, const struct zb_result *r, const char *error,
                        struct zb_error *err)
{
        if (!p->audit.log)
                return 0;
        _cleanup_(freep) char *line = audit_line(p, event, id, d, r, error);
        if (!line)
                return err_set(err, ENOMEM, "audit.log: out of memory");
        return audit_append(p, line, err);
}

int audit_decision(const struct zb_policy *p, const char *id, const struct appr_decision *d,
                      struct zb_error *err)
{
        return append_event(p, "decision", id, d, NULL, NULL, err);
}

int audit_result(const struct zb_policy *p, const char *id, const struct appr_decision *d,
                    const struct zb_result *r, const char *error, struct zb_error *err)
{
        return append_event(p, "result", id, d, r, error, err);
}

/* ------------------------------------------------------------ network connections */

int audit_log_open(const struct zb_policy *p, struct zb_error *err)
{
        if (!p->audit.log)
                return err_set(err, EINVAL, "audit.log: not configured");
        return audit_open(p, err);
}

static json_object *opt_str(const char *s, bool *cut)
{
        return s ? str(s, 512, cut) : NULL;
}

char *audit_net_line(const struct audit_net *e)
{
        json_object *o = line_new(e->event);
        bool cut = false;
        char *s = NULL;

        if (!o)
                return NULL;
        json_object_object_add(o, "pid", json_object_new_int64(e->pid));
        json_object_object_add(o, "conn", json_object_new_uint64(e->conn));
        json_object_object_add(o, "method", opt_str(e->method, &cut));
        json_object_object_add(o, "host", opt_str(e->host, &cut));
        json_object_object_add(o, "port", e->host ? json_object_new_int((int)e->port) : NULL);
        json_object_object_add(o, "decision", opt_str(e->decision, &cut));
        if (e->status)
                json_object_object_add(o, "status", json_object_new_int(e->status));
        json_object_object_add(o, "rule", opt_str(e->rule, &cut));
        if (e->reason)
                json_object_object_add(o, "reason", opt_str(e->reason, &cut));
        if (e->address)
                json_object_object_add(o, "address", opt_str(e->address, &cut));
        if (e->closed) {
                json_object_object_add(o, "bytes_up", json_object_new_uint64(e->bytes_up));
                json_object_object_add(o, "bytes_down", json_object_new_uint64(e->bytes_down));
                char ms[32];
                snprintf(ms, sizeof(ms), "%.3f", e->duration_ms);
                json_object_object_add(o, "duration_ms", json_object_new_double_s(e->duration_ms, ms));
        }
        if (cut)
                json_object_object_add(o, "truncated", json_object_new_boolean(true));
        const char *j = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (j && strlen(j) + 1 <= ZB_AUDIT_LINE_MAX)
                s = util_asprintf("%s\n", j);
        json_object_put(o);
        return s;
}

int audit_net_append(int fd, bool fsync, const struct audit_net *e)
{
        _cleanup_(freep) char *line = audit_net_line(e);
        if (!line)
                return -ENOMEM;
        size_t n = strlen(line);
        ssize_t w = write(fd, line, n);
        if (w != (ssize_t)n)
                return w < 0 ? -errno : -EIO;
        if (fsync && fdatasync(fd) < 0)
                return -errno;
        return 0;
}

/* ------------------------------------------------------------ the event stream's own lines */

char *audit_viol_line(const char *id, const struct viol *v)
{
        json_object *o = line_new("violation");
        char *s = NULL;

        if (!o)
                return NULL;
        json_object_object_add(o, "id", json_object_new_string(id));
        json_object_object_add(o, "pid", json_object_new_int64(getpid()));
        json_object *e = viol_entry_json(v);
        if (e) {
                struct json_object_iterator it = json_object_iter_begin(e), end = json_object_iter_end(e);
                for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
                        json_object_object_add(o, json_object_iter_peek_name(&it),
                                               json_object_get(json_object_iter_peek_value(&it)));
                json_object_put(e);
        }
        const char *j = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (j && strlen(j) + 1 <= ZB_AUDIT_LINE_MAX) /* a target is at most VIOL_TARGET_MAX bytes */
                s = util_asprintf("%s\n", j);
        json_object_put(o);
        return s;
}
