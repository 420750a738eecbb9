/* Images (src/image/): OCI image layouts and docker archives imported into
 * a content-addressed store of unpacked layers, and what a run takes from
 * one (its layer dirs, its config's defaults). The store's guarantees are
 * in store.c, the import's in import.c, the unpacking's in unpack.c; ref.c
 * is the pure part (names, references, a layer entry's path), unit-tested
 * on its own. import.c and unpack.c (libarchive) are linked only into the
 * zonebox-image helper, which zonebox runs to import (spawn.c). */
#ifndef ZB_IMAGE_IMAGE_H
#define ZB_IMAGE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../core/util.h"

#define IMG_HEX_LEN 64 /* a sha256 digest in hex */
#define IMG_NAME_MAX 128
#define IMG_MAX_LAYERS 128
#define IMG_JSON_MAX_BYTES (4u << 20) /* index, manifest, config, record */

/* ---------- ref.c: pure ---------- */

enum img_ref_kind { IMG_REF_STORE, IMG_REF_OCI, IMG_REF_ARCHIVE };

struct img_ref {
        enum img_ref_kind kind;
        char path[4096];         /* OCI: the layout dir; ARCHIVE: the file */
        char tag[IMG_NAME_MAX];  /* OCI: the ref.name to pick, "" if none */
        char name[IMG_NAME_MAX]; /* the store's name for it */
};

/* REF as `image:` and `zonebox image import` take it: oci:DIR[:TAG],
 * docker-archive:FILE, or a store name. -EINVAL with one line in ERR. */
int img_ref_parse(const char *ref, struct img_ref *out, struct zb_error *err);
/* REF and NAME (NULL: the ref's default) of an import, checked: REF is
 * oci: or docker-archive: (a store name is already there), OUT->name is
 * the name the import records. -EINVAL with one line in ERR. */
int img_import_ref(const char *ref, const char *name, struct img_ref *out, struct zb_error *err);
/* A store name: 1-127 of [A-Za-z0-9._:/@-], starting with a letter or digit. */
bool img_name_valid(const char *name);
/* "sha256:HEX" with 64 lowercase hex digits: HEX into OUT. */
bool img_digest_hex(const char *digest, char out[IMG_HEX_LEN + 1]);

/* A tar entry's name in a layer, checked: no absolute path, no "..", no
 * empty component; "./" prefixes and a trailing "/" dropped. PARENT gets
 * the directory part ("" for the top), BASE the last component. WHITEOUT
 * says whether BASE was ".wh.NAME" (then BASE is NAME) and OPAQUE whether
 * it was ".wh..wh..opq" (then BASE is ""). -EINVAL with WHY otherwise;
 * 1 for the layer's own top dir ("." or "./"), which has nothing to make. */
enum img_entry_kind { IMG_ENTRY_PLAIN, IMG_ENTRY_WHITEOUT, IMG_ENTRY_OPAQUE };
int img_entry_path(const char *name, char *parent, size_t parent_n, char *base, size_t base_n,
                   enum img_entry_kind *kind, const char **why);

/* ---------- store.c (store_int.h: what its files share) ---------- */

/* The image config's defaults (OCI image-spec config.config). */
struct img_config {
        char **env;        /* KEY=VALUE, NULL-terminated */
        char **entrypoint; /* NULL-terminated or NULL */
        char **cmd;
        char *workdir;
        char *user;
};

struct img_image {
        char name[IMG_NAME_MAX];
        char manifest[IMG_HEX_LEN + 1];
        size_t n_layers;
        char layers[IMG_MAX_LAYERS][IMG_HEX_LEN + 1]; /* bottom first */
        struct img_config config;
};

void img_image_free_fields(struct img_image *im);

/* The store for this user: $ZONEBOX_IMAGE_DIR, else /var/lib/zonebox/images
 * for root, $XDG_DATA_HOME/zonebox/images or ~/.local/share/zonebox/images,
 * else /var/tmp/zonebox-UID/images. */
int img_store_path(char *buf, size_t n, struct zb_error *err);

/* Import REF (oci: or docker-archive:; a store name is already there) as
 * NAME (NULL: the ref's default name). The store is unchanged on error.
 * The unpacking is the zonebox-image helper's (import.c): this runs it and
 * passes its error line on as it is, then reads the record it wrote. */
int img_import(const char *ref, const char *name, struct img_image *out, struct zb_error *err);
/* The image REF names, imported first if it is a layout or an archive. */
int img_resolve(const char *ref, struct img_image *out, struct zb_error *err);
/* JSON of every image (list) or one (inspect), the caller frees. */
int img_list_json(char **json, struct zb_error *err);
int img_inspect_json(const char *name, char **json, struct zb_error *err);
int img_remove(const char *name, struct zb_error *err);
/* Layers no image names, and leftovers of interrupted imports. */
int img_prune(unsigned *removed, struct zb_error *err);
/* A layer's unpacked dir, STORE/layers/HEX. */
int img_layer_path(const char *hex, char *buf, size_t n, struct zb_error *err);

/* ---------- spawn.c: the programs the store runs ---------- */

/* skopeo copy SRC DST (transport:ref each), no shell, quiet. */
int img_skopeo_copy(const char *src, const char *dst, struct zb_error *err);

/* ---------- import.c: the zonebox-image helper's part ---------- */

/* img_import in this process: verify, unpack (libarchive: only the helper
 * links this file), commit. The zonebox binary never calls it. */
int img_import_here(const char *ref, const char *name, struct img_image *out, struct zb_error *err);

/* ---------- overlay.c ---------- */

/* LAYERS (paths, top first) as a detached read-only overlayfs mount: its
 * fd, or -errno with what failed (and the kernel's word) in LOG. */
int img_overlay_mount(char *const *layers, size_t n, char *log, size_t logn);

/* ---------- unpack.c (helper only) ---------- */

struct img_unpack_stats {
        unsigned entries;
        unsigned skipped_devices; /* device nodes, fifos, sockets: not made */
};

/* Unpack the layer blob FD (tar, gzip or zstd) into the empty dir DIR_FD;
 * every create beneath it, never through a symlink. */
int img_unpack_layer(int fd, int dir_fd, const char *what, struct img_unpack_stats *st,
                     struct zb_error *err);

#endif
