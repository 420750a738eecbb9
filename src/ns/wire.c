/* The sessions' wire format (wire.h): records with SCM_RIGHTS fds over
 * SOCK_SEQPACKET, strings packed into a record's blob, and a result packed
 * into a fixed-size record and back. Pure but for sendmsg/recvmsg: a
 * received record is never trusted further than its length says, and fds
 * that do not fit are closed, never leaked. */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/socket.h>

#include "wire.h"

int sess_send_fds(int sock, const void *msg, size_t len, const int *fds, int nfds)
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

ssize_t sess_recv_fds(int sock, void *msg, size_t len, int *fds, int max, int flags)
{
        union {
                char buf[CMSG_SPACE(SESS_MAX_PASSED_FDS * sizeof(int))];
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

void sess_result_pack(const struct zb_result *r, struct sess_reply_result *m)
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
        viol_pack(&r->viol, m->viol, sizeof(m->viol));
}

/* Layer names are literals in a result: map each received name to ours. */
static const char *const known_layers[] = {
        "user", "mount", "pid", "ipc", "uts", "cgroupns", "rootfs_readonly", "capabilities",
        "rlimits", "net", "no_new_privileges", "wall_time", "resources", "seccomp", "landlock",
        "landlock_scopes", "cpu_time", "memory", "pids", "cpus",
};

static void layers_from(struct zb_result *r, const char *list, bool applied)
{
        char buf[SESS_LAYERS_LEN];
        snprintf(buf, sizeof(buf), "%s", list);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
                for (size_t i = 0; i < ARRAY_SIZE(known_layers); i++)
                        if (strcmp(t, known_layers[i]) == 0)
                                res_layer(r, known_layers[i], applied);
}

void sess_result_unpack(const struct sess_reply_result *m, struct zb_result *r)
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
        char *v = malloc(sizeof(m->viol));
        if (v) {
                memcpy(v, m->viol, sizeof(m->viol));
                v[sizeof(m->viol) - 1] = '\0';
                viol_unpack(&r->viol, v);
                free(v);
        }
        if (m->error[0]) {
                char e[sizeof(m->error)];
                memcpy(e, m->error, sizeof(e));
                e[sizeof(e) - 1] = '\0';
                r->error = util_strdup(e);
        }
}

void sess_blob_add(char *blob, size_t size, size_t *len, const char *str, bool *overflow)
{
        size_t k = strlen(str) + 1;
        if (*len + k > size) {
                *overflow = true;
                return;
        }
        memcpy(blob + *len, str, k);
        *len += k;
}
