/* The sandbox's root for engines that take a directory (an OCI bundle's
 * rootfs, podman --rootfs): the same root the namespace backend builds
 * (src/ns/mounts.c), made as a small skeleton directory on the host plus a
 * list of read-only binds. With rootfs: host, the host's /usr (and /bin,
 * /sbin, /lib* as the host has them: symlinks are recreated, directories
 * bound) and a minimal /etc: generated passwd, group, hosts and hostname,
 * copies of the small files programs need, binds of a few /etc dirs. With
 * rootfs: DIR, every top-level entry of the unpacked image but proc, dev,
 * sys, tmp and run. The engine makes the root read-only; the skeleton only
 * holds mount points and small copies, never anything of the caller's. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#include "engine.h"

#define MAX_COPY_BYTES (1 << 20)

static const char *const host_top[] = { "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32" };
static const char *const host_etc[] = {
        "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "nsswitch.conf", "host.conf",
        "gai.conf", "protocols", "services", "mime.types", "localtime", "timezone",
        "os-release", "debian_version", "alternatives", "ssl", "ca-certificates",
};
static const char *const image_skip[] = { ".", "..", "proc", "dev", "sys", "tmp", "run" };

struct builder {
        const struct zb_policy *p;
        const char *dir; /* NULL: only collect binds */
        const char *root_dir; /* rootfs: DIR, or an image's overlay; NULL: the host's */
        struct eng_rootfs *fs;
        struct zb_error *err;
};

void eng_rootfs_free(struct eng_rootfs *fs)
{
        for (size_t i = 0; i < fs->n_binds; i++) {
                free(fs->binds[i].src);
                free(fs->binds[i].dst);
        }
        free(fs->binds);
        memset(fs, 0, sizeof(*fs));
}

/* mkdir -p of INNER (absolute) under the skeleton. */
static int mkdir_inside(struct builder *b, const char *inner)
{
        if (!b->dir)
                return 0;
        _cleanup_(freep) char *path = util_asprintf("%s%s", b->dir, inner);
        if (!path)
                return err_set(b->err, ENOMEM, "out of memory");
        for (char *s = path + strlen(b->dir) + 1;; s++) {
                s = strchr(s, '/');
                if (s)
                        *s = '\0';
                if (mkdir(path, 0755) < 0 && errno != EEXIST)
                        return err_errno(b->err, errno, "layer mount: mkdir %s", path);
                if (!s)
                        return 0;
                *s = '/';
        }
}

static int add_bind(struct builder *b, const char *src, const char *dst)
{
        struct eng_rootfs *fs = b->fs;
        struct eng_bind *nb = realloc(fs->binds, (fs->n_binds + 1) * sizeof(*nb));
        if (!nb)
                return err_set(b->err, ENOMEM, "out of memory");
        fs->binds = nb;
        nb[fs->n_binds].src = strdup(src);
        nb[fs->n_binds].dst = strdup(dst);
        if (!nb[fs->n_binds].src || !nb[fs->n_binds].dst) {
                free(nb[fs->n_binds].src);
                free(nb[fs->n_binds].dst);
                return err_set(b->err, ENOMEM, "out of memory");
        }
        fs->n_binds++;
        return mkdir_inside(b, dst);
}

static int copy_file(struct builder *b, const char *src, const char *dst)
{
        if (!b->dir)
                return 0;
        _cleanup_(freep) char *path = util_asprintf("%s%s", b->dir, dst);
        if (!path)
                return err_set(b->err, ENOMEM, "out of memory");
        _cleanup_(closep) int in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (in < 0)
                return 0; /* gone since lstat: optional */
        _cleanup_(closep) int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (out < 0)
                return err_errno(b->err, errno, "layer mount: create %s", path);
        while (sendfile(out, in, NULL, MAX_COPY_BYTES) > 0)
                ;
        return 0;
}

static int make_link(struct builder *b, const char *src, const char *dst)
{
        char target[1024];
        ssize_t n = readlink(src, target, sizeof(target) - 1);
        if (n < 0 || !b->dir)
                return 0;
        target[n] = '\0';
        _cleanup_(freep) char *path = util_asprintf("%s%s", b->dir, dst);
        if (!path)
                return err_set(b->err, ENOMEM, "out of memory");
        if (symlink(target, path) < 0 && errno != EEXIST)
                return err_errno(b->err, errno, "layer mount: symlink %s", path);
        return 0;
}

/* One entry of the root, as src/ns/mounts.c add_bind() classifies it. */
static int add_entry(struct builder *b, const char *src, const char *dst, bool optional)
{
        struct stat st;
        if (lstat(src, &st) < 0) {
                if (optional)
                        return 0;
                return err_errno(b->err, errno, "layer mount: system path %s", src);
        }
        if (S_ISLNK(st.st_mode))
                return make_link(b, src, dst);
        if (S_ISREG(st.st_mode)) {
                if (st.st_size > MAX_COPY_BYTES)
                        return optional ? 0 : err_set(b->err, EFBIG, "layer mount: %s too large", src);
                return copy_file(b, src, dst);
        }
        if (S_ISDIR(st.st_mode))
                return add_bind(b, src, dst);
        return optional ? 0 : err_set(b->err, EINVAL, "layer mount: %s is not a directory", src);
}

static int write_etc(struct builder *b)
{
        const struct pol_security *s = &b->p->security;
        const char *hostname = b->p->hostname ? b->p->hostname : DEFAULT_HOSTNAME;
        const char *home = b->p->workdir ? b->p->workdir : "/";
        char user[160] = "", grp[64] = "", buf[1024];
        int r;

        if (!b->dir)
                return 0;
        if (s->uid != 0 && s->uid != 65534)
                snprintf(user, sizeof(user), "sandbox:x:%u:%u:sandbox:%s:/bin/sh\n", (unsigned)s->uid,
                         (unsigned)s->gid, home);
        if (s->gid != 0 && s->gid != 65534)
                snprintf(grp, sizeof(grp), "sandbox:x:%u:\n", (unsigned)s->gid);
        const struct {
                const char *name;
                char *text;
        } files[] = {
                { "passwd", util_asprintf("root:x:0:0:root:/root:/bin/sh\n%snobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", user) },
                { "group", util_asprintf("root:x:0:\n%snogroup:x:65534:\n", grp) },
                { "hosts", util_asprintf("127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost\n", hostname) },
                { "hostname", util_asprintf("%s\n", hostname) },
        };
        r = mkdir_inside(b, "/etc");
        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                if (r == 0 && !files[i].text)
                        r = err_set(b->err, ENOMEM, "out of memory");
                if (r == 0) {
                        snprintf(buf, sizeof(buf), "%s/etc/%s", b->dir, files[i].name);
                        r = eng_write_file(buf, files[i].text, b->err);
                }
                free(files[i].text);
        }
        return r;
}

static int host_root(struct builder *b)
{
        char src[512];
        int r = add_entry(b, "/usr", "/usr", false);
        for (size_t i = 0; r == 0 && i < ARRAY_SIZE(host_top); i++)
                r = add_entry(b, host_top[i], host_top[i], true);
        if (r == 0)
                r = write_etc(b);
        for (size_t i = 0; r == 0 && i < ARRAY_SIZE(host_etc); i++) {
                snprintf(src, sizeof(src), "/etc/%s", host_etc[i]);
                r = add_entry(b, src, src, true);
        }
        /* Interpreters' config dirs, e.g. /etc/python3.11 (sitecustomize). */
        _cleanup_(closedirp) DIR *d = r == 0 ? opendir("/etc") : NULL;
        for (struct dirent *e; r == 0 && d && (e = readdir(d));) {
                if (strncmp(e->d_name, "python3", 7) != 0)
                        continue;
                snprintf(src, sizeof(src), "/etc/%s", e->d_name);
                r = add_entry(b, src, src, true);
        }
        return r;
}

static int image_root(struct builder *b)
{
        _cleanup_(closedirp) DIR *d = opendir(b->root_dir);
        char src[4096], dst[512];
        bool have_etc = false;
        int r = 0;

        if (!d)
                return err_errno(b->err, errno, "rootfs: %s", b->root_dir);
        for (struct dirent *e; r == 0 && (e = readdir(d));) {
                bool skipped = false;
                for (size_t i = 0; i < ARRAY_SIZE(image_skip); i++)
                        skipped |= strcmp(e->d_name, image_skip[i]) == 0;
                /* An image's read-only /home would cover the home scratch zone. */
                skipped |= b->p->n_image_layers && b->p->tmp_size && strcmp(e->d_name, "home") == 0;
                if (skipped)
                        continue;
                have_etc |= strcmp(e->d_name, "etc") == 0;
                snprintf(src, sizeof(src), "%s/%s", b->root_dir, e->d_name);
                snprintf(dst, sizeof(dst), "/%s", e->d_name);
                r = add_entry(b, src, dst, true);
        }
        if (r == 0 && !have_etc)
                r = write_etc(b);
        return r;
}

static int build(struct builder *b)
{
        int r = b->root_dir ? image_root(b) : host_root(b);
        static const char *const points[] = { "/proc", "/dev" };
        for (size_t i = 0; r == 0 && i < ARRAY_SIZE(points); i++)
                r = mkdir_inside(b, points[i]);
        struct pol_zone scratch[2];
        size_t n_scratch = eng_scratch_zones(b->p, scratch);
        for (size_t i = 0; r == 0 && i < b->p->n_zones + n_scratch; i++) {
                const struct pol_zone *z = i < b->p->n_zones ? &b->p->zones[i] : &scratch[i - b->p->n_zones];
                r = mkdir_inside(b, z->path);
                /* runc gives a tmpfs the mode of the directory under it. */
                if (r == 0 && b->dir && z->mode == ZB_ZONE_TMPFS) {
                        _cleanup_(freep) char *path = util_asprintf("%s%s", b->dir, z->path);
                        if (!path || chmod(path, 01777) < 0)
                                r = err_errno(b->err, path ? errno : ENOMEM, "zone '%s': chmod", z->name);
                }
        }
        if (r == 0 && b->p->workdir)
                r = mkdir_inside(b, b->p->workdir);
        return r;
}

int eng_rootfs_build(const struct zb_policy *p, const char *dir, struct eng_rootfs *fs,
                     struct zb_error *err)
{
        struct builder b = { .p = p, .dir = dir, .fs = fs, .err = err, .root_dir = p->rootfs };
        _cleanup_(freep) char *image_dir = NULL;
        memset(fs, 0, sizeof(*fs));
        if (p->n_image_layers && !dir)
                return err_set(err, ENOTSUP, "image: a store image is mounted at run time; an export cannot name it");
        if (dir && mkdir(dir, 0755) < 0 && errno != EEXIST)
                return err_errno(err, errno, "layer mount: mkdir %s", dir);
        if (p->n_image_layers) {
                int r = eng_image_mount(p, dir, &image_dir, err);
                if (r < 0)
                        return r;
                b.root_dir = image_dir;
        }
        int r = build(&b);
        if (r < 0)
                eng_rootfs_free(fs);
        return r;
}

int eng_rootfs_binds(const struct zb_policy *p, struct eng_rootfs *fs, struct zb_error *err)
{
        return eng_rootfs_build(p, NULL, fs, err);
}
