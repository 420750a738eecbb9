/* File access: a Landlock ruleset that lets the command reach only the
 * paths zonebox names (zones, read-only system dirs, a few devices), a
 * second wall behind the mount namespace: a mount mistake, or a file
 * descriptor to the old root, still meets a kernel that refuses the path.
 *
 * The ruleset handles every filesystem right both this file and the
 * running ABI know, and grants them back per path. (A right some later
 * kernel adds stays unhandled, i.e. allowed, until this file names it: that
 * is how Landlock stays compatible.) Downgrade as in the kernel's sample
 * (Documentation/userspace-api/landlock.rst): start from the newest rights
 * this file knows and drop those the running ABI lacks.
 *   ABI 1: no REFER; the kernel then refuses every rename or link across
 *          directories (stricter, never looser).
 *   ABI 2: REFER.  ABI 3: TRUNCATE.  ABI 5: IOCTL_DEV.
 *   ABI 4: TCP bind/connect rights. Not handled: the network namespace
 *          (none or loopback) decides reachability, and Landlock ports
 *          cannot name hosts.
 *   ABI 6: scopes. Both handled: the command cannot connect to abstract
 *          unix sockets, nor signal processes, outside its own domain
 *          (which matters with network: host, where abstract sockets are
 *          the host's).
 *   ABI 7: audit flags for landlock_restrict_self; flags 0 keeps the
 *          kernel's default logging.
 * Everything here is raw syscalls on stack memory: it runs in the cloned
 * sandbox, which must not allocate. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "landlock.h"

/* Debian 12's linux-libc-dev (6.1) stops at ABI 2. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
/* Since Linux 5.1 new syscalls have one number on every arch but alpha. */
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

/* struct landlock_ruleset_attr as of ABI 6; the kernel accepts the larger
 * struct from any ABI as long as the fields it does not know are zero. */
struct ruleset_attr {
        uint64_t handled_access_fs;
        // cppcheck-suppress unusedStructMember ; kernel ABI: stays 0 (no network rules), read by the kernel
        uint64_t handled_access_net;
        uint64_t scoped;
};

#define FS_RIGHTS_ABI1                                                                   \
        (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |                     \
         LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |                     \
         LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |                 \
         LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |                     \
         LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |                     \
         LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |                    \
         LANDLOCK_ACCESS_FS_MAKE_SYM)
#define FS_RIGHTS_ALL                                                                    \
        (FS_RIGHTS_ABI1 | LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE |        \
         LANDLOCK_ACCESS_FS_IOCTL_DEV)
/* The rights that mean something on a file that is not a directory; the
 * kernel refuses a rule on such a file with any other (EINVAL). */
#define FS_RIGHTS_FILE                                                                   \
        (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |                     \
         LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |                     \
         LANDLOCK_ACCESS_FS_IOCTL_DEV)
#define SCOPES_ALL (LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL)

int ns_landlock_abi(void)
{
        long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
        if (abi > 0)
                return (int)abi;
        if (abi == 0 || errno == ENOSYS || errno == EOPNOTSUPP)
                return 0;
        return -errno;
}

/* The ruleset for this ABI: everything this file knows, minus what the
 * kernel does not (the fall-through ladder of the kernel's sample). */
static struct ruleset_attr ruleset_for_abi(int abi)
{
        struct ruleset_attr attr = { .handled_access_fs = FS_RIGHTS_ALL, .scoped = SCOPES_ALL };

        switch (abi) {
        case 1:
                attr.handled_access_fs &= ~LANDLOCK_ACCESS_FS_REFER;
                __attribute__((fallthrough));
        case 2:
                attr.handled_access_fs &= ~LANDLOCK_ACCESS_FS_TRUNCATE;
                __attribute__((fallthrough));
        case 3:
        case 4:
                attr.handled_access_fs &= ~LANDLOCK_ACCESS_FS_IOCTL_DEV;
                __attribute__((fallthrough));
        case 5:
                attr.scoped = 0;
                break;
        default: /* 6 and later: all of the above */
                break;
        }
        return attr;
}

static uint64_t rights_for(enum ns_ll_access access, uint64_t handled)
{
        switch (access) {
        case ZB_LL_READ_EXEC:
                return LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE |
                       LANDLOCK_ACCESS_FS_READ_DIR;
        case ZB_LL_READ_WRITE:
                return handled;
        case ZB_LL_LIST:
                return LANDLOCK_ACCESS_FS_READ_DIR;
        case ZB_LL_DEVICE_RW:
                /* Truncate: a shell's "> /dev/null" opens with O_TRUNC.
                 * ioctl: terminal programs need TCGETS and friends on a
                 * pts they open themselves. */
                return (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                        LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV) &
                       handled;
        }
        return 0;
}

static int fail(char *msg, size_t msglen, int err, const char *what, const char *path)
{
        if (msg && msglen)
                snprintf(msg, msglen, "layer landlock: %s%s%s", what, path ? " " : "",
                         path ? path : "");
        return -err;
}

/* One path-beneath rule. The path is opened (O_PATH, following symlinks:
 * /lib -> usr/lib is meant as its target) inside a root zonebox built and
 * the command has not run in yet, so nothing can swap it. */
static int add_path_rule(int ruleset, const struct ns_ll_path *p, uint64_t handled, char *msg,
                         size_t msglen)
{
        struct stat st;
        int fd = open(p->path, O_PATH | O_CLOEXEC);

        if (fd < 0) {
                if (errno == ENOENT && p->optional)
                        return 0;
                return fail(msg, msglen, errno, "open", p->path);
        }
        if (fstat(fd, &st) < 0) {
                int e = errno;
                close(fd);
                return fail(msg, msglen, e, "stat", p->path);
        }
        uint64_t allowed = rights_for(p->access, handled);
        if (!S_ISDIR(st.st_mode))
                allowed &= FS_RIGHTS_FILE;
        struct landlock_path_beneath_attr rule = { .allowed_access = allowed, .parent_fd = fd };
        long r = allowed ? syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH,
                                   &rule, 0)
                         : 0;
        int e = errno;
        close(fd);
        if (r < 0)
                return fail(msg, msglen, e, "add rule for", p->path);
        return 0;
}

int ns_landlock_prepare(const struct ns_ll_path *paths, size_t n, char *msg, size_t msglen)
{
        int abi = ns_landlock_abi();

        if (msg && msglen)
                msg[0] = '\0';
        if (abi < 0)
                return fail(msg, msglen, -abi, "query the ABI version", NULL);
        if (abi == 0)
                return fail(msg, msglen, EOPNOTSUPP, "not supported by this kernel", NULL);
        struct ruleset_attr attr = ruleset_for_abi(abi);
        int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
        if (ruleset < 0)
                return fail(msg, msglen, errno, "create ruleset", NULL);
        for (size_t i = 0; i < n; i++) {
                int r = paths[i].path ? add_path_rule(ruleset, &paths[i], attr.handled_access_fs,
                                                      msg, msglen)
                                      : fail(msg, msglen, EINVAL, "rule without a path", NULL);
                if (r < 0) {
                        close(ruleset);
                        return r;
                }
        }
        return ruleset;
}

int ns_landlock_enforce(int ruleset_fd)
{
        if (ruleset_fd < 0)
                return -EBADF;
        long r = syscall(SYS_landlock_restrict_self, ruleset_fd, 0);
        int e = errno;
        close(ruleset_fd);
        return r < 0 ? -e : 0;
}
