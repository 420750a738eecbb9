/* Filesystem layer: a new tmpfs root holding read-only, nosuid, nodev clones
 * of the system dirs, a minimal /etc, a fresh /proc (with /proc/sys
 * read-only), a /dev with only null, zero, full, random, urandom, tty, a
 * private devpts and /dev/shm, and the zones; then pivot_root and the old
 * root detached, and the root tmpfs itself read-only.
 *
 * Every source is opened (open_tree clones) before the first mount changes
 * any path, so a zone under /tmp cannot be confused with the staging root,
 * and a zone is mounted from the fd that was opened without following a
 * symlink at its last component. Read-only is applied with one recursive
 * mount_setattr per tree, which — unlike MS_REMOUNT — covers submounts too. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#include "cow.h"
#include "ns.h"
#include "sys.h"

/* The staging point for the new root before pivot_root; any directory of
 * the host works, as the mount is private to the sandbox's namespace. */
static const char *const stage_candidates[] = { "/tmp", "/mnt", "/run" };

#define ROOT_TMPFS_OPTS "mode=0755,size=8m,nr_inodes=4096"
#define PAGE_BYTES 4096ull
#define DEV_SHM_OPTS "mode=1777,size=64m"
#define PROC_MOUNT_FLAGS (MS_NOSUID | MS_NODEV | MS_NOEXEC)

static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };

/* ---------- supervisor side: decide what goes into the root ---------- */

const char *ns_bind_str(struct ns_ctx *c, const char *s, size_t max)
{
        size_t len = strlen(s);
        if (len >= max || len >= sizeof(c->bind_strs) - c->bind_strs_used)
                return NULL;
        char *out = c->bind_strs + c->bind_strs_used;
        memcpy(out, s, len + 1);
        c->bind_strs_used += len + 1;
        return out;
}

static int add_bind(struct ns_ctx *c, const char *src, const char *dst, bool optional,
                    struct zb_error *err)
{
        struct stat st;
        if (c->n_binds >= NS_MAX_BINDS)
                return err_set(err, E2BIG, "layer mount: too many system binds");
        if (lstat(src, &st) < 0) {
                if (optional)
                        return 0;
                return err_errno(err, errno, "layer mount: system path %s", src);
        }
        struct ns_bind *b = &c->binds[c->n_binds];
        size_t mark = c->bind_strs_used;
        *b = (struct ns_bind){ .target = "", .optional = optional, .fd = -1 };
        if (!(b->src = ns_bind_str(c, src, NS_BIND_SRC_MAX)) || !(b->dst = ns_bind_str(c, dst, NS_BIND_DST_MAX))) {
                c->bind_strs_used = mark;
                return err_set(err, ENAMETOOLONG, "layer mount: path too long: %s", src);
        }
        if (S_ISLNK(st.st_mode)) {
                char target[NS_BIND_SRC_MAX];
                ssize_t n = readlink(src, target, sizeof(target) - 1);
                if (n >= 0) {
                        target[n] = '\0';
                        b->target = ns_bind_str(c, target, NS_BIND_SRC_MAX);
                }
                if (n < 0 || !b->target) {
                        c->bind_strs_used = mark;
                        return optional ? 0 : err_errno(err, n < 0 ? errno : ENAMETOOLONG,
                                                        "layer mount: readlink %s", src);
                }
                b->is_link = true;
        } else if (S_ISREG(st.st_mode)) {
                if (st.st_size > (1 << 20))
                        return optional ? 0 : err_set(err, EFBIG, "layer mount: %s too large", src);
                b->is_file = true;
                c->root_bytes += ((uint64_t)st.st_size + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES;
        } else if (!S_ISDIR(st.st_mode)) {
                return optional ? 0 : err_set(err, EINVAL, "layer mount: %s is not a directory", src);
        }
        c->n_binds++;
        return 0;
}

/* The host's system dirs and the small part of /etc that programs need. */
static int prepare_host_root(struct ns_ctx *c, struct zb_error *err)
{
        static const char *const top[] = { "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32" };
        static const char *const etc[] = {
                "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "nsswitch.conf", "host.conf",
                "gai.conf", "protocols", "services", "mime.types", "localtime", "timezone",
                "os-release", "debian_version", "alternatives", "ssl", "ca-certificates",
        };
        char src[512];
        int r;

        r = add_bind(c, "/usr", "/usr", false, err);
        for (size_t i = 0; r == 0 && i < ARRAY_SIZE(top); i++)
                r = add_bind(c, top[i], top[i], true, err);
        for (size_t i = 0; r == 0 && i < ARRAY_SIZE(etc); i++) {
                snprintf(src, sizeof(src), "/etc/%s", etc[i]);
                r = add_bind(c, src, src, true, err);
        }
        /* Interpreters' config dirs, e.g. /etc/python3.11 (sitecustomize). */
        _cleanup_(closedirp) DIR *d = r == 0 ? opendir("/etc") : NULL;
        for (struct dirent *e; r == 0 && d && (e = readdir(d));) {
                if (strncmp(e->d_name, "python3", 7) != 0)
                        continue;
                snprintf(src, sizeof(src), "/etc/%s", e->d_name);
                r = add_bind(c, src, src, true, err);
        }
        return r;
}

/* An unpacked image: every top-level entry but the ones the sandbox makes. */
static int prepare_dir_root(struct ns_ctx *c, struct zb_error *err)
{
        static const char *const skip[] = { ".", "..", "proc", "dev", "sys", "tmp", "run" };
        _cleanup_(closedirp) DIR *d = opendir(c->p->rootfs);
        char src[4096], dst[512];
        int r = 0;

        if (!d)
                return err_errno(err, errno, "rootfs: %s", c->p->rootfs);
        for (struct dirent *e; r == 0 && (e = readdir(d));) {
                bool skipped = false;
                for (size_t i = 0; i < ARRAY_SIZE(skip); i++)
                        skipped |= strcmp(e->d_name, skip[i]) == 0;
                if (skipped)
                        continue;
                snprintf(src, sizeof(src), "%s/%s", c->p->rootfs, e->d_name);
                snprintf(dst, sizeof(dst), "/%s", e->d_name);
                r = add_bind(c, src, dst, true, err);
        }
        return r;
}

int ns_mounts_prepare(struct ns_ctx *c, struct zb_error *err)
{
        const struct pol_security *s = &c->p->security;
        const char *home = c->p->tmp_size ? ZB_HOME_DIR : util_env_get(c->envp, "HOME");
        /* The generated /etc files and the check canary: a page each. */
        c->root_bytes = 8 * PAGE_BYTES;
        /* An image's entries are known only inside (image.c). */
        int r = c->p->n_image_layers ? ns_image_prepare(c, err)
                : c->p->rootfs        ? prepare_dir_root(c, err)
                                      : prepare_host_root(c, err);
        if (r < 0)
                return r;
        /* root and nobody always; the sandbox user when it is neither. */
        char user[160] = "", grp[64] = "";
        if (s->uid != 0 && s->uid != 65534)
                snprintf(user, sizeof(user), "sandbox:x:%u:%u:sandbox:%s:/bin/sh\n",
                         (unsigned)s->uid, (unsigned)s->gid, home ? home : "/");
        if (s->gid != 0 && s->gid != 65534)
                snprintf(grp, sizeof(grp), "sandbox:x:%u:\n", (unsigned)s->gid);
        snprintf(c->passwd, sizeof(c->passwd),
                 "root:x:0:0:root:/root:/bin/sh\n%s"
                 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", user);
        snprintf(c->group, sizeof(c->group), "root:x:0:\n%snogroup:x:65534:\n", grp);
        snprintf(c->hosts, sizeof(c->hosts), "127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost\n",
                 c->hostname);
        return 0;
}

/* ---------- child side ---------- */

struct stage {
        struct ns_ctx *c;
        const char *root; /* staging path of the new root, e.g. "/tmp" */
        int root_fd;
        int bind_fd[NS_MAX_BINDS];
        int zone_fd[ZB_MAX_ZONES];
        int dev_fd[ARRAY_SIZE(dev_nodes)];
};

static void path_in_root(const struct stage *s, char *buf, size_t n, const char *inner)
{
        snprintf(buf, n, "%s%s", s->root, inner);
}

/* mkdir -p of INNER (absolute inside the new root), relative to root_fd. */
static void mkdir_inside(struct stage *s, const char *inner, mode_t mode)
{
        char p[512];
        if (strcmp(inner, "/") == 0)
                return; /* -w /: the root is there */
        snprintf(p, sizeof(p), "%s", inner + 1);
        for (char *slash = p;; slash++) {
                slash = strchr(slash, '/');
                if (slash)
                        *slash = '\0';
                if (mkdirat(s->root_fd, p, mode) < 0 && errno != EEXIST)
                        ns_fail(s->c, 0, errno, "layer mount: mkdir %s", inner);
                if (!slash)
                        break;
                *slash = '/';
        }
}

static void touch_inside(struct stage *s, const char *inner)
{
        int fd = openat(s->root_fd, inner + 1, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                ns_fail(s->c, 0, errno, "layer mount: create %s", inner);
        close(fd);
}

static void write_inside(struct stage *s, const char *inner, const char *data)
{
        int fd = openat(s->root_fd, inner + 1, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
                ns_fail(s->c, 0, errno, "layer mount: create %s", inner);
        size_t len = strlen(data);
        if (write(fd, data, len) != (ssize_t)len)
                ns_fail(s->c, 0, errno, "layer mount: write %s", inner);
        close(fd);
}

static void symlink_inside(struct stage *s, const char *target, const char *inner)
{
        if (symlinkat(target, s->root_fd, inner + 1) < 0 && errno != EEXIST)
                ns_fail(s->c, 0, errno, "layer mount: symlink %s", inner);
}

static void set_attr(struct ns_ctx *c, int fd, uint64_t attr_set, bool recursive, const char *what)
{
        struct mount_attr a = { .attr_set = attr_set, .propagation = MS_PRIVATE };
        unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
        if (sys_mount_setattr(fd, "", flags, &a) < 0)
                ns_fail(c, 0, errno, "layer mount: set attributes of %s", what);
}

static void attach(struct stage *s, int tree_fd, const char *inner, const char *what)
{
        if (sys_move_mount(tree_fd, "", s->root_fd, inner + 1, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                ns_fail(s->c, 0, errno, "layer mount: mount %s at %s", what, inner);
        close(tree_fd);
}

static int clone_tree(struct ns_ctx *c, int dfd, const char *path, bool recursive, const char *what)
{
        unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW |
                         (recursive ? AT_RECURSIVE : 0) | (path[0] ? 0 : AT_EMPTY_PATH);
        int fd = sys_open_tree(dfd, path, flags);
        if (fd < 0)
                ns_fail(c, 0, errno, "layer mount: clone %s", what);
        return fd;
}

/* Phase 1: open every source while the host's paths are still as they were. */
static void open_sources(struct stage *s)
{
        struct ns_ctx *c = s->c;

        for (size_t i = 0; i < c->n_binds; i++) {
                const struct ns_bind *b = &c->binds[i];
                s->bind_fd[i] = -1;
                if (b->is_link)
                        continue;
                if (b->in_image && b->fd >= 0)
                        s->bind_fd[i] = b->fd; /* the supervisor's clone (image.c) */
                else if (b->in_image && b->is_file)
                        s->bind_fd[i] = openat(c->image_fd, b->src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                else if (b->in_image)
                        s->bind_fd[i] = sys_open_tree(c->image_fd, b->src,
                                                      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                                                              AT_RECURSIVE | AT_SYMLINK_NOFOLLOW);
                else if (b->is_file)
                        s->bind_fd[i] = open(b->src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                else
                        s->bind_fd[i] = sys_open_tree(AT_FDCWD, b->src,
                                                      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                                                              AT_RECURSIVE | AT_SYMLINK_NOFOLLOW);
                if (s->bind_fd[i] < 0 && !b->optional)
                        ns_fail(c, 0, errno, "layer mount: open %s", b->src);
        }
        /* Zones were opened with the invoker's rights (zones.c). */
        for (size_t i = 0; i < c->p->n_zones; i++) {
                const struct pol_zone *z = &c->p->zones[i];
                s->zone_fd[i] = c->zone_src[i].tree_fd;
                c->zone_src[i].tree_fd = -1;
                if (z->mode != ZB_ZONE_TMPFS && s->zone_fd[i] < 0)
                        ns_fail(c, 0, -s->zone_fd[i], "zone '%s': open %s", z->name, z->host_path);
        }
        for (size_t i = 0; i < ARRAY_SIZE(dev_nodes); i++) {
                char p[32];
                snprintf(p, sizeof(p), "/dev/%s", dev_nodes[i]);
                s->dev_fd[i] = clone_tree(c, AT_FDCWD, p, false, p);
        }
}

static void mount_stage_root(struct stage *s)
{
        struct stat st;
        for (size_t i = 0; i < ARRAY_SIZE(stage_candidates); i++) {
                if (stat(stage_candidates[i], &st) == 0 && S_ISDIR(st.st_mode)) {
                        s->root = stage_candidates[i];
                        break;
                }
        }
        if (!s->root)
                ns_fail(s->c, 0, ENOENT, "layer mount: no staging directory (/tmp, /mnt or /run)");
        /* With /tmp and the home dir on it (mount_scratch), the root's
         * tmpfs holds the tmp size on top of its own few files. */
        char opts[64] = ROOT_TMPFS_OPTS;
        if (s->c->p->tmp_size)
                snprintf(opts, sizeof(opts), "mode=0755,size=%llu",
                         (unsigned long long)(s->c->p->tmp_size + s->c->root_bytes));
        if (mount("tmpfs", s->root, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
                ns_fail(s->c, 0, errno, "layer mount: tmpfs root at %s", s->root);
        s->root_fd = open(s->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (s->root_fd < 0)
                ns_fail(s->c, 0, errno, "layer mount: open new root");
}

/* Phase 2: directories, links and files of the new root, while it is writable. */
static void build_skeleton(struct stage *s)
{
        struct ns_ctx *c = s->c;
        bool have_etc = false;
        char made[256] = ""; /* the last parent made: /etc's files come in a row */

        for (size_t i = 0; i < c->n_binds; i++) {
                const struct ns_bind *b = &c->binds[i];
                char parent[256];
                snprintf(parent, sizeof(parent), "%s", b->dst);
                char *slash = strrchr(parent, '/');
                if (slash && slash != parent) {
                        *slash = '\0';
                        if (strcmp(parent, made) != 0)
                                mkdir_inside(s, parent, 0755);
                        snprintf(made, sizeof(made), "%s", parent);
                }
                have_etc |= strcmp(b->dst, "/etc") == 0;
                if (b->is_link)
                        symlink_inside(s, b->target, b->dst);
                else if (s->bind_fd[i] < 0)
                        continue;
                else if (b->is_file)
                        touch_inside(s, b->dst);
                else
                        mkdir_inside(s, b->dst, 0755);
        }
        mkdir_inside(s, "/proc", 0555);
        mkdir_inside(s, "/dev/pts", 0755);
        mkdir_inside(s, "/dev/shm", 01777);
        for (size_t i = 0; i < ARRAY_SIZE(dev_nodes); i++) {
                char p[32];
                snprintf(p, sizeof(p), "/dev/%s", dev_nodes[i]);
                touch_inside(s, p);
        }
        symlink_inside(s, "/proc/self/fd", "/dev/fd");
        symlink_inside(s, "/proc/self/fd/0", "/dev/stdin");
        symlink_inside(s, "/proc/self/fd/1", "/dev/stdout");
        symlink_inside(s, "/proc/self/fd/2", "/dev/stderr");
        symlink_inside(s, "pts/ptmx", "/dev/ptmx");
        if (!have_etc) {
                mkdir_inside(s, "/etc", 0755);
                write_inside(s, "/etc/passwd", c->passwd);
                write_inside(s, "/etc/group", c->group);
                write_inside(s, "/etc/hosts", c->hosts);
                char hn[80];
                snprintf(hn, sizeof(hn), "%s\n", c->hostname);
                write_inside(s, "/etc/hostname", hn);
                /* network none: the loopback resolver (resolver.c); one
                 * attempt, as its REFUSED is final. */
                if (c->dns.state != NS_RESOLVER_NONE)
                        write_inside(s, "/etc/resolv.conf",
                                     "# zonebox: network none; this resolver refuses every name and\n"
                                     "# records it as a violation (docs/violations.md)\n"
                                     "nameserver 127.0.0.1\noptions attempts:1\n");
        }
        for (size_t i = 0; i < c->p->n_zones; i++)
                mkdir_inside(s, c->p->zones[i].path, 0755);
        if (c->p->check_canary)
                write_inside(s, ZB_CHECK_LANDLOCK_CANARY, "zonebox check: Landlock should refuse this\n");
        if (c->p->workdir)
                mkdir_inside(s, c->p->workdir, 0755);
}

static bool zone_at(const struct ns_ctx *c, const char *path)
{
        for (size_t i = 0; i < c->p->n_zones; i++)
                if (strcmp(c->p->zones[i].path, path) == 0)
                        return true;
        return false;
}

static void scratch_view(struct stage *s, const char *inner, mode_t mode)
{
        mkdir_inside(s, inner, 0755);
        /* mkdir's mode passes through the umask; this one must not. */
        if (fchmodat(s->root_fd, inner + 1, mode, 0) < 0)
                ns_fail(s->c, 0, errno, "layer mount: chmod %s", inner);
        attach(s, clone_tree(s->c, s->root_fd, inner + 1, false, inner), inner, inner);
}

/* /tmp (mode 1777) and the home dir: clones of two dirs of the root's own
 * tmpfs, taken before the root turns read-only, so they stay writable. One
 * size cap (the tmp size) for both, and their pages count in the memory
 * limit like any the command touches. A zone at /tmp takes its place. */
static void mount_scratch(struct stage *s)
{
        struct ns_ctx *c = s->c;

        if (!c->p->tmp_size)
                return;
        if (!zone_at(c, "/tmp"))
                scratch_view(s, "/tmp", 01777);
        if (!zone_at(c, ZB_HOME_DIR))
                scratch_view(s, ZB_HOME_DIR, 0700);
}

/* Phase 3: system binds read-only, files copied, then the root read-only. */
static void fill_root(struct stage *s)
{
        struct ns_ctx *c = s->c;

        for (size_t i = 0; i < c->n_binds; i++) {
                const struct ns_bind *b = &c->binds[i];
                if (b->is_link || s->bind_fd[i] < 0)
                        continue;
                if (b->is_file) { /* a copy: the root's tmpfs has room for small files only */
                        int out = openat(s->root_fd, b->dst + 1, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
                        if (out < 0)
                                ns_fail(c, 0, errno, "layer mount: open %s", b->dst);
                        while (sendfile(out, s->bind_fd[i], NULL, 1 << 20) > 0)
                                ;
                        struct stat st; /* an image's file keeps its mode (no setuid: image.c) */
                        if (b->in_image && fstat(s->bind_fd[i], &st) == 0 && fchmod(out, st.st_mode & 0777) < 0)
                                ns_fail(c, 0, errno, "layer mount: chmod %s", b->dst);
                        close(out);
                        close(s->bind_fd[i]);
                        continue;
                }
                set_attr(c, s->bind_fd[i], MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                         true, b->src);
                attach(s, s->bind_fd[i], b->dst, b->src);
        }
        set_attr(c, s->root_fd, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, false,
                 "the root");
}

static void mount_dev(struct stage *s)
{
        char p[512];

        for (size_t i = 0; i < ARRAY_SIZE(dev_nodes); i++) {
                char inner[32];
                snprintf(inner, sizeof(inner), "/dev/%s", dev_nodes[i]);
                set_attr(s->c, s->dev_fd[i], MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, false, inner);
                attach(s, s->dev_fd[i], inner, inner);
        }
        /* A private devpts instance: the sandbox's ptys are its own. */
        path_in_root(s, p, sizeof(p), "/dev/pts");
        if (mount("devpts", p, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0)
                ns_fail(s->c, 0, errno, "layer mount: devpts");
        path_in_root(s, p, sizeof(p), "/dev/shm");
        if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, DEV_SHM_OPTS) < 0)
                ns_fail(s->c, 0, errno, "layer mount: /dev/shm");
}

static void mount_proc(struct stage *s)
{
        char p[512];
        path_in_root(s, p, sizeof(p), "/proc");
        /* This process is PID 1 of the new pid namespace: the new proc shows
         * only the sandbox's processes. */
        if (mount("proc", p, "proc", PROC_MOUNT_FLAGS, NULL) < 0)
                ns_fail(s->c, 0, errno, "layer mount: /proc");
        int fd = clone_tree(s->c, s->root_fd, "proc/sys", false, "/proc/sys");
        set_attr(s->c, fd, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                 false, "/proc/sys");
        attach(s, fd, "/proc/sys", "/proc/sys (read-only)");
}

static void mount_zones(struct stage *s)
{
        char p[512], opts[64];

        for (size_t i = 0; i < s->c->p->n_zones; i++) {
                const struct pol_zone *z = &s->c->p->zones[i];
                if (z->mode == ZB_ZONE_TMPFS) {
                        path_in_root(s, p, sizeof(p), z->path);
                        snprintf(opts, sizeof(opts), "mode=0755,size=%llu", (unsigned long long)z->size);
                        if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
                                ns_fail(s->c, 0, errno, "zone '%s': tmpfs at %s", z->name, z->path);
                        continue;
                }
                uint64_t attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
                if (z->mode == ZB_ZONE_RO)
                        attr |= MOUNT_ATTR_RDONLY;
                set_attr(s->c, s->zone_fd[i], attr, true, z->name);
                attach(s, s->zone_fd[i], z->path, z->name);
        }
}

/* A cow zone's source becomes an overlay over it (cow.c), made while the
 * new root is still writable for staging; mount_zones attaches it. */
static void mount_cow_zones(struct stage *s)
{
        for (size_t i = 0; i < s->c->p->n_zones; i++)
                if (s->c->p->zones[i].mode == ZB_ZONE_COW)
                        s->zone_fd[i] = ns_cow_overlay(s->c, i, s->zone_fd[i], s->root_fd, s->root);
}

static void enter_root(struct stage *s)
{
        /* pivot_root(".", ".") stacks the old root on top of the new one;
         * detaching it leaves only the new root (pivot_root(2), NOTES). */
        if (fchdir(s->root_fd) < 0)
                ns_fail(s->c, 0, errno, "layer mount: chdir to new root");
        if (sys_pivot_root(".", ".") < 0)
                ns_fail(s->c, 0, errno, "layer mount: pivot_root");
        if (umount2(".", MNT_DETACH) < 0)
                ns_fail(s->c, 0, errno, "layer mount: detach old root");
        if (chdir("/") < 0)
                ns_fail(s->c, 0, errno, "layer mount: chdir /");
        /* Nothing mounted on the host afterwards shows up inside. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                ns_fail(s->c, 0, errno, "layer mount: make mounts private");
        close(s->root_fd);
}

void ns_mounts_build(struct ns_ctx *c)
{
        struct stage s = { .c = c, .root_fd = -1 };

        ns_image_mount(c); /* an image's entries join the binds first */
        /* c->image_fd stays open (close-on-exec): dropping the detached
         * overlay here would dissolve its mount tree now, an RCU grace
         * period on the startup path; it goes with the sandbox instead. */
        open_sources(&s);
        mount_stage_root(&s);
        mount_cow_zones(&s);
        build_skeleton(&s);
        mount_scratch(&s);
        fill_root(&s);
        mount_dev(&s);
        mount_proc(&s);
        mount_zones(&s);
        enter_root(&s);
}
