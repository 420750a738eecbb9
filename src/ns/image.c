/* The image root (image: / --image): the store's layer dirs, opened while
 * the child still has the invoker's credentials (the store may be 0700),
 * become one read-only overlayfs (lowerdirs only: no upper dir, no copy per
 * run; user.overlay.* xattrs, as a user namespace needs), and every top-level
 * entry of it but the ones the sandbox makes (proc, dev, sys, tmp, run)
 * becomes a bind of the new root, like an unpacked --rootfs dir. The layers
 * are named to overlayfs as /proc/self/fd/N, so no host path is walked
 * after the id change. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../image/image.h"
#include "ns.h"
#include "sys.h"

static const char *const image_skip[] = { ".", "..", "proc", "dev", "sys", "tmp", "run" };

void ns_image_open_layers(struct ns_ctx *c)
{
        c->n_image_layers = 0;
        if (c->p->n_image_layers > NS_MAX_IMAGE_LAYERS)
                ns_fail(c, 0, E2BIG, "image: more than %d layers", NS_MAX_IMAGE_LAYERS);
        for (size_t i = 0; i < c->p->n_image_layers; i++) {
                int fd = open(c->p->image_layers[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        ns_fail(c, 0, errno, "image: open the layer dir %s", c->p->image_layers[i]);
                c->image_layer_fd[c->n_image_layers++] = fd;
        }
}

/* The read-only overlay of the layers (src/image/overlay.c), named to
 * overlayfs by their fds: no host path is walked after the id change. */
static int image_overlay(struct ns_ctx *c)
{
        char paths[NS_MAX_IMAGE_LAYERS][32], *layers[NS_MAX_IMAGE_LAYERS], log[200];
        for (size_t i = 0; i < c->n_image_layers; i++) {
                snprintf(paths[i], sizeof(paths[i]), "/proc/self/fd/%d", c->image_layer_fd[i]);
                layers[i] = paths[i];
        }
        int mnt = img_overlay_mount(layers, c->n_image_layers, log, sizeof(log));
        if (mnt < 0)
                ns_fail(c, 0, -mnt, "image: overlayfs %s (an image root needs overlayfs in a user namespace, Linux 5.11+, and lowerdir+, 6.8+)",
                        log);
        for (size_t i = 0; i < c->n_image_layers; i++)
                close(c->image_layer_fd[i]);
        return mnt;
}

static void add_entry(struct ns_ctx *c, int mnt, const char *name)
{
        struct stat st;
        if (fstatat(mnt, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                ns_fail(c, 0, errno, "image: stat /%s", name);
        if (c->n_binds >= NS_MAX_BINDS)
                ns_fail(c, 0, E2BIG, "image: too many top-level entries");
        struct ns_bind *b = &c->binds[c->n_binds];
        memset(b, 0, sizeof(*b));
        if (strlen(name) >= sizeof(b->src) - 1 || strlen(name) >= sizeof(b->dst) - 1)
                ns_fail(c, 0, ENAMETOOLONG, "image: /%s: name too long", name);
        snprintf(b->src, sizeof(b->src), "%s", name);
        snprintf(b->dst, sizeof(b->dst), "/%s", name);
        b->in_image = true;
        b->optional = true;
        if (S_ISLNK(st.st_mode)) {
                ssize_t n = readlinkat(mnt, name, b->target, sizeof(b->target) - 1);
                if (n < 0)
                        ns_fail(c, 0, errno, "image: readlink /%s", name);
                b->target[n] = '\0';
                b->is_link = true;
        } else if (S_ISREG(st.st_mode)) {
                b->is_file = true;
        } else if (!S_ISDIR(st.st_mode)) {
                return; /* a whiteout or a device at the top: nothing to show */
        }
        c->n_binds++;
}

void ns_image_mount(struct ns_ctx *c)
{
        if (!c->n_image_layers)
                return;
        c->image_fd = image_overlay(c);
        int dfd = openat(c->image_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d)
                ns_fail(c, 0, errno, "image: read its root");
        for (struct dirent *e; (e = readdir(d));) {
                bool skipped = false;
                for (size_t i = 0; i < ARRAY_SIZE(image_skip); i++)
                        skipped |= strcmp(e->d_name, image_skip[i]) == 0;
                if (!skipped)
                        add_entry(c, c->image_fd, e->d_name);
        }
        closedir(d);
}
