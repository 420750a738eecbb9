/* Copy-on-write zones: reading the upper dir back when the run ends.
 *
 * The upper dir is the command's work, read against the host dir: a
 * whiteout is a deletion, an opaque directory replaces the host's whole,
 * and a file counts as modified only when its type, mode, content or link
 * target differ (a touch alone is no change). Nothing is followed through a
 * symlink; host entries changed while the command ran are conflicts. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "cow_int.h"

#define OPAQUE_XATTR "user.overlay.opaque"

/* overlayfs marks a deletion with a character device 0:0 (a whiteout). */
static bool is_whiteout(const struct stat *st)
{
        return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* ---------- reading the upper dir back: what changed ---------- */

/* MERGE: an upper dir over a host dir, both seen (the overlay's normal
 * case). REPLACE: an opaque upper dir: the host's entries are hidden, so
 * those missing above are deleted. NEW: nothing of the host's below. Only
 * MERGE entries are commit steps; the others are listed for the reader and
 * travel with the tree they are in. */
enum scan_mode { SCAN_MERGE, SCAN_REPLACE, SCAN_NEW };

struct scan {
        struct cow_zone *z;
        dev_t dev; /* the host dir's filesystem */
        char path[PATH_MAX];
        int err;
        char what[PATH_MAX + 64];
        char buf_u[COPY_CHUNK_BYTES], buf_l[COPY_CHUNK_BYTES];
};

static int scan_fail(struct scan *sc, int e, const char *what)
{
        if (!sc->err) {
                size_t len = strlen(sc->path);
                sc->err = e ? e : EIO;
                snprintf(sc->what, sizeof(sc->what), "%s %s%s", what, len > 160 ? "..." : "",
                         len ? sc->path + (len > 160 ? len - 160 : 0) : ".");
        }
        return -sc->err;
}

static int path_set(struct scan *sc, size_t len, const char *name)
{
        int n = snprintf(sc->path + len, sizeof(sc->path) - len, "%s%s", len ? "/" : "", name);
        return n < 0 || (size_t)n >= sizeof(sc->path) - len ? scan_fail(sc, ENAMETOOLONG, "path") : 0;
}

static struct cow_entry *note_change(struct scan *sc, enum cow_change ch, const struct stat *upper,
                                 const struct stat *host, bool apply)
{
        const struct stat *of = ch == ZB_COW_DELETED ? host : upper; /* the entry's type */
        struct cow_entry *e = cow_zone_add(sc->z, sc->path, ch, cow_type_of(of ? of->st_mode : 0));
        if (!e) {
                scan_fail(sc, ENOMEM, "note");
                return NULL;
        }
        e->apply = apply;
        if (upper)
                cow_stat_fill(&e->upper, upper);
        if (host)
                cow_stat_fill(&e->host, host);
        return e;
}

static bool is_opaque(int dirfd)
{
        char v[4];
        ssize_t n = fgetxattr(dirfd, OPAQUE_XATTR, v, sizeof(v));
        return n == 1 && v[0] == 'y';
}

/* 1 when the two regular files' contents differ (or cannot be compared).
 * (The big buffers of this and the next few helpers stay out of the frames
 * of the recursive walks: noinline.) */
__attribute__((noinline)) static int content_differs(struct scan *sc, int udir, int ldir, const char *name)
{
        _cleanup_(closep) int u = fs_open_upper(udir, name, O_RDONLY);
        _cleanup_(closep) int l = openat(ldir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (u < 0 || l < 0)
                return 1;
        for (;;) {
                ssize_t a = read(u, sc->buf_u, sizeof(sc->buf_u));
                if (a < 0)
                        return 1;
                size_t got = 0;
                while (got < (size_t)a) {
                        ssize_t b = read(l, sc->buf_l + got, (size_t)a - got);
                        if (b <= 0)
                                return 1;
                        got += (size_t)b;
                }
                if (a == 0)
                        return read(l, sc->buf_l, 1) != 0;
                if (memcmp(sc->buf_u, sc->buf_l, (size_t)a) != 0)
                        return 1;
        }
}

/* Whether the command's copy of a non-directory differs from the host's:
 * type, permission bits, content, link target. A touch alone is no change. */
__attribute__((noinline)) static int differs(struct scan *sc, int udir, int ldir, const char *name,
                                             const struct stat *us, const struct stat *ls)
{
        if ((us->st_mode & S_IFMT) != (ls->st_mode & S_IFMT) || (us->st_mode & 07777) != (ls->st_mode & 07777))
                return 1;
        if (S_ISLNK(us->st_mode)) {
                char a[PATH_MAX], b[PATH_MAX];
                ssize_t na = readlinkat(udir, name, a, sizeof(a));
                ssize_t nb = readlinkat(ldir, name, b, sizeof(b));
                return na < 0 || na != nb || memcmp(a, b, (size_t)na) != 0;
        }
        if (S_ISREG(us->st_mode))
                return us->st_size != ls->st_size || content_differs(sc, udir, ldir, name);
        return 0;
}

static int scan_dir(struct scan *sc, int udir, int ldir, size_t len, enum scan_mode mode);

static int scan_subdir_fd(struct scan *sc, int ufd, int ldir, enum scan_mode mode, const char *name,
                          const struct stat *us, const struct stat *ls);

static int scan_subdir(struct scan *sc, int udir, int ldir, enum scan_mode mode, const char *name,
                       const struct stat *us, const struct stat *ls)
{
        mode_t restore;
        _cleanup_(closep) int ufd = fs_open_upper_dir(udir, name, &restore);
        if (ufd < 0)
                return scan_fail(sc, errno, "open the upper dir's");
        int r = scan_subdir_fd(sc, ufd, ldir, mode, name, us, ls);
        fs_restore_mode(ufd, restore);
        return r;
}

static int scan_subdir_fd(struct scan *sc, int ufd, int ldir, enum scan_mode mode, const char *name,
                          const struct stat *us, const struct stat *ls)
{
        bool apply = mode == SCAN_MERGE;
        size_t len = strlen(sc->path);
        if (!ls || !S_ISDIR(ls->st_mode)) {
                /* New, or in place of the host's file: a tree of its own. */
                if (!note_change(sc, ls ? ZB_COW_MODIFIED : ZB_COW_ADDED, us, ls, apply))
                        return -ENOMEM;
                return scan_dir(sc, ufd, -1, len, SCAN_NEW);
        }
        if (ls->st_dev != sc->dev) {
                /* The overlay saw the directory under the host's mount point,
                 * which commit cannot reach without crossing the mount. */
                struct cow_entry *e = note_change(sc, ZB_COW_MODIFIED, us, ls, apply);
                if (!e || !(e->conflict = strdup("a mount point on the host")))
                        return scan_fail(sc, ENOMEM, "note");
                return scan_dir(sc, ufd, -1, len, SCAN_NEW);
        }
        _cleanup_(closep) int lfd = openat(ldir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (lfd < 0)
                return scan_fail(sc, errno, "open the host's");
        bool same_mode = (us->st_mode & 07777) == (ls->st_mode & 07777);
        if (mode == SCAN_MERGE && !is_opaque(ufd)) {
                if (!same_mode) {
                        struct cow_entry *e = note_change(sc, ZB_COW_MODIFIED, us, ls, true);
                        if (!e)
                                return -ENOMEM;
                        e->meta_only = true;
                }
                return scan_dir(sc, ufd, lfd, len, SCAN_MERGE);
        }
        /* Opaque (removed and made again), or below an opaque directory:
         * the upper tree replaces the host's whole. */
        if (mode == SCAN_MERGE || !same_mode)
                if (!note_change(sc, ZB_COW_MODIFIED, us, ls, apply))
                        return -ENOMEM;
        return scan_dir(sc, ufd, lfd, len, SCAN_REPLACE);
}

static int scan_one(struct scan *sc, int udir, int ldir, size_t len, enum scan_mode mode, const char *name)
{
        struct stat us, ls;
        bool have_l = false, apply = mode == SCAN_MERGE;
        int r = path_set(sc, len, name);

        if (r < 0)
                return r;
        if (fstatat(udir, name, &us, AT_SYMLINK_NOFOLLOW) < 0)
                return scan_fail(sc, errno, "stat the upper dir's");
        if (ldir >= 0) {
                if (fstatat(ldir, name, &ls, AT_SYMLINK_NOFOLLOW) == 0)
                        have_l = true;
                else if (errno != ENOENT)
                        return scan_fail(sc, errno, "stat the host's");
        }
        if (is_whiteout(&us)) {
                /* Below an opaque directory a whiteout hides nothing. */
                if (have_l && mode == SCAN_MERGE)
                        return note_change(sc, ZB_COW_DELETED, NULL, &ls, true) ? 0 : -ENOMEM;
                return 0;
        }
        if (S_ISSOCK(us.st_mode) || S_ISCHR(us.st_mode) || S_ISBLK(us.st_mode))
                return 0; /* a socket means nothing without its process; devices cannot be made */
        if (S_ISDIR(us.st_mode))
                return scan_subdir(sc, udir, ldir, mode, name, &us, have_l ? &ls : NULL);
        if (!have_l)
                return note_change(sc, ZB_COW_ADDED, &us, NULL, apply) ? 0 : -ENOMEM;
        if (!S_ISDIR(ls.st_mode) && !differs(sc, udir, ldir, name, &us, &ls))
                return 0;
        return note_change(sc, ZB_COW_MODIFIED, &us, &ls, apply) ? 0 : -ENOMEM;
}

/* In a replaced directory: the host's entries that the upper dir lacks. */
static int scan_gone(struct scan *sc, int udir, int ldir, size_t len)
{
        size_t n = 0;
        char **names = fs_dir_names(ldir, &n);
        int r = names ? 0 : scan_fail(sc, errno, "list the host's");
        for (size_t i = 0; r == 0 && i < n; i++) {
                struct stat us, ls;
                if (fstatat(udir, names[i], &us, AT_SYMLINK_NOFOLLOW) == 0 && !is_whiteout(&us))
                        continue;
                if ((r = path_set(sc, len, names[i])) < 0)
                        break;
                if (fstatat(ldir, names[i], &ls, AT_SYMLINK_NOFOLLOW) < 0)
                        r = scan_fail(sc, errno, "stat the host's");
                else if (!note_change(sc, ZB_COW_DELETED, NULL, &ls, false))
                        r = -ENOMEM;
        }
        fs_names_free(names, n);
        return r;
}

static int scan_dir(struct scan *sc, int udir, int ldir, size_t len, enum scan_mode mode)
{
        size_t n = 0;
        char **names = fs_dir_names(udir, &n);
        int r = names ? 0 : scan_fail(sc, errno, "list the upper dir's");

        for (size_t i = 0; r == 0 && i < n; i++)
                r = scan_one(sc, udir, ldir, len, mode, names[i]);
        if (r == 0 && mode == SCAN_REPLACE && ldir >= 0)
                r = scan_gone(sc, udir, ldir, len);
        fs_names_free(names, n);
        sc->path[len] = '\0';
        return r;
}

/* Read zone Z's upper dir (UPPER) against the host dir (HOST). Entries the
 * host changed after START_NS (0: do not look) are marked as conflicts. */
int cow_scan_zone(struct cow_zone *z, int upper, int host, int64_t start_ns, char *msg, size_t n)
{
        struct scan *sc = calloc(1, sizeof(*sc));
        struct stat st;
        int r;

        if (!sc)
                return -ENOMEM;
        sc->z = z;
        r = fstat(host, &st) < 0 ? -errno : 0;
        sc->dev = st.st_dev;
        if (r == 0)
                r = scan_dir(sc, upper, host, 0, SCAN_MERGE);
        if (r < 0)
                snprintf(msg, n, "zone '%s': %s: %s", z->name, sc->what[0] ? sc->what : "read", strerror(-r));
        free(sc);
        for (size_t i = 0; r == 0 && start_ns && i < z->n; i++) {
                struct cow_entry *e = &z->e[i];
                if (e->conflict || e->host.type == ZB_COW_NONE || e->host.ctime_ns < start_ns)
                        continue;
                if (!(e->conflict = strdup("changed on the host while the command ran")))
                        r = -ENOMEM;
        }
        return r;
}
