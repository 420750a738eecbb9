/* Copy-on-write zones (see cow.h for the store's layout).
 *
 * While the command runs, the host dir is only ever the overlay's lower
 * layer: a write, a timeout, an OOM kill or a SIGKILL of zonebox itself
 * cannot change it. When the run ends the upper dir is read back into a
 * list of changes, compared with the host dir, and kept with the host's
 * state of every touched path, so that commit can refuse when the host
 * changed in between (a conflict) instead of overwriting.
 *
 * Commit writes every new file, link or directory tree under a temporary
 * name beside its target first and renames them into place only when all
 * of them are ready, so a failure while copying (a full disk, say) leaves
 * the host dir as it was. Paths in the host dir are resolved with openat2
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV from the zone's
 * root, and the last component is never followed: a symlink (planted by the
 * command, or swapped in on the host) is copied as a symlink or refused,
 * never written through. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/openat2.h>
/* SHA-256 from libcrypto: its SHA-NI/AVX2 code hashes at ~10 times the
 * speed of a portable C one (commit hashes every byte it copies). The
 * one-shot context API is deprecated in OpenSSL 3 in favour of EVP, whose
 * providers and config loading a static binary need not carry. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>

#include "cow.h"
#include "sys.h"

#define COW_STAGE ".zonebox-cow"       /* in the sandbox's new root, during setup only */
#define COW_TEMP_PREFIX ".zonebox-"    /* commit's temporaries in the host dir */
#define COPY_CHUNK_BYTES 65536
#define MANIFEST_MAX_BYTES (256u << 20)
#define STALE_NEW_DIR_S 60             /* a .new-ID dir older than this, unlocked, is left over */
#define OPAQUE_XATTR "user.overlay.opaque"
#define REMOVE_DEPTH_MAX 64

/* ---------- small helpers ---------- */

static inline int sys_fsopen(const char *fs, unsigned flags)
{
        return (int)syscall(SYS_fsopen, fs, flags);
}
static inline int sys_fsconfig(int fd, unsigned cmd, const char *key, const void *value, int aux)
{
        return (int)syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}
static inline int sys_fsmount(int fd, unsigned flags, unsigned attrs)
{
        return (int)syscall(SYS_fsmount, fd, flags, attrs);
}

static int64_t realtime_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t ts_ns(const struct timespec *ts)
{
        return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* PATH below DIRFD, no symlink anywhere, no other filesystem: the walk
 * every host path of a commit takes. */
static int open_beneath(int dirfd, const char *path, int flags)
{
        struct open_how how = {
                .flags = (uint64_t)(unsigned)(flags | O_CLOEXEC | O_NOFOLLOW),
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
                           RESOLVE_NO_XDEV,
        };
        return (int)syscall(SYS_openat2, dirfd, path && path[0] ? path : ".", &how, sizeof(how));
}

/* "a/b/c" → dir "a/b" and base "c"; "c" → "" and "c". */
static void split_path(const char *path, char *dir, size_t n, const char **base)
{
        const char *slash = strrchr(path, '/');
        if (!slash) {
                dir[0] = '\0';
                *base = path;
                return;
        }
        snprintf(dir, n, "%.*s", (int)(slash - path), path);
        *base = slash + 1;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_free(char **v, size_t n)
{
        for (size_t i = 0; v && i < n; i++)
                free(v[i]);
        free(v);
}

/* The names in directory FD (opened for reading), sorted, without . and .. */
static char **dir_names(int fd, size_t *n_out)
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
        qsort(v, n, sizeof(*v), cmp_str);
        *n_out = n;
        return v;
fail:;
        int saved = errno ? errno : ENOMEM;
        closedir(d);
        names_free(v, n);
        errno = saved;
        return NULL;
}

/* chmod NAME in DIRFD, never through a symlink: the entry is opened
 * O_PATH|O_NOFOLLOW and changed through its /proc/self/fd link, which names
 * the opened inode, so a symlink swapped in after a check (the tree is the
 * command's, or the user's while commit runs) changes nothing outside. */
static int chmod_nofollow(int dirfd, const char *name, mode_t mode)
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
static int open_upper(int dirfd, const char *name, int flags)
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
        if (chmod_nofollow(dirfd, name, (st.st_mode | lend) & 07777) < 0)
                return -1;
        fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC);
        int saved = errno;
        if (!S_ISDIR(st.st_mode) && (fd >= 0 ? fchmod(fd, st.st_mode & 07777) : chmod_nofollow(dirfd, name, st.st_mode & 07777)) < 0 && fd >= 0)
                saved = 0; /* the file stays readable by its owner: harmless */
        errno = saved;
        return fd;
}

/* A directory of the upper dir, to list and walk: when zonebox runs as its
 * owner and the command took the owner's read or search bit away, they are
 * lent until unlend(), so that the copy keeps the mode the command set. */
static int open_upper_dir(int dirfd, const char *name, mode_t *restore)
{
        struct stat st;
        *restore = (mode_t)-1;
        if (geteuid() != 0 && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
            st.st_uid == geteuid() && (st.st_mode & (S_IRUSR | S_IXUSR)) != (S_IRUSR | S_IXUSR)) {
                if (chmod_nofollow(dirfd, name, (st.st_mode | S_IRWXU) & 07777) < 0)
                        return -1;
                *restore = st.st_mode & 07777;
        }
        return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static void unlend(int fd, mode_t restore)
{
        if (fd >= 0 && restore != (mode_t)-1 && fchmod(fd, restore) < 0)
                return; /* stays readable by its owner: harmless */
}

/* The upper dir's DIR ("a/b", "" for its root), one component at a time:
 * no symlink is followed (the upper dir is the command's work). */
static int open_upper_path(int root, const char *dir)
{
        char buf[PATH_MAX];
        int fd = fcntl(root, F_DUPFD_CLOEXEC, 0);

        snprintf(buf, sizeof(buf), "%s", dir);
        for (char *s = buf, *next; fd >= 0 && *s; s = next) {
                next = strchrnul(s, '/');
                if (*next)
                        *next++ = '\0';
                int sub = open_upper(fd, s, O_RDONLY | O_DIRECTORY);
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
struct rm {
        int top; /* the directory the removal started in */
        unsigned moved, done;
};

static void rm_moved_name(char *buf, size_t n, unsigned i)
{
        snprintf(buf, n, COW_TEMP_PREFIX "rm-%d-%u", (int)getpid(), i);
}

static int rm_rec(struct rm *rm, int dirfd, const char *name, dev_t dev, unsigned depth)
{
        if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
                return 0;
        if (errno != EISDIR && errno != EPERM && errno != EACCES)
                return -errno;
        if (depth >= REMOVE_DEPTH_MAX) {
                char moved[64];
                rm_moved_name(moved, sizeof(moved), rm->moved);
                if (renameat2(dirfd, name, rm->top, moved, RENAME_NOREPLACE) == 0) {
                        rm->moved++;
                        return 0;
                }
        }
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == EACCES && chmod_nofollow(dirfd, name, 0700) == 0)
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
        char **names = r == 0 ? dir_names(fd, &n) : NULL;
        if (r == 0 && !names)
                r = -errno;
        for (size_t i = 0; r == 0 && i < n; i++)
                r = rm_rec(rm, fd, names[i], st.st_dev, depth + 1);
        names_free(names, n);
        close(fd);
        if (r == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                r = -errno;
        return r;
}

/* rm -rf NAME in DIRFD: never follows a symlink, never enters another
 * filesystem than DEV (0: any). A directory of the user's that the user
 * may not change is opened up first (it is about to go). */
static int remove_tree(int dirfd, const char *name, dev_t dev)
{
        struct rm rm = { .top = dirfd };
        int r = rm_rec(&rm, dirfd, name, dev, 0);
        while (r == 0 && rm.done < rm.moved) {
                char moved[64];
                rm_moved_name(moved, sizeof(moved), rm.done++);
                r = rm_rec(&rm, dirfd, moved, dev, 0);
        }
        return r;
}

/* ---------- names, types, stats ---------- */

bool cow_id_valid(const char *id)
{
        size_t n = id ? strlen(id) : 0;
        if (n == 0 || n >= ZB_COW_ID_MAX || id[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = id[i];
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                      ch == '-' || ch == '_'))
                        return false;
        }
        return true;
}

int cow_store_default(uid_t euid, const char *xdg_runtime, char *buf, size_t n)
{
        int len;
        if (euid == 0)
                len = snprintf(buf, n, "%s", ZB_COW_ROOT_STORE);
        else if (xdg_runtime && xdg_runtime[0] == '/')
                len = snprintf(buf, n, "%s/zonebox/cow", xdg_runtime);
        else
                len = snprintf(buf, n, "/tmp/zonebox-%u/cow", (unsigned)euid);
        return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

static const char *const type_names[] = {
        [ZB_COW_NONE] = "none", [ZB_COW_FILE] = "file", [ZB_COW_DIR] = "dir",
        [ZB_COW_LINK] = "symlink", [ZB_COW_FIFO] = "fifo", [ZB_COW_OTHER] = "other",
};
static const char *const change_names[] = {
        [ZB_COW_ADDED] = "added", [ZB_COW_MODIFIED] = "modified", [ZB_COW_DELETED] = "deleted",
};

const char *cow_type_name(enum cow_type t)
{
        return (unsigned)t < ARRAY_SIZE(type_names) ? type_names[t] : "other";
}

const char *cow_change_name(enum cow_change c)
{
        return (unsigned)c < ARRAY_SIZE(change_names) ? change_names[c] : "modified";
}

enum cow_type cow_type_of(mode_t mode)
{
        if (S_ISREG(mode))
                return ZB_COW_FILE;
        if (S_ISDIR(mode))
                return ZB_COW_DIR;
        if (S_ISLNK(mode))
                return ZB_COW_LINK;
        if (S_ISFIFO(mode))
                return ZB_COW_FIFO;
        return ZB_COW_OTHER;
}

/* overlayfs marks a deletion with a character device 0:0 (a whiteout). */
static bool is_whiteout(const struct stat *st)
{
        return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static void stat_fill(struct cow_stat *o, const struct stat *st)
{
        o->type = cow_type_of(st->st_mode);
        o->mode = st->st_mode & 07777;
        o->uid = st->st_uid;
        o->gid = st->st_gid;
        o->ino = st->st_ino;
        o->size = (uint64_t)st->st_size;
        o->mtime_ns = ts_ns(&st->st_mtim);
        o->ctime_ns = ts_ns(&st->st_ctim);
}

bool cow_stat_changed(const struct cow_stat *then, const struct cow_stat *now, char *reason,
                         size_t n)
{
        if (then->type == ZB_COW_NONE && now->type == ZB_COW_NONE)
                return false;
        if (then->type == ZB_COW_NONE)
                snprintf(reason, n, "created on the host since the run");
        else if (now->type == ZB_COW_NONE)
                snprintf(reason, n, "deleted on the host since the run");
        else if (then->type != now->type)
                snprintf(reason, n, "replaced on the host (was a %s, now a %s)", cow_type_name(then->type),
                         cow_type_name(now->type));
        else if (then->ino != now->ino)
                snprintf(reason, n, "replaced on the host (another inode)");
        else if (then->size != now->size)
                snprintf(reason, n, "modified on the host (size %llu -> %llu)",
                         (unsigned long long)then->size, (unsigned long long)now->size);
        else if (then->mtime_ns != now->mtime_ns)
                snprintf(reason, n, "modified on the host (mtime)");
        else if (then->mode != now->mode)
                snprintf(reason, n, "mode changed on the host (%o -> %o)", (unsigned)then->mode,
                         (unsigned)now->mode);
        else if (then->ctime_ns != now->ctime_ns)
                snprintf(reason, n, "changed on the host (ctime)");
        else
                return false;
        return true;
}

/* ---------- change sets in memory ---------- */

struct cow_entry *cow_zone_add(struct cow_zone *z, const char *path, enum cow_change change,
                                     enum cow_type type)
{
        if (z->n == z->cap) {
                size_t cap = z->cap ? z->cap * 2 : 32;
                struct cow_entry *e = realloc(z->e, cap * sizeof(*e));
                if (!e)
                        return NULL;
                z->e = e;
                z->cap = cap;
        }
        struct cow_entry *e = &z->e[z->n];
        memset(e, 0, sizeof(*e));
        if (!(e->path = strdup(path)))
                return NULL;
        e->change = change;
        e->type = type;
        z->n++;
        return e;
}

static void zone_free(struct cow_zone *z)
{
        for (size_t i = 0; i < z->n; i++) {
                free(z->e[i].path);
                free(z->e[i].conflict);
                free(z->e[i].host_tree);
        }
        free(z->e);
        json_object_put(z->tree);
        free(z->name);
        free(z->path);
        free(z->host_path);
        memset(z, 0, sizeof(*z));
}

void cow_set_free(struct cow_set *set)
{
        for (size_t i = 0; i < set->n_zones; i++)
                zone_free(&set->zones[i]);
        free(set->zones);
        free(set->status);
        free(set->error);
        memset(set, 0, sizeof(*set));
}

static size_t set_count(const struct cow_set *set)
{
        size_t n = 0;
        for (size_t i = 0; i < set->n_zones; i++)
                n += set->zones[i].n;
        return n;
}

/* ---------- the manifest (JSON) ---------- */

static json_object *stat_to_json(const struct cow_stat *s)
{
        if (s->type == ZB_COW_NONE)
                return NULL;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "type", json_object_new_string(cow_type_name(s->type)));
        json_object_object_add(o, "mode", json_object_new_int((int)s->mode));
        json_object_object_add(o, "uid", json_object_new_int64(s->uid));
        json_object_object_add(o, "gid", json_object_new_int64(s->gid));
        json_object_object_add(o, "ino", json_object_new_uint64(s->ino));
        json_object_object_add(o, "size", json_object_new_uint64(s->size));
        json_object_object_add(o, "mtime_ns", json_object_new_int64(s->mtime_ns));
        json_object_object_add(o, "ctime_ns", json_object_new_int64(s->ctime_ns));
        return o;
}

/* The fields a change set is known by: in its manifest, in diff and list. */
static json_object *set_header(const struct cow_set *set)
{
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "id", json_object_new_string(set->id));
        json_object_object_add(o, "created", json_object_new_int64(set->created));
        json_object_object_add(o, "status", json_object_new_string(set->status ? set->status : "?"));
        json_object_object_add(o, "exit_code", json_object_new_int(set->exit_code));
        if (set->error)
                json_object_object_add(o, "error", json_object_new_string(set->error));
        return o;
}

char *cow_set_to_json(const struct cow_set *set)
{
        json_object *o = set_header(set);
        json_object *zones = json_object_new_array();
        char *text = NULL;

        if (!o || !zones)
                goto out;
        json_object_object_add(o, "version", json_object_new_int(1));
        json_object_object_add(o, "run_start_ns", json_object_new_int64(set->run_start_ns));
        for (size_t i = 0; i < set->n_zones; i++) {
                const struct cow_zone *z = &set->zones[i];
                json_object *zo = json_object_new_object(), *entries = json_object_new_array();
                json_object_object_add(zo, "name", json_object_new_string(z->name ? z->name : ""));
                json_object_object_add(zo, "path", json_object_new_string(z->path ? z->path : ""));
                json_object_object_add(zo, "host_path", json_object_new_string(z->host_path ? z->host_path : ""));
                json_object_object_add(zo, "index", json_object_new_uint64(z->index));
                json_object_object_add(zo, "dev", json_object_new_uint64(z->dev));
                json_object_object_add(zo, "ino", json_object_new_uint64(z->ino));
                for (size_t j = 0; j < z->n; j++) {
                        const struct cow_entry *e = &z->e[j];
                        json_object *eo = json_object_new_object();
                        json_object_object_add(eo, "path", json_object_new_string(e->path));
                        json_object_object_add(eo, "change", json_object_new_string(cow_change_name(e->change)));
                        json_object_object_add(eo, "type", json_object_new_string(cow_type_name(e->type)));
                        json_object_object_add(eo, "apply", json_object_new_boolean(e->apply));
                        json_object_object_add(eo, "meta_only", json_object_new_boolean(e->meta_only));
                        json_object_object_add(eo, "host", stat_to_json(&e->host));
                        json_object_object_add(eo, "upper", stat_to_json(&e->upper));
                        if (e->conflict)
                                json_object_object_add(eo, "conflict", json_object_new_string(e->conflict));
                        if (e->host_tree)
                                json_object_object_add(eo, "host_tree", json_object_new_string(e->host_tree));
                        json_object_array_add(entries, eo);
                }
                json_object_object_add(zo, "entries", entries);
                if (z->tree)
                        json_object_object_add(zo, "tree", json_object_get(z->tree));
                json_object_array_add(zones, zo);
        }
        json_object_object_add(o, "zones", zones);
        zones = NULL;
        text = util_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
out:
        json_object_put(zones);
        json_object_put(o);
        return text;
}

static json_object *get(json_object *o, const char *key, json_type type)
{
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
                return NULL;
        return v;
}

static int name_index(const char *s, const char *const *names, size_t n)
{
        for (size_t i = 0; s && i < n; i++)
                if (names[i] && strcmp(s, names[i]) == 0)
                        return (int)i;
        return -1;
}

static int stat_from_json(json_object *o, struct cow_stat *s)
{
        memset(s, 0, sizeof(*s));
        if (!o || json_object_is_type(o, json_type_null))
                return 0;
        json_object *t = get(o, "type", json_type_string);
        int ti = t ? name_index(json_object_get_string(t), type_names, ARRAY_SIZE(type_names)) : -1;
        if (ti <= 0)
                return -EINVAL;
        s->type = (enum cow_type)ti;
        json_object *v;
        if ((v = get(o, "mode", json_type_int)))
                s->mode = (uint32_t)json_object_get_int(v);
        if ((v = get(o, "uid", json_type_int)))
                s->uid = (uint32_t)json_object_get_int64(v);
        if ((v = get(o, "gid", json_type_int)))
                s->gid = (uint32_t)json_object_get_int64(v);
        if ((v = get(o, "ino", json_type_int)))
                s->ino = json_object_get_uint64(v);
        if ((v = get(o, "size", json_type_int)))
                s->size = json_object_get_uint64(v);
        if ((v = get(o, "mtime_ns", json_type_int)))
                s->mtime_ns = json_object_get_int64(v);
        if ((v = get(o, "ctime_ns", json_type_int)))
                s->ctime_ns = json_object_get_int64(v);
        return 0;
}

static int entry_from_json(json_object *eo, struct cow_zone *z)
{
        json_object *path = get(eo, "path", json_type_string);
        json_object *change = get(eo, "change", json_type_string);
        json_object *type = get(eo, "type", json_type_string);
        int ci = change ? name_index(json_object_get_string(change), change_names, ARRAY_SIZE(change_names)) : -1;
        int ti = type ? name_index(json_object_get_string(type), type_names, ARRAY_SIZE(type_names)) : -1;
        const char *p = path ? json_object_get_string(path) : NULL;

        /* A path from the manifest is used below the zone's root only, but
         * say no to anything that is not a plain relative path anyway. */
        if (!p || !p[0] || p[0] == '/' || p[strlen(p) - 1] == '/' || strstr(p, "//") || ci < 0 || ti <= 0)
                return -EINVAL;
        for (const char *s = p; *s; s = strchrnul(s, '/'), s += *s == '/') {
                size_t len = (size_t)(strchrnul(s, '/') - s);
                if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.') || len == 0)
                        return -EINVAL;
        }
        struct cow_entry *e = cow_zone_add(z, p, (enum cow_change)ci, (enum cow_type)ti);
        if (!e)
                return -ENOMEM;
        json_object *v = NULL;
        e->apply = (v = get(eo, "apply", json_type_boolean)) && json_object_get_boolean(v);
        e->meta_only = (v = get(eo, "meta_only", json_type_boolean)) && json_object_get_boolean(v);
        json_object_object_get_ex(eo, "host", &v);
        if (stat_from_json(v, &e->host) < 0)
                return -EINVAL;
        v = NULL;
        json_object_object_get_ex(eo, "upper", &v);
        if (stat_from_json(v, &e->upper) < 0)
                return -EINVAL;
        if ((v = get(eo, "conflict", json_type_string)) && !(e->conflict = strdup(json_object_get_string(v))))
                return -ENOMEM;
        if ((v = get(eo, "host_tree", json_type_string)) && !(e->host_tree = strdup(json_object_get_string(v))))
                return -ENOMEM;
        return 0;
}

static int zone_from_json(json_object *zo, struct cow_zone *z)
{
        json_object *name = get(zo, "name", json_type_string);
        json_object *path = get(zo, "path", json_type_string);
        json_object *host = get(zo, "host_path", json_type_string);
        json_object *entries = get(zo, "entries", json_type_array);
        json_object *v;

        if (!name || !path || !host || !entries || json_object_get_string(host)[0] != '/')
                return -EINVAL;
        z->name = strdup(json_object_get_string(name));
        z->path = strdup(json_object_get_string(path));
        z->host_path = strdup(json_object_get_string(host));
        if (!z->name || !z->path || !z->host_path)
                return -ENOMEM;
        if ((v = get(zo, "index", json_type_int)))
                z->index = (size_t)json_object_get_uint64(v);
        if (z->index >= ZB_MAX_ZONES)
                return -EINVAL;
        if ((v = get(zo, "dev", json_type_int)))
                z->dev = json_object_get_uint64(v);
        if ((v = get(zo, "ino", json_type_int)))
                z->ino = json_object_get_uint64(v);
        if ((v = get(zo, "tree", json_type_object)))
                z->tree = json_object_get(v);
        for (size_t j = 0; j < json_object_array_length(entries); j++) {
                int r = entry_from_json(json_object_array_get_idx(entries, j), z);
                if (r < 0)
                        return r;
        }
        return 0;
}

int cow_set_from_json(const char *text, struct cow_set *set, struct zb_error *err)
{
        memset(set, 0, sizeof(*set));
        json_object *o = json_tokener_parse(text);
        json_object *id = o ? get(o, "id", json_type_string) : NULL;
        json_object *zones = o ? get(o, "zones", json_type_array) : NULL;
        json_object *v;
        int r = 0;

        if (!id || !zones || !cow_id_valid(json_object_get_string(id))) {
                r = err_set(err, EINVAL, "cow: the change set's manifest is not valid");
                goto out;
        }
        snprintf(set->id, sizeof(set->id), "%s", json_object_get_string(id));
        if ((v = get(o, "created", json_type_int)))
                set->created = json_object_get_int64(v);
        if ((v = get(o, "run_start_ns", json_type_int)))
                set->run_start_ns = json_object_get_int64(v);
        if ((v = get(o, "exit_code", json_type_int)))
                set->exit_code = json_object_get_int(v);
        set->status = util_strdup((v = get(o, "status", json_type_string)) ? json_object_get_string(v) : "?");
        if ((v = get(o, "error", json_type_string)))
                set->error = util_strdup(json_object_get_string(v));
        size_t n = json_object_array_length(zones);
        set->zones = calloc(n ? n : 1, sizeof(*set->zones));
        if (!set->zones || !set->status) {
                r = err_set(err, ENOMEM, "out of memory");
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                set->n_zones++;
                int zr = zone_from_json(json_object_array_get_idx(zones, i), &set->zones[i]);
                if (zr < 0) {
                        r = err_set(err, -zr, "cow: the change set's manifest is not valid (zone %zu)", i);
                        goto out;
                }
        }
out:
        json_object_put(o);
        if (r < 0)
                cow_set_free(set);
        return r;
}

/* ---------- the result's lists ---------- */

static int list_push(char ***v, size_t *n, const char *path, bool dir)
{
        char **nv = realloc(*v, (*n + 1) * sizeof(char *));
        if (!nv)
                return -ENOMEM;
        *v = nv;
        if (!(nv[*n] = util_asprintf("%s%s", path, dir ? "/" : "")))
                return -ENOMEM;
        (*n)++;
        return 0;
}

int cow_fill_result(const struct cow_set *set, struct zb_result *r)
{
        r->changes = calloc(set->n_zones ? set->n_zones : 1, sizeof(*r->changes));
        if (!r->changes)
                return -ENOMEM;
        r->n_changes = set->n_zones;
        for (size_t i = 0; i < set->n_zones; i++) {
                const struct cow_zone *z = &set->zones[i];
                struct pol_zone_changes *c = &r->changes[i];
                if (!(c->zone = strdup(z->name)))
                        return -ENOMEM;
                for (size_t j = 0; j < z->n; j++) {
                        const struct cow_entry *e = &z->e[j];
                        char ***v = e->change == ZB_COW_ADDED      ? &c->added
                                    : e->change == ZB_COW_MODIFIED ? &c->modified
                                                                   : &c->deleted;
                        size_t *n = e->change == ZB_COW_ADDED      ? &c->n_added
                                    : e->change == ZB_COW_MODIFIED ? &c->n_modified
                                                                   : &c->n_deleted;
                        if (*n >= ZB_RESULT_MAX_CHANGES) {
                                c->truncated = true;
                                continue;
                        }
                        if (list_push(v, n, e->path, e->type == ZB_COW_DIR) < 0)
                                return -ENOMEM;
                }
                if (c->n_added)
                        qsort(c->added, c->n_added, sizeof(char *), cmp_str);
                if (c->n_modified)
                        qsort(c->modified, c->n_modified, sizeof(char *), cmp_str);
                if (c->n_deleted)
                        qsort(c->deleted, c->n_deleted, sizeof(char *), cmp_str);
        }
        return 0;
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

static struct cow_entry *note(struct scan *sc, enum cow_change ch, const struct stat *upper,
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
                stat_fill(&e->upper, upper);
        if (host)
                stat_fill(&e->host, host);
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
        _cleanup_(closep) int u = open_upper(udir, name, O_RDONLY);
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
        _cleanup_(closep) int ufd = open_upper_dir(udir, name, &restore);
        if (ufd < 0)
                return scan_fail(sc, errno, "open the upper dir's");
        int r = scan_subdir_fd(sc, ufd, ldir, mode, name, us, ls);
        unlend(ufd, restore);
        return r;
}

static int scan_subdir_fd(struct scan *sc, int ufd, int ldir, enum scan_mode mode, const char *name,
                          const struct stat *us, const struct stat *ls)
{
        bool apply = mode == SCAN_MERGE;
        size_t len = strlen(sc->path);
        if (!ls || !S_ISDIR(ls->st_mode)) {
                /* New, or in place of the host's file: a tree of its own. */
                if (!note(sc, ls ? ZB_COW_MODIFIED : ZB_COW_ADDED, us, ls, apply))
                        return -ENOMEM;
                return scan_dir(sc, ufd, -1, len, SCAN_NEW);
        }
        if (ls->st_dev != sc->dev) {
                /* The overlay saw the directory under the host's mount point,
                 * which commit cannot reach without crossing the mount. */
                struct cow_entry *e = note(sc, ZB_COW_MODIFIED, us, ls, apply);
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
                        struct cow_entry *e = note(sc, ZB_COW_MODIFIED, us, ls, true);
                        if (!e)
                                return -ENOMEM;
                        e->meta_only = true;
                }
                return scan_dir(sc, ufd, lfd, len, SCAN_MERGE);
        }
        /* Opaque (removed and made again), or below an opaque directory:
         * the upper tree replaces the host's whole. */
        if (mode == SCAN_MERGE || !same_mode)
                if (!note(sc, ZB_COW_MODIFIED, us, ls, apply))
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
                        return note(sc, ZB_COW_DELETED, NULL, &ls, true) ? 0 : -ENOMEM;
                return 0;
        }
        if (S_ISSOCK(us.st_mode) || S_ISCHR(us.st_mode) || S_ISBLK(us.st_mode))
                return 0; /* a socket means nothing without its process; devices cannot be made */
        if (S_ISDIR(us.st_mode))
                return scan_subdir(sc, udir, ldir, mode, name, &us, have_l ? &ls : NULL);
        if (!have_l)
                return note(sc, ZB_COW_ADDED, &us, NULL, apply) ? 0 : -ENOMEM;
        if (!S_ISDIR(ls.st_mode) && !differs(sc, udir, ldir, name, &us, &ls))
                return 0;
        return note(sc, ZB_COW_MODIFIED, &us, &ls, apply) ? 0 : -ENOMEM;
}

/* In a replaced directory: the host's entries that the upper dir lacks. */
static int scan_gone(struct scan *sc, int udir, int ldir, size_t len)
{
        size_t n = 0;
        char **names = dir_names(ldir, &n);
        int r = names ? 0 : scan_fail(sc, errno, "list the host's");
        for (size_t i = 0; r == 0 && i < n; i++) {
                struct stat us, ls;
                if (fstatat(udir, names[i], &us, AT_SYMLINK_NOFOLLOW) == 0 && !is_whiteout(&us))
                        continue;
                if ((r = path_set(sc, len, names[i])) < 0)
                        break;
                if (fstatat(ldir, names[i], &ls, AT_SYMLINK_NOFOLLOW) < 0)
                        r = scan_fail(sc, errno, "stat the host's");
                else if (!note(sc, ZB_COW_DELETED, NULL, &ls, false))
                        r = -ENOMEM;
        }
        names_free(names, n);
        return r;
}

static int scan_dir(struct scan *sc, int udir, int ldir, size_t len, enum scan_mode mode)
{
        size_t n = 0;
        char **names = dir_names(udir, &n);
        int r = names ? 0 : scan_fail(sc, errno, "list the upper dir's");

        for (size_t i = 0; r == 0 && i < n; i++)
                r = scan_one(sc, udir, ldir, len, mode, names[i]);
        if (r == 0 && mode == SCAN_REPLACE && ldir >= 0)
                r = scan_gone(sc, udir, ldir, len);
        names_free(names, n);
        sc->path[len] = '\0';
        return r;
}

/* Read zone Z's upper dir (UPPER) against the host dir (HOST). Entries the
 * host changed after START_NS (0: do not look) are marked as conflicts. */
static int scan_zone(struct cow_zone *z, int upper, int host, int64_t start_ns, char *msg, size_t n)
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

/* ---------- what commit may copy: digests of the upper dir ---------- */

/* "f:" or "d:" or "l:", 64 hex digits, NUL. */
#define DIGEST_MAX (2 + 2 * SHA256_DIGEST_LENGTH + 1)

/* What copy_entry copies: whiteouts, sockets and devices it skips, and
 * the names digest leaves them out too. */
static bool copied_type(mode_t m)
{
        return S_ISDIR(m) || S_ISREG(m) || S_ISLNK(m) || S_ISFIFO(m);
}

static void digest_end(SHA256_CTX *h, char kind, char out[DIGEST_MAX])
{
        static const char hex[] = "0123456789abcdef";
        unsigned char md[SHA256_DIGEST_LENGTH];
        SHA256_Final(md, h);
        out[0] = kind;
        out[1] = ':';
        for (size_t i = 0; i < sizeof(md); i++) {
                out[2 + 2 * i] = hex[md[i] >> 4];
                out[3 + 2 * i] = hex[md[i] & 15];
        }
        out[2 + 2 * sizeof(md)] = '\0';
}

static void digest_bytes(const void *data, size_t n, char kind, char out[DIGEST_MAX])
{
        SHA256_CTX h;
        SHA256_Init(&h);
        SHA256_Update(&h, data, n);
        digest_end(&h, kind, out);
}

/* The names of directory FD that commit copies (NAMES, sorted), each with
 * its NUL, hashed; -errno when one cannot be looked at. */
static int digest_names(int fd, char **names, size_t n, char out[DIGEST_MAX])
{
        SHA256_CTX h;
        SHA256_Init(&h);
        for (size_t i = 0; i < n; i++) {
                struct stat st;
                if (fstatat(fd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                if (copied_type(st.st_mode))
                        SHA256_Update(&h, (const uint8_t *)names[i], strlen(names[i]) + 1);
        }
        digest_end(&h, 'd', out);
        return 0;
}

/* The file's digest, read from IN; with OUT >= 0 the bytes are also
 * written there on their way (commit): what lands on the host is what was
 * hashed, whatever writes the upper file meanwhile. */
__attribute__((noinline)) static int digest_copy(int in, int out, char digest[DIGEST_MAX])
{
        char buf[COPY_CHUNK_BYTES];
        SHA256_CTX h;
        SHA256_Init(&h);
        for (;;) {
                ssize_t n = read(in, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                SHA256_Update(&h, (const uint8_t *)buf, (size_t)n);
                for (ssize_t off = 0; out >= 0 && off < n;) {
                        ssize_t w = write(out, buf + off, (size_t)(n - off));
                        if (w < 0)
                                return -errno;
                        off += w;
                }
        }
        digest_end(&h, 'f', digest);
        return 0;
}

__attribute__((noinline)) static int digest_link(int dirfd, const char *name, char out[DIGEST_MAX])
{
        char target[PATH_MAX];
        ssize_t n = readlinkat(dirfd, name, target, sizeof(target));
        if (n < 0)
                return -errno;
        digest_bytes(target, (size_t)n, 'l', out);
        return 0;
}

struct digest_walk {
        json_object *tree;
        char path[PATH_MAX];
};

static int digest_put(struct digest_walk *w, const char *digest)
{
        json_object *v = json_object_new_string(digest);
        if (!v || json_object_object_add(w->tree, w->path, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int digest_dir(struct digest_walk *w, int dfd, size_t len);

static int digest_one(struct digest_walk *w, int dfd, const char *name, size_t len)
{
        struct stat st;
        char d[DIGEST_MAX];
        int r;
        int k = snprintf(w->path + len, sizeof(w->path) - len, "%s%s", len ? "/" : "", name);
        if (k < 0 || (size_t)k >= sizeof(w->path) - len)
                return -ENAMETOOLONG;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode)) {
                mode_t restore;
                _cleanup_(closep) int sub = open_upper_dir(dfd, name, &restore);
                size_t n = 0;
                char **names = sub < 0 ? NULL : dir_names(sub, &n);
                r = names ? digest_names(sub, names, n, d) : -errno;
                names_free(names, n);
                if (r == 0 && (r = digest_put(w, d)) == 0)
                        r = digest_dir(w, sub, len + (size_t)k);
                unlend(sub, restore);
                return r;
        }
        if (S_ISREG(st.st_mode)) {
                _cleanup_(closep) int fd = open_upper(dfd, name, O_RDONLY);
                r = fd < 0 ? -errno : digest_copy(fd, -1, d);
        } else if (S_ISLNK(st.st_mode)) {
                r = digest_link(dfd, name, d);
        } else {
                snprintf(d, sizeof(d), "p");
                r = 0;
        }
        return r < 0 ? r : digest_put(w, d);
}

static int digest_dir(struct digest_walk *w, int dfd, size_t len)
{
        size_t n = 0;
        char **names = dir_names(dfd, &n);
        int r = names ? 0 : -errno;
        for (size_t i = 0; r == 0 && i < n; i++) {
                struct stat st;
                if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
                        r = -errno;
                else if (copied_type(st.st_mode))
                        r = digest_one(w, dfd, names[i], len);
        }
        names_free(names, n);
        w->path[len] = '\0';
        return r;
}

/* Z->tree from the upper dir UPPER, as the run left it (see cow.h). */
static int zone_digests(struct cow_zone *z, int upper, char *msg, size_t n)
{
        struct digest_walk *w = calloc(1, sizeof(*w));
        int r = w && (w->tree = json_object_new_object()) ? digest_dir(w, upper, 0) : -ENOMEM;
        if (r == 0) {
                z->tree = w->tree;
                w->tree = NULL;
        } else {
                snprintf(msg, n, "zone '%s': hash %s: %s", z->name, w && w->path[0] ? w->path : "the upper dir",
                         strerror(-r));
        }
        if (w)
                json_object_put(w->tree);
        free(w);
        return r;
}

/* ---------- host trees that commit removes whole ---------- */

/* The state of every entry below directory FD (not FD itself), in name
 * order: what changes when anything in the subtree is created, removed,
 * renamed, written, chmod'ed or chown'ed. NEWER: set when an entry changed
 * after SINCE_NS (0: do not look). Does not cross into another filesystem
 * (commit's removal refuses to, too). */
static int host_tree_hash(SHA256_CTX *h, int fd, dev_t dev, int64_t since_ns, bool *newer, unsigned depth)
{
        if (depth > 4096)
                return -ELOOP;
        size_t n = 0;
        char **names = dir_names(fd, &n);
        int r = names ? 0 : -errno;
        for (size_t i = 0; r == 0 && i < n; i++) {
                struct stat st;
                if (fstatat(fd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = -errno;
                        break;
                }
                struct {
                        uint64_t depth, mode, uid, gid, size, ino, dev;
                        int64_t mtime, ctime;
                } rec = { depth, st.st_mode, st.st_uid, st.st_gid, (uint64_t)st.st_size, st.st_ino, st.st_dev,
                          ts_ns(&st.st_mtim), ts_ns(&st.st_ctim) };
                SHA256_Update(h, (const uint8_t *)names[i], strlen(names[i]) + 1);
                SHA256_Update(h, (const uint8_t *)&rec, sizeof(rec));
                if (since_ns && rec.ctime >= since_ns)
                        *newer = true;
                if (!S_ISDIR(st.st_mode) || st.st_dev != dev)
                        continue;
                _cleanup_(closep) int sub = openat(fd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                r = sub < 0 ? -errno : host_tree_hash(h, sub, dev, since_ns, newer, depth + 1);
        }
        names_free(names, n);
        return r;
}

/* OUT (DIGEST_MAX) for the host dir at PATH below ROOT. */
static int host_tree_digest(int root, const char *path, int64_t since_ns, bool *newer, char *out)
{
        _cleanup_(closep) int fd = open_beneath(root, path, O_RDONLY | O_DIRECTORY);
        struct stat st;
        SHA256_CTX h;
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        SHA256_Init(&h);
        int r = host_tree_hash(&h, fd, st.st_dev, since_ns, newer, 0);
        if (r == 0)
                digest_end(&h, 't', out);
        return r;
}

/* Entries that remove a host directory whole get its subtree's digest; one
 * that changed below while the command ran is a conflict already. */
static int zone_host_trees(struct cow_zone *z, int host, int64_t start_ns)
{
        for (size_t i = 0; i < z->n; i++) {
                struct cow_entry *e = &z->e[i];
                char d[DIGEST_MAX];
                bool newer = false;
                if (!e->apply || e->meta_only || e->host.type != ZB_COW_DIR || e->conflict)
                        continue;
                int r = host_tree_digest(host, e->path, start_ns, &newer, d);
                const char *why = r < 0 ? "its tree on the host cannot be read"
                                  : newer ? "changed on the host below it while the command ran"
                                          : NULL;
                if (why ? !(e->conflict = strdup(why)) : !(e->host_tree = strdup(d)))
                        return -ENOMEM;
        }
        return 0;
}

/* ---------- the store ---------- */

static bool xdg_usable(const char *xdg)
{
        struct stat st;
        return xdg && xdg[0] == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid();
}

static int store_path(const char *override, char *buf, size_t n, struct zb_error *err)
{
        const char *env = getenv("ZONEBOX_COW_DIR");
        const char *dir = override && override[0] ? override : env && env[0] ? env : NULL;
        if (dir) {
                _cleanup_(freep) char *abs = util_path_absolute(NULL, dir);
                if (!abs || strlen(abs) >= n)
                        return err_set(err, ENAMETOOLONG, "cow: store path '%s' is not usable", dir);
                memcpy(buf, abs, strlen(abs) + 1);
                return 0;
        }
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        if (cow_store_default(geteuid(), xdg_usable(xdg) ? xdg : NULL, buf, n) < 0)
                return err_set(err, ENAMETOOLONG, "cow: store path too long");
        return 0;
}

int cow_store_path(const char *override, char *buf, size_t n)
{
        struct zb_error err = { 0 };
        return store_path(override, buf, n, &err);
}

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

static int store_open(const char *override, bool create, char *path, size_t n, int *out,
                      struct zb_error *err)
{
        int r = store_path(override, path, n, err);
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
static void store_gc(int store_fd)
{
        size_t n = 0;
        char **names = dir_names(store_fd, &n);
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
                remove_tree(store_fd, name, 0);
        }
        names_free(names, n);
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
static int make_run_dir(struct ns_cow *cow, struct zb_error *err)
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
                        remove_tree(cow->store_fd, tmp, 0);
                        if (e == EEXIST)
                                continue;
                        return err_errno(err, e, "cow: make a run dir in %s", cow->store);
                }
                cow->run_fd = fd;
                return 0;
        }
        return err_set(err, EEXIST, "cow: cannot find a free change-set id in %s", cow->store);
}

/* STORE/ID/zone-I/{upper,work}. The overlay is mounted in the sandbox's
 * user namespace and works on both as the sandbox's ids outside, so they
 * (and zone-I, which the sandbox's setup walks through) belong to them. */
static int make_zone_dir(struct ns_cow *cow, struct ns_ctx *c, size_t i, struct zb_error *err)
{
        const struct pol_zone *z = &c->p->zones[i];
        char name[32];
        struct stat st;

        snprintf(name, sizeof(name), "zone-%zu", i);
        _cleanup_(closep) int host = open(z->host_path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (host < 0 || fstat(host, &st) < 0)
                return err_errno(err, errno, "zone '%s': open %s", z->name, z->host_path);
        cow->dev[i] = st.st_dev;
        cow->ino[i] = st.st_ino;
        if (mkdirat(cow->run_fd, name, 0700) < 0)
                return err_errno(err, errno, "zone '%s': make its change-set dir", z->name);
        _cleanup_(closep) int zfd = openat(cow->run_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (zfd < 0 || mkdirat(zfd, "upper", 0700) < 0 || mkdirat(zfd, "work", 0700) < 0)
                return err_errno(err, errno, "zone '%s': make its change-set dir", z->name);
        _cleanup_(closep) int upper = openat(zfd, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (upper < 0)
                return err_errno(err, errno, "zone '%s': open its upper dir", z->name);
        /* overlayfs keeps opaque directories in user.overlay.* xattrs. */
        if (fsetxattr(upper, "user.zonebox", "1", 1, 0) < 0)
                return err_errno(err, errno,
                                      "zone '%s': the change-set store %s cannot hold user xattrs, which overlayfs needs (use --cow-dir on ext4, xfs, btrfs, or tmpfs from Linux 6.6)",
                                      z->name, cow->store);
        fremovexattr(upper, "user.zonebox");
        /* An idmapped zone (zones.c): the dir's owner is the sandbox user,
         * through the same idmap on the store's clone, so what the command
         * writes is kept, and committed, owned by the zone's owner. */
        const struct ns_zone_src *src = &c->zone_src[i];
        bool idmapped = src->ids == NS_ZONE_IDMAPPED;
        uid_t uid = idmapped ? src->owner : c->host_uid;
        gid_t gid = idmapped ? src->group : c->host_gid;
        if (c->invoker_is_root && (fchown(zfd, uid, gid) < 0 || fchown(upper, uid, gid) < 0 ||
                                   fchownat(zfd, "work", uid, gid, AT_SYMLINK_NOFOLLOW) < 0))
                return err_errno(err, errno, "zone '%s': hand its change-set dir to uid %u", z->name,
                                      (unsigned)uid);
        /* The merged root takes the upper root's attributes: the host dir's mode. */
        if (fchmod(upper, st.st_mode & 01777) < 0)
                return err_errno(err, errno, "zone '%s': chmod its upper dir", z->name);
        cow->zone_dir[i] = util_asprintf("%s/%s/%s", cow->store, cow->id, name);
        if (!cow->zone_dir[i])
                return err_set(err, ENOMEM, "out of memory");
        c->cow_dir[i] = cow->zone_dir[i];
        return idmapped ? ns_zones_idmap_dir(c, i, zfd, &c->cow_fd[i], err) : 0;
}

int ns_cow_prepare(struct ns_cow *cow, struct ns_ctx *c, struct zb_error *err)
{
        const struct zb_policy *p = c->p;
        char path[PATH_MAX];
        int r;

        cow->store_fd = cow->run_fd = -1;
        c->cow_host_fd[0] = c->cow_host_fd[1] = -1;
        for (size_t i = 0; i < ZB_MAX_ZONES; i++)
                c->cow_fd[i] = -1;
        for (size_t i = 0; i < p->n_zones; i++)
                cow->n += p->zones[i].mode == ZB_ZONE_COW;
        if (!cow->n)
                return 0;
        r = store_open(p->cow.dir, true, path, sizeof(path), &cow->store_fd, err);
        if (r < 0)
                return r;
        if (!(cow->store = strdup(path)))
                return err_set(err, ENOMEM, "out of memory");
        store_gc(cow->store_fd);
        r = make_run_dir(cow, err);
        c->cow_host_fd[0] = cow->store_fd;
        c->cow_host_fd[1] = cow->run_fd;
        for (size_t i = 0; r == 0 && i < p->n_zones; i++)
                if (p->zones[i].mode == ZB_ZONE_COW)
                        r = make_zone_dir(cow, c, i, err);
        cow->start_ns = realtime_ns();
        return r;
}

void ns_cow_release(struct ns_cow *cow)
{
        if (cow->run_fd >= 0 && !cow->kept && cow->store_fd >= 0)
                remove_tree(cow->store_fd, cow->id, 0);
        if (cow->run_fd >= 0)
                close(cow->run_fd);
        if (cow->store_fd >= 0)
                close(cow->store_fd);
        cow->run_fd = cow->store_fd = -1;
        for (size_t i = 0; i < ZB_MAX_ZONES; i++) {
                free(cow->zone_dir[i]);
                cow->zone_dir[i] = NULL;
        }
        free(cow->store);
        cow->store = NULL;
}

/* ---------- child side: the overlay ---------- */

void ns_cow_open_layers(struct ns_ctx *c)
{
        for (size_t i = 0; i < c->p->n_zones; i++) {
                if (!c->cow_dir[i] || c->cow_fd[i] >= 0) /* idmapped by the supervisor */
                        continue;
                /* Still the invoker's credentials: this walks a 0700 store. */
                int fd = sys_open_tree(AT_FDCWD, c->cow_dir[i],
                                       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
                c->cow_fd[i] = fd >= 0 ? fd : -errno;
        }
        /* No directory of the host's stays open in the sandbox (the run's
         * flock lives on in the supervisor's copy). */
        for (size_t i = 0; i < ARRAY_SIZE(c->cow_host_fd); i++)
                if (c->cow_host_fd[i] >= 0)
                        close(c->cow_host_fd[i]);
}

/* The kernel may have said more in the filesystem context's log. */
_Noreturn static void overlay_fail(struct ns_ctx *c, int fs, const struct pol_zone *z, const char *what, int e)
{
        char log[160] = "";
        ssize_t n = read(fs, log, sizeof(log) - 1);
        log[n > 0 ? n : 0] = '\0';
        if (log[0] && log[strlen(log) - 1] == '\n')
                log[strlen(log) - 1] = '\0';
        ns_fail(c, 0, e, "zone '%s': overlayfs %s (cow zones need overlayfs in a user namespace, Linux 5.11+)%s%s",
                z->name, what, log[0] ? ": " : "", log);
}

static void overlay_param(struct ns_ctx *c, int fs, const struct pol_zone *z, const char *key,
                          const char *value)
{
        unsigned cmd = value ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG;
        if (sys_fsconfig(fs, cmd, key, value, 0) == 0)
                return;
        int e = errno;
        char what[64];
        snprintf(what, sizeof(what), "%s%s%s", key, value ? "=" : "", value && strlen(value) < 24 ? value : "");
        overlay_fail(c, fs, z, what, e);
}

static void stage_mkdir(struct ns_ctx *c, int root_fd, const char *dir)
{
        if (mkdirat(root_fd, dir, 0700) < 0 && errno != EEXIST)
                ns_fail(c, 0, errno, "layer mount: mkdir /%s", dir);
}

static void stage_attach(struct ns_ctx *c, const struct pol_zone *z, int fd, int root_fd, const char *dir,
                         const char *what)
{
        if (sys_move_mount(fd, "", root_fd, dir, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                ns_fail(c, 0, errno, "zone '%s': stage %s", z->name, what);
        close(fd);
}

int ns_cow_overlay(struct ns_ctx *c, size_t i, int lower_fd, int root_fd, const char *root)
{
        const struct pol_zone *z = &c->p->zones[i];
        char lower[256], upper[256], work[256];

        if (c->cow_fd[i] < 0)
                ns_fail(c, 0, -c->cow_fd[i], "zone '%s': open its change-set dir %s", z->name, c->cow_dir[i]);
        /* The layers are given to overlayfs as paths, and paths must be in
         * this mount namespace: stage both clones under the new root (still
         * this process's own tmpfs), mount, and take them away again. */
        stage_mkdir(c, root_fd, COW_STAGE);
        stage_mkdir(c, root_fd, COW_STAGE "/lower");
        stage_mkdir(c, root_fd, COW_STAGE "/store");
        stage_attach(c, z, lower_fd, root_fd, COW_STAGE "/lower", z->host_path);
        stage_attach(c, z, c->cow_fd[i], root_fd, COW_STAGE "/store", c->cow_dir[i]);
        c->cow_fd[i] = -1;
        snprintf(lower, sizeof(lower), "%s/" COW_STAGE "/lower", root);
        snprintf(upper, sizeof(upper), "%s/" COW_STAGE "/store/upper", root);
        snprintf(work, sizeof(work), "%s/" COW_STAGE "/store/work", root);

        int fs = sys_fsopen("overlay", FSOPEN_CLOEXEC);
        if (fs < 0)
                ns_fail(c, 0, errno, "zone '%s': overlayfs (fsopen)", z->name);
        overlay_param(c, fs, z, "lowerdir", lower);
        overlay_param(c, fs, z, "upperdir", upper);
        overlay_param(c, fs, z, "workdir", work);
        /* Its own xattrs under user.overlay.*: trusted.* needs root in the
         * initial user namespace. No index, no metacopy, no redirects:
         * every changed file is a whole copy in the upper dir, and a moved
         * directory a copy plus a whiteout, so that the upper dir alone
         * says what changed and commit never follows a pointer into the
         * lower layer. */
        overlay_param(c, fs, z, "userxattr", NULL);
        overlay_param(c, fs, z, "index", "off");
        overlay_param(c, fs, z, "metacopy", "off");
        overlay_param(c, fs, z, "redirect_dir", "nofollow");
        if (sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                overlay_fail(c, fs, z, "mount", errno);
        int mnt = sys_fsmount(fs, FSMOUNT_CLOEXEC, 0);
        if (mnt < 0)
                ns_fail(c, 0, errno, "zone '%s': overlayfs (fsmount)", z->name);
        close(fs);

        /* overlayfs holds private clones of its layers: the staged ones go. */
        char p[512];
        snprintf(p, sizeof(p), "%s/" COW_STAGE "/lower", root);
        if (umount2(p, MNT_DETACH) < 0)
                ns_fail(c, 0, errno, "zone '%s': unstage the host dir", z->name);
        snprintf(p, sizeof(p), "%s/" COW_STAGE "/store", root);
        if (umount2(p, MNT_DETACH) < 0)
                ns_fail(c, 0, errno, "zone '%s': unstage the change-set dir", z->name);
        if (unlinkat(root_fd, COW_STAGE "/lower", AT_REMOVEDIR) < 0 ||
            unlinkat(root_fd, COW_STAGE "/store", AT_REMOVEDIR) < 0 ||
            unlinkat(root_fd, COW_STAGE, AT_REMOVEDIR) < 0)
                ns_fail(c, 0, errno, "zone '%s': remove the staging dir", z->name);
        return mnt;
}

/* ---------- commit ---------- */

struct commit {
        struct cow_set *set;
        int *root;  /* per zone: the host dir */
        int *upper; /* per zone: the upper dir */
        unsigned temp_seq;
        json_object *conflicts;
        size_t n_conflicts;
        bool as_root;
        /* The entry being copied (relative to its zone) and the zone's
         * digests: every copy is checked against what the run left. */
        json_object *tree;
        char path[PATH_MAX];
};

/* Whether DIGEST is what the run left at cm->path: -EBADMSG if not. */
static int tree_check(const struct commit *cm, const char *digest)
{
        json_object *v = NULL;
        if (!cm->tree || !json_object_object_get_ex(cm->tree, cm->path, &v) ||
            !json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), digest) != 0)
                return -EBADMSG;
        return 0;
}

static void add_conflict(struct commit *cm, const struct cow_zone *z, const char *path, const char *why)
{
        json_object *o = json_object_new_object();
        json_object_object_add(o, "zone", json_object_new_string(z->name));
        json_object_object_add(o, "path", json_object_new_string(path));
        json_object_object_add(o, "reason", json_object_new_string(why));
        json_object_array_add(cm->conflicts, o);
        cm->n_conflicts++;
}

/* The zone's host dir, checked to be the very directory the run saw. */
static int open_host_root(const struct cow_zone *z, char *why, size_t n)
{
        struct stat st;
        int fd = open(z->host_path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                snprintf(why, n, "the host dir %s: %s", z->host_path, strerror(errno));
                return -1;
        }
        if (fstat(fd, &st) < 0 || st.st_dev != z->dev || st.st_ino != z->ino) {
                snprintf(why, n, "the host dir %s was replaced since the run", z->host_path);
                close(fd);
                return -1;
        }
        return fd;
}

/* The host's entry at PATH now. -1 (with WHY) when its directory cannot be
 * reached the safe way: gone, or a symlink or a mount point in the way. */
static int host_stat(int root, const char *path, struct cow_stat *out, char *why, size_t n)
{
        char dir[PATH_MAX];
        const char *base;
        struct stat st;

        memset(out, 0, sizeof(*out));
        split_path(path, dir, sizeof(dir), &base);
        _cleanup_(closep) int parent = open_beneath(root, dir, O_PATH | O_DIRECTORY);
        if (parent < 0) {
                int e = errno;
                snprintf(why, n, "%s",
                         errno == ENOENT                      ? "its directory is gone from the host"
                         : errno == ELOOP || errno == ENOTDIR ? "a symlink or a file on the host where its directory was"
                         : errno == EXDEV                     ? "a mount point on the host in its path"
                                                              : strerror(errno));
                errno = e;
                return -1;
        }
        if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
                stat_fill(out, &st);
        else if (errno != ENOENT) {
                snprintf(why, n, "%s", strerror(errno));
                return -1;
        }
        return 0;
}

static bool host_tree_same(int root, const struct cow_entry *e)
{
        char d[DIGEST_MAX];
        bool newer = false;
        return host_tree_digest(root, e->path, 0, &newer, d) == 0 && strcmp(d, e->host_tree) == 0;
}

/* Every touched path must be as the run left it on the host. */
static void find_conflicts(struct commit *cm)
{
        char why[PATH_MAX + 64];
        for (size_t zi = 0; zi < cm->set->n_zones; zi++) {
                const struct cow_zone *z = &cm->set->zones[zi];
                if (cm->root[zi] < 0) {
                        cm->root[zi] = open_host_root(z, why, sizeof(why));
                        if (cm->root[zi] < 0) {
                                add_conflict(cm, z, "", why);
                                continue;
                        }
                }
                for (size_t j = 0; j < z->n; j++) {
                        const struct cow_entry *e = &z->e[j];
                        struct cow_stat now;
                        if (e->conflict) {
                                add_conflict(cm, z, e->path, e->conflict);
                        } else if (host_stat(cm->root[zi], e->path, &now, why, sizeof(why)) < 0) {
                                /* Inside a new tree the host has no directory: expected. */
                                if (e->apply || e->host.type != ZB_COW_NONE ||
                                    (errno != ENOENT && errno != ENOTDIR))
                                        add_conflict(cm, z, e->path, why);
                        } else if (cow_stat_changed(&e->host, &now, why, sizeof(why))) {
                                add_conflict(cm, z, e->path, why);
                        } else if (e->host_tree && !host_tree_same(cm->root[zi], e)) {
                                /* Commit would remove it whole: a file made
                                 * deeper in it since would be lost. */
                                add_conflict(cm, z, e->path, "changed on the host below it since the run");
                        }
                }
        }
}

static mode_t safe_mode(mode_t m)
{
        /* A set-id bit from the sandbox would hand its code the committer's
         * (or the file owner's) ids on the host: never copied. */
        return m & 01777;
}

static int copy_attrs(struct commit *cm, int fd, const struct stat *us)
{
        struct timespec t[2] = { us->st_atim, us->st_mtim };
        if (cm->as_root && fchown(fd, us->st_uid, us->st_gid) < 0)
                return -errno;
        if (fchmod(fd, safe_mode(us->st_mode)) < 0 || futimens(fd, t) < 0)
                return -errno;
        return 0;
}

static int copy_entry(struct commit *cm, int src_dir, const char *name, int dst_dir, const char *dst);

__attribute__((noinline)) static int copy_symlink(struct commit *cm, int src_dir, const char *name,
                                                  const struct stat *us, int dst_dir, const char *dst)
{
        char target[PATH_MAX], digest[DIGEST_MAX];
        ssize_t n = readlinkat(src_dir, name, target, sizeof(target) - 1);
        if (n < 0)
                return -errno;
        target[n] = '\0';
        digest_bytes(target, (size_t)n, 'l', digest);
        if (tree_check(cm, digest) < 0)
                return -EBADMSG;
        if (symlinkat(target, dst_dir, dst) < 0)
                return -errno;
        struct timespec t[2] = { us->st_atim, us->st_mtim };
        if (cm->as_root && fchownat(dst_dir, dst, us->st_uid, us->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        utimensat(dst_dir, dst, t, AT_SYMLINK_NOFOLLOW);
        return 0;
}

static int copy_tree(struct commit *cm, int src_dir, const char *name, const struct stat *us, int dst_dir,
                     const char *dst)
{
        if (mkdirat(dst_dir, dst, 0700) < 0)
                return -errno;
        mode_t restore;
        _cleanup_(closep) int out = openat(dst_dir, dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_(closep) int in = out < 0 ? -1 : open_upper_dir(src_dir, name, &restore);
        if (out < 0 || in < 0)
                return -errno;
        size_t n = 0, len = strlen(cm->path);
        char digest[DIGEST_MAX];
        char **names = dir_names(in, &n);
        /* The names copied are the ones hashed (a name added or removed
         * since the run: refused). */
        int r = names ? digest_names(in, names, n, digest) : -errno;
        if (r == 0)
                r = tree_check(cm, digest);
        for (size_t i = 0; r == 0 && i < n; i++) {
                int k = snprintf(cm->path + len, sizeof(cm->path) - len, "%s%s", len ? "/" : "", names[i]);
                r = k < 0 || (size_t)k >= sizeof(cm->path) - len ? -ENAMETOOLONG
                                                                  : copy_entry(cm, in, names[i], out, names[i]);
                if (r == 0) /* on an error it names the entry, for the message */
                        cm->path[len] = '\0';
        }
        names_free(names, n);
        unlend(in, restore);
        return r < 0 ? r : copy_attrs(cm, out, us);
}

/* NAME of the upper dir SRC_DIR, copied to DST in DST_DIR: a file, a
 * symlink (as a symlink: never followed), a fifo, or a whole tree. */
static int copy_entry(struct commit *cm, int src_dir, const char *name, int dst_dir, const char *dst)
{
        struct stat us;
        if (fstatat(src_dir, name, &us, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (S_ISDIR(us.st_mode))
                return copy_tree(cm, src_dir, name, &us, dst_dir, dst);
        if (S_ISREG(us.st_mode)) {
                _cleanup_(closep) int in = open_upper(src_dir, name, O_RDONLY);
                if (in < 0)
                        return -errno;
                _cleanup_(closep) int out = openat(dst_dir, dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (out < 0)
                        return -errno;
                char digest[DIGEST_MAX];
                int r = digest_copy(in, out, digest);
                if (r == 0)
                        r = tree_check(cm, digest);
                if (r == 0)
                        r = copy_attrs(cm, out, &us);
                if (r == 0 && fsync(out) < 0)
                        r = -errno;
                return r;
        }
        if (S_ISLNK(us.st_mode))
                return copy_symlink(cm, src_dir, name, &us, dst_dir, dst);
        if (S_ISFIFO(us.st_mode)) {
                if (tree_check(cm, "p") < 0)
                        return -EBADMSG;
                if (mknodat(dst_dir, dst, S_IFIFO | 0600, 0) < 0)
                        return -errno;
                if (cm->as_root && fchownat(dst_dir, dst, us.st_uid, us.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                return chmod_nofollow(dst_dir, dst, safe_mode(us.st_mode)) < 0 ? -errno : 0;
        }
        return 0; /* whiteouts inside a copied tree hide nothing; sockets mean nothing */
}

struct step {
        size_t zone, entry;
        char temp[64]; /* the entry's copy beside its target; "" if none */
};

/* Copy one entry from the upper dir to a temporary beside its target. */
static int stage_entry(struct commit *cm, struct step *st, struct zb_error *err)
{
        const struct cow_zone *z = &cm->set->zones[st->zone];
        const struct cow_entry *e = &z->e[st->entry];
        char dir[PATH_MAX];
        const char *base;

        if (e->change == ZB_COW_DELETED || e->meta_only)
                return 0;
        split_path(e->path, dir, sizeof(dir), &base);
        _cleanup_(closep) int parent = open_beneath(cm->root[st->zone], dir, O_PATH | O_DIRECTORY);
        if (parent < 0)
                return err_errno(err, errno, "cow: %s/%s: open its host dir", z->path, e->path);
        _cleanup_(closep) int src = open_upper_path(cm->upper[st->zone], dir);
        struct stat us;
        if (src < 0 || fstatat(src, base, &us, AT_SYMLINK_NOFOLLOW) < 0)
                return err_errno(err, errno, "cow: %s/%s: read the change", z->path, e->path);
        if (cow_type_of(us.st_mode) != e->type || us.st_ino != e->upper.ino)
                return err_set(err, EBADMSG, "cow: %s/%s: the change set was altered since the run",
                                    z->path, e->path);
        if (!z->tree)
                return err_set(err, EBADMSG,
                                    "cow: change set %s has no digests of its changes (an older zonebox made it); discard it",
                                    cm->set->id);
        cm->tree = z->tree;
        snprintf(cm->path, sizeof(cm->path), "%s", e->path);
        for (;;) {
                size_t idlen = strlen(cm->set->id);
                snprintf(st->temp, sizeof(st->temp), COW_TEMP_PREFIX "%.8s-%u",
                         cm->set->id + (idlen > 8 ? idlen - 8 : 0), cm->temp_seq++);
                int r = copy_entry(cm, src, base, parent, st->temp);
                if (r == 0)
                        return 0;
                if (r == -EEXIST)
                        continue;
                remove_tree(parent, st->temp, 0);
                st->temp[0] = '\0';
                if (r == -EBADMSG)
                        return err_set(err, EBADMSG,
                                            "cow: %s/%s: the change set was altered since the run (%s is not what the run left); nothing was applied",
                                            z->path, e->path, cm->path);
                return err_errno(err, -r, "cow: %s/%s: copy to the host dir", z->path, e->path);
        }
}

/* Put one staged entry in place (or delete, or chmod). */
static int place_entry(struct commit *cm, struct step *st, struct zb_error *err)
{
        const struct cow_zone *z = &cm->set->zones[st->zone];
        const struct cow_entry *e = &z->e[st->entry];
        char dir[PATH_MAX];
        const char *base;
        struct stat ts, rs;

        split_path(e->path, dir, sizeof(dir), &base);
        _cleanup_(closep) int parent = open_beneath(cm->root[st->zone], dir, O_PATH | O_DIRECTORY);
        if (parent < 0 || fstat(cm->root[st->zone], &rs) < 0)
                return err_errno(err, errno, "cow: %s/%s: open its host dir", z->path, e->path);
        int r = 0;
        if (e->change == ZB_COW_DELETED) {
                r = remove_tree(parent, base, rs.st_dev);
        } else if (e->meta_only) {
                _cleanup_(closep) int fd = openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                r = fd < 0 || fchmod(fd, safe_mode(e->upper.mode)) < 0 ? -errno : 0;
        } else if (fstatat(parent, base, &ts, AT_SYMLINK_NOFOLLOW) < 0) {
                r = renameat2(parent, st->temp, parent, base, RENAME_NOREPLACE) < 0 ? -errno : 0;
        } else if (S_ISDIR(ts.st_mode) || e->type == ZB_COW_DIR) {
                /* A directory cannot be renamed over: swap, then remove the old. */
                r = renameat2(parent, st->temp, parent, base, RENAME_EXCHANGE) < 0 ? -errno : 0;
                if (r == 0)
                        r = remove_tree(parent, st->temp, rs.st_dev);
        } else {
                r = renameat(parent, st->temp, parent, base) < 0 ? -errno : 0;
        }
        if (r < 0)
                return err_errno(err, -r, "cow: %s/%s", z->path, e->path);
        st->temp[0] = '\0';
        return 0;
}

static void unstage(struct commit *cm, struct step *steps, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (!steps[i].temp[0])
                        continue;
                const struct cow_entry *e = &cm->set->zones[steps[i].zone].e[steps[i].entry];
                char dir[PATH_MAX];
                const char *base;
                split_path(e->path, dir, sizeof(dir), &base);
                _cleanup_(closep) int parent = open_beneath(cm->root[steps[i].zone], dir, O_PATH | O_DIRECTORY);
                if (parent >= 0)
                        remove_tree(parent, steps[i].temp, 0);
        }
}

/* Open the upper dirs of the set in RUN_FD (STORE/ID). */
static int open_uppers(struct commit *cm, int run_fd, struct zb_error *err)
{
        for (size_t i = 0; i < cm->set->n_zones; i++) {
                char p[64];
                snprintf(p, sizeof(p), "zone-%zu/upper", cm->set->zones[i].index);
                cm->upper[i] = open_beneath(run_fd, p, O_RDONLY | O_DIRECTORY);
                if (cm->upper[i] < 0)
                        return err_errno(err, errno, "cow: change set %s: open %s", cm->set->id, p);
        }
        return 0;
}

/* Apply SET (in RUN_FD, which the caller holds locked). -ESTALE with
 * CONFLICTS filled when the host changed; nothing is applied then. */
static int apply_set(struct cow_set *set, int run_fd, json_object *conflicts, struct zb_error *err)
{
        struct commit cm = { .set = set, .conflicts = conflicts, .as_root = geteuid() == 0 };
        size_t n_steps = 0, total = set_count(set);
        struct step *steps = NULL;
        int r = 0;

        if (set->error)
                return err_set(err, EBADMSG,
                                    "cow: change set %s could not be read when its run ended (%s); discard it",
                                    set->id, set->error);
        cm.root = calloc(set->n_zones + 1, sizeof(int));
        cm.upper = calloc(set->n_zones + 1, sizeof(int));
        steps = calloc(total + 1, sizeof(*steps));
        if (!cm.root || !cm.upper || !steps) {
                r = err_set(err, ENOMEM, "out of memory");
                goto out;
        }
        for (size_t i = 0; i < set->n_zones; i++)
                cm.root[i] = cm.upper[i] = -1;
        find_conflicts(&cm);
        if (cm.n_conflicts) {
                r = err_set(err, ESTALE,
                                 "cow: %zu conflict%s with the host since the run; nothing was applied",
                                 cm.n_conflicts, cm.n_conflicts == 1 ? "" : "s");
                goto out;
        }
        if ((r = open_uppers(&cm, run_fd, err)) < 0)
                goto out;
        for (size_t zi = 0; zi < set->n_zones; zi++)
                for (size_t j = 0; j < set->zones[zi].n; j++)
                        if (set->zones[zi].e[j].apply)
                                steps[n_steps++] = (struct step){ .zone = zi, .entry = j };
        /* Everything copied beside its target first: a failure here (a full
         * disk, a permission) leaves the host dirs as they were. */
        for (size_t i = 0; r == 0 && i < n_steps; i++)
                r = stage_entry(&cm, &steps[i], err);
        for (size_t i = 0; r == 0 && i < n_steps; i++) {
                r = place_entry(&cm, &steps[i], err);
                if (r < 0 && i > 0)
                        snprintf(err->message + strlen(err->message), sizeof(err->message) - strlen(err->message),
                                 " (after %zu of %zu changes were applied)", i, n_steps);
        }
        if (r < 0)
                unstage(&cm, steps, n_steps);
out:
        for (size_t i = 0; cm.root && i < set->n_zones; i++)
                if (cm.root[i] >= 0)
                        close(cm.root[i]);
        for (size_t i = 0; cm.upper && i < set->n_zones; i++)
                if (cm.upper[i] >= 0)
                        close(cm.upper[i]);
        free(cm.root);
        free(cm.upper);
        free(steps);
        return r;
}

/* ---------- supervisor side: the end of a run ---------- */

static int write_manifest(int run_fd, const struct cow_set *set)
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

/* Read zone I's changes. The work dir goes; zone-I goes back to the
 * invoker (only root and it may reach the upper dir from now on). */
static int finish_zone(struct ns_cow *cow, const struct zb_policy *p, size_t i, struct cow_zone *z,
                       char *msg, size_t n)
{
        const struct pol_zone *pz = &p->zones[i];
        char name[32];
        struct stat st;

        z->index = i;
        z->dev = cow->dev[i];
        z->ino = cow->ino[i];
        if (!(z->name = strdup(pz->name)) || !(z->path = strdup(pz->path)) ||
            !(z->host_path = strdup(pz->host_path)))
                return -ENOMEM;
        snprintf(name, sizeof(name), "zone-%zu", i);
        _cleanup_(closep) int zfd = openat(cow->run_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (zfd < 0) {
                snprintf(msg, n, "zone '%s': open its change-set dir: %s", pz->name, strerror(errno));
                return -errno;
        }
        remove_tree(zfd, "work", 0);
        if (geteuid() == 0 && (fchown(zfd, 0, 0) < 0 || fchmod(zfd, 0700) < 0)) {
                snprintf(msg, n, "zone '%s': take back its change-set dir: %s", pz->name, strerror(errno));
                return -errno;
        }
        _cleanup_(closep) int upper = openat(zfd, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_(closep) int host = open(pz->host_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (upper < 0 || host < 0) {
                snprintf(msg, n, "zone '%s': open %s: %s", pz->name, upper < 0 ? "its upper dir" : pz->host_path,
                         strerror(errno));
                return -EIO;
        }
        if (fstat(host, &st) < 0 || st.st_dev != cow->dev[i] || st.st_ino != cow->ino[i]) {
                snprintf(msg, n, "zone '%s': the host dir %s was replaced while the command ran", pz->name,
                         pz->host_path);
                return -ESTALE;
        }
        int r = scan_zone(z, upper, host, cow->start_ns, msg, n);
        if (r == 0 && (r = zone_host_trees(z, host, cow->start_ns)) < 0)
                snprintf(msg, n, "zone '%s': out of memory", z->name);
        return r < 0 ? r : zone_digests(z, upper, msg, n);
}

static void finish_commit(struct ns_cow *cow, struct cow_set *set, struct zb_result *r)
{
        struct zb_error err = { 0 };
        json_object *conflicts = json_object_new_array();
        if (apply_set(set, cow->run_fd, conflicts, &err) == 0) {
                remove_tree(cow->store_fd, cow->id, 0);
                cow->kept = false;
                free(r->cow_id);
                r->cow_id = NULL;
                r->cow_action = "committed";
        } else {
                size_t n = json_object_array_length(conflicts);
                const char *first = n ? json_object_to_json_string_ext(json_object_array_get_idx(conflicts, 0),
                                                                       JSON_C_TO_STRING_PLAIN)
                                      : "";
                r->cow_error = util_asprintf("%s%s%s; kept as %s (zonebox diff %s)", err.message, n ? ": " : "",
                                           first, cow->id, cow->id);
        }
        json_object_put(conflicts);
}

void ns_cow_finish(struct ns_cow *cow, const struct zb_policy *p, struct zb_result *r)
{
        struct cow_set set = { 0 };
        char msg[PATH_MAX + 128] = "";
        int ret = 0;

        if (!cow->n || cow->run_fd < 0)
                return;
        r->has_cow = true;
        r->cow_action = "none";
        snprintf(set.id, sizeof(set.id), "%s", cow->id);
        set.created = time(NULL);
        set.run_start_ns = cow->start_ns;
        set.status = util_strdup(res_status_name(r->status));
        set.exit_code = r->status == ZB_STATUS_EXITED ? r->exit_code : zb_result_exit_code(r);
        set.zones = calloc(cow->n, sizeof(*set.zones));
        if (!set.zones || !set.status) {
                r->cow_error = util_strdup("cow: out of memory");
                goto out;
        }
        for (size_t i = 0; i < p->n_zones; i++) {
                if (p->zones[i].mode != ZB_ZONE_COW)
                        continue;
                struct cow_zone *z = &set.zones[set.n_zones++];
                if (ret == 0)
                        ret = finish_zone(cow, p, i, z, msg, sizeof(msg));
                else if (!(z->name = strdup(p->zones[i].name)) || !(z->path = strdup(p->zones[i].path)) ||
                         !(z->host_path = strdup(p->zones[i].host_path)))
                        ret = -ENOMEM;
                z->index = i;
        }
        if (ret < 0) {
                /* Keep what there is for a person to look at; commit refuses it. */
                for (size_t i = 0; i < set.n_zones; i++) {
                        for (size_t j = 0; j < set.zones[i].n; j++)
                                free(set.zones[i].e[j].path), free(set.zones[i].e[j].conflict);
                        set.zones[i].n = 0;
                }
                set.error = util_strdup(msg[0] ? msg : strerror(-ret));
                r->cow_error = util_asprintf("cow: the changes could not be read: %s", set.error);
        }
        if (cow_fill_result(&set, r) < 0) {
                r->cow_error = util_strdup("cow: out of memory");
                goto out;
        }
        if (!set.error && set_count(&set) == 0)
                goto out; /* nothing changed: nothing to keep */
        if (write_manifest(cow->run_fd, &set) < 0) {
                free(r->cow_error);
                r->cow_error = util_asprintf("cow: cannot keep the changes in %s/%s", cow->store, cow->id);
                goto out;
        }
        cow->kept = true;
        r->cow_id = util_strdup(cow->id);
        r->cow_action = "kept";
        if (set.error)
                goto out;
        if (p->cow.action == ZB_COW_DISCARD) {
                remove_tree(cow->store_fd, cow->id, 0);
                cow->kept = false;
                free(r->cow_id);
                r->cow_id = NULL;
                r->cow_action = "discarded";
        } else if (p->cow.action == ZB_COW_COMMIT && r->status == ZB_STATUS_EXITED && r->exit_code == 0) {
                finish_commit(cow, &set, r);
        }
out:
        cow_set_free(&set);
}

/* ---------- the change-set commands ---------- */

/* Open STORE/ID, checked and (LOCK) locked, and read its manifest. */
static int set_open(int store_fd, const char *store, const char *id, bool lock, int *run_fd,
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

static char *json_text(json_object *o)
{
        char *s = util_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return s;
}

static int cmp_json_str(const void *a, const void *b)
{
        return strcmp(json_object_get_string(*(json_object *const *)a),
                      json_object_get_string(*(json_object *const *)b));
}

static json_object *zone_lists(const struct cow_zone *z, bool counts)
{
        json_object *o = json_object_new_object();
        json_object *l[3] = { json_object_new_array(), json_object_new_array(), json_object_new_array() };
        size_t n[3] = { 0 };
        json_object_object_add(o, "name", json_object_new_string(z->name));
        json_object_object_add(o, "path", json_object_new_string(z->path));
        json_object_object_add(o, "host_path", json_object_new_string(z->host_path));
        for (size_t j = 0; j < z->n; j++) {
                const struct cow_entry *e = &z->e[j];
                n[e->change]++;
                if (!counts) {
                        char *s = util_asprintf("%s%s", e->path, e->type == ZB_COW_DIR ? "/" : "");
                        json_object_array_add(l[e->change], json_object_new_string(s ? s : e->path));
                        free(s);
                }
        }
        for (int c = 0; c < 3; c++) {
                if (counts) {
                        json_object_put(l[c]);
                        json_object_object_add(o, change_names[c], json_object_new_uint64(n[c]));
                } else {
                        json_object_array_sort(l[c], cmp_json_str);
                        json_object_object_add(o, change_names[c], l[c]);
                }
        }
        return o;
}


int zb_cow_list(const char *store, char **json, struct zb_error *err)
{
        char path[PATH_MAX];
        int store_fd = -1;
        struct stat st;

        *json = NULL;
        int r = store_path(store, path, sizeof(path), err);
        if (r < 0)
                return r;
        if (stat(path, &st) < 0 && errno == ENOENT) {
                *json = util_strdup("[]");
                return *json ? 0 : err_set(err, ENOMEM, "out of memory");
        }
        r = store_open(store, false, path, sizeof(path), &store_fd, err);
        if (r < 0)
                return r;
        store_gc(store_fd);
        json_object *a = json_object_new_array();
        size_t n = 0;
        char **names = dir_names(store_fd, &n);
        for (size_t i = 0; names && i < n; i++) {
                struct cow_set set = { 0 };
                struct zb_error e2 = { 0 };
                int run_fd = -1;
                if (!cow_id_valid(names[i]))
                        continue;
                int sr = set_open(store_fd, path, names[i], false, &run_fd, &set, &e2);
                if (run_fd >= 0)
                        close(run_fd);
                json_object *o;
                if (sr < 0) {
                        o = json_object_new_object();
                        json_object_object_add(o, "id", json_object_new_string(names[i]));
                        json_object_object_add(o, "status", json_object_new_string(sr == -EBUSY ? "running" : "unreadable"));
                } else {
                        o = set_header(&set);
                        json_object *zs = json_object_new_array();
                        for (size_t z = 0; z < set.n_zones; z++)
                                json_object_array_add(zs, zone_lists(&set.zones[z], true));
                        json_object_object_add(o, "zones", zs);
                }
                json_object_array_add(a, o);
                cow_set_free(&set);
        }
        names_free(names, n);
        close(store_fd);
        *json = json_text(a);
        return *json ? 0 : err_set(err, ENOMEM, "out of memory");
}

int zb_cow_diff(const char *store, const char *id, char **json, struct zb_error *err)
{
        char path[PATH_MAX];
        int store_fd = -1, run_fd = -1;
        struct cow_set set = { 0 };

        *json = NULL;
        int r = store_open(store, false, path, sizeof(path), &store_fd, err);
        if (r == 0)
                r = set_open(store_fd, path, id, false, &run_fd, &set, err);
        if (r < 0)
                goto out;
        json_object *o = set_header(&set);
        json_object *zs = json_object_new_array();
        struct commit cm = { .set = &set, .conflicts = json_object_new_array() };
        int roots[ZB_MAX_ZONES];
        cm.root = roots;
        for (size_t i = 0; i < set.n_zones && i < ZB_MAX_ZONES; i++)
                roots[i] = -1;
        if (!set.error && set.n_zones <= ZB_MAX_ZONES)
                find_conflicts(&cm);
        for (size_t i = 0; i < set.n_zones; i++) {
                json_object *zo = zone_lists(&set.zones[i], false);
                char *up = util_asprintf("%s/%s/zone-%zu/upper", path, set.id, set.zones[i].index);
                json_object_object_add(zo, "upper", up ? json_object_new_string(up) : NULL);
                free(up);
                json_object *zc = json_object_new_array();
                for (size_t k = 0; k < json_object_array_length(cm.conflicts); k++) {
                        json_object *c = json_object_array_get_idx(cm.conflicts, k), *zn = NULL;
                        json_object_object_get_ex(c, "zone", &zn);
                        if (zn && strcmp(json_object_get_string(zn), set.zones[i].name) == 0)
                                json_object_array_add(zc, json_object_get(c));
                }
                json_object_object_add(zo, "conflicts", zc);
                json_object_array_add(zs, zo);
                if (i < ZB_MAX_ZONES && roots[i] >= 0)
                        close(roots[i]);
        }
        json_object_put(cm.conflicts);
        json_object_object_add(o, "zones", zs);
        *json = json_text(o);
        if (!*json)
                r = err_set(err, ENOMEM, "out of memory");
out:
        cow_set_free(&set);
        if (run_fd >= 0)
                close(run_fd);
        if (store_fd >= 0)
                close(store_fd);
        return r;
}

int zb_cow_commit(const char *store, const char *id, char **json, struct zb_error *err)
{
        char path[PATH_MAX];
        int store_fd = -1, run_fd = -1;
        struct cow_set set = { 0 };
        json_object *conflicts = json_object_new_array();

        *json = NULL;
        int r = store_open(store, false, path, sizeof(path), &store_fd, err);
        if (r == 0)
                r = set_open(store_fd, path, id, true, &run_fd, &set, err);
        if (r == 0)
                r = apply_set(&set, run_fd, conflicts, err);
        if (r == 0 || r == -ESTALE) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "id", json_object_new_string(set.id));
                json_object_object_add(o, "committed", json_object_new_boolean(r == 0));
                json_object *zs = json_object_new_array();
                for (size_t i = 0; i < set.n_zones; i++)
                        json_object_array_add(zs, zone_lists(&set.zones[i], true));
                json_object_object_add(o, "zones", zs);
                json_object_object_add(o, "conflicts", json_object_get(conflicts));
                *json = json_text(o);
        }
        if (r == 0) {
                int rr = remove_tree(store_fd, id, 0);
                if (rr < 0)
                        r = err_errno(err, -rr, "cow: committed, but cannot remove change set %s", id);
        }
        json_object_put(conflicts);
        cow_set_free(&set);
        if (run_fd >= 0)
                close(run_fd);
        if (store_fd >= 0)
                close(store_fd);
        return r;
}

int zb_cow_discard(const char *store, const char *id, struct zb_error *err)
{
        char path[PATH_MAX];
        int store_fd = -1;

        if (!cow_id_valid(id))
                return err_set(err, EINVAL, "cow: '%s' is not a change-set id", id);
        int r = store_open(store, false, path, sizeof(path), &store_fd, err);
        if (r < 0)
                return r;
        _cleanup_(closep) int fd = openat(store_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0)
                r = errno == ENOENT ? err_set(err, ENOENT, "cow: no change set %s in %s (zonebox diff --list)", id, path)
                                    : err_errno(err, errno, "cow: change set %s", id);
        else if (fstat(fd, &st) < 0 || st.st_uid != geteuid())
                r = err_set(err, EPERM, "cow: change set %s is not yours", id);
        else if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                r = err_set(err, EBUSY, "cow: change set %s is in use (its run is still going, or a commit)", id);
        else if ((r = remove_tree(store_fd, id, 0)) < 0)
                r = err_errno(err, -r, "cow: remove change set %s", id);
        close(store_fd);
        return r;
}
