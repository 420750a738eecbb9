/* `zonebox session start`: checks the policy, makes the session's
 * directory and socket, and forks the daemon twice so that it outlives the
 * command that started it; the starter returns once the daemon says the
 * sandbox is ready, or why it is not. The daemon's main runs the session
 * (ns_run with session_daemon.c's hooks) and, when it ends, answers every
 * waiting client and removes the session's directory. If the daemon is
 * killed, init dies with it (parent-death signal) and the next scan
 * (session_dir.c) removes what is left. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "../core/audit.h"
#include "ns.h"
#include "session.h"
#include "session_int.h"
#include "wire.h"

#define DEFAULT_IDLE_TIMEOUT_MS (30ull * 60 * 1000)

static int write_info(const char *dir, const struct sess_daemon *s, const char *name, uint64_t idle_ms)
{
        char path[PATH_MAX], tmp[PATH_MAX];
        struct json_object *o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "id", json_object_new_string(s->id));
        json_object_object_add(o, "name", json_object_new_string(name ? name : ""));
        json_object_object_add(o, "pid", json_object_new_int(getpid()));
        json_object_object_add(o, "pid_start", json_object_new_uint64(sess_proc_start(getpid())));
        json_object_object_add(o, "created", json_object_new_int64((int64_t)time(NULL)));
        json_object_object_add(o, "idle_timeout_ms", json_object_new_uint64(idle_ms));
        sess_pathf(tmp, sizeof(tmp), "%s/%s/info.json.tmp", dir, s->id);
        sess_pathf(path, sizeof(path), "%s/%s/info.json", dir, s->id);
        int r = json_object_to_file_ext(tmp, o, JSON_C_TO_STRING_PLAIN) == 0 && rename(tmp, path) == 0 ? 0 : -EIO;
        json_object_put(o);
        return r;
}

/* The daemon: runs the session until it stops, then removes its directory. */
static _Noreturn void daemon_main(struct zb_policy *p, const char *dir, struct sess_daemon *s,
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

        struct zb_result *r = res_new(pol_backend_name(ZB_BACKEND_NAMESPACE));
        struct ns_supervise_hooks hooks = sess_hooks(s);
        /* The stream was checked by the starter; lost lines never stop us. */
        struct zb_error eerr = { 0 };
        if (events_open(p, &s->ev, &eerr) == 0) {
                events_watch(&s->ev, r);
                events_emit(&s->ev, p, "start", NULL, NULL, NULL);
        }
        /* Here, not in the starter: a client's SO_PEERCRED names the
         * process that called listen(), and clients check it is us. */
        int ret = listen(s->listen_fd, 64) < 0 ? err_errno(&err, errno, "session: listen")
                  : !r ? err_set(&err, ENOMEM, "out of memory")
                     : write_info(dir, s, name, s->idle_ms) < 0
                               ? err_set(&err, EIO, "session: cannot write %s/%s/info.json", dir, s->id)
                               : ns_run(p, r, &hooks, &err);
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
                        sess_exec_error(s, &s->cl[i], ZB_SETUP_FAILED,
                                        s->stopped_idle ? "session: stopped (idle timeout)"
                                                        : "session: ended while the command ran (stopped, or its init was killed)",
                                        true);
        sess_dir_remove(dir, s->id);
        if (r)
                r->viol.on_new = NULL;
        events_emit(&s->ev, p, "end", NULL, r, ret < 0 ? err.message : NULL);
        events_close(&s->ev);
        char *final = r ? zb_result_json(r) : NULL;
        for (int i = 0; i < MAX_CLIENTS; i++)
                if (s->cl[i].fd >= 0 && s->cl[i].stopper && final) {
                        uint32_t t = SESS_REPLY_FINAL;
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

static void random_id(char id[SESSION_ID_LEN + 1])
{
        unsigned char b[SESSION_ID_LEN / 2];
        if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
                uint64_t t = util_now_ns() ^ ((uint64_t)getpid() << 32);
                memcpy(b, &t, sizeof(b));
        }
        for (size_t i = 0; i < sizeof(b); i++)
                snprintf(id + 2 * i, 3, "%02x", b[i]);
}

/* Everything a start checks before it changes anything; DIR: the
 * sessions directory (created), from which dead sessions were cleared. */
static int start_check(struct zb_policy *p, const char *runtime_dir, const char *name, char dir[PATH_MAX],
                       struct zb_error *err)
{
        int r;
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
        if (r == 0)
                r = pol_image_check_resolved(p, err);
        if (r < 0)
                return r;
        r = audit_check(p, err);
        if (r < 0)
                return r;
        if (p->audit.events && strncmp(p->audit.events, "fd:", 3) == 0)
                return err_set(err, EINVAL,
                               "--events (audit.events): a session's daemon outlives this command: give a file, not %s",
                               p->audit.events);
        struct zb_events ev = { .fd = -1 };
        r = events_open(p, &ev, err);
        events_close(&ev);
        if (r < 0)
                return r;
        r = sess_runtime_dir(runtime_dir, true, dir, PATH_MAX, err);
        if (r < 0)
                return r;
        /* --runtime-dir may name a dir validation did not know of. */
        r = pol_zones_avoid(p, dir, "session runtime dir", err);
        if (r < 0)
                return r;
        /* Also clears the entries of daemons that were killed. */
        struct sess_info *live;
        size_t n_live;
        r = sess_scan(dir, &live, &n_live, err);
        if (r < 0)
                return r;
        for (size_t i = 0; name && i < n_live; i++)
                if (strcmp(live[i].name, name) == 0) {
                        r = err_set(err, EEXIST, "--name: session '%s' exists (%s)", name, live[i].id);
                        break;
                }
        free(live);
        return r;
}

/* A daemon's state, every fd -1, with a new random id; NULL: no memory. */
static struct sess_daemon *daemon_new(struct zb_policy *p, const char *dir, long long idle_timeout_ms)
{
        struct sess_daemon *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->p = p;
        s->init_fd = s->listen_fd = s->ready_fd = -1;
        s->ev.fd = -1;
        for (int i = 0; i < MAX_CLIENTS; i++) {
                s->cl[i].fd = -1;
                for (int k = 0; k < 2; k++)
                        s->cl[i].io[k] = (struct sess_relay){ .src = -1, .dst = -1 };
        }
        for (int i = 0; i < MAX_SINKS; i++)
                s->sink[i] = -1;
        s->idle_ms = idle_timeout_ms >= 0 ? (uint64_t)idle_timeout_ms
                     : p->idle_timeout_ms ? p->idle_timeout_ms : DEFAULT_IDLE_TIMEOUT_MS;
        random_id(s->id);
        snprintf(s->dir, sizeof(s->dir), "%s", dir);
        return s;
}

/* What the daemon wrote to the ready pipe until it closed it ("ok", or
 * why the session did not start) into MSG; its length. */
static ssize_t read_ready(int fd, char *msg, size_t size)
{
        ssize_t n, got = 0;
        while ((n = read(fd, msg + got, size - 1 - (size_t)got)) > 0 || (n < 0 && errno == EINTR))
                if (n > 0)
                        got += n;
        msg[got] = '\0';
        return got;
}

int zb_session_start(struct zb_policy *p, const char *runtime_dir, const char *name,
                     long long idle_timeout_ms, char *id_out, size_t id_size, struct zb_error *err)
{
        char dir[PATH_MAX], path[PATH_MAX];
        struct sess_daemon *s;
        int r;

        p->session = true;
        r = start_check(p, runtime_dir, name, dir, err);
        if (r < 0)
                return r;
        s = daemon_new(p, dir, idle_timeout_ms);
        if (!s)
                return err_set(err, ENOMEM, "out of memory");
        sess_pathf(path, sizeof(path), "%s/%s", dir, s->id);
        if (mkdir(path, 0700) < 0) {
                r = err_errno(err, errno, "session: mkdir %s", path);
                free(s);
                return r;
        }
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        sess_pathf(sa.sun_path, sizeof(sa.sun_path), "%s/%s/sock", dir, s->id);
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
        ssize_t got = read_ready(ready[0], msg, sizeof(msg));
        close(ready[0]);
        if (strcmp(msg, "ok") == 0) {
                snprintf(id_out, id_size, "%s", s->id);
                free(s);
                return 0;
        }
        r = err_set(err, EIO, "%s", got ? msg : "session: the daemon died during setup");
        sess_dir_remove(dir, s->id);
        free(s);
        return r;
fail:
        if (s->listen_fd >= 0)
                close(s->listen_fd);
        sess_dir_remove(dir, s->id);
        free(s);
        return r;
}
