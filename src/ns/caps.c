/* Capabilities and privileges: every capability set emptied (bounding,
 * ambient, inheritable, permitted, effective), securebits locked so that
 * uid 0 inside (--user 0) gains nothing at execve, and PR_SET_NO_NEW_PRIVS so
 * that setuid binaries and file capabilities cannot raise privileges. The
 * capabilities dropped here are those of the sandbox's user namespace; the
 * process never had any in the host's. */
#define _GNU_SOURCE
#include <linux/capability.h>
#include <fcntl.h>
#include <linux/securebits.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "ns.h"

/* The kernel's highest capability number; read once in the supervisor. */
int ns_caps_last_cap(void)
{
        int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                char buf[16] = "", *end = buf;
                ssize_t n = read(fd, buf, sizeof(buf) - 1);
                close(fd);
                /* A number we cannot read would leave capabilities above it
                 * in the bounding set: probe instead. */
                long v = n > 0 ? strtol(buf, &end, 10) : -1;
                if (end != buf && (*end == '\n' || *end == '\0') && v >= 0 && v < 256)
                        return (int)v;
        }
        /* No /proc: probe, PR_CAPBSET_READ fails with EINVAL past the last. */
        int cap = 0;
        while (prctl(PR_CAPBSET_READ, cap + 1, 0, 0, 0) >= 0)
                cap++;
        return cap;
}

void ns_caps_drop(struct ns_ctx *c, bool no_new_privs)
{
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[2] = { { 0 } };
        int last = c->last_cap;

        /* Needs CAP_SETPCAP, so before the sets are emptied. */
        if (prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                             SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_NOROOT |
                                             SECBIT_NOROOT_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                                             SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED) < 0)
                ns_fail(c, 0, errno, "layer capabilities: lock securebits");
        for (int cap = 0; cap <= last; cap++)
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
                        ns_fail(c, 0, errno, "layer capabilities: drop %d from the bounding set", cap);
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                ns_fail(c, 0, errno, "layer capabilities: clear the ambient set");
        if (syscall(SYS_capset, &hdr, data) < 0)
                ns_fail(c, 0, errno, "layer capabilities: capset");
        if (no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                ns_fail(c, 0, errno, "layer no_new_privileges: prctl");
        c->caps_dropped = true;
}
