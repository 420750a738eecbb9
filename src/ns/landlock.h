/* File access: the Landlock layer, a second wall behind the mounts. The
 * ruleset is built inside the sandbox after pivot_root (paths as the command
 * sees them) and enforced by the command process after no_new_privs. Raw
 * syscalls; nothing here allocates, so it may run in a cloned child. */
#ifndef ZB_NS_LANDLOCK_H
#define ZB_NS_LANDLOCK_H

#include <stdbool.h>
#include <stddef.h>

/* The running kernel's Landlock ABI version; 0 when Landlock is not built
 * in or not enabled at boot (ENOSYS, EOPNOTSUPP); -errno when the query
 * itself failed otherwise (e.g. EPERM from another seccomp filter), which
 * is not "no Landlock". */
int ns_landlock_abi(void);

enum ns_ll_access {
        ZB_LL_READ_EXEC,  /* execute, read files, list directories */
        ZB_LL_READ_WRITE, /* every filesystem right the running ABI knows */
        ZB_LL_DEVICE_RW,  /* read, write, truncate, device ioctls: /dev/null, /dev/pts */
        ZB_LL_LIST,       /* list directories only (the root: names, never contents) */
};

struct ns_ll_path {
        const char *path;         /* inside the sandbox; symlinks are followed */
        enum ns_ll_access access;
        bool optional;            /* a missing path is skipped instead of an error */
};

/* Create a ruleset handling every filesystem right and scope the running
 * ABI knows, with one path-beneath rule per entry. Returns the ruleset fd
 * (O_CLOEXEC) or -errno, with msg naming the step and path ("layer
 * landlock: ..."; the errno is the return value, not in msg). -EOPNOTSUPP
 * when the kernel has no Landlock. The caller does not become restricted. */
int ns_landlock_prepare(const struct ns_ll_path *paths, size_t n, char *msg, size_t msglen);

/* In the command process after PR_SET_NO_NEW_PRIVS (which the kernel
 * requires without CAP_SYS_ADMIN): landlock_restrict_self(fd, 0), then
 * close(fd). Returns 0 or -errno. */
int ns_landlock_enforce(int ruleset_fd);

#endif
