/* The `filesystem` and `network` violation sources (issue 16): write-intent
 * filesystem calls, and in network none/loopback mode connect(), notify the
 * supervisor, which records those the kernel is about to refuse and lets
 * every one of them go on (SECCOMP_USER_NOTIF_FLAG_CONTINUE): the kernel
 * returns its own error (EROFS, ENETUNREACH). Recording only, best effort:
 * what the supervisor reads from the target (the path, the address) can
 * change between its look and the kernel's (TOCTOU), so it never decides
 * anything but which entry to write.
 *
 * The program the command installs is the filter itself with its ALLOW
 * and ERRNO(EPERM) returns turned into jumps to two short tails
 * (ns_watch_build): a call the filter allows returns USER_NOTIF if it is
 * watched (this file's table; open/openat only with a write flag in the
 * flags argument, so read-only opens never notify), answered CONTINUE; a
 * call it refuses with EPERM returns USER_NOTIF if it is not watched
 * (notify.c, answered EPERM). CONTINUE is therefore only ever the answer
 * where the filter itself says ALLOW, and the supervisor tells the two
 * apart by the same predicate the tails compute (ns_watch_match). One copy
 * of the filter, not two: the kernel's cost to load a filter grows with
 * its length, and that load is on every run's path (bench/README.md).
 *
 * Paths are read with process_vm_readv, at most PATH_MAX bytes, page by
 * page; the notification id is checked valid after the read
 * (SECCOMP_IOCTL_NOTIF_ID_VALID) so a recycled pid's memory is never taken
 * for the target's. The path is resolved inside the sandbox's root
 * (/proc/PID/root, RESOLVE_IN_ROOT), relative paths against the target's
 * cwd or dirfd as /proc shows them; a read-only mount under it (fstatvfs
 * ST_RDONLY) makes the entry, named after the zone, /proc/sys or the root. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "notify.h"
#include "sys.h"

#define WRITE_FLAGS (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)

static const struct watch_call {
        const char *name;
        const char *op;  /* the entry's operation */
        int path_arg;
        int dirfd_arg;   /* -1: relative to the cwd */
        int flags_arg;   /* -1: every call notifies; else only with WRITE_FLAGS */
} watch_calls[] = {
        { "open", "write", 0, -1, 1 },          { "openat", "write", 1, 0, 2 },
        { "creat", "write", 0, -1, -1 },        { "truncate", "write", 0, -1, -1 },
        { "mkdir", "mkdir", 0, -1, -1 },        { "mkdirat", "mkdir", 1, 0, -1 },
        { "unlink", "unlink", 0, -1, -1 },      { "unlinkat", "unlink", 1, 0, -1 },
        { "rmdir", "rmdir", 0, -1, -1 },        { "rename", "rename", 1, -1, -1 },
        { "renameat", "rename", 3, 2, -1 },     { "renameat2", "rename", 3, 2, -1 },
        { "link", "link", 1, -1, -1 },          { "linkat", "link", 3, 2, -1 },
        { "symlink", "symlink", 1, -1, -1 },    { "symlinkat", "symlink", 2, 1, -1 },
        { "mknod", "mknod", 0, -1, -1 },        { "mknodat", "mknod", 1, 0, -1 },
        { "connect", "connect", -1, -1, -1 },
};
#define N_WATCH (sizeof(watch_calls) / sizeof(watch_calls[0]))
#define CONNECT_INDEX (N_WATCH - 1)

#define STMT(c, k) ((struct sock_filter)BPF_STMT((c), (k)))
#define JUMP(c, k, t, f) ((struct sock_filter)BPF_JUMP((c), (k), (t), (f)))

/* The watched calls' numbers on this arch, -1 where absent. */
static void watch_numbers(struct ns_notify *n, bool net)
{
        for (size_t i = 0; i < N_WATCH; i++) {
                int nr = seccomp_syscall_resolve_name(watch_calls[i].name);
                n->watch_nr[i] = nr >= 0 && (net || i != CONNECT_INDEX) ? nr : -1;
        }
}

/* The watch predicate (is D a watched call?) as code: ends in two
 * returns, WATCHED and OTHER. At most 4 + 3 * N_WATCH instructions. */
static size_t watch_tail(const struct ns_notify *n, struct sock_filter *t, uint32_t watched, uint32_t other)
{
        size_t nt = 0;
        /* RET_W and RET_O are fixed up below: 0xfe marks "to WATCHED",
         * 0xff "to OTHER". The filter before has checked the arch
         * already; checked again, so the tail stands on its own. */
        t[nt++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
        t[nt++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, seccomp_arch_native(), 0, 0xff);
        t[nt++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
        for (size_t i = 0; i < N_WATCH; i++) {
                const struct watch_call *w = &watch_calls[i];
                if (n->watch_nr[i] < 0)
                        continue;
                if (w->flags_arg < 0) {
                        t[nt++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)n->watch_nr[i], 0xfe, 0);
                        continue;
                }
                t[nt++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)n->watch_nr[i], 0, 2);
                /* the flags' low word: the first on a little-endian machine */
                t[nt++] = STMT(BPF_LD | BPF_W | BPF_ABS,
                               (uint32_t)(offsetof(struct seccomp_data, args) + 8 * (size_t)w->flags_arg +
                                          (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? 4 : 0)));
                t[nt++] = JUMP(BPF_JMP | BPF_JSET | BPF_K, WRITE_FLAGS, 0xfe, 0xff);
        }
        size_t ret_o = nt;
        t[nt++] = STMT(BPF_RET | BPF_K, other);
        size_t ret_w = nt;
        t[nt++] = STMT(BPF_RET | BPF_K, watched);
        for (size_t i = 0; i < ret_o; i++) {
                if (BPF_CLASS(t[i].code) != BPF_JMP)
                        continue;
                uint8_t *j[2] = { &t[i].jt, &t[i].jf };
                for (int k = 0; k < 2; k++)
                        if (*j[k] == 0xfe || *j[k] == 0xff)
                                *j[k] = (uint8_t)((*j[k] == 0xfe ? ret_w : ret_o) - (i + 1));
        }
        return nt;
}

/* The program is the plain one with two returns rewritten, and two tails:
 * each "return ALLOW" jumps to a tail that returns USER_NOTIF for a watched
 * call (answered CONTINUE) and ALLOW for the rest; each "return
 * ERRNO(EPERM)" to one that returns ERRNO(EPERM) for a watched call and
 * USER_NOTIF for the rest (answered EPERM). So the filter decides as the
 * plain one does, and a notification's meaning follows from the predicate
 * alone, which the supervisor computes again (ns_watch_match). A return
 * becomes a jump of the same length: no jump of the plain program moves.
 * The kernel's cache of always-allowed calls still holds: the tail reads
 * only arch and nr for an unwatched call. */
int ns_watch_build(struct ns_notify *n, const struct sock_fprog *plain, bool net, struct sock_fprog *out)
{
        const size_t tail_max = 6 + 3 * N_WATCH; /* watch_tail's bound, with room */
        watch_numbers(n, net);
        size_t len = (size_t)plain->len + 2 * tail_max;
        if (len > BPF_MAXINSNS)
                return -E2BIG;
        out->filter = malloc(len * sizeof(*out->filter));
        if (!out->filter)
                return -ENOMEM;
        size_t at = plain->len;
        size_t to_allow = at;
        at += watch_tail(n, out->filter + at, SECCOMP_RET_USER_NOTIF, SECCOMP_RET_ALLOW);
        size_t to_eperm = at;
        at += watch_tail(n, out->filter + at, SECCOMP_RET_ERRNO | EPERM, SECCOMP_RET_USER_NOTIF);
        for (size_t i = 0; i < plain->len; i++) {
                struct sock_filter f = plain->filter[i];
                bool ret = f.code == (BPF_RET | BPF_K);
                if (ret && (f.k == SECCOMP_RET_ALLOW || f.k == (SECCOMP_RET_ERRNO | EPERM)))
                        f = STMT(BPF_JMP | BPF_JA,
                                 (uint32_t)((f.k == SECCOMP_RET_ALLOW ? to_allow : to_eperm) - (i + 1)));
                out->filter[i] = f;
        }
        out->len = (unsigned short)at;
        return 0;
}

int ns_watch_match(const struct ns_notify *n, const struct seccomp_data *d)
{
        if (!n->watching || d->arch != seccomp_arch_native())
                return -1;
        for (size_t i = 0; i < N_WATCH; i++) {
                if (n->watch_nr[i] < 0 || d->nr != n->watch_nr[i])
                        continue;
                int f = watch_calls[i].flags_arg;
                if (f >= 0 && !((uint32_t)d->args[f] & WRITE_FLAGS))
                        return -1;
                return (int)i;
        }
        return -1;
}

/* LEN bytes (at most) of the target's memory at ADDR, page by page so that
 * an unmapped page after the data does not fail the whole read. Returns
 * the bytes read. */
static size_t read_mem(pid_t pid, uint64_t addr, char *buf, size_t len, bool stop_at_nul)
{
        size_t got = 0;
        while (got < len) {
                size_t page = 4096 - ((addr + got) & 4095);
                size_t want = len - got < page ? len - got : page;
                struct iovec local = { .iov_base = buf + got, .iov_len = want };
                struct iovec remote = { .iov_base = (void *)(uintptr_t)(addr + got), .iov_len = want };
                ssize_t r = process_vm_readv(pid, &local, 1, &remote, 1, 0);
                if (r <= 0)
                        break;
                if (stop_at_nul && memchr(buf + got, '\0', (size_t)r)) {
                        got += (size_t)r;
                        break;
                }
                got += (size_t)r;
        }
        return got;
}

static bool id_valid(int listener, uint64_t id)
{
        return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

/* The path the call names, made absolute inside the sandbox: PATH_MAX
 * bytes, NUL-terminated, else false (the kernel says ENAMETOOLONG). */
static bool target_path(pid_t pid, const struct seccomp_notif *req, const struct watch_call *w, char *out,
                        size_t size)
{
        char path[PATH_MAX + 1], base[PATH_MAX + 1], link[64];
        size_t got = read_mem(pid, req->data.args[w->path_arg], path, PATH_MAX, true);
        if (!memchr(path, '\0', got) || !path[0])
                return false;
        if (path[0] == '/')
                return snprintf(out, size, "%s", path) < (int)size;
        int dirfd = w->dirfd_arg >= 0 ? (int)req->data.args[w->dirfd_arg] : AT_FDCWD;
        if (dirfd == AT_FDCWD)
                snprintf(link, sizeof(link), "/proc/%d/cwd", (int)pid);
        else
                snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)pid, dirfd);
        ssize_t n = readlink(link, base, sizeof(base) - 1);
        if (n <= 0 || base[0] != '/')
                return false;
        base[n] = '\0';
        return snprintf(out, size, "%s%s%s", base, n > 1 ? "/" : "", path) < (int)size;
}

/* Whether PATH (absolute, inside) is on a read-only mount: itself if it
 * exists, else its parent. */
static bool read_only(pid_t pid, const char *path)
{
        char root[64];
        snprintf(root, sizeof(root), "/proc/%d/root", (int)pid);
        int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rfd < 0)
                return false;
        struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
        int fd = (int)syscall(SYS_openat2, rfd, path, &how, sizeof(how));
        if (fd < 0) {
                char parent[2 * PATH_MAX + 2];
                snprintf(parent, sizeof(parent), "%s", path);
                char *slash = strrchr(parent, '/');
                if (slash == parent)
                        slash[1] = '\0';
                else if (slash)
                        *slash = '\0';
                fd = (int)syscall(SYS_openat2, rfd, parent, &how, sizeof(how));
        }
        close(rfd);
        if (fd < 0)
                return false;
        struct statvfs sv;
        bool ro = fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_RDONLY);
        close(fd);
        return ro;
}

static bool under(const char *path, const char *dir)
{
        size_t n = strlen(dir);
        while (n > 1 && dir[n - 1] == '/')
                n--;
        return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0' || n == 1);
}

/* The rule that made PATH read-only: the innermost zone holding it, /proc/sys, or the root. */
static void ro_rule(const struct zb_policy *p, const char *path, char *rule, size_t size)
{
        const struct pol_zone *best = NULL;
        for (size_t i = 0; i < p->n_zones; i++) {
                const struct pol_zone *z = &p->zones[i];
                if (z->path && under(path, z->path) && (!best || strlen(z->path) > strlen(best->path)))
                        best = z;
        }
        if (best)
                snprintf(rule, size, "zone %s is %s", best->name ? best->name : best->path,
                         best->mode == ZB_ZONE_RO ? "ro" : "read-only");
        else if (under(path, "/proc/sys"))
                snprintf(rule, size, "/proc/sys is read-only");
        else
                snprintf(rule, size, "root is read-only");
}

static void filesystem(struct ns_notify *n, const struct seccomp_notif *req, const struct watch_call *w,
                       double at)
{
        char path[2 * PATH_MAX + 2], rule[PATH_MAX + 32];
        pid_t pid = (pid_t)req->pid;
        if (!target_path(pid, req, w, path, sizeof(path)) || !id_valid(n->listener, req->id))
                return;
        if (!read_only(pid, path))
                return;
        ro_rule(n->p, path, rule, sizeof(rule));
        viol_add(n->viol, VIOL_FILESYSTEM, w->op, path, strlen(path), rule,
                 "a writable zone: --zone / -v HOST:PATH:rw (zones: in the config)", 1, at);
}

/* tcp or udp: the socket's type, through a copy of the target's fd. */
static const char *sock_proto(pid_t pid, int fd)
{
        int pidfd = sys_pidfd_open(pid, 0), type = 0;
        socklen_t len = sizeof(type);
        if (pidfd < 0)
                return "ip";
        int s = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
        close(pidfd);
        if (s < 0)
                return "ip";
        int r = getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &len);
        close(s);
        return r < 0 ? "ip" : type == SOCK_STREAM ? "tcp" : type == SOCK_DGRAM ? "udp" : "ip";
}

static void network(struct ns_notify *n, const struct seccomp_notif *req, double at)
{
        struct sockaddr_storage ss;
        char addr[INET6_ADDRSTRLEN], target[INET6_ADDRSTRLEN + 16];
        pid_t pid = (pid_t)req->pid;
        size_t len = req->data.args[2] < sizeof(ss) ? (size_t)req->data.args[2] : sizeof(ss);
        memset(&ss, 0, sizeof(ss));
        size_t got = read_mem(pid, req->data.args[1], (char *)&ss, len, false);
        unsigned port;
        if (ss.ss_family == AF_INET && got >= sizeof(struct sockaddr_in)) {
                const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
                if ((ntohl(a->sin_addr.s_addr) >> 24) == 127 || a->sin_addr.s_addr == 0)
                        return;
                inet_ntop(AF_INET, &a->sin_addr, addr, sizeof(addr));
                port = ntohs(a->sin_port);
                snprintf(target, sizeof(target), "%s:%u", addr, port);
        } else if (ss.ss_family == AF_INET6 && got >= sizeof(struct sockaddr_in6)) {
                const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
                const struct in6_addr *ip = &a->sin6_addr;
                if (IN6_IS_ADDR_LOOPBACK(ip) || IN6_IS_ADDR_UNSPECIFIED(ip) ||
                    (IN6_IS_ADDR_V4MAPPED(ip) && ip->s6_addr[12] == 127))
                        return;
                inet_ntop(AF_INET6, ip, addr, sizeof(addr));
                port = ntohs(a->sin6_port);
                snprintf(target, sizeof(target), "[%s]:%u", addr, port);
        } else {
                return; /* unix sockets and the rest: not the network */
        }
        if (!id_valid(n->listener, req->id))
                return;
        size_t tl = strlen(target);
        snprintf(target + tl, sizeof(target) - tl, "/%s", sock_proto(pid, (int)req->data.args[0]));
        viol_add(n->viol, VIOL_NETWORK, "connect", target, strlen(target),
                 n->p->network == ZB_NET_LOOPBACK ? "network loopback" : "network none",
                 "--net-allow HOST[:PORT] (network.allow)", 1, at);
}

void ns_watch_answer(struct ns_notify *n, const struct seccomp_notif *req, int which, double at)
{
        if ((size_t)which == CONNECT_INDEX)
                network(n, req, at);
        else
                filesystem(n, req, &watch_calls[which], at);
        struct seccomp_notif_resp resp = { .id = req->id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE };
        (void)ioctl(n->listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}
