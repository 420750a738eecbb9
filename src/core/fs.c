/* Filesystem helpers (fs.h): cow zones, the image store and serve's job dirs.
 *
 * Host paths are opened with openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_XDEV from a zone's root; upper-dir entries (the command's
 * work) one component at a time, never through a symlink. The removal is
 * rm -rf that never follows a symlink, never leaves the filesystem it is
 * told to stay on, and keeps fds and stack bounded whatever the depth. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs.h"
#include "util.h"

#define REMOVE_DEPTH_MAX 64

int64_t fs_ts_ns(const struct timespec *ts)
{
        return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* PATH below DIRFD, no symlink anywhere, no other filesystem: the walk
 * every host path of a commit takes. */
int fs_open_beneath(int dirfd, const char *path, int flags)
{
        struct open_how how = {
                .flags = (uint64_t)(unsigned)(flags | O_CLOEXEC | O_NOFOLLOW),
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
                           RESOLVE_NO_XDEV,
        };
        return (int)syscall(SYS_openat2, dirfd, path && path[0] ? path : ".", &how, sizeof(how));
}

int fs_cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

void fs_names_free(char **v, size_t n)
{
        for (size_t i = 0; v && i < n; i++)
                free(v[i]);
        free(v);
}

/* The names in directory FD (opened for reading), sorted, without . and .. */
char **fs_dir_names(int fd, size_t *n_out)
{
        int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
        char **v = NULL;
        size_t n = 0, cap = 0;

        *n_out = 0;
        if (!d) {
                if (dup_fd >= 0)
                        close(dup_fd);
                return NULL;
        }
        rewinddir(d);
        for (struct dirent *e; (errno = 0, e = readdir(d));) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                if (n + 1 >= cap) {
                        cap = cap ? cap * 2 : 16;
                        char **nv = realloc(v, cap * sizeof(*v));
                        if (!nv)
                                goto fail;
                        v = nv;
                }
                if (!(v[n] = strdup(e->d_name)))
                        goto fail;
                n++;
        }
        if (errno)
                goto fail;
        closedir(d);
        if (!v && !(v = calloc(1, sizeof(*v))))
                return NULL;
        v[n] = NULL;
        qsort(v, n, sizeof(*v), fs_cmp_str);
        *n_out = n;
        return v;
fail:;
        int saved = errno ? errno : ENOMEM;
        closedir(d);
        fs_names_free(v, n);
        errno = saved;
        return NULL;
}

/* chmod NAME in DIRFD, never through a symlink: the entry is opened
 * O_PATH|O_NOFOLLOW and changed through its /proc/self/fd link, which names
 * the opened inode, so a symlink swapped in after a check (the tree is the
 * command's, or the user's while commit runs) changes nothing outside. */
int fs_chmod_nofollow(int dirfd, const char *name, mode_t mode)
{
        _cleanup_(closep) int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        char proc[64];
        if (fd < 0 || fstat(fd, &st) < 0)
                return -1;
        if (S_ISLNK(st.st_mode)) {
                errno = ELOOP;
                return -1;
        }
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        return chmod(proc, mode);
}

/* Open NAME (a file or a directory) in an upper dir. The command may have
 * left an entry that even its owner cannot read (chmod 000); when zonebox
 * runs as that owner it lends itself the owner's bits: for a file only for
 * the open, for a directory for good (it is zonebox's copy). */
int fs_open_upper(int dirfd, const char *name, int flags)
{
        int fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;

        if (fd >= 0 || errno != EACCES || geteuid() == 0)
                return fd;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_uid != geteuid() ||
            S_ISLNK(st.st_mode)) {
                errno = EACCES;
                return -1;
        }
        mode_t lend = S_ISDIR(st.st_mode) ? S_IRWXU : S_IRUSR;
        if (fs_chmod_nofollow(dirfd, name, (st.st_mode | lend) & 07777) < 0)
                return -1;
        fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC);
        int saved = errno;
        if (!S_ISDIR(st.st_mode) && (fd >= 0 ? fchmod(fd, st.st_mode & 07777) : fs_chmod_nofollow(dirfd, name, st.st_mode & 07777)) < 0 && fd >= 0)
                saved = 0; /* the file stays readable by its owner: harmless */
        errno = saved;
        return fd;
}

/* A directory of the upper dir, to list and walk: when zonebox runs as its
 * owner and the command took the owner's read or search bit away, they are
 * lent until fs_restore_mode(), so that the copy keeps the mode the command set. */
int fs_open_upper_dir(int dirfd, const char *name, mode_t *restore)
{
        struct stat st;
        *restore = (mode_t)-1;
        if (geteuid() != 0 && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
            st.st_uid == geteuid() && (st.st_mode & (S_IRUSR | S_IXUSR)) != (S_IRUSR | S_IXUSR)) {
                if (fs_chmod_nofollow(dirfd, name, (st.st_mode | S_IRWXU) & 07777) < 0)
                        return -1;
                *restore = st.st_mode & 07777;
        }
        return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

void fs_restore_mode(int fd, mode_t restore)
{
        if (fd >= 0 && restore != (mode_t)-1 && fchmod(fd, restore) < 0)
                return; /* stays readable by its owner: harmless */
}

/* The upper dir's DIR ("a/b", "" for its root), one component at a time:
 * no symlink is followed (the upper dir is the command's work). */
int fs_open_upper_path(int root, const char *dir)
{
        char buf[PATH_MAX];
        int fd = fcntl(root, F_DUPFD_CLOEXEC, 0);

        snprintf(buf, sizeof(buf), "%s", dir);
        for (char *s = buf, *next; fd >= 0 && *s; s = next) {
                next = strchrnul(s, '/');
                if (*next)
                        *next++ = '\0';
                int sub = fs_open_upper(fd, s, O_RDONLY | O_DIRECTORY);
                int saved = errno;
                close(fd);
                errno = saved;
                fd = sub;
        }
        return fd;
}

/* rm -rf, bounded: a tree deeper than REMOVE_DEPTH_MAX (the command can
 * build one deeper than PATH_MAX) is cut there and its lower part moved up
 * beside the tree's top, so fds and stack stay bounded whatever the depth. */
struct removal {
        int top;              /* the directory the removal started in */
        unsigned moved, done; /* subtrees moved up beside TOP; removed of them */
};

static void removal_moved_name(char *buf, size_t n, unsigned i)
{
        snprintf(buf, n, FS_TEMP_PREFIX "rm-%d-%u", (int)getpid(), i);
}

static int remove_rec(struct removal *rm, int dirfd, const char *name, dev_t dev, unsigned depth)
{
        if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
                return 0;
        if (errno != EISDIR && errno != EPERM && errno != EACCES)
                return -errno;
        if (depth >= REMOVE_DEPTH_MAX) {
                char moved[64];
                removal_moved_name(moved, sizeof(moved), rm->moved);
                if (renameat2(dirfd, name, rm->top, moved, RENAME_NOREPLACE) == 0) {
                        rm->moved++;
                        return 0;
                }
        }
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == EACCES && fs_chmod_nofollow(dirfd, name, 0700) == 0)
                fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOTDIR ? -EACCES : -errno;
        struct stat st;
        int r = fstat(fd, &st) < 0 ? -errno : 0;
        if (r == 0 && dev && st.st_dev != dev)
                r = -EXDEV;
        if (r == 0 && st.st_uid == geteuid() && (st.st_mode & 0700) != 0700)
                fchmod(fd, 0700);
        size_t n = 0;
        char **names = r == 0 ? fs_dir_names(fd, &n) : NULL;
        if (r == 0 && !names)
                r = -errno;
        for (size_t i = 0; r == 0 && i < n; i++)
                r = remove_rec(rm, fd, names[i], st.st_dev, depth + 1);
        fs_names_free(names, n);
        close(fd);
        if (r == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                r = -errno;
        return r;
}

/* rm -rf NAME in DIRFD: never follows a symlink, never enters another
 * filesystem than DEV (0: any). A directory of the user's that the user
 * may not change is opened up first (it is about to go). */
int fs_remove_tree(int dirfd, const char *name, dev_t dev)
{
        struct removal rm = { .top = dirfd };
        int r = remove_rec(&rm, dirfd, name, dev, 0);
        while (r == 0 && rm.done < rm.moved) {
                char moved[64];
                removal_moved_name(moved, sizeof(moved), rm.done++);
                r = remove_rec(&rm, dirfd, moved, dev, 0);
        }
        return r;
}
