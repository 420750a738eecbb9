/* An import, in the zonebox-image helper (src/helper/image-main.c): the
 * only code that unpacks layers, so the only code that needs libarchive
 * (unpack.c); the zonebox binary runs the helper (spawn.c) and never links
 * this file. Guarantees: every blob's sha256 (manifest, config, layer) is
 * checked against what the index or manifest gives before it is used; the
 * layers are unpacked into tmp/ and renamed into place only when every one
 * was good, then the record is written (store.c), so a failed import leaves
 * the store as it was; the store's lock is held exclusively throughout. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <json-c/json.h>
/* SHA-256 as cow_digest.c takes it (the one-shot API is deprecated in
 * OpenSSL 3 in favour of EVP, whose providers need not be loaded). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/fs.h"
#include "store_int.h"

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

static int sha256_fd(int fd, char out[IMG_HEX_LEN + 1], off_t *size)
{
        SHA256_CTX h;
        unsigned char md[SHA256_DIGEST_LENGTH];
        _cleanup_(freep) unsigned char *buf = malloc(HASH_BLOCK_BYTES);
        ssize_t n;
        *size = 0;
        if (!buf)
                return -ENOMEM;
        SHA256_Init(&h);
        while ((n = read(fd, buf, HASH_BLOCK_BYTES)) > 0) {
                SHA256_Update(&h, buf, (size_t)n);
                *size += n;
        }
        int e = n < 0 ? errno : 0;
        SHA256_Final(md, &h);
        for (size_t i = 0; i < sizeof(md); i++)
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
        const char *dg = img_jstr(d, "digest");
        if (!dg || !img_digest_hex(dg, hex))
                return err_set(err, EINVAL, "image: %s: digest '%s' is not sha256:HEX (64 lowercase hex digits)",
                               what, dg ? dg : "(none)");
        return 0;
}

struct import {
        struct img_store *s;
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
        struct json_object *idx = img_read_json_fd(fd, "index.json", im->err), *found = NULL;
        if (!idx)
                return -EINVAL;
        struct json_object *m = img_jarr(idx, "manifests");
        size_t n = m ? json_object_array_length(m) : 0;
        for (size_t i = 0; i < n; i++) {
                struct json_object *d = json_object_array_get_idx(m, i), *ann;
                const char *name = json_object_object_get_ex(d, "annotations", &ann) ? img_jstr(ann, REF_NAME_ANNOTATION) : NULL;
                if ((tag[0] && name && strcmp(name, tag) == 0) || (!tag[0] && n == 1))
                        found = d;
        }
        int r = 0;
        const char *mt = found ? img_jstr(found, "mediaType") : NULL;
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
        *out = img_read_json_fd(fd, what, im->err);
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
        const char *mt = img_jstr(d, "mediaType");
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
        struct json_object *layers = img_jarr(man, "layers"), *cd = NULL;
        if (!json_object_object_get_ex(man, "config", &cd) || !layers)
                r = err_set(im->err, EINVAL, "image: %s: the manifest has no config or no layers", im->ref);
        else if (json_object_array_length(layers) > IMG_MAX_LAYERS)
                r = err_set(im->err, E2BIG, "image: %s: more than %d layers", im->ref, IMG_MAX_LAYERS);
        if (r == 0)
                r = desc_hex(cd, chex, "config", im->err);
        if (r == 0)
                r = read_blob_json(im, chex, jsize(cd), "config", &cfg);
        if (r == 0)
                img_config_from_json(&im->im->config, json_object_object_get_ex(cfg, "config", &c) ? c : NULL);
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
        return img_record_write(im->s, im->im, im->err);
}

static int import_layout(struct img_store *s, const char *path, const char *tag, const char *ref,
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

/* docker-archive:FILE -> an OCI layout in tmp/ (skopeo copy), no shell. */
static int archive_to_layout(struct img_store *s, const char *file, char *dir, size_t n, struct zb_error *err)
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

int img_import_here(const char *ref, const char *name, struct img_image *out, struct zb_error *err)
{
        struct img_ref rf;
        struct img_store s;
        char layout[4200];
        memset(out, 0, sizeof(*out));
        int r = img_import_ref(ref, name, &rf, err);
        if (r < 0)
                return r;
        snprintf(out->name, sizeof(out->name), "%s", rf.name);
        r = img_store_open(&s, true, LOCK_EX, err);
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
        img_store_close(&s);
        if (r < 0)
                img_image_free_fields(out);
        return r;
}
