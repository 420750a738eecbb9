/* An image's layers as one read-only overlayfs, detached (fsopen/fsmount):
 * lowerdirs only, top first, no upper dir, so nothing is written and
 * nothing is copied per run; userxattr, because the store keeps opaque
 * dirs in user.overlay.* (an overlay in a user namespace cannot read
 * trusted.*). Used by the namespace backend's child (src/ns/image.c) and
 * the oci backend (src/engines/image.c). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "image.h"

static int fail(int fs, int e, const char *what, char *log, size_t logn)
{
        char buf[160] = "";
        ssize_t n = read(fs, buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = '\0';
        if (buf[0] && buf[strlen(buf) - 1] == '\n')
                buf[strlen(buf) - 1] = '\0';
        snprintf(log, logn, "%s%s%s", what, buf[0] ? ": " : "", buf);
        close(fs);
        return -e;
}

int img_overlay_mount(char *const *layers, size_t n, char *log, size_t logn)
{
        int fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
        if (fs < 0) {
                snprintf(log, logn, "fsopen");
                return -errno;
        }
        if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0)
                return fail(fs, errno, "userxattr", log, logn);
        /* lowerdir+ (Linux 6.8): one layer a call, no page-sized option string. */
        for (size_t i = 0; i < n; i++)
                if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir+", layers[i], 0) < 0)
                        return fail(fs, errno, "lowerdir+", log, logn);
        if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return fail(fs, errno, "mount", log, logn);
        int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
                               MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (mnt < 0)
                return fail(fs, errno, "fsmount", log, logn);
        close(fs);
        return mnt;
}
