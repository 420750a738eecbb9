/* The image store's parts that its files share (src/image/): the store
 * opened and locked, its JSON readers, the record. store.c owns them (the
 * layout and the locking live there only); import.c, which only the
 * zonebox-image helper links, adds layers and records through them, and
 * spawn.c runs that helper for zonebox. */
#ifndef ZB_IMAGE_STORE_INT_H
#define ZB_IMAGE_STORE_INT_H

#include <json-c/json.h>
#include <stdint.h>

#include "image.h"

/* The helper program that unpacks layers (src/helper/image-main.c),
 * found by util_helper_path like zonebox-serve. */
#define IMG_HELPER "zonebox-image"

struct img_store {
        char path[4096];
        int fd;      /* O_PATH of the store dir */
        int lock_fd; /* STORE/lock, flock()ed */
};

/* Open (and with CREATE make) the store, locked LOCK_SH or LOCK_EX. On
 * error s->fd says whether the store exists; close it in any case. */
int img_store_open(struct img_store *s, bool create, int lock, struct zb_error *err);
void img_store_close(struct img_store *s);

/* A JSON object of at most IMG_JSON_MAX_BYTES from FD (WHAT names it). */
struct json_object *img_read_json_fd(int fd, const char *what, struct zb_error *err);
/* O[KEY] if it is a string / an array, else NULL. */
const char *img_jstr(struct json_object *o, const char *key);
struct json_object *img_jarr(struct json_object *o, const char *key);
/* OCI config.config (Env, Entrypoint, Cmd, WorkingDir, User) into C. */
void img_config_from_json(struct img_config *c, struct json_object *cfg);
/* images/KEY.json for IM, written whole (tmp file, rename). */
int img_record_write(const struct img_store *s, const struct img_image *im, struct zb_error *err);

/* spawn.c: run `zonebox-image import REF [NAME]` and wait; its error line
 * in ERR unchanged (the code from its exit status). */
int img_import_helper(const char *ref, const char *name, struct zb_error *err);

#endif
