/* Copy-on-write zones: the change-set store on disk (see cow.h for its
 * layout). The store and its parent must be the user's and writable by
 * nobody else, since a change set names the host dirs commit writes to. A
 * run dir is made under a dot name and renamed once locked, so gc never
 * takes one being set up; gc removes only unlocked dirs without a manifest.
 * The manifest is written last, through a temporary and a rename. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "cow_int.h"

#define MANIFEST_MAX_BYTES (256u << 20)
#define STALE_NEW_DIR_S 60             /* a .new-ID dir older than this, unlocked, is left over */

/* ---------- the store ---------- */

/* A change set says which host dirs commit writes to, so the store and its
 * parent must be the user's (or root's) and writable by nobody else (a
 * world-writable parent only with the sticky bit, like /tmp). */
static int store_check(const char *path, int fd, struct zb_error *err)
{
        struct stat st, pst;
        char parent[PATH_MAX];
        snprintf(parent, sizeof(parent), "%s", path);
        char *slash = strrchr(parent, '/');
        if (slash)
                *(slash == parent ? slash + 1 : slash) = '\0';
        if (fstat(fd, &st) < 0 || stat(parent, &pst) < 0)
                return err_errno(err, errno, "cow: change-set store %s", path);
        if (st.st_uid != geteuid() || (st.st_mode & 022))
                return err_set(err, EPERM,
                                    "cow: the change-set store %s must belong to uid %u and be writable only by it",
                                    path, (unsigned)geteuid());
        if ((pst.st_uid != geteuid() && pst.st_uid != 0) ||
            ((pst.st_mode & 022) && !(pst.st_mode & S_ISVTX)))
                return err_set(err, EPERM,
                                    "cow: the change-set store's parent %s must belong to uid %u or root and not be writable by others",
                                    parent, (unsigned)geteuid());
        return 0;
}

int cow_store_open(const char *override, bool create, char *path, size_t n, int *out,
                      struct zb_error *err)
{
        int r = cow_store_path(override, path, n, err);
        if (r < 0)
                return r;
        if (create) {
                /* mkdir -p, 0700 for what it makes. */
                for (char *s = path + 1;; s++) {
                        s = strchr(s, '/');
                        if (s)
                                *s = '\0';
                        int e = mkdir(path, 0700) < 0 && errno != EEXIST ? errno : 0;
                        if (s)
                                *s = '/';
                        if (e)
                                return err_errno(err, e, "cow: cannot make the change-set store %s", path);
                        if (!s)
                                break;
                }
        }
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return err_errno(err, errno, "cow: change-set store %s", path);
        r = store_check(path, fd, err);
        if (r < 0) {
                close(fd);
                return r;
        }
        *out = fd;
        return 0;
}

/* Remove what killed supervisors left: run dirs without a manifest that no
 * run holds the flock of. A run makes its dir under a dot name and renames
 * it once locked, so a dir being set up is never taken for one. */
void cow_store_gc(int store_fd)
{
        size_t n = 0;
        char **names = fs_dir_names(store_fd, &n);
        for (size_t i = 0; names && i < n; i++) {
                const char *name = names[i];
                struct stat st;
                bool fresh_dot = name[0] == '.';
                if (fresh_dot && strncmp(name, ".new-", 5) != 0)
                        continue;
                if (!fresh_dot && !cow_id_valid(name))
                        continue;
                if (fstatat(store_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                if (fresh_dot && time(NULL) - st.st_mtime < STALE_NEW_DIR_S)
                        continue;
                _cleanup_(closep) int fd = openat(store_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
                        continue;
                /* Locked: no run is going. A manifest makes it a kept set. */
                if (faccessat(fd, ZB_COW_MANIFEST, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                        continue;
                fs_remove_tree(store_fd, name, 0);
        }
        fs_names_free(names, n);
}

static void make_id(char *id, size_t n)
{
        uint32_t rnd = 0;
        if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
                rnd = (uint32_t)(util_now_ns() ^ (uint64_t)getpid());
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(id, n, "%04d%02d%02d-%02d%02d%02d-%08x", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, rnd);
}

/* A fresh run dir STORE/ID, locked for the run. */
int cow_make_run_dir(struct ns_cow *cow, struct zb_error *err)
{
        char tmp[ZB_COW_ID_MAX + 8];

        for (int tries = 0; tries < 16; tries++) {
                make_id(cow->id, sizeof(cow->id));
                snprintf(tmp, sizeof(tmp), ".new-%s", cow->id);
                if (mkdirat(cow->store_fd, tmp, 0700) < 0) {
                        if (errno == EEXIST)
                                continue;
                        return err_errno(err, errno, "cow: make a run dir in %s", cow->store);
                }
                int fd = openat(cow->store_fd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0 || flock(fd, LOCK_EX) < 0 ||
                    renameat2(cow->store_fd, tmp, cow->store_fd, cow->id, RENAME_NOREPLACE) < 0) {
                        int e = errno;
                        if (fd >= 0)
                                close(fd);
                        fs_remove_tree(cow->store_fd, tmp, 0);
                        if (e == EEXIST)
                                continue;
                        return err_errno(err, e, "cow: make a run dir in %s", cow->store);
                }
                cow->run_fd = fd;
                return 0;
        }
        return err_set(err, EEXIST, "cow: cannot find a free change-set id in %s", cow->store);
}

int cow_write_manifest(int run_fd, const struct cow_set *set)
{
        _cleanup_(freep) char *text = cow_set_to_json(set);
        if (!text)
                return -ENOMEM;
        int fd = openat(run_fd, ZB_COW_MANIFEST ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        size_t len = strlen(text), off = 0;
        int r = 0;
        while (r == 0 && off < len) {
                ssize_t w = write(fd, text + off, len - off);
                if (w < 0)
                        r = -errno;
                else
                        off += (size_t)w;
        }
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        close(fd);
        if (r == 0 && renameat(run_fd, ZB_COW_MANIFEST ".tmp", run_fd, ZB_COW_MANIFEST) < 0)
                r = -errno;
        return r;
}

/* Open STORE/ID, checked and (LOCK) locked, and read its manifest. */
int cow_set_open(int store_fd, const char *store, const char *id, bool lock, int *run_fd,
                    struct cow_set *set, struct zb_error *err)
{
        struct stat st;

        *run_fd = -1;
        if (!cow_id_valid(id))
                return err_set(err, EINVAL, "cow: '%s' is not a change-set id", id);
        int fd = openat(store_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? err_set(err, ENOENT, "cow: no change set %s in %s (zonebox diff --list)", id, store)
                                       : err_errno(err, errno, "cow: change set %s", id);
        *run_fd = fd;
        if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022))
                return err_set(err, EPERM, "cow: change set %s is not yours alone", id);
        if (lock && flock(fd, LOCK_EX | LOCK_NB) < 0)
                return err_set(err, EBUSY,
                                    "cow: change set %s is in use (its run is still going, or another commit or discard)",
                                    id);
        _cleanup_(closep) int mfd = openat(fd, ZB_COW_MANIFEST, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (mfd < 0)
                return errno == ENOENT ? err_set(err, EBUSY, "cow: change set %s is not complete (its run is still going)", id)
                                       : err_errno(err, errno, "cow: change set %s: manifest", id);
        if (fstat(mfd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
            (uint64_t)st.st_size > MANIFEST_MAX_BYTES)
                return err_set(err, EPERM, "cow: change set %s: the manifest is not usable", id);
        _cleanup_(freep) char *text = malloc((size_t)st.st_size + 1);
        if (!text)
                return err_set(err, ENOMEM, "out of memory");
        size_t got = 0;
        while (got < (size_t)st.st_size) {
                ssize_t n = read(mfd, text + got, (size_t)st.st_size - got);
                if (n <= 0)
                        return err_errno(err, n < 0 ? errno : EIO, "cow: change set %s: read the manifest", id);
                got += (size_t)n;
        }
        text[got] = '\0';
        int r = cow_set_from_json(text, set, err);
        if (r == 0 && strcmp(set->id, id) != 0) {
                cow_set_free(set);
                return err_set(err, EINVAL, "cow: change set %s: the manifest names another id", id);
        }
        return r;
}
