/* One layer blob (tar, gzip or zstd: libarchive reads it) unpacked into an
 * empty directory of the store. Every create happens beneath that
 * directory: parents are opened with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), so an entry that names a path through a symlink
 * (made by an earlier entry) or with ".." is refused, never followed, and
 * absolute symlink targets are stored as links only. Device nodes, fifos and
 * sockets are not made; setuid and setgid bits are dropped; whiteouts
 * become overlayfs's own (a 0:0 character device, user.overlay.opaque=y on
 * an opaque dir: the store is mounted with userxattr). Ownership is kept
 * when root unpacks; an ordinary user owns what it unpacks. */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../core/fs.h"
#include "image.h"

#define READ_BLOCK_BYTES (64u << 10)
#define MODE_KEPT 01777 /* no setuid, no setgid */
#define OPAQUE_XATTR "user.overlay.opaque"

struct dir_mode {
        char *path;
        mode_t mode;
        uid_t uid;
        gid_t gid;
};

struct unpack {
        struct archive *a;
        int root_fd;
        const char *what;
        bool as_root;
        struct dir_mode *dirs;
        size_t n_dirs, cap_dirs;
        struct img_unpack_stats *st;
        struct zb_error *err;
};

static int open_beneath(int root_fd, const char *path, int flags)
{
        struct open_how how = {
                .flags = (uint64_t)(unsigned)(flags | O_CLOEXEC),
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        long fd = syscall(SYS_openat2, root_fd, path[0] ? path : ".", &how, sizeof(how));
        return fd < 0 ? -errno : (int)fd;
}

static int entry_fail(struct unpack *u, int e, const char *path, const char *why)
{
        char esc[512];
        util_escape_text_to(path, esc, sizeof(esc));
        return err_set(u->err, e ? e : EINVAL, "image: layer %s: entry '%s': %s", u->what, esc, why);
}

/* The entry's parent dir, made (mkdir -p, beneath the root) if missing. */
static int parent_dir(struct unpack *u, const char *parent, const char *name)
{
        int fd = open_beneath(u->root_fd, parent, O_RDONLY | O_DIRECTORY);
        if (fd != -ENOENT)
                goto done;
        char buf[4096];
        snprintf(buf, sizeof(buf), "%s", parent);
        for (char *slash = buf;; slash++) {
                slash = strchr(slash, '/');
                if (slash)
                        *slash = '\0';
                fd = open_beneath(u->root_fd, buf, O_RDONLY | O_DIRECTORY);
                if (fd == -ENOENT && mkdirat(u->root_fd, buf, 0755) == 0)
                        fd = open_beneath(u->root_fd, buf, O_RDONLY | O_DIRECTORY);
                if (fd < 0 || !slash)
                        break;
                close(fd);
                *slash = '/';
        }
done:
        if (fd == -ELOOP || fd == -EXDEV || fd == -ENOTDIR)
                return entry_fail(u, ELOOP, name, "its directory is a symlink or not a directory (never followed)");
        if (fd < 0)
                return err_errno(u->err, -fd, "image: layer %s: entry '%s': open its directory", u->what, name);
        return fd;
}

/* An earlier entry at the same name goes (a later one in a tar wins). */
static int clear_name(struct unpack *u, int pfd, const char *base, bool keep_dir, const char *name)
{
        struct stat st;
        if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        if (S_ISDIR(st.st_mode)) {
                if (keep_dir)
                        return 1;
                if (fs_remove_tree(pfd, base, 0) < 0)
                        return entry_fail(u, EIO, name, "cannot replace the directory there");
                return 0;
        }
        if (unlinkat(pfd, base, 0) < 0)
                return err_errno(u->err, errno, "image: layer %s: entry '%s': replace", u->what, name);
        return 0;
}

static int remember_dir(struct unpack *u, const char *path, struct archive_entry *e)
{
        if (u->n_dirs == u->cap_dirs) {
                size_t cap = u->cap_dirs ? u->cap_dirs * 2 : 64;
                struct dir_mode *d = realloc(u->dirs, cap * sizeof(*d));
                if (!d)
                        return err_set(u->err, ENOMEM, "image: out of memory");
                u->dirs = d;
                u->cap_dirs = cap;
        }
        char *copy = util_strdup(path);
        if (!copy)
                return err_set(u->err, ENOMEM, "image: out of memory");
        u->dirs[u->n_dirs++] = (struct dir_mode){ copy, archive_entry_perm(e) & MODE_KEPT,
                                                  (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e) };
        return 0;
}

static int write_file(struct unpack *u, int pfd, const char *base, const char *name, struct archive_entry *e)
{
        _cleanup_(closep) int fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return err_errno(u->err, errno, "image: layer %s: entry '%s': create", u->what, name);
        const void *buf;
        size_t len;
        int64_t off;
        int r;
        while ((r = archive_read_data_block(u->a, &buf, &len, &off)) == ARCHIVE_OK) {
                if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
                        return err_errno(u->err, errno, "image: layer %s: entry '%s': write", u->what, name);
        }
        if (r != ARCHIVE_EOF)
                return err_set(u->err, EIO, "image: layer %s: entry '%s': corrupt data (%s)", u->what, name,
                               archive_error_string(u->a) ? archive_error_string(u->a) : "read error");
        if (ftruncate(fd, (off_t)archive_entry_size(e)) < 0)
                return err_errno(u->err, errno, "image: layer %s: entry '%s': size", u->what, name);
        if (u->as_root && fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
                return err_errno(u->err, errno, "image: layer %s: entry '%s': chown", u->what, name);
        if (fchmod(fd, archive_entry_perm(e) & MODE_KEPT) < 0)
                return err_errno(u->err, errno, "image: layer %s: entry '%s': chmod", u->what, name);
        return 0;
}

static int hard_link(struct unpack *u, int pfd, const char *base, const char *name, const char *target)
{
        char tparent[4096], tbase[256];
        enum img_entry_kind kind;
        const char *why = "";
        if (img_entry_path(target, tparent, sizeof(tparent), tbase, sizeof(tbase), &kind, &why) != 0 ||
            kind != IMG_ENTRY_PLAIN)
                return entry_fail(u, EINVAL, name, "a hard link to a path outside the layer");
        _cleanup_(closep) int tfd = open_beneath(u->root_fd, tparent, O_PATH | O_DIRECTORY);
        if (tfd < 0)
                return entry_fail(u, -tfd, name, "its hard link target's directory cannot be opened beneath the layer");
        if (linkat(tfd, tbase, pfd, base, 0) < 0)
                return err_errno(u->err, errno, "image: layer %s: entry '%s': hard link", u->what, name);
        return 0;
}

static int make_plain(struct unpack *u, int pfd, const char *path, const char *base, struct archive_entry *e)
{
        const char *name = archive_entry_pathname(e);
        mode_t type = archive_entry_filetype(e);
        const char *link = archive_entry_hardlink(e);
        int r = clear_name(u, pfd, base, type == AE_IFDIR && !link, name);
        if (r < 0)
                return r;
        if (link)
                return hard_link(u, pfd, base, name, link);
        switch (type) {
        case AE_IFDIR:
                if (r == 0 && mkdirat(pfd, base, 0700) < 0)
                        return err_errno(u->err, errno, "image: layer %s: entry '%s': mkdir", u->what, name);
                return remember_dir(u, path, e);
        case AE_IFREG:
                return write_file(u, pfd, base, name, e);
        case AE_IFLNK:
                /* The target is stored as text; nothing here ever follows it. */
                if (symlinkat(archive_entry_symlink(e) ? archive_entry_symlink(e) : "", pfd, base) < 0)
                        return err_errno(u->err, errno, "image: layer %s: entry '%s': symlink", u->what, name);
                if (u->as_root && fchownat(pfd, base, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
                                           AT_SYMLINK_NOFOLLOW) < 0)
                        return err_errno(u->err, errno, "image: layer %s: entry '%s': chown", u->what, name);
                return 0;
        default: /* character and block devices, fifos, sockets: not made */
                u->st->skipped_devices++;
                return 0;
        }
}

static int make_entry(struct unpack *u, struct archive_entry *e)
{
        const char *name = archive_entry_pathname(e);
        char parent[4096], base[256], path[4096 + 256 + 2];
        enum img_entry_kind kind;
        const char *why = "";
        if (!name)
                return entry_fail(u, EINVAL, "?", "no name");
        int r = img_entry_path(name, parent, sizeof(parent), base, sizeof(base), &kind, &why);
        if (r < 0)
                return entry_fail(u, EINVAL, name, why);
        if (r == 1)
                return 0;
        _cleanup_(closep) int pfd = parent_dir(u, parent, name);
        if (pfd < 0)
                return pfd;
        u->st->entries++;
        if (kind == IMG_ENTRY_OPAQUE) {
                if (fsetxattr(pfd, OPAQUE_XATTR, "y", 1, 0) < 0)
                        return err_errno(u->err, errno, "image: layer %s: entry '%s': mark opaque (user xattrs)",
                                         u->what, name);
                return 0;
        }
        if (kind == IMG_ENTRY_WHITEOUT) {
                r = clear_name(u, pfd, base, false, name);
                if (r == 0 && mknodat(pfd, base, S_IFCHR, makedev(0, 0)) < 0)
                        return err_errno(u->err, errno, "image: layer %s: entry '%s': whiteout", u->what, name);
                return r;
        }
        snprintf(path, sizeof(path), "%s%s%s", parent, parent[0] ? "/" : "", base);
        return make_plain(u, pfd, path, base, e);
}

/* Directory modes last: a 0555 dir would have refused its own entries. */
static int apply_dir_modes(struct unpack *u)
{
        for (size_t i = u->n_dirs; i-- > 0;) {
                const struct dir_mode *d = &u->dirs[i];
                _cleanup_(closep) int fd = open_beneath(u->root_fd, d->path, O_RDONLY | O_DIRECTORY);
                if (fd < 0)
                        continue; /* replaced by a later entry */
                if (u->as_root && fchown(fd, d->uid, d->gid) < 0)
                        return err_errno(u->err, errno, "image: layer %s: chown %s", u->what, d->path);
                if (fchmod(fd, d->mode) < 0)
                        return err_errno(u->err, errno, "image: layer %s: chmod %s", u->what, d->path);
        }
        return 0;
}

static void unpack_free(struct unpack *u)
{
        for (size_t i = 0; i < u->n_dirs; i++)
                free(u->dirs[i].path);
        free(u->dirs);
        archive_read_free(u->a);
}

int img_unpack_layer(int fd, int dir_fd, const char *what, struct img_unpack_stats *st, struct zb_error *err)
{
        struct unpack u = { .root_fd = dir_fd, .what = what, .as_root = geteuid() == 0, .st = st, .err = err };
        struct archive_entry *e;
        int r = 0;

        memset(st, 0, sizeof(*st));
        if (lseek(fd, 0, SEEK_SET) < 0)
                return err_errno(err, errno, "image: layer %s: rewind", what);
        u.a = archive_read_new();
        if (!u.a)
                return err_set(err, ENOMEM, "image: out of memory");
        archive_read_support_filter_gzip(u.a);
        archive_read_support_filter_zstd(u.a);
        archive_read_support_format_tar(u.a);
        if (archive_read_open_fd(u.a, fd, READ_BLOCK_BYTES) != ARCHIVE_OK)
                r = err_set(err, EINVAL, "image: layer %s: not a tar, tar+gzip or tar+zstd stream (%s)", what,
                            archive_error_string(u.a) ? archive_error_string(u.a) : "unreadable");
        while (r == 0) {
                int ar = archive_read_next_header(u.a, &e);
                if (ar == ARCHIVE_EOF)
                        break;
                if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) {
                        r = err_set(err, EINVAL, "image: layer %s: corrupt (%s)", what,
                                    archive_error_string(u.a) ? archive_error_string(u.a) : "bad header");
                        break;
                }
                r = make_entry(&u, e);
        }
        if (r == 0)
                r = apply_dir_modes(&u);
        unpack_free(&u);
        return r;
}
