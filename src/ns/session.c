/* Sessions: start, exec, list, stop (docs/sessions.md).
 *
 * A session is a directory in the user's runtime directory, named by its id,
 * holding the daemon's socket ("sock") and "info.json" (id, name, pid and
 * start time of the daemon). The runtime directory is the user's own, mode
 * 0700, and the daemon also checks every client's uid (SO_PEERCRED) — two
 * walls between other users and your sessions — and that the client is in
 * the daemon's user namespace: a sandbox of the same user is not a client
 * (policy.c also keeps every zone off the runtime dir). A client checks the
 * daemon's uid too before it sends anything.
 *
 * Client and daemon speak in records over SOCK_SEQPACKET, one per message:
 *   client → daemon  C_EXEC (+ stdin, stdout, stderr), C_KILL, C_STOP
 *   daemon → client  R_ACCEPTED (the command was approved and handed to
 *                    init), R_RESULT (its verdict), R_FINAL (the session's
 *                    own result, to the client that stopped it)
 * The daemon keeps no state on disk besides info.json; if it is killed, init
 * dies with it (parent-death signal) and the next `session list`, `start` or
 * `zonebox gc` removes what is left. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "../core/audit.h"
#include "cgroup.h"
#include "ns.h"
#include "proxy.h"
#include "session.h"
#include "sys.h"

#define MAX_CLIENTS 32
#define DEFAULT_IDLE_TIMEOUT_MS (30ull * 60 * 1000)
#define STOP_WAIT_MS 30000
#define ID_LEN 12

enum { C_EXEC = 1, C_KILL, C_STOP, R_ACCEPTED = 10, R_RESULT, R_FINAL };

/* C_EXEC: ARGC arguments, ENVC "KEY=VALUE" additions, then the working
 * directory ("" for the session's), each NUL-terminated. */
struct c_exec {
        uint32_t type;
        uint32_t argc, envc;
        int64_t timeout_ms; /* -1: the session's wall_time */
        char blob[NS_SX_MAX - 4 * sizeof(uint32_t) - sizeof(int64_t)];
};

struct c_kill {
        uint32_t type;
        int32_t sig;
};

struct r_accepted {
        uint32_t type;
        uint32_t exec_id;
        uint64_t output_limit;
        uint32_t output_kill;
        uint32_t output_set; /* limits.output given: pass-through output is capped too */
};

#define LAYERS_LEN 400
struct r_result {
        uint32_t type;
        uint32_t exec_id;
        int32_t status, setup_kind, exit_code, signal, oom_killed;
        double wall_ms, cpu_user_ms, cpu_sys_ms;
        uint64_t peak_memory_bytes;
        uint32_t has_proxy;
        uint64_t proxy_allowed, proxy_refused, proxy_failed;
        char applied[LAYERS_LEN], skipped[LAYERS_LEN]; /* comma-separated */
        char error[1024];
};

/* A path into BUF; -ENAMETOOLONG (BUF "") if it does not fit. */
ZB_PRINTF(3, 4) static int pathf(char *buf, size_t n, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(buf, n, fmt, ap);
        va_end(ap);
        if (k < 0 || (size_t)k >= n) {
                buf[0] = '\0';
                return -ENAMETOOLONG;
        }
        return 0;
}

/* ------------------------------------------------------------------ names */

bool sess_id_valid(const char *id)
{
        if (!id || strlen(id) != ID_LEN)
                return false;
        for (const char *c = id; *c; c++)
                if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
                        return false;
        return true;
}

bool sess_name_valid(const char *name)
{
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n > 64 || name[0] == '.' || name[0] == '-' || sess_id_valid(name))
                return false;
        for (const char *c = name; *c; c++)
                if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                      *c == '_' || *c == '.' || *c == '-'))
                        return false;
        return true;
}

/* ------------------------------------------------------- runtime directory */

static bool xdg_usable(const char *xdg)
{
        struct stat st;
        return xdg && xdg[0] == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid();
}

/* The sessions directory: --runtime-dir, $ZONEBOX_RUNTIME_DIR, else
 * /run/zonebox/sessions (root), $XDG_RUNTIME_DIR/zonebox/sessions, or
 * /tmp/zonebox-UID/sessions. */
int sess_runtime_path(const char *override, char *buf, size_t n)
{
        const char *env = getenv("ZONEBOX_RUNTIME_DIR");
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        const char *dir = override && override[0] ? override : env && env[0] ? env : NULL;
        int len;
        uid_t uid = geteuid();

        if (dir) {
                _cleanup_(freep) char *abs = util_path_absolute(NULL, dir);
                len = abs ? snprintf(buf, n, "%s", abs) : -1;
        } else if (uid == 0) {
                len = snprintf(buf, n, "/run/zonebox/sessions");
        } else if (xdg_usable(xdg)) {
                len = snprintf(buf, n, "%s/zonebox/sessions", xdg);
        } else {
                len = snprintf(buf, n, "/tmp/zonebox-%u/sessions", (unsigned)uid);
        }
        /* sun_path holds 108 bytes: DIR/ID/sock must fit. */
        if (len < 0 || (size_t)len >= n || (size_t)len + 1 + ID_LEN + 5 >= sizeof(((struct sockaddr_un *)0)->sun_path))
                return -ENAMETOOLONG;
        return 0;
}

/* The sessions directory, created 0700 when missing; refused unless it is
 * a real directory of this user that nobody else can enter, in a parent
 * nobody else may write (or a sticky one, like /tmp). */
static int rt_dir(const char *override, bool create, char *buf, size_t n, struct zb_error *err)
{
        const char *env = getenv("ZONEBOX_RUNTIME_DIR");
        const char *dir = override && override[0] ? override : env && env[0] ? env : NULL;
        uid_t uid = geteuid();

        if (sess_runtime_path(override, buf, n) < 0)
                return err_set(err, ENAMETOOLONG, "runtime dir: '%s' is not usable (too long for a socket path)",
                                    dir ? dir : buf);
        if (create)
                for (char *s = buf + 1;; s++) {
                        s = strchr(s, '/');
                        if (s)
                                *s = '\0';
                        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
                                return err_errno(err, errno, "runtime dir: mkdir %s", buf);
                        if (!s)
                                break;
                        *s = '/';
                }
        struct stat st, pst;
        if (lstat(buf, &st) < 0) {
                if (errno == ENOENT && !create)
                        return -ENOENT;
                return err_errno(err, errno, "runtime dir: %s", buf);
        }
        if (!S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 077))
                return err_set(err, EPERM,
                                    "runtime dir: %s must be a directory of uid %u with mode 0700 (others could reach your sessions)",
                                    buf, (unsigned)uid);
        char parent[PATH_MAX];
        snprintf(parent, sizeof(parent), "%s", buf);
        char *slash = strrchr(parent, '/');
        if (slash)
                *(slash == parent ? slash + 1 : slash) = '\0';
        if (stat(parent, &pst) < 0)
                return err_errno(err, errno, "runtime dir: %s", parent);
        if ((pst.st_uid != uid && pst.st_uid != 0) || ((pst.st_mode & 022) && !(pst.st_mode & S_ISVTX)))
                return err_set(err, EPERM,
                                    "runtime dir: its parent %s must belong to uid %u or root and not be writable by others",
                                    parent, (unsigned)uid);
        return 0;
}

/* The start time of PID (0 if gone or a zombie): tells it from a reuse. */
static unsigned long long proc_start(pid_t pid)
{
        unsigned long long v = 0;
        return ns_proc_start_time(pid, &v) == 0 ? v : 0;
}

struct info {
        char id[ID_LEN + 1];
        char name[65];
        pid_t pid;
        unsigned long long start;
        long long created;
        uint64_t idle_timeout_ms;
};

static int info_read(const char *dir, const char *id, struct info *in)
{
        char path[PATH_MAX];
        pathf(path, sizeof(path), "%s/%s/info.json", dir, id);
        struct json_object *o = json_object_from_file(path), *v;
        if (!o)
                return -ENOENT;
        memset(in, 0, sizeof(*in));
        if (strlen(id) != ID_LEN) {
                json_object_put(o);
                return -EINVAL;
        }
        memcpy(in->id, id, ID_LEN + 1);
        if (json_object_object_get_ex(o, "name", &v) && json_object_is_type(v, json_type_string))
                snprintf(in->name, sizeof(in->name), "%s", json_object_get_string(v));
        if (json_object_object_get_ex(o, "pid", &v))
                in->pid = (pid_t)json_object_get_int(v);
        if (json_object_object_get_ex(o, "pid_start", &v))
                in->start = (unsigned long long)json_object_get_uint64(v);
        if (json_object_object_get_ex(o, "created", &v))
                in->created = json_object_get_int64(v);
        if (json_object_object_get_ex(o, "idle_timeout_ms", &v))
                in->idle_timeout_ms = json_object_get_uint64(v);
        json_object_put(o);
        return in->pid > 0 ? 0 : -EINVAL;
}

static bool info_alive(const struct info *in)
{
        return in->pid > 0 && in->start && proc_start(in->pid) == in->start;
}

static void session_dir_remove(const char *dir, const char *id)
{
        char path[PATH_MAX];
        static const char *const files[] = { "sock", "info.json", "info.json.tmp" };
        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                pathf(path, sizeof(path), "%s/%s/%s", dir, id, files[i]);
                unlink(path);
        }
        pathf(path, sizeof(path), "%s/%s", dir, id);
        rmdir(path);
}

/* Each live session's info; dead ones' directories are removed. */
static int sessions_scan(const char *dir, struct info **out, size_t *n, struct zb_error *err)
{
        _cleanup_(closedirp) DIR *d = opendir(dir);
        *out = NULL;
        *n = 0;
        if (!d)
                return errno == ENOENT ? 0 : err_errno(err, errno, "runtime dir: %s", dir);
        size_t cap = 0;
        for (struct dirent *e; (e = readdir(d));) {
                struct info in;
                if (!sess_id_valid(e->d_name))
                        continue;
                if (info_read(dir, e->d_name, &in) < 0) {
                        /* A start in progress writes info.json before it
                         * answers; an old dir without one was a failed start. */
                        struct stat st;
                        char path[PATH_MAX];
                        pathf(path, sizeof(path), "%s/%s", dir, e->d_name);
                        if (stat(path, &st) == 0 && time(NULL) - st.st_mtime > 60)
                                session_dir_remove(dir, e->d_name);
                        continue;
                }
                if (!info_alive(&in)) {
                        session_dir_remove(dir, e->d_name);
                        continue;
                }
                if (*n == cap) {
                        cap = cap ? cap * 2 : 8;
                        struct info *m = realloc(*out, cap * sizeof(**out));
                        if (!m) {
                                free(*out);
                                *out = NULL;
                                return err_set(err, ENOMEM, "out of memory");
                        }
                        *out = m;
                }
                (*out)[(*n)++] = in;
        }
        return 0;
}

/* ID or NAME of a live session into IN. */
static int session_find(const char *dir, const char *key, struct info *in, struct zb_error *err)
{
        struct info *all;
        size_t n;
        int r = sessions_scan(dir, &all, &n, err);
        if (r < 0)
                return r;
        r = err_set(err, ENOENT, "session '%s': no such session (zonebox session list)", key);
        for (size_t i = 0; i < n; i++)
                if (strcmp(all[i].id, key) == 0 || (all[i].name[0] && strcmp(all[i].name, key) == 0)) {
                        *in = all[i];
                        r = 0;
                        break;
                }
        free(all);
        return r;
}

/* -------------------------------------------------------------- messages */

static int send_fds(int sock, const void *msg, size_t len, const int *fds, int nfds)
{
        union {
                char buf[CMSG_SPACE(4 * sizeof(int))];
                struct cmsghdr align;
        } u;
        struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (nfds > 0) {
                memset(&u, 0, sizeof(u));
                mh.msg_control = u.buf;
                mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
                struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
                memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
        }
        ssize_t n;
        do
                n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        return n == (ssize_t)len ? 0 : -(n < 0 ? errno : EMSGSIZE);
}

ssize_t ns_recv_fds(int sock, void *msg, size_t len, int *fds, int max, int flags)
{
        union {
                char buf[CMSG_SPACE(NS_MAX_PASSED_FDS * sizeof(int))];
                struct cmsghdr align;
        } u;
        struct iovec iov = { .iov_base = msg, .iov_len = len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                             .msg_controllen = sizeof(u.buf) };
        int got = 0;
        for (int i = 0; i < max; i++)
                fds[i] = -1;
        ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
        if (n < 0)
                return -errno;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        for (size_t i = 0; i < k; i++) {
                                int fd;
                                memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                                if (got < max)
                                        fds[got++] = fd;
                                else
                                        close(fd);
                        }
                }
        if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
                for (int i = 0; i < got; i++)
                        close(fds[i]);
                for (int i = 0; i < max; i++)
                        fds[i] = -1;
                return -EMSGSIZE;
        }
        return n;
}

static void join_layers(char *out, size_t size, const char *const *names, size_t n)
{
        size_t len = 0;
        out[0] = '\0';
        for (size_t i = 0; i < n && len < size; i++) {
                int k = snprintf(out + len, size - len, "%s%s", i ? "," : "", names[i]);
                if (k < 0 || (size_t)k >= size - len)
                        break;
                len += (size_t)k;
        }
}

static void result_to_msg(const struct zb_result *r, struct r_result *m)
{
        m->status = (int32_t)r->status;
        m->setup_kind = (int32_t)r->setup_kind;
        m->exit_code = r->exit_code;
        m->signal = r->signal;
        m->oom_killed = r->oom_killed;
        m->wall_ms = r->wall_ms;
        m->cpu_user_ms = r->cpu_user_ms;
        m->cpu_sys_ms = r->cpu_sys_ms;
        m->peak_memory_bytes = r->peak_memory_bytes;
        m->has_proxy = r->has_proxy;
        m->proxy_allowed = r->proxy_allowed;
        m->proxy_refused = r->proxy_refused;
        m->proxy_failed = r->proxy_failed;
        join_layers(m->applied, sizeof(m->applied), r->applied, r->n_applied);
        join_layers(m->skipped, sizeof(m->skipped), r->skipped, r->n_skipped);
        snprintf(m->error, sizeof(m->error), "%s", r->error ? r->error : "");
}

/* Layer names are literals in a result: map each received name to ours. */
static const char *const known_layers[] = {
        "user", "mount", "pid", "ipc", "uts", "cgroupns", "rootfs_readonly", "capabilities",
        "rlimits", "net", "no_new_privileges", "wall_time", "resources", "seccomp", "landlock",
        "landlock_scopes", "cpu_time", "memory", "pids", "cpus",
};

static void layers_from(struct zb_result *r, const char *list, bool applied)
{
        char buf[LAYERS_LEN];
        snprintf(buf, sizeof(buf), "%s", list);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
                for (size_t i = 0; i < ARRAY_SIZE(known_layers); i++)
                        if (strcmp(t, known_layers[i]) == 0)
                                res_layer(r, known_layers[i], applied);
}

static void msg_to_result(const struct r_result *m, struct zb_result *r)
{
        r->status = (enum res_status)m->status;
        r->setup_kind = (enum pol_setup_kind)m->setup_kind;
        r->exit_code = m->exit_code;
        r->signal = m->signal;
        r->oom_killed = m->oom_killed != 0;
        r->wall_ms = m->wall_ms;
        r->cpu_user_ms = m->cpu_user_ms;
        r->cpu_sys_ms = m->cpu_sys_ms;
        r->peak_memory_bytes = m->peak_memory_bytes;
        r->has_proxy = m->has_proxy != 0;
        r->proxy_allowed = m->proxy_allowed;
        r->proxy_refused = m->proxy_refused;
        r->proxy_failed = m->proxy_failed;
        layers_from(r, m->applied, true);
        layers_from(r, m->skipped, false);
        if (m->error[0]) {
                char e[sizeof(m->error)];
                memcpy(e, m->error, sizeof(e));
                e[sizeof(e) - 1] = '\0';
                r->error = util_strdup(e);
        }
}

/* ================================================================ daemon */

/* A command's stdout or stderr: the daemon's pipe from the command (SRC)
 * to the exec client's pipe (DST). When the command ends, what it wrote is
 * flushed, DST closed (the client sees end of file), and SRC becomes a
 * sink: whatever background processes write later is read and dropped, so
 * they neither block nor die of SIGPIPE. */
#define RELAY_BUF 65536
#define MAX_SINKS 64
struct relay {
        int src, dst;
        char *buf;
        size_t off, len; /* pending bytes for DST */
};

struct client {
        int fd;                /* -1: slot free (or the client hung up mid-exec) */
        struct relay io[2];
        bool busy;             /* an exec is in flight */
        bool stopper;          /* asked for the stop: gets R_FINAL */
        uint32_t exec_id;
        pid_t pid;             /* the command, once started */
        uint64_t sent_ns, exec_ns, deadline_ns, wall_ms;
        uint64_t oom_base;
        struct ns_proxy_counts net_base;
        bool timed_out, killed;
        struct gate gate;
        struct zb_policy q;    /* the session's policy with this command */
        char **argv, **env;
};

enum { M_CTL, M_LISTEN, M_CLIENT, M_RELAY, M_SINK };

struct ns_session {
        struct zb_policy *p;
        int listen_fd, ctl_fd, ready_fd;
        int sink[MAX_SINKS];
        struct { uint8_t kind, k; uint16_t i; } map[NS_SESSION_MAX_FDS];
        struct client cl[MAX_CLIENTS];
        struct ns_cgroup *cg;
        const struct zb_result *r;
        const struct ns_proxy *proxy; /* network.allow; NULL: none */
        uint64_t idle_ms, last_ns;
        uint32_t next_id;
        bool stop, stopped_idle;
        char dir[PATH_MAX], id[ID_LEN + 1];
};

void ns_session_attach(struct ns_session *s, int ctl_fd, const struct ns_proxy *proxy)
{
        s->ctl_fd = ctl_fd;
        s->proxy = proxy;
}

void ns_session_close_in_child(struct ns_session *s)
{
        close(s->ctl_fd);
        close(s->listen_fd);
        if (s->ready_fd >= 0)
                close(s->ready_fd);
}

void ns_session_ready(struct ns_session *s, struct ns_cgroup *cg, const struct zb_result *r)
{
        s->cg = cg;
        s->r = r;
        s->last_ns = util_now_ns();
        if (s->ready_fd >= 0) {
                ssize_t n = write(s->ready_fd, "ok", 2);
                (void)n;
                close(s->ready_fd);
                s->ready_fd = -1;
        }
}

static void add_fd(struct ns_session *s, struct pollfd *pfd, int *n, int max, int fd, short ev,
                   int kind, int i, int k)
{
        if (fd < 0 || *n >= max)
                return;
        pfd[*n] = (struct pollfd){ .fd = fd, .events = ev };
        s->map[*n].kind = (uint8_t)kind;
        s->map[*n].i = (uint16_t)i;
        s->map[*n].k = (uint8_t)k;
        (*n)++;
}

int ns_session_fds(struct ns_session *s, struct pollfd *pfd, int max)
{
        int n = 0;
        if (max > NS_SESSION_MAX_FDS)
                max = NS_SESSION_MAX_FDS;
        add_fd(s, pfd, &n, max, s->ctl_fd, POLLIN, M_CTL, 0, 0);
        if (!s->stop)
                add_fd(s, pfd, &n, max, s->listen_fd, POLLIN, M_LISTEN, 0, 0);
        for (int i = 0; i < MAX_CLIENTS; i++) {
                struct client *c = &s->cl[i];
                add_fd(s, pfd, &n, max, c->fd, POLLIN, M_CLIENT, i, 0);
                for (int k = 0; k < 2; k++) {
                        struct relay *rl = &c->io[k];
                        if (rl->len && rl->dst >= 0)
                                add_fd(s, pfd, &n, max, rl->dst, POLLOUT, M_RELAY, i, k);
                        else
                                add_fd(s, pfd, &n, max, rl->src, POLLIN, M_RELAY, i, k);
                }
        }
        for (int i = 0; i < MAX_SINKS; i++)
                add_fd(s, pfd, &n, max, s->sink[i], POLLIN, M_SINK, i, 0);
        return n;
}

/* ---- relays */

static void relay_close_dst(struct relay *rl)
{
        if (rl->dst >= 0)
                close(rl->dst);
        rl->dst = -1;
        rl->off = rl->len = 0;
}

/* Write what is pending; WAIT_MS > 0: wait for room that long. */
static void relay_flush(struct relay *rl, int wait_ms)
{
        while (rl->len && rl->dst >= 0) {
                ssize_t w = write(rl->dst, rl->buf + rl->off, rl->len);
                if (w > 0) {
                        rl->off += (size_t)w;
                        rl->len -= (size_t)w;
                        continue;
                }
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0 && errno == EAGAIN && wait_ms > 0) {
                        struct pollfd pf = { .fd = rl->dst, .events = POLLOUT };
                        if (poll(&pf, 1, wait_ms) > 0)
                                continue;
                }
                if (w < 0 && errno == EAGAIN && wait_ms <= 0)
                        return;
                relay_close_dst(rl); /* the client is gone, or stuck: its output is dropped */
        }
        if (!rl->len)
                rl->off = 0;
}

/* Move what SRC has now; 0 at its end of file. */
static int relay_pull(struct relay *rl, int wait_ms)
{
        if (rl->len)
                return 1;
        ssize_t r = read(rl->src, rl->buf, RELAY_BUF);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
                return 1;
        if (r <= 0)
                return 0;
        if (rl->dst >= 0) {
                rl->off = 0;
                rl->len = (size_t)r;
                relay_flush(rl, wait_ms);
        }
        return 2;
}

static void relay_event(struct relay *rl)
{
        if (rl->len) {
                relay_flush(rl, 0);
                return;
        }
        if (relay_pull(rl, 0) == 0) {
                close(rl->src);
                rl->src = -1;
                relay_close_dst(rl);
        }
}

/* The command ended: everything it wrote is in SRC now. */
static void relay_finish(struct ns_session *s, struct relay *rl)
{
        relay_flush(rl, 2000);
        int r = 2;
        while (rl->src >= 0 && (r = relay_pull(rl, 2000)) == 2)
                ;
        relay_close_dst(rl);
        if (rl->src >= 0) {
                int i = 0;
                while (i < MAX_SINKS && s->sink[i] >= 0)
                        i++;
                if (r != 0 && i < MAX_SINKS)
                        s->sink[i] = rl->src;
                else
                        close(rl->src); /* no room: later writers get EPIPE */
                rl->src = -1;
        }
        free(rl->buf);
        rl->buf = NULL;
}

static void sink_event(struct ns_session *s, int i)
{
        char buf[65536];
        ssize_t r = read(s->sink[i], buf, sizeof(buf));
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
                close(s->sink[i]);
                s->sink[i] = -1;
        }
}

static void client_free_exec(struct client *c)
{
        for (int k = 0; k < 2; k++) {
                struct relay *rl = &c->io[k];
                if (rl->src >= 0)
                        close(rl->src);
                relay_close_dst(rl);
                free(rl->buf);
                *rl = (struct relay){ .src = -1, .dst = -1 };
        }
        util_strv_free(c->argv);
        util_strv_free(c->env);
        c->argv = c->env = NULL;
        c->busy = false;
        c->pid = 0;
}

static void client_close(struct client *c)
{
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        c->stopper = false;
}

static void send_result(struct client *c, const struct zb_result *r)
{
        struct r_result m = { .type = R_RESULT, .exec_id = c->exec_id };
        result_to_msg(r, &m);
        if (c->fd >= 0 && send(c->fd, &m, sizeof(m), MSG_NOSIGNAL) < 0)
                client_close(c);
}

/* A verdict for an exec that went nowhere: into the audit log and to the client. */
static void exec_error(struct ns_session *s, struct client *c, enum pol_setup_kind kind, const char *msg,
                       bool gated)
{
        struct zb_result *r = res_new("namespace");
        if (r) {
                r->status = ZB_STATUS_SETUP_ERROR;
                r->setup_kind = kind;
                r->error = util_strdup(msg);
                if (s->r)
                        for (size_t i = 0; i < s->r->n_applied; i++)
                                res_layer(r, s->r->applied[i], true);
                send_result(c, r);
        }
        if (gated)
                gate_leave(&c->q, &c->gate, r, msg);
        zb_result_free(r);
        client_free_exec(c);
}

static void kill_exec(struct ns_session *s, struct client *c, int sig)
{
        struct ns_sx_kill k = { .type = NS_SX_KILL, .id = c->exec_id, .sig = sig };
        if (send(s->ctl_fd, &k, sizeof(k), MSG_NOSIGNAL) < 0)
                s->stop = true; /* init is unreachable: nothing else can be done */
}

/* Strings of a client's C_EXEC into a NULL-terminated vector. */
static char *take_strings(char *p, const char *end, uint32_t n, char ***out)
{
        char **v = calloc((size_t)n + 1, sizeof(char *));
        *out = v;
        if (!v)
                return NULL;
        for (uint32_t i = 0; i < n; i++) {
                const char *z = memchr(p, '\0', (size_t)(end - p));
                if (!z || !(v[i] = strdup(p)))
                        return NULL;
                p = (char *)z + 1;
        }
        return p;
}

static void add_str(char *blob, size_t size, size_t *len, const char *str, bool *overflow)
{
        size_t k = strlen(str) + 1;
        if (*len + k > size) {
                *overflow = true;
                return;
        }
        memcpy(blob + *len, str, k);
        *len += k;
}

/* FDS: the command's stdin, stdout, stderr, and the exec's terminal (for
 * approval questions) or -1. */
static void on_exec(struct ns_session *s, struct client *c, struct c_exec *m, size_t len, int fds[4])
{
        static struct ns_sx_exec x;
        const char *end = (const char *)m + len;
        char *wd;
        struct zb_error err = { 0 };
        struct zb_result *denied = NULL;

        c->exec_id = ++s->next_id;
        c->busy = true;
        c->timed_out = c->killed = false;
        if (len < offsetof(struct c_exec, blob) || m->argc == 0 || m->argc > 4096 || m->envc > 4096 ||
            !(wd = take_strings(m->blob, end, m->argc, &c->argv)) ||
            !(wd = take_strings(wd, end, m->envc, &c->env)) || !memchr(wd, '\0', (size_t)(end - wd))) {
                exec_error(s, c, ZB_SETUP_FAILED, "session: malformed exec request", false);
                return;
        }
        /* The session's policy, with this command, its variables and workdir. */
        c->q = *s->p;
        c->q.argv = c->argv;
        c->q.argc = m->argc;
        if (*wd)
                c->q.workdir = wd;
        size_t n_env = s->p->n_env;
        for (uint32_t i = 0; i < m->envc; i++)
                if (!strchr(c->env[i], '=')) {
                        exec_error(s, c, ZB_SETUP_FAILED, "session exec: -e needs KEY=VALUE", false);
                        return;
                }
        char **env = calloc(n_env + m->envc + 1, sizeof(char *));
        if (!env) {
                exec_error(s, c, ZB_SETUP_FAILED, "out of memory", false);
                return;
        }
        if (n_env)
                memcpy(env, s->p->env, n_env * sizeof(char *));
        if (m->envc)
                memcpy(env + n_env, c->env, m->envc * sizeof(char *));
        c->q.env = env;
        c->q.n_env = n_env + m->envc;
        c->wall_ms = m->timeout_ms >= 0 ? (uint64_t)m->timeout_ms : s->p->limits.wall_time_ms;
        c->q.limits.wall_time_ms = c->wall_ms;

        /* Approval: asked on the exec's own terminal, if it has one. */
        struct zb_ask_tty tty = { .in_fd = fds[0], .out_fd = fds[3], .scope = "session" };
        if (c->q.approval.ask)
                c->q.approval.ask_data = &tty;
        int r = gate_enter(&c->q, &c->gate, &denied, &err);
        if (r < 0 || denied) {
                if (denied)
                        send_result(c, denied);
                else
                        exec_error(s, c, ZB_SETUP_FAILED, err.message, false);
                zb_result_free(denied);
                c->q.env = NULL;
                c->q.n_env = 0;
                free(env);
                client_free_exec(c);
                return;
        }

        /* To init: argv, the whole environment, the working directory. */
        char **envp = pol_build_env(&c->q);
        bool overflow = false;
        size_t blen = 0;
        x.type = NS_SX_EXEC;
        x.id = c->exec_id;
        x.argc = m->argc;
        x.envc = 0;
        for (uint32_t i = 0; i < m->argc; i++)
                add_str(x.blob, sizeof(x.blob), &blen, c->argv[i], &overflow);
        for (size_t i = 0; envp && envp[i]; i++, x.envc++)
                add_str(x.blob, sizeof(x.blob), &blen, envp[i], &overflow);
        add_str(x.blob, sizeof(x.blob), &blen, c->q.workdir ? c->q.workdir : "", &overflow);
        util_strv_free(envp);
        c->q.env = NULL; /* the audit lines name the command, not its variables */
        c->q.n_env = 0;
        free(env);
        if (!envp || overflow) {
                exec_error(s, c, ZB_SETUP_FAILED,
                           overflow ? "session exec: command and environment exceed 64 KiB" : "out of memory", true);
                return;
        }
        x.blob_len = (uint32_t)blen;

        struct r_accepted a = { .type = R_ACCEPTED, .exec_id = c->exec_id,
                                .output_limit = s->p->limits.output,
                                .output_kill = s->p->limits.output_kill,
                                .output_set = s->p->limits.output_set };
        if (send(c->fd, &a, sizeof(a), MSG_NOSIGNAL) < 0) {
                exec_error(s, c, ZB_SETUP_FAILED, "session exec: the client went away", true);
                return;
        }
        c->oom_base = s->cg ? ns_cgroup_oom_kills(s->cg) : 0;
        ns_proxy_counts_now(s->proxy, &c->net_base);
        c->sent_ns = util_now_ns();
        c->exec_ns = c->deadline_ns = 0;
        /* The command writes into our pipes; we pass it on (relays). */
        int cmd_fds[3] = { fds[0], -1, -1 };
        for (int k = 0; k < 2; k++) {
                int pp[2];
                struct relay *rl = &c->io[k];
                if (pipe2(pp, O_CLOEXEC) < 0 || !(rl->buf = malloc(RELAY_BUF))) {
                        for (int j = 1; j <= k; j++)
                                if (cmd_fds[j] >= 0)
                                        close(cmd_fds[j]);
                        exec_error(s, c, ZB_SETUP_FAILED, "session exec: out of pipes or memory", true);
                        return;
                }
                fcntl(pp[0], F_SETFL, O_NONBLOCK);
                rl->src = pp[0];
                cmd_fds[k + 1] = pp[1];
                rl->dst = fds[k + 1]; /* ours now: on_client does not close it */
                fds[k + 1] = -1;
                fcntl(rl->dst, F_SETFL, O_NONBLOCK); /* only our copy of the write end is left */
        }
        r = send_fds(s->ctl_fd, &x, offsetof(struct ns_sx_exec, blob) + blen, cmd_fds, 3);
        close(cmd_fds[1]);
        close(cmd_fds[2]);
        if (r < 0) {
                exec_error(s, c, ZB_SETUP_FAILED, "session: init is gone", true);
                s->stop = true;
        }
}

static struct client *client_of(struct ns_session *s, uint32_t id)
{
        for (int i = 0; i < MAX_CLIENTS; i++)
                if (s->cl[i].busy && s->cl[i].exec_id == id)
                        return &s->cl[i];
        return NULL;
}

static void on_done(struct ns_session *s, struct client *c, const struct ns_sx_reply *rep, uint64_t now)
{
        struct zb_result *r = res_new("namespace");
        if (!r) {
                exec_error(s, c, ZB_SETUP_FAILED, "out of memory", true);
                return;
        }
        for (size_t i = 0; s->r && i < s->r->n_applied; i++)
                res_layer(r, s->r->applied[i], true);
        for (size_t i = 0; s->r && i < s->r->n_skipped; i++)
                res_layer(r, s->r->skipped[i], false);
        uint64_t start = c->exec_ns ? c->exec_ns : c->sent_ns;
        r->wall_ms = (double)(now - start) / 1e6;
        r->cpu_user_ms = (double)rep->utime_us / 1e3;
        r->cpu_sys_ms = (double)rep->stime_us / 1e3;
        r->peak_memory_bytes = rep->maxrss_kb * 1024u;
        r->oom_killed = s->cg && ns_cgroup_oom_kills(s->cg) > c->oom_base;
        if (s->proxy) {
                /* The proxy's connections while this command ran (the
                 * session's background processes' too). */
                struct ns_proxy_counts cur;
                ns_proxy_counts_now(s->proxy, &cur);
                r->has_proxy = true;
                r->proxy_allowed = cur.allowed - c->net_base.allowed;
                r->proxy_refused = cur.refused - c->net_base.refused;
                r->proxy_failed = cur.failed - c->net_base.failed;
        }
        if (c->timed_out) {
                r->status = ZB_STATUS_TIMEOUT;
        } else if (!rep->exited && rep->code == SIGKILL && r->oom_killed) {
                r->status = ZB_STATUS_OOM;
                r->signal = SIGKILL;
        } else if (!rep->exited && rep->code == SIGXCPU && s->p->limits.cpu_time_ms) {
                r->status = ZB_STATUS_CPU_TIMEOUT;
                r->signal = SIGXCPU;
        } else if (rep->exited) {
                r->status = ZB_STATUS_EXITED;
                r->exit_code = rep->code;
        } else {
                r->status = ZB_STATUS_SIGNALED;
                r->signal = rep->code;
        }
        for (int k = 0; k < 2; k++)
                relay_finish(s, &c->io[k]);
        send_result(c, r);
        gate_leave(&c->q, &c->gate, r, NULL);
        zb_result_free(r);
        client_free_exec(c);
}

static void on_init(struct ns_session *s, uint64_t now)
{
        struct ns_sx_reply rep;
        ssize_t n = recv(s->ctl_fd, &rep, sizeof(rep), MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n != (ssize_t)sizeof(rep)) {
                s->stop = true; /* init is gone */
                return;
        }
        struct client *c = client_of(s, rep.id);
        if (!c)
                return;
        if (rep.type == NS_SX_STARTED) {
                c->pid = rep.pid;
                c->exec_ns = now;
                c->deadline_ns = c->wall_ms ? now + c->wall_ms * 1000000ull : 0;
                if (c->fd < 0 || c->killed)
                        kill_exec(s, c, SIGKILL); /* its client left before it started */
        } else if (rep.type == NS_SX_FAILED) {
                rep.report.msg[sizeof(rep.report.msg) - 1] = '\0';
                char msg[sizeof(rep.report.msg) + 64];
                if (rep.report.err)
                        snprintf(msg, sizeof(msg), "%s: %s", rep.report.msg, strerror(rep.report.err));
                else
                        snprintf(msg, sizeof(msg), "%s", rep.report.msg);
                exec_error(s, c, (enum pol_setup_kind)rep.report.kind, msg, true);
        } else if (rep.type == NS_SX_DONE) {
                on_done(s, c, &rep, now);
        }
        if (!c->busy && c->fd < 0)
                client_close(c);
        s->last_ns = now;
}

/* Whether PID runs in our user namespace. Every zonebox sandbox (a run's,
 * or a session's, whose commands are the daemon's own children) is in a user
 * namespace of its own, so a sandbox that reaches this socket — through a
 * zone over the runtime dir, or a socket fd passed in — is refused although
 * SO_PEERCRED shows our uid. Unreadable counts as foreign. */
static bool peer_in_our_userns(pid_t pid)
{
        char path[64];
        struct stat ours, theirs;
        snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
        return pid > 0 && stat("/proc/self/ns/user", &ours) == 0 && stat(path, &theirs) == 0 &&
               ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino;
}

static void on_accept(struct ns_session *s)
{
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
                return;
        struct ucred cr;
        socklen_t len = sizeof(cr);
        /* The directory is 0700 already; these are the second and third
         * walls: our uid, and not from inside a sandbox. */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || cr.uid != geteuid() ||
            !peer_in_our_userns(cr.pid)) {
                close(fd);
                return;
        }
        for (int i = 0; i < MAX_CLIENTS; i++)
                if (s->cl[i].fd < 0 && !s->cl[i].busy) {
                        s->cl[i].fd = fd;
                        return;
                }
        close(fd); /* too many clients at once */
}

static void on_client(struct ns_session *s, struct client *c)
{
        static struct c_exec m;
        int fds[4];
        ssize_t n = ns_recv_fds(c->fd, &m, sizeof(m), fds, 4, MSG_DONTWAIT);
        if (n == -EAGAIN || n == -EINTR)
                return;
        if (n <= 0) {
                /* Gone: a command still running goes with it. */
                if (c->busy && !c->killed) {
                        c->killed = true;
                        if (c->pid)
                                kill_exec(s, c, SIGKILL);
                }
                int fd = c->fd;
                c->fd = -1;
                close(fd);
                return;
        }
        if (m.type == C_EXEC && !c->busy && fds[2] >= 0)
                on_exec(s, c, &m, (size_t)n, fds);
        else if (m.type == C_KILL && c->busy && c->pid && (size_t)n >= sizeof(struct c_kill))
                kill_exec(s, c, ((struct c_kill *)&m)->sig);
        else if (m.type == C_STOP) {
                c->stopper = true;
                s->stop = true;
        }
        for (int i = 0; i < 4; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
}

bool ns_session_handle(struct ns_session *s, const struct pollfd *pfd, int n, uint64_t now)
{
        for (int j = 0; j < n; j++) {
                if (!pfd[j].revents)
                        continue;
                int i = s->map[j].i, k = s->map[j].k;
                switch (s->map[j].kind) {
                case M_CTL:
                        on_init(s, now);
                        break;
                case M_LISTEN:
                        if (!s->stop)
                                on_accept(s);
                        break;
                case M_CLIENT:
                        if (s->cl[i].fd == pfd[j].fd)
                                on_client(s, &s->cl[i]);
                        break;
                case M_RELAY:
                        if (s->cl[i].io[k].src >= 0)
                                relay_event(&s->cl[i].io[k]);
                        break;
                case M_SINK:
                        if (s->sink[i] == pfd[j].fd)
                                sink_event(s, i);
                        break;
                }
        }
        return s->stop;
}

static bool running(const struct ns_session *s)
{
        for (int i = 0; i < MAX_CLIENTS; i++)
                if (s->cl[i].busy)
                        return true;
        return false;
}

uint64_t ns_session_deadline(const struct ns_session *s)
{
        uint64_t dl = 0;
        for (int i = 0; i < MAX_CLIENTS; i++) {
                const struct client *c = &s->cl[i];
                if (c->busy && c->deadline_ns && !c->timed_out && (!dl || c->deadline_ns < dl))
                        dl = c->deadline_ns;
        }
        if (s->idle_ms && !running(s)) {
                uint64_t idle = s->last_ns + s->idle_ms * 1000000ull;
                if (!dl || idle < dl)
                        dl = idle;
        }
        return dl;
}

bool ns_session_tick(struct ns_session *s, uint64_t now)
{
        for (int i = 0; i < MAX_CLIENTS; i++) {
                struct client *c = &s->cl[i];
                if (c->busy && c->deadline_ns && !c->timed_out && now >= c->deadline_ns) {
                        c->timed_out = true;
                        kill_exec(s, c, SIGKILL);
                }
        }
        if (s->idle_ms && !running(s) && now >= s->last_ns + s->idle_ms * 1000000ull) {
                s->stopped_idle = true;
                s->stop = true;
        }
        return s->stop;
}

/* ------------------------------------------------------------ start */

static int write_info(const char *dir, const struct ns_session *s, const char *name, uint64_t idle_ms)
{
        char path[PATH_MAX], tmp[PATH_MAX];
        struct json_object *o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "id", json_object_new_string(s->id));
        json_object_object_add(o, "name", json_object_new_string(name ? name : ""));
        json_object_object_add(o, "pid", json_object_new_int(getpid()));
        json_object_object_add(o, "pid_start", json_object_new_uint64(proc_start(getpid())));
        json_object_object_add(o, "created", json_object_new_int64((int64_t)time(NULL)));
        json_object_object_add(o, "idle_timeout_ms", json_object_new_uint64(idle_ms));
        pathf(tmp, sizeof(tmp), "%s/%s/info.json.tmp", dir, s->id);
        pathf(path, sizeof(path), "%s/%s/info.json", dir, s->id);
        int r = json_object_to_file_ext(tmp, o, JSON_C_TO_STRING_PLAIN) == 0 && rename(tmp, path) == 0 ? 0 : -EIO;
        json_object_put(o);
        return r;
}

/* The daemon: runs the session until it stops, then removes its directory. */
static _Noreturn void daemon_main(struct zb_policy *p, const char *dir, struct ns_session *s,
                                  const char *name)
{
        struct zb_error err = { 0 };
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
                for (int i = 0; i < 3; i++)
                        dup2(null, i);
                if (null > 2)
                        close(null);
        }
        /* For debugging zonebox itself (sanitizer reports, say). */
        const char *log = getenv("ZONEBOX_SESSION_LOG");
        int lfd = log && log[0] == '/' ? open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600) : -1;
        if (lfd >= 0) {
                dup2(lfd, STDERR_FILENO);
                close(lfd);
        }
        /* Termination signals stop the session (supervise.c forwards the
         * blocked ones to us through a signalfd). */
        util_block_forwarded();
        signal(SIGPIPE, SIG_IGN);

        struct zb_result *r = res_new("namespace");
        /* Here, not in the starter: a client's SO_PEERCRED names the
         * process that called listen(), and clients check it is us. */
        int ret = listen(s->listen_fd, 64) < 0 ? err_errno(&err, errno, "session: listen")
                  : !r ? err_set(&err, ENOMEM, "out of memory")
                     : write_info(dir, s, name, s->idle_ms) < 0
                               ? err_set(&err, EIO, "session: cannot write %s/%s/info.json", dir, s->id)
                               : ns_run(p, r, s, &err);
        if (s->ready_fd >= 0) {
                /* Never became ready: say why. */
                char msg[600];
                int k = snprintf(msg, sizeof(msg), "%s",
                                 ret < 0 ? err.message
                                 : r && r->error ? r->error
                                                 : "the session's sandbox ended during setup");
                if (k > 0) {
                        ssize_t w = write(s->ready_fd, msg, strlen(msg));
                        (void)w;
                }
        }
        /* Whoever waits for a result hears that the session is over. */
        for (int i = 0; i < MAX_CLIENTS; i++)
                if (s->cl[i].busy)
                        exec_error(s, &s->cl[i], ZB_SETUP_FAILED,
                                   s->stopped_idle ? "session: stopped (idle timeout)"
                                                   : "session: ended while the command ran (stopped, or its init was killed)",
                                   true);
        session_dir_remove(dir, s->id);
        char *final = r ? zb_result_json(r) : NULL;
        for (int i = 0; i < MAX_CLIENTS; i++)
                if (s->cl[i].fd >= 0 && s->cl[i].stopper && final) {
                        uint32_t t = R_FINAL;
                        struct iovec iov[2] = { { .iov_base = &t, .iov_len = sizeof(t) },
                                                { .iov_base = final, .iov_len = strlen(final) } };
                        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
                        ssize_t w = sendmsg(s->cl[i].fd, &mh, MSG_NOSIGNAL);
                        (void)w;
                }
        free(final);
        zb_result_free(r);
        /* exit, not _exit: coverage counters and sanitizers' reports (to
         * ZONEBOX_SESSION_LOG) are written at exit; stdout is /dev/null. */
        exit(0);
}

static void random_id(char id[ID_LEN + 1])
{
        unsigned char b[ID_LEN / 2];
        if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
                uint64_t t = util_now_ns() ^ ((uint64_t)getpid() << 32);
                memcpy(b, &t, sizeof(b));
        }
        for (size_t i = 0; i < sizeof(b); i++)
                snprintf(id + 2 * i, 3, "%02x", b[i]);
}

int zb_session_start(struct zb_policy *p, const char *runtime_dir, const char *name,
                     long long idle_timeout_ms, char *id_out, size_t id_size, struct zb_error *err)
{
        char dir[PATH_MAX], path[PATH_MAX];
        struct ns_session *s;
        int r;

        p->session = true;
        if (p->argc)
                return err_set(err, EINVAL, "session start: takes no command (use zonebox session exec)");
        if (name && !sess_name_valid(name))
                return err_set(err, EINVAL,
                                    "--name: '%s' is not a session name (1-64 of A-Z a-z 0-9 _ . -, not 12 hex digits)",
                                    name);
        if (p->backend != ZB_BACKEND_NAMESPACE)
                return err_set(err, ENOTSUP, "backend: sessions run on the namespace backend only");
        if (p->capture)
                return err_set(err, EINVAL, "session start: --json applies to session exec");
        r = zb_policy_validate(p, err);
        if (r < 0)
                return r;
        r = audit_check(p, err);
        if (r < 0)
                return r;
        r = rt_dir(runtime_dir, true, dir, sizeof(dir), err);
        if (r < 0)
                return r;
        /* --runtime-dir may name a dir validation did not know of. */
        r = pol_zones_avoid(p, dir, "session runtime dir", err);
        if (r < 0)
                return r;
        /* Also clears the entries of daemons that were killed. */
        struct info *live;
        size_t n_live;
        r = sessions_scan(dir, &live, &n_live, err);
        if (r < 0)
                return r;
        for (size_t i = 0; name && i < n_live; i++)
                if (strcmp(live[i].name, name) == 0) {
                        r = err_set(err, EEXIST, "--name: session '%s' exists (%s)", name, live[i].id);
                        break;
                }
        free(live);
        if (r < 0)
                return r;
        s = calloc(1, sizeof(*s));
        if (!s)
                return err_set(err, ENOMEM, "out of memory");
        s->p = p;
        s->ctl_fd = s->listen_fd = s->ready_fd = -1;
        for (int i = 0; i < MAX_CLIENTS; i++) {
                s->cl[i].fd = -1;
                for (int k = 0; k < 2; k++)
                        s->cl[i].io[k] = (struct relay){ .src = -1, .dst = -1 };
        }
        for (int i = 0; i < MAX_SINKS; i++)
                s->sink[i] = -1;
        s->idle_ms = idle_timeout_ms >= 0 ? (uint64_t)idle_timeout_ms
                     : p->idle_timeout_ms ? p->idle_timeout_ms : DEFAULT_IDLE_TIMEOUT_MS;
        random_id(s->id);
        snprintf(s->dir, sizeof(s->dir), "%s", dir);
        pathf(path, sizeof(path), "%s/%s", dir, s->id);
        if (mkdir(path, 0700) < 0) {
                r = err_errno(err, errno, "session: mkdir %s", path);
                free(s);
                return r;
        }
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        pathf(sa.sun_path, sizeof(sa.sun_path), "%s/%s/sock", dir, s->id);
        s->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            chmod(sa.sun_path, 0600) < 0) {
                r = err_errno(err, errno, "session: socket %s", sa.sun_path);
                goto fail;
        }
        int ready[2];
        if (pipe2(ready, O_CLOEXEC) < 0) {
                r = err_errno(err, errno, "session: pipe");
                goto fail;
        }
        pid_t pid = fork();
        if (pid < 0) {
                r = err_errno(err, errno, "session: fork");
                close(ready[0]);
                close(ready[1]);
                goto fail;
        }
        if (pid == 0) {
                /* Twice, so the daemon is nobody's child but init's (or a
                 * subreaper's) and outlives this command. */
                close(ready[0]);
                setsid();
                pid_t d = fork();
                if (d != 0)
                        _exit(d < 0 ? 1 : 0);
                s->ready_fd = ready[1];
                daemon_main(p, dir, s, name);
        }
        close(ready[1]);
        close(s->listen_fd);
        int wst;
        waitpid(pid, &wst, 0);
        char msg[600];
        ssize_t n, got = 0;
        while ((n = read(ready[0], msg + got, sizeof(msg) - 1 - (size_t)got)) > 0 ||
               (n < 0 && errno == EINTR))
                if (n > 0)
                        got += n;
        close(ready[0]);
        msg[got] = '\0';
        if (strcmp(msg, "ok") == 0) {
                snprintf(id_out, id_size, "%s", s->id);
                free(s);
                return 0;
        }
        r = err_set(err, EIO, "%s", got ? msg : "session: the daemon died during setup");
        session_dir_remove(dir, s->id);
        free(s);
        return r;
fail:
        if (s->listen_fd >= 0)
                close(s->listen_fd);
        session_dir_remove(dir, s->id);
        free(s);
        return r;
}

/* ================================================================ client */

static int connect_session(const char *runtime_dir, const char *key, struct info *in,
                           struct zb_error *err)
{
        char dir[PATH_MAX];
        int r = rt_dir(runtime_dir, false, dir, sizeof(dir), err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, "session '%s': no such session (zonebox session list)", key);
        if (r < 0 || (r = session_find(dir, key, in, err)) < 0)
                return r;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        pathf(sa.sun_path, sizeof(sa.sun_path), "%s/%s/sock", dir, in->id);
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return err_errno(err, errno, "session: socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                r = err_errno(err, errno, "session %s: connect", in->id);
                close(fd);
                return r;
        }
        struct ucred cr;
        socklen_t len = sizeof(cr);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || cr.uid != geteuid() ||
            cr.pid != in->pid) {
                close(fd);
                return err_set(err, EPERM, "session %s: the socket is not its daemon's", in->id);
        }
        return fd;
}

struct exec_io {
        struct zb_result *r;
        bool capture;
        uint64_t limit;
        bool limit_kill, output_killed;
        bool pass_capped; /* the session's limits.output was given */
        int sock;
};

/* 2: data moved, 1: nothing there now, 0: end of file (or no reader). */
static int pump(struct exec_io *io, int fd, int slot)
{
        char buf[65536];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return 1;
        if (n <= 0)
                return 0;
        /* Pass-through is capped only when limits.output was given (output.c). */
        struct outbuf *b = slot ? &io->r->err : &io->r->out;
        int pass_fd = io->capture ? -1 : slot ? STDERR_FILENO : STDOUT_FILENO;
        uint64_t limit = io->capture || io->pass_capped ? io->limit : UINT64_MAX;
        int t = out_take(b, slot ? &io->r->out : &io->r->err, pass_fd, buf, (size_t)n, limit);
        if (t & ZB_OUTPUT_CLOSED)
                return 0;
        if ((t & ZB_OUTPUT_DROPPED) && io->limit_kill && !io->output_killed) {
                struct c_kill k = { .type = C_KILL, .sig = SIGKILL };
                io->output_killed = true;
                if (send(io->sock, &k, sizeof(k), MSG_NOSIGNAL) < 0)
                        return 0;
        }
        return 2;
}

int zb_session_exec(const char *runtime_dir, const char *session, char *const argv[], int argc,
                    char *const env[], int n_env, const char *workdir, long long timeout_ms,
                    int capture, struct zb_result **out, struct zb_error *err)
{
        static struct c_exec m;
        struct info in;
        int pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
        size_t blen = 0;
        bool overflow = false;
        int ret, null = -1, sfd = -1;

        *out = NULL;
        if (argc <= 0 || !argv[0][0])
                return err_set(err, EINVAL, "command: empty command (give it after --)");
        for (int i = 0; i < n_env; i++)
                if (!strchr(env[i], '=') || env[i][0] == '=')
                        return err_set(err, EINVAL, "-e: '%s' is not KEY=VALUE", env[i]);
        if (workdir && workdir[0] != '/')
                return err_set(err, EINVAL, "-w: '%s' is not an absolute path", workdir);
        m.type = C_EXEC;
        m.argc = (uint32_t)argc;
        m.envc = (uint32_t)n_env;
        m.timeout_ms = timeout_ms;
        for (int i = 0; i < argc; i++)
                add_str(m.blob, sizeof(m.blob), &blen, argv[i], &overflow);
        for (int i = 0; i < n_env; i++)
                add_str(m.blob, sizeof(m.blob), &blen, env[i], &overflow);
        add_str(m.blob, sizeof(m.blob), &blen, workdir ? workdir : "", &overflow);
        if (overflow)
                return err_set(err, E2BIG, "command: command and -e variables exceed 64 KiB");

        int sock = connect_session(runtime_dir, session, &in, err);
        if (sock < 0)
                return sock;
        struct zb_result *r = res_new("namespace");
        if (!r || pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0) {
                ret = err_errno(err, errno ? errno : ENOMEM, "session exec: pipe");
                goto done;
        }
        /* No stdin of our own: the command gets /dev/null. */
        null = fcntl(STDIN_FILENO, F_GETFD) < 0 ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
        /* The fourth: where approval questions go, if ours is a terminal. */
        int fds[4] = { null >= 0 ? null : STDIN_FILENO, pout[1], perr[1], STDERR_FILENO };
        ret = send_fds(sock, &m, offsetof(struct c_exec, blob) + blen, fds, isatty(STDERR_FILENO) ? 4 : 3);
        close(pout[1]);
        close(perr[1]);
        pout[1] = perr[1] = -1;
        if (ret < 0) {
                ret = err_errno(err, -ret, "session %s: send", in.id);
                goto done;
        }
        r->captured = capture != 0;
        struct exec_io io = { .r = r, .capture = capture != 0, .limit = UINT64_MAX, .sock = sock };
        /* Termination signals the caller blocked go to the command. */
        sfd = util_forward_signalfd(NULL);
        bool have = false;
        uint32_t accepted = 0;
        struct r_result res;
        /* Until the verdict and the end of both pipes: the daemon closes
         * them once it has passed on everything the command wrote. */
        while (!have || pout[0] >= 0 || perr[0] >= 0) {
                struct pollfd pf[4] = { { .fd = have ? -1 : sock, .events = POLLIN }, { .fd = pout[0], .events = POLLIN },
                                        { .fd = perr[0], .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
                if (poll(pf, 4, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        ret = err_errno(err, errno, "session exec: poll");
                        goto done;
                }
                for (int k = 1; k <= 2; k++)
                        if (pf[k].revents && !pump(&io, pf[k].fd, k - 1)) {
                                close(k == 1 ? pout[0] : perr[0]);
                                if (k == 1)
                                        pout[0] = -1;
                                else
                                        perr[0] = -1;
                        }
                if (pf[3].revents) {
                        struct signalfd_siginfo si;
                        if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                                struct c_kill k = { .type = C_KILL, .sig = (int32_t)si.ssi_signo };
                                send(sock, &k, sizeof(k), MSG_NOSIGNAL);
                        }
                }
                if (!pf[0].revents || have)
                        continue;
                union {
                        struct r_accepted a;
                        struct r_result res;
                        uint32_t type;
                } u;
                ssize_t n = recv(sock, &u, sizeof(u), MSG_DONTWAIT);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n <= 0) {
                        ret = err_set(err, EPIPE, "session %s: the session ended before the command did", in.id);
                        goto done;
                }
                if (u.a.type == R_ACCEPTED && n == (ssize_t)sizeof(u.a)) {
                        io.limit = u.a.output_limit;
                        io.limit_kill = u.a.output_kill != 0;
                        io.pass_capped = u.a.output_set != 0;
                        accepted = u.a.exec_id;
                } else if (u.type == R_RESULT && n == (ssize_t)sizeof(u.res) &&
                           (!accepted || u.res.exec_id == accepted)) {
                        res = u.res;
                        have = true;
                }
        }
        msg_to_result(&res, r);
        if (io.output_killed && (r->status == ZB_STATUS_SIGNALED || r->status == ZB_STATUS_EXITED))
                r->status = ZB_STATUS_OUTPUT_LIMIT;
        *out = r;
        r = NULL;
        ret = 0;
done:
        if (null >= 0)
                close(null);
        if (sfd >= 0)
                close(sfd);
        if (pout[0] >= 0)
                close(pout[0]);
        if (perr[0] >= 0)
                close(perr[0]);
        if (pout[1] >= 0)
                close(pout[1]);
        if (perr[1] >= 0)
                close(perr[1]);
        close(sock);
        zb_result_free(r);
        return ret;
}

int zb_session_stop(const char *runtime_dir, const char *session, char **final_json, struct zb_error *err)
{
        struct info in = { 0 };
        if (final_json)
                *final_json = NULL;
        int sock = connect_session(runtime_dir, session, &in, err);
        if (sock < 0)
                return sock;
        int pidfd = (int)sys_pidfd_open(in.pid, 0);
        struct c_kill m = { .type = C_STOP };
        if (send(sock, &m, sizeof(m), MSG_NOSIGNAL) < 0) {
                close(sock);
                if (pidfd >= 0)
                        close(pidfd);
                return err_errno(err, errno, "session %s: send", in.id);
        }
        /* R_FINAL, then the daemon exits once everything is removed. */
        static char buf[NS_SX_MAX];
        struct pollfd pf = { .fd = sock, .events = POLLIN };
        while (poll(&pf, 1, STOP_WAIT_MS) > 0) {
                ssize_t n = recv(sock, buf, sizeof(buf) - 1, 0);
                if (n <= 0)
                        break;
                uint32_t t;
                memcpy(&t, buf, sizeof(t));
                if (t == R_FINAL && final_json && !*final_json) {
                        buf[n] = '\0';
                        *final_json = util_strdup(buf + sizeof(t));
                }
        }
        close(sock);
        int ret = 0;
        if (pidfd >= 0) {
                struct pollfd pp = { .fd = pidfd, .events = POLLIN };
                if (poll(&pp, 1, STOP_WAIT_MS) <= 0)
                        ret = err_set(err, ETIMEDOUT, "session %s: the daemon (pid %d) did not exit",
                                           in.id, (int)in.pid);
                close(pidfd);
        }
        return ret;
}

int zb_session_list(const char *runtime_dir, char **json, struct zb_error *err)
{
        char dir[PATH_MAX];
        struct info *all = NULL;
        size_t n = 0;
        *json = NULL;
        int r = rt_dir(runtime_dir, false, dir, sizeof(dir), err);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r == 0 && (r = sessions_scan(dir, &all, &n, err)) < 0)
                return r;
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < n; i++) {
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "id", json_object_new_string(all[i].id));
                json_object_object_add(o, "name", all[i].name[0] ? json_object_new_string(all[i].name) : NULL);
                json_object_object_add(o, "pid", json_object_new_int(all[i].pid));
                json_object_object_add(o, "created", json_object_new_int64(all[i].created));
                json_object_object_add(o, "idle_timeout_ms", json_object_new_uint64(all[i].idle_timeout_ms));
                json_object_array_add(a, o);
        }
        free(all);
        *json = a ? util_strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN)) : NULL;
        json_object_put(a);
        return *json ? 0 : err_set(err, ENOMEM, "out of memory");
}
