/* The image store: STORE/layers/HEX (a layer unpacked, named by the sha256
 * of its compressed blob), STORE/images/KEY.json (an image: its name, its
 * manifest's digest, its layers bottom first, its config's defaults),
 * STORE/tmp (imports in progress), STORE/empty (overlayfs's bottom layer).
 * Guarantees: every blob's sha256 is checked against the manifest before it
 * is used; an import unpacks into tmp/ and renames into place only when
 * every layer was good, then writes the record (tmp file, rename), so the
 * store is unchanged by a failed import; imports, removals and prunes hold
 * STORE/lock exclusively, readers shared. One store per user (paths:
 * img_store_path); layers are shared by every image and every run. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/fs.h"
#include "image.h"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define REF_NAME_ANNOTATION "org.opencontainers.image.ref.name"
#define HASH_BLOCK_BYTES (256u << 10)

static const char *const layer_types[] = {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
};

struct store {
        char path[4096];
        int fd;
        int lock_fd;
};

static void store_close(struct store *s)
{
        if (s->lock_fd >= 0)
                close(s->lock_fd);
        if (s->fd >= 0)
                close(s->fd);
        s->fd = s->lock_fd = -1;
}

int img_store_path(char *buf, size_t n, struct zb_error *err)
{
        const char *env = getenv("ZONEBOX_IMAGE_DIR"), *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
        struct stat st;
        int len;
        if (env && env[0] == '/')
                len = snprintf(buf, n, "%s", env);
        else if (geteuid() == 0)
                len = snprintf(buf, n, "/var/lib/zonebox/images");
        else if (xdg && xdg[0] == '/')
                len = snprintf(buf, n, "%s/zonebox/images", xdg);
        else if (home && home[0] == '/' && stat(home, &st) == 0 && st.st_uid == geteuid())
                len = snprintf(buf, n, "%s/.local/share/zonebox/images", home);
        else
                len = snprintf(buf, n, "/var/tmp/zonebox-%u/images", (unsigned)geteuid());
        if (len < 0 || (size_t)len >= n)
                return err_set(err, ENAMETOOLONG, "image: store path too long");
        return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
        char buf[4096];
        snprintf(buf, sizeof(buf), "%s", path);
        for (char *s = buf + 1;; s++) {
                s = strchr(s, '/');
                if (s)
                        *s = '\0';
                if (mkdir(buf, mode) < 0 && errno != EEXIST)
                        return -errno;
                if (!s)
                        return 0;
                *s = '/';
        }
}

/* Open (and with CREATE make) the store, locked shared or exclusive. */
static int store_open(struct store *s, bool create, int lock, struct zb_error *err)
{
        static const char *const subdirs[] = { "layers", "images", "tmp", "empty" };
        s->fd = s->lock_fd = -1;
        int r = img_store_path(s->path, sizeof(s->path), err);
        if (r < 0)
                return r;
        if (create && (r = mkdir_p(s->path, 0700)) < 0)
                return err_errno(err, -r, "image: store %s", s->path);
        s->fd = open(s->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (s->fd < 0)
                return err_errno(err, errno, "image: store %s", s->path);
        for (size_t i = 0; create && i < ARRAY_SIZE(subdirs); i++)
                if (mkdirat(s->fd, subdirs[i], 0755) < 0 && errno != EEXIST)
                        return err_errno(err, errno, "image: store %s/%s", s->path, subdirs[i]);
        s->lock_fd = openat(s->fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (s->lock_fd < 0 || flock(s->lock_fd, lock) < 0)
                return err_errno(err, errno, "image: lock the store %s", s->path);
        return 0;
}

static int sha256_fd(int fd, char out[IMG_HEX_LEN + 1], off_t *size)
{
        EVP_MD_CTX *h = EVP_MD_CTX_new();
        unsigned char md[32];
        _cleanup_(freep) unsigned char *buf = malloc(HASH_BLOCK_BYTES);
        ssize_t n;
        *size = 0;
        if (!h || !buf || !EVP_DigestInit_ex(h, EVP_sha256(), NULL)) {
                EVP_MD_CTX_free(h);
                return -ENOMEM;
        }
        while ((n = read(fd, buf, HASH_BLOCK_BYTES)) > 0) {
                EVP_DigestUpdate(h, buf, (size_t)n);
                *size += n;
        }
        int e = n < 0 ? errno : 0;
        EVP_DigestFinal_ex(h, md, NULL);
        EVP_MD_CTX_free(h);
        for (size_t i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", md[i]);
        return e ? -e : 0;
}

/* blobs/sha256/HEX of the layout, its digest and size checked. */
static int open_blob(int layout_fd, const char *hex, int64_t size, const char *what, struct zb_error *err)
{
        char path[128], got[IMG_HEX_LEN + 1];
        off_t n;
        snprintf(path, sizeof(path), "blobs/sha256/%s", hex);
        int fd = fs_open_beneath(layout_fd, path, O_RDONLY);
        if (fd < 0)
                return err_errno(err, errno, "image: %s sha256:%.12s: blob missing from the layout", what, hex);
        int r = sha256_fd(fd, got, &n);
        if (r < 0) {
                close(fd);
                return err_errno(err, -r, "image: %s sha256:%.12s: read", what, hex);
        }
        if (strcmp(got, hex) != 0 || (size >= 0 && n != size)) {
                close(fd);
                return err_set(err, EINVAL, "image: %s sha256:%.12s: digest mismatch (the blob's sha256 is %.12s, %lld bytes)",
                               what, hex, got, (long long)n);
        }
        return fd;
}

static struct json_object *read_json_fd(int fd, const char *what, struct zb_error *err)
{
        struct stat st;
        if (fstat(fd, &st) < 0 || st.st_size > (off_t)IMG_JSON_MAX_BYTES) {
                err_set(err, EFBIG, "image: %s: unreadable or larger than %u bytes", what, IMG_JSON_MAX_BYTES);
                return NULL;
        }
        _cleanup_(freep) char *buf = calloc(1, (size_t)st.st_size + 1);
        if (!buf || pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
                err_set(err, EIO, "image: %s: read", what);
                return NULL;
        }
        struct json_object *j = json_tokener_parse(buf);
        if (!j || !json_object_is_type(j, json_type_object)) {
                json_object_put(j);
                err_set(err, EINVAL, "image: %s: not a JSON object", what);
                return NULL;
        }
        return j;
}

static const char *jstr(struct json_object *o, const char *key)
{
        struct json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v)
                       : NULL;
}

static struct json_object *jarr(struct json_object *o, const char *key)
{
        struct json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_array) ? v : NULL;
}

static int64_t jsize(struct json_object *o)
{
        struct json_object *v;
        return json_object_object_get_ex(o, "size", &v) && json_object_is_type(v, json_type_int)
                       ? json_object_get_int64(v)
                       : -1;
}

/* A descriptor's digest as hex, or an error naming WHAT. */
static int desc_hex(struct json_object *d, char hex[IMG_HEX_LEN + 1], const char *what, struct zb_error *err)
{
        const char *dg = jstr(d, "digest");
        if (!dg || !img_digest_hex(dg, hex))
                return err_set(err, EINVAL, "image: %s: digest '%s' is not sha256:HEX (64 lowercase hex digits)",
                               what, dg ? dg : "(none)");
        return 0;
}

/* ---------- the config and the record ---------- */

static char **str_array(struct json_object *a)
{
        if (!a)
                return NULL;
        size_t n = json_object_array_length(a);
        char **v = calloc(n + 1, sizeof(*v));
        for (size_t i = 0; v && i < n; i++) {
                const char *s = json_object_get_string(json_object_array_get_idx(a, i));
                v[i] = util_strdup(s ? s : "");
        }
        return v;
}

static void str_array_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

void img_image_free_fields(struct img_image *im)
{
        struct img_config *c = &im->config;
        str_array_free(c->env);
        str_array_free(c->entrypoint);
        str_array_free(c->cmd);
        free(c->workdir);
        free(c->user);
        memset(c, 0, sizeof(*c));
}

/* OCI config.config (Env, Entrypoint, Cmd, WorkingDir, User). */
static void config_from_json(struct img_config *c, struct json_object *cfg)
{
        const char *s;
        if (!cfg)
                return;
        c->env = str_array(jarr(cfg, "Env"));
        c->entrypoint = str_array(jarr(cfg, "Entrypoint"));
        c->cmd = str_array(jarr(cfg, "Cmd"));
        if ((s = jstr(cfg, "WorkingDir")) && s[0])
                c->workdir = util_strdup(s);
        if ((s = jstr(cfg, "User")) && s[0])
                c->user = util_strdup(s);
}

static struct json_object *json_strs(char **v)
{
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; v && v[i]; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

static struct json_object *record_json(const struct img_image *im)
{
        struct json_object *o = json_object_new_object(), *cfg = json_object_new_object();
        struct json_object *layers = json_object_new_array();
        json_object_object_add(o, "name", json_object_new_string(im->name));
        json_object_object_add(o, "manifest", json_object_new_string(im->manifest));
        for (size_t i = 0; i < im->n_layers; i++)
                json_object_array_add(layers, json_object_new_string(im->layers[i]));
        json_object_object_add(o, "layers", layers);
        const struct img_config *c = &im->config;
        if (c->env)
                json_object_object_add(cfg, "Env", json_strs(c->env));
        if (c->entrypoint)
                json_object_object_add(cfg, "Entrypoint", json_strs(c->entrypoint));
        if (c->cmd)
                json_object_object_add(cfg, "Cmd", json_strs(c->cmd));
        if (c->workdir)
                json_object_object_add(cfg, "WorkingDir", json_object_new_string(c->workdir));
        if (c->user)
                json_object_object_add(cfg, "User", json_object_new_string(c->user));
        json_object_object_add(o, "config", cfg);
        return o;
}

static int record_from_json(struct json_object *o, struct img_image *im, const char *what, struct zb_error *err)
{
        const char *name = jstr(o, "name"), *man = jstr(o, "manifest");
        struct json_object *layers = jarr(o, "layers"), *cfg;
        memset(im, 0, sizeof(*im));
        if (!name || !img_name_valid(name) || !man || strlen(man) != IMG_HEX_LEN || !layers ||
            json_object_array_length(layers) > IMG_MAX_LAYERS)
                return err_set(err, EINVAL, "image: the store's record %s is damaged", what);
        snprintf(im->name, sizeof(im->name), "%s", name);
        snprintf(im->manifest, sizeof(im->manifest), "%s", man);
        im->n_layers = json_object_array_length(layers);
        for (size_t i = 0; i < im->n_layers; i++) {
                char dg[80];
                const char *h = json_object_get_string(json_object_array_get_idx(layers, i));
                snprintf(dg, sizeof(dg), "sha256:%s", h ? h : "");
                if (!img_digest_hex(dg, im->layers[i]))
                        return err_set(err, EINVAL, "image: the store's record %s is damaged", what);
        }
        config_from_json(&im->config, json_object_object_get_ex(o, "config", &cfg) ? cfg : NULL);
        return 0;
}

/* images/KEY.json: KEY is the sha256 of the name (any name is a safe file name). */
static void record_key(const char *name, char out[IMG_HEX_LEN + 6])
{
        unsigned char md[32];
        unsigned len = 0;
        EVP_Digest(name, strlen(name), md, &len, EVP_sha256(), NULL);
        for (size_t i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", md[i]);
        memcpy(out + IMG_HEX_LEN, ".json", 6);
}

static int record_read(const struct store *s, const char *name, struct img_image *im, struct zb_error *err)
{
        char key[IMG_HEX_LEN + 6], path[IMG_HEX_LEN + 16];
        memset(im, 0, sizeof(*im));
        record_key(name, key);
        snprintf(path, sizeof(path), "images/%s", key);
        _cleanup_(closep) int fd = fs_open_beneath(s->fd, path, O_RDONLY);
        if (fd < 0)
                return err_set(err, ENOENT, "image: '%s' is not in the image store %s (zonebox image import oci:DIR[:TAG] or docker-archive:FILE; zonebox image list)",
                               name, s->path);
        struct json_object *j = read_json_fd(fd, name, err);
        if (!j)
                return -EINVAL;
        int r = record_from_json(j, im, name, err);
        json_object_put(j);
        return r;
}

static int record_write(const struct store *s, const struct img_image *im, struct zb_error *err)
{
        char key[IMG_HEX_LEN + 6], path[IMG_HEX_LEN + 16], tmp[IMG_HEX_LEN + 32];
        record_key(im->name, key);
        snprintf(path, sizeof(path), "images/%s", key);
        snprintf(tmp, sizeof(tmp), "tmp/record-%d.json", (int)getpid());
        struct json_object *j = record_json(im);
        const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
        int fd = openat(s->fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        int r = fd < 0 || util_write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0 ? -errno : 0;
        if (fd >= 0)
                close(fd);
        json_object_put(j);
        if (r == 0 && renameat(s->fd, tmp, s->fd, path) < 0)
                r = -errno;
        if (r < 0) {
                unlinkat(s->fd, tmp, 0);
                return err_errno(err, -r, "image: write the record of '%s'", im->name);
        }
        return 0;
}

/* ---------- import ---------- */

struct import {
        struct store *s;
        int layout_fd;
        const char *ref;
        struct img_image *im;
        char tmp[IMG_MAX_LAYERS][IMG_HEX_LEN + 32]; /* tmp/ dirs of new layers, "" if reused */
        struct zb_error *err;
};

/* index.json's manifest: the one whose ref.name is TAG, or the only one. */
static int pick_manifest(struct import *im, const char *tag, char hex[IMG_HEX_LEN + 1], int64_t *size)
{
        _cleanup_(closep) int fd = fs_open_beneath(im->layout_fd, "index.json", O_RDONLY);
        if (fd < 0)
                return err_errno(im->err, errno, "image: %s: no index.json (not an OCI image layout)", im->ref);
        struct json_object *idx = read_json_fd(fd, "index.json", im->err), *found = NULL;
        if (!idx)
                return -EINVAL;
        struct json_object *m = jarr(idx, "manifests");
        size_t n = m ? json_object_array_length(m) : 0;
        for (size_t i = 0; i < n; i++) {
                struct json_object *d = json_object_array_get_idx(m, i), *ann;
                const char *name = json_object_object_get_ex(d, "annotations", &ann) ? jstr(ann, REF_NAME_ANNOTATION) : NULL;
                if ((tag[0] && name && strcmp(name, tag) == 0) || (!tag[0] && n == 1))
                        found = d;
        }
        int r = 0;
        const char *mt = found ? jstr(found, "mediaType") : NULL;
        if (!found)
                r = err_set(im->err, ENOENT, "image: %s: %s", im->ref,
                            tag[0] ? "no manifest with that tag in index.json" : "index.json has more than one manifest (name one: oci:DIR:TAG)");
        else if (!mt || (strcmp(mt, MT_OCI_MANIFEST) != 0 && strcmp(mt, MT_DOCKER_MANIFEST) != 0))
                r = err_set(im->err, ENOTSUP, "image: %s: unsupported media type '%s' for the manifest (want %s)",
                            im->ref, mt ? mt : "(none)", MT_OCI_MANIFEST);
        else
                r = desc_hex(found, hex, "manifest", im->err);
        *size = found ? jsize(found) : -1;
        json_object_put(idx);
        return r;
}

static int read_blob_json(struct import *im, const char *hex, int64_t size, const char *what,
                          struct json_object **out)
{
        _cleanup_(closep) int fd = open_blob(im->layout_fd, hex, size, what, im->err);
        if (fd < 0)
                return fd;
        *out = read_json_fd(fd, what, im->err);
        return *out ? 0 : -EINVAL;
}

static bool layer_type_ok(const char *mt)
{
        for (size_t i = 0; mt && i < ARRAY_SIZE(layer_types); i++)
                if (strcmp(mt, layer_types[i]) == 0)
                        return true;
        return false;
}

/* Layer I: reused if the store has it, else verified and unpacked in tmp/. */
static int stage_layer(struct import *im, size_t i, struct json_object *d)
{
        char *hex = im->im->layers[i];
        const char *mt = jstr(d, "mediaType");
        if (!layer_type_ok(mt))
                return err_set(im->err, ENOTSUP, "image: %s: layer %zu: unsupported media type '%s' (tar, tar+gzip or tar+zstd layers only)",
                               im->ref, i, mt ? mt : "(none)");
        int r = desc_hex(d, hex, "layer", im->err);
        if (r < 0)
                return r;
        char have[IMG_HEX_LEN + 16];
        snprintf(have, sizeof(have), "layers/%s", hex);
        struct stat st;
        if (fstatat(im->s->fd, have, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
                return 0;
        _cleanup_(closep) int fd = open_blob(im->layout_fd, hex, jsize(d), "layer", im->err);
        if (fd < 0)
                return fd;
        snprintf(im->tmp[i], sizeof(im->tmp[i]), "tmp/%s.%d", hex, (int)getpid());
        fs_remove_tree(im->s->fd, im->tmp[i], 0);
        if (mkdirat(im->s->fd, im->tmp[i], 0755) < 0)
                return err_errno(im->err, errno, "image: %s/%s", im->s->path, im->tmp[i]);
        _cleanup_(closep) int dir = fs_open_beneath(im->s->fd, im->tmp[i], O_RDONLY | O_DIRECTORY);
        if (dir < 0)
                return err_errno(im->err, errno, "image: %s/%s", im->s->path, im->tmp[i]);
        char what[32];
        snprintf(what, sizeof(what), "sha256:%.12s", hex);
        struct img_unpack_stats us;
        return img_unpack_layer(fd, dir, what, &us, im->err);
}

static int read_manifest(struct import *im, const char *tag)
{
        char hex[IMG_HEX_LEN + 1], chex[IMG_HEX_LEN + 1];
        int64_t size = -1;
        struct json_object *man = NULL, *cfg = NULL, *c;
        int r = pick_manifest(im, tag, hex, &size);
        if (r == 0)
                r = read_blob_json(im, hex, size, "manifest", &man);
        if (r < 0)
                return r;
        snprintf(im->im->manifest, sizeof(im->im->manifest), "%s", hex);
        struct json_object *layers = jarr(man, "layers"), *cd = NULL;
        if (!json_object_object_get_ex(man, "config", &cd) || !layers)
                r = err_set(im->err, EINVAL, "image: %s: the manifest has no config or no layers", im->ref);
        else if (json_object_array_length(layers) > IMG_MAX_LAYERS)
                r = err_set(im->err, E2BIG, "image: %s: more than %d layers", im->ref, IMG_MAX_LAYERS);
        if (r == 0)
                r = desc_hex(cd, chex, "config", im->err);
        if (r == 0)
                r = read_blob_json(im, chex, jsize(cd), "config", &cfg);
        if (r == 0)
                config_from_json(&im->im->config, json_object_object_get_ex(cfg, "config", &c) ? c : NULL);
        im->im->n_layers = r == 0 ? json_object_array_length(layers) : 0;
        for (size_t i = 0; r == 0 && i < im->im->n_layers; i++)
                r = stage_layer(im, i, json_object_array_get_idx(layers, i));
        json_object_put(cfg);
        json_object_put(man);
        return r;
}

/* Every staged layer into layers/, then the record: the import's commit. */
static int commit_import(struct import *im)
{
        for (size_t i = 0; i < im->im->n_layers; i++) {
                if (!im->tmp[i][0])
                        continue;
                char dst[IMG_HEX_LEN + 16];
                snprintf(dst, sizeof(dst), "layers/%s", im->im->layers[i]);
                if (renameat(im->s->fd, im->tmp[i], im->s->fd, dst) < 0 && errno != EEXIST && errno != ENOTEMPTY)
                        return err_errno(im->err, errno, "image: move layer %s into the store", im->im->layers[i]);
                fs_remove_tree(im->s->fd, im->tmp[i], 0); /* a twin in the same image */
                im->tmp[i][0] = '\0';
        }
        return record_write(im->s, im->im, im->err);
}

static int import_layout(struct store *s, const char *path, const char *tag, const char *ref,
                         struct img_image *out, struct zb_error *err)
{
        struct import *im = calloc(1, sizeof(*im));
        if (!im)
                return err_set(err, ENOMEM, "image: out of memory");
        *im = (struct import){ .s = s, .ref = ref, .im = out, .err = err };
        im->layout_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        int r = im->layout_fd < 0 ? err_errno(err, errno, "image: %s: cannot open the layout dir %s", ref, path) : 0;
        if (r == 0)
                r = read_manifest(im, tag);
        if (r == 0)
                r = commit_import(im);
        for (size_t i = 0; i < IMG_MAX_LAYERS; i++)
                if (im->tmp[i][0])
                        fs_remove_tree(s->fd, im->tmp[i], 0);
        if (im->layout_fd >= 0)
                close(im->layout_fd);
        free(im);
        return r;
}

int img_skopeo_copy(const char *src, const char *dst, struct zb_error *err)
{
        char *argv[] = { (char *)"skopeo", (char *)"copy", (char *)"--quiet", (char *)src, (char *)dst, NULL };
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
        pid_t pid;
        int rc = posix_spawnp(&pid, "skopeo", &fa, NULL, argv, environ), status = 0;
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0)
                return err_errno(err, rc, "image: %s needs skopeo (apt-get install skopeo)", src);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return err_set(err, EINVAL, "image: skopeo copy %s %s failed (not a readable image?)", src, dst);
        return 0;
}

/* docker-archive:FILE -> an OCI layout in tmp/ (skopeo copy), no shell. */
static int archive_to_layout(struct store *s, const char *file, char *dir, size_t n, struct zb_error *err)
{
        char src[4200], dst[8400];
        struct stat st;
        if (stat(file, &st) < 0 || !S_ISREG(st.st_mode))
                return err_errno(err, errno ? errno : EINVAL, "image: docker-archive:%s: not a file", file);
        snprintf(dir, n, "tmp/archive.%d", (int)getpid());
        fs_remove_tree(s->fd, dir, 0);
        snprintf(src, sizeof(src), "docker-archive:%s", file);
        snprintf(dst, sizeof(dst), "oci:%s/%s:zonebox", s->path, dir);
        int r = img_skopeo_copy(src, dst, err);
        if (r < 0) {
                fs_remove_tree(s->fd, dir, 0);
                return r;
        }
        snprintf(dir, n, "%s/tmp/archive.%d", s->path, (int)getpid());
        return 0;
}

int img_import(const char *ref, const char *name, struct img_image *out, struct zb_error *err)
{
        struct img_ref rf;
        struct store s;
        char layout[4200];
        memset(out, 0, sizeof(*out));
        int r = img_ref_parse(ref, &rf, err);
        if (r < 0)
                return r;
        if (rf.kind == IMG_REF_STORE)
                return err_set(err, EINVAL, "image import: '%s' is a name; import oci:DIR[:TAG] or docker-archive:FILE", ref);
        if (name && !img_name_valid(name))
                return err_set(err, EINVAL, "image import: --name '%s' is not a valid name (letters, digits, ._:/@-)", name);
        snprintf(out->name, sizeof(out->name), "%s", name ? name : rf.name);
        r = store_open(&s, true, LOCK_EX, err);
        if (r == 0 && rf.kind == IMG_REF_ARCHIVE)
                r = archive_to_layout(&s, rf.path, layout, sizeof(layout), err);
        else
                snprintf(layout, sizeof(layout), "%s", rf.path);
        if (r == 0)
                r = import_layout(&s, layout, rf.kind == IMG_REF_ARCHIVE ? "zonebox" : rf.tag, ref, out, err);
        if (rf.kind == IMG_REF_ARCHIVE && s.fd >= 0) {
                char tmp[64];
                snprintf(tmp, sizeof(tmp), "tmp/archive.%d", (int)getpid());
                fs_remove_tree(s.fd, tmp, 0);
        }
        store_close(&s);
        if (r < 0)
                img_image_free_fields(out);
        return r;
}

/* ---------- reading, removing ---------- */

int img_resolve(const char *ref, struct img_image *out, struct zb_error *err)
{
        struct img_ref rf;
        struct store s;
        memset(out, 0, sizeof(*out));
        int r = img_ref_parse(ref, &rf, err);
        if (r < 0)
                return r;
        if (rf.kind != IMG_REF_STORE)
                return img_import(ref, NULL, out, err);
        r = store_open(&s, false, LOCK_SH, err);
        if (r == -ENOENT || (r < 0 && s.fd < 0))
                r = err_set(err, ENOENT, "image: '%s' is not in the image store %s (zonebox image import oci:DIR[:TAG] or docker-archive:FILE)",
                            ref, s.path);
        if (r == 0)
                r = record_read(&s, rf.name, out, err);
        store_close(&s);
        return r;
}

int img_layer_path(const char *hex, char *buf, size_t n, struct zb_error *err)
{
        char store[4096];
        int r = img_store_path(store, sizeof(store), err);
        if (r < 0)
                return r;
        int len = snprintf(buf, n, "%s/%s%s", store, hex ? "layers/" : "empty", hex ? hex : "");
        return len < 0 || (size_t)len >= n ? err_set(err, ENAMETOOLONG, "image: layer path too long") : 0;
}

/* Every record, parsed, into ARRAY (may be NULL: count only). */
static int each_record(const struct store *s, struct json_object *array, struct zb_error *err)
{
        _cleanup_(closep) int dfd = fs_open_beneath(s->fd, "images", O_RDONLY | O_DIRECTORY);
        if (dfd < 0)
                return 0;
        DIR *d = fdopendir(dfd);
        if (!d)
                return err_errno(err, errno, "image: read the store");
        dfd = -1; // NOLINT(clang-analyzer-deadcode.DeadStores): the DIR owns it now, not the cleanup
        for (struct dirent *e; (e = readdir(d));) {
                if (!strstr(e->d_name, ".json"))
                        continue;
                _cleanup_(closep) int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                struct zb_error ignored = { 0 };
                struct json_object *j = fd >= 0 ? read_json_fd(fd, e->d_name, &ignored) : NULL;
                if (j)
                        json_object_array_add(array, j);
        }
        closedir(d);
        return 0;
}

int img_list_json(char **json, struct zb_error *err)
{
        struct store s;
        *json = NULL;
        int r = store_open(&s, false, LOCK_SH, err);
        struct json_object *a = json_object_new_array();
        if (r < 0 && s.fd < 0)
                r = 0; /* no store yet: no images */
        else if (r == 0)
                r = each_record(&s, a, err);
        store_close(&s);
        if (r == 0)
                *json = util_strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
        json_object_put(a);
        return r < 0 ? r : *json ? 0 : err_set(err, ENOMEM, "out of memory");
}

int img_inspect_json(const char *name, char **json, struct zb_error *err)
{
        struct img_image im;
        *json = NULL;
        if (!img_name_valid(name))
                return err_set(err, EINVAL, "image: '%s' is not a valid image name", name);
        int r = img_resolve(name, &im, err);
        if (r < 0)
                return r;
        struct json_object *o = record_json(&im), *paths = json_object_new_array();
        for (size_t i = 0; i < im.n_layers; i++) {
                char p[4200];
                if (img_layer_path(im.layers[i], p, sizeof(p), err) == 0)
                        json_object_array_add(paths, json_object_new_string(p));
        }
        json_object_object_add(o, "layer_dirs", paths);
        *json = util_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
        json_object_put(o);
        img_image_free_fields(&im);
        return *json ? 0 : err_set(err, ENOMEM, "out of memory");
}

int img_remove(const char *name, struct zb_error *err)
{
        struct store s;
        struct img_image im;
        if (!img_name_valid(name))
                return err_set(err, EINVAL, "image rm: '%s' is not a valid image name", name);
        int r = store_open(&s, false, LOCK_EX, err);
        if (r == 0)
                r = record_read(&s, name, &im, err);
        if (r == 0) {
                char key[IMG_HEX_LEN + 6], path[IMG_HEX_LEN + 16];
                img_image_free_fields(&im);
                record_key(name, key);
                snprintf(path, sizeof(path), "images/%s", key);
                if (unlinkat(s.fd, path, 0) < 0)
                        r = err_errno(err, errno, "image rm: %s", name);
        }
        if (r < 0 && s.fd < 0)
                r = err_set(err, ENOENT, "image rm: '%s' is not in the image store %s", name, s.path);
        store_close(&s);
        return r;
}

static bool referenced(struct json_object *records, const char *hex)
{
        for (size_t i = 0; i < json_object_array_length(records); i++) {
                struct json_object *layers = jarr(json_object_array_get_idx(records, i), "layers");
                for (size_t k = 0; layers && k < json_object_array_length(layers); k++)
                        if (strcmp(json_object_get_string(json_object_array_get_idx(layers, k)), hex) == 0)
                                return true;
        }
        return false;
}

/* Everything in SUB (layers/ or tmp/) that KEEP does not want goes. */
static int prune_dir(const struct store *s, const char *sub, struct json_object *records, unsigned *removed)
{
        _cleanup_(closep) int dfd = fs_open_beneath(s->fd, sub, O_RDONLY | O_DIRECTORY);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d)
                return 0;
        dfd = -1; // NOLINT(clang-analyzer-deadcode.DeadStores): the DIR owns it now, not the cleanup
        for (struct dirent *e; (e = readdir(d));) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                if (records && referenced(records, e->d_name))
                        continue;
                if (fs_remove_tree(dirfd(d), e->d_name, 0) == 0)
                        (*removed)++;
        }
        closedir(d);
        return 0;
}

int img_prune(unsigned *removed, struct zb_error *err)
{
        struct store s;
        *removed = 0;
        int r = store_open(&s, false, LOCK_EX, err);
        if (r < 0 && s.fd < 0) {
                store_close(&s);
                return 0; /* no store: nothing to prune */
        }
        struct json_object *records = json_object_new_array();
        if (r == 0)
                r = each_record(&s, records, err);
        if (r == 0)
                r = prune_dir(&s, "layers", records, removed);
        if (r == 0) /* imports hold the lock: what is in tmp/ now was left by a killed one */
                r = prune_dir(&s, "tmp", NULL, removed);
        json_object_put(records);
        store_close(&s);
        return r;
}
