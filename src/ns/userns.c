/* User namespace: the sandbox's uid/gid inside (default 1000, or 0 with
 * --user 0) maps to one unprivileged id outside: the invoking user's own id,
 * or 65534 when the invoker is root, so that the command is never host root.
 * The supervisor writes the maps (only it may map an id other than its own);
 * the child then switches its credentials to the mapped ids. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <linux/securebits.h>

#include "ns.h"

static int write_proc(pid_t pid, const char *file, const char *data, struct zb_error *err)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
        _cleanup_(closep) int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return zb_error_errno(err, errno, "layer user: open %s", path);
        ssize_t n = write(fd, data, strlen(data));
        if (n < 0)
                return zb_error_errno(err, errno, "layer user: write '%s' to %s", data, path);
        return 0;
}

int ns_ids_write_maps(const struct ns_ctx *c, pid_t pid, struct zb_error *err)
{
        char map[64];
        int r;

        /* An unprivileged writer may map its own gid only after giving up
         * setgroups(2) (user_namespaces(7)); root keeps it so the child can
         * drop root's supplementary groups. */
        if (!c->invoker_is_root) {
                r = write_proc(pid, "setgroups", "deny", err);
                if (r < 0)
                        return r;
        }
        snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)c->p->security.uid, (unsigned)c->host_uid);
        r = write_proc(pid, "uid_map", map, err);
        if (r < 0)
                return r;
        snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)c->p->security.gid, (unsigned)c->host_gid);
        return write_proc(pid, "gid_map", map, err);
}

void ns_ids_enter(struct ns_ctx *c)
{
        uid_t uid = c->p->security.uid;
        gid_t gid = c->p->security.gid;

        /* Keep the namespace capabilities across the uid change: setup still
         * needs them; caps.c drops them all before exec. */
        if (prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP | SECBIT_KEEP_CAPS) < 0)
                ns_fail(c, 0, errno, "layer user: set securebits");
        if (c->invoker_is_root && setgroups(0, NULL) < 0)
                ns_fail(c, 0, errno, "layer user: drop supplementary groups");
        if (setresgid(gid, gid, gid) < 0)
                ns_fail(c, 0, errno, "layer user: setresgid(%u)", (unsigned)gid);
        if (setresuid(uid, uid, uid) < 0)
                ns_fail(c, 0, errno, "layer user: setresuid(%u)", (unsigned)uid);
}
