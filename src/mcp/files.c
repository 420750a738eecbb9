/* read_file, write_file, list_files: the zones' host directories, reached
 * from the server (outside any sandbox) as safely as from inside one.
 *
 * A path is the one the sandbox sees ("/output/x.txt"): its zone is the one
 * mounted there, the rest is resolved beneath the zone's host directory with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
 * RESOLVE_NO_XDEV), so no "..", symlink, /proc magic link or mount inside the
 * zone leads out of it. Files are looked at through an O_PATH descriptor
 * first and opened for reading or writing only when they are regular files
 * (reopened through /proc/self/fd: the same inode, no second lookup), so a
 * device or FIFO is never opened. The zone's mode holds: ro zones are never
 * written; cow zones are written only by runs, whose changes are reviewed
 * (changes/commit); tmpfs zones exist only inside a sandbox. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "../core/result.h"
#include "mcp.h"

#define RESOLVE_SAFE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)

static int openat2_beneath(int dfd, const char *path, uint64_t flags, uint64_t mode)
{
        struct open_how how = { .flags = flags | O_CLOEXEC, .mode = mode, .resolve = RESOLVE_SAFE };
        int fd = (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));
        return fd < 0 ? -errno : fd;
}

/* The same inode, opened anew with FLAGS (never a path lookup). */
static int reopen(int path_fd, int flags)
{
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", path_fd);
        int fd = open(proc, flags | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

struct target {
        const struct pol_zone *zone;
        char rel[PATH_MAX]; /* beneath the zone; "." for the zone itself */
        int root;           /* O_PATH of the zone's host dir */
};

static void target_close(struct target *t)
{
        if (t->root >= 0)
                close(t->root);
}

static int resolve_zone(const struct zb_policy *p, const char *path, struct target *t, struct zb_error *err)
{
        t->zone = NULL;
        t->root = -1;
        if (!path || path[0] != '/')
                return err_set(err, EINVAL, "path: expected an absolute path as the sandbox sees it (/ZONE/...)");
        if (strlen(path) >= sizeof(t->rel))
                return err_set(err, ENAMETOOLONG, "path: too long");
        for (const char *c = path; *c;) {
                size_t n = strcspn(c, "/");
                if (n == 2 && c[0] == '.' && c[1] == '.')
                        return err_set(err, EPERM, "path: '..' is not allowed");
                c += n + (c[n] == '/');
        }
        size_t best = 0;
        for (size_t i = 0; i < p->n_zones; i++) {
                const char *zp = p->zones[i].path;
                size_t n = strlen(zp);
                if (strncmp(path, zp, n) == 0 && (path[n] == '\0' || path[n] == '/') && n > best) {
                        best = n;
                        t->zone = &p->zones[i];
                }
        }
        if (!t->zone)
                return err_set(err, ENOENT, "path: %.200s is in no zone of the server's config", path);
        const char *rest = path + best;
        while (*rest == '/')
                rest++;
        snprintf(t->rel, sizeof(t->rel), "%s", *rest ? rest : ".");
        if (!t->zone->host_path)
                return err_set(err, EPERM, "zone '%s' is a tmpfs: it exists only inside a sandbox", t->zone->name);
        t->root = open(t->zone->host_path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (t->root < 0)
                return err_errno(err, errno, "zone '%s': cannot open its directory", t->zone->name);
        return 0;
}

static int refuse_open(int r, const char *path, struct zb_error *err)
{
        if (r == -EXDEV || r == -ELOOP)
                return err_set(err, EPERM, "%.200s: leads out of its zone (a symlink, '..' or a mount)", path);
        return err_errno(err, -r, "%.200s", path);
}

/* ------------------------------------------------------------ read */

static json_object *base64_text(const unsigned char *data, size_t n)
{
        _cleanup_(freep) char *out = malloc(4 * ((n + 2) / 3) + 1);
        if (!out)
                return NULL;
        int len = EVP_EncodeBlock((unsigned char *)out, data, (int)n);
        return json_object_new_string_len(out, len);
}

static bool utf8_text(const char *data, size_t n)
{
        if (!data || memchr(data, '\0', n))
                return false;
        size_t clean_len = 0;
        _cleanup_(freep) char *clean = util_utf8_sanitize(data, n, &clean_len);
        return clean && clean_len == n && memcmp(clean, data, n) == 0;
}

/* Up to MAX bytes of the regular file PATH of zone T (malloc'd into *DATA). */
static int read_regular(const struct target *t, const char *path, uint64_t max, char **data, size_t *got,
                        struct stat *st, struct zb_error *err)
{
        _cleanup_(closep) int pfd = openat2_beneath(t->root, t->rel, O_PATH | O_NOFOLLOW, 0);
        if (pfd < 0)
                return refuse_open(pfd, path, err);
        if (fstat(pfd, st) < 0 || !S_ISREG(st->st_mode))
                return err_set(err, EPERM, "%.200s: not a regular file", path);
        _cleanup_(closep) int fd = reopen(pfd, O_RDONLY | O_NONBLOCK);
        if (fd < 0)
                return err_errno(err, -fd, "%.200s", path);
        *data = malloc(max + 1);
        if (!*data)
                return err_set(err, ENOMEM, "out of memory");
        *got = 0;
        while (*got < max) {
                ssize_t n = read(fd, *data + *got, max - *got);
                if (n < 0)
                        return err_errno(err, errno, "%.200s", path);
                if (n == 0)
                        break;
                *got += (size_t)n;
        }
        return 0;
}

static json_object *file_result(const char *path, const char *data, size_t got, off_t size)
{
        bool text = utf8_text(data, got);
        json_object *o = json_object_new_object();
        json_object *content = text ? json_object_new_string_len(data, (int)got)
                                    : base64_text((const unsigned char *)data, got);
        json_object_object_add(o, "path", json_object_new_string(path));
        json_object_object_add(o, "size", json_object_new_int64(size));
        json_object_object_add(o, "truncated", json_object_new_boolean((off_t)got < size));
        json_object_object_add(o, "encoding", json_object_new_string(text ? "utf-8" : "base64"));
        json_object_object_add(o, "content", content);
        _cleanup_(freep) char *out = util_asprintf("%s (%zu bytes%s%s)\n%s", path, got, (off_t)got < size ? " of more" : "",
                                                 text ? "" : ", base64", json_object_get_string(content));
        return mcp_tool_result(o, out ? out : "", false);
}

json_object *mcp_read_file(struct mcp_work *w)
{
        static const char *const keys[] = { "path", "max_bytes", NULL };
        struct zb_error err = { 0 };
        struct target t = { .root = -1 };
        const char *path = mcp_arg_string(w->args, "path");
        json_object *v;
        uint64_t max = MCP_DEFAULT_READ_BYTES;

        if (mcp_args_check(w->args, keys, &err) < 0)
                return mcp_tool_error("read_file: %s", err.message);
        if (json_object_object_get_ex(w->args, "max_bytes", &v)) {
                int64_t m = json_object_get_int64(v);
                if (!json_object_is_type(v, json_type_int) || m <= 0 || m > MCP_MAX_FILE_BYTES)
                        return mcp_tool_error("read_file: max_bytes: expected 1 to %u", MCP_MAX_FILE_BYTES);
                max = (uint64_t)m;
        }
        _cleanup_(freep) char *data = NULL;
        size_t got = 0;
        struct stat st = { 0 };
        int r = resolve_zone(w->s->base, path, &t, &err);
        if (r == 0)
                r = read_regular(&t, path, max, &data, &got, &st, &err);
        target_close(&t);
        if (r < 0 || !data)
                return mcp_tool_error("read_file: %s", err.message);
        return file_result(path, data, got, st.st_size);
}

/* ------------------------------------------------------------ write */

/* The parent directory of REL beneath ROOT, created (owned like the zone's
 * directory) where missing; *BASE points at the last component. */
static int open_parent(int root, const struct stat *zst, char *rel, const char **base, struct zb_error *err)
{
        char *slash = strrchr(rel, '/');
        *base = slash ? slash + 1 : rel;
        int dfd = openat2_beneath(root, ".", O_PATH | O_DIRECTORY, 0);
        if (!slash || dfd < 0)
                return dfd < 0 ? err_errno(err, -dfd, "zone directory") : dfd;
        *slash = '\0';
        for (char *c = rel, *end; *c; c = end) {
                end = c + strcspn(c, "/");
                bool last = *end == '\0';
                *end = '\0';
                if (*c) {
                        int nfd = openat2_beneath(dfd, c, O_PATH | O_DIRECTORY, 0);
                        if (nfd == -ENOENT && mkdirat(dfd, c, 0755) == 0) {
                                if (geteuid() == 0 &&
                                    fchownat(dfd, c, zst->st_uid, zst->st_gid, AT_SYMLINK_NOFOLLOW) < 0) {
                                        /* best effort, as for files */
                                }
                                nfd = openat2_beneath(dfd, c, O_PATH | O_DIRECTORY, 0);
                        }
                        close(dfd);
                        if (nfd < 0) {
                                *slash = '/';
                                return refuse_open(nfd, c, err);
                        }
                        dfd = nfd;
                }
                if (!last)
                        *end++ = '/';
        }
        *slash = '/';
        return dfd;
}

/* PATH's file beneath the zone T, created or truncated, then written. */
static int put(struct target *t, const char *path, const char *content, size_t len, struct zb_error *err)
{
        if (t->zone->mode != ZB_ZONE_RW)
                return err_set(err, EPERM, "%.200s: zone '%s' is %s%s", path, t->zone->name,
                                    pol_zone_mode_name(t->zone->mode),
                                    t->zone->mode == ZB_ZONE_COW ? ": it changes only through runs, whose changes "
                                                                   "are reviewed with changes and commit"
                                                                 : ", not writable");
        if (strcmp(t->rel, ".") == 0)
                return err_set(err, EISDIR, "%.200s: the zone itself is a directory", path);
        struct stat zst, st;
        if (fstat(t->root, &zst) < 0)
                return err_errno(err, errno, "zone '%s'", t->zone->name);
        const char *base;
        _cleanup_(closep) int dfd = open_parent(t->root, &zst, t->rel, &base, err);
        if (dfd < 0)
                return dfd;
        _cleanup_(closep) int fd = openat2_beneath(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
        if (fd >= 0 && geteuid() == 0 && fchown(fd, zst.st_uid, zst.st_gid) < 0) {
                /* best effort: the file stays root's, readable in the zone */
        }
        if (fd == -EEXIST) {
                _cleanup_(closep) int pfd = openat2_beneath(dfd, base, O_PATH | O_NOFOLLOW, 0);
                if (pfd < 0)
                        return refuse_open(pfd, path, err);
                if (fstat(pfd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1)
                        return err_set(err, EPERM, "%.200s: not a regular file with one link", path);
                fd = reopen(pfd, O_WRONLY | O_TRUNC | O_NONBLOCK);
        }
        if (fd < 0)
                return refuse_open(fd, path, err);
        int r = util_write_all(fd, content, len);
        return r < 0 ? err_errno(err, -r, "%.200s: write", path) : 0;
}

int mcp_put_file(const struct zb_policy *p, const char *path, const char *content, size_t len,
                 struct zb_error *err)
{
        struct target t = { .root = -1 };
        int r = resolve_zone(p, path, &t, err);
        if (r == 0)
                r = put(&t, path, content, len, err);
        target_close(&t);
        return r;
}

int mcp_content_bytes(json_object *args, char **out, size_t *len, struct zb_error *err)
{
        json_object *c;
        const char *enc = mcp_arg_string(args, "encoding");
        if (!json_object_object_get_ex(args, "content", &c) || !json_object_is_type(c, json_type_string))
                return err_set(err, EINVAL, "content: required (a string)");
        size_t n = (size_t)json_object_get_string_len(c);
        if (n > (size_t)MCP_MAX_FILE_BYTES * 2)
                return err_set(err, EFBIG, "content: larger than %u bytes", MCP_MAX_FILE_BYTES);
        if (!enc || strcmp(enc, "utf-8") == 0) {
                *out = malloc(n + 1);
                if (!*out)
                        return err_set(err, ENOMEM, "out of memory");
                memcpy(*out, json_object_get_string(c), n);
                *len = n;
                return 0;
        }
        if (strcmp(enc, "base64") != 0)
                return err_set(err, EINVAL, "encoding: expected utf-8 or base64");
        if (n % 4)
                return err_set(err, EINVAL, "content: not base64");
        *out = malloc(n / 4 * 3 + 1);
        if (!*out)
                return err_set(err, ENOMEM, "out of memory");
        int k = EVP_DecodeBlock((unsigned char *)*out, (const unsigned char *)json_object_get_string(c), (int)n);
        if (k < 0) {
                free(*out);
                *out = NULL;
                return err_set(err, EINVAL, "content: not base64");
        }
        const char *s = json_object_get_string(c);
        size_t pad = n && s[n - 1] == '=' ? (n > 1 && s[n - 2] == '=' ? 2 : 1) : 0;
        *len = (size_t)k - pad; /* EVP_DecodeBlock counts the padding as zero bytes */
        return 0;
}

json_object *mcp_write_file(struct mcp_work *w)
{
        static const char *const keys[] = { "path", "content", "encoding", NULL };
        struct zb_error err = { 0 };
        const char *path = mcp_arg_string(w->args, "path");
        _cleanup_(freep) char *data = NULL;
        size_t len = 0;
        if (mcp_args_check(w->args, keys, &err) < 0 || mcp_content_bytes(w->args, &data, &len, &err) < 0 ||
            mcp_put_file(w->s->base, path, data, len, &err) < 0)
                return mcp_tool_error("write_file: %s", err.message);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "path", json_object_new_string(path));
        json_object_object_add(o, "bytes", json_object_new_int64((int64_t)len));
        _cleanup_(freep) char *text = util_asprintf("wrote %zu bytes to %s", len, path);
        return mcp_tool_result(o, text ? text : "", false);
}

/* ------------------------------------------------------------ list */

static const char *type_name(mode_t m)
{
        return S_ISREG(m) ? "file" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "symlink" : "other";
}

static json_object *list_zones(const struct zb_policy *p)
{
        json_object *o = json_object_new_object(), *a = json_object_new_array();
        struct outbuf text = { .limit = 1u << 20 };
        for (size_t i = 0; i < p->n_zones; i++) {
                json_object *e = json_object_new_object();
                json_object_object_add(e, "name", json_object_new_string(p->zones[i].path));
                json_object_object_add(e, "type", json_object_new_string("zone"));
                json_object_object_add(e, "mode", json_object_new_string(pol_zone_mode_name(p->zones[i].mode)));
                json_object_array_add(a, e);
                _cleanup_(freep) char *line = util_asprintf("%s (%s zone)\n", p->zones[i].path,
                                                          pol_zone_mode_name(p->zones[i].mode));
                if (line)
                        outbuf_append(&text, line, strlen(line));
        }
        json_object_object_add(o, "path", json_object_new_string("/"));
        json_object_object_add(o, "entries", a);
        outbuf_append(&text, "", 1);
        json_object *r = mcp_tool_result(o, text.data ? text.data : "", false);
        outbuf_free(&text);
        return r;
}

json_object *mcp_list_files(struct mcp_work *w)
{
        static const char *const keys[] = { "path", NULL };
        struct zb_error err = { 0 };
        struct target t = { .root = -1 };
        const char *path = mcp_arg_string(w->args, "path");
        if (mcp_args_check(w->args, keys, &err) < 0)
                return mcp_tool_error("list_files: %s", err.message);
        if (!path || strcmp(path, "/") == 0)
                return list_zones(w->s->base);
        if (resolve_zone(w->s->base, path, &t, &err) < 0) {
                target_close(&t);
                return mcp_tool_error("list_files: %s", err.message);
        }
        int fd = openat2_beneath(t.root, t.rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
        target_close(&t);
        if (fd < 0)
                return (refuse_open(fd, path, &err), mcp_tool_error("list_files: %s", err.message));
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return mcp_tool_error("list_files: %.200s: %s", path, strerror(errno));
        }
        json_object *o = json_object_new_object(), *a = json_object_new_array();
        struct outbuf text = { .limit = 1u << 20 };
        size_t n = 0;
        for (struct dirent *e; (e = readdir(d)) && n < MCP_MAX_LIST_ENTRIES;) {
                struct stat st;
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
                    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                json_object *x = json_object_new_object();
                json_object_object_add(x, "name", json_object_new_string(e->d_name));
                json_object_object_add(x, "type", json_object_new_string(type_name(st.st_mode)));
                json_object_object_add(x, "size", json_object_new_int64(st.st_size));
                json_object_array_add(a, x);
                _cleanup_(freep) char *esc = util_escape_text(e->d_name);
                _cleanup_(freep) char *line = util_asprintf("%s%s\n", esc ? esc : "?", S_ISDIR(st.st_mode) ? "/" : "");
                if (line)
                        outbuf_append(&text, line, strlen(line));
                n++;
        }
        closedir(d);
        json_object_object_add(o, "path", json_object_new_string(path));
        json_object_object_add(o, "entries", a);
        json_object_object_add(o, "truncated", json_object_new_boolean(n >= MCP_MAX_LIST_ENTRIES));
        outbuf_append(&text, "", 1);
        json_object *r = mcp_tool_result(o, text.data ? text.data : "", false);
        outbuf_free(&text);
        return r;
}
