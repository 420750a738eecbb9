/* Copy-on-write zones: commit, putting a change set on the host.
 *
 * Every touched path must be as the run left it on the host (else a
 * conflict, and nothing is applied). Every new file, link or directory tree
 * is copied under a temporary name beside its target first, each byte
 * checked against the run's digests, and renamed into place only when all
 * are ready, so a failure while copying (a full disk, say) leaves the host
 * dir as it was. Host paths are resolved beneath the zone's root without
 * symlinks or mount crossings; the last component is never followed, and
 * set-id bits are never copied. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cow_int.h"

/* ---------- commit ---------- */

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

/* The host dir that holds PATH, opened below ROOT the safe way (DIR: its
 * path, N bytes; *BASE: PATH's last component). */
static int open_parent(int root, const char *path, char *dir, size_t n, const char **base)
{
        split_path(path, dir, n, base);
        return fs_open_beneath(root, dir, O_PATH | O_DIRECTORY);
}

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
static int digest_check(const struct commit *cm, const char *digest)
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
        _cleanup_(closep) int parent = open_parent(root, path, dir, sizeof(dir), &base);
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
                cow_stat_fill(out, &st);
        else if (errno != ENOENT) {
                snprintf(why, n, "%s", strerror(errno));
                return -1;
        }
        return 0;
}

static bool host_tree_same(int root, const struct cow_entry *e)
{
        char d[COW_DIGEST_MAX];
        bool newer = false;
        return cow_host_tree_digest(root, e->path, 0, &newer, d) == 0 && strcmp(d, e->host_tree) == 0;
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

void cow_find_conflicts(struct cow_set *set, json_object *conflicts)
{
        int roots[ZB_MAX_ZONES];
        struct commit cm = { .set = set, .root = roots, .conflicts = conflicts };
        for (size_t i = 0; i < set->n_zones && i < ZB_MAX_ZONES; i++)
                roots[i] = -1;
        if (!set->error && set->n_zones <= ZB_MAX_ZONES)
                find_conflicts(&cm);
        for (size_t i = 0; i < set->n_zones && i < ZB_MAX_ZONES; i++)
                if (roots[i] >= 0)
                        close(roots[i]);
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
        char target[PATH_MAX], digest[COW_DIGEST_MAX];
        ssize_t n = readlinkat(src_dir, name, target, sizeof(target) - 1);
        if (n < 0)
                return -errno;
        target[n] = '\0';
        cow_digest_bytes(target, (size_t)n, 'l', digest);
        if (digest_check(cm, digest) < 0)
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
        _cleanup_(closep) int in = out < 0 ? -1 : fs_open_upper_dir(src_dir, name, &restore);
        if (out < 0 || in < 0)
                return -errno;
        size_t n = 0, len = strlen(cm->path);
        char digest[COW_DIGEST_MAX];
        char **names = fs_dir_names(in, &n);
        /* The names copied are the ones hashed (a name added or removed
         * since the run: refused). */
        int r = names ? cow_digest_names(in, names, n, digest) : -errno;
        if (r == 0)
                r = digest_check(cm, digest);
        for (size_t i = 0; r == 0 && i < n; i++) {
                int k = snprintf(cm->path + len, sizeof(cm->path) - len, "%s%s", len ? "/" : "", names[i]);
                r = k < 0 || (size_t)k >= sizeof(cm->path) - len ? -ENAMETOOLONG
                                                                  : copy_entry(cm, in, names[i], out, names[i]);
                if (r == 0) /* on an error it names the entry, for the message */
                        cm->path[len] = '\0';
        }
        fs_names_free(names, n);
        fs_restore_mode(in, restore);
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
                _cleanup_(closep) int in = fs_open_upper(src_dir, name, O_RDONLY);
                if (in < 0)
                        return -errno;
                _cleanup_(closep) int out = openat(dst_dir, dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (out < 0)
                        return -errno;
                char digest[COW_DIGEST_MAX];
                int r = cow_digest_copy(in, out, digest);
                if (r == 0)
                        r = digest_check(cm, digest);
                if (r == 0)
                        r = copy_attrs(cm, out, &us);
                if (r == 0 && fsync(out) < 0)
                        r = -errno;
                return r;
        }
        if (S_ISLNK(us.st_mode))
                return copy_symlink(cm, src_dir, name, &us, dst_dir, dst);
        if (S_ISFIFO(us.st_mode)) {
                if (digest_check(cm, "p") < 0)
                        return -EBADMSG;
                if (mknodat(dst_dir, dst, S_IFIFO | 0600, 0) < 0)
                        return -errno;
                if (cm->as_root && fchownat(dst_dir, dst, us.st_uid, us.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                return fs_chmod_nofollow(dst_dir, dst, safe_mode(us.st_mode)) < 0 ? -errno : 0;
        }
        return 0; /* whiteouts inside a copied tree hide nothing; sockets mean nothing */
}

/* One entry commit applies (zone and entry index in the set), and where
 * its copy waits to be renamed into place. */
struct staged_entry {
        size_t zone, entry;
        char temp[64]; /* the entry's copy beside its target; "" if none */
};

/* Copy one entry from the upper dir to a temporary beside its target. */
static int stage_entry(struct commit *cm, struct staged_entry *st, struct zb_error *err)
{
        const struct cow_zone *z = &cm->set->zones[st->zone];
        const struct cow_entry *e = &z->e[st->entry];
        char dir[PATH_MAX];
        const char *base;

        if (e->change == ZB_COW_DELETED || e->meta_only)
                return 0;
        _cleanup_(closep) int parent = open_parent(cm->root[st->zone], e->path, dir, sizeof(dir), &base);
        if (parent < 0)
                return err_errno(err, errno, "cow: %s/%s: open its host dir", z->path, e->path);
        _cleanup_(closep) int src = fs_open_upper_path(cm->upper[st->zone], dir);
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
                fs_remove_tree(parent, st->temp, 0);
                st->temp[0] = '\0';
                if (r == -EBADMSG)
                        return err_set(err, EBADMSG,
                                            "cow: %s/%s: the change set was altered since the run (%s is not what the run left); nothing was applied",
                                            z->path, e->path, cm->path);
                return err_errno(err, -r, "cow: %s/%s: copy to the host dir", z->path, e->path);
        }
}

/* Put one staged entry in place (or delete, or chmod). */
static int place_entry(struct commit *cm, struct staged_entry *st, struct zb_error *err)
{
        const struct cow_zone *z = &cm->set->zones[st->zone];
        const struct cow_entry *e = &z->e[st->entry];
        char dir[PATH_MAX];
        const char *base;
        struct stat ts, rs;

        _cleanup_(closep) int parent = open_parent(cm->root[st->zone], e->path, dir, sizeof(dir), &base);
        if (parent < 0 || fstat(cm->root[st->zone], &rs) < 0)
                return err_errno(err, errno, "cow: %s/%s: open its host dir", z->path, e->path);
        int r = 0;
        if (e->change == ZB_COW_DELETED) {
                r = fs_remove_tree(parent, base, rs.st_dev);
        } else if (e->meta_only) {
                _cleanup_(closep) int fd = openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                r = fd < 0 || fchmod(fd, safe_mode(e->upper.mode)) < 0 ? -errno : 0;
        } else if (fstatat(parent, base, &ts, AT_SYMLINK_NOFOLLOW) < 0) {
                r = renameat2(parent, st->temp, parent, base, RENAME_NOREPLACE) < 0 ? -errno : 0;
        } else if (S_ISDIR(ts.st_mode) || e->type == ZB_COW_DIR) {
                /* A directory cannot be renamed over: swap, then remove the old. */
                r = renameat2(parent, st->temp, parent, base, RENAME_EXCHANGE) < 0 ? -errno : 0;
                if (r == 0)
                        r = fs_remove_tree(parent, st->temp, rs.st_dev);
        } else {
                r = renameat(parent, st->temp, parent, base) < 0 ? -errno : 0;
        }
        if (r < 0)
                return err_errno(err, -r, "cow: %s/%s", z->path, e->path);
        st->temp[0] = '\0';
        return 0;
}

static void unstage(struct commit *cm, struct staged_entry *steps, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (!steps[i].temp[0])
                        continue;
                const struct cow_entry *e = &cm->set->zones[steps[i].zone].e[steps[i].entry];
                char dir[PATH_MAX];
                const char *base;
                _cleanup_(closep) int parent = open_parent(cm->root[steps[i].zone], e->path, dir, sizeof(dir), &base);
                if (parent >= 0)
                        fs_remove_tree(parent, steps[i].temp, 0);
        }
}

/* Open the upper dirs of the set in RUN_FD (STORE/ID). */
static int open_uppers(struct commit *cm, int run_fd, struct zb_error *err)
{
        for (size_t i = 0; i < cm->set->n_zones; i++) {
                char p[64];
                snprintf(p, sizeof(p), "zone-%zu/upper", cm->set->zones[i].index);
                cm->upper[i] = fs_open_beneath(run_fd, p, O_RDONLY | O_DIRECTORY);
                if (cm->upper[i] < 0)
                        return err_errno(err, errno, "cow: change set %s: open %s", cm->set->id, p);
        }
        return 0;
}

/* Apply SET (in RUN_FD, which the caller holds locked). -ESTALE with
 * CONFLICTS filled when the host changed; nothing is applied then. */
int cow_apply_set(struct cow_set *set, int run_fd, json_object *conflicts, struct zb_error *err)
{
        struct commit cm = { .set = set, .conflicts = conflicts, .as_root = geteuid() == 0 };
        size_t n_steps = 0, total = cow_set_count(set);
        struct staged_entry *steps = NULL;
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
                                steps[n_steps++] = (struct staged_entry){ .zone = zi, .entry = j };
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
