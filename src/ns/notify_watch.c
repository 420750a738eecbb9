/* The `filesystem` and `network` violation sources (issue 16): write-intent
 * filesystem calls, and in network none/loopback mode connect(), notify the
 * supervisor, which records those the kernel is about to refuse and lets
 * every one of them go on (SECCOMP_USER_NOTIF_FLAG_CONTINUE): the kernel
 * returns its own error (EROFS, ENETUNREACH). Recording only, best effort:
 * what the supervisor reads from the target (the path, the address) can
 * change between its look and the kernel's (TOCTOU), so it never decides
 * anything but which entry to write.
 *
 * The program that makes these calls notify, and the table of them, are
 * in notify_bpf.c.
 *
 * Paths are read with process_vm_readv, at most PATH_MAX bytes, page by
 * page; the notification id is checked valid after the read
 * (SECCOMP_IOCTL_NOTIF_ID_VALID) so a recycled pid's memory is never taken
 * for the target's. The path is resolved inside the sandbox's root
 * (/proc/PID/root of the first target, kept for the others: opened per
 * call it made an allowed watched call 26.95 against 23.25 us, bench/README.md),
 * RESOLVE_IN_ROOT, relative paths against the target's cwd or dirfd as
 * /proc shows them; a read-only mount under it (fstatvfs ST_RDONLY) makes
 * the entry, named after the zone, /proc/sys or the root. */
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
static bool target_path(pid_t pid, const struct seccomp_notif *req, const struct ns_watch_call *w, char *out,
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
static bool read_only(int root_fd, const char *path)
{
        struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
        int fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
        if (fd < 0) {
                char parent[2 * PATH_MAX + 2];
                snprintf(parent, sizeof(parent), "%s", path);
                char *slash = strrchr(parent, '/');
                if (slash == parent)
                        slash[1] = '\0';
                else if (slash)
                        *slash = '\0';
                fd = (int)syscall(SYS_openat2, root_fd, parent, &how, sizeof(how));
        }
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

/* The path the call names, made absolute, in the sandbox's root (opened
 * once), and the entry if its mount is read-only. */
static void filesystem(struct ns_notify *n, const struct seccomp_notif *req, const struct ns_watch_call *w,
                       double at)
{
        char path[2 * PATH_MAX + 2], rule[PATH_MAX + 32];
        pid_t pid = (pid_t)req->pid;
        if (!target_path(pid, req, w, path, sizeof(path)))
                return;
        bool opened = n->root_fd < 0;
        if (opened) {
                /* Every process of the sandbox has this root: the default
                 * profile refuses chroot, pivot_root, setns and new
                 * namespaces, and a custom one gets no listener. */
                char root[64];
                snprintf(root, sizeof(root), "/proc/%d/root", (int)pid);
                if ((n->root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
                        return;
        }
        /* Still waiting, so PID was the target at the reads and the open. */
        if (!id_valid(n->listener, req->id)) {
                if (opened)
                        ns_notify_end(n);
                return;
        }
        if (!read_only(n->root_fd, path))
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
        if (which == NS_WATCH_CONNECT)
                network(n, req, at);
        else
                filesystem(n, req, &ns_watch_calls[which], at);
        struct seccomp_notif_resp resp = { .id = req->id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE };
        (void)ioctl(n->listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}
