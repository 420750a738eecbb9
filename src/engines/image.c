/* The oci backend's root from an image (image: / --image): the store's
 * layers as a read-only overlayfs (src/image/overlay.c) mounted at
 * BUNDLE/rootfs.image, whose top-level entries rootfs.c binds into the
 * bundle's root like an unpacked rootfs: DIR. The mount is made in a
 * mount namespace of zonebox's own (unshared once, slave to the host's),
 * which the runtime inherits: the host never sees it, and it goes with the
 * process even if zonebox is killed; eng_image_unmount takes it away before
 * the bundle is removed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../image/image.h"
#include "engine.h"

#define IMAGE_DIR_SUFFIX ".image"

static int private_mounts(struct zb_error *err)
{
        static bool done;
        if (done)
                return 0;
        if (unshare(CLONE_NEWNS) < 0)
                return err_errno(err, errno, "image: oci backend: cannot unshare a mount namespace for the image's overlay");
        /* Slave: the host's later mounts still show; ours never go back. */
        if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                return err_errno(err, errno, "image: oci backend: make the mount namespace a slave");
        done = true;
        return 0;
}

int eng_image_mount(const struct zb_policy *p, const char *skel, char **root, struct zb_error *err)
{
        char log[200];
        *root = util_asprintf("%s" IMAGE_DIR_SUFFIX, skel);
        if (!*root)
                return err_set(err, ENOMEM, "out of memory");
        int r = private_mounts(err);
        if (r < 0)
                return r;
        if (mkdir(*root, 0755) < 0)
                return err_errno(err, errno, "image: mkdir %s", *root);
        int mnt = img_overlay_mount(p->image_layers, p->n_image_layers, log, sizeof(log));
        if (mnt < 0)
                return err_errno(err, -mnt, "image: overlayfs %s", log);
        r = (int)syscall(SYS_move_mount, mnt, "", AT_FDCWD, *root, MOVE_MOUNT_F_EMPTY_PATH);
        int e = errno;
        close(mnt);
        return r < 0 ? err_errno(err, e, "image: mount the overlay at %s", *root) : 0;
}

void eng_image_unmount(const char *bundle)
{
        char path[4200];
        snprintf(path, sizeof(path), "%s/rootfs" IMAGE_DIR_SUFFIX, bundle);
        if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
                return;
}
