/* Copy-on-write zones: SHA-256 digests of what a run left.
 *
 * Of the upper dir (what commit may copy: a file's bytes, a link's target,
 * a directory's names), kept in the manifest so that commit refuses an
 * upper dir written after the review; and of host trees that commit
 * removes whole, so that it refuses when anything below them changed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <json-c/json.h>
/* SHA-256 from libcrypto: its SHA-NI/AVX2 code hashes at ~10 times the
 * speed of a portable C one (commit hashes every byte it copies). The
 * one-shot context API is deprecated in OpenSSL 3 in favour of EVP, whose
 * providers and config loading a static binary need not carry. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cow_int.h"

_Static_assert(COW_DIGEST_MAX == 2 + 2 * SHA256_DIGEST_LENGTH + 1, "a digest's text: kind, ':', hex, NUL");

/* ---------- what commit may copy: digests of the upper dir ---------- */

/* What copy_entry copies: whiteouts, sockets and devices it skips, and
 * the names digest leaves them out too. */
static bool copied_type(mode_t m)
{
        return S_ISDIR(m) || S_ISREG(m) || S_ISLNK(m) || S_ISFIFO(m);
}

static void digest_end(SHA256_CTX *h, char kind, char out[COW_DIGEST_MAX])
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

void cow_digest_bytes(const void *data, size_t n, char kind, char out[COW_DIGEST_MAX])
{
        SHA256_CTX h;
        SHA256_Init(&h);
        SHA256_Update(&h, data, n);
        digest_end(&h, kind, out);
}

/* The names of directory FD that commit copies (NAMES, sorted), each with
 * its NUL, hashed; -errno when one cannot be looked at. */
int cow_digest_names(int fd, char **names, size_t n, char out[COW_DIGEST_MAX])
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
__attribute__((noinline)) int cow_digest_copy(int in, int out, char digest[COW_DIGEST_MAX])
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

__attribute__((noinline)) static int digest_link(int dirfd, const char *name, char out[COW_DIGEST_MAX])
{
        char target[PATH_MAX];
        ssize_t n = readlinkat(dirfd, name, target, sizeof(target));
        if (n < 0)
                return -errno;
        cow_digest_bytes(target, (size_t)n, 'l', out);
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
        char d[COW_DIGEST_MAX];
        int r;
        int k = snprintf(w->path + len, sizeof(w->path) - len, "%s%s", len ? "/" : "", name);
        if (k < 0 || (size_t)k >= sizeof(w->path) - len)
                return -ENAMETOOLONG;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode)) {
                mode_t restore;
                _cleanup_(closep) int sub = fs_open_upper_dir(dfd, name, &restore);
                size_t n = 0;
                char **names = sub < 0 ? NULL : fs_dir_names(sub, &n);
                r = names ? cow_digest_names(sub, names, n, d) : -errno;
                fs_names_free(names, n);
                if (r == 0 && (r = digest_put(w, d)) == 0)
                        r = digest_dir(w, sub, len + (size_t)k);
                fs_restore_mode(sub, restore);
                return r;
        }
        if (S_ISREG(st.st_mode)) {
                _cleanup_(closep) int fd = fs_open_upper(dfd, name, O_RDONLY);
                r = fd < 0 ? -errno : cow_digest_copy(fd, -1, d);
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
        char **names = fs_dir_names(dfd, &n);
        int r = names ? 0 : -errno;
        for (size_t i = 0; r == 0 && i < n; i++) {
                struct stat st;
                if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
                        r = -errno;
                else if (copied_type(st.st_mode))
                        r = digest_one(w, dfd, names[i], len);
        }
        fs_names_free(names, n);
        w->path[len] = '\0';
        return r;
}

/* Z->tree from the upper dir UPPER, as the run left it (see cow.h). */
int cow_zone_digests(struct cow_zone *z, int upper, char *msg, size_t n)
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
        char **names = fs_dir_names(fd, &n);
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
                          fs_ts_ns(&st.st_mtim), fs_ts_ns(&st.st_ctim) };
                SHA256_Update(h, (const uint8_t *)names[i], strlen(names[i]) + 1);
                SHA256_Update(h, (const uint8_t *)&rec, sizeof(rec));
                if (since_ns && rec.ctime >= since_ns)
                        *newer = true;
                if (!S_ISDIR(st.st_mode) || st.st_dev != dev)
                        continue;
                _cleanup_(closep) int sub = openat(fd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                r = sub < 0 ? -errno : host_tree_hash(h, sub, dev, since_ns, newer, depth + 1);
        }
        fs_names_free(names, n);
        return r;
}

/* OUT (COW_DIGEST_MAX) for the host dir at PATH below ROOT. */
int cow_host_tree_digest(int root, const char *path, int64_t since_ns, bool *newer, char *out)
{
        _cleanup_(closep) int fd = fs_open_beneath(root, path, O_RDONLY | O_DIRECTORY);
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
int cow_zone_host_trees(struct cow_zone *z, int host, int64_t start_ns)
{
        for (size_t i = 0; i < z->n; i++) {
                struct cow_entry *e = &z->e[i];
                char d[COW_DIGEST_MAX];
                bool newer = false;
                if (!e->apply || e->meta_only || e->host.type != ZB_COW_DIR || e->conflict)
                        continue;
                int r = cow_host_tree_digest(host, e->path, start_ns, &newer, d);
                const char *why = r < 0 ? "its tree on the host cannot be read"
                                  : newer ? "changed on the host below it while the command ran"
                                          : NULL;
                if (why ? !(e->conflict = strdup(why)) : !(e->host_tree = strdup(d)))
                        return -ENOMEM;
        }
        return 0;
}
