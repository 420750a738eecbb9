/* The client side of sessions: `zonebox session exec` and `stop`. A client
 * checks, before it sends anything, that the socket's peer is the daemon
 * info.json names (uid and pid). An exec sends its command with its stdin
 * and two pipes and reads the command's output from those pipes while it
 * waits for the verdict; signals the caller blocked go to the command. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "session.h"
#include "session_int.h"
#include "sys.h"
#include "wire.h"

#define STOP_WAIT_MS 30000

static int connect_session(const char *runtime_dir, const char *key, struct sess_info *in,
                           struct zb_error *err)
{
        char dir[PATH_MAX];
        int r = sess_runtime_dir(runtime_dir, false, dir, sizeof(dir), err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, "session '%s': no such session (zonebox session list)", key);
        if (r < 0 || (r = sess_find(dir, key, in, err)) < 0)
                return r;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        sess_pathf(sa.sun_path, sizeof(sa.sun_path), "%s/%s/sock", dir, in->id);
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

/* The client's large buffers, on the heap: on the stack they made a
 * 100 KiB frame, every page of which the stack-clash probes touched, about
 * 25 page faults in every `session exec` (a fresh process each time). */
union exec_reply {
        struct sess_reply_accepted a;
        struct sess_reply_result res;
        uint32_t type;
};

struct exec_bufs {
        char data[65536];             /* one read of the command's output */
        union exec_reply u;           /* one reply of the daemon */
        struct sess_reply_result res; /* the verdict */
};

struct exec_io {
        struct zb_result *r;
        struct exec_bufs *b;
        bool capture;
        uint64_t limit;
        bool limit_kill, output_killed;
        bool pass_capped; /* the session's limits.output was given */
        int sock;
};

/* 2: data moved, 1: nothing there now, 0: end of file (or no reader). */
static int pump(struct exec_io *io, int fd, int slot)
{
        char *buf = io->b->data;
        ssize_t n = read(fd, buf, sizeof(io->b->data));
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
                struct sess_req_kill k = { .type = SESS_REQ_KILL, .sig = SIGKILL };
                io->output_killed = true;
                if (send(io->sock, &k, sizeof(k), MSG_NOSIGNAL) < 0)
                        return 0;
        }
        return 2;
}

/* The SESS_REQ_EXEC record into M (*LEN: its size), after the checks a
 * client can make itself. */
static int exec_request(struct sess_req_exec *m, size_t *len, char *const argv[], int argc, char *const env[],
                        int n_env, const char *workdir, long long timeout_ms, struct zb_error *err)
{
        size_t blen = 0;
        bool overflow = false;

        if (argc <= 0 || !argv[0][0])
                return err_set(err, EINVAL, "command: empty command (give it after --)");
        for (int i = 0; i < n_env; i++)
                if (!strchr(env[i], '=') || env[i][0] == '=')
                        return err_set(err, EINVAL, "-e: '%s' is not KEY=VALUE", env[i]);
        if (workdir && workdir[0] != '/')
                return err_set(err, EINVAL, "-w: '%s' is not an absolute path", workdir);
        m->type = SESS_REQ_EXEC;
        m->argc = (uint32_t)argc;
        m->envc = (uint32_t)n_env;
        m->timeout_ms = timeout_ms;
        for (int i = 0; i < argc; i++)
                sess_blob_add(m->blob, sizeof(m->blob), &blen, argv[i], &overflow);
        for (int i = 0; i < n_env; i++)
                sess_blob_add(m->blob, sizeof(m->blob), &blen, env[i], &overflow);
        sess_blob_add(m->blob, sizeof(m->blob), &blen, workdir ? workdir : "", &overflow);
        if (overflow)
                return err_set(err, E2BIG, "command: command and -e variables exceed 64 KiB");
        *len = offsetof(struct sess_req_exec, blob) + blen;
        return 0;
}

/* One reply of the daemon: SESS_REPLY_ACCEPTED sets the output limits and
 * *ACCEPTED (the exec's id), SESS_REPLY_RESULT for it fills *RES and
 * *HAVE. -1 when the daemon hung up. */
static int on_reply(struct exec_io *io, int sock, uint32_t *accepted, bool *have)
{
        union exec_reply *u = &io->b->u;
        ssize_t n = recv(sock, u, sizeof(*u), MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return 0;
        if (n <= 0)
                return -1;
        if (u->a.type == SESS_REPLY_ACCEPTED && n == (ssize_t)sizeof(u->a)) {
                io->limit = u->a.output_limit;
                io->limit_kill = u->a.output_kill != 0;
                io->pass_capped = u->a.output_set != 0;
                *accepted = u->a.exec_id;
        } else if (u->type == SESS_REPLY_RESULT && n == (ssize_t)sizeof(u->res) &&
                   (!*accepted || u->res.exec_id == *accepted)) {
                memcpy(&io->b->res, &u->res, sizeof(u->res));
                *have = true;
        }
        return 0;
}

int zb_session_exec(const char *runtime_dir, const char *session, char *const argv[], int argc,
                    char *const env[], int n_env, const char *workdir, long long timeout_ms,
                    int capture, struct zb_result **out, struct zb_error *err)
{
        static struct sess_req_exec m;
        struct sess_info in;
        _cleanup_(freep) struct exec_bufs *bufs = NULL;
        int pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
        size_t mlen = 0;
        int ret, null = -1, sfd = -1;

        *out = NULL;
        ret = exec_request(&m, &mlen, argv, argc, env, n_env, workdir, timeout_ms, err);
        if (ret < 0)
                return ret;

        int sock = connect_session(runtime_dir, session, &in, err);
        if (sock < 0)
                return sock;
        struct zb_result *r = res_new(pol_backend_name(ZB_BACKEND_NAMESPACE));
        bufs = malloc(sizeof(*bufs)); /* not calloc: only the pages used are touched */
        if (!r || !bufs || pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0) {
                ret = err_errno(err, errno ? errno : ENOMEM, "session exec: pipe");
                goto done;
        }
        /* No stdin of our own: the command gets /dev/null. */
        null = fcntl(STDIN_FILENO, F_GETFD) < 0 ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
        /* The fourth: where approval questions go, if ours is a terminal. */
        int fds[4] = { null >= 0 ? null : STDIN_FILENO, pout[1], perr[1], STDERR_FILENO };
        ret = sess_send_fds(sock, &m, mlen, fds, isatty(STDERR_FILENO) ? 4 : 3);
        close(pout[1]);
        close(perr[1]);
        pout[1] = perr[1] = -1;
        if (ret < 0) {
                ret = err_errno(err, -ret, "session %s: send", in.id);
                goto done;
        }
        r->captured = capture != 0;
        struct exec_io io = { .r = r, .b = bufs, .capture = capture != 0, .limit = UINT64_MAX, .sock = sock };
        /* Termination signals the caller blocked go to the command. */
        sfd = util_forward_signalfd(NULL);
        bool have = false;
        uint32_t accepted = 0;
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
                                struct sess_req_kill k = { .type = SESS_REQ_KILL, .sig = (int32_t)si.ssi_signo };
                                send(sock, &k, sizeof(k), MSG_NOSIGNAL);
                        }
                }
                if (!pf[0].revents || have)
                        continue;
                if (on_reply(&io, sock, &accepted, &have) < 0) {
                        ret = err_set(err, EPIPE, "session %s: the session ended before the command did", in.id);
                        goto done;
                }
        }
        sess_result_unpack(&bufs->res, r);
        if (io.output_killed && (r->status == ZB_STATUS_SIGNALED || r->status == ZB_STATUS_EXITED))
                r->status = ZB_STATUS_OUTPUT_LIMIT;
        res_viol_output(r, io.limit);
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
        struct sess_info in = { 0 };
        if (final_json)
                *final_json = NULL;
        int sock = connect_session(runtime_dir, session, &in, err);
        if (sock < 0)
                return sock;
        int pidfd = (int)sys_pidfd_open(in.pid, 0);
        struct sess_req_kill m = { .type = SESS_REQ_STOP };
        if (send(sock, &m, sizeof(m), MSG_NOSIGNAL) < 0) {
                close(sock);
                if (pidfd >= 0)
                        close(pidfd);
                return err_errno(err, errno, "session %s: send", in.id);
        }
        /* SESS_REPLY_FINAL, then the daemon exits once everything is removed. */
        static char buf[SESS_RECORD_MAX];
        struct pollfd pf = { .fd = sock, .events = POLLIN };
        while (poll(&pf, 1, STOP_WAIT_MS) > 0) {
                ssize_t n = recv(sock, buf, sizeof(buf) - 1, 0);
                if (n <= 0)
                        break;
                uint32_t t;
                memcpy(&t, buf, sizeof(t));
                if (t == SESS_REPLY_FINAL && final_json && !*final_json) {
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
