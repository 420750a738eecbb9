/* The image root (image: / --image): the store's layers as one read-only
 * overlayfs (src/image/overlay.c: lowerdirs only, no upper dir, no copy
 * per run), and every top-level entry of it but the ones the sandbox makes
 * (proc, dev, sys, tmp, run) a bind of the new root, like an unpacked
 * --rootfs dir.
 *
 * Who mounts it matters: overlayfs reads the layers with its mounter's
 * credentials. Started by root, the supervisor mounts it before clone (the
 * sandbox's user namespace does not map host root, so the child could not
 * read root's 0700 dirs, nor their user.overlay.* xattrs) and hands the
 * child clones of its entries, as it does zones. Started by another user,
 * the child mounts it: the layers are that user's, mapped inside, and
 * overlayfs needs a user namespace for an unprivileged mount; the layer
 * dirs are opened before the id change and named to overlayfs as
 * /proc/self/fd/N, so no host path is walked after it. */
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

/* One top-level entry of the overlay MNT as a bind; PRE: open it now (the
 * supervisor), else the child opens it from c->image_fd in open_sources. */
static int add_entry(struct ns_ctx *c, int mnt, const char *name, bool pre, char *why, size_t n)
{
        struct stat st;
        if (fstatat(mnt, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return snprintf(why, n, "stat /%s", name), -errno;
        char dst[NS_BIND_DST_MAX];
        if (c->n_binds >= NS_MAX_BINDS || strlen(name) >= sizeof(dst) - 1)
                return snprintf(why, n, "/%s: too many entries or too long a name", name), -E2BIG;
        struct ns_bind *b = &c->binds[c->n_binds];
        *b = (struct ns_bind){ .target = "", .in_image = true, .optional = true, .fd = -1 };
        snprintf(dst, sizeof(dst), "/%s", name);
        if (!(b->src = ns_bind_str(c, name, NS_BIND_SRC_MAX)) || !(b->dst = ns_bind_str(c, dst, sizeof(dst))))
                return snprintf(why, n, "/%s: too long a name", name), -E2BIG;
        if (S_ISLNK(st.st_mode)) {
                char target[NS_BIND_SRC_MAX];
                ssize_t k = readlinkat(mnt, name, target, sizeof(target) - 1);
                if (k < 0)
                        return snprintf(why, n, "readlink /%s", name), -errno;
                target[k] = '\0';
                if (!(b->target = ns_bind_str(c, target, sizeof(target))))
                        return snprintf(why, n, "readlink /%s: too long", name), -E2BIG;
                b->is_link = true;
        } else if (S_ISREG(st.st_mode)) {
                b->is_file = true;
                c->root_bytes += ((uint64_t)st.st_size + 4095) / 4096 * 4096;
        } else if (!S_ISDIR(st.st_mode)) {
                return 0; /* a whiteout or a device at the top: nothing to show */
        }
        if (pre && !b->is_link) {
                b->fd = b->is_file ? openat(mnt, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
                                   : sys_open_tree(mnt, name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                                                                      AT_RECURSIVE | AT_SYMLINK_NOFOLLOW);
                if (b->fd < 0)
                        return snprintf(why, n, "open /%s", name), -errno;
        }
        c->n_binds++;
        return 0;
}

static int list_entries(struct ns_ctx *c, int mnt, bool pre, char *why, size_t n)
{
        /* The sandbox's home (ZB_HOME_DIR) is a scratch dir of the root's
         * tmpfs: the image's read-only /home would cover it. */
        bool skip_home = c->p->tmp_size && strncmp(ZB_HOME_DIR, "/home/", 6) == 0;
        int dfd = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        int r = 0;
        if (!d) {
                snprintf(why, n, "read its root");
                return -errno;
        }
        for (struct dirent *e; r == 0 && (e = readdir(d));) {
                bool skipped = false;
                for (size_t i = 0; i < ARRAY_SIZE(image_skip); i++)
                        skipped |= strcmp(e->d_name, image_skip[i]) == 0;
                if (!skipped && !(skip_home && strcmp(e->d_name, "home") == 0))
                        r = add_entry(c, mnt, e->d_name, pre, why, n);
        }
        closedir(d);
        return r;
}

/* ---------- supervisor side (started by root) ---------- */

int ns_image_prepare(struct ns_ctx *c, struct zb_error *err)
{
        char why[200];
        if (!c->p->n_image_layers || !c->invoker_is_root)
                return 0;
        c->image_fd = img_overlay_mount(c->p->image_layers, c->p->n_image_layers, why, sizeof(why));
        if (c->image_fd < 0)
                return err_errno(err, -c->image_fd, "image: overlayfs %s", why);
        int r = list_entries(c, c->image_fd, true, why, sizeof(why));
        /* The clones hold the overlay; the detached original goes with
         * this process's last reference, after the run (not on its path). */
        return r < 0 ? err_errno(err, -r, "image: %s", why) : 0;
}

void ns_image_release(struct ns_ctx *c)
{
        if (c->invoker_is_root && c->image_fd >= 0) {
                close(c->image_fd);
                c->image_fd = -1;
        }
        for (size_t i = 0; i < c->n_binds; i++)
                if (c->binds[i].in_image && c->binds[i].fd >= 0) {
                        close(c->binds[i].fd);
                        c->binds[i].fd = -1;
                }
}

/* ---------- child side (started by another user) ---------- */

void ns_image_open_layers(struct ns_ctx *c)
{
        c->n_image_layers = 0;
        if (!c->p->n_image_layers || c->invoker_is_root)
                return;
        if (c->p->n_image_layers > NS_MAX_IMAGE_LAYERS)
                ns_fail(c, 0, E2BIG, "image: more than %d layers", NS_MAX_IMAGE_LAYERS);
        for (size_t i = 0; i < c->p->n_image_layers; i++) {
                int fd = open(c->p->image_layers[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        ns_fail(c, 0, errno, "image: open the layer dir %s", c->p->image_layers[i]);
                c->image_layer_fd[c->n_image_layers++] = fd;
        }
}

void ns_image_mount(struct ns_ctx *c)
{
        char paths[NS_MAX_IMAGE_LAYERS][32], *layers[NS_MAX_IMAGE_LAYERS], why[200];
        if (!c->n_image_layers)
                return;
        for (size_t i = 0; i < c->n_image_layers; i++) {
                snprintf(paths[i], sizeof(paths[i]), "/proc/self/fd/%d", c->image_layer_fd[i]);
                layers[i] = paths[i];
        }
        c->image_fd = img_overlay_mount(layers, c->n_image_layers, why, sizeof(why));
        if (c->image_fd < 0)
                ns_fail(c, 0, -c->image_fd,
                        "image: overlayfs %s (an image root needs overlayfs in a user namespace, Linux 5.11+, and lowerdir+, 6.8+)",
                        why);
        for (size_t i = 0; i < c->n_image_layers; i++)
                close(c->image_layer_fd[i]);
        int r = list_entries(c, c->image_fd, false, why, sizeof(why));
        if (r < 0)
                ns_fail(c, 0, -r, "image: %s", why);
}
